/*
 * Deployments through waves:
 *
 *   rollwave deploy APP VERSION --manifest URL [--selector K=V,...] [-f FILE]
 *                   [--strategy NAME] [--OPTION VALUE]... [--force]
 *                   [--wait [--timeout DURATION]]
 *   rollwave plan APP VERSION [--selector ...] [-f FILE] [--OPTION VALUE]...
 *   rollwave status [ID | --app APP]
 *   rollwave watch ID [--timeout DURATION]
 *   rollwave approve|pause|resume ID        rollwave abort ID [--rollback]
 *   rollwave rollback APP [--to VERSION] [--wait [--timeout DURATION]]
 *   rollwave history [APP] [--limit N]
 *
 * Options of a deployment (strategies/deploy_params.h) come from a
 * deployment file (-f FILE, -fFILE, --file FILE, --file=FILE) and from
 * flags (--batch 10%, --max-unavailable 2, --canary ring=0, --bake 5m,
 * --set Gate.errors.Query=...), checked here with the coordinator's own
 * parser before anything is sent; flags override the file whatever their
 * order, so the arguments are read twice: once for the file, once for the
 * rest.
 *
 * Following a deployment (deploy --wait, rollback --wait, watch) polls
 * GetDeploymentStatus every POLL_MS until the deployment is final, and
 * tells the outcomes apart by exit code (README.md, "Deployments through
 * waves"): CLI_EXIT_OK, CLI_EXIT_FAILURE, CLI_EXIT_USAGE and the two below.
 * Only transport failures are asked again (a coordinator restarting), for
 * up to LOST_AFTER_USEC; a refusal such as "no such deployment" ends it at
 * once.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "admin_format.h"
#include "cli.h"
#include "deploy_params.h"
#include "log.h"
#include "version.h"
#include "wire.h"

enum {
	/* Could not follow it: the coordinator unreachable or lost, an unknown
	 * deployment, the request refused. */
	WAVES_EXIT_UNFOLLOWED = 3,
	/* --timeout passed while the deployment was active; it goes on. */
	WAVES_EXIT_TIMEOUT = 4,
};

static const char waves_usage[] =
        "Usage:\n"
        "  rollwave deploy APP VERSION --manifest URL [--selector K=V,...] [-f FILE]\n"
        "                  [--strategy NAME] [--OPTION VALUE]... [--force]\n"
        "                  [--wait [--timeout DURATION]] [--json]\n"
        "  rollwave plan APP VERSION [--selector K=V,...] [-f FILE] [--OPTION VALUE]... [--json]\n"
        "  rollwave status [ID | --app APP] [--json]\n"
        "  rollwave watch ID [--timeout DURATION] [--json]\n"
        "  rollwave approve|pause|resume ID [--json]\n"
        "  rollwave abort ID [--rollback] [--json]\n"
        "  rollwave rollback APP [--to VERSION] [--wait [--timeout DURATION]] [--json]\n"
        "  rollwave history [APP] [--limit N] [--json]\n"
        "\n"
        "Options of a deployment (also the keys of a deployment file, see\n"
        "strategies/README.md): --strategy all-at-once|rolling|canary|ring|blue-green,\n"
        "--batch N|P%, --max-unavailable N|P%, --canary N|P%|K=V, --steps 1%,10%,100%,\n"
        "--ring-label KEY, --datacenters DC,DC, --ring-bake RING:DUR,..., --ring-approval\n"
        "RING,..., --bake DUR, --approval no|first|every, --min-healthy DUR,\n"
        "--failure-budget N|P%, --wave-timeout DUR, --rollback-parallelism N|P%,\n"
        "--traffic-command CMD, --live-color blue|green, --prometheus-url URL,\n"
        "--freeze WINDOW, --freeze-policy wait|refuse, --set KEY=VALUE (any key,\n"
        "e.g. Gate.errors.Query=...). Every option also takes --OPTION=VALUE.\n"
        "\n"
        "  -f, --file FILE     a deployment file; flags override it\n"
        "  --wait              follow the deployment to its end\n"
        "  --timeout DURATION  with --wait, and watch: stop following after this long\n"
        "  --force             start even if preflight finds hosts down\n"
        "\n"
        "Exit status of deploy --wait, rollback --wait and watch: 0 it succeeded (a\n"
        "rollback: rolled back); 1 it ended otherwise (failed, rolled_back, aborted);\n"
        "2 bad command line; 3 could not follow it (coordinator unreachable or lost,\n"
        "no such deployment, request refused); 4 --timeout passed while it was still\n"
        "active (it goes on on the coordinator).\n";

#define POLL_MS         1000
#define LOST_AFTER_S    60
#define LOST_AFTER_USEC (LOST_AFTER_S * USEC_PER_SEC)

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* True if argv[*i] is option name, as "NAME VALUE" or "NAME=VALUE": then
 * *ret is the value (NULL when NAME is the last argument) and *i is past
 * it. */
static bool
opt_match(int argc, char **argv, int *i, const char *name, const char **ret)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return false;
	if (argv[*i][n] == '=') {
		*ret = argv[*i] + n + 1;
		return true;
	}
	if (argv[*i][n])
		return false;
	*ret = *i + 1 < argc ? argv[++*i] : NULL;
	return true;
}

/* Parses --timeout (a duration > 0). Returns -1 to go on, or an exit
 * code. */
static int
timeout_parse(const struct cli_verb *verb, const char *s, uint64_t *ret)
{
	if (!s || parse_duration_usec(s, ret) < 0 || *ret == 0)
		return cli_usage_error(verb, "--timeout takes a duration (90s, 30m, 2h), got '%s'",
		        s ? s : "nothing");
	return -1;
}

/* ---- output ---- */

static void
ts(uint64_t ms, char *buf, size_t size)
{
	if (!ms) {
		strbuf_printf(buf, size, "-");
		return;
	}
	format_timestamp_utc(ms * USEC_PER_MSEC, buf, size);
}

static json_t *
waves_json(Rollwave__DeploymentStatus__Wave *const *w, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *hosts = json_array();

		for (size_t j = 0; j < w[i]->n_hosts; j++) {
			const Rollwave__DeploymentStatus__Host *h = w[i]->hosts[j];

			json_array_append_new(hosts,
			        json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s?, s:s?}",
			                "id", (json_int_t)h->host_id, "hostname", h->hostname,
			                "task", h->task[0] ? h->task : "none", "phase",
			                h->phase ? admin_format_phase(h->phase) : "none", "error",
			                h->error, "healthy", h->healthy, "down", h->down,
			                "up_to_date", h->up_to_date, "rollback_to",
			                h->rollback_to[0] ? h->rollback_to : NULL, "hook_output",
			                h->hook_output && h->hook_output[0] ? h->hook_output
			                                                    : NULL));
		}
		json_array_append_new(a,
		        json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:b, s:f, s:f, s:f, s:b, s:s?, "
		                  "s:o}",
		                "index", (json_int_t)i + 1, "name", w[i]->name, "kind", w[i]->kind,
		                "state", w[i]->state, "verdict", w[i]->verdict, "max_unavailable",
		                (json_int_t)w[i]->max_unavailable, "approval", w[i]->approval,
		                "bake_s", (double)w[i]->bake_ms / 1000.0, "timeout_s",
		                (double)w[i]->timeout_ms / 1000.0, "min_healthy_s",
		                (double)w[i]->min_healthy_ms / 1000.0, "metric_gates",
		                w[i]->metric_gates, "command",
		                w[i]->command[0] ? w[i]->command : NULL, "hosts", hosts));
	}
	return a;
}

static json_t *
status_json(const Rollwave__DeploymentStatus *st, bool with_waves)
{
	char c[32], u[32], f[32];
	json_t *o;

	ts(st->created_ms, c, sizeof(c));
	ts(st->updated_ms, u, sizeof(u));
	ts(st->finished_ms, f, sizeof(f));
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:I, s:I}",
	        "deployment_id", (json_int_t)st->deployment_id, "app", st->app, "version",
	        st->version, "strategy", st->strategy, "state", st->state, "wave",
	        (json_int_t)st->wave + 1, "step", st->step, "reason", st->reason, "actor",
	        st->actor, "created", st->created_ms ? c : NULL, "updated",
	        st->updated_ms ? u : NULL, "finished", st->finished_ms ? f : NULL,
	        "failures_allowed", (json_int_t)st->failures_allowed, "failed",
	        (json_int_t)st->failed);
	if (o && with_waves) {
		json_object_set_new(o, "waves", waves_json(st->waves, st->n_waves));
		json_object_set_new(o, "rollback", waves_json(st->rollback, st->n_rollback));
		json_object_set_new(o, "params", json_string(st->params));
	}
	return o;
}

static int
print_status(const Rollwave__DeploymentStatus *st, const struct admin_waves_view *v)
{
	if (admin_format_waves_status(st, v, stdout) < 0 || fflush(stdout) == EOF) {
		log_error("cannot write to standard output");
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

/* Lines of the terminal on stdout a screen may use (one stays for the
 * cursor). */
static size_t
terminal_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row < 2)
		return 23;
	return (size_t)ws.ws_row - 1;
}

/* ---- requests ---- */

static int
call(const Rollwave__AdminRequest *req, Rollwave__AdminResponse__ResponseCase expect,
        const char *subject, Rollwave__Envelope **ret)
{
	return cli_admin_call(req, expect, subject, ret);
}

static int
get_status(uint64_t id, const char *app, Rollwave__Envelope **ret)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__GetDeploymentStatus g =
	        ROLLWAVE__ADMIN_REQUEST__GET_DEPLOYMENT_STATUS__INIT;
	char subject[64];

	g.deployment_id = id;
	g.app = (char *)(app ? app : "");
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT_STATUS;
	req.get_deployment_status = &g;
	strbuf_printf(subject, sizeof(subject), "deployment %" PRIu64, id);
	return call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS, id ? subject : app,
	        ret);
}

/* Whether a status request that failed may work if asked again: the
 * coordinator restarting, the network hiccuping. A refusal ("no such
 * deployment"), no permission, a TLS failure or a reply that makes no
 * sense will not change. */
static bool
error_is_transient(int r)
{
	switch (r) {
	case -ECONNREFUSED:
	case -ENOENT:
	case -ETIMEDOUT:
	case -ECONNRESET:
	case -ECONNABORTED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EAGAIN:
	case -EIO:
		return true;
	default:
		return false;
	}
}

struct follow {
	uint64_t id;
	uint64_t timeout_usec; /* 0: none */
	const char *success;   /* the final state that exits 0 */
	bool json;
	bool reached; /* the coordinator answered for it already (deploy, rollback):
	               * a transport failure from the start is a restart, not a
	               * wrong address */
};

/* The end of following: the last line says how it ended and why (or with
 * --json, the deployment as one document). */
static int
follow_end(const struct follow *f, const Rollwave__DeploymentStatus *st)
{
	int r = streq(st->state, f->success) ? CLI_EXIT_OK : CLI_EXIT_FAILURE;

	if (f->json)
		return cli_json_print(status_json(st, true)) == CLI_EXIT_OK ? r : CLI_EXIT_FAILURE;
	printf("Deployment %" PRIu64 " %s%s%s\n", st->deployment_id, st->state,
	        st->reason[0] ? ": " : ".", st->reason);
	return fflush(stdout) == EOF ? CLI_EXIT_FAILURE : r;
}

/* Follows deployment f->id until it is final, printing changes (a redrawn
 * screen on a terminal, plain lines otherwise, one document with --json).
 * Returns an exit code: see the enum above. */
static int
follow(const struct follow *f)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__GetDeploymentStatus g =
	        ROLLWAVE__ADMIN_REQUEST__GET_DEPLOYMENT_STATUS__INIT;
	_cleanup_(admin_watch_seen_done) struct admin_watch_seen seen = {0};
	bool tty = !f->json && isatty(STDOUT_FILENO), reached = f->reached;
	uint64_t start = now_monotonic_usec(), lost_since = 0;
	struct admin_target t;
	struct rw_err err = {""};

	if (cli_admin_target(&t, &err) < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_USAGE;
	}
	g.deployment_id = f->id;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT_STATUS;
	req.get_deployment_status = &g;
	for (;;) {
		_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
		const Rollwave__DeploymentStatus *st;
		uint64_t now, left;
		int r;

		r = admin_call(&t, &req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS,
		        &reply, &err);
		now = now_monotonic_usec();
		if (r == -EREMOTEIO) {
			log_error("deployment %" PRIu64 ": %s", f->id, err.msg);
			return WAVES_EXIT_UNFOLLOWED;
		}
		if (r < 0 && (!reached || !error_is_transient(r))) {
			log_error("%s", err.msg);
			return WAVES_EXIT_UNFOLLOWED;
		}
		if (r < 0) {
			/* The coordinator may be restarting: keep asking a while. */
			if (!lost_since) {
				lost_since = now;
				log_warning(
				        "%s; asking again for up to %d s", err.msg, LOST_AFTER_S);
			}
			if (now - lost_since > LOST_AFTER_USEC ||
			        (f->timeout_usec && now - start > f->timeout_usec)) {
				log_error("lost the coordinator while following deployment %" PRIu64
				          ": %s; it may still be running (rollwave watch %" PRIu64
				          ")",
				        f->id, err.msg, f->id);
				return WAVES_EXIT_UNFOLLOWED;
			}
			sleep_ms(POLL_MS);
			continue;
		}
		if (lost_since)
			log_info("the coordinator answers again");
		reached = true;
		lost_since = 0;
		st = reply->admin_response->deployment_status;
		if (tty) {
			struct admin_waves_view v = {.bars = true, .rows = terminal_rows()};

			fputs("\033[H\033[2J", stdout);
			(void)admin_format_waves_status(st, &v, stdout);
		} else if (!f->json)
			(void)admin_format_watch_changes(st, &seen, stdout);
		if (admin_deployment_is_final(st->state))
			return follow_end(f, st);
		fflush(stdout);
		if (f->timeout_usec && now - start >= f->timeout_usec) {
			if (f->json)
				(void)cli_json_print(status_json(st, true));
			log_error("deployment %" PRIu64
			          " is still %s (%s) after --timeout; it goes "
			          "on on the coordinator (rollwave watch %" PRIu64
			          ", rollwave abort %" PRIu64 ")",
			        f->id, st->state, st->step, f->id, f->id);
			return WAVES_EXIT_TIMEOUT;
		}
		left = f->timeout_usec ? f->timeout_usec - (now - start) : UINT64_MAX;
		sleep_ms(left / USEC_PER_MSEC < POLL_MS ? (unsigned)(left / USEC_PER_MSEC)
		                                        : POLL_MS);
	}
}

/* ---- deploy and plan ---- */

struct deploy_args {
	const char *app, *version, *manifest, *selector, *file, *timeout;
	bool wait, json, force, help;
	struct deploy_params params;
};

/* One reading of the arguments. With file_pass only the deployment file
 * (-f PATH, -fPATH, --file PATH, --file=PATH; the last one counts) and
 * --help are taken, every other option being skipped with its value
 * exactly as the second reading will take it; without, everything but
 * the file. Returns -1 to go on, or an exit code (usage errors logged). */
static int
deploy_args_scan(const struct cli_verb *verb, int argc, char **argv, bool plan, bool file_pass,
        struct deploy_args *a)
{
	struct rw_err err = {""};
	const char *pos[2];
	size_t n_pos = 0;
	char key[128];

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL, *eq;

		if (arg[0] != '-' || streq(arg, "-")) {
			if (file_pass)
				continue;
			if (n_pos == 2)
				return cli_usage_error(
				        verb, "%s: unexpected argument '%s'", verb->name, arg);
			pos[n_pos++] = arg;
			continue;
		}
		if (strncmp(arg, "-f", 2) == 0) {
			value = arg[2] ? arg + 2 : i + 1 < argc ? argv[++i] : NULL;
			if (!value)
				return cli_usage_error(verb, "option '-f' needs a FILE");
			if (file_pass)
				a->file = value;
			continue;
		}
		if (streq(arg, "--wait") && !plan) {
			a->wait = true;
			continue;
		}
		if (streq(arg, "--json")) {
			a->json = true;
			continue;
		}
		if (streq(arg, "--force") && !plan) {
			a->force = true;
			continue;
		}
		if (streq(arg, "-h") || streq(arg, "--help")) {
			a->help = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0)
			return cli_usage_error(verb, "%s: unknown option '%s'", verb->name, arg);
		eq = strchr(arg, '=');
		if (eq) {
			strbuf_printf(key, sizeof(key), "%.*s", (int)(eq - arg - 2), arg + 2);
			value = eq + 1;
		} else {
			strbuf_printf(key, sizeof(key), "%s", arg + 2);
			if (i + 1 >= argc)
				return cli_usage_error(verb, "option '%s' needs a value", arg);
			value = argv[++i];
		}
		if (streq(key, "file") || streq(key, "f")) {
			if (file_pass)
				a->file = value;
			continue;
		}
		if (file_pass)
			continue;
		if (streq(key, "manifest"))
			a->manifest = value;
		else if (streq(key, "selector"))
			a->selector = value;
		else if (streq(key, "timeout") && !plan)
			a->timeout = value;
		else if (streq(key, "set")) {
			const char *e = strchr(value, '=');

			if (!e)
				return cli_usage_error(
				        verb, "--set takes KEY=VALUE, got '%s'", value);
			strbuf_printf(key, sizeof(key), "%.*s", (int)(e - value), value);
			if (deploy_params_set(&a->params, key, e + 1, &err) < 0)
				return cli_usage_error(verb, "%s", err.msg);
		} else if (deploy_params_set(&a->params, key, value, &err) < 0)
			return cli_usage_error(verb, "--%s: %s", key, err.msg);
	}
	if (file_pass)
		return -1;
	if (n_pos < 2)
		return cli_usage_error(verb, "%s needs APP and VERSION", verb->name);
	a->app = pos[0];
	a->version = pos[1];
	return -1;
}

static int
deploy_args_parse(
        const struct cli_verb *verb, int argc, char **argv, bool plan, struct deploy_args *a)
{
	struct rw_err err = {""};
	int r;

	deploy_params_init(&a->params);
	/* The file first, so that flags override it whatever their order. */
	r = deploy_args_scan(verb, argc, argv, plan, true, a);
	if (r >= 0)
		return r;
	if (a->help) {
		fputs(waves_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (a->file && isempty(a->file))
		return cli_usage_error(verb, "--file needs the path of a deployment file");
	if (a->file && deploy_params_load_file(&a->params, a->file, &err) < 0)
		return cli_usage_error(verb, "deployment file: %s", err.msg);
	r = deploy_args_scan(verb, argc, argv, plan, false, a);
	if (r >= 0)
		return r;
	if (!app_name_is_valid(a->app))
		return cli_usage_error(
		        verb, "invalid app name '%s' (1-64 of a-z, 0-9, '_', '-')", a->app);
	if (!version_is_valid(a->version))
		return cli_usage_error(verb, "invalid version '%s'", a->version);
	if (!plan && isempty(a->manifest))
		return cli_usage_error(verb, "%s needs --manifest URL", verb->name);
	if (a->timeout && !a->wait)
		return cli_usage_error(verb, "--timeout goes with --wait");
	if (a->selector && admin_selector_check(a->selector, &err) < 0)
		return cli_usage_error(verb, "invalid --selector: %s", err.msg);
	if (deploy_params_validate(&a->params, &err) < 0)
		return cli_usage_error(verb, "%s", err.msg);
	return -1;
}

static int
waves_deploy_or_plan(const struct cli_verb *verb, int argc, char **argv, bool plan)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__CreateDeployment c =
	        ROLLWAVE__ADMIN_REQUEST__CREATE_DEPLOYMENT__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	_cleanup_free_ char *ini = NULL;
	struct deploy_args a = {0};
	const Rollwave__DeploymentStatus *st;
	struct follow f = {.success = "succeeded", .reached = true};
	int r;

	r = deploy_args_parse(verb, argc, argv, plan, &a);
	if (r >= 0)
		return r;
	if (a.timeout && (r = timeout_parse(verb, a.timeout, &f.timeout_usec)) >= 0)
		return r;
	if (deploy_params_to_ini(&a.params, &ini) < 0) {
		log_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	c.app = (char *)a.app;
	c.version = (char *)a.version;
	c.manifest_url = (char *)(a.manifest ? a.manifest : "");
	c.selector = (char *)(a.selector ? a.selector : "");
	c.params = ini;
	c.plan_only = plan;
	c.force = a.force;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_CREATE_DEPLOYMENT;
	req.create_deployment = &c;
	r = call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS, NULL, &reply);
	if (r != CLI_EXIT_OK)
		return a.wait && r == CLI_EXIT_FAILURE ? WAVES_EXIT_UNFOLLOWED : r;
	st = reply->admin_response->deployment_status;
	if (a.wait) {
		if (!a.json) {
			printf("Deployment %" PRIu64 ": %s %s (%s), %zu wave(s)\n",
			        st->deployment_id, st->app, st->version, st->strategy, st->n_waves);
			fflush(stdout);
		}
		f.id = st->deployment_id;
		f.json = a.json;
		return follow(&f);
	}
	if (a.json)
		return cli_json_print(status_json(st, true));
	return print_status(st, &(struct admin_waves_view) {.every_host = plan, .gates = true});
}

int
cli_waves_deploy(int argc, char **argv)
{
	return waves_deploy_or_plan(&cmd_deploy_entry, argc, argv, false);
}

static int
plan_run(int argc, char **argv)
{
	return waves_deploy_or_plan(&cmd_plan_entry, argc, argv, true);
}

/* ---- status, watch, actions, rollback, history ---- */

static int
parse_id(const struct cli_verb *verb, const char *s, uint64_t *ret)
{
	if (!s || parse_uint64(s, ret) < 0 || *ret == 0)
		return cli_usage_error(
		        verb, "%s needs a deployment ID, got '%s'", verb->name, s ? s : "nothing");
	return -1;
}

static int
history_print(const char *app, unsigned limit, bool json, bool active_only)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__History h = ROLLWAVE__ADMIN_REQUEST__HISTORY__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	const Rollwave__DeploymentList *l;
	json_t *arr;
	int r;

	h.app = (char *)(app ? app : "");
	h.limit = limit;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_HISTORY;
	req.history = &h;
	r = call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_LIST, app, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	l = reply->admin_response->deployment_list;
	if (json) {
		arr = json_array();
		for (size_t i = 0; i < l->n_deployments; i++)
			if (!active_only || !admin_deployment_is_final(l->deployments[i]->state))
				json_array_append_new(arr, status_json(l->deployments[i], false));
		return cli_json_print(json_pack("{s:o}", "deployments", arr));
	}
	if (admin_format_history_table(l, active_only, stdout) < 0 || fflush(stdout) == EOF) {
		log_error("cannot write to standard output");
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

static int
status_run(int argc, char **argv)
{
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	const char *app = NULL, *ids = NULL;
	bool json = false;
	uint64_t id = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			json = true;
		else if (opt_match(argc, argv, &i, "--app", &app)) {
			if (!app)
				return cli_usage_error(&cmd_status_entry, "--app needs an APP");
		} else if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
			fputs(waves_usage, stdout);
			return CLI_EXIT_OK;
		} else if (argv[i][0] != '-' && !ids)
			ids = argv[i];
		else
			return cli_usage_error(
			        &cmd_status_entry, "status: unexpected argument '%s'", argv[i]);
	}
	if (!ids && !app)
		return history_print(NULL, 50, json, false);
	if (ids && (r = parse_id(&cmd_status_entry, ids, &id)) >= 0)
		return r;
	if (app && !app_name_is_valid(app))
		return cli_usage_error(&cmd_status_entry, "invalid app name '%s'", app);
	r = get_status(id, app, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	if (json)
		return cli_json_print(status_json(reply->admin_response->deployment_status, true));
	return print_status(reply->admin_response->deployment_status,
	        &(struct admin_waves_view) {.gates = true});
}

static int
watch_run(int argc, char **argv)
{
	struct follow f = {.success = "succeeded"};
	const char *ids = NULL, *timeout;
	int r;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			f.json = true;
		else if (opt_match(argc, argv, &i, "--timeout", &timeout)) {
			if ((r = timeout_parse(&cmd_watch_entry, timeout, &f.timeout_usec)) >= 0)
				return r;
		} else if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
			fputs(waves_usage, stdout);
			return CLI_EXIT_OK;
		} else if (argv[i][0] != '-' && !ids)
			ids = argv[i];
		else
			return cli_usage_error(
			        &cmd_watch_entry, "watch: unexpected argument '%s'", argv[i]);
	}
	if ((r = parse_id(&cmd_watch_entry, ids, &f.id)) >= 0)
		return r;
	return follow(&f);
}

static int
action_run(const struct cli_verb *verb, int argc, char **argv,
        Rollwave__AdminRequest__DeploymentAction__Action action)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__DeploymentAction act =
	        ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	const Rollwave__DeploymentStatus *st;
	const char *ids = NULL;
	bool json = false, rollback = false;
	char subject[64];
	uint64_t id;
	int r;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			json = true;
		else if (streq(argv[i], "--rollback") &&
		        action == ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__ABORT)
			rollback = true;
		else if (argv[i][0] != '-' && !ids)
			ids = argv[i];
		else
			return cli_usage_error(
			        verb, "%s: unexpected argument '%s'", verb->name, argv[i]);
	}
	if ((r = parse_id(verb, ids, &id)) >= 0)
		return r;
	act.deployment_id = id;
	act.action = action;
	act.rollback = rollback;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOYMENT_ACTION;
	req.deployment_action = &act;
	strbuf_printf(subject, sizeof(subject), "deployment %" PRIu64, id);
	r = call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS, subject, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	st = reply->admin_response->deployment_status;
	if (json)
		return cli_json_print(status_json(st, false));
	printf("Deployment %" PRIu64 " is %s%s%s%s\n", st->deployment_id, st->state,
	        st->step[0] ? " (" : "", st->step, st->step[0] ? ")" : "");
	return CLI_EXIT_OK;
}

static int
approve_run(int argc, char **argv)
{
	return action_run(&cmd_approve_entry, argc, argv,
	        ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__APPROVE);
}

static int
pause_run(int argc, char **argv)
{
	return action_run(&cmd_pause_entry, argc, argv,
	        ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__PAUSE);
}

static int
resume_run(int argc, char **argv)
{
	return action_run(&cmd_resume_entry, argc, argv,
	        ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__RESUME);
}

static int
abort_run(int argc, char **argv)
{
	return action_run(&cmd_abort_entry, argc, argv,
	        ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__ABORT);
}

int
cli_waves_rollback(int argc, char **argv)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__RollbackApp rb = ROLLWAVE__ADMIN_REQUEST__ROLLBACK_APP__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	const Rollwave__DeploymentStatus *st;
	const char *app = NULL, *to = NULL, *timeout = NULL;
	/* A rollback that ran to its end is a success here. */
	struct follow f = {.success = "rolled_back", .reached = true};
	bool wait = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			f.json = true;
		else if (streq(argv[i], "--wait"))
			wait = true;
		else if (opt_match(argc, argv, &i, "--to", &to)) {
			if (!to)
				return cli_usage_error(&cmd_rollback_entry, "--to needs a VERSION");
		} else if (opt_match(argc, argv, &i, "--timeout", &timeout)) {
			if ((r = timeout_parse(&cmd_rollback_entry, timeout, &f.timeout_usec)) >= 0)
				return r;
		} else if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
			fputs(waves_usage, stdout);
			return CLI_EXIT_OK;
		} else if (argv[i][0] != '-' && !app)
			app = argv[i];
		else
			return cli_usage_error(
			        &cmd_rollback_entry, "rollback: unexpected argument '%s'", argv[i]);
	}
	if (!app || !app_name_is_valid(app))
		return cli_usage_error(&cmd_rollback_entry, "rollback needs a valid APP");
	if (to && !version_is_valid(to))
		return cli_usage_error(&cmd_rollback_entry, "invalid --to version '%s'", to);
	if (timeout && !wait)
		return cli_usage_error(&cmd_rollback_entry, "--timeout goes with --wait");
	rb.app = (char *)app;
	rb.to_version = (char *)(to ? to : "");
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK_APP;
	req.rollback_app = &rb;
	r = call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS, app, &reply);
	if (r != CLI_EXIT_OK)
		return wait && r == CLI_EXIT_FAILURE ? WAVES_EXIT_UNFOLLOWED : r;
	st = reply->admin_response->deployment_status;
	if (wait) {
		if (!f.json)
			printf("Deployment %" PRIu64 " of %s %s rolls back\n", st->deployment_id,
			        st->app, st->version);
		fflush(stdout);
		f.id = st->deployment_id;
		return follow(&f);
	}
	if (f.json)
		return cli_json_print(status_json(st, true));
	return print_status(st, &(struct admin_waves_view) {0});
}

static int
history_run(int argc, char **argv)
{
	const char *app = NULL, *n;
	uint64_t limit = 20;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			json = true;
		else if (opt_match(argc, argv, &i, "--limit", &n)) {
			if (!n || parse_uint64(n, &limit) < 0 || limit == 0 ||
			        limit > WIRE_EVENTS_MAX)
				return cli_usage_error(&cmd_history_entry, "--limit takes 1 to %d",
				        WIRE_EVENTS_MAX);
		} else if (argv[i][0] != '-' && !app)
			app = argv[i];
		else
			return cli_usage_error(
			        &cmd_history_entry, "history: unexpected argument '%s'", argv[i]);
	}
	if (app && !app_name_is_valid(app))
		return cli_usage_error(&cmd_history_entry, "invalid app name '%s'", app);
	return history_print(app, (unsigned)limit, json, false);
}

const struct cli_verb cmd_plan_entry = {
        .name = "plan",
        .summary = "print the waves a deployment would run, changing nothing",
        .usage = waves_usage,
        .run = plan_run,
};
const struct cli_verb cmd_status_entry = {
        .name = "status",
        .summary = "a deployment's waves, hosts and gates (or the latest deployments)",
        .usage = waves_usage,
        .run = status_run,
};
const struct cli_verb cmd_watch_entry = {
        .name = "watch",
        .summary = "follow a deployment live until it ends",
        .usage = waves_usage,
        .run = watch_run,
};
const struct cli_verb cmd_approve_entry = {
        .name = "approve",
        .summary = "let a deployment waiting for approval start its next wave",
        .usage = waves_usage,
        .run = approve_run,
};
const struct cli_verb cmd_pause_entry = {
        .name = "pause",
        .summary = "start no new host of a deployment until resumed",
        .usage = waves_usage,
        .run = pause_run,
};
const struct cli_verb cmd_resume_entry = {
        .name = "resume",
        .summary = "resume a paused deployment",
        .usage = waves_usage,
        .run = resume_run,
};
const struct cli_verb cmd_abort_entry = {
        .name = "abort",
        .summary = "stop a deployment (with --rollback, roll its hosts back)",
        .usage = waves_usage,
        .run = abort_run,
};
const struct cli_verb cmd_history_entry = {
        .name = "history",
        .summary = "the deployments of an app, newest first",
        .usage = waves_usage,
        .run = history_run,
};
