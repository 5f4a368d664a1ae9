/*
 * admin_format_gates: the Gates: section of a deployment or plan, read from
 * its options (a deployment file): the failure budget, the freeze windows
 * and each metric gate with the waves it is checked after.
 */
#include "admin_format.h"
#include "admin_format_private.h"
#include "ini.h"

#define SHOWN_GATES_MAX     32
#define SHOWN_FREEZE_MAX    32
#define SHOWN_GATE_KEYS_MAX 16

/* ---- the Gates: section ---- */

/* A gate's keys in the order of the file (Query=, Condition=,
 * MinSamples=, NoData=, URL= and whatever else a newer coordinator
 * writes). */
struct shown_gate {
	char *name;
	char *keys[SHOWN_GATE_KEYS_MAX], *values[SHOWN_GATE_KEYS_MAX];
	size_t n_keys;
};

/* What the Gates: section shows of a deployment file. */
struct shown_options {
	char *failure_budget, *prometheus_url, *freeze_policy;
	char *freeze[SHOWN_FREEZE_MAX];
	size_t n_freeze, more_freeze;
	struct shown_gate gates[SHOWN_GATES_MAX];
	size_t n_gates, more_gates;
};

static void
shown_options_done(struct shown_options *o)
{
	free(o->failure_budget);
	free(o->prometheus_url);
	free(o->freeze_policy);
	for (size_t i = 0; i < o->n_freeze; i++)
		free(o->freeze[i]);
	for (size_t i = 0; i < o->n_gates; i++) {
		free(o->gates[i].name);
		for (size_t j = 0; j < o->gates[i].n_keys; j++) {
			free(o->gates[i].keys[j]);
			free(o->gates[i].values[j]);
		}
	}
}

static int
set_text(char **field, const char *value, struct rw_err *err)
{
	char *s = strdup(value);

	if (!s)
		return rw_err_set(err, -ENOMEM, "out of memory");
	free(*field);
	*field = s;
	return 0;
}

static struct shown_gate *
shown_gate(struct shown_options *o, const char *name)
{
	for (size_t i = 0; i < o->n_gates; i++)
		if (streq(o->gates[i].name, name))
			return &o->gates[i];
	if (o->n_gates == SHOWN_GATES_MAX)
		return NULL;
	o->gates[o->n_gates].name = strdup(name);
	if (!o->gates[o->n_gates].name)
		return NULL;
	return &o->gates[o->n_gates++];
}

/* Sets key of g (a later value replaces an earlier one). */
static int
shown_gate_set(struct shown_gate *g, const char *key, const char *value, struct rw_err *err)
{
	size_t j;

	for (j = 0; j < g->n_keys; j++)
		if (streq(g->keys[j], key))
			return set_text(&g->values[j], value, err);
	if (j == SHOWN_GATE_KEYS_MAX)
		return 0;
	g->keys[j] = strdup(key);
	g->values[j] = strdup(value);
	if (!g->keys[j] || !g->values[j]) {
		free(g->keys[j]);
		free(g->values[j]);
		return rw_err_set(err, -ENOMEM, "out of memory");
	}
	g->n_keys++;
	return 0;
}

static const char *
shown_gate_get(const struct shown_gate *g, const char *key)
{
	for (size_t j = 0; j < g->n_keys; j++)
		if (streq(g->keys[j], key))
			return g->values[j];
	return NULL;
}

/* Collects the keys the section shows; every other key is the planner's. */
static int
options_handler(
        void *userdata, const char *section, const char *key, const char *value, struct rw_err *err)
{
	struct shown_options *o = userdata;

	if (strncmp(section, "Gate-", 5) == 0) {
		struct shown_gate *g = shown_gate(o, section + 5);

		if (!g) {
			o->more_gates++;
			return 0;
		}
		return shown_gate_set(g, key, value, err);
	}
	if (!streq(section, "Deployment"))
		return 0;
	if (streq(key, "FailureBudget"))
		return set_text(&o->failure_budget, value, err);
	if (streq(key, "PrometheusURL"))
		return set_text(&o->prometheus_url, value, err);
	if (streq(key, "FreezePolicy"))
		return set_text(&o->freeze_policy, value, err);
	if (streq(key, "Freeze")) {
		if (isempty(value)) { /* an empty value clears the list */
			for (size_t i = 0; i < o->n_freeze; i++)
				free(o->freeze[i]);
			o->n_freeze = o->more_freeze = 0;
			return 0;
		}
		if (o->n_freeze == SHOWN_FREEZE_MAX) {
			o->more_freeze++;
			return 0;
		}
		o->freeze[o->n_freeze] = NULL;
		if (set_text(&o->freeze[o->n_freeze], value, err) < 0)
			return -ENOMEM;
		o->n_freeze++;
	}
	return 0;
}

/* "wave 2", "waves 1, 2 and 4", "no wave" or "every wave". */
static void
gated_waves(const Rollwave__DeploymentStatus *st, char *buf, size_t size)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < st->n_waves; i++)
		n += st->waves[i]->metric_gates;
	if (n == 0) {
		strbuf_printf(buf, size, "no wave");
		return;
	}
	if (n == st->n_waves && n > 1) {
		strbuf_printf(buf, size, "every wave");
		return;
	}
	for (size_t i = 0; i < st->n_waves; i++) {
		if (!st->waves[i]->metric_gates)
			continue;
		k++;
		if (k == 1)
			strbuf_printf(buf, size, "%s%zu", n == 1 ? "wave " : "waves ", i + 1);
		else
			strbuf_printf(buf + strlen(buf), size - strlen(buf), "%s%zu",
			        k == n ? " and " : ", ", i + 1);
	}
}

int
admin_format_gates(const Rollwave__DeploymentStatus *st, FILE *out)
{
	_cleanup_(shown_options_done) struct shown_options o = {0};
	struct rw_err err = {""};
	char waves[256];

	if (isempty(st->params))
		return 0;
	fputs("Gates:\n", out);
	if (ini_parse_buffer("deployment options", st->params, strlen(st->params), 0,
	            options_handler, &o, &err) < 0) {
		fprintf(out, "  (cannot read the deployment's options: %s)\n", err.msg);
		return ferror(out) ? -EIO : 0;
	}
	fprintf(out,
	        "  failure budget: FailureBudget=%s, %u failed host%s allowed before a "
	        "coordinated rollback\n",
	        admin_format_or(o.failure_budget, "0"), st->failures_allowed,
	        st->failures_allowed == 1 ? "" : "s");
	if (o.n_freeze == 0)
		fputs("  freeze windows: none\n", out);
	else {
		fprintf(out, "  freeze windows (FreezePolicy=%s):\n",
		        admin_format_or(o.freeze_policy, "wait"));
		for (size_t i = 0; i < o.n_freeze; i++)
			fprintf(out, "    %s\n", o.freeze[i]);
		if (o.more_freeze)
			fprintf(out, "    and %zu more\n", o.more_freeze);
	}
	if (o.n_gates == 0) {
		fputs("  metric gates: none\n", out);
		return ferror(out) ? -EIO : 0;
	}
	gated_waves(st, waves, sizeof(waves));
	for (size_t i = 0; i < o.n_gates; i++) {
		const struct shown_gate *g = &o.gates[i];

		fprintf(out, "  metric gate '%s', checked after %s:\n", g->name, waves);
		for (size_t j = 0; j < g->n_keys; j++)
			fprintf(out, "    %s=%s\n", g->keys[j], g->values[j]);
		if (isempty(shown_gate_get(g, "URL")))
			fprintf(out, "    URL=%s (PrometheusURL=)\n",
			        admin_format_or(o.prometheus_url, "-"));
	}
	if (o.more_gates)
		fprintf(out, "  and %zu more metric gate(s)\n", o.more_gates);
	return ferror(out) ? -EIO : 0;
}
