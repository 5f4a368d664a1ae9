/*
 * engine: the host agent's release engine.
 *
 * Deploying version V of an app (DESIGN.md, "A host's layout"):
 *
 *   fetch+verify manifest -> checks -> fetch artifact (BLAKE2b-512, Size cap)
 *     -> unpack into releases/.staging-V -> shared dirs -> fsync -> rename
 *     -> before_activate -> [journal: ACTIVATING] swap current
 *     -> [journal: CHECKING] restart units -> health
 *         healthy:   commit (journal cleared, history) -> after_activate -> prune
 *         unhealthy: swap back to previous -> restart -> verify -> rolled back
 *
 * The in-flight row in the state file is the intent journal: a process
 * killed at any step leaves enough behind for engine_recover() to finish
 * the job (clean staging, or re-check the activation and roll it back).
 *
 * Besides deploy, rollback and recovery (engine_deploy.c, engine_recover.c)
 * the engine runs the coordinator's other commands: MIGRATE and
 * MIGRATE_DOWN (engine_migrate.c) and PREFLIGHT (engine_preflight.c).
 *
 * Cancellation (a coordinator's CANCEL, engine_set_cancel()): a deploy or a
 * migrate stops at its next safe point before activation. The safe points
 * are: before the manifest is fetched, after it is checked, after the
 * release is unpacked, during and after the before_activate hook (which is
 * stopped like on its timeout). A release this operation unpacked is
 * removed again; one that was on disk before stays. Fetching and unpacking
 * into staging are *abortable*: the process may die there at any instant
 * (recovery removes the staging leftovers), which is how the worker stops
 * a download that would not check a flag. Once the journal says
 * ACTIVATING (or a migrate hook started) the operation runs to its end.
 *
 * One operation at a time per state directory: engine_open() takes an
 * exclusive lock that the kernel drops if the process dies.
 */
#ifndef ROLLWAVE_AGENT_ENGINE_H
#define ROLLWAVE_AGENT_ENGINE_H

#include <signal.h>

#include "config.h"
#include "state.h"

/* Phases before ENGINE_PHASE_COMMITTED are steps; the rest are ends. */
enum engine_phase {
	ENGINE_PHASE_FETCHING,
	ENGINE_PHASE_VERIFYING,
	ENGINE_PHASE_UNPACKING,
	ENGINE_PHASE_ACTIVATING,
	ENGINE_PHASE_RESTARTING,
	ENGINE_PHASE_HEALTH,
	ENGINE_PHASE_CHECKING,  /* preflight checks */
	ENGINE_PHASE_MIGRATING, /* a migrate or migrate_down hook runs */
	ENGINE_PHASE_COMMITTED,
	ENGINE_PHASE_ROLLED_BACK,
	ENGINE_PHASE_FAILED,
	ENGINE_PHASE_CANCELLED,
	_ENGINE_PHASE_MAX,
};

enum engine_outcome {
	ENGINE_UNCHANGED,   /* nothing to do, or refused before touching anything */
	ENGINE_COMMITTED,   /* the target release is live and healthy (migrate,
	                     * migrate_down: the hook succeeded or is absent;
	                     * preflight: every check passed) */
	ENGINE_ROLLED_BACK, /* it was unhealthy; the previous release is live again */
	ENGINE_FAILED,      /* failed; see message for what `current` points to */
	ENGINE_CANCELLED,   /* stopped by a cancel before activation; cleaned up */
};

struct engine_result {
	enum engine_outcome outcome;
	char app[APP_NAME_MAX + 1];
	char from[VERSION_MAX + 1];
	char to[VERSION_MAX + 1];
	uint64_t phase_usec[_ENGINE_PHASE_MAX]; /* time spent per phase */
	uint64_t first_healthy_usec;            /* since the restart, 0 if never */
	bool hook_absent;                       /* migrate, migrate_down: no such hook */
	char message[1024];
};

/* Called as each phase starts (and with COMMITTED/ROLLED_BACK/FAILED at the
 * end). error is NULL except for FAILED. */
typedef void (*engine_phase_cb)(void *userdata, const char *app, const char *version,
        enum engine_phase phase, const char *error);

/* Called after each hook that ran (before_activate, after_activate,
 * migrate, migrate_down; validate once per health check, with its last
 * run): status as hook_result_describe() says it, output (len bytes, at
 * most HOOK_OUTPUT_MAX, not NUL-terminated) and whether it was cut. The
 * output is in the journal too. */
typedef void (*engine_hook_cb)(void *userdata, const char *app, const char *version,
        const char *hook, const char *status, const char *output, size_t len, bool truncated);

struct engine;

/* Loads the trusted keys, opens the state file and takes the operation lock
 * (-EBUSY if another agent process holds it). */
int engine_open(const struct agent_config *cfg, struct engine **ret, struct rw_err *err);
void engine_close(struct engine *e);
void engine_set_phase_cb(struct engine *e, engine_phase_cb cb, void *userdata);
void engine_set_hook_cb(struct engine *e, engine_hook_cb cb, void *userdata);
struct state *engine_state(struct engine *e);

/* Makes the operations cancellable. cancel_fd (borrowed; -1: none; a
 * pipe) asks the running operation to stop once it has bytes waiting
 * (FIONREAD); the engine never reads them (end of file is no request). abortable (may be NULL)
 * is set to 1 while the engine is in an abortable step (see the top of
 * this file) and to 0 otherwise; the engine sets it only after checking
 * cancel_fd, so a request that came before is seen at that safe point. */
void engine_set_cancel(struct engine *e, int cancel_fd, volatile sig_atomic_t *abortable);
/* True if cancel_fd has a request (bytes) waiting. */
bool engine_cancel_requested(struct engine *e);

/* Installs and activates the release described by the signed manifest at
 * manifest_url (path, file://, http://, https://; its signature is
 * manifest_url + ".minisig"). If expect_version is not NULL the manifest
 * must be for that version (a coordinator's command names one). Returns 0
 * when ret->outcome is COMMITTED or UNCHANGED, a negative errno otherwise;
 * ret is always filled. */
int engine_deploy(struct engine *e, const struct app_config *app, const char *manifest_url,
        const char *expect_version, struct engine_result *ret);

/* Activates a release already on disk: to_version, or the previous release
 * if NULL. */
int engine_rollback(struct engine *e, const struct app_config *app, const char *to_version,
        struct engine_result *ret);

/* Finishes whatever an interrupted operation left behind for app. ret is
 * UNCHANGED if there was nothing to do. */
int engine_recover(struct engine *e, const struct app_config *app, struct engine_result *ret);

/* The coordinator's MIGRATE: fetches, verifies and unpacks the release of
 * manifest_url into releases/<version> as engine_deploy() would (a release
 * already on disk is reused), without activating it, then runs its
 * `migrate` hook (ROLLWAVE_PREVIOUS_VERSION: the live release). The hook is
 * never cancelled; a cancel before it removes a release unpacked here.
 * COMMITTED with ret->hook_absent when the release has no migrate hook;
 * FAILED with the hook's error (and the last line it printed). Returns 0
 * for COMMITTED, a negative errno otherwise. */
int engine_migrate(struct engine *e, const struct app_config *app, const char *manifest_url,
        const char *expect_version, struct engine_result *ret);

/* The coordinator's MIGRATE_DOWN: runs the `migrate_down` hook of
 * releases/<version>, which must be on disk (ROLLWAVE_PREVIOUS_VERSION:
 * the live release, or the recorded previous one when version is live).
 * COMMITTED (hook_absent when there is none) or FAILED. */
int engine_migrate_down(struct engine *e, const struct app_config *app, const char *version,
        struct engine_result *ret);

/* The coordinator's PREFLIGHT: could this host take the release at
 * manifest_url? Changes nothing (no recovery, no download, no directory
 * made). app is NULL when app_name has no config here (app_error says
 * why). Checks, each listed in ret->message when it fails:
 *   app        configured (app_config_load());
 *   units      every Units= exists and loads (systemd over D-Bus);
 *   key        at least one TrustedKeys= loads;
 *   manifest   fetches, verifies, names app_name and expect_version, is
 *              not expired, passes the rollback-attack guard;
 *   space      the release filesystem (the app root, or its nearest
 *              existing parent) has 3 x Size + 32 MiB available and is
 *              writable, unless the release is already on disk;
 *   rollback   `current` names a release on disk to go back to.
 * Warnings do not fail it: a first install (nothing installed, so nothing
 * to roll back to), a trusted key file that does not load next to one that
 * does, an interrupted operation that the deploy would recover first.
 * COMMITTED ("preflight passed[; warning: ...]") or FAILED ("preflight
 * failed: CHECK: why; CHECK: why[; warning: ...]"); cancellable at any
 * point (ENGINE_CANCELLED). Returns 0 for COMMITTED. */
int engine_preflight(struct engine *e, const char *app_name, const struct app_config *app,
        const char *app_error, const char *manifest_url, const char *expect_version,
        struct engine_result *ret);

const char *engine_phase_to_string(enum engine_phase p);
const char *engine_outcome_to_string(enum engine_outcome o);

#endif
