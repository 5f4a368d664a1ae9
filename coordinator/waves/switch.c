/*
 * waves/switch.c: blue-green: the traffic switch of a switch wave (its command runs
 * through traffic.c).
 */
#include "waves_private.h"

/* The traffic switch of a blue-green wave. */
struct step_result
step_switch(struct waves *e, struct dep *d, uint64_t now)
{
	const struct plan_wave *w = &d->plan->waves[d->row.wave];
	char why[GATE_WHY_MAX];
	struct step_result r;
	int q;

	(void)e;
	q = switch_run(d, w->command, w->timeout_usec / 1000, now, why, sizeof(why));
	if (q == 0)
		return result_hold();
	strbuf_printf(d->verdict, sizeof(d->verdict), "%s", why);
	if (q < 0)
		return result_rollback("%s", why);
	r = result_goto(d, STEP_BAKE, "deploy.switch", "%s", why);
	r.live_color = d->plan->idle_color;
	return r;
}
