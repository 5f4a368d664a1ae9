/*
 * minisign: Ed25519 signatures in minisign's file formats (libsodium).
 *
 * Files written here are read by the standard `minisign` tool and the other
 * way round. The formats (all base64 is the standard, padded alphabet):
 *
 *   public key   "untrusted comment: <text>\n"
 *                base64("Ed" || keyid[8] || pk[32]) "\n"
 *   secret key   "untrusted comment: <text>\n"
 *                base64("Ed" || kdf_alg[2] || "B2" || salt[32] || opslimit[8 LE] ||
 *                       memlimit[8 LE] || keynum_sk) "\n"
 *                with keynum_sk = keyid[8] || sk[64] || BLAKE2b-256("Ed" || keyid || sk),
 *                XORed with an scrypt keystream when kdf_alg is "Sc" and stored in
 *                clear when kdf_alg is "\0\0" (minisign -W; minisign 0.11 leaves the
 *                checksum of such keys all zero, which is accepted).
 *   signature    "untrusted comment: <text>\n"
 *                base64("ED" || keyid[8] || Ed25519(BLAKE2b-512(file))) "\n"
 *                "trusted comment: <text>\n"
 *                base64(Ed25519(sig[64] || trusted comment bytes)) "\n"
 *
 * Policy: only prehashed "ED" signatures are accepted; legacy "Ed" ones
 * (Ed25519 over the whole file) are refused when parsed. A signature is
 * valid only if its key id names one of the trusted keys, the file's
 * signature checks and the global signature over the trusted comment checks.
 *
 * Parsers are strict and bounded: key and signature files are capped at
 * MINISIGN_FILE_MAX bytes, every line at its format's length, base64 must
 * decode to exactly the expected length. Secrets are wiped after use; call
 * minisign_seckey_wipe() when done with a struct minisign_seckey.
 *
 * Every function returns >= 0 on success and -errno on failure, filling err
 * (if non-NULL) with a one-line reason. ret_* outputs are only written on
 * success. Nothing here logs, prompts or reads the terminal. Call
 * sodium_init() before any of these (the functions call it too, so this is
 * only a matter of doing it early in main()).
 */
#ifndef ROLLWAVE_MINISIGN_H
#define ROLLWAVE_MINISIGN_H

#include "util.h"

#define MINISIGN_KEYID_BYTES 8
#define MINISIGN_PK_BYTES    32
#define MINISIGN_SK_BYTES    64
#define MINISIGN_SIG_BYTES   64
#define MINISIGN_HASH_BYTES  64 /* BLAKE2b-512 */
/* Key and signature files are never larger than this. */
#define MINISIGN_FILE_MAX 4096
/* Longest untrusted comment text (after "untrusted comment: "). */
#define MINISIGN_UNTRUSTED_COMMENT_MAX 1000
/* Longest trusted comment text (after "trusted comment: "). */
#define MINISIGN_TRUSTED_COMMENT_MAX 2048
/* Longest password accepted (minisign's PASSWORDMAXBYTES - 1). */
#define MINISIGN_PASSWORD_MAX 1023
/* "XXXXXXXXXXXXXXXX" + NUL, see minisign_keyid_format(). */
#define MINISIGN_KEYID_STR_MAX 17

struct minisign_pubkey {
	uint8_t keyid[MINISIGN_KEYID_BYTES];
	uint8_t pk[MINISIGN_PK_BYTES];
};

/* A decrypted secret key. sk is libsodium's 64-byte Ed25519 secret key
 * (seed || public key). Wipe with minisign_seckey_wipe(). */
struct minisign_seckey {
	uint8_t keyid[MINISIGN_KEYID_BYTES];
	uint8_t sk[MINISIGN_SK_BYTES];
};

/* A parsed, not yet verified, prehashed ("ED") signature file. */
struct minisign_sig {
	uint8_t keyid[MINISIGN_KEYID_BYTES];
	uint8_t sig[MINISIGN_SIG_BYTES];
	/* NUL-terminated; valid UTF-8 without control characters except tab. */
	char trusted_comment[MINISIGN_TRUSTED_COMMENT_MAX + 1];
	uint8_t global_sig[MINISIGN_SIG_BYTES];
};

/* scrypt cost of an encrypted secret key, as stored in the key file. */
struct minisign_kdf_limits {
	uint64_t opslimit;
	uint64_t memlimit;
};
/* What minisign -G uses (about 1 GiB of memory, a few seconds). */
#define MINISIGN_KDF_SENSITIVE                                                                     \
	((struct minisign_kdf_limits) {.opslimit = 33554432, .memlimit = 1073741824})
/* Cheap parameters (16 MiB); for tests and throwaway keys only. */
#define MINISIGN_KDF_INTERACTIVE                                                                   \
	((struct minisign_kdf_limits) {.opslimit = 524288, .memlimit = 16777216})

/* Writes the key id the way minisign prints it: 16 uppercase hex digits of
 * the id read as a little-endian integer. */
void minisign_keyid_format(
        const uint8_t keyid[static MINISIGN_KEYID_BYTES], char buf[static MINISIGN_KEYID_STR_MAX]);

/* ---- public keys ---- */

/* Parses a public key: either a whole .pub file ("untrusted comment:" line,
 * then the base64 line) or a bare base64 line as given to minisign -P.
 * text need not be NUL-terminated; at most MINISIGN_FILE_MAX bytes. */
int minisign_pubkey_parse(
        const char *text, size_t len, struct minisign_pubkey *ret, struct rw_err *err);
/* Reads and parses the public key file at path (symlinks are followed). */
int minisign_pubkey_load(const char *path, struct minisign_pubkey *ret, struct rw_err *err);
/* Formats pub as a .pub file ("untrusted comment: minisign public key <ID>").
 * *ret_text is malloc()ed, NUL-terminated; the caller frees it. */
int minisign_pubkey_format(const struct minisign_pubkey *pub, char **ret_text);

/* ---- secret keys ---- */

/* Makes a new random key pair. */
int minisign_keygen(struct minisign_seckey *ret_sec, struct minisign_pubkey *ret_pub);
/* The public half of sec. Never fails. */
void minisign_seckey_pubkey(const struct minisign_seckey *sec, struct minisign_pubkey *ret_pub);
/* Wipes sec (sodium_memzero). Accepts NULL. */
void minisign_seckey_wipe(struct minisign_seckey *sec);
static inline void
minisign_seckey_wipep(struct minisign_seckey *sec)
{
	minisign_seckey_wipe(sec);
}
#define _cleanup_seckey_ _cleanup_(minisign_seckey_wipep)

/* Formats sec as a minisign secret key file. With a password (at most
 * MINISIGN_PASSWORD_MAX bytes; "" is allowed, as in minisign) the key is
 * encrypted with scrypt at the given limits (NULL: MINISIGN_KDF_SENSITIVE);
 * with password NULL it is stored unencrypted, like minisign -W. May take
 * seconds and up to memlimit bytes of memory. Free *ret_text with
 * minisign_text_free(), which wipes it. */
int minisign_seckey_format(const struct minisign_seckey *sec, const char *password,
        const struct minisign_kdf_limits *limits, char **ret_text, struct rw_err *err);
/* Wipes and frees text returned by minisign_seckey_format(). Accepts NULL. */
void minisign_text_free(char *text);

/* Parses a secret key file. An encrypted key ("Sc") needs password:
 * -ENOKEY with password NULL, -EKEYREJECTED when the password is wrong (the
 * checksum does not match). For an unencrypted key the password is ignored.
 * A corrupt unencrypted key fails with -EBADMSG. The scrypt cost stored in
 * the file is capped (memlimit <= 4 GiB) so that a bad file cannot exhaust
 * memory. */
int minisign_seckey_parse(const char *text, size_t len, const char *password,
        struct minisign_seckey *ret, struct rw_err *err);
/* Reads path (refusing symlinks) and parses it with minisign_seckey_parse(). */
int minisign_seckey_load(
        const char *path, const char *password, struct minisign_seckey *ret, struct rw_err *err);

/* Generates a key pair and writes pubpath (0644) and secpath (0600),
 * encrypted with password at MINISIGN_KDF_SENSITIVE (NULL: unencrypted).
 * Without force, fails with -EEXIST if either file exists, and never
 * replaces a file that appears meanwhile. Files are written atomically. If
 * ret_pub is non-NULL it receives the new public key. */
int minisign_keygen_files(const char *pubpath, const char *secpath, const char *password,
        bool force, struct minisign_pubkey *ret_pub, struct rw_err *err);

/* ---- signatures ---- */

/* Streams fd from its current offset to EOF through BLAKE2b-512 (1 MiB
 * reads, sequential read-ahead advice). ret_size (may be NULL) receives the
 * number of bytes hashed. */
int minisign_hash_fd(int fd, uint8_t ret_hash[static MINISIGN_HASH_BYTES], uint64_t *ret_size,
        struct rw_err *err);

/* Parses a .minisig file (at most MINISIGN_FILE_MAX bytes, need not be
 * NUL-terminated). Refuses legacy "Ed" signatures with -EPROTONOSUPPORT
 * ("legacy non-prehashed signature refused"). Does not verify anything. */
int minisign_sig_parse(const char *text, size_t len, struct minisign_sig *ret, struct rw_err *err);
/* Reads path (at most MINISIGN_FILE_MAX bytes) and parses it. */
int minisign_sig_load(const char *path, struct minisign_sig *ret, struct rw_err *err);

/* Signs the BLAKE2b-512 hash of a file's contents (prehashed "ED") and
 * returns a complete .minisig text in *ret_sigtext (malloc()ed, caller
 * frees). trusted_comment NULL means "timestamp:<unix time>";
 * untrusted_comment NULL means "signature from rollwave secret key". Comments
 * must be single lines within the MINISIGN_*_COMMENT_MAX limits; the trusted
 * one must be valid UTF-8 without control characters other than tab. */
int minisign_sign_hash(const struct minisign_seckey *sec,
        const uint8_t hash[static MINISIGN_HASH_BYTES], const char *trusted_comment,
        const char *untrusted_comment, char **ret_sigtext, struct rw_err *err);
/* minisign_sign_hash() of the data read from fd (current offset to EOF). */
int minisign_sign_fd(const struct minisign_seckey *sec, int fd, const char *trusted_comment,
        const char *untrusted_comment, char **ret_sigtext, struct rw_err *err);
/* minisign_sign_hash() of len bytes at data. */
int minisign_sign_buffer(const struct minisign_seckey *sec, const void *data, size_t len,
        const char *trusted_comment, const char *untrusted_comment, char **ret_sigtext,
        struct rw_err *err);

/* Verifies sig against the BLAKE2b-512 hash of the signed data, with the
 * trusted key whose id matches the signature's. Fails with -ENOKEY ("signed
 * by untrusted key <ID>") when no key matches, -EBADMSG when the signature
 * ("signature verification failed") or the global signature over the
 * trusted comment ("trusted comment does not match its signature") does not
 * check. If ret_key is non-NULL it receives the index of the key used. */
int minisign_verify_hash(const struct minisign_pubkey *keys, size_t nkeys,
        const uint8_t hash[static MINISIGN_HASH_BYTES], const struct minisign_sig *sig,
        size_t *ret_key, struct rw_err *err);
/* Checks only that sig's key id names one of keys (-ENOKEY, "signed by
 * untrusted key <ID>", otherwise): lets a caller refuse before hashing a
 * large file. minisign_verify_hash() checks it again. */
int minisign_sig_check_keyid(const struct minisign_pubkey *keys, size_t nkeys,
        const struct minisign_sig *sig, struct rw_err *err);
/* minisign_verify_hash() of the data read from fd (current offset to EOF).
 * The key id is looked up before the data is read. */
int minisign_verify_fd(const struct minisign_pubkey *keys, size_t nkeys, int fd,
        const struct minisign_sig *sig, struct rw_err *err);
/* minisign_verify_hash() of len bytes at data. */
int minisign_verify_buffer(const struct minisign_pubkey *keys, size_t nkeys, const void *data,
        size_t len, const struct minisign_sig *sig, struct rw_err *err);

#endif
