/*
 * rollwave rollback APP [--to VERSION] --hosts ID,...: one rollback task for
 * each of those hosts at once, followed to the end like a deploy
 * (cli_deployment_run(), cmd_deploy.c).
 *
 *   Rollback{app, to_version, host_ids} -> DeployResult (queued)
 *   then GetDeployment until every host is final or --timeout passes.
 */
#include <getopt.h>

#include "admin.h"
#include "cli.h"
#include "version.h"

static const char rollback_usage[] =
        "Usage: rollwave [--coordinator URL] rollback APP [--to VERSION] --hosts ID,...\n"
        "                [--timeout DURATION] [--json]\n"
        "\n"
        "Sends each listed host a signed task to roll APP back, all at once, and\n"
        "follows them until every host has finished, like `rollwave deploy`.\n"
        "Without --to, each host returns to its previous release.\n"
        "\n"
        "  --to VERSION         the release to return to (it must be on the hosts)\n"
        "  --hosts ID,...       host ids as `rollwave hosts` shows them (at most 10000)\n"
        "  --timeout DURATION   stop following after DURATION (default 30m; the tasks\n"
        "                       go on)\n"
        "  --json               print one JSON document at the end (fields in README.md)\n"
        "\n"
        "Exit status: 0 every host committed; 1 refused, a host failed, or the\n"
        "timeout passed; 2 bad command line.\n";

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

	/* Without --hosts: the coordinated rollback of the app's latest
	 * deployment (cmd_waves.c). */
	for (c = 1; c < argc && !hosts; c++)
		if (streq(argv[c], "--hosts") || strncmp(argv[c], "--hosts=", 8) == 0)
			hosts = argv[c];
	if (!hosts)
		return cli_waves_rollback(argc, argv);
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
			fputs(rollback_usage, stdout);
			return CLI_EXIT_OK;
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
        .summary = "roll an app back on hosts and follow it to the end",
        .usage = rollback_usage,
        .run = rollback_run,
};
