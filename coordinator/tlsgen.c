/*
 * tlsgen: a private CA and server certificates with mbedTLS 2.28's x509write
 * API. See tlsgen.h for what is made and the file formats.
 *
 * mbedTLS 2.28 has no setter for subjectAltName or extendedKeyUsage (both
 * came in 3.x), so those two extensions are DER-encoded here with asn1write
 * and added with mbedtls_x509write_crt_set_extension(). asn1write writes
 * backwards, from the end of a buffer towards its start: the last element
 * is written first.
 *
 * Every server certificate is parsed back and verified against its CA (with
 * the first DNS name as the expected peer name) before it is written, so a
 * file this module writes is one an mbedTLS client accepts.
 */
#include "tlsgen.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#define PEM_MAX         32768
#define PEM_BUF         (2 * PEM_MAX) /* a certificate and a key */
#define SAN_DER_MAX     (TLSGEN_SAN_MAX * (253 + 4) + TLSGEN_SAN_MAX * (16 + 2) + 8)
#define DNS_NAME_MAX    253
#define SERIAL_BYTES    16
#define SKEW_SECONDS    3600
#define SECONDS_PER_DAY 86400

struct tlsgen_rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

/* Sets err to "<what> '<path>': <mbedTLS message> (mbedTLS -0xNNNN)". */
static int
tlsgen_mbed_err(struct rw_err *err, int mret, const char *what, const char *path)
{
	char msg[200];

	mbedtls_strerror(mret, msg, sizeof(msg));
	return rw_err_set(err, -EIO, "%s '%s': %s (mbedTLS -0x%04x)", what, path, msg,
	        (unsigned)(mret < 0 ? -mret : mret));
}

static int
tlsgen_rng_init(struct tlsgen_rng *rng, struct rw_err *err)
{
	static const char pers[] = "rollwave-tlsgen";
	int mret;

	mbedtls_entropy_init(&rng->entropy);
	mbedtls_ctr_drbg_init(&rng->drbg);
	mret = mbedtls_ctr_drbg_seed(&rng->drbg, mbedtls_entropy_func, &rng->entropy,
	        (const unsigned char *)pers, sizeof(pers) - 1);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot seed the random generator", "entropy");
	return 0;
}

static void
tlsgen_rng_done(struct tlsgen_rng *rng)
{
	mbedtls_ctr_drbg_free(&rng->drbg);
	mbedtls_entropy_free(&rng->entropy);
}

static bool
cn_is_valid(const char *cn)
{
	size_t n = 0;

	if (isempty(cn))
		return false;
	for (const char *p = cn; *p; p++, n++)
		if (!isalnum((unsigned char)*p) && !strchr(" ._@:()/+-", *p))
			return false;
	return n <= TLSGEN_CN_MAX;
}

static bool
dns_name_is_valid(const char *name)
{
	size_t len = strlen(name), label = 0;
	const char *p = name;

	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	for (; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

static size_t
strv_count(const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* "YYYYMMDDhhmmss" (UTC) of t, as mbedtls_x509write_crt_set_validity wants. */
static int
format_x509_time(time_t t, char buf[static 15])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999)
		return -ERANGE;
	if (strftime(buf, 15, "%Y%m%d%H%M%S", &tm) != 14)
		return -ERANGE;
	return 0;
}

static int
tlsgen_gen_key(
        mbedtls_pk_context *key, struct tlsgen_rng *rng, const char *path, struct rw_err *err)
{
	int mret;

	mret = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (mret == 0)
		mret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key),
		        mbedtls_ctr_drbg_random, &rng->drbg);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot make a P-256 key for", path);
	return 0;
}

/* What every certificate gets: v3, SHA-256, a random positive serial,
 * validity, names, keys and key identifiers. */
static int
tlsgen_crt_setup(mbedtls_x509write_cert *crt, struct tlsgen_rng *rng, const char *subject,
        const char *issuer, mbedtls_pk_context *subject_key, mbedtls_pk_context *issuer_key,
        unsigned days, const char *path, struct rw_err *err)
{
	unsigned char serial_bytes[SERIAL_BYTES];
	char not_before[15], not_after[15];
	time_t now = time(NULL);
	mbedtls_mpi serial;
	int mret;

	if (format_x509_time(now - SKEW_SECONDS, not_before) < 0 ||
	        format_x509_time(now + (time_t)days * SECONDS_PER_DAY, not_after) < 0)
		return rw_err_set(
		        err, -ERANGE, "validity of %u days does not fit a certificate", days);

	mbedtls_x509write_crt_set_version(crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(crt, subject_key);
	mbedtls_x509write_crt_set_issuer_key(crt, issuer_key);

	mbedtls_mpi_init(&serial);
	mret = mbedtls_ctr_drbg_random(&rng->drbg, serial_bytes, sizeof(serial_bytes));
	if (mret == 0) {
		/* Positive (top bit clear) and never zero. */
		serial_bytes[0] = (unsigned char)((serial_bytes[0] & 0x7f) | 0x40);
		mret = mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof(serial_bytes));
	}
	if (mret == 0)
		mret = mbedtls_x509write_crt_set_serial(crt, &serial);
	mbedtls_mpi_free(&serial);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot set the serial number of", path);

	mret = mbedtls_x509write_crt_set_validity(crt, not_before, not_after);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot set the validity of", path);
	mret = mbedtls_x509write_crt_set_subject_name(crt, subject);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot set the subject name of", path);
	mret = mbedtls_x509write_crt_set_issuer_name(crt, issuer);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot set the issuer name of", path);
	mret = mbedtls_x509write_crt_set_subject_key_identifier(crt);
	if (mret == 0)
		mret = mbedtls_x509write_crt_set_authority_key_identifier(crt);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot set the key identifiers of", path);
	return 0;
}

/* Adds an asn1write result to *len; false on error (r < 0). */
static bool
asn1_add(size_t *len, int r)
{
	if (r < 0)
		return false;
	*len += (size_t)r;
	return true;
}

/* One GeneralName: [tag] IMPLICIT, primitive, of the given bytes. */
static bool
asn1_write_general_name(unsigned char **p, unsigned char *start, size_t *len, unsigned tag,
        const void *data, size_t size)
{
	size_t n = 0;

	return asn1_add(&n, mbedtls_asn1_write_raw_buffer(p, start, data, size)) &&
	        asn1_add(&n, mbedtls_asn1_write_len(p, start, size)) &&
	        asn1_add(&n,
	                mbedtls_asn1_write_tag(
	                        p, start, (unsigned char)(MBEDTLS_ASN1_CONTEXT_SPECIFIC | tag))) &&
	        asn1_add(len, (int)n);
}

/* subjectAltName ::= SEQUENCE OF GeneralName, with dNSName [2] IA5String
 * and iPAddress [7] OCTET STRING (4 or 16 bytes), DNS names first. */
static int
tlsgen_set_san(mbedtls_x509write_cert *crt, const char *const *dns_names,
        const char *const *ip_addrs, const char *path, struct rw_err *err)
{
	_cleanup_free_ unsigned char *buf = malloc(SAN_DER_MAX);
	unsigned char *p;
	size_t len = 0, n_dns = strv_count(dns_names), n_ip = strv_count(ip_addrs);
	int mret;

	if (!buf)
		return rw_err_set(err, -ENOMEM, "out of memory");
	p = buf + SAN_DER_MAX;
	for (size_t i = n_ip; i > 0; i--) {
		unsigned char addr[16];
		size_t alen = 4;

		if (inet_pton(AF_INET, ip_addrs[i - 1], addr) != 1) {
			if (inet_pton(AF_INET6, ip_addrs[i - 1], addr) != 1)
				return rw_err_set(
				        err, -EINVAL, "'%s' is not an IP address", ip_addrs[i - 1]);
			alen = 16;
		}
		if (!asn1_write_general_name(&p, buf, &len, 7, addr, alen))
			return rw_err_set(
			        err, -EINVAL, "subjectAltName of '%s' is too large", path);
	}
	for (size_t i = n_dns; i > 0; i--)
		if (!asn1_write_general_name(
		            &p, buf, &len, 2, dns_names[i - 1], strlen(dns_names[i - 1])))
			return rw_err_set(
			        err, -EINVAL, "subjectAltName of '%s' is too large", path);
	if (!asn1_add(&len, mbedtls_asn1_write_len(&p, buf, len)) ||
	        !asn1_add(&len,
	                mbedtls_asn1_write_tag(
	                        &p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)))
		return rw_err_set(err, -EINVAL, "subjectAltName of '%s' is too large", path);

	mret = mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
	        MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, len);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot set the subjectAltName of", path);
	return 0;
}

/* extendedKeyUsage ::= SEQUENCE OF KeyPurposeId, here just serverAuth. */
static int
tlsgen_set_eku(mbedtls_x509write_cert *crt, bool client, const char *path, struct rw_err *err)
{
	unsigned char buf[32];
	unsigned char *p = buf + sizeof(buf);
	size_t len = 0;
	int mret;

	if (!asn1_add(&len,
	            client ? mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_CLIENT_AUTH,
	                             MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH))
	                   : mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_SERVER_AUTH,
	                             MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH))) ||
	        !asn1_add(&len, mbedtls_asn1_write_len(&p, buf, len)) ||
	        !asn1_add(&len,
	                mbedtls_asn1_write_tag(
	                        &p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)))
		return rw_err_set(err, -EINVAL, "cannot encode extendedKeyUsage of '%s'", path);
	mret = mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
	        MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, p, len);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot set the extendedKeyUsage of", path);
	return 0;
}

/* Signs crt into PEM in buf (PEM_MAX bytes); sets *ret_len to strlen. */
static int
tlsgen_crt_pem(mbedtls_x509write_cert *crt, struct tlsgen_rng *rng, unsigned char *buf,
        size_t *ret_len, const char *path, struct rw_err *err)
{
	int mret;

	mret = mbedtls_x509write_crt_pem(crt, buf, PEM_MAX, mbedtls_ctr_drbg_random, &rng->drbg);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot sign the certificate", path);
	*ret_len = strlen((const char *)buf);
	return 0;
}

static int
tlsgen_key_pem(mbedtls_pk_context *key, unsigned char *buf, size_t *ret_len, const char *path,
        struct rw_err *err)
{
	int mret;

	/* buf has PEM_MAX bytes left at least (the key follows a certificate of
	 * less than PEM_MAX bytes in a PEM_BUF buffer). */
	mret = mbedtls_pk_write_key_pem(key, buf, PEM_MAX);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot encode the key for", path);
	*ret_len = strlen((const char *)buf);
	return 0;
}

static int
tlsgen_write(const char *path, const void *data, size_t len, mode_t mode, struct rw_err *err)
{
	int r = write_file_atomic(path, data, len, mode);

	if (r < 0)
		return rw_err_set(err, r, "cannot write '%s': %s", path, strerror(-r));
	return 0;
}

/* A PEM_BUF buffer that may hold a private key: wiped, then freed. */
static void
pem_freep(unsigned char **p)
{
	if (*p) {
		mbedtls_platform_zeroize(*p, PEM_BUF);
		free(*p);
	}
}
#define _cleanup_pem_ _cleanup_(pem_freep)

int
tlsgen_make_ca(const char *ca_cert_path, const char *ca_key_path, const char *common_name,
        unsigned days, struct rw_err *err)
{
	_cleanup_pem_ unsigned char *pem = NULL;
	char subject[16 + TLSGEN_CN_MAX];
	struct tlsgen_rng rng;
	mbedtls_x509write_cert crt;
	mbedtls_pk_context key;
	size_t len = 0;
	int r, mret;

	if (isempty(ca_cert_path) || isempty(ca_key_path))
		return rw_err_set(err, -EINVAL, "no CA certificate or key path given");
	if (!cn_is_valid(common_name))
		return rw_err_set(err, -EINVAL,
		        "CA name '%s' is not 1..%d characters of letters, digits and ' ._@:()/+-'",
		        common_name ? common_name : "", TLSGEN_CN_MAX);
	if (days == 0 || days > TLSGEN_DAYS_MAX)
		return rw_err_set(
		        err, -EINVAL, "validity of %u days is not in 1..%u", days, TLSGEN_DAYS_MAX);
	r = xsnprintf(subject, sizeof(subject), "CN=%s,O=rollwave", common_name);
	if (r < 0)
		return rw_err_set(err, r, "CA name '%s' is too long", common_name);
	pem = malloc(PEM_BUF);
	if (!pem)
		return rw_err_set(err, -ENOMEM, "out of memory");

	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&crt);
	r = tlsgen_rng_init(&rng, err);
	if (r < 0)
		goto cleanup;
	r = tlsgen_gen_key(&key, &rng, ca_key_path, err);
	if (r < 0)
		goto cleanup;
	r = tlsgen_crt_setup(&crt, &rng, subject, subject, &key, &key, days, ca_cert_path, err);
	if (r < 0)
		goto cleanup;
	mret = mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0);
	if (mret == 0)
		mret = mbedtls_x509write_crt_set_key_usage(
		        &crt, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN);
	if (mret != 0) {
		r = tlsgen_mbed_err(err, mret, "cannot set the CA extensions of", ca_cert_path);
		goto cleanup;
	}

	/* The key first: a certificate without its key is useless, a key
	 * without a certificate is harmless. */
	r = tlsgen_key_pem(&key, pem, &len, ca_key_path, err);
	if (r < 0)
		goto cleanup;
	r = tlsgen_write(ca_key_path, pem, len, 0600, err);
	if (r < 0)
		goto cleanup;
	r = tlsgen_crt_pem(&crt, &rng, pem, &len, ca_cert_path, err);
	if (r < 0)
		goto cleanup;
	r = tlsgen_write(ca_cert_path, pem, len, 0644, err);
cleanup:
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&key);
	tlsgen_rng_done(&rng);
	return r;
}

/* Loads the CA certificate and key and checks that they belong together
 * and that the certificate is a CA. */
static int
tlsgen_load_ca(const char *ca_cert_path, const char *ca_key_path, mbedtls_x509_crt *ca,
        mbedtls_pk_context *ca_key, struct rw_err *err)
{
	int mret;

	/* mbedTLS says only "file I/O error"; say which file and why. */
	if (access(ca_cert_path, R_OK) < 0)
		return rw_err_set(err, -errno, "cannot read CA certificate '%s': %m", ca_cert_path);
	if (access(ca_key_path, R_OK) < 0)
		return rw_err_set(err, -errno, "cannot read CA key '%s': %m", ca_key_path);
	mret = mbedtls_x509_crt_parse_file(ca, ca_cert_path);
	if (mret < 0)
		return tlsgen_mbed_err(err, mret, "cannot load CA certificate", ca_cert_path);
	if (mret > 0)
		return rw_err_set(err, -EBADMSG,
		        "CA certificate file '%s' holds %d certificates that do not parse",
		        ca_cert_path, mret);
	if (!ca->ca_istrue)
		return rw_err_set(err, -EBADMSG, "'%s' is not a CA certificate (basicConstraints)",
		        ca_cert_path);
	mret = mbedtls_pk_parse_keyfile(ca_key, ca_key_path, NULL);
	if (mret != 0)
		return tlsgen_mbed_err(err, mret, "cannot load CA key", ca_key_path);
	mret = mbedtls_pk_check_pair(&ca->pk, ca_key);
	if (mret != 0)
		return rw_err_set(err, -EBADMSG,
		        "CA key '%s' does not belong to CA certificate '%s'", ca_key_path,
		        ca_cert_path);
	return 0;
}

/* Parses the new certificate back and verifies it against the CA with the
 * name a client will expect. */
static int
tlsgen_self_check(const unsigned char *pem, size_t len, mbedtls_x509_crt *ca,
        const char *server_name, const char *path, struct rw_err *err)
{
	mbedtls_x509_crt crt;
	uint32_t flags = 0;
	int mret, r = 0;

	mbedtls_x509_crt_init(&crt);
	mret = mbedtls_x509_crt_parse(&crt, pem, len + 1);
	if (mret != 0)
		r = tlsgen_mbed_err(err, mret, "generated certificate does not parse for", path);
	else if (mbedtls_x509_crt_verify(&crt, ca, NULL, server_name, &flags, NULL, NULL) != 0) {
		char info[256];

		mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
		info[strcspn(info, "\n")] = 0;
		r = rw_err_set(err, -EIO, "generated certificate for '%s' does not verify: %s",
		        path, info);
	}
	mbedtls_x509_crt_free(&crt);
	return r;
}

/* A certificate signed by the CA, written with its new key to out_pem_path:
 * a server one (serverAuth, the names in subjectAltName, CN = the first DNS
 * name) or, with client, an admin's (clientAuth, CN = common_name). */
static int
tlsgen_make_leaf(const char *ca_cert_path, const char *ca_key_path, const char *out_pem_path,
        bool client, const char *common_name, const char *const *dns_names,
        const char *const *ip_addrs, unsigned days, struct rw_err *err)
{
	_cleanup_pem_ unsigned char *pem = NULL;
	char subject[8 + DNS_NAME_MAX], issuer[512];
	size_t crt_len = 0, key_len = 0;
	struct tlsgen_rng rng;
	mbedtls_x509write_cert crt;
	mbedtls_pk_context key, ca_key;
	mbedtls_x509_crt ca;
	int r, mret;

	if (days == 0 || days > TLSGEN_DAYS_MAX)
		return rw_err_set(
		        err, -EINVAL, "validity of %u days is not in 1..%u", days, TLSGEN_DAYS_MAX);
	r = xsnprintf(subject, sizeof(subject), "CN=%s", common_name);
	if (r < 0)
		return rw_err_set(err, r, "name '%s' is too long", common_name);
	/* The certificate, then its key, in one buffer. */
	pem = malloc(PEM_BUF);
	if (!pem)
		return rw_err_set(err, -ENOMEM, "out of memory");

	mbedtls_pk_init(&key);
	mbedtls_pk_init(&ca_key);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509write_crt_init(&crt);
	r = tlsgen_rng_init(&rng, err);
	if (r < 0)
		goto cleanup;
	r = tlsgen_load_ca(ca_cert_path, ca_key_path, &ca, &ca_key, err);
	if (r < 0)
		goto cleanup;
	mret = mbedtls_x509_dn_gets(issuer, sizeof(issuer), &ca.subject);
	if (mret < 0) {
		r = tlsgen_mbed_err(err, mret, "cannot read the subject of", ca_cert_path);
		goto cleanup;
	}
	r = tlsgen_gen_key(&key, &rng, out_pem_path, err);
	if (r < 0)
		goto cleanup;
	r = tlsgen_crt_setup(&crt, &rng, subject, issuer, &key, &ca_key, days, out_pem_path, err);
	if (r < 0)
		goto cleanup;
	mret = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1);
	if (mret == 0)
		mret = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
	if (mret != 0) {
		r = tlsgen_mbed_err(err, mret, "cannot set the extensions of", out_pem_path);
		goto cleanup;
	}
	r = tlsgen_set_eku(&crt, client, out_pem_path, err);
	if (r < 0)
		goto cleanup;
	if (!client) {
		r = tlsgen_set_san(&crt, dns_names, ip_addrs, out_pem_path, err);
		if (r < 0)
			goto cleanup;
	}

	r = tlsgen_crt_pem(&crt, &rng, pem, &crt_len, out_pem_path, err);
	if (r < 0)
		goto cleanup;
	r = tlsgen_self_check(pem, crt_len, &ca, client ? NULL : dns_names[0], out_pem_path, err);
	if (r < 0)
		goto cleanup;
	r = tlsgen_key_pem(&key, pem + crt_len, &key_len, out_pem_path, err);
	if (r < 0)
		goto cleanup;
	r = tlsgen_write(out_pem_path, pem, crt_len + key_len, 0600, err);
cleanup:
	mbedtls_x509write_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
	mbedtls_pk_free(&ca_key);
	mbedtls_pk_free(&key);
	tlsgen_rng_done(&rng);
	return r;
}

int
tlsgen_make_server(const char *ca_cert_path, const char *ca_key_path, const char *out_pem_path,
        const char *const *dns_names, const char *const *ip_addrs, unsigned days,
        struct rw_err *err)
{
	size_t n_dns = strv_count(dns_names), n_ip = strv_count(ip_addrs);

	if (isempty(ca_cert_path) || isempty(ca_key_path) || isempty(out_pem_path))
		return rw_err_set(err, -EINVAL, "no CA certificate, CA key or output path given");
	if (n_dns == 0)
		return rw_err_set(err, -EINVAL, "a server certificate needs at least one DNS name");
	if (n_dns > TLSGEN_SAN_MAX || n_ip > TLSGEN_SAN_MAX)
		return rw_err_set(err, -EINVAL, "at most %d DNS names and %d IP addresses",
		        TLSGEN_SAN_MAX, TLSGEN_SAN_MAX);
	for (size_t i = 0; i < n_dns; i++)
		if (!dns_name_is_valid(dns_names[i]))
			return rw_err_set(
			        err, -EINVAL, "'%s' is not a valid DNS name", dns_names[i]);
	return tlsgen_make_leaf(ca_cert_path, ca_key_path, out_pem_path, false, dns_names[0],
	        dns_names, ip_addrs, days, err);
}

int
tlsgen_make_client(const char *ca_cert_path, const char *ca_key_path, const char *out_pem_path,
        const char *common_name, unsigned days, struct rw_err *err)
{
	if (isempty(ca_cert_path) || isempty(ca_key_path) || isempty(out_pem_path))
		return rw_err_set(err, -EINVAL, "no CA certificate, CA key or output path given");
	if (!cn_is_valid(common_name))
		return rw_err_set(err, -EINVAL,
		        "'%s' is not a valid name: 1..%d characters of letters, digits and "
		        "' ._@:()/+-'",
		        common_name ? common_name : "", TLSGEN_CN_MAX);
	return tlsgen_make_leaf(
	        ca_cert_path, ca_key_path, out_pem_path, true, common_name, NULL, NULL, days, err);
}
