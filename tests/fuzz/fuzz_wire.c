/*
 * fuzz_wire: libFuzzer target for the wire decoder, the one door from the
 * network. Decodes the input; what decodes must also pass the sender-side
 * check, encode to as many bytes as the input, decode again and re-encode to
 * the very same bytes.
 * Every other input must be refused with one of the documented codes and a
 * message that names the envelope. The error reply to a refusal must itself
 * decode.
 */
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_refusal(const uint8_t *data, size_t size, int r, const struct rw_err *err)
{
	void *reply = NULL;
	size_t reply_len;
	Rollwave__Envelope *back = NULL;

	if (r != -EMSGSIZE && r != -EBADMSG && r != -EPROTONOSUPPORT && r != -ENOMSG &&
	        r != -EINVAL)
		__builtin_trap();
	if (strncmp(err->msg, "envelope", 8) != 0)
		__builtin_trap();
	if (wire_error_reply(wire_peek_message_id(data, size), r, err->msg, &reply, &reply_len) < 0)
		__builtin_trap();
	if (wire_decode(reply, reply_len, &back, NULL) < 0 ||
	        back->body_case != ROLLWAVE__ENVELOPE__BODY_ERROR)
		__builtin_trap();
	wire_free(back);
	free(reply);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Rollwave__Envelope *env = NULL, *again = NULL;
	void *buf = NULL, *buf2 = NULL;
	size_t len, len2;
	struct rw_err err = {{0}};
	int r;

	r = wire_decode(data, size, &env, &err);
	if (r < 0) {
		if (env)
			__builtin_trap();
		check_refusal(data, size, r, &err);
		return 0;
	}
	if (wire_validate(env, &err) < 0)
		__builtin_trap();
	/* Same size as the input (canonical); the bytes may differ only in the
	 * order of unknown fields, which protobuf-c packs last. */
	if (wire_encode(env, &buf, &len) < 0 || len != size)
		__builtin_trap();
	if (wire_decode(buf, len, &again, &err) < 0)
		__builtin_trap();
	if (wire_encode(again, &buf2, &len2) < 0 || len2 != len || memcmp(buf, buf2, len) != 0)
		__builtin_trap();
	if (env->body_case == ROLLWAVE__ENVELOPE__BODY_COMMAND) {
		/* Signing bytes are computable for every valid command. */
		uint8_t *bytes = NULL;
		size_t n;

		if (wire_command_signing_bytes(env->command, &bytes, &n) < 0)
			__builtin_trap();
		free(bytes);
	}
	free(buf);
	free(buf2);
	wire_free(again);
	wire_free(env);
	return 0;
}
