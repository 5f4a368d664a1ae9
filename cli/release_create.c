/*
 * release_create: `rollwave release create`, the subcommand of cmd_release.c
 * (which passes its verb in, so this file never refers back to it): hash an
 * artifact, write its release manifest and sign the manifest.
 *
 *   rollwave release create --app APP --version VERSION --artifact FILE -s SECFILE
 *                           [--expires 90d] [--output MANIFEST] [--artifact-url URL]
 *
 * The artifact is streamed through BLAKE2b-512 (never loaded whole). The
 * manifest goes to MANIFEST (default <artifact dir>/<app>-<version>.manifest)
 * and its signature to MANIFEST.minisig.
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "blake2b.h"
#include "cli.h"
#include "log.h"
#include "manifest.h"
#include "minisign.h"

struct create_args {
	const char *app, *version, *artifact, *seckey, *output, *artifact_url;
	uint64_t expires_in_usec;
};

/* Returns ARGS_OK to go on, or the exit code to stop with. */
#define ARGS_OK (-1)

static int
parse_args(const struct cli_verb *verb, int argc, char **argv, struct create_args *a)
{
	enum { OPT_APP = 0x100, OPT_VERSION, OPT_ARTIFACT, OPT_EXPIRES, OPT_URL };
	static const struct option options[] = {
	        {"app", required_argument, NULL, OPT_APP},
	        {"version", required_argument, NULL, OPT_VERSION},
	        {"artifact", required_argument, NULL, OPT_ARTIFACT},
	        {"secret-key", required_argument, NULL, 's'},
	        {"expires", required_argument, NULL, OPT_EXPIRES},
	        {"output", required_argument, NULL, 'o'},
	        {"artifact-url", required_argument, NULL, OPT_URL},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	int c;

	a->expires_in_usec = 90 * 86400 * USEC_PER_SEC;
	optind = 0;
	while ((c = getopt_long(argc, argv, "s:o:h", options, NULL)) != -1) {
		switch (c) {
		case OPT_APP:
			a->app = optarg;
			break;
		case OPT_VERSION:
			a->version = optarg;
			break;
		case OPT_ARTIFACT:
			a->artifact = optarg;
			break;
		case 's':
			a->seckey = optarg;
			break;
		case OPT_EXPIRES:
			if (parse_duration_usec(optarg, &a->expires_in_usec) < 0 ||
			        a->expires_in_usec < USEC_PER_SEC)
				return cli_usage_error(verb,
				        "invalid --expires '%s' (a duration like 90d, 12h, 3600s)",
				        optarg);
			break;
		case 'o':
			a->output = optarg;
			break;
		case OPT_URL:
			a->artifact_url = optarg;
			break;
		case 'h':
			return cli_help(verb);
		default:
			return cli_usage_error(verb, "release create: bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(
		        verb, "release create: unexpected argument '%s'", argv[optind]);
	if (!a->app || !a->version || !a->artifact || !a->seckey)
		return cli_usage_error(
		        verb, "release create needs --app, --version, --artifact and -s SECFILE");
	if (!app_name_is_valid(a->app))
		return cli_usage_error(verb,
		        "invalid app name '%s' (1-%d characters of a-z, 0-9, '-', '_')", a->app,
		        APP_NAME_MAX);
	if (!version_is_valid(a->version))
		return cli_usage_error(verb,
		        "invalid version '%s' (1-%d characters of A-Z, a-z, 0-9, '._+~-')",
		        a->version, VERSION_MAX);
	return ARGS_OK;
}

static char *
default_output(const struct create_args *a)
{
	const char *slash = strrchr(a->artifact, '/');
	int dirlen = slash ? (int)(slash - a->artifact) + 1 : 0;
	char *s = NULL;

	if (asprintf(&s, "%.*s%s-%s.manifest", dirlen, a->artifact, a->app, a->version) < 0)
		return NULL;
	return s;
}

/* Fills m from the arguments and the artifact's contents. */
static int
build_manifest(const struct create_args *a, struct manifest *m, struct rw_err *err)
{
	_cleanup_close_ int fd = -1;
	const char *art = a->artifact_url ? a->artifact_url : cli_basename(a->artifact);
	struct stat st;
	uint64_t now;
	int r;

	memset(m, 0, sizeof(*m));
	fd = open(a->artifact, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return rw_err_set(err, -errno, "cannot open %s: %s", a->artifact, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return rw_err_set(err, -EINVAL, "%s is not a regular file", a->artifact);
	if (strlen(art) > MANIFEST_ARTIFACT_MAX)
		return rw_err_set(err, -EINVAL, "artifact name longer than %d characters",
		        MANIFEST_ARTIFACT_MAX);
	r = blake2b512_fd_size(fd, m->blake2b, &m->size);
	if (r < 0)
		return rw_err_set(err, r, "%s: cannot hash: %s", a->artifact, strerror(-r));
	if (m->size == 0)
		return rw_err_set(err, -EINVAL, "%s is empty", a->artifact);
	strcpy(m->app, a->app);
	strcpy(m->version, a->version);
	strcpy(m->artifact, art);
	now = now_realtime_usec() / USEC_PER_SEC * USEC_PER_SEC;
	m->created_usec = now;
	if (a->expires_in_usec > UINT64_MAX - now)
		return rw_err_set(err, -ERANGE, "--expires is too far in the future");
	m->expires_usec = now + a->expires_in_usec;
	return 0;
}

/* Formats m and checks that the text parses back to the same manifest (an
 * artifact URL containing " ;" would otherwise be cut as a comment). */
static int
format_checked(const struct manifest *m, char **ret_text, struct rw_err *err)
{
	_cleanup_free_ char *text = NULL;
	struct manifest back;
	int r;

	r = manifest_format(m, &text);
	if (r < 0)
		return rw_err_set(err, r, "cannot format the manifest: %s", strerror(-r));
	r = manifest_parse(text, strlen(text), &back, err);
	if (r < 0)
		return rw_err_prefix(err, r, "generated manifest does not parse");
	if (!streq(back.artifact, m->artifact) || back.size != m->size ||
	        back.expires_usec / USEC_PER_SEC != m->expires_usec / USEC_PER_SEC)
		return rw_err_set(err, -EINVAL,
		        "artifact name would not survive the manifest format (contains ' ;' or ' "
		        "#'?)");
	*ret_text = TAKE_PTR(text);
	return 0;
}

int
release_create(const struct cli_verb *verb, int argc, char **argv)
{
	struct create_args a = {0};
	_cleanup_seckey_ struct minisign_seckey sk = {{0}, {0}};
	_cleanup_free_ char *output = NULL, *sigpath = NULL, *text = NULL, *sigtext = NULL,
	                    *tc = NULL;
	struct rw_err err = {""};
	struct manifest m;
	int r;

	r = parse_args(verb, argc, argv, &a);
	if (r != ARGS_OK)
		return r;
	output = a.output ? strdup(a.output) : default_output(&a);
	if (!output || asprintf(&sigpath, "%s.minisig", output) < 0) {
		sigpath = NULL;
		log_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	/* Key first: a wrong password should not cost a pass over the artifact. */
	r = cli_seckey_load(a.seckey, &sk, &err);
	if (r >= 0)
		r = build_manifest(&a, &m, &err);
	if (r >= 0)
		r = format_checked(&m, &text, &err);
	if (r >= 0 &&
	        asprintf(&tc, "timestamp:%llu\tfile:%s\thashed",
	                (unsigned long long)(m.created_usec / USEC_PER_SEC),
	                cli_basename(output)) < 0) {
		tc = NULL;
		r = rw_err_set(&err, -ENOMEM, "out of memory");
	}
	if (r >= 0)
		r = minisign_sign_buffer(&sk, text, strlen(text), tc, NULL, &sigtext, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_FAILURE;
	}
	r = write_file_atomic(output, text, strlen(text), 0644);
	if (r < 0) {
		log_error("cannot write %s: %s", output, strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	r = write_file_atomic(sigpath, sigtext, strlen(sigtext), 0644);
	if (r < 0) {
		log_error("cannot write %s: %s", sigpath, strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	printf("Wrote %s (%s %s, %" PRIu64 " bytes) and %s\n", output, m.app, m.version, m.size,
	        sigpath);
	return CLI_EXIT_OK;
}
