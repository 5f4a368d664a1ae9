/*
 * gates: wave health, failure budget, bake and approval verdicts. See
 * gates.h. Pure: the caller passes what it knows and the time.
 */
#include "gates.h"

#include <inttypes.h>

#include "textbuf.h"

const char *
gate_verdict_to_string(enum gate_verdict v)
{
	switch (v) {
	case GATE_PASS:
		return "pass";
	case GATE_HOLD:
		return "hold";
	case GATE_FAIL:
		return "fail";
	}
	return "?";
}

/* Times far in the future (a huge WaveTimeout=) stay far in the future. */
static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Durations for people: whole seconds once there are any. */
static void
format_span(uint64_t usec, char *buf, size_t size)
{
	if (usec >= USEC_PER_SEC)
		usec -= usec % USEC_PER_SEC;
	deploy_duration_format(usec, buf, size);
}

/* ---- failure budget ---- */

size_t
gate_budget_allowed(const struct deploy_amount *budget, size_t n_hosts)
{
	if (budget->kind == DEPLOY_AMOUNT_COUNT)
		return budget->value < SIZE_MAX ? (size_t)budget->value : SIZE_MAX;
	/* Round down: the budget is a ceiling on the failed share. */
	return (size_t)((uint64_t)n_hosts * budget->value / DEPLOY_PERCENT_ALL);
}

static void
format_budget(const struct deploy_amount *budget, size_t n_hosts, char *buf, size_t size)
{
	char a[32];

	deploy_amount_format(budget, a, sizeof(a));
	if (budget->kind == DEPLOY_AMOUNT_PERCENT)
		strbuf_printf(buf, size, "FailureBudget=%s of %zu hosts (%zu allowed)", a, n_hosts,
		        gate_budget_allowed(budget, n_hosts));
	else
		strbuf_printf(buf, size, "FailureBudget=%s", a);
}

void
gate_budget_evaluate(const struct deploy_amount *budget, size_t n_hosts, size_t n_failed,
        struct gate_result *ret)
{
	size_t allowed = gate_budget_allowed(budget, n_hosts);
	char b[96];

	format_budget(budget, n_hosts, b, sizeof(b));
	ret->recheck_usec = 0;
	ret->verdict = n_failed > allowed ? GATE_FAIL : GATE_PASS;
	strbuf_printf(ret->why, sizeof(ret->why), "failure budget %s: %zu failed host%s %s %s",
	        gate_verdict_to_string(ret->verdict), n_failed, n_failed == 1 ? "" : "s",
	        n_failed <= allowed     ? "within"
	                : n_failed == 1 ? "breaches"
	                                : "breach",
	        b);
}

/* ---- wave health ---- */

static uint64_t
min_nonzero(uint64_t a, uint64_t b)
{
	return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

/* One host's verdict, with a reason for people and, while waiting, the
 * earliest time that alone could change it. */
static enum gate_verdict
classify(const struct wave_health_input *in, const struct wave_host_status *h, uint64_t now,
        char *why, size_t size, uint64_t *ret_recheck)
{
	uint64_t deadline = add_sat(in->started_usec, in->timeout_usec);
	uint64_t ref = h->last_seen_usec > in->started_usec ? h->last_seen_usec : in->started_usec;
	uint64_t recheck = deadline;
	uint64_t since = h->healthy_since_usec < now ? h->healthy_since_usec : now;
	char d[32], m[32];

	*ret_recheck = 0;
	if (h->state == WAVE_HOST_FAILED) {
		strbuf_printf(why, size, "failed");
		return GATE_FAIL;
	}
	if (in->silence_usec > 0) {
		if (now >= add_sat(ref, in->silence_usec)) {
			format_span(now - ref, d, sizeof(d));
			strbuf_printf(why, size, "silent for %s", d);
			return GATE_FAIL;
		}
		recheck = min_nonzero(recheck, add_sat(ref, in->silence_usec));
	}
	if (h->state == WAVE_HOST_COMMITTED && h->healthy) {
		if (now - since >= in->min_healthy_usec) {
			format_span(now - since, d, sizeof(d));
			strbuf_printf(why, size, "healthy for %s", d);
			return GATE_PASS;
		}
		recheck = min_nonzero(recheck, add_sat(since, in->min_healthy_usec));
	}
	format_span(in->timeout_usec, m, sizeof(m));
	if (now >= deadline) {
		strbuf_printf(why, size, "%s at WaveTimeout=%s",
		        h->state == WAVE_HOST_PENDING ? "not committed"
		                : h->healthy          ? "not healthy long enough"
		                                      : "unhealthy",
		        m);
		return GATE_FAIL;
	}
	if (h->state == WAVE_HOST_PENDING)
		strbuf_printf(why, size, "deploying");
	else if (!h->healthy)
		strbuf_printf(why, size, "committed, unhealthy");
	else {
		format_span(now - since, d, sizeof(d));
		format_span(in->min_healthy_usec, m, sizeof(m));
		strbuf_printf(why, size, "healthy for %s of %s", d, m);
	}
	*ret_recheck = recheck;
	return GATE_HOLD;
}

static void
list_hosts(struct textbuf *t, const struct wave_health_input *in, uint64_t now,
        enum gate_verdict which)
{
	bool first = true;

	for (size_t i = 0; i < in->n_hosts; i++) {
		const struct wave_host_status *h = &in->hosts[i];
		char why[96];
		uint64_t unused;

		if (classify(in, h, now, why, sizeof(why), &unused) != which)
			continue;
		textbuf_printf(
		        t, "%s%s (%s)", first ? "" : ", ", isempty(h->name) ? "?" : h->name, why);
		first = false;
	}
}

void
gate_wave_health_evaluate(const struct wave_health_input *in, uint64_t now,
        enum gate_verdict *ret_hosts, struct gate_result *ret)
{
	struct textbuf t = textbuf_init(ret->why, sizeof(ret->why));
	size_t ok = 0, waiting = 0, failed = 0, allowed, total;
	uint64_t recheck = 0;
	char budget[96], mh[32];

	for (size_t i = 0; i < in->n_hosts; i++) {
		char why[96];
		uint64_t r;
		enum gate_verdict v = classify(in, &in->hosts[i], now, why, sizeof(why), &r);

		if (ret_hosts)
			ret_hosts[i] = v;
		if (v == GATE_PASS)
			ok++;
		else if (v == GATE_FAIL)
			failed++;
		else {
			waiting++;
			recheck = min_nonzero(recheck, r);
		}
	}
	allowed = gate_budget_allowed(&in->budget, in->deployment_hosts);
	total = in->failed_before + failed;
	format_budget(&in->budget, in->deployment_hosts, budget, sizeof(budget));
	format_span(in->min_healthy_usec, mh, sizeof(mh));

	ret->recheck_usec = 0;
	if (total > allowed) {
		ret->verdict = GATE_FAIL;
		textbuf_printf(
		        &t, "wave health fail: %zu failed host%s", total, total == 1 ? "" : "s");
		if (in->failed_before > 0)
			textbuf_printf(&t, " (%zu in earlier waves)", in->failed_before);
		textbuf_printf(&t, " %s %s: ", total == 1 ? "breaches" : "breach", budget);
		list_hosts(&t, in, now, GATE_FAIL);
		return;
	}
	if (waiting > 0) {
		ret->verdict = GATE_HOLD;
		ret->recheck_usec = recheck;
		textbuf_printf(
		        &t, "wave health hold: %zu of %zu hosts waiting: ", waiting, in->n_hosts);
		list_hosts(&t, in, now, GATE_HOLD);
	} else {
		ret->verdict = GATE_PASS;
		textbuf_printf(&t, "wave health pass: %zu of %zu hosts healthy for %s", ok,
		        in->n_hosts, mh);
	}
	if (failed > 0) {
		textbuf_printf(&t, "; %zu failed within %s, %zu of %zu used: ", failed, budget,
		        total, allowed);
		list_hosts(&t, in, now, GATE_FAIL);
	}
}

/* ---- bake ---- */

void
gate_bake_evaluate(
        uint64_t healthy_at_usec, uint64_t bake_usec, uint64_t now, struct gate_result *ret)
{
	uint64_t end = add_sat(healthy_at_usec, bake_usec);
	char b[32], done[32], left[32];

	format_span(bake_usec, b, sizeof(b));
	if (now >= end) {
		*ret = (struct gate_result) {.verdict = GATE_PASS};
		strbuf_printf(ret->why, sizeof(ret->why), "bake pass: baked %s", b);
		return;
	}
	format_span(now > healthy_at_usec ? now - healthy_at_usec : 0, done, sizeof(done));
	format_span(end - now, left, sizeof(left));
	*ret = (struct gate_result) {.verdict = GATE_HOLD, .recheck_usec = end};
	strbuf_printf(
	        ret->why, sizeof(ret->why), "bake hold: %s of %s baked, %s to go", done, b, left);
}

/* ---- approval ---- */

void
gate_approval_evaluate(bool required, const char *wave, const struct gate_approval *approval,
        uint64_t waiting_since_usec, uint64_t now, struct gate_result *ret)
{
	char when[32], waited[32];

	*ret = (struct gate_result) {.verdict = GATE_PASS};
	if (!required) {
		strbuf_printf(ret->why, sizeof(ret->why), "approval pass: '%s' needs none", wave);
		return;
	}
	if (approval) {
		format_timestamp_utc(approval->at_usec, when, sizeof(when));
		strbuf_printf(ret->why, sizeof(ret->why),
		        "approval pass: '%s' approved by %s at %s", wave,
		        isempty(approval->by) ? "?" : approval->by, when);
		return;
	}
	format_span(
	        now > waiting_since_usec ? now - waiting_since_usec : 0, waited, sizeof(waited));
	ret->verdict = GATE_HOLD;
	strbuf_printf(ret->why, sizeof(ret->why), "approval hold: waiting %s for approval of '%s'",
	        waited, wave);
}
