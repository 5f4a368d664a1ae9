/*
 * test_sqldb: the SQLite helpers both stores share, on an in-memory
 * database: sqldb_foreach() walks every row, stops where its callbacks say,
 * and maps failures to -errno.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sqldb.h"

struct walk {
	int64_t min;
	int64_t seen[8];
	size_t n;
	size_t stop_after; /* 0: never */
	int bind_error;
};

static int
walk_bind(sqlite3_stmt *st, void *userdata)
{
	const struct walk *w = userdata;

	if (w->bind_error)
		return w->bind_error;
	sqlite3_bind_int64(st, 1, w->min);
	return 0;
}

static int
walk_row(sqlite3_stmt *st, void *userdata)
{
	struct walk *w = userdata;

	if (w->n == ELEMENTSOF(w->seen))
		return -E2BIG;
	w->seen[w->n++] = sqlite3_column_int64(st, 0);
	return w->stop_after && w->n == w->stop_after ? -ECANCELED : 0;
}

static int
setup(void **state)
{
	sqlite3 *db;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return -1;
	if (sqldb_exec(db, "CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (3), (1), (2), (5);") <
	        0) {
		sqlite3_close(db);
		return -1;
	}
	*state = db;
	return 0;
}

static int
teardown(void **state)
{
	sqlite3_close(*state);
	return 0;
}

#define SELECT_FROM "SELECT v FROM t WHERE v >= ? ORDER BY v"

static void
test_foreach_walks_every_bound_row_in_order(void **state)
{
	struct walk w = {.min = 2};

	assert_int_equal(sqldb_foreach(*state, SELECT_FROM, walk_bind, walk_row, &w), 3);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.seen[0], 2);
	assert_int_equal(w.seen[1], 3);
	assert_int_equal(w.seen[2], 5);
}

static void
test_foreach_without_bind_or_rows(void **state)
{
	struct walk w = {0};

	assert_int_equal(
	        sqldb_foreach(*state, "SELECT v FROM t ORDER BY v", NULL, walk_row, &w), 4);
	assert_int_equal(w.seen[0], 1);
	w = (struct walk) {.min = 100};
	assert_int_equal(sqldb_foreach(*state, SELECT_FROM, walk_bind, walk_row, &w), 0);
	assert_int_equal(w.n, 0);
}

static void
test_foreach_stops_at_a_negative_row_return(void **state)
{
	struct walk w = {.min = 0, .stop_after = 2};

	assert_int_equal(sqldb_foreach(*state, SELECT_FROM, walk_bind, walk_row, &w), -ECANCELED);
	assert_int_equal(w.n, 2);
	/* The statement was finalized: the connection is free for more. */
	w = (struct walk) {.min = 0};
	assert_int_equal(sqldb_foreach(*state, SELECT_FROM, walk_bind, walk_row, &w), 4);
}

static void
test_foreach_returns_a_bind_error_without_stepping(void **state)
{
	struct walk w = {.bind_error = -EINVAL};

	assert_int_equal(sqldb_foreach(*state, SELECT_FROM, walk_bind, walk_row, &w), -EINVAL);
	assert_int_equal(w.n, 0);
}

static void
test_foreach_maps_sql_errors_to_errno(void **state)
{
	struct walk w = {0};

	assert_int_equal(
	        sqldb_foreach(*state, "SELECT v FROM no_such_table", NULL, walk_row, &w), -EIO);
	/* A step that fails (here: integer overflow of sum()) maps too. */
	assert_int_equal(sqldb_exec(*state, "INSERT INTO t VALUES (9223372036854775807);"), 0);
	assert_true(sqldb_foreach(*state, "SELECT sum(v) FROM t", NULL, walk_row, &w) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_foreach_walks_every_bound_row_in_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_foreach_without_bind_or_rows, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_foreach_stops_at_a_negative_row_return, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_foreach_returns_a_bind_error_without_stepping, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_foreach_maps_sql_errors_to_errno, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
