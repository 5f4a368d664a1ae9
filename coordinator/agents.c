/*
 * agents: the agent socket's start and stop, its pipe events, the expiry
 * of parked polls, the fleet's callbacks and the counters. See agents.h.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "agents_private.h"
#include "log.h"
#include "tlsprefs.h"

/* ---- the fleet's callbacks (called without the fleet lock) ---- */

static int
on_command_ready(void *userdata, int64_t host_id)
{
	struct agents *a = userdata;
	struct agent_link *l;
	int sent = 0;

	pthread_mutex_lock(&a->lock);
	l = agent_link(a, host_id, false);
	if (l && l->parked) {
		nng_msg *cmd = next_command(a, host_id, l->pipe, l->parked->parked_msgid);

		if (cmd) {
			worker_unpark(a, l->parked, cmd);
			sent = 1;
		}
	}
	pthread_mutex_unlock(&a->lock);
	agents_flush_sends(a);
	return sent;
}

static void
on_disconnect(void *userdata, int64_t host_id)
{
	struct agents *a = userdata;
	struct agent_link *l;

	pthread_mutex_lock(&a->lock);
	l = agent_link(a, host_id, false);
	if (l && l->parked)
		worker_unpark(a, l->parked, NULL);
	if (l && l->pipe) {
		nng_pipe p;

		memset(&p, 0, sizeof(p));
		p.id = l->pipe;
		nng_pipe_close(p);
		l->pipe = 0;
	}
	pthread_mutex_unlock(&a->lock);
	agents_flush_sends(a);
}

/* ---- pipes ---- */

static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct agents *a = arg;
	uint32_t pipe = nng_pipe_id(p);
	struct session *se;

	if (ev == NNG_PIPE_EV_ADD_POST) {
		/* The only place sessions are born: nng runs this before any
		 * message of the pipe is delivered, so a request of a pipe
		 * that is already gone never recreates its session. */
		pthread_mutex_lock(&a->lock);
		(void)session_find(a, pipe, true);
		pthread_mutex_unlock(&a->lock);
		return;
	}
	if (ev != NNG_PIPE_EV_REM_POST)
		return;
	pthread_mutex_lock(&a->lock);
	se = session_find(a, pipe, false);
	if (se && se->host_id > 0) {
		struct agent_link *l = agent_link(a, se->host_id, false);

		if (l && l->pipe == pipe)
			l->pipe = 0;
		if (l && l->parked)
			worker_unpark(a, l->parked, NULL);
	}
	session_remove(a, pipe);
	pthread_mutex_unlock(&a->lock);
	agents_flush_sends(a);
}

/* ---- start and stop ---- */

static int
listen_tls(struct agents *a, struct rw_err *err)
{
	const struct coordinator_config *c = a->cfg;
	int rv;

	if (strncmp(c->listen, "tls+tcp://", 10) != 0) {
		log_warning("Insecure=yes: agents connect to %s without TLS; their traffic is "
		            "neither encrypted nor is the coordinator authenticated",
		        c->listen);
		return 0;
	}
	rv = tlsprefs_config_alloc(&a->tls, NNG_TLS_MODE_SERVER);
	if (rv == 0)
		rv = nng_tls_config_cert_key_file(a->tls, c->tls_certificate, NULL);
	if (rv != 0)
		return rw_err_set(
		        err, -EIO, "TLS certificate %s: %s", c->tls_certificate, nng_strerror(rv));
	rv = nng_listener_set_ptr(a->listener, NNG_OPT_TLS_CONFIG, a->tls);
	if (rv != 0)
		return rw_nng_error(err, rv, "cannot set TLS on", c->listen);
	return 0;
}

static int
listen_socket(struct agents *a, struct rw_err *err)
{
	const struct coordinator_config *c = a->cfg;
	int rv, r;

	rv = nng_rep0_open(&a->sock);
	if (rv != 0)
		return rw_nng_error(err, rv, "cannot open the agent socket for", c->listen);
	nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE);
	nng_pipe_notify(a->sock, NNG_PIPE_EV_ADD_POST, pipe_event, a);
	nng_pipe_notify(a->sock, NNG_PIPE_EV_REM_POST, pipe_event, a);
	rv = nng_listener_create(&a->listener, a->sock, c->listen);
	if (rv != 0)
		return rw_nng_error(err, rv, "cannot listen on", c->listen);
	r = listen_tls(a, err);
	if (r < 0)
		return r;
	rv = nng_listener_start(a->listener, 0);
	if (rv != 0)
		return rw_nng_error(err, rv, "cannot listen on", c->listen);
	return 0;
}

int
agents_start(const struct agents_config *c, struct agents **ret, struct rw_err *err)
{
	struct agents *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return rw_err_set(err, -ENOMEM, "out of memory");
	a->cfg = c->cfg;
	a->db = c->db;
	a->fleet = c->fleet;
	a->id = c->id;
	a->join_token = c->join_token;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->flushed, NULL);
	/* Set before anything can connect: the callbacks see a whole
	 * struct agents. */
	*ret = a;
	fleet_set_link(a->fleet,
	        &(struct fleet_link) {
	                .command_ready = on_command_ready,
	                .disconnect = on_disconnect,
	                .userdata = a,
	        });
	r = listen_socket(a, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < MIN_IDLE_WORKERS * 4; i++)
		if (worker_new(a) < 0) {
			pthread_mutex_unlock(&a->lock);
			return rw_err_set(err, -ENOMEM, "out of memory");
		}
	pthread_mutex_unlock(&a->lock);
	return 0;
}

void
agents_expire_polls(struct agents *a)
{
	uint64_t now = fleet_clock_ms();

	pthread_mutex_lock(&a->lock);
	while (a->parked_head && a->parked_head->park_deadline_ms <= now)
		worker_unpark(a, a->parked_head, NULL);
	pthread_mutex_unlock(&a->lock);
	agents_flush_sends(a);
}

void
agents_quiesce(struct agents *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	/* Answers queued for parked polls are not sent any more (their
	 * messages are freed with the workers in agents_stop()); wait for the
	 * threads still sending some. */
	a->sendq = NULL;
	while (a->flushing)
		pthread_cond_wait(&a->flushed, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

void
agents_stop(struct agents *a)
{
	if (!a)
		return;
	agents_quiesce(a);
	fleet_set_link(a->fleet, NULL);
	/* Every context first (their callbacks see stopping and submit
	 * nothing more), then the socket: nng 1.5 can wait forever in
	 * nng_close() for contexts still holding requests (parked polls). */
	for (size_t i = 0; i < a->n_workers; i++) {
		nng_aio_stop(a->workers[i]->aio);
		if (a->workers[i]->st == W_SEND) {
			nng_msg_free(nng_aio_get_msg(a->workers[i]->aio));
			nng_aio_set_msg(a->workers[i]->aio, NULL);
		}
		nng_ctx_close(a->workers[i]->ctx);
	}
	nng_close(a->sock);
	for (size_t i = 0; i < a->n_workers; i++) {
		/* Closing the pipes answered their parked polls (pipe_event),
		 * with replies nobody sends any more. */
		if (a->workers[i]->st == W_SEND && nng_aio_get_msg(a->workers[i]->aio))
			nng_msg_free(nng_aio_get_msg(a->workers[i]->aio));
		nng_aio_free(a->workers[i]->aio);
		free(a->workers[i]);
	}
	free(a->workers);
	if (a->tls)
		nng_tls_config_free(a->tls);
	for (size_t i = 0; i < a->sessions_cap; i++)
		if (a->sessions[i].pipe)
			session_clear_facts(&a->sessions[i].facts);
	free(a->sessions);
	free(a->links);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->flushed);
	free(a);
}

void
agents_stats(struct agents *a, struct agents_stats *sc)
{
	pthread_mutex_lock(&a->lock);
	sc->connections = a->n_sessions;
	sc->idle_workers = a->idle_workers;
	sc->n_workers = a->n_workers;
	sc->parked = 0;
	for (size_t i = 1; i < a->links_cap; i++)
		sc->parked += a->links[i].parked != NULL;
	pthread_mutex_unlock(&a->lock);
	stat_copy(sc->msgs, a->msgs, COUNTER_TYPES);
	stat_copy(&sc->refused[0][0], &a->refused[0][0], COUNTER_TYPES * COUNTER_CODES);
}
