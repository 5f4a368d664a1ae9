/*
 * test_gates: the gates between waves on a fake clock: failure budget
 * (both sides of every boundary), wave health (MinHealthy, silence,
 * WaveTimeout, failures within and beyond the budget), bake and approval.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "gates.h"

#define SEC USEC_PER_SEC
#define T0  ((uint64_t)1795737600 * SEC) /* 2026-11-27T00:00:00Z */

static struct deploy_amount
amount(const char *s)
{
	struct deploy_amount a;

	assert_int_equal(deploy_amount_parse(s, true, &a), 0);
	return a;
}

static void
has(const struct gate_result *r, const char *text)
{
	if (!strstr(r->why, text))
		fail_msg("'%s' lacks '%s'", r->why, text);
}

static void
test_budget_percent_rounds_down_and_breaches_one_past(void **state)
{
	struct deploy_amount ten = amount("10%");
	struct gate_result r;

	(void)state;
	/* 10% of 20 hosts: 2 failures allowed, the 3rd breaches. */
	assert_int_equal(gate_budget_allowed(&ten, 20), 2);
	gate_budget_evaluate(&ten, 20, 2, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	assert_string_equal(r.why,
	        "failure budget pass: 2 failed hosts within FailureBudget=10% of "
	        "20 hosts (2 allowed)");
	gate_budget_evaluate(&ten, 20, 3, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_string_equal(r.why,
	        "failure budget fail: 3 failed hosts breach FailureBudget=10% of "
	        "20 hosts (2 allowed)");

	/* 2.5 rounds down to 2; 0.5 to 0; 19.99 to 19. */
	assert_int_equal(gate_budget_allowed(&ten, 25), 2);
	gate_budget_evaluate(&ten, 25, 3, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_int_equal(gate_budget_allowed(&ten, 5), 0);
	gate_budget_evaluate(&ten, 5, 1, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	gate_budget_evaluate(&ten, 5, 0, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	assert_int_equal(gate_budget_allowed(&ten, 199), 19);
	assert_int_equal(gate_budget_allowed(&ten, 200), 20);

	struct deploy_amount odd = amount("12.5%");
	assert_int_equal(gate_budget_allowed(&odd, 8), 1);
	assert_int_equal(gate_budget_allowed(&odd, 15), 1);
	assert_int_equal(gate_budget_allowed(&odd, 16), 2);
	struct deploy_amount all = amount("100%");
	assert_int_equal(gate_budget_allowed(&all, 7), 7);
	struct deploy_amount none = amount("0%");
	assert_int_equal(gate_budget_allowed(&none, 1000), 0);
}

static void
test_budget_count(void **state)
{
	struct deploy_amount two = amount("2"), zero = amount("0");
	struct gate_result r;

	(void)state;
	assert_int_equal(gate_budget_allowed(&two, 100), 2);
	assert_int_equal(gate_budget_allowed(&two, 1), 2);
	gate_budget_evaluate(&two, 100, 2, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	gate_budget_evaluate(&two, 100, 3, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_string_equal(r.why, "failure budget fail: 3 failed hosts breach FailureBudget=2");
	/* The default: the first failure breaches. */
	gate_budget_evaluate(&zero, 100, 0, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	gate_budget_evaluate(&zero, 100, 1, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_string_equal(r.why, "failure budget fail: 1 failed host breaches FailureBudget=0");
}

/* A wave of three hosts started at T0, MinHealthy 30s, WaveTimeout 10m,
 * silence after 60s, budget 0 over 10 hosts. */
static struct wave_health_input
wave(struct wave_host_status *h, size_t n)
{
	return (struct wave_health_input) {
	        .hosts = h,
	        .n_hosts = n,
	        .started_usec = T0,
	        .timeout_usec = 600 * SEC,
	        .min_healthy_usec = 30 * SEC,
	        .silence_usec = 60 * SEC,
	        .budget = amount("0"),
	        .deployment_hosts = 10,
	};
}

static void
hosts_committed(struct wave_host_status *h, size_t n, uint64_t healthy_since, uint64_t seen)
{
	static const char *const names[] = {"web01", "web02", "web03", "web04"};

	for (size_t i = 0; i < n; i++)
		h[i] = (struct wave_host_status) {
		        .id = (int64_t)i + 1,
		        .name = names[i],
		        .state = WAVE_HOST_COMMITTED,
		        .healthy = true,
		        .healthy_since_usec = healthy_since,
		        .last_seen_usec = seen,
		};
}

static void
test_wave_passes_when_every_host_is_healthy_for_min_healthy(void **state)
{
	struct wave_host_status h[3];
	struct wave_health_input in;
	enum gate_verdict each[3];
	struct gate_result r;
	uint64_t now = T0 + 100 * SEC;

	(void)state;
	hosts_committed(h, 3, T0 + 70 * SEC, now);
	in = wave(h, 3);
	/* Healthy for exactly 30s: passes. */
	gate_wave_health_evaluate(&in, now, each, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	assert_int_equal(r.recheck_usec, 0);
	assert_string_equal(r.why, "wave health pass: 3 of 3 hosts healthy for 30s");
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(each[i], GATE_PASS);

	/* One microsecond short for web02: hold until it has its 30s. */
	h[1].healthy_since_usec = T0 + 70 * SEC + 1;
	gate_wave_health_evaluate(&in, now, each, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	assert_int_equal(r.recheck_usec, T0 + 100 * SEC + 1);
	assert_int_equal(each[0], GATE_PASS);
	assert_int_equal(each[1], GATE_HOLD);
	has(&r, "wave health hold: 1 of 3 hosts waiting: web02 (healthy for 29s of 30s)");

	/* Still deploying, or committed but unhealthy: hold, until the
	 * timeout at the latest. */
	h[1] = (struct wave_host_status) {2, "web02", WAVE_HOST_PENDING, false, 0, now};
	h[2].healthy = false;
	gate_wave_health_evaluate(&in, now, NULL, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	has(&r, "2 of 3 hosts waiting: web02 (deploying), web03 (committed, unhealthy)");
	/* The earliest change is web02 falling silent 60s after its report. */
	assert_int_equal(r.recheck_usec, now + 60 * SEC);
}

static void
test_a_silent_host_fails_after_its_deadline(void **state)
{
	struct wave_host_status h[2];
	struct wave_health_input in;
	enum gate_verdict each[2];
	struct gate_result r;
	uint64_t now = T0 + 300 * SEC;

	(void)state;
	hosts_committed(h, 2, T0 + 10 * SEC, now);
	in = wave(h, 2);
	h[1].last_seen_usec = now - 60 * SEC + 1; /* 1us before its deadline */
	gate_wave_health_evaluate(&in, now, each, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	h[1].last_seen_usec = now - 60 * SEC; /* at its deadline */
	gate_wave_health_evaluate(&in, now, each, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_int_equal(each[0], GATE_PASS);
	assert_int_equal(each[1], GATE_FAIL);
	assert_string_equal(r.why,
	        "wave health fail: 1 failed host breaches FailureBudget=0: web02 "
	        "(silent for 1m)");

	/* Never heard from: the clock starts with the wave. */
	h[1].last_seen_usec = 0;
	h[1].state = WAVE_HOST_PENDING;
	gate_wave_health_evaluate(&in, T0 + 59 * SEC, each, &r);
	assert_int_equal(each[1], GATE_HOLD);
	gate_wave_health_evaluate(&in, T0 + 60 * SEC, each, &r);
	assert_int_equal(each[1], GATE_FAIL);

	/* silence_usec 0 turns the check off. */
	in.silence_usec = 0;
	gate_wave_health_evaluate(&in, T0 + 300 * SEC, each, &r);
	assert_int_equal(each[1], GATE_HOLD);
	assert_int_equal(r.recheck_usec, T0 + 600 * SEC);
}

static void
test_a_host_not_healthy_at_wave_timeout_fails(void **state)
{
	struct wave_host_status h[3];
	struct wave_health_input in;
	enum gate_verdict each[3];
	struct gate_result r;
	uint64_t deadline = T0 + 600 * SEC;

	(void)state;
	in = wave(h, 3);
	in.silence_usec = 0;
	hosts_committed(h, 3, deadline - 10 * SEC, deadline);
	h[0].healthy_since_usec = T0;
	h[1].state = WAVE_HOST_PENDING;
	h[2].healthy = false;
	gate_wave_health_evaluate(&in, deadline - 1, each, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	assert_int_equal(r.recheck_usec, deadline);
	gate_wave_health_evaluate(&in, deadline, each, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_int_equal(each[0], GATE_PASS);
	assert_int_equal(each[1], GATE_FAIL);
	assert_int_equal(each[2], GATE_FAIL);
	has(&r,
	        "2 failed hosts breach FailureBudget=0: web02 (not committed at WaveTimeout=10m), "
	        "web03 (unhealthy at WaveTimeout=10m)");

	h[2].healthy = true; /* healthy, but only for 10s */
	gate_wave_health_evaluate(&in, deadline, each, &r);
	has(&r, "web03 (not healthy long enough at WaveTimeout=10m)");

	/* A deadline past the end of time does not wrap around. */
	in.timeout_usec = UINT64_MAX;
	gate_wave_health_evaluate(&in, deadline, each, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	assert_int_equal(r.recheck_usec, h[2].healthy_since_usec + 30 * SEC);
}

static void
test_failures_within_the_budget_let_the_wave_pass(void **state)
{
	struct wave_host_status h[4];
	struct wave_health_input in;
	struct gate_result r;
	uint64_t now = T0 + 120 * SEC;

	(void)state;
	hosts_committed(h, 4, T0, now);
	h[2].state = WAVE_HOST_FAILED;
	in = wave(h, 4);
	in.budget = amount("10%");
	in.deployment_hosts = 20; /* 2 allowed */
	gate_wave_health_evaluate(&in, now, NULL, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	assert_string_equal(r.why,
	        "wave health pass: 3 of 4 hosts healthy for 30s; 1 failed within "
	        "FailureBudget=10% of 20 hosts (2 allowed), 1 of 2 used: web03 "
	        "(failed)");

	/* One failure in an earlier wave: 2 of 2 used, still a pass. */
	in.failed_before = 1;
	gate_wave_health_evaluate(&in, now, NULL, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	has(&r, "2 of 2 used");

	/* Two earlier: the third breaches, even while others still wait. */
	in.failed_before = 2;
	h[0].state = WAVE_HOST_PENDING;
	gate_wave_health_evaluate(&in, now, NULL, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_string_equal(r.why,
	        "wave health fail: 3 failed hosts (2 in earlier waves) breach "
	        "FailureBudget=10% of 20 hosts (2 allowed): web03 (failed)");

	/* Within budget but others waiting: hold, and say both. */
	in.failed_before = 0;
	gate_wave_health_evaluate(&in, now, NULL, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	has(&r, "1 of 4 hosts waiting: web01 (deploying); 1 failed within");
}

static void
test_long_host_lists_are_cut_visibly(void **state)
{
	static struct wave_host_status h[200];
	struct wave_health_input in;
	struct gate_result r;

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(h); i++)
		h[i] = (struct wave_host_status) {(int64_t)i, "a-rather-long-host-name.example.com",
		        WAVE_HOST_FAILED, false, 0, T0};
	in = wave(h, ELEMENTSOF(h));
	gate_wave_health_evaluate(&in, T0 + SEC, NULL, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_int_equal(strlen(r.why), sizeof(r.why) - 1);
	assert_string_equal(r.why + strlen(r.why) - 3, "...");
}

static void
test_bake_holds_until_its_end(void **state)
{
	struct gate_result r;

	(void)state;
	gate_bake_evaluate(T0, 600 * SEC, T0 + 240 * SEC, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	assert_int_equal(r.recheck_usec, T0 + 600 * SEC);
	assert_string_equal(r.why, "bake hold: 4m of 10m baked, 6m to go");
	gate_bake_evaluate(T0, 600 * SEC, T0 + 600 * SEC - 1, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	gate_bake_evaluate(T0, 600 * SEC, T0 + 600 * SEC, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	assert_int_equal(r.recheck_usec, 0);
	assert_string_equal(r.why, "bake pass: baked 10m");
	gate_bake_evaluate(T0, 0, T0, &r);
	assert_int_equal(r.verdict, GATE_PASS);
}

static void
test_approval_holds_until_someone_approves(void **state)
{
	struct gate_approval a = {"alice", T0 + 3600 * SEC};
	struct gate_result r;

	(void)state;
	gate_approval_evaluate(false, "ring 1", NULL, T0, T0, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	assert_string_equal(r.why, "approval pass: 'ring 1' needs none");
	gate_approval_evaluate(true, "ring 1", NULL, T0, T0 + 720 * SEC, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	assert_int_equal(r.recheck_usec, 0);
	assert_string_equal(r.why, "approval hold: waiting 12m for approval of 'ring 1'");
	gate_approval_evaluate(true, "ring 1", &a, T0, T0 + 3700 * SEC, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	assert_string_equal(r.why,
	        "approval pass: 'ring 1' approved by alice at "
	        "2026-11-27T01:00:00Z");
}

static void
test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(gate_verdict_to_string(GATE_PASS), "pass");
	assert_string_equal(gate_verdict_to_string(GATE_HOLD), "hold");
	assert_string_equal(gate_verdict_to_string(GATE_FAIL), "fail");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_budget_percent_rounds_down_and_breaches_one_past),
	        cmocka_unit_test(test_budget_count),
	        cmocka_unit_test(test_wave_passes_when_every_host_is_healthy_for_min_healthy),
	        cmocka_unit_test(test_a_silent_host_fails_after_its_deadline),
	        cmocka_unit_test(test_a_host_not_healthy_at_wave_timeout_fails),
	        cmocka_unit_test(test_failures_within_the_budget_let_the_wave_pass),
	        cmocka_unit_test(test_long_host_lists_are_cut_visibly),
	        cmocka_unit_test(test_bake_holds_until_its_end),
	        cmocka_unit_test(test_approval_holds_until_someone_approves),
	        cmocka_unit_test(test_verdict_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
