/*
 * admin_format_waves: a deployment through waves, or a plan (rollwave plan,
 * status ID, watch on a terminal): a header, each wave with its hosts, the
 * rollback's waves, the hook output of failed hosts, then the Gates: section
 * (admin_format_gates.c).
 *
 * On a terminal it must fit the screen, so it is drawn once with every host
 * not done listed, and drawn again with as many fewer as it overflowed by
 * (the only lines that shrink: the rest is a few lines per wave).
 */
#include "admin_format.h"
#include "admin_format_private.h"
#include "wire.h"

#define WAVE_LIST_ALL_MAX 12  /* a wave this small lists every host */
#define HOST_LIST_WIDTH   100 /* host lists wrap here */
#define HOST_INDENT       "       "

bool
admin_deployment_is_final(const char *state)
{
	static const char *const final[] = {"succeeded", "failed", "rolled_back", "aborted"};

	for (size_t i = 0; i < ELEMENTSOF(final); i++)
		if (streq(state, final[i]))
			return true;
	return false;
}

static bool
task_failed(const char *t)
{
	return streq(t, "failed") || streq(t, "rolled_back") || streq(t, "refused") ||
	        streq(t, "cancelled");
}

const char *
admin_format_wave_host_status(const Rollwave__DeploymentStatus__Host *h)
{
	const char *phase = admin_format_phase(h->phase);

	if (isempty(h->task))
		return h->up_to_date ? "up-to-date" : "waiting";
	if (streq(h->task, "committed") || task_failed(h->task) || !phase)
		return h->task;
	return phase;
}

struct wave_counts {
	size_t done, failed, in_flight, waiting;
};

static struct wave_counts
wave_count(const Rollwave__DeploymentStatus__Wave *w)
{
	struct wave_counts c = {0};

	for (size_t j = 0; j < w->n_hosts; j++) {
		const Rollwave__DeploymentStatus__Host *h = w->hosts[j];

		if (streq(h->task, "committed") || (isempty(h->task) && h->up_to_date))
			c.done++;
		else if (task_failed(h->task))
			c.failed++;
		else if (!isempty(h->task))
			c.in_flight++;
		else
			c.waiting++;
	}
	return c;
}

/* "[####xx..............]": done, failed, the rest. */
static void
progress_bar(const struct wave_counts *c, size_t n, char *buf, size_t size)
{
	const size_t width = 20;
	size_t d = n ? c->done * width / n : 0, f = n ? c->failed * width / n : 0;
	size_t k = 0;

	if (size < width + 3)
		return;
	buf[k++] = '[';
	for (size_t i = 0; i < width; i++)
		buf[k++] = i < d ? '#' : i < d + f ? 'x' : '.';
	buf[k++] = ']';
	buf[k] = 0;
}

/* "web1(3)", then "=activating" when it has a task (or is up to date), then
 * "[down]". */
static void
host_item(const Rollwave__DeploymentStatus__Host *h, char *buf, size_t size)
{
	bool task = !isempty(h->task) || h->up_to_date;

	strbuf_printf(buf, size, "%s(%llu)%s%s%s", h->hostname, (unsigned long long)h->host_id,
	        task ? "=" : "", task ? admin_format_wave_host_status(h) : "",
	        h->down ? "[down]" : "");
}

/* "       hosts: web1(1) web2(2)=committed ...", wrapped at HOST_LIST_WIDTH. */
static void
print_host_list(const Rollwave__DeploymentStatus__Wave *w, FILE *out)
{
	static const char lead[] = HOST_INDENT "hosts:";
	size_t col = strlen(lead);

	fputs(lead, out);
	for (size_t j = 0; j < w->n_hosts; j++) {
		char item[WIRE_HOSTNAME_MAX + 64];
		size_t len;

		host_item(w->hosts[j], item, sizeof(item));
		len = admin_format_utf8_width(item);
		if (j > 0 && col + 1 + len > HOST_LIST_WIDTH) {
			fprintf(out, "\n%*s", (int)strlen(lead), "");
			col = strlen(lead);
		}
		fprintf(out, " %s", item);
		col += 1 + len;
	}
	fputc('\n', out);
}

/* A wave too large to list: its hosts in flight or failed, one per line
 * while *budget lasts, then the counts. */
static void
print_hosts_not_done(const Rollwave__DeploymentStatus__Wave *w, const struct wave_counts *c,
        size_t *budget, FILE *out)
{
	size_t hidden = 0;

	for (size_t j = 0; j < w->n_hosts; j++) {
		const Rollwave__DeploymentStatus__Host *h = w->hosts[j];
		_cleanup_free_ char *error = NULL;
		char item[WIRE_HOSTNAME_MAX + 64];

		if (isempty(h->task) || streq(h->task, "committed"))
			continue;
		if (*budget == 0) {
			hidden++;
			continue;
		}
		(*budget)--;
		error = admin_format_one_line(h->error);
		host_item(h, item, sizeof(item));
		fprintf(out, HOST_INDENT "%s%s%s\n", item, isempty(error) ? "" : ": ",
		        error ? error : "");
	}
	fprintf(out, HOST_INDENT "%zu done, %zu in flight, %zu failed, %zu waiting", c->done,
	        c->in_flight, c->failed, c->waiting);
	if (hidden)
		fprintf(out, " (%zu not shown)", hidden);
	fputc('\n', out);
}

static void
print_waves(const char *title, Rollwave__DeploymentStatus__Wave *const *w, size_t n,
        const struct admin_waves_view *v, size_t *budget, FILE *out)
{
	if (!n)
		return;
	fprintf(out, "%s\n", title);
	for (size_t i = 0; i < n; i++) {
		struct wave_counts c = wave_count(w[i]);
		bool all = v->every_host || w[i]->n_hosts <= WAVE_LIST_ALL_MAX;
		char b[32] = "", extra[256] = "";

		if (v->bars)
			progress_bar(&c, w[i]->n_hosts, b, sizeof(b));
		if (w[i]->bake_ms)
			strbuf_printf(
			        extra, sizeof(extra), " bake %gs", (double)w[i]->bake_ms / 1000.0);
		else
			strbuf_printf(extra, sizeof(extra), " no bake");
		if (w[i]->approval)
			strbuf_printf(
			        extra + strlen(extra), sizeof(extra) - strlen(extra), " approval");
		if (w[i]->metric_gates)
			strbuf_printf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			        " metric-gates");
		if (w[i]->command[0])
			strbuf_printf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			        " run: %s", w[i]->command);
		fprintf(out,
		        "  %2zu %-18s %-10s %s%s%zu/%zu done, %zu failed; max %u at once, "
		        "healthy %gs within %gs;%s\n",
		        i + 1, w[i]->name, w[i]->state, b, b[0] ? " " : "", c.done, w[i]->n_hosts,
		        c.failed, w[i]->max_unavailable, (double)w[i]->min_healthy_ms / 1000.0,
		        (double)w[i]->timeout_ms / 1000.0, extra);
		if (all && w[i]->n_hosts)
			print_host_list(w[i], out);
		else if (!all)
			print_hosts_not_done(w[i], &c, budget, out);
		if (w[i]->verdict[0])
			fprintf(out, HOST_INDENT "%s\n", w[i]->verdict);
		/* A large wave showed its errors with its hosts not done. */
		for (size_t j = 0; all && j < w[i]->n_hosts; j++)
			if (w[i]->hosts[j]->error[0]) {
				_cleanup_free_ char *error =
				        admin_format_one_line(w[i]->hosts[j]->error);

				fprintf(out, HOST_INDENT "host %llu (%s): %s\n",
				        (unsigned long long)w[i]->hosts[j]->host_id,
				        w[i]->hosts[j]->hostname, error ? error : "");
			}
	}
}

/* What the hooks of failed hosts printed (the coordinator keeps the end of
 * it), indented under each host; not on a redrawn screen. */
static void
print_hook_outputs(const Rollwave__DeploymentStatus *st, FILE *out)
{
	bool first = true;

	for (size_t i = 0; i < st->n_waves; i++)
		for (size_t j = 0; j < st->waves[i]->n_hosts; j++) {
			const Rollwave__DeploymentStatus__Host *h = st->waves[i]->hosts[j];
			const char *line;

			if (!h->hook_output || !h->hook_output[0])
				continue;
			if (first)
				fprintf(out, "Hook output of failed hosts (its end):\n");
			first = false;
			fprintf(out, "  host %llu (%s):\n", (unsigned long long)h->host_id,
			        h->hostname);
			for (line = h->hook_output; *line;) {
				size_t n = strcspn(line, "\n");

				fprintf(out, "    | %.*s\n", (int)n, line);
				line += n + (line[n] == '\n');
			}
		}
}

/* Draws st listing at most *budget hosts not done of large waves; *budget
 * is what was left. */
static int
waves_status_draw(const Rollwave__DeploymentStatus *st, const struct admin_waves_view *v,
        size_t *budget, FILE *out)
{
	char c[TS_SIZE] = "-";

	if (st->created_ms)
		admin_format_timestamp(st->created_ms, c);
	if (st->deployment_id)
		fprintf(out, "Deployment %llu: %s %s (%s) is %s",
		        (unsigned long long)st->deployment_id, st->app,
		        admin_format_or(st->version, "previous"), st->strategy, st->state);
	else
		fprintf(out, "Plan: %s %s (%s), %zu wave(s)", st->app, st->version, st->strategy,
		        st->n_waves);
	if (st->deployment_id && !admin_deployment_is_final(st->state) && st->n_waves)
		fprintf(out, ", wave %u/%zu '%s': %s", st->wave + 1, st->n_waves,
		        st->wave < st->n_waves ? st->waves[st->wave]->name : "?", st->step);
	fputc('\n', out);
	if (st->deployment_id)
		fprintf(out, "  started %s by %s\n", c, st->actor);
	if (st->reason[0])
		fprintf(out, "  %s\n", st->reason);
	fprintf(out, "  failure budget: %u failed, %u allowed\n", st->failed, st->failures_allowed);
	print_waves("Waves:", st->waves, st->n_waves, v, budget, out);
	print_waves(streq(st->step, "rollback") || streq(st->state, "rolled_back")
	                ? "Rollback:"
	                : "Rollback plan (if every host took the release):",
	        st->rollback, st->n_rollback, v, budget, out);
	if (!v->bars)
		print_hook_outputs(st, out);
	if (v->gates)
		return admin_format_gates(st, out);
	return ferror(out) ? -EIO : 0;
}

static size_t
count_lines(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

int
admin_format_waves_status(
        const Rollwave__DeploymentStatus *st, const struct admin_waves_view *v, FILE *out)
{
	size_t budget = v->rows ? v->rows : SIZE_MAX, left, lines;
	_cleanup_free_ char *text = NULL;
	struct admin_format_strbuild b;
	int r;

	if (!v->rows)
		return waves_status_draw(st, v, &budget, out);
	for (int pass = 0; pass < 2; pass++) {
		free(TAKE_PTR(text));
		if (admin_format_strbuild_open(&b) < 0)
			return -ENOMEM;
		left = budget;
		r = waves_status_draw(st, v, &left, b.f);
		text = admin_format_strbuild_close(&b);
		if (!text)
			return -ENOMEM;
		if (r < 0)
			return r;
		lines = count_lines(text, b.len);
		if (lines <= v->rows)
			break;
		/* As many fewer hosts as lines too many (all of them at worst). */
		budget -= left;
		budget = lines - v->rows >= budget ? 0 : budget - (lines - v->rows);
	}
	fputs(text, out);
	return ferror(out) ? -EIO : 0;
}
