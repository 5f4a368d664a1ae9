/*
 * coordinator_config: strict parser of coordinator.conf. See config.h.
 */
#include "coordinator_config.h"

#include <ctype.h>

#include "deploy_params.h"
#include "ini.h"

_Static_assert(COORDINATOR_FREEZE_MAX == DEPLOY_FREEZE_MAX,
        "fleet freeze windows must fit a deployment's Freeze= list");

static int
set_str(char *dst, size_t size, const char *value, const char *key, struct rw_err *err)
{
	if (xsnprintf(dst, size, "%s", value) < 0)
		return rw_err_set(err, -ENAMETOOLONG, "%s= is too long", key);
	return 0;
}

static bool
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int
set_freeze_window(struct coordinator_config *c, const char *value, struct rw_err *err)
{
	struct freeze_window w;
	struct rw_err e = {{0}};
	int r;

	/* Empty: clears the windows listed so far, like Freeze=. */
	if (isempty(value)) {
		c->n_freeze = 0;
		return 0;
	}
	if (c->n_freeze >= COORDINATOR_FREEZE_MAX)
		return rw_err_set(err, -E2BIG, "Window= takes at most %d windows, got '%s' beyond",
		        COORDINATOR_FREEZE_MAX, value);
	r = freeze_window_parse(value, &w, &e);
	if (r < 0)
		return rw_err_set(err, r, "Window= %s", e.msg);
	c->freeze[c->n_freeze++] = w;
	return 0;
}

static int
coordinator_handler(
        void *userdata, const char *section, const char *key, const char *value, struct rw_err *err)
{
	struct coordinator_config *c = userdata;

	if (streq(section, "Coordinator")) {
		if (streq(key, "Listen")) {
			if (!has_prefix(value, "tls+tcp://") && !has_prefix(value, "tcp://"))
				return rw_err_set(err, -EINVAL,
				        "Listen= takes tls+tcp://HOST:PORT (or tcp:// with "
				        "Insecure=yes), got '%s'",
				        value);
			return set_str(c->listen, sizeof(c->listen), value, key, err);
		}
		if (streq(key, "AdminSocket")) {
			if (!has_prefix(value, "ipc:///") && !has_prefix(value, "tls+tcp://"))
				return rw_err_set(err, -EINVAL,
				        "AdminSocket= takes ipc:///PATH or tls+tcp://HOST:PORT, "
				        "got '%s'",
				        value);
			return set_str(c->admin_socket, sizeof(c->admin_socket), value, key, err);
		}
		if (streq(key, "Database"))
			return ini_set_path(c->database, sizeof(c->database), value, key, err);
		if (streq(key, "KeyFile"))
			return ini_set_path(c->key_file, sizeof(c->key_file), value, key, err);
		if (streq(key, "MetricsListen")) {
			const char *colon = strrchr(value, ':');
			char *end;
			long port = colon ? strtol(colon + 1, &end, 10) : 0;

			/* Empty: no metrics endpoint. */
			if (value[0] &&
			        (!colon || colon == value || strpbrk(value, "/ ") || !colon[1] ||
			                *end || port < 1 || port > 65535))
				return rw_err_set(err, -EINVAL,
				        "MetricsListen= takes HOST:PORT (e.g. 127.0.0.1:9470), or "
				        "nothing to serve no metrics; got '%s'",
				        value);
			return set_str(
			        c->metrics_listen, sizeof(c->metrics_listen), value, key, err);
		}
		if (streq(key, "Insecure")) {
			if (parse_bool(value, &c->insecure) < 0)
				return rw_err_set(
				        err, -EINVAL, "Insecure= takes yes or no, got '%s'", value);
			return 0;
		}
		if (streq(key, "JoinToken")) {
			if (strlen(value) < 16)
				return rw_err_set(
				        err, -EINVAL, "JoinToken= must be at least 16 characters");
			for (const char *p = value; *p; p++)
				if (!isgraph((unsigned char)*p))
					return rw_err_set(err, -EINVAL,
					        "JoinToken= must not contain spaces or control "
					        "characters");
			return set_str(c->join_token, sizeof(c->join_token), value, key, err);
		}
		if (streq(key, "HeartbeatInterval")) {
			if (parse_duration_usec(value, &c->heartbeat_interval_usec) < 0 ||
			        c->heartbeat_interval_usec < 100 * USEC_PER_MSEC)
				return rw_err_set(err, -EINVAL,
				        "HeartbeatInterval= takes a duration of at least 100ms, "
				        "got '%s'",
				        value);
			return 0;
		}
		if (streq(key, "JoinTokenFile"))
			return ini_set_path(
			        c->join_token_file, sizeof(c->join_token_file), value, key, err);
	} else if (streq(section, "TLS")) {
		if (streq(key, "Certificate"))
			return ini_set_path(
			        c->tls_certificate, sizeof(c->tls_certificate), value, key, err);
		if (streq(key, "Key"))
			return ini_set_path(c->tls_key, sizeof(c->tls_key), value, key, err);
		if (streq(key, "CA"))
			return ini_set_path(c->tls_ca, sizeof(c->tls_ca), value, key, err);
	} else if (streq(section, "Freeze")) {
		if (streq(key, "Window"))
			return set_freeze_window(c, value, err);
		if (streq(key, "Policy")) {
			if (streq(value, "wait"))
				c->freeze_policy = FREEZE_POLICY_WAIT;
			else if (streq(value, "refuse"))
				c->freeze_policy = FREEZE_POLICY_REFUSE;
			else
				return rw_err_set(err, -EINVAL,
				        "Policy= takes wait or refuse, got '%s'", value);
			return 0;
		}
	} else
		return rw_err_set(err, -EINVAL, "unknown section [%s]", section);
	return rw_err_set(err, -EINVAL, "unknown key '%s' in [%s]", key, section);
}

static void
set_defaults(struct coordinator_config *c)
{
	*c = (struct coordinator_config) {0};
	strcpy(c->listen, "tls+tcp://0.0.0.0:7400");
	strcpy(c->admin_socket, "ipc:///run/rollwave/admin.sock");
	strcpy(c->database, "/var/lib/rollwave-coordinator/state.db");
	strcpy(c->key_file, "/var/lib/rollwave-coordinator/coordinator.key");
	strcpy(c->metrics_listen, "127.0.0.1:9470");
	strcpy(c->join_token_file, "/etc/rollwave/join-token");
	c->heartbeat_interval_usec = 5 * USEC_PER_SEC;
	strcpy(c->tls_certificate, "/etc/rollwave/tls/coordinator.pem");
	strcpy(c->tls_ca, "/etc/rollwave/tls/ca.crt");
	c->freeze_policy = FREEZE_POLICY_WAIT;
}

int
coordinator_config_parse(const char *name, const char *buf, size_t len,
        struct coordinator_config *ret, struct rw_err *err)
{
	struct coordinator_config c;
	int r;

	set_defaults(&c);
	strbuf_printf(c.config_path, sizeof(c.config_path), "%s", name);
	r = ini_parse_buffer(name, buf, len, 0, coordinator_handler, &c, err);
	if (r < 0)
		return r;
	if (has_prefix(c.listen, "tcp://") && !c.insecure)
		return rw_err_set(err, -EINVAL,
		        "%s: Listen=%s is plain TCP; use tls+tcp://, or set Insecure=yes to "
		        "accept unauthenticated, unencrypted agent links",
		        name, c.listen);
	*ret = c;
	return 0;
}

int
coordinator_config_load(const char *path, struct coordinator_config *ret, struct rw_err *err)
{
	_cleanup_free_ char *buf = NULL;
	bool is_default = !path;
	size_t len;
	int r;

	if (!path)
		path = COORDINATOR_CONFIG_DEFAULT;
	r = read_full_file(path, INI_FILE_MAX, true, &buf, &len);
	if (r == -ENOENT && is_default) {
		set_defaults(ret);
		strbuf_printf(ret->config_path, sizeof(ret->config_path), "%s", path);
		return 0;
	}
	if (r < 0)
		return rw_err_set(err, r, "cannot read %s: %s", path, strerror(-r));
	return coordinator_config_parse(path, buf, len, ret, err);
}

int
coordinator_config_listen_host(const struct coordinator_config *c, char *buf, size_t size)
{
	const char *p = strstr(c->listen, "://"), *end;

	if (!p)
		return -EINVAL;
	p += 3;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return -EINVAL;
		p++;
	} else
		end = strrchr(p, ':');
	if (!end)
		end = p + strlen(p);
	if ((size_t)(end - p) >= size)
		return -ENAMETOOLONG;
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = 0;
	return 0;
}

static bool
freeze_window_same(const struct freeze_window *a, const struct freeze_window *b)
{
	return a->kind == b->kind && a->start == b->start && a->end == b->end;
}

static bool
params_have_window(const struct deploy_params *p, const struct freeze_window *w)
{
	for (size_t i = 0; i < p->n_freeze; i++)
		if (freeze_window_same(&p->freeze[i], w))
			return true;
	return false;
}

/* The fleet's window i is new to p: not in p, nor an earlier fleet window. */
static bool
fleet_window_is_new(const struct coordinator_config *cfg, size_t i, const struct deploy_params *p)
{
	for (size_t j = 0; j < i; j++)
		if (freeze_window_same(&cfg->freeze[j], &cfg->freeze[i]))
			return false;
	return !params_have_window(p, &cfg->freeze[i]);
}

int
coordinator_freeze_apply(
        const struct coordinator_config *cfg, struct deploy_params *p, struct rw_err *err)
{
	_cleanup_free_ struct deploy_params *q = NULL;
	size_t n_new = 0;
	int r;

	if (cfg->n_freeze == 0)
		return 0;
	for (size_t i = 0; i < cfg->n_freeze; i++)
		if (fleet_window_is_new(cfg, i, p))
			n_new++;
	if (p->n_freeze + n_new > DEPLOY_FREEZE_MAX)
		return rw_err_set(err, -E2BIG,
		        "the deployment's %zu Freeze= window(s) and the %zu fleet-wide window(s) "
		        "of %s [Freeze] make more than %d; drop some of the deployment's",
		        p->n_freeze, n_new, cfg->config_path, DEPLOY_FREEZE_MAX);

	/* On a copy, so that p is unchanged if a window is refused. */
	q = malloc(sizeof(*q));
	if (!q)
		return rw_err_set(err, -ENOMEM, "out of memory");
	*q = *p;
	for (size_t i = 0; i < cfg->n_freeze; i++) {
		if (!fleet_window_is_new(cfg, i, p))
			continue;
		r = deploy_params_set(q, "Freeze", cfg->freeze[i].spec, err);
		if (r < 0)
			return rw_err_prefix(err, r, "%s [Freeze] Window=%s", cfg->config_path,
			        cfg->freeze[i].spec);
	}
	if (cfg->freeze_policy == FREEZE_POLICY_REFUSE) {
		r = deploy_params_set(q, "FreezePolicy", "refuse", err);
		if (r < 0)
			return r;
	}
	*p = *q;
	return 0;
}
