/*
 * layout: an app's release directories and the `current` symlink. See
 * layout.h for the tree and its invariant.
 */
#include "layout.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

int
layout_open_root(const char *root, bool create, int *ret_fd, struct rw_err *err)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (create) {
		r = mkdir_p(root, 0755);
		if (r < 0)
			return rw_err_set(err, r, "cannot create %s: %s", root, strerror(-r));
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return rw_err_set(err, -errno, "cannot open app root %s: %m", root);
	if (create) {
		if (mkdirat(fd, "releases", 0755) < 0 && errno != EEXIST)
			return rw_err_set(err, -errno, "cannot create %s/releases: %m", root);
		if (mkdirat(fd, "shared", 0755) < 0 && errno != EEXIST)
			return rw_err_set(err, -errno, "cannot create %s/shared: %m", root);
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int
layout_read_current(int rootfd, char ret[static VERSION_MAX + 1])
{
	char buf[PATH_MAX];
	ssize_t n;

	n = readlinkat(rootfd, "current", buf, sizeof(buf) - 1);
	if (n < 0) {
		if (errno == ENOENT) {
			ret[0] = 0;
			return 0;
		}
		return errno == EINVAL ? -EBADMSG : -errno;
	}
	buf[n] = 0;
	if (strncmp(buf, "releases/", 9) != 0 || !version_is_valid(buf + 9))
		return -EBADMSG;
	strcpy(ret, buf + 9);
	return 0;
}

bool
layout_release_exists(int rootfd, const char *version)
{
	char path[PATH_MAX];
	struct stat st;

	if (!version_is_valid(version))
		return false;
	if (xsnprintf(path, sizeof(path), "releases/%s", version) < 0)
		return false;
	return fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int
layout_swap_current(int rootfd, const char *version, struct rw_err *err)
{
	char target[PATH_MAX];
	struct stat st;
	int r;

	r = xsnprintf(target, sizeof(target), "releases/%s", version);
	if (r < 0)
		return rw_err_set(err, r, "version too long");
	if (fstatat(rootfd, "current", &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode))
		return rw_err_set(err, -EEXIST,
		        "'current' exists and is not a symlink; refusing to replace it");
	if (unlinkat(rootfd, "current.tmp", 0) < 0 && errno != ENOENT)
		return rw_err_set(err, -errno, "cannot remove stale current.tmp: %m");
	if (symlinkat(target, rootfd, "current.tmp") < 0)
		return rw_err_set(err, -errno, "cannot create current.tmp: %m");
	if (renameat(rootfd, "current.tmp", rootfd, "current") < 0) {
		r = -errno;
		unlinkat(rootfd, "current.tmp", 0);
		return rw_err_set(err, r, "cannot swap 'current' to %s: %s", target, strerror(-r));
	}
	r = fsync_fd(rootfd);
	if (r < 0)
		return rw_err_set(err, r, "cannot fsync the app root: %s", strerror(-r));
	return 0;
}

static int
cmp_version_desc(const void *a, const void *b)
{
	return version_compare(*(char *const *)b, *(char *const *)a);
}

int
layout_list_releases(int rootfd, char ***ret_versions)
{
	_cleanup_strv_free_ char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd;
	DIR *d;

	fd = openat(rootfd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return -errno;
	v = calloc(1, sizeof(char *));
	if (!v) {
		closep(&fd);
		return -ENOMEM;
	}
	if (fd < 0) {
		*ret_versions = TAKE_PTR(v);
		return 0;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' || !version_is_valid(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		        !S_ISDIR(st.st_mode))
			continue;
		if (n + 2 > cap) {
			size_t ncap = cap ? 2 * cap : 16;
			char **nv = realloc(v, ncap * sizeof(char *));

			if (!nv) {
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = ncap;
		}
		v[n] = strdup(de->d_name);
		if (!v[n]) {
			closedir(d);
			return -ENOMEM;
		}
		v[++n] = NULL;
	}
	closedir(d);
	qsort(v, n, sizeof(char *), cmp_version_desc);
	*ret_versions = TAKE_PTR(v);
	return 0;
}

int
layout_remove_leftovers(int rootfd)
{
	_cleanup_close_ int fd = -1;
	struct dirent *de;
	int removed = 0;
	DIR *d;

	if (unlinkat(rootfd, "current.tmp", 0) == 0)
		removed++;
	fd = openat(rootfd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? removed : -errno;
	d = fdopendir(fd);
	if (!d)
		return -errno;
	fd = -1;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, ".staging-", 9) != 0 &&
		        strncmp(de->d_name, ".download-", 10) != 0 &&
		        strncmp(de->d_name, ".trash-", 7) != 0)
			continue;
		if (rm_rf_at(dirfd(d), de->d_name) == 0)
			removed++;
	}
	fsync(dirfd(d));
	closedir(d);
	return removed;
}

/* Opens (creating) the directory `rel` below dirfd one component at a time,
 * refusing symlinks: the release tree comes from an archive, and a link in
 * it must not redirect where the agent writes. */
static int
open_dir_nofollow(int dirfd, const char *rel, int *ret_fd, char *bad, size_t bad_size)
{
	_cleanup_close_ int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	char buf[PATH_MAX];
	char *save = NULL;

	if (fd < 0)
		return -errno;
	if (xsnprintf(buf, sizeof(buf), "%s", rel) < 0)
		return -ENAMETOOLONG;
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int next;

		if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST)
			return -errno;
		next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int e = errno;

			strbuf_printf(bad, bad_size, "%s", c);
			return e == ELOOP || e == ENOTDIR ? -ENOTDIR : -e;
		}
		closep(&fd);
		fd = next;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int
layout_link_shared(
        int rootfd, const char *staging_name, char *const *shared_dirs, struct rw_err *err)
{
	_cleanup_close_ int stfd = -1;
	char st[PATH_MAX];

	if (!shared_dirs || !shared_dirs[0])
		return 0;
	if (xsnprintf(st, sizeof(st), "releases/%s", staging_name) < 0)
		return rw_err_set(err, -ENAMETOOLONG, "staging path too long");
	stfd = openat(rootfd, st, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (stfd < 0)
		return rw_err_set(err, -errno, "cannot open %s: %m", st);

	for (char *const *d = shared_dirs; *d; d++) {
		char shared[PATH_MAX], parent[PATH_MAX], target[PATH_MAX], bad[256] = "";
		_cleanup_close_ int pfd = -1;
		const char *leaf;
		size_t depth = 2; /* releases/<staging>/ */
		int r;

		for (const char *p = *d; *p; p++)
			if (*p == '/')
				depth++;
		if (xsnprintf(shared, sizeof(shared), "shared/%s", *d) < 0)
			return rw_err_set(err, -ENAMETOOLONG, "shared dir path too long: '%s'", *d);
		target[0] = 0;
		for (size_t i = 0; i < depth; i++)
			strcat(target, "../");
		if (strlen(target) + strlen(shared) >= sizeof(target))
			return rw_err_set(err, -ENAMETOOLONG, "shared dir path too long: '%s'", *d);
		strcat(target, shared);

		r = mkdir_p_at(rootfd, shared, 0755);
		if (r < 0)
			return rw_err_set(err, r, "cannot create %s: %s", shared, strerror(-r));

		strcpy(parent, *d);
		leaf = strrchr(parent, '/');
		if (leaf) {
			parent[leaf - parent] = 0;
			leaf = *d + (leaf - parent) + 1;
			r = open_dir_nofollow(stfd, parent, &pfd, bad, sizeof(bad));
		} else {
			leaf = *d;
			pfd = fcntl(stfd, F_DUPFD_CLOEXEC, 3);
			r = pfd < 0 ? -errno : 0;
		}
		if (r == -ENOTDIR)
			return rw_err_set(err, -EPERM,
			        "shared dir '%s': '%s' in the release is a symlink or a file; "
			        "shared dirs are linked only through real directories",
			        *d, bad);
		if (r < 0)
			return rw_err_set(err, r, "shared dir '%s': %s", *d, strerror(-r));
		/* Whatever the release ships at that path is replaced by the link;
		 * rm_rf_at never follows a symlink. */
		r = rm_rf_at(pfd, leaf);
		if (r < 0)
			return rw_err_set(
			        err, r, "cannot replace '%s' in the release: %s", *d, strerror(-r));
		if (symlinkat(target, pfd, leaf) < 0)
			return rw_err_set(err, -errno, "cannot link shared dir '%s': %m", *d);
		r = fsync_fd(pfd);
		if (r < 0)
			return rw_err_set(
			        err, r, "cannot fsync the link of '%s': %s", *d, strerror(-r));
	}
	return 0;
}

int
layout_remove_release(int rootfd, const char *version)
{
	_cleanup_close_ int relfd = -1;
	char trash[VERSION_MAX + 16];
	int r;

	if (!version_is_valid(version))
		return -EINVAL;
	relfd = openat(rootfd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (relfd < 0)
		return -errno;
	/* Out of sight first: killed half-way, what is left is a .trash-
	 * leftover that recovery removes, never a half-empty release. */
	snprintf(trash, sizeof(trash), ".trash-%s", version);
	(void)rm_rf_at(relfd, trash);
	if (renameat(relfd, version, relfd, trash) < 0)
		return errno == ENOENT ? 0 : -errno;
	r = fsync_fd(relfd);
	if (r < 0)
		return r;
	return rm_rf_at(relfd, trash);
}

int
layout_prune(int rootfd, unsigned keep, const char *current, const char *previous)
{
	_cleanup_strv_free_ char **v = NULL;
	_cleanup_close_ int relfd = -1;
	size_t n, kept = 0;
	int r, removed = 0;

	r = layout_list_releases(rootfd, &v);
	if (r < 0)
		return r;
	n = strv_length(v);
	if (n <= keep)
		return 0;
	relfd = openat(rootfd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (relfd < 0)
		return -errno;
	/* current and previous always stay and count against keep. */
	for (size_t i = 0; i < n; i++)
		if ((current && streq(v[i], current)) || (previous && streq(v[i], previous)))
			kept++;
	for (size_t i = 0; i < n; i++) {
		if ((current && streq(v[i], current)) || (previous && streq(v[i], previous)))
			continue;
		if (kept < keep) {
			kept++;
			continue;
		}
		if (layout_remove_release(rootfd, v[i]) == 0)
			removed++;
	}
	fsync(relfd);
	return removed;
}
