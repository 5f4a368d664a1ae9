/*
 * admin_deploy: the admin requests about deployments sent with --hosts
 * (one command to each listed host, at once, no waves), and the audit log.
 * Deployments through waves are waves_admin()'s.
 */
#include <inttypes.h>

#include "admin_private.h"
#include "log.h"

/* Copies ids to hosts, checking that each is listed once and accepted;
 * why says what is wrong. */
static int
check_hosts(struct admin *s, const uint64_t *ids, size_t n, int64_t *hosts, char *why, size_t size)
{
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		struct host_row h;

		hosts[i] = (int64_t)ids[i];
		for (size_t j = 0; j < i; j++)
			if (hosts[j] == hosts[i]) {
				snprintf(why, size, "host %" PRIu64 " is listed twice", ids[i]);
				r = -EINVAL;
			}
		if (r < 0)
			break;
		r = db_host_by_id(s->db, hosts[i], &h);
		if (r == -ENOENT) {
			snprintf(why, size, "host %" PRIu64 ": no such host", ids[i]);
			break;
		}
		if (r < 0) {
			snprintf(why, size, "database error: %s", strerror(-r));
			break;
		}
		host_row_done(&h);
		if (h.state == HOST_PENDING || h.state == HOST_REVOKED) {
			snprintf(why, size, "host %" PRIu64 " is %s, not accepted", ids[i],
			        host_state_to_string(h.state));
			r = -EPERM;
		}
	}
	return r;
}

/* Not beside a deployment through waves of the same app: -EBUSY. */
static int
check_no_waves(struct admin *s, const char *app, char *why, size_t size)
{
	struct deployment_row active;
	int r = 0;

	if (db_deployment_latest(s->db, app, &active) == 0) {
		if (!isempty(active.plan) && deployment_state_is_active(active.state)) {
			snprintf(why, size,
			        "deployment %" PRId64 " of %s is %s: wait for it, or 'rollwave "
			        "abort %" PRId64 "'",
			        active.id, app, active.state, active.id);
			r = -EBUSY;
		}
		deployment_row_done(&active);
	}
	return r;
}

/* Deploy or Rollback to a set of hosts, all at once. */
static nng_msg *
deploy(struct admin *s, uint64_t msgid, bool rollback, const char *app, const char *version,
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
	r = check_hosts(s, ids, n, hosts, why, sizeof(why));
	if (r >= 0)
		r = check_no_waves(s, app, why, sizeof(why));
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
		struct fleet_command p = {
		        .command_id = cids[i],
		        .kind = rollback ? ROLLWAVE__COMMAND__KIND__ROLLBACK
		                         : ROLLWAVE__COMMAND__KIND__DEPLOY,
		        .app = app,
		        .version = version ? version : "",
		        .manifest_url = url,
		};
		int q;

		if (!hr)
			continue;
		q = fleet_queue(s->fleet, hosts[i], &p);
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

nng_msg *
admin_deployment_get(const struct admin_call *call)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__DeployResult *dr = arena_alloc(call->a, sizeof(*dr));
	uint64_t id = call->req->get_deployment->deployment_id;
	struct task_list_ctx c = {.a = call->a, .dr = dr};
	int r;

	if (!dr)
		return admin_error(call->msgid, ROLLWAVE__ERROR__CODE__BUSY, "out of memory");
	rollwave__deploy_result__init(dr);
	dr->deployment_id = id;
	r = db_deployment_foreach_task(call->s->db, (int64_t)id, task_list_cb, &c);
	if (r == -ENOENT)
		return admin_error(
		        call->msgid, ROLLWAVE__ERROR__CODE__INVALID, "no such deployment");
	if (r < 0)
		return admin_error(call->msgid, ROLLWAVE__ERROR__CODE__INTERNAL, strerror(-r));
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT;
	resp.deploy_result = dr;
	return admin_reply(call->msgid, &resp);
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

nng_msg *
admin_deploy_hosts(const struct admin_call *c)
{
	const Rollwave__AdminRequest__Deploy *d = c->req->deploy;

	return deploy(c->s, c->msgid, false, d->app, d->version, d->manifest_url, d->host_ids,
	        d->n_host_ids, c->actor, c->a);
}

nng_msg *
admin_rollback_hosts(const struct admin_call *c)
{
	const Rollwave__AdminRequest__Rollback *d = c->req->rollback;

	return deploy(c->s, c->msgid, true, d->app, d->to_version, NULL, d->host_ids, d->n_host_ids,
	        c->actor, c->a);
}

nng_msg *
admin_events_list(const struct admin_call *call)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__EventList *el = arena_alloc(call->a, sizeof(*el));
	const Rollwave__AdminRequest__ListEvents *le = call->req->list_events;
	unsigned limit = le->limit;
	struct event_ctx c = {.a = call->a};
	int r;

	if (!limit || limit > WIRE_EVENTS_MAX)
		limit = limit ? WIRE_EVENTS_MAX : 100;
	c.cap = limit;
	c.events = arena_alloc(call->a, limit * sizeof(*c.events));
	r = el && c.events ? db_audit_foreach(call->s->db, 0, le->since_ms, limit, event_cb, &c)
	                   : -ENOMEM;
	if (r < 0)
		return admin_error(call->msgid, ROLLWAVE__ERROR__CODE__INTERNAL, strerror(-r));
	rollwave__event_list__init(el);
	el->events = c.events;
	el->n_events = c.n;
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_EVENT_LIST;
	resp.event_list = el;
	return admin_reply(call->msgid, &resp);
}
