/*
 * worker: a coordinator command (deploy or rollback) run by a child
 * process, `rollwave-agent worker ...`, instead of inside the daemon.
 *
 * Why a process: the release engine needs libcurl, libarchive and libcrypto,
 * and merely mapping them (with their own dependencies: GnuTLS, Kerberos,
 * LDAP, libssh2, libxml2, ICU, libstdc++, ...) cost an idle daemon about
 * 7.5 of its 15 MiB resident (bench/bench_agent_rss.sh). The resident daemon (rollwave-agentd) links none of them; each
 * command runs in a `rollwave-agent` child that exits when it is done, so
 * the daemon is back to its idle size after every deploy. The child does
 * what the worker thread did: engine_open(), engine_deploy() or
 * engine_rollback(), engine_close(). A child that dies without a result
 * (killed mid-step) leaves the engine's journal behind, as a killed agent
 * does: the daemon then runs engine_recover() for that app in another
 * child (WORKER_RECOVER), as `rollwave-agent run` does at start.
 *
 * The child tells the daemon what happens by writing lines to its stdout, a
 * pipe to the daemon (anything else the engine prints goes to stderr):
 *
 *   phase N NAME VERSION          a phase starts (N: Rollwave__Phase FETCHING..HEALTH)
 *   result N VERSION MESSAGE      the outcome (N: COMMITTED, ROLLED_BACK or FAILED;
 *                                 COMMITTED also for "nothing to do")
 *
 * VERSION is the release the engine works on, or "-" while it does not know
 * it; NAME is the engine's name of the phase (for logs); MESSAGE is the rest
 * of the line, control characters replaced by spaces. A child that exits
 * without a result line failed (worker_exit_message() says how).
 *
 * Signals: the child starts with SIGTERM and SIGINT blocked, as the worker
 * thread was, so that only the daemon decides when to stop (it waits for a
 * running command); it is killed (SIGKILL) when the daemon dies, as the
 * thread died with it, and the engine's journal makes the next start's
 * recovery finish its operation.
 *
 * Library code: nothing here logs. The daemon side (spawn, read, parse)
 * does not use the engine, so rollwave-agentd links without it.
 */
#ifndef ROLLWAVE_AGENT_WORKER_H
#define ROLLWAVE_AGENT_WORKER_H

#include <sys/types.h>

#include "config.h"
#include "wire.h"

#define WORKER_MESSAGE_MAX    1023 /* engine_result.message without its NUL */
#define WORKER_PHASE_NAME_MAX 31
/* "result 99 " + version + " " + message + "\n" fits. */
#define WORKER_LINE_MAX (16 + VERSION_MAX + WORKER_MESSAGE_MAX)

enum worker_op {
	WORKER_DEPLOY,
	WORKER_ROLLBACK,
	WORKER_RECOVER,
	_WORKER_OP_MAX,
};

struct worker_request {
	enum worker_op op;
	const char *app;
	const char *manifest_url;   /* DEPLOY */
	const char *expect_version; /* DEPLOY: the version the manifest must name */
	const char *to_version;     /* ROLLBACK: "" for the previous release */
};

/* "deploy", "rollback", "recover": the word on the worker's command line. */
const char *worker_op_to_string(enum worker_op op);
int worker_op_from_string(const char *s, enum worker_op *ret);

/* Starts `agent_path [--config=config_path] worker ...` for req with stdin
 * on /dev/null, stdout on a pipe and stderr inherited, SIGTERM and SIGINT
 * blocked and SIGCHLD not. The child is told this process's pid, to check
 * that it is still its child once it asked to be killed with it. Returns
 * the child's pid and the pipe's read end (non-blocking, close-on-exec; the
 * caller closes it). posix_spawn(): safe while other threads (nng's) run. */
int worker_spawn(const char *agent_path, const char *config_path, const struct worker_request *req,
        pid_t *ret_pid, int *ret_fd, struct rw_err *err);

/* The child side: write one line to fd. version may be NULL or "". -EIO (or
 * -errno) if the daemon is gone. */
int worker_emit_phase(int fd, Rollwave__Phase phase, const char *name, const char *version);
int worker_emit_result(int fd, Rollwave__Phase phase, const char *version, const char *message);

enum worker_line_kind {
	WORKER_LINE_PHASE,
	WORKER_LINE_RESULT,
};

struct worker_line {
	enum worker_line_kind kind;
	Rollwave__Phase phase;
	char name[WORKER_PHASE_NAME_MAX + 1]; /* PHASE only */
	char version[VERSION_MAX + 1];        /* "" for "-"; else version_is_valid() */
	char message[WORKER_MESSAGE_MAX + 1]; /* RESULT only; printable text */
};

/* Parses one line (without its newline). -EBADMSG if it is not one of the
 * two forms above with values in bounds. */
int worker_line_parse(const char *line, struct worker_line *ret);

/* Line assembly over the non-blocking pipe. */
struct worker_reader {
	char buf[WORKER_LINE_MAX + 1];
	size_t len;
	bool overlong; /* skipping the rest of a line longer than WORKER_LINE_MAX */
	unsigned bad;  /* lines that did not parse (or were too long) */
};

typedef void (*worker_line_cb)(void *userdata, const struct worker_line *line);

/* Reads what fd has now and calls cb for each complete, valid line. Returns
 * 0 when the pipe is drained for now, 1 at end of file (a last line without
 * a newline is taken), -errno on a read error. */
int worker_read(int fd, struct worker_reader *rd, worker_line_cb cb, void *userdata);

/* "exited with status 1", "was killed by signal 9 (Killed)": for the report
 * of a child that ended without a result line. code and status as in
 * siginfo_t (si_code, si_status). */
void worker_exit_message(int code, int status, char *buf, size_t size);

#endif
