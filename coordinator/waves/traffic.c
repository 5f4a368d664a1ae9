/*
 * waves/traffic.c: blue-green: a traffic command run as a child process the tick
 * checks on, and the app's live colour in the store. Shared by a switch wave
 * (switch.c) and the rollback's switch back (rollback.c).
 */
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "log.h"
#include "waves_private.h"

extern char **environ;

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
