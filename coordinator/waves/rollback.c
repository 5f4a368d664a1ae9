/*
 * waves/rollback.c: the coordinated rollback: its plan and its phases (drawn in
 * waves_private.h).
 */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>

#include "strategy.h"
#include "waves_private.h"

/* ---- rollback ---- */

/* Stops every host mid-command (a deploy, or the migrate hook) not yet
 * told to: a command still waiting in a host's queue (the host is down or
 * has not polled) is taken back and its task cancelled; the others get a
 * CANCEL, obeyed at their next safe point. */
void
dep_stop_hosts(struct waves *e, struct dep *d)
{
	_cleanup_free_ struct dep_host **hs = calloc(d->n_hosts + 1, sizeof(*hs));
	size_t k = 0;

	for (size_t i = 0; hs && i < d->n_hosts; i++) {
		struct dep_host *h = &d->hosts[i];
		bool migrating = dep_host_migrating(d, h);

		if (h->cancel_sent || (!migrating && !(h->cmd && !dep_task_final(h->task))))
			continue;
		if (!migrating && streq(h->task, "queued") &&
		        e->fleet->unqueue_command(e->fleet_ud, h->id, h->cmd) == 1) {
			(void)db_task_update(e->db, h->id, h->cmd, "cancelled", -1,
			        "cancelled by the coordinator before it was sent");
			strbuf_printf(h->task, sizeof(h->task), "cancelled");
			continue;
		}
		hs[k++] = h;
	}
	if (k)
		(void)dep_send_commands(e, d, hs, NULL, k, ROLLWAVE__COMMAND__KIND__CANCEL);
}

/* Whether the blue-green traffic switch of this deployment ran. */
static bool
switched(const struct dep *d)
{
	for (size_t w = 0; w < d->plan->n_waves && w < (size_t)d->row.wave + 1; w++)
		if (d->plan->waves[w].kind == PLAN_WAVE_SWITCH &&
		        (w < (size_t)d->row.wave || d->step != STEP_SWITCH))
			return true;
	return false;
}

int
dep_plan_rollback(struct dep *d, const char *to_version, struct rw_err *err)
{
	struct rollback_host *rh = calloc(d->n_hosts ? d->n_hosts : 1, sizeof(*rh));
	struct rollback_input in = {
	        .app = d->row.app,
	        .version = d->row.version,
	        .hosts = rh,
	        .switch_back_to = NULL,
	};
	size_t n = 0;
	int r;

	if (!rh)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_hosts; i++) {
		struct dep_host *h = &d->hosts[i];

		/* Activated, or down with its deploy's outcome unknown. */
		if (!h->activated && !(h->cmd && !dep_task_final(h->task)))
			continue;
		rh[n++] = (struct rollback_host) {
		        .id = h->id,
		        .name = h->name,
		        .to_version = !isempty(to_version) ? to_version : h->rollback_to,
		        .up = h->up,
		};
	}
	in.n_hosts = n;
	if (d->plan->live_color[0] && switched(d))
		in.switch_back_to = d->plan->live_color;
	r = plan_rollback(&d->params, &in, &d->rollback, err);
	free(rh);
	return r;
}

/* What one tick of the rollback gathers on its way through the phases. */
struct rb_tick {
	size_t deferred; /* hosts down: their rollback waits in their queue */
	char down[256];  /* their names */
};

/* Each phase: true when it is over (on to the next), false to stop this
 * tick with *r (hold, or the end). */
typedef bool rb_phase_fn(
        struct waves *e, struct dep *d, struct rb_tick *t, uint64_t now, struct step_result *r);

/* A migrate hook still running must stop (or end) first: whether
 * migrate_down is owed depends on it. */
static bool
rb_wait_migrate(
        struct waves *e, struct dep *d, struct rb_tick *t, uint64_t now, struct step_result *r)
{
	(void)e, (void)t, (void)now, (void)r;
	if (d->migrate_cmd && !dep_task_final(d->migrate_task)) {
		struct dep_host *mh = dep_host(d, d->migrate_host);

		if (mh && mh->up) {
			strbuf_printf(d->rb_verdict, sizeof(d->rb_verdict),
			        "waiting for the migrate hook on host %" PRId64 " (%s) to stop",
			        mh->id, mh->name);
			return false;
		}
	}
	return true;
}

/* Every host that was deploying must have stopped (or be down: then
 * nobody knows until it is back). */
static bool
rb_stop_deploying(
        struct waves *e, struct dep *d, struct rb_tick *t, uint64_t now, struct step_result *r)
{
	(void)e, (void)t, (void)now, (void)r;
	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].cmd && !dep_task_final(d->hosts[i].task) && d->hosts[i].up) {
			strbuf_printf(d->rb_verdict, sizeof(d->rb_verdict),
			        "waiting for host %" PRId64 " (%s) to stop deploying",
			        d->hosts[i].id, d->hosts[i].name);
			return false;
		}
	return true;
}

static bool
rb_plan(struct waves *e, struct dep *d, struct rb_tick *t, uint64_t now, struct step_result *r)
{
	struct rw_err err = {{0}};

	(void)t, (void)now;
	if (d->rollback)
		return true;
	if (dep_plan_rollback(d, NULL, &err) < 0) {
		*r = result_finish(DEP_FAILED, "%s", err.msg);
		return false;
	}
	dep_index_rollback(d);
	dep_save(e, d, "coordinator", "deploy.rollback_plan", "%zu host(s) in %zu wave(s)",
	        d->rollback->n_hosts, d->rollback->n_waves);
	return true;
}

/* The traffic switch back, once per rollback (a restart may run it again:
 * traffic commands must be idempotent, as a switch to a color already live
 * is): 1 done, 0 running, -1 failed (*r). */
static int
rb_switch_back(struct waves *e, struct dep *d, const struct plan_wave *rw, uint64_t now,
        struct step_result *r)
{
	char why[GATE_WHY_MAX];
	int q;

	if (d->switched_back)
		return 1;
	q = switch_run(d, rw->command, rw->timeout_usec / 1000, now, why, sizeof(why));
	if (q == 0)
		return 0;
	strbuf_printf(
	        d->rb_verdict, sizeof(d->rb_verdict), "%s%s", q > 0 ? "switched back: " : "", why);
	dep_save(e, d, "coordinator", q > 0 ? "deploy.switch_back" : "deploy.switch_back_failed",
	        "%s", why);
	if (q < 0) {
		*r = result_finish(DEP_FAILED, "%s", why);
		return -1;
	}
	dep_record_live_color(e, d, d->plan->live_color);
	d->switched_back = true;
	return 1;
}

/* An agent that is up but never acknowledges its rollback must not hold
 * the rollback for ever: WaveTimeout= bounds it (one it runs reports,
 * bounded by the agent's own deadlines). True if it timed out now. */
static bool
rb_host_timed_out(struct waves *e, struct dep_host *h, const struct plan_wave *rw, uint64_t now)
{
	char msg[128];

	if (!h->rb_seen_ms)
		h->rb_seen_ms = now;
	if (!rw->timeout_usec || !(streq(h->rb_task, "queued") || streq(h->rb_task, "sent")) ||
	        now <= h->rb_seen_ms || now - h->rb_seen_ms <= rw->timeout_usec / USEC_PER_MSEC)
		return false;
	strbuf_printf(msg, sizeof(msg),
	        "no answer to its rollback within WaveTimeout=%" PRIu64 " s",
	        rw->timeout_usec / USEC_PER_SEC);
	(void)e->fleet->unqueue_command(e->fleet_ud, h->id, h->rb_cmd);
	(void)db_task_update(e->db, h->id, h->rb_cmd, "failed", -1, msg);
	strbuf_printf(h->rb_task, sizeof(h->rb_task), "failed");
	free(h->rb_error);
	h->rb_error = strdup(msg);
	return true;
}

/* One wave of the rollback plan: true once each of its hosts is rolled
 * back, failed, or down with its rollback queued. */
static bool
rb_wave(struct waves *e, struct dep *d, struct rb_tick *t, const struct plan_wave *rw, uint64_t now)
{
	_cleanup_free_ struct dep_host **hs = calloc(rw->n_hosts + 1, sizeof(*hs));
	_cleanup_free_ const char **vs = calloc(rw->n_hosts + 1, sizeof(*vs));
	size_t in_flight = 0, done = 0, k = 0;
	size_t limit = rw->max_unavailable ? rw->max_unavailable : rw->n_hosts;

	for (size_t i = 0; i < rw->n_hosts; i++) {
		struct dep_host *h = dep_host(d, rw->hosts[i].id);

		if (!h)
			continue;
		/* An agent still finishing something refuses as busy: ask
		 * again (the rollback must happen). */
		if (h->rb_cmd &&
		        dep_retry_busy(
		                &h->rb_retries, &h->rb_retry_ms, h->rb_task, h->rb_error, now))
			(void)dep_send_command(e, d, h, ROLLWAVE__COMMAND__KIND__ROLLBACK,
			        rw->hosts[i].rollback_to);
		if (h->rb_cmd && dep_task_final(h->rb_task) &&
		        !dep_busy_left(h->rb_retries, h->rb_task, h->rb_error))
			done++;
		else if (h->rb_cmd && !h->up) {
			/* Down: its rollback waits in its queue. */
			done++;
			t->deferred++;
			strbuf_printf(t->down + strlen(t->down), sizeof(t->down) - strlen(t->down),
			        "%s%s", t->down[0] ? ", " : "", h->name);
		} else if (h->rb_cmd) {
			if (rb_host_timed_out(e, h, rw, now))
				done++;
			else
				in_flight++;
		}
	}
	for (size_t i = 0; hs && vs && i < rw->n_hosts && in_flight + k < limit; i++) {
		struct dep_host *h = dep_host(d, rw->hosts[i].id);

		if (!h || h->rb_cmd)
			continue;
		hs[k] = h;
		vs[k++] = rw->hosts[i].rollback_to;
	}
	if (k)
		(void)dep_send_commands(e, d, hs, vs, k, ROLLWAVE__COMMAND__KIND__ROLLBACK);
	if (done < rw->n_hosts) {
		strbuf_printf(d->rb_verdict, sizeof(d->rb_verdict),
		        "%s: %zu of %zu hosts rolled back", rw->name, done, rw->n_hosts);
		return false;
	}
	return true;
}

/* The rollback plan's waves in order, the traffic switch back among them. */
static bool
rb_waves(struct waves *e, struct dep *d, struct rb_tick *t, uint64_t now, struct step_result *r)
{
	for (size_t w = 0; w < d->rollback->n_waves; w++) {
		const struct plan_wave *rw = &d->rollback->waves[w];

		if (rw->kind == PLAN_WAVE_SWITCH) {
			if (rb_switch_back(e, d, rw, now, r) <= 0)
				return false;
			continue;
		}
		if (!rb_wave(e, d, t, rw, now))
			return false;
	}
	return true;
}

/* migrate_down once, on the host where migrate ran (and found a migrate
 * hook), after every host is back on the old release. A busy agent is
 * asked again; a host that is down gets it queued. */
static bool
rb_migrate_down(
        struct waves *e, struct dep *d, struct rb_tick *t, uint64_t now, struct step_result *r)
{
	struct dep_host *h;
	bool busy;

	(void)r;
	if (!streq(d->migrate_task, "committed") || streq(d->migrate_error ?: "", TASK_HOOK_ABSENT))
		return true;
	h = dep_host(d, d->migrate_host);
	busy = streq(d->migrate_down_task, "refused") && d->migrate_down_retries < BUSY_RETRIES;
	if (h && (!d->migrate_down_task[0] || (busy && now >= d->migrate_down_retry_ms))) {
		if (busy) {
			d->migrate_down_retries++;
			d->migrate_down_retry_ms = now + 1000;
		}
		(void)dep_send_command(
		        e, d, h, ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN, d->row.version);
		dep_save(e, d, "coordinator", "deploy.migrate_down", "on host %" PRId64 " (%s)",
		        h->id, h->name);
	}
	if (h && !dep_task_final(d->migrate_down_task) && !h->up) {
		t->deferred++;
		strbuf_printf(t->down + strlen(t->down), sizeof(t->down) - strlen(t->down),
		        "%s%s (migrate_down)", t->down[0] ? ", " : "", h->name);
	} else if (!dep_task_final(d->migrate_down_task) || busy) {
		strbuf_printf(d->rb_verdict, sizeof(d->rb_verdict),
		        "migrate_down runs on host %" PRId64, d->migrate_host);
		return false;
	}
	return true;
}

/* rolled_back, or failed if a host's rollback (or migrate_down) failed. */
static bool
rb_done(struct waves *e, struct dep *d, struct rb_tick *t, uint64_t now, struct step_result *r)
{
	char why[GATE_WHY_MAX];
	size_t failed = 0;

	(void)e, (void)now;
	for (size_t w = 0; w < d->rollback->n_waves; w++)
		for (size_t i = 0; i < d->rollback->waves[w].n_hosts; i++) {
			struct dep_host *h = dep_host(d, d->rollback->waves[w].hosts[i].id);

			if (h && !streq(h->rb_task, "committed") && dep_task_final(h->rb_task))
				failed++;
		}
	if (dep_task_final(d->migrate_down_task) && !streq(d->migrate_down_task, "committed"))
		failed++;
	if (failed) {
		strbuf_printf(why, sizeof(why), "%s; the rollback failed on %zu host(s)",
		        d->row.reason, failed);
		*r = result_finish(DEP_FAILED, "%s", why);
	} else if (t->deferred) {
		strbuf_printf(why, sizeof(why),
		        "%s; down during the rollback, %s get%s the rollback queued for when %s "
		        "reconnect%s",
		        d->row.reason, t->down, t->deferred == 1 ? "s" : "",
		        t->deferred == 1 ? "it" : "they", t->deferred == 1 ? "s" : "");
		*r = result_finish(DEP_ROLLED_BACK, "%s", why);
	} else {
		*r = result_finish(DEP_ROLLED_BACK, "%s", "");
		r->keep_reason = true;
	}
	return false;
}

static rb_phase_fn *const rb_phases[_RB_PHASE_MAX] = {
        [RB_WAIT_MIGRATE] = rb_wait_migrate,
        [RB_STOP_DEPLOYING] = rb_stop_deploying,
        [RB_PLAN] = rb_plan,
        [RB_WAVES] = rb_waves,
        [RB_MIGRATE_DOWN] = rb_migrate_down,
        [RB_DONE] = rb_done,
};

/* Checks the rollback's phases move one at a time, in order, each tick
 * starting again at the first. */
static void
assert_rollback_phase(const struct dep *d, enum rollback_phase next)
{
	assert(next == RB_WAIT_MIGRATE || next == d->rb_phase + 1);
	(void)d, (void)next;
}

/* The coordinated rollback, one tick (drawn in waves_private.h). A host
 * that is down cannot hold the rollback of the others: what it did with
 * its deploy is unknown until it reconnects, so it gets a rollback to its
 * old release queued like the hosts that activated (a no-op if it never
 * deployed), and the rollback goes on without its answer. h->up is fresh:
 * dep_refresh_health() runs before every step_rollback(). */
struct step_result
step_rollback(struct waves *e, struct dep *d, uint64_t now)
{
	struct step_result r = result_hold();
	struct rb_tick t = {.down = ""};

	for (unsigned p = RB_WAIT_MIGRATE; p < _RB_PHASE_MAX; p++) {
		assert_rollback_phase(d, (enum rollback_phase)p);
		d->rb_phase = (enum rollback_phase)p;
		if (!rb_phases[p](e, d, &t, now, &r))
			break;
	}
	return r;
}
