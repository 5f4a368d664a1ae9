/*
 * registry: the strategies by name. Each strategy is one file exporting one
 * const ops table; the registry lists them, and knows nothing else, so that
 * deploy_params.c can check Strategy= and run a strategy's own checks
 * without depending on strategy_plan() (strategy.h, which includes this).
 */
#ifndef ROLLWAVE_STRATEGIES_REGISTRY_H
#define ROLLWAVE_STRATEGIES_REGISTRY_H

#include <stddef.h>

struct deploy_params;
struct plan;
struct plan_input;
struct rw_err;

struct strategy_ops {
	const char *name;    /* as Strategy= takes it */
	const char *summary; /* one line for help output */
	/* Checks the options only this strategy cares about; NULL: none. */
	int (*validate)(const struct deploy_params *p, struct rw_err *err);
	/* Appends the waves to plan (already holding app, version and params).
	 * Called by strategy_plan() only: in->hosts is sorted, non-empty,
	 * checked. May fill idle_color, live_color and kept. */
	int (*plan)(const struct deploy_params *p, const struct plan_input *in, struct plan *plan,
	        struct rw_err *err);
};

extern const struct strategy_ops strategy_all_at_once;
extern const struct strategy_ops strategy_rolling;
extern const struct strategy_ops strategy_canary;
extern const struct strategy_ops strategy_ring;
extern const struct strategy_ops strategy_blue_green;

/* The strategy named name, NULL if none. */
const struct strategy_ops *strategy_lookup(const char *name);
/* All strategies, in the order above; *ret_n gets the count. */
const struct strategy_ops *const *strategy_list(size_t *ret_n);

#endif
