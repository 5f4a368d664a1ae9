/*
 * manifest: the signed release manifest (DESIGN.md, "Release manifest and
 * signatures").
 *
 *   [Release]
 *   App=web
 *   Version=1.4.2
 *   Artifact=web-1.4.2.tar.gz        ; relative to the manifest's URL, or absolute
 *   Size=48213376
 *   Blake2b512=<128 hex digits>
 *   Created=2026-11-27T10:00:00Z
 *   Expires=2027-02-25T00:00:00Z
 *
 * The parser is strict: the only section is [Release]; every key is
 * required exactly once; unknown keys, duplicates and bad values are errors
 * naming "<name>:<line>". Inline " ; comments" are allowed. App must satisfy
 * app_name_is_valid(), Version version_is_valid(), Size is a decimal integer
 * > 0, Blake2b512 exactly 128 hex digits, Created/Expires are
 * YYYY-MM-DDTHH:MM:SSZ with Expires after Created, Artifact is 1..2048
 * characters without control characters.
 *
 * Nothing in a manifest may be looked at before its signature is verified:
 * code handling manifests from the network uses manifest_verify_and_parse().
 * Policy checks (expected app, expiry against the clock, rollback guard) are
 * the caller's.
 *
 * Functions return >= 0 on success, -errno on failure with err filled in;
 * ret_* outputs are written only on success. Nothing here logs.
 */
#ifndef ROLLWAVE_MANIFEST_H
#define ROLLWAVE_MANIFEST_H

#include "minisign.h"
#include "version.h"

#define MANIFEST_ARTIFACT_MAX 2048
/* Manifests are small; anything bigger is refused unread. */
#define MANIFEST_FILE_MAX (64 * 1024)

struct manifest {
	char app[APP_NAME_MAX + 1];
	char version[VERSION_MAX + 1];
	char artifact[MANIFEST_ARTIFACT_MAX + 1];
	uint64_t size;
	uint8_t blake2b[64];
	uint64_t created_usec, expires_usec; /* realtime, whole seconds */
};

/* Parses and validates a manifest (len bytes at buf, need not be
 * NUL-terminated). Errors read "manifest:<line>: ...". Does NOT check a
 * signature: only for manifests that are already verified or trusted. */
int manifest_parse(const char *buf, size_t len, struct manifest *ret, struct rw_err *err);
/* Same, with name (e.g. the file name or URL) in the error messages. */
int manifest_parse_named(
        const char *name, const char *buf, size_t len, struct manifest *ret, struct rw_err *err);

/* Formats m (which must hold valid values; -EINVAL otherwise) as manifest
 * text in the canonical key order. *ret_text is malloc()ed, NUL-terminated;
 * the caller frees it. Timestamps are written in whole seconds. */
int manifest_format(const struct manifest *m, char **ret_text);

/* Verifies sigtext (a .minisig file of siglen bytes) over the raw len bytes
 * at buf with one of the trusted keys, and only then parses buf. A manifest
 * with a bad, legacy or untrusted signature is refused without looking at
 * its contents (-EBADMSG, -EPROTONOSUPPORT, -ENOKEY, or -EINVAL for a
 * malformed signature file). */
int manifest_verify_and_parse(const char *buf, size_t len, const char *sigtext, size_t siglen,
        const struct minisign_pubkey *keys, size_t nkeys, struct manifest *ret, struct rw_err *err);

#endif
