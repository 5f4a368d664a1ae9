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
 * The coordinator implements the table over its agent socket (server.c,
 * for now); tests implement it over an in-memory table. Every op may be
 * called from the waves engine's thread with the engine's lock held, and
 * takes whatever lock the fleet needs itself.
 */
#ifndef ROLLWAVE_COORDINATOR_FLEET_H
#define ROLLWAVE_COORDINATOR_FLEET_H

#include <stdlib.h>

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

#endif
