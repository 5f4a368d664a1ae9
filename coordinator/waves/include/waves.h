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
 * The engine sees the fleet through struct fleet_ops (fleet.h) and the
 * store through db.h; it builds admin responses, never socket messages.
 *
 * Locking: the engine's own lock comes first (engine -> fleet -> db).
 */
#ifndef ROLLWAVE_COORDINATOR_WAVES_H
#define ROLLWAVE_COORDINATOR_WAVES_H

#include "codec.h"
#include "coordinator_config.h"
#include "db.h"
#include "fleet.h"
#include "wire.h"

struct waves;

struct waves_config {
	struct db *db;                        /* not owned */
	const struct coordinator_config *cfg; /* HeartbeatInterval=, [Freeze] */
	const struct fleet_ops *fleet;
	void *fleet_userdata;
	uint64_t started_ms; /* when this coordinator started (fleet clock) */
};

/* Loads the active deployments of the database; *ret is the engine. The
 * config's pointers must outlive it. */
int waves_start(const struct waves_config *c, struct waves **ret, struct rw_err *err);
/* Frees the engine (NULL: nothing). */
void waves_stop(struct waves *w);
/* Moves every active deployment on; call often (every 100-250 ms). */
void waves_tick(struct waves *w);
/* The admin requests about deployments: CreateDeployment,
 * GetDeploymentStatus, DeploymentAction, RollbackApp, History. 0 and
 * *ret_resp (allocated in a) on success; a refusal is -errno with err
 * saying why (waves_error_code() gives its code); -EOPNOTSUPP if req is
 * none of them. */
int waves_admin(struct waves *w, const Rollwave__AdminRequest *req, const char *actor,
        struct arena *a, Rollwave__AdminResponse **ret_resp, struct rw_err *err);
/* The Error code of a waves_admin() refusal: INVALID (-EINVAL), BUSY
 * (-ENOMEM), UNKNOWN_TYPE (-EOPNOTSUPP), INTERNAL otherwise. */
Rollwave__Error__Code waves_error_code(int r);

#endif
