/*
 * rollwave history [APP] [--limit N] [--json]: the deployments of an app (or
 * of every app), newest first (History, cli_waves_history()).
 */
#include "cli.h"
#include "cli_waves.h"
#include "version.h"
#include "wire.h"

#define STR(x)  #x
#define XSTR(x) STR(x)

static const char history_usage[] =
        "Usage: rollwave history [APP] [--limit N] [--json]\n"
        "\n"
        "The deployments of APP (without APP, of every app), newest first, through\n"
        "waves or sent with --hosts: ID, STARTED, FINISHED, APP, VERSION, STRATEGY,\n"
        "STATE, ACTOR, REASON.\n"
        "\n"
        "  --limit N  at most N deployments (default 20, at most " XSTR(
                WIRE_EVENTS_MAX) ")\n"
                                 "  --json     {\"deployments\": [...]} (fields in docs/json.md)\n"
                                 "\n"
                                 "Exit status: 0 shown; 1 the coordinator unreachable or refused; "
                                 "2 bad\n"
                                 "command line.\n";

static int
history_run(int argc, char **argv)
{
	const char *app = NULL, *n;
	uint64_t limit = 20;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			json = true;
		else if (cli_opt_match(argc, argv, &i, "--limit", &n)) {
			if (!n || parse_uint64(n, &limit) < 0 || limit == 0 ||
			        limit > WIRE_EVENTS_MAX)
				return cli_usage_error(&cmd_history_entry, "--limit takes 1 to %d",
				        WIRE_EVENTS_MAX);
		} else if (streq(argv[i], "-h") || streq(argv[i], "--help"))
			return cli_help(&cmd_history_entry);
		else if (argv[i][0] != '-' && !app)
			app = argv[i];
		else
			return cli_usage_error(
			        &cmd_history_entry, "history: unexpected argument '%s'", argv[i]);
	}
	if (app && !app_name_is_valid(app))
		return cli_usage_error(&cmd_history_entry, "invalid app name '%s'", app);
	return cli_waves_history(app, (unsigned)limit, json, false);
}

const struct cli_verb cmd_history_entry = {
        .name = "history",
        .summary = "the deployments of an app, newest first",
        .usage = history_usage,
        .run = history_run,
};
