/*
 * sqldb: what the agent's state file and the coordinator's database share
 * about SQLite: opening with durable settings, forward-only schema
 * migrations through PRAGMA user_version, errno mapping and statement
 * helpers.
 */
#ifndef ROLLWAVE_SQLDB_H
#define ROLLWAVE_SQLDB_H

#include <sqlite3.h>

#include "util.h"

/* Opens (creating) path without following a symlink, mode 0600, WAL with
 * synchronous=FULL and foreign keys, and applies migrations[v] for every
 * schema v from the file's user_version up to n. A file with a newer schema
 * is refused (-EPROTO). what ("state database") and who ("agent") name
 * things in error messages. */
int sqldb_open(const char *path, const char *what, const char *who, const char *const *migrations,
        size_t n, sqlite3 **ret, struct rw_err *err);

/* The -errno for the connection's last error. */
int sqldb_errno(sqlite3 *db);
int sqldb_exec(sqlite3 *db, const char *sql);
int sqldb_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret);
/* Steps a statement that returns no rows. */
int sqldb_step_done(sqlite3 *db, sqlite3_stmt *st);

/* The prepare/bind/step/read-row loop: prepares sql, lets bind (NULL: no
 * parameters) bind them, and calls row for every row the statement returns.
 * A negative return from bind or row stops the walk and is returned.
 * Otherwise the number of rows read (>= 0; INT_MAX at most), or the
 * connection's -errno when it cannot be prepared or a step fails. The
 * statement is finalized before returning; row must copy what it keeps. */
int sqldb_foreach(sqlite3 *db, const char *sql, int (*bind)(sqlite3_stmt *st, void *userdata),
        int (*row)(sqlite3_stmt *st, void *userdata), void *userdata);

void sqldb_finalizep(sqlite3_stmt **st);
#define _cleanup_stmt_ _cleanup_(sqldb_finalizep)

/* Column col as text into dst (cut to size; "" for NULL). */
void sqldb_copy_text(sqlite3_stmt *st, int col, char *dst, size_t size);
/* Column col as a malloc'd string ("" for NULL); NULL when out of memory. */
char *sqldb_dup_text(sqlite3_stmt *st, int col);

#endif
