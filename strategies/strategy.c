/*
 * strategy: strategy_plan(), which does for every planner what they all
 * need: validated params, checked and sorted hosts, a plan to append to, the
 * counts, and the worst-case rollback. See strategy.h; the registry it
 * looks strategies up in is registry.c.
 */
#include "strategy.h"

#include <inttypes.h>

#include "planner.h"
#include "version.h"

/* Planning order: by name, then by id. */
static int
host_compare(const void *a, const void *b)
{
	const struct plan_host *x = a, *y = b;
	int c = planner_name_compare(x->name, y->name);

	if (c != 0)
		return c;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
id_compare(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int
check_hosts(const struct plan_input *in, struct rw_err *err)
{
	_cleanup_free_ int64_t *ids = NULL;

	for (size_t i = 0; i < in->n_hosts; i++) {
		const struct plan_host *h = &in->hosts[i];

		if (isempty(h->name))
			return rw_err_set(err, -EINVAL, "host %" PRId64 " has no name", h->id);
		if (h->labels)
			for (char *const *l = h->labels; *l; l++)
				if (!strchr(*l, '=') || **l == '=')
					return rw_err_set(err, -EINVAL,
					        "host '%s' has label '%s', not key=value", h->name,
					        *l);
	}
	ids = calloc(in->n_hosts, sizeof(*ids));
	if (!ids)
		return rw_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < in->n_hosts; i++)
		ids[i] = in->hosts[i].id;
	qsort(ids, in->n_hosts, sizeof(*ids), id_compare);
	for (size_t i = 1; i < in->n_hosts; i++)
		if (ids[i] == ids[i - 1])
			return rw_err_set(
			        err, -EINVAL, "host id %" PRId64 " is given twice", ids[i]);
	return 0;
}

/* The worst case: every deployed host rolls back, traffic switches back. */
static int
plan_worst_rollback(const struct deploy_params *p, struct plan *plan, struct rw_err *err)
{
	_cleanup_free_ struct rollback_host *hosts = NULL;
	struct rollback_input rin = {
	        .app = plan->app,
	        .version = plan->version,
	        .switch_back_to = plan->live_color[0] ? plan->live_color : NULL,
	};
	size_t n = 0;

	hosts = calloc(plan->n_hosts ? plan->n_hosts : 1, sizeof(*hosts));
	if (!hosts)
		return rw_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < plan->n_waves; i++)
		for (size_t j = 0; j < plan->waves[i].n_hosts; j++) {
			const struct plan_target *t = &plan->waves[i].hosts[j];

			hosts[n++] = (struct rollback_host) {
			        .id = t->id,
			        .name = t->name,
			        .to_version = t->rollback_to,
			        .up = !t->down,
			};
		}
	rin.hosts = hosts;
	rin.n_hosts = n;
	return plan_rollback(p, &rin, &plan->rollback, err);
}

int
strategy_plan(const struct deploy_params *p, const struct plan_input *in, struct plan **ret,
        struct rw_err *err)
{
	_cleanup_free_ struct plan_host *sorted = NULL;
	_cleanup_plan_free_ struct plan *plan = NULL;
	const struct strategy_ops *s;
	struct plan_input sin;
	int r;

	r = deploy_params_validate(p, err);
	if (r < 0)
		return r;
	s = strategy_lookup(p->strategy);
	if (isempty(in->app) || !app_name_is_valid(in->app))
		return rw_err_set(
		        err, -EINVAL, "'%s' is not a valid app name", in->app ? in->app : "");
	if (isempty(in->version) || !version_is_valid(in->version))
		return rw_err_set(err, -EINVAL, "'%s' is not a valid version",
		        in->version ? in->version : "");
	if (in->n_hosts == 0)
		return rw_err_set(
		        err, -ENOENT, "no eligible hosts for %s: nothing to plan", in->app);
	r = check_hosts(in, err);
	if (r < 0)
		return r;

	sorted = calloc(in->n_hosts, sizeof(*sorted));
	plan = calloc(1, sizeof(*plan));
	if (!sorted || !plan)
		return rw_err_set(err, -ENOMEM, "out of memory");
	memcpy(sorted, in->hosts, in->n_hosts * sizeof(*sorted));
	qsort(sorted, in->n_hosts, sizeof(*sorted), host_compare);
	sin = (struct plan_input) {in->app, in->version, sorted, in->n_hosts};

	plan->app = strdup(in->app);
	plan->version = strdup(in->version);
	if (!plan->app || !plan->version)
		return rw_err_set(err, -ENOMEM, "out of memory");
	plan->params = *p;
	r = s->plan(p, &sin, plan, err);
	if (r == -ENOMEM)
		return rw_err_set(err, r, "out of memory");
	if (r < 0)
		return r;
	planner_count(plan);
	r = plan_worst_rollback(p, plan, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(plan);
	return 0;
}
