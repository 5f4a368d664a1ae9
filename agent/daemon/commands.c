/*
 * commands: a Command a poll brought (docs/protocol.md, Command.Kind),
 * checked by link_command_check() (signature, host, replay, busy), then:
 *
 *   DEPLOY, ROLLBACK, MIGRATE, MIGRATE_DOWN, PREFLIGHT
 *       a worker process (engine_deploy(), ...; jobs.c); acknowledged when
 *       it starts, then phase reports and one final report;
 *   CANCEL
 *       here: the running command with that id, if it is a deploy, migrate
 *       or preflight that has not activated (or started its migrate hook)
 *       yet, is asked to stop (worker_cancel()); its own final report then
 *       says PHASE_CANCELLED. The CANCEL is only acknowledged (accepted,
 *       with a reason saying what became of it), never reported on;
 *   anything else is refused with a reason.
 */
#include "daemon_private.h"

/* Whether the job went past the point where a cancel could stop it:
 * activated (a deploy), or its migrate hook started. */
static bool
job_past_cancel_point(const struct job *job)
{
	switch (job->op) {
	case WORKER_DEPLOY:
		return job->last_phase >= ROLLWAVE__PHASE__PHASE_ACTIVATING &&
		        job->last_phase <= ROLLWAVE__PHASE__PHASE_HEALTH;
	case WORKER_MIGRATE:
		return job->last_phase == ROLLWAVE__PHASE__PHASE_MIGRATING;
	default:
		return false;
	}
}

/* A CANCEL (already verified, bound to this host, new): asks the running
 * command it names to stop, or says why not. Always acknowledged as
 * accepted unless the request could not be made. */
static void
on_cancel(struct daemon *d, const Rollwave__Command *cmd)
{
	struct cmdlog_ids ids = job_log_ids(d, cmd->command_id);
	uint64_t target = cmd->cancel_command_id;
	struct job *job = d->job;
	char reason[256];
	int r;

	/* The CANCEL is a command like the others in the replay guard. */
	r = state_command_id_set(d->state, cmd->command_id);
	if (r < 0) {
		cmdlog(LOG_ERR, MSGID_COMMAND_REFUSE, cmd->app, NULL, &ids,
		        "cannot record command %" PRIu64 " in the state file: %s; refusing it",
		        cmd->command_id, strerror(-r));
		outbox_queue_ack(d, cmd->command_id, false, "cannot record the command id");
		return;
	}
	if (!job || job->op == WORKER_RECOVER || job->command_id != target)
		strbuf_printf(reason, sizeof(reason),
		        "command %" PRIu64 " is not running here (finished, or never received): "
		        "nothing to cancel",
		        target);
	else if (!streq(job->app, cmd->app))
		strbuf_printf(reason, sizeof(reason),
		        "command %" PRIu64 " is for app %s, not %s: not cancelled", target,
		        job->app, cmd->app);
	else if (!worker_op_is_cancellable(job->op))
		strbuf_printf(reason, sizeof(reason),
		        "command %" PRIu64 " (%s) cannot be cancelled: it runs to its end", target,
		        worker_op_to_string(job->op));
	else if (job->cancelled_by)
		strbuf_printf(reason, sizeof(reason),
		        "command %" PRIu64 " is being cancelled already (command %" PRIu64 ")",
		        target, job->cancelled_by);
	else if (job_past_cancel_point(job))
		strbuf_printf(reason, sizeof(reason),
		        "command %" PRIu64 " (%s) already %s: it runs to its end", target,
		        worker_op_to_string(job->op),
		        job->op == WORKER_MIGRATE ? "started its migrate hook" : "activated");
	else if ((r = worker_cancel(job->pid, job->cancel_fd)) < 0) {
		strbuf_printf(reason, sizeof(reason),
		        "cannot ask the worker of command %" PRIu64 " to stop: %s", target,
		        strerror(-r));
		cmdlog(LOG_ERR, MSGID_COMMAND_CANCEL, cmd->app, NULL, &ids,
		        "command %" PRIu64 " (cancel): %s", cmd->command_id, reason);
		outbox_queue_ack(d, cmd->command_id, false, reason);
		return;
	} else {
		job->cancelled_by = cmd->command_id;
		strbuf_printf(reason, sizeof(reason),
		        "cancelling command %" PRIu64
		        " (%s): it stops at its next safe point before "
		        "activation; its final report says whether it did",
		        target, worker_op_to_string(job->op));
	}
	cmdlog(LOG_NOTICE, MSGID_COMMAND_CANCEL, cmd->app, NULL, &ids,
	        "command %" PRIu64 " (cancel %" PRIu64 "): %s", cmd->command_id, target, reason);
	outbox_queue_ack(d, cmd->command_id, true, reason);
}

static enum worker_op
worker_op_of(Rollwave__Command__Kind kind)
{
	switch (kind) {
	case ROLLWAVE__COMMAND__KIND__ROLLBACK:
		return WORKER_ROLLBACK;
	case ROLLWAVE__COMMAND__KIND__MIGRATE:
		return WORKER_MIGRATE;
	case ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN:
		return WORKER_MIGRATE_DOWN;
	case ROLLWAVE__COMMAND__KIND__PREFLIGHT:
		return WORKER_PREFLIGHT;
	default: /* link_command_check() let only known kinds through */
		return WORKER_DEPLOY;
	}
}

/* The replay guard and link_command_check(): false when the command was
 * answered (acknowledged as a replay, or refused) and is not to run. */
static bool
command_admitted(struct daemon *d, const Rollwave__Command *cmd)
{
	struct cmdlog_ids ids = job_log_ids(d, cmd->command_id);
	char reason[256];
	enum link_verdict v;
	uint64_t highest = 0;

	if (state_command_id_get(d->state, &highest) < 0) {
		outbox_queue_ack(d, cmd->command_id, false, "cannot read the state file");
		return false;
	}
	v = link_command_check(cmd, d->have_pin ? d->pinned : NULL, d->host_id, highest,
	        d->worker_running, reason, sizeof(reason));
	if (v == LINK_COMMAND_REPLAY) {
		cmdlog(LOG_INFO, NULL, cmd->app, NULL, &ids,
		        "command %" PRIu64 " was already executed; not running it again",
		        cmd->command_id);
		outbox_queue_ack(d, cmd->command_id, true, reason);
		return false;
	}
	if (v == LINK_COMMAND_REFUSE) {
		cmdlog(LOG_WARNING, MSGID_COMMAND_REFUSE, cmd->app, NULL, &ids,
		        "refused command %" PRIu64 ": %s", cmd->command_id, reason);
		outbox_queue_ack(d, cmd->command_id, false, reason);
		return false;
	}
	return true;
}

/* Should the agent die while job runs, its next start reports it. */
static void
provisional_report_add(struct daemon *d, const struct job *job, const struct cmdlog_ids *ids)
{
	struct state_report rep = {
	        .command_id = job->command_id,
	        .phase = ROLLWAVE__PHASE__PHASE_FAILED,
	        .provisional = (int)job->op + 1,
	};

	strcpy(rep.app, job->app);
	strcpy(rep.version, version_is_valid(job->version) ? job->version : "");
	strcpy(rep.error, "the agent stopped before the command finished");
	if (state_report_add(d->state, &rep) < 0)
		cmdlog(LOG_WARNING, NULL, job->app, NULL, ids,
		        "cannot keep a provisional report of command %" PRIu64 " in the state file",
		        job->command_id);
}

/* A command for a worker process (admitted, not a CANCEL): started, or
 * refused saying why. */
static void
command_start(struct daemon *d, const Rollwave__Command *cmd, const struct worker_request *req)
{
	struct cmdlog_ids ids = job_log_ids(d, cmd->command_id);
	struct rw_err err = {{0}};
	struct app_config app;
	struct job *job;
	int r;

	/* A preflight answers a missing app config with a failed check. */
	if (req->op != WORKER_PREFLIGHT) {
		r = app_config_load(d->cfg, cmd->app, &app, &err);
		if (r < 0) {
			cmdlog(LOG_WARNING, MSGID_COMMAND_REFUSE, cmd->app, NULL, &ids,
			        "refused command %" PRIu64 ": %s", cmd->command_id, err.msg);
			outbox_queue_ack(d, cmd->command_id, false, err.msg);
			return;
		}
		app_config_done(&app);
	}
	job = job_new(cmd->app, req->op);
	if (!job) {
		outbox_queue_ack(d, cmd->command_id, false, "out of memory");
		return;
	}
	job->command_id = cmd->command_id;
	strbuf_printf(job->version, sizeof(job->version), "%s",
	        req->op == WORKER_ROLLBACK ? cmd->to_version : cmd->version);
	/* The replay guard is on disk before anything runs. */
	r = state_command_id_set(d->state, cmd->command_id);
	if (r < 0) {
		cmdlog(LOG_ERR, NULL, cmd->app, NULL, &ids,
		        "cannot record command %" PRIu64 " in the state file: %s; refusing it",
		        cmd->command_id, strerror(-r));
		outbox_queue_ack(d, cmd->command_id, false, "cannot record the command id");
		job_free(job);
		return;
	}
	provisional_report_add(d, job, &ids);
	r = job_start(d, job, req, &err);
	if (r < 0) {
		cmdlog(LOG_ERR, NULL, cmd->app, NULL, &ids, "command %" PRIu64 ": %s",
		        cmd->command_id, err.msg);
		outbox_queue_ack(d, cmd->command_id, false, "cannot start a worker process");
		(void)state_report_delete(d->state, cmd->command_id);
		job_free(job);
		return;
	}
	d->job = job;
	d->worker_running = true;
	cmdlog(LOG_INFO, MSGID_DEPLOY_START, cmd->app, job->version[0] ? job->version : NULL, &ids,
	        "command %" PRIu64 ": %s %s%s%s", cmd->command_id, worker_op_to_string(job->op),
	        cmd->app, job->version[0] ? " " : "", job->version);
	outbox_queue_ack(d, cmd->command_id, true, "");
}

void
commands_handle(struct daemon *d, const Rollwave__Command *cmd)
{
	struct worker_request req = {
	        .op = worker_op_of(cmd->kind),
	        .app = cmd->app,
	        .manifest_url = cmd->manifest_url,
	        .expect_version = cmd->version,
	        .to_version = cmd->to_version,
	};

	if (!command_admitted(d, cmd))
		return;
	if (cmd->kind == ROLLWAVE__COMMAND__KIND__CANCEL) {
		on_cancel(d, cmd);
		return;
	}
	command_start(d, cmd, &req);
}
