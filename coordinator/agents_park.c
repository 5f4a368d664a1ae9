/*
 * agents_park: the long polls parked until a command comes or their
 * timeout passes (a list in deadline order), and the replies to them that
 * leave without the socket's lock.
 */
#include "agents_private.h"

void
worker_park(struct agents *a, struct worker *w, int64_t host, uint64_t msgid)
{
	struct agent_link *l = agent_link(a, host, false);

	l->parked = w;
	w->parked_host = host;
	w->parked_msgid = msgid;
	w->park_deadline_ms = fleet_clock_ms() + POLL_TIMEOUT_MS;
	w->park_prev = a->parked_tail;
	w->park_next = NULL;
	if (a->parked_tail)
		a->parked_tail->park_next = w;
	else
		a->parked_head = w;
	a->parked_tail = w;
}

void
worker_unpark(struct agents *a, struct worker *w, nng_msg *reply)
{
	struct agent_link *l = agent_link(a, w->parked_host, false);

	if (w->park_prev)
		w->park_prev->park_next = w->park_next;
	else if (a->parked_head == w)
		a->parked_head = w->park_next;
	if (w->park_next)
		w->park_next->park_prev = w->park_prev;
	else if (a->parked_tail == w)
		a->parked_tail = w->park_prev;
	w->park_prev = w->park_next = NULL;
	if (l && l->parked == w)
		l->parked = NULL;
	w->parked_host = 0;
	if (!reply)
		reply = empty_poll_msg(w->parked_msgid);
	if (!reply) {
		w->st = W_RECV;
		a->idle_workers++;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	w->st = W_SEND;
	nng_aio_set_msg(w->aio, reply);
	w->send_next = a->sendq;
	a->sendq = w;
}

void
agents_flush_sends(struct agents *a)
{
	struct worker *q;

	pthread_mutex_lock(&a->lock);
	if (a->stopping || !a->sendq) {
		pthread_mutex_unlock(&a->lock);
		return;
	}
	q = a->sendq;
	a->sendq = NULL;
	a->flushing++;
	pthread_mutex_unlock(&a->lock);
	while (q) {
		struct worker *w = q;

		q = w->send_next;
		w->send_next = NULL;
		nng_ctx_send(w->ctx, w->aio);
	}
	pthread_mutex_lock(&a->lock);
	if (--a->flushing == 0)
		pthread_cond_broadcast(&a->flushed);
	pthread_mutex_unlock(&a->lock);
}
