/*
 * test_proto: the protobuf-c schema compiled at build time: an envelope
 * round-trips, and truncated or garbage bytes are refused by the decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rollwave.pb-c.h"

static void
test_envelope_round_trips_a_phase_report(void **state)
{
	(void)state;
	Rollwave__PhaseReport pr = ROLLWAVE__PHASE_REPORT__INIT;
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT, *back;
	uint8_t buf[256];
	size_t len;

	pr.app = "web";
	pr.version = "1.4.2";
	pr.phase = ROLLWAVE__PHASE__PHASE_HEALTH;
	pr.elapsed_ms = 1234;
	env.protocol_version = 1;
	env.message_id = 77;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT;
	env.phase_report = &pr;
	len = rollwave__envelope__get_packed_size(&env);
	assert_true(len < sizeof(buf));
	assert_int_equal(rollwave__envelope__pack(&env, buf), len);

	back = rollwave__envelope__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->protocol_version, 1);
	assert_int_equal(back->message_id, 77);
	assert_int_equal(back->body_case, ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT);
	assert_string_equal(back->phase_report->app, "web");
	assert_int_equal(back->phase_report->elapsed_ms, 1234);
	rollwave__envelope__free_unpacked(back, NULL);

	/* Every truncation of a valid message with a nested body is refused
	 * or decodes without the body being cut in half silently. */
	for (size_t cut = 1; cut < len; cut++) {
		back = rollwave__envelope__unpack(NULL, cut, buf);
		if (back) {
			assert_true(back->body_case != ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT ||
			        cut == len);
			rollwave__envelope__free_unpacked(back, NULL);
		}
	}
}

static void
test_garbage_is_refused(void **state)
{
	(void)state;
	static const uint8_t garbage[] = {
	        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	/* field 10 (app_status), length-delimited, claims 1000 bytes */
	static const uint8_t overlong[] = {0x52, 0xe8, 0x07, 0x0a, 0x01, 'x'};

	assert_null(rollwave__envelope__unpack(NULL, sizeof(garbage), garbage));
	assert_null(rollwave__envelope__unpack(NULL, sizeof(overlong), overlong));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_envelope_round_trips_a_phase_report),
	        cmocka_unit_test(test_garbage_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
