/*
 * gate_result: the verdict every gate evaluator returns.
 *
 * Gates are pure: they look at data the caller already has (host reports,
 * a fetched Prometheus result, the clock passed in as `now`) and say pass,
 * hold or fail, with a sentence that says why and shows the values behind
 * the verdict. The coordinator writes that sentence to the audit log as is.
 */
#ifndef ROLLWAVE_STRATEGIES_GATE_RESULT_H
#define ROLLWAVE_STRATEGIES_GATE_RESULT_H

#include "util.h"

enum gate_verdict {
	GATE_PASS, /* go on */
	GATE_HOLD, /* not yet: evaluate again later (new data, or at recheck_usec) */
	GATE_FAIL, /* stop: the deployment fails (and rolls back) or is refused */
};

#define GATE_WHY_MAX 1024

struct gate_result {
	enum gate_verdict verdict;
	/* HOLD only: the realtime (usec) at which time alone may change the
	 * verdict (end of a bake, of a freeze, a deadline); 0 when only new
	 * data can. Always 0 for PASS and FAIL. */
	uint64_t recheck_usec;
	/* One line for people and the audit log; long lists are cut. */
	char why[GATE_WHY_MAX];
};

/* "pass", "hold", "fail". */
const char *gate_verdict_to_string(enum gate_verdict v);

#endif
