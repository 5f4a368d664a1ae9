/*
 * minisign_private: what minisign.c, minisign_seckey.c and minisign_sig.c
 * share: the on-disk layouts of minisign's files and the line, base64 and
 * comment helpers they are read and written with. Nothing outside these
 * files includes it; callers include minisign.h.
 *
 *   minisign.c         the helpers below, key ids, public keys
 *   minisign_seckey.c  secret keys: generate, encrypt, parse, load, write
 *   minisign_sig.c     prehashing, signature files, signing, verifying
 */
#ifndef ROLLWAVE_MINISIGN_PRIVATE_H
#define ROLLWAVE_MINISIGN_PRIVATE_H

#include <sodium.h>

#include "minisign.h"

#define SIGALG        "Ed"
#define SIGALG_HASHED "ED"
#define KDFALG        "Sc"
#define KDFNONE       "\0\0"
#define CHKALG        "B2"

#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX   "trusted comment: "

/* Upper bound on the scrypt cost read from a secret key file. */
#define KDF_MEMLIMIT_MAX ((uint64_t)4 << 30)
#define KDF_OPSLIMIT_MAX ((uint64_t)1 << 36)

/* On-disk binary layouts (all byte arrays, so no padding). */
struct pubkey_blob {
	uint8_t sig_alg[2];
	uint8_t keyid[MINISIGN_KEYID_BYTES];
	uint8_t pk[MINISIGN_PK_BYTES];
};

struct keynum_sk {
	uint8_t keyid[MINISIGN_KEYID_BYTES];
	uint8_t sk[MINISIGN_SK_BYTES];
	uint8_t chk[crypto_generichash_BYTES];
};

struct seckey_blob {
	uint8_t sig_alg[2];
	uint8_t kdf_alg[2];
	uint8_t chk_alg[2];
	uint8_t kdf_salt[crypto_pwhash_scryptsalsa208sha256_SALTBYTES];
	uint8_t kdf_opslimit_le[8];
	uint8_t kdf_memlimit_le[8];
	struct keynum_sk keynum_sk;
};

struct sig_blob {
	uint8_t sig_alg[2];
	uint8_t keyid[MINISIGN_KEYID_BYTES];
	uint8_t sig[MINISIGN_SIG_BYTES];
};

_Static_assert(sizeof(struct pubkey_blob) == 42, "pubkey layout");
_Static_assert(sizeof(struct seckey_blob) == 158, "seckey layout");
_Static_assert(sizeof(struct sig_blob) == 74, "signature layout");

#define B64_LEN(n) (((n) + 2) / 3 * 4)

/* Little-endian 64-bit integers of the key and signature layouts. */
uint64_t minisign_le64_load(const uint8_t p[static 8]);
void minisign_le64_store(uint8_t p[static 8], uint64_t v);
/* sodium_init(), with err set if it fails. */
int minisign_sodium_ready(struct rw_err *err);

/* The lines of a text of known length. */
struct lines {
	const char *p, *end;
};

/* Returns the next line (without "\n" or "\r\n") or false at the end. */
bool minisign_lines_next(struct lines *l, const char **ret_line, size_t *ret_len);
/* True if only empty lines remain. */
bool minisign_lines_only_blank(struct lines *l);
/* Decodes padded standard base64 to exactly outlen bytes; -EINVAL if not. */
int minisign_b64_decode_exact(const char *s, size_t slen, void *out, size_t outlen);
/* Appends base64(bin) + "\n" to buf at *off (size bytes); -ENOBUFS. */
int minisign_append_b64_line(char *buf, size_t size, size_t *off, const void *bin, size_t len);
/* Appends a + b + "\n" to buf at *off (size bytes); -ENOBUFS. */
int minisign_append_str(char *buf, size_t size, size_t *off, const char *a, const char *b);
/* Checks a first line "untrusted comment: ..." of a key or signature file;
 * what names the file in err ("secret key"). */
int minisign_check_untrusted_line(const char *s, size_t n, const char *what, struct rw_err *err);
/* True if c has no newline or carriage return. */
bool minisign_comment_is_single_line(const char *c);

#endif
