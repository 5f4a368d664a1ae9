/*
 * deployments: deployments (table deployments, schema 2 and through waves),
 * the approvals of their waves (table approvals) and the live color of
 * blue-green apps (table traffic).
 */
#include "store_private.h"

#include <inttypes.h>

int
db_deployment_create(struct db *db, const char *kind, const char *app, const char *version,
        const char *manifest_url, const char *actor, const int64_t *host_ids, size_t n,
        int64_t *ret_id, uint64_t *ret_command_ids)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *dep = NULL;
	char target[64], detail[256];
	int64_t id;
	int r;

	r = db_begin(db);
	if (r < 0)
		return r;
	r = sqldb_prepare(db->sql,
	        "INSERT INTO deployments (kind, app, version, manifest_url, actor, created_ms)"
	        " VALUES (?, ?, ?, ?, ?, ?)",
	        &dep);
	if (r < 0)
		goto fail;
	sqlite3_bind_text(dep, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(dep, 2, app, -1, SQLITE_STATIC);
	sqlite3_bind_text(dep, 3, version ? version : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(dep, 4, manifest_url ? manifest_url : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(dep, 5, actor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(dep, 6, (sqlite3_int64)now_realtime_msec());
	r = sqldb_step_done(db->sql, dep);
	if (r < 0)
		goto fail;
	id = sqlite3_last_insert_rowid(db->sql);
	{
		struct task_spec spec = {.host_ids = host_ids, .kind = ""};

		r = tasks_insert(db, id, &spec, n, ret_command_ids);
	}
	if (r < 0)
		goto fail;
	snprintf(target, sizeof(target), "deployment:%" PRId64, id);
	strbuf_printf(detail, sizeof(detail), "%s %s%s%s to %zu host(s)", kind, app,
	        version && version[0] ? " " : "", version ? version : "", n);
	r = db_audit(db, actor, streq(kind, "deploy") ? "deploy.start" : "rollback.start", target,
	        detail);
	if (r < 0)
		goto fail;
	r = db_commit(db);
	if (r < 0)
		goto fail;
	*ret_id = id;
	return 0;
fail:
	db_rollback(db);
	return r;
}

/* ---- deployments through waves ---- */

/* A deployment sent with --hosts (no plan) never updates its row: its
 * state and end are read from its tasks (running while one is unanswered,
 * then succeeded if every host committed, else failed). */
#define HOSTS_TASKS      "FROM tasks t WHERE t.deployment_id = deployments.id"
#define HOSTS_UNANSWERED "sum(t.state IN ('queued', 'sent', 'running'))"
#define DEPLOYMENT_COLUMNS                                                                         \
	"id, kind, app, version, manifest_url, actor, created_ms, updated_ms,"                     \
	" CASE WHEN plan = '' AND finished_ms = 0 THEN coalesce((SELECT CASE "                     \
	"WHEN " HOSTS_UNANSWERED " > 0 THEN 0 ELSE max(t.updated_ms) END " HOSTS_TASKS "), 0)"     \
	" ELSE finished_ms END,"                                                                   \
	" CASE WHEN plan = '' AND EXISTS (SELECT 1 " HOSTS_TASKS                                   \
	") THEN (SELECT CASE WHEN " HOSTS_UNANSWERED                                               \
	" > 0 THEN 'running' WHEN sum(t.state <> 'committed') > 0 THEN 'failed'"                   \
	" ELSE 'succeeded' END " HOSTS_TASKS ") ELSE state END,"                                   \
	" strategy, params, selector, plan, wave, step, step_since_ms, reason, force, paused_ms"

void
deployment_row_done(struct deployment_row *d)
{
	free(d->manifest_url);
	free(d->params);
	free(d->selector);
	free(d->plan);
	free(d->reason);
	d->manifest_url = d->params = d->selector = d->plan = d->reason = NULL;
}

bool
deployment_state_is_active(const char *state)
{
	return streq(state, "pending") || streq(state, "running") || streq(state, "paused");
}

static int
read_deployment(sqlite3_stmt *st, struct deployment_row *ret)
{
	struct deployment_row d = {0};

	d.id = sqlite3_column_int64(st, 0);
	sqldb_copy_text(st, 1, d.kind, sizeof(d.kind));
	sqldb_copy_text(st, 2, d.app, sizeof(d.app));
	sqldb_copy_text(st, 3, d.version, sizeof(d.version));
	d.manifest_url = sqldb_dup_text(st, 4);
	sqldb_copy_text(st, 5, d.actor, sizeof(d.actor));
	d.created_ms = (uint64_t)sqlite3_column_int64(st, 6);
	d.updated_ms = (uint64_t)sqlite3_column_int64(st, 7);
	d.finished_ms = (uint64_t)sqlite3_column_int64(st, 8);
	sqldb_copy_text(st, 9, d.state, sizeof(d.state));
	sqldb_copy_text(st, 10, d.strategy, sizeof(d.strategy));
	d.params = sqldb_dup_text(st, 11);
	d.selector = sqldb_dup_text(st, 12);
	d.plan = sqldb_dup_text(st, 13);
	d.wave = sqlite3_column_int(st, 14);
	sqldb_copy_text(st, 15, d.step, sizeof(d.step));
	d.step_since_ms = (uint64_t)sqlite3_column_int64(st, 16);
	d.reason = sqldb_dup_text(st, 17);
	d.force = sqlite3_column_int(st, 18) != 0;
	d.paused_ms = (uint64_t)sqlite3_column_int64(st, 19);
	if (!d.manifest_url || !d.params || !d.selector || !d.plan || !d.reason) {
		deployment_row_done(&d);
		return -ENOMEM;
	}
	*ret = d;
	return 0;
}

int
db_deployment_insert(struct db *db, const struct deployment_row *d, int64_t *ret_id)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL, *q = NULL;
	char target[64], detail[512];
	uint64_t now = now_realtime_msec();
	int r;

	r = db_begin(db);
	if (r < 0)
		return r;
	r = sqldb_prepare(db->sql,
	        "SELECT id FROM deployments WHERE app = ? AND state IN ('pending', 'running',"
	        " 'paused')",
	        &q);
	if (r < 0)
		goto fail;
	sqlite3_bind_text(q, 1, d->app, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		*ret_id = sqlite3_column_int64(q, 0);
		r = -EEXIST;
		goto fail;
	}
	r = sqldb_prepare(db->sql,
	        "INSERT INTO deployments (kind, app, version, manifest_url, actor, created_ms,"
	        " updated_ms, state, strategy, params, selector, plan, wave, step, step_since_ms,"
	        " reason, force) VALUES ('deploy', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &st);
	if (r < 0)
		goto fail;
	sqlite3_bind_text(st, 1, d->app, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->manifest_url ? d->manifest_url : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, d->actor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)now);
	sqlite3_bind_text(st, 7, d->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, d->strategy, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, d->params ? d->params : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, d->selector ? d->selector : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, d->plan ? d->plan : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 12, d->wave);
	sqlite3_bind_text(st, 13, d->step, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, (sqlite3_int64)d->step_since_ms);
	sqlite3_bind_text(st, 15, d->reason ? d->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 16, d->force);
	r = sqldb_step_done(db->sql, st);
	if (r < 0)
		goto fail;
	*ret_id = sqlite3_last_insert_rowid(db->sql);
	snprintf(target, sizeof(target), "deployment:%" PRId64, *ret_id);
	strbuf_printf(detail, sizeof(detail), "%s %s, strategy %s%s%s", d->app, d->version,
	        d->strategy, isempty(d->selector) ? "" : ", hosts ",
	        d->selector ? d->selector : "");
	r = db_audit(db, d->actor, "deploy.start", target, detail);
	if (r < 0)
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return r;
}

int
db_deployment_save(struct db *db, const struct deployment_row *d, const char *actor,
        const char *action, const char *detail)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char target[64];
	int r;

	r = db_begin(db);
	if (r < 0)
		return r;
	r = sqldb_prepare(db->sql,
	        "UPDATE deployments SET state = ?, plan = ?, wave = ?, step = ?, step_since_ms = ?,"
	        " reason = ?, finished_ms = ?, updated_ms = ?, paused_ms = ? WHERE id = ?",
	        &st);
	if (r < 0)
		goto fail;
	sqlite3_bind_text(st, 1, d->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->plan ? d->plan : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, d->wave);
	sqlite3_bind_text(st, 4, d->step, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)d->step_since_ms);
	sqlite3_bind_text(st, 6, d->reason ? d->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)d->finished_ms);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)now_realtime_msec());
	sqlite3_bind_int64(st, 9, (sqlite3_int64)d->paused_ms);
	sqlite3_bind_int64(st, 10, d->id);
	r = sqldb_step_done(db->sql, st);
	if (r < 0)
		goto fail;
	if (sqlite3_changes(db->sql) == 0) {
		r = -ENOENT;
		goto fail;
	}
	if (action) {
		snprintf(target, sizeof(target), "deployment:%" PRId64, d->id);
		r = db_audit(db, actor, action, target, detail);
		if (r < 0)
			goto fail;
	}
	return db_commit(db);
fail:
	db_rollback(db);
	return r;
}

static int
deployment_one(
        struct db *db, const char *sql, int64_t id, const char *app, struct deployment_row *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(db->sql, sql, &st);
	if (r < 0)
		return r;
	if (app)
		sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, id);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE)
		return -ENOENT;
	if (r != SQLITE_ROW)
		return sqldb_errno(db->sql);
	return read_deployment(st, ret);
}

int
db_deployment_get(struct db *db, int64_t id, struct deployment_row *ret)
{
	DB_LOCK(db);
	return deployment_one(
	        db, "SELECT " DEPLOYMENT_COLUMNS " FROM deployments WHERE id = ?", id, NULL, ret);
}

int
db_deployment_latest(struct db *db, const char *app, struct deployment_row *ret)
{
	DB_LOCK(db);
	return deployment_one(db,
	        "SELECT " DEPLOYMENT_COLUMNS " FROM deployments WHERE app = ? ORDER BY id DESC"
	        " LIMIT 1",
	        0, app, ret);
}

struct deployment_walk {
	const char *app;
	bool active_only;
	unsigned limit;
	int (*cb)(void *userdata, const struct deployment_row *d);
	void *userdata;
};

static int
deployment_walk_bind(sqlite3_stmt *st, void *userdata)
{
	const struct deployment_walk *w = userdata;

	if (w->app)
		sqlite3_bind_text(st, 1, w->app, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_int(st, 2, w->active_only);
	sqlite3_bind_int64(st, 3, w->limit ? (sqlite3_int64)w->limit : -1);
	return 0;
}

static int
deployment_walk_row(sqlite3_stmt *st, void *userdata)
{
	struct deployment_walk *w = userdata;
	struct deployment_row d;
	int r = read_deployment(st, &d);

	if (r < 0)
		return r;
	r = w->cb(w->userdata, &d);
	deployment_row_done(&d);
	return r;
}

int
db_deployments_foreach(struct db *db, const char *app, bool active_only, unsigned limit,
        int (*cb)(void *userdata, const struct deployment_row *d), void *userdata)
{
	DB_LOCK(db);
	struct deployment_walk w = {app, active_only, limit, cb, userdata};
	int r = sqldb_foreach(db->sql,
	        "SELECT " DEPLOYMENT_COLUMNS " FROM deployments WHERE (?1 IS NULL OR app = ?1)"
	        " AND (?2 = 0 OR state IN ('pending', 'running', 'paused')) ORDER BY id DESC"
	        " LIMIT ?3",
	        deployment_walk_bind, deployment_walk_row, &w);

	return r < 0 ? r : 0;
}

int
db_traffic_set(struct db *db, const char *app, const char *live_color, int64_t deployment_id)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char target[128], detail[96];
	int r = db_begin(db);

	if (r < 0)
		return r;
	r = sqldb_prepare(db->sql,
	        "INSERT INTO traffic (app, live_color, deployment_id, updated_ms) VALUES (?, ?, ?, "
	        "?)"
	        " ON CONFLICT (app) DO UPDATE SET live_color = excluded.live_color,"
	        " deployment_id = excluded.deployment_id, updated_ms = excluded.updated_ms",
	        &st);
	if (r < 0)
		goto fail;
	sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, live_color, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, deployment_id);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now_realtime_msec());
	if ((r = sqldb_step_done(db->sql, st)) < 0)
		goto fail;
	snprintf(target, sizeof(target), "app:%s", app);
	snprintf(detail, sizeof(detail), "%s is live (deployment %" PRId64 ")", live_color,
	        deployment_id);
	if ((r = db_audit(db, "coordinator", "app.live_color", target, detail)) < 0)
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return r;
}

int
db_traffic_get(struct db *db, const char *app, char *ret_color, size_t size, int64_t *ret_dep)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(
	        db->sql, "SELECT live_color, deployment_id FROM traffic WHERE app = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE)
		return -ENOENT;
	if (r != SQLITE_ROW)
		return sqldb_errno(db->sql);
	sqldb_copy_text(st, 0, ret_color, size);
	if (ret_dep)
		*ret_dep = sqlite3_column_int64(st, 1);
	return 0;
}

int
db_approval_add(struct db *db, int64_t dep, int wave, const char *actor)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char target[64], detail[64];
	int r;

	r = db_begin(db);
	if (r < 0)
		return r;
	r = sqldb_prepare(db->sql,
	        "INSERT OR IGNORE INTO approvals (deployment_id, wave, actor, at_ms) VALUES (?, ?, "
	        "?,"
	        " ?)",
	        &st);
	if (r < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, dep);
	sqlite3_bind_int(st, 2, wave);
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now_realtime_msec());
	if ((r = sqldb_step_done(db->sql, st)) < 0)
		goto fail;
	if (sqlite3_changes(db->sql) == 0) {
		r = -EALREADY;
		goto fail;
	}
	snprintf(target, sizeof(target), "deployment:%" PRId64, dep);
	snprintf(detail, sizeof(detail), "wave %d", wave + 1);
	if ((r = db_audit(db, actor, "deploy.approve", target, detail)) < 0)
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return r;
}

int
db_approval_get(
        struct db *db, int64_t dep, int wave, char *ret_actor, size_t size, uint64_t *ret_at_ms)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(db->sql,
	        "SELECT actor, at_ms FROM approvals WHERE deployment_id = ? AND wave = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, dep);
	sqlite3_bind_int(st, 2, wave);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE)
		return -ENOENT;
	if (r != SQLITE_ROW)
		return sqldb_errno(db->sql);
	if (ret_actor)
		sqldb_copy_text(st, 0, ret_actor, size);
	if (ret_at_ms)
		*ret_at_ms = (uint64_t)sqlite3_column_int64(st, 1);
	return 0;
}
