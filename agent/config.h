/*
 * config: the agent's configuration files.
 *
 *   /etc/rollwave/agent.conf        [Agent] StateDirectory= AppsDirectory=
 *                                   TrustedKeys=
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

struct agent_config {
	char config_path[PATH_MAX];
	char state_dir[PATH_MAX];
	char apps_dir[PATH_MAX];
	char **trusted_keys; /* paths of minisign public key files */
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
