/*
 * rollwave: the admin CLI. Dispatches `rollwave <verb> ...` through
 * cli_verbs[]; each verb is a cmd_<verb>.c file exporting a struct cli_verb.
 */
#include <sodium.h>
#include <stdarg.h>

#include "cli.h"
#include "log.h"

#ifndef ROLLWAVE_VERSION
#define ROLLWAVE_VERSION "unknown"
#endif

/* One row per verb, in the order `rollwave help` lists them. */
static const struct cli_verb *const cli_verbs[] = {
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
	fputs("Usage: rollwave <command> [options]\n"
	      "       rollwave help [command]\n"
	      "       rollwave --version\n"
	      "\n"
	      "Commands:\n",
	        f);
	for (size_t i = 0; i < ELEMENTSOF(cli_verbs); i++)
		fprintf(f, "  %-12s %s\n", cli_verbs[i]->name, cli_verbs[i]->summary);
	fputs("\nRun 'rollwave help <command>' for a command's options.\n", f);
}

int
cli_usage_error(const struct cli_verb *verb, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	if (verb)
		fprintf(stderr, "Try 'rollwave help %s'.\n", verb->name);
	else
		fputs("Try 'rollwave help'.\n", stderr);
	return CLI_EXIT_USAGE;
}

const char *
cli_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int
run_help(int argc, char **argv)
{
	const struct cli_verb *v;

	if (argc < 3) {
		print_help(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 3)
		return cli_usage_error(NULL, "help takes at most one command");
	v = verb_find(argv[2]);
	if (!v)
		return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
	fputs(v->usage, stdout);
	return CLI_EXIT_OK;
}

int
main(int argc, char **argv)
{
	const struct cli_verb *v;

	log_setup("rollwave", LOG_TARGET_STDERR, LOG_INFO);
	if (sodium_init() < 0) {
		log_error("cannot initialise libsodium");
		return CLI_EXIT_FAILURE;
	}
	if (argc < 2) {
		print_help(stderr);
		return CLI_EXIT_USAGE;
	}
	if (streq(argv[1], "--version") || streq(argv[1], "-V")) {
		printf("rollwave %s\n", ROLLWAVE_VERSION);
		return CLI_EXIT_OK;
	}
	if (streq(argv[1], "help") || streq(argv[1], "--help") || streq(argv[1], "-h"))
		return run_help(argc, argv);
	v = verb_find(argv[1]);
	if (!v)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	return v->run(argc - 1, argv + 1);
}
