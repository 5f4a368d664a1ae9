/*
 * blake2b: the one streaming BLAKE2b-512 of rollwave (unkeyed, 64-byte
 * output: the digest `b2sum` prints, minisign prehashes with, and manifests
 * record as Blake2b=).
 *
 * It runs on OpenSSL libcrypto's EVP_blake2b512(), which hashes at b2sum's
 * speed, about 1.7x libsodium's crypto_generichash on our machines; the
 * digests are identical. libsodium stays for everything else (Ed25519,
 * scrypt, minisign's 32-byte key checksum).
 *
 * Library code: nothing here logs. Functions that can fail return 0 or
 * -errno: -ENOMEM; -EOPNOTSUPP when libcrypto cannot set up BLAKE2b-512 (a
 * build without it, a provider configuration that hides it); -EIO when
 * libcrypto fails later; the read error of an fd.
 * A context belongs to one thread at a time; different contexts may be used
 * from different threads at once (libcrypto initialises itself once).
 */
#ifndef ROLLWAVE_BLAKE2B_H
#define ROLLWAVE_BLAKE2B_H

#include <stddef.h>
#include <stdint.h>

#define BLAKE2B512_BYTES     64
#define BLAKE2B512_READ_SIZE (1024 * 1024) /* read size of the _fd helpers */

/* Opaque: wraps a libcrypto EVP_MD_CTX, so callers need no OpenSSL headers. */
struct blake2b512;

/* Allocates a context, ready for blake2b512_update(). Free it with
 * blake2b512_free(). -ENOMEM, or -EOPNOTSUPP if libcrypto lacks BLAKE2b-512. */
int blake2b512_new(struct blake2b512 **ret);

/* Frees h (NULL is fine) and returns NULL. */
struct blake2b512 *blake2b512_free(struct blake2b512 *h);
static inline void
blake2b512_freep(struct blake2b512 **h)
{
	blake2b512_free(*h);
}
#define _cleanup_blake2b512_ __attribute__((cleanup(blake2b512_freep)))

/* Feeds len bytes (len may be 0). -EIO if libcrypto fails. */
int blake2b512_update(struct blake2b512 *h, const void *data, size_t len);

/* Writes the digest of everything fed so far to ret and re-initialises h
 * for a new message (so one context may hash several). -EIO on failure,
 * with ret untouched (and h unusable: free it). */
int blake2b512_final(struct blake2b512 *h, uint8_t ret[static BLAKE2B512_BYTES]);

/* One-shot digest of a buffer. */
int blake2b512_buffer(const void *data, size_t len, uint8_t ret[static BLAKE2B512_BYTES]);

/* Digest of everything readable from fd's current offset to EOF, in
 * BLAKE2B512_READ_SIZE reads after POSIX_FADV_SEQUENTIAL advice (ignored on
 * pipes). Does not close fd; retries EINTR. ret_size (may be NULL) receives
 * the number of bytes hashed. Errors: -EBADF for fd < 0, the read's -errno,
 * -ENOMEM, -EOPNOTSUPP, -EIO. Outputs are set only on success. */
int blake2b512_fd_size(int fd, uint8_t ret[static BLAKE2B512_BYTES], uint64_t *ret_size);

/* blake2b512_fd_size() without the size (also declared in fetch.h). */
int blake2b512_fd(int fd, uint8_t ret[static BLAKE2B512_BYTES]);

#endif
