/*
 * rollwave plan APP VERSION [--selector K=V,...] [-f FILE] [--OPTION VALUE]...
 * [--json]: the waves a deployment would run, changing nothing
 * (CreateDeployment with plan_only, cli_waves_create.c).
 */
#include "cli.h"
#include "cli_waves.h"

static const char plan_usage[] =
        "Usage: rollwave plan APP VERSION [--selector K=V,...] [-f FILE]\n"
        "                     [--OPTION VALUE]... [--json]\n"
        "\n"
        "Prints the waves `rollwave deploy APP VERSION` would run with the same\n"
        "options, changing nothing: every host of every wave (web17(17)=up-to-date,\n"
        "web19(19)[down]), each wave's gates, the rollback plan, then the Gates:\n"
        "section (failure budget, freeze windows, metric gates).\n"
        "\n" CLI_WAVES_OPTIONS_HELP "\n"
        "  -f, --file FILE     a deployment file; flags override it\n"
        "  --selector K=V,...  only the hosts with these labels\n"
        "  --json              the plan as the status document (fields in docs/json.md)\n"
        "\n"
        "Exit status: 0 planned; 1 refused (e.g. no host matches); 2 bad command line.\n";

static int
plan_run(int argc, char **argv)
{
	return cli_waves_create(&cmd_plan_entry, argc, argv, true);
}

const struct cli_verb cmd_plan_entry = {
        .name = "plan",
        .summary = "print the waves a deployment would run, changing nothing",
        .usage = plan_usage,
        .run = plan_run,
};
