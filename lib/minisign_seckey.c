/*
 * minisign_seckey: minisign secret keys: generated, encrypted with scrypt
 * and a password or left unencrypted, written 0600 and parsed back, wiped
 * on every path out. See minisign.h.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "ini.h"
#include "minisign_private.h"

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

	r = minisign_sodium_ready(NULL);
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
	            b->kdf_salt, (unsigned long long)minisign_le64_load(b->kdf_opslimit_le),
	            (size_t)minisign_le64_load(b->kdf_memlimit_le)) != 0) {
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

	r = minisign_sodium_ready(err);
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
			minisign_le64_store(b.kdf_opslimit_le, lim.opslimit);
			minisign_le64_store(b.kdf_memlimit_le, lim.memlimit);
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
	r = minisign_append_str(buf, size, &off, UNTRUSTED_PREFIX,
	        password ? "rollwave encrypted secret key" : "rollwave unencrypted secret key");
	if (r >= 0)
		r = minisign_append_b64_line(buf, size, &off, &b, sizeof(b));
	if (r < 0) {
		sodium_memzero(buf, size);
		free(buf);
		return rw_err_set(err, r, "cannot format secret key");
	}
	*ret_text = buf;
	return 0;
}

/* Reads the two lines of a secret key file into *b and says whether its key
 * is encrypted. */
static int
seckey_blob_read(const char *text, size_t len, struct seckey_blob *b, bool *ret_encrypted,
        struct rw_err *err)
{
	struct lines l = {text, text + len};
	const char *s;
	size_t n;
	int r;

	if (!minisign_lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "secret key: empty");
	r = minisign_check_untrusted_line(s, n, "secret key", err);
	if (r < 0)
		return r;
	if (!minisign_lines_next(&l, &s, &n))
		return rw_err_set(err, -EINVAL, "secret key: missing key line");
	if (minisign_b64_decode_exact(s, n, b, sizeof(*b)) < 0)
		return rw_err_set(err, -EINVAL, "secret key: invalid base64 (not a secret key?)");
	if (!minisign_lines_only_blank(&l))
		return rw_err_set(err, -EINVAL, "secret key: unexpected data after the key");
	if (memcmp(b->sig_alg, SIGALG, 2) != 0)
		return rw_err_set(
		        err, -EPROTONOSUPPORT, "secret key: unsupported signature algorithm");
	if (memcmp(b->chk_alg, CHKALG, 2) != 0)
		return rw_err_set(
		        err, -EPROTONOSUPPORT, "secret key: unsupported checksum algorithm");
	if (memcmp(b->kdf_alg, KDFALG, 2) == 0)
		*ret_encrypted = true;
	else if (memcmp(b->kdf_alg, KDFNONE, 2) == 0)
		*ret_encrypted = false;
	else
		return rw_err_set(
		        err, -EPROTONOSUPPORT, "secret key: unsupported key derivation function");
	return 0;
}

/* Decrypts the keynum_sk of an encrypted *b in place with password, within
 * the scrypt cost bounds. */
static int
seckey_blob_decrypt(struct seckey_blob *b, const char *password, struct rw_err *err)
{
	uint64_t ops = minisign_le64_load(b->kdf_opslimit_le),
	         mem = minisign_le64_load(b->kdf_memlimit_le);
	int r;

	if (!password)
		return rw_err_set(
		        err, -ENOKEY, "secret key is encrypted and no password was given");
	if (strlen(password) > MINISIGN_PASSWORD_MAX)
		return rw_err_set(
		        err, -EINVAL, "password longer than %d bytes", MINISIGN_PASSWORD_MAX);
	if (mem > KDF_MEMLIMIT_MAX || ops > KDF_OPSLIMIT_MAX)
		return rw_err_set(err, -E2BIG,
		        "secret key: key derivation cost too high (memlimit %" PRIu64
		        ", opslimit %" PRIu64 ")",
		        mem, ops);
	r = keynum_sk_xor_stream(b, password);
	if (r < 0)
		return rw_err_set(err, r, "cannot derive a key from the password (out of memory?)");
	return 0;
}

/* Checks the checksum of a decrypted *b and that its public half is the one
 * its seed generates. */
static int
seckey_blob_check(const struct seckey_blob *b, bool encrypted, struct rw_err *err)
{
	uint8_t chk[crypto_generichash_BYTES], pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk2[crypto_sign_SECRETKEYBYTES];
	int r;

	seckey_checksum(b, chk);
	r = sodium_memcmp(chk, b->keynum_sk.chk, sizeof(chk));
	sodium_memzero(chk, sizeof(chk));
	/* minisign -W (0.11) leaves the checksum of unencrypted keys all zero and
	 * never checks it; the key pair consistency check below still applies. */
	if (r != 0 && !encrypted && sodium_is_zero(b->keynum_sk.chk, sizeof(b->keynum_sk.chk)))
		r = 0;
	if (r != 0) {
		if (encrypted)
			return rw_err_set(err, -EKEYREJECTED, "wrong password for that secret key");
		return rw_err_set(err, -EBADMSG, "secret key: checksum mismatch (corrupted key)");
	}
	/* The stored public half must be the one the seed generates. */
	crypto_sign_seed_keypair(pk, sk2, b->keynum_sk.sk);
	r = sodium_memcmp(sk2, b->keynum_sk.sk, sizeof(sk2));
	sodium_memzero(sk2, sizeof(sk2));
	if (r != 0)
		return rw_err_set(err, -EBADMSG, "secret key: inconsistent key pair");
	return 0;
}

int
minisign_seckey_parse(const char *text, size_t len, const char *password,
        struct minisign_seckey *ret, struct rw_err *err)
{
	_cleanup_(seckey_blob_wipe) struct seckey_blob b;
	bool encrypted = false;
	int r;

	memset(&b, 0, sizeof(b));
	r = minisign_sodium_ready(err);
	if (r < 0)
		return r;
	if (len > MINISIGN_FILE_MAX)
		return rw_err_set(
		        err, -EFBIG, "secret key: larger than %d bytes", MINISIGN_FILE_MAX);
	r = seckey_blob_read(text, len, &b, &encrypted, err);
	if (r < 0)
		return r;
	if (encrypted) {
		r = seckey_blob_decrypt(&b, password, err);
		if (r < 0)
			return r;
	}
	r = seckey_blob_check(&b, encrypted, err);
	if (r < 0)
		return r;
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
