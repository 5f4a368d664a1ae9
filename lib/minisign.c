/*
 * minisign: Ed25519 signatures in minisign's formats. See minisign.h; this
 * file holds the helpers minisign_private.h declares and the public keys.
 *
 * Invariants:
 *  - every byte string that came from a file is length-checked before it is
 *    copied into a fixed struct; base64 must decode to exactly that struct;
 *  - secret material (decoded key blobs, scrypt keystreams, passwords'
 *    derived data, secret key text) lives in buffers that are wiped with
 *    sodium_memzero() on every path out;
 *  - a signature is accepted only when its key id is trusted, the prehashed
 *    signature checks and the global signature over the trusted comment
 *    checks.
 */
#include <inttypes.h>

#include "minisign_private.h"

uint64_t
minisign_le64_load(const uint8_t p[static 8])
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void
minisign_le64_store(uint8_t p[static 8], uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

int
minisign_sodium_ready(struct rw_err *err)
{
	if (sodium_init() < 0)
		return rw_err_set(err, -EIO, "cannot initialise libsodium");
	return 0;
}

void
minisign_keyid_format(
        const uint8_t keyid[static MINISIGN_KEYID_BYTES], char buf[static MINISIGN_KEYID_STR_MAX])
{
	snprintf(buf, MINISIGN_KEYID_STR_MAX, "%016" PRIX64, minisign_le64_load(keyid));
}

/* ---- line splitting and base64 ---- */

/* Returns the next line (without "\n" or "\r\n") or false at the end. */
bool
minisign_lines_next(struct lines *l, const char **ret_line, size_t *ret_len)
{
	const char *nl;
	size_t n;

	if (l->p >= l->end)
		return false;
	nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	n = nl ? (size_t)(nl - l->p) : (size_t)(l->end - l->p);
	*ret_line = l->p;
	l->p += n + (nl ? 1 : 0);
	if (n > 0 && (*ret_line)[n - 1] == '\r')
		n--;
	*ret_len = n;
	return true;
}

/* True if only empty lines remain. */
bool
minisign_lines_only_blank(struct lines *l)
{
	const char *s;
	size_t n;

	while (minisign_lines_next(l, &s, &n))
		if (n != 0)
			return false;
	return true;
}

/* Decodes padded standard base64 to exactly outlen bytes. */
int
minisign_b64_decode_exact(const char *s, size_t slen, void *out, size_t outlen)
{
	size_t binlen = 0;

	if (slen != B64_LEN(outlen) || memchr(s, 0, slen))
		return -EINVAL;
	if (sodium_base642bin(out, outlen, s, slen, NULL, &binlen, NULL,
	            sodium_base64_VARIANT_ORIGINAL) != 0 ||
	        binlen != outlen)
		return -EINVAL;
	return 0;
}

/* Appends "prefix" + base64(bin) + "\n" to buf at *off (size bytes). */
int
minisign_append_b64_line(char *buf, size_t size, size_t *off, const void *bin, size_t len)
{
	if (size - *off < B64_LEN(len) + 2)
		return -ENOBUFS;
	sodium_bin2base64(buf + *off, size - *off, bin, len, sodium_base64_VARIANT_ORIGINAL);
	*off += strlen(buf + *off);
	buf[(*off)++] = '\n';
	buf[*off] = 0;
	return 0;
}

int
minisign_append_str(char *buf, size_t size, size_t *off, const char *a, const char *b)
{
	int r = xsnprintf(buf + *off, size - *off, "%s%s\n", a, b);

	if (r < 0)
		return -ENOBUFS;
	*off += (size_t)r;
	return 0;
}

/* Checks a first line "untrusted comment: ..." of a key or signature file. */
int
minisign_check_untrusted_line(const char *s, size_t n, const char *what, struct rw_err *err)
{
	const size_t plen = strlen(UNTRUSTED_PREFIX);

	if (n < plen - 1 || memcmp(s, UNTRUSTED_PREFIX, plen - 1) != 0)
		return rw_err_set(err, -EINVAL, "%s: first line must start with '%s'", what,
		        UNTRUSTED_PREFIX);
	if (n > plen + MINISIGN_UNTRUSTED_COMMENT_MAX)
		return rw_err_set(err, -EINVAL, "%s: untrusted comment longer than %d bytes", what,
		        MINISIGN_UNTRUSTED_COMMENT_MAX);
	if (memchr(s, 0, n))
		return rw_err_set(err, -EINVAL, "%s: NUL byte in untrusted comment", what);
	return 0;
}

bool
minisign_comment_is_single_line(const char *c)
{
	return !strchr(c, '\n') && !strchr(c, '\r');
}

/* ---- public keys ---- */

int
minisign_pubkey_parse(const char *text, size_t len, struct minisign_pubkey *ret, struct rw_err *err)
{
	struct lines l = {text, text + len};
	struct pubkey_blob blob;
	const char *s;
	size_t n;
	int r;

	if (len > MINISIGN_FILE_MAX)
		return rw_err_set(
		        err, -EFBIG, "public key: larger than %d bytes", MINISIGN_FILE_MAX);
	if (!minisign_lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "public key: empty");
	if (n >= strlen(UNTRUSTED_PREFIX) - 1 &&
	        memcmp(s, UNTRUSTED_PREFIX, strlen(UNTRUSTED_PREFIX) - 1) == 0) {
		r = minisign_check_untrusted_line(s, n, "public key", err);
		if (r < 0)
			return r;
		if (!minisign_lines_next(&l, &s, &n))
			return rw_err_set(err, -EINVAL, "public key: missing key line");
	} else {
		/* A bare base64 key as given to minisign -P: allow surrounding blanks. */
		while (n > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
	}
	if (minisign_b64_decode_exact(s, n, &blob, sizeof(blob)) < 0)
		return rw_err_set(err, -EINVAL,
		        "public key: invalid base64 (expected %zu characters for %zu bytes)",
		        (size_t)B64_LEN(sizeof(blob)), sizeof(blob));
	if (memcmp(blob.sig_alg, SIGALG, 2) != 0)
		return rw_err_set(
		        err, -EPROTONOSUPPORT, "public key: unsupported signature algorithm");
	if (!minisign_lines_only_blank(&l))
		return rw_err_set(err, -EINVAL, "public key: unexpected data after the key");
	memcpy(ret->keyid, blob.keyid, sizeof(ret->keyid));
	memcpy(ret->pk, blob.pk, sizeof(ret->pk));
	return 0;
}

int
minisign_pubkey_load(const char *path, struct minisign_pubkey *ret, struct rw_err *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_full_file(path, MINISIGN_FILE_MAX, true, &buf, &len);
	if (r == -EFBIG)
		return rw_err_set(err, r, "%s: larger than %d bytes, not a public key", path,
		        MINISIGN_FILE_MAX);
	if (r < 0)
		return rw_err_set(err, r, "cannot read %s: %s", path, strerror(-r));
	r = minisign_pubkey_parse(buf, len, ret, err);
	if (r < 0)
		return rw_err_prefix(err, r, "%s", path);
	return 0;
}

int
minisign_pubkey_format(const struct minisign_pubkey *pub, char **ret_text)
{
	struct pubkey_blob blob;
	char id[MINISIGN_KEYID_STR_MAX], *buf;
	size_t size = 256, off = 0;
	int r;

	memcpy(blob.sig_alg, SIGALG, 2);
	memcpy(blob.keyid, pub->keyid, sizeof(blob.keyid));
	memcpy(blob.pk, pub->pk, sizeof(blob.pk));
	minisign_keyid_format(pub->keyid, id);
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	r = xsnprintf(buf, size, UNTRUSTED_PREFIX "minisign public key %s\n", id);
	if (r < 0) {
		free(buf);
		return r;
	}
	off = (size_t)r;
	r = minisign_append_b64_line(buf, size, &off, &blob, sizeof(blob));
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret_text = buf;
	return 0;
}
