/*
 * test_waves: the deployment state machine (coordinator/waves/) driven
 * through waves.h on a real SQLite store in a temp dir.
 *
 * There is no agent socket here, on purpose: the unit under test is the
 * engine, and the e2e tests (tests/integration/test_waves.sh and the
 * fleet tests) cover the socket. The fleet is struct fleet_ops over an
 * in-memory host table, and the agents are played by answer(), which
 * reports each queued command's result to the store the way the agent
 * socket does. Time is the fleet's clock: the tests move it on, nothing
 * sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include "db.h"
#include "fleet.h"
#include "util.h"
#include "waves.h"

#define MAX_HOSTS 8
#define MAX_CMDS  256
#define APP       "web"

struct fake_host {
	int64_t id;
	bool down;   /* gone silent: takes nothing, answers nothing */
	bool sick;   /* runs the new release unhealthy */
	bool broken; /* its deploys fail */
	uint64_t last_seen_ms;
	char current[32];
};

struct fake_cmd {
	int64_t host_id;
	struct fleet_command c;
	char version[32];
	bool answered;
};

struct fixture {
	char dir[64], path[128];
	struct db *db;
	struct coordinator_config cfg;
	struct waves *w;
	uint64_t now, started_ms;
	struct fake_host hosts[MAX_HOSTS];
	size_t n_hosts;
	struct fake_cmd cmds[MAX_CMDS];
	size_t n_cmds;
};

static struct fake_host *
fake_host(struct fixture *f, int64_t id)
{
	for (size_t i = 0; i < f->n_hosts; i++)
		if (f->hosts[i].id == id)
			return &f->hosts[i];
	return NULL;
}

/* ---- the fleet, in memory ---- */

static int
mem_host_get(void *userdata, int64_t host_id, struct fleet_host *ret)
{
	struct fixture *f = userdata;
	struct fake_host *h = fake_host(f, host_id);
	char apps[256];

	if (!h)
		return -ENOENT;
	snprintf(apps, sizeof(apps),
	        "[{\"app\":\"" APP "\",\"current\":\"%s\",\"previous\":\"\",\"health\":%d,"
	        "\"releases\":[\"%s\"]}]",
	        h->current,
	        h->sick && !streq(h->current, "1.0.0") ? ROLLWAVE__HEALTH__HEALTH_UNHEALTHY
	                                               : ROLLWAVE__HEALTH__HEALTH_HEALTHY,
	        h->current);
	ret->state = h->down ? HOST_DOWN : HOST_UP;
	ret->last_seen_ms = h->last_seen_ms;
	ret->apps_json = strdup(apps);
	return ret->apps_json ? 0 : -ENOMEM;
}

static int
mem_queue_command(void *userdata, int64_t host_id, const struct fleet_command *c)
{
	struct fixture *f = userdata;
	struct fake_cmd *q;

	if (f->n_cmds == MAX_CMDS)
		return -ENOBUFS;
	q = &f->cmds[f->n_cmds++];
	*q = (struct fake_cmd) {.host_id = host_id, .c = *c};
	snprintf(q->version, sizeof(q->version), "%s", c->version ? c->version : "");
	q->c.app = APP;
	q->c.version = q->version;
	q->c.manifest_url = NULL;
	return 0;
}

static int
mem_unqueue_command(void *userdata, int64_t host_id, uint64_t command_id)
{
	struct fixture *f = userdata;

	for (size_t i = 0; i < f->n_cmds; i++)
		if (f->cmds[i].host_id == host_id && f->cmds[i].c.command_id == command_id &&
		        !f->cmds[i].answered) {
			f->cmds[i].answered = true; /* never handed out */
			return 1;
		}
	return 0;
}

static uint64_t
mem_now_ms(void *userdata)
{
	return ((struct fixture *)userdata)->now;
}

static const struct fleet_ops fake_fleet = {
        .host_get = mem_host_get,
        .queue_command = mem_queue_command,
        .unqueue_command = mem_unqueue_command,
        .now_ms = mem_now_ms,
};

/* ---- the engine and the agents ---- */

static void
engine_start(struct fixture *f)
{
	struct rw_err err = {{0}};
	struct waves_config c = {
	        .db = f->db,
	        .cfg = &f->cfg,
	        .fleet = &fake_fleet,
	        .fleet_userdata = f,
	        .started_ms = f->started_ms,
	};

	assert_int_equal(waves_start(&c, &f->w, &err), 0);
}

/* The coordinator restarts: engine and store closed, then opened again. */
static void
restart(struct fixture *f)
{
	struct rw_err err = {{0}};

	waves_stop(f->w);
	db_close(f->db);
	assert_int_equal(db_open(f->path, &f->db, &err), 0);
	f->started_ms = f->now;
	engine_start(f);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rw_err err = {{0}};

	if (!f)
		return -1;
	strcpy(f->dir, "/var/tmp/rw-test-waves.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
	if (db_open(f->path, &f->db, &err) < 0)
		return -1;
	f->cfg.heartbeat_interval_usec = USEC_PER_SEC;
	/* The store stamps tasks with the wall clock: the fleet's starts there. */
	f->now = f->started_ms = now_realtime_usec() / USEC_PER_MSEC;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int r;

	waves_stop(f->w);
	db_close(f->db);
	r = rm_rf_at(AT_FDCWD, f->dir);
	free(f);
	return r;
}

/* An accepted host with app web 1.0.0, up; labels a JSON object. */
static int64_t
add_host(struct fixture *f, const char *name, const char *labels)
{
	uint8_t key[32] = {0};
	int64_t id;

	key[0] = (uint8_t)(f->n_hosts + 1);
	assert_int_equal(db_host_add_pending(f->db, key, name, labels, "0.1.0", f->now, &id), 0);
	assert_int_equal(db_host_accept(f->db, id, "test"), 0);
	f->hosts[f->n_hosts++] =
	        (struct fake_host) {.id = id, .last_seen_ms = f->now, .current = "1.0.0"};
	return id;
}

/* Every agent that is up answers what it was sent, as the agent socket
 * records it: preflights pass, the release has no migrate hook, deploys
 * commit (or fail on a broken host), rollbacks and cancels commit. */
static void
answer(struct fixture *f)
{
	for (size_t i = 0; i < f->n_cmds; i++) {
		struct fake_cmd *q = &f->cmds[i];
		struct fake_host *h = fake_host(f, q->host_id);
		const char *error = NULL;
		int phase = ROLLWAVE__PHASE__PHASE_COMMITTED;
		const char *result = "committed";

		if (q->answered || !h || h->down)
			continue;
		q->answered = true;
		switch (q->c.kind) {
		case ROLLWAVE__COMMAND__KIND__MIGRATE:
			error = TASK_HOOK_ABSENT;
			break;
		case ROLLWAVE__COMMAND__KIND__DEPLOY:
			if (h->broken) {
				result = "failed";
				phase = ROLLWAVE__PHASE__PHASE_FAILED;
				error = "the release does not start";
				break;
			}
			assert_int_equal(db_task_update(f->db, h->id, q->c.command_id, "running",
			                         ROLLWAVE__PHASE__PHASE_ACTIVATING, NULL),
			        0);
			snprintf(h->current, sizeof(h->current), "%s", q->version);
			break;
		case ROLLWAVE__COMMAND__KIND__ROLLBACK:
			phase = ROLLWAVE__PHASE__PHASE_ROLLED_BACK;
			snprintf(h->current, sizeof(h->current), "%s",
			        q->version[0] ? q->version : "1.0.0");
			break;
		default:
			break;
		}
		assert_int_equal(
		        db_task_report(f->db, h->id, q->c.command_id, result, phase, error, NULL),
		        0);
	}
}

/* ms of fleet time pass, a tick every 250 ms, agents answering and the up
 * ones heartbeating. */
static void
run(struct fixture *f, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 250) {
		f->now += 250;
		for (size_t i = 0; i < f->n_hosts; i++)
			if (!f->hosts[i].down)
				f->hosts[i].last_seen_ms = f->now;
		answer(f);
		waves_tick(f->w);
	}
}

static int
admin(struct fixture *f, Rollwave__AdminRequest *req, Rollwave__DeploymentStatus **ret)
{
	/* Only the id outlives the arena. */
	static Rollwave__DeploymentStatus copy;
	Rollwave__AdminResponse *resp = NULL;
	struct rw_err err = {{0}};
	struct arena a = {0};
	int r;

	r = waves_admin(f->w, req, "tester", &a, &resp, &err);
	if (r >= 0 && ret) {
		assert_non_null(resp->deployment_status);
		copy.deployment_id = resp->deployment_status->deployment_id;
		*ret = &copy;
	}
	if (r < 0)
		print_message("waves_admin: %s\n", err.msg);
	arena_free(&a);
	return r;
}

static int64_t
deploy_forced(struct fixture *f, const char *params, bool force)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__CreateDeployment c =
	        ROLLWAVE__ADMIN_REQUEST__CREATE_DEPLOYMENT__INIT;
	Rollwave__DeploymentStatus *st;

	c.app = (char *)APP;
	c.version = (char *)"2.0.0";
	c.manifest_url = (char *)"https://releases.example/web/2.0.0/manifest.json";
	c.params = (char *)params;
	c.force = force;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_CREATE_DEPLOYMENT;
	req.create_deployment = &c;
	assert_int_equal(admin(f, &req, &st), 0);
	return (int64_t)st->deployment_id;
}

static int64_t
deploy(struct fixture *f, const char *params)
{
	return deploy_forced(f, params, false);
}

static void
act(struct fixture *f, int64_t id, Rollwave__AdminRequest__DeploymentAction__Action action)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__DeploymentAction a =
	        ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__INIT;

	a.deployment_id = (uint64_t)id;
	a.action = action;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOYMENT_ACTION;
	req.deployment_action = &a;
	assert_int_equal(admin(f, &req, NULL), 0);
}

struct audit_find {
	const char *target, *action;
	char detail[2048];
	size_t n;
};

static int
audit_find_cb(void *userdata, const struct audit_row *a)
{
	struct audit_find *q = userdata;

	if (streq(a->target, q->target) && streq(a->action, q->action)) {
		q->n++;
		snprintf(q->detail, sizeof(q->detail), "%s", a->detail ? a->detail : "");
	}
	return 0;
}

/* How many times the store's audit log has action for deployment id (the
 * latest one's detail in detail). */
static size_t
audited(struct fixture *f, int64_t id, const char *action, char *detail, size_t size)
{
	char target[64];
	struct audit_find q = {.target = target, .action = action};

	snprintf(target, sizeof(target), "deployment:%" PRId64, id);
	assert_int_equal(db_audit_foreach(f->db, 0, 0, 10000, audit_find_cb, &q), 0);
	if (detail)
		snprintf(detail, size, "%s", q.detail);
	return q.n;
}

/* The deployment as the store has it. */
static struct deployment_row
stored(struct fixture *f, int64_t id)
{
	struct deployment_row row;

	assert_int_equal(db_deployment_get(f->db, id, &row), 0);
	return row;
}

static void
assert_stored(struct fixture *f, int64_t id, const char *state, const char *step, int wave)
{
	struct deployment_row row = stored(f, id);

	if (!streq(row.state, state) || !streq(row.step, step) || row.wave != wave)
		print_message("deployment %" PRId64 ": %s/%s wave %d (%s)\n", id, row.state,
		        row.step, row.wave + 1, row.reason ? row.reason : "");
	assert_string_equal(row.state, state);
	assert_string_equal(row.step, step);
	assert_int_equal(row.wave, wave);
	deployment_row_done(&row);
}

/* Runs until the deployment is at step (or ended), at most max_ms. */
static void
run_until(struct fixture *f, int64_t id, const char *step, uint64_t max_ms)
{
	for (uint64_t t = 0; t < max_ms; t += 250) {
		struct deployment_row row = stored(f, id);
		bool there = streq(row.step, step) || !deployment_state_is_active(row.state);

		deployment_row_done(&row);
		if (there)
			return;
		run(f, 250);
	}
}

static size_t
count_cmds(struct fixture *f, int64_t host_id, Rollwave__Command__Kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_cmds; i++)
		if (f->cmds[i].host_id == host_id && f->cmds[i].c.kind == kind)
			n++;
	return n;
}

static size_t
deploys(struct fixture *f, int64_t host_id)
{
	return count_cmds(f, host_id, ROLLWAVE__COMMAND__KIND__DEPLOY);
}

/* ---- the tests ---- */

static void
test_canary_halts_when_canary_unhealthy(void **state)
{
	struct fixture *f = *state;
	int64_t canary = add_host(f, "web1", "{\"role\":\"canary\"}");
	int64_t h2 = add_host(f, "web2", "{}"), h3 = add_host(f, "web3", "{}");
	struct deployment_row row;
	int64_t id;

	fake_host(f, canary)->sick = true;
	engine_start(f);
	id = deploy(f,
	        "[Deployment]\nStrategy=canary\nMinHealthy=1s\nWaveTimeout=20s\n"
	        "[Canary]\nCanary=role=canary\nSteps=100%\n");
	run(f, 5000);
	assert_stored(f, id, "running", "deploying", 0);
	run_until(f, id, "", 60000);
	assert_stored(f, id, "rolled_back", "", 0);
	row = stored(f, id);
	assert_non_null(strstr(row.reason, "wave 1 'canary'"));
	deployment_row_done(&row);
	/* The canary took the release and was rolled back; nobody else did. */
	assert_int_equal(count_cmds(f, canary, ROLLWAVE__COMMAND__KIND__DEPLOY), 1);
	assert_int_equal(count_cmds(f, canary, ROLLWAVE__COMMAND__KIND__ROLLBACK), 1);
	assert_int_equal(count_cmds(f, h2, ROLLWAVE__COMMAND__KIND__DEPLOY), 0);
	assert_int_equal(count_cmds(f, h3, ROLLWAVE__COMMAND__KIND__DEPLOY), 0);
	assert_string_equal(fake_host(f, canary)->current, "1.0.0");
}

static void
test_restart_resumes_mid_bake(void **state)
{
	struct fixture *f = *state;
	int64_t h1 = add_host(f, "web1", "{}"), h2 = add_host(f, "web2", "{}");
	struct deployment_row row;
	uint64_t bake_since;
	int64_t id;

	engine_start(f);
	id = deploy(f,
	        "[Deployment]\nStrategy=rolling\nMinHealthy=1s\nBake=60s\n"
	        "[Rolling]\nBatch=1\n");
	run_until(f, id, "bake", 30000);
	assert_stored(f, id, "running", "bake", 0);
	row = stored(f, id);
	bake_since = row.step_since_ms;
	deployment_row_done(&row);
	run(f, 30000);

	restart(f);
	run(f, 1000);
	/* Still the first wave's bake, on its old clock. */
	assert_stored(f, id, "running", "bake", 0);
	row = stored(f, id);
	assert_int_equal(row.step_since_ms, bake_since);
	deployment_row_done(&row);
	run(f, bake_since + 55000 - f->now);
	assert_stored(f, id, "running", "bake", 0);
	assert_int_equal(deploys(f, h1) + deploys(f, h2), 1);
	/* The bake ends 60 s after it began, not 60 s after the restart. */
	run(f, bake_since + 62000 - f->now);
	assert_int_equal(deploys(f, h1) + deploys(f, h2), 2);
	run_until(f, id, "", 120000);
	assert_stored(f, id, "succeeded", "", 1);
}

static void
test_down_host_does_not_hold_rollback(void **state)
{
	struct fixture *f = *state;
	int64_t h1 = add_host(f, "web1", "{}"), h2 = add_host(f, "web2", "{}");
	int64_t h3 = add_host(f, "web3", "{}");
	struct deployment_row row;
	int64_t id;

	(void)h1;
	fake_host(f, h3)->sick = true;
	engine_start(f);
	id = deploy(f,
	        "[Deployment]\nStrategy=rolling\nMinHealthy=1s\nWaveTimeout=20s\n"
	        "[Rolling]\nBatch=100%\n");
	run(f, 3000);
	assert_stored(f, id, "running", "deploying", 0);
	assert_string_equal(fake_host(f, h2)->current, "2.0.0");
	/* web2 took the release, then went silent. */
	fake_host(f, h2)->down = true;
	run_until(f, id, "rollback", 60000);
	assert_stored(f, id, "running", "rollback", 0);
	run_until(f, id, "", 30000);
	assert_stored(f, id, "rolled_back", "", 0);
	row = stored(f, id);
	assert_non_null(strstr(row.reason,
	        "down during the rollback, web2 gets the rollback "
	        "queued for when it reconnects"));
	deployment_row_done(&row);
	/* Its rollback waits in its queue. */
	assert_int_equal(count_cmds(f, h2, ROLLWAVE__COMMAND__KIND__ROLLBACK), 1);
	assert_string_equal(fake_host(f, h3)->current, "1.0.0");
}

static void
test_budget_breach_mid_wave_rolls_back(void **state)
{
	struct fixture *f = *state;
	int64_t h[4];
	struct deployment_row row;
	int64_t id;

	for (size_t i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "web%zu", i + 1);
		h[i] = add_host(f, name, "{}");
	}
	fake_host(f, h[0])->broken = true;
	fake_host(f, h[1])->broken = true;
	engine_start(f);
	id = deploy(f,
	        "[Deployment]\nStrategy=rolling\nMinHealthy=1s\nFailureBudget=1\n"
	        "MaxUnavailable=1\n[Rolling]\nBatch=100%\n");
	run_until(f, id, "", 30000);
	assert_stored(f, id, "rolled_back", "", 0);
	row = stored(f, id);
	assert_non_null(strstr(row.reason, "breach"));
	deployment_row_done(&row);
	/* One at a time: the second failure breached the budget in the tick
	 * that queued web3's deploy, which was taken back before web3 ran it;
	 * web4 was sent nothing. */
	assert_int_equal(deploys(f, h[0]), 1);
	assert_int_equal(deploys(f, h[1]), 1);
	assert_true(deploys(f, h[2]) <= 1);
	assert_string_equal(fake_host(f, h[2])->current, "1.0.0");
	assert_int_equal(deploys(f, h[3]), 0);
}

static void
test_pause_stops_the_clocks(void **state)
{
	struct fixture *f = *state;
	struct deployment_row row;
	uint64_t bake_since;
	int64_t id;

	(void)add_host(f, "web1", "{}");
	engine_start(f);
	id = deploy(f, "[Deployment]\nStrategy=rolling\nMinHealthy=1s\nBake=60s\n");
	run_until(f, id, "bake", 30000);
	row = stored(f, id);
	bake_since = row.step_since_ms;
	deployment_row_done(&row);
	run(f, 10000);
	act(f, id, ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__PAUSE);
	run(f, 100000);
	assert_stored(f, id, "paused", "bake", 0);
	act(f, id, ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__RESUME);
	/* 100 s paused: the 60 s bake ends 160 s after it began. */
	row = stored(f, id);
	assert_true(row.step_since_ms >= bake_since + 99000);
	deployment_row_done(&row);
	run(f, bake_since + 150000 - f->now);
	assert_stored(f, id, "running", "bake", 0);
	run(f, bake_since + 165000 - f->now);
	assert_stored(f, id, "succeeded", "", 0);
}

/* A forced preflight is recorded at step preflight: its audit entry is
 * saved with the row still there, and the row moves to migrate only once
 * the migrate hook goes out (here: once wave one has a host up). */
static void
test_forced_preflight_audited_at_preflight(void **state)
{
	struct fixture *f = *state;
	int64_t h1 = add_host(f, "web1", "{}");
	char detail[2048];
	int64_t id;

	fake_host(f, h1)->down = true;
	engine_start(f);
	id = deploy_forced(f, "[Deployment]\nStrategy=rolling\nMinHealthy=1s\n", true);
	run(f, 2000);
	assert_int_equal(audited(f, id, "deploy.preflight_forced", detail, sizeof(detail)), 1);
	assert_non_null(strstr(detail, "preflight failed on 1 of 1 host(s) (--force: going on)"));
	assert_non_null(strstr(detail, "(web1): down"));
	assert_int_equal(audited(f, id, "deploy.preflight", NULL, 0), 0);
	assert_int_equal(audited(f, id, "deploy.migrate", NULL, 0), 0);
	assert_stored(f, id, "pending", "preflight", 0);

	fake_host(f, h1)->down = false;
	run_until(f, id, "", 30000);
	assert_int_equal(audited(f, id, "deploy.migrate", NULL, 0), 1);
	assert_stored(f, id, "succeeded", "", 0);
	assert_string_equal(fake_host(f, h1)->current, "2.0.0");
}

/* A stored step this coordinator does not know (a row another version
 * wrote) leaves the deployment as it is, still holding its app, until an
 * admin acts on it: it is not failed on resume. */
static void
test_unknown_step_resumes_untouched(void **state)
{
	struct fixture *f = *state;
	struct deployment_row row;
	int64_t id;

	(void)add_host(f, "web1", "{}");
	engine_start(f);
	id = deploy(f, "[Deployment]\nStrategy=rolling\nMinHealthy=1s\nBake=60s\n");
	run_until(f, id, "bake", 30000);
	waves_stop(f->w);
	f->w = NULL;
	row = stored(f, id);
	snprintf(row.step, sizeof(row.step), "analysis");
	assert_int_equal(db_deployment_save(f->db, &row, "test", NULL, NULL), 0);
	deployment_row_done(&row);

	restart(f);
	run(f, 120000);
	assert_stored(f, id, "running", "analysis", 0);
	assert_int_equal(audited(f, id, "deploy.failed", NULL, 0), 0);
	act(f, id, ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__PAUSE);
	assert_stored(f, id, "paused", "analysis", 0);
	act(f, id, ROLLWAVE__ADMIN_REQUEST__DEPLOYMENT_ACTION__ACTION__ABORT);
	assert_stored(f, id, "aborted", "", 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_canary_halts_when_canary_unhealthy, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_restart_resumes_mid_bake, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_down_host_does_not_hold_rollback, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_budget_breach_mid_wave_rolls_back, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pause_stops_the_clocks, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_forced_preflight_audited_at_preflight, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_unknown_step_resumes_untouched, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
