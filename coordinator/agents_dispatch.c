/*
 * agents_dispatch: one request of an agent, decoded and answered: the one
 * switch on the envelope's body, and the requests of an authenticated host
 * (Heartbeat, Poll, CommandAck, PhaseReport). Hello and Auth are
 * agents_session.c's.
 */
#include <inttypes.h>

#include "agents_private.h"
#include "log.h"

static nng_msg *
ack_msg(uint64_t msgid)
{
	Rollwave__HeartbeatAck ack = ROLLWAVE__HEARTBEAT_ACK__INIT;
	Rollwave__Envelope env;

	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK;
	env.heartbeat_ack = &ack;
	return msg_from_env(&env);
}

struct command_ctx {
	struct agents *a;
	uint64_t msgid;
};

/* The signed Command for c as a reply to message ctx->msgid. */
static void *
command_msg(void *userdata, int64_t host_id, const struct fleet_command *c)
{
	const struct command_ctx *ctx = userdata;
	Rollwave__Command cmd = ROLLWAVE__COMMAND__INIT;
	Rollwave__Envelope env;
	uint8_t sig[WIRE_SIGNATURE_LEN];

	cmd.command_id = c->command_id;
	cmd.issued_at_ms = fleet_clock_ms();
	cmd.app = (char *)c->app;
	cmd.host_id = (uint64_t)host_id;
	cmd.kind = c->kind;
	switch (c->kind) {
	case ROLLWAVE__COMMAND__KIND__ROLLBACK:
		cmd.to_version = (char *)c->version;
		break;
	case ROLLWAVE__COMMAND__KIND__DEPLOY:
	case ROLLWAVE__COMMAND__KIND__MIGRATE:
	case ROLLWAVE__COMMAND__KIND__PREFLIGHT:
		cmd.version = (char *)c->version;
		cmd.manifest_url = (char *)c->manifest_url;
		break;
	case ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN:
		cmd.version = (char *)c->version;
		break;
	case ROLLWAVE__COMMAND__KIND__CANCEL:
		cmd.cancel_command_id = c->cancel_command_id;
		break;
	default:
		return NULL;
	}
	if (wire_command_sign(&cmd, ctx->a->id->sk, sig) < 0)
		return NULL;
	env_init(&env, ctx->msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_COMMAND;
	env.command = &cmd;
	return msg_from_env(&env);
}

nng_msg *
next_command(struct agents *a, int64_t host, uint32_t pipe, uint64_t msgid)
{
	struct command_ctx ctx = {a, msgid};

	return fleet_next_command(a->fleet, host, pipe, command_msg, &ctx);
}

static const char *
final_state(Rollwave__Phase phase)
{
	switch (phase) {
	case ROLLWAVE__PHASE__PHASE_COMMITTED:
		return "committed";
	case ROLLWAVE__PHASE__PHASE_ROLLED_BACK:
		return "rolled_back";
	case ROLLWAVE__PHASE__PHASE_CANCELLED:
		return "cancelled";
	default:
		return "failed";
	}
}

/* A Poll: the next command, or the worker parks until one comes or the
 * poll times out (NULL). */
static nng_msg *
on_poll(struct agents *a, struct worker *w, int64_t host, uint32_t pipe, uint64_t msgid)
{
	struct agent_link *l = agent_link(a, host, false);
	nng_msg *cmd = next_command(a, host, pipe, msgid);

	if (cmd)
		return cmd;
	/* Nothing to do: park until a command or the timeout. One parked
	 * poll per host: a newer one answers the older. */
	if (l->parked)
		worker_unpark(a, l->parked, NULL);
	worker_park(a, w, host, msgid);
	return NULL;
}

static void
on_command_ack(struct agents *a, int64_t host, const Rollwave__CommandAck *ack)
{
	bool cancel = fleet_command_kind(a->fleet, host, ack->command_id) ==
	        ROLLWAVE__COMMAND__KIND__CANCEL;

	if (!ack->accepted)
		fleet_task_news(
		        a->fleet, host, ack->command_id, "refused", -1, ack->reason, NULL, true);
	else if (cancel)
		/* A CANCEL is done once acknowledged; its reason says what
		 * became of the command it named. */
		fleet_task_news(
		        a->fleet, host, ack->command_id, "committed", -1, ack->reason, NULL, true);
	else
		fleet_task_news(a->fleet, host, ack->command_id, "running", -1, NULL, NULL, false);
}

static void
on_phase_report(struct agents *a, int64_t host, const Rollwave__PhaseReport *rep)
{
	if (rep->final)
		fleet_task_news(a->fleet, host, rep->command_id, final_state(rep->phase),
		        (int)rep->phase,
		        rep->hook_absent && !rep->error[0] ? TASK_HOOK_ABSENT : rep->error,
		        rep->hook_output, true);
	else
		fleet_task_news(a->fleet, host, rep->command_id, "running", (int)rep->phase,
		        rep->error[0] ? rep->error : NULL, NULL, false);
}

/* A request of an authenticated, accepted host; NULL when w parked. */
static nng_msg *
on_host_request(struct agents *a, struct worker *w, uint32_t pipe, const Rollwave__Envelope *env)
{
	struct session *se = session_find(a, pipe, false);
	int64_t host = se ? se->host_id : 0;
	struct agent_link *l = host > 0 ? agent_link(a, host, true) : NULL;
	int r;

	if (!l)
		return agent_error(a, env->message_id, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
		        "this connection is not authenticated: send Hello");
	if (env->body_case == ROLLWAVE__ENVELOPE__BODY_HEARTBEAT)
		r = fleet_heartbeat(
		        a->fleet, host, apps_to_json(env->heartbeat->apps, env->heartbeat->n_apps));
	else if (env->body_case == ROLLWAVE__ENVELOPE__BODY_POLL)
		r = fleet_polled(a->fleet, host);
	else
		r = fleet_host_active(a->fleet, host) ? 0 : -EACCES;
	if (r < 0)
		return agent_error(a, env->message_id, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
		        "this connection is not authenticated: send Hello");
	/* The host speaks on this connection: commands go there. A host
	 * marked down (silent, e.g. a pulled cable) whose connection
	 * survived comes back on it without a new Auth. */
	l->pipe = pipe;
	switch (env->body_case) {
	case ROLLWAVE__ENVELOPE__BODY_POLL:
		return on_poll(a, w, host, pipe, env->message_id);
	case ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK:
		on_command_ack(a, host, env->command_ack);
		break;
	case ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT:
		on_phase_report(a, host, env->phase_report);
		break;
	default:
		break;
	}
	return ack_msg(env->message_id);
}

/* The reply to a message that did not decode, counted as undecodable. */
static nng_msg *
undecodable(struct agents *a, const void *body, size_t len, int r, const struct rw_err *err)
{
	_cleanup_free_ void *buf = NULL;
	nng_msg *reply = NULL;
	size_t blen;

	stat_inc(&a->msgs[0]);
	stat_inc(&a->refused[0][stat_slot((int)wire_error_code_from_errno(r), COUNTER_CODES)]);
	log_warning("refused a message from an agent connection: %s", err->msg);
	if (wire_error_reply(wire_peek_message_id(body, len), r, err->msg, &buf, &blen) < 0 ||
	        nng_msg_alloc(&reply, 0) != 0)
		return NULL;
	if (nng_msg_append(reply, buf, blen) != 0) {
		nng_msg_free(reply);
		return NULL;
	}
	return reply;
}

nng_msg *
handle_agent(struct agents *a, struct worker *w, nng_msg *req)
{
	_cleanup_wire_free_ Rollwave__Envelope *env = NULL;
	struct rw_err err = {{0}};
	nng_pipe p = nng_msg_get_pipe(req);
	void *body = nng_msg_body(req);
	size_t len = nng_msg_len(req);
	int r;

	r = wire_decode(body, len, &env, &err);
	if (r < 0)
		return undecodable(a, body, len, r, &err);
	a->type = stat_slot((int)env->body_case, COUNTER_TYPES);
	stat_inc(&a->msgs[a->type]);
	switch (env->body_case) {
	case ROLLWAVE__ENVELOPE__BODY_HELLO:
		return on_hello(a, p, env->message_id, env->hello);
	case ROLLWAVE__ENVELOPE__BODY_AUTH:
		return on_auth(a, nng_pipe_id(p), env->message_id, env->auth);
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT:
	case ROLLWAVE__ENVELOPE__BODY_POLL:
	case ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK:
	case ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT:
		return on_host_request(a, w, nng_pipe_id(p), env);
	default:
		return agent_error(a, env->message_id, ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE,
		        "'%s' is not a request agents may send", wire_body_name(env->body_case));
	}
}
