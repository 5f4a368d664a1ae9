/*
 * gates: the checks between waves that need no Prometheus and no calendar
 * (those are metric_gate.h and freeze.h): wave health, failure budget, bake
 * and manual approval. All pure; `now` is realtime in usec, passed in so
 * tests can use a fake clock.
 *
 * Failure budget (FailureBudget=, per deployment): how many hosts may fail
 * before the deployment fails and rolls back everyone.
 *   N   at most N failed hosts; the N+1th breaches. 0 (the default): the
 *       first failure breaches.
 *   P%  at most floor(P% of the deployment's hosts) failed hosts, i.e. the
 *       budget is breached when failed/hosts > P%. Rounding down keeps the
 *       budget a ceiling: 10% of 20 hosts allows 2 failures and the 3rd
 *       breaches; 10% of 25 allows 2 (3 would be 12%); 10% of 5 allows
 *       none.
 * A failed host is one that failed to install or activate, rolled back
 * locally, fell silent, or was not healthy when its wave timed out.
 */
#ifndef ROLLWAVE_STRATEGIES_GATES_H
#define ROLLWAVE_STRATEGIES_GATES_H

#include "deploy_params.h"
#include "gate_result.h"

/* ---- failure budget ---- */

/* Failures allowed out of n_hosts (rules above). */
size_t gate_budget_allowed(const struct deploy_amount *budget, size_t n_hosts);

/* PASS while n_failed <= allowed, FAIL beyond; why shows failed, allowed,
 * budget and hosts ("3 failed hosts breach FailureBudget=10% of 20 hosts
 * (2 allowed)"). */
void gate_budget_evaluate(const struct deploy_amount *budget, size_t n_hosts, size_t n_failed,
        struct gate_result *ret);

/* ---- wave health ---- */

enum wave_host_state {
	WAVE_HOST_PENDING,   /* queued, sent, installing, activating */
	WAVE_HOST_COMMITTED, /* the agent committed the release */
	WAVE_HOST_FAILED,    /* failed, refused, or rolled back locally */
};

/* What the coordinator knows of one host of the wave. */
struct wave_host_status {
	int64_t id;
	const char *name;
	enum wave_host_state state;
	bool healthy;                /* its latest health report */
	uint64_t healthy_since_usec; /* start of its current healthy streak */
	uint64_t last_seen_usec;     /* last heartbeat or report; 0: never */
};

struct wave_health_input {
	const struct wave_host_status *hosts;
	size_t n_hosts;
	uint64_t started_usec;     /* when the wave started */
	uint64_t timeout_usec;     /* WaveTimeout= */
	uint64_t min_healthy_usec; /* MinHealthy= */
	/* A host not heard from for this long (since its last report, or since
	 * the wave started if later) is silent, which counts as failed. 0: no
	 * silence check. */
	uint64_t silence_usec;
	/* The failure budget over the whole deployment. */
	struct deploy_amount budget;
	size_t deployment_hosts; /* plan.n_hosts */
	size_t failed_before;    /* hosts failed in earlier waves */
};

/* The wave health gate. Each host is
 *   ok       committed, healthy, and healthy for >= min_healthy_usec
 *   waiting  pending, or committed but not (long enough) healthy, while
 *            the wave is younger than timeout_usec
 *   failed   WAVE_HOST_FAILED, silent, or still waiting at the timeout
 * and the wave
 *   FAIL  when failed_before + failed hosts breach the budget
 *   HOLD  else while any host is waiting (recheck_usec: the earliest time
 *         one of them could become ok, silent or timed out)
 *   PASS  else (every host ok, or failed within the budget)
 * ret_hosts (optional, n_hosts entries) gets each host's own verdict (PASS
 * ok, HOLD waiting, FAIL failed) so the caller can count the failures.
 * why names the failed and waiting hosts with their reason. */
void gate_wave_health_evaluate(const struct wave_health_input *in, uint64_t now,
        enum gate_verdict *ret_hosts, struct gate_result *ret);

/* ---- bake ---- */

/* PASS once now >= healthy_at_usec + bake_usec (the wave became healthy at
 * healthy_at_usec), else HOLD until then. */
void gate_bake_evaluate(
        uint64_t healthy_at_usec, uint64_t bake_usec, uint64_t now, struct gate_result *ret);

/* ---- manual approval ---- */

struct gate_approval {
	const char *by;   /* who approved */
	uint64_t at_usec; /* when */
};

/* required false: PASS. Else PASS if approval is non-NULL (an approval of
 * this wave), HOLD otherwise ("waiting 12m for approval of 'ring 1'",
 * counting from waiting_since_usec). recheck_usec stays 0. */
void gate_approval_evaluate(bool required, const char *wave, const struct gate_approval *approval,
        uint64_t waiting_since_usec, uint64_t now, struct gate_result *ret);

#endif
