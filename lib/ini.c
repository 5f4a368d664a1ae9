/*
 * ini: pure line-at-a-time INI parser. See ini.h.
 */
#include "ini.h"

#include <ctype.h>

bool
utf8_is_valid_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned char c = *p;
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return false;
			p++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else
			return false;
		if ((size_t)(end - p) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

static char *
strip(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static void
strip_inline_comment(char *v)
{
	for (char *p = v; *p; p++)
		if ((*p == ';' || *p == '#') && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = 0;
			break;
		}
}

#define SECTION_MAX 128

/* "[Name]" in s (stripped, starting with '['): copies Name to section. */
static int
parse_section(const char *name, unsigned lineno, char *s, char section[static SECTION_MAX],
        struct rw_err *err)
{
	char *e = strchr(s, ']');

	if (!e || e[1] != 0 || e == s + 1)
		return rw_err_set(err, -EINVAL, "%s:%u: malformed section header", name, lineno);
	*e = 0;
	if (strlen(s + 1) >= SECTION_MAX)
		return rw_err_set(err, -EINVAL, "%s:%u: section name too long", name, lineno);
	for (char *p = s + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return rw_err_set(err, -EINVAL, "%s:%u: invalid section name '%s'", name,
			        lineno, s + 1);
	strcpy(section, s + 1);
	return 0;
}

/* "Key=Value" in s (stripped): checks the key and hands both to handler. */
static int
parse_assignment(const char *name, unsigned lineno, char *s, const char *section, unsigned flags,
        ini_handler_t handler, void *userdata, struct rw_err *err)
{
	char *eq = strchr(s, '='), *key, *value;
	int r;

	if (!eq)
		return rw_err_set(
		        err, -EINVAL, "%s:%u: expected Key=Value, got '%s'", name, lineno, s);
	*eq = 0;
	key = strip(s);
	value = eq + 1;
	if (flags & INI_INLINE_COMMENTS)
		strip_inline_comment(value);
	value = strip(value);
	if (*key == 0)
		return rw_err_set(err, -EINVAL, "%s:%u: empty key", name, lineno);
	for (char *p = key; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return rw_err_set(
			        err, -EINVAL, "%s:%u: invalid key '%s'", name, lineno, key);
	if (!section[0])
		return rw_err_set(
		        err, -EINVAL, "%s:%u: '%s' outside of any [Section]", name, lineno, key);
	r = handler(userdata, section, key, value, err);
	if (r < 0)
		return rw_err_prefix(err, r, "%s:%u", name, lineno);
	return 0;
}

int
ini_parse_buffer(const char *name, const char *buf, size_t len, unsigned flags,
        ini_handler_t handler, void *userdata, struct rw_err *err)
{
	char section[SECTION_MAX] = "";
	char line[INI_LINE_MAX + 1];
	size_t off = 0;
	unsigned lineno = 0;

	if (len > INI_FILE_MAX)
		return rw_err_set(err, -EFBIG, "%s: file larger than %d bytes", name, INI_FILE_MAX);
	/* Skip a UTF-8 byte order mark. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		off = 3;

	while (off < len) {
		const char *start = buf + off, *nl = memchr(start, '\n', len - off);
		size_t l = nl ? (size_t)(nl - start) : len - off;
		char *s;
		int r;

		lineno++;
		if (l > INI_LINE_MAX)
			return rw_err_set(err, -EINVAL, "%s:%u: line longer than %d bytes", name,
			        lineno, INI_LINE_MAX);
		off += l + (nl ? 1 : 0);
		if (l > 0 && start[l - 1] == '\r')
			l--;
		if (!utf8_is_valid_text(start, l))
			return rw_err_set(err, -EINVAL,
			        "%s:%u: invalid UTF-8, NUL or control character", name, lineno);
		memcpy(line, start, l);
		line[l] = 0;

		s = strip(line);
		if (*s == 0 || *s == '#' || *s == ';')
			continue;
		if (*s == '[')
			r = parse_section(name, lineno, s, section, err);
		else
			r = parse_assignment(
			        name, lineno, s, section, flags, handler, userdata, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int
ini_parse_file(
        const char *path, unsigned flags, ini_handler_t handler, void *userdata, struct rw_err *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_full_file(path, INI_FILE_MAX, true, &buf, &len);
	if (r == -EFBIG)
		return rw_err_set(err, r, "%s: file larger than %d bytes", path, INI_FILE_MAX);
	if (r < 0)
		return rw_err_set(err, r, "cannot read %s: %s", path, strerror(-r));
	return ini_parse_buffer(path, buf, len, flags, handler, userdata, err);
}

/* True if path has the component comp ("." or ".."): "/comp/" inside it or
 * "/comp" at its end. */
static bool
path_has_component(const char *path, const char *comp)
{
	size_t n = strlen(comp);

	for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/'))
		if (strncmp(p + 1, comp, n) == 0 && (p[1 + n] == '/' || p[1 + n] == 0))
			return true;
	return false;
}

int
ini_set_path(char *dst, size_t size, const char *value, const char *key, struct rw_err *err)
{
	size_t l = strlen(value);

	if (value[0] != '/')
		return rw_err_set(
		        err, -EINVAL, "%s= must be an absolute path, got '%s'", key, value);
	if (path_has_component(value, ".."))
		return rw_err_set(err, -EINVAL, "%s= must not contain '..', got '%s'", key, value);
	if (path_has_component(value, "."))
		return rw_err_set(
		        err, -EINVAL, "%s= must not contain '.' components, got '%s'", key, value);
	if (l >= size)
		return rw_err_set(err, -ENAMETOOLONG, "%s= path too long", key);
	/* Drop trailing slashes so that "<root>/current" is well formed. */
	while (l > 1 && value[l - 1] == '/')
		l--;
	memcpy(dst, value, l);
	dst[l] = 0;
	return 0;
}
