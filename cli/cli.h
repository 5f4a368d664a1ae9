/*
 * cli: the `rollwave` admin command line.
 *
 * main.c dispatches argv[1] through a table of verbs; each verb lives in its
 * own cmd_<verb>.c and exports one const struct cli_verb. Adding a verb is
 * one file, its extern line below and one row in main.c's cli_verbs[].
 * Arrows point down only: main.c -> cmd_*.c -> the helpers (cli_util.c,
 * password.c, cli_waves*.c, cli_deployment.c), the admin client (admin.h)
 * and the formats (admin_format.h) -> lib/. No verb calls main.c or
 * another verb.
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
	const char *usage;   /* full usage text, the main form first, printed by both
	                      * `rollwave help <verb>` and `rollwave <verb> --help` */
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

/* `rollwave release create` (release_create.c) for verb (its usage and
 * usage errors); argv[0] is "create". */
int release_create(const struct cli_verb *verb, int argc, char **argv);

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

/* Prints verb->usage to stdout, for `rollwave help VERB` and
 * `rollwave VERB --help` alike; returns CLI_EXIT_OK. */
int cli_help(const struct cli_verb *verb);

/* True if argv[*i] is option name, as "NAME VALUE" or "NAME=VALUE": then
 * *ret is the value (NULL when NAME is the last argument) and *i is past
 * it. */
bool cli_opt_match(int argc, char **argv, int *i, const char *name, const char **ret);

/* Sleeps ms milliseconds, through signals. */
void cli_sleep_ms(uint64_t ms);

#endif
