/*
 * db: the coordinator's store, the one door to its state. Today one SQLite
 * file (store/: store.c opens it, one file per table); this header is the
 * seam a second backend (PostgreSQL, next) implements: the same db_*
 * functions, rows and errors, and no SQLite type in it. Callers never see
 * SQL, a statement or the store's lock.
 *
 * What every backend keeps: a row the coordinator acted on is on disk
 * before the action's effects leave the process (SQLite: WAL mode,
 * synchronous=FULL); the schema is versioned with forward-only migrations
 * and a newer one than this binary knows is refused (SQLite: PRAGMA
 * user_version). Tables (and deployments, approvals, traffic below):
 *
 *   hosts   one row per agent identity key: pending -> up <-> down, revoked
 *   tasks   one row per command sent to a host (deploy, rollback), with the
 *           host's reported phase and result
 *   audit   append-only log of every admin action and state change, with
 *           who asked; UPDATE and DELETE are refused by triggers
 *
 * Heartbeats do not write here one by one: the caller keeps last-seen times
 * in memory and flushes them with db_hosts_touch() in one transaction.
 *
 * Thread safety: every db_* call takes the store's own (recursive) lock for
 * its duration, so the agent socket, the admin thread and the waves engine
 * share one handle without locking around it.
 */
#ifndef ROLLWAVE_COORDINATOR_DB_H
#define ROLLWAVE_COORDINATOR_DB_H

#include "util.h"

struct db;

enum host_state {
	HOST_PENDING,
	HOST_UP,
	HOST_DOWN,
	HOST_REVOKED,
	_HOST_STATE_MAX,
};

#define DB_HOSTNAME_MAX 255
#define DB_TEXT_MAX     65536

struct host_row {
	int64_t id;
	uint8_t key[32];
	char hostname[DB_HOSTNAME_MAX + 1];
	char *labels; /* JSON object {"k":"v"}; owned, free with host_row_done() */
	char *apps;   /* JSON array as last reported; owned */
	char agent_version[64];
	enum host_state state;
	uint64_t enrolled_ms, last_seen_ms;
	uint64_t last_command_id;
};

struct audit_row {
	int64_t id;
	uint64_t at_ms;
	char actor[128];
	char action[64];
	char target[256];
	char *detail; /* owned */
};

int db_open(const char *path, struct db **ret, struct rw_err *err);
void db_close(struct db *db);

int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);

const char *host_state_to_string(enum host_state s);
int host_state_from_string(const char *s, enum host_state *ret);
void host_row_done(struct host_row *h);

/* Looks a host up by its identity key; -ENOENT if unknown. */
int db_host_by_key(struct db *db, const uint8_t key[static 32], struct host_row *ret);
int db_host_by_id(struct db *db, int64_t id, struct host_row *ret);
/* Registers an unknown key as a pending host (and audits it). */
int db_host_add_pending(struct db *db, const uint8_t key[static 32], const char *hostname,
        const char *labels_json, const char *agent_version, uint64_t now_ms, int64_t *ret_id);
/* Changes state and audits who did it. Revoked is final: leaving it is
 * refused with -EPERM. */
int db_host_set_state(
        struct db *db, int64_t id, enum host_state state, const char *actor, const char *reason);
/* db_host_set_state() for n hosts in one transaction (one commit, one
 * wait for the disk). Hosts that are revoked or gone are skipped;
 * ret_changed (optional, n entries) says which ones changed. */
int db_hosts_set_state(struct db *db, const int64_t *ids, size_t n, enum host_state state,
        const char *actor, const char *reason, bool *ret_changed);
/* pending -> down (up once its agent connects), audited as host.accept by
 * actor. -EALREADY if the host is not pending, -EPERM if it is revoked. */
int db_host_accept(struct db *db, int64_t id, const char *actor);
/* db_host_accept() for n hosts in one transaction: all or none. On an
 * error *ret_bad is the host that caused it (0 if none did). */
int db_hosts_accept(
        struct db *db, const int64_t *ids, size_t n, const char *actor, int64_t *ret_bad);
/* Flushes last-seen times (and the facts agents reported: apps, and on
 * connect hostname, labels and agent version) of many hosts at once. */
struct host_touch {
	int64_t id;
	uint64_t last_seen_ms;
	const char *apps_json; /* NULL: unchanged, as for the ones below */
	const char *hostname, *labels_json, *agent_version;
};
int db_hosts_touch(struct db *db, const struct host_touch *t, size_t n);
int db_host_set_last_command(struct db *db, int64_t id, uint64_t command_id);
/* Calls cb for every host (ordered by id); a negative cb return stops. */
int db_hosts_foreach(
        struct db *db, int (*cb)(void *userdata, const struct host_row *h), void *userdata);

/* ---- deployments and tasks (schema 2) ----
 *
 * A deployment sends one command to each of a set of hosts; each is a task
 * row: queued -> sent -> running -> committed | rolled_back | failed, or
 * refused. Command ids are per host and strictly increasing. */

struct task_row {
	int64_t deployment_id;
	int64_t host_id;
	uint64_t command_id;
	char state[16];
	int phase;
	char *error; /* owned */
	/* from the deployment */
	char kind[16]; /* "deploy" or "rollback" */
	char app[65];
	char version[65];   /* deploy: the version; rollback: to_version or "" */
	char *manifest_url; /* owned; "" for rollback */
	int wave;           /* deployments through waves: its wave; -1 otherwise */
	bool activated;     /* reported activating or later */
	uint64_t updated_ms;
	uint64_t cancel_command_id; /* cancel: the command it stops */
	char *failed;               /* owned; "": the coordinator never judged the host failed */
	char *output;               /* owned: what its hooks printed (PhaseReport.hook_output) */
};

void task_row_done(struct task_row *t);

/* The error of a committed task whose hook the release does not have
 * (PhaseReport.hook_absent): a migrate that ran nothing. */
#define TASK_HOOK_ABSENT "hook absent: the release has no such hook"

/* Creates the deployment and one queued task per host in one transaction,
 * giving each host its next command id (written to ret_command_ids). */
int db_deployment_create(struct db *db, const char *kind, const char *app, const char *version,
        const char *manifest_url, const char *actor, const int64_t *host_ids, size_t n,
        int64_t *ret_id, uint64_t *ret_command_ids);
/* Sets a task's state (and phase/error when given: phase < 0 or error NULL
 * keep them). A final state is audited. -ENOENT for an unknown task. */
int db_task_update(struct db *db, int64_t host_id, uint64_t command_id, const char *state,
        int phase, const char *error);
/* db_task_update() that also keeps what the task's hooks printed (output
 * NULL: keep it). */
int db_task_report(struct db *db, int64_t host_id, uint64_t command_id, const char *state,
        int phase, const char *error, const char *output);
/* The tasks of one deployment, by host id; -ENOENT if there is no such
 * deployment. */
int db_deployment_foreach_task(struct db *db, int64_t deployment_id,
        int (*cb)(void *userdata, const struct task_row *t), void *userdata);
/* Every task not yet answered by its host (queued or sent), oldest first:
 * what a restarted coordinator must hand out again. */
int db_tasks_foreach_unfinished(
        struct db *db, int (*cb)(void *userdata, const struct task_row *t), void *userdata);

/* ---- deployments through waves (schema 3) ---- */

struct deployment_row {
	int64_t id;
	char kind[16]; /* "deploy"; schema 2 also "rollback" */
	char app[65];
	char version[65];
	char *manifest_url; /* owned */
	char actor[128];
	uint64_t created_ms, updated_ms, finished_ms;
	char state[16];    /* pending running paused succeeded failed rolled_back aborted */
	char strategy[32]; /* "" for schema 2 deployments */
	char *params;      /* owned: the options as a deployment file */
	char *selector;    /* owned */
	char *plan;        /* owned: JSON, waves.c */
	int wave;
	char step[32];
	uint64_t step_since_ms;
	char *reason;       /* owned */
	bool force;         /* start even when preflight fails */
	uint64_t paused_ms; /* when it was paused; 0: not paused */
};

void deployment_row_done(struct deployment_row *d);
bool deployment_state_is_active(const char *state);

/* Inserts d (state, strategy, params, selector, plan, actor...) and audits
 * deploy.start. *ret_id. -EEXIST when app already has an active deployment
 * (one per app; *ret_id is then that one's id). */
int db_deployment_insert(struct db *db, const struct deployment_row *d, int64_t *ret_id);
/* Writes d's state, plan, wave, step, step_since_ms, reason and
 * finished_ms, and audits action (if not NULL) by actor with detail, in one
 * transaction. */
int db_deployment_save(struct db *db, const struct deployment_row *d, const char *actor,
        const char *action, const char *detail);
int db_deployment_get(struct db *db, int64_t id, struct deployment_row *ret);
/* The newest deployment of app; -ENOENT if none. */
int db_deployment_latest(struct db *db, const char *app, struct deployment_row *ret);
/* Deployments, newest first: of app (NULL: all), only active ones if
 * active_only, at most limit (0: no limit). */
int db_deployments_foreach(struct db *db, const char *app, bool active_only, unsigned limit,
        int (*cb)(void *userdata, const struct deployment_row *d), void *userdata);
/* Adds a queued task of kind for host in wave of deployment dep with the
 * host's next command id (*ret_command_id). */
int db_task_add(struct db *db, int64_t dep, int64_t host_id, const char *kind, int wave,
        uint64_t *ret_command_id);
/* n tasks of one kind: host_ids[i] in waves[i] (NULL: -1) sent versions[i]
 * (NULL: the deployment's version) and, for a cancel, cancel_ids[i]. */
struct task_spec {
	const int64_t *host_ids;
	const int *waves;
	const char *const *versions;
	const uint64_t *cancel_ids;
	const char *kind;
};
/* db_task_add() for n hosts in one transaction. */
int db_tasks_add(struct db *db, int64_t dep, const struct task_spec *spec, size_t n,
        uint64_t *ret_command_ids);
/* Records the coordinator's verdict that the host failed this task (it
 * went silent, timed out or fell ill after its commit), audited as
 * task.failed; the first verdict stays. */
int db_task_set_failed(struct db *db, int64_t host_id, uint64_t command_id, const char *why);
/* The live color of a blue-green app, recorded at each traffic switch
 * (audited as app.live_color); db_traffic_get: -ENOENT if never switched. */
int db_traffic_set(struct db *db, const char *app, const char *live_color, int64_t deployment_id);
int db_traffic_get(struct db *db, const char *app, char *ret_color, size_t size, int64_t *ret_dep);
/* Records the approval of wave (audited as deploy.approve). -EALREADY if
 * it was approved before. */
int db_approval_add(struct db *db, int64_t dep, int wave, const char *actor);
/* 0 and *ret_actor if wave was approved; -ENOENT if not. */
int db_approval_get(
        struct db *db, int64_t dep, int wave, char *ret_actor, size_t size, uint64_t *ret_at_ms);

/* Appends to the audit log. detail may be NULL. */
int db_audit(struct db *db, const char *actor, const char *action, const char *target,
        const char *detail);
/* Newest-last entries with id > after_id and at_ms >= since_ms, at most limit. */
int db_audit_foreach(struct db *db, int64_t after_id, uint64_t since_ms, unsigned limit,
        int (*cb)(void *userdata, const struct audit_row *a), void *userdata);

#endif
