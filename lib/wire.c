/*
 * wire: decoding, validation, encoding and signing of rollwave's protobuf-c
 * messages. See wire.h for the contract and docs/protocol.md for the bounds.
 *
 * Validators take the dotted path of the field they check ("envelope.hello.
 * facts.labels[2].key") and return 0 or a negative errno with err naming that
 * path. Values quoted in messages are escaped (non-printable and non-ASCII
 * bytes as \xNN) and cut, so an error message is itself valid wire text.
 */
#include "wire.h"

#include <ctype.h>
#include <inttypes.h>
#include <sodium.h>

#include "version.h"

#define PATH_MAX_LEN  256
#define QUOTE_MAX_LEN 80

/* ---- text ---------------------------------------------------------------- */

/* Length of the valid UTF-8 character at p (1..4), 0 if invalid; *ret_cp is
 * its code point. Overlong forms, surrogates and > U+10FFFF are invalid. */
static size_t
utf8_char(const uint8_t *p, size_t rem, uint32_t *ret_cp)
{
	size_t n;
	uint32_t cp;

	if (p[0] < 0x80) {
		*ret_cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (rem < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return n;
}

/* C0 and C1 controls and DEL, except newline and tab in multiline text. */
static bool
is_control(uint32_t cp, bool multiline)
{
	if (multiline && (cp == '\n' || cp == '\t'))
		return false;
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

static bool
text_is_valid(const char *s, size_t len, bool multiline)
{
	const uint8_t *p = (const uint8_t *)s;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_char(p + i, len - i, &cp);

		if (n == 0 || is_control(cp, multiline))
			return false;
		i += n;
	}
	return true;
}

int
wire_text_sanitize(const char *s, size_t len, size_t max, bool multiline, char **ret)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t o = 0;
	char *out;

	out = malloc((len < max ? len : max) + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_char(p + i, len - i, &cp);

		if (n == 0 || is_control(cp, multiline)) {
			if (o + 1 > max)
				break;
			out[o++] = '?';
			i += n ? n : 1;
			continue;
		}
		if (o + n > max)
			break;
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = 0;
	*ret = out;
	return 0;
}

/* 'value' escaped for an error message, cut to QUOTE_MAX_LEN characters. */
static const char *
quote(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; s && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o + 8 >= size || i >= QUOTE_MAX_LEN) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '\'')
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = 0;
	return buf;
}

/* ---- field checks ---------------------------------------------------------- */

enum {
	TEXT_REQUIRED = 1 << 0,
	TEXT_MULTILINE = 1 << 1,
};

static const char *
str(const char *s)
{
	return s ? s : "";
}

static int
check_text(const char *path, const char *s, size_t max, unsigned flags, struct rw_err *err)
{
	char q[4 * QUOTE_MAX_LEN + 8];
	size_t n = strlen(str(s));

	if (n == 0)
		return (flags & TEXT_REQUIRED) ? rw_err_set(err, -EINVAL, "%s: missing", path) : 0;
	if (n > max)
		return rw_err_set(err, -EINVAL, "%s: %zu bytes, at most %zu allowed", path, n, max);
	if (!text_is_valid(s, n, flags & TEXT_MULTILINE))
		return rw_err_set(err, -EINVAL, "%s: invalid UTF-8 or control character in '%s'",
		        path, quote(s, q, sizeof(q)));
	return 0;
}

/* 1..max characters of [a-z0-9_.-]: label keys and event actions. */
static bool
token_is_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p) && !islower((unsigned char)*p) &&
		        !strchr("_.-", *p))
			return false;
	return true;
}

static int
check_app(const char *path, const char *s, struct rw_err *err)
{
	char q[4 * QUOTE_MAX_LEN + 8];

	if (isempty(s))
		return rw_err_set(err, -EINVAL, "%s: missing", path);
	if (!app_name_is_valid(s))
		return rw_err_set(
		        err, -EINVAL, "%s: invalid app name '%s'", path, quote(s, q, sizeof(q)));
	return 0;
}

static int
check_version(const char *path, const char *s, bool required, struct rw_err *err)
{
	char q[4 * QUOTE_MAX_LEN + 8];

	if (isempty(s))
		return required ? rw_err_set(err, -EINVAL, "%s: missing", path) : 0;
	if (!version_is_valid(s))
		return rw_err_set(
		        err, -EINVAL, "%s: invalid version '%s'", path, quote(s, q, sizeof(q)));
	return 0;
}

static int
check_id(const char *path, uint64_t id, struct rw_err *err)
{
	return id > 0 ? 0 : rw_err_set(err, -EINVAL, "%s: must be > 0", path);
}

static bool
has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int
check_url(const char *path, const char *s, bool required, struct rw_err *err)
{
	static const char *const schemes[] = {"file://", "http://", "https://"};
	char q[4 * QUOTE_MAX_LEN + 8];
	size_t n = strlen(str(s));

	if (n == 0)
		return required ? rw_err_set(err, -EINVAL, "%s: missing", path) : 0;
	if (n > WIRE_URL_MAX)
		return rw_err_set(err, -EINVAL, "%s: URL of %zu bytes, at most %d allowed", path, n,
		        WIRE_URL_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return rw_err_set(err, -EINVAL,
			        "%s: space, control or non-ASCII byte in URL '%s' (percent-encode "
			        "it)",
			        path, quote(s, q, sizeof(q)));
	for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
		if (has_prefix_ci(s, schemes[i])) {
			if (s[strlen(schemes[i])] == 0)
				return rw_err_set(err, -EINVAL, "%s: URL '%s' names nothing", path,
				        quote(s, q, sizeof(q)));
			return 0;
		}
	return rw_err_set(err, -EINVAL, "%s: URL '%s' is not file://, http:// or https://", path,
	        quote(s, q, sizeof(q)));
}

static int
check_bytes(const char *path, const ProtobufCBinaryData *b, size_t exact, bool required,
        struct rw_err *err)
{
	if (b->len == 0 && !required)
		return 0;
	if (b->len != exact || !b->data)
		return rw_err_set(err, -EINVAL, "%s: %zu bytes, expected %zu", path, b->len, exact);
	return 0;
}

static int
check_enum(const char *path, const ProtobufCEnumDescriptor *desc, int value, bool allow_zero,
        struct rw_err *err)
{
	if ((value == 0 && !allow_zero) || !protobuf_c_enum_descriptor_get_value(desc, value))
		return rw_err_set(
		        err, -EINVAL, "%s: invalid %s value %d", path, desc->short_name, value);
	return 0;
}

static int
check_count(const char *path, size_t n, size_t min, size_t max, struct rw_err *err)
{
	if (n < min)
		return rw_err_set(
		        err, -EINVAL, "%s: empty, at least %zu entries needed", path, min);
	if (n > max)
		return rw_err_set(
		        err, -EINVAL, "%s: %zu entries, at most %zu allowed", path, n, max);
	return 0;
}

static int
check_present(const char *path, const void *msg, struct rw_err *err)
{
	return msg ? 0 : rw_err_set(err, -EINVAL, "%s: missing", path);
}

/* ---- messages ---------------------------------------------------------------- */

static int
check_app_status(const char *path, const Rollwave__AppStatus *a, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = check_present(path, a, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = check_app(p, a->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.current", path);
	if ((r = check_version(p, a->current, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.previous", path);
	if ((r = check_version(p, a->previous, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.health", path);
	if ((r = check_enum(p, &rollwave__health__descriptor, a->health, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.releases", path);
	if ((r = check_count(p, a->n_releases, 0, WIRE_RELEASES_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < a->n_releases; i++) {
		strbuf_printf(p, sizeof(p), "%s.releases[%zu]", path, i);
		if ((r = check_version(p, a->releases[i], true, err)) < 0)
			return r;
	}
	return 0;
}

static int
check_apps(const char *path, Rollwave__AppStatus *const *apps, size_t n, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = check_count(path, n, 0, WIRE_APPS_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		strbuf_printf(p, sizeof(p), "%s[%zu]", path, i);
		if ((r = check_app_status(p, apps[i], err)) < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (streq(apps[j]->app, apps[i]->app))
				return rw_err_set(
				        err, -EINVAL, "%s.app: '%s' listed twice", p, apps[i]->app);
	}
	return 0;
}

static int
check_labels(const char *path, Rollwave__Label *const *labels, size_t n, struct rw_err *err)
{
	char p[PATH_MAX_LEN], q[4 * QUOTE_MAX_LEN + 8];
	int r;

	if ((r = check_count(path, n, 0, WIRE_LABELS_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const Rollwave__Label *l = labels[i];

		strbuf_printf(p, sizeof(p), "%s[%zu]", path, i);
		if ((r = check_present(p, l, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s[%zu].key", path, i);
		if (!token_is_valid(str(l->key), WIRE_LABEL_KEY_MAX))
			return rw_err_set(err, -EINVAL,
			        "%s: invalid label key '%s' (1..%d of [a-z0-9_.-])", p,
			        quote(l->key, q, sizeof(q)), WIRE_LABEL_KEY_MAX);
		for (size_t j = 0; j < i; j++)
			if (streq(labels[j]->key, l->key))
				return rw_err_set(err, -EINVAL, "%s: '%s' listed twice", p, l->key);
		strbuf_printf(p, sizeof(p), "%s[%zu].value", path, i);
		if ((r = check_text(p, l->value, WIRE_LABEL_VALUE_MAX, 0, err)) < 0)
			return r;
	}
	return 0;
}

static int
check_host_facts(const char *path, const Rollwave__HostFacts *f, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = check_present(path, f, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.hostname", path);
	if ((r = check_text(p, f->hostname, WIRE_HOSTNAME_MAX, TEXT_REQUIRED, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.labels", path);
	if ((r = check_labels(p, f->labels, f->n_labels, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.agent_version", path);
	if ((r = check_version(p, f->agent_version, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.apps", path);
	return check_apps(p, f->apps, f->n_apps, err);
}

static int
check_hello(const char *path, const Rollwave__Hello *h, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.host_key", path);
	if ((r = check_bytes(p, &h->host_key, WIRE_KEY_LEN, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.join_token", path);
	if ((r = check_text(p, h->join_token, WIRE_JOIN_TOKEN_MAX, 0, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.facts", path);
	return check_host_facts(p, h->facts, err);
}

static int
check_welcome(const char *path, const Rollwave__Welcome *w, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.host_id", path);
	if ((r = check_id(p, w->host_id, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.coordinator_key", path);
	if ((r = check_bytes(p, &w->coordinator_key, WIRE_KEY_LEN, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.state", path);
	return check_enum(p, &rollwave__host_state__descriptor, w->state, false, err);
}

static int
check_must_be_empty(const char *path, const char *s, const char *why, struct rw_err *err)
{
	if (!isempty(s))
		return rw_err_set(err, -EINVAL, "%s: must be empty %s", path, why);
	return 0;
}

static int
check_command(const char *path, const Rollwave__Command *c, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	bool deploy, with_version, rollback, cancel;
	int r;

	if (c->command_id == 0)
		return rw_err_set(err, -EINVAL, "%s.command_id: must be > 0", path);
	if (c->issued_at_ms == 0)
		return rw_err_set(err, -EINVAL, "%s.issued_at_ms: must be > 0", path);
	strbuf_printf(p, sizeof(p), "%s.kind", path);
	if ((r = check_enum(p, &rollwave__command__kind__descriptor, c->kind, false, err)) < 0)
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
	if ((r = check_app(p, c->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.version", path);
	r = with_version
	        ? check_version(p, c->version, true, err)
	        : check_must_be_empty(p, c->version,
	                  "unless kind is DEPLOY, MIGRATE, MIGRATE_DOWN or PREFLIGHT", err);
	if (r < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.manifest_url", path);
	r = deploy ? check_url(p, c->manifest_url, true, err)
	           : check_must_be_empty(p, c->manifest_url,
	                     "unless kind is DEPLOY, MIGRATE or PREFLIGHT", err);
	if (r < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.to_version", path);
	r = rollback ? check_version(p, c->to_version, false, err)
	             : check_must_be_empty(p, c->to_version, "unless kind is ROLLBACK", err);
	if (r < 0)
		return r;
	if (cancel && c->cancel_command_id == 0)
		return rw_err_set(err, -EINVAL, "%s.cancel_command_id: must be > 0", path);
	if (!cancel && c->cancel_command_id != 0)
		return rw_err_set(err, -EINVAL,
		        "%s.cancel_command_id: must be 0 unless kind is CANCEL", path);
	strbuf_printf(p, sizeof(p), "%s.signature", path);
	return check_bytes(p, &c->signature, WIRE_SIGNATURE_LEN, true, err);
}

static int
check_phase_report(const char *path, const Rollwave__PhaseReport *t, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = check_app(p, t->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.version", path);
	if ((r = check_version(p, t->version, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.phase", path);
	if ((r = check_enum(p, &rollwave__phase__descriptor, t->phase, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.error", path);
	if ((r = check_text(p, t->error, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.hook_output", path);
	return check_text(p, t->hook_output, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err);
}

static int
check_error(const char *path, const Rollwave__Error *e, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = check_present(path, e, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.code", path);
	if ((r = check_enum(p, &rollwave__error__code__descriptor, e->code, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.message", path);
	return check_text(p, e->message, WIRE_TEXT_MAX, 0, err);
}

static int
check_host_ids(const char *path, const uint64_t *ids, size_t n, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = check_count(path, n, 1, WIRE_HOSTS_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		strbuf_printf(p, sizeof(p), "%s[%zu]", path, i);
		if ((r = check_id(p, ids[i], err)) < 0)
			return r;
	}
	return 0;
}

static int
check_deploy_request(const char *path, const Rollwave__AdminRequest__Deploy *d, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = check_app(p, d->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.version", path);
	if ((r = check_version(p, d->version, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.manifest_url", path);
	if ((r = check_url(p, d->manifest_url, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.host_ids", path);
	return check_host_ids(p, d->host_ids, d->n_host_ids, err);
}

static int
check_rollback_request(
        const char *path, const Rollwave__AdminRequest__Rollback *rb, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = check_app(p, rb->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.to_version", path);
	if ((r = check_version(p, rb->to_version, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.host_ids", path);
	return check_host_ids(p, rb->host_ids, rb->n_host_ids, err);
}

static int check_create_deployment(
        const char *path, const Rollwave__AdminRequest__CreateDeployment *c, struct rw_err *err);

static int
check_admin_request(const char *path, const Rollwave__AdminRequest *a, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	const void *m;
	int r;

	strbuf_printf(p, sizeof(p), "%s.client_user", path);
	if ((r = check_text(p, a->client_user, WIRE_CLIENT_USER_MAX, 0, err)) < 0)
		return r;
	/* Every member of the oneof is a message pointer sharing one union. */
	m = a->list_hosts;
	switch (a->request_case) {
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS:
		strbuf_printf(p, sizeof(p), "%s.list_hosts", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.list_hosts.selector", path);
		return check_text(p, a->list_hosts->selector, WIRE_TEXT_MAX, 0, err);
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST:
		strbuf_printf(p, sizeof(p), "%s.get_host", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.get_host.host_id", path);
		return check_id(p, a->get_host->host_id, err);
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_APPS:
		strbuf_printf(p, sizeof(p), "%s.list_apps", path);
		return check_present(p, m, err);
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_EVENTS:
		strbuf_printf(p, sizeof(p), "%s.list_events", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		if (a->list_events->limit > WIRE_EVENTS_MAX)
			return rw_err_set(err, -EINVAL, "%s.limit: %u, at most %d allowed", p,
			        a->list_events->limit, WIRE_EVENTS_MAX);
		return 0;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOSTS_PENDING:
		strbuf_printf(p, sizeof(p), "%s.hosts_pending", path);
		return check_present(p, m, err);
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT:
		strbuf_printf(p, sizeof(p), "%s.host_accept", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.host_accept.host_id", path);
		if ((r = check_id(p, a->host_accept->host_id, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.host_accept.more_host_ids", path);
		if ((r = check_count(
		             p, a->host_accept->n_more_host_ids, 0, WIRE_HOSTS_MAX - 1, err)) < 0)
			return r;
		for (size_t i = 0; i < a->host_accept->n_more_host_ids; i++) {
			strbuf_printf(p, sizeof(p), "%s.host_accept.more_host_ids[%zu]", path, i);
			if ((r = check_id(p, a->host_accept->more_host_ids[i], err)) < 0)
				return r;
		}
		return 0;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_REVOKE:
		strbuf_printf(p, sizeof(p), "%s.host_revoke", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.host_revoke.host_id", path);
		return check_id(p, a->host_revoke->host_id, err);
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY:
		strbuf_printf(p, sizeof(p), "%s.deploy", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		return check_deploy_request(p, a->deploy, err);
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK:
		strbuf_printf(p, sizeof(p), "%s.rollback", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		return check_rollback_request(p, a->rollback, err);
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT:
		strbuf_printf(p, sizeof(p), "%s.get_deployment", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.get_deployment.deployment_id", path);
		return check_id(p, a->get_deployment->deployment_id, err);
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_CREATE_DEPLOYMENT:
		strbuf_printf(p, sizeof(p), "%s.create_deployment", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		return check_create_deployment(p, a->create_deployment, err);
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT_STATUS:
		strbuf_printf(p, sizeof(p), "%s.get_deployment_status", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		if (a->get_deployment_status->deployment_id == 0 &&
		        isempty(a->get_deployment_status->app))
			return rw_err_set(err, -EINVAL, "%s: needs deployment_id or app", p);
		if (!isempty(a->get_deployment_status->app)) {
			strbuf_printf(p, sizeof(p), "%s.get_deployment_status.app", path);
			return check_app(p, a->get_deployment_status->app, err);
		}
		return 0;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOYMENT_ACTION:
		strbuf_printf(p, sizeof(p), "%s.deployment_action", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.deployment_action.deployment_id", path);
		if ((r = check_id(p, a->deployment_action->deployment_id, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.deployment_action.action", path);
		if ((r = check_enum(p,
		             &rollwave__admin_request__deployment_action__action__descriptor,
		             a->deployment_action->action, false, err)) < 0)
			return r;
		if (a->deployment_action->rollback &&
		        a->deployment_action->action !=
		                ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__ABORT)
			return rw_err_set(err, -EINVAL,
			        "%s.deployment_action.rollback: only with ABORT", path);
		return 0;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK_APP:
		strbuf_printf(p, sizeof(p), "%s.rollback_app", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.rollback_app.app", path);
		if ((r = check_app(p, a->rollback_app->app, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.rollback_app.to_version", path);
		return check_version(p, a->rollback_app->to_version, false, err);
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HISTORY:
		strbuf_printf(p, sizeof(p), "%s.history", path);
		if ((r = check_present(p, m, err)) < 0)
			return r;
		if (!isempty(a->history->app)) {
			strbuf_printf(p, sizeof(p), "%s.history.app", path);
			if ((r = check_app(p, a->history->app, err)) < 0)
				return r;
		}
		strbuf_printf(p, sizeof(p), "%s.history.limit", path);
		return check_count(p, a->history->limit, 0, WIRE_EVENTS_MAX, err);
	default:
		return rw_err_set(
		        err, -ENOMSG, "%s: no request, or one this version does not know", path);
	}
}

static int
check_host_info(const char *path, const Rollwave__HostInfo *h, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = check_present(path, h, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.id", path);
	if ((r = check_id(p, h->id, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.hostname", path);
	if ((r = check_text(p, h->hostname, WIRE_HOSTNAME_MAX, TEXT_REQUIRED, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.labels", path);
	if ((r = check_labels(p, h->labels, h->n_labels, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.state", path);
	if ((r = check_enum(p, &rollwave__host_state__descriptor, h->state, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.agent_version", path);
	if ((r = check_version(p, h->agent_version, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.apps", path);
	if ((r = check_apps(p, h->apps, h->n_apps, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.host_key", path);
	return check_bytes(p, &h->host_key, WIRE_KEY_LEN, true, err);
}

static int
check_host_list(const char *path, const Rollwave__HostList *l, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.hosts", path);
	if ((r = check_count(p, l->n_hosts, 0, WIRE_HOSTS_MAX, err)) < 0)
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

	if ((r = check_present(path, a, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = check_app(p, a->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.versions", path);
	if ((r = check_count(p, a->n_versions, 0, WIRE_RELEASES_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < a->n_versions; i++) {
		strbuf_printf(p, sizeof(p), "%s.versions[%zu]", path, i);
		if ((r = check_present(p, a->versions[i], err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.versions[%zu].version", path, i);
		if ((r = check_version(p, a->versions[i]->version, true, err)) < 0)
			return r;
	}
	return 0;
}

static int
check_app_list(const char *path, const Rollwave__AppList *l, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.apps", path);
	if ((r = check_count(p, l->n_apps, 0, WIRE_APP_LIST_MAX, err)) < 0)
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

	if ((r = check_present(path, e, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.id", path);
	if ((r = check_id(p, e->id, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.actor", path);
	if ((r = check_text(p, e->actor, WIRE_ACTOR_MAX, 0, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.action", path);
	if (!token_is_valid(str(e->action), WIRE_ACTION_MAX))
		return rw_err_set(err, -EINVAL, "%s: invalid action '%s' (1..%d of [a-z0-9_.-])", p,
		        quote(e->action, q, sizeof(q)), WIRE_ACTION_MAX);
	strbuf_printf(p, sizeof(p), "%s.target", path);
	if ((r = check_text(p, e->target, WIRE_TARGET_MAX, 0, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.detail", path);
	return check_text(p, e->detail, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err);
}

static int
check_event_list(const char *path, const Rollwave__EventList *l, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.events", path);
	if ((r = check_count(p, l->n_events, 0, WIRE_EVENTS_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < l->n_events; i++) {
		strbuf_printf(p, sizeof(p), "%s.events[%zu]", path, i);
		if ((r = check_event(p, l->events[i], err)) < 0)
			return r;
	}
	return 0;
}

static int
check_deploy_result(const char *path, const Rollwave__DeployResult *d, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	strbuf_printf(p, sizeof(p), "%s.hosts", path);
	if ((r = check_count(p, d->n_hosts, 0, WIRE_HOSTS_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < d->n_hosts; i++) {
		const Rollwave__DeployResult__HostResult *h = d->hosts[i];

		strbuf_printf(p, sizeof(p), "%s.hosts[%zu]", path, i);
		if ((r = check_present(p, h, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu].host_id", path, i);
		if ((r = check_id(p, h->host_id, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu].reason", path, i);
		if ((r = check_text(p, h->reason, WIRE_TEXT_MAX, 0, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu].state", path, i);
		if (strlen(h->state) > 64 ||
		        strspn(h->state, "abcdefghijklmnopqrstuvwxyz_") != strlen(h->state))
			return rw_err_set(err, -EINVAL, "%s: not a task state", p);
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu].phase", path, i);
		if ((r = check_enum(p, &rollwave__phase__descriptor, h->phase, true, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.hosts[%zu].error", path, i);
		if ((r = check_text(p, h->error, WIRE_REPORT_TEXT_MAX, 0, err)) < 0)
			return r;
	}
	return 0;
}

/* ---- deployments through waves ---- */

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		int r_ = (expr);                                                                   \
		if (r_ < 0)                                                                        \
			return r_;                                                                 \
	} while (0)
#define FIELD(name) (strbuf_printf(p, sizeof(p), "%s." name, path), p)

static int
check_create_deployment(
        const char *path, const Rollwave__AdminRequest__CreateDeployment *c, struct rw_err *err)
{
	char p[PATH_MAX_LEN];

	CHECK(check_app(FIELD("app"), c->app, err));
	CHECK(check_version(FIELD("version"), c->version, true, err));
	CHECK(check_url(FIELD("manifest_url"), c->manifest_url, !c->plan_only, err));
	CHECK(check_text(FIELD("selector"), c->selector, WIRE_TEXT_MAX, 0, err));
	CHECK(check_count(FIELD("host_ids"), c->n_host_ids, 0, WIRE_HOSTS_MAX, err));
	for (size_t i = 0; i < c->n_host_ids; i++) {
		strbuf_printf(p, sizeof(p), "%s.host_ids[%zu]", path, i);
		CHECK(check_id(p, c->host_ids[i], err));
	}
	if (c->n_host_ids && !isempty(c->selector))
		return rw_err_set(err, -EINVAL, "%s: host_ids and selector both given", path);
	return check_text(FIELD("params"), c->params, WIRE_PARAMS_MAX, TEXT_MULTILINE, err);
}

static int
check_deployment_host(
        const char *path, const Rollwave__DeploymentStatus__Host *h, struct rw_err *err)
{
	char p[PATH_MAX_LEN];

	CHECK(check_present(path, h, err));
	CHECK(check_id(FIELD("host_id"), h->host_id, err));
	CHECK(check_text(FIELD("hostname"), h->hostname, WIRE_HOSTNAME_MAX, 0, err));
	CHECK(check_text(FIELD("task"), h->task, 64, 0, err));
	CHECK(check_enum(FIELD("phase"), &rollwave__phase__descriptor, h->phase, true, err));
	CHECK(check_text(FIELD("error"), h->error, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err));
	CHECK(check_text(
	        FIELD("hook_output"), h->hook_output, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err));
	return check_version(FIELD("rollback_to"), h->rollback_to, false, err);
}

static int
check_deployment_waves(
        const char *path, Rollwave__DeploymentStatus__Wave *const *w, size_t n, struct rw_err *err)
{
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];

	CHECK(check_count(path, n, 0, WIRE_WAVES_MAX, err));
	for (size_t i = 0; i < n; i++) {
		strbuf_printf(q, sizeof(q), "%s[%zu]", path, i);
		const char *path_ = q;
#define WPATH(name) (strbuf_printf(p, sizeof(p), "%s." name, path_), p)
		CHECK(check_present(q, w[i], err));
		CHECK(check_text(WPATH("name"), w[i]->name, WIRE_TEXT_MAX, TEXT_REQUIRED, err));
		CHECK(check_text(WPATH("kind"), w[i]->kind, 64, TEXT_REQUIRED, err));
		CHECK(check_text(WPATH("state"), w[i]->state, 64, 0, err));
		CHECK(check_text(WPATH("command"), w[i]->command, WIRE_TEXT_MAX, 0, err));
		CHECK(check_text(WPATH("verdict"), w[i]->verdict, WIRE_REPORT_TEXT_MAX,
		        TEXT_MULTILINE, err));
		CHECK(check_count(WPATH("hosts"), w[i]->n_hosts, 0, WIRE_HOSTS_MAX, err));
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
check_deployment_status(const char *path, const Rollwave__DeploymentStatus *d, struct rw_err *err)
{
	char p[PATH_MAX_LEN];

	CHECK(check_present(path, d, err));
	CHECK(check_app(FIELD("app"), d->app, err));
	/* "" for a rollback sent with --hosts to each host's previous release */
	CHECK(check_version(FIELD("version"), d->version, false, err));
	CHECK(check_url(FIELD("manifest_url"), d->manifest_url, false, err));
	CHECK(check_text(FIELD("strategy"), d->strategy, 64, 0, err));
	CHECK(check_text(FIELD("state"), d->state, 64, TEXT_REQUIRED, err));
	CHECK(check_text(FIELD("step"), d->step, 64, 0, err));
	CHECK(check_text(FIELD("reason"), d->reason, WIRE_REPORT_TEXT_MAX, TEXT_MULTILINE, err));
	CHECK(check_text(FIELD("actor"), d->actor, WIRE_ACTOR_MAX, 0, err));
	CHECK(check_text(FIELD("params"), d->params, WIRE_PARAMS_MAX, TEXT_MULTILINE, err));
	CHECK(check_deployment_waves(FIELD("waves"), d->waves, d->n_waves, err));
	return check_deployment_waves(FIELD("rollback"), d->rollback, d->n_rollback, err);
}

static int
check_deployment_list(const char *path, const Rollwave__DeploymentList *l, struct rw_err *err)
{
	char p[PATH_MAX_LEN];

	CHECK(check_count(FIELD("deployments"), l->n_deployments, 0, WIRE_EVENTS_MAX, err));
	for (size_t i = 0; i < l->n_deployments; i++) {
		strbuf_printf(p, sizeof(p), "%s.deployments[%zu]", path, i);
		CHECK(check_deployment_status(p, l->deployments[i], err));
	}
	return 0;
}

static int
check_admin_response(const char *path, const Rollwave__AdminResponse *a, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	switch (a->response_case) {
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST:
		strbuf_printf(p, sizeof(p), "%s.host_list", path);
		if ((r = check_present(p, a->host_list, err)) < 0)
			return r;
		return check_host_list(p, a->host_list, err);
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_APP_LIST:
		strbuf_printf(p, sizeof(p), "%s.app_list", path);
		if ((r = check_present(p, a->app_list, err)) < 0)
			return r;
		return check_app_list(p, a->app_list, err);
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_EVENT_LIST:
		strbuf_printf(p, sizeof(p), "%s.event_list", path);
		if ((r = check_present(p, a->event_list, err)) < 0)
			return r;
		return check_event_list(p, a->event_list, err);
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT:
		strbuf_printf(p, sizeof(p), "%s.deploy_result", path);
		if ((r = check_present(p, a->deploy_result, err)) < 0)
			return r;
		return check_deploy_result(p, a->deploy_result, err);
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK:
		strbuf_printf(p, sizeof(p), "%s.ack", path);
		if ((r = check_present(p, a->ack, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s.ack.message", path);
		return check_text(p, a->ack->message, WIRE_TEXT_MAX, 0, err);
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR:
		strbuf_printf(p, sizeof(p), "%s.error", path);
		return check_error(p, a->error, err);
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS:
		strbuf_printf(p, sizeof(p), "%s.deployment_status", path);
		return check_deployment_status(p, a->deployment_status, err);
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_LIST:
		strbuf_printf(p, sizeof(p), "%s.deployment_list", path);
		if ((r = check_present(p, a->deployment_list, err)) < 0)
			return r;
		return check_deployment_list(p, a->deployment_list, err);
	default:
		return rw_err_set(
		        err, -ENOMSG, "%s: no response, or one this version does not know", path);
	}
}

/* The body of a known type, or NULL: every member of the oneof is a message
 * pointer in one union. */
static const void *
body_of(const Rollwave__Envelope *env)
{
	return env->hello;
}

int
wire_validate(const Rollwave__Envelope *env, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	const char *name;
	int r;

	if (env->protocol_version != WIRE_PROTOCOL_VERSION)
		return rw_err_set(err, -EPROTONOSUPPORT,
		        "envelope.protocol_version: version %" PRIu32 ", this peer speaks %d",
		        env->protocol_version, WIRE_PROTOCOL_VERSION);
	name = wire_body_name(env->body_case);
	if (env->body_case == ROLLWAVE__ENVELOPE__BODY__NOT_SET || streq(name, "unknown"))
		return rw_err_set(
		        err, -ENOMSG, "envelope: no body, or one this version does not know");
	strbuf_printf(p, sizeof(p), "envelope.%s", name);
	if ((r = check_present(p, body_of(env), err)) < 0)
		return r;

	switch (env->body_case) {
	case ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT:
		return check_phase_report(p, env->phase_report, err);
	case ROLLWAVE__ENVELOPE__BODY_HELLO:
		return check_hello(p, env->hello, err);
	case ROLLWAVE__ENVELOPE__BODY_CHALLENGE:
		strbuf_printf(p, sizeof(p), "envelope.challenge.nonce");
		r = check_bytes(p, &env->challenge->nonce, WIRE_NONCE_LEN, true, err);
		if (r < 0)
			return r;
		strbuf_printf(p, sizeof(p), "envelope.challenge.coordinator_key");
		return check_bytes(p, &env->challenge->coordinator_key, WIRE_KEY_LEN, true, err);
	case ROLLWAVE__ENVELOPE__BODY_AUTH:
		strbuf_printf(p, sizeof(p), "envelope.auth.signature");
		return check_bytes(p, &env->auth->signature, WIRE_SIGNATURE_LEN, true, err);
	case ROLLWAVE__ENVELOPE__BODY_WELCOME:
		return check_welcome(p, env->welcome, err);
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT:
		strbuf_printf(p, sizeof(p), "envelope.heartbeat.apps");
		return check_apps(p, env->heartbeat->apps, env->heartbeat->n_apps, err);
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK:
	case ROLLWAVE__ENVELOPE__BODY_POLL:
		return 0;
	case ROLLWAVE__ENVELOPE__BODY_COMMAND:
		return check_command(p, env->command, err);
	case ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK:
		if (env->command_ack->command_id == 0)
			return rw_err_set(err, -EINVAL, "%s.command_id: must be > 0", p);
		strbuf_printf(p, sizeof(p), "envelope.command_ack.reason");
		return check_text(p, env->command_ack->reason, WIRE_TEXT_MAX, 0, err);
	case ROLLWAVE__ENVELOPE__BODY_ERROR:
		return check_error(p, env->error, err);
	case ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST:
		return check_admin_request(p, env->admin_request, err);
	case ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE:
		return check_admin_response(p, env->admin_response, err);
	default:
		return rw_err_set(
		        err, -ENOMSG, "envelope: no body, or one this version does not know");
	}
}

const char *
wire_body_name(Rollwave__Envelope__BodyCase body)
{
	switch (body) {
	case ROLLWAVE__ENVELOPE__BODY__NOT_SET:
		return "unset";
	case ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT:
		return "phase_report";
	case ROLLWAVE__ENVELOPE__BODY_HELLO:
		return "hello";
	case ROLLWAVE__ENVELOPE__BODY_CHALLENGE:
		return "challenge";
	case ROLLWAVE__ENVELOPE__BODY_AUTH:
		return "auth";
	case ROLLWAVE__ENVELOPE__BODY_WELCOME:
		return "welcome";
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT:
		return "heartbeat";
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK:
		return "heartbeat_ack";
	case ROLLWAVE__ENVELOPE__BODY_POLL:
		return "poll";
	case ROLLWAVE__ENVELOPE__BODY_COMMAND:
		return "command";
	case ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK:
		return "command_ack";
	case ROLLWAVE__ENVELOPE__BODY_ERROR:
		return "error";
	case ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST:
		return "admin_request";
	case ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE:
		return "admin_response";
	default:
		return "unknown";
	}
}

static bool
read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/* Finds a NUL inside a string field of the len bytes of a message of type
 * desc, recursing into submessages. protobuf-c hands strings out as C
 * strings, so "web\0evil" would otherwise be seen (and validated) as "web"
 * while the rest rides along unseen. Runs on input protobuf-c already
 * unpacked, so the framing is known to be sound. */
static const char *
find_nul_string(
        const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, unsigned depth)
{
	const uint8_t *end = p + len;

	if (depth > 32)
		return "(too deep)";
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		uint64_t key, v;

		if (!read_varint(&p, end, &key))
			return NULL;
		f = protobuf_c_message_descriptor_get_field(desc, (unsigned)(key >> 3));
		switch (key & 7) {
		case 0:
			if (!read_varint(&p, end, &v))
				return NULL;
			break;
		case 1:
			p += end - p < 8 ? end - p : 8;
			break;
		case 5:
			p += end - p < 4 ? end - p : 4;
			break;
		case 2:
			if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return NULL;
			if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, v))
				return f->name;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
				const char *name = find_nul_string(f->descriptor, p, v, depth + 1);

				if (name)
					return name;
			}
			p += v;
			break;
		default:
			return NULL;
		}
	}
	return NULL;
}

/* ---- decode / encode ----------------------------------------------------------- */

/* protobuf-c allocator that refuses to go past WIRE_DECODE_MEMORY_MAX in
 * total over one unpack (frees are not credited back: the bound is on the
 * work a peer can make us do). */
struct decode_budget {
	size_t used;
	bool exhausted;
	bool failed;
};

static void *
budget_alloc(void *data, size_t size)
{
	struct decode_budget *b = data;
	void *p;

	if (size > WIRE_DECODE_MEMORY_MAX - b->used) {
		b->exhausted = true;
		return NULL;
	}
	b->used += size;
	p = malloc(size ? size : 1);
	if (!p)
		b->failed = true;
	return p;
}

static void
budget_free(void *data, void *p)
{
	(void)data;
	free(p);
}

int
wire_decode(const void *buf, size_t len, Rollwave__Envelope **ret, struct rw_err *err)
{
	struct decode_budget budget = {0};
	ProtobufCAllocator alloc = {
	        .alloc = budget_alloc, .free = budget_free, .allocator_data = &budget};
	_cleanup_wire_free_ Rollwave__Envelope *env = NULL;
	const char *nul_field;
	size_t canonical;
	int r;

	if (len > WIRE_MAX_MESSAGE)
		return rw_err_set(err, -EMSGSIZE, "envelope: %zu bytes, at most %d allowed", len,
		        WIRE_MAX_MESSAGE);
	if (!buf && len > 0)
		return rw_err_set(err, -EINVAL, "envelope: no buffer");
	env = rollwave__envelope__unpack(&alloc, len, len ? buf : (const uint8_t *)"");
	if (!env) {
		if (budget.exhausted)
			return rw_err_set(err, -EMSGSIZE,
			        "envelope: decoding needs more than %d bytes of memory",
			        WIRE_DECODE_MEMORY_MAX);
		if (budget.failed)
			return rw_err_set(err, -ENOMEM, "envelope: out of memory");
		return rw_err_set(err, -EBADMSG, "envelope: not a decodable protobuf Envelope");
	}
	r = wire_validate(env, err);
	if (r < 0)
		return r;
	nul_field = find_nul_string(&rollwave__envelope__descriptor, buf, len, 0);
	if (nul_field)
		return rw_err_set(
		        err, -EINVAL, "envelope: NUL byte inside string field '%s'", nul_field);
	/* Re-packing what we decoded gives back len bytes unless something
	 * was dropped or merged: a singular field or oneof member sent twice,
	 * an overlong number, an explicit default. Senders are protobuf-c
	 * too, so a mismatch is a forgery or a bug either way. (Unknown
	 * fields are kept and re-packed: newer peers still get through.) */
	canonical = rollwave__envelope__get_packed_size(env);
	if (canonical != len)
		return rw_err_set(err, -EINVAL,
		        "envelope: not in canonical encoding (%zu bytes re-packed to %zu: a field "
		        "sent twice or an overlong number)",
		        len, canonical);
	*ret = TAKE_PTR(env);
	return 0;
}

void
wire_free(Rollwave__Envelope *env)
{
	/* NULL allocator: protobuf-c's system allocator, malloc/free like ours. */
	if (env)
		rollwave__envelope__free_unpacked(env, NULL);
}

int
wire_encode(const Rollwave__Envelope *env, void **ret_buf, size_t *ret_len)
{
	size_t n = rollwave__envelope__get_packed_size(env);
	uint8_t *buf;

	if (n > WIRE_MAX_MESSAGE)
		return -EMSGSIZE;
	buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	if (rollwave__envelope__pack(env, buf) != n) {
		free(buf);
		return -EIO;
	}
	*ret_buf = buf;
	*ret_len = n;
	return 0;
}

uint64_t
wire_peek_message_id(const void *buf, size_t len)
{
	const uint8_t *p = buf, *end = p + (buf ? len : 0);
	uint64_t id = 0;

	while (p < end) {
		uint64_t key, v;

		if (!read_varint(&p, end, &key))
			break;
		switch (key & 7) {
		case 0:
			if (!read_varint(&p, end, &v))
				return id;
			if (key >> 3 == 2)
				id = v;
			break;
		case 1:
			if (end - p < 8)
				return id;
			p += 8;
			break;
		case 2:
			if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return id;
			p += v;
			break;
		case 5:
			if (end - p < 4)
				return id;
			p += 4;
			break;
		default:
			return id;
		}
	}
	return id;
}

Rollwave__Error__Code
wire_error_code_from_errno(int error)
{
	switch (error < 0 ? -error : error) {
	case EPROTONOSUPPORT:
		return ROLLWAVE__ERROR__CODE__VERSION;
	case ENOMSG:
		return ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE;
	case EINVAL:
	case EBADMSG:
	case EMSGSIZE:
		return ROLLWAVE__ERROR__CODE__INVALID;
	case EACCES:
	case EPERM:
		return ROLLWAVE__ERROR__CODE__UNAUTHORIZED;
	case EBUSY:
	case EAGAIN:
		return ROLLWAVE__ERROR__CODE__BUSY;
	default:
		return ROLLWAVE__ERROR__CODE__INTERNAL;
	}
}

int
wire_error_encode(uint64_t message_id, Rollwave__Error__Code code, const char *message,
        void **ret_buf, size_t *ret_len)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__Error e = ROLLWAVE__ERROR__INIT;
	_cleanup_free_ char *text = NULL;
	int r;

	r = wire_text_sanitize(str(message), strlen(str(message)), WIRE_TEXT_MAX, false, &text);
	if (r < 0)
		return r;
	e.code = code;
	e.message = text;
	env.protocol_version = WIRE_PROTOCOL_VERSION;
	env.message_id = message_id;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_ERROR;
	env.error = &e;
	return wire_encode(&env, ret_buf, ret_len);
}

int
wire_error_reply(
        uint64_t message_id, int decode_error, const char *message, void **ret_buf, size_t *ret_len)
{
	return wire_error_encode(
	        message_id, wire_error_code_from_errno(decode_error), message, ret_buf, ret_len);
}

/* ---- signatures ------------------------------------------------------------------ */

int
wire_command_signing_bytes(const Rollwave__Command *cmd, uint8_t **ret, size_t *ret_len)
{
	const size_t ctx = strlen(WIRE_COMMAND_CONTEXT);
	Rollwave__Command unsigned_cmd = *cmd;
	uint8_t *buf;
	size_t n;

	unsigned_cmd.signature.len = 0;
	unsigned_cmd.signature.data = NULL;
	n = rollwave__command__get_packed_size(&unsigned_cmd);
	if (n > WIRE_MAX_MESSAGE)
		return -EMSGSIZE;
	buf = malloc(ctx + n);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, WIRE_COMMAND_CONTEXT, ctx);
	if (rollwave__command__pack(&unsigned_cmd, buf + ctx) != n) {
		free(buf);
		return -EIO;
	}
	*ret = buf;
	*ret_len = ctx + n;
	return 0;
}

int
wire_command_sign(Rollwave__Command *cmd, const uint8_t sk[static WIRE_SECRET_KEY_LEN],
        uint8_t sig_buf[static WIRE_SIGNATURE_LEN])
{
	_cleanup_free_ uint8_t *bytes = NULL;
	size_t n;
	int r;

	if (sodium_init() < 0)
		return -EIO;
	r = wire_command_signing_bytes(cmd, &bytes, &n);
	if (r < 0)
		return r;
	if (crypto_sign_detached(sig_buf, NULL, bytes, n, sk) != 0)
		return -EIO;
	cmd->signature.data = sig_buf;
	cmd->signature.len = WIRE_SIGNATURE_LEN;
	return 0;
}

int
wire_command_verify(const Rollwave__Command *cmd, const uint8_t pk[static WIRE_KEY_LEN])
{
	_cleanup_free_ uint8_t *bytes = NULL;
	size_t n;
	int r;

	if (sodium_init() < 0)
		return -EIO;
	if (cmd->signature.len != WIRE_SIGNATURE_LEN || !cmd->signature.data)
		return -EBADMSG;
	r = wire_command_signing_bytes(cmd, &bytes, &n);
	if (r < 0)
		return r;
	if (crypto_sign_verify_detached(cmd->signature.data, bytes, n, pk) != 0)
		return -EBADMSG;
	return 0;
}

void
wire_auth_transcript(const uint8_t nonce[static WIRE_NONCE_LEN],
        const uint8_t coordinator_key[static WIRE_KEY_LEN],
        uint8_t out[static WIRE_AUTH_TRANSCRIPT_LEN])
{
	const size_t ctx = strlen(WIRE_AUTH_CONTEXT);

	memcpy(out, WIRE_AUTH_CONTEXT, ctx);
	memcpy(out + ctx, nonce, WIRE_NONCE_LEN);
	memcpy(out + ctx + WIRE_NONCE_LEN, coordinator_key, WIRE_KEY_LEN);
}

int
wire_auth_sign(const uint8_t nonce[static WIRE_NONCE_LEN],
        const uint8_t coordinator_key[static WIRE_KEY_LEN],
        const uint8_t host_sk[static WIRE_SECRET_KEY_LEN],
        uint8_t ret_sig[static WIRE_SIGNATURE_LEN])
{
	uint8_t t[WIRE_AUTH_TRANSCRIPT_LEN];

	if (sodium_init() < 0)
		return -EIO;
	wire_auth_transcript(nonce, coordinator_key, t);
	if (crypto_sign_detached(ret_sig, NULL, t, sizeof(t), host_sk) != 0)
		return -EIO;
	return 0;
}

int
wire_auth_verify(const uint8_t nonce[static WIRE_NONCE_LEN],
        const uint8_t coordinator_key[static WIRE_KEY_LEN],
        const uint8_t host_key[static WIRE_KEY_LEN], const uint8_t *sig, size_t sig_len)
{
	uint8_t t[WIRE_AUTH_TRANSCRIPT_LEN];

	if (sodium_init() < 0)
		return -EIO;
	if (!sig || sig_len != WIRE_SIGNATURE_LEN)
		return -EBADMSG;
	wire_auth_transcript(nonce, coordinator_key, t);
	if (crypto_sign_verify_detached(sig, t, sizeof(t), host_key) != 0)
		return -EBADMSG;
	return 0;
}
