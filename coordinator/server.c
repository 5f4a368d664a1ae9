/*
 * server: agent and admin sockets of the coordinator. See server.h.
 *
 * Worker (one nng context on the agent socket):
 *
 *   RECV --request--> handle --reply--> SEND --sent--> RECV
 *                        \--Poll, nothing to do--> PARKED --command or
 *                                                  timeout--> SEND
 */
#include "server.h"

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

#include "db.h"
#include "identity.h"
#include "log.h"
#include "version.h"
#include "wire.h"

#define POLL_TIMEOUT_MS   25000
#define MIN_IDLE_WORKERS  16
#define MAX_WORKERS       30000
#define MISSED_HEARTBEATS 3
#define FLUSH_EVERY_MS    5000

enum worker_state { W_RECV, W_SEND, W_PARKED, W_CLOSED };

struct worker {
	struct server *s;
	nng_ctx ctx;
	nng_aio *aio;
	enum worker_state st;
	int64_t parked_host;
	uint64_t parked_msgid;
	uint64_t park_deadline_ms;
};

struct session {
	uint32_t pipe; /* 0: free slot */
	bool challenged;
	uint8_t nonce[WIRE_NONCE_LEN];
	uint8_t host_key[WIRE_KEY_LEN];
	bool token_ok;
	char *hostname, *labels_json, *agent_version, *apps_json;
	int64_t host_id; /* > 0 once authenticated */
};

/* A command waiting for its host's long poll, or for the host's answer. */
struct pending_cmd {
	struct pending_cmd *next;
	uint64_t command_id;
	bool rollback;
	char app[APP_NAME_MAX + 1];
	char version[VERSION_MAX + 1];
	char *manifest_url;
	uint32_t sent_pipe; /* the connection it was handed to; 0: not yet */
};

struct host_mem {
	int64_t id;                /* 0: no such host */
	struct pending_cmd *queue; /* oldest first */
	enum host_state state;
	uint64_t last_seen_ms;
	bool seen_dirty;
	char *apps_json; /* latest report, NULL if none since start */
	bool apps_dirty;
	uint32_t pipe; /* authenticated pipe, 0 if none */
	bool up_dirty; /* came back up by heartbeat: the db still says down */
};

struct server {
	const struct coordinator_config *cfg;
	pthread_mutex_t lock;    /* everything below but the db */
	pthread_mutex_t db_lock; /* the db handle */
	struct db *db;
	struct identity id;
	char join_token[JOIN_TOKEN_MAX + 1];
	uint64_t started_ms;
	uint64_t last_flush_ms;

	nng_socket agents;
	nng_listener agents_listener;
	nng_tls_config *tls;
	struct worker **workers;
	size_t n_workers;
	size_t idle_workers;

	struct session *sessions; /* open addressing on pipe id */
	size_t sessions_cap, n_sessions;

	struct host_mem *hosts; /* indexed by host id */
	size_t hosts_cap;

	nng_socket admin;
	pthread_t admin_thread;
	bool admin_running;
	volatile bool stopping;

	uint64_t n_requests, n_errors;
};

static uint64_t
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

static struct host_mem *
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

/* ---- JSON <-> protobuf for stored facts ---- */

static char *
labels_to_json(Rollwave__Label **labels, size_t n)
{
	json_t *o = json_object();
	char *out;

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, labels[i]->key, json_string(labels[i]->value));
	out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return out;
}

static char *
apps_to_json(Rollwave__AppStatus **apps, size_t n)
{
	json_t *a = json_array();
	char *out;

	for (size_t i = 0; i < n; i++) {
		json_t *rel = json_array();

		for (size_t j = 0; j < apps[i]->n_releases; j++)
			json_array_append_new(rel, json_string(apps[i]->releases[j]));
		json_array_append_new(a,
		        json_pack("{s:s, s:s, s:s, s:i, s:o}", "app", apps[i]->app, "current",
		                apps[i]->current, "previous", apps[i]->previous, "health",
		                (int)apps[i]->health, "releases", rel));
	}
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return out;
}

/* A response under construction owns everything it points to through this
 * list of allocations, freed at once after packing. */
struct arena {
	void **p;
	size_t n, cap;
};

static void *
arena_add(struct arena *a, void *ptr)
{
	if (!ptr)
		return NULL;
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 64;
		void **np = realloc(a->p, ncap * sizeof(void *));

		if (!np) {
			free(ptr);
			return NULL;
		}
		a->p = np;
		a->cap = ncap;
	}
	a->p[a->n++] = ptr;
	return ptr;
}

static void *
arena_alloc(struct arena *a, size_t size)
{
	return arena_add(a, calloc(1, size ? size : 1));
}

static char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_add(a, strdup(s ? s : ""));
}

static void
arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
	*a = (struct arena) {0};
}

static void
labels_from_json(struct arena *a, const char *text, Rollwave__Label ***ret, size_t *ret_n)
{
	json_t *o = json_loads(text ? text : "{}", 0, NULL), *v;
	const char *k;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!json_is_object(o)) {
		json_decref(o);
		return;
	}
	*ret = arena_alloc(a, json_object_size(o) * sizeof(Rollwave__Label *));
	json_object_foreach(o, k, v)
	{
		Rollwave__Label *l = arena_alloc(a, sizeof(*l));

		if (!*ret || !l || !json_is_string(v) || n >= WIRE_LABELS_MAX)
			break;
		rollwave__label__init(l);
		l->key = arena_strdup(a, k);
		l->value = arena_strdup(a, json_string_value(v));
		(*ret)[n++] = l;
	}
	*ret_n = n;
	json_decref(o);
}

static void
apps_from_json(struct arena *a, const char *text, Rollwave__AppStatus ***ret, size_t *ret_n)
{
	json_t *arr = json_loads(text ? text : "[]", 0, NULL), *o;
	size_t i, n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!json_is_array(arr)) {
		json_decref(arr);
		return;
	}
	*ret = arena_alloc(a, json_array_size(arr) * sizeof(Rollwave__AppStatus *));
	json_array_foreach(arr, i, o)
	{
		Rollwave__AppStatus *st = arena_alloc(a, sizeof(*st));
		json_t *rel = json_object_get(o, "releases"), *r;
		size_t j;

		if (!*ret || !st || n >= WIRE_APPS_MAX)
			break;
		rollwave__app_status__init(st);
		st->app = arena_strdup(a, json_string_value(json_object_get(o, "app")));
		st->current = arena_strdup(a, json_string_value(json_object_get(o, "current")));
		st->previous = arena_strdup(a, json_string_value(json_object_get(o, "previous")));
		st->health = (Rollwave__Health)json_integer_value(json_object_get(o, "health"));
		st->releases = arena_alloc(a, json_array_size(rel) * sizeof(char *));
		json_array_foreach(rel, j, r)
		{
			if (st->releases && j < WIRE_RELEASES_MAX)
				st->releases[st->n_releases++] =
				        arena_strdup(a, json_string_value(r));
		}
		(*ret)[n++] = st;
	}
	*ret_n = n;
	json_decref(arr);
}

/* ---- replies ---- */

static nng_msg *
msg_from_env(const Rollwave__Envelope *env)
{
	_cleanup_free_ void *buf = NULL;
	nng_msg *m = NULL;
	size_t len;

	if (wire_encode(env, &buf, &len) < 0)
		return NULL;
	if (nng_msg_alloc(&m, 0) != 0)
		return NULL;
	if (nng_msg_append(m, buf, len) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	return m;
}

static nng_msg *error_msg(uint64_t msgid, Rollwave__Error__Code code, const char *fmt, ...)
        _printf_(3, 4);
static nng_msg *
error_msg(uint64_t msgid, Rollwave__Error__Code code, const char *fmt, ...)
{
	_cleanup_free_ void *buf = NULL;
	char text[WIRE_TEXT_MAX];
	nng_msg *m = NULL;
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (wire_error_encode(msgid, code, text, &buf, &len) < 0)
		return NULL;
	if (nng_msg_alloc(&m, 0) != 0)
		return NULL;
	if (nng_msg_append(m, buf, len) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	return m;
}

static void
env_init(Rollwave__Envelope *env, uint64_t msgid)
{
	rollwave__envelope__init(env);
	env->protocol_version = WIRE_PROTOCOL_VERSION;
	env->message_id = msgid;
}

/* ---- agent requests (called with s->lock held) ---- */

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
		return error_msg(msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
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

static nng_msg *
on_auth(struct server *s, uint32_t pipe, uint64_t msgid, const Rollwave__Auth *a)
{
	Rollwave__Welcome w = ROLLWAVE__WELCOME__INIT;
	Rollwave__Envelope env;
	struct session *se = session_find(s, pipe, false);
	struct host_row row;
	struct host_mem *m;
	char fp[32];
	int64_t id;
	int r;

	if (!se || !se->challenged)
		return error_msg(msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
		        "send Hello first: this connection has no challenge");
	se->challenged = false; /* one attempt per challenge */
	if (wire_auth_verify(
	            se->nonce, s->id.pk, se->host_key, a->signature.data, a->signature.len) < 0) {
		log_warning("refused an agent whose signature does not match its key");
		return error_msg(msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
		        "signature does not match the host key");
	}
	identity_fingerprint(se->host_key, fp);

	pthread_mutex_lock(&s->db_lock);
	r = db_host_by_key(s->db, se->host_key, &row);
	if (r == -ENOENT) {
		if (!se->token_ok) {
			pthread_mutex_unlock(&s->db_lock);
			log_warning("refused unknown host key %s ('%s'): no valid join token", fp,
			        se->hostname);
			return error_msg(msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
			        "unknown host key and no valid join token");
		}
		r = db_host_add_pending(s->db, se->host_key, se->hostname, se->labels_json,
		        se->agent_version, now_ms(), &id);
		pthread_mutex_unlock(&s->db_lock);
		if (r < 0)
			return error_msg(msgid, ROLLWAVE__ERROR__CODE__INTERNAL,
			        "cannot record the host: %s", strerror(-r));
		m = host_mem(s, id, true);
		if (m)
			m->state = HOST_PENDING;
		log_notice("host %" PRId64 " ('%s', %s) enrolled, waiting for 'rollwave hosts "
		           "accept %" PRId64 "'",
		        id, se->hostname, fp, id);
		return error_msg(msgid, ROLLWAVE__ERROR__CODE__PENDING,
		        "enrolled as host %" PRId64 "; waiting for an admin: rollwave hosts accept "
		        "%" PRId64,
		        id, id);
	}
	if (r < 0) {
		pthread_mutex_unlock(&s->db_lock);
		return error_msg(
		        msgid, ROLLWAVE__ERROR__CODE__INTERNAL, "database error: %s", strerror(-r));
	}
	id = row.id;
	host_row_done(&row);
	(void)db_host_update_facts(
	        s->db, id, se->hostname, se->labels_json, se->agent_version, se->apps_json);
	if (row.state == HOST_DOWN)
		(void)db_host_set_state(s->db, id, HOST_UP, "coordinator", "connected");
	pthread_mutex_unlock(&s->db_lock);

	m = host_mem(s, id, true);
	if (row.state == HOST_REVOKED) {
		if (m)
			m->state = HOST_REVOKED;
		return error_msg(
		        msgid, ROLLWAVE__ERROR__CODE__REVOKED, "host %" PRId64 " was revoked", id);
	}
	if (row.state == HOST_PENDING)
		return error_msg(msgid, ROLLWAVE__ERROR__CODE__PENDING,
		        "host %" PRId64 " waits for an admin: rollwave hosts accept %" PRId64, id,
		        id);
	if (!m)
		return error_msg(msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	if (row.state == HOST_DOWN)
		log_notice("host %" PRId64 " ('%s') is up again", id, se->hostname);
	m->state = HOST_UP;
	m->last_seen_ms = now_ms();
	m->seen_dirty = true;
	m->pipe = pipe;
	se->host_id = id;

	w.host_id = (uint64_t)id;
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

static void
pending_free(struct pending_cmd *p)
{
	if (!p)
		return;
	free(p->manifest_url);
	free(p);
}

/* Removes command_id from the host's queue. Called with s->lock held. */
static void
queue_drop(struct host_mem *m, uint64_t command_id)
{
	for (struct pending_cmd **pp = &m->queue; *pp; pp = &(*pp)->next)
		if ((*pp)->command_id == command_id) {
			struct pending_cmd *p = *pp;

			*pp = p->next;
			pending_free(p);
			return;
		}
}

static void
queue_append(struct host_mem *m, struct pending_cmd *p)
{
	struct pending_cmd **pp = &m->queue;

	while (*pp)
		pp = &(*pp)->next;
	*pp = p;
}

/* The signed Command for p as a reply to message msgid. */
static nng_msg *
command_msg(struct server *s, const struct pending_cmd *p, uint64_t msgid)
{
	Rollwave__Command cmd = ROLLWAVE__COMMAND__INIT;
	Rollwave__Envelope env;
	uint8_t sig[WIRE_SIGNATURE_LEN];

	cmd.command_id = p->command_id;
	cmd.issued_at_ms = now_ms();
	cmd.app = (char *)p->app;
	if (p->rollback) {
		cmd.kind = ROLLWAVE__COMMAND__KIND__ROLLBACK;
		cmd.to_version = (char *)p->version;
	} else {
		cmd.kind = ROLLWAVE__COMMAND__KIND__DEPLOY;
		cmd.version = (char *)p->version;
		cmd.manifest_url = p->manifest_url;
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
static nng_msg *
next_command(struct server *s, struct host_mem *m, uint32_t pipe, uint64_t msgid)
{
	for (struct pending_cmd *p = m->queue; p; p = p->next) {
		nng_msg *reply;

		if (p->sent_pipe == pipe)
			continue;
		reply = command_msg(s, p, msgid);
		if (!reply)
			return NULL;
		p->sent_pipe = pipe;
		pthread_mutex_lock(&s->db_lock);
		(void)db_task_update(s->db, m->id, p->command_id, "sent", -1, NULL);
		pthread_mutex_unlock(&s->db_lock);
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
	default:
		return "failed";
	}
}

/* A host's answer about one of its commands. Called with s->lock held. */
static void
on_task_news(struct server *s, struct host_mem *m, uint64_t command_id, const char *state,
        int phase, const char *error, bool done)
{
	int r;

	pthread_mutex_lock(&s->db_lock);
	r = db_task_update(s->db, m->id, command_id, state, phase, error);
	pthread_mutex_unlock(&s->db_lock);
	if (r == -ENOENT)
		log_warning("host %" PRId64 " reported on command %" PRIu64 ", which it was never "
		            "given",
		        m->id, command_id);
	else if (r < 0)
		log_error("cannot record the task of host %" PRId64 ": %s", m->id, strerror(-r));
	if (done) {
		queue_drop(m, command_id);
		log_struct(streq(state, "committed") ? LOG_INFO : LOG_WARNING, NULL, NULL, NULL,
		        "host %" PRId64 " command %" PRIu64 ": %s%s%s", m->id, command_id, state,
		        error && error[0] ? ": " : "", error ? error : "");
	}
}

static void worker_unpark(struct server *s, struct worker *w, nng_msg *reply);

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

	s->n_requests++;
	r = wire_decode(body, len, &env, &err);
	if (r < 0) {
		_cleanup_free_ void *buf = NULL;
		nng_msg *reply = NULL;
		size_t blen;

		s->n_errors++;
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
			s->n_errors++;
			return error_msg(msgid, ROLLWAVE__ERROR__CODE__UNAUTHORIZED,
			        "this connection is not authenticated: send Hello");
		}
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
			for (size_t i = 0; i < s->n_workers; i++)
				if (s->workers[i]->st == W_PARKED &&
				        s->workers[i]->parked_host == m->id)
					worker_unpark(s, s->workers[i], NULL);
			w->parked_host = m->id;
			w->parked_msgid = msgid;
			w->park_deadline_ms = now_ms() + POLL_TIMEOUT_MS;
			return NULL;
		}
		if (env->body_case == ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK) {
			const Rollwave__CommandAck *ack = env->command_ack;

			if (!ack->accepted)
				on_task_news(
				        s, m, ack->command_id, "refused", -1, ack->reason, true);
			else
				on_task_news(s, m, ack->command_id, "running", -1, NULL, false);
		} else {
			const Rollwave__PhaseReport *rep = env->phase_report;

			if (rep->final)
				on_task_news(s, m, rep->command_id, final_state(rep->phase),
				        (int)rep->phase, rep->error, true);
			else
				on_task_news(s, m, rep->command_id, "running", (int)rep->phase,
				        rep->error[0] ? rep->error : NULL, false);
		}
		return ack_msg(msgid);
	default:
		s->n_errors++;
		return error_msg(msgid, ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE,
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
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (!reply) {
		/* Could not even build an error: drop it, keep receiving. */
		s->idle_workers++;
		nng_ctx_recv(w->ctx, w->aio);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	w->st = W_SEND;
	nng_aio_set_msg(w->aio, reply);
	nng_ctx_send(w->ctx, w->aio);
	pthread_mutex_unlock(&s->lock);
}

/* Called with s->lock held. */
static void
worker_unpark(struct server *s, struct worker *w, nng_msg *reply)
{
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
	nng_ctx_send(w->ctx, w->aio);
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
		for (size_t i = 0; i < s->n_workers; i++)
			if (s->workers[i]->st == W_PARKED &&
			        s->workers[i]->parked_host == se->host_id)
				worker_unpark(s, s->workers[i], NULL);
	}
	session_remove(s, pipe);
	pthread_mutex_unlock(&s->lock);
}

/* ---- admin socket ---- */

static void
admin_actor(nng_msg *req, char *buf, size_t size)
{
	nng_pipe p = nng_msg_get_pipe(req);
	uint64_t uid = 0;
	struct passwd *pw;

	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0) {
		strbuf_printf(buf, size, "admin");
		return;
	}
	pw = getpwuid((uid_t)uid);
	if (pw)
		strbuf_printf(buf, size, "admin:%s", pw->pw_name);
	else
		strbuf_printf(buf, size, "admin:uid=%" PRIu64, uid);
}

/* A copy of the in-memory host table, taken under the server lock, so that
 * code holding the db lock never needs the server lock (lock order: server
 * lock, then db lock; never the other way round). */
struct host_snap {
	bool known;
	enum host_state state;
	uint64_t last_seen_ms;
	char *apps_json;
};

static struct host_snap *
snapshot_take(struct server *s, size_t *ret_n)
{
	struct host_snap *snap;

	pthread_mutex_lock(&s->lock);
	snap = calloc(s->hosts_cap ? s->hosts_cap : 1, sizeof(*snap));
	if (snap) {
		for (size_t i = 1; i < s->hosts_cap; i++) {
			if (!s->hosts[i].id)
				continue;
			snap[i].known = true;
			snap[i].state = s->hosts[i].state;
			snap[i].last_seen_ms = s->hosts[i].last_seen_ms;
			if (s->hosts[i].apps_json)
				snap[i].apps_json = strdup(s->hosts[i].apps_json);
		}
		*ret_n = s->hosts_cap;
	}
	pthread_mutex_unlock(&s->lock);
	return snap;
}

static void
snapshot_free(struct host_snap *snap, size_t n)
{
	for (size_t i = 0; snap && i < n; i++)
		free(snap[i].apps_json);
	free(snap);
}

static const struct host_snap *
snapshot_get(const struct host_snap *snap, size_t n, int64_t id)
{
	return snap && id > 0 && (size_t)id < n && snap[id].known ? &snap[id] : NULL;
}

struct host_list_ctx {
	struct server *s;
	const struct host_snap *snap;
	size_t n_snap;
	struct arena *a;
	Rollwave__HostInfo **hosts;
	size_t n, cap;
	const char *selector;
	bool pending_only;
	int64_t only_id;
};

static bool
labels_match(const char *labels_json, const char *selector)
{
	json_t *o;
	bool ok = true;
	char buf[WIRE_TEXT_MAX + 1], *save = NULL;

	if (isempty(selector))
		return true;
	o = json_loads(labels_json ? labels_json : "{}", 0, NULL);
	strbuf_printf(buf, sizeof(buf), "%s", selector);
	for (char *t = strtok_r(buf, ",", &save); t && ok; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		const char *v;

		if (!eq) {
			ok = false;
			break;
		}
		*eq = 0;
		v = json_string_value(json_object_get(o, t));
		ok = v && streq(v, eq + 1);
	}
	json_decref(o);
	return ok;
}

static int
host_list_cb(void *userdata, const struct host_row *h)
{
	struct host_list_ctx *c = userdata;
	struct arena *a = c->a;
	Rollwave__HostInfo *hi;
	const struct host_snap *m;
	static const Rollwave__HostState states[] = {
	        [HOST_PENDING] = ROLLWAVE__HOST_STATE__HOST_STATE_PENDING,
	        [HOST_UP] = ROLLWAVE__HOST_STATE__HOST_STATE_UP,
	        [HOST_DOWN] = ROLLWAVE__HOST_STATE__HOST_STATE_DOWN,
	        [HOST_REVOKED] = ROLLWAVE__HOST_STATE__HOST_STATE_REVOKED,
	};
	enum host_state st = h->state;
	uint64_t seen = h->last_seen_ms;
	const char *apps = h->apps;

	if (c->only_id && h->id != c->only_id)
		return 0;
	m = snapshot_get(c->snap, c->n_snap, h->id);
	if (m) {
		st = m->state;
		seen = m->last_seen_ms > seen ? m->last_seen_ms : seen;
		if (m->apps_json)
			apps = m->apps_json;
	}
	if (c->pending_only && st != HOST_PENDING)
		return 0;
	if (!labels_match(h->labels, c->selector))
		return 0;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		Rollwave__HostInfo **n = arena_alloc(a, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		if (c->hosts)
			memcpy(n, c->hosts, c->n * sizeof(*n));
		c->hosts = n;
		c->cap = ncap;
	}
	hi = arena_alloc(a, sizeof(*hi));
	if (!hi)
		return -ENOMEM;
	rollwave__host_info__init(hi);
	hi->id = (uint64_t)h->id;
	hi->hostname = arena_strdup(a, h->hostname);
	hi->state = st < _HOST_STATE_MAX ? states[st] : ROLLWAVE__HOST_STATE__HOST_STATE_UNKNOWN;
	hi->last_seen_ms = seen;
	hi->agent_version = arena_strdup(a, h->agent_version);
	hi->host_key.len = 32;
	hi->host_key.data = arena_alloc(a, 32);
	if (hi->host_key.data)
		memcpy(hi->host_key.data, h->key, 32);
	labels_from_json(a, h->labels, &hi->labels, &hi->n_labels);
	apps_from_json(a, apps, &hi->apps, &hi->n_apps);
	c->hosts[c->n++] = hi;
	return 0;
}

struct event_ctx {
	struct arena *a;
	Rollwave__Event **events;
	size_t n, cap;
};

static int
event_cb(void *userdata, const struct audit_row *r)
{
	struct event_ctx *c = userdata;
	Rollwave__Event *e;

	if (c->n == c->cap)
		return 0;
	e = arena_alloc(c->a, sizeof(*e));
	if (!e)
		return -ENOMEM;
	rollwave__event__init(e);
	e->id = (uint64_t)r->id;
	e->at_ms = r->at_ms;
	e->actor = arena_strdup(c->a, r->actor);
	e->action = arena_strdup(c->a, r->action);
	e->target = arena_strdup(c->a, r->target);
	e->detail = arena_strdup(c->a, r->detail ? r->detail : "");
	c->events[c->n++] = e;
	return 0;
}

struct app_count_ctx {
	struct server *s;
	const struct host_snap *snap;
	size_t n_snap;
	json_t *apps; /* {"web": {"hosts": n, "versions": {"1.4.2": n}}} */
};

static int
app_count_cb(void *userdata, const struct host_row *h)
{
	struct app_count_ctx *c = userdata;
	const struct host_snap *m = snapshot_get(c->snap, c->n_snap, h->id);
	json_t *arr, *o;
	size_t i;

	if (h->state == HOST_PENDING || h->state == HOST_REVOKED)
		return 0;
	arr = json_loads(m && m->apps_json ? m->apps_json : h->apps, 0, NULL);
	json_array_foreach(arr, i, o)
	{
		const char *app = json_string_value(json_object_get(o, "app"));
		const char *cur = json_string_value(json_object_get(o, "current"));
		json_t *a, *versions;

		if (!app)
			continue;
		a = json_object_get(c->apps, app);
		if (!a) {
			a = json_pack("{s:i, s:{}}", "hosts", 0, "versions");
			json_object_set_new(c->apps, app, a);
		}
		json_object_set_new(a, "hosts",
		        json_integer(json_integer_value(json_object_get(a, "hosts")) + 1));
		versions = json_object_get(a, "versions");
		if (cur && cur[0])
			json_object_set_new(versions, cur,
			        json_integer(
			                json_integer_value(json_object_get(versions, cur)) + 1));
	}
	json_decref(arr);
	return 0;
}

static nng_msg *admin_reply(uint64_t msgid, Rollwave__AdminResponse *resp);

static int
cmp_version_count(const void *a, const void *b)
{
	const Rollwave__AppSummary__VersionCount *x =
	        *(Rollwave__AppSummary__VersionCount *const *)a;
	const Rollwave__AppSummary__VersionCount *y =
	        *(Rollwave__AppSummary__VersionCount *const *)b;

	return version_compare(x->version, y->version);
}

static int
cmp_app_summary(const void *a, const void *b)
{
	return strcmp(
	        (*(Rollwave__AppSummary *const *)a)->app, (*(Rollwave__AppSummary *const *)b)->app);
}

/* Per app (by name): how many hosts report it, and how many run each
 * version (oldest first). */
static nng_msg *
admin_list_apps(struct server *s, uint64_t msgid, struct arena *a)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__AppList *al = arena_alloc(a, sizeof(*al));
	struct app_count_ctx c = {.s = s, .apps = json_object()};
	const char *name;
	json_t *o;
	size_t n = 0;
	nng_msg *reply;
	int r;

	struct host_snap *snap = snapshot_take(s, &c.n_snap);

	c.snap = snap;
	pthread_mutex_lock(&s->db_lock);
	r = db_hosts_foreach(s->db, app_count_cb, &c);
	pthread_mutex_unlock(&s->db_lock);
	snapshot_free(snap, c.n_snap);
	if (r < 0 || !al) {
		json_decref(c.apps);
		return NULL;
	}
	rollwave__app_list__init(al);
	al->apps = arena_alloc(a, json_object_size(c.apps) * sizeof(*al->apps));
	json_object_foreach(c.apps, name, o)
	{
		Rollwave__AppSummary *as = arena_alloc(a, sizeof(*as));
		json_t *versions = json_object_get(o, "versions"), *cnt;
		const char *v;

		if (!as || !al->apps || n >= WIRE_APP_LIST_MAX)
			break;
		rollwave__app_summary__init(as);
		as->app = arena_strdup(a, name);
		as->hosts = (uint32_t)json_integer_value(json_object_get(o, "hosts"));
		as->versions = arena_alloc(a, json_object_size(versions) * sizeof(*as->versions));
		json_object_foreach(versions, v, cnt)
		{
			Rollwave__AppSummary__VersionCount *vc = arena_alloc(a, sizeof(*vc));

			if (!vc || !as->versions || as->n_versions >= WIRE_RELEASES_MAX)
				break;
			rollwave__app_summary__version_count__init(vc);
			vc->version = arena_strdup(a, v);
			vc->hosts = (uint32_t)json_integer_value(cnt);
			as->versions[as->n_versions++] = vc;
		}
		if (as->n_versions > 1)
			qsort(as->versions, as->n_versions, sizeof(*as->versions),
			        cmp_version_count);
		al->apps[n++] = as;
	}
	al->n_apps = n;
	if (n > 1)
		qsort(al->apps, n, sizeof(*al->apps), cmp_app_summary);
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_APP_LIST;
	resp.app_list = al;
	reply = admin_reply(msgid, &resp);
	json_decref(c.apps);
	return reply;
}

static nng_msg *
admin_reply(uint64_t msgid, Rollwave__AdminResponse *resp)
{
	Rollwave__Envelope env;

	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE;
	env.admin_response = resp;
	return msg_from_env(&env);
}

static nng_msg *
admin_error(uint64_t msgid, Rollwave__Error__Code code, const char *message)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__Error e = ROLLWAVE__ERROR__INIT;

	e.code = code;
	e.message = (char *)message;
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR;
	resp.error = &e;
	return admin_reply(msgid, &resp);
}

static nng_msg *
admin_set_state(struct server *s, uint64_t msgid, uint64_t host_id, enum host_state state,
        const char *actor)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__Ack ack = ROLLWAVE__ACK__INIT;
	char text[256];
	int r;

	pthread_mutex_lock(&s->db_lock);
	if (state == HOST_UP)
		r = db_host_accept(s->db, (int64_t)host_id, actor);
	else
		r = db_host_set_state(s->db, (int64_t)host_id, HOST_REVOKED, actor, NULL);
	pthread_mutex_unlock(&s->db_lock);
	if (r == -ENOENT)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__INVALID, "no such host");
	if (r == -EPERM)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__INVALID,
		        "the host is revoked; revocation is final");
	if (r == -EALREADY)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__INVALID,
		        "the host is not pending; it was accepted before");
	if (r < 0)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__INTERNAL, strerror(-r));

	pthread_mutex_lock(&s->lock);
	{
		struct host_mem *m = host_mem(s, (int64_t)host_id, true);

		if (m) {
			/* Accepted hosts are down until their agent connects. */
			m->state = state == HOST_UP ? HOST_DOWN : state;
			if (state == HOST_REVOKED) {
				for (size_t i = 0; i < s->n_workers; i++)
					if (s->workers[i]->st == W_PARKED &&
					        s->workers[i]->parked_host == (int64_t)host_id)
						worker_unpark(s, s->workers[i], NULL);
				if (m->pipe) {
					nng_pipe p;

					/* Drop its connection: it must authenticate
					 * again, and will be refused. */
					memset(&p, 0, sizeof(p));
					p.id = m->pipe;
					nng_pipe_close(p);
					m->pipe = 0;
				}
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	log_notice("host %" PRIu64 " %s by %s", host_id, state == HOST_UP ? "accepted" : "revoked",
	        actor);
	snprintf(text, sizeof(text), "host %" PRIu64 " %s", host_id,
	        state == HOST_UP ? "accepted; it is up once its agent connects" : "revoked");
	ack.message = text;
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK;
	resp.ack = &ack;
	return admin_reply(msgid, &resp);
}

/* Deploy or Rollback to a set of hosts, all at once. */
static nng_msg *
admin_deploy(struct server *s, uint64_t msgid, bool rollback, const char *app, const char *version,
        const char *url, const uint64_t *ids, size_t n, const char *actor, struct arena *a)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__DeployResult *dr = arena_alloc(a, sizeof(*dr));
	int64_t *hosts = arena_alloc(a, n * sizeof(*hosts));
	uint64_t *cids = arena_alloc(a, n * sizeof(*cids));
	char why[256];
	int64_t dep;
	int r = 0;

	if (!dr || !hosts || !cids)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	pthread_mutex_lock(&s->db_lock);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct host_row h;

		hosts[i] = (int64_t)ids[i];
		for (size_t j = 0; j < i; j++)
			if (hosts[j] == hosts[i]) {
				snprintf(why, sizeof(why), "host %" PRIu64 " is listed twice",
				        ids[i]);
				r = -EINVAL;
			}
		if (r < 0)
			break;
		r = db_host_by_id(s->db, hosts[i], &h);
		if (r == -ENOENT) {
			snprintf(why, sizeof(why), "host %" PRIu64 ": no such host", ids[i]);
			break;
		}
		if (r < 0) {
			snprintf(why, sizeof(why), "database error: %s", strerror(-r));
			break;
		}
		host_row_done(&h);
		if (h.state == HOST_PENDING || h.state == HOST_REVOKED) {
			snprintf(why, sizeof(why), "host %" PRIu64 " is %s, not accepted", ids[i],
			        host_state_to_string(h.state));
			r = -EPERM;
		}
	}
	if (r >= 0) {
		r = db_deployment_create(s->db, rollback ? "rollback" : "deploy", app, version, url,
		        actor, hosts, n, &dep, cids);
		if (r < 0)
			snprintf(
			        why, sizeof(why), "cannot record the deployment: %s", strerror(-r));
	}
	pthread_mutex_unlock(&s->db_lock);
	if (r < 0)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__INVALID, why);

	rollwave__deploy_result__init(dr);
	dr->deployment_id = (uint64_t)dep;
	dr->hosts = arena_alloc(a, n * sizeof(*dr->hosts));
	if (!dr->hosts)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		Rollwave__DeployResult__HostResult *hr = arena_alloc(a, sizeof(*hr));
		struct host_mem *m = host_mem(s, hosts[i], true);
		struct pending_cmd *p = calloc(1, sizeof(*p));

		if (!hr || !m || !p || !(p->manifest_url = strdup(url ? url : ""))) {
			pending_free(p);
			continue;
		}
		p->command_id = cids[i];
		p->rollback = rollback;
		strbuf_printf(p->app, sizeof(p->app), "%s", app);
		strbuf_printf(p->version, sizeof(p->version), "%s", version ? version : "");
		queue_append(m, p);
		rollwave__deploy_result__host_result__init(hr);
		hr->host_id = (uint64_t)hosts[i];
		hr->command_id = cids[i];
		hr->accepted = true;
		hr->state = "queued";
		/* A host waiting in its long poll gets it at once. */
		for (size_t w = 0; w < s->n_workers; w++) {
			struct worker *wk = s->workers[w];

			if (wk->st == W_PARKED && wk->parked_host == hosts[i]) {
				nng_msg *cmd = next_command(s, m, m->pipe, wk->parked_msgid);

				if (cmd) {
					worker_unpark(s, wk, cmd);
					hr->state = "sent";
				}
				break;
			}
		}
		dr->hosts[dr->n_hosts++] = hr;
	}
	pthread_mutex_unlock(&s->lock);
	log_notice("deployment %" PRId64 " by %s: %s %s %s to %zu host(s)", dep, actor,
	        rollback ? "rollback" : "deploy", app,
	        version && version[0] ? version : "(previous)", n);
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT;
	resp.deploy_result = dr;
	return admin_reply(msgid, &resp);
}

struct task_list_ctx {
	struct arena *a;
	Rollwave__DeployResult *dr;
	size_t cap;
};

static int
task_list_cb(void *userdata, const struct task_row *t)
{
	struct task_list_ctx *c = userdata;
	Rollwave__DeployResult__HostResult *hr;

	if (c->dr->n_hosts == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		Rollwave__DeployResult__HostResult **n = arena_alloc(c->a, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		if (c->dr->hosts)
			memcpy(n, c->dr->hosts, c->dr->n_hosts * sizeof(*n));
		c->dr->hosts = n;
		c->cap = ncap;
	}
	hr = arena_alloc(c->a, sizeof(*hr));
	if (!hr)
		return -ENOMEM;
	rollwave__deploy_result__host_result__init(hr);
	hr->host_id = (uint64_t)t->host_id;
	hr->command_id = t->command_id;
	hr->accepted = !streq(t->state, "refused");
	hr->state = arena_strdup(c->a, t->state);
	hr->phase = (Rollwave__Phase)t->phase;
	hr->error = arena_strdup(c->a, t->error);
	if (hr->error && strlen(hr->error) > WIRE_REPORT_TEXT_MAX)
		hr->error[WIRE_REPORT_TEXT_MAX] = 0;
	hr->final = streq(t->state, "committed") || streq(t->state, "rolled_back") ||
	        streq(t->state, "failed") || streq(t->state, "refused");
	if (!hr->accepted)
		hr->reason = hr->error;
	c->dr->hosts[c->dr->n_hosts++] = hr;
	return 0;
}

static nng_msg *
admin_get_deployment(struct server *s, uint64_t msgid, uint64_t id, struct arena *a)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__DeployResult *dr = arena_alloc(a, sizeof(*dr));
	struct task_list_ctx c = {.a = a, .dr = dr};
	int r;

	if (!dr)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	rollwave__deploy_result__init(dr);
	dr->deployment_id = id;
	pthread_mutex_lock(&s->db_lock);
	r = db_deployment_foreach_task(s->db, (int64_t)id, task_list_cb, &c);
	pthread_mutex_unlock(&s->db_lock);
	if (r == -ENOENT)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__INVALID, "no such deployment");
	if (r < 0)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__INTERNAL, strerror(-r));
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT;
	resp.deploy_result = dr;
	return admin_reply(msgid, &resp);
}

static nng_msg *
handle_admin(struct server *s, nng_msg *req)
{
	_cleanup_wire_free_ Rollwave__Envelope *env = NULL;
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	struct rw_err err = {{0}};
	struct arena a = {0};
	char actor[128];
	nng_msg *reply;
	uint64_t msgid;
	int r;

	r = wire_decode(nng_msg_body(req), nng_msg_len(req), &env, &err);
	if (r < 0) {
		_cleanup_free_ void *buf = NULL;
		size_t len;

		if (wire_error_reply(wire_peek_message_id(nng_msg_body(req), nng_msg_len(req)), r,
		            err.msg, &buf, &len) < 0 ||
		        nng_msg_alloc(&reply, 0) != 0)
			return NULL;
		nng_msg_append(reply, buf, len);
		return reply;
	}
	msgid = env->message_id;
	if (env->body_case != ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST)
		return error_msg(msgid, ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE,
		        "the admin socket takes admin requests, not '%s'",
		        wire_body_name(env->body_case));
	admin_actor(req, actor, sizeof(actor));

	switch (env->admin_request->request_case) {
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS:
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST:
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOSTS_PENDING: {
		Rollwave__HostList *hl = arena_alloc(&a, sizeof(*hl));
		struct host_list_ctx c = {.s = s, .a = &a};

		if (env->admin_request->request_case == ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS)
			c.selector = env->admin_request->list_hosts->selector;
		else if (env->admin_request->request_case ==
		        ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST)
			c.only_id = (int64_t)env->admin_request->get_host->host_id;
		else
			c.pending_only = true;
		struct host_snap *snap = snapshot_take(s, &c.n_snap);

		c.snap = snap;
		pthread_mutex_lock(&s->db_lock);
		r = hl ? db_hosts_foreach(s->db, host_list_cb, &c) : -ENOMEM;
		pthread_mutex_unlock(&s->db_lock);
		snapshot_free(snap, c.n_snap);
		if (r < 0) {
			reply = admin_error(msgid, ROLLWAVE__ERROR__CODE__INTERNAL, strerror(-r));
			break;
		}
		if (c.only_id && c.n == 0) {
			reply = admin_error(msgid, ROLLWAVE__ERROR__CODE__INVALID, "no such host");
			break;
		}
		rollwave__host_list__init(hl);
		hl->hosts = c.hosts;
		hl->n_hosts = c.n;
		resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST;
		resp.host_list = hl;
		reply = admin_reply(msgid, &resp);
		if (!reply)
			reply = admin_error(msgid, ROLLWAVE__ERROR__CODE__INTERNAL,
			        "the host list does not fit in one message; use --selector");
		break;
	}
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT:
		reply = admin_set_state(
		        s, msgid, env->admin_request->host_accept->host_id, HOST_UP, actor);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_REVOKE:
		reply = admin_set_state(
		        s, msgid, env->admin_request->host_revoke->host_id, HOST_REVOKED, actor);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_EVENTS: {
		Rollwave__EventList *el = arena_alloc(&a, sizeof(*el));
		unsigned limit = env->admin_request->list_events->limit;
		struct event_ctx c = {.a = &a};

		if (!limit || limit > WIRE_EVENTS_MAX)
			limit = limit ? WIRE_EVENTS_MAX : 100;
		c.cap = limit;
		c.events = arena_alloc(&a, limit * sizeof(*c.events));
		pthread_mutex_lock(&s->db_lock);
		r = el && c.events
		        ? db_audit_foreach(s->db, 0, env->admin_request->list_events->since_ms,
		                  limit, event_cb, &c)
		        : -ENOMEM;
		pthread_mutex_unlock(&s->db_lock);
		if (r < 0) {
			reply = admin_error(msgid, ROLLWAVE__ERROR__CODE__INTERNAL, strerror(-r));
			break;
		}
		rollwave__event_list__init(el);
		el->events = c.events;
		el->n_events = c.n;
		resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_EVENT_LIST;
		resp.event_list = el;
		reply = admin_reply(msgid, &resp);
		break;
	}
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY: {
		const Rollwave__AdminRequest__Deploy *d = env->admin_request->deploy;

		reply = admin_deploy(s, msgid, false, d->app, d->version, d->manifest_url,
		        d->host_ids, d->n_host_ids, actor, &a);
		break;
	}
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK: {
		const Rollwave__AdminRequest__Rollback *d = env->admin_request->rollback;

		reply = admin_deploy(s, msgid, true, d->app, d->to_version, NULL, d->host_ids,
		        d->n_host_ids, actor, &a);
		break;
	}
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT:
		reply = admin_get_deployment(
		        s, msgid, env->admin_request->get_deployment->deployment_id, &a);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_APPS:
		reply = admin_list_apps(s, msgid, &a);
		if (!reply)
			reply = admin_error(
			        msgid, ROLLWAVE__ERROR__CODE__INTERNAL, "cannot list the apps");
		break;
	default:
		reply = admin_error(msgid, ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE,
		        "this coordinator does not handle that request yet");
		break;
	}
	arena_free(&a);
	return reply;
}

static void *
admin_main(void *arg)
{
	struct server *s = arg;

	while (!s->stopping) {
		nng_msg *req = NULL, *reply;
		int rv = nng_recvmsg(s->admin, &req, 0);

		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		reply = handle_admin(s, req);
		nng_msg_free(req);
		if (reply && nng_sendmsg(s->admin, reply, 0) != 0)
			nng_msg_free(reply);
	}
	return NULL;
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
	p->rollback = streq(t->kind, "rollback");
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

static int
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
		rv = nng_tls_config_alloc(&s->tls, NNG_TLS_MODE_SERVER);
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

static int
start_admin_socket(struct server *s, struct rw_err *err)
{
	const char *url = s->cfg->admin_socket;
	nng_listener l;
	int rv;

	rv = nng_rep0_open(&s->admin);
	if (rv != 0)
		return nng_err(err, rv, "cannot open the admin socket", url);
	nng_socket_set_size(s->admin, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE);
	nng_socket_set_ms(s->admin, NNG_OPT_RECVTIMEO, 500);
	nng_socket_set_ms(s->admin, NNG_OPT_SENDTIMEO, 5000);
	if (strncmp(url, "ipc://", 6) == 0) {
		const char *path = url + 6;
		char dir[PATH_MAX];
		char *slash;

		strbuf_printf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = 0;
			(void)mkdir_p(dir, 0755);
		}
		(void)unlink(path); /* a stale socket of a previous run */
	}
	rv = nng_listener_create(&l, s->admin, url);
	if (rv == 0 && strncmp(url, "ipc://", 6) == 0)
		/* Who may use it is decided by file permissions: owner and group. */
		(void)nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0660);
	if (rv == 0)
		rv = nng_listener_start(l, 0);
	if (rv != 0)
		return nng_err(err, rv, "cannot listen on", url);
	if (pthread_create(&s->admin_thread, NULL, admin_main, s) != 0)
		return rw_err_set(err, -EAGAIN, "cannot start the admin thread");
	s->admin_running = true;
	return 0;
}

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
	pthread_mutex_init(&s->db_lock, NULL);
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
	r = start_admin_socket(s, err);
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
	int64_t *down = NULL, *up = NULL;
	size_t n_touch = 0, n_down = 0, n_up = 0;
	uint64_t now = now_ms();
	uint64_t limit = MISSED_HEARTBEATS * (s->cfg->heartbeat_interval_usec / USEC_PER_MSEC);
	bool flush = now - s->last_flush_ms >= FLUSH_EVERY_MS;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_workers; i++)
		if (s->workers[i]->st == W_PARKED && s->workers[i]->park_deadline_ms <= now)
			worker_unpark(s, s->workers[i], NULL);
	touch = calloc(s->hosts_cap ? s->hosts_cap : 1, sizeof(*touch));
	down = calloc(s->hosts_cap ? s->hosts_cap : 1, sizeof(*down));
	up = calloc(s->hosts_cap ? s->hosts_cap : 1, sizeof(*up));
	for (size_t i = 1; touch && down && up && i < s->hosts_cap; i++) {
		struct host_mem *m = &s->hosts[i];

		if (!m->id)
			continue;
		if (m->state == HOST_UP && now > m->last_seen_ms + limit) {
			m->state = HOST_DOWN;
			m->pipe = 0;
			m->up_dirty = false;
			down[n_down++] = m->id;
		} else if (m->up_dirty && n_up < s->hosts_cap) {
			m->up_dirty = false;
			up[n_up++] = m->id;
		}
		if (flush && (m->seen_dirty || m->apps_dirty)) {
			touch[n_touch++] = (struct host_touch) {
			        .id = m->id,
			        .last_seen_ms = m->last_seen_ms,
			        .apps_json =
			                m->apps_dirty && m->apps_json ? strdup(m->apps_json) : NULL,
			};
			m->seen_dirty = m->apps_dirty = false;
		}
	}
	pthread_mutex_unlock(&s->lock);

	pthread_mutex_lock(&s->db_lock);
	for (size_t i = 0; i < n_up; i++)
		if (db_host_set_state(s->db, up[i], HOST_UP, "coordinator", "heartbeat") >= 0)
			log_notice("host %" PRId64 " is up again", up[i]);
	for (size_t i = 0; i < n_down; i++) {
		char reason[96];

		snprintf(reason, sizeof(reason), "missed %d heartbeats", MISSED_HEARTBEATS);
		if (db_host_set_state(s->db, down[i], HOST_DOWN, "coordinator", reason) >= 0)
			log_warning("host %" PRId64 " is down: %s", down[i], reason);
	}
	if (flush) {
		int r = db_hosts_touch(s->db, touch, n_touch);

		if (r < 0)
			log_error("cannot record last-seen times: %s", strerror(-r));
		s->last_flush_ms = now;
	}
	pthread_mutex_unlock(&s->db_lock);
	for (size_t i = 0; i < n_touch; i++)
		free((char *)touch[i].apps_json);
	free(touch);
	free(down);
	free(up);
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
	pthread_mutex_unlock(&s->lock);
	if (s->admin_running) {
		pthread_join(s->admin_thread, NULL);
		s->admin_running = false;
	}
	nng_close(s->admin);
	nng_close(s->agents);
	for (size_t i = 0; i < s->n_workers; i++) {
		nng_aio_stop(s->workers[i]->aio);
		if (s->workers[i]->st == W_SEND)
			nng_msg_free(nng_aio_get_msg(s->workers[i]->aio));
		nng_ctx_close(s->workers[i]->ctx);
		nng_aio_free(s->workers[i]->aio);
		free(s->workers[i]);
	}
	free(s->workers);
	s->workers = NULL;
	s->n_workers = 0;
	if (s->tls)
		nng_tls_config_free(s->tls);
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
	pthread_mutex_destroy(&s->db_lock);
	free(s);
}
