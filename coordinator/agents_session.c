/*
 * agents_session: the sessions of the agent socket, one per nng pipe, and
 * the requests that authenticate one: Hello (answered with a Challenge)
 * and Auth (checked against the store, answered with a Welcome).
 *
 *   NEW --Hello--> CHALLENGED --Auth--> DONE (host_id > 0: authenticated)
 *    ^                 |                 |
 *    +----Hello--------+------Hello------+
 */
#include <inttypes.h>
#include <sodium.h>

#include "agents_private.h"
#include "log.h"

/* ---- the table (open addressing on pipe id) ---- */

static bool
sessions_grow(struct agents *a)
{
	size_t ncap = a->sessions_cap ? a->sessions_cap * 2 : 1024, i;
	struct session *n = calloc(ncap, sizeof(*n));

	if (!n)
		return false;
	for (size_t j = 0; j < a->sessions_cap; j++) {
		if (!a->sessions[j].pipe)
			continue;
		for (i = a->sessions[j].pipe % ncap; n[i].pipe; i = (i + 1) % ncap)
			;
		n[i] = a->sessions[j];
	}
	free(a->sessions);
	a->sessions = n;
	a->sessions_cap = ncap;
	return true;
}

struct session *
session_find(struct agents *a, uint32_t pipe, bool create)
{
	size_t i;

	if (create && (a->n_sessions + 1) * 2 > a->sessions_cap && !sessions_grow(a))
		return NULL;
	if (!a->sessions_cap)
		return NULL;
	for (i = pipe % a->sessions_cap; a->sessions[i].pipe; i = (i + 1) % a->sessions_cap)
		if (a->sessions[i].pipe == pipe)
			return &a->sessions[i];
	if (!create)
		return NULL;
	a->sessions[i] = (struct session) {.pipe = pipe};
	a->n_sessions++;
	return &a->sessions[i];
}

void
session_clear_facts(struct fleet_facts *f)
{
	free(f->hostname);
	free(f->labels_json);
	free(f->agent_version);
	free(f->apps_json);
	*f = (struct fleet_facts) {0};
}

/* Removes the session of pipe, re-inserting the rest of its probe chain. */
void
session_remove(struct agents *a, uint32_t pipe)
{
	struct session *se = session_find(a, pipe, false);
	size_t i;

	if (!se)
		return;
	session_clear_facts(&se->facts);
	i = (size_t)(se - a->sessions);
	a->sessions[i].pipe = 0;
	a->n_sessions--;
	for (size_t j = (i + 1) % a->sessions_cap; a->sessions[j].pipe;
	        j = (j + 1) % a->sessions_cap) {
		struct session moved = a->sessions[j];
		struct session *dst;

		a->sessions[j].pipe = 0;
		a->n_sessions--;
		dst = session_find(a, moved.pipe, true);
		*dst = moved;
	}
}

/* ---- Hello ---- */

static bool
token_matches(const struct agents *a, const char *token)
{
	size_t n = strlen(a->join_token), m = strlen(token);

	if (!n || n != m)
		return false;
	return sodium_memcmp(a->join_token, token, n) == 0;
}

nng_msg *
on_hello(struct agents *a, nng_pipe p, uint64_t msgid, const Rollwave__Hello *h)
{
	uint32_t pipe = nng_pipe_id(p);
	Rollwave__Challenge ch = ROLLWAVE__CHALLENGE__INIT;
	Rollwave__Envelope env;
	struct session *se;

	se = session_find(a, pipe, false);
	if (!se) {
		nng_sockaddr sa;

		/* ADD_POST may not have run yet. Create the session only
		 * while the pipe exists: once it is gone (REM_POST ran or
		 * waits for our lock) nothing would ever remove it again. */
		if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
			return NULL;
		se = session_find(a, pipe, true);
	}
	if (!se)
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	session_clear_facts(&se->facts);
	se->host_id = 0;
	se->st = SESSION_CHALLENGED;
	memcpy(se->host_key, h->host_key.data, WIRE_KEY_LEN);
	se->token_ok = h->join_token[0] && token_matches(a, h->join_token);
	se->facts.hostname = strdup(h->facts->hostname);
	se->facts.agent_version = strdup(h->facts->agent_version);
	se->facts.labels_json = labels_to_json(h->facts->labels, h->facts->n_labels);
	se->facts.apps_json = apps_to_json(h->facts->apps, h->facts->n_apps);
	randombytes_buf(se->nonce, sizeof(se->nonce));

	ch.nonce = (ProtobufCBinaryData) {WIRE_NONCE_LEN, se->nonce};
	ch.coordinator_key = (ProtobufCBinaryData) {WIRE_KEY_LEN, (uint8_t *)a->id->pk};
	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_CHALLENGE;
	env.challenge = &ch;
	return msg_from_env(&env);
}

/* ---- Auth ---- */

/* What the database said about an authenticating key. */
struct auth_outcome {
	enum { AUTH_KNOWN, AUTH_ENROLLED, AUTH_REFUSED, AUTH_FAILED } kind;
	int64_t id;
	enum host_state state;
	char msg[256];
};

static void
auth_enrol(struct agents *a, const uint8_t key[static WIRE_KEY_LEN], const char *fp,
        const struct fleet_facts *facts, struct auth_outcome *out)
{
	int r;

	r = db_host_add_pending(a->db, key, facts->hostname, facts->labels_json,
	        facts->agent_version, fleet_clock_ms(), &out->id);
	if (r < 0) {
		out->kind = AUTH_FAILED;
		strbuf_printf(
		        out->msg, sizeof(out->msg), "cannot record the host: %s", strerror(-r));
		return;
	}
	log_notice("host %" PRId64 " ('%s', %s) enrolled, waiting for 'rollwave hosts "
	           "accept %" PRId64 "'",
	        out->id, facts->hostname, fp, out->id);
	out->kind = AUTH_ENROLLED;
	out->state = HOST_PENDING;
}

/* The database half of Auth, run without the socket's lock (SQLite commits
 * wait for the disk). facts: the session's copies. */
static void
auth_lookup(struct agents *a, const uint8_t key[static WIRE_KEY_LEN], bool token_ok,
        const struct fleet_facts *facts, struct auth_outcome *out)
{
	struct host_row row;
	char fp[32];
	int r;

	identity_fingerprint(key, fp);
	r = db_host_by_key(a->db, key, &row);
	if (r == -ENOENT) {
		if (token_ok) {
			auth_enrol(a, key, fp, facts, out);
			return;
		}
		log_warning("refused unknown host key %s ('%s'): no valid join token", fp,
		        facts->hostname);
		out->kind = AUTH_REFUSED;
		strbuf_printf(
		        out->msg, sizeof(out->msg), "unknown host key and no valid join token");
		return;
	}
	if (r < 0) {
		out->kind = AUTH_FAILED;
		strbuf_printf(out->msg, sizeof(out->msg), "database error: %s", strerror(-r));
		return;
	}
	/* A known host: its new facts and its coming up are written by the
	 * next fleet_tick(), batched with every other host's. */
	out->kind = AUTH_KNOWN;
	out->id = row.id;
	out->state = row.state;
	host_row_done(&row);
}

static int
facts_copy(const struct fleet_facts *from, struct fleet_facts *to)
{
	to->hostname = strdup(from->hostname ? from->hostname : "");
	to->labels_json = strdup(from->labels_json ? from->labels_json : "{}");
	to->agent_version = strdup(from->agent_version ? from->agent_version : "");
	to->apps_json = strdup(from->apps_json ? from->apps_json : "[]");
	if (!to->hostname || !to->labels_json || !to->agent_version || !to->apps_json) {
		session_clear_facts(to);
		return -ENOMEM;
	}
	return 0;
}

static nng_msg *
welcome_msg(struct agents *a, uint64_t msgid, int64_t host_id)
{
	Rollwave__Welcome w = ROLLWAVE__WELCOME__INIT;
	Rollwave__Envelope env;

	w.host_id = (uint64_t)host_id;
	w.coordinator_key = (ProtobufCBinaryData) {WIRE_KEY_LEN, (uint8_t *)a->id->pk};
	w.state = ROLLWAVE__HOST_STATE__HOST_STATE_UP;
	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_WELCOME;
	env.welcome = &w;
	return msg_from_env(&env);
}

/* The answer to an Auth the store has looked up; may take facts. */
static nng_msg *
auth_answer(struct agents *a, uint32_t pipe, uint64_t msgid, const struct auth_outcome *out,
        struct fleet_facts *f)
{
	struct session *se;
	int r;

	switch (out->kind) {
	case AUTH_REFUSED:
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED, "%s", out->msg);
	case AUTH_FAILED:
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__INTERNAL, "%s", out->msg);
	case AUTH_ENROLLED:
		fleet_host_mark(a->fleet, out->id, HOST_PENDING);
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__PENDING,
		        "enrolled as host %" PRId64 "; waiting for an admin: rollwave hosts accept "
		        "%" PRId64,
		        out->id, out->id);
	case AUTH_KNOWN:
		break;
	}
	if (out->state == HOST_REVOKED) {
		fleet_host_mark(a->fleet, out->id, HOST_REVOKED);
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__REVOKED,
		        "host %" PRId64 " was revoked", out->id);
	}
	if (out->state == HOST_PENDING)
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__PENDING,
		        "host %" PRId64 " waits for an admin: rollwave hosts accept %" PRId64,
		        out->id, out->id);
	/* The world may have moved meanwhile: the connection may be gone
	 * (then nobody reads the reply). */
	se = session_find(a, pipe, false);
	if (!se)
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__BUSY, "the connection is gone");
	r = fleet_host_connected(a->fleet, out->id, out->state == HOST_DOWN, f);
	if (r == -EPERM)
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__REVOKED,
		        "host %" PRId64 " was revoked", out->id);
	if (r < 0 || !agent_link(a, out->id, true))
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	agent_link(a, out->id, false)->pipe = pipe;
	se->host_id = out->id;
	return welcome_msg(a, msgid, out->id);
}

nng_msg *
on_auth(struct agents *a, uint32_t pipe, uint64_t msgid, const Rollwave__Auth *au)
{
	struct session *se = session_find(a, pipe, false);
	struct fleet_facts facts = {0};
	uint8_t key[WIRE_KEY_LEN];
	struct auth_outcome out = {0};
	size_t type = a->type;
	nng_msg *reply;
	bool token_ok;

	if (!se || se->st != SESSION_CHALLENGED)
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
		        "send Hello first: this connection has no challenge");
	se->st = SESSION_DONE; /* one attempt per challenge */
	if (wire_auth_verify(se->nonce, a->id->pk, se->host_key, au->signature.data,
	            au->signature.len) < 0) {
		log_warning("refused an agent whose signature does not match its key");
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
		        "signature does not match the host key");
	}
	memcpy(key, se->host_key, sizeof(key));
	token_ok = se->token_ok;
	if (facts_copy(&se->facts, &facts) < 0)
		return agent_error(a, msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");

	pthread_mutex_unlock(&a->lock);
	auth_lookup(a, key, token_ok, &facts, &out);
	pthread_mutex_lock(&a->lock);
	a->type = type;
	reply = auth_answer(a, pipe, msgid, &out, &facts);
	session_clear_facts(&facts);
	return reply;
}
