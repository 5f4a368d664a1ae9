/*
 * admin_format: the coordinator's admin responses as text for people and as
 * JSON for scripts. Pure functions of the decoded messages (and of "now" for
 * relative times), so the unit tests feed them hand-built messages.
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

/* The hostname of host id in names (sorted by id), or NULL. */
const char *admin_format_host_name(const Rollwave__HostList *names, uint64_t id);

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

#endif
