/*
 * test_hooks: release hooks run as real child processes from real files in
 * a scratch release directory. The test process is a child subreaper, so
 * whatever a hook forks ends up as our child once the hook is gone and we
 * can check that it was killed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hooks.h"
#include "util.h"

struct fixture {
	char root[64];    /* scratch dir holding the release and "outside" */
	char release[96]; /* <root>/releases/1.0 */
};

static void
mkdir_or_fail(const char *path)
{
	assert_int_equal(mkdir(path, 0755), 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char p[256];

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/rw-test-hooks-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(p, sizeof(p), "%s/releases", f->root);
	mkdir_or_fail(p);
	snprintf(f->release, sizeof(f->release), "%s/releases/1.0", f->root);
	mkdir_or_fail(f->release);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
make_hooks_dir(const struct fixture *f)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/.rollwave", f->release);
	(void)mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/.rollwave/hooks", f->release);
	(void)mkdir(p, 0755);
}

static void
write_hook(const struct fixture *f, const char *name, const char *body, mode_t mode)
{
	char p[256];
	FILE *fp;

	make_hooks_dir(f);
	snprintf(p, sizeof(p), "%s/.rollwave/hooks/%s", f->release, name);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fprintf(fp, "#!/bin/sh\n%s\n", body);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static const struct hook_env env = {
        .app = "web",
        .version = "1.0",
        .previous_version = "0.9",
        .release_dir = NULL, /* hook_run falls back to its release_dir argument */
};

static pid_t
read_pid_file(const char *path)
{
	char *buf = NULL;
	size_t len;
	long v;

	assert_int_equal(read_full_file(path, 64, false, &buf, &len), 0);
	v = strtol(buf, NULL, 10);
	free(buf);
	assert_true(v > 1);
	return (pid_t)v;
}

/* The process must be dead: reaped by us (we are its subreaper) within 3 s. */
static void
assert_process_killed(pid_t pid)
{
	uint64_t until = now_monotonic_usec() + 3 * USEC_PER_SEC;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			assert_true(WIFSIGNALED(status));
			return;
		}
		if (r < 0) {
			/* Not our child: it must at least be gone. */
			assert_int_equal(errno, ECHILD);
			assert_int_equal(kill(pid, 0), -1);
			return;
		}
		assert_true(now_monotonic_usec() < until);
		usleep(10000);
	}
}

static int
count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_missing_hook_is_skipped(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {.ran = true};
	struct rw_err err = {{0}};

	assert_int_equal(
	        hook_run(f->release, "before_activate", &env, USEC_PER_SEC, &res, &err), 0);
	assert_false(res.ran);
	assert_null(res.output);

	/* Hooks dir exists, this hook does not. */
	write_hook(f, "after_activate", "exit 0", 0755);
	res.ran = true;
	assert_int_equal(
	        hook_run(f->release, "before_activate", &env, USEC_PER_SEC, &res, &err), 0);
	assert_false(res.ran);
	hook_result_done(&res);
}

static void
test_env_vars_cwd_and_stdin_are_set_up(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	char want[256];
	int leak_fd;

	/* A non-CLOEXEC fd of ours and a variable of ours must not reach it. */
	leak_fd = open("/dev/null", O_RDONLY);
	assert_true(leak_fd > 2);
	setenv("RW_TEST_SECRET", "hunter2", 1);
	char body[512];
	snprintf(body, sizeof(body),
	        "env | sort\n"
	        "echo \"cwd=$(pwd)\"\n"
	        "if read line; then echo stdin-had-data; else echo stdin-empty; fi\n"
	        "if [ -e /proc/$$/fd/%d ]; then echo fd-leaked; fi\n"
	        "echo to-stderr >&2\n",
	        leak_fd);
	write_hook(f, "before_activate", body, 0755);

	assert_int_equal(
	        hook_run(f->release, "before_activate", &env, 5 * USEC_PER_SEC, &res, &err), 0);
	unsetenv("RW_TEST_SECRET");
	close(leak_fd);

	assert_true(res.ran);
	assert_true(res.exited);
	assert_int_equal(res.exit_status, 0);
	assert_false(res.timed_out);
	assert_false(res.truncated);
	assert_non_null(strstr(res.output, "ROLLWAVE_APP=web\n"));
	assert_non_null(strstr(res.output, "ROLLWAVE_VERSION=1.0\n"));
	assert_non_null(strstr(res.output, "ROLLWAVE_PREVIOUS_VERSION=0.9\n"));
	snprintf(want, sizeof(want), "ROLLWAVE_RELEASE_DIR=%s\n", f->release);
	assert_non_null(strstr(res.output, want));
	assert_non_null(strstr(res.output, "PATH=/usr/local/sbin:"));
	snprintf(want, sizeof(want), "cwd=%s\n", f->release);
	assert_non_null(strstr(res.output, want));
	assert_non_null(strstr(res.output, "stdin-empty"));
	assert_non_null(strstr(res.output, "to-stderr"));
	assert_null(strstr(res.output, "RW_TEST_SECRET"));
	assert_null(strstr(res.output, "fd-leaked"));
	assert_int_equal(strlen(res.output), res.output_len);
	hook_result_done(&res);
}

static void
test_nonzero_exit_is_reported_with_output(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};

	write_hook(f, "before_activate", "echo 'database unreachable'\nexit 3", 0755);
	assert_int_equal(
	        hook_run(f->release, "before_activate", &env, 5 * USEC_PER_SEC, &res, &err),
	        -EPROTO);
	assert_string_equal(err.msg, "hook 'before_activate' exited with status 3");
	assert_true(res.ran);
	assert_true(res.exited);
	assert_int_equal(res.exit_status, 3);
	assert_string_equal(res.output, "database unreachable\n");
	hook_result_done(&res);
}

static void
test_death_by_signal_is_reported(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};

	write_hook(f, "validate", "kill -SEGV $$", 0755);
	assert_int_equal(
	        hook_run(f->release, "validate", &env, 5 * USEC_PER_SEC, &res, &err), -EPROTO);
	assert_string_equal(err.msg, "hook 'validate' was killed by signal SIGSEGV");
	assert_false(res.exited);
	assert_int_equal(res.term_signal, SIGSEGV);
	hook_result_done(&res);
}

static void
test_timeout_kills_the_hook_and_its_children(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	char pidfile[256], body[512];
	uint64_t t0, took;

	snprintf(pidfile, sizeof(pidfile), "%s/child.pid", f->root);
	snprintf(body, sizeof(body), "echo started\nsleep 1000 &\necho $! > '%s'\nsleep 1000\n",
	        pidfile);
	write_hook(f, "migrate", body, 0755);

	t0 = now_monotonic_usec();
	assert_int_equal(
	        hook_run(f->release, "migrate", &env, 300 * USEC_PER_MSEC, &res, &err), -ETIMEDOUT);
	took = now_monotonic_usec() - t0;
	assert_string_equal(err.msg, "hook 'migrate' timed out after 300ms and was killed");
	assert_true(res.timed_out);
	assert_int_equal(res.term_signal, SIGTERM);
	assert_string_equal(res.output, "started\n");
	assert_true(took >= 300 * USEC_PER_MSEC);
	assert_true(took < 300 * USEC_PER_MSEC + USEC_PER_SEC);
	assert_process_killed(read_pid_file(pidfile));
	hook_result_done(&res);
}

/* Writes one byte into fd after delay_usec, from a child process. */
static pid_t
write_later(int fd, uint64_t delay_usec)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		usleep((useconds_t)delay_usec);
		_exit(write(fd, "c", 1) == 1 ? 0 : 1);
	}
	return pid;
}

static void
test_cancel_fd_stops_the_hook_and_its_children(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	char pidfile[256], body[512], how[64];
	int p[2], status;
	uint64_t t0, took;
	pid_t writer;

	snprintf(pidfile, sizeof(pidfile), "%s/child.pid", f->root);
	snprintf(body, sizeof(body), "echo started\nsleep 1000 &\necho $! > '%s'\nsleep 1000\n",
	        pidfile);
	write_hook(f, "before_activate", body, 0755);
	assert_int_equal(pipe(p), 0);
	writer = write_later(p[1], 300 * USEC_PER_MSEC);

	t0 = now_monotonic_usec();
	assert_int_equal(hook_run_cancellable(f->release, "before_activate", &env,
	                         60 * USEC_PER_SEC, p[0], &res, &err),
	        -ECANCELED);
	took = now_monotonic_usec() - t0;
	assert_string_equal(
	        err.msg, "hook 'before_activate' was stopped: the operation was cancelled");
	assert_true(res.ran);
	assert_true(res.cancelled);
	assert_false(res.timed_out);
	assert_int_equal(res.term_signal, SIGTERM);
	assert_string_equal(res.output, "started\n");
	assert_true(took >= 300 * USEC_PER_MSEC);
	assert_true(took < 300 * USEC_PER_MSEC + USEC_PER_SEC);
	assert_process_killed(read_pid_file(pidfile));
	hook_result_describe(&res, how, sizeof(how));
	assert_string_equal(how, "was stopped (cancelled)");
	/* The request is not consumed: whoever asked can still see it. */
	{
		char c;
		assert_int_equal(read(p[0], &c, 1), 1);
	}
	assert_int_equal(waitpid(writer, &status, 0), writer);
	hook_result_done(&res);
	close(p[0]);
	close(p[1]);
}

static void
test_cancel_fd_without_bytes_stops_nothing(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	int p[2], devnull;
	uint64_t t0;

	write_hook(f, "migrate", "sleep 0.3\necho done", 0755);
	/* A writer that went away: end of file, no request. */
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	t0 = now_monotonic_usec();
	assert_int_equal(hook_run_cancellable(
	                         f->release, "migrate", &env, 5 * USEC_PER_SEC, p[0], &res, &err),
	        0);
	assert_false(res.cancelled);
	assert_string_equal(res.output, "done\n");
	assert_true(now_monotonic_usec() - t0 < 2 * USEC_PER_SEC);
	hook_result_done(&res);
	close(p[0]);
	/* /dev/null is always readable, with nothing to read. */
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(devnull >= 0);
	assert_int_equal(hook_run_cancellable(f->release, "migrate", &env, 5 * USEC_PER_SEC,
	                         devnull, &res, &err),
	        0);
	assert_false(res.cancelled);
	hook_result_done(&res);
	close(devnull);
	/* -1: no cancel fd at all. */
	assert_int_equal(
	        hook_run_cancellable(f->release, "migrate", &env, 5 * USEC_PER_SEC, -1, &res, &err),
	        0);
	hook_result_done(&res);
}

static void
test_results_describe_how_a_hook_ended(void **state)
{
	struct hook_result r = {0};
	char how[64];

	(void)state;
	hook_result_describe(&r, how, sizeof(how));
	assert_string_equal(how, "did not run");
	r.ran = true;
	r.exited = true;
	r.exit_status = 3;
	hook_result_describe(&r, how, sizeof(how));
	assert_string_equal(how, "exited with status 3");
	r.exited = false;
	r.term_signal = SIGKILL;
	hook_result_describe(&r, how, sizeof(how));
	assert_string_equal(how, "was killed by signal SIGKILL");
	r.timed_out = true;
	hook_result_describe(&r, how, sizeof(how));
	assert_string_equal(how, "timed out and was killed");
}

static void
test_timeout_escalates_to_sigkill_when_sigterm_is_ignored(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	char pidfile[256], body[512];
	uint64_t t0, took;

	snprintf(pidfile, sizeof(pidfile), "%s/child.pid", f->root);
	snprintf(body, sizeof(body),
	        "trap '' TERM\nsh -c 'trap \"\" TERM; sleep 1000' &\necho $! > '%s'\n"
	        "while :; do sleep 1; done\n",
	        pidfile);
	write_hook(f, "migrate_down", body, 0755);

	t0 = now_monotonic_usec();
	assert_int_equal(
	        hook_run(f->release, "migrate_down", &env, 200 * USEC_PER_MSEC, &res, &err),
	        -ETIMEDOUT);
	took = now_monotonic_usec() - t0;
	assert_true(res.timed_out);
	assert_int_equal(res.term_signal, SIGKILL);
	assert_true(took >= 200 * USEC_PER_MSEC + HOOK_KILL_GRACE_USEC);
	assert_true(took < 200 * USEC_PER_MSEC + HOOK_KILL_GRACE_USEC + USEC_PER_SEC);
	assert_process_killed(read_pid_file(pidfile));
	hook_result_done(&res);
}

static void
test_processes_left_behind_are_killed_when_hook_exits(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	char pidfile[256], body[512];
	uint64_t t0;

	/* The background sleep holds the output pipe open: the run must not
	 * wait for it. */
	snprintf(pidfile, sizeof(pidfile), "%s/child.pid", f->root);
	snprintf(body, sizeof(body), "sleep 1000 &\necho $! > '%s'\necho done\nexit 0\n", pidfile);
	write_hook(f, "after_activate", body, 0755);

	t0 = now_monotonic_usec();
	assert_int_equal(
	        hook_run(f->release, "after_activate", &env, 10 * USEC_PER_SEC, &res, &err), 0);
	assert_true(now_monotonic_usec() - t0 < 2 * USEC_PER_SEC);
	assert_string_equal(res.output, "done\n");
	assert_process_killed(read_pid_file(pidfile));
	hook_result_done(&res);
}

static void
test_huge_output_is_truncated(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};

	/* 1 MiB of output, then a normal exit: the hook must not block on a
	 * full pipe, and only the first HOOK_OUTPUT_MAX bytes are kept. */
	write_hook(f, "before_activate", "head -c 1048576 /dev/zero | tr '\\0' x\nexit 0", 0755);
	assert_int_equal(
	        hook_run(f->release, "before_activate", &env, 10 * USEC_PER_SEC, &res, &err), 0);
	assert_true(res.truncated);
	assert_int_equal(res.output_len, HOOK_OUTPUT_MAX);
	assert_int_equal(strlen(res.output), HOOK_OUTPUT_MAX);
	assert_int_equal(res.output[0], 'x');
	assert_int_equal(res.output[HOOK_OUTPUT_MAX - 1], 'x');
	hook_result_done(&res);
}

static void
test_not_executable_hook_is_refused(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {.ran = true};
	struct rw_err err = {{0}};

	write_hook(f, "before_activate", "exit 0", 0644);
	assert_int_equal(
	        hook_run(f->release, "before_activate", &env, USEC_PER_SEC, &res, &err), -EPERM);
	assert_string_equal(err.msg, "refusing hook 'before_activate': not executable (mode 0644)");
	assert_true(res.ran); /* untouched */
}

static void
test_directory_hook_is_refused(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	char p[256];

	make_hooks_dir(f);
	snprintf(p, sizeof(p), "%s/.rollwave/hooks/validate", f->release);
	mkdir_or_fail(p);
	assert_int_equal(hook_run(f->release, "validate", &env, USEC_PER_SEC, &res, &err), -EPERM);
	assert_non_null(strstr(err.msg, "not a regular file"));
}

static void
test_symlink_escaping_the_release_is_refused(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	char p[256], outside[256], want[512];

	/* An executable outside the release, reached by a symlink. */
	snprintf(outside, sizeof(outside), "%s/evil", f->root);
	FILE *fp = fopen(outside, "w");
	assert_non_null(fp);
	fputs("#!/bin/sh\necho pwned\n", fp);
	fclose(fp);
	assert_int_equal(chmod(outside, 0755), 0);

	make_hooks_dir(f);
	snprintf(p, sizeof(p), "%s/.rollwave/hooks/before_activate", f->release);
	assert_int_equal(symlink("../../../../evil", p), 0);
	assert_int_equal(
	        hook_run(f->release, "before_activate", &env, USEC_PER_SEC, &res, &err), -EPERM);
	snprintf(want, sizeof(want),
	        "refusing hook 'before_activate': it resolves to '%s', outside the release",
	        outside);
	assert_string_equal(err.msg, want);

	/* Absolute symlink to a system binary: refused too. */
	snprintf(p, sizeof(p), "%s/.rollwave/hooks/after_activate", f->release);
	assert_int_equal(symlink("/bin/true", p), 0);
	assert_int_equal(
	        hook_run(f->release, "after_activate", &env, USEC_PER_SEC, &res, &err), -EPERM);
	assert_non_null(strstr(err.msg, "outside the release"));

	/* A dangling symlink is refused, not skipped. */
	snprintf(p, sizeof(p), "%s/.rollwave/hooks/validate", f->release);
	assert_int_equal(symlink("/nonexistent/hook", p), 0);
	assert_int_equal(hook_run(f->release, "validate", &env, USEC_PER_SEC, &res, &err), -EPERM);
	assert_non_null(strstr(err.msg, "missing file"));
}

static void
test_hooks_dir_symlinked_outside_is_refused(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	char p[256], outside[256];

	snprintf(outside, sizeof(outside), "%s/otherhooks", f->root);
	mkdir_or_fail(outside);
	snprintf(p, sizeof(p), "%s/otherhooks/before_activate", f->root);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("#!/bin/sh\nexit 0\n", fp);
	fclose(fp);
	assert_int_equal(chmod(p, 0755), 0);

	snprintf(p, sizeof(p), "%s/.rollwave", f->release);
	mkdir_or_fail(p);
	snprintf(p, sizeof(p), "%s/.rollwave/hooks", f->release);
	assert_int_equal(symlink(outside, p), 0);
	assert_int_equal(
	        hook_run(f->release, "before_activate", &env, USEC_PER_SEC, &res, &err), -EPERM);
	assert_non_null(strstr(err.msg, "outside the release"));
}

static void
test_symlink_inside_the_release_runs(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	char p[256];

	write_hook(f, "common", "echo shared-hook", 0755);
	snprintf(p, sizeof(p), "%s/.rollwave/hooks/after_activate", f->release);
	assert_int_equal(symlink("common", p), 0);
	assert_int_equal(
	        hook_run(f->release, "after_activate", &env, 5 * USEC_PER_SEC, &res, &err), 0);
	assert_true(res.ran);
	assert_string_equal(res.output, "shared-hook\n");
	hook_result_done(&res);
}

static void
test_invalid_arguments_are_rejected(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};

	assert_int_equal(hook_run(f->release, "../evil", &env, USEC_PER_SEC, &res, &err), -EINVAL);
	assert_int_equal(hook_run(f->release, "", &env, USEC_PER_SEC, &res, &err), -EINVAL);
	assert_int_equal(
	        hook_run("relative/dir", "validate", &env, USEC_PER_SEC, &res, &err), -EINVAL);
	assert_int_equal(hook_run(f->release, "validate", &env, 0, &res, &err), -EINVAL);
}

static void
test_exec_failure_is_an_error_not_an_exit_status(void **state)
{
	struct hook_result res = {.ran = false};
	struct rw_err err = {{0}};
	char *argv[] = {(char *)"/nonexistent/binary", NULL};
	char *envp[] = {NULL};
	struct hook_spawn_args a = {
	        .what = "command 'x'",
	        .argv = argv,
	        .envp = envp,
	        .timeout_usec = USEC_PER_SEC,
	};

	(void)state;
	assert_int_equal(hook_spawn(&a, &res, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "cannot execute command 'x'"));
	assert_false(res.ran);
}

static void
test_runs_leave_no_zombies_and_no_fds(void **state)
{
	struct fixture *f = *state;
	struct hook_result res = {0};
	struct rw_err err = {{0}};
	int before = count_open_fds();
	uint64_t until = now_monotonic_usec() + 3 * USEC_PER_SEC;

	/* Earlier tests' killed grandchildren were reparented to us (we are a
	 * subreaper): reap them first. They were all SIGKILLed, so this ends. */
	while (waitpid(-1, NULL, WNOHANG) >= 0) {
		assert_true(now_monotonic_usec() < until);
		usleep(10000);
	}
	assert_int_equal(errno, ECHILD);

	write_hook(f, "validate", "echo ok", 0755);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(
		        hook_run(f->release, "validate", &env, 5 * USEC_PER_SEC, &res, &err), 0);
		hook_result_done(&res);
	}
	write_hook(f, "validate", "exit 1", 0755);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(
		        hook_run(f->release, "validate", &env, 5 * USEC_PER_SEC, &res, &err),
		        -EPROTO);
		hook_result_done(&res);
	}
	assert_int_equal(count_open_fds(), before);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_missing_hook_is_skipped, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_env_vars_cwd_and_stdin_are_set_up, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_nonzero_exit_is_reported_with_output, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_death_by_signal_is_reported, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_timeout_kills_the_hook_and_its_children, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_timeout_escalates_to_sigkill_when_sigterm_is_ignored, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_processes_left_behind_are_killed_when_hook_exits, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_huge_output_is_truncated, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_cancel_fd_stops_the_hook_and_its_children, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_cancel_fd_without_bytes_stops_nothing, setup, teardown),
	        cmocka_unit_test(test_results_describe_how_a_hook_ended),
	        cmocka_unit_test_setup_teardown(
	                test_not_executable_hook_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_directory_hook_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_symlink_escaping_the_release_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_hooks_dir_symlinked_outside_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_symlink_inside_the_release_runs, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_invalid_arguments_are_rejected, setup, teardown),
	        cmocka_unit_test(test_exec_failure_is_an_error_not_an_exit_status),
	        cmocka_unit_test_setup_teardown(
	                test_runs_leave_no_zombies_and_no_fds, setup, teardown),
	};

	/* Orphans of our hooks become our children, so tests can see them die. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
