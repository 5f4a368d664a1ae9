/*
 * admin_format: admin responses as tables and JSON (see admin_format.h).
 *
 * Tables are built in memory first (struct table: a header row and data rows
 * of owned strings) so that column widths fit the widest cell; widths count
 * UTF-8 characters, not bytes.
 *
 * A deployment through waves is drawn by admin_format_waves_status(); on a
 * terminal it must fit the screen, so it is drawn once with every host not
 * done listed, and drawn again with as many fewer as it overflowed by (the
 * only lines that shrink: the rest is a few lines per wave).
 */
#include "admin_format.h"
#include "admin.h"
#include "identity.h"
#include "ini.h"
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

const Rollwave__HostInfo *
admin_format_host_find(const Rollwave__HostList *hosts, uint64_t id)
{
	size_t lo = 0, hi = hosts ? hosts->n_hosts : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const Rollwave__HostInfo *h = hosts->hosts[mid];

		if (h->id == id)
			return h;
		if (h->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *
admin_format_host_name(const Rollwave__HostList *names, uint64_t id)
{
	const Rollwave__HostInfo *h = admin_format_host_find(names, id);

	return h && !isempty(h->hostname) ? h->hostname : NULL;
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
		host_label(ids[i], hosts, host, sizeof(host));
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

/* ---- deployments through waves -------------------------------------------- */

#define WAVE_LIST_ALL_MAX   12  /* a wave this small lists every host */
#define HOST_LIST_WIDTH     100 /* host lists wrap here */
#define HOST_INDENT         "       "
#define SHOWN_GATES_MAX     32
#define SHOWN_FREEZE_MAX    32
#define SHOWN_GATE_KEYS_MAX 16

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
		len = utf8_width(item);
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
		error = one_line(h->error);
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
				_cleanup_free_ char *error = one_line(w[i]->hosts[j]->error);

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
		timestamp_ms(st->created_ms, c);
	if (st->deployment_id)
		fprintf(out, "Deployment %llu: %s %s (%s) is %s",
		        (unsigned long long)st->deployment_id, st->app,
		        nonempty_or(st->version, "previous"), st->strategy, st->state);
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
	struct strbuild b;
	int r;

	if (!v->rows)
		return waves_status_draw(st, v, &budget, out);
	for (int pass = 0; pass < 2; pass++) {
		free(TAKE_PTR(text));
		if (strbuild_open(&b) < 0)
			return -ENOMEM;
		left = budget;
		r = waves_status_draw(st, v, &left, b.f);
		text = strbuild_close(&b);
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

/* ---- the Gates: section ---- */

/* A gate's keys in the order of the file (Query=, Condition=,
 * MinSamples=, NoData=, URL= and whatever else a newer coordinator
 * writes). */
struct shown_gate {
	char *name;
	char *keys[SHOWN_GATE_KEYS_MAX], *values[SHOWN_GATE_KEYS_MAX];
	size_t n_keys;
};

/* What the Gates: section shows of a deployment file. */
struct shown_options {
	char *failure_budget, *prometheus_url, *freeze_policy;
	char *freeze[SHOWN_FREEZE_MAX];
	size_t n_freeze, more_freeze;
	struct shown_gate gates[SHOWN_GATES_MAX];
	size_t n_gates, more_gates;
};

static void
shown_options_done(struct shown_options *o)
{
	free(o->failure_budget);
	free(o->prometheus_url);
	free(o->freeze_policy);
	for (size_t i = 0; i < o->n_freeze; i++)
		free(o->freeze[i]);
	for (size_t i = 0; i < o->n_gates; i++) {
		free(o->gates[i].name);
		for (size_t j = 0; j < o->gates[i].n_keys; j++) {
			free(o->gates[i].keys[j]);
			free(o->gates[i].values[j]);
		}
	}
}

static int
set_text(char **field, const char *value, struct rw_err *err)
{
	char *s = strdup(value);

	if (!s)
		return rw_err_set(err, -ENOMEM, "out of memory");
	free(*field);
	*field = s;
	return 0;
}

static struct shown_gate *
shown_gate(struct shown_options *o, const char *name)
{
	for (size_t i = 0; i < o->n_gates; i++)
		if (streq(o->gates[i].name, name))
			return &o->gates[i];
	if (o->n_gates == SHOWN_GATES_MAX)
		return NULL;
	o->gates[o->n_gates].name = strdup(name);
	if (!o->gates[o->n_gates].name)
		return NULL;
	return &o->gates[o->n_gates++];
}

/* Sets key of g (a later value replaces an earlier one). */
static int
shown_gate_set(struct shown_gate *g, const char *key, const char *value, struct rw_err *err)
{
	size_t j;

	for (j = 0; j < g->n_keys; j++)
		if (streq(g->keys[j], key))
			return set_text(&g->values[j], value, err);
	if (j == SHOWN_GATE_KEYS_MAX)
		return 0;
	g->keys[j] = strdup(key);
	g->values[j] = strdup(value);
	if (!g->keys[j] || !g->values[j]) {
		free(g->keys[j]);
		free(g->values[j]);
		return rw_err_set(err, -ENOMEM, "out of memory");
	}
	g->n_keys++;
	return 0;
}

static const char *
shown_gate_get(const struct shown_gate *g, const char *key)
{
	for (size_t j = 0; j < g->n_keys; j++)
		if (streq(g->keys[j], key))
			return g->values[j];
	return NULL;
}

/* Collects the keys the section shows; every other key is the planner's. */
static int
options_handler(
        void *userdata, const char *section, const char *key, const char *value, struct rw_err *err)
{
	struct shown_options *o = userdata;

	if (strncmp(section, "Gate-", 5) == 0) {
		struct shown_gate *g = shown_gate(o, section + 5);

		if (!g) {
			o->more_gates++;
			return 0;
		}
		return shown_gate_set(g, key, value, err);
	}
	if (!streq(section, "Deployment"))
		return 0;
	if (streq(key, "FailureBudget"))
		return set_text(&o->failure_budget, value, err);
	if (streq(key, "PrometheusURL"))
		return set_text(&o->prometheus_url, value, err);
	if (streq(key, "FreezePolicy"))
		return set_text(&o->freeze_policy, value, err);
	if (streq(key, "Freeze")) {
		if (isempty(value)) { /* an empty value clears the list */
			for (size_t i = 0; i < o->n_freeze; i++)
				free(o->freeze[i]);
			o->n_freeze = o->more_freeze = 0;
			return 0;
		}
		if (o->n_freeze == SHOWN_FREEZE_MAX) {
			o->more_freeze++;
			return 0;
		}
		o->freeze[o->n_freeze] = NULL;
		if (set_text(&o->freeze[o->n_freeze], value, err) < 0)
			return -ENOMEM;
		o->n_freeze++;
	}
	return 0;
}

/* "wave 2", "waves 1, 2 and 4", "no wave" or "every wave". */
static void
gated_waves(const Rollwave__DeploymentStatus *st, char *buf, size_t size)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < st->n_waves; i++)
		n += st->waves[i]->metric_gates;
	if (n == 0) {
		strbuf_printf(buf, size, "no wave");
		return;
	}
	if (n == st->n_waves && n > 1) {
		strbuf_printf(buf, size, "every wave");
		return;
	}
	for (size_t i = 0; i < st->n_waves; i++) {
		if (!st->waves[i]->metric_gates)
			continue;
		k++;
		if (k == 1)
			strbuf_printf(buf, size, "%s%zu", n == 1 ? "wave " : "waves ", i + 1);
		else
			strbuf_printf(buf + strlen(buf), size - strlen(buf), "%s%zu",
			        k == n ? " and " : ", ", i + 1);
	}
}

int
admin_format_gates(const Rollwave__DeploymentStatus *st, FILE *out)
{
	_cleanup_(shown_options_done) struct shown_options o = {0};
	struct rw_err err = {""};
	char waves[256];

	if (isempty(st->params))
		return 0;
	fputs("Gates:\n", out);
	if (ini_parse_buffer("deployment options", st->params, strlen(st->params), 0,
	            options_handler, &o, &err) < 0) {
		fprintf(out, "  (cannot read the deployment's options: %s)\n", err.msg);
		return ferror(out) ? -EIO : 0;
	}
	fprintf(out,
	        "  failure budget: FailureBudget=%s, %u failed host%s allowed before a "
	        "coordinated rollback\n",
	        nonempty_or(o.failure_budget, "0"), st->failures_allowed,
	        st->failures_allowed == 1 ? "" : "s");
	if (o.n_freeze == 0)
		fputs("  freeze windows: none\n", out);
	else {
		fprintf(out, "  freeze windows (FreezePolicy=%s):\n",
		        nonempty_or(o.freeze_policy, "wait"));
		for (size_t i = 0; i < o.n_freeze; i++)
			fprintf(out, "    %s\n", o.freeze[i]);
		if (o.more_freeze)
			fprintf(out, "    and %zu more\n", o.more_freeze);
	}
	if (o.n_gates == 0) {
		fputs("  metric gates: none\n", out);
		return ferror(out) ? -EIO : 0;
	}
	gated_waves(st, waves, sizeof(waves));
	for (size_t i = 0; i < o.n_gates; i++) {
		const struct shown_gate *g = &o.gates[i];

		fprintf(out, "  metric gate '%s', checked after %s:\n", g->name, waves);
		for (size_t j = 0; j < g->n_keys; j++)
			fprintf(out, "    %s=%s\n", g->keys[j], g->values[j]);
		if (isempty(shown_gate_get(g, "URL")))
			fprintf(out, "    URL=%s (PrometheusURL=)\n",
			        nonempty_or(o.prometheus_url, "-"));
	}
	if (o.more_gates)
		fprintf(out, "  and %zu more metric gate(s)\n", o.more_gates);
	return ferror(out) ? -EIO : 0;
}

int
admin_format_history_table(const Rollwave__DeploymentList *l, bool active_only, FILE *out)
{
	static const char *const header[] = {"ID", "STARTED", "FINISHED", "APP", "VERSION",
	        "STRATEGY", "STATE", "ACTOR", "REASON"};
	struct table t = {.ncols = ELEMENTSOF(header)};
	int r;

	r = table_add(&t, header);
	for (size_t i = 0; r >= 0 && i < l->n_deployments; i++) {
		const Rollwave__DeploymentStatus *d = l->deployments[i];
		_cleanup_free_ char *reason = NULL;
		char id[24], started[TS_SIZE] = "-", finished[TS_SIZE] = "-";

		if (active_only && admin_deployment_is_final(d->state))
			continue;
		reason = one_line(d->reason);
		if (!reason) {
			r = -ENOMEM;
			break;
		}
		strbuf_printf(id, sizeof(id), "%llu", (unsigned long long)d->deployment_id);
		if (d->created_ms)
			timestamp_ms(d->created_ms, started);
		if (d->finished_ms)
			timestamp_ms(d->finished_ms, finished);
		r = table_add(&t,
		        (const char *const[]) {id, started, finished, d->app,
		                nonempty_or(d->version, "previous"), d->strategy, d->state,
		                nonempty_or(d->actor, "-"), nonempty_or(reason, "-")});
	}
	if (r >= 0)
		r = table_print(&t, "", out);
	table_done(&t);
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
				error = one_line(h->error);
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
