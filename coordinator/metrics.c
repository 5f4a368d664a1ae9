/*
 * metrics: the coordinator's Prometheus endpoint. See metrics.h: it formats
 * the snapshot its getter fills and reaches into nothing else.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdarg.h>

#include "log.h"
#include "metrics.h"
#include "version.h"
#include "wire.h"

struct metrics {
	nng_http_server *http;
	nng_http_handler *handler;
	metrics_getter_t snapshot;
	void *userdata;
};

/* A growing text buffer; on allocation failure it stays failed. */
struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void text_printf(struct text *t, const char *fmt, ...) _printf_(2, 3);
static void
text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t ncap = t->cap ? t->cap * 2 : 8192;
		while (ncap - t->len <= (size_t)n)
			ncap *= 2;
		char *np = realloc(t->p, ncap);
		if (!np) {
			t->failed = true;
			return;
		}
		t->p = np;
		t->cap = ncap;
	}
}

static void
header(struct text *t, const char *name, const char *type, const char *help)
{
	text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *
code_name(size_t code, char *buf, size_t size)
{
	const ProtobufCEnumValue *v =
	        protobuf_c_enum_descriptor_get_value(&rollwave__error__code__descriptor, (int)code);

	if (!v) {
		strbuf_printf(buf, size, "%zu", code);
		return buf;
	}
	/* "CODE_UNSPECIFIED" reads as what it means: a plain refusal. */
	if (streq(v->name, "CODE_UNSPECIFIED"))
		return "refused";
	strbuf_printf(buf, size, "%s", v->name);
	for (char *c = buf; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return buf;
}

static const char *
admin_name(size_t req)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
	        &rollwave__admin_request__descriptor, (unsigned)req);

	return f ? f->name : "unknown";
}

static const char *
agent_type_name(size_t body)
{
	return body == 0 ? "undecodable" : wire_body_name((Rollwave__Envelope__BodyCase)body);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
quantile(const uint64_t *sorted, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return NAN;
	/* The nearest-rank quantile: rank ceil(q * n). */
	double rank = q * (double)n;
	i = (size_t)rank;
	if ((double)i < rank)
		i++;
	return (double)sorted[i ? i - 1 : 0] / 1000.0;
}

static void
format_fleet(const struct metrics_snapshot *sc, struct text *t)
{
	header(t, "rollwave_build_info", "gauge", "The coordinator's version.");
	text_printf(t, "rollwave_build_info{version=\"%s\"} 1\n", ROLLWAVE_VERSION);
	header(t, "rollwave_start_time_seconds", "gauge", "When this coordinator started.");
	text_printf(t, "rollwave_start_time_seconds %.3f\n", (double)sc->started_ms / 1000.0);

	header(t, "rollwave_hosts", "gauge", "Hosts in the registry by state.");
	for (int st = 0; st < _HOST_STATE_MAX; st++)
		text_printf(t, "rollwave_hosts{state=\"%s\"} %zu\n",
		        host_state_to_string((enum host_state)st), sc->hosts[st]);
	header(t, "rollwave_agent_connections", "gauge",
	        "Open agent connections, authenticated or not.");
	text_printf(t, "rollwave_agent_connections %zu\n", sc->connections);
	header(t, "rollwave_agent_polls_parked", "gauge",
	        "Agents waiting in their long poll for a command.");
	text_printf(t, "rollwave_agent_polls_parked %zu\n", sc->parked);
	header(t, "rollwave_agent_workers", "gauge", "Request contexts on the agent socket.");
	text_printf(t, "rollwave_agent_workers{state=\"idle\"} %zu\n", sc->idle_workers);
	text_printf(t, "rollwave_agent_workers{state=\"total\"} %zu\n", sc->n_workers);
	header(t, "rollwave_commands_queued", "gauge",
	        "Commands handed to hosts (or waiting for them) without a final result yet.");
	text_printf(t, "rollwave_commands_queued %zu\n", sc->queued);
}

static void
format_messages(const struct metrics_snapshot *sc, struct text *t)
{
	char buf[64];

	header(t, "rollwave_agent_messages_total", "counter",
	        "Messages received from agents by type (undecodable: refused before a type was "
	        "known).");
	for (size_t i = 0; i < METRICS_TYPES; i++)
		if (sc->agent_msgs[i] || i == ROLLWAVE__ENVELOPE__BODY_HEARTBEAT)
			text_printf(t, "rollwave_agent_messages_total{type=\"%s\"} %" PRIu64 "\n",
			        agent_type_name(i), sc->agent_msgs[i]);
	header(t, "rollwave_agent_errors_total", "counter",
	        "Agent messages answered with an error, by message type and error code.");
	for (size_t i = 0; i < METRICS_TYPES; i++)
		for (size_t c = 0; c < METRICS_CODES; c++)
			if (sc->agent_refused[i][c])
				text_printf(t,
				        "rollwave_agent_errors_total{type=\"%s\",code=\"%s\"} "
				        "%" PRIu64 "\n",
				        agent_type_name(i), code_name(c, buf, sizeof(buf)),
				        sc->agent_refused[i][c]);
	header(t, "rollwave_admin_requests_total", "counter", "Admin requests by type.");
	for (size_t i = 0; i < METRICS_TYPES; i++)
		if (sc->admin_reqs[i])
			text_printf(t, "rollwave_admin_requests_total{type=\"%s\"} %" PRIu64 "\n",
			        i ? admin_name(i) : "undecodable", sc->admin_reqs[i]);
	header(t, "rollwave_admin_errors_total", "counter",
	        "Admin requests answered with an error, by type and error code.");
	for (size_t i = 0; i < METRICS_TYPES; i++)
		for (size_t c = 0; c < METRICS_CODES; c++)
			if (sc->admin_refused[i][c])
				text_printf(t,
				        "rollwave_admin_errors_total{type=\"%s\",code=\"%s\"} "
				        "%" PRIu64 "\n",
				        i ? admin_name(i) : "undecodable",
				        code_name(c, buf, sizeof(buf)), sc->admin_refused[i][c]);
}

static void
format_tasks(const struct metrics_snapshot *sc, struct text *t)
{
	static const char *const results[METRICS_RESULTS] = {
	        "committed", "rolled_back", "failed", "refused", "cancelled"};

	header(t, "rollwave_task_results_total", "counter",
	        "Final results of commands (deploy, rollback, migrate, ...) reported by hosts.");
	for (int k = 1; k < METRICS_KINDS; k++) {
		const char *kind = sc->kinds[k];

		if (!kind)
			continue;
		for (int r = 0; r < METRICS_RESULTS; r++)
			text_printf(t,
			        "rollwave_task_results_total{kind=\"%s\",result=\"%s\"} %" PRIu64
			        "\n",
			        kind, results[r], sc->task_results[k][r]);
	}
}

static void
format_heartbeats(struct metrics_snapshot *sc, struct text *t)
{
	static const struct {
		const char *stat;
		double q;
	} stats[] = {{"p50", 0.5}, {"p99", 0.99}, {"max", 1.0}};

	qsort(sc->lag_ms, sc->n_lag, sizeof(*sc->lag_ms), cmp_u64);
	header(t, "rollwave_heartbeat_interval_seconds", "gauge",
	        "The heartbeat interval agents are expected to keep.");
	text_printf(t, "rollwave_heartbeat_interval_seconds %.3f\n",
	        (double)sc->heartbeat_interval_usec / 1e6);
	header(t, "rollwave_heartbeat_lag_seconds", "gauge",
	        "Time since the last message of each up host, over all up hosts: median, 99th "
	        "percentile and max (a host is marked down past 3 intervals).");
	for (size_t i = 0; i < ELEMENTSOF(stats); i++) {
		double v = quantile(sc->lag_ms, sc->n_lag, stats[i].q);

		/* Prometheus spells "no value" NaN, not printf's nan. */
		if (isnan(v))
			text_printf(t, "rollwave_heartbeat_lag_seconds{stat=\"%s\"} NaN\n",
			        stats[i].stat);
		else
			text_printf(t, "rollwave_heartbeat_lag_seconds{stat=\"%s\"} %.3f\n",
			        stats[i].stat, v);
	}
}

static void
reply(nng_aio *aio, uint16_t status, const char *type, const char *body, size_t len)
{
	nng_http_res *res;

	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	if (nng_http_res_set_status(res, status) != 0 ||
	        nng_http_res_set_header(res, "Content-Type", type) != 0 ||
	        nng_http_res_copy_data(res, body, len) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void
metrics_cb(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct metrics *m = nng_http_handler_get_data(h);
	struct metrics_snapshot sc = {0};
	struct text t = {0};
	static const char oom[] = "out of memory\n";

	if (m->snapshot(m->userdata, &sc) < 0) {
		free(sc.lag_ms);
		reply(aio, NNG_HTTP_STATUS_SERVICE_UNAVAILABLE, "text/plain", oom, sizeof(oom) - 1);
		return;
	}
	format_fleet(&sc, &t);
	format_messages(&sc, &t);
	format_tasks(&sc, &t);
	format_heartbeats(&sc, &t);
	free(sc.lag_ms);
	if (t.failed)
		reply(aio, NNG_HTTP_STATUS_SERVICE_UNAVAILABLE, "text/plain", oom, sizeof(oom) - 1);
	else
		reply(aio, NNG_HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", t.p,
		        t.len);
	free(t.p);
}

int
metrics_open(const char *listen, metrics_getter_t snapshot, void *userdata, struct metrics **ret,
        struct rw_err *err)
{
	char url[300];
	nng_url *u = NULL;
	struct metrics *m;
	int rv;

	*ret = NULL;
	if (isempty(listen))
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->snapshot = snapshot;
	m->userdata = userdata;
	strbuf_printf(url, sizeof(url), "http://%s/metrics", listen);
	rv = nng_url_parse(&u, url);
	if (rv == 0)
		rv = nng_http_server_hold(&m->http, u);
	if (rv == 0)
		rv = nng_http_handler_alloc(&m->handler, "/metrics", metrics_cb);
	if (rv == 0)
		rv = nng_http_handler_set_method(m->handler, "GET");
	if (rv == 0)
		rv = nng_http_handler_set_data(m->handler, m, NULL);
	if (rv == 0) {
		rv = nng_http_server_add_handler(m->http, m->handler);
		if (rv == 0)
			m->handler = NULL; /* the server owns it now */
	}
	if (rv == 0)
		rv = nng_http_server_start(m->http);
	nng_url_free(u);
	if (rv != 0) {
		metrics_close(m);
		return rw_err_set(err, -EIO, "MetricsListen=%s: cannot serve metrics: %s", listen,
		        nng_strerror(rv));
	}
	log_info("serving metrics on %s", url);
	*ret = m;
	return 0;
}

void
metrics_close(struct metrics *m)
{
	if (!m)
		return;
	if (m->http) {
		nng_http_server_stop(m->http);
		nng_http_server_release(m->http);
	}
	if (m->handler)
		nng_http_handler_free(m->handler);
	free(m);
}
