/*
 * server: agent and admin sockets of the coordinator. See server.h.
 *
 * Worker (one nng context on the agent socket):
 *
 *   RECV --request--> handle --reply--> SEND --sent--> RECV
 *                        \--Poll, nothing to do--> PARKED --command or
 *                                                  timeout--> SEND
 */
#include <inttypes.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/transport/ipc/ipc.h>
#include <pthread.h>
#include <pwd.h>
#include <sodium.h>
#include <sys/stat.h>

#include "tlsprefs.h"
#include "log.h"
#include "server_private.h"
#include "waves.h"
#include "version.h"

uint64_t
now_ms(void)
{
	return now_realtime_usec() / USEC_PER_MSEC;
}

/* ---- sessions (by pipe id) ---- */

static struct session *
session_find(struct server *s, uint32_t pipe, bool create)
{
	size_t i;

	if (create && (s->n_sessions + 1) * 2 > s->sessions_cap) {
		size_t ncap = s->sessions_cap ? s->sessions_cap * 2 : 1024;
		struct session *n = calloc(ncap, sizeof(*n));

		if (!n)
			return NULL;
		for (size_t j = 0; j < s->sessions_cap; j++) {
			if (!s->sessions[j].pipe)
				continue;
			for (i = s->sessions[j].pipe % ncap; n[i].pipe; i = (i + 1) % ncap)
				;
			n[i] = s->sessions[j];
		}
		free(s->sessions);
		s->sessions = n;
		s->sessions_cap = ncap;
	}
	if (!s->sessions_cap)
		return NULL;
	for (i = pipe % s->sessions_cap; s->sessions[i].pipe; i = (i + 1) % s->sessions_cap)
		if (s->sessions[i].pipe == pipe)
			return &s->sessions[i];
	if (!create)
		return NULL;
	s->sessions[i] = (struct session) {.pipe = pipe};
	s->n_sessions++;
	return &s->sessions[i];
}

static void
session_clear_facts(struct session *se)
{
	free(se->hostname);
	free(se->labels_json);
	free(se->agent_version);
	free(se->apps_json);
	se->hostname = se->labels_json = se->agent_version = se->apps_json = NULL;
}

/* Removes the session of pipe, re-inserting the rest of its probe chain. */
static void
session_remove(struct server *s, uint32_t pipe)
{
	struct session *se = session_find(s, pipe, false);
	size_t i;

	if (!se)
		return;
	session_clear_facts(se);
	i = (size_t)(se - s->sessions);
	s->sessions[i].pipe = 0;
	s->n_sessions--;
	for (size_t j = (i + 1) % s->sessions_cap; s->sessions[j].pipe;
	        j = (j + 1) % s->sessions_cap) {
		struct session moved = s->sessions[j];
		struct session *dst;

		s->sessions[j].pipe = 0;
		s->n_sessions--;
		dst = session_find(s, moved.pipe, true);
		*dst = moved;
	}
}

/* ---- hosts in memory ---- */

struct host_mem *
host_mem(struct server *s, int64_t id, bool create)
{
	if (id <= 0)
		return NULL;
	if ((size_t)id >= s->hosts_cap) {
		size_t ncap;
		struct host_mem *n;

		if (!create)
			return NULL;
		ncap = s->hosts_cap ? s->hosts_cap : 1024;
		while (ncap <= (size_t)id)
			ncap *= 2;
		n = realloc(s->hosts, ncap * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + s->hosts_cap, 0, (ncap - s->hosts_cap) * sizeof(*n));
		s->hosts = n;
		s->hosts_cap = ncap;
	}
	if (!s->hosts[id].id && !create)
		return NULL;
	s->hosts[id].id = id;
	return &s->hosts[id];
}

static int
load_host_cb(void *userdata, const struct host_row *h)
{
	struct server *s = userdata;
	struct host_mem *m = host_mem(s, h->id, true);

	if (!m)
		return -ENOMEM;
	m->state = h->state;
	/* Hosts that were up get a fresh grace period after a restart. */
	m->last_seen_ms = h->state == HOST_UP ? s->started_ms : h->last_seen_ms;
	return 0;
}

/* ---- agent requests (called with s->lock held) ---- */

/* An error reply to an agent, counted by request type and code. */
static nng_msg *agent_error(struct server *s, uint64_t msgid, Rollwave__Error__Code code,
        const char *fmt, ...) _printf_(4, 5);
static nng_msg *
agent_error(struct server *s, uint64_t msgid, Rollwave__Error__Code code, const char *fmt, ...)
{
	nng_msg *m;
	va_list ap;

	stat_inc(&s->stats.agent_refused[s->agent_type][stat_slot((int)code, STAT_CODES)]);
	va_start(ap, fmt);
	m = error_msgv(msgid, code, fmt, ap);
	va_end(ap);
	return m;
}

static bool
token_matches(const struct server *s, const char *token)
{
	size_t a = strlen(s->join_token), b = strlen(token);

	if (!a || a != b)
		return false;
	return sodium_memcmp(s->join_token, token, a) == 0;
}

static nng_msg *
on_hello(struct server *s, nng_pipe p, uint64_t msgid, const Rollwave__Hello *h)
{
	uint32_t pipe = nng_pipe_id(p);
	Rollwave__Challenge ch = ROLLWAVE__CHALLENGE__INIT;
	Rollwave__Envelope env;
	struct session *se;

	se = session_find(s, pipe, false);
	if (!se) {
		nng_sockaddr sa;

		/* ADD_POST may not have run yet. Create the session only
		 * while the pipe exists: once it is gone (REM_POST ran or
		 * waits for our lock) nothing would ever remove it again. */
		if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
			return NULL;
		se = session_find(s, pipe, true);
	}
	if (!se)
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	session_clear_facts(se);
	se->host_id = 0;
	se->challenged = true;
	memcpy(se->host_key, h->host_key.data, WIRE_KEY_LEN);
	se->token_ok = h->join_token[0] && token_matches(s, h->join_token);
	se->hostname = strdup(h->facts->hostname);
	se->agent_version = strdup(h->facts->agent_version);
	se->labels_json = labels_to_json(h->facts->labels, h->facts->n_labels);
	se->apps_json = apps_to_json(h->facts->apps, h->facts->n_apps);
	randombytes_buf(se->nonce, sizeof(se->nonce));

	ch.nonce = (ProtobufCBinaryData) {WIRE_NONCE_LEN, se->nonce};
	ch.coordinator_key = (ProtobufCBinaryData) {WIRE_KEY_LEN, s->id.pk};
	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_CHALLENGE;
	env.challenge = &ch;
	return msg_from_env(&env);
}

/* What the database said about an authenticating key. */
struct auth_outcome {
	enum { AUTH_KNOWN, AUTH_ENROLLED, AUTH_REFUSED, AUTH_FAILED } kind;
	int64_t id;
	enum host_state state;
	char msg[256];
};

/* The database half of Auth, run without the server lock (SQLite commits
 * wait for the disk). facts: the session's copies. */
static void
auth_lookup(struct server *s, const uint8_t key[static WIRE_KEY_LEN], bool token_ok,
        const struct session *facts, struct auth_outcome *out)
{
	struct host_row row;
	char fp[32];
	int r;

	identity_fingerprint(key, fp);
	r = db_host_by_key(s->db, key, &row);
	if (r == -ENOENT) {
		if (!token_ok) {
			log_warning("refused unknown host key %s ('%s'): no valid join token", fp,
			        facts->hostname);
			out->kind = AUTH_REFUSED;
			strbuf_printf(out->msg, sizeof(out->msg),
			        "unknown host key and no valid join token");
			return;
		}
		r = db_host_add_pending(s->db, key, facts->hostname, facts->labels_json,
		        facts->agent_version, now_ms(), &out->id);
		if (r < 0) {
			out->kind = AUTH_FAILED;
			strbuf_printf(out->msg, sizeof(out->msg), "cannot record the host: %s",
			        strerror(-r));
			return;
		}
		log_notice("host %" PRId64 " ('%s', %s) enrolled, waiting for 'rollwave hosts "
		           "accept %" PRId64 "'",
		        out->id, facts->hostname, fp, out->id);
		out->kind = AUTH_ENROLLED;
		out->state = HOST_PENDING;
		return;
	}
	if (r < 0) {
		out->kind = AUTH_FAILED;
		strbuf_printf(out->msg, sizeof(out->msg), "database error: %s", strerror(-r));
		return;
	}
	/* A known host: its new facts and its coming up are written by the
	 * next server_tick(), batched with every other host's. */
	out->kind = AUTH_KNOWN;
	out->id = row.id;
	out->state = row.state;
	host_row_done(&row);
}

/* Called with s->lock held; lets go of it while the database works. */
static nng_msg *
on_auth(struct server *s, uint32_t pipe, uint64_t msgid, const Rollwave__Auth *a)
{
	Rollwave__Welcome w = ROLLWAVE__WELCOME__INIT;
	Rollwave__Envelope env;
	struct session *se = session_find(s, pipe, false), facts = {0};
	uint8_t key[WIRE_KEY_LEN];
	struct auth_outcome out = {0};
	size_t type = s->agent_type;
	bool token_ok;
	struct host_mem *m;

	if (!se || !se->challenged)
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
		        "send Hello first: this connection has no challenge");
	se->challenged = false; /* one attempt per challenge */
	if (wire_auth_verify(
	            se->nonce, s->id.pk, se->host_key, a->signature.data, a->signature.len) < 0) {
		log_warning("refused an agent whose signature does not match its key");
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
		        "signature does not match the host key");
	}
	memcpy(key, se->host_key, sizeof(key));
	token_ok = se->token_ok;
	facts.hostname = strdup(se->hostname ? se->hostname : "");
	facts.labels_json = strdup(se->labels_json ? se->labels_json : "{}");
	facts.agent_version = strdup(se->agent_version ? se->agent_version : "");
	facts.apps_json = strdup(se->apps_json ? se->apps_json : "[]");
	if (!facts.hostname || !facts.labels_json || !facts.agent_version || !facts.apps_json) {
		session_clear_facts(&facts);
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	}

	pthread_mutex_unlock(&s->lock);
	auth_lookup(s, key, token_ok, &facts, &out);
	pthread_mutex_lock(&s->lock);
	s->agent_type = type;

	/* The world may have moved meanwhile: the connection may be gone
	 * (then nobody reads the reply) and the host table reallocated. */
	se = session_find(s, pipe, false);
	switch (out.kind) {
	case AUTH_REFUSED:
		session_clear_facts(&facts);
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED, "%s", out.msg);
	case AUTH_FAILED:
		session_clear_facts(&facts);
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__INTERNAL, "%s", out.msg);
	case AUTH_ENROLLED:
		session_clear_facts(&facts);
		m = host_mem(s, out.id, true);
		if (m)
			m->state = HOST_PENDING;
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__PENDING,
		        "enrolled as host %" PRId64 "; waiting for an admin: rollwave hosts accept "
		        "%" PRId64,
		        out.id, out.id);
	case AUTH_KNOWN:
		break;
	}
	m = host_mem(s, out.id, true);
	if (out.state == HOST_REVOKED) {
		session_clear_facts(&facts);
		if (m)
			m->state = HOST_REVOKED;
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__REVOKED,
		        "host %" PRId64 " was revoked", out.id);
	}
	if (out.state == HOST_PENDING) {
		session_clear_facts(&facts);
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__PENDING,
		        "host %" PRId64 " waits for an admin: rollwave hosts accept %" PRId64,
		        out.id, out.id);
	}
	if (!m || !se) {
		session_clear_facts(&facts);
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__BUSY,
		        m ? "the connection is gone" : "out of memory");
	}
	/* A revoke that came while the database was asked wins. */
	if (m->state == HOST_REVOKED) {
		session_clear_facts(&facts);
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__REVOKED,
		        "host %" PRId64 " was revoked", out.id);
	}
	if (out.state == HOST_DOWN) {
		log_notice("host %" PRId64 " ('%s') is up again", out.id, facts.hostname);
		m->up_dirty = true;
		m->up_by_connect = true;
	}
	free(m->new_hostname);
	free(m->new_labels_json);
	free(m->new_agent_version);
	m->new_hostname = TAKE_PTR(facts.hostname);
	m->new_labels_json = TAKE_PTR(facts.labels_json);
	m->new_agent_version = TAKE_PTR(facts.agent_version);
	if (!m->apps_json || !streq(m->apps_json, facts.apps_json)) {
		free(m->apps_json);
		m->apps_json = TAKE_PTR(facts.apps_json);
		m->apps_dirty = true;
	}
	session_clear_facts(&facts);
	m->state = HOST_UP;
	m->last_seen_ms = now_ms();
	m->seen_dirty = true;
	m->pipe = pipe;
	se->host_id = out.id;

	w.host_id = (uint64_t)out.id;
	w.coordinator_key = (ProtobufCBinaryData) {WIRE_KEY_LEN, s->id.pk};
	w.state = ROLLWAVE__HOST_STATE__HOST_STATE_UP;
	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_WELCOME;
	env.welcome = &w;
	return msg_from_env(&env);
}

/* The authenticated, accepted host of this pipe, or NULL. */
static struct host_mem *
session_host(struct server *s, uint32_t pipe)
{
	struct session *se = session_find(s, pipe, false);
	struct host_mem *m;

	if (!se || se->host_id <= 0)
		return NULL;
	m = host_mem(s, se->host_id, false);
	if (!m || m->state == HOST_REVOKED || m->state == HOST_PENDING)
		return NULL;
	return m;
}

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

static nng_msg *
empty_poll_msg(uint64_t msgid)
{
	Rollwave__Poll p = ROLLWAVE__POLL__INIT;
	Rollwave__Envelope env;

	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_POLL;
	env.poll = &p;
	return msg_from_env(&env);
}

static nng_msg *
on_heartbeat(struct server *s, struct host_mem *m, uint64_t msgid, const Rollwave__Heartbeat *hb)
{
	char *apps = apps_to_json(hb->apps, hb->n_apps);

	if (m->state == HOST_DOWN) {
		m->state = HOST_UP; /* the db follows at the next tick */
		m->up_dirty = true;
	}
	m->last_seen_ms = now_ms();
	m->seen_dirty = true;
	if (apps) {
		if (!m->apps_json || !streq(m->apps_json, apps)) {
			free(m->apps_json);
			m->apps_json = apps;
			m->apps_dirty = true;
		} else
			free(apps);
	}
	(void)s;
	return ack_msg(msgid);
}

void
pending_free(struct pending_cmd *p)
{
	if (!p)
		return;
	free(p->manifest_url);
	free(p);
}

/* Drops a finished command from the host's queue: its kind, or -ENOENT if
 * it was not queued (a repeated final report). Called with s->lock held. */
static int
queue_drop(struct host_mem *m, uint64_t command_id)
{
	for (struct pending_cmd **pp = &m->queue; *pp; pp = &(*pp)->next)
		if ((*pp)->command_id == command_id) {
			struct pending_cmd *p = *pp;
			int kind = (int)p->kind;

			*pp = p->next;
			pending_free(p);
			return kind;
		}
	return -ENOENT;
}

void
queue_append(struct host_mem *m, struct pending_cmd *p)
{
	struct pending_cmd **pp = &m->queue;

	while (*pp)
		pp = &(*pp)->next;
	*pp = p;
}

int
server_unqueue_command(struct server *s, int64_t host_id, uint64_t command_id)
{
	struct host_mem *m;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	m = host_mem(s, host_id, false);
	for (struct pending_cmd **pp = m ? &m->queue : NULL; pp && *pp; pp = &(*pp)->next)
		if ((*pp)->command_id == command_id) {
			struct pending_cmd *p = *pp;

			if (!p->sent_pipe && !p->maybe_sent) {
				*pp = p->next;
				pending_free(p);
				r = 1;
			}
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
server_queue_command(struct server *s, int64_t host_id, const struct pending_cmd *tmpl)
{
	struct pending_cmd *p = calloc(1, sizeof(*p));
	struct host_mem *m;
	int sent = 0;

	if (!p || !(p->manifest_url = strdup(tmpl->manifest_url ? tmpl->manifest_url : ""))) {
		free(p);
		return -ENOMEM;
	}
	p->command_id = tmpl->command_id;
	p->kind = tmpl->kind;
	p->cancel_command_id = tmpl->cancel_command_id;
	strbuf_printf(p->app, sizeof(p->app), "%s", tmpl->app);
	strbuf_printf(p->version, sizeof(p->version), "%s", tmpl->version);
	pthread_mutex_lock(&s->lock);
	m = host_mem(s, host_id, true);
	if (!m) {
		pthread_mutex_unlock(&s->lock);
		pending_free(p);
		return -ENOMEM;
	}
	queue_append(m, p);
	/* A host waiting in its long poll gets it at once. */
	if (m->parked) {
		nng_msg *cmd = next_command(s, m, m->pipe, m->parked->parked_msgid);

		if (cmd) {
			worker_unpark(s, m->parked, cmd);
			sent = 1;
		}
	}
	pthread_mutex_unlock(&s->lock);
	server_flush_sends(s);
	return sent;
}

/* The signed Command for p as a reply to message msgid. */
static nng_msg *
command_msg(struct server *s, int64_t host_id, const struct pending_cmd *p, uint64_t msgid)
{
	Rollwave__Command cmd = ROLLWAVE__COMMAND__INIT;
	Rollwave__Envelope env;
	uint8_t sig[WIRE_SIGNATURE_LEN];

	cmd.command_id = p->command_id;
	cmd.issued_at_ms = now_ms();
	cmd.app = (char *)p->app;
	cmd.host_id = (uint64_t)host_id;
	cmd.kind = p->kind;
	switch (p->kind) {
	case ROLLWAVE__COMMAND__KIND__ROLLBACK:
		cmd.to_version = (char *)p->version;
		break;
	case ROLLWAVE__COMMAND__KIND__DEPLOY:
	case ROLLWAVE__COMMAND__KIND__MIGRATE:
	case ROLLWAVE__COMMAND__KIND__PREFLIGHT:
		cmd.version = (char *)p->version;
		cmd.manifest_url = p->manifest_url;
		break;
	case ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN:
		cmd.version = (char *)p->version;
		break;
	case ROLLWAVE__COMMAND__KIND__CANCEL:
		cmd.cancel_command_id = p->cancel_command_id;
		break;
	default:
		return NULL;
	}
	if (wire_command_sign(&cmd, s->id.sk, sig) < 0)
		return NULL;
	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_COMMAND;
	env.command = &cmd;
	return msg_from_env(&env);
}

/* The first command not yet handed to this connection, as a reply; NULL if
 * there is none. Called with s->lock held (takes the db lock). */
nng_msg *
next_command(struct server *s, struct host_mem *m, uint32_t pipe, uint64_t msgid)
{
	for (struct pending_cmd *p = m->queue; p; p = p->next) {
		nng_msg *reply;

		if (p->sent_pipe == pipe)
			continue;
		reply = command_msg(s, m->id, p, msgid);
		if (!reply)
			return NULL;
		p->sent_pipe = pipe;
		(void)db_task_update(s->db, m->id, p->command_id, "sent", -1, NULL);
		return reply;
	}
	return NULL;
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

static enum task_result
task_result_from_string(const char *state)
{
	if (streq(state, "committed"))
		return TASK_COMMITTED;
	if (streq(state, "rolled_back"))
		return TASK_ROLLED_BACK;
	if (streq(state, "refused"))
		return TASK_REFUSED;
	if (streq(state, "cancelled"))
		return TASK_CANCELLED;
	return TASK_FAILED;
}

/* A host's answer about one of its commands. Called with s->lock held. */
static void
on_task_news(struct server *s, struct host_mem *m, uint64_t command_id, const char *state,
        int phase, const char *error, const char *output, bool done)
{
	int r;

	r = db_task_report(
	        s->db, m->id, command_id, state, phase, error, output && output[0] ? output : NULL);
	if (r == -ENOENT)
		log_warning("host %" PRId64 " reported on command %" PRIu64 ", which it was never "
		            "given",
		        m->id, command_id);
	else if (r < 0)
		log_error("cannot record the task of host %" PRId64 ": %s", m->id, strerror(-r));
	if (done) {
		int kind = queue_drop(m, command_id);

		if (kind >= 0)
			stat_inc(&s->stats.task_results[stat_slot(kind, STAT_KINDS)]
			                               [task_result_from_string(state)]);
		log_struct(streq(state, "committed") ? LOG_INFO : LOG_WARNING, NULL, NULL, NULL,
		        "host %" PRId64 " command %" PRIu64 ": %s%s%s", m->id, command_id, state,
		        error && error[0] ? ": " : "", error ? error : "");
	}
}

void worker_unpark(struct server *s, struct worker *w, nng_msg *reply);

/* Returns the reply, or NULL when the worker parked (a long poll). */
static nng_msg *
handle_agent(struct server *s, struct worker *w, nng_msg *req)
{
	_cleanup_wire_free_ Rollwave__Envelope *env = NULL;
	struct rw_err err = {{0}};
	nng_pipe p = nng_msg_get_pipe(req);
	uint32_t pipe = nng_pipe_id(p);
	void *body = nng_msg_body(req);
	size_t len = nng_msg_len(req);
	struct host_mem *m;
	uint64_t msgid;
	int r;

	r = wire_decode(body, len, &env, &err);
	if (r < 0) {
		_cleanup_free_ void *buf = NULL;
		nng_msg *reply = NULL;
		size_t blen;

		stat_inc(&s->stats.agent_msgs[0]);
		stat_inc(&s->stats.agent_refused[0][stat_slot(
		        (int)wire_error_code_from_errno(r), STAT_CODES)]);
		log_warning("refused a message from an agent connection: %s", err.msg);
		if (wire_error_reply(wire_peek_message_id(body, len), r, err.msg, &buf, &blen) <
		                0 ||
		        nng_msg_alloc(&reply, 0) != 0)
			return NULL;
		if (nng_msg_append(reply, buf, blen) != 0) {
			nng_msg_free(reply);
			return NULL;
		}
		return reply;
	}
	msgid = env->message_id;
	s->agent_type = stat_slot((int)env->body_case, STAT_TYPES);
	stat_inc(&s->stats.agent_msgs[s->agent_type]);
	switch (env->body_case) {
	case ROLLWAVE__ENVELOPE__BODY_HELLO:
		return on_hello(s, p, msgid, env->hello);
	case ROLLWAVE__ENVELOPE__BODY_AUTH:
		return on_auth(s, pipe, msgid, env->auth);
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT:
	case ROLLWAVE__ENVELOPE__BODY_POLL:
	case ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK:
	case ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT:
		m = session_host(s, pipe);
		if (!m) {
			return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
			        "this connection is not authenticated: send Hello");
		}
		/* The host speaks on this connection: commands go there. A
		 * host marked down (silent, e.g. a pulled cable) whose
		 * connection survived comes back on it without a new Auth. */
		m->pipe = pipe;
		if (env->body_case == ROLLWAVE__ENVELOPE__BODY_HEARTBEAT)
			return on_heartbeat(s, m, msgid, env->heartbeat);
		if (env->body_case == ROLLWAVE__ENVELOPE__BODY_POLL) {
			nng_msg *cmd;

			m->last_seen_ms = now_ms();
			m->seen_dirty = true;
			cmd = next_command(s, m, pipe, msgid);
			if (cmd)
				return cmd;
			/* Nothing to do: park until a command or the timeout. One
			 * parked poll per host: a newer one answers the older. */
			if (m->parked)
				worker_unpark(s, m->parked, NULL);
			m->parked = w;
			w->parked_host = m->id;
			w->parked_msgid = msgid;
			w->park_deadline_ms = now_ms() + POLL_TIMEOUT_MS;
			w->park_prev = s->parked_tail;
			w->park_next = NULL;
			if (s->parked_tail)
				s->parked_tail->park_next = w;
			else
				s->parked_head = w;
			s->parked_tail = w;
			return NULL;
		}
		if (env->body_case == ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK) {
			const Rollwave__CommandAck *ack = env->command_ack;

			bool cancel = false;

			for (const struct pending_cmd *q = m->queue; q; q = q->next)
				if (q->command_id == ack->command_id)
					cancel = q->kind == ROLLWAVE__COMMAND__KIND__CANCEL;
			if (!ack->accepted)
				on_task_news(s, m, ack->command_id, "refused", -1, ack->reason,
				        NULL, true);
			else if (cancel)
				/* A CANCEL is done once acknowledged; its reason says
				 * what became of the command it named. */
				on_task_news(s, m, ack->command_id, "committed", -1, ack->reason,
				        NULL, true);
			else
				on_task_news(
				        s, m, ack->command_id, "running", -1, NULL, NULL, false);
		} else {
			const Rollwave__PhaseReport *rep = env->phase_report;

			if (rep->final)
				on_task_news(s, m, rep->command_id, final_state(rep->phase),
				        (int)rep->phase,
				        rep->hook_absent && !rep->error[0] ? TASK_HOOK_ABSENT
				                                           : rep->error,
				        rep->hook_output, true);
			else
				on_task_news(s, m, rep->command_id, "running", (int)rep->phase,
				        rep->error[0] ? rep->error : NULL, NULL, false);
		}
		return ack_msg(msgid);
	default:
		return agent_error(s, msgid, ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE,
		        "'%s' is not a request agents may send", wire_body_name(env->body_case));
	}
}

static int worker_new(struct server *s);

static void
worker_cb(void *arg)
{
	struct worker *w = arg;
	struct server *s = w->s;
	nng_msg *req, *reply;
	int rv = nng_aio_result(w->aio);
	bool flush;

	pthread_mutex_lock(&s->lock);
	if (w->st == W_SEND) {
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(w->aio));
		if (s->stopping || rv == NNG_ECLOSED) {
			w->st = W_CLOSED;
			pthread_mutex_unlock(&s->lock);
			return;
		}
		w->st = W_RECV;
		s->idle_workers++;
		nng_ctx_recv(w->ctx, w->aio);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/* W_RECV */
	s->idle_workers--;
	if (rv != 0) {
		if (rv == NNG_ECLOSED || s->stopping) {
			w->st = W_CLOSED;
			pthread_mutex_unlock(&s->lock);
			return;
		}
		s->idle_workers++;
		nng_ctx_recv(w->ctx, w->aio);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	req = nng_aio_get_msg(w->aio);
	if (s->stopping) {
		nng_msg_free(req);
		w->st = W_CLOSED;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	reply = handle_agent(s, w, req);
	nng_msg_free(req);
	if (!reply && w->parked_host) {
		w->st = W_PARKED;
		if (s->idle_workers < MIN_IDLE_WORKERS && s->n_workers < MAX_WORKERS)
			(void)worker_new(s);
		flush = s->sendq != NULL; /* the poll this one replaced */
		pthread_mutex_unlock(&s->lock);
		if (flush)
			server_flush_sends(s);
		return;
	}
	if (!reply) {
		/* Could not even build an error: drop it, keep receiving. */
		s->idle_workers++;
		nng_ctx_recv(w->ctx, w->aio);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/* The reply goes out without the lock (a send encrypts and writes);
	 * nothing else touches a worker in W_SEND. */
	w->st = W_SEND;
	nng_aio_set_msg(w->aio, reply);
	flush = s->sendq != NULL; /* this request answered an older poll */
	pthread_mutex_unlock(&s->lock);
	nng_ctx_send(w->ctx, w->aio);
	if (flush)
		server_flush_sends(s);
}

/* Called with s->lock held. */
void
worker_unpark(struct server *s, struct worker *w, nng_msg *reply)
{
	struct host_mem *m = host_mem(s, w->parked_host, false);

	if (w->park_prev)
		w->park_prev->park_next = w->park_next;
	else if (s->parked_head == w)
		s->parked_head = w->park_next;
	if (w->park_next)
		w->park_next->park_prev = w->park_prev;
	else if (s->parked_tail == w)
		s->parked_tail = w->park_prev;
	w->park_prev = w->park_next = NULL;
	if (m && m->parked == w)
		m->parked = NULL;
	w->parked_host = 0;
	if (!reply)
		reply = empty_poll_msg(w->parked_msgid);
	if (!reply) {
		w->st = W_RECV;
		s->idle_workers++;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	w->st = W_SEND;
	nng_aio_set_msg(w->aio, reply);
	w->send_next = s->sendq;
	s->sendq = w;
}

void
server_flush_sends(struct server *s)
{
	struct worker *q;

	pthread_mutex_lock(&s->lock);
	if (s->stopping || !s->sendq) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	q = s->sendq;
	s->sendq = NULL;
	s->flushing++;
	pthread_mutex_unlock(&s->lock);
	while (q) {
		struct worker *w = q;

		q = w->send_next;
		w->send_next = NULL;
		nng_ctx_send(w->ctx, w->aio);
	}
	pthread_mutex_lock(&s->lock);
	if (--s->flushing == 0)
		pthread_cond_broadcast(&s->flushed);
	pthread_mutex_unlock(&s->lock);
}

/* Called with s->lock held. */
static int
worker_new(struct server *s)
{
	struct worker *w, **nw;

	if (s->stopping)
		return -ECANCELED;
	nw = realloc(s->workers, (s->n_workers + 1) * sizeof(*nw));
	if (!nw)
		return -ENOMEM;
	s->workers = nw;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->s = s;
	if (nng_aio_alloc(&w->aio, worker_cb, w) != 0) {
		free(w);
		return -ENOMEM;
	}
	if (nng_ctx_open(&w->ctx, s->agents) != 0) {
		nng_aio_free(w->aio);
		free(w);
		return -ENOMEM;
	}
	s->workers[s->n_workers++] = w;
	w->st = W_RECV;
	s->idle_workers++;
	nng_ctx_recv(w->ctx, w->aio);
	return 0;
}

static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct server *s = arg;
	uint32_t pipe = nng_pipe_id(p);
	struct session *se;

	if (ev == NNG_PIPE_EV_ADD_POST) {
		/* The only place sessions are born: nng runs this before any
		 * message of the pipe is delivered, so a request of a pipe
		 * that is already gone never recreates its session. */
		pthread_mutex_lock(&s->lock);
		(void)session_find(s, pipe, true);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (ev != NNG_PIPE_EV_REM_POST)
		return;
	pthread_mutex_lock(&s->lock);
	se = session_find(s, pipe, false);
	if (se && se->host_id > 0) {
		struct host_mem *m = host_mem(s, se->host_id, false);

		if (m && m->pipe == pipe)
			m->pipe = 0;
		if (m && m->parked)
			worker_unpark(s, m->parked, NULL);
	}
	session_remove(s, pipe);
	pthread_mutex_unlock(&s->lock);
	server_flush_sends(s);
}

/* ---- start, tick, stop ---- */

/* Commands a previous run queued or sent but never heard back about go out
 * again; agents acknowledge a command they already ran without running it. */
static int
load_task_cb(void *userdata, const struct task_row *t)
{
	struct server *s = userdata;
	struct host_mem *m = host_mem(s, t->host_id, true);
	struct pending_cmd *p;

	if (!m)
		return -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->manifest_url = strdup(t->manifest_url))) {
		pending_free(p);
		return -ENOMEM;
	}
	p->command_id = t->command_id;
	p->kind = command_kind_from_string(t->kind);
	if (p->kind == ROLLWAVE__COMMAND__KIND__KIND_UNSPECIFIED) {
		log_error("task of host %" PRId64 " command %" PRIu64 " has unknown kind '%s'",
		        t->host_id, t->command_id, t->kind);
		pending_free(p);
		return 0;
	}
	p->cancel_command_id = t->cancel_command_id;
	p->maybe_sent = !streq(t->state, "queued");
	strbuf_printf(p->app, sizeof(p->app), "%s", t->app);
	strbuf_printf(p->version, sizeof(p->version), "%s", t->version);
	queue_append(m, p);
	return 0;
}

static int
load_join_token(struct server *s, struct rw_err *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	if (s->cfg->join_token[0]) {
		strbuf_printf(s->join_token, sizeof(s->join_token), "%s", s->cfg->join_token);
		return 0;
	}
	r = read_full_file(s->cfg->join_token_file, 4096, true, &buf, &len);
	if (r == -ENOENT) {
		/* No token: no host can enrol, known hosts still connect. */
		s->join_token[0] = 0;
		return 0;
	}
	if (r < 0)
		return rw_err_set(
		        err, r, "cannot read %s: %s", s->cfg->join_token_file, strerror(-r));
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = 0;
	strbuf_printf(s->join_token, sizeof(s->join_token), "%s", buf);
	sodium_memzero(buf, len);
	return 0;
}

int
nng_err(struct rw_err *err, int rv, const char *what, const char *url)
{
	return rw_err_set(err, -EIO, "%s %s: %s", what, url, nng_strerror(rv));
}

static int
start_agents_socket(struct server *s, struct rw_err *err)
{
	const struct coordinator_config *c = s->cfg;
	int rv;

	rv = nng_rep0_open(&s->agents);
	if (rv != 0)
		return nng_err(err, rv, "cannot open the agent socket for", c->listen);
	nng_socket_set_size(s->agents, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE);
	nng_pipe_notify(s->agents, NNG_PIPE_EV_ADD_POST, pipe_event, s);
	nng_pipe_notify(s->agents, NNG_PIPE_EV_REM_POST, pipe_event, s);
	rv = nng_listener_create(&s->agents_listener, s->agents, c->listen);
	if (rv != 0)
		return nng_err(err, rv, "cannot listen on", c->listen);
	if (strncmp(c->listen, "tls+tcp://", 10) == 0) {
		rv = tlsprefs_config_alloc(&s->tls, NNG_TLS_MODE_SERVER);
		if (rv == 0)
			rv = nng_tls_config_cert_key_file(s->tls, c->tls_certificate, NULL);
		if (rv != 0)
			return rw_err_set(err, -EIO, "TLS certificate %s: %s", c->tls_certificate,
			        nng_strerror(rv));
		rv = nng_listener_set_ptr(s->agents_listener, NNG_OPT_TLS_CONFIG, s->tls);
		if (rv != 0)
			return nng_err(err, rv, "cannot set TLS on", c->listen);
	} else
		log_warning("Insecure=yes: agents connect to %s without TLS; their traffic is "
		            "neither encrypted nor is the coordinator authenticated",
		        c->listen);
	rv = nng_listener_start(s->agents_listener, 0);
	if (rv != 0)
		return nng_err(err, rv, "cannot listen on", c->listen);
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < MIN_IDLE_WORKERS * 4; i++)
		if (worker_new(s) < 0) {
			pthread_mutex_unlock(&s->lock);
			return rw_err_set(err, -ENOMEM, "out of memory");
		}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int server_waves_start(struct server *s, struct rw_err *err);

int
server_start(const struct coordinator_config *cfg, struct server **ret, struct rw_err *err)
{
	struct server *s;
	bool created;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->started_ms = now_ms();
	s->last_flush_ms = s->started_ms;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->flushed, NULL);
	r = db_open(cfg->database, &s->db, err);
	if (r < 0)
		goto fail;
	r = identity_load_or_create(cfg->key_file, &s->id, &created, err);
	if (r < 0)
		goto fail;
	r = load_join_token(s, err);
	if (r < 0)
		goto fail;
	r = db_hosts_foreach(s->db, load_host_cb, s);
	if (r < 0) {
		rw_err_set(
		        err, r, "cannot load the hosts from %s: %s", cfg->database, strerror(-r));
		goto fail;
	}
	r = db_tasks_foreach_unfinished(s->db, load_task_cb, s);
	if (r < 0) {
		rw_err_set(err, r, "cannot load the unfinished tasks from %s: %s", cfg->database,
		        strerror(-r));
		goto fail;
	}
	r = start_agents_socket(s, err);
	if (r < 0)
		goto fail;
	r = admin_start(s, err);
	if (r < 0)
		goto fail;
	r = metrics_start(s, err);
	if (r < 0)
		goto fail;
	r = server_waves_start(s, err);
	if (r < 0)
		goto fail;
	(void)db_audit(s->db, "coordinator", "coordinator.start", cfg->listen, NULL);
	*ret = s;
	return 0;
fail:
	server_stop(s);
	return r;
}

void
server_tick(struct server *s)
{
	struct host_touch *touch = NULL;
	int64_t *down = NULL, *up = NULL, *upc = NULL;
	bool *changed = NULL;
	size_t n_touch = 0, n_down = 0, n_up = 0, n_upc = 0, cap;
	uint64_t now = now_ms();
	uint64_t limit = MISSED_HEARTBEATS * (s->cfg->heartbeat_interval_usec / USEC_PER_MSEC);
	bool flush = now - s->last_flush_ms >= FLUSH_EVERY_MS;
	char reason[96];
	int r;

	server_expire_polls(s);
	pthread_mutex_lock(&s->lock);
	cap = s->hosts_cap ? s->hosts_cap : 1;
	touch = calloc(cap, sizeof(*touch));
	down = calloc(cap, sizeof(*down));
	up = calloc(cap, sizeof(*up));
	upc = calloc(cap, sizeof(*upc));
	changed = calloc(cap, sizeof(*changed));
	for (size_t i = 1; touch && down && up && upc && changed && i < s->hosts_cap; i++) {
		struct host_mem *m = &s->hosts[i];
		bool facts = m->new_hostname || m->new_labels_json || m->new_agent_version;

		if (!m->id)
			continue;
		if (m->state == HOST_UP && now > m->last_seen_ms + limit) {
			m->state = HOST_DOWN;
			m->pipe = 0;
			m->up_dirty = false;
			down[n_down++] = m->id;
		} else if (m->up_dirty) {
			m->up_dirty = false;
			if (m->up_by_connect)
				upc[n_upc++] = m->id;
			else
				up[n_up++] = m->id;
			m->up_by_connect = false;
		}
		/* Last-seen times every FLUSH_EVERY_MS; what a connect said at
		 * the next tick. */
		if (facts || (flush && (m->seen_dirty || m->apps_dirty))) {
			touch[n_touch++] = (struct host_touch) {
			        .id = m->id,
			        .last_seen_ms = m->last_seen_ms,
			        .apps_json =
			                m->apps_dirty && m->apps_json ? strdup(m->apps_json) : NULL,
			        .hostname = TAKE_PTR(m->new_hostname),
			        .labels_json = TAKE_PTR(m->new_labels_json),
			        .agent_version = TAKE_PTR(m->new_agent_version),
			};
			m->seen_dirty = m->apps_dirty = false;
		}
	}
	pthread_mutex_unlock(&s->lock);

	/* One transaction per kind of change, whatever the number of hosts. */
	r = db_hosts_set_state(s->db, upc, n_upc, HOST_UP, "coordinator", "connected", NULL);
	if (r < 0)
		log_error("cannot record %zu hosts up: %s", n_upc, strerror(-r));
	r = db_hosts_set_state(s->db, up, n_up, HOST_UP, "coordinator", "heartbeat", changed);
	if (r < 0)
		log_error("cannot record %zu hosts up: %s", n_up, strerror(-r));
	for (size_t i = 0; r >= 0 && i < n_up; i++)
		if (changed[i])
			log_notice("host %" PRId64 " is up again", up[i]);
	snprintf(reason, sizeof(reason), "missed %d heartbeats", MISSED_HEARTBEATS);
	r = db_hosts_set_state(s->db, down, n_down, HOST_DOWN, "coordinator", reason, changed);
	if (r < 0)
		log_error("cannot record %zu hosts down: %s", n_down, strerror(-r));
	for (size_t i = 0; i < n_down; i++)
		if (r < 0 || changed[i])
			log_warning("host %" PRId64 " is down: %s", down[i], reason);
	if (n_touch) {
		r = db_hosts_touch(s->db, touch, n_touch);
		if (r < 0)
			log_error("cannot record last-seen times and facts: %s", strerror(-r));
	}
	if (flush)
		s->last_flush_ms = now;
	for (size_t i = 0; i < n_touch; i++) {
		free((char *)touch[i].apps_json);
		free((char *)touch[i].hostname);
		free((char *)touch[i].labels_json);
		free((char *)touch[i].agent_version);
	}
	free(touch);
	free(down);
	free(up);
	free(upc);
	free(changed);
}

void
server_expire_polls(struct server *s)
{
	uint64_t now = now_ms();

	pthread_mutex_lock(&s->lock);
	while (s->parked_head && s->parked_head->park_deadline_ms <= now)
		worker_unpark(s, s->parked_head, NULL);
	pthread_mutex_unlock(&s->lock);
	server_flush_sends(s);
}

void
server_waves_tick(struct server *s)
{
	waves_tick(s->waves);
}

void
server_status(struct server *s, char *buf, size_t size)
{
	size_t up = 0, down = 0, pending = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 1; i < s->hosts_cap; i++) {
		if (!s->hosts[i].id)
			continue;
		up += s->hosts[i].state == HOST_UP;
		down += s->hosts[i].state == HOST_DOWN;
		pending += s->hosts[i].state == HOST_PENDING;
	}
	pthread_mutex_unlock(&s->lock);
	strbuf_printf(buf, size, "%zu hosts up, %zu down, %zu pending; listening on %s", up, down,
	        pending, s->cfg->listen);
}

void
server_stop(struct server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	/* Answers queued for parked polls are not sent any more (their
	 * messages are freed with the workers below); wait for the threads
	 * still sending some. */
	s->sendq = NULL;
	while (s->flushing)
		pthread_cond_wait(&s->flushed, &s->lock);
	pthread_mutex_unlock(&s->lock);
	metrics_stop(s);
	waves_stop(s->waves);
	s->waves = NULL;
	if (s->admin_running) {
		pthread_join(s->admin_thread, NULL);
		s->admin_running = false;
	}
	nng_close(s->admin);
	/* Every context first (their callbacks see stopping and submit
	 * nothing more), then the socket: nng 1.5 can wait forever in
	 * nng_close() for contexts still holding requests (parked polls). */
	for (size_t i = 0; i < s->n_workers; i++) {
		nng_aio_stop(s->workers[i]->aio);
		if (s->workers[i]->st == W_SEND)
			nng_msg_free(nng_aio_get_msg(s->workers[i]->aio));
		nng_ctx_close(s->workers[i]->ctx);
	}
	nng_close(s->agents);
	for (size_t i = 0; i < s->n_workers; i++) {
		nng_aio_free(s->workers[i]->aio);
		free(s->workers[i]);
	}
	free(s->workers);
	s->workers = NULL;
	s->n_workers = 0;
	if (s->tls)
		nng_tls_config_free(s->tls);
	if (s->admin_tls)
		nng_tls_config_free(s->admin_tls);
	if (s->db) {
		server_tick(s); /* flush */
		(void)db_audit(s->db, "coordinator", "coordinator.stop", s->cfg->listen, NULL);
	}
	for (size_t i = 0; i < s->sessions_cap; i++)
		if (s->sessions[i].pipe)
			session_clear_facts(&s->sessions[i]);
	free(s->sessions);
	for (size_t i = 0; i < s->hosts_cap; i++) {
		free(s->hosts[i].apps_json);
		free(s->hosts[i].new_hostname);
		free(s->hosts[i].new_labels_json);
		free(s->hosts[i].new_agent_version);
		while (s->hosts[i].queue) {
			struct pending_cmd *p = s->hosts[i].queue;

			s->hosts[i].queue = p->next;
			pending_free(p);
		}
	}
	free(s->hosts);
	db_close(s->db);
	identity_done(&s->id);
	sodium_memzero(s->join_token, sizeof(s->join_token));
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->flushed);
	free(s);
}

/* ---- the metrics endpoint's view of the server ----
 *
 * metrics.c sees nothing of struct server: at each scrape it asks
 * server_stats_snapshot() (through the getter it was opened with) for a
 * plain copy, taken here under the server lock. */
#include "metrics.h"

_Static_assert(STAT_TYPES == METRICS_TYPES && STAT_CODES == METRICS_CODES &&
                STAT_KINDS == METRICS_KINDS && _TASK_RESULT_MAX == METRICS_RESULTS,
        "the metrics snapshot has the server's counter dimensions");

static void
stats_copy(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static void
stats_snapshot_counters(struct server *s, struct metrics_snapshot *sc)
{
	const struct server_stats *st = &s->stats;

	stats_copy(sc->agent_msgs, st->agent_msgs, STAT_TYPES);
	stats_copy(&sc->agent_refused[0][0], &st->agent_refused[0][0], STAT_TYPES * STAT_CODES);
	stats_copy(sc->admin_reqs, st->admin_reqs, STAT_TYPES);
	stats_copy(&sc->admin_refused[0][0], &st->admin_refused[0][0], STAT_TYPES * STAT_CODES);
	stats_copy(&sc->task_results[0][0], &st->task_results[0][0], STAT_KINDS * _TASK_RESULT_MAX);
	for (int k = 1; k < STAT_KINDS; k++) {
		const char *kind = command_kind_to_string((Rollwave__Command__Kind)k);

		if (!streq(kind, "unknown") && !streq(kind, "cancel"))
			sc->kinds[k] = kind;
	}
}

/* The metrics getter: hosts by state, connections, queues, workers, the
 * heartbeat lag of every up host, and the counters. */
static int
server_stats_snapshot(void *userdata, struct metrics_snapshot *sc)
{
	struct server *s = userdata;
	uint64_t now = now_ms();
	int r = 0;

	sc->started_ms = s->started_ms;
	sc->heartbeat_interval_usec = s->cfg->heartbeat_interval_usec;
	pthread_mutex_lock(&s->lock);
	sc->lag_ms = calloc(s->hosts_cap ? s->hosts_cap : 1, sizeof(*sc->lag_ms));
	if (!sc->lag_ms)
		r = -ENOMEM;
	for (size_t i = 1; !r && i < s->hosts_cap; i++) {
		const struct host_mem *m = &s->hosts[i];

		if (!m->id)
			continue;
		if ((size_t)m->state < _HOST_STATE_MAX)
			sc->hosts[m->state]++;
		if (m->state == HOST_UP)
			sc->lag_ms[sc->n_lag++] = now > m->last_seen_ms ? now - m->last_seen_ms : 0;
		for (const struct pending_cmd *p = m->queue; p; p = p->next)
			sc->queued++;
		sc->parked += m->parked != NULL;
	}
	sc->connections = s->n_sessions;
	sc->idle_workers = s->idle_workers;
	sc->n_workers = s->n_workers;
	pthread_mutex_unlock(&s->lock);
	stats_snapshot_counters(s, sc);
	return r;
}

int
metrics_start(struct server *s, struct rw_err *err)
{
	return metrics_open(s->cfg->metrics_listen, server_stats_snapshot, s, &s->metrics, err);
}

void
metrics_stop(struct server *s)
{
	metrics_close(s->metrics);
	s->metrics = NULL;
}

/* ---- the fleet as the waves engine sees it (fleet.h) ----
 *
 * The engine never touches struct server: it asks for a host's state and
 * apps report, and queues and takes back commands, through these. */

static int
fleet_host_get(void *userdata, int64_t host_id, struct fleet_host *ret)
{
	struct server *s = userdata;
	struct host_mem *m;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	m = host_mem(s, host_id, false);
	if (!m)
		r = -ENOENT;
	else {
		ret->state = m->state;
		ret->last_seen_ms = m->last_seen_ms;
		ret->apps_json = NULL;
		if (m->apps_json && !(ret->apps_json = strdup(m->apps_json)))
			r = -ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int
fleet_queue_command(void *userdata, int64_t host_id, const struct fleet_command *c)
{
	struct pending_cmd p = {0};

	p.command_id = c->command_id;
	p.kind = c->kind;
	p.cancel_command_id = c->cancel_command_id;
	strbuf_printf(p.app, sizeof(p.app), "%s", c->app);
	strbuf_printf(p.version, sizeof(p.version), "%s", c->version);
	p.manifest_url = (char *)c->manifest_url;
	return server_queue_command(userdata, host_id, &p);
}

static int
fleet_unqueue_command(void *userdata, int64_t host_id, uint64_t command_id)
{
	return server_unqueue_command(userdata, host_id, command_id);
}

static uint64_t
fleet_now_ms(void *userdata)
{
	(void)userdata;
	return now_ms();
}

static const struct fleet_ops server_fleet_ops = {
        .host_get = fleet_host_get,
        .queue_command = fleet_queue_command,
        .unqueue_command = fleet_unqueue_command,
        .now_ms = fleet_now_ms,
};

static int
server_waves_start(struct server *s, struct rw_err *err)
{
	struct waves_config c = {
	        .db = s->db,
	        .cfg = s->cfg,
	        .fleet = &server_fleet_ops,
	        .fleet_userdata = s,
	        .started_ms = s->started_ms,
	};

	return waves_start(&c, &s->waves, err);
}
