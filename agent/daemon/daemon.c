/*
 * daemon: rollwave-agentd's sd-event loop (daemon.h): it sets up the
 * identity, the link and the timers, handles signals, and stops. The other
 * files of agent/daemon/ hang off this loop; daemon_private.h lists them
 * and draws the session.
 *
 * Invariants:
 * - Only the loop thread touches struct daemon (nng's threads hand their
 *   events over through link.c's queue).
 * - At most one worker process runs (worker_running); a command that
 *   arrives while it runs is refused with "busy", except a CANCEL, which is
 *   for the running command (or says that it is not running).
 * - The daemon never calls the release engine: commands run in a
 *   `rollwave-agent worker` child (worker.h), so that rollwave-agentd
 *   links without libcurl, libarchive and libcrypto.
 * - A command's id is in the state file (the replay guard) before its
 *   worker starts; its final result is in the state file before it is
 *   queued, and leaves it only when the coordinator acknowledged it.
 * - A command runs only on the host it names: Command.host_id must be the
 *   id Welcome gave this session (it is in the signed bytes).
 */
#include "daemon_private.h"

#include <malloc.h>
#include <sodium.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>

void
daemon_set_status(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	(void)sd_notifyf(0, "STATUS=%s", buf);
}

uint64_t
daemon_jitter(uint64_t usec, unsigned percent)
{
	uint64_t span = usec * percent / 100;

	if (span == 0 || span > UINT32_MAX)
		return usec;
	return usec - span + randombytes_uniform((uint32_t)(2 * span + 1));
}

int
daemon_timer_arm(struct daemon *d, sd_event_source **src, uint64_t usec, sd_event_time_handler_t cb)
{
	int r;

	if (!*src)
		return sd_event_add_time_relative(
		        d->event, src, CLOCK_MONOTONIC, usec, 10 * USEC_PER_MSEC, cb, d);
	r = sd_event_source_set_time_relative(*src, usec);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
}

static int
on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	if (d->session == SESSION_UP)
		d->heartbeat_due = true;
	(void)daemon_timer_arm(
	        d, &d->heartbeat_timer, daemon_jitter(d->cfg->heartbeat_usec, 10), on_heartbeat);
	exchange_pump(d);
	return 0;
}

static int
on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	(void)sd_notify(0, "WATCHDOG=1");
	(void)daemon_timer_arm(d, &d->watchdog_timer, d->watchdog_usec / 2, on_watchdog);
	return 0;
}

static int
on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	log_warning("the running operation did not finish in time; stopping anyway (recovery "
	            "finishes it at the next start)");
	sd_event_exit(d->event, 0);
	return 0;
}

static int
on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	if (d->stopping) {
		log_warning("second signal: stopping now");
		sd_event_exit(d->event, 0);
		return 0;
	}
	d->stopping = true;
	(void)sd_notify(0, "STOPPING=1");
	if (!d->worker_running) {
		log_info("received %s, stopping", strsignal((int)si->ssi_signo));
		sd_event_exit(d->event, 0);
		return 0;
	}
	log_notice("received %s while %s %s runs: waiting up to %" PRIu64 " s for it to finish",
	        strsignal((int)si->ssi_signo), worker_op_to_string(d->job->op), d->job->app,
	        STOP_WAIT_USEC / USEC_PER_SEC);
	daemon_set_status("stopping: waiting for the running operation");
	if (daemon_timer_arm(d, &d->stop_timer, STOP_WAIT_USEC, on_stop_timeout) < 0)
		sd_event_exit(d->event, 0);
	return 0;
}

static int
daemon_setup_identity(struct daemon *d)
{
	struct rw_err err = {{0}};
	char path[PATH_MAX];
	bool created = false;
	int r;

	if (xsnprintf(path, sizeof(path), "%s/identity.key", d->cfg->state_dir) < 0 ||
	        xsnprintf(d->pin_path, sizeof(d->pin_path), "%s/coordinator.pub",
	                d->cfg->state_dir) < 0) {
		log_error("StateDirectory= path too long");
		return -ENAMETOOLONG;
	}
	r = identity_load_or_create(path, &d->id, &created, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	identity_fingerprint(d->id.pk, d->fingerprint);
	log_info(
	        "%s identity key %s (%s)", created ? "made a new" : "loaded", path, d->fingerprint);
	r = identity_pin_load(d->pin_path, d->pinned, &err);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	d->have_pin = true;
	return 0;
}

static int
daemon_setup_loop(struct daemon *d)
{
	struct rw_err err = {{0}};
	int r;

	r = sd_event_default(&d->event);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGTERM, on_signal, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGINT, on_signal, d);
	if (r < 0) {
		log_error("cannot set up the event loop: %s", strerror(-r));
		return r;
	}
	if (sd_watchdog_enabled(false, &d->watchdog_usec) > 0 && d->watchdog_usec >= 2) {
		r = daemon_timer_arm(d, &d->watchdog_timer, d->watchdog_usec / 2, on_watchdog);
		if (r < 0)
			return r;
	}
	if (d->cfg->health_watch_usec) {
		r = daemon_timer_arm(d, &d->health_timer,
		        daemon_jitter(d->cfg->health_watch_usec, 10), health_watch_on_timer);
		if (r < 0)
			return r;
	}
	if (!d->cfg->coordinator[0]) {
		log_notice("no Coordinator= configured: running standalone");
		return 0;
	}
	if (d->cfg->insecure)
		log_warning("Insecure=yes: talking to the coordinator %s without TLS "
		            "(unauthenticated and unencrypted transport)",
		        d->cfg->coordinator);
	r = agent_config_join_token(d->cfg, d->join_token, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	r = link_open(d->cfg, &d->link, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	r = sd_event_add_io(
	        d->event, &d->link_src, link_fd(d->link), EPOLLIN, exchange_on_link_event, d);
	if (r >= 0)
		r = daemon_timer_arm(d, &d->heartbeat_timer,
		        daemon_jitter(d->cfg->heartbeat_usec, 10), on_heartbeat);
	if (r < 0) {
		log_error("cannot set up the event loop: %s", strerror(-r));
		return r;
	}
	d->hello_due = true;
	return 0;
}

static void
daemon_done(struct daemon *d)
{
	/* A worker still running (stop timeout) is abandoned: killed, as the
	 * worker thread died with the process before; recovery finishes its
	 * operation next time. */
	if (d->job) {
		(void)kill(d->job->pid, SIGKILL);
		job_free(d->job);
		d->job = NULL;
	}
	if (d->check) {
		(void)kill(d->check->pid, SIGKILL);
		(void)waitpid(d->check->pid, NULL, 0);
		job_free(d->check);
		d->check = NULL;
	}
	sd_event_source_unref(d->health_timer);
	link_close(d->link);
	d->link = NULL;
	sd_event_source_unref(d->link_src);
	sd_event_source_unref(d->retry_timer);
	sd_event_source_unref(d->heartbeat_timer);
	sd_event_source_unref(d->poll_timer);
	sd_event_source_unref(d->watchdog_timer);
	sd_event_source_unref(d->stop_timer);
	sd_event_unref(d->event);
	while (d->out_head)
		outbox_pop(d);
	state_close(d->state);
	identity_done(&d->id);
	sodium_memzero(d->join_token, sizeof(d->join_token));
}

int
daemon_run(const struct agent_config *cfg, const struct daemon_options *opts)
{
	struct daemon d = {.cfg = cfg, .opts = opts};
	struct rw_err err = {{0}};
	sigset_t mask;
	int r, ret = 1;

	/* Block the signals before any thread exists (nng's), so that only
	 * the loop's signalfd sees SIGTERM and SIGINT and sd-event's child
	 * source sees the worker process exit (SIGCHLD). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	/* nng 1.5 starts a dozen threads here (2 CPUs) and up to about 30
	 * on big machines; glibc would give each that allocates an arena of
	 * its own, whose touched pages stay (about 50 KiB here, more with
	 * more threads). The loop and nng's callbacks allocate little and
	 * rarely at once: one arena besides the main one is enough. */
	(void)mallopt(M_ARENA_MAX, DAEMON_MALLOC_ARENAS);
	d.start_usec = now_monotonic_usec();

	r = state_open(cfg->state_dir, &d.state, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	if (daemon_setup_identity(&d) < 0)
		goto out;
	if (daemon_setup_loop(&d) < 0)
		goto out;
	r = state_report_foreach(d.state, outbox_load_stored, &d);
	if (r < 0)
		log_warning(
		        "cannot read undelivered results from the state file: %s", strerror(-r));
	else if (d.n_out)
		log_info("%zu result(s) wait for the coordinator", d.n_out);

	exchange_pump(&d);
	(void)sd_notify(0, "READY=1");
	if (d.link)
		daemon_set_status("connecting to %s", cfg->coordinator);
	else
		daemon_set_status("running without a coordinator");
	log_info("rollwave-agent %s running (state %s, key %s)", ROLLWAVE_VERSION, cfg->state_dir,
	        d.fingerprint);
	r = sd_event_loop(d.event);
	if (r < 0)
		log_error("event loop failed: %s", strerror(-r));
	else
		ret = 0;
out:
	daemon_done(&d);
	return ret;
}
