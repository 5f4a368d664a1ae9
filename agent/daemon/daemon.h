/*
 * daemon: `rollwave-agent run`, the host agent as a systemd service.
 *
 * Processes: `rollwave-agent run` recovers interrupted operations (the
 * release engine, in that process), then execs rollwave-agentd, the
 * resident daemon, which runs daemon_run() with the same pid (systemd's
 * main pid, notify socket and watchdog carry over). rollwave-agentd links
 * without the engine's libraries (libcurl, libarchive, libcrypto), which
 * is most of an idle agent's memory: each coordinator command runs in a
 * `rollwave-agent worker` child process (agent/engine/worker.h) that reports its
 * phases back through a pipe and exits. If rollwave-agentd is missing,
 * `run` calls daemon_run() itself: the same daemon, only bigger.
 *
 * One sd-event loop on the main thread owns everything: signals, timers
 * (heartbeat, watchdog, retries), the coordinator link (agent/daemon/link.c hands
 * its nng events over through an eventfd) and the worker process (its
 * pipe and its exit); the loop never blocks on the network or on a deploy.
 *
 * Session with the coordinator (docs/protocol.md), one per connection:
 * IDLE -> HELLO -> AUTH -> UP, back to IDLE when it is given up (pipe
 * lost, no answer, refusals); the state machine, every edge with the
 * function behind it, is drawn in daemon_private.h.
 *
 * While UP: heartbeats every HeartbeatInterval (jittered), a long Poll
 * always in flight, queued CommandAcks and PhaseReports sent in order. The
 * agent works without a coordinator: recovery runs at start, local rollback
 * happens inside the engine, final results wait in the state file until the
 * link is back.
 */
#ifndef ROLLWAVE_AGENT_DAEMON_H
#define ROLLWAVE_AGENT_DAEMON_H

#include "config.h"

struct daemon_options {
	const char *config_path; /* the --config given to rollwave-agent, or NULL */
	const char *agent_path;  /* the rollwave-agent executable that runs commands */
};

/* Runs the agent daemon until SIGTERM or SIGINT; the caller has run crash
 * recovery. Logs its own errors. Returns the process exit status (0 on a
 * clean stop, 1 if it could not start). */
int daemon_run(const struct agent_config *cfg, const struct daemon_options *opts);

#endif
