/*
 * coordinator_setup: what `rollwave-coordinator init` and `admin-cert` do
 * once main.c has parsed their arguments. init creates only what is
 * missing (database, identity key, join token, a CA and a server
 * certificate for a test setup) and says, for each part, whether it was
 * created or already there; admin-cert issues an admin's client
 * certificate from init's CA.
 */
#include <arpa/inet.h>
#include <libgen.h>
#include <sodium.h>
#include <sys/stat.h>

#include "coordinator.h"
#include "db.h"
#include "identity.h"
#include "log.h"
#include "tlsgen.h"

#define SAN_MAX COORDINATOR_SAN_MAX

static int
dir_of(const char *path, char *buf, size_t size)
{
	char tmp[PATH_MAX];

	if (xsnprintf(tmp, sizeof(tmp), "%s", path) < 0)
		return -ENAMETOOLONG;
	return xsnprintf(buf, size, "%s", dirname(tmp)) < 0 ? -ENAMETOOLONG : 0;
}

static int
make_parent(const char *path, mode_t mode)
{
	char dir[PATH_MAX];
	int r = dir_of(path, dir, sizeof(dir));

	return r < 0 ? r : mkdir_p(dir, mode);
}

static int
init_database(const struct coordinator_config *c)
{
	struct rw_err err = {{0}};
	bool existed = access(c->database, F_OK) == 0;
	struct db *db;
	int r;

	r = make_parent(c->database, 0700);
	if (r < 0) {
		log_error("cannot create the directory of %s: %s", c->database, strerror(-r));
		return r;
	}
	r = db_open(c->database, &db, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	r = db_audit(db, "admin:init", "coordinator.init", c->database, NULL);
	db_close(db);
	if (r < 0) {
		log_error("cannot write the audit log in %s: %s", c->database, strerror(-r));
		return r;
	}
	printf("database:     %s %s\n", c->database, existed ? "(already there)" : "(created)");
	return 0;
}

static int
init_key(const struct coordinator_config *c)
{
	struct rw_err err = {{0}};
	struct identity id;
	char fp[32];
	bool created;
	int r;

	r = make_parent(c->key_file, 0700);
	if (r < 0) {
		log_error("cannot create the directory of %s: %s", c->key_file, strerror(-r));
		return r;
	}
	r = identity_load_or_create(c->key_file, &id, &created, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	identity_fingerprint(id.pk, fp);
	identity_done(&id);
	printf("identity key: %s %s, %s\n", c->key_file, created ? "(created)" : "(already there)",
	        fp);
	return 0;
}

static int
init_join_token(const struct coordinator_config *c)
{
	uint8_t raw[32];
	char token[64], text[80];
	int r;

	if (c->join_token[0]) {
		printf("join token:   set in %s\n", c->config_path);
		return 0;
	}
	if (access(c->join_token_file, F_OK) == 0) {
		printf("join token:   %s (already there)\n", c->join_token_file);
		return 0;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(
	        token, sizeof(token), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	snprintf(text, sizeof(text), "%s\n", token);
	r = make_parent(c->join_token_file, 0755);
	if (r >= 0)
		r = write_file_atomic(c->join_token_file, text, strlen(text), 0600);
	if (r < 0) {
		log_error("cannot write %s: %s", c->join_token_file, strerror(-r));
		return r;
	}
	printf("join token:   %s (created): %s\n", c->join_token_file, token);
	sodium_memzero(token, sizeof(token));
	sodium_memzero(text, sizeof(text));
	return 0;
}

static void
add_san(char **dns, size_t *ndns, char **ips, size_t *nips, char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char **list = dns;
	size_t *n = ndns;

	if (!name[0] || streq(name, "0.0.0.0") || streq(name, "::") || streq(name, "*"))
		return;
	if (inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1) {
		list = ips;
		n = nips;
	}
	for (size_t i = 0; i < *n; i++)
		if (streq(list[i], name))
			return;
	if (*n < SAN_MAX)
		list[(*n)++] = name;
}

static int
init_tls(const struct coordinator_config *c, char **extra_sans, size_t n_extra, unsigned days)
{
	struct rw_err err = {{0}};
	char ca_key[PATH_MAX], ca_dir[PATH_MAX], host[256] = "", listen_host[256] = "";
	char *dns[SAN_MAX + 1] = {0}, *ips[SAN_MAX + 1] = {0};
	size_t ndns = 0, nips = 0;
	bool made_ca = false;
	int r;

	if (!strstr(c->listen, "tls+tcp://") && !strstr(c->admin_socket, "tls+tcp://")) {
		printf("tls:          not used (Listen=%s)\n", c->listen);
		return 0;
	}
	r = dir_of(c->tls_ca, ca_dir, sizeof(ca_dir));
	if (r < 0 || xsnprintf(ca_key, sizeof(ca_key), "%s/ca.key", ca_dir) < 0) {
		log_error("CA= path too long");
		return -ENAMETOOLONG;
	}
	if (access(c->tls_ca, F_OK) < 0) {
		r = mkdir_p(ca_dir, 0755);
		if (r >= 0)
			r = tlsgen_make_ca(
			        c->tls_ca, ca_key, "rollwave coordinator CA", days, &err);
		if (r < 0) {
			log_error("%s", err.msg[0] ? err.msg : strerror(-r));
			return r;
		}
		made_ca = true;
		printf("tls CA:       %s (created; key %s)\n", c->tls_ca, ca_key);
	} else
		printf("tls CA:       %s (already there)\n", c->tls_ca);

	if (access(c->tls_certificate, F_OK) == 0 && !made_ca) {
		printf("tls cert:     %s (already there)\n", c->tls_certificate);
		return 0;
	}
	if (access(ca_key, F_OK) < 0) {
		log_error("cannot make %s: the CA's key %s is missing (this CA was not made by "
		          "init); provide the certificate yourself",
		        c->tls_certificate, ca_key);
		return -ENOENT;
	}
	(void)coordinator_config_listen_host(c, listen_host, sizeof(listen_host));
	(void)gethostname(host, sizeof(host) - 1);
	add_san(dns, &ndns, ips, &nips, listen_host);
	add_san(dns, &ndns, ips, &nips, host);
	for (size_t i = 0; i < n_extra; i++)
		add_san(dns, &ndns, ips, &nips, extra_sans[i]);
	add_san(dns, &ndns, ips, &nips, "localhost");
	add_san(dns, &ndns, ips, &nips, "127.0.0.1");
	r = mkdir_p(ca_dir, 0755);
	if (r >= 0)
		r = make_parent(c->tls_certificate, 0755);
	if (r >= 0)
		r = tlsgen_make_server(c->tls_ca, ca_key, c->tls_certificate,
		        (const char *const *)dns, (const char *const *)ips, days, &err);
	if (r < 0) {
		log_error("%s", err.msg[0] ? err.msg : strerror(-r));
		return r;
	}
	printf("tls cert:     %s (created for", c->tls_certificate);
	for (size_t i = 0; i < ndns; i++)
		printf(" %s", dns[i]);
	for (size_t i = 0; i < nips; i++)
		printf(" %s", ips[i]);
	printf(")\n");
	return 0;
}

int
coordinator_init(
        const struct coordinator_config *c, char **extra_sans, size_t n_extra, unsigned days)
{
	if (init_database(c) < 0 || init_key(c) < 0 || init_join_token(c) < 0 ||
	        init_tls(c, extra_sans, n_extra, days) < 0)
		return -EIO;
	if (c->insecure)
		log_warning("Insecure=yes: agents may connect over plain TCP, unauthenticated "
		            "and unencrypted");
	printf("agents need:  the CA certificate %s as [TLS] CA= and the join token\n", c->tls_ca);
	return 0;
}

int
coordinator_admin_cert(
        const struct coordinator_config *c, const char *name, const char *out, unsigned days)
{
	struct rw_err err = {{0}};
	char ca_key[PATH_MAX], ca_dir[PATH_MAX];
	int r;

	if (access(out, F_OK) == 0) {
		log_error("%s exists; not overwriting an admin's certificate", out);
		return -EIO;
	}
	r = dir_of(c->tls_ca, ca_dir, sizeof(ca_dir));
	if (r < 0 || xsnprintf(ca_key, sizeof(ca_key), "%s/ca.key", ca_dir) < 0) {
		log_error("CA= path too long");
		return -EIO;
	}
	if (access(ca_key, R_OK) < 0) {
		log_error("cannot issue a certificate: the CA's key %s is not readable (%s); run "
		          "'rollwave-coordinator init' or use your own PKI",
		        ca_key, strerror(errno));
		return -EIO;
	}
	r = tlsgen_make_client(c->tls_ca, ca_key, out, name, days, &err);
	if (r < 0) {
		log_error("%s", err.msg[0] ? err.msg : strerror(-r));
		return -EIO;
	}
	printf("admin cert:   %s (created for '%s', %u days; give it with rollwave --cert, "
	       "the CA with --ca %s)\n",
	        out, name, days, c->tls_ca);
	return 0;
}
