/*
 * waves/status.c: admin replies about deployments: status and history.
 */
#include <inttypes.h>

#include "plan_json.h"
#include "waves_private.h"

/* ---- admin: status ---- */

static Rollwave__DeploymentStatus__Wave *
wave_status(struct arena *a, const struct dep *d, const struct plan_wave *w, size_t index,
        bool rollback, size_t *output_budget)
{
	Rollwave__DeploymentStatus__Wave *ws = arena_alloc(a, sizeof(*ws));
	const char *state = "waiting";

	if (!ws)
		return NULL;
	rollwave__deployment_status__wave__init(ws);
	ws->name = arena_strdup(a, w->name);
	ws->kind = arena_strdup(a, plan_wave_kind_to_string(w->kind));
	ws->max_unavailable = (uint32_t)w->max_unavailable;
	ws->approval = w->approval;
	ws->bake_ms = w->bake_usec / 1000;
	ws->timeout_ms = w->timeout_usec / 1000;
	ws->min_healthy_ms = w->min_healthy_usec / 1000;
	/* Gated only when the deployment has metric gates at all. */
	ws->metric_gates = w->metric_gates && (!d || d->params.n_gates > 0);
	ws->command = arena_strdup(a, w->command ? w->command : "");
	ws->verdict = arena_strdup(a, "");
	if (d && !rollback) {
		bool current = index == (size_t)d->row.wave;

		if (index < (size_t)d->row.wave || (current && d->state == DEP_SUCCEEDED))
			state = "done";
		else if (current && dep_state_is_active(d->state))
			state = d->step == STEP_ROLLBACK ? "failed" : d->row.step;
		else if (current && !dep_state_is_active(d->state))
			state = d->state == DEP_FAILED || d->state == DEP_ROLLED_BACK ||
			                d->state == DEP_ABORTED
			        ? "stopped"
			        : "";
		if (current)
			ws->verdict = arena_strdup(a, d->verdict);
	} else if (d && rollback)
		ws->verdict = arena_strdup(a, d->rb_verdict);
	ws->state = arena_strdup(a, state[0] ? state : "waiting");
	ws->hosts = arena_alloc(a, (w->n_hosts ? w->n_hosts : 1) * sizeof(*ws->hosts));
	if (!ws->hosts)
		return NULL;
	for (size_t i = 0; i < w->n_hosts; i++) {
		Rollwave__DeploymentStatus__Host *h = arena_alloc(a, sizeof(*h));
		const struct dep_host *dh = d ? dep_host((struct dep *)d, w->hosts[i].id) : NULL;

		if (!h)
			return NULL;
		rollwave__deployment_status__host__init(h);
		h->host_id = (uint64_t)w->hosts[i].id;
		h->hostname = arena_strdup(a, w->hosts[i].name);
		h->down = w->hosts[i].down;
		h->up_to_date = w->hosts[i].up_to_date;
		h->rollback_to =
		        arena_strdup(a, w->hosts[i].rollback_to ? w->hosts[i].rollback_to : "");
		h->task = arena_strdup(a, "");
		h->error = arena_strdup(a, "");
		h->hook_output = arena_strdup(a, "");
		if (dh) {
			h->task = arena_strdup(a, rollback ? dh->rb_task : dh->task);
			h->error = arena_strdup(a, (rollback ? dh->rb_error : dh->error) ?: "");
			/* The coordinator's own verdict, when the agent said nothing. */
			if (!rollback && dh->failed && !h->error[0])
				h->error = arena_strdup(a, dh->failed);
			/* What the hooks of a failed host printed: its end. */
			if (!rollback && dh->output && dep_host_failed(dh) && *output_budget > 0) {
				const char *o = waves_text_tail(dh->output, HOST_OUTPUT_MAX);

				if (strlen(o) <= *output_budget) {
					h->hook_output = arena_strdup(a, o);
					*output_budget -= strlen(o);
				}
			}
			h->phase = rollback ? 0 : (Rollwave__Phase)dh->phase;
			h->healthy = dh->healthy;
		}
		ws->hosts[ws->n_hosts++] = h;
	}
	return ws;
}

static Rollwave__DeploymentStatus__Wave **
waves_status(struct arena *a, const struct dep *d, const struct plan *p, bool rollback,
        size_t *output_budget, size_t *ret_n)
{
	Rollwave__DeploymentStatus__Wave **v;

	*ret_n = 0;
	if (!p)
		return NULL;
	v = arena_alloc(a, (p->n_waves ? p->n_waves : 1) * sizeof(*v));
	for (size_t i = 0; v && i < p->n_waves; i++) {
		v[i] = wave_status(a, d, &p->waves[i], i, rollback, output_budget);
		if (!v[i])
			return NULL;
		(*ret_n)++;
	}
	return v;
}

static void
row_status(struct arena *a, const struct deployment_row *row, Rollwave__DeploymentStatus *st)
{
	rollwave__deployment_status__init(st);
	st->deployment_id = (uint64_t)row->id;
	st->app = arena_strdup(a, row->app);
	st->version = arena_strdup(a, row->version);
	st->manifest_url = arena_strdup(a, row->manifest_url);
	/* Rows without a strategy were sent with --hosts, all at once. */
	st->strategy = arena_strdup(a,
	        row->strategy[0]                       ? row->strategy
	                : streq(row->kind, "rollback") ? "rollback"
	                                               : "all-at-once");
	st->state = arena_strdup(a, row->state);
	st->wave = (uint32_t)row->wave;
	st->step = arena_strdup(a, row->step);
	st->reason = arena_strdup(a, row->reason);
	st->actor = arena_strdup(a, row->actor);
	st->created_ms = row->created_ms;
	st->updated_ms = row->updated_ms;
	st->finished_ms = row->finished_ms;
	st->params = arena_strdup(a, row->params);
}

Rollwave__DeploymentStatus *
dep_status(struct arena *a, const struct dep *d)
{
	Rollwave__DeploymentStatus *st = arena_alloc(a, sizeof(*st));
	size_t failed = 0, budget = STATUS_OUTPUT_MAX;

	if (!st)
		return NULL;
	row_status(a, &d->row, st);
	st->waves = waves_status(a, d, d->plan, false, &budget, &st->n_waves);
	st->rollback = waves_status(a, d, d->rollback ? d->rollback : d->plan->rollback,
	        d->rollback != NULL, &budget, &st->n_rollback);
	st->failures_allowed = (uint32_t)d->plan->failures_allowed;
	failed = dep_count_failed(d, SIZE_MAX);
	st->failed = (uint32_t)failed;
	return st;
}

/* A response in a; -ENOMEM (err) if st or it could not be allocated. */
static int
waves_response(struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err)
{
	Rollwave__AdminResponse *resp = arena_alloc(a, sizeof(*resp));

	if (!resp)
		return rw_err_set(err, -ENOMEM, "out of memory");
	rollwave__admin_response__init(resp);
	*ret = resp;
	return 0;
}

int
waves_status_reply(struct arena *a, Rollwave__DeploymentStatus *st, Rollwave__AdminResponse **ret,
        struct rw_err *err)
{
	Rollwave__AdminResponse *resp = NULL;

	if (!st || waves_response(a, &resp, err) < 0)
		return rw_err_set(err, -ENOMEM, "out of memory");
	resp->response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS;
	resp->deployment_status = st;
	*ret = resp;
	return 0;
}

Rollwave__Error__Code
waves_error_code(int r)
{
	switch (r) {
	case -EINVAL:
		return ROLLWAVE__ERROR__CODE__INVALID;
	case -ENOMEM:
		return ROLLWAVE__ERROR__CODE__BUSY;
	case -EOPNOTSUPP:
		return ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE;
	default:
		return ROLLWAVE__ERROR__CODE__INTERNAL;
	}
}

/* A finished deployment, read from the database, as a status. */
static Rollwave__DeploymentStatus *
waves_stored_status(struct waves *e, struct arena *a, const struct deployment_row *row)
{
	struct rw_err err = {{0}};
	Rollwave__DeploymentStatus *st;
	struct dep *d;

	if (isempty(row->plan)) {
		st = arena_alloc(a, sizeof(*st));
		if (st)
			row_status(a, row, st);
		return st;
	}
	if (dep_load(row, &d, &err) < 0) {
		st = arena_alloc(a, sizeof(*st));
		if (st)
			row_status(a, row, st);
		return st;
	}
	(void)dep_load_tasks(e, d);
	st = dep_status(a, d);
	dep_free(d);
	return st;
}

struct history_ctx {
	struct arena *a;
	Rollwave__DeploymentStatus **v;
	size_t n, cap;
};

static int
history_cb(void *userdata, const struct deployment_row *row)
{
	struct history_ctx *c = userdata;
	Rollwave__DeploymentStatus *st;

	if (c->n == c->cap)
		return 0;
	st = arena_alloc(c->a, sizeof(*st));
	if (!st)
		return -ENOMEM;
	row_status(c->a, row, st);
	st->params = arena_strdup(c->a, "");
	c->v[c->n++] = st;
	return 0;
}

int
waves_admin_status(struct waves *e, const Rollwave__AdminRequest__GetDeploymentStatus *g,
        struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err)
{
	struct deployment_row row;
	struct dep *d = NULL;
	int r;

	if (g->deployment_id)
		d = waves_find_dep(e, (int64_t)g->deployment_id);
	else
		for (struct dep *x = e->deps; x; x = x->next)
			if (streq(x->row.app, g->app))
				d = x;
	if (d) {
		(void)dep_load_tasks(e, d);
		dep_refresh_health(e, d, SIZE_MAX, d->step == STEP_ROLLBACK, waves_now(e));
		return waves_status_reply(a, dep_status(a, d), ret, err);
	}
	r = g->deployment_id ? db_deployment_get(e->db, (int64_t)g->deployment_id, &row)
	                     : db_deployment_latest(e->db, g->app, &row);
	if (r == -ENOENT)
		return rw_err_set(err, -EINVAL, "no such deployment");
	if (r < 0)
		return rw_err_set(err, -EIO, "%s", strerror(-r));
	r = waves_status_reply(a, waves_stored_status(e, a, &row), ret, err);
	deployment_row_done(&row);
	return r;
}

int
waves_admin_history(struct waves *e, const Rollwave__AdminRequest__History *h, struct arena *a,
        Rollwave__AdminResponse **ret, struct rw_err *err)
{
	Rollwave__AdminResponse *resp = NULL;
	Rollwave__DeploymentList *l = arena_alloc(a, sizeof(*l));
	struct history_ctx c = {.a = a};
	int r;

	c.cap = h->limit ? h->limit : 20;
	c.v = arena_alloc(a, c.cap * sizeof(*c.v));
	if (!l || !c.v || waves_response(a, &resp, err) < 0)
		return rw_err_set(err, -ENOMEM, "out of memory");
	r = db_deployments_foreach(
	        e->db, isempty(h->app) ? NULL : h->app, false, (unsigned)c.cap, history_cb, &c);
	if (r < 0)
		return rw_err_set(err, -EIO, "%s", strerror(-r));
	rollwave__deployment_list__init(l);
	l->deployments = c.v;
	l->n_deployments = c.n;
	resp->response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_LIST;
	resp->deployment_list = l;
	*ret = resp;
	return 0;
}
