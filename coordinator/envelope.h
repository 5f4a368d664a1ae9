/*
 * envelope: the conversions the agent and admin sockets share (codec.c):
 * labels and apps reports between protobuf and the JSON the store keeps,
 * and envelopes packed into nng messages.
 */
#ifndef ROLLWAVE_COORDINATOR_ENVELOPE_H
#define ROLLWAVE_COORDINATOR_ENVELOPE_H

#include <nng/nng.h>
#include <stdarg.h>

#include "codec.h"
#include "util.h"
#include "wire.h"

char *labels_to_json(Rollwave__Label **labels, size_t n);
char *apps_to_json(Rollwave__AppStatus **apps, size_t n);
void labels_from_json(struct arena *a, const char *text, Rollwave__Label ***ret, size_t *ret_n);
void apps_from_json(struct arena *a, const char *text, Rollwave__AppStatus ***ret, size_t *ret_n);
nng_msg *msg_from_env(const Rollwave__Envelope *env);
nng_msg *error_msg(uint64_t msgid, Rollwave__Error__Code code, const char *fmt, ...) _printf_(3, 4);
nng_msg *error_msgv(uint64_t msgid, Rollwave__Error__Code code, const char *fmt, va_list ap)
        _printf_(3, 0);
void env_init(Rollwave__Envelope *env, uint64_t msgid);

/* -EIO with err saying "what url: nng's reason". */
static inline int
rw_nng_error(struct rw_err *err, int rv, const char *what, const char *url)
{
	return rw_err_set(err, -EIO, "%s %s: %s", what, url, nng_strerror(rv));
}

#endif
