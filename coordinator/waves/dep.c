/*
 * waves/dep.c: a deployment in memory: its hosts, their tasks and health, the
 * commands sent to them, and its row in the store.
 */
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>

#include "log.h"
#include "plan_json.h"
#include "waves_private.h"

bool
dep_task_final(const char *t)
{
	return streq(t, "committed") || streq(t, "rolled_back") || streq(t, "failed") ||
	        streq(t, "refused") || streq(t, "cancelled");
}

/* The end of text, at most max bytes, starting at a line (or at least a
 * character) boundary. */
const char *
waves_text_tail(const char *text, size_t max)
{
	size_t len = strlen(text);
	const char *t, *nl;

	if (len <= max)
		return text;
	t = text + len - max;
	nl = strchr(t, '\n');
	if (nl && nl[1])
		return nl + 1;
	while (*t && ((unsigned char)*t & 0xC0) == 0x80)
		t++;
	return t;
}

void
dep_free(struct dep *d)
{
	if (!d)
		return;
	gate_job_drop(d);
	if (d->switch_pid > 0) {
		kill(d->switch_pid, SIGTERM);
		(void)waitpid(d->switch_pid, NULL, 0);
	}
	for (size_t i = 0; i < d->n_hosts; i++) {
		free(d->hosts[i].error);
		free(d->hosts[i].rb_error);
		free(d->hosts[i].pf_error);
		free(d->hosts[i].failed);
		free(d->hosts[i].output);
	}
	free(d->migrate_error);
	free(d->migrate_output);
	free(d->hosts);
	plan_free(d->plan);
	plan_free(d->rollback);
	deployment_row_done(&d->row);
	free(d);
}

static int
cmp_host_id(const void *a, const void *b)
{
	int64_t x = ((const struct dep_host *)a)->id, y = ((const struct dep_host *)b)->id;

	return (x > y) - (x < y);
}

struct dep_host *
dep_host(struct dep *d, int64_t id)
{
	struct dep_host key = {.id = id};

	if (!d->n_hosts)
		return NULL;
	return bsearch(&key, d->hosts, d->n_hosts, sizeof(*d->hosts), cmp_host_id);
}

/* The index of every planned host, sorted by id. */
int
dep_index(struct dep *d)
{
	size_t n = 0, k = 0;

	for (size_t w = 0; w < d->plan->n_waves; w++)
		n += d->plan->waves[w].n_hosts;
	d->hosts = calloc(n ? n : 1, sizeof(*d->hosts));
	if (!d->hosts)
		return -ENOMEM;
	for (size_t w = 0; w < d->plan->n_waves; w++)
		for (size_t i = 0; i < d->plan->waves[w].n_hosts; i++) {
			const struct plan_target *t = &d->plan->waves[w].hosts[i];

			d->hosts[k++] = (struct dep_host) {
			        .id = t->id,
			        .name = t->name,
			        .rollback_to = t->rollback_to,
			        .wave = w,
			        .up_to_date = t->up_to_date,
			        .planned_down = t->down,
			};
		}
	d->n_hosts = k;
	qsort(d->hosts, k, sizeof(*d->hosts), cmp_host_id);
	return 0;
}

/* Each host's target in the rollback plan (h->rb_to points into it). */
void
dep_index_rollback(struct dep *d)
{
	for (size_t i = 0; i < d->n_hosts; i++)
		d->hosts[i].rb_to = NULL;
	for (size_t w = 0; d->rollback && w < d->rollback->n_waves; w++)
		for (size_t i = 0; i < d->rollback->waves[w].n_hosts; i++) {
			struct dep_host *h = dep_host(d, d->rollback->waves[w].hosts[i].id);

			if (h)
				h->rb_to = d->rollback->waves[w].hosts[i].rollback_to;
		}
}

/* ---- persistence ---- */

/* Drops a UTF-8 sequence a byte-wise cut left incomplete at the end of s
 * (hook output in a reason or an audit detail), so it stays valid text. */
void
waves_utf8_cut_tail(char *s)
{
	size_t len = strlen(s), i = len, need;
	unsigned char c;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && len - i < 3)
		i--;
	if (i == 0)
		return;
	c = (unsigned char)s[i - 1];
	if (c < 0xC0)
		return; /* ASCII: nothing cut */
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
	if (len - (i - 1) < need)
		s[i - 1] = 0;
}

int
dep_save(
        struct waves *e, struct dep *d, const char *actor, const char *action, const char *fmt, ...)
{
	char detail[2048] = "";
	char *plan;
	int r;

	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
		waves_utf8_cut_tail(detail);
	}
	plan = plan_to_json(d->plan, d->rollback);
	if (!plan)
		return -ENOMEM;
	free(d->row.plan);
	d->row.plan = plan;
	r = db_deployment_save(
	        e->db, &d->row, actor ? actor : "coordinator", action, fmt ? detail : NULL);
	if (r < 0)
		log_error("deployment %" PRId64 ": cannot record its state: %s", d->row.id,
		        strerror(-r));
	if (action)
		log_struct(LOG_NOTICE, NULL, NULL, NULL, "deployment %" PRId64 " (%s %s): %s%s%s",
		        d->row.id, d->row.app, d->row.version, action, fmt ? ": " : "", detail);
	return r;
}

/* ---- tasks and health ---- */

/* A task of the rollback (or migrate_down) that failed before the
 * rollback was asked again, which retries it: not counted. */
static bool
failed_before_rollback(const struct dep *d, const struct task_row *t)
{
	return d->step == STEP_ROLLBACK && t->updated_ms < d->row.step_since_ms &&
	        dep_task_final(t->state) && !streq(t->state, "committed");
}

/* A rollback task this rollback must not count: it went to another
 * release than the one this rollback sends the host to (--to), or it
 * failed before the rollback was asked again. */
static bool
rollback_task_is_stale(const struct dep *d, const struct dep_host *h, const struct task_row *t)
{
	if (d->step != STEP_ROLLBACK)
		return false;
	return !streq(t->version, h->rb_to ? h->rb_to : "") || failed_before_rollback(d, t);
}

/* Whether the host counts against the failure budget: its deploy ended
 * without a commit, or the coordinator judged it failed. */

bool
dep_host_failed(const struct dep_host *h)
{
	return (h->failed && h->failed[0]) ||
	        (h->cmd && dep_task_final(h->task) && !streq(h->task, "committed") &&
	                !streq(h->task, "cancelled") &&
	                !dep_busy_left(h->busy_retries, h->task, h->error));
}

size_t
dep_count_failed(const struct dep *d, size_t below_wave)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].wave < below_wave && dep_host_failed(&d->hosts[i]))
			n++;
	return n;
}

/* Records the coordinator's verdict that h failed (once; audited). */
void
dep_mark_failed(struct waves *e, struct dep *d, struct dep_host *h, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	if (h->failed && h->failed[0])
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	free(h->failed);
	h->failed = strdup(why);
	if (h->cmd) {
		int r;

		r = db_task_set_failed(e->db, h->id, h->cmd, why);
		if (r < 0)
			log_error("deployment %" PRId64 ": cannot record that host %" PRId64
			          " failed: %s",
			        d->row.id, h->id, strerror(-r));
	}
	log_struct(LOG_WARNING, NULL, NULL, NULL,
	        "deployment %" PRId64 ": host %" PRId64 " (%s) failed: %s", d->row.id, h->id,
	        h->name, why);
}

static int
task_cb(void *userdata, const struct task_row *t)
{
	struct dep *d = userdata;
	struct dep_host *h = dep_host(d, t->host_id);

	if (!h)
		return 0;
	if (streq(t->kind, "deploy") && t->command_id >= h->cmd) {
		h->cmd = t->command_id;
		strbuf_printf(h->task, sizeof(h->task), "%s", t->state);
		h->phase = t->phase;
		h->activated = t->activated;
		h->final_ms = t->updated_ms;
		free(h->error);
		h->error = strdup(t->error ? t->error : "");
		free(h->failed);
		h->failed = !isempty(t->failed) ? strdup(t->failed) : NULL;
		free(h->output);
		h->output = !isempty(t->output) ? strdup(t->output) : NULL;
	} else if (streq(t->kind, "rollback") && t->command_id >= h->rb_cmd &&
	        !rollback_task_is_stale(d, h, t)) {
		h->rb_cmd = t->command_id;
		strbuf_printf(h->rb_task, sizeof(h->rb_task), "%s", t->state);
		free(h->rb_error);
		h->rb_error = strdup(t->error ? t->error : "");
	} else if (streq(t->kind, "cancel"))
		h->cancel_sent = true;
	else if (streq(t->kind, "preflight") && t->command_id >= h->pf_cmd) {
		h->pf_cmd = t->command_id;
		strbuf_printf(h->pf_task, sizeof(h->pf_task), "%s", t->state);
		free(h->pf_error);
		h->pf_error = strdup(t->error ? t->error : "");
	} else if (streq(t->kind, "migrate") && t->command_id >= d->migrate_cmd) {
		d->migrate_host = t->host_id;
		d->migrate_cmd = t->command_id;
		strbuf_printf(d->migrate_task, sizeof(d->migrate_task), "%s", t->state);
		free(d->migrate_error);
		d->migrate_error = strdup(t->error ? t->error : "");
		free(d->migrate_output);
		d->migrate_output = !isempty(t->output) ? strdup(t->output) : NULL;
	} else if (streq(t->kind, "migrate_down") && t->command_id >= d->migrate_down_cmd &&
	        !failed_before_rollback(d, t)) {
		d->migrate_down_cmd = t->command_id;
		strbuf_printf(d->migrate_down_task, sizeof(d->migrate_down_task), "%s", t->state);
	}
	return 0;
}

int
dep_load_tasks(struct waves *e, struct dep *d)
{
	int r;

	r = db_deployment_foreach_task(e->db, d->row.id, task_cb, d);
	return r == -ENOENT ? 0 : r;
}

/* The app's entry in a heartbeat's apps JSON: current release and health. */
bool
waves_app_status(const char *apps_json, const char *app, char *current, size_t size, int *health)
{
	json_t *a = json_loads(apps_json, 0, NULL), *o;
	size_t i;
	bool found = false;

	json_array_foreach(a, i, o)
	{
		if (!streq(json_string_value(json_object_get(o, "app")) ?: "", app))
			continue;
		strbuf_printf(current, size, "%s",
		        json_string_value(json_object_get(o, "current")) ?: "");
		*health = (int)json_integer_value(json_object_get(o, "health"));
		found = true;
		break;
	}
	json_decref(a);
	return found;
}

/* Refreshes the health of the hosts of wave (or every host when wave is
 * SIZE_MAX) from what heartbeats said; want is the version they should run
 * (NULL: each host's rollback_to). */
void
dep_refresh_health(struct waves *e, struct dep *d, size_t wave, bool rollback, uint64_t now)
{
	for (size_t i = 0; i < d->n_hosts; i++) {
		struct dep_host *h = &d->hosts[i];
		struct fleet_host fh = {0}, *m = NULL;
		const char *want;
		int health = 0;
		bool healthy;

		if (wave != SIZE_MAX && h->wave != wave)
			continue;
		if (e->fleet->host_get(e->fleet_ud, h->id, &fh) == 0)
			m = &fh;
		h->up = m && m->state == HOST_UP;
		/* After a coordinator restart, agents reconnect with backoff:
		 * nobody is silent before RECONNECT_GRACE_MS have passed. */
		h->last_seen_ms = m ? m->last_seen_ms : 0;
		if (h->last_seen_ms < e->started_ms + RECONNECT_GRACE_MS)
			h->last_seen_ms = e->started_ms + RECONNECT_GRACE_MS < now
			        ? e->started_ms + RECONNECT_GRACE_MS
			        : now;
		/* Only what heartbeats said since this coordinator started. */
		h->known = m && m->apps_json &&
		        waves_app_status(
		                m->apps_json, d->row.app, h->current, sizeof(h->current), &health);
		fleet_host_done(&fh);
		want = rollback ? (h->rollback_to ? h->rollback_to : "") : d->row.version;
		healthy = h->up && h->known && streq(h->current, want) &&
		        health == ROLLWAVE__HEALTH__HEALTH_HEALTHY;
		/* An agent commits only once its own health checks passed: its
		 * healthy streak starts at the commit, and heartbeats sent before
		 * it (still showing the old release) do not contradict it for one
		 * heartbeat interval. */
		if (!rollback && !healthy && h->up && streq(h->task, "committed") &&
		        h->final_ms >= e->started_ms &&
		        now <= h->final_ms + e->cfg->heartbeat_interval_usec / USEC_PER_MSEC +
		                        1000 &&
		        !(h->known && streq(h->current, want))) {
			if (!h->healthy)
				h->healthy_since_ms = h->final_ms;
			h->healthy = true;
			continue;
		}
		if (healthy && !h->healthy)
			h->healthy_since_ms = !rollback && streq(h->task, "committed") &&
			                h->final_ms && h->final_ms < now
			        ? h->final_ms
			        : now;
		h->healthy = healthy;
	}
}

/* An agent runs one command at a time and refuses another as busy (a
 * rollback or a health probe still finishing): such a refusal is asked
 * again, once a second, up to BUSY_RETRIES times, before it counts. */
bool
dep_busy_left(unsigned retries, const char *task, const char *error)
{
	return streq(task, "refused") && error && strstr(error, "busy") && retries < BUSY_RETRIES;
}

/* Whether to send the refused command again now (counts the retry in
 * *retries, the next one not before *next_ms). */
bool
dep_retry_busy(
        unsigned *retries, uint64_t *next_ms, const char *task, const char *error, uint64_t now)
{
	if (!dep_busy_left(*retries, task, error) || now < *next_ms)
		return false;
	(*retries)++;
	*next_ms = now + 1000;
	return true;
}

/* Whether the migrate hook runs on h now. */
bool
dep_host_migrating(const struct dep *d, const struct dep_host *h)
{
	return d->migrate_cmd && d->migrate_host == h->id && !dep_task_final(d->migrate_task);
}

/* What a CANCEL to h stops: the migrate hook while it runs there, else
 * its deploy. */
static uint64_t
cancel_target(const struct dep *d, const struct dep_host *h)
{
	return dep_host_migrating(d, h) ? d->migrate_cmd : h->cmd;
}

/* Gives each host hs[i] a command of kind for versions[i] (task rows
 * first, in one transaction, then the queues). A CANCEL names each host's
 * own deploy command (or its running migrate hook). */
int
dep_send_commands(struct waves *e, struct dep *d, struct dep_host **hs, const char *const *versions,
        size_t n, Rollwave__Command__Kind kind)
{
	_cleanup_free_ int64_t *ids = calloc(n ? n : 1, sizeof(*ids));
	_cleanup_free_ int *waves = calloc(n ? n : 1, sizeof(*waves));
	_cleanup_free_ uint64_t *cids = calloc(n ? n : 1, sizeof(*cids));
	_cleanup_free_ uint64_t *cancels = calloc(n ? n : 1, sizeof(*cancels));
	_cleanup_free_ const char **vs = calloc(n ? n : 1, sizeof(*vs));
	struct task_spec spec = {.host_ids = ids,
	        .waves = waves,
	        .versions = vs,
	        .cancel_ids = cancels,
	        .kind = command_kind_to_string(kind)};
	int r;

	if (!ids || !waves || !cids || !cancels || !vs)
		return -ENOMEM;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		ids[i] = hs[i]->id;
		waves[i] = (int)hs[i]->wave;
		vs[i] = versions && versions[i] ? versions[i] : "";
		cancels[i] = kind == ROLLWAVE__COMMAND__KIND__CANCEL ? cancel_target(d, hs[i]) : 0;
	}
	r = db_tasks_add(e->db, d->row.id, &spec, n, cids);
	if (r < 0) {
		log_error("deployment %" PRId64 ": cannot record %zu %s task(s): %s", d->row.id, n,
		        command_kind_to_string(kind), strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct dep_host *h = hs[i];
		struct fleet_command p = {
		        .command_id = cids[i],
		        .kind = kind,
		        .cancel_command_id = cancels[i],
		        .app = d->row.app,
		        .version = vs[i],
		};

		p.manifest_url = kind == ROLLWAVE__COMMAND__KIND__DEPLOY ||
		                kind == ROLLWAVE__COMMAND__KIND__MIGRATE ||
		                kind == ROLLWAVE__COMMAND__KIND__PREFLIGHT
		        ? d->row.manifest_url
		        : NULL;
		r = e->fleet->queue_command(e->fleet_ud, h->id, &p);
		if (r < 0)
			return r;
		if (kind == ROLLWAVE__COMMAND__KIND__DEPLOY) {
			h->cmd = cids[i];
			strbuf_printf(h->task, sizeof(h->task), "queued");
			h->activated = false;
		} else if (kind == ROLLWAVE__COMMAND__KIND__ROLLBACK) {
			h->rb_cmd = cids[i];
			h->rb_seen_ms = 0;
			strbuf_printf(h->rb_task, sizeof(h->rb_task), "queued");
		} else if (kind == ROLLWAVE__COMMAND__KIND__CANCEL)
			h->cancel_sent = true;
		else if (kind == ROLLWAVE__COMMAND__KIND__PREFLIGHT) {
			h->pf_cmd = cids[i];
			strbuf_printf(h->pf_task, sizeof(h->pf_task), "queued");
		} else if (kind == ROLLWAVE__COMMAND__KIND__MIGRATE) {
			d->migrate_host = h->id;
			d->migrate_cmd = cids[i];
			strbuf_printf(d->migrate_task, sizeof(d->migrate_task), "queued");
		} else if (kind == ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN)
			strbuf_printf(d->migrate_down_task, sizeof(d->migrate_down_task), "queued");
	}
	return 0;
}

int
dep_send_command(struct waves *e, struct dep *d, struct dep_host *h, Rollwave__Command__Kind kind,
        const char *version)
{
	return dep_send_commands(e, d, &h, &version, 1, kind);
}

/* How long a host may go unheard before it counts as silent. */
uint64_t
waves_silence_ms(const struct waves *e)
{
	return 3 * e->cfg->heartbeat_interval_usec / USEC_PER_MSEC + 2000;
}

/* When the current step's clock started, for its WaveTimeout=: a
 * coordinator that was down during the step gives its hosts the time to
 * reconnect and be heard before anyone can time out. */
uint64_t
dep_wave_clock_start(const struct waves *e, const struct dep *d, const struct plan_wave *w)
{
	uint64_t t = d->row.step_since_ms, timeout = w->timeout_usec / USEC_PER_MSEC;
	uint64_t heard_by = e->started_ms + RECONNECT_GRACE_MS + waves_silence_ms(e);

	if (t < e->started_ms && timeout && t + timeout < heard_by)
		t = heard_by - timeout;
	return t;
}
