/*
 * health: decides whether a freshly activated release is healthy.
 *
 * Healthy means, at one probe: every configured unit is active (a service
 * "active/running", or "active/exited" for oneshot RemainAfterExit= units;
 * never "activating" or "auto-restart") and has not restarted since the
 * baseline; every HttpGet= URL answers 2xx; every TcpConnect= host:port
 * accepts a connection; every Exec= command exits 0; and the release's
 * validate hook, if it has one, exits 0.
 *
 * health_wait() probes every interval until the release has been healthy
 * for min_healthy without a break, within deadline. Any failed probe resets
 * the streak; a unit that restarts (NRestarts grows, or it sits in
 * auto-restart) or has failed ends the wait at once.
 *
 * Library code: does not log. HTTP probes use libcurl; the process must have
 * run curl_global_init() before other threads exist (curl_easy_init() does it
 * lazily otherwise, which is not thread-safe).
 */
#ifndef ROLLWAVE_AGENT_HEALTH_H
#define ROLLWAVE_AGENT_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "hooks.h"
#include "util.h"

/* Caps on what a config may ask for. */
#define HEALTH_PROBES_MAX 64

/* The [Health] section of an app. The vectors are NULL-terminated and may
 * be NULL; the config keeps ownership. */
struct health_config {
	char **http_get;           /* HttpGet=: "http://127.0.0.1:8080/health" (http/https only) */
	char **tcp_connect;        /* TcpConnect=: "host:port", "[v6]:port" */
	char **exec;               /* Exec=: command line run by "/bin/sh -c" */
	uint64_t min_healthy_usec; /* MinHealthy=: continuous healthy time needed;
	                            * 0: the first passing round suffices */
	uint64_t deadline_usec;    /* Deadline=: give up after this long */
	uint64_t interval_usec;    /* Interval=: time between probe starts */
	uint64_t probe_timeout_usec; /* ProbeTimeout=: per probe (HTTP, TCP, Exec, hook) */
};

/* Defaults used for zero fields of a config. */
#define HEALTH_DEFAULT_MIN_HEALTHY_USEC (10 * USEC_PER_SEC)
/* Probe spacing until the first passing round (then interval_usec). */
#define HEALTH_FIRST_RETRY_USEC           (50 * USEC_PER_MSEC)
#define HEALTH_DEFAULT_DEADLINE_USEC      (120 * USEC_PER_SEC)
#define HEALTH_DEFAULT_INTERVAL_USEC      (1 * USEC_PER_SEC)
#define HEALTH_DEFAULT_PROBE_TIMEOUT_USEC (5 * USEC_PER_SEC)

/* Restart counters of the units at the start of the health window; probes
 * fail fatally when a unit's NRestarts grows past its baseline. */
struct health_baseline {
	size_t n_units;
	uint32_t *n_restarts; /* n_units entries, parallel to the unit list */
};

/* Frees the counters and zeroes b. Accepts NULL. */
void health_baseline_done(struct health_baseline *b);

/* Reads NRestarts of every unit into *ret (release with
 * health_baseline_done). units may be NULL/empty (bus may then be NULL). */
int health_baseline_capture(
        sd_bus *bus, char *const *units, struct health_baseline *ret, struct rw_err *err);

/* One round of every probe, each bounded by hc->probe_timeout_usec (and by
 * not_after_usec, a CLOCK_MONOTONIC time, if non-zero), stopping at the
 * first failure.
 * units: NULL-terminated, may be NULL (bus may then be NULL).
 * baseline: NULL to skip the restart check.
 * validate: the release's hook environment (release_dir set) to run its
 *   validate hook with; NULL for none. A release without that hook passes.
 * Returns 0 if healthy; -ELOOP if a unit is failed or restart-looping (no
 * point probing again); -EPROTO (or another -errno) with err describing the
 * failure, e.g. "GET http://127.0.0.1:8080/health returned 500". */
int health_probe_once(sd_bus *bus, char *const *units, const struct health_baseline *baseline,
        const struct health_config *hc, const struct hook_env *validate, uint64_t not_after_usec,
        struct rw_err *err);

/* Bytes of the validate hook's output health_wait() keeps (its last run). */
#define HEALTH_VALIDATE_OUTPUT_MAX 4096

/* What health_wait saw. */
struct health_result {
	bool healthy;                 /* the wait succeeded */
	unsigned probes;              /* probe rounds run */
	unsigned failed_probes;       /* rounds that failed */
	bool ever_healthy;            /* some round passed */
	uint64_t first_healthy_usec;  /* start → end of first passing round */
	uint64_t healthy_streak_usec; /* length of the streak at the end */
	uint64_t elapsed_usec;        /* total time spent */
	char last_failure[1024];      /* message of the last failed round, "" if none */
	/* The release's validate hook in the last round that ran it (the one
	 * behind the verdict), for reports: validate_ran false if it never ran
	 * (no such hook, or no round got that far). */
	bool validate_ran;
	char validate_status[64];                             /* hook_result_describe() */
	char validate_output[HEALTH_VALIDATE_OUTPUT_MAX + 1]; /* NUL-terminated */
	size_t validate_output_len;
	bool validate_truncated; /* the hook printed more than kept here */
};

/* Captures the restart baseline, then probes every hc->interval_usec until
 * the release has been healthy continuously for hc->min_healthy_usec
 * (measured from the start of the first passing round of the streak).
 * Blocks for at most hc->deadline_usec (+ at most the 250 ms a killed
 * probe command or hook needs to be reaped).
 * Returns 0 when healthy; -EPROTO at once if a unit is failed or
 * restart-looping ("unit 'x' is restart-looping (NRestarts 3)"); -ETIMEDOUT
 * if the deadline passed ("not healthy for 10s within 2m: <last failure>");
 * -EINVAL for a bad config. *ret (if non-NULL) is written in every case
 * except -EINVAL/-ENOMEM. */
int health_wait(sd_bus *bus, char *const *units, const struct health_config *hc,
        const struct hook_env *validate, struct health_result *ret, struct rw_err *err);

#endif
