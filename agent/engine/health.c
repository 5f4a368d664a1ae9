/*
 * health: probes a release and waits for a continuous healthy streak.
 *
 * health_wait() is a bounded loop over one clock (CLOCK_MONOTONIC):
 *
 *   start ──probe──▶ pass: streak starts at the round's start (if none)
 *     ▲               │     streak ≥ MinHealthy → healthy (return 0)
 *     │               ▼
 *     └─ sleep to ◀── fail: streak reset, failure remembered;
 *        next interval      unit failed/restart-looping → return -EPROTO
 *
 *   and when the next round would start at or after the deadline →
 *   -ETIMEDOUT with the last failure.
 *
 * Every probe's own timeout is clamped to the time left before the
 * deadline, so the whole wait stays inside it.
 */
#include "health.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include "units.h"

/* Time kept back for reaping a killed probe command. */
#define SPAWN_MARGIN_USEC (250 * USEC_PER_MSEC)
#define PROBE_PATH_ENV    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void
format_usec(char *buf, size_t size, uint64_t usec)
{
	if (usec >= 60 * USEC_PER_SEC && usec % (60 * USEC_PER_SEC) == 0)
		snprintf(buf, size, "%" PRIu64 "m", usec / (60 * USEC_PER_SEC));
	else if (usec % USEC_PER_SEC == 0)
		snprintf(buf, size, "%" PRIu64 "s", usec / USEC_PER_SEC);
	else
		snprintf(buf, size, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
}

void
health_baseline_done(struct health_baseline *b)
{
	if (!b)
		return;
	free(b->n_restarts);
	memset(b, 0, sizeof(*b));
}

int
health_baseline_capture(
        sd_bus *bus, char *const *units, struct health_baseline *ret, struct rw_err *err)
{
	_cleanup_free_ uint32_t *counts = NULL;
	size_t n = units ? strv_length(units) : 0;

	if (!ret)
		return rw_err_set(err, -EINVAL, "invalid arguments");
	if (n == 0) {
		*ret = (struct health_baseline) {0};
		return 0;
	}
	if (!bus)
		return rw_err_set(err, -EINVAL, "units to check but no bus");
	counts = calloc(n, sizeof(*counts));
	if (!counts)
		return rw_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct unit_state st;
		int r = units_get_state(bus, units[i], &st, err);
		if (r < 0)
			return r;
		counts[i] = st.n_restarts;
	}
	*ret = (struct health_baseline) {.n_units = n, .n_restarts = TAKE_PTR(counts)};
	return 0;
}

/* How long the next probe may take: the configured probe timeout, clamped
 * to what is left before not_after (minus margin). 0 = no time left. */
static uint64_t
probe_budget(const struct health_config *hc, uint64_t not_after, uint64_t margin)
{
	uint64_t t =
	        hc->probe_timeout_usec ? hc->probe_timeout_usec : HEALTH_DEFAULT_PROBE_TIMEOUT_USEC;
	uint64_t now, left;

	if (!not_after)
		return t;
	now = now_monotonic_usec();
	if (now >= not_after)
		return 0;
	left = not_after - now;
	if (left > 2 * margin)
		left -= margin;
	else
		left /= 2;
	return left < t ? left : t;
}

static int
probe_unit(sd_bus *bus, const char *unit, const uint32_t *baseline, uint64_t budget,
        struct rw_err *err)
{
	struct unit_state st;
	uint64_t old_timeout = 0;
	size_t n = strlen(unit);
	bool is_service = n > 8 && streq(unit + n - 8, ".service");
	int r;

	/* Bound the bus calls by the probe budget, then put the caller's
	 * default back. */
	if (sd_bus_get_method_call_timeout(bus, &old_timeout) >= 0)
		(void)sd_bus_set_method_call_timeout(bus, budget);
	r = units_get_state(bus, unit, &st, err);
	if (old_timeout)
		(void)sd_bus_set_method_call_timeout(bus, old_timeout);
	if (r < 0)
		return r;

	if (streq(st.active_state, "failed"))
		return rw_err_set(err, -ELOOP,
		        "unit '%s' has failed (%s/%s, NRestarts %" PRIu32 ")", unit,
		        st.active_state, st.sub_state, st.n_restarts);
	if (baseline && st.n_restarts > *baseline)
		return rw_err_set(err, -ELOOP,
		        "unit '%s' is restart-looping (restarted %" PRIu32
		        " times since the restart)",
		        unit, st.n_restarts - *baseline);
	if (streq(st.sub_state, "auto-restart"))
		return rw_err_set(err, -ELOOP,
		        "unit '%s' exited and systemd is restarting it (%s/auto-restart)", unit,
		        st.active_state);
	if (!st.loaded)
		return rw_err_set(
		        err, -EPROTO, "unit '%s' is not loaded (%s)", unit, st.load_state);
	if (!streq(st.active_state, "active") ||
	        (is_service && !streq(st.sub_state, "running") && !streq(st.sub_state, "exited")))
		return rw_err_set(err, -EPROTO, "unit '%s' is not running (%s/%s)", unit,
		        st.active_state, st.sub_state);
	return 0;
}

static size_t
discard_body(char *p, size_t size, size_t nmemb, void *userdata)
{
	(void)p;
	(void)userdata;
	return size * nmemb;
}

static bool
url_is_http(const char *url)
{
	return url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0);
}

static int
probe_http(const char *url, uint64_t budget, struct rw_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "", dur[32];
	long ms = (long)((budget + USEC_PER_MSEC - 1) / USEC_PER_MSEC);
	long code = 0;
	CURLcode res;
	CURL *c;

	c = curl_easy_init();
	if (!c)
		return rw_err_set(err, -ENOMEM, "cannot set up HTTP client");
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_USERAGENT, "rollwave-health") != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) {
		curl_easy_cleanup(c);
		return rw_err_set(err, -EINVAL, "cannot set up HTTP request for '%s'", url);
	}
	res = curl_easy_perform(c);
	if (res == CURLE_OK)
		(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);

	if (res == CURLE_OPERATION_TIMEDOUT) {
		format_usec(dur, sizeof(dur), budget);
		return rw_err_set(err, -EPROTO, "GET %s timed out after %s", url, dur);
	}
	if (res != CURLE_OK)
		return rw_err_set(err, -EPROTO, "GET %s failed: %s", url,
		        errbuf[0] ? errbuf : curl_easy_strerror(res));
	if (code < 200 || code > 299)
		return rw_err_set(err, -EPROTO, "GET %s returned %ld", url, code);
	return 0;
}

/* "host:port" or "[v6addr]:port" into host and port. */
static int
parse_host_port(const char *s, char *host, size_t hsize, char *port, size_t psize)
{
	const char *colon, *h = s;
	size_t hlen;
	uint64_t p;

	if (isempty(s))
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen))
			return -EINVAL; /* bare IPv6 needs brackets */
	}
	if (hlen == 0 || hlen >= hsize)
		return -EINVAL;
	if (parse_uint64(colon + 1, &p) < 0 || p == 0 || p > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	return xsnprintf(port, psize, "%" PRIu64, p) < 0 ? -EINVAL : 0;
}

static int
connect_one(const struct addrinfo *ai, uint64_t not_after)
{
	_cleanup_close_ int fd = -1;
	int e = 0;
	socklen_t len = sizeof(e);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	for (;;) {
		uint64_t now = now_monotonic_usec();
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (now >= not_after)
			return -ETIMEDOUT;
		int k = poll(&p, 1, (int)((not_after - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ETIMEDOUT;
		break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return -errno;
	return e ? -e : 0;
}

static int
probe_tcp(const char *target, uint64_t budget, struct rw_err *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char host[256], port[8], dur[32];
	uint64_t not_after = now_monotonic_usec() + budget;
	int r, g;

	if (parse_host_port(target, host, sizeof(host), port, sizeof(port)) < 0)
		return rw_err_set(err, -EINVAL, "invalid TCP target '%s' (want host:port)", target);
	g = getaddrinfo(host, port, &hints, &res);
	if (g != 0)
		return rw_err_set(
		        err, -EPROTO, "TCP connect %s failed: %s", target, gai_strerror(g));
	r = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		r = connect_one(ai, not_after);
		if (r == 0 || r == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (r == -ETIMEDOUT) {
		format_usec(dur, sizeof(dur), budget);
		return rw_err_set(err, -EPROTO, "TCP connect %s timed out after %s", target, dur);
	}
	if (r < 0)
		return rw_err_set(err, -EPROTO, "TCP connect %s failed: %s", target, strerror(-r));
	return 0;
}

static int
probe_exec(const char *cmd, uint64_t budget, struct rw_err *err)
{
	struct hook_result res = {0};
	char what[128];
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)cmd, NULL};
	char *envp[] = {(char *)PROBE_PATH_ENV, NULL};
	int r;

	/* Long commands are cut in messages; the front says enough. */
	snprintf(what, sizeof(what), "command '%.100s'", cmd);
	struct hook_spawn_args a = {
	        .what = what,
	        .argv = argv,
	        .envp = envp,
	        .cwd = "/",
	        .timeout_usec = budget,
	        .kill_grace_usec = 0,
	};
	r = hook_spawn(&a, &res, err);
	hook_result_done(&res);
	if (r < 0 && r != -EPROTO && r != -ETIMEDOUT)
		return r;
	return r < 0 ? -EPROTO : 0;
}

/* Keeps what the validate hook said in capture (may be NULL). */
static void
capture_validate(struct health_result *capture, const struct hook_result *res)
{
	size_t n;

	if (!capture || !res->ran)
		return;
	n = res->output_len < HEALTH_VALIDATE_OUTPUT_MAX ? res->output_len
	                                                 : HEALTH_VALIDATE_OUTPUT_MAX;
	capture->validate_ran = true;
	hook_result_describe(res, capture->validate_status, sizeof(capture->validate_status));
	memcpy(capture->validate_output, res->output, n);
	capture->validate_output[n] = 0;
	capture->validate_output_len = n;
	capture->validate_truncated = res->truncated || n < res->output_len;
}

static int
probe_validate(const struct hook_env *v, uint64_t budget, struct health_result *capture,
        struct rw_err *err)
{
	struct hook_result res = {0};
	int r;

	r = hook_run_full(v->release_dir, "validate", v, budget, 0, &res, err);
	capture_validate(capture, &res);
	if (r < 0 && res.ran && res.output_len > 0 && err) {
		/* The last line the hook printed is usually its reason. */
		char *s = res.output, *end = s + res.output_len, *line;
		char tmp[sizeof(err->msg)];

		while (end > s && (end[-1] == '\n' || end[-1] == '\r'))
			*--end = 0;
		line = end;
		while (line > s && line[-1] != '\n')
			line--;
		if (*line) {
			snprintf(tmp, sizeof(tmp), "%s", err->msg);
			rw_err_set(err, r, "%s: %.200s", tmp, line);
		}
	}
	hook_result_done(&res);
	if (r == -ETIMEDOUT)
		r = -EPROTO;
	return r;
}

/* One round, bare messages. -ECANCELED when the deadline left no time.
 * capture (may be NULL) gets the validate hook's output if it runs. */
static int
probe_round(sd_bus *bus, char *const *units, const struct health_baseline *baseline,
        const struct health_config *hc, const struct hook_env *validate, uint64_t not_after,
        struct health_result *capture, struct rw_err *err)
{
	uint64_t budget;
	size_t n_units = units ? strv_length(units) : 0;
	int r;

	if (n_units > 0 && !bus)
		return rw_err_set(err, -EINVAL, "units to check but no bus");
	if (baseline && baseline->n_units != n_units)
		return rw_err_set(err, -EINVAL, "restart baseline does not match the units");
	for (size_t i = 0; i < n_units; i++) {
		if (!(budget = probe_budget(hc, not_after, 0)))
			return rw_err_set(err, -ECANCELED, "no time left to probe");
		r = probe_unit(
		        bus, units[i], baseline ? &baseline->n_restarts[i] : NULL, budget, err);
		if (r < 0)
			return r;
	}
	for (char **u = hc->http_get; u && *u; u++) {
		if (!(budget = probe_budget(hc, not_after, 0)))
			return rw_err_set(err, -ECANCELED, "no time left to probe");
		r = probe_http(*u, budget, err);
		if (r < 0)
			return r;
	}
	for (char **t = hc->tcp_connect; t && *t; t++) {
		if (!(budget = probe_budget(hc, not_after, 0)))
			return rw_err_set(err, -ECANCELED, "no time left to probe");
		r = probe_tcp(*t, budget, err);
		if (r < 0)
			return r;
	}
	for (char **c = hc->exec; c && *c; c++) {
		if (!(budget = probe_budget(hc, not_after, SPAWN_MARGIN_USEC)))
			return rw_err_set(err, -ECANCELED, "no time left to probe");
		r = probe_exec(*c, budget, err);
		if (r < 0)
			return r;
	}
	if (validate && !isempty(validate->release_dir)) {
		if (!(budget = probe_budget(hc, not_after, SPAWN_MARGIN_USEC)))
			return rw_err_set(err, -ECANCELED, "no time left to probe");
		r = probe_validate(validate, budget, capture, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int
health_probe_once(sd_bus *bus, char *const *units, const struct health_baseline *baseline,
        const struct health_config *hc, const struct hook_env *validate, uint64_t not_after_usec,
        struct rw_err *err)
{
	int r;

	if (!hc)
		return rw_err_set(err, -EINVAL, "invalid arguments");
	r = probe_round(bus, units, baseline, hc, validate, not_after_usec, NULL, err);
	if (r < 0 && r != -EINVAL && r != -ENOMEM)
		return rw_err_prefix(err, r, "health check failed");
	return r;
}

/* The defaults of what hc leaves 0; min_healthy 0 is meaningful: the
 * first passing round is enough. */
static void
config_defaults(struct health_config *hc)
{
	if (!hc->deadline_usec)
		hc->deadline_usec = HEALTH_DEFAULT_DEADLINE_USEC;
	if (!hc->interval_usec)
		hc->interval_usec = HEALTH_DEFAULT_INTERVAL_USEC;
	if (!hc->probe_timeout_usec)
		hc->probe_timeout_usec = HEALTH_DEFAULT_PROBE_TIMEOUT_USEC;
}

static int
config_check(const struct health_config *hc, struct rw_err *err)
{
	char host[256], port[8];
	size_t n = 0;

	for (char **u = hc->http_get; u && *u; u++, n++)
		if (!url_is_http(*u))
			return rw_err_set(err, -EINVAL, "HttpGet= '%s' is not an http(s) URL", *u);
	for (char **t = hc->tcp_connect; t && *t; t++, n++)
		if (parse_host_port(*t, host, sizeof(host), port, sizeof(port)) < 0)
			return rw_err_set(err, -EINVAL, "TcpConnect= '%s' is not host:port", *t);
	for (char **c = hc->exec; c && *c; c++, n++)
		if (isempty(*c))
			return rw_err_set(err, -EINVAL, "Exec= is empty");
	if (n > HEALTH_PROBES_MAX)
		return rw_err_set(err, -E2BIG, "too many health probes (%zu, at most %d)", n,
		        HEALTH_PROBES_MAX);
	return 0;
}

static void
sleep_until(uint64_t t)
{
	for (;;) {
		uint64_t now = now_monotonic_usec();
		if (now >= t)
			return;
		uint64_t ms = (t - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
		(void)poll(NULL, 0, ms > INT_MAX ? INT_MAX : (int)ms);
	}
}

/* Probe rounds until healthy for hc->min_healthy_usec, a fatal probe
 * error, or the deadline (-ETIMEDOUT); fills *res. *ret_streak: whether
 * the last rounds passed, since *ret_streak_start. */
static int
probe_rounds(sd_bus *bus, char *const *units, struct health_baseline *baseline,
        const struct health_config *hc, const struct hook_env *validate, uint64_t start,
        struct health_result *res, bool *ret_streak, uint64_t *ret_streak_start, struct rw_err *err)
{
	uint64_t deadline_at = start + hc->deadline_usec, streak_start = 0, now;
	bool streak = false;
	int r;

	for (;;) {
		struct rw_err perr = {{0}};
		uint64_t round_start = now_monotonic_usec();

		if (round_start >= deadline_at) {
			r = -ETIMEDOUT;
			break;
		}
		r = probe_round(bus, units, baseline, hc, validate, deadline_at, res, &perr);
		now = now_monotonic_usec();
		if (r == -ECANCELED) {
			r = -ETIMEDOUT;
			break;
		}
		res->probes++;
		if (r == 0) {
			if (!streak) {
				streak = true;
				streak_start = round_start;
			}
			if (!res->ever_healthy) {
				res->ever_healthy = true;
				res->first_healthy_usec = now - start;
			}
			if (now - streak_start >= hc->min_healthy_usec) {
				res->healthy = true;
				break;
			}
		} else {
			res->failed_probes++;
			streak = false;
			snprintf(res->last_failure, sizeof(res->last_failure), "%s", perr.msg);
			if (r == -ELOOP) {
				rw_err_set(err, -EPROTO, "%s", perr.msg);
				r = -EPROTO;
				break;
			}
			if (r == -EINVAL || r == -ENOMEM || r == -E2BIG) {
				rw_err_set(err, r, "%s", perr.msg);
				break;
			}
		}
		/* Until the first pass, retry quickly: a service that is still
		 * binding its port should not cost a whole Interval. */
		uint64_t step = res->ever_healthy || hc->interval_usec < HEALTH_FIRST_RETRY_USEC
		        ? hc->interval_usec
		        : HEALTH_FIRST_RETRY_USEC;
		uint64_t next = round_start + step;
		if (next >= deadline_at) {
			r = -ETIMEDOUT;
			break;
		}
		sleep_until(next);
	}
	*ret_streak = streak;
	*ret_streak_start = streak_start;
	return r;
}

int
health_wait(sd_bus *bus, char *const *units, const struct health_config *hc_in,
        const struct hook_env *validate, struct health_result *ret, struct rw_err *err)
{
	struct health_config hc;
	struct health_baseline baseline = {0};
	struct health_result res = {0};
	uint64_t start, streak_start = 0, now;
	bool streak = false;
	char d_min[32], d_dead[32];
	int r;

	if (!hc_in)
		return rw_err_set(err, -EINVAL, "invalid arguments");
	hc = *hc_in;
	config_defaults(&hc);
	r = config_check(&hc, err);
	if (r < 0)
		return r;
	if (units && units[0] && !bus)
		return rw_err_set(err, -EINVAL, "units to check but no bus");
	format_usec(d_min, sizeof(d_min), hc.min_healthy_usec);
	format_usec(d_dead, sizeof(d_dead), hc.deadline_usec);

	start = now_monotonic_usec();
	r = health_baseline_capture(bus, units, &baseline, err);
	if (r < 0) {
		/* Without a baseline a unit that vanished or a bus that broke
		 * is the verdict. */
		snprintf(res.last_failure, sizeof(res.last_failure), "%s", err ? err->msg : "");
		res.elapsed_usec = now_monotonic_usec() - start;
		if (ret)
			*ret = res;
		return r == -ENOMEM ? r : rw_err_prefix(err, -EPROTO, "health check failed");
	}

	r = probe_rounds(
	        bus, units, &baseline, &hc, validate, start, &res, &streak, &streak_start, err);

	now = now_monotonic_usec();
	res.elapsed_usec = now - start;
	res.healthy_streak_usec = streak ? now - streak_start : 0;
	health_baseline_done(&baseline);
	if (res.healthy)
		r = 0;
	else if (r == -ETIMEDOUT) {
		if (res.last_failure[0])
			rw_err_set(err, r, "not healthy for %s within %s: %s", d_min, d_dead,
			        res.last_failure);
		else {
			char d_streak[32];
			format_usec(d_streak, sizeof(d_streak),
			        res.healthy_streak_usec / USEC_PER_MSEC * USEC_PER_MSEC);
			rw_err_set(err, r, "not healthy for %s within %s: healthy for only %s",
			        d_min, d_dead, d_streak);
		}
	}
	if (ret)
		*ret = res;
	return r;
}
