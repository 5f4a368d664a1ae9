/*
 * cli_waves_create: `rollwave deploy` without --hosts and `rollwave plan`
 * (cli_waves.h): APP VERSION and the options of a deployment, checked with
 * the coordinator's own parser (strategies/deploy_params.h), then one
 * CreateDeployment.
 *
 * Flags override the deployment file whatever their order, so the
 * arguments are read twice: once for the file, once for the rest.
 */
#include <inttypes.h>
#include <jansson.h>

#include "admin.h"
#include "admin_format.h"
#include "cli.h"
#include "cli_waves.h"
#include "deploy_params.h"
#include "log.h"
#include "version.h"
#include "wire.h"

struct deploy_args {
	const char *app, *version, *manifest, *selector, *file, *timeout;
	bool wait, json, force, help;
	struct deploy_params params;
};

/* argv[*i], a "--KEY VALUE" or "--KEY=VALUE" option: the file in the
 * file pass, everything else in the other (a deploy_params key, --set
 * KEY=VALUE, --manifest, --selector, --timeout). Advances *i past the
 * value. Returns -1 to go on, or an exit code (usage errors logged). */
static int
deploy_args_long(const struct cli_verb *verb, int argc, char **argv, int *i, bool plan,
        bool file_pass, struct deploy_args *a)
{
	const char *arg = argv[*i], *value, *eq = strchr(arg, '=');
	struct rw_err err = {""};
	char key[128];

	if (eq) {
		strbuf_printf(key, sizeof(key), "%.*s", (int)(eq - arg - 2), arg + 2);
		value = eq + 1;
	} else {
		strbuf_printf(key, sizeof(key), "%s", arg + 2);
		if (*i + 1 >= argc)
			return cli_usage_error(verb, "option '%s' needs a value", arg);
		value = argv[++*i];
	}
	if (streq(key, "file") || streq(key, "f")) {
		if (file_pass)
			a->file = value;
		return -1;
	}
	if (file_pass)
		return -1;
	if (streq(key, "manifest"))
		a->manifest = value;
	else if (streq(key, "selector"))
		a->selector = value;
	else if (streq(key, "timeout") && !plan)
		a->timeout = value;
	else if (streq(key, "set")) {
		const char *e = strchr(value, '=');

		if (!e)
			return cli_usage_error(verb, "--set takes KEY=VALUE, got '%s'", value);
		strbuf_printf(key, sizeof(key), "%.*s", (int)(e - value), value);
		if (deploy_params_set(&a->params, key, e + 1, &err) < 0)
			return cli_usage_error(verb, "%s", err.msg);
	} else if (deploy_params_set(&a->params, key, value, &err) < 0)
		return cli_usage_error(verb, "--%s: %s", key, err.msg);
	return -1;
}

/* One reading of the arguments. With file_pass only the deployment file
 * (-f PATH, -fPATH, --file PATH, --file=PATH; the last one counts) and
 * --help are taken, every other option being skipped with its value
 * exactly as the second reading will take it; without, everything but
 * the file. Returns -1 to go on, or an exit code (usage errors logged). */
static int
deploy_args_scan(const struct cli_verb *verb, int argc, char **argv, bool plan, bool file_pass,
        struct deploy_args *a)
{
	const char *pos[2];
	size_t n_pos = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;

		if (arg[0] != '-' || streq(arg, "-")) {
			if (file_pass)
				continue;
			if (n_pos == 2)
				return cli_usage_error(
				        verb, "%s: unexpected argument '%s'", verb->name, arg);
			pos[n_pos++] = arg;
		} else if (strncmp(arg, "-f", 2) == 0) {
			value = arg[2] ? arg + 2 : i + 1 < argc ? argv[++i] : NULL;
			if (!value)
				return cli_usage_error(verb, "option '-f' needs a FILE");
			if (file_pass)
				a->file = value;
		} else if (streq(arg, "--wait") && !plan)
			a->wait = true;
		else if (streq(arg, "--json"))
			a->json = true;
		else if (streq(arg, "--force") && !plan)
			a->force = true;
		else if (streq(arg, "-h") || streq(arg, "--help"))
			a->help = true;
		else if (strncmp(arg, "--", 2) != 0)
			return cli_usage_error(verb, "%s: unknown option '%s'", verb->name, arg);
		else if ((r = deploy_args_long(verb, argc, argv, &i, plan, file_pass, a)) >= 0)
			return r;
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
	if (a->help)
		return cli_help(verb);
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

int
cli_waves_create(const struct cli_verb *verb, int argc, char **argv, bool plan)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__CreateDeployment c =
	        ROLLWAVE__ADMIN_REQUEST__CREATE_DEPLOYMENT__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	_cleanup_free_ char *ini = NULL;
	struct deploy_args a = {0};
	const Rollwave__DeploymentStatus *st;
	struct cli_waves_follow f = {.success = "succeeded", .reached = true};
	int r;

	r = deploy_args_parse(verb, argc, argv, plan, &a);
	if (r >= 0)
		return r;
	if (a.timeout && (r = cli_waves_timeout_parse(verb, a.timeout, &f.timeout_usec)) >= 0)
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
	r = cli_admin_call(
	        &req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS, NULL, &reply);
	if (r != CLI_EXIT_OK)
		return a.wait && r == CLI_EXIT_FAILURE ? CLI_WAVES_EXIT_UNFOLLOWED : r;
	st = reply->admin_response->deployment_status;
	if (a.wait) {
		if (!a.json) {
			printf("Deployment %" PRIu64 ": %s %s (%s), %zu wave(s)\n",
			        st->deployment_id, st->app, st->version, st->strategy, st->n_waves);
			fflush(stdout);
		}
		f.id = st->deployment_id;
		f.json = a.json;
		return cli_waves_follow(&f);
	}
	if (a.json)
		return cli_json_print(cli_waves_status_json(st, true));
	return cli_waves_print(st, &(struct admin_waves_view) {.every_host = plan, .gates = true});
}
