/*
 * engine_deploy: the coordinator's DEPLOY and ROLLBACK commands (and the
 * CLI's): a release installed and activated, or an installed one activated
 * again (engine.h).
 */
#include "engine_private.h"

#include "layout.h"
#include "log.h"

int
engine_deploy(struct engine *e, const struct app_config *app, const char *manifest_url,
        const char *expect_version, struct engine_result *ret)
{
	const struct op_begin b = {.kind = "deploy", .create_root = true, .fail = ENGINE_UNCHANGED};
	struct rw_err err = {{0}};
	struct app_record ar;
	struct manifest m = {0};
	char current[VERSION_MAX + 1];
	const char *health, *installed = NULL;
	bool live = false;
	struct op op;
	int r;

	r = engine_op_begin(&op, e, app, ret, &b, current, &ar);
	if (r < 0)
		return r;
	health = ar.health[0] ? ar.health : "unknown";
	if (expect_version)
		strbuf_printf(ret->to, sizeof(ret->to), "%s", expect_version);

	/* Cancel safe points (engine.h) up to the ACTIVATING journal entry. */
	if (engine_cancel_requested(e))
		return engine_op_cancelled(&op, "deploy", NULL, current, health);
	r = engine_fetch_manifest(&op, manifest_url, &m, &err);
	if (r == -ECANCELED)
		return engine_op_cancelled(&op, "deploy", NULL, current, health);
	if (r < 0)
		return engine_op_finish(&op, ENGINE_UNCHANGED, r, "%s", err.msg);
	strbuf_printf(ret->to, sizeof(ret->to), "%s", m.version);
	log_struct(LOG_INFO, MSGID_DEPLOY_START, app->name, m.version, "deploying %s %s over %s",
	        app->name, m.version, current[0] ? current : "nothing");
	if (expect_version && !streq(expect_version, m.version))
		return engine_op_finish(&op, ENGINE_UNCHANGED, -EPERM,
		        "manifest %s is for %s %s, but %s was asked for", manifest_url, m.app,
		        m.version, expect_version);
	r = engine_check_manifest(&op, &m, current, &live, &err);
	if (r < 0)
		return engine_op_finish(&op, ENGINE_UNCHANGED, r, "%s", err.msg);
	if (live)
		return engine_op_finish(
		        &op, ENGINE_UNCHANGED, 0, "%s %s is already live", app->name, m.version);
	if (engine_cancel_requested(e))
		return engine_op_cancelled(&op, "deploy", NULL, current, health);

	r = engine_stage_release(&op, "deploy", manifest_url, &m, false, current, health,
	        ENGINE_UNCHANGED, &installed);
	if (r < 0)
		return r;
	if (engine_cancel_requested(e))
		return engine_op_cancelled(&op, "deploy", installed, current, health);

	r = engine_run_hook(&op, m.version, current, "before_activate", true, NULL, &err);
	if (r == -ECANCELED || (r >= 0 && engine_cancel_requested(e)))
		return engine_op_cancelled(&op, "deploy", installed, current, health);
	if (r < 0) {
		engine_finish_uncommitted(&op, "deploy", "failed", NULL, NULL, health);
		return engine_op_finish(&op, ENGINE_UNCHANGED, r, "%s; %s stays live", err.msg,
		        current[0] ? current : "nothing");
	}

	r = engine_set_inflight(&op, "deploy", current, m.version, INFLIGHT_ACTIVATING);
	if (r < 0)
		return engine_op_finish(
		        &op, ENGINE_UNCHANGED, r, "cannot write the state file: %s", strerror(-r));
	r = engine_swap_and_check(&op, "deploy", m.version, current, ar.previous, true);
	if (r < 0)
		return r;
	engine_after_commit(&op, m.version, current);
	log_struct(LOG_INFO, MSGID_DEPLOY_DONE, app->name, m.version, "%s %s is live and healthy",
	        app->name, m.version);
	return engine_op_finish(
	        &op, ENGINE_COMMITTED, 0, "%s %s is live and healthy", app->name, m.version);
}

int
engine_rollback(struct engine *e, const struct app_config *app, const char *to_version,
        struct engine_result *ret)
{
	const struct op_begin b = {.kind = "rollback", .fail = ENGINE_UNCHANGED};
	_cleanup_strv_free_ char **versions = NULL;
	struct app_record ar;
	char current[VERSION_MAX + 1], target[VERSION_MAX + 1] = "";
	struct op op;
	int r;

	r = engine_op_begin(&op, e, app, ret, &b, current, &ar);
	if (r < 0)
		return r;

	if (to_version) {
		if (!version_is_valid(to_version))
			return engine_op_finish(
			        &op, ENGINE_UNCHANGED, -EINVAL, "invalid version '%s'", to_version);
		strbuf_printf(target, sizeof(target), "%s", to_version);
	} else if (ar.previous[0] && !streq(ar.previous, current)) {
		strbuf_printf(target, sizeof(target), "%s", ar.previous);
	} else {
		/* No recorded previous: the newest release older than current. */
		r = layout_list_releases(op.rootfd, &versions);
		if (r < 0)
			return engine_op_finish(
			        &op, ENGINE_UNCHANGED, r, "cannot list releases: %s", strerror(-r));
		for (char **v = versions; *v; v++)
			if (!current[0] || version_compare(*v, current) < 0) {
				strbuf_printf(target, sizeof(target), "%s", *v);
				break;
			}
		if (!target[0])
			return engine_op_finish(&op, ENGINE_UNCHANGED, -ENOENT,
			        "no release older than %s on disk to roll back to",
			        current[0] ? current : "(none)");
	}
	strbuf_printf(ret->to, sizeof(ret->to), "%s", target);
	if (!layout_release_exists(op.rootfd, target))
		return engine_op_finish(&op, ENGINE_UNCHANGED, -ENOENT,
		        "%s %s is not on disk; rollback only goes to installed releases", app->name,
		        target);
	if (streq(target, current))
		return engine_op_finish(
		        &op, ENGINE_UNCHANGED, 0, "%s %s is already live", app->name, target);

	r = engine_set_inflight(&op, "rollback", current, target, INFLIGHT_ACTIVATING);
	if (r < 0)
		return engine_op_finish(
		        &op, ENGINE_UNCHANGED, r, "cannot write the state file: %s", strerror(-r));
	r = engine_swap_and_check(&op, "rollback", target, current, ar.previous, false);
	if (r < 0)
		return r;
	log_struct(LOG_INFO, MSGID_ROLLED_BACK, app->name, target, "rolled %s back from %s to %s",
	        app->name, current, target);
	return engine_op_finish(&op, ENGINE_COMMITTED, 0,
	        "rolled back to %s; %s %s is live and healthy", target, app->name, target);
}
