/*
 * rollwave events: the coordinator's audit log, oldest first.
 *
 *   events [--since DURATION|TIMESTAMP] [--limit N] [--json]
 *                                          ListEvents -> EventList
 */
#include <getopt.h>
#include <jansson.h>

#include "admin.h"
#include "admin_format.h"
#include "cli.h"
#include "log.h"
#include "wire.h"

static const char events_usage[] =
        "Usage: rollwave [--coordinator URL] events [--since DURATION|TIMESTAMP]\n"
        "                                           [--limit N] [--json]\n"
        "\n"
        "Shows the coordinator's audit log: every admin action and every host state\n"
        "change, with when, who (actor), what (action), on what (target) and details.\n"
        "\n"
        "  --since D|T  only events at or after T (UTC, 2026-05-01T10:00:00Z) or in the\n"
        "               last D (90s, 15m, 2h, 7d)\n"
        "  --limit N    at most N events (1 to 1000; default: the coordinator's)\n"
        "  --json       print one JSON document (fields in docs/json.md)\n";

static int
events_run(int argc, char **argv)
{
	static const struct option options[] = {
	        {"since", required_argument, NULL, 's'},
	        {"limit", required_argument, NULL, 'n'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__ListEvents list = ROLLWAVE__ADMIN_REQUEST__LIST_EVENTS__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	bool json = false;
	uint64_t since_ms = 0, limit = 0;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:n:jh", options, NULL)) != -1) {
		switch (c) {
		case 's':
			if (admin_since_parse(optarg, cli_now_ms(), &since_ms) < 0)
				return cli_usage_error(&cmd_events_entry,
				        "invalid --since '%s' (a duration like 2h or a UTC time "
				        "like "
				        "2026-05-01T10:00:00Z)",
				        optarg);
			break;
		case 'n':
			if (parse_uint64(optarg, &limit) < 0 || limit == 0 ||
			        limit > WIRE_EVENTS_MAX)
				return cli_usage_error(&cmd_events_entry,
				        "invalid --limit '%s' (1 to %d)", optarg, WIRE_EVENTS_MAX);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(events_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error(&cmd_events_entry, "events: bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(
		        &cmd_events_entry, "events: unexpected argument '%s'", argv[optind]);

	list.since_ms = since_ms;
	list.limit = (uint32_t)limit;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_EVENTS;
	req.list_events = &list;
	r = cli_admin_call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_EVENT_LIST, NULL, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	if (json)
		return cli_json_print(admin_format_events_json(reply->admin_response->event_list));
	r = admin_format_events_table(reply->admin_response->event_list, stdout);
	if (r < 0 || fflush(stdout) == EOF) {
		log_error("cannot print the events: %s", strerror(r < 0 ? -r : errno));
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

const struct cli_verb cmd_events_entry = {
        .name = "events",
        .summary = "show the coordinator's audit log",
        .usage = events_usage,
        .run = events_run,
};
