/*
 * agents_private: what the agent socket's files share. Not an API:
 * agents.c (start, stop, pipe events, expiry, stats, the fleet's
 * callbacks), agents_worker.c (the pool of contexts), agents_dispatch.c
 * (the one switch on a request's body), agents_session.c (Hello,
 * Challenge, Auth), agents_park.c (park, unpark, flush) and agents_base.c
 * (links, error replies). Each calls only the ones after it.
 *
 * Locking: a->lock guards everything in struct agents but the counters
 * (relaxed atomics). Fleet calls are made with it held (lock order: agent
 * socket, fleet, store); the fleet calls back without its own.
 *
 * Worker (one nng context on the agent socket):
 *
 *   RECV --request--> handle --reply--> SEND --sent--> RECV
 *                        \--Poll, nothing to do--> PARKED --command or
 *                                                  timeout--> SEND
 */
#ifndef ROLLWAVE_COORDINATOR_AGENTS_PRIVATE_H
#define ROLLWAVE_COORDINATOR_AGENTS_PRIVATE_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>

#include "agents.h"
#include "envelope.h"

#define POLL_TIMEOUT_MS  25000
#define MIN_IDLE_WORKERS 16
#define MAX_WORKERS      30000

enum worker_state { W_RECV, W_SEND, W_PARKED, W_CLOSED };

struct worker {
	struct agents *a;
	nng_ctx ctx;
	nng_aio *aio;
	enum worker_state st;
	int64_t parked_host;
	uint64_t parked_msgid;
	uint64_t park_deadline_ms;
	struct worker *send_next;             /* on a->sendq */
	struct worker *park_prev, *park_next; /* on a->parked, while W_PARKED */
};

enum session_state {
	SESSION_NEW,        /* connected, nothing said */
	SESSION_CHALLENGED, /* Hello answered, waiting for Auth */
	SESSION_DONE,       /* the challenge was used: authenticated if host_id > 0 */
};

struct session {
	uint32_t pipe; /* 0: free slot */
	enum session_state st;
	uint8_t nonce[WIRE_NONCE_LEN];
	uint8_t host_key[WIRE_KEY_LEN];
	bool token_ok;
	struct fleet_facts facts; /* of the last Hello */
	int64_t host_id;          /* > 0 once authenticated */
};

/* A host's connection as the socket sees it. */
struct agent_link {
	uint32_t pipe;         /* the pipe it last spoke on, 0 if none */
	struct worker *parked; /* its long poll, if one is parked */
};

struct agents {
	const struct coordinator_config *cfg;
	struct db *db;
	struct fleet *fleet;
	const struct identity *id;
	const char *join_token;
	pthread_mutex_t lock;

	nng_socket sock;
	nng_listener listener;
	nng_tls_config *tls;
	struct worker **workers;
	size_t n_workers, idle_workers;
	bool stopping;

	struct session *sessions; /* open addressing on pipe id */
	size_t sessions_cap, n_sessions;
	struct agent_link *links; /* indexed by host id */
	size_t links_cap;

	/* Replies to parked polls wait here (worker_unpark) until
	 * agents_flush_sends() sends them without a->lock: a send encrypts
	 * and writes, and 400 expired polls a second must not stall every
	 * heartbeat behind the lock. flushing counts the threads sending;
	 * agents_quiesce() waits for them (flushed). */
	struct worker *sendq;
	/* Parked polls, oldest first: every poll parks for POLL_TIMEOUT_MS,
	 * so this is also deadline order and agents_expire_polls() answers
	 * the expired ones from the head, a few at a time, instead of
	 * scanning every worker once a second and answering hundreds at
	 * once. */
	struct worker *parked_head, *parked_tail;
	unsigned flushing;
	pthread_cond_t flushed;

	size_t type; /* the body case of the request being handled */
	uint64_t msgs[COUNTER_TYPES];
	uint64_t refused[COUNTER_TYPES][COUNTER_CODES];
};

/* ---- agents_worker.c ---- */
/* Opens one more context and starts it receiving. Under a->lock. */
int worker_new(struct agents *a);

/* ---- agents_park.c ---- */
/* Parks w as host's long poll for message msgid. Under a->lock. */
void worker_park(struct agents *a, struct worker *w, int64_t host, uint64_t msgid);
/* Answers a parked poll with reply (NULL: "nothing to do"); takes reply.
 * Under a->lock; the answer goes out at the next agents_flush_sends(). */
void worker_unpark(struct agents *a, struct worker *w, nng_msg *reply);
/* Sends what worker_unpark() prepared. Call without a->lock, after
 * releasing it in anything that may have unparked a poll. */
void agents_flush_sends(struct agents *a);

/* ---- agents_session.c ---- */
/* The session of pipe, created if create; NULL if none. Under a->lock. */
struct session *session_find(struct agents *a, uint32_t pipe, bool create);
void session_remove(struct agents *a, uint32_t pipe);
void session_clear_facts(struct fleet_facts *f);
nng_msg *on_hello(struct agents *a, nng_pipe p, uint64_t msgid, const Rollwave__Hello *h);
/* Lets go of a->lock while the store works. */
nng_msg *on_auth(struct agents *a, uint32_t pipe, uint64_t msgid, const Rollwave__Auth *au);

/* ---- agents_dispatch.c ---- */
/* An error reply to an agent, counted by request type and code. */
nng_msg *agent_error(struct agents *a, uint64_t msgid, Rollwave__Error__Code code, const char *fmt,
        ...) _printf_(4, 5);
/* The reply to req, or NULL when w parked (a long poll). Under a->lock. */
nng_msg *handle_agent(struct agents *a, struct worker *w, nng_msg *req);
/* The next command of host for pipe as a reply to msgid, or NULL. */
nng_msg *next_command(struct agents *a, int64_t host, uint32_t pipe, uint64_t msgid);

/* ---- agents_base.c ---- */
/* The link of host id, created if create; NULL if none. Under a->lock. */
struct agent_link *agent_link(struct agents *a, int64_t id, bool create);
/* An error reply to an agent, counted by request type and code. */
nng_msg *agent_error(struct agents *a, uint64_t msgid, Rollwave__Error__Code code, const char *fmt,
        ...) _printf_(4, 5);
nng_msg *empty_poll_msg(uint64_t msgid);

#endif
