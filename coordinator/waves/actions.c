/*
 * waves/actions.c: admin actions on a deployment (approve, pause, resume, abort,
 * rollback) and the dispatch of waves_admin().
 */
#include <inttypes.h>

#include "log.h"
#include "waves_private.h"

/* ---- admin: actions ---- */

/* An action on a deployment that is not active: refused, saying why. */
static int
action_refuse_inactive(
        struct waves *e, const Rollwave__AdminRequest__DeploymentAction *act, struct rw_err *err)
{
	struct deployment_row row;
	char why[512];
	int r;

	r = db_deployment_get(e->db, (int64_t)act->deployment_id, &row);
	if (r < 0)
		return rw_err_set(err, -EINVAL, "no such deployment");
	if (isempty(row.plan))
		snprintf(why, sizeof(why),
		        "deployment %" PRIu64 " (%s) was sent with --hosts: it has no "
		        "waves to approve, pause, resume or abort; its hosts finish their "
		        "commands ('rollwave rollback %s --hosts ...' undoes it)",
		        act->deployment_id, row.state, row.app);
	else
		snprintf(why, sizeof(why), "deployment %" PRIu64 " is %s; it takes no more actions",
		        act->deployment_id, row.state);
	deployment_row_done(&row);
	return rw_err_set(err, -EINVAL, "%s", why);
}

static void
action_abort(struct waves *e, struct dep *d, bool rollback, const char *actor, uint64_t now)
{
	char why[512];

	snprintf(why, sizeof(why), "aborted by %s", actor);
	if (rollback) {
		bool was_paused = d->state == DEP_PAUSED;

		/* It ends rolled_back (where its hosts are), its reason saying
		 * who aborted it. */
		dep_resume(d, now);
		if (d->step != STEP_ROLLBACK)
			dep_begin_rollback(e, d, actor, why, now);
		else if (was_paused)
			dep_save(e, d, actor, "deploy.resume", "the rollback goes on (%s)", why);
	} else {
		/* Hosts mid-deploy are stopped; nothing is rolled back. */
		dep_stop_hosts(e, d);
		dep_finish_by(e, d, actor, DEP_ABORTED, why, now);
	}
}

static int
waves_admin_action(struct waves *e, const Rollwave__AdminRequest__DeploymentAction *act,
        const char *actor, struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err)
{
	struct dep *d = waves_find_dep(e, (int64_t)act->deployment_id);
	uint64_t now = waves_now(e);
	int r;

	if (!d)
		return action_refuse_inactive(e, act, err);
	switch (act->action) {
	case ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__APPROVE:
		if (d->step != STEP_APPROVAL)
			return rw_err_set(err, -EINVAL,
			        "deployment %" PRId64
			        " is not waiting for an approval (wave %d, %s)",
			        d->row.id, d->row.wave + 1,
			        d->row.step[0] ? d->row.step : d->row.state);
		r = db_approval_add(e->db, d->row.id, d->row.wave, actor);
		if (r < 0 && r != -EALREADY)
			return rw_err_set(err, -EIO, "%s", strerror(-r));
		log_notice("deployment %" PRId64 ": wave %d approved by %s", d->row.id,
		        d->row.wave + 1, actor);
		dep_tick(e, d, now);
		break;
	case ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__PAUSE:
		if (d->state != DEP_RUNNING && d->state != DEP_PENDING)
			return rw_err_set(err, -EINVAL,
			        "deployment %" PRId64 " is %s, not running or pending", d->row.id,
			        d->row.state);
		r = dep_pause(e, d, actor, now);
		if (r < 0)
			return rw_err_set(err, -EIO, "cannot record the pause: %s", strerror(-r));
		break;
	case ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__RESUME:
		if (d->state != DEP_PAUSED)
			return rw_err_set(err, -EINVAL, "deployment %" PRId64 " is %s, not paused",
			        d->row.id, d->row.state);
		dep_resume(d, now);
		r = dep_save(
		        e, d, actor, "deploy.resume", "wave %d, %s", d->row.wave + 1, d->row.step);
		if (r < 0)
			return rw_err_set(err, -EIO, "cannot record the resume: %s", strerror(-r));
		dep_tick(e, d, now);
		break;
	case ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__ABORT:
		action_abort(e, d, act->rollback, actor, now);
		break;
	default:
		return rw_err_set(err, -EINVAL, "unknown action");
	}
	return waves_status_reply(a, dep_status(a, d), ret, err);
}

/* Whether any host of d changed (or may have: its deploy is unfinished),
 * or its migrate hook ran: else rolling it back has nothing to undo. */
static bool
dep_touched(const struct dep *d)
{
	if (streq(d->migrate_task, "committed") && !streq(d->migrate_error ?: "", TASK_HOOK_ABSENT))
		return true;
	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].activated || (d->hosts[i].cmd && !dep_task_final(d->hosts[i].task)))
			return true;
	return false;
}

/* The deployment `rollwave rollback APP` rolls back: the app's latest,
 * active (*ret_loaded false) or loaded from the store (true, not yet
 * active: the caller frees or adds it). */
static int
rollback_find(struct waves *e, const Rollwave__AdminRequest__RollbackApp *rb, struct dep **ret,
        bool *ret_loaded, struct rw_err *err)
{
	struct deployment_row row;
	struct rw_err perr = {{0}};
	char why[512];
	struct dep *d;
	bool loaded = false;
	int r;

	r = db_deployment_latest(e->db, rb->app, &row);
	if (r == -ENOENT)
		return rw_err_set(err, -EINVAL, "app %s has no deployment to roll back", rb->app);
	if (r < 0)
		return rw_err_set(err, -EIO, "%s", strerror(-r));
	d = waves_find_dep(e, row.id);
	if (!d) {
		enum dep_state stored = DEP_FAILED;

		(void)dep_state_from_string(row.state, &stored);
		if (isempty(row.plan) || (stored == DEP_ROLLED_BACK && isempty(rb->to_version))) {
			snprintf(why, sizeof(why),
			        "the latest deployment of %s (%" PRId64 ") is %s%s", rb->app,
			        row.id, row.state, isempty(row.plan) ? " (sent with --hosts)" : "");
			deployment_row_done(&row);
			return rw_err_set(err, -EINVAL, "%s: nothing to roll back%s", why,
			        isempty(row.plan) ? "; use 'rollwave rollback APP --hosts ...'"
			                          : "");
		}
		r = dep_load(&row, &d, &perr);
		deployment_row_done(&row);
		if (r < 0)
			return rw_err_set(err, -EIO, "%s", perr.msg);
		loaded = true;
	} else
		deployment_row_done(&row);
	(void)dep_load_tasks(e, d);
	if (loaded && !dep_touched(d)) {
		snprintf(why, sizeof(why),
		        "deployment %" PRId64
		        " of %s ended %s without changing any host: nothing to "
		        "roll back",
		        d->row.id, rb->app, d->row.state);
		dep_free(d);
		return rw_err_set(err, -EINVAL, "%s", why);
	}
	*ret = d;
	*ret_loaded = loaded;
	return 0;
}

/* A rollback asked (again) starts over: every host's rollback, the switch
 * back and migrate_down are sent anew (tasks already committed count as
 * done when they are read back). */
static void
rollback_forget(struct dep *d)
{
	for (size_t i = 0; i < d->n_hosts; i++) {
		d->hosts[i].rb_cmd = 0;
		d->hosts[i].rb_task[0] = 0;
		d->hosts[i].rb_retries = 0;
		d->hosts[i].rb_seen_ms = 0;
	}
	d->rb_verdict[0] = 0;
	d->switched_back = false;
	d->migrate_down_cmd = 0;
	d->migrate_down_task[0] = 0;
	d->migrate_down_retries = 0;
}

/* rollwave rollback APP [--to VERSION]: the app's latest deployment rolls
 * back (a running one stops; a finished one that changed hosts reopens).
 * Asking again retries the hosts whose rollback failed; --to sends every
 * host that took the release to VERSION instead of its previous one. A
 * refusal changes nothing. */
static int
waves_admin_rollback_app(struct waves *e, const Rollwave__AdminRequest__RollbackApp *rb,
        const char *actor, struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err)
{
	struct rw_err perr = {{0}};
	uint64_t now = waves_now(e);
	char why[512];
	struct plan *old_rollback;
	struct dep *d = NULL;
	bool loaded = false, was_paused, began;
	int r;

	r = rollback_find(e, rb, &d, &loaded, err);
	if (r < 0)
		return r;

	/* Plan first: a --to that cannot be planned changes nothing. */
	old_rollback = d->rollback;
	if (!isempty(rb->to_version) || loaded) {
		d->rollback = NULL;
		dep_refresh_health(e, d, SIZE_MAX, true, now);
		if (dep_plan_rollback(d, rb->to_version, &perr) < 0) {
			d->rollback = old_rollback;
			if (loaded)
				dep_free(d);
			return rw_err_set(err, -EINVAL, "%s", perr.msg);
		}
		plan_free(old_rollback);
	}
	dep_index_rollback(d);
	if (loaded) {
		waves_add(e, d);
		d->row.finished_ms = 0;
	}
	was_paused = d->state == DEP_PAUSED;
	dep_resume(d, now);
	snprintf(why, sizeof(why), "rollback asked by %s%s%s", actor,
	        isempty(rb->to_version) ? "" : " to ", rb->to_version);
	began = d->step != STEP_ROLLBACK;
	if (began) {
		struct plan *keep = d->rollback;

		d->rollback = NULL; /* begin_rollback drops any old plan */
		dep_begin_rollback(e, d, actor, why, now);
		d->rollback = keep;
		dep_index_rollback(d);
	} else {
		/* Again: the rollback restarts its clock, so hosts whose
		 * rollback failed (or went elsewhere than --to) are asked
		 * anew; those already back stay done. */
		dep_set_step(d, STEP_ROLLBACK, now);
		dep_set_reason(d, why);
	}
	rollback_forget(d);
	(void)dep_load_tasks(e, d);
	if (began && !was_paused)
		r = dep_save(e, d, actor, NULL, NULL);
	else
		r = dep_save(e, d, actor, was_paused ? "deploy.resume" : "deploy.rollback",
		        "%s (again)", why);
	if (r < 0)
		return rw_err_set(err, -EIO, "cannot record the rollback: %s", strerror(-r));
	/* The rollback itself runs from waves_tick: the request returns now. */
	return waves_status_reply(a, dep_status(a, d), ret, err);
}

int
waves_admin(struct waves *e, const Rollwave__AdminRequest *req, const char *actor, struct arena *a,
        Rollwave__AdminResponse **ret, struct rw_err *err)
{
	int r;

	if (!e)
		return rw_err_set(
		        err, -EOPNOTSUPP, "this coordinator does not handle that request");
	pthread_mutex_lock(&e->lock);
	switch (req->request_case) {
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_CREATE_DEPLOYMENT:
		r = waves_admin_create(e, req->create_deployment, actor, a, ret, err);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT_STATUS:
		r = waves_admin_status(e, req->get_deployment_status, a, ret, err);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOYMENT_ACTION:
		r = waves_admin_action(e, req->deployment_action, actor, a, ret, err);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK_APP:
		r = waves_admin_rollback_app(e, req->rollback_app, actor, a, ret, err);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HISTORY:
		r = waves_admin_history(e, req->history, a, ret, err);
		break;
	default:
		r = rw_err_set(err, -EOPNOTSUPP, "this coordinator does not handle that request");
		break;
	}
	pthread_mutex_unlock(&e->lock);
	return r;
}
