/*
 * waves/wave.c: a wave: its start (freeze, approval), its deploy against the wave
 * health gate, and its bake.
 */
#include <inttypes.h>

#include "freeze.h"
#include "gates.h"
#include "waves_private.h"

/* ---- the waves ---- */

static bool
approved(struct waves *e, struct dep *d, size_t wave)
{
	int r;

	r = db_approval_get(e->db, d->row.id, (int)wave, NULL, 0, NULL);
	return r == 0;
}

/* A wave begins: after a freeze window, once approved if it must be. */
struct step_result
step_start(struct waves *e, struct dep *d, uint64_t now)
{
	const struct plan_wave *w = &d->plan->waves[d->row.wave];
	struct step_result r;
	struct gate_result g;

	if (d->params.n_freeze) {
		freeze_gate_evaluate(d->params.freeze, d->params.n_freeze, d->params.freeze_policy,
		        false, now * USEC_PER_MSEC, &g);
		if (g.verdict != GATE_PASS) {
			strbuf_printf(d->verdict, sizeof(d->verdict), "%s", g.why);
			if (d->step != STEP_FREEZE)
				return result_goto(d, STEP_FREEZE, "deploy.freeze", "%s", g.why);
			return result_hold();
		}
	}
	if (w->approval && !approved(e, d, d->row.wave)) {
		if (d->step == STEP_APPROVAL)
			return result_hold();
		strbuf_printf(
		        d->verdict, sizeof(d->verdict), "waiting for approval of '%s'", w->name);
		return result_goto(d, STEP_APPROVAL, "deploy.awaiting_approval",
		        "wave %d/%zu '%s': rollwave approve %" PRId64, d->row.wave + 1,
		        d->plan->n_waves, w->name, d->row.id);
	}
	d->verdict[0] = 0;
	r = result_goto(d, w->kind == PLAN_WAVE_SWITCH ? STEP_SWITCH : STEP_DEPLOYING,
	        "deploy.wave", "wave %d/%zu '%s': %zu host(s)", d->row.wave + 1, d->plan->n_waves,
	        w->name, w->n_hosts);
	/* pending (preflight, migrate, a freeze before them) ends with wave one. */
	if (d->state == DEP_PENDING)
		r.state = DEP_RUNNING;
	return r;
}

/* Sends the release to as many hosts of wave w as MaxUnavailable= allows.
 * A host silent for longer than the gate allows (down when planned with
 * --force, or gone since; after a coordinator restart, only once the
 * reconnect grace is over) holds no slot: its command waits in its queue,
 * and the wave health gate counts it failed. */
static void
deploy_send(struct waves *e, struct dep *d, const struct plan_wave *w, uint64_t now)
{
	_cleanup_free_ struct dep_host **hs = calloc(w->n_hosts + 1, sizeof(*hs));
	_cleanup_free_ const char **vs = calloc(w->n_hosts + 1, sizeof(*vs));
	size_t in_flight = 0, limit = w->max_unavailable ? w->max_unavailable : w->n_hosts, k = 0;

	for (size_t i = 0; i < w->n_hosts; i++) {
		struct dep_host *h = dep_host(d, w->hosts[i].id);

		if (h && h->cmd && !dep_task_final(h->task) &&
		        (h->up || now < h->last_seen_ms + waves_silence_ms(e)))
			in_flight++;
	}
	for (size_t i = 0; hs && vs && i < w->n_hosts && in_flight + k < limit; i++) {
		struct dep_host *h = dep_host(d, w->hosts[i].id);

		if (!h || h->up_to_date ||
		        (h->cmd &&
		                !dep_retry_busy(&h->busy_retries, &h->busy_retry_ms, h->task,
		                        h->error, now)))
			continue;
		hs[k] = h;
		vs[k++] = d->row.version;
	}
	if (k)
		(void)dep_send_commands(e, d, hs, vs, k, ROLLWAVE__COMMAND__KIND__DEPLOY);
}

/* The wave health gate over wave w's hosts: g, and each host's verdict. */
static int
deploy_judge(struct waves *e, struct dep *d, const struct plan_wave *w, uint64_t now,
        enum gate_verdict *verdicts, struct gate_result *g)
{
	_cleanup_free_ struct wave_host_status *st =
	        calloc(w->n_hosts ? w->n_hosts : 1, sizeof(*st));
	struct wave_health_input in = {0};

	if (!st)
		return -ENOMEM;
	for (size_t i = 0; i < w->n_hosts; i++) {
		struct dep_host *h = dep_host(d, w->hosts[i].id);

		st[i].id = w->hosts[i].id;
		st[i].name = w->hosts[i].name;
		if (!h)
			continue;
		if (h->up_to_date && !h->cmd)
			st[i].state = WAVE_HOST_COMMITTED;
		else if (!h->cmd || !dep_task_final(h->task) ||
		        dep_busy_left(h->busy_retries, h->task, h->error))
			st[i].state = WAVE_HOST_PENDING;
		else
			st[i].state = streq(h->task, "committed") ? WAVE_HOST_COMMITTED
			                                          : WAVE_HOST_FAILED;
		st[i].healthy = h->healthy;
		st[i].healthy_since_usec = h->healthy_since_ms * USEC_PER_MSEC;
		st[i].last_seen_usec = h->last_seen_ms * USEC_PER_MSEC;
	}
	in.hosts = st;
	in.n_hosts = w->n_hosts;
	in.started_usec = dep_wave_clock_start(e, d, w) * USEC_PER_MSEC;
	in.timeout_usec = w->timeout_usec;
	in.min_healthy_usec = w->min_healthy_usec;
	in.silence_usec = waves_silence_ms(e) * USEC_PER_MSEC;
	in.budget = d->params.failure_budget;
	in.deployment_hosts = d->plan->n_hosts;
	in.failed_before = dep_count_failed(d, (size_t)d->row.wave);
	gate_wave_health_evaluate(&in, now * USEC_PER_MSEC, verdicts, g);
	return 0;
}

struct step_result
step_deploying(struct waves *e, struct dep *d, uint64_t now)
{
	const struct plan_wave *w = &d->plan->waves[d->row.wave];
	_cleanup_free_ enum gate_verdict *verdicts =
	        calloc(w->n_hosts ? w->n_hosts : 1, sizeof(*verdicts));
	struct gate_result g;
	char why[GATE_WHY_MAX + 64];

	if (!verdicts)
		return result_hold();
	dep_refresh_health(e, d, (size_t)d->row.wave, false, now);
	deploy_send(e, d, w, now);
	if (deploy_judge(e, d, w, now, verdicts, &g) < 0)
		return result_hold();
	strbuf_printf(d->verdict, sizeof(d->verdict), "%s", g.why);
	/* Once the wave is decided, hosts that failed it count against the
	 * budget of the waves after it, and stay counted after a restart. */
	for (size_t i = 0; g.verdict != GATE_HOLD && i < w->n_hosts; i++) {
		struct dep_host *h = dep_host(d, w->hosts[i].id);

		if (h && verdicts[i] == GATE_FAIL && !dep_host_failed(h))
			dep_mark_failed(e, d, h, "wave %d '%s': %s", d->row.wave + 1, w->name,
			        !h->up ? "down or silent"
			                : !dep_task_final(h->task)
			                ? "not committed within WaveTimeout"
			                : !h->healthy ? "unhealthy at the end of the wave"
			                              : "not healthy for MinHealthy within "
			                                "WaveTimeout");
	}
	if (g.verdict == GATE_FAIL) {
		strbuf_printf(
		        why, sizeof(why), "wave %d '%s': %s", d->row.wave + 1, w->name, g.why);
		return result_rollback("%s", why);
	}
	if (g.verdict == GATE_PASS)
		return result_goto(d, STEP_BAKE, "deploy.wave_healthy", "wave %d/%zu '%s': %s",
		        d->row.wave + 1, d->plan->n_waves, w->name, g.why);
	return result_hold();
}

/* The hosts of hw (wave hw_index) that fell ill or went silent in the bake
 * count failed; false (*r: the rollback) if that breaches the budget.
 * *ret_unheard: the hosts not heard yet since this coordinator started. */
static bool
bake_watch(struct waves *e, struct dep *d, const struct plan_wave *hw, size_t hw_index,
        uint64_t now, size_t *ret_unheard, struct step_result *r)
{
	size_t newly = 0, unheard = 0;
	char first[256] = "";
	struct gate_result g;

	for (size_t i = 0; i < hw->n_hosts; i++) {
		struct dep_host *h = dep_host(d, hw->hosts[i].id);

		if (!h || dep_host_failed(h))
			continue;
		if (h->up && h->known && !h->healthy)
			dep_mark_failed(e, d, h,
			        "wave %zu '%s': became unhealthy during the bake (running '%s')",
			        hw_index + 1, hw->name, h->current);
		else if (!h->up && now >= h->last_seen_ms + waves_silence_ms(e))
			dep_mark_failed(e, d, h, "wave %zu '%s': went silent during the bake",
			        hw_index + 1, hw->name);
		else {
			if (!h->up || !h->known)
				unheard++;
			continue;
		}
		if (newly++ == 0)
			strbuf_printf(first, sizeof(first), "host %" PRId64 " (%s): %s", h->id,
			        h->name, h->failed ? h->failed : "failed");
	}
	*ret_unheard = unheard;
	if (!newly)
		return true;
	gate_budget_evaluate(
	        &d->params.failure_budget, d->plan->n_hosts, dep_count_failed(d, SIZE_MAX), &g);
	if (g.verdict == GATE_FAIL) {
		char why[GATE_WHY_MAX + 128];

		strbuf_printf(why, sizeof(why), "%s; %s", first, g.why);
		*r = result_rollback("%s", why);
		return false;
	}
	dep_save(e, d, "coordinator", "deploy.host_failed", "%s%s; %s", first,
	        newly > 1 ? " and others" : "", g.why);
	return true;
}

/* The bake is over by a WaveTimeout= and unheard hosts never reported the
 * app: they count failed; false (*r: the rollback) on a budget breach. */
static bool
bake_fail_unheard(struct waves *e, struct dep *d, const struct plan_wave *hw, size_t hw_index,
        size_t unheard, struct step_result *r)
{
	struct gate_result g;

	for (size_t i = 0; i < hw->n_hosts; i++) {
		struct dep_host *h = dep_host(d, hw->hosts[i].id);

		if (h && !dep_host_failed(h) && (!h->up || !h->known))
			dep_mark_failed(e, d, h,
			        "wave %zu '%s': no health report for %s within WaveTimeout after "
			        "the bake",
			        hw_index + 1, hw->name, d->row.app);
	}
	gate_budget_evaluate(
	        &d->params.failure_budget, d->plan->n_hosts, dep_count_failed(d, SIZE_MAX), &g);
	if (g.verdict == GATE_FAIL) {
		char why[GATE_WHY_MAX + 128];

		strbuf_printf(why, sizeof(why),
		        "wave %zu '%s': %zu host(s) sent no health report after the bake; %s",
		        hw_index + 1, hw->name, unheard, g.why);
		*r = result_rollback("%s", why);
		return false;
	}
	dep_save(e, d, "coordinator", "deploy.host_failed",
	        "%zu host(s) sent no health report after the bake; %s", unheard, g.why);
	return true;
}

/* The bake: the wave's hosts (for a blue-green switch, the idle color's,
 * now live) must stay healthy for Bake=. A host that falls ill or goes
 * silent counts against the failure budget like one that failed its
 * deploy; a breach rolls back. The bake ends only on fresh health: after a
 * coordinator restart every host must have been heard again. */
struct step_result
step_bake(struct waves *e, struct dep *d, uint64_t now)
{
	size_t wave = (size_t)d->row.wave;
	const struct plan_wave *w = &d->plan->waves[wave];
	const struct plan_wave *hw =
	        w->kind == PLAN_WAVE_SWITCH && wave > 0 ? &d->plan->waves[wave - 1] : w;
	size_t hw_index = hw == w ? wave : wave - 1, unheard = 0;
	struct step_result r = result_hold();
	struct gate_result g;

	dep_refresh_health(e, d, hw_index, false, now);
	if (!bake_watch(e, d, hw, hw_index, now, &unheard, &r))
		return r;
	gate_bake_evaluate(
	        d->row.step_since_ms * USEC_PER_MSEC, w->bake_usec, now * USEC_PER_MSEC, &g);
	if (g.verdict != GATE_PASS) {
		strbuf_printf(d->verdict, sizeof(d->verdict), "%s", g.why);
		return result_hold();
	}
	/* Not for ever: a host that is up but never reports the app fails
	 * once the bake is over by a WaveTimeout=. */
	if (unheard &&
	        (!w->timeout_usec ||
	                now <= d->row.step_since_ms + w->bake_usec / USEC_PER_MSEC +
	                                w->timeout_usec / USEC_PER_MSEC)) {
		strbuf_printf(d->verdict, sizeof(d->verdict),
		        "bake over; waiting for fresh health from %zu host(s) of '%s'", unheard,
		        hw->name);
		return result_hold();
	}
	if (unheard && !bake_fail_unheard(e, d, hw, hw_index, unheard, &r))
		return r;
	if (w->metric_gates && d->params.n_gates) {
		r = result_goto(d, STEP_GATES, NULL, NULL);
		d->next_gate_ms = 0;
		d->gate_rounds = 0;
		r.save = true;
		return r;
	}
	return result_next_wave();
}
