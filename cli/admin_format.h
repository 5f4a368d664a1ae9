/*
 * admin_format: the coordinator's admin responses as text for people and as
 * JSON for scripts. Pure functions of the decoded messages (and of "now" for
 * relative times), so the unit tests feed them hand-built messages.
 *
 * One face, one file per subject behind it: admin_format_hosts.c (hosts,
 * host, apps), admin_format_events.c (events), admin_format_deploy.c
 * (deployments sent with --hosts), admin_format_waves.c (a deployment
 * through waves or a plan), admin_format_gates.c (its Gates: section),
 * admin_format_history.c (history, piped watch); admin_format.c holds what
 * they share (admin_format_private.h).
 *
 * JSON documents (one per command; field names are stable and documented in
 * README.md, "Fleet queries"):
 *
 *   hosts, hosts pending  {"hosts": [HOST, ...]}
 *   host ID               HOST
 *   apps                  {"apps": [{"app", "hosts", "versions": [{"version", "hosts"}]}]}
 *   events                {"events": [{"id", "time", "at_ms", "actor", "action",
 *                                      "target", "detail"}]}
 *
 *   deploy, rollback      {"deployment_id", "app", "version", "succeeded",
 *                          "hosts": [{"host_id", "command_id", "state",
 *                                     "phase", "error"}]}
 *   (deployments through waves: cli_waves.h and README.md)
 *
 *   HOST = {"id", "hostname", "state", "last_seen", "labels": {k: v},
 *           "agent_version", "host_key", "fingerprint",
 *           "apps": [{"app", "current", "previous", "health", "releases": [...]}]}
 *
 * Absent values are JSON null: last_seen of a host never seen, agent_version
 * of a host that never connected, current/previous of an app without one,
 * the version of a rollback to each host's previous release, the phase of a
 * host that reported none yet, an empty error.
 * Times are UTC "YYYY-MM-DDTHH:MM:SSZ".
 *
 * Text is what wire_decode() let through: valid UTF-8 without control
 * characters (event details may hold newlines and tabs, which the table shows
 * as spaces), so it is safe to print to a terminal.
 *
 * The json_t builders return a new reference or NULL when out of memory; the
 * printers return 0 or -EIO when writing to out failed.
 */
#ifndef ROLLWAVE_CLI_ADMIN_FORMAT_H
#define ROLLWAVE_CLI_ADMIN_FORMAT_H

#include <jansson.h>

#include "rollwave.pb-c.h"
#include "util.h"

/* "pending", "up", "down", "revoked", "unknown". */
const char *admin_format_state(Rollwave__HostState s);
/* "healthy", "unhealthy", "unknown". */
const char *admin_format_health(Rollwave__Health h);

/* "never" (then_ms 0), "3s ago", "5m ago", "2h ago", "4d ago"; a time after
 * now_ms (clock skew) counts as "0s ago". buf >= 32 bytes. */
void admin_format_relative(uint64_t then_ms, uint64_t now_ms, char *buf, size_t size);

json_t *admin_format_host_json(const Rollwave__HostInfo *h);
json_t *admin_format_hosts_json(const Rollwave__HostList *l);
json_t *admin_format_apps_json(const Rollwave__AppList *l);
json_t *admin_format_events_json(const Rollwave__EventList *l);

/* ID HOSTNAME STATE LAST-SEEN LABELS APPS, one row per host; labels as
 * "k=v,k2=v2", apps as "app=current(health)" separated by spaces. */
int admin_format_hosts_table(const Rollwave__HostList *l, uint64_t now_ms, FILE *out);
/* ID HOSTNAME KEY LAST-SEEN LABELS: what an admin checks before accepting. */
int admin_format_pending_table(const Rollwave__HostList *l, uint64_t now_ms, FILE *out);
/* Every detail of one host, "Field: value" lines, then its apps. */
int admin_format_host_details(const Rollwave__HostInfo *h, uint64_t now_ms, FILE *out);
/* APP HOSTS VERSIONS, versions as "1.4.2 (2), 1.4.1 (1)". */
int admin_format_apps_table(const Rollwave__AppList *l, FILE *out);
/* TIME ACTOR ACTION TARGET DETAIL. */
int admin_format_events_table(const Rollwave__EventList *l, FILE *out);

/* ---- deployments (rollwave deploy, rollback) -------------------------------
 *
 * A deployment is followed through DeployResults (the Deploy/Rollback reply,
 * then GetDeployment's). A host is named "host 3 (web1)", or "host 3" when
 * its hostname is not known: names is a HostList sorted by id (may be NULL).
 * Errors are shown on one line (newlines and tabs as spaces). */

/* "fetching", "verifying", "unpacking", "activating", "restarting",
 * "health", "committed", "rolled_back", "failed"; NULL for PHASE_UNKNOWN. */
const char *admin_format_phase(Rollwave__Phase p);

/* Host id in hosts (sorted by id), or NULL. */
const Rollwave__HostInfo *admin_format_host_find(const Rollwave__HostList *hosts, uint64_t id);
/* The hostname of host id in names (sorted by id), or NULL. */
const char *admin_format_host_name(const Rollwave__HostList *names, uint64_t id);

/* Of the hosts ids[0..n), those that hosts (sorted by id) says are down:
 * returns how many, and writes the first max_listed of them into buf as
 * "host 7 (web3), host 9", then " and N more" (cut with "..." to size).
 * Hosts that hosts does not list are not counted. */
size_t admin_format_down_hosts(const Rollwave__HostList *hosts, const uint64_t *ids, size_t n,
        size_t max_listed, char *buf, size_t size);

/* Parses --hosts "3,5,12": 1..WIRE_HOSTS_MAX host ids (each a positive
 * integer, none twice), in the order given. *ret_ids is malloc'ed. -EINVAL
 * with err naming the bad item otherwise. */
int admin_host_ids_parse(const char *s, uint64_t **ret_ids, size_t *ret_n, struct rw_err *err);

/* What a host's task is now, for a progress line: the state when final or
 * before the host reported a phase ("queued", "sent", "committed",
 * "rolled_back", ...), else the latest phase ("fetching", "health", ...). */
const char *admin_format_task_status(const Rollwave__DeployResult__HostResult *h);

/* "host 3 (web1): health\n", "host 5 (web2): rolled_back: <error>\n". */
int admin_format_deploy_progress(
        const Rollwave__DeployResult__HostResult *h, const Rollwave__HostList *names, FILE *out);

/* Every host final, and as many hosts as expected. */
bool admin_deploy_all_final(const Rollwave__DeployResult *r, size_t expected);
/* Every host committed, and as many hosts as expected. */
bool admin_deploy_succeeded(const Rollwave__DeployResult *r, size_t expected);

/* One line: "Deployment 4: 3 of 3 hosts committed.", or with the others
 * counted by state: "Deployment 4: 1 of 3 hosts committed; 1 rolled_back,
 * 1 failed.", and "; timed out" when timed_out. */
int admin_format_deploy_summary(
        const Rollwave__DeployResult *r, size_t expected, bool timed_out, FILE *out);

/* HOST STATE ERROR, one row per host ("3 (web1)", "committed", "-"). */
int admin_format_deploy_table(
        const Rollwave__DeployResult *r, const Rollwave__HostList *names, FILE *out);

/* The --json document; version NULL or "" is null (a rollback to each
 * host's previous release). */
json_t *admin_format_deploy_json(
        const Rollwave__DeployResult *r, const char *app, const char *version, bool succeeded);

/* ---- deployments through waves (rollwave plan, status, watch, history) ----
 *
 * A DeploymentStatus (the reply to CreateDeployment, GetDeploymentStatus,
 * DeploymentAction, RollbackApp) as text. Hosts are named "web7(7)" in
 * lists and "web7" in watch lines. */

/* True for "succeeded", "failed", "rolled_back" and "aborted". */
bool admin_deployment_is_final(const char *state);

/* What a host of a wave is doing: its task when final ("committed",
 * "failed", "rolled_back", "refused", "cancelled") or before it reported a
 * phase ("queued", "sent", "running"), else its phase ("activating",
 * "health"); "up-to-date" without a task when it already runs the version,
 * "waiting" without a task otherwise. */
const char *admin_format_wave_host_status(const Rollwave__DeploymentStatus__Host *h);

/* How admin_format_waves_status() shows the hosts of each wave. */
struct admin_waves_view {
	bool every_host; /* every host of every wave (plan); else a wave of up to
	                  * 12 hosts lists them all, a larger one the hosts not
	                  * done yet (in flight, failed) one per line and counts */
	bool bars;       /* a progress bar per wave (watch on a terminal) */
	bool gates;      /* the Gates: section, from st->params */
	size_t rows;     /* > 0: fit in this many lines by listing fewer hosts
	                  * not done (counted as "N not shown"); 0: no limit */
};

/* The deployment (or plan, deployment_id 0): a header, its waves with
 * their hosts (each as "web1(3)=activating[down]"), the rollback's waves,
 * then with v->gates the Gates: section (admin_format_gates()). */
int admin_format_waves_status(
        const Rollwave__DeploymentStatus *st, const struct admin_waves_view *v, FILE *out);

/* The Gates: section from st->params (a deployment file): the failure
 * budget, the freeze windows and their policy, and each metric gate's
 * query, condition, MinSamples, NoData policy and URL, with the waves it
 * is checked after. Nothing when params is empty; one line saying so when
 * it cannot be read. */
int admin_format_gates(const Rollwave__DeploymentStatus *st, FILE *out);

/* ID STARTED FINISHED APP VERSION STRATEGY STATE ACTOR REASON, one row per
 * deployment; with active_only the ones not final. */
int admin_format_history_table(const Rollwave__DeploymentList *l, bool active_only, FILE *out);

/* What `watch` printed last when piped, so it prints changes only. */
struct admin_watch_seen {
	char *deployment; /* the last deployment line */
	char **hosts;     /* per host of the waves, then of the rollback waves */
	size_t n_hosts;
};

/* Prints "deployment 7: running, wave 2/5 'batch 2': deploying" when that
 * line changed, then one line per host whose status (or error) changed
 * since seen: "wave 2 'batch 2' web7: activating", "rollback wave 1
 * 'rollback' web7: failed: <error>". Hosts without a task print nothing.
 * Updates seen; -ENOMEM, -EIO. */
int admin_format_watch_changes(
        const Rollwave__DeploymentStatus *st, struct admin_watch_seen *seen, FILE *out);
/* Frees what seen holds; it may be used again after. */
void admin_watch_seen_done(struct admin_watch_seen *seen);

#endif
