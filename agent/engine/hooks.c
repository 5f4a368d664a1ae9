/*
 * hooks: runs release hooks and probe commands in a controlled child.
 *
 * One run is a small state machine driven by poll():
 *
 *   RUNNING --timeout--> TERMINATING (SIGTERM to the group)
 *      |                      |--grace--> KILLING (SIGKILL to the group)
 *      +--exit--+-------------+----exit------+
 *               v
 *   EXITED: SIGKILL to what is left of the group (the zombie still pins the
 *   pgid, so the kill cannot hit a recycled group), reap, then drain the
 *   output pipe until EOF or DRAIN_USEC.
 *
 * Exit is noticed through a pidfd when the kernel has one, else by polling
 * waitid(WNOWAIT) every POLL_SLICE_MSEC. An exec failure is reported by the
 * child through a CLOEXEC pipe, so "could not start" differs from "exited
 * 127".
 */
#include "hooks.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define DRAIN_USEC      (200 * USEC_PER_MSEC)
#define POLL_SLICE_MSEC 50
#define HOOK_PATH_ENV   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void
hook_result_done(struct hook_result *r)
{
	if (!r)
		return;
	free(r->output);
	memset(r, 0, sizeof(*r));
}

static void
format_usec(char *buf, size_t size, uint64_t usec)
{
	if (usec % USEC_PER_SEC == 0)
		snprintf(buf, size, "%" PRIu64 "s", usec / USEC_PER_SEC);
	else
		snprintf(buf, size, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static _noreturn_ void
child_exec(const struct hook_spawn_args *a, int null_fd, int out_fd, int errpipe_fd)
{
	int n, o, e, r;
	sigset_t all;

	/* Move everything above 2 first so that dup2 onto 0..3 cannot clobber
	 * a source that happens to sit there. */
	n = fcntl(null_fd, F_DUPFD_CLOEXEC, 10);
	o = fcntl(out_fd, F_DUPFD_CLOEXEC, 10);
	e = fcntl(errpipe_fd, F_DUPFD_CLOEXEC, 10);
	if (n < 0 || o < 0 || e < 0)
		_exit(127);
	if (dup2(n, STDIN_FILENO) < 0 || dup2(o, STDOUT_FILENO) < 0 || dup2(o, STDERR_FILENO) < 0)
		goto fail;
	if (dup3(e, 3, O_CLOEXEC) < 0)
		_exit(127);
	e = 3;
	if (close_range(4, ~0U, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		if (max < 0 || max > 65536)
			max = 65536;
		for (int fd = 4; fd < max; fd++)
			close(fd);
	}

	(void)setpgid(0, 0);
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa = {.sa_handler = SIG_DFL};
		(void)sigaction(sig, &sa, NULL);
	}
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);

	if (chdir(a->cwd ? a->cwd : "/") < 0)
		goto fail;
	execve(a->argv[0], a->argv, a->envp);
fail:
	r = errno;
	if (write(e, &r, sizeof(r)) < 0) {
		/* nothing left to tell anyone */
	}
	_exit(127);
}

struct run {
	pid_t pid;
	int out_fd, errpipe_fd, pidfd;
	int cancel_fd; /* -1: not watched (none, or its writer is gone) */
	char *buf;
	size_t len;
	bool truncated;
	int exec_errno;
};

static void
run_read_output(struct run *run)
{
	char chunk[8192];

	for (;;) {
		ssize_t k = read(run->out_fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0 || errno != EAGAIN) {
				close(run->out_fd);
				run->out_fd = -1;
			}
			return;
		}
		size_t room = HOOK_OUTPUT_MAX - run->len;
		size_t take = (size_t)k < room ? (size_t)k : room;
		memcpy(run->buf + run->len, chunk, take);
		run->len += take;
		if (take < (size_t)k)
			run->truncated = true;
	}
}

static void
run_read_errpipe(struct run *run)
{
	int e;
	ssize_t k;

	do
		k = read(run->errpipe_fd, &e, sizeof(e));
	while (k < 0 && errno == EINTR);
	if (k == (ssize_t)sizeof(e))
		run->exec_errno = e > 0 ? e : EIO;
	close(run->errpipe_fd);
	run->errpipe_fd = -1;
}

static bool
run_child_exited(const struct run *run)
{
	siginfo_t si = {0};

	if (waitid(P_PID, (id_t)run->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD; /* someone else reaped it: treat as gone */
	return si.si_pid == run->pid;
}

static int
msec_until(uint64_t t, uint64_t now)
{
	uint64_t d = t > now ? t - now : 0;
	uint64_t ms = (d + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

enum run_phase { RUNNING, TERMINATING, KILLING };

/* Past the deadline, or cancelled: SIGTERM to the group, SIGKILL once the
 * grace is over (at once without one). */
static void
run_escalate(struct run *run, const struct hook_spawn_args *a, uint64_t now, uint64_t deadline,
        bool cancelled, enum run_phase *phase, uint64_t *kill_at, bool *timed_out)
{
	if (*phase == RUNNING && (now >= deadline || cancelled)) {
		if (!cancelled)
			*timed_out = true;
		if (a->kill_grace_usec > 0) {
			(void)kill(-run->pid, SIGTERM);
			*phase = TERMINATING;
			*kill_at = now + a->kill_grace_usec;
		} else {
			(void)kill(-run->pid, SIGKILL);
			*phase = KILLING;
		}
	}
	if (*phase == TERMINATING && now >= *kill_at) {
		(void)kill(-run->pid, SIGKILL);
		*phase = KILLING;
	}
}

/* How long to poll while the child is not reaped: until the next step of
 * phase, in slices while no pidfd tells its exit. */
static int
run_timeout_ms(const struct run *run, enum run_phase phase, bool exited, uint64_t now,
        uint64_t deadline, uint64_t kill_at)
{
	int timeout_ms;

	if (phase == RUNNING)
		timeout_ms = msec_until(deadline, now);
	else if (phase == TERMINATING)
		timeout_ms = msec_until(kill_at, now);
	else
		timeout_ms = POLL_SLICE_MSEC;
	if (!exited && run->pidfd < 0 && timeout_ms > POLL_SLICE_MSEC)
		timeout_ms = POLL_SLICE_MSEC;
	return timeout_ms;
}

/* The cancel fd is readable (revents). */
static void
run_read_cancel(struct run *run, short revents, bool *cancelled)
{
	int n = 0;

	/* Bytes waiting are a request (acted on at the top of the loop);
	 * readable without any (end of file, /dev/null) is none, and would
	 * stay readable: stop watching. */
	if ((revents & POLLIN) && ioctl(run->cancel_fd, FIONREAD, &n) == 0 && n > 0)
		*cancelled = true;
	else
		run->cancel_fd = -1;
}

/* Waits for the child, enforcing the timeout and the cancel fd; reaps it.
 * Returns the wait status; sets *timed_out or *cancelled. Never fails: a
 * poll error degrades to sleeping in slices. */
static int
run_wait(struct run *run, const struct hook_spawn_args *a, uint64_t start, bool *timed_out,
        bool *cancelled)
{
	enum run_phase phase = RUNNING;
	uint64_t deadline = start + a->timeout_usec, kill_at = 0, drain_until = 0;
	bool exited = false, reaped = false;
	int status = 0;

	for (;;) {
		struct pollfd p[4];
		int np = 0, i_out = -1, i_err = -1, i_pid = -1, i_cancel = -1, timeout_ms;
		uint64_t now = now_monotonic_usec();

		if (!exited && (run->pidfd < 0 ? run_child_exited(run) : false))
			exited = true;
		if (exited && !reaped) {
			/* Stragglers of the group die with it; the zombie keeps the
			 * pgid ours until it is reaped just below. */
			(void)kill(-run->pid, SIGKILL);
			while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR)
				;
			reaped = true;
			drain_until = now + DRAIN_USEC;
		}
		if (reaped && (run->out_fd < 0 || now >= drain_until))
			break;

		if (!exited)
			run_escalate(
			        run, a, now, deadline, *cancelled, &phase, &kill_at, timed_out);

		if (run->out_fd >= 0) {
			i_out = np;
			p[np++] = (struct pollfd) {.fd = run->out_fd, .events = POLLIN};
		}
		if (run->errpipe_fd >= 0) {
			i_err = np;
			p[np++] = (struct pollfd) {.fd = run->errpipe_fd, .events = POLLIN};
		}
		if (!exited && run->pidfd >= 0) {
			i_pid = np;
			p[np++] = (struct pollfd) {.fd = run->pidfd, .events = POLLIN};
		}
		if (!exited && phase == RUNNING && run->cancel_fd >= 0) {
			i_cancel = np;
			p[np++] = (struct pollfd) {.fd = run->cancel_fd, .events = POLLIN};
		}

		if (reaped)
			timeout_ms = msec_until(drain_until, now);
		else
			timeout_ms = run_timeout_ms(run, phase, exited, now, deadline, kill_at);

		int k = poll(p, (nfds_t)np, timeout_ms);
		if (k < 0) {
			if (errno != EINTR)
				(void)poll(NULL, 0, POLL_SLICE_MSEC);
			continue;
		}
		if (i_out >= 0 && p[i_out].revents)
			run_read_output(run);
		if (i_err >= 0 && p[i_err].revents)
			run_read_errpipe(run);
		if (i_pid >= 0 && p[i_pid].revents)
			exited = true;
		if (i_cancel >= 0 && p[i_cancel].revents)
			run_read_cancel(run, p[i_cancel].revents, cancelled);
	}
	return status;
}

/* The hook_result of a finished run (it takes *buf) and what it says as
 * an error. */
static int
run_result(const struct run *run, const struct hook_spawn_args *a, const char *what, int status,
        bool timed_out, bool cancelled, uint64_t start, char **buf, struct hook_result *ret,
        struct rw_err *err)
{
	char dur[32];

	(*buf)[run->len] = 0;
	*ret = (struct hook_result) {
	        .ran = true,
	        .timed_out = timed_out,
	        .cancelled = cancelled,
	        .truncated = run->truncated,
	        .output = TAKE_PTR(*buf),
	        .output_len = run->len,
	        .duration_usec = now_monotonic_usec() - start,
	};
	if (WIFEXITED(status)) {
		ret->exited = true;
		ret->exit_status = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status))
		ret->term_signal = WTERMSIG(status);

	if (cancelled)
		return rw_err_set(
		        err, -ECANCELED, "%s was stopped: the operation was cancelled", what);
	if (timed_out) {
		format_usec(dur, sizeof(dur), a->timeout_usec);
		return rw_err_set(
		        err, -ETIMEDOUT, "%s timed out after %s and was killed", what, dur);
	}
	if (ret->term_signal) {
		const char *sig = sigabbrev_np(ret->term_signal);
		return rw_err_set(
		        err, -EPROTO, "%s was killed by signal SIG%s", what, sig ? sig : "?");
	}
	if (ret->exit_status != 0)
		return rw_err_set(err, -EPROTO, "%s exited with status %d", what, ret->exit_status);
	return 0;
}

int
hook_spawn(const struct hook_spawn_args *a, struct hook_result *ret, struct rw_err *err)
{
	_cleanup_close_ int null_fd = -1, out_r = -1, out_w = -1, ep_r = -1, ep_w = -1, pidfd = -1;
	_cleanup_free_ char *buf = NULL;
	int pfd[2], status;
	bool timed_out = false, cancelled = false;
	uint64_t start;
	pid_t pid;

	if (!a || !a->argv || !a->argv[0] || a->argv[0][0] != '/' || !a->envp ||
	        a->timeout_usec == 0)
		return rw_err_set(err, -EINVAL, "invalid arguments for running a command");
	const char *what = a->what ? a->what : a->argv[0];

	buf = malloc(HOOK_OUTPUT_MAX + 1);
	if (!buf)
		return rw_err_set(err, -ENOMEM, "out of memory");
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		return rw_err_set(err, -errno, "cannot open /dev/null: %m");
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return rw_err_set(err, -errno, "cannot create pipe: %m");
	out_r = pfd[0];
	out_w = pfd[1];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return rw_err_set(err, -errno, "cannot create pipe: %m");
	ep_r = pfd[0];
	ep_w = pfd[1];
	if (fcntl(out_r, F_SETFL, O_NONBLOCK) < 0)
		return rw_err_set(err, -errno, "cannot set pipe non-blocking: %m");

	start = now_monotonic_usec();
	pid = fork();
	if (pid < 0)
		return rw_err_set(err, -errno, "cannot fork for %s: %m", what);
	if (pid == 0)
		child_exec(a, null_fd, out_w, ep_w);

	/* Also from the parent, so that a kill(-pid) right away already hits
	 * the group. EACCES once the child has exec'd is fine. */
	(void)setpgid(pid, pid);
	closep(&out_w);
	out_w = -1;
	closep(&ep_w);
	ep_w = -1;
	closep(&null_fd);
	null_fd = -1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	struct run run = {
	        .pid = pid,
	        .out_fd = TAKE_FD(out_r),
	        .errpipe_fd = TAKE_FD(ep_r),
	        .pidfd = pidfd,
	        .cancel_fd = a->cancel_fd ? *a->cancel_fd : -1,
	        .buf = buf,
	};
	status = run_wait(&run, a, start, &timed_out, &cancelled);
	if (run.out_fd >= 0)
		close(run.out_fd);
	if (run.errpipe_fd >= 0)
		close(run.errpipe_fd);

	if (run.exec_errno) {
		errno = run.exec_errno;
		return rw_err_set(err, -run.exec_errno, "cannot execute %s: %m", what);
	}

	return run_result(&run, a, what, status, timed_out, cancelled, start, &buf, ret, err);
}

bool
hook_name_is_valid(const char *name)
{
	size_t n;

	if (isempty(name))
		return false;
	n = strlen(name);
	if (n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		            c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Resolves the hook and checks that it may run. 0 with *ret_path set, 1 if
 * the hook does not exist, -errno otherwise. */
static int
hook_resolve(const char *release_dir, const char *name, char **ret_path, struct rw_err *err)
{
	_cleanup_free_ char *release_real = NULL, *hook_real = NULL;
	char path[PATH_MAX];
	struct stat st;
	size_t n;
	int r;

	r = xsnprintf(path, sizeof(path), "%s/" HOOK_DIR "/%s", release_dir, name);
	if (r < 0)
		return rw_err_set(err, r, "release path '%s' is too long", release_dir);
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 1;
		return rw_err_set(err, -errno, "cannot inspect hook '%s': %m", name);
	}
	release_real = realpath(release_dir, NULL);
	if (!release_real)
		return rw_err_set(
		        err, -errno, "cannot resolve release directory '%s': %m", release_dir);
	hook_real = realpath(path, NULL);
	if (!hook_real) {
		if (errno == ENOENT)
			return rw_err_set(err, -EPERM,
			        "refusing hook '%s': it is a symlink to a missing file", name);
		return rw_err_set(err, -errno, "cannot resolve hook '%s': %m", name);
	}
	n = strlen(release_real);
	if (strncmp(hook_real, release_real, n) != 0 ||
	        (hook_real[n] != '/' && !streq(release_real, "/")))
		return rw_err_set(err, -EPERM,
		        "refusing hook '%s': it resolves to '%s', outside the release", name,
		        hook_real);
	if (stat(hook_real, &st) < 0)
		return rw_err_set(err, -errno, "cannot inspect hook '%s': %m", name);
	if (!S_ISREG(st.st_mode))
		return rw_err_set(err, -EPERM, "refusing hook '%s': not a regular file", name);
	if ((st.st_mode & 0111) == 0 || access(hook_real, X_OK) < 0)
		return rw_err_set(err, -EPERM, "refusing hook '%s': not executable (mode %04o)",
		        name, (unsigned)(st.st_mode & 07777));
	*ret_path = TAKE_PTR(hook_real);
	return 0;
}

static void
envp_free(char **v)
{
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
}

static int hook_run_impl(const char *release_dir, const char *name, const struct hook_env *env,
        uint64_t timeout_usec, uint64_t kill_grace_usec, const int *cancel_fd,
        struct hook_result *ret, struct rw_err *err);

int
hook_run(const char *release_dir, const char *name, const struct hook_env *env,
        uint64_t timeout_usec, struct hook_result *ret, struct rw_err *err)
{
	return hook_run_impl(
	        release_dir, name, env, timeout_usec, HOOK_KILL_GRACE_USEC, NULL, ret, err);
}

int
hook_run_full(const char *release_dir, const char *name, const struct hook_env *env,
        uint64_t timeout_usec, uint64_t kill_grace_usec, struct hook_result *ret,
        struct rw_err *err)
{
	return hook_run_impl(release_dir, name, env, timeout_usec, kill_grace_usec, NULL, ret, err);
}

int
hook_run_cancellable(const char *release_dir, const char *name, const struct hook_env *env,
        uint64_t timeout_usec, int cancel_fd, struct hook_result *ret, struct rw_err *err)
{
	return hook_run_impl(release_dir, name, env, timeout_usec, HOOK_KILL_GRACE_USEC,
	        cancel_fd >= 0 ? &cancel_fd : NULL, ret, err);
}

void
hook_result_describe(const struct hook_result *r, char *buf, size_t size)
{
	const char *sig;

	if (!r->ran)
		strbuf_printf(buf, size, "did not run");
	else if (r->cancelled)
		strbuf_printf(buf, size, "was stopped (cancelled)");
	else if (r->timed_out)
		strbuf_printf(buf, size, "timed out and was killed");
	else if (r->term_signal) {
		sig = sigabbrev_np(r->term_signal);
		strbuf_printf(buf, size, "was killed by signal SIG%s", sig ? sig : "?");
	} else
		strbuf_printf(buf, size, "exited with status %d", r->exit_status);
}

static int
hook_run_impl(const char *release_dir, const char *name, const struct hook_env *env,
        uint64_t timeout_usec, uint64_t kill_grace_usec, const int *cancel_fd,
        struct hook_result *ret, struct rw_err *err)
{
	_cleanup_free_ char *path = NULL;
	char *envp[6] = {NULL};
	char what[96];
	int r;

	if (!hook_name_is_valid(name))
		return rw_err_set(err, -EINVAL, "invalid hook name '%s'", name ? name : "");
	if (isempty(release_dir) || release_dir[0] != '/')
		return rw_err_set(err, -EINVAL, "release directory '%s' is not an absolute path",
		        release_dir ? release_dir : "");
	if (timeout_usec == 0)
		return rw_err_set(err, -EINVAL, "hook '%s' needs a timeout", name);

	r = hook_resolve(release_dir, name, &path, err);
	if (r < 0)
		return r;
	if (r > 0) {
		*ret = (struct hook_result) {.ran = false};
		return 0;
	}

	const char *rdir = env && !isempty(env->release_dir) ? env->release_dir : release_dir;
#define E(s) ((s) ? (s) : "")
	if (asprintf(&envp[0], "ROLLWAVE_APP=%s", E(env ? env->app : NULL)) < 0)
		envp[0] = NULL;
	if (asprintf(&envp[1], "ROLLWAVE_VERSION=%s", E(env ? env->version : NULL)) < 0)
		envp[1] = NULL;
	if (asprintf(&envp[2], "ROLLWAVE_PREVIOUS_VERSION=%s",
	            E(env ? env->previous_version : NULL)) < 0)
		envp[2] = NULL;
	if (asprintf(&envp[3], "ROLLWAVE_RELEASE_DIR=%s", rdir) < 0)
		envp[3] = NULL;
#undef E
	envp[4] = strdup(HOOK_PATH_ENV);
	for (size_t i = 0; i < 5; i++)
		if (!envp[i]) {
			for (size_t j = 0; j < 5; j++)
				free(envp[j]);
			return rw_err_set(err, -ENOMEM, "out of memory");
		}

	snprintf(what, sizeof(what), "hook '%s'", name);
	char *argv[] = {path, NULL};
	struct hook_spawn_args a = {
	        .what = what,
	        .argv = argv,
	        .envp = envp,
	        .cwd = release_dir,
	        .timeout_usec = timeout_usec,
	        .kill_grace_usec = kill_grace_usec,
	        .cancel_fd = cancel_fd,
	};
	r = hook_spawn(&a, ret, err);
	envp_free(envp);
	return r;
}
