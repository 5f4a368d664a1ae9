/*
 * rollwave host ID: everything the coordinator knows about one host.
 *
 *   host ID [--json]     GetHost -> HostList (exactly that host)
 */
#include <getopt.h>
#include <jansson.h>

#include "admin.h"
#include "admin_format.h"
#include "cli.h"
#include "log.h"
#include "wire.h"

static const char host_usage[] =
        "Usage: rollwave [--coordinator URL] host ID [--json]\n"
        "\n"
        "Shows one host: hostname, state, last seen, key fingerprint and full key,\n"
        "agent version, labels, and each app's current and previous release, health\n"
        "and the releases on disk.\n"
        "\n"
        "  --json   print the host as one JSON object (fields in docs/json.md)\n";

static int
host_run(int argc, char **argv)
{
	static const struct option options[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__GetHost get = ROLLWAVE__ADMIN_REQUEST__GET_HOST__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	const Rollwave__HostList *l;
	bool json = false;
	char subject[32];
	uint64_t id;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "jh", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(host_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error(&cmd_host_entry, "host: bad option");
		}
	}
	if (optind == argc)
		return cli_usage_error(&cmd_host_entry, "host needs a host ID");
	if (argc - optind > 1)
		return cli_usage_error(
		        &cmd_host_entry, "host: unexpected argument '%s'", argv[optind + 1]);
	if (admin_host_id_parse(argv[optind], &id) < 0)
		return cli_usage_error(&cmd_host_entry, "invalid host ID '%s'", argv[optind]);

	get.host_id = id;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST;
	req.get_host = &get;
	strbuf_printf(subject, sizeof(subject), "host %llu", (unsigned long long)id);
	r = cli_admin_call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST, subject, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	l = reply->admin_response->host_list;
	if (l->n_hosts == 0) {
		log_error("no host %llu", (unsigned long long)id);
		return CLI_EXIT_FAILURE;
	}
	if (l->n_hosts != 1 || l->hosts[0]->id != id) {
		log_error("the coordinator answered with other hosts than host %llu",
		        (unsigned long long)id);
		return CLI_EXIT_FAILURE;
	}
	if (json)
		return cli_json_print(admin_format_host_json(l->hosts[0]));
	r = admin_format_host_details(l->hosts[0], cli_now_ms(), stdout);
	if (r < 0 || fflush(stdout) == EOF) {
		log_error("cannot print the host: %s", strerror(r < 0 ? -r : errno));
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

const struct cli_verb cmd_host_entry = {
        .name = "host",
        .summary = "show one host in detail",
        .usage = host_usage,
        .run = host_run,
};
