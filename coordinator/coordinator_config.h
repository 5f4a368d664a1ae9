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
 *   [Freeze]                             fleet-wide, for every deployment
 *   Window=Fri 16:00-Mon 08:00           syntax of Freeze= (freeze.h); repeat
 *                                        for more, an empty value clears them
 *   Policy=wait                          or refuse
 *
 * Strict like every rollwave config: unknown keys are errors with FILE:LINE.
 */
#ifndef ROLLWAVE_COORDINATOR_CONFIG_H
#define ROLLWAVE_COORDINATOR_CONFIG_H

#include <limits.h>

#include "freeze.h"
#include "util.h"

#define COORDINATOR_CONFIG_DEFAULT "/etc/rollwave/coordinator.conf"
#define JOIN_TOKEN_MAX             128
#define COORDINATOR_FREEZE_MAX     16 /* = DEPLOY_FREEZE_MAX, which they share */

struct deploy_params;

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
	struct freeze_window freeze[COORDINATOR_FREEZE_MAX]; /* [Freeze] Window= */
	size_t n_freeze;
	enum freeze_policy freeze_policy; /* [Freeze] Policy=, default wait */
};

/* Loads path (NULL: the default; a missing default file means defaults). */
int coordinator_config_load(const char *path, struct coordinator_config *ret, struct rw_err *err);
int coordinator_config_parse(const char *name, const char *buf, size_t len,
        struct coordinator_config *ret, struct rw_err *err);

/* The host part of Listen= ("0.0.0.0", "[::1]", "coord.example"), "" if none. */
int coordinator_config_listen_host(const struct coordinator_config *c, char *buf, size_t size);

/* Merges the fleet's [Freeze] windows into a new deployment's options p, as
 * if the deployer had given them: deploy_params_set(p, "Freeze", spec) for
 * each window p does not already have (same kind, start and end), so they
 * are marked set, written by deploy_params_to_ini() and shown by plan and
 * status; and, if cfg has windows and Policy=refuse, FreezePolicy=refuse
 * (the stricter policy wins; it then covers p's own windows too). No fleet
 * windows: p is left alone. Fails with -E2BIG if p's windows and the
 * fleet's together exceed DEPLOY_FREEZE_MAX, err saying so; p is unchanged
 * on failure. For new deployments only: rollbacks ignore freezes, and a
 * resumed deployment already has the windows in its stored options. */
int coordinator_freeze_apply(
        const struct coordinator_config *cfg, struct deploy_params *p, struct rw_err *err);

#endif
