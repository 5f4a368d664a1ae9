/*
 * cli_waves: showing and following deployments through waves (cli_waves.h).
 * Polls every POLL_MS; a coordinator that does not answer any more is asked
 * again for up to LOST_AFTER_S before following gives up.
 */
#include <inttypes.h>
#include <jansson.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "admin.h"
#include "admin_format.h"
#include "cli.h"
#include "cli_waves.h"
#include "log.h"
#include "wire.h"

#define POLL_MS         1000
#define LOST_AFTER_S    60
#define LOST_AFTER_USEC (LOST_AFTER_S * USEC_PER_SEC)

int
cli_waves_timeout_parse(const struct cli_verb *verb, const char *s, uint64_t *ret)
{
	if (!s || parse_duration_usec(s, ret) < 0 || *ret == 0)
		return cli_usage_error(verb, "--timeout takes a duration (90s, 30m, 2h), got '%s'",
		        s ? s : "nothing");
	return -1;
}

/* ---- output ---- */

static void
ts(uint64_t ms, char *buf, size_t size)
{
	if (!ms) {
		strbuf_printf(buf, size, "-");
		return;
	}
	format_timestamp_utc(ms * USEC_PER_MSEC, buf, size);
}

static json_t *
waves_json(Rollwave__DeploymentStatus__Wave *const *w, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *hosts = json_array();

		for (size_t j = 0; j < w[i]->n_hosts; j++) {
			const Rollwave__DeploymentStatus__Host *h = w[i]->hosts[j];

			json_array_append_new(hosts,
			        json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s?, s:s?}",
			                "id", (json_int_t)h->host_id, "hostname", h->hostname,
			                "task", h->task[0] ? h->task : "none", "phase",
			                h->phase ? admin_format_phase(h->phase) : "none", "error",
			                h->error, "healthy", h->healthy, "down", h->down,
			                "up_to_date", h->up_to_date, "rollback_to",
			                h->rollback_to[0] ? h->rollback_to : NULL, "hook_output",
			                h->hook_output && h->hook_output[0] ? h->hook_output
			                                                    : NULL));
		}
		json_array_append_new(a,
		        json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:b, s:f, s:f, s:f, s:b, s:s?, "
		                  "s:o}",
		                "index", (json_int_t)i + 1, "name", w[i]->name, "kind", w[i]->kind,
		                "state", w[i]->state, "verdict", w[i]->verdict, "max_unavailable",
		                (json_int_t)w[i]->max_unavailable, "approval", w[i]->approval,
		                "bake_s", (double)w[i]->bake_ms / 1000.0, "timeout_s",
		                (double)w[i]->timeout_ms / 1000.0, "min_healthy_s",
		                (double)w[i]->min_healthy_ms / 1000.0, "metric_gates",
		                w[i]->metric_gates, "command",
		                w[i]->command[0] ? w[i]->command : NULL, "hosts", hosts));
	}
	return a;
}

json_t *
cli_waves_status_json(const Rollwave__DeploymentStatus *st, bool with_waves)
{
	char c[32], u[32], f[32];
	json_t *o;

	ts(st->created_ms, c, sizeof(c));
	ts(st->updated_ms, u, sizeof(u));
	ts(st->finished_ms, f, sizeof(f));
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:I, s:I}",
	        "deployment_id", (json_int_t)st->deployment_id, "app", st->app, "version",
	        st->version, "strategy", st->strategy, "state", st->state, "wave",
	        (json_int_t)st->wave + 1, "step", st->step, "reason", st->reason, "actor",
	        st->actor, "created", st->created_ms ? c : NULL, "updated",
	        st->updated_ms ? u : NULL, "finished", st->finished_ms ? f : NULL,
	        "failures_allowed", (json_int_t)st->failures_allowed, "failed",
	        (json_int_t)st->failed);
	if (o && with_waves) {
		json_object_set_new(o, "waves", waves_json(st->waves, st->n_waves));
		json_object_set_new(o, "rollback", waves_json(st->rollback, st->n_rollback));
		json_object_set_new(o, "params", json_string(st->params));
	}
	return o;
}

int
cli_waves_print(const Rollwave__DeploymentStatus *st, const struct admin_waves_view *v)
{
	if (admin_format_waves_status(st, v, stdout) < 0 || fflush(stdout) == EOF) {
		log_error("cannot write to standard output");
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

/* Lines of the terminal on stdout a screen may use (one stays for the
 * cursor). */
static size_t
terminal_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row < 2)
		return 23;
	return (size_t)ws.ws_row - 1;
}

int
cli_waves_get_status(uint64_t id, const char *app, Rollwave__Envelope **ret)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__GetDeploymentStatus g =
	        ROLLWAVE__ADMIN_REQUEST__GET_DEPLOYMENT_STATUS__INIT;
	char subject[64];

	g.deployment_id = id;
	g.app = (char *)(app ? app : "");
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT_STATUS;
	req.get_deployment_status = &g;
	strbuf_printf(subject, sizeof(subject), "deployment %" PRIu64, id);
	return cli_admin_call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS,
	        id ? subject : app, ret);
}

/* Whether a status request that failed may work if asked again: the
 * coordinator restarting, the network hiccuping. A refusal ("no such
 * deployment"), no permission, a TLS failure or a reply that makes no
 * sense will not change. */
static bool
error_is_transient(int r)
{
	switch (r) {
	case -ECONNREFUSED:
	case -ENOENT:
	case -ETIMEDOUT:
	case -ECONNRESET:
	case -ECONNABORTED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EAGAIN:
	case -EIO:
		return true;
	default:
		return false;
	}
}

/* The end of following: the last line says how it ended and why (or with
 * --json, the deployment as one document). */
static int
follow_end(const struct cli_waves_follow *f, const Rollwave__DeploymentStatus *st)
{
	int r = streq(st->state, f->success) ? CLI_EXIT_OK : CLI_EXIT_FAILURE;

	if (f->json)
		return cli_json_print(cli_waves_status_json(st, true)) == CLI_EXIT_OK
		        ? r
		        : CLI_EXIT_FAILURE;
	printf("Deployment %" PRIu64 " %s%s%s\n", st->deployment_id, st->state,
	        st->reason[0] ? ": " : ".", st->reason);
	return fflush(stdout) == EOF ? CLI_EXIT_FAILURE : r;
}

/* Where following is between two looks. */
struct follow_state {
	uint64_t start;      /* monotonic usec */
	uint64_t lost_since; /* since when the coordinator does not answer; 0 */
	bool reached;        /* it answered for this deployment once */
};

/* A look that failed with r: returns -1 to ask again (a coordinator
 * restarting, within LOST_AFTER_S and the timeout), else an exit code. */
static int
follow_failed(const struct cli_waves_follow *f, struct follow_state *fs, int r, uint64_t now,
        const struct rw_err *err)
{
	if (r == -EREMOTEIO) {
		log_error("deployment %" PRIu64 ": %s", f->id, err->msg);
		return CLI_WAVES_EXIT_UNFOLLOWED;
	}
	if (!fs->reached || !error_is_transient(r)) {
		log_error("%s", err->msg);
		return CLI_WAVES_EXIT_UNFOLLOWED;
	}
	/* The coordinator may be restarting: keep asking a while. */
	if (!fs->lost_since) {
		fs->lost_since = now;
		log_warning("%s; asking again for up to %d s", err->msg, LOST_AFTER_S);
	}
	if (now - fs->lost_since > LOST_AFTER_USEC ||
	        (f->timeout_usec && now - fs->start > f->timeout_usec)) {
		log_error("lost the coordinator while following deployment %" PRIu64
		          ": %s; it may still be running (rollwave watch %" PRIu64 ")",
		        f->id, err->msg, f->id);
		return CLI_WAVES_EXIT_UNFOLLOWED;
	}
	return -1;
}

/* A look that answered st: shows it; returns -1 to look again, else an
 * exit code (final, or --timeout passed). */
static int
follow_show(const struct cli_waves_follow *f, const Rollwave__DeploymentStatus *st, uint64_t now,
        uint64_t start, struct admin_watch_seen *seen)
{
	if (!f->json && isatty(STDOUT_FILENO)) {
		struct admin_waves_view v = {.bars = true, .rows = terminal_rows()};

		fputs("\033[H\033[2J", stdout);
		(void)admin_format_waves_status(st, &v, stdout);
	} else if (!f->json)
		(void)admin_format_watch_changes(st, seen, stdout);
	if (admin_deployment_is_final(st->state))
		return follow_end(f, st);
	fflush(stdout);
	if (f->timeout_usec && now - start >= f->timeout_usec) {
		if (f->json)
			(void)cli_json_print(cli_waves_status_json(st, true));
		log_error("deployment %" PRIu64 " is still %s (%s) after --timeout; it goes "
		          "on on the coordinator (rollwave watch %" PRIu64
		          ", rollwave abort %" PRIu64 ")",
		        f->id, st->state, st->step, f->id, f->id);
		return CLI_WAVES_EXIT_TIMEOUT;
	}
	return -1;
}

int
cli_waves_follow(const struct cli_waves_follow *f)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__GetDeploymentStatus g =
	        ROLLWAVE__ADMIN_REQUEST__GET_DEPLOYMENT_STATUS__INIT;
	_cleanup_(admin_watch_seen_done) struct admin_watch_seen seen = {0};
	struct follow_state fs = {.start = now_monotonic_usec(), .reached = f->reached};
	struct admin_target t;
	struct rw_err err = {""};

	if (cli_admin_target(&t, &err) < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_USAGE;
	}
	g.deployment_id = f->id;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT_STATUS;
	req.get_deployment_status = &g;
	for (;;) {
		_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
		uint64_t now, left;
		int r;

		r = admin_call(&t, &req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS,
		        &reply, &err);
		now = now_monotonic_usec();
		if (r < 0) {
			r = follow_failed(f, &fs, r, now, &err);
			if (r >= 0)
				return r;
			cli_sleep_ms(POLL_MS);
			continue;
		}
		if (fs.lost_since)
			log_info("the coordinator answers again");
		fs.reached = true;
		fs.lost_since = 0;
		r = follow_show(f, reply->admin_response->deployment_status, now, fs.start, &seen);
		if (r >= 0)
			return r;
		left = f->timeout_usec ? f->timeout_usec - (now - fs.start) : UINT64_MAX;
		cli_sleep_ms(left / USEC_PER_MSEC < POLL_MS ? left / USEC_PER_MSEC : POLL_MS);
	}
}

int
cli_waves_parse_id(const struct cli_verb *verb, const char *s, uint64_t *ret)
{
	if (!s || parse_uint64(s, ret) < 0 || *ret == 0)
		return cli_usage_error(
		        verb, "%s needs a deployment ID, got '%s'", verb->name, s ? s : "nothing");
	return -1;
}

int
cli_waves_history(const char *app, unsigned limit, bool json, bool active_only)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__History h = ROLLWAVE__ADMIN_REQUEST__HISTORY__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	const Rollwave__DeploymentList *l;
	json_t *arr;
	int r;

	h.app = (char *)(app ? app : "");
	h.limit = limit;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_HISTORY;
	req.history = &h;
	r = cli_admin_call(&req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_LIST, app, &reply);
	if (r != CLI_EXIT_OK)
		return r;
	l = reply->admin_response->deployment_list;
	if (json) {
		arr = json_array();
		for (size_t i = 0; i < l->n_deployments; i++)
			if (!active_only || !admin_deployment_is_final(l->deployments[i]->state))
				json_array_append_new(
				        arr, cli_waves_status_json(l->deployments[i], false));
		return cli_json_print(json_pack("{s:o}", "deployments", arr));
	}
	if (admin_format_history_table(l, active_only, stdout) < 0 || fflush(stdout) == EOF) {
		log_error("cannot write to standard output");
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}
