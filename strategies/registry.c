/*
 * registry: the strategies by name. See registry.h.
 */
#include "registry.h"

#include "util.h"

static const struct strategy_ops *const strategies[] = {
        &strategy_all_at_once,
        &strategy_rolling,
        &strategy_canary,
        &strategy_ring,
        &strategy_blue_green,
};

const struct strategy_ops *
strategy_lookup(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(strategies); i++)
		if (streq(strategies[i]->name, name))
			return strategies[i];
	return NULL;
}

const struct strategy_ops *const *
strategy_list(size_t *ret_n)
{
	*ret_n = ELEMENTSOF(strategies);
	return strategies;
}
