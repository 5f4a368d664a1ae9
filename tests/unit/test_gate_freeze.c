/*
 * test_gate_freeze: deploy-freeze windows (weekly, daily, date ranges,
 * offsets), their edges to the second, the end of chained freezes, and the
 * wait / refuse policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "freeze.h"

static uint64_t
at(const char *iso)
{
	uint64_t u;

	if (parse_timestamp_utc(iso, &u) < 0)
		fail_msg("bad timestamp %s", iso);
	return u;
}

static struct freeze_window
window(const char *spec)
{
	struct freeze_window w;
	struct rw_err err = {{0}};

	if (freeze_window_parse(spec, &w, &err) < 0)
		fail_msg("'%s' refused: %s", spec, err.msg);
	return w;
}

static void
in(const struct freeze_window *w, const char *iso, bool expected)
{
	if (freeze_window_contains(w, at(iso)) != expected)
		fail_msg("'%s' at %s: expected %s", w->spec, iso, expected ? "frozen" : "open");
}

static void
test_weekly_window_wraps_over_the_weekend(void **state)
{
	struct freeze_window w = window("Fri 16:00-Mon 08:00");

	(void)state;
	assert_int_equal(w.kind, FREEZE_WEEKLY);
	assert_string_equal(w.spec, "Fri 16:00-Mon 08:00");
	/* 2026-11-27 is a Friday, 2026-11-30 a Monday. */
	in(&w, "2026-11-27T15:59:59Z", false);
	in(&w, "2026-11-27T16:00:00Z", true);
	in(&w, "2026-11-28T12:00:00Z", true);
	in(&w, "2026-11-29T23:59:59Z", true);
	in(&w, "2026-11-30T07:59:59Z", true);
	in(&w, "2026-11-30T08:00:00Z", false);
	in(&w, "2026-12-02T12:00:00Z", false);
	in(&w, "2026-12-04T16:00:00Z", true); /* next week */

	/* Not wrapping, any case, any spacing around '-'. */
	w = window("tue 09:30 - TUE 10:00");
	in(&w, "2026-12-01T09:29:59Z", false);
	in(&w, "2026-12-01T09:30:00Z", true);
	in(&w, "2026-12-01T10:00:00Z", false);
	in(&w, "2026-12-08T09:45:00Z", true);

	/* Sunday to Monday across the week's end. */
	w = window("Sun 22:00-Mon 02:00");
	in(&w, "2026-11-29T21:59:59Z", false);
	in(&w, "2026-11-29T22:00:00Z", true);
	in(&w, "2026-11-30T01:59:59Z", true);
	in(&w, "2026-11-30T02:00:00Z", false);
}

static void
test_daily_window_and_offsets(void **state)
{
	struct freeze_window w = window("22:00-06:00");

	(void)state;
	assert_int_equal(w.kind, FREEZE_DAILY);
	in(&w, "2026-11-27T21:59:59Z", false);
	in(&w, "2026-11-27T22:00:00Z", true);
	in(&w, "2026-11-28T05:59:59Z", true);
	in(&w, "2026-11-28T06:00:00Z", false);

	/* Local 16:00 at UTC+02:00 is 14:00 UTC. */
	w = window("Fri 16:00-Mon 08:00 UTC+02:00");
	in(&w, "2026-11-27T13:59:59Z", false);
	in(&w, "2026-11-27T14:00:00Z", true);
	in(&w, "2026-11-30T05:59:59Z", true);
	in(&w, "2026-11-30T06:00:00Z", false);

	/* UTC-05:30: local 00:00-01:00 is 05:30-06:30 UTC. */
	w = window("00:00-01:00 UTC-05:30");
	in(&w, "2026-11-27T05:29:59Z", false);
	in(&w, "2026-11-27T05:30:00Z", true);
	in(&w, "2026-11-27T06:30:00Z", false);

	/* An offset that moves a Monday-morning window into Sunday. */
	w = window("Mon 00:00-Mon 01:00 UTC+03:00");
	in(&w, "2026-11-29T21:00:00Z", true);
	in(&w, "2026-11-29T20:59:59Z", false);
	w = window("Fri 16:00-Mon 08:00 UTC");
	in(&w, "2026-11-27T16:00:00Z", true);
}

static void
test_date_ranges_include_whole_days(void **state)
{
	struct freeze_window w = window("2026-12-24..2027-01-02");

	(void)state;
	assert_int_equal(w.kind, FREEZE_RANGE);
	assert_int_equal(w.start, at("2026-12-24T00:00:00Z"));
	assert_int_equal(w.end, at("2027-01-03T00:00:00Z"));
	in(&w, "2026-12-23T23:59:59Z", false);
	in(&w, "2026-12-24T00:00:00Z", true);
	in(&w, "2027-01-02T23:59:59Z", true);
	in(&w, "2027-01-03T00:00:00Z", false);

	w = window("2026-12-24T18:00..2027-01-02T08:00:30Z");
	in(&w, "2026-12-24T17:59:59Z", false);
	in(&w, "2026-12-24T18:00:00Z", true);
	in(&w, "2027-01-02T08:00:29Z", true);
	in(&w, "2027-01-02T08:00:30Z", false);

	w = window("2028-02-29");
	assert_int_equal(w.start, at("2028-02-29T00:00:00Z"));
	assert_int_equal(w.end, at("2028-03-01T00:00:00Z"));

	w = window("2026-12-25 UTC+01:00");
	assert_int_equal(w.start, at("2026-12-24T23:00:00Z"));
}

static void
test_bad_windows_are_refused(void **state)
{
	static const char *const bad[] = {
	        "",
	        "Fri 16:00-Fri 16:00",
	        "22:00-22:00",
	        "Fry 16:00-Mon 08:00",
	        "Friday 16:00-Mon 08:00",
	        "Fri 16:00-Mon",
	        "Fri 16-Mon 08",
	        "Fri 25:00-Mon 08:00",
	        "Fri 16:60-Mon 08:00",
	        "25:00-06:00",
	        "2026-02-29",
	        "2026-13-01",
	        "2027-01-02..2026-12-24",
	        "2026-12-24..2026-12-24T00:00",
	        "2026-12-24T18:00",
	        "2026-12-24...2026-12-25",
	        "Fri 16:00-Mon 08:00 CET",
	        "Fri 16:00-Mon 08:00 UTC+2",
	        "Fri 16:00-Mon 08:00 UTC+15:00",
	        "Fri 16:00-Mon 08:00 tomorrow",
	};
	struct freeze_window w;
	struct rw_err err = {{0}};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		if (freeze_window_parse(bad[i], &w, &err) >= 0)
			fail_msg("'%s' was accepted", bad[i]);
		assert_non_null(strstr(err.msg, bad[i]));
	}
	assert_int_equal(freeze_window_parse("Fri 16:00-Mon 08:00 CET", &w, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is not a freeze window"));
	assert_int_equal(freeze_window_parse("Fri 16:00-Mon 08:00 UTC+2", &w, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "the zone must be UTC, UTC+HH:MM or UTC-HH:MM"));
}

static void
test_freeze_end_follows_touching_windows(void **state)
{
	struct freeze_window w[3];
	size_t idx;
	uint64_t until;

	(void)state;
	w[0] = window("Fri 16:00-Mon 08:00");
	w[1] = window("2026-12-24..2027-01-02");
	w[2] = window("Mon 08:00-Mon 09:00");
	assert_false(freeze_windows_find(w, 3, at("2026-11-26T12:00:00Z"), &idx, &until));

	/* Weekend then the Monday-morning window right after it. */
	assert_true(freeze_windows_find(w, 3, at("2026-11-28T10:00:00Z"), &idx, &until));
	assert_int_equal(idx, 0);
	assert_int_equal(until, at("2026-11-30T09:00:00Z"));

	/* Holidays end on Sunday 2027-01-03 00:00, inside the weekend window,
	 * which ends Monday 08:00, followed by the 08:00-09:00 window. */
	assert_true(freeze_windows_find(w, 3, at("2026-12-28T12:00:00Z"), &idx, &until));
	assert_int_equal(idx, 1);
	assert_int_equal(until, at("2027-01-04T09:00:00Z"));

	/* A week covered end to end never opens. */
	w[0] = window("Mon 00:00-Thu 00:00");
	w[1] = window("Thu 00:00-Mon 00:00");
	assert_true(freeze_windows_find(w, 2, at("2026-11-28T10:00:00Z"), NULL, &until));
	assert_int_equal(until, UINT64_MAX);
}

static void
test_freeze_gate_waits_or_refuses(void **state)
{
	struct freeze_window w[2];
	struct gate_result r;
	uint64_t sat = at("2026-11-28T10:00:00Z");

	(void)state;
	w[0] = window("Fri 16:00-Mon 08:00");
	w[1] = window("2026-12-24..2027-01-02");
	freeze_gate_evaluate(w, 2, FREEZE_POLICY_WAIT, true, at("2026-11-26T12:00:00Z"), &r);
	assert_int_equal(r.verdict, GATE_PASS);
	assert_int_equal(r.recheck_usec, 0);
	assert_string_equal(r.why, "freeze: pass: outside every freeze window (2)");

	freeze_gate_evaluate(w, 2, FREEZE_POLICY_WAIT, true, sat, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	assert_int_equal(r.recheck_usec, at("2026-11-30T08:00:00Z"));
	assert_string_equal(r.why,
	        "freeze: hold: deploy freeze 'Fri 16:00-Mon 08:00' until "
	        "2026-11-30T08:00:00Z; waiting");

	freeze_gate_evaluate(w, 2, FREEZE_POLICY_REFUSE, true, sat, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_int_equal(r.recheck_usec, 0);
	assert_string_equal(r.why,
	        "freeze: fail: deploy freeze 'Fri 16:00-Mon 08:00' until "
	        "2026-11-30T08:00:00Z; FreezePolicy=refuse refuses new "
	        "deployments");

	/* A running deployment only waits, whatever the policy. */
	freeze_gate_evaluate(w, 2, FREEZE_POLICY_REFUSE, false, sat, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	assert_int_equal(r.recheck_usec, at("2026-11-30T08:00:00Z"));

	freeze_gate_evaluate(w, 0, FREEZE_POLICY_REFUSE, true, sat, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	assert_string_equal(freeze_policy_to_string(FREEZE_POLICY_WAIT), "wait");
	assert_string_equal(freeze_policy_to_string(FREEZE_POLICY_REFUSE), "refuse");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_weekly_window_wraps_over_the_weekend),
	        cmocka_unit_test(test_daily_window_and_offsets),
	        cmocka_unit_test(test_date_ranges_include_whole_days),
	        cmocka_unit_test(test_bad_windows_are_refused),
	        cmocka_unit_test(test_freeze_end_follows_touching_windows),
	        cmocka_unit_test(test_freeze_gate_waits_or_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
