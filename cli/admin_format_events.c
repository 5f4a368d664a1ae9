/*
 * admin_format_events: the audit log (rollwave events) as JSON and as a
 * table, one line per event.
 */
#include "admin_format.h"
#include "admin_format_private.h"

static json_t *
event_json(const Rollwave__Event *e)
{
	char ts[TS_SIZE];

	admin_format_timestamp(e->at_ms, ts);
	return json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)e->id, "time", ts,
	        "at_ms", (json_int_t)e->at_ms, "actor", e->actor, "action", e->action, "target",
	        e->target, "detail", e->detail);
}

json_t *
admin_format_events_json(const Rollwave__EventList *l)
{
	return json_pack("{s:o}", "events", JSON_ARRAY_OF(l->events, l->n_events, event_json));
}

int
admin_format_events_table(const Rollwave__EventList *l, FILE *out)
{
	static const char *const header[] = {"TIME", "ACTOR", "ACTION", "TARGET", "DETAIL"};
	struct admin_format_table t = {.ncols = ELEMENTSOF(header)};
	int r;

	r = admin_format_table_add(&t, header);
	for (size_t i = 0; r >= 0 && i < l->n_events; i++) {
		const Rollwave__Event *e = l->events[i];
		_cleanup_free_ char *detail = strdup(e->detail);
		char ts[TS_SIZE];

		if (!detail) {
			r = -ENOMEM;
			break;
		}
		/* One line per event: newlines and tabs of the detail as spaces. */
		for (char *c = detail; *c; c++)
			if (*c == '\n' || *c == '\t' || *c == '\r')
				*c = ' ';
		admin_format_timestamp(e->at_ms, ts);
		r = admin_format_table_add(&t,
		        (const char *const[]) {ts, admin_format_or(e->actor, "-"), e->action,
		                admin_format_or(e->target, "-"), admin_format_or(detail, "-")});
	}
	if (r >= 0)
		r = admin_format_table_print(&t, "", out);
	admin_format_table_done(&t);
	return r;
}
