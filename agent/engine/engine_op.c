/*
 * engine_op: the life of one operation (engine_op_init() ..
 * engine_op_finish()) and the steps every operation shares: hooks, the
 * journal, history, a cancel. The bottom of the engine's operations: the
 * operation files (engine_deploy.c, engine_recover.c, engine_migrate.c,
 * engine_preflight.c, engine_release.c, engine_activate.c) call it, it
 * calls none of them.
 */
#include "engine.h"
#include "engine_private.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <limits.h>
#include <systemd/sd-bus.h>

#include "hooks.h"
#include "layout.h"
#include "log.h"
#include "units.h"

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
