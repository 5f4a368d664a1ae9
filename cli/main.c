/*
 * rollwave: the admin CLI. Dispatches `rollwave <verb> ...` through
 * cli_verbs[]; each verb is a cmd_<verb>.c file exporting a struct cli_verb.
 */
#include <sodium.h>

#include "admin.h"
#include "cli.h"
#include "log.h"

#ifndef ROLLWAVE_VERSION
#define ROLLWAVE_VERSION "unknown"
#endif

/* One row per verb, in the order `rollwave help` lists them. */
static const struct cli_verb *const cli_verbs[] = {
        &cmd_hosts_entry,
        &cmd_host_entry,
        &cmd_apps_entry,
        &cmd_events_entry,
        &cmd_deploy_entry,
        &cmd_plan_entry,
        &cmd_status_entry,
        &cmd_watch_entry,
        &cmd_approve_entry,
        &cmd_pause_entry,
        &cmd_resume_entry,
        &cmd_abort_entry,
        &cmd_rollback_entry,
        &cmd_history_entry,
        &cmd_release_entry,
};

static const struct cli_verb *
verb_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(cli_verbs); i++)
		if (streq(cli_verbs[i]->name, name))
			return cli_verbs[i];
	return NULL;
}

static void
print_help(FILE *f)
{
	fputs("Usage: rollwave [--coordinator URL] [--ca FILE] [--cert FILE] <command> [options]\n"
	      "       rollwave help [command]\n"
	      "       rollwave --version\n"
	      "\n"
	      "  --coordinator URL  the coordinator's admin socket: ipc://PATH or\n"
	      "                     tls+tcp://HOST:PORT (default: $" ADMIN_ENV_URL ", else\n"
	      "                     " ADMIN_DEFAULT_URL ")\n"
	      "  --ca FILE          for tls+tcp://: the CA that signed the coordinator's\n"
	      "                     certificate (default: $" ADMIN_ENV_CA ")\n"
	      "  --cert FILE        for tls+tcp://: your admin certificate and key, one PEM\n"
	      "                     file from 'rollwave-coordinator admin-cert' (default:\n"
	      "                     $" ADMIN_ENV_CERT ")\n"
	      "\n"
	      "Commands:\n",
	        f);
	for (size_t i = 0; i < ELEMENTSOF(cli_verbs); i++)
		fprintf(f, "  %-12s %s\n", cli_verbs[i]->name, cli_verbs[i]->summary);
	fputs("\nRun 'rollwave help <command>' for a command's options.\n", f);
}

/* argv[0] is "help". */
static int
run_help(int argc, char **argv)
{
	const struct cli_verb *v;

	if (argc < 2) {
		print_help(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 2)
		return cli_usage_error(NULL, "help takes at most one command");
	v = verb_find(argv[1]);
	if (!v)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	return cli_help(v);
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]: stores VALUE, advances *i
 * past it and returns 1; 0 if argv[*i] is another option; -1 if VALUE is
 * missing. */
static int
global_option(int argc, char **argv, int *i, const char *name, const char **ret)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*ret = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*ret = argv[++*i];
	return 1;
}

/* Parses the options before the verb; returns the index of the verb, or
 * -(exit code) to stop with. */
static int
parse_global_options(int argc, char **argv)
{
	int i, r;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (streq(argv[i], "--version") || streq(argv[i], "-V")) {
			printf("rollwave %s\n", ROLLWAVE_VERSION);
			return -CLI_EXIT_OK;
		}
		if (streq(argv[i], "--help") || streq(argv[i], "-h"))
			return i; /* run as the "help" verb */
		r = global_option(argc, argv, &i, "--coordinator", &cli_admin_options.coordinator);
		if (r == 0)
			r = global_option(argc, argv, &i, "--ca", &cli_admin_options.ca);
		if (r == 0)
			r = global_option(argc, argv, &i, "--cert", &cli_admin_options.cert);
		if (r < 0)
			return -cli_usage_error(NULL, "option '%s' needs a value", argv[i]);
		if (r == 0)
			return -cli_usage_error(NULL, "unknown option '%s'", argv[i]);
	}
	if (i == argc) {
		print_help(stderr);
		return -CLI_EXIT_USAGE;
	}
	return i;
}

int
main(int argc, char **argv)
{
	const struct cli_verb *v;
	int i;

	log_setup("rollwave", LOG_TARGET_STDERR, LOG_INFO);
	if (sodium_init() < 0) {
		log_error("cannot initialise libsodium");
		return CLI_EXIT_FAILURE;
	}
	i = parse_global_options(argc, argv);
	if (i <= 0)
		return -i;
	if (streq(argv[i], "help") || streq(argv[i], "--help") || streq(argv[i], "-h"))
		return run_help(argc - i, argv + i);
	v = verb_find(argv[i]);
	if (!v)
		return cli_usage_error(NULL, "unknown command '%s'", argv[i]);
	return v->run(argc - i, argv + i);
}
