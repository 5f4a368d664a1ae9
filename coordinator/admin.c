/*
 * admin: the coordinator's admin socket (AdminSocket=), served by one
 * thread. Who may use an ipc:// socket is decided by its file permissions;
 * every action is written to the audit log with the asking user.
 */
#include <arpa/inet.h>
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

/* ---- admin socket ---- */

/* Who asked, for the audit log: over ipc:// the peer's user (the kernel
 * says); over TLS, where only holders of a client certificate of our CA get
 * in, the user the CLI claims and the peer's address. */
static void
admin_actor(nng_msg *req, const char *claimed, char *buf, size_t size)
{
	nng_pipe p = nng_msg_get_pipe(req);
	uint64_t uid = 0;
	struct passwd *pw;

	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0) {
		char addr[INET6_ADDRSTRLEN] = "?";
		nng_sockaddr sa;

		if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == 0) {
			if (sa.s_family == NNG_AF_INET)
				inet_ntop(AF_INET, &sa.s_in.sa_addr, addr, sizeof(addr));
			else if (sa.s_family == NNG_AF_INET6)
				inet_ntop(AF_INET6, sa.s_in6.sa_addr, addr, sizeof(addr));
		}
		strbuf_printf(buf, size, "admin-tls:%s@%s", isempty(claimed) ? "?" : claimed, addr);
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
	int64_t after_id;       /* the page: hosts after this id */
	size_t bytes;           /* packed size of the page so far */
	uint64_t next_after_id; /* set when the page is full */
};

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
	if (h->id <= c->after_id)
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
	size_t size = rollwave__host_info__get_packed_size(hi) + 8; /* + tag and length */
	if (c->n > 0 && (c->n == WIRE_HOSTS_MAX || c->bytes + size > WIRE_HOST_PAGE_BYTES)) {
		/* The page is full: the next one starts after the last host. */
		c->next_after_id = c->hosts[c->n - 1]->id;
		return -ECANCELED;
	}
	c->bytes += size;
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
	r = db_hosts_foreach(s->db, app_count_cb, &c);
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

nng_msg *
admin_reply(uint64_t msgid, Rollwave__AdminResponse *resp)
{
	Rollwave__Envelope env;

	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE;
	env.admin_response = resp;
	return msg_from_env(&env);
}

/* The request being served and the code of the error it was answered with,
 * for the metrics (the admin socket is served by one thread). */
static struct {
	struct server *s;
	size_t type;
} current;

nng_msg *
admin_error(uint64_t msgid, Rollwave__Error__Code code, const char *message)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__Error e = ROLLWAVE__ERROR__INIT;

	if (current.s)
		stat_inc(&current.s->stats
		                  .admin_refused[current.type][stat_slot((int)code, STAT_CODES)]);
	e.code = code;
	e.message = (char *)message;
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR;
	resp.error = &e;
	return admin_reply(msgid, &resp);
}

/* Accepts (state HOST_UP) the n hosts of ids, all or none, or revokes one
 * (state HOST_REVOKED, n == 1). */
static nng_msg *
admin_set_state(struct server *s, uint64_t msgid, const int64_t *ids, size_t n,
        enum host_state state, const char *actor)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__Ack ack = ROLLWAVE__ACK__INIT;
	char text[256];
	int64_t bad = ids[0];
	int r;

	if (state == HOST_UP)
		r = db_hosts_accept(s->db, ids, n, actor, &bad);
	else
		r = db_host_set_state(s->db, ids[0], HOST_REVOKED, actor, NULL);
	if (r < 0) {
		const char *why = r == -ENOENT ? "no such host"
		        : r == -EPERM          ? "the host is revoked; revocation is final"
		        : r == -EALREADY       ? "the host is not pending; it was accepted before"
		        : r == -EEXIST         ? "the host is listed twice"
		                               : strerror(-r);

		if (n > 1)
			snprintf(text, sizeof(text),
			        "host %" PRId64 ": %s (none of the %zu hosts was accepted)", bad,
			        why, n);
		else
			snprintf(text, sizeof(text), "%s", why);
		return admin_error(msgid,
		        r == -ENOENT || r == -EPERM || r == -EALREADY || r == -EEXIST
		                ? ROLLWAVE__ERROR__CODE__INVALID
		                : ROLLWAVE__ERROR__CODE__INTERNAL,
		        text);
	}

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		struct host_mem *m = host_mem(s, ids[i], true);

		if (!m)
			continue;
		/* Accepted hosts are down until their agent connects. */
		m->state = state == HOST_UP ? HOST_DOWN : state;
		if (state == HOST_REVOKED) {
			if (m->parked)
				worker_unpark(s, m->parked, NULL);
			if (m->pipe) {
				nng_pipe p;

				/* Drop its connection: it must authenticate again, and
				 * will be refused. */
				memset(&p, 0, sizeof(p));
				p.id = m->pipe;
				nng_pipe_close(p);
				m->pipe = 0;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	server_flush_sends(s);
	if (n == 1) {
		log_notice("host %" PRId64 " %s by %s", ids[0],
		        state == HOST_UP ? "accepted" : "revoked", actor);
		snprintf(text, sizeof(text), "host %" PRId64 " %s", ids[0],
		        state == HOST_UP ? "accepted; it is up once its agent connects"
		                         : "revoked");
	} else {
		log_notice("%zu hosts accepted by %s", n, actor);
		snprintf(text, sizeof(text),
		        "%zu hosts accepted; each is up once its agent connects", n);
	}
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
		struct deployment_row active;

		/* Not beside a deployment through waves of the same app. */
		if (db_deployment_latest(s->db, app, &active) == 0) {
			if (!isempty(active.plan) && deployment_state_is_active(active.state)) {
				snprintf(why, sizeof(why),
				        "deployment %" PRId64
				        " of %s is %s: wait for it, or 'rollwave "
				        "abort %" PRId64 "'",
				        active.id, app, active.state, active.id);
				r = -EBUSY;
			}
			deployment_row_done(&active);
		}
	}
	if (r >= 0) {
		r = db_deployment_create(s->db, rollback ? "rollback" : "deploy", app, version, url,
		        actor, hosts, n, &dep, cids);
		if (r < 0)
			snprintf(
			        why, sizeof(why), "cannot record the deployment: %s", strerror(-r));
	}
	if (r < 0)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__INVALID, why);

	rollwave__deploy_result__init(dr);
	dr->deployment_id = (uint64_t)dep;
	dr->hosts = arena_alloc(a, n * sizeof(*dr->hosts));
	if (!dr->hosts)
		return admin_error(msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	for (size_t i = 0; i < n; i++) {
		Rollwave__DeployResult__HostResult *hr = arena_alloc(a, sizeof(*hr));
		struct pending_cmd p = {
		        .command_id = cids[i],
		        .kind = rollback ? ROLLWAVE__COMMAND__KIND__ROLLBACK
		                         : ROLLWAVE__COMMAND__KIND__DEPLOY,
		        .manifest_url = (char *)url,
		};
		int q;

		if (!hr)
			continue;
		strbuf_printf(p.app, sizeof(p.app), "%s", app);
		strbuf_printf(p.version, sizeof(p.version), "%s", version ? version : "");
		q = server_queue_command(s, hosts[i], &p);
		if (q < 0)
			continue;
		rollwave__deploy_result__host_result__init(hr);
		hr->host_id = (uint64_t)hosts[i];
		hr->command_id = cids[i];
		hr->accepted = true;
		/* A host waiting in its long poll got it at once. */
		hr->state = q > 0 ? "sent" : "queued";
		dr->hosts[dr->n_hosts++] = hr;
	}
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
	r = db_deployment_foreach_task(s->db, (int64_t)id, task_list_cb, &c);
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

	current.s = s;
	current.type = 0;
	r = wire_decode(nng_msg_body(req), nng_msg_len(req), &env, &err);
	if (r < 0) {
		_cleanup_free_ void *buf = NULL;
		size_t len;

		stat_inc(&s->stats.admin_reqs[0]);
		stat_inc(&s->stats.admin_refused[0][stat_slot(
		        (int)wire_error_code_from_errno(r), STAT_CODES)]);
		if (wire_error_reply(wire_peek_message_id(nng_msg_body(req), nng_msg_len(req)), r,
		            err.msg, &buf, &len) < 0 ||
		        nng_msg_alloc(&reply, 0) != 0)
			return NULL;
		nng_msg_append(reply, buf, len);
		return reply;
	}
	msgid = env->message_id;
	if (env->body_case != ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST) {
		stat_inc(&s->stats.admin_reqs[0]);
		stat_inc(&s->stats.admin_refused[0][ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE]);
		return error_msg(msgid, ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE,
		        "the admin socket takes admin requests, not '%s'",
		        wire_body_name(env->body_case));
	}
	admin_actor(req, env->admin_request->client_user, actor, sizeof(actor));
	current.type = stat_slot((int)env->admin_request->request_case, STAT_TYPES);
	stat_inc(&s->stats.admin_reqs[current.type]);

	switch (env->admin_request->request_case) {
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS:
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST:
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOSTS_PENDING: {
		Rollwave__HostList *hl = arena_alloc(&a, sizeof(*hl));
		struct host_list_ctx c = {.s = s, .a = &a};

		if (env->admin_request->request_case ==
		        ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS) {
			c.selector = env->admin_request->list_hosts->selector;
			c.after_id = (int64_t)env->admin_request->list_hosts->after_id;
		} else if (env->admin_request->request_case ==
		        ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST) {
			c.only_id = (int64_t)env->admin_request->get_host->host_id;
		} else {
			c.pending_only = true;
			c.after_id = (int64_t)env->admin_request->hosts_pending->after_id;
		}
		struct host_snap *snap = snapshot_take(s, &c.n_snap);

		c.snap = snap;
		r = hl ? db_hosts_foreach(s->db, host_list_cb, &c) : -ENOMEM;
		snapshot_free(snap, c.n_snap);
		if (r == -ECANCELED)
			r = 0; /* a full page */
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
		hl->next_after_id = c.next_after_id;
		resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST;
		resp.host_list = hl;
		reply = admin_reply(msgid, &resp);
		if (!reply)
			reply = admin_error(msgid, ROLLWAVE__ERROR__CODE__INTERNAL,
			        "the host list does not fit in one message; use --selector");
		break;
	}
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT: {
		const Rollwave__AdminRequest__HostAccept *acc = env->admin_request->host_accept;
		int64_t *ids = arena_alloc(&a, (1 + acc->n_more_host_ids) * sizeof(*ids));

		if (!ids) {
			reply = admin_error(msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
			break;
		}
		ids[0] = (int64_t)acc->host_id;
		for (size_t i = 0; i < acc->n_more_host_ids; i++)
			ids[i + 1] = (int64_t)acc->more_host_ids[i];
		reply = admin_set_state(s, msgid, ids, 1 + acc->n_more_host_ids, HOST_UP, actor);
		break;
	}
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_REVOKE: {
		int64_t id = (int64_t)env->admin_request->host_revoke->host_id;

		reply = admin_set_state(s, msgid, &id, 1, HOST_REVOKED, actor);
		break;
	}
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_EVENTS: {
		Rollwave__EventList *el = arena_alloc(&a, sizeof(*el));
		unsigned limit = env->admin_request->list_events->limit;
		struct event_ctx c = {.a = &a};

		if (!limit || limit > WIRE_EVENTS_MAX)
			limit = limit ? WIRE_EVENTS_MAX : 100;
		c.cap = limit;
		c.events = arena_alloc(&a, limit * sizeof(*c.events));
		r = el && c.events
		        ? db_audit_foreach(s->db, 0, env->admin_request->list_events->since_ms,
		                  limit, event_cb, &c)
		        : -ENOMEM;
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
	default: {
		Rollwave__AdminResponse *wresp = NULL;
		struct rw_err werr = {{0}};
		int wr = waves_admin(s->waves, env->admin_request, actor, &a, &wresp, &werr);

		reply = wr >= 0 ? admin_reply(msgid, wresp)
		                : admin_error(msgid, waves_error_code(wr), werr.msg);
		break;
	}
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

int
admin_start(struct server *s, struct rw_err *err)
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
	if (rv == 0 && strncmp(url, "tls+tcp://", 10) == 0) {
		/* Admins over the network must show a client certificate signed
		 * by our CA (rollwave-coordinator admin-cert). */
		rv = tlsprefs_config_alloc(&s->admin_tls, NNG_TLS_MODE_SERVER);
		if (rv == 0)
			rv = nng_tls_config_cert_key_file(
			        s->admin_tls, s->cfg->tls_certificate, NULL);
		if (rv != 0)
			return rw_err_set(err, -EIO, "TLS certificate %s: %s",
			        s->cfg->tls_certificate, nng_strerror(rv));
		rv = nng_tls_config_ca_file(s->admin_tls, s->cfg->tls_ca);
		if (rv != 0)
			return rw_err_set(err, -EIO,
			        "TLS CA %s (admins' certificates are checked "
			        "against it): %s",
			        s->cfg->tls_ca, nng_strerror(rv));
		rv = nng_tls_config_auth_mode(s->admin_tls, NNG_TLS_AUTH_MODE_REQUIRED);
		if (rv == 0)
			rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, s->admin_tls);
	}
	if (rv == 0)
		rv = nng_listener_start(l, 0);
	if (rv != 0)
		return nng_err(err, rv, "cannot listen on", url);
	if (pthread_create(&s->admin_thread, NULL, admin_main, s) != 0)
		return rw_err_set(err, -EAGAIN, "cannot start the admin thread");
	s->admin_running = true;
	return 0;
}
