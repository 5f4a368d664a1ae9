/*
 * wire_check: the text and field checks every message check is built from
 * (UTF-8 text, app names, versions, URLs, ids, exact-length bytes, enums,
 * list caps), and the few composite fields more than one message carries
 * (a host's apps and labels, an Error). See wire_private.h.
 */
#include <ctype.h>

#include "version.h"
#include "wire_private.h"

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
const char *
wire_quote(const char *s, char *buf, size_t size)
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

const char *
wire_str(const char *s)
{
	return s ? s : "";
}

int
wire_check_text(const char *path, const char *s, size_t max, unsigned flags, struct rw_err *err)
{
	char q[QUOTE_BUF_LEN];
	size_t n = strlen(wire_str(s));

	if (n == 0)
		return (flags & TEXT_REQUIRED) ? rw_err_set(err, -EINVAL, "%s: missing", path) : 0;
	if (n > max)
		return rw_err_set(err, -EINVAL, "%s: %zu bytes, at most %zu allowed", path, n, max);
	if (!text_is_valid(s, n, flags & TEXT_MULTILINE))
		return rw_err_set(err, -EINVAL, "%s: invalid UTF-8 or control character in '%s'",
		        path, wire_quote(s, q, sizeof(q)));
	return 0;
}

/* 1..max characters of [a-z0-9_.-]: label keys and event actions. */
bool
wire_token_is_valid(const char *s, size_t max)
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

int
wire_check_app(const char *path, const char *s, struct rw_err *err)
{
	char q[QUOTE_BUF_LEN];

	if (isempty(s))
		return rw_err_set(err, -EINVAL, "%s: missing", path);
	if (!app_name_is_valid(s))
		return rw_err_set(err, -EINVAL, "%s: invalid app name '%s'", path,
		        wire_quote(s, q, sizeof(q)));
	return 0;
}

int
wire_check_version(const char *path, const char *s, bool required, struct rw_err *err)
{
	char q[QUOTE_BUF_LEN];

	if (isempty(s))
		return required ? rw_err_set(err, -EINVAL, "%s: missing", path) : 0;
	if (!version_is_valid(s))
		return rw_err_set(err, -EINVAL, "%s: invalid version '%s'", path,
		        wire_quote(s, q, sizeof(q)));
	return 0;
}

int
wire_check_id(const char *path, uint64_t id, struct rw_err *err)
{
	return id > 0 ? 0 : rw_err_set(err, -EINVAL, "%s: must be > 0", path);
}

static bool
has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int
wire_check_url(const char *path, const char *s, bool required, struct rw_err *err)
{
	static const char *const schemes[] = {"file://", "http://", "https://"};
	char q[QUOTE_BUF_LEN];
	size_t n = strlen(wire_str(s));

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
			        path, wire_quote(s, q, sizeof(q)));
	for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
		if (has_prefix_ci(s, schemes[i])) {
			if (s[strlen(schemes[i])] == 0)
				return rw_err_set(err, -EINVAL, "%s: URL '%s' names nothing", path,
				        wire_quote(s, q, sizeof(q)));
			return 0;
		}
	return rw_err_set(err, -EINVAL, "%s: URL '%s' is not file://, http:// or https://", path,
	        wire_quote(s, q, sizeof(q)));
}

int
wire_check_bytes(const char *path, const ProtobufCBinaryData *b, size_t exact, bool required,
        struct rw_err *err)
{
	if (b->len == 0 && !required)
		return 0;
	if (b->len != exact || !b->data)
		return rw_err_set(err, -EINVAL, "%s: %zu bytes, expected %zu", path, b->len, exact);
	return 0;
}

int
wire_check_enum(const char *path, const ProtobufCEnumDescriptor *desc, int value, bool allow_zero,
        struct rw_err *err)
{
	if ((value == 0 && !allow_zero) || !protobuf_c_enum_descriptor_get_value(desc, value))
		return rw_err_set(
		        err, -EINVAL, "%s: invalid %s value %d", path, desc->short_name, value);
	return 0;
}

int
wire_check_count(const char *path, size_t n, size_t min, size_t max, struct rw_err *err)
{
	if (n < min)
		return rw_err_set(
		        err, -EINVAL, "%s: empty, at least %zu entries needed", path, min);
	if (n > max)
		return rw_err_set(
		        err, -EINVAL, "%s: %zu entries, at most %zu allowed", path, n, max);
	return 0;
}

int
wire_check_present(const char *path, const void *msg, struct rw_err *err)
{
	return msg ? 0 : rw_err_set(err, -EINVAL, "%s: missing", path);
}
/* ---- fields of more than one message ------------------------------------------ */

static int
check_app_status(const char *path, const Rollwave__AppStatus *a, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = wire_check_present(path, a, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.app", path);
	if ((r = wire_check_app(p, a->app, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.current", path);
	if ((r = wire_check_version(p, a->current, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.previous", path);
	if ((r = wire_check_version(p, a->previous, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.health", path);
	if ((r = wire_check_enum(p, &rollwave__health__descriptor, a->health, true, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.releases", path);
	if ((r = wire_check_count(p, a->n_releases, 0, WIRE_RELEASES_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < a->n_releases; i++) {
		strbuf_printf(p, sizeof(p), "%s.releases[%zu]", path, i);
		if ((r = wire_check_version(p, a->releases[i], true, err)) < 0)
			return r;
	}
	return 0;
}

int
wire_check_apps(const char *path, Rollwave__AppStatus *const *apps, size_t n, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = wire_check_count(path, n, 0, WIRE_APPS_MAX, err)) < 0)
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

int
wire_check_labels(const char *path, Rollwave__Label *const *labels, size_t n, struct rw_err *err)
{
	char p[PATH_MAX_LEN], q[QUOTE_BUF_LEN];
	int r;

	if ((r = wire_check_count(path, n, 0, WIRE_LABELS_MAX, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const Rollwave__Label *l = labels[i];

		strbuf_printf(p, sizeof(p), "%s[%zu]", path, i);
		if ((r = wire_check_present(p, l, err)) < 0)
			return r;
		strbuf_printf(p, sizeof(p), "%s[%zu].key", path, i);
		if (!wire_token_is_valid(wire_str(l->key), WIRE_LABEL_KEY_MAX))
			return rw_err_set(err, -EINVAL,
			        "%s: invalid label key '%s' (1..%d of [a-z0-9_.-])", p,
			        wire_quote(l->key, q, sizeof(q)), WIRE_LABEL_KEY_MAX);
		for (size_t j = 0; j < i; j++)
			if (streq(labels[j]->key, l->key))
				return rw_err_set(err, -EINVAL, "%s: '%s' listed twice", p, l->key);
		strbuf_printf(p, sizeof(p), "%s[%zu].value", path, i);
		if ((r = wire_check_text(p, l->value, WIRE_LABEL_VALUE_MAX, 0, err)) < 0)
			return r;
	}
	return 0;
}

int
wire_check_error(const char *path, const Rollwave__Error *e, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = wire_check_present(path, e, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.code", path);
	if ((r = wire_check_enum(p, &rollwave__error__code__descriptor, e->code, false, err)) < 0)
		return r;
	strbuf_printf(p, sizeof(p), "%s.message", path);
	return wire_check_text(p, e->message, WIRE_TEXT_MAX, 0, err);
}
