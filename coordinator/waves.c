/*
 * waves: the deployment state machine. See waves.h.
 */
#include "waves.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "coordinator_config.h"
#include "freeze.h"
#include "gates.h"
#include "log.h"
#include "metric_gate.h"
#include "plan_json.h"
#include "prom.h"
#include "promql.h"
#include "strategy.h"
#include "textbuf.h"
#include "version.h"

#define GATE_RECHECK_MS    5000
#define HOST_OUTPUT_MAX    2048        /* a failed host's hook output in a status */
#define STATUS_OUTPUT_MAX  (64 * 1024) /* all of them */
#define RECONNECT_GRACE_MS 15000
#define BUSY_RETRIES       20 /* a rollback an agent refused as busy is sent again */
#define PROM_TIMEOUT_USEC  (3 * USEC_PER_SEC)

extern char **environ;

/* One host of a deployment, as the engine sees it. */
struct dep_host {
	int64_t id;
	const char *name;        /* the plan's */
	const char *rollback_to; /* the plan's; NULL: none */
	size_t wave;
	bool up_to_date;
	bool planned_down; /* down when the deployment was made (--force) */
	/* its latest deploy task */
	uint64_t cmd;
	uint64_t final_ms; /* when the coordinator heard it ended */
	char task[16];
	int phase;
	bool activated;
	char *error;
	/* its latest rollback task */
	uint64_t rb_cmd;
	char rb_task[16];
	char *rb_error;
	unsigned rb_retries;
	uint64_t rb_retry_ms;
	uint64_t rb_seen_ms; /* when this run first saw it in flight */
	bool cancel_sent;
	/* its preflight task */
	uint64_t pf_cmd;
	char pf_task[16];
	char *pf_error;
	/* from heartbeats since this coordinator started */
	bool up, healthy, known;
	char current[VERSION_MAX + 1];
	uint64_t healthy_since_ms, last_seen_ms;
	/* the coordinator's verdict that it failed without saying so (silent,
	 * timed out, fell ill in a bake); NULL: none. Kept with its deploy task. */
	char *failed;
	char *output; /* what its deploy's hooks printed */
	/* the release its coordinated rollback sends it to ("": its previous) */
	const char *rb_to;
	/* its deploy or preflight refused as busy: asked again */
	unsigned busy_retries;
	uint64_t busy_retry_ms;
};

struct dep {
	struct dep *next;
	struct deployment_row row;
	struct deploy_params params;
	struct plan *plan;
	struct plan *rollback;  /* while rolling back */
	struct dep_host *hosts; /* every planned host, by id */
	size_t n_hosts;
	char verdict[GATE_WHY_MAX]; /* the current wave's latest gate verdict */
	char rb_verdict[GATE_WHY_MAX];
	pid_t switch_pid;
	bool switched_back;        /* this rollback's traffic switch back ran */
	struct gate_job *gate_job; /* the metric gates' queries in flight */
	uint64_t switch_started_ms;
	uint64_t next_gate_ms;
	unsigned gate_rounds; /* of this gates step; 0: none judged yet */
	enum gate_verdict gate_last[DEPLOY_GATES_MAX];
	/* the migrate hook: where it ran and how (tasks of kind migrate and
	 * migrate_down) */
	int64_t migrate_host;
	uint64_t migrate_cmd, migrate_down_cmd;
	char migrate_task[16], migrate_down_task[16];
	char *migrate_error, *migrate_output;
	unsigned migrate_retries; /* refused as busy: asked again */
	uint64_t migrate_retry_ms;
	unsigned migrate_down_retries;
	uint64_t migrate_down_retry_ms;
};

struct waves {
	pthread_mutex_t lock;
	struct dep *deps;
	struct db *db;
	const struct coordinator_config *cfg;
	const struct fleet_ops *fleet;
	void *fleet_ud;
	uint64_t started_ms;
};

static uint64_t
e_now(struct waves *e)
{
	return e->fleet->now_ms(e->fleet_ud);
}

static bool
task_is_final(const char *t)
{
	return streq(t, "committed") || streq(t, "rolled_back") || streq(t, "failed") ||
	        streq(t, "refused") || streq(t, "cancelled");
}

/* The end of text, at most max bytes, starting at a line (or at least a
 * character) boundary. */
static const char *
text_tail(const char *text, size_t max)
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

static void gate_job_drop(struct dep *d);

static void
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

static struct dep_host *
dep_host(struct dep *d, int64_t id)
{
	struct dep_host key = {.id = id};

	if (!d->n_hosts)
		return NULL;
	return bsearch(&key, d->hosts, d->n_hosts, sizeof(*d->hosts), cmp_host_id);
}

/* The index of every planned host, sorted by id. */
static int
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
static void
index_rollback(struct dep *d)
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
static void
utf8_cut_tail(char *s)
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

static int dep_save(struct waves *e, struct dep *d, const char *actor, const char *action,
        const char *fmt, ...) _printf_(5, 6);
static int
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
		utf8_cut_tail(detail);
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

static void
set_step(struct dep *d, const char *step, uint64_t now)
{
	strbuf_printf(d->row.step, sizeof(d->row.step), "%s", step);
	d->row.step_since_ms = now;
}

static void
set_reason(struct dep *d, const char *reason)
{
	char *n = strdup(reason ? reason : "");

	if (n) {
		free(d->row.reason);
		d->row.reason = n;
	}
}

static void
finish(struct waves *e, struct dep *d, const char *state, const char *reason, uint64_t now)
{
	char action[48];

	strbuf_printf(d->row.state, sizeof(d->row.state), "%s", state);
	set_step(d, "", now);
	if (reason)
		set_reason(d, reason);
	d->row.finished_ms = now;
	strbuf_printf(action, sizeof(action), "deploy.%s", state);
	dep_save(e, d, "coordinator", action, "%s", d->row.reason);
}

/* ---- tasks and health ---- */

/* A task of the rollback (or migrate_down) that failed before the
 * rollback was asked again, which retries it: not counted. */
static bool
failed_before_rollback(const struct dep *d, const struct task_row *t)
{
	return streq(d->row.step, "rollback") && t->updated_ms < d->row.step_since_ms &&
	        task_is_final(t->state) && !streq(t->state, "committed");
}

/* A rollback task this rollback must not count: it went to another
 * release than the one this rollback sends the host to (--to), or it
 * failed before the rollback was asked again. */
static bool
rollback_task_is_stale(const struct dep *d, const struct dep_host *h, const struct task_row *t)
{
	if (!streq(d->row.step, "rollback"))
		return false;
	return !streq(t->version, h->rb_to ? h->rb_to : "") || failed_before_rollback(d, t);
}

/* Whether the host counts against the failure budget: its deploy ended
 * without a commit, or the coordinator judged it failed. */
static bool busy_left(unsigned retries, const char *task, const char *error);

static bool
host_failed(const struct dep_host *h)
{
	return (h->failed && h->failed[0]) ||
	        (h->cmd && task_is_final(h->task) && !streq(h->task, "committed") &&
	                !streq(h->task, "cancelled") &&
	                !busy_left(h->busy_retries, h->task, h->error));
}

static size_t
count_failed(const struct dep *d, size_t below_wave)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].wave < below_wave && host_failed(&d->hosts[i]))
			n++;
	return n;
}

static void mark_failed(struct waves *e, struct dep *d, struct dep_host *h, const char *fmt, ...)
        _printf_(4, 5);
/* Records the coordinator's verdict that h failed (once; audited). */
static void
mark_failed(struct waves *e, struct dep *d, struct dep_host *h, const char *fmt, ...)
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

static int
load_tasks(struct waves *e, struct dep *d)
{
	int r;

	r = db_deployment_foreach_task(e->db, d->row.id, task_cb, d);
	return r == -ENOENT ? 0 : r;
}

/* The app's entry in a heartbeat's apps JSON: current release and health. */
static bool
app_status(const char *apps_json, const char *app, char *current, size_t size, int *health)
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
static void
refresh_health(struct waves *e, struct dep *d, size_t wave, bool rollback, uint64_t now)
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
		        app_status(
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
static bool
busy_left(unsigned retries, const char *task, const char *error)
{
	return streq(task, "refused") && error && strstr(error, "busy") && retries < BUSY_RETRIES;
}

/* Whether to send the refused command again now (counts the retry in
 * *retries, the next one not before *next_ms). */
static bool
retry_busy(unsigned *retries, uint64_t *next_ms, const char *task, const char *error, uint64_t now)
{
	if (!busy_left(*retries, task, error) || now < *next_ms)
		return false;
	(*retries)++;
	*next_ms = now + 1000;
	return true;
}

/* Whether the migrate hook runs on h now. */
static bool
host_migrating(const struct dep *d, const struct dep_host *h)
{
	return d->migrate_cmd && d->migrate_host == h->id && !task_is_final(d->migrate_task);
}

/* What a CANCEL to h stops: the migrate hook while it runs there, else
 * its deploy. */
static uint64_t
cancel_target(const struct dep *d, const struct dep_host *h)
{
	return host_migrating(d, h) ? d->migrate_cmd : h->cmd;
}

/* Gives each host hs[i] a command of kind for versions[i] (task rows
 * first, in one transaction, then the queues). A CANCEL names each host's
 * own deploy command (or its running migrate hook). */
static int
send_commands(struct waves *e, struct dep *d, struct dep_host **hs, const char *const *versions,
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
		log_error("deployment %" PRId64 ": cannot record %zu %s task(e): %s", d->row.id, n,
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

static int
send_command(struct waves *e, struct dep *d, struct dep_host *h, Rollwave__Command__Kind kind,
        const char *version)
{
	return send_commands(e, d, &h, &version, 1, kind);
}

/* ---- traffic switch (blue-green) ---- */

/* Runs (or checks on) cmd: 1 done, 0 running, <0 failed (why). */
static int
switch_step(
        struct dep *d, const char *cmd, uint64_t timeout_ms, uint64_t now, char *why, size_t size)
{
	int status;
	pid_t r;

	if (d->switch_pid <= 0) {
		char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)cmd, NULL};

		if (posix_spawn(&d->switch_pid, "/bin/sh", NULL, NULL, argv, environ) != 0) {
			d->switch_pid = 0;
			strbuf_printf(
			        why, size, "cannot run the traffic command: %s", strerror(errno));
			return -EIO;
		}
		d->switch_started_ms = now;
		return 0;
	}
	r = waitpid(d->switch_pid, &status, WNOHANG);
	if (r == 0) {
		if (timeout_ms && now - d->switch_started_ms > timeout_ms) {
			kill(d->switch_pid, SIGKILL);
			(void)waitpid(d->switch_pid, NULL, 0);
			d->switch_pid = 0;
			strbuf_printf(why, size,
			        "the traffic command '%s' did not finish within %" PRIu64 " s", cmd,
			        timeout_ms / 1000);
			return -ETIMEDOUT;
		}
		return 0;
	}
	d->switch_pid = 0;
	if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		strbuf_printf(why, size, "the traffic command '%s' succeeded", cmd);
		return 1;
	}
	strbuf_printf(why, size, "the traffic command '%s' failed (%s %d)", cmd,
	        r > 0 && WIFEXITED(status) ? "exit status" : "signal",
	        r > 0 && WIFEXITED(status) ? WEXITSTATUS(status)
	                : r > 0            ? WTERMSIG(status)
	                                   : -1);
	return -EIO;
}

/* What traffic goes to now, for the app's next blue-green deployment. */
static void
record_live_color(struct waves *e, struct dep *d, const char *color)
{
	int r;

	r = db_traffic_set(e->db, d->row.app, color, d->row.id);
	if (r < 0)
		log_error("deployment %" PRId64 ": cannot record that %s is live: %s", d->row.id,
		        color, strerror(-r));
}

/* ---- rollback ---- */

/* Stops every host mid-command (a deploy, or the migrate hook) not yet
 * told to: a command still waiting in a host's queue (the host is down or
 * has not polled) is taken back and its task cancelled; the others get a
 * CANCEL, obeyed at their next safe point. */
static void
stop_hosts(struct waves *e, struct dep *d)
{
	_cleanup_free_ struct dep_host **hs = calloc(d->n_hosts + 1, sizeof(*hs));
	size_t k = 0;

	for (size_t i = 0; hs && i < d->n_hosts; i++) {
		struct dep_host *h = &d->hosts[i];
		bool migrating = host_migrating(d, h);

		if (h->cancel_sent || (!migrating && !(h->cmd && !task_is_final(h->task))))
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
		(void)send_commands(e, d, hs, NULL, k, ROLLWAVE__COMMAND__KIND__CANCEL);
}

static void
begin_rollback(struct waves *e, struct dep *d, const char *actor, const char *reason, uint64_t now)
{
	/* A traffic switch still running is stopped: what it did is unknown,
	 * so the rollback's switch back runs in any case (and its own process
	 * is not mistaken for this one). */
	if (d->switch_pid > 0) {
		kill(d->switch_pid, SIGKILL);
		(void)waitpid(d->switch_pid, NULL, 0);
		d->switch_pid = 0;
	}
	set_step(d, "rollback", now);
	set_reason(d, reason);
	plan_free(d->rollback);
	d->rollback = NULL;
	index_rollback(d);
	d->rb_verdict[0] = 0;
	/* Hosts still deploying stop at their next safe point. */
	stop_hosts(e, d);
	dep_save(e, d, actor, "deploy.rollback", "%s", reason);
}

/* Whether the blue-green traffic switch of this deployment ran. */
static bool
switched(const struct dep *d)
{
	for (size_t w = 0; w < d->plan->n_waves && w < (size_t)d->row.wave + 1; w++)
		if (d->plan->waves[w].kind == PLAN_WAVE_SWITCH &&
		        (w < (size_t)d->row.wave || !streq(d->row.step, "switch")))
			return true;
	return false;
}

static int
plan_the_rollback(struct dep *d, const char *to_version, struct rw_err *err)
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
		if (!h->activated && !(h->cmd && !task_is_final(h->task)))
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

/* A host that is down cannot hold the rollback of the others: what it did
 * with its deploy is unknown until it reconnects, so it gets a rollback to
 * its old release queued like the hosts that activated (a no-op if it never
 * deployed), and the rollback goes on without its answer. h->up is fresh:
 * refresh_health() runs before every run_rollback(). */
static void
run_rollback(struct waves *e, struct dep *d, uint64_t now)
{
	struct rw_err err = {{0}};
	size_t failed = 0, deferred = 0;
	char why[GATE_WHY_MAX], down[256] = "";

	/* A migrate hook still running must stop (or end) first: whether
	 * migrate_down is owed depends on it. */
	if (d->migrate_cmd && !task_is_final(d->migrate_task)) {
		struct dep_host *mh = dep_host(d, d->migrate_host);

		if (mh && mh->up) {
			strbuf_printf(d->rb_verdict, sizeof(d->rb_verdict),
			        "waiting for the migrate hook on host %" PRId64 " (%s) to stop",
			        mh->id, mh->name);
			return;
		}
	}
	/* First every host that was deploying must have stopped (or be down:
	 * then nobody knows until it is back). */
	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].cmd && !task_is_final(d->hosts[i].task) && d->hosts[i].up) {
			strbuf_printf(d->rb_verdict, sizeof(d->rb_verdict),
			        "waiting for host %" PRId64 " (%s) to stop deploying",
			        d->hosts[i].id, d->hosts[i].name);
			return;
		}
	if (!d->rollback) {
		if (plan_the_rollback(d, NULL, &err) < 0) {
			finish(e, d, "failed", err.msg, now);
			return;
		}
		index_rollback(d);
		dep_save(e, d, "coordinator", "deploy.rollback_plan", "%zu host(e) in %zu wave(e)",
		        d->rollback->n_hosts, d->rollback->n_waves);
	}
	for (size_t w = 0; w < d->rollback->n_waves; w++) {
		struct plan_wave *rw = &d->rollback->waves[w];
		size_t in_flight = 0, done = 0;

		if (rw->kind == PLAN_WAVE_SWITCH) {
			/* Once per rollback (a restart may run it again: traffic
			 * commands must be idempotent, as a switch to a color
			 * already live is). */
			if (d->switched_back)
				continue;
			int q = switch_step(
			        d, rw->command, rw->timeout_usec / 1000, now, why, sizeof(why));

			if (q == 0)
				return;
			strbuf_printf(d->rb_verdict, sizeof(d->rb_verdict), "%s%s",
			        q > 0 ? "switched back: " : "", why);
			dep_save(e, d, "coordinator",
			        q > 0 ? "deploy.switch_back" : "deploy.switch_back_failed", "%s",
			        why);
			if (q < 0) {
				finish(e, d, "failed", why, now);
				return;
			}
			record_live_color(e, d, d->plan->live_color);
			d->switched_back = true;
			continue;
		}
		for (size_t i = 0; i < rw->n_hosts; i++) {
			struct dep_host *h = dep_host(d, rw->hosts[i].id);

			if (!h)
				continue;
			/* An agent still finishing something refuses as busy:
			 * ask again (the rollback must happen). */
			if (h->rb_cmd &&
			        retry_busy(&h->rb_retries, &h->rb_retry_ms, h->rb_task, h->rb_error,
			                now))
				(void)send_command(e, d, h, ROLLWAVE__COMMAND__KIND__ROLLBACK,
				        rw->hosts[i].rollback_to);
			if (h->rb_cmd && task_is_final(h->rb_task) &&
			        !busy_left(h->rb_retries, h->rb_task, h->rb_error))
				done++;
			else if (h->rb_cmd && !h->up) {
				/* Down: its rollback waits in its queue. */
				done++;
				deferred++;
				strbuf_printf(down + strlen(down), sizeof(down) - strlen(down),
				        "%s%s", down[0] ? ", " : "", h->name);
			} else if (h->rb_cmd) {
				/* An agent that is up but never answers must not hold
				 * the rollback for ever: WaveTimeout= bounds it. */
				if (!h->rb_seen_ms)
					h->rb_seen_ms = now;
				/* Only a command the agent never acknowledged: one
				 * it runs reports, bounded by the agent's own
				 * deadlines. */
				if (rw->timeout_usec &&
				        (streq(h->rb_task, "queued") ||
				                streq(h->rb_task, "sent")) &&
				        now > h->rb_seen_ms &&
				        now - h->rb_seen_ms > rw->timeout_usec / USEC_PER_MSEC) {
					char msg[128];

					strbuf_printf(msg, sizeof(msg),
					        "no answer to its rollback within "
					        "WaveTimeout=%" PRIu64 " s",
					        rw->timeout_usec / USEC_PER_SEC);
					(void)e->fleet->unqueue_command(
					        e->fleet_ud, h->id, h->rb_cmd);
					(void)db_task_update(
					        e->db, h->id, h->rb_cmd, "failed", -1, msg);
					strbuf_printf(h->rb_task, sizeof(h->rb_task), "failed");
					free(h->rb_error);
					h->rb_error = strdup(msg);
					done++;
				} else
					in_flight++;
			}
		}
		{
			_cleanup_free_ struct dep_host **hs = calloc(rw->n_hosts + 1, sizeof(*hs));
			_cleanup_free_ const char **vs = calloc(rw->n_hosts + 1, sizeof(*vs));
			size_t k = 0,
			       limit = rw->max_unavailable ? rw->max_unavailable : rw->n_hosts;

			for (size_t i = 0; hs && vs && i < rw->n_hosts && in_flight + k < limit;
			        i++) {
				struct dep_host *h = dep_host(d, rw->hosts[i].id);

				if (!h || h->rb_cmd)
					continue;
				hs[k] = h;
				vs[k++] = rw->hosts[i].rollback_to;
			}
			if (k &&
			        send_commands(e, d, hs, vs, k, ROLLWAVE__COMMAND__KIND__ROLLBACK) ==
			                0)
				in_flight += k;
		}
		if (done < rw->n_hosts) {
			strbuf_printf(d->rb_verdict, sizeof(d->rb_verdict),
			        "%s: %zu of %zu hosts rolled back", rw->name, done, rw->n_hosts);
			return;
		}
	}
	/* migrate_down once, on the host where migrate ran (and found a
	 * migrate hook), after every host is back on the old release. A busy
	 * agent is asked again; a host that is down gets it queued. */
	if (streq(d->migrate_task, "committed") &&
	        !streq(d->migrate_error ?: "", TASK_HOOK_ABSENT)) {
		struct dep_host *h = dep_host(d, d->migrate_host);
		bool busy = streq(d->migrate_down_task, "refused") &&
		        d->migrate_down_retries < BUSY_RETRIES;

		if (h && (!d->migrate_down_task[0] || (busy && now >= d->migrate_down_retry_ms))) {
			if (busy) {
				d->migrate_down_retries++;
				d->migrate_down_retry_ms = now + 1000;
			}
			(void)send_command(
			        e, d, h, ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN, d->row.version);
			dep_save(e, d, "coordinator", "deploy.migrate_down",
			        "on host %" PRId64 " (%s)", h->id, h->name);
		}
		if (h && !task_is_final(d->migrate_down_task) && !h->up) {
			deferred++;
			strbuf_printf(down + strlen(down), sizeof(down) - strlen(down),
			        "%s%s (migrate_down)", down[0] ? ", " : "", h->name);
		} else if (!task_is_final(d->migrate_down_task) || busy) {
			strbuf_printf(d->rb_verdict, sizeof(d->rb_verdict),
			        "migrate_down runs on host %" PRId64, d->migrate_host);
			return;
		}
	}
	for (size_t w = 0; w < d->rollback->n_waves; w++)
		for (size_t i = 0; i < d->rollback->waves[w].n_hosts; i++) {
			struct dep_host *h = dep_host(d, d->rollback->waves[w].hosts[i].id);

			if (h && !streq(h->rb_task, "committed") && task_is_final(h->rb_task))
				failed++;
		}
	if (task_is_final(d->migrate_down_task) && !streq(d->migrate_down_task, "committed"))
		failed++;
	if (failed) {
		strbuf_printf(why, sizeof(why), "%s; the rollback failed on %zu host(e)",
		        d->row.reason, failed);
		finish(e, d, "failed", why, now);
	} else if (deferred) {
		strbuf_printf(why, sizeof(why),
		        "%s; down during the rollback, %s get%s the rollback queued for when "
		        "%s reconnect%s",
		        d->row.reason, down, deferred == 1 ? "s" : "",
		        deferred == 1 ? "it" : "they", deferred == 1 ? "s" : "");
		finish(e, d, "rolled_back", why, now);
	} else
		finish(e, d, "rolled_back", d->row.reason, now);
}

/* ---- before wave one: preflight and the migrate hook ---- */

#define PREFLIGHT_TIMEOUT_MS (2 * 60 * 1000)

static void step_migrate(struct waves *e, struct dep *d, uint64_t now);
static void begin_wave(struct waves *e, struct dep *d, uint64_t now);

/* Every planned host checks it could take the release (PREFLIGHT: app and
 * units configured, trusted key, manifest, free space, a release to roll
 * back to). A failure stops the deployment before any host changes,
 * unless it was created with --force. */
static bool
preflight_started(const struct dep *d)
{
	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].pf_cmd)
			return true;
	return false;
}

static void
step_preflight(struct waves *e, struct dep *d, uint64_t now)
{
	size_t pending = 0, failed = 0;
	char list[1536] = "";

	/* Nothing starts inside a freeze window (FreezePolicy=wait), not even
	 * the migrate hook: wait for its end first. */
	if (!preflight_started(d) && d->params.n_freeze) {
		struct gate_result g;

		freeze_gate_evaluate(d->params.freeze, d->params.n_freeze, d->params.freeze_policy,
		        false, now * USEC_PER_MSEC, &g);
		if (g.verdict != GATE_PASS) {
			strbuf_printf(d->verdict, sizeof(d->verdict), "%s", g.why);
			if (!streq(d->row.step, "freeze")) {
				set_step(d, "freeze", now);
				dep_save(e, d, "coordinator", "deploy.freeze", "%s", g.why);
			}
			return;
		}
		if (streq(d->row.step, "freeze")) {
			set_step(d, "preflight", now);
			dep_save(e, d, NULL, NULL, NULL);
		}
	}

	/* Whether hosts planned while down are up yet (heartbeats are only
	 * read when there are such hosts). */
	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].planned_down) {
			refresh_health(e, d, SIZE_MAX, false, now);
			break;
		}
	for (size_t i = 0; i < d->n_hosts; i++) {
		struct dep_host *h = &d->hosts[i];

		if (!h->pf_cmd ||
		        retry_busy(
		                &h->busy_retries, &h->busy_retry_ms, h->pf_task, h->pf_error, now))
			(void)send_command(
			        e, d, h, ROLLWAVE__COMMAND__KIND__PREFLIGHT, d->row.version);
		/* A host that was down when the deployment was made (--force)
		 * and still is cannot answer: it fails its preflight at once
		 * rather than after PREFLIGHT_TIMEOUT_MS. Others may be
		 * reconnecting (after a coordinator restart, say): they get
		 * the time. */
		if (!task_is_final(h->pf_task) && !h->up && h->planned_down) {
			if (failed++ < 8)
				strbuf_printf(list + strlen(list), sizeof(list) - strlen(list),
				        "%shost %" PRId64 " (%s): down", list[0] ? "; " : "", h->id,
				        h->name);
			continue;
		}
		if (!task_is_final(h->pf_task) ||
		        busy_left(h->busy_retries, h->pf_task, h->pf_error)) {
			pending++;
			continue;
		}
		if (!streq(h->pf_task, "committed")) {
			if (failed++ < 8)
				strbuf_printf(list + strlen(list), sizeof(list) - strlen(list),
				        "%shost %" PRId64 " (%s): %s", list[0] ? "; " : "", h->id,
				        h->name,
				        h->pf_error && h->pf_error[0] ? h->pf_error : h->pf_task);
		}
	}
	if (pending && now - d->row.step_since_ms < PREFLIGHT_TIMEOUT_MS) {
		strbuf_printf(d->verdict, sizeof(d->verdict),
		        "preflight: %zu of %zu hosts answered", d->n_hosts - pending, d->n_hosts);
		return;
	}
	if (pending) {
		for (size_t i = 0; i < d->n_hosts; i++)
			if (!task_is_final(d->hosts[i].pf_task) && failed++ < 8)
				strbuf_printf(list + strlen(list), sizeof(list) - strlen(list),
				        "%shost %" PRId64 " (%s): no answer within %d s",
				        list[0] ? "; " : "", d->hosts[i].id, d->hosts[i].name,
				        PREFLIGHT_TIMEOUT_MS / 1000);
	}
	if (failed) {
		char why[2048];

		strbuf_printf(why, sizeof(why), "preflight failed on %zu of %zu host(e)%s: %s%s",
		        failed, d->n_hosts, d->row.force ? " (--force: going on)" : "", list,
		        failed > 8 ? "; ..." : "");
		if (!d->row.force) {
			finish(e, d, "failed", why, now);
			return;
		}
		dep_save(e, d, "coordinator", "deploy.preflight_forced", "%s", why);
	} else
		dep_save(e, d, "coordinator", "deploy.preflight", "%zu host(e) ready", d->n_hosts);
	set_step(d, "migrate", now);
	step_migrate(e, d, now);
}

/* The release's migrate hook runs once, on the first host of wave one that
 * is up, before any host changes; a failure stops the deployment there. */
static void
step_migrate(struct waves *e, struct dep *d, uint64_t now)
{
	char why[3072];

	if (!d->migrate_task[0]) {
		const struct plan_wave *w = &d->plan->waves[0];
		struct dep_host *pick = NULL;

		refresh_health(e, d, 0, false, now);
		for (size_t i = 0; i < w->n_hosts && !pick; i++) {
			struct dep_host *h = dep_host(d, w->hosts[i].id);

			if (h && h->up)
				pick = h;
		}
		if (!pick) {
			strbuf_printf(d->verdict, sizeof(d->verdict),
			        "migrate: waiting for a host of wave 1 to be up");
			return;
		}
		if (send_command(e, d, pick, ROLLWAVE__COMMAND__KIND__MIGRATE, d->row.version) < 0)
			return;
		dep_save(e, d, "coordinator", "deploy.migrate", "on host %" PRId64 " (%s)",
		        pick->id, pick->name);
	} else if (retry_busy(&d->migrate_retries, &d->migrate_retry_ms, d->migrate_task,
	                   d->migrate_error, now)) {
		struct dep_host *h = dep_host(d, d->migrate_host);

		if (h)
			(void)send_command(
			        e, d, h, ROLLWAVE__COMMAND__KIND__MIGRATE, d->row.version);
	}
	if (busy_left(d->migrate_retries, d->migrate_task, d->migrate_error)) {
		strbuf_printf(d->verdict, sizeof(d->verdict),
		        "migrate: host %" PRId64 " is busy; asking again", d->migrate_host);
		return;
	}
	if (!task_is_final(d->migrate_task)) {
		strbuf_printf(d->verdict, sizeof(d->verdict), "migrate runs on host %" PRId64,
		        d->migrate_host);
		return;
	}
	if (!streq(d->migrate_task, "committed")) {
		strbuf_printf(why, sizeof(why),
		        "migrate failed on host %" PRId64 ": %s; no host was changed%s%s",
		        d->migrate_host,
		        d->migrate_error && d->migrate_error[0] ? d->migrate_error
		                                                : d->migrate_task,
		        d->migrate_output ? "; its output ends:\n" : "",
		        d->migrate_output ? text_tail(d->migrate_output, 1024) : "");
		utf8_cut_tail(why);
		finish(e, d, "failed", why, now);
		return;
	}
	set_step(d, "start", now);
	begin_wave(e, d, now);
}

/* ---- the waves ---- */

static bool
approved(struct waves *e, struct dep *d, size_t wave)
{
	int r;

	r = db_approval_get(e->db, d->row.id, (int)wave, NULL, 0, NULL);
	return r == 0;
}

static void
begin_wave(struct waves *e, struct dep *d, uint64_t now)
{
	const struct plan_wave *w = &d->plan->waves[d->row.wave];
	struct gate_result g;

	if (d->params.n_freeze) {
		freeze_gate_evaluate(d->params.freeze, d->params.n_freeze, d->params.freeze_policy,
		        false, now * USEC_PER_MSEC, &g);
		if (g.verdict != GATE_PASS) {
			if (!streq(d->row.step, "freeze")) {
				set_step(d, "freeze", now);
				dep_save(e, d, "coordinator", "deploy.freeze", "%s", g.why);
			}
			strbuf_printf(d->verdict, sizeof(d->verdict), "%s", g.why);
			return;
		}
	}
	if (w->approval && !approved(e, d, d->row.wave)) {
		if (!streq(d->row.step, "approval")) {
			set_step(d, "approval", now);
			strbuf_printf(d->verdict, sizeof(d->verdict),
			        "waiting for approval of '%s'", w->name);
			dep_save(e, d, "coordinator", "deploy.awaiting_approval",
			        "wave %d/%zu '%s': rollwave approve %" PRId64, d->row.wave + 1,
			        d->plan->n_waves, w->name, d->row.id);
		}
		return;
	}
	set_step(d, w->kind == PLAN_WAVE_SWITCH ? "switch" : "deploying", now);
	/* pending (preflight, migrate, a freeze before them) ends with wave one. */
	if (streq(d->row.state, "pending"))
		strbuf_printf(d->row.state, sizeof(d->row.state), "running");
	d->verdict[0] = 0;
	dep_save(e, d, "coordinator", "deploy.wave", "wave %d/%zu '%s': %zu host(e)",
	        d->row.wave + 1, d->plan->n_waves, w->name, w->n_hosts);
}

static void
next_wave(struct waves *e, struct dep *d, uint64_t now)
{
	d->row.wave++;
	d->verdict[0] = 0;
	if ((size_t)d->row.wave >= d->plan->n_waves) {
		d->row.wave = (int)d->plan->n_waves - 1;
		finish(e, d, "succeeded", "every wave is healthy", now);
		return;
	}
	set_step(d, "start", now);
	begin_wave(e, d, now);
}

/* How long a host may go unheard before it counts as silent. */
static uint64_t
silence_ms(const struct waves *e)
{
	return 3 * e->cfg->heartbeat_interval_usec / USEC_PER_MSEC + 2000;
}

/* When the current step's clock started, for its WaveTimeout=: a
 * coordinator that was down during the step gives its hosts the time to
 * reconnect and be heard before anyone can time out. */
static uint64_t
wave_clock_start(const struct waves *e, const struct dep *d, const struct plan_wave *w)
{
	uint64_t t = d->row.step_since_ms, timeout = w->timeout_usec / USEC_PER_MSEC;
	uint64_t heard_by = e->started_ms + RECONNECT_GRACE_MS + silence_ms(e);

	if (t < e->started_ms && timeout && t + timeout < heard_by)
		t = heard_by - timeout;
	return t;
}

static void
step_deploying(struct waves *e, struct dep *d, uint64_t now)
{
	const struct plan_wave *w = &d->plan->waves[d->row.wave];
	struct wave_host_status *st = calloc(w->n_hosts ? w->n_hosts : 1, sizeof(*st));
	struct wave_health_input in = {0};
	size_t in_flight = 0, limit = w->max_unavailable ? w->max_unavailable : w->n_hosts;
	enum gate_verdict *verdicts;
	struct gate_result g;

	if (!st)
		return;
	refresh_health(e, d, (size_t)d->row.wave, false, now);
	/* A host silent for longer than the gate allows (down when planned
	 * with --force, or gone since; after a coordinator restart, only once
	 * the reconnect grace is over) holds no slot of MaxUnavailable=: its
	 * command waits in its queue, and the wave health gate counts it
	 * failed. */
	for (size_t i = 0; i < w->n_hosts; i++) {
		struct dep_host *h = dep_host(d, w->hosts[i].id);

		if (h && h->cmd && !task_is_final(h->task) &&
		        (h->up || now < h->last_seen_ms + silence_ms(e)))
			in_flight++;
	}
	{
		_cleanup_free_ struct dep_host **hs = calloc(w->n_hosts + 1, sizeof(*hs));
		_cleanup_free_ const char **vs = calloc(w->n_hosts + 1, sizeof(*vs));
		size_t k = 0;

		for (size_t i = 0; hs && vs && i < w->n_hosts && in_flight + k < limit; i++) {
			struct dep_host *h = dep_host(d, w->hosts[i].id);

			if (!h || h->up_to_date ||
			        (h->cmd &&
			                !retry_busy(&h->busy_retries, &h->busy_retry_ms, h->task,
			                        h->error, now)))
				continue;
			hs[k] = h;
			vs[k++] = d->row.version;
		}
		if (k && send_commands(e, d, hs, vs, k, ROLLWAVE__COMMAND__KIND__DEPLOY) == 0)
			in_flight += k;
	}
	for (size_t i = 0; i < w->n_hosts; i++) {
		struct dep_host *h = dep_host(d, w->hosts[i].id);

		st[i].id = w->hosts[i].id;
		st[i].name = w->hosts[i].name;
		if (!h)
			continue;
		if (h->up_to_date && !h->cmd)
			st[i].state = WAVE_HOST_COMMITTED;
		else if (!h->cmd || !task_is_final(h->task) ||
		        busy_left(h->busy_retries, h->task, h->error))
			st[i].state = WAVE_HOST_PENDING;
		else
			st[i].state = streq(h->task, "committed") ? WAVE_HOST_COMMITTED
			                                          : WAVE_HOST_FAILED;
		st[i].healthy = h->healthy;
		st[i].healthy_since_usec = h->healthy_since_ms * USEC_PER_MSEC;
		st[i].last_seen_usec = h->last_seen_ms * USEC_PER_MSEC;
	}
	in.hosts = st;
	in.n_hosts = w->n_hosts;
	in.started_usec = wave_clock_start(e, d, w) * USEC_PER_MSEC;
	in.timeout_usec = w->timeout_usec;
	in.min_healthy_usec = w->min_healthy_usec;
	in.silence_usec = silence_ms(e) * USEC_PER_MSEC;
	in.budget = d->params.failure_budget;
	in.deployment_hosts = d->plan->n_hosts;
	in.failed_before = count_failed(d, (size_t)d->row.wave);
	verdicts = calloc(w->n_hosts ? w->n_hosts : 1, sizeof(*verdicts));
	gate_wave_health_evaluate(&in, now * USEC_PER_MSEC, verdicts, &g);
	free(st);
	strbuf_printf(d->verdict, sizeof(d->verdict), "%s", g.why);
	/* Once the wave is decided, hosts that failed it count against the
	 * budget of the waves after it, and stay counted after a restart. */
	for (size_t i = 0; verdicts && g.verdict != GATE_HOLD && i < w->n_hosts; i++) {
		struct dep_host *h = dep_host(d, w->hosts[i].id);

		if (h && verdicts[i] == GATE_FAIL && !host_failed(h))
			mark_failed(e, d, h, "wave %d '%s': %s", d->row.wave + 1, w->name,
			        !h->up ? "down or silent"
			                : !task_is_final(h->task)
			                ? "not committed within WaveTimeout"
			                : !h->healthy ? "unhealthy at the end of the wave"
			                              : "not healthy for MinHealthy within "
			                                "WaveTimeout");
	}
	free(verdicts);
	if (g.verdict == GATE_FAIL) {
		char why[GATE_WHY_MAX + 64];

		strbuf_printf(
		        why, sizeof(why), "wave %d '%s': %s", d->row.wave + 1, w->name, g.why);
		begin_rollback(e, d, "coordinator", why, now);
	} else if (g.verdict == GATE_PASS) {
		set_step(d, "bake", now);
		dep_save(e, d, "coordinator", "deploy.wave_healthy", "wave %d/%zu '%s': %s",
		        d->row.wave + 1, d->plan->n_waves, w->name, g.why);
	}
}

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
static void
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

/* Every metric gate once per GATE_RECHECK_MS: a failing one rolls back, a
 * holding one waits (for at most the wave's WaveTimeout=), all passing
 * move on. Each verdict with its values goes to the audit log when it is
 * the gate's first or differs from its previous one; the status shows
 * every gate's latest. */
static void
step_gates(struct waves *e, struct dep *d, uint64_t now)
{
	const struct plan_wave *w = &d->plan->waves[d->row.wave];
	char verdicts[sizeof(d->verdict)];
	struct textbuf all = textbuf_init(verdicts, sizeof(verdicts));
	bool hold = false, first = d->gate_rounds == 0, done, audited[DEPLOY_GATES_MAX] = {false};
	struct gate_result results[DEPLOY_GATES_MAX];
	struct gate_job *j;

	/* Answers for an earlier gates step (a wave ago, or before a
	 * rollback and a reopen) are not this step's. */
	if (d->gate_job && d->gate_job->step_since_ms != d->row.step_since_ms)
		gate_job_drop(d);
	if (!d->gate_job) {
		if (now < d->next_gate_ms)
			return;
		if (gate_job_start(d, now) < 0)
			log_error(
			        "deployment %" PRId64 ": cannot query the metric gates", d->row.id);
		d->next_gate_ms = now + GATE_RECHECK_MS;
		return;
	}
	j = d->gate_job;
	pthread_mutex_lock(&j->lock);
	done = j->done;
	pthread_mutex_unlock(&j->lock);
	if (!done)
		return;
	d->gate_job = NULL;
	d->gate_rounds++;
	for (size_t i = 0; i < d->params.n_gates && i < j->n; i++) {
		const struct metric_gate *mg = &d->params.gates[i];
		struct gate_query *q = &j->q[i];
		struct rw_err err = {{0}};
		struct gate_result g;

		if (q->rc < 0)
			metric_gate_evaluate_unavailable(mg, q->err, &g);
		else {
			struct prom_vector v = {0};

			if (prom_vector_parse(q->body, strlen(q->body), &v, &err) < 0)
				metric_gate_evaluate_unavailable(mg, err.msg, &g);
			else
				metric_gate_evaluate(mg, v.samples, v.n_samples, &g);
			prom_vector_done(&v);
		}
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
			begin_rollback(e, d, "coordinator", why, now);
			return;
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
		        now > wave_clock_start(e, d, w) + w->timeout_usec / USEC_PER_MSEC) {
			char why[GATE_WHY_MAX + 96];

			strbuf_printf(why, sizeof(why),
			        "wave %d '%s': metric gates held for longer than WaveTimeout: %s",
			        d->row.wave + 1, w->name, d->verdict);
			begin_rollback(e, d, "coordinator", why, now);
		}
		return;
	}
	next_wave(e, d, now);
}

/* The bake: the wave's hosts (for a blue-green switch, the idle color's,
 * now live) must stay healthy for Bake=. A host that falls ill or goes
 * silent counts against the failure budget like one that failed its
 * deploy; a breach rolls back. The bake ends only on fresh health: after a
 * coordinator restart every host must have been heard again. */
static void
step_bake(struct waves *e, struct dep *d, uint64_t now)
{
	size_t wave = (size_t)d->row.wave;
	const struct plan_wave *w = &d->plan->waves[wave];
	const struct plan_wave *hw =
	        w->kind == PLAN_WAVE_SWITCH && wave > 0 ? &d->plan->waves[wave - 1] : w;
	size_t hw_index = hw == w ? wave : wave - 1, newly = 0, unheard = 0;
	char why[GATE_WHY_MAX + 128] = "", first[256] = "";
	struct gate_result g;

	refresh_health(e, d, hw_index, false, now);
	for (size_t i = 0; i < hw->n_hosts; i++) {
		struct dep_host *h = dep_host(d, hw->hosts[i].id);

		if (!h || host_failed(h))
			continue;
		if (h->up && h->known && !h->healthy)
			mark_failed(e, d, h,
			        "wave %zu '%s': became unhealthy during the bake (running '%s')",
			        hw_index + 1, hw->name, h->current);
		else if (!h->up && now >= h->last_seen_ms + silence_ms(e))
			mark_failed(e, d, h, "wave %zu '%s': went silent during the bake",
			        hw_index + 1, hw->name);
		else {
			if (!h->up || !h->known)
				unheard++;
			continue;
		}
		if (newly++ == 0)
			strbuf_printf(first, sizeof(first), "host %" PRId64 " (%s): %s", h->id,
			        h->name, h->failed ? h->failed : "failed");
	}
	if (newly) {
		gate_budget_evaluate(
		        &d->params.failure_budget, d->plan->n_hosts, count_failed(d, SIZE_MAX), &g);
		if (g.verdict == GATE_FAIL) {
			strbuf_printf(why, sizeof(why), "%s; %s", first, g.why);
			begin_rollback(e, d, "coordinator", why, now);
			return;
		}
		dep_save(e, d, "coordinator", "deploy.host_failed", "%s%s; %s", first,
		        newly > 1 ? " and others" : "", g.why);
	}
	gate_bake_evaluate(
	        d->row.step_since_ms * USEC_PER_MSEC, w->bake_usec, now * USEC_PER_MSEC, &g);
	if (g.verdict != GATE_PASS) {
		strbuf_printf(d->verdict, sizeof(d->verdict), "%s", g.why);
		return;
	}
	/* Not for ever: a host that is up but never reports the app fails
	 * once the bake is over by a WaveTimeout=. */
	if (unheard &&
	        (!w->timeout_usec ||
	                now <= d->row.step_since_ms + w->bake_usec / USEC_PER_MSEC +
	                                w->timeout_usec / USEC_PER_MSEC)) {
		strbuf_printf(d->verdict, sizeof(d->verdict),
		        "bake over; waiting for fresh health from %zu host(e) of '%s'", unheard,
		        hw->name);
		return;
	}
	if (unheard) {
		for (size_t i = 0; i < hw->n_hosts; i++) {
			struct dep_host *h = dep_host(d, hw->hosts[i].id);

			if (h && !host_failed(h) && (!h->up || !h->known))
				mark_failed(e, d, h,
				        "wave %zu '%s': no health report for %s within WaveTimeout "
				        "after the bake",
				        hw_index + 1, hw->name, d->row.app);
		}
		gate_budget_evaluate(
		        &d->params.failure_budget, d->plan->n_hosts, count_failed(d, SIZE_MAX), &g);
		if (g.verdict == GATE_FAIL) {
			strbuf_printf(why, sizeof(why),
			        "wave %zu '%s': %zu host(e) sent no health report after the bake; "
			        "%s",
			        hw_index + 1, hw->name, unheard, g.why);
			begin_rollback(e, d, "coordinator", why, now);
			return;
		}
		dep_save(e, d, "coordinator", "deploy.host_failed",
		        "%zu host(e) sent no health report after the bake; %s", unheard, g.why);
	}
	if (w->metric_gates && d->params.n_gates) {
		set_step(d, "gates", now);
		d->next_gate_ms = 0;
		d->gate_rounds = 0;
		dep_save(e, d, NULL, NULL, NULL);
		return;
	}
	next_wave(e, d, now);
}

static void dep_tick_once(struct waves *e, struct dep *d, uint64_t now);

/* Steps that need nothing from outside (a bake of 0 ending, the next wave
 * starting) follow each other in the same tick. */
static void
dep_tick(struct waves *e, struct dep *d, uint64_t now)
{
	for (int i = 0; i < 8; i++) {
		char state[sizeof(d->row.state)], step[sizeof(d->row.step)];
		int wave = d->row.wave;

		memcpy(state, d->row.state, sizeof(state));
		memcpy(step, d->row.step, sizeof(step));
		dep_tick_once(e, d, now);
		if (wave == d->row.wave && streq(state, d->row.state) && streq(step, d->row.step))
			break;
	}
}

static void
dep_tick_once(struct waves *e, struct dep *d, uint64_t now)
{
	const struct plan_wave *w;
	char why[GATE_WHY_MAX];

	if (!streq(d->row.state, "running") && !streq(d->row.state, "pending"))
		return;
	if (load_tasks(e, d) < 0)
		return;
	if (streq(d->row.step, "rollback")) {
		refresh_health(e, d, SIZE_MAX, true, now);
		run_rollback(e, d, now);
		return;
	}
	if (d->plan->n_waves == 0) {
		finish(e, d, "succeeded", "nothing to do", now);
		return;
	}
	w = &d->plan->waves[d->row.wave];
	if (streq(d->row.step, "preflight") ||
	        (streq(d->row.step, "freeze") && d->row.wave == 0 && !preflight_started(d))) {
		step_preflight(e, d, now);
		return;
	}
	if (streq(d->row.step, "migrate")) {
		step_migrate(e, d, now);
		return;
	}
	if (streq(d->row.step, "start") || streq(d->row.step, "freeze") ||
	        streq(d->row.step, "approval") || !d->row.step[0]) {
		begin_wave(e, d, now);
		return;
	}
	if (streq(d->row.step, "deploying")) {
		step_deploying(e, d, now);
		return;
	}
	if (streq(d->row.step, "switch")) {
		int q = switch_step(d, w->command, w->timeout_usec / 1000, now, why, sizeof(why));

		if (q == 0)
			return;
		strbuf_printf(d->verdict, sizeof(d->verdict), "%s", why);
		if (q < 0) {
			begin_rollback(e, d, "coordinator", why, now);
			return;
		}
		set_step(d, "bake", now);
		dep_save(e, d, "coordinator", "deploy.switch", "%s", why);
		record_live_color(e, d, d->plan->idle_color);
		return;
	}
	if (streq(d->row.step, "bake")) {
		step_bake(e, d, now);
		return;
	}
	if (streq(d->row.step, "gates")) {
		step_gates(e, d, now);
		return;
	}
}

/* ---- loading ---- */

static int
dep_load(const struct deployment_row *row, struct dep **ret, struct rw_err *err)
{
	struct dep *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->row = *row;
	d->row.manifest_url = strdup(row->manifest_url ? row->manifest_url : "");
	d->row.params = strdup(row->params ? row->params : "");
	d->row.selector = strdup(row->selector ? row->selector : "");
	d->row.plan = strdup(row->plan ? row->plan : "");
	d->row.reason = strdup(row->reason ? row->reason : "");
	if (!d->row.manifest_url || !d->row.params || !d->row.selector || !d->row.plan ||
	        !d->row.reason) {
		dep_free(d);
		return -ENOMEM;
	}
	deploy_params_init(&d->params);
	r = deploy_params_load_buffer(
	        &d->params, "deployment options", d->row.params, strlen(d->row.params), err);
	if (r < 0) {
		dep_free(d);
		return r;
	}
	r = plan_from_json(
	        d->row.plan, d->row.app, d->row.version, &d->params, &d->plan, &d->rollback);
	if (r < 0) {
		dep_free(d);
		return rw_err_set(err, r, "its plan cannot be read");
	}
	if (d->row.wave < 0 || (d->plan->n_waves && (size_t)d->row.wave >= d->plan->n_waves)) {
		int wave = d->row.wave;

		dep_free(d);
		return rw_err_set(err, -EINVAL, "its wave %d is not in its plan", wave + 1);
	}
	r = dep_index(d);
	if (r < 0) {
		dep_free(d);
		return r;
	}
	index_rollback(d);
	*ret = d;
	return 0;
}

static int
load_active_cb(void *userdata, const struct deployment_row *row)
{
	struct waves *e = userdata;
	struct rw_err err = {{0}};
	struct dep *d;
	int r;

	if (isempty(row->plan))
		return 0; /* schema 2: all at once, handled by the server */
	r = dep_load(row, &d, &err);
	if (r < 0) {
		struct deployment_row failed = *row;
		char why[WIRE_TEXT_MAX];

		/* It must not hold its app for ever: it ends failed, saying why. */
		strbuf_printf(why, sizeof(why), "the coordinator could not resume it: %s",
		        err.msg[0] ? err.msg : strerror(-r));
		log_error("deployment %" PRId64 ": %s", row->id, why);
		strbuf_printf(failed.state, sizeof(failed.state), "failed");
		failed.step[0] = 0;
		failed.reason = why;
		failed.finished_ms = e_now(e);
		(void)db_deployment_save(e->db, &failed, "coordinator", "deploy.failed", why);
		return 0;
	}
	d->next = e->deps;
	e->deps = d;
	log_notice("deployment %" PRId64 " (%s %s) resumes: %s, wave %d/%zu, %s", row->id, row->app,
	        row->version, row->state, row->wave + 1, d->plan->n_waves,
	        row->step[0] ? row->step : "start");
	return 0;
}

void
waves_stop(struct waves *e)
{
	if (!e)
		return;
	while (e->deps) {
		struct dep *d = e->deps;

		e->deps = d->next;
		dep_free(d);
	}
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int
waves_start(const struct waves_config *c, struct waves **ret, struct rw_err *err)
{
	struct waves *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	e->db = c->db;
	e->cfg = c->cfg;
	e->fleet = c->fleet;
	e->fleet_ud = c->fleet_userdata;
	e->started_ms = c->started_ms;
	r = db_deployments_foreach(e->db, NULL, true, 0, load_active_cb, e);
	if (r < 0) {
		waves_stop(e);
		return rw_err_set(err, r, "cannot load the active deployments: %s", strerror(-r));
	}
	*ret = e;
	return 0;
}

void
waves_tick(struct waves *e)
{
	uint64_t now;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	now = e_now(e);
	for (struct dep **pp = &e->deps; *pp;) {
		struct dep *d = *pp;

		dep_tick(e, d, now);
		if (!deployment_state_is_active(d->row.state)) {
			*pp = d->next;
			dep_free(d);
			continue;
		}
		pp = &d->next;
	}
	pthread_mutex_unlock(&e->lock);
}

/* ---- admin: status ---- */

static Rollwave__DeploymentStatus__Wave *
wave_status(struct arena *a, const struct dep *d, const struct plan_wave *w, size_t index,
        bool rollback, size_t *output_budget)
{
	Rollwave__DeploymentStatus__Wave *ws = arena_alloc(a, sizeof(*ws));
	const char *state = "waiting";

	if (!ws)
		return NULL;
	rollwave__deployment_status__wave__init(ws);
	ws->name = arena_strdup(a, w->name);
	ws->kind = arena_strdup(a, plan_wave_kind_to_string(w->kind));
	ws->max_unavailable = (uint32_t)w->max_unavailable;
	ws->approval = w->approval;
	ws->bake_ms = w->bake_usec / 1000;
	ws->timeout_ms = w->timeout_usec / 1000;
	ws->min_healthy_ms = w->min_healthy_usec / 1000;
	/* Gated only when the deployment has metric gates at all. */
	ws->metric_gates = w->metric_gates && (!d || d->params.n_gates > 0);
	ws->command = arena_strdup(a, w->command ? w->command : "");
	ws->verdict = arena_strdup(a, "");
	if (d && !rollback) {
		bool current = index == (size_t)d->row.wave;

		if (index < (size_t)d->row.wave || (current && streq(d->row.state, "succeeded")))
			state = "done";
		else if (current && deployment_state_is_active(d->row.state))
			state = streq(d->row.step, "rollback") ? "failed" : d->row.step;
		else if (current && !deployment_state_is_active(d->row.state))
			state = streq(d->row.state, "succeeded") ? "done"
			        : streq(d->row.state, "failed") ||
			                streq(d->row.state, "rolled_back") ||
			                streq(d->row.state, "aborted")
			        ? "stopped"
			        : "";
		if (current)
			ws->verdict = arena_strdup(a, d->verdict);
	} else if (d && rollback)
		ws->verdict = arena_strdup(a, d->rb_verdict);
	ws->state = arena_strdup(a, state[0] ? state : "waiting");
	ws->hosts = arena_alloc(a, (w->n_hosts ? w->n_hosts : 1) * sizeof(*ws->hosts));
	if (!ws->hosts)
		return NULL;
	for (size_t i = 0; i < w->n_hosts; i++) {
		Rollwave__DeploymentStatus__Host *h = arena_alloc(a, sizeof(*h));
		const struct dep_host *dh = d ? dep_host((struct dep *)d, w->hosts[i].id) : NULL;

		if (!h)
			return NULL;
		rollwave__deployment_status__host__init(h);
		h->host_id = (uint64_t)w->hosts[i].id;
		h->hostname = arena_strdup(a, w->hosts[i].name);
		h->down = w->hosts[i].down;
		h->up_to_date = w->hosts[i].up_to_date;
		h->rollback_to =
		        arena_strdup(a, w->hosts[i].rollback_to ? w->hosts[i].rollback_to : "");
		h->task = arena_strdup(a, "");
		h->error = arena_strdup(a, "");
		h->hook_output = arena_strdup(a, "");
		if (dh) {
			h->task = arena_strdup(a, rollback ? dh->rb_task : dh->task);
			h->error = arena_strdup(a, (rollback ? dh->rb_error : dh->error) ?: "");
			/* The coordinator's own verdict, when the agent said nothing. */
			if (!rollback && dh->failed && !h->error[0])
				h->error = arena_strdup(a, dh->failed);
			/* What the hooks of a failed host printed: its end. */
			if (!rollback && dh->output && host_failed(dh) && *output_budget > 0) {
				const char *o = text_tail(dh->output, HOST_OUTPUT_MAX);

				if (strlen(o) <= *output_budget) {
					h->hook_output = arena_strdup(a, o);
					*output_budget -= strlen(o);
				}
			}
			h->phase = rollback ? 0 : (Rollwave__Phase)dh->phase;
			h->healthy = dh->healthy;
		}
		ws->hosts[ws->n_hosts++] = h;
	}
	return ws;
}

static Rollwave__DeploymentStatus__Wave **
waves_status(struct arena *a, const struct dep *d, const struct plan *p, bool rollback,
        size_t *output_budget, size_t *ret_n)
{
	Rollwave__DeploymentStatus__Wave **v;

	*ret_n = 0;
	if (!p)
		return NULL;
	v = arena_alloc(a, (p->n_waves ? p->n_waves : 1) * sizeof(*v));
	for (size_t i = 0; v && i < p->n_waves; i++) {
		v[i] = wave_status(a, d, &p->waves[i], i, rollback, output_budget);
		if (!v[i])
			return NULL;
		(*ret_n)++;
	}
	return v;
}

static void
row_status(struct arena *a, const struct deployment_row *row, Rollwave__DeploymentStatus *st)
{
	rollwave__deployment_status__init(st);
	st->deployment_id = (uint64_t)row->id;
	st->app = arena_strdup(a, row->app);
	st->version = arena_strdup(a, row->version);
	st->manifest_url = arena_strdup(a, row->manifest_url);
	/* Rows without a strategy were sent with --hosts, all at once. */
	st->strategy = arena_strdup(a,
	        row->strategy[0]                       ? row->strategy
	                : streq(row->kind, "rollback") ? "rollback"
	                                               : "all-at-once");
	st->state = arena_strdup(a, row->state);
	st->wave = (uint32_t)row->wave;
	st->step = arena_strdup(a, row->step);
	st->reason = arena_strdup(a, row->reason);
	st->actor = arena_strdup(a, row->actor);
	st->created_ms = row->created_ms;
	st->updated_ms = row->updated_ms;
	st->finished_ms = row->finished_ms;
	st->params = arena_strdup(a, row->params);
}

static Rollwave__DeploymentStatus *
dep_status(struct arena *a, const struct dep *d)
{
	Rollwave__DeploymentStatus *st = arena_alloc(a, sizeof(*st));
	size_t failed = 0, budget = STATUS_OUTPUT_MAX;

	if (!st)
		return NULL;
	row_status(a, &d->row, st);
	st->waves = waves_status(a, d, d->plan, false, &budget, &st->n_waves);
	st->rollback = waves_status(a, d, d->rollback ? d->rollback : d->plan->rollback,
	        d->rollback != NULL, &budget, &st->n_rollback);
	st->failures_allowed = (uint32_t)d->plan->failures_allowed;
	failed = count_failed(d, SIZE_MAX);
	st->failed = (uint32_t)failed;
	return st;
}

/* A response in a; -ENOMEM (err) if st or it could not be allocated. */
static int
response(struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err)
{
	Rollwave__AdminResponse *resp = arena_alloc(a, sizeof(*resp));

	if (!resp)
		return rw_err_set(err, -ENOMEM, "out of memory");
	rollwave__admin_response__init(resp);
	*ret = resp;
	return 0;
}

static int
status_reply(struct arena *a, Rollwave__DeploymentStatus *st, Rollwave__AdminResponse **ret,
        struct rw_err *err)
{
	Rollwave__AdminResponse *resp = NULL;

	if (!st || response(a, &resp, err) < 0)
		return rw_err_set(err, -ENOMEM, "out of memory");
	resp->response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS;
	resp->deployment_status = st;
	*ret = resp;
	return 0;
}

Rollwave__Error__Code
waves_error_code(int r)
{
	switch (r) {
	case -EINVAL:
		return ROLLWAVE__ERROR__CODE__INVALID;
	case -ENOMEM:
		return ROLLWAVE__ERROR__CODE__BUSY;
	case -EOPNOTSUPP:
		return ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE;
	default:
		return ROLLWAVE__ERROR__CODE__INTERNAL;
	}
}

static struct dep *
find_dep(struct waves *e, int64_t id)
{
	for (struct dep *d = e->deps; d; d = d->next)
		if (d->row.id == id)
			return d;
	return NULL;
}

/* A finished deployment, read from the database, as a status. */
static Rollwave__DeploymentStatus *
stored_status(struct waves *e, struct arena *a, const struct deployment_row *row)
{
	struct rw_err err = {{0}};
	Rollwave__DeploymentStatus *st;
	struct dep *d;

	if (isempty(row->plan)) {
		st = arena_alloc(a, sizeof(*st));
		if (st)
			row_status(a, row, st);
		return st;
	}
	if (dep_load(row, &d, &err) < 0) {
		st = arena_alloc(a, sizeof(*st));
		if (st)
			row_status(a, row, st);
		return st;
	}
	(void)load_tasks(e, d);
	st = dep_status(a, d);
	dep_free(d);
	return st;
}

/* ---- admin: create ---- */

struct gather {
	struct waves *e;
	const char *app, *selector;
	const uint64_t *ids;
	size_t n_ids;
	struct plan_host *hosts;
	char ***labels;
	char **names, **currents;
	size_t n, cap;
	bool *seen_ids;
	char missing[256];
};

static int
gather_cb(void *userdata, const struct host_row *h)
{
	struct gather *g = userdata;
	json_t *labels;
	char **lv = NULL;
	char current[VERSION_MAX + 1] = "";
	const char *k;
	json_t *v;
	int health = 0;
	bool configured, up;
	size_t i = 0;

	if (h->state == HOST_PENDING || h->state == HOST_REVOKED)
		return 0;
	if (g->n_ids) {
		bool want = false;

		for (size_t j = 0; j < g->n_ids; j++)
			if ((int64_t)g->ids[j] == h->id) {
				want = true;
				g->seen_ids[j] = true;
			}
		if (!want)
			return 0;
	} else if (!labels_match(h->labels, g->selector))
		return 0;

	{
		struct fleet_host fh = {0};
		bool known = g->e->fleet->host_get(g->e->fleet_ud, h->id, &fh) == 0;
		const char *apps = known && fh.apps_json ? fh.apps_json : h->apps;

		up = known ? fh.state == HOST_UP : h->state == HOST_UP;
		configured = app_status(apps, g->app, current, sizeof(current), &health);
		fleet_host_done(&fh);
	}
	/* Only hosts that have the app (configured, with or without a
	 * release), unless named one by one. */
	if (!configured && !g->n_ids)
		return 0;
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 64;
		struct plan_host *nh = realloc(g->hosts, ncap * sizeof(*nh));
		char ***nl = realloc(g->labels, ncap * sizeof(*nl));
		char **nn = realloc(g->names, ncap * sizeof(*nn));
		char **nc = realloc(g->currents, ncap * sizeof(*nc));

		if (nh)
			g->hosts = nh;
		if (nl)
			g->labels = nl;
		if (nn)
			g->names = nn;
		if (nc)
			g->currents = nc;
		if (!nh || !nl || !nn || !nc)
			return -ENOMEM;
		g->cap = ncap;
	}
	labels = json_loads(h->labels, 0, NULL);
	lv = calloc(json_object_size(labels) + 1, sizeof(*lv));
	json_object_foreach(labels, k, v)
	{
		if (lv && asprintf(&lv[i], "%s=%s", k, json_string_value(v) ?: "") >= 0)
			i++;
	}
	json_decref(labels);
	g->labels[g->n] = lv;
	g->names[g->n] = strdup(isempty(h->hostname) ? "?" : h->hostname);
	g->currents[g->n] = strdup(current);
	g->hosts[g->n] = (struct plan_host) {
	        .id = h->id,
	        .name = g->names[g->n],
	        .labels = lv,
	        .up = up,
	        .current_version = g->currents[g->n],
	};
	g->n++;
	return 0;
}

static void
gather_done(struct gather *g)
{
	for (size_t i = 0; i < g->n; i++) {
		strv_free(g->labels[i]);
		free(g->names[i]);
		free(g->currents[i]);
	}
	free(g->hosts);
	free(g->labels);
	free(g->names);
	free(g->currents);
	free(g->seen_ids);
}

static int
admin_create(struct waves *e, const Rollwave__AdminRequest__CreateDeployment *c, const char *actor,
        struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err)
{
	struct gather g = {.e = e,
	        .app = c->app,
	        .selector = c->selector,
	        .ids = c->host_ids,
	        .n_ids = c->n_host_ids};
	struct deploy_params params;
	struct plan *plan = NULL;
	struct rw_err perr = {{0}};
	struct deployment_row row = {0};
	struct dep *d = NULL;
	char *ini = NULL;
	int64_t id;
	int r;

	deploy_params_init(&params);
	r = deploy_params_load_buffer(
	        &params, "deployment options", c->params, strlen(c->params), &perr);
	if (r >= 0 && c->n_host_ids && !(params.set & (UINT64_C(1) << DEPLOY_KEY_STRATEGY)))
		r = deploy_params_set(&params, "Strategy", "all-at-once", &perr);
	/* The fleet's freeze windows (coordinator.conf [Freeze]) join the
	 * deployment's own, and show in its plan and status. */
	if (r >= 0)
		r = coordinator_freeze_apply(e->cfg, &params, &perr);
	if (r >= 0)
		r = deploy_params_validate(&params, &perr);
	if (r < 0)
		return rw_err_set(err, -EINVAL, "%s", perr.msg);
	/* Blue-green: the live color is the one the last switch left live. */
	if (streq(params.strategy, "blue-green")) {
		char recorded[16] = "";
		int64_t by = 0;

		r = db_traffic_get(e->db, c->app, recorded, sizeof(recorded), &by);
		if (r == 0 && !(params.set & (UINT64_C(1) << DEPLOY_KEY_LIVE_COLOR)))
			r = deploy_params_set(&params, "LiveColor", recorded, &perr);
		else if (r == 0 && !streq(params.live_color, recorded) && !c->force)
			return rw_err_set(err, -EINVAL,
			        "LiveColor=%s, but %s is live for %s since deployment %" PRId64
			        "'s traffic switch; leave LiveColor= out, or use --force if "
			        "traffic was switched by hand",
			        params.live_color, recorded, c->app, by);
		else
			r = 0;
		if (r < 0)
			return rw_err_set(err, -EINVAL, "%s", perr.msg);
	}
	g.seen_ids = calloc(c->n_host_ids ? c->n_host_ids : 1, sizeof(*g.seen_ids));
	if (!g.seen_ids)
		return rw_err_set(err, -ENOMEM, "out of memory");
	r = db_hosts_foreach(e->db, gather_cb, &g);
	if (r < 0) {
		gather_done(&g);
		return rw_err_set(err, -EIO, "cannot read the hosts: %s", strerror(-r));
	}
	for (size_t i = 0; i < c->n_host_ids; i++)
		if (!g.seen_ids[i]) {
			gather_done(&g);
			return rw_err_set(err, -EINVAL,
			        "host %" PRIu64 ": no such host, or not accepted", c->host_ids[i]);
		}
	if (g.n == 0) {
		gather_done(&g);
		return rw_err_set(err, -EINVAL,
		        "no accepted host has app '%s'%s%s (hosts report the apps of their "
		        "/etc/rollwave/apps/)",
		        c->app, isempty(c->selector) ? "" : " and matches ",
		        isempty(c->selector) ? "" : c->selector);
	}
	{
		struct plan_input in = {
		        .app = c->app, .version = c->version, .hosts = g.hosts, .n_hosts = g.n};

		r = strategy_plan(&params, &in, &plan, &perr);
	}
	gather_done(&g);
	if (r < 0)
		return rw_err_set(err, -EINVAL, "cannot plan: %s", perr.msg);

	if (c->plan_only) {
		struct dep tmp = {0};
		Rollwave__DeploymentStatus *st;

		strbuf_printf(tmp.row.app, sizeof(tmp.row.app), "%s", c->app);
		strbuf_printf(tmp.row.version, sizeof(tmp.row.version), "%s", c->version);
		strbuf_printf(tmp.row.state, sizeof(tmp.row.state), "planned");
		strbuf_printf(tmp.row.strategy, sizeof(tmp.row.strategy), "%s", params.strategy);
		strbuf_printf(tmp.row.actor, sizeof(tmp.row.actor), "%s", actor);
		tmp.row.manifest_url = (char *)c->manifest_url;
		tmp.row.selector = (char *)c->selector;
		tmp.row.reason = (char *)"";
		(void)deploy_params_to_ini(&params, &ini);
		tmp.row.params = ini ? ini : (char *)"";
		tmp.plan = plan;
		tmp.params = params;
		st = dep_status(a, &tmp);
		r = status_reply(a, st, ret, err);
		free(ini);
		plan_free(plan);
		return r;
	}

	/* Preflight: every host must be up, unless --force. */
	if (plan->n_down && !c->force) {
		char list[512] = "";
		size_t n = 0;

		for (size_t w = 0; w < plan->n_waves; w++)
			for (size_t i = 0; i < plan->waves[w].n_hosts; i++)
				if (plan->waves[w].hosts[i].down && n++ < 10)
					strbuf_printf(list + strlen(list),
					        sizeof(list) - strlen(list), "%s%s (%" PRId64 ")",
					        list[0] ? ", " : "", plan->waves[w].hosts[i].name,
					        plan->waves[w].hosts[i].id);
		plan_free(plan);
		return rw_err_set(err, -EINVAL,
		        "preflight: %zu host(e) down: %s%s; bring them up, narrow the selector, or "
		        "use --force",
		        n, list, n > 10 ? ", ..." : "");
	}
	if (params.n_freeze) {
		struct gate_result fg;

		freeze_gate_evaluate(params.freeze, params.n_freeze, params.freeze_policy, true,
		        now_realtime_usec(), &fg);
		if (fg.verdict == GATE_FAIL) {
			plan_free(plan);
			return rw_err_set(err, -EINVAL, "%s", fg.why);
		}
	}

	if (deploy_params_to_ini(&params, &ini) < 0) {
		plan_free(plan);
		return rw_err_set(err, -ENOMEM, "out of memory");
	}
	strbuf_printf(row.app, sizeof(row.app), "%s", c->app);
	strbuf_printf(row.version, sizeof(row.version), "%s", c->version);
	strbuf_printf(row.actor, sizeof(row.actor), "%s", actor);
	strbuf_printf(row.state, sizeof(row.state), "pending");
	strbuf_printf(row.strategy, sizeof(row.strategy), "%s", params.strategy);
	/* Every host checks it could take the release, then the migrate
	 * hook runs once, then wave one. */
	strbuf_printf(row.step, sizeof(row.step), "preflight");
	row.manifest_url = (char *)c->manifest_url;
	row.params = ini;
	row.selector = (char *)c->selector;
	row.plan = plan_to_json(plan, NULL);
	row.reason = (char *)"";
	row.force = c->force;
	row.step_since_ms = e_now(e);
	if (!row.plan) {
		free(ini);
		plan_free(plan);
		return rw_err_set(err, -ENOMEM, "out of memory");
	}
	r = db_deployment_insert(e->db, &row, &id);
	plan_free(plan);
	if (r == -EEXIST) {
		free(ini);
		free(row.plan);
		return rw_err_set(err, -EINVAL,
		        "deployment %" PRId64 " of %s is still active: wait for it, or 'rollwave "
		        "abort %" PRId64 "'",
		        id, c->app, id);
	}
	if (r < 0) {
		free(ini);
		free(row.plan);
		return rw_err_set(err, -EIO, "cannot record the deployment: %s", strerror(-r));
	}
	row.id = id;
	row.created_ms = row.updated_ms = e_now(e);
	r = dep_load(&row, &d, &perr);
	free(ini);
	free(row.plan);
	if (r < 0)
		return rw_err_set(err, -EIO, "deployment %" PRId64 ": %s", id,
		        perr.msg[0] ? perr.msg : strerror(-r));
	d->next = e->deps;
	e->deps = d;
	log_notice("deployment %" PRId64 " by %s: %s %s, %s, %zu host(e) in %zu wave(e)", id, actor,
	        c->app, c->version, d->row.strategy, d->n_hosts, d->plan->n_waves);
	dep_tick(e, d, e_now(e));
	return status_reply(a, dep_status(a, d), ret, err);
}

/* ---- admin: actions ---- */

/* Back to running; the current step's clocks (WaveTimeout, bake) do not
 * count the time it stood paused. */
static void
resume(struct dep *d, uint64_t now)
{
	if (streq(d->row.state, "paused") && d->row.paused_ms && d->row.step_since_ms &&
	        now > d->row.paused_ms)
		d->row.step_since_ms += now - d->row.paused_ms;
	d->row.paused_ms = 0;
	strbuf_printf(d->row.state, sizeof(d->row.state), "running");
}

static int
admin_action(struct waves *e, const Rollwave__AdminRequest__DeploymentAction *act,
        const char *actor, struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err)
{
	struct dep *d = find_dep(e, (int64_t)act->deployment_id);
	uint64_t now = e_now(e);
	char why[512], was[sizeof(d->row.state)];
	int r;

	if (!d) {
		struct deployment_row row;

		r = db_deployment_get(e->db, (int64_t)act->deployment_id, &row);
		if (r < 0)
			return rw_err_set(err, -EINVAL, "no such deployment");
		if (isempty(row.plan))
			snprintf(why, sizeof(why),
			        "deployment %" PRIu64 " (%s) was sent with --hosts: it has no "
			        "waves to approve, pause, resume or abort; its hosts finish their "
			        "commands ('rollwave rollback %s --hosts ...' undoes it)",
			        act->deployment_id, row.state, row.app);
		else
			snprintf(why, sizeof(why),
			        "deployment %" PRIu64 " is %s; it takes no more actions",
			        act->deployment_id, row.state);
		deployment_row_done(&row);
		return rw_err_set(err, -EINVAL, "%s", why);
	}
	switch (act->action) {
	case ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__APPROVE:
		if (!streq(d->row.step, "approval"))
			return rw_err_set(err, -EINVAL,
			        "deployment %" PRId64
			        " is not waiting for an approval (wave %d, %s)",
			        d->row.id, d->row.wave + 1,
			        d->row.step[0] ? d->row.step : d->row.state);
		r = db_approval_add(e->db, d->row.id, d->row.wave, actor);
		if (r < 0 && r != -EALREADY)
			return rw_err_set(err, -EIO, "%s", strerror(-r));
		log_notice("deployment %" PRId64 ": wave %d approved by %s", d->row.id,
		        d->row.wave + 1, actor);
		dep_tick(e, d, now);
		break;
	case ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__PAUSE:
		if (!streq(d->row.state, "running") && !streq(d->row.state, "pending"))
			return rw_err_set(err, -EINVAL,
			        "deployment %" PRId64 " is %s, not running or pending", d->row.id,
			        d->row.state);
		memcpy(was, d->row.state, sizeof(was));
		strbuf_printf(d->row.state, sizeof(d->row.state), "paused");
		d->row.paused_ms = now;
		r = dep_save(
		        e, d, actor, "deploy.pause", "wave %d, %s", d->row.wave + 1, d->row.step);
		if (r < 0) {
			memcpy(d->row.state, was, sizeof(was));
			d->row.paused_ms = 0;
			return rw_err_set(err, -EIO, "cannot record the pause: %s", strerror(-r));
		}
		break;
	case ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__RESUME:
		if (!streq(d->row.state, "paused"))
			return rw_err_set(err, -EINVAL, "deployment %" PRId64 " is %s, not paused",
			        d->row.id, d->row.state);
		resume(d, now);
		r = dep_save(
		        e, d, actor, "deploy.resume", "wave %d, %s", d->row.wave + 1, d->row.step);
		if (r < 0)
			return rw_err_set(err, -EIO, "cannot record the resume: %s", strerror(-r));
		dep_tick(e, d, now);
		break;
	case ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__ABORT:
		snprintf(why, sizeof(why), "aborted by %s", actor);
		if (act->rollback) {
			bool was_paused = streq(d->row.state, "paused");

			/* It ends rolled_back (where its hosts are), its reason
			 * saying who aborted it. */
			resume(d, now);
			if (!streq(d->row.step, "rollback"))
				begin_rollback(e, d, actor, why, now);
			else if (was_paused)
				dep_save(e, d, actor, "deploy.resume", "the rollback goes on (%s)",
				        why);
		} else {
			/* Hosts mid-deploy are stopped; nothing is rolled back. */
			stop_hosts(e, d);
			strbuf_printf(d->row.state, sizeof(d->row.state), "aborted");
			set_step(d, "", now);
			set_reason(d, why);
			d->row.finished_ms = now;
			dep_save(e, d, actor, "deploy.aborted", "%s", why);
		}
		break;
	default:
		return rw_err_set(err, -EINVAL, "unknown action");
	}
	return status_reply(a, dep_status(a, d), ret, err);
}

/* Whether any host of d changed (or may have: its deploy is unfinished),
 * or its migrate hook ran: else rolling it back has nothing to undo. */
static bool
dep_touched(const struct dep *d)
{
	if (streq(d->migrate_task, "committed") && !streq(d->migrate_error ?: "", TASK_HOOK_ABSENT))
		return true;
	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].activated || (d->hosts[i].cmd && !task_is_final(d->hosts[i].task)))
			return true;
	return false;
}

/* rollwave rollback APP [--to VERSION]: the app's latest deployment rolls
 * back (a running one stops; a finished one that changed hosts reopens).
 * Asking again retries the hosts whose rollback failed; --to sends every
 * host that took the release to VERSION instead of its previous one. A
 * refusal changes nothing. */
static int
admin_rollback_app(struct waves *e, const Rollwave__AdminRequest__RollbackApp *rb,
        const char *actor, struct arena *a, Rollwave__AdminResponse **ret, struct rw_err *err)
{
	struct deployment_row row;
	struct rw_err perr = {{0}};
	uint64_t now = e_now(e);
	char why[512];
	struct plan *old_rollback;
	struct dep *d;
	bool loaded = false, was_paused, began;
	int r;

	r = db_deployment_latest(e->db, rb->app, &row);
	if (r == -ENOENT)
		return rw_err_set(err, -EINVAL, "app %s has no deployment to roll back", rb->app);
	if (r < 0)
		return rw_err_set(err, -EIO, "%s", strerror(-r));
	d = find_dep(e, row.id);
	if (!d) {
		if (isempty(row.plan) ||
		        (streq(row.state, "rolled_back") && isempty(rb->to_version))) {
			snprintf(why, sizeof(why),
			        "the latest deployment of %s (%" PRId64 ") is %s%s", rb->app,
			        row.id, row.state, isempty(row.plan) ? " (sent with --hosts)" : "");
			deployment_row_done(&row);
			return rw_err_set(err, -EINVAL, "%s: nothing to roll back%s", why,
			        isempty(row.plan) ? "; use 'rollwave rollback APP --hosts ...'"
			                          : "");
		}
		r = dep_load(&row, &d, &perr);
		deployment_row_done(&row);
		if (r < 0)
			return rw_err_set(err, -EIO, "%s", perr.msg);
		loaded = true;
	} else
		deployment_row_done(&row);
	(void)load_tasks(e, d);
	if (loaded && !dep_touched(d)) {
		snprintf(why, sizeof(why),
		        "deployment %" PRId64
		        " of %s ended %s without changing any host: nothing to "
		        "roll back",
		        d->row.id, rb->app, d->row.state);
		dep_free(d);
		return rw_err_set(err, -EINVAL, "%s", why);
	}

	/* Plan first: a --to that cannot be planned changes nothing. */
	old_rollback = d->rollback;
	if (!isempty(rb->to_version) || loaded) {
		d->rollback = NULL;
		refresh_health(e, d, SIZE_MAX, true, now);
		if (plan_the_rollback(d, rb->to_version, &perr) < 0) {
			d->rollback = old_rollback;
			if (loaded)
				dep_free(d);
			return rw_err_set(err, -EINVAL, "%s", perr.msg);
		}
		plan_free(old_rollback);
	}
	index_rollback(d);
	if (loaded) {
		d->next = e->deps;
		e->deps = d;
		d->row.finished_ms = 0;
	}
	was_paused = streq(d->row.state, "paused");
	resume(d, now);
	snprintf(why, sizeof(why), "rollback asked by %s%s%s", actor,
	        isempty(rb->to_version) ? "" : " to ", rb->to_version);
	began = !streq(d->row.step, "rollback");
	if (began) {
		struct plan *keep = d->rollback;

		d->rollback = NULL; /* begin_rollback drops any old plan */
		begin_rollback(e, d, actor, why, now);
		d->rollback = keep;
		index_rollback(d);
	} else {
		/* Again: the rollback restarts its clock, so hosts whose
		 * rollback failed (or went elsewhere than --to) are asked
		 * anew; those already back stay done. */
		set_step(d, "rollback", now);
		set_reason(d, why);
	}
	for (size_t i = 0; i < d->n_hosts; i++) {
		d->hosts[i].rb_cmd = 0;
		d->hosts[i].rb_task[0] = 0;
		d->hosts[i].rb_retries = 0;
		d->hosts[i].rb_seen_ms = 0;
	}
	d->rb_verdict[0] = 0;
	d->switched_back = false;
	d->migrate_down_cmd = 0;
	d->migrate_down_task[0] = 0;
	d->migrate_down_retries = 0;
	(void)load_tasks(e, d);
	if (began && !was_paused)
		r = dep_save(e, d, actor, NULL, NULL);
	else
		r = dep_save(e, d, actor, was_paused ? "deploy.resume" : "deploy.rollback",
		        "%s (again)", why);
	if (r < 0)
		return rw_err_set(err, -EIO, "cannot record the rollback: %s", strerror(-r));
	/* The rollback itself runs from waves_tick: the request returns now. */
	return status_reply(a, dep_status(a, d), ret, err);
}

struct history_ctx {
	struct arena *a;
	Rollwave__DeploymentStatus **v;
	size_t n, cap;
};

static int
history_cb(void *userdata, const struct deployment_row *row)
{
	struct history_ctx *c = userdata;
	Rollwave__DeploymentStatus *st;

	if (c->n == c->cap)
		return 0;
	st = arena_alloc(c->a, sizeof(*st));
	if (!st)
		return -ENOMEM;
	row_status(c->a, row, st);
	st->params = arena_strdup(c->a, "");
	c->v[c->n++] = st;
	return 0;
}

static int
admin_status(struct waves *e, const Rollwave__AdminRequest__GetDeploymentStatus *g, struct arena *a,
        Rollwave__AdminResponse **ret, struct rw_err *err)
{
	struct deployment_row row;
	struct dep *d = NULL;
	int r;

	if (g->deployment_id)
		d = find_dep(e, (int64_t)g->deployment_id);
	else
		for (struct dep *x = e->deps; x; x = x->next)
			if (streq(x->row.app, g->app))
				d = x;
	if (d) {
		(void)load_tasks(e, d);
		refresh_health(e, d, SIZE_MAX, streq(d->row.step, "rollback"), e_now(e));
		return status_reply(a, dep_status(a, d), ret, err);
	}
	r = g->deployment_id ? db_deployment_get(e->db, (int64_t)g->deployment_id, &row)
	                     : db_deployment_latest(e->db, g->app, &row);
	if (r == -ENOENT)
		return rw_err_set(err, -EINVAL, "no such deployment");
	if (r < 0)
		return rw_err_set(err, -EIO, "%s", strerror(-r));
	r = status_reply(a, stored_status(e, a, &row), ret, err);
	deployment_row_done(&row);
	return r;
}

static int
admin_history(struct waves *e, const Rollwave__AdminRequest__History *h, struct arena *a,
        Rollwave__AdminResponse **ret, struct rw_err *err)
{
	Rollwave__AdminResponse *resp = NULL;
	Rollwave__DeploymentList *l = arena_alloc(a, sizeof(*l));
	struct history_ctx c = {.a = a};
	int r;

	c.cap = h->limit ? h->limit : 20;
	c.v = arena_alloc(a, c.cap * sizeof(*c.v));
	if (!l || !c.v || response(a, &resp, err) < 0)
		return rw_err_set(err, -ENOMEM, "out of memory");
	r = db_deployments_foreach(
	        e->db, isempty(h->app) ? NULL : h->app, false, (unsigned)c.cap, history_cb, &c);
	if (r < 0)
		return rw_err_set(err, -EIO, "%s", strerror(-r));
	rollwave__deployment_list__init(l);
	l->deployments = c.v;
	l->n_deployments = c.n;
	resp->response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_LIST;
	resp->deployment_list = l;
	*ret = resp;
	return 0;
}

int
waves_admin(struct waves *e, const Rollwave__AdminRequest *req, const char *actor, struct arena *a,
        Rollwave__AdminResponse **ret, struct rw_err *err)
{
	int r;

	if (!e)
		return rw_err_set(
		        err, -EOPNOTSUPP, "this coordinator does not handle that request");
	pthread_mutex_lock(&e->lock);
	switch (req->request_case) {
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_CREATE_DEPLOYMENT:
		r = admin_create(e, req->create_deployment, actor, a, ret, err);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT_STATUS:
		r = admin_status(e, req->get_deployment_status, a, ret, err);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOYMENT_ACTION:
		r = admin_action(e, req->deployment_action, actor, a, ret, err);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK_APP:
		r = admin_rollback_app(e, req->rollback_app, actor, a, ret, err);
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HISTORY:
		r = admin_history(e, req->history, a, ret, err);
		break;
	default:
		r = rw_err_set(err, -EOPNOTSUPP, "this coordinator does not handle that request");
		break;
	}
	pthread_mutex_unlock(&e->lock);
	return r;
}
