/*
 * admin_format: admin responses as tables and JSON (see admin_format.h).
 *
 * Tables are built in memory first (struct table: a header row and data rows
 * of owned strings) so that column widths fit the widest cell; widths count
 * UTF-8 characters, not bytes.
 */
#include "admin_format.h"
#include "admin.h"
#include "identity.h"
#include "wire.h"

#define TS_SIZE 32

static const char *
nonempty_or(const char *s, const char *fallback)
{
	return isempty(s) ? fallback : s;
}

const char *
admin_format_state(Rollwave__HostState s)
{
	switch (s) {
	case ROLLWAVE__HOST_STATE__HOST_STATE_PENDING:
		return "pending";
	case ROLLWAVE__HOST_STATE__HOST_STATE_UP:
		return "up";
	case ROLLWAVE__HOST_STATE__HOST_STATE_DOWN:
		return "down";
	case ROLLWAVE__HOST_STATE__HOST_STATE_REVOKED:
		return "revoked";
	default:
		return "unknown";
	}
}

const char *
admin_format_health(Rollwave__Health h)
{
	switch (h) {
	case ROLLWAVE__HEALTH__HEALTH_HEALTHY:
		return "healthy";
	case ROLLWAVE__HEALTH__HEALTH_UNHEALTHY:
		return "unhealthy";
	default:
		return "unknown";
	}
}

void
admin_format_relative(uint64_t then_ms, uint64_t now_ms, char *buf, size_t size)
{
	uint64_t s;

	if (then_ms == 0) {
		strbuf_printf(buf, size, "never");
		return;
	}
	s = then_ms >= now_ms ? 0 : (now_ms - then_ms) / 1000;
	if (s < 60)
		strbuf_printf(buf, size, "%llus ago", (unsigned long long)s);
	else if (s < 3600)
		strbuf_printf(buf, size, "%llum ago", (unsigned long long)(s / 60));
	else if (s < 86400)
		strbuf_printf(buf, size, "%lluh ago", (unsigned long long)(s / 3600));
	else
		strbuf_printf(buf, size, "%llud ago", (unsigned long long)(s / 86400));
}

static void
timestamp_ms(uint64_t ms, char buf[static TS_SIZE])
{
	format_timestamp_utc(ms * USEC_PER_MSEC, buf, TS_SIZE);
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *
json_text_or_null(const char *s)
{
	return isempty(s) ? json_null() : json_string(s);
}

static json_t *
labels_json(Rollwave__Label *const *labels, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < n; i++)
		if (json_object_set_new(o, labels[i]->key, json_string(labels[i]->value)) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static json_t *
strings_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
app_json(const Rollwave__AppStatus *a)
{
	return json_pack("{s:s, s:o, s:o, s:s, s:o}", "app", a->app, "current",
	        json_text_or_null(a->current), "previous", json_text_or_null(a->previous), "health",
	        admin_format_health(a->health), "releases",
	        strings_json(a->releases, a->n_releases));
}

/* Appends what make(items[i]) returns for each item; NULL if any fails. */
#define JSON_ARRAY_OF(items, n, make)                                                              \
	({                                                                                         \
		json_t *a_ = json_array();                                                         \
		for (size_t i_ = 0; a_ && i_ < (n); i_++)                                          \
			if (json_array_append_new(a_, make((items)[i_])) < 0) {                    \
				json_decref(a_);                                                   \
				a_ = NULL;                                                         \
			}                                                                          \
		a_;                                                                                \
	})

json_t *
admin_format_host_json(const Rollwave__HostInfo *h)
{
	char key[IDENTITY_PUBLIC_HEX_SIZE], fp[IDENTITY_FINGERPRINT_SIZE], ts[TS_SIZE];
	bool has_key = h->host_key.len == IDENTITY_PUBLIC_KEY_BYTES;

	if (has_key) {
		identity_public_hex(h->host_key.data, key);
		identity_fingerprint(h->host_key.data, fp);
	}
	if (h->last_seen_ms)
		timestamp_ms(h->last_seen_ms, ts);
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)h->id,
	        "hostname", h->hostname, "state", admin_format_state(h->state), "last_seen",
	        h->last_seen_ms ? json_string(ts) : json_null(), "labels",
	        labels_json(h->labels, h->n_labels), "agent_version",
	        json_text_or_null(h->agent_version), "host_key",
	        has_key ? json_string(key) : json_null(), "fingerprint",
	        has_key ? json_string(fp) : json_null(), "apps",
	        JSON_ARRAY_OF(h->apps, h->n_apps, app_json));
}

json_t *
admin_format_hosts_json(const Rollwave__HostList *l)
{
	return json_pack(
	        "{s:o}", "hosts", JSON_ARRAY_OF(l->hosts, l->n_hosts, admin_format_host_json));
}

static json_t *
version_count_json(const Rollwave__AppSummary__VersionCount *v)
{
	return json_pack("{s:o, s:I}", "version", json_text_or_null(v->version), "hosts",
	        (json_int_t)v->hosts);
}

static json_t *
app_summary_json(const Rollwave__AppSummary *a)
{
	return json_pack("{s:s, s:I, s:o}", "app", a->app, "hosts", (json_int_t)a->hosts,
	        "versions", JSON_ARRAY_OF(a->versions, a->n_versions, version_count_json));
}

json_t *
admin_format_apps_json(const Rollwave__AppList *l)
{
	return json_pack("{s:o}", "apps", JSON_ARRAY_OF(l->apps, l->n_apps, app_summary_json));
}

static json_t *
event_json(const Rollwave__Event *e)
{
	char ts[TS_SIZE];

	timestamp_ms(e->at_ms, ts);
	return json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)e->id, "time", ts,
	        "at_ms", (json_int_t)e->at_ms, "actor", e->actor, "action", e->action, "target",
	        e->target, "detail", e->detail);
}

json_t *
admin_format_events_json(const Rollwave__EventList *l)
{
	return json_pack("{s:o}", "events", JSON_ARRAY_OF(l->events, l->n_events, event_json));
}

/* ---- text ---------------------------------------------------------------- */

struct table {
	size_t ncols, nrows, cap;
	char **cells; /* row-major, nrows * ncols owned strings */
};

static void
table_done(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* Adds a row of ncols cells, copying them (NULL counts as "-"). */
static int
table_add(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **c = reallocarray(t->cells, cap * t->ncols, sizeof(char *));

		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	for (size_t j = 0; j < t->ncols; j++) {
		char *s = strdup(cells[j] ? cells[j] : "-");

		if (!s) {
			for (size_t k = 0; k < j; k++)
				free(t->cells[t->nrows * t->ncols + k]);
			return -ENOMEM;
		}
		t->cells[t->nrows * t->ncols + j] = s;
	}
	t->nrows++;
	return 0;
}

static size_t
utf8_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int
table_print(const struct table *t, const char *indent, FILE *out)
{
	size_t width[16] = {0};

	if (t->ncols > ELEMENTSOF(width))
		return -EINVAL;
	for (size_t i = 0; i < t->nrows; i++)
		for (size_t j = 0; j < t->ncols; j++) {
			size_t w = utf8_width(t->cells[i * t->ncols + j]);

			if (w > width[j])
				width[j] = w;
		}
	for (size_t i = 0; i < t->nrows; i++) {
		fputs(indent, out);
		for (size_t j = 0; j < t->ncols; j++) {
			const char *c = t->cells[i * t->ncols + j];

			fputs(c, out);
			if (j + 1 < t->ncols)
				fprintf(out, "%*s", (int)(width[j] - utf8_width(c) + 2), "");
		}
		fputc('\n', out);
	}
	return ferror(out) ? -EIO : 0;
}

/* A string built with stdio: open, print into f, close to get the text. */
struct strbuild {
	char *buf;
	size_t len;
	FILE *f;
};

static int
strbuild_open(struct strbuild *b)
{
	*b = (struct strbuild) {NULL, 0, NULL};
	b->f = open_memstream(&b->buf, &b->len);
	return b->f ? 0 : -ENOMEM;
}

/* Returns the text (owned by the caller) or NULL. */
static char *
strbuild_close(struct strbuild *b)
{
	if (fclose(b->f) != 0) {
		free(b->buf);
		return NULL;
	}
	return b->buf;
}

/* "k=v,k2=v2", or "-" without labels. NULL when out of memory. */
static char *
labels_text(Rollwave__Label *const *labels, size_t n)
{
	struct strbuild b;

	if (strbuild_open(&b) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(b.f, "%s%s=%s", i ? "," : "", labels[i]->key, labels[i]->value);
	if (n == 0)
		fputs("-", b.f);
	return strbuild_close(&b);
}

/* "web=1.4.2(healthy) api=-(unknown)", or "-" without apps. */
static char *
apps_text(Rollwave__AppStatus *const *apps, size_t n)
{
	struct strbuild b;

	if (strbuild_open(&b) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(b.f, "%s%s=%s(%s)", i ? " " : "", apps[i]->app,
		        nonempty_or(apps[i]->current, "-"), admin_format_health(apps[i]->health));
	if (n == 0)
		fputs("-", b.f);
	return strbuild_close(&b);
}

/* "a, b, c", or "-" for none. */
static char *
strings_text(char *const *v, size_t n)
{
	struct strbuild b;

	if (strbuild_open(&b) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(b.f, "%s%s", i ? ", " : "", v[i]);
	if (n == 0)
		fputs("-", b.f);
	return strbuild_close(&b);
}

int
admin_format_hosts_table(const Rollwave__HostList *l, uint64_t now_ms, FILE *out)
{
	static const char *const header[] = {
	        "ID", "HOSTNAME", "STATE", "LAST SEEN", "LABELS", "APPS"};
	struct table t = {.ncols = ELEMENTSOF(header)};
	int r;

	r = table_add(&t, header);
	for (size_t i = 0; r >= 0 && i < l->n_hosts; i++) {
		const Rollwave__HostInfo *h = l->hosts[i];
		_cleanup_free_ char *labels = labels_text(h->labels, h->n_labels);
		_cleanup_free_ char *apps = apps_text(h->apps, h->n_apps);
		char id[24], seen[32];

		if (!labels || !apps) {
			r = -ENOMEM;
			break;
		}
		strbuf_printf(id, sizeof(id), "%llu", (unsigned long long)h->id);
		admin_format_relative(h->last_seen_ms, now_ms, seen, sizeof(seen));
		r = table_add(&t,
		        (const char *const[]) {
		                id, h->hostname, admin_format_state(h->state), seen, labels, apps});
	}
	if (r >= 0)
		r = table_print(&t, "", out);
	table_done(&t);
	return r;
}

int
admin_format_pending_table(const Rollwave__HostList *l, uint64_t now_ms, FILE *out)
{
	static const char *const header[] = {"ID", "HOSTNAME", "KEY", "LAST SEEN", "LABELS"};
	struct table t = {.ncols = ELEMENTSOF(header)};
	int r;

	r = table_add(&t, header);
	for (size_t i = 0; r >= 0 && i < l->n_hosts; i++) {
		const Rollwave__HostInfo *h = l->hosts[i];
		_cleanup_free_ char *labels = labels_text(h->labels, h->n_labels);
		char id[24], seen[32], fp[IDENTITY_FINGERPRINT_SIZE] = "-";

		if (!labels) {
			r = -ENOMEM;
			break;
		}
		strbuf_printf(id, sizeof(id), "%llu", (unsigned long long)h->id);
		admin_format_relative(h->last_seen_ms, now_ms, seen, sizeof(seen));
		if (h->host_key.len == IDENTITY_PUBLIC_KEY_BYTES)
			identity_fingerprint(h->host_key.data, fp);
		r = table_add(&t, (const char *const[]) {id, h->hostname, fp, seen, labels});
	}
	if (r >= 0)
		r = table_print(&t, "", out);
	table_done(&t);
	return r;
}

int
admin_format_host_details(const Rollwave__HostInfo *h, uint64_t now_ms, FILE *out)
{
	static const char *const header[] = {"APP", "CURRENT", "PREVIOUS", "HEALTH", "RELEASES"};
	struct table t = {.ncols = ELEMENTSOF(header)};
	_cleanup_free_ char *labels = labels_text(h->labels, h->n_labels);
	char key[IDENTITY_PUBLIC_HEX_SIZE] = "-", fp[IDENTITY_FINGERPRINT_SIZE] = "-";
	char seen[32], ts[TS_SIZE];
	int r;

	if (!labels)
		return -ENOMEM;
	if (h->host_key.len == IDENTITY_PUBLIC_KEY_BYTES) {
		identity_public_hex(h->host_key.data, key);
		identity_fingerprint(h->host_key.data, fp);
	}
	admin_format_relative(h->last_seen_ms, now_ms, seen, sizeof(seen));
	fprintf(out, "ID:             %llu\n", (unsigned long long)h->id);
	fprintf(out, "Hostname:       %s\n", h->hostname);
	fprintf(out, "State:          %s\n", admin_format_state(h->state));
	if (h->last_seen_ms) {
		timestamp_ms(h->last_seen_ms, ts);
		fprintf(out, "Last seen:      %s (%s)\n", ts, seen);
	} else
		fputs("Last seen:      never\n", out);
	fprintf(out, "Key:            %s\n", fp);
	fprintf(out, "Host key:       %s\n", key);
	fprintf(out, "Agent version:  %s\n", nonempty_or(h->agent_version, "-"));
	fprintf(out, "Labels:         %s\n", labels);
	if (h->n_apps == 0) {
		fputs("Apps:           -\n", out);
		return ferror(out) ? -EIO : 0;
	}
	fputs("Apps:\n", out);
	r = table_add(&t, header);
	for (size_t i = 0; r >= 0 && i < h->n_apps; i++) {
		const Rollwave__AppStatus *a = h->apps[i];
		_cleanup_free_ char *releases = strings_text(a->releases, a->n_releases);

		if (!releases) {
			r = -ENOMEM;
			break;
		}
		r = table_add(&t,
		        (const char *const[]) {a->app, nonempty_or(a->current, "-"),
		                nonempty_or(a->previous, "-"), admin_format_health(a->health),
		                releases});
	}
	if (r >= 0)
		r = table_print(&t, "  ", out);
	table_done(&t);
	return r;
}

int
admin_format_apps_table(const Rollwave__AppList *l, FILE *out)
{
	static const char *const header[] = {"APP", "HOSTS", "VERSIONS"};
	struct table t = {.ncols = ELEMENTSOF(header)};
	int r;

	r = table_add(&t, header);
	for (size_t i = 0; r >= 0 && i < l->n_apps; i++) {
		const Rollwave__AppSummary *a = l->apps[i];
		_cleanup_free_ char *versions = NULL;
		struct strbuild b;
		char hosts[16];

		if (strbuild_open(&b) < 0) {
			r = -ENOMEM;
			break;
		}
		for (size_t j = 0; j < a->n_versions; j++)
			fprintf(b.f, "%s%s (%u)", j ? ", " : "",
			        nonempty_or(a->versions[j]->version, "none"),
			        (unsigned)a->versions[j]->hosts);
		if (a->n_versions == 0)
			fputs("-", b.f);
		versions = strbuild_close(&b);
		if (!versions) {
			r = -ENOMEM;
			break;
		}
		strbuf_printf(hosts, sizeof(hosts), "%u", (unsigned)a->hosts);
		r = table_add(&t, (const char *const[]) {a->app, hosts, versions});
	}
	if (r >= 0)
		r = table_print(&t, "", out);
	table_done(&t);
	return r;
}

int
admin_format_events_table(const Rollwave__EventList *l, FILE *out)
{
	static const char *const header[] = {"TIME", "ACTOR", "ACTION", "TARGET", "DETAIL"};
	struct table t = {.ncols = ELEMENTSOF(header)};
	int r;

	r = table_add(&t, header);
	for (size_t i = 0; r >= 0 && i < l->n_events; i++) {
		const Rollwave__Event *e = l->events[i];
		_cleanup_free_ char *detail = strdup(e->detail);
		char ts[TS_SIZE];

		if (!detail) {
			r = -ENOMEM;
			break;
		}
		/* One line per event: newlines and tabs of the detail as spaces. */
		for (char *c = detail; *c; c++)
			if (*c == '\n' || *c == '\t' || *c == '\r')
				*c = ' ';
		timestamp_ms(e->at_ms, ts);
		r = table_add(&t,
		        (const char *const[]) {ts, nonempty_or(e->actor, "-"), e->action,
		                nonempty_or(e->target, "-"), nonempty_or(detail, "-")});
	}
	if (r >= 0)
		r = table_print(&t, "", out);
	table_done(&t);
	return r;
}

/* ---- deployments ---------------------------------------------------------- */

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

const char *
admin_format_host_name(const Rollwave__HostList *names, uint64_t id)
{
	size_t lo = 0, hi = names ? names->n_hosts : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const Rollwave__HostInfo *h = names->hosts[mid];

		if (h->id == id)
			return isempty(h->hostname) ? NULL : h->hostname;
		if (h->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
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
		return nonempty_or(h->state, "unknown");
	return phase;
}

/* s on one line: newlines, carriage returns and tabs as spaces. NULL when
 * out of memory. */
static char *
one_line(const char *s)
{
	char *c = strdup(s ? s : "");

	for (char *p = c; p && *p; p++)
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
	return c;
}

/* "3 (web1)" or "3". */
static void
host_label(uint64_t id, const Rollwave__HostList *names, char *buf, size_t size)
{
	const char *name = admin_format_host_name(names, id);

	if (name)
		strbuf_printf(buf, size, "%llu (%s)", (unsigned long long)id, name);
	else
		strbuf_printf(buf, size, "%llu", (unsigned long long)id);
}

int
admin_format_deploy_progress(
        const Rollwave__DeployResult__HostResult *h, const Rollwave__HostList *names, FILE *out)
{
	_cleanup_free_ char *error = one_line(h->error);
	char host[WIRE_HOSTNAME_MAX + 32];

	if (!error)
		return -ENOMEM;
	host_label(h->host_id, names, host, sizeof(host));
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
		const char *st = nonempty_or(h->state, "unknown");
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
	struct table t = {.ncols = ELEMENTSOF(header)};
	int r2;

	r2 = table_add(&t, header);
	for (size_t i = 0; r2 >= 0 && i < r->n_hosts; i++) {
		const Rollwave__DeployResult__HostResult *h = r->hosts[i];
		_cleanup_free_ char *error = one_line(h->error);
		char host[WIRE_HOSTNAME_MAX + 32];

		if (!error) {
			r2 = -ENOMEM;
			break;
		}
		host_label(h->host_id, names, host, sizeof(host));
		r2 = table_add(&t,
		        (const char *const[]) {
		                host, nonempty_or(h->state, "unknown"), nonempty_or(error, "-")});
	}
	if (r2 >= 0)
		r2 = table_print(&t, "", out);
	table_done(&t);
	return r2;
}

static json_t *
host_result_json(const Rollwave__DeployResult__HostResult *h)
{
	const char *phase = admin_format_phase(h->phase);

	return json_pack("{s:I, s:I, s:s, s:o, s:o}", "host_id", (json_int_t)h->host_id,
	        "command_id", (json_int_t)h->command_id, "state", nonempty_or(h->state, "unknown"),
	        "phase", phase ? json_string(phase) : json_null(), "error",
	        json_text_or_null(h->error));
}

json_t *
admin_format_deploy_json(
        const Rollwave__DeployResult *r, const char *app, const char *version, bool succeeded)
{
	return json_pack("{s:I, s:s, s:o, s:o, s:b}", "deployment_id", (json_int_t)r->deployment_id,
	        "app", app, "version", json_text_or_null(version), "hosts",
	        JSON_ARRAY_OF(r->hosts, r->n_hosts, host_result_json), "succeeded", succeeded);
}
