/*
 * wire_agent: checks of the messages between agent and coordinator (Hello,
 * Challenge, Auth, Welcome, Heartbeat, Command, CommandAck, PhaseReport).
 * wire_validate() calls them with path "envelope.<body>" and a non-NULL body.
 */
#include "wire_private.h"

static int
check_host_facts(const char *path, const Rollwave__HostFacts *f, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = wire_check_present(path, f, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.hostname", path);
	if ((r = wire_check_text(p, f->hostname, WIRE_HOSTNAME_MAX, TEXT_REQUIRED, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.labels", path);
	if ((r = wire_check_labels(p, f->labels, f->n_labels, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.agent_version", path);
	if ((r = wire_check_version(p, f->agent_version, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.apps", path);
	return wire_check_apps(p, f->apps, f->n_apps, err);
}

int
wire_check_hello(const char *path, const Rollwave__Hello *h, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.host_key", path);
	if ((r = wire_check_bytes(p, &h->host_key, WIRE_KEY_LEN, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.join_token", path);
	if ((r = wire_check_text(p, h->join_token, WIRE_JOIN_TOKEN_MAX, 0, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.facts", path);
	return check_host_facts(p, h->facts, err);
}

int
wire_check_welcome(const char *path, const Rollwave__Welcome *w, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.host_id", path);
	if ((r = wire_check_id(p, w->host_id, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.coordinator_key", path);
	if ((r = wire_check_bytes(p, &w->coordinator_key, WIRE_KEY_LEN, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.state", path);
	return wire_check_enum(p, &rollwave__host_state__descriptor, w->state, false, err);
}

static int
check_must_be_empty(const char *path, const char *s, const char *why, struct rw_err *err)
{
	if (!isempty(s))
		return rw_err_set(err, -EINVAL, "%s: must be empty %s", path, why);
	return 0;
}

int
wire_check_command(const char *path, const Rollwave__Command *c, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	bool deploy, with_version, rollback, cancel;
	int r;

	if (c->command_id == 0)
		return rw_err_set(err, -EINVAL, "%s.command_id: must be > 0", path);
	if (c->issued_at_ms == 0)
		return rw_err_set(err, -EINVAL, "%s.issued_at_ms: must be > 0", path);
	strbuf_printf(p, sizeof(p), "%s.kind", path);
	if ((r = wire_check_enum(p, &rollwave__command__kind__descriptor, c->kind, false, err)) < 0)
		return r;
	if (c->host_id == 0)
		return rw_err_set(err, -EINVAL, "%s.host_id: must be > 0", path);
	/* What each kind needs: a version (and the manifest to fetch it), a
	 * rollback target, or the command to cancel. */
	deploy = c->kind == ROLLWAVE__COMMAND__KIND__DEPLOY ||
	        c->kind == ROLLWAVE__COMMAND__KIND__MIGRATE ||
	        c->kind == ROLLWAVE__COMMAND__KIND__PREFLIGHT;
	with_version = deploy || c->kind == ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN;
	rollback = c->kind == ROLLWAVE__COMMAND__KIND__ROLLBACK;
	cancel = c->kind == ROLLWAVE__COMMAND__KIND__CANCEL;
	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = wire_check_app(p, c->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.version", path);
	r = with_version
	        ? wire_check_version(p, c->version, true, err)
	        : check_must_be_empty(p, c->version,
	                  "unless kind is DEPLOY, MIGRATE, MIGRATE_DOWN or PREFLIGHT", err);
	if (r < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.manifest_url", path);
	r = deploy ? wire_check_url(p, c->manifest_url, true, err)
	           : check_must_be_empty(p, c->manifest_url,
	                     "unless kind is DEPLOY, MIGRATE or PREFLIGHT", err);
	if (r < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.to_version", path);
	r = rollback ? wire_check_version(p, c->to_version, false, err)
	             : check_must_be_empty(p, c->to_version, "unless kind is ROLLBACK", err);
	if (r < 0)
		return r;
	if (cancel && c->cancel_command_id == 0)
		return rw_err_set(err, -EINVAL, "%s.cancel_command_id: must be > 0", path);
	if (!cancel && c->cancel_command_id != 0)
		return rw_err_set(err, -EINVAL,
		        "%s.cancel_command_id: must be 0 unless kind is CANCEL", path);
	strbuf_printf(p, sizeof(p), "%s.signature", path);
	return wire_check_bytes(p, &c->signature, WIRE_SIGNATURE_LEN, true, err);
}

int
wire_check_phase_report(const char *path, const Rollwave__PhaseReport *t, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = wire_check_app(p, t->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.version", path);
	if ((r = wire_check_version(p, t->version, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.phase", path);
	if ((r = wire_check_enum(p, &rollwave__phase__descriptor, t->phase, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.error", path);
	if ((r = wire_check_text(p, t->error, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.hook_output", path);
	return wire_check_text(p, t->hook_output, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err);
}

int
wire_check_challenge(const char *path, const Rollwave__Challenge *c, struct rw_err *err)
{
	char p[PATH_MAX_LEN];

	CHECK(wire_check_bytes(FIELD("nonce"), &c->nonce, WIRE_NONCE_LEN, true, err));
	return wire_check_bytes(
	        FIELD("coordinator_key"), &c->coordinator_key, WIRE_KEY_LEN, true, err);
}

int
wire_check_auth(const char *path, const Rollwave__Auth *a, struct rw_err *err)
{
	char p[PATH_MAX_LEN];

	return wire_check_bytes(FIELD("signature"), &a->signature, WIRE_SIGNATURE_LEN, true, err);
}

int
wire_check_heartbeat(const char *path, const Rollwave__Heartbeat *h, struct rw_err *err)
{
	char p[PATH_MAX_LEN];

	return wire_check_apps(FIELD("apps"), h->apps, h->n_apps, err);
}

int
wire_check_command_ack(const char *path, const Rollwave__CommandAck *a, struct rw_err *err)
{
	char p[PATH_MAX_LEN];

	if (a->command_id == 0)
		return rw_err_set(err, -EINVAL, "%s.command_id: must be > 0", path);
	return wire_check_text(FIELD("reason"), a->reason, WIRE_TEXT_MAX, 0, err);
}
