/*
 * metrics: the coordinator's Prometheus endpoint, GET /metrics on
 * http://MetricsListen=, served by nng's HTTP server on its own threads.
 *
 * It knows nothing of the server: each scrape asks the getter it was
 * opened with for a snapshot (a plain struct of counts and counters, taken
 * by the getter under whatever lock it needs) and formats that outside any
 * lock. The metric names are documented in docs/metrics.md.
 */
#ifndef ROLLWAVE_COORDINATOR_METRICS_H
#define ROLLWAVE_COORDINATOR_METRICS_H

#include "db.h"
#include "util.h"

/* Counter dimensions: message and admin request types (protobuf case
 * numbers; 0 counts what did not decode), error codes, command kinds and
 * task results (committed, rolled_back, failed, refused, cancelled). */
#define METRICS_TYPES   64
#define METRICS_CODES   16
#define METRICS_KINDS   8
#define METRICS_RESULTS 5

struct metrics_snapshot {
	uint64_t started_ms;
	uint64_t heartbeat_interval_usec;
	size_t hosts[_HOST_STATE_MAX]; /* in the registry, by state */
	size_t connections, queued, parked, idle_workers, n_workers;
	uint64_t *lag_ms; /* malloc'd, freed by the endpoint: since the last message, per up host */
	size_t n_lag;
	uint64_t agent_msgs[METRICS_TYPES];
	uint64_t agent_refused[METRICS_TYPES][METRICS_CODES];
	uint64_t admin_reqs[METRICS_TYPES];
	uint64_t admin_refused[METRICS_TYPES][METRICS_CODES];
	uint64_t task_results[METRICS_KINDS][METRICS_RESULTS]; /* [command kind][result] */
	const char *kinds[METRICS_KINDS];                      /* kind names; NULL: not shown */
};

/* Fills *ret (zeroed by the caller); -errno if it cannot (the scrape is
 * then answered 503). Called on nng's HTTP threads. */
typedef int (*metrics_getter_t)(void *userdata, struct metrics_snapshot *ret);

struct metrics;

/* Serves GET /metrics on http://listen, asking snapshot(userdata) at each
 * scrape; *ret NULL and nothing served when listen is empty. */
int metrics_open(const char *listen, metrics_getter_t snapshot, void *userdata,
        struct metrics **ret, struct rw_err *err);
/* Stops serving and frees; NULL is fine. */
void metrics_close(struct metrics *m);

#endif
