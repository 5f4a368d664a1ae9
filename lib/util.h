/*
 * util: small helpers shared by every rollwave binary.
 *
 * Conventions (systemd-style): functions that can fail return int, >= 0 on
 * success and -errno on failure; outputs go through ret_* pointers that are
 * only written on success. Resources are released by _cleanup_ locals;
 * TAKE_PTR()/TAKE_FD() hand ownership out of a scope.
 */
#ifndef ROLLWAVE_UTIL_H
#define ROLLWAVE_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_     __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define USEC_PER_SEC  ((uint64_t)1000000)
#define USEC_PER_MSEC ((uint64_t)1000)

static inline void *
take_ptr_(void **p)
{
	void *v = *p;
	*p = NULL;
	return v;
}
#define TAKE_PTR(p) ((__typeof__(p))take_ptr_((void **)&(p)))
static inline int
take_fd_(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}
#define TAKE_FD(fd) take_fd_(&(fd))

static inline void
freep(void *p)
{
	free(*(void **)p);
}
static inline void
closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void
fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline bool
streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}
static inline bool
isempty(const char *s)
{
	return !s || !*s;
}

/* A human-readable error description that library code fills in instead of
 * logging; the caller decides where it goes. */
struct rw_err {
	char msg[1024];
};

/* Sets err (if non-NULL) from fmt and returns r (which must be negative). */
int rw_err_set(struct rw_err *err, int r, const char *fmt, ...) _printf_(3, 4);
/* Prefixes an existing message: "prefix: old message". Returns r. */
int rw_err_prefix(struct rw_err *err, int r, const char *fmt, ...) _printf_(3, 4);

/* snprintf for messages and display strings where cutting a long value is
 * the intended behaviour (always NUL-terminates). */
void strbuf_printf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);

/* snprintf that fails with -ENAMETOOLONG on truncation instead of cutting. */
int xsnprintf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);

/* Monotonic and realtime clocks in microseconds. */
uint64_t now_monotonic_usec(void);
uint64_t now_realtime_usec(void);
/* The realtime clock in milliseconds: the unit the coordinator stores and
 * shows times in. */
uint64_t now_realtime_msec(void);

/* Parses "10s", "5m", "250ms", "2h", "1d", or a bare number of seconds.
 * Strict: no trailing garbage, no negatives, no overflow. */
int parse_duration_usec(const char *s, uint64_t *ret_usec);
/* Parses a non-negative decimal integer strictly. */
int parse_uint64(const char *s, uint64_t *ret);
/* Parses yes/no/true/false/1/0/on/off. */
int parse_bool(const char *s, bool *ret);

/* Reads a whole file (at most max bytes, else -EFBIG) into a NUL-terminated
 * buffer. Opens with O_NOFOLLOW unless follow is true. */
int read_full_file(const char *path, size_t max, bool follow, char **ret_buf, size_t *ret_len);
/* Writes data to dir/name atomically (temp file, fsync, rename, fsync dir). */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* fsync() a directory by path or fd. */
int fsync_path(const char *path);
int fsync_fd(int fd);
/* mkdir -p with the given mode for newly created components. */
int mkdir_p(const char *path, mode_t mode);
/* mkdir -p of path relative to dirfd. */
int mkdir_p_at(int dirfd, const char *path, mode_t mode);
/* Removes a tree below dirfd/name without following symlinks. ENOENT is 0. */
int rm_rf_at(int parent_fd, const char *name);

/* Lowercase hex encoding; out must hold 2*len+1 bytes. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly outlen bytes from 2*outlen hex digits; -EINVAL otherwise. */
int hex_decode(const char *in, uint8_t *out, size_t outlen);

/* Splits s on whitespace into a NULL-terminated vector (at most max words,
 * else -E2BIG). Free with strv_free(). */
int strv_split(const char *s, size_t max, char ***ret);
void strv_free(char **v);
size_t strv_length(char *const *v);
static inline void
strv_freep(char ***v)
{
	strv_free(*v);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Formats usec of realtime as "2026-11-27T10:00:00Z". buf >= 21 bytes. */
void format_timestamp_utc(uint64_t usec, char *buf, size_t size);
/* Parses "YYYY-MM-DDTHH:MM:SSZ" strictly (UTC only). */
int parse_timestamp_utc(const char *s, uint64_t *ret_usec);

#endif
