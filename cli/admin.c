/*
 * admin: the CLI's client of the coordinator's admin socket (see admin.h).
 */
#include <inttypes.h>
#include <jansson.h>
#include <pwd.h>
#include <unistd.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <sodium.h>

#include "tlsprefs.h"
#include "admin.h"
#include "cli.h"
#include "log.h"
#include "wire.h"

#define IPC_PATH_MAX 107 /* sizeof(sockaddr_un.sun_path) - 1 */

struct cli_admin_options cli_admin_options;

static bool
startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "HOST:PORT" or "[V6]:PORT" into the host part; -EINVAL if malformed. */
static int
tls_server_name(const char *hostport, char *buf, size_t size)
{
	const char *host = hostport, *host_end, *port;
	uint64_t p;

	if (*host == '[') {
		host++;
		host_end = strchr(host, ']');
		if (!host_end || host_end[1] != ':')
			return -EINVAL;
		port = host_end + 2;
	} else {
		host_end = strrchr(host, ':');
		if (!host_end)
			return -EINVAL;
		port = host_end + 1;
	}
	if (host_end == host || (size_t)(host_end - host) >= size)
		return -EINVAL;
	for (const char *c = host; c < host_end; c++)
		if (*c <= ' ' || *c == '/' || *c == '@' || *c == 0x7f)
			return -EINVAL;
	if (parse_uint64(port, &p) < 0 || p == 0 || p > 65535)
		return -EINVAL;
	memcpy(buf, host, (size_t)(host_end - host));
	buf[host_end - host] = '\0';
	return 0;
}

int
admin_target_resolve(
        const char *opt_url, const char *opt_ca, struct admin_target *ret, struct rw_err *err)
{
	struct admin_target t = {.tls = false};
	const char *url = opt_url, *ca = opt_ca;

	if (isempty(url))
		url = getenv(ADMIN_ENV_URL);
	if (isempty(url))
		url = ADMIN_DEFAULT_URL;
	if (isempty(ca))
		ca = getenv(ADMIN_ENV_CA);
	if (strlen(url) >= sizeof(t.url))
		return rw_err_set(err, -EINVAL, "coordinator URL too long");
	strcpy(t.url, url);
	if (startswith(url, "ipc://")) {
		const char *path = url + strlen("ipc://");

		if (!*path)
			return rw_err_set(
			        err, -EINVAL, "coordinator URL '%s' has no socket path", url);
		if (strlen(path) > IPC_PATH_MAX)
			return rw_err_set(err, -EINVAL,
			        "coordinator URL '%s': socket path longer than %d bytes", url,
			        IPC_PATH_MAX);
	} else if (startswith(url, "tls+tcp://")) {
		if (tls_server_name(
		            url + strlen("tls+tcp://"), t.server_name, sizeof(t.server_name)) < 0)
			return rw_err_set(err, -EINVAL,
			        "coordinator URL '%s' is not tls+tcp://HOST:PORT", url);
		if (isempty(ca))
			return rw_err_set(err, -EINVAL,
			        "coordinator URL '%s' needs the CA that signed its certificate: "
			        "--ca FILE or $%s",
			        url, ADMIN_ENV_CA);
		t.tls = true;
		t.ca = ca;
		t.cert = getenv(ADMIN_ENV_CERT);
	} else if (startswith(url, "tcp://")) {
		return rw_err_set(err, -EINVAL,
		        "coordinator URL '%s': plain tcp:// is not accepted for the admin "
		        "socket (anyone could be an admin); use ipc://PATH or tls+tcp://HOST:PORT",
		        url);
	} else {
		return rw_err_set(err, -EINVAL,
		        "coordinator URL '%s' is neither ipc://PATH nor tls+tcp://HOST:PORT", url);
	}
	*ret = t;
	return 0;
}

static int
errno_from_nng(int rv)
{
	if (rv & NNG_ESYSERR)
		return -(rv & ~NNG_ESYSERR);
	switch (rv) {
	case NNG_ECONNREFUSED:
		return -ECONNREFUSED;
	case NNG_ENOENT:
		return -ENOENT;
	case NNG_EPERM:
		return -EACCES;
	case NNG_ETIMEDOUT:
		return -ETIMEDOUT;
	case NNG_ENOMEM:
		return -ENOMEM;
	case NNG_ECRYPTO:
	case NNG_EPEERAUTH:
		return -EPROTO;
	case NNG_ECLOSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECONNABORTED:
		return -ECONNRESET;
	case NNG_EUNREACHABLE:
		return -EHOSTUNREACH;
	case NNG_EADDRINVAL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* nng's error as text, in the words of strerror() where there is one. */
static const char *
nng_error_text(int rv)
{
	int r = errno_from_nng(rv);

	return r == -EIO || r == -EPROTO ? nng_strerror(rv) : strerror(-r);
}

static int
dial_error(const struct admin_target *t, int rv, struct rw_err *err)
{
	int r = errno_from_nng(rv);

	switch (r) {
	case -ECONNREFUSED:
	case -ENOENT:
		return rw_err_set(err, r,
		        "cannot reach the coordinator at %s: %s (is rollwave-coordinator running? "
		        "set --coordinator or $%s)",
		        t->url, strerror(-r), ADMIN_ENV_URL);
	case -EACCES:
		return rw_err_set(err, r,
		        "permission denied on %s: only admins may use the admin socket", t->url);
	case -EINVAL:
		return rw_err_set(err, r,
		        "cannot reach the coordinator at %s: unknown host name or invalid address",
		        t->url);
	case -EPROTO:
		return rw_err_set(err, r,
		        "TLS handshake with %s failed: %s (does %s hold the CA that signed the "
		        "coordinator's certificate for '%s'?)",
		        t->url, nng_strerror(rv), t->ca, t->server_name);
	default:
		return rw_err_set(err, r, "cannot reach the coordinator at %s: %s", t->url,
		        nng_error_text(rv));
	}
}

static int
socket_open(
        const struct admin_target *t, nng_socket *ret, nng_tls_config **ret_cfg, struct rw_err *err)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	nng_dialer d = NNG_DIALER_INITIALIZER;
	nng_tls_config *cfg = NULL;
	int rv;

	rv = nng_req0_open(&s);
	if (rv != 0)
		return rw_err_set(
		        err, errno_from_nng(rv), "cannot open a req socket: %s", nng_strerror(rv));
	/* Admin requests are not all idempotent: never resend one by itself. */
	if ((rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE)) != 0 ||
	        (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, ADMIN_TIMEOUT_MS)) != 0 ||
	        (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, ADMIN_TIMEOUT_MS)) != 0 ||
	        (rv = nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	        (rv = nng_dialer_create(&d, s, t->url)) != 0 ||
	        (rv = nng_dialer_set_size(d, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE)) != 0) {
		rw_err_set(err, errno_from_nng(rv), "cannot set up a connection to %s: %s", t->url,
		        nng_strerror(rv));
		goto fail;
	}
	if (t->tls) {
		if ((rv = tlsprefs_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0 ||
		        (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
		        (rv = nng_tls_config_server_name(cfg, t->server_name)) != 0) {
			rw_err_set(
			        err, errno_from_nng(rv), "cannot set up TLS: %s", nng_strerror(rv));
			goto fail;
		}
		rv = nng_tls_config_ca_file(cfg, t->ca);
		if (rv != 0) {
			rw_err_set(err, errno_from_nng(rv), "cannot load the CA file %s: %s", t->ca,
			        nng_error_text(rv));
			goto fail;
		}
		if (isempty(t->cert)) {
			rw_err_set(err, -EINVAL,
			        "%s needs your admin certificate: --cert FILE or $%s (made by "
			        "'rollwave-coordinator admin-cert')",
			        t->url, ADMIN_ENV_CERT);
			rv = NNG_EINVAL;
			goto fail;
		}
		rv = nng_tls_config_cert_key_file(cfg, t->cert, NULL);
		if (rv != 0) {
			rw_err_set(err, errno_from_nng(rv),
			        "cannot load the admin certificate and key %s: %s", t->cert,
			        nng_error_text(rv));
			goto fail;
		}
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
		if (rv != 0) {
			rw_err_set(
			        err, errno_from_nng(rv), "cannot set up TLS: %s", nng_strerror(rv));
			goto fail;
		}
	}
	/* Blocking: a coordinator that is not there is an error now, not a
	 * timeout later. */
	rv = nng_dialer_start(d, 0);
	if (rv != 0) {
		dial_error(t, rv, err);
		goto fail;
	}
	*ret = s;
	*ret_cfg = cfg;
	return 0;
fail:
	nng_close(s);
	if (cfg)
		nng_tls_config_free(cfg);
	return rv == NNG_ENOMEM ? -ENOMEM : errno_from_nng(rv);
}

static const char *
error_code_name(Rollwave__Error__Code c)
{
	switch (c) {
	case ROLLWAVE__ERROR__CODE__VERSION:
		return "protocol version mismatch";
	case ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE:
		return "unknown request";
	case ROLLWAVE__ERROR__CODE__INVALID:
		return "invalid request";
	case ROLLWAVE__ERROR__CODE__UNAUTHORIZED:
		return "unauthorized";
	case ROLLWAVE__ERROR__CODE__PENDING:
		return "pending";
	case ROLLWAVE__ERROR__CODE__REVOKED:
		return "revoked";
	case ROLLWAVE__ERROR__CODE__INTERNAL:
		return "internal error";
	case ROLLWAVE__ERROR__CODE__BUSY:
		return "busy, try again later";
	default:
		return "error";
	}
}

/* Checks a decoded reply against the request it answers. */
static int
reply_check(const Rollwave__Envelope *reply, uint64_t message_id,
        Rollwave__AdminResponse__ResponseCase expect, struct rw_err *err)
{
	const Rollwave__AdminResponse *resp;

	if (reply->message_id != message_id)
		return rw_err_set(err, -EPROTO,
		        "the coordinator answered another request (message id %llu, expected %llu)",
		        (unsigned long long)reply->message_id, (unsigned long long)message_id);
	if (reply->body_case == ROLLWAVE__ENVELOPE__BODY_ERROR) {
		const Rollwave__Error *e = reply->error;

		if (isempty(e->message))
			return rw_err_set(err, -EREMOTEIO,
			        "the coordinator refused the request: %s",
			        error_code_name(e->code));
		return rw_err_set(err, -EREMOTEIO, "the coordinator refused the request (%s): %s",
		        error_code_name(e->code), e->message);
	}
	if (reply->body_case != ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE)
		return rw_err_set(err, -EPROTO, "the coordinator answered with a '%s' message",
		        wire_body_name(reply->body_case));
	resp = reply->admin_response;
	if (resp->response_case == ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR) {
		const Rollwave__Error *e = resp->error;

		return rw_err_set(err, -EREMOTEIO, "%s",
		        isempty(e->message) ? error_code_name(e->code) : e->message);
	}
	if (resp->response_case != expect)
		return rw_err_set(err, -EPROTO,
		        "the coordinator answered with another kind of response (%d, expected %d)",
		        (int)resp->response_case, (int)expect);
	return 0;
}

/* "user@host" for AdminRequest.client_user: printable ASCII only, cut to
 * WIRE_CLIENT_USER_MAX bytes. */
static void
client_user(char *buf, size_t size)
{
	const struct passwd *pw = getpwuid(getuid());
	char host[256] = "";

	(void)gethostname(host, sizeof(host) - 1);
	strbuf_printf(buf, size, "%s@%s", pw ? pw->pw_name : "?", host);
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			*c = '?';
}

int
admin_call(const struct admin_target *t, const Rollwave__AdminRequest *req,
        Rollwave__AdminResponse__ResponseCase expect, Rollwave__Envelope **ret, struct rw_err *err)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__Envelope *reply = NULL;
	nng_socket s = NNG_SOCKET_INITIALIZER;
	nng_tls_config *cfg = NULL;
	_cleanup_free_ void *buf = NULL;
	char *rbuf = NULL;
	size_t len = 0, rlen = 0;
	struct rw_err derr = {""};
	Rollwave__AdminRequest areq;
	char user[WIRE_CLIENT_USER_MAX + 1];
	uint64_t id = 0;
	int r, rv;

	while (id == 0)
		randombytes_buf(&id, sizeof(id));
	env.protocol_version = WIRE_PROTOCOL_VERSION;
	env.message_id = id;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST;
	areq = *req;
	client_user(user, sizeof(user));
	areq.client_user = user;
	env.admin_request = &areq;
	r = wire_validate(&env, err);
	if (r < 0)
		return rw_err_prefix(err, -EINVAL, "the request would be refused");
	r = wire_encode(&env, &buf, &len);
	if (r < 0)
		return rw_err_set(err, r, "cannot encode the request: %s", strerror(-r));

	r = socket_open(t, &s, &cfg, err);
	if (r < 0)
		return r;
	rv = nng_send(s, buf, len, 0);
	if (rv != 0) {
		r = rw_err_set(err, errno_from_nng(rv), "cannot send the request to %s: %s", t->url,
		        nng_strerror(rv));
		goto out;
	}
	rv = nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC);
	if (rv == NNG_ETIMEDOUT) {
		r = rw_err_set(err, -ETIMEDOUT, "the coordinator at %s did not answer within %d s",
		        t->url, ADMIN_TIMEOUT_MS / 1000);
		goto out;
	}
	if (rv != 0) {
		r = rw_err_set(err, errno_from_nng(rv), "no answer from the coordinator at %s: %s",
		        t->url, nng_strerror(rv));
		goto out;
	}
	r = wire_decode(rbuf, rlen, &reply, &derr);
	if (r < 0) {
		r = rw_err_set(
		        err, -EBADMSG, "the coordinator's reply cannot be read: %s", derr.msg);
		goto out;
	}
	r = reply_check(reply, id, expect, err);
	if (r < 0)
		goto out;
	*ret = TAKE_PTR(reply);
	r = 0;
out:
	wire_free(reply);
	if (rbuf)
		nng_free(rbuf, rlen);
	nng_close(s);
	if (cfg)
		nng_tls_config_free(cfg);
	return r;
}

static bool
label_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

int
admin_selector_check(const char *selector, struct rw_err *err)
{
	const char *keys[WIRE_LABELS_MAX];
	size_t key_lens[WIRE_LABELS_MAX];
	size_t n = 0;
	const char *p = selector;

	if (strlen(selector) > WIRE_TEXT_MAX)
		return rw_err_set(err, -EINVAL, "selector longer than %d bytes", WIRE_TEXT_MAX);
	if (!*p)
		return 0;
	for (;;) {
		const char *item = p, *eq, *end;
		size_t klen;

		end = strchrnul(item, ',');
		if (end == item)
			return rw_err_set(err, -EINVAL, "empty item in selector '%s'", selector);
		eq = memchr(item, '=', (size_t)(end - item));
		if (!eq)
			return rw_err_set(err, -EINVAL, "selector item '%.*s' is not key=value",
			        (int)(end - item), item);
		klen = (size_t)(eq - item);
		if (klen == 0 || klen > WIRE_LABEL_KEY_MAX)
			return rw_err_set(err, -EINVAL,
			        "selector item '%.*s': a label key has 1 to %d characters",
			        (int)(end - item), item, WIRE_LABEL_KEY_MAX);
		for (const char *c = item; c < eq; c++)
			if (!label_key_char(*c))
				return rw_err_set(err, -EINVAL,
				        "selector item '%.*s': label keys are made of a-z, 0-9, "
				        "'_', '.' and '-'",
				        (int)(end - item), item);
		if ((size_t)(end - eq - 1) > WIRE_LABEL_VALUE_MAX)
			return rw_err_set(err, -EINVAL,
			        "selector value of '%.*s' longer than %d bytes", (int)klen, item,
			        WIRE_LABEL_VALUE_MAX);
		for (const char *c = eq + 1; c < end; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return rw_err_set(err, -EINVAL,
				        "selector value of '%.*s' has a control character",
				        (int)klen, item);
		for (size_t i = 0; i < n; i++)
			if (key_lens[i] == klen && memcmp(keys[i], item, klen) == 0)
				return rw_err_set(err, -EINVAL, "selector names label '%.*s' twice",
				        (int)klen, item);
		if (n == WIRE_LABELS_MAX)
			return rw_err_set(
			        err, -EINVAL, "selector has more than %d labels", WIRE_LABELS_MAX);
		keys[n] = item;
		key_lens[n++] = klen;
		if (!*end)
			return 0;
		p = end + 1;
	}
}

int
admin_since_parse(const char *s, uint64_t now_ms, uint64_t *ret_since_ms)
{
	uint64_t usec;

	if (isempty(s))
		return -EINVAL;
	if (strchr(s, 'T')) {
		if (parse_timestamp_utc(s, &usec) < 0)
			return -EINVAL;
		*ret_since_ms = usec / USEC_PER_MSEC;
		return 0;
	}
	if (parse_duration_usec(s, &usec) < 0)
		return -EINVAL;
	usec /= USEC_PER_MSEC;
	*ret_since_ms = usec >= now_ms ? 0 : now_ms - usec;
	return 0;
}

int
admin_host_id_parse(const char *s, uint64_t *ret_id)
{
	uint64_t id;

	if (parse_uint64(s, &id) < 0 || id == 0 || id > INT64_MAX)
		return -EINVAL;
	*ret_id = id;
	return 0;
}

int
cli_admin_call(const Rollwave__AdminRequest *req, Rollwave__AdminResponse__ResponseCase expect,
        const char *subject, Rollwave__Envelope **ret)
{
	struct admin_target t;
	struct rw_err err = {""};
	int r;

	r = cli_admin_target(&t, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_USAGE;
	}
	r = admin_call(&t, req, expect, ret, &err);
	if (r < 0) {
		if (r == -EREMOTEIO && subject)
			log_error("%s: %s", subject, err.msg);
		else
			log_error("%s", err.msg);
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

int
cli_admin_target(struct admin_target *t, struct rw_err *err)
{
	int r = admin_target_resolve(cli_admin_options.coordinator, cli_admin_options.ca, t, err);

	if (r >= 0 && !isempty(cli_admin_options.cert))
		t->cert = cli_admin_options.cert;
	return r;
}

void
host_pages_done(struct host_pages *p)
{
	for (size_t i = 0; i < p->n_pages; i++)
		wire_free(p->pages[i]);
	free(p->pages);
	free(p->list.hosts);
	*p = (struct host_pages) {0};
}

int
admin_list_hosts(const struct admin_target *t, const char *selector, bool pending,
        struct host_pages *ret, struct rw_err *err)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__ListHosts list = ROLLWAVE__ADMIN_REQUEST__LIST_HOSTS__INIT;
	Rollwave__AdminRequest__HostsPending pend = ROLLWAVE__ADMIN_REQUEST__HOSTS_PENDING__INIT;
	struct host_pages p = {0};
	uint64_t after = 0;
	size_t cap = 0;
	int r;

	rollwave__host_list__init(&p.list);
	list.selector = (char *)(selector ? selector : "");
	if (pending) {
		req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_HOSTS_PENDING;
		req.hosts_pending = &pend;
	} else {
		req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS;
		req.list_hosts = &list;
	}
	for (;;) {
		Rollwave__Envelope *reply = NULL, **np;
		const Rollwave__HostList *l;

		list.after_id = pend.after_id = after;
		r = admin_call(t, &req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST, &reply, err);
		if (r < 0)
			goto fail;
		np = realloc(p.pages, (p.n_pages + 1) * sizeof(*np));
		if (!np) {
			wire_free(reply);
			r = rw_err_set(err, -ENOMEM, "out of memory");
			goto fail;
		}
		p.pages = np;
		p.pages[p.n_pages++] = reply;
		l = reply->admin_response->host_list;
		if (p.list.n_hosts + l->n_hosts > cap) {
			size_t ncap = cap ? cap : 1024;
			Rollwave__HostInfo **nh;

			while (ncap < p.list.n_hosts + l->n_hosts)
				ncap *= 2;
			nh = realloc(p.list.hosts, ncap * sizeof(*nh));
			if (!nh) {
				r = rw_err_set(err, -ENOMEM, "out of memory");
				goto fail;
			}
			p.list.hosts = nh;
			cap = ncap;
		}
		for (size_t i = 0; i < l->n_hosts; i++) {
			if (l->hosts[i]->id <= after) {
				r = rw_err_set(err, -EPROTO,
				        "the coordinator sent host %" PRIu64
				        " again in a later page",
				        l->hosts[i]->id);
				goto fail;
			}
			p.list.hosts[p.list.n_hosts++] = l->hosts[i];
		}
		if (!l->next_after_id)
			break;
		/* wire_decode() checked next_after_id follows every id of the page. */
		if (l->next_after_id <= after || l->n_hosts == 0) {
			r = rw_err_set(
			        err, -EPROTO, "the coordinator's host list does not move on");
			goto fail;
		}
		after = l->next_after_id;
	}
	*ret = p;
	return 0;
fail:
	host_pages_done(&p);
	return r;
}

int
cli_admin_list_hosts(const char *selector, bool pending, struct host_pages *ret)
{
	struct admin_target t;
	struct rw_err err = {""};
	int r;

	r = cli_admin_target(&t, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_USAGE;
	}
	r = admin_list_hosts(&t, selector, pending, ret, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

int
cli_json_print(json_t *json)
{
	int r;

	if (!json) {
		log_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	r = json_dumpf(json, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(json);
	if (r < 0 || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
		log_error("cannot write to standard output: %s", strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

uint64_t
cli_now_ms(void)
{
	return now_realtime_usec() / USEC_PER_MSEC;
}
