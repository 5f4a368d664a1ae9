/*
 * minisign_sig: minisign signature files: prehashing with BLAKE2b-512,
 * parsing and writing them, signing and verifying (key id trusted, prehashed
 * signature, global signature over the trusted comment). See minisign.h.
 */
#include <inttypes.h>
#include <time.h>

#include "blake2b.h"
#include "ini.h"
#include "minisign_private.h"

_Static_assert(MINISIGN_HASH_BYTES == BLAKE2B512_BYTES, "minisign prehashes with BLAKE2b-512");

/* ---- hashing ---- */

int
minisign_hash_fd(int fd, uint8_t ret_hash[static MINISIGN_HASH_BYTES], uint64_t *ret_size,
        struct rw_err *err)
{
	int r = blake2b512_fd_size(fd, ret_hash, ret_size);

	if (r == -ENOMEM)
		return rw_err_set(err, r, "out of memory");
	if (r == -EOPNOTSUPP)
		return rw_err_set(err, r, "BLAKE2b-512 is not available in libcrypto");
	if (r < 0)
		return rw_err_set(err, r, "read error: %s", strerror(-r));
	return 0;
}

static int
hash_buffer(
        const void *data, size_t len, uint8_t out[static MINISIGN_HASH_BYTES], struct rw_err *err)
{
	int r = blake2b512_buffer(data, len, out);

	if (r < 0)
		return rw_err_set(err, r, "BLAKE2b-512 failed: %s", strerror(-r));
	return 0;
}

/* ---- signature files ---- */

/* Trusted comments must survive a round trip through the file format and be
 * safe to print. */
static int
check_trusted_comment(const char *c, size_t n, struct rw_err *err)
{
	if (n > MINISIGN_TRUSTED_COMMENT_MAX)
		return rw_err_set(err, -EINVAL, "trusted comment longer than %d bytes",
		        MINISIGN_TRUSTED_COMMENT_MAX);
	if (!utf8_is_valid_text(c, n))
		return rw_err_set(err, -EINVAL,
		        "trusted comment is not valid UTF-8 or contains control characters");
	return 0;
}

int
minisign_sig_parse(const char *text, size_t len, struct minisign_sig *ret, struct rw_err *err)
{
	struct lines l = {text, text + len};
	const size_t tplen = strlen(TRUSTED_PREFIX);
	struct sig_blob blob;
	uint8_t global_sig[MINISIGN_SIG_BYTES];
	const char *s, *tc;
	size_t n, tclen;
	int r;

	if (len > MINISIGN_FILE_MAX)
		return rw_err_set(
		        err, -EFBIG, "signature: larger than %d bytes", MINISIGN_FILE_MAX);
	if (!minisign_lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "signature: empty");
	r = minisign_check_untrusted_line(s, n, "signature", err);
	if (r < 0)
		return r;
	if (!minisign_lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "signature: truncated (no signature line)");
	if (minisign_b64_decode_exact(s, n, &blob, sizeof(blob)) < 0)
		return rw_err_set(err, -EINVAL, "signature: invalid base64 in signature line");
	if (memcmp(blob.sig_alg, SIGALG, 2) == 0)
		return rw_err_set(err, -EPROTONOSUPPORT,
		        "signature: legacy non-prehashed signature refused (sign with minisign "
		        "0.10 or later, without -l)");
	if (memcmp(blob.sig_alg, SIGALG_HASHED, 2) != 0)
		return rw_err_set(
		        err, -EPROTONOSUPPORT, "signature: unsupported signature algorithm");
	if (!minisign_lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "signature: truncated (no trusted comment)");
	if (n < tplen || memcmp(s, TRUSTED_PREFIX, tplen) != 0)
		return rw_err_set(
		        err, -EINVAL, "signature: third line must start with '%s'", TRUSTED_PREFIX);
	tc = s + tplen;
	tclen = n - tplen;
	r = check_trusted_comment(tc, tclen, err);
	if (r < 0)
		return rw_err_prefix(err, r, "signature");
	if (!minisign_lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "signature: truncated (no global signature)");
	if (minisign_b64_decode_exact(s, n, global_sig, sizeof(global_sig)) < 0)
		return rw_err_set(err, -EINVAL, "signature: invalid base64 in global signature");
	if (!minisign_lines_only_blank(&l))
		return rw_err_set(err, -EINVAL, "signature: unexpected data after the signature");

	memcpy(ret->keyid, blob.keyid, sizeof(ret->keyid));
	memcpy(ret->sig, blob.sig, sizeof(ret->sig));
	memcpy(ret->trusted_comment, tc, tclen);
	ret->trusted_comment[tclen] = 0;
	memcpy(ret->global_sig, global_sig, sizeof(ret->global_sig));
	return 0;
}

int
minisign_sig_load(const char *path, struct minisign_sig *ret, struct rw_err *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_full_file(path, MINISIGN_FILE_MAX, true, &buf, &len);
	if (r == -EFBIG)
		return rw_err_set(err, r, "%s: larger than %d bytes, not a signature", path,
		        MINISIGN_FILE_MAX);
	if (r < 0)
		return rw_err_set(err, r, "cannot read %s: %s", path, strerror(-r));
	r = minisign_sig_parse(buf, len, ret, err);
	if (r < 0)
		return rw_err_prefix(err, r, "%s", path);
	return 0;
}

/* sig || trusted comment, the message of the global signature. */
static uint8_t *
global_message(const uint8_t sig[static MINISIGN_SIG_BYTES], const char *tc, size_t *ret_len)
{
	size_t tclen = strlen(tc);
	uint8_t *m = malloc(MINISIGN_SIG_BYTES + tclen);

	if (!m)
		return NULL;
	memcpy(m, sig, MINISIGN_SIG_BYTES);
	memcpy(m + MINISIGN_SIG_BYTES, tc, tclen);
	*ret_len = MINISIGN_SIG_BYTES + tclen;
	return m;
}

int
minisign_sign_hash(const struct minisign_seckey *sec,
        const uint8_t hash[static MINISIGN_HASH_BYTES], const char *trusted_comment,
        const char *untrusted_comment, char **ret_sigtext, struct rw_err *err)
{
	char deftc[64];
	_cleanup_free_ uint8_t *gm = NULL;
	_cleanup_free_ char *buf = NULL;
	uint8_t global_sig[MINISIGN_SIG_BYTES];
	struct sig_blob blob;
	size_t gmlen, size, off = 0;
	int r;

	r = minisign_sodium_ready(err);
	if (r < 0)
		return r;
	if (!trusted_comment) {
		snprintf(deftc, sizeof(deftc), "timestamp:%lld", (long long)time(NULL));
		trusted_comment = deftc;
	}
	if (!untrusted_comment)
		untrusted_comment = "signature from rollwave secret key";
	if (!minisign_comment_is_single_line(trusted_comment) ||
	        !minisign_comment_is_single_line(untrusted_comment))
		return rw_err_set(err, -EINVAL, "comments must be a single line");
	r = check_trusted_comment(trusted_comment, strlen(trusted_comment), err);
	if (r < 0)
		return r;
	if (strlen(untrusted_comment) > MINISIGN_UNTRUSTED_COMMENT_MAX)
		return rw_err_set(err, -EINVAL, "untrusted comment longer than %d bytes",
		        MINISIGN_UNTRUSTED_COMMENT_MAX);

	memcpy(blob.sig_alg, SIGALG_HASHED, 2);
	memcpy(blob.keyid, sec->keyid, sizeof(blob.keyid));
	crypto_sign_detached(blob.sig, NULL, hash, MINISIGN_HASH_BYTES, sec->sk);
	gm = global_message(blob.sig, trusted_comment, &gmlen);
	if (!gm)
		return rw_err_set(err, -ENOMEM, "out of memory");
	crypto_sign_detached(global_sig, NULL, gm, gmlen, sec->sk);

	size = MINISIGN_FILE_MAX + 1;
	buf = malloc(size);
	if (!buf)
		return rw_err_set(err, -ENOMEM, "out of memory");
	r = minisign_append_str(buf, size, &off, UNTRUSTED_PREFIX, untrusted_comment);
	if (r >= 0)
		r = minisign_append_b64_line(buf, size, &off, &blob, sizeof(blob));
	if (r >= 0)
		r = minisign_append_str(buf, size, &off, TRUSTED_PREFIX, trusted_comment);
	if (r >= 0)
		r = minisign_append_b64_line(buf, size, &off, global_sig, sizeof(global_sig));
	if (r < 0 || off > MINISIGN_FILE_MAX)
		return rw_err_set(
		        err, -EINVAL, "signature file would exceed %d bytes", MINISIGN_FILE_MAX);
	*ret_sigtext = TAKE_PTR(buf);
	return 0;
}

int
minisign_sign_fd(const struct minisign_seckey *sec, int fd, const char *trusted_comment,
        const char *untrusted_comment, char **ret_sigtext, struct rw_err *err)
{
	uint8_t hash[MINISIGN_HASH_BYTES];
	int r;

	r = minisign_hash_fd(fd, hash, NULL, err);
	if (r < 0)
		return r;
	return minisign_sign_hash(sec, hash, trusted_comment, untrusted_comment, ret_sigtext, err);
}

int
minisign_sign_buffer(const struct minisign_seckey *sec, const void *data, size_t len,
        const char *trusted_comment, const char *untrusted_comment, char **ret_sigtext,
        struct rw_err *err)
{
	uint8_t hash[MINISIGN_HASH_BYTES];
	int r;

	r = hash_buffer(data, len, hash, err);
	if (r < 0)
		return r;
	return minisign_sign_hash(sec, hash, trusted_comment, untrusted_comment, ret_sigtext, err);
}

/* ---- verification ---- */

int
minisign_sig_check_keyid(const struct minisign_pubkey *keys, size_t nkeys,
        const struct minisign_sig *sig, struct rw_err *err)
{
	char id[MINISIGN_KEYID_STR_MAX];

	for (size_t i = 0; i < nkeys; i++)
		if (memcmp(keys[i].keyid, sig->keyid, MINISIGN_KEYID_BYTES) == 0)
			return 0;
	minisign_keyid_format(sig->keyid, id);
	return rw_err_set(err, -ENOKEY, "signed by untrusted key %s", id);
}

int
minisign_verify_hash(const struct minisign_pubkey *keys, size_t nkeys,
        const uint8_t hash[static MINISIGN_HASH_BYTES], const struct minisign_sig *sig,
        size_t *ret_key, struct rw_err *err)
{
	_cleanup_free_ uint8_t *gm = NULL;
	const struct minisign_pubkey *key = NULL;
	size_t gmlen, idx = 0;
	int r;

	r = minisign_sodium_ready(err);
	if (r < 0)
		return r;
	r = minisign_sig_check_keyid(keys, nkeys, sig, err);
	if (r < 0)
		return r;
	/* Key ids are random 64-bit labels; should two trusted keys share one,
	 * any of them may have made the signature. */
	for (size_t i = 0; i < nkeys; i++) {
		if (memcmp(keys[i].keyid, sig->keyid, MINISIGN_KEYID_BYTES) != 0)
			continue;
		if (crypto_sign_verify_detached(sig->sig, hash, MINISIGN_HASH_BYTES, keys[i].pk) ==
		        0) {
			key = &keys[i];
			idx = i;
			break;
		}
	}
	if (!key)
		return rw_err_set(err, -EBADMSG, "signature verification failed");
	gm = global_message(sig->sig, sig->trusted_comment, &gmlen);
	if (!gm)
		return rw_err_set(err, -ENOMEM, "out of memory");
	if (crypto_sign_verify_detached(sig->global_sig, gm, gmlen, key->pk) != 0)
		return rw_err_set(err, -EBADMSG, "trusted comment does not match its signature");
	if (ret_key)
		*ret_key = idx;
	return 0;
}

int
minisign_verify_fd(const struct minisign_pubkey *keys, size_t nkeys, int fd,
        const struct minisign_sig *sig, struct rw_err *err)
{
	uint8_t hash[MINISIGN_HASH_BYTES];
	int r;

	/* Do not read a gigabyte to learn that nobody trusts the signer. */
	r = minisign_sig_check_keyid(keys, nkeys, sig, err);
	if (r < 0)
		return r;
	r = minisign_hash_fd(fd, hash, NULL, err);
	if (r < 0)
		return r;
	return minisign_verify_hash(keys, nkeys, hash, sig, NULL, err);
}

int
minisign_verify_buffer(const struct minisign_pubkey *keys, size_t nkeys, const void *data,
        size_t len, const struct minisign_sig *sig, struct rw_err *err)
{
	uint8_t hash[MINISIGN_HASH_BYTES];
	int r;

	r = hash_buffer(data, len, hash, err);
	if (r < 0)
		return r;
	return minisign_verify_hash(keys, nkeys, hash, sig, NULL, err);
}
