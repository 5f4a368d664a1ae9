/*
 * wire_probe: sends one hostile or out-of-order request to a rollwave
 * socket and prints the reply: "error CODE: message", "reply BODY", or
 * "no reply: reason". For the coordinator's bad-input tests.
 *
 *   wire_probe URL garbage|truncated|oversized|version|unknown-type|
 *                  admin-on-agent|heartbeat-unauthenticated|
 *                  empty
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>

#include "util.h"
#include "wire.h"

static int
exchange(const char *url, const void *buf, size_t len)
{
	_cleanup_wire_free_ Rollwave__Envelope *env = NULL;
	struct rw_err err = {{0}};
	nng_socket s;
	void *rbuf = NULL;
	size_t rlen = 0;
	int rv;

	if ((rv = nng_req0_open(&s)) != 0 || (rv = nng_dial(s, url, NULL, 0)) != 0) {
		printf("no reply: cannot connect: %s\n", nng_strerror(rv));
		return 1;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000);
	/* One attempt: a peer that drops the connection must not see it again. */
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE);
	rv = nng_send(s, (void *)buf, len, 0);
	if (rv == 0)
		rv = nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC);
	if (rv != 0) {
		printf("no reply: %s\n", nng_strerror(rv));
		nng_close(s);
		return 0;
	}
	if (wire_decode(rbuf, rlen, &env, &err) < 0)
		printf("undecodable reply: %s\n", err.msg);
	else if (env->body_case == ROLLWAVE__ENVELOPE__BODY_ERROR)
		printf("error %d: %s\n", (int)env->error->code, env->error->message);
	else
		printf("reply %s\n", wire_body_name(env->body_case));
	nng_free(rbuf, rlen);
	nng_close(s);
	return 0;
}

static int
send_env(const char *url, Rollwave__Envelope *env)
{
	_cleanup_free_ void *buf = NULL;
	size_t len;

	if (wire_encode(env, &buf, &len) < 0) {
		printf("cannot encode\n");
		return 1;
	}
	return exchange(url, buf, len);
}

int
main(int argc, char **argv)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__Heartbeat hb = ROLLWAVE__HEARTBEAT__INIT;
	Rollwave__AdminRequest ar = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__ListApps la = ROLLWAVE__ADMIN_REQUEST__LIST_APPS__INIT;
	const char *url, *what;

	if (argc != 3 || sodium_init() < 0) {
		fprintf(stderr, "usage: wire_probe URL KIND\n");
		return 2;
	}
	url = argv[1];
	what = argv[2];
	env.protocol_version = WIRE_PROTOCOL_VERSION;
	env.message_id = 7;
	if (streq(what, "garbage")) {
		uint8_t g[64];

		randombytes_buf(g, sizeof(g));
		g[0] = 0xff;
		return exchange(url, g, sizeof(g));
	}
	if (streq(what, "empty"))
		return exchange(url, "", 0);
	if (streq(what, "oversized")) {
		size_t n = 2 * WIRE_MAX_MESSAGE;
		uint8_t *big = calloc(1, n);
		int r;

		if (!big)
			return 1;
		r = exchange(url, big, n);
		free(big);
		return r;
	}
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	hb.seq = 1;
	if (streq(what, "truncated")) {
		_cleanup_free_ void *buf = NULL;
		size_t len;

		if (wire_encode(&env, &buf, &len) < 0)
			return 1;
		return exchange(url, buf, len - 1);
	}
	if (streq(what, "version")) {
		env.protocol_version = 99;
		return send_env(url, &env);
	}
	if (streq(what, "unknown-type")) {
		/* A body number no v1 peer knows (field 63, empty message). */
		static const uint8_t raw[] = {0x08, 0x01, 0x10, 0x07, 0xfa, 0x03, 0x00};

		return exchange(url, raw, sizeof(raw));
	}
	if (streq(what, "heartbeat-unauthenticated"))
		return send_env(url, &env);
	if (streq(what, "admin-on-agent")) {
		ar.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_APPS;
		ar.list_apps = &la;
		env.body_case = ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST;
		env.admin_request = &ar;
		return send_env(url, &env);
	}
	fprintf(stderr, "wire_probe: unknown kind '%s'\n", what);
	return 2;
}
