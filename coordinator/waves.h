/*
 * waves: the deployment state machine. A deployment plans its hosts into
 * waves (strategies/), then moves wave by wave through the gates, and when a
 * gate fails rolls every host that took the new release back together.
 *
 *   pending -> running <-> paused -> succeeded | failed | rolled_back | aborted
 *
 * Within the current wave, step says where it is:
 *   freeze     waiting for a deploy-freeze window to end
 *   approval   waiting for `rollwave approve`
 *   deploying  hosts get the release (MaxUnavailable at once) and must be
 *              committed and healthy for MinHealthy within WaveTimeout, the
 *              failure budget counting every failed host
 *   switch     blue-green: the traffic command runs
 *   bake       the wave is healthy; waiting Bake=
 *   gates      metric gates (Prometheus) are asked
 *   rollback   the coordinated rollback runs (the deployment's own waves
 *              stop; hosts still deploying get a CANCEL)
 *
 * Everything that matters is in SQLite (deployments, tasks, approvals; the
 * plan as JSON) and written before it is acted on, so a coordinator killed
 * at any point resumes where it was: tasks it never heard back about are
 * sent again (agents answer a repeated command without running it twice),
 * and health counts only from heartbeats received since the restart.
 *
 * Locking: the engine's own lock comes first (engine -> server -> db).
 */
#ifndef ROLLWAVE_COORDINATOR_WAVES_H
#define ROLLWAVE_COORDINATOR_WAVES_H

#include "server_private.h"

struct waves;

/* Loads the active deployments of the database. */
int waves_start(struct server *s, struct rw_err *err);
void waves_stop(struct server *s);
/* Moves every active deployment on; call often (every 100-250 ms). */
void waves_tick(struct server *s);
/* The admin requests about deployments: CreateDeployment,
 * GetDeploymentStatus, DeploymentAction, RollbackApp, History. NULL if
 * req is none of them. */
nng_msg *waves_admin(struct server *s, uint64_t msgid, const Rollwave__AdminRequest *req,
        const char *actor, struct arena *a);

#endif
