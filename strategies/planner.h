/*
 * planner: what the strategy files share. Internal to strategies/: not part
 * of the API the coordinator and the CLI use.
 */
#ifndef ROLLWAVE_STRATEGIES_PLANNER_H
#define ROLLWAVE_STRATEGIES_PLANNER_H

#include "plan.h"

/* Appends a wave named by fmt to plan, with kind and the defaults of p
 * (timeout, MinHealthy, Bake=, metric gates on, no approval, no hosts).
 * *ret points into plan->waves until the next append. */
int planner_wave_add(struct plan *plan, const struct deploy_params *p, enum plan_wave_kind kind,
        struct plan_wave **ret, const char *fmt, ...) _printf_(5, 6);

/* Copies n hosts into w (which must have none yet) for deploying version,
 * and sets w->max_unavailable from MaxUnavailable= of all total hosts. */
int planner_wave_set_hosts(struct plan_wave *w, const struct plan_host *const *hosts, size_t n,
        const char *version, const struct deploy_params *p, size_t total);

/* Fills t from h (rollback_to = h's current version). */
int planner_target_from_host(struct plan_target *t, const struct plan_host *h, const char *version);
void planner_target_done(struct plan_target *t);

/* Whether Approval= asks for an approval before wave index i (0-based). */
bool planner_approval(const struct deploy_params *p, size_t i);

/* Expands TrafficCommand=: %c color, %a app, %v version, %% '%'. -EINVAL on
 * any other '%' sequence; *ret (malloc'd) only on success. */
int planner_command_expand(
        const char *tmpl, const char *color, const char *app, const char *version, char **ret);

/* Planning order of names: natural, digit runs compared as numbers
 * ("web2" before "web10"), then bytewise ("web01" before "web1"). */
int planner_name_compare(const char *a, const char *b);

/* An array of pointers to in->hosts, in order (free() it). */
int planner_pointers(const struct plan_input *in, const struct plan_host ***ret);

/* The hosts of all waves of plan, counted again into n_hosts, n_down,
 * n_up_to_date, failures_allowed and rollback_parallelism. */
void planner_count(struct plan *plan);

#endif
