/*
 * daemon: `rollwave-agent run`, the host agent as a systemd service.
 *
 * One sd-event loop on the main thread owns everything: signals, timers
 * (heartbeat, watchdog, retries), the coordinator link (agent/link.c hands
 * its nng events over through an eventfd) and the results of the deploy
 * worker. The release engine blocks, so each coordinator command runs on
 * one worker thread that reports its phases back through another eventfd;
 * the loop never blocks on the network or on a deploy.
 *
 * Session with the coordinator (docs/protocol.md), one per connection:
 *
 *   IDLE --retry timer--> HELLO --Challenge--> AUTH --Welcome--> UP
 *    ^                      |                    |                |
 *    +-- Error{PENDING}: retry every HeartbeatInterval            |
 *    +-- Error{REVOKED}, foreign coordinator key: retry each minute
 *    +-- timeout, Error{UNAUTHORIZED} (new pipe), pipe lost: backoff
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

/* Runs the agent daemon until SIGTERM or SIGINT. Logs its own errors.
 * Returns the process exit status (0 on a clean stop, 1 if it could not
 * start). */
int daemon_run(const struct agent_config *cfg);

#endif
