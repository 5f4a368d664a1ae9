/*
 * rollwave hosts: the fleet's hosts, and enrolment decisions.
 *
 *   hosts [--selector KEY=VALUE,...] [--json]   ListHosts   -> HostList
 *   hosts pending [--json]                      HostsPending -> HostList
 *   hosts accept ID [--json]                    HostAccept  -> Ack
 *   hosts revoke ID [--json]                    HostRevoke  -> Ack
 *
 * The selector is checked for shape here and filtered by the coordinator;
 * the CLI shows the hosts the coordinator returns.
 */
#include <getopt.h>
#include <jansson.h>

#include "admin.h"
#include "admin_format.h"
#include "cli.h"
#include "log.h"
#include "wire.h"

static const char hosts_usage[] =
        "Usage:\n"
        "  rollwave [--coordinator URL] hosts [--selector KEY=VALUE,...] [--json]\n"
        "  rollwave [--coordinator URL] hosts pending [--json]\n"
        "  rollwave [--coordinator URL] hosts accept ID [--json]\n"
        "  rollwave [--coordinator URL] hosts revoke ID [--json]\n"
        "\n"
        "Without a subcommand, lists the hosts the coordinator knows: id, hostname,\n"
        "state (pending, up, down, revoked), when it was last seen, its labels, and\n"
        "for each app the current version and its health.\n"
        "\n"
        "  --selector K=V,...  only hosts whose labels match every K=V (the\n"
        "                      coordinator filters)\n"
        "  --json              print one JSON document (fields in README.md)\n"
        "\n"
        "  pending     hosts that enrolled with the join token and wait for a decision;\n"
        "              compare the KEY column with the host's key before accepting\n"
        "  accept ID   lets a pending host in\n"
        "  revoke ID   shuts a host out for good (its key gets nothing any more)\n";

/* Returns ARGS_OK to go on, or the exit code to stop with. */
#define ARGS_OK (-1)

struct hosts_args {
	const char *selector;
	const char *id; /* accept/revoke */
	bool json;
};

static int
parse_args(int argc, char **argv, bool with_selector, bool with_id, struct hosts_args *a)
{
	static const struct option options[] = {
	        {"selector", required_argument, NULL, 's'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:jh", options, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!with_selector)
				return cli_usage_error(&cmd_hosts_entry,
				        "hosts %s: --selector only applies to the host list",
				        argv[0]);
			a->selector = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'h':
			fputs(hosts_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error(&cmd_hosts_entry, "hosts: bad option");
		}
	}
	if (with_id) {
		if (optind == argc)
			return cli_usage_error(
			        &cmd_hosts_entry, "hosts %s needs a host ID", argv[0]);
		a->id = argv[optind++];
	}
	if (optind != argc)
		return cli_usage_error(
		        &cmd_hosts_entry, "hosts: unexpected argument '%s'", argv[optind]);
	return ARGS_OK;
}

static int
hosts_print(const Rollwave__HostList *l, bool json, bool pending)
{
	int r;

	if (json)
		return cli_json_print(admin_format_hosts_json(l));
	r = pending ? admin_format_pending_table(l, cli_now_ms(), stdout)
	            : admin_format_hosts_table(l, cli_now_ms(), stdout);
	if (r < 0 || fflush(stdout) == EOF) {
		log_error("cannot print the hosts: %s", strerror(r < 0 ? -r : errno));
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

static int
hosts_list(int argc, char **argv)
{
	struct hosts_args a = {NULL, NULL, false};
	struct host_pages pages = {0};
	struct rw_err err = {""};
	int r;

	r = parse_args(argc, argv, true, false, &a);
	if (r != ARGS_OK)
		return r;
	if (a.selector && admin_selector_check(a.selector, &err) < 0)
		return cli_usage_error(&cmd_hosts_entry, "invalid --selector: %s", err.msg);
	r = cli_admin_list_hosts(a.selector, false, &pages);
	if (r != CLI_EXIT_OK)
		return r;
	r = hosts_print(&pages.list, a.json, false);
	host_pages_done(&pages);
	return r;
}

static int
hosts_pending(int argc, char **argv)
{
	struct hosts_args a = {NULL, NULL, false};
	struct host_pages pages = {0};
	int r;

	r = parse_args(argc, argv, false, false, &a);
	if (r != ARGS_OK)
		return r;
	r = cli_admin_list_hosts(NULL, true, &pages);
	if (r != CLI_EXIT_OK)
		return r;
	r = hosts_print(&pages.list, a.json, true);
	host_pages_done(&pages);
	return r;
}

/* accept and revoke: same shape, different request. */
static int
hosts_decide(int argc, char **argv, bool accept)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__HostAccept acc = ROLLWAVE__ADMIN_REQUEST__HOST_ACCEPT__INIT;
	Rollwave__AdminRequest__HostRevoke rev = ROLLWAVE__ADMIN_REQUEST__HOST_REVOKE__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	struct hosts_args a = {NULL, NULL, false};
	const char *what = accept ? "accepted" : "revoked";
	const Rollwave__Ack *ack;
	char subject[32];
	uint64_t id;
	int r;

	r = parse_args(argc, argv, false, true, &a);
	if (r != ARGS_OK)
		return r;
	if (admin_host_id_parse(a.id, &id) < 0)
		return cli_usage_error(&cmd_hosts_entry, "invalid host ID '%s'", a.id);
	if (accept) {
		acc.host_id = id;
		req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT;
		req.host_accept = &acc;
	} else {
		rev.host_id = id;
		req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_REVOKE;
		req.host_revoke = &rev;
	}
	strbuf_printf(subject, sizeof(subject), "host %llu", (unsigned long long)id);
	r = cli_admin_call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK, subject, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	ack = reply->admin_response->ack;
	if (a.json)
		return cli_json_print(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "action",
		        accept ? "accept" : "revoke", "message", ack->message));
	if (isempty(ack->message))
		printf("Host %llu %s.\n", (unsigned long long)id, what);
	else
		printf("%s\n", ack->message);
	return CLI_EXIT_OK;
}

static int
hosts_accept(int argc, char **argv)
{
	return hosts_decide(argc, argv, true);
}

static int
hosts_revoke(int argc, char **argv)
{
	return hosts_decide(argc, argv, false);
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} hosts_subcommands[] = {
        {"pending", hosts_pending},
        {"accept", hosts_accept},
        {"revoke", hosts_revoke},
};

static int
hosts_run(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return hosts_list(argc, argv);
	if (streq(argv[1], "help")) {
		fputs(hosts_usage, stdout);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < ELEMENTSOF(hosts_subcommands); i++)
		if (streq(argv[1], hosts_subcommands[i].name))
			return hosts_subcommands[i].run(argc - 1, argv + 1);
	return cli_usage_error(&cmd_hosts_entry,
	        "unknown hosts subcommand '%s' (pending, accept or revoke)", argv[1]);
}

const struct cli_verb cmd_hosts_entry = {
        .name = "hosts",
        .summary = "list the fleet's hosts; accept or revoke enrolled hosts",
        .usage = hosts_usage,
        .run = hosts_run,
};
