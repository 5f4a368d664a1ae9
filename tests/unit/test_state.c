/*
 * test_state: the agent's SQLite state file: migrations, the rollback-attack
 * record, the in-flight intent journal, history, and persistence across
 * reopen (as after a crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sqlite3.h>

#include "state.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/var/tmp/rw-test-state.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return rm_rf_at(AT_FDCWD, dir);
}

static void
test_highest_accepted_follows_version_order(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct state *s;
	uint8_t h[64], got[64];
	char v[VERSION_MAX + 1];

	memset(h, 0xab, sizeof(h));
	assert_int_equal(state_open(dir, &s, &err), 0);
	assert_int_equal(state_highest_accepted(s, "web", v), 0);
	assert_string_equal(v, "");
	assert_int_equal(state_record_accepted(s, "web", "1.9", h), 0);
	assert_int_equal(state_record_accepted(s, "web", "1.10", h), 0);
	assert_int_equal(state_record_accepted(s, "web", "1.10~rc1", h), 0);
	assert_int_equal(state_record_accepted(s, "api", "9.0", h), 0);
	assert_int_equal(state_highest_accepted(s, "web", v), 0);
	assert_string_equal(v, "1.10");
	assert_int_equal(state_accepted_hash(s, "web", "1.9", got), 0);
	assert_memory_equal(got, h, 64);
	assert_int_equal(state_accepted_hash(s, "web", "2.0", got), -ENOENT);
	/* The first hash recorded for a version stays: content never changes. */
	memset(got, 0x11, sizeof(got));
	assert_int_equal(state_record_accepted(s, "web", "1.9", got), 0);
	assert_int_equal(state_accepted_hash(s, "web", "1.9", got), 0);
	assert_memory_equal(got, h, 64);
	state_close(s);
}

static void
test_inflight_journal_survives_reopen(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct inflight in = {.op = "deploy",
	        .from = "1.0",
	        .to = "2.0",
	        .phase = INFLIGHT_ACTIVATING,
	        .started_usec = 42,
	        .pid = 7};
	struct inflight got;
	struct state *s;

	assert_int_equal(state_open(dir, &s, &err), 0);
	assert_int_equal(state_inflight_get(s, "web", &got), -ENOENT);
	assert_int_equal(state_inflight_set(s, "web", &in), 0);
	in.phase = INFLIGHT_CHECKING;
	assert_int_equal(state_inflight_set(s, "web", &in), 0);
	state_close(s); /* as if the process died here */

	assert_int_equal(state_open(dir, &s, &err), 0);
	assert_int_equal(state_inflight_get(s, "web", &got), 0);
	assert_string_equal(got.op, "deploy");
	assert_string_equal(got.from, "1.0");
	assert_string_equal(got.to, "2.0");
	assert_int_equal(got.phase, INFLIGHT_CHECKING);
	assert_int_equal(got.pid, 7);
	assert_string_equal(inflight_phase_to_string(got.phase), "checking");
	assert_int_equal(state_inflight_clear(s, "web"), 0);
	assert_int_equal(state_inflight_get(s, "web", &got), -ENOENT);
	state_close(s);
}

static int
collect(void *userdata, const struct history_entry *h)
{
	char *buf = userdata;

	strcat(buf, h->to);
	strcat(buf, ",");
	return 0;
}

static void
test_history_lists_newest_first_and_transactions_roll_back(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct history_entry h = {.op = "deploy", .result = "committed"};
	struct app_record rec = {.current = "3", .previous = "2", .health = "healthy"}, got;
	char buf[128] = "";
	struct state *s;

	assert_int_equal(state_open(dir, &s, &err), 0);
	for (int i = 1; i <= 3; i++) {
		snprintf(h.to, sizeof(h.to), "%d", i);
		assert_int_equal(state_history_add(s, "web", &h), 0);
	}
	assert_int_equal(state_history_foreach(s, "web", 2, collect, buf), 0);
	assert_string_equal(buf, "3,2,");

	assert_int_equal(state_begin(s), 0);
	assert_int_equal(state_set_app(s, "web", &rec), 0);
	state_rollback(s);
	assert_int_equal(state_get_app(s, "web", &got), -ENOENT);
	assert_int_equal(state_begin(s), 0);
	assert_int_equal(state_set_app(s, "web", &rec), 0);
	assert_int_equal(state_commit(s), 0);
	assert_int_equal(state_get_app(s, "web", &got), 0);
	assert_string_equal(got.current, "3");
	assert_string_equal(got.previous, "2");
	assert_int_equal(state_set_health(s, "web", "unhealthy"), 0);
	assert_int_equal(state_get_app(s, "web", &got), 0);
	assert_string_equal(got.health, "unhealthy");
	assert_string_equal(got.current, "3");
	state_close(s);
}

static void
test_newer_schema_is_refused(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	char path[128];
	struct state *s;
	sqlite3 *db;

	assert_int_equal(state_open(dir, &s, &err), 0);
	state_close(s);
	snprintf(path, sizeof(path), "%s/state.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(state_open(dir, &s, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "has schema 99, newer than this agent knows"));
}

static void
test_garbage_state_file_is_a_clear_error(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	char path[128];
	struct state *s;
	FILE *f;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not a database, just sixteen+ bytes of text\n", f);
	fclose(f);
	assert_true(state_open(dir, &s, &err) < 0);
	assert_non_null(strstr(err.msg, "state database"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_highest_accepted_follows_version_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_inflight_journal_survives_reopen, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_history_lists_newest_first_and_transactions_roll_back, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_garbage_state_file_is_a_clear_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
