/*
 * plan: the waves of a deployment and of its rollback, as data.
 *
 * A plan is what `rollwave plan` prints and what the coordinator runs: an
 * ordered list of waves, each with its hosts and the gates around it, and
 * the deployment-wide gates (failure budget, metric gates, freeze windows,
 * in plan.params). Planners (strategy.h) make plans from the eligible hosts
 * and deploy_params; they are pure and deterministic: hosts are taken in
 * planning order, whatever order they came in: by name in natural order
 * (digit runs compare as numbers: web2 before web10; then bytewise, web01
 * before web1), then by id.
 *
 * How the coordinator runs wave i (gates.h has the evaluators):
 *
 *   freeze gate -> approval (if wave.approval) -> deploy to wave.hosts,
 *   at most wave.max_unavailable at once -> wave health (every host
 *   committed and healthy for wave.min_healthy_usec, within
 *   wave.timeout_usec, failures within the budget) -> bake wave.bake_usec
 *   -> metric gates (if wave.metric_gates) -> wave i+1
 *
 * A SWITCH wave has no hosts: it runs wave.command (blue-green's traffic
 * switch) instead of deploying, which must succeed within timeout_usec; its
 * bake and metric gates follow the switch (min_healthy_usec is 0). A failed
 * gate makes the deployment fail and roll back (plan_rollback()).
 *
 * Down hosts are planned like any other and flagged (plan_target.down,
 * plan.n_down) so a preflight can refuse or skip them; a down host that
 * stays down fails its wave's health gate.
 */
#ifndef ROLLWAVE_STRATEGIES_PLAN_H
#define ROLLWAVE_STRATEGIES_PLAN_H

#include "deploy_params.h"

/* A host as the planners get it: eligible for the deployment (selectors
 * already applied). Borrowed: the plan copies what it keeps. */
struct plan_host {
	int64_t id;          /* unique */
	const char *name;    /* non-empty */
	char *const *labels; /* NULL-terminated "key=value" strings, or NULL;
	                       * strv_split() turns "k=v k=v" into this */
	bool up;
	const char *current_version; /* of the app; NULL or "": not installed */
};

struct plan_input {
	const char *app;     /* app_name_is_valid() */
	const char *version; /* version_is_valid(): the version being deployed */
	const struct plan_host *hosts;
	size_t n_hosts;
};

/* A host in a wave. */
struct plan_target {
	int64_t id;
	char *name;
	char *rollback_to; /* the release it goes back to on rollback (the one it
	                    * runs when planned); NULL: it has none */
	bool down;
	bool up_to_date; /* already runs the version being deployed */
};

enum plan_wave_kind {
	PLAN_WAVE_DEPLOY,   /* install and activate the version on the hosts */
	PLAN_WAVE_SWITCH,   /* run command (traffic switch); no hosts */
	PLAN_WAVE_ROLLBACK, /* return the hosts to their rollback_to release */
};

struct plan_wave {
	enum plan_wave_kind kind;
	char *name; /* "all", "batch 3/7", "canary", "step 10%", "ring 1",
	             * "ring 0 (dc1)", "green", "switch to green", "rollback 1/2" */
	struct plan_target *hosts;
	size_t n_hosts;
	size_t max_unavailable;    /* hosts deploying at once, 1..n_hosts (0 if none) */
	bool approval;             /* wait for a manual approval before starting */
	uint64_t bake_usec;        /* wait after the wave is healthy */
	uint64_t timeout_usec;     /* the wave must be healthy within this */
	uint64_t min_healthy_usec; /* each host healthy this long */
	bool metric_gates;         /* evaluate plan.params.gates after the bake */
	char *command;             /* SWITCH: the expanded traffic command */
};

struct plan {
	char *app, *version;
	struct deploy_params params; /* as validated: gates, freeze, policies */
	struct plan_wave *waves;
	size_t n_waves;

	size_t n_hosts;          /* hosts in all waves */
	size_t n_down;           /* of them down when planned */
	size_t n_up_to_date;     /* of them already at version */
	size_t failures_allowed; /* FailureBudget= resolved against n_hosts */
	/* RollbackParallelism= resolved against n_hosts: hosts per batch if
	 * every host rolled back (at least 1). */
	size_t rollback_parallelism;

	/* blue-green: colors and the hosts of the live color, which keep their
	 * release so that traffic can switch back to them at once. "" and none
	 * for the other strategies. In a rollback plan that switches traffic
	 * back, live_color is the color it goes back to. */
	char idle_color[8], live_color[8];
	struct plan_target *kept;
	size_t n_kept;

	/* What a rollback would do if every host of every wave had activated the
	 * version (and, blue-green, traffic had been switched): for printing.
	 * NULL in a rollback plan itself. Owned. */
	struct plan *rollback;
};

/* Frees p and everything it owns; accepts NULL. */
void plan_free(struct plan *p);
static inline void
plan_freep(struct plan **p)
{
	plan_free(*p);
}
#define _cleanup_plan_free_ _cleanup_(plan_freep)

/* "deploy", "switch", "rollback". */
const char *plan_wave_kind_to_string(enum plan_wave_kind k);

/* The value of label key on h, NULL if h has none. */
const char *plan_host_label(const struct plan_host *h, const char *key);

/* ---- rollback ----
 *
 * Coordinated rollback: every host that activated the new version returns
 * to the release it ran before (already on disk), in batches of
 * RollbackParallelism= (of the hosts rolled back, rounded up), with no
 * canary, bake, approval, freeze or metric gate; each batch must be
 * healthy for MinHealthy= within WaveTimeout=. Blue-green whose traffic was
 * switched first switches it back to the old color (a SWITCH wave running
 * TrafficCommand= with %c the old color), then rolls the new color's hosts
 * back. A host with no previous release (to_version NULL) is planned with
 * rollback_to NULL: the coordinator decides what that means. */

struct rollback_host {
	int64_t id;
	const char *name;
	const char *to_version; /* the release it ran before; NULL or "": none */
	bool up;
};

struct rollback_input {
	const char *app;
	const char *version; /* the version being rolled back (for %v) */
	const struct rollback_host *hosts;
	size_t n_hosts; /* may be 0: then only the switch back, or nothing */
	/* blue-green: traffic was switched; switch it back to this color first.
	 * NULL: no switch. */
	const char *switch_back_to;
};

/* Plans the rollback of in with p (validated). *ret only on success. */
int plan_rollback(const struct deploy_params *p, const struct rollback_input *in, struct plan **ret,
        struct rw_err *err);

#endif
