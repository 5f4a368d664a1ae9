/*
 * test_gate_metric: Prometheus gates: conditions, parsing instant-query
 * responses (vector, scalar, error, NaN and infinities), verdicts per sample
 * and per aggregate on both sides of the threshold, the no-data policy, and
 * explanations that carry the values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>

#include "metric_gate.h"

static struct metric_gate
gate(const char *condition, uint64_t min_samples, enum metric_no_data no_data)
{
	struct metric_gate g = {.min_samples = min_samples, .no_data = no_data};

	strcpy(g.name, "errors");
	strcpy(g.query, "rate(errors[5m])");
	strcpy(g.condition_text, condition);
	assert_int_equal(metric_condition_parse(condition, &g.condition), 0);
	return g;
}

static void
has(const struct gate_result *r, const char *text)
{
	if (!strstr(r->why, text))
		fail_msg("'%s' lacks '%s'", r->why, text);
}

static void
test_conditions_parse(void **state)
{
	struct metric_condition c;

	(void)state;
	assert_int_equal(metric_condition_parse("< 0.01", &c), 0);
	assert_int_equal(c.aggregate, METRIC_ALL);
	assert_int_equal(c.op, METRIC_LT);
	assert_true(c.threshold == 0.01);
	assert_int_equal(metric_condition_parse("max<0.01", &c), 0);
	assert_int_equal(c.aggregate, METRIC_MAX);
	assert_int_equal(metric_condition_parse(" avg >= 0.99 ", &c), 0);
	assert_int_equal(c.aggregate, METRIC_AVG);
	assert_int_equal(c.op, METRIC_GE);
	assert_int_equal(metric_condition_parse("== 0", &c), 0);
	assert_int_equal(c.op, METRIC_EQ);
	assert_int_equal(metric_condition_parse("sum != -1e3", &c), 0);
	assert_int_equal(c.aggregate, METRIC_SUM);
	assert_int_equal(c.op, METRIC_NE);
	assert_true(c.threshold == -1000);
	assert_int_equal(metric_condition_parse("min <= 5", &c), 0);
	assert_int_equal(c.op, METRIC_LE);
	assert_int_equal(metric_condition_parse("all > 1", &c), 0);
	assert_int_equal(c.op, METRIC_GT);

	static const char *const bad[] = {"", "0.01", "< ", "<< 1", "= 1", "=< 1", "max",
	        "median < 1", "< NaN", "< inf", "< 1e999", "< 1 2", "< 0x10", "max < < 1"};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (metric_condition_parse(bad[i], &c) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

static const char vector[] = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                             "\"result\":["
                             "{\"metric\":{\"__name__\":\"err\",\"instance\":\"a\"},"
                             "\"value\":[1700000000.5,\"0.001\"]},"
                             "{\"metric\":{\"instance\":\"b\",\"job\":\"web\"},"
                             "\"value\":[1700000000.5,\"0.02\"]},"
                             "{\"metric\":{\"instance\":\"c\\\"q\"},"
                             "\"value\":[1700000000,\"NaN\"]},"
                             "{\"metric\":{},\"value\":[1700000000,\"+Inf\"]},"
                             "{\"value\":[1700000000,\"-Inf\"]}"
                             "]}}";

static void
test_vector_response_parses_with_labels_and_special_values(void **state)
{
	struct prom_vector v = {0};
	struct rw_err err = {{0}};

	(void)state;
	assert_int_equal(prom_vector_parse(vector, strlen(vector), &v, &err), 0);
	assert_int_equal(v.n_samples, 5);
	assert_string_equal(v.samples[0].labels, "err{instance=\"a\"}");
	assert_true(v.samples[0].value == 0.001);
	assert_true(v.samples[0].timestamp == 1700000000.5);
	assert_string_equal(v.samples[1].labels, "{instance=\"b\",job=\"web\"}");
	assert_true(v.samples[1].value == 0.02);
	assert_string_equal(v.samples[2].labels, "{instance=\"c\\\"q\"}");
	assert_true(isnan(v.samples[2].value));
	assert_string_equal(v.samples[3].labels, "{}");
	assert_true(isinf(v.samples[3].value) && v.samples[3].value > 0);
	assert_string_equal(v.samples[4].labels, "{}");
	assert_true(isinf(v.samples[4].value) && v.samples[4].value < 0);
	prom_vector_done(&v);
	assert_null(v.samples);
	assert_int_equal(v.n_samples, 0);
	prom_vector_done(&v);

	static const char empty[] = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	                            "\"result\":[]}}";
	assert_int_equal(prom_vector_parse(empty, strlen(empty), &v, &err), 0);
	assert_int_equal(v.n_samples, 0);
	prom_vector_done(&v);

	static const char scalar[] = "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	                             "\"result\":[1700000000,\"0.75\"]}}";
	assert_int_equal(prom_vector_parse(scalar, strlen(scalar), &v, &err), 0);
	assert_int_equal(v.n_samples, 1);
	assert_string_equal(v.samples[0].labels, "{}");
	assert_true(v.samples[0].value == 0.75);
	prom_vector_done(&v);
}

static void
parse_fails(const char *body, int expected, const char *message)
{
	struct prom_vector v = {0};
	struct rw_err err = {{0}};

	assert_int_equal(prom_vector_parse(body, strlen(body), &v, &err), expected);
	assert_null(v.samples);
	if (!strstr(err.msg, message))
		fail_msg("error '%s' lacks '%s'", err.msg, message);
}

static void
test_bad_responses_are_refused(void **state)
{
	(void)state;
	parse_fails("{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at "
	            "char 5\"}",
	        -EPROTO, "Prometheus error (bad_data): parse error at char 5");
	parse_fails("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
	        -EPROTO, "Prometheus result type 'matrix'");
	parse_fails("<html>502</html>", -EINVAL, "Prometheus response is not JSON");
	parse_fails("{\"data\":{}}", -EINVAL, "no \"status\"");
	parse_fails("{\"status\":\"success\"}", -EINVAL, "lacks data.resultType or data.result");
	parse_fails("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}",
	        -EINVAL, "data.result is not an array");
	parse_fails("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	            "{\"metric\":{},\"value\":[1,\"abc\"]}]}}",
	        -EINVAL, "sample 0: \"value\" is not [time, \"number\"]");
	parse_fails("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	            "{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":{},\"value\":[1,0.5]}]}}",
	        -EINVAL, "sample 1");
	parse_fails("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	            "{\"metric\":{},\"value\":[1,\"0x10\"]}]}}",
	        -EINVAL, "sample 0");
	parse_fails("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	            "{\"metric\":{\"a\":1},\"value\":[1,\"1\"]}]}}",
	        -EINVAL, "sample 0 has a bad \"metric\" object");
	parse_fails("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1]}}",
	        -EINVAL, "scalar result is not [time, \"number\"]");
}

/* Every prefix of a good response is refused cleanly (no crash, no leak,
 * nothing returned). */
static void
test_truncated_responses_are_refused(void **state)
{
	(void)state;
	for (size_t len = 0; len + 1 < sizeof(vector); len++) {
		struct prom_vector v = {0};
		struct rw_err err = {{0}};

		assert_int_equal(prom_vector_parse(vector, len, &v, &err), -EINVAL);
		assert_null(v.samples);
		assert_true(err.msg[0] != 0);
	}
}

static void
test_too_many_samples_are_refused(void **state)
{
	char *body;
	size_t size = 64 + (size_t)(PROM_SAMPLES_MAX + 1) * 32, len;
	struct prom_vector v = {0};
	struct rw_err err = {{0}};

	(void)state;
	body = malloc(size);
	assert_non_null(body);
	len = (size_t)snprintf(body, size,
	        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[");
	for (int i = 0; i <= PROM_SAMPLES_MAX; i++)
		len += (size_t)snprintf(
		        body + len, size - len, "%s{\"value\":[1,\"1\"]}", i ? "," : "");
	len += (size_t)snprintf(body + len, size - len, "]}}");
	assert_int_equal(prom_vector_parse(body, len, &v, &err), -E2BIG);
	assert_non_null(strstr(err.msg, "10001 samples, at most 10000"));
	free(body);
}

static void
test_every_sample_must_satisfy_the_condition(void **state)
{
	struct prom_vector v = {0};
	struct rw_err err = {{0}};
	struct metric_gate g = gate("< 0.01", 1, METRIC_NO_DATA_HOLD);
	struct gate_result r;

	(void)state;
	assert_int_equal(prom_vector_parse(vector, strlen(vector), &v, &err), 0);
	/* Samples: 0.001, 0.02, NaN, +Inf, -Inf. */
	metric_gate_evaluate(&g, v.samples, v.n_samples, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_int_equal(r.recheck_usec, 0);
	assert_string_equal(r.why,
	        "gate 'errors' fail: 2 of 4 samples not < 0.01 (1 NaN ignored): "
	        "{instance=\"b\",job=\"web\"}=0.02, {}=inf; others: "
	        "err{instance=\"a\"}=0.001, {}=-inf");

	/* Only the first two samples. */
	metric_gate_evaluate(&g, v.samples, 1, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	assert_string_equal(r.why,
	        "gate 'errors' pass: all 1 sample < 0.01: "
	        "err{instance=\"a\"}=0.001");
	prom_vector_done(&v);
}

/* +Inf and -Inf summed are not a number: the no-data policy, not a value
 * that "!= 5" would pass. */
static void
test_an_aggregate_that_is_not_a_number_is_no_data(void **state)
{
	struct prom_sample s[] = {
	        {(char *)"{i=\"a\"}", 0, INFINITY}, {(char *)"{i=\"b\"}", 0, -INFINITY}};
	struct metric_gate g = gate("sum != 5", 1, METRIC_NO_DATA_FAIL);
	struct gate_result r;

	(void)state;
	metric_gate_evaluate(&g, s, 2, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_non_null(strstr(
	        r.why, "gate 'errors' fail (NoData=fail): sum of 2 samples is not a number"));
	g.no_data = METRIC_NO_DATA_HOLD;
	metric_gate_evaluate(&g, s, 2, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	/* One infinity alone is a value. */
	g = gate("max < 1", 1, METRIC_NO_DATA_PASS);
	metric_gate_evaluate(&g, s, 1, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
}

static void
test_threshold_boundaries(void **state)
{
	struct prom_sample s[] = {{(char *)"{}", 0, 0.01}};
	struct gate_result r;
	struct metric_gate g;

	(void)state;
	g = gate("< 0.01", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 1, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	g = gate("<= 0.01", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 1, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	g = gate(">= 0.01", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 1, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	g = gate("> 0.01", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 1, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	g = gate("== 0.01", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 1, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	g = gate("!= 0.01", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 1, &r);
	assert_int_equal(r.verdict, GATE_FAIL);

	/* Values are shown exactly enough to see why they fail. */
	s[0].value = 0.010000000000000002;
	g = gate("<= 0.01", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 1, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	has(&r, "{}=0.010000000000000002");
}

static void
test_aggregates(void **state)
{
	struct prom_sample s[] = {
	        {(char *)"{i=\"a\"}", 0, 0.2},
	        {(char *)"{i=\"b\"}", 0, NAN},
	        {(char *)"{i=\"c\"}", 0, 0.6},
	        {(char *)"{i=\"d\"}", 0, 1.0},
	};
	struct gate_result r;
	struct metric_gate g;

	(void)state;
	g = gate("max < 1", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 4, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_string_equal(r.why,
	        "gate 'errors' fail: max of 3 samples = 1 not < 1 (1 NaN "
	        "ignored): {i=\"a\"}=0.2, {i=\"c\"}=0.6, {i=\"d\"}=1");
	g = gate("min >= 0.2", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 4, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	has(&r, "gate 'errors' pass: min of 3 samples = 0.2 >= 0.2");
	g = gate("avg < 0.6", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 4, &r);
	assert_int_equal(r.verdict, GATE_FAIL); /* (0.2 + 0.6 + 1) / 3 = 0.6 */
	has(&r, "avg of 3 samples = 0.6 not < 0.6");
	g = gate("avg <= 0.6", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 4, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	g = gate("sum > 1.7", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, s, 4, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	has(&r, "sum of 3 samples = 1.8 > 1.7");
}

static void
test_no_data_policy(void **state)
{
	struct prom_sample nan[] = {{(char *)"{i=\"a\"}", 0, NAN}, {(char *)"{i=\"b\"}", 0, NAN}};
	struct prom_sample two[] = {{(char *)"{i=\"a\"}", 0, 0}, {(char *)"{i=\"b\"}", 0, 0}};
	struct gate_result r;
	struct metric_gate g;

	(void)state;
	g = gate("< 0.01", 1, METRIC_NO_DATA_HOLD);
	metric_gate_evaluate(&g, NULL, 0, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	assert_int_equal(r.recheck_usec, 0);
	assert_string_equal(r.why,
	        "gate 'errors' hold (NoData=hold): 0 usable samples, "
	        "MinSamples=1");
	metric_gate_evaluate(&g, nan, 2, &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	assert_string_equal(r.why,
	        "gate 'errors' hold (NoData=hold): 0 usable samples (2 NaN "
	        "ignored), MinSamples=1");

	g = gate("< 0.01", 3, METRIC_NO_DATA_FAIL);
	metric_gate_evaluate(&g, two, 2, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	assert_string_equal(r.why,
	        "gate 'errors' fail (NoData=fail): 2 usable samples, MinSamples=3: "
	        "{i=\"a\"}=0, {i=\"b\"}=0");
	g.min_samples = 2;
	metric_gate_evaluate(&g, two, 2, &r);
	assert_int_equal(r.verdict, GATE_PASS);

	/* No data can pass, if the gate says so: even a condition that no
	 * sample could meet. */
	g = gate("> 1000", 1, METRIC_NO_DATA_PASS);
	metric_gate_evaluate(&g, nan, 2, &r);
	assert_int_equal(r.verdict, GATE_PASS);
	has(&r, "gate 'errors' pass (NoData=pass)");

	/* A query that could not be made is not "no data": OnError= decides,
	 * hold by default whatever NoData= says (NoData=pass must not let an
	 * unreachable Prometheus wave every release through). */
	g = gate("< 0.01", 1, METRIC_NO_DATA_PASS);
	metric_gate_evaluate_unavailable(&g, "Prometheus error (bad_data): parse error", &r);
	assert_int_equal(r.verdict, GATE_HOLD);
	assert_string_equal(r.why,
	        "gate 'errors' hold (OnError=hold): no result: Prometheus error "
	        "(bad_data): parse error");
	g.on_error = METRIC_ON_ERROR_FAIL;
	metric_gate_evaluate_unavailable(&g, NULL, &r);
	assert_int_equal(r.verdict, GATE_FAIL);
	has(&r, "unknown reason");
}

static void
test_query_expand(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(metric_gate_query_expand("max(err{app=\"${app}\",version=\"${version}\"})",
	                         "web", "1.4.2", buf, sizeof(buf)),
	        0);
	assert_string_equal(buf, "max(err{app=\"web\",version=\"1.4.2\"})");
	/* PromQL's own $ and % are left alone; unknown placeholders are not. */
	assert_int_equal(metric_gate_query_expand("a % 2 + $x", "w", "1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "a % 2 + $x");
	assert_int_equal(
	        metric_gate_query_expand("x{v=\"${host}\"}", "w", "1", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(
	        metric_gate_query_expand("${version}${version}", "w", "1234567890", buf, 16),
	        -ENAMETOOLONG);
	assert_int_equal(
	        metric_gate_query_expand("${version}", "w", "123456789012345", buf, 16), 0);
	assert_string_equal(buf, "123456789012345");
}

static void
test_names_round_trip(void **state)
{
	enum metric_no_data d;

	(void)state;
	assert_string_equal(metric_op_to_string(METRIC_GE), ">=");
	assert_string_equal(metric_aggregate_to_string(METRIC_AVG), "avg");
	for (int i = METRIC_NO_DATA_HOLD; i <= METRIC_NO_DATA_PASS; i++) {
		assert_int_equal(metric_no_data_from_string(
		                         metric_no_data_to_string((enum metric_no_data)i), &d),
		        0);
		assert_int_equal(d, i);
	}
	assert_int_equal(metric_no_data_from_string("Hold", &d), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_conditions_parse),
	        cmocka_unit_test(test_vector_response_parses_with_labels_and_special_values),
	        cmocka_unit_test(test_bad_responses_are_refused),
	        cmocka_unit_test(test_truncated_responses_are_refused),
	        cmocka_unit_test(test_too_many_samples_are_refused),
	        cmocka_unit_test(test_every_sample_must_satisfy_the_condition),
	        cmocka_unit_test(test_threshold_boundaries),
	        cmocka_unit_test(test_aggregates),
	        cmocka_unit_test(test_no_data_policy),
	        cmocka_unit_test(test_names_round_trip),
	        cmocka_unit_test(test_query_expand),
	        cmocka_unit_test(test_an_aggregate_that_is_not_a_number_is_no_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
