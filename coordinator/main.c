/*
 * rollwave-coordinator: the central daemon's command line.
 *
 *   rollwave-coordinator [--config FILE] init [--san NAME|IP]... [--days N]
 *   rollwave-coordinator [--config FILE] run
 *   rollwave-coordinator [--config FILE] admin-cert NAME --out FILE [--days N]
 *
 * `init` prepares everything the coordinator needs and is safe to run
 * again: it creates only what is missing (database, identity key, join
 * token, a CA and a server certificate for a test setup) and says, for each
 * part, whether it was created or already there. `admin-cert` issues an
 * admin's client certificate from init's CA, for AdminSocket=tls+tcp://.
 */
#include <getopt.h>
#include <sodium.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "coordinator.h"
#include "log.h"
#include "verbs.h"

#define EXIT_USAGE 2
#define SAN_MAX    COORDINATOR_SAN_MAX

static int
verb_init(void *userdata, int argc, char **argv)
{
	const struct coordinator_config *c = userdata;
	static const struct option opts[] = {
	        {"san", required_argument, NULL, 's'},
	        {"days", required_argument, NULL, 'd'},
	        {},
	};
	char *sans[SAN_MAX];
	size_t nsans = 0;
	unsigned days = 825;
	uint64_t v;
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (ch) {
		case 's':
			if (nsans == SAN_MAX) {
				log_error("at most %d --san names", SAN_MAX);
				return EXIT_USAGE;
			}
			sans[nsans++] = optarg;
			break;
		case 'd':
			if (parse_uint64(optarg, &v) < 0 || v == 0 || v > 36500) {
				log_error("--days takes 1 to 36500, got '%s'", optarg);
				return EXIT_USAGE;
			}
			days = (unsigned)v;
			break;
		default:
			return -EXIT_USAGE;
		}
	}
	if (optind != argc)
		return -EXIT_USAGE;
	return coordinator_init(c, sans, nsans, days) < 0 ? 1 : 0;
}

static int
verb_admin_cert(void *userdata, int argc, char **argv)
{
	const struct coordinator_config *c = userdata;
	static const struct option opts[] = {
	        {"out", required_argument, NULL, 'o'},
	        {"days", required_argument, NULL, 'd'},
	        {},
	};
	const char *out = NULL;
	unsigned days = 365;
	uint64_t v;
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'd':
			if (parse_uint64(optarg, &v) < 0 || v == 0 || v > 36500) {
				log_error("--days takes 1 to 36500, got '%s'", optarg);
				return EXIT_USAGE;
			}
			days = (unsigned)v;
			break;
		default:
			return -EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || !out)
		return -EXIT_USAGE;
	return coordinator_admin_cert(c, argv[optind], out, days) < 0 ? 1 : 0;
}

struct run_state {
	struct coordinator *coord;
	uint64_t watchdog_usec;
	uint64_t last_status_usec;
};

static int
on_tick(sd_event_source *es, uint64_t usec, void *userdata)
{
	struct run_state *rs = userdata;
	char status[256];
	int r;

	coordinator_tick(rs->coord);
	if (rs->watchdog_usec)
		sd_notify(0, "WATCHDOG=1");
	if (usec - rs->last_status_usec >= 5 * USEC_PER_SEC) {
		coordinator_status(rs->coord, status, sizeof(status));
		sd_notifyf(0, "STATUS=%s", status);
		rs->last_status_usec = usec;
	}
	r = sd_event_source_set_time(es, usec + USEC_PER_SEC);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
}

/* Deployments move on in small steps: a wave's end is seen within 200 ms. */
static int
on_waves_tick(sd_event_source *es, uint64_t usec, void *userdata)
{
	struct run_state *rs = userdata;
	int r;

	coordinator_waves_tick(rs->coord);
	r = sd_event_source_set_time(es, usec + 200 * USEC_PER_MSEC);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
}

/* Long polls that timed out are answered a few at a time. */
static int
on_polls_tick(sd_event_source *es, uint64_t usec, void *userdata)
{
	struct run_state *rs = userdata;
	int r;

	coordinator_expire_polls(rs->coord);
	r = sd_event_source_set_time(es, usec + 50 * USEC_PER_MSEC);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
}

static int
on_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata)
{
	(void)userdata;
	log_notice("received %s, stopping", strsignal((int)si->ssi_signo));
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(sd_event_source_get_event(es), 0);
}

static int
verb_run(void *userdata, int argc, char **argv)
{
	const struct coordinator_config *c = userdata;
	struct run_state rs = {0};
	struct rlimit rl;
	struct rw_err err = {{0}};
	sd_event *ev = NULL;
	sigset_t mask;
	uint64_t now;
	char status[256];
	int r;

	(void)argv;
	if (argc != 1)
		return -EXIT_USAGE;
	/* One connection per agent: raise the descriptor limit to what we may. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = coordinator_start(c, &rs.coord, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	r = sd_event_default(&ev);
	if (r >= 0)
		r = sd_event_add_signal(ev, NULL, SIGTERM, on_signal, NULL);
	if (r >= 0)
		r = sd_event_add_signal(ev, NULL, SIGINT, on_signal, NULL);
	if (r >= 0)
		r = sd_event_now(ev, CLOCK_MONOTONIC, &now);
	if (r >= 0)
		r = sd_event_add_time(
		        ev, NULL, CLOCK_MONOTONIC, now + USEC_PER_SEC, 0, on_tick, &rs);
	if (r >= 0)
		r = sd_event_add_time(ev, NULL, CLOCK_MONOTONIC, now + 200 * USEC_PER_MSEC, 0,
		        on_waves_tick, &rs);
	if (r >= 0)
		r = sd_event_add_time(ev, NULL, CLOCK_MONOTONIC, now + 50 * USEC_PER_MSEC,
		        5 * USEC_PER_MSEC, on_polls_tick, &rs);
	if (r < 0) {
		log_error("cannot set up the event loop: %s", strerror(-r));
		coordinator_stop(rs.coord);
		sd_event_unref(ev);
		return 1;
	}
	if (sd_watchdog_enabled(0, &rs.watchdog_usec) <= 0)
		rs.watchdog_usec = 0;
	coordinator_status(rs.coord, status, sizeof(status));
	log_notice("serving agents on %s and admins on %s", c->listen, c->admin_socket);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	r = sd_event_loop(ev);
	coordinator_stop(rs.coord);
	sd_event_unref(ev);
	if (r < 0) {
		log_error("event loop failed: %s", strerror(-r));
		return 1;
	}
	return 0;
}

static const struct verb verbs[] = {
        {"init", verb_init, "init [--san NAME|IP]... [--days N]"},
        {"run", verb_run, "run"},
        {"admin-cert", verb_admin_cert, "admin-cert NAME --out FILE [--days N]"},
};

static const struct verb_table verb_table = {
        .program = "rollwave-coordinator",
        .synopsis = "[--config FILE] COMMAND ...",
        .verbs = verbs,
        .n_verbs = ELEMENTSOF(verbs),
};

int
main(int argc, char **argv)
{
	struct coordinator_config cfg;
	struct rw_err err = {{0}};
	const struct verb *verb;
	const char *config = NULL;
	int i, r;

	log_setup("rollwave-coordinator", LOG_TARGET_AUTO, LOG_INFO);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (streq(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
		else if (streq(argv[i], "--version")) {
			printf("rollwave-coordinator %s\n", ROLLWAVE_VERSION);
			return 0;
		} else if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
			verbs_usage(&verb_table, stdout);
			return 0;
		} else {
			fprintf(stderr, "rollwave-coordinator: unknown option '%s'\n", argv[i]);
			verbs_usage(&verb_table, stderr);
			return EXIT_USAGE;
		}
	}
	r = verbs_find(&verb_table, argc - i, argv + i, &verb);
	if (!verb)
		return r;
	if (sodium_init() < 0) {
		log_error("cannot initialise libsodium");
		return 1;
	}
	r = coordinator_config_load(config, &cfg, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return EXIT_USAGE;
	}
	return verbs_run(&verb_table, verb, &cfg, argc - i, argv + i);
}
