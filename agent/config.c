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
set_path(char *dst, size_t size, const char *value, const char *key, struct rw_err *err)
{
	if (value[0] != '/')
		return rw_err_set(
		        err, -EINVAL, "%s= must be an absolute path, got '%s'", key, value);
	if (strstr(value, "/../") ||
	        (strlen(value) >= 3 && streq(value + strlen(value) - 3, "/..")))
		return rw_err_set(err, -EINVAL, "%s= must not contain '..', got '%s'", key, value);
	if (xsnprintf(dst, size, "%s", value) < 0)
		return rw_err_set(err, -ENAMETOOLONG, "%s= path too long", key);
	/* Drop trailing slashes so that "<root>/current" is well formed. */
	for (size_t l = strlen(dst); l > 1 && dst[l - 1] == '/'; l--)
		dst[l - 1] = 0;
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

static int
agent_handler(
        void *userdata, const char *section, const char *key, const char *value, struct rw_err *err)
{
	struct agent_config *c = userdata;

	if (!streq(section, "Agent"))
		return rw_err_set(err, -EINVAL, "unknown section [%s]", section);
	if (streq(key, "StateDirectory"))
		return set_path(c->state_dir, sizeof(c->state_dir), value, key, err);
	if (streq(key, "AppsDirectory"))
		return set_path(c->apps_dir, sizeof(c->apps_dir), value, key, err);
	if (streq(key, "TrustedKeys"))
		return strv_extend(&c->trusted_keys, value, err, key);
	return rw_err_set(err, -EINVAL, "unknown key '%s' in [%s]", key, section);
}

int
agent_config_load(const char *path, struct agent_config *ret, struct rw_err *err)
{
	struct agent_config c = {0};
	bool is_default = !path;
	int r;

	if (!path)
		path = AGENT_CONFIG_DEFAULT;
	snprintf(c.config_path, sizeof(c.config_path), "%s", path);
	strcpy(c.state_dir, AGENT_STATE_DIR_DEFAULT);
	strcpy(c.apps_dir, AGENT_APPS_DIR_DEFAULT);

	if (is_default && access(path, F_OK) < 0 && errno == ENOENT) {
		*ret = c;
		return 0;
	}
	r = ini_parse_file(path, 0, agent_handler, &c, err);
	if (r < 0) {
		agent_config_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

void
agent_config_done(struct agent_config *c)
{
	strv_free(c->trusted_keys);
	c->trusted_keys = NULL;
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
app_handler(
        void *userdata, const char *section, const char *key, const char *value, struct rw_err *err)
{
	struct app_config *c = userdata;
	uint64_t v;
	int r;

	if (streq(section, "App")) {
		if (streq(key, "Name")) {
			if (!app_name_is_valid(value))
				return rw_err_set(err, -EINVAL,
				        "invalid app name '%s' (use a-z, 0-9, '-', '_')", value);
			strcpy(c->name, value);
			return 0;
		}
		if (streq(key, "Root"))
			return set_path(c->root, sizeof(c->root), value, key, err);
		if (streq(key, "Units")) {
			r = strv_extend(&c->units, value, err, key);
			if (r < 0)
				return r;
			for (char **u = c->units; u && *u; u++)
				if (!unit_name_is_valid(*u))
					return rw_err_set(
					        err, -EINVAL, "invalid unit name '%s'", *u);
			return 0;
		}
		if (streq(key, "KeepReleases")) {
			r = parse_uint64(value, &v);
			if (r < 0 || v < 2 || v > 1000)
				return rw_err_set(err, -EINVAL,
				        "KeepReleases= must be an integer from 2 to 1000, got '%s'",
				        value);
			c->keep_releases = (unsigned)v;
			return 0;
		}
		if (streq(key, "SharedDirs")) {
			r = strv_extend(&c->shared_dirs, value, err, key);
			if (r < 0)
				return r;
			for (char **d = c->shared_dirs; d && *d; d++) {
				if (!shared_dir_is_valid(*d))
					return rw_err_set(err, -EINVAL,
					        "invalid shared dir '%s' (a relative path without "
					        "'.' or '..')",
					        *d);
				/* One shared dir inside another would link through
				 * the first one's link. */
				for (char **o = c->shared_dirs; *o; o++) {
					size_t l = strlen(*o);

					if (o != d && strncmp(*d, *o, l) == 0 &&
					        ((*d)[l] == '/' || (*d)[l] == 0))
						return rw_err_set(err, -EINVAL,
						        "shared dirs '%s' and '%s' overlap", *o,
						        *d);
				}
			}
			return 0;
		}
	} else if (streq(section, "Health")) {
		if (streq(key, "HttpGet")) {
			r = strv_extend(&c->http_get, value, err, key);
			if (r < 0)
				return r;
			for (char **u = c->http_get; u && *u; u++)
				if (strncmp(*u, "http://", 7) != 0 &&
				        strncmp(*u, "https://", 8) != 0)
					return rw_err_set(err, -EINVAL,
					        "HttpGet= takes http:// or https:// URLs, got '%s'",
					        *u);
			return 0;
		}
		if (streq(key, "TcpConnect")) {
			r = strv_extend(&c->tcp_connect, value, err, key);
			if (r < 0)
				return r;
			for (char **u = c->tcp_connect; u && *u; u++) {
				const char *colon = strrchr(*u, ':');
				uint64_t port;

				if (!colon || colon == *u || parse_uint64(colon + 1, &port) < 0 ||
				        port == 0 || port > 65535)
					return rw_err_set(err, -EINVAL,
					        "TcpConnect= takes HOST:PORT, got '%s'", *u);
			}
			return 0;
		}
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
	} else if (streq(section, "Hooks")) {
		if (streq(key, "Timeout"))
			return set_duration(&c->hook_timeout_usec, value, key, err);
	} else
		return rw_err_set(err, -EINVAL, "unknown section [%s]", section);
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
