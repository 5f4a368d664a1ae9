/*
 * minisign: Ed25519 signatures in minisign's formats. See minisign.h.
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
#include "minisign.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>

#include "blake2b.h"
#include "ini.h"

_Static_assert(MINISIGN_HASH_BYTES == BLAKE2B512_BYTES, "minisign prehashes with BLAKE2b-512");

#define SIGALG        "Ed"
#define SIGALG_HASHED "ED"
#define KDFALG        "Sc"
#define KDFNONE       "\0\0"
#define CHKALG        "B2"

#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX   "trusted comment: "

/* Upper bound on the scrypt cost read from a secret key file. */
#define KDF_MEMLIMIT_MAX ((uint64_t)4 << 30)
#define KDF_OPSLIMIT_MAX ((uint64_t)1 << 36)

/* On-disk binary layouts (all byte arrays, so no padding). */
struct pubkey_blob {
	uint8_t sig_alg[2];
	uint8_t keyid[MINISIGN_KEYID_BYTES];
	uint8_t pk[MINISIGN_PK_BYTES];
};

struct keynum_sk {
	uint8_t keyid[MINISIGN_KEYID_BYTES];
	uint8_t sk[MINISIGN_SK_BYTES];
	uint8_t chk[crypto_generichash_BYTES];
};

struct seckey_blob {
	uint8_t sig_alg[2];
	uint8_t kdf_alg[2];
	uint8_t chk_alg[2];
	uint8_t kdf_salt[crypto_pwhash_scryptsalsa208sha256_SALTBYTES];
	uint8_t kdf_opslimit_le[8];
	uint8_t kdf_memlimit_le[8];
	struct keynum_sk keynum_sk;
};

struct sig_blob {
	uint8_t sig_alg[2];
	uint8_t keyid[MINISIGN_KEYID_BYTES];
	uint8_t sig[MINISIGN_SIG_BYTES];
};

_Static_assert(sizeof(struct pubkey_blob) == 42, "pubkey layout");
_Static_assert(sizeof(struct seckey_blob) == 158, "seckey layout");
_Static_assert(sizeof(struct sig_blob) == 74, "signature layout");

#define B64_LEN(n) (((n) + 2) / 3 * 4)

static uint64_t
le64_load(const uint8_t p[static 8])
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
le64_store(uint8_t p[static 8], uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static int
sodium_ready(struct rw_err *err)
{
	if (sodium_init() < 0)
		return rw_err_set(err, -EIO, "cannot initialise libsodium");
	return 0;
}

void
minisign_keyid_format(
        const uint8_t keyid[static MINISIGN_KEYID_BYTES], char buf[static MINISIGN_KEYID_STR_MAX])
{
	snprintf(buf, MINISIGN_KEYID_STR_MAX, "%016" PRIX64, le64_load(keyid));
}

/* ---- line splitting and base64 ---- */

struct lines {
	const char *p, *end;
};

/* Returns the next line (without "\n" or "\r\n") or false at the end. */
static bool
lines_next(struct lines *l, const char **ret_line, size_t *ret_len)
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
static bool
lines_only_blank(struct lines *l)
{
	const char *s;
	size_t n;

	while (lines_next(l, &s, &n))
		if (n != 0)
			return false;
	return true;
}

/* Decodes padded standard base64 to exactly outlen bytes. */
static int
b64_decode_exact(const char *s, size_t slen, void *out, size_t outlen)
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
static int
append_b64_line(char *buf, size_t size, size_t *off, const void *bin, size_t len)
{
	if (size - *off < B64_LEN(len) + 2)
		return -ENOBUFS;
	sodium_bin2base64(buf + *off, size - *off, bin, len, sodium_base64_VARIANT_ORIGINAL);
	*off += strlen(buf + *off);
	buf[(*off)++] = '\n';
	buf[*off] = 0;
	return 0;
}

static int
append_str(char *buf, size_t size, size_t *off, const char *a, const char *b)
{
	int r = xsnprintf(buf + *off, size - *off, "%s%s\n", a, b);

	if (r < 0)
		return -ENOBUFS;
	*off += (size_t)r;
	return 0;
}

/* Checks a first line "untrusted comment: ..." of a key or signature file. */
static int
check_untrusted_line(const char *s, size_t n, const char *what, struct rw_err *err)
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

static bool
comment_is_single_line(const char *c)
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
	if (!lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "public key: empty");
	if (n >= strlen(UNTRUSTED_PREFIX) - 1 &&
	        memcmp(s, UNTRUSTED_PREFIX, strlen(UNTRUSTED_PREFIX) - 1) == 0) {
		r = check_untrusted_line(s, n, "public key", err);
		if (r < 0)
			return r;
		if (!lines_next(&l, &s, &n))
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
	if (b64_decode_exact(s, n, &blob, sizeof(blob)) < 0)
		return rw_err_set(err, -EINVAL,
		        "public key: invalid base64 (expected %zu characters for %zu bytes)",
		        (size_t)B64_LEN(sizeof(blob)), sizeof(blob));
	if (memcmp(blob.sig_alg, SIGALG, 2) != 0)
		return rw_err_set(
		        err, -EPROTONOSUPPORT, "public key: unsupported signature algorithm");
	if (!lines_only_blank(&l))
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
	r = append_b64_line(buf, size, &off, &blob, sizeof(blob));
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret_text = buf;
	return 0;
}

/* ---- secret keys ---- */

static void
seckey_blob_wipe(struct seckey_blob *b)
{
	sodium_memzero(b, sizeof(*b));
}

void
minisign_seckey_wipe(struct minisign_seckey *sec)
{
	if (sec)
		sodium_memzero(sec, sizeof(*sec));
}

void
minisign_text_free(char *text)
{
	if (!text)
		return;
	sodium_memzero(text, strlen(text));
	free(text);
}

int
minisign_keygen(struct minisign_seckey *ret_sec, struct minisign_pubkey *ret_pub)
{
	struct minisign_pubkey pub;
	int r;

	r = sodium_ready(NULL);
	if (r < 0)
		return r;
	randombytes_buf(pub.keyid, sizeof(pub.keyid));
	memcpy(ret_sec->keyid, pub.keyid, sizeof(pub.keyid));
	if (crypto_sign_keypair(pub.pk, ret_sec->sk) != 0) {
		minisign_seckey_wipe(ret_sec);
		return -EIO;
	}
	if (ret_pub)
		*ret_pub = pub;
	return 0;
}

void
minisign_seckey_pubkey(const struct minisign_seckey *sec, struct minisign_pubkey *ret_pub)
{
	memcpy(ret_pub->keyid, sec->keyid, sizeof(ret_pub->keyid));
	crypto_sign_ed25519_sk_to_pk(ret_pub->pk, sec->sk);
}

/* BLAKE2b-256(sig_alg || keyid || sk), minisign's secret key checksum. */
static void
seckey_checksum(const struct seckey_blob *b, uint8_t out[static crypto_generichash_BYTES])
{
	crypto_generichash_state hs;

	crypto_generichash_init(&hs, NULL, 0, crypto_generichash_BYTES);
	crypto_generichash_update(&hs, b->sig_alg, sizeof(b->sig_alg));
	crypto_generichash_update(&hs, b->keynum_sk.keyid, sizeof(b->keynum_sk.keyid));
	crypto_generichash_update(&hs, b->keynum_sk.sk, sizeof(b->keynum_sk.sk));
	crypto_generichash_final(&hs, out, crypto_generichash_BYTES);
	sodium_memzero(&hs, sizeof(hs));
}

/* XORs keynum_sk with scrypt(password, salt, opslimit, memlimit), exactly as
 * minisign does: libsodium's crypto_pwhash_scryptsalsa208sha256() derives
 * N, r and p from opslimit and memlimit (pickparams) and runs the _ll
 * function, so keys interoperate in both directions. */
static int
keynum_sk_xor_stream(struct seckey_blob *b, const char *password)
{
	uint8_t stream[sizeof(struct keynum_sk)];
	uint8_t *p = (uint8_t *)&b->keynum_sk;

	if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof(stream), password, strlen(password),
	            b->kdf_salt, (unsigned long long)le64_load(b->kdf_opslimit_le),
	            (size_t)le64_load(b->kdf_memlimit_le)) != 0) {
		sodium_memzero(stream, sizeof(stream));
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(stream); i++)
		p[i] ^= stream[i];
	sodium_memzero(stream, sizeof(stream));
	return 0;
}

int
minisign_seckey_format(const struct minisign_seckey *sec, const char *password,
        const struct minisign_kdf_limits *limits, char **ret_text, struct rw_err *err)
{
	_cleanup_(seckey_blob_wipe) struct seckey_blob b = {0};
	struct minisign_kdf_limits lim = limits ? *limits : MINISIGN_KDF_SENSITIVE;
	size_t size = 512, off = 0;
	char *buf;
	int r;

	r = sodium_ready(err);
	if (r < 0)
		return r;
	if (password && strlen(password) > MINISIGN_PASSWORD_MAX)
		return rw_err_set(
		        err, -EINVAL, "password longer than %d bytes", MINISIGN_PASSWORD_MAX);
	memcpy(b.sig_alg, SIGALG, 2);
	memcpy(b.kdf_alg, password ? KDFALG : KDFNONE, 2);
	memcpy(b.chk_alg, CHKALG, 2);
	memcpy(b.keynum_sk.keyid, sec->keyid, sizeof(sec->keyid));
	memcpy(b.keynum_sk.sk, sec->sk, sizeof(sec->sk));
	seckey_checksum(&b, b.keynum_sk.chk);
	if (password) {
		randombytes_buf(b.kdf_salt, sizeof(b.kdf_salt));
		/* Like minisign: halve the cost until the machine can afford it. */
		for (;;) {
			le64_store(b.kdf_opslimit_le, lim.opslimit);
			le64_store(b.kdf_memlimit_le, lim.memlimit);
			r = keynum_sk_xor_stream(&b, password);
			if (r == 0)
				break;
			lim.opslimit /= 2;
			lim.memlimit /= 2;
			if (lim.opslimit < crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN ||
			        lim.memlimit < crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN)
				return rw_err_set(err, -ENOMEM,
				        "not enough memory to derive a key from the password");
		}
	}
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	r = append_str(buf, size, &off, UNTRUSTED_PREFIX,
	        password ? "rollwave encrypted secret key" : "rollwave unencrypted secret key");
	if (r >= 0)
		r = append_b64_line(buf, size, &off, &b, sizeof(b));
	if (r < 0) {
		sodium_memzero(buf, size);
		free(buf);
		return rw_err_set(err, r, "cannot format secret key");
	}
	*ret_text = buf;
	return 0;
}

int
minisign_seckey_parse(const char *text, size_t len, const char *password,
        struct minisign_seckey *ret, struct rw_err *err)
{
	_cleanup_(seckey_blob_wipe) struct seckey_blob b;
	struct lines l = {text, text + len};
	uint8_t chk[crypto_generichash_BYTES], pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk2[crypto_sign_SECRETKEYBYTES];
	bool encrypted;
	const char *s;
	size_t n;
	int r;

	memset(&b, 0, sizeof(b));
	r = sodium_ready(err);
	if (r < 0)
		return r;
	if (len > MINISIGN_FILE_MAX)
		return rw_err_set(
		        err, -EFBIG, "secret key: larger than %d bytes", MINISIGN_FILE_MAX);
	if (!lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "secret key: empty");
	r = check_untrusted_line(s, n, "secret key", err);
	if (r < 0)
		return r;
	if (!lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "secret key: missing key line");
	if (b64_decode_exact(s, n, &b, sizeof(b)) < 0)
		return rw_err_set(err, -EINVAL, "secret key: invalid base64 (not a secret key?)");
	if (!lines_only_blank(&l))
		return rw_err_set(err, -EINVAL, "secret key: unexpected data after the key");
	if (memcmp(b.sig_alg, SIGALG, 2) != 0)
		return rw_err_set(
		        err, -EPROTONOSUPPORT, "secret key: unsupported signature algorithm");
	if (memcmp(b.chk_alg, CHKALG, 2) != 0)
		return rw_err_set(
		        err, -EPROTONOSUPPORT, "secret key: unsupported checksum algorithm");
	if (memcmp(b.kdf_alg, KDFALG, 2) == 0)
		encrypted = true;
	else if (memcmp(b.kdf_alg, KDFNONE, 2) == 0)
		encrypted = false;
	else
		return rw_err_set(
		        err, -EPROTONOSUPPORT, "secret key: unsupported key derivation function");

	if (encrypted) {
		uint64_t ops = le64_load(b.kdf_opslimit_le), mem = le64_load(b.kdf_memlimit_le);

		if (!password)
			return rw_err_set(
			        err, -ENOKEY, "secret key is encrypted and no password was given");
		if (strlen(password) > MINISIGN_PASSWORD_MAX)
			return rw_err_set(err, -EINVAL, "password longer than %d bytes",
			        MINISIGN_PASSWORD_MAX);
		if (mem > KDF_MEMLIMIT_MAX || ops > KDF_OPSLIMIT_MAX)
			return rw_err_set(err, -E2BIG,
			        "secret key: key derivation cost too high (memlimit %" PRIu64
			        ", opslimit %" PRIu64 ")",
			        mem, ops);
		r = keynum_sk_xor_stream(&b, password);
		if (r < 0)
			return rw_err_set(
			        err, r, "cannot derive a key from the password (out of memory?)");
	}
	seckey_checksum(&b, chk);
	r = sodium_memcmp(chk, b.keynum_sk.chk, sizeof(chk));
	sodium_memzero(chk, sizeof(chk));
	/* minisign -W (0.11) leaves the checksum of unencrypted keys all zero and
	 * never checks it; the key pair consistency check below still applies. */
	if (r != 0 && !encrypted && sodium_is_zero(b.keynum_sk.chk, sizeof(b.keynum_sk.chk)))
		r = 0;
	if (r != 0) {
		if (encrypted)
			return rw_err_set(err, -EKEYREJECTED, "wrong password for that secret key");
		return rw_err_set(err, -EBADMSG, "secret key: checksum mismatch (corrupted key)");
	}
	/* The stored public half must be the one the seed generates. */
	crypto_sign_seed_keypair(pk, sk2, b.keynum_sk.sk);
	r = sodium_memcmp(sk2, b.keynum_sk.sk, sizeof(sk2));
	sodium_memzero(sk2, sizeof(sk2));
	if (r != 0)
		return rw_err_set(err, -EBADMSG, "secret key: inconsistent key pair");
	memcpy(ret->keyid, b.keynum_sk.keyid, sizeof(ret->keyid));
	memcpy(ret->sk, b.keynum_sk.sk, sizeof(ret->sk));
	return 0;
}

static void
text_freep(char **p)
{
	minisign_text_free(*p);
}

int
minisign_seckey_load(
        const char *path, const char *password, struct minisign_seckey *ret, struct rw_err *err)
{
	_cleanup_(text_freep) char *buf = NULL;
	size_t len;
	int r;

	r = read_full_file(path, MINISIGN_FILE_MAX, false, &buf, &len);
	if (r == -EFBIG)
		return rw_err_set(err, r, "%s: larger than %d bytes, not a secret key", path,
		        MINISIGN_FILE_MAX);
	if (r < 0)
		return rw_err_set(err, r, "cannot read %s: %s", path, strerror(-r));
	r = minisign_seckey_parse(buf, len, password, ret, err);
	if (r < 0)
		return rw_err_prefix(err, r, "%s", path);
	return 0;
}

/* Writes data to path through a temporary file; without replace, fails with
 * -EEXIST instead of replacing an existing path (link() does not replace). */
static int
write_key_file(const char *path, const char *data, mode_t mode, bool replace)
{
	char tmp[PATH_MAX];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(data), off = 0;
	int r;

	r = xsnprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if (r < 0)
		return r;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t k = write(fd, data + off, len - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto fail;
		}
		off += (size_t)k;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (replace)
		r = rename(tmp, path) < 0 ? -errno : 0;
	else {
		r = link(tmp, path) < 0 ? -errno : 0;
		unlink(tmp);
	}
	if (r < 0)
		goto fail;
	return 0;
fail:
	unlink(tmp);
	return r;
}

static int
fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash)
		return fsync_path(".");
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = 0;
	return fsync_path(dir);
}

int
minisign_keygen_files(const char *pubpath, const char *secpath, const char *password, bool force,
        struct minisign_pubkey *ret_pub, struct rw_err *err)
{
	_cleanup_seckey_ struct minisign_seckey sec;
	_cleanup_(text_freep) char *sectext = NULL;
	_cleanup_free_ char *pubtext = NULL;
	struct minisign_pubkey pub;
	struct stat st;
	int r;

	memset(&sec, 0, sizeof(sec));
	if (!force) {
		if (lstat(pubpath, &st) == 0)
			return rw_err_set(
			        err, -EEXIST, "%s already exists (force to overwrite)", pubpath);
		if (lstat(secpath, &st) == 0)
			return rw_err_set(
			        err, -EEXIST, "%s already exists (force to overwrite)", secpath);
	}
	r = minisign_keygen(&sec, &pub);
	if (r < 0)
		return rw_err_set(err, r, "cannot generate a key pair");
	r = minisign_seckey_format(&sec, password, NULL, &sectext, err);
	if (r < 0)
		return r;
	r = minisign_pubkey_format(&pub, &pubtext);
	if (r < 0)
		return rw_err_set(err, r, "cannot format public key");

	r = write_key_file(secpath, sectext, 0600, force);
	if (r == -EEXIST)
		return rw_err_set(err, r, "%s already exists (force to overwrite)", secpath);
	if (r < 0)
		return rw_err_set(err, r, "cannot write %s: %s", secpath, strerror(-r));
	r = write_key_file(pubpath, pubtext, 0644, force);
	if (r < 0) {
		unlink(secpath);
		if (r == -EEXIST)
			return rw_err_set(
			        err, r, "%s already exists (force to overwrite)", pubpath);
		return rw_err_set(err, r, "cannot write %s: %s", pubpath, strerror(-r));
	}
	r = fsync_parent(secpath);
	if (r >= 0)
		r = fsync_parent(pubpath);
	if (r < 0)
		return rw_err_set(err, r, "cannot sync key directory: %s", strerror(-r));
	if (ret_pub)
		*ret_pub = pub;
	return 0;
}

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
	if (!lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "signature: empty");
	r = check_untrusted_line(s, n, "signature", err);
	if (r < 0)
		return r;
	if (!lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "signature: truncated (no signature line)");
	if (b64_decode_exact(s, n, &blob, sizeof(blob)) < 0)
		return rw_err_set(err, -EINVAL, "signature: invalid base64 in signature line");
	if (memcmp(blob.sig_alg, SIGALG, 2) == 0)
		return rw_err_set(err, -EPROTONOSUPPORT,
		        "signature: legacy non-prehashed signature refused (sign with minisign "
		        "0.10 or later, without -l)");
	if (memcmp(blob.sig_alg, SIGALG_HASHED, 2) != 0)
		return rw_err_set(
		        err, -EPROTONOSUPPORT, "signature: unsupported signature algorithm");
	if (!lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "signature: truncated (no trusted comment)");
	if (n < tplen || memcmp(s, TRUSTED_PREFIX, tplen) != 0)
		return rw_err_set(
		        err, -EINVAL, "signature: third line must start with '%s'", TRUSTED_PREFIX);
	tc = s + tplen;
	tclen = n - tplen;
	r = check_trusted_comment(tc, tclen, err);
	if (r < 0)
		return rw_err_prefix(err, r, "signature");
	if (!lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "signature: truncated (no global signature)");
	if (b64_decode_exact(s, n, global_sig, sizeof(global_sig)) < 0)
		return rw_err_set(err, -EINVAL, "signature: invalid base64 in global signature");
	if (!lines_only_blank(&l))
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

	r = sodium_ready(err);
	if (r < 0)
		return r;
	if (!trusted_comment) {
		snprintf(deftc, sizeof(deftc), "timestamp:%lld", (long long)time(NULL));
		trusted_comment = deftc;
	}
	if (!untrusted_comment)
		untrusted_comment = "signature from rollwave secret key";
	if (!comment_is_single_line(trusted_comment) || !comment_is_single_line(untrusted_comment))
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
	r = append_str(buf, size, &off, UNTRUSTED_PREFIX, untrusted_comment);
	if (r >= 0)
		r = append_b64_line(buf, size, &off, &blob, sizeof(blob));
	if (r >= 0)
		r = append_str(buf, size, &off, TRUSTED_PREFIX, trusted_comment);
	if (r >= 0)
		r = append_b64_line(buf, size, &off, global_sig, sizeof(global_sig));
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

	r = sodium_ready(err);
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
