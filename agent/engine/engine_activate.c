/*
 * engine_activate: the activation every deploy, rollback and recovery
 * ends with: swap `current`, restart the units, wait for health, then
 * commit, or roll back locally to the release before (engine.h).
 */
#include "engine_private.h"

#include <limits.h>

#include "health.h"
#include "layout.h"
#include "log.h"
#include "units.h"

#define UNITS_JOB_TIMEOUT_USEC (90 * USEC_PER_SEC)

/* Restarts the units and waits for health. Returns 0 when healthy. */
int
engine_activate_and_check(
        struct op *op, const char *version, const char *previous, struct rw_err *err)
{
	const struct app_config *app = op->app;
	struct health_config hc = {
	        .http_get = app->http_get,
	        .tcp_connect = app->tcp_connect,
	        .exec = app->exec,
	        .min_healthy_usec = app->min_healthy_usec,
	        .deadline_usec = app->deadline_usec,
	        .interval_usec = app->interval_usec,
	        .probe_timeout_usec = app->probe_timeout_usec,
	};
	struct health_result hr = {0};
	char dir[PATH_MAX];
	sd_bus *bus = NULL;
	int r;

	engine_op_phase(op, ENGINE_PHASE_RESTARTING);
	if (app->units) {
		r = engine_get_bus(op->e, &bus, err);
		if (r < 0)
			return r;
		r = units_restart(bus, app->units, UNITS_JOB_TIMEOUT_USEC, err);
		if (r < 0)
			return r;
	}
	engine_op_phase(op, ENGINE_PHASE_HEALTH);
	r = xsnprintf(dir, sizeof(dir), "%s/releases/%s", app->root, version);
	if (r < 0)
		return rw_err_set(err, r, "release path too long");
	{
		struct hook_env env = {
		        .app = app->name,
		        .version = version,
		        .previous_version = previous ? previous : "",
		        .release_dir = dir,
		};

		r = health_wait(bus, app->units, &hc, &env, &hr, err);
	}
	if (hr.validate_ran)
		engine_report_hook(op, version, "validate", hr.validate_status, hr.validate_output,
		        hr.validate_output_len, hr.validate_truncated);
	op->res->first_healthy_usec = hr.first_healthy_usec;
	(void)state_set_health(op->e->state, app->name, r < 0 ? "unhealthy" : "healthy");
	return r;
}

/* Makes the result of a successful activation durable. */
int
engine_commit(struct op *op, const char *kind, const char *version, const char *previous)
{
	struct app_record rec = {0};
	struct state *s = op->e->state;
	int r;

	strbuf_printf(rec.current, sizeof(rec.current), "%s", version);
	strbuf_printf(rec.previous, sizeof(rec.previous), "%s", previous ? previous : "");
	strcpy(rec.health, "healthy");
	rec.health_usec = now_realtime_usec();
	r = state_begin(s);
	if (r < 0)
		return r;
	strbuf_printf(op->res->message, sizeof(op->res->message), "%s %s is live and healthy",
	        op->app->name, version);
	if ((r = state_set_app(s, op->app->name, &rec)) < 0 ||
	        (r = state_inflight_clear(s, op->app->name)) < 0) {
		state_rollback(s);
		return r;
	}
	engine_history(op, kind, "committed");
	r = state_commit(s);
	if (r < 0)
		state_rollback(s);
	return r;
}

/* Swaps `current` to version. If the swap reports an error, `current` is
 * read back: the rename may have happened with only the fsync failing, and
 * then the swap counts as done (the caller goes on checking health). */
static int
swap_current_checked(struct op *op, const char *version, struct rw_err *err)
{
	char now[VERSION_MAX + 1];
	int r;

	r = layout_swap_current(op->rootfd, version, err);
	if (r >= 0)
		return 0;
	if (layout_read_current(op->rootfd, now) >= 0 && streq(now, version)) {
		log_struct(LOG_WARNING, NULL, op->app->name, version,
		        "'current' points to %s although the swap reported: %s", version, err->msg);
		return 0;
	}
	return r;
}

/*
 * The new release is live but sick (or its units would not restart): go
 * back to `back_to` if it is on disk. Called with the in-flight row set.
 */
int
engine_roll_back_locally(struct op *op, const char *kind, const char *sick, const char *back_to,
        const char *keep_previous, const char *reason)
{
	struct rw_err err = {{0}};
	char why[768];
	int r;

	strbuf_printf(why, sizeof(why), "%s", reason);
	if (isempty(back_to) || !layout_release_exists(op->rootfd, back_to)) {
		strbuf_printf(op->res->message, sizeof(op->res->message),
		        "%s %s is unhealthy (%s); no previous release on disk to return to, "
		        "'current' stays at %s",
		        op->app->name, sick, why, sick);
		engine_finish_uncommitted(op, kind, "failed", sick, keep_previous, "unhealthy");
		return engine_op_finish(op, ENGINE_FAILED, -EPROTO, "%s", op->res->message);
	}
	log_struct(LOG_WARNING, MSGID_ROLLED_BACK, op->app->name, sick,
	        "%s %s is unhealthy (%s); swapping back to %s", op->app->name, sick, why, back_to);
	/* Journal first: killed after the swap back, recovery must still
	 * restart the units, which may be running the sick release. */
	r = engine_set_inflight(op, kind, back_to, sick, INFLIGHT_ROLLING_BACK);
	if (r < 0)
		log_struct(LOG_WARNING, NULL, op->app->name, sick,
		        "cannot journal the rollback: %s", strerror(-r));
	engine_op_phase(op, ENGINE_PHASE_ACTIVATING);
	r = swap_current_checked(op, back_to, &err);
	if (r < 0) {
		strbuf_printf(op->res->message, sizeof(op->res->message),
		        "%s %s is unhealthy (%s) and swapping back to %s failed: %s", op->app->name,
		        sick, why, back_to, err.msg);
		engine_finish_uncommitted(op, kind, "failed", sick, keep_previous, "unhealthy");
		return engine_op_finish(op, ENGINE_FAILED, r, "%s", op->res->message);
	}
	r = engine_activate_and_check(op, back_to, NULL, &err);
	if (r < 0) {
		strbuf_printf(op->res->message, sizeof(op->res->message),
		        "%s %s was unhealthy (%s); rolled back to %s, which is not healthy either: "
		        "%s",
		        op->app->name, sick, why, back_to, err.msg);
		engine_finish_uncommitted(op, kind, "failed", back_to, keep_previous, "unhealthy");
		return engine_op_finish(op, ENGINE_FAILED, r, "%s", op->res->message);
	}
	strbuf_printf(op->res->message, sizeof(op->res->message),
	        "rolled back to %s: %s %s was unhealthy: %s", back_to, op->app->name, sick, why);
	engine_finish_uncommitted(
	        op, kind, "rolled_back_locally", back_to, keep_previous, "healthy");
	return engine_op_finish(op, ENGINE_ROLLED_BACK, -EPROTO, "%s", op->res->message);
}

/* Swap to `version`, restart, check; commit or roll back to `from`. The
 * in-flight row must already say ACTIVATING. */
int
engine_swap_and_check(struct op *op, const char *kind, const char *version, const char *from,
        const char *old_previous, bool may_roll_back)
{
	struct inflight in = {0};
	struct rw_err err = {{0}};
	int r;

	engine_op_phase(op, ENGINE_PHASE_ACTIVATING);
	r = swap_current_checked(op, version, &err);
	if (r < 0) {
		/* `current` still names the old release: nothing changed. */
		engine_finish_uncommitted(op, kind, "failed", NULL, NULL, "unknown");
		return engine_op_finish(op, ENGINE_UNCHANGED, r, "%s", err.msg);
	}
	r = state_inflight_get(op->e->state, op->app->name, &in);
	if (r >= 0) {
		in.phase = INFLIGHT_CHECKING;
		(void)state_inflight_set(op->e->state, op->app->name, &in);
	}
	r = engine_activate_and_check(op, version, from, &err);
	if (r < 0) {
		if (!may_roll_back) {
			strbuf_printf(op->res->message, sizeof(op->res->message),
			        "%s %s is live but not healthy: %s", op->app->name, version,
			        err.msg);
			engine_finish_uncommitted(
			        op, kind, "failed", version, old_previous, "unhealthy");
			return engine_op_finish(op, ENGINE_FAILED, r, "%s", op->res->message);
		}
		return engine_roll_back_locally(op, kind, version, from, old_previous, err.msg);
	}
	r = engine_commit(op, kind, version, from);
	if (r < 0)
		return engine_op_finish(op, ENGINE_FAILED, r,
		        "%s %s is healthy but recording it failed: %s", op->app->name, version,
		        strerror(-r));
	return 0;
}

void
engine_after_commit(struct op *op, const char *version, const char *previous)
{
	struct rw_err err = {{0}};
	int r;

	r = engine_run_hook(op, version, previous, "after_activate", false, NULL, &err);
	if (r < 0)
		log_struct(LOG_WARNING, NULL, op->app->name, version,
		        "after_activate failed (the release stays live): %s", err.msg);
	r = layout_prune(op->rootfd, op->app->keep_releases, version, previous);
	if (r > 0)
		log_struct(LOG_INFO, NULL, op->app->name, version, "pruned %d old release(s)", r);
}
