/*
 * test_health: health probes against real sockets on loopback. An
 * in-process HTTP server (one thread, 127.0.0.1, ephemeral port) answers
 * 200, 500, alternately 200/500, or never; TCP probes hit a listening and a
 * closed port; Exec probes run real commands. No units: bus is NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "health.h"
#include "util.h"

enum server_mode {
	SERVE_200,
	SERVE_500,
	SERVE_FLAP,  /* 200, 500, 200, 500, ... */
	SERVE_NEVER, /* accept, read, never answer */
};

struct server {
	int fd;
	int port;
	pthread_t thread;
	atomic_int mode;
	atomic_bool stop;
	atomic_uint requests;
	char url[64];
};

static void
serve_one(struct server *s, int c)
{
	char buf[4096], resp[256];
	size_t len = 0;
	int status, n;

	/* Read the request head, bounded in size and time. */
	while (len < sizeof(buf) - 1) {
		struct pollfd p = {.fd = c, .events = POLLIN};
		if (poll(&p, 1, 1000) <= 0)
			return;
		ssize_t k = read(c, buf + len, sizeof(buf) - 1 - len);
		if (k <= 0)
			return;
		len += (size_t)k;
		buf[len] = 0;
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	unsigned nreq = atomic_fetch_add(&s->requests, 1);
	switch (atomic_load(&s->mode)) {
	case SERVE_200:
		status = 200;
		break;
	case SERVE_500:
		status = 500;
		break;
	case SERVE_FLAP:
		status = nreq % 2 ? 500 : 200;
		break;
	default:
		/* Hold the connection until the client gives up or we stop. */
		for (int i = 0; i < 100 && !atomic_load(&s->stop); i++) {
			struct pollfd p = {.fd = c, .events = POLLIN};
			if (poll(&p, 1, 50) > 0)
				return;
		}
		return;
	}
	n = snprintf(resp, sizeof(resp),
	        "HTTP/1.1 %d X\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n", status);
	if (write(c, resp, (size_t)n) < 0)
		return;
}

static void *
server_main(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve_one(s, c);
		close(c);
	}
	return NULL;
}

/* A loopback listening socket on an ephemeral port; returns fd, sets port. */
static int
listen_loopback(int *ret_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

static int
setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->fd = listen_loopback(&s->port);
	atomic_store(&s->mode, SERVE_200);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/health", s->port);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct server *s = *state;

	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->fd);
	free(s);
	return 0;
}

static struct health_config
config(char **http, char **tcp, char **exec)
{
	return (struct health_config) {
	        .http_get = http,
	        .tcp_connect = tcp,
	        .exec = exec,
	        .min_healthy_usec = 300 * USEC_PER_MSEC,
	        .deadline_usec = 3 * USEC_PER_SEC,
	        .interval_usec = 50 * USEC_PER_MSEC,
	        .probe_timeout_usec = USEC_PER_SEC,
	};
}

static void
test_http_probe_200_passes(void **state)
{
	struct server *s = *state;
	char *urls[] = {s->url, NULL};
	struct health_config hc = config(urls, NULL, NULL);
	struct rw_err err = {{0}};

	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, NULL, 0, &err), 0);
	assert_int_equal(atomic_load(&s->requests), 1);
}

static void
test_http_probe_500_fails_with_the_status(void **state)
{
	struct server *s = *state;
	char *urls[] = {s->url, NULL};
	struct health_config hc = config(urls, NULL, NULL);
	struct rw_err err = {{0}};
	char want[256];

	atomic_store(&s->mode, SERVE_500);
	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, NULL, 0, &err), -EPROTO);
	snprintf(want, sizeof(want), "health check failed: GET %s returned 500", s->url);
	assert_string_equal(err.msg, want);
}

static void
test_http_probe_times_out_on_a_silent_server(void **state)
{
	struct server *s = *state;
	char *urls[] = {s->url, NULL};
	struct health_config hc = config(urls, NULL, NULL);
	struct rw_err err = {{0}};
	uint64_t t0;

	atomic_store(&s->mode, SERVE_NEVER);
	hc.probe_timeout_usec = 300 * USEC_PER_MSEC;
	t0 = now_monotonic_usec();
	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, NULL, 0, &err), -EPROTO);
	assert_true(now_monotonic_usec() - t0 < 2 * USEC_PER_SEC);
	assert_non_null(strstr(err.msg, "timed out after 300ms"));
}

static void
test_http_probe_to_a_closed_port_fails(void **state)
{
	char url[64];
	char *urls[] = {url, NULL};
	struct health_config hc = config(urls, NULL, NULL);
	struct rw_err err = {{0}};
	int port, fd = listen_loopback(&port);

	(void)state;
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, NULL, 0, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "failed:"));
	assert_non_null(strstr(err.msg, url));
}

static void
test_tcp_probe_passes_on_a_listening_port(void **state)
{
	struct server *s = *state;
	char target[64];
	char *targets[] = {target, NULL};
	struct health_config hc = config(NULL, targets, NULL);
	struct rw_err err = {{0}};

	snprintf(target, sizeof(target), "127.0.0.1:%d", s->port);
	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, NULL, 0, &err), 0);
	snprintf(target, sizeof(target), "localhost:%d", s->port);
	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, NULL, 0, &err), 0);
}

static void
test_tcp_probe_fails_on_a_closed_port(void **state)
{
	char target[64];
	char *targets[] = {target, NULL};
	struct health_config hc = config(NULL, targets, NULL);
	struct rw_err err = {{0}};
	char want[128];
	int port, fd = listen_loopback(&port);

	(void)state;
	close(fd);
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, NULL, 0, &err), -EPROTO);
	snprintf(want, sizeof(want), "health check failed: TCP connect %s failed: %s", target,
	        strerror(ECONNREFUSED));
	assert_string_equal(err.msg, want);
}

static void
test_exec_probe_true_passes_false_fails(void **state)
{
	char *ok[] = {(char *)"true", (char *)"test -d /", NULL};
	char *bad[] = {(char *)"true", (char *)"echo nope; false", NULL};
	struct health_config hc = config(NULL, NULL, ok);
	struct rw_err err = {{0}};

	(void)state;
	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, NULL, 0, &err), 0);
	hc.exec = bad;
	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, NULL, 0, &err), -EPROTO);
	assert_string_equal(
	        err.msg, "health check failed: command 'echo nope; false' exited with status 1");
}

static void
test_exec_probe_is_killed_at_its_timeout(void **state)
{
	char *slow[] = {(char *)"sleep 30", NULL};
	struct health_config hc = config(NULL, NULL, slow);
	struct rw_err err = {{0}};
	uint64_t t0;

	(void)state;
	hc.probe_timeout_usec = 200 * USEC_PER_MSEC;
	t0 = now_monotonic_usec();
	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, NULL, 0, &err), -EPROTO);
	assert_true(now_monotonic_usec() - t0 < USEC_PER_SEC);
	assert_non_null(strstr(err.msg, "command 'sleep 30' timed out after 200ms"));
}

static void
test_validate_hook_failure_fails_the_probe(void **state)
{
	char root[] = "/tmp/rw-test-health-XXXXXX", p[256], cmd[300];
	struct health_config hc = config(NULL, NULL, NULL);
	struct rw_err err = {{0}};
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(root));
	struct hook_env v = {.app = "web", .version = "2.0", .release_dir = root};

	/* A release without a validate hook passes. */
	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, &v, 0, &err), 0);

	snprintf(p, sizeof(p), "%s/.rollwave", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/.rollwave/hooks", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/.rollwave/hooks/validate", root);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("#!/bin/sh\necho checking $ROLLWAVE_VERSION\necho \"cache is cold\"\nexit 2\n", fp);
	fclose(fp);
	assert_int_equal(chmod(p, 0755), 0);

	assert_int_equal(health_probe_once(NULL, NULL, NULL, &hc, &v, 0, &err), -EPROTO);
	assert_string_equal(err.msg,
	        "health check failed: hook 'validate' exited with status 2: cache is cold");

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void
test_wait_passes_with_a_steady_server(void **state)
{
	struct server *s = *state;
	char *urls[] = {s->url, NULL};
	char target[64];
	char *targets[] = {target, NULL};
	char *cmds[] = {(char *)"true", NULL};
	struct health_config hc = config(urls, targets, cmds);
	struct health_result res;
	struct rw_err err = {{0}};

	snprintf(target, sizeof(target), "127.0.0.1:%d", s->port);
	assert_int_equal(health_wait(NULL, NULL, &hc, NULL, &res, &err), 0);
	assert_true(res.healthy);
	assert_true(res.ever_healthy);
	assert_true(res.probes >= 2);
	assert_int_equal(res.failed_probes, 0);
	assert_string_equal(res.last_failure, "");
	assert_true(res.first_healthy_usec < USEC_PER_SEC);
	assert_true(res.healthy_streak_usec >= hc.min_healthy_usec);
	assert_true(res.elapsed_usec >= hc.min_healthy_usec);
	assert_true(res.elapsed_usec < hc.deadline_usec);
}

static void
test_wait_fails_within_the_deadline_with_a_flapping_server(void **state)
{
	struct server *s = *state;
	char *urls[] = {s->url, NULL};
	struct health_config hc = config(urls, NULL, NULL);
	struct health_result res;
	struct rw_err err = {{0}};
	char want[256];
	uint64_t t0, took;

	atomic_store(&s->mode, SERVE_FLAP);
	hc.min_healthy_usec = 500 * USEC_PER_MSEC;
	hc.deadline_usec = 1500 * USEC_PER_MSEC;
	t0 = now_monotonic_usec();
	assert_int_equal(health_wait(NULL, NULL, &hc, NULL, &res, &err), -ETIMEDOUT);
	took = now_monotonic_usec() - t0;
	assert_true(took <= hc.deadline_usec + 50 * USEC_PER_MSEC);
	assert_true(took >= hc.deadline_usec - hc.interval_usec - 50 * USEC_PER_MSEC);
	snprintf(want, sizeof(want), "not healthy for 500ms within 1500ms: GET %s returned 500",
	        s->url);
	assert_string_equal(err.msg, want);
	assert_false(res.healthy);
	assert_true(res.ever_healthy);
	assert_true(res.probes >= 10);
	assert_true(res.failed_probes >= res.probes / 2 - 1);
	assert_true(res.healthy_streak_usec < hc.min_healthy_usec);
}

static void *
flip_to_200_later(void *arg)
{
	struct server *s = arg;

	usleep(400 * 1000);
	atomic_store(&s->mode, SERVE_200);
	return NULL;
}

static void
test_wait_streak_starts_at_first_success(void **state)
{
	struct server *s = *state;
	char *urls[] = {s->url, NULL};
	struct health_config hc = config(urls, NULL, NULL);
	struct health_result res;
	struct rw_err err = {{0}};
	pthread_t flip;

	atomic_store(&s->mode, SERVE_500);
	hc.min_healthy_usec = 200 * USEC_PER_MSEC;
	assert_int_equal(pthread_create(&flip, NULL, flip_to_200_later, s), 0);
	assert_int_equal(health_wait(NULL, NULL, &hc, NULL, &res, &err), 0);
	pthread_join(flip, NULL);
	assert_true(res.healthy);
	assert_true(res.failed_probes >= 3);
	assert_true(res.first_healthy_usec >= 400 * USEC_PER_MSEC);
	assert_true(res.elapsed_usec >= res.first_healthy_usec + 150 * USEC_PER_MSEC);
	assert_non_null(strstr(res.last_failure, "returned 500"));
}

static void
test_wait_stays_within_the_deadline_when_a_probe_hangs(void **state)
{
	char *slow[] = {(char *)"sleep 30", NULL};
	struct health_config hc = config(NULL, NULL, slow);
	struct health_result res;
	struct rw_err err = {{0}};
	uint64_t t0, took;

	(void)state;
	hc.probe_timeout_usec = 10 * USEC_PER_SEC;
	hc.deadline_usec = USEC_PER_SEC;
	t0 = now_monotonic_usec();
	assert_int_equal(health_wait(NULL, NULL, &hc, NULL, &res, &err), -ETIMEDOUT);
	took = now_monotonic_usec() - t0;
	assert_true(took <= hc.deadline_usec + 100 * USEC_PER_MSEC);
	assert_non_null(strstr(err.msg, "not healthy for 300ms within 1s: command 'sleep 30'"));
	assert_true(res.probes >= 1);
	assert_int_equal(res.failed_probes, res.probes);
	assert_false(res.ever_healthy);
}

static void
test_wait_rejects_a_bad_config(void **state)
{
	char *urls[] = {(char *)"ftp://127.0.0.1/x", NULL};
	char *targets[] = {(char *)"127.0.0.1", NULL};
	char *units[] = {(char *)"app.service", NULL};
	struct health_config hc = config(urls, NULL, NULL);
	struct health_result res;
	struct rw_err err = {{0}};

	(void)state;
	assert_int_equal(health_wait(NULL, NULL, &hc, NULL, &res, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not an http(s) URL"));
	hc = config(NULL, targets, NULL);
	assert_int_equal(health_wait(NULL, NULL, &hc, NULL, &res, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not host:port"));
	hc = config(NULL, NULL, NULL);
	assert_int_equal(health_wait(NULL, units, &hc, NULL, &res, &err), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_http_probe_200_passes, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_http_probe_500_fails_with_the_status, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_http_probe_times_out_on_a_silent_server, setup, teardown),
	        cmocka_unit_test(test_http_probe_to_a_closed_port_fails),
	        cmocka_unit_test_setup_teardown(
	                test_tcp_probe_passes_on_a_listening_port, setup, teardown),
	        cmocka_unit_test(test_tcp_probe_fails_on_a_closed_port),
	        cmocka_unit_test(test_exec_probe_true_passes_false_fails),
	        cmocka_unit_test(test_exec_probe_is_killed_at_its_timeout),
	        cmocka_unit_test(test_validate_hook_failure_fails_the_probe),
	        cmocka_unit_test_setup_teardown(
	                test_wait_passes_with_a_steady_server, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_wait_fails_within_the_deadline_with_a_flapping_server, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                test_wait_streak_starts_at_first_success, setup, teardown),
	        cmocka_unit_test(test_wait_stays_within_the_deadline_when_a_probe_hangs),
	        cmocka_unit_test(test_wait_rejects_a_bad_config),
	};

	signal(SIGPIPE, SIG_IGN);
	/* Before the server threads exist. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
