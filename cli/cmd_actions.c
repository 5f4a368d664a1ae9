/*
 * rollwave approve|pause|resume ID [--json], rollwave abort ID [--rollback]
 * [--json]: one DeploymentAction on a deployment through waves, answered
 * with its status.
 */
#include <inttypes.h>

#include "admin.h"
#include "cli.h"
#include "cli_waves.h"
#include "wire.h"

#define ACTION_EXIT_HELP                                                                           \
	"Exit status: 0 done; 1 refused (no such deployment, not in a state that\n"                \
	"takes it, a deployment sent with --hosts) or the coordinator unreachable;\n"              \
	"2 bad command line.\n"

static const char approve_usage[] =
        "Usage: rollwave approve ID [--json]\n"
        "\n"
        "Lets deployment ID, waiting for approval (--approval first|every,\n"
        "--ring-approval), start its next wave, then prints its state and step.\n"
        "\n"
        "  --json  print the deployment as one JSON document (fields in docs/json.md)\n"
        "\n" ACTION_EXIT_HELP;

static const char pause_usage[] =
        "Usage: rollwave pause ID [--json]\n"
        "\n"
        "Starts no new host of deployment ID (running or pending) until `rollwave\n"
        "resume ID`; its wave's clocks stop. Then prints its state and step.\n"
        "\n"
        "  --json  print the deployment as one JSON document (fields in docs/json.md)\n"
        "\n" ACTION_EXIT_HELP;

static const char resume_usage[] =
        "Usage: rollwave resume ID [--json]\n"
        "\n"
        "Resumes paused deployment ID where it stopped, then prints its state and\n"
        "step.\n"
        "\n"
        "  --json  print the deployment as one JSON document (fields in docs/json.md)\n"
        "\n" ACTION_EXIT_HELP;

static const char abort_usage[] =
        "Usage: rollwave abort ID [--rollback] [--json]\n"
        "\n"
        "Stops deployment ID: hosts mid-deploy are stopped, nothing is rolled back,\n"
        "and it ends aborted. With --rollback, it rolls back instead (its hosts\n"
        "return to the release they ran before) and ends rolled_back. Then prints\n"
        "its state and step.\n"
        "\n"
        "  --rollback  roll the deployment's hosts back\n"
        "  --json      print the deployment as one JSON document (fields in docs/json.md)\n"
        "\n" ACTION_EXIT_HELP;

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
		else if (streq(argv[i], "-h") || streq(argv[i], "--help"))
			return cli_help(verb);
		else if (argv[i][0] != '-' && !ids)
			ids = argv[i];
		else
			return cli_usage_error(
			        verb, "%s: unexpected argument '%s'", verb->name, argv[i]);
	}
	if ((r = cli_waves_parse_id(verb, ids, &id)) >= 0)
		return r;
	act.deployment_id = id;
	act.action = action;
	act.rollback = rollback;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOYMENT_ACTION;
	req.deployment_action = &act;
	strbuf_printf(subject, sizeof(subject), "deployment %" PRIu64, id);
	r = cli_admin_call(
	        &req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS, subject, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	st = reply->admin_response->deployment_status;
	if (json)
		return cli_json_print(cli_waves_status_json(st, false));
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

const struct cli_verb cmd_approve_entry = {
        .name = "approve",
        .summary = "let a deployment waiting for approval start its next wave",
        .usage = approve_usage,
        .run = approve_run,
};

const struct cli_verb cmd_pause_entry = {
        .name = "pause",
        .summary = "start no new host of a deployment until resumed",
        .usage = pause_usage,
        .run = pause_run,
};

const struct cli_verb cmd_resume_entry = {
        .name = "resume",
        .summary = "resume a paused deployment",
        .usage = resume_usage,
        .run = resume_run,
};

const struct cli_verb cmd_abort_entry = {
        .name = "abort",
        .summary = "stop a deployment (with --rollback, roll its hosts back)",
        .usage = abort_usage,
        .run = abort_run,
};
