/*
 * engine_private: what the engine's files share (engine.c, engine_op.c,
 * engine_begin.c, engine_deploy.c, engine_recover.c, engine_migrate.c,
 * engine_preflight.c, engine_release.c, engine_activate.c). Not for use
 * outside the engine.
 *
 * Their calls point one way, down through these layers:
 *   the operations: engine_deploy.c, engine_migrate.c, engine_preflight.c
 *   their preamble: engine_begin.c (recover, then start)
 *   engine_recover.c
 *   the steps:      engine_activate.c, engine_release.c
 *   engine_op.c:    an operation's life and shared steps
 *   layout, hooks, units, health; agent/shared/, lib/
 * engine.c, the handle, calls none of them.
 *
 * An operation (struct op) runs on one app: engine_op_init() starts it,
 * engine_op_phase() moves it through the phases (telling the phase
 * callback), engine_op_finish() ends it with an outcome and a message. The
 * helpers below take the op and fill op->res; the ones that touch the host
 * follow engine.h's journal rules.
 */
#ifndef ROLLWAVE_AGENT_ENGINE_PRIVATE_H
#define ROLLWAVE_AGENT_ENGINE_PRIVATE_H

#include <systemd/sd-bus.h>

#include "engine.h"
#include "manifest.h"

struct minisign_pubkey;

struct engine {
	const struct agent_config *cfg;
	struct state *state;
	struct minisign_pubkey *keys;
	size_t nkeys;
	char keys_error[512];
	int lock_fd;
	sd_bus *bus;
	engine_phase_cb phase_cb;
	void *phase_userdata;
	engine_hook_cb hook_cb;
	void *hook_userdata;
	int cancel_fd;                    /* -1: not cancellable */
	volatile sig_atomic_t *abortable; /* NULL: nobody watches */
};

/* One operation in progress: the result being built and the phase clock. */
struct op {
	struct engine *e;
	const struct app_config *app;
	struct engine_result *res;
	enum engine_phase phase;
	uint64_t phase_start;
	uint64_t started;
	int rootfd;
	bool quiet; /* steps are timed but not told to the phase callback */
};

void engine_op_init(
        struct op *op, struct engine *e, const struct app_config *app, struct engine_result *res);
void engine_op_phase(struct op *op, enum engine_phase p);
/* Ends the operation with outcome and a message; returns r. */
int engine_op_finish(struct op *op, enum engine_outcome outcome, int r, const char *fmt, ...)
        _printf_(4, 5);

/* How an operation that changes the host starts (engine_op_begin()). */
struct op_begin {
	const char *kind;         /* "deploy": names it when recovery failed */
	bool create_root;         /* make the app's root if it is missing */
	enum engine_outcome fail; /* when the version, the root or `current` is not right */
	const char *to;           /* NULL, or res->to from the start: a version to check */
};

/* The preamble of deploy, rollback, migrate and migrate_down: recovers an
 * interrupted operation (engine_recover()), starts op (engine_op_init()),
 * opens the app's root, reads `current` into current (res->from) and the
 * app's record into *ret_ar (zeroed if there is none). Returns 0 to go on;
 * < 0 when the operation is over, its result filled in (FAILED when the
 * recovery failed, else b->fail). */
int engine_op_begin(struct op *op, struct engine *e, const struct app_config *app,
        struct engine_result *res, const struct op_begin *b, char current[static VERSION_MAX + 1],
        struct app_record *ret_ar);

/* The system bus, opened on first use and kept. */
int engine_get_bus(struct engine *e, sd_bus **ret, struct rw_err *err);

/* Runs hook `name` of releases/<version> (ROLLWAVE_PREVIOUS_VERSION
 * previous), logs and reports its output (engine_hook_cb), and says in
 * *ret_ran (may be NULL) whether it exists. cancellable: the hook is
 * stopped when a cancel comes (-ECANCELED). A failure's message ends with
 * the last line the hook printed. */
int engine_run_hook(struct op *op, const char *version, const char *previous, const char *name,
        bool cancellable, bool *ret_ran, struct rw_err *err);

/* Fetches the manifest and its signature, verifies, parses. Abortable. */
int engine_fetch_manifest(struct op *op, const char *url, struct manifest *ret, struct rw_err *err);
/* The rollback-attack guard and the other checks on a verified manifest;
 * *ret_live when current is that version already. op->rootfd may be -1
 * (nothing installed). */
int engine_check_manifest(struct op *op, const struct manifest *m, const char *current,
        bool *ret_live, struct rw_err *err);
/* Fetches, verifies and unpacks the artifact into releases/<version>
 * (abortable until the rename). -ECANCELED if a cancel came first; the
 * staging leftovers are removed then. */
int engine_install_release(
        struct op *op, const char *manifest_url, const struct manifest *m, struct rw_err *err);

int engine_set_inflight(struct op *op, const char *kind, const char *from, const char *to,
        enum inflight_phase phase);
/* Puts releases/<m->version> on disk for operation kind ("deploy",
 * "migrate"), unless it is live: a tree there that was never accepted here
 * is removed (its content is unknown); a missing one is fetched, verified
 * and unpacked under an in-flight STAGING entry, and *ret_installed is set
 * to its version (a cancel from then on removes it again). A release on
 * disk already is an accepted one whose hash matched the manifest: no
 * download. Returns 0 to go on; < 0 when the operation is over (failed
 * with fail_outcome, or cancelled), its result filled in. */
int engine_stage_release(struct op *op, const char *kind, const char *manifest_url,
        const struct manifest *m, bool live, const char *current, const char *health,
        enum engine_outcome fail_outcome, const char **ret_installed);
/* Records the end of an operation that did not commit: app record
 * (current/previous when given), in-flight row cleared, history. */
void engine_finish_uncommitted(struct op *op, const char *kind, const char *result,
        const char *current, const char *previous, const char *health);

/* Records a finished operation in the history (from, to, message of
 * op->res), with result ("committed", "failed", ...). */
void engine_history(struct op *op, const char *kind, const char *result);
/* Logs what a hook printed and tells the hook callback. */
void engine_report_hook(const struct op *op, const char *version, const char *name,
        const char *status, const char *output, size_t len, bool truncated);

/* engine_activate.c: restarts the units and waits for health. Returns 0
 * when healthy. */
int engine_activate_and_check(
        struct op *op, const char *version, const char *previous, struct rw_err *err);
/* Makes the result of a successful activation durable. */
int engine_commit(struct op *op, const char *kind, const char *version, const char *previous);
/* The new release sick is live but unhealthy (or its units would not
 * restart): goes back to back_to if it is on disk. Called with the
 * in-flight row set; ends the operation. */
int engine_roll_back_locally(struct op *op, const char *kind, const char *sick, const char *back_to,
        const char *keep_previous, const char *reason);
/* Swaps to version, restarts, checks; commits, or rolls back to from when
 * may_roll_back. The in-flight row must already say ACTIVATING. Returns 0
 * when committed; < 0 when the operation is over. */
int engine_swap_and_check(struct op *op, const char *kind, const char *version, const char *from,
        const char *old_previous, bool may_roll_back);
/* After a commit: the after_activate hook, then pruning. */
void engine_after_commit(struct op *op, const char *version, const char *previous);

/* Enters (on) or leaves an abortable step. Entering returns -ECANCELED,
 * without entering, if a cancel is waiting. */
int engine_abortable(struct engine *e, bool on);
/* Ends an operation a cancel stopped before activation: removes
 * releases/<installed> (a release this operation unpacked; NULL if none),
 * clears the journal and records it. current: the live release, "" if
 * none. Returns -ECANCELED (outcome CANCELLED). */
int engine_op_cancelled(struct op *op, const char *kind, const char *installed, const char *current,
        const char *health);

#endif
