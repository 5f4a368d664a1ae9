/*
 * fleet: the hosts in memory and their command queues. See fleet.h.
 *
 * Everything in struct fleet is under f->lock. A store call may be made
 * with it held (lock order: agent socket, fleet, store); the link's
 * callbacks are called without it.
 */
#include "fleet.h"

#include <inttypes.h>
#include <pthread.h>

#include "codec.h"
#include "log.h"
#include "version.h"

#define MISSED_HEARTBEATS 3
#define FLUSH_EVERY_MS    5000

/* A command waiting for its host's long poll, or for the host's answer. */
struct pending_cmd {
	struct pending_cmd *next;
	uint64_t command_id;
	Rollwave__Command__Kind kind;
	uint64_t cancel_command_id; /* CANCEL */
	char app[APP_NAME_MAX + 1];
	char version[VERSION_MAX + 1];
	char *manifest_url;
	uint32_t sent_pipe; /* the connection it was handed to; 0: not yet */
	bool maybe_sent;    /* a previous run may have handed it out */
};

struct host_mem {
	int64_t id;                /* 0: no such host */
	struct pending_cmd *queue; /* oldest first */
	enum host_state state;
	uint64_t last_seen_ms;
	bool seen_dirty;
	char *apps_json; /* latest report, NULL if none since start */
	bool apps_dirty;
	bool up_dirty;      /* came back up: the db still says down */
	bool up_by_connect; /* ... by connecting (else by heartbeat) */
	/* Facts of the last connect (Hello) not yet in the db; NULL if none.
	 * fleet_tick() writes them with the last-seen times, so that a fleet
	 * reconnecting at once costs a commit a second, not one per host. */
	char *new_hostname, *new_labels_json, *new_agent_version;
};

struct fleet {
	const struct coordinator_config *cfg;
	struct db *db;
	pthread_mutex_t lock;
	uint64_t started_ms, last_flush_ms;
	struct host_mem *hosts; /* indexed by host id */
	size_t hosts_cap;
	struct fleet_link link;
	uint64_t task_results[COUNTER_KINDS][_TASK_RESULT_MAX];
};

uint64_t
fleet_clock_ms(void)
{
	return now_realtime_usec() / USEC_PER_MSEC;
}

/* The record of host id, created if create; NULL if none. */
static struct host_mem *
host_mem(struct fleet *f, int64_t id, bool create)
{
	if (id <= 0)
		return NULL;
	if ((size_t)id >= f->hosts_cap) {
		size_t ncap;
		struct host_mem *n;

		if (!create)
			return NULL;
		ncap = f->hosts_cap ? f->hosts_cap : 1024;
		while (ncap <= (size_t)id)
			ncap *= 2;
		n = realloc(f->hosts, ncap * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + f->hosts_cap, 0, (ncap - f->hosts_cap) * sizeof(*n));
		f->hosts = n;
		f->hosts_cap = ncap;
	}
	if (!f->hosts[id].id && !create)
		return NULL;
	f->hosts[id].id = id;
	return &f->hosts[id];
}

static void
pending_free(struct pending_cmd *p)
{
	if (!p)
		return;
	free(p->manifest_url);
	free(p);
}

static void
queue_append(struct host_mem *m, struct pending_cmd *p)
{
	struct pending_cmd **pp = &m->queue;

	while (*pp)
		pp = &(*pp)->next;
	*pp = p;
}

/* Drops a finished command from the host's queue: its kind, or -ENOENT if
 * it was not queued (a repeated final report). */
static int
queue_drop(struct host_mem *m, uint64_t command_id)
{
	for (struct pending_cmd **pp = &m->queue; *pp; pp = &(*pp)->next)
		if ((*pp)->command_id == command_id) {
			struct pending_cmd *p = *pp;
			int kind = (int)p->kind;

			*pp = p->next;
			pending_free(p);
			return kind;
		}
	return -ENOENT;
}

/* ---- loading ---- */

static int
load_host_cb(void *userdata, const struct host_row *h)
{
	struct fleet *f = userdata;
	struct host_mem *m = host_mem(f, h->id, true);

	if (!m)
		return -ENOMEM;
	m->state = h->state;
	/* Hosts that were up get a fresh grace period after a restart. */
	m->last_seen_ms = h->state == HOST_UP ? f->started_ms : h->last_seen_ms;
	return 0;
}

/* Commands a previous run queued or sent but never heard back about go out
 * again; agents acknowledge a command they already ran without running it. */
static int
load_task_cb(void *userdata, const struct task_row *t)
{
	struct fleet *f = userdata;
	struct host_mem *m = host_mem(f, t->host_id, true);
	struct pending_cmd *p;

	if (!m)
		return -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->manifest_url = strdup(t->manifest_url))) {
		pending_free(p);
		return -ENOMEM;
	}
	p->command_id = t->command_id;
	p->kind = command_kind_from_string(t->kind);
	if (p->kind == ROLLWAVE__COMMAND__KIND__KIND_UNSPECIFIED) {
		log_error("task of host %" PRId64 " command %" PRIu64 " has unknown kind '%s'",
		        t->host_id, t->command_id, t->kind);
		pending_free(p);
		return 0;
	}
	p->cancel_command_id = t->cancel_command_id;
	p->maybe_sent = !streq(t->state, "queued");
	strbuf_printf(p->app, sizeof(p->app), "%s", t->app);
	strbuf_printf(p->version, sizeof(p->version), "%s", t->version);
	queue_append(m, p);
	return 0;
}

int
fleet_new(const struct coordinator_config *cfg, struct db *db, uint64_t started_ms,
        struct fleet **ret, struct rw_err *err)
{
	struct fleet *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return rw_err_set(err, -ENOMEM, "out of memory");
	f->cfg = cfg;
	f->db = db;
	f->started_ms = f->last_flush_ms = started_ms;
	pthread_mutex_init(&f->lock, NULL);
	r = db_hosts_foreach(db, load_host_cb, f);
	if (r < 0) {
		rw_err_set(
		        err, r, "cannot load the hosts from %s: %s", cfg->database, strerror(-r));
		fleet_free(f);
		return r;
	}
	r = db_tasks_foreach_unfinished(db, load_task_cb, f);
	if (r < 0) {
		rw_err_set(err, r, "cannot load the unfinished tasks from %s: %s", cfg->database,
		        strerror(-r));
		fleet_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

void
fleet_free(struct fleet *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->hosts_cap; i++) {
		struct host_mem *m = &f->hosts[i];

		free(m->apps_json);
		free(m->new_hostname);
		free(m->new_labels_json);
		free(m->new_agent_version);
		while (m->queue) {
			struct pending_cmd *p = m->queue;

			m->queue = p->next;
			pending_free(p);
		}
	}
	free(f->hosts);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void
fleet_set_link(struct fleet *f, const struct fleet_link *link)
{
	pthread_mutex_lock(&f->lock);
	f->link = link ? *link : (struct fleet_link) {0};
	pthread_mutex_unlock(&f->lock);
}

/* ---- the ops ---- */

int
fleet_host_get(struct fleet *f, int64_t host_id, struct fleet_host *ret)
{
	struct host_mem *m;
	int r = 0;

	pthread_mutex_lock(&f->lock);
	m = host_mem(f, host_id, false);
	if (!m)
		r = -ENOENT;
	else {
		ret->state = m->state;
		ret->last_seen_ms = m->last_seen_ms;
		ret->apps_json = NULL;
		if (m->apps_json && !(ret->apps_json = strdup(m->apps_json)))
			r = -ENOMEM;
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

int
fleet_queue(struct fleet *f, int64_t host_id, const struct fleet_command *c)
{
	struct pending_cmd *p = calloc(1, sizeof(*p));
	struct fleet_link link;
	struct host_mem *m;

	if (!p || !(p->manifest_url = strdup(c->manifest_url ? c->manifest_url : ""))) {
		free(p);
		return -ENOMEM;
	}
	p->command_id = c->command_id;
	p->kind = c->kind;
	p->cancel_command_id = c->cancel_command_id;
	strbuf_printf(p->app, sizeof(p->app), "%s", c->app);
	strbuf_printf(p->version, sizeof(p->version), "%s", c->version ? c->version : "");
	pthread_mutex_lock(&f->lock);
	m = host_mem(f, host_id, true);
	if (!m) {
		pthread_mutex_unlock(&f->lock);
		pending_free(p);
		return -ENOMEM;
	}
	queue_append(m, p);
	link = f->link;
	pthread_mutex_unlock(&f->lock);
	/* A host waiting in its long poll gets it at once. */
	return link.command_ready ? link.command_ready(link.userdata, host_id) : 0;
}

int
fleet_unqueue(struct fleet *f, int64_t host_id, uint64_t command_id)
{
	struct host_mem *m;
	int r = 0;

	pthread_mutex_lock(&f->lock);
	m = host_mem(f, host_id, false);
	for (struct pending_cmd **pp = m ? &m->queue : NULL; pp && *pp; pp = &(*pp)->next)
		if ((*pp)->command_id == command_id) {
			struct pending_cmd *p = *pp;

			if (!p->sent_pipe && !p->maybe_sent) {
				*pp = p->next;
				pending_free(p);
				r = 1;
			}
			break;
		}
	pthread_mutex_unlock(&f->lock);
	return r;
}

static int
ops_host_get(void *userdata, int64_t host_id, struct fleet_host *ret)
{
	return fleet_host_get(userdata, host_id, ret);
}

static int
ops_queue_command(void *userdata, int64_t host_id, const struct fleet_command *c)
{
	return fleet_queue(userdata, host_id, c);
}

static int
ops_unqueue_command(void *userdata, int64_t host_id, uint64_t command_id)
{
	return fleet_unqueue(userdata, host_id, command_id);
}

static uint64_t
ops_now_ms(void *userdata)
{
	(void)userdata;
	return fleet_clock_ms();
}

const struct fleet_ops fleet_live_ops = {
        .host_get = ops_host_get,
        .queue_command = ops_queue_command,
        .unqueue_command = ops_unqueue_command,
        .now_ms = ops_now_ms,
};

/* ---- the tick ---- */

/* What a tick writes, collected under the lock, written without it. */
struct tick_batch {
	struct host_touch *touch;
	int64_t *down, *up, *upc;
	bool *changed;
	size_t n_touch, n_down, n_up, n_upc;
};

static void
tick_collect_host(
        struct host_mem *m, uint64_t now, uint64_t limit, bool flush, struct tick_batch *b)
{
	bool facts = m->new_hostname || m->new_labels_json || m->new_agent_version;

	if (m->state == HOST_UP && now > m->last_seen_ms + limit) {
		m->state = HOST_DOWN;
		m->up_dirty = false;
		b->down[b->n_down++] = m->id;
	} else if (m->up_dirty) {
		m->up_dirty = false;
		if (m->up_by_connect)
			b->upc[b->n_upc++] = m->id;
		else
			b->up[b->n_up++] = m->id;
		m->up_by_connect = false;
	}
	/* Last-seen times every FLUSH_EVERY_MS; what a connect said at the
	 * next tick. */
	if (facts || (flush && (m->seen_dirty || m->apps_dirty))) {
		b->touch[b->n_touch++] = (struct host_touch) {
		        .id = m->id,
		        .last_seen_ms = m->last_seen_ms,
		        .apps_json = m->apps_dirty && m->apps_json ? strdup(m->apps_json) : NULL,
		        .hostname = TAKE_PTR(m->new_hostname),
		        .labels_json = TAKE_PTR(m->new_labels_json),
		        .agent_version = TAKE_PTR(m->new_agent_version),
		};
		m->seen_dirty = m->apps_dirty = false;
	}
}

static void
tick_write(struct fleet *f, struct tick_batch *b)
{
	char reason[96];
	int r;

	/* One transaction per kind of change, whatever the number of hosts. */
	r = db_hosts_set_state(f->db, b->upc, b->n_upc, HOST_UP, "coordinator", "connected", NULL);
	if (r < 0)
		log_error("cannot record %zu hosts up: %s", b->n_upc, strerror(-r));
	r = db_hosts_set_state(
	        f->db, b->up, b->n_up, HOST_UP, "coordinator", "heartbeat", b->changed);
	if (r < 0)
		log_error("cannot record %zu hosts up: %s", b->n_up, strerror(-r));
	for (size_t i = 0; r >= 0 && i < b->n_up; i++)
		if (b->changed[i])
			log_notice("host %" PRId64 " is up again", b->up[i]);
	snprintf(reason, sizeof(reason), "missed %d heartbeats", MISSED_HEARTBEATS);
	r = db_hosts_set_state(
	        f->db, b->down, b->n_down, HOST_DOWN, "coordinator", reason, b->changed);
	if (r < 0)
		log_error("cannot record %zu hosts down: %s", b->n_down, strerror(-r));
	for (size_t i = 0; i < b->n_down; i++)
		if (r < 0 || b->changed[i])
			log_warning("host %" PRId64 " is down: %s", b->down[i], reason);
	if (b->n_touch) {
		r = db_hosts_touch(f->db, b->touch, b->n_touch);
		if (r < 0)
			log_error("cannot record last-seen times and facts: %s", strerror(-r));
	}
}

static void
tick_batch_free(struct tick_batch *b)
{
	for (size_t i = 0; b->touch && i < b->n_touch; i++) {
		free((char *)b->touch[i].apps_json);
		free((char *)b->touch[i].hostname);
		free((char *)b->touch[i].labels_json);
		free((char *)b->touch[i].agent_version);
	}
	free(b->touch);
	free(b->down);
	free(b->up);
	free(b->upc);
	free(b->changed);
}

void
fleet_tick(struct fleet *f)
{
	struct tick_batch b = {0};
	uint64_t now = fleet_clock_ms();
	uint64_t limit = MISSED_HEARTBEATS * (f->cfg->heartbeat_interval_usec / USEC_PER_MSEC);
	bool flush = now - f->last_flush_ms >= FLUSH_EVERY_MS;
	size_t cap;

	pthread_mutex_lock(&f->lock);
	cap = f->hosts_cap ? f->hosts_cap : 1;
	b.touch = calloc(cap, sizeof(*b.touch));
	b.down = calloc(cap, sizeof(*b.down));
	b.up = calloc(cap, sizeof(*b.up));
	b.upc = calloc(cap, sizeof(*b.upc));
	b.changed = calloc(cap, sizeof(*b.changed));
	for (size_t i = 1; b.touch && b.down && b.up && b.upc && b.changed && i < f->hosts_cap; i++)
		if (f->hosts[i].id)
			tick_collect_host(&f->hosts[i], now, limit, flush, &b);
	pthread_mutex_unlock(&f->lock);
	tick_write(f, &b);
	if (flush)
		f->last_flush_ms = now;
	tick_batch_free(&b);
}

/* ---- the admin's and the metrics' views ---- */

void
fleet_set_state(struct fleet *f, const int64_t *ids, size_t n, enum host_state state)
{
	struct fleet_link link;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < n; i++) {
		struct host_mem *m = host_mem(f, ids[i], true);

		/* Accepted hosts are down until their agent connects. */
		if (m)
			m->state = state == HOST_UP ? HOST_DOWN : state;
	}
	link = f->link;
	pthread_mutex_unlock(&f->lock);
	/* Drop a revoked host's connection: it must authenticate again, and
	 * will be refused. */
	for (size_t i = 0; state == HOST_REVOKED && link.disconnect && i < n; i++)
		link.disconnect(link.userdata, ids[i]);
}

int
fleet_view(struct fleet *f, struct fleet_view_host **ret, size_t *ret_n)
{
	struct fleet_view_host *v;

	pthread_mutex_lock(&f->lock);
	v = calloc(f->hosts_cap ? f->hosts_cap : 1, sizeof(*v));
	if (v) {
		for (size_t i = 1; i < f->hosts_cap; i++) {
			const struct host_mem *m = &f->hosts[i];

			if (!m->id)
				continue;
			v[i].id = m->id;
			v[i].h.state = m->state;
			v[i].h.last_seen_ms = m->last_seen_ms;
			if (m->apps_json)
				v[i].h.apps_json = strdup(m->apps_json);
		}
		*ret_n = f->hosts_cap;
	}
	pthread_mutex_unlock(&f->lock);
	*ret = v;
	return v ? 0 : -ENOMEM;
}

void
fleet_view_free(struct fleet_view_host *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		fleet_host_done(&v[i].h);
	free(v);
}

int
fleet_stats(struct fleet *f, bool want_lag, struct fleet_stats *sc)
{
	uint64_t now = fleet_clock_ms();
	int r = 0;

	pthread_mutex_lock(&f->lock);
	if (want_lag) {
		sc->lag_ms = calloc(f->hosts_cap ? f->hosts_cap : 1, sizeof(*sc->lag_ms));
		if (!sc->lag_ms)
			r = -ENOMEM;
	}
	for (size_t i = 1; !r && i < f->hosts_cap; i++) {
		const struct host_mem *m = &f->hosts[i];

		if (!m->id)
			continue;
		if ((size_t)m->state < _HOST_STATE_MAX)
			sc->hosts[m->state]++;
		if (want_lag && m->state == HOST_UP)
			sc->lag_ms[sc->n_lag++] = now > m->last_seen_ms ? now - m->last_seen_ms : 0;
		for (const struct pending_cmd *p = m->queue; p; p = p->next)
			sc->queued++;
	}
	memcpy(sc->task_results, f->task_results, sizeof(sc->task_results));
	pthread_mutex_unlock(&f->lock);
	return r;
}

/* ---- what the agents say ---- */

void
fleet_host_mark(struct fleet *f, int64_t host_id, enum host_state state)
{
	struct host_mem *m;

	pthread_mutex_lock(&f->lock);
	m = host_mem(f, host_id, true);
	if (m)
		m->state = state;
	pthread_mutex_unlock(&f->lock);
}

int
fleet_host_connected(struct fleet *f, int64_t host_id, bool was_down, struct fleet_facts *facts)
{
	struct host_mem *m;
	int r = 0;

	pthread_mutex_lock(&f->lock);
	m = host_mem(f, host_id, true);
	if (!m)
		r = -ENOMEM;
	else if (m->state == HOST_REVOKED)
		r = -EPERM; /* a revoke that came while the database was asked wins */
	if (r < 0) {
		pthread_mutex_unlock(&f->lock);
		return r;
	}
	if (was_down) {
		log_notice("host %" PRId64 " ('%s') is up again", host_id, facts->hostname);
		m->up_dirty = true;
		m->up_by_connect = true;
	}
	free(m->new_hostname);
	free(m->new_labels_json);
	free(m->new_agent_version);
	m->new_hostname = TAKE_PTR(facts->hostname);
	m->new_labels_json = TAKE_PTR(facts->labels_json);
	m->new_agent_version = TAKE_PTR(facts->agent_version);
	if (!m->apps_json || !streq(m->apps_json, facts->apps_json)) {
		free(m->apps_json);
		m->apps_json = TAKE_PTR(facts->apps_json);
		m->apps_dirty = true;
	}
	m->state = HOST_UP;
	m->last_seen_ms = fleet_clock_ms();
	m->seen_dirty = true;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* The host, if it is known and neither revoked nor pending. */
static struct host_mem *
active_host(struct fleet *f, int64_t host_id)
{
	struct host_mem *m = host_mem(f, host_id, false);

	if (!m || m->state == HOST_REVOKED || m->state == HOST_PENDING)
		return NULL;
	return m;
}

bool
fleet_host_active(struct fleet *f, int64_t host_id)
{
	bool r;

	pthread_mutex_lock(&f->lock);
	r = active_host(f, host_id) != NULL;
	pthread_mutex_unlock(&f->lock);
	return r;
}

int
fleet_heartbeat(struct fleet *f, int64_t host_id, char *apps)
{
	struct host_mem *m;

	pthread_mutex_lock(&f->lock);
	m = active_host(f, host_id);
	if (!m) {
		pthread_mutex_unlock(&f->lock);
		free(apps);
		return -EACCES;
	}
	if (m->state == HOST_DOWN) {
		m->state = HOST_UP; /* the db follows at the next tick */
		m->up_dirty = true;
	}
	m->last_seen_ms = fleet_clock_ms();
	m->seen_dirty = true;
	if (apps) {
		if (!m->apps_json || !streq(m->apps_json, apps)) {
			free(m->apps_json);
			m->apps_json = apps;
			m->apps_dirty = true;
		} else
			free(apps);
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

int
fleet_polled(struct fleet *f, int64_t host_id)
{
	struct host_mem *m;

	pthread_mutex_lock(&f->lock);
	m = active_host(f, host_id);
	if (m) {
		m->last_seen_ms = fleet_clock_ms();
		m->seen_dirty = true;
	}
	pthread_mutex_unlock(&f->lock);
	return m ? 0 : -EACCES;
}

Rollwave__Command__Kind
fleet_command_kind(struct fleet *f, int64_t host_id, uint64_t command_id)
{
	Rollwave__Command__Kind kind = ROLLWAVE__COMMAND__KIND__KIND_UNSPECIFIED;
	struct host_mem *m;

	pthread_mutex_lock(&f->lock);
	m = host_mem(f, host_id, false);
	for (const struct pending_cmd *q = m ? m->queue : NULL; q; q = q->next)
		if (q->command_id == command_id)
			kind = q->kind;
	pthread_mutex_unlock(&f->lock);
	return kind;
}

static enum task_result
task_result_from_string(const char *state)
{
	if (streq(state, "committed"))
		return TASK_COMMITTED;
	if (streq(state, "rolled_back"))
		return TASK_ROLLED_BACK;
	if (streq(state, "refused"))
		return TASK_REFUSED;
	if (streq(state, "cancelled"))
		return TASK_CANCELLED;
	return TASK_FAILED;
}

void
fleet_task_news(struct fleet *f, int64_t host_id, uint64_t command_id, const char *state, int phase,
        const char *error, const char *output, bool done)
{
	struct host_mem *m;
	int r;

	r = db_task_report(f->db, host_id, command_id, state, phase, error,
	        output && output[0] ? output : NULL);
	if (r == -ENOENT)
		log_warning("host %" PRId64 " reported on command %" PRIu64 ", which it was never "
		            "given",
		        host_id, command_id);
	else if (r < 0)
		log_error("cannot record the task of host %" PRId64 ": %s", host_id, strerror(-r));
	if (!done)
		return;
	pthread_mutex_lock(&f->lock);
	m = host_mem(f, host_id, false);
	r = m ? queue_drop(m, command_id) : -ENOENT;
	if (r >= 0)
		f->task_results[stat_slot(r, COUNTER_KINDS)][task_result_from_string(state)]++;
	pthread_mutex_unlock(&f->lock);
	log_struct(streq(state, "committed") ? LOG_INFO : LOG_WARNING, NULL, NULL, NULL,
	        "host %" PRId64 " command %" PRIu64 ": %s%s%s", host_id, command_id, state,
	        error && error[0] ? ": " : "", error ? error : "");
}

void *
fleet_next_command(struct fleet *f, int64_t host_id, uint32_t conn,
        void *(*build)(void *ctx, int64_t host_id, const struct fleet_command *c), void *ctx)
{
	struct host_mem *m;
	void *reply = NULL;

	pthread_mutex_lock(&f->lock);
	m = host_mem(f, host_id, false);
	for (struct pending_cmd *p = m ? m->queue : NULL; p; p = p->next) {
		if (p->sent_pipe == conn)
			continue;
		reply = build(ctx, host_id,
		        &(struct fleet_command) {
		                .command_id = p->command_id,
		                .kind = p->kind,
		                .cancel_command_id = p->cancel_command_id,
		                .app = p->app,
		                .version = p->version,
		                .manifest_url = p->manifest_url,
		        });
		if (reply) {
			p->sent_pipe = conn;
			(void)db_task_update(f->db, host_id, p->command_id, "sent", -1, NULL);
		}
		break;
	}
	pthread_mutex_unlock(&f->lock);
	return reply;
}
