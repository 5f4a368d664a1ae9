/*
 * coordinator_config: strict parser of coordinator.conf. See config.h.
 */
#include "coordinator_config.h"

#include <ctype.h>

#include "ini.h"

static int
set_str(char *dst, size_t size, const char *value, const char *key, struct rw_err *err)
{
	if (xsnprintf(dst, size, "%s", value) < 0)
		return rw_err_set(err, -ENAMETOOLONG, "%s= is too long", key);
	return 0;
}

static int
set_path(char *dst, size_t size, const char *value, const char *key, struct rw_err *err)
{
	if (value[0] != '/')
		return rw_err_set(
		        err, -EINVAL, "%s= must be an absolute path, got '%s'", key, value);
	return set_str(dst, size, value, key, err);
}

static bool
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
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
			return set_path(c->database, sizeof(c->database), value, key, err);
		if (streq(key, "KeyFile"))
			return set_path(c->key_file, sizeof(c->key_file), value, key, err);
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
			return set_path(
			        c->join_token_file, sizeof(c->join_token_file), value, key, err);
	} else if (streq(section, "TLS")) {
		if (streq(key, "Certificate"))
			return set_path(
			        c->tls_certificate, sizeof(c->tls_certificate), value, key, err);
		if (streq(key, "Key"))
			return set_path(c->tls_key, sizeof(c->tls_key), value, key, err);
		if (streq(key, "CA"))
			return set_path(c->tls_ca, sizeof(c->tls_ca), value, key, err);
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
