/*
 * wire: the one door between the network and the rest of rollwave.
 *
 * Every message between agent, coordinator and CLI is a protobuf-c
 * Rollwave__Envelope (proto/rollwave.proto; shapes and bounds in
 * docs/protocol.md). wire_decode() is the only way bytes from a peer become a
 * message, and it only hands out messages that passed every check:
 *
 *   bytes --(size <= WIRE_MAX_MESSAGE)--> unpack (bounded memory)
 *         --> protocol_version --> known body --> every field in bounds
 *         --> no NUL inside a string --> canonical encoding (re-packing
 *             gives back exactly len bytes)
 *         --> Rollwave__Envelope owned by the caller (wire_free()).
 *
 * So code behind wire_decode() may rely on: strings are valid UTF-8 text
 * without control characters (newline and tab only where docs/protocol.md
 * says "newlines allowed") and within their length bound; app names and
 * versions are valid path components; URLs are file/http/https; keys, nonces
 * and signatures have their exact lengths; lists are within their caps;
 * enums hold a known value; ids are > 0; the body pointer of the oneof is
 * non-NULL.
 * It may NOT rely on anything about authentication: a valid message is not a
 * trusted one (commands carry a signature, sessions are authenticated by
 * Hello/Auth; see wire_command_verify() and wire_auth_verify()).
 *
 * Library code: no logging, no global state, thread-safe.
 */
#ifndef ROLLWAVE_WIRE_H
#define ROLLWAVE_WIRE_H

#include "rollwave.pb-c.h"
#include "util.h"

#define WIRE_PROTOCOL_VERSION 1
#define WIRE_MAX_MESSAGE      (1024 * 1024)
/* Memory one wire_decode() may allocate while unpacking (protobuf-c turns
 * 2-byte empty submessages into ~100-byte structs). */
#define WIRE_DECODE_MEMORY_MAX (64 * 1024 * 1024)

/* Bounds of docs/protocol.md, in bytes unless they count entries. */
#define WIRE_TEXT_MAX        1024        /* any string unless below */
#define WIRE_REPORT_TEXT_MAX (16 * 1024) /* error, hook output, event detail */
#define WIRE_URL_MAX         2048
#define WIRE_HOSTNAME_MAX    253
#define WIRE_JOIN_TOKEN_MAX  256
#define WIRE_ACTOR_MAX       255
#define WIRE_TARGET_MAX      255
#define WIRE_ACTION_MAX      64
#define WIRE_CLIENT_USER_MAX 64 /* AdminRequest.client_user */
#define WIRE_LABELS_MAX      32
#define WIRE_LABEL_KEY_MAX   63
#define WIRE_LABEL_VALUE_MAX 255
#define WIRE_APPS_MAX        64           /* apps per host report */
#define WIRE_RELEASES_MAX    100          /* releases per app */
#define WIRE_HOSTS_MAX       10000        /* hosts in a list, host ids in a deploy */
#define WIRE_HOST_PAGE_BYTES (768 * 1024) /* a page of a host list, packed */
#define WIRE_EVENTS_MAX      1000         /* events in a list, ListEvents.limit */
#define WIRE_APP_LIST_MAX    1000         /* apps in an AppList */
#define WIRE_WAVES_MAX       1000         /* waves of a DeploymentStatus */
#define WIRE_PARAMS_MAX      (64 * 1024)  /* a deployment's options as text */

#define WIRE_KEY_LEN        32 /* Ed25519 public key */
#define WIRE_SECRET_KEY_LEN 64 /* Ed25519 secret key (libsodium layout) */
#define WIRE_NONCE_LEN      32
#define WIRE_SIGNATURE_LEN  64

#define WIRE_AUTH_CONTEXT        "rollwave-auth-v1"
#define WIRE_COMMAND_CONTEXT     "rollwave-command-v1"
#define WIRE_AUTH_TRANSCRIPT_LEN (sizeof(WIRE_AUTH_CONTEXT) - 1 + WIRE_NONCE_LEN + WIRE_KEY_LEN)

/* Decodes and validates len bytes from a peer. On success *ret owns the
 * message (free with wire_free()). Errors, each with err naming the field
 * ("envelope.heartbeat.apps[3].current: invalid version 'a/b'"):
 *   -EMSGSIZE        len > WIRE_MAX_MESSAGE (checked before unpacking), or
 *                    unpacking would take more than WIRE_DECODE_MEMORY_MAX
 *   -EBADMSG         not a decodable Envelope
 *   -EPROTONOSUPPORT protocol_version != WIRE_PROTOCOL_VERSION
 *   -ENOMSG          body (or the AdminRequest/AdminResponse oneof) unset or
 *                    of a type this version does not know
 *   -EINVAL          a field out of its bounds, or a non-canonical encoding
 *   -ENOMEM
 * Answer with wire_error_reply(wire_peek_message_id(buf, len), r, err.msg). */
int wire_decode(const void *buf, size_t len, Rollwave__Envelope **ret, struct rw_err *err);

/* Frees a message from wire_decode() (never a caller-built one). NULL is a
 * no-op. */
void wire_free(Rollwave__Envelope *env);
static inline void
wire_freep(Rollwave__Envelope **env)
{
	wire_free(*env);
}
#define _cleanup_wire_free_ _cleanup_(wire_freep)

/* The checks of wire_decode() after unpacking (version, body, every field),
 * for a message built in memory: senders call it to learn that the peer
 * would refuse what they are about to send. Same error codes and messages;
 * NULL pointers where a string is expected count as "". */
int wire_validate(const Rollwave__Envelope *env, struct rw_err *err);

/* Packs env into a malloc'd buffer (*ret_buf, never NULL on success, even for
 * an empty message). -EMSGSIZE if it would exceed WIRE_MAX_MESSAGE, -ENOMEM.
 * Does not validate: call wire_validate() first for input that came from
 * outside the process. */
int wire_encode(const Rollwave__Envelope *env, void **ret_buf, size_t *ret_len);

/* The message_id of an envelope the decoder refused, read with a minimal scan
 * of the top-level fields; 0 if it cannot be found. Never fails. */
uint64_t wire_peek_message_id(const void *buf, size_t len);

/* The Error.code that answers a wire_decode() (or handler) error:
 * -EPROTONOSUPPORT VERSION, -ENOMSG UNKNOWN_TYPE, -EINVAL/-EBADMSG/-EMSGSIZE
 * INVALID, -EACCES/-EPERM UNAUTHORIZED, -EBUSY/-EAGAIN BUSY, else INTERNAL. */
Rollwave__Error__Code wire_error_code_from_errno(int error);

/* Encodes Envelope{WIRE_PROTOCOL_VERSION, message_id, Error{code, message}}.
 * message may be NULL; it is made valid text and cut to WIRE_TEXT_MAX bytes,
 * so the reply always passes the peer's wire_decode(). */
int wire_error_encode(uint64_t message_id, Rollwave__Error__Code code, const char *message,
        void **ret_buf, size_t *ret_len);
/* wire_error_encode() with the code of wire_error_code_from_errno(decode_error). */
int wire_error_reply(uint64_t message_id, int decode_error, const char *message, void **ret_buf,
        size_t *ret_len);

/* "hello", "heartbeat", ... for logs; "unset" / "unknown" otherwise. */
const char *wire_body_name(Rollwave__Envelope__BodyCase body);

/* Copies len bytes of s into a malloc'd, NUL-terminated string that passes
 * the text checks: invalid UTF-8 and control characters become '?' (newline
 * and tab are kept when multiline), and the result is cut at a character
 * boundary to at most max bytes. For senders of hook output and errors. */
int wire_text_sanitize(const char *s, size_t len, size_t max, bool multiline, char **ret);

/* The bytes a command signature covers: WIRE_COMMAND_CONTEXT followed by the
 * packed Command with signature cleared. protobuf-c packs fields in field
 * number order, so signer and verifier (which re-packs the decoded command)
 * agree on the bytes. *ret is malloc'd. */
int wire_command_signing_bytes(const Rollwave__Command *cmd, uint8_t **ret, size_t *ret_len);

/* Signs cmd with the coordinator's secret key: the signature is written to
 * sig_buf and cmd->signature points at it, so sig_buf must live as long as
 * cmd. cmd must be caller-built (its old signature is not freed). */
int wire_command_sign(Rollwave__Command *cmd, const uint8_t sk[static WIRE_SECRET_KEY_LEN],
        uint8_t sig_buf[static WIRE_SIGNATURE_LEN]);

/* 0 if cmd->signature is a valid signature of cmd by pk; -EBADMSG if it is
 * not (wrong length, other key, any field changed). */
int wire_command_verify(const Rollwave__Command *cmd, const uint8_t pk[static WIRE_KEY_LEN]);

/* out = WIRE_AUTH_CONTEXT || nonce || coordinator_key: what an agent signs in
 * Auth. Binding the coordinator key stops a relay to another coordinator. */
void wire_auth_transcript(const uint8_t nonce[static WIRE_NONCE_LEN],
        const uint8_t coordinator_key[static WIRE_KEY_LEN],
        uint8_t out[static WIRE_AUTH_TRANSCRIPT_LEN]);
/* The agent's Auth signature with its identity secret key. */
int wire_auth_sign(const uint8_t nonce[static WIRE_NONCE_LEN],
        const uint8_t coordinator_key[static WIRE_KEY_LEN],
        const uint8_t host_sk[static WIRE_SECRET_KEY_LEN],
        uint8_t ret_sig[static WIRE_SIGNATURE_LEN]);
/* 0 if sig (sig_len bytes) signs the transcript with host_key; -EBADMSG if
 * not. */
int wire_auth_verify(const uint8_t nonce[static WIRE_NONCE_LEN],
        const uint8_t coordinator_key[static WIRE_KEY_LEN],
        const uint8_t host_key[static WIRE_KEY_LEN], const uint8_t *sig, size_t sig_len);

#endif
