/*
 * fuzz_minisig: libFuzzer target for the minisign file parsers. The input is
 * fed to the signature, public key and (unencrypted) secret key parsers;
 * a parsed signature is also verified against a fixed key.
 */
#include <sodium.h>

#include "minisign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct minisign_pubkey key = {
	        .keyid = {0xb4, 0xc3, 0xa5, 0x2d, 0x03, 0xf1, 0x7e, 0xa0}};
	const char *text = (const char *)data;
	struct minisign_seckey sec;
	struct minisign_pubkey pub;
	struct minisign_sig sig;
	struct rw_err err;

	if (sodium_init() < 0)
		return 0;
	if (minisign_sig_parse(text, size, &sig, &err) == 0) {
		if (strlen(sig.trusted_comment) > MINISIGN_TRUSTED_COMMENT_MAX)
			__builtin_trap();
		(void)minisign_verify_buffer(&key, 1, "x", 1, &sig, &err);
	}
	(void)minisign_pubkey_parse(text, size, &pub, &err);
	/* No password: encrypted keys stop before the (slow) key derivation. */
	if (minisign_seckey_parse(text, size, NULL, &sec, &err) == 0)
		minisign_seckey_wipe(&sec);
	return 0;
}
