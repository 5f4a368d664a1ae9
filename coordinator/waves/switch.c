/*
 * waves/switch.c: blue-green: the traffic command of a switch wave (and of the switch
 * back), run as a child process the tick checks on.
 */
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "log.h"
#include "waves_private.h"

extern char **environ;

/* ---- traffic switch (blue-green) ---- */

/* Runs (or checks on) cmd: 1 done, 0 running, <0 failed (why). */
int
switch_run(
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
void
dep_record_live_color(struct waves *e, struct dep *d, const char *color)
{
	int r;

	r = db_traffic_set(e->db, d->row.app, color, d->row.id);
	if (r < 0)
		log_error("deployment %" PRId64 ": cannot record that %s is live: %s", d->row.id,
		        color, strerror(-r));
}

/* The traffic switch of a blue-green wave. */
struct step_result
step_switch(struct waves *e, struct dep *d, uint64_t now)
{
	const struct plan_wave *w = &d->plan->waves[d->row.wave];
	char why[GATE_WHY_MAX];
	struct step_result r;
	int q;

	(void)e;
	q = switch_run(d, w->command, w->timeout_usec / 1000, now, why, sizeof(why));
	if (q == 0)
		return result_hold();
	strbuf_printf(d->verdict, sizeof(d->verdict), "%s", why);
	if (q < 0)
		return result_rollback("%s", why);
	r = result_goto(d, STEP_BAKE, "deploy.switch", "%s", why);
	r.live_color = d->plan->idle_color;
	return r;
}
