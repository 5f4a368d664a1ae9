/*
 * fuzz_unpack: feeds arbitrary bytes to unpack_archive_fd() as a release
 * archive, extracting into a fresh directory (on /dev/shm when there is one,
 * so that the fuzzer does not wait on a disk) with small limits, then removes
 * it. Any crash, leak or sanitizer report is a bug; refusals are expected.
 * Seeds: corpus/unpack/ (a tar.gz release, a plain ustar with a '..' entry, a
 * tar.zst with a symlink and a hardlink).
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "unpack.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct unpack_limits lim = {
	        .max_entries = 64,
	        .max_bytes = 1 << 20,
	        .max_path = 256,
	};
	struct unpack_stats stats;
	struct rw_err err;
	_cleanup_close_ int afd = -1, dfd = -1;
	char dir[64];

	afd = memfd_create("fuzz-archive", MFD_CLOEXEC);
	if (afd < 0)
		return 0;
	for (size_t done = 0; done < size;) {
		ssize_t n = write(afd, data + done, size - done);

		if (n <= 0)
			return 0;
		done += (size_t)n;
	}
	if (lseek(afd, 0, SEEK_SET) != 0)
		return 0;

	snprintf(dir, sizeof(dir), "%s/rw-fuzz-unpack-XXXXXX",
	        access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		return 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)unpack_archive_fd(afd, dfd, &lim, &stats, &err);
	(void)rm_rf_at(AT_FDCWD, dir);
	return 0;
}
