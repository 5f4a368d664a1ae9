/*
 * all_at_once: every host in one wave, "all". MaxUnavailable= still bounds
 * how many deploy at the same time; FailureBudget= and the metric gates
 * still decide whether the deployment stands.
 */
#include "planner.h"
#include "strategy.h"

static int
all_at_once_plan(const struct deploy_params *p, const struct plan_input *in, struct plan *plan,
        struct rw_err *err)
{
	_cleanup_free_ const struct plan_host **hosts = NULL;
	struct plan_wave *w;
	int r;

	(void)err;
	r = planner_pointers(in, &hosts);
	if (r < 0)
		return r;
	r = planner_wave_add(plan, p, PLAN_WAVE_DEPLOY, &w, "all");
	if (r < 0)
		return r;
	return planner_wave_set_hosts(w, hosts, in->n_hosts, in->version, p, in->n_hosts);
}

const struct strategy_ops strategy_all_at_once = {
        .name = "all-at-once",
        .summary = "every host in one wave",
        .validate = NULL,
        .plan = all_at_once_plan,
};
