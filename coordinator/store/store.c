/*
 * store: opening and closing the coordinator's SQLite file, its schema and
 * forward-only migrations, transactions, and the store's own lock. See db.h
 * for the tables and the durability rules; the table files (hosts.c,
 * audit.c, tasks.c, deployments.c) hold the queries.
 */
#include "store_private.h"

struct db *
db_lock_(struct db *db)
{
	pthread_mutex_lock(&db->lock);
	return db;
}

void
db_unlockp(struct db **db)
{
	if (*db)
		pthread_mutex_unlock(&(*db)->lock);
}

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
