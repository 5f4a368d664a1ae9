/*
 * rolling: waves of Batch= hosts in planning order, "batch 1/K" to
 * "batch K/K". A percentage batch rounds up against all hosts (25% of 10
 * hosts is 3, so 3+3+3+1); the last batch takes what is left.
 */
#include "planner.h"
#include "strategy.h"

static int
rolling_plan(const struct deploy_params *p, const struct plan_input *in, struct plan *plan,
        struct rw_err *err)
{
	_cleanup_free_ const struct plan_host **hosts = NULL;
	size_t batch, count;
	int r;

	(void)err;
	r = planner_pointers(in, &hosts);
	if (r < 0)
		return r;
	batch = deploy_amount_hosts(&p->batch, in->n_hosts);
	if (batch == 0)
		batch = 1;
	count = (in->n_hosts + batch - 1) / batch;
	for (size_t i = 0; i < count; i++) {
		size_t from = i * batch;
		size_t n = in->n_hosts - from < batch ? in->n_hosts - from : batch;
		struct plan_wave *w;

		r = planner_wave_add(plan, p, PLAN_WAVE_DEPLOY, &w, "batch %zu/%zu", i + 1, count);
		if (r < 0)
			return r;
		w->approval = planner_approval(p, i);
		r = planner_wave_set_hosts(w, hosts + from, n, in->version, p, in->n_hosts);
		if (r < 0)
			return r;
	}
	return 0;
}

const struct strategy_ops strategy_rolling = {
        .name = "rolling",
        .summary = "waves of Batch= hosts (N or P%), MaxUnavailable= at a time",
        .validate = NULL,
        .plan = rolling_plan,
};
