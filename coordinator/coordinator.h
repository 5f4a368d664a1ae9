/*
 * coordinator: the daemon's composition root. It opens the store, loads
 * the identity key and the join token, and starts, in this order, the
 * fleet (hosts in memory), the agent socket, the waves engine, the admin
 * socket and the metrics endpoint; it stops them in the reverse order of
 * their users. Its ticks are called from the daemon's loop (main.c).
 */
#ifndef ROLLWAVE_COORDINATOR_COORDINATOR_H
#define ROLLWAVE_COORDINATOR_COORDINATOR_H

#include <stddef.h>

#include "coordinator_config.h"

struct coordinator;

/* init: creates what is missing of the database, the identity key, the
 * join token and (for a tls+tcp:// Listen= or AdminSocket=) a CA and a
 * server certificate valid days, for extra_sans too; prints what it did.
 * -errno once it has logged why. */
#define COORDINATOR_SAN_MAX 16
int coordinator_init(
        const struct coordinator_config *c, char **extra_sans, size_t n_extra, unsigned days);
/* admin-cert: a client certificate for name, valid days, written to out,
 * from init's CA. -errno once it has logged why. */
int coordinator_admin_cert(
        const struct coordinator_config *c, const char *name, const char *out, unsigned days);

/* Returns -errno with err naming what failed. */
int coordinator_start(
        const struct coordinator_config *cfg, struct coordinator **ret, struct rw_err *err);
/* Periodic work: hosts that missed their heartbeats, batched store
 * writes; call about once a second. */
void coordinator_tick(struct coordinator *c);
/* Answers the long polls that timed out; call every 50 ms or so. */
void coordinator_expire_polls(struct coordinator *c);
/* Moves deployments through their waves; call every 100-250 ms. */
void coordinator_waves_tick(struct coordinator *c);
/* A one-line summary for sd_notify STATUS=. */
void coordinator_status(struct coordinator *c, char *buf, size_t size);
/* Stops listening, answers nothing more, flushes and frees. */
void coordinator_stop(struct coordinator *c);

#endif
