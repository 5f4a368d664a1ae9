/*
 * admin_format_history: the deployments of an app (rollwave history, status
 * without an ID) as a table, and what a piped `rollwave watch` prints: only
 * the lines that changed since its last look.
 */
#include "admin_format.h"
#include "admin_format_private.h"
#include "wire.h"

int
admin_format_history_table(const Rollwave__DeploymentList *l, bool active_only, FILE *out)
{
	static const char *const header[] = {"ID", "STARTED", "FINISHED", "APP", "VERSION",
	        "STRATEGY", "STATE", "ACTOR", "REASON"};
	struct admin_format_table t = {.ncols = ELEMENTSOF(header)};
	int r;

	r = admin_format_table_add(&t, header);
	for (size_t i = 0; r >= 0 && i < l->n_deployments; i++) {
		const Rollwave__DeploymentStatus *d = l->deployments[i];
		_cleanup_free_ char *reason = NULL;
		char id[24], started[TS_SIZE] = "-", finished[TS_SIZE] = "-";

		if (active_only && admin_deployment_is_final(d->state))
			continue;
		reason = admin_format_one_line(d->reason);
		if (!reason) {
			r = -ENOMEM;
			break;
		}
		strbuf_printf(id, sizeof(id), "%llu", (unsigned long long)d->deployment_id);
		if (d->created_ms)
			admin_format_timestamp(d->created_ms, started);
		if (d->finished_ms)
			admin_format_timestamp(d->finished_ms, finished);
		r = admin_format_table_add(&t,
		        (const char *const[]) {id, started, finished, d->app,
		                admin_format_or(d->version, "previous"), d->strategy, d->state,
		                admin_format_or(d->actor, "-"), admin_format_or(reason, "-")});
	}
	if (r >= 0)
		r = admin_format_table_print(&t, "", out);
	admin_format_table_done(&t);
	return r;
}

/* ---- watch, piped ---- */

void
admin_watch_seen_done(struct admin_watch_seen *seen)
{
	free(seen->deployment);
	for (size_t i = 0; i < seen->n_hosts; i++)
		free(seen->hosts[i]);
	free(seen->hosts);
	*seen = (struct admin_watch_seen) {0};
}

/* Replaces *slot with line and returns true if it differs; false when the
 * same (or out of memory: then the line is printed again next time). */
static bool
seen_changed(char **slot, const char *line)
{
	char *copy;

	if (*slot && streq(*slot, line))
		return false;
	copy = strdup(line);
	if (!copy)
		return true;
	free(*slot);
	*slot = copy;
	return true;
}

int
admin_format_watch_changes(
        const Rollwave__DeploymentStatus *st, struct admin_watch_seen *seen, FILE *out)
{
	size_t n = 0, k = 0;
	char line[1024];

	strbuf_printf(line, sizeof(line), "deployment %llu: %s, wave %u/%zu '%s': %s",
	        (unsigned long long)st->deployment_id, st->state, st->wave + 1, st->n_waves,
	        st->wave < st->n_waves ? st->waves[st->wave]->name : "?", st->step);
	if (seen_changed(&seen->deployment, line))
		fprintf(out, "%s\n", line);
	for (size_t i = 0; i < st->n_waves; i++)
		n += st->waves[i]->n_hosts;
	for (size_t i = 0; i < st->n_rollback; i++)
		n += st->rollback[i]->n_hosts;
	if (n > seen->n_hosts) {
		char **h = reallocarray(seen->hosts, n, sizeof(*h));

		if (!h)
			return -ENOMEM;
		for (size_t i = seen->n_hosts; i < n; i++)
			h[i] = NULL;
		seen->hosts = h;
		seen->n_hosts = n;
	}
	for (int pass = 0; pass < 2; pass++) {
		Rollwave__DeploymentStatus__Wave *const *w = pass ? st->rollback : st->waves;
		size_t nw = pass ? st->n_rollback : st->n_waves;

		for (size_t i = 0; i < nw; i++)
			for (size_t j = 0; j < w[i]->n_hosts; j++, k++) {
				const Rollwave__DeploymentStatus__Host *h = w[i]->hosts[j];
				_cleanup_free_ char *error = NULL;
				char name[WIRE_HOSTNAME_MAX + 32], hl[2048];

				if (isempty(h->task))
					continue;
				error = admin_format_one_line(h->error);
				if (!error)
					return -ENOMEM;
				if (isempty(h->hostname))
					strbuf_printf(name, sizeof(name), "host %llu",
					        (unsigned long long)h->host_id);
				else
					strbuf_printf(name, sizeof(name), "%s", h->hostname);
				strbuf_printf(hl, sizeof(hl), "%swave %zu '%s' %s: %s%s%s",
				        pass ? "rollback " : "", i + 1, w[i]->name, name,
				        admin_format_wave_host_status(h), error[0] ? ": " : "",
				        error);
				if (seen_changed(&seen->hosts[k], hl))
					fprintf(out, "%s\n", hl);
			}
	}
	return ferror(out) ? -EIO : 0;
}
