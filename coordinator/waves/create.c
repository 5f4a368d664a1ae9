/*
 * waves/create.c: CreateDeployment (and `rollwave plan`): the hosts gathered from the
 * store and the fleet, the plan, the new row.
 */
#include <inttypes.h>
#include <jansson.h>

#include "freeze.h"
#include "log.h"
#include "plan_json.h"
#include "strategy.h"
#include "waves_private.h"

/* ---- admin: create ---- */

struct gather {
	struct waves *e;
	const char *app, *selector;
	const uint64_t *ids;
	size_t n_ids;
	struct plan_host *hosts;
	char ***labels;
	char **names, **currents;
	size_t n, cap;
	bool *seen_ids;
	char missing[256];
};

static int
gather_grow(struct gather *g)
{
	size_t ncap = g->cap ? g->cap * 2 : 64;
	struct plan_host *nh = realloc(g->hosts, ncap * sizeof(*nh));
	char ***nl = realloc(g->labels, ncap * sizeof(*nl));
	char **nn = realloc(g->names, ncap * sizeof(*nn));
	char **nc = realloc(g->currents, ncap * sizeof(*nc));

	if (nh)
		g->hosts = nh;
	if (nl)
		g->labels = nl;
	if (nn)
		g->names = nn;
	if (nc)
		g->currents = nc;
	if (!nh || !nl || !nn || !nc)
		return -ENOMEM;
	g->cap = ncap;
	return 0;
}

static int
gather_cb(void *userdata, const struct host_row *h)
{
	struct gather *g = userdata;
	json_t *labels;
	char **lv = NULL;
	char current[VERSION_MAX + 1] = "";
	const char *k;
	json_t *v;
	int health = 0;
	bool configured, up;
	size_t i = 0;

	if (h->state == HOST_PENDING || h->state == HOST_REVOKED)
		return 0;
	if (g->n_ids) {
		bool want = false;

		for (size_t j = 0; j < g->n_ids; j++)
			if ((int64_t)g->ids[j] == h->id) {
				want = true;
				g->seen_ids[j] = true;
			}
		if (!want)
			return 0;
	} else if (!labels_match(h->labels, g->selector))
		return 0;

	{
		struct fleet_host fh = {0};
		bool known = g->e->fleet->host_get(g->e->fleet_ud, h->id, &fh) == 0;
		const char *apps = known && fh.apps_json ? fh.apps_json : h->apps;

		up = known ? fh.state == HOST_UP : h->state == HOST_UP;
		configured = waves_app_status(apps, g->app, current, sizeof(current), &health);
		fleet_host_done(&fh);
	}
	/* Only hosts that have the app (configured, with or without a
	 * release), unless named one by one. */
	if (!configured && !g->n_ids)
		return 0;
	if (g->n == g->cap && gather_grow(g) < 0)
		return -ENOMEM;
	labels = json_loads(h->labels, 0, NULL);
	lv = calloc(json_object_size(labels) + 1, sizeof(*lv));
	json_object_foreach(labels, k, v)
	{
		if (lv && asprintf(&lv[i], "%s=%s", k, json_string_value(v) ?: "") >= 0)
			i++;
	}
	json_decref(labels);
	g->labels[g->n] = lv;
	g->names[g->n] = strdup(isempty(h->hostname) ? "?" : h->hostname);
	g->currents[g->n] = strdup(current);
	g->hosts[g->n] = (struct plan_host) {
	        .id = h->id,
	        .name = g->names[g->n],
	        .labels = lv,
	        .up = up,
	        .current_version = g->currents[g->n],
	};
	g->n++;
	return 0;
}

static void
gather_done(struct gather *g)
{
	for (size_t i = 0; i < g->n; i++) {
		strv_free(g->labels[i]);
		free(g->names[i]);
		free(g->currents[i]);
	}
	free(g->hosts);
	free(g->labels);
	free(g->names);
	free(g->currents);
	free(g->seen_ids);
}

/* The new deployment's options: its own, Strategy=all-at-once for hosts
 * named one by one, the fleet's freeze windows, and for blue-green the
 * live color the app's last switch left. */
static int
create_params(struct waves *e, const Rollwave__AdminRequest__CreateDeployment *c,
        struct deploy_params *params, struct rw_err *err)
{
	struct rw_err perr = {{0}};
	char recorded[16] = "";
	int64_t by = 0;
	int r;

	deploy_params_init(params);
	r = deploy_params_load_buffer(
	        params, "deployment options", c->params, strlen(c->params), &perr);
	if (r >= 0 && c->n_host_ids && !(params->set & (UINT64_C(1) << DEPLOY_KEY_STRATEGY)))
		r = deploy_params_set(params, "Strategy", "all-at-once", &perr);
	/* The fleet's freeze windows (coordinator.conf [Freeze]) join the
	 * deployment's own, and show in its plan and status. */
	if (r >= 0)
		r = coordinator_freeze_apply(e->cfg, params, &perr);
	if (r >= 0)
		r = deploy_params_validate(params, &perr);
	if (r < 0)
		return rw_err_set(err, -EINVAL, "%s", perr.msg);
	if (!streq(params->strategy, "blue-green"))
		return 0;
	/* Blue-green: the live color is the one the last switch left live. */
	r = db_traffic_get(e->db, c->app, recorded, sizeof(recorded), &by);
	if (r == 0 && !(params->set & (UINT64_C(1) << DEPLOY_KEY_LIVE_COLOR)))
		r = deploy_params_set(params, "LiveColor", recorded, &perr);
	else if (r == 0 && !streq(params->live_color, recorded) && !c->force)
		return rw_err_set(err, -EINVAL,
		        "LiveColor=%s, but %s is live for %s since deployment %" PRId64
		        "'s traffic switch; leave LiveColor= out, or use --force if "
		        "traffic was switched by hand",
		        params->live_color, recorded, c->app, by);
	else
		r = 0;
	if (r < 0)
		return rw_err_set(err, -EINVAL, "%s", perr.msg);
	return 0;
}

/* The plan over the hosts the request names (or its selector matches). */
static int
create_plan(struct waves *e, const Rollwave__AdminRequest__CreateDeployment *c,
        const struct deploy_params *params, struct plan **ret, struct rw_err *err)
{
	struct gather g = {.e = e,
	        .app = c->app,
	        .selector = c->selector,
	        .ids = c->host_ids,
	        .n_ids = c->n_host_ids};
	struct plan_input in = {.app = c->app, .version = c->version};
	struct rw_err perr = {{0}};
	int r;

	g.seen_ids = calloc(c->n_host_ids ? c->n_host_ids : 1, sizeof(*g.seen_ids));
	if (!g.seen_ids)
		return rw_err_set(err, -ENOMEM, "out of memory");
	r = db_hosts_foreach(e->db, gather_cb, &g);
	if (r < 0)
		r = rw_err_set(err, -EIO, "cannot read the hosts: %s", strerror(-r));
	for (size_t i = 0; r >= 0 && i < c->n_host_ids; i++)
		if (!g.seen_ids[i])
			r = rw_err_set(err, -EINVAL,
			        "host %" PRIu64 ": no such host, or not accepted", c->host_ids[i]);
	if (r >= 0 && g.n == 0)
		r = rw_err_set(err, -EINVAL,
		        "no accepted host has app '%s'%s%s (hosts report the apps of their "
		        "/etc/rollwave/apps/)",
		        c->app, isempty(c->selector) ? "" : " and matches ",
		        isempty(c->selector) ? "" : c->selector);
	if (r >= 0) {
		in.hosts = g.hosts;
		in.n_hosts = g.n;
		r = strategy_plan(params, &in, ret, &perr);
		if (r < 0)
			r = rw_err_set(err, -EINVAL, "cannot plan: %s", perr.msg);
	}
	gather_done(&g);
	return r;
}

/* `rollwave plan`: the status the deployment would start with. */
static int
create_plan_only(const Rollwave__AdminRequest__CreateDeployment *c, const char *actor,
        const struct deploy_params *params, struct plan *plan, struct arena *a,
        Rollwave__AdminResponse **ret, struct rw_err *err)
{
	struct dep tmp = {0};
	char *ini = NULL;
	int r;

	strbuf_printf(tmp.row.app, sizeof(tmp.row.app), "%s", c->app);
	strbuf_printf(tmp.row.version, sizeof(tmp.row.version), "%s", c->version);
	tmp.state = DEP_PLANNED;
	strbuf_printf(tmp.row.state, sizeof(tmp.row.state), "%s", dep_state_to_string(DEP_PLANNED));
	strbuf_printf(tmp.row.strategy, sizeof(tmp.row.strategy), "%s", params->strategy);
	strbuf_printf(tmp.row.actor, sizeof(tmp.row.actor), "%s", actor);
	tmp.row.manifest_url = (char *)c->manifest_url;
	tmp.row.selector = (char *)c->selector;
	tmp.row.reason = (char *)"";
	(void)deploy_params_to_ini(params, &ini);
	tmp.row.params = ini ? ini : (char *)"";
	tmp.plan = plan;
	tmp.params = *params;
	r = waves_status_reply(a, dep_status(a, &tmp), ret, err);
	free(ini);
	return r;
}

/* Refused before anything is recorded: hosts down (unless --force), or a
 * freeze window with FreezePolicy=refuse. */
static int
create_check(struct waves *e, const Rollwave__AdminRequest__CreateDeployment *c,
        const struct deploy_params *params, const struct plan *plan, struct rw_err *err)
{
	struct gate_result fg;

	if (plan->n_down && !c->force) {
		char list[512] = "";
		size_t n = 0;

		for (size_t w = 0; w < plan->n_waves; w++)
			for (size_t i = 0; i < plan->waves[w].n_hosts; i++)
				if (plan->waves[w].hosts[i].down && n++ < 10)
					strbuf_printf(list + strlen(list),
					        sizeof(list) - strlen(list), "%s%s (%" PRId64 ")",
					        list[0] ? ", " : "", plan->waves[w].hosts[i].name,
					        plan->waves[w].hosts[i].id);
		return rw_err_set(err, -EINVAL,
		        "preflight: %zu host(s) down: %s%s; bring them up, narrow the selector, or "
		        "use --force",
		        n, list, n > 10 ? ", ..." : "");
	}
	if (!params->n_freeze)
		return 0;
	freeze_gate_evaluate(params->freeze, params->n_freeze, params->freeze_policy, true,
	        waves_now(e) * USEC_PER_MSEC, &fg);
	if (fg.verdict == GATE_FAIL)
		return rw_err_set(err, -EINVAL, "%s", fg.why);
	return 0;
}

/* Records the new deployment (pending, at its preflight); *ret_row owns
 * its params and plan. */
static int
create_insert(struct waves *e, const Rollwave__AdminRequest__CreateDeployment *c, const char *actor,
        const struct deploy_params *params, const struct plan *plan, struct deployment_row *row,
        struct rw_err *err)
{
	int64_t id;
	int r;

	if (deploy_params_to_ini(params, &row->params) < 0)
		return rw_err_set(err, -ENOMEM, "out of memory");
	strbuf_printf(row->app, sizeof(row->app), "%s", c->app);
	strbuf_printf(row->version, sizeof(row->version), "%s", c->version);
	strbuf_printf(row->actor, sizeof(row->actor), "%s", actor);
	strbuf_printf(row->state, sizeof(row->state), "%s", dep_state_to_string(DEP_PENDING));
	strbuf_printf(row->strategy, sizeof(row->strategy), "%s", params->strategy);
	/* Every host checks it could take the release, then the migrate
	 * hook runs once, then wave one. */
	strbuf_printf(row->step, sizeof(row->step), "%s", wave_step_to_string(STEP_PREFLIGHT));
	row->manifest_url = (char *)c->manifest_url;
	row->selector = (char *)c->selector;
	row->plan = plan_to_json(plan, NULL);
	row->reason = (char *)"";
	row->force = c->force;
	row->step_since_ms = waves_now(e);
	if (!row->plan)
		return rw_err_set(err, -ENOMEM, "out of memory");
	r = db_deployment_insert(e->db, row, &id);
	if (r == -EEXIST)
		return rw_err_set(err, -EINVAL,
		        "deployment %" PRId64 " of %s is still active: wait for it, or 'rollwave "
		        "abort %" PRId64 "'",
		        id, c->app, id);
	if (r < 0)
		return rw_err_set(err, -EIO, "cannot record the deployment: %s", strerror(-r));
	row->id = id;
	row->created_ms = row->updated_ms = waves_now(e);
	return 0;
}

int
waves_admin_create(struct waves *e, const Rollwave__AdminRequest__CreateDeployment *c,
        const char *actor, struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err)
{
	struct deploy_params params;
	struct plan *plan = NULL;
	struct rw_err perr = {{0}};
	struct deployment_row row = {0};
	struct dep *d = NULL;
	int r;

	r = create_params(e, c, &params, err);
	if (r >= 0)
		r = create_plan(e, c, &params, &plan, err);
	if (r < 0)
		return r;
	if (c->plan_only) {
		r = create_plan_only(c, actor, &params, plan, a, ret, err);
		plan_free(plan);
		return r;
	}
	r = create_check(e, c, &params, plan, err);
	if (r >= 0)
		r = create_insert(e, c, actor, &params, plan, &row, err);
	plan_free(plan);
	if (r >= 0) {
		r = dep_load(&row, &d, &perr);
		if (r < 0)
			r = rw_err_set(err, -EIO, "deployment %" PRId64 ": %s", row.id,
			        perr.msg[0] ? perr.msg : strerror(-r));
	}
	free(row.params);
	free(row.plan);
	if (r < 0)
		return r;
	waves_add(e, d);
	log_notice("deployment %" PRId64 " by %s: %s %s, %s, %zu host(s) in %zu wave(s)", row.id,
	        actor, c->app, c->version, d->row.strategy, d->n_hosts, d->plan->n_waves);
	dep_tick(e, d, waves_now(e));
	return waves_status_reply(a, dep_status(a, d), ret, err);
}
