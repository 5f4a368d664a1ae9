/*
 * admin_format_hosts: hosts and apps (rollwave hosts, hosts pending, host,
 * apps) as JSON and as tables.
 */
#include "admin_format.h"
#include "admin_format_private.h"
#include "identity.h"

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
	        admin_format_json_text(a->current), "previous", admin_format_json_text(a->previous),
	        "health", admin_format_health(a->health), "releases",
	        strings_json(a->releases, a->n_releases));
}

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
		admin_format_timestamp(h->last_seen_ms, ts);
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)h->id,
	        "hostname", h->hostname, "state", admin_format_state(h->state), "last_seen",
	        h->last_seen_ms ? json_string(ts) : json_null(), "labels",
	        labels_json(h->labels, h->n_labels), "agent_version",
	        admin_format_json_text(h->agent_version), "host_key",
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
	return json_pack("{s:o, s:I}", "version", admin_format_json_text(v->version), "hosts",
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

/* "k=v,k2=v2", or "-" without labels. NULL when out of memory. */
static char *
labels_text(Rollwave__Label *const *labels, size_t n)
{
	struct admin_format_strbuild b;

	if (admin_format_strbuild_open(&b) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(b.f, "%s%s=%s", i ? "," : "", labels[i]->key, labels[i]->value);
	if (n == 0)
		fputs("-", b.f);
	return admin_format_strbuild_close(&b);
}

/* "web=1.4.2(healthy) api=-(unknown)", or "-" without apps. */
static char *
apps_text(Rollwave__AppStatus *const *apps, size_t n)
{
	struct admin_format_strbuild b;

	if (admin_format_strbuild_open(&b) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(b.f, "%s%s=%s(%s)", i ? " " : "", apps[i]->app,
		        admin_format_or(apps[i]->current, "-"),
		        admin_format_health(apps[i]->health));
	if (n == 0)
		fputs("-", b.f);
	return admin_format_strbuild_close(&b);
}

/* "a, b, c", or "-" for none. */
static char *
strings_text(char *const *v, size_t n)
{
	struct admin_format_strbuild b;

	if (admin_format_strbuild_open(&b) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(b.f, "%s%s", i ? ", " : "", v[i]);
	if (n == 0)
		fputs("-", b.f);
	return admin_format_strbuild_close(&b);
}

int
admin_format_hosts_table(const Rollwave__HostList *l, uint64_t now_ms, FILE *out)
{
	static const char *const header[] = {
	        "ID", "HOSTNAME", "STATE", "LAST SEEN", "LABELS", "APPS"};
	struct admin_format_table t = {.ncols = ELEMENTSOF(header)};
	int r;

	r = admin_format_table_add(&t, header);
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
		r = admin_format_table_add(&t,
		        (const char *const[]) {
		                id, h->hostname, admin_format_state(h->state), seen, labels, apps});
	}
	if (r >= 0)
		r = admin_format_table_print(&t, "", out);
	admin_format_table_done(&t);
	return r;
}

int
admin_format_pending_table(const Rollwave__HostList *l, uint64_t now_ms, FILE *out)
{
	static const char *const header[] = {"ID", "HOSTNAME", "KEY", "LAST SEEN", "LABELS"};
	struct admin_format_table t = {.ncols = ELEMENTSOF(header)};
	int r;

	r = admin_format_table_add(&t, header);
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
		r = admin_format_table_add(
		        &t, (const char *const[]) {id, h->hostname, fp, seen, labels});
	}
	if (r >= 0)
		r = admin_format_table_print(&t, "", out);
	admin_format_table_done(&t);
	return r;
}

int
admin_format_host_details(const Rollwave__HostInfo *h, uint64_t now_ms, FILE *out)
{
	static const char *const header[] = {"APP", "CURRENT", "PREVIOUS", "HEALTH", "RELEASES"};
	struct admin_format_table t = {.ncols = ELEMENTSOF(header)};
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
		admin_format_timestamp(h->last_seen_ms, ts);
		fprintf(out, "Last seen:      %s (%s)\n", ts, seen);
	} else
		fputs("Last seen:      never\n", out);
	fprintf(out, "Key:            %s\n", fp);
	fprintf(out, "Host key:       %s\n", key);
	fprintf(out, "Agent version:  %s\n", admin_format_or(h->agent_version, "-"));
	fprintf(out, "Labels:         %s\n", labels);
	if (h->n_apps == 0) {
		fputs("Apps:           -\n", out);
		return ferror(out) ? -EIO : 0;
	}
	fputs("Apps:\n", out);
	r = admin_format_table_add(&t, header);
	for (size_t i = 0; r >= 0 && i < h->n_apps; i++) {
		const Rollwave__AppStatus *a = h->apps[i];
		_cleanup_free_ char *releases = strings_text(a->releases, a->n_releases);

		if (!releases) {
			r = -ENOMEM;
			break;
		}
		r = admin_format_table_add(&t,
		        (const char *const[]) {a->app, admin_format_or(a->current, "-"),
		                admin_format_or(a->previous, "-"), admin_format_health(a->health),
		                releases});
	}
	if (r >= 0)
		r = admin_format_table_print(&t, "  ", out);
	admin_format_table_done(&t);
	return r;
}

int
admin_format_apps_table(const Rollwave__AppList *l, FILE *out)
{
	static const char *const header[] = {"APP", "HOSTS", "VERSIONS"};
	struct admin_format_table t = {.ncols = ELEMENTSOF(header)};
	int r;

	r = admin_format_table_add(&t, header);
	for (size_t i = 0; r >= 0 && i < l->n_apps; i++) {
		const Rollwave__AppSummary *a = l->apps[i];
		_cleanup_free_ char *versions = NULL;
		struct admin_format_strbuild b;
		char hosts[16];

		if (admin_format_strbuild_open(&b) < 0) {
			r = -ENOMEM;
			break;
		}
		for (size_t j = 0; j < a->n_versions; j++)
			fprintf(b.f, "%s%s (%u)", j ? ", " : "",
			        admin_format_or(a->versions[j]->version, "none"),
			        (unsigned)a->versions[j]->hosts);
		if (a->n_versions == 0)
			fputs("-", b.f);
		versions = admin_format_strbuild_close(&b);
		if (!versions) {
			r = -ENOMEM;
			break;
		}
		strbuf_printf(hosts, sizeof(hosts), "%u", (unsigned)a->hosts);
		r = admin_format_table_add(&t, (const char *const[]) {a->app, hosts, versions});
	}
	if (r >= 0)
		r = admin_format_table_print(&t, "", out);
	admin_format_table_done(&t);
	return r;
}
