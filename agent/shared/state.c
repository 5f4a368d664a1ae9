/*
 * state: the agent's SQLite state file. See state.h.
 *
 * Schema (user_version 1):
 *   accepted(app, version, blake2b, accepted_usec)  PK(app, version)
 *   apps(app PK, current, previous, health, health_usec)
 *   inflight(app PK, op, from_version, to_version, phase, started_usec, pid)
 *   history(id PK, app, op, from_version, to_version, result, message,
 *           started_usec, finished_usec)
 *
 * Schema 2 adds the coordinator link's memory:
 *   link_state(key PK, value)            "highest_command_id": the replay guard
 *   pending_reports(command_id PK, app, version, phase, elapsed_ms, error,
 *                   created_usec)        final results not yet delivered
 *
 * Schema 3 keeps the rest of a final report:
 *   pending_reports + hook_output, hook_absent
 */
#include "state.h"

#include "sqldb.h"

#include <limits.h>
#include <sys/stat.h>

struct state {
	sqlite3 *db;
};

static const char *const migrations[] = {
        /* 1 */
        "CREATE TABLE accepted (app TEXT NOT NULL, version TEXT NOT NULL,"
        " blake2b BLOB NOT NULL, accepted_usec INTEGER NOT NULL,"
        " PRIMARY KEY (app, version));"
        "CREATE TABLE apps (app TEXT PRIMARY KEY, current TEXT NOT NULL DEFAULT '',"
        " previous TEXT NOT NULL DEFAULT '', health TEXT NOT NULL DEFAULT 'unknown',"
        " health_usec INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE inflight (app TEXT PRIMARY KEY, op TEXT NOT NULL,"
        " from_version TEXT NOT NULL, to_version TEXT NOT NULL, phase INTEGER NOT NULL,"
        " started_usec INTEGER NOT NULL, pid INTEGER NOT NULL);"
        "CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL,"
        " op TEXT NOT NULL, from_version TEXT NOT NULL, to_version TEXT NOT NULL,"
        " result TEXT NOT NULL, message TEXT NOT NULL, started_usec INTEGER NOT NULL,"
        " finished_usec INTEGER NOT NULL);"
        "CREATE INDEX history_app ON history (app, id);",
        /* 2 */
        "CREATE TABLE link_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "CREATE TABLE pending_reports (command_id INTEGER PRIMARY KEY, app TEXT NOT NULL,"
        " version TEXT NOT NULL, phase INTEGER NOT NULL, elapsed_ms INTEGER NOT NULL,"
        " error TEXT NOT NULL, created_usec INTEGER NOT NULL);",
        /* 3 (parenthesised: one element made of two literals, on purpose) */
        ("ALTER TABLE pending_reports ADD COLUMN hook_output TEXT NOT NULL DEFAULT '';"
         "ALTER TABLE pending_reports ADD COLUMN hook_absent INTEGER NOT NULL DEFAULT 0;"),
        /* 4 */
        "ALTER TABLE pending_reports ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0;",
};

int
state_open(const char *state_dir, struct state **ret, struct rw_err *err)
{
	char path[PATH_MAX];
	struct state *s;
	int r;

	r = mkdir_p(state_dir, 0700);
	if (r < 0)
		return rw_err_set(
		        err, r, "cannot create state directory %s: %s", state_dir, strerror(-r));
	r = xsnprintf(path, sizeof(path), "%s/state.db", state_dir);
	if (r < 0)
		return rw_err_set(err, r, "state directory path too long");
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = sqldb_open(
	        path, "state database", "agent", migrations, ELEMENTSOF(migrations), &s->db, err);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	state_close(s);
	return r;
}

void
state_close(struct state *s)
{
	if (!s)
		return;
	sqlite3_close_v2(s->db);
	free(s);
}

int
state_begin(struct state *s)
{
	return sqldb_exec(s->db, "BEGIN IMMEDIATE");
}

int
state_commit(struct state *s)
{
	return sqldb_exec(s->db, "COMMIT");
}

void
state_rollback(struct state *s)
{
	(void)sqldb_exec(s->db, "ROLLBACK");
}

struct highest_walk {
	const char *app;
	char best[VERSION_MAX + 1];
};

static int
highest_bind(sqlite3_stmt *st, void *userdata)
{
	const struct highest_walk *w = userdata;

	sqlite3_bind_text(st, 1, w->app, -1, SQLITE_STATIC);
	return 0;
}

static int
highest_row(sqlite3_stmt *st, void *userdata)
{
	struct highest_walk *w = userdata;
	char v[VERSION_MAX + 1];

	sqldb_copy_text(st, 0, v, sizeof(v));
	if (version_is_valid(v) && (!w->best[0] || version_compare(v, w->best) > 0))
		strcpy(w->best, v);
	return 0;
}

/* Walks all accepted versions: SQL cannot order by our version rules. */
int
state_highest_accepted(struct state *s, const char *app, char ret[static VERSION_MAX + 1])
{
	struct highest_walk w = {.app = app};
	int r = sqldb_foreach(
	        s->db, "SELECT version FROM accepted WHERE app = ?", highest_bind, highest_row, &w);

	if (r < 0)
		return r;
	strcpy(ret, w.best);
	return 0;
}

int
state_accepted_hash(struct state *s, const char *app, const char *version, uint8_t ret[64])
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(s->db, "SELECT blake2b FROM accepted WHERE app = ? AND version = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE)
		return -ENOENT;
	if (r != SQLITE_ROW)
		return sqldb_errno(s->db);
	if (sqlite3_column_bytes(st, 0) != 64)
		return -EBADMSG;
	memcpy(ret, sqlite3_column_blob(st, 0), 64);
	return 0;
}

int
state_record_accepted(struct state *s, const char *app, const char *version, const uint8_t hash[64])
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(s->db,
	        "INSERT INTO accepted (app, version, blake2b, accepted_usec) VALUES (?, ?, ?, ?)"
	        " ON CONFLICT (app, version) DO NOTHING",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, hash, 64, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now_realtime_usec());
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sqldb_errno(s->db);
}

int
state_get_app(struct state *s, const char *app, struct app_record *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct app_record a = {0};
	int r;

	r = sqldb_prepare(s->db,
	        "SELECT current, previous, health, health_usec FROM apps WHERE app = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE)
		return -ENOENT;
	if (r != SQLITE_ROW)
		return sqldb_errno(s->db);
	sqldb_copy_text(st, 0, a.current, sizeof(a.current));
	sqldb_copy_text(st, 1, a.previous, sizeof(a.previous));
	sqldb_copy_text(st, 2, a.health, sizeof(a.health));
	a.health_usec = (uint64_t)sqlite3_column_int64(st, 3);
	*ret = a;
	return 0;
}

int
state_set_app(struct state *s, const char *app, const struct app_record *a)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(s->db,
	        "INSERT INTO apps (app, current, previous, health, health_usec)"
	        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (app) DO UPDATE SET"
	        " current = excluded.current, previous = excluded.previous,"
	        " health = excluded.health, health_usec = excluded.health_usec",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->current, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->previous, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a->health[0] ? a->health : "unknown", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)a->health_usec);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sqldb_errno(s->db);
}

int
state_set_health(struct state *s, const char *app, const char *health)
{
	struct app_record a = {0};
	int r;

	r = state_get_app(s, app, &a);
	if (r < 0 && r != -ENOENT)
		return r;
	snprintf(a.health, sizeof(a.health), "%s", health);
	a.health_usec = now_realtime_usec();
	return state_set_app(s, app, &a);
}

int
state_set_health_of(struct state *s, const char *app, const char *version, const char *health)
{
	struct app_record a = {0};
	int r;

	r = state_get_app(s, app, &a);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!streq(a.current, version) || streq(a.health, health))
		return 0;
	snprintf(a.health, sizeof(a.health), "%s", health);
	a.health_usec = now_realtime_usec();
	r = state_set_app(s, app, &a);
	return r < 0 ? r : 1;
}

int
state_inflight_get(struct state *s, const char *app, struct inflight *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct inflight in = {0};
	int r, phase;

	r = sqldb_prepare(s->db,
	        "SELECT op, from_version, to_version, phase, started_usec, pid FROM inflight"
	        " WHERE app = ?",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE)
		return -ENOENT;
	if (r != SQLITE_ROW)
		return sqldb_errno(s->db);
	sqldb_copy_text(st, 0, in.op, sizeof(in.op));
	sqldb_copy_text(st, 1, in.from, sizeof(in.from));
	sqldb_copy_text(st, 2, in.to, sizeof(in.to));
	phase = sqlite3_column_int(st, 3);
	if (phase < INFLIGHT_STAGING || phase > INFLIGHT_ROLLING_BACK)
		return -EBADMSG;
	in.phase = (enum inflight_phase)phase;
	in.started_usec = (uint64_t)sqlite3_column_int64(st, 4);
	in.pid = sqlite3_column_int64(st, 5);
	*ret = in;
	return 0;
}

int
state_inflight_set(struct state *s, const char *app, const struct inflight *in)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(s->db,
	        "INSERT INTO inflight (app, op, from_version, to_version, phase, started_usec, pid)"
	        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app) DO UPDATE SET op = excluded.op,"
	        " from_version = excluded.from_version, to_version = excluded.to_version,"
	        " phase = excluded.phase, started_usec = excluded.started_usec,"
	        " pid = excluded.pid",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, in->op, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, in->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, in->to, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, (int)in->phase);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)in->started_usec);
	sqlite3_bind_int64(st, 7, in->pid);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sqldb_errno(s->db);
}

int
state_inflight_clear(struct state *s, const char *app)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(s->db, "DELETE FROM inflight WHERE app = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sqldb_errno(s->db);
}

int
state_history_add(struct state *s, const char *app, const struct history_entry *h)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(s->db,
	        "INSERT INTO history (app, op, from_version, to_version, result, message,"
	        " started_usec, finished_usec) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, h->op, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, h->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, h->to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, h->result, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, h->message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)h->started_usec);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)h->finished_usec);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sqldb_errno(s->db);
}

struct history_walk {
	const char *app;
	unsigned limit;
	int (*cb)(void *userdata, const struct history_entry *h);
	void *userdata;
};

static int
history_bind(sqlite3_stmt *st, void *userdata)
{
	const struct history_walk *w = userdata;

	if (w->app)
		sqlite3_bind_text(st, 1, w->app, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_int64(st, 2, w->limit);
	return 0;
}

static int
history_row(sqlite3_stmt *st, void *userdata)
{
	struct history_walk *w = userdata;
	struct history_entry h = {0};

	h.id = sqlite3_column_int64(st, 0);
	sqldb_copy_text(st, 1, h.app, sizeof(h.app));
	sqldb_copy_text(st, 2, h.op, sizeof(h.op));
	sqldb_copy_text(st, 3, h.from, sizeof(h.from));
	sqldb_copy_text(st, 4, h.to, sizeof(h.to));
	sqldb_copy_text(st, 5, h.result, sizeof(h.result));
	sqldb_copy_text(st, 6, h.message, sizeof(h.message));
	h.started_usec = (uint64_t)sqlite3_column_int64(st, 7);
	h.finished_usec = (uint64_t)sqlite3_column_int64(st, 8);
	return w->cb(w->userdata, &h);
}

int
state_history_foreach(struct state *s, const char *app, unsigned limit,
        int (*cb)(void *userdata, const struct history_entry *h), void *userdata)
{
	struct history_walk w = {app, limit, cb, userdata};
	int r = sqldb_foreach(s->db,
	        "SELECT id, app, op, from_version, to_version, result, message, started_usec,"
	        " finished_usec FROM history WHERE (?1 IS NULL OR app = ?1)"
	        " ORDER BY id DESC LIMIT ?2",
	        history_bind, history_row, &w);

	return r < 0 ? r : 0;
}

int
state_command_id_get(struct state *s, uint64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(
	        s->db, "SELECT value FROM link_state WHERE key = 'highest_command_id'", &st);
	if (r < 0)
		return r;
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		*ret = 0;
		return 0;
	}
	if (r != SQLITE_ROW)
		return sqldb_errno(s->db);
	*ret = (uint64_t)sqlite3_column_int64(st, 0);
	return 0;
}

int
state_command_id_set(struct state *s, uint64_t id)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	if (id > INT64_MAX)
		return -ERANGE;
	r = sqldb_prepare(s->db,
	        "INSERT INTO link_state (key, value) VALUES ('highest_command_id', ?1)"
	        " ON CONFLICT (key) DO UPDATE SET value = max(value, ?1)",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sqldb_errno(s->db);
}

int
state_report_add(struct state *s, const struct state_report *rep)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL, *trim = NULL;
	int r;

	if (rep->command_id > INT64_MAX)
		return -ERANGE;
	r = sqldb_prepare(s->db,
	        "INSERT OR REPLACE INTO pending_reports (command_id, app, version, phase,"
	        " elapsed_ms, error, created_usec, hook_output, hook_absent, provisional)"
	        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)rep->command_id);
	sqlite3_bind_text(st, 2, rep->app, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rep->version, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, rep->phase);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)rep->elapsed_ms);
	sqlite3_bind_text(st, 6, rep->error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)now_realtime_usec());
	sqlite3_bind_text(st, 8, rep->hook_output ? rep->hook_output : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 9, rep->hook_absent ? 1 : 0);
	sqlite3_bind_int(st, 10, rep->provisional);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sqldb_errno(s->db);
	/* Bounded: only the newest STATE_REPORTS_MAX results are kept. */
	r = sqldb_prepare(s->db,
	        "DELETE FROM pending_reports WHERE command_id NOT IN (SELECT command_id FROM"
	        " pending_reports ORDER BY command_id DESC LIMIT ?)",
	        &trim);
	if (r < 0)
		return r;
	sqlite3_bind_int(trim, 1, STATE_REPORTS_MAX);
	return sqlite3_step(trim) == SQLITE_DONE ? 0 : sqldb_errno(s->db);
}

int
state_report_delete(struct state *s, uint64_t command_id)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = sqldb_prepare(s->db, "DELETE FROM pending_reports WHERE command_id = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)command_id);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sqldb_errno(s->db);
}

struct report_walk {
	int (*cb)(void *userdata, const struct state_report *rep);
	void *userdata;
};

static int
report_row(sqlite3_stmt *st, void *userdata)
{
	struct report_walk *w = userdata;
	struct state_report rep = {0};

	rep.command_id = (uint64_t)sqlite3_column_int64(st, 0);
	sqldb_copy_text(st, 1, rep.app, sizeof(rep.app));
	sqldb_copy_text(st, 2, rep.version, sizeof(rep.version));
	rep.phase = sqlite3_column_int(st, 3);
	rep.elapsed_ms = (uint64_t)sqlite3_column_int64(st, 4);
	sqldb_copy_text(st, 5, rep.error, sizeof(rep.error));
	rep.hook_output = (const char *)sqlite3_column_text(st, 6);
	rep.hook_absent = sqlite3_column_int(st, 7) != 0;
	rep.provisional = sqlite3_column_int(st, 8);
	return w->cb(w->userdata, &rep);
}

int
state_report_foreach(
        struct state *s, int (*cb)(void *userdata, const struct state_report *rep), void *userdata)
{
	struct report_walk w = {cb, userdata};
	int r = sqldb_foreach(s->db,
	        "SELECT command_id, app, version, phase, elapsed_ms, error, hook_output,"
	        " hook_absent, provisional FROM pending_reports ORDER BY command_id",
	        NULL, report_row, &w);

	return r < 0 ? r : 0;
}

const char *
inflight_phase_to_string(enum inflight_phase p)
{
	switch (p) {
	case INFLIGHT_STAGING:
		return "staging";
	case INFLIGHT_ACTIVATING:
		return "activating";
	case INFLIGHT_CHECKING:
		return "checking";
	case INFLIGHT_ROLLING_BACK:
		return "rolling_back";
	}
	return "unknown";
}
