/*
 * server_private: what the coordinator's server modules share. Not an API:
 * server.c (agent socket, sessions, workers, tick), admin.c (admin socket),
 * metrics.c (Prometheus endpoint) and codec.c (stored facts and replies).
 *
 * Locking: s->lock guards everything in struct server but the database,
 * which locks itself in every db_* call (db.c). A db call may be made with
 * s->lock held, never the other way round; prefer copying what is needed
 * under s->lock and using the database after releasing it.
 */
#ifndef ROLLWAVE_COORDINATOR_SERVER_PRIVATE_H
#define ROLLWAVE_COORDINATOR_SERVER_PRIVATE_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdarg.h>

#include "codec.h"
#include "db.h"
#include "identity.h"
#include "server.h"
#include "version.h"
#include "wire.h"

#define POLL_TIMEOUT_MS   25000
#define MIN_IDLE_WORKERS  16
#define MAX_WORKERS       30000
#define MISSED_HEARTBEATS 3
#define FLUSH_EVERY_MS    5000

enum worker_state { W_RECV, W_SEND, W_PARKED, W_CLOSED };

struct worker {
	struct server *s;
	nng_ctx ctx;
	nng_aio *aio;
	enum worker_state st;
	int64_t parked_host;
	uint64_t parked_msgid;
	uint64_t park_deadline_ms;
	struct worker *send_next;             /* on s->sendq */
	struct worker *park_prev, *park_next; /* on s->parked, while W_PARKED */
};

struct session {
	uint32_t pipe; /* 0: free slot */
	bool challenged;
	uint8_t nonce[WIRE_NONCE_LEN];
	uint8_t host_key[WIRE_KEY_LEN];
	bool token_ok;
	char *hostname, *labels_json, *agent_version, *apps_json;
	int64_t host_id; /* > 0 once authenticated */
};

/* A command waiting for its host's long poll, or for the host's answer. */
struct pending_cmd {
	struct pending_cmd *next;
	uint64_t command_id;
	Rollwave__Command__Kind kind;
	uint64_t cancel_command_id; /* CANCEL */
	char app[APP_NAME_MAX + 1];
	char version[VERSION_MAX + 1];
	char *manifest_url;
	uint32_t sent_pipe; /* the connection it was handed to; 0: not yet */
	bool maybe_sent;    /* a previous run may have handed it out */
};

struct host_mem {
	int64_t id;                /* 0: no such host */
	struct pending_cmd *queue; /* oldest first */
	enum host_state state;
	uint64_t last_seen_ms;
	bool seen_dirty;
	char *apps_json; /* latest report, NULL if none since start */
	bool apps_dirty;
	uint32_t pipe;         /* authenticated pipe, 0 if none */
	struct worker *parked; /* its long poll, if one is parked */
	bool up_dirty;         /* came back up: the db still says down */
	bool up_by_connect;    /* ... by connecting (else by heartbeat) */
	/* Facts of the last connect (Hello) not yet in the db; NULL if none.
	 * server_tick() writes them with the last-seen times, so that a fleet
	 * reconnecting at once costs a commit a second, not one per host. */
	char *new_hostname, *new_labels_json, *new_agent_version;
};

/* Counters for the metrics endpoint, bumped with stat_inc() (relaxed
 * atomics: the admin thread counts without the server lock). Indexed by
 * protobuf case numbers: envelope bodies and admin requests are below
 * STAT_TYPES, error codes below STAT_CODES; larger ones count in the last
 * slot. agent_msgs[0] counts messages that did not decode. */
#define STAT_TYPES 64
#define STAT_CODES 16
#define STAT_KINDS 8
enum task_result {
	TASK_COMMITTED,
	TASK_ROLLED_BACK,
	TASK_FAILED,
	TASK_REFUSED,
	TASK_CANCELLED,
	_TASK_RESULT_MAX
};
struct server_stats {
	uint64_t agent_msgs[STAT_TYPES];
	uint64_t agent_refused[STAT_TYPES][STAT_CODES];
	uint64_t admin_reqs[STAT_TYPES];
	uint64_t admin_refused[STAT_TYPES][STAT_CODES];
	uint64_t task_results[STAT_KINDS][_TASK_RESULT_MAX]; /* [command kind][result] */
};

static inline void
stat_inc(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static inline size_t
stat_slot(int n, size_t size)
{
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

struct server {
	const struct coordinator_config *cfg;
	pthread_mutex_t lock; /* everything below but the db */
	struct db *db;
	struct identity id;
	char join_token[JOIN_TOKEN_MAX + 1];
	uint64_t started_ms;
	uint64_t last_flush_ms;

	nng_socket agents;
	nng_listener agents_listener;
	nng_tls_config *tls;
	struct worker **workers;
	size_t n_workers;
	size_t idle_workers;

	struct session *sessions; /* open addressing on pipe id */
	size_t sessions_cap, n_sessions;

	struct host_mem *hosts; /* indexed by host id */
	size_t hosts_cap;

	nng_socket admin;
	nng_tls_config *admin_tls;
	pthread_t admin_thread;
	bool admin_running;
	volatile bool stopping;
	/* Replies to parked polls wait here (worker_unpark) until
	 * server_flush_sends() sends them without s->lock: a send encrypts and
	 * writes, and 400 expired polls a second must not stall every
	 * heartbeat behind the lock. flushing counts the threads sending;
	 * server_stop() waits for them (flushed). */
	struct worker *sendq;
	/* Parked polls, oldest first: every poll parks for POLL_TIMEOUT_MS,
	 * so this is also deadline order and server_expire_polls() answers
	 * the expired ones from the head, a few at a time, instead of
	 * scanning every worker once a second and answering hundreds at
	 * once. */
	struct worker *parked_head, *parked_tail;
	unsigned flushing;
	pthread_cond_t flushed;

	struct server_stats stats;
	struct waves *waves; /* waves.c: deployments through waves */
	size_t agent_type;   /* the body case of the agent request being handled */
	struct metrics *metrics;
};

/* ---- server.c ---- */
uint64_t now_ms(void);
/* The in-memory record of host id, created if create; NULL if none.
 * Called with s->lock held. */
struct host_mem *host_mem(struct server *s, int64_t id, bool create);
void pending_free(struct pending_cmd *p);
void queue_append(struct host_mem *m, struct pending_cmd *p);
/* The next command queued for m as a reply to msgid, or NULL. */
nng_msg *next_command(struct server *s, struct host_mem *m, uint32_t pipe, uint64_t msgid);
/* Answers a parked poll with reply (NULL: "nothing to do"); takes reply.
 * Called with s->lock held; the answer goes out at the next
 * server_flush_sends(). */
void worker_unpark(struct server *s, struct worker *w, nng_msg *reply);
/* Sends the answers worker_unpark() prepared. Call without s->lock, after
 * releasing it in anything that may have unparked a poll. */
void server_flush_sends(struct server *s);
int nng_err(struct rw_err *err, int rv, const char *what, const char *url);
/* Queues a copy of tmpl (command_id, kind, app, version, manifest_url,
 * cancel_command_id) for host_id and hands it to the host's parked poll if
 * there is one: 1 if it did, 0 if the command waits for the next poll.
 * Takes s->lock: call without it. */
int server_queue_command(struct server *s, int64_t host_id, const struct pending_cmd *tmpl);
/* Takes a command back from the host's queue if it was never handed out
 * (1), so it can be dropped instead of cancelled; 0 if it may have been. */
int server_unqueue_command(struct server *s, int64_t host_id, uint64_t command_id);

/* ---- admin.c ---- */
/* Opens AdminSocket= and starts the thread that serves it. */
int admin_start(struct server *s, struct rw_err *err);
/* An AdminResponse (or, refused, its Error) as the reply to msgid; for the
 * admin thread only (errors are counted per request). */
nng_msg *admin_reply(uint64_t msgid, Rollwave__AdminResponse *resp);
nng_msg *admin_error(uint64_t msgid, Rollwave__Error__Code code, const char *message);

/* ---- metrics.c ---- */
struct metrics;
/* Serves GET /metrics on http://MetricsListen= (nothing when it is empty). */
int metrics_start(struct server *s, struct rw_err *err);
void metrics_stop(struct server *s);

/* ---- codec.c ---- */
/* arena_*, labels_match, command_kind_*: codec.h */
char *labels_to_json(Rollwave__Label **labels, size_t n);
char *apps_to_json(Rollwave__AppStatus **apps, size_t n);
void labels_from_json(struct arena *a, const char *text, Rollwave__Label ***ret, size_t *ret_n);
void apps_from_json(struct arena *a, const char *text, Rollwave__AppStatus ***ret, size_t *ret_n);
nng_msg *msg_from_env(const Rollwave__Envelope *env);
nng_msg *error_msg(uint64_t msgid, Rollwave__Error__Code code, const char *fmt, ...) _printf_(3, 4);
nng_msg *error_msgv(uint64_t msgid, Rollwave__Error__Code code, const char *fmt, va_list ap)
        _printf_(3, 0);
void env_init(Rollwave__Envelope *env, uint64_t msgid);

#endif
