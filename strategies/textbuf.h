/*
 * textbuf: appending to a fixed buffer for gate explanations. Internal to
 * strategies/. Text that does not fit is cut and the buffer ends in "...",
 * so a long list of hosts or samples never overflows and never silently
 * looks complete.
 */
#ifndef ROLLWAVE_STRATEGIES_TEXTBUF_H
#define ROLLWAVE_STRATEGIES_TEXTBUF_H

#include "util.h"

struct textbuf {
	char *buf;
	size_t size, len;
	bool full;
};

static inline struct textbuf
textbuf_init(char *buf, size_t size)
{
	buf[0] = 0;
	return (struct textbuf) {buf, size, 0, false};
}

static inline void textbuf_printf(struct textbuf *t, const char *fmt, ...) _printf_(2, 3);
static inline void
textbuf_printf(struct textbuf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= t->size - t->len) {
		t->full = true;
		t->len = t->size - 1;
		if (t->size >= 4)
			memcpy(t->buf + t->size - 4, "...", 4);
		return;
	}
	t->len += (size_t)n;
}

#endif
