/*
 * canary: the canary hosts first, then steps.
 *
 * Canary= picks the canaries: N hosts or P% of all hosts (rounded up),
 * taken in planning order from the hosts that are up, then from the down
 * ones if there are not enough; or every host with label KEY=VALUE, which
 * must match at least one. Steps= are cumulative shares of all hosts,
 * canaries included: a step deploys to the next hosts in planning order
 * until ceil(P% of all hosts) have the version. A step that adds no host
 * (the canaries already cover its share) is left out, so with 200 hosts,
 * Canary=2 and Steps=1%,10%,50%,100% the waves are canary (2), step 10%
 * (18), step 50% (80), step 100% (100).
 */
#include "planner.h"
#include "strategy.h"

/* Marks the canaries in is_canary; returns how many, or -errno. */
static int
pick_canaries(const struct deploy_params *p, const struct plan_input *in, bool *is_canary,
        struct rw_err *err)
{
	size_t want, got = 0;

	if (p->canary_label[0]) {
		char key[DEPLOY_LABEL_MAX];
		const char *eq = strchr(p->canary_label, '='), *value = eq + 1;

		memcpy(key, p->canary_label, (size_t)(eq - p->canary_label));
		key[eq - p->canary_label] = 0;
		for (size_t i = 0; i < in->n_hosts; i++) {
			const char *v = plan_host_label(&in->hosts[i], key);

			if (v && streq(v, value)) {
				is_canary[i] = true;
				got++;
			}
		}
		if (got == 0)
			return rw_err_set(err, -ENOENT,
			        "Canary=%s matches none of the %zu eligible hosts", p->canary_label,
			        in->n_hosts);
		return (int)got;
	}
	want = deploy_amount_hosts(&p->canary, in->n_hosts);
	if (want == 0)
		want = 1;
	/* Up hosts first: a canary that cannot answer proves nothing. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < in->n_hosts && got < want; i++)
			if (!is_canary[i] && in->hosts[i].up == (pass == 0)) {
				is_canary[i] = true;
				got++;
			}
	return (int)got;
}

static int
canary_plan(const struct deploy_params *p, const struct plan_input *in, struct plan *plan,
        struct rw_err *err)
{
	_cleanup_free_ const struct plan_host **order = NULL;
	_cleanup_free_ bool *is_canary = NULL;
	struct plan_wave *w;
	size_t n_canary, done, rest = 0, waves = 1;
	int r;

	is_canary = calloc(in->n_hosts, sizeof(*is_canary));
	order = calloc(in->n_hosts, sizeof(*order));
	if (!is_canary || !order)
		return -ENOMEM;
	r = pick_canaries(p, in, is_canary, err);
	if (r < 0)
		return r;
	n_canary = (size_t)r;

	/* order: the canaries, then everyone else, each in planning order. */
	for (size_t i = 0, c = 0; i < in->n_hosts; i++)
		if (is_canary[i])
			order[c++] = &in->hosts[i];
		else
			order[n_canary + rest++] = &in->hosts[i];

	r = planner_wave_add(plan, p, PLAN_WAVE_DEPLOY, &w, "canary");
	if (r < 0)
		return r;
	r = planner_wave_set_hosts(w, order, n_canary, in->version, p, in->n_hosts);
	if (r < 0)
		return r;

	done = n_canary;
	for (size_t s = 0; s < p->n_steps; s++) {
		struct deploy_amount a = {DEPLOY_AMOUNT_PERCENT, p->steps[s]};
		size_t target = deploy_amount_hosts(&a, in->n_hosts);
		char pct[16];

		if (target <= done)
			continue;
		deploy_amount_format(&a, pct, sizeof(pct));
		r = planner_wave_add(plan, p, PLAN_WAVE_DEPLOY, &w, "step %s", pct);
		if (r < 0)
			return r;
		w->approval = planner_approval(p, waves++);
		r = planner_wave_set_hosts(
		        w, order + done, target - done, in->version, p, in->n_hosts);
		if (r < 0)
			return r;
		done = target;
	}
	return 0;
}

const struct strategy_ops strategy_canary = {
        .name = "canary",
        .summary = "Canary= hosts (N, P% or KEY=VALUE) first, then Steps= (e.g. 10%,50%,100%)",
        .validate = NULL,
        .plan = canary_plan,
};
