/*
 * engine_recover: finishes what an interrupted operation left, from the
 * intent journal (engine.h): leftovers removed, an uncommitted activation
 * checked again (committed or rolled back), a rollback that was under way
 * finished, anything before the swap abandoned.
 */
#include "engine_private.h"

#include "layout.h"
#include "log.h"

/* The swap to in->to happened but was never committed: checks it again,
 * then commits, or rolls back (a deploy) or fails (a rollback). */
static int
recheck_activation(struct op *op, const struct inflight *in, const struct app_record *ar)
{
	struct rw_err err = {{0}};
	int r;

	r = engine_activate_and_check(op, in->to, in->from, &err);
	if (r < 0) {
		char why[900];

		strbuf_printf(why, sizeof(why), "after an interrupted %s: %s", in->op, err.msg);
		if (streq(in->op, "rollback")) {
			strbuf_printf(op->res->message, sizeof(op->res->message),
			        "%s %s is live but not healthy %s", op->app->name, in->to, why);
			engine_finish_uncommitted(
			        op, "recovery", "failed", in->to, ar->previous, "unhealthy");
			return engine_op_finish(op, ENGINE_FAILED, r, "%s", op->res->message);
		}
		return engine_roll_back_locally(
		        op, "recovery", in->to, in->from, ar->previous, why);
	}
	r = engine_commit(op, "recovery", in->to, in->from);
	if (r < 0)
		return engine_op_finish(
		        op, ENGINE_FAILED, r, "cannot record recovery: %s", strerror(-r));
	if (streq(in->op, "deploy"))
		engine_after_commit(op, in->to, in->from);
	return engine_op_finish(op, ENGINE_COMMITTED, 0,
	        "interrupted %s of %s %s re-checked: live and healthy", in->op, op->app->name,
	        in->to);
}

int
engine_recover(struct engine *e, const struct app_config *app, struct engine_result *ret)
{
	struct rw_err err = {{0}};
	struct inflight in = {0};
	struct app_record ar = {0};
	char current[VERSION_MAX + 1] = "";
	struct op op;
	int r, removed;

	engine_op_init(&op, e, app, ret);
	r = layout_open_root(app->root, false, &op.rootfd, &err);
	if (r == -ENOENT) {
		(void)state_inflight_clear(e->state, app->name);
		return engine_op_finish(&op, ENGINE_UNCHANGED, 0, "nothing installed");
	}
	if (r < 0)
		return engine_op_finish(&op, ENGINE_UNCHANGED, r, "%s", err.msg);
	removed = layout_remove_leftovers(op.rootfd);
	if (removed > 0)
		log_struct(LOG_NOTICE, MSGID_RECOVERY, app->name, NULL,
		        "removed %d leftover(s) of an interrupted operation", removed);

	r = layout_read_current(op.rootfd, current);
	if (r < 0)
		return engine_op_finish(
		        &op, ENGINE_FAILED, r, "%s/current is not a rollwave symlink", app->root);
	(void)state_get_app(e->state, app->name, &ar);

	r = state_inflight_get(e->state, app->name, &in);
	if (r == -ENOENT) {
		if (current[0] && !layout_release_exists(op.rootfd, current))
			return engine_op_finish(&op, ENGINE_FAILED, -ENOENT,
			        "%s/current points to %s, which is not on disk", app->root,
			        current);
		return engine_op_finish(&op, ENGINE_UNCHANGED, 0, "nothing to recover");
	}
	if (r < 0)
		return engine_op_finish(
		        &op, ENGINE_FAILED, r, "cannot read the state file: %s", strerror(-r));
	strbuf_printf(ret->from, sizeof(ret->from), "%s", in.from);
	strbuf_printf(ret->to, sizeof(ret->to), "%s", in.to);
	log_struct(LOG_WARNING, MSGID_RECOVERY, app->name, in.to,
	        "recovering an interrupted %s of %s %s (phase %s, 'current' at %s)", in.op,
	        app->name, in.to, inflight_phase_to_string(in.phase),
	        current[0] ? current : "nothing");

	if (in.phase == INFLIGHT_ROLLING_BACK ||
	        (in.phase == INFLIGHT_CHECKING && !streq(current, in.to))) {
		/* It was going back from a sick release: the swap back may or
		 * may not have happened and the units may run either release.
		 * Finish it: `current` to the previous release, restart, verify. */
		return engine_roll_back_locally(&op, "recovery", in.to, in.from, ar.previous,
		        "it was being rolled back when the agent stopped");
	}
	if (in.phase == INFLIGHT_STAGING || !streq(current, in.to)) {
		/* The swap never happened: nothing changed for the running app. */
		strbuf_printf(ret->message, sizeof(ret->message),
		        "interrupted %s of %s was abandoned before activation; %s stays live",
		        in.op, in.to, current[0] ? current : "nothing");
		engine_finish_uncommitted(&op, "recovery", "aborted", NULL, NULL,
		        ar.health[0] ? ar.health : "unknown");
		return engine_op_finish(&op, ENGINE_UNCHANGED, 0, "%s", ret->message);
	}

	/* The swap happened but was never committed: check it again. */
	return recheck_activation(&op, &in, &ar);
}
