/*
 * fetch: download a manifest or artifact, hashing every byte. See fetch.h.
 *
 * Every source (a local file, or libcurl for http(s)) pushes bytes into one
 * sink. The sink is where the invariants live: it counts bytes and refuses
 * the chunk that would cross the cap before hashing or writing any of it,
 * feeds the hash, and writes fully to the output fd or appends to a memory
 * buffer. A sink error is sticky: the source stops and fetch returns it.
 */
#include "fetch.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "blake2b.h"

_Static_assert(FETCH_HASH_LEN == BLAKE2B512_BYTES, "fetch hashes with BLAKE2b-512");

#define FILE_CHUNK      BLAKE2B512_READ_SIZE
#define CURL_BUFFERSIZE (256 * 1024L)

enum sink_kind {
	SINK_FD,     /* write fully to fd */
	SINK_BUFFER, /* append to a growing buffer */
};

struct sink {
	enum sink_kind kind;
	const char *url;
	struct rw_err *err;
	uint64_t max;
	uint64_t size;
	struct blake2b512 *hash; /* NULL for SINK_BUFFER; freed by sink_done() */
	int fd;
	char *buf;
	size_t buf_cap;
	int error; /* first error, sticky; its message is in *err */
};

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static int fetch_init_result;

static void
fetch_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fetch_init_result = -EIO;
}

static int
fetch_init(struct rw_err *err)
{
	int r = pthread_once(&fetch_once, fetch_init_once);

	if (r != 0)
		return rw_err_set(err, -r, "fetch: initialisation failed: %s", strerror(r));
	if (fetch_init_result < 0)
		return rw_err_set(err, fetch_init_result, "fetch: initialising libcurl failed");
	return 0;
}

static bool
has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Initialises libcurl (once) and the sink; sink_done() releases it. */
static int
sink_init(struct sink *s, enum sink_kind kind, const char *url, int fd, uint64_t max,
        struct rw_err *err)
{
	int r = fetch_init(err);

	if (r < 0)
		return r;
	*s = (struct sink) {
	        .kind = kind,
	        .url = url,
	        .err = err,
	        .max = max,
	        .fd = fd,
	};
	if (kind != SINK_BUFFER) {
		r = blake2b512_new(&s->hash);
		if (r < 0)
			return rw_err_set(err, r, "fetch '%s': cannot initialise BLAKE2b-512: %s",
			        url, strerror(-r));
	}
	return 0;
}

/* Frees the hash context; the buffer of a SINK_BUFFER is the caller's. */
static void
sink_done(struct sink *s)
{
	s->hash = blake2b512_free(s->hash);
}

static int
sink_fail(struct sink *s, int r)
{
	if (s->error == 0)
		s->error = r;
	return s->error;
}

static int
sink_write_fd(struct sink *s, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(s->fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == ENOSPC || errno == EDQUOT)) {
			int r = -errno;
			return sink_fail(s,
			        rw_err_set(s->err, r,
			                "fetch '%s': disk full after %" PRIu64
			                " bytes, cannot write the download: %s",
			                s->url, s->size, strerror(-r)));
		}
		if (k < 0) {
			int r = -errno;
			return sink_fail(s,
			        rw_err_set(s->err, r, "fetch '%s': writing the download failed: %s",
			                s->url, strerror(-r)));
		}
		if (k == 0)
			return sink_fail(s,
			        rw_err_set(s->err, -EIO,
			                "fetch '%s': writing the download made no progress",
			                s->url));
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
sink_append(struct sink *s, const char *p, size_t n)
{
	/* size + n <= max was checked, and max fits size_t for buffers. */
	size_t need = (size_t)s->size + n + 1;

	if (need > s->buf_cap) {
		size_t cap = s->buf_cap ? s->buf_cap : 4096;
		char *nb;

		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		nb = realloc(s->buf, cap);
		if (!nb)
			return sink_fail(s,
			        rw_err_set(s->err, -ENOMEM, "fetch '%s': out of memory", s->url));
		s->buf = nb;
		s->buf_cap = cap;
	}
	memcpy(s->buf + s->size, p, n);
	return 0;
}

/* Takes n more bytes. Refuses the whole chunk if it would cross the cap. */
static int
sink_push(struct sink *s, const void *data, size_t n)
{
	int r;

	if (s->error)
		return s->error;
	if (n > s->max - s->size)
		return sink_fail(s,
		        rw_err_set(s->err, -EFBIG,
		                "fetch '%s': larger than the allowed %" PRIu64 " bytes", s->url,
		                s->max));
	if (s->hash && blake2b512_update(s->hash, data, n) < 0)
		return sink_fail(s,
		        rw_err_set(s->err, -EIO, "fetch '%s': BLAKE2b-512 update failed", s->url));
	if (s->kind == SINK_FD)
		r = sink_write_fd(s, data, n);
	else
		r = sink_append(s, data, n);
	if (r < 0)
		return r;
	s->size += n;
	return 0;
}

/* Reads fd to EOF into the sink. */
static int
source_fd(int fd, struct sink *s)
{
	_cleanup_free_ char *buf = malloc(FILE_CHUNK);

	if (!buf)
		return rw_err_set(s->err, -ENOMEM, "fetch '%s': out of memory", s->url);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t k = read(fd, buf, FILE_CHUNK);
		int r;

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			return rw_err_set(
			        s->err, r, "fetch '%s': read failed: %s", s->url, strerror(-r));
		}
		if (k == 0)
			return 0;
		r = sink_push(s, buf, (size_t)k);
		if (r < 0)
			return r;
	}
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "file:///p", "file://localhost/p" (%XX decoded) or "/p" → malloc'd path. */
static int
local_path(const char *url, char **ret, struct rw_err *err)
{
	bool file_url = has_prefix_ci(url, "file://");
	const char *p = url;
	_cleanup_free_ char *out = NULL;
	char *o;

	if (file_url) {
		p = url + strlen("file://");
		if (has_prefix_ci(p, "localhost/"))
			p += strlen("localhost");
		if (*p != '/')
			return rw_err_set(err, -EINVAL,
			        "fetch '%s': a file:// URL must name an absolute local path", url);
	}
	out = malloc(strlen(p) + 1);
	if (!out)
		return rw_err_set(err, -ENOMEM, "fetch '%s': out of memory", url);
	for (o = out; *p; p++) {
		int hi, lo;

		if (!file_url || *p != '%') {
			*o++ = *p;
			continue;
		}
		hi = hexval((unsigned char)p[1]);
		lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return rw_err_set(
			        err, -EINVAL, "fetch '%s': bad %%-escape in a file URL", url);
		*o++ = (char)(hi << 4 | lo);
		p += 2;
	}
	*o = 0;
	*ret = TAKE_PTR(out);
	return 0;
}

static int
fetch_file(const char *url, struct sink *s)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	r = local_path(url, &path, s->err);
	if (r < 0)
		return r;
	/* O_NONBLOCK: a FIFO must not hang open(); regular files ignore it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		return rw_err_set(
		        s->err, r, "fetch '%s': cannot open '%s': %s", url, path, strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		return rw_err_set(
		        s->err, r, "fetch '%s': cannot stat '%s': %s", url, path, strerror(-r));
	}
	if (!S_ISREG(st.st_mode))
		return rw_err_set(s->err, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
		        "fetch '%s': '%s' is not a regular file", url, path);
	if ((uint64_t)st.st_size > s->max)
		return rw_err_set(s->err, -EFBIG,
		        "fetch '%s': larger than the allowed %" PRIu64 " bytes (file has %" PRIu64
		        ")",
		        url, s->max, (uint64_t)st.st_size);
	return source_fd(fd, s);
}

static size_t
curl_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb;

	if (sink_push(s, ptr, n) < 0)
		return CURL_WRITEFUNC_ERROR;
	return n;
}

static long
usec_to_ms_long(uint64_t usec)
{
	uint64_t ms = usec / USEC_PER_MSEC + (usec % USEC_PER_MSEC != 0);

	return ms > LONG_MAX ? LONG_MAX : (long)ms;
}

static long
clamp_long(uint64_t v)
{
	return v > LONG_MAX ? LONG_MAX : (long)v;
}

static int
curl_setup(CURL *c, const char *url, const struct fetch_opts *o, struct sink *s, char *errbuf)
{
	CURLcode rc = CURLE_OK;

#define SETOPT(opt, val)                                                                           \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(c, opt, val);                                        \
	} while (0)
	SETOPT(CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRECTS);
	SETOPT(CURLOPT_FAILONERROR, 1L);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_NOPROGRESS, 1L);
	SETOPT(CURLOPT_USERAGENT, "rollwave/" ROLLWAVE_VERSION);
	SETOPT(CURLOPT_BUFFERSIZE, CURL_BUFFERSIZE);
	SETOPT(CURLOPT_WRITEFUNCTION, curl_write_cb);
	SETOPT(CURLOPT_WRITEDATA, s);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	if (s->max > 0 && s->max < (uint64_t)INT64_MAX)
		SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
	if (o->connect_timeout_usec > 0)
		SETOPT(CURLOPT_CONNECTTIMEOUT_MS, usec_to_ms_long(o->connect_timeout_usec));
	if (o->total_timeout_usec > 0)
		SETOPT(CURLOPT_TIMEOUT_MS, usec_to_ms_long(o->total_timeout_usec));
	if (o->low_speed_bytes_per_sec > 0 && o->low_speed_time_usec > 0) {
		SETOPT(CURLOPT_LOW_SPEED_LIMIT, clamp_long(o->low_speed_bytes_per_sec));
		SETOPT(CURLOPT_LOW_SPEED_TIME,
		        clamp_long(o->low_speed_time_usec / USEC_PER_SEC +
		                (o->low_speed_time_usec % USEC_PER_SEC != 0)));
	}
	if (o->ca_file)
		SETOPT(CURLOPT_CAINFO, o->ca_file);
#undef SETOPT
	if (rc != CURLE_OK)
		return rw_err_set(s->err, -EINVAL, "fetch '%s': configuring libcurl failed: %s",
		        url, curl_easy_strerror(rc));
	return 0;
}

static int
http_status_errno(long status)
{
	switch (status) {
	case 404:
	case 410:
		return -ENOENT;
	case 401:
	case 403:
		return -EACCES;
	default:
		return -EREMOTEIO;
	}
}

static int
curl_error(CURL *c, CURLcode rc, struct sink *s, const char *errbuf)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	const char *url = s->url;
	long status = 0;

	switch (rc) {
	case CURLE_WRITE_ERROR:
		if (s->error)
			return s->error;
		break;
	case CURLE_HTTP_RETURNED_ERROR:
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		return rw_err_set(s->err, http_status_errno(status), "fetch '%s': HTTP status %ld",
		        url, status);
	case CURLE_FILESIZE_EXCEEDED:
		return rw_err_set(s->err, -EFBIG,
		        "fetch '%s': larger than the allowed %" PRIu64 " bytes", url, s->max);
	case CURLE_OPERATION_TIMEDOUT:
		return rw_err_set(s->err, -ETIMEDOUT, "fetch '%s': timed out: %s", url, why);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return rw_err_set(s->err, -EPROTONOSUPPORT,
		        "fetch '%s': refused, only http:// and https:// may be fetched or "
		        "redirected to: %s",
		        url, why);
	case CURLE_TOO_MANY_REDIRECTS:
		return rw_err_set(s->err, -ELOOP, "fetch '%s': more than %d redirects", url,
		        FETCH_MAX_REDIRECTS);
	case CURLE_URL_MALFORMAT:
		return rw_err_set(s->err, -EINVAL, "fetch '%s': malformed URL: %s", url, why);
	case CURLE_COULDNT_RESOLVE_HOST:
		return rw_err_set(s->err, -EHOSTUNREACH, "fetch '%s': %s", url, why);
	case CURLE_COULDNT_CONNECT:
		return rw_err_set(s->err, -ECONNREFUSED, "fetch '%s': %s", url, why);
	case CURLE_OUT_OF_MEMORY:
		return rw_err_set(s->err, -ENOMEM, "fetch '%s': out of memory", url);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
		return rw_err_set(s->err, -EPROTO, "fetch '%s': TLS failed: %s", url, why);
	default:
		break;
	}
	return rw_err_set(s->err, -EIO, "fetch '%s': %s", url, why);
}

static void
curl_easy_cleanupp(CURL **c)
{
	if (*c)
		curl_easy_cleanup(*c);
}

static int
fetch_http(const char *url, const struct fetch_opts *o, struct sink *s)
{
	_cleanup_(curl_easy_cleanupp) CURL *c = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;
	int r;

	c = curl_easy_init();
	if (!c)
		return rw_err_set(
		        s->err, -ENOMEM, "fetch '%s': cannot create a libcurl handle", url);
	r = curl_setup(c, url, o, s, errbuf);
	if (r < 0)
		return r;
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		return curl_error(c, rc, s, errbuf);
	if (s->error)
		return s->error;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		return rw_err_set(
		        s->err, -EREMOTEIO, "fetch '%s': unexpected HTTP status %ld", url, status);
	return 0;
}

static int
fetch_any(const char *url, const struct fetch_opts *o, struct sink *s)
{
	int r;

	if (url[0] == '/' || has_prefix_ci(url, "file://"))
		r = fetch_file(url, s);
	else if (has_prefix_ci(url, "http://") || has_prefix_ci(url, "https://"))
		r = fetch_http(url, o, s);
	else
		r = rw_err_set(s->err, -EPROTONOSUPPORT,
		        "fetch '%s': only file://, http://, https:// URLs and absolute paths are "
		        "supported",
		        url);
	if (r < 0)
		return r;
	return s->error;
}

int
fetch_to_fd(const char *url, int out_fd, const struct fetch_opts *o,
        uint8_t ret_blake2b[FETCH_HASH_LEN], uint64_t *ret_size, struct rw_err *err)
{
	struct fetch_opts defaults = FETCH_OPTS_DEFAULT;
	uint8_t h[FETCH_HASH_LEN];
	struct sink s;
	int r;

	if (isempty(url) || out_fd < 0)
		return rw_err_set(err, -EINVAL, "fetch: no URL or no output file");
	if (!o)
		o = &defaults;
	r = sink_init(&s, SINK_FD, url, out_fd, o->max_size, err);
	if (r < 0)
		return r;
	r = fetch_any(url, o, &s);
	if (r >= 0 && blake2b512_final(s.hash, h) < 0)
		r = rw_err_set(err, -EIO, "fetch '%s': BLAKE2b-512 final failed", url);
	sink_done(&s);
	if (r < 0)
		return r;
	if (ret_blake2b)
		memcpy(ret_blake2b, h, sizeof(h));
	if (ret_size)
		*ret_size = s.size;
	return 0;
}

int
fetch_to_buffer(const char *url, size_t max, const struct fetch_opts *o, char **ret_buf,
        size_t *ret_len, struct rw_err *err)
{
	struct fetch_opts defaults = FETCH_OPTS_DEFAULT;
	struct sink s;
	int r;

	if (isempty(url) || !ret_buf || max >= SIZE_MAX)
		return rw_err_set(err, -EINVAL, "fetch: no URL, no output or an unbounded buffer");
	if (!o)
		o = &defaults;
	r = sink_init(&s, SINK_BUFFER, url, -1, max, err);
	if (r < 0)
		return r;
	r = fetch_any(url, o, &s);
	sink_done(&s);
	if (r >= 0 && !s.buf) {
		s.buf = malloc(1);
		if (!s.buf)
			r = rw_err_set(err, -ENOMEM, "fetch '%s': out of memory", url);
	}
	if (r < 0) {
		free(s.buf);
		return r;
	}
	s.buf[s.size] = 0;
	*ret_buf = s.buf;
	if (ret_len)
		*ret_len = (size_t)s.size;
	return 0;
}

/* Length of "scheme:" at the start of s (RFC 3986 scheme), or 0. */
static size_t
scheme_len(const char *s)
{
	size_t i;

	if (!isalpha((unsigned char)s[0]))
		return 0;
	for (i = 1; s[i]; i++) {
		if (s[i] == ':')
			return i + 1;
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
			return 0;
	}
	return 0;
}

static bool
ref_is_acceptable(const char *ref)
{
	if (isempty(ref) || strstr(ref, "..") || strncmp(ref, "//", 2) == 0)
		return false;
	for (const char *p = ref; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
			return false;
	return true;
}

int
fetch_resolve_url(const char *base, const char *ref, char **ret)
{
	const char *path, *end, *slash = NULL;
	size_t sl, keep;
	char *out;

	if (!base || !ret || !ref_is_acceptable(ref))
		return -EINVAL;

	sl = scheme_len(ref);
	if (sl > 0) {
		if (strncmp(ref + sl, "//", 2) != 0)
			return -EINVAL;
		out = strdup(ref);
		goto done;
	}

	/* The path inside base: after "scheme://authority", or all of base. */
	sl = scheme_len(base);
	if (sl > 0 && strncmp(base + sl, "//", 2) == 0) {
		path = base + sl + 2;
		path += strcspn(path, "/?#");
	} else if (base[0] == '/')
		path = base;
	else
		return -EINVAL;
	end = path + strcspn(path, "?#");
	for (const char *p = path; p < end; p++)
		if (*p == '/')
			slash = p;

	if (ref[0] == '/') {
		/* A local path for file:// and path bases; host-absolute for http(s). */
		if (sl == 0 || has_prefix_ci(base, "file:")) {
			out = strdup(ref);
			goto done;
		}
		keep = (size_t)(path - base);
	} else
		/* Base's directory; "http://host" has an empty path, i.e. "/". */
		keep = slash ? (size_t)(slash + 1 - base) : (size_t)(path - base);
	if (keep > INT_MAX)
		return -EINVAL;
	if (asprintf(&out, "%.*s%s%s", (int)keep, base, ref[0] != '/' && !slash ? "/" : "", ref) <
	        0)
		return -ENOMEM;
done:
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}
