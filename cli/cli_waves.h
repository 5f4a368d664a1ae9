/*
 * cli_waves: deployments through waves as the verbs show and follow them
 * (deploy and rollback without --hosts, plan, status, watch, approve,
 * pause, resume, abort, history).
 *
 * Following a deployment (deploy --wait, rollback --wait, watch) polls
 * GetDeploymentStatus every second until the deployment is final, and
 * tells the outcomes apart by exit code (README.md, "Deployments through
 * waves"): CLI_EXIT_OK, CLI_EXIT_FAILURE, CLI_EXIT_USAGE and the two
 * below. Only transport failures are asked again (a coordinator
 * restarting), for up to 60 s; a refusal such as "no such deployment"
 * ends it at once.
 *
 * Options of a deployment (strategies/deploy_params.h) come from a
 * deployment file (-f FILE, -fFILE, --file FILE, --file=FILE) and from
 * flags (--batch 10%, --max-unavailable 2, --canary ring=0, --bake 5m,
 * --set Gate.errors.Query=...), checked here with the coordinator's own
 * parser before anything is sent (cli_waves_create.c).
 */
#ifndef ROLLWAVE_CLI_WAVES_H
#define ROLLWAVE_CLI_WAVES_H

#include <jansson.h>

#include "admin_format.h"
#include "cli.h"
#include "rollwave.pb-c.h"

enum {
	/* Could not follow it: the coordinator unreachable or lost, an unknown
	 * deployment, the request refused. */
	CLI_WAVES_EXIT_UNFOLLOWED = 3,
	/* --timeout passed while the deployment was active; it goes on. */
	CLI_WAVES_EXIT_TIMEOUT = 4,
};

/* The options of a deployment, for the help of deploy and plan. */
#define CLI_WAVES_OPTIONS_HELP                                                                     \
	"Options of a deployment (also the keys of a deployment file, see\n"                       \
	"strategies/README.md): --strategy all-at-once|rolling|canary|ring|blue-green,\n"          \
	"--batch N|P%, --max-unavailable N|P%, --canary N|P%|K=V, --steps 1%,10%,100%,\n"          \
	"--ring-label KEY, --datacenters DC,DC, --ring-bake RING:DUR,..., --ring-approval\n"       \
	"RING,..., --bake DUR, --approval no|first|every, --min-healthy DUR,\n"                    \
	"--failure-budget N|P%, --wave-timeout DUR, --rollback-parallelism N|P%,\n"                \
	"--traffic-command CMD, --live-color blue|green, --prometheus-url URL,\n"                  \
	"--freeze WINDOW, --freeze-policy wait|refuse, --set KEY=VALUE (any key,\n"                \
	"e.g. Gate.errors.Query=...). Every option also takes --OPTION=VALUE.\n"

/* The exit status of following, for the help of deploy, rollback and
 * watch. */
#define CLI_WAVES_EXIT_HELP                                                                        \
	"  0  it succeeded (a rollback: it rolled back)\n"                                         \
	"  1  it ended otherwise (failed, rolled_back, aborted); the last line says why\n"         \
	"  2  bad command line\n"                                                                  \
	"  3  could not follow it (coordinator unreachable or lost, no such deployment,\n"         \
	"     request refused)\n"                                                                  \
	"  4  --timeout passed while it was still active (it goes on on the coordinator)\n"

struct cli_waves_follow {
	uint64_t id;
	uint64_t timeout_usec; /* 0: none */
	const char *success;   /* the final state that exits 0 */
	bool json;
	bool reached; /* the coordinator answered for it already (deploy, rollback):
	               * a transport failure from the start is a restart, not a
	               * wrong address */
};

/* Follows deployment f->id until it is final, printing changes (a redrawn
 * screen on a terminal, plain lines otherwise, one document with --json).
 * Returns an exit code: see the enum above. */
int cli_waves_follow(const struct cli_waves_follow *f);

/* The status document of --json (README.md); with_waves adds the waves,
 * the rollback's waves and the params. A new reference, or NULL. */
json_t *cli_waves_status_json(const Rollwave__DeploymentStatus *st, bool with_waves);

/* admin_format_waves_status() on stdout; an exit code. */
int cli_waves_print(const Rollwave__DeploymentStatus *st, const struct admin_waves_view *v);

/* GetDeploymentStatus of deployment id (or, id 0, app's latest): an exit
 * code, *ret set on CLI_EXIT_OK. */
int cli_waves_get_status(uint64_t id, const char *app, Rollwave__Envelope **ret);

/* The History of app (NULL: every app), at most limit deployments, as the
 * table or with json {"deployments": [...]}; with active_only only the
 * ones not final. An exit code. */
int cli_waves_history(const char *app, unsigned limit, bool json, bool active_only);

/* A deployment ID (> 0) for verb. -1 to go on, or an exit code (the usage
 * error is logged). */
int cli_waves_parse_id(const struct cli_verb *verb, const char *s, uint64_t *ret);

/* --timeout (a duration > 0; NULL: missing). -1 to go on, or an exit
 * code. */
int cli_waves_timeout_parse(const struct cli_verb *verb, const char *s, uint64_t *ret);

/* deploy (without --hosts) and plan: parses APP VERSION and the options
 * of a deployment, sends CreateDeployment (plan_only for plan) and prints
 * the plan or the deployment, or follows it with --wait. argv[0] is the
 * verb's name; an exit code. */
int cli_waves_create(const struct cli_verb *verb, int argc, char **argv, bool plan);

#endif
