/*
 * units_probe: drives agent/units and agent/health against a real systemd,
 * for tests/integration/test_units.sh (run inside a test host).
 *
 *   units_probe restart [--timeout-ms N] UNIT...
 *   units_probe stop    [--timeout-ms N] UNIT...
 *   units_probe start   [--timeout-ms N] UNIT...
 *   units_probe state UNIT          prints "load active sub nrestarts"
 *   units_probe exist UNIT...
 *   units_probe health [--min-healthy-ms N] [--deadline-ms N]
 *                      [--interval-ms N] [--tcp HOST:PORT] UNIT...
 *
 * Exit status 0 on success; otherwise 1, with "error: <message>
 * (<errno name>)" on stderr. health also prints "probes=N failed=N
 * first_healthy_ms=N elapsed_ms=N" on stdout.
 */
#include <getopt.h>
#include <inttypes.h>

#include "health.h"
#include "units.h"
#include "util.h"

static int
fail(int r, const struct rw_err *err)
{
	fprintf(stderr, "error: %s (%s)\n", err->msg, strerrorname_np(-r) ?: "?");
	return 1;
}

static int
parse_ms(const char *s, uint64_t *ret)
{
	uint64_t v;

	if (parse_uint64(s, &v) < 0 || v > UINT64_MAX / USEC_PER_MSEC) {
		fprintf(stderr, "bad number '%s'\n", s);
		return -EINVAL;
	}
	*ret = v * USEC_PER_MSEC;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"timeout-ms", required_argument, NULL, 't'},
	        {"min-healthy-ms", required_argument, NULL, 'm'},
	        {"deadline-ms", required_argument, NULL, 'd'},
	        {"interval-ms", required_argument, NULL, 'i'},
	        {"tcp", required_argument, NULL, 'c'},
	        {},
	};
	uint64_t timeout = 30 * USEC_PER_SEC;
	struct health_config hc = {
	        .min_healthy_usec = USEC_PER_SEC,
	        .deadline_usec = 10 * USEC_PER_SEC,
	        .interval_usec = 100 * USEC_PER_MSEC,
	        .probe_timeout_usec = 2 * USEC_PER_SEC,
	};
	char *tcp[2] = {NULL, NULL};
	struct rw_err err = {{0}};
	sd_bus *bus = NULL;
	const char *verb;
	char **units;
	int c, r;

	if (argc < 2) {
		fprintf(stderr, "usage: units_probe VERB [OPTIONS] UNIT...\n");
		return 2;
	}
	verb = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 't':
			r = parse_ms(optarg, &timeout);
			break;
		case 'm':
			r = parse_ms(optarg, &hc.min_healthy_usec);
			break;
		case 'd':
			r = parse_ms(optarg, &hc.deadline_usec);
			break;
		case 'i':
			r = parse_ms(optarg, &hc.interval_usec);
			break;
		case 'c':
			tcp[0] = optarg;
			hc.tcp_connect = tcp;
			r = 0;
			break;
		default:
			return 2;
		}
		if (r < 0)
			return 2;
	}
	units = argv + optind;

	r = units_bus_open(&bus, &err);
	if (r < 0)
		return fail(r, &err);

	if (streq(verb, "restart"))
		r = units_restart(bus, units, timeout, &err);
	else if (streq(verb, "stop"))
		r = units_stop(bus, units, timeout, &err);
	else if (streq(verb, "start"))
		r = units_start(bus, units, timeout, &err);
	else if (streq(verb, "exist"))
		r = units_check_exist(bus, units, &err);
	else if (streq(verb, "state")) {
		struct unit_state st;
		r = units_get_state(bus, units[0], &st, &err);
		if (r >= 0)
			printf("%s %s %s %" PRIu32 "\n", st.load_state, st.active_state,
			        st.sub_state, st.n_restarts);
	} else if (streq(verb, "health")) {
		struct health_result res = {0};
		r = health_wait(bus, units, &hc, NULL, &res, &err);
		printf("probes=%u failed=%u first_healthy_ms=%" PRIu64 " elapsed_ms=%" PRIu64 "\n",
		        res.probes, res.failed_probes, res.first_healthy_usec / USEC_PER_MSEC,
		        res.elapsed_usec / USEC_PER_MSEC);
	} else {
		fprintf(stderr, "unknown verb '%s'\n", verb);
		r = 0;
		sd_bus_flush_close_unref(bus);
		return 2;
	}
	sd_bus_flush_close_unref(bus);
	if (r < 0)
		return fail(r, &err);
	return 0;
}
