/*
 * ini: a pure, line-at-a-time parser for systemd-style INI files.
 *
 *   [Section]
 *   Key=Value       ; whitespace around '=' and at line ends is trimmed
 *   # comment       ; '#' or ';' starts a comment line
 *
 * The parser owns no policy: every key is handed to a callback, which
 * returns < 0 (and fills err) to reject it. Errors come back as
 * "FILE:LINE: message". Lines are capped at INI_LINE_MAX bytes, files at
 * INI_FILE_MAX; NUL bytes and invalid UTF-8 are refused.
 */
#ifndef ROLLWAVE_INI_H
#define ROLLWAVE_INI_H

#include "util.h"

#define INI_LINE_MAX 4096
#define INI_FILE_MAX (1024 * 1024)

enum {
	INI_INLINE_COMMENTS = 1 << 0, /* "Key=Value   ; comment" strips the comment */
};

/* Called once per Key=Value. section is "" before the first [Section]. */
typedef int (*ini_handler_t)(void *userdata, const char *section, const char *key,
        const char *value, struct rw_err *err);

/* Parses buf (len bytes, need not be NUL-terminated); name is used in error
 * messages. */
int ini_parse_buffer(const char *name, const char *buf, size_t len, unsigned flags,
        ini_handler_t handler, void *userdata, struct rw_err *err);
/* Reads path (refusing symlinks only if nofollow) and parses it. */
int ini_parse_file(const char *path, unsigned flags, ini_handler_t handler, void *userdata,
        struct rw_err *err);

/* The one parser of a path value, for every config file: copies value into
 * dst (size bytes) for the key named key. value must be absolute, must not
 * have a '.' or '..' component ("/srv/../etc", "/srv/.", ...) and must fit in
 * size bytes; trailing slashes are dropped ("/srv/app/" -> "/srv/app"; "/"
 * stays). Errors name the key (the parser prefixes FILE:LINE):
 *   -EINVAL       "Key= must be an absolute path, got 'x'",
 *                 "Key= must not contain '..', got 'x'",
 *                 "Key= must not contain '.' components, got 'x'"
 *   -ENAMETOOLONG "Key= path too long"
 * dst is left as it was on error. */
int ini_set_path(char *dst, size_t size, const char *value, const char *key, struct rw_err *err);

/* True if s is valid UTF-8 of len bytes with no NUL and no control characters
 * other than tab. */
bool utf8_is_valid_text(const char *s, size_t len);

#endif
