/*
 * nngbase: nng's raw req/rep round-trip throughput on this machine, the
 * baseline the coordinator's heartbeat figures are printed next to. One rep
 * socket echoes with a pool of contexts; --conns req sockets (one connection
 * each) run closed-loop round trips of --size bytes for --duration-s, all in
 * this process, over the same transport the coordinator serves.
 *
 *   nngbase --url tcp://127.0.0.1:PORT [--conns N] [--size B] [--duration-s S]
 *   nngbase --url tls+tcp://localhost:PORT --cert PEM --ca CA ...
 *
 * Prints one line:
 *   conns=N size=B round_trips=R rate_per_s=.. rtt_p50_ms=.. rtt_p99_ms=..
 */
#include <getopt.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <unistd.h>

#include "tlsprefs.h"
#include "util.h"

#define SERVER_CTXS 128
#define RTT_MAX     (8u * 1024 * 1024)

struct echo {
	nng_ctx ctx;
	nng_aio *aio;
	bool sending;
};

struct client {
	nng_socket sock;
	nng_ctx ctx;
	nng_aio *aio;
	bool sending;
	uint64_t sent_usec;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *rtts;
static size_t n_rtts;
static uint64_t round_trips;
static volatile bool running = true;
static size_t msg_size = 128;

static void
echo_cb(void *arg)
{
	struct echo *e = arg;

	if (nng_aio_result(e->aio) != 0) {
		if (e->sending)
			nng_msg_free(nng_aio_get_msg(e->aio));
		if (nng_aio_result(e->aio) == NNG_ECLOSED ||
		        nng_aio_result(e->aio) == NNG_ECANCELED || !running)
			return;
		e->sending = false;
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	if (e->sending) {
		e->sending = false;
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	/* The request goes back as the reply, as an echo server does. */
	e->sending = true;
	nng_ctx_send(e->ctx, e->aio);
}

static void
client_send(struct client *c)
{
	nng_msg *m;

	if (!running || nng_msg_alloc(&m, msg_size) != 0)
		return;
	memset(nng_msg_body(m), 0x5a, msg_size);
	c->sending = true;
	c->sent_usec = now_monotonic_usec();
	nng_aio_set_msg(c->aio, m);
	nng_ctx_send(c->ctx, c->aio);
}

static void
client_cb(void *arg)
{
	struct client *c = arg;
	int rv = nng_aio_result(c->aio);

	if (c->sending) {
		c->sending = false;
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(c->aio));
			if (rv != NNG_ECLOSED && rv != NNG_ECANCELED && running)
				client_send(c);
			return;
		}
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (rv == 0) {
		uint64_t rtt = now_monotonic_usec() - c->sent_usec;

		nng_msg_free(nng_aio_get_msg(c->aio));
		pthread_mutex_lock(&lock);
		round_trips++;
		if (n_rtts < RTT_MAX)
			rtts[n_rtts++] = (uint32_t)(rtt > UINT32_MAX ? UINT32_MAX : rtt);
		pthread_mutex_unlock(&lock);
	}
	if (rv != NNG_ECLOSED && rv != NNG_ECANCELED && running)
		client_send(c);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
fail(const char *what, int rv)
{
	fprintf(stderr, "nngbase: %s: %s\n", what, nng_strerror(rv));
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"url", required_argument, NULL, 'u'},
	        {"conns", required_argument, NULL, 'n'},
	        {"size", required_argument, NULL, 's'},
	        {"duration-s", required_argument, NULL, 'd'},
	        {"cert", required_argument, NULL, 'c'},
	        {"ca", required_argument, NULL, 'a'},
	        {},
	};
	const char *url = NULL, *cert = NULL, *ca = NULL;
	unsigned conns = 64, duration_s = 5;
	nng_tls_config *stls = NULL, *ctls = NULL;
	struct echo echoes[SERVER_CTXS];
	struct client *clients;
	nng_socket rep;
	nng_listener l;
	uint64_t v, t0, t1;
	int ch, rv;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'a':
			ca = optarg;
			break;
		case 'n':
		case 's':
		case 'd':
			if (parse_uint64(optarg, &v) < 0 || v == 0 || v > 100000) {
				fprintf(stderr, "nngbase: bad number '%s'\n", optarg);
				return 2;
			}
			if (ch == 'n')
				conns = (unsigned)v;
			else if (ch == 's')
				msg_size = (size_t)v;
			else
				duration_s = (unsigned)v;
			break;
		default:
			return 2;
		}
	}
	if (!url || (strncmp(url, "tls+tcp://", 10) == 0 && (!cert || !ca))) {
		fprintf(stderr,
		        "usage: nngbase --url URL [--conns N] [--size B] [--duration-s S] "
		        "[--cert PEM --ca CA (tls+tcp://)]\n");
		return 2;
	}
	rtts = calloc(RTT_MAX, sizeof(*rtts));
	clients = calloc(conns, sizeof(*clients));
	if (!rtts || !clients)
		return 1;

	if ((rv = nng_rep0_open(&rep)) != 0 || (rv = nng_listener_create(&l, rep, url)) != 0)
		return fail("cannot listen", rv);
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		if ((rv = tlsprefs_config_alloc(&stls, NNG_TLS_MODE_SERVER)) != 0 ||
		        (rv = nng_tls_config_cert_key_file(stls, cert, NULL)) != 0 ||
		        (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, stls)) != 0 ||
		        (rv = tlsprefs_config_alloc(&ctls, NNG_TLS_MODE_CLIENT)) != 0 ||
		        (rv = nng_tls_config_ca_file(ctls, ca)) != 0 ||
		        (rv = nng_tls_config_server_name(ctls, "localhost")) != 0)
			return fail("cannot set up TLS", rv);
	}
	if ((rv = nng_listener_start(l, 0)) != 0)
		return fail("cannot listen", rv);
	for (int i = 0; i < SERVER_CTXS; i++) {
		echoes[i].sending = false;
		if ((rv = nng_ctx_open(&echoes[i].ctx, rep)) != 0 ||
		        (rv = nng_aio_alloc(&echoes[i].aio, echo_cb, &echoes[i])) != 0)
			return fail("cannot open a context", rv);
		nng_ctx_recv(echoes[i].ctx, echoes[i].aio);
	}
	for (unsigned i = 0; i < conns; i++) {
		struct client *c = &clients[i];
		nng_dialer d;

		if ((rv = nng_req0_open(&c->sock)) != 0 ||
		        (rv = nng_ctx_open(&c->ctx, c->sock)) != 0 ||
		        (rv = nng_aio_alloc(&c->aio, client_cb, c)) != 0 ||
		        (rv = nng_dialer_create(&d, c->sock, url)) != 0 ||
		        (ctls && (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, ctls)) != 0) ||
		        (rv = nng_dialer_start(d, 0)) != 0)
			return fail("cannot dial", rv);
		nng_ctx_set_ms(c->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	}
	/* Connected: measure from here. */
	t0 = now_monotonic_usec();
	for (unsigned i = 0; i < conns; i++)
		client_send(&clients[i]);
	nng_msleep((nng_duration)duration_s * 1000);
	pthread_mutex_lock(&lock);
	running = false;
	t1 = now_monotonic_usec();
	uint64_t done = round_trips;
	size_t n = n_rtts;
	pthread_mutex_unlock(&lock);
	qsort(rtts, n, sizeof(*rtts), cmp_u32);
	printf("conns=%u size=%zu round_trips=%" PRIu64
	       " rate_per_s=%.0f rtt_p50_ms=%.2f rtt_p99_ms=%.2f\n",
	        conns, msg_size, done, (double)done * 1e6 / (double)(t1 - t0),
	        n ? rtts[n / 2] / 1000.0 : 0.0,
	        n ? rtts[(size_t)((double)n * 0.99)] / 1000.0 : 0.0);
	/* No orderly teardown of 64+ sockets with operations in flight: nng
	 * 1.5's nng_close() can wait forever on a req context whose send
	 * raced the stop. The figures are out; the kernel frees the rest. */
	fflush(stdout);
	_exit(0);
}
