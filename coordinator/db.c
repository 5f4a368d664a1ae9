/*
 * db: the coordinator's SQLite state. See db.h for the tables and the
 * durability rules.
 */
#include "db.h"

#include "rollwave.pb-c.h"
#include "sqldb.h"

#include <inttypes.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

/* Every db_* function below but db_open and db_close takes this lock, so
 * callers never lock around the store; it is recursive because a foreach
 * callback may call back into the store. */
struct db {
	sqlite3 *sql;
	pthread_mutex_t lock;
};

static struct db *
db_lock_(struct db *db)
{
	pthread_mutex_lock(&db->lock);
	return db;
}

static void
db_unlockp(struct db **db)
{
	if (*db)
		pthread_mutex_unlock(&(*db)->lock);
}

#define DB_LOCK(db) _cleanup_(db_unlockp) _unused_ struct db *db_locked_ = db_lock_(db)

static const char *const migrations[] = {
        /* 1: host registry and audit log */
        "CREATE TABLE hosts ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " host_key BLOB NOT NULL UNIQUE CHECK (length(host_key) = 32),"
        " hostname TEXT NOT NULL DEFAULT '',"
        " labels TEXT NOT NULL DEFAULT '{}',"
        " apps TEXT NOT NULL DEFAULT '[]',"
        " agent_version TEXT NOT NULL DEFAULT '',"
        " state TEXT NOT NULL CHECK (state IN ('pending', 'up', 'down', 'revoked')),"
        " enrolled_ms INTEGER NOT NULL,"
        " last_seen_ms INTEGER NOT NULL DEFAULT 0,"
        " last_command_id INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE audit ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " at_ms INTEGER NOT NULL,"
        " actor TEXT NOT NULL,"
        " action TEXT NOT NULL,"
        " target TEXT NOT NULL,"
        " detail TEXT);"
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
        " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
        " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
        "CREATE INDEX audit_at ON audit (at_ms);",
        /* 2: deployments to sets of hosts, one task per host */
        "CREATE TABLE deployments ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " kind TEXT NOT NULL CHECK (kind IN ('deploy', 'rollback')),"
        " app TEXT NOT NULL,"
        " version TEXT NOT NULL,"
        " manifest_url TEXT NOT NULL,"
        " actor TEXT NOT NULL,"
        " created_ms INTEGER NOT NULL);"
        "CREATE TABLE tasks ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " deployment_id INTEGER NOT NULL REFERENCES deployments (id),"
        " host_id INTEGER NOT NULL REFERENCES hosts (id),"
        " command_id INTEGER NOT NULL,"
        " state TEXT NOT NULL,"
        " phase INTEGER NOT NULL DEFAULT 0,"
        " error TEXT NOT NULL DEFAULT '',"
        " updated_ms INTEGER NOT NULL,"
        " UNIQUE (host_id, command_id));"
        "CREATE INDEX tasks_deployment ON tasks (deployment_id);"
        "CREATE INDEX tasks_unfinished ON tasks (state) WHERE state IN ('queued', 'sent');",
        /* 3: deployments through waves: state machine, plan, approvals.
         * Deployments of schema 2 ran all at once and are over. */
        "ALTER TABLE deployments ADD COLUMN state TEXT NOT NULL DEFAULT 'succeeded';"
        "ALTER TABLE deployments ADD COLUMN strategy TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE deployments ADD COLUMN params TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE deployments ADD COLUMN selector TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE deployments ADD COLUMN plan TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE deployments ADD COLUMN wave INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE deployments ADD COLUMN step TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE deployments ADD COLUMN step_since_ms INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE deployments ADD COLUMN reason TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE deployments ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE deployments ADD COLUMN finished_ms INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE deployments ADD COLUMN force INTEGER NOT NULL DEFAULT 0;"
        "CREATE UNIQUE INDEX deployments_one_active ON deployments (app)"
        " WHERE state IN ('pending', 'running', 'paused');"
        "CREATE INDEX deployments_app ON deployments (app, id);"
        "ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE tasks ADD COLUMN wave INTEGER NOT NULL DEFAULT -1;"
        "ALTER TABLE tasks ADD COLUMN activated INTEGER NOT NULL DEFAULT 0;"
        "CREATE TABLE approvals ("
        " deployment_id INTEGER NOT NULL REFERENCES deployments (id),"
        " wave INTEGER NOT NULL,"
        " actor TEXT NOT NULL,"
        " at_ms INTEGER NOT NULL,"
        " PRIMARY KEY (deployment_id, wave));",
        /* 4: each task keeps what it was sent (a restarted coordinator
         * re-sends exactly that), the coordinator's own verdict on a host
         * that failed without saying so (silent, timed out, fell ill in a
         * bake), a pause's start, and the live color of blue-green apps */
        "ALTER TABLE tasks ADD COLUMN version TEXT;"
        "ALTER TABLE tasks ADD COLUMN cancel_command_id INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE tasks ADD COLUMN failed TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE deployments ADD COLUMN paused_ms INTEGER NOT NULL DEFAULT 0;"
        "CREATE TABLE traffic ("
        " app TEXT PRIMARY KEY,"
        " live_color TEXT NOT NULL CHECK (live_color IN ('blue', 'green')),"
        " deployment_id INTEGER NOT NULL,"
        " updated_ms INTEGER NOT NULL);",
        /* 5: what a task's hooks printed, shown for failed hosts */
        "ALTER TABLE tasks ADD COLUMN output TEXT NOT NULL DEFAULT '';",
};

static const char *const host_states[_HOST_STATE_MAX] = {
        [HOST_PENDING] = "pending",
        [HOST_UP] = "up",
        [HOST_DOWN] = "down",
        [HOST_REVOKED] = "revoked",
};

const char *
host_state_to_string(enum host_state s)
{
	return s < _HOST_STATE_MAX ? host_states[s] : "unknown";
}

int
host_state_from_string(const char *s, enum host_state *ret)
{
	for (int i = 0; i < _HOST_STATE_MAX; i++)
		if (streq(s, host_states[i])) {
			*ret = (enum host_state)i;
			return 0;
		}
	return -EINVAL;
}

void
host_row_done(struct host_row *h)
{
	free(h->labels);
	free(h->apps);
	h->labels = h->apps = NULL;
}

static uint64_t
now_ms(void)
{
	return now_realtime_usec() / USEC_PER_MSEC;
}

int
db_open(const char *path, struct db **ret, struct rw_err *err)
{
	pthread_mutexattr_t attr;
	struct db *db;
	int r;

	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&db->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	r = sqldb_open(
	        path, "database", "coordinator", migrations, ELEMENTSOF(migrations), &db->sql, err);
	if (r < 0)
		goto fail;
	*ret = db;
	return 0;
fail:
	db_close(db);
	return r;
}

void
db_close(struct db *db)
{
	if (!db)
		return;
	sqlite3_close_v2(db->sql);
	pthread_mutex_destroy(&db->lock);
	free(db);
}

int
db_begin(struct db *db)
{
	return sqldb_exec(db->sql, "BEGIN IMMEDIATE");
}

int
db_commit(struct db *db)
{
	return sqldb_exec(db->sql, "COMMIT");
}

void
db_rollback(struct db *db)
{
	(void)sqldb_exec(db->sql, "ROLLBACK");
}

#define HOST_COLUMNS                                                                               \
	"id, host_key, hostname, labels, apps, agent_version, state, enrolled_ms, last_seen_ms,"   \
	" last_command_id"

static int
read_host(sqlite3_stmt *st, struct host_row *ret)
{
	struct host_row h = {0};

	h.id = sqlite3_column_int64(st, 0);
	if (sqlite3_column_bytes(st, 1) != 32)
		return -EBADMSG;
	memcpy(h.key, sqlite3_column_blob(st, 1), 32);
	sqldb_copy_text(st, 2, h.hostname, sizeof(h.hostname));
	h.labels = sqldb_dup_text(st, 3);
	h.apps = sqldb_dup_text(st, 4);
	if (!h.labels || !h.apps) {
		host_row_done(&h);
		return -ENOMEM;
	}
	sqldb_copy_text(st, 5, h.agent_version, sizeof(h.agent_version));
	if (host_state_from_string((const char *)sqlite3_column_text(st, 6), &h.state) < 0) {
		host_row_done(&h);
		return -EBADMSG;
	}
	h.enrolled_ms = (uint64_t)sqlite3_column_int64(st, 7);
	h.last_seen_ms = (uint64_t)sqlite3_column_int64(st, 8);
	h.last_command_id = (uint64_t)sqlite3_column_int64(st, 9);
	*ret = h;
	return 0;
}

static int
host_query_one(struct db *db, sqlite3_stmt *st, struct host_row *ret)
{
	int r = sqlite3_step(st);

	if (r == SQLITE_DONE)
		return -ENOENT;
	if (r != SQLITE_ROW)
		return sqldb_errno(db->sql);
	return read_host(st, ret);
}

int
db_host_by_key(struct db *db, const uint8_t key[static 32], struct host_row *ret)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = sqldb_prepare(
	        db->sql, "SELECT " HOST_COLUMNS " FROM hosts WHERE host_key = ?", &st);

	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, key, 32, SQLITE_STATIC);
	return host_query_one(db, st, ret);
}

int
db_host_by_id(struct db *db, int64_t id, struct host_row *ret)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = sqldb_prepare(db->sql, "SELECT " HOST_COLUMNS " FROM hosts WHERE id = ?", &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	return host_query_one(db, st, ret);
}

int
db_host_add_pending(struct db *db, const uint8_t key[static 32], const char *hostname,
        const char *labels_json, const char *agent_version, uint64_t when_ms, int64_t *ret_id)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char target[64];
	int64_t id;
	int r;

	r = db_begin(db);
	if (r < 0)
		return r;
	r = sqldb_prepare(db->sql,
	        "INSERT INTO hosts (host_key, hostname, labels, agent_version, state, enrolled_ms)"
	        " VALUES (?, ?, ?, ?, 'pending', ?)",
	        &st);
	if (r < 0)
		goto fail;
	sqlite3_bind_blob(st, 1, key, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hostname ? hostname : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, labels_json ? labels_json : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, agent_version ? agent_version : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)when_ms);
	r = sqldb_step_done(db->sql, st);
	if (r < 0)
		goto fail;
	id = sqlite3_last_insert_rowid(db->sql);
	snprintf(target, sizeof(target), "host:%" PRId64, id);
	r = db_audit(db, "agent", "host.enrol", target, hostname);
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

/* The state change of one host inside the caller's transaction: 1 if it
 * changed, 0 if it already was in that state, -EPERM if it is revoked. */
static int
host_set_state_in_tx(
        struct db *db, int64_t id, enum host_state state, const char *actor, const char *reason)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct host_row h;
	char target[64], action[32];
	int r;

	r = db_host_by_id(db, id, &h);
	if (r < 0)
		return r;
	host_row_done(&h);
	if (h.state == state)
		return 0;
	if (h.state == HOST_REVOKED)
		return -EPERM;
	r = sqldb_prepare(db->sql, "UPDATE hosts SET state = ? WHERE id = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, host_state_to_string(state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	r = sqldb_step_done(db->sql, st);
	if (r < 0)
		return r;
	snprintf(target, sizeof(target), "host:%" PRId64, id);
	snprintf(action, sizeof(action), "host.%s", host_state_to_string(state));
	r = db_audit(db, actor, action, target, reason);
	return r < 0 ? r : 1;
}

int
db_host_set_state(
        struct db *db, int64_t id, enum host_state state, const char *actor, const char *reason)
{
	DB_LOCK(db);
	int r;

	if (state >= _HOST_STATE_MAX)
		return -EINVAL;
	r = db_begin(db);
	if (r < 0)
		return r;
	r = host_set_state_in_tx(db, id, state, actor, reason);
	if (r < 0) {
		db_rollback(db);
		return r;
	}
	return db_commit(db);
}

int
db_hosts_set_state(struct db *db, const int64_t *ids, size_t n, enum host_state state,
        const char *actor, const char *reason, bool *ret_changed)
{
	DB_LOCK(db);
	int r;

	if (state >= _HOST_STATE_MAX)
		return -EINVAL;
	if (n == 0)
		return 0;
	r = db_begin(db);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = host_set_state_in_tx(db, ids[i], state, actor, reason);
		if (r == -EPERM || r == -ENOENT)
			r = 0;
		if (r < 0) {
			db_rollback(db);
			return r;
		}
		if (ret_changed)
			ret_changed[i] = r > 0;
	}
	return db_commit(db);
}

static int
host_accept_one(struct db *db, int64_t id, const char *actor)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct host_row h;
	char target[64];
	int r;

	r = db_host_by_id(db, id, &h);
	if (r < 0)
		return r;
	host_row_done(&h);
	if (h.state != HOST_PENDING)
		return h.state == HOST_REVOKED ? -EPERM : -EALREADY;
	r = sqldb_prepare(db->sql, "UPDATE hosts SET state = 'down' WHERE id = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	r = sqldb_step_done(db->sql, st);
	if (r < 0)
		return r;
	snprintf(target, sizeof(target), "host:%" PRId64, id);
	return db_audit(db, actor, "host.accept", target, NULL);
}

int
db_hosts_accept(struct db *db, const int64_t *ids, size_t n, const char *actor, int64_t *ret_bad)
{
	DB_LOCK(db);
	int r;

	*ret_bad = 0;
	r = db_begin(db);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (ids[j] == ids[i]) {
				*ret_bad = ids[i];
				db_rollback(db);
				return -EEXIST;
			}
		r = host_accept_one(db, ids[i], actor);
		if (r < 0) {
			*ret_bad = ids[i];
			db_rollback(db);
			return r;
		}
	}
	return db_commit(db);
}

int
db_host_accept(struct db *db, int64_t id, const char *actor)
{
	DB_LOCK(db);
	int64_t bad;

	return db_hosts_accept(db, &id, 1, actor, &bad);
}

int
db_hosts_touch(struct db *db, const struct host_touch *t, size_t n)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	if (n == 0)
		return 0;
	r = db_begin(db);
	if (r < 0)
		return r;
	r = sqldb_prepare(db->sql,
	        "UPDATE hosts SET last_seen_ms = max(last_seen_ms, ?), apps = coalesce(?, apps),"
	        " hostname = coalesce(?, hostname), labels = coalesce(?, labels),"
	        " agent_version = coalesce(?, agent_version) WHERE id = ?",
	        &st);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const char *text[] = {
		        t[i].apps_json, t[i].hostname, t[i].labels_json, t[i].agent_version};

		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)t[i].last_seen_ms);
		for (int k = 0; k < 4; k++)
			if (text[k])
				sqlite3_bind_text(st, 2 + k, text[k], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, t[i].id);
		r = sqldb_step_done(db->sql, st);
		if (r < 0)
			goto fail;
	}
	return db_commit(db);
fail:
	db_rollback(db);
	return r;
}

int
db_host_set_last_command(struct db *db, int64_t id, uint64_t command_id)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(db->sql,
	        "UPDATE hosts SET last_command_id = ? WHERE id = ? AND last_command_id < ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)command_id);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)command_id);
	r = sqldb_step_done(db->sql, st);
	if (r < 0)
		return r;
	/* Command ids only grow: an older or equal id changes nothing. */
	return sqlite3_changes(db->sql) == 1 ? 0 : -ESTALE;
}

int
db_hosts_foreach(struct db *db, int (*cb)(void *userdata, const struct host_row *h), void *userdata)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(db->sql, "SELECT " HOST_COLUMNS " FROM hosts ORDER BY id", &st);
	if (r < 0)
		return r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct host_row h;
		int q = read_host(st, &h);

		if (q < 0)
			return q;
		q = cb(userdata, &h);
		host_row_done(&h);
		if (q < 0)
			return q;
	}
	return r == SQLITE_DONE ? 0 : sqldb_errno(db->sql);
}

int
db_audit(struct db *db, const char *actor, const char *action, const char *target,
        const char *detail)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(db->sql,
	        "INSERT INTO audit (at_ms, actor, action, target, detail)"
	        " VALUES (?, ?, ?, ?, ?)",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ms());
	sqlite3_bind_text(st, 2, actor ? actor : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, target ? target : "", -1, SQLITE_STATIC);
	if (detail)
		sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	return sqldb_step_done(db->sql, st);
}

int
db_audit_foreach(struct db *db, int64_t after_id, uint64_t since_ms, unsigned limit,
        int (*cb)(void *userdata, const struct audit_row *a), void *userdata)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(db->sql,
	        "SELECT id, at_ms, actor, action, target, detail FROM audit"
	        " WHERE id > ? AND at_ms >= ? ORDER BY id LIMIT ?",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)since_ms);
	sqlite3_bind_int64(st, 3, limit);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct audit_row a = {0};
		int q;

		a.id = sqlite3_column_int64(st, 0);
		a.at_ms = (uint64_t)sqlite3_column_int64(st, 1);
		sqldb_copy_text(st, 2, a.actor, sizeof(a.actor));
		sqldb_copy_text(st, 3, a.action, sizeof(a.action));
		sqldb_copy_text(st, 4, a.target, sizeof(a.target));
		a.detail = sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : sqldb_dup_text(st, 5);
		q = cb(userdata, &a);
		free(a.detail);
		if (q < 0)
			return q;
	}
	return r == SQLITE_DONE ? 0 : sqldb_errno(db->sql);
}

void
task_row_done(struct task_row *t)
{
	free(t->error);
	free(t->manifest_url);
	free(t->failed);
	free(t->output);
	t->error = t->manifest_url = t->failed = t->output = NULL;
}

static int tasks_insert(struct db *db, int64_t dep, const struct task_spec *spec, size_t n,
        uint64_t *ret_command_ids);

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
	sqlite3_bind_int64(dep, 6, (sqlite3_int64)now_ms());
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
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now_ms());
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
	        phase != ROLLWAVE__PHASE__PHASE_CANCELLED) {
		_cleanup_stmt_ sqlite3_stmt *act = NULL;

		r = sqldb_prepare(db->sql,
		        "UPDATE tasks SET activated = 1 WHERE host_id = ? AND command_id = ? AND"
		        " kind IN ('', 'deploy')",
		        &act);
		if (r < 0)
			goto fail;
		sqlite3_bind_int64(act, 1, host_id);
		sqlite3_bind_int64(act, 2, (sqlite3_int64)command_id);
		if ((r = sqldb_step_done(db->sql, act)) < 0)
			goto fail;
	}
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

static int
tasks_query(struct db *db, sqlite3_stmt *st, int (*cb)(void *userdata, const struct task_row *t),
        void *userdata, size_t *ret_n)
{
	size_t n = 0;
	int r;

	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct task_row t;
		int q = read_task(st, &t);

		if (q < 0)
			return q;
		q = cb(userdata, &t);
		task_row_done(&t);
		n++;
		if (q < 0)
			return q;
	}
	if (ret_n)
		*ret_n = n;
	return r == SQLITE_DONE ? 0 : sqldb_errno(db->sql);
}

int
db_deployment_foreach_task(struct db *db, int64_t deployment_id,
        int (*cb)(void *userdata, const struct task_row *t), void *userdata)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	size_t n = 0;
	int r;

	r = sqldb_prepare(db->sql,
	        "SELECT " TASK_COLUMNS " FROM tasks t JOIN deployments d ON d.id = t.deployment_id"
	        " WHERE t.deployment_id = ? ORDER BY t.host_id",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, deployment_id);
	r = tasks_query(db, st, cb, userdata, &n);
	if (r < 0)
		return r;
	return n ? 0 : -ENOENT;
}

int
db_tasks_foreach_unfinished(
        struct db *db, int (*cb)(void *userdata, const struct task_row *t), void *userdata)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(db->sql,
	        "SELECT " TASK_COLUMNS " FROM tasks t JOIN deployments d ON d.id = t.deployment_id"
	        " WHERE t.state IN ('queued', 'sent') ORDER BY t.id",
	        &st);
	if (r < 0)
		return r;
	return tasks_query(db, st, cb, userdata, NULL);
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
	uint64_t now = now_ms();
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
	sqlite3_bind_int64(st, 8, (sqlite3_int64)now_ms());
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

int
db_deployments_foreach(struct db *db, const char *app, bool active_only, unsigned limit,
        int (*cb)(void *userdata, const struct deployment_row *d), void *userdata)
{
	DB_LOCK(db);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(db->sql,
	        "SELECT " DEPLOYMENT_COLUMNS " FROM deployments WHERE (?1 IS NULL OR app = ?1)"
	        " AND (?2 = 0 OR state IN ('pending', 'running', 'paused')) ORDER BY id DESC"
	        " LIMIT ?3",
	        &st);
	if (r < 0)
		return r;
	if (app)
		sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_int(st, 2, active_only);
	sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)limit : -1);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct deployment_row d;
		int q = read_deployment(st, &d);

		if (q < 0)
			return q;
		q = cb(userdata, &d);
		deployment_row_done(&d);
		if (q < 0)
			return q;
	}
	return r == SQLITE_DONE ? 0 : sqldb_errno(db->sql);
}

/* Inserts a queued task for each host (its next command id in
 * ret_command_ids), inside the caller's transaction. kind "" and waves NULL
 * (wave -1) for deployments of schema 2. */
static int
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
		sqlite3_bind_int64(task, 4, (sqlite3_int64)now_ms());
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
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now_ms());
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
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now_ms());
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
