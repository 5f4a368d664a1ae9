/*
 * agents_worker: the pool of contexts serving the agent socket (the state
 * drawing is in agents_private.h): receive, handle, send, or park.
 */
#include "agents_private.h"

/* The end of a send: the worker receives again. */
static void
worker_sent(struct agents *a, struct worker *w, int rv)
{
	if (rv != 0)
		nng_msg_free(nng_aio_get_msg(w->aio));
	if (a->stopping || rv == NNG_ECLOSED) {
		w->st = W_CLOSED;
		return;
	}
	w->st = W_RECV;
	a->idle_workers++;
	nng_ctx_recv(w->ctx, w->aio);
}

/* A request arrived (rv 0) or the receive failed; returns whether sends
 * wait for agents_flush_sends(), and sets *send when w's reply must go out
 * (after a->lock is released). */
static bool
worker_received(struct agents *a, struct worker *w, int rv, bool *send)
{
	nng_msg *req, *reply;

	a->idle_workers--;
	if (rv != 0 && (rv == NNG_ECLOSED || a->stopping)) {
		w->st = W_CLOSED;
		return false;
	}
	req = rv == 0 ? nng_aio_get_msg(w->aio) : NULL;
	if (req && a->stopping) {
		nng_msg_free(req);
		w->st = W_CLOSED;
		return false;
	}
	reply = req ? handle_agent(a, w, req) : NULL;
	nng_msg_free(req);
	if (!reply && w->parked_host) {
		w->st = W_PARKED;
		if (a->idle_workers < MIN_IDLE_WORKERS && a->n_workers < MAX_WORKERS)
			(void)worker_new(a);
		return a->sendq != NULL; /* the poll this one replaced */
	}
	if (!reply) {
		/* A failed receive, or could not even build an error: drop
		 * it, keep receiving. */
		a->idle_workers++;
		nng_ctx_recv(w->ctx, w->aio);
		return false;
	}
	/* The reply goes out without the lock (a send encrypts and writes);
	 * nothing else touches a worker in W_SEND. */
	w->st = W_SEND;
	nng_aio_set_msg(w->aio, reply);
	*send = true;
	return a->sendq != NULL; /* this request answered an older poll */
}

static void
worker_cb(void *arg)
{
	struct worker *w = arg;
	struct agents *a = w->a;
	int rv = nng_aio_result(w->aio);
	bool flush = false, send = false;

	pthread_mutex_lock(&a->lock);
	if (w->st == W_SEND)
		worker_sent(a, w, rv);
	else
		flush = worker_received(a, w, rv, &send);
	pthread_mutex_unlock(&a->lock);
	if (send)
		nng_ctx_send(w->ctx, w->aio);
	if (flush)
		agents_flush_sends(a);
}

int
worker_new(struct agents *a)
{
	struct worker *w, **nw;

	if (a->stopping)
		return -ECANCELED;
	nw = realloc(a->workers, (a->n_workers + 1) * sizeof(*nw));
	if (!nw)
		return -ENOMEM;
	a->workers = nw;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->a = a;
	if (nng_aio_alloc(&w->aio, worker_cb, w) != 0) {
		free(w);
		return -ENOMEM;
	}
	if (nng_ctx_open(&w->ctx, a->sock) != 0) {
		nng_aio_free(w->aio);
		free(w);
		return -ENOMEM;
	}
	a->workers[a->n_workers++] = w;
	w->st = W_RECV;
	a->idle_workers++;
	nng_ctx_recv(w->ctx, w->aio);
	return 0;
}
