/*
 * worker_child: the child side of agent/engine/worker.h, `rollwave-agent worker`.
 *
 *   worker --parent=PID [--cancel-fd=0] [--manifest=URL] [--version=V]
 *          [--to=V] [--recover] -- OP APP
 *
 * One operation on the engine; its phases, hook output and result go to the
 * daemon as lines on stdout (the pipe); everything else printed goes to
 * stderr. With --cancel-fd the operation is cancellable (worker.h): the
 * engine checks the fd at its safe points, and SIGUSR1 in an abortable step
 * makes the handler exec `worker ... -- cancelled APP` (prepared before the
 * operation starts, so that the handler only calls dup2() and execve(),
 * both async-signal-safe).
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>

#include "engine.h"
#include "health.h"
#include "hooks.h"
#include "layout.h"
#include "log.h"
#include "units.h"
#include "worker.h"

extern char **environ;

#define EXIT_USAGE 2

static int out_fd = -1; /* the pipe to the daemon */
static volatile sig_atomic_t abortable;

/* What the SIGUSR1 handler execs. */
static char exec_path[PATH_MAX];
static char exec_args[5][PATH_MAX + 32];
static char *exec_argv[12];

static Rollwave__Phase
phase_to_wire(enum engine_phase p)
{
	switch (p) {
	case ENGINE_PHASE_FETCHING:
		return ROLLWAVE__PHASE__PHASE_FETCHING;
	case ENGINE_PHASE_VERIFYING:
		return ROLLWAVE__PHASE__PHASE_VERIFYING;
	case ENGINE_PHASE_UNPACKING:
		return ROLLWAVE__PHASE__PHASE_UNPACKING;
	case ENGINE_PHASE_ACTIVATING:
		return ROLLWAVE__PHASE__PHASE_ACTIVATING;
	case ENGINE_PHASE_RESTARTING:
		return ROLLWAVE__PHASE__PHASE_RESTARTING;
	case ENGINE_PHASE_HEALTH:
		return ROLLWAVE__PHASE__PHASE_HEALTH;
	case ENGINE_PHASE_CHECKING:
		return ROLLWAVE__PHASE__PHASE_CHECKING;
	case ENGINE_PHASE_MIGRATING:
		return ROLLWAVE__PHASE__PHASE_MIGRATING;
	case ENGINE_PHASE_COMMITTED:
		return ROLLWAVE__PHASE__PHASE_COMMITTED;
	case ENGINE_PHASE_ROLLED_BACK:
		return ROLLWAVE__PHASE__PHASE_ROLLED_BACK;
	case ENGINE_PHASE_CANCELLED:
		return ROLLWAVE__PHASE__PHASE_CANCELLED;
	default:
		return ROLLWAVE__PHASE__PHASE_FAILED;
	}
}

static void
on_phase(void *userdata, const char *app, const char *version, enum engine_phase phase,
        const char *error)
{
	(void)userdata;
	(void)app;
	(void)error;
	if (phase >= ENGINE_PHASE_COMMITTED) /* the result line says how it ended */
		return;
	(void)worker_emit_phase(
	        out_fd, phase_to_wire(phase), engine_phase_to_string(phase), version);
}

/* One block per hook that ran: a header line, then what it printed (cut to
 * what a report carries; the daemon caps the whole). */
static void
on_hook(void *userdata, const char *app, const char *version, const char *hook, const char *status,
        const char *output, size_t len, bool truncated)
{
	char head[160];
	int n;

	(void)userdata;
	(void)app;
	n = snprintf(head, sizeof(head), "== hook '%s' of %s %s ==\n", hook,
	        isempty(version) ? "?" : version, status);
	if (n < 0 || (size_t)n >= sizeof(head))
		return;
	if (len > WIRE_REPORT_TEXT_MAX) {
		len = WIRE_REPORT_TEXT_MAX;
		truncated = true;
	}
	if (worker_emit_output(out_fd, head, (size_t)n) < 0 ||
	        worker_emit_output(out_fd, output, len) < 0)
		return;
	if (len > 0 && output[len - 1] != '\n')
		(void)worker_emit_output(out_fd, "\n", 1);
	if (truncated)
		(void)worker_emit_output(out_fd, "[output truncated]\n", 19);
}

/* SIGUSR1: a cancel. Only in an abortable step does it do anything (the
 * step could take long and checks no flag); elsewhere the request waits in
 * the cancel fd for the next safe point. */
static void
on_cancel_signal(int sig)
{
	int saved = errno;

	(void)sig;
	if (abortable && exec_argv[0]) {
		(void)dup2(out_fd, STDOUT_FILENO);
		execve(exec_path, exec_argv, environ);
		(void)dup2(STDERR_FILENO, STDOUT_FILENO);
		/* exec failed: the next safe point sees the request. */
	}
	errno = saved;
}

/* Prepares `agent [--config=F] worker --parent=P [--version=V] [--recover]
 * -- cancelled APP` for the handler. */
static int
prepare_cancel_exec(
        const char *config_path, long parent, const char *version, bool recover, const char *app)
{
	ssize_t len;
	size_t n = 0;

	len = readlink("/proc/self/exe", exec_path, sizeof(exec_path) - 1);
	if (len <= 0 || (size_t)len >= sizeof(exec_path) - 1)
		return -ENAMETOOLONG;
	exec_path[len] = 0;
	exec_argv[n++] = exec_path;
	if (config_path) {
		if (xsnprintf(exec_args[0], sizeof(exec_args[0]), "--config=%s", config_path) < 0)
			return -ENAMETOOLONG;
		exec_argv[n++] = exec_args[0];
	}
	exec_argv[n++] = (char *)"worker";
	(void)xsnprintf(exec_args[1], sizeof(exec_args[1]), "--parent=%ld", parent);
	exec_argv[n++] = exec_args[1];
	if (!isempty(version)) {
		if (xsnprintf(exec_args[2], sizeof(exec_args[2]), "--version=%s", version) < 0)
			return -ENAMETOOLONG;
		exec_argv[n++] = exec_args[2];
	}
	if (recover)
		exec_argv[n++] = (char *)"--recover";
	exec_argv[n++] = (char *)"--";
	exec_argv[n++] = (char *)"cancelled";
	if (xsnprintf(exec_args[3], sizeof(exec_args[3]), "%s", app) < 0)
		return -ENAMETOOLONG;
	exec_argv[n++] = exec_args[3];
	exec_argv[n] = NULL;
	return 0;
}

static int
setup_cancel(struct engine *e, int cancel_fd, const char *config_path, long parent,
        enum worker_op op, const char *version, const char *app)
{
	struct sigaction sa = {.sa_handler = on_cancel_signal, .sa_flags = SA_RESTART};
	sigset_t usr1;
	int r;

	/* Deploy and migrate leave staging files an exec'd cleanup removes
	 * the way recovery does; a preflight changes nothing. */
	r = prepare_cancel_exec(config_path, parent, version, op != WORKER_PREFLIGHT, app);
	if (r < 0)
		exec_argv[0] = NULL; /* safe points still see a cancel */
	engine_set_cancel(e, cancel_fd, &abortable);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	return -pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
}

/* The exec'd end of a cancel that came during an abortable step: clean up
 * like recovery (staging leftovers, the journal's STAGING row). */
static int
run_cancelled(struct engine *e, const struct app_config *app, bool recover, const char *version,
        struct engine_result *res)
{
	struct engine_result rec = {0};
	int r = 0;

	memset(res, 0, sizeof(*res));
	strbuf_printf(res->app, sizeof(res->app), "%s", app->name);
	strbuf_printf(res->to, sizeof(res->to), "%s", version ? version : "");
	res->outcome = ENGINE_CANCELLED;
	if (!recover) {
		strbuf_printf(res->message, sizeof(res->message),
		        "preflight of %s cancelled; nothing was changed", app->name);
		return -ECANCELED;
	}
	r = engine_recover(e, app, &rec);
	if (r < 0) {
		res->outcome = ENGINE_FAILED;
		strbuf_printf(res->message, sizeof(res->message),
		        "cancelled while downloading or unpacking, but cleaning up failed: %s",
		        rec.message);
		return r;
	}
	strbuf_printf(res->message, sizeof(res->message),
	        "cancelled before activation, while downloading or unpacking: %s",
	        rec.to[0] ? rec.message : "nothing was installed");
	return -ECANCELED;
}

/* The final report's phase: an UNCHANGED outcome is a success unless the
 * engine refused (r < 0). */
static Rollwave__Phase
result_phase(const struct engine_result *res, int r)
{
	switch (res->outcome) {
	case ENGINE_COMMITTED:
		return ROLLWAVE__PHASE__PHASE_COMMITTED;
	case ENGINE_UNCHANGED:
		return r >= 0 ? ROLLWAVE__PHASE__PHASE_COMMITTED : ROLLWAVE__PHASE__PHASE_FAILED;
	case ENGINE_ROLLED_BACK:
		return ROLLWAVE__PHASE__PHASE_ROLLED_BACK;
	case ENGINE_CANCELLED:
		return ROLLWAVE__PHASE__PHASE_CANCELLED;
	case ENGINE_FAILED:
		break;
	}
	return ROLLWAVE__PHASE__PHASE_FAILED;
}

struct worker_args {
	long parent;
	int cancel_fd;
	bool recover;
	const char *manifest, *version, *to;
	enum worker_op op;
	const char *app;
};

static int
parse_args(int argc, char **argv, struct worker_args *a)
{
	static const struct option opts[] = {
	        {"parent", required_argument, NULL, 'p'},
	        {"manifest", required_argument, NULL, 'm'},
	        {"version", required_argument, NULL, 'v'},
	        {"to", required_argument, NULL, 't'},
	        {"cancel-fd", required_argument, NULL, 'c'},
	        {"recover", no_argument, NULL, 'r'},
	        {},
	};
	char *end;
	int c;

	*a = (struct worker_args) {.cancel_fd = -1};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 'p':
			a->parent = strtol(optarg, NULL, 10);
			break;
		case 'm':
			a->manifest = optarg;
			break;
		case 'v':
			a->version = optarg;
			break;
		case 't':
			a->to = optarg;
			break;
		case 'c':
			errno = 0;
			a->cancel_fd = (int)strtol(optarg, &end, 10);
			if (errno || *end || a->cancel_fd < 0 || end == optarg)
				return -EINVAL;
			break;
		case 'r':
			a->recover = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind + 2 != argc || a->parent <= 0)
		return -EINVAL;
	if (worker_op_from_string(argv[optind], &a->op) < 0)
		return -EINVAL;
	a->app = argv[optind + 1];
	if ((a->op == WORKER_DEPLOY || a->op == WORKER_MIGRATE || a->op == WORKER_PREFLIGHT) &&
	        !a->manifest)
		return -EINVAL;
	if (a->op == WORKER_MIGRATE_DOWN && isempty(a->version))
		return -EINVAL;
	return 0;
}

/* The health watch (worker.h): one probe round of app's current release.
 * Every unit's restart baseline is 0: systemd counts NRestarts from the
 * last start it was asked for (the activation's restart), so a service
 * that crashed and was restarted by Restart= since then fails the check. */
static int
run_check(const struct app_config *app, struct engine_result *res)
{
	struct health_config hc = {
	        .http_get = app->http_get,
	        .tcp_connect = app->tcp_connect,
	        .exec = app->exec,
	        .probe_timeout_usec = app->probe_timeout_usec,
	};
	_cleanup_close_ int rootfd = -1;
	struct health_baseline zero = {0};
	uint32_t *counts = NULL;
	struct rw_err err = {{0}};
	char current[VERSION_MAX + 1] = "";
	sd_bus *bus = NULL;
	int r;

	res->outcome = ENGINE_UNCHANGED;
	if (layout_open_root(app->root, false, &rootfd, &err) < 0 ||
	        layout_read_current(rootfd, current) < 0 || !current[0]) {
		strbuf_printf(res->message, sizeof(res->message), "nothing to check: no release");
		return 0;
	}
	strbuf_printf(res->to, sizeof(res->to), "%s", current);
	if (app->units) {
		r = units_bus_open(&bus, &err);
		if (r < 0)
			goto fail;
		zero.n_units = strv_length(app->units);
		counts = calloc(zero.n_units ? zero.n_units : 1, sizeof(*counts));
		if (!counts) {
			r = rw_err_set(&err, -ENOMEM, "out of memory");
			goto fail;
		}
		zero.n_restarts = counts;
	}
	r = health_probe_once(bus, app->units, app->units ? &zero : NULL, &hc, NULL, 0, &err);
	free(counts);
	sd_bus_flush_close_unref(bus);
	if (r < 0) {
		res->outcome = ENGINE_FAILED;
		strbuf_printf(res->message, sizeof(res->message), "%s", err.msg);
		return r;
	}
	res->outcome = ENGINE_COMMITTED;
	strbuf_printf(res->message, sizeof(res->message), "healthy");
	return 0;
fail:
	free(counts);
	sd_bus_flush_close_unref(bus);
	res->outcome = ENGINE_FAILED;
	strbuf_printf(res->message, sizeof(res->message), "cannot check: %s", err.msg);
	return r;
}

/* Runs a->op with the engine open; fills res. */
static int
run_op(struct engine *e, const char *config_path, const struct worker_args *a,
        const struct app_config *app, const char *app_error, struct engine_result *res)
{
	int r;

	engine_set_phase_cb(e, on_phase, NULL);
	engine_set_hook_cb(e, on_hook, NULL);
	if (a->cancel_fd >= 0 && worker_op_is_cancellable(a->op)) {
		r = setup_cancel(
		        e, a->cancel_fd, config_path, a->parent, a->op, a->version, a->app);
		if (r < 0)
			log_warning("worker: cannot handle cancel signals: %s", strerror(-r));
	}
	switch (a->op) {
	case WORKER_DEPLOY:
		return engine_deploy(e, app, a->manifest, a->version, res);
	case WORKER_ROLLBACK:
		return engine_rollback(e, app, isempty(a->to) ? NULL : a->to, res);
	case WORKER_RECOVER:
		return engine_recover(e, app, res);
	case WORKER_MIGRATE:
		return engine_migrate(e, app, a->manifest, a->version, res);
	case WORKER_MIGRATE_DOWN:
		return engine_migrate_down(e, app, a->version, res);
	case WORKER_PREFLIGHT:
		return engine_preflight(e, a->app, app, app_error, a->manifest, a->version, res);
	case WORKER_CANCELLED:
		return run_cancelled(e, app, a->recover, a->version, res);
	case WORKER_CHECK: /* run without the engine, see worker_child_main() */
	case _WORKER_OP_MAX:
		break;
	}
	return -EINVAL;
}

int
worker_child_main(const struct agent_config *cfg, const char *config_path, int argc, char **argv)
{
	struct engine_result res = {.outcome = ENGINE_FAILED};
	struct rw_err err = {{0}};
	struct engine *e = NULL;
	struct worker_args a;
	struct app_config app;
	bool have_app;
	int r;

	if (parse_args(argc, argv, &a) < 0)
		return -EXIT_USAGE;
	/* Die with the daemon, as the worker thread did; it may have died
	 * already. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != (pid_t)a.parent) {
		log_error("worker: the daemon (pid %ld) is gone", a.parent);
		return 1;
	}
	/* Lines for the daemon go to the pipe on stdout; anything else that
	 * is printed goes to stderr. */
	out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (out_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		log_error("worker: cannot set up its output: %m");
		return 1;
	}
	strbuf_printf(res.app, sizeof(res.app), "%s", a.app);
	r = app_config_load(cfg, a.app, &app, &err);
	have_app = r >= 0;
	/* A preflight reports a missing app config as one of its checks. */
	if (have_app && a.op == WORKER_CHECK) {
		r = run_check(&app, &res);
		err = (struct rw_err) {{0}};
	} else if (have_app || a.op == WORKER_PREFLIGHT) {
		struct rw_err app_err = err;

		err = (struct rw_err) {{0}};
		r = engine_open(cfg, &e, &err);
		if (r >= 0) {
			r = run_op(e, config_path, &a, have_app ? &app : NULL, app_err.msg, &res);
			engine_close(e);
		}
	}
	if (have_app)
		app_config_done(&app);
	if (r < 0 && res.outcome == ENGINE_FAILED && !res.message[0])
		strbuf_printf(res.message, sizeof(res.message), "%s",
		        err.msg[0] ? err.msg : strerror(-r));
	if (res.hook_absent)
		(void)worker_emit_absent(out_fd);
	r = worker_emit_result(out_fd, result_phase(&res, r), res.to, res.message);
	if (r < 0) {
		log_error("worker: cannot report to the daemon: %s", strerror(-r));
		return 1;
	}
	return 0;
}
