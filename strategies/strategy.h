/*
 * strategy: the wave planners and the one entry point to plan.
 *
 * Each strategy is one file exporting one const ops table; look them up by
 * the name Strategy= takes (registry.h, included here). Planners are pure functions of their input:
 * same hosts and params, same plan, byte for byte.
 *
 *   all-at-once  one wave "all"
 *   rolling      waves of Batch= hosts, "batch 1/4" ...
 *   canary       "canary" (Canary= hosts), then "step P%" for each Steps=
 *                entry that adds hosts (a step whose share is already
 *                covered is left out)
 *   ring         one wave per ring, in ring order: "ring 0", "ring 1" ...
 *                (RingLabel=) or "ring 0 (dc1)" ... (Datacenters=)
 *   blue-green   the idle color, then "switch to COLOR"
 *
 * Policies every planner keeps (docs/deployments.md#policies has
 * the details):
 * - 0 eligible hosts is an error; so are duplicate ids and empty names.
 * - Percentages round up against the hosts they apply to.
 * - Down hosts are planned and flagged (plan.h); canaries by count or %
 *   are taken from the up hosts first.
 * - approval: Approval= first/every, RingApproval= per ring; bake: Bake=,
 *   RingBake= per ring; every wave gets WaveTimeout= and MinHealthy=;
 *   MaxUnavailable= (of all hosts, rounded up, at most the wave) or the
 *   whole wave.
 */
#ifndef ROLLWAVE_STRATEGIES_STRATEGY_H
#define ROLLWAVE_STRATEGIES_STRATEGY_H

#include "plan.h"
#include "registry.h"

/* Validates p (deploy_params_validate()), checks and sorts the hosts, runs
 * the strategy named by p->strategy, and plans the worst-case rollback.
 * *ret (free with plan_free()) only on success; errors name the host, key
 * or label at fault. */
int strategy_plan(const struct deploy_params *p, const struct plan_input *in, struct plan **ret,
        struct rw_err *err);

#endif
