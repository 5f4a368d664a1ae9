/*
 * hosts: the host registry (table hosts): one row per agent identity key,
 * pending -> up <-> down, revoked for good. Every state change is audited.
 */
#include "store_private.h"

#include <inttypes.h>

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

struct host_walk {
	int (*cb)(void *userdata, const struct host_row *h);
	void *userdata;
};

static int
host_walk_row(sqlite3_stmt *st, void *userdata)
{
	struct host_walk *w = userdata;
	struct host_row h;
	int r = read_host(st, &h);

	if (r < 0)
		return r;
	r = w->cb(w->userdata, &h);
	host_row_done(&h);
	return r;
}

int
db_hosts_foreach(struct db *db, int (*cb)(void *userdata, const struct host_row *h), void *userdata)
{
	DB_LOCK(db);
	struct host_walk w = {cb, userdata};
	int r = sqldb_foreach(
	        db->sql, "SELECT " HOST_COLUMNS " FROM hosts ORDER BY id", NULL, host_walk_row, &w);

	return r < 0 ? r : 0;
}
