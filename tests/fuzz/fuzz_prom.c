/*
 * fuzz_prom: libFuzzer target for Prometheus query responses (metric gate
 * input). Whatever parses is judged by a gate without trouble.
 */
#include "metric_gate.h"
#include "prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prom_vector v = {0};
	struct metric_gate g = {.name = "fuzz", .query = "q", .min_samples = 1};
	struct gate_result r;
	struct rw_err err;

	if (metric_condition_parse("max < 0.5", &g.condition) < 0)
		__builtin_trap();
	if (prom_vector_parse((const char *)data, size, &v, &err) < 0)
		return 0;
	metric_gate_evaluate(&g, v.samples, v.n_samples, &r);
	if (r.verdict != GATE_PASS && r.verdict != GATE_HOLD && r.verdict != GATE_FAIL)
		__builtin_trap();
	prom_vector_done(&v);
	return 0;
}
