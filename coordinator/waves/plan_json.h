/*
 * plan_json: a plan (strategies/plan.h) to JSON and back, for the
 * deployments table: {"waves": [{"kind", "name", "hosts": [{"id", "name",
 * "rollback_to", "down", "up_to_date"}], "max_unavailable", "approval",
 * "bake_usec", "timeout_usec", "min_healthy_usec", "metric_gates",
 * "command"}], "n_hosts", ..., "kept": [...], "rollback": [waves]}.
 */
#ifndef ROLLWAVE_COORDINATOR_PLAN_JSON_H
#define ROLLWAVE_COORDINATOR_PLAN_JSON_H

#include "plan.h"

/* p (and the rollback under way, if not NULL) as compact JSON; NULL when
 * out of memory. */
char *plan_to_json(const struct plan *p, const struct plan *rollback);
/* The plan of text for app, version and params (copied into the plan);
 * *ret_rollback (if asked for) the rollback's waves, NULL when there is
 * none. -EINVAL for text that is not such a plan. */
int plan_from_json(const char *text, const char *app, const char *version,
        const struct deploy_params *params, struct plan **ret, struct plan **ret_rollback);

#endif
