/*
 * waves/result.c: the step results a step function returns; waves.c applies them.
 */
#include <stdarg.h>
#include <stdio.h>

#include "waves_private.h"

struct step_result
result_hold(void)
{
	return (struct step_result) {.kind = RESULT_HOLD};
}

/* On to step (the state stays), audited as action with a detail (action
 * NULL: not saved until what follows saves it). */
struct step_result
result_goto(const struct dep *d, enum wave_step step, const char *action, const char *fmt, ...)
{
	struct step_result r = {
	        .kind = RESULT_GOTO, .step = step, .state = d->state, .action = action};

	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(r.why, sizeof(r.why), fmt, ap);
		va_end(ap);
	}
	return r;
}

struct step_result
result_end(enum step_kind kind, enum dep_state state, const char *fmt, ...)
{
	struct step_result r = {.kind = kind, .state = state};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.why, sizeof(r.why), fmt, ap);
	va_end(ap);
	return r;
}

struct step_result
result_next_wave(void)
{
	return (struct step_result) {.kind = RESULT_NEXT_WAVE};
}
