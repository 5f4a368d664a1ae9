/*
 * waves/gates.c: metric gates: a round of Prometheus queries on a thread of its own,
 * and the verdicts that hold, pass or fail the wave.
 */
#include <inttypes.h>

#include "log.h"
#include "metric_gate.h"
#include "prom.h"
#include "promql.h"
#include "textbuf.h"
#include "waves_private.h"

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

static void
gate_job_free(struct gate_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->q[i].url);
		free(j->q[i].query);
		free(j->q[i].body);
	}
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void *
gate_job_run(void *arg)
{
	struct gate_job *j = arg;
	bool orphaned;

	for (size_t i = 0; i < j->n; i++) {
		struct rw_err err = {{0}};

		if (!j->q[i].query) {
			j->q[i].rc = -EINVAL;
			strbuf_printf(j->q[i].err, sizeof(j->q[i].err),
			        "the query's ${...} placeholders cannot be filled");
			continue;
		}
		j->q[i].rc = promql_query(j->q[i].url, j->q[i].query, j->at_ms, PROM_TIMEOUT_USEC,
		        &j->q[i].body, &err);
		strbuf_printf(j->q[i].err, sizeof(j->q[i].err), "%s", err.msg);
	}
	pthread_mutex_lock(&j->lock);
	j->done = true;
	orphaned = j->orphaned;
	pthread_mutex_unlock(&j->lock);
	if (orphaned)
		gate_job_free(j);
	return NULL;
}

/* The deployment lets go of its job (it ended, or was freed). */
void
gate_job_drop(struct dep *d)
{
	struct gate_job *j = d->gate_job;
	bool done;

	if (!j)
		return;
	d->gate_job = NULL;
	pthread_mutex_lock(&j->lock);
	done = j->done;
	j->orphaned = true;
	pthread_mutex_unlock(&j->lock);
	if (done)
		gate_job_free(j);
}

static int
gate_job_start(struct dep *d, uint64_t now)
{
	struct gate_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (!j)
		return -ENOMEM;
	pthread_mutex_init(&j->lock, NULL);
	j->at_ms = now;
	j->step_since_ms = d->row.step_since_ms;
	for (size_t i = 0; i < d->params.n_gates; i++) {
		const struct metric_gate *mg = &d->params.gates[i];
		char query[METRIC_GATE_QUERY_MAX + 2 * VERSION_MAX + 64];

		j->q[i].url = strdup(deploy_params_gate_url(&d->params, mg));
		if (metric_gate_query_expand(
		            mg->query, d->row.app, d->row.version, query, sizeof(query)) == 0)
			j->q[i].query = strdup(query);
		j->n = i + 1;
		if (!j->q[i].url) {
			gate_job_free(j);
			return -ENOMEM;
		}
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&t, &attr, gate_job_run, j);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		gate_job_free(j);
		return r;
	}
	d->gate_job = j;
	return 0;
}

/* This round's job once its queries are answered (the deployment lets go
 * of it: the caller frees it); NULL while none is, starting one every
 * GATE_RECHECK_MS. */
static struct gate_job *
gate_job_take(struct dep *d, uint64_t now)
{
	struct gate_job *j;
	bool done;

	/* Answers for an earlier gates step (a wave ago, or before a
	 * rollback and a reopen) are not this step's. */
	if (d->gate_job && d->gate_job->step_since_ms != d->row.step_since_ms)
		gate_job_drop(d);
	if (!d->gate_job) {
		if (now < d->next_gate_ms)
			return NULL;
		if (gate_job_start(d, now) < 0)
			log_error(
			        "deployment %" PRId64 ": cannot query the metric gates", d->row.id);
		d->next_gate_ms = now + GATE_RECHECK_MS;
		return NULL;
	}
	j = d->gate_job;
	pthread_mutex_lock(&j->lock);
	done = j->done;
	pthread_mutex_unlock(&j->lock);
	if (!done)
		return NULL;
	d->gate_job = NULL;
	return j;
}

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
