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
#include <arpa/inet.h>
#include <getopt.h>
#include <libgen.h>
#include <sodium.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "coordinator_config.h"
#include "db.h"
#include "identity.h"
#include "log.h"
#include "coordinator.h"
#include "tlsgen.h"

#define EXIT_USAGE 2
#define SAN_MAX    16

static int
dir_of(const char *path, char *buf, size_t size)
{
	char tmp[PATH_MAX];

	if (xsnprintf(tmp, sizeof(tmp), "%s", path) < 0)
		return -ENAMETOOLONG;
	return xsnprintf(buf, size, "%s", dirname(tmp)) < 0 ? -ENAMETOOLONG : 0;
}

static int
make_parent(const char *path, mode_t mode)
{
	char dir[PATH_MAX];
	int r = dir_of(path, dir, sizeof(dir));

	return r < 0 ? r : mkdir_p(dir, mode);
}

static int
init_database(const struct coordinator_config *c)
{
	struct rw_err err = {{0}};
	bool existed = access(c->database, F_OK) == 0;
	struct db *db;
	int r;

	r = make_parent(c->database, 0700);
	if (r < 0) {
		log_error("cannot create the directory of %s: %s", c->database, strerror(-r));
		return r;
	}
	r = db_open(c->database, &db, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	r = db_audit(db, "admin:init", "coordinator.init", c->database, NULL);
	db_close(db);
	if (r < 0) {
		log_error("cannot write the audit log in %s: %s", c->database, strerror(-r));
		return r;
	}
	printf("database:     %s %s\n", c->database, existed ? "(already there)" : "(created)");
	return 0;
}

static int
init_key(const struct coordinator_config *c)
{
	struct rw_err err = {{0}};
	struct identity id;
	char fp[32];
	bool created;
	int r;

	r = make_parent(c->key_file, 0700);
	if (r < 0) {
		log_error("cannot create the directory of %s: %s", c->key_file, strerror(-r));
		return r;
	}
	r = identity_load_or_create(c->key_file, &id, &created, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	identity_fingerprint(id.pk, fp);
	identity_done(&id);
	printf("identity key: %s %s, %s\n", c->key_file, created ? "(created)" : "(already there)",
	        fp);
	return 0;
}

static int
init_join_token(const struct coordinator_config *c)
{
	uint8_t raw[32];
	char token[64], text[80];
	int r;

	if (c->join_token[0]) {
		printf("join token:   set in %s\n", c->config_path);
		return 0;
	}
	if (access(c->join_token_file, F_OK) == 0) {
		printf("join token:   %s (already there)\n", c->join_token_file);
		return 0;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(
	        token, sizeof(token), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	snprintf(text, sizeof(text), "%s\n", token);
	r = make_parent(c->join_token_file, 0755);
	if (r >= 0)
		r = write_file_atomic(c->join_token_file, text, strlen(text), 0600);
	if (r < 0) {
		log_error("cannot write %s: %s", c->join_token_file, strerror(-r));
		return r;
	}
	printf("join token:   %s (created): %s\n", c->join_token_file, token);
	sodium_memzero(token, sizeof(token));
	sodium_memzero(text, sizeof(text));
	return 0;
}

static void
add_san(char **dns, size_t *ndns, char **ips, size_t *nips, char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char **list = dns;
	size_t *n = ndns;

	if (!name[0] || streq(name, "0.0.0.0") || streq(name, "::") || streq(name, "*"))
		return;
	if (inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1) {
		list = ips;
		n = nips;
	}
	for (size_t i = 0; i < *n; i++)
		if (streq(list[i], name))
			return;
	if (*n < SAN_MAX)
		list[(*n)++] = name;
}

static int
init_tls(const struct coordinator_config *c, char **extra_sans, size_t n_extra, unsigned days)
{
	struct rw_err err = {{0}};
	char ca_key[PATH_MAX], ca_dir[PATH_MAX], host[256] = "", listen_host[256] = "";
	char *dns[SAN_MAX + 1] = {0}, *ips[SAN_MAX + 1] = {0};
	size_t ndns = 0, nips = 0;
	bool made_ca = false;
	int r;

	if (!strstr(c->listen, "tls+tcp://") && !strstr(c->admin_socket, "tls+tcp://")) {
		printf("tls:          not used (Listen=%s)\n", c->listen);
		return 0;
	}
	r = dir_of(c->tls_ca, ca_dir, sizeof(ca_dir));
	if (r < 0 || xsnprintf(ca_key, sizeof(ca_key), "%s/ca.key", ca_dir) < 0) {
		log_error("CA= path too long");
		return -ENAMETOOLONG;
	}
	if (access(c->tls_ca, F_OK) < 0) {
		r = mkdir_p(ca_dir, 0755);
		if (r >= 0)
			r = tlsgen_make_ca(
			        c->tls_ca, ca_key, "rollwave coordinator CA", days, &err);
		if (r < 0) {
			log_error("%s", err.msg[0] ? err.msg : strerror(-r));
			return r;
		}
		made_ca = true;
		printf("tls CA:       %s (created; key %s)\n", c->tls_ca, ca_key);
	} else
		printf("tls CA:       %s (already there)\n", c->tls_ca);

	if (access(c->tls_certificate, F_OK) == 0 && !made_ca) {
		printf("tls cert:     %s (already there)\n", c->tls_certificate);
		return 0;
	}
	if (access(ca_key, F_OK) < 0) {
		log_error("cannot make %s: the CA's key %s is missing (this CA was not made by "
		          "init); provide the certificate yourself",
		        c->tls_certificate, ca_key);
		return -ENOENT;
	}
	(void)coordinator_config_listen_host(c, listen_host, sizeof(listen_host));
	(void)gethostname(host, sizeof(host) - 1);
	add_san(dns, &ndns, ips, &nips, listen_host);
	add_san(dns, &ndns, ips, &nips, host);
	for (size_t i = 0; i < n_extra; i++)
		add_san(dns, &ndns, ips, &nips, extra_sans[i]);
	add_san(dns, &ndns, ips, &nips, "localhost");
	add_san(dns, &ndns, ips, &nips, "127.0.0.1");
	r = mkdir_p(ca_dir, 0755);
	if (r >= 0)
		r = make_parent(c->tls_certificate, 0755);
	if (r >= 0)
		r = tlsgen_make_server(c->tls_ca, ca_key, c->tls_certificate,
		        (const char *const *)dns, (const char *const *)ips, days, &err);
	if (r < 0) {
		log_error("%s", err.msg[0] ? err.msg : strerror(-r));
		return r;
	}
	printf("tls cert:     %s (created for", c->tls_certificate);
	for (size_t i = 0; i < ndns; i++)
		printf(" %s", dns[i]);
	for (size_t i = 0; i < nips; i++)
		printf(" %s", ips[i]);
	printf(")\n");
	return 0;
}

static int
verb_init(const struct coordinator_config *c, int argc, char **argv)
{
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
	if (init_database(c) < 0 || init_key(c) < 0 || init_join_token(c) < 0 ||
	        init_tls(c, sans, nsans, days) < 0)
		return 1;
	if (c->insecure)
		log_warning("Insecure=yes: agents may connect over plain TCP, unauthenticated "
		            "and unencrypted");
	printf("agents need:  the CA certificate %s as [TLS] CA= and the join token\n", c->tls_ca);
	return 0;
}

static int
verb_admin_cert(const struct coordinator_config *c, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"out", required_argument, NULL, 'o'},
	        {"days", required_argument, NULL, 'd'},
	        {},
	};
	struct rw_err err = {{0}};
	char ca_key[PATH_MAX], ca_dir[PATH_MAX];
	const char *out = NULL;
	unsigned days = 365;
	uint64_t v;
	int ch, r;

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
	if (access(out, F_OK) == 0) {
		log_error("%s exists; not overwriting an admin's certificate", out);
		return 1;
	}
	r = dir_of(c->tls_ca, ca_dir, sizeof(ca_dir));
	if (r < 0 || xsnprintf(ca_key, sizeof(ca_key), "%s/ca.key", ca_dir) < 0) {
		log_error("CA= path too long");
		return 1;
	}
	if (access(ca_key, R_OK) < 0) {
		log_error("cannot issue a certificate: the CA's key %s is not readable (%s); run "
		          "'rollwave-coordinator init' or use your own PKI",
		        ca_key, strerror(errno));
		return 1;
	}
	r = tlsgen_make_client(c->tls_ca, ca_key, out, argv[optind], days, &err);
	if (r < 0) {
		log_error("%s", err.msg[0] ? err.msg : strerror(-r));
		return 1;
	}
	printf("admin cert:   %s (created for '%s', %u days; give it with rollwave --cert, "
	       "the CA with --ca %s)\n",
	        out, argv[optind], days, c->tls_ca);
	return 0;
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
verb_run(const struct coordinator_config *c, int argc, char **argv)
{
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

static const struct {
	const char *name;
	int (*run)(const struct coordinator_config *c, int argc, char **argv);
	const char *usage;
} verbs[] = {
        {"init", verb_init, "init [--san NAME|IP]... [--days N]"},
        {"run", verb_run, "run"},
        {"admin-cert", verb_admin_cert, "admin-cert NAME --out FILE [--days N]"},
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: rollwave-coordinator [--config FILE] COMMAND ...\n\ncommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		fprintf(f, "  rollwave-coordinator %s\n", verbs[i].usage);
}

int
main(int argc, char **argv)
{
	struct coordinator_config cfg;
	struct rw_err err = {{0}};
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
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "rollwave-coordinator: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (sodium_init() < 0) {
		log_error("cannot initialise libsodium");
		return 1;
	}
	for (size_t v = 0; v < ELEMENTSOF(verbs); v++) {
		if (!streq(argv[i], verbs[v].name))
			continue;
		r = coordinator_config_load(config, &cfg, &err);
		if (r < 0) {
			log_error("%s", err.msg);
			return EXIT_USAGE;
		}
		optind = 1;
		r = verbs[v].run(&cfg, argc - i, argv + i);
		if (r < 0) {
			fprintf(stderr, "usage: rollwave-coordinator %s\n", verbs[v].usage);
			return EXIT_USAGE;
		}
		return r;
	}
	fprintf(stderr, "rollwave-coordinator: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
