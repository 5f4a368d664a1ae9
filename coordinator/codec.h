/*
 * codec: helpers the coordinator's modules share to build replies and read
 * stored facts, with no state of their own: the arena that owns a response
 * under construction, label selectors, and the task kinds of the store.
 * The JSON <-> protobuf conversions of the agent and admin sides are in
 * codec.c too, declared in envelope.h for the two sockets.
 */
#ifndef ROLLWAVE_COORDINATOR_CODEC_H
#define ROLLWAVE_COORDINATOR_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "wire.h"

/* A response under construction owns everything it points to through this
 * list of allocations, freed at once after packing. */
struct arena {
	void **p;
	size_t n, cap;
};

/* Takes ptr (freed at once if it cannot be recorded: then NULL). */
void *arena_add(struct arena *a, void *ptr);
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);

/* Whether labels (JSON object) match selector "k=v,k2=v2" (every pair;
 * "" matches all). */
bool labels_match(const char *labels_json, const char *selector);

/* "deploy", "rollback", "migrate", "migrate_down", "preflight", "cancel"
 * (the task kinds of the database); "unknown" otherwise. */
const char *command_kind_to_string(Rollwave__Command__Kind k);
/* The kind of a name above; KIND_UNSPECIFIED if none. */
Rollwave__Command__Kind command_kind_from_string(const char *s);

#endif
