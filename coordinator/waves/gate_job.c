/*
 * waves/gate_job.c: a round of the metric gates' Prometheus queries, on a thread of
 * its own; a deployment's job is let go of when it is freed.
 */
#include <inttypes.h>

#include "log.h"
#include "metric_gate.h"
#include "promql.h"
#include "waves_private.h"

void
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
struct gate_job *
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
