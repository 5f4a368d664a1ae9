/*
 * tlsgen: the TLS material `rollwave-coordinator init` makes for a setup
 * without a PKI of its own: a private CA, and a server certificate signed by
 * it, in the shapes nng 1.5 (on mbedTLS 2.28) loads.
 *
 * Keys are ECDSA P-256 (nng's mbedTLS engine does not do Ed25519
 * certificates); signatures ECDSA with SHA-256; serial numbers are 16 random
 * bytes; randomness comes from an mbedTLS CTR_DRBG seeded from
 * mbedtls_entropy. notBefore is an hour in the past (clock skew between
 * hosts), notAfter `days` days from now.
 *
 * Files:
 *   - CA certificate: PEM "CERTIFICATE", mode 0644; what agents get as
 *     their CA file (nng_tls_config_ca_file).
 *   - CA key: PEM "EC PRIVATE KEY", mode 0600.
 *   - Server file: the certificate followed by its key, both PEM, in ONE
 *     file of mode 0600, as nng_tls_config_cert_key_file(cfg, path, NULL)
 *     wants it.
 * Every file is written atomically (temp file, fsync, rename, fsync of the
 * directory) and replaces an earlier file of that name; directories must
 * exist.
 *
 * Library code: nothing here logs. Functions return 0 or -errno and
 * describe failures in err, naming the file and, for mbedTLS failures, the
 * mbedTLS error string: -EINVAL (bad argument), -EBADMSG (a CA file that
 * does not parse, or a key that does not match the certificate), -EIO (an
 * mbedTLS operation failed), or the file system's -errno.
 */
#ifndef ROLLWAVE_COORDINATOR_TLSGEN_H
#define ROLLWAVE_COORDINATOR_TLSGEN_H

#include "util.h"

/* Longest common name accepted (X.520's ub-common-name). */
#define TLSGEN_CN_MAX 64
/* Most names of each kind in one server certificate. */
#define TLSGEN_SAN_MAX 32
/* Longest validity accepted, in days. */
#define TLSGEN_DAYS_MAX 36500u

/* Makes a self-signed CA: basicConstraints CA:true pathlen:0 (critical), keyUsage
 * keyCertSign|cRLSign (critical), subject "CN=<common_name>, O=rollwave".
 * common_name: 1..TLSGEN_CN_MAX characters of [A-Za-z0-9 ._@:()/+-]. days:
 * 1..TLSGEN_DAYS_MAX. */
int tlsgen_make_ca(const char *ca_cert_path, const char *ca_key_path, const char *common_name,
        unsigned days, struct rw_err *err);

/* Makes a server certificate signed by the CA in ca_cert_path/ca_key_path
 * (as tlsgen_make_ca() wrote them) and writes it with its new key to
 * out_pem_path. dns_names and ip_addrs are NULL-terminated lists (either may
 * be NULL) of at most TLSGEN_SAN_MAX entries each; there must be at least
 * one DNS name. DNS names are host names (letters, digits, '-', '.', an
 * optional leading "*."; at most 253 characters); IP addresses are IPv4 or
 * IPv6 literals. The certificate has subject "CN=<first DNS name>",
 * subjectAltName with every DNS name and IP, extendedKeyUsage serverAuth,
 * keyUsage digitalSignature, basicConstraints CA:false.
 * Note: mbedTLS 2.28 clients (nng's) match the server name only against DNS
 * entries, so dial by a DNS name; the IP entries serve other clients. */
int tlsgen_make_server(const char *ca_cert_path, const char *ca_key_path, const char *out_pem_path,
        const char *const *dns_names, const char *const *ip_addrs, unsigned days,
        struct rw_err *err);

/* Makes an admin's client certificate signed by the CA: subject
 * "CN=<common_name>" (as for tlsgen_make_ca()), extendedKeyUsage
 * clientAuth, keyUsage digitalSignature, basicConstraints CA:false; written
 * with its new key to out_pem_path (mode 0600), the form `rollwave --cert`
 * reads. */
int tlsgen_make_client(const char *ca_cert_path, const char *ca_key_path, const char *out_pem_path,
        const char *common_name, unsigned days, struct rw_err *err);

#endif
