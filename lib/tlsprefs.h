/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * tlsprefs: nng TLS configurations with rollwave's TLS preferences.
 *
 * nng 1.5 builds its TLS on mbedtls 2.28 and offers no way to choose the
 * key-exchange curves. mbedtls 2.28's default list puts secp521r1 and
 * secp384r1 first and a server takes the client's order, so two mbedtls
 * peers exchange keys over P-521: an ECDH there costs about three times
 * one over P-256 (bench: ~2.6 ms vs ~8 ms per shared secret on this
 * machine), which is what a coordinator pays for every agent that
 * (re)connects. This module interposes mbedtls_ssl_config_defaults() in
 * the executables that link it (the symbol is exported from the program
 * and found before libmbedtls') and, after the real defaults, restricts
 * the key-exchange curves to the 128-bit-security ones mbedtls does fast:
 * secp256r1, then x25519. Every TLS configuration the process makes is
 * covered, nng's included; nothing else of mbedtls' defaults changes.
 *
 * Link the rollwave_tlsprefs target into an executable and allocate TLS
 * configurations through tlsprefs_config_alloc() (which also makes sure the
 * interposer is linked in).
 */
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

/* nng_tls_config_alloc() with the preferences applied. Returns nng's error
 * (0 on success); NNG_ENOTSUP when the preferences could not be applied
 * (the interposer did not run: the program was not linked as above). */
int tlsprefs_config_alloc(nng_tls_config **ret, nng_tls_mode mode);

/* How many mbedtls configurations got the preferences so far. */
unsigned tlsprefs_applied(void);
