/*
 * cli_util: the small helpers every verb shares (cli.h): the usage error
 * and help text, option matching, sleeping. Nothing here calls a verb or
 * main.c.
 */
#include <stdarg.h>
#include <time.h>

#include "cli.h"
#include "log.h"

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

int
cli_help(const struct cli_verb *verb)
{
	fputs(verb->usage, stdout);
	return CLI_EXIT_OK;
}

const char *
cli_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

bool
cli_opt_match(int argc, char **argv, int *i, const char *name, const char **ret)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return false;
	if (argv[*i][n] == '=') {
		*ret = argv[*i] + n + 1;
		return true;
	}
	if (argv[*i][n])
		return false;
	*ret = *i + 1 < argc ? argv[++*i] : NULL;
	return true;
}

void
cli_sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
