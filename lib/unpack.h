/*
 * unpack: extracts a release archive (tar in any flavour libarchive reads:
 * ustar, pax, GNU, v7; uncompressed or gzip, bzip2, xz, lzma, lzip, zstd,
 * lz4) into an empty staging directory, refusing anything that could create,
 * modify or follow something outside that directory.
 *
 * Archives are signed, but a signature only says who made the archive, not
 * that it is harmless; the unpacker treats every byte as hostile.
 *
 * How it stays inside the destination:
 *  - libarchive only parses; every object is created by this module with
 *    openat/mkdirat/symlinkat relative to the destination fd, walking the
 *    parent directories one component at a time with O_NOFOLLOW (the
 *    equivalent, and more, of libarchive's ARCHIVE_EXTRACT_SECURE_NODOTDOT,
 *    _SECURE_SYMLINKS and _SECURE_NOABSOLUTEPATHS, without chdir and without
 *    lstat-then-open races);
 *  - refused, with an error naming the entry and the reason: absolute paths,
 *    '..' components, control characters in names or link targets, names or
 *    link targets longer than max_path bytes, symlinks that are absolute or
 *    leave the release (resolved lexically from the link's directory; '..'
 *    is only accepted as a leading run, because "a/.." could climb out
 *    through another symlink "a"), entries written through a symlink,
 *    hardlinks, device nodes, FIFOs, sockets, setuid/setgid bits, duplicate
 *    entries (other than a directory repeated), more than max_entries entries
 *    and more than max_bytes of file content in total;
 *  - names come from libarchive as C strings, so a NUL inside a pax name
 *    ends the name there; what is left is what gets checked and written
 *    (a NUL can shorten a name, never smuggle a path past the checks);
 *    entries naming the root itself ("." or "./") are accepted and skipped:
 *    the destination's own mode and times belong to the caller;
 *  - the byte cap is checked against each file's declared size before
 *    anything of it is written, and again against the data actually
 *    decompressed, so a decompression bomb is refused at its header (and
 *    could never run past the cap);
 *  - kept: directories, regular files (mode & 0777: the sticky bit is
 *    dropped), symlinks inside the release, modification times, holes of
 *    sparse files. Not applied: owners (everything belongs to the calling
 *    user), ACLs, extended attributes (so no file capabilities), file flags.
 *
 * Durability: after the last entry, directory modes and times are applied
 * (deepest first, so a read-only directory can still be filled) and the
 * destination's filesystem is flushed with syncfs(2), which writes back
 * every file and directory created here and, since Linux 5.8, reports any
 * writeback error; the caller may then rename the staging directory into
 * place and fsync its parent.
 */
#ifndef ROLLWAVE_UNPACK_H
#define ROLLWAVE_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct unpack_limits {
	uint64_t max_entries; /* archive entries of any type, directories included */
	uint64_t max_bytes;   /* total size of regular files (logical, holes included) */
	size_t max_path;      /* bytes in an entry's name, and in a symlink's target */
};

#define UNPACK_MAX_ENTRIES_DEFAULT ((uint64_t)100000)
#define UNPACK_MAX_BYTES_DEFAULT   ((uint64_t)4 << 30) /* 4 GiB */
#define UNPACK_MAX_PATH_DEFAULT    ((size_t)1024)

#define UNPACK_LIMITS_DEFAULT                                                                      \
	((struct unpack_limits) {                                                                  \
	        .max_entries = UNPACK_MAX_ENTRIES_DEFAULT,                                         \
	        .max_bytes = UNPACK_MAX_BYTES_DEFAULT,                                             \
	        .max_path = UNPACK_MAX_PATH_DEFAULT,                                               \
	})

struct unpack_stats {
	uint64_t entries; /* entries read from the archive */
	uint64_t bytes;   /* bytes of regular-file content written (logical size) */
};

/*
 * Extracts the archive read from archive_fd (from its current offset to the
 * end; not closed, not required to be seekable) into dest_dirfd, which must be
 * an existing, empty directory opened with O_RDONLY|O_DIRECTORY (not O_PATH:
 * it is synced). Nothing outside dest_dirfd is created, modified or followed.
 * Blocks on disk I/O; touches no process-wide state (no chdir, no umask
 * change), so it may run on a worker thread while the daemon goes on.
 *
 * lim: NULL means UNPACK_LIMITS_DEFAULT. ret_stats (may be NULL) is written
 * only on success. err (may be NULL) gets a message naming the entry on
 * failure, e.g. "entry 'a/../../x': '..' path components are not allowed".
 *
 * Returns 0, or:
 *  -EPERM        an entry is refused by the rules above;
 *  -E2BIG        more than lim->max_entries entries;
 *  -EFBIG        more than lim->max_bytes bytes of file content;
 *  -ENAMETOOLONG a name or symlink target longer than lim->max_path;
 *  -EEXIST       an entry repeats an earlier one;
 *  -EBADMSG      not a supported archive, or truncated or corrupt;
 *  -ENOSPC       disk full ("disk full while unpacking 'path'"); -EDQUOT alike;
 *  -ENOMEM, or another -errno from the filesystem.
 * On failure the destination holds a partial tree that the caller removes
 * (rm_rf_at); nothing outside it was touched.
 */
int unpack_archive_fd(int archive_fd, int dest_dirfd, const struct unpack_limits *lim,
        struct unpack_stats *ret_stats, struct rw_err *err);

#endif
