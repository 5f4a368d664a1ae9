/*
 * test_tlsgen: the CA and server certificates `rollwave-coordinator init`
 * makes, checked with mbedTLS and then used by REAL nng tls+tcp sockets on
 * loopback: a req/rep exchange that works, and clients that trust another
 * CA or expect another name, which must fail.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "tlsgen.h"
#include "tlsprefs.h"

#define TIMEOUT_MS  5000
#define RECV_MAX    65536
#define CERT_DAYS   30
#define SERVER_NAME "localhost"

static const char *const dns_names[] = {SERVER_NAME, "coordinator.test", NULL};
static const char *const ip_addrs[] = {"127.0.0.1", "::1", NULL};

struct fixture {
	char dir[64];
	char ca_crt[128], ca_key[128];
	char ca2_crt[128], ca2_key[128];
	char server_pem[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rw_err err = {{0}};

	assert_non_null(f);
	strcpy(f->dir, "/var/tmp/test_tlsgen.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_true(xsnprintf(f->ca_crt, sizeof(f->ca_crt), "%s/ca.crt", f->dir) > 0);
	assert_true(xsnprintf(f->ca_key, sizeof(f->ca_key), "%s/ca.key", f->dir) > 0);
	assert_true(xsnprintf(f->ca2_crt, sizeof(f->ca2_crt), "%s/other-ca.crt", f->dir) > 0);
	assert_true(xsnprintf(f->ca2_key, sizeof(f->ca2_key), "%s/other-ca.key", f->dir) > 0);
	assert_true(xsnprintf(f->server_pem, sizeof(f->server_pem), "%s/server.pem", f->dir) > 0);

	if (tlsgen_make_ca(f->ca_crt, f->ca_key, "rollwave test CA", CERT_DAYS, &err) < 0 ||
	        tlsgen_make_server(f->ca_crt, f->ca_key, f->server_pem, dns_names, ip_addrs,
	                CERT_DAYS, &err) < 0 ||
	        tlsgen_make_ca(f->ca2_crt, f->ca2_key, "rollwave other CA", CERT_DAYS, &err) < 0)
		fail_msg("tlsgen: %s", err.msg);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	_cleanup_close_ int dfd = open("/var/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(dfd >= 0);
	assert_int_equal(rm_rf_at(dfd, f->dir + strlen("/var/tmp/")), 0);
	free(f);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	nng_fini(); /* nng's global state, so that LeakSanitizer sees no leak */
	return 0;
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	return st.st_mode & 07777;
}

static void
test_tlsgen_files_have_the_documented_modes_and_shapes(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *pem = NULL, *key = NULL;
	const char *cert_at, *key_at;

	assert_int_equal(file_mode(f->ca_crt), 0644);
	assert_int_equal(file_mode(f->ca_key), 0600);
	assert_int_equal(file_mode(f->server_pem), 0600);

	/* One file: the certificate, then its key. */
	assert_int_equal(read_full_file(f->server_pem, 65536, false, &pem, NULL), 0);
	cert_at = strstr(pem, "-----BEGIN CERTIFICATE-----\n");
	key_at = strstr(pem, "-----BEGIN EC PRIVATE KEY-----\n");
	assert_ptr_equal(cert_at, pem);
	assert_non_null(key_at);
	assert_true(key_at > cert_at);
	assert_null(strstr(cert_at + 1, "-----BEGIN CERTIFICATE-----"));
	assert_int_equal(read_full_file(f->ca_key, 65536, false, &key, NULL), 0);
	assert_non_null(strstr(key, "-----BEGIN EC PRIVATE KEY-----\n"));
}

/* Whether the DER of crt holds the bytes needle. */
static bool
der_contains(const mbedtls_x509_crt *crt, const void *needle, size_t len)
{
	return memmem(crt->raw.p, crt->raw.len, needle, len) != NULL;
}

static void
test_tlsgen_certificates_carry_the_ca_and_server_extensions(void **state)
{
	struct fixture *f = *state;
	static const unsigned char ip4_san[] = {0x87, 4, 127, 0, 0, 1};
	static const unsigned char ip6_san[] = {
	        0x87, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const unsigned char dns_san[] = {
	        0x82, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't'};
	mbedtls_x509_crt ca, srv;
	uint32_t flags = 0;
	char name[256];

	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&srv);
	assert_int_equal(mbedtls_x509_crt_parse_file(&ca, f->ca_crt), 0);
	/* The combined file parses as a certificate; the key block is skipped. */
	assert_int_equal(mbedtls_x509_crt_parse_file(&srv, f->server_pem), 0);
	assert_null(srv.next);

	/* CA: self-signed, CA:true, may sign certificates and CRLs. */
	assert_int_equal(ca.version, 3);
	assert_true(ca.ca_istrue);
	assert_int_equal(mbedtls_x509_crt_check_key_usage(&ca, MBEDTLS_X509_KU_KEY_CERT_SIGN), 0);
	assert_int_equal(mbedtls_x509_crt_check_key_usage(&ca, MBEDTLS_X509_KU_CRL_SIGN), 0);
	assert_true(mbedtls_x509_dn_gets(name, sizeof(name), &ca.subject) > 0);
	assert_string_equal(name, "CN=rollwave test CA, O=rollwave");
	assert_int_equal(ca.subject_raw.len, ca.issuer_raw.len);
	assert_memory_equal(ca.subject_raw.p, ca.issuer_raw.p, ca.subject_raw.len);
	assert_int_equal(mbedtls_pk_get_type(&ca.pk), MBEDTLS_PK_ECKEY);
	assert_int_equal(mbedtls_pk_ec(ca.pk)->grp.id, MBEDTLS_ECP_DP_SECP256R1);
	assert_int_equal(ca.sig_md, MBEDTLS_MD_SHA256);

	/* Server: CN = first DNS name, serverAuth, not a CA, SAN with every
	 * DNS name and IP, ECDSA P-256, issued by the CA. */
	assert_false(srv.ca_istrue);
	assert_true(mbedtls_x509_dn_gets(name, sizeof(name), &srv.subject) > 0);
	assert_string_equal(name, "CN=localhost");
	assert_int_equal(srv.issuer_raw.len, ca.subject_raw.len);
	assert_memory_equal(srv.issuer_raw.p, ca.subject_raw.p, ca.subject_raw.len);
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(&srv, MBEDTLS_OID_SERVER_AUTH,
	                         MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
	        0);
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(&srv, MBEDTLS_OID_CLIENT_AUTH,
	                         MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
	        MBEDTLS_ERR_X509_BAD_INPUT_DATA);
	assert_int_equal(
	        mbedtls_x509_crt_check_key_usage(&srv, MBEDTLS_X509_KU_DIGITAL_SIGNATURE), 0);
	assert_true(der_contains(&srv, dns_san, sizeof(dns_san)));
	assert_true(der_contains(&srv, ip4_san, sizeof(ip4_san)));
	assert_true(der_contains(&srv, ip6_san, sizeof(ip6_san)));
	assert_int_equal(mbedtls_pk_ec(srv.pk)->grp.id, MBEDTLS_ECP_DP_SECP256R1);

	/* Chain and names, as an mbedTLS client checks them. */
	assert_int_equal(
	        mbedtls_x509_crt_verify(&srv, &ca, NULL, "localhost", &flags, NULL, NULL), 0);
	assert_int_equal(
	        mbedtls_x509_crt_verify(&srv, &ca, NULL, "coordinator.test", &flags, NULL, NULL),
	        0);
	assert_int_not_equal(
	        mbedtls_x509_crt_verify(&srv, &ca, NULL, "wrong.example", &flags, NULL, NULL), 0);
	assert_true(flags & MBEDTLS_X509_BADCERT_CN_MISMATCH);

	mbedtls_x509_crt_free(&srv);
	mbedtls_x509_crt_free(&ca);
}

static void
test_tlsgen_serial_numbers_are_random(void **state)
{
	struct fixture *f = *state;
	struct rw_err err = {{0}};
	char second[160];
	mbedtls_x509_crt a, b;

	assert_true(xsnprintf(second, sizeof(second), "%s/second.pem", f->dir) > 0);
	assert_int_equal(
	        tlsgen_make_server(f->ca_crt, f->ca_key, second, dns_names, NULL, CERT_DAYS, &err),
	        0);
	mbedtls_x509_crt_init(&a);
	mbedtls_x509_crt_init(&b);
	assert_int_equal(mbedtls_x509_crt_parse_file(&a, f->server_pem), 0);
	assert_int_equal(mbedtls_x509_crt_parse_file(&b, second), 0);
	assert_int_equal(a.serial.len, 16);
	assert_int_equal(b.serial.len, 16);
	assert_true(a.serial.p[0] < 0x80); /* positive */
	assert_memory_not_equal(a.serial.p, b.serial.p, 16);
	mbedtls_x509_crt_free(&a);
	mbedtls_x509_crt_free(&b);
}

static void
test_tlsgen_bad_arguments_are_refused_with_clear_errors(void **state)
{
	struct fixture *f = *state;
	static const char *const bad_dns[] = {"bad_name.example", NULL};
	static const char *const empty_label[] = {"a..b", NULL};
	static const char *const bad_ip[] = {"127.0.0.300", NULL};
	static const char *const none[] = {NULL};
	struct rw_err err = {{0}};
	char out[160], missing[160];

	assert_true(xsnprintf(out, sizeof(out), "%s/out.pem", f->dir) > 0);
	assert_true(xsnprintf(missing, sizeof(missing), "%s/missing.crt", f->dir) > 0);

	assert_int_equal(tlsgen_make_ca(f->ca_crt, f->ca_key, "a,b", 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'a,b'"));
	assert_int_equal(tlsgen_make_ca(f->ca_crt, f->ca_key, "", 1, &err), -EINVAL);
	assert_int_equal(tlsgen_make_ca(out, f->ca_key, "ok", 0, &err), -EINVAL);
	assert_int_equal(tlsgen_make_ca(out, f->ca_key, "ok", TLSGEN_DAYS_MAX + 1, &err), -EINVAL);

	assert_int_equal(
	        tlsgen_make_server(f->ca_crt, f->ca_key, out, bad_dns, NULL, 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'bad_name.example' is not a valid DNS name"));
	assert_int_equal(
	        tlsgen_make_server(f->ca_crt, f->ca_key, out, empty_label, NULL, 1, &err), -EINVAL);
	assert_int_equal(
	        tlsgen_make_server(f->ca_crt, f->ca_key, out, none, NULL, 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "at least one DNS name"));
	assert_int_equal(
	        tlsgen_make_server(f->ca_crt, f->ca_key, out, dns_names, bad_ip, 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'127.0.0.300' is not an IP address"));

	/* A missing CA file, a file that is no certificate, a key that is no
	 * key: the file and the reason (mbedTLS's, where it has one) are named. */
	assert_int_equal(
	        tlsgen_make_server(missing, f->ca_key, out, dns_names, NULL, 1, &err), -ENOENT);
	assert_non_null(strstr(err.msg, missing));
	assert_non_null(strstr(err.msg, "No such file or directory"));
	assert_int_equal(write_file_atomic(missing, "not a certificate\n", 18, 0644), 0);
	assert_int_equal(
	        tlsgen_make_server(missing, f->ca_key, out, dns_names, NULL, 1, &err), -EIO);
	assert_non_null(strstr(err.msg, missing));
	assert_non_null(strstr(err.msg, "X509 - "));
	assert_non_null(strstr(err.msg, "mbedTLS -0x"));
	assert_int_equal(
	        tlsgen_make_server(f->ca_crt, missing, out, dns_names, NULL, 1, &err), -EIO);
	assert_non_null(strstr(err.msg, "cannot load CA key"));
	assert_non_null(strstr(err.msg, "PK - "));
	/* The key of another CA. */
	assert_int_equal(
	        tlsgen_make_server(f->ca_crt, f->ca2_key, out, dns_names, NULL, 1, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "does not belong to CA certificate"));
	/* A server certificate is not a CA. */
	assert_int_equal(
	        tlsgen_make_server(f->server_pem, f->ca_key, out, dns_names, NULL, 1, &err),
	        -EBADMSG);
	assert_non_null(strstr(err.msg, "not a CA certificate"));

	/* Nothing was written by the failures. */
	assert_int_equal(access(out, F_OK), -1);
}

/* A rep socket listening with the server certificate on an ephemeral
 * loopback port. */
struct server {
	nng_socket sock;
	nng_tls_config *cfg;
	char url[64];
};

static void
server_start(struct server *s, const char *server_pem)
{
	nng_listener l;
	int port = 0;

	assert_int_equal(nng_rep0_open(&s->sock), 0);
	assert_int_equal(nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, RECV_MAX), 0);
	assert_int_equal(nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, TIMEOUT_MS), 0);
	assert_int_equal(nng_socket_set_ms(s->sock, NNG_OPT_SENDTIMEO, TIMEOUT_MS), 0);
	assert_int_equal(tlsprefs_config_alloc(&s->cfg, NNG_TLS_MODE_SERVER), 0);
	assert_int_equal(nng_tls_config_cert_key_file(s->cfg, server_pem, NULL), 0);
	assert_int_equal(nng_listener_create(&l, s->sock, "tls+tcp://127.0.0.1:0"), 0);
	assert_int_equal(nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, s->cfg), 0);
	assert_int_equal(nng_listener_start(l, 0), 0);
	assert_int_equal(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
	assert_true(port > 0 && port < 65536);
	assert_true(xsnprintf(s->url, sizeof(s->url), "tls+tcp://127.0.0.1:%d", port) > 0);
}

static void
server_stop(struct server *s)
{
	assert_int_equal(nng_close(s->sock), 0);
	nng_tls_config_free(s->cfg);
}

/* A req socket with a client TLS config that trusts ca_file and expects
 * server_name. Returns nng_dialer_start()'s result (blocking dial). */
struct client {
	nng_socket sock;
	nng_tls_config *cfg;
};

static int
client_dial(struct client *c, const char *url, const char *ca_file, const char *server_name)
{
	nng_dialer d;

	assert_int_equal(nng_req0_open(&c->sock), 0);
	assert_int_equal(nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, RECV_MAX), 0);
	assert_int_equal(nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, TIMEOUT_MS), 0);
	assert_int_equal(nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, TIMEOUT_MS), 0);
	assert_int_equal(tlsprefs_config_alloc(&c->cfg, NNG_TLS_MODE_CLIENT), 0);
	assert_int_equal(nng_tls_config_ca_file(c->cfg, ca_file), 0);
	assert_int_equal(nng_tls_config_server_name(c->cfg, server_name), 0);
	assert_int_equal(nng_tls_config_auth_mode(c->cfg, NNG_TLS_AUTH_MODE_REQUIRED), 0);
	assert_int_equal(nng_dialer_create(&d, c->sock, url), 0);
	assert_int_equal(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c->cfg), 0);
	return nng_dialer_start(d, 0);
}

static void
client_close(struct client *c)
{
	assert_int_equal(nng_close(c->sock), 0);
	nng_tls_config_free(c->cfg);
}

static void
test_tlsgen_server_cert_serves_a_verified_nng_tls_exchange(void **state)
{
	struct fixture *f = *state;
	struct server s;
	struct client c;
	char buf[64];
	size_t sz;
	nng_msg *msg = NULL;
	nng_pipe pipe;
	bool verified = false;

	server_start(&s, f->server_pem);
	assert_int_equal(client_dial(&c, s.url, f->ca_crt, SERVER_NAME), 0);

	assert_int_equal(nng_send(c.sock, "hello", 6, 0), 0);
	assert_int_equal(nng_recvmsg(s.sock, &msg, 0), 0);
	assert_int_equal(nng_msg_len(msg), 6);
	assert_string_equal((const char *)nng_msg_body(msg), "hello");
	/* The server sees a TLS pipe (the client has no certificate). */
	pipe = nng_msg_get_pipe(msg);
	assert_true(nng_pipe_id(pipe) > 0);
	assert_int_equal(nng_pipe_get_bool(pipe, NNG_OPT_TLS_VERIFIED, &verified), 0);
	assert_false(verified);
	nng_msg_free(msg);

	assert_int_equal(nng_send(s.sock, "world", 6, 0), 0);
	sz = sizeof(buf);
	assert_int_equal(nng_recv(c.sock, buf, &sz, 0), 0);
	assert_int_equal(sz, 6);
	assert_string_equal(buf, "world");

	client_close(&c);
	server_stop(&s);
}

/* The client must not get a message through: the dial fails, or, if nng
 * reports the dial before the handshake, the exchange fails within the
 * timeout. The server must not receive anything either. */
static void
assert_client_rejected(struct server *s, const char *ca_file, const char *server_name)
{
	struct client c;
	char buf[64];
	size_t sz = sizeof(buf);
	uint64_t start = now_monotonic_usec();
	int r;

	r = client_dial(&c, s->url, ca_file, server_name);
	print_message("  dial: %s\n", r ? nng_strerror(r) : "connected");
	if (r == 0) {
		r = nng_send(c.sock, "hello", 6, 0);
		if (r == 0)
			r = nng_recv(c.sock, buf, &sz, 0);
	}
	if (r == 0)
		fail_msg("client trusting '%s' expecting '%s' completed an exchange", ca_file,
		        server_name);
	assert_true(now_monotonic_usec() - start < 2 * TIMEOUT_MS * USEC_PER_MSEC);
	client_close(&c);

	assert_int_equal(nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, 200), 0);
	sz = sizeof(buf);
	assert_int_equal(nng_recv(s->sock, buf, &sz, 0), NNG_ETIMEDOUT);
}

static void
test_tlsgen_client_trusting_another_ca_cannot_connect(void **state)
{
	struct fixture *f = *state;
	struct server s;

	server_start(&s, f->server_pem);
	assert_client_rejected(&s, f->ca2_crt, SERVER_NAME);
	server_stop(&s);
}

static void
test_tlsgen_client_expecting_another_name_cannot_connect(void **state)
{
	struct fixture *f = *state;
	struct server s;

	server_start(&s, f->server_pem);
	assert_client_rejected(&s, f->ca_crt, "wrong.example");
	server_stop(&s);
}

/* The key exchange a real TLS client gets from our server when it offers
 * the big curves first (as mbedtls 2.28 does by default): P-256, not P-521
 * (tlsprefs.h). openssl s_client is the independent client; it prints
 * "Server Temp Key: ECDH, prime256v1, 256 bits". */
static void
test_tlsprefs_server_exchanges_keys_over_p256_when_offered_p521_first(void **state)
{
	struct fixture *f = *state;
	struct server s;
	char cmd[512], line[256], key[256] = "";
	unsigned applied = tlsprefs_applied();
	FILE *p;

	server_start(&s, f->server_pem);
	assert_true(tlsprefs_applied() > applied);
	assert_true(xsnprintf(cmd, sizeof(cmd),
	                    "openssl s_client -connect %s -tls1_2 -groups P-521:P-384:P-256:X25519 "
	                    "</dev/null 2>&1",
	                    s.url + strlen("tls+tcp://")) > 0);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (strncmp(line, "Server Temp Key:", 16) == 0)
			strcpy(key, line);
	pclose(p);
	print_message("  %s", key[0] ? key : "no Server Temp Key line\n");
	assert_non_null(strstr(key, "prime256v1"));
	server_stop(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_tlsgen_files_have_the_documented_modes_and_shapes, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_tlsgen_certificates_carry_the_ca_and_server_extensions, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                test_tlsgen_serial_numbers_are_random, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_tlsgen_bad_arguments_are_refused_with_clear_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_tlsgen_server_cert_serves_a_verified_nng_tls_exchange, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                test_tlsgen_client_trusting_another_ca_cannot_connect, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_tlsgen_client_expecting_another_name_cannot_connect, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_tlsprefs_server_exchanges_keys_over_p256_when_offered_p521_first,
	                setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
