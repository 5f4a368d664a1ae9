/* SPDX-License-Identifier: MIT */
/*
 * tlsprefs: rollwave's TLS preferences on every mbedtls configuration of
 * the process, nng's included. See tlsprefs.h for why and how.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>

#include "tlsprefs.h"

#if MBEDTLS_VERSION_MAJOR != 2
#error "tlsprefs.c sets curves with the mbedtls 2.x API (mbedtls_ssl_conf_curves)"
#endif

/* 128-bit security, fastest first (mbedtls_ssl_conf_curves keeps the
 * pointer: static storage). */
static const mbedtls_ecp_group_id tlsprefs_curves[] = {
        MBEDTLS_ECP_DP_SECP256R1,
        MBEDTLS_ECP_DP_CURVE25519,
        MBEDTLS_ECP_DP_NONE,
};

static unsigned applied;
static __thread bool applied_here;

typedef int (*config_defaults_fn)(mbedtls_ssl_config *, int, int, int);

/* The interposer: libnng calls this name through its PLT and the dynamic
 * linker finds the program's definition first. */
__attribute__((visibility("default"))) int
mbedtls_ssl_config_defaults(mbedtls_ssl_config *conf, int endpoint, int transport, int preset)
{
	static config_defaults_fn real;
	config_defaults_fn f = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
	int r;

	if (!f) {
		f = (config_defaults_fn)dlsym(RTLD_NEXT, "mbedtls_ssl_config_defaults");
		if (!f)
			return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
		__atomic_store_n(&real, f, __ATOMIC_RELEASE);
	}
	r = f(conf, endpoint, transport, preset);
	if (r != 0)
		return r;
	mbedtls_ssl_conf_curves(conf, tlsprefs_curves);
	__atomic_add_fetch(&applied, 1, __ATOMIC_RELAXED);
	applied_here = true;
	return 0;
}

unsigned
tlsprefs_applied(void)
{
	return __atomic_load_n(&applied, __ATOMIC_RELAXED);
}

int
tlsprefs_config_alloc(nng_tls_config **ret, nng_tls_mode mode)
{
	nng_tls_config *cfg;
	int rv;

	/* nng sets the mbedtls configuration up in this call, on this
	 * thread. */
	applied_here = false;
	rv = nng_tls_config_alloc(&cfg, mode);
	if (rv != 0)
		return rv;
	if (!applied_here) {
		nng_tls_config_free(cfg);
		return NNG_ENOTSUP;
	}
	*ret = cfg;
	return 0;
}
