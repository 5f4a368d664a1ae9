/*
 * link: the agent's connection to the coordinator (docs/protocol.md).
 *
 * One nng req0 socket dialled at Coordinator= (tls+tcp:// with the [TLS] CA
 * and the URL's host as server name, or tcp:// when Insecure=yes), with
 * NNG_OPT_RECVMAXSZ = WIRE_MAX_MESSAGE and nng's reconnect backoff
 * (NNG_OPT_RECONNMINT 100 ms .. NNG_OPT_RECONNMAXT 30 s). Two request
 * channels, each an nng context with one request in flight at a time:
 *
 *   LINK_REPORT  Hello, Auth, Heartbeat, CommandAck, PhaseReport
 *   LINK_POLL    the long Poll (the coordinator answers within 25 s)
 *
 * Threads: the request/reply cycle runs on nng's aio callbacks (send, then
 * receive and wire_decode() the reply); its outcome, and every pipe that
 * comes or goes, is queued as a struct link_event and announced on an
 * eventfd (link_fd()) that the daemon's event loop watches. Everything else
 * here is called from that one loop thread only; nothing in this module
 * blocks it.
 *
 * The second half of this file builds what the agent says (host facts, app
 * status) and decides what to do with a command: pure functions of the
 * config, the state file and the arguments, tested without a network.
 *
 * Library code: nothing here logs.
 */
#ifndef ROLLWAVE_AGENT_LINK_H
#define ROLLWAVE_AGENT_LINK_H

#include "config.h"
#include "state.h"
#include "wire.h"

enum link_channel {
	LINK_REPORT,
	LINK_POLL,
	_LINK_CHANNEL_MAX,
};

enum link_event_kind {
	LINK_EVENT_REPLY,     /* a request on `channel` finished: reply or error */
	LINK_EVENT_PIPE_UP,   /* a connection to the coordinator was made */
	LINK_EVENT_PIPE_DOWN, /* a connection was lost */
};

struct link_event {
	enum link_event_kind kind;
	enum link_channel channel;
	/* REPLY: 0 and reply set, or -ETIMEDOUT (no answer in time), -EBADMSG
	 * (the reply did not pass wire_decode(); detail says why), -ECONNRESET,
	 * -ECANCELED (link closing) or another -errno. */
	int error;
	Rollwave__Envelope *reply; /* owned by the event */
	char detail[256];
	struct link_event *next;
};

struct link;

/* Creates the socket and starts dialling cfg->coordinator in the background
 * (never blocks on the network). Errors: -EINVAL (bad URL, or tcp://
 * without Insecure=yes), a CA file nng cannot load (err names it), -ENOMEM,
 * other nng failures as -EIO. */
int link_open(const struct agent_config *cfg, struct link **ret, struct rw_err *err);
/* Stops every request, closes the socket and frees queued events. NULL is a
 * no-op. Waits for nng's callbacks to finish (call it outside of them). */
void link_close(struct link *l);

/* Readable when events are queued; link_event_next() drains it. */
int link_fd(struct link *l);
/* The next queued event or NULL. The caller frees it (link_event_free). */
struct link_event *link_event_next(struct link *l);
void link_event_free(struct link_event *ev);

/* Sends env on channel and waits (asynchronously) up to timeout_ms for the
 * reply, which comes back as a LINK_EVENT_REPLY. env is encoded before this
 * returns (the caller keeps ownership). -EBUSY if a request is already in
 * flight on that channel, -EMSGSIZE if env does not fit a message. */
int link_request(struct link *l, enum link_channel channel, const Rollwave__Envelope *env,
        unsigned timeout_ms);
/* Closes the dialer (and its connection, if any) and dials again. For a
 * request that got no answer: with nng 1.5's TLS transport a connection the
 * peer closed can stay a pipe that swallows requests and keeps the dialer
 * from redialling; a fresh dialer recovers from that. */
int link_redial(struct link *l, struct rw_err *err);
/* Gives up the request in flight on channel, if any: its REPLY event still
 * comes, with -ECANCELED (or with the reply, if it was already there). */
void link_cancel(struct link *l, enum link_channel channel);
/* True while a request is in flight on channel (until its REPLY event has
 * been taken with link_event_next()). */
bool link_busy(const struct link *l, enum link_channel channel);

/* ---- what the agent says ---- */

/* HostFacts of this host: hostname, labels (pointing into cfg, which must
 * outlive it) and the status of every configured app (see link_apps_*). */
struct link_facts {
	Rollwave__HostFacts facts;
	char hostname[WIRE_HOSTNAME_MAX + 1];
	Rollwave__Label label_items[AGENT_LABELS_MAX];
	Rollwave__Label *labels[AGENT_LABELS_MAX];
	Rollwave__AppStatus **apps; /* facts.apps; owned */
	size_t n_apps;
};

/* Status of every app configured in cfg->apps_dir (at most WIRE_APPS_MAX):
 * `current` read from the layout, previous and health from the state file
 * (s may be NULL), releases on disk (the newest WIRE_RELEASES_MAX). An app
 * whose config or root cannot be read is reported by name with health
 * unknown. *ret_apps is a malloc'd array; free with link_apps_free(). */
int link_apps_collect(const struct agent_config *cfg, struct state *s,
        Rollwave__AppStatus ***ret_apps, size_t *ret_n, struct rw_err *err);
void link_apps_free(Rollwave__AppStatus **apps, size_t n);

/* Fills f (hostname from gethostname(), "unknown" if it is not valid text). */
int link_facts_collect(
        const struct agent_config *cfg, struct state *s, struct link_facts *f, struct rw_err *err);
void link_facts_done(struct link_facts *f);

/* ---- what the agent does with a command ---- */

enum link_verdict {
	LINK_COMMAND_RUN,    /* verified, for this host, new, and the agent is free: run it */
	LINK_COMMAND_REPLAY, /* already executed: acknowledge, do not run */
	LINK_COMMAND_REFUSE, /* acknowledge with accepted=false and reason */
};

/* Decides about a decoded command, in this order:
 *   pinned   the pinned coordinator key (NULL: none pinned yet, so nothing
 *            can be verified and the command is refused); the signature
 *            must verify with it;
 *   host_id  the id Welcome gave this host (0: none yet): the command's
 *            host_id must be it (the signed bytes hold it, so a command
 *            for host 42 cannot be replayed to host 43); the reason names
 *            both ids;
 *   kind     one this agent runs (DEPLOY, ROLLBACK, MIGRATE, MIGRATE_DOWN,
 *            PREFLIGHT, CANCEL); another is refused, named by number;
 *   highest  the highest command id this host executed: an id not above
 *            it is a replay;
 *   busy     whether an operation runs: refuses every kind but CANCEL
 *            (which is about the running operation).
 * reason (size bytes) gets the CommandAck reason ("" when running). */
enum link_verdict link_command_check(const Rollwave__Command *cmd, const uint8_t *pinned,
        uint64_t host_id, uint64_t highest, bool busy, char *reason, size_t size);

#endif
