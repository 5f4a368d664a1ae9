/*
 * prom: the body of a Prometheus instant query (/api/v1/query), parsed.
 *
 * Pure: the HTTP fetch is someone else's; this takes the bytes of the
 * response. Accepted shapes:
 *
 *   {"status":"success","data":{"resultType":"vector",
 *     "result":[{"metric":{"instance":"a"},"value":[1700000000.5,"0.25"]}, ...]}}
 *   {"status":"success","data":{"resultType":"scalar","result":[1700000000,"1"]}}
 *     (one sample without labels)
 *   {"status":"error","errorType":"bad_data","error":"..."}  -> -EPROTO naming both
 *
 * Sample values are Prometheus' strings: decimal numbers, "NaN", "+Inf",
 * "-Inf". "matrix" and "string" results are refused (-EPROTO): a gate needs
 * an instant vector. At most PROM_SAMPLES_MAX samples (-E2BIG beyond).
 */
#ifndef ROLLWAVE_STRATEGIES_PROM_H
#define ROLLWAVE_STRATEGIES_PROM_H

#include "util.h"

#define PROM_SAMPLES_MAX 10000
#define PROM_BODY_MAX    (16 * 1024 * 1024)

struct prom_sample {
	char *labels; /* the series as {k="v",...} ("{}" without labels); owned */
	double timestamp;
	double value; /* may be NaN or +-Inf */
};

struct prom_vector {
	struct prom_sample *samples; /* owned */
	size_t n_samples;
};

/* Parses body (len bytes, need not be NUL-terminated) into *ret, which is
 * only written on success and then must be released with
 * prom_vector_done(). Errors: -EINVAL (not JSON or not the shape above),
 * -EPROTO (Prometheus said error, or a result type other than vector or
 * scalar), -E2BIG, -EFBIG (body over PROM_BODY_MAX), -ENOMEM. */
int prom_vector_parse(const char *body, size_t len, struct prom_vector *ret, struct rw_err *err);

/* Frees what v owns and empties it; accepts an empty or zeroed v. */
void prom_vector_done(struct prom_vector *v);

#endif
