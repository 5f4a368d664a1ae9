/*
 * admin_format_deploy: a deployment sent with --hosts (rollwave deploy
 * --hosts, rollwave rollback --hosts): the --hosts list, progress lines, the
 * hosts that are down, the summary, the table and the JSON document.
 */
#include "admin.h"
#include "admin_format.h"
#include "admin_format_private.h"
#include "wire.h"

const char *
admin_format_phase(Rollwave__Phase p)
{
	switch (p) {
	case ROLLWAVE__PHASE__PHASE_FETCHING:
		return "fetching";
	case ROLLWAVE__PHASE__PHASE_VERIFYING:
		return "verifying";
	case ROLLWAVE__PHASE__PHASE_UNPACKING:
		return "unpacking";
	case ROLLWAVE__PHASE__PHASE_ACTIVATING:
		return "activating";
	case ROLLWAVE__PHASE__PHASE_RESTARTING:
		return "restarting";
	case ROLLWAVE__PHASE__PHASE_HEALTH:
		return "health";
	case ROLLWAVE__PHASE__PHASE_COMMITTED:
		return "committed";
	case ROLLWAVE__PHASE__PHASE_ROLLED_BACK:
		return "rolled_back";
	case ROLLWAVE__PHASE__PHASE_FAILED:
		return "failed";
	default:
		return NULL;
	}
}

static int
u64_compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int
admin_host_ids_parse(const char *s, uint64_t **ret_ids, size_t *ret_n, struct rw_err *err)
{
	_cleanup_free_ uint64_t *ids = NULL, *sorted = NULL;
	size_t n = 0, cap = 0;
	const char *p = s;

	if (isempty(s))
		return rw_err_set(err, -EINVAL, "no host ids");
	for (;;) {
		const char *end = strchrnul(p, ',');
		char item[32];
		uint64_t id;

		if (end == p)
			return rw_err_set(err, -EINVAL, "empty item in host list '%s'", s);
		if ((size_t)(end - p) >= sizeof(item) ||
		        xsnprintf(item, sizeof(item), "%.*s", (int)(end - p), p) < 0 ||
		        admin_host_id_parse(item, &id) < 0)
			return rw_err_set(err, -EINVAL,
			        "invalid host id '%.*s' (a positive integer)",
			        (int)((end - p) > 64 ? 64 : (end - p)), p);
		if (n == WIRE_HOSTS_MAX)
			return rw_err_set(err, -EINVAL, "more than %d hosts in one deployment",
			        WIRE_HOSTS_MAX);
		if (n == cap) {
			size_t c = cap ? 2 * cap : 16;
			uint64_t *v = reallocarray(ids, c, sizeof(*v));

			if (!v)
				return rw_err_set(err, -ENOMEM, "out of memory");
			ids = v;
			cap = c;
		}
		ids[n++] = id;
		if (!*end)
			break;
		p = end + 1;
	}
	sorted = reallocarray(NULL, n, sizeof(*sorted));
	if (!sorted)
		return rw_err_set(err, -ENOMEM, "out of memory");
	memcpy(sorted, ids, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), u64_compare);
	for (size_t i = 1; i < n; i++)
		if (sorted[i] == sorted[i - 1])
			return rw_err_set(err, -EINVAL, "host %llu listed twice",
			        (unsigned long long)sorted[i]);
	*ret_ids = TAKE_PTR(ids);
	*ret_n = n;
	return 0;
}

const char *
admin_format_task_status(const Rollwave__DeployResult__HostResult *h)
{
	const char *phase = admin_format_phase(h->phase);

	if (h->final || !phase)
		return admin_format_or(h->state, "unknown");
	return phase;
}

size_t
admin_format_down_hosts(const Rollwave__HostList *hosts, const uint64_t *ids, size_t n,
        size_t max_listed, char *buf, size_t size)
{
	size_t down = 0, len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		const Rollwave__HostInfo *h = admin_format_host_find(hosts, ids[i]);
		char host[WIRE_HOSTNAME_MAX + 32];

		if (!h || h->state != ROLLWAVE__HOST_STATE__HOST_STATE_DOWN)
			continue;
		if (++down > max_listed)
			continue;
		admin_format_host_label(ids[i], hosts, host, sizeof(host));
		len += (size_t)snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
		        "%shost %s", down > 1 ? ", " : "", host);
	}
	if (down > max_listed)
		len += (size_t)snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
		        " and %zu more", down - max_listed);
	if (len >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return down;
}

int
admin_format_deploy_progress(
        const Rollwave__DeployResult__HostResult *h, const Rollwave__HostList *names, FILE *out)
{
	_cleanup_free_ char *error = admin_format_one_line(h->error);
	char host[WIRE_HOSTNAME_MAX + 32];

	if (!error)
		return -ENOMEM;
	admin_format_host_label(h->host_id, names, host, sizeof(host));
	fprintf(out, "host %s: %s%s%s\n", host, admin_format_task_status(h),
	        isempty(error) ? "" : ": ", error);
	return ferror(out) ? -EIO : 0;
}

bool
admin_deploy_all_final(const Rollwave__DeployResult *r, size_t expected)
{
	if (r->n_hosts != expected)
		return false;
	for (size_t i = 0; i < r->n_hosts; i++)
		if (!r->hosts[i]->final)
			return false;
	return true;
}

bool
admin_deploy_succeeded(const Rollwave__DeployResult *r, size_t expected)
{
	if (r->n_hosts != expected || expected == 0)
		return false;
	for (size_t i = 0; i < r->n_hosts; i++)
		if (!r->hosts[i]->final || !streq(r->hosts[i]->state, "committed"))
			return false;
	return true;
}

int
admin_format_deploy_summary(
        const Rollwave__DeployResult *r, size_t expected, bool timed_out, FILE *out)
{
	/* Other states in order of first appearance, with their counts. */
	const char *states[16];
	size_t counts[16], nstates = 0, committed = 0, other = 0;

	for (size_t i = 0; i < r->n_hosts; i++) {
		const Rollwave__DeployResult__HostResult *h = r->hosts[i];
		const char *st = admin_format_or(h->state, "unknown");
		size_t j;

		if (h->final && streq(st, "committed")) {
			committed++;
			continue;
		}
		for (j = 0; j < nstates; j++)
			if (streq(states[j], st))
				break;
		if (j == nstates) {
			if (nstates == ELEMENTSOF(states)) {
				other++;
				continue;
			}
			states[nstates] = st;
			counts[nstates++] = 0;
		}
		counts[j]++;
	}
	fprintf(out, "Deployment %llu: %zu of %zu host%s committed",
	        (unsigned long long)r->deployment_id, committed, expected,
	        expected == 1 ? "" : "s");
	for (size_t j = 0; j < nstates; j++)
		fprintf(out, "%s%zu %s", j ? ", " : "; ", counts[j], states[j]);
	if (other)
		fprintf(out, ", %zu other", other);
	if (r->n_hosts < expected)
		fprintf(out, "; %zu not reported", expected - r->n_hosts);
	fputs(timed_out ? "; timed out.\n" : ".\n", out);
	return ferror(out) ? -EIO : 0;
}

int
admin_format_deploy_table(
        const Rollwave__DeployResult *r, const Rollwave__HostList *names, FILE *out)
{
	static const char *const header[] = {"HOST", "STATE", "ERROR"};
	struct admin_format_table t = {.ncols = ELEMENTSOF(header)};
	int r2;

	r2 = admin_format_table_add(&t, header);
	for (size_t i = 0; r2 >= 0 && i < r->n_hosts; i++) {
		const Rollwave__DeployResult__HostResult *h = r->hosts[i];
		_cleanup_free_ char *error = admin_format_one_line(h->error);
		char host[WIRE_HOSTNAME_MAX + 32];

		if (!error) {
			r2 = -ENOMEM;
			break;
		}
		admin_format_host_label(h->host_id, names, host, sizeof(host));
		r2 = admin_format_table_add(&t,
		        (const char *const[]) {host, admin_format_or(h->state, "unknown"),
		                admin_format_or(error, "-")});
	}
	if (r2 >= 0)
		r2 = admin_format_table_print(&t, "", out);
	admin_format_table_done(&t);
	return r2;
}

static json_t *
host_result_json(const Rollwave__DeployResult__HostResult *h)
{
	const char *phase = admin_format_phase(h->phase);

	return json_pack("{s:I, s:I, s:s, s:o, s:o}", "host_id", (json_int_t)h->host_id,
	        "command_id", (json_int_t)h->command_id, "state",
	        admin_format_or(h->state, "unknown"), "phase",
	        phase ? json_string(phase) : json_null(), "error",
	        admin_format_json_text(h->error));
}

json_t *
admin_format_deploy_json(
        const Rollwave__DeployResult *r, const char *app, const char *version, bool succeeded)
{
	return json_pack("{s:I, s:s, s:o, s:o, s:b}", "deployment_id", (json_int_t)r->deployment_id,
	        "app", app, "version", admin_format_json_text(version), "hosts",
	        JSON_ARRAY_OF(r->hosts, r->n_hosts, host_result_json), "succeeded", succeeded);
}
