/*
 * test_strategy_params: deployment options: defaults, the one setter with
 * every key and every refusal, combination checks, amounts and durations,
 * and the deployment file (including the example in strategies/README.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "deploy_params.h"
#include "strategy.h"

static void
set(struct deploy_params *p, const char *key, const char *value)
{
	struct rw_err err = {{0}};

	if (deploy_params_set(p, key, value, &err) < 0)
		fail_msg("%s=%s refused: %s", key, value, err.msg);
}

/* The value is refused with message, and p does not change. */
static void
refused(const char *key, const char *value, const char *message)
{
	struct deploy_params p, before;
	struct rw_err err = {{0}};

	deploy_params_init(&p);
	set(&p, "Strategy", "canary");
	set(&p, "Freeze", "Sat 00:00-Mon 00:00");
	set(&p, "Gate.errors.Query", "up");
	memcpy(&before, &p, sizeof(p));
	assert_true(deploy_params_set(&p, key, value, &err) < 0);
	if (!strstr(err.msg, message))
		fail_msg("%s=%s: error '%s' lacks '%s'", key, value, err.msg, message);
	assert_memory_equal(&p, &before, sizeof(p));
}

static void
invalid(const struct deploy_params *p, const char *message)
{
	struct rw_err err = {{0}};

	assert_true(deploy_params_validate(p, &err) < 0);
	if (!strstr(err.msg, message))
		fail_msg("error '%s' lacks '%s'", err.msg, message);
}

static void
test_defaults_are_documented_and_valid(void **state)
{
	struct deploy_params p;
	struct rw_err err = {{0}};
	char buf[32];

	(void)state;
	deploy_params_init(&p);
	assert_string_equal(p.strategy, "rolling");
	deploy_amount_format(&p.batch, buf, sizeof(buf));
	assert_string_equal(buf, "25%");
	deploy_amount_format(&p.canary, buf, sizeof(buf));
	assert_string_equal(buf, "1");
	assert_int_equal(p.n_steps, 3);
	assert_int_equal(p.steps[0], 1000);
	assert_int_equal(p.steps[2], 10000);
	assert_string_equal(p.ring_label, "ring");
	assert_int_equal(p.unlabeled, DEPLOY_UNLABELED_ERROR);
	assert_int_equal(p.bake_usec, 0);
	assert_int_equal(p.approval, DEPLOY_APPROVAL_NO);
	assert_int_equal(p.min_healthy_usec, 30 * USEC_PER_SEC);
	assert_int_equal(p.failure_budget.kind, DEPLOY_AMOUNT_COUNT);
	assert_int_equal(p.failure_budget.value, 0);
	assert_int_equal(p.wave_timeout_usec, 30 * 60 * USEC_PER_SEC);
	deploy_amount_format(&p.rollback_parallelism, buf, sizeof(buf));
	assert_string_equal(buf, "100%");
	assert_int_equal(p.freeze_policy, FREEZE_POLICY_WAIT);
	assert_int_equal(p.n_gates, 0);
	assert_int_equal(p.set, 0);
	assert_int_equal(deploy_params_validate(&p, &err), 0);
}

static void
test_every_key_sets_its_field(void **state)
{
	struct deploy_params p;
	struct rw_err err = {{0}};
	char buf[32];

	(void)state;
	deploy_params_init(&p);
	set(&p, "Strategy", "ring");
	set(&p, "MaxUnavailable", "12.5%");
	set(&p, "Datacenters", "fra, ams ,lon");
	set(&p, "RingBake", "fra:10m,ams:1h");
	set(&p, "RingApproval", "ams,lon");
	set(&p, "UnlabeledHosts", "last-ring");
	set(&p, "Bake", "90s");
	set(&p, "Approval", "every");
	set(&p, "MinHealthy", "250ms");
	set(&p, "FailureBudget", "0%");
	set(&p, "WaveTimeout", "1h");
	set(&p, "RollbackParallelism", "3");
	set(&p, "PrometheusURL", "http://prom:9090");
	set(&p, "Freeze", "Fri 16:00-Mon 08:00");
	set(&p, "Freeze", "2026-12-24..2027-01-02");
	set(&p, "FreezePolicy", "refuse");
	set(&p, "Gate.errors.Query", "sum(rate(x[5m]))");
	set(&p, "Gate.errors.Condition", "max < 0.01");
	set(&p, "Gate.errors.MinSamples", "3");
	set(&p, "Gate.errors.NoData", "fail");
	set(&p, "Gate.latency.Query", "histogram_quantile(0.99, y)");
	set(&p, "Gate.latency.Condition", "<= 0.25");
	set(&p, "Gate.latency.URL", "https://other:9090");

	deploy_amount_format(&p.max_unavailable, buf, sizeof(buf));
	assert_string_equal(buf, "12.5%");
	assert_int_equal(p.n_datacenters, 3);
	assert_string_equal(p.datacenters[1], "ams");
	assert_int_equal(p.n_ring_bake, 2);
	assert_int_equal(deploy_params_ring_bake(&p, "ams"), 3600 * USEC_PER_SEC);
	assert_int_equal(deploy_params_ring_bake(&p, "lon"), 90 * USEC_PER_SEC);
	assert_true(deploy_params_ring_approval(&p, "lon"));
	assert_false(deploy_params_ring_approval(&p, "fra"));
	assert_int_equal(p.unlabeled, DEPLOY_UNLABELED_LAST_RING);
	assert_int_equal(p.approval, DEPLOY_APPROVAL_EVERY);
	assert_int_equal(p.min_healthy_usec, 250 * USEC_PER_MSEC);
	assert_int_equal(p.failure_budget.kind, DEPLOY_AMOUNT_PERCENT);
	assert_int_equal(p.failure_budget.value, 0);
	assert_int_equal(p.wave_timeout_usec, 3600 * USEC_PER_SEC);
	assert_int_equal(p.rollback_parallelism.value, 3);
	assert_int_equal(p.n_freeze, 2);
	assert_int_equal(p.freeze[1].kind, FREEZE_RANGE);
	assert_int_equal(p.freeze_policy, FREEZE_POLICY_REFUSE);
	assert_int_equal(p.n_gates, 2);
	assert_string_equal(p.gates[0].name, "errors");
	assert_int_equal(p.gates[0].condition.aggregate, METRIC_MAX);
	assert_int_equal(p.gates[0].condition.op, METRIC_LT);
	assert_true(p.gates[0].condition.threshold == 0.01);
	assert_int_equal(p.gates[0].min_samples, 3);
	assert_int_equal(p.gates[0].no_data, METRIC_NO_DATA_FAIL);
	assert_string_equal(deploy_params_gate_url(&p, &p.gates[0]), "http://prom:9090");
	assert_string_equal(deploy_params_gate_url(&p, deploy_params_gate(&p, "latency")),
	        "https://other:9090");
	assert_int_equal(deploy_params_gate(&p, "latency")->min_samples, 1);
	assert_int_equal(deploy_params_gate(&p, "latency")->no_data, METRIC_NO_DATA_HOLD);
	assert_null(deploy_params_gate(&p, "nope"));
	assert_true(p.set & (UINT64_C(1) << DEPLOY_KEY_GATE));
	assert_true(p.set & (UINT64_C(1) << DEPLOY_KEY_DATACENTERS));
	assert_false(p.set & (UINT64_C(1) << DEPLOY_KEY_BATCH));
	assert_int_equal(deploy_params_validate(&p, &err), 0);

	deploy_params_init(&p);
	set(&p, "Strategy", "canary");
	set(&p, "Canary", "role=canary");
	set(&p, "Steps", "1%,10%,50%,100%");
	assert_string_equal(p.canary_label, "role=canary");
	assert_int_equal(p.n_steps, 4);
	assert_int_equal(p.steps[0], 100);
	set(&p, "Canary", "5%"); /* back from a label to an amount */
	assert_string_equal(p.canary_label, "");
	assert_int_equal(p.canary.kind, DEPLOY_AMOUNT_PERCENT);
	assert_int_equal(p.canary.value, 500);

	deploy_params_init(&p);
	set(&p, "Strategy", "blue-green");
	set(&p, "TrafficCommand",
	        "echo 'set server be/%c state ready' | socat - /run/haproxy.sock");
	set(&p, "LiveColor", "green");
	assert_string_equal(p.live_color, "green");
	assert_int_equal(deploy_params_validate(&p, &err), 0);
}

static void
test_keys_match_flag_spellings(void **state)
{
	struct deploy_params p;

	(void)state;
	deploy_params_init(&p);
	set(&p, "max-unavailable", "2");
	assert_int_equal(p.max_unavailable.value, 2);
	set(&p, "ROLLBACK_PARALLELISM", "4");
	assert_int_equal(p.rollback_parallelism.value, 4);
	set(&p, "failurebudget", "1");
	assert_int_equal(p.failure_budget.value, 1);
	set(&p, "gate.errors.query", "up");
	set(&p, "GATE.errors.condition", "== 1");
	assert_int_equal(p.n_gates, 1);
	assert_string_equal(p.gates[0].name, "errors");
	assert_string_equal(p.gates[0].condition_text, "== 1");
}

static void
test_bad_values_name_the_key_and_value(void **state)
{
	(void)state;
	refused("Strategy", "big-bang",
	        "Strategy= takes all-at-once, rolling, canary, ring or "
	        "blue-green, got 'big-bang'");
	refused("Batch", "0", "Batch= takes N hosts or P% (more than 0), got '0'");
	refused("Batch", "0%", "got '0%'");
	refused("Batch", "-1", "got '-1'");
	refused("Batch", "ten", "got 'ten'");
	refused("Batch", "101%", "got '101%'");
	refused("Batch", "100.01%", "got '100.01%'");
	refused("Batch", "1.234%", "got '1.234%'");
	refused("Batch", "1.%", "got '1.%'");
	refused("Batch", "%", "got '%'");
	refused("Batch", "5 %", "got '5 %'");
	refused("Batch", "", "Batch= needs a value (N|P%)");
	refused("MaxUnavailable", "0",
	        "MaxUnavailable= takes N hosts or P% (more than 0), got '0'");
	refused("FailureBudget", "x", "FailureBudget= takes N hosts or P% (0 allowed), got 'x'");
	refused("RollbackParallelism", "0", "RollbackParallelism= takes N hosts or P%");
	refused("Canary", "0", "Canary= takes N hosts, P% or a label KEY=VALUE, got '0'");
	refused("Canary", "Role=x", "got 'Role=x'");
	refused("Canary", "role=", "got 'role='");
	refused("Canary", "=x", "got '=x'");
	refused("Steps", "10%,5%,100%",
	        "Steps= must increase, got '5%' after '10%' in '10%,5%,100%'");
	refused("Steps", "10%,10%,100%", "Steps= must increase");
	refused("Steps", "10%,50%", "Steps= must end at 100%, got '10%,50%'");
	refused("Steps", "3,100%",
	        "Steps= takes percentages like 1%,10%,100%, got '3' in '3,100%'");
	refused("Steps", "10%,,100%", "Steps= takes percentages");
	refused("Steps", "1%,2%,3%,4%,5%,6%,7%,8%,9%,10%,11%,12%,13%,14%,15%,16%,100%",
	        "Steps= takes at most 16 steps");
	refused("RingLabel", "Ring", "RingLabel= takes a label key of [a-z0-9_.-], got 'Ring'");
	refused("Datacenters", "fra,,ams",
	        "Datacenters= takes a comma-separated list, got 'fra,,ams'");
	refused("Datacenters", "fra,ams,fra", "Datacenters= names 'fra' twice in 'fra,ams,fra'");
	refused("RingBake", "0=10m", "RingBake= takes RING:DURATION,... (0:10m,1:1h), got '0=10m'");
	refused("RingBake", "0:soon", "got '0:soon' in '0:soon'");
	refused("RingBake", ":10m", "got ':10m'");
	refused("RingBake", "1:10m,1:1h", "RingBake= names ring '1' twice");
	refused("RingApproval", "1,1", "RingApproval= names '1' twice");
	refused("UnlabeledHosts", "ignore",
	        "UnlabeledHosts= takes error or last-ring, got 'ignore'");
	refused("Bake", "5 minutes", "Bake= takes a duration like 30s, 5m or 1h, got '5 minutes'");
	refused("Bake", "-5m", "got '-5m'");
	refused("WaveTimeout", "0",
	        "WaveTimeout= takes a duration like 30s, 5m or 1h (more than 0)");
	refused("MinHealthy", "1w", "MinHealthy= takes a duration");
	refused("Approval", "yes", "Approval= takes no, first or every, got 'yes'");
	refused("TrafficCommand", "switch %x",
	        "TrafficCommand= knows %c (color), %a (app), %v "
	        "(version) and %%, got 'switch %x'");
	refused("TrafficCommand", "switch 100%", "got 'switch 100%'");
	refused("LiveColor", "red", "LiveColor= takes blue or green, got 'red'");
	refused("PrometheusURL", "prom:9090",
	        "PrometheusURL= takes an http:// or https:// URL, got "
	        "'prom:9090'");
	refused("PrometheusURL", "http://a b", "got 'http://a b'");
	refused("Freeze", "Fri 16:00-Fri 16:00",
	        "Freeze= 'Fri 16:00-Fri 16:00' is not a freeze "
	        "window");
	refused("FreezePolicy", "skip", "FreezePolicy= takes wait or refuse, got 'skip'");
	refused("Gate.errors.Condition", "< lots",
	        "Gate.errors.Condition= takes [all|min|max|avg|sum] "
	        "OP NUMBER");
	refused("Gate.errors.MinSamples", "0",
	        "Gate.errors.MinSamples= takes a number from 1 to "
	        "10000, got '0'");
	refused("Gate.errors.NoData", "skip",
	        "Gate.errors.NoData= takes hold, fail or pass, got "
	        "'skip'");
	refused("Gate.errors.OnError", "pass",
	        "Gate.errors.OnError= takes hold or fail, got 'pass'");
	refused("Gate.errors.Query", "x{v=\"${host}\"}",
	        "Gate.errors.Query= may name ${app} and ${version}, no other ${...}");
	refused("Gate.errors.URL", "ftp://x", "Gate.errors.URL= takes an http:// or https:// URL");
	refused("Gate.errors.Query", "", "Gate.errors.Query= takes a PromQL query, got ''");
	refused("Gate.errors.Timeout", "1m", "unknown gate key 'Gate.errors.Timeout'");
	refused("Gate.bad name.Query", "up", "is not Gate.NAME.FIELD");
	refused("Gate.errors", "up", "is not Gate.NAME.FIELD");
	refused("Bach", "3", "unknown option 'Bach'");
}

static void
test_lists_overflow_with_a_clear_error(void **state)
{
	struct deploy_params p;
	struct rw_err err = {{0}};
	char key[64];

	(void)state;
	deploy_params_init(&p);
	for (int i = 0; i < DEPLOY_GATES_MAX; i++) {
		snprintf(key, sizeof(key), "Gate.g%d.Query", i);
		set(&p, key, "up");
	}
	assert_true(deploy_params_set(&p, "Gate.one-more.Query", "up", &err) < 0);
	assert_non_null(strstr(err.msg, "at most 8 metric gates, got 'one-more' beyond"));
	set(&p, "Gate.g3.NoData", "pass"); /* existing gates still change */
	assert_int_equal(p.gates[3].no_data, METRIC_NO_DATA_PASS);

	for (int i = 0; i < DEPLOY_FREEZE_MAX; i++)
		set(&p, "Freeze", "2026-12-25");
	assert_true(deploy_params_set(&p, "Freeze", "2026-12-26", &err) < 0);
	assert_non_null(strstr(err.msg, "Freeze= takes at most 16 windows"));
	set(&p, "Freeze", ""); /* clears */
	assert_int_equal(p.n_freeze, 0);
	assert_false(p.set & (UINT64_C(1) << DEPLOY_KEY_FREEZE));
}

static void
test_combinations_are_validated(void **state)
{
	struct deploy_params p;

	(void)state;
	deploy_params_init(&p);
	set(&p, "Steps", "50%,100%");
	invalid(&p, "Steps= applies to Strategy=canary, not rolling");
	set(&p, "Strategy", "canary");
	set(&p, "Batch", "2");
	invalid(&p, "Batch= applies to Strategy=rolling, not canary");

	deploy_params_init(&p);
	set(&p, "Strategy", "all-at-once");
	set(&p, "TrafficCommand", "x %c");
	invalid(&p, "TrafficCommand= applies to Strategy=blue-green, not all-at-once");
	set(&p, "TrafficCommand", ""); /* cleared: no longer given */
	set(&p, "Gate.errors.Query", "up");
	invalid(&p, "metric gate 'errors' has no Condition=");
	set(&p, "Gate.errors.Condition", "== 1");
	invalid(&p, "metric gate 'errors' has no URL= and there is no PrometheusURL=");
	set(&p, "PrometheusURL", "http://prom:9090");
	assert_int_equal(deploy_params_validate(&p, &(struct rw_err) {{0}}), 0);
	set(&p, "Gate.latency.Condition", "< 1");
	invalid(&p, "metric gate 'latency' has no Query=");
}

static void
test_amounts_round_up_and_format_back(void **state)
{
	struct deploy_amount a;
	char buf[32];

	(void)state;
	assert_int_equal(deploy_amount_parse("1%", false, &a), 0);
	assert_int_equal(deploy_amount_hosts(&a, 50), 1);  /* 0.5 -> 1 */
	assert_int_equal(deploy_amount_hosts(&a, 100), 1); /* exact */
	assert_int_equal(deploy_amount_hosts(&a, 101), 2); /* 1.01 -> 2 */
	assert_int_equal(deploy_amount_hosts(&a, 0), 0);
	assert_int_equal(deploy_amount_parse("12.5%", false, &a), 0);
	assert_int_equal(a.value, 1250);
	assert_int_equal(deploy_amount_hosts(&a, 8), 1);
	assert_int_equal(deploy_amount_hosts(&a, 9), 2);
	deploy_amount_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "12.5%");
	assert_int_equal(deploy_amount_parse("0.05%", false, &a), 0);
	deploy_amount_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "0.05%");
	assert_int_equal(deploy_amount_hosts(&a, 3), 1);
	assert_int_equal(deploy_amount_parse("100%", false, &a), 0);
	assert_int_equal(deploy_amount_hosts(&a, 7), 7);
	assert_int_equal(deploy_amount_parse("7", false, &a), 0);
	assert_int_equal(deploy_amount_hosts(&a, 5), 5); /* capped */
	assert_int_equal(deploy_amount_hosts(&a, 9), 7);
	deploy_amount_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "7");
	assert_int_equal(deploy_amount_parse("0", true, &a), 0);
	assert_int_equal(deploy_amount_parse("0", false, &a), -EINVAL);
	assert_int_equal(deploy_amount_parse("0%", true, &a), 0);
	assert_int_equal(deploy_amount_parse("+5", true, &a), -EINVAL);
	assert_int_equal(deploy_amount_parse("5%%", true, &a), -EINVAL);
	assert_int_equal(deploy_amount_parse("99999999999999999999999", true, &a), -EINVAL);
}

static void
test_durations_format_in_one_exact_unit(void **state)
{
	static const struct {
		uint64_t usec;
		const char *text;
	} cases[] = {
	        {0, "0"},
	        {250 * USEC_PER_MSEC, "250ms"},
	        {1500 * USEC_PER_MSEC, "1500ms"},
	        {30 * USEC_PER_SEC, "30s"},
	        {90 * USEC_PER_SEC, "90s"},
	        {5 * 60 * USEC_PER_SEC, "5m"},
	        {90 * 60 * USEC_PER_SEC, "90m"},
	        {7200 * USEC_PER_SEC, "2h"},
	        {86400 * USEC_PER_SEC, "1d"},
	        {999, "0"},
	};
	char buf[32];
	uint64_t back;

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		deploy_duration_format(cases[i].usec, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
		assert_int_equal(parse_duration_usec(buf, &back), 0);
		assert_int_equal(back, cases[i].usec - cases[i].usec % USEC_PER_MSEC);
	}
}

static void
test_key_table_covers_every_key_once(void **state)
{
	const struct deploy_key_info *k;
	size_t n;
	uint64_t seen = 0;

	(void)state;
	k = deploy_params_keys(&n);
	assert_int_equal(n, _DEPLOY_KEY_MAX);
	for (size_t i = 0; i < n; i++) {
		assert_false(seen & (UINT64_C(1) << k[i].key));
		seen |= UINT64_C(1) << k[i].key;
		assert_non_null(k[i].section);
		assert_non_null(k[i].syntax);
		assert_non_null(k[i].help);
		if (k[i].strategy)
			assert_non_null(strategy_lookup(k[i].strategy));
	}
}

static const char deployment_file[] = "# web's deployment\n"
                                      "[Deployment]\n"
                                      "Strategy=ring\n"
                                      "MinHealthy=1m\n"
                                      "FailureBudget=5%\n"
                                      "Freeze=Fri 16:00-Mon 08:00\n"
                                      "FreezePolicy=refuse\n"
                                      "PrometheusURL=http://prom:9090\n"
                                      "\n"
                                      "[Ring]\n"
                                      "Datacenters=fra,ams\n"
                                      "RingBake=fra:30m\n"
                                      "RingApproval=ams\n"
                                      "\n"
                                      "[Gate-error-rate]\n"
                                      "Query=sum(rate(errors{app=\"web\"}[5m])) ; not a comment\n"
                                      "Condition=max < 0.01\n"
                                      "NoData=fail\n";

static void
test_deployment_file_loads_through_the_setter(void **state)
{
	struct deploy_params p;
	struct rw_err err = {{0}};

	(void)state;
	deploy_params_init(&p);
	assert_int_equal(deploy_params_load_buffer(
	                         &p, "deploy.ini", deployment_file, strlen(deployment_file), &err),
	        0);
	assert_string_equal(p.strategy, "ring");
	assert_int_equal(p.min_healthy_usec, 60 * USEC_PER_SEC);
	assert_int_equal(p.failure_budget.value, 500);
	assert_int_equal(p.n_freeze, 1);
	assert_string_equal(p.freeze[0].spec, "Fri 16:00-Mon 08:00");
	assert_int_equal(p.freeze_policy, FREEZE_POLICY_REFUSE);
	assert_int_equal(p.n_datacenters, 2);
	assert_int_equal(p.n_gates, 1);
	assert_string_equal(p.gates[0].name, "error-rate");
	assert_string_equal(p.gates[0].query, "sum(rate(errors{app=\"web\"}[5m])) ; not a comment");
	assert_int_equal(p.gates[0].no_data, METRIC_NO_DATA_FAIL);
	assert_int_equal(deploy_params_validate(&p, &err), 0);

	/* Flags after the file override it. */
	set(&p, "RingBake", "fra:1h");
	assert_int_equal(deploy_params_ring_bake(&p, "fra"), 3600 * USEC_PER_SEC);
}

static void
file_fails(const char *text, const char *message)
{
	struct deploy_params p;
	struct rw_err err = {{0}};

	deploy_params_init(&p);
	assert_true(deploy_params_load_buffer(&p, "deploy.ini", text, strlen(text), &err) < 0);
	if (!strstr(err.msg, message))
		fail_msg("error '%s' lacks '%s'", err.msg, message);
}

static void
test_deployment_file_errors_name_file_and_line(void **state)
{
	(void)state;
	file_fails("[Deployment]\nStrategy=ring\nBatch=3\n",
	        "deploy.ini:3: Batch= belongs in [Rolling], not [Deployment]");
	file_fails("[Rolling]\nBatch=0\n",
	        "deploy.ini:2: Batch= takes N hosts or P% (more than 0), got '0'");
	file_fails("[Deploy]\nStrategy=ring\n", "deploy.ini:2: unknown section [Deploy]");
	file_fails("[Deployment]\nStrategie=ring\n",
	        "deploy.ini:2: unknown key 'Strategie' in "
	        "[Deployment]");
	file_fails("[Deployment]\nmax-unavailable=3\n", "unknown key 'max-unavailable'");
	file_fails("[Gate-errors]\nQuery=up\nTimeout=5m\n",
	        "deploy.ini:3: unknown key 'Timeout' in "
	        "[Gate-errors]");
	file_fails("[Gate-errors]\nCondition=~ 3\n", "deploy.ini:2: Gate.errors.Condition= takes");
	file_fails("[Gate-]\nQuery=up\n", "is not Gate.NAME.FIELD");
	file_fails("[Deployment]\nGate.errors.Query=up\n", "unknown key 'Gate.errors.Query'");
	file_fails("Strategy=ring\n", "deploy.ini:1: 'Strategy' outside of any [Section]");
}

/* The example in strategies/README.md is a file that loads. */
static void
test_readme_example_loads(void **state)
{
	_cleanup_free_ char *readme = NULL;
	struct deploy_params p;
	struct rw_err err = {{0}};
	const char *start, *end;
	size_t len;

	(void)state;
	assert_int_equal(read_full_file(ROLLWAVE_SOURCE_DIR "/strategies/README.md", 1 << 20, true,
	                         &readme, &len),
	        0);
	start = strstr(readme, "```ini\n");
	assert_non_null(start);
	start += strlen("```ini\n");
	end = strstr(start, "```");
	assert_non_null(end);
	deploy_params_init(&p);
	if (deploy_params_load_buffer(&p, "README.md", start, (size_t)(end - start), &err) < 0)
		fail_msg("README example: %s", err.msg);
	assert_string_equal(p.strategy, "canary");
	assert_int_equal(p.n_freeze, 2);
	assert_int_equal(p.n_gates, 1);
	assert_string_equal(p.gates[0].name, "error-rate");
	/* It sets keys of several strategies on purpose, so it does not
	 * validate as is. */
	invalid(&p, "applies to Strategy=");
}

/* to_ini, load, to_ini again: the same text, and options that validate. */
static char *
round_trip(const struct deploy_params *p, struct deploy_params *ret)
{
	_cleanup_free_ char *again = NULL;
	struct rw_err err = {{0}};
	char *text = NULL;

	assert_int_equal(deploy_params_to_ini(p, &text), 0);
	deploy_params_init(ret);
	if (deploy_params_load_buffer(ret, "stored", text, strlen(text), &err) < 0)
		fail_msg("%s\n%s", err.msg, text);
	if (deploy_params_validate(ret, &err) < 0)
		fail_msg("%s\n%s", err.msg, text);
	assert_int_equal(deploy_params_to_ini(ret, &again), 0);
	assert_string_equal(again, text);
	return text;
}

static void
test_options_write_back_as_a_file_that_loads(void **state)
{
	struct deploy_params p, q;
	char *text;

	(void)state;
	deploy_params_init(&p);
	text = round_trip(&p, &q);
	assert_string_equal(text,
	        "[Deployment]\n"
	        "Strategy=rolling\n"
	        "MaxUnavailable=100%\n"
	        "Bake=0\n"
	        "Approval=no\n"
	        "MinHealthy=30s\n"
	        "FailureBudget=0\n"
	        "WaveTimeout=30m\n"
	        "RollbackParallelism=100%\n"
	        "FreezePolicy=wait\n"
	        "\n"
	        "[Rolling]\n"
	        "Batch=25%\n");
	free(text);

	set(&p, "Strategy", "canary");
	set(&p, "Canary", "role=canary");
	set(&p, "Steps", "0.5%,12.25%,100%");
	set(&p, "MinHealthy", "1500ms");
	set(&p, "FailureBudget", "2.5%");
	set(&p, "Freeze", "Fri 16:00-Mon 08:00 UTC+01:00");
	set(&p, "Freeze", "2026-12-24..2027-01-02");
	set(&p, "Gate.errors.Query", "sum(rate(e{code=~\"5..\"}[5m]))");
	set(&p, "Gate.errors.Condition", "max < 0.01");
	set(&p, "Gate.errors.URL", "http://prom:9090");
	set(&p, "Gate.up.Query", "up");
	set(&p, "Gate.up.Condition", "== 1");
	set(&p, "Gate.up.MinSamples", "3");
	set(&p, "Gate.up.NoData", "fail");
	set(&p, "Gate.up.OnError", "fail");
	set(&p, "PrometheusURL", "https://p");
	text = round_trip(&p, &q);
	assert_string_equal(q.canary_label, "role=canary");
	assert_int_equal(q.n_steps, 3);
	assert_int_equal(q.steps[1], 1225);
	assert_int_equal(q.min_healthy_usec, 1500 * USEC_PER_MSEC);
	assert_int_equal(q.n_freeze, 2);
	assert_int_equal(q.freeze[0].start, p.freeze[0].start);
	assert_int_equal(q.n_gates, 2);
	assert_string_equal(q.gates[0].query, p.gates[0].query);
	assert_int_equal(q.gates[1].min_samples, 3);
	assert_int_equal(q.gates[1].no_data, METRIC_NO_DATA_FAIL);
	assert_int_equal(q.gates[1].on_error, METRIC_ON_ERROR_FAIL);
	assert_int_equal(q.gates[0].on_error, METRIC_ON_ERROR_HOLD);
	assert_non_null(strstr(text, "\n[Canary]\nCanary=role=canary\nSteps=0.5%,12.25%,100%\n"));
	assert_non_null(strstr(text,
	        "\n[Gate-up]\nQuery=up\nCondition=== 1\nMinSamples=3\n"
	        "NoData=fail\nOnError=fail\n"));
	free(text);

	deploy_params_init(&p);
	set(&p, "Strategy", "ring");
	set(&p, "Datacenters", "fra,ams");
	set(&p, "RingBake", "fra:90m");
	set(&p, "RingApproval", "ams");
	text = round_trip(&p, &q);
	assert_non_null(strstr(text,
	        "[Ring]\nDatacenters=fra,ams\nRingBake=fra:90m\n"
	        "RingApproval=ams\nUnlabeledHosts=error\n"));
	assert_null(strstr(text, "RingLabel="));
	free(text);

	deploy_params_init(&p);
	set(&p, "Strategy", "blue-green");
	set(&p, "TrafficCommand", "lb %c; echo 50%%");
	set(&p, "LiveColor", "blue");
	text = round_trip(&p, &q);
	assert_string_equal(q.traffic_command, "lb %c; echo 50%%");
	assert_string_equal(q.live_color, "blue");
	free(text);
}

/* Garbage in every key: refused with a message or accepted, never a crash
 * (the sanitizer build runs this), and a refusal changes nothing. */
static void
test_garbage_values_never_crash(void **state)
{
	static const char alphabet[] = "0123456789%.,:=- _aAbcMonFriUTC+T\\\"{}<>!~\t";
	const struct deploy_key_info *k;
	uint32_t seed = 12345;
	size_t n;

	(void)state;
	k = deploy_params_keys(&n);
	for (int round = 0; round < 4000; round++) {
		struct deploy_params p, before;
		struct rw_err err = {{0}};
		char value[48];
		const char *key;
		size_t len;

		seed = seed * 1103515245 + 12345;
		len = (seed >> 16) % (sizeof(value) - 1);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			value[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		value[len] = 0;
		key = k[(size_t)round % n].key == DEPLOY_KEY_GATE
		        ? (round % 3 == 0 ? "Gate.g.Condition" : "Gate.g.MinSamples")
		        : k[(size_t)round % n].name;
		deploy_params_init(&p);
		memcpy(&before, &p, sizeof(p));
		if (deploy_params_set(&p, key, value, &err) < 0) {
			assert_true(err.msg[0] != 0);
			assert_memory_equal(&p, &before, sizeof(p));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_are_documented_and_valid),
	        cmocka_unit_test(test_every_key_sets_its_field),
	        cmocka_unit_test(test_keys_match_flag_spellings),
	        cmocka_unit_test(test_bad_values_name_the_key_and_value),
	        cmocka_unit_test(test_lists_overflow_with_a_clear_error),
	        cmocka_unit_test(test_combinations_are_validated),
	        cmocka_unit_test(test_amounts_round_up_and_format_back),
	        cmocka_unit_test(test_durations_format_in_one_exact_unit),
	        cmocka_unit_test(test_key_table_covers_every_key_once),
	        cmocka_unit_test(test_deployment_file_loads_through_the_setter),
	        cmocka_unit_test(test_deployment_file_errors_name_file_and_line),
	        cmocka_unit_test(test_readme_example_loads),
	        cmocka_unit_test(test_options_write_back_as_a_file_that_loads),
	        cmocka_unit_test(test_garbage_values_never_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
