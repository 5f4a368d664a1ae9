/*
 * engine_preflight: the coordinator's PREFLIGHT command (see engine.h).
 *
 * Every check runs, whatever the ones before said, so that one answer lists
 * everything that stands in the way; a check that needs what an earlier one
 * could not establish (the manifest's Size for the free space) is skipped.
 * Nothing on the host changes: no recovery, no directory made, the manifest
 * is only read into memory. A cancel stops it between checks (and the
 * manifest fetch is abortable like a deploy's).
 */
#include "engine_private.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "layout.h"
#include "log.h"
#include "units.h"

/* Room asked for on the release filesystem: the download (Size), an
 * unpacked tree of up to twice that, and some headroom. */
#define SPACE_FACTOR   3
#define SPACE_HEADROOM ((uint64_t)32 * 1024 * 1024)

struct checks {
	char failed[900];
	char warnings[400];
	unsigned n_failed;
};

static void checks_fail(struct checks *c, const char *check, const char *fmt, ...) _printf_(3, 4);
static void
checks_fail(struct checks *c, const char *check, const char *fmt, ...)
{
	size_t len = strlen(c->failed);
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	strbuf_printf(
	        c->failed + len, sizeof(c->failed) - len, "%s%s: %s", len ? "; " : "", check, why);
	c->n_failed++;
}

static void checks_warn(struct checks *c, const char *fmt, ...) _printf_(2, 3);
static void
checks_warn(struct checks *c, const char *fmt, ...)
{
	size_t len = strlen(c->warnings);
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	strbuf_printf(c->warnings + len, sizeof(c->warnings) - len, "; warning: %s", why);
}

/* The directory whose filesystem would hold the release: the app root's
 * releases/ dir, else the root, else its nearest existing parent (a first
 * install makes them). */
static int
release_fs_dir(const char *root, char *ret, size_t size)
{
	struct stat st;
	char *slash;

	strbuf_printf(ret, size, "%s/releases", root);
	if (stat(ret, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	strbuf_printf(ret, size, "%s", root);
	for (;;) {
		if (stat(ret, &st) == 0)
			return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
		if (errno != ENOENT)
			return -errno;
		slash = strrchr(ret, '/');
		if (!slash)
			return -ENOENT;
		if (slash == ret) {
			ret[1] = 0;
			continue;
		}
		*slash = 0;
	}
}

static void
check_space(struct checks *c, const struct app_config *app, uint64_t artifact_size)
{
	char dir[PATH_MAX];
	struct statvfs vfs;
	uint64_t avail, need;
	int r;

	r = release_fs_dir(app->root, dir, sizeof(dir));
	if (r < 0) {
		checks_fail(
		        c, "space", "cannot find where %s would go: %s", app->root, strerror(-r));
		return;
	}
	if (access(dir, W_OK) < 0) {
		checks_fail(c, "space", "%s is not writable: %m", dir);
		return;
	}
	if (statvfs(dir, &vfs) < 0) {
		checks_fail(c, "space", "cannot read the free space of %s: %m", dir);
		return;
	}
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	need = artifact_size > (UINT64_MAX - SPACE_HEADROOM) / SPACE_FACTOR
	        ? UINT64_MAX
	        : artifact_size * SPACE_FACTOR + SPACE_HEADROOM;
	if (avail < need)
		checks_fail(c, "space",
		        "%s has %" PRIu64 " MiB available, the release needs %" PRIu64
		        " MiB (%d x its %" PRIu64 " bytes + %" PRIu64 " MiB)",
		        dir, avail >> 20, (need + (1 << 20) - 1) >> 20, SPACE_FACTOR, artifact_size,
		        SPACE_HEADROOM >> 20);
}

/* What a rollback after the deploy would go back to: `current`. */
static void
check_rollback_target(struct checks *c, struct op *op, const char *current, bool rootfd_ok)
{
	struct inflight in;

	if (!rootfd_ok || !current[0]) {
		checks_warn(c, "first install of %s: no release on disk to roll back to",
		        op->app->name);
		return;
	}
	if (!layout_release_exists(op->rootfd, current))
		checks_fail(c, "rollback", "%s/current points to %s, which is not on disk",
		        op->app->root, current);
	if (state_inflight_get(op->e->state, op->app->name, &in) >= 0)
		checks_warn(c, "an interrupted %s of %s is in flight; a deploy recovers it first",
		        in.op, in.to);
}

/* The app's root, its `current` (into current, res->from) and its units.
 * Returns whether the root is open (op->rootfd). */
static bool
check_app(struct checks *c, struct op *op, char current[static VERSION_MAX + 1])
{
	const struct app_config *app = op->app;
	struct rw_err err = {{0}};
	bool rootfd_ok = false;
	sd_bus *bus;
	int r;

	r = layout_open_root(app->root, false, &op->rootfd, &err);
	if (r >= 0)
		rootfd_ok = true;
	else if (r != -ENOENT)
		checks_fail(c, "app", "%s", err.msg);
	if (rootfd_ok && layout_read_current(op->rootfd, current) < 0)
		checks_fail(c, "rollback", "%s/current is not a rollwave symlink", app->root);
	strbuf_printf(op->res->from, sizeof(op->res->from), "%s", current);
	if (app->units && app->units[0]) {
		err = (struct rw_err) {{0}};
		r = engine_get_bus(op->e, &bus, &err);
		if (r >= 0)
			r = units_check_exist(bus, app->units, &err);
		if (r < 0)
			checks_fail(c, "units", "%s", err.msg);
	}
	return rootfd_ok;
}

/* The manifest fetched, verified and checked as a deploy would (into *m,
 * *ret_live, *ret_have). -ECANCELED if a cancel stopped the fetch. */
static int
check_manifest(struct checks *c, struct op *op, const char *app_name, const char *manifest_url,
        const char *expect_version, const char *current, struct manifest *m, bool *ret_live,
        bool *ret_have)
{
	struct rw_err err = {{0}};
	int r;

	r = engine_fetch_manifest(op, manifest_url, m, &err);
	if (r == -ECANCELED)
		return r;
	if (r < 0)
		checks_fail(c, "manifest", "%s", err.msg);
	else if (!streq(m->app, app_name))
		checks_fail(c, "manifest", "it is for app '%s', not '%s'", m->app, app_name);
	else if (expect_version && !streq(m->version, expect_version))
		checks_fail(c, "manifest", "%s is for %s %s, but %s was asked for", manifest_url,
		        m->app, m->version, expect_version);
	else {
		err = (struct rw_err) {{0}};
		r = engine_check_manifest(op, m, current, ret_live, &err);
		if (r < 0)
			checks_fail(c, "manifest", "%s", err.msg);
		else
			*ret_have = true;
	}
	engine_op_phase(op, ENGINE_PHASE_CHECKING);
	return 0;
}

static int
preflight_cancelled(struct op *op)
{
	return engine_op_finish(op, ENGINE_CANCELLED, -ECANCELED,
	        "preflight of %s %s cancelled; nothing was changed", op->app->name,
	        op->res->to[0] ? op->res->to : "(unknown version)");
}

int
engine_preflight(struct engine *e, const char *app_name, const struct app_config *app,
        const char *app_error, const char *manifest_url, const char *expect_version,
        struct engine_result *ret)
{
	struct app_config none = {0};
	struct checks c = {0};
	struct manifest m = {0};
	char current[VERSION_MAX + 1] = "";
	bool have_manifest = false, live = false, rootfd_ok = false;
	struct op op;

	if (!app) {
		strbuf_printf(none.name, sizeof(none.name), "%s", app_name);
		app = &none;
	}
	engine_op_init(&op, e, app, ret);
	strbuf_printf(ret->to, sizeof(ret->to), "%s", expect_version ? expect_version : "");
	engine_op_phase(&op, ENGINE_PHASE_CHECKING);
	op.quiet = true; /* the fetch and verify steps are part of CHECKING */

	/* app, and what can only be checked with its config */
	if (app == &none)
		checks_fail(&c, "app", "%s", app_error ? app_error : "not configured on this host");
	else
		rootfd_ok = check_app(&c, &op, current);
	if (engine_cancel_requested(e))
		return preflight_cancelled(&op);

	/* key and manifest */
	if (e->nkeys == 0)
		checks_fail(&c, "key", "%s", e->keys_error);
	else if (e->keys_error[0])
		checks_warn(&c, "%s", e->keys_error);
	if (e->nkeys == 0)
		checks_fail(&c, "manifest", "cannot be verified without a trusted key");
	else if (check_manifest(&c, &op, app_name, manifest_url, expect_version, current, &m, &live,
	                 &have_manifest) == -ECANCELED)
		return preflight_cancelled(&op);
	if (engine_cancel_requested(e))
		return preflight_cancelled(&op);

	/* space and rollback target: what a deploy of it would need */
	if (app != &none && have_manifest && !live &&
	        !(rootfd_ok && layout_release_exists(op.rootfd, m.version)))
		check_space(&c, app, m.size);
	if (app != &none && !live)
		check_rollback_target(&c, &op, current, rootfd_ok);
	if (live)
		checks_warn(
		        &c, "%s %s is already live: a deploy changes nothing", app_name, m.version);

	if (c.n_failed) {
		log_struct(LOG_WARNING, NULL, app_name, ret->to[0] ? ret->to : NULL,
		        "preflight failed: %s%s", c.failed, c.warnings);
		return engine_op_finish(&op, ENGINE_FAILED, -EPROTO, "preflight failed: %s%s",
		        c.failed, c.warnings);
	}
	log_struct(LOG_INFO, NULL, app_name, ret->to[0] ? ret->to : NULL, "preflight passed%s",
	        c.warnings);
	return engine_op_finish(&op, ENGINE_COMMITTED, 0, "preflight passed%s", c.warnings);
}
