/*
 * counters: the dimensions of the coordinator's counters and the two
 * helpers that bump them, shared by the agent socket, the admin socket and
 * the fleet, each of which owns its own counters. Nothing but inline code:
 * no module depends on another through this header.
 *
 * Counters are bumped with relaxed atomics and read one by one for the
 * metrics endpoint. Indexed by protobuf case numbers: envelope bodies and
 * admin requests are below COUNTER_TYPES, error codes below COUNTER_CODES,
 * command kinds below COUNTER_KINDS; larger ones count in the last slot.
 */
#ifndef ROLLWAVE_COORDINATOR_COUNTERS_H
#define ROLLWAVE_COORDINATOR_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#define COUNTER_TYPES 64
#define COUNTER_CODES 16
#define COUNTER_KINDS 8

enum task_result {
	TASK_COMMITTED,
	TASK_ROLLED_BACK,
	TASK_FAILED,
	TASK_REFUSED,
	TASK_CANCELLED,
	_TASK_RESULT_MAX
};

static inline void
stat_inc(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static inline size_t
stat_slot(int n, size_t size)
{
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* Copies n counters, each read atomically. */
static inline void
stat_copy(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

#endif
