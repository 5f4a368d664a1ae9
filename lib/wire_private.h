/*
 * wire_private: what the wire_*.c files share and nothing else includes.
 * Callers outside lib/wire*.c include wire.h only.
 *
 *   wire.c        wire_validate() (the envelope's body -> its checker),
 *                 decode, encode, error replies
 *   wire_agent.c  checks of the agent <-> coordinator messages
 *   wire_admin.c  checks of AdminRequest and AdminResponse, one table each
 *   wire_check.c  text and field checks every message is built from
 *   wire_sign.c   command and Auth signatures
 *
 * Checks take the dotted path of the field they check ("envelope.hello.
 * facts.labels[2].key") and return 0 or a negative errno with err naming that
 * path. Values quoted in messages are escaped (non-printable and non-ASCII
 * bytes as \xNN) and cut, so an error message is itself valid wire text.
 * Checks never allocate and treat NULL strings as "".
 */
#ifndef ROLLWAVE_WIRE_PRIVATE_H
#define ROLLWAVE_WIRE_PRIVATE_H

#include "wire.h"

#define PATH_MAX_LEN  256
#define QUOTE_MAX_LEN 80
/* Room for wire_quote() of any string: every byte may become \xNN. */
#define QUOTE_BUF_LEN (4 * QUOTE_MAX_LEN + 8)

enum {
	TEXT_REQUIRED = 1 << 0,
	TEXT_MULTILINE = 1 << 1,
};

/* Returns from the calling function if expr is < 0. */
#define CHECK(expr)                                                                                \
	do {                                                                                       \
		int r_ = (expr);                                                                   \
		if (r_ < 0)                                                                        \
			return r_;                                                                 \
	} while (0)
/* path.name in the caller's char p[PATH_MAX_LEN]; needs path and p in scope. */
#define FIELD(name) (strbuf_printf(p, sizeof(p), "%s." name, path), p)

/* A checker of one message reached through a oneof: msg is non-NULL and of
 * the type the table entry names. */
typedef int (*wire_check_fn)(const char *path, const void *msg, struct rw_err *err);

/* ---- wire_check.c ---- */

/* s, or "" for NULL. */
const char *wire_str(const char *s);
/* 'value' escaped for an error message, cut to QUOTE_MAX_LEN characters;
 * buf of size bytes (QUOTE_BUF_LEN) holds the result. */
const char *wire_quote(const char *s, char *buf, size_t size);
/* 1..max characters of [a-z0-9_.-]: label keys and event actions. */
bool wire_token_is_valid(const char *s, size_t max);

/* At most max bytes of valid UTF-8 without control characters (newline and
 * tab allowed with TEXT_MULTILINE); "" refused with TEXT_REQUIRED. */
int wire_check_text(
        const char *path, const char *s, size_t max, unsigned flags, struct rw_err *err);
int wire_check_app(const char *path, const char *s, struct rw_err *err);
int wire_check_version(const char *path, const char *s, bool required, struct rw_err *err);
int wire_check_id(const char *path, uint64_t id, struct rw_err *err);
/* file://, http:// or https://, printable ASCII, at most WIRE_URL_MAX. */
int wire_check_url(const char *path, const char *s, bool required, struct rw_err *err);
/* Exactly exact bytes (or none, unless required). */
int wire_check_bytes(const char *path, const ProtobufCBinaryData *b, size_t exact, bool required,
        struct rw_err *err);
int wire_check_enum(const char *path, const ProtobufCEnumDescriptor *desc, int value,
        bool allow_zero, struct rw_err *err);
int wire_check_count(const char *path, size_t n, size_t min, size_t max, struct rw_err *err);
int wire_check_present(const char *path, const void *msg, struct rw_err *err);
/* A host's app list (heartbeat, host facts, host info): capped, no app twice. */
int wire_check_apps(
        const char *path, Rollwave__AppStatus *const *apps, size_t n, struct rw_err *err);
int wire_check_labels(
        const char *path, Rollwave__Label *const *labels, size_t n, struct rw_err *err);
int wire_check_error(const char *path, const Rollwave__Error *e, struct rw_err *err);

/* ---- wire_agent.c: path is "envelope.<body>", the body is non-NULL ---- */

int wire_check_phase_report(const char *path, const Rollwave__PhaseReport *t, struct rw_err *err);
int wire_check_hello(const char *path, const Rollwave__Hello *h, struct rw_err *err);
int wire_check_challenge(const char *path, const Rollwave__Challenge *c, struct rw_err *err);
int wire_check_auth(const char *path, const Rollwave__Auth *a, struct rw_err *err);
int wire_check_welcome(const char *path, const Rollwave__Welcome *w, struct rw_err *err);
int wire_check_heartbeat(const char *path, const Rollwave__Heartbeat *h, struct rw_err *err);
int wire_check_command(const char *path, const Rollwave__Command *c, struct rw_err *err);
int wire_check_command_ack(const char *path, const Rollwave__CommandAck *a, struct rw_err *err);

/* ---- wire_admin.c ---- */

/* -ENOMSG for an unset request or one this version does not know. */
int wire_check_admin_request(const char *path, const Rollwave__AdminRequest *a, struct rw_err *err);
int wire_check_admin_response(
        const char *path, const Rollwave__AdminResponse *a, struct rw_err *err);

#endif
