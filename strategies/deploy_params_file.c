/*
 * deploy_params_file: the deployment file, a systemd-style INI file checked
 * into the app's repository. Sections group the keys of deploy_params.h
 * (the table there says which key goes where); [Gate-NAME] sections hold
 * one metric gate each. Every key goes through deploy_params_set(), so the
 * file and the command line cannot disagree. Keys are spelled exactly as
 * documented here (the setter's leniency is for command-line flags).
 * deploy_params_to_ini() writes the same format back.
 */
#include "deploy_params.h"

#include <inttypes.h>

#include "ini.h"

#define GATE_SECTION_PREFIX "Gate-"

static const char *const gate_fields[] = {
        "Query", "Condition", "MinSamples", "NoData", "OnError", "URL"};

static int
gate_handler(struct deploy_params *p, const char *name, const char *key, const char *value,
        struct rw_err *err)
{
	char full[128];

	for (size_t i = 0; i < ELEMENTSOF(gate_fields); i++) {
		if (!streq(key, gate_fields[i]))
			continue;
		if (xsnprintf(full, sizeof(full), "Gate.%s.%s", name, key) < 0)
			return rw_err_set(err, -EINVAL, "gate name '%s' is too long", name);
		return deploy_params_set(p, full, value, err);
	}
	return rw_err_set(err, -EINVAL,
	        "unknown key '%s' in [" GATE_SECTION_PREFIX "%s] (Query, Condition, MinSamples, "
	        "NoData, OnError, URL)",
	        key, name);
}

static bool
section_is_known(const char *section, const struct deploy_key_info *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(k[i].section, section))
			return true;
	return false;
}

static int
file_handler(
        void *userdata, const char *section, const char *key, const char *value, struct rw_err *err)
{
	struct deploy_params *p = userdata;
	const struct deploy_key_info *k;
	size_t n;

	if (strncmp(section, GATE_SECTION_PREFIX, strlen(GATE_SECTION_PREFIX)) == 0)
		return gate_handler(p, section + strlen(GATE_SECTION_PREFIX), key, value, err);

	k = deploy_params_keys(&n);
	if (!section_is_known(section, k, n))
		return rw_err_set(err, -EINVAL,
		        "unknown section [%s] (Deployment, Rolling, Canary, Ring, BlueGreen, "
		        "Gate-NAME)",
		        section);
	for (size_t i = 0; i < n; i++) {
		if (k[i].key == DEPLOY_KEY_GATE || !streq(k[i].name, key))
			continue;
		if (!streq(k[i].section, section))
			return rw_err_set(err, -EINVAL, "%s= belongs in [%s], not [%s]", key,
			        k[i].section, section);
		return deploy_params_set(p, key, value, err);
	}
	return rw_err_set(err, -EINVAL, "unknown key '%s' in [%s]", key, section);
}

int
deploy_params_load_buffer(
        struct deploy_params *p, const char *name, const char *buf, size_t len, struct rw_err *err)
{
	return ini_parse_buffer(name, buf, len, 0, file_handler, p, err);
}

int
deploy_params_load_file(struct deploy_params *p, const char *path, struct rw_err *err)
{
	return ini_parse_file(path, 0, file_handler, p, err);
}

/* ---- writing ---- */

static void
write_amount(FILE *f, const char *key, const struct deploy_amount *a)
{
	char buf[32];

	deploy_amount_format(a, buf, sizeof(buf));
	fprintf(f, "%s=%s\n", key, buf);
}

static void
write_duration(FILE *f, const char *key, uint64_t usec)
{
	char buf[32];

	deploy_duration_format(usec, buf, sizeof(buf));
	fprintf(f, "%s=%s\n", key, buf);
}

static void
write_list(FILE *f, const char *key, char (*items)[DEPLOY_RING_MAX], size_t n)
{
	if (n == 0)
		return;
	fprintf(f, "%s=", key);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", items[i]);
	fputc('\n', f);
}

/* KEY=text, nothing if text is empty. */
static void
write_text(FILE *f, const char *key, const char *text)
{
	if (text[0])
		fprintf(f, "%s=%s\n", key, text);
}

static void
write_steps(FILE *f, const struct deploy_params *p)
{
	char buf[32];

	fprintf(f, "Steps=");
	for (size_t i = 0; i < p->n_steps; i++) {
		struct deploy_amount a = {DEPLOY_AMOUNT_PERCENT, p->steps[i]};

		deploy_amount_format(&a, buf, sizeof(buf));
		fprintf(f, "%s%s", i ? "," : "", buf);
	}
	fputc('\n', f);
}

static void
write_ring_bake(FILE *f, const struct deploy_params *p)
{
	char buf[32];

	if (p->n_ring_bake == 0)
		return;
	fprintf(f, "RingBake=");
	for (size_t i = 0; i < p->n_ring_bake; i++) {
		deploy_duration_format(p->ring_bake[i].bake_usec, buf, sizeof(buf));
		fprintf(f, "%s%s:%s", i ? "," : "", p->ring_bake[i].ring, buf);
	}
	fputc('\n', f);
}

static void
write_key(FILE *f, const struct deploy_params *p, const struct deploy_key_info *k)
{
	switch (k->key) {
	case DEPLOY_KEY_STRATEGY:
		fprintf(f, "Strategy=%s\n", p->strategy);
		break;
	case DEPLOY_KEY_BATCH:
		write_amount(f, k->name, &p->batch);
		break;
	case DEPLOY_KEY_MAX_UNAVAILABLE:
		write_amount(f, k->name, &p->max_unavailable);
		break;
	case DEPLOY_KEY_CANARY:
		if (p->canary_label[0])
			fprintf(f, "Canary=%s\n", p->canary_label);
		else
			write_amount(f, k->name, &p->canary);
		break;
	case DEPLOY_KEY_STEPS:
		write_steps(f, p);
		break;
	case DEPLOY_KEY_RING_LABEL:
		if (p->n_datacenters == 0)
			fprintf(f, "RingLabel=%s\n", p->ring_label);
		break;
	case DEPLOY_KEY_DATACENTERS:
		write_list(f, k->name, (char(*)[DEPLOY_RING_MAX])p->datacenters, p->n_datacenters);
		break;
	case DEPLOY_KEY_RING_BAKE:
		write_ring_bake(f, p);
		break;
	case DEPLOY_KEY_RING_APPROVAL:
		write_list(
		        f, k->name, (char(*)[DEPLOY_RING_MAX])p->ring_approval, p->n_ring_approval);
		break;
	case DEPLOY_KEY_UNLABELED_HOSTS:
		fprintf(f, "UnlabeledHosts=%s\n", deploy_unlabeled_to_string(p->unlabeled));
		break;
	case DEPLOY_KEY_BAKE:
		write_duration(f, k->name, p->bake_usec);
		break;
	case DEPLOY_KEY_APPROVAL:
		fprintf(f, "Approval=%s\n", deploy_approval_to_string(p->approval));
		break;
	case DEPLOY_KEY_MIN_HEALTHY:
		write_duration(f, k->name, p->min_healthy_usec);
		break;
	case DEPLOY_KEY_FAILURE_BUDGET:
		write_amount(f, k->name, &p->failure_budget);
		break;
	case DEPLOY_KEY_WAVE_TIMEOUT:
		write_duration(f, k->name, p->wave_timeout_usec);
		break;
	case DEPLOY_KEY_ROLLBACK_PARALLELISM:
		write_amount(f, k->name, &p->rollback_parallelism);
		break;
	case DEPLOY_KEY_TRAFFIC_COMMAND:
		write_text(f, k->name, p->traffic_command);
		break;
	case DEPLOY_KEY_LIVE_COLOR:
		write_text(f, k->name, p->live_color);
		break;
	case DEPLOY_KEY_PROMETHEUS_URL:
		write_text(f, k->name, p->prometheus_url);
		break;
	case DEPLOY_KEY_FREEZE:
		for (size_t i = 0; i < p->n_freeze; i++)
			fprintf(f, "Freeze=%s\n", p->freeze[i].spec);
		break;
	case DEPLOY_KEY_FREEZE_POLICY:
		fprintf(f, "FreezePolicy=%s\n", freeze_policy_to_string(p->freeze_policy));
		break;
	case DEPLOY_KEY_GATE:
	case _DEPLOY_KEY_MAX:
		break;
	}
}

static void
write_gate(FILE *f, const struct metric_gate *g)
{
	fprintf(f, "\n[" GATE_SECTION_PREFIX "%s]\n", g->name);
	if (g->query[0])
		fprintf(f, "Query=%s\n", g->query);
	if (g->condition_text[0])
		fprintf(f, "Condition=%s\n", g->condition_text);
	fprintf(f, "MinSamples=%" PRIu64 "\n", g->min_samples);
	fprintf(f, "NoData=%s\n", metric_no_data_to_string(g->no_data));
	fprintf(f, "OnError=%s\n", metric_on_error_to_string(g->on_error));
	if (g->url[0])
		fprintf(f, "URL=%s\n", g->url);
}

int
deploy_params_to_ini(const struct deploy_params *p, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	const struct deploy_key_info *k;
	const char *section = NULL;
	size_t n, size = 0;
	FILE *f;

	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	k = deploy_params_keys(&n);
	/* [Deployment] first, then the strategy's own section. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			if (k[i].key == DEPLOY_KEY_GATE || (pass == 0) != !k[i].strategy ||
			        (k[i].strategy && !streq(k[i].strategy, p->strategy)))
				continue;
			if (!section || !streq(section, k[i].section)) {
				section = k[i].section;
				fprintf(f, "%s[%s]\n", pass == 0 && i == 0 ? "" : "\n", section);
			}
			write_key(f, p, &k[i]);
		}
	for (size_t i = 0; i < p->n_gates; i++)
		write_gate(f, &p->gates[i]);
	if (fclose(f) != 0 || !buf)
		return -ENOMEM;
	*ret = TAKE_PTR(buf);
	return 0;
}
