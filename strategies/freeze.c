/*
 * freeze: deploy-freeze windows, parsed and checked against a clock that
 * the caller passes in. See freeze.h. Everything is computed in UTC with
 * integer arithmetic (no TZ, no localtime): a window written with an
 * offset is shifted to UTC once, when parsed.
 */
#include "freeze.h"

#include <ctype.h>

#define SEC_PER_DAY    86400
#define SEC_PER_WEEK   (7 * SEC_PER_DAY)
#define FIND_HORIZON   ((uint64_t)400 * SEC_PER_DAY * USEC_PER_SEC)
#define FIND_STEPS_MAX 10000

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

const char *
freeze_policy_to_string(enum freeze_policy p)
{
	return p == FREEZE_POLICY_REFUSE ? "refuse" : "wait";
}

int
freeze_policy_from_string(const char *s, enum freeze_policy *ret)
{
	if (streq(s, "wait"))
		*ret = FREEZE_POLICY_WAIT;
	else if (streq(s, "refuse"))
		*ret = FREEZE_POLICY_REFUSE;
	else
		return -EINVAL;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool
is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Reads exactly n digits at *p. */
static bool
read_digits(const char **p, size_t n, unsigned *ret)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

static void
skip_spaces(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* The '-' between the two ends of a range, with spaces around it. */
static bool
read_dash(const char **p)
{
	skip_spaces(p);
	if (*(*p)++ != '-')
		return false;
	skip_spaces(p);
	return true;
}

/* "HH:MM" -> seconds since midnight. 24:00 is allowed as an end. */
static bool
read_clock(const char **p, uint64_t *ret)
{
	unsigned h, m;

	if (!read_digits(p, 2, &h) || **p != ':')
		return false;
	(*p)++;
	if (!read_digits(p, 2, &m) || m > 59 || h > 24 || (h == 24 && m != 0))
		return false;
	*ret = (uint64_t)h * 3600 + (uint64_t)m * 60;
	return true;
}

static bool
read_day(const char **p, unsigned *ret)
{
	for (unsigned i = 0; i < ELEMENTSOF(day_names); i++)
		if (strncasecmp(*p, day_names[i], 3) == 0 && !isalpha((unsigned char)(*p)[3])) {
			*p += 3;
			*ret = i;
			return true;
		}
	return false;
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS][Z]" -> seconds since the epoch;
 * ret_date_only says which. */
static bool
read_instant(const char **p, int64_t *ret, bool *ret_date_only)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, h = 0, mi = 0, s = 0;
	bool date_only = true;

	if (!read_digits(p, 4, &y) || *(*p)++ != '-' || !read_digits(p, 2, &mo) || *(*p)++ != '-' ||
	        !read_digits(p, 2, &d))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	        d > mdays[mo - 1] + (mo == 2 && is_leap(y) ? 1 : 0))
		return false;
	if (**p == 'T') {
		(*p)++;
		date_only = false;
		if (!read_digits(p, 2, &h) || *(*p)++ != ':' || !read_digits(p, 2, &mi) || h > 23 ||
		        mi > 59)
			return false;
		if (**p == ':') {
			(*p)++;
			if (!read_digits(p, 2, &s) || s > 59)
				return false;
		}
		if (**p == 'Z')
			(*p)++;
	}
	*ret = days_from_civil(y, mo, d) * SEC_PER_DAY + h * 3600 + mi * 60 + s;
	*ret_date_only = date_only;
	return true;
}

/* Strips a trailing " UTC", " UTC+HH:MM" or " UTC-HH:MM" from buf into
 * *ret_offset (seconds east of UTC). */
static bool
strip_zone(char *buf, int64_t *ret_offset)
{
	char *sp = strrchr(buf, ' ');
	const char *z;
	unsigned h, m;
	int sign;

	*ret_offset = 0;
	if (!sp || strncmp(sp + 1, "UTC", 3) != 0)
		return true;
	z = sp + 4;
	if (*z) {
		if (*z != '+' && *z != '-')
			return false;
		sign = *z == '-' ? -1 : 1;
		z++;
		if (!read_digits(&z, 2, &h) || *z++ != ':' || !read_digits(&z, 2, &m) || *z ||
		        h > 14 || m > 59)
			return false;
		*ret_offset = sign * (int64_t)(h * 3600 + m * 60);
	}
	*sp = 0;
	return true;
}

static uint64_t
wrap(int64_t v, int64_t period)
{
	v %= period;
	return (uint64_t)(v < 0 ? v + period : v);
}

static bool
parse_range(const char *s, int64_t offset, struct freeze_window *w)
{
	const char *p = s;
	int64_t a, b;
	bool a_date, b_date;

	if (!read_instant(&p, &a, &a_date))
		return false;
	if (*p == 0) { /* one whole day */
		if (!a_date)
			return false;
		b = a + SEC_PER_DAY;
	} else {
		if (strncmp(p, "..", 2) != 0)
			return false;
		p += 2;
		if (!read_instant(&p, &b, &b_date) || *p)
			return false;
		if (b_date)
			b += SEC_PER_DAY;
	}
	a -= offset;
	b -= offset;
	if (a < 0 || b <= a)
		return false;
	w->kind = FREEZE_RANGE;
	w->start = (uint64_t)a * USEC_PER_SEC;
	w->end = (uint64_t)b * USEC_PER_SEC;
	return true;
}

static bool
parse_weekly(const char *s, int64_t offset, struct freeze_window *w)
{
	const char *p = s;
	unsigned d1, d2;
	uint64_t t1, t2;

	if (!read_day(&p, &d1))
		return false;
	skip_spaces(&p);
	if (!read_clock(&p, &t1))
		return false;
	if (!read_dash(&p))
		return false;
	if (!read_day(&p, &d2))
		return false;
	skip_spaces(&p);
	if (!read_clock(&p, &t2) || *p)
		return false;
	w->kind = FREEZE_WEEKLY;
	w->start = wrap((int64_t)(d1 * SEC_PER_DAY + t1) - offset, SEC_PER_WEEK);
	w->end = wrap((int64_t)(d2 * SEC_PER_DAY + t2) - offset, SEC_PER_WEEK);
	return w->start != w->end;
}

static bool
parse_daily(const char *s, int64_t offset, struct freeze_window *w)
{
	const char *p = s;
	uint64_t t1, t2;

	if (!read_clock(&p, &t1))
		return false;
	if (!read_dash(&p))
		return false;
	if (!read_clock(&p, &t2) || *p)
		return false;
	w->kind = FREEZE_DAILY;
	w->start = wrap((int64_t)t1 - offset, SEC_PER_DAY);
	w->end = wrap((int64_t)t2 - offset, SEC_PER_DAY);
	return w->start != w->end;
}

int
freeze_window_parse(const char *s, struct freeze_window *ret, struct rw_err *err)
{
	struct freeze_window w = {0};
	char buf[FREEZE_SPEC_MAX];
	const char *b;
	int64_t offset;
	bool ok;

	while (*s == ' ' || *s == '\t')
		s++;
	if (xsnprintf(buf, sizeof(buf), "%s", s) < 0)
		return rw_err_set(err, -EINVAL, "window '%.40s...' is too long", s);
	for (size_t n = strlen(buf); n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t');)
		buf[--n] = 0;
	strcpy(w.spec, buf);
	if (!strip_zone(buf, &offset))
		return rw_err_set(
		        err, -EINVAL, "'%s': the zone must be UTC, UTC+HH:MM or UTC-HH:MM", w.spec);
	b = buf;
	if (isalpha((unsigned char)b[0]))
		ok = parse_weekly(b, offset, &w);
	else if (strlen(b) >= 10 && b[4] == '-')
		ok = parse_range(b, offset, &w);
	else
		ok = parse_daily(b, offset, &w);
	if (!ok)
		return rw_err_set(err, -EINVAL,
		        "'%s' is not a freeze window: 'Fri 16:00-Mon 08:00', '22:00-06:00', "
		        "'2026-12-24..2027-01-02' or '2026-12-24T18:00..2027-01-02T08:00', "
		        "optionally followed by ' UTC+HH:MM'; not empty, ends after starts",
		        w.spec);
	*ret = w;
	return 0;
}

/* For a periodic window: the position of now in the period, and the
 * period, in seconds. */
static void
periodic_position(
        const struct freeze_window *w, uint64_t now, uint64_t *ret_pos, uint64_t *ret_period)
{
	uint64_t sec = now / USEC_PER_SEC;

	if (w->kind == FREEZE_WEEKLY) {
		/* 1970-01-01 was a Thursday: day 0 is index 3 counting from Monday. */
		*ret_pos = ((sec / SEC_PER_DAY + 3) % 7) * SEC_PER_DAY + sec % SEC_PER_DAY;
		*ret_period = SEC_PER_WEEK;
	} else {
		*ret_pos = sec % SEC_PER_DAY;
		*ret_period = SEC_PER_DAY;
	}
}

bool
freeze_window_contains(const struct freeze_window *w, uint64_t now)
{
	uint64_t pos, period;

	if (w->kind == FREEZE_RANGE)
		return now >= w->start && now < w->end;
	periodic_position(w, now, &pos, &period);
	if (w->start < w->end)
		return pos >= w->start && pos < w->end;
	return pos >= w->start || pos < w->end;
}

/* The end of the occurrence of w that contains now. */
static uint64_t
occurrence_end(const struct freeze_window *w, uint64_t now)
{
	uint64_t pos, period, sec = now / USEC_PER_SEC;

	if (w->kind == FREEZE_RANGE)
		return w->end;
	periodic_position(w, now, &pos, &period);
	if (pos < w->end)
		return (sec + (w->end - pos)) * USEC_PER_SEC;
	return (sec + (period - pos) + w->end) * USEC_PER_SEC;
}

bool
freeze_windows_find(const struct freeze_window *w, size_t n, uint64_t now, size_t *ret_index,
        uint64_t *ret_until)
{
	size_t first = n;
	uint64_t t = now;

	for (size_t i = 0; i < n; i++)
		if (freeze_window_contains(&w[i], now)) {
			first = i;
			break;
		}
	if (first == n)
		return false;
	for (size_t step = 0; step < FIND_STEPS_MAX && t - now <= FIND_HORIZON; step++) {
		bool inside = false;

		for (size_t i = 0; i < n; i++)
			if (freeze_window_contains(&w[i], t)) {
				t = occurrence_end(&w[i], t);
				inside = true;
				break;
			}
		if (!inside) {
			if (ret_index)
				*ret_index = first;
			if (ret_until)
				*ret_until = t;
			return true;
		}
	}
	if (ret_index)
		*ret_index = first;
	if (ret_until)
		*ret_until = UINT64_MAX;
	return true;
}

void
freeze_gate_evaluate(const struct freeze_window *w, size_t n, enum freeze_policy policy,
        bool starting, uint64_t now, struct gate_result *ret)
{
	char until_text[32] = "no end in sight";
	uint64_t until;
	size_t i;

	*ret = (struct gate_result) {.verdict = GATE_PASS};
	if (!freeze_windows_find(w, n, now, &i, &until)) {
		strbuf_printf(ret->why, sizeof(ret->why),
		        "freeze: pass: outside every freeze window (%zu)", n);
		return;
	}
	if (until != UINT64_MAX) {
		strcpy(until_text, "until ");
		format_timestamp_utc(until, until_text + 6, sizeof(until_text) - 6);
	}
	if (starting && policy == FREEZE_POLICY_REFUSE) {
		ret->verdict = GATE_FAIL;
		strbuf_printf(ret->why, sizeof(ret->why),
		        "freeze: fail: deploy freeze '%s' %s; FreezePolicy=refuse refuses new "
		        "deployments",
		        w[i].spec, until_text);
		return;
	}
	ret->verdict = GATE_HOLD;
	ret->recheck_usec = until == UINT64_MAX ? 0 : until;
	strbuf_printf(ret->why, sizeof(ret->why), "freeze: hold: deploy freeze '%s' %s; waiting",
	        w[i].spec, until_text);
}
