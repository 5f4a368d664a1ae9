/*
 * bench_hash: BLAKE2b-512 throughput of fetch's local-file path.
 *
 *   bench_hash FILE
 *
 * Hashes FILE with blake2b512_fd() and with fetch_to_fd(FILE, /dev/null),
 * prints each digest (comparable with `b2sum FILE`) and MiB/s, then the
 * ceiling: libsodium's crypto_generichash over as many bytes already in
 * memory. Cache the file first (cat FILE >/dev/null) to measure hashing,
 * not the disk.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include <sodium.h>

#include "fetch.h"
#include "util.h"

static void
report(const char *what, const uint8_t h[FETCH_HASH_LEN], uint64_t bytes, uint64_t usec)
{
	char hex[2 * FETCH_HASH_LEN + 1];

	hex_encode(h, FETCH_HASH_LEN, hex);
	printf("%s  %s\n%-14s %.3f s  %.0f MiB/s\n", hex, what, what, (double)usec / 1e6,
	        usec ? (double)bytes / (1024.0 * 1024.0) / ((double)usec / 1e6) : 0.0);
}

int
main(int argc, char **argv)
{
	uint8_t h[FETCH_HASH_LEN];
	struct rw_err err = {{0}};
	struct stat st;
	uint64_t t0, size = 0;
	int fd, null_fd, r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}

	t0 = now_monotonic_usec();
	r = blake2b512_fd(fd, h);
	if (r < 0) {
		fprintf(stderr, "blake2b512_fd: %s\n", strerror(-r));
		return 1;
	}
	report("blake2b512_fd", h, (uint64_t)st.st_size, now_monotonic_usec() - t0);
	close(fd);

	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0) {
		fprintf(stderr, "/dev/null: %s\n", strerror(errno));
		return 1;
	}
	t0 = now_monotonic_usec();
	r = fetch_to_fd(argv[1], null_fd, NULL, h, &size, &err);
	if (r < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	report("fetch_to_fd", h, size, now_monotonic_usec() - t0);
	close(null_fd);

	{
		static uint8_t chunk[256 * 1024];
		crypto_generichash_state state;
		uint64_t left = (uint64_t)st.st_size;

		t0 = now_monotonic_usec();
		crypto_generichash_init(&state, NULL, 0, FETCH_HASH_LEN);
		while (left > 0) {
			size_t n = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);

			crypto_generichash_update(&state, chunk, n);
			left -= n;
		}
		crypto_generichash_final(&state, h, FETCH_HASH_LEN);
		report("sodium-memory", h, (uint64_t)st.st_size, now_monotonic_usec() - t0);
	}
	return 0;
}
