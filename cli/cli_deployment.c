/*
 * cli_deployment: following a deployment sent with --hosts
 * (cli_deployment.h). Each look is compared with the last one per host
 * (struct seen), so a line is printed only when a host's state, phase,
 * finality or error changes. The hostnames come from one ListHosts after
 * the request was taken; the same answer says which hosts are down, and
 * the CLI says so at once rather than waiting silently for them.
 */
#include <jansson.h>

#include "admin.h"
#include "admin_format.h"
#include "cli.h"
#include "cli_deployment.h"
#include "log.h"
#include "wire.h"

#define DOWN_LISTED_MAX 10 /* down hosts named in the warning; then "N more" */

/* Where each host's task was at the last look, sorted by host id. */
struct seen {
	uint64_t host_id;
	char state[65]; /* <= 64 bytes of [a-z_] */
	Rollwave__Phase phase;
	bool final;
	bool error;
};

static int
seen_compare(const void *a, const void *b)
{
	uint64_t x = ((const struct seen *)a)->host_id, y = ((const struct seen *)b)->host_id;

	return (x > y) - (x < y);
}

/* Records h in seen; true if it differs from what was seen before. */
static bool
seen_update(struct seen *seen, size_t n, const Rollwave__DeployResult__HostResult *h)
{
	struct seen key = {.host_id = h->host_id};
	struct seen *s = bsearch(&key, seen, n, sizeof(*seen), seen_compare);
	bool changed;

	if (!s)
		return false; /* not a host of this deployment: ignored */
	changed = !streq(s->state, h->state) || s->phase != h->phase || s->final != h->final ||
	        s->error != !isempty(h->error);
	strbuf_printf(s->state, sizeof(s->state), "%s", h->state);
	s->phase = h->phase;
	s->final = h->final;
	s->error = !isempty(h->error);
	return changed;
}

/* What to compare each later look with: the hosts asked for, as res has
 * them. NULL when out of memory. */
static struct seen *
seen_new(const struct cli_deployment *d, const Rollwave__DeployResult *res)
{
	struct seen *seen = calloc(d->n_host_ids, sizeof(*seen));

	if (!seen)
		return NULL;
	for (size_t i = 0; i < d->n_host_ids; i++)
		seen[i].host_id = d->host_ids[i];
	qsort(seen, d->n_host_ids, sizeof(*seen), seen_compare);
	for (size_t i = 0; i < res->n_hosts; i++)
		(void)seen_update(seen, d->n_host_ids, res->hosts[i]);
	return seen;
}

/* The hosts, for their names and states: best effort, sorted by id (pages
 * come in id order); an empty list when the coordinator does not say. */
static void
hosts_fetch(const struct admin_target *t, struct host_pages *ret)
{
	struct rw_err err = {""};

	if (admin_list_hosts(t, NULL, false, ret, &err) < 0) {
		log_debug("cannot read the hosts: %s", err.msg);
		*ret = (struct host_pages) {0};
		rollwave__host_list__init(&ret->list);
	}
}

static bool
transient_error(int r)
{
	return r == -ECONNREFUSED || r == -ENOENT || r == -ETIMEDOUT || r == -ECONNRESET ||
	        r == -ECONNABORTED;
}

/* "30m", "90s", "2h": a --timeout as people write it. */
static void
timeout_text(uint64_t usec, char *buf, size_t size)
{
	uint64_t s = (usec + USEC_PER_SEC - 1) / USEC_PER_SEC;

	if (s && s % 3600 == 0)
		strbuf_printf(buf, size, "%lluh", (unsigned long long)(s / 3600));
	else if (s && s % 60 == 0)
		strbuf_printf(buf, size, "%llum", (unsigned long long)(s / 60));
	else
		strbuf_printf(buf, size, "%llus", (unsigned long long)s);
}

/* Says at once which hosts of d are down: their commands wait in the
 * coordinator until the hosts are back, and following ends at --timeout. */
static void
warn_down(const struct cli_deployment *d, const Rollwave__HostList *hosts)
{
	char list[DOWN_LISTED_MAX * (WIRE_HOSTNAME_MAX + 32) + 64], timeout[32];
	size_t n;

	n = admin_format_down_hosts(
	        hosts, d->host_ids, d->n_host_ids, DOWN_LISTED_MAX, list, sizeof(list));
	if (n == 0)
		return;
	timeout_text(d->timeout_usec, timeout, sizeof(timeout));
	if (n == 1)
		log_warning("%s is down: its command waits in the coordinator until the host "
		            "is back; rollwave stops waiting after --timeout (%s)",
		        list, timeout);
	else
		log_warning("%zu of %zu hosts are down: %s; their commands wait in the "
		            "coordinator until they are back; rollwave stops waiting after "
		            "--timeout (%s)",
		        n, d->n_host_ids, list, timeout);
}

/* The first lines: the deployment id, each host's command id. */
static void
print_accepted(const struct cli_deployment *d, const Rollwave__DeployResult *res,
        const Rollwave__HostList *names)
{
	printf("Deployment %llu: %s %s%s%s on %zu host%s\n", (unsigned long long)res->deployment_id,
	        d->verb->name, d->app, isempty(d->version) ? "" : " ",
	        isempty(d->version) ? "" : d->version, d->n_host_ids,
	        d->n_host_ids == 1 ? "" : "s");
	for (size_t i = 0; i < res->n_hosts; i++) {
		const Rollwave__DeployResult__HostResult *h = res->hosts[i];
		const char *name = admin_format_host_name(names, h->host_id);

		printf("host %llu%s%s%s: ", (unsigned long long)h->host_id, name ? " (" : "",
		        name ? name : "", name ? ")" : "");
		if (h->accepted || h->command_id)
			printf("command %llu\n", (unsigned long long)h->command_id);
		else
			printf("not accepted%s%s\n", isempty(h->reason) ? "" : ": ", h->reason);
	}
	fflush(stdout);
}

/* What following needs between two looks. */
struct follow {
	const struct cli_deployment *d;
	const struct admin_target *t;
	const Rollwave__HostList *names;
	struct seen *seen;
	uint64_t deadline; /* monotonic usec */
};

/* Polls until every host of *reply is final or the deadline passes
 * (*ret_timed_out), replacing *reply with each newer answer. Returns -1
 * to go on, or an exit code. */
static int
follow_hosts(const struct follow *f, Rollwave__Envelope **reply, bool *ret_timed_out)
{
	Rollwave__AdminRequest poll = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__GetDeployment get = ROLLWAVE__ADMIN_REQUEST__GET_DEPLOYMENT__INIT;
	const Rollwave__DeployResult *res = (*reply)->admin_response->deploy_result;
	struct rw_err err = {""};
	bool warned = false;

	get.deployment_id = res->deployment_id;
	poll.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT;
	poll.get_deployment = &get;
	*ret_timed_out = false;
	while (!admin_deploy_all_final(res, f->d->n_host_ids)) {
		Rollwave__Envelope *next = NULL;
		uint64_t now = now_monotonic_usec(), left_ms;
		int r;

		if (now >= f->deadline) {
			*ret_timed_out = true;
			break;
		}
		left_ms = (f->deadline - now) / USEC_PER_MSEC + 1;
		cli_sleep_ms(left_ms < CLI_DEPLOY_POLL_MS ? left_ms : CLI_DEPLOY_POLL_MS);
		r = admin_call(
		        f->t, &poll, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT, &next, &err);
		if (r < 0 && transient_error(r)) {
			/* The coordinator restarts, or is slow: the tasks go on. */
			if (!warned)
				log_warning("%s; trying again", err.msg);
			warned = true;
			continue;
		}
		if (r < 0) {
			log_error("deployment %llu: %s", (unsigned long long)get.deployment_id,
			        err.msg);
			return CLI_EXIT_FAILURE;
		}
		warned = false;
		wire_free(*reply);
		*reply = next;
		res = next->admin_response->deploy_result;
		for (size_t i = 0; i < res->n_hosts; i++)
			if (seen_update(f->seen, f->d->n_host_ids, res->hosts[i]) && !f->d->json)
				(void)admin_format_deploy_progress(res->hosts[i], f->names, stdout);
		fflush(stdout);
	}
	return -1;
}

/* The end: a summary and a table, or the JSON document. */
static int
print_end(const struct cli_deployment *d, const Rollwave__DeployResult *res,
        const Rollwave__HostList *names, bool timed_out)
{
	bool succeeded = !timed_out && admin_deploy_succeeded(res, d->n_host_ids);
	int r;

	if (d->json) {
		r = cli_json_print(admin_format_deploy_json(res, d->app, d->version, succeeded));
		return r != CLI_EXIT_OK ? r : succeeded ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
	}
	r = admin_format_deploy_summary(res, d->n_host_ids, timed_out, stdout);
	if (r >= 0)
		r = admin_format_deploy_table(res, names, stdout);
	if (r < 0 || fflush(stdout) == EOF) {
		log_error("cannot print the deployment: %s", strerror(r < 0 ? -r : errno));
		return CLI_EXIT_FAILURE;
	}
	if (timed_out)
		log_error("deployment %llu: not finished after --timeout; its tasks go on",
		        (unsigned long long)res->deployment_id);
	return succeeded ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int
cli_deployment_run(const struct cli_deployment *d, const Rollwave__AdminRequest *req)
{
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	_cleanup_(host_pages_done) struct host_pages hosts = {0};
	_cleanup_free_ struct seen *seen = NULL;
	const Rollwave__DeployResult *res;
	struct admin_target t;
	struct rw_err err = {""};
	struct follow f = {.d = d, .t = &t};
	bool timed_out;
	int r;

	if (cli_admin_target(&t, &err) < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_USAGE;
	}
	f.deadline = now_monotonic_usec() + d->timeout_usec;
	r = admin_call(&t, req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT, &reply, &err);
	if (r < 0) {
		if (r == -EREMOTEIO)
			log_error("%s refused: %s", d->verb->name, err.msg);
		else
			log_error("%s", err.msg);
		return CLI_EXIT_FAILURE;
	}
	res = reply->admin_response->deploy_result;
	if (res->deployment_id == 0) {
		log_error("the coordinator answered without a deployment id");
		return CLI_EXIT_FAILURE;
	}
	if (res->n_hosts != d->n_host_ids)
		log_warning("the coordinator answered for %zu hosts, %zu were asked for",
		        res->n_hosts, d->n_host_ids);
	f.seen = seen = seen_new(d, res);
	if (!seen) {
		log_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	hosts_fetch(&t, &hosts);
	f.names = &hosts.list;
	if (!d->json)
		print_accepted(d, res, f.names);
	warn_down(d, f.names);
	r = follow_hosts(&f, &reply, &timed_out);
	if (r >= 0)
		return r;
	return print_end(d, reply->admin_response->deploy_result, f.names, timed_out);
}

int
cli_deployment_options(const struct cli_verb *verb, const char *hosts, const char *timeout,
        struct cli_deployment *d)
{
	struct rw_err err = {""};

	if (!hosts)
		return cli_usage_error(verb, "%s needs --hosts ID,...", verb->name);
	if (admin_host_ids_parse(hosts, &d->host_ids, &d->n_host_ids, &err) < 0)
		return cli_usage_error(verb, "invalid --hosts: %s", err.msg);
	d->timeout_usec = CLI_DEPLOY_TIMEOUT_USEC;
	if (timeout && (parse_duration_usec(timeout, &d->timeout_usec) < 0 || d->timeout_usec == 0))
		return cli_usage_error(verb, "invalid --timeout '%s' (e.g. 90s, 30m, 2h)", timeout);
	return -1;
}
