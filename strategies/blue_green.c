/*
 * blue_green: two colors of hosts, label color=blue or color=green on every
 * eligible host (anything else is an error naming the host).
 *
 * The live color serves traffic; the other is idle. LiveColor= says which
 * is live (the coordinator passes what it recorded at the last switch).
 * Without it the live color is inferred only when that is unambiguous: the
 * color whose hosts run the app while no host of the other color does.
 * Otherwise (both or neither run it) planning fails and asks for
 * LiveColor=: guessing from versions would be wrong right after a
 * switch-back. Both colors must have hosts.
 *
 * Waves:
 *   IDLE              deploy to every idle host (MaxUnavailable= at once);
 *                     wave health and Bake=, no metric gates (it has no
 *                     traffic yet)
 *   switch to IDLE    TrafficCommand= with %c = IDLE; approval if
 *                     Approval= is first or every; then Bake= and the
 *                     metric gates, now on real traffic
 * The live color's hosts are not touched (plan.kept): rollback switches
 * traffic back to them at once, then returns the idle hosts to their
 * previous release.
 */
#include "planner.h"
#include "strategy.h"

static const char *const colors[] = {"blue", "green"};

/* Sorts the hosts into by_color[0] (blue) and [1] (green), n[] of each,
 * running[] of each with a version; both colors must have hosts. */
static int
split_colors(const struct plan_input *in, const struct plan_host **by_color[2], size_t n[2],
        size_t running[2], struct rw_err *err)
{
	for (size_t i = 0; i < in->n_hosts; i++) {
		const struct plan_host *h = &in->hosts[i];
		const char *color = plan_host_label(h, "color");
		int c;

		if (!color)
			return rw_err_set(err, -EINVAL,
			        "host '%s' has no color label; blue-green needs color=blue or "
			        "color=green on every host",
			        h->name);
		if (streq(color, "blue"))
			c = 0;
		else if (streq(color, "green"))
			c = 1;
		else
			return rw_err_set(err, -EINVAL,
			        "host '%s' has color=%s; blue-green needs color=blue or "
			        "color=green",
			        h->name, color);
		by_color[c][n[c]++] = h;
		running[c] += !isempty(h->current_version);
	}
	for (int c = 0; c < 2; c++)
		if (n[c] == 0)
			return rw_err_set(err, -ENOENT,
			        "no eligible host has color=%s; blue-green needs both colors",
			        colors[c]);
	return 0;
}

static int
blue_green_plan(const struct deploy_params *p, const struct plan_input *in, struct plan *plan,
        struct rw_err *err)
{
	_cleanup_free_ const struct plan_host **blue = NULL, **green = NULL;
	const struct plan_host **by_color[2];
	size_t n[2] = {0, 0}, running[2] = {0, 0};
	int live, idle, r;
	struct plan_wave *w;

	blue = calloc(in->n_hosts, sizeof(*blue));
	green = calloc(in->n_hosts, sizeof(*green));
	if (!blue || !green)
		return -ENOMEM;
	by_color[0] = blue;
	by_color[1] = green;
	r = split_colors(in, by_color, n, running, err);
	if (r < 0)
		return r;

	if (p->live_color[0])
		live = streq(p->live_color, "blue") ? 0 : 1;
	else if ((running[0] > 0) != (running[1] > 0))
		live = running[0] > 0 ? 0 : 1;
	else
		return rw_err_set(err, -EINVAL,
		        "cannot tell which color is live: %s %s (blue: %zu of %zu hosts, green: "
		        "%zu of %zu); set LiveColor=blue or LiveColor=green",
		        running[0] > 0 ? "both colors run" : "neither color runs", in->app,
		        running[0], n[0], running[1], n[1]);
	idle = 1 - live;
	strcpy(plan->live_color, colors[live]);
	strcpy(plan->idle_color, colors[idle]);

	r = planner_wave_add(plan, p, PLAN_WAVE_DEPLOY, &w, "%s", colors[idle]);
	if (r < 0)
		return r;
	w->metric_gates = false;
	r = planner_wave_set_hosts(w, by_color[idle], n[idle], in->version, p, n[idle]);
	if (r < 0)
		return r;

	r = planner_wave_add(plan, p, PLAN_WAVE_SWITCH, &w, "switch to %s", colors[idle]);
	if (r < 0)
		return r;
	w->approval = planner_approval(p, 1);
	w->min_healthy_usec = 0;
	r = planner_command_expand(
	        p->traffic_command, colors[idle], in->app, in->version, &w->command);
	if (r < 0)
		return r;

	plan->kept = calloc(n[live], sizeof(*plan->kept));
	if (!plan->kept)
		return -ENOMEM;
	for (size_t i = 0; i < n[live]; i++) {
		r = planner_target_from_host(&plan->kept[i], by_color[live][i], in->version);
		if (r < 0)
			return r;
		plan->n_kept = i + 1;
	}
	return 0;
}

static int
blue_green_validate(const struct deploy_params *p, struct rw_err *err)
{
	if (isempty(p->traffic_command))
		return rw_err_set(err, -EINVAL,
		        "Strategy=blue-green needs TrafficCommand= (the command that switches "
		        "traffic to color %%c)");
	return 0;
}

const struct strategy_ops strategy_blue_green = {
        .name = "blue-green",
        .summary = "deploy to the idle color (label color=blue|green), then TrafficCommand=",
        .validate = blue_green_validate,
        .plan = blue_green_plan,
};
