/*
 * rollwave release: release keys and signatures, in minisign's formats and
 * with minisign's flag letters.
 *
 *   release keygen -p PUBFILE -s SECFILE [-W] [-f]
 *   release sign   -s SECFILE [-x SIGFILE] [-t COMMENT] [-c UNTRUSTED] -m FILE
 *   release verify -p PUBFILE [-x SIGFILE] -m FILE [-q]
 *   release create ...            (release_create.c)
 */
#include <fcntl.h>
#include <getopt.h>
#include <time.h>

#include "cli.h"
#include "log.h"
#include "minisign.h"

static const char release_usage[] =
        "Usage:\n"
        "  rollwave release keygen -p PUBFILE -s SECFILE [-W] [-f]\n"
        "  rollwave release sign -s SECFILE [-x SIGFILE] [-t COMMENT] [-c UNTRUSTED] -m FILE\n"
        "  rollwave release verify -p PUBFILE [-x SIGFILE] -m FILE [-q]\n"
        "  rollwave release create --app APP --version VERSION --artifact FILE -s SECFILE\n"
        "                          [--expires 90d] [--output MANIFEST] [--artifact-url URL]\n"
        "\n"
        "Keys and signatures use minisign's formats: `minisign -V` verifies what\n"
        "rollwave signs and rollwave verifies what `minisign -S` signs. Only\n"
        "prehashed signatures are accepted.\n"
        "\n"
        "  -p FILE   public key file          -s FILE   secret key file\n"
        "  -W        keygen: do not encrypt the secret key with a password\n"
        "  -f        keygen: overwrite existing key files\n"
        "  -m FILE   file to sign or verify   -x FILE   signature (default FILE.minisig)\n"
        "  -t TEXT   trusted (signed) comment -c TEXT   untrusted comment\n"
        "  -q        verify: print nothing on success\n"
        "\n"
        "Secret key passwords are read from $ROLLWAVE_PASSWORD if set, else from the\n"
        "terminal, else from one line of standard input.\n";

static int
release_keygen(int argc, char **argv)
{
	const char *pub = NULL, *sec = NULL;
	bool unencrypted = false, force = false;
	char *pw = NULL;
	struct minisign_pubkey pk;
	char id[MINISIGN_KEYID_STR_MAX];
	struct rw_err err = {""};
	int c, r;

	optind = 0;
	while ((c = getopt(argc, argv, "p:s:Wfh")) != -1) {
		switch (c) {
		case 'p':
			pub = optarg;
			break;
		case 's':
			sec = optarg;
			break;
		case 'W':
			unencrypted = true;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			fputs(release_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error(&cmd_release_entry, "release keygen: bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(&cmd_release_entry,
		        "release keygen: unexpected argument '%s'", argv[optind]);
	if (!pub || !sec)
		return cli_usage_error(
		        &cmd_release_entry, "release keygen needs -p PUBFILE and -s SECFILE");
	if (!unencrypted) {
		r = cli_password_read("Password: ", true, &pw, &err);
		if (r < 0) {
			log_error("%s", err.msg);
			return CLI_EXIT_FAILURE;
		}
		if (!*pw) {
			minisign_text_free(pw);
			log_error("empty password; use -W for an unencrypted secret key");
			return CLI_EXIT_FAILURE;
		}
		fputs("Deriving a key from the password to encrypt the secret key...\n", stderr);
	}
	r = minisign_keygen_files(pub, sec, pw, force, &pk, &err);
	minisign_text_free(pw);
	if (r < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_FAILURE;
	}
	minisign_keyid_format(pk.keyid, id);
	printf("The secret key was saved as %s - keep it secret!\n"
	       "The public key (key id %s) was saved as %s - that one can be public.\n",
	        sec, id, pub);
	return CLI_EXIT_OK;
}

static char *
default_sigpath(const char *file)
{
	char *s = NULL;

	if (asprintf(&s, "%s.minisig", file) < 0)
		return NULL;
	return s;
}

static int
release_sign(int argc, char **argv)
{
	const char *sec = NULL, *sigpath = NULL, *tc = NULL, *uc = NULL, *file = NULL;
	_cleanup_free_ char *defsig = NULL, *deftc = NULL, *sigtext = NULL;
	_cleanup_seckey_ struct minisign_seckey sk = {{0}, {0}};
	_cleanup_close_ int fd = -1;
	uint8_t hash[MINISIGN_HASH_BYTES];
	struct rw_err err = {""};
	int c, r;

	optind = 0;
	while ((c = getopt(argc, argv, "s:x:t:c:m:h")) != -1) {
		switch (c) {
		case 's':
			sec = optarg;
			break;
		case 'x':
			sigpath = optarg;
			break;
		case 't':
			tc = optarg;
			break;
		case 'c':
			uc = optarg;
			break;
		case 'm':
			file = optarg;
			break;
		case 'h':
			fputs(release_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error(&cmd_release_entry, "release sign: bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(
		        &cmd_release_entry, "release sign: unexpected argument '%s'", argv[optind]);
	if (!sec || !file)
		return cli_usage_error(
		        &cmd_release_entry, "release sign needs -s SECFILE and -m FILE");
	if (!sigpath) {
		sigpath = defsig = default_sigpath(file);
		if (!defsig) {
			log_error("out of memory");
			return CLI_EXIT_FAILURE;
		}
	}
	if (!tc || !*tc) {
		/* minisign's default, so that both tools' signatures look alike. */
		if (asprintf(&deftc, "timestamp:%lld\tfile:%s\thashed", (long long)time(NULL),
		            cli_basename(file)) < 0) {
			deftc = NULL;
			log_error("out of memory");
			return CLI_EXIT_FAILURE;
		}
		tc = deftc;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot open %s: %s", file, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	r = cli_seckey_load(sec, &sk, &err);
	if (r >= 0)
		r = minisign_hash_fd(fd, hash, NULL, &err);
	if (r >= 0)
		r = minisign_sign_hash(&sk, hash, tc, uc, &sigtext, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_FAILURE;
	}
	r = write_file_atomic(sigpath, sigtext, strlen(sigtext), 0644);
	if (r < 0) {
		log_error("cannot write %s: %s", sigpath, strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

static int
release_verify(int argc, char **argv)
{
	const char *pub = NULL, *sigpath = NULL, *file = NULL;
	_cleanup_free_ char *defsig = NULL;
	_cleanup_close_ int fd = -1;
	uint8_t hash[MINISIGN_HASH_BYTES];
	struct minisign_pubkey pk;
	struct minisign_sig sig;
	struct rw_err err = {""};
	bool quiet = false;
	int c, r;

	optind = 0;
	while ((c = getopt(argc, argv, "p:x:m:qh")) != -1) {
		switch (c) {
		case 'p':
			pub = optarg;
			break;
		case 'x':
			sigpath = optarg;
			break;
		case 'm':
			file = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(release_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error(&cmd_release_entry, "release verify: bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(&cmd_release_entry,
		        "release verify: unexpected argument '%s'", argv[optind]);
	if (!pub || !file)
		return cli_usage_error(
		        &cmd_release_entry, "release verify needs -p PUBFILE and -m FILE");
	if (!sigpath) {
		sigpath = defsig = default_sigpath(file);
		if (!defsig) {
			log_error("out of memory");
			return CLI_EXIT_FAILURE;
		}
	}
	r = minisign_pubkey_load(pub, &pk, &err);
	if (r >= 0)
		r = minisign_sig_load(sigpath, &sig, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return CLI_EXIT_FAILURE;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot open %s: %s", file, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	r = minisign_sig_check_keyid(&pk, 1, &sig, &err);
	if (r >= 0)
		r = minisign_hash_fd(fd, hash, NULL, &err);
	if (r >= 0)
		r = minisign_verify_hash(&pk, 1, hash, &sig, NULL, &err);
	if (r < 0) {
		log_error("%s: %s", file, err.msg);
		return CLI_EXIT_FAILURE;
	}
	if (!quiet)
		printf("Signature and comment signature verified\nTrusted comment: %s\n",
		        sig.trusted_comment);
	return CLI_EXIT_OK;
}

static int
release_create_run(int argc, char **argv)
{
	return release_create(&cmd_release_entry, argc, argv);
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} release_subcommands[] = {
        {"keygen", release_keygen},
        {"sign", release_sign},
        {"verify", release_verify},
        {"create", release_create_run},
};

static int
release_run(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(&cmd_release_entry,
		        "release needs a subcommand: keygen, sign, verify or create");
	if (streq(argv[1], "-h") || streq(argv[1], "--help") || streq(argv[1], "help")) {
		fputs(release_usage, stdout);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < ELEMENTSOF(release_subcommands); i++)
		if (streq(argv[1], release_subcommands[i].name))
			return release_subcommands[i].run(argc - 1, argv + 1);
	return cli_usage_error(&cmd_release_entry, "unknown release subcommand '%s'", argv[1]);
}

const struct cli_verb cmd_release_entry = {
        .name = "release",
        .summary = "make release keys, sign and verify releases, create signed manifests",
        .usage = release_usage,
        .run = release_run,
};
