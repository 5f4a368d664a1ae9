/*
 * coordinator: the composition root. See coordinator.h.
 *
 *   start: store, identity, join token, fleet, agents, waves, admin, metrics
 *   tick:  expire polls, then the fleet's batch of store writes
 *   stop:  agents answer nothing more, metrics, admin, waves, agents,
 *          a last fleet tick (flush), fleet, store
 */
#include "coordinator.h"

#include <sodium.h>

#include "admin.h"
#include "agents.h"
#include "fleet.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "waves.h"

struct coordinator {
	const struct coordinator_config *cfg;
	struct db *db;
	struct identity id;
	char join_token[JOIN_TOKEN_MAX + 1];
	uint64_t started_ms;
	struct fleet *fleet;
	struct agents *agents;
	struct waves *waves;
	struct admin *admin;
	struct metrics *metrics;
};

static int
load_join_token(struct coordinator *c, struct rw_err *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	if (c->cfg->join_token[0]) {
		strbuf_printf(c->join_token, sizeof(c->join_token), "%s", c->cfg->join_token);
		return 0;
	}
	r = read_full_file(c->cfg->join_token_file, 4096, true, &buf, &len);
	if (r == -ENOENT) {
		/* No token: no host can enrol, known hosts still connect. */
		c->join_token[0] = 0;
		return 0;
	}
	if (r < 0)
		return rw_err_set(
		        err, r, "cannot read %s: %s", c->cfg->join_token_file, strerror(-r));
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = 0;
	strbuf_printf(c->join_token, sizeof(c->join_token), "%s", buf);
	sodium_memzero(buf, len);
	return 0;
}

/* ---- the metrics endpoint's snapshot ---- */

_Static_assert(COUNTER_TYPES == METRICS_TYPES && COUNTER_CODES == METRICS_CODES &&
                COUNTER_KINDS == METRICS_KINDS && _TASK_RESULT_MAX == METRICS_RESULTS,
        "the metrics snapshot has the counters' dimensions");

/* The metrics getter: hosts by state, queues and heartbeat lags (fleet),
 * connections and workers (agents), and every counter. */
static int
stats_snapshot(void *userdata, struct metrics_snapshot *sc)
{
	struct coordinator *c = userdata;
	struct fleet_stats fs = {0};
	struct agents_stats as = {0};
	struct admin_stats ads = {0};
	int r;

	sc->started_ms = c->started_ms;
	sc->heartbeat_interval_usec = c->cfg->heartbeat_interval_usec;
	agents_stats(c->agents, &as);
	r = fleet_stats(c->fleet, true, &fs);
	admin_stats(c->admin, &ads);
	memcpy(sc->hosts, fs.hosts, sizeof(sc->hosts));
	sc->queued = fs.queued;
	sc->lag_ms = fs.lag_ms;
	sc->n_lag = fs.n_lag;
	sc->connections = as.connections;
	sc->parked = as.parked;
	sc->idle_workers = as.idle_workers;
	sc->n_workers = as.n_workers;
	memcpy(sc->agent_msgs, as.msgs, sizeof(sc->agent_msgs));
	memcpy(sc->agent_refused, as.refused, sizeof(sc->agent_refused));
	memcpy(sc->admin_reqs, ads.reqs, sizeof(sc->admin_reqs));
	memcpy(sc->admin_refused, ads.refused, sizeof(sc->admin_refused));
	memcpy(sc->task_results, fs.task_results, sizeof(sc->task_results));
	for (int k = 1; k < COUNTER_KINDS; k++) {
		const char *kind = command_kind_to_string((Rollwave__Command__Kind)k);

		if (!streq(kind, "unknown") && !streq(kind, "cancel"))
			sc->kinds[k] = kind;
	}
	return r;
}

/* ---- start, tick, stop ---- */

static int
start_parts(struct coordinator *c, struct rw_err *err)
{
	int r;

	r = fleet_new(c->cfg, c->db, c->started_ms, &c->fleet, err);
	if (r < 0)
		return r;
	r = agents_start(&(struct agents_config) {.cfg = c->cfg,
	                         .db = c->db,
	                         .fleet = c->fleet,
	                         .id = &c->id,
	                         .join_token = c->join_token},
	        &c->agents, err);
	if (r < 0)
		return r;
	r = waves_start(&(struct waves_config) {.db = c->db,
	                        .cfg = c->cfg,
	                        .fleet = &fleet_live_ops,
	                        .fleet_userdata = c->fleet,
	                        .started_ms = c->started_ms},
	        &c->waves, err);
	if (r < 0)
		return r;
	r = admin_start(
	        &(struct admin_config) {
	                .cfg = c->cfg, .db = c->db, .fleet = c->fleet, .waves = c->waves},
	        &c->admin, err);
	if (r < 0)
		return r;
	return metrics_open(c->cfg->metrics_listen, stats_snapshot, c, &c->metrics, err);
}

int
coordinator_start(
        const struct coordinator_config *cfg, struct coordinator **ret, struct rw_err *err)
{
	struct coordinator *c = calloc(1, sizeof(*c));
	bool created;
	int r;

	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	c->started_ms = fleet_clock_ms();
	r = db_open(cfg->database, &c->db, err);
	if (r >= 0)
		r = identity_load_or_create(cfg->key_file, &c->id, &created, err);
	if (r >= 0)
		r = load_join_token(c, err);
	if (r >= 0)
		r = start_parts(c, err);
	if (r < 0) {
		coordinator_stop(c);
		return r;
	}
	(void)db_audit(c->db, "coordinator", "coordinator.start", cfg->listen, NULL);
	*ret = c;
	return 0;
}

void
coordinator_tick(struct coordinator *c)
{
	agents_expire_polls(c->agents);
	fleet_tick(c->fleet);
}

void
coordinator_expire_polls(struct coordinator *c)
{
	agents_expire_polls(c->agents);
}

void
coordinator_waves_tick(struct coordinator *c)
{
	waves_tick(c->waves);
}

void
coordinator_status(struct coordinator *c, char *buf, size_t size)
{
	struct fleet_stats fs = {0};

	(void)fleet_stats(c->fleet, false, &fs);
	strbuf_printf(buf, size, "%zu hosts up, %zu down, %zu pending; listening on %s",
	        fs.hosts[HOST_UP], fs.hosts[HOST_DOWN], fs.hosts[HOST_PENDING], c->cfg->listen);
}

void
coordinator_stop(struct coordinator *c)
{
	if (!c)
		return;
	agents_quiesce(c->agents);
	metrics_close(c->metrics);
	admin_stop(c->admin);
	waves_stop(c->waves);
	agents_stop(c->agents);
	if (c->fleet)
		fleet_tick(c->fleet); /* flush */
	if (c->db)
		(void)db_audit(c->db, "coordinator", "coordinator.stop", c->cfg->listen, NULL);
	fleet_free(c->fleet);
	db_close(c->db);
	identity_done(&c->id);
	sodium_memzero(c->join_token, sizeof(c->join_token));
	free(c);
}
