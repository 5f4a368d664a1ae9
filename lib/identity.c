/*
 * identity: Ed25519 identity keys and the pinned coordinator key. See
 * identity.h for the file formats and the checks made on load.
 *
 * Invariants: a key file is only ever created whole (temp file, fsync,
 * rename that never replaces an existing key, fsync of the directory), never
 * rewritten in place; a file that fails a check is left alone. Every buffer
 * that held the seed or the secret key is wiped before it is freed.
 */
#include "identity.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>

#define KEY_FILE_MAX 4096 /* both formats are well under 200 bytes */

/* A read buffer that may hold a secret: wiped, then freed. */
struct secret_buf {
	char *data;
	size_t len;
};

static void
secret_buf_done(struct secret_buf *b)
{
	if (b->data) {
		sodium_memzero(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

void
identity_done(struct identity *id)
{
	if (id)
		sodium_memzero(id, sizeof(*id));
}

static int
identity_sodium_init(struct rw_err *err)
{
	if (sodium_init() < 0)
		return rw_err_set(err, -EIO, "libsodium failed to initialise");
	return 0;
}

/* Directory part of path ("." when there is none) into buf. */
static int
path_dirname(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xsnprintf(buf, size, ".");
	if (slash == path)
		return xsnprintf(buf, size, "/");
	return xsnprintf(buf, size, "%.*s", (int)(slash - path), path);
}

/* Opens path without following a symlink, checks that it is a regular file
 * owned by the current uid whose mode has none of the bad_mode bits, and
 * reads it whole into ret. what names the file in messages. */
static int
key_file_read(const char *path, const char *what, mode_t bad_mode, struct secret_buf *ret,
        struct rw_err *err)
{
	_cleanup_close_ int fd = -1;
	struct secret_buf b = {0};
	struct stat st;
	size_t cap = KEY_FILE_MAX + 1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int r = -errno;

		if (r == -ELOOP)
			return rw_err_set(err, r,
			        "%s '%s' is a symbolic link; refusing to follow it", what, path);
		if (r == -ENOENT)
			return rw_err_set(err, r, "%s '%s' does not exist", what, path);
		return rw_err_set(err, r, "cannot open %s '%s': %s", what, path, strerror(-r));
	}
	if (fstat(fd, &st) < 0)
		return rw_err_set(err, -errno, "cannot stat %s '%s': %m", what, path);
	if (!S_ISREG(st.st_mode))
		return rw_err_set(err, -EPERM, "%s '%s' is not a regular file", what, path);
	if (st.st_uid != geteuid())
		return rw_err_set(err, -EPERM,
		        "%s '%s' is owned by uid %u, not by the current uid %u; refusing to use it",
		        what, path, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & bad_mode)
		return rw_err_set(err, -EPERM,
		        "%s '%s' has mode %04o: it must not be %s by group or others "
		        "(chmod %s it)",
		        what, path, (unsigned)(st.st_mode & 07777),
		        (bad_mode & 044) ? "readable or writable" : "writable",
		        (bad_mode & 044) ? "600" : "go-w");
	if (st.st_size > KEY_FILE_MAX)
		return rw_err_set(err, -EBADMSG,
		        "%s '%s' is too large (%lld bytes) to be a key file", what, path,
		        (long long)st.st_size);

	b.data = malloc(cap);
	if (!b.data)
		return rw_err_set(err, -ENOMEM, "out of memory");
	for (;;) {
		ssize_t n = read(fd, b.data + b.len, cap - 1 - b.len);

		if (n < 0) {
			int r = -errno;

			if (r == -EINTR)
				continue;
			secret_buf_done(&b);
			return rw_err_set(
			        err, r, "cannot read %s '%s': %s", what, path, strerror(-r));
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		if (b.len >= cap - 1) {
			secret_buf_done(&b);
			return rw_err_set(
			        err, -EBADMSG, "%s '%s' is too large to be a key file", what, path);
		}
	}
	b.data[b.len] = 0;
	*ret = b;
	return 0;
}

/* Splits "header\nvalue[\n]" (the shape of both key files) and returns the
 * value line in *ret_value / *ret_value_len, pointing into buf. */
static int
key_file_split(const char *path, const char *what, const char *header, const char *buf, size_t len,
        const char **ret_value, size_t *ret_value_len, struct rw_err *err)
{
	size_t hl = strlen(header);
	const char *value, *nl, *end = buf + len;

	if (memchr(buf, 0, len))
		return rw_err_set(err, -EBADMSG, "%s '%s' contains a NUL byte", what, path);
	if (len < hl + 1 || memcmp(buf, header, hl) != 0 || buf[hl] != '\n')
		return rw_err_set(err, -EBADMSG,
		        "%s '%s' does not start with the line '%s' (not a rollwave key file, or "
		        "a newer format)",
		        what, path, header);
	value = buf + hl + 1;
	nl = memchr(value, '\n', (size_t)(end - value));
	if (nl && nl + 1 != end)
		return rw_err_set(
		        err, -EBADMSG, "%s '%s' has unexpected content after line 2", what, path);
	*ret_value = value;
	*ret_value_len = (size_t)((nl ? nl : end) - value);
	return 0;
}

static int
identity_parse(
        const char *path, const char *buf, size_t len, struct identity *ret, struct rw_err *err)
{
	/* Room for more than a seed, so that a wrong length is told apart from bad
	 * base64. */
	uint8_t seed[2 * IDENTITY_SEED_BYTES];
	const char *b64, *b64_end;
	size_t b64_len, seed_len = 0;
	int r;

	r = key_file_split(
	        path, "identity key file", IDENTITY_FILE_HEADER, buf, len, &b64, &b64_len, err);
	if (r < 0)
		return r;
	if (b64_len == 0)
		return rw_err_set(
		        err, -EBADMSG, "identity key file '%s' has no key on line 2", path);
	if (b64_len > sodium_base64_ENCODED_LEN(sizeof(seed), sodium_base64_VARIANT_ORIGINAL))
		return rw_err_set(err, -EBADMSG,
		        "identity key file '%s': the key on line 2 is too long (%zu characters, "
		        "expected %zu)",
		        path, b64_len,
		        (size_t)sodium_base64_ENCODED_LEN(
		                IDENTITY_SEED_BYTES, sodium_base64_VARIANT_ORIGINAL) -
		                1);
	if (sodium_base642bin(seed, sizeof(seed), b64, b64_len, NULL, &seed_len, &b64_end,
	            sodium_base64_VARIANT_ORIGINAL) != 0 ||
	        b64_end != b64 + b64_len) {
		sodium_memzero(seed, sizeof(seed));
		return rw_err_set(
		        err, -EBADMSG, "identity key file '%s': line 2 is not valid base64", path);
	}
	if (seed_len != IDENTITY_SEED_BYTES) {
		sodium_memzero(seed, sizeof(seed));
		return rw_err_set(err, -EBADMSG,
		        "identity key file '%s': the key is %zu bytes long, expected %d", path,
		        seed_len, IDENTITY_SEED_BYTES);
	}
	if (crypto_sign_seed_keypair(ret->pk, ret->sk, seed) != 0) {
		sodium_memzero(seed, sizeof(seed));
		return rw_err_set(
		        err, -EIO, "identity key file '%s': cannot derive the key pair", path);
	}
	sodium_memzero(seed, sizeof(seed));
	return 0;
}

static int
identity_load(const char *path, struct identity *ret, struct rw_err *err)
{
	struct secret_buf b = {0};
	struct identity id;
	int r;

	r = key_file_read(path, "identity key file", S_IRWXG | S_IRWXO, &b, err);
	if (r < 0)
		return r;
	r = identity_parse(path, b.data, b.len, &id, err);
	secret_buf_done(&b);
	if (r < 0)
		return r;
	*ret = id;
	identity_done(&id);
	return 0;
}

/* Writes the whole buffer to fd. */
static int
write_all(int fd, const void *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Moves tmp to path unless path exists (-EEXIST then). */
static int
rename_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	/* A file system without RENAME_NOREPLACE: link() never replaces either. */
	if (link(tmp, path) < 0)
		return -errno;
	if (unlink(tmp) < 0)
		return -errno;
	return 0;
}

/* Makes a new key and stores it at path without replacing an existing file.
 * -EEXIST if a key appeared there meanwhile. */
static int
identity_create(const char *path, struct identity *ret, struct rw_err *err)
{
	uint8_t seed[IDENTITY_SEED_BYTES];
	char b64[sodium_base64_ENCODED_LEN(IDENTITY_SEED_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	char text[sizeof(IDENTITY_FILE_HEADER) + sizeof(b64) + 2];
	char tmp[PATH_MAX], dir[PATH_MAX];
	_cleanup_close_ int fd = -1;
	struct identity id;
	int r, n;

	r = path_dirname(path, dir, sizeof(dir));
	if (r < 0)
		return rw_err_set(err, r, "identity key path '%s' is too long", path);
	for (int attempt = 0;; attempt++) {
		r = xsnprintf(tmp, sizeof(tmp), "%s.tmp-%08" PRIx32, path, randombytes_random());
		if (r < 0)
			return rw_err_set(err, r, "identity key path '%s' is too long", path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || attempt >= 16)
			return rw_err_set(err, -errno, "cannot create '%s': %m", tmp);
	}

	randombytes_buf(seed, sizeof(seed));
	if (crypto_sign_seed_keypair(id.pk, id.sk, seed) != 0) {
		r = rw_err_set(err, -EIO, "cannot derive an Ed25519 key pair");
		goto fail;
	}
	sodium_bin2base64(b64, sizeof(b64), seed, sizeof(seed), sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(text, sizeof(text), "%s\n%s\n", IDENTITY_FILE_HEADER, b64);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		r = rw_err_set(err, -EINVAL, "identity key text does not fit");
		goto fail;
	}
	/* The mode given to open() is cut by the umask; make it exactly 0600. */
	r = fchmod(fd, 0600) < 0 ? -errno : write_all(fd, text, (size_t)n);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		r = rw_err_set(err, r, "cannot write '%s': %s", tmp, strerror(-r));
		goto fail;
	}
	if (close(TAKE_FD(fd)) < 0) {
		r = rw_err_set(err, -errno, "cannot write '%s': %m", tmp);
		goto fail;
	}
	r = rename_noreplace(tmp, path);
	if (r == -EEXIST) {
		unlink(tmp);
		goto wipe;
	}
	if (r < 0) {
		r = rw_err_set(err, r, "cannot move '%s' to '%s': %s", tmp, path, strerror(-r));
		goto fail;
	}
	r = fsync_path(dir);
	if (r < 0) {
		r = rw_err_set(err, r, "cannot sync directory '%s': %s", dir, strerror(-r));
		goto wipe;
	}
	*ret = id;
	r = 0;
	goto wipe;
fail:
	unlink(tmp);
wipe:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(b64, sizeof(b64));
	sodium_memzero(text, sizeof(text));
	identity_done(&id);
	return r;
}

int
identity_load_or_create(
        const char *path, struct identity *ret, bool *ret_created, struct rw_err *err)
{
	struct identity id;
	int r;

	r = identity_sodium_init(err);
	if (r < 0)
		return r;
	if (isempty(path))
		return rw_err_set(err, -EINVAL, "no identity key path given");

	/* Two rounds: if another process creates the key between our failed
	 * open and our rename, we load the key it made. */
	for (int round = 0; round < 2; round++) {
		r = identity_load(path, &id, err);
		if (r >= 0) {
			*ret = id;
			identity_done(&id);
			if (ret_created)
				*ret_created = false;
			return 0;
		}
		if (r != -ENOENT)
			return r;
		r = identity_create(path, &id, err);
		if (r >= 0) {
			*ret = id;
			identity_done(&id);
			if (ret_created)
				*ret_created = true;
			return 0;
		}
		if (r != -EEXIST)
			return r;
	}
	return rw_err_set(err, -EEXIST, "identity key file '%s' keeps changing", path);
}

void
identity_public_hex(const uint8_t pk[static IDENTITY_PUBLIC_KEY_BYTES],
        char out[static IDENTITY_PUBLIC_HEX_SIZE])
{
	hex_encode(pk, IDENTITY_PUBLIC_KEY_BYTES, out);
}

void
identity_fingerprint(const uint8_t pk[static IDENTITY_PUBLIC_KEY_BYTES],
        char out[static IDENTITY_FINGERPRINT_SIZE])
{
	uint8_t h[crypto_generichash_BYTES_MAX]; /* 64: BLAKE2b-512, as b2sum */
	char hex[2 * 8 + 1];

	/* crypto_generichash cannot fail with these lengths; sodium_init() is
	 * not needed for it. */
	crypto_generichash(h, sizeof(h), pk, IDENTITY_PUBLIC_KEY_BYTES, NULL, 0);
	hex_encode(h, 8, hex);
	memcpy(out, "ed25519:", 8);
	memcpy(out + 8, hex, sizeof(hex));
}

void
identity_sign(const struct identity *id, const void *msg, size_t len,
        uint8_t sig[static IDENTITY_SIGNATURE_BYTES])
{
	crypto_sign_detached(sig, NULL, msg, len, id->sk);
}

int
identity_verify(const uint8_t pk[static IDENTITY_PUBLIC_KEY_BYTES], const void *msg, size_t len,
        const uint8_t sig[static IDENTITY_SIGNATURE_BYTES])
{
	if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
		return -EBADMSG;
	return 0;
}

int
identity_pin_load(
        const char *path, uint8_t ret_pk[static IDENTITY_PUBLIC_KEY_BYTES], struct rw_err *err)
{
	struct secret_buf b = {0};
	uint8_t pk[IDENTITY_PUBLIC_KEY_BYTES];
	char hex[IDENTITY_PUBLIC_HEX_SIZE];
	const char *value;
	size_t value_len;
	int r;

	if (isempty(path))
		return rw_err_set(err, -EINVAL, "no pinned key path given");
	r = key_file_read(path, "pinned key file", S_IWGRP | S_IWOTH, &b, err);
	if (r < 0)
		return r;
	r = key_file_split(path, "pinned key file", IDENTITY_PIN_HEADER, b.data, b.len, &value,
	        &value_len, err);
	if (r < 0)
		goto out;
	if (value_len != 2 * IDENTITY_PUBLIC_KEY_BYTES) {
		r = rw_err_set(err, -EBADMSG,
		        "pinned key file '%s': line 2 must be %d hex digits, it has %zu characters",
		        path, 2 * IDENTITY_PUBLIC_KEY_BYTES, value_len);
		goto out;
	}
	memcpy(hex, value, value_len);
	hex[value_len] = 0;
	if (hex_decode(hex, pk, sizeof(pk)) < 0) {
		r = rw_err_set(err, -EBADMSG, "pinned key file '%s': line 2 is not hex", path);
		goto out;
	}
	memcpy(ret_pk, pk, sizeof(pk));
	r = 0;
out:
	secret_buf_done(&b);
	return r;
}

int
identity_pin_store(
        const char *path, const uint8_t pk[static IDENTITY_PUBLIC_KEY_BYTES], struct rw_err *err)
{
	char hex[IDENTITY_PUBLIC_HEX_SIZE];
	char text[sizeof(IDENTITY_PIN_HEADER) + sizeof(hex) + 2];
	int r, n;

	if (isempty(path))
		return rw_err_set(err, -EINVAL, "no pinned key path given");
	identity_public_hex(pk, hex);
	n = snprintf(text, sizeof(text), "%s\n%s\n", IDENTITY_PIN_HEADER, hex);
	if (n < 0 || (size_t)n >= sizeof(text))
		return rw_err_set(err, -EINVAL, "pinned key text does not fit");
	r = write_file_atomic(path, text, (size_t)n, 0600);
	if (r < 0)
		return rw_err_set(
		        err, r, "cannot write pinned key file '%s': %s", path, strerror(-r));
	return 0;
}
