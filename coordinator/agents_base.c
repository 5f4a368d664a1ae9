/*
 * agents_base: what the other files of the agent socket use and that uses
 * none of them: the per-host links, error replies counted by request type
 * and code, and the empty answer to a poll.
 */
#include "agents_private.h"

struct agent_link *
agent_link(struct agents *a, int64_t id, bool create)
{
	if (id <= 0)
		return NULL;
	if ((size_t)id >= a->links_cap) {
		size_t ncap;
		struct agent_link *n;

		if (!create)
			return NULL;
		ncap = a->links_cap ? a->links_cap : 1024;
		while (ncap <= (size_t)id)
			ncap *= 2;
		n = realloc(a->links, ncap * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + a->links_cap, 0, (ncap - a->links_cap) * sizeof(*n));
		a->links = n;
		a->links_cap = ncap;
	}
	return &a->links[id];
}

nng_msg *
agent_error(struct agents *a, uint64_t msgid, Rollwave__Error__Code code, const char *fmt, ...)
{
	nng_msg *m;
	va_list ap;

	stat_inc(&a->refused[a->type][stat_slot((int)code, COUNTER_CODES)]);
	va_start(ap, fmt);
	m = error_msgv(msgid, code, fmt, ap);
	va_end(ap);
	return m;
}

nng_msg *
empty_poll_msg(uint64_t msgid)
{
	Rollwave__Poll p = ROLLWAVE__POLL__INIT;
	Rollwave__Envelope env;

	env_init(&env, msgid);
	env.body_case = ROLLWAVE__ENVELOPE__BODY_POLL;
	env.poll = &p;
	return msg_from_env(&env);
}
