/*
 * engine_migrate: the coordinator's MIGRATE and MIGRATE_DOWN commands (see
 * engine.h). A migrate installs the release the way a deploy does, up to
 * and excluding its activation, then runs the release's `migrate` hook:
 *
 *   recover -> fetch+verify manifest -> checks -> [journal: STAGING]
 *     -> fetch artifact -> unpack -> rename to releases/V -> journal cleared
 *     -> migrate hook (never cancelled) -> history
 *
 * A release already on disk (accepted with the same hash) is reused. A
 * cancel before the hook starts removes what this command unpacked. The
 * release stays on disk after the hook, for the deploy that follows (or for
 * pruning).
 */
#include "engine_private.h"

#include <inttypes.h>

#include "layout.h"
#include "log.h"

/* The end of a migrate hook run: COMMITTED, hook_absent, or FAILED. */
static int
hook_outcome(struct op *op, const char *kind, const char *hook, const char *version, int r,
        bool ran, const char *error, const char *live)
{
	const char *health = "unknown";
	struct app_record ar = {0};

	if (state_get_app(op->e->state, op->app->name, &ar) >= 0 && ar.health[0])
		health = ar.health;
	if (r < 0) {
		strbuf_printf(op->res->message, sizeof(op->res->message), "%s; %s stays live",
		        error, live[0] ? live : "nothing");
		engine_finish_uncommitted(op, kind, "failed", NULL, NULL, health);
		log_struct(LOG_ERR, MSGID_DEPLOY_FAILED, op->app->name, version, "%s",
		        op->res->message);
		return engine_op_finish(op, ENGINE_FAILED, r, "%s", op->res->message);
	}
	op->res->hook_absent = !ran;
	if (!ran)
		strbuf_printf(op->res->message, sizeof(op->res->message),
		        "%s %s has no %s hook: nothing to run", op->app->name, version, hook);
	else
		strbuf_printf(op->res->message, sizeof(op->res->message),
		        "%s hook of %s %s succeeded", hook, op->app->name, version);
	engine_finish_uncommitted(op, kind, "committed", NULL, NULL, health);
	log_struct(LOG_INFO, MSGID_DEPLOY_DONE, op->app->name, version, "%s", op->res->message);
	return engine_op_finish(op, ENGINE_COMMITTED, 0, "%s", op->res->message);
}

int
engine_migrate(struct engine *e, const struct app_config *app, const char *manifest_url,
        const char *expect_version, struct engine_result *ret)
{
	const struct op_begin b = {.kind = "migrate", .create_root = true, .fail = ENGINE_FAILED};
	struct rw_err err = {{0}};
	struct app_record ar;
	struct manifest m = {0};
	char current[VERSION_MAX + 1];
	const char *health, *installed = NULL;
	bool live = false, ran = false;
	struct op op;
	int r;

	r = engine_op_begin(&op, e, app, ret, &b, current, &ar);
	if (r < 0)
		return r;
	strbuf_printf(ret->to, sizeof(ret->to), "%s", expect_version ? expect_version : "");
	health = ar.health[0] ? ar.health : "unknown";

	if (engine_cancel_requested(e))
		return engine_op_cancelled(&op, "migrate", NULL, current, health);
	r = engine_fetch_manifest(&op, manifest_url, &m, &err);
	if (r == -ECANCELED)
		return engine_op_cancelled(&op, "migrate", NULL, current, health);
	if (r < 0)
		return engine_op_finish(&op, ENGINE_FAILED, r, "%s", err.msg);
	strbuf_printf(ret->to, sizeof(ret->to), "%s", m.version);
	if (expect_version && !streq(expect_version, m.version))
		return engine_op_finish(&op, ENGINE_FAILED, -EPERM,
		        "manifest %s is for %s %s, but %s was asked for", manifest_url, m.app,
		        m.version, expect_version);
	/* A live release is fine here: its migrate hook runs all the same. */
	r = engine_check_manifest(&op, &m, current, &live, &err);
	if (r < 0)
		return engine_op_finish(&op, ENGINE_FAILED, r, "%s", err.msg);
	if (engine_cancel_requested(e))
		return engine_op_cancelled(&op, "migrate", NULL, current, health);

	r = engine_stage_release(
	        &op, "migrate", manifest_url, &m, live, current, health, ENGINE_FAILED, &installed);
	if (r < 0)
		return r;
	/* The release is complete and not live: nothing is in flight. */
	if (installed)
		(void)state_inflight_clear(e->state, app->name);
	if (engine_cancel_requested(e))
		return engine_op_cancelled(&op, "migrate", installed, current, health);

	/* From here on a cancel changes nothing: a migration is not stopped
	 * half way. */
	engine_op_phase(&op, ENGINE_PHASE_MIGRATING);
	log_struct(LOG_INFO, MSGID_DEPLOY_START, app->name, m.version,
	        "running the migrate hook of %s %s (unpacked, not activated; %s is live)",
	        app->name, m.version, current[0] ? current : "nothing");
	r = engine_run_hook(&op, m.version, current, "migrate", false, &ran, &err);
	return hook_outcome(&op, "migrate", "migrate", m.version, r, ran, err.msg, current);
}

int
engine_migrate_down(struct engine *e, const struct app_config *app, const char *version,
        struct engine_result *ret)
{
	const struct op_begin b = {.kind = "migrate_down", .fail = ENGINE_FAILED, .to = version};
	struct rw_err err = {{0}};
	struct app_record ar;
	char current[VERSION_MAX + 1];
	const char *previous;
	bool ran = false;
	struct op op;
	int r;

	r = engine_op_begin(&op, e, app, ret, &b, current, &ar);
	if (r < 0)
		return r;
	if (!layout_release_exists(op.rootfd, version))
		return engine_op_finish(&op, ENGINE_FAILED, -ENOENT,
		        "%s %s is not on disk: migrate_down runs the hook of an installed release",
		        app->name, version);
	/* What the migration goes back to: the live release, unless the
	 * release being migrated down is the live one. */
	previous = !streq(current, version) ? current : ar.previous;

	engine_op_phase(&op, ENGINE_PHASE_MIGRATING);
	log_struct(LOG_INFO, MSGID_DEPLOY_START, app->name, version,
	        "running the migrate_down hook of %s %s (%s is live)", app->name, version,
	        current[0] ? current : "nothing");
	r = engine_run_hook(&op, version, previous, "migrate_down", false, &ran, &err);
	return hook_outcome(&op, "migrate_down", "migrate_down", version, r, ran, err.msg, current);
}
