/*
 * worker: a coordinator command (deploy, rollback, migrate, migrate_down,
 * preflight) run by a child process, `rollwave-agent worker ...`, instead
 * of inside the daemon.
 *
 * Why a process: the release engine needs libcurl, libarchive and libcrypto,
 * and merely mapping them (with their own dependencies: GnuTLS, Kerberos,
 * LDAP, libssh2, libxml2, ICU, libstdc++, ...) cost an idle daemon about
 * 7.5 of its 15 MiB resident (bench/bench_agent_rss.sh). The resident daemon (rollwave-agentd) links none of them; each
 * command runs in a `rollwave-agent` child that exits when it is done, so
 * the daemon is back to its idle size after every deploy. The child does
 * what the worker thread did: engine_open(), engine_deploy() (or
 * engine_rollback(), engine_migrate(), ...), engine_close(). A child that dies without a result
 * (killed mid-step) leaves the engine's journal behind, as a killed agent
 * does: the daemon then runs engine_recover() for that app in another
 * child (WORKER_RECOVER), as `rollwave-agent run` does at start.
 *
 * The child tells the daemon what happens by writing lines to its stdout, a
 * pipe to the daemon (anything else the engine prints goes to stderr):
 *
 *   phase N NAME VERSION          a phase starts (N: Rollwave__Phase FETCHING..HEALTH,
 *                                 MIGRATING or CHECKING)
 *   output HEX                    hook output for the report: HEX is up to
 *                                 WORKER_OUTPUT_CHUNK bytes, hex-encoded; the
 *                                 daemon appends the chunks of a command in order
 *   absent                        the hook a migrate or migrate_down runs does not
 *                                 exist (PhaseReport.hook_absent)
 *   result N VERSION MESSAGE      the outcome (N: COMMITTED, ROLLED_BACK, FAILED or
 *                                 CANCELLED; COMMITTED also for "nothing to do")
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
 * Cancel (a coordinator's CANCEL; deploy, migrate and preflight only): the
 * child's stdin is a pipe from the daemon and its command line says
 * --cancel-fd=0. worker_cancel() writes one byte into it, which the engine
 * sees at its next safe point (engine.h), then sends SIGUSR1 (spawned
 * blocked; the child unblocks it once it handles it): in an abortable step
 * (a download, an unpack) the child's handler execs `rollwave-agent worker
 * ... cancelled APP` in the same process, which cleans up like recovery and
 * reports the CANCELLED result. Either way the daemon gets one result line.
 *
 * Check (the daemon's health watch, not a coordinator command): the child
 * probes the app's current release once, as health.h does after an
 * activation (units active and not auto-restarted since the last manual
 * start, which is the activation's restart; the [Health] probes; not the
 * validate hook), without the engine or its lock, and changes nothing. Its
 * result: COMMITTED VERSION "healthy", FAILED VERSION "why", or COMMITTED -
 * "nothing to check: why". The daemon records the verdict (state.h
 * state_set_health_of()) so that heartbeats carry it.
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
/* "result 99 " + version + " " + message + "\n" fits (and an output line:
 * "output " + 2 x WORKER_OUTPUT_CHUNK). */
#define WORKER_LINE_MAX (16 + VERSION_MAX + WORKER_MESSAGE_MAX)

/* Bytes of hook output in one `output` line (hex-encoded: twice that). */
#define WORKER_OUTPUT_CHUNK 256

enum worker_op {
	WORKER_DEPLOY,
	WORKER_ROLLBACK,
	WORKER_RECOVER,
	WORKER_MIGRATE,
	WORKER_MIGRATE_DOWN,
	WORKER_PREFLIGHT,
	WORKER_CANCELLED, /* internal: what a cancelled child execs (see above) */
	WORKER_CHECK,     /* the health watch: one probe round of the current release */
	_WORKER_OP_MAX,
};

struct worker_request {
	enum worker_op op;
	const char *app;
	const char *manifest_url;   /* DEPLOY, MIGRATE, PREFLIGHT */
	const char *expect_version; /* DEPLOY, MIGRATE, PREFLIGHT: the version the manifest
	                             * must name; MIGRATE_DOWN: the release */
	const char *to_version;     /* ROLLBACK: "" for the previous release */
};

/* "deploy", "rollback", "recover", "migrate", "migrate_down", "preflight",
 * "cancelled", "check": the word on the worker's command line. */
const char *worker_op_to_string(enum worker_op op);
int worker_op_from_string(const char *s, enum worker_op *ret);
/* Whether a CANCEL can stop op (deploy, migrate, preflight). */
bool worker_op_is_cancellable(enum worker_op op);

/* Starts `agent_path [--config=config_path] worker ...` for req with stdout
 * on a pipe and stderr inherited, SIGTERM, SIGINT and SIGUSR1 blocked and
 * SIGCHLD not. stdin is /dev/null, or for a cancellable op a pipe whose
 * write end is returned in *ret_cancel_fd (close-on-exec, non-blocking; -1
 * otherwise; the caller closes it). The child is told this process's pid,
 * to check that it is still its child once it asked to be killed with it.
 * Returns the child's pid and the stdout pipe's read end (non-blocking,
 * close-on-exec; the caller closes it). posix_spawn(): safe while other
 * threads (nng's) run. */
int worker_spawn(const char *agent_path, const char *config_path, const struct worker_request *req,
        pid_t *ret_pid, int *ret_fd, int *ret_cancel_fd, struct rw_err *err);

/* Asks the worker pid (not reaped yet) to stop: a byte into cancel_fd,
 * then SIGUSR1. Never blocks. */
int worker_cancel(pid_t pid, int cancel_fd);

/* The child side: write one line to fd. version may be NULL or "". -EIO (or
 * -errno) if the daemon is gone. */
int worker_emit_phase(int fd, Rollwave__Phase phase, const char *name, const char *version);
int worker_emit_result(int fd, Rollwave__Phase phase, const char *version, const char *message);
/* len bytes of hook output, as many `output` lines as it takes. */
int worker_emit_output(int fd, const char *data, size_t len);
int worker_emit_absent(int fd);

enum worker_line_kind {
	WORKER_LINE_PHASE,
	WORKER_LINE_RESULT,
	WORKER_LINE_OUTPUT,
	WORKER_LINE_ABSENT,
};

struct worker_line {
	enum worker_line_kind kind;
	Rollwave__Phase phase;
	char name[WORKER_PHASE_NAME_MAX + 1]; /* PHASE only */
	char version[VERSION_MAX + 1];        /* "" for "-"; else version_is_valid() */
	char message[WORKER_MESSAGE_MAX + 1]; /* RESULT only; printable text */
	char data[WORKER_OUTPUT_CHUNK];       /* OUTPUT only: data_len raw bytes */
	size_t data_len;
};

/* Parses one line (without its newline). -EBADMSG if it is not one of the
 * forms above with values in bounds. */
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

/* The child: `rollwave-agent worker ...` (agent/engine/worker_child.c; argc and
 * argv from the word "worker" on). config_path is rollwave-agent's
 * --config, or NULL. Returns the exit status, or -2 on a usage error. */
int worker_child_main(
        const struct agent_config *cfg, const char *config_path, int argc, char **argv);

/* "exited with status 1", "was killed by signal 9 (Killed)": for the report
 * of a child that ended without a result line. code and status as in
 * siginfo_t (si_code, si_status). */
void worker_exit_message(int code, int status, char *buf, size_t size);

#endif
