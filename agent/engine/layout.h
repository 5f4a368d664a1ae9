/*
 * layout: an app's directory tree on a host.
 *
 *   <Root>/releases/<version>/        one complete release per directory
 *   <Root>/releases/.staging-<v>/     being unpacked (removed by recovery)
 *   <Root>/releases/.download-<v>     artifact being fetched (idem)
 *   <Root>/current -> releases/<v>    relative symlink, swapped atomically
 *   <Root>/shared/<dir>/              survives releases, linked into each
 *
 * Invariant: `current` is only ever replaced by renameat() of a fully
 * written symlink over it, after the target release directory was fsynced
 * and renamed into place, so it always names a complete release.
 */
#ifndef ROLLWAVE_AGENT_LAYOUT_H
#define ROLLWAVE_AGENT_LAYOUT_H

#include "util.h"
#include "version.h"

/* Opens (creating if create) <root>, <root>/releases and <root>/shared.
 * Returns the root directory fd. */
int layout_open_root(const char *root, bool create, int *ret_fd, struct rw_err *err);

/* Reads `current`: the version it points to, "" if there is no `current`.
 * -EBADMSG if it is not a symlink of the form releases/<version>. */
int layout_read_current(int rootfd, char ret[static VERSION_MAX + 1]);

/* True if releases/<version> is a directory. */
bool layout_release_exists(int rootfd, const char *version);

/* Points `current` at releases/<version> atomically (symlink current.tmp,
 * rename over current, fsync the root). */
int layout_swap_current(int rootfd, const char *version, struct rw_err *err);

/* Lists the versions in releases/ (sorted newest first by version order). */
int layout_list_releases(int rootfd, char ***ret_versions);

/* Removes leftovers of interrupted operations: .staging-*, .download-*,
 * .trash-*, current.tmp. Returns how many were removed. */
int layout_remove_leftovers(int rootfd);

/* Links each shared dir into the release being staged: replaces
 * <staging>/<d> with a relative symlink to <Root>/shared/<d>, creating the
 * shared dir (and parents in the release) as needed. A symlink on the way
 * inside the release is refused (-EPERM): it could aim the link elsewhere. */
int layout_link_shared(
        int rootfd, const char *staging_name, char *const *shared_dirs, struct rw_err *err);

/* Removes releases/<version> crash-safely: renamed to .trash-<version>,
 * then deleted. 0 if it did not exist. */
int layout_remove_release(int rootfd, const char *version);

/* Deletes the oldest releases so that at most keep remain, never removing
 * current or previous. Returns the number removed. */
int layout_prune(int rootfd, unsigned keep, const char *current, const char *previous);

#endif
