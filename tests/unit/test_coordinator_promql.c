/* promql: the Prometheus instant-query URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "promql.h"

static void
expect_url(const char *base, const char *query, uint64_t t, const char *want)
{
	char *url = NULL;

	assert_int_equal(promql_url(base, query, t, &url), 0);
	assert_string_equal(url, want);
	free(url);
}

static void
test_url_encodes_the_query_and_time(void **state)
{
	(void)state;
	expect_url("http://prom:9090", "up", 0, "http://prom:9090/api/v1/query?query=up");
	expect_url("http://prom:9090/", "up", 0, "http://prom:9090/api/v1/query?query=up");
	expect_url("https://prom.example/prefix//",
	        "sum(rate(http_requests_total{code=~\"5..\",app=\"web\"}[5m])) / 2", 1700000000123,
	        "https://prom.example/prefix/api/v1/query?query="
	        "sum%28rate%28http_requests_total%7Bcode%3D~%225..%22%2Capp%3D%22web%22%7D%5B5m%5D%"
	        "29%29"
	        "%20%2F%202&time=1700000000.123");
	expect_url("HTTP://p:1", "a+b&c=d", 0, "HTTP://p:1/api/v1/query?query=a%2Bb%26c%3Dd");
}

static void
test_bad_bases_and_queries_are_refused(void **state)
{
	char *url = NULL;

	(void)state;
	assert_int_equal(promql_url("ftp://prom", "up", 0, &url), -EINVAL);
	assert_int_equal(promql_url("prom:9090", "up", 0, &url), -EINVAL);
	assert_int_equal(promql_url("http://", "up", 0, &url), -EINVAL);
	assert_int_equal(promql_url("http://prom?x=1", "up", 0, &url), -EINVAL);
	assert_int_equal(promql_url("http://pr om", "up", 0, &url), -EINVAL);
	assert_int_equal(promql_url("http://prom", "", 0, &url), -EINVAL);
	assert_int_equal(promql_url("http://prom", "up\nx", 0, &url), -EINVAL);
	assert_null(url);
}

static void
test_query_against_nothing_fails_with_a_reason(void **state)
{
	struct rw_err err = {""};
	char *body = NULL;

	(void)state;
	/* Port 1 on loopback: nobody listens. */
	assert_true(promql_query("http://127.0.0.1:1", "up", 0, USEC_PER_SEC, &body, &err) < 0);
	assert_null(body);
	assert_non_null(strstr(err.msg, "Prometheus query 'up'"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_url_encodes_the_query_and_time),
	        cmocka_unit_test(test_bad_bases_and_queries_are_refused),
	        cmocka_unit_test(test_query_against_nothing_fails_with_a_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
