/*
 * link: the agent's nng connection to the coordinator and the messages it
 * builds. See link.h.
 *
 * A channel's request goes through two aio steps on nng's threads:
 *
 *   link_request() --nng_ctx_send--> SENDING --ok--> nng_ctx_recv --> RECEIVING
 *        |                              | error                         |
 *        |                              v                               v
 *        +---- busy until the REPLY event is taken <---- queue event (decoded reply
 *                                                         or error) + eventfd
 */
#include "tlsprefs.h"
#include "link.h"

#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <sys/eventfd.h>

#include "ini.h"
#include "layout.h"

#define LINK_RECONNECT_MIN_MS 100
#define LINK_RECONNECT_MAX_MS 30000
#define LINK_EVENTS_MAX       1024 /* pipe events beyond this are dropped */

enum chan_step {
	CHAN_IDLE,
	CHAN_SENDING,
	CHAN_RECEIVING,
};

struct link_chan {
	struct link *link;
	enum link_channel id;
	nng_ctx ctx;
	nng_aio *aio;
	enum chan_step step;   /* nng threads (after link_request() started it) */
	struct link_event *ev; /* the REPLY event, allocated by link_request() */
	bool busy;             /* loop thread only */
};

struct link {
	nng_socket sock;
	nng_dialer dialer;
	nng_tls_config *tls;
	char *url;
	bool sock_open, have_dialer;
	struct link_chan chan[_LINK_CHANNEL_MAX];
	int efd;

	pthread_mutex_t lock; /* guards the event queue */
	struct link_event *head, *tail;
	size_t n_events;
};

static int
nng_to_errno(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case NNG_ETIMEDOUT:
		return -ETIMEDOUT;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return -ECANCELED;
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECONNREFUSED:
		return -ECONNRESET;
	case NNG_ENOMEM:
		return -ENOMEM;
	case NNG_EMSGSIZE:
		return -EMSGSIZE;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* Any thread. Takes ownership of ev. */
static void
link_push(struct link *l, struct link_event *ev)
{
	uint64_t one = 1;
	bool drop = false;

	pthread_mutex_lock(&l->lock);
	/* Replies are never dropped (a channel stays busy until its reply
	 * is taken); pipe events are only hints. */
	if (ev->kind != LINK_EVENT_REPLY && l->n_events >= LINK_EVENTS_MAX)
		drop = true;
	else {
		if (l->tail)
			l->tail->next = ev;
		else
			l->head = ev;
		l->tail = ev;
		l->n_events++;
	}
	pthread_mutex_unlock(&l->lock);
	if (drop) {
		link_event_free(ev);
		return;
	}
	(void)!write(l->efd, &one, sizeof(one));
}

static void
chan_finish(struct link_chan *ch, int error, Rollwave__Envelope *reply, const char *detail)
{
	struct link_event *ev = ch->ev;

	ch->ev = NULL;
	ch->step = CHAN_IDLE;
	ev->kind = LINK_EVENT_REPLY;
	ev->channel = ch->id;
	ev->error = error;
	ev->reply = reply;
	if (detail)
		strbuf_printf(ev->detail, sizeof(ev->detail), "%s", detail);
	link_push(ch->link, ev);
}

/* nng thread: one step of a channel's request finished. */
static void
chan_cb(void *arg)
{
	struct link_chan *ch = arg;
	int rv = nng_aio_result(ch->aio);
	Rollwave__Envelope *env = NULL;
	struct rw_err err = {{0}};
	nng_msg *msg;
	int r;

	if (ch->step == CHAN_SENDING) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(ch->aio));
			nng_aio_set_msg(ch->aio, NULL);
			chan_finish(ch, nng_to_errno(rv), NULL, nng_strerror(rv));
			return;
		}
		ch->step = CHAN_RECEIVING;
		nng_ctx_recv(ch->ctx, ch->aio);
		return;
	}
	if (ch->step != CHAN_RECEIVING)
		return;
	if (rv != 0) {
		chan_finish(ch, nng_to_errno(rv), NULL, nng_strerror(rv));
		return;
	}
	msg = nng_aio_get_msg(ch->aio);
	nng_aio_set_msg(ch->aio, NULL);
	r = wire_decode(nng_msg_body(msg), nng_msg_len(msg), &env, &err);
	nng_msg_free(msg);
	if (r < 0) {
		chan_finish(ch, r == -ENOMEM ? -ENOMEM : -EBADMSG, NULL, err.msg);
		return;
	}
	chan_finish(ch, 0, env, NULL);
}

static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct link *l = arg;
	struct link_event *e;

	(void)p;
	e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->kind = ev == NNG_PIPE_EV_ADD_POST ? LINK_EVENT_PIPE_UP : LINK_EVENT_PIPE_DOWN;
	link_push(l, e);
}

static int
link_nng_fail(struct rw_err *err, int rv, const char *what)
{
	return rw_err_set(err, nng_to_errno(rv) == -ENOMEM ? -ENOMEM : -EIO, "%s: %s", what,
	        nng_strerror(rv));
}

/* Creates and starts the dialer (in the background: never blocks). */
static int
link_dial(struct link *l, struct rw_err *err)
{
	int rv;

	if ((rv = nng_dialer_create(&l->dialer, l->sock, l->url)) != 0)
		return rw_err_set(err, rv == NNG_ENOTSUP ? -EPROTONOSUPPORT : -EINVAL,
		        "cannot dial Coordinator=%s: %s", l->url, nng_strerror(rv));
	l->have_dialer = true;
	(void)nng_dialer_set_size(l->dialer, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE);
	if (l->tls && (rv = nng_dialer_set_ptr(l->dialer, NNG_OPT_TLS_CONFIG, l->tls)) != 0)
		return link_nng_fail(err, rv, "cannot set the dialer's TLS config");
	if ((rv = nng_dialer_start(l->dialer, NNG_FLAG_NONBLOCK)) != 0)
		return link_nng_fail(err, rv, "cannot start dialling the coordinator");
	return 0;
}

int
link_redial(struct link *l, struct rw_err *err)
{
	if (l->have_dialer)
		(void)nng_dialer_close(l->dialer);
	l->have_dialer = false;
	return link_dial(l, err);
}

int
link_open(const struct agent_config *cfg, struct link **ret, struct rw_err *err)
{
	char host[256];
	struct link *l;
	bool tls;
	int rv, r;

	r = agent_coordinator_url_parse(cfg->coordinator, &tls, host, sizeof(host), err);
	if (r < 0)
		return r;
	if (!tls && !cfg->insecure)
		return rw_err_set(err, -EINVAL,
		        "Coordinator=%s is plain TCP: set Insecure=yes to allow it",
		        cfg->coordinator);
	if (tls && !cfg->tls_ca[0])
		return rw_err_set(err, -EINVAL, "Coordinator=%s needs [TLS] CA=", cfg->coordinator);

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	l->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->efd < 0) {
		r = rw_err_set(err, -errno, "cannot create eventfd: %m");
		goto fail;
	}
	if ((rv = nng_req0_open(&l->sock)) != 0) {
		r = link_nng_fail(err, rv, "cannot open nng req socket");
		goto fail;
	}
	l->sock_open = true;
	if ((rv = nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE)) != 0 ||
	        (rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT, LINK_RECONNECT_MIN_MS)) != 0 ||
	        (rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, LINK_RECONNECT_MAX_MS)) != 0 ||
	        (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, l)) != 0 ||
	        (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_REM_POST, pipe_cb, l)) != 0) {
		r = link_nng_fail(err, rv, "cannot set up nng socket");
		goto fail;
	}
	for (int i = 0; i < _LINK_CHANNEL_MAX; i++) {
		struct link_chan *ch = &l->chan[i];

		ch->link = l;
		ch->id = (enum link_channel)i;
		if ((rv = nng_ctx_open(&ch->ctx, l->sock)) != 0 ||
		        (rv = nng_aio_alloc(&ch->aio, chan_cb, ch)) != 0) {
			r = link_nng_fail(err, rv, "cannot set up nng context");
			goto fail;
		}
	}
	l->url = strdup(cfg->coordinator);
	if (!l->url) {
		r = -ENOMEM;
		goto fail;
	}
	if (tls) {
		if ((rv = tlsprefs_config_alloc(&l->tls, NNG_TLS_MODE_CLIENT)) != 0 ||
		        (rv = nng_tls_config_server_name(l->tls, host)) != 0 ||
		        (rv = nng_tls_config_auth_mode(l->tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
			r = link_nng_fail(err, rv, "cannot set up TLS");
			goto fail;
		}
		if ((rv = nng_tls_config_ca_file(l->tls, cfg->tls_ca)) != 0) {
			r = rw_err_set(err, -EINVAL, "cannot load [TLS] CA=%s: %s", cfg->tls_ca,
			        nng_strerror(rv));
			goto fail;
		}
	}
	r = link_dial(l, err);
	if (r < 0)
		goto fail;
	*ret = l;
	return 0;
fail:
	link_close(l);
	return r;
}

void
link_close(struct link *l)
{
	struct link_event *ev;

	if (!l)
		return;
	if (l->sock_open)
		nng_close(l->sock); /* fails every pending operation */
	for (int i = 0; i < _LINK_CHANNEL_MAX; i++)
		if (l->chan[i].aio) {
			nng_aio_stop(l->chan[i].aio);
			nng_msg_free(nng_aio_get_msg(l->chan[i].aio));
			nng_aio_free(l->chan[i].aio);
			link_event_free(l->chan[i].ev);
		}
	if (l->tls)
		nng_tls_config_free(l->tls);
	free(l->url);
	while ((ev = l->head)) {
		l->head = ev->next;
		link_event_free(ev);
	}
	if (l->efd >= 0)
		close(l->efd);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int
link_fd(struct link *l)
{
	return l->efd;
}

struct link_event *
link_event_next(struct link *l)
{
	struct link_event *ev;
	uint64_t n;

	(void)!read(l->efd, &n, sizeof(n));
	pthread_mutex_lock(&l->lock);
	ev = l->head;
	if (ev) {
		l->head = ev->next;
		if (!l->head)
			l->tail = NULL;
		l->n_events--;
		ev->next = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	if (ev && ev->kind == LINK_EVENT_REPLY)
		l->chan[ev->channel].busy = false;
	/* nng 1.5 keeps doubling the dialer's reconnect time across successful
	 * connections, so after a few coordinator restarts an agent would wait
	 * the full RECONNMAXT; setting RECONNMINT again resets that backoff. */
	if (ev && ev->kind == LINK_EVENT_PIPE_UP)
		(void)nng_dialer_set_ms(l->dialer, NNG_OPT_RECONNMINT, LINK_RECONNECT_MIN_MS);
	/* More may be queued: keep the fd readable for the loop. */
	if (ev && l->head) {
		uint64_t one = 1;

		(void)!write(l->efd, &one, sizeof(one));
	}
	return ev;
}

void
link_event_free(struct link_event *ev)
{
	if (!ev)
		return;
	wire_free(ev->reply);
	free(ev);
}

int
link_request(struct link *l, enum link_channel channel, const Rollwave__Envelope *env,
        unsigned timeout_ms)
{
	struct link_chan *ch = &l->chan[channel];
	_cleanup_free_ void *buf = NULL;
	nng_msg *msg;
	size_t len;
	int r;

	if (ch->busy)
		return -EBUSY;
	r = wire_encode(env, &buf, &len);
	if (r < 0)
		return r;
	ch->ev = calloc(1, sizeof(*ch->ev));
	if (!ch->ev)
		return -ENOMEM;
	if (nng_msg_alloc(&msg, 0) != 0) {
		free(TAKE_PTR(ch->ev));
		return -ENOMEM;
	}
	if (nng_msg_append(msg, buf, len) != 0) {
		nng_msg_free(msg);
		free(TAKE_PTR(ch->ev));
		return -ENOMEM;
	}
	ch->busy = true;
	ch->step = CHAN_SENDING;
	nng_aio_set_msg(ch->aio, msg);
	nng_aio_set_timeout(ch->aio, (nng_duration)timeout_ms);
	nng_ctx_send(ch->ctx, ch->aio);
	return 0;
}

void
link_cancel(struct link *l, enum link_channel channel)
{
	if (l->chan[channel].busy)
		nng_aio_cancel(l->chan[channel].aio);
}

bool
link_busy(const struct link *l, enum link_channel channel)
{
	return l->chan[channel].busy;
}

/* ---- what the agent says ---- */

static void
app_status_free(Rollwave__AppStatus *a)
{
	if (!a)
		return;
	free(a->app);
	free(a->current);
	free(a->previous);
	strv_free(a->releases);
	free(a);
}

static int
app_status_new(const struct agent_config *cfg, struct state *s, const char *name,
        Rollwave__AppStatus **ret)
{
	_cleanup_strv_free_ char **versions = NULL;
	_cleanup_close_ int rootfd = -1;
	char current[VERSION_MAX + 1] = "";
	struct app_record rec = {0};
	struct app_config app;
	Rollwave__AppStatus *a;
	size_t n;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	rollwave__app_status__init(a);
	a->app = strdup(name);
	if (!a->app)
		goto oom;
	if (app_config_load(cfg, name, &app, NULL) >= 0) {
		if (layout_open_root(app.root, false, &rootfd, NULL) >= 0) {
			if (layout_read_current(rootfd, current) < 0)
				current[0] = 0;
			if (layout_list_releases(rootfd, &versions) < 0)
				versions = NULL;
		}
		app_config_done(&app);
	}
	if (s && state_get_app(s, name, &rec) < 0)
		rec = (struct app_record) {0};
	a->current = strdup(version_is_valid(current) ? current : "");
	a->previous = strdup(version_is_valid(rec.previous) ? rec.previous : "");
	if (!a->current || !a->previous)
		goto oom;
	/* The health recorded belongs to the release that is current now. */
	if (current[0] && streq(rec.current, current)) {
		if (streq(rec.health, "healthy"))
			a->health = ROLLWAVE__HEALTH__HEALTH_HEALTHY;
		else if (streq(rec.health, "unhealthy"))
			a->health = ROLLWAVE__HEALTH__HEALTH_UNHEALTHY;
	}
	n = strv_length(versions);
	if (n > WIRE_RELEASES_MAX) { /* newest first: keep the newest */
		for (size_t i = WIRE_RELEASES_MAX; i < n; i++) {
			free(versions[i]);
			versions[i] = NULL;
		}
		n = WIRE_RELEASES_MAX;
	}
	a->n_releases = n;
	a->releases = n ? TAKE_PTR(versions) : NULL;
	*ret = a;
	return 0;
oom:
	app_status_free(a);
	return -ENOMEM;
}

void
link_apps_free(Rollwave__AppStatus **apps, size_t n)
{
	if (!apps)
		return;
	for (size_t i = 0; i < n; i++)
		app_status_free(apps[i]);
	free(apps);
}

int
link_apps_collect(const struct agent_config *cfg, struct state *s, Rollwave__AppStatus ***ret_apps,
        size_t *ret_n, struct rw_err *err)
{
	_cleanup_strv_free_ char **names = NULL;
	Rollwave__AppStatus **apps;
	size_t n, i;
	int r;

	r = app_config_list(cfg, &names, err);
	if (r < 0)
		return r;
	n = strv_length(names);
	if (n > WIRE_APPS_MAX)
		n = WIRE_APPS_MAX;
	apps = calloc(n + 1, sizeof(*apps));
	if (!apps)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		r = app_status_new(cfg, s, names[i], &apps[i]);
		if (r < 0) {
			link_apps_free(apps, i);
			return r;
		}
	}
	*ret_apps = apps;
	*ret_n = n;
	return 0;
}

int
link_facts_collect(
        const struct agent_config *cfg, struct state *s, struct link_facts *f, struct rw_err *err)
{
	char host[WIRE_HOSTNAME_MAX + 2] = "";
	int r;

	*f = (struct link_facts) {0};
	rollwave__host_facts__init(&f->facts);
	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0] ||
	        strlen(host) > WIRE_HOSTNAME_MAX || !utf8_is_valid_text(host, strlen(host)) ||
	        strchr(host, '\t'))
		strcpy(host, "unknown");
	strcpy(f->hostname, host);
	for (size_t i = 0; i < cfg->n_labels; i++) {
		rollwave__label__init(&f->label_items[i]);
		f->label_items[i].key = (char *)cfg->labels[i].key;
		f->label_items[i].value = (char *)cfg->labels[i].value;
		f->labels[i] = &f->label_items[i];
	}
	r = link_apps_collect(cfg, s, &f->apps, &f->n_apps, err);
	if (r < 0)
		return r;
	f->facts.hostname = f->hostname;
	f->facts.n_labels = cfg->n_labels;
	f->facts.labels = cfg->n_labels ? f->labels : NULL;
	f->facts.agent_version = (char *)ROLLWAVE_VERSION;
	f->facts.n_apps = f->n_apps;
	f->facts.apps = f->n_apps ? f->apps : NULL;
	return 0;
}

void
link_facts_done(struct link_facts *f)
{
	link_apps_free(f->apps, f->n_apps);
	f->apps = NULL;
	f->n_apps = 0;
}

/* ---- what the agent does with a command ---- */

static bool
kind_is_known(Rollwave__Command__Kind kind)
{
	switch (kind) {
	case ROLLWAVE__COMMAND__KIND__DEPLOY:
	case ROLLWAVE__COMMAND__KIND__ROLLBACK:
	case ROLLWAVE__COMMAND__KIND__MIGRATE:
	case ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN:
	case ROLLWAVE__COMMAND__KIND__PREFLIGHT:
	case ROLLWAVE__COMMAND__KIND__CANCEL:
		return true;
	default:
		return false;
	}
}

enum link_verdict
link_command_check(const Rollwave__Command *cmd, const uint8_t *pinned, uint64_t host_id,
        uint64_t highest, bool busy, char *reason, size_t size)
{
	if (!pinned) {
		strbuf_printf(reason, size, "no coordinator key pinned on this host");
		return LINK_COMMAND_REFUSE;
	}
	if (wire_command_verify(cmd, pinned) < 0) {
		strbuf_printf(
		        reason, size, "signature does not verify with the pinned coordinator key");
		return LINK_COMMAND_REFUSE;
	}
	if (host_id == 0) {
		strbuf_printf(reason, size,
		        "command is for host %" PRIu64 ", but this agent has no host id yet",
		        cmd->host_id);
		return LINK_COMMAND_REFUSE;
	}
	if (cmd->host_id != host_id) {
		strbuf_printf(reason, size,
		        "command is for host %" PRIu64 ", but this agent is host %" PRIu64,
		        cmd->host_id, host_id);
		return LINK_COMMAND_REFUSE;
	}
	if (!kind_is_known(cmd->kind)) {
		strbuf_printf(reason, size,
		        "unknown command kind %d: this agent runs deploy, rollback, migrate, "
		        "migrate_down, preflight and cancel",
		        (int)cmd->kind);
		return LINK_COMMAND_REFUSE;
	}
	if (cmd->command_id <= highest) {
		strbuf_printf(reason, size, "already executed");
		return LINK_COMMAND_REPLAY;
	}
	if (busy && cmd->kind != ROLLWAVE__COMMAND__KIND__CANCEL) {
		strbuf_printf(reason, size, "busy");
		return LINK_COMMAND_REFUSE;
	}
	if (size)
		reason[0] = 0;
	return LINK_COMMAND_RUN;
}
