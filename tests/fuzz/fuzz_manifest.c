/*
 * fuzz_manifest: libFuzzer target for the release manifest parser. Parses
 * the input; what parses must format and parse back to the same manifest.
 */
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m, back;
	struct rw_err err;
	char *text = NULL;

	if (manifest_parse((const char *)data, size, &m, &err) < 0)
		return 0;
	if (manifest_format(&m, &text) < 0)
		__builtin_trap();
	if (manifest_parse(text, strlen(text), &back, &err) < 0 ||
	        memcmp(&m, &back, sizeof(m)) != 0)
		__builtin_trap();
	free(text);
	return 0;
}
