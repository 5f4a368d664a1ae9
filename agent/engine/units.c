/*
 * units: restart/stop/start units and read their state over sd-bus.
 *
 * A job batch goes: AddMatch(JobRemoved) → Subscribe → {Restart,Stop,Start}Unit
 * per unit (recording each job path from the reply) → sd_bus_process/wait
 * until every recorded job has been removed or the deadline passes →
 * Unsubscribe (only if we were the ones who subscribed: systemd refuses a
 * second Subscribe on the same connection with AlreadySubscribed and does
 * not count them).
 */
#include "units.h"

#include <inttypes.h>

#define SD_DEST    "org.freedesktop.systemd1"
#define SD_PATH    "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT    "org.freedesktop.systemd1.Unit"
#define SD_SERVICE "org.freedesktop.systemd1.Service"

#define ERR_NO_SUCH_UNIT       "org.freedesktop.systemd1.NoSuchUnit"
#define ERR_ALREADY_SUBSCRIBED "org.freedesktop.systemd1.AlreadySubscribed"

static void
format_usec(char *buf, size_t size, uint64_t usec)
{
	if (usec % USEC_PER_SEC == 0)
		snprintf(buf, size, "%" PRIu64 "s", usec / USEC_PER_SEC);
	else
		snprintf(buf, size, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
}

/* The human part of a failed call: the bus error's message, else errno. */
static const char *
bus_error_text(const sd_bus_error *e, int r)
{
	if (e && e->message)
		return e->message;
	return strerror(r < 0 ? -r : r);
}

int
units_bus_open(sd_bus **ret, struct rw_err *err)
{
	sd_bus *bus = NULL;
	int r;

	if (!ret)
		return rw_err_set(err, -EINVAL, "invalid arguments");
	r = sd_bus_open_system(&bus);
	if (r < 0)
		return rw_err_set(err, r, "cannot connect to the system bus: %s", strerror(-r));
	*ret = bus;
	return 0;
}

bool
units_name_is_valid(const char *name)
{
	const char *dot;
	size_t n;

	if (isempty(name))
		return false;
	n = strlen(name);
	if (n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		            strchr(":_.\\@-", c)))
			return false;
	}
	dot = strrchr(name, '.');
	return dot && dot != name && dot[1] != 0;
}

static int
check_units(char *const *units, struct rw_err *err)
{
	size_t n = units ? strv_length(units) : 0;

	if (n > UNITS_MAX)
		return rw_err_set(err, -E2BIG, "too many units (%zu, at most %d)", n, UNITS_MAX);
	for (size_t i = 0; i < n; i++)
		if (!units_name_is_valid(units[i]))
			return rw_err_set(err, -EINVAL, "invalid unit name '%s'", units[i]);
	return (int)n;
}

/* A method call on the manager that gives up at the deadline (sd_bus_call's
 * own default is 25 s, whatever we were given). */
static int
manager_call(sd_bus *bus, const char *member, uint64_t deadline, sd_bus_error *e,
        sd_bus_message **ret_reply, const char *types, ...)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	uint64_t now = now_monotonic_usec();
	va_list ap;
	int r;

	if (now >= deadline)
		return -ETIMEDOUT;
	r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, member);
	if (r < 0)
		return r;
	if (types) {
		va_start(ap, types);
		r = sd_bus_message_appendv(m, types, ap);
		va_end(ap);
		if (r < 0)
			return r;
	}
	return sd_bus_call(bus, m, deadline - now, e, ret_reply);
}

struct job {
	const char *unit;
	char *path;
	bool removed;
	char result[32];
};

struct job_wait {
	struct job *jobs;
	size_t n;
	size_t n_removed;
};

static int
on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct job_wait *w = userdata;
	const char *path, *unit, *result;
	uint32_t id;

	(void)ret_error;
	if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
		return 0;
	for (size_t i = 0; i < w->n; i++) {
		struct job *j = &w->jobs[i];
		if (j->removed || !j->path || !streq(j->path, path))
			continue;
		snprintf(j->result, sizeof(j->result), "%s", result);
		j->removed = true;
		w->n_removed++;
		break;
	}
	return 0;
}

static void
job_wait_free(struct job_wait *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->jobs[i].path);
	free(w->jobs);
	w->jobs = NULL;
}

/* Asks systemd to `method` each unit (mode "replace") and notes its job. */
static int
units_queue_jobs(sd_bus *bus, const char *method, const char *verb, char *const *units,
        uint64_t deadline, const char *dur, struct job_wait *w, struct rw_err *err)
{
	int r;

	for (size_t i = 0; i < w->n; i++) {
		_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
		_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
		const char *path;

		w->jobs[i].unit = units[i];
		r = manager_call(bus, method, deadline, &e, &reply, "ss", units[i], "replace");
		if (r < 0) {
			if (sd_bus_error_has_name(&e, ERR_NO_SUCH_UNIT))
				return rw_err_set(err, -ENOENT, "unit '%s' not found", units[i]);
			if (r == -ETIMEDOUT)
				return rw_err_set(err, r,
				        "timed out after %s waiting for unit '%s' to %s", dur,
				        units[i], verb);
			return rw_err_set(err, r, "cannot %s unit '%s': %s", verb, units[i],
			        bus_error_text(&e, r));
		}
		r = sd_bus_message_read(reply, "o", &path);
		if (r < 0)
			return rw_err_set(err, r, "bad reply from systemd for unit '%s'", units[i]);
		w->jobs[i].path = strdup(path);
		if (!w->jobs[i].path)
			return rw_err_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* Waits until every job is removed (JobRemoved), or the deadline. */
static int
units_wait_jobs(sd_bus *bus, const char *verb, uint64_t deadline, const char *dur,
        struct job_wait *w, struct rw_err *err)
{
	int r;

	while (w->n_removed < w->n) {
		uint64_t now = now_monotonic_usec();

		r = sd_bus_process(bus, NULL);
		if (r < 0)
			return rw_err_set(
			        err, r, "lost the connection to systemd: %s", strerror(-r));
		if (r > 0)
			continue;
		if (now >= deadline) {
			for (size_t i = 0; i < w->n; i++)
				if (!w->jobs[i].removed)
					return rw_err_set(err, -ETIMEDOUT,
					        "timed out after %s waiting for unit '%s' to %s",
					        dur, w->jobs[i].unit, verb);
		}
		r = sd_bus_wait(bus, deadline - now);
		if (r < 0 && r != -EINTR)
			return rw_err_set(
			        err, r, "lost the connection to systemd: %s", strerror(-r));
	}
	return 0;
}

static int
units_job(sd_bus *bus, const char *method, const char *verb, char *const *units,
        uint64_t timeout_usec, struct rw_err *err)
{
	_cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
	struct job_wait w = {0};
	bool subscribed = false;
	uint64_t deadline;
	char dur[32];
	int r, n;

	n = check_units(units, err);
	if (n <= 0)
		return n;
	if (!bus || timeout_usec == 0)
		return rw_err_set(err, -EINVAL, "invalid arguments");
	deadline = now_monotonic_usec() + timeout_usec;
	format_usec(dur, sizeof(dur), timeout_usec);

	w.jobs = calloc((size_t)n, sizeof(*w.jobs));
	if (!w.jobs)
		return rw_err_set(err, -ENOMEM, "out of memory");
	w.n = (size_t)n;

	/* Match first: a job may finish before its RestartUnit reply. */
	r = sd_bus_match_signal(
	        bus, &slot, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed, &w);
	if (r < 0) {
		rw_err_set(err, r, "cannot watch systemd jobs: %s", strerror(-r));
		goto out;
	}
	{
		_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
		r = manager_call(bus, "Subscribe", deadline, &e, NULL, NULL);
		if (r >= 0)
			subscribed = true;
		else if (!sd_bus_error_has_name(&e, ERR_ALREADY_SUBSCRIBED)) {
			rw_err_set(
			        err, r, "cannot subscribe to systemd: %s", bus_error_text(&e, r));
			goto out;
		}
	}

	r = units_queue_jobs(bus, method, verb, units, deadline, dur, &w, err);
	if (r >= 0)
		r = units_wait_jobs(bus, verb, deadline, dur, &w, err);
	if (r < 0)
		goto out;

	r = 0;
	for (size_t i = 0; i < w.n; i++)
		if (!streq(w.jobs[i].result, "done")) {
			r = rw_err_set(err, -EPROTO, "unit '%s' failed to %s: result '%s'",
			        w.jobs[i].unit, verb, w.jobs[i].result);
			break;
		}
out:
	if (subscribed) {
		/* Best effort, short: the subscription dies with the connection
		 * anyway. */
		uint64_t t = now_monotonic_usec() + USEC_PER_SEC;
		(void)manager_call(bus, "Unsubscribe", t, NULL, NULL, NULL);
	}
	slot = sd_bus_slot_unref(slot);
	job_wait_free(&w);
	return r;
}

int
units_restart(sd_bus *bus, char *const *units, uint64_t timeout_usec, struct rw_err *err)
{
	return units_job(bus, "RestartUnit", "restart", units, timeout_usec, err);
}

int
units_stop(sd_bus *bus, char *const *units, uint64_t timeout_usec, struct rw_err *err)
{
	return units_job(bus, "StopUnit", "stop", units, timeout_usec, err);
}

int
units_start(sd_bus *bus, char *const *units, uint64_t timeout_usec, struct rw_err *err)
{
	return units_job(bus, "StartUnit", "start", units, timeout_usec, err);
}

static int
get_string(sd_bus *bus, const char *path, const char *iface, const char *member, char *buf,
        size_t size, const char *unit, struct rw_err *err)
{
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_free_ char *s = NULL;
	int r;

	r = sd_bus_get_property_string(bus, SD_DEST, path, iface, member, &e, &s);
	if (r < 0)
		return rw_err_set(err, r, "cannot read %s of unit '%s': %s", member, unit,
		        bus_error_text(&e, r));
	snprintf(buf, size, "%s", s);
	return 0;
}

int
units_get_state(sd_bus *bus, const char *unit, struct unit_state *ret, struct rw_err *err)
{
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	_cleanup_free_ char *path = NULL;
	struct unit_state st = {0};
	const char *p;
	size_t n;
	int r;

	if (!bus || !ret)
		return rw_err_set(err, -EINVAL, "invalid arguments");
	if (!units_name_is_valid(unit))
		return rw_err_set(err, -EINVAL, "invalid unit name '%s'", unit ? unit : "");

	r = sd_bus_call_method(
	        bus, SD_DEST, SD_PATH, SD_MANAGER, "LoadUnit", &e, &reply, "s", unit);
	if (r < 0) {
		if (sd_bus_error_has_name(&e, ERR_NO_SUCH_UNIT))
			return rw_err_set(err, -ENOENT, "unit '%s' not found", unit);
		return rw_err_set(err, r, "cannot load unit '%s': %s", unit, bus_error_text(&e, r));
	}
	r = sd_bus_message_read(reply, "o", &p);
	if (r < 0)
		return rw_err_set(err, r, "bad reply from systemd for unit '%s'", unit);
	path = strdup(p);
	if (!path)
		return rw_err_set(err, -ENOMEM, "out of memory");

	r = get_string(
	        bus, path, SD_UNIT, "LoadState", st.load_state, sizeof(st.load_state), unit, err);
	if (r < 0)
		return r;
	if (streq(st.load_state, "not-found"))
		return rw_err_set(err, -ENOENT, "unit '%s' not found", unit);
	st.loaded = streq(st.load_state, "loaded");
	r = get_string(bus, path, SD_UNIT, "ActiveState", st.active_state, sizeof(st.active_state),
	        unit, err);
	if (r < 0)
		return r;
	r = get_string(
	        bus, path, SD_UNIT, "SubState", st.sub_state, sizeof(st.sub_state), unit, err);
	if (r < 0)
		return r;

	n = strlen(unit);
	if (st.loaded && n > 8 && streq(unit + n - 8, ".service")) {
		sd_bus_error_free(&e);
		r = sd_bus_get_property_trivial(
		        bus, SD_DEST, path, SD_SERVICE, "NRestarts", &e, 'u', &st.n_restarts);
		if (r < 0)
			return rw_err_set(err, r, "cannot read NRestarts of unit '%s': %s", unit,
			        bus_error_text(&e, r));
	}
	*ret = st;
	return 0;
}

int
units_check_exist(sd_bus *bus, char *const *units, struct rw_err *err)
{
	int n = check_units(units, err);

	if (n <= 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct unit_state st;
		int r = units_get_state(bus, units[i], &st, err);
		if (r < 0)
			return r;
		if (!st.loaded)
			return rw_err_set(err, -ENOEXEC, "unit '%s' cannot be loaded: %s", units[i],
			        st.load_state);
	}
	return 0;
}
