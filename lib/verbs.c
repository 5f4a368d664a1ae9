/*
 * verbs: a daemon's verb table, its usage text and `help`. See verbs.h.
 */
#include "verbs.h"

#include <getopt.h>

void
verbs_usage(const struct verb_table *t, FILE *f)
{
	fprintf(f, "usage: %s %s\n\ncommands:\n", t->program, t->synopsis);
	for (size_t i = 0; i < t->n_verbs; i++)
		if (t->verbs[i].usage)
			fprintf(f, "  %s %s\n", t->program, t->verbs[i].usage);
	fprintf(f, "  %s help [COMMAND]\n", t->program);
	if (t->footer)
		fprintf(f, "%s", t->footer);
}

static const struct verb *
lookup(const struct verb_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_verbs; i++)
		if (streq(t->verbs[i].name, name))
			return &t->verbs[i];
	return NULL;
}

static int
unknown(const struct verb_table *t, const char *name)
{
	fprintf(stderr, "%s: unknown command '%s'\n", t->program, name);
	verbs_usage(t, stderr);
	return VERB_EXIT_USAGE;
}

static const char *
usage_of(const struct verb *v)
{
	return v->usage ? v->usage : v->name;
}

/* help: the usage; help VERB: that verb's line. */
static int
help(const struct verb_table *t, int argc, char **argv)
{
	const struct verb *v;

	if (argc == 1) {
		verbs_usage(t, stdout);
		return 0;
	}
	if (argc > 2) {
		fprintf(stderr, "usage: %s help [COMMAND]\n", t->program);
		return VERB_EXIT_USAGE;
	}
	v = lookup(t, argv[1]);
	if (!v)
		return unknown(t, argv[1]);
	printf("usage: %s %s\n", t->program, usage_of(v));
	return 0;
}

int
verbs_find(const struct verb_table *t, int argc, char **argv, const struct verb **ret)
{
	*ret = NULL;
	if (argc < 1) {
		verbs_usage(t, stderr);
		return VERB_EXIT_USAGE;
	}
	*ret = lookup(t, argv[0]);
	if (*ret)
		return 0;
	if (streq(argv[0], "help"))
		return help(t, argc, argv);
	return unknown(t, argv[0]);
}

int
verbs_run(const struct verb_table *t, const struct verb *v, void *userdata, int argc, char **argv)
{
	int r;

	optind = 1;
	r = v->run(userdata, argc, argv);
	if (r < 0) {
		fprintf(stderr, "usage: %s %s\n", t->program, usage_of(v));
		return VERB_EXIT_USAGE;
	}
	return r;
}
