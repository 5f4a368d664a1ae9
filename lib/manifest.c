/*
 * manifest: strict parser and formatter of release manifests. See
 * manifest.h.
 *
 * Parsing is a table of keys, each with a bit in parse_state.seen and a
 * value parser; the INI handler rejects unknown and duplicate keys on the
 * spot (ini.c prefixes "<name>:<line>"), and manifest_finish() checks that
 * every bit is set and that the values agree with each other.
 */
#include "manifest.h"

#include <inttypes.h>

#include "ini.h"

struct parse_state {
	struct manifest m;
	unsigned seen;
};

typedef int (*value_parser_t)(struct manifest *m, const char *value, struct rw_err *err);

static int
parse_app(struct manifest *m, const char *v, struct rw_err *err)
{
	if (!app_name_is_valid(v))
		return rw_err_set(err, -EINVAL,
		        "invalid App= '%.80s' (1-%d characters of a-z, 0-9, '-', '_')", v,
		        APP_NAME_MAX);
	strcpy(m->app, v);
	return 0;
}

static int
parse_version(struct manifest *m, const char *v, struct rw_err *err)
{
	if (!version_is_valid(v))
		return rw_err_set(err, -EINVAL,
		        "invalid Version= '%.80s' (1-%d characters of A-Z, a-z, 0-9, '._+~-')", v,
		        VERSION_MAX);
	strcpy(m->version, v);
	return 0;
}

static bool
artifact_is_valid(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > MANIFEST_ARTIFACT_MAX)
		return false;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int
parse_artifact(struct manifest *m, const char *v, struct rw_err *err)
{
	if (!artifact_is_valid(v))
		return rw_err_set(err, -EINVAL,
		        "invalid Artifact= (1-%d characters, no control characters)",
		        MANIFEST_ARTIFACT_MAX);
	strcpy(m->artifact, v);
	return 0;
}

static int
parse_size(struct manifest *m, const char *v, struct rw_err *err)
{
	uint64_t n;

	if (v[0] == '0' || parse_uint64(v, &n) < 0)
		return rw_err_set(err, -EINVAL, "invalid Size= '%.40s' (a byte count > 0)", v);
	m->size = n;
	return 0;
}

static int
parse_blake2b(struct manifest *m, const char *v, struct rw_err *err)
{
	if (hex_decode(v, m->blake2b, sizeof(m->blake2b)) < 0)
		return rw_err_set(err, -EINVAL, "invalid Blake2b512= (expected %zu hex digits)",
		        2 * sizeof(m->blake2b));
	return 0;
}

/* parse_timestamp_utc() plus a round trip, so that "2026-02-31T..." or any
 * other form that the C library would normalise is refused. */
static int
parse_timestamp_strict(const char *key, const char *v, uint64_t *ret, struct rw_err *err)
{
	char back[32];
	uint64_t usec;

	if (parse_timestamp_utc(v, &usec) < 0)
		goto bad;
	format_timestamp_utc(usec, back, sizeof(back));
	if (!streq(back, v))
		goto bad;
	*ret = usec;
	return 0;
bad:
	return rw_err_set(
	        err, -EINVAL, "invalid %s= '%.40s' (expected YYYY-MM-DDTHH:MM:SSZ)", key, v);
}

static int
parse_created(struct manifest *m, const char *v, struct rw_err *err)
{
	return parse_timestamp_strict("Created", v, &m->created_usec, err);
}

static int
parse_expires(struct manifest *m, const char *v, struct rw_err *err)
{
	return parse_timestamp_strict("Expires", v, &m->expires_usec, err);
}

static const struct {
	const char *key;
	value_parser_t parse;
} manifest_keys[] = {
        {"App", parse_app},
        {"Version", parse_version},
        {"Artifact", parse_artifact},
        {"Size", parse_size},
        {"Blake2b512", parse_blake2b},
        {"Created", parse_created},
        {"Expires", parse_expires},
};
#define ALL_KEYS ((1u << ELEMENTSOF(manifest_keys)) - 1)

static int
manifest_handle_key(
        void *userdata, const char *section, const char *key, const char *value, struct rw_err *err)
{
	struct parse_state *st = userdata;

	if (!streq(section, "Release"))
		return rw_err_set(
		        err, -EINVAL, "unknown section [%s] (expected [Release])", section);
	for (size_t i = 0; i < ELEMENTSOF(manifest_keys); i++) {
		if (!streq(key, manifest_keys[i].key))
			continue;
		if (st->seen & (1u << i))
			return rw_err_set(err, -EINVAL, "duplicate key '%s'", key);
		st->seen |= 1u << i;
		return manifest_keys[i].parse(&st->m, value, err);
	}
	return rw_err_set(err, -EINVAL, "unknown key '%s' in [Release]", key);
}

static unsigned
count_lines(const char *buf, size_t len)
{
	unsigned n = 0;

	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			n++;
	if (len > 0 && buf[len - 1] != '\n')
		n++;
	return n;
}

static int
manifest_finish(
        const char *name, const char *buf, size_t len, struct parse_state *st, struct rw_err *err)
{
	if (st->seen != ALL_KEYS) {
		char missing[256] = "";
		size_t off = 0;

		for (size_t i = 0; i < ELEMENTSOF(manifest_keys); i++) {
			int r;

			if (st->seen & (1u << i))
				continue;
			r = snprintf(missing + off, sizeof(missing) - off, "%s%s=", off ? ", " : "",
			        manifest_keys[i].key);
			if (r > 0 && (size_t)r < sizeof(missing) - off)
				off += (size_t)r;
		}
		return rw_err_set(err, -EINVAL, "%s:%u: missing %s in [Release]", name,
		        count_lines(buf, len), missing);
	}
	if (st->m.expires_usec <= st->m.created_usec)
		return rw_err_set(err, -EINVAL, "%s: Expires= is not after Created=", name);
	return 0;
}

int
manifest_parse_named(
        const char *name, const char *buf, size_t len, struct manifest *ret, struct rw_err *err)
{
	struct parse_state st;
	int r;

	memset(&st, 0, sizeof(st));
	if (!name)
		name = "manifest";
	if (len > MANIFEST_FILE_MAX)
		return rw_err_set(err, -EFBIG, "%s: larger than %d bytes", name, MANIFEST_FILE_MAX);
	r = ini_parse_buffer(name, buf, len, INI_INLINE_COMMENTS, manifest_handle_key, &st, err);
	if (r < 0)
		return r;
	r = manifest_finish(name, buf, len, &st, err);
	if (r < 0)
		return r;
	*ret = st.m;
	return 0;
}

int
manifest_parse(const char *buf, size_t len, struct manifest *ret, struct rw_err *err)
{
	return manifest_parse_named(NULL, buf, len, ret, err);
}

int
manifest_format(const struct manifest *m, char **ret_text)
{
	char created[32], expires[32], hex[2 * sizeof(m->blake2b) + 1];
	size_t size = MANIFEST_ARTIFACT_MAX + 512;
	char *buf;
	int r;

	if (!app_name_is_valid(m->app) || !version_is_valid(m->version) ||
	        !artifact_is_valid(m->artifact) || m->size == 0 ||
	        m->expires_usec / USEC_PER_SEC <= m->created_usec / USEC_PER_SEC)
		return -EINVAL;
	format_timestamp_utc(m->created_usec, created, sizeof(created));
	format_timestamp_utc(m->expires_usec, expires, sizeof(expires));
	hex_encode(m->blake2b, sizeof(m->blake2b), hex);
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	r = xsnprintf(buf, size,
	        "[Release]\n"
	        "App=%s\n"
	        "Version=%s\n"
	        "Artifact=%s\n"
	        "Size=%" PRIu64 "\n"
	        "Blake2b512=%s\n"
	        "Created=%s\n"
	        "Expires=%s\n",
	        m->app, m->version, m->artifact, m->size, hex, created, expires);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret_text = buf;
	return 0;
}

int
manifest_verify_and_parse(const char *buf, size_t len, const char *sigtext, size_t siglen,
        const struct minisign_pubkey *keys, size_t nkeys, struct manifest *ret, struct rw_err *err)
{
	struct minisign_sig sig;
	int r;

	if (len > MANIFEST_FILE_MAX)
		return rw_err_set(err, -EFBIG, "manifest: larger than %d bytes", MANIFEST_FILE_MAX);
	r = minisign_sig_parse(sigtext, siglen, &sig, err);
	if (r < 0)
		return rw_err_prefix(err, r, "manifest signature");
	/* The signature covers the raw bytes; nothing in buf is read before it
	 * checks. */
	r = minisign_verify_buffer(keys, nkeys, buf, len, &sig, err);
	if (r < 0)
		return rw_err_prefix(err, r, "manifest signature");
	return manifest_parse(buf, len, ret, err);
}
