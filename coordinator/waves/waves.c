/*
 * waves/waves.c: the engine: the registry of active deployments, the tick, the one
 * transition table and the only function that applies a step's result.
 */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>

#include "log.h"
#include "plan_json.h"
#include "strategy.h"
#include "waves_private.h"

uint64_t
waves_now(struct waves *e)
{
	return e->fleet->now_ms(e->fleet_ud);
}

/* ---- states, steps and the one transition table ---- */

static const char *const dep_state_names[_DEP_STATE_MAX] = {
        [DEP_PENDING] = "pending",
        [DEP_RUNNING] = "running",
        [DEP_PAUSED] = "paused",
        [DEP_SUCCEEDED] = "succeeded",
        [DEP_FAILED] = "failed",
        [DEP_ROLLED_BACK] = "rolled_back",
        [DEP_ABORTED] = "aborted",
        [DEP_PLANNED] = "planned",
};

static const char *const wave_step_names[_WAVE_STEP_MAX] = {
        [STEP_NONE] = "",
        [STEP_PREFLIGHT] = "preflight",
        [STEP_FREEZE] = "freeze",
        [STEP_MIGRATE] = "migrate",
        [STEP_START] = "start",
        [STEP_APPROVAL] = "approval",
        [STEP_DEPLOYING] = "deploying",
        [STEP_SWITCH] = "switch",
        [STEP_BAKE] = "bake",
        [STEP_GATES] = "gates",
        [STEP_ROLLBACK] = "rollback",
};

const char *
dep_state_to_string(enum dep_state s)
{
	return (unsigned)s < _DEP_STATE_MAX ? dep_state_names[s] : "unknown";
}

int
dep_state_from_string(const char *s, enum dep_state *ret)
{
	for (size_t i = 0; i < _DEP_STATE_MAX; i++)
		if (streq(s, dep_state_names[i])) {
			*ret = (enum dep_state)i;
			return 0;
		}
	return -EINVAL;
}

const char *
wave_step_to_string(enum wave_step s)
{
	return (unsigned)s < _WAVE_STEP_MAX ? wave_step_names[s] : "unknown";
}

int
wave_step_from_string(const char *s, enum wave_step *ret)
{
	for (size_t i = 0; i < _WAVE_STEP_MAX; i++)
		if (streq(s, wave_step_names[i])) {
			*ret = (enum wave_step)i;
			return 0;
		}
	return -EINVAL;
}

bool
dep_state_is_active(enum dep_state s)
{
	return s == DEP_PENDING || s == DEP_RUNNING || s == DEP_PAUSED;
}

/* The drawing of waves_private.h as a table: the edges out of each state
 * and out of each step (a self-edge is always allowed: resume of a running
 * deployment, a rollback asked again). */
#define EDGE(x) (1u << (x))
#define STEPS_OF_A_WAVE                                                                            \
	(EDGE(STEP_FREEZE) | EDGE(STEP_APPROVAL) | EDGE(STEP_DEPLOYING) | EDGE(STEP_SWITCH))
#define FINISHED_STATES                                                                            \
	(EDGE(DEP_SUCCEEDED) | EDGE(DEP_FAILED) | EDGE(DEP_ROLLED_BACK) | EDGE(DEP_ABORTED))

static const unsigned dep_state_edges[_DEP_STATE_MAX] = {
        [DEP_PENDING] = EDGE(DEP_RUNNING) | EDGE(DEP_PAUSED) | FINISHED_STATES,
        [DEP_RUNNING] = EDGE(DEP_PAUSED) | FINISHED_STATES,
        [DEP_PAUSED] = EDGE(DEP_RUNNING) | EDGE(DEP_ABORTED),
        [DEP_SUCCEEDED] = EDGE(DEP_RUNNING),
        [DEP_FAILED] = EDGE(DEP_RUNNING),
        [DEP_ROLLED_BACK] = EDGE(DEP_RUNNING),
        [DEP_ABORTED] = EDGE(DEP_RUNNING),
        [DEP_PLANNED] = 0,
};

/* Every active step may also go to rollback and to "" (finished). */
static const unsigned dep_step_edges[_WAVE_STEP_MAX] = {
        [STEP_NONE] = EDGE(STEP_START) | STEPS_OF_A_WAVE,
        [STEP_PREFLIGHT] = EDGE(STEP_FREEZE) | EDGE(STEP_MIGRATE),
        [STEP_FREEZE] = EDGE(STEP_PREFLIGHT) | STEPS_OF_A_WAVE,
        [STEP_MIGRATE] = EDGE(STEP_START),
        [STEP_START] = STEPS_OF_A_WAVE,
        [STEP_APPROVAL] = STEPS_OF_A_WAVE,
        [STEP_DEPLOYING] = EDGE(STEP_BAKE),
        [STEP_SWITCH] = EDGE(STEP_BAKE),
        [STEP_BAKE] = EDGE(STEP_GATES) | EDGE(STEP_START),
        [STEP_GATES] = EDGE(STEP_START),
        [STEP_ROLLBACK] = 0,
};

bool
dep_edge_allowed(enum dep_state from_state, enum wave_step from_step, enum dep_state to_state,
        enum wave_step to_step)
{
	if ((unsigned)to_state >= _DEP_STATE_MAX ||
	        ((unsigned)to_step >= _WAVE_STEP_MAX && to_step != from_step))
		return false;
	/* Out of a state or step this coordinator does not know (dep_load()),
	 * there is no drawing to check against. */
	if ((unsigned)from_state >= _DEP_STATE_MAX || (unsigned)from_step >= _WAVE_STEP_MAX)
		return true;
	if (from_state != to_state && !(dep_state_edges[from_state] & EDGE(to_state)))
		return false;
	/* Finished: no step; the step of an active one moves along its edges. */
	if (!dep_state_is_active(to_state))
		return to_step == STEP_NONE;
	return from_step == to_step || to_step == STEP_ROLLBACK || to_step == STEP_NONE ||
	        (dep_step_edges[from_step] & EDGE(to_step));
}

/* Checks that d may go to (state, step): an edge of the drawing. */
static void
assert_dep_state(const struct dep *d, enum dep_state state, enum wave_step step)
{
	if (dep_edge_allowed(d->state, d->step, state, step))
		return;
	log_error("deployment %" PRId64 ": %s/%s -> %s/%s is not an edge of the drawing", d->row.id,
	        dep_state_to_string(d->state), wave_step_to_string(d->step),
	        dep_state_to_string(state), wave_step_to_string(step));
	assert(!"a deployment transition outside the drawing");
}

static void
dep_set_state(struct dep *d, enum dep_state state)
{
	assert_dep_state(d, state, dep_state_is_active(state) ? d->step : STEP_NONE);
	d->state = state;
	strbuf_printf(d->row.state, sizeof(d->row.state), "%s", dep_state_to_string(state));
}

/* The step's clock (WaveTimeout=, Bake=) starts again, even for the same
 * step (a rollback asked again). */
void
dep_set_step(struct dep *d, enum wave_step step, uint64_t now)
{
	assert_dep_state(d, d->state, step);
	d->step = step;
	strbuf_printf(d->row.step, sizeof(d->row.step), "%s", wave_step_to_string(step));
	d->row.step_since_ms = now;
}

void
dep_set_reason(struct dep *d, const char *reason)
{
	char *n = strdup(reason ? reason : "");

	if (n) {
		free(d->row.reason);
		d->row.reason = n;
	}
}

/* Ends d in state (reason NULL: the reason stays), audited by actor. */
void
dep_finish_by(struct waves *e, struct dep *d, const char *actor, enum dep_state state,
        const char *reason, uint64_t now)
{
	char action[48];

	dep_set_step(d, STEP_NONE, now);
	dep_set_state(d, state);
	if (reason)
		dep_set_reason(d, reason);
	d->row.finished_ms = now;
	strbuf_printf(action, sizeof(action), "deploy.%s", dep_state_to_string(state));
	dep_save(e, d, actor, action, "%s", d->row.reason);
}

static void
dep_finish(struct waves *e, struct dep *d, enum dep_state state, const char *reason, uint64_t now)
{
	dep_finish_by(e, d, "coordinator", state, reason, now);
}

void
dep_begin_rollback(
        struct waves *e, struct dep *d, const char *actor, const char *reason, uint64_t now)
{
	/* A traffic switch still running is stopped: what it did is unknown,
	 * so the rollback's switch back runs in any case (and its own process
	 * is not mistaken for this one). */
	if (d->switch_pid > 0) {
		kill(d->switch_pid, SIGKILL);
		(void)waitpid(d->switch_pid, NULL, 0);
		d->switch_pid = 0;
	}
	dep_set_step(d, STEP_ROLLBACK, now);
	dep_set_reason(d, reason);
	plan_free(d->rollback);
	d->rollback = NULL;
	dep_index_rollback(d);
	d->rb_verdict[0] = 0;
	/* Hosts still deploying stop at their next safe point. */
	dep_stop_hosts(e, d);
	dep_save(e, d, actor, "deploy.rollback", "%s", reason);
}

/* The one place a step's result becomes a transition. True if the next
 * step runs at once, in the same round (r->chain, a next wave). */
static bool
dep_apply(struct waves *e, struct dep *d, const struct step_result *r, uint64_t now)
{
	switch (r->kind) {
	case RESULT_HOLD:
		return false;
	case RESULT_GOTO:
		if (r->audit_first && r->action) {
			/* The row keeps the step it leaves until what follows saves. */
			dep_save(e, d, "coordinator", r->action, "%s", r->why);
			dep_set_step(d, r->step, now);
			return r->chain;
		}
		dep_set_step(d, r->step, now);
		if (r->state != d->state)
			dep_set_state(d, r->state);
		if (r->action)
			dep_save(e, d, "coordinator", r->action, "%s", r->why);
		else if (r->save)
			dep_save(e, d, NULL, NULL, NULL);
		if (r->live_color)
			dep_record_live_color(e, d, r->live_color);
		return r->chain;
	case RESULT_NEXT_WAVE:
		d->row.wave++;
		d->verdict[0] = 0;
		if ((size_t)d->row.wave >= d->plan->n_waves) {
			d->row.wave = (int)d->plan->n_waves - 1;
			dep_finish(e, d, DEP_SUCCEEDED, "every wave is healthy", now);
			return false;
		}
		dep_set_step(d, STEP_START, now);
		return true;
	case RESULT_ROLLBACK:
		dep_begin_rollback(e, d, "coordinator", r->why, now);
		return false;
	case RESULT_FINISH:
		dep_finish(e, d, r->state, r->keep_reason ? NULL : r->why, now);
		return false;
	}
	return false;
}

/* The step function of d's current step. */
static struct step_result
dep_step(struct waves *e, struct dep *d, uint64_t now)
{
	switch (d->step) {
	case STEP_ROLLBACK:
		dep_refresh_health(e, d, SIZE_MAX, true, now);
		return step_rollback(e, d, now);
	case STEP_PREFLIGHT:
		return step_preflight(e, d, now);
	case STEP_FREEZE:
		/* A freeze before anything started is the preflight's. */
		if (d->row.wave == 0 && !dep_preflight_started(d))
			return step_preflight(e, d, now);
		return step_start(e, d, now);
	case STEP_MIGRATE:
		return step_migrate(e, d, now);
	case STEP_NONE:
	case STEP_START:
	case STEP_APPROVAL:
		return step_start(e, d, now);
	case STEP_DEPLOYING:
		return step_deploying(e, d, now);
	case STEP_SWITCH:
		return step_switch(e, d, now);
	case STEP_BAKE:
		return step_bake(e, d, now);
	case STEP_GATES:
		return step_gates(e, d, now);
	case _WAVE_STEP_MAX:
		break;
	}
	return result_hold();
}

/* One round: the tasks are read, then d's step runs, and the steps it
 * chains to (preflight -> migrate -> start, a next wave's start). */
static void
dep_tick_once(struct waves *e, struct dep *d, uint64_t now)
{
	struct step_result r;

	if (d->state != DEP_RUNNING && d->state != DEP_PENDING)
		return;
	if (dep_load_tasks(e, d) < 0)
		return;
	if (d->step != STEP_ROLLBACK && d->plan->n_waves == 0) {
		dep_finish(e, d, DEP_SUCCEEDED, "nothing to do", now);
		return;
	}
	do
		r = dep_step(e, d, now);
	while (dep_apply(e, d, &r, now));
}

/* Steps that need nothing from outside (a bake of 0 ending, the next wave
 * starting) follow each other in the same tick, at most 8 rounds. */
void
dep_tick(struct waves *e, struct dep *d, uint64_t now)
{
	for (int i = 0; i < 8; i++) {
		enum dep_state state = d->state;
		enum wave_step step = d->step;
		int wave = d->row.wave;

		dep_tick_once(e, d, now);
		if (wave == d->row.wave && state == d->state && step == d->step)
			break;
	}
}

/* ---- loading ---- */

int
dep_load(const struct deployment_row *row, struct dep **ret, struct rw_err *err)
{
	struct dep *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->row = *row;
	d->row.manifest_url = strdup(row->manifest_url ? row->manifest_url : "");
	d->row.params = strdup(row->params ? row->params : "");
	d->row.selector = strdup(row->selector ? row->selector : "");
	d->row.plan = strdup(row->plan ? row->plan : "");
	d->row.reason = strdup(row->reason ? row->reason : "");
	if (!d->row.manifest_url || !d->row.params || !d->row.selector || !d->row.plan ||
	        !d->row.reason) {
		dep_free(d);
		return -ENOMEM;
	}
	/* A state or step this coordinator does not know (a row written by
	 * another version) is kept as the row's string: such a deployment is
	 * loaded, runs no step and takes the admin actions. */
	if (dep_state_from_string(d->row.state, &d->state) < 0)
		d->state = _DEP_STATE_MAX;
	if (wave_step_from_string(d->row.step, &d->step) < 0)
		d->step = _WAVE_STEP_MAX;
	deploy_params_init(&d->params);
	r = deploy_params_load_buffer(
	        &d->params, "deployment options", d->row.params, strlen(d->row.params), err);
	if (r < 0) {
		dep_free(d);
		return r;
	}
	r = plan_from_json(
	        d->row.plan, d->row.app, d->row.version, &d->params, &d->plan, &d->rollback);
	if (r < 0) {
		dep_free(d);
		return rw_err_set(err, r, "its plan cannot be read");
	}
	if (d->row.wave < 0 || (d->plan->n_waves && (size_t)d->row.wave >= d->plan->n_waves)) {
		int wave = d->row.wave;

		dep_free(d);
		return rw_err_set(err, -EINVAL, "its wave %d is not in its plan", wave + 1);
	}
	r = dep_index(d);
	if (r < 0) {
		dep_free(d);
		return r;
	}
	dep_index_rollback(d);
	*ret = d;
	return 0;
}

static int
load_active_cb(void *userdata, const struct deployment_row *row)
{
	struct waves *e = userdata;
	struct rw_err err = {{0}};
	struct dep *d;
	int r;

	if (isempty(row->plan))
		return 0; /* schema 2: all at once, handled by the server */
	r = dep_load(row, &d, &err);
	if (r < 0) {
		struct deployment_row failed = *row;
		char why[WIRE_TEXT_MAX];

		/* It must not hold its app for ever: it ends failed, saying why. */
		strbuf_printf(why, sizeof(why), "the coordinator could not resume it: %s",
		        err.msg[0] ? err.msg : strerror(-r));
		log_error("deployment %" PRId64 ": %s", row->id, why);
		strbuf_printf(
		        failed.state, sizeof(failed.state), "%s", dep_state_to_string(DEP_FAILED));
		failed.step[0] = 0;
		failed.reason = why;
		failed.finished_ms = waves_now(e);
		(void)db_deployment_save(e->db, &failed, "coordinator", "deploy.failed", why);
		return 0;
	}
	waves_add(e, d);
	log_notice("deployment %" PRId64 " (%s %s) resumes: %s, wave %d/%zu, %s", row->id, row->app,
	        row->version, row->state, row->wave + 1, d->plan->n_waves,
	        row->step[0] ? row->step : "start");
	return 0;
}

void
waves_stop(struct waves *e)
{
	if (!e)
		return;
	while (e->deps) {
		struct dep *d = e->deps;

		e->deps = d->next;
		dep_free(d);
	}
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int
waves_start(const struct waves_config *c, struct waves **ret, struct rw_err *err)
{
	struct waves *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	e->db = c->db;
	e->cfg = c->cfg;
	e->fleet = c->fleet;
	e->fleet_ud = c->fleet_userdata;
	e->started_ms = c->started_ms;
	r = db_deployments_foreach(e->db, NULL, true, 0, load_active_cb, e);
	if (r < 0) {
		waves_stop(e);
		return rw_err_set(err, r, "cannot load the active deployments: %s", strerror(-r));
	}
	*ret = e;
	return 0;
}

void
waves_tick(struct waves *e)
{
	uint64_t now;

	if (!e)
		return;
	now = waves_now(e);
	pthread_mutex_lock(&e->lock);
	for (struct dep **pp = &e->deps; *pp;) {
		struct dep *d = *pp;

		dep_tick(e, d, now);
		if (!dep_state_is_active(d->state)) {
			*pp = d->next;
			dep_free(d);
			continue;
		}
		pp = &d->next;
	}
	pthread_mutex_unlock(&e->lock);
}

/* Adds d to the active deployments (it was loaded or created). */
void
waves_add(struct waves *e, struct dep *d)
{
	d->next = e->deps;
	e->deps = d;
}

struct dep *
waves_find_dep(struct waves *e, int64_t id)
{
	for (struct dep *d = e->deps; d; d = d->next)
		if (d->row.id == id)
			return d;
	return NULL;
}

/* Back to running; the current step's clocks (WaveTimeout, bake) do not
 * count the time it stood paused. */
void
dep_resume(struct dep *d, uint64_t now)
{
	if (d->state == DEP_PAUSED && d->row.paused_ms && d->row.step_since_ms &&
	        now > d->row.paused_ms)
		d->row.step_since_ms += now - d->row.paused_ms;
	d->row.paused_ms = 0;
	dep_set_state(d, DEP_RUNNING);
}

/* Paused: every clock of the step stops until dep_resume(). */
int
dep_pause(struct waves *e, struct dep *d, const char *actor, uint64_t now)
{
	enum dep_state was = d->state;
	char was_str[sizeof(d->row.state)];
	int r;

	memcpy(was_str, d->row.state, sizeof(was_str));
	dep_set_state(d, DEP_PAUSED);
	d->row.paused_ms = now;
	r = dep_save(e, d, actor, "deploy.pause", "wave %d, %s", d->row.wave + 1, d->row.step);
	if (r < 0) {
		/* Not recorded: it never paused (an undo, not an edge). */
		d->state = was;
		strbuf_printf(d->row.state, sizeof(d->row.state), "%s", was_str);
		d->row.paused_ms = 0;
	}
	return r;
}
