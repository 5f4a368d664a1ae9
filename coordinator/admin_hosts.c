/*
 * admin_hosts: the admin requests about the host registry: list a page of
 * hosts (or one, or the pending ones), accept and revoke hosts, and count
 * the apps hosts report.
 */
#include <inttypes.h>
#include <jansson.h>

#include "admin_private.h"
#include "log.h"
#include "version.h"

/* A copy of the fleet's host table (fleet_view()), taken before the store
 * is read, so that nothing holds the fleet lock and the store's at once. */
static const struct fleet_host *
snapshot_get(const struct fleet_view_host *snap, size_t n, int64_t id)
{
	return snap && id > 0 && (size_t)id < n && snap[id].id ? &snap[id].h : NULL;
}

struct host_list_ctx {
	struct admin *s;
	const struct fleet_view_host *snap;
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
	const struct fleet_host *m;
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

struct app_count_ctx {
	struct admin *s;
	const struct fleet_view_host *snap;
	size_t n_snap;
	json_t *apps; /* {"web": {"hosts": n, "versions": {"1.4.2": n}}} */
};

static int
app_count_cb(void *userdata, const struct host_row *h)
{
	struct app_count_ctx *c = userdata;
	const struct fleet_host *m = snapshot_get(c->snap, c->n_snap, h->id);
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
list_apps(struct admin *s, uint64_t msgid, struct arena *a)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__AppList *al = arena_alloc(a, sizeof(*al));
	struct app_count_ctx c = {.s = s, .apps = json_object()};
	const char *name;
	json_t *o;
	size_t n = 0;
	nng_msg *reply;
	int r;

	struct fleet_view_host *snap = NULL;

	(void)fleet_view(s->fleet, &snap, &c.n_snap); /* none: the store's word */
	c.snap = snap;
	r = db_hosts_foreach(s->db, app_count_cb, &c);
	fleet_view_free(snap, c.n_snap);
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

/* Accepts (state HOST_UP) the n hosts of ids, all or none, or revokes one
 * (state HOST_REVOKED, n == 1). */
static nng_msg *
set_state(struct admin *s, uint64_t msgid, const int64_t *ids, size_t n, enum host_state state,
        const char *actor)
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

	fleet_set_state(s->fleet, ids, n, state);
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

nng_msg *
admin_hosts_list(const struct admin_call *call)
{
	const Rollwave__AdminRequest *req = call->req;
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__HostList *hl = arena_alloc(call->a, sizeof(*hl));
	struct host_list_ctx c = {.s = call->s, .a = call->a};
	nng_msg *reply;
	int r;

	if (req->request_case == ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS) {
		c.selector = req->list_hosts->selector;
		c.after_id = (int64_t)req->list_hosts->after_id;
	} else if (req->request_case == ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST) {
		c.only_id = (int64_t)req->get_host->host_id;
	} else {
		c.pending_only = true;
		c.after_id = (int64_t)req->hosts_pending->after_id;
	}
	struct fleet_view_host *snap = NULL;

	(void)fleet_view(call->s->fleet, &snap, &c.n_snap); /* none: the store's word */
	c.snap = snap;
	r = hl ? db_hosts_foreach(call->s->db, host_list_cb, &c) : -ENOMEM;
	fleet_view_free(snap, c.n_snap);
	if (r == -ECANCELED)
		r = 0; /* a full page */
	if (r < 0)
		return admin_error(call->msgid, ROLLWAVE__ERROR__CODE__INTERNAL, strerror(-r));
	if (c.only_id && c.n == 0)
		return admin_error(call->msgid, ROLLWAVE__ERROR__CODE__INVALID, "no such host");
	rollwave__host_list__init(hl);
	hl->hosts = c.hosts;
	hl->n_hosts = c.n;
	hl->next_after_id = c.next_after_id;
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST;
	resp.host_list = hl;
	reply = admin_reply(call->msgid, &resp);
	if (!reply)
		reply = admin_error(call->msgid, ROLLWAVE__ERROR__CODE__INTERNAL,
		        "the host list does not fit in one message; use --selector");
	return reply;
}

nng_msg *
admin_host_accept(const struct admin_call *c)
{
	const Rollwave__AdminRequest__HostAccept *acc = c->req->host_accept;
	int64_t *ids = arena_alloc(c->a, (1 + acc->n_more_host_ids) * sizeof(*ids));

	if (!ids)
		return admin_error(c->msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	ids[0] = (int64_t)acc->host_id;
	for (size_t i = 0; i < acc->n_more_host_ids; i++)
		ids[i + 1] = (int64_t)acc->more_host_ids[i];
	return set_state(c->s, c->msgid, ids, 1 + acc->n_more_host_ids, HOST_UP, c->actor);
}

nng_msg *
admin_host_revoke(const struct admin_call *c)
{
	int64_t id = (int64_t)c->req->host_revoke->host_id;

	return set_state(c->s, c->msgid, &id, 1, HOST_REVOKED, c->actor);
}

nng_msg *
admin_apps_list(const struct admin_call *c)
{
	nng_msg *reply = list_apps(c->s, c->msgid, c->a);

	if (!reply)
		reply = admin_error(
		        c->msgid, ROLLWAVE__ERROR__CODE__INTERNAL, "cannot list the apps");
	return reply;
}
