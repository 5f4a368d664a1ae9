/*
 * rollwave deploy APP VERSION --manifest URL --hosts ID,...: one deploy task
 * for each of those hosts at once, followed to the end.
 *
 *   Deploy{app, version, manifest_url, host_ids} -> DeployResult (queued)
 *   then every CLI_DEPLOY_POLL_MS: GetDeployment{id} -> DeployResult
 *   until every host is final or --timeout passes.
 *
 * cli_deployment_run() is the part `rollwave rollback` shares: send the
 * request, print the deployment id and each host's command id, print a line
 * whenever a host's state or phase changes, and end with a summary and a
 * table (or one JSON document). Exit 0 only if every host committed.
 */
#include <getopt.h>
#include <jansson.h>
#include <time.h>

#include "admin.h"
#include "admin_format.h"
#include "cli.h"
#include "log.h"
#include "version.h"
#include "wire.h"

#define CLI_DEPLOY_POLL_MS 500

static const char deploy_usage[] =
        "Usage: rollwave [--coordinator URL] deploy APP VERSION --manifest URL --hosts ID,...\n"
        "                [--timeout DURATION] [--json]\n"
        "\n"
        "Sends each listed host a signed task to deploy VERSION of APP from the\n"
        "release manifest at URL, all at once, and follows them until every host has\n"
        "finished: a line whenever a host's state or phase changes, then a summary\n"
        "and a table of each host's result. The coordinator refuses the whole\n"
        "deployment if one host is unknown, pending or revoked.\n"
        "\n"
        "  --manifest URL       the signed manifest as the hosts fetch it (file://,\n"
        "                       http://, https://); its .minisig next to it\n"
        "  --hosts ID,...       host ids as `rollwave hosts` shows them (at most 10000)\n"
        "  --timeout DURATION   stop following after DURATION (default 30m; the tasks\n"
        "                       go on)\n"
        "  --json               print one JSON document at the end (fields in README.md)\n"
        "\n"
        "Exit status: 0 every host committed; 1 refused, a host failed or rolled\n"
        "back, or the timeout passed; 2 bad command line.\n";

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

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The hostnames, for "host 3 (web1)": best effort, sorted by id (pages come
 * in id order); an empty list when the coordinator does not say. */
static void
host_names_fetch(const struct admin_target *t, struct host_pages *ret)
{
	struct rw_err err = {""};

	if (admin_list_hosts(t, NULL, false, ret, &err) < 0) {
		log_debug("cannot read the hostnames: %s", err.msg);
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

int
cli_deployment_run(const struct cli_deployment *d, const Rollwave__AdminRequest *req)
{
	Rollwave__AdminRequest poll = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__GetDeployment get = ROLLWAVE__ADMIN_REQUEST__GET_DEPLOYMENT__INIT;
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	_cleanup_(host_pages_done) struct host_pages names_pages = {0};
	_cleanup_free_ struct seen *seen = NULL;
	const Rollwave__HostList *names = NULL;
	const Rollwave__DeployResult *res;
	struct admin_target t;
	struct rw_err err = {""};
	uint64_t deadline;
	bool timed_out = false, warned = false, succeeded;
	int r;

	r = cli_admin_target(&t, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_USAGE;
	}
	deadline = now_monotonic_usec() + d->timeout_usec;
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

	/* What to compare each later look with: the hosts asked for. */
	seen = calloc(d->n_host_ids, sizeof(*seen));
	if (!seen) {
		log_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	for (size_t i = 0; i < d->n_host_ids; i++)
		seen[i].host_id = d->host_ids[i];
	qsort(seen, d->n_host_ids, sizeof(*seen), seen_compare);
	for (size_t i = 0; i < res->n_hosts; i++)
		(void)seen_update(seen, d->n_host_ids, res->hosts[i]);

	host_names_fetch(&t, &names_pages);
	names = &names_pages.list;

	if (!d->json) {
		printf("Deployment %llu: %s %s%s%s on %zu host%s\n",
		        (unsigned long long)res->deployment_id, d->verb->name, d->app,
		        isempty(d->version) ? "" : " ", isempty(d->version) ? "" : d->version,
		        d->n_host_ids, d->n_host_ids == 1 ? "" : "s");
		for (size_t i = 0; i < res->n_hosts; i++) {
			const Rollwave__DeployResult__HostResult *h = res->hosts[i];
			const char *name = admin_format_host_name(names, h->host_id);

			printf("host %llu%s%s%s: ", (unsigned long long)h->host_id,
			        name ? " (" : "", name ? name : "", name ? ")" : "");
			if (h->accepted || h->command_id)
				printf("command %llu\n", (unsigned long long)h->command_id);
			else
				printf("not accepted%s%s\n", isempty(h->reason) ? "" : ": ",
				        h->reason);
		}
		fflush(stdout);
	}

	get.deployment_id = res->deployment_id;
	poll.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_DEPLOYMENT;
	poll.get_deployment = &get;
	while (!admin_deploy_all_final(res, d->n_host_ids)) {
		Rollwave__Envelope *next = NULL;
		uint64_t now = now_monotonic_usec(), left_ms;

		if (now >= deadline) {
			timed_out = true;
			break;
		}
		left_ms = (deadline - now) / USEC_PER_MSEC + 1;
		sleep_ms(left_ms < CLI_DEPLOY_POLL_MS ? left_ms : CLI_DEPLOY_POLL_MS);
		r = admin_call(
		        &t, &poll, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT, &next, &err);
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
		wire_free(reply);
		reply = next;
		res = reply->admin_response->deploy_result;
		for (size_t i = 0; i < res->n_hosts; i++)
			if (seen_update(seen, d->n_host_ids, res->hosts[i]) && !d->json)
				(void)admin_format_deploy_progress(res->hosts[i], names, stdout);
		fflush(stdout);
	}

	succeeded = !timed_out && admin_deploy_succeeded(res, d->n_host_ids);
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
		        (unsigned long long)get.deployment_id);
	return succeeded ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
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

static int
deploy_run(int argc, char **argv)
{
	static const struct option options[] = {
	        {"manifest", required_argument, NULL, 'm'},
	        {"hosts", required_argument, NULL, 'H'},
	        {"timeout", required_argument, NULL, 't'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__Deploy deploy = ROLLWAVE__ADMIN_REQUEST__DEPLOY__INIT;
	const char *manifest = NULL, *hosts = NULL, *timeout = NULL;
	struct cli_deployment d = {.verb = &cmd_deploy_entry};
	int c, r;

	/* Without --hosts: a deployment through waves (cmd_waves.c). */
	for (c = 1; c < argc && !hosts; c++)
		if (streq(argv[c], "--hosts") || strncmp(argv[c], "--hosts=", 8) == 0)
			hosts = argv[c];
	if (!hosts)
		return cli_waves_deploy(argc, argv);
	hosts = NULL;
	optind = 0;
	while ((c = getopt_long(argc, argv, "m:H:t:jh", options, NULL)) != -1) {
		switch (c) {
		case 'm':
			manifest = optarg;
			break;
		case 'H':
			hosts = optarg;
			break;
		case 't':
			timeout = optarg;
			break;
		case 'j':
			d.json = true;
			break;
		case 'h':
			fputs(deploy_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error(&cmd_deploy_entry, "deploy: bad option");
		}
	}
	if (argc - optind < 2)
		return cli_usage_error(&cmd_deploy_entry, "deploy needs APP and VERSION");
	if (argc - optind > 2)
		return cli_usage_error(
		        &cmd_deploy_entry, "deploy: unexpected argument '%s'", argv[optind + 2]);
	d.app = argv[optind];
	d.version = argv[optind + 1];
	if (!app_name_is_valid(d.app))
		return cli_usage_error(&cmd_deploy_entry,
		        "invalid app name '%s' (1-64 of a-z, 0-9, '_', '-')", d.app);
	if (!version_is_valid(d.version))
		return cli_usage_error(&cmd_deploy_entry,
		        "invalid version '%s' (1-64 of A-Z, a-z, 0-9, '.', '_', '+', '~', '-')",
		        d.version);
	if (isempty(manifest))
		return cli_usage_error(&cmd_deploy_entry, "deploy needs --manifest URL");
	r = cli_deployment_options(&cmd_deploy_entry, hosts, timeout, &d);
	if (r >= 0) {
		free(d.host_ids);
		return r;
	}
	deploy.app = (char *)d.app;
	deploy.version = (char *)d.version;
	deploy.manifest_url = (char *)manifest;
	deploy.host_ids = d.host_ids;
	deploy.n_host_ids = d.n_host_ids;
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY;
	req.deploy = &deploy;
	r = cli_deployment_run(&d, &req);
	free(d.host_ids);
	return r;
}

const struct cli_verb cmd_deploy_entry = {
        .name = "deploy",
        .summary = "deploy a release to hosts and follow it to the end",
        .usage = deploy_usage,
        .run = deploy_run,
};
