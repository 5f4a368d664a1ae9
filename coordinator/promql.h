/*
 * promql: instant queries against a Prometheus server, for metric gates.
 *
 *   GET <base>/api/v1/query?query=<percent-encoded>&time=<unix seconds>
 *
 * The body (Prometheus' JSON) goes to prom_vector_parse() (strategies/prom.h)
 * and metric_gate_evaluate() (strategies/metric_gate.h), which judge it; this module only builds
 * the URL and fetches, with timeouts, through lib/fetch (libcurl).
 */
#ifndef ROLLWAVE_COORDINATOR_PROMQL_H
#define ROLLWAVE_COORDINATOR_PROMQL_H

#include "util.h"

#define PROMQL_BODY_MAX (4 * 1024 * 1024)

/* The query URL for base ("http://prom:9090", with or without a trailing
 * '/'; http or https) at time_ms (0: no time parameter, Prometheus' now).
 * -EINVAL for a base that is not http(s)://HOST..., or a query that is
 * empty or holds control characters. */
int promql_url(const char *base, const char *query, uint64_t time_ms, char **ret);

/* Runs the query (connect within 5 s, answer within timeout_usec) and
 * returns the body in *ret_body (NUL-terminated, caller frees). Errors of
 * lib/fetch: -EREMOTEIO for an HTTP error status (Prometheus answers 400
 * for a bad query and says why in the body, which is then lost: the gate
 * reports the status), -ETIMEDOUT, -ECONNREFUSED... with err saying which. */
int promql_query(const char *base, const char *query, uint64_t time_ms, uint64_t timeout_usec,
        char **ret_body, struct rw_err *err);

#endif
