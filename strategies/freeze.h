/*
 * freeze: deploy-freeze windows, when no wave may start.
 *
 * A window is one of (times are UTC unless a zone suffix says otherwise):
 *
 *   Fri 16:00-Mon 08:00        weekly; may wrap past Sunday into next week
 *   22:00-06:00                daily; may wrap past midnight
 *   2026-12-24..2027-01-02     whole days, both ends included
 *   2026-12-24T18:00..2027-01-02T08:00   instants (seconds optional),
 *                              start included, end excluded
 *
 * Any of them may end in " UTC" or a fixed offset " UTC+02:00" /
 * " UTC-05:30" (the times are then local to that offset). Named zones with
 * daylight-saving rules are not supported: write the offset. Days are
 * Mon Tue Wed Thu Fri Sat Sun (any case); a weekly or daily window must not
 * be empty (start == end) and a range must end after it starts.
 *
 * Policy (FreezePolicy=): a deployment asked to start inside a window waits
 * for its end (wait, the default) or is refused (refuse). A deployment
 * already running never fails because of a freeze: it waits before its next
 * wave until the freeze ends. Rollbacks ignore freezes.
 */
#ifndef ROLLWAVE_STRATEGIES_FREEZE_H
#define ROLLWAVE_STRATEGIES_FREEZE_H

#include "gate_result.h"

#define FREEZE_SPEC_MAX 96

enum freeze_kind {
	FREEZE_WEEKLY, /* start, end: seconds since Monday 00:00 UTC, [0, 604800) */
	FREEZE_DAILY,  /* start, end: seconds since 00:00 UTC, [0, 86400) */
	FREEZE_RANGE,  /* start, end: usec since the epoch, [start, end) */
};

enum freeze_policy {
	FREEZE_POLICY_WAIT,
	FREEZE_POLICY_REFUSE,
};

struct freeze_window {
	enum freeze_kind kind;
	uint64_t start, end;
	char spec[FREEZE_SPEC_MAX]; /* as written, for messages */
};

/* "wait", "refuse". */
const char *freeze_policy_to_string(enum freeze_policy p);
/* "wait" or "refuse" -> the policy; -EINVAL for anything else. */
int freeze_policy_from_string(const char *s, enum freeze_policy *ret);

/* Parses one window (syntax above). -EINVAL with err naming the value. */
int freeze_window_parse(const char *s, struct freeze_window *ret, struct rw_err *err);

/* True if now is inside window w. */
bool freeze_window_contains(const struct freeze_window *w, uint64_t now);

/* True if now is inside any of the n windows: ret_index (optional) gets the
 * first window containing now, ret_until (optional) the first instant at or
 * after now outside every window (windows that touch or overlap are
 * followed through; UINT64_MAX if there is no such instant within 400 days,
 * e.g. windows covering the whole week). False and nothing written
 * otherwise. */
bool freeze_windows_find(const struct freeze_window *w, size_t n, uint64_t now, size_t *ret_index,
        uint64_t *ret_until);

/* The freeze gate before a wave starts. starting: this is the first wave of
 * a new deployment (only then may the refuse policy fail it). Outside every
 * window: PASS. Inside: FAIL if starting and policy is refuse, else HOLD
 * with recheck_usec at the end of the freeze. */
void freeze_gate_evaluate(const struct freeze_window *w, size_t n, enum freeze_policy policy,
        bool starting, uint64_t now, struct gate_result *ret);

#endif
