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
 * One operation at a time per state directory: engine_open() takes an
 * exclusive lock that the kernel drops if the process dies.
 */
#ifndef ROLLWAVE_AGENT_ENGINE_H
#define ROLLWAVE_AGENT_ENGINE_H

#include "config.h"
#include "state.h"

enum engine_phase {
	ENGINE_PHASE_FETCHING,
	ENGINE_PHASE_VERIFYING,
	ENGINE_PHASE_UNPACKING,
	ENGINE_PHASE_ACTIVATING,
	ENGINE_PHASE_RESTARTING,
	ENGINE_PHASE_HEALTH,
	ENGINE_PHASE_COMMITTED,
	ENGINE_PHASE_ROLLED_BACK,
	ENGINE_PHASE_FAILED,
	_ENGINE_PHASE_MAX,
};

enum engine_outcome {
	ENGINE_UNCHANGED,   /* nothing to do, or refused before touching anything */
	ENGINE_COMMITTED,   /* the target release is live and healthy */
	ENGINE_ROLLED_BACK, /* it was unhealthy; the previous release is live again */
	ENGINE_FAILED,      /* failed; see message for what `current` points to */
};

struct engine_result {
	enum engine_outcome outcome;
	char app[APP_NAME_MAX + 1];
	char from[VERSION_MAX + 1];
	char to[VERSION_MAX + 1];
	uint64_t phase_usec[_ENGINE_PHASE_MAX]; /* time spent per phase */
	uint64_t first_healthy_usec;            /* since the restart, 0 if never */
	char message[1024];
};

/* Called as each phase starts (and with COMMITTED/ROLLED_BACK/FAILED at the
 * end). error is NULL except for FAILED. */
typedef void (*engine_phase_cb)(void *userdata, const char *app, const char *version,
        enum engine_phase phase, const char *error);

struct engine;

/* Loads the trusted keys, opens the state file and takes the operation lock
 * (-EBUSY if another agent process holds it). */
int engine_open(const struct agent_config *cfg, struct engine **ret, struct rw_err *err);
void engine_close(struct engine *e);
void engine_set_phase_cb(struct engine *e, engine_phase_cb cb, void *userdata);
struct state *engine_state(struct engine *e);

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

const char *engine_phase_to_string(enum engine_phase p);
const char *engine_outcome_to_string(enum engine_outcome o);

#endif
