/*
 * config: the agent's configuration files.
 *
 *   /etc/rollwave/agent.conf        [Agent] StateDirectory= AppsDirectory=
 *                                   TrustedKeys= Coordinator= Labels=
 *                                   HeartbeatInterval= Insecure=
 *                                   JoinToken= JoinTokenFile=
 *                                   [TLS] CA=
 *   /etc/rollwave/apps/<app>.conf   [App] [Health] [Hooks]
 *
 * Parsing is strict: unknown sections and keys, bad durations and integers
 * are errors carrying FILE:LINE. Repeated list keys (Units=, HttpGet=, ...)
 * append; an empty assignment resets the list, as in systemd.
 */
#ifndef ROLLWAVE_AGENT_CONFIG_H
#define ROLLWAVE_AGENT_CONFIG_H

#include <limits.h>

#include "util.h"
#include "version.h"

#define AGENT_CONFIG_DEFAULT    "/etc/rollwave/agent.conf"
#define AGENT_STATE_DIR_DEFAULT "/var/lib/rollwave-agent"
#define AGENT_APPS_DIR_DEFAULT  "/etc/rollwave/apps"
#define CONFIG_LIST_MAX         64

/* Bounds of docs/protocol.md for host labels. */
#define AGENT_LABELS_MAX             32
#define AGENT_LABEL_KEY_MAX          63
#define AGENT_LABEL_VALUE_MAX        255
#define AGENT_COORDINATOR_URL_MAX    1024
#define AGENT_JOIN_TOKEN_MAX         256
#define AGENT_HEARTBEAT_DEFAULT_USEC (5 * USEC_PER_SEC)
#define AGENT_HEARTBEAT_MIN_USEC     (100 * USEC_PER_MSEC)
#define AGENT_HEARTBEAT_MAX_USEC     (3600 * USEC_PER_SEC)
/* HealthWatch=: how often `run` probes each app's current release between
 * operations (0: never). */
#define AGENT_HEALTH_WATCH_DEFAULT_USEC (10 * USEC_PER_SEC)
#define AGENT_HEALTH_WATCH_MIN_USEC     (1 * USEC_PER_SEC)
#define AGENT_HEALTH_WATCH_MAX_USEC     (3600 * USEC_PER_SEC)

struct agent_label {
	char key[AGENT_LABEL_KEY_MAX + 1];
	char value[AGENT_LABEL_VALUE_MAX + 1];
};

struct agent_config {
	char config_path[PATH_MAX];
	char state_dir[PATH_MAX];
	char apps_dir[PATH_MAX];
	char **trusted_keys; /* paths of minisign public key files */

	/* The coordinator link (`rollwave-agent run`). coordinator is "" when
	 * the agent runs standalone. */
	char coordinator[AGENT_COORDINATOR_URL_MAX + 1]; /* tls+tcp:// or (Insecure) tcp:// */
	bool insecure;
	uint64_t heartbeat_usec;
	uint64_t health_watch_usec; /* 0: off */
	struct agent_label labels[AGENT_LABELS_MAX];
	size_t n_labels;
	char join_token[AGENT_JOIN_TOKEN_MAX + 1]; /* secret: never logged, wiped by _done() */
	char join_token_file[PATH_MAX];
	char tls_ca[PATH_MAX]; /* [TLS] CA=: the coordinator's CA certificate (PEM) */
};

struct app_config {
	char name[APP_NAME_MAX + 1];
	char path[PATH_MAX]; /* the file it came from */
	char root[PATH_MAX];
	char **units;
	unsigned keep_releases;
	char **shared_dirs;

	/* [Health] */
	char **http_get;
	char **tcp_connect;
	char **exec;
	uint64_t min_healthy_usec;
	uint64_t deadline_usec;
	uint64_t interval_usec;
	uint64_t probe_timeout_usec;

	/* [Hooks] */
	uint64_t hook_timeout_usec;
};

/* Loads agent.conf from path (NULL: the default). A missing default file is
 * not an error: defaults apply. */
int agent_config_load(const char *path, struct agent_config *ret, struct rw_err *err);
void agent_config_done(struct agent_config *c);
/* Parses agent.conf from a buffer (for tests and fuzzing); name is used in
 * error messages. */
int agent_config_parse(const char *name, const char *buf, size_t len, struct agent_config *ret,
        struct rw_err *err);

/* Parses a Labels= value ("datacenter=fra ring=0") and appends its labels to
 * labels[*n] (capacity AGENT_LABELS_MAX). Keys are 1..63 bytes of
 * [a-z0-9_.-] and unique, values at most 255 bytes of printable UTF-8
 * without spaces (may be empty). On error *n and labels are unchanged. */
int agent_labels_parse(
        const char *value, struct agent_label labels[], size_t *n, struct rw_err *err);

/* Splits a Coordinator= URL: scheme tls+tcp:// (ret_tls true) or tcp://,
 * then HOST:PORT or [IPV6]:PORT with a port from 1 to 65535. ret_host (size
 * bytes, may be NULL) gets the host without brackets: the TLS server name. */
int agent_coordinator_url_parse(
        const char *url, bool *ret_tls, char *ret_host, size_t size, struct rw_err *err);

/* The join token from JoinToken= or the first line of JoinTokenFile= (""
 * when neither is set). ret holds AGENT_JOIN_TOKEN_MAX + 1 bytes; the caller
 * wipes it. */
int agent_config_join_token(const struct agent_config *c, char ret[static AGENT_JOIN_TOKEN_MAX + 1],
        struct rw_err *err);

/* Loads <apps_dir>/<app>.conf and checks that Name= matches app. */
int app_config_load(
        const struct agent_config *ac, const char *app, struct app_config *ret, struct rw_err *err);
/* Parses one app config from a buffer (for tests and fuzzing). */
int app_config_parse(
        const char *name, const char *buf, size_t len, struct app_config *ret, struct rw_err *err);
void app_config_done(struct app_config *c);

/* Lists the apps configured in apps_dir (names of *.conf files, sorted). */
int app_config_list(const struct agent_config *ac, char ***ret_names, struct rw_err *err);

#endif
