/*
 * fleet: the hosts as the subsystems that command them (waves) see them,
 * and the calls they make on them, behind an ops table so that they never
 * reach into the agent socket's memory or lock.
 *
 * A host is what its agent last told this coordinator: up or down, when it
 * was last heard, and its latest apps report. A command is a template the
 * fleet copies into the host's queue; the agent gets it at its next long
 * poll (at once if one is parked).
 *
 * struct fleet (below, fleet.c) implements the table: the hosts in memory
 * and their command queues, under a lock of its own; tests implement it
 * over an in-memory table of their own. Every op may be called from the
 * waves engine's thread with the engine's lock held, and takes whatever
 * lock the fleet needs itself.
 *
 * The agent socket feeds struct fleet what its agents say and hands out
 * the queued commands; the fleet tells it that a command is ready or that
 * a host must be disconnected through the callbacks it registered (struct
 * fleet_link), never by calling into it. Lock order: the agent socket's
 * lock, then the fleet's, then the store's; the fleet calls the callbacks
 * without its lock.
 */
#ifndef ROLLWAVE_COORDINATOR_FLEET_H
#define ROLLWAVE_COORDINATOR_FLEET_H

#include <stdbool.h>
#include <stdlib.h>

#include "coordinator_config.h"
#include "counters.h"
#include "db.h"
#include "wire.h"

struct fleet_host {
	enum host_state state;
	uint64_t last_seen_ms; /* 0: never heard since start */
	char *apps_json;       /* owned copy of its latest apps report; NULL: none since start */
};

static inline void
fleet_host_done(struct fleet_host *h)
{
	free(h->apps_json);
	h->apps_json = NULL;
}

/* A command for one host; the fleet copies every field. */
struct fleet_command {
	uint64_t command_id;
	Rollwave__Command__Kind kind;
	uint64_t cancel_command_id; /* CANCEL: the command it stops */
	const char *app;
	const char *version;
	const char *manifest_url; /* NULL: none */
};

struct fleet_ops {
	/* What the fleet knows of host_id since this coordinator started:
	 * 0 and *ret (free with fleet_host_done()), -ENOENT if it has no
	 * record of the host, -ENOMEM. */
	int (*host_get)(void *userdata, int64_t host_id, struct fleet_host *ret);
	/* Queues a copy of c for host_id: 1 if it was handed to the host's
	 * parked poll at once, 0 if it waits for the next poll, -errno. */
	int (*queue_command)(void *userdata, int64_t host_id, const struct fleet_command *c);
	/* Takes command_id back from the host's queue if it was never handed
	 * out (1), so it can be dropped instead of cancelled; 0 if it may
	 * have been. */
	int (*unqueue_command)(void *userdata, int64_t host_id, uint64_t command_id);
	/* The wall clock, in ms since the epoch (tests drive it). */
	uint64_t (*now_ms)(void *userdata);
};

/* ---- struct fleet: the hosts in memory ---- */

struct fleet;

/* What the agent socket does for the fleet; called without the fleet lock. */
struct fleet_link {
	/* A command was queued for host_id: 1 if the host's parked poll got
	 * it at once (through fleet_next_command()), 0 if it waits. */
	int (*command_ready)(void *userdata, int64_t host_id);
	/* host_id was revoked: drop its connection, answer its parked poll. */
	void (*disconnect)(void *userdata, int64_t host_id);
	void *userdata;
};

/* The ops above over struct fleet (userdata: the struct fleet). */
extern const struct fleet_ops fleet_live_ops;

/* Loads the hosts and the unfinished tasks of db (cfg: the database's
 * name for messages, the heartbeat interval); started_ms starts the grace
 * period of hosts that were up. */
int fleet_new(const struct coordinator_config *cfg, struct db *db, uint64_t started_ms,
        struct fleet **ret, struct rw_err *err);
void fleet_free(struct fleet *f);
/* Registers the agent socket's callbacks (NULL: none). */
void fleet_set_link(struct fleet *f, const struct fleet_link *link);

/* The ops, for the coordinator's own callers. */
int fleet_host_get(struct fleet *f, int64_t host_id, struct fleet_host *ret);
int fleet_queue(struct fleet *f, int64_t host_id, const struct fleet_command *c);
int fleet_unqueue(struct fleet *f, int64_t host_id, uint64_t command_id);

/* Writes what changed since the last tick (hosts up and down, last-seen
 * times every few seconds, connect facts) in one transaction per kind, and
 * marks down the hosts that missed three heartbeats. About once a second. */
void fleet_tick(struct fleet *f);

/* Admin: hosts accepted (down until their agent connects) or revoked (the
 * link's disconnect() is called for each). */
void fleet_set_state(struct fleet *f, const int64_t *ids, size_t n, enum host_state state);

/* A copy of the host table, indexed by host id (id 0: no such host). */
struct fleet_view_host {
	int64_t id;
	struct fleet_host h;
};
int fleet_view(struct fleet *f, struct fleet_view_host **ret, size_t *ret_n);
void fleet_view_free(struct fleet_view_host *v, size_t n);

struct fleet_stats {
	size_t hosts[_HOST_STATE_MAX]; /* by state */
	size_t queued;
	uint64_t *lag_ms; /* malloc'd: since the last message, per up host */
	size_t n_lag;
	uint64_t task_results[COUNTER_KINDS][_TASK_RESULT_MAX]; /* [command kind][result] */
};
/* lag_ms only if want_lag. */
int fleet_stats(struct fleet *f, bool want_lag, struct fleet_stats *ret);

/* ---- what the agent socket tells the fleet ---- */

/* The in-memory state of host_id, creating its record (Auth's answers). */
void fleet_host_mark(struct fleet *f, int64_t host_id, enum host_state state);
/* Facts of a connect (Hello), taken (the pointers are set to NULL). */
struct fleet_facts {
	char *hostname, *labels_json, *agent_version, *apps_json;
};
/* host_id authenticated (was_down: the store says down): up, its facts
 * written at the next tick. -EPERM if it was revoked meanwhile, -ENOMEM. */
int fleet_host_connected(
        struct fleet *f, int64_t host_id, bool was_down, struct fleet_facts *facts);
/* Whether host_id is known and neither pending nor revoked. */
bool fleet_host_active(struct fleet *f, int64_t host_id);
/* A heartbeat with its apps report (taken; NULL: none): -EACCES if the host
 * is not active. */
int fleet_heartbeat(struct fleet *f, int64_t host_id, char *apps_json);
/* A poll: -EACCES if the host is not active. */
int fleet_polled(struct fleet *f, int64_t host_id);
/* The kind of command_id in host_id's queue; KIND_UNSPECIFIED if none. */
Rollwave__Command__Kind fleet_command_kind(struct fleet *f, int64_t host_id, uint64_t command_id);
/* A host's news about a command (state, phase or -1, error, output), in
 * the store; done drops it from the queue and counts its result. */
void fleet_task_news(struct fleet *f, int64_t host_id, uint64_t command_id, const char *state,
        int phase, const char *error, const char *output, bool done);
/* The first command of host_id not yet handed to connection conn, built by
 * build() into what the agent socket sends (NULL: none or cannot): marked
 * sent to conn if built. */
void *fleet_next_command(struct fleet *f, int64_t host_id, uint32_t conn,
        void *(*build)(void *ctx, int64_t host_id, const struct fleet_command *c), void *ctx);

/* The wall clock in ms since the epoch. */
uint64_t fleet_clock_ms(void);

#endif
