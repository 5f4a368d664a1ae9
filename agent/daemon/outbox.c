/*
 * outbox: the CommandAcks and PhaseReports that wait for the link, in
 * order, at most OUTGOING_MAX (the oldest progress report is dropped
 * first, a final result never). Final results come from the state file at
 * start too: a provisional one (the agent died while the command ran) is
 * settled from what the start's recovery left.
 */
#include "daemon_private.h"

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

void
outbox_push(struct daemon *d, struct outgoing *o)
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

void
outbox_pop(struct daemon *d)
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

void
outbox_queue_ack(struct daemon *d, uint64_t command_id, bool accepted, const char *reason)
{
	struct outgoing *o = calloc(1, sizeof(*o));

	if (!o)
		return;
	o->is_ack = true;
	o->command_id = command_id;
	o->accepted = accepted;
	strbuf_printf(o->reason, sizeof(o->reason), "%s", reason);
	outbox_push(d, o);
	exchange_pump(d);
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

int
outbox_load_stored(void *userdata, const struct state_report *rep)
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
	outbox_push(d, o);
	return 0;
}

void
outbox_send(struct daemon *d)
{
	struct outgoing *o = d->out_head;
	_cleanup_free_ char *text = NULL, *hook_text = NULL;
	Rollwave__CommandAck ack = ROLLWAVE__COMMAND_ACK__INIT;
	Rollwave__PhaseReport rep = ROLLWAVE__PHASE_REPORT__INIT;
	Rollwave__Envelope env;
	int r;

	exchange_envelope_init(d, &env);
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
	r = exchange_send(d, LINK_REPORT, &env, REPORT_TIMEOUT_MS);
	if (r == -EINVAL) { /* would never be accepted: drop it */
		outbox_pop(d);
		return;
	}
	if (r < 0)
		return;
	d->report_inflight = REPORT_QUEUED;
	d->report_item = o;
}
