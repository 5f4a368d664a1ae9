/*
 * daemon: the agent's event loop, its coordinator session and the worker
 * process that runs each command. See daemon.h for the session state
 * machine.
 *
 * Invariants:
 * - Only the loop thread touches struct daemon (nng's threads hand their
 *   events over through link.c's queue).
 * - At most one worker process runs (worker_running); a command that
 *   arrives while it runs is refused with "busy", except a CANCEL, which is
 *   for the running command (or says that it is not running).
 * - This file never calls the release engine: commands run in a
 *   `rollwave-agent worker` child (worker.h), so that rollwave-agentd
 *   links without libcurl, libarchive and libcrypto.
 * - A command's id is in the state file (the replay guard) before its
 *   worker starts; its final result is in the state file before it is
 *   queued, and leaves it only when the coordinator acknowledged it.
 * - A command runs only on the host it names: Command.host_id must be the
 *   id Welcome gave this session (it is in the signed bytes).
 *
 * Commands (docs/protocol.md, Command.Kind) and where they run:
 *
 *   DEPLOY, ROLLBACK, MIGRATE, MIGRATE_DOWN, PREFLIGHT
 *       a worker process (engine_deploy(), ...); acknowledged when it
 *       starts, then phase reports and one final report;
 *   CANCEL
 *       here: the running command with that id, if it is a deploy, migrate
 *       or preflight that has not activated (or started its migrate hook)
 *       yet, is asked to stop (worker_cancel()); its own final report then
 *       says PHASE_CANCELLED. The CANCEL is only acknowledged (accepted,
 *       with a reason saying what became of it), never reported on;
 *   anything else is refused with a reason.
 */
#include "daemon.h"

#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cmdlog.h"
#include "identity.h"
#include "link.h"
#include "log.h"
#include "worker.h"

#define REPORT_TIMEOUT_MS    10000
#define POLL_TIMEOUT_MS      35000 /* longer than the coordinator's 25 s poll */
#define BACKOFF_MIN_USEC     (1 * USEC_PER_SEC)
#define BACKOFF_MAX_USEC     (30 * USEC_PER_SEC)
#define SLOW_RETRY_USEC      (60 * USEC_PER_SEC) /* revoked, foreign coordinator */
#define POLL_RETRY_USEC      (1 * USEC_PER_SEC)
#define STOP_WAIT_USEC       (30 * USEC_PER_SEC) /* SIGTERM during a deploy */
#define OUTGOING_MAX         256
#define DAEMON_MALLOC_ARENAS 2
#define MSGID_LINK_UP        "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c10"
#define MSGID_LINK_PENDING   "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c11"
#define MSGID_LINK_REFUSED   "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c12"
#define MSGID_COMMAND        "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c13"
#define MSGID_COMMAND_REFUSE "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c14"
#define MSGID_COMMAND_CANCEL "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c15"

enum session_state {
	SESSION_IDLE,
	SESSION_HELLO,
	SESSION_AUTH,
	SESSION_UP,
};

enum report_kind {
	REPORT_NONE,
	REPORT_HELLO,
	REPORT_AUTH,
	REPORT_HEARTBEAT,
	REPORT_QUEUED,
};

/* A CommandAck or PhaseReport waiting for the link. */
struct outgoing {
	bool is_ack;
	uint64_t command_id;
	bool accepted;
	char reason[256];
	char app[APP_NAME_MAX + 1];
	char version[VERSION_MAX + 1];
	Rollwave__Phase phase;
	uint64_t elapsed_ms;
	char error[1024];
	char *hook_output; /* final reports only; NULL: none */
	bool hook_absent;
	bool final;
	struct outgoing *next;
};

/* One coordinator command, or a recovery the daemon started after a worker
 * died (op WORKER_RECOVER, command_id 0), run by a worker process. */
struct job {
	uint64_t command_id;
	enum worker_op op;
	char app[APP_NAME_MAX + 1];
	char version[VERSION_MAX + 1]; /* what the reports name until the engine knows */
	uint64_t start_usec;
	pid_t pid;
	int fd;        /* the worker's stdout */
	int cancel_fd; /* cancellable ops: the worker's stdin (worker_cancel()) */
	sd_event_source *child_src, *output_src;
	struct worker_reader reader;
	Rollwave__Phase last_phase; /* the latest phase line, 0 before the first */
	uint64_t cancelled_by;      /* the CANCEL that asked it to stop, 0 if none */
	/* What hooks printed (output lines), at most WIRE_REPORT_TEXT_MAX. */
	char *hook_output;
	size_t hook_output_len;
	bool hook_output_cut, hook_absent;
	/* The worker's result line, if it wrote one. */
	bool have_result;
	struct worker_line result;
};

struct daemon {
	const struct agent_config *cfg;
	sd_event *event;
	struct link *link;
	struct state *state;
	struct identity id;
	char fingerprint[IDENTITY_FINGERPRINT_SIZE];
	char pin_path[PATH_MAX];
	uint8_t pinned[IDENTITY_PUBLIC_KEY_BYTES];
	bool have_pin;
	uint8_t offered[IDENTITY_PUBLIC_KEY_BYTES]; /* Challenge.coordinator_key */
	char join_token[AGENT_JOIN_TOKEN_MAX + 1];

	enum session_state session;
	enum report_kind report_inflight;
	struct outgoing *report_item; /* the queued item in flight */
	bool hello_due, heartbeat_due, poll_due;
	uint64_t host_id, hb_seq, message_id, backoff_usec, start_usec;
	uint64_t welcome_host_id; /* the last Welcome's host id, kept across sessions (logs) */
	Rollwave__Error__Code last_refusal; /* to log a refusal once, not per retry */
	bool unreachable_logged;

	struct outgoing *out_head, *out_tail;
	size_t n_out;

	sd_event_source *link_src, *retry_timer, *heartbeat_timer, *poll_timer, *watchdog_timer,
	        *stop_timer;
	uint64_t watchdog_usec;

	const struct daemon_options *opts;
	struct job *job;
	bool worker_running, stopping;

	/* The health watch (worker.h, WORKER_CHECK): every HealthWatch=, the
	 * next app in turn, while no command runs. */
	sd_event_source *health_timer;
	struct job *check;
	size_t check_next;
};

static void pump(struct daemon *d);

static void set_status(const char *fmt, ...) _printf_(1, 2);
static void
set_status(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	(void)sd_notifyf(0, "STATUS=%s", buf);
}

static uint64_t
jitter(uint64_t usec, unsigned percent)
{
	uint64_t span = usec * percent / 100;

	if (span == 0 || span > UINT32_MAX)
		return usec;
	return usec - span + randombytes_uniform((uint32_t)(2 * span + 1));
}

static int
timer_arm(struct daemon *d, sd_event_source **src, uint64_t usec, sd_event_time_handler_t cb)
{
	int r;

	if (!*src)
		return sd_event_add_time_relative(
		        d->event, src, CLOCK_MONOTONIC, usec, 10 * USEC_PER_MSEC, cb, d);
	r = sd_event_source_set_time_relative(*src, usec);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
}

static void
envelope_init(struct daemon *d, Rollwave__Envelope *env)
{
	rollwave__envelope__init(env);
	env->protocol_version = WIRE_PROTOCOL_VERSION;
	env->message_id = ++d->message_id;
}

/* Validates env as the peer would, then sends it. */
static int
send_request(struct daemon *d, enum link_channel ch, Rollwave__Envelope *env, unsigned timeout_ms)
{
	struct rw_err err = {{0}};
	int r;

	r = wire_validate(env, &err);
	if (r < 0) {
		log_error("not sending an invalid %s: %s", wire_body_name(env->body_case), err.msg);
		return r;
	}
	log_debug("sending %s #%" PRIu64 " on the %s channel", wire_body_name(env->body_case),
	        env->message_id, ch == LINK_REPORT ? "report" : "poll");
	r = link_request(d->link, ch, env, timeout_ms);
	if (r < 0)
		log_error("cannot send %s: %s", wire_body_name(env->body_case), strerror(-r));
	return r;
}

/* ---- session ---- */

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata);

static uint64_t
next_backoff(struct daemon *d)
{
	uint64_t b = d->backoff_usec ? d->backoff_usec : BACKOFF_MIN_USEC;

	d->backoff_usec = b * 2 > BACKOFF_MAX_USEC ? BACKOFF_MAX_USEC : b * 2;
	return b / 2 + randombytes_uniform((uint32_t)(b / 2 + 1));
}

/* Forgets the session and says Hello again after delay. */
static void
session_restart(struct daemon *d, uint64_t delay)
{
	/* Requests of the old session may wait on a dead pipe: give them up
	 * (their late events are ignored) so that Hello and the next poll
	 * are not stuck behind them. */
	if (d->report_inflight != REPORT_NONE) {
		link_cancel(d->link, LINK_REPORT);
		d->report_inflight = REPORT_NONE;
		d->report_item = NULL;
	}
	link_cancel(d->link, LINK_POLL);
	d->session = SESSION_IDLE;
	d->hello_due = false;
	d->heartbeat_due = false;
	d->poll_due = false;
	d->host_id = 0;
	if (timer_arm(d, &d->retry_timer, delay, on_retry) < 0)
		d->hello_due = true;
}

static void
link_unreachable(struct daemon *d, const char *why)
{
	bool was_up = d->session == SESSION_UP;

	if (was_up)
		log_warning("lost the coordinator at %s (%s); retrying", d->cfg->coordinator, why);
	else if (!d->unreachable_logged)
		log_info("coordinator %s unreachable (%s); retrying", d->cfg->coordinator, why);
	d->unreachable_logged = true;
	d->last_refusal = ROLLWAVE__ERROR__CODE__CODE_UNSPECIFIED;
	set_status("coordinator unreachable, retrying");
	session_restart(d, next_backoff(d));
}

static int
on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	if (d->session == SESSION_IDLE)
		d->hello_due = true;
	pump(d);
	return 0;
}

static void
send_hello(struct daemon *d)
{
	struct link_facts f;
	struct rw_err err = {{0}};
	Rollwave__Envelope env;
	Rollwave__Hello hello = ROLLWAVE__HELLO__INIT;
	int r;

	d->hello_due = false;
	r = link_facts_collect(d->cfg, d->state, &f, &err);
	if (r < 0) {
		log_error("cannot collect host facts: %s", err.msg[0] ? err.msg : strerror(-r));
		session_restart(d, next_backoff(d));
		return;
	}
	hello.host_key.len = IDENTITY_PUBLIC_KEY_BYTES;
	hello.host_key.data = d->id.pk;
	/* The token enrols; once a coordinator key is pinned this host is
	 * accepted and the token is not sent any more. */
	hello.join_token = d->have_pin ? (char *)"" : d->join_token;
	hello.facts = &f.facts;
	envelope_init(d, &env);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	r = send_request(d, LINK_REPORT, &env, REPORT_TIMEOUT_MS);
	link_facts_done(&f);
	if (r < 0) {
		session_restart(d, next_backoff(d));
		return;
	}
	d->session = SESSION_HELLO;
	d->report_inflight = REPORT_HELLO;
}

static void
on_challenge(struct daemon *d, const Rollwave__Challenge *c)
{
	char fp_offered[IDENTITY_FINGERPRINT_SIZE], fp_pinned[IDENTITY_FINGERPRINT_SIZE];
	uint8_t sig[WIRE_SIGNATURE_LEN];
	Rollwave__Auth auth = ROLLWAVE__AUTH__INIT;
	Rollwave__Envelope env;

	memcpy(d->offered, c->coordinator_key.data, IDENTITY_PUBLIC_KEY_BYTES);
	if (d->have_pin && sodium_memcmp(d->offered, d->pinned, IDENTITY_PUBLIC_KEY_BYTES) != 0) {
		identity_fingerprint(d->offered, fp_offered);
		identity_fingerprint(d->pinned, fp_pinned);
		log_struct(LOG_ERR, MSGID_LINK_REFUSED, NULL, NULL,
		        "coordinator at %s presents key %s but this host is pinned to %s (%s): "
		        "refusing to talk to it; retrying in a minute",
		        d->cfg->coordinator, fp_offered, fp_pinned, d->pin_path);
		set_status("refusing a coordinator with a foreign key, retrying");
		session_restart(d, SLOW_RETRY_USEC);
		return;
	}
	if (wire_auth_sign(c->nonce.data, d->offered, d->id.sk, sig) < 0) {
		log_error("cannot sign the auth transcript");
		session_restart(d, next_backoff(d));
		return;
	}
	auth.signature.len = sizeof(sig);
	auth.signature.data = sig;
	envelope_init(d, &env);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_AUTH;
	env.auth = &auth;
	if (send_request(d, LINK_REPORT, &env, REPORT_TIMEOUT_MS) < 0) {
		session_restart(d, next_backoff(d));
		return;
	}
	d->session = SESSION_AUTH;
	d->report_inflight = REPORT_AUTH;
}

static void
on_welcome(struct daemon *d, const Rollwave__Welcome *w)
{
	struct rw_err err = {{0}};
	int r;

	if (sodium_memcmp(w->coordinator_key.data, d->offered, IDENTITY_PUBLIC_KEY_BYTES) != 0) {
		log_error("coordinator at %s welcomed this host with another key than it "
		          "challenged with; retrying",
		        d->cfg->coordinator);
		session_restart(d, SLOW_RETRY_USEC);
		return;
	}
	if (!d->have_pin) {
		r = identity_pin_store(d->pin_path, d->offered, &err);
		if (r < 0) {
			log_error("cannot pin the coordinator key: %s", err.msg);
			session_restart(d, next_backoff(d));
			return;
		}
		memcpy(d->pinned, d->offered, IDENTITY_PUBLIC_KEY_BYTES);
		d->have_pin = true;
		{
			char fp[IDENTITY_FINGERPRINT_SIZE];

			identity_fingerprint(d->pinned, fp);
			log_notice("accepted by the coordinator; pinned its key %s in %s", fp,
			        d->pin_path);
		}
	}
	d->session = SESSION_UP;
	d->host_id = w->host_id;
	d->welcome_host_id = w->host_id;
	d->backoff_usec = 0;
	d->hb_seq = 0;
	d->last_refusal = ROLLWAVE__ERROR__CODE__CODE_UNSPECIFIED;
	d->unreachable_logged = false;
	d->heartbeat_due = true;
	d->poll_due = true;
	log_struct(LOG_INFO, MSGID_LINK_UP, NULL, NULL, "connected to %s as host %" PRIu64,
	        d->cfg->coordinator, d->host_id);
	set_status("connected to %s as host %" PRIu64, d->cfg->coordinator, d->host_id);
}

static void
on_refusal(struct daemon *d, enum report_kind kind, const Rollwave__Error *e)
{
	bool repeat = d->last_refusal == e->code;

	d->last_refusal = e->code;
	d->unreachable_logged = false;
	switch (e->code) {
	case ROLLWAVE__ERROR__CODE__PENDING:
		if (!repeat)
			log_struct(LOG_NOTICE, MSGID_LINK_PENDING, NULL, NULL,
			        "waiting for an admin to accept this host (rollwave hosts accept "
			        "...; its key is %s)",
			        d->fingerprint);
		set_status("waiting for acceptance (key %s)", d->fingerprint);
		session_restart(d, jitter(d->cfg->heartbeat_usec, 10));
		return;
	case ROLLWAVE__ERROR__CODE__REVOKED:
		if (!repeat)
			log_struct(LOG_ERR, MSGID_LINK_REFUSED, NULL, NULL,
			        "the coordinator revoked this host (key %s); retrying every minute",
			        d->fingerprint);
		set_status("revoked by the coordinator");
		session_restart(d, jitter(SLOW_RETRY_USEC, 10));
		return;
	case ROLLWAVE__ERROR__CODE__UNAUTHORIZED:
		if (kind == REPORT_HEARTBEAT || kind == REPORT_QUEUED) {
			/* A new pipe (reconnect) carries no session yet. */
			log_info("coordinator session lost; authenticating again");
			d->last_refusal = ROLLWAVE__ERROR__CODE__CODE_UNSPECIFIED;
			session_restart(d, 0);
			return;
		}
		if (!repeat)
			log_struct(LOG_ERR, MSGID_LINK_REFUSED, NULL, NULL,
			        "the coordinator refused this host (key %s): %s%s", d->fingerprint,
			        e->message,
			        d->have_pin || d->join_token[0] ? ""
			                                        : " (no JoinToken= is configured)");
		set_status("refused by the coordinator, retrying");
		session_restart(d, next_backoff(d));
		return;
	default:
		if (!repeat)
			log_warning("coordinator answered %s with error %d: %s",
			        kind == REPORT_HELLO          ? "hello"
			                : kind == REPORT_AUTH ? "auth"
			                                      : "a report",
			        (int)e->code, e->message);
		session_restart(d, next_backoff(d));
		return;
	}
}

/* ---- outgoing reports ---- */

static void
outgoing_free(struct outgoing *o)
{
	if (!o)
		return;
	free(o->hook_output);
	free(o);
}

/* Unlinks and frees the oldest queued item that is not in flight and for
 * which keep() is false; false if there is none. */
static bool
outgoing_drop_one(struct daemon *d, bool (*keep)(const struct outgoing *o))
{
	struct outgoing **pp = &d->out_head, *prev = NULL, *drop;

	while (*pp && (*pp == d->report_item || keep(*pp))) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return false;
	drop = *pp;
	*pp = drop->next;
	if (d->out_tail == drop)
		d->out_tail = prev;
	outgoing_free(drop);
	d->n_out--;
	return true;
}

static bool
keep_final_or_ack(const struct outgoing *o)
{
	return o->final || o->is_ack;
}

static bool
keep_final(const struct outgoing *o)
{
	return o->final;
}

static void
outgoing_push(struct daemon *d, struct outgoing *o)
{
	/* Bounded: drop the oldest progress report, then the oldest ack; a
	 * final result is never dropped here (at most one per command, and
	 * it is in the state file too). */
	if (d->n_out >= OUTGOING_MAX && !outgoing_drop_one(d, keep_final_or_ack) &&
	        !outgoing_drop_one(d, keep_final) && !o->final) {
		outgoing_free(o);
		return;
	}
	o->next = NULL;
	if (d->out_tail)
		d->out_tail->next = o;
	else
		d->out_head = o;
	d->out_tail = o;
	d->n_out++;
}

static void
outgoing_pop(struct daemon *d)
{
	struct outgoing *o = d->out_head;

	if (!o)
		return;
	d->out_head = o->next;
	if (!d->out_head)
		d->out_tail = NULL;
	d->n_out--;
	outgoing_free(o);
}

static void
queue_ack(struct daemon *d, uint64_t command_id, bool accepted, const char *reason)
{
	struct outgoing *o = calloc(1, sizeof(*o));

	if (!o)
		return;
	o->is_ack = true;
	o->command_id = command_id;
	o->accepted = accepted;
	strbuf_printf(o->reason, sizeof(o->reason), "%s", reason);
	outgoing_push(d, o);
	pump(d);
}

/* A command's provisional report (written when it started) found at start:
 * the agent died while it ran. What the start's recovery left decides the
 * result: a deploy or rollback whose release is current and healthy now
 * committed (it got that far, or recovery finished it); anything else
 * failed, saying what the app runs now. */
static void
provisional_report_settle(struct daemon *d, const struct state_report *rep, struct outgoing *o)
{
	enum worker_op op = (enum worker_op)(rep->provisional - 1);
	struct app_record now = {0};
	bool have = state_get_app(d->state, rep->app, &now) >= 0;

	if ((op == WORKER_DEPLOY || op == WORKER_ROLLBACK) && have && rep->version[0] &&
	        streq(now.current, rep->version) && streq(now.health, "healthy")) {
		o->phase = ROLLWAVE__PHASE__PHASE_COMMITTED;
		o->error[0] = 0;
	} else {
		o->phase = ROLLWAVE__PHASE__PHASE_FAILED;
		strbuf_printf(o->error, sizeof(o->error),
		        "the agent stopped during this %s (killed, crashed or the host went "
		        "down) before it finished; after its restart %s runs %s",
		        worker_op_to_string(op), rep->app,
		        have && now.current[0] ? now.current : "no release");
	}
	log_struct(o->phase == ROLLWAVE__PHASE__PHASE_COMMITTED ? LOG_NOTICE : LOG_WARNING, NULL,
	        rep->app, rep->version[0] ? rep->version : NULL,
	        "command %" PRIu64 " (%s) was interrupted by the agent's stop; reporting it %s%s%s",
	        rep->command_id, worker_op_to_string(op),
	        o->phase == ROLLWAVE__PHASE__PHASE_COMMITTED ? "committed" : "failed",
	        o->error[0] ? ": " : "", o->error);
}

static int
queue_stored_report(void *userdata, const struct state_report *rep)
{
	struct daemon *d = userdata;
	struct outgoing *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->command_id = rep->command_id;
	strcpy(o->app, rep->app);
	strcpy(o->version, rep->version);
	o->phase = (Rollwave__Phase)rep->phase;
	o->elapsed_ms = rep->elapsed_ms;
	strcpy(o->error, rep->error);
	if (rep->provisional > 0 && rep->provisional <= _WORKER_OP_MAX)
		provisional_report_settle(d, rep, o);
	o->hook_absent = rep->hook_absent;
	if (!isempty(rep->hook_output) && !(o->hook_output = strdup(rep->hook_output))) {
		free(o);
		return -ENOMEM;
	}
	o->final = true;
	outgoing_push(d, o);
	return 0;
}

static void
send_outgoing(struct daemon *d)
{
	struct outgoing *o = d->out_head;
	_cleanup_free_ char *text = NULL, *hook_text = NULL;
	Rollwave__CommandAck ack = ROLLWAVE__COMMAND_ACK__INIT;
	Rollwave__PhaseReport rep = ROLLWAVE__PHASE_REPORT__INIT;
	Rollwave__Envelope env;
	int r;

	envelope_init(d, &env);
	if (o->is_ack) {
		ack.command_id = o->command_id;
		ack.accepted = o->accepted;
		ack.reason = o->reason;
		env.body_case = ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK;
		env.command_ack = &ack;
	} else {
		if (wire_text_sanitize(
		            o->error, strlen(o->error), WIRE_REPORT_TEXT_MAX, true, &text) < 0)
			return;
		rep.app = o->app;
		rep.version = o->version;
		rep.phase = o->phase;
		rep.elapsed_ms = o->elapsed_ms;
		rep.error = text;
		rep.command_id = o->command_id;
		rep.final = o->final;
		rep.hook_absent = o->hook_absent;
		if (o->hook_output) {
			if (wire_text_sanitize(o->hook_output, strlen(o->hook_output),
			            WIRE_REPORT_TEXT_MAX, true, &hook_text) < 0)
				return;
			rep.hook_output = hook_text;
		}
		env.body_case = ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT;
		env.phase_report = &rep;
	}
	r = send_request(d, LINK_REPORT, &env, REPORT_TIMEOUT_MS);
	if (r == -EINVAL) { /* would never be accepted: drop it */
		outgoing_pop(d);
		return;
	}
	if (r < 0)
		return;
	d->report_inflight = REPORT_QUEUED;
	d->report_item = o;
}

static void
send_heartbeat(struct daemon *d)
{
	Rollwave__Heartbeat hb = ROLLWAVE__HEARTBEAT__INIT;
	Rollwave__AppStatus **apps = NULL;
	struct rw_err err = {{0}};
	Rollwave__Envelope env;
	size_t n = 0;

	d->heartbeat_due = false;
	if (link_apps_collect(d->cfg, d->state, &apps, &n, &err) < 0) {
		log_warning("cannot collect app status for the heartbeat: %s", err.msg);
		apps = NULL;
		n = 0;
	}
	hb.seq = ++d->hb_seq;
	hb.n_apps = n;
	hb.apps = n ? apps : NULL;
	hb.uptime_ms = (now_monotonic_usec() - d->start_usec) / USEC_PER_MSEC;
	envelope_init(d, &env);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	if (send_request(d, LINK_REPORT, &env, REPORT_TIMEOUT_MS) >= 0)
		d->report_inflight = REPORT_HEARTBEAT;
	link_apps_free(apps, n);
}

static void
send_poll(struct daemon *d)
{
	Rollwave__Poll poll = ROLLWAVE__POLL__INIT;
	Rollwave__Envelope env;

	d->poll_due = false;
	envelope_init(d, &env);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_POLL;
	env.poll = &poll;
	(void)send_request(d, LINK_POLL, &env, POLL_TIMEOUT_MS);
}

/* Starts whatever the link can carry now. */
static void
pump(struct daemon *d)
{
	if (!d->link)
		return;
	if (!link_busy(d->link, LINK_REPORT)) {
		if (d->session == SESSION_IDLE && d->hello_due)
			send_hello(d);
		else if (d->session == SESSION_UP && d->heartbeat_due)
			send_heartbeat(d);
		else if (d->session == SESSION_UP && d->out_head)
			send_outgoing(d);
	}
	if (d->session == SESSION_UP && d->poll_due && !link_busy(d->link, LINK_POLL))
		send_poll(d);
}

/* ---- commands and the worker process ---- */

/* The ids a log line about command_id carries (cmdlog.h). */
static struct cmdlog_ids
log_ids(const struct daemon *d, uint64_t command_id)
{
	return (struct cmdlog_ids) {.host_id = d->welcome_host_id, .command_id = command_id};
}

/* The version a report names: what the engine said, else what the command
 * asked for, else the release that is current now (a rollback that failed
 * before it knew its target). */
static void
report_version(struct daemon *d, struct job *job, const char *engine_version, char *out)
{
	struct app_record rec;

	if (!isempty(engine_version) && version_is_valid(engine_version))
		strcpy(out, engine_version);
	else if (job->version[0])
		strcpy(out, job->version);
	else if (state_get_app(d->state, job->app, &rec) >= 0 && version_is_valid(rec.current))
		strcpy(out, rec.current);
	else
		strcpy(out, "0");
}

static void
job_free(struct job *job)
{
	if (!job)
		return;
	sd_event_source_disable_unref(job->child_src);
	sd_event_source_disable_unref(job->output_src);
	if (job->fd >= 0)
		close(job->fd);
	if (job->cancel_fd >= 0)
		close(job->cancel_fd);
	free(job->hook_output);
	free(job);
}

/* Room kept at the end of a report's hook output for the cut marker. */
#define HOOK_OUTPUT_CUT_MARK "[hook output cut at 16 KiB]\n"
#define HOOK_OUTPUT_ROOM     (WIRE_REPORT_TEXT_MAX - sizeof(HOOK_OUTPUT_CUT_MARK))

/* Appends a chunk of hook output (an `output` line) to the job's, which
 * the final report carries; what does not fit is counted as cut. */
static void
job_append_output(struct job *job, const char *data, size_t len)
{
	size_t room;
	char *p;

	if (job->hook_output_cut)
		return;
	if (!job->hook_output) {
		job->hook_output = malloc(WIRE_REPORT_TEXT_MAX + 1);
		if (!job->hook_output) {
			job->hook_output_cut = true;
			return;
		}
	}
	p = job->hook_output;
	room = HOOK_OUTPUT_ROOM - job->hook_output_len;
	if (len > room) {
		len = room;
		job->hook_output_cut = true;
	}
	memcpy(p + job->hook_output_len, data, len);
	job->hook_output_len += len;
	if (job->hook_output_cut) {
		memcpy(p + job->hook_output_len, HOOK_OUTPUT_CUT_MARK,
		        sizeof(HOOK_OUTPUT_CUT_MARK) - 1);
		job->hook_output_len += sizeof(HOOK_OUTPUT_CUT_MARK) - 1;
	}
	p[job->hook_output_len] = 0;
}

/* A coordinator command's worker is gone (code, status as in siginfo_t):
 * its result, or the way it died, becomes the command's final report. */
static void
command_done(struct daemon *d, struct job *job, int code, int status)
{
	struct cmdlog_ids ids = log_ids(d, job->command_id);
	struct state_report rep = {0};
	struct outgoing *o;
	int prio = LOG_INFO;
	const char *msgid = MSGID_DEPLOY_DONE;
	char how[128];

	rep.command_id = job->command_id;
	strcpy(rep.app, job->app);
	rep.elapsed_ms = (now_monotonic_usec() - job->start_usec) / USEC_PER_MSEC;
	rep.hook_output = job->hook_output;
	rep.hook_absent = job->hook_absent;
	if (job->have_result) {
		report_version(d, job, job->result.version, rep.version);
		rep.phase = job->result.phase;
		/* The error says what went wrong; a preflight that passed with
		 * warnings says them there too. */
		if (rep.phase != ROLLWAVE__PHASE__PHASE_COMMITTED ||
		        (job->op == WORKER_PREFLIGHT && strstr(job->result.message, "warning: ")))
			strbuf_printf(rep.error, sizeof(rep.error), "%s", job->result.message);
	} else {
		worker_exit_message(code, status, how, sizeof(how));
		report_version(d, job, NULL, rep.version);
		rep.phase = ROLLWAVE__PHASE__PHASE_FAILED;
		strbuf_printf(rep.error, sizeof(rep.error),
		        "the worker process %s before it reported a result", how);
	}
	if (rep.phase == ROLLWAVE__PHASE__PHASE_CANCELLED) {
		prio = LOG_NOTICE;
		msgid = MSGID_COMMAND_CANCEL;
	} else if (rep.phase != ROLLWAVE__PHASE__PHASE_COMMITTED) {
		prio = LOG_ERR;
		msgid = rep.phase == ROLLWAVE__PHASE__PHASE_ROLLED_BACK ? MSGID_ROLLED_BACK
		                                                        : MSGID_DEPLOY_FAILED;
	}
	if (job->hook_output_len)
		strbuf_printf(
		        how, sizeof(how), " [%zu bytes of hook output]", job->hook_output_len);
	else
		how[0] = 0;
	cmdlog(prio, msgid, rep.app, rep.version, &ids, "command %" PRIu64 " (%s): %s%s",
	        job->command_id, worker_op_to_string(job->op),
	        job->have_result ? job->result.message : rep.error, how);
	if (state_report_add(d->state, &rep) < 0)
		cmdlog(LOG_WARNING, NULL, rep.app, rep.version, &ids,
		        "cannot keep the result of command %" PRIu64
		        " in the state file; it is reported from memory only",
		        job->command_id);
	o = calloc(1, sizeof(*o));
	if (o) {
		o->command_id = rep.command_id;
		strcpy(o->app, rep.app);
		strcpy(o->version, rep.version);
		o->phase = (Rollwave__Phase)rep.phase;
		o->elapsed_ms = rep.elapsed_ms;
		strcpy(o->error, rep.error);
		o->hook_absent = rep.hook_absent;
		o->hook_output = TAKE_PTR(job->hook_output);
		o->final = true;
		outgoing_push(d, o);
	}
}

/* The recovery the daemon started is over: logged like the one at start. */
static void
recovery_done(struct job *job, int code, int status)
{
	char how[128];

	if (!job->have_result) {
		worker_exit_message(code, status, how, sizeof(how));
		log_struct(LOG_ERR, MSGID_RECOVERY, job->app, NULL,
		        "recovery failed: the worker process %s; the next start of the agent "
		        "recovers",
		        how);
		return;
	}
	switch (job->result.phase) {
	case ROLLWAVE__PHASE__PHASE_ROLLED_BACK:
		log_struct(LOG_WARNING, MSGID_RECOVERY, job->app,
		        job->result.version[0] ? job->result.version : NULL, "recovery: %s",
		        job->result.message);
		break;
	case ROLLWAVE__PHASE__PHASE_FAILED:
		log_struct(LOG_ERR, MSGID_RECOVERY, job->app, NULL, "recovery failed: %s",
		        job->result.message);
		break;
	default:
		log_struct(LOG_NOTICE, MSGID_RECOVERY, job->app,
		        job->result.version[0] ? job->result.version : NULL, "recovery: %s",
		        job->result.message);
		break;
	}
}

static int job_start(
        struct daemon *d, struct job *job, const struct worker_request *req, struct rw_err *err);

static struct job *
job_new(const char *app, enum worker_op op)
{
	struct job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->fd = -1;
	job->cancel_fd = -1;
	job->op = op;
	job->start_usec = now_monotonic_usec();
	strbuf_printf(job->app, sizeof(job->app), "%s", app);
	return job;
}

/* A worker killed mid-step left the engine's journal behind: finish it now
 * in another worker (as `rollwave-agent run` does at start) instead of
 * leaving an unverified release live until the next start. Commands that
 * come meanwhile are refused as busy. */
static void
recovery_start(struct daemon *d, const char *app)
{
	struct rw_err err = {{0}};
	struct app_config cfg;
	struct job *job;
	struct worker_request req = {.op = WORKER_RECOVER, .app = app};
	int r;

	job = job_new(app, WORKER_RECOVER);
	if (!job)
		return;
	r = app_config_load(d->cfg, app, &cfg, &err);
	if (r >= 0) {
		app_config_done(&cfg);
		r = job_start(d, job, &req, &err);
	}
	if (r < 0) {
		log_struct(LOG_ERR, MSGID_RECOVERY, app, NULL,
		        "cannot recover now: %s; the next start of the agent recovers", err.msg);
		job_free(job);
		return;
	}
	log_struct(LOG_WARNING, MSGID_RECOVERY, app, NULL,
	        "the worker process died mid-operation: recovering %s", app);
	d->job = job;
	d->worker_running = true;
}

/* The worker process is gone; code and status as in siginfo_t. */
static void
job_done(struct daemon *d, int code, int status)
{
	struct job *job = d->job;
	char app[APP_NAME_MAX + 1];
	bool recover;

	d->job = NULL;
	d->worker_running = false;
	if (job->reader.bad)
		cmdlog(LOG_WARNING, NULL, job->app, NULL, NULL,
		        "%u line(s) from the worker process did not parse", job->reader.bad);
	if (job->op == WORKER_RECOVER)
		recovery_done(job, code, status);
	else
		command_done(d, job, code, status);
	/* A preflight changes nothing: there is nothing to recover after it. */
	recover = job->op != WORKER_RECOVER && job->op != WORKER_PREFLIGHT && !job->have_result;
	strcpy(app, job->app);
	job_free(job);
	if (d->stopping) {
		log_info("operation finished; stopping");
		sd_event_exit(d->event, 0);
		return;
	}
	if (recover)
		recovery_start(d, app);
	pump(d);
}

/* A line from the worker: a phase starts (a progress report for a
 * command), hook output or an absent hook (kept for the final report), or
 * the result (kept for job_done). */
static void
on_worker_line(void *userdata, const struct worker_line *l)
{
	struct daemon *d = userdata;
	struct job *job = d->job;
	struct cmdlog_ids ids = log_ids(d, job->command_id);
	struct outgoing *o;

	switch (l->kind) {
	case WORKER_LINE_RESULT:
		job->result = *l;
		job->have_result = true;
		return;
	case WORKER_LINE_OUTPUT:
		job_append_output(job, l->data, l->data_len);
		return;
	case WORKER_LINE_ABSENT:
		job->hook_absent = true;
		return;
	case WORKER_LINE_PHASE:
		break;
	}
	job->last_phase = l->phase;
	if (job->op == WORKER_RECOVER) {
		log_struct(LOG_INFO, MSGID_RECOVERY, job->app, l->version[0] ? l->version : NULL,
		        "recovery: %s", l->name);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (o) {
		o->command_id = job->command_id;
		strcpy(o->app, job->app);
		report_version(d, job, l->version, o->version);
		o->phase = l->phase;
		o->elapsed_ms = (now_monotonic_usec() - job->start_usec) / USEC_PER_MSEC;
		outgoing_push(d, o);
	}
	cmdlog(LOG_INFO, NULL, job->app, l->version[0] ? l->version : NULL, &ids,
	        "command %" PRIu64 ": %s", job->command_id, l->name);
}

/* Reads what the worker wrote; at end of file (or a broken pipe) stops
 * watching it: its exit is what ends the job. */
static void
job_read_output(struct daemon *d, struct job *job)
{
	int r;

	if (job->fd < 0)
		return;
	r = worker_read(job->fd, &job->reader, on_worker_line, d);
	if (r == 0)
		return;
	if (r < 0)
		log_warning("cannot read from the worker process: %s", strerror(-r));
	job->output_src = sd_event_source_disable_unref(job->output_src);
	close(job->fd);
	job->fd = -1;
}

static int
on_worker_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)fd;
	(void)revents;
	if (d->job) {
		job_read_output(d, d->job);
		pump(d);
	}
	return 0;
}

static int
on_worker_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	if (!d->job)
		return 0;
	/* Whatever it wrote before it exited is in the pipe. A grandchild
	 * (a hook left running) may hold the pipe open: do not wait for end
	 * of file, take what is there. */
	job_read_output(d, d->job);
	job_done(d, si->si_code, si->si_status);
	return 0;
}

/* Starts the worker process for job and watches it. */
static int
job_start(struct daemon *d, struct job *job, const struct worker_request *req, struct rw_err *err)
{
	int r;

	r = worker_spawn(d->opts->agent_path, d->opts->config_path, req, &job->pid, &job->fd,
	        &job->cancel_fd, err);
	if (r < 0)
		return r;
	r = sd_event_add_child(d->event, &job->child_src, job->pid, WEXITED, on_worker_exit, d);
	if (r >= 0)
		r = sd_event_add_io(
		        d->event, &job->output_src, job->fd, EPOLLIN, on_worker_output, d);
	if (r < 0) {
		/* Not watched, it must not run: its result would be lost. */
		(void)kill(job->pid, SIGKILL);
		(void)waitpid(job->pid, NULL, 0);
		return rw_err_set(err, r, "cannot watch the worker process: %s", strerror(-r));
	}
	return 0;
}

/* Whether the job went past the point where a cancel could stop it:
 * activated (a deploy), or its migrate hook started. */
static bool
job_past_cancel_point(const struct job *job)
{
	switch (job->op) {
	case WORKER_DEPLOY:
		return job->last_phase >= ROLLWAVE__PHASE__PHASE_ACTIVATING &&
		        job->last_phase <= ROLLWAVE__PHASE__PHASE_HEALTH;
	case WORKER_MIGRATE:
		return job->last_phase == ROLLWAVE__PHASE__PHASE_MIGRATING;
	default:
		return false;
	}
}

/* A CANCEL (already verified, bound to this host, new): asks the running
 * command it names to stop, or says why not. Always acknowledged as
 * accepted unless the request could not be made. */
static void
on_cancel(struct daemon *d, const Rollwave__Command *cmd)
{
	struct cmdlog_ids ids = log_ids(d, cmd->command_id);
	uint64_t target = cmd->cancel_command_id;
	struct job *job = d->job;
	char reason[256];
	int r;

	/* The CANCEL is a command like the others in the replay guard. */
	r = state_command_id_set(d->state, cmd->command_id);
	if (r < 0) {
		cmdlog(LOG_ERR, MSGID_COMMAND_REFUSE, cmd->app, NULL, &ids,
		        "cannot record command %" PRIu64 " in the state file: %s; refusing it",
		        cmd->command_id, strerror(-r));
		queue_ack(d, cmd->command_id, false, "cannot record the command id");
		return;
	}
	if (!job || job->op == WORKER_RECOVER || job->command_id != target)
		strbuf_printf(reason, sizeof(reason),
		        "command %" PRIu64 " is not running here (finished, or never received): "
		        "nothing to cancel",
		        target);
	else if (!streq(job->app, cmd->app))
		strbuf_printf(reason, sizeof(reason),
		        "command %" PRIu64 " is for app %s, not %s: not cancelled", target,
		        job->app, cmd->app);
	else if (!worker_op_is_cancellable(job->op))
		strbuf_printf(reason, sizeof(reason),
		        "command %" PRIu64 " (%s) cannot be cancelled: it runs to its end", target,
		        worker_op_to_string(job->op));
	else if (job->cancelled_by)
		strbuf_printf(reason, sizeof(reason),
		        "command %" PRIu64 " is being cancelled already (command %" PRIu64 ")",
		        target, job->cancelled_by);
	else if (job_past_cancel_point(job))
		strbuf_printf(reason, sizeof(reason),
		        "command %" PRIu64 " (%s) already %s: it runs to its end", target,
		        worker_op_to_string(job->op),
		        job->op == WORKER_MIGRATE ? "started its migrate hook" : "activated");
	else if ((r = worker_cancel(job->pid, job->cancel_fd)) < 0) {
		strbuf_printf(reason, sizeof(reason),
		        "cannot ask the worker of command %" PRIu64 " to stop: %s", target,
		        strerror(-r));
		cmdlog(LOG_ERR, MSGID_COMMAND_CANCEL, cmd->app, NULL, &ids,
		        "command %" PRIu64 " (cancel): %s", cmd->command_id, reason);
		queue_ack(d, cmd->command_id, false, reason);
		return;
	} else {
		job->cancelled_by = cmd->command_id;
		strbuf_printf(reason, sizeof(reason),
		        "cancelling command %" PRIu64
		        " (%s): it stops at its next safe point before "
		        "activation; its final report says whether it did",
		        target, worker_op_to_string(job->op));
	}
	cmdlog(LOG_NOTICE, MSGID_COMMAND_CANCEL, cmd->app, NULL, &ids,
	        "command %" PRIu64 " (cancel %" PRIu64 "): %s", cmd->command_id, target, reason);
	queue_ack(d, cmd->command_id, true, reason);
}

static enum worker_op
worker_op_of(Rollwave__Command__Kind kind)
{
	switch (kind) {
	case ROLLWAVE__COMMAND__KIND__ROLLBACK:
		return WORKER_ROLLBACK;
	case ROLLWAVE__COMMAND__KIND__MIGRATE:
		return WORKER_MIGRATE;
	case ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN:
		return WORKER_MIGRATE_DOWN;
	case ROLLWAVE__COMMAND__KIND__PREFLIGHT:
		return WORKER_PREFLIGHT;
	default: /* link_command_check() let only known kinds through */
		return WORKER_DEPLOY;
	}
}

static void
on_command(struct daemon *d, const Rollwave__Command *cmd)
{
	struct cmdlog_ids ids = log_ids(d, cmd->command_id);
	struct rw_err err = {{0}};
	struct app_config app;
	char reason[256];
	enum link_verdict v;
	uint64_t highest = 0;
	struct job *job;
	int r;
	struct worker_request req = {
	        .op = worker_op_of(cmd->kind),
	        .app = cmd->app,
	        .manifest_url = cmd->manifest_url,
	        .expect_version = cmd->version,
	        .to_version = cmd->to_version,
	};

	if (state_command_id_get(d->state, &highest) < 0) {
		queue_ack(d, cmd->command_id, false, "cannot read the state file");
		return;
	}
	v = link_command_check(cmd, d->have_pin ? d->pinned : NULL, d->host_id, highest,
	        d->worker_running, reason, sizeof(reason));
	if (v == LINK_COMMAND_REPLAY) {
		cmdlog(LOG_INFO, NULL, cmd->app, NULL, &ids,
		        "command %" PRIu64 " was already executed; not running it again",
		        cmd->command_id);
		queue_ack(d, cmd->command_id, true, reason);
		return;
	}
	if (v == LINK_COMMAND_REFUSE) {
		cmdlog(LOG_WARNING, MSGID_COMMAND_REFUSE, cmd->app, NULL, &ids,
		        "refused command %" PRIu64 ": %s", cmd->command_id, reason);
		queue_ack(d, cmd->command_id, false, reason);
		return;
	}
	if (cmd->kind == ROLLWAVE__COMMAND__KIND__CANCEL) {
		on_cancel(d, cmd);
		return;
	}
	/* A preflight answers a missing app config with a failed check. */
	if (req.op != WORKER_PREFLIGHT) {
		r = app_config_load(d->cfg, cmd->app, &app, &err);
		if (r < 0) {
			cmdlog(LOG_WARNING, MSGID_COMMAND_REFUSE, cmd->app, NULL, &ids,
			        "refused command %" PRIu64 ": %s", cmd->command_id, err.msg);
			queue_ack(d, cmd->command_id, false, err.msg);
			return;
		}
		app_config_done(&app);
	}
	job = job_new(cmd->app, req.op);
	if (!job) {
		queue_ack(d, cmd->command_id, false, "out of memory");
		return;
	}
	job->command_id = cmd->command_id;
	strbuf_printf(job->version, sizeof(job->version), "%s",
	        req.op == WORKER_ROLLBACK ? cmd->to_version : cmd->version);
	/* The replay guard is on disk before anything runs. */
	r = state_command_id_set(d->state, cmd->command_id);
	if (r < 0) {
		cmdlog(LOG_ERR, NULL, cmd->app, NULL, &ids,
		        "cannot record command %" PRIu64 " in the state file: %s; refusing it",
		        cmd->command_id, strerror(-r));
		queue_ack(d, cmd->command_id, false, "cannot record the command id");
		job_free(job);
		return;
	}
	/* Should the agent die while it runs, its next start reports it. */
	{
		struct state_report rep = {
		        .command_id = cmd->command_id,
		        .phase = ROLLWAVE__PHASE__PHASE_FAILED,
		        .provisional = (int)req.op + 1,
		};

		strcpy(rep.app, job->app);
		strcpy(rep.version, version_is_valid(job->version) ? job->version : "");
		strcpy(rep.error, "the agent stopped before the command finished");
		if (state_report_add(d->state, &rep) < 0)
			cmdlog(LOG_WARNING, NULL, cmd->app, NULL, &ids,
			        "cannot keep a provisional report of command %" PRIu64
			        " in the state file",
			        cmd->command_id);
	}
	r = job_start(d, job, &req, &err);
	if (r < 0) {
		cmdlog(LOG_ERR, NULL, cmd->app, NULL, &ids, "command %" PRIu64 ": %s",
		        cmd->command_id, err.msg);
		queue_ack(d, cmd->command_id, false, "cannot start a worker process");
		(void)state_report_delete(d->state, cmd->command_id);
		job_free(job);
		return;
	}
	d->job = job;
	d->worker_running = true;
	cmdlog(LOG_INFO, MSGID_DEPLOY_START, cmd->app, job->version[0] ? job->version : NULL, &ids,
	        "command %" PRIu64 ": %s %s%s%s", cmd->command_id, worker_op_to_string(job->op),
	        cmd->app, job->version[0] ? " " : "", job->version);
	queue_ack(d, cmd->command_id, true, "");
}

/* ---- the health watch ---- */

static void
on_check_line(void *userdata, const struct worker_line *l)
{
	struct job *job = userdata;

	if (l->kind == WORKER_LINE_RESULT) {
		job->result = *l;
		job->have_result = true;
	}
}

/* Records the check's verdict on the release it probed, if that is still
 * current, and says so when it changed; the next heartbeat carries it. */
static void
check_done(struct daemon *d, struct job *job)
{
	const char *health;
	int r;

	if (!job->have_result || !job->result.version[0])
		return;
	health = job->result.phase == ROLLWAVE__PHASE__PHASE_COMMITTED ? "healthy" : "unhealthy";
	r = state_set_health_of(d->state, job->app, job->result.version, health);
	if (r < 0) {
		log_warning("health watch: cannot record the health of %s %s: %s", job->app,
		        job->result.version, strerror(-r));
		return;
	}
	if (r == 0)
		return;
	if (streq(health, "healthy"))
		log_struct(LOG_NOTICE, NULL, job->app, job->result.version,
		        "health watch: %s %s is healthy again", job->app, job->result.version);
	else
		log_struct(LOG_WARNING, NULL, job->app, job->result.version,
		        "health watch: %s %s is unhealthy: %s", job->app, job->result.version,
		        job->result.message);
	if (d->session == SESSION_UP)
		d->heartbeat_due = true;
}

static int
on_check_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct daemon *d = userdata;
	struct job *job = d->check;

	(void)s;
	(void)si;
	if (!job)
		return 0;
	d->check = NULL;
	if (job->fd >= 0 && worker_read(job->fd, &job->reader, on_check_line, job) < 0)
		log_warning("health watch: cannot read the check of %s", job->app);
	check_done(d, job);
	job_free(job);
	pump(d);
	return 0;
}

static int
on_health_watch(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	_cleanup_strv_free_ char **names = NULL;
	struct rw_err err = {{0}};
	struct worker_request req = {.op = WORKER_CHECK};
	struct job *job;
	size_t n;
	int r;

	(void)s;
	(void)usec;
	(void)timer_arm(
	        d, &d->health_timer, jitter(d->cfg->health_watch_usec, 10), on_health_watch);
	if (d->job || d->check || d->stopping)
		return 0;
	if (app_config_list(d->cfg, &names, &err) < 0)
		return 0;
	n = strv_length(names);
	if (n == 0)
		return 0;
	req.app = names[d->check_next++ % n];
	job = job_new(req.app, WORKER_CHECK);
	if (!job)
		return 0;
	r = worker_spawn(
	        d->opts->agent_path, d->opts->config_path, &req, &job->pid, &job->fd, NULL, &err);
	if (r >= 0)
		r = sd_event_add_child(
		        d->event, &job->child_src, job->pid, WEXITED, on_check_exit, d);
	if (r < 0) {
		if (job->pid > 0) {
			(void)kill(job->pid, SIGKILL);
			(void)waitpid(job->pid, NULL, 0);
		}
		log_warning("health watch: cannot check %s: %s", req.app,
		        err.msg[0] ? err.msg : strerror(-r));
		job_free(job);
		return 0;
	}
	d->check = job;
	return 0;
}

/* ---- link events ---- */

static int on_poll_retry(sd_event_source *s, uint64_t usec, void *userdata);

static void
on_report_reply(struct daemon *d, const struct link_event *ev)
{
	enum report_kind kind = d->report_inflight;
	const Rollwave__Envelope *env = ev->reply;

	d->report_inflight = REPORT_NONE;
	d->report_item = NULL;
	if (kind == REPORT_NONE || ev->error == -ECANCELED)
		return; /* given up by session_restart() */
	if (ev->error < 0) {
		if (ev->error == -EBADMSG)
			log_warning(
			        "coordinator sent a message that does not decode: %s", ev->detail);
		if (ev->error == -ETIMEDOUT) {
			struct rw_err err = {{0}};

			/* A request the coordinator did not answer in time may sit
			 * on a connection that nng did not notice was gone (seen
			 * with nng 1.5's TLS transport after the peer closed it):
			 * a fresh dialer drops it. */
			log_debug("no answer: dialling %s again", d->cfg->coordinator);
			if (link_redial(d->link, &err) < 0)
				log_warning("cannot dial the coordinator again: %s", err.msg);
		}
		if (d->session != SESSION_IDLE || kind == REPORT_HELLO)
			link_unreachable(d, ev->error == -ETIMEDOUT ? "no answer" : ev->detail);
		return;
	}
	if (env->body_case == ROLLWAVE__ENVELOPE__BODY_ERROR) {
		if (kind == REPORT_QUEUED && env->error->code == ROLLWAVE__ERROR__CODE__INVALID) {
			log_warning("coordinator refused a report: %s; dropping it",
			        env->error->message);
			if (d->out_head && d->out_head->final)
				(void)state_report_delete(d->state, d->out_head->command_id);
			outgoing_pop(d);
			return;
		}
		on_refusal(d, kind, env->error);
		return;
	}
	switch (kind) {
	case REPORT_HELLO:
		if (d->session == SESSION_HELLO &&
		        env->body_case == ROLLWAVE__ENVELOPE__BODY_CHALLENGE) {
			on_challenge(d, env->challenge);
			return;
		}
		break;
	case REPORT_AUTH:
		if (d->session == SESSION_AUTH &&
		        env->body_case == ROLLWAVE__ENVELOPE__BODY_WELCOME) {
			on_welcome(d, env->welcome);
			return;
		}
		break;
	case REPORT_HEARTBEAT:
		if (env->body_case == ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK)
			return;
		break;
	case REPORT_QUEUED:
		if (env->body_case == ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK) {
			if (d->out_head && d->out_head->final)
				(void)state_report_delete(d->state, d->out_head->command_id);
			outgoing_pop(d);
			return;
		}
		break;
	case REPORT_NONE:
		return;
	}
	if (d->session == SESSION_IDLE)
		return; /* a late answer to a session already given up */
	log_warning("unexpected %s from the coordinator; starting a new session",
	        wire_body_name(env->body_case));
	session_restart(d, next_backoff(d));
}

static void
on_poll_reply(struct daemon *d, const struct link_event *ev)
{
	const Rollwave__Envelope *env = ev->reply;

	if (d->session != SESSION_UP)
		return; /* polled again once the session is up */
	if (ev->error < 0) {
		/* A command this agent's wire_decode() refuses (a kind or a
		 * field a newer coordinator knows) cannot even be named in an
		 * acknowledgement: say so where an admin looks. */
		if (ev->error == -EBADMSG)
			log_warning("coordinator answered a poll with a message this agent cannot "
			            "decode, so it is neither run nor acknowledged: %s",
			        ev->detail);
		if (ev->error == -ETIMEDOUT || ev->error == -ECANCELED)
			d->poll_due = true;
		else if (timer_arm(d, &d->poll_timer, POLL_RETRY_USEC, on_poll_retry) < 0)
			d->poll_due = true;
		return;
	}
	switch (env->body_case) {
	case ROLLWAVE__ENVELOPE__BODY_POLL:
		d->poll_due = true;
		return;
	case ROLLWAVE__ENVELOPE__BODY_COMMAND:
		d->poll_due = true;
		on_command(d, env->command);
		return;
	case ROLLWAVE__ENVELOPE__BODY_ERROR:
		if (env->error->code == ROLLWAVE__ERROR__CODE__UNAUTHORIZED) {
			log_info("coordinator session lost; authenticating again");
			session_restart(d, 0);
			return;
		}
		log_warning("coordinator refused a poll: %s", env->error->message);
		break;
	default:
		log_warning("unexpected %s in answer to a poll", wire_body_name(env->body_case));
		break;
	}
	if (timer_arm(d, &d->poll_timer, POLL_RETRY_USEC, on_poll_retry) < 0)
		d->poll_due = true;
}

static int
on_poll_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	if (d->session == SESSION_UP)
		d->poll_due = true;
	pump(d);
	return 0;
}

static int
on_link_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;
	struct link_event *ev;

	(void)s;
	(void)fd;
	(void)revents;
	while ((ev = link_event_next(d->link))) {
		switch (ev->kind) {
		case LINK_EVENT_REPLY:
			log_debug("%s channel: %s%s%s",
			        ev->channel == LINK_REPORT ? "report" : "poll",
			        ev->reply ? wire_body_name(ev->reply->body_case)
			                  : strerror(-ev->error),
			        ev->detail[0] ? ": " : "", ev->detail);
			if (ev->channel == LINK_REPORT)
				on_report_reply(d, ev);
			else
				on_poll_reply(d, ev);
			break;
		case LINK_EVENT_PIPE_UP:
			log_debug("connected to %s", d->cfg->coordinator);
			/* A new connection needs a new session, unless one is
			 * being set up right now (its requests use this pipe) or a
			 * refusal (pending, revoked) set the time of the next try. */
			if (d->session == SESSION_UP ||
			        (d->session == SESSION_IDLE && !d->hello_due &&
			                d->last_refusal == ROLLWAVE__ERROR__CODE__CODE_UNSPECIFIED))
				session_restart(d, 0);
			break;
		case LINK_EVENT_PIPE_DOWN:
			log_debug("connection to %s closed", d->cfg->coordinator);
			if (d->session == SESSION_UP) {
				log_warning("lost the connection to %s; reconnecting",
				        d->cfg->coordinator);
				set_status("coordinator unreachable, retrying");
				d->unreachable_logged = true;
			}
			/* The next pipe (PIPE_UP) or the retry timer says Hello. */
			if (d->session != SESSION_IDLE)
				session_restart(d, next_backoff(d));
			break;
		}
		link_event_free(ev);
	}
	pump(d);
	return 0;
}

/* ---- timers and signals ---- */

static int
on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	if (d->session == SESSION_UP)
		d->heartbeat_due = true;
	(void)timer_arm(d, &d->heartbeat_timer, jitter(d->cfg->heartbeat_usec, 10), on_heartbeat);
	pump(d);
	return 0;
}

static int
on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	(void)sd_notify(0, "WATCHDOG=1");
	(void)timer_arm(d, &d->watchdog_timer, d->watchdog_usec / 2, on_watchdog);
	return 0;
}

static int
on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	log_warning("the running operation did not finish in time; stopping anyway (recovery "
	            "finishes it at the next start)");
	sd_event_exit(d->event, 0);
	return 0;
}

static int
on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	if (d->stopping) {
		log_warning("second signal: stopping now");
		sd_event_exit(d->event, 0);
		return 0;
	}
	d->stopping = true;
	(void)sd_notify(0, "STOPPING=1");
	if (!d->worker_running) {
		log_info("received %s, stopping", strsignal((int)si->ssi_signo));
		sd_event_exit(d->event, 0);
		return 0;
	}
	log_notice("received %s while %s %s runs: waiting up to %" PRIu64 " s for it to finish",
	        strsignal((int)si->ssi_signo), worker_op_to_string(d->job->op), d->job->app,
	        STOP_WAIT_USEC / USEC_PER_SEC);
	set_status("stopping: waiting for the running operation");
	if (timer_arm(d, &d->stop_timer, STOP_WAIT_USEC, on_stop_timeout) < 0)
		sd_event_exit(d->event, 0);
	return 0;
}

/* ---- start and stop ---- */

static int
daemon_setup_identity(struct daemon *d)
{
	struct rw_err err = {{0}};
	char path[PATH_MAX];
	bool created = false;
	int r;

	if (xsnprintf(path, sizeof(path), "%s/identity.key", d->cfg->state_dir) < 0 ||
	        xsnprintf(d->pin_path, sizeof(d->pin_path), "%s/coordinator.pub",
	                d->cfg->state_dir) < 0) {
		log_error("StateDirectory= path too long");
		return -ENAMETOOLONG;
	}
	r = identity_load_or_create(path, &d->id, &created, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	identity_fingerprint(d->id.pk, d->fingerprint);
	log_info(
	        "%s identity key %s (%s)", created ? "made a new" : "loaded", path, d->fingerprint);
	r = identity_pin_load(d->pin_path, d->pinned, &err);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	d->have_pin = true;
	return 0;
}

static int
daemon_setup_loop(struct daemon *d)
{
	struct rw_err err = {{0}};
	int r;

	r = sd_event_default(&d->event);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGTERM, on_signal, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGINT, on_signal, d);
	if (r < 0) {
		log_error("cannot set up the event loop: %s", strerror(-r));
		return r;
	}
	if (sd_watchdog_enabled(false, &d->watchdog_usec) > 0 && d->watchdog_usec >= 2) {
		r = timer_arm(d, &d->watchdog_timer, d->watchdog_usec / 2, on_watchdog);
		if (r < 0)
			return r;
	}
	if (d->cfg->health_watch_usec) {
		r = timer_arm(d, &d->health_timer, jitter(d->cfg->health_watch_usec, 10),
		        on_health_watch);
		if (r < 0)
			return r;
	}
	if (!d->cfg->coordinator[0]) {
		log_notice("no Coordinator= configured: running standalone");
		return 0;
	}
	if (d->cfg->insecure)
		log_warning("Insecure=yes: talking to the coordinator %s without TLS "
		            "(unauthenticated and unencrypted transport)",
		        d->cfg->coordinator);
	r = agent_config_join_token(d->cfg, d->join_token, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	r = link_open(d->cfg, &d->link, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	r = sd_event_add_io(d->event, &d->link_src, link_fd(d->link), EPOLLIN, on_link_event, d);
	if (r >= 0)
		r = timer_arm(
		        d, &d->heartbeat_timer, jitter(d->cfg->heartbeat_usec, 10), on_heartbeat);
	if (r < 0) {
		log_error("cannot set up the event loop: %s", strerror(-r));
		return r;
	}
	d->hello_due = true;
	return 0;
}

static void
daemon_done(struct daemon *d)
{
	/* A worker still running (stop timeout) is abandoned: killed, as the
	 * worker thread died with the process before; recovery finishes its
	 * operation next time. */
	if (d->job) {
		(void)kill(d->job->pid, SIGKILL);
		job_free(d->job);
		d->job = NULL;
	}
	if (d->check) {
		(void)kill(d->check->pid, SIGKILL);
		(void)waitpid(d->check->pid, NULL, 0);
		job_free(d->check);
		d->check = NULL;
	}
	sd_event_source_unref(d->health_timer);
	link_close(d->link);
	d->link = NULL;
	sd_event_source_unref(d->link_src);
	sd_event_source_unref(d->retry_timer);
	sd_event_source_unref(d->heartbeat_timer);
	sd_event_source_unref(d->poll_timer);
	sd_event_source_unref(d->watchdog_timer);
	sd_event_source_unref(d->stop_timer);
	sd_event_unref(d->event);
	while (d->out_head)
		outgoing_pop(d);
	state_close(d->state);
	identity_done(&d->id);
	sodium_memzero(d->join_token, sizeof(d->join_token));
}

int
daemon_run(const struct agent_config *cfg, const struct daemon_options *opts)
{
	struct daemon d = {.cfg = cfg, .opts = opts};
	struct rw_err err = {{0}};
	sigset_t mask;
	int r, ret = 1;

	/* Block the signals before any thread exists (nng's), so that only
	 * the loop's signalfd sees SIGTERM and SIGINT and sd-event's child
	 * source sees the worker process exit (SIGCHLD). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	/* nng 1.5 starts a dozen threads here (2 CPUs) and up to about 30
	 * on big machines; glibc would give each that allocates an arena of
	 * its own, whose touched pages stay (about 50 KiB here, more with
	 * more threads). The loop and nng's callbacks allocate little and
	 * rarely at once: one arena besides the main one is enough. */
	(void)mallopt(M_ARENA_MAX, DAEMON_MALLOC_ARENAS);
	d.start_usec = now_monotonic_usec();

	r = state_open(cfg->state_dir, &d.state, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	if (daemon_setup_identity(&d) < 0)
		goto out;
	if (daemon_setup_loop(&d) < 0)
		goto out;
	r = state_report_foreach(d.state, queue_stored_report, &d);
	if (r < 0)
		log_warning(
		        "cannot read undelivered results from the state file: %s", strerror(-r));
	else if (d.n_out)
		log_info("%zu result(s) wait for the coordinator", d.n_out);

	pump(&d);
	(void)sd_notify(0, "READY=1");
	if (d.link)
		set_status("connecting to %s", cfg->coordinator);
	else
		set_status("running without a coordinator");
	log_info("rollwave-agent %s running (state %s, key %s)", ROLLWAVE_VERSION, cfg->state_dir,
	        d.fingerprint);
	r = sd_event_loop(d.event);
	if (r < 0)
		log_error("event loop failed: %s", strerror(-r));
	else
		ret = 0;
out:
	daemon_done(&d);
	return ret;
}
