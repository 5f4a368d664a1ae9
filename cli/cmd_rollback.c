/*
 * rollwave rollback: an app back to the release its hosts ran before, in
 * one of two forms.
 *
 *   rollback APP [--to VERSION] [--wait [--timeout D]] [--json]
 *     the coordinated rollback of APP's latest deployment through waves:
 *     RollbackApp{app, to_version} -> DeploymentStatus, then with --wait
 *     followed like a deployment (cli_waves_follow(), cli_waves.h)
 *   rollback APP [--to VERSION] --hosts ID,... [--timeout D] [--json]
 *     one rollback task to each listed host at once:
 *     Rollback{app, to_version, host_ids} -> DeployResult, followed like
 *     deploy --hosts (cli_deployment_run(), cli_deployment.h)
 */
#include <getopt.h>
#include <inttypes.h>

#include "admin.h"
#include "cli.h"
#include "cli_deployment.h"
#include "cli_waves.h"
#include "wire.h"
#include "version.h"

static const char rollback_usage[] =
        "Usage:\n"
        "  rollwave rollback APP [--to VERSION] [--wait [--timeout DURATION]] [--json]\n"
        "  rollwave rollback APP [--to VERSION] --hosts ID,... [--timeout DURATION]\n"
        "                    [--json]\n"
        "\n"
        "The first form rolls back APP's latest deployment through waves: a running\n"
        "one stops and rolls back, a finished one that changed hosts is reopened,\n"
        "and asking again retries the hosts whose rollback failed. Every host that\n"
        "took the release returns to the one it ran before, or with --to VERSION\n"
        "to that release.\n"
        "\n"
        "With --hosts, each listed host gets a signed rollback task at once and\n"
        "rollwave follows them until every host has finished, like `rollwave deploy\n"
        "--hosts`. Without --to, each host returns to its previous release.\n"
        "\n"
        "  --to VERSION        the release to return to (it must be on the hosts)\n"
        "  --wait              follow the rollback to its end\n"
        "  --timeout DURATION  with --wait: stop following after this long; with\n"
        "                      --hosts: the same, default 30m (the tasks go on)\n"
        "  --hosts ID,...      host ids as `rollwave hosts` shows them (at most 10000)\n"
        "  --json              print one JSON document (fields in docs/json.md)\n"
        "\n"
        "Exit status of rollback --wait:\n" CLI_WAVES_EXIT_HELP "\n"
        "Without --wait: 0 the coordinator took it; 1 it refused it; 2 bad command\n"
        "line. With --hosts: 0 every host committed; 1 refused, a host failed, or the\n"
        "timeout passed; 2 bad command line.\n";

/* Without --hosts: the coordinated rollback of APP's latest deployment
 * through waves (RollbackApp). */
static int
rollback_waves(int argc, char **argv)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__RollbackApp rb = ROLLWAVE__ADMIN_REQUEST__ROLLBACK_APP__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	const Rollwave__DeploymentStatus *st;
	const char *app = NULL, *to = NULL, *timeout = NULL;
	/* A rollback that ran to its end is a success here. */
	struct cli_waves_follow f = {.success = "rolled_back", .reached = true};
	bool wait = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			f.json = true;
		else if (streq(argv[i], "--wait"))
			wait = true;
		else if (cli_opt_match(argc, argv, &i, "--to", &to)) {
			if (!to)
				return cli_usage_error(&cmd_rollback_entry, "--to needs a VERSION");
		} else if (cli_opt_match(argc, argv, &i, "--timeout", &timeout)) {
			if ((r = cli_waves_timeout_parse(
			             &cmd_rollback_entry, timeout, &f.timeout_usec)) >= 0)
				return r;
		} else if (streq(argv[i], "-h") || streq(argv[i], "--help"))
			return cli_help(&cmd_rollback_entry);
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
	if (timeout && !wait)
		return cli_usage_error(&cmd_rollback_entry, "--timeout goes with --wait");
	rb.app = (char *)app;
	rb.to_version = (char *)(to ? to : "");
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK_APP;
	req.rollback_app = &rb;
	r = cli_admin_call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS, app, &reply);
	if (r != CLI_EXIT_OK)
		return wait && r == CLI_EXIT_FAILURE ? CLI_WAVES_EXIT_UNFOLLOWED : r;
	st = reply->admin_response->deployment_status;
	if (wait) {
		if (!f.json)
			printf("Deployment %" PRIu64 " of %s %s rolls back\n", st->deployment_id,
			        st->app, st->version);
		fflush(stdout);
		f.id = st->deployment_id;
		return cli_waves_follow(&f);
	}
	if (f.json)
		return cli_json_print(cli_waves_status_json(st, true));
	return cli_waves_print(st, &(struct admin_waves_view) {0});
}

static int
rollback_run(int argc, char **argv)
{
	static const struct option options[] = {
	        {"to", required_argument, NULL, 'T'},
	        {"hosts", required_argument, NULL, 'H'},
	        {"timeout", required_argument, NULL, 't'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__Rollback rollback = ROLLWAVE__ADMIN_REQUEST__ROLLBACK__INIT;
	const char *hosts = NULL, *timeout = NULL;
	struct cli_deployment d = {.verb = &cmd_rollback_entry};
	int c, r;

	for (c = 1; c < argc && !hosts; c++)
		if (streq(argv[c], "--hosts") || strncmp(argv[c], "--hosts=", 8) == 0)
			hosts = argv[c];
	if (!hosts)
		return rollback_waves(argc, argv);
	hosts = NULL;
	optind = 0;
	while ((c = getopt_long(argc, argv, "T:H:t:jh", options, NULL)) != -1) {
		switch (c) {
		case 'T':
			d.version = optarg;
			break;
		case 'H':
			hosts = optarg;
			break;
		case 't':
			timeout = optarg;
			break;
		case 'j':
			d.json = true;
			break;
		case 'h':
			return cli_help(&cmd_rollback_entry);
		default:
			return cli_usage_error(&cmd_rollback_entry, "rollback: bad option");
		}
	}
	if (optind == argc)
		return cli_usage_error(&cmd_rollback_entry, "rollback needs APP");
	if (argc - optind > 1)
		return cli_usage_error(&cmd_rollback_entry, "rollback: unexpected argument '%s'",
		        argv[optind + 1]);
	d.app = argv[optind];
	if (!app_name_is_valid(d.app))
		return cli_usage_error(&cmd_rollback_entry,
		        "invalid app name '%s' (1-64 of a-z, 0-9, '_', '-')", d.app);
	if (d.version && !version_is_valid(d.version))
		return cli_usage_error(&cmd_rollback_entry,
		        "invalid --to version '%s' (1-64 of A-Z, a-z, 0-9, '.', '_', '+', '~', "
		        "'-')",
		        d.version);
	r = cli_deployment_options(&cmd_rollback_entry, hosts, timeout, &d);
	if (r >= 0) {
		free(d.host_ids);
		return r;
	}
	rollback.app = (char *)d.app;
	rollback.to_version = (char *)(d.version ? d.version : "");
	rollback.host_ids = d.host_ids;
	rollback.n_host_ids = d.n_host_ids;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK;
	req.rollback = &rollback;
	r = cli_deployment_run(&d, &req);
	free(d.host_ids);
	return r;
}

const struct cli_verb cmd_rollback_entry = {
        .name = "rollback",
        .summary = "roll an app back, its latest deployment or on listed hosts",
        .usage = rollback_usage,
        .run = rollback_run,
};
