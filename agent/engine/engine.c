/*
 * engine: the release engine's handle (engine_open(), its callbacks and
 * cancel) and the names of phases and outcomes. See engine.h for the flow
 * and the intent journal that makes it crash-safe; the life of one
 * operation is engine_op.c, its preamble engine_begin.c, the operations
 * engine_deploy.c, engine_recover.c, engine_migrate.c and
 * engine_preflight.c.
 */
#include "engine.h"
#include "engine_private.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <systemd/sd-bus.h>

#include "minisign.h"

static const char *const phase_names[_ENGINE_PHASE_MAX] = {
        [ENGINE_PHASE_FETCHING] = "fetching",
        [ENGINE_PHASE_VERIFYING] = "verifying",
        [ENGINE_PHASE_UNPACKING] = "unpacking",
        [ENGINE_PHASE_ACTIVATING] = "activating",
        [ENGINE_PHASE_RESTARTING] = "restarting",
        [ENGINE_PHASE_HEALTH] = "health",
        [ENGINE_PHASE_CHECKING] = "checking",
        [ENGINE_PHASE_MIGRATING] = "migrating",
        [ENGINE_PHASE_COMMITTED] = "committed",
        [ENGINE_PHASE_ROLLED_BACK] = "rolled_back",
        [ENGINE_PHASE_FAILED] = "failed",
        [ENGINE_PHASE_CANCELLED] = "cancelled",
};

const char *
engine_phase_to_string(enum engine_phase p)
{
	return p < _ENGINE_PHASE_MAX ? phase_names[p] : "unknown";
}

const char *
engine_outcome_to_string(enum engine_outcome o)
{
	switch (o) {
	case ENGINE_UNCHANGED:
		return "unchanged";
	case ENGINE_COMMITTED:
		return "committed";
	case ENGINE_ROLLED_BACK:
		return "rolled_back_locally";
	case ENGINE_FAILED:
		return "failed";
	case ENGINE_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

int
engine_open(const struct agent_config *cfg, struct engine **ret, struct rw_err *err)
{
	struct engine *e;
	char lock_path[PATH_MAX];
	size_t n;
	int r;

	r = mkdir_p(cfg->state_dir, 0700);
	if (r < 0)
		return rw_err_set(err, r, "cannot create state directory %s: %s", cfg->state_dir,
		        strerror(-r));
	r = xsnprintf(lock_path, sizeof(lock_path), "%s/lock", cfg->state_dir);
	if (r < 0)
		return rw_err_set(err, r, "state directory path too long");

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = cfg;
	e->cancel_fd = -1;
	e->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (e->lock_fd < 0) {
		r = rw_err_set(err, -errno, "cannot open %s: %m", lock_path);
		goto fail;
	}
	if (flock(e->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		rw_err_set(err, r, "another rollwave-agent operation holds %s", lock_path);
		goto fail;
	}
	r = state_open(cfg->state_dir, &e->state, err);
	if (r < 0)
		goto fail;

	/* Keys are loaded now but only required when a manifest is verified:
	 * rollback and recovery work without them. */
	n = strv_length(cfg->trusted_keys);
	e->keys = calloc(n ? n : 1, sizeof(*e->keys));
	if (!e->keys) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct rw_err kerr = {{0}};

		r = minisign_pubkey_load(cfg->trusted_keys[i], &e->keys[e->nkeys], &kerr);
		if (r < 0) {
			strbuf_printf(e->keys_error, sizeof(e->keys_error), "trusted key %s: %s",
			        cfg->trusted_keys[i], kerr.msg);
			continue;
		}
		e->nkeys++;
	}
	if (n == 0)
		strbuf_printf(e->keys_error, sizeof(e->keys_error),
		        "no TrustedKeys= configured in %s", cfg->config_path);
	*ret = e;
	return 0;
fail:
	engine_close(e);
	return r;
}

void
engine_close(struct engine *e)
{
	if (!e)
		return;
	state_close(e->state);
	sd_bus_flush_close_unref(e->bus);
	free(e->keys);
	closep(&e->lock_fd);
	free(e);
}

void
engine_set_phase_cb(struct engine *e, engine_phase_cb cb, void *userdata)
{
	e->phase_cb = cb;
	e->phase_userdata = userdata;
}

void
engine_set_hook_cb(struct engine *e, engine_hook_cb cb, void *userdata)
{
	e->hook_cb = cb;
	e->hook_userdata = userdata;
}

struct state *
engine_state(struct engine *e)
{
	return e->state;
}

void
engine_set_cancel(struct engine *e, int cancel_fd, volatile sig_atomic_t *abortable)
{
	e->cancel_fd = cancel_fd;
	e->abortable = abortable;
	if (abortable)
		*abortable = 0;
}
