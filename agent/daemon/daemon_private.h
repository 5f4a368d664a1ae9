/*
 * daemon_private: what the files of rollwave-agentd's daemon share. Not for
 * use outside agent/daemon/. daemon.h is the daemon's public face.
 *
 *   daemon.c        the sd-event loop: start, timers, signals, stop
 *   session.c       the coordinator session (below): Hello, Auth, Welcome, refusals
 *   exchange.c      what goes over the link when (pump), and where each reply goes
 *   outbox.c        the CommandAcks and PhaseReports that wait for the link
 *   commands.c      a Command from a poll: checked, refused, cancelled or started
 *   jobs.c          the worker process that runs a command or a recovery
 *   health_watch.c  the periodic health check of each app's current release
 *
 * The session with the coordinator (docs/protocol.md), one per connection.
 * session_enter() in session.c is the one function that changes
 * d->session; it checks every transition against the edges below and the
 * state it enters with assert_session_state(). Every other file only
 * reads d->session.
 *
 *   state          edge                              function behind it
 *   -------------  --------------------------------  ---------------------------------
 *   IDLE  -> HELLO  Hello sent (retry timer, start,   session_send_hello(), from
 *                   new pipe)                         exchange_pump()
 *   HELLO -> AUTH   Challenge with a key this host    session_on_challenge()
 *                   trusts; Auth sent
 *   AUTH  -> UP     Welcome with the key challenged   session_on_welcome()
 *                   with; pinned on first acceptance
 *   any   -> IDLE   the session is given up; Hello    session_restart(delay), after:
 *                   again after delay (retry timer)
 *       backoff (session_backoff(), 1 s doubling to 30 s, jittered):
 *         Hello cannot be built or sent               session_send_hello()
 *         Auth cannot be signed or sent, or the key   session_on_challenge(),
 *           cannot be pinned                          session_on_welcome()
 *         no answer, reply that does not decode       session_unreachable()
 *         Error{UNAUTHORIZED} to Hello or Auth,       session_on_refusal()
 *           another error code
 *         an unexpected reply                         exchange.c on_report_reply()
 *         the pipe was lost (not IDLE)                exchange_on_link_event()
 *       HeartbeatInterval (jittered): Error{PENDING}  session_on_refusal()
 *       a minute: Error{REVOKED} (jittered), a        session_on_refusal(),
 *         foreign coordinator key, a Welcome with     session_on_challenge(),
 *         another key                                 session_on_welcome()
 *       at once: Error{UNAUTHORIZED} to a heartbeat,  session_on_refusal(),
 *         report or poll (a new pipe carries no       exchange.c on_poll_reply()
 *         session yet); a new pipe while UP, or       exchange_on_link_event()
 *         while IDLE with no try due and no refusal
 *
 * In each state (assert_session_state()):
 *   IDLE   no session request in flight (report_inflight NONE), no
 *          heartbeat or poll due, host_id 0;
 *   HELLO  the Hello in flight on the report channel, host_id 0;
 *   AUTH   the Auth in flight on the report channel, host_id 0;
 *   UP     a pinned coordinator key, nothing in flight on the report
 *          channel, a heartbeat and a poll due.
 */
#ifndef ROLLWAVE_AGENT_DAEMON_PRIVATE_H
#define ROLLWAVE_AGENT_DAEMON_PRIVATE_H

#include <limits.h>
#include <signal.h>
#include <systemd/sd-event.h>

#include "cmdlog.h"
#include "daemon.h"
#include "identity.h"
#include "link.h"
#include "log.h"
#include "worker.h"

#define REPORT_TIMEOUT_MS    10000
#define POLL_TIMEOUT_MS      35000 /* longer than the coordinator's 25 s poll */
#define BACKOFF_MIN_USEC     (1 * USEC_PER_SEC)
#define BACKOFF_MAX_USEC     (30 * USEC_PER_SEC)
#define SLOW_RETRY_USEC      (60 * USEC_PER_SEC) /* revoked, foreign coordinator */
#define POLL_RETRY_USEC      (1 * USEC_PER_SEC)
#define STOP_WAIT_USEC       (30 * USEC_PER_SEC) /* SIGTERM during a deploy */
#define OUTGOING_MAX         256
#define DAEMON_MALLOC_ARENAS 2
#define MSGID_LINK_UP        "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c10"
#define MSGID_LINK_PENDING   "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c11"
#define MSGID_LINK_REFUSED   "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c12"
#define MSGID_COMMAND        "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c13"
#define MSGID_COMMAND_REFUSE "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c14"
#define MSGID_COMMAND_CANCEL "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c15"

/* The session's states; drawn above. */
enum session_state {
	SESSION_IDLE,
	SESSION_HELLO,
	SESSION_AUTH,
	SESSION_UP,
	_SESSION_STATE_MAX,
};

/* What the request in flight on the report channel is. */
enum report_kind {
	REPORT_NONE,
	REPORT_HELLO,
	REPORT_AUTH,
	REPORT_HEARTBEAT,
	REPORT_QUEUED,
};

/* A CommandAck or PhaseReport waiting for the link. */
struct outgoing {
	bool is_ack;
	uint64_t command_id;
	bool accepted;
	char reason[256];
	char app[APP_NAME_MAX + 1];
	char version[VERSION_MAX + 1];
	Rollwave__Phase phase;
	uint64_t elapsed_ms;
	char error[1024];
	char *hook_output; /* final reports only; NULL: none */
	bool hook_absent;
	bool final;
	struct outgoing *next;
};

/* One coordinator command, or a recovery the daemon started after a worker
 * died (op WORKER_RECOVER, command_id 0), run by a worker process; or a
 * health watch check (op WORKER_CHECK). */
struct job {
	uint64_t command_id;
	enum worker_op op;
	char app[APP_NAME_MAX + 1];
	char version[VERSION_MAX + 1]; /* what the reports name until the engine knows */
	uint64_t start_usec;
	pid_t pid;
	int fd;        /* the worker's stdout */
	int cancel_fd; /* cancellable ops: the worker's stdin (worker_cancel()) */
	sd_event_source *child_src, *output_src;
	struct worker_reader reader;
	Rollwave__Phase last_phase; /* the latest phase line, 0 before the first */
	uint64_t cancelled_by;      /* the CANCEL that asked it to stop, 0 if none */
	/* What hooks printed (output lines), at most WIRE_REPORT_TEXT_MAX. */
	char *hook_output;
	size_t hook_output_len;
	bool hook_output_cut, hook_absent;
	/* The worker's result line, if it wrote one. */
	bool have_result;
	struct worker_line result;
};

struct daemon {
	const struct agent_config *cfg;
	sd_event *event;
	struct link *link;
	struct state *state;
	struct identity id;
	char fingerprint[IDENTITY_FINGERPRINT_SIZE];
	char pin_path[PATH_MAX];
	uint8_t pinned[IDENTITY_PUBLIC_KEY_BYTES];
	bool have_pin;
	uint8_t offered[IDENTITY_PUBLIC_KEY_BYTES]; /* Challenge.coordinator_key */
	char join_token[AGENT_JOIN_TOKEN_MAX + 1];

	enum session_state session; /* session_enter() only */
	enum report_kind report_inflight;
	struct outgoing *report_item; /* the queued item in flight */
	bool hello_due, heartbeat_due, poll_due;
	uint64_t host_id, hb_seq, message_id, backoff_usec, start_usec;
	uint64_t welcome_host_id; /* the last Welcome's host id, kept across sessions (logs) */
	Rollwave__Error__Code last_refusal; /* to log a refusal once, not per retry */
	bool unreachable_logged;

	struct outgoing *out_head, *out_tail;
	size_t n_out;

	sd_event_source *link_src, *retry_timer, *heartbeat_timer, *poll_timer, *watchdog_timer,
	        *stop_timer;
	uint64_t watchdog_usec;

	const struct daemon_options *opts;
	struct job *job;
	bool worker_running, stopping;

	/* The health watch (worker.h, WORKER_CHECK): every HealthWatch=, the
	 * next app in turn, while no command runs. */
	sd_event_source *health_timer;
	struct job *check;
	size_t check_next;
};

/* daemon.c: the loop's helpers. */
void daemon_set_status(const char *fmt, ...) _printf_(1, 2);
/* usec, give or take percent, at random. */
uint64_t daemon_jitter(uint64_t usec, unsigned percent);
/* Arms the one-shot timer *src (made on first use) to fire cb in usec. */
int daemon_timer_arm(
        struct daemon *d, sd_event_source **src, uint64_t usec, sd_event_time_handler_t cb);

/* session.c: the only writer of d->session (see above). */
uint64_t session_backoff(struct daemon *d);
/* Forgets the session (-> IDLE) and says Hello again after delay. */
void session_restart(struct daemon *d, uint64_t delay);
/* The coordinator did not answer (why): logged once, then a backoff. */
void session_unreachable(struct daemon *d, const char *why);
void session_send_hello(struct daemon *d);
void session_on_challenge(struct daemon *d, const Rollwave__Challenge *c);
void session_on_welcome(struct daemon *d, const Rollwave__Welcome *w);
/* An Error in answer to the request of kind. */
void session_on_refusal(struct daemon *d, enum report_kind kind, const Rollwave__Error *e);

/* exchange.c: requests and replies. */
void exchange_envelope_init(struct daemon *d, Rollwave__Envelope *env);
/* Validates env as the peer would, then sends it. */
int exchange_send(
        struct daemon *d, enum link_channel ch, Rollwave__Envelope *env, unsigned timeout_ms);
/* Starts whatever the link can carry now. */
void exchange_pump(struct daemon *d);
/* The link's eventfd is readable: handles its events. */
int exchange_on_link_event(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* outbox.c: the queue of acks and reports, bounded at OUTGOING_MAX. */
/* Takes ownership of o. */
void outbox_push(struct daemon *d, struct outgoing *o);
/* Drops the oldest item. */
void outbox_pop(struct daemon *d);
void outbox_queue_ack(struct daemon *d, uint64_t command_id, bool accepted, const char *reason);
/* A state_report_foreach() callback: queues a stored final result. */
int outbox_load_stored(void *userdata, const struct state_report *rep);
/* Sends the oldest item (the caller checked that there is one). */
void outbox_send(struct daemon *d);

/* commands.c: a Command that a poll brought. */
void commands_handle(struct daemon *d, const Rollwave__Command *cmd);

/* jobs.c: worker processes. */
/* The ids a log line about command_id carries (cmdlog.h). */
struct cmdlog_ids job_log_ids(const struct daemon *d, uint64_t command_id);
struct job *job_new(const char *app, enum worker_op op);
void job_free(struct job *job);
/* Starts the worker process for job and watches it; its exit ends d->job. */
int job_start(
        struct daemon *d, struct job *job, const struct worker_request *req, struct rw_err *err);

/* health_watch.c: the timer's callback; it re-arms itself. */
int health_watch_on_timer(sd_event_source *s, uint64_t usec, void *userdata);

#endif
