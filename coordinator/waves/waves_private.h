/*
 * waves_private: what the files of the waves engine share. Not an API
 * (waves.h is the engine's only face).
 *
 * A deployment has a state (enum dep_state) and, while active, a step
 * within its current wave (enum wave_step). Both are enums everywhere but
 * in the store, whose rows keep the strings the schema holds; only waves.c
 * converts between the two (dep_set_state(), dep_set_step(), dep_load()).
 *
 * The deployment's states, and every edge out of each with the function
 * that takes it:
 *
 *   pending     -> running      step_start(): wave one begins
 *               -> paused       pause (actions.c)
 *               -> failed       step_preflight(), step_migrate()
 *               -> succeeded    dep_tick_once(): a plan of no waves
 *               -> aborted      abort (actions.c)
 *               -> running      abort --rollback, rollback (actions.c)
 *   running     -> paused       pause
 *               -> succeeded    step_bake(), step_gates(): the last wave is done
 *               -> rolled_back  step_rollback()
 *               -> failed       step_rollback(), step_preflight(), step_migrate()
 *               -> aborted      abort
 *   paused      -> running      resume, abort --rollback, rollback (actions.c)
 *               -> aborted      abort
 *   succeeded, failed, rolled_back, aborted
 *               -> running      rollback (actions.c): a deployment that
 *                               changed hosts reopens to roll them back
 *   planned     `rollwave plan`: never stored, no edges
 *
 * A deployment whose resume fails ends failed in the store directly
 * (load_active_cb()): it never becomes a struct dep.
 *
 * Within an active deployment, the step (the function that runs it, and
 * each edge out of it with the function that takes it):
 *
 *   preflight  step_preflight(): every host checks it could take the release
 *              -> freeze     a freeze window is on before anything started
 *              -> migrate    every host answered (or --force)
 *   freeze     step_preflight() in wave one before preflight, else step_start()
 *              -> preflight  the window ended before preflight started
 *              -> approval | deploying | switch   as from start
 *   migrate    step_migrate(): the release's migrate hook, once
 *              -> start      it ran (or the release has none)
 *   start      step_start(): a wave begins ("" in older rows: the same)
 *              -> freeze     a deploy-freeze window is on
 *              -> approval   the wave waits for `rollwave approve`
 *              -> deploying  a wave of hosts
 *              -> switch     a blue-green traffic switch
 *   approval   step_start()
 *              -> freeze | deploying | switch
 *   deploying  step_deploying(): hosts get the release, MaxUnavailable at once
 *              -> bake       the wave health gate passed
 *              -> rollback   it failed (budget, timeout)
 *   switch     step_switch(): the traffic command runs
 *              -> bake       it succeeded
 *              -> rollback   it failed or timed out
 *   bake       step_bake(): the wave stays healthy for Bake=
 *              -> gates      the wave has metric gates
 *              -> start      next wave (the last one: succeeded)
 *              -> rollback   a host fell ill and the budget is breached
 *   gates      step_gates(): the metric gates are asked
 *              -> start      all passed: next wave (the last one: succeeded)
 *              -> rollback   one failed, or held past WaveTimeout=
 *   rollback   step_rollback(): the coordinated rollback (enum rollback_phase)
 *              -> rollback   asked again (actions.c: its clock restarts)
 *              -> ""         rolled_back or failed
 *   any active step -> rollback  abort --rollback, rollwave rollback (actions.c)
 *   any active step -> ""        abort (actions.c); finished ("" with the state)
 *
 * waves.c holds this as one table (dep_step_edges, dep_state_edges) and
 * assert_dep_state() checks every transition against it; step functions
 * never write d->state or d->step: they return a struct step_result that
 * waves.c applies.
 *
 * The rollback, one tick of step_rollback() (rollback.c), each phase held
 * until it is over, then the next; every tick starts again at the first:
 *
 *   RB_WAIT_MIGRATE     rb_wait_migrate(): a migrate hook still running on
 *        |              a host that is up stops (or ends) first: whether
 *        v              migrate_down is owed depends on it
 *   RB_STOP_DEPLOYING   rb_stop_deploying(): hosts still deploying and up
 *        |              stop (a down host cannot hold the rollback)
 *        v
 *   RB_PLAN             rb_plan(): the rollback is planned, once
 *        |              (-> failed if it cannot be)
 *        v
 *   RB_WAVES            rb_waves(): the rollback plan's waves in order, the
 *        |              traffic switch back among them (-> failed if it fails)
 *        v
 *   RB_MIGRATE_DOWN     rb_migrate_down(): once, where migrate ran
 *        |
 *        v
 *   RB_DONE             rb_done(): -> rolled_back, or failed if a host's
 *                       rollback (or migrate_down) failed
 */
#ifndef ROLLWAVE_COORDINATOR_WAVES_PRIVATE_H
#define ROLLWAVE_COORDINATOR_WAVES_PRIVATE_H

#include <stdbool.h>

enum dep_state {
	DEP_PENDING,
	DEP_RUNNING,
	DEP_PAUSED,
	DEP_SUCCEEDED,
	DEP_FAILED,
	DEP_ROLLED_BACK,
	DEP_ABORTED,
	DEP_PLANNED, /* `rollwave plan`: never stored */
	_DEP_STATE_MAX,
};

enum wave_step {
	STEP_NONE, /* "": finished, or (older rows) a wave about to start */
	STEP_PREFLIGHT,
	STEP_FREEZE,
	STEP_MIGRATE,
	STEP_START,
	STEP_APPROVAL,
	STEP_DEPLOYING,
	STEP_SWITCH,
	STEP_BAKE,
	STEP_GATES,
	STEP_ROLLBACK,
	_WAVE_STEP_MAX,
};

enum rollback_phase {
	RB_WAIT_MIGRATE,
	RB_STOP_DEPLOYING,
	RB_PLAN,
	RB_WAVES,
	RB_MIGRATE_DOWN,
	RB_DONE,
	_RB_PHASE_MAX,
};

const char *dep_state_to_string(enum dep_state s);
int dep_state_from_string(const char *s, enum dep_state *ret);
const char *wave_step_to_string(enum wave_step s);
int wave_step_from_string(const char *s, enum wave_step *ret);
/* pending, running or paused. */
bool dep_state_is_active(enum dep_state s);
/* Whether (from_state, from_step) -> (to_state, to_step) is an edge of
 * the drawing above (waves.c's table). */
bool dep_edge_allowed(enum dep_state from_state, enum wave_step from_step, enum dep_state to_state,
        enum wave_step to_step);

/* What a step asks of waves.c, which alone applies it. */
enum step_kind {
	RESULT_HOLD,      /* nothing changes (the verdict may have) */
	RESULT_GOTO,      /* on to step (and state), audited as action if set */
	RESULT_NEXT_WAVE, /* the wave is done: the next one starts, or it succeeded */
	RESULT_ROLLBACK,  /* the coordinated rollback begins, why saying why */
	RESULT_FINISH,    /* it ends in state, why its reason (keep_reason: unchanged) */
};

#define STEP_WHY_MAX 3072

struct step_result {
	enum step_kind kind;
	enum wave_step step;    /* GOTO */
	enum dep_state state;   /* GOTO (the state from then on), FINISH */
	bool save;              /* GOTO without action: saved without an audit entry */
	const char *action;     /* GOTO: audited as this, with why as its detail */
	const char *live_color; /* GOTO: recorded as live for the app after the save */
	bool keep_reason;       /* FINISH: the deployment's reason stays */
	char why[STEP_WHY_MAX];
};

#endif
