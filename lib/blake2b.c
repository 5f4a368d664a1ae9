/*
 * blake2b: streaming BLAKE2b-512 on libcrypto's EVP interface. See blake2b.h.
 *
 * A struct blake2b512 is always initialised (EVP_DigestInit_ex done), from
 * blake2b512_new() until blake2b512_free(): final re-initialises it, so
 * update is valid at any time in between.
 */
#include "blake2b.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

struct blake2b512 {
	EVP_MD_CTX *md;
};

/* OpenSSL 3 looks the algorithm up in its provider on every init with
 * EVP_blake2b512(); that costs a few microseconds per message and nothing
 * per byte, so it is not worth a global fetched EVP_MD and its lifetime. */
static int
md_init(EVP_MD_CTX *md)
{
	return EVP_DigestInit_ex(md, EVP_blake2b512(), NULL) == 1 ? 0 : -EOPNOTSUPP;
}

int
blake2b512_new(struct blake2b512 **ret)
{
	struct blake2b512 *h;
	int r;

	if (!ret)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->md = EVP_MD_CTX_new();
	if (!h->md) {
		free(h);
		return -ENOMEM;
	}
	r = md_init(h->md);
	if (r < 0) {
		blake2b512_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

struct blake2b512 *
blake2b512_free(struct blake2b512 *h)
{
	if (h) {
		EVP_MD_CTX_free(h->md);
		free(h);
	}
	return NULL;
}

int
blake2b512_update(struct blake2b512 *h, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return EVP_DigestUpdate(h->md, data, len) == 1 ? 0 : -EIO;
}

int
blake2b512_final(struct blake2b512 *h, uint8_t ret[static BLAKE2B512_BYTES])
{
	uint8_t out[EVP_MAX_MD_SIZE];
	unsigned outlen = 0;

	if (EVP_DigestFinal_ex(h->md, out, &outlen) != 1 || outlen != BLAKE2B512_BYTES)
		return -EIO;
	memcpy(ret, out, BLAKE2B512_BYTES);
	/* Ready for the next message; a failure here shows on its first use. */
	(void)md_init(h->md);
	return 0;
}

int
blake2b512_buffer(const void *data, size_t len, uint8_t ret[static BLAKE2B512_BYTES])
{
	_cleanup_blake2b512_ struct blake2b512 *h = NULL;
	int r;

	r = blake2b512_new(&h);
	if (r >= 0)
		r = blake2b512_update(h, data, len);
	if (r >= 0)
		r = blake2b512_final(h, ret);
	return r;
}

int
blake2b512_fd_size(int fd, uint8_t ret[static BLAKE2B512_BYTES], uint64_t *ret_size)
{
	_cleanup_blake2b512_ struct blake2b512 *h = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t total = 0;
	int r;

	if (fd < 0)
		return -EBADF;
	r = blake2b512_new(&h);
	if (r < 0)
		return r;
	buf = malloc(BLAKE2B512_READ_SIZE);
	if (!buf)
		return -ENOMEM;
	/* Only advice: fails harmlessly on pipes. */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n = read(fd, buf, BLAKE2B512_READ_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		r = blake2b512_update(h, buf, (size_t)n);
		if (r < 0)
			return r;
		total += (uint64_t)n;
	}
	r = blake2b512_final(h, ret);
	if (r < 0)
		return r;
	if (ret_size)
		*ret_size = total;
	return 0;
}

int
blake2b512_fd(int fd, uint8_t ret[static BLAKE2B512_BYTES])
{
	return blake2b512_fd_size(fd, ret, NULL);
}
