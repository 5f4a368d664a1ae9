/*
 * test_unpack: extraction of real tar archives, honest and malicious, built
 * here with libarchive's writer into memfds.
 *
 * Every test works in a fresh tree that mirrors a host:
 *
 *   <base>/outside/canary          must never change
 *   <base>/releases/.staging-1/    the destination
 *
 * and ends with check_nothing_outside(): <base> holds exactly outside/ and
 * releases/, releases/ holds exactly .staging-1, outside/ holds exactly the
 * canary with its content and mode.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "unpack.h"
#include "util.h"

#define CANARY  "canary: must not change\n"
#define STAGING ".staging-1"
#define T1      ((time_t)1700000000)
#define T2      ((time_t)1600000000)
#define MIB     ((uint64_t)1024 * 1024)
#define GIB     ((uint64_t)1024 * 1024 * 1024)

struct fx {
	char base[64];
	int base_fd;
	int releases_fd;
	int dest_fd;
	bool mounted;
};

static char releases_path[128];

static double
now_sec(void)
{
	return (double)now_monotonic_usec() / 1e6;
}

static int
fx_open_dest(struct fx *f)
{
	if (mkdirat(f->releases_fd, STAGING, 0755) < 0)
		return -1;
	f->dest_fd = openat(f->releases_fd, STAGING, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return f->dest_fd < 0 ? -1 : 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int fd;

	assert_non_null(f);
	strcpy(f->base, "/tmp/rw-unpack-XXXXXX");
	assert_non_null(mkdtemp(f->base));
	f->base_fd = open(f->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->base_fd >= 0);
	assert_int_equal(mkdirat(f->base_fd, "outside", 0755), 0);
	fd = openat(f->base_fd, "outside/canary", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, CANARY, strlen(CANARY)), (ssize_t)strlen(CANARY));
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	assert_int_equal(mkdirat(f->base_fd, "releases", 0755), 0);
	f->releases_fd = openat(f->base_fd, "releases", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->releases_fd >= 0);
	assert_int_equal(fx_open_dest(f), 0);
	snprintf(releases_path, sizeof(releases_path), "%s/releases", f->base);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	close(f->dest_fd);
	close(f->releases_fd);
	if (f->mounted)
		umount2(releases_path, MNT_DETACH);
	rm_rf_at(AT_FDCWD, f->base);
	close(f->base_fd);
	free(f);
	return 0;
}

/* Empties the destination for another run in the same test. */
static void
fx_reset_dest(struct fx *f)
{
	close(f->dest_fd);
	assert_int_equal(rm_rf_at(f->releases_fd, STAGING), 0);
	assert_int_equal(fx_open_dest(f), 0);
}

/* Puts releases/ (and a fresh destination) on a tmpfs of its own, for a
 * disk that fills up or for many files without waiting on the real disk.
 * Returns false if mounting is not permitted here. */
static bool
fx_mount_tmpfs(struct fx *f, const char *opts)
{
	close(f->dest_fd);
	assert_int_equal(rm_rf_at(f->releases_fd, STAGING), 0);
	if (mount("tmpfs", releases_path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
		assert_int_equal(fx_open_dest(f), 0);
		return false;
	}
	f->mounted = true;
	close(f->releases_fd);
	f->releases_fd = open(releases_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->releases_fd >= 0);
	assert_int_equal(fx_open_dest(f), 0);
	return true;
}

static void
fx_umount(struct fx *f)
{
	close(f->dest_fd);
	close(f->releases_fd);
	assert_int_equal(umount2(releases_path, 0), 0);
	f->mounted = false;
	f->releases_fd = open(releases_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->releases_fd >= 0);
	assert_int_equal(fx_open_dest(f), 0);
}

/* Names in dfd/path (non-recursive), sorted, joined by ','. */
static void
list_dir(int dfd, const char *path, char *out, size_t size)
{
	struct dirent **names;
	char full[512];
	int n;

	snprintf(full, sizeof(full), "/proc/self/fd/%d/%s", dfd, path);
	n = scandir(full, &names, NULL, alphasort);
	assert_true(n >= 0);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		if (!streq(names[i]->d_name, ".") && !streq(names[i]->d_name, "..")) {
			if (out[0])
				strncat(out, ",", size - strlen(out) - 1);
			strncat(out, names[i]->d_name, size - strlen(out) - 1);
		}
		free(names[i]);
	}
	free(names);
}

static void
check_nothing_outside(struct fx *f)
{
	char names[4096], buf[256];
	struct stat st;
	ssize_t n;
	int fd;

	list_dir(f->base_fd, ".", names, sizeof(names));
	assert_string_equal(names, "outside,releases");
	list_dir(f->base_fd, "releases", names, sizeof(names));
	assert_string_equal(names, STAGING);
	list_dir(f->base_fd, "outside", names, sizeof(names));
	assert_string_equal(names, "canary");
	assert_int_equal(fstatat(f->base_fd, "outside/canary", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_nlink, 1);
	fd = openat(f->base_fd, "outside/canary", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(CANARY));
	buf[n] = 0;
	assert_string_equal(buf, CANARY);
}

/* Files (non-directories) below dfd, and the sum of their sizes. */
static void
count_tree(int dfd, uint64_t *files, uint64_t *bytes)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdopendir(fd);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		assert_int_equal(fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW), 0);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			assert_true(sub >= 0);
			count_tree(sub, files, bytes);
			close(sub);
		} else {
			(*files)++;
			*bytes += (uint64_t)st.st_size;
		}
	}
	closedir(d);
}

/* ---- archive builder: libarchive's writer into a memfd ---- */

struct tb {
	struct archive *a;
	int fd;
};

static struct tb
tb_new(int filter, int format)
{
	struct tb t = {.a = archive_write_new()};

	assert_non_null(t.a);
	t.fd = memfd_create("archive", MFD_CLOEXEC);
	assert_true(t.fd >= 0);
	assert_int_equal(archive_write_add_filter(t.a, filter), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format(t.a, format), ARCHIVE_OK);
	assert_int_equal(archive_write_open_fd(t.a, t.fd), ARCHIVE_OK);
	return t;
}

static struct tb
tb_targz(void)
{
	return tb_new(ARCHIVE_FILTER_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
}

static struct archive_entry *
tb_entry_new(const char *path, mode_t type, mode_t perm)
{
	struct archive_entry *e = archive_entry_new();

	assert_non_null(e);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_mtime(e, T1, 0);
	archive_entry_set_uid(e, 4242);
	archive_entry_set_gid(e, 4242);
	return e;
}

static void
tb_put(struct tb *t, struct archive_entry *e, const void *data, size_t len)
{
	assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
	if (len)
		assert_int_equal(archive_write_data(t->a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

static void
tb_file(struct tb *t, const char *path, mode_t perm, const char *data)
{
	struct archive_entry *e = tb_entry_new(path, AE_IFREG, perm);

	archive_entry_set_size(e, (la_int64_t)strlen(data));
	tb_put(t, e, data, strlen(data));
}

static void
tb_dir(struct tb *t, const char *path, mode_t perm)
{
	tb_put(t, tb_entry_new(path, AE_IFDIR, perm), NULL, 0);
}

static void
tb_symlink(struct tb *t, const char *path, const char *target)
{
	struct archive_entry *e = tb_entry_new(path, AE_IFLNK, 0777);

	archive_entry_set_symlink(e, target);
	tb_put(t, e, NULL, 0);
}

/* A file of len bytes, each zero (pattern 0) or pseudo-random. */
static void
tb_big_file(struct tb *t, const char *path, uint64_t len, bool random)
{
	static char chunk[MIB];
	struct archive_entry *e = tb_entry_new(path, AE_IFREG, 0644);
	uint32_t x = 2463534242u;

	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
	archive_entry_free(e);
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < sizeof(chunk) ? (size_t)(len - done) : sizeof(chunk);

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			chunk[i] = random ? (char)x : 0;
		}
		assert_int_equal(archive_write_data(t->a, chunk, n), (la_ssize_t)n);
		done += n;
	}
}

/* Finishes the archive; returns its fd, rewound. */
static int
tb_finish(struct tb *t)
{
	assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
	assert_int_equal(lseek(t->fd, 0, SEEK_SET), 0);
	return t->fd;
}

static off_t
fd_size(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_size;
}

/* Unpacks and checks that ret_stats stays untouched on failure. */
static int
unpack(struct fx *f, int afd, const struct unpack_limits *lim, struct unpack_stats *st,
        struct rw_err *err)
{
	struct unpack_stats mine = {.entries = 777, .bytes = 777};
	int r;

	memset(err, 0, sizeof(*err));
	r = unpack_archive_fd(afd, f->dest_fd, lim, &mine, err);
	close(afd);
	if (r < 0) {
		assert_int_equal(mine.entries, 777);
		assert_int_equal(mine.bytes, 777);
		assert_true(err->msg[0] != 0);
	} else if (st) {
		*st = mine;
	}
	return r;
}

static void
assert_refused(struct fx *f, int afd, int want_r, const char *want_msg)
{
	struct rw_err err;
	int r = unpack(f, afd, NULL, NULL, &err);

	assert_string_equal(err.msg, want_msg);
	assert_int_equal(r, want_r);
	check_nothing_outside(f);
}

static void
assert_mode(int dfd, const char *path, mode_t type, mode_t perm)
{
	struct stat st;

	assert_int_equal(fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mode & S_IFMT, type);
	if (type != S_IFLNK)
		assert_int_equal(st.st_mode & 07777, perm);
}

static void
assert_content_flags(int dfd, const char *path, int flags, const char *want)
{
	char buf[256];
	int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | flags);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = 0;
	assert_string_equal(buf, want);
}

static void
assert_content(int dfd, const char *path, const char *want)
{
	assert_content_flags(dfd, path, O_NOFOLLOW, want);
}

static void
assert_link(int dfd, const char *path, const char *want)
{
	char buf[256];
	ssize_t n = readlinkat(dfd, path, buf, sizeof(buf) - 1);

	assert_true(n >= 0);
	buf[n] = 0;
	assert_string_equal(buf, want);
}

static void
assert_mtime(int dfd, const char *path, time_t want)
{
	struct stat st;

	assert_int_equal(fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mtim.tv_sec, want);
}

static void
assert_dest_empty(struct fx *f)
{
	char names[256];

	list_dir(f->dest_fd, ".", names, sizeof(names));
	assert_string_equal(names, "");
}

/* ---- a good release ---- */

static void
build_release(struct tb *t)
{
	struct archive_entry *e;

	tb_dir(t, "./", 0755);
	tb_dir(t, "./bin/", 0750);
	tb_file(t, "./bin/app", 0755, "#!/bin/sh\necho hello\n");
	tb_file(t, "etc/app.conf", 0640, "port=8080\n");
	tb_file(t, "lib/nested/deep/secret", 0600, "s3cret\n"); /* implicit parents */
	tb_file(t, "sticky", 01644, "sticky bit dropped\n");
	tb_dir(t, "data", 0555); /* read-only, filled afterwards */
	tb_file(t, "data/readme", 0444, "read me\n");
	tb_symlink(t, "current", "bin/app");
	tb_symlink(t, "bin/conf", "../etc/app.conf");
	tb_symlink(t, "lib/nested/deep/up", "../../../etc");
	tb_symlink(t, "self", ".");
	e = tb_entry_new("bin/old", AE_IFREG, 0644);
	archive_entry_set_mtime(e, T2, 0);
	archive_entry_set_size(e, 3);
	tb_put(t, e, "old", 3);
	e = tb_entry_new("data", AE_IFDIR, 0555); /* a directory repeated is fine */
	archive_entry_set_mtime(e, T2, 0);
	tb_put(t, e, NULL, 0);
}

static void
check_release(struct fx *f)
{
	int d = f->dest_fd;

	assert_mode(d, "bin", S_IFDIR, 0750);
	assert_mode(d, "bin/app", S_IFREG, 0755);
	assert_content(d, "bin/app", "#!/bin/sh\necho hello\n");
	assert_mode(d, "etc/app.conf", S_IFREG, 0640);
	assert_content(d, "etc/app.conf", "port=8080\n");
	assert_mode(d, "lib", S_IFDIR, 0755);
	assert_mode(d, "lib/nested/deep", S_IFDIR, 0755);
	assert_mode(d, "lib/nested/deep/secret", S_IFREG, 0600);
	assert_content(d, "lib/nested/deep/secret", "s3cret\n");
	assert_mode(d, "sticky", S_IFREG, 0644);
	assert_mode(d, "data", S_IFDIR, 0555);
	assert_mode(d, "data/readme", S_IFREG, 0444);
	assert_content(d, "data/readme", "read me\n");
	assert_mode(d, "current", S_IFLNK, 0);
	assert_link(d, "current", "bin/app");
	assert_link(d, "bin/conf", "../etc/app.conf");
	assert_content_flags(d, "bin/conf", 0, "port=8080\n"); /* resolves inside */
	assert_link(d, "lib/nested/deep/up", "../../../etc");
	assert_link(d, "self", ".");
	assert_mtime(d, "bin", T1);
	assert_mtime(d, "bin/app", T1);
	assert_mtime(d, "bin/old", T2);
	assert_mtime(d, "data", T2);
	assert_mtime(d, "current", T1);
}

static void
test_unpack_extracts_valid_targz_with_modes_symlinks_and_mtimes(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();
	struct unpack_stats st;
	struct rw_err err;
	struct stat s;

	build_release(&t);
	assert_int_equal(unpack(f, tb_finish(&t), NULL, &st, &err), 0);
	check_release(f);
	assert_int_equal(st.entries, 14);
	assert_int_equal(st.bytes, 21 + 10 + 7 + 19 + 8 + 3);
	/* Nothing is chowned: files belong to the caller, not uid 4242. */
	assert_int_equal(fstatat(f->dest_fd, "bin/app", &s, 0), 0);
	assert_int_equal(s.st_uid, getuid());
	check_nothing_outside(f);
}

static void
test_unpack_reads_every_tar_format_and_compression(void **state)
{
	static const int filters[] = {ARCHIVE_FILTER_NONE, ARCHIVE_FILTER_GZIP,
	        ARCHIVE_FILTER_BZIP2, ARCHIVE_FILTER_XZ, ARCHIVE_FILTER_ZSTD, ARCHIVE_FILTER_LZ4,
	        ARCHIVE_FILTER_LZMA, ARCHIVE_FILTER_LZIP};
	static const int formats[] = {ARCHIVE_FORMAT_TAR_USTAR, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED,
	        ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE, ARCHIVE_FORMAT_TAR_GNUTAR};
	struct fx *f = *state;

	for (size_t i = 0; i < ELEMENTSOF(filters); i++)
		for (size_t j = 0; j < ELEMENTSOF(formats); j++) {
			struct tb t = tb_new(filters[i], formats[j]);
			struct unpack_stats st;
			struct rw_err err;
			int r;

			build_release(&t);
			r = unpack(f, tb_finish(&t), NULL, &st, &err);
			if (r < 0)
				print_error("filter %d format %d: %s\n", filters[i], formats[j],
				        err.msg);
			assert_int_equal(r, 0);
			check_release(f);
			assert_int_equal(st.entries, 14);
			check_nothing_outside(f);
			fx_reset_dest(f);
		}
}

/* ---- paths ---- */

static void
test_unpack_refuses_dotdot_entry(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();

	tb_file(&t, "ok", 0644, "fine\n");
	tb_file(&t, "../evil", 0644, "evil\n");
	assert_refused(
	        f, tb_finish(&t), -EPERM, "entry '../evil': '..' path components are not allowed");
}

static void
test_unpack_refuses_absolute_path(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();
	char abs[256];

	snprintf(abs, sizeof(abs), "%s/outside/abs", f->base);
	tb_file(&t, abs, 0644, "evil\n");
	tb_file(&t, "/abs/path", 0644, "evil\n");
	t.fd = tb_finish(&t);
	{
		struct rw_err err;
		char want[512];
		int r = unpack(f, t.fd, NULL, NULL, &err);

		snprintf(want, sizeof(want), "entry '%s': absolute paths are not allowed", abs);
		assert_int_equal(r, -EPERM);
		assert_string_equal(err.msg, want);
	}
	assert_int_equal(access("/abs", F_OK), -1);
	assert_dest_empty(f);
	check_nothing_outside(f);

	t = tb_targz();
	tb_file(&t, "/abs/path", 0644, "evil\n");
	assert_refused(
	        f, tb_finish(&t), -EPERM, "entry '/abs/path': absolute paths are not allowed");
	assert_int_equal(access("/abs", F_OK), -1);
}

static void
test_unpack_refuses_dotdot_in_the_middle_of_a_path(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();

	tb_dir(&t, "a", 0755);
	tb_file(&t, "a/../../x", 0644, "evil\n");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'a/../../x': '..' path components are not allowed");
	assert_int_equal(faccessat(f->releases_fd, "x", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}

static void
test_unpack_refuses_control_characters_in_names(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();

	tb_file(&t, "bad\nname", 0644, "x");
	assert_refused(
	        f, tb_finish(&t), -EPERM, "entry 'bad\\x0aname': name contains control characters");
	assert_dest_empty(f);

	t = tb_targz();
	tb_file(&t, "esc\x1b[31m\x7f", 0644, "x");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'esc\\x1b[31m\\x7f': name contains control characters");

	t = tb_targz();
	tb_symlink(&t, "link", "tar\tget");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'link': symlink target 'tar\\x09get' contains control characters");
	assert_dest_empty(f);
}

static void
test_unpack_refuses_path_longer_than_cap(void **state)
{
	struct fx *f = *state;
	char path[1200], want[512];
	struct unpack_limits lim = UNPACK_LIMITS_DEFAULT;
	struct rw_err err;
	struct tb t;

	/* 11 components of 99 'a' + '/', 1099 bytes: over the default 1024. */
	path[0] = 0;
	for (int i = 0; i < 11; i++) {
		if (i)
			strcat(path, "/");
		memset(path + strlen(path), 'a', 99);
		path[i * 100 + 99] = 0;
	}
	assert_int_equal(strlen(path), 1099);
	t = tb_targz();
	tb_file(&t, path, 0644, "deep\n");
	snprintf(want, sizeof(want),
	        "entry '%.160s...': name is 1099 bytes long, longer than the limit of 1024 bytes",
	        path);
	assert_refused(f, tb_finish(&t), -ENAMETOOLONG, want);
	assert_dest_empty(f);

	/* A lower cap, and a symlink target over it. */
	lim.max_path = 16;
	t = tb_targz();
	tb_file(&t, "sixteen-bytes-ok", 0644, "ok\n");
	tb_file(&t, "seventeen-bytes-x", 0644, "no\n");
	assert_int_equal(unpack(f, tb_finish(&t), &lim, NULL, &err), -ENAMETOOLONG);
	assert_string_equal(err.msg,
	        "entry 'seventeen-bytes-x': name is 17 bytes long, longer "
	        "than the limit of 16 bytes");
	fx_reset_dest(f);
	t = tb_targz();
	tb_symlink(&t, "l", "aaaa/bbbb/cccc/dddd");
	assert_int_equal(unpack(f, tb_finish(&t), &lim, NULL, &err), -ENAMETOOLONG);
	assert_string_equal(
	        err.msg, "entry 'l': symlink target is longer than the limit of 16 bytes");
	check_nothing_outside(f);
}

static void
test_unpack_refuses_duplicate_entry(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();

	tb_file(&t, "app", 0644, "first\n");
	tb_file(&t, "./app", 0644, "second\n");
	assert_refused(f, tb_finish(&t), -EEXIST,
	        "entry './app': duplicate entry (the path already exists)");
	assert_content(f->dest_fd, "app", "first\n");
}

/* One raw ustar header block (for what libarchive's writer refuses to make). */
static void
ustar_header(char blk[static 512], const char *name, char type, size_t size)
{
	unsigned sum = 0;

	memset(blk, 0, 512);
	snprintf(blk, 100, "%s", name);
	snprintf(blk + 100, 8, "%07o", 0644);
	snprintf(blk + 108, 8, "%07o", 0);
	snprintf(blk + 116, 8, "%07o", 0);
	snprintf(blk + 124, 12, "%011zo", size);
	snprintf(blk + 136, 12, "%011o", (unsigned)T1);
	blk[156] = type;
	memcpy(blk + 257, "ustar", 6);
	memcpy(blk + 263, "00", 2);
	memset(blk + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)blk[i];
	snprintf(blk + 148, 8, "%06o", sum);
}

static void
test_unpack_nul_in_pax_name_cannot_smuggle_a_path(void **state)
{
	/* "21 path=a\0../../evil\n": 21 bytes, NUL inside the value. */
	static const char rec[] = "21 path=a\0../../evil\n";
	struct fx *f = *state;
	char blk[512], names[64];
	struct unpack_stats st;
	struct rw_err err;
	int fd = memfd_create("nul", MFD_CLOEXEC);

	assert_int_equal(sizeof(rec) - 1, 21);
	ustar_header(blk, "PaxHeaders/plain", 'x', sizeof(rec) - 1);
	assert_int_equal(write(fd, blk, 512), 512);
	memset(blk, 0, sizeof(blk));
	memcpy(blk, rec, sizeof(rec) - 1);
	assert_int_equal(write(fd, blk, 512), 512);
	ustar_header(blk, "plain", '0', 2);
	assert_int_equal(write(fd, blk, 512), 512);
	memset(blk, 0, sizeof(blk));
	memcpy(blk, "x\n", 2);
	assert_int_equal(write(fd, blk, 512), 512);
	memset(blk, 0, sizeof(blk));
	assert_int_equal(write(fd, blk, 512), 512);
	assert_int_equal(write(fd, blk, 512), 512);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);

	/* libarchive hands names over as C strings: the name ends at the NUL,
	 * and what is left ("a") is what gets checked and written. */
	assert_int_equal(unpack(f, fd, NULL, &st, &err), 0);
	assert_int_equal(st.entries, 1);
	list_dir(f->dest_fd, ".", names, sizeof(names));
	assert_string_equal(names, "a");
	assert_content(f->dest_fd, "a", "x\n");
	check_nothing_outside(f);
}

/* ---- symlinks ---- */

static void
test_unpack_refuses_symlink_to_absolute_path(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();

	tb_symlink(&t, "passwd", "/etc/passwd");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'passwd': symlink target '/etc/passwd' is absolute (only links inside the "
	        "release are allowed)");
	assert_dest_empty(f);
}

static void
test_unpack_refuses_symlink_leaving_release(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();

	tb_symlink(&t, "link", "../../outside");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'link': symlink target '../../outside' points outside the release");
	assert_dest_empty(f);

	/* One level too many from a subdirectory. */
	t = tb_targz();
	tb_symlink(&t, "a/b/link", "../../../outside/canary");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'a/b/link': symlink target '../../../outside/canary' points outside the "
	        "release");
}

static void
test_unpack_refuses_symlink_with_dotdot_after_a_name(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();

	/* "up -> ." is harmless alone, but "up/.." is resolved by the kernel
	 * through the link, so lexical checks cannot vouch for "x/..". */
	tb_symlink(&t, "sub/up", "..");
	tb_symlink(&t, "sub/esc", "up/../../outside");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'sub/esc': symlink target 'up/../../outside' has '..' after a name (not "
	        "allowed: it could leave the release through another symlink)");
}

static void
test_unpack_refuses_file_written_through_escaping_symlink(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();

	tb_symlink(&t, "link", "../outside");
	tb_file(&t, "link/file", 0644, "evil\n");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'link': symlink target '../outside' points outside the release");
	assert_dest_empty(f);
}

static void
test_unpack_refuses_file_written_through_internal_symlink(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();
	char names[64];

	tb_dir(&t, "sub", 0755);
	tb_symlink(&t, "link", "sub");
	tb_file(&t, "link/file", 0644, "through\n");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'link/file': parent 'link' is a symlink (writing through symlinks is not "
	        "allowed)");
	list_dir(f->dest_fd, "sub", names, sizeof(names));
	assert_string_equal(names, "");
}

static void
test_unpack_never_follows_symlinks_already_in_destination(void **state)
{
	struct fx *f = *state;
	struct tb t;

	/* Not possible through the archive (refused above); a hostile dest. */
	assert_int_equal(symlinkat("../../outside", f->dest_fd, "pre"), 0);
	assert_int_equal(symlinkat("../../outside/canary", f->dest_fd, "leaf"), 0);

	t = tb_targz();
	tb_file(&t, "pre/canary", 0644, "overwritten\n");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'pre/canary': parent 'pre' is a symlink (writing through symlinks is not "
	        "allowed)");

	t = tb_targz();
	tb_file(&t, "pre/new/file", 0644, "new\n");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'pre/new/file': parent 'pre' is a symlink (writing through symlinks is not "
	        "allowed)");

	t = tb_targz();
	tb_file(&t, "leaf", 0644, "overwritten\n");
	assert_refused(f, tb_finish(&t), -EEXIST,
	        "entry 'leaf': duplicate entry (the path already exists)");

	t = tb_targz();
	tb_dir(&t, "pre", 0777);
	assert_refused(f, tb_finish(&t), -EEXIST,
	        "entry 'pre/': duplicate entry (the path exists and is not a directory)");
}

/* ---- entry types and modes ---- */

static void
test_unpack_refuses_hardlink(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();
	struct archive_entry *e;

	tb_file(&t, "file", 0644, "data\n");
	e = tb_entry_new("hard", AE_IFREG, 0644);
	archive_entry_set_hardlink(e, "file");
	tb_put(&t, e, NULL, 0);
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'hard': hardlinks are not allowed (link to 'file')");
	assert_int_equal(faccessat(f->dest_fd, "hard", F_OK, AT_SYMLINK_NOFOLLOW), -1);

	t = tb_new(ARCHIVE_FILTER_NONE, ARCHIVE_FORMAT_TAR_GNUTAR);
	e = tb_entry_new("pw", AE_IFREG, 0644);
	archive_entry_set_hardlink(e, "/etc/passwd");
	tb_put(&t, e, NULL, 0);
	fx_reset_dest(f);
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'pw': hardlinks are not allowed (link to '/etc/passwd')");
	assert_dest_empty(f);
}

static void
test_unpack_refuses_device_nodes(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();
	struct archive_entry *e;

	e = tb_entry_new("dev/null", AE_IFCHR, 0666);
	archive_entry_set_rdev(e, makedev(1, 3));
	tb_put(&t, e, NULL, 0);
	assert_refused(f, tb_finish(&t), -EPERM, "entry 'dev/null': device nodes are not allowed");
	assert_dest_empty(f);

	t = tb_targz();
	e = tb_entry_new("sda", AE_IFBLK, 0660);
	archive_entry_set_rdev(e, makedev(8, 0));
	tb_put(&t, e, NULL, 0);
	assert_refused(f, tb_finish(&t), -EPERM, "entry 'sda': device nodes are not allowed");
	assert_dest_empty(f);
}

static void
test_unpack_refuses_fifo(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();

	tb_put(&t, tb_entry_new("run/fifo", AE_IFIFO, 0644), NULL, 0);
	assert_refused(f, tb_finish(&t), -EPERM, "entry 'run/fifo': FIFOs are not allowed");
	assert_dest_empty(f);
}

static void
test_unpack_refuses_setuid_and_setgid(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();

	tb_file(&t, "bin/su", 04755, "#!/bin/sh\n");
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'bin/su': setuid/setgid bits are not allowed (mode 04755)");
	assert_int_equal(faccessat(f->dest_fd, "bin/su", F_OK, AT_SYMLINK_NOFOLLOW), -1);

	t = tb_targz();
	tb_dir(&t, "shared", 02775);
	assert_refused(f, tb_finish(&t), -EPERM,
	        "entry 'shared/': setuid/setgid bits are not allowed (mode 02775)");
}

/* ---- caps ---- */

static void
test_unpack_refuses_sparse_10gib_bomb_at_header_with_default_cap(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_new(ARCHIVE_FILTER_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	struct archive_entry *e = tb_entry_new("bomb", AE_IFREG, 0644);
	struct rw_err err;
	double t0;
	int fd, r;

	archive_entry_set_size(e, (la_int64_t)(10 * GIB));
	archive_entry_sparse_add_entry(e, 10 * GIB - 4096, 4096);
	assert_int_equal(archive_write_header(t.a, e), ARCHIVE_OK);
	assert_int_equal(
	        archive_write_data(t.a, CANARY, strlen(CANARY)), (la_ssize_t)strlen(CANARY));
	archive_entry_free(e);
	fd = tb_finish(&t);
	assert_true(fd_size(fd) < 4096); /* a 10 GiB file in a few hundred bytes */

	t0 = now_sec();
	r = unpack(f, fd, NULL, NULL, &err);
	print_message("sparse 10 GiB bomb refused in %.3f s\n", now_sec() - t0);
	assert_int_equal(r, -EFBIG);
	assert_string_equal(err.msg,
	        "entry 'bomb': size 10737418240 bytes exceeds the limit of "
	        "4294967296 bytes of unpacked content (0 already used)");
	assert_dest_empty(f);
	check_nothing_outside(f);
}

static void
test_unpack_stops_zero_bomb_at_byte_cap(void **state)
{
	struct fx *f = *state;
	struct unpack_limits lim = UNPACK_LIMITS_DEFAULT;
	struct tb t = tb_targz();
	struct rw_err err;
	uint64_t files = 0, bytes = 0;
	char name[32];
	double t0;
	int fd, r;

	/* 16 files of 4 MiB of zeros: 64 MiB unpacked from ~70 KiB. */
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "zeros/%02d", i);
		tb_big_file(&t, name, 4 * MIB, false);
	}
	fd = tb_finish(&t);
	assert_true(fd_size(fd) < (off_t)(2 * MIB));

	lim.max_bytes = 10 * MIB;
	t0 = now_sec();
	r = unpack(f, fd, &lim, NULL, &err);
	print_message("zero bomb refused after %.3f s\n", now_sec() - t0);
	assert_int_equal(r, -EFBIG);
	assert_string_equal(err.msg,
	        "entry 'zeros/02': size 4194304 bytes exceeds the limit of "
	        "10485760 bytes of unpacked content (8388608 already used)");
	count_tree(f->dest_fd, &files, &bytes);
	assert_int_equal(files, 2);
	assert_int_equal(bytes, 8 * MIB);
	check_nothing_outside(f);

	/* One file bigger than the whole cap: nothing of it is written. */
	fx_reset_dest(f);
	t = tb_targz();
	tb_big_file(&t, "one", 64 * MIB, false);
	lim.max_bytes = MIB;
	assert_int_equal(unpack(f, tb_finish(&t), &lim, NULL, &err), -EFBIG);
	assert_string_equal(err.msg,
	        "entry 'one': size 67108864 bytes exceeds the limit of "
	        "1048576 bytes of unpacked content (0 already used)");
	assert_dest_empty(f);
	check_nothing_outside(f);
}

static void
test_unpack_refuses_million_entries_without_creating_them(void **state)
{
	struct fx *f = *state;
	struct unpack_limits lim = UNPACK_LIMITS_DEFAULT;
	struct tb t = tb_new(ARCHIVE_FILTER_ZSTD, ARCHIVE_FORMAT_TAR_USTAR);
	struct archive_entry *e = archive_entry_new();
	uint64_t files = 0, bytes = 0;
	struct rw_err err;
	char name[32];
	double t0 = now_sec();
	int fd, fd2, r;

	for (unsigned i = 0; i < 1000000; i++) {
		archive_entry_clear(e);
		snprintf(name, sizeof(name), "d%03u/f%03u", i / 1000, i % 1000);
		archive_entry_set_pathname(e, name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, 0);
		assert_int_equal(archive_write_header(t.a, e), ARCHIVE_OK);
	}
	archive_entry_free(e);
	fd = tb_finish(&t);
	print_message("1,000,000-entry archive: %lld bytes, built in %.2f s\n",
	        (long long)fd_size(fd), now_sec() - t0);
	fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	assert_true(fd2 >= 0);

	/* A low cap: refused after 1000 entries. */
	lim.max_entries = 1000;
	t0 = now_sec();
	r = unpack(f, fd, &lim, NULL, &err);
	print_message("refused at 1000 entries in %.3f s\n", now_sec() - t0);
	assert_int_equal(r, -E2BIG);
	assert_string_equal(
	        err.msg, "entry 'd001/f000': archive has more than the limit of 1000 entries");
	count_tree(f->dest_fd, &files, &bytes);
	assert_int_equal(files, 1000);
	check_nothing_outside(f);

	/* The default cap: 100000 files, on a tmpfs if possible, since the
	 * test measures the unpacker, not the disk. */
	if (!fx_mount_tmpfs(f, "size=64m,mode=0755"))
		print_message("cannot mount a tmpfs (%s): using the real disk\n", strerror(errno));
	assert_int_equal(lseek(fd2, 0, SEEK_SET), 0);
	t0 = now_sec();
	r = unpack(f, fd2, NULL, NULL, &err);
	print_message("refused at the default 100000 entries in %.3f s\n", now_sec() - t0);
	assert_int_equal(r, -E2BIG);
	assert_string_equal(
	        err.msg, "entry 'd100/f000': archive has more than the limit of 100000 entries");
	files = 0;
	count_tree(f->dest_fd, &files, &bytes);
	assert_int_equal(files, 100000);
	check_nothing_outside(f);
	if (f->mounted)
		fx_umount(f);
	check_nothing_outside(f);
}

/* ---- broken input ---- */

static void
test_unpack_refuses_garbage_bytes(void **state)
{
	struct fx *f = *state;
	int fd = memfd_create("garbage", MFD_CLOEXEC);
	char buf[4096];
	struct rw_err err;
	uint32_t x = 88172645u;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		buf[i] = (char)x;
	}
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(unpack(f, fd, NULL, NULL, &err), -EBADMSG);
	assert_string_equal(err.msg, "not a readable tar archive: Unrecognized archive format");
	assert_dest_empty(f);
	check_nothing_outside(f);

	/* A gzip header followed by garbage. */
	fd = memfd_create("garbage", MFD_CLOEXEC);
	buf[0] = (char)0x1f, buf[1] = (char)0x8b, buf[2] = 8, buf[3] = 0;
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(unpack(f, fd, NULL, NULL, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "not a readable tar archive: "));
	assert_dest_empty(f);
	check_nothing_outside(f);
}

static void
test_unpack_refuses_truncated_archive(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();
	struct rw_err err;
	int fd;

	tb_file(&t, "first", 0644, "complete\n");
	tb_big_file(&t, "big.bin", 256 * 1024, true);
	tb_file(&t, "last", 0644, "never\n");
	fd = tb_finish(&t);
	assert_int_equal(ftruncate(fd, fd_size(fd) / 2), 0);
	assert_int_equal(unpack(f, fd, NULL, NULL, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "archive is truncated or corrupt in entry 'big.bin': "));
	assert_content(f->dest_fd, "first", "complete\n");
	assert_int_equal(faccessat(f->dest_fd, "last", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	check_nothing_outside(f);

	/* Uncompressed, cut inside the second header. */
	fx_reset_dest(f);
	t = tb_new(ARCHIVE_FILTER_NONE, ARCHIVE_FORMAT_TAR_USTAR);
	tb_file(&t, "first", 0644, "complete\n");
	tb_file(&t, "second", 0644, "cut\n");
	fd = tb_finish(&t);
	assert_int_equal(ftruncate(fd, 512 + 512 + 100), 0);
	assert_int_equal(unpack(f, fd, NULL, NULL, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "archive is truncated or corrupt after entry 'first': "));
	check_nothing_outside(f);
}

static void
test_unpack_reports_disk_full(void **state)
{
	struct fx *f = *state;
	struct tb t = tb_targz();
	struct rw_err err;
	int fd, r;

	tb_file(&t, "small", 0644, "fits\n");
	tb_big_file(&t, "big.bin", 4 * MIB, true);
	fd = tb_finish(&t);

	if (!fx_mount_tmpfs(f, "size=1m,mode=0755")) {
		close(fd);
		print_message("skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
		skip();
	}

	r = unpack(f, fd, NULL, NULL, &err);
	assert_string_equal(err.msg, "disk full while unpacking 'big.bin'");
	assert_int_equal(r, -ENOSPC);
	assert_content(f->dest_fd, "small", "fits\n");
	check_nothing_outside(f);

	fx_umount(f);
	check_nothing_outside(f);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_unpack_extracts_valid_targz_with_modes_symlinks_and_mtimes),
	        T(test_unpack_reads_every_tar_format_and_compression),
	        T(test_unpack_refuses_dotdot_entry),
	        T(test_unpack_refuses_absolute_path),
	        T(test_unpack_refuses_dotdot_in_the_middle_of_a_path),
	        T(test_unpack_refuses_control_characters_in_names),
	        T(test_unpack_refuses_path_longer_than_cap),
	        T(test_unpack_refuses_duplicate_entry),
	        T(test_unpack_nul_in_pax_name_cannot_smuggle_a_path),
	        T(test_unpack_refuses_symlink_to_absolute_path),
	        T(test_unpack_refuses_symlink_leaving_release),
	        T(test_unpack_refuses_symlink_with_dotdot_after_a_name),
	        T(test_unpack_refuses_file_written_through_escaping_symlink),
	        T(test_unpack_refuses_file_written_through_internal_symlink),
	        T(test_unpack_never_follows_symlinks_already_in_destination),
	        T(test_unpack_refuses_hardlink),
	        T(test_unpack_refuses_device_nodes),
	        T(test_unpack_refuses_fifo),
	        T(test_unpack_refuses_setuid_and_setgid),
	        T(test_unpack_refuses_sparse_10gib_bomb_at_header_with_default_cap),
	        T(test_unpack_stops_zero_bomb_at_byte_cap),
	        T(test_unpack_refuses_million_entries_without_creating_them),
	        T(test_unpack_refuses_garbage_bytes),
	        T(test_unpack_refuses_truncated_archive),
	        T(test_unpack_reports_disk_full),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
