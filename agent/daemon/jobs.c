/*
 * jobs: the worker process (worker.h) that runs a coordinator command or a
 * recovery: started, its lines read (phases become progress reports, hook
 * output is kept for the final report), its exit turned into the final
 * report. A worker that died without a result left the engine's journal:
 * a recovery runs in another worker.
 */
#include "daemon_private.h"

#include <sys/wait.h>

/* The ids a log line about command_id carries (cmdlog.h). */
struct cmdlog_ids
job_log_ids(const struct daemon *d, uint64_t command_id)
{
	return (struct cmdlog_ids) {.host_id = d->welcome_host_id, .command_id = command_id};
}

/* The version a report names: what the engine said, else what the command
 * asked for, else the release that is current now (a rollback that failed
 * before it knew its target). */
static void
report_version(struct daemon *d, struct job *job, const char *engine_version, char *out)
{
	struct app_record rec;

	if (!isempty(engine_version) && version_is_valid(engine_version))
		strcpy(out, engine_version);
	else if (job->version[0])
		strcpy(out, job->version);
	else if (state_get_app(d->state, job->app, &rec) >= 0 && version_is_valid(rec.current))
		strcpy(out, rec.current);
	else
		strcpy(out, "0");
}

void
job_free(struct job *job)
{
	if (!job)
		return;
	sd_event_source_disable_unref(job->child_src);
	sd_event_source_disable_unref(job->output_src);
	if (job->fd >= 0)
		close(job->fd);
	if (job->cancel_fd >= 0)
		close(job->cancel_fd);
	free(job->hook_output);
	free(job);
}

/* Room kept at the end of a report's hook output for the cut marker. */
#define HOOK_OUTPUT_CUT_MARK "[hook output cut at 16 KiB]\n"
#define HOOK_OUTPUT_ROOM     (WIRE_REPORT_TEXT_MAX - sizeof(HOOK_OUTPUT_CUT_MARK))

/* Appends a chunk of hook output (an `output` line) to the job's, which
 * the final report carries; what does not fit is counted as cut. */
static void
job_append_output(struct job *job, const char *data, size_t len)
{
	size_t room;
	char *p;

	if (job->hook_output_cut)
		return;
	if (!job->hook_output) {
		job->hook_output = malloc(WIRE_REPORT_TEXT_MAX + 1);
		if (!job->hook_output) {
			job->hook_output_cut = true;
			return;
		}
	}
	p = job->hook_output;
	room = HOOK_OUTPUT_ROOM - job->hook_output_len;
	if (len > room) {
		len = room;
		job->hook_output_cut = true;
	}
	memcpy(p + job->hook_output_len, data, len);
	job->hook_output_len += len;
	if (job->hook_output_cut) {
		memcpy(p + job->hook_output_len, HOOK_OUTPUT_CUT_MARK,
		        sizeof(HOOK_OUTPUT_CUT_MARK) - 1);
		job->hook_output_len += sizeof(HOOK_OUTPUT_CUT_MARK) - 1;
	}
	p[job->hook_output_len] = 0;
}

/* A coordinator command's worker is gone (code, status as in siginfo_t):
 * its result, or the way it died, becomes the command's final report. */
static void
command_done(struct daemon *d, struct job *job, int code, int status)
{
	struct cmdlog_ids ids = job_log_ids(d, job->command_id);
	struct state_report rep = {0};
	struct outgoing *o;
	int prio = LOG_INFO;
	const char *msgid = MSGID_DEPLOY_DONE;
	char how[128];

	rep.command_id = job->command_id;
	strcpy(rep.app, job->app);
	rep.elapsed_ms = (now_monotonic_usec() - job->start_usec) / USEC_PER_MSEC;
	rep.hook_output = job->hook_output;
	rep.hook_absent = job->hook_absent;
	if (job->have_result) {
		report_version(d, job, job->result.version, rep.version);
		rep.phase = job->result.phase;
		/* The error says what went wrong; a preflight that passed with
		 * warnings says them there too. */
		if (rep.phase != ROLLWAVE__PHASE__PHASE_COMMITTED ||
		        (job->op == WORKER_PREFLIGHT && strstr(job->result.message, "warning: ")))
			strbuf_printf(rep.error, sizeof(rep.error), "%s", job->result.message);
	} else {
		worker_exit_message(code, status, how, sizeof(how));
		report_version(d, job, NULL, rep.version);
		rep.phase = ROLLWAVE__PHASE__PHASE_FAILED;
		strbuf_printf(rep.error, sizeof(rep.error),
		        "the worker process %s before it reported a result", how);
	}
	if (rep.phase == ROLLWAVE__PHASE__PHASE_CANCELLED) {
		prio = LOG_NOTICE;
		msgid = MSGID_COMMAND_CANCEL;
	} else if (rep.phase != ROLLWAVE__PHASE__PHASE_COMMITTED) {
		prio = LOG_ERR;
		msgid = rep.phase == ROLLWAVE__PHASE__PHASE_ROLLED_BACK ? MSGID_ROLLED_BACK
		                                                        : MSGID_DEPLOY_FAILED;
	}
	if (job->hook_output_len)
		strbuf_printf(
		        how, sizeof(how), " [%zu bytes of hook output]", job->hook_output_len);
	else
		how[0] = 0;
	cmdlog(prio, msgid, rep.app, rep.version, &ids, "command %" PRIu64 " (%s): %s%s",
	        job->command_id, worker_op_to_string(job->op),
	        job->have_result ? job->result.message : rep.error, how);
	if (state_report_add(d->state, &rep) < 0)
		cmdlog(LOG_WARNING, NULL, rep.app, rep.version, &ids,
		        "cannot keep the result of command %" PRIu64
		        " in the state file; it is reported from memory only",
		        job->command_id);
	o = calloc(1, sizeof(*o));
	if (o) {
		o->command_id = rep.command_id;
		strcpy(o->app, rep.app);
		strcpy(o->version, rep.version);
		o->phase = (Rollwave__Phase)rep.phase;
		o->elapsed_ms = rep.elapsed_ms;
		strcpy(o->error, rep.error);
		o->hook_absent = rep.hook_absent;
		o->hook_output = TAKE_PTR(job->hook_output);
		o->final = true;
		outbox_push(d, o);
	}
}

/* The recovery the daemon started is over: logged like the one at start. */
static void
recovery_done(struct job *job, int code, int status)
{
	char how[128];

	if (!job->have_result) {
		worker_exit_message(code, status, how, sizeof(how));
		log_struct(LOG_ERR, MSGID_RECOVERY, job->app, NULL,
		        "recovery failed: the worker process %s; the next start of the agent "
		        "recovers",
		        how);
		return;
	}
	switch (job->result.phase) {
	case ROLLWAVE__PHASE__PHASE_ROLLED_BACK:
		log_struct(LOG_WARNING, MSGID_RECOVERY, job->app,
		        job->result.version[0] ? job->result.version : NULL, "recovery: %s",
		        job->result.message);
		break;
	case ROLLWAVE__PHASE__PHASE_FAILED:
		log_struct(LOG_ERR, MSGID_RECOVERY, job->app, NULL, "recovery failed: %s",
		        job->result.message);
		break;
	default:
		log_struct(LOG_NOTICE, MSGID_RECOVERY, job->app,
		        job->result.version[0] ? job->result.version : NULL, "recovery: %s",
		        job->result.message);
		break;
	}
}

struct job *
job_new(const char *app, enum worker_op op)
{
	struct job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->fd = -1;
	job->cancel_fd = -1;
	job->op = op;
	job->start_usec = now_monotonic_usec();
	strbuf_printf(job->app, sizeof(job->app), "%s", app);
	return job;
}

/* A worker killed mid-step left the engine's journal behind: finish it now
 * in another worker (as `rollwave-agent run` does at start) instead of
 * leaving an unverified release live until the next start. Commands that
 * come meanwhile are refused as busy. */
static void
recovery_start(struct daemon *d, const char *app)
{
	struct rw_err err = {{0}};
	struct app_config cfg;
	struct job *job;
	struct worker_request req = {.op = WORKER_RECOVER, .app = app};
	int r;

	job = job_new(app, WORKER_RECOVER);
	if (!job)
		return;
	r = app_config_load(d->cfg, app, &cfg, &err);
	if (r >= 0) {
		app_config_done(&cfg);
		r = job_start(d, job, &req, &err);
	}
	if (r < 0) {
		log_struct(LOG_ERR, MSGID_RECOVERY, app, NULL,
		        "cannot recover now: %s; the next start of the agent recovers", err.msg);
		job_free(job);
		return;
	}
	log_struct(LOG_WARNING, MSGID_RECOVERY, app, NULL,
	        "the worker process died mid-operation: recovering %s", app);
	d->job = job;
	d->worker_running = true;
}

/* The worker process is gone; code and status as in siginfo_t. */
static void
job_done(struct daemon *d, int code, int status)
{
	struct job *job = d->job;
	char app[APP_NAME_MAX + 1];
	bool recover;

	d->job = NULL;
	d->worker_running = false;
	if (job->reader.bad)
		cmdlog(LOG_WARNING, NULL, job->app, NULL, NULL,
		        "%u line(s) from the worker process did not parse", job->reader.bad);
	if (job->op == WORKER_RECOVER)
		recovery_done(job, code, status);
	else
		command_done(d, job, code, status);
	/* A preflight changes nothing: there is nothing to recover after it. */
	recover = job->op != WORKER_RECOVER && job->op != WORKER_PREFLIGHT && !job->have_result;
	strcpy(app, job->app);
	job_free(job);
	if (d->stopping) {
		log_info("operation finished; stopping");
		sd_event_exit(d->event, 0);
		return;
	}
	if (recover)
		recovery_start(d, app);
	exchange_pump(d);
}

/* A line from the worker: a phase starts (a progress report for a
 * command), hook output or an absent hook (kept for the final report), or
 * the result (kept for job_done). */
static void
on_worker_line(void *userdata, const struct worker_line *l)
{
	struct daemon *d = userdata;
	struct job *job = d->job;
	struct cmdlog_ids ids = job_log_ids(d, job->command_id);
	struct outgoing *o;

	switch (l->kind) {
	case WORKER_LINE_RESULT:
		job->result = *l;
		job->have_result = true;
		return;
	case WORKER_LINE_OUTPUT:
		job_append_output(job, l->data, l->data_len);
		return;
	case WORKER_LINE_ABSENT:
		job->hook_absent = true;
		return;
	case WORKER_LINE_PHASE:
		break;
	}
	job->last_phase = l->phase;
	if (job->op == WORKER_RECOVER) {
		log_struct(LOG_INFO, MSGID_RECOVERY, job->app, l->version[0] ? l->version : NULL,
		        "recovery: %s", l->name);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (o) {
		o->command_id = job->command_id;
		strcpy(o->app, job->app);
		report_version(d, job, l->version, o->version);
		o->phase = l->phase;
		o->elapsed_ms = (now_monotonic_usec() - job->start_usec) / USEC_PER_MSEC;
		outbox_push(d, o);
	}
	cmdlog(LOG_INFO, NULL, job->app, l->version[0] ? l->version : NULL, &ids,
	        "command %" PRIu64 ": %s", job->command_id, l->name);
}

/* Reads what the worker wrote; at end of file (or a broken pipe) stops
 * watching it: its exit is what ends the job. */
static void
job_read_output(struct daemon *d, struct job *job)
{
	int r;

	if (job->fd < 0)
		return;
	r = worker_read(job->fd, &job->reader, on_worker_line, d);
	if (r == 0)
		return;
	if (r < 0)
		log_warning("cannot read from the worker process: %s", strerror(-r));
	job->output_src = sd_event_source_disable_unref(job->output_src);
	close(job->fd);
	job->fd = -1;
}

static int
on_worker_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)fd;
	(void)revents;
	if (d->job) {
		job_read_output(d, d->job);
		exchange_pump(d);
	}
	return 0;
}

static int
on_worker_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	if (!d->job)
		return 0;
	/* Whatever it wrote before it exited is in the pipe. A grandchild
	 * (a hook left running) may hold the pipe open: do not wait for end
	 * of file, take what is there. */
	job_read_output(d, d->job);
	job_done(d, si->si_code, si->si_status);
	return 0;
}

/* Starts the worker process for job and watches it. */
int
job_start(struct daemon *d, struct job *job, const struct worker_request *req, struct rw_err *err)
{
	int r;

	r = worker_spawn(d->opts->agent_path, d->opts->config_path, req, &job->pid, &job->fd,
	        &job->cancel_fd, err);
	if (r < 0)
		return r;
	r = sd_event_add_child(d->event, &job->child_src, job->pid, WEXITED, on_worker_exit, d);
	if (r >= 0)
		r = sd_event_add_io(
		        d->event, &job->output_src, job->fd, EPOLLIN, on_worker_output, d);
	if (r < 0) {
		/* Not watched, it must not run: its result would be lost. */
		(void)kill(job->pid, SIGKILL);
		(void)waitpid(job->pid, NULL, 0);
		return rw_err_set(err, r, "cannot watch the worker process: %s", strerror(-r));
	}
	return 0;
}
