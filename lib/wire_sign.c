/*
 * wire_sign: the signatures rollwave's messages carry. A Command is signed by
 * the coordinator over WIRE_COMMAND_CONTEXT and its packed bytes without the
 * signature; Auth is the agent's signature over WIRE_AUTH_CONTEXT, the
 * coordinator's nonce and its key. Ed25519 through libsodium. See wire.h.
 */
#include <sodium.h>

#include "wire_private.h"

int
wire_command_signing_bytes(const Rollwave__Command *cmd, uint8_t **ret, size_t *ret_len)
{
	const size_t ctx = strlen(WIRE_COMMAND_CONTEXT);
	Rollwave__Command unsigned_cmd = *cmd;
	uint8_t *buf;
	size_t n;

	unsigned_cmd.signature.len = 0;
	unsigned_cmd.signature.data = NULL;
	n = rollwave__command__get_packed_size(&unsigned_cmd);
	if (n > WIRE_MAX_MESSAGE)
		return -EMSGSIZE;
	buf = malloc(ctx + n);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, WIRE_COMMAND_CONTEXT, ctx);
	if (rollwave__command__pack(&unsigned_cmd, buf + ctx) != n) {
		free(buf);
		return -EIO;
	}
	*ret = buf;
	*ret_len = ctx + n;
	return 0;
}

int
wire_command_sign(Rollwave__Command *cmd, const uint8_t sk[static WIRE_SECRET_KEY_LEN],
        uint8_t sig_buf[static WIRE_SIGNATURE_LEN])
{
	_cleanup_free_ uint8_t *bytes = NULL;
	size_t n;
	int r;

	if (sodium_init() < 0)
		return -EIO;
	r = wire_command_signing_bytes(cmd, &bytes, &n);
	if (r < 0)
		return r;
	if (crypto_sign_detached(sig_buf, NULL, bytes, n, sk) != 0)
		return -EIO;
	cmd->signature.data = sig_buf;
	cmd->signature.len = WIRE_SIGNATURE_LEN;
	return 0;
}

int
wire_command_verify(const Rollwave__Command *cmd, const uint8_t pk[static WIRE_KEY_LEN])
{
	_cleanup_free_ uint8_t *bytes = NULL;
	size_t n;
	int r;

	if (sodium_init() < 0)
		return -EIO;
	if (cmd->signature.len != WIRE_SIGNATURE_LEN || !cmd->signature.data)
		return -EBADMSG;
	r = wire_command_signing_bytes(cmd, &bytes, &n);
	if (r < 0)
		return r;
	if (crypto_sign_verify_detached(cmd->signature.data, bytes, n, pk) != 0)
		return -EBADMSG;
	return 0;
}

void
wire_auth_transcript(const uint8_t nonce[static WIRE_NONCE_LEN],
        const uint8_t coordinator_key[static WIRE_KEY_LEN],
        uint8_t out[static WIRE_AUTH_TRANSCRIPT_LEN])
{
	const size_t ctx = strlen(WIRE_AUTH_CONTEXT);

	memcpy(out, WIRE_AUTH_CONTEXT, ctx);
	memcpy(out + ctx, nonce, WIRE_NONCE_LEN);
	memcpy(out + ctx + WIRE_NONCE_LEN, coordinator_key, WIRE_KEY_LEN);
}

int
wire_auth_sign(const uint8_t nonce[static WIRE_NONCE_LEN],
        const uint8_t coordinator_key[static WIRE_KEY_LEN],
        const uint8_t host_sk[static WIRE_SECRET_KEY_LEN],
        uint8_t ret_sig[static WIRE_SIGNATURE_LEN])
{
	uint8_t t[WIRE_AUTH_TRANSCRIPT_LEN];

	if (sodium_init() < 0)
		return -EIO;
	wire_auth_transcript(nonce, coordinator_key, t);
	if (crypto_sign_detached(ret_sig, NULL, t, sizeof(t), host_sk) != 0)
		return -EIO;
	return 0;
}

int
wire_auth_verify(const uint8_t nonce[static WIRE_NONCE_LEN],
        const uint8_t coordinator_key[static WIRE_KEY_LEN],
        const uint8_t host_key[static WIRE_KEY_LEN], const uint8_t *sig, size_t sig_len)
{
	uint8_t t[WIRE_AUTH_TRANSCRIPT_LEN];

	if (sodium_init() < 0)
		return -EIO;
	if (!sig || sig_len != WIRE_SIGNATURE_LEN)
		return -EBADMSG;
	wire_auth_transcript(nonce, coordinator_key, t);
	if (crypto_sign_verify_detached(sig, t, sizeof(t), host_key) != 0)
		return -EBADMSG;
	return 0;
}
