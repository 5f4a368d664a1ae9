/*
 * test_verbs: the daemons' verb table: lookup, help, unknown verbs and usage
 * errors exit 2, a verb's own exit status passes through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "verbs.h"

static int
verb_ok(void *userdata, int argc, char **argv)
{
	int *calls = userdata;

	(void)argv;
	(*calls)++;
	return argc == 1 ? 0 : -VERB_EXIT_USAGE;
}

static int
verb_three(void *userdata, int argc, char **argv)
{
	(void)userdata;
	(void)argc;
	(void)argv;
	return 3;
}

static const struct verb verbs[] = {
        {"ok", verb_ok, "ok"},
        {"three", verb_three, "three [X]"},
        {"internal", verb_three, NULL},
};

static const struct verb_table table = {
        .program = "prog",
        .synopsis = "COMMAND ...",
        .verbs = verbs,
        .n_verbs = ELEMENTSOF(verbs),
};

static int
find(const char *a0, const char *a1, const struct verb **ret)
{
	char *argv[] = {(char *)a0, (char *)a1, NULL};

	return verbs_find(&table, a0 ? (a1 ? 2 : 1) : 0, argv, ret);
}

static void
test_known_verbs_are_found_internal_ones_too(void **state)
{
	(void)state;
	const struct verb *v;

	assert_int_equal(find("three", NULL, &v), 0);
	assert_ptr_equal(v, &verbs[1]);
	assert_int_equal(find("internal", NULL, &v), 0);
	assert_ptr_equal(v, &verbs[2]);
}

static void
test_no_verb_or_an_unknown_one_is_a_usage_error(void **state)
{
	(void)state;
	const struct verb *v = &verbs[0];

	assert_int_equal(find(NULL, NULL, &v), VERB_EXIT_USAGE);
	assert_null(v);
	assert_int_equal(find("bogus", NULL, &v), VERB_EXIT_USAGE);
	assert_null(v);
	assert_int_equal(find("help", "bogus", &v), VERB_EXIT_USAGE);
	assert_null(v);
}

static void
test_help_answers_without_a_verb_to_run(void **state)
{
	(void)state;
	const struct verb *v = &verbs[0];

	assert_int_equal(find("help", NULL, &v), 0);
	assert_null(v);
	assert_int_equal(find("help", "three", &v), 0);
	assert_null(v);
}

static void
test_run_passes_exit_status_and_turns_usage_errors_into_2(void **state)
{
	(void)state;
	char *one[] = {"ok", NULL}, *two[] = {"ok", "extra", NULL}, *three[] = {"three", NULL};
	int calls = 0;

	assert_int_equal(verbs_run(&table, &verbs[0], &calls, 1, one), 0);
	assert_int_equal(verbs_run(&table, &verbs[0], &calls, 2, two), VERB_EXIT_USAGE);
	assert_int_equal(calls, 2);
	assert_int_equal(verbs_run(&table, &verbs[1], NULL, 1, three), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_verbs_are_found_internal_ones_too),
	        cmocka_unit_test(test_no_verb_or_an_unknown_one_is_a_usage_error),
	        cmocka_unit_test(test_help_answers_without_a_verb_to_run),
	        cmocka_unit_test(test_run_passes_exit_status_and_turns_usage_errors_into_2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
