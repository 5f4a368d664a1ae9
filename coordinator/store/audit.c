/*
 * audit: the append-only audit log (table audit; triggers refuse UPDATE and
 * DELETE).
 */
#include "store_private.h"

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
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now_realtime_msec());
	sqlite3_bind_text(st, 2, actor ? actor : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, target ? target : "", -1, SQLITE_STATIC);
	if (detail)
		sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	return sqldb_step_done(db->sql, st);
}

struct audit_walk {
	int64_t after_id;
	uint64_t since_ms;
	unsigned limit;
	int (*cb)(void *userdata, const struct audit_row *a);
	void *userdata;
};

static int
audit_walk_bind(sqlite3_stmt *st, void *userdata)
{
	const struct audit_walk *w = userdata;

	sqlite3_bind_int64(st, 1, w->after_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)w->since_ms);
	sqlite3_bind_int64(st, 3, w->limit);
	return 0;
}

static int
audit_walk_row(sqlite3_stmt *st, void *userdata)
{
	struct audit_walk *w = userdata;
	struct audit_row a = {0};
	int r;

	a.id = sqlite3_column_int64(st, 0);
	a.at_ms = (uint64_t)sqlite3_column_int64(st, 1);
	sqldb_copy_text(st, 2, a.actor, sizeof(a.actor));
	sqldb_copy_text(st, 3, a.action, sizeof(a.action));
	sqldb_copy_text(st, 4, a.target, sizeof(a.target));
	a.detail = sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : sqldb_dup_text(st, 5);
	r = w->cb(w->userdata, &a);
	free(a.detail);
	return r;
}

int
db_audit_foreach(struct db *db, int64_t after_id, uint64_t since_ms, unsigned limit,
        int (*cb)(void *userdata, const struct audit_row *a), void *userdata)
{
	DB_LOCK(db);
	struct audit_walk w = {after_id, since_ms, limit, cb, userdata};
	int r = sqldb_foreach(db->sql,
	        "SELECT id, at_ms, actor, action, target, detail FROM audit"
	        " WHERE id > ? AND at_ms >= ? ORDER BY id LIMIT ?",
	        audit_walk_bind, audit_walk_row, &w);

	return r < 0 ? r : 0;
}
