/*
 * rollwave status [ID | --app APP] [--json]: a deployment through waves
 * (GetDeploymentStatus), or without either the latest deployments.
 * rollwave watch ID [--timeout DURATION] [--json]: follows one to its end
 * (cli_waves_follow()).
 */
#include "admin.h"
#include "cli.h"
#include "cli_waves.h"
#include "wire.h"
#include "version.h"

static const char status_usage[] =
        "Usage: rollwave status [ID | --app APP] [--json]\n"
        "\n"
        "Shows deployment ID (or with --app, APP's latest deployment): its state\n"
        "and step, each wave with its hosts (web1(3)=activating, [down] for a host\n"
        "that is down), the rollback's waves and the Gates: section. Without ID or\n"
        "--app, the latest 50 deployments of every app as a table, like\n"
        "`rollwave history`.\n"
        "\n"
        "  --app APP  the latest deployment of APP\n"
        "  --json     the status document (fields in docs/json.md)\n"
        "\n"
        "Exit status: 0 shown; 1 refused (no such deployment) or the coordinator\n"
        "unreachable; 2 bad command line.\n";

static const char watch_usage[] =
        "Usage: rollwave watch ID [--timeout DURATION] [--json]\n"
        "\n"
        "Follows deployment ID until it ends. On a terminal, a screen redrawn every\n"
        "second: each wave with a progress bar and its hosts, cut to the terminal's\n"
        "height. Piped, a line when the deployment's wave or step changes and one\n"
        "per host phase change, then `Deployment ID STATE: <why>`.\n"
        "\n"
        "  --timeout DURATION  stop following after this long; the deployment goes on\n"
        "  --json              print the status document at the end instead\n"
        "\n"
        "Exit status:\n" CLI_WAVES_EXIT_HELP;

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
		else if (cli_opt_match(argc, argv, &i, "--app", &app)) {
			if (!app)
				return cli_usage_error(&cmd_status_entry, "--app needs an APP");
		} else if (streq(argv[i], "-h") || streq(argv[i], "--help"))
			return cli_help(&cmd_status_entry);
		else if (argv[i][0] != '-' && !ids)
			ids = argv[i];
		else
			return cli_usage_error(
			        &cmd_status_entry, "status: unexpected argument '%s'", argv[i]);
	}
	if (!ids && !app)
		return cli_waves_history(NULL, 50, json, false);
	if (ids && (r = cli_waves_parse_id(&cmd_status_entry, ids, &id)) >= 0)
		return r;
	if (app && !app_name_is_valid(app))
		return cli_usage_error(&cmd_status_entry, "invalid app name '%s'", app);
	r = cli_waves_get_status(id, app, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	if (json)
		return cli_json_print(
		        cli_waves_status_json(reply->admin_response->deployment_status, true));
	return cli_waves_print(reply->admin_response->deployment_status,
	        &(struct admin_waves_view) {.gates = true});
}

static int
watch_run(int argc, char **argv)
{
	struct cli_waves_follow f = {.success = "succeeded"};
	const char *ids = NULL, *timeout;
	int r;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			f.json = true;
		else if (cli_opt_match(argc, argv, &i, "--timeout", &timeout)) {
			r = cli_waves_timeout_parse(&cmd_watch_entry, timeout, &f.timeout_usec);
			if (r >= 0)
				return r;
		} else if (streq(argv[i], "-h") || streq(argv[i], "--help"))
			return cli_help(&cmd_watch_entry);
		else if (argv[i][0] != '-' && !ids)
			ids = argv[i];
		else
			return cli_usage_error(
			        &cmd_watch_entry, "watch: unexpected argument '%s'", argv[i]);
	}
	if ((r = cli_waves_parse_id(&cmd_watch_entry, ids, &f.id)) >= 0)
		return r;
	return cli_waves_follow(&f);
}

const struct cli_verb cmd_status_entry = {
        .name = "status",
        .summary = "a deployment's waves, hosts and gates (or the latest deployments)",
        .usage = status_usage,
        .run = status_run,
};

const struct cli_verb cmd_watch_entry = {
        .name = "watch",
        .summary = "follow a deployment live until it ends",
        .usage = watch_usage,
        .run = watch_run,
};
