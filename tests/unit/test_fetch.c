/*
 * test_fetch: downloads over a real loopback HTTP/1.1 server (a thread in
 * this process, 127.0.0.1, ephemeral port) and from local files.
 *
 * The server serves one connection at a time and closes it after each
 * response. It records, per request, the path, how many body bytes the
 * kernel accepted and whether the client hung up before the body was
 * complete. It stops when the group tears down, or by itself after
 * SERVER_LIFETIME_SEC, so no test can leave it running.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <sodium.h>

#include "fetch.h"
#include "util.h"

#define SERVER_LIFETIME_SEC 120
#define BODY_LEN            ((uint64_t)1024 * 1024 + 123)
#define TWO_MIB             ((uint64_t)2 * 1024 * 1024)
#define BIG_LEN             ((uint64_t)64 * 1024 * 1024)
#define SMALL_BODY          "[Release]\nApp=web\n"

struct server {
	int lfd;
	uint16_t port;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned handled;
	char last_path[256];
	uint64_t last_body_sent;
	bool last_client_hung_up;
};

struct fixture {
	struct server srv;
	char dir[64];
};

/* Deterministic, non-repeating-looking body: byte at offset i. */
static uint8_t
body_byte(uint64_t i)
{
	uint64_t x = i * 0x9E3779B97F4A7C15ull;

	return (uint8_t)(x >> 56);
}

static void
body_fill(uint8_t *buf, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = body_byte(off + i);
}

static void
body_hash(uint64_t len, uint8_t out[FETCH_HASH_LEN])
{
	uint8_t *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	body_fill(buf, 0, len);
	assert_int_equal(crypto_generichash(out, FETCH_HASH_LEN, buf, len, NULL, 0), 0);
	free(buf);
}

static void
assert_contains(const char *haystack, const char *needle)
{
	if (getenv("TEST_FETCH_VERBOSE"))
		print_message("    message: %s\n", haystack);
	if (!strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", haystack, needle);
}

/* ---- the server ---------------------------------------------------------- */

static int
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Sends len body bytes; returns how many the kernel took. */
static uint64_t
send_body(int fd, uint64_t len, bool *hung_up)
{
	uint8_t buf[64 * 1024];
	uint64_t off = 0;

	while (off < len) {
		size_t n = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);

		body_fill(buf, off, n);
		if (send_all(fd, buf, n) < 0) {
			*hung_up = true;
			return off;
		}
		off += n;
	}
	return off;
}

static void
send_head(int fd, const char *status, const char *extra)
{
	char head[512];

	assert_true(xsnprintf(head, sizeof(head), "HTTP/1.1 %s\r\nConnection: close\r\n%s\r\n",
	                    status, extra) > 0);
	(void)send_all(fd, head, strlen(head));
}

static void
send_ok(int fd, uint64_t len, bool with_length, uint64_t *sent, bool *hung_up)
{
	char extra[128] = "";

	if (with_length)
		assert_true(xsnprintf(extra, sizeof(extra), "Content-Length: %" PRIu64 "\r\n",
		                    len) > 0);
	send_head(fd, "200 OK", extra);
	*sent = send_body(fd, len, hung_up);
}

/* Waits (at most 10 s) until the client closes its end. */
static void
wait_client_gone(int fd)
{
	uint64_t deadline = now_monotonic_usec() + 10 * USEC_PER_SEC;
	char b[256];

	while (now_monotonic_usec() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 100) > 0 && recv(fd, b, sizeof(b), 0) <= 0)
			return;
	}
}

static int
read_request_path(int fd, char *path, size_t size)
{
	char req[4096];
	size_t n = 0;
	uint64_t deadline = now_monotonic_usec() + 5 * USEC_PER_SEC;

	while (n < sizeof(req) - 1 && now_monotonic_usec() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k;

		if (poll(&p, 1, 100) <= 0)
			continue;
		k = recv(fd, req + n, sizeof(req) - 1 - n, 0);
		if (k <= 0)
			return -1;
		n += (size_t)k;
		req[n] = 0;
		if (strstr(req, "\r\n\r\n"))
			return sscanf(req, "GET %255s HTTP/1.1", path) == 1 && size >= 256 ? 0 : -1;
	}
	return -1;
}

static void
serve_one(struct server *s, int fd)
{
	char path[256] = "";
	uint64_t sent = 0;
	bool hung_up = false;
	int small_buf = 32 * 1024;
	struct timeval tv = {.tv_sec = 10};

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small_buf, sizeof(small_buf));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read_request_path(fd, path, sizeof(path)) < 0)
		return;

	if (streq(path, "/body"))
		send_ok(fd, BODY_LEN, true, &sent, &hung_up);
	else if (streq(path, "/two-mib"))
		send_ok(fd, TWO_MIB, true, &sent, &hung_up);
	else if (streq(path, "/small")) {
		char len[64];

		assert_true(xsnprintf(len, sizeof(len), "Content-Length: %zu\r\n",
		                    strlen(SMALL_BODY)) > 0);
		send_head(fd, "200 OK", len);
		(void)send_all(fd, SMALL_BODY, strlen(SMALL_BODY));
	} else if (streq(path, "/big-with-length"))
		send_ok(fd, BIG_LEN, true, &sent, &hung_up);
	else if (streq(path, "/big-without-length"))
		send_ok(fd, BIG_LEN, false, &sent, &hung_up);
	else if (streq(path, "/redirect"))
		send_head(fd, "302 Found", "Location: /body\r\nContent-Length: 0\r\n");
	else if (streq(path, "/redirect-to-file"))
		send_head(fd, "302 Found", "Location: file:///etc/passwd\r\nContent-Length: 0\r\n");
	else if (streq(path, "/redirect-loop"))
		send_head(fd, "302 Found", "Location: /redirect-loop\r\nContent-Length: 0\r\n");
	else if (streq(path, "/stall")) {
		send_head(fd, "200 OK", "Content-Length: 100000\r\n");
		sent = send_body(fd, 10, &hung_up);
		wait_client_gone(fd);
	} else
		send_head(fd, "404 Not Found", "Content-Length: 0\r\n");

	pthread_mutex_lock(&s->mu);
	snprintf(s->last_path, sizeof(s->last_path), "%s", path);
	s->last_body_sent = sent;
	s->last_client_hung_up = hung_up;
	pthread_mutex_unlock(&s->mu);
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	uint64_t deadline = now_monotonic_usec() + SERVER_LIFETIME_SEC * USEC_PER_SEC;

	while (!atomic_load(&s->stop) && now_monotonic_usec() < deadline) {
		struct pollfd p = {.fd = s->lfd, .events = POLLIN};
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(s, fd);
		close(fd);
		pthread_mutex_lock(&s->mu);
		s->handled++;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

static void
server_start(struct server *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void
server_stop(struct server *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

static unsigned
server_handled(struct server *s)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = s->handled;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Waits (at most 10 s) until the server finished request number n. */
static void
server_wait_handled(struct server *s, unsigned n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&s->mu);
	while (s->handled < n)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0)
			break;
	pthread_mutex_unlock(&s->mu);
	assert_true(server_handled(s) >= n);
}

/* What the server saw on the last request it finished. */
struct last_request {
	char path[256];
	uint64_t body_sent;
	bool client_hung_up;
};

static struct last_request
server_last(struct server *s)
{
	struct last_request l;

	pthread_mutex_lock(&s->mu);
	memcpy(l.path, s->last_path, sizeof(l.path));
	l.body_sent = s->last_body_sent;
	l.client_hung_up = s->last_client_hung_up;
	pthread_mutex_unlock(&s->mu);
	return l;
}

static void
url_for(struct fixture *f, const char *path, char *buf, size_t size)
{
	assert_true(xsnprintf(buf, size, "http://127.0.0.1:%u%s", f->srv.port, path) > 0);
}

/* ---- fixtures ------------------------------------------------------------ */

static int
group_setup(void **state)
{
	static struct fixture f;
	const char *proxies[] = {
	        "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};

	for (size_t i = 0; i < ELEMENTSOF(proxies); i++)
		unsetenv(proxies[i]);
	if (sodium_init() < 0)
		return -1;
	snprintf(f.dir, sizeof(f.dir), "/tmp/rw-test-fetch-XXXXXX");
	if (!mkdtemp(f.dir))
		return -1;
	server_start(&f.srv);
	*state = &f;
	return 0;
}

static int
group_teardown(void **state)
{
	struct fixture *f = *state;

	server_stop(&f->srv);
	return rm_rf_at(AT_FDCWD, f->dir) < 0 ? -1 : 0;
}

static int
open_out(struct fixture *f, const char *name)
{
	char path[256];
	int fd;

	assert_true(xsnprintf(path, sizeof(path), "%s/%s", f->dir, name) > 0);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	return fd;
}

static void
write_body_file(const char *path, uint64_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_non_null(buf);
	assert_true(fd >= 0);
	body_fill(buf, 0, len);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
}

/* The output fd holds exactly the body of length len. */
static void
assert_fd_holds_body(int fd, uint64_t len)
{
	uint8_t want[FETCH_HASH_LEN], got[FETCH_HASH_LEN];
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(blake2b512_fd(fd, got), 0);
	body_hash(len, want);
	assert_memory_equal(got, want, FETCH_HASH_LEN);
}

/* ---- http ---------------------------------------------------------------- */

static void
test_http_fetch_writes_body_and_returns_its_blake2b(void **state)
{
	struct fixture *f = *state;
	struct fetch_opts o = FETCH_OPTS_DEFAULT;
	uint8_t want[FETCH_HASH_LEN], got[FETCH_HASH_LEN];
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "body");
	uint64_t size = 0;
	char url[128];

	url_for(f, "/body", url, sizeof(url));
	o.max_size = BODY_LEN;
	assert_int_equal(fetch_to_fd(url, fd, &o, got, &size, &err), 0);
	assert_int_equal(size, BODY_LEN);
	body_hash(BODY_LEN, want);
	assert_memory_equal(got, want, FETCH_HASH_LEN);
	assert_fd_holds_body(fd, BODY_LEN);
}

static void
test_http_fetch_refuses_content_length_above_max(void **state)
{
	struct fixture *f = *state;
	struct fetch_opts o = FETCH_OPTS_DEFAULT;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "big1");
	unsigned before = server_handled(&f->srv);
	struct last_request last;
	uint64_t size = 7;
	char url[128];

	url_for(f, "/big-with-length", url, sizeof(url));
	o.max_size = 64 * 1024;
	assert_int_equal(fetch_to_fd(url, fd, &o, NULL, &size, &err), -EFBIG);
	assert_int_equal(size, 7); /* untouched on failure */
	assert_contains(err.msg, "larger than the allowed 65536 bytes");
	assert_contains(err.msg, url);
	server_wait_handled(&f->srv, before + 1);
	last = server_last(&f->srv);
	if (getenv("TEST_FETCH_VERBOSE"))
		print_message("    server sent %" PRIu64 " of %" PRIu64 " body bytes\n",
		        last.body_sent, BIG_LEN);
	assert_string_equal(last.path, "/big-with-length");
	assert_true(last.client_hung_up);
	assert_true(last.body_sent < BIG_LEN / 2);
}

static void
test_http_fetch_stops_reading_once_body_exceeds_max(void **state)
{
	struct fixture *f = *state;
	struct fetch_opts o = FETCH_OPTS_DEFAULT;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "big2");
	unsigned before = server_handled(&f->srv);
	struct last_request last;
	struct stat st;
	char url[128];

	url_for(f, "/big-without-length", url, sizeof(url));
	o.max_size = 64 * 1024;
	assert_int_equal(fetch_to_fd(url, fd, &o, NULL, NULL, &err), -EFBIG);
	assert_contains(err.msg, "larger than the allowed 65536 bytes");
	/* Nothing past the cap reached the output. */
	assert_int_equal(fstat(fd, &st), 0);
	assert_true((uint64_t)st.st_size <= 64 * 1024);
	server_wait_handled(&f->srv, before + 1);
	last = server_last(&f->srv);
	if (getenv("TEST_FETCH_VERBOSE"))
		print_message("    server sent %" PRIu64 " of %" PRIu64 " body bytes\n",
		        last.body_sent, BIG_LEN);
	assert_string_equal(last.path, "/big-without-length");
	assert_true(last.client_hung_up);
	assert_true(last.body_sent < BIG_LEN / 2);
}

static void
test_http_404_is_enoent_naming_status_and_url(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "missing");
	char url[128];

	url_for(f, "/no-such-artifact.tar.gz", url, sizeof(url));
	assert_int_equal(fetch_to_fd(url, fd, NULL, NULL, NULL, &err), -ENOENT);
	assert_contains(err.msg, "404");
	assert_contains(err.msg, url);
}

static void
test_http_redirect_to_another_path_is_followed(void **state)
{
	struct fixture *f = *state;
	uint8_t want[FETCH_HASH_LEN], got[FETCH_HASH_LEN];
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "redirected");
	unsigned before = server_handled(&f->srv);
	uint64_t size = 0;
	char url[128];

	url_for(f, "/redirect", url, sizeof(url));
	assert_int_equal(fetch_to_fd(url, fd, NULL, got, &size, &err), 0);
	assert_int_equal(size, BODY_LEN);
	body_hash(BODY_LEN, want);
	assert_memory_equal(got, want, FETCH_HASH_LEN);
	server_wait_handled(&f->srv, before + 2);
	assert_string_equal(server_last(&f->srv).path, "/body");
}

static void
test_http_redirect_to_file_url_is_refused(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "redirect-file");
	struct stat st;
	char url[128];

	url_for(f, "/redirect-to-file", url, sizeof(url));
	assert_int_equal(fetch_to_fd(url, fd, NULL, NULL, NULL, &err), -EPROTONOSUPPORT);
	assert_contains(err.msg, url);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void
test_http_redirect_loop_stops_after_max_redirects(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "loop");
	unsigned before = server_handled(&f->srv);
	char url[128];

	url_for(f, "/redirect-loop", url, sizeof(url));
	assert_int_equal(fetch_to_fd(url, fd, NULL, NULL, NULL, &err), -ELOOP);
	assert_contains(err.msg, url);
	server_wait_handled(&f->srv, before + FETCH_MAX_REDIRECTS + 1);
	assert_int_equal(server_handled(&f->srv), before + FETCH_MAX_REDIRECTS + 1);
}

static void
test_http_stalled_server_hits_minimum_speed_abort(void **state)
{
	struct fixture *f = *state;
	struct fetch_opts o = FETCH_OPTS_DEFAULT;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "stall1");
	unsigned before = server_handled(&f->srv);
	uint64_t t0, elapsed;
	char url[128];

	url_for(f, "/stall", url, sizeof(url));
	o.low_speed_bytes_per_sec = 1000;
	o.low_speed_time_usec = 2 * USEC_PER_SEC;
	o.total_timeout_usec = 0;
	t0 = now_monotonic_usec();
	assert_int_equal(fetch_to_fd(url, fd, &o, NULL, NULL, &err), -ETIMEDOUT);
	elapsed = now_monotonic_usec() - t0;
	assert_true(elapsed >= 1 * USEC_PER_SEC && elapsed < 8 * USEC_PER_SEC);
	assert_contains(err.msg, "timed out");
	assert_contains(err.msg, url);
	server_wait_handled(&f->srv, before + 1);
}

static void
test_http_stalled_server_hits_total_timeout(void **state)
{
	struct fixture *f = *state;
	struct fetch_opts o = FETCH_OPTS_DEFAULT;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "stall2");
	unsigned before = server_handled(&f->srv);
	uint64_t t0, elapsed;
	char url[128];

	url_for(f, "/stall", url, sizeof(url));
	o.low_speed_bytes_per_sec = 0;
	o.total_timeout_usec = 1500 * USEC_PER_MSEC;
	t0 = now_monotonic_usec();
	assert_int_equal(fetch_to_fd(url, fd, &o, NULL, NULL, &err), -ETIMEDOUT);
	elapsed = now_monotonic_usec() - t0;
	assert_true(elapsed >= 1 * USEC_PER_SEC && elapsed < 6 * USEC_PER_SEC);
	assert_contains(err.msg, "timed out");
	server_wait_handled(&f->srv, before + 1);
}

static void
test_http_refused_connection_names_url(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "refused");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char url[128];

	/* A port that was just free and is not listening. */
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	assert_true(xsnprintf(url, sizeof(url), "http://127.0.0.1:%u/x", ntohs(a.sin_port)) > 0);
	assert_int_equal(fetch_to_fd(url, fd, NULL, NULL, NULL, &err), -ECONNREFUSED);
	assert_contains(err.msg, url);
	close(s);
}

static void
test_unsupported_scheme_is_refused(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "ftp");

	assert_int_equal(
	        fetch_to_fd("ftp://127.0.0.1/x", fd, NULL, NULL, NULL, &err), -EPROTONOSUPPORT);
	assert_contains(err.msg, "ftp://127.0.0.1/x");
	assert_int_equal(
	        fetch_to_fd("relative/path", fd, NULL, NULL, NULL, &err), -EPROTONOSUPPORT);
}

static void
test_fetch_to_buffer_reads_small_http_body(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	char url[128];

	url_for(f, "/small", url, sizeof(url));
	assert_int_equal(fetch_to_buffer(url, 4096, NULL, &buf, &len, &err), 0);
	assert_int_equal(len, strlen(SMALL_BODY));
	assert_string_equal(buf, SMALL_BODY);
}

static void
test_fetch_to_buffer_refuses_body_above_cap(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	char *buf = NULL;
	size_t len = 99;
	char url[128];

	url_for(f, "/body", url, sizeof(url));
	assert_int_equal(fetch_to_buffer(url, 4096, NULL, &buf, &len, &err), -EFBIG);
	assert_null(buf);
	assert_int_equal(len, 99);
	assert_contains(err.msg, "4096 bytes");
	assert_contains(err.msg, url);
}

/* ---- local files --------------------------------------------------------- */

static void
test_plain_path_fetch_copies_and_hashes(void **state)
{
	struct fixture *f = *state;
	const uint64_t len = 3 * 1024 * 1024 + 5; /* not a multiple of any buffer */
	uint8_t want[FETCH_HASH_LEN], got[FETCH_HASH_LEN];
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "copy-of-src");
	uint64_t size = 0;
	char src[128];

	assert_true(xsnprintf(src, sizeof(src), "%s/src.bin", f->dir) > 0);
	write_body_file(src, len);
	assert_int_equal(fetch_to_fd(src, fd, NULL, got, &size, &err), 0);
	assert_int_equal(size, len);
	body_hash(len, want);
	assert_memory_equal(got, want, FETCH_HASH_LEN);
	assert_fd_holds_body(fd, len);
}

static void
test_file_url_fetch_decodes_escapes(void **state)
{
	struct fixture *f = *state;
	uint8_t want[FETCH_HASH_LEN], got[FETCH_HASH_LEN];
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "copy-of-spaced");
	uint64_t size = 0;
	char src[128], url[160];

	assert_true(xsnprintf(src, sizeof(src), "%s/with space.bin", f->dir) > 0);
	assert_true(xsnprintf(url, sizeof(url), "file://%s/with%%20space.bin", f->dir) > 0);
	write_body_file(src, 1000);
	assert_int_equal(fetch_to_fd(url, fd, NULL, got, &size, &err), 0);
	assert_int_equal(size, 1000);
	body_hash(1000, want);
	assert_memory_equal(got, want, FETCH_HASH_LEN);
	assert_true(
	        xsnprintf(url, sizeof(url), "file://localhost%s/with%%20space.bin", f->dir) > 0);
	assert_int_equal(fetch_to_fd(url, fd, NULL, got, &size, &err), 0);
	assert_int_equal(fetch_to_fd("file://otherhost/x", fd, NULL, got, &size, &err), -EINVAL);
}

static void
test_missing_file_error_names_the_path(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "never");
	char src[128], url[160];

	assert_true(xsnprintf(src, sizeof(src), "%s/does-not-exist.tar.gz", f->dir) > 0);
	assert_int_equal(fetch_to_fd(src, fd, NULL, NULL, NULL, &err), -ENOENT);
	assert_contains(err.msg, src);
	assert_contains(err.msg, "No such file");
	assert_true(xsnprintf(url, sizeof(url), "file://%s", src) > 0);
	assert_int_equal(fetch_to_fd(url, fd, NULL, NULL, NULL, &err), -ENOENT);
	assert_contains(err.msg, src);
}

static void
test_local_file_above_max_is_efbig(void **state)
{
	struct fixture *f = *state;
	struct fetch_opts o = FETCH_OPTS_DEFAULT;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "never2");
	char src[128];

	assert_true(xsnprintf(src, sizeof(src), "%s/ten-k.bin", f->dir) > 0);
	write_body_file(src, 10000);
	o.max_size = 9999;
	assert_int_equal(fetch_to_fd(src, fd, &o, NULL, NULL, &err), -EFBIG);
	assert_contains(err.msg, "larger than the allowed 9999 bytes");
	o.max_size = 10000;
	assert_int_equal(fetch_to_fd(src, fd, &o, NULL, NULL, &err), 0);
}

static void
test_non_regular_files_are_not_fetched(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	_cleanup_close_ int fd = open_out(f, "never3");
	char fifo[128];

	assert_int_equal(fetch_to_fd(f->dir, fd, NULL, NULL, NULL, &err), -EISDIR);
	assert_contains(err.msg, f->dir);
	/* A FIFO without a writer must neither hang nor be read. */
	assert_true(xsnprintf(fifo, sizeof(fifo), "%s/fifo", f->dir) > 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(fetch_to_fd(fifo, fd, NULL, NULL, NULL, &err), -EINVAL);
	assert_contains(err.msg, "not a regular file");
}

static void
test_fetch_to_buffer_reads_local_file(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	char src[128];

	assert_true(xsnprintf(src, sizeof(src), "%s/empty", f->dir) > 0);
	write_body_file(src, 0);
	assert_int_equal(fetch_to_buffer(src, 10, NULL, &buf, &len, &err), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
}

static void
test_blake2b512_fd_matches_crypto_generichash(void **state)
{
	struct fixture *f = *state;
	uint8_t want[FETCH_HASH_LEN], got[FETCH_HASH_LEN];
	_cleanup_close_ int fd = -1;
	char src[128];

	assert_true(xsnprintf(src, sizeof(src), "%s/hash-me.bin", f->dir) > 0);
	write_body_file(src, BODY_LEN);
	fd = open(src, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(blake2b512_fd(fd, got), 0);
	body_hash(BODY_LEN, want);
	assert_memory_equal(got, want, FETCH_HASH_LEN);
	/* Empty input: BLAKE2b-512 of nothing. */
	assert_int_equal(blake2b512_fd(fd, got), 0);
	body_hash(0, want);
	assert_memory_equal(got, want, FETCH_HASH_LEN);
	assert_int_equal(blake2b512_fd(-1, got), -EBADF);
}

/* ---- disk full ----------------------------------------------------------- */

static void
check_disk_full(struct fixture *f, const char *url)
{
	char mnt[128], out[160];
	struct rw_err err = {{0}};
	struct fetch_opts o = FETCH_OPTS_DEFAULT;
	int fd, r;

	assert_true(xsnprintf(mnt, sizeof(mnt), "%s/tiny-XXXXXX", f->dir) > 0);
	assert_non_null(mkdtemp(mnt));
	if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=0700") <
	        0) {
		int e = errno;

		rmdir(mnt);
		print_message("skipping: cannot mount a tmpfs: %s\n", strerror(e));
		skip();
	}
	assert_true(xsnprintf(out, sizeof(out), "%s/artifact", mnt) > 0);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	o.max_size = 4 * TWO_MIB;
	r = fd >= 0 ? fetch_to_fd(url, fd, &o, NULL, NULL, &err) : -errno;
	if (fd >= 0)
		close(fd);
	assert_int_equal(umount2(mnt, MNT_DETACH), 0);
	rmdir(mnt);
	assert_int_equal(r, -ENOSPC);
	assert_contains(err.msg, "disk full");
	assert_contains(err.msg, url);
}

static void
test_http_fetch_reports_disk_full(void **state)
{
	struct fixture *f = *state;
	char url[128];

	url_for(f, "/two-mib", url, sizeof(url));
	check_disk_full(f, url);
}

static void
test_local_fetch_reports_disk_full(void **state)
{
	struct fixture *f = *state;
	char src[128];

	assert_true(xsnprintf(src, sizeof(src), "%s/two-mib.bin", f->dir) > 0);
	write_body_file(src, TWO_MIB);
	check_disk_full(f, src);
}

/* ---- resolve ------------------------------------------------------------- */

static void
test_resolve_url_handles_relative_and_absolute_refs(void **state)
{
	static const struct {
		const char *base, *ref, *want;
	} cases[] = {
	        {"https://h.example/rel/web.manifest", "web.tgz", "https://h.example/rel/web.tgz"},
	        {"https://h.example:8443/a/b/web.manifest?sig=1#x", "web.tgz",
	                "https://h.example:8443/a/b/web.tgz"},
	        {"http://h.example", "web.tgz", "http://h.example/web.tgz"},
	        {"http://h.example/web.manifest", "sub/web.tgz", "http://h.example/sub/web.tgz"},
	        {"http://h.example/a/web.manifest", "/pub/web.tgz", "http://h.example/pub/web.tgz"},
	        {"file:///srv/rel/web.manifest", "web.tgz", "file:///srv/rel/web.tgz"},
	        {"file:///srv/rel/web.manifest", "/other/web.tgz", "/other/web.tgz"},
	        {"/srv/rel/web.manifest", "web.tgz", "/srv/rel/web.tgz"},
	        {"/web.manifest", "web.tgz", "/web.tgz"},
	        {"/srv/rel/web.manifest", "/abs/web.tgz", "/abs/web.tgz"},
	        {"/srv/rel/web.manifest", "https://cdn.example/web.tgz",
	                "https://cdn.example/web.tgz"},
	        {"https://h.example/x.manifest", "file:///srv/web.tgz", "file:///srv/web.tgz"},
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *out = NULL;

		assert_int_equal(fetch_resolve_url(cases[i].base, cases[i].ref, &out), 0);
		assert_string_equal(out, cases[i].want);
	}
}

static void
test_resolve_url_refuses_dangerous_refs(void **state)
{
	static const char *const bad[] = {
	        "",
	        "../web.tgz",
	        "sub/../../etc/shadow",
	        "https://h.example/../x",
	        "web\n.tgz",
	        "web\x7f.tgz",
	        "web\\..tgz",
	        "//evil.example/web.tgz",
	        "mailto:x@example.com",
	};
	char *out = (char *)"untouched";

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		assert_int_equal(
		        fetch_resolve_url("https://h.example/a/x.manifest", bad[i], &out), -EINVAL);
		assert_string_equal(out, "untouched");
	}
	assert_int_equal(fetch_resolve_url("relative/base", "web.tgz", &out), -EINVAL);
	assert_int_equal(fetch_resolve_url("https://h.example/a", NULL, &out), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_http_fetch_writes_body_and_returns_its_blake2b),
	        cmocka_unit_test(test_http_fetch_refuses_content_length_above_max),
	        cmocka_unit_test(test_http_fetch_stops_reading_once_body_exceeds_max),
	        cmocka_unit_test(test_http_404_is_enoent_naming_status_and_url),
	        cmocka_unit_test(test_http_redirect_to_another_path_is_followed),
	        cmocka_unit_test(test_http_redirect_to_file_url_is_refused),
	        cmocka_unit_test(test_http_redirect_loop_stops_after_max_redirects),
	        cmocka_unit_test(test_http_stalled_server_hits_minimum_speed_abort),
	        cmocka_unit_test(test_http_stalled_server_hits_total_timeout),
	        cmocka_unit_test(test_http_refused_connection_names_url),
	        cmocka_unit_test(test_unsupported_scheme_is_refused),
	        cmocka_unit_test(test_fetch_to_buffer_reads_small_http_body),
	        cmocka_unit_test(test_fetch_to_buffer_refuses_body_above_cap),
	        cmocka_unit_test(test_plain_path_fetch_copies_and_hashes),
	        cmocka_unit_test(test_file_url_fetch_decodes_escapes),
	        cmocka_unit_test(test_missing_file_error_names_the_path),
	        cmocka_unit_test(test_local_file_above_max_is_efbig),
	        cmocka_unit_test(test_non_regular_files_are_not_fetched),
	        cmocka_unit_test(test_fetch_to_buffer_reads_local_file),
	        cmocka_unit_test(test_blake2b512_fd_matches_crypto_generichash),
	        cmocka_unit_test(test_http_fetch_reports_disk_full),
	        cmocka_unit_test(test_local_fetch_reports_disk_full),
	        cmocka_unit_test(test_resolve_url_handles_relative_and_absolute_refs),
	        cmocka_unit_test(test_resolve_url_refuses_dangerous_refs),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
