/*
 * admin_private: what the admin socket's files share. Not an API: admin.c
 * serves AdminSocket= (one thread), decodes each request and looks its
 * handler up in one dispatch table; admin_hosts.c and admin_deploy.c hold
 * the handlers, and admin_reply.c the replies they build. The deployment requests go to waves_admin() through one
 * adapter in admin.c.
 *
 * Every handler runs on the admin thread, answers exactly one request and
 * returns its reply (never NULL: admin_error() when it refuses, which also
 * counts the refusal for the metrics). What a handler allocates for the
 * reply lives in c->a until the reply is packed.
 */
#ifndef ROLLWAVE_COORDINATOR_ADMIN_PRIVATE_H
#define ROLLWAVE_COORDINATOR_ADMIN_PRIVATE_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>

#include "admin.h"
#include "envelope.h"

struct admin {
	const struct coordinator_config *cfg;
	struct db *db;
	struct fleet *fleet;
	struct waves *waves;
	nng_socket sock;
	nng_tls_config *tls;
	pthread_t thread;
	bool running;
	volatile bool stopping;
	uint64_t reqs[COUNTER_TYPES];
	uint64_t refused[COUNTER_TYPES][COUNTER_CODES];
};

struct admin_call {
	struct admin *s;
	uint64_t msgid;
	const Rollwave__AdminRequest *req;
	const char *actor; /* who asked, for the audit log */
	struct arena *a;
};

/* ---- admin_reply.c ---- */
/* The request the admin thread serves now, of type (a request case), for
 * the counts of admin_error(). */
void admin_reply_begin(struct admin *s, size_t type);
/* An AdminResponse (or, refused, its Error) as the reply to msgid; for the
 * admin thread only (errors are counted per request). */
nng_msg *admin_reply(uint64_t msgid, Rollwave__AdminResponse *resp);
nng_msg *admin_error(uint64_t msgid, Rollwave__Error__Code code, const char *message);

/* ---- admin_hosts.c ---- */
/* ListHosts, GetHost and HostsPending: a page of the host registry, with
 * the in-memory state and last-seen times. */
nng_msg *admin_hosts_list(const struct admin_call *c);
nng_msg *admin_host_accept(const struct admin_call *c);
nng_msg *admin_host_revoke(const struct admin_call *c);
/* ListApps: per app, how many hosts report it and run each version. */
nng_msg *admin_apps_list(const struct admin_call *c);

/* ---- admin_deploy.c ---- */
/* Deploy and Rollback with --hosts: one command to each host, at once. */
nng_msg *admin_deploy_hosts(const struct admin_call *c);
nng_msg *admin_rollback_hosts(const struct admin_call *c);
/* GetDeployment: the tasks of a deployment sent with --hosts. */
nng_msg *admin_deployment_get(const struct admin_call *c);
/* ListEvents: the newest entries of the audit log. */
nng_msg *admin_events_list(const struct admin_call *c);

#endif
