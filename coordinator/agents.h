/*
 * agents: the coordinator's agent socket (rep0 on Listen=).
 *
 * Agents authenticate once per nng pipe (Hello -> Challenge -> Auth ->
 * Welcome, docs/protocol.md) and then heartbeat and long-poll. Requests
 * are handled on nng's aio callbacks by a pool of contexts; a Poll parks
 * its context until there is a command for the host or the poll timeout
 * passes. What the agents say goes to the fleet (fleet.h), which tells the
 * socket through its link callbacks that a command is ready or a host must
 * be disconnected.
 *
 * Replies to parked polls leave without the socket's lock, and expired
 * polls are answered a few at a time (agents_expire_polls(), every 50 ms)
 * instead of in one burst a second.
 */
#ifndef ROLLWAVE_COORDINATOR_AGENTS_H
#define ROLLWAVE_COORDINATOR_AGENTS_H

#include "coordinator_config.h"
#include "counters.h"
#include "db.h"
#include "fleet.h"
#include "identity.h"

struct agents;

struct agents_config {
	const struct coordinator_config *cfg;
	struct db *db;
	struct fleet *fleet;
	const struct identity *id; /* signs commands; outlives the socket */
	const char *join_token;    /* "": no host may enrol; outlives the socket */
};

/* Listens on cfg->listen and registers with the fleet. */
int agents_start(const struct agents_config *c, struct agents **ret, struct rw_err *err);
/* Answers the polls parked for their timeout with "nothing to do". */
void agents_expire_polls(struct agents *a);
/* Answers nothing more from now on: the first step of stopping. */
void agents_quiesce(struct agents *a);
/* Closes the socket and frees; NULL is fine. */
void agents_stop(struct agents *a);

struct agents_stats {
	size_t connections, parked, idle_workers, n_workers;
	uint64_t msgs[COUNTER_TYPES]; /* [0]: did not decode */
	uint64_t refused[COUNTER_TYPES][COUNTER_CODES];
};
void agents_stats(struct agents *a, struct agents_stats *ret);

#endif
