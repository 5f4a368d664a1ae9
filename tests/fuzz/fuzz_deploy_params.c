/*
 * fuzz_deploy_params: libFuzzer target for deployment files (and through
 * them the INI parser and every option's value parser). A file that loads
 * and validates must write back (deploy_params_to_ini) as a file that loads
 * into options that write back the same text.
 */
#include "deploy_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct deploy_params p, q;
	struct rw_err err;
	char *a = NULL, *b = NULL;

	deploy_params_init(&p);
	if (deploy_params_load_buffer(&p, "fuzz.ini", (const char *)data, size, &err) < 0)
		return 0;
	if (deploy_params_validate(&p, &err) < 0)
		return 0;
	if (deploy_params_to_ini(&p, &a) < 0)
		__builtin_trap();
	deploy_params_init(&q);
	if (deploy_params_load_buffer(&q, "again.ini", a, strlen(a), &err) < 0 ||
	        deploy_params_validate(&q, &err) < 0 || deploy_params_to_ini(&q, &b) < 0 ||
	        strcmp(a, b) != 0)
		__builtin_trap();
	free(a);
	free(b);
	return 0;
}
