/*
 * deploy_params: the options of one deployment.
 *
 * They come from command-line flags or from a deployment file checked into
 * the app's repository (format in docs/deployments.md#deployment-file);
 * both go through the one setter, deploy_params_set(), so a key means the
 * same everywhere and every bad value gets the same message. The order of
 * use:
 *
 *   deploy_params_init(&p);                      defaults
 *   deploy_params_load_file(&p, "deploy.ini", &err);   optional
 *   deploy_params_set(&p, "Batch", "10%", &err); ...   flags override
 *   deploy_params_validate(&p, &err);            combinations
 *
 * Keys (matched ignoring case, '-' and '_', so a flag --max-unavailable
 * can pass "max-unavailable"; messages use the names below):
 *
 *   Strategy=       all-at-once | rolling | canary | ring | blue-green  [rolling]
 *   Batch=          N | P%       rolling: hosts per wave               [25%]
 *   MaxUnavailable= N | P%       hosts of a wave deploying at once     [the wave]
 *   Canary=         N | P% | KEY=VALUE   canary: the canary hosts      [1]
 *   Steps=          P%,P%,...,100%  canary: cumulative share of all hosts
 *                   after each step; increasing, ending at 100%  [10%,50%,100%]
 *   RingLabel=      KEY          ring: integer label naming the ring   [ring]
 *   Datacenters=    DC,DC,...    ring: ordered rings by label datacenter=
 *   RingBake=       RING:DURATION,...  ring: bake after these rings
 *   RingApproval=   RING,...     ring: approval before these rings start
 *   UnlabeledHosts= error | last-ring   ring: hosts outside every ring  [error]
 *   Bake=           DURATION     wait after a wave is healthy          [0]
 *   Approval=       no | first | every   approval before the second
 *                   wave only, or before every wave after the first    [no]
 *   MinHealthy=     DURATION     hosts healthy this long to pass       [30s]
 *   FailureBudget=  N | P%       failed hosts tolerated per deployment [0]
 *   WaveTimeout=    DURATION     a wave's hosts healthy within this    [30m]
 *   RollbackParallelism= N | P%  hosts rolled back at once             [100%]
 *   TrafficCommand= COMMAND      blue-green: switches traffic; %c is
 *                   the color, %a the app, %v the version, %% a '%'
 *   LiveColor=      blue | green blue-green: color serving traffic now [inferred]
 *   PrometheusURL=  URL          default URL of metric gates
 *   Freeze=         WINDOW       a deploy-freeze window (freeze.h); repeat
 *                   for more, an empty value clears the list
 *   FreezePolicy=   wait | refuse                                      [wait]
 *   Gate.NAME.Query= .Condition= .MinSamples= .NoData= .URL=
 *                   a metric gate (metric_gate.h), created by its first key
 *
 * N is a host count, P% a percentage with up to two decimals (0.5%, 12.5%).
 * Percentages become host counts by rounding up against the number of hosts
 * they apply to (1% of 50 hosts is 1 host), except FailureBudget=, which
 * rounds down (gates.h). DURATION is 250ms, 30s, 5m, 2h, 1d or bare seconds.
 * RING is a ring's number (RingLabel mode) or datacenter name (Datacenters=).
 */
#ifndef ROLLWAVE_STRATEGIES_DEPLOY_PARAMS_H
#define ROLLWAVE_STRATEGIES_DEPLOY_PARAMS_H

#include "freeze.h"
#include "metric_gate.h"
#include "util.h"

#define DEPLOY_STRATEGY_MAX 32
#define DEPLOY_STEPS_MAX    16
#define DEPLOY_RINGS_MAX    32
#define DEPLOY_RING_MAX     64 /* ring number or datacenter name, with NUL */
#define DEPLOY_LABEL_MAX    320
#define DEPLOY_COMMAND_MAX  1024
#define DEPLOY_URL_MAX      METRIC_GATE_URL_MAX
#define DEPLOY_GATES_MAX    8
#define DEPLOY_FREEZE_MAX   16
#define DEPLOY_PERCENT_ONE  100   /* basis points per 1 % */
#define DEPLOY_PERCENT_ALL  10000 /* 100 % in basis points */

enum deploy_amount_kind {
	DEPLOY_AMOUNT_COUNT,
	DEPLOY_AMOUNT_PERCENT,
};

/* A number of hosts, absolute or relative. */
struct deploy_amount {
	enum deploy_amount_kind kind;
	uint64_t value; /* COUNT: hosts; PERCENT: basis points, 1 % = 100 */
};

enum deploy_approval {
	DEPLOY_APPROVAL_NO,
	DEPLOY_APPROVAL_FIRST, /* before the second wave (after canary, ring 0, batch 1) */
	DEPLOY_APPROVAL_EVERY, /* before every wave but the first */
};

enum deploy_unlabeled {
	DEPLOY_UNLABELED_ERROR,     /* planning fails, naming the hosts */
	DEPLOY_UNLABELED_LAST_RING, /* they join the last ring */
};

struct deploy_ring_bake {
	char ring[DEPLOY_RING_MAX];
	uint64_t bake_usec;
};

/* Every key, as a bit of deploy_params.set. */
enum deploy_key {
	DEPLOY_KEY_STRATEGY,
	DEPLOY_KEY_BATCH,
	DEPLOY_KEY_MAX_UNAVAILABLE,
	DEPLOY_KEY_CANARY,
	DEPLOY_KEY_STEPS,
	DEPLOY_KEY_RING_LABEL,
	DEPLOY_KEY_DATACENTERS,
	DEPLOY_KEY_RING_BAKE,
	DEPLOY_KEY_RING_APPROVAL,
	DEPLOY_KEY_UNLABELED_HOSTS,
	DEPLOY_KEY_BAKE,
	DEPLOY_KEY_APPROVAL,
	DEPLOY_KEY_MIN_HEALTHY,
	DEPLOY_KEY_FAILURE_BUDGET,
	DEPLOY_KEY_WAVE_TIMEOUT,
	DEPLOY_KEY_ROLLBACK_PARALLELISM,
	DEPLOY_KEY_TRAFFIC_COMMAND,
	DEPLOY_KEY_LIVE_COLOR,
	DEPLOY_KEY_PROMETHEUS_URL,
	DEPLOY_KEY_FREEZE,
	DEPLOY_KEY_FREEZE_POLICY,
	DEPLOY_KEY_GATE,
	_DEPLOY_KEY_MAX,
};

/* A plain value: copy it with '=', no destructor. */
struct deploy_params {
	char strategy[DEPLOY_STRATEGY_MAX];

	struct deploy_amount batch;
	struct deploy_amount max_unavailable; /* only if set has DEPLOY_KEY_MAX_UNAVAILABLE */

	struct deploy_amount canary;         /* when canary_label is "" */
	char canary_label[DEPLOY_LABEL_MAX]; /* "key=value" or "" */
	uint64_t steps[DEPLOY_STEPS_MAX];    /* basis points, increasing, last 10000 */
	size_t n_steps;

	char ring_label[DEPLOY_LABEL_MAX]; /* label key */
	char datacenters[DEPLOY_RINGS_MAX][DEPLOY_RING_MAX];
	size_t n_datacenters; /* > 0: rings by datacenter= */
	struct deploy_ring_bake ring_bake[DEPLOY_RINGS_MAX];
	size_t n_ring_bake;
	char ring_approval[DEPLOY_RINGS_MAX][DEPLOY_RING_MAX];
	size_t n_ring_approval;
	enum deploy_unlabeled unlabeled;

	uint64_t bake_usec;
	enum deploy_approval approval;
	uint64_t min_healthy_usec;
	struct deploy_amount failure_budget;
	uint64_t wave_timeout_usec; /* > 0 */
	struct deploy_amount rollback_parallelism;

	char traffic_command[DEPLOY_COMMAND_MAX];
	char live_color[8]; /* "blue", "green" or "" (inferred) */

	char prometheus_url[DEPLOY_URL_MAX];
	struct metric_gate gates[DEPLOY_GATES_MAX];
	size_t n_gates;

	struct freeze_window freeze[DEPLOY_FREEZE_MAX];
	size_t n_freeze;
	enum freeze_policy freeze_policy;

	uint64_t set; /* 1 << enum deploy_key for every key given explicitly */
};

/* Where a key belongs: its name, its section in a deployment file, the one
 * strategy it applies to (NULL: all), its syntax and a line of help. For
 * --help output and the plan printer. */
struct deploy_key_info {
	enum deploy_key key;
	const char *name;
	const char *section;
	const char *strategy;
	const char *syntax;
	const char *help;
};

/* The values Approval= and UnlabeledHosts= take, as written in a
 * deployment file: "no", "first", "every"; "error", "last-ring". */
const char *deploy_approval_to_string(enum deploy_approval a);
const char *deploy_unlabeled_to_string(enum deploy_unlabeled u);

/* The table of keys, in documentation order (the Gate.NAME.* keys are one
 * entry named "Gate.NAME.*"). */
const struct deploy_key_info *deploy_params_keys(size_t *ret_n);

/* Resets p to the defaults above. */
void deploy_params_init(struct deploy_params *p);

/* Sets one option. Unknown keys, bad values and list overflows fail with
 * -EINVAL (-E2BIG, -ENAMETOOLONG) and an err message that names the key and
 * quotes the value, e.g. "Batch= takes N hosts or P%, got '0'". On failure p
 * is unchanged. Combinations are checked by deploy_params_validate(). */
int deploy_params_set(
        struct deploy_params *p, const char *key, const char *value, struct rw_err *err);

/* Checks what single keys cannot: the strategy exists and accepts every key
 * that was set (Steps= with Strategy=rolling is an error), Datacenters= and
 * RingLabel= are not both set, blue-green has a TrafficCommand=, every
 * metric gate has a query, a condition and a URL (its own or
 * PrometheusURL=), then the strategy's own validate(). */
int deploy_params_validate(const struct deploy_params *p, struct rw_err *err);

/* Applies a deployment file on top of p (format in
 * docs/deployments.md#deployment-file). Errors come back as
 * "NAME:LINE: message". p may be partly updated on failure. Does not
 * validate. */
int deploy_params_load_buffer(
        struct deploy_params *p, const char *name, const char *buf, size_t len, struct rw_err *err);
int deploy_params_load_file(struct deploy_params *p, const char *path, struct rw_err *err);

/* Writes p as a deployment file that deploy_params_load_buffer() reads back
 * into the same options: the effective value of every key that applies to
 * p->strategy (defaults included, so that a stored deployment does not
 * change when defaults do), every freeze window and every gate. For storing
 * a deployment's options (the coordinator resumes from it) and showing them
 * (rollwave plan). *ret is malloc'd, NUL-terminated. -ENOMEM. */
int deploy_params_to_ini(const struct deploy_params *p, char **ret);

/* Finds a gate by name, NULL if there is none. */
const struct metric_gate *deploy_params_gate(const struct deploy_params *p, const char *name);
/* The URL gate g is queried at: its own or PrometheusURL=. */
const char *deploy_params_gate_url(const struct deploy_params *p, const struct metric_gate *g);

/* Parses "N" (allow_zero: N >= 0, else N >= 1) or "P%" (0 < P <= 100, or
 * 0 <= P with allow_zero; at most two decimals). -EINVAL otherwise. */
int deploy_amount_parse(const char *s, bool allow_zero, struct deploy_amount *ret);
/* The hosts a batch-like amount means out of n: a count capped at n, a
 * percentage rounded up (1% of 50 is 1; 0% is 0). */
size_t deploy_amount_hosts(const struct deploy_amount *a, size_t n);
/* "3" or "12.5%". */
void deploy_amount_format(const struct deploy_amount *a, char *buf, size_t size);

/* "0", "250ms", "30s", "90m", "2h", "1d": in the largest unit that divides
 * usec exactly, so parse_duration_usec() reads it back (sub-millisecond
 * parts are dropped). */
void deploy_duration_format(uint64_t usec, char *buf, size_t size);

/* The ring bake for ring (a number or datacenter name): RingBake= if it
 * names it, else Bake=. */
uint64_t deploy_params_ring_bake(const struct deploy_params *p, const char *ring);
/* True if RingApproval= names ring. */
bool deploy_params_ring_approval(const struct deploy_params *p, const char *ring);

#endif
