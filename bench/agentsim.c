/*
 * agentsim: many simulated agents in one process, speaking the real wire
 * protocol to a real rollwave-coordinator (docs/protocol.md). Used by the
 * coordinator's tests and benchmarks; it runs no releases.
 *
 *   agentsim --url URL --agents N [--token T] [--admin URL] [--ca FILE]
 *            [--interval-ms MS] [--duration-s S] [--seed S] [--first N]
 *            [--warmup-s S] [--kill N] [--dial-rate N]
 *
 * Each agent has its own nng req socket (its own connection) and an Ed25519
 * key derived from --seed and its index, so a second run presents the same
 * hosts. The run: every agent says Hello and Auth; hosts the coordinator
 * answers PENDING are accepted through --admin (if given) and authenticate
 * again; then every agent heartbeats each --interval-ms (phase-spread) for
 * --duration-s. At the end it prints one line of figures:
 *
 *   agents=N welcomed=W pending=P refused=R heartbeats=H errors=E
 *   rtt_p50_ms=.. rtt_p99_ms=.. rtt_max_ms=.. rate_per_s=.. enrol_s=..
 *
 * With --warmup-s, round trips count only from the moment every agent was
 * welcomed plus that many seconds (steady state, not the enrolment storm);
 * --duration-s then runs from there. With --kill N (needs --admin), the last
 * N agents close their connections after the measurement while the others
 * keep heartbeating, and agentsim asks the coordinator every 100 ms until it
 * reports all N down, adding killed=N down_after_s=.. (or down_after_s=none
 * when they were not all down within 60 s). --dial-rate N starts N agents
 * a second (as a fleet booting over a while; real agents also back off with
 * jitter) instead of all at once.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/resource.h>
#include <time.h>

#include "util.h"
#include "wire.h"

enum sim_phase { S_HELLO, S_AUTH, S_HEARTBEAT, S_DONE };

struct agent {
	unsigned idx;
	nng_socket sock;
	nng_ctx ctx;
	nng_aio *aio;
	uint8_t pk[32], sk[64];
	enum sim_phase phase;
	uint64_t host_id;
	uint64_t sent_usec;
	uint64_t next_usec;
	uint64_t seq;
	bool pending;
	bool in_flight;
	bool sending; /* the aio runs the send half of a request */
	bool killed;
	bool dialed;
	nng_dialer dialer;
};

static nng_tls_config *tls;

static struct {
	const char *url, *token, *admin, *ca, *labels;
	unsigned n, first;
	uint64_t interval_usec, duration_usec, warmup_usec;
	uint64_t seed;
	unsigned kill;
	unsigned dial_rate; /* agents started per second; 0: all at once */
	bool warmup;
} opt = {.n = 10, .interval_usec = 5 * USEC_PER_SEC, .duration_usec = 10 * USEC_PER_SEC};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *rtts; /* microseconds, heartbeat round trips */
static size_t n_rtts, cap_rtts;
static unsigned welcomed, pending, refused, errors;
static uint64_t heartbeats;
static bool measuring;

/* The main loop starts a request only when in_flight is clear; the callback
 * clears it last, after it decided not to send the next one itself. */
static void
set_in_flight(struct agent *a, bool v)
{
	__atomic_store_n(&a->in_flight, v, __ATOMIC_SEQ_CST);
}

static bool
get_in_flight(struct agent *a)
{
	return __atomic_load_n(&a->in_flight, __ATOMIC_SEQ_CST);
}

static void
send_env(struct agent *a, Rollwave__Envelope *env)
{
	_cleanup_free_ void *buf = NULL;
	nng_msg *m;
	size_t len;

	env->protocol_version = WIRE_PROTOCOL_VERSION;
	env->message_id = ++a->seq;
	if (wire_encode(env, &buf, &len) < 0 || nng_msg_alloc(&m, 0) != 0)
		abort();
	nng_msg_append(m, buf, len);
	a->sent_usec = now_monotonic_usec();
	set_in_flight(a, true);
	a->sending = true;
	nng_aio_set_msg(a->aio, m);
	nng_ctx_send(a->ctx, a->aio);
}

static void
send_hello(struct agent *a)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__Hello h = ROLLWAVE__HELLO__INIT;
	Rollwave__HostFacts f = ROLLWAVE__HOST_FACTS__INIT;
	Rollwave__Label l[2] = {ROLLWAVE__LABEL__INIT, ROLLWAVE__LABEL__INIT}, *lp[2];
	char name[64], ring[8];

	snprintf(name, sizeof(name), "sim-%05u", a->idx);
	snprintf(ring, sizeof(ring), "%u", a->idx % 3);
	l[0].key = "sim";
	l[0].value = "yes";
	l[1].key = "ring";
	l[1].value = ring;
	lp[0] = &l[0];
	lp[1] = &l[1];
	f.hostname = name;
	f.agent_version = ROLLWAVE_VERSION;
	f.labels = lp;
	f.n_labels = 2;
	h.host_key = (ProtobufCBinaryData) {32, a->pk};
	h.join_token = (char *)(opt.token ? opt.token : "");
	h.facts = &f;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	a->phase = S_HELLO;
	send_env(a, &env);
}

static void
send_heartbeat(struct agent *a)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__Heartbeat hb = ROLLWAVE__HEARTBEAT__INIT;

	Rollwave__AppStatus app = ROLLWAVE__APP_STATUS__INIT, *apps[1] = {&app};
	char cur[16];

	/* Each simulated host runs app 'sim' at one of three versions. */
	snprintf(cur, sizeof(cur), "1.0.%u", a->idx % 3);
	app.app = "sim";
	app.current = cur;
	app.previous = "";
	app.health = ROLLWAVE__HEALTH__HEALTH_HEALTHY;
	hb.apps = apps;
	hb.n_apps = 1;
	hb.seq = a->seq;
	hb.uptime_ms = 1;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	a->phase = S_HEARTBEAT;
	send_env(a, &env);
}

static void
agent_cb(void *arg)
{
	struct agent *a = arg;
	_cleanup_wire_free_ Rollwave__Envelope *env = NULL;
	struct rw_err err = {{0}};
	nng_msg *m;
	int rv = nng_aio_result(a->aio);

	if (rv != 0) {
		if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
			pthread_mutex_lock(&lock);
			errors++;
			pthread_mutex_unlock(&lock);
		}
		/* A failed send still owns its message. */
		if (a->sending) {
			m = nng_aio_get_msg(a->aio);
			if (m)
				nng_msg_free(m);
		}
		a->sending = false;
		nng_aio_set_msg(a->aio, NULL);
		a->next_usec = now_monotonic_usec() + USEC_PER_SEC;
		a->phase = a->host_id ? S_HEARTBEAT : S_HELLO;
		set_in_flight(a, false);
		return;
	}
	if (a->sending) {
		/* send completed: now receive the reply */
		a->sending = false;
		nng_aio_set_msg(a->aio, NULL);
		nng_ctx_recv(a->ctx, a->aio);
		return;
	}
	m = nng_aio_get_msg(a->aio);
	nng_aio_set_msg(a->aio, NULL);
	if (!m) {
		set_in_flight(a, false);
		return;
	}
	if (wire_decode(nng_msg_body(m), nng_msg_len(m), &env, &err) < 0) {
		nng_msg_free(m);
		pthread_mutex_lock(&lock);
		errors++;
		pthread_mutex_unlock(&lock);
		set_in_flight(a, false);
		return;
	}
	nng_msg_free(m);
	switch (env->body_case) {
	case ROLLWAVE__ENVELOPE__BODY_CHALLENGE: {
		Rollwave__Envelope out = ROLLWAVE__ENVELOPE__INIT;
		Rollwave__Auth au = ROLLWAVE__AUTH__INIT;
		uint8_t sig[64];

		wire_auth_sign(env->challenge->nonce.data, env->challenge->coordinator_key.data,
		        a->sk, sig);
		au.signature = (ProtobufCBinaryData) {64, sig};
		out.body_case = ROLLWAVE__ENVELOPE__BODY_AUTH;
		out.auth = &au;
		a->phase = S_AUTH;
		send_env(a, &out);
		return;
	}
	case ROLLWAVE__ENVELOPE__BODY_WELCOME:
		a->host_id = env->welcome->host_id;
		pthread_mutex_lock(&lock);
		welcomed++;
		if (a->pending) {
			pending--;
			a->pending = false;
		}
		pthread_mutex_unlock(&lock);
		a->phase = S_HEARTBEAT;
		a->next_usec = now_monotonic_usec() +
		        randombytes_uniform((uint32_t)(opt.interval_usec / 1000)) * 1000;
		break;
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK: {
		uint32_t rtt = (uint32_t)(now_monotonic_usec() - a->sent_usec);

		pthread_mutex_lock(&lock);
		heartbeats++;
		if (measuring) {
			if (n_rtts == cap_rtts) {
				cap_rtts = cap_rtts ? cap_rtts * 2 : 65536;
				rtts = realloc(rtts, cap_rtts * sizeof(*rtts));
			}
			if (rtts)
				rtts[n_rtts++] = rtt;
		}
		pthread_mutex_unlock(&lock);
		a->next_usec = a->sent_usec + opt.interval_usec;
		break;
	}
	case ROLLWAVE__ENVELOPE__BODY_ERROR:
		pthread_mutex_lock(&lock);
		if (env->error->code == ROLLWAVE__ERROR__CODE__PENDING) {
			if (!a->pending)
				pending++;
			a->pending = true;
			sscanf(env->error->message, "enrolled as host %" SCNu64, &a->host_id);
			if (!a->host_id)
				sscanf(env->error->message, "host %" SCNu64, &a->host_id);
		} else if (env->error->code == ROLLWAVE__ERROR__CODE__UNAUTHORIZED &&
		        a->phase == S_HEARTBEAT) {
			a->phase = S_HELLO; /* re-authenticate (new connection) */
		} else
			refused++;
		pthread_mutex_unlock(&lock);
		a->next_usec = now_monotonic_usec() + USEC_PER_SEC;
		if (a->phase != S_HELLO || a->pending)
			a->phase = a->pending ? S_DONE : a->phase;
		break;
	default:
		pthread_mutex_lock(&lock);
		errors++;
		pthread_mutex_unlock(&lock);
		break;
	}
	set_in_flight(a, false);
}

/* One admin request over --admin; the decoded reply in *ret. */
static int
admin_call(const char *url, Rollwave__AdminRequest *req, Rollwave__Envelope **ret)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	static uint64_t msgid;
	static nng_socket s;
	static bool open;
	_cleanup_free_ void *buf = NULL;
	struct rw_err err;
	void *rbuf = NULL;
	size_t len, rlen;
	int rv;

	if (!open) {
		if (nng_req0_open(&s) != 0 || nng_dial(s, url, NULL, 0) != 0)
			return -ECONNREFUSED;
		nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
		nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 10000);
		open = true;
	}
	env.protocol_version = WIRE_PROTOCOL_VERSION;
	env.message_id = ++msgid;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST;
	env.admin_request = req;
	if (wire_encode(&env, &buf, &len) < 0)
		return -EINVAL;
	rv = nng_send(s, buf, len, 0);
	if (rv == 0)
		rv = nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC);
	if (rv != 0)
		return -EIO;
	rv = wire_decode(rbuf, rlen, ret, &err);
	nng_free(rbuf, rlen);
	if (rv < 0)
		return rv;
	if ((*ret)->body_case != ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE) {
		wire_free(*ret);
		*ret = NULL;
		return -EPROTO;
	}
	return 0;
}

/* Accepts n pending hosts with one request, as `rollwave hosts accept
 * --all-pending` does. */
static int
admin_accept(const char *url, const uint64_t *ids, size_t n)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__HostAccept acc = ROLLWAVE__ADMIN_REQUEST__HOST_ACCEPT__INIT;
	Rollwave__Envelope *reply = NULL;
	int rv;

	acc.host_id = ids[0];
	acc.more_host_ids = (uint64_t *)ids + 1;
	acc.n_more_host_ids = n - 1;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT;
	req.host_accept = &acc;
	rv = admin_call(url, &req, &reply);
	if (rv < 0)
		return rv;
	rv = reply->admin_response->response_case == ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK
	        ? 0
	        : -EPERM;
	wire_free(reply);
	return rv;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Starts what is due: Hello for new agents, accepts for pending ones,
 * heartbeats for the others. */
static void
sim_step(struct agent *agents, unsigned n, uint64_t now)
{
	static uint64_t ids[WIRE_HOSTS_MAX];
	static struct agent *waiting[WIRE_HOSTS_MAX];
	size_t n_ids = 0;

	for (unsigned i = 0; i < n; i++) {
		struct agent *a = &agents[i];

		if (a->killed || get_in_flight(a) || a->next_usec > now)
			continue;
		if (a->phase == S_DONE && a->pending && opt.admin && a->host_id) {
			if (n_ids < WIRE_HOSTS_MAX) {
				waiting[n_ids] = a;
				ids[n_ids++] = a->host_id;
			}
			continue;
		}
		if (!a->dialed) {
			a->dialed = true;
			if (nng_dialer_start(a->dialer, NNG_FLAG_NONBLOCK) != 0) {
				pthread_mutex_lock(&lock);
				errors++;
				pthread_mutex_unlock(&lock);
				a->killed = true;
				continue;
			}
		}
		if (a->phase == S_HELLO)
			send_hello(a);
		else if (a->phase == S_HEARTBEAT && a->host_id)
			send_heartbeat(a);
	}
	/* The pending hosts of this round, accepted together. */
	if (n_ids) {
		bool ok = admin_accept(opt.admin, ids, n_ids) == 0;

		/* All or none: when one host spoils the batch, one by one (an
		 * agent whose accept fails says Hello again and learns why). */
		for (size_t i = 0; i < n_ids; i++) {
			if (ok || admin_accept(opt.admin, &ids[i], 1) == 0)
				waiting[i]->phase = S_HELLO;
			else {
				waiting[i]->phase = S_HELLO;
				waiting[i]->next_usec = now + USEC_PER_SEC;
			}
		}
	}
}

static bool
host_is_down(uint64_t host_id)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__GetHost get = ROLLWAVE__ADMIN_REQUEST__GET_HOST__INIT;
	Rollwave__Envelope *reply = NULL;
	bool down;

	get.host_id = host_id;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST;
	req.get_host = &get;
	if (admin_call(opt.admin, &req, &reply) < 0)
		return false;
	down = reply->admin_response->response_case ==
	                ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST &&
	        reply->admin_response->host_list->n_hosts == 1 &&
	        reply->admin_response->host_list->hosts[0]->state ==
	                ROLLWAVE__HOST_STATE__HOST_STATE_DOWN;
	wire_free(reply);
	return down;
}

/* Kills the last k agents (their connections close, they say nothing more)
 * while the others keep heartbeating, and returns how long the coordinator
 * took to report all of them down; 0 if not within 60 s. */
static uint64_t
kill_and_wait(struct agent *agents, unsigned n, unsigned k)
{
	uint64_t killed_at, next_check = 0;
	unsigned down = 0;

	for (unsigned i = n - k; i < n; i++) {
		agents[i].killed = true;
		nng_aio_stop(agents[i].aio);
		nng_close(agents[i].sock);
	}
	killed_at = now_monotonic_usec();
	while (now_monotonic_usec() - killed_at < 60 * USEC_PER_SEC) {
		uint64_t now = now_monotonic_usec();

		sim_step(agents, n, now);
		if (now >= next_check) {
			next_check = now + 100 * USEC_PER_MSEC;
			while (down < k && host_is_down(agents[n - k + down].host_id))
				down++;
			if (down == k)
				return now_monotonic_usec() - killed_at;
		}
		nng_msleep(5);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"url", required_argument, NULL, 'u'},
	        {"agents", required_argument, NULL, 'n'},
	        {"first", required_argument, NULL, 'f'},
	        {"token", required_argument, NULL, 't'},
	        {"admin", required_argument, NULL, 'a'},
	        {"ca", required_argument, NULL, 'c'},
	        {"interval-ms", required_argument, NULL, 'i'},
	        {"duration-s", required_argument, NULL, 'd'},
	        {"seed", required_argument, NULL, 's'},
	        {"warmup-s", required_argument, NULL, 'w'},
	        {"kill", required_argument, NULL, 'k'},
	        {"dial-rate", required_argument, NULL, 'r'},
	        {},
	};
	struct agent *agents;
	struct rlimit rl;
	uint64_t measured = 0;
	uint64_t start, end, v, measure_start = 0, enrolled_usec = 0, down_after_usec = 0;
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (ch) {
		case 'u':
			opt.url = optarg;
			break;
		case 't':
			opt.token = optarg;
			break;
		case 'a':
			opt.admin = optarg;
			break;
		case 'c':
			opt.ca = optarg;
			break;
		case 'n':
		case 'f':
		case 'i':
		case 'd':
		case 's':
		case 'w':
		case 'k':
		case 'r':
			if (parse_uint64(optarg, &v) < 0) {
				fprintf(stderr, "agentsim: bad number '%s'\n", optarg);
				return 2;
			}
			if (ch == 'n')
				opt.n = (unsigned)v;
			else if (ch == 'f')
				opt.first = (unsigned)v;
			else if (ch == 'i')
				opt.interval_usec = v * USEC_PER_MSEC;
			else if (ch == 'd')
				opt.duration_usec = v * USEC_PER_SEC;
			else if (ch == 'w') {
				opt.warmup_usec = v * USEC_PER_SEC;
				opt.warmup = true;
			} else if (ch == 'k')
				opt.kill = (unsigned)v;
			else if (ch == 'r')
				opt.dial_rate = (unsigned)v;
			else
				opt.seed = v;
			break;
		default:
			return 2;
		}
	}
	if (!opt.url || opt.n == 0 || opt.n > 100000 || opt.kill > opt.n ||
	        (opt.kill && !opt.admin)) {
		fprintf(stderr,
		        "usage: agentsim --url URL --agents N [--token T] [--admin URL] "
		        "[--ca FILE] [--interval-ms MS] [--duration-s S] [--seed S] "
		        "[--first N] [--warmup-s S] [--kill N (with --admin)] [--dial-rate N]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (strncmp(opt.url, "tls+tcp://", 10) == 0) {
		char host[256] = "localhost";
		const char *p = opt.url + 10, *colon = strrchr(p, ':');

		if (colon && (size_t)(colon - p) < sizeof(host)) {
			memcpy(host, p, (size_t)(colon - p));
			host[colon - p] = 0;
		}
		if (nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT) != 0 ||
		        (opt.ca && nng_tls_config_ca_file(tls, opt.ca) != 0) ||
		        nng_tls_config_server_name(tls, host) != 0 ||
		        nng_tls_config_auth_mode(tls,
		                opt.ca ? NNG_TLS_AUTH_MODE_REQUIRED : NNG_TLS_AUTH_MODE_NONE) !=
		                0) {
			fprintf(stderr, "agentsim: cannot set up TLS\n");
			return 1;
		}
	}
	agents = calloc(opt.n, sizeof(*agents));
	if (!agents)
		return 1;
	start = now_monotonic_usec();
	for (unsigned i = 0; i < opt.n; i++) {
		struct agent *a = &agents[i];
		uint8_t seed[32];
		char in[64];

		a->idx = opt.first + i;
		snprintf(in, sizeof(in), "agentsim %" PRIu64 " %u", opt.seed, a->idx);
		crypto_generichash(seed, sizeof(seed), (const uint8_t *)in, strlen(in), NULL, 0);
		crypto_sign_seed_keypair(a->pk, a->sk, seed);
		if (nng_req0_open(&a->sock) != 0 || nng_ctx_open(&a->ctx, a->sock) != 0 ||
		        nng_aio_alloc(&a->aio, agent_cb, a) != 0) {
			fprintf(stderr, "agentsim: cannot open socket %u\n", i);
			return 1;
		}
		nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE);
		nng_ctx_set_ms(a->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		nng_aio_set_timeout(a->aio, 10000);
		if (nng_dialer_create(&a->dialer, a->sock, opt.url) != 0 ||
		        (tls && nng_dialer_set_ptr(a->dialer, NNG_OPT_TLS_CONFIG, tls) != 0)) {
			fprintf(stderr, "agentsim: cannot dial %s\n", opt.url);
			return 1;
		}
		a->phase = S_HELLO;
		/* Dialed (and Hello sent) from the main loop at its start time. */
		if (opt.dial_rate)
			a->next_usec = start + (uint64_t)i * USEC_PER_SEC / opt.dial_rate;
	}

	end = start + opt.duration_usec;
	measuring = !opt.warmup;
	for (;;) {
		uint64_t now = now_monotonic_usec();

		if (!measuring && !measure_start) {
			unsigned w;

			pthread_mutex_lock(&lock);
			w = welcomed;
			pthread_mutex_unlock(&lock);
			if (w >= opt.n) {
				enrolled_usec = now - start;
				measure_start = now + opt.warmup_usec;
			} else if (now - start > 600 * USEC_PER_SEC) {
				fprintf(stderr,
				        "agentsim: only %u of %u agents welcomed after 600 s\n", w,
				        opt.n);
				break;
			}
		}
		if (measure_start && !measuring && now >= measure_start) {
			pthread_mutex_lock(&lock);
			measuring = true;
			heartbeats = 0;
			pthread_mutex_unlock(&lock);
			end = now + opt.duration_usec;
		}
		if (measuring && now >= end)
			break;
		sim_step(agents, opt.n, now);
		nng_msleep(5);
	}
	pthread_mutex_lock(&lock);
	measuring = false;
	measured = heartbeats;
	pthread_mutex_unlock(&lock);
	if (!enrolled_usec && welcomed >= opt.n)
		enrolled_usec = now_monotonic_usec() - start;
	if (opt.kill)
		down_after_usec = kill_and_wait(agents, opt.n, opt.kill);
	for (unsigned i = 0; i < opt.n; i++) {
		nng_aio_stop(agents[i].aio);
		nng_close(agents[i].sock);
	}

	pthread_mutex_lock(&lock);
	if (n_rtts)
		qsort(rtts, n_rtts, sizeof(*rtts), cmp_u32);
	printf("agents=%u welcomed=%u pending=%u refused=%u heartbeats=%" PRIu64
	       " errors=%u rtt_p50_ms=%.2f rtt_p99_ms=%.2f rtt_max_ms=%.2f rate_per_s=%.1f"
	       " enrol_s=%.2f",
	        opt.n, welcomed, pending, refused, measured, errors,
	        n_rtts ? rtts[n_rtts / 2] / 1000.0 : 0.0,
	        n_rtts ? rtts[(size_t)((double)n_rtts * 0.99)] / 1000.0 : 0.0,
	        n_rtts ? rtts[n_rtts - 1] / 1000.0 : 0.0,
	        (double)measured / ((double)opt.duration_usec / 1e6), (double)enrolled_usec / 1e6);
	if (opt.kill && down_after_usec)
		printf(" killed=%u down_after_s=%.2f", opt.kill, (double)down_after_usec / 1e6);
	else if (opt.kill)
		printf(" killed=%u down_after_s=none", opt.kill);
	printf("\n");
	pthread_mutex_unlock(&lock);
	free(rtts);
	free(agents);
	if (tls)
		nng_tls_config_free(tls);
	return 0;
}
