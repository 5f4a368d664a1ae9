/*
 * identity: the Ed25519 keys that agents and the coordinator identify
 * themselves with, and the coordinator key an agent pins.
 *
 * Secret key file (mode 0600, owned by the user that loads it), two lines:
 *
 *     rollwave identity v1
 *     <base64 (RFC 4648, with padding) of the 32-byte Ed25519 seed>
 *
 * The key pair is derived from the seed (crypto_sign_seed_keypair), so the
 * file never holds more than the seed. A file that is a symlink, not a
 * regular file, not owned by the current uid, readable or writable by group
 * or others, or that does not parse exactly, is refused with a message that
 * names the file and says why; it is never rewritten.
 *
 * Pinned key file (mode 0600, beside the identity key; the agent stores the
 * coordinator key it learnt at enrolment), two lines:
 *
 *     rollwave pinned key v1
 *     <64 lowercase hex digits of the 32-byte Ed25519 public key>
 *
 * A pinned key file that is a symlink, not owned by the current uid, or
 * writable by group or others is refused (it is public, but whoever can
 * change it can make the agent obey another coordinator).
 *
 * Fingerprint: "ed25519:" + the first 16 hex digits of BLAKE2b-512 of the 32
 * raw public key bytes (what `b2sum` prints for a file holding them). It
 * names a key for people (`rollwave hosts`); compare full keys in code.
 *
 * Library code: nothing here logs. Functions that can fail return 0 or
 * -errno and describe the failure in err; ret_* outputs are written only on
 * success. Secrets are wiped (sodium_memzero) from every buffer this module
 * uses; the caller wipes its struct identity with identity_done().
 */
#ifndef ROLLWAVE_IDENTITY_H
#define ROLLWAVE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define IDENTITY_PUBLIC_KEY_BYTES 32
#define IDENTITY_SECRET_KEY_BYTES 64
#define IDENTITY_SEED_BYTES       32
#define IDENTITY_SIGNATURE_BYTES  64
/* 64 hex digits and a NUL. */
#define IDENTITY_PUBLIC_HEX_SIZE (2 * IDENTITY_PUBLIC_KEY_BYTES + 1)
/* "ed25519:" + 16 hex digits + NUL. */
#define IDENTITY_FINGERPRINT_SIZE (8 + 16 + 1)

#define IDENTITY_FILE_HEADER "rollwave identity v1"
#define IDENTITY_PIN_HEADER  "rollwave pinned key v1"

struct identity {
	uint8_t pk[IDENTITY_PUBLIC_KEY_BYTES];
	uint8_t sk[IDENTITY_SECRET_KEY_BYTES]; /* libsodium layout: seed || pk */
};

/* Loads the identity key at path, or, if no file exists there, makes a new
 * one and writes it atomically (temp file created O_CREAT|O_EXCL|O_NOFOLLOW
 * with mode 0600, fsync, rename without replacing, fsync of the directory).
 * If another process creates the key at the same moment, its key is loaded.
 * The directory must exist. *ret_created (may be NULL) says whether a new
 * key was made. Errors: -ELOOP (path is a symlink), -EPERM (wrong owner or
 * mode), -EBADMSG (file does not parse), -EIO (libsodium failed to
 * initialise), other -errno of the file system. */
int identity_load_or_create(
        const char *path, struct identity *ret, bool *ret_created, struct rw_err *err);

/* Wipes the secret key (and the public one). id may be NULL. */
void identity_done(struct identity *id);

/* Lowercase hex of a public key; out holds IDENTITY_PUBLIC_HEX_SIZE bytes. */
void identity_public_hex(const uint8_t pk[static IDENTITY_PUBLIC_KEY_BYTES],
        char out[static IDENTITY_PUBLIC_HEX_SIZE]);

/* Fingerprint of a public key (see above); out holds
 * IDENTITY_FINGERPRINT_SIZE bytes. */
void identity_fingerprint(const uint8_t pk[static IDENTITY_PUBLIC_KEY_BYTES],
        char out[static IDENTITY_FINGERPRINT_SIZE]);

/* Ed25519 detached signature of msg (len bytes; msg may be NULL if len is 0)
 * with id's secret key. Cannot fail. */
void identity_sign(const struct identity *id, const void *msg, size_t len,
        uint8_t sig[static IDENTITY_SIGNATURE_BYTES]);

/* 0 if sig is pk's valid signature of msg, -EBADMSG otherwise. */
int identity_verify(const uint8_t pk[static IDENTITY_PUBLIC_KEY_BYTES], const void *msg, size_t len,
        const uint8_t sig[static IDENTITY_SIGNATURE_BYTES]);

/* Reads the pinned key file at path into ret_pk. -ENOENT when there is no
 * pin yet (err says so too); -ELOOP, -EPERM, -EBADMSG as above. */
int identity_pin_load(
        const char *path, uint8_t ret_pk[static IDENTITY_PUBLIC_KEY_BYTES], struct rw_err *err);

/* Writes pk as the pinned key at path atomically (mode 0600), replacing an
 * earlier pin. The directory must exist. */
int identity_pin_store(
        const char *path, const uint8_t pk[static IDENTITY_PUBLIC_KEY_BYTES], struct rw_err *err);

#endif
