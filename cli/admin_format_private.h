/*
 * admin_format_private: what the admin_format*.c files share with each
 * other and nobody else includes (admin_format.h is the face). Helpers
 * defined in admin_format.c unless inline here.
 */
#ifndef ROLLWAVE_CLI_ADMIN_FORMAT_PRIVATE_H
#define ROLLWAVE_CLI_ADMIN_FORMAT_PRIVATE_H

#include <jansson.h>

#include "admin_format.h"
#include "util.h"

#define TS_SIZE 32

static inline const char *
admin_format_or(const char *s, const char *fallback)
{
	return isempty(s) ? fallback : s;
}

/* "YYYY-MM-DDTHH:MM:SSZ". */
static inline void
admin_format_timestamp(uint64_t ms, char buf[static TS_SIZE])
{
	format_timestamp_utc(ms * USEC_PER_MSEC, buf, TS_SIZE);
}

/* s, or JSON null when it is empty. */
static inline json_t *
admin_format_json_text(const char *s)
{
	return isempty(s) ? json_null() : json_string(s);
}

/* Appends what make(items[i]) returns for each item; NULL if any fails. */
#define JSON_ARRAY_OF(items, n, make)                                                              \
	({                                                                                         \
		json_t *a_ = json_array();                                                         \
		for (size_t i_ = 0; a_ && i_ < (n); i_++)                                          \
			if (json_array_append_new(a_, make((items)[i_])) < 0) {                    \
				json_decref(a_);                                                   \
				a_ = NULL;                                                         \
			}                                                                          \
		a_;                                                                                \
	})

struct admin_format_table {
	size_t ncols, nrows, cap;
	char **cells; /* row-major, nrows * ncols owned strings */
};

void admin_format_table_done(struct admin_format_table *t);
/* Adds a row of ncols cells, copying them (NULL counts as "-"). */
int admin_format_table_add(struct admin_format_table *t, const char *const *cells);
/* Every row, each line after indent, columns two spaces apart. */
int admin_format_table_print(const struct admin_format_table *t, const char *indent, FILE *out);
/* Characters, not bytes, of UTF-8 text. */
size_t admin_format_utf8_width(const char *s);

/* A string built with stdio: open, print into f, close to get the text. */
struct admin_format_strbuild {
	char *buf;
	size_t len;
	FILE *f;
};

int admin_format_strbuild_open(struct admin_format_strbuild *b);
/* Returns the text (owned by the caller) or NULL. */
char *admin_format_strbuild_close(struct admin_format_strbuild *b);

/* s on one line: newlines, carriage returns and tabs as spaces. NULL when
 * out of memory. */
char *admin_format_one_line(const char *s);

/* "3 (web1)" or "3". */
void admin_format_host_label(uint64_t id, const Rollwave__HostList *names, char *buf, size_t size);

#endif
