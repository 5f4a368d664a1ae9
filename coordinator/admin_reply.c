/*
 * admin_reply: the replies of the admin socket's handlers, and the count
 * of the refusals among them by request type and error code.
 */
#include "admin_private.h"

nng_msg *
admin_reply(uint64_t msgid, Rollwave__AdminResponse *resp)
{
	Rollwave__Envelope env;

	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE;
	env.admin_response = resp;
	return msg_from_env(&env);
}

/* The request being served and the code of the error it was answered with,
 * for the metrics (the admin socket is served by one thread). */
static struct {
	struct admin *s;
	size_t type;
} current;

void
admin_reply_begin(struct admin *s, size_t type)
{
	current.s = s;
	current.type = type;
}

nng_msg *
admin_error(uint64_t msgid, Rollwave__Error__Code code, const char *message)
{
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__Error e = ROLLWAVE__ERROR__INIT;

	if (current.s)
		stat_inc(&current.s->refused[current.type][stat_slot((int)code, COUNTER_CODES)]);
	e.code = code;
	e.message = (char *)message;
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR;
	resp.error = &e;
	return admin_reply(msgid, &resp);
}
