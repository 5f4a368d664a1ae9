/*
 * health_watch: every HealthWatch=, while no command runs, a WORKER_CHECK
 * child probes the next app's current release; its verdict goes into the
 * state file (state_set_health_of()), and a change is logged and carried
 * by the next heartbeat.
 */
#include "daemon_private.h"

#include <sys/wait.h>

static void
on_check_line(void *userdata, const struct worker_line *l)
{
	struct job *job = userdata;

	if (l->kind == WORKER_LINE_RESULT) {
		job->result = *l;
		job->have_result = true;
	}
}

/* Records the check's verdict on the release it probed, if that is still
 * current, and says so when it changed; the next heartbeat carries it. */
static void
check_done(struct daemon *d, struct job *job)
{
	const char *health;
	int r;

	if (!job->have_result || !job->result.version[0])
		return;
	health = job->result.phase == ROLLWAVE__PHASE__PHASE_COMMITTED ? "healthy" : "unhealthy";
	r = state_set_health_of(d->state, job->app, job->result.version, health);
	if (r < 0) {
		log_warning("health watch: cannot record the health of %s %s: %s", job->app,
		        job->result.version, strerror(-r));
		return;
	}
	if (r == 0)
		return;
	if (streq(health, "healthy"))
		log_struct(LOG_NOTICE, NULL, job->app, job->result.version,
		        "health watch: %s %s is healthy again", job->app, job->result.version);
	else
		log_struct(LOG_WARNING, NULL, job->app, job->result.version,
		        "health watch: %s %s is unhealthy: %s", job->app, job->result.version,
		        job->result.message);
	if (d->session == SESSION_UP)
		d->heartbeat_due = true;
}

static int
on_check_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct daemon *d = userdata;
	struct job *job = d->check;

	(void)s;
	(void)si;
	if (!job)
		return 0;
	d->check = NULL;
	if (job->fd >= 0 && worker_read(job->fd, &job->reader, on_check_line, job) < 0)
		log_warning("health watch: cannot read the check of %s", job->app);
	check_done(d, job);
	job_free(job);
	exchange_pump(d);
	return 0;
}

int
health_watch_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	_cleanup_strv_free_ char **names = NULL;
	struct rw_err err = {{0}};
	struct worker_request req = {.op = WORKER_CHECK};
	struct job *job;
	size_t n;
	int r;

	(void)s;
	(void)usec;
	(void)daemon_timer_arm(d, &d->health_timer, daemon_jitter(d->cfg->health_watch_usec, 10),
	        health_watch_on_timer);
	if (d->job || d->check || d->stopping)
		return 0;
	if (app_config_list(d->cfg, &names, &err) < 0)
		return 0;
	n = strv_length(names);
	if (n == 0)
		return 0;
	req.app = names[d->check_next++ % n];
	job = job_new(req.app, WORKER_CHECK);
	if (!job)
		return 0;
	r = worker_spawn(
	        d->opts->agent_path, d->opts->config_path, &req, &job->pid, &job->fd, NULL, &err);
	if (r >= 0)
		r = sd_event_add_child(
		        d->event, &job->child_src, job->pid, WEXITED, on_check_exit, d);
	if (r < 0) {
		if (job->pid > 0) {
			(void)kill(job->pid, SIGKILL);
			(void)waitpid(job->pid, NULL, 0);
		}
		log_warning("health watch: cannot check %s: %s", req.app,
		        err.msg[0] ? err.msg : strerror(-r));
		job_free(job);
		return 0;
	}
	d->check = job;
	return 0;
}
