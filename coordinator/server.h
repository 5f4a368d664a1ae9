/*
 * server: the coordinator daemon's sockets and the fleet they serve.
 *
 * Agents (rep0 on Listen=) authenticate once per nng pipe (Hello ->
 * Challenge -> Auth -> Welcome, docs/protocol.md) and then heartbeat and
 * long-poll. Requests are handled on nng's aio callbacks by a pool of
 * contexts; a Poll parks its context until there is a command for the host
 * or the poll timeout passes. Admins (rep0 on AdminSocket=) are served by one
 * thread. Every piece of shared state is under the server lock; SQLite is
 * used under its own lock, never while the server lock is held.
 *
 * Heartbeats update memory only; server_tick() (once a second, from the
 * daemon's loop) flushes last-seen times and marks hosts that missed three
 * heartbeats down; server_expire_polls() (every 50 ms) answers the polls
 * that timed out, so that their answers trickle out instead of leaving in
 * one burst a second.
 */
#ifndef ROLLWAVE_COORDINATOR_SERVER_H
#define ROLLWAVE_COORDINATOR_SERVER_H

#include "coordinator_config.h"

struct server;

/* Opens the database, loads the identity key and the join token, and starts
 * listening. Returns -errno with err naming what failed. */
int server_start(const struct coordinator_config *cfg, struct server **ret, struct rw_err *err);
/* Periodic work; call about once a second. */
void server_tick(struct server *s);
/* Answers the polls parked for POLL_TIMEOUT_MS with "nothing to do";
 * call every 50 ms or so (server_tick() calls it too). */
void server_expire_polls(struct server *s);
/* Moves deployments through their waves; call every 100-250 ms. */
void server_waves_tick(struct server *s);
/* A one-line summary for sd_notify STATUS=. */
void server_status(struct server *s, char *buf, size_t size);
/* Stops listening, answers nothing more, flushes and frees. */
void server_stop(struct server *s);

#endif
