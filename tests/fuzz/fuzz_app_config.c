/*
 * fuzz_app_config: libFuzzer target for the agent's app config parser (and
 * through it the INI parser). Whatever parses must hold its invariants.
 */
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct app_config c;
	struct rw_err err;

	if (app_config_parse("fuzz.conf", (const char *)data, size, &c, &err) < 0)
		return 0;
	if (!app_name_is_valid(c.name) || c.root[0] != '/' || c.keep_releases < 2 ||
	        c.min_healthy_usec > c.deadline_usec || c.interval_usec == 0)
		__builtin_trap();
	app_config_done(&c);
	return 0;
}
