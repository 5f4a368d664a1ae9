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
        "  rollwave [--coordinator URL] hosts accept ID... | --all-pending [--json]\n"
        "  rollwave [--coordinator URL] hosts revoke ID [--json]\n"
        "\n"
        "Without a subcommand, lists the hosts the coordinator knows: id, hostname,\n"
        "state (pending, up, down, revoked), when it was last seen, its labels, and\n"
        "for each app the current version and its health.\n"
        "\n"
        "  --selector K=V,...  only hosts whose labels match every K=V (the\n"
        "                      coordinator filters)\n"
        "  --json              print one JSON document (fields in docs/json.md)\n"
        "\n"
        "  pending     hosts that enrolled with the join token and wait for a decision;\n"
        "              compare the KEY column with the host's key before accepting\n"
        "  accept ID   lets a pending host in; several IDs, or --all-pending for every\n"
        "              pending host, are accepted together (all or none)\n"
        "  revoke ID   shuts a host out for good (its key gets nothing any more)\n";

/* Returns ARGS_OK to go on, or the exit code to stop with. */
#define ARGS_OK (-1)

struct hosts_args {
	const char *selector;
	const char *id;  /* accept/revoke */
	char **more_ids; /* accept: the IDs after the first */
	size_t n_more;
	bool json;
	bool all_pending;
};

static int
parse_args(int argc, char **argv, bool with_selector, bool with_id, struct hosts_args *a)
{
	static const struct option options[] = {
	        {"selector", required_argument, NULL, 's'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {"all-pending", no_argument, NULL, 'A'},
	        {0},
	};
	bool accept = streq(argv[0], "accept");
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:jh", options, NULL)) != -1) {
		switch (c) {
		case 'A':
			if (!accept)
				return cli_usage_error(&cmd_hosts_entry,
				        "hosts %s: --all-pending only applies to accept", argv[0]);
			a->all_pending = true;
			break;
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
	if (with_id && a->all_pending) {
		if (optind != argc)
			return cli_usage_error(&cmd_hosts_entry,
			        "hosts accept: give host IDs or --all-pending, not both");
		return ARGS_OK;
	}
	if (with_id) {
		if (optind == argc)
			return cli_usage_error(
			        &cmd_hosts_entry, "hosts %s needs a host ID", argv[0]);
		a->id = argv[optind++];
		if (accept) {
			a->more_ids = argv + optind;
			a->n_more = (size_t)(argc - optind);
			optind = argc;
		}
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
	struct hosts_args a = {0};
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
	struct hosts_args a = {0};
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

/* Sends one HostAccept for ids[0..n) (n <= WIRE_HOSTS_MAX). */
static int
accept_batch(const uint64_t *ids, size_t n, Rollwave__Envelope **reply)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__HostAccept acc = ROLLWAVE__ADMIN_REQUEST__HOST_ACCEPT__INIT;
	char subject[32];

	acc.host_id = ids[0];
	acc.more_host_ids = (uint64_t *)ids + 1;
	acc.n_more_host_ids = n - 1;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT;
	req.host_accept = &acc;
	strbuf_printf(subject, sizeof(subject), "host %llu", (unsigned long long)ids[0]);
	return cli_admin_call(
	        &req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK, n == 1 ? subject : NULL, reply);
}

/* The IDs to accept: from the command line, or every pending host. */
static int
accept_ids(const struct hosts_args *a, uint64_t **ret, size_t *ret_n)
{
	_cleanup_free_ uint64_t *ids = NULL;
	size_t n = 0;

	if (a->all_pending) {
		struct host_pages pages = {0};
		int r = cli_admin_list_hosts(NULL, true, &pages);

		if (r != CLI_EXIT_OK)
			return r;
		ids = calloc(pages.list.n_hosts ? pages.list.n_hosts : 1, sizeof(*ids));
		for (size_t i = 0; ids && i < pages.list.n_hosts; i++)
			ids[n++] = pages.list.hosts[i]->id;
		host_pages_done(&pages);
	} else {
		ids = calloc(1 + a->n_more, sizeof(*ids));
		if (ids && admin_host_id_parse(a->id, &ids[n++]) < 0)
			return cli_usage_error(&cmd_hosts_entry, "invalid host ID '%s'", a->id);
		for (size_t i = 0; ids && i < a->n_more; i++)
			if (admin_host_id_parse(a->more_ids[i], &ids[n++]) < 0)
				return cli_usage_error(
				        &cmd_hosts_entry, "invalid host ID '%s'", a->more_ids[i]);
	}
	if (!ids) {
		log_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	*ret = TAKE_PTR(ids);
	*ret_n = n;
	return ARGS_OK;
}

static int
hosts_accept(int argc, char **argv)
{
	struct hosts_args a = {0};
	_cleanup_free_ uint64_t *ids = NULL;
	json_t *jids;
	size_t n = 0, done = 0;
	char message[512] = "";
	int r;

	r = parse_args(argc, argv, false, true, &a);
	if (r != ARGS_OK)
		return r;
	r = accept_ids(&a, &ids, &n);
	if (r != ARGS_OK)
		return r;
	if (n == 0) {
		if (a.json)
			return cli_json_print(json_pack("{s:s, s:[], s:s}", "action", "accept",
			        "ids", "message", "no host is pending"));
		printf("No host is pending.\n");
		return CLI_EXIT_OK;
	}
	/* At most WIRE_HOSTS_MAX a request; each request is all or none. */
	while (done < n) {
		_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
		size_t batch = n - done < WIRE_HOSTS_MAX ? n - done : WIRE_HOSTS_MAX;

		r = accept_batch(ids + done, batch, &reply);
		if (r != CLI_EXIT_OK) {
			if (done)
				log_error("%zu of %zu hosts were accepted before this", done, n);
			return r;
		}
		done += batch;
		strbuf_printf(message, sizeof(message), "%s", reply->admin_response->ack->message);
	}
	if (n > WIRE_HOSTS_MAX)
		strbuf_printf(message, sizeof(message),
		        "%zu hosts accepted; each is up once its agent connects", n);
	if (a.json) {
		jids = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(jids, json_integer((json_int_t)ids[i]));
		if (n == 1)
			return cli_json_print(
			        json_pack("{s:I, s:s, s:o, s:s}", "id", (json_int_t)ids[0],
			                "action", "accept", "ids", jids, "message", message));
		return cli_json_print(json_pack(
		        "{s:s, s:o, s:s}", "action", "accept", "ids", jids, "message", message));
	}
	printf("%s\n", message);
	return CLI_EXIT_OK;
}

static int
hosts_revoke(int argc, char **argv)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__HostRevoke rev = ROLLWAVE__ADMIN_REQUEST__HOST_REVOKE__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	struct hosts_args a = {0};
	const Rollwave__Ack *ack;
	char subject[32];
	uint64_t id;
	int r;

	r = parse_args(argc, argv, false, true, &a);
	if (r != ARGS_OK)
		return r;
	if (admin_host_id_parse(a.id, &id) < 0)
		return cli_usage_error(&cmd_hosts_entry, "invalid host ID '%s'", a.id);
	rev.host_id = id;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_REVOKE;
	req.host_revoke = &rev;
	strbuf_printf(subject, sizeof(subject), "host %llu", (unsigned long long)id);
	r = cli_admin_call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK, subject, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	ack = reply->admin_response->ack;
	if (a.json)
		return cli_json_print(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "action",
		        "revoke", "message", ack->message));
	if (isempty(ack->message))
		printf("Host %llu revoked.\n", (unsigned long long)id);
	else
		printf("%s\n", ack->message);
	return CLI_EXIT_OK;
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
