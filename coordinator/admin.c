/*
 * admin: the coordinator's admin socket (AdminSocket=), served by one
 * thread. Who may use an ipc:// socket is decided by its file permissions;
 * every action is written to the audit log with the asking user.
 *
 * Each request is decoded here, counted by type (and, when refused, by
 * error code) for the metrics, and answered by the handler the dispatch
 * table below names for its case: admin_hosts.c and admin_deploy.c, and
 * waves_admin() for the deployments through waves.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/transport/ipc/ipc.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/stat.h>

#include "admin_private.h"
#include "tlsprefs.h"

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

/* The one call into the deployments through waves: CreateDeployment,
 * GetDeploymentStatus, DeploymentAction, RollbackApp and History. */
static nng_msg *
admin_waves(const struct admin_call *c)
{
	Rollwave__AdminResponse *resp = NULL;
	struct rw_err err = {{0}};
	int r = waves_admin(c->s->waves, c->req, c->actor, c->a, &resp, &err);

	return r >= 0 ? admin_reply(c->msgid, resp)
	              : admin_error(c->msgid, waves_error_code(r), err.msg);
}

static const struct {
	Rollwave__AdminRequest__RequestCase request;
	nng_msg *(*handle)(const struct admin_call *c);
} handlers[] = {
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS, admin_hosts_list},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST, admin_hosts_list},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_HOSTS_PENDING, admin_hosts_list},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT, admin_host_accept},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_REVOKE, admin_host_revoke},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_EVENTS, admin_events_list},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY, admin_deploy_hosts},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK, admin_rollback_hosts},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT, admin_deployment_get},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_APPS, admin_apps_list},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_CREATE_DEPLOYMENT, admin_waves},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT_STATUS, admin_waves},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOYMENT_ACTION, admin_waves},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK_APP, admin_waves},
        {ROLLWAVE__ADMIN_REQUEST__REQUEST_HISTORY, admin_waves},
};

static nng_msg *
dispatch(const struct admin_call *c)
{
	for (size_t i = 0; i < ELEMENTSOF(handlers); i++)
		if (handlers[i].request == c->req->request_case)
			return handlers[i].handle(c);
	return admin_error(c->msgid, ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE,
	        "this coordinator does not handle that request");
}

/* The reply to a request that did not decode, counted as undecodable. */
static nng_msg *
undecodable(struct admin *s, nng_msg *req, int r, const struct rw_err *err)
{
	_cleanup_free_ void *buf = NULL;
	nng_msg *reply;
	size_t len;

	stat_inc(&s->reqs[0]);
	stat_inc(&s->refused[0][stat_slot((int)wire_error_code_from_errno(r), COUNTER_CODES)]);
	if (wire_error_reply(wire_peek_message_id(nng_msg_body(req), nng_msg_len(req)), r, err->msg,
	            &buf, &len) < 0 ||
	        nng_msg_alloc(&reply, 0) != 0)
		return NULL;
	nng_msg_append(reply, buf, len);
	return reply;
}

static nng_msg *
handle_admin(struct admin *s, nng_msg *req)
{
	_cleanup_wire_free_ Rollwave__Envelope *env = NULL;
	struct rw_err err = {{0}};
	struct arena a = {0};
	char actor[128];
	nng_msg *reply;
	size_t type;
	int r;

	admin_reply_begin(s, 0);
	r = wire_decode(nng_msg_body(req), nng_msg_len(req), &env, &err);
	if (r < 0)
		return undecodable(s, req, r, &err);
	if (env->body_case != ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST) {
		stat_inc(&s->reqs[0]);
		stat_inc(&s->refused[0][ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE]);
		return error_msg(env->message_id, ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE,
		        "the admin socket takes admin requests, not '%s'",
		        wire_body_name(env->body_case));
	}
	admin_actor(req, env->admin_request->client_user, actor, sizeof(actor));
	type = stat_slot((int)env->admin_request->request_case, COUNTER_TYPES);
	admin_reply_begin(s, type);
	stat_inc(&s->reqs[type]);
	reply = dispatch(&(struct admin_call) {
	        .s = s,
	        .msgid = env->message_id,
	        .req = env->admin_request,
	        .actor = actor,
	        .a = &a,
	});
	arena_free(&a);
	return reply;
}

static void *
admin_main(void *arg)
{
	struct admin *s = arg;

	while (!s->stopping) {
		nng_msg *req = NULL, *reply;
		int rv = nng_recvmsg(s->sock, &req, 0);

		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		reply = handle_admin(s, req);
		nng_msg_free(req);
		if (reply && nng_sendmsg(s->sock, reply, 0) != 0)
			nng_msg_free(reply);
	}
	return NULL;
}

static int
admin_listen(struct admin *s, struct rw_err *err)
{
	const char *url = s->cfg->admin_socket;
	nng_listener l;
	int rv;

	rv = nng_rep0_open(&s->sock);
	if (rv != 0)
		return rw_nng_error(err, rv, "cannot open the admin socket", url);
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE);
	nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, 500);
	nng_socket_set_ms(s->sock, NNG_OPT_SENDTIMEO, 5000);
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
	rv = nng_listener_create(&l, s->sock, url);
	if (rv == 0 && strncmp(url, "ipc://", 6) == 0)
		/* Who may use it is decided by file permissions: owner and group. */
		(void)nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0660);
	if (rv == 0 && strncmp(url, "tls+tcp://", 10) == 0) {
		/* Admins over the network must show a client certificate signed
		 * by our CA (rollwave-coordinator admin-cert). */
		rv = tlsprefs_config_alloc(&s->tls, NNG_TLS_MODE_SERVER);
		if (rv == 0)
			rv = nng_tls_config_cert_key_file(s->tls, s->cfg->tls_certificate, NULL);
		if (rv != 0)
			return rw_err_set(err, -EIO, "TLS certificate %s: %s",
			        s->cfg->tls_certificate, nng_strerror(rv));
		rv = nng_tls_config_ca_file(s->tls, s->cfg->tls_ca);
		if (rv != 0)
			return rw_err_set(err, -EIO,
			        "TLS CA %s (admins' certificates are checked "
			        "against it): %s",
			        s->cfg->tls_ca, nng_strerror(rv));
		rv = nng_tls_config_auth_mode(s->tls, NNG_TLS_AUTH_MODE_REQUIRED);
		if (rv == 0)
			rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, s->tls);
	}
	if (rv == 0)
		rv = nng_listener_start(l, 0);
	if (rv != 0)
		return rw_nng_error(err, rv, "cannot listen on", url);
	if (pthread_create(&s->thread, NULL, admin_main, s) != 0)
		return rw_err_set(err, -EAGAIN, "cannot start the admin thread");
	s->running = true;
	return 0;
}

int
admin_start(const struct admin_config *c, struct admin **ret, struct rw_err *err)
{
	struct admin *s = calloc(1, sizeof(*s));

	if (!s)
		return rw_err_set(err, -ENOMEM, "out of memory");
	s->cfg = c->cfg;
	s->db = c->db;
	s->fleet = c->fleet;
	s->waves = c->waves;
	*ret = s;
	return admin_listen(s, err);
}

void
admin_stop(struct admin *s)
{
	if (!s)
		return;
	s->stopping = true;
	if (s->running)
		pthread_join(s->thread, NULL);
	nng_close(s->sock);
	if (s->tls)
		nng_tls_config_free(s->tls);
	free(s);
}

void
admin_stats(struct admin *s, struct admin_stats *ret)
{
	stat_copy(ret->reqs, s->reqs, COUNTER_TYPES);
	stat_copy(&ret->refused[0][0], &s->refused[0][0], COUNTER_TYPES * COUNTER_CODES);
}
