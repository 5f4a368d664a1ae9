/*
 * cli: the `rollwave` admin command line.
 *
 * main.c dispatches argv[1] through a table of verbs; each verb lives in its
 * own cmd_<verb>.c and exports one const struct cli_verb. Adding a verb is
 * one file, its extern line below and one row in main.c's cli_verbs[].
 *
 * Global options come before the verb: `--coordinator URL` and `--ca FILE`
 * (main.c stores them in cli_admin_options, admin.h) say where the verbs that
 * ask the coordinator send their request.
 *
 * Verbs return a process exit code: CLI_EXIT_OK, CLI_EXIT_FAILURE when the
 * operation failed (after logging a one-line reason), CLI_EXIT_USAGE for bad
 * command lines. Only main() calls exit().
 */
#ifndef ROLLWAVE_CLI_H
#define ROLLWAVE_CLI_H

#include "minisign.h"
#include "util.h"

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,
	CLI_EXIT_USAGE = 2,
};

struct cli_verb {
	const char *name;
	const char *summary; /* one line for `rollwave help` */
	const char *usage;   /* full usage text, printed by `rollwave help <verb>` */
	/* argv[0] is the verb's name. Returns an exit code. */
	int (*run)(int argc, char **argv);
};

extern const struct cli_verb cmd_release_entry;
extern const struct cli_verb cmd_hosts_entry;
extern const struct cli_verb cmd_host_entry;
extern const struct cli_verb cmd_apps_entry;
extern const struct cli_verb cmd_events_entry;
extern const struct cli_verb cmd_deploy_entry;
extern const struct cli_verb cmd_rollback_entry;
extern const struct cli_verb cmd_plan_entry;
extern const struct cli_verb cmd_status_entry;
extern const struct cli_verb cmd_watch_entry;
extern const struct cli_verb cmd_approve_entry;
extern const struct cli_verb cmd_pause_entry;
extern const struct cli_verb cmd_resume_entry;
extern const struct cli_verb cmd_abort_entry;
extern const struct cli_verb cmd_history_entry;

/* Deployments through waves (cmd_waves.c): `deploy` without --hosts and
 * `rollback` without --hosts land here. */
int cli_waves_deploy(int argc, char **argv);
int cli_waves_rollback(int argc, char **argv);

/* `rollwave release create` (cmd_release_create.c); argv[0] is "create". */
int cmd_release_create(int argc, char **argv);

/* `rollwave deploy` and `rollwave rollback` (cmd_deploy.c): a deployment
 * to a set of hosts, followed until every host is final or the timeout. */
#define CLI_DEPLOY_TIMEOUT_USEC (30 * 60 * USEC_PER_SEC)
struct Rollwave__AdminRequest;
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
 * command id, polls GetDeployment every 500 ms printing each host's state
 * and phase changes until every host is final or d->timeout_usec passes,
 * then a summary and a table, or with d->json one JSON document. Returns
 * CLI_EXIT_OK only if every host committed. */
int cli_deployment_run(const struct cli_deployment *d, const struct Rollwave__AdminRequest *req);

/* Prints "rollwave: error: <msg>" and the verb's usage hint to stderr;
 * returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_verb *verb, const char *fmt, ...) _printf_(2, 3);

/* Reads a password: from $ROLLWAVE_PASSWORD if set, else from the terminal
 * with echo off when stdin is a tty (asking twice when confirm), else one
 * line from stdin (with confirm, an optional second line must match).
 * *ret_password is freed and wiped with minisign_text_free(). */
int cli_password_read(const char *prompt, bool confirm, char **ret_password, struct rw_err *err);

/* Loads a secret key, asking for its password only if it is encrypted. */
int cli_seckey_load(const char *path, struct minisign_seckey *ret, struct rw_err *err);

/* The last path component of path (path itself if it has no '/'). */
const char *cli_basename(const char *path);

#endif
