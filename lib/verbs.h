/*
 * verbs: the verb dispatch of rollwave's daemons' command lines
 * (rollwave-agent, rollwave-coordinator): one const table of verbs, the
 * usage text it makes, `help [VERB]`, and the exit status of a usage error.
 *
 *   main: global options -> verbs_find() -> load config -> verbs_run()
 *
 * Exit status of a usage error (no verb, an unknown verb, a verb's run
 * returning < 0): VERB_EXIT_USAGE. Library code apart from printing the
 * usage and usage errors to the stream it is given or stderr.
 */
#ifndef ROLLWAVE_VERBS_H
#define ROLLWAVE_VERBS_H

#include <stdio.h>

#include "util.h"

#define VERB_EXIT_USAGE 2

struct verb {
	const char *name;
	/* Runs with argv[0] == name and getopt reset (optind = 1). Returns the
	 * exit status, or < 0 for a usage error ("usage: PROGRAM USAGE"). */
	int (*run)(void *userdata, int argc, char **argv);
	const char *usage; /* after the program's name; NULL: internal, not listed */
};

struct verb_table {
	const char *program;  /* "rollwave-agent" */
	const char *synopsis; /* "[--config FILE] COMMAND ...", after "usage: PROGRAM " */
	const char *footer;   /* printed after the list of verbs, or NULL */
	const struct verb *verbs;
	size_t n_verbs;
};

/* "usage: PROGRAM SYNOPSIS", the listed verbs (and help) one a line, the
 * footer. */
void verbs_usage(const struct verb_table *t, FILE *f);

/* The verb argv[0] names (argc may be 0: no verb). Returns 0 with *ret set,
 * or with *ret NULL the exit status main returns:
 *   0                after "help" printed the usage, or "help VERB" its line,
 *                    to stdout
 *   VERB_EXIT_USAGE  no verb (usage on stderr), or an unknown one
 *                    ("PROGRAM: unknown command 'x'" and the usage) */
int verbs_find(const struct verb_table *t, int argc, char **argv, const struct verb **ret);

/* Runs v (from verbs_find()) with argv[0] its name. Returns its exit status,
 * or VERB_EXIT_USAGE after "usage: PROGRAM USAGE" on stderr if it returned
 * < 0. */
int verbs_run(
        const struct verb_table *t, const struct verb *v, void *userdata, int argc, char **argv);

#endif
