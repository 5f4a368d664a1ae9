/*
 * test_coordinator_db: the coordinator's host registry and append-only
 * audit log on a real SQLite file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>

#include "db.h"

static char dir[64], path[128];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/var/tmp/rw-test-cdb.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/state.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return rm_rf_at(AT_FDCWD, dir);
}

static int
count_cb(void *userdata, const struct host_row *h)
{
	(void)h;
	(*(int *)userdata)++;
	return 0;
}

static void
test_new_host_is_pending_and_audited(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	uint8_t key[32];
	struct host_row h;
	struct db *db;
	int64_t id;
	int n = 0;

	memset(key, 7, sizeof(key));
	assert_int_equal(db_open(path, &db, &err), 0);
	assert_int_equal(db_host_by_key(db, key, &h), -ENOENT);
	assert_int_equal(
	        db_host_add_pending(db, key, "web1", "{\"ring\":\"0\"}", "0.1.0", 1000, &id), 0);
	assert_int_equal(db_host_add_pending(db, key, "web1", "{}", "0.1.0", 1000, &id), -EEXIST);
	assert_int_equal(db_host_by_key(db, key, &h), 0);
	assert_int_equal(h.id, id);
	assert_int_equal(h.state, HOST_PENDING);
	assert_string_equal(h.hostname, "web1");
	assert_string_equal(h.labels, "{\"ring\":\"0\"}");
	assert_int_equal(h.enrolled_ms, 1000);
	host_row_done(&h);
	assert_int_equal(db_hosts_foreach(db, count_cb, &n), 0);
	assert_int_equal(n, 1);
	db_close(db);
}

static void
test_state_changes_are_durable_and_revoked_is_final(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	uint8_t key[32];
	struct host_row h;
	struct db *db;
	int64_t id;

	memset(key, 9, sizeof(key));
	assert_int_equal(db_open(path, &db, &err), 0);
	assert_int_equal(db_host_add_pending(db, key, "web2", "{}", "0.1.0", 1, &id), 0);
	assert_int_equal(db_host_accept(db, id, "admin:root"), 0);
	assert_int_equal(db_host_accept(db, id, "admin:root"), -EALREADY);
	assert_int_equal(db_host_set_state(db, id, HOST_UP, "coordinator", "connected"), 0);
	assert_int_equal(
	        db_host_set_state(db, id, HOST_DOWN, "coordinator", "3 heartbeats missed"), 0);
	assert_int_equal(db_host_set_state(db, id, HOST_REVOKED, "admin:root", NULL), 0);
	assert_int_equal(db_host_set_state(db, id, HOST_UP, "admin:root", NULL), -EPERM);
	assert_int_equal(db_host_set_state(db, 4242, HOST_UP, "admin:root", NULL), -ENOENT);
	db_close(db); /* as if the coordinator died here */

	assert_int_equal(db_open(path, &db, &err), 0);
	assert_int_equal(db_host_by_id(db, id, &h), 0);
	assert_int_equal(h.state, HOST_REVOKED);
	host_row_done(&h);
	db_close(db);
}

struct audit_seen {
	char actions[512];
	int n;
};

static int
audit_cb(void *userdata, const struct audit_row *a)
{
	struct audit_seen *s = userdata;

	strcat(s->actions, a->action);
	strcat(s->actions, "/");
	strcat(s->actions, a->actor);
	strcat(s->actions, " ");
	s->n++;
	return 0;
}

static void
test_audit_log_is_append_only(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct audit_seen seen = {"", 0};
	uint8_t key[32];
	struct db *db;
	sqlite3 *raw;
	int64_t id;

	memset(key, 1, sizeof(key));
	assert_int_equal(db_open(path, &db, &err), 0);
	assert_int_equal(db_host_add_pending(db, key, "web3", "{}", "0.1.0", 1, &id), 0);
	assert_int_equal(db_host_set_state(db, id, HOST_UP, "admin:alice", "looks right"), 0);
	assert_int_equal(db_audit(db, "admin:bob", "deploy", "app:web", "1.4.2"), 0);
	assert_int_equal(db_audit_foreach(db, 0, 0, 100, audit_cb, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.actions, "host.enrol/agent host.up/admin:alice deploy/admin:bob ");
	db_close(db);

	/* Even a direct SQL client cannot rewrite history. */
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_not_equal(
	        sqlite3_exec(raw, "UPDATE audit SET actor = 'mallory'", NULL, NULL, NULL),
	        SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
}

/* What fleet_tick() writes for a fleet at once: one transaction for many
 * state changes (revoked and unknown hosts skipped, each change audited)
 * and one for last-seen times and reported facts. */
static void
test_batched_state_changes_and_facts(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct audit_seen seen = {"", 0};
	uint8_t key[32];
	int64_t ids[4];
	bool changed[4];
	struct host_row h;
	struct db *db;

	assert_int_equal(db_open(path, &db, &err), 0);
	for (int i = 0; i < 3; i++) {
		memset(key, 20 + i, sizeof(key));
		assert_int_equal(db_host_add_pending(db, key, "web", "{}", "0.1.0", 1, &ids[i]), 0);
		assert_int_equal(db_host_accept(db, ids[i], "admin:root"), 0);
	}
	ids[3] = 4242;
	assert_int_equal(db_host_set_state(db, ids[1], HOST_UP, "coordinator", "connected"), 0);
	assert_int_equal(db_host_set_state(db, ids[2], HOST_REVOKED, "admin:root", NULL), 0);
	assert_int_equal(
	        db_hosts_set_state(db, ids, 4, HOST_UP, "coordinator", "connected", changed), 0);
	assert_true(changed[0]);
	assert_false(changed[1]); /* already up */
	assert_false(changed[2]); /* revoked stays revoked */
	assert_false(changed[3]); /* no such host */
	assert_int_equal(db_hosts_set_state(db, ids, 0, HOST_UP, "coordinator", NULL, NULL), 0);

	struct host_touch t[] = {
	        {.id = ids[0],
	                .last_seen_ms = 5000,
	                .apps_json = "[{\"app\":\"web\"}]",
	                .hostname = "web-a",
	                .labels_json = "{\"ring\":\"1\"}",
	                .agent_version = "0.2.0"},
	        {.id = ids[1], .last_seen_ms = 6000},
	};
	assert_int_equal(db_hosts_touch(db, t, 2), 0);
	db_close(db);

	assert_int_equal(db_open(path, &db, &err), 0);
	assert_int_equal(db_host_by_id(db, ids[0], &h), 0);
	assert_int_equal(h.state, HOST_UP);
	assert_string_equal(h.hostname, "web-a");
	assert_string_equal(h.labels, "{\"ring\":\"1\"}");
	assert_string_equal(h.agent_version, "0.2.0");
	assert_int_equal(h.last_seen_ms, 5000);
	host_row_done(&h);
	assert_int_equal(db_host_by_id(db, ids[1], &h), 0);
	assert_string_equal(h.hostname, "web"); /* NULL: unchanged */
	assert_string_equal(h.agent_version, "0.1.0");
	assert_int_equal(h.last_seen_ms, 6000);
	host_row_done(&h);
	assert_int_equal(db_host_by_id(db, ids[2], &h), 0);
	assert_int_equal(h.state, HOST_REVOKED);
	host_row_done(&h);
	assert_int_equal(db_audit_foreach(db, 0, 0, 100, audit_cb, &seen), 0);
	/* 3 enrols, 3 accepts, up, revoke, and the batch's one change */
	assert_int_equal(seen.n, 9);
	db_close(db);
}

static void
test_touch_flushes_many_hosts_and_never_goes_back_in_time(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct host_touch t[100];
	struct host_row h;
	struct db *db;
	int64_t ids[100];

	assert_int_equal(db_open(path, &db, &err), 0);
	for (int i = 0; i < 100; i++) {
		uint8_t key[32];

		memset(key, 0, sizeof(key));
		key[0] = (uint8_t)i;
		key[1] = 0xee;
		assert_int_equal(db_host_add_pending(db, key, "h", "{}", "", 1, &ids[i]), 0);
		t[i] = (struct host_touch) {.id = ids[i], .last_seen_ms = 5000 + (uint64_t)i};
	}
	t[3].apps_json = "[{\"app\":\"web\",\"current\":\"1.0\"}]";
	assert_int_equal(db_hosts_touch(db, t, 100), 0);
	t[3].last_seen_ms = 10; /* an older, reordered flush */
	t[3].apps_json = NULL;
	assert_int_equal(db_hosts_touch(db, &t[3], 1), 0);
	assert_int_equal(db_host_by_id(db, ids[3], &h), 0);
	assert_int_equal(h.last_seen_ms, 5003);
	assert_string_equal(h.apps, "[{\"app\":\"web\",\"current\":\"1.0\"}]");
	host_row_done(&h);
	assert_int_equal(db_host_set_last_command(db, ids[3], 5), 0);
	assert_int_equal(db_host_set_last_command(db, ids[3], 5), -ESTALE);
	assert_int_equal(db_host_set_last_command(db, ids[3], 4), -ESTALE);
	db_close(db);
}

struct task_seen {
	char text[512];
};

static int
task_cb(void *userdata, const struct task_row *t)
{
	struct task_seen *s = userdata;
	char line[128];

	snprintf(line, sizeof(line), "%" PRId64 "/%" PRIu64 "/%s/%d/%s ", t->host_id, t->command_id,
	        t->state, t->phase, t->error);
	strcat(s->text, line);
	return 0;
}

static void
test_deployments_give_each_host_increasing_command_ids(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct task_seen seen = {""};
	uint64_t cids[2];
	int64_t ids[2], dep1, dep2;
	struct db *db;

	assert_int_equal(db_open(path, &db, &err), 0);
	for (int i = 0; i < 2; i++) {
		uint8_t key[32];

		memset(key, 0x40 + i, sizeof(key));
		assert_int_equal(db_host_add_pending(db, key, "h", "{}", "", 1, &ids[i]), 0);
	}
	assert_int_equal(db_deployment_create(db, "deploy", "web", "1.0", "http://x/web.manifest",
	                         "admin:root", ids, 2, &dep1, cids),
	        0);
	assert_int_equal(cids[0], 1);
	assert_int_equal(cids[1], 1);
	assert_int_equal(db_deployment_create(db, "rollback", "web", "", NULL, "admin:root", ids, 1,
	                         &dep2, cids),
	        0);
	assert_int_equal(cids[0], 2);
	assert_int_equal(db_tasks_foreach_unfinished(db, task_cb, &seen), 0);
	assert_string_equal(seen.text, "1/1/queued/0/ 2/1/queued/0/ 1/2/queued/0/ ");

	assert_int_equal(db_task_update(db, ids[0], 1, "sent", -1, NULL), 0);
	assert_int_equal(db_task_update(db, ids[0], 1, "running", 6, NULL), 0);
	assert_int_equal(db_task_update(db, ids[0], 1, "rolled_back", 8, "unhealthy"), 0);
	/* A late report never rewrites a finished task. */
	assert_int_equal(db_task_update(db, ids[0], 1, "running", 5, NULL), 0);
	assert_int_equal(db_task_update(db, ids[1], 1, "refused", -1, "busy"), 0);
	assert_int_equal(db_task_update(db, ids[1], 99, "running", -1, NULL), -ENOENT);
	seen.text[0] = 0;
	assert_int_equal(db_deployment_foreach_task(db, dep1, task_cb, &seen), 0);
	assert_string_equal(seen.text, "1/1/rolled_back/8/unhealthy 2/1/refused/0/busy ");
	assert_int_equal(db_deployment_foreach_task(db, 4242, task_cb, &seen), -ENOENT);
	db_close(db);
}

static void
test_newer_schema_is_refused(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct db *db;
	sqlite3 *raw;

	assert_int_equal(db_open(path, &db, &err), 0);
	db_close(db);
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version=77", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(db_open(path, &db, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "schema 77, newer than this coordinator knows"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_new_host_is_pending_and_audited, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_state_changes_are_durable_and_revoked_is_final, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_log_is_append_only, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_batched_state_changes_and_facts, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_touch_flushes_many_hosts_and_never_goes_back_in_time, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_deployments_give_each_host_increasing_command_ids, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
