/*
 * store_private: what the SQLite store's table files share (store.c,
 * hosts.c, audit.c, tasks.c, deployments.c). Not an API: everything outside
 * store/ goes through db.h, which a second backend implements too.
 *
 * Locking: every db_* function but db_open, db_close and db_begin/commit/
 * rollback takes the store's lock with DB_LOCK() for its whole duration.
 * The lock is recursive: a db_* function may call another, and a foreach
 * callback may call back into the store.
 */
#ifndef ROLLWAVE_COORDINATOR_STORE_PRIVATE_H
#define ROLLWAVE_COORDINATOR_STORE_PRIVATE_H

#include <pthread.h>

#include "db.h"
#include "sqldb.h"

struct db {
	sqlite3 *sql;
	pthread_mutex_t lock;
};

struct db *db_lock_(struct db *db);
void db_unlockp(struct db **db);
#define DB_LOCK(db) _cleanup_(db_unlockp) _unused_ struct db *db_locked_ = db_lock_(db)

/* tasks.c: inserts a queued task for each host of spec (its next command
 * id in ret_command_ids), inside the caller's transaction. */
int tasks_insert(struct db *db, int64_t dep, const struct task_spec *spec, size_t n,
        uint64_t *ret_command_ids);

#endif
