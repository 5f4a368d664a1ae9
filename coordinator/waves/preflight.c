/*
 * waves/preflight.c: before wave one: every host's preflight, then the migrate hook.
 */
#include <inttypes.h>

#include "freeze.h"
#include "waves_private.h"

/* ---- before wave one: preflight and the migrate hook ---- */

#define PREFLIGHT_TIMEOUT_MS (2 * 60 * 1000)

/* Every planned host checks it could take the release (PREFLIGHT: app and
 * units configured, trusted key, manifest, free space, a release to roll
 * back to). A failure stops the deployment before any host changes,
 * unless it was created with --force. */
bool
dep_preflight_started(const struct dep *d)
{
	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].pf_cmd)
			return true;
	return false;
}

/* Nothing starts inside a freeze window (FreezePolicy=wait), not even
 * the migrate hook: wait for its end first. True if *r says so. */
static bool
preflight_frozen(struct dep *d, uint64_t now, struct step_result *r)
{
	struct gate_result g;

	if (dep_preflight_started(d) || !d->params.n_freeze)
		return false;
	freeze_gate_evaluate(d->params.freeze, d->params.n_freeze, d->params.freeze_policy, false,
	        now * USEC_PER_MSEC, &g);
	if (g.verdict != GATE_PASS) {
		strbuf_printf(d->verdict, sizeof(d->verdict), "%s", g.why);
		*r = d->step != STEP_FREEZE
		        ? result_goto(d, STEP_FREEZE, "deploy.freeze", "%s", g.why)
		        : result_hold();
		return true;
	}
	if (d->step == STEP_FREEZE) {
		*r = result_goto(d, STEP_PREFLIGHT, NULL, NULL);
		r->save = true;
		r->chain = true;
		return true;
	}
	return false;
}

/* Sends each host its preflight (again, if it was refused as busy) and
 * counts the answers: *pending still to come, *failed (the first 8 of
 * them in list). */
static void
preflight_count(struct waves *e, struct dep *d, uint64_t now, size_t *pending, size_t *failed,
        char *list, size_t size)
{
	/* Whether hosts planned while down are up yet (heartbeats are only
	 * read when there are such hosts). */
	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].planned_down) {
			dep_refresh_health(e, d, SIZE_MAX, false, now);
			break;
		}
	for (size_t i = 0; i < d->n_hosts; i++) {
		struct dep_host *h = &d->hosts[i];

		if (!h->pf_cmd ||
		        dep_retry_busy(
		                &h->busy_retries, &h->busy_retry_ms, h->pf_task, h->pf_error, now))
			(void)dep_send_command(
			        e, d, h, ROLLWAVE__COMMAND__KIND__PREFLIGHT, d->row.version);
		/* A host that was down when the deployment was made (--force)
		 * and still is cannot answer: it fails its preflight at once
		 * rather than after PREFLIGHT_TIMEOUT_MS. Others may be
		 * reconnecting (after a coordinator restart, say): they get
		 * the time. */
		if (!dep_task_final(h->pf_task) && !h->up && h->planned_down) {
			if ((*failed)++ < 8)
				strbuf_printf(list + strlen(list), size - strlen(list),
				        "%shost %" PRId64 " (%s): down", list[0] ? "; " : "", h->id,
				        h->name);
			continue;
		}
		if (!dep_task_final(h->pf_task) ||
		        dep_busy_left(h->busy_retries, h->pf_task, h->pf_error)) {
			(*pending)++;
			continue;
		}
		if (!streq(h->pf_task, "committed")) {
			if ((*failed)++ < 8)
				strbuf_printf(list + strlen(list), size - strlen(list),
				        "%shost %" PRId64 " (%s): %s", list[0] ? "; " : "", h->id,
				        h->name,
				        h->pf_error && h->pf_error[0] ? h->pf_error : h->pf_task);
		}
	}
}

struct step_result
step_preflight(struct waves *e, struct dep *d, uint64_t now)
{
	size_t pending = 0, failed = 0;
	char list[1536] = "";
	struct step_result r;

	if (preflight_frozen(d, now, &r))
		return r;
	preflight_count(e, d, now, &pending, &failed, list, sizeof(list));
	if (pending && now - d->row.step_since_ms < PREFLIGHT_TIMEOUT_MS) {
		strbuf_printf(d->verdict, sizeof(d->verdict),
		        "preflight: %zu of %zu hosts answered", d->n_hosts - pending, d->n_hosts);
		return result_hold();
	}
	if (pending) {
		for (size_t i = 0; i < d->n_hosts; i++)
			if (!dep_task_final(d->hosts[i].pf_task) && failed++ < 8)
				strbuf_printf(list + strlen(list), sizeof(list) - strlen(list),
				        "%shost %" PRId64 " (%s): no answer within %d s",
				        list[0] ? "; " : "", d->hosts[i].id, d->hosts[i].name,
				        PREFLIGHT_TIMEOUT_MS / 1000);
	}
	if (failed) {
		char why[2048];

		strbuf_printf(why, sizeof(why), "preflight failed on %zu of %zu host(s)%s: %s%s",
		        failed, d->n_hosts, d->row.force ? " (--force: going on)" : "", list,
		        failed > 8 ? "; ..." : "");
		if (!d->row.force)
			return result_finish(DEP_FAILED, "%s", why);
		r = result_goto(d, STEP_MIGRATE, "deploy.preflight_forced", "%s", why);
	} else
		r = result_goto(
		        d, STEP_MIGRATE, "deploy.preflight", "%zu host(s) ready", d->n_hosts);
	/* Preflight's verdict is recorded at step preflight: the row shows
	 * migrate only once the migrate hook is sent. */
	r.audit_first = true;
	r.chain = true;
	return r;
}

/* The release's migrate hook runs once, on the first host of wave one that
 * is up, before any host changes; a failure stops the deployment there. */
struct step_result
step_migrate(struct waves *e, struct dep *d, uint64_t now)
{
	struct step_result r;
	char why[3072];

	if (!d->migrate_task[0]) {
		const struct plan_wave *w = &d->plan->waves[0];
		struct dep_host *pick = NULL;

		dep_refresh_health(e, d, 0, false, now);
		for (size_t i = 0; i < w->n_hosts && !pick; i++) {
			struct dep_host *h = dep_host(d, w->hosts[i].id);

			if (h && h->up)
				pick = h;
		}
		if (!pick) {
			strbuf_printf(d->verdict, sizeof(d->verdict),
			        "migrate: waiting for a host of wave 1 to be up");
			return result_hold();
		}
		if (dep_send_command(e, d, pick, ROLLWAVE__COMMAND__KIND__MIGRATE, d->row.version) <
		        0)
			return result_hold();
		dep_save(e, d, "coordinator", "deploy.migrate", "on host %" PRId64 " (%s)",
		        pick->id, pick->name);
	} else if (dep_retry_busy(&d->migrate_retries, &d->migrate_retry_ms, d->migrate_task,
	                   d->migrate_error, now)) {
		struct dep_host *h = dep_host(d, d->migrate_host);

		if (h)
			(void)dep_send_command(
			        e, d, h, ROLLWAVE__COMMAND__KIND__MIGRATE, d->row.version);
	}
	if (dep_busy_left(d->migrate_retries, d->migrate_task, d->migrate_error)) {
		strbuf_printf(d->verdict, sizeof(d->verdict),
		        "migrate: host %" PRId64 " is busy; asking again", d->migrate_host);
		return result_hold();
	}
	if (!dep_task_final(d->migrate_task)) {
		strbuf_printf(d->verdict, sizeof(d->verdict), "migrate runs on host %" PRId64,
		        d->migrate_host);
		return result_hold();
	}
	if (!streq(d->migrate_task, "committed")) {
		strbuf_printf(why, sizeof(why),
		        "migrate failed on host %" PRId64 ": %s; no host was changed%s%s",
		        d->migrate_host,
		        d->migrate_error && d->migrate_error[0] ? d->migrate_error
		                                                : d->migrate_task,
		        d->migrate_output ? "; its output ends:\n" : "",
		        d->migrate_output ? waves_text_tail(d->migrate_output, 1024) : "");
		waves_utf8_cut_tail(why);
		return result_finish(DEP_FAILED, "%s", why);
	}
	r = result_goto(d, STEP_START, NULL, NULL);
	r.chain = true;
	return r;
}
