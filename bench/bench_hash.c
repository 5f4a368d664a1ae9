/*
 * bench_hash: BLAKE2b-512 throughput of the paths that hash artifacts.
 *
 *   bench_hash all FILE
 *       Hashes FILE with blake2b512_fd() (libcrypto, what the CLI and
 *       minisign_hash_fd use), with fetch_to_fd(file://FILE, /dev/null) (the
 *       agent's download path) and, for reference, with libsodium's
 *       crypto_generichash in the same 1 MiB reads (what fetch used before).
 *       Prints each digest (comparable with `b2sum FILE`), time and MiB/s.
 *
 *   bench_hash fetch URL MANIFEST PUBKEY
 *       What the agent does with an artifact, minus unpacking: verifies
 *       MANIFEST against MANIFEST.minisig with PUBKEY, streams URL to
 *       /dev/null through fetch_to_fd() capped at the manifest's Size and
 *       compares size and digest with the manifest. Exit 0 on a match, 1
 *       otherwise.
 *
 * Cache the file first (cat FILE >/dev/null) to measure hashing, not the
 * disk. A benchmark tool: it prints figures, it never judges them.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include <sodium.h>

#include "blake2b.h"
#include "fetch.h"
#include "manifest.h"
#include "util.h"

#define SODIUM_READ (1024 * 1024)

static void
report(const char *what, const uint8_t h[FETCH_HASH_LEN], uint64_t bytes, uint64_t usec)
{
	char hex[2 * FETCH_HASH_LEN + 1];

	hex_encode(h, FETCH_HASH_LEN, hex);
	printf("%s  %s\n%-16s %.3f s  %.0f MiB/s\n", hex, what, what, (double)usec / 1e6,
	        usec ? (double)bytes / (1024.0 * 1024.0) / ((double)usec / 1e6) : 0.0);
}

static int
sodium_hash_fd(int fd, uint8_t h[FETCH_HASH_LEN], uint64_t *ret_size)
{
	_cleanup_free_ uint8_t *buf = malloc(SODIUM_READ);
	crypto_generichash_state st;
	uint64_t total = 0;

	if (!buf || sodium_init() < 0)
		return -ENOMEM;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	crypto_generichash_init(&st, NULL, 0, FETCH_HASH_LEN);
	for (;;) {
		ssize_t n = read(fd, buf, SODIUM_READ);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		crypto_generichash_update(&st, buf, (unsigned long long)n);
		total += (uint64_t)n;
	}
	crypto_generichash_final(&st, h, FETCH_HASH_LEN);
	*ret_size = total;
	return 0;
}

static int
bench_all(const char *path)
{
	_cleanup_close_ int null_fd = -1;
	_cleanup_free_ char *url = NULL, *abs = NULL;
	struct rw_err err = {{0}};
	uint8_t h[FETCH_HASH_LEN];
	uint64_t t0, size = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	t0 = now_monotonic_usec();
	r = blake2b512_fd_size(fd, h, &size);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "blake2b512_fd: %s\n", strerror(-r));
		return 1;
	}
	report("blake2b512_fd", h, size, now_monotonic_usec() - t0);

	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	abs = realpath(path, NULL);
	if (null_fd < 0 || !abs || asprintf(&url, "file://%s", abs) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	t0 = now_monotonic_usec();
	r = fetch_to_fd(url, null_fd, NULL, h, &size, &err);
	if (r < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	report("fetch_to_fd", h, size, now_monotonic_usec() - t0);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	t0 = now_monotonic_usec();
	r = sodium_hash_fd(fd, h, &size);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "libsodium: %s\n", strerror(-r));
		return 1;
	}
	report("libsodium", h, size, now_monotonic_usec() - t0);
	return 0;
}

static int
bench_fetch(const char *url, const char *mpath, const char *pubpath)
{
	_cleanup_free_ char *text = NULL, *sigtext = NULL, *sigpath = NULL;
	_cleanup_close_ int null_fd = -1;
	struct fetch_opts o = FETCH_OPTS_DEFAULT;
	struct minisign_pubkey pk;
	struct rw_err err = {{0}};
	struct manifest m;
	uint8_t h[FETCH_HASH_LEN];
	size_t len = 0, siglen = 0;
	uint64_t t0, size = 0;
	int r;

	t0 = now_monotonic_usec();
	if (asprintf(&sigpath, "%s.minisig", mpath) < 0)
		return 1;
	r = minisign_pubkey_load(pubpath, &pk, &err);
	if (r >= 0)
		r = read_full_file(mpath, MANIFEST_FILE_MAX, true, &text, &len);
	if (r >= 0)
		r = read_full_file(sigpath, MINISIGN_FILE_MAX, true, &sigtext, &siglen);
	if (r >= 0)
		r = manifest_verify_and_parse(text, len, sigtext, siglen, &pk, 1, &m, &err);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", mpath, err.msg[0] ? err.msg : strerror(-r));
		return 1;
	}
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0) {
		fprintf(stderr, "/dev/null: %s\n", strerror(errno));
		return 1;
	}
	o.max_size = m.size;
	r = fetch_to_fd(url, null_fd, &o, h, &size, &err);
	if (r < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	if (size != m.size || memcmp(h, m.blake2b, FETCH_HASH_LEN) != 0) {
		fprintf(stderr, "%s: size or BLAKE2b-512 differs from %s\n", url, mpath);
		return 1;
	}
	report("fetch+manifest", h, size, now_monotonic_usec() - t0);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && streq(argv[1], "all"))
		return bench_all(argv[2]);
	if (argc == 5 && streq(argv[1], "fetch"))
		return bench_fetch(argv[2], argv[3], argv[4]);
	fprintf(stderr,
	        "usage: %s all FILE\n"
	        "       %s fetch URL MANIFEST PUBKEY\n",
	        argv[0], argv[0]);
	return 2;
}
