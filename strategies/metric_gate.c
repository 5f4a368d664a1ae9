/*
 * metric_gate: the verdict of a Prometheus gate on an already fetched
 * result. See metric_gate.h. The explanation always carries the numbers
 * behind the verdict, because it is what the audit log keeps.
 */
#include "metric_gate.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>

#include "textbuf.h"

static const char *const op_names[] = {"<", "<=", ">", ">=", "==", "!="};
static const char *const aggregate_names[] = {"all", "min", "max", "avg", "sum"};
static const char *const no_data_names[] = {"hold", "fail", "pass"};
static const char *const on_error_names[] = {"hold", "fail"};

/* The index of s in names, -EINVAL if it is not there. */
static int
name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (streq(s, names[i]))
			return (int)i;
	return -EINVAL;
}

const char *
metric_op_to_string(enum metric_op op)
{
	return (size_t)op < ELEMENTSOF(op_names) ? op_names[op] : "?";
}

const char *
metric_aggregate_to_string(enum metric_aggregate a)
{
	return (size_t)a < ELEMENTSOF(aggregate_names) ? aggregate_names[a] : "?";
}

const char *
metric_no_data_to_string(enum metric_no_data d)
{
	return (size_t)d < ELEMENTSOF(no_data_names) ? no_data_names[d] : "?";
}

int
metric_no_data_from_string(const char *s, enum metric_no_data *ret)
{
	int i = name_index(no_data_names, ELEMENTSOF(no_data_names), s);

	if (i < 0)
		return i;
	*ret = (enum metric_no_data)i;
	return 0;
}

const char *
metric_on_error_to_string(enum metric_on_error e)
{
	return (size_t)e < ELEMENTSOF(on_error_names) ? on_error_names[e] : "?";
}

int
metric_on_error_from_string(const char *s, enum metric_on_error *ret)
{
	int i = name_index(on_error_names, ELEMENTSOF(on_error_names), s);

	if (i < 0)
		return i;
	*ret = (enum metric_on_error)i;
	return 0;
}

int
metric_gate_query_expand(
        const char *query, const char *app, const char *version, char *buf, size_t size)
{
	size_t n = 0;

	for (const char *c = query; *c;) {
		const char *put = c;
		size_t len = 1;

		if (c[0] == '$' && c[1] == '{') {
			if (strncmp(c, "${app}", 6) == 0) {
				put = app ? app : "";
				len = strlen(put);
				c += 6;
			} else if (strncmp(c, "${version}", 10) == 0) {
				put = version ? version : "";
				len = strlen(put);
				c += 10;
			} else
				return -EINVAL;
		} else
			c++;
		if (n + len >= size)
			return -ENAMETOOLONG;
		memcpy(buf + n, put, len);
		n += len;
	}
	if (size == 0)
		return -ENAMETOOLONG;
	buf[n] = 0;
	return 0;
}

int
metric_condition_parse(const char *s, struct metric_condition *ret)
{
	struct metric_condition c = {.aggregate = METRIC_ALL};
	const char *p = s;
	char *end;
	size_t n = 0;

	while (isspace((unsigned char)*p))
		p++;
	while (isalpha((unsigned char)p[n]))
		n++;
	if (n > 0) {
		size_t i;

		for (i = 0; i < ELEMENTSOF(aggregate_names); i++)
			if (strlen(aggregate_names[i]) == n &&
			        strncmp(p, aggregate_names[i], n) == 0)
				break;
		if (i == ELEMENTSOF(aggregate_names))
			return -EINVAL;
		c.aggregate = (enum metric_aggregate)i;
		p += n;
		while (isspace((unsigned char)*p))
			p++;
	}
	/* Two-character operators first, so "<=" is not read as "<". */
	if (strncmp(p, "<=", 2) == 0)
		c.op = METRIC_LE, p += 2;
	else if (strncmp(p, ">=", 2) == 0)
		c.op = METRIC_GE, p += 2;
	else if (strncmp(p, "==", 2) == 0)
		c.op = METRIC_EQ, p += 2;
	else if (strncmp(p, "!=", 2) == 0)
		c.op = METRIC_NE, p += 2;
	else if (*p == '<')
		c.op = METRIC_LT, p++;
	else if (*p == '>')
		c.op = METRIC_GT, p++;
	else
		return -EINVAL;
	while (isspace((unsigned char)*p))
		p++;
	if (!*p || strpbrk(p, "xXnNiI"))
		return -EINVAL;
	c.threshold = strtod(p, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (end == p || *end || !isfinite(c.threshold))
		return -EINVAL;
	*ret = c;
	return 0;
}

static bool
compare(double v, enum metric_op op, double t)
{
	switch (op) {
	case METRIC_LT:
		return v < t;
	case METRIC_LE:
		return v <= t;
	case METRIC_GT:
		return v > t;
	case METRIC_GE:
		return v >= t;
	case METRIC_EQ:
		return v == t;
	case METRIC_NE:
		return v != t;
	}
	return false;
}

/* The shortest %g that reads back as v. */
static void
format_value(double v, char *buf, size_t size)
{
	for (int prec = 6; prec <= 17; prec++) {
		strbuf_printf(buf, size, "%.*g", prec, v);
		if (!isfinite(v) || strtod(buf, NULL) == v)
			return;
	}
}

static void
append_sample(struct textbuf *t, const struct prom_sample *s, bool *first)
{
	char v[32];

	format_value(s->value, v, sizeof(v));
	textbuf_printf(t, "%s%s=%s", *first ? "" : ", ", s->labels ? s->labels : "{}", v);
	*first = false;
}

static enum gate_verdict
no_data_verdict(enum metric_no_data d)
{
	return d == METRIC_NO_DATA_PASS    ? GATE_PASS
	        : d == METRIC_NO_DATA_FAIL ? GATE_FAIL
	                                   : GATE_HOLD;
}

static void
condition_text(const struct metric_gate *g, char *buf, size_t size)
{
	char t[32];

	format_value(g->condition.threshold, t, sizeof(t));
	strbuf_printf(buf, size, "%s %s", metric_op_to_string(g->condition.op), t);
}

static double
aggregate(enum metric_aggregate a, const struct prom_sample *s, size_t n, size_t usable)
{
	double acc = a == METRIC_MIN ? INFINITY : a == METRIC_MAX ? -INFINITY : 0;

	for (size_t i = 0; i < n; i++) {
		if (isnan(s[i].value))
			continue;
		if (a == METRIC_MIN)
			acc = fmin(acc, s[i].value);
		else if (a == METRIC_MAX)
			acc = fmax(acc, s[i].value);
		else
			acc += s[i].value;
	}
	return a == METRIC_AVG ? acc / (double)usable : acc;
}

/* Which of the usable samples append_samples() names. */
enum sample_pick {
	PICK_ALL,
	PICK_FAILING, /* those that do not meet the condition */
	PICK_PASSING,
};

static void
append_samples(struct textbuf *t, const struct metric_gate *g, const struct prom_sample *s,
        size_t n, enum sample_pick pick)
{
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (isnan(s[i].value))
			continue;
		if (pick != PICK_ALL &&
		        compare(s[i].value, g->condition.op, g->condition.threshold) !=
		                (pick == PICK_PASSING))
			continue;
		append_sample(t, &s[i], &first);
	}
}

/* Condition without an aggregate: every usable sample must meet it. */
static void
evaluate_each(const struct metric_gate *g, const struct prom_sample *samples, size_t n,
        size_t usable, const char *cond, const char *nan_text, struct textbuf *t,
        struct gate_result *ret)
{
	size_t bad = 0;

	for (size_t i = 0; i < n; i++)
		if (!isnan(samples[i].value) &&
		        !compare(samples[i].value, g->condition.op, g->condition.threshold))
			bad++;
	if (bad == 0) {
		textbuf_printf(t, "gate '%s' pass: all %zu sample%s %s%s: ", g->name, usable,
		        usable == 1 ? "" : "s", cond, nan_text);
		append_samples(t, g, samples, n, PICK_ALL);
		return;
	}
	ret->verdict = GATE_FAIL;
	textbuf_printf(t, "gate '%s' fail: %zu of %zu samples not %s%s: ", g->name, bad, usable,
	        cond, nan_text);
	/* The offenders first: they are what the reader needs. */
	append_samples(t, g, samples, n, PICK_FAILING);
	if (usable > bad) {
		textbuf_printf(t, "; others: ");
		append_samples(t, g, samples, n, PICK_PASSING);
	}
}

void
metric_gate_evaluate(const struct metric_gate *g, const struct prom_sample *samples, size_t n,
        struct gate_result *ret)
{
	struct textbuf t = textbuf_init(ret->why, sizeof(ret->why));
	size_t usable = 0, nan = 0;
	char cond[64], nan_text[32] = "";

	ret->verdict = GATE_PASS;
	ret->recheck_usec = 0;
	for (size_t i = 0; i < n; i++)
		if (isnan(samples[i].value))
			nan++;
		else
			usable++;
	if (nan > 0)
		strbuf_printf(nan_text, sizeof(nan_text), " (%zu NaN ignored)", nan);
	condition_text(g, cond, sizeof(cond));

	if (usable < g->min_samples) {
		ret->verdict = no_data_verdict(g->no_data);
		textbuf_printf(&t,
		        "gate '%s' %s (NoData=%s): %zu usable sample%s%s, MinSamples=%" PRIu64,
		        g->name, gate_verdict_to_string(ret->verdict),
		        metric_no_data_to_string(g->no_data), usable, usable == 1 ? "" : "s",
		        nan_text, g->min_samples);
		if (usable > 0) {
			textbuf_printf(&t, ": ");
			append_samples(&t, g, samples, n, PICK_ALL);
		}
		return;
	}

	if (g->condition.aggregate == METRIC_ALL) {
		evaluate_each(g, samples, n, usable, cond, nan_text, &t, ret);
		return;
	}

	double a = aggregate(g->condition.aggregate, samples, n, usable);
	char av[32];
	bool ok = compare(a, g->condition.op, g->condition.threshold);

	/* +Inf and -Inf summed or averaged are not a number: no data, not a
	 * value that "!= 5" would pass. */
	if (isnan(a)) {
		ret->verdict = no_data_verdict(g->no_data);
		textbuf_printf(&t,
		        "gate '%s' %s (NoData=%s): %s of %zu samples is not a number: ", g->name,
		        gate_verdict_to_string(ret->verdict), metric_no_data_to_string(g->no_data),
		        metric_aggregate_to_string(g->condition.aggregate), usable);
		append_samples(&t, g, samples, n, PICK_ALL);
		return;
	}

	format_value(a, av, sizeof(av));
	ret->verdict = ok ? GATE_PASS : GATE_FAIL;
	textbuf_printf(&t, "gate '%s' %s: %s of %zu samples = %s %s%s%s: ", g->name,
	        gate_verdict_to_string(ret->verdict),
	        metric_aggregate_to_string(g->condition.aggregate), usable, av, ok ? "" : "not ",
	        cond, nan_text);
	append_samples(&t, g, samples, n, PICK_ALL);
}

void
metric_gate_evaluate_unavailable(
        const struct metric_gate *g, const char *reason, struct gate_result *ret)
{
	ret->verdict = g->on_error == METRIC_ON_ERROR_FAIL ? GATE_FAIL : GATE_HOLD;
	ret->recheck_usec = 0;
	strbuf_printf(ret->why, sizeof(ret->why), "gate '%s' %s (OnError=%s): no result: %s",
	        g->name, gate_verdict_to_string(ret->verdict),
	        metric_on_error_to_string(g->on_error),
	        isempty(reason) ? "unknown reason" : reason);
}
