/*
 * rollwave-sample — the application rollwave's end-to-end tests deploy.
 *
 * A tiny HTTP/1.x server (libc only) that answers one request at a time:
 *   GET /version  200, the first line of <release-dir>/VERSION
 *   GET /health   200 "ok", or 500 when the release is built sick
 *   GET /         200 "hello from VERSION", or 500 for the share of these
 *                 requests an ERROR_RATIO release fails
 *   GET /metrics  Prometheus text: requests to / by code, and build info
 * Sick releases are made with marker files in the release directory, all
 * read once at start:
 *   FAIL_ON_START  exit 1 at once
 *   FAIL_AFTER     holds N: healthy for N seconds of uptime, then /health
 *                  answers 500, and the process exits 1 at N+1 seconds
 *   UNHEALTHY      runs, but /health always answers 500
 *   ERROR_RATIO    holds R in [0, 1]: that share of requests to / answer 500
 *                  while /health stays 200 (a bug only metrics can see)
 *
 * A slow or silent client cannot stall the server: every connection has a
 * hard deadline (CLIENT_DEADLINE_MS) for reading the request and writing
 * the answer. If NOTIFY_SOCKET is set, READY=1 is sent once listening, so
 * the service works with Type=notify as well as Type=simple/exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_DEADLINE_MS 2000
#define REQUEST_MAX        8192
#define VERSION_MAX        256

struct sample_config {
	int port;
	const char *release_dir;
	char version[VERSION_MAX];
	bool unhealthy;
	long fail_after; /* seconds of uptime, -1: never */
	double error_ratio;
	unsigned long long served[2]; /* requests to / answered 200, 500 */
};

static volatile sig_atomic_t sample_stop;

static void
sample_on_signal(int sig)
{
	(void)sig;
	sample_stop = 1;
}

static long long
sample_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Path of NAME inside the release dir into buf; -ENAMETOOLONG if cut. */
static int
sample_path(const struct sample_config *cfg, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", cfg->release_dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Read the first line of release file NAME into buf (without newline). */
static int
sample_read_line(const struct sample_config *cfg, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	FILE *f;
	int r;

	r = sample_path(cfg, name, path, sizeof(path));
	if (r < 0)
		return r;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static bool
sample_has_file(const struct sample_config *cfg, const char *name)
{
	char path[PATH_MAX];

	return sample_path(cfg, name, path, sizeof(path)) == 0 && access(path, F_OK) == 0;
}

static int
sample_load_release(struct sample_config *cfg)
{
	char buf[64], *end;
	int r;

	r = sample_read_line(cfg, "VERSION", cfg->version, sizeof(cfg->version));
	if (r < 0) {
		fprintf(stderr, "rollwave-sample: cannot read '%s/VERSION': %s\n", cfg->release_dir,
		        strerror(-r));
		return r;
	}
	cfg->unhealthy = sample_has_file(cfg, "UNHEALTHY");
	cfg->fail_after = -1;
	if (sample_has_file(cfg, "FAIL_AFTER")) {
		r = sample_read_line(cfg, "FAIL_AFTER", buf, sizeof(buf));
		errno = 0;
		cfg->fail_after = r < 0 ? -1 : strtol(buf, &end, 10);
		if (r < 0 || errno || end == buf || *end || cfg->fail_after < 0) {
			fprintf(stderr, "rollwave-sample: FAIL_AFTER must hold seconds, not '%s'\n",
			        r < 0 ? "" : buf);
			return -EINVAL;
		}
	}
	if (sample_has_file(cfg, "ERROR_RATIO")) {
		r = sample_read_line(cfg, "ERROR_RATIO", buf, sizeof(buf));
		errno = 0;
		cfg->error_ratio = r < 0 ? -1 : strtod(buf, &end);
		if (r < 0 || errno || end == buf || *end || !(cfg->error_ratio >= 0) ||
		        cfg->error_ratio > 1) {
			fprintf(stderr, "rollwave-sample: ERROR_RATIO must hold 0 to 1, not '%s'\n",
			        r < 0 ? "" : buf);
			return -EINVAL;
		}
	}
	return 0;
}

/* Tell systemd we are ready, when run as a Type=notify service. */
static void
sample_notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

/* Listen on PORT on every address: IPv6 dual-stack, or IPv4 without IPv6. */
static int
sample_listen(int port)
{
	struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in sa4 = {.sin_family = AF_INET,
	        .sin_port = htons(port),
	        .sin_addr.s_addr = htonl(INADDR_ANY)};
	int fd, one = 1, zero = 0;

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa6, sizeof(sa6)) == 0 && listen(fd, 64) == 0)
			return fd;
		close(fd);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa4, sizeof(sa4)) < 0 || listen(fd, 64) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Wait until fd is ready for EVENTS or the deadline passes (-ETIMEDOUT). */
static int
sample_wait(int fd, short events, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	long long left;
	int r;

	for (;;) {
		left = deadline - sample_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static void
sample_respond(int fd, int status, const char *body, long long deadline)
{
	const char *reason = status == 200 ? "OK"
	        : status == 404            ? "Not Found"
	        : status == 405            ? "Method Not Allowed"
	        : status == 400            ? "Bad Request"
	                                   : "Internal Server Error";
	char buf[2048];
	size_t off = 0;
	int n;

	n = snprintf(buf, sizeof(buf),
	        "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	        "Connection: close\r\n\r\n%s",
	        status, reason, strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	while (off < (size_t)n) {
		ssize_t w;

		if (sample_wait(fd, POLLOUT, deadline) < 0)
			return;
		w = send(fd, buf + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return;
		if (w > 0)
			off += (size_t)w;
	}
}

/* Whether request number n (from 0) to / fails: spreads the errors evenly,
 * floor((n + 1) * R) - floor(n * R) of them per request. */
static bool
sample_request_fails(const struct sample_config *cfg, unsigned long long n)
{
	return (unsigned long long)((double)(n + 1) * cfg->error_ratio) >
	        (unsigned long long)((double)n * cfg->error_ratio);
}

static void
sample_metrics(const struct sample_config *cfg, char *buf, size_t size)
{
	snprintf(buf, size,
	        "# HELP rollwave_sample_requests_total Requests to / answered, by status code.\n"
	        "# TYPE rollwave_sample_requests_total counter\n"
	        "rollwave_sample_requests_total{version=\"%s\",code=\"200\"} %llu\n"
	        "rollwave_sample_requests_total{version=\"%s\",code=\"500\"} %llu\n"
	        "# HELP rollwave_sample_build_info The release this process runs.\n"
	        "# TYPE rollwave_sample_build_info gauge\n"
	        "rollwave_sample_build_info{version=\"%s\"} 1\n",
	        cfg->version, cfg->served[0], cfg->version, cfg->served[1], cfg->version);
}

static void
sample_serve(int fd, struct sample_config *cfg, bool failing)
{
	long long deadline = sample_now_ms() + CLIENT_DEADLINE_MS;
	char req[REQUEST_MAX + 1], method[16], target[256], body[4 * VERSION_MAX + 512];
	size_t len = 0;

	/* Read the request head (we ignore any body) within the deadline. */
	while (len < REQUEST_MAX) {
		ssize_t r;

		if (sample_wait(fd, POLLIN, deadline) < 0)
			return;
		r = recv(fd, req + len, REQUEST_MAX - len, 0);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return;
		}
		len += (size_t)r;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	if (sscanf(req, "%15s %255s", method, target) != 2) {
		sample_respond(fd, 400, "bad request\n", deadline);
		return;
	}
	target[strcspn(target, "?")] = '\0';
	if (strcmp(method, "GET") != 0) {
		sample_respond(fd, 405, "only GET\n", deadline);
	} else if (strcmp(target, "/version") == 0) {
		snprintf(body, sizeof(body), "%s\n", cfg->version);
		sample_respond(fd, 200, body, deadline);
	} else if (strcmp(target, "/health") == 0) {
		if (cfg->unhealthy || failing)
			sample_respond(fd, 500, "unhealthy\n", deadline);
		else
			sample_respond(fd, 200, "ok\n", deadline);
	} else if (strcmp(target, "/") == 0) {
		bool fails = sample_request_fails(cfg, cfg->served[0] + cfg->served[1]);

		cfg->served[fails]++;
		snprintf(body, sizeof(body), "%s from %s\n", fails ? "error" : "hello",
		        cfg->version);
		sample_respond(fd, fails ? 500 : 200, body, deadline);
	} else if (strcmp(target, "/metrics") == 0) {
		sample_metrics(cfg, body, sizeof(body));
		sample_respond(fd, 200, body, deadline);
	} else {
		sample_respond(fd, 404, "not found\n", deadline);
	}
	printf("%s %s\n", method, target);
}

static int
sample_parse_args(int argc, char **argv, struct sample_config *cfg)
{
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i];

		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0)
			return -EAGAIN;
		if (i + 1 >= argc)
			return -EINVAL;
		if (strcmp(opt, "--port") == 0) {
			char *end;
			long p;

			errno = 0;
			p = strtol(argv[++i], &end, 10);
			if (errno || *end || end == argv[i] || p < 1 || p > 65535)
				return -EINVAL;
			cfg->port = (int)p;
		} else if (strcmp(opt, "--release-dir") == 0) {
			cfg->release_dir = argv[++i];
		} else {
			return -EINVAL;
		}
	}
	return cfg->port > 0 && cfg->release_dir ? 0 : -EINVAL;
}

int
main(int argc, char **argv)
{
	struct sample_config cfg = {0};
	struct sigaction sa = {.sa_handler = sample_on_signal};
	long long start = sample_now_ms();
	int lfd, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	r = sample_parse_args(argc, argv, &cfg);
	if (r < 0) {
		fprintf(r == -EAGAIN ? stdout : stderr,
		        "usage: rollwave-sample --port PORT --release-dir DIR\n");
		return r == -EAGAIN ? 0 : 2;
	}
	if (sample_has_file(&cfg, "FAIL_ON_START")) {
		fprintf(stderr, "rollwave-sample: FAIL_ON_START present, exiting\n");
		return 1;
	}
	if (sample_load_release(&cfg) < 0)
		return 1;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = sample_listen(cfg.port);
	if (lfd < 0) {
		fprintf(stderr, "rollwave-sample: cannot listen on port %d: %s\n", cfg.port,
		        strerror(-lfd));
		return 1;
	}
	printf("rollwave-sample %s listening on port %d%s%s\n", cfg.version, cfg.port,
	        cfg.unhealthy ? " (unhealthy)" : "", cfg.fail_after >= 0 ? " (fails later)" : "");
	sample_notify_ready();

	while (!sample_stop) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		long long up = sample_now_ms() - start;
		bool failing = cfg.fail_after >= 0 && up >= cfg.fail_after * 1000;
		int timeout = 1000;

		if (cfg.fail_after >= 0 && up >= (cfg.fail_after + 1) * 1000) {
			fprintf(stderr, "rollwave-sample: FAIL_AFTER %ld s reached, exiting\n",
			        cfg.fail_after);
			close(lfd);
			return 1;
		}
		if (cfg.fail_after >= 0) {
			long long next =
			        (up < cfg.fail_after * 1000 ? cfg.fail_after * 1000
			                                    : (cfg.fail_after + 1) * 1000) -
			        up;
			timeout = next < timeout ? (int)next + 1 : timeout;
		}
		if (poll(&p, 1, timeout) <= 0)
			continue;
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0)
			continue;
		up = sample_now_ms() - start;
		failing = cfg.fail_after >= 0 && up >= cfg.fail_after * 1000;
		sample_serve(cfd, &cfg, failing);
		close(cfd);
	}
	close(lfd);
	return 0;
}
