/*
 * admin: the coordinator's admin socket (AdminSocket=), served by one
 * thread: each request is decoded, counted and answered by the handler a
 * dispatch table names for it (admin.c). The host requests go to the store
 * and the fleet, the deployments through waves to waves_admin().
 */
#ifndef ROLLWAVE_COORDINATOR_ADMIN_H
#define ROLLWAVE_COORDINATOR_ADMIN_H

#include "coordinator_config.h"
#include "counters.h"
#include "db.h"
#include "fleet.h"
#include "waves.h"

struct admin;

struct admin_config {
	const struct coordinator_config *cfg;
	struct db *db;
	struct fleet *fleet;
	struct waves *waves;
};

/* Opens AdminSocket= and starts the thread that serves it. On failure *ret
 * is set all the same: admin_stop() it. */
int admin_start(const struct admin_config *c, struct admin **ret, struct rw_err *err);
/* Stops the thread (within half a second), closes and frees; NULL is fine. */
void admin_stop(struct admin *ad);

struct admin_stats {
	uint64_t reqs[COUNTER_TYPES]; /* [0]: did not decode */
	uint64_t refused[COUNTER_TYPES][COUNTER_CODES];
};
void admin_stats(struct admin *ad, struct admin_stats *ret);

#endif
