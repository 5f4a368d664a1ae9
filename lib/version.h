/*
 * version: release version strings and their ordering.
 *
 * A version is 1..64 characters of [A-Za-z0-9._+~-], starting with an
 * alphanumeric (so it is always a safe single path component). Ordering
 * follows dpkg's algorithm: runs of digits compare numerically, other runs
 * lexically with '~' sorting before everything (1.0~rc1 < 1.0 < 1.0.1).
 */
#ifndef ROLLWAVE_VERSION_H
#define ROLLWAVE_VERSION_H

#include "util.h"

#define VERSION_MAX 64

bool version_is_valid(const char *v);
/* < 0, 0, > 0 like strcmp. Both must be valid versions. */
int version_compare(const char *a, const char *b);

/* App names: 1..64 characters of [a-z0-9_-] starting with a letter or digit. */
#define APP_NAME_MAX 64
bool app_name_is_valid(const char *name);

#endif
