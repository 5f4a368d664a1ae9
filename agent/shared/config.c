/*
 * config: strict parsers for agent.conf and apps/<app>.conf. See config.h.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>

#include "ini.h"

static int
strv_extend(char ***v, const char *value, struct rw_err *err, const char *key)
{
	_cleanup_strv_free_ char **words = NULL;
	size_t n, m;
	char **nv;
	int r;

	if (isempty(value)) { /* "Key=" resets the list */
		strv_free(*v);
		*v = NULL;
		return 0;
	}
	r = strv_split(value, CONFIG_LIST_MAX, &words);
	if (r < 0)
		return rw_err_set(
		        err, r, "too many values for %s= (at most %d)", key, CONFIG_LIST_MAX);
	n = strv_length(*v);
	m = strv_length(words);
	if (n + m > CONFIG_LIST_MAX)
		return rw_err_set(
		        err, -E2BIG, "too many values for %s= (at most %d)", key, CONFIG_LIST_MAX);
	nv = realloc(*v, (n + m + 1) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	for (size_t i = 0; i < m; i++) {
		nv[n + i] = words[i];
		words[i] = NULL;
	}
	nv[n + m] = NULL;
	*v = nv;
	return 0;
}

/* Appends value as a single element (for command lines that hold spaces). */
static int
strv_append_one(char ***v, const char *value, struct rw_err *err, const char *key)
{
	size_t n = strv_length(*v);
	char **nv;

	if (isempty(value)) {
		strv_free(*v);
		*v = NULL;
		return 0;
	}
	if (n + 1 > CONFIG_LIST_MAX)
		return rw_err_set(
		        err, -E2BIG, "too many %s= lines (at most %d)", key, CONFIG_LIST_MAX);
	nv = realloc(*v, (n + 2) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[n] = strdup(value);
	if (!nv[n])
		return -ENOMEM;
	nv[n + 1] = NULL;
	return 0;
}

static int
set_duration(uint64_t *dst, const char *value, const char *key, struct rw_err *err)
{
	int r = parse_duration_usec(value, dst);

	if (r < 0)
		return rw_err_set(err, r,
		        "invalid duration '%s' for %s= (use e.g. 500ms, 10s, 5m, 1h)", value, key);
	return 0;
}

static bool
label_key_is_valid(const char *k, size_t len)
{
	if (len == 0 || len > AGENT_LABEL_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') ||
		            strchr("_.-", k[i])))
			return false;
	return true;
}

int
agent_labels_parse(const char *value, struct agent_label labels[], size_t *n, struct rw_err *err)
{
	_cleanup_strv_free_ char **words = NULL;
	struct agent_label parsed[AGENT_LABELS_MAX];
	size_t m = *n;
	int r;

	r = strv_split(value, AGENT_LABELS_MAX + 1, &words);
	if (r < 0 || strv_length(words) + m > AGENT_LABELS_MAX)
		return rw_err_set(err, -E2BIG, "too many labels (at most %d)", AGENT_LABELS_MAX);
	memcpy(parsed, labels, m * sizeof(*labels));
	for (char **w = words; *w; w++) {
		const char *eq = strchr(*w, '=');
		size_t klen = eq ? (size_t)(eq - *w) : 0;

		if (!eq)
			return rw_err_set(err, -EINVAL, "label '%s' is not key=value", *w);
		if (!label_key_is_valid(*w, klen))
			return rw_err_set(err, -EINVAL,
			        "invalid label key '%.*s' (1 to %d of a-z, 0-9, '_', '.', '-')",
			        (int)klen, *w, AGENT_LABEL_KEY_MAX);
		if (strlen(eq + 1) > AGENT_LABEL_VALUE_MAX)
			return rw_err_set(err, -EINVAL,
			        "value of label '%.*s' is longer than %d bytes", (int)klen, *w,
			        AGENT_LABEL_VALUE_MAX);
		if (!utf8_is_valid_text(eq + 1, strlen(eq + 1)) || strchr(eq + 1, '\t'))
			return rw_err_set(err, -EINVAL,
			        "value of label '%.*s' is not printable text", (int)klen, *w);
		for (size_t i = 0; i < m; i++)
			if (strlen(parsed[i].key) == klen && strncmp(parsed[i].key, *w, klen) == 0)
				return rw_err_set(
				        err, -EINVAL, "label '%.*s' is set twice", (int)klen, *w);
		memcpy(parsed[m].key, *w, klen);
		parsed[m].key[klen] = 0;
		strcpy(parsed[m].value, eq + 1);
		m++;
	}
	memcpy(labels, parsed, m * sizeof(*labels));
	*n = m;
	return 0;
}

int
agent_coordinator_url_parse(
        const char *url, bool *ret_tls, char *ret_host, size_t size, struct rw_err *err)
{
	const char *rest, *host, *colon;
	size_t hlen;
	uint64_t port;
	bool tls;

	if (strncmp(url, "tls+tcp://", 10) == 0) {
		tls = true;
		rest = url + 10;
	} else if (strncmp(url, "tcp://", 6) == 0) {
		tls = false;
		rest = url + 6;
	} else
		return rw_err_set(err, -EINVAL,
		        "Coordinator= must be tls+tcp://HOST:PORT (or tcp:// with Insecure=yes), "
		        "got '%s'",
		        url);
	host = rest;
	if (*rest == '[') {
		const char *close = strchr(rest, ']');

		if (!close || close[1] != ':')
			return rw_err_set(
			        err, -EINVAL, "Coordinator=: bad [IPv6]:PORT in '%s'", url);
		host = rest + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(rest, ':');
		if (!colon)
			return rw_err_set(err, -EINVAL, "Coordinator=: missing :PORT in '%s'", url);
		hlen = (size_t)(colon - rest);
	}
	if (hlen == 0 || hlen > 253)
		return rw_err_set(
		        err, -EINVAL, "Coordinator=: missing or too long host in '%s'", url);
	for (size_t i = 0; i < hlen; i++)
		if (!isalnum((unsigned char)host[i]) && !strchr(".-_:", host[i]))
			return rw_err_set(err, -EINVAL, "Coordinator=: invalid host in '%s'", url);
	if (parse_uint64(colon + 1, &port) < 0 || port == 0 || port > 65535)
		return rw_err_set(err, -EINVAL, "Coordinator=: invalid port in '%s'", url);
	if (ret_host) {
		if (hlen + 1 > size)
			return rw_err_set(err, -ENAMETOOLONG, "Coordinator=: host too long");
		memcpy(ret_host, host, hlen);
		ret_host[hlen] = 0;
	}
	*ret_tls = tls;
	return 0;
}

static int
set_coordinator(struct agent_config *c, const char *value, struct rw_err *err)
{
	bool tls;
	int r;

	if (isempty(value)) {
		c->coordinator[0] = 0;
		return 0;
	}
	if (strlen(value) > AGENT_COORDINATOR_URL_MAX)
		return rw_err_set(err, -EINVAL, "Coordinator= is too long");
	r = agent_coordinator_url_parse(value, &tls, NULL, 0, err);
	if (r < 0)
		return r;
	strcpy(c->coordinator, value);
	return 0;
}

static int
set_heartbeat(struct agent_config *c, const char *value, const char *key, struct rw_err *err)
{
	int r = set_duration(&c->heartbeat_usec, value, key, err);

	if (r < 0)
		return r;
	if (c->heartbeat_usec < AGENT_HEARTBEAT_MIN_USEC ||
	        c->heartbeat_usec > AGENT_HEARTBEAT_MAX_USEC)
		return rw_err_set(err, -EINVAL,
		        "HeartbeatInterval= must be from 100ms to 1h, got '%s'", value);
	return 0;
}

static int
set_health_watch(struct agent_config *c, const char *value, const char *key, struct rw_err *err)
{
	int r = set_duration(&c->health_watch_usec, value, key, err);

	if (r < 0)
		return r;
	if (c->health_watch_usec != 0 &&
	        (c->health_watch_usec < AGENT_HEALTH_WATCH_MIN_USEC ||
	                c->health_watch_usec > AGENT_HEALTH_WATCH_MAX_USEC))
		return rw_err_set(err, -EINVAL,
		        "HealthWatch= must be 0 (off) or from 1s to 1h, got '%s'", value);
	return 0;
}

static int
set_join_token(struct agent_config *c, const char *value, struct rw_err *err)
{
	/* Never echo the value: it is a secret. */
	if (strlen(value) > AGENT_JOIN_TOKEN_MAX || !utf8_is_valid_text(value, strlen(value)))
		return rw_err_set(err, -EINVAL,
		        "JoinToken= must be at most %d bytes of printable text",
		        AGENT_JOIN_TOKEN_MAX);
	strcpy(c->join_token, value);
	return 0;
}

static int
agent_handler(
        void *userdata, const char *section, const char *key, const char *value, struct rw_err *err)
{
	struct agent_config *c = userdata;

	if (streq(section, "TLS")) {
		if (streq(key, "CA"))
			return ini_set_path(c->tls_ca, sizeof(c->tls_ca), value, key, err);
		return rw_err_set(err, -EINVAL, "unknown key '%s' in [%s]", key, section);
	}
	if (!streq(section, "Agent"))
		return rw_err_set(err, -EINVAL, "unknown section [%s]", section);
	if (streq(key, "StateDirectory"))
		return ini_set_path(c->state_dir, sizeof(c->state_dir), value, key, err);
	if (streq(key, "AppsDirectory"))
		return ini_set_path(c->apps_dir, sizeof(c->apps_dir), value, key, err);
	if (streq(key, "TrustedKeys"))
		return strv_extend(&c->trusted_keys, value, err, key);
	if (streq(key, "Coordinator"))
		return set_coordinator(c, value, err);
	if (streq(key, "Insecure")) {
		if (parse_bool(value, &c->insecure) < 0)
			return rw_err_set(
			        err, -EINVAL, "Insecure= takes yes or no, got '%s'", value);
		return 0;
	}
	if (streq(key, "HeartbeatInterval"))
		return set_heartbeat(c, value, key, err);
	if (streq(key, "HealthWatch"))
		return set_health_watch(c, value, key, err);
	if (streq(key, "Labels")) {
		if (isempty(value)) {
			c->n_labels = 0;
			return 0;
		}
		return agent_labels_parse(value, c->labels, &c->n_labels, err);
	}
	if (streq(key, "JoinToken"))
		return set_join_token(c, value, err);
	if (streq(key, "JoinTokenFile")) {
		if (isempty(value)) {
			c->join_token_file[0] = 0;
			return 0;
		}
		return ini_set_path(
		        c->join_token_file, sizeof(c->join_token_file), value, key, err);
	}
	return rw_err_set(err, -EINVAL, "unknown key '%s' in [%s]", key, section);
}

static void
agent_config_init(struct agent_config *c, const char *path)
{
	*c = (struct agent_config) {.heartbeat_usec = AGENT_HEARTBEAT_DEFAULT_USEC,
	        .health_watch_usec = AGENT_HEALTH_WATCH_DEFAULT_USEC};
	snprintf(c->config_path, sizeof(c->config_path), "%s", path);
	strcpy(c->state_dir, AGENT_STATE_DIR_DEFAULT);
	strcpy(c->apps_dir, AGENT_APPS_DIR_DEFAULT);
}

/* Checks between keys, once the whole file is read. */
static int
agent_config_finish(const char *name, struct agent_config *c, struct rw_err *err)
{
	bool tls = false;

	if (c->join_token[0] && c->join_token_file[0])
		return rw_err_set(
		        err, -EINVAL, "%s: set JoinToken= or JoinTokenFile=, not both", name);
	if (!c->coordinator[0])
		return 0;
	if (agent_coordinator_url_parse(c->coordinator, &tls, NULL, 0, err) < 0)
		return rw_err_prefix(err, -EINVAL, "%s", name);
	if (!tls && !c->insecure)
		return rw_err_set(err, -EINVAL,
		        "%s: Coordinator=%s is plain TCP (unauthenticated, unencrypted): use "
		        "tls+tcp:// with [TLS] CA=, or set Insecure=yes to allow it",
		        name, c->coordinator);
	if (tls && !c->tls_ca[0])
		return rw_err_set(err, -EINVAL,
		        "%s: Coordinator=%s needs [TLS] CA= (the coordinator's CA certificate)",
		        name, c->coordinator);
	return 0;
}

int
agent_config_parse(
        const char *name, const char *buf, size_t len, struct agent_config *ret, struct rw_err *err)
{
	struct agent_config c;
	int r;

	agent_config_init(&c, name);
	r = ini_parse_buffer(name, buf, len, 0, agent_handler, &c, err);
	if (r >= 0)
		r = agent_config_finish(name, &c, err);
	if (r < 0) {
		agent_config_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

int
agent_config_load(const char *path, struct agent_config *ret, struct rw_err *err)
{
	struct agent_config c;
	bool is_default = !path;
	int r;

	if (!path)
		path = AGENT_CONFIG_DEFAULT;
	agent_config_init(&c, path);
	if (is_default && access(path, F_OK) < 0 && errno == ENOENT) {
		*ret = c;
		return 0;
	}
	r = ini_parse_file(path, 0, agent_handler, &c, err);
	if (r >= 0)
		r = agent_config_finish(path, &c, err);
	if (r < 0) {
		agent_config_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

int
agent_config_join_token(
        const struct agent_config *c, char ret[static AGENT_JOIN_TOKEN_MAX + 1], struct rw_err *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	if (!c->join_token_file[0]) {
		strcpy(ret, c->join_token);
		return 0;
	}
	r = read_full_file(c->join_token_file, 4096, true, &buf, &len);
	if (r < 0)
		return rw_err_set(err, r, "cannot read JoinTokenFile= %s: %s", c->join_token_file,
		        strerror(-r));
	len = strcspn(buf, "\r\n");
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (len > AGENT_JOIN_TOKEN_MAX || !utf8_is_valid_text(buf, len)) {
		explicit_bzero(buf, strlen(buf));
		return rw_err_set(err, -EINVAL,
		        "JoinTokenFile= %s: the token must be one line of at most %d bytes of "
		        "printable text",
		        c->join_token_file, AGENT_JOIN_TOKEN_MAX);
	}
	memcpy(ret, buf, len);
	ret[len] = 0;
	explicit_bzero(buf, strlen(buf));
	return 0;
}

void
agent_config_done(struct agent_config *c)
{
	strv_free(c->trusted_keys);
	c->trusted_keys = NULL;
	explicit_bzero(c->join_token, sizeof(c->join_token));
}

static bool
unit_name_is_valid(const char *u)
{
	static const char *const suffixes[] = {".service", ".socket", ".target", ".timer", ".path"};
	size_t n = strlen(u);

	if (n == 0 || n > 255)
		return false;
	for (const char *p = u; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(":-_.@\\", *p))
			return false;
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		size_t l = strlen(suffixes[i]);

		if (n > l && streq(u + n - l, suffixes[i]))
			return true;
	}
	return false;
}

static bool
shared_dir_is_valid(const char *d)
{
	if (d[0] == '/' || strlen(d) > 255)
		return false;
	/* Relative, no '.' or '..' components, no empty components. */
	for (const char *p = d; *p;) {
		size_t l = strcspn(p, "/");

		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (strncmp(p, ".rollwave", 9) == 0 && (l == 9))
			return false;
		p += l;
		if (*p == '/')
			p++;
		if (*p == 0 && p[-1] == '/')
			return false;
	}
	return true;
}

static int
set_units(struct app_config *c, const char *value, const char *key, struct rw_err *err)
{
	int r = strv_extend(&c->units, value, err, key);

	if (r < 0)
		return r;
	for (char **u = c->units; u && *u; u++)
		if (!unit_name_is_valid(*u))
			return rw_err_set(err, -EINVAL, "invalid unit name '%s'", *u);
	return 0;
}

static int
set_shared_dirs(struct app_config *c, const char *value, const char *key, struct rw_err *err)
{
	int r = strv_extend(&c->shared_dirs, value, err, key);

	if (r < 0)
		return r;
	for (char **d = c->shared_dirs; d && *d; d++) {
		if (!shared_dir_is_valid(*d))
			return rw_err_set(err, -EINVAL,
			        "invalid shared dir '%s' (a relative path without '.' or '..')",
			        *d);
		/* One shared dir inside another would link through the first
		 * one's link. */
		for (char **o = c->shared_dirs; *o; o++) {
			size_t l = strlen(*o);

			if (o != d && strncmp(*d, *o, l) == 0 && ((*d)[l] == '/' || (*d)[l] == 0))
				return rw_err_set(
				        err, -EINVAL, "shared dirs '%s' and '%s' overlap", *o, *d);
		}
	}
	return 0;
}

/* A key of [App]; 1 if key is none of them. */
static int
app_key(struct app_config *c, const char *key, const char *value, struct rw_err *err)
{
	uint64_t v;
	int r;

	if (streq(key, "Name")) {
		if (!app_name_is_valid(value))
			return rw_err_set(err, -EINVAL,
			        "invalid app name '%s' (use a-z, 0-9, '-', '_')", value);
		strcpy(c->name, value);
		return 0;
	}
	if (streq(key, "Root"))
		return ini_set_path(c->root, sizeof(c->root), value, key, err);
	if (streq(key, "Units"))
		return set_units(c, value, key, err);
	if (streq(key, "KeepReleases")) {
		r = parse_uint64(value, &v);
		if (r < 0 || v < 2 || v > 1000)
			return rw_err_set(err, -EINVAL,
			        "KeepReleases= must be an integer from 2 to 1000, got '%s'", value);
		c->keep_releases = (unsigned)v;
		return 0;
	}
	if (streq(key, "SharedDirs"))
		return set_shared_dirs(c, value, key, err);
	return 1;
}

static int
set_http_get(struct app_config *c, const char *value, const char *key, struct rw_err *err)
{
	int r = strv_extend(&c->http_get, value, err, key);

	if (r < 0)
		return r;
	for (char **u = c->http_get; u && *u; u++)
		if (strncmp(*u, "http://", 7) != 0 && strncmp(*u, "https://", 8) != 0)
			return rw_err_set(err, -EINVAL,
			        "HttpGet= takes http:// or https:// URLs, got '%s'", *u);
	return 0;
}

static int
set_tcp_connect(struct app_config *c, const char *value, const char *key, struct rw_err *err)
{
	int r = strv_extend(&c->tcp_connect, value, err, key);

	if (r < 0)
		return r;
	for (char **u = c->tcp_connect; u && *u; u++) {
		const char *colon = strrchr(*u, ':');
		uint64_t port;

		if (!colon || colon == *u || parse_uint64(colon + 1, &port) < 0 || port == 0 ||
		        port > 65535)
			return rw_err_set(
			        err, -EINVAL, "TcpConnect= takes HOST:PORT, got '%s'", *u);
	}
	return 0;
}

/* A key of [Health]; 1 if key is none of them. */
static int
health_key(struct app_config *c, const char *key, const char *value, struct rw_err *err)
{
	if (streq(key, "HttpGet"))
		return set_http_get(c, value, key, err);
	if (streq(key, "TcpConnect"))
		return set_tcp_connect(c, value, key, err);
	if (streq(key, "Exec"))
		return strv_append_one(&c->exec, value, err, key);
	if (streq(key, "MinHealthy"))
		return set_duration(&c->min_healthy_usec, value, key, err);
	if (streq(key, "Deadline"))
		return set_duration(&c->deadline_usec, value, key, err);
	if (streq(key, "Interval"))
		return set_duration(&c->interval_usec, value, key, err);
	if (streq(key, "ProbeTimeout"))
		return set_duration(&c->probe_timeout_usec, value, key, err);
	return 1;
}

static int
app_handler(
        void *userdata, const char *section, const char *key, const char *value, struct rw_err *err)
{
	struct app_config *c = userdata;
	int r = 1;

	if (streq(section, "App"))
		r = app_key(c, key, value, err);
	else if (streq(section, "Health"))
		r = health_key(c, key, value, err);
	else if (streq(section, "Hooks")) {
		if (streq(key, "Timeout"))
			r = set_duration(&c->hook_timeout_usec, value, key, err);
	} else
		return rw_err_set(err, -EINVAL, "unknown section [%s]", section);
	if (r <= 0)
		return r;
	return rw_err_set(err, -EINVAL, "unknown key '%s' in [%s]", key, section);
}

int
app_config_parse(
        const char *name, const char *buf, size_t len, struct app_config *ret, struct rw_err *err)
{
	struct app_config c = {
	        .keep_releases = 5,
	        .min_healthy_usec = 10 * USEC_PER_SEC,
	        .deadline_usec = 120 * USEC_PER_SEC,
	        .interval_usec = 1 * USEC_PER_SEC,
	        .probe_timeout_usec = 5 * USEC_PER_SEC,
	        .hook_timeout_usec = 300 * USEC_PER_SEC,
	};
	int r;

	snprintf(c.path, sizeof(c.path), "%s", name);
	r = ini_parse_buffer(name, buf, len, 0, app_handler, &c, err);
	if (r < 0)
		goto fail;
	r = -EINVAL;
	if (!c.name[0]) {
		rw_err_set(err, r, "%s: [App] Name= is required", name);
		goto fail;
	}
	if (!c.root[0]) {
		rw_err_set(err, r, "%s: [App] Root= is required", name);
		goto fail;
	}
	if (c.interval_usec == 0 || c.deadline_usec == 0) {
		rw_err_set(err, r, "%s: Interval= and Deadline= must be greater than 0", name);
		goto fail;
	}
	if (c.min_healthy_usec > c.deadline_usec) {
		rw_err_set(err, r, "%s: MinHealthy= is longer than Deadline=", name);
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	app_config_done(&c);
	return r;
}

int
app_config_load(
        const struct agent_config *ac, const char *app, struct app_config *ret, struct rw_err *err)
{
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX];
	struct app_config c;
	size_t len;
	int r;

	if (!app_name_is_valid(app))
		return rw_err_set(err, -EINVAL, "invalid app name '%s'", app);
	r = xsnprintf(path, sizeof(path), "%s/%s.conf", ac->apps_dir, app);
	if (r < 0)
		return rw_err_set(err, r, "apps directory path too long");
	r = read_full_file(path, INI_FILE_MAX, true, &buf, &len);
	if (r == -ENOENT)
		return rw_err_set(
		        err, r, "app '%s' is not configured: %s does not exist", app, path);
	if (r < 0)
		return rw_err_set(err, r, "cannot read %s: %s", path, strerror(-r));
	r = app_config_parse(path, buf, len, &c, err);
	if (r < 0)
		return r;
	if (!streq(c.name, app)) {
		rw_err_set(
		        err, -EINVAL, "%s: Name='%s' does not match the file name", path, c.name);
		app_config_done(&c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

void
app_config_done(struct app_config *c)
{
	strv_free(c->units);
	strv_free(c->shared_dirs);
	strv_free(c->http_get);
	strv_free(c->tcp_connect);
	strv_free(c->exec);
	c->units = c->shared_dirs = c->http_get = c->tcp_connect = c->exec = NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
app_config_list(const struct agent_config *ac, char ***ret_names, struct rw_err *err)
{
	_cleanup_strv_free_ char **names = NULL;
	struct dirent *de;
	size_t n = 0, cap = 0;
	DIR *d;

	d = opendir(ac->apps_dir);
	if (!d) {
		if (errno == ENOENT) {
			names = calloc(1, sizeof(char *));
			if (!names)
				return -ENOMEM;
			*ret_names = TAKE_PTR(names);
			return 0;
		}
		return rw_err_set(err, -errno, "cannot open %s: %m", ac->apps_dir);
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char name[APP_NAME_MAX + 1];

		if (l <= 5 || !streq(de->d_name + l - 5, ".conf") || l - 5 > APP_NAME_MAX)
			continue;
		memcpy(name, de->d_name, l - 5);
		name[l - 5] = 0;
		if (!app_name_is_valid(name))
			continue;
		if (n + 2 > cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(names, ncap * sizeof(char *));

			if (!nv) {
				closedir(d);
				return -ENOMEM;
			}
			names = nv;
			cap = ncap;
		}
		names[n] = strdup(name);
		if (!names[n]) {
			closedir(d);
			return -ENOMEM;
		}
		names[++n] = NULL;
	}
	closedir(d);
	if (!names) {
		names = calloc(1, sizeof(char *));
		if (!names)
			return -ENOMEM;
	}
	qsort(names, n, sizeof(char *), cmp_str);
	*ret_names = TAKE_PTR(names);
	return 0;
}
