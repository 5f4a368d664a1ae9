/*
 * metric_gate: a Prometheus instant-query gate and its verdict.
 *
 * A gate is declared in the deployment file as a [Gate-NAME] section (or
 * with the keys Gate.NAME.Query= etc. on the command line):
 *
 *   Query=       PromQL instant query (required)
 *   Condition=   [all|min|max|avg|sum] OP NUMBER, OP one of < <= > >= == !=
 *                (required). "all" (the default) means every sample must
 *                satisfy OP NUMBER; the others compare one aggregate of the
 *                samples. Examples: "< 0.01", "max < 0.01", "avg >= 0.99".
 *   MinSamples=  samples needed for a verdict (default 1)
 *   NoData=      hold | fail | pass: the verdict when there are fewer than
 *                MinSamples usable samples (default hold)
 *   URL=         Prometheus base URL (default: PrometheusURL= of the
 *                deployment); the query goes to URL/api/v1/query
 *
 * Usable samples: NaN values are not samples (0/0 error ratios on hosts
 * without traffic are NaN); they are counted and shown but ignored. +Inf and
 * -Inf are values and compare as such. A query that returns nothing, only
 * NaN, or fewer usable samples than MinSamples has "no data" and gets the
 * NoData= verdict; so does a query that could not be made at all
 * (metric_gate_evaluate_unavailable()).
 *
 * "==" and "!=" compare exactly, as PromQL does.
 */
#ifndef ROLLWAVE_STRATEGIES_METRIC_GATE_H
#define ROLLWAVE_STRATEGIES_METRIC_GATE_H

#include "gate_result.h"
#include "prom.h"

#define METRIC_GATE_NAME_MAX      64 /* [A-Za-z0-9_-], 1..63 */
#define METRIC_GATE_QUERY_MAX     2048
#define METRIC_GATE_URL_MAX       512
#define METRIC_GATE_CONDITION_MAX 64

enum metric_aggregate {
	METRIC_ALL,
	METRIC_MIN,
	METRIC_MAX,
	METRIC_AVG,
	METRIC_SUM,
};

enum metric_op {
	METRIC_LT,
	METRIC_LE,
	METRIC_GT,
	METRIC_GE,
	METRIC_EQ,
	METRIC_NE,
};

enum metric_no_data {
	METRIC_NO_DATA_HOLD,
	METRIC_NO_DATA_FAIL,
	METRIC_NO_DATA_PASS,
};

/* What a query that could not be made at all (Prometheus unreachable, an
 * HTTP or query error, an unreadable answer) means: wait for it to work,
 * bounded by WaveTimeout=, or fail the gate at once. */
enum metric_on_error {
	METRIC_ON_ERROR_HOLD,
	METRIC_ON_ERROR_FAIL,
};

struct metric_condition {
	enum metric_aggregate aggregate;
	enum metric_op op;
	double threshold; /* finite */
};

struct metric_gate {
	char name[METRIC_GATE_NAME_MAX];
	char query[METRIC_GATE_QUERY_MAX];
	char url[METRIC_GATE_URL_MAX]; /* "": use the deployment's PrometheusURL= */
	char condition_text[METRIC_GATE_CONDITION_MAX]; /* as written; "" until set */
	struct metric_condition condition;
	uint64_t min_samples; /* >= 1 */
	enum metric_no_data no_data;
	enum metric_on_error on_error;
};

/* Parses "[all|min|max|avg|sum] OP NUMBER" (spaces optional around OP).
 * -EINVAL on anything else, including a NaN or infinite NUMBER. */
int metric_condition_parse(const char *s, struct metric_condition *ret);

/* "<", "<=", ... and "all", "min", ...; "hold", "fail", "pass". */
const char *metric_op_to_string(enum metric_op op);
const char *metric_aggregate_to_string(enum metric_aggregate a);
const char *metric_no_data_to_string(enum metric_no_data d);
int metric_no_data_from_string(const char *s, enum metric_no_data *ret);
const char *metric_on_error_to_string(enum metric_on_error e);
int metric_on_error_from_string(const char *s, enum metric_on_error *ret);

/* The gate's query for one deployment: ${app} and ${version} replaced by
 * app and version, so a deployment file can name the release it gates.
 * -EINVAL (and err) for any other ${...}; -ENAMETOOLONG past size. */
int metric_gate_query_expand(
        const char *query, const char *app, const char *version, char *buf, size_t size);

/* The verdict on the n samples of one evaluation of gate g. why names the
 * gate, the condition, the aggregate or the offending samples with their
 * values, and the NaN count, for example:
 *   gate 'errors' fail: 1 of 3 samples not < 0.01: {instance="b"}=0.02
 *   gate 'errors' pass: max of 3 samples = 0.004 < 0.01
 *   gate 'errors' hold (NoData=hold): 0 usable samples (2 NaN), MinSamples=1
 * recheck_usec stays 0 (only a new query can change the verdict). */
void metric_gate_evaluate(const struct metric_gate *g, const struct prom_sample *samples, size_t n,
        struct gate_result *ret);

/* The verdict when the query could not be made or its answer not parsed
 * (reason says why, e.g. an rw_err message): the NoData= policy. */
void metric_gate_evaluate_unavailable(
        const struct metric_gate *g, const char *reason, struct gate_result *ret);

#endif
