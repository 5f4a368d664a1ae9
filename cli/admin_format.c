/*
 * admin_format: what every admin_format_*.c file shares (admin_format_private.h):
 * the names of host states and health, relative times, the table and the
 * string builder, one-line text, and host lookup by id.
 *
 * Tables are built in memory first (struct admin_format_table: a header row
 * and data rows of owned strings) so that column widths fit the widest cell;
 * widths count UTF-8 characters, not bytes.
 */
#include "admin_format.h"
#include "admin_format_private.h"

const char *
admin_format_state(Rollwave__HostState s)
{
	switch (s) {
	case ROLLWAVE__HOST_STATE__HOST_STATE_PENDING:
		return "pending";
	case ROLLWAVE__HOST_STATE__HOST_STATE_UP:
		return "up";
	case ROLLWAVE__HOST_STATE__HOST_STATE_DOWN:
		return "down";
	case ROLLWAVE__HOST_STATE__HOST_STATE_REVOKED:
		return "revoked";
	default:
		return "unknown";
	}
}

const char *
admin_format_health(Rollwave__Health h)
{
	switch (h) {
	case ROLLWAVE__HEALTH__HEALTH_HEALTHY:
		return "healthy";
	case ROLLWAVE__HEALTH__HEALTH_UNHEALTHY:
		return "unhealthy";
	default:
		return "unknown";
	}
}

void
admin_format_relative(uint64_t then_ms, uint64_t now_ms, char *buf, size_t size)
{
	uint64_t s;

	if (then_ms == 0) {
		strbuf_printf(buf, size, "never");
		return;
	}
	s = then_ms >= now_ms ? 0 : (now_ms - then_ms) / 1000;
	if (s < 60)
		strbuf_printf(buf, size, "%llus ago", (unsigned long long)s);
	else if (s < 3600)
		strbuf_printf(buf, size, "%llum ago", (unsigned long long)(s / 60));
	else if (s < 86400)
		strbuf_printf(buf, size, "%lluh ago", (unsigned long long)(s / 3600));
	else
		strbuf_printf(buf, size, "%llud ago", (unsigned long long)(s / 86400));
}

void
admin_format_table_done(struct admin_format_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* Adds a row of ncols cells, copying them (NULL counts as "-"). */
int
admin_format_table_add(struct admin_format_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **c = reallocarray(t->cells, cap * t->ncols, sizeof(char *));

		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	for (size_t j = 0; j < t->ncols; j++) {
		char *s = strdup(cells[j] ? cells[j] : "-");

		if (!s) {
			for (size_t k = 0; k < j; k++)
				free(t->cells[t->nrows * t->ncols + k]);
			return -ENOMEM;
		}
		t->cells[t->nrows * t->ncols + j] = s;
	}
	t->nrows++;
	return 0;
}

size_t
admin_format_utf8_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

int
admin_format_table_print(const struct admin_format_table *t, const char *indent, FILE *out)
{
	size_t width[16] = {0};

	if (t->ncols > ELEMENTSOF(width))
		return -EINVAL;
	for (size_t i = 0; i < t->nrows; i++)
		for (size_t j = 0; j < t->ncols; j++) {
			size_t w = admin_format_utf8_width(t->cells[i * t->ncols + j]);

			if (w > width[j])
				width[j] = w;
		}
	for (size_t i = 0; i < t->nrows; i++) {
		fputs(indent, out);
		for (size_t j = 0; j < t->ncols; j++) {
			const char *c = t->cells[i * t->ncols + j];

			fputs(c, out);
			if (j + 1 < t->ncols)
				fprintf(out, "%*s",
				        (int)(width[j] - admin_format_utf8_width(c) + 2), "");
		}
		fputc('\n', out);
	}
	return ferror(out) ? -EIO : 0;
}

int
admin_format_strbuild_open(struct admin_format_strbuild *b)
{
	*b = (struct admin_format_strbuild) {NULL, 0, NULL};
	b->f = open_memstream(&b->buf, &b->len);
	return b->f ? 0 : -ENOMEM;
}

/* Returns the text (owned by the caller) or NULL. */
char *
admin_format_strbuild_close(struct admin_format_strbuild *b)
{
	if (fclose(b->f) != 0) {
		free(b->buf);
		return NULL;
	}
	return b->buf;
}

const Rollwave__HostInfo *
admin_format_host_find(const Rollwave__HostList *hosts, uint64_t id)
{
	size_t lo = 0, hi = hosts ? hosts->n_hosts : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const Rollwave__HostInfo *h = hosts->hosts[mid];

		if (h->id == id)
			return h;
		if (h->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *
admin_format_host_name(const Rollwave__HostList *names, uint64_t id)
{
	const Rollwave__HostInfo *h = admin_format_host_find(names, id);

	return h && !isempty(h->hostname) ? h->hostname : NULL;
}

/* s on one line: newlines, carriage returns and tabs as spaces. NULL when
 * out of memory. */
char *
admin_format_one_line(const char *s)
{
	char *c = strdup(s ? s : "");

	for (char *p = c; p && *p; p++)
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
	return c;
}

/* "3 (web1)" or "3". */
void
admin_format_host_label(uint64_t id, const Rollwave__HostList *names, char *buf, size_t size)
{
	const char *name = admin_format_host_name(names, id);

	if (name)
		strbuf_printf(buf, size, "%llu (%s)", (unsigned long long)id, name);
	else
		strbuf_printf(buf, size, "%llu", (unsigned long long)id);
}
