/*
 * plan_rollback: the coordinated rollback as a plan of batches. See the
 * rollback section of plan.h.
 */
#include "plan.h"

#include "planner.h"

static int
rollback_compare(const void *a, const void *b)
{
	const struct rollback_host *x = a, *y = b;
	int c = planner_name_compare(x->name ? x->name : "", y->name ? y->name : "");

	if (c != 0)
		return c;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
add_batch(struct plan *plan, const struct deploy_params *p, const struct rollback_host *hosts,
        size_t n, size_t index, size_t count)
{
	struct plan_wave *w;
	int r;

	r = planner_wave_add(plan, p, PLAN_WAVE_ROLLBACK, &w, "rollback %zu/%zu", index, count);
	if (r < 0)
		return r;
	/* No bake, approval, freeze or metric gate: back as fast as health
	 * allows. */
	w->bake_usec = 0;
	w->metric_gates = false;
	w->hosts = calloc(n, sizeof(*w->hosts));
	if (!w->hosts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct plan_target *t = &w->hosts[i];

		w->n_hosts = i + 1;
		t->id = hosts[i].id;
		t->down = !hosts[i].up;
		t->name = strdup(hosts[i].name);
		if (!t->name)
			return -ENOMEM;
		if (!isempty(hosts[i].to_version)) {
			t->rollback_to = strdup(hosts[i].to_version);
			if (!t->rollback_to)
				return -ENOMEM;
		}
	}
	w->max_unavailable = n;
	return 0;
}

int
plan_rollback(const struct deploy_params *p, const struct rollback_input *in, struct plan **ret,
        struct rw_err *err)
{
	_cleanup_free_ struct rollback_host *sorted = NULL;
	_cleanup_plan_free_ struct plan *plan = NULL;
	size_t batch, count;
	int r;

	for (size_t i = 0; i < in->n_hosts; i++)
		if (isempty(in->hosts[i].name))
			return rw_err_set(err, -EINVAL, "rollback host %zu has no name", i);
	if (in->switch_back_to && isempty(p->traffic_command))
		return rw_err_set(err, -EINVAL,
		        "cannot switch traffic back to %s: there is no TrafficCommand=",
		        in->switch_back_to);
	plan = calloc(1, sizeof(*plan));
	sorted = calloc(in->n_hosts ? in->n_hosts : 1, sizeof(*sorted));
	if (!plan || !sorted)
		return rw_err_set(err, -ENOMEM, "out of memory");
	plan->params = *p;
	plan->app = strdup(in->app ? in->app : "");
	plan->version = strdup(in->version ? in->version : "");
	if (!plan->app || !plan->version)
		return rw_err_set(err, -ENOMEM, "out of memory");
	if (in->n_hosts > 0)
		memcpy(sorted, in->hosts, in->n_hosts * sizeof(*sorted));
	qsort(sorted, in->n_hosts, sizeof(*sorted), rollback_compare);

	if (in->switch_back_to) {
		struct plan_wave *w;

		r = planner_wave_add(
		        plan, p, PLAN_WAVE_SWITCH, &w, "switch back to %s", in->switch_back_to);
		if (r >= 0) {
			w->bake_usec = 0;
			w->min_healthy_usec = 0;
			w->metric_gates = false;
			r = planner_command_expand(p->traffic_command, in->switch_back_to,
			        plan->app, plan->version, &w->command);
		}
		if (r == -EINVAL)
			return rw_err_set(err, r, "TrafficCommand= '%s' has an unknown %% sequence",
			        p->traffic_command);
		if (r < 0)
			return rw_err_set(err, r, "out of memory");
		strbuf_printf(plan->live_color, sizeof(plan->live_color), "%s", in->switch_back_to);
	}

	batch = deploy_amount_hosts(&p->rollback_parallelism, in->n_hosts);
	if (batch == 0)
		batch = 1;
	count = (in->n_hosts + batch - 1) / batch;
	for (size_t i = 0; i < count; i++) {
		size_t from = i * batch,
		       n = in->n_hosts - from < batch ? in->n_hosts - from : batch;

		r = add_batch(plan, p, sorted + from, n, i + 1, count);
		if (r < 0)
			return rw_err_set(err, r, "out of memory");
	}
	planner_count(plan);
	*ret = TAKE_PTR(plan);
	return 0;
}
