/*
 * agentsim: many simulated agents in one process, speaking the real wire
 * protocol to a real rollwave-coordinator (docs/protocol.md). Used by the
 * coordinator's tests and benchmarks; it installs nothing, but it runs the
 * coordinator's commands the way a real agent answers them.
 *
 *   agentsim --url URL --agents N [--token T] [--admin URL] [--ca FILE]
 *            [--interval-ms MS] [--duration-s S] [--seed S] [--first N]
 *            [--warmup-s S] [--kill N] [--dial-rate N]
 *            [--run] [--ready-file PATH] [--command-log PATH] [--no-poll]
 *            [--step-ms MS] [--phases] [--app-version V]
 *            [--fail-version V [--fail-agents P%|N|list:I,J-K] [--fail-result R]]
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
 *   commands=C cmd_committed=.. cmd_failed=.. cmd_refused=..
 *   rewelcomed=V err_CAUSE=N err_CAUSE_ECODE=N ...   (what errors=E were)
 *
 * With --warmup-s, round trips count only from the moment every agent was
 * welcomed plus that many seconds (steady state, not the enrolment storm);
 * --duration-s then runs from there. With --kill N (needs --admin), the last
 * N agents close their connections after the measurement while the others
 * keep heartbeating, and agentsim asks the coordinator every 100 ms until it
 * reports all N down, adding killed=N down_after_s=.. (or down_after_s=none
 * when they were not all down within 60 s). --dial-rate N starts N agents
 * a second (as a fleet booting over a while; real agents also back off with
 * jitter) instead of all at once. --run keeps going until SIGTERM or SIGINT
 * (or --duration-s, when given too), so that a script can drive deployments
 * with the real CLI meanwhile; --ready-file PATH is created once every agent
 * was welcomed. SIGTERM and SIGINT end any run early, with the line printed.
 *
 * Commands, as agent/daemon/link.c, commands.c handle them: once welcomed,
 * an agent keeps a long Poll outstanding on a second context of its socket
 * (heartbeats, acks and reports go on the first). A Command must verify with
 * the coordinator key pinned from the first Welcome (wire_command_verify())
 * and name this agent's host id, else it is refused (CommandAck
 * accepted=false with the reason); an id not above the highest one run is
 * acknowledged as "already executed"; a second command while one runs is
 * refused as "busy"; a command for another app than `sim` is refused. A
 * DEPLOY or ROLLBACK is acknowledged, takes --step-ms (default 200; with
 * --phases the intermediate PhaseReports FETCHING..HEALTH are spread over
 * it), then its final PhaseReport goes out: DEPLOY V commits (current
 * becomes V, previous the old current); ROLLBACK commits to to_version, or
 * to previous when it is empty (failed when there is none). CANCEL is
 * acknowledged only (the command it names finishes: the sim has no safe
 * point to stop at); MIGRATE, MIGRATE_DOWN and PREFLIGHT commit after the
 * step without changing the app. Heartbeats report the app as it is then,
 * always healthy, so the next one after a commit shows the new release.
 *
 * Every agent runs app `sim`: at --app-version V when given, otherwise at
 * 1.0.0, 1.0.1 or 1.0.2 by agent index modulo 3 (a mixed fleet, which
 * tests/integration/test_coordinator_fleet.sh counts). --fail-version V
 * makes deploys of V fail on the agents --fail-agents picks (default all):
 * P% or N of them spread evenly over the indices, or list:I,J-K by agent
 * index (hostname sim-0000I). They end ROLLED_BACK (--fail-result
 * rolled_back, the default: the agent swapped back on its own, so it
 * activated V) or FAILED (--fail-result failed: before activating), and
 * keep their release. --command-log PATH gets one line per command:
 *
 *   host_id index command_id kind version result issued_ms recv_ms final_ms
 *   healthy_ms
 *
 * (kind deploy|rollback|cancel|migrate|migrate_down|preflight; version the
 * deployed or rollback target, "-" when none; result committed, rolled_back,
 * failed, acked (cancel), replay or refused; the times are Unix ms: the
 * coordinator's issued_at_ms, when the agent got the command, when it
 * queued the final report, and when the coordinator acknowledged the first
 * heartbeat showing the outcome, 0 if none; a line is written then).
 * --no-poll leaves commands alone (heartbeats
 * only).
 */
#include <getopt.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sys/resource.h>
#include <time.h>

#include "tlsprefs.h"
#include "util.h"
#include "version.h"
#include "wire.h"

#define SIM_APP           "sim"
#define OUTBOX_MAX        16
#define POLL_TIMEOUT_MS   35000 /* longer than the coordinator's 25 s poll */
#define REPORT_TIMEOUT_MS 10000
#define SIM_TEXT_MAX      128

enum sim_phase { S_HELLO, S_AUTH, S_HEARTBEAT, S_DONE };

/* What the report context is waiting for an answer to. */
enum sim_report { R_SESSION, R_HEARTBEAT, R_OUTBOX };

enum fail_result { FAIL_ROLLED_BACK, FAIL_FAILED };

/* A CommandAck or PhaseReport waiting for the report context. */
struct sim_out {
	bool is_ack;
	uint64_t command_id;
	bool accepted;
	Rollwave__Phase phase;
	bool final, hook_absent;
	uint64_t elapsed_ms;
	char version[VERSION_MAX + 1];
	char text[SIM_TEXT_MAX]; /* ack: reason; report: error */
};

/* The command an agent runs (one at a time). */
struct sim_job {
	bool active;
	uint64_t command_id;
	Rollwave__Command__Kind kind;
	char version[VERSION_MAX + 1]; /* DEPLOY & co.: the version; ROLLBACK: to_version */
	bool fail;                     /* a deploy of --fail-version here */
	uint64_t issued_ms, recv_ms;   /* Unix ms */
	uint64_t start_usec, next_usec;
	unsigned step, n_steps; /* intermediate phase reports sent, to send */
};

/* A finished command's line of --command-log, written once the first
 * heartbeat that shows its outcome was acknowledged. */
struct sim_logrec {
	bool pending, carried; /* carried: a heartbeat showing it is in flight */
	uint64_t host_id, command_id;
	Rollwave__Command__Kind kind;
	char version[VERSION_MAX + 1];
	const char *result;
	uint64_t issued_ms, recv_ms, final_ms;
};

struct agent {
	unsigned idx;
	nng_socket sock;
	nng_ctx ctx; /* Hello, Auth, Heartbeat, CommandAck, PhaseReport */
	nng_aio *aio;
	uint8_t pk[32], sk[64];
	enum sim_phase phase;
	enum sim_report report;
	uint64_t host_id;
	uint64_t sent_usec;
	uint64_t next_usec;    /* no report-context request before this */
	uint64_t hb_next_usec; /* the next heartbeat */
	uint64_t seq;          /* message ids, both contexts (atomic) */
	bool pending;
	bool in_flight;
	bool sending; /* the aio runs the send half of a request */
	bool killed;
	bool dialed;
	bool closed;
	nng_dialer dialer;

	/* The long poll, on its own context as link.c's LINK_POLL. */
	nng_ctx poll_ctx;
	nng_aio *poll_aio;
	bool poll_sending;
	bool poll_in_flight;     /* atomic */
	uint64_t poll_next_usec; /* atomic */
	bool session_up;         /* atomic: welcomed on the current connection */
	bool ever_welcomed;      /* under lock: counted in welcomed */

	bool fails; /* deploys of --fail-version fail here */

	pthread_mutex_t mu; /* guards everything below */
	uint8_t coord_key[32];
	bool have_key;
	char current[VERSION_MAX + 1], previous[VERSION_MAX + 1];
	uint64_t highest_cmd;
	struct sim_job job;
	struct sim_out outbox[OUTBOX_MAX];
	unsigned out_head, out_n;
	struct sim_logrec logrec;
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
	bool run; /* until a signal (or --duration-s when given) */
	bool duration_set;
	bool no_poll;
	bool phases;
	uint64_t step_usec;
	const char *app_version; /* NULL: 1.0.(idx % 3) */
	const char *fail_version;
	const char *fail_agents; /* NULL: all */
	enum fail_result fail_result;
	const char *ready_file, *command_log;
} opt = {
        .n = 10,
        .interval_usec = 5 * USEC_PER_SEC,
        .duration_usec = 10 * USEC_PER_SEC,
        .step_usec = 200 * USEC_PER_MSEC,
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *rtts; /* microseconds, heartbeat round trips */
static size_t n_rtts, cap_rtts;
/* welcomed counts agents (a first Welcome); rewelcomed the Welcomes of
 * agents that authenticated again on a new connection. */
static unsigned welcomed, rewelcomed, pending, refused, errors;

/* Why something counted in errors=: every cause is counted on its own, and
 * transport failures by nng error too, so that a run says what its errors
 * were (printed as err_CAUSE=N and err_CAUSE_ECODE=N). */
enum sim_error {
	SE_OUTBOX_FULL,    /* more final reports waiting than the outbox holds */
	SE_POLL_FAILED,    /* the long poll failed, not by its connection ending */
	SE_POLL_GARBLED,   /* a poll's answer did not decode */
	SE_POLL_REFUSED,   /* a poll answered with an error but UNAUTHORIZED */
	SE_ENROL_FAILED,   /* a Hello or Auth failed in transport (enrolling) */
	SE_REQ_FAILED,     /* a Heartbeat or report failed in transport */
	SE_REPLY_GARBLED,  /* a reply to one of those did not decode */
	SE_KEY_CHANGED,    /* a Welcome with another coordinator key than the first */
	SE_REPORT_REFUSED, /* a report answered with an error but UNAUTHORIZED */
	SE_REPLY_UNKNOWN,  /* a reply of a kind the request does not expect */
	SE_DIAL_FAILED,    /* the dialer could not start */
	_SE_MAX
};
static const char *const sim_error_names[_SE_MAX] = {
        [SE_OUTBOX_FULL] = "outbox_full",
        [SE_POLL_FAILED] = "poll_failed",
        [SE_POLL_GARBLED] = "poll_garbled",
        [SE_POLL_REFUSED] = "poll_refused",
        [SE_ENROL_FAILED] = "enrol_failed",
        [SE_REQ_FAILED] = "request_failed",
        [SE_REPLY_GARBLED] = "reply_garbled",
        [SE_KEY_CHANGED] = "key_changed",
        [SE_REPORT_REFUSED] = "report_refused",
        [SE_REPLY_UNKNOWN] = "reply_unknown",
        [SE_DIAL_FAILED] = "dial_failed",
};
#define SIM_RV_SLOTS 33 /* nng's error numbers 0..31; the last slot: others */
static unsigned sim_errors[_SE_MAX][SIM_RV_SLOTS];
static uint64_t heartbeats;
static bool measuring;
static unsigned commands, cmd_committed, cmd_failed, cmd_refused;
static FILE *cmdlog;
static volatile sig_atomic_t stop_signal;

static uint64_t
unix_ms(void)
{
	return now_realtime_usec() / USEC_PER_MSEC;
}

static void
count(unsigned *what)
{
	pthread_mutex_lock(&lock);
	(*what)++;
	pthread_mutex_unlock(&lock);
}

/* Counts one error of cause why; rv: the nng error behind it (0: none). */
static void
count_error(enum sim_error why, int rv)
{
	size_t slot = rv >= 0 && rv < SIM_RV_SLOTS - 1 ? (size_t)rv : SIM_RV_SLOTS - 1;

	pthread_mutex_lock(&lock);
	errors++;
	sim_errors[why][slot]++;
	pthread_mutex_unlock(&lock);
}

/* The name of an nng error for err_CAUSE_NAME=: its errno-style macro. */
static const char *
nng_error_name(size_t rv)
{
	static const char *const names[SIM_RV_SLOTS] = {
	        [NNG_EINTR] = "EINTR",
	        [NNG_ENOMEM] = "ENOMEM",
	        [NNG_EINVAL] = "EINVAL",
	        [NNG_EBUSY] = "EBUSY",
	        [NNG_ETIMEDOUT] = "ETIMEDOUT",
	        [NNG_ECONNREFUSED] = "ECONNREFUSED",
	        [NNG_ECLOSED] = "ECLOSED",
	        [NNG_EAGAIN] = "EAGAIN",
	        [NNG_ENOTSUP] = "ENOTSUP",
	        [NNG_EADDRINUSE] = "EADDRINUSE",
	        [NNG_ESTATE] = "ESTATE",
	        [NNG_ENOENT] = "ENOENT",
	        [NNG_EPROTO] = "EPROTO",
	        [NNG_EUNREACHABLE] = "EUNREACHABLE",
	        [NNG_EADDRINVAL] = "EADDRINVAL",
	        [NNG_EPERM] = "EPERM",
	        [NNG_EMSGSIZE] = "EMSGSIZE",
	        [NNG_ECONNABORTED] = "ECONNABORTED",
	        [NNG_ECONNRESET] = "ECONNRESET",
	        [NNG_ECANCELED] = "ECANCELED",
	        [NNG_ENOFILES] = "ENOFILES",
	        [NNG_ENOSPC] = "ENOSPC",
	        [NNG_EEXIST] = "EEXIST",
	        [NNG_EREADONLY] = "EREADONLY",
	        [NNG_EWRITEONLY] = "EWRITEONLY",
	        [NNG_ECRYPTO] = "ECRYPTO",
	        [NNG_EPEERAUTH] = "EPEERAUTH",
	        [NNG_ENOARG] = "ENOARG",
	        [NNG_EAMBIGUOUS] = "EAMBIGUOUS",
	        [NNG_EBADTYPE] = "EBADTYPE",
	        [NNG_ECONNSHUT] = "ECONNSHUT",
	};

	return rv < SIM_RV_SLOTS && names[rv] ? names[rv] : "EOTHER";
}

/* err_CAUSE=N for every cause seen, then err_CAUSE_ECODE=N for the nng
 * errors behind it. Called with lock held. */
static void
print_errors(void)
{
	for (size_t why = 0; why < _SE_MAX; why++) {
		unsigned total = 0;

		for (size_t rv = 0; rv < SIM_RV_SLOTS; rv++)
			total += sim_errors[why][rv];
		if (!total)
			continue;
		printf(" err_%s=%u", sim_error_names[why], total);
		for (size_t rv = 1; rv < SIM_RV_SLOTS; rv++)
			if (sim_errors[why][rv])
				printf(" err_%s_%s=%u", sim_error_names[why], nng_error_name(rv),
				        sim_errors[why][rv]);
	}
}

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

static uint64_t
next_msgid(struct agent *a)
{
	return __atomic_add_fetch(&a->seq, 1, __ATOMIC_SEQ_CST);
}

static nng_msg *
env_msg(struct agent *a, Rollwave__Envelope *env)
{
	_cleanup_free_ void *buf = NULL;
	nng_msg *m;
	size_t len;

	env->protocol_version = WIRE_PROTOCOL_VERSION;
	env->message_id = next_msgid(a);
	if (wire_encode(env, &buf, &len) < 0 || nng_msg_alloc(&m, 0) != 0)
		abort();
	if (nng_msg_append(m, buf, len) != 0)
		abort();
	return m;
}

static void
send_env(struct agent *a, Rollwave__Envelope *env)
{
	nng_msg *m = env_msg(a, env);

	a->sent_usec = now_monotonic_usec();
	set_in_flight(a, true);
	a->sending = true;
	nng_aio_set_msg(a->aio, m);
	nng_ctx_send(a->ctx, a->aio);
}

/* The app as a heartbeat reports it; the strings point into a (copies made
 * under its lock by the caller) and rel. */
static void
app_fill(Rollwave__AppStatus *app, char *current, char *previous, char *rel[2])
{
	app->app = (char *)SIM_APP;
	app->current = current;
	app->previous = previous;
	app->health = ROLLWAVE__HEALTH__HEALTH_HEALTHY;
	app->n_releases = 0;
	if (current[0])
		rel[app->n_releases++] = current;
	if (previous[0] && !streq(previous, current))
		rel[app->n_releases++] = previous;
	app->releases = app->n_releases ? rel : NULL;
}

static void
app_snapshot(struct agent *a, char *current, char *previous)
{
	pthread_mutex_lock(&a->mu);
	memcpy(current, a->current, VERSION_MAX + 1);
	memcpy(previous, a->previous, VERSION_MAX + 1);
	pthread_mutex_unlock(&a->mu);
}

static void
send_hello(struct agent *a)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__Hello h = ROLLWAVE__HELLO__INIT;
	Rollwave__HostFacts f = ROLLWAVE__HOST_FACTS__INIT;
	Rollwave__Label l[2] = {ROLLWAVE__LABEL__INIT, ROLLWAVE__LABEL__INIT}, *lp[2];
	Rollwave__AppStatus app = ROLLWAVE__APP_STATUS__INIT, *apps[1] = {&app};
	char name[64], ring[8], cur[VERSION_MAX + 1], prev[VERSION_MAX + 1], *rel[2];

	snprintf(name, sizeof(name), "sim-%05u", a->idx);
	snprintf(ring, sizeof(ring), "%u", a->idx % 3);
	l[0].key = "sim";
	l[0].value = "yes";
	l[1].key = "ring";
	l[1].value = ring;
	lp[0] = &l[0];
	lp[1] = &l[1];
	app_snapshot(a, cur, prev);
	app_fill(&app, cur, prev, rel);
	f.hostname = name;
	f.agent_version = ROLLWAVE_VERSION;
	f.labels = lp;
	f.n_labels = 2;
	f.apps = apps;
	f.n_apps = 1;
	h.host_key = (ProtobufCBinaryData) {32, a->pk};
	h.join_token = (char *)(opt.token ? opt.token : "");
	h.facts = &f;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	a->phase = S_HELLO;
	a->report = R_SESSION;
	send_env(a, &env);
}

static void
send_heartbeat(struct agent *a)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__Heartbeat hb = ROLLWAVE__HEARTBEAT__INIT;
	Rollwave__AppStatus app = ROLLWAVE__APP_STATUS__INIT, *apps[1] = {&app};
	char cur[VERSION_MAX + 1], prev[VERSION_MAX + 1], *rel[2];

	app_snapshot(a, cur, prev);
	app_fill(&app, cur, prev, rel);
	pthread_mutex_lock(&a->mu);
	if (a->logrec.pending)
		a->logrec.carried = true;
	pthread_mutex_unlock(&a->mu);
	hb.apps = apps;
	hb.n_apps = 1;
	hb.seq = __atomic_load_n(&a->seq, __ATOMIC_SEQ_CST);
	hb.uptime_ms = 1;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	a->phase = S_HEARTBEAT;
	a->report = R_HEARTBEAT;
	send_env(a, &env);
}

/* Sends the oldest queued ack or report; it leaves the queue when the
 * coordinator acknowledged it. */
static bool
send_outbox(struct agent *a)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__CommandAck ack = ROLLWAVE__COMMAND_ACK__INIT;
	Rollwave__PhaseReport rep = ROLLWAVE__PHASE_REPORT__INIT;
	struct sim_out o;

	pthread_mutex_lock(&a->mu);
	if (!a->out_n) {
		pthread_mutex_unlock(&a->mu);
		return false;
	}
	o = a->outbox[a->out_head];
	pthread_mutex_unlock(&a->mu);
	if (o.is_ack) {
		ack.command_id = o.command_id;
		ack.accepted = o.accepted;
		ack.reason = o.text;
		env.body_case = ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK;
		env.command_ack = &ack;
	} else {
		rep.app = (char *)SIM_APP;
		rep.version = o.version;
		rep.phase = o.phase;
		rep.elapsed_ms = o.elapsed_ms;
		rep.error = o.text;
		rep.command_id = o.command_id;
		rep.final = o.final;
		rep.hook_absent = o.hook_absent;
		env.body_case = ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT;
		env.phase_report = &rep;
	}
	a->report = R_OUTBOX;
	send_env(a, &env);
	return true;
}

/* Called with a->mu held. */
static void
outbox_push(struct agent *a, const struct sim_out *o)
{
	if (a->out_n == OUTBOX_MAX) {
		count_error(SE_OUTBOX_FULL, 0); /* never with one command at a time */
		return;
	}
	a->outbox[(a->out_head + a->out_n) % OUTBOX_MAX] = *o;
	a->out_n++;
}

static void
outbox_pop(struct agent *a)
{
	pthread_mutex_lock(&a->mu);
	if (a->out_n) {
		a->out_head = (a->out_head + 1) % OUTBOX_MAX;
		a->out_n--;
	}
	pthread_mutex_unlock(&a->mu);
}

static const char *
kind_name(Rollwave__Command__Kind k)
{
	switch (k) {
	case ROLLWAVE__COMMAND__KIND__DEPLOY:
		return "deploy";
	case ROLLWAVE__COMMAND__KIND__ROLLBACK:
		return "rollback";
	case ROLLWAVE__COMMAND__KIND__MIGRATE:
		return "migrate";
	case ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN:
		return "migrate_down";
	case ROLLWAVE__COMMAND__KIND__PREFLIGHT:
		return "preflight";
	case ROLLWAVE__COMMAND__KIND__CANCEL:
		return "cancel";
	default:
		return "unknown";
	}
}

static void
log_command(const struct agent *a, uint64_t host_id, uint64_t command_id, const char *kind,
        const char *version, const char *result, uint64_t issued_ms, uint64_t recv_ms,
        uint64_t final_ms, uint64_t healthy_ms)
{
	if (!cmdlog)
		return;
	pthread_mutex_lock(&lock);
	fprintf(cmdlog,
	        "%" PRIu64 " %u %" PRIu64 " %s %s %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
	        "\n",
	        host_id, a->idx, command_id, kind, isempty(version) ? "-" : version, result,
	        issued_ms, recv_ms, final_ms, healthy_ms);
	pthread_mutex_unlock(&lock);
}

static void
logrec_write(const struct agent *a, const struct sim_logrec *r, uint64_t healthy_ms)
{
	log_command(a, r->host_id, r->command_id, kind_name(r->kind), r->version, r->result,
	        r->issued_ms, r->recv_ms, r->final_ms, healthy_ms);
}

/* Poll thread: what a real agent does with a command (link_command_check()
 * and daemon.c's on_command()), without running anything yet. */
static void
on_command(struct agent *a, const Rollwave__Command *cmd)
{
	uint64_t host_id = __atomic_load_n(&a->host_id, __ATOMIC_SEQ_CST);
	uint64_t recv_ms = unix_ms();
	struct sim_out ack = {.is_ack = true, .command_id = cmd->command_id, .accepted = false};
	const char *version =
	        cmd->kind == ROLLWAVE__COMMAND__KIND__ROLLBACK ? cmd->to_version : cmd->version;
	const char *result = "refused";

	count(&commands);
	pthread_mutex_lock(&a->mu);
	if (!a->have_key)
		strbuf_printf(ack.text, sizeof(ack.text), "no coordinator key pinned on this host");
	else if (wire_command_verify(cmd, a->coord_key) < 0)
		strbuf_printf(ack.text, sizeof(ack.text),
		        "signature does not verify with the pinned coordinator key");
	else if (cmd->host_id != host_id)
		strbuf_printf(ack.text, sizeof(ack.text),
		        "command for host %" PRIu64 ", this is host %" PRIu64, cmd->host_id,
		        host_id);
	else if (cmd->command_id <= a->highest_cmd) {
		ack.accepted = true;
		strbuf_printf(ack.text, sizeof(ack.text), "already executed");
		result = "replay";
	} else if (cmd->kind == ROLLWAVE__COMMAND__KIND__CANCEL) {
		/* Done once acknowledged; the command it names finishes. */
		a->highest_cmd = cmd->command_id;
		ack.accepted = true;
		result = "acked";
	} else if (a->job.active)
		strbuf_printf(ack.text, sizeof(ack.text), "busy");
	else if (!streq(cmd->app, SIM_APP))
		strbuf_printf(ack.text, sizeof(ack.text), "app '%s' is not configured on this host",
		        cmd->app);
	else {
		struct sim_job *j = &a->job;

		a->highest_cmd = cmd->command_id;
		*j = (struct sim_job) {
		        .active = true,
		        .command_id = cmd->command_id,
		        .kind = cmd->kind,
		        .issued_ms = cmd->issued_at_ms,
		        .recv_ms = recv_ms,
		        .start_usec = now_monotonic_usec(),
		};
		strbuf_printf(j->version, sizeof(j->version), "%s", version);
		j->fail = cmd->kind == ROLLWAVE__COMMAND__KIND__DEPLOY && a->fails &&
		        opt.fail_version && streq(cmd->version, opt.fail_version);
		if (opt.phases)
			j->n_steps = cmd->kind == ROLLWAVE__COMMAND__KIND__DEPLOY
			        ? (j->fail && opt.fail_result == FAIL_FAILED ? 2 : 6)
			        : cmd->kind == ROLLWAVE__COMMAND__KIND__ROLLBACK ? 3
			                                                         : 0;
		j->next_usec = j->start_usec + opt.step_usec / (j->n_steps + 1);
		ack.accepted = true;
		result = NULL; /* logged when it ends */
	}
	outbox_push(a, &ack);
	pthread_mutex_unlock(&a->mu);
	if (!ack.accepted)
		count(&cmd_refused);
	if (result)
		log_command(a, host_id, cmd->command_id, kind_name(cmd->kind), version, result,
		        cmd->issued_at_ms, recv_ms, recv_ms, 0);
}

/* Main loop: the running command's next report, when it is due. Called with
 * a->mu held; returns the outcome to log for a final one, else NULL. */
static const char *
job_advance(struct agent *a, uint64_t now)
{
	static const Rollwave__Phase deploy_phases[] = {ROLLWAVE__PHASE__PHASE_FETCHING,
	        ROLLWAVE__PHASE__PHASE_VERIFYING, ROLLWAVE__PHASE__PHASE_UNPACKING,
	        ROLLWAVE__PHASE__PHASE_ACTIVATING, ROLLWAVE__PHASE__PHASE_RESTARTING,
	        ROLLWAVE__PHASE__PHASE_HEALTH};
	struct sim_job *j = &a->job;
	struct sim_out o = {.command_id = j->command_id};
	const char *result = "committed";

	strbuf_printf(o.version, sizeof(o.version), "%s", j->version);
	o.elapsed_ms = (now - j->start_usec) / USEC_PER_MSEC;
	if (j->step < j->n_steps) {
		o.phase = deploy_phases[j->kind == ROLLWAVE__COMMAND__KIND__ROLLBACK ? 3 + j->step
		                                                                     : j->step];
		j->step++;
		j->next_usec = j->start_usec + opt.step_usec * (j->step + 1) / (j->n_steps + 1);
		outbox_push(a, &o);
		return NULL;
	}
	o.final = true;
	o.phase = ROLLWAVE__PHASE__PHASE_COMMITTED;
	switch (j->kind) {
	case ROLLWAVE__COMMAND__KIND__DEPLOY:
		if (j->fail) {
			bool rb = opt.fail_result == FAIL_ROLLED_BACK;

			o.phase = rb ? ROLLWAVE__PHASE__PHASE_ROLLED_BACK
			             : ROLLWAVE__PHASE__PHASE_FAILED;
			strbuf_printf(o.text, sizeof(o.text),
			        rb ? "simulated: %s was unhealthy; rolled back to %s"
			           : "simulated: %s failed before activating; %s stays",
			        j->version, a->current[0] ? a->current : "nothing");
			result = rb ? "rolled_back" : "failed";
		} else if (!streq(a->current, j->version)) {
			memcpy(a->previous, a->current, sizeof(a->previous));
			strbuf_printf(a->current, sizeof(a->current), "%s", j->version);
		}
		break;
	case ROLLWAVE__COMMAND__KIND__ROLLBACK: {
		char to[VERSION_MAX + 1];

		strbuf_printf(to, sizeof(to), "%s", j->version[0] ? j->version : a->previous);
		if (!to[0]) {
			o.phase = ROLLWAVE__PHASE__PHASE_FAILED;
			strbuf_printf(
			        o.text, sizeof(o.text), "no previous release to roll back to");
			strbuf_printf(o.version, sizeof(o.version), "%s", a->current);
			result = "failed";
			break;
		}
		strbuf_printf(o.version, sizeof(o.version), "%s", to);
		memcpy(j->version, to, sizeof(j->version));
		if (!streq(a->current, to)) {
			memcpy(a->previous, a->current, sizeof(a->previous));
			memcpy(a->current, to, sizeof(a->current));
		}
		break;
	}
	case ROLLWAVE__COMMAND__KIND__MIGRATE:
	case ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN:
		o.hook_absent = true;
		break;
	default:
		break;
	}
	/* A report must name a valid version: the release current now if
	 * the command had none. */
	if (!o.version[0])
		strbuf_printf(
		        o.version, sizeof(o.version), "%s", a->current[0] ? a->current : "0.0.0");
	j->active = false;
	outbox_push(a, &o);
	return result;
}

static void
send_poll(struct agent *a)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__Poll p = ROLLWAVE__POLL__INIT;
	nng_msg *m;

	env.body_case = ROLLWAVE__ENVELOPE__BODY_POLL;
	env.poll = &p;
	m = env_msg(a, &env);
	__atomic_store_n(&a->poll_in_flight, true, __ATOMIC_SEQ_CST);
	a->poll_sending = true;
	nng_aio_set_msg(a->poll_aio, m);
	nng_ctx_send(a->poll_ctx, a->poll_aio);
}

/* The poll is over; the main loop sends the next one from delay_usec on. */
static void
poll_done(struct agent *a, uint64_t delay_usec)
{
	__atomic_store_n(&a->poll_next_usec, now_monotonic_usec() + delay_usec, __ATOMIC_SEQ_CST);
	__atomic_store_n(&a->poll_in_flight, false, __ATOMIC_SEQ_CST);
}

static void
poll_cb(void *arg)
{
	struct agent *a = arg;
	_cleanup_wire_free_ Rollwave__Envelope *env = NULL;
	struct rw_err err = {{0}};
	int rv = nng_aio_result(a->poll_aio);
	nng_msg *m;

	if (rv != 0) {
		/* A parked poll ends with the connection when the coordinator
		 * goes away: polled again, as the real agent does. */
		if (rv != NNG_ECLOSED && rv != NNG_ECANCELED && rv != NNG_ETIMEDOUT &&
		        rv != NNG_ECONNRESET && rv != NNG_ECONNSHUT)
			count_error(SE_POLL_FAILED, rv);
		if (a->poll_sending) {
			m = nng_aio_get_msg(a->poll_aio);
			if (m)
				nng_msg_free(m);
		}
		a->poll_sending = false;
		nng_aio_set_msg(a->poll_aio, NULL);
		poll_done(a, rv == NNG_ETIMEDOUT ? 0 : USEC_PER_SEC);
		return;
	}
	if (a->poll_sending) {
		a->poll_sending = false;
		nng_aio_set_msg(a->poll_aio, NULL);
		nng_ctx_recv(a->poll_ctx, a->poll_aio);
		return;
	}
	m = nng_aio_get_msg(a->poll_aio);
	nng_aio_set_msg(a->poll_aio, NULL);
	if (!m) {
		poll_done(a, USEC_PER_SEC);
		return;
	}
	if (wire_decode(nng_msg_body(m), nng_msg_len(m), &env, &err) < 0) {
		nng_msg_free(m);
		count_error(SE_POLL_GARBLED, 0);
		poll_done(a, USEC_PER_SEC);
		return;
	}
	nng_msg_free(m);
	switch (env->body_case) {
	case ROLLWAVE__ENVELOPE__BODY_POLL:
		break;
	case ROLLWAVE__ENVELOPE__BODY_COMMAND:
		on_command(a, env->command);
		break;
	case ROLLWAVE__ENVELOPE__BODY_ERROR:
		/* UNAUTHORIZED: the session is gone; the report context
		 * authenticates again and the poll follows. */
		if (env->error->code != ROLLWAVE__ERROR__CODE__UNAUTHORIZED)
			count_error(SE_POLL_REFUSED, 0);
		poll_done(a, USEC_PER_SEC);
		return;
	default:
		count_error(SE_REPLY_UNKNOWN, 0);
		poll_done(a, USEC_PER_SEC);
		return;
	}
	/* At once, like the real agent, while the session lasts. */
	if (__atomic_load_n(&a->session_up, __ATOMIC_SEQ_CST))
		send_poll(a);
	else
		poll_done(a, 0);
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
		if (rv != NNG_ECLOSED && rv != NNG_ECANCELED)
			count_error(a->phase == S_HEARTBEAT ? SE_REQ_FAILED : SE_ENROL_FAILED, rv);
		/* A failed send still owns its message. */
		if (a->sending) {
			m = nng_aio_get_msg(a->aio);
			if (m)
				nng_msg_free(m);
		}
		a->sending = false;
		nng_aio_set_msg(a->aio, NULL);
		a->next_usec = now_monotonic_usec() + USEC_PER_SEC;
		/* Only a welcomed session heartbeats; one that failed during
		 * Hello/Auth (a pending host too: it has an id but no session)
		 * starts over. */
		a->phase =
		        __atomic_load_n(&a->session_up, __ATOMIC_SEQ_CST) ? S_HEARTBEAT : S_HELLO;
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
		count_error(SE_REPLY_GARBLED, 0);
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
	case ROLLWAVE__ENVELOPE__BODY_WELCOME: {
		bool key_ok = true;

		__atomic_store_n(&a->host_id, env->welcome->host_id, __ATOMIC_SEQ_CST);
		/* The first Welcome pins the coordinator key, as the real agent
		 * does; a later one with another key changes nothing (and its
		 * commands will not verify). */
		pthread_mutex_lock(&a->mu);
		if (!a->have_key) {
			memcpy(a->coord_key, env->welcome->coordinator_key.data, 32);
			a->have_key = true;
		} else if (memcmp(a->coord_key, env->welcome->coordinator_key.data, 32) != 0)
			key_ok = false;
		pthread_mutex_unlock(&a->mu);
		pthread_mutex_lock(&lock);
		if (a->ever_welcomed)
			rewelcomed++;
		else
			welcomed++;
		a->ever_welcomed = true;
		if (!key_ok) {
			errors++; /* count_error() without the lock we hold */
			sim_errors[SE_KEY_CHANGED][0]++;
		}
		if (a->pending) {
			pending--;
			a->pending = false;
		}
		pthread_mutex_unlock(&lock);
		a->phase = S_HEARTBEAT;
		a->next_usec = now_monotonic_usec();
		a->hb_next_usec = a->next_usec +
		        randombytes_uniform((uint32_t)(opt.interval_usec / 1000)) * 1000;
		__atomic_store_n(&a->poll_next_usec, a->next_usec, __ATOMIC_SEQ_CST);
		__atomic_store_n(&a->session_up, true, __ATOMIC_SEQ_CST);
		break;
	}
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK: {
		uint32_t rtt = (uint32_t)(now_monotonic_usec() - a->sent_usec);
		struct sim_logrec done = {0};

		if (a->report == R_OUTBOX) {
			outbox_pop(a);
			break;
		}
		pthread_mutex_lock(&a->mu);
		if (a->logrec.pending && a->logrec.carried) {
			done = a->logrec;
			a->logrec.pending = false;
		}
		pthread_mutex_unlock(&a->mu);
		if (done.pending)
			logrec_write(a, &done, unix_ms());
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
		a->hb_next_usec = a->sent_usec + opt.interval_usec;
		break;
	}
	case ROLLWAVE__ENVELOPE__BODY_ERROR:
		if (a->report == R_OUTBOX &&
		        env->error->code != ROLLWAVE__ERROR__CODE__UNAUTHORIZED) {
			/* Refused: it would be refused again. */
			outbox_pop(a);
			count_error(SE_REPORT_REFUSED, 0);
			break;
		}
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
			__atomic_store_n(&a->session_up, false, __ATOMIC_SEQ_CST);
		} else
			refused++;
		pthread_mutex_unlock(&lock);
		a->next_usec = now_monotonic_usec() + USEC_PER_SEC;
		if (a->phase != S_HELLO || a->pending)
			a->phase = a->pending ? S_DONE : a->phase;
		break;
	default:
		count_error(SE_REPLY_UNKNOWN, 0);
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

/* Moves the command an agent runs on; logs it when it ends. */
static void
job_step(struct agent *a, uint64_t now)
{
	struct sim_logrec old = {0};
	const char *result = NULL;
	uint64_t host_id = __atomic_load_n(&a->host_id, __ATOMIC_SEQ_CST);

	pthread_mutex_lock(&a->mu);
	if (!a->job.active || now < a->job.next_usec) {
		pthread_mutex_unlock(&a->mu);
		return;
	}
	result = job_advance(a, now);
	if (result) {
		const struct sim_job *j = &a->job;

		old = a->logrec; /* one that never saw a heartbeat */
		a->logrec = (struct sim_logrec) {
		        .pending = true,
		        .host_id = host_id,
		        .command_id = j->command_id,
		        .kind = j->kind,
		        .result = result,
		        .issued_ms = j->issued_ms,
		        .recv_ms = j->recv_ms,
		        .final_ms = unix_ms(),
		};
		memcpy(a->logrec.version, j->version, sizeof(a->logrec.version));
	}
	pthread_mutex_unlock(&a->mu);
	if (!result)
		return;
	count(streq(result, "committed") ? &cmd_committed : &cmd_failed);
	if (old.pending)
		logrec_write(a, &old, 0);
}

/* Starts what is due: Hello for new agents, accepts for pending ones,
 * acks, reports and heartbeats for the others, and their long polls. */
static void
sim_step(struct agent *agents, unsigned n, uint64_t now)
{
	static uint64_t ids[WIRE_HOSTS_MAX];
	static struct agent *waiting[WIRE_HOSTS_MAX];
	size_t n_ids = 0;

	for (unsigned i = 0; i < n; i++) {
		struct agent *a = &agents[i];

		if (a->killed)
			continue;
		job_step(a, now);
		if (!opt.no_poll && __atomic_load_n(&a->session_up, __ATOMIC_SEQ_CST) &&
		        !__atomic_load_n(&a->poll_in_flight, __ATOMIC_SEQ_CST) &&
		        __atomic_load_n(&a->poll_next_usec, __ATOMIC_SEQ_CST) <= now)
			send_poll(a);
		if (get_in_flight(a) || a->next_usec > now)
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
				count_error(SE_DIAL_FAILED, 0);
				a->killed = true;
				continue;
			}
		}
		if (a->phase == S_HELLO) {
			send_hello(a);
			continue;
		}
		if (a->phase != S_HEARTBEAT || !a->host_id)
			continue;
		/* Acks and reports first: the coordinator waits for them. */
		if (__atomic_load_n(&a->session_up, __ATOMIC_SEQ_CST) && send_outbox(a))
			continue;
		if (a->hb_next_usec <= now)
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

static void
agent_close(struct agent *a)
{
	if (a->closed)
		return;
	a->closed = true;
	nng_aio_stop(a->aio);
	nng_aio_stop(a->poll_aio);
	nng_close(a->sock);
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
		agent_close(&agents[i]);
	}
	killed_at = now_monotonic_usec();
	while (now_monotonic_usec() - killed_at < 60 * USEC_PER_SEC && !stop_signal) {
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

/* --fail-agents: P% or N agents spread evenly over the run's indices, or
 * list:I,J-K by agent index. */
static int
fail_pick(struct agent *agents, unsigned n, const char *spec)
{
	uint64_t a, b;

	if (!spec) {
		for (unsigned i = 0; i < n; i++)
			agents[i].fails = true;
		return 0;
	}
	if (strncmp(spec, "list:", 5) == 0) {
		_cleanup_free_ char *copy = strdup(spec + 5);
		char *save = NULL;

		if (!copy)
			return -ENOMEM;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			char *dash = strchr(t, '-');

			if (dash)
				*dash = 0;
			if (parse_uint64(t, &a) < 0 || (dash && parse_uint64(dash + 1, &b) < 0))
				return -EINVAL;
			if (!dash)
				b = a;
			for (unsigned i = 0; i < n; i++)
				if (agents[i].idx >= a && agents[i].idx <= b)
					agents[i].fails = true;
		}
		return 0;
	}
	/* share = num / den of the agents: P% with up to two decimals, or N. */
	{
		uint64_t num, den;
		const char *pct = strchr(spec, '%');
		char buf[32];

		if (pct) {
			uint64_t whole = 0, frac = 0, scale = 100;
			const char *dot;

			if (pct[1] || (size_t)(pct - spec) >= sizeof(buf))
				return -EINVAL;
			memcpy(buf, spec, (size_t)(pct - spec));
			buf[pct - spec] = 0;
			dot = strchr(buf, '.');
			if (dot) {
				size_t nd = strlen(dot + 1);

				if (nd < 1 || nd > 2 || parse_uint64(dot + 1, &frac) < 0)
					return -EINVAL;
				if (nd == 1)
					frac *= 10;
				buf[dot - buf] = 0;
			}
			if (parse_uint64(buf, &whole) < 0 || whole > 100 || (whole == 100 && frac))
				return -EINVAL;
			num = whole * scale + frac; /* basis points */
			den = 100 * scale;
		} else {
			if (parse_uint64(spec, &num) < 0)
				return -EINVAL;
			den = n;
			if (num > den)
				num = den;
		}
		/* Agent i fails when (i + 1) * share steps over an integer. */
		for (unsigned i = 0; i < n; i++)
			agents[i].fails = ((uint64_t)i + 1) * num / den > (uint64_t)i * num / den;
	}
	return 0;
}

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static int
write_ready_file(const char *path, unsigned n, uint64_t enrolled_usec)
{
	char tmp[4096];
	FILE *f;

	if (xsnprintf(tmp, sizeof(tmp), "%s.tmp", path) < 0)
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "agents=%u enrol_s=%.2f\n", n, (double)enrolled_usec / 1e6);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	        "usage: agentsim --url URL --agents N [--token T] [--admin URL] [--ca FILE]\n"
	        "        [--interval-ms MS] [--duration-s S] [--seed S] [--first N]\n"
	        "        [--warmup-s S] [--kill N (with --admin)] [--dial-rate N]\n"
	        "        [--run] [--ready-file PATH] [--command-log PATH] [--no-poll]\n"
	        "        [--step-ms MS] [--phases] [--app-version V]\n"
	        "        [--fail-version V [--fail-agents P%%|N|list:I,J-K]\n"
	        "         [--fail-result rolled_back|failed]]\n");
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
	        {"step-ms", required_argument, NULL, 'S'},
	        {"run", no_argument, NULL, 'R'},
	        {"ready-file", required_argument, NULL, 'Y'},
	        {"command-log", required_argument, NULL, 'L'},
	        {"no-poll", no_argument, NULL, 'N'},
	        {"phases", no_argument, NULL, 'P'},
	        {"app-version", required_argument, NULL, 'V'},
	        {"fail-version", required_argument, NULL, 'F'},
	        {"fail-agents", required_argument, NULL, 'A'},
	        {"fail-result", required_argument, NULL, 'E'},
	        {},
	};
	struct sigaction sa = {.sa_handler = on_signal};
	struct agent *agents;
	struct rlimit rl;
	uint64_t measured = 0;
	uint64_t start, end, v, measure_start = 0, enrolled_usec = 0, down_after_usec = 0;
	uint64_t measure_began, window_usec;
	bool ready_written = false;
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
		case 'R':
			opt.run = true;
			break;
		case 'Y':
			opt.ready_file = optarg;
			break;
		case 'L':
			opt.command_log = optarg;
			break;
		case 'N':
			opt.no_poll = true;
			break;
		case 'P':
			opt.phases = true;
			break;
		case 'V':
		case 'F':
			if (!version_is_valid(optarg)) {
				fprintf(stderr, "agentsim: bad version '%s'\n", optarg);
				return 2;
			}
			if (ch == 'V')
				opt.app_version = optarg;
			else
				opt.fail_version = optarg;
			break;
		case 'A':
			opt.fail_agents = optarg;
			break;
		case 'E':
			if (streq(optarg, "rolled_back"))
				opt.fail_result = FAIL_ROLLED_BACK;
			else if (streq(optarg, "failed"))
				opt.fail_result = FAIL_FAILED;
			else {
				fprintf(stderr,
				        "agentsim: --fail-result is rolled_back or failed\n");
				return 2;
			}
			break;
		case 'n':
		case 'f':
		case 'i':
		case 'd':
		case 's':
		case 'w':
		case 'k':
		case 'r':
		case 'S':
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
			else if (ch == 'd') {
				opt.duration_usec = v * USEC_PER_SEC;
				opt.duration_set = true;
			} else if (ch == 'w') {
				opt.warmup_usec = v * USEC_PER_SEC;
				opt.warmup = true;
			} else if (ch == 'k')
				opt.kill = (unsigned)v;
			else if (ch == 'r')
				opt.dial_rate = (unsigned)v;
			else if (ch == 'S')
				opt.step_usec = v * USEC_PER_MSEC;
			else
				opt.seed = v;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!opt.url || opt.n == 0 || opt.n > 100000 || opt.kill > opt.n ||
	        (opt.kill && !opt.admin) || opt.interval_usec < USEC_PER_MSEC ||
	        opt.step_usec > 3600 * USEC_PER_SEC || (opt.fail_agents && !opt.fail_version)) {
		usage();
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (opt.command_log) {
		cmdlog = fopen(opt.command_log, "we");
		if (!cmdlog) {
			fprintf(stderr, "agentsim: cannot open %s: %s\n", opt.command_log,
			        strerror(errno));
			return 1;
		}
		setvbuf(cmdlog, NULL, _IOLBF, 0);
	}
	if (strncmp(opt.url, "tls+tcp://", 10) == 0) {
		char host[256] = "localhost";
		const char *p = opt.url + 10, *colon = strrchr(p, ':');

		if (colon && (size_t)(colon - p) < sizeof(host)) {
			memcpy(host, p, (size_t)(colon - p));
			host[colon - p] = 0;
		}
		if (tlsprefs_config_alloc(&tls, NNG_TLS_MODE_CLIENT) != 0 ||
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
		pthread_mutex_init(&a->mu, NULL);
		/* Each simulated host runs app 'sim' at --app-version, or at one
		 * of three versions. */
		if (opt.app_version)
			strbuf_printf(a->current, sizeof(a->current), "%s", opt.app_version);
		else
			strbuf_printf(a->current, sizeof(a->current), "1.0.%u", a->idx % 3);
		snprintf(in, sizeof(in), "agentsim %" PRIu64 " %u", opt.seed, a->idx);
		crypto_generichash(seed, sizeof(seed), (const uint8_t *)in, strlen(in), NULL, 0);
		crypto_sign_seed_keypair(a->pk, a->sk, seed);
		if (nng_req0_open(&a->sock) != 0 || nng_ctx_open(&a->ctx, a->sock) != 0 ||
		        nng_ctx_open(&a->poll_ctx, a->sock) != 0 ||
		        nng_aio_alloc(&a->aio, agent_cb, a) != 0 ||
		        nng_aio_alloc(&a->poll_aio, poll_cb, a) != 0) {
			fprintf(stderr, "agentsim: cannot open socket %u\n", i);
			return 1;
		}
		nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE);
		nng_ctx_set_ms(a->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		nng_ctx_set_ms(a->poll_ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		nng_aio_set_timeout(a->aio, REPORT_TIMEOUT_MS);
		nng_aio_set_timeout(a->poll_aio, POLL_TIMEOUT_MS);
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
	if (opt.fail_version && fail_pick(agents, opt.n, opt.fail_agents) < 0) {
		fprintf(stderr, "agentsim: --fail-agents takes P%%, N or list:I,J-K, got '%s'\n",
		        opt.fail_agents);
		return 2;
	}

	/* --run without --duration-s: until a signal. */
	end = opt.run && !opt.duration_set ? UINT64_MAX : start + opt.duration_usec;
	measuring = !opt.warmup;
	measure_began = start;
	while (!stop_signal) {
		uint64_t now = now_monotonic_usec();

		if (!ready_written || (!measuring && !measure_start)) {
			unsigned w;

			pthread_mutex_lock(&lock);
			w = welcomed;
			pthread_mutex_unlock(&lock);
			if (w >= opt.n && !ready_written) {
				ready_written = true;
				enrolled_usec = now - start;
				if (opt.ready_file &&
				        write_ready_file(opt.ready_file, opt.n, enrolled_usec) < 0)
					fprintf(stderr, "agentsim: cannot write %s\n",
					        opt.ready_file);
			}
			if (!measuring && !measure_start) {
				if (w >= opt.n)
					measure_start = now + opt.warmup_usec;
				else if (now - start > 600 * USEC_PER_SEC) {
					fprintf(stderr,
					        "agentsim: only %u of %u agents welcomed after "
					        "600 s\n",
					        w, opt.n);
					break;
				}
			}
		}
		if (measure_start && !measuring && now >= measure_start) {
			pthread_mutex_lock(&lock);
			measuring = true;
			heartbeats = 0;
			pthread_mutex_unlock(&lock);
			measure_began = now;
			end = opt.run && !opt.duration_set ? UINT64_MAX : now + opt.duration_usec;
		}
		if (measuring && now >= end)
			break;
		sim_step(agents, opt.n, now);
		nng_msleep(5);
	}
	pthread_mutex_lock(&lock);
	/* The window that was measured: --duration-s, unless a signal or
	 * --run ended it otherwise. */
	window_usec = measuring ? now_monotonic_usec() - measure_began : 0;
	measuring = false;
	measured = heartbeats;
	pthread_mutex_unlock(&lock);
	if (!enrolled_usec && welcomed >= opt.n)
		enrolled_usec = now_monotonic_usec() - start;
	/* Killing agents of a fleet that never finished enrolling measures
	 * nothing (and closing sockets still mid-handshake can block in nng). */
	if (opt.kill && !stop_signal && welcomed >= opt.n)
		down_after_usec = kill_and_wait(agents, opt.n, opt.kill);
	for (unsigned i = 0; i < opt.n; i++) {
		agent_close(&agents[i]);
		if (agents[i].logrec.pending)
			logrec_write(&agents[i], &agents[i].logrec, 0);
	}

	pthread_mutex_lock(&lock);
	if (n_rtts)
		qsort(rtts, n_rtts, sizeof(*rtts), cmp_u32);
	printf("agents=%u welcomed=%u pending=%u refused=%u heartbeats=%" PRIu64
	       " errors=%u rtt_p50_ms=%.2f rtt_p99_ms=%.2f rtt_max_ms=%.2f rate_per_s=%.1f"
	       " enrol_s=%.2f commands=%u cmd_committed=%u cmd_failed=%u cmd_refused=%u",
	        opt.n, welcomed, pending, refused, measured, errors,
	        n_rtts ? rtts[n_rtts / 2] / 1000.0 : 0.0,
	        n_rtts ? rtts[(size_t)((double)n_rtts * 0.99)] / 1000.0 : 0.0,
	        n_rtts ? rtts[n_rtts - 1] / 1000.0 : 0.0,
	        window_usec ? (double)measured / ((double)window_usec / 1e6) : 0.0,
	        (double)enrolled_usec / 1e6, commands, cmd_committed, cmd_failed, cmd_refused);
	printf(" rewelcomed=%u", rewelcomed);
	print_errors();
	if (opt.kill && down_after_usec)
		printf(" killed=%u down_after_s=%.2f", opt.kill, (double)down_after_usec / 1e6);
	else if (opt.kill)
		printf(" killed=%u down_after_s=none", opt.kill);
	printf("\n");
	pthread_mutex_unlock(&lock);
	if (cmdlog)
		fclose(cmdlog);
	free(rtts);
	for (unsigned i = 0; i < opt.n; i++)
		pthread_mutex_destroy(&agents[i].mu);
	free(agents);
	if (tls)
		nng_tls_config_free(tls);
	return 0;
}
