/*
 * cli_deployment: a deployment sent with --hosts (`rollwave deploy --hosts`,
 * `rollwave rollback --hosts`): one task to each listed host at once,
 * followed until every host is final or the timeout.
 *
 *   Deploy or Rollback{..., host_ids} -> DeployResult (queued or sent)
 *   ListHosts -> the hostnames, and which hosts are down (said at once)
 *   then every CLI_DEPLOY_POLL_MS: GetDeployment{id} -> DeployResult
 *   until every host is final or --timeout passes.
 */
#ifndef ROLLWAVE_CLI_DEPLOYMENT_H
#define ROLLWAVE_CLI_DEPLOYMENT_H

#include "cli.h"
#include "rollwave.pb-c.h"

#define CLI_DEPLOY_TIMEOUT_USEC (30 * 60 * USEC_PER_SEC)
#define CLI_DEPLOY_POLL_MS      500

struct cli_deployment {
	const struct cli_verb *verb;
	const char *app;
	const char *version; /* deploy: VERSION; rollback: --to VERSION or NULL */
	uint64_t *host_ids;  /* as given, no duplicates; owned by the verb */
	size_t n_host_ids;
	uint64_t timeout_usec;
	bool json;
};

/* Fills d->host_ids, d->n_host_ids and d->timeout_usec from --hosts (NULL:
 * missing) and --timeout (NULL: CLI_DEPLOY_TIMEOUT_USEC). Returns -1 to go
 * on, or an exit code (the usage error is logged). */
int cli_deployment_options(const struct cli_verb *verb, const char *hosts, const char *timeout,
        struct cli_deployment *d);

/* Sends req (Deploy or Rollback), prints the deployment id and each host's
 * command id, warns at once (stderr) about the hosts that are down, whose
 * commands wait in the coordinator until they are back, then polls
 * GetDeployment printing each host's state and phase changes until every
 * host is final or d->timeout_usec passes, then a summary and a table, or
 * with d->json one JSON document. Returns CLI_EXIT_OK only if every host
 * committed. */
int cli_deployment_run(const struct cli_deployment *d, const Rollwave__AdminRequest *req);

#endif
