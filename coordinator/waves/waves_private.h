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
 * (load_active_cb()): it never becomes a struct dep. One whose stored
 * state or step this coordinator does not know (another version wrote
 * it) is loaded as _DEP_STATE_MAX or _WAVE_STEP_MAX, the row keeping its
 * string: no step runs, and the admin actions take it out along any edge.
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

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "coordinator_config.h"
#include "db.h"
#include "deploy_params.h"
#include "fleet.h"
#include "gate_result.h"
#include "plan.h"
#include "version.h"
#include "waves.h"

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
	bool audit_first;       /* GOTO: saved and audited at the step it leaves */
	bool chain;             /* GOTO: the next step runs at once, in the same round */
	const char *live_color; /* GOTO: recorded as live for the app after the save */
	bool keep_reason;       /* FINISH: the deployment's reason stays */
	char why[STEP_WHY_MAX];
};

/* ---- what the files share ----
 *
 * The files call down only: the admin requests (actions.c, create.c,
 * status.c) -> waves.c -> the steps (preflight.c, wave.c, gates.c,
 * switch.c, rollback.c) -> what the steps share (dep.c, result.c,
 * traffic.c, gate_job.c, plan_json.c) -> the store, the fleet's ops,
 * strategies/, lib/. A step never calls waves.c nor another step.
 */

#define GATE_RECHECK_MS    5000
#define HOST_OUTPUT_MAX    2048        /* a failed host's hook output in a status */
#define STATUS_OUTPUT_MAX  (64 * 1024) /* all of them */
#define RECONNECT_GRACE_MS 15000
#define BUSY_RETRIES       20 /* a rollback an agent refused as busy is sent again */
#define PROM_TIMEOUT_USEC  (3 * USEC_PER_SEC)

/* One host of a deployment, as the engine sees it. */
struct dep_host {
	int64_t id;
	const char *name;        /* the plan's */
	const char *rollback_to; /* the plan's; NULL: none */
	size_t wave;
	bool up_to_date;
	bool planned_down; /* down when the deployment was made (--force) */
	/* its latest deploy task */
	uint64_t cmd;
	uint64_t final_ms; /* when the coordinator heard it ended */
	char task[16];
	int phase;
	bool activated;
	char *error;
	/* its latest rollback task */
	uint64_t rb_cmd;
	char rb_task[16];
	char *rb_error;
	unsigned rb_retries;
	uint64_t rb_retry_ms;
	uint64_t rb_seen_ms; /* when this run first saw it in flight */
	bool cancel_sent;
	/* its preflight task */
	uint64_t pf_cmd;
	char pf_task[16];
	char *pf_error;
	/* from heartbeats since this coordinator started */
	bool up, healthy, known;
	char current[VERSION_MAX + 1];
	uint64_t healthy_since_ms, last_seen_ms;
	/* the coordinator's verdict that it failed without saying so (silent,
	 * timed out, fell ill in a bake); NULL: none. Kept with its deploy task. */
	char *failed;
	char *output; /* what its deploy's hooks printed */
	/* the release its coordinated rollback sends it to ("": its previous) */
	const char *rb_to;
	/* its deploy or preflight refused as busy: asked again */
	unsigned busy_retries;
	uint64_t busy_retry_ms;
};

struct dep {
	struct dep *next;
	/* row.state and row.step are the store's strings for state and step,
	 * written only by dep_set_state() and dep_set_step() */
	struct deployment_row row;
	enum dep_state state;
	enum wave_step step;
	enum rollback_phase rb_phase; /* where the last rollback tick stopped */
	struct deploy_params params;
	struct plan *plan;
	struct plan *rollback;  /* while rolling back */
	struct dep_host *hosts; /* every planned host, by id */
	size_t n_hosts;
	char verdict[GATE_WHY_MAX]; /* the current wave's latest gate verdict */
	char rb_verdict[GATE_WHY_MAX];
	pid_t switch_pid;
	bool switched_back;        /* this rollback's traffic switch back ran */
	struct gate_job *gate_job; /* the metric gates' queries in flight */
	uint64_t switch_started_ms;
	uint64_t next_gate_ms;
	unsigned gate_rounds; /* of this gates step; 0: none judged yet */
	enum gate_verdict gate_last[DEPLOY_GATES_MAX];
	/* the migrate hook: where it ran and how (tasks of kind migrate and
	 * migrate_down) */
	int64_t migrate_host;
	uint64_t migrate_cmd, migrate_down_cmd;
	char migrate_task[16], migrate_down_task[16];
	char *migrate_error, *migrate_output;
	unsigned migrate_retries; /* refused as busy: asked again */
	uint64_t migrate_retry_ms;
	unsigned migrate_down_retries;
	uint64_t migrate_down_retry_ms;
};

struct waves {
	pthread_mutex_t lock;
	struct dep *deps;
	struct db *db;
	const struct coordinator_config *cfg;
	const struct fleet_ops *fleet;
	void *fleet_ud;
	uint64_t started_ms;
};

#define result_finish(state, ...) result_end(RESULT_FINISH, state, __VA_ARGS__)
#define result_rollback(...)      result_end(RESULT_ROLLBACK, DEP_RUNNING, __VA_ARGS__)

/* The metric gates' queries of one round run on a thread of their own, so
 * a slow or unreachable Prometheus (PROM_TIMEOUT_USEC per query) never
 * stalls the coordinator's loop (down detection, long polls, status). The
 * job belongs to whichever of the thread and the deployment lets go last. */
struct gate_job {
	pthread_mutex_t lock;
	bool done, orphaned;
	size_t n;
	uint64_t at_ms;
	uint64_t step_since_ms; /* the gates step it was started for */
	struct gate_query {
		char *url, *query;
		int rc;
		char *body;
		char err[WIRE_TEXT_MAX];
	} q[DEPLOY_GATES_MAX];
};

/* ---- waves.c: the registry, the tick, the transitions ---- */
uint64_t waves_now(struct waves *e);
void dep_set_step(struct dep *d, enum wave_step step, uint64_t now);
void dep_set_reason(struct dep *d, const char *reason);
void dep_finish_by(struct waves *e, struct dep *d, const char *actor, enum dep_state state,
        const char *reason, uint64_t now);
void dep_begin_rollback(
        struct waves *e, struct dep *d, const char *actor, const char *reason, uint64_t now);
void dep_tick(struct waves *e, struct dep *d, uint64_t now);
int dep_load(const struct deployment_row *row, struct dep **ret, struct rw_err *err);
void waves_add(struct waves *e, struct dep *d);
struct dep *waves_find_dep(struct waves *e, int64_t id);
void dep_resume(struct dep *d, uint64_t now);
int dep_pause(struct waves *e, struct dep *d, const char *actor, uint64_t now);

/* ---- result.c ---- */
struct step_result result_hold(void);
struct step_result result_goto(const struct dep *d, enum wave_step step, const char *action,
        const char *fmt, ...) _printf_(4, 5);
struct step_result result_end(enum step_kind kind, enum dep_state state, const char *fmt, ...)
        _printf_(3, 4);
struct step_result result_next_wave(void);

/* ---- dep.c ---- */
bool dep_task_final(const char *t);
const char *waves_text_tail(const char *text, size_t max);
void dep_free(struct dep *d);
struct dep_host *dep_host(struct dep *d, int64_t id);
int dep_index(struct dep *d);
void dep_index_rollback(struct dep *d);
void waves_utf8_cut_tail(char *s);
int dep_save(struct waves *e, struct dep *d, const char *actor, const char *action, const char *fmt,
        ...) _printf_(5, 6);
bool dep_host_failed(const struct dep_host *h);
size_t dep_count_failed(const struct dep *d, size_t below_wave);
void dep_mark_failed(struct waves *e, struct dep *d, struct dep_host *h, const char *fmt, ...)
        _printf_(4, 5);
int dep_load_tasks(struct waves *e, struct dep *d);
bool waves_app_status(
        const char *apps_json, const char *app, char *current, size_t size, int *health);
void dep_refresh_health(struct waves *e, struct dep *d, size_t wave, bool rollback, uint64_t now);
bool dep_busy_left(unsigned retries, const char *task, const char *error);
bool dep_retry_busy(
        unsigned *retries, uint64_t *next_ms, const char *task, const char *error, uint64_t now);
bool dep_host_migrating(const struct dep *d, const struct dep_host *h);
int dep_send_commands(struct waves *e, struct dep *d, struct dep_host **hs,
        const char *const *versions, size_t n, Rollwave__Command__Kind kind);
int dep_send_command(struct waves *e, struct dep *d, struct dep_host *h,
        Rollwave__Command__Kind kind, const char *version);
uint64_t waves_silence_ms(const struct waves *e);
uint64_t dep_wave_clock_start(
        const struct waves *e, const struct dep *d, const struct plan_wave *w);

/* ---- traffic.c ---- */
int switch_run(
        struct dep *d, const char *cmd, uint64_t timeout_ms, uint64_t now, char *why, size_t size);
void dep_record_live_color(struct waves *e, struct dep *d, const char *color);

/* ---- gate_job.c ---- */
void gate_job_free(struct gate_job *j);
void gate_job_drop(struct dep *d);
struct gate_job *gate_job_take(struct dep *d, uint64_t now);

/* ---- switch.c ---- */
struct step_result step_switch(struct waves *e, struct dep *d, uint64_t now);

/* ---- rollback.c ---- */
void dep_stop_hosts(struct waves *e, struct dep *d);
int dep_plan_rollback(struct dep *d, const char *to_version, struct rw_err *err);
struct step_result step_rollback(struct waves *e, struct dep *d, uint64_t now);

/* ---- preflight.c ---- */
bool dep_preflight_started(const struct dep *d);
struct step_result step_preflight(struct waves *e, struct dep *d, uint64_t now);
struct step_result step_migrate(struct waves *e, struct dep *d, uint64_t now);

/* ---- wave.c ---- */
struct step_result step_start(struct waves *e, struct dep *d, uint64_t now);
struct step_result step_deploying(struct waves *e, struct dep *d, uint64_t now);
struct step_result step_bake(struct waves *e, struct dep *d, uint64_t now);

/* ---- gates.c ---- */
struct step_result step_gates(struct waves *e, struct dep *d, uint64_t now);

/* ---- status.c ---- */
Rollwave__DeploymentStatus *dep_status(struct arena *a, const struct dep *d);
int waves_status_reply(struct arena *a, Rollwave__DeploymentStatus *st,
        Rollwave__AdminResponse **ret, struct rw_err *err);
int waves_admin_status(struct waves *e, const Rollwave__AdminRequest__GetDeploymentStatus *g,
        struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err);
int waves_admin_history(struct waves *e, const Rollwave__AdminRequest__History *h, struct arena *a,
        Rollwave__AdminResponse **ret, struct rw_err *err);

/* ---- create.c ---- */
int waves_admin_create(struct waves *e, const Rollwave__AdminRequest__CreateDeployment *c,
        const char *actor, struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err);

#endif
