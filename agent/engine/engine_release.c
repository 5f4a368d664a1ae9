/*
 * engine_release: a release onto the disk: its manifest fetched, verified
 * and checked (the rollback-attack guard), its artifact fetched, verified
 * and unpacked into releases/<version> under a STAGING journal entry.
 */
#include "engine_private.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <sys/stat.h>

#include "fetch.h"
#include "layout.h"
#include "log.h"
#include "minisign.h"
#include "unpack.h"

#define MANIFEST_MAX (64 * 1024)

int
engine_fetch_manifest(struct op *op, const char *url, struct manifest *ret, struct rw_err *err)
{
	struct fetch_opts fo = FETCH_OPTS_DEFAULT;
	_cleanup_free_ char *buf = NULL, *sig = NULL, *sig_url = NULL;
	size_t len, siglen;
	int r;

	engine_op_phase(op, ENGINE_PHASE_FETCHING);
	fo.total_timeout_usec = 60 * USEC_PER_SEC;
	/* Nothing is written while the manifest is fetched: abortable. */
	if (engine_abortable(op->e, true) < 0)
		return rw_err_set(err, -ECANCELED, "cancelled before the manifest was fetched");
	r = fetch_to_buffer(url, MANIFEST_MAX, &fo, &buf, &len, err);
	if (r >= 0 && asprintf(&sig_url, "%s.minisig", url) < 0)
		r = -ENOMEM;
	if (r >= 0)
		r = fetch_to_buffer(sig_url, MINISIGN_FILE_MAX, &fo, &sig, &siglen, err);
	(void)engine_abortable(op->e, false);
	if (r == -ENOMEM && !sig_url)
		return r;
	if (r < 0)
		return rw_err_prefix(err, r,
		        sig_url ? "cannot fetch manifest signature" : "cannot fetch manifest");

	engine_op_phase(op, ENGINE_PHASE_VERIFYING);
	if (op->e->nkeys == 0)
		return rw_err_set(
		        err, -ENOKEY, "cannot verify the manifest: %s", op->e->keys_error);
	r = manifest_verify_and_parse(buf, len, sig, siglen, op->e->keys, op->e->nkeys, ret, err);
	if (r < 0)
		return rw_err_prefix(err, r, "manifest %s rejected", url);
	return 0;
}

int
engine_check_manifest(struct op *op, const struct manifest *m, const char *current, bool *ret_live,
        struct rw_err *err)
{
	char highest[VERSION_MAX + 1];
	uint8_t seen[64];
	int r;

	*ret_live = false;
	if (!streq(m->app, op->app->name))
		return rw_err_set(
		        err, -EPERM, "manifest is for app '%s', not '%s'", m->app, op->app->name);
	if (m->expires_usec <= now_realtime_usec()) {
		char ts[32];

		format_timestamp_utc(m->expires_usec, ts, sizeof(ts));
		return rw_err_set(err, -EKEYEXPIRED, "manifest of %s %s expired at %s", m->app,
		        m->version, ts);
	}
	r = state_accepted_hash(op->e->state, m->app, m->version, seen);
	if (r >= 0 && sodium_memcmp(seen, m->blake2b, 64) != 0)
		return rw_err_set(err, -EPERM,
		        "%s %s was accepted before with a different artifact hash; a version's "
		        "content never changes",
		        m->app, m->version);
	if (r < 0 && r != -ENOENT)
		return rw_err_set(err, r, "cannot read the state file: %s", strerror(-r));
	if (current && streq(current, m->version)) {
		*ret_live = true;
		return 0;
	}
	r = state_highest_accepted(op->e->state, m->app, highest);
	if (r < 0)
		return rw_err_set(err, r, "cannot read the state file: %s", strerror(-r));
	if (highest[0] && version_compare(m->version, highest) < 0) {
		if (layout_release_exists(op->rootfd, m->version))
			return rw_err_set(err, -EPERM,
			        "%s %s is older than %s, the newest release this host accepted; "
			        "it is still on disk: use 'rollwave-agent rollback %s --to %s'",
			        m->app, m->version, highest, m->app, m->version);
		return rw_err_set(err, -EPERM,
		        "%s %s is older than %s, the newest release this host accepted "
		        "(rollback-attack guard)",
		        m->app, m->version, highest);
	}
	return 0;
}

/* Downloads, verifies and unpacks the artifact into releases/<st_name>
 * (shared dirs linked, fsynced): everything before the rename, abortable.
 * On failure nothing of it is left. */
static int
stage_release(struct op *op, int relfd, const char *artifact_url, const struct manifest *m,
        const char *dl_name, const char *st_name, struct unpack_stats *stats, struct rw_err *err)
{
	struct unpack_limits lim = UNPACK_LIMITS_DEFAULT;
	struct fetch_opts fo = FETCH_OPTS_DEFAULT;
	_cleanup_close_ int dl = -1, stfd = -1;
	char hex[129];
	uint8_t hash[64];
	uint64_t size = 0;
	int r;

	dl = openat(relfd, dl_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dl < 0)
		return rw_err_set(
		        err, -errno, "cannot create %s/releases/%s: %m", op->app->root, dl_name);
	fo.max_size = m->size;
	r = fetch_to_fd(artifact_url, dl, &fo, hash, &size, err);
	if (r < 0) {
		(void)unlinkat(relfd, dl_name, 0);
		return rw_err_prefix(
		        err, r, "cannot fetch artifact of the declared %" PRIu64 " bytes", m->size);
	}
	engine_op_phase(op, ENGINE_PHASE_VERIFYING);
	if (size != m->size) {
		(void)unlinkat(relfd, dl_name, 0);
		return rw_err_set(err, -EBADMSG,
		        "artifact %s is %" PRIu64 " bytes but the manifest declares %" PRIu64,
		        artifact_url, size, m->size);
	}
	if (sodium_memcmp(hash, m->blake2b, 64) != 0) {
		(void)unlinkat(relfd, dl_name, 0);
		hex_encode(hash, 64, hex);
		return rw_err_set(err, -EBADMSG,
		        "artifact %s does not match the manifest: BLAKE2b-512 is %.16s..., "
		        "the manifest says another",
		        artifact_url, hex);
	}
	engine_op_phase(op, ENGINE_PHASE_UNPACKING);
	if (mkdirat(relfd, st_name, 0755) < 0) {
		r = -errno;
		(void)unlinkat(relfd, dl_name, 0);
		return rw_err_set(err, r, "cannot create the staging directory: %s", strerror(-r));
	}
	stfd = openat(relfd, st_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (stfd < 0 || lseek(dl, 0, SEEK_SET) < 0) {
		r = rw_err_set(err, -errno, "cannot open the staging directory: %m");
		goto fail;
	}
	r = unpack_archive_fd(dl, stfd, &lim, stats, err);
	if (r < 0)
		goto fail;
	(void)unlinkat(relfd, dl_name, 0);
	r = layout_link_shared(op->rootfd, st_name, op->app->shared_dirs, err);
	if (r < 0)
		goto fail;
	r = fsync_fd(stfd);
	if (r < 0) {
		rw_err_set(err, r, "cannot fsync the staging directory: %s", strerror(-r));
		goto fail;
	}
	return 0;
fail:
	(void)rm_rf_at(relfd, st_name);
	(void)unlinkat(relfd, dl_name, 0);
	return r;
}

int
engine_install_release(
        struct op *op, const char *manifest_url, const struct manifest *m, struct rw_err *err)
{
	_cleanup_free_ char *artifact_url = NULL;
	_cleanup_close_ int relfd = -1;
	char dl_name[128], st_name[128];
	struct unpack_stats stats = {0};
	int r;

	relfd = openat(op->rootfd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (relfd < 0)
		return rw_err_set(err, -errno, "cannot open %s/releases: %m", op->app->root);
	strbuf_printf(dl_name, sizeof(dl_name), ".download-%s", m->version);
	strbuf_printf(st_name, sizeof(st_name), ".staging-%s", m->version);
	(void)rm_rf_at(relfd, dl_name);
	(void)rm_rf_at(relfd, st_name);

	engine_op_phase(op, ENGINE_PHASE_FETCHING);
	r = fetch_resolve_url(manifest_url, m->artifact, &artifact_url);
	if (r < 0)
		return rw_err_set(err, r, "invalid Artifact= '%s' in the manifest", m->artifact);
	/* Until the rename only staging files exist: the process may die at
	 * any instant there, recovery removes them. */
	if (engine_abortable(op->e, true) < 0)
		return rw_err_set(err, -ECANCELED, "cancelled before the artifact was fetched");
	r = stage_release(op, relfd, artifact_url, m, dl_name, st_name, &stats, err);
	(void)engine_abortable(op->e, false);
	if (r < 0)
		return r;
	if (renameat(relfd, st_name, relfd, m->version) < 0) {
		r = rw_err_set(err, -errno, "cannot move the release into place: %m");
		(void)rm_rf_at(relfd, st_name);
		return r;
	}
	r = fsync_fd(relfd);
	if (r < 0)
		return rw_err_set(
		        err, r, "cannot fsync %s/releases: %s", op->app->root, strerror(-r));
	/* Accepted once installed: the rollback-attack floor only rises for
	 * releases that made it onto the disk, and a release on disk is always
	 * an accepted one. */
	r = state_record_accepted(op->e->state, m->app, m->version, m->blake2b);
	if (r < 0) {
		(void)layout_remove_release(op->rootfd, m->version);
		return rw_err_set(err, r, "cannot record the accepted release: %s", strerror(-r));
	}
	log_struct(LOG_INFO, NULL, m->app, m->version,
	        "unpacked %s %s: %" PRIu64 " entries, %" PRIu64 " bytes", m->app, m->version,
	        stats.entries, stats.bytes);
	return 0;
}

int
engine_stage_release(struct op *op, const char *kind, const char *manifest_url,
        const struct manifest *m, bool live, const char *current, const char *health,
        enum engine_outcome fail_outcome, const char **ret_installed)
{
	struct rw_err err = {{0}};
	uint8_t seen[64];
	int r;

	if (!live && layout_release_exists(op->rootfd, m->version) &&
	        state_accepted_hash(op->e->state, m->app, m->version, seen) == -ENOENT) {
		/* On disk but never accepted here (state file lost, or a tree
		 * made by hand): its content is unknown, install it afresh. */
		r = layout_remove_release(op->rootfd, m->version);
		if (r < 0)
			return engine_op_finish(op, fail_outcome, r,
			        "%s/releases/%s exists but was never accepted, and removing it "
			        "failed: %s",
			        op->app->root, m->version, strerror(-r));
	}
	/* A release already on disk is an accepted one whose hash matched the
	 * manifest (installed before, then rolled back): no download. */
	if (layout_release_exists(op->rootfd, m->version))
		return 0;
	r = engine_set_inflight(op, kind, current, m->version, INFLIGHT_STAGING);
	if (r < 0)
		return engine_op_finish(
		        op, fail_outcome, r, "cannot write the state file: %s", strerror(-r));
	r = engine_install_release(op, manifest_url, m, &err);
	if (r == -ECANCELED)
		return engine_op_cancelled(op, kind, NULL, current, health);
	if (r < 0) {
		engine_finish_uncommitted(op, kind, "failed", NULL, NULL, health);
		return engine_op_finish(op, fail_outcome, r, "%s", err.msg);
	}
	*ret_installed = m->version; /* a cancel from here on removes it again */
	return 0;
}
