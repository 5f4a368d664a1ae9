/*
 * units: the app's systemd units, driven through systemd's D-Bus API.
 *
 * Jobs are queued with mode "replace" and waited for through the Manager's
 * JobRemoved signal: the match is installed (synchronously) before any job
 * is queued, so a job that finishes before its RestartUnit reply arrives is
 * still seen. The calls block the caller while they process the bus: the
 * daemon runs them where blocking is allowed (its deploy worker), not in its
 * heartbeat loop.
 *
 * Note for Type=simple services: systemd completes their start job as soon
 * as the process is forked, so an ExecStart= that exits 1 at once still
 * gives result "done"; health (agent/engine/health.h) is what catches it.
 *
 * Library code: does not log.
 */
#ifndef ROLLWAVE_AGENT_UNITS_H
#define ROLLWAVE_AGENT_UNITS_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "util.h"

/* Most units one call may act on. */
#define UNITS_MAX 64

/* Opens the system bus (sd_bus_open_system: honours
 * DBUS_SYSTEM_BUS_ADDRESS). *ret is owned by the caller (sd_bus_flush_close_unref). */
int units_bus_open(sd_bus **ret, struct rw_err *err);

/* true if name looks like a unit name: "name.suffix", at most 255 bytes of
 * [A-Za-z0-9:_.\\@-]. systemd has the final word. */
bool units_name_is_valid(const char *name);

/* Restarts every unit (RestartUnit, mode "replace"; a stopped unit is
 * started) and waits until all their jobs are removed, at most timeout_usec
 * in total. Returns 0 if every job's result is "done"; -EPROTO naming the
 * first unit with another result ("unit 'sample.service' failed to restart:
 * result 'failed'"); -ETIMEDOUT ("timed out after 30s waiting for unit
 * 'x' to restart"); -ENOENT for a unit that does not exist; other -errno for
 * bus errors. units is NULL-terminated; empty is a no-op. */
int units_restart(sd_bus *bus, char *const *units, uint64_t timeout_usec, struct rw_err *err);

/* Same for StopUnit ("failed to stop"). */
int units_stop(sd_bus *bus, char *const *units, uint64_t timeout_usec, struct rw_err *err);

/* Same for StartUnit ("failed to start"). */
int units_start(sd_bus *bus, char *const *units, uint64_t timeout_usec, struct rw_err *err);

struct unit_state {
	char load_state[32];   /* "loaded", "masked", "bad-setting", ... */
	char active_state[32]; /* "active", "activating", "failed", ... */
	char sub_state[32];    /* "running", "exited", "auto-restart", ... */
	uint32_t n_restarts;   /* NRestarts (services; 0 for other types) */
	bool loaded;           /* load_state is "loaded" */
};

/* Loads the unit (LoadUnit) and reads its state. Returns -ENOENT with
 * "unit 'x' not found" if systemd has no such unit; other load states
 * (masked, bad-setting, ...) are returned with loaded == false. */
int units_get_state(sd_bus *bus, const char *unit, struct unit_state *ret, struct rw_err *err);

/* Returns 0 if every unit exists and is loaded; -ENOENT ("unit 'x' not
 * found") or -ENOEXEC ("unit 'x' cannot be loaded: masked") otherwise. */
int units_check_exist(sd_bus *bus, char *const *units, struct rw_err *err);

#endif
