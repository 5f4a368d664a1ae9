/*
 * engine: deploy, rollback and crash recovery of one app on this host.
 * See engine.h for the flow and the intent journal that makes it crash-safe.
 */
#include "engine.h"

#include "engine_private.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>

#include "fetch.h"
#include "health.h"
#include "hooks.h"
#include "layout.h"
#include "log.h"
#include "manifest.h"
#include "minisign.h"
#include "unpack.h"
#include "units.h"

#define MANIFEST_MAX           (64 * 1024)
#define UNITS_JOB_TIMEOUT_USEC (90 * USEC_PER_SEC)

static const char *const phase_names[_ENGINE_PHASE_MAX] = {
        [ENGINE_PHASE_FETCHING] = "fetching",
        [ENGINE_PHASE_VERIFYING] = "verifying",
        [ENGINE_PHASE_UNPACKING] = "unpacking",
        [ENGINE_PHASE_ACTIVATING] = "activating",
        [ENGINE_PHASE_RESTARTING] = "restarting",
        [ENGINE_PHASE_HEALTH] = "health",
        [ENGINE_PHASE_CHECKING] = "checking",
        [ENGINE_PHASE_MIGRATING] = "migrating",
        [ENGINE_PHASE_COMMITTED] = "committed",
        [ENGINE_PHASE_ROLLED_BACK] = "rolled_back",
        [ENGINE_PHASE_FAILED] = "failed",
        [ENGINE_PHASE_CANCELLED] = "cancelled",
};

const char *
engine_phase_to_string(enum engine_phase p)
{
	return p < _ENGINE_PHASE_MAX ? phase_names[p] : "unknown";
}

const char *
engine_outcome_to_string(enum engine_outcome o)
{
	switch (o) {
	case ENGINE_UNCHANGED:
		return "unchanged";
	case ENGINE_COMMITTED:
		return "committed";
	case ENGINE_ROLLED_BACK:
		return "rolled_back_locally";
	case ENGINE_FAILED:
		return "failed";
	case ENGINE_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

int
engine_open(const struct agent_config *cfg, struct engine **ret, struct rw_err *err)
{
	struct engine *e;
	char lock_path[PATH_MAX];
	size_t n;
	int r;

	r = mkdir_p(cfg->state_dir, 0700);
	if (r < 0)
		return rw_err_set(err, r, "cannot create state directory %s: %s", cfg->state_dir,
		        strerror(-r));
	r = xsnprintf(lock_path, sizeof(lock_path), "%s/lock", cfg->state_dir);
	if (r < 0)
		return rw_err_set(err, r, "state directory path too long");

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = cfg;
	e->cancel_fd = -1;
	e->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (e->lock_fd < 0) {
		r = rw_err_set(err, -errno, "cannot open %s: %m", lock_path);
		goto fail;
	}
	if (flock(e->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		rw_err_set(err, r, "another rollwave-agent operation holds %s", lock_path);
		goto fail;
	}
	r = state_open(cfg->state_dir, &e->state, err);
	if (r < 0)
		goto fail;

	/* Keys are loaded now but only required when a manifest is verified:
	 * rollback and recovery work without them. */
	n = strv_length(cfg->trusted_keys);
	e->keys = calloc(n ? n : 1, sizeof(*e->keys));
	if (!e->keys) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct rw_err kerr = {{0}};

		r = minisign_pubkey_load(cfg->trusted_keys[i], &e->keys[e->nkeys], &kerr);
		if (r < 0) {
			strbuf_printf(e->keys_error, sizeof(e->keys_error), "trusted key %s: %s",
			        cfg->trusted_keys[i], kerr.msg);
			continue;
		}
		e->nkeys++;
	}
	if (n == 0)
		strbuf_printf(e->keys_error, sizeof(e->keys_error),
		        "no TrustedKeys= configured in %s", cfg->config_path);
	*ret = e;
	return 0;
fail:
	engine_close(e);
	return r;
}

void
engine_close(struct engine *e)
{
	if (!e)
		return;
	state_close(e->state);
	sd_bus_flush_close_unref(e->bus);
	free(e->keys);
	closep(&e->lock_fd);
	free(e);
}

void
engine_set_phase_cb(struct engine *e, engine_phase_cb cb, void *userdata)
{
	e->phase_cb = cb;
	e->phase_userdata = userdata;
}

void
engine_set_hook_cb(struct engine *e, engine_hook_cb cb, void *userdata)
{
	e->hook_cb = cb;
	e->hook_userdata = userdata;
}

struct state *
engine_state(struct engine *e)
{
	return e->state;
}

void
engine_set_cancel(struct engine *e, int cancel_fd, volatile sig_atomic_t *abortable)
{
	e->cancel_fd = cancel_fd;
	e->abortable = abortable;
	if (abortable)
		*abortable = 0;
}

bool
engine_cancel_requested(struct engine *e)
{
	struct pollfd p = {.fd = e->cancel_fd, .events = POLLIN};
	int n = 0;

	if (e->cancel_fd < 0)
		return false;
	/* Bytes waiting are a request; end of file (or a /dev/null that is
	 * always readable) is not. */
	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN) &&
	        ioctl(e->cancel_fd, FIONREAD, &n) == 0 && n > 0;
}

int
engine_abortable(struct engine *e, bool on)
{
	if (!on) {
		if (e->abortable)
			*e->abortable = 0;
		return 0;
	}
	if (e->abortable)
		*e->abortable = 1;
	/* Checked after the flag is up: a request that came before it was
	 * not acted on by whoever watches the flag, so it is acted on here. */
	if (engine_cancel_requested(e)) {
		if (e->abortable)
			*e->abortable = 0;
		return -ECANCELED;
	}
	return 0;
}

void
engine_op_init(
        struct op *op, struct engine *e, const struct app_config *app, struct engine_result *res)
{
	memset(res, 0, sizeof(*res));
	strbuf_printf(res->app, sizeof(res->app), "%s", app->name);
	*op = (struct op) {
	        .e = e,
	        .app = app,
	        .res = res,
	        .phase = _ENGINE_PHASE_MAX,
	        .started = now_monotonic_usec(),
	        .rootfd = -1,
	};
}

void
engine_op_phase(struct op *op, enum engine_phase p)
{
	uint64_t now = now_monotonic_usec();

	if (op->phase < _ENGINE_PHASE_MAX)
		op->res->phase_usec[op->phase] += now - op->phase_start;
	op->phase = p;
	op->phase_start = now;
	if (op->e->phase_cb && (!op->quiet || p >= ENGINE_PHASE_COMMITTED))
		op->e->phase_cb(op->e->phase_userdata, op->app->name, op->res->to, p,
		        p == ENGINE_PHASE_FAILED ? op->res->message : NULL);
}

static void
op_done(struct op *op)
{
	closep(&op->rootfd);
}

int
engine_op_finish(struct op *op, enum engine_outcome outcome, int r, const char *fmt, ...)
{
	char msg[sizeof(op->res->message)];
	va_list ap;

	/* fmt's arguments may point into res->message: format aside first. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(op->res->message, msg, sizeof(msg));
	op->res->outcome = outcome;
	switch (outcome) {
	case ENGINE_COMMITTED:
		engine_op_phase(op, ENGINE_PHASE_COMMITTED);
		break;
	case ENGINE_ROLLED_BACK:
		engine_op_phase(op, ENGINE_PHASE_ROLLED_BACK);
		break;
	case ENGINE_FAILED:
		engine_op_phase(op, ENGINE_PHASE_FAILED);
		break;
	case ENGINE_CANCELLED:
		engine_op_phase(op, ENGINE_PHASE_CANCELLED);
		break;
	case ENGINE_UNCHANGED:
		if (r < 0)
			engine_op_phase(op, ENGINE_PHASE_FAILED);
		break;
	}
	op_done(op);
	return r;
}

int
engine_get_bus(struct engine *e, sd_bus **ret, struct rw_err *err)
{
	int r;

	if (!e->bus) {
		r = units_bus_open(&e->bus, err);
		if (r < 0)
			return r;
	}
	*ret = e->bus;
	return 0;
}

static void
history(struct op *op, const char *kind, const char *result)
{
	struct history_entry h = {0};
	int r;

	strbuf_printf(h.op, sizeof(h.op), "%s", kind);
	strbuf_printf(h.from, sizeof(h.from), "%s", op->res->from);
	strbuf_printf(h.to, sizeof(h.to), "%s", op->res->to);
	strbuf_printf(h.result, sizeof(h.result), "%s", result);
	strbuf_printf(h.message, sizeof(h.message), "%s", op->res->message);
	h.finished_usec = now_realtime_usec();
	h.started_usec = h.finished_usec - (now_monotonic_usec() - op->started);
	r = state_history_add(op->e->state, op->app->name, &h);
	if (r < 0)
		log_struct(LOG_WARNING, NULL, op->app->name, op->res->to,
		        "cannot record history: %s", strerror(-r));
}

/* Logs what a hook printed and tells the hook callback. */
static void
report_hook(const struct op *op, const char *version, const char *name, const char *status,
        const char *output, size_t len, bool truncated)
{
	if (len > 0)
		log_struct(LOG_INFO, MSGID_HOOK_OUTPUT, op->app->name, version,
		        "hook '%s' %s; output%s:\n%.*s", name, status,
		        truncated ? " (truncated)" : "", (int)len, output);
	if (op->e->hook_cb)
		op->e->hook_cb(op->e->hook_userdata, op->app->name, version, name, status, output,
		        len, truncated);
}

/* Appends ": <the last line output has>" (at most 200 bytes) to err. */
static void
err_append_last_line(struct rw_err *err, const char *output, size_t len)
{
	const char *end = output + len, *line;
	char tmp[sizeof(err->msg)];

	while (end > output && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	line = end;
	while (line > output && line[-1] != '\n')
		line--;
	if (line == end)
		return;
	snprintf(tmp, sizeof(tmp), "%s", err->msg);
	strbuf_printf(err->msg, sizeof(err->msg), "%s: %.*s", tmp,
	        (int)(end - line > 200 ? 200 : end - line), line);
}

int
engine_run_hook(struct op *op, const char *version, const char *previous, const char *name,
        bool cancellable, bool *ret_ran, struct rw_err *err)
{
	struct hook_result hr = {0};
	char dir[PATH_MAX];
	struct hook_env env = {
	        .app = op->app->name,
	        .version = version,
	        .previous_version = previous ? previous : "",
	        .release_dir = dir,
	};
	char status[64];
	int r;

	if (ret_ran)
		*ret_ran = false;
	r = xsnprintf(dir, sizeof(dir), "%s/releases/%s", op->app->root, version);
	if (r < 0)
		return rw_err_set(err, r, "release path too long");
	r = hook_run_cancellable(dir, name, &env, op->app->hook_timeout_usec,
	        cancellable ? op->e->cancel_fd : -1, &hr, err);
	if (hr.ran) {
		if (ret_ran)
			*ret_ran = true;
		hook_result_describe(&hr, status, sizeof(status));
		report_hook(op, version, name, status, hr.output, hr.output_len, hr.truncated);
		if (r < 0 && r != -ECANCELED)
			err_append_last_line(err, hr.output, hr.output_len);
	}
	hook_result_done(&hr);
	return r;
}

/* Restarts the units and waits for health. Returns 0 when healthy. */
static int
activate_and_check(struct op *op, const char *version, const char *previous, struct rw_err *err)
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
		report_hook(op, version, "validate", hr.validate_status, hr.validate_output,
		        hr.validate_output_len, hr.validate_truncated);
	op->res->first_healthy_usec = hr.first_healthy_usec;
	(void)state_set_health(op->e->state, app->name, r < 0 ? "unhealthy" : "healthy");
	return r;
}

/* Makes the result of a successful activation durable. */
static int
commit(struct op *op, const char *kind, const char *version, const char *previous)
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
	history(op, kind, "committed");
	r = state_commit(s);
	if (r < 0)
		state_rollback(s);
	return r;
}

/* Records the end of an operation that did not commit. */
void
engine_finish_uncommitted(struct op *op, const char *kind, const char *result, const char *current,
        const char *previous, const char *health)
{
	struct app_record rec = {0};
	struct state *s = op->e->state;

	if (state_begin(s) < 0)
		return;
	(void)state_get_app(s, op->app->name, &rec);
	if (current)
		strbuf_printf(rec.current, sizeof(rec.current), "%s", current);
	if (previous)
		strbuf_printf(rec.previous, sizeof(rec.previous), "%s", previous);
	strbuf_printf(rec.health, sizeof(rec.health), "%s", health);
	rec.health_usec = now_realtime_usec();
	(void)state_set_app(s, op->app->name, &rec);
	(void)state_inflight_clear(s, op->app->name);
	history(op, kind, result);
	if (state_commit(s) < 0)
		state_rollback(s);
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
static int
roll_back_locally(struct op *op, const char *kind, const char *sick, const char *back_to,
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
	r = activate_and_check(op, back_to, NULL, &err);
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
static int
swap_and_check(struct op *op, const char *kind, const char *version, const char *from,
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
	r = activate_and_check(op, version, from, &err);
	if (r < 0) {
		if (!may_roll_back) {
			strbuf_printf(op->res->message, sizeof(op->res->message),
			        "%s %s is live but not healthy: %s", op->app->name, version,
			        err.msg);
			engine_finish_uncommitted(
			        op, kind, "failed", version, old_previous, "unhealthy");
			return engine_op_finish(op, ENGINE_FAILED, r, "%s", op->res->message);
		}
		return roll_back_locally(op, kind, version, from, old_previous, err.msg);
	}
	r = commit(op, kind, version, from);
	if (r < 0)
		return engine_op_finish(op, ENGINE_FAILED, r,
		        "%s %s is healthy but recording it failed: %s", op->app->name, version,
		        strerror(-r));
	return 0;
}

static void
after_commit(struct op *op, const char *version, const char *previous)
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

int
engine_op_cancelled(struct op *op, const char *kind, const char *installed, const char *current,
        const char *health)
{
	char removed[256] = "";
	int r;

	if (installed) {
		r = layout_remove_release(op->rootfd, installed);
		if (r < 0)
			strbuf_printf(removed, sizeof(removed),
			        "; removing releases/%s failed (%s), pruning removes it later",
			        installed, strerror(-r));
		else
			strbuf_printf(removed, sizeof(removed),
			        "; removed releases/%s it had unpacked", installed);
	}
	strbuf_printf(op->res->message, sizeof(op->res->message),
	        "%s of %s %s cancelled before activation%s; %s stays live", kind, op->app->name,
	        op->res->to[0] ? op->res->to : "(unknown version)", removed,
	        current && current[0] ? current : "nothing");
	engine_finish_uncommitted(op, kind, "cancelled", NULL, NULL, health);
	log_struct(LOG_NOTICE, NULL, op->app->name, op->res->to[0] ? op->res->to : NULL, "%s",
	        op->res->message);
	return engine_op_finish(op, ENGINE_CANCELLED, -ECANCELED, "%s", op->res->message);
}

int
engine_set_inflight(struct op *op, const char *kind, const char *from, const char *to,
        enum inflight_phase phase)
{
	struct inflight in = {0};

	strbuf_printf(in.op, sizeof(in.op), "%s", kind);
	strbuf_printf(in.from, sizeof(in.from), "%s", from);
	strbuf_printf(in.to, sizeof(in.to), "%s", to);
	in.phase = phase;
	in.started_usec = now_realtime_usec();
	in.pid = getpid();
	return state_inflight_set(op->e->state, op->app->name, &in);
}

int
engine_fetch_manifest(struct op *op, const char *url, struct manifest *ret, struct rw_err *err)
{
	struct fetch_opts fo = FETCH_OPTS_DEFAULT;
	_cleanup_free_ char *buf = NULL, *sig = NULL, *sig_url = NULL;
	size_t len, siglen;
	int r;

	engine_op_phase(op, ENGINE_PHASE_FETCHING);
	fo.total_timeout_usec = 60 * USEC_PER_SEC;
	/* Nothing is written while the manifest is fetched: abortable. */
	if (engine_abortable(op->e, true) < 0)
		return rw_err_set(err, -ECANCELED, "cancelled before the manifest was fetched");
	r = fetch_to_buffer(url, MANIFEST_MAX, &fo, &buf, &len, err);
	if (r >= 0 && asprintf(&sig_url, "%s.minisig", url) < 0)
		r = -ENOMEM;
	if (r >= 0)
		r = fetch_to_buffer(sig_url, MINISIGN_FILE_MAX, &fo, &sig, &siglen, err);
	(void)engine_abortable(op->e, false);
	if (r == -ENOMEM && !sig_url)
		return r;
	if (r < 0)
		return rw_err_prefix(err, r,
		        sig_url ? "cannot fetch manifest signature" : "cannot fetch manifest");

	engine_op_phase(op, ENGINE_PHASE_VERIFYING);
	if (op->e->nkeys == 0)
		return rw_err_set(
		        err, -ENOKEY, "cannot verify the manifest: %s", op->e->keys_error);
	r = manifest_verify_and_parse(buf, len, sig, siglen, op->e->keys, op->e->nkeys, ret, err);
	if (r < 0)
		return rw_err_prefix(err, r, "manifest %s rejected", url);
	return 0;
}

int
engine_check_manifest(struct op *op, const struct manifest *m, const char *current, bool *ret_live,
        struct rw_err *err)
{
	char highest[VERSION_MAX + 1];
	uint8_t seen[64];
	int r;

	*ret_live = false;
	if (!streq(m->app, op->app->name))
		return rw_err_set(
		        err, -EPERM, "manifest is for app '%s', not '%s'", m->app, op->app->name);
	if (m->expires_usec <= now_realtime_usec()) {
		char ts[32];

		format_timestamp_utc(m->expires_usec, ts, sizeof(ts));
		return rw_err_set(err, -EKEYEXPIRED, "manifest of %s %s expired at %s", m->app,
		        m->version, ts);
	}
	r = state_accepted_hash(op->e->state, m->app, m->version, seen);
	if (r >= 0 && sodium_memcmp(seen, m->blake2b, 64) != 0)
		return rw_err_set(err, -EPERM,
		        "%s %s was accepted before with a different artifact hash; a version's "
		        "content never changes",
		        m->app, m->version);
	if (r < 0 && r != -ENOENT)
		return rw_err_set(err, r, "cannot read the state file: %s", strerror(-r));
	if (current && streq(current, m->version)) {
		*ret_live = true;
		return 0;
	}
	r = state_highest_accepted(op->e->state, m->app, highest);
	if (r < 0)
		return rw_err_set(err, r, "cannot read the state file: %s", strerror(-r));
	if (highest[0] && version_compare(m->version, highest) < 0) {
		if (layout_release_exists(op->rootfd, m->version))
			return rw_err_set(err, -EPERM,
			        "%s %s is older than %s, the newest release this host accepted; "
			        "it is still on disk: use 'rollwave-agent rollback %s --to %s'",
			        m->app, m->version, highest, m->app, m->version);
		return rw_err_set(err, -EPERM,
		        "%s %s is older than %s, the newest release this host accepted "
		        "(rollback-attack guard)",
		        m->app, m->version, highest);
	}
	return 0;
}

/* Downloads, verifies and unpacks the artifact into releases/<st_name>
 * (shared dirs linked, fsynced): everything before the rename, abortable.
 * On failure nothing of it is left. */
static int
stage_release(struct op *op, int relfd, const char *artifact_url, const struct manifest *m,
        const char *dl_name, const char *st_name, struct unpack_stats *stats, struct rw_err *err)
{
	struct unpack_limits lim = UNPACK_LIMITS_DEFAULT;
	struct fetch_opts fo = FETCH_OPTS_DEFAULT;
	_cleanup_close_ int dl = -1, stfd = -1;
	char hex[129];
	uint8_t hash[64];
	uint64_t size = 0;
	int r;

	dl = openat(relfd, dl_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dl < 0)
		return rw_err_set(
		        err, -errno, "cannot create %s/releases/%s: %m", op->app->root, dl_name);
	fo.max_size = m->size;
	r = fetch_to_fd(artifact_url, dl, &fo, hash, &size, err);
	if (r < 0) {
		(void)unlinkat(relfd, dl_name, 0);
		return rw_err_prefix(
		        err, r, "cannot fetch artifact of the declared %" PRIu64 " bytes", m->size);
	}
	engine_op_phase(op, ENGINE_PHASE_VERIFYING);
	if (size != m->size) {
		(void)unlinkat(relfd, dl_name, 0);
		return rw_err_set(err, -EBADMSG,
		        "artifact %s is %" PRIu64 " bytes but the manifest declares %" PRIu64,
		        artifact_url, size, m->size);
	}
	if (sodium_memcmp(hash, m->blake2b, 64) != 0) {
		(void)unlinkat(relfd, dl_name, 0);
		hex_encode(hash, 64, hex);
		return rw_err_set(err, -EBADMSG,
		        "artifact %s does not match the manifest: BLAKE2b-512 is %.16s..., "
		        "the manifest says another",
		        artifact_url, hex);
	}
	engine_op_phase(op, ENGINE_PHASE_UNPACKING);
	if (mkdirat(relfd, st_name, 0755) < 0) {
		r = -errno;
		(void)unlinkat(relfd, dl_name, 0);
		return rw_err_set(err, r, "cannot create the staging directory: %s", strerror(-r));
	}
	stfd = openat(relfd, st_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (stfd < 0 || lseek(dl, 0, SEEK_SET) < 0) {
		r = rw_err_set(err, -errno, "cannot open the staging directory: %m");
		goto fail;
	}
	r = unpack_archive_fd(dl, stfd, &lim, stats, err);
	if (r < 0)
		goto fail;
	(void)unlinkat(relfd, dl_name, 0);
	r = layout_link_shared(op->rootfd, st_name, op->app->shared_dirs, err);
	if (r < 0)
		goto fail;
	r = fsync_fd(stfd);
	if (r < 0) {
		rw_err_set(err, r, "cannot fsync the staging directory: %s", strerror(-r));
		goto fail;
	}
	return 0;
fail:
	(void)rm_rf_at(relfd, st_name);
	(void)unlinkat(relfd, dl_name, 0);
	return r;
}

int
engine_install_release(
        struct op *op, const char *manifest_url, const struct manifest *m, struct rw_err *err)
{
	_cleanup_free_ char *artifact_url = NULL;
	_cleanup_close_ int relfd = -1;
	char dl_name[128], st_name[128];
	struct unpack_stats stats = {0};
	int r;

	relfd = openat(op->rootfd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (relfd < 0)
		return rw_err_set(err, -errno, "cannot open %s/releases: %m", op->app->root);
	strbuf_printf(dl_name, sizeof(dl_name), ".download-%s", m->version);
	strbuf_printf(st_name, sizeof(st_name), ".staging-%s", m->version);
	(void)rm_rf_at(relfd, dl_name);
	(void)rm_rf_at(relfd, st_name);

	engine_op_phase(op, ENGINE_PHASE_FETCHING);
	r = fetch_resolve_url(manifest_url, m->artifact, &artifact_url);
	if (r < 0)
		return rw_err_set(err, r, "invalid Artifact= '%s' in the manifest", m->artifact);
	/* Until the rename only staging files exist: the process may die at
	 * any instant there, recovery removes them. */
	if (engine_abortable(op->e, true) < 0)
		return rw_err_set(err, -ECANCELED, "cancelled before the artifact was fetched");
	r = stage_release(op, relfd, artifact_url, m, dl_name, st_name, &stats, err);
	(void)engine_abortable(op->e, false);
	if (r < 0)
		return r;
	if (renameat(relfd, st_name, relfd, m->version) < 0) {
		r = rw_err_set(err, -errno, "cannot move the release into place: %m");
		(void)rm_rf_at(relfd, st_name);
		return r;
	}
	r = fsync_fd(relfd);
	if (r < 0)
		return rw_err_set(
		        err, r, "cannot fsync %s/releases: %s", op->app->root, strerror(-r));
	/* Accepted once installed: the rollback-attack floor only rises for
	 * releases that made it onto the disk, and a release on disk is always
	 * an accepted one. */
	r = state_record_accepted(op->e->state, m->app, m->version, m->blake2b);
	if (r < 0) {
		(void)layout_remove_release(op->rootfd, m->version);
		return rw_err_set(err, r, "cannot record the accepted release: %s", strerror(-r));
	}
	log_struct(LOG_INFO, NULL, m->app, m->version,
	        "unpacked %s %s: %" PRIu64 " entries, %" PRIu64 " bytes", m->app, m->version,
	        stats.entries, stats.bytes);
	return 0;
}

int
engine_stage_release(struct op *op, const char *kind, const char *manifest_url,
        const struct manifest *m, bool live, const char *current, const char *health,
        enum engine_outcome fail_outcome, const char **ret_installed)
{
	struct rw_err err = {{0}};
	uint8_t seen[64];
	int r;

	if (!live && layout_release_exists(op->rootfd, m->version) &&
	        state_accepted_hash(op->e->state, m->app, m->version, seen) == -ENOENT) {
		/* On disk but never accepted here (state file lost, or a tree
		 * made by hand): its content is unknown, install it afresh. */
		r = layout_remove_release(op->rootfd, m->version);
		if (r < 0)
			return engine_op_finish(op, fail_outcome, r,
			        "%s/releases/%s exists but was never accepted, and removing it "
			        "failed: %s",
			        op->app->root, m->version, strerror(-r));
	}
	/* A release already on disk is an accepted one whose hash matched the
	 * manifest (installed before, then rolled back): no download. */
	if (layout_release_exists(op->rootfd, m->version))
		return 0;
	r = engine_set_inflight(op, kind, current, m->version, INFLIGHT_STAGING);
	if (r < 0)
		return engine_op_finish(
		        op, fail_outcome, r, "cannot write the state file: %s", strerror(-r));
	r = engine_install_release(op, manifest_url, m, &err);
	if (r == -ECANCELED)
		return engine_op_cancelled(op, kind, NULL, current, health);
	if (r < 0) {
		engine_finish_uncommitted(op, kind, "failed", NULL, NULL, health);
		return engine_op_finish(op, fail_outcome, r, "%s", err.msg);
	}
	*ret_installed = m->version; /* a cancel from here on removes it again */
	return 0;
}

int
engine_deploy(struct engine *e, const struct app_config *app, const char *manifest_url,
        const char *expect_version, struct engine_result *ret)
{
	struct rw_err err = {{0}};
	struct engine_result rec;
	struct app_record ar = {0};
	struct manifest m = {0};
	char current[VERSION_MAX + 1] = "";
	const char *health, *installed = NULL;
	bool live = false;
	struct op op;
	int r;

	/* A recovery that rolled back leaves a consistent host: go on. */
	r = engine_recover(e, app, &rec);
	engine_op_init(&op, e, app, ret);
	if (r < 0 && rec.outcome == ENGINE_FAILED)
		return engine_op_finish(&op, ENGINE_FAILED, r,
		        "recovering an interrupted operation failed, deploy not started: %s",
		        rec.message);

	r = layout_open_root(app->root, true, &op.rootfd, &err);
	if (r < 0)
		return engine_op_finish(&op, ENGINE_UNCHANGED, r, "%s", err.msg);
	r = layout_read_current(op.rootfd, current);
	if (r < 0)
		return engine_op_finish(&op, ENGINE_UNCHANGED, r,
		        "%s/current is not a rollwave symlink", app->root);
	strbuf_printf(ret->from, sizeof(ret->from), "%s", current);
	(void)state_get_app(e->state, app->name, &ar);
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
	r = swap_and_check(&op, "deploy", m.version, current, ar.previous, true);
	if (r < 0)
		return r;
	after_commit(&op, m.version, current);
	log_struct(LOG_INFO, MSGID_DEPLOY_DONE, app->name, m.version, "%s %s is live and healthy",
	        app->name, m.version);
	return engine_op_finish(
	        &op, ENGINE_COMMITTED, 0, "%s %s is live and healthy", app->name, m.version);
}

int
engine_rollback(struct engine *e, const struct app_config *app, const char *to_version,
        struct engine_result *ret)
{
	_cleanup_strv_free_ char **versions = NULL;
	struct rw_err err = {{0}};
	struct engine_result rec;
	struct app_record ar = {0};
	char current[VERSION_MAX + 1] = "", target[VERSION_MAX + 1] = "";
	struct op op;
	int r;

	r = engine_recover(e, app, &rec);
	engine_op_init(&op, e, app, ret);
	if (r < 0 && rec.outcome == ENGINE_FAILED)
		return engine_op_finish(&op, ENGINE_FAILED, r,
		        "recovering an interrupted operation failed, rollback not started: %s",
		        rec.message);
	r = layout_open_root(app->root, false, &op.rootfd, &err);
	if (r < 0)
		return engine_op_finish(&op, ENGINE_UNCHANGED, r, "%s", err.msg);
	r = layout_read_current(op.rootfd, current);
	if (r < 0)
		return engine_op_finish(&op, ENGINE_UNCHANGED, r,
		        "%s/current is not a rollwave symlink", app->root);
	strbuf_printf(ret->from, sizeof(ret->from), "%s", current);
	(void)state_get_app(e->state, app->name, &ar);

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
	r = swap_and_check(&op, "rollback", target, current, ar.previous, false);
	if (r < 0)
		return r;
	log_struct(LOG_INFO, MSGID_ROLLED_BACK, app->name, target, "rolled %s back from %s to %s",
	        app->name, current, target);
	return engine_op_finish(&op, ENGINE_COMMITTED, 0,
	        "rolled back to %s; %s %s is live and healthy", target, app->name, target);
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
		return roll_back_locally(&op, "recovery", in.to, in.from, ar.previous,
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
	r = activate_and_check(&op, in.to, in.from, &err);
	if (r < 0) {
		char why[900];

		strbuf_printf(why, sizeof(why), "after an interrupted %s: %s", in.op, err.msg);
		if (streq(in.op, "rollback")) {
			strbuf_printf(ret->message, sizeof(ret->message),
			        "%s %s is live but not healthy %s", app->name, in.to, why);
			engine_finish_uncommitted(
			        &op, "recovery", "failed", in.to, ar.previous, "unhealthy");
			return engine_op_finish(&op, ENGINE_FAILED, r, "%s", ret->message);
		}
		return roll_back_locally(&op, "recovery", in.to, in.from, ar.previous, why);
	}
	r = commit(&op, "recovery", in.to, in.from);
	if (r < 0)
		return engine_op_finish(
		        &op, ENGINE_FAILED, r, "cannot record recovery: %s", strerror(-r));
	if (streq(in.op, "deploy"))
		after_commit(&op, in.to, in.from);
	return engine_op_finish(&op, ENGINE_COMMITTED, 0,
	        "interrupted %s of %s %s re-checked: live and healthy", in.op, app->name, in.to);
}
