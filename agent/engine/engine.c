/*
 * engine: the release engine's handle (engine_open()) and the life of one
 * operation (engine_op_begin() .. engine_op_finish()) with the steps every
 * operation shares: hooks, the journal, history, a cancel. See engine.h for
 * the flow and the intent journal that makes it crash-safe; the operations
 * are engine_deploy.c, engine_recover.c, engine_migrate.c and
 * engine_preflight.c.
 */
#include "engine.h"
#include "engine_private.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <limits.h>
#include <sys/file.h>
#include <systemd/sd-bus.h>

#include "hooks.h"
#include "layout.h"
#include "log.h"
#include "minisign.h"
#include "units.h"

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
engine_op_begin(struct op *op, struct engine *e, const struct app_config *app,
        struct engine_result *res, const struct op_begin *b, char current[static VERSION_MAX + 1],
        struct app_record *ret_ar)
{
	struct rw_err err = {{0}};
	struct engine_result rec;
	int r;

	/* A recovery that rolled back leaves a consistent host: go on. */
	r = engine_recover(e, app, &rec);
	engine_op_init(op, e, app, res);
	if (b->to)
		strbuf_printf(res->to, sizeof(res->to), "%s", b->to);
	if (r < 0 && rec.outcome == ENGINE_FAILED)
		return engine_op_finish(op, ENGINE_FAILED, r,
		        "recovering an interrupted operation failed, %s not started: %s", b->kind,
		        rec.message);
	if (b->to && !version_is_valid(b->to))
		return engine_op_finish(op, b->fail, -EINVAL, "invalid version '%s'", b->to);
	r = layout_open_root(app->root, b->create_root, &op->rootfd, &err);
	if (r < 0)
		return engine_op_finish(op, b->fail, r, "%s", err.msg);
	current[0] = 0;
	r = layout_read_current(op->rootfd, current);
	if (r < 0)
		return engine_op_finish(
		        op, b->fail, r, "%s/current is not a rollwave symlink", app->root);
	strbuf_printf(res->from, sizeof(res->from), "%s", current);
	*ret_ar = (struct app_record) {0};
	(void)state_get_app(e->state, app->name, ret_ar);
	return 0;
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

void
engine_history(struct op *op, const char *kind, const char *result)
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
void
engine_report_hook(const struct op *op, const char *version, const char *name, const char *status,
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
		engine_report_hook(
		        op, version, name, status, hr.output, hr.output_len, hr.truncated);
		if (r < 0 && r != -ECANCELED)
			err_append_last_line(err, hr.output, hr.output_len);
	}
	hook_result_done(&hr);
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
	engine_history(op, kind, result);
	if (state_commit(s) < 0)
		state_rollback(s);
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
