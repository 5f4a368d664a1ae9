/*
 * coordinator_config: /etc/rollwave/coordinator.conf.
 *
 *   [Coordinator]
 *   Listen=tls+tcp://0.0.0.0:7400        agents' URL
 *   AdminSocket=ipc:///run/rollwave/admin.sock
 *   Database=/var/lib/rollwave-coordinator/state.db
 *   KeyFile=/var/lib/rollwave-coordinator/coordinator.key
 *   MetricsListen=127.0.0.1:9470
 *   Insecure=no                          yes allows plain tcp:// Listen=
 *   JoinToken=...  or  JoinTokenFile=/etc/rollwave/join-token
 *   HeartbeatInterval=5s                 what agents use; 3 missed: down
 *   [TLS]
 *   Certificate=/etc/rollwave/tls/coordinator.pem   certificate + key, PEM
 *   Key=                                 only if the key is a separate file
 *   CA=/etc/rollwave/tls/ca.crt
 *
 * Strict like every rollwave config: unknown keys are errors with FILE:LINE.
 */
#ifndef ROLLWAVE_COORDINATOR_CONFIG_H
#define ROLLWAVE_COORDINATOR_CONFIG_H

#include <limits.h>

#include "util.h"

#define COORDINATOR_CONFIG_DEFAULT "/etc/rollwave/coordinator.conf"
#define JOIN_TOKEN_MAX             128

struct coordinator_config {
	char config_path[PATH_MAX];
	char listen[512];
	char admin_socket[512];
	char database[PATH_MAX];
	char key_file[PATH_MAX];
	char metrics_listen[256];
	bool insecure;
	char join_token[JOIN_TOKEN_MAX + 1];
	char join_token_file[PATH_MAX];
	uint64_t heartbeat_interval_usec;
	char tls_certificate[PATH_MAX];
	char tls_key[PATH_MAX];
	char tls_ca[PATH_MAX];
};

/* Loads path (NULL: the default; a missing default file means defaults). */
int coordinator_config_load(const char *path, struct coordinator_config *ret, struct rw_err *err);
int coordinator_config_parse(const char *name, const char *buf, size_t len,
        struct coordinator_config *ret, struct rw_err *err);

/* The host part of Listen= ("0.0.0.0", "[::1]", "coord.example"), "" if none. */
int coordinator_config_listen_host(const struct coordinator_config *c, char *buf, size_t size);

#endif
