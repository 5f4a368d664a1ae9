/*
 * session: the daemon's session with the coordinator, Hello, Challenge,
 * Auth, Welcome and the refusals, drawn in daemon_private.h.
 * session_enter() is the one function that changes d->session; it checks
 * each transition and the state entered with assert_session_state().
 */
#include "daemon_private.h"

#include <assert.h>
#include <sodium.h>

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata);

/* The edges of daemon_private.h's drawing: edges[from][to]. */
_unused_ static const bool session_edges[_SESSION_STATE_MAX][_SESSION_STATE_MAX] = {
        [SESSION_IDLE] = {[SESSION_IDLE] = true, [SESSION_HELLO] = true},
        [SESSION_HELLO] = {[SESSION_IDLE] = true, [SESSION_AUTH] = true},
        [SESSION_AUTH] = {[SESSION_IDLE] = true, [SESSION_UP] = true},
        [SESSION_UP] = {[SESSION_IDLE] = true},
};

/* What holds in d->session's state (daemon_private.h). */
static void
assert_session_state(const struct daemon *d)
{
	assert(d->session < _SESSION_STATE_MAX);
	switch (d->session) {
	case SESSION_IDLE:
		assert(d->report_inflight == REPORT_NONE && !d->report_item);
		assert(!d->heartbeat_due && !d->poll_due);
		assert(d->host_id == 0);
		break;
	case SESSION_HELLO:
		assert(d->report_inflight == REPORT_HELLO && d->host_id == 0);
		break;
	case SESSION_AUTH:
		assert(d->report_inflight == REPORT_AUTH && d->host_id == 0);
		break;
	case SESSION_UP:
		assert(d->have_pin && d->report_inflight == REPORT_NONE);
		assert(d->heartbeat_due && d->poll_due);
		break;
	case _SESSION_STATE_MAX:
		break;
	}
}

/* The one place d->session changes: the caller has set up what the new
 * state holds (assert_session_state()). */
static void
session_enter(struct daemon *d, enum session_state to)
{
	assert(to < _SESSION_STATE_MAX && session_edges[d->session][to]);
	d->session = to;
	assert_session_state(d);
}

uint64_t
session_backoff(struct daemon *d)
{
	uint64_t b = d->backoff_usec ? d->backoff_usec : BACKOFF_MIN_USEC;

	d->backoff_usec = b * 2 > BACKOFF_MAX_USEC ? BACKOFF_MAX_USEC : b * 2;
	return b / 2 + randombytes_uniform((uint32_t)(b / 2 + 1));
}

/* Forgets the session and says Hello again after delay. */
void
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
	d->hello_due = false;
	d->heartbeat_due = false;
	d->poll_due = false;
	d->host_id = 0;
	session_enter(d, SESSION_IDLE);
	if (daemon_timer_arm(d, &d->retry_timer, delay, on_retry) < 0)
		d->hello_due = true;
}

void
session_unreachable(struct daemon *d, const char *why)
{
	bool was_up = d->session == SESSION_UP;

	if (was_up)
		log_warning("lost the coordinator at %s (%s); retrying", d->cfg->coordinator, why);
	else if (!d->unreachable_logged)
		log_info("coordinator %s unreachable (%s); retrying", d->cfg->coordinator, why);
	d->unreachable_logged = true;
	d->last_refusal = ROLLWAVE__ERROR__CODE__CODE_UNSPECIFIED;
	daemon_set_status("coordinator unreachable, retrying");
	session_restart(d, session_backoff(d));
}

static int
on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	if (d->session == SESSION_IDLE)
		d->hello_due = true;
	exchange_pump(d);
	return 0;
}

void
session_send_hello(struct daemon *d)
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
		session_restart(d, session_backoff(d));
		return;
	}
	hello.host_key.len = IDENTITY_PUBLIC_KEY_BYTES;
	hello.host_key.data = d->id.pk;
	/* The token enrols; once a coordinator key is pinned this host is
	 * accepted and the token is not sent any more. */
	hello.join_token = d->have_pin ? (char *)"" : d->join_token;
	hello.facts = &f.facts;
	exchange_envelope_init(d, &env);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	r = exchange_send(d, LINK_REPORT, &env, REPORT_TIMEOUT_MS);
	link_facts_done(&f);
	if (r < 0) {
		session_restart(d, session_backoff(d));
		return;
	}
	d->report_inflight = REPORT_HELLO;
	session_enter(d, SESSION_HELLO);
}

void
session_on_challenge(struct daemon *d, const Rollwave__Challenge *c)
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
		daemon_set_status("refusing a coordinator with a foreign key, retrying");
		session_restart(d, SLOW_RETRY_USEC);
		return;
	}
	if (wire_auth_sign(c->nonce.data, d->offered, d->id.sk, sig) < 0) {
		log_error("cannot sign the auth transcript");
		session_restart(d, session_backoff(d));
		return;
	}
	auth.signature.len = sizeof(sig);
	auth.signature.data = sig;
	exchange_envelope_init(d, &env);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_AUTH;
	env.auth = &auth;
	if (exchange_send(d, LINK_REPORT, &env, REPORT_TIMEOUT_MS) < 0) {
		session_restart(d, session_backoff(d));
		return;
	}
	d->report_inflight = REPORT_AUTH;
	session_enter(d, SESSION_AUTH);
}

void
session_on_welcome(struct daemon *d, const Rollwave__Welcome *w)
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
			session_restart(d, session_backoff(d));
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
	d->host_id = w->host_id;
	d->welcome_host_id = w->host_id;
	d->backoff_usec = 0;
	d->hb_seq = 0;
	d->last_refusal = ROLLWAVE__ERROR__CODE__CODE_UNSPECIFIED;
	d->unreachable_logged = false;
	d->heartbeat_due = true;
	d->poll_due = true;
	session_enter(d, SESSION_UP);
	log_struct(LOG_INFO, MSGID_LINK_UP, NULL, NULL, "connected to %s as host %" PRIu64,
	        d->cfg->coordinator, d->host_id);
	daemon_set_status("connected to %s as host %" PRIu64, d->cfg->coordinator, d->host_id);
}

void
session_on_refusal(struct daemon *d, enum report_kind kind, const Rollwave__Error *e)
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
		daemon_set_status("waiting for acceptance (key %s)", d->fingerprint);
		session_restart(d, daemon_jitter(d->cfg->heartbeat_usec, 10));
		return;
	case ROLLWAVE__ERROR__CODE__REVOKED:
		if (!repeat)
			log_struct(LOG_ERR, MSGID_LINK_REFUSED, NULL, NULL,
			        "the coordinator revoked this host (key %s); retrying every minute",
			        d->fingerprint);
		daemon_set_status("revoked by the coordinator");
		session_restart(d, daemon_jitter(SLOW_RETRY_USEC, 10));
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
		daemon_set_status("refused by the coordinator, retrying");
		session_restart(d, session_backoff(d));
		return;
	default:
		if (!repeat)
			log_warning("coordinator answered %s with error %d: %s",
			        kind == REPORT_HELLO          ? "hello"
			                : kind == REPORT_AUTH ? "auth"
			                                      : "a report",
			        (int)e->code, e->message);
		session_restart(d, session_backoff(d));
		return;
	}
}
