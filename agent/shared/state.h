/*
 * state: the agent's small SQLite state file (<StateDirectory>/state.db).
 *
 * It holds, per app: the releases this host accepted (version and artifact
 * hash: the rollback-attack guard), the current/previous release and last
 * known health, the in-flight operation (the intent journal that recovery
 * reads after a crash) and the history of every operation.
 *
 * The database runs in WAL mode with synchronous=FULL: a row written before
 * the `current` symlink is swapped is on disk before the swap happens. The
 * schema is versioned through PRAGMA user_version with forward migrations.
 */
#ifndef ROLLWAVE_AGENT_STATE_H
#define ROLLWAVE_AGENT_STATE_H

#include "util.h"
#include "version.h"

struct state;

enum inflight_phase {
	INFLIGHT_STAGING,      /* fetching/unpacking; `current` untouched */
	INFLIGHT_ACTIVATING,   /* intent recorded; the swap may or may not have happened */
	INFLIGHT_CHECKING,     /* swapped; restarting units and checking health */
	INFLIGHT_ROLLING_BACK, /* `to` was sick: going back to `from` (the swap back
	                        * may or may not have happened, units may run either) */
};

struct inflight {
	char op[16]; /* "deploy" or "rollback" */
	char from[VERSION_MAX + 1];
	char to[VERSION_MAX + 1];
	enum inflight_phase phase;
	uint64_t started_usec;
	int64_t pid;
};

struct app_record {
	char current[VERSION_MAX + 1];
	char previous[VERSION_MAX + 1];
	char health[16]; /* "healthy", "unhealthy", "unknown" */
	uint64_t health_usec;
};

struct history_entry {
	int64_t id;
	char app[APP_NAME_MAX + 1];
	char op[16];
	char from[VERSION_MAX + 1];
	char to[VERSION_MAX + 1];
	char result[24]; /* committed, rolled_back_locally, failed, recovered, ... */
	char message[512];
	uint64_t started_usec, finished_usec;
};

/* Opens (creating and migrating) <state_dir>/state.db. */
int state_open(const char *state_dir, struct state **ret, struct rw_err *err);
void state_close(struct state *s);

int state_begin(struct state *s);
int state_commit(struct state *s);
void state_rollback(struct state *s);

/* Highest version of app ever accepted, "" if none. */
int state_highest_accepted(struct state *s, const char *app, char ret[static VERSION_MAX + 1]);
/* The artifact hash recorded when app/version was accepted; -ENOENT if never. */
int state_accepted_hash(struct state *s, const char *app, const char *version, uint8_t ret[64]);
int state_record_accepted(
        struct state *s, const char *app, const char *version, const uint8_t hash[64]);

/* -ENOENT if the app has no record yet. */
int state_get_app(struct state *s, const char *app, struct app_record *ret);
int state_set_app(struct state *s, const char *app, const struct app_record *r);
int state_set_health(struct state *s, const char *app, const char *health);
/* The health watch's verdict on release version of app: recorded only if
 * version is still the app's current release and its health differs.
 * Returns 1 if it changed, 0 if not (another release is current, or the
 * health was already that), -errno on error. */
int state_set_health_of(struct state *s, const char *app, const char *version, const char *health);

/* -ENOENT if nothing is in flight for app. */
int state_inflight_get(struct state *s, const char *app, struct inflight *ret);
int state_inflight_set(struct state *s, const char *app, const struct inflight *in);
int state_inflight_clear(struct state *s, const char *app);

int state_history_add(struct state *s, const char *app, const struct history_entry *h);
/* Calls cb for the newest `limit` entries of app (all apps if NULL), newest
 * first. A negative return from cb stops and is returned. */
int state_history_foreach(struct state *s, const char *app, unsigned limit,
        int (*cb)(void *userdata, const struct history_entry *h), void *userdata);

/* The coordinator link's replay guard: the highest command id this host
 * ever accepted to execute (0 if none). _set() only raises it. */
int state_command_id_get(struct state *s, uint64_t *ret);
int state_command_id_set(struct state *s, uint64_t id);

/* Final results of coordinator commands not yet delivered to the
 * coordinator (at most STATE_REPORTS_MAX, the oldest are dropped). phase is
 * a Rollwave__Phase value. */
#define STATE_REPORTS_MAX 100
struct state_report {
	uint64_t command_id;
	char app[APP_NAME_MAX + 1];
	char version[VERSION_MAX + 1];
	int phase;
	uint64_t elapsed_ms;
	char error[1024];
	/* What hooks printed (PhaseReport.hook_output), NULL or text: borrowed
	 * by state_report_add(); in state_report_foreach()'s callback it
	 * points into the row and is valid during the call only. */
	const char *hook_output;
	bool hook_absent;
	/* Not 0: written when the command started, for the case that the agent
	 * dies before it ends (the daemon's own value: which operation ran);
	 * the command's real result replaces it. */
	int provisional;
};
int state_report_add(struct state *s, const struct state_report *rep);
int state_report_delete(struct state *s, uint64_t command_id);
/* Oldest first. A negative return from cb stops and is returned. */
int state_report_foreach(
        struct state *s, int (*cb)(void *userdata, const struct state_report *rep), void *userdata);

const char *inflight_phase_to_string(enum inflight_phase p);

#endif
