/*
 * hooks: runs a release's hook executables and short probe commands.
 *
 * A hook is an executable inside the release, at
 * <release_dir>/.rollwave/hooks/<name> (before_activate, after_activate,
 * validate, migrate, migrate_down). A missing hook is not an error: it is
 * simply not run. A hook that resolves outside the release (symlink escape),
 * is not a regular file or is not executable is refused.
 *
 * Every child runs in its own process group with stdin on /dev/null,
 * stdout+stderr captured through one pipe (kept up to HOOK_OUTPUT_MAX bytes,
 * the rest read and discarded), every other fd closed, signal mask and
 * dispositions reset, and a clean environment. On timeout the whole group
 * gets SIGTERM, then SIGKILL after the kill grace. When the hook itself
 * exits, whatever it left running in its process group is SIGKILLed: hooks
 * must not leave processes behind. The child is always reaped; no fd
 * survives a call.
 *
 * Library code: does not log. Not thread-safe with respect to other threads
 * that fork (fds are O_CLOEXEC, but a concurrent fork+exec elsewhere could
 * briefly hold the pipe's write end).
 */
#ifndef ROLLWAVE_AGENT_HOOKS_H
#define ROLLWAVE_AGENT_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Bytes of combined stdout+stderr kept per run; the rest is discarded. */
#define HOOK_OUTPUT_MAX ((size_t)64 * 1024)
/* Time between SIGTERM and SIGKILL for a hook that ran past its timeout. */
#define HOOK_KILL_GRACE_USEC (2 * USEC_PER_SEC)
/* Relative location of the hooks inside a release directory. */
#define HOOK_DIR ".rollwave/hooks"

/* What a hook is told about the deployment. NULL fields are passed as empty
 * strings. release_dir is also the hook's working directory. */
struct hook_env {
	const char *app;
	const char *version;
	const char *previous_version;
	const char *release_dir;
};

/* Outcome of one run. Owned by the caller; release with hook_result_done().
 * output is NUL-terminated (output_len excludes the NUL), NULL if the hook
 * did not run. */
struct hook_result {
	bool ran;               /* false: the hook does not exist, nothing ran */
	bool exited;            /* true: exit_status is valid */
	int exit_status;        /* exit code when exited */
	int term_signal;        /* signal that killed it, 0 if none */
	bool timed_out;         /* killed because it ran past its timeout */
	bool truncated;         /* output was longer than HOOK_OUTPUT_MAX */
	bool cancelled;         /* stopped because its cancel fd became readable */
	char *output;           /* combined stdout+stderr, at most HOOK_OUTPUT_MAX */
	size_t output_len;      /* bytes in output */
	uint64_t duration_usec; /* from fork to reap */
};

/* Frees r->output and zeroes r. Accepts NULL and zeroed results. */
void hook_result_done(struct hook_result *r);

/* Low-level runner shared by hooks and health's Exec= probes. */
struct hook_spawn_args {
	const char *what;         /* for messages, e.g. "hook 'validate'" */
	char *const *argv;        /* argv[0] is the absolute path executed */
	char *const *envp;        /* complete environment of the child */
	const char *cwd;          /* working directory, NULL: "/" */
	uint64_t timeout_usec;    /* > 0 */
	uint64_t kill_grace_usec; /* SIGTERM→SIGKILL; 0 means SIGKILL at once */
	/* NULL, or an fd (a pipe) that asks the run to stop: once it has
	 * bytes to read (FIONREAD; they are never read here), the child is
	 * stopped as on a timeout (SIGTERM to the group, SIGKILL after the
	 * grace) and the call returns -ECANCELED. End of file without bytes
	 * (the writer closed it), or an fd that is readable without any
	 * (/dev/null), stops nothing and is not watched any more. */
	const int *cancel_fd;
};

/* Runs a->argv and waits for it. Blocks at most about
 * timeout + kill_grace + 250 ms.
 * Returns 0 if it exited with status 0; -EPROTO if it exited non-zero or was
 * killed by a signal; -ETIMEDOUT if it ran past its timeout (killed);
 * -ECANCELED if a->cancel_fd asked it to stop (killed); -errno (with err
 * set) if it could not be started (e.g. exec failed: the errno of execve).
 * *ret is written (zero-initialised first) whenever the child was started,
 * i.e. for 0, -EPROTO, -ETIMEDOUT and -ECANCELED; it is untouched on other
 * errors. */
int hook_spawn(const struct hook_spawn_args *a, struct hook_result *ret, struct rw_err *err);

/* true if name is a plausible hook name: [A-Za-z0-9_-]{1,64}. */
bool hook_name_is_valid(const char *name);

/* Runs hook `name` of the release at release_dir (absolute path) with the
 * ROLLWAVE_APP, ROLLWAVE_VERSION, ROLLWAVE_PREVIOUS_VERSION,
 * ROLLWAVE_RELEASE_DIR and a fixed PATH in its environment, with cwd =
 * release_dir, and waits at most timeout_usec (+ HOOK_KILL_GRACE_USEC).
 * Returns:
 *   0           hook exited 0, or does not exist (ret->ran == false);
 *   -EPROTO     hook exited non-zero or died of a signal
 *               ("hook 'before_activate' exited with status 3");
 *   -ETIMEDOUT  hook ran past timeout_usec and was killed with its group;
 *   -EPERM      hook refused: symlink resolving outside the release, not a
 *               regular file, or not executable;
 *   other -errno with err set (bad name, release_dir unusable, fork/exec).
 * *ret is written for 0, -EPROTO and -ETIMEDOUT (output included, for the
 * caller to log and report), untouched otherwise. */
int hook_run(const char *release_dir, const char *name, const struct hook_env *env,
        uint64_t timeout_usec, struct hook_result *ret, struct rw_err *err);

/* hook_run() with an explicit SIGTERM→SIGKILL grace (0: SIGKILL at once),
 * for callers with a hard time budget such as health probes. */
int hook_run_full(const char *release_dir, const char *name, const struct hook_env *env,
        uint64_t timeout_usec, uint64_t kill_grace_usec, struct hook_result *ret,
        struct rw_err *err);

/* hook_run() that also stops the hook when cancel_fd has data to read
 * (hook_spawn_args.cancel_fd): returns -ECANCELED then, with *ret written
 * and ret->cancelled set. cancel_fd < 0: same as hook_run(). */
int hook_run_cancellable(const char *release_dir, const char *name, const struct hook_env *env,
        uint64_t timeout_usec, int cancel_fd, struct hook_result *ret, struct rw_err *err);

/* How a run ended, for reports: "exited with status 0", "was killed by
 * signal SIGKILL", "timed out and was killed", "was stopped (cancelled)";
 * "did not run" for a hook that does not exist. */
void hook_result_describe(const struct hook_result *r, char *buf, size_t size);

#endif
