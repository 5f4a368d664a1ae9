/*
 * tasks: one row per command sent to a host (table tasks): queued -> sent
 * -> running -> committed | rolled_back | failed, or refused, cancelled.
 * Command ids are per host and strictly increasing.
 */
#include "store_private.h"

#include "rollwave.pb-c.h"

#include <inttypes.h>

void
task_row_done(struct task_row *t)
{
	free(t->error);
	free(t->manifest_url);
	free(t->failed);
	free(t->output);
	t->error = t->manifest_url = t->failed = t->output = NULL;
}

static bool
task_state_is_final(const char *state)
{
	return streq(state, "committed") || streq(state, "rolled_back") || streq(state, "failed") ||
	        streq(state, "refused") || streq(state, "cancelled");
}

int
db_task_update(struct db *db, int64_t host_id, uint64_t command_id, const char *state, int phase,
        const char *error)
{
	DB_LOCK(db);
	return db_task_report(db, host_id, command_id, state, phase, error, NULL);
}

/* Inside the caller's transaction: the deploy task ran as far as
 * activating. */
static int
task_mark_activated(struct db *db, int64_t host_id, uint64_t command_id)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(db->sql,
	        "UPDATE tasks SET activated = 1 WHERE host_id = ? AND command_id = ? AND"
	        " kind IN ('', 'deploy')",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, host_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)command_id);
	return sqldb_step_done(db->sql, st);
}

int
db_task_report(struct db *db, int64_t host_id, uint64_t command_id, const char *state, int phase,
        const char *error, const char *output)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL, *q = NULL;
	int64_t dep;
	int r;

	r = db_begin(db);
	if (r < 0)
		return r;
	r = sqldb_prepare(db->sql,
	        "SELECT deployment_id, state FROM tasks WHERE host_id = ? AND command_id = ?", &q);
	if (r < 0)
		goto fail;
	sqlite3_bind_int64(q, 1, host_id);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)command_id);
	if (sqlite3_step(q) != SQLITE_ROW) {
		r = -ENOENT;
		goto fail;
	}
	dep = sqlite3_column_int64(q, 0);
	if (task_state_is_final((const char *)sqlite3_column_text(q, 1))) {
		/* A late or repeated report never rewrites a finished task. */
		db_rollback(db);
		return 0;
	}
	r = sqldb_prepare(db->sql,
	        "UPDATE tasks SET state = ?, phase = CASE WHEN ? < 0 THEN phase ELSE ? END,"
	        " error = coalesce(?, error), updated_ms = ?, output = coalesce(?, output)"
	        " WHERE host_id = ? AND command_id = ?",
	        &st);
	if (r < 0)
		goto fail;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, phase);
	sqlite3_bind_int(st, 3, phase);
	if (error)
		sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now_realtime_msec());
	if (output)
		sqlite3_bind_text(st, 6, output, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, host_id);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)command_id);
	if ((r = sqldb_step_done(db->sql, st)) < 0)
		goto fail;
	/* A host that got as far as activating runs (or ran) the release: a
	 * coordinated rollback must take it back. */
	if (phase >= ROLLWAVE__PHASE__PHASE_ACTIVATING && phase != ROLLWAVE__PHASE__PHASE_FAILED &&
	        phase != ROLLWAVE__PHASE__PHASE_CANCELLED &&
	        (r = task_mark_activated(db, host_id, command_id)) < 0)
		goto fail;
	if (task_state_is_final(state)) {
		char target[64], action[32];

		snprintf(target, sizeof(target), "host:%" PRId64, host_id);
		snprintf(action, sizeof(action), "task.%s", state);
		if ((r = db_audit(db, "agent", action, target, error)) < 0)
			goto fail;
	}
	(void)dep;
	return db_commit(db);
fail:
	db_rollback(db);
	return r;
}

#define TASK_COLUMNS                                                                               \
	"t.deployment_id, t.host_id, t.command_id, t.state, t.phase, t.error,"                     \
	" coalesce(nullif(t.kind, ''), d.kind), d.app, coalesce(t.version, d.version),"            \
	" d.manifest_url, t.wave, t.activated, t.updated_ms, t.cancel_command_id, t.failed,"       \
	" t.output"

static int
read_task(sqlite3_stmt *st, struct task_row *ret)
{
	struct task_row t = {0};

	t.deployment_id = sqlite3_column_int64(st, 0);
	t.host_id = sqlite3_column_int64(st, 1);
	t.command_id = (uint64_t)sqlite3_column_int64(st, 2);
	sqldb_copy_text(st, 3, t.state, sizeof(t.state));
	t.phase = sqlite3_column_int(st, 4);
	t.error = sqldb_dup_text(st, 5);
	sqldb_copy_text(st, 6, t.kind, sizeof(t.kind));
	sqldb_copy_text(st, 7, t.app, sizeof(t.app));
	sqldb_copy_text(st, 8, t.version, sizeof(t.version));
	t.manifest_url = sqldb_dup_text(st, 9);
	t.wave = sqlite3_column_int(st, 10);
	t.activated = sqlite3_column_int(st, 11) != 0;
	t.updated_ms = (uint64_t)sqlite3_column_int64(st, 12);
	t.cancel_command_id = (uint64_t)sqlite3_column_int64(st, 13);
	t.failed = sqldb_dup_text(st, 14);
	t.output = sqldb_dup_text(st, 15);
	if (!t.error || !t.manifest_url || !t.failed || !t.output) {
		task_row_done(&t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

struct task_walk {
	int64_t deployment_id;
	int (*cb)(void *userdata, const struct task_row *t);
	void *userdata;
};

static int
task_walk_bind(sqlite3_stmt *st, void *userdata)
{
	const struct task_walk *w = userdata;

	sqlite3_bind_int64(st, 1, w->deployment_id);
	return 0;
}

static int
task_walk_row(sqlite3_stmt *st, void *userdata)
{
	struct task_walk *w = userdata;
	struct task_row t;
	int r = read_task(st, &t);

	if (r < 0)
		return r;
	r = w->cb(w->userdata, &t);
	task_row_done(&t);
	return r;
}

int
db_deployment_foreach_task(struct db *db, int64_t deployment_id,
        int (*cb)(void *userdata, const struct task_row *t), void *userdata)
{
	DB_LOCK(db);
	struct task_walk w = {deployment_id, cb, userdata};
	int r = sqldb_foreach(db->sql,
	        "SELECT " TASK_COLUMNS " FROM tasks t JOIN deployments d ON d.id = t.deployment_id"
	        " WHERE t.deployment_id = ? ORDER BY t.host_id",
	        task_walk_bind, task_walk_row, &w);

	if (r < 0)
		return r;
	return r > 0 ? 0 : -ENOENT;
}

int
db_tasks_foreach_unfinished(
        struct db *db, int (*cb)(void *userdata, const struct task_row *t), void *userdata)
{
	DB_LOCK(db);
	struct task_walk w = {0, cb, userdata};
	int r = sqldb_foreach(db->sql,
	        "SELECT " TASK_COLUMNS " FROM tasks t JOIN deployments d ON d.id = t.deployment_id"
	        " WHERE t.state IN ('queued', 'sent') ORDER BY t.id",
	        NULL, task_walk_row, &w);

	return r < 0 ? r : 0;
}

/* kind "" and waves NULL (wave -1) for deployments of schema 2. */
int
tasks_insert(struct db *db, int64_t dep, const struct task_spec *spec, size_t n,
        uint64_t *ret_command_ids)
{
	const int64_t *host_ids = spec->host_ids;
	_cleanup_stmt_ sqlite3_stmt *last = NULL, *bump = NULL, *task = NULL;
	int r;

	if ((r = sqldb_prepare(db->sql, "SELECT last_command_id FROM hosts WHERE id = ?", &last)) <
	                0 ||
	        (r = sqldb_prepare(db->sql, "UPDATE hosts SET last_command_id = ? WHERE id = ?",
	                 &bump)) < 0 ||
	        (r = sqldb_prepare(db->sql,
	                 "INSERT INTO tasks (deployment_id, host_id, command_id, state, updated_ms,"
	                 " kind, wave, version, cancel_command_id)"
	                 " VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
	                 &task)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		uint64_t cid;

		sqlite3_reset(last);
		sqlite3_bind_int64(last, 1, host_ids[i]);
		if (sqlite3_step(last) != SQLITE_ROW)
			return -ENOENT;
		cid = (uint64_t)sqlite3_column_int64(last, 0) + 1;
		sqlite3_reset(bump);
		sqlite3_bind_int64(bump, 1, (sqlite3_int64)cid);
		sqlite3_bind_int64(bump, 2, host_ids[i]);
		if ((r = sqldb_step_done(db->sql, bump)) < 0)
			return r;
		sqlite3_reset(task);
		sqlite3_bind_int64(task, 1, dep);
		sqlite3_bind_int64(task, 2, host_ids[i]);
		sqlite3_bind_int64(task, 3, (sqlite3_int64)cid);
		sqlite3_bind_int64(task, 4, (sqlite3_int64)now_realtime_msec());
		sqlite3_bind_text(task, 5, spec->kind, -1, SQLITE_STATIC);
		sqlite3_bind_int(task, 6, spec->waves ? spec->waves[i] : -1);
		if (spec->versions)
			sqlite3_bind_text(task, 7, spec->versions[i] ? spec->versions[i] : "", -1,
			        SQLITE_STATIC);
		else
			sqlite3_bind_null(task, 7);
		sqlite3_bind_int64(
		        task, 8, (sqlite3_int64)(spec->cancel_ids ? spec->cancel_ids[i] : 0));
		if ((r = sqldb_step_done(db->sql, task)) < 0)
			return r;
		ret_command_ids[i] = cid;
	}
	return 0;
}

int
db_tasks_add(struct db *db, int64_t dep, const struct task_spec *spec, size_t n,
        uint64_t *ret_command_ids)
{
	DB_LOCK(db);
	int r = db_begin(db);

	if (r < 0)
		return r;
	r = tasks_insert(db, dep, spec, n, ret_command_ids);
	if (r < 0) {
		db_rollback(db);
		return r;
	}
	return db_commit(db);
}

int
db_task_add(struct db *db, int64_t dep, int64_t host_id, const char *kind, int wave,
        uint64_t *ret_command_id)
{
	DB_LOCK(db);
	struct task_spec spec = {.host_ids = &host_id, .waves = &wave, .kind = kind};

	return db_tasks_add(db, dep, &spec, 1, ret_command_id);
}

int
db_task_set_failed(struct db *db, int64_t host_id, uint64_t command_id, const char *why)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char target[64];
	int r = db_begin(db);

	if (r < 0)
		return r;
	r = sqldb_prepare(db->sql,
	        "UPDATE tasks SET failed = ? WHERE host_id = ? AND command_id = ? AND failed = ''",
	        &st);
	if (r < 0)
		goto fail;
	sqlite3_bind_text(st, 1, why, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, host_id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)command_id);
	if ((r = sqldb_step_done(db->sql, st)) < 0)
		goto fail;
	if (sqlite3_changes(db->sql) > 0) {
		snprintf(target, sizeof(target), "host:%" PRId64, host_id);
		if ((r = db_audit(db, "coordinator", "task.failed", target, why)) < 0)
			goto fail;
	}
	return db_commit(db);
fail:
	db_rollback(db);
	return r;
}
