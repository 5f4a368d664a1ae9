/*
 * rollwave deploy: a release to the fleet, in one of two forms.
 *
 *   deploy APP VERSION --manifest URL [options of a deployment] [--wait]
 *     a deployment through waves (cli_waves_create(), cli_waves.h)
 *   deploy APP VERSION --manifest URL --hosts ID,... [--timeout D] [--json]
 *     one task to each listed host at once (cli_deployment_run(),
 *     cli_deployment.h)
 */
#include <getopt.h>

#include "cli.h"
#include "cli_deployment.h"
#include "cli_waves.h"
#include "version.h"

static const char deploy_usage[] =
        "Usage:\n"
        "  rollwave deploy APP VERSION --manifest URL [--selector K=V,...] [-f FILE]\n"
        "                  [--strategy NAME] [--OPTION VALUE]... [--force]\n"
        "                  [--wait [--timeout DURATION]] [--json]\n"
        "  rollwave deploy APP VERSION --manifest URL --hosts ID,... [--timeout DURATION]\n"
        "                  [--json]\n"
        "\n"
        "Deploys VERSION of APP from the signed release manifest at URL (file://,\n"
        "http://, https://; its .minisig next to it).\n"
        "\n"
        "The first form is a deployment through waves: the coordinator takes the\n"
        "accepted hosts that report APP (and match --selector), plans them into\n"
        "waves with a strategy and moves the fleet wave by wave, gating on health,\n"
        "the failure budget, bake time, approvals, freeze windows and metric gates;\n"
        "when a gate fails, the hosts that took the release go back together.\n"
        "`rollwave plan` shows the waves first, `rollwave status` and `rollwave\n"
        "watch` follow it.\n"
        "\n"
        "With --hosts, each listed host gets a signed task at once, without waves\n"
        "or gates, and rollwave follows them until every host has finished: a line\n"
        "whenever a host's state or phase changes, then a summary and a table of\n"
        "each host's result. The coordinator refuses the whole deployment if one\n"
        "host is unknown, pending or revoked; hosts that are down are named at\n"
        "once, and their tasks wait until they are back.\n"
        "\n" CLI_WAVES_OPTIONS_HELP "\n"
        "  --manifest URL      the signed manifest as the hosts fetch it\n"
        "  -f, --file FILE     a deployment file; flags override it\n"
        "  --selector K=V,...  only the hosts with these labels\n"
        "  --wait              follow the deployment to its end\n"
        "  --timeout DURATION  with --wait: stop following after this long; with\n"
        "                      --hosts: the same, default 30m (the tasks go on)\n"
        "  --force             start even if preflight finds hosts down\n"
        "  --hosts ID,...      host ids as `rollwave hosts` shows them (at most 10000)\n"
        "  --json              print one JSON document (fields in docs/json.md)\n"
        "\n"
        "Exit status of deploy --wait:\n" CLI_WAVES_EXIT_HELP "\n"
        "Without --wait: 0 the coordinator took it; 1 it refused it; 2 bad command\n"
        "line. With --hosts: 0 every host committed; 1 refused, a host failed or\n"
        "rolled back, or the timeout passed; 2 bad command line.\n";

static int
deploy_run(int argc, char **argv)
{
	static const struct option options[] = {
	        {"manifest", required_argument, NULL, 'm'},
	        {"hosts", required_argument, NULL, 'H'},
	        {"timeout", required_argument, NULL, 't'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__Deploy deploy = ROLLWAVE__ADMIN_REQUEST__DEPLOY__INIT;
	const char *manifest = NULL, *hosts = NULL, *timeout = NULL;
	struct cli_deployment d = {.verb = &cmd_deploy_entry};
	int c, r;

	/* Without --hosts: a deployment through waves. */
	for (c = 1; c < argc && !hosts; c++)
		if (streq(argv[c], "--hosts") || strncmp(argv[c], "--hosts=", 8) == 0)
			hosts = argv[c];
	if (!hosts)
		return cli_waves_create(&cmd_deploy_entry, argc, argv, false);
	hosts = NULL;
	optind = 0;
	while ((c = getopt_long(argc, argv, "m:H:t:jh", options, NULL)) != -1) {
		switch (c) {
		case 'm':
			manifest = optarg;
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
			return cli_help(&cmd_deploy_entry);
		default:
			return cli_usage_error(&cmd_deploy_entry, "deploy: bad option");
		}
	}
	if (argc - optind < 2)
		return cli_usage_error(&cmd_deploy_entry, "deploy needs APP and VERSION");
	if (argc - optind > 2)
		return cli_usage_error(
		        &cmd_deploy_entry, "deploy: unexpected argument '%s'", argv[optind + 2]);
	d.app = argv[optind];
	d.version = argv[optind + 1];
	if (!app_name_is_valid(d.app))
		return cli_usage_error(&cmd_deploy_entry,
		        "invalid app name '%s' (1-64 of a-z, 0-9, '_', '-')", d.app);
	if (!version_is_valid(d.version))
		return cli_usage_error(&cmd_deploy_entry,
		        "invalid version '%s' (1-64 of A-Z, a-z, 0-9, '.', '_', '+', '~', '-')",
		        d.version);
	if (isempty(manifest))
		return cli_usage_error(&cmd_deploy_entry, "deploy needs --manifest URL");
	r = cli_deployment_options(&cmd_deploy_entry, hosts, timeout, &d);
	if (r >= 0) {
		free(d.host_ids);
		return r;
	}
	deploy.app = (char *)d.app;
	deploy.version = (char *)d.version;
	deploy.manifest_url = (char *)manifest;
	deploy.host_ids = d.host_ids;
	deploy.n_host_ids = d.n_host_ids;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY;
	req.deploy = &deploy;
	r = cli_deployment_run(&d, &req);
	free(d.host_ids);
	return r;
}

const struct cli_verb cmd_deploy_entry = {
        .name = "deploy",
        .summary = "deploy a release to the fleet, in waves or to listed hosts",
        .usage = deploy_usage,
        .run = deploy_run,
};
