/*
 * fetch: download a release manifest or artifact, hashing every byte.
 *
 * Sources: "file:///abs/path" (optionally "file://localhost/..."; %XX
 * escapes are decoded), a plain absolute path "/abs/path" (both read
 * directly, no libcurl), and "http://" / "https://" through libcurl. No other
 * scheme is accepted, neither as the first URL nor as a redirect target
 * (redirects are followed, at most FETCH_MAX_REDIRECTS, http(s) only). HTTP
 * status >= 400 is an error naming the status.
 *
 * Every byte that arrives goes through BLAKE2b-512 (libsodium's
 * crypto_generichash with a 64-byte output, no key) and to the sink, in
 * order. A transfer stops as soon as more than the cap arrives; the rest is
 * never downloaded.
 *
 * Library code: nothing here logs. Errors are -errno with a message that
 * names the URL in *err (err may be NULL). Every function may block for up to
 * the configured timeouts and is safe to call from several threads at once
 * (each call uses its own transfer handle; global libcurl and libsodium
 * initialisation happens once, behind pthread_once).
 */
#ifndef ROLLWAVE_FETCH_H
#define ROLLWAVE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define FETCH_HASH_LEN      64 /* BLAKE2b-512 */
#define FETCH_MAX_REDIRECTS 5

struct fetch_opts {
	/* Refuse (-EFBIG) as soon as more than this many bytes arrive.
	 * UINT64_MAX: no cap. Artifacts pass their declared Size. */
	uint64_t max_size;
	/* 0 means libcurl's default (300 s). http(s) only. */
	uint64_t connect_timeout_usec;
	/* Whole transfer, redirects included. 0: no limit. http(s) only. */
	uint64_t total_timeout_usec;
	/* Abort (-ETIMEDOUT) when the average speed stays below
	 * low_speed_bytes_per_sec for low_speed_time_usec (rounded up to whole
	 * seconds, libcurl's granularity). Either 0: disabled. http(s) only. */
	uint64_t low_speed_bytes_per_sec;
	uint64_t low_speed_time_usec;
	/* PEM bundle of trusted CAs for https; NULL: the system store. */
	const char *ca_file;
};

/* Connect within 10 s, finish within 30 min, abort when below 1 KiB/s for
 * 30 s, no size cap. */
#define FETCH_OPTS_DEFAULT                                                                         \
	((struct fetch_opts) {                                                                     \
	        .max_size = UINT64_MAX,                                                            \
	        .connect_timeout_usec = 10 * USEC_PER_SEC,                                         \
	        .total_timeout_usec = 30 * 60 * USEC_PER_SEC,                                      \
	        .low_speed_bytes_per_sec = 1024,                                                   \
	        .low_speed_time_usec = 30 * USEC_PER_SEC,                                          \
	        .ca_file = NULL,                                                                   \
	})

/* Downloads url and writes every byte to out_fd (at its current offset,
 * retrying short writes and EINTR). o may be NULL for FETCH_OPTS_DEFAULT.
 * On success returns 0 and sets *ret_blake2b / *ret_size (each may be NULL)
 * to the BLAKE2b-512 and length of exactly the bytes written. On failure
 * out_fd may hold a partial download: the caller discards it.
 * Errors: -EFBIG more than o->max_size bytes (or a larger Content-Length),
 * -ETIMEDOUT connect/total timeout or minimum-speed abort, -ENOSPC/-EDQUOT
 * disk full while writing out_fd, -ENOENT missing file or HTTP 404/410,
 * -EACCES HTTP 401/403 or file permission, -EREMOTEIO other HTTP errors,
 * -EPROTONOSUPPORT a scheme (or a redirect to one) other than file/http(s),
 * -ELOOP too many redirects, -EINVAL malformed URL; other -errno from the
 * system or the network. */
int fetch_to_fd(const char *url, int out_fd, const struct fetch_opts *o,
        uint8_t ret_blake2b[FETCH_HASH_LEN], uint64_t *ret_size, struct rw_err *err);

/* Downloads url (at most max bytes, else -EFBIG; max overrides
 * o->max_size) into a malloc'd buffer that is NUL-terminated past *ret_len
 * bytes; the caller frees *ret_buf. For manifests and signatures. Same
 * sources, options and errors as fetch_to_fd. */
int fetch_to_buffer(const char *url, size_t max, const struct fetch_opts *o, char **ret_buf,
        size_t *ret_len, struct rw_err *err);

/* Resolves an Artifact= reference from a manifest fetched from base. Returns
 * a malloc'd string in *ret:
 *  - ref "scheme://..." is absolute: returned as is (fetch decides whether
 *    it accepts the scheme);
 *  - ref "/abs/path": as is when base is a path or a file:// URL; against
 *    the origin ("http://host:port/abs/path") when base is http(s)://;
 *  - otherwise ref is appended to base's directory (everything up to the
 *    last '/' of base's path; query and fragment dropped).
 * Refuses (-EINVAL) an empty ref, a ref containing "..", a control
 * character or a backslash, a ref starting with "//", "scheme:" without
 * "//", and a base that is neither "scheme://..." nor an absolute path. */
int fetch_resolve_url(const char *base, const char *ref, char **ret);

/* BLAKE2b-512 of everything readable from fd's current offset to EOF.
 * Does not close fd. Returns 0 and sets ret, or -errno. */
int blake2b512_fd(int fd, uint8_t ret[static FETCH_HASH_LEN]);

#endif
