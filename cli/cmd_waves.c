/*
 * Deployments through waves:
 *
 *   rollwave deploy APP VERSION --manifest URL [--selector K=V,...] [-f FILE]
 *                   [--strategy NAME] [--OPTION VALUE]... [--force] [--wait]
 *   rollwave plan APP VERSION [--selector ...] [-f FILE] [--OPTION VALUE]...
 *   rollwave status [ID | --app APP]        rollwave watch ID
 *   rollwave approve|pause|resume ID        rollwave abort ID [--rollback]
 *   rollwave rollback APP [--to VERSION] [--wait]
 *   rollwave history [APP] [--limit N]
 *
 * Options of a deployment (strategies/deploy_params.h) come from a
 * deployment file (-f) and from flags (--batch 10%, --max-unavailable 2,
 * --canary ring=0, --bake 5m, --set Gate.errors.Query=...), checked here
 * with the coordinator's own parser before anything is sent.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "admin_format.h"
#include "cli.h"
#include "deploy_params.h"
#include "log.h"
#include "version.h"
#include "wire.h"

static const char waves_usage[] =
        "Usage:\n"
        "  rollwave deploy APP VERSION --manifest URL [--selector K=V,...] [-f FILE]\n"
        "                  [--strategy NAME] [--OPTION VALUE]... [--force] [--wait] [--json]\n"
        "  rollwave plan APP VERSION [--selector K=V,...] [-f FILE] [--OPTION VALUE]... [--json]\n"
        "  rollwave status [ID | --app APP] [--json]\n"
        "  rollwave watch ID\n"
        "  rollwave approve|pause|resume ID [--json]\n"
        "  rollwave abort ID [--rollback] [--json]\n"
        "  rollwave rollback APP [--to VERSION] [--wait] [--json]\n"
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
        "e.g. Gate.errors.Query=...).\n"
        "\n"
        "  --wait      follow the deployment; exit 0 only if it succeeded\n"
        "  --force     start even if preflight finds hosts down\n";

#define POLL_MS 1000

static const char *const final_states[] = {"succeeded", "failed", "rolled_back", "aborted"};

static bool
state_is_final(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(final_states); i++)
		if (streq(s, final_states[i]))
			return true;
	return false;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
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
			        json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s?}", "id",
			                (json_int_t)h->host_id, "hostname", h->hostname, "task",
			                h->task[0] ? h->task : "none", "phase",
			                h->phase ? admin_format_phase(h->phase) : "none", "error",
			                h->error, "healthy", h->healthy, "down", h->down,
			                "up_to_date", h->up_to_date, "rollback_to",
			                h->rollback_to[0] ? h->rollback_to : NULL));
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

static void
wave_counts(const Rollwave__DeploymentStatus__Wave *w, size_t *done, size_t *failed)
{
	*done = *failed = 0;
	for (size_t j = 0; j < w->n_hosts; j++) {
		const char *t = w->hosts[j]->task;

		if (streq(t, "committed") || (!t[0] && w->hosts[j]->up_to_date))
			(*done)++;
		else if (streq(t, "failed") || streq(t, "rolled_back") || streq(t, "refused") ||
		        streq(t, "cancelled"))
			(*failed)++;
	}
}

static void
bar(size_t done, size_t failed, size_t n, char *buf, size_t size)
{
	const size_t width = 20;
	size_t d = n ? done * width / n : 0, f = n ? failed * width / n : 0;
	size_t k = 0;

	if (size < width + 3)
		return;
	buf[k++] = '[';
	for (size_t i = 0; i < width; i++)
		buf[k++] = i < d ? '#' : i < d + f ? 'x' : '.';
	buf[k++] = ']';
	buf[k] = 0;
}

static void
print_waves(const char *title, Rollwave__DeploymentStatus__Wave *const *w, size_t n, bool bars,
        FILE *out)
{
	if (!n)
		return;
	fprintf(out, "%s\n", title);
	for (size_t i = 0; i < n; i++) {
		size_t done, failed;
		char b[32] = "", extra[256] = "";

		wave_counts(w[i], &done, &failed);
		if (bars)
			bar(done, failed, w[i]->n_hosts, b, sizeof(b));
		if (w[i]->approval)
			strbuf_printf(
			        extra + strlen(extra), sizeof(extra) - strlen(extra), " approval");
		if (w[i]->bake_ms)
			strbuf_printf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			        " bake %gs", (double)w[i]->bake_ms / 1000.0);
		if (w[i]->metric_gates)
			strbuf_printf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			        " metric-gates");
		if (w[i]->command[0])
			strbuf_printf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			        " run: %s", w[i]->command);
		fprintf(out,
		        "  %2zu %-18s %-10s %s%s%zu/%zu done, %zu failed; max %u at once, "
		        "healthy %gs within %gs;%s\n",
		        i + 1, w[i]->name, w[i]->state, b, b[0] ? " " : "", done, w[i]->n_hosts,
		        failed, w[i]->max_unavailable, (double)w[i]->min_healthy_ms / 1000.0,
		        (double)w[i]->timeout_ms / 1000.0, extra[0] ? extra : " no bake");
		if (w[i]->n_hosts <= 12) {
			fprintf(out, "       hosts:");
			for (size_t j = 0; j < w[i]->n_hosts; j++) {
				const Rollwave__DeploymentStatus__Host *h = w[i]->hosts[j];

				fprintf(out, " %s(%" PRIu64 ")%s%s%s", h->hostname, h->host_id,
				        h->task[0] ? "=" : "", h->task, h->down ? "[down]" : "");
			}
			fputc('\n', out);
		}
		if (w[i]->verdict[0])
			fprintf(out, "       %s\n", w[i]->verdict);
		for (size_t j = 0; j < w[i]->n_hosts; j++)
			if (w[i]->hosts[j]->error[0])
				fprintf(out, "       host %" PRIu64 " (%s): %s\n",
				        w[i]->hosts[j]->host_id, w[i]->hosts[j]->hostname,
				        w[i]->hosts[j]->error);
	}
}

static void
print_status(const Rollwave__DeploymentStatus *st, bool bars, FILE *out)
{
	char c[32];

	ts(st->created_ms, c, sizeof(c));
	if (st->deployment_id)
		fprintf(out, "Deployment %" PRIu64 ": %s %s (%s) is %s", st->deployment_id, st->app,
		        st->version, st->strategy, st->state);
	else
		fprintf(out, "Plan: %s %s (%s), %zu wave(s)", st->app, st->version, st->strategy,
		        st->n_waves);
	if (st->deployment_id && !state_is_final(st->state) && st->n_waves)
		fprintf(out, ", wave %u/%zu '%s': %s", st->wave + 1, st->n_waves,
		        st->wave < st->n_waves ? st->waves[st->wave]->name : "?", st->step);
	fputc('\n', out);
	if (st->deployment_id)
		fprintf(out, "  started %s by %s\n", c, st->actor);
	if (st->reason[0])
		fprintf(out, "  %s\n", st->reason);
	fprintf(out, "  failure budget: %u failed, %u allowed\n", st->failed, st->failures_allowed);
	print_waves("Waves:", st->waves, st->n_waves, bars, out);
	print_waves(streq(st->step, "rollback") || streq(st->state, "rolled_back")
	                ? "Rollback:"
	                : "Rollback plan (if every host took the release):",
	        st->rollback, st->n_rollback, bars, out);
}

/* ---- requests ---- */

static int
call(const Rollwave__AdminRequest *req, Rollwave__AdminResponse__ResponseCase expect,
        const char *subject, Rollwave__Envelope **ret)
{
	return cli_admin_call(req, expect, subject, ret);
}

static int
get_status(uint64_t id, const char *app, Rollwave__Envelope **ret, bool quiet)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__GetDeploymentStatus g =
	        ROLLWAVE__ADMIN_REQUEST__GET_DEPLOYMENT_STATUS__INIT;
	struct admin_target t;
	struct rw_err err = {""};
	char subject[64];

	g.deployment_id = id;
	g.app = (char *)(app ? app : "");
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT_STATUS;
	req.get_deployment_status = &g;
	if (quiet) {
		if (cli_admin_target(&t, &err) < 0 ||
		        admin_call(&t, &req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS,
		                ret, &err) < 0) {
			log_debug("%s", err.msg);
			return CLI_EXIT_FAILURE;
		}
		return CLI_EXIT_OK;
	}
	strbuf_printf(subject, sizeof(subject), "deployment %" PRIu64, id);
	return call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS, id ? subject : app,
	        ret);
}

/* Follows deployment id until it is final, printing changes (a redrawn
 * screen on a terminal, plain lines otherwise). Exit 0 iff succeeded. */
static int follow_until(uint64_t id, uint64_t timeout_usec, bool json, const char *success);

static int
follow(uint64_t id, uint64_t timeout_usec, bool json)
{
	return follow_until(id, timeout_usec, json, "succeeded");
}

/* follow() where the exit status is 0 when the final state is success. */
static int
follow_until(uint64_t id, uint64_t timeout_usec, bool json, const char *success)
{
	bool tty = !json && isatty(STDOUT_FILENO);
	uint64_t start = now_monotonic_usec();
	char last_line[512] = "";
	char **last_hosts = NULL;
	size_t n_last = 0;
	int failures = 0;

	for (;;) {
		_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
		const Rollwave__DeploymentStatus *st;
		char line[512];

		if (get_status(id, NULL, &reply, failures < 30) != CLI_EXIT_OK) {
			/* The coordinator may be restarting: keep asking a while. */
			if (++failures > 60) {
				log_error(
				        "lost the coordinator while following deployment %" PRIu64,
				        id);
				goto fail;
			}
			sleep_ms(POLL_MS);
			continue;
		}
		failures = 0;
		st = reply->admin_response->deployment_status;
		if (tty) {
			fputs("\033[H\033[2J", stdout);
			print_status(st, true, stdout);
			fflush(stdout);
		} else if (!json) {
			strbuf_printf(line, sizeof(line),
			        "deployment %" PRIu64 ": %s, wave %u/%zu '%s': %s",
			        st->deployment_id, st->state, st->wave + 1, st->n_waves,
			        st->wave < st->n_waves ? st->waves[st->wave]->name : "?", st->step);
			if (!streq(line, last_line)) {
				printf("%s\n", line);
				strbuf_printf(last_line, sizeof(last_line), "%s", line);
			}
			/* Host task changes, deploy and rollback waves alike. */
			size_t k = 0;
			for (int pass = 0; pass < 2; pass++) {
				Rollwave__DeploymentStatus__Wave *const *w =
				        pass ? st->rollback : st->waves;
				size_t nw = pass ? st->n_rollback : st->n_waves;

				for (size_t i = 0; i < nw; i++)
					for (size_t j = 0; j < w[i]->n_hosts; j++, k++) {
						const Rollwave__DeploymentStatus__Host *h =
						        w[i]->hosts[j];
						char hl[600];

						if (!h->task[0])
							continue;
						strbuf_printf(hl, sizeof(hl),
						        "%s host %" PRIu64 " (%s): %s%s%s",
						        pass ? "rollback" : w[i]->name, h->host_id,
						        h->hostname, h->task,
						        h->error[0] ? ": " : "", h->error);
						if (k >= n_last) {
							char **nl = realloc(
							        last_hosts, (k + 1) * sizeof(*nl));

							if (!nl)
								continue;
							last_hosts = nl;
							for (size_t z = n_last; z <= k; z++)
								last_hosts[z] = NULL;
							n_last = k + 1;
						}
						if (!last_hosts[k] || !streq(last_hosts[k], hl)) {
							printf("%s\n", hl);
							free(last_hosts[k]);
							last_hosts[k] = strdup(hl);
						}
					}
			}
			fflush(stdout);
		}
		if (state_is_final(st->state)) {
			int r = streq(st->state, success) ? CLI_EXIT_OK : CLI_EXIT_FAILURE;

			if (json)
				r = cli_json_print(status_json(st, true)) == CLI_EXIT_OK
				        ? r
				        : CLI_EXIT_FAILURE;
			else if (!tty)
				printf("Deployment %" PRIu64 " %s%s%s\n", st->deployment_id,
				        st->state, st->reason[0] ? ": " : ".", st->reason);
			for (size_t i = 0; i < n_last; i++)
				free(last_hosts[i]);
			free(last_hosts);
			return r;
		}
		if (timeout_usec && now_monotonic_usec() - start > timeout_usec) {
			log_error("deployment %" PRIu64
			          " is still %s after the timeout; it goes on "
			          "(rollwave watch %" PRIu64 ")",
			        id, st->state, id);
			goto fail;
		}
		sleep_ms(POLL_MS);
	}
fail:
	for (size_t i = 0; i < n_last; i++)
		free(last_hosts[i]);
	free(last_hosts);
	return CLI_EXIT_FAILURE;
}

/* ---- deploy and plan ---- */

struct deploy_args {
	const char *app, *version, *manifest, *selector, *file, *timeout;
	bool wait, json, force;
	struct deploy_params params;
};

static int
deploy_args_parse(
        const struct cli_verb *verb, int argc, char **argv, bool plan, struct deploy_args *a)
{
	struct rw_err err = {""};
	const char *pos[2];
	size_t n_pos = 0;
	char key[128];

	deploy_params_init(&a->params);
	/* The file first, so that flags override it whatever their order. */
	for (int i = 1; i < argc; i++)
		if ((streq(argv[i], "-f") || streq(argv[i], "--file")) && i + 1 < argc)
			a->file = argv[i + 1];
	if (a->file && deploy_params_load_file(&a->params, a->file, &err) < 0)
		return cli_usage_error(verb, "%s", err.msg);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL, *eq;

		if (arg[0] != '-' || streq(arg, "-")) {
			if (n_pos == 2)
				return cli_usage_error(
				        verb, "%s: unexpected argument '%s'", verb->name, arg);
			pos[n_pos++] = arg;
			continue;
		}
		if (streq(arg, "-f")) {
			i++; /* read above */
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
			fputs(waves_usage, stdout);
			return CLI_EXIT_OK;
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
		if (streq(key, "file") || streq(key, "f"))
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
	if (n_pos < 2)
		return cli_usage_error(verb, "%s needs APP and VERSION", verb->name);
	a->app = pos[0];
	a->version = pos[1];
	if (!app_name_is_valid(a->app))
		return cli_usage_error(
		        verb, "invalid app name '%s' (1-64 of a-z, 0-9, '_', '-')", a->app);
	if (!version_is_valid(a->version))
		return cli_usage_error(verb, "invalid version '%s'", a->version);
	if (!plan && isempty(a->manifest))
		return cli_usage_error(verb, "%s needs --manifest URL", verb->name);
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
	uint64_t timeout = 0;
	int r;

	r = deploy_args_parse(verb, argc, argv, plan, &a);
	if (r >= 0)
		return r;
	if (a.timeout && parse_duration_usec(a.timeout, &timeout) < 0)
		return cli_usage_error(verb, "invalid --timeout '%s'", a.timeout);
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
		return r;
	st = reply->admin_response->deployment_status;
	if (a.wait)
		return (a.json ? 0
		               : (printf("Deployment %" PRIu64 ": %s %s (%s), %zu wave(s)\n",
		                          st->deployment_id, st->app, st->version, st->strategy,
		                          st->n_waves),
		                         fflush(stdout))),
		       follow(st->deployment_id, timeout, a.json);
	if (a.json)
		return cli_json_print(status_json(st, true));
	print_status(st, false, stdout);
	return CLI_EXIT_OK;
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
			if (!active_only || !state_is_final(l->deployments[i]->state))
				json_array_append_new(arr, status_json(l->deployments[i], false));
		return cli_json_print(json_pack("{s:o}", "deployments", arr));
	}
	printf("%-5s %-20s %-14s %-12s %-12s %-20s %s\n", "ID", "STARTED", "APP", "VERSION",
	        "STRATEGY", "STATE", "REASON");
	for (size_t i = 0; i < l->n_deployments; i++) {
		const Rollwave__DeploymentStatus *d = l->deployments[i];
		char c[32];

		if (active_only && state_is_final(d->state))
			continue;
		ts(d->created_ms, c, sizeof(c));
		printf("%-5" PRIu64 " %-20s %-14s %-12s %-12s %-20s %s\n", d->deployment_id, c,
		        d->app, d->version, d->strategy, d->state, d->reason);
	}
	return fflush(stdout) == EOF ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
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
		else if (streq(argv[i], "--app") && i + 1 < argc)
			app = argv[++i];
		else if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
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
	r = get_status(id, app, &reply, false);
	if (r != CLI_EXIT_OK)
		return r;
	if (json)
		return cli_json_print(status_json(reply->admin_response->deployment_status, true));
	print_status(reply->admin_response->deployment_status, false, stdout);
	return CLI_EXIT_OK;
}

static int
watch_run(int argc, char **argv)
{
	uint64_t id;
	int r;

	if (argc != 2)
		return cli_usage_error(&cmd_watch_entry, "watch needs one deployment ID");
	if ((r = parse_id(&cmd_watch_entry, argv[1], &id)) >= 0)
		return r;
	return follow(id, 0, false);
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
	const char *app = NULL, *to = NULL;
	bool json = false, wait = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			json = true;
		else if (streq(argv[i], "--wait"))
			wait = true;
		else if (streq(argv[i], "--to") && i + 1 < argc)
			to = argv[++i];
		else if (argv[i][0] != '-' && !app)
			app = argv[i];
		else
			return cli_usage_error(
			        &cmd_rollback_entry, "rollback: unexpected argument '%s'", argv[i]);
	}
	if (!app || !app_name_is_valid(app))
		return cli_usage_error(&cmd_rollback_entry, "rollback needs a valid APP");
	if (to && !version_is_valid(to))
		return cli_usage_error(&cmd_rollback_entry, "invalid --to version '%s'", to);
	rb.app = (char *)app;
	rb.to_version = (char *)(to ? to : "");
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK_APP;
	req.rollback_app = &rb;
	r = call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS, app, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	st = reply->admin_response->deployment_status;
	if (wait) {
		if (!json)
			printf("Deployment %" PRIu64 " of %s %s rolls back\n", st->deployment_id,
			        st->app, st->version);
		fflush(stdout);
		/* A rollback that ran to its end is a success here. */
		return follow_until(st->deployment_id, 0, json, "rolled_back");
	}
	if (json)
		return cli_json_print(status_json(st, true));
	print_status(st, false, stdout);
	return CLI_EXIT_OK;
}

static int
history_run(int argc, char **argv)
{
	const char *app = NULL;
	uint64_t limit = 20;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			json = true;
		else if (streq(argv[i], "--limit") && i + 1 < argc) {
			if (parse_uint64(argv[++i], &limit) < 0 || limit == 0 ||
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
