/*
 * deploy_params: defaults, the one setter and the combination checks. See
 * deploy_params.h. The setter parses into locals and writes p only once the
 * value is known good, so a refused value leaves p as it was.
 */
#include "deploy_params.h"

#include <ctype.h>
#include <inttypes.h>

#include "planner.h"
#include "registry.h"

static const struct deploy_key_info keys[] = {
        {DEPLOY_KEY_STRATEGY, "Strategy", "Deployment", NULL,
                "all-at-once|rolling|canary|ring|blue-green", "how hosts are split into waves"},
        {DEPLOY_KEY_BATCH, "Batch", "Rolling", "rolling", "N|P%", "hosts per wave"},
        {DEPLOY_KEY_MAX_UNAVAILABLE, "MaxUnavailable", "Deployment", NULL, "N|P%",
                "hosts of a wave deploying at once (default: the whole wave)"},
        {DEPLOY_KEY_CANARY, "Canary", "Canary", "canary", "N|P%|KEY=VALUE",
                "the canary hosts: a count, a share or a label"},
        {DEPLOY_KEY_STEPS, "Steps", "Canary", "canary", "P%,P%,...,100%",
                "share of all hosts deployed after each step"},
        {DEPLOY_KEY_RING_LABEL, "RingLabel", "Ring", "ring", "KEY",
                "label whose integer value is the host's ring"},
        {DEPLOY_KEY_DATACENTERS, "Datacenters", "Ring", "ring", "DC,DC,...",
                "rings in order by label datacenter="},
        {DEPLOY_KEY_RING_BAKE, "RingBake", "Ring", "ring", "RING:DURATION,...",
                "bake after these rings instead of Bake="},
        {DEPLOY_KEY_RING_APPROVAL, "RingApproval", "Ring", "ring", "RING,...",
                "manual approval before these rings start"},
        {DEPLOY_KEY_UNLABELED_HOSTS, "UnlabeledHosts", "Ring", "ring", "error|last-ring",
                "what happens to hosts in no ring"},
        {DEPLOY_KEY_BAKE, "Bake", "Deployment", NULL, "DURATION",
                "wait after a wave is healthy, before the next"},
        {DEPLOY_KEY_APPROVAL, "Approval", "Deployment", NULL, "no|first|every",
                "manual approval before the second wave or every later wave"},
        {DEPLOY_KEY_MIN_HEALTHY, "MinHealthy", "Deployment", NULL, "DURATION",
                "how long each host must be healthy"},
        {DEPLOY_KEY_FAILURE_BUDGET, "FailureBudget", "Deployment", NULL, "N|P%",
                "failed hosts tolerated before rolling back (% rounds down)"},
        {DEPLOY_KEY_WAVE_TIMEOUT, "WaveTimeout", "Deployment", NULL, "DURATION",
                "a wave must be healthy within this"},
        {DEPLOY_KEY_ROLLBACK_PARALLELISM, "RollbackParallelism", "Deployment", NULL, "N|P%",
                "hosts rolled back at once"},
        {DEPLOY_KEY_TRAFFIC_COMMAND, "TrafficCommand", "BlueGreen", "blue-green", "COMMAND",
                "switches traffic to color %c (%a app, %v version)"},
        {DEPLOY_KEY_LIVE_COLOR, "LiveColor", "BlueGreen", "blue-green", "blue|green",
                "the color serving traffic now (default: the last switch's)"},
        {DEPLOY_KEY_PROMETHEUS_URL, "PrometheusURL", "Deployment", NULL, "URL",
                "Prometheus of the metric gates without URL="},
        {DEPLOY_KEY_FREEZE, "Freeze", "Deployment", NULL, "WINDOW",
                "deploy-freeze window, e.g. 'Fri 16:00-Mon 08:00' (repeatable)"},
        {DEPLOY_KEY_FREEZE_POLICY, "FreezePolicy", "Deployment", NULL, "wait|refuse",
                "a deployment asked to start in a freeze waits or is refused"},
        {DEPLOY_KEY_GATE, "Gate.NAME.*", "Gate-NAME", NULL,
                "Query|Condition|MinSamples|NoData|OnError|URL", "a Prometheus metric gate"},
};

static const char *const approval_names[] = {"no", "first", "every"};
static const char *const unlabeled_names[] = {"error", "last-ring"};

const char *
deploy_approval_to_string(enum deploy_approval a)
{
	return (size_t)a < ELEMENTSOF(approval_names) ? approval_names[a] : "?";
}

const char *
deploy_unlabeled_to_string(enum deploy_unlabeled u)
{
	return (size_t)u < ELEMENTSOF(unlabeled_names) ? unlabeled_names[u] : "?";
}

const struct deploy_key_info *
deploy_params_keys(size_t *ret_n)
{
	*ret_n = ELEMENTSOF(keys);
	return keys;
}

static const struct deploy_key_info *
key_info(enum deploy_key k)
{
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (keys[i].key == k)
			return &keys[i];
	return NULL;
}

void
deploy_params_init(struct deploy_params *p)
{
	*p = (struct deploy_params) {0};
	strcpy(p->strategy, "rolling");
	p->batch = (struct deploy_amount) {DEPLOY_AMOUNT_PERCENT, 25 * DEPLOY_PERCENT_ONE};
	p->max_unavailable = (struct deploy_amount) {DEPLOY_AMOUNT_PERCENT, DEPLOY_PERCENT_ALL};
	p->canary = (struct deploy_amount) {DEPLOY_AMOUNT_COUNT, 1};
	p->steps[0] = 10 * DEPLOY_PERCENT_ONE;
	p->steps[1] = 50 * DEPLOY_PERCENT_ONE;
	p->steps[2] = DEPLOY_PERCENT_ALL;
	p->n_steps = 3;
	strcpy(p->ring_label, "ring");
	p->unlabeled = DEPLOY_UNLABELED_ERROR;
	p->approval = DEPLOY_APPROVAL_NO;
	p->min_healthy_usec = 30 * USEC_PER_SEC;
	p->failure_budget = (struct deploy_amount) {DEPLOY_AMOUNT_COUNT, 0};
	p->wave_timeout_usec = 30 * 60 * USEC_PER_SEC;
	p->rollback_parallelism =
	        (struct deploy_amount) {DEPLOY_AMOUNT_PERCENT, DEPLOY_PERCENT_ALL};
	p->freeze_policy = FREEZE_POLICY_WAIT;
}

/* ---- values ---- */

static bool
label_key_is_valid(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 63)
		return false;
	for (const char *p = k; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_' &&
		        *p != '.' && *p != '-')
			return false;
	return true;
}

static bool
text_is_plain(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static bool
url_is_valid(const char *s)
{
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		return false;
	if (strlen(s) >= DEPLOY_URL_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!isgraph((unsigned char)*p))
			return false;
	return true;
}

static bool
gate_name_is_valid(const char *s, size_t n)
{
	if (n == 0 || n >= METRIC_GATE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* Splits a comma-separated list into at most max trimmed items of at most
 * size-1 bytes each. Empty items are refused. */
static int
split_list(const char *value, char (*items)[DEPLOY_RING_MAX], size_t max, size_t *ret_n)
{
	size_t n = 0;
	const char *p = value;

	for (;;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		while (l > 0 && isspace((unsigned char)*p))
			p++, l--;
		while (l > 0 && isspace((unsigned char)p[l - 1]))
			l--;
		if (l == 0)
			return -EINVAL;
		if (n >= max)
			return -E2BIG;
		if (l >= DEPLOY_RING_MAX)
			return -ENAMETOOLONG;
		memcpy(items[n], p, l);
		items[n][l] = 0;
		n++;
		if (!e)
			break;
		p = e + 1;
	}
	*ret_n = n;
	return 0;
}

static int
list_error(struct rw_err *err, int r, const char *key, const char *value, const char *syntax)
{
	if (r == -E2BIG)
		return rw_err_set(err, r, "%s= takes at most %d entries, got '%s'", key,
		        DEPLOY_RINGS_MAX, value);
	if (r == -ENAMETOOLONG)
		return rw_err_set(err, r, "%s= entries are at most %d characters, got '%s'", key,
		        DEPLOY_RING_MAX - 1, value);
	return rw_err_set(err, -EINVAL, "%s= takes %s, got '%s'", key, syntax, value);
}

static bool
list_has_duplicate(char (*items)[DEPLOY_RING_MAX], size_t n, const char **ret_dup)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (streq(items[i], items[j])) {
				*ret_dup = items[i];
				return true;
			}
	return false;
}

/* ---- one function per key ---- */

static int
set_strategy(struct deploy_params *p, const char *v, struct rw_err *err)
{
	if (!strategy_lookup(v))
		return rw_err_set(err, -EINVAL,
		        "Strategy= takes all-at-once, rolling, canary, ring or blue-green, got "
		        "'%s'",
		        v);
	strcpy(p->strategy, v);
	return 0;
}

static int
set_amount(struct deploy_amount *dst, const char *key, bool allow_zero, const char *v,
        struct rw_err *err)
{
	struct deploy_amount a;

	if (deploy_amount_parse(v, allow_zero, &a) < 0)
		return rw_err_set(err, -EINVAL, "%s= takes %s, got '%s'", key,
		        allow_zero ? "N hosts or P% (0 allowed)" : "N hosts or P% (more than 0)",
		        v);
	*dst = a;
	return 0;
}

static int
set_canary(struct deploy_params *p, const char *v, struct rw_err *err)
{
	const char *eq = strchr(v, '=');
	struct deploy_amount a;

	if (eq) {
		char k[DEPLOY_LABEL_MAX];
		size_t kl = (size_t)(eq - v);

		if (kl >= sizeof(k) || strlen(v) >= DEPLOY_LABEL_MAX)
			return rw_err_set(err, -EINVAL, "Canary= label is too long: '%s'", v);
		memcpy(k, v, kl);
		k[kl] = 0;
		if (!label_key_is_valid(k) || isempty(eq + 1) || !text_is_plain(eq + 1))
			return rw_err_set(err, -EINVAL,
			        "Canary= takes N hosts, P%% or a label KEY=VALUE, got '%s'", v);
		strcpy(p->canary_label, v);
		return 0;
	}
	if (deploy_amount_parse(v, false, &a) < 0)
		return rw_err_set(err, -EINVAL,
		        "Canary= takes N hosts, P%% or a label KEY=VALUE, got '%s'", v);
	p->canary = a;
	p->canary_label[0] = 0;
	return 0;
}

static int
set_steps(struct deploy_params *p, const char *v, struct rw_err *err)
{
	char items[DEPLOY_STEPS_MAX][DEPLOY_RING_MAX];
	uint64_t steps[DEPLOY_STEPS_MAX];
	size_t n;
	int r;

	r = split_list(v, items, DEPLOY_STEPS_MAX, &n);
	if (r == -E2BIG)
		return rw_err_set(
		        err, r, "Steps= takes at most %d steps, got '%s'", DEPLOY_STEPS_MAX, v);
	if (r < 0)
		return rw_err_set(
		        err, -EINVAL, "Steps= takes percentages like 1%%,10%%,100%%, got '%s'", v);
	for (size_t i = 0; i < n; i++) {
		struct deploy_amount a;

		if (deploy_amount_parse(items[i], false, &a) < 0 || a.kind != DEPLOY_AMOUNT_PERCENT)
			return rw_err_set(err, -EINVAL,
			        "Steps= takes percentages like 1%%,10%%,100%%, got '%s' in '%s'",
			        items[i], v);
		if (i > 0 && a.value <= steps[i - 1])
			return rw_err_set(err, -EINVAL,
			        "Steps= must increase, got '%s' after '%s' in '%s'", items[i],
			        items[i - 1], v);
		steps[i] = a.value;
	}
	if (steps[n - 1] != DEPLOY_PERCENT_ALL)
		return rw_err_set(err, -EINVAL, "Steps= must end at 100%%, got '%s'", v);
	memcpy(p->steps, steps, n * sizeof(steps[0]));
	p->n_steps = n;
	return 0;
}

static int
set_ring_label(struct deploy_params *p, const char *v, struct rw_err *err)
{
	if (!label_key_is_valid(v))
		return rw_err_set(
		        err, -EINVAL, "RingLabel= takes a label key of [a-z0-9_.-], got '%s'", v);
	strcpy(p->ring_label, v);
	return 0;
}

static int
set_ring_names(char (*dst)[DEPLOY_RING_MAX], size_t *dst_n, const char *key, const char *v,
        struct rw_err *err)
{
	char items[DEPLOY_RINGS_MAX][DEPLOY_RING_MAX];
	const char *dup;
	size_t n = 0;
	int r;

	if (!isempty(v)) {
		r = split_list(v, items, DEPLOY_RINGS_MAX, &n);
		if (r < 0)
			return list_error(err, r, key, v, "a comma-separated list");
		if (list_has_duplicate(items, n, &dup))
			return rw_err_set(
			        err, -EINVAL, "%s= names '%s' twice in '%s'", key, dup, v);
		for (size_t i = 0; i < n; i++)
			if (!text_is_plain(items[i]))
				return rw_err_set(err, -EINVAL,
				        "%s= takes printable names, got '%s'", key, v);
	}
	memcpy(dst, items, n * sizeof(items[0]));
	*dst_n = n;
	return 0;
}

static int
set_ring_bake(struct deploy_params *p, const char *v, struct rw_err *err)
{
	char items[DEPLOY_RINGS_MAX][DEPLOY_RING_MAX];
	struct deploy_ring_bake bake[DEPLOY_RINGS_MAX];
	const char *dup;
	size_t n = 0;
	int r;

	if (!isempty(v)) {
		r = split_list(v, items, DEPLOY_RINGS_MAX, &n);
		if (r < 0)
			return list_error(err, r, "RingBake", v, "RING:DURATION,...");
		for (size_t i = 0; i < n; i++) {
			char *colon = strrchr(items[i], ':');

			if (!colon || colon == items[i] ||
			        parse_duration_usec(colon + 1, &bake[i].bake_usec) < 0)
				return rw_err_set(err, -EINVAL,
				        "RingBake= takes RING:DURATION,... (0:10m,1:1h), got '%s' "
				        "in "
				        "'%s'",
				        items[i], v);
			*colon = 0;
			strcpy(bake[i].ring, items[i]);
		}
		if (list_has_duplicate(items, n, &dup))
			return rw_err_set(
			        err, -EINVAL, "RingBake= names ring '%s' twice in '%s'", dup, v);
	}
	memcpy(p->ring_bake, bake, n * sizeof(bake[0]));
	p->n_ring_bake = n;
	return 0;
}

static int
set_choice(int *dst, const char *key, const char *v, const char *const *names, size_t n,
        const char *syntax, struct rw_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (streq(v, names[i])) {
			*dst = (int)i;
			return 0;
		}
	return rw_err_set(err, -EINVAL, "%s= takes %s, got '%s'", key, syntax, v);
}

static int
set_duration(uint64_t *dst, const char *key, bool allow_zero, const char *v, struct rw_err *err)
{
	uint64_t u;

	if (parse_duration_usec(v, &u) < 0 || (u == 0 && !allow_zero))
		return rw_err_set(err, -EINVAL,
		        "%s= takes a duration like 30s, 5m or 1h%s, got '%s'", key,
		        allow_zero ? "" : " (more than 0)", v);
	*dst = u;
	return 0;
}

static int
set_traffic_command(struct deploy_params *p, const char *v, struct rw_err *err)
{
	_cleanup_free_ char *x = NULL;

	if (strlen(v) >= sizeof(p->traffic_command))
		return rw_err_set(err, -ENAMETOOLONG, "TrafficCommand= is longer than %zu bytes",
		        sizeof(p->traffic_command) - 1);
	if (!text_is_plain(v))
		return rw_err_set(err, -EINVAL, "TrafficCommand= contains control characters");
	if (planner_command_expand(v, "blue", "app", "1", &x) < 0)
		return rw_err_set(err, -EINVAL,
		        "TrafficCommand= knows %%c (color), %%a (app), %%v (version) and %%%%, got "
		        "'%s'",
		        v);
	strcpy(p->traffic_command, v);
	return 0;
}

static int
set_url(char *dst, const char *key, const char *v, struct rw_err *err)
{
	if (!isempty(v) && !url_is_valid(v))
		return rw_err_set(
		        err, -EINVAL, "%s= takes an http:// or https:// URL, got '%s'", key, v);
	strcpy(dst, v);
	return 0;
}

static int
set_freeze(struct deploy_params *p, const char *v, struct rw_err *err)
{
	struct freeze_window w;
	struct rw_err e = {{0}};
	int r;

	if (isempty(v)) {
		p->n_freeze = 0;
		return 0;
	}
	if (p->n_freeze >= DEPLOY_FREEZE_MAX)
		return rw_err_set(err, -E2BIG, "Freeze= takes at most %d windows, got '%s' beyond",
		        DEPLOY_FREEZE_MAX, v);
	r = freeze_window_parse(v, &w, &e);
	if (r < 0)
		return rw_err_set(err, r, "Freeze= %s", e.msg);
	p->freeze[p->n_freeze++] = w;
	return 0;
}

/* Sets FIELD of Gate.NAME.FIELD (key) on g. */
static int
set_gate_field(struct metric_gate *g, const char *key, const char *field, const char *v,
        struct rw_err *err)
{
	if (strcasecmp(field, "Query") == 0) {
		if (isempty(v) || !text_is_plain(v))
			return rw_err_set(err, -EINVAL,
			        "Gate.%s.Query= takes a PromQL query, got '%s'", g->name, v);
		if (strlen(v) >= sizeof(g->query))
			return rw_err_set(err, -ENAMETOOLONG,
			        "Gate.%s.Query= is longer than %zu bytes", g->name,
			        sizeof(g->query) - 1);
		{
			char probe[METRIC_GATE_QUERY_MAX * 2];

			if (metric_gate_query_expand(v, "a", "1", probe, sizeof(probe)) == -EINVAL)
				return rw_err_set(err, -EINVAL,
				        "Gate.%s.Query= may name ${app} and ${version}, no other "
				        "${...}: '%s'",
				        g->name, v);
		}
		strcpy(g->query, v);
	} else if (strcasecmp(field, "Condition") == 0) {
		if (strlen(v) >= sizeof(g->condition_text) ||
		        metric_condition_parse(v, &g->condition) < 0)
			return rw_err_set(err, -EINVAL,
			        "Gate.%s.Condition= takes [all|min|max|avg|sum] OP NUMBER with OP "
			        "one "
			        "of < <= > >= == !=, got '%s'",
			        g->name, v);
		strcpy(g->condition_text, v);
	} else if (strcasecmp(field, "MinSamples") == 0) {
		uint64_t n;

		if (parse_uint64(v, &n) < 0 || n == 0 || n > PROM_SAMPLES_MAX)
			return rw_err_set(err, -EINVAL,
			        "Gate.%s.MinSamples= takes a number from 1 to %d, got '%s'",
			        g->name, PROM_SAMPLES_MAX, v);
		g->min_samples = n;
	} else if (strcasecmp(field, "NoData") == 0) {
		if (metric_no_data_from_string(v, &g->no_data) < 0)
			return rw_err_set(err, -EINVAL,
			        "Gate.%s.NoData= takes hold, fail or pass, got '%s'", g->name, v);
	} else if (strcasecmp(field, "OnError") == 0) {
		if (metric_on_error_from_string(v, &g->on_error) < 0)
			return rw_err_set(err, -EINVAL,
			        "Gate.%s.OnError= takes hold or fail, got '%s'", g->name, v);
	} else if (strcasecmp(field, "URL") == 0) {
		if (!url_is_valid(v))
			return rw_err_set(err, -EINVAL,
			        "Gate.%s.URL= takes an http:// or https:// URL, got '%s'", g->name,
			        v);
		strcpy(g->url, v);
	} else
		return rw_err_set(err, -EINVAL,
		        "unknown gate key '%s' (Query, Condition, MinSamples, NoData, OnError or "
		        "URL)",
		        key);
	return 0;
}

/* Gate.NAME.FIELD: the gate is created by its first key. */
static int
set_gate(struct deploy_params *p, const char *key, const char *v, struct rw_err *err)
{
	const char *name = key + strlen("Gate."), *dot = strchr(name, '.');
	struct metric_gate *g = NULL, fresh;
	size_t nl;
	int r;

	if (!dot || !gate_name_is_valid(name, (size_t)(dot - name)))
		return rw_err_set(err, -EINVAL,
		        "'%s' is not Gate.NAME.FIELD with NAME of [A-Za-z0-9_-] (at most %d)", key,
		        METRIC_GATE_NAME_MAX - 1);
	nl = (size_t)(dot - name);
	for (size_t i = 0; i < p->n_gates; i++)
		if (strlen(p->gates[i].name) == nl && strncmp(p->gates[i].name, name, nl) == 0)
			g = &p->gates[i];
	if (g)
		fresh = *g;
	else {
		if (p->n_gates >= DEPLOY_GATES_MAX)
			return rw_err_set(err, -E2BIG, "at most %d metric gates, got '%.*s' beyond",
			        DEPLOY_GATES_MAX, (int)nl, name);
		fresh = (struct metric_gate) {.min_samples = 1, .no_data = METRIC_NO_DATA_HOLD};
		memcpy(fresh.name, name, nl);
		fresh.name[nl] = 0;
	}

	r = set_gate_field(&fresh, key, dot + 1, v, err);
	if (r < 0)
		return r;
	if (!g)
		g = &p->gates[p->n_gates++];
	*g = fresh;
	return 0;
}

/* Compares a key as given with a canonical name, ignoring case, '-' and
 * '_' ("max-unavailable" is MaxUnavailable). */
static bool
key_matches(const char *given, const char *name)
{
	for (;;) {
		while (*given == '-' || *given == '_')
			given++;
		if (!*given || !*name)
			return !*given && !*name;
		if (tolower((unsigned char)*given) != tolower((unsigned char)*name))
			return false;
		given++, name++;
	}
}

static int
set_key(struct deploy_params *p, enum deploy_key k, const char *v, struct rw_err *err)
{
	const char *name = key_info(k)->name;
	int r, choice = 0;

	switch (k) {
	case DEPLOY_KEY_STRATEGY:
		return set_strategy(p, v, err);
	case DEPLOY_KEY_BATCH:
		return set_amount(&p->batch, name, false, v, err);
	case DEPLOY_KEY_MAX_UNAVAILABLE:
		return set_amount(&p->max_unavailable, name, false, v, err);
	case DEPLOY_KEY_CANARY:
		return set_canary(p, v, err);
	case DEPLOY_KEY_STEPS:
		return set_steps(p, v, err);
	case DEPLOY_KEY_RING_LABEL:
		return set_ring_label(p, v, err);
	case DEPLOY_KEY_DATACENTERS:
		return set_ring_names(p->datacenters, &p->n_datacenters, name, v, err);
	case DEPLOY_KEY_RING_BAKE:
		return set_ring_bake(p, v, err);
	case DEPLOY_KEY_RING_APPROVAL:
		return set_ring_names(p->ring_approval, &p->n_ring_approval, name, v, err);
	case DEPLOY_KEY_UNLABELED_HOSTS:
		r = set_choice(&choice, name, v, unlabeled_names, ELEMENTSOF(unlabeled_names),
		        "error or last-ring", err);
		if (r >= 0)
			p->unlabeled = (enum deploy_unlabeled)choice;
		return r;
	case DEPLOY_KEY_BAKE:
		return set_duration(&p->bake_usec, name, true, v, err);
	case DEPLOY_KEY_APPROVAL:
		r = set_choice(&choice, name, v, approval_names, ELEMENTSOF(approval_names),
		        "no, first or every", err);
		if (r >= 0)
			p->approval = (enum deploy_approval)choice;
		return r;
	case DEPLOY_KEY_MIN_HEALTHY:
		return set_duration(&p->min_healthy_usec, name, true, v, err);
	case DEPLOY_KEY_FAILURE_BUDGET:
		return set_amount(&p->failure_budget, name, true, v, err);
	case DEPLOY_KEY_WAVE_TIMEOUT:
		return set_duration(&p->wave_timeout_usec, name, false, v, err);
	case DEPLOY_KEY_ROLLBACK_PARALLELISM:
		return set_amount(&p->rollback_parallelism, name, false, v, err);
	case DEPLOY_KEY_TRAFFIC_COMMAND:
		return set_traffic_command(p, v, err);
	case DEPLOY_KEY_LIVE_COLOR:
		if (!isempty(v) && !streq(v, "blue") && !streq(v, "green"))
			return rw_err_set(
			        err, -EINVAL, "LiveColor= takes blue or green, got '%s'", v);
		strcpy(p->live_color, v);
		return 0;
	case DEPLOY_KEY_PROMETHEUS_URL:
		return set_url(p->prometheus_url, name, v, err);
	case DEPLOY_KEY_FREEZE:
		return set_freeze(p, v, err);
	case DEPLOY_KEY_FREEZE_POLICY:
		if (freeze_policy_from_string(v, &p->freeze_policy) < 0)
			return rw_err_set(
			        err, -EINVAL, "%s= takes wait or refuse, got '%s'", name, v);
		return 0;
	case DEPLOY_KEY_GATE:
	case _DEPLOY_KEY_MAX:
		break;
	}
	return -EINVAL;
}

/* Keys whose empty value clears them back to "not given". */
static bool
key_clears(enum deploy_key k)
{
	return k == DEPLOY_KEY_DATACENTERS || k == DEPLOY_KEY_RING_BAKE ||
	        k == DEPLOY_KEY_RING_APPROVAL || k == DEPLOY_KEY_TRAFFIC_COMMAND ||
	        k == DEPLOY_KEY_LIVE_COLOR || k == DEPLOY_KEY_PROMETHEUS_URL ||
	        k == DEPLOY_KEY_FREEZE;
}

int
deploy_params_set(struct deploy_params *p, const char *key, const char *value, struct rw_err *err)
{
	int r;

	if (isempty(key) || !value)
		return rw_err_set(err, -EINVAL, "empty key");
	if (strncasecmp(key, "Gate.", 5) == 0) {
		char canon[DEPLOY_LABEL_MAX];

		if (xsnprintf(canon, sizeof(canon), "Gate.%s", key + 5) < 0)
			return rw_err_set(err, -EINVAL, "key '%.64s...' is too long", key);
		r = set_gate(p, canon, value, err);
		if (r >= 0)
			p->set |= UINT64_C(1) << DEPLOY_KEY_GATE;
		return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		if (keys[i].key == DEPLOY_KEY_GATE || !key_matches(key, keys[i].name))
			continue;
		if (isempty(value) && !key_clears(keys[i].key))
			return rw_err_set(err, -EINVAL, "%s= needs a value (%s)", keys[i].name,
			        keys[i].syntax);
		r = set_key(p, keys[i].key, value, err);
		if (r < 0)
			return r;
		if (isempty(value))
			p->set &= ~(UINT64_C(1) << keys[i].key);
		else
			p->set |= UINT64_C(1) << keys[i].key;
		return 0;
	}
	return rw_err_set(err, -EINVAL, "unknown option '%s'", key);
}

/* ---- combinations ---- */

int
deploy_params_validate(const struct deploy_params *p, struct rw_err *err)
{
	const struct strategy_ops *s = strategy_lookup(p->strategy);

	if (!s)
		return rw_err_set(err, -EINVAL, "unknown strategy '%s'", p->strategy);
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if ((p->set & (UINT64_C(1) << keys[i].key)) && keys[i].strategy &&
		        !streq(keys[i].strategy, s->name))
			return rw_err_set(err, -EINVAL, "%s= applies to Strategy=%s, not %s",
			        keys[i].name, keys[i].strategy, s->name);
	for (size_t i = 0; i < p->n_gates; i++) {
		const struct metric_gate *g = &p->gates[i];

		if (isempty(g->query))
			return rw_err_set(err, -EINVAL, "metric gate '%s' has no Query=", g->name);
		if (isempty(g->condition_text))
			return rw_err_set(
			        err, -EINVAL, "metric gate '%s' has no Condition=", g->name);
		if (isempty(deploy_params_gate_url(p, g)))
			return rw_err_set(err, -EINVAL,
			        "metric gate '%s' has no URL= and there is no PrometheusURL=",
			        g->name);
	}
	return s->validate ? s->validate(p, err) : 0;
}

const struct metric_gate *
deploy_params_gate(const struct deploy_params *p, const char *name)
{
	for (size_t i = 0; i < p->n_gates; i++)
		if (streq(p->gates[i].name, name))
			return &p->gates[i];
	return NULL;
}

const char *
deploy_params_gate_url(const struct deploy_params *p, const struct metric_gate *g)
{
	return g->url[0] ? g->url : p->prometheus_url;
}

uint64_t
deploy_params_ring_bake(const struct deploy_params *p, const char *ring)
{
	for (size_t i = 0; i < p->n_ring_bake; i++)
		if (streq(p->ring_bake[i].ring, ring))
			return p->ring_bake[i].bake_usec;
	return p->bake_usec;
}

bool
deploy_params_ring_approval(const struct deploy_params *p, const char *ring)
{
	for (size_t i = 0; i < p->n_ring_approval; i++)
		if (streq(p->ring_approval[i], ring))
			return true;
	return false;
}
