/*
 * waves/gates.c: metric gates: the verdicts on a round of Prometheus queries
 * (gate_job.c) that hold, pass or fail the wave.
 */
#include <inttypes.h>

#include "metric_gate.h"
#include "prom.h"
#include "textbuf.h"
#include "waves_private.h"

/* One gate's verdict on its query's answer. */
static void
gate_judge(const struct metric_gate *mg, const struct gate_query *q, struct gate_result *g)
{
	struct rw_err err = {{0}};
	struct prom_vector v = {0};

	if (q->rc < 0) {
		metric_gate_evaluate_unavailable(mg, q->err, g);
		return;
	}
	if (prom_vector_parse(q->body, strlen(q->body), &v, &err) < 0)
		metric_gate_evaluate_unavailable(mg, err.msg, g);
	else
		metric_gate_evaluate(mg, v.samples, v.n_samples, g);
	prom_vector_done(&v);
}

/* Every metric gate once per GATE_RECHECK_MS: a failing one rolls back, a
 * holding one waits (for at most the wave's WaveTimeout=), all passing
 * move on. Each verdict with its values goes to the audit log when it is
 * the gate's first or differs from its previous one; the status shows
 * every gate's latest. */
struct step_result
step_gates(struct waves *e, struct dep *d, uint64_t now)
{
	const struct plan_wave *w = &d->plan->waves[d->row.wave];
	char verdicts[sizeof(d->verdict)];
	struct textbuf all = textbuf_init(verdicts, sizeof(verdicts));
	bool hold = false, first = d->gate_rounds == 0, audited[DEPLOY_GATES_MAX] = {false};
	struct gate_result results[DEPLOY_GATES_MAX];
	struct gate_job *j = gate_job_take(d, now);

	if (!j)
		return result_hold();
	d->gate_rounds++;
	for (size_t i = 0; i < d->params.n_gates && i < j->n; i++) {
		struct gate_result g;

		gate_judge(&d->params.gates[i], &j->q[i], &g);
		textbuf_printf(&all, "%s%s", i ? "; " : "", g.why);
		results[i] = g;
		if (first || g.verdict != d->gate_last[i] || g.verdict == GATE_FAIL) {
			dep_save(e, d, "coordinator", "deploy.gate", "wave %d '%s': %s",
			        d->row.wave + 1, w->name, g.why);
			audited[i] = true;
		}
		d->gate_last[i] = g.verdict;
		if (g.verdict == GATE_FAIL) {
			char why[GATE_WHY_MAX + 64];

			memcpy(d->verdict, verdicts, sizeof(d->verdict));
			gate_job_free(j);
			strbuf_printf(why, sizeof(why), "wave %d '%s': %s", d->row.wave + 1,
			        w->name, g.why);
			return result_rollback("%s", why);
		}
		if (g.verdict == GATE_HOLD)
			hold = true;
	}
	memcpy(d->verdict, verdicts, sizeof(d->verdict));
	/* The verdicts that let the wave through are all on record. */
	for (size_t i = 0; !hold && i < d->params.n_gates && i < j->n; i++)
		if (!audited[i])
			dep_save(e, d, "coordinator", "deploy.gate", "wave %d '%s': %s",
			        d->row.wave + 1, w->name, results[i].why);
	gate_job_free(j);
	if (hold) {
		/* A gate on hold for longer than the wave may take fails it. */
		if (w->timeout_usec &&
		        now > dep_wave_clock_start(e, d, w) + w->timeout_usec / USEC_PER_MSEC) {
			char why[GATE_WHY_MAX + 96];

			strbuf_printf(why, sizeof(why),
			        "wave %d '%s': metric gates held for longer than WaveTimeout: %s",
			        d->row.wave + 1, w->name, d->verdict);
			return result_rollback("%s", why);
		}
		return result_hold();
	}
	return result_next_wave();
}
