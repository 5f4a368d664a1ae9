/*
 * sqldb: shared SQLite helpers. See sqldb.h.
 */
#include "sqldb.h"

#include <limits.h>
#include <sys/stat.h>

int
sqldb_errno(sqlite3 *db)
{
	switch (sqlite3_errcode(db)) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EACCES;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

int
sqldb_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : sqldb_errno(db);
}

int
sqldb_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret)
{
	return sqlite3_prepare_v2(db, sql, -1, ret, NULL) == SQLITE_OK ? 0 : sqldb_errno(db);
}

int
sqldb_step_done(sqlite3 *db, sqlite3_stmt *st)
{
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sqldb_errno(db);
}

int
sqldb_foreach(sqlite3 *db, const char *sql, int (*bind)(sqlite3_stmt *st, void *userdata),
        int (*row)(sqlite3_stmt *st, void *userdata), void *userdata)
{
	_cleanup_(sqldb_finalizep) sqlite3_stmt *st = NULL;
	int n = 0, r;

	r = sqldb_prepare(db, sql, &st);
	if (r < 0)
		return r;
	if (bind) {
		r = bind(st, userdata);
		if (r < 0)
			return r;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		int q = row(st, userdata);

		if (q < 0)
			return q;
		if (n < INT_MAX)
			n++;
	}
	return r == SQLITE_DONE ? n : sqldb_errno(db);
}

void
sqldb_finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}

void
sqldb_copy_text(sqlite3_stmt *st, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	strbuf_printf(dst, size, "%s", t ? (const char *)t : "");
}

char *
sqldb_dup_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return strdup(t ? (const char *)t : "");
}

int
sqldb_open(const char *path, const char *what, const char *who, const char *const *migrations,
        size_t n, sqlite3 **ret, struct rw_err *err)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int version, r;

	if (sqlite3_open_v2(path, &db,
	            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW |
	                    SQLITE_OPEN_FULLMUTEX,
	            NULL) != SQLITE_OK) {
		r = rw_err_set(err, -EIO, "cannot open %s %s: %s", what, path,
		        db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	(void)chmod(path, 0600);
	sqlite3_busy_timeout(db, 10000);
	r = sqldb_exec(db,
	        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	        "PRAGMA foreign_keys=ON;");
	if (r < 0) {
		rw_err_set(err, r, "cannot set up %s %s: %s", what, path, sqlite3_errmsg(db));
		goto fail;
	}
	if (sqldb_prepare(db, "PRAGMA user_version", &st) < 0 || sqlite3_step(st) != SQLITE_ROW) {
		r = rw_err_set(err, sqldb_errno(db), "%s %s is unreadable: %s", what, path,
		        sqlite3_errmsg(db));
		sqlite3_finalize(st);
		goto fail;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < 0 || (size_t)version > n) {
		r = rw_err_set(err, -EPROTO, "%s %s has schema %d, newer than this %s knows (%zu)",
		        what, path, version, who, n);
		goto fail;
	}
	for (size_t v = (size_t)version; v < n; v++) {
		char pragma[64];

		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%zu;", v + 1);
		if (sqldb_exec(db, "BEGIN IMMEDIATE") < 0 || sqldb_exec(db, migrations[v]) < 0 ||
		        sqldb_exec(db, pragma) < 0 || sqldb_exec(db, "COMMIT") < 0) {
			r = rw_err_set(err, sqldb_errno(db),
			        "cannot migrate %s %s to schema %zu: %s", what, path, v + 1,
			        sqlite3_errmsg(db));
			(void)sqldb_exec(db, "ROLLBACK");
			goto fail;
		}
	}
	*ret = db;
	return 0;
fail:
	sqlite3_close_v2(db);
	return r;
}
