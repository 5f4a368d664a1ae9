/*
 * exchange: the daemon's requests over the link (link.h) and the replies
 * they get. exchange_pump() starts what the two channels can carry now
 * (Hello, heartbeat or the oldest queued report on the report channel; the
 * long Poll on the poll channel); the link's events come back here and go
 * to the session, the outbox or the commands.
 */
#include "daemon_private.h"

void
exchange_envelope_init(struct daemon *d, Rollwave__Envelope *env)
{
	rollwave__envelope__init(env);
	env->protocol_version = WIRE_PROTOCOL_VERSION;
	env->message_id = ++d->message_id;
}

/* Validates env as the peer would, then sends it. */
int
exchange_send(struct daemon *d, enum link_channel ch, Rollwave__Envelope *env, unsigned timeout_ms)
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
	exchange_envelope_init(d, &env);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	if (exchange_send(d, LINK_REPORT, &env, REPORT_TIMEOUT_MS) >= 0)
		d->report_inflight = REPORT_HEARTBEAT;
	link_apps_free(apps, n);
}

static void
send_poll(struct daemon *d)
{
	Rollwave__Poll poll = ROLLWAVE__POLL__INIT;
	Rollwave__Envelope env;

	d->poll_due = false;
	exchange_envelope_init(d, &env);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_POLL;
	env.poll = &poll;
	(void)exchange_send(d, LINK_POLL, &env, POLL_TIMEOUT_MS);
}

/* Starts whatever the link can carry now. */
void
exchange_pump(struct daemon *d)
{
	if (!d->link)
		return;
	if (!link_busy(d->link, LINK_REPORT)) {
		if (d->session == SESSION_IDLE && d->hello_due)
			session_send_hello(d);
		else if (d->session == SESSION_UP && d->heartbeat_due)
			send_heartbeat(d);
		else if (d->session == SESSION_UP && d->out_head)
			outbox_send(d);
	}
	if (d->session == SESSION_UP && d->poll_due && !link_busy(d->link, LINK_POLL))
		send_poll(d);
}

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
			session_unreachable(d, ev->error == -ETIMEDOUT ? "no answer" : ev->detail);
		return;
	}
	if (env->body_case == ROLLWAVE__ENVELOPE__BODY_ERROR) {
		if (kind == REPORT_QUEUED && env->error->code == ROLLWAVE__ERROR__CODE__INVALID) {
			log_warning("coordinator refused a report: %s; dropping it",
			        env->error->message);
			if (d->out_head && d->out_head->final)
				(void)state_report_delete(d->state, d->out_head->command_id);
			outbox_pop(d);
			return;
		}
		session_on_refusal(d, kind, env->error);
		return;
	}
	switch (kind) {
	case REPORT_HELLO:
		if (d->session == SESSION_HELLO &&
		        env->body_case == ROLLWAVE__ENVELOPE__BODY_CHALLENGE) {
			session_on_challenge(d, env->challenge);
			return;
		}
		break;
	case REPORT_AUTH:
		if (d->session == SESSION_AUTH &&
		        env->body_case == ROLLWAVE__ENVELOPE__BODY_WELCOME) {
			session_on_welcome(d, env->welcome);
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
			outbox_pop(d);
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
	session_restart(d, session_backoff(d));
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
		else if (daemon_timer_arm(d, &d->poll_timer, POLL_RETRY_USEC, on_poll_retry) < 0)
			d->poll_due = true;
		return;
	}
	switch (env->body_case) {
	case ROLLWAVE__ENVELOPE__BODY_POLL:
		d->poll_due = true;
		return;
	case ROLLWAVE__ENVELOPE__BODY_COMMAND:
		d->poll_due = true;
		commands_handle(d, env->command);
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
	if (daemon_timer_arm(d, &d->poll_timer, POLL_RETRY_USEC, on_poll_retry) < 0)
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
	exchange_pump(d);
	return 0;
}

int
exchange_on_link_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
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
				daemon_set_status("coordinator unreachable, retrying");
				d->unreachable_logged = true;
			}
			/* The next pipe (PIPE_UP) or the retry timer says Hello. */
			if (d->session != SESSION_IDLE)
				session_restart(d, session_backoff(d));
			break;
		}
		link_event_free(ev);
	}
	exchange_pump(d);
	return 0;
}
