/*
 * test_agent_cmdlog: the journal entry of a log line about a command
 * carries HOST_ID= and COMMAND_ID= next to lib/log.h's fields, and leaves
 * out what is not known.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <syslog.h>

#include "cmdlog.h"

static char buf[CMDLOG_FIELDS_MAX][CMDLOG_FIELD_MAX];

static const char *
field(const struct iovec *iov, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (iov[i].iov_len > len && memcmp(iov[i].iov_base, name, len) == 0 &&
		        ((const char *)iov[i].iov_base)[len] == '=')
			return (const char *)iov[i].iov_base + len + 1;
	return NULL;
}

static void
test_command_lines_carry_host_and_command_ids(void **state)
{
	struct cmdlog_ids ids = {.host_id = 42, .command_id = 7};
	struct iovec iov[CMDLOG_FIELDS_MAX];
	size_t n;

	(void)state;
	n = cmdlog_fields(LOG_NOTICE, "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c15", "web", "2.0", &ids,
	        "command 8 (cancel 7): cancelling command 7 (deploy)", buf, iov);
	assert_int_equal(n, 8);
	assert_string_equal(
	        field(iov, n, "MESSAGE"), "command 8 (cancel 7): cancelling command 7 (deploy)");
	assert_string_equal(field(iov, n, "PRIORITY"), "5");
	assert_string_equal(field(iov, n, "SYSLOG_IDENTIFIER"), "rollwave-agent");
	assert_string_equal(field(iov, n, "MESSAGE_ID"), "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c15");
	assert_string_equal(field(iov, n, "APP"), "web");
	assert_string_equal(field(iov, n, "VERSION"), "2.0");
	assert_string_equal(field(iov, n, "HOST_ID"), "42");
	assert_string_equal(field(iov, n, "COMMAND_ID"), "7");
	for (size_t i = 0; i < n; i++)
		assert_int_equal(iov[i].iov_len, strlen(buf[i]));
}

static void
test_unknown_ids_and_fields_are_left_out(void **state)
{
	struct cmdlog_ids ids = {.host_id = 0, .command_id = 9};
	struct iovec iov[CMDLOG_FIELDS_MAX];
	size_t n;

	(void)state;
	n = cmdlog_fields(LOG_INFO, NULL, NULL, NULL, &ids, "x", buf, iov);
	assert_int_equal(n, 4);
	assert_null(field(iov, n, "HOST_ID"));
	assert_null(field(iov, n, "APP"));
	assert_string_equal(field(iov, n, "COMMAND_ID"), "9");
	n = cmdlog_fields(LOG_INFO, NULL, "web", NULL, NULL, "x", buf, iov);
	assert_int_equal(n, 4);
	assert_null(field(iov, n, "COMMAND_ID"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_command_lines_carry_host_and_command_ids),
	        cmocka_unit_test(test_unknown_ids_and_fields_are_left_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
