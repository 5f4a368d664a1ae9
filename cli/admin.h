/*
 * admin: the CLI's client of the coordinator's admin socket.
 *
 * One request, one reply, one connection:
 *
 *   resolve URL (--coordinator, else $ROLLWAVE_COORDINATOR, else
 *   ADMIN_DEFAULT_URL; for tls+tcp:// the CA from --ca, else $ROLLWAVE_CA)
 *     --> req0 socket (NNG_OPT_RECVMAXSZ = WIRE_MAX_MESSAGE, send and receive
 *         timeouts ADMIN_TIMEOUT_MS, no automatic resend)
 *     --> blocking dial, so a coordinator that is not there is an error now
 *     --> Envelope{WIRE_PROTOCOL_VERSION, random message_id, admin_request}
 *     --> reply through wire_decode(): same message_id, body admin_response
 *         of the expected kind; an Error body or AdminResponse.error is the
 *         coordinator's refusal and its message becomes the error.
 *
 * Only ipc:// (the socket's file permissions decide who is an admin) and
 * tls+tcp:// (server certificate checked against the CA, server name = the
 * URL's host) are accepted: plain tcp:// would make anyone on the network an
 * admin.
 *
 * admin_call() and the parsers do not log; cli_admin_call() is the verbs'
 * wrapper that logs the one-line reason and returns an exit code.
 */
#ifndef ROLLWAVE_CLI_ADMIN_H
#define ROLLWAVE_CLI_ADMIN_H

#include "rollwave.pb-c.h"
#include "util.h"

#define ADMIN_DEFAULT_URL "ipc:///run/rollwave/admin.sock"
#define ADMIN_ENV_URL     "ROLLWAVE_COORDINATOR"
#define ADMIN_ENV_CA      "ROLLWAVE_CA"
#define ADMIN_ENV_CERT    "ROLLWAVE_CERT"
#define ADMIN_TIMEOUT_MS  10000
#define ADMIN_URL_MAX     1024

struct admin_target {
	char url[ADMIN_URL_MAX];
	char server_name[256]; /* tls+tcp:// only: the host part of url */
	const char *ca;        /* tls+tcp:// only: CA file; borrowed */
	const char *cert;      /* tls+tcp:// only: the admin's certificate and key
	                        * (one PEM file, `rollwave-coordinator admin-cert`);
	                        * $ROLLWAVE_CERT unless set after resolving */
	bool tls;
};

/* Fills *ret from opt_url (may be NULL: then $ROLLWAVE_COORDINATOR, else
 * ADMIN_DEFAULT_URL) and opt_ca (may be NULL: then $ROLLWAVE_CA). -EINVAL
 * with err saying why for a URL that is neither ipc://PATH nor
 * tls+tcp://HOST:PORT, or a tls+tcp:// URL without a CA. ret->ca borrows
 * opt_ca or the environment. */
int admin_target_resolve(
        const char *opt_url, const char *opt_ca, struct admin_target *ret, struct rw_err *err);

/* Sends req to the coordinator at t and waits (at most ADMIN_TIMEOUT_MS) for
 * its AdminResponse, which must be of case expect. On success *ret owns the
 * decoded reply (wire_free()); (*ret)->admin_response is the response.
 * Errors, each with err as the one line to show:
 *   -ECONNREFUSED, -ENOENT  nobody listens at t->url
 *   -EACCES                 no permission on the ipc socket (not an admin)
 *   -ETIMEDOUT              no reply in time
 *   -EREMOTEIO              the coordinator refused the request (its message)
 *   -EBADMSG, -EPROTO       the reply is not a valid answer to req
 *   -EINVAL                 req would be refused (a field out of bounds)
 *   other -errno            nng or TLS failures */
int admin_call(const struct admin_target *t, const Rollwave__AdminRequest *req,
        Rollwave__AdminResponse__ResponseCase expect, Rollwave__Envelope **ret, struct rw_err *err);

/* A host list gathered page by page (ListHosts / HostsPending are paged,
 * docs/protocol.md): list.hosts point into the pages' replies. */
struct host_pages {
	Rollwave__HostList list;
	Rollwave__Envelope **pages;
	size_t n_pages;
};

/* Asks for every page of ListHosts{selector} (or HostsPending when pending)
 * and gathers them into *ret, in id order. Errors as admin_call(), plus
 * -EPROTO for pages that do not move forward. */
int admin_list_hosts(const struct admin_target *t, const char *selector, bool pending,
        struct host_pages *ret, struct rw_err *err);
void host_pages_done(struct host_pages *p);

/* Checks a host selector "k=v,k2=v2" (AND of label equalities; "" is every
 * host): keys 1..63 of [a-z0-9_.-], values <= 255 bytes without ',' or
 * control characters, no key twice. -EINVAL with err otherwise. The
 * coordinator does the filtering; this only catches typos early. */
int admin_selector_check(const char *selector, struct rw_err *err);

/* Parses --since: a duration back from now_ms ("90s", "2h", "7d") or a UTC
 * timestamp "2026-05-01T10:00:00Z". *ret_since_ms is the start, in ms of
 * realtime (>= 1). -EINVAL otherwise. */
int admin_since_parse(const char *s, uint64_t now_ms, uint64_t *ret_since_ms);

/* Parses a host id (a decimal integer > 0). -EINVAL otherwise. */
int admin_host_id_parse(const char *s, uint64_t *ret_id);

/* The global options before the verb (main.c sets them); NULL when not
 * given. */
struct cli_admin_options {
	const char *coordinator; /* --coordinator URL */
	const char *ca;          /* --ca FILE */
	const char *cert;        /* --cert FILE */
};
extern struct cli_admin_options cli_admin_options;

/* For the verbs: resolves the target from cli_admin_options, calls
 * admin_call() and logs the reason on failure ("<subject>: <refusal>" when
 * the coordinator refused and subject is not NULL, e.g. "host 42: no such
 * host"). Returns CLI_EXIT_OK with *ret set, CLI_EXIT_USAGE for a bad
 * coordinator URL, CLI_EXIT_FAILURE otherwise. */
int cli_admin_call(const Rollwave__AdminRequest *req, Rollwave__AdminResponse__ResponseCase expect,
        const char *subject, Rollwave__Envelope **ret);

/* admin_target_resolve() with the global options (--coordinator, --ca,
 * --cert). */
int cli_admin_target(struct admin_target *t, struct rw_err *err);

/* admin_list_hosts() for the verbs, logging like cli_admin_call(). */
int cli_admin_list_hosts(const char *selector, bool pending, struct host_pages *ret);

/* Prints json (stolen) to stdout as one document and a newline. Returns an
 * exit code (CLI_EXIT_FAILURE when json is NULL or stdout fails). */
struct json_t;
int cli_json_print(struct json_t *json);

/* Realtime now in milliseconds. */
uint64_t cli_now_ms(void);

#endif
