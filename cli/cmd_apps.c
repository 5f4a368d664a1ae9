/*
 * rollwave apps: which versions of each app run in the fleet, on how many
 * hosts.
 *
 *   apps [--json]     ListApps -> AppList
 */
#include <getopt.h>
#include <jansson.h>

#include "admin.h"
#include "admin_format.h"
#include "cli.h"
#include "log.h"
#include "wire.h"

static const char apps_usage[] =
        "Usage: rollwave [--coordinator URL] apps [--json]\n"
        "\n"
        "Lists every app the hosts report, with the number of hosts that run it and\n"
        "how many run each current version.\n"
        "\n"
        "  --json   print one JSON document (fields in docs/json.md)\n";

static int
apps_run(int argc, char **argv)
{
	static const struct option options[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__ListApps list = ROLLWAVE__ADMIN_REQUEST__LIST_APPS__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	bool json = false;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "jh", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(apps_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error(&cmd_apps_entry, "apps: bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(
		        &cmd_apps_entry, "apps: unexpected argument '%s'", argv[optind]);

	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_APPS;
	req.list_apps = &list;
	r = cli_admin_call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_APP_LIST, NULL, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	if (json)
		return cli_json_print(admin_format_apps_json(reply->admin_response->app_list));
	r = admin_format_apps_table(reply->admin_response->app_list, stdout);
	if (r < 0 || fflush(stdout) == EOF) {
		log_error("cannot print the apps: %s", strerror(r < 0 ? -r : errno));
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

const struct cli_verb cmd_apps_entry = {
        .name = "apps",
        .summary = "list the apps in the fleet and the versions they run",
        .usage = apps_usage,
        .run = apps_run,
};
