/*
 * wire: the envelope. wire_validate() checks the version and hands the body
 * to its checker (wire_agent.c, wire_admin.c); wire_decode() unpacks within a
 * memory budget, validates, refuses NUL inside strings and non-canonical
 * encodings; wire_encode() and the error replies. See wire.h for the
 * contract and docs/protocol.md for the bounds.
 */
#include <inttypes.h>

#include "wire_private.h"

/* ---- validation ------------------------------------------------------------- */

/* The body of a known type, or NULL: every member of the oneof is a message
 * pointer in one union. */
static const void *
body_of(const Rollwave__Envelope *env)
{
	return env->hello;
}

int
wire_validate(const Rollwave__Envelope *env, struct rw_err *err)
{
	char p[PATH_MAX_LEN];
	const char *name;
	int r;

	if (env->protocol_version != WIRE_PROTOCOL_VERSION)
		return rw_err_set(err, -EPROTONOSUPPORT,
		        "envelope.protocol_version: version %" PRIu32 ", this peer speaks %d",
		        env->protocol_version, WIRE_PROTOCOL_VERSION);
	name = wire_body_name(env->body_case);
	if (env->body_case == ROLLWAVE__ENVELOPE__BODY__NOT_SET || streq(name, "unknown"))
		return rw_err_set(
		        err, -ENOMSG, "envelope: no body, or one this version does not know");
	strbuf_printf(p, sizeof(p), "envelope.%s", name);
	if ((r = wire_check_present(p, body_of(env), err)) < 0)
		return r;

	switch (env->body_case) {
	case ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT:
		return wire_check_phase_report(p, env->phase_report, err);
	case ROLLWAVE__ENVELOPE__BODY_HELLO:
		return wire_check_hello(p, env->hello, err);
	case ROLLWAVE__ENVELOPE__BODY_CHALLENGE:
		return wire_check_challenge(p, env->challenge, err);
	case ROLLWAVE__ENVELOPE__BODY_AUTH:
		return wire_check_auth(p, env->auth, err);
	case ROLLWAVE__ENVELOPE__BODY_WELCOME:
		return wire_check_welcome(p, env->welcome, err);
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT:
		return wire_check_heartbeat(p, env->heartbeat, err);
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK:
	case ROLLWAVE__ENVELOPE__BODY_POLL:
		return 0;
	case ROLLWAVE__ENVELOPE__BODY_COMMAND:
		return wire_check_command(p, env->command, err);
	case ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK:
		return wire_check_command_ack(p, env->command_ack, err);
	case ROLLWAVE__ENVELOPE__BODY_ERROR:
		return wire_check_error(p, env->error, err);
	case ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST:
		return wire_check_admin_request(p, env->admin_request, err);
	case ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE:
		return wire_check_admin_response(p, env->admin_response, err);
	default:
		return rw_err_set(
		        err, -ENOMSG, "envelope: no body, or one this version does not know");
	}
}

const char *
wire_body_name(Rollwave__Envelope__BodyCase body)
{
	switch (body) {
	case ROLLWAVE__ENVELOPE__BODY__NOT_SET:
		return "unset";
	case ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT:
		return "phase_report";
	case ROLLWAVE__ENVELOPE__BODY_HELLO:
		return "hello";
	case ROLLWAVE__ENVELOPE__BODY_CHALLENGE:
		return "challenge";
	case ROLLWAVE__ENVELOPE__BODY_AUTH:
		return "auth";
	case ROLLWAVE__ENVELOPE__BODY_WELCOME:
		return "welcome";
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT:
		return "heartbeat";
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK:
		return "heartbeat_ack";
	case ROLLWAVE__ENVELOPE__BODY_POLL:
		return "poll";
	case ROLLWAVE__ENVELOPE__BODY_COMMAND:
		return "command";
	case ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK:
		return "command_ack";
	case ROLLWAVE__ENVELOPE__BODY_ERROR:
		return "error";
	case ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST:
		return "admin_request";
	case ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE:
		return "admin_response";
	default:
		return "unknown";
	}
}

static bool
read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/* Finds a NUL inside a string field of the len bytes of a message of type
 * desc, recursing into submessages. protobuf-c hands strings out as C
 * strings, so "web\0evil" would otherwise be seen (and validated) as "web"
 * while the rest rides along unseen. Runs on input protobuf-c already
 * unpacked, so the framing is known to be sound. */
static const char *
find_nul_string(
        const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, unsigned depth)
{
	const uint8_t *end = p + len;

	if (depth > 32)
		return "(too deep)";
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		uint64_t key, v;

		if (!read_varint(&p, end, &key))
			return NULL;
		f = protobuf_c_message_descriptor_get_field(desc, (unsigned)(key >> 3));
		switch (key & 7) {
		case 0:
			if (!read_varint(&p, end, &v))
				return NULL;
			break;
		case 1:
			p += end - p < 8 ? end - p : 8;
			break;
		case 5:
			p += end - p < 4 ? end - p : 4;
			break;
		case 2:
			if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return NULL;
			if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, v))
				return f->name;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
				const char *name = find_nul_string(f->descriptor, p, v, depth + 1);

				if (name)
					return name;
			}
			p += v;
			break;
		default:
			return NULL;
		}
	}
	return NULL;
}

/* ---- decode / encode ----------------------------------------------------------- */

/* protobuf-c allocator that refuses to go past WIRE_DECODE_MEMORY_MAX in
 * total over one unpack (frees are not credited back: the bound is on the
 * work a peer can make us do). */
struct decode_budget {
	size_t used;
	bool exhausted;
	bool failed;
};

static void *
budget_alloc(void *data, size_t size)
{
	struct decode_budget *b = data;
	void *p;

	if (size > WIRE_DECODE_MEMORY_MAX - b->used) {
		b->exhausted = true;
		return NULL;
	}
	b->used += size;
	p = malloc(size ? size : 1);
	if (!p)
		b->failed = true;
	return p;
}

static void
budget_free(void *data, void *p)
{
	(void)data;
	free(p);
}

int
wire_decode(const void *buf, size_t len, Rollwave__Envelope **ret, struct rw_err *err)
{
	struct decode_budget budget = {0};
	ProtobufCAllocator alloc = {
	        .alloc = budget_alloc, .free = budget_free, .allocator_data = &budget};
	_cleanup_wire_free_ Rollwave__Envelope *env = NULL;
	const char *nul_field;
	size_t canonical;
	int r;

	if (len > WIRE_MAX_MESSAGE)
		return rw_err_set(err, -EMSGSIZE, "envelope: %zu bytes, at most %d allowed", len,
		        WIRE_MAX_MESSAGE);
	if (!buf && len > 0)
		return rw_err_set(err, -EINVAL, "envelope: no buffer");
	env = rollwave__envelope__unpack(&alloc, len, len ? buf : (const uint8_t *)"");
	if (!env) {
		if (budget.exhausted)
			return rw_err_set(err, -EMSGSIZE,
			        "envelope: decoding needs more than %d bytes of memory",
			        WIRE_DECODE_MEMORY_MAX);
		if (budget.failed)
			return rw_err_set(err, -ENOMEM, "envelope: out of memory");
		return rw_err_set(err, -EBADMSG, "envelope: not a decodable protobuf Envelope");
	}
	r = wire_validate(env, err);
	if (r < 0)
		return r;
	nul_field = find_nul_string(&rollwave__envelope__descriptor, buf, len, 0);
	if (nul_field)
		return rw_err_set(
		        err, -EINVAL, "envelope: NUL byte inside string field '%s'", nul_field);
	/* Re-packing what we decoded gives back len bytes unless something
	 * was dropped or merged: a singular field or oneof member sent twice,
	 * an overlong number, an explicit default. Senders are protobuf-c
	 * too, so a mismatch is a forgery or a bug either way. (Unknown
	 * fields are kept and re-packed: newer peers still get through.) */
	canonical = rollwave__envelope__get_packed_size(env);
	if (canonical != len)
		return rw_err_set(err, -EINVAL,
		        "envelope: not in canonical encoding (%zu bytes re-packed to %zu: a field "
		        "sent twice or an overlong number)",
		        len, canonical);
	*ret = TAKE_PTR(env);
	return 0;
}

void
wire_free(Rollwave__Envelope *env)
{
	/* NULL allocator: protobuf-c's system allocator, malloc/free like ours. */
	if (env)
		rollwave__envelope__free_unpacked(env, NULL);
}

int
wire_encode(const Rollwave__Envelope *env, void **ret_buf, size_t *ret_len)
{
	size_t n = rollwave__envelope__get_packed_size(env);
	uint8_t *buf;

	if (n > WIRE_MAX_MESSAGE)
		return -EMSGSIZE;
	buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	if (rollwave__envelope__pack(env, buf) != n) {
		free(buf);
		return -EIO;
	}
	*ret_buf = buf;
	*ret_len = n;
	return 0;
}

uint64_t
wire_peek_message_id(const void *buf, size_t len)
{
	const uint8_t *p = buf, *end = p + (buf ? len : 0);
	uint64_t id = 0;

	while (p < end) {
		uint64_t key, v;

		if (!read_varint(&p, end, &key))
			break;
		switch (key & 7) {
		case 0:
			if (!read_varint(&p, end, &v))
				return id;
			if (key >> 3 == 2)
				id = v;
			break;
		case 1:
			if (end - p < 8)
				return id;
			p += 8;
			break;
		case 2:
			if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return id;
			p += v;
			break;
		case 5:
			if (end - p < 4)
				return id;
			p += 4;
			break;
		default:
			return id;
		}
	}
	return id;
}

Rollwave__Error__Code
wire_error_code_from_errno(int error)
{
	switch (error < 0 ? -error : error) {
	case EPROTONOSUPPORT:
		return ROLLWAVE__ERROR__CODE__VERSION;
	case ENOMSG:
		return ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE;
	case EINVAL:
	case EBADMSG:
	case EMSGSIZE:
		return ROLLWAVE__ERROR__CODE__INVALID;
	case EACCES:
	case EPERM:
		return ROLLWAVE__ERROR__CODE__UNAUTHORIZED;
	case EBUSY:
	case EAGAIN:
		return ROLLWAVE__ERROR__CODE__BUSY;
	default:
		return ROLLWAVE__ERROR__CODE__INTERNAL;
	}
}

int
wire_error_encode(uint64_t message_id, Rollwave__Error__Code code, const char *message,
        void **ret_buf, size_t *ret_len)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__Error e = ROLLWAVE__ERROR__INIT;
	_cleanup_free_ char *text = NULL;
	int r;

	r = wire_text_sanitize(
	        wire_str(message), strlen(wire_str(message)), WIRE_TEXT_MAX, false, &text);
	if (r < 0)
		return r;
	e.code = code;
	e.message = text;
	env.protocol_version = WIRE_PROTOCOL_VERSION;
	env.message_id = message_id;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_ERROR;
	env.error = &e;
	return wire_encode(&env, ret_buf, ret_len);
}

int
wire_error_reply(
        uint64_t message_id, int decode_error, const char *message, void **ret_buf, size_t *ret_len)
{
	return wire_error_encode(
	        message_id, wire_error_code_from_errno(decode_error), message, ret_buf, ret_len);
}
