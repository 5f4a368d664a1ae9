/*
 * rollwave-agent: the host agent's command line.
 *
 *   rollwave-agent [--config FILE] deploy APP --manifest URL|PATH
 *   rollwave-agent [--config FILE] rollback APP [--to VERSION]
 *   rollwave-agent [--config FILE] status [APP] [--json]
 *   rollwave-agent [--config FILE] releases APP [--json]
 *   rollwave-agent [--config FILE] recover [APP]
 *   rollwave-agent [--config FILE] run
 *
 * Exit status: 0 success, 1 failure (see the one-line reason), 2 usage or
 * configuration error, 3 the new release was unhealthy and this host rolled
 * back to the previous one on its own.
 *
 * Internal: `rollwave-agent worker ...` runs one coordinator command for the
 * daemon (agent/worker.h); `run` execs rollwave-agentd (agent/daemon.h).
 */
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "daemon.h"
#include "engine.h"
#include "layout.h"
#include "log.h"
#include "verbs.h"
#include "worker.h"

#define EXIT_USAGE       2
#define EXIT_ROLLED_BACK 3

static bool arg_quiet;
static const char *arg_config; /* --config, NULL for the default */

static void
print_phase(void *userdata, const char *app, const char *version, enum engine_phase phase,
        const char *error)
{
	(void)userdata;
	(void)error;
	/* Phases before the manifest names a version add nothing to read. */
	if (arg_quiet || phase >= ENGINE_PHASE_COMMITTED || isempty(version))
		return;
	fprintf(stderr, "rollwave-agent: %s%s%s: %s\n", app, isempty(version) ? "" : " ",
	        isempty(version) ? "" : version, engine_phase_to_string(phase));
}

static int
report(const struct engine_result *res, int r)
{
	char timings[512] = "";
	size_t off = 0;

	for (int p = 0; p < ENGINE_PHASE_COMMITTED; p++) {
		if (!res->phase_usec[p])
			continue;
		int n = snprintf(timings + off, sizeof(timings) - off, "%s%s %.2fs",
		        off ? ", " : "", engine_phase_to_string((enum engine_phase)p),
		        (double)res->phase_usec[p] / 1e6);
		if (n < 0 || (size_t)n >= sizeof(timings) - off)
			break;
		off += (size_t)n;
	}
	if (!arg_quiet && timings[0])
		fprintf(stderr, "rollwave-agent: timings: %s\n", timings);
	switch (res->outcome) {
	case ENGINE_COMMITTED:
		printf("%s\n", res->message);
		return 0;
	case ENGINE_UNCHANGED:
		if (r >= 0) {
			printf("%s\n", res->message);
			return 0;
		}
		log_error("%s", res->message);
		return 1;
	case ENGINE_ROLLED_BACK:
		log_error("%s", res->message);
		return EXIT_ROLLED_BACK;
	case ENGINE_FAILED:
	case ENGINE_CANCELLED:
		break;
	}
	log_error("%s", res->message);
	return 1;
}

static int
open_engine(const struct agent_config *cfg, struct engine **ret)
{
	struct rw_err err = {{0}};
	int r = engine_open(cfg, ret, &err);

	if (r < 0)
		log_error("%s", err.msg);
	return r;
}

static int
load_app(const struct agent_config *cfg, const char *app, struct app_config *ret)
{
	struct rw_err err = {{0}};
	int r = app_config_load(cfg, app, ret, &err);

	if (r < 0)
		log_error("%s", err.msg);
	return r;
}

static int
verb_deploy(void *userdata, int argc, char **argv)
{
	const struct agent_config *cfg = userdata;
	static const struct option opts[] = {
	        {"manifest", required_argument, NULL, 'm'},
	        {},
	};
	const char *manifest = NULL;
	struct app_config app;
	struct engine_result res;
	struct engine *e = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "m:", opts, NULL)) >= 0) {
		if (c != 'm')
			return -EXIT_USAGE;
		manifest = optarg;
	}
	if (optind + 1 != argc || !manifest)
		return -EXIT_USAGE;
	if (load_app(cfg, argv[optind], &app) < 0)
		return EXIT_USAGE;
	if (open_engine(cfg, &e) < 0) {
		app_config_done(&app);
		return 1;
	}
	engine_set_phase_cb(e, print_phase, NULL);
	r = engine_deploy(e, &app, manifest, NULL, &res);
	r = report(&res, r);
	engine_close(e);
	app_config_done(&app);
	return r;
}

static int
verb_rollback(void *userdata, int argc, char **argv)
{
	const struct agent_config *cfg = userdata;
	static const struct option opts[] = {
	        {"to", required_argument, NULL, 't'},
	        {},
	};
	const char *to = NULL;
	struct app_config app;
	struct engine_result res;
	struct engine *e = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "t:", opts, NULL)) >= 0) {
		if (c != 't')
			return -EXIT_USAGE;
		to = optarg;
	}
	if (optind + 1 != argc)
		return -EXIT_USAGE;
	if (load_app(cfg, argv[optind], &app) < 0)
		return EXIT_USAGE;
	if (open_engine(cfg, &e) < 0) {
		app_config_done(&app);
		return 1;
	}
	engine_set_phase_cb(e, print_phase, NULL);
	r = engine_rollback(e, &app, to, &res);
	r = report(&res, r);
	engine_close(e);
	app_config_done(&app);
	return r;
}

static int
verb_recover(void *userdata, int argc, char **argv)
{
	const struct agent_config *cfg = userdata;
	_cleanup_strv_free_ char **apps = NULL;
	struct rw_err err = {{0}};
	struct engine *e = NULL;
	int ret = 0, r;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return -EXIT_USAGE;
	if (argc == 2) {
		r = strv_split(argv[1], 1, &apps);
		if (r < 0)
			return -EXIT_USAGE;
	} else if (app_config_list(cfg, &apps, &err) < 0) {
		log_error("%s", err.msg);
		return EXIT_USAGE;
	}
	if (open_engine(cfg, &e) < 0)
		return 1;
	for (char **a = apps; *a; a++) {
		struct app_config app;
		struct engine_result res;

		if (load_app(cfg, *a, &app) < 0) {
			ret = 1;
			continue;
		}
		r = engine_recover(e, &app, &res);
		printf("%s: %s\n", *a, res.message);
		if (res.outcome == ENGINE_ROLLED_BACK) {
			if (ret == 0)
				ret = EXIT_ROLLED_BACK;
		} else if (r < 0 || res.outcome == ENGINE_FAILED)
			ret = 1;
		app_config_done(&app);
	}
	engine_close(e);
	return ret;
}

/* ---- status and releases: read-only, no lock ---- */

static void
fmt_time(uint64_t usec, char *buf, size_t size)
{
	if (!usec) {
		snprintf(buf, size, "-");
		return;
	}
	format_timestamp_utc(usec, buf, size);
}

static int
last_history_cb(void *userdata, const struct history_entry *h)
{
	*(struct history_entry *)userdata = *h;
	return 0;
}

static json_t *
app_status_json(
        const struct agent_config *cfg, struct state *s, const char *name, struct rw_err *err)
{
	_cleanup_strv_free_ char **versions = NULL;
	struct history_entry last = {0};
	struct app_config app;
	struct app_record rec = {0};
	struct inflight in;
	char current[VERSION_MAX + 1] = "", ts[32];
	_cleanup_close_ int rootfd = -1;
	json_t *o, *rel;
	int r;

	r = app_config_load(cfg, name, &app, err);
	if (r < 0)
		return NULL;
	o = json_object();
	json_object_set_new(o, "app", json_string(name));
	json_object_set_new(o, "root", json_string(app.root));
	r = layout_open_root(app.root, false, &rootfd, NULL);
	if (r >= 0) {
		if (layout_read_current(rootfd, current) < 0)
			strcpy(current, "");
		(void)layout_list_releases(rootfd, &versions);
	}
	(void)state_get_app(s, name, &rec);
	json_object_set_new(o, "current", current[0] ? json_string(current) : json_null());
	json_object_set_new(
	        o, "previous", rec.previous[0] ? json_string(rec.previous) : json_null());
	json_object_set_new(o, "health", json_string(rec.health[0] ? rec.health : "unknown"));
	fmt_time(rec.health_usec, ts, sizeof(ts));
	json_object_set_new(o, "health_checked", rec.health_usec ? json_string(ts) : json_null());
	rel = json_array();
	for (char **v = versions; v && *v; v++)
		json_array_append_new(rel, json_string(*v));
	json_object_set_new(o, "releases", rel);
	if (state_inflight_get(s, name, &in) >= 0)
		json_object_set_new(o, "in_flight",
		        json_pack("{s:s, s:s, s:s, s:s, s:I}", "op", in.op, "from", in.from, "to",
		                in.to, "phase", inflight_phase_to_string(in.phase), "pid",
		                (json_int_t)in.pid));
	else
		json_object_set_new(o, "in_flight", json_null());
	if (state_history_foreach(s, name, 1, last_history_cb, &last) >= 0 && last.id) {
		fmt_time(last.finished_usec, ts, sizeof(ts));
		json_object_set_new(o, "last_operation",
		        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "op", last.op, "from",
		                last.from, "to", last.to, "result", last.result, "message",
		                last.message, "finished", ts));
	} else
		json_object_set_new(o, "last_operation", json_null());
	app_config_done(&app);
	return o;
}

static int
open_state_readonly(const struct agent_config *cfg, struct state **ret)
{
	struct rw_err err = {{0}};
	int r = state_open(cfg->state_dir, ret, &err);

	if (r < 0)
		log_error("%s", err.msg);
	return r;
}

static void
print_app_text(json_t *o)
{
	json_t *in = json_object_get(o, "in_flight"), *last = json_object_get(o, "last_operation");
	json_t *rel = json_object_get(o, "releases"), *v;
	const char *cur = json_string_value(json_object_get(o, "current"));
	const char *prev = json_string_value(json_object_get(o, "previous"));
	size_t i;

	printf("%s\n", json_string_value(json_object_get(o, "app")));
	printf("  current:   %s\n", cur ? cur : "(none)");
	printf("  previous:  %s\n", prev ? prev : "(none)");
	printf("  health:    %s", json_string_value(json_object_get(o, "health")));
	if (json_is_string(json_object_get(o, "health_checked")))
		printf(" (checked %s)", json_string_value(json_object_get(o, "health_checked")));
	printf("\n  releases: ");
	json_array_foreach(rel, i, v) printf(" %s", json_string_value(v));
	printf("%s\n", json_array_size(rel) ? "" : " (none)");
	if (json_is_object(in))
		printf("  in flight: interrupted %s %s -> %s at phase %s (run 'rollwave-agent "
		       "recover')\n",
		        json_string_value(json_object_get(in, "op")),
		        json_string_value(json_object_get(in, "from")),
		        json_string_value(json_object_get(in, "to")),
		        json_string_value(json_object_get(in, "phase")));
	if (json_is_object(last))
		printf("  last:      %s %s -> %s: %s (%s)\n",
		        json_string_value(json_object_get(last, "op")),
		        json_string_value(json_object_get(last, "from")),
		        json_string_value(json_object_get(last, "to")),
		        json_string_value(json_object_get(last, "result")),
		        json_string_value(json_object_get(last, "finished")));
}

static int
verb_status(void *userdata, int argc, char **argv)
{
	const struct agent_config *cfg = userdata;
	static const struct option opts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {},
	};
	_cleanup_strv_free_ char **apps = NULL;
	struct rw_err err = {{0}};
	struct state *s = NULL;
	bool json = false;
	json_t *arr;
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, "j", opts, NULL)) >= 0) {
		if (c != 'j')
			return -EXIT_USAGE;
		json = true;
	}
	if (argc - optind > 1)
		return -EXIT_USAGE;
	if (optind < argc) {
		if (strv_split(argv[optind], 1, &apps) < 0)
			return -EXIT_USAGE;
	} else if (app_config_list(cfg, &apps, &err) < 0) {
		log_error("%s", err.msg);
		return EXIT_USAGE;
	}
	if (open_state_readonly(cfg, &s) < 0)
		return 1;
	arr = json_array();
	for (char **a = apps; *a; a++) {
		json_t *o = app_status_json(cfg, s, *a, &err);

		if (!o) {
			log_error("%s", err.msg);
			ret = 1;
			continue;
		}
		json_array_append_new(arr, o);
	}
	if (json) {
		json_t *doc =
		        json_pack("{s:s, s:o}", "agent_version", ROLLWAVE_VERSION, "apps", arr);

		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(doc);
	} else {
		size_t i;
		json_t *o;

		if (json_array_size(arr) == 0)
			printf("no apps configured in %s\n", cfg->apps_dir);
		json_array_foreach(arr, i, o) print_app_text(o);
		json_decref(arr);
	}
	state_close(s);
	return ret;
}

static int
verb_releases(void *userdata, int argc, char **argv)
{
	const struct agent_config *cfg = userdata;
	static const struct option opts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {},
	};
	_cleanup_strv_free_ char **versions = NULL;
	struct rw_err err = {{0}};
	_cleanup_close_ int rootfd = -1;
	struct app_record rec = {0};
	char current[VERSION_MAX + 1] = "";
	struct app_config app;
	struct state *s = NULL;
	bool json = false;
	json_t *arr;
	int c, r;

	while ((c = getopt_long(argc, argv, "j", opts, NULL)) >= 0) {
		if (c != 'j')
			return -EXIT_USAGE;
		json = true;
	}
	if (argc - optind != 1)
		return -EXIT_USAGE;
	if (load_app(cfg, argv[optind], &app) < 0)
		return EXIT_USAGE;
	r = layout_open_root(app.root, false, &rootfd, &err);
	if (r >= 0) {
		(void)layout_read_current(rootfd, current);
		r = layout_list_releases(rootfd, &versions);
	} else if (r == -ENOENT)
		r = strv_split("", 1, &versions);
	if (r < 0) {
		log_error("cannot list releases of %s: %s", app.name,
		        err.msg[0] ? err.msg : strerror(-r));
		app_config_done(&app);
		return 1;
	}
	if (open_state_readonly(cfg, &s) >= 0) {
		(void)state_get_app(s, app.name, &rec);
		state_close(s);
	}
	arr = json_array();
	for (char **v = versions; *v; v++) {
		char path[PATH_MAX + 128], ts[32] = "-";
		struct stat st;
		const char *mark = streq(*v, current) ? "current"
		        : streq(*v, rec.previous)     ? "previous"
		                                      : "";

		if (xsnprintf(path, sizeof(path), "releases/%s", *v) >= 0 &&
		        fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
			format_timestamp_utc((uint64_t)st.st_mtime * USEC_PER_SEC, ts, sizeof(ts));
		json_array_append_new(arr,
		        json_pack(
		                "{s:s, s:s, s:s}", "version", *v, "state", mark, "installed", ts));
	}
	if (json) {
		json_t *doc = json_pack("{s:s, s:o}", "app", app.name, "releases", arr);

		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(doc);
	} else {
		size_t i;
		json_t *o;

		printf("%-24s %-9s %s\n", "VERSION", "STATE", "INSTALLED");
		json_array_foreach(arr, i, o)
		        printf("%-24s %-9s %s\n", json_string_value(json_object_get(o, "version")),
		                json_string_value(json_object_get(o, "state")),
		                json_string_value(json_object_get(o, "installed")));
		json_decref(arr);
	}
	app_config_done(&app);
	return 0;
}

/* ---- run: recovery, then the resident daemon ---- */

static void
recover_all(const struct agent_config *cfg)
{
	_cleanup_strv_free_ char **apps = NULL;
	struct rw_err err = {{0}};
	struct engine *e = NULL;

	if (app_config_list(cfg, &apps, &err) < 0) {
		log_error("recovery: %s", err.msg);
		return;
	}
	if (!apps[0])
		return;
	if (engine_open(cfg, &e, &err) < 0) {
		log_error("recovery skipped: %s", err.msg);
		return;
	}
	for (char **a = apps; *a; a++) {
		struct app_config app;
		struct engine_result res;
		int r;

		if (app_config_load(cfg, *a, &app, &err) < 0) {
			log_error("recovery of '%s': %s", *a, err.msg);
			continue;
		}
		r = engine_recover(e, &app, &res);
		if (res.outcome == ENGINE_ROLLED_BACK)
			log_struct(LOG_WARNING, MSGID_RECOVERY, *a, res.to, "recovery: %s",
			        res.message);
		else if (r < 0 || res.outcome == ENGINE_FAILED)
			log_struct(LOG_ERR, MSGID_RECOVERY, *a, NULL, "recovery failed: %s",
			        res.message);
		else if (res.outcome != ENGINE_UNCHANGED)
			log_struct(LOG_NOTICE, MSGID_RECOVERY, *a, res.to, "recovery: %s",
			        res.message);
		app_config_done(&app);
	}
	engine_close(e);
}

static int
verb_run(void *userdata, int argc, char **argv)
{
	const struct agent_config *cfg = userdata;
	char self[PATH_MAX], agentd[PATH_MAX], config_arg[PATH_MAX + 16], agent_arg[PATH_MAX + 16];
	struct daemon_options opts = {.config_path = arg_config};
	const char *dargv[4];
	size_t n = 0;
	sigset_t mask;
	ssize_t len;
	char *slash;
	int r;

	(void)argv;
	if (argc != 1)
		return -EXIT_USAGE;
	/* SIGTERM and SIGINT wait for the daemon's loop from here on, through
	 * recovery and the exec (a blocked signal stays pending across it). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	/* Crash recovery comes before anything else. */
	recover_all(cfg);

	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0 || (size_t)len >= sizeof(self) - 1) {
		log_error("cannot find this executable (/proc/self/exe): %m");
		return 1;
	}
	self[len] = 0;
	opts.agent_path = self;
	/* The resident daemon, next to this executable, maps no more than its
	 * loop needs (daemon.h). */
	slash = strrchr(self, '/');
	if (!slash)
		return 1;
	r = xsnprintf(agentd, sizeof(agentd), "%.*s/rollwave-agentd", (int)(slash - self), self);
	if (r >= 0)
		r = xsnprintf(agent_arg, sizeof(agent_arg), "--agent=%s", self);
	if (r < 0) {
		log_error("path of this executable too long: %s", self);
		return 1;
	}
	dargv[n++] = "rollwave-agentd";
	if (arg_config) {
		if (xsnprintf(config_arg, sizeof(config_arg), "--config=%s", arg_config) < 0) {
			log_error("config path too long: %s", arg_config);
			return 1;
		}
		dargv[n++] = config_arg;
	}
	dargv[n++] = agent_arg;
	dargv[n] = NULL;
	fflush(NULL);
	execv(agentd, (char *const *)dargv);
	log_warning("cannot start %s (%m); running the daemon in this process, with the release "
	            "engine's libraries loaded",
	        agentd);
	return daemon_run(cfg, &opts);
}

/* ---- worker: one coordinator command for the daemon (worker.h) ---- */

static int
verb_worker(void *userdata, int argc, char **argv)
{
	return worker_child_main(userdata, arg_config, argc, argv);
}

static const struct verb verbs[] = {
        {"deploy", verb_deploy, "deploy APP --manifest URL|PATH"},
        {"rollback", verb_rollback, "rollback APP [--to VERSION]"},
        {"status", verb_status, "status [APP] [--json]"},
        {"releases", verb_releases, "releases APP [--json]"},
        {"recover", verb_recover, "recover [APP]"},
        {"run", verb_run, "run"},
        {"worker", verb_worker, NULL},
};

static const struct verb_table verb_table = {
        .program = "rollwave-agent",
        .synopsis = "[--config FILE] [--quiet] COMMAND ...",
        .footer = "\nexit status: 0 ok, 1 failed, 2 usage or configuration error, "
                  "3 unhealthy release rolled back on this host\n",
        .verbs = verbs,
        .n_verbs = ELEMENTSOF(verbs),
};

int
main(int argc, char **argv)
{
	const char *config = NULL;
	const struct verb *verb;
	struct agent_config cfg;
	struct rw_err err = {{0}};
	int i, r;

	log_setup("rollwave-agent", LOG_TARGET_AUTO,
	        isempty(getenv("ROLLWAVE_DEBUG")) ? LOG_INFO : LOG_DEBUG);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (streq(argv[i], "--config") && i + 1 < argc)
			config = arg_config = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = arg_config = argv[i] + 9;
		else if (streq(argv[i], "--quiet") || streq(argv[i], "-q"))
			arg_quiet = true;
		else if (streq(argv[i], "--version")) {
			printf("rollwave-agent %s\n", ROLLWAVE_VERSION);
			return 0;
		} else if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
			verbs_usage(&verb_table, stdout);
			return 0;
		} else {
			fprintf(stderr, "rollwave-agent: unknown option '%s'\n", argv[i]);
			verbs_usage(&verb_table, stderr);
			return EXIT_USAGE;
		}
	}
	r = verbs_find(&verb_table, argc - i, argv + i, &verb);
	if (!verb)
		return r;
	if (sodium_init() < 0) {
		log_error("cannot initialise libsodium");
		return 1;
	}
	r = agent_config_load(config, &cfg, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return EXIT_USAGE;
	}
	r = verbs_run(&verb_table, verb, &cfg, argc - i, argv + i);
	agent_config_done(&cfg);
	return r;
}
