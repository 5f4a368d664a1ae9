/*
 * wire_admin: checks of the admin socket's AdminRequest and AdminResponse.
 *
 * Each is a oneof of messages. One table per oneof maps the set member to its
 * field name and its checker; wire_check_admin_request() and
 * wire_check_admin_response() check the member is present, then call the
 * checker with path "<path>.<name>". A member the table does not name is one
 * this version does not know (-ENOMSG). A new request is one table row and
 * one short checker.
 */
#include <inttypes.h>

#include "wire_private.h"

/* ---- requests ----------------------------------------------------------------- */

static int
check_host_ids(const char *path, const uint64_t *ids, size_t n, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = wire_check_count(path, n, 1, WIRE_HOSTS_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		strbuf_printf(p, sizeof(p), "%s[%zu]", path, i);
		if ((r = wire_check_id(p, ids[i], err)) < 0)
			return r;
	}
	return 0;
}

static int
check_deploy_request(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__Deploy *d = msg;
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = wire_check_app(p, d->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.version", path);
	if ((r = wire_check_version(p, d->version, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.manifest_url", path);
	if ((r = wire_check_url(p, d->manifest_url, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.host_ids", path);
	return check_host_ids(p, d->host_ids, d->n_host_ids, err);
}

static int
check_rollback_request(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__Rollback *rb = msg;
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = wire_check_app(p, rb->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.to_version", path);
	if ((r = wire_check_version(p, rb->to_version, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.host_ids", path);
	return check_host_ids(p, rb->host_ids, rb->n_host_ids, err);
}

static int
check_create_deployment(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__CreateDeployment *c = msg;
	char p[PATH_MAX_LEN];

	CHECK(wire_check_app(FIELD("app"), c->app, err));
	CHECK(wire_check_version(FIELD("version"), c->version, true, err));
	CHECK(wire_check_url(FIELD("manifest_url"), c->manifest_url, !c->plan_only, err));
	CHECK(wire_check_text(FIELD("selector"), c->selector, WIRE_TEXT_MAX, 0, err));
	CHECK(wire_check_count(FIELD("host_ids"), c->n_host_ids, 0, WIRE_HOSTS_MAX, err));
	for (size_t i = 0; i < c->n_host_ids; i++) {
		strbuf_printf(p, sizeof(p), "%s.host_ids[%zu]", path, i);
		CHECK(wire_check_id(p, c->host_ids[i], err));
	}
	if (c->n_host_ids && !isempty(c->selector))
		return rw_err_set(err, -EINVAL, "%s: host_ids and selector both given", path);
	return wire_check_text(FIELD("params"), c->params, WIRE_PARAMS_MAX, TEXT_MULTILINE, err);
}

static int
check_list_hosts(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__ListHosts *l = msg;
	char p[PATH_MAX_LEN];

	return wire_check_text(FIELD("selector"), l->selector, WIRE_TEXT_MAX, 0, err);
}

static int
check_get_host(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__GetHost *g = msg;
	char p[PATH_MAX_LEN];

	return wire_check_id(FIELD("host_id"), g->host_id, err);
}

static int
check_list_events(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__ListEvents *l = msg;

	if (l->limit > WIRE_EVENTS_MAX)
		return rw_err_set(err, -EINVAL, "%s.limit: %u, at most %d allowed", path, l->limit,
		        WIRE_EVENTS_MAX);
	return 0;
}

static int
check_host_accept(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__HostAccept *h = msg;
	char p[PATH_MAX_LEN];

	CHECK(wire_check_id(FIELD("host_id"), h->host_id, err));
	CHECK(wire_check_count(
	        FIELD("more_host_ids"), h->n_more_host_ids, 0, WIRE_HOSTS_MAX - 1, err));
	for (size_t i = 0; i < h->n_more_host_ids; i++) {
		strbuf_printf(p, sizeof(p), "%s.more_host_ids[%zu]", path, i);
		CHECK(wire_check_id(p, h->more_host_ids[i], err));
	}
	return 0;
}

static int
check_host_revoke(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__HostRevoke *h = msg;
	char p[PATH_MAX_LEN];

	return wire_check_id(FIELD("host_id"), h->host_id, err);
}

static int
check_get_deployment(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__GetDeployment *g = msg;
	char p[PATH_MAX_LEN];

	return wire_check_id(FIELD("deployment_id"), g->deployment_id, err);
}

static int
check_get_deployment_status(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__GetDeploymentStatus *g = msg;
	char p[PATH_MAX_LEN];

	if (g->deployment_id == 0 && isempty(g->app))
		return rw_err_set(err, -EINVAL, "%s: needs deployment_id or app", path);
	if (!isempty(g->app))
		return wire_check_app(FIELD("app"), g->app, err);
	return 0;
}

static int
check_deployment_action(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__DeploymentAction *d = msg;
	char p[PATH_MAX_LEN];

	CHECK(wire_check_id(FIELD("deployment_id"), d->deployment_id, err));
	CHECK(wire_check_enum(FIELD("action"),
	        &rollwave__admin_request__deployment_action__action__descriptor, d->action, false,
	        err));
	if (d->rollback && d->action != ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__ABORT)
		return rw_err_set(err, -EINVAL, "%s.rollback: only with ABORT", path);
	return 0;
}

static int
check_rollback_app(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__RollbackApp *rb = msg;
	char p[PATH_MAX_LEN];

	CHECK(wire_check_app(FIELD("app"), rb->app, err));
	return wire_check_version(FIELD("to_version"), rb->to_version, false, err);
}

static int
check_history(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AdminRequest__History *h = msg;
	char p[PATH_MAX_LEN];

	if (!isempty(h->app))
		CHECK(wire_check_app(FIELD("app"), h->app, err));
	return wire_check_count(FIELD("limit"), h->limit, 0, WIRE_EVENTS_MAX, err);
}

struct oneof_check {
	const char *name;    /* the member's field name, for the path */
	wire_check_fn check; /* NULL: nothing to check but its presence */
};

/* AdminRequest.request_case -> its checker. */
static const struct oneof_check request_checks[] = {
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS] = {"list_hosts", check_list_hosts},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST] = {"get_host", check_get_host},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_APPS] = {"list_apps", NULL},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_EVENTS] = {"list_events", check_list_events},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_HOSTS_PENDING] = {"hosts_pending", NULL},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT] = {"host_accept", check_host_accept},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_REVOKE] = {"host_revoke", check_host_revoke},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY] = {"deploy", check_deploy_request},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK] = {"rollback", check_rollback_request},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT] = {"get_deployment",
                check_get_deployment},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_CREATE_DEPLOYMENT] = {"create_deployment",
                check_create_deployment},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT_STATUS] = {"get_deployment_status",
                check_get_deployment_status},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOYMENT_ACTION] = {"deployment_action",
                check_deployment_action},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK_APP] = {"rollback_app", check_rollback_app},
        [ROLLWAVE__ADMIN_REQUEST__REQUEST_HISTORY] = {"history", check_history},
};

/* The entry of table (n entries) for oneof case c, or NULL if it has none. */
static const struct oneof_check *
oneof_check_find(const struct oneof_check *table, size_t n, int c)
{
	if (c < 0 || (size_t)c >= n || !table[c].name)
		return NULL;
	return &table[c];
}

/* Checks the oneof member msg of entry e at path.<name>. */
static int
oneof_check_run(const struct oneof_check *e, const char *path, const void *msg, struct rw_err *err)
{
	char p[PATH_MAX_LEN];

	strbuf_printf(p, sizeof(p), "%s.%s", path, e->name);
	CHECK(wire_check_present(p, msg, err));
	return e->check ? e->check(p, msg, err) : 0;
}

int
wire_check_admin_request(const char *path, const Rollwave__AdminRequest *a, struct rw_err *err)
{
	const struct oneof_check *e;
	char p[PATH_MAX_LEN];

	CHECK(wire_check_text(FIELD("client_user"), a->client_user, WIRE_CLIENT_USER_MAX, 0, err));
	e = oneof_check_find(request_checks, ELEMENTSOF(request_checks), (int)a->request_case);
	if (!e)
		return rw_err_set(
		        err, -ENOMSG, "%s: no request, or one this version does not know", path);
	/* Every member of the oneof is a message pointer sharing one union. */
	return oneof_check_run(e, path, a->list_hosts, err);
}

/* ---- responses ---------------------------------------------------------------- */

static int
check_host_info(const char *path, const Rollwave__HostInfo *h, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = wire_check_present(path, h, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.id", path);
	if ((r = wire_check_id(p, h->id, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.hostname", path);
	if ((r = wire_check_text(p, h->hostname, WIRE_HOSTNAME_MAX, TEXT_REQUIRED, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.labels", path);
	if ((r = wire_check_labels(p, h->labels, h->n_labels, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.state", path);
	if ((r = wire_check_enum(p, &rollwave__host_state__descriptor, h->state, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.agent_version", path);
	if ((r = wire_check_version(p, h->agent_version, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.apps", path);
	if ((r = wire_check_apps(p, h->apps, h->n_apps, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.host_key", path);
	return wire_check_bytes(p, &h->host_key, WIRE_KEY_LEN, true, err);
}

static int
check_host_list(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__HostList *l = msg;
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.hosts", path);
	if ((r = wire_check_count(p, l->n_hosts, 0, WIRE_HOSTS_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < l->n_hosts; i++) {
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu]", path, i);
		if ((r = check_host_info(p, l->hosts[i], err)) < 0)
			return r;
		if (l->next_after_id && l->hosts[i]->id > l->next_after_id)
			return rw_err_set(err, -EINVAL,
			        "%s.next_after_id: %" PRIu64 " is before host %" PRIu64, path,
			        l->next_after_id, l->hosts[i]->id);
	}
	return 0;
}

static int
check_app_summary(const char *path, const Rollwave__AppSummary *a, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = wire_check_present(path, a, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = wire_check_app(p, a->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.versions", path);
	if ((r = wire_check_count(p, a->n_versions, 0, WIRE_RELEASES_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < a->n_versions; i++) {
		strbuf_printf(p, sizeof(p), "%s.versions[%zu]", path, i);
		if ((r = wire_check_present(p, a->versions[i], err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.versions[%zu].version", path, i);
		if ((r = wire_check_version(p, a->versions[i]->version, true, err)) < 0)
			return r;
	}
	return 0;
}

static int
check_app_list(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__AppList *l = msg;
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.apps", path);
	if ((r = wire_check_count(p, l->n_apps, 0, WIRE_APP_LIST_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < l->n_apps; i++) {
		strbuf_printf(p, sizeof(p), "%s.apps[%zu]", path, i);
		if ((r = check_app_summary(p, l->apps[i], err)) < 0)
			return r;
	}
	return 0;
}

static int
check_event(const char *path, const Rollwave__Event *e, struct rw_err *err)
{
	char p[PATH_MAX_LEN], q[4 * QUOTE_MAX_LEN + 8];
	int r;

	if ((r = wire_check_present(path, e, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.id", path);
	if ((r = wire_check_id(p, e->id, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.actor", path);
	if ((r = wire_check_text(p, e->actor, WIRE_ACTOR_MAX, 0, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.action", path);
	if (!wire_token_is_valid(wire_str(e->action), WIRE_ACTION_MAX))
		return rw_err_set(err, -EINVAL, "%s: invalid action '%s' (1..%d of [a-z0-9_.-])", p,
		        wire_quote(e->action, q, sizeof(q)), WIRE_ACTION_MAX);
	strbuf_printf(p, sizeof(p), "%s.target", path);
	if ((r = wire_check_text(p, e->target, WIRE_TARGET_MAX, 0, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.detail", path);
	return wire_check_text(p, e->detail, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err);
}

static int
check_event_list(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__EventList *l = msg;
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.events", path);
	if ((r = wire_check_count(p, l->n_events, 0, WIRE_EVENTS_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < l->n_events; i++) {
		strbuf_printf(p, sizeof(p), "%s.events[%zu]", path, i);
		if ((r = check_event(p, l->events[i], err)) < 0)
			return r;
	}
	return 0;
}

static int
check_deploy_result(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__DeployResult *d = msg;
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.hosts", path);
	if ((r = wire_check_count(p, d->n_hosts, 0, WIRE_HOSTS_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < d->n_hosts; i++) {
		const Rollwave__DeployResult__HostResult *h = d->hosts[i];

		strbuf_printf(p, sizeof(p), "%s.hosts[%zu]", path, i);
		if ((r = wire_check_present(p, h, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu].host_id", path, i);
		if ((r = wire_check_id(p, h->host_id, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu].reason", path, i);
		if ((r = wire_check_text(p, h->reason, WIRE_TEXT_MAX, 0, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu].state", path, i);
		if (strlen(h->state) > 64 ||
		        strspn(h->state, "abcdefghijklmnopqrstuvwxyz_") != strlen(h->state))
			return rw_err_set(err, -EINVAL, "%s: not a task state", p);
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu].phase", path, i);
		if ((r = wire_check_enum(p, &rollwave__phase__descriptor, h->phase, true, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu].error", path, i);
		if ((r = wire_check_text(p, h->error, WIRE_REPORT_TEXT_MAX, 0, err)) < 0)
			return r;
	}
	return 0;
}

static int
check_deployment_host(
        const char *path, const Rollwave__DeploymentStatus__Host *h, struct rw_err *err)
{
	char p[PATH_MAX_LEN];

	CHECK(wire_check_present(path, h, err));
	CHECK(wire_check_id(FIELD("host_id"), h->host_id, err));
	CHECK(wire_check_text(FIELD("hostname"), h->hostname, WIRE_HOSTNAME_MAX, 0, err));
	CHECK(wire_check_text(FIELD("task"), h->task, 64, 0, err));
	CHECK(wire_check_enum(FIELD("phase"), &rollwave__phase__descriptor, h->phase, true, err));
	CHECK(wire_check_text(FIELD("error"), h->error, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err));
	CHECK(wire_check_text(
	        FIELD("hook_output"), h->hook_output, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err));
	return wire_check_version(FIELD("rollback_to"), h->rollback_to, false, err);
}

static int
check_deployment_waves(
        const char *path, Rollwave__DeploymentStatus__Wave *const *w, size_t n, struct rw_err *err)
{
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];

	CHECK(wire_check_count(path, n, 0, WIRE_WAVES_MAX, err));
	for (size_t i = 0; i < n; i++) {
		strbuf_printf(q, sizeof(q), "%s[%zu]", path, i);
		const char *path_ = q;
#define WPATH(name) (strbuf_printf(p, sizeof(p), "%s." name, path_), p)
		CHECK(wire_check_present(q, w[i], err));
		CHECK(wire_check_text(
		        WPATH("name"), w[i]->name, WIRE_TEXT_MAX, TEXT_REQUIRED, err));
		CHECK(wire_check_text(WPATH("kind"), w[i]->kind, 64, TEXT_REQUIRED, err));
		CHECK(wire_check_text(WPATH("state"), w[i]->state, 64, 0, err));
		CHECK(wire_check_text(WPATH("command"), w[i]->command, WIRE_TEXT_MAX, 0, err));
		CHECK(wire_check_text(WPATH("verdict"), w[i]->verdict, WIRE_REPORT_TEXT_MAX,
		        TEXT_MULTILINE, err));
		CHECK(wire_check_count(WPATH("hosts"), w[i]->n_hosts, 0, WIRE_HOSTS_MAX, err));
		for (size_t j = 0; j < w[i]->n_hosts; j++) {
			char h[PATH_MAX_LEN];

			strbuf_printf(h, sizeof(h), "%s.hosts[%zu]", q, j);
			CHECK(check_deployment_host(h, w[i]->hosts[j], err));
		}
#undef WPATH
	}
	return 0;
}

static int
check_deployment_status(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__DeploymentStatus *d = msg;
	char p[PATH_MAX_LEN];

	CHECK(wire_check_present(path, d, err));
	CHECK(wire_check_app(FIELD("app"), d->app, err));
	/* "" for a rollback sent with --hosts to each host's previous release */
	CHECK(wire_check_version(FIELD("version"), d->version, false, err));
	CHECK(wire_check_url(FIELD("manifest_url"), d->manifest_url, false, err));
	CHECK(wire_check_text(FIELD("strategy"), d->strategy, 64, 0, err));
	CHECK(wire_check_text(FIELD("state"), d->state, 64, TEXT_REQUIRED, err));
	CHECK(wire_check_text(FIELD("step"), d->step, 64, 0, err));
	CHECK(wire_check_text(
	        FIELD("reason"), d->reason, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err));
	CHECK(wire_check_text(FIELD("actor"), d->actor, WIRE_ACTOR_MAX, 0, err));
	CHECK(wire_check_text(FIELD("params"), d->params, WIRE_PARAMS_MAX, TEXT_MULTILINE, err));
	CHECK(check_deployment_waves(FIELD("waves"), d->waves, d->n_waves, err));
	return check_deployment_waves(FIELD("rollback"), d->rollback, d->n_rollback, err);
}

static int
check_deployment_list(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__DeploymentList *l = msg;
	char p[PATH_MAX_LEN];

	CHECK(wire_check_count(FIELD("deployments"), l->n_deployments, 0, WIRE_EVENTS_MAX, err));
	for (size_t i = 0; i < l->n_deployments; i++) {
		strbuf_printf(p, sizeof(p), "%s.deployments[%zu]", path, i);
		CHECK(check_deployment_status(p, l->deployments[i], err));
	}
	return 0;
}

static int
check_ack(const char *path, const void *msg, struct rw_err *err)
{
	const Rollwave__Ack *a = msg;
	char p[PATH_MAX_LEN];

	return wire_check_text(FIELD("message"), a->message, WIRE_TEXT_MAX, 0, err);
}

static int
check_error_response(const char *path, const void *msg, struct rw_err *err)
{
	return wire_check_error(path, msg, err);
}

/* AdminResponse.response_case -> its checker. */
static const struct oneof_check response_checks[] = {
        [ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST] = {"host_list", check_host_list},
        [ROLLWAVE__ADMIN_RESPONSE__RESPONSE_APP_LIST] = {"app_list", check_app_list},
        [ROLLWAVE__ADMIN_RESPONSE__RESPONSE_EVENT_LIST] = {"event_list", check_event_list},
        [ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT] = {"deploy_result", check_deploy_result},
        [ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK] = {"ack", check_ack},
        [ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR] = {"error", check_error_response},
        [ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS] = {"deployment_status",
                check_deployment_status},
        [ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_LIST] = {"deployment_list",
                check_deployment_list},
};

int
wire_check_admin_response(const char *path, const Rollwave__AdminResponse *a, struct rw_err *err)
{
	const struct oneof_check *e;

	e = oneof_check_find(response_checks, ELEMENTSOF(response_checks), (int)a->response_case);
	if (!e)
		return rw_err_set(
		        err, -ENOMSG, "%s: no response, or one this version does not know", path);
	/* Every member of the oneof is a message pointer sharing one union. */
	return oneof_check_run(e, path, a->host_list, err);
}
