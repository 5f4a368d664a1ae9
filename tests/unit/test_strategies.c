/*
 * test_strategies: the wave planners (all-at-once, rolling, canary, ring,
 * blue-green), the registry and the rollback plan: exact waves, their
 * gates, rounding, ordering and every documented error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "strategy.h"

#define FLEET_MAX 256

struct fleet {
	struct plan_host hosts[FLEET_MAX];
	char **labels[FLEET_MAX];
	char names[FLEET_MAX][32];
	size_t n;
};

/* Ids count down while names count up, so that ordering by id and by name
 * differ and a planner that sorted by id would be caught. */
static void
fleet_add(struct fleet *f, const char *name, const char *labels, bool up, const char *version)
{
	size_t i = f->n++;

	assert_true(i < FLEET_MAX);
	snprintf(f->names[i], sizeof(f->names[i]), "%s", name);
	f->labels[i] = NULL;
	if (labels)
		assert_true(strv_split(labels, 32, &f->labels[i]) >= 0);
	f->hosts[i] = (struct plan_host) {
	        .id = 1000 - (int64_t)i,
	        .name = f->names[i],
	        .labels = f->labels[i],
	        .up = up,
	        .current_version = version,
	};
}

/* n hosts web01..webNN added in reverse order, all up, running 1.0. */
static void
fleet_numbered(struct fleet *f, size_t n)
{
	char name[32];

	for (size_t i = n; i > 0; i--) {
		snprintf(name, sizeof(name), "web%02zu", i);
		fleet_add(f, name, NULL, true, "1.0");
	}
}

static void
fleet_free(struct fleet *f)
{
	for (size_t i = 0; i < f->n; i++)
		strv_free(f->labels[i]);
	f->n = 0;
}

static void
set(struct deploy_params *p, const char *key, const char *value)
{
	struct rw_err err = {{0}};

	if (deploy_params_set(p, key, value, &err) < 0)
		fail_msg("%s=%s refused: %s", key, value, err.msg);
}

static struct plan *
plan_ok(const struct deploy_params *p, const struct fleet *f)
{
	struct plan_input in = {"web", "2.0", f->hosts, f->n};
	struct rw_err err = {{0}};
	struct plan *pl = NULL;

	if (strategy_plan(p, &in, &pl, &err) < 0)
		fail_msg("plan failed: %s", err.msg);
	assert_non_null(pl);
	return pl;
}

static void
plan_fails(const struct deploy_params *p, const struct fleet *f, const char *message)
{
	struct plan_input in = {"web", "2.0", f->hosts, f->n};
	struct rw_err err = {{0}};
	struct plan *pl = NULL;

	assert_true(strategy_plan(p, &in, &pl, &err) < 0);
	assert_null(pl);
	if (!strstr(err.msg, message))
		fail_msg("error '%s' lacks '%s'", err.msg, message);
}

/* "name: h1 h2 | name: h3" (a switch wave shows its command in []). */
static const char *
render(const struct plan *pl)
{
	static char buf[16384];
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < pl->n_waves; i++) {
		const struct plan_wave *w = &pl->waves[i];

		len += (size_t)snprintf(
		        buf + len, sizeof(buf) - len, "%s%s:", i ? " | " : "", w->name);
		for (size_t j = 0; j < w->n_hosts; j++)
			len += (size_t)snprintf(
			        buf + len, sizeof(buf) - len, " %s", w->hosts[j].name);
		if (w->command)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, " [%s]", w->command);
		assert_true(len < sizeof(buf));
	}
	return buf;
}

static void
test_registry_finds_every_strategy_by_name(void **state)
{
	static const char *const names[] = {
	        "all-at-once", "rolling", "canary", "ring", "blue-green"};
	const struct strategy_ops *const *list;
	size_t n;

	(void)state;
	list = strategy_list(&n);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(list[i]->name, names[i]);
		assert_ptr_equal(strategy_lookup(names[i]), list[i]);
		assert_non_null(list[i]->plan);
		assert_non_null(list[i]->summary);
	}
	assert_ptr_equal(strategy_lookup("canary"), &strategy_canary);
	assert_null(strategy_lookup("Canary"));
	assert_null(strategy_lookup("big-bang"));
	assert_null(strategy_lookup(NULL));
}

static void
test_all_at_once_is_one_wave_sorted_by_name(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_numbered(&f, 4);
	deploy_params_init(&p);
	set(&p, "Strategy", "all-at-once");
	set(&p, "MinHealthy", "1m");
	set(&p, "WaveTimeout", "10m");
	set(&p, "Bake", "5m");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl), "all: web01 web02 web03 web04");
	assert_int_equal(pl->waves[0].kind, PLAN_WAVE_DEPLOY);
	assert_int_equal(pl->waves[0].max_unavailable, 4);
	assert_false(pl->waves[0].approval);
	assert_true(pl->waves[0].metric_gates);
	assert_int_equal(pl->waves[0].min_healthy_usec, 60 * USEC_PER_SEC);
	assert_int_equal(pl->waves[0].timeout_usec, 600 * USEC_PER_SEC);
	assert_int_equal(pl->waves[0].bake_usec, 300 * USEC_PER_SEC);
	assert_int_equal(pl->waves[0].hosts[0].id, 997); /* web01 was added last */
	assert_string_equal(pl->waves[0].hosts[0].rollback_to, "1.0");
	assert_int_equal(pl->n_hosts, 4);
	assert_string_equal(pl->app, "web");
	assert_string_equal(pl->version, "2.0");
	assert_string_equal(pl->params.strategy, "all-at-once");
	plan_free(pl);

	set(&p, "MaxUnavailable", "1");
	pl = plan_ok(&p, &f);
	assert_int_equal(pl->waves[0].max_unavailable, 1);
	plan_free(pl);
	fleet_free(&f);
}

static void
test_rolling_batches_by_count_with_a_short_last_batch(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_numbered(&f, 10);
	deploy_params_init(&p);
	set(&p, "Batch", "3");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl),
	        "batch 1/4: web01 web02 web03 | batch 2/4: web04 web05 web06 "
	        "| batch 3/4: web07 web08 web09 | batch 4/4: web10");
	assert_int_equal(pl->waves[0].max_unavailable, 3);
	assert_int_equal(pl->waves[3].max_unavailable, 1);
	plan_free(pl);

	set(&p, "Batch", "25");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl),
	        "batch 1/1: web01 web02 web03 web04 web05 web06 web07 web08 "
	        "web09 web10");
	plan_free(pl);
	fleet_free(&f);
}

static void
test_rolling_percent_rounds_up(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	deploy_params_init(&p);
	/* The default batch is 25%: 2.5 of 10 hosts is 3. */
	fleet_numbered(&f, 10);
	pl = plan_ok(&p, &f);
	assert_int_equal(pl->n_waves, 4);
	assert_int_equal(pl->waves[0].n_hosts, 3);
	assert_int_equal(pl->waves[3].n_hosts, 1);
	plan_free(pl);
	fleet_free(&f);

	/* 1% of 50 hosts is 0.5, which is 1 host: 50 waves. */
	fleet_numbered(&f, 50);
	set(&p, "Batch", "1%");
	pl = plan_ok(&p, &f);
	assert_int_equal(pl->n_waves, 50);
	assert_string_equal(pl->waves[49].name, "batch 50/50");
	assert_string_equal(pl->waves[49].hosts[0].name, "web50");
	plan_free(pl);

	/* 2% of 50 is exactly 1; 2.01% is 1.005, so 2. */
	set(&p, "Batch", "2%");
	pl = plan_ok(&p, &f);
	assert_int_equal(pl->n_waves, 50);
	plan_free(pl);
	set(&p, "Batch", "2.01%");
	pl = plan_ok(&p, &f);
	assert_int_equal(pl->n_waves, 25);
	plan_free(pl);
	fleet_free(&f);
}

static void
test_rolling_max_unavailable_and_approval(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_numbered(&f, 20);
	deploy_params_init(&p);
	set(&p, "Batch", "5");
	set(&p, "MaxUnavailable", "10%"); /* of all 20 hosts: 2 */
	set(&p, "Approval", "first");
	pl = plan_ok(&p, &f);
	assert_int_equal(pl->n_waves, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pl->waves[i].max_unavailable, 2);
	assert_false(pl->waves[0].approval);
	assert_true(pl->waves[1].approval);
	assert_false(pl->waves[2].approval);
	assert_false(pl->waves[3].approval);
	plan_free(pl);

	set(&p, "Approval", "every");
	set(&p, "MaxUnavailable", "100");
	pl = plan_ok(&p, &f);
	assert_false(pl->waves[0].approval);
	for (size_t i = 1; i < 4; i++)
		assert_true(pl->waves[i].approval);
	assert_int_equal(pl->waves[0].max_unavailable, 5); /* never more than the wave */
	plan_free(pl);
	fleet_free(&f);
}

static void
test_plans_do_not_depend_on_input_order(void **state)
{
	struct deploy_params p;
	struct fleet a = {0}, b = {0};
	struct plan *pa, *pb;
	char ra[16384];

	(void)state;
	fleet_numbered(&a, 12);
	for (size_t i = 1; i <= 12; i++) {
		char name[32];

		snprintf(name, sizeof(name), "web%02zu", (i * 5) % 12 + 1);
		fleet_add(&b, name, NULL, true, "1.0");
	}
	deploy_params_init(&p);
	set(&p, "Strategy", "canary");
	set(&p, "Canary", "2");
	set(&p, "Steps", "25%,50%,100%");
	pa = plan_ok(&p, &a);
	pb = plan_ok(&p, &b);
	snprintf(ra, sizeof(ra), "%s", render(pa));
	assert_string_equal(ra, render(pb));
	assert_string_equal(ra,
	        "canary: web01 web02 | step 25%: web03 | step 50%: web04 web05 web06 "
	        "| step 100%: web07 web08 web09 web10 web11 web12");
	plan_free(pa);
	plan_free(pb);
	fleet_free(&a);
	fleet_free(&b);
}

static void
test_same_names_order_by_id(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_add(&f, "db", NULL, true, NULL);
	fleet_add(&f, "db", NULL, true, NULL);
	fleet_add(&f, "app", NULL, true, NULL);
	deploy_params_init(&p);
	set(&p, "Strategy", "all-at-once");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl), "all: app db db");
	assert_int_equal(pl->waves[0].hosts[1].id, 999);
	assert_int_equal(pl->waves[0].hosts[2].id, 1000);
	assert_null(pl->waves[0].hosts[0].rollback_to);
	plan_free(pl);
	fleet_free(&f);
}

static void
test_names_sort_in_natural_order(void **state)
{
	static const char *const given[] = {"web10", "web9", "web1", "web01", "db2.fra", "db10.ams",
	        "web010", "web1a", "web", "WEB2"};
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(given); i++)
		fleet_add(&f, given[i], NULL, true, NULL);
	deploy_params_init(&p);
	set(&p, "Strategy", "all-at-once");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl),
	        "all: WEB2 db2.fra db10.ams web web01 web1 web1a web9 web010 "
	        "web10");
	plan_free(pl);
	fleet_free(&f);
}

static void
test_bad_inputs_are_refused(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan_input in;
	struct rw_err err = {{0}};
	struct plan *pl = NULL;

	(void)state;
	deploy_params_init(&p);
	plan_fails(&p, &f, "no eligible hosts for web");

	fleet_numbered(&f, 3);
	f.hosts[1].id = f.hosts[0].id;
	plan_fails(&p, &f, "host id 1000 is given twice");
	f.hosts[1].id = 5;
	f.hosts[2].name = "";
	plan_fails(&p, &f, "host 998 has no name");
	f.hosts[2].name = f.names[2];

	in = (struct plan_input) {"Web!", "2.0", f.hosts, f.n};
	assert_true(strategy_plan(&p, &in, &pl, &err) < 0);
	assert_non_null(strstr(err.msg, "'Web!' is not a valid app name"));
	in = (struct plan_input) {"web", "../2.0", f.hosts, f.n};
	assert_true(strategy_plan(&p, &in, &pl, &err) < 0);
	assert_non_null(strstr(err.msg, "'../2.0' is not a valid version"));
	assert_null(pl);

	/* Params are validated before planning. */
	set(&p, "Steps", "50%,100%");
	plan_fails(&p, &f, "Steps= applies to Strategy=canary, not rolling");
	fleet_free(&f);
}

static void
test_down_and_up_to_date_hosts_are_planned_and_flagged(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_add(&f, "a", NULL, true, "1.0");
	fleet_add(&f, "b", NULL, false, "1.0");
	fleet_add(&f, "c", NULL, true, "2.0");
	fleet_add(&f, "d", NULL, false, NULL);
	deploy_params_init(&p);
	set(&p, "Strategy", "all-at-once");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl), "all: a b c d");
	assert_false(pl->waves[0].hosts[0].down);
	assert_true(pl->waves[0].hosts[1].down);
	assert_true(pl->waves[0].hosts[2].up_to_date);
	assert_false(pl->waves[0].hosts[0].up_to_date);
	assert_true(pl->waves[0].hosts[3].down);
	assert_int_equal(pl->n_hosts, 4);
	assert_int_equal(pl->n_down, 2);
	assert_int_equal(pl->n_up_to_date, 1);
	plan_free(pl);
	fleet_free(&f);
}

static void
test_canary_by_count_skips_steps_already_covered(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_numbered(&f, 200);
	deploy_params_init(&p);
	set(&p, "Strategy", "canary");
	set(&p, "Canary", "2");
	set(&p, "Steps", "1%,10%,50%,100%");
	set(&p, "Bake", "10m");
	set(&p, "Approval", "first");
	pl = plan_ok(&p, &f);
	/* 1% of 200 is 2 hosts, which the canaries already are. */
	assert_int_equal(pl->n_waves, 4);
	assert_string_equal(pl->waves[0].name, "canary");
	assert_int_equal(pl->waves[0].n_hosts, 2);
	assert_string_equal(pl->waves[0].hosts[0].name, "web01");
	assert_string_equal(pl->waves[0].hosts[1].name, "web02");
	assert_string_equal(pl->waves[1].name, "step 10%");
	assert_int_equal(pl->waves[1].n_hosts, 18);
	assert_string_equal(pl->waves[1].hosts[0].name, "web03");
	assert_string_equal(pl->waves[2].name, "step 50%");
	assert_int_equal(pl->waves[2].n_hosts, 80);
	assert_string_equal(pl->waves[3].name, "step 100%");
	assert_int_equal(pl->waves[3].n_hosts, 100);
	assert_string_equal(pl->waves[3].hosts[99].name, "web200");
	assert_false(pl->waves[0].approval);
	assert_true(pl->waves[1].approval);
	assert_false(pl->waves[2].approval);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pl->waves[i].bake_usec, 600 * USEC_PER_SEC);
	assert_int_equal(pl->n_hosts, 200);
	plan_free(pl);
	fleet_free(&f);
}

static void
test_canary_percent_rounds_up_and_prefers_up_hosts(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_numbered(&f, 50);
	f.hosts[49].up = false; /* web01 */
	deploy_params_init(&p);
	set(&p, "Strategy", "canary");
	set(&p, "Canary", "1%");
	set(&p, "Steps", "100%");
	pl = plan_ok(&p, &f);
	assert_int_equal(pl->n_waves, 2);
	assert_int_equal(pl->waves[0].n_hosts, 1);
	assert_string_equal(pl->waves[0].hosts[0].name, "web02");
	assert_int_equal(pl->waves[1].n_hosts, 49);
	assert_string_equal(pl->waves[1].hosts[0].name, "web01");
	assert_true(pl->waves[1].hosts[0].down);
	plan_free(pl);
	fleet_free(&f);

	/* All down: the canaries are down hosts, flagged. */
	fleet_add(&f, "x", NULL, false, NULL);
	fleet_add(&f, "y", NULL, false, NULL);
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl), "canary: x | step 100%: y");
	assert_true(pl->waves[0].hosts[0].down);
	plan_free(pl);
	fleet_free(&f);
}

static void
test_canary_by_label(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_add(&f, "web1", "dc=fra", true, "1.0");
	fleet_add(&f, "web2", "dc=fra role=canary", true, "1.0");
	fleet_add(&f, "web3", "dc=ams", true, "1.0");
	fleet_add(&f, "web4", "role=canary-ish", true, "1.0");
	fleet_add(&f, "web5", "role=canary", false, "1.0");
	fleet_add(&f, "web6", NULL, true, "1.0");
	deploy_params_init(&p);
	set(&p, "Strategy", "canary");
	set(&p, "Canary", "role=canary");
	set(&p, "Steps", "50%,100%");
	pl = plan_ok(&p, &f);
	/* 50% of 6 is 3: one host after the two canaries. */
	assert_string_equal(render(pl),
	        "canary: web2 web5 | step 50%: web1 | step 100%: web3 web4 "
	        "web6");
	assert_true(pl->waves[0].hosts[1].down);
	plan_free(pl);

	set(&p, "Canary", "role=canari");
	plan_fails(&p, &f, "Canary=role=canari matches none of the 6 eligible hosts");
	fleet_free(&f);
}

static void
test_canary_covering_every_host_is_one_wave(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_add(&f, "only", NULL, true, NULL);
	deploy_params_init(&p);
	set(&p, "Strategy", "canary");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl), "canary: only");
	plan_free(pl);
	fleet_free(&f);
}

static void
test_ring_by_label_in_numeric_order_with_ring_gates(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_add(&f, "a", "ring=10", true, "1.0");
	fleet_add(&f, "b", "ring=2", true, "1.0");
	fleet_add(&f, "c", "ring=0", true, "1.0");
	fleet_add(&f, "d", "ring=2", true, "1.0");
	fleet_add(&f, "e", "ring=0 datacenter=fra", true, "1.0");
	deploy_params_init(&p);
	set(&p, "Strategy", "ring");
	set(&p, "Bake", "5m");
	set(&p, "RingBake", "0:10m, 10:1h");
	set(&p, "RingApproval", "2");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl), "ring 0: c e | ring 2: b d | ring 10: a");
	assert_int_equal(pl->waves[0].bake_usec, 600 * USEC_PER_SEC);
	assert_int_equal(pl->waves[1].bake_usec, 300 * USEC_PER_SEC);
	assert_int_equal(pl->waves[2].bake_usec, 3600 * USEC_PER_SEC);
	assert_false(pl->waves[0].approval);
	assert_true(pl->waves[1].approval);
	assert_false(pl->waves[2].approval);
	plan_free(pl);

	/* Approval=first adds the second ring; RingApproval= the others. */
	set(&p, "Approval", "first");
	set(&p, "RingApproval", "10");
	pl = plan_ok(&p, &f);
	assert_false(pl->waves[0].approval);
	assert_true(pl->waves[1].approval);
	assert_true(pl->waves[2].approval);
	plan_free(pl);

	set(&p, "RingBake", "7:1h");
	plan_fails(&p, &f, "RingBake= names ring 7, which no eligible host is in");
	set(&p, "RingBake", "");
	set(&p, "RingApproval", "3");
	plan_fails(&p, &f, "RingApproval= names ring 3, which no eligible host is in");
	fleet_free(&f);
}

static void
test_ring_unlabeled_hosts_are_an_error_or_join_the_last_ring(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_add(&f, "a", "ring=1", true, "1.0");
	fleet_add(&f, "b", NULL, true, "1.0");
	fleet_add(&f, "c", "ring=0", true, "1.0");
	fleet_add(&f, "d", "rack=4", true, "1.0");
	deploy_params_init(&p);
	set(&p, "Strategy", "ring");
	plan_fails(&p, &f, "2 hosts have no 'ring' label: b, d; UnlabeledHosts=last-ring");
	set(&p, "UnlabeledHosts", "last-ring");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl), "ring 0: c | ring 1: a b d");
	plan_free(pl);

	set(&p, "RingLabel", "rack");
	set(&p, "UnlabeledHosts", "error");
	plan_fails(&p, &f, "3 hosts have no 'rack' label: a, b, c");
	fleet_free(&f);

	fleet_add(&f, "a", "zone=1", true, "1.0");
	deploy_params_init(&p);
	set(&p, "Strategy", "ring");
	set(&p, "UnlabeledHosts", "last-ring");
	plan_fails(&p, &f, "no eligible host has a 'ring' label");
	fleet_free(&f);

	fleet_add(&f, "a", "ring=one", true, "1.0");
	plan_fails(&p, &f, "host 'a' has ring=one; RingLabel=ring needs a ring number");
	fleet_free(&f);
}

static void
test_ring_by_datacenter_list(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_add(&f, "fra1", "datacenter=fra", true, "1.0");
	fleet_add(&f, "ams1", "datacenter=ams", true, "1.0");
	fleet_add(&f, "fra2", "datacenter=fra", true, "1.0");
	fleet_add(&f, "lon1", "datacenter=lon", true, "1.0");
	deploy_params_init(&p);
	set(&p, "Strategy", "ring");
	set(&p, "Datacenters", "lon,fra,ams");
	set(&p, "RingBake", "fra:30m");
	set(&p, "RingApproval", "ams");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl),
	        "ring 0 (lon): lon1 | ring 1 (fra): fra1 fra2 | ring 2 (ams): "
	        "ams1");
	assert_int_equal(pl->waves[0].bake_usec, 0);
	assert_int_equal(pl->waves[1].bake_usec, 1800 * USEC_PER_SEC);
	assert_false(pl->waves[1].approval);
	assert_true(pl->waves[2].approval);
	plan_free(pl);

	set(&p, "RingBake", "");
	set(&p, "RingApproval", "");
	set(&p, "Datacenters", "fra,ams");
	plan_fails(&p, &f, "1 host is in no listed datacenter");
	plan_fails(&p, &f, "lon1");
	set(&p, "UnlabeledHosts", "last-ring");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl), "ring 0 (fra): fra1 fra2 | ring 1 (ams): ams1 lon1");
	plan_free(pl);

	set(&p, "Datacenters", "fra,ams,lon,nyc");
	plan_fails(&p, &f, "Datacenters= lists 'nyc', which no eligible host is in");
	fleet_free(&f);
}

static void
test_ring_validation(void **state)
{
	struct deploy_params p;
	struct rw_err err = {{0}};

	(void)state;
	deploy_params_init(&p);
	set(&p, "Strategy", "ring");
	set(&p, "RingLabel", "tier");
	set(&p, "Datacenters", "fra");
	assert_true(deploy_params_validate(&p, &err) < 0);
	assert_non_null(strstr(err.msg, "RingLabel= and Datacenters= both define the rings"));

	deploy_params_init(&p);
	set(&p, "Strategy", "ring");
	set(&p, "RingBake", "fra:1h");
	assert_true(deploy_params_validate(&p, &err) < 0);
	assert_non_null(strstr(err.msg,
	        "RingBake= names ring 'fra'; with RingLabel= rings are "
	        "numbers"));
	set(&p, "Datacenters", "ams");
	assert_true(deploy_params_validate(&p, &err) < 0);
	assert_non_null(strstr(err.msg, "RingBake= names 'fra', which Datacenters= does not list"));
	set(&p, "Datacenters", "ams,fra");
	assert_int_equal(deploy_params_validate(&p, &err), 0);
}

static void
blue_green_fleet(struct fleet *f, const char *blue_version, const char *green_version)
{
	fleet_add(f, "g2", "color=green", true, green_version);
	fleet_add(f, "b1", "color=blue", true, blue_version);
	fleet_add(f, "g1", "color=green", true, green_version);
	fleet_add(f, "b2", "color=blue", false, blue_version);
}

static void
test_blue_green_deploys_idle_color_then_switches(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	blue_green_fleet(&f, "1.0", NULL);
	deploy_params_init(&p);
	set(&p, "Strategy", "blue-green");
	set(&p, "TrafficCommand", "/usr/local/bin/lb-switch %a %c %v 100%%");
	set(&p, "Bake", "2m");
	set(&p, "Approval", "first");
	pl = plan_ok(&p, &f);
	assert_string_equal(render(pl),
	        "green: g1 g2 | switch to green: [/usr/local/bin/lb-switch web "
	        "green 2.0 100%]");
	assert_string_equal(pl->idle_color, "green");
	assert_string_equal(pl->live_color, "blue");
	assert_int_equal(pl->waves[0].kind, PLAN_WAVE_DEPLOY);
	assert_false(pl->waves[0].metric_gates);
	assert_false(pl->waves[0].approval);
	assert_int_equal(pl->waves[0].max_unavailable, 2);
	assert_int_equal(pl->waves[1].kind, PLAN_WAVE_SWITCH);
	assert_int_equal(pl->waves[1].n_hosts, 0);
	assert_true(pl->waves[1].metric_gates);
	assert_true(pl->waves[1].approval);
	assert_int_equal(pl->waves[1].bake_usec, 120 * USEC_PER_SEC);
	assert_int_equal(pl->n_kept, 2);
	assert_string_equal(pl->kept[0].name, "b1");
	assert_string_equal(pl->kept[1].name, "b2");
	assert_true(pl->kept[1].down);
	assert_int_equal(pl->n_hosts, 2);
	/* Worst case rollback: traffic back to blue, then green back. */
	assert_non_null(pl->rollback);
	assert_string_equal(render(pl->rollback),
	        "switch back to blue: [/usr/local/bin/lb-switch web "
	        "blue 2.0 100%] | rollback 1/1: g1 g2");
	plan_free(pl);

	/* LiveColor= wins over inference. */
	set(&p, "LiveColor", "green");
	pl = plan_ok(&p, &f);
	assert_string_equal(pl->idle_color, "blue");
	assert_string_equal(render(pl),
	        "blue: b1 b2 | switch to blue: [/usr/local/bin/lb-switch web "
	        "blue 2.0 100%]");
	plan_free(pl);
	fleet_free(&f);
}

static void
test_blue_green_refuses_what_it_cannot_tell(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct rw_err err = {{0}};

	(void)state;
	deploy_params_init(&p);
	set(&p, "Strategy", "blue-green");
	assert_true(deploy_params_validate(&p, &err) < 0);
	assert_non_null(strstr(err.msg, "Strategy=blue-green needs TrafficCommand="));
	set(&p, "TrafficCommand", "switch %c");

	blue_green_fleet(&f, "1.0", "1.1");
	plan_fails(&p, &f,
	        "cannot tell which color is live: both colors run web (blue: 2 of 2 "
	        "hosts, green: 2 of 2); set LiveColor=");
	fleet_free(&f);
	blue_green_fleet(&f, NULL, NULL);
	plan_fails(&p, &f, "neither color runs web");
	fleet_free(&f);

	blue_green_fleet(&f, "1.0", NULL);
	fleet_add(&f, "x1", "role=web", true, NULL);
	plan_fails(&p, &f, "host 'x1' has no color label");
	fleet_free(&f);
	blue_green_fleet(&f, "1.0", NULL);
	fleet_add(&f, "r1", "color=red", true, NULL);
	plan_fails(&p, &f, "host 'r1' has color=red");
	fleet_free(&f);

	fleet_add(&f, "b1", "color=blue", true, "1.0");
	set(&p, "LiveColor", "blue");
	plan_fails(&p, &f, "no eligible host has color=green");
	fleet_free(&f);
}

static void
test_rollback_batches_by_parallelism_without_gates(void **state)
{
	struct rollback_host hosts[] = {
	        {5, "e", "1.0", true},
	        {1, "a", "1.0", true},
	        {3, "c", NULL, false},
	        {2, "b", "0.9", true},
	        {4, "d", "1.0", true},
	};
	struct rollback_input in = {"web", "2.0", hosts, ELEMENTSOF(hosts), NULL};
	struct deploy_params p;
	struct rw_err err = {{0}};
	struct plan *pl = NULL;

	(void)state;
	deploy_params_init(&p);
	set(&p, "Bake", "1h");
	set(&p, "Approval", "every");
	set(&p, "RollbackParallelism", "2");
	set(&p, "MinHealthy", "15s");
	assert_int_equal(plan_rollback(&p, &in, &pl, &err), 0);
	assert_string_equal(render(pl), "rollback 1/3: a b | rollback 2/3: c d | rollback 3/3: e");
	for (size_t i = 0; i < pl->n_waves; i++) {
		assert_int_equal(pl->waves[i].kind, PLAN_WAVE_ROLLBACK);
		assert_int_equal(pl->waves[i].bake_usec, 0);
		assert_false(pl->waves[i].approval);
		assert_false(pl->waves[i].metric_gates);
		assert_int_equal(pl->waves[i].min_healthy_usec, 15 * USEC_PER_SEC);
		assert_int_equal(pl->waves[i].max_unavailable, pl->waves[i].n_hosts);
	}
	assert_string_equal(pl->waves[0].hosts[1].rollback_to, "0.9");
	assert_null(pl->waves[1].hosts[0].rollback_to);
	assert_true(pl->waves[1].hosts[0].down);
	assert_int_equal(pl->n_hosts, 5);
	assert_null(pl->rollback);
	plan_free(pl);

	/* 50% of 5 rounds up to 3. */
	set(&p, "RollbackParallelism", "50%");
	assert_int_equal(plan_rollback(&p, &in, &pl, &err), 0);
	assert_string_equal(render(pl), "rollback 1/2: a b c | rollback 2/2: d e");
	plan_free(pl);

	/* Nothing activated yet: nothing to do. */
	in.n_hosts = 0;
	assert_int_equal(plan_rollback(&p, &in, &pl, &err), 0);
	assert_int_equal(pl->n_waves, 0);
	plan_free(pl);

	in.switch_back_to = "blue";
	assert_true(plan_rollback(&p, &in, &pl, &err) < 0);
	assert_non_null(strstr(err.msg,
	        "cannot switch traffic back to blue: there is no "
	        "TrafficCommand="));
}

static void
test_worst_case_rollback_comes_with_every_plan(void **state)
{
	struct deploy_params p;
	struct fleet f = {0};
	struct plan *pl;

	(void)state;
	fleet_numbered(&f, 7);
	f.hosts[0].current_version = NULL; /* web07 */
	deploy_params_init(&p);
	set(&p, "Batch", "2");
	set(&p, "RollbackParallelism", "4");
	set(&p, "FailureBudget", "30%");
	pl = plan_ok(&p, &f);
	assert_int_equal(pl->n_waves, 4);
	assert_int_equal(pl->failures_allowed, 2); /* 30% of 7 = 2.1 -> 2 */
	assert_int_equal(pl->rollback_parallelism, 4);
	assert_non_null(pl->rollback);
	assert_string_equal(render(pl->rollback),
	        "rollback 1/2: web01 web02 web03 web04 | rollback "
	        "2/2: web05 web06 web07");
	assert_null(pl->rollback->waves[1].hosts[2].rollback_to);
	assert_string_equal(pl->rollback->waves[1].hosts[1].rollback_to, "1.0");
	plan_free(pl);
	fleet_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_registry_finds_every_strategy_by_name),
	        cmocka_unit_test(test_all_at_once_is_one_wave_sorted_by_name),
	        cmocka_unit_test(test_rolling_batches_by_count_with_a_short_last_batch),
	        cmocka_unit_test(test_rolling_percent_rounds_up),
	        cmocka_unit_test(test_rolling_max_unavailable_and_approval),
	        cmocka_unit_test(test_plans_do_not_depend_on_input_order),
	        cmocka_unit_test(test_same_names_order_by_id),
	        cmocka_unit_test(test_names_sort_in_natural_order),
	        cmocka_unit_test(test_bad_inputs_are_refused),
	        cmocka_unit_test(test_down_and_up_to_date_hosts_are_planned_and_flagged),
	        cmocka_unit_test(test_canary_by_count_skips_steps_already_covered),
	        cmocka_unit_test(test_canary_percent_rounds_up_and_prefers_up_hosts),
	        cmocka_unit_test(test_canary_by_label),
	        cmocka_unit_test(test_canary_covering_every_host_is_one_wave),
	        cmocka_unit_test(test_ring_by_label_in_numeric_order_with_ring_gates),
	        cmocka_unit_test(test_ring_unlabeled_hosts_are_an_error_or_join_the_last_ring),
	        cmocka_unit_test(test_ring_by_datacenter_list),
	        cmocka_unit_test(test_ring_validation),
	        cmocka_unit_test(test_blue_green_deploys_idle_color_then_switches),
	        cmocka_unit_test(test_blue_green_refuses_what_it_cannot_tell),
	        cmocka_unit_test(test_rollback_batches_by_parallelism_without_gates),
	        cmocka_unit_test(test_worst_case_rollback_comes_with_every_plan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
