/*
 * test_layout: an app's release tree: the atomic `current` swap, listing,
 * leftover removal, shared dirs and pruning (never current or previous).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "layout.h"

static char root[64];
static int rootfd = -1;

static int
setup(void **state)
{
	(void)state;
	struct rw_err err = {{0}};

	strcpy(root, "/var/tmp/rw-test-layout.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	return layout_open_root(root, true, &rootfd, &err);
}

static int
teardown(void **state)
{
	(void)state;
	closep(&rootfd);
	return rm_rf_at(AT_FDCWD, root);
}

static void
mkrelease(const char *v)
{
	char path[128];

	snprintf(path, sizeof(path), "releases/%s", v);
	assert_int_equal(mkdirat(rootfd, path, 0755), 0);
}

static void
test_swap_points_current_at_the_release(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	char v[VERSION_MAX + 1], target[64];
	ssize_t n;

	assert_int_equal(layout_read_current(rootfd, v), 0);
	assert_string_equal(v, "");
	mkrelease("1.0");
	mkrelease("1.1");
	assert_int_equal(layout_swap_current(rootfd, "1.0", &err), 0);
	assert_int_equal(layout_swap_current(rootfd, "1.1", &err), 0);
	assert_int_equal(layout_read_current(rootfd, v), 0);
	assert_string_equal(v, "1.1");
	n = readlinkat(rootfd, "current", target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = 0;
	assert_string_equal(target, "releases/1.1"); /* relative */
	assert_int_equal(faccessat(rootfd, "current.tmp", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_true(layout_release_exists(rootfd, "1.0"));
	assert_false(layout_release_exists(rootfd, "2.0"));
	assert_false(layout_release_exists(rootfd, "../releases"));
}

static void
test_current_that_is_not_ours_is_refused(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	char v[VERSION_MAX + 1];

	assert_int_equal(symlinkat("/etc", rootfd, "current"), 0);
	assert_int_equal(layout_read_current(rootfd, v), -EBADMSG);
	assert_int_equal(unlinkat(rootfd, "current", 0), 0);
	assert_int_equal(mkdirat(rootfd, "current", 0755), 0);
	mkrelease("1.0");
	assert_int_equal(layout_swap_current(rootfd, "1.0", &err), -EEXIST);
	assert_non_null(strstr(err.msg, "not a symlink"));
}

static void
test_leftovers_are_removed_and_releases_listed_newest_first(void **state)
{
	(void)state;
	_cleanup_strv_free_ char **v = NULL;

	mkrelease("1.9");
	mkrelease("1.10");
	mkrelease(".staging-2.0");
	assert_int_equal(mkdirat(rootfd, "releases/.staging-2.0/deep", 0755), 0);
	assert_int_equal(
	        close(openat(rootfd, "releases/.download-2.0", O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(symlinkat("releases/1.9", rootfd, "current.tmp"), 0);
	assert_int_equal(layout_remove_leftovers(rootfd), 3);
	assert_int_equal(layout_remove_leftovers(rootfd), 0);
	assert_int_equal(layout_list_releases(rootfd, &v), 0);
	assert_int_equal(strv_length(v), 2);
	assert_string_equal(v[0], "1.10");
	assert_string_equal(v[1], "1.9");
}

static void
test_prune_keeps_current_and_previous(void **state)
{
	(void)state;
	_cleanup_strv_free_ char **v = NULL;
	const char *versions[] = {"1", "2", "3", "4", "5", "6"};

	for (size_t i = 0; i < ELEMENTSOF(versions); i++)
		mkrelease(versions[i]);
	/* Rolled back to 2 from 6: both stay, plus the newest other one. */
	assert_int_equal(layout_prune(rootfd, 3, "2", "6"), 3);
	assert_int_equal(layout_list_releases(rootfd, &v), 0);
	assert_int_equal(strv_length(v), 3);
	assert_string_equal(v[0], "6");
	assert_string_equal(v[1], "5");
	assert_string_equal(v[2], "2");
	assert_int_equal(layout_prune(rootfd, 3, "2", "6"), 0);
}

static void
test_shared_dirs_become_relative_links(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	char *dirs[] = {"log", "data/uploads", NULL};
	char target[128];
	ssize_t n;

	mkrelease(".staging-3");
	/* What the release ships at a shared path is replaced by the link. */
	assert_int_equal(mkdirat(rootfd, "releases/.staging-3/log", 0755), 0);
	assert_int_equal(layout_link_shared(rootfd, ".staging-3", dirs, &err), 0);
	n = readlinkat(rootfd, "releases/.staging-3/log", target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = 0;
	assert_string_equal(target, "../../shared/log");
	n = readlinkat(rootfd, "releases/.staging-3/data/uploads", target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = 0;
	assert_string_equal(target, "../../../shared/data/uploads");
	/* The links resolve once the release has its final name. */
	assert_int_equal(renameat(rootfd, "releases/.staging-3", rootfd, "releases/3"), 0);
	assert_int_equal(faccessat(rootfd, "releases/3/data/uploads", W_OK, 0), 0);
	assert_int_equal(faccessat(rootfd, "shared/data/uploads", W_OK, 0), 0);
}

static void
test_shared_dir_through_a_release_symlink_is_refused(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	char *dirs[] = {"var/log", NULL};

	/* A release shipping var -> . would aim the link outside Root. */
	mkrelease(".staging-4");
	assert_int_equal(symlinkat(".", rootfd, "releases/.staging-4/var"), 0);
	assert_int_equal(layout_link_shared(rootfd, ".staging-4", dirs, &err), -EPERM);
	assert_non_null(strstr(err.msg, "shared dir 'var/log': 'var' in the release is a symlink"));
	assert_int_equal(
	        faccessat(rootfd, "releases/.staging-4/log", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}

static void
test_removed_release_never_lingers_half_deleted(void **state)
{
	(void)state;
	_cleanup_strv_free_ char **v = NULL;

	mkrelease("1.0");
	assert_int_equal(mkdirat(rootfd, "releases/1.0/sub", 0755), 0);
	assert_int_equal(layout_remove_release(rootfd, "1.0"), 0);
	assert_false(layout_release_exists(rootfd, "1.0"));
	assert_int_equal(layout_remove_release(rootfd, "1.0"), 0);
	/* What a crash mid-delete leaves is a .trash- leftover, not a release. */
	mkrelease(".trash-2.0");
	assert_int_equal(layout_list_releases(rootfd, &v), 0);
	assert_int_equal(strv_length(v), 0);
	assert_int_equal(layout_remove_leftovers(rootfd), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_swap_points_current_at_the_release, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_current_that_is_not_ours_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_leftovers_are_removed_and_releases_listed_newest_first, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                test_prune_keeps_current_and_previous, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_shared_dirs_become_relative_links, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_shared_dir_through_a_release_symlink_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_removed_release_never_lingers_half_deleted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
