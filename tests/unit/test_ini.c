/*
 * test_ini: ini_set_path(), the one parser of path values in both configs:
 * what it accepts, what it refuses and the words it refuses with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ini.h"

static void
expect_path(const char *value, const char *want)
{
	char dst[64] = "unchanged";
	struct rw_err err = {{0}};

	if (ini_set_path(dst, sizeof(dst), value, "Root", &err) < 0)
		fail_msg("'%s' refused: %s", value, err.msg);
	assert_string_equal(dst, want);
}

static void
expect_refused(const char *value, int error, const char *message)
{
	char dst[64] = "unchanged";
	struct rw_err err = {{0}};

	assert_int_equal(ini_set_path(dst, sizeof(dst), value, "Root", &err), error);
	if (!streq(err.msg, message))
		fail_msg("'%s': got '%s', want '%s'", value, err.msg, message);
	assert_string_equal(dst, "unchanged");
}

static void
test_absolute_paths_are_kept_without_trailing_slashes(void **state)
{
	(void)state;
	expect_path("/", "/");
	expect_path("//", "/");
	expect_path("/srv/web", "/srv/web");
	expect_path("/srv/web/", "/srv/web");
	expect_path("/srv/web///", "/srv/web");
	/* Dots inside names are not components. */
	expect_path("/srv/.web/..data/x.", "/srv/.web/..data/x.");
	expect_path("/srv/.../x", "/srv/.../x");
}

static void
test_relative_paths_are_refused(void **state)
{
	(void)state;
	expect_refused("", -EINVAL, "Root= must be an absolute path, got ''");
	expect_refused("srv/web", -EINVAL, "Root= must be an absolute path, got 'srv/web'");
	expect_refused("./srv", -EINVAL, "Root= must be an absolute path, got './srv'");
}

static void
test_dot_and_dot_dot_components_are_refused(void **state)
{
	(void)state;
	expect_refused("/srv/../etc", -EINVAL, "Root= must not contain '..', got '/srv/../etc'");
	expect_refused("/srv/..", -EINVAL, "Root= must not contain '..', got '/srv/..'");
	expect_refused("/..", -EINVAL, "Root= must not contain '..', got '/..'");
	expect_refused("/../", -EINVAL, "Root= must not contain '..', got '/../'");
	expect_refused(
	        "/srv/./web", -EINVAL, "Root= must not contain '.' components, got '/srv/./web'");
	expect_refused("/srv/.", -EINVAL, "Root= must not contain '.' components, got '/srv/.'");
	expect_refused("/./", -EINVAL, "Root= must not contain '.' components, got '/./'");
}

static void
test_paths_longer_than_the_buffer_are_refused(void **state)
{
	(void)state;
	char value[65];

	memset(value, 'a', sizeof(value) - 1);
	value[0] = '/';
	value[64] = 0;
	expect_refused(value, -ENAMETOOLONG, "Root= path too long");
	value[63] = 0; /* 63 bytes and the NUL fit */
	expect_path(value, value);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_absolute_paths_are_kept_without_trailing_slashes),
	        cmocka_unit_test(test_relative_paths_are_refused),
	        cmocka_unit_test(test_dot_and_dot_dot_components_are_refused),
	        cmocka_unit_test(test_paths_longer_than_the_buffer_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
