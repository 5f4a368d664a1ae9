/*
 * test_coordinator_config: coordinator.conf parsing: defaults, every key,
 * the TLS-or-Insecure rule and the listen host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "coordinator_config.h"

static int
parse(const char *text, struct coordinator_config *ret, struct rw_err *err)
{
	return coordinator_config_parse("c.conf", text, strlen(text), ret, err);
}

static void
test_defaults_are_tls_and_the_documented_paths(void **state)
{
	(void)state;
	struct coordinator_config c;
	struct rw_err err = {{0}};
	char host[64];

	assert_int_equal(parse("", &c, &err), 0);
	assert_string_equal(c.listen, "tls+tcp://0.0.0.0:7400");
	assert_string_equal(c.admin_socket, "ipc:///run/rollwave/admin.sock");
	assert_string_equal(c.database, "/var/lib/rollwave-coordinator/state.db");
	assert_false(c.insecure);
	assert_int_equal(coordinator_config_listen_host(&c, host, sizeof(host)), 0);
	assert_string_equal(host, "0.0.0.0");
}

static void
test_every_key_parses(void **state)
{
	(void)state;
	struct coordinator_config c;
	struct rw_err err = {{0}};
	char host[64];

	assert_int_equal(parse("[Coordinator]\nListen=tcp://[::1]:7401\nInsecure=yes\n"
	                       "AdminSocket=tls+tcp://127.0.0.1:7402\nDatabase=/d/s.db\n"
	                       "KeyFile=/d/k\nMetricsListen=0.0.0.0:9470\n"
	                       "JoinToken=0123456789abcdefXYZ\n[TLS]\nCertificate=/t/c.pem\n"
	                       "Key=/t/k.pem\nCA=/t/ca.crt\n",
	                         &c, &err),
	        0);
	assert_true(c.insecure);
	assert_string_equal(c.join_token, "0123456789abcdefXYZ");
	assert_string_equal(c.tls_key, "/t/k.pem");
	assert_int_equal(coordinator_config_listen_host(&c, host, sizeof(host)), 0);
	assert_string_equal(host, "::1");
}

static void
expect_error(const char *text, const char *message)
{
	struct coordinator_config c;
	struct rw_err err = {{0}};

	assert_true(parse(text, &c, &err) < 0);
	if (!strstr(err.msg, message))
		fail_msg("error '%s' lacks '%s'", err.msg, message);
}

static void
test_bad_values_are_refused_with_their_line(void **state)
{
	(void)state;
	expect_error("[Coordinator]\nListen=tcp://0.0.0.0:7400\n", "is plain TCP");
	expect_error("[Coordinator]\nListen=http://x\n", "c.conf:2: Listen= takes tls+tcp://");
	expect_error("[Coordinator]\nAdminSocket=/run/x.sock\n", "AdminSocket= takes ipc:///");
	expect_error("[Coordinator]\nDatabase=state.db\n", "Database= must be an absolute path");
	expect_error("[Coordinator]\nInsecure=maybe\n", "Insecure= takes yes or no");
	expect_error("[Coordinator]\nJoinToken=short\n", "at least 16 characters");
	expect_error("[Coordinator]\nJoinToken=0123456789abcdef ghi\n", "must not contain spaces");
	expect_error("[Coordinator]\nMetricsListen=9470\n", "MetricsListen= takes HOST:PORT");
	expect_error("[Coordinator]\nMetricsListen=http://x:9470\n", "got 'http://x:9470'");
	expect_error("[Coordinator]\nMetricsListen=127.0.0.1:99999\n", "MetricsListen= takes");
	expect_error("[Coordinator]\nMetricsListen=127.0.0.1:\n", "MetricsListen= takes");
	expect_error("[TLS]\nCert=/x\n", "c.conf:2: unknown key 'Cert' in [TLS]");
	expect_error("[Agent]\nX=1\n", "unknown section [Agent]");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_are_tls_and_the_documented_paths),
	        cmocka_unit_test(test_every_key_parses),
	        cmocka_unit_test(test_bad_values_are_refused_with_their_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
