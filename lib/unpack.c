/*
 * unpack: secure extraction of release archives (contract in unpack.h).
 *
 * libarchive reads and decompresses; this file decides and writes. Every
 * entry goes through the same pipeline, and the first refusal ends the
 * extraction:
 *
 *   read header -> count (max_entries) -> check name (length, control
 *   characters, absolute, '..') -> check type and mode -> open the parent
 *   directory below the destination, one O_NOFOLLOW component at a time,
 *   creating missing ones -> create the object with O_EXCL / mkdirat /
 *   symlinkat, never replacing anything -> stream file data, counting bytes
 *   (max_bytes) -> directory modes and times (deferred) -> syncfs.
 *
 * Why not archive_write_disk with ARCHIVE_EXTRACT_SECURE_*: it resolves
 * paths from the process's working directory (so it needs chdir, which is
 * process-wide, or absolute paths, which SECURE_NOABSOLUTEPATHS forbids),
 * it checks for symlinks with lstat before opening by path (a window that
 * has produced CVEs), and it does not refuse hardlinks, devices or setuid
 * bits by itself. Writing relative to a directory fd, with O_NOFOLLOW on
 * every component and O_EXCL on every leaf, enforces the same three rules
 * without those gaps.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "unpack.h"

/* Longest piece of a name quoted in an error message. */
#define SHOW_MAX 160

struct dir_fixup {
	char *path; /* normalised, relative to the destination */
	unsigned depth;
	mode_t mode;
	bool has_mtime;
	struct timespec mtime;
};

struct unpack_ctx {
	struct archive *a;
	int root_fd;
	struct unpack_limits lim;
	struct unpack_stats stats;
	struct rw_err *err;

	const char *name;             /* current entry's raw name (owned by libarchive) */
	char shown[SHOW_MAX * 4 + 8]; /* its printable form, for messages */

	char *parent_path; /* cache: last parent directory opened, and its fd */
	int parent_fd;

	struct dir_fixup *fixups;
	size_t n_fixups, cap_fixups;
};

/* Printable, bounded copy of s for error messages: control bytes as \xNN. */
static void
show_name(const char *s, char *out, size_t size)
{
	size_t o = 0, i;

	for (i = 0; s[i] && i < SHOW_MAX && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (s[i] && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
}

static int entry_fail(struct unpack_ctx *c, int r, const char *fmt, ...) _printf_(3, 4);

static int
entry_fail(struct unpack_ctx *c, int r, const char *fmt, ...)
{
	char why[sizeof(c->err->msg)];
	va_list ap;

	if (!c->err)
		return r;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return rw_err_set(c->err, r, "entry '%s': %s", c->shown, why);
}

/* Errors from the filesystem while writing the current entry. */
static int
entry_io_fail(struct unpack_ctx *c, int r, const char *what)
{
	if (r == -ENOSPC)
		return rw_err_set(c->err, r, "disk full while unpacking '%s'", c->shown);
	if (r == -EDQUOT)
		return rw_err_set(c->err, r, "disk quota exceeded while unpacking '%s'", c->shown);
	return entry_fail(c, r, "%s: %s", what, strerror(-r));
}

/* libarchive failed: in_entry says whether reading the current entry's data
 * (else the next header, after the current entry). */
static int
archive_fail(struct unpack_ctx *c, bool in_entry)
{
	const char *msg = archive_error_string(c->a);

	if (!msg)
		msg = "unknown libarchive error";
	if (c->stats.entries == 0)
		return rw_err_set(c->err, -EBADMSG, "not a readable tar archive: %s", msg);
	return rw_err_set(c->err, -EBADMSG, "archive is truncated or corrupt %s entry '%s': %s",
	        in_entry ? "in" : "after", c->shown, msg);
}

static bool
has_control_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/*
 * Normalises an entry name to "a/b/c": empty and "." components are dropped
 * (archives made with `tar -C dir .` name everything "./x"); absolute names
 * and ".." components are refused. The result may be "" (the root itself).
 */
static int
normalize_name(struct unpack_ctx *c, const char *raw, char **ret, unsigned *ret_depth)
{
	_cleanup_free_ char *out = NULL;
	size_t o = 0;
	unsigned depth = 0;
	const char *p = raw;

	if (raw[0] == '/')
		return entry_fail(c, -EPERM, "absolute paths are not allowed");
	out = malloc(strlen(raw) + 1);
	if (!out)
		return -ENOMEM;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return entry_fail(c, -EPERM, "'..' path components are not allowed");
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
			depth++;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	out[o] = 0;
	*ret = TAKE_PTR(out);
	*ret_depth = depth;
	return 0;
}

/*
 * A symlink at depth `depth` (its directory is `depth - 1` levels below the
 * root) may point to target only if the target is relative, resolves inside
 * the release, and has '..' only as a leading run: after a name, ".." would
 * be resolved by the kernel through that name, which may itself be a
 * symlink, so lexical resolution would not be what the kernel does.
 */
static int
check_symlink_target(struct unpack_ctx *c, const char *target, unsigned depth)
{
	char shown[sizeof(c->shown)];
	long level = (long)depth - 1;
	bool named = false;
	const char *p = target;

	show_name(target, shown, sizeof(shown));
	if (!*target)
		return entry_fail(c, -EPERM, "symlink has an empty target");
	if (strlen(target) > c->lim.max_path)
		return entry_fail(c, -ENAMETOOLONG,
		        "symlink target is longer than the limit of %zu bytes", c->lim.max_path);
	if (has_control_chars(target))
		return entry_fail(
		        c, -EPERM, "symlink target '%s' contains control characters", shown);
	if (target[0] == '/')
		return entry_fail(c, -EPERM,
		        "symlink target '%s' is absolute (only links inside the release are "
		        "allowed)",
		        shown);
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (named)
				return entry_fail(c, -EPERM,
				        "symlink target '%s' has '..' after a name (not allowed: "
				        "it could leave the release through another symlink)",
				        shown);
			if (--level < 0)
				return entry_fail(c, -EPERM,
				        "symlink target '%s' points outside the release", shown);
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			named = true;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

/*
 * Opens the directory `path` (normalised, len bytes of it) below the root,
 * one component at a time with O_NOFOLLOW, creating missing components with
 * mode 0755 if create is true. Never follows a symlink: a symlink component
 * is refused with a message naming it. Returns an fd owned by the caller.
 */
static int
open_dir_beneath(struct unpack_ctx *c, const char *path, size_t len, bool create, int *ret_fd)
{
	_cleanup_free_ char *buf = strndup(path, len);
	_cleanup_close_ int fd = -1;
	char *p, *slash;

	if (!buf)
		return -ENOMEM;
	for (p = buf; *p; p = slash ? slash + 1 : p + strlen(p)) {
		int dfd = fd >= 0 ? fd : c->root_fd;
		bool created = false;
		int next;

		slash = strchr(p, '/');
		if (slash)
			*slash = 0;
		next = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(dfd, p, 0755) < 0 && errno != EEXIST)
				return entry_io_fail(c, -errno, "cannot create parent directory");
			created = true;
			next = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int r = -errno;
			struct stat st;

			if ((r == -ENOTDIR || r == -ELOOP) &&
			        fstatat(dfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				char shown[sizeof(c->shown)];

				show_name(buf, shown, sizeof(shown));
				if (S_ISLNK(st.st_mode))
					return entry_fail(c, -EPERM,
					        "parent '%s' is a symlink (writing through "
					        "symlinks is not allowed)",
					        shown);
				return entry_fail(
				        c, -EPERM, "parent '%s' is not a directory", shown);
			}
			return entry_io_fail(c, r, "cannot open parent directory");
		}
		closep(&fd);
		fd = next;
		/* Implicit directories get 0755 whatever the umask. */
		if (created && fchmod(fd, 0755) < 0)
			return entry_io_fail(c, -errno, "cannot set parent directory mode");
		if (slash)
			*slash = '/';
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Returns a borrowed fd of the parent directory of norm (plen bytes). */
static int
parent_dir(struct unpack_ctx *c, const char *norm, size_t plen, int *ret_fd)
{
	_cleanup_free_ char *path = NULL;
	int fd, r;

	if (plen == 0) {
		*ret_fd = c->root_fd;
		return 0;
	}
	if (c->parent_path && strlen(c->parent_path) == plen &&
	        memcmp(c->parent_path, norm, plen) == 0) {
		*ret_fd = c->parent_fd;
		return 0;
	}
	path = strndup(norm, plen);
	if (!path)
		return -ENOMEM;
	r = open_dir_beneath(c, norm, plen, true, &fd);
	if (r < 0)
		return r;
	closep(&c->parent_fd);
	free(c->parent_path);
	c->parent_fd = fd;
	c->parent_path = TAKE_PTR(path);
	*ret_fd = fd;
	return 0;
}

static void
entry_times(struct archive_entry *e, struct timespec ts[static 2])
{
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
	}
	ts[1].tv_sec = 0;
	ts[1].tv_nsec = UTIME_OMIT;
	if (archive_entry_mtime_is_set(e)) {
		ts[1].tv_sec = archive_entry_mtime(e);
		ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	}
	for (int i = 0; i < 2; i++)
		if (ts[i].tv_nsec != UTIME_OMIT && (ts[i].tv_nsec < 0 || ts[i].tv_nsec > 999999999))
			ts[i].tv_nsec = 0;
}

static int
write_all_at(int fd, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int
extract_file(struct unpack_ctx *c, struct archive_entry *e, int dfd, const char *leaf)
{
	_cleanup_close_ int fd = -1;
	uint64_t room = c->lim.max_bytes - c->stats.bytes; /* stats.bytes <= max_bytes */
	bool size_known = archive_entry_size_is_set(e);
	int64_t size = archive_entry_size(e);
	uint64_t end = 0;
	struct timespec ts[2];
	int r;

	if (size_known && size < 0)
		return entry_fail(c, -EBADMSG, "negative size");
	if (size_known && (uint64_t)size > room)
		return entry_fail(c, -EFBIG,
		        "size %" PRId64 " bytes exceeds the limit of %" PRIu64
		        " bytes of unpacked content (%" PRIu64 " already used)",
		        size, c->lim.max_bytes, c->stats.bytes);

	fd = openat(dfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return entry_fail(c, -EEXIST, "duplicate entry (the path already exists)");
		return entry_io_fail(c, -errno, "cannot create file");
	}

	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;

		r = archive_read_data_block(c->a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return archive_fail(c, true);
		if (off < 0 || (uint64_t)off > UINT64_MAX - len ||
		        (size_known && (uint64_t)off + len > (uint64_t)size))
			return entry_fail(c, -EBADMSG, "data block outside the declared size");
		if ((uint64_t)off + len > end)
			end = (uint64_t)off + len;
		/* Backstop for entries without a declared size. */
		if (end > room)
			return entry_fail(c, -EFBIG,
			        "content exceeds the limit of %" PRIu64
			        " bytes of unpacked content",
			        c->lim.max_bytes);
		r = write_all_at(fd, buf, len, (off_t)off);
		if (r < 0)
			return entry_io_fail(c, r, "write failed");
	}
	if (size_known && end < (uint64_t)size) { /* trailing hole of a sparse file */
		end = (uint64_t)size;
		if (ftruncate(fd, (off_t)end) < 0)
			return entry_io_fail(c, -errno, "cannot set file size");
	}
	if (fchmod(fd, archive_entry_perm(e) & 0777) < 0)
		return entry_io_fail(c, -errno, "cannot set file mode");
	entry_times(e, ts);
	if (futimens(fd, ts) < 0)
		return entry_io_fail(c, -errno, "cannot set file times");
	if (close(TAKE_FD(fd)) < 0)
		return entry_io_fail(c, -errno, "close failed");
	c->stats.bytes += end;
	return 0;
}

static int
extract_symlink(
        struct unpack_ctx *c, struct archive_entry *e, int dfd, const char *leaf, unsigned depth)
{
	const char *target = archive_entry_symlink(e);
	struct timespec ts[2];
	int r;

	if (!target)
		return entry_fail(c, -EBADMSG, "symlink without a readable target");
	r = check_symlink_target(c, target, depth);
	if (r < 0)
		return r;
	if (symlinkat(target, dfd, leaf) < 0) {
		if (errno == EEXIST)
			return entry_fail(c, -EEXIST, "duplicate entry (the path already exists)");
		return entry_io_fail(c, -errno, "cannot create symlink");
	}
	entry_times(e, ts);
	if (utimensat(dfd, leaf, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_io_fail(c, -errno, "cannot set symlink times");
	return 0;
}

static int
extract_dir(struct unpack_ctx *c, struct archive_entry *e, int dfd, const char *leaf,
        const char *norm, unsigned depth)
{
	struct dir_fixup *f;
	struct timespec ts[2];

	if (mkdirat(dfd, leaf, 0700) < 0) {
		struct stat st;

		if (errno != EEXIST)
			return entry_io_fail(c, -errno, "cannot create directory");
		if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return entry_io_fail(c, -errno, "cannot inspect existing path");
		if (!S_ISDIR(st.st_mode))
			return entry_fail(c, -EEXIST,
			        "duplicate entry (the path exists and is not a directory)");
	}
	/* Modes and times are applied at the end: a read-only directory must
	 * still take its children, and adding them would change its mtime. */
	if (c->n_fixups == c->cap_fixups) {
		size_t n = c->cap_fixups ? c->cap_fixups * 2 : 64;

		f = reallocarray(c->fixups, n, sizeof(*f));
		if (!f)
			return -ENOMEM;
		c->fixups = f;
		c->cap_fixups = n;
	}
	f = &c->fixups[c->n_fixups];
	f->path = strdup(norm);
	if (!f->path)
		return -ENOMEM;
	f->depth = depth;
	f->mode = archive_entry_perm(e) & 0777;
	entry_times(e, ts);
	f->has_mtime = archive_entry_mtime_is_set(e);
	f->mtime = ts[1];
	c->n_fixups++;
	return 0;
}

static int
fixup_cmp(const void *a, const void *b)
{
	const struct dir_fixup *x = a, *y = b;

	return x->depth < y->depth ? 1 : x->depth > y->depth ? -1 : 0;
}

static int
apply_dir_fixups(struct unpack_ctx *c)
{
	if (c->n_fixups > 1)
		qsort(c->fixups, c->n_fixups, sizeof(*c->fixups), fixup_cmp);
	for (size_t i = 0; i < c->n_fixups; i++) {
		struct dir_fixup *f = &c->fixups[i];
		_cleanup_close_ int fd = -1;
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
		int r;

		c->name = f->path;
		show_name(f->path, c->shown, sizeof(c->shown));
		r = open_dir_beneath(c, f->path, strlen(f->path), false, &fd);
		if (r < 0)
			return r;
		if (fchmod(fd, f->mode) < 0)
			return entry_io_fail(c, -errno, "cannot set directory mode");
		if (f->has_mtime) {
			ts[1] = f->mtime;
			if (futimens(fd, ts) < 0)
				return entry_io_fail(c, -errno, "cannot set directory times");
		}
	}
	return 0;
}

static int
extract_entry(struct unpack_ctx *c, struct archive_entry *e)
{
	_cleanup_free_ char *norm = NULL;
	const char *leaf;
	mode_t type = archive_entry_filetype(e);
	unsigned depth = 0;
	int dfd, r;

	if (!c->name)
		return rw_err_set(c->err, -EBADMSG,
		        "entry %" PRIu64 " has a name that cannot be decoded", c->stats.entries);
	if (strlen(c->name) > c->lim.max_path)
		return entry_fail(c, -ENAMETOOLONG,
		        "name is %zu bytes long, longer than the limit of %zu bytes",
		        strlen(c->name), c->lim.max_path);
	if (has_control_chars(c->name))
		return entry_fail(c, -EPERM, "name contains control characters");
	r = normalize_name(c, c->name, &norm, &depth);
	if (r < 0)
		return r;

	if (archive_entry_hardlink(e)) {
		char shown[sizeof(c->shown)];

		show_name(archive_entry_hardlink(e), shown, sizeof(shown));
		return entry_fail(c, -EPERM, "hardlinks are not allowed (link to '%s')", shown);
	}
	switch (type) {
	case AE_IFREG:
	case AE_IFDIR:
	case AE_IFLNK:
		break;
	case AE_IFCHR:
	case AE_IFBLK:
		return entry_fail(c, -EPERM, "device nodes are not allowed");
	case AE_IFIFO:
		return entry_fail(c, -EPERM, "FIFOs are not allowed");
	case AE_IFSOCK:
		return entry_fail(c, -EPERM, "sockets are not allowed");
	default:
		return entry_fail(c, -EPERM, "unsupported entry type 0%o", (unsigned)type);
	}
	if (type != AE_IFLNK && (archive_entry_mode(e) & (S_ISUID | S_ISGID)))
		return entry_fail(c, -EPERM, "setuid/setgid bits are not allowed (mode 0%o)",
		        (unsigned)(archive_entry_mode(e) & 07777));

	if (depth == 0) {
		/* "." or "./": the destination itself, which belongs to the caller. */
		if (type == AE_IFDIR)
			return 0;
		return entry_fail(c, -EPERM, "only a directory may name the release root");
	}
	leaf = strrchr(norm, '/');
	r = parent_dir(c, norm, leaf ? (size_t)(leaf - norm) : 0, &dfd);
	if (r < 0)
		return r;
	leaf = leaf ? leaf + 1 : norm;

	switch (type) {
	case AE_IFREG:
		return extract_file(c, e, dfd, leaf);
	case AE_IFDIR:
		return extract_dir(c, e, dfd, leaf, norm, depth);
	default:
		return extract_symlink(c, e, dfd, leaf, depth);
	}
}

/* Enables the built-in decompressors only: for a filter whose library is
 * missing, libarchive would otherwise fork an external program. */
static int
enable_filters(struct archive *a)
{
	int r = ARCHIVE_OK;

	if (archive_zlib_version())
		r = r ? r : archive_read_support_filter_gzip(a);
	if (archive_bzlib_version())
		r = r ? r : archive_read_support_filter_bzip2(a);
	if (archive_liblzma_version()) {
		r = r ? r : archive_read_support_filter_xz(a);
		r = r ? r : archive_read_support_filter_lzma(a);
		r = r ? r : archive_read_support_filter_lzip(a);
	}
	if (archive_libzstd_version())
		r = r ? r : archive_read_support_filter_zstd(a);
	if (archive_liblz4_version())
		r = r ? r : archive_read_support_filter_lz4(a);
	r = r ? r : archive_read_support_format_tar(a);
	return r == ARCHIVE_OK ? 0 : -ENOTSUP;
}

static void
ctx_done(struct unpack_ctx *c)
{
	for (size_t i = 0; i < c->n_fixups; i++)
		free(c->fixups[i].path);
	free(c->fixups);
	free(c->parent_path);
	closep(&c->parent_fd);
	if (c->a)
		archive_read_free(c->a);
}

static int
unpack_run(struct unpack_ctx *c, int archive_fd)
{
	struct archive_entry *e;
	int r;

	c->a = archive_read_new();
	if (!c->a)
		return rw_err_set(c->err, -ENOMEM, "out of memory");
	if (enable_filters(c->a) < 0)
		return rw_err_set(c->err, -ENOTSUP, "cannot set up libarchive: %s",
		        archive_error_string(c->a) ? archive_error_string(c->a) : "unknown error");
	if (archive_read_open_fd(c->a, archive_fd, 64 * 1024) != ARCHIVE_OK)
		return archive_fail(c, false);

	for (;;) {
		r = archive_read_next_header(c->a, &e);
		if (r == ARCHIVE_EOF)
			break;
		/* ARCHIVE_WARN: e.g. a name not convertible to the locale; the
		 * entry is still complete and goes through every check. */
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return archive_fail(c, false);
		c->name = archive_entry_pathname(e);
		show_name(c->name ? c->name : "?", c->shown, sizeof(c->shown));
		if (c->stats.entries >= c->lim.max_entries)
			return entry_fail(c, -E2BIG,
			        "archive has more than the limit of %" PRIu64 " entries",
			        c->lim.max_entries);
		c->stats.entries++;
		r = extract_entry(c, e);
		if (r == -ENOMEM)
			return rw_err_set(
			        c->err, r, "out of memory while unpacking '%s'", c->shown);
		if (r < 0)
			return r;
	}

	r = apply_dir_fixups(c);
	if (r < 0)
		return r;
	if (syncfs(c->root_fd) < 0) {
		r = -errno;
		if (r == -ENOSPC)
			return rw_err_set(
			        c->err, r, "disk full while syncing the unpacked release");
		return rw_err_set(c->err, r, "cannot sync the unpacked release: %s", strerror(-r));
	}
	return 0;
}

int
unpack_archive_fd(int archive_fd, int dest_dirfd, const struct unpack_limits *lim,
        struct unpack_stats *ret_stats, struct rw_err *err)
{
	struct unpack_ctx c = {
	        .root_fd = dest_dirfd,
	        .lim = lim ? *lim : UNPACK_LIMITS_DEFAULT,
	        .err = err,
	        .parent_fd = -1,
	};
	int r;

	if (archive_fd < 0 || dest_dirfd < 0)
		return rw_err_set(err, -EBADF, "invalid file descriptor");
	r = unpack_run(&c, archive_fd);
	if (r >= 0 && ret_stats)
		*ret_stats = c.stats;
	ctx_done(&c);
	return r < 0 ? r : 0;
}
