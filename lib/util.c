/*
 * util: small helpers shared by every rollwave binary. See util.h.
 */
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

static int rw_err_vset(struct rw_err *err, const char *suffix, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

static int
rw_err_vset(struct rw_err *err, const char *suffix, const char *fmt, va_list ap)
{
	char tmp[sizeof(err->msg)];

	if (!err)
		return 0;
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	/* Messages longer than the buffer are cut; the front says the most. */
	if (suffix) {
		if (snprintf(err->msg, sizeof(err->msg), "%s: %s", tmp, suffix) < 0)
			err->msg[0] = 0;
	} else if (snprintf(err->msg, sizeof(err->msg), "%s", tmp) < 0)
		err->msg[0] = 0;
	return 0;
}

int
rw_err_set(struct rw_err *err, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rw_err_vset(err, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int
rw_err_prefix(struct rw_err *err, int r, const char *fmt, ...)
{
	char old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return r;
	snprintf(old, sizeof(old), "%s", err->msg);
	va_start(ap, fmt);
	rw_err_vset(err, old[0] ? old : "unknown error", fmt, ap);
	va_end(ap);
	return r;
}

void
strbuf_printf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (size == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(buf, size, fmt, ap) < 0)
		buf[0] = 0;
	va_end(ap);
}

int
xsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}

static uint64_t
clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
now_monotonic_usec(void)
{
	return clock_usec(CLOCK_MONOTONIC);
}

uint64_t
now_realtime_usec(void)
{
	return clock_usec(CLOCK_REALTIME);
}

uint64_t
now_realtime_msec(void)
{
	return now_realtime_usec() / USEC_PER_MSEC;
}

int
parse_uint64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (isempty(s))
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*ret = v;
	return 0;
}

int
parse_duration_usec(const char *s, uint64_t *ret_usec)
{
	static const struct {
		const char *suffix;
		uint64_t usec;
	} units[] = {
	        {"ms", USEC_PER_MSEC},
	        {"s", USEC_PER_SEC},
	        {"m", 60 * USEC_PER_SEC},
	        {"h", 3600 * USEC_PER_SEC},
	        {"d", 86400 * USEC_PER_SEC},
	        {"", USEC_PER_SEC},
	};
	char num[32];
	size_t n = 0;
	uint64_t v;
	int r;

	if (isempty(s))
		return -EINVAL;
	while (isdigit((unsigned char)s[n]))
		n++;
	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = 0;
	r = parse_uint64(num, &v);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		if (!streq(s + n, units[i].suffix))
			continue;
		if (v > UINT64_MAX / units[i].usec)
			return -ERANGE;
		*ret_usec = v * units[i].usec;
		return 0;
	}
	return -EINVAL;
}

int
parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};

	for (size_t i = 0; i < ELEMENTSOF(yes); i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	return -EINVAL;
}

int
read_full_file(const char *path, size_t max, bool follow, char **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb;

			if (ncap > max + 1)
				ncap = max + 1;
			if (ncap <= len)
				return -EFBIG;
			nb = realloc(buf, ncap + 1);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return -ENOMEM;
	}
	buf[len] = 0;
	*ret_buf = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int
fsync_fd(int fd)
{
	return fsync(fd) < 0 ? -errno : 0;
}

int
fsync_path(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECTORY);

	if (fd < 0)
		return -errno;
	return fsync_fd(fd);
}

int
write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	_cleanup_close_ int fd = -1;
	const char *slash;
	size_t off = 0;
	int r;

	r = xsnprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if (r < 0)
		return r;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	slash = strrchr(path, '/');
	if (slash) {
		size_t dl = slash == path ? 1 : (size_t)(slash - path);

		if (dl >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, dl);
		dir[dl] = 0;
		return fsync_path(dir);
	}
	return fsync_path(".");
fail:
	unlink(tmp);
	return r;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	int r;

	r = xsnprintf(buf, sizeof(buf), "%s", path);
	if (r < 0)
		return r;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
mkdir_p_at(int dfd, const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	int r;

	r = xsnprintf(buf, sizeof(buf), "%s", path);
	if (r < 0)
		return r;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdirat(dfd, buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdirat(dfd, buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
rm_rf_at(int parent_fd, const char *name)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;

	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Make the directory writable/searchable so that its entries can go. */
	if ((st.st_mode & 0700) != 0700)
		(void)fchmod(fd, st.st_mode | 0700);
	d = fdopendir(fd);
	if (!d)
		return -errno;
	fd = -1; /* owned by d now */
	while ((de = readdir(d))) {
		int q;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		q = rm_rf_at(dirfd(d), de->d_name);
		if (q < 0 && r == 0)
			r = q;
	}
	closedir(d);
	if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

void
hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *in, uint8_t *out, size_t outlen)
{
	if (strlen(in) != 2 * outlen)
		return -EINVAL;
	for (size_t i = 0; i < outlen; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t
strv_length(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int
strv_split(const char *s, size_t max, char ***ret)
{
	char **v;
	size_t n = 0;

	v = calloc(max + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	while (s && *s) {
		size_t l;

		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		l = strcspn(s, " \t\r\n");
		if (n == max) {
			strv_free(v);
			return -E2BIG;
		}
		v[n] = strndup(s, l);
		if (!v[n]) {
			strv_free(v);
			return -ENOMEM;
		}
		n++;
		s += l;
	}
	*ret = v;
	return (int)n;
}

void
format_timestamp_utc(uint64_t usec, char *buf, size_t size)
{
	time_t t = (time_t)(usec / USEC_PER_SEC);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
parse_timestamp_utc(const char *s, uint64_t *ret_usec)
{
	struct tm tm = {0};
	const char *end;
	time_t t;

	if (strlen(s) != 20)
		return -EINVAL;
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -EINVAL;
	t = timegm(&tm);
	if (t < 0)
		return -ERANGE;
	*ret_usec = (uint64_t)t * USEC_PER_SEC;
	return 0;
}
