/*
 * deploy_amount: host counts and percentages ("3", "12.5%") and durations
 * as deployment options write them. See deploy_params.h. Percentages are
 * kept in basis points (1 % = 100) so that rounding is exact integer
 * arithmetic.
 */
#include "deploy_params.h"

#include <ctype.h>
#include <inttypes.h>

int
deploy_amount_parse(const char *s, bool allow_zero, struct deploy_amount *ret)
{
	size_t len = strlen(s);
	uint64_t whole = 0, frac = 0;
	const char *p = s;
	size_t digits = 0;

	if (len == 0)
		return -EINVAL;
	if (s[len - 1] != '%') {
		uint64_t v;

		for (const char *q = s; *q; q++)
			if (!isdigit((unsigned char)*q))
				return -EINVAL;
		if (parse_uint64(s, &v) < 0 || (v == 0 && !allow_zero))
			return -EINVAL;
		*ret = (struct deploy_amount) {DEPLOY_AMOUNT_COUNT, v};
		return 0;
	}
	for (; isdigit((unsigned char)*p); p++, digits++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > 100)
			return -EINVAL;
	}
	if (digits == 0)
		return -EINVAL;
	if (*p == '.') {
		size_t fd = 0;

		for (p++; isdigit((unsigned char)*p); p++, fd++) {
			if (fd >= 2)
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(*p - '0');
		}
		if (fd == 0)
			return -EINVAL;
		if (fd == 1)
			frac *= 10;
	}
	if (p != s + len - 1)
		return -EINVAL;
	whole = whole * DEPLOY_PERCENT_ONE + frac;
	if (whole > DEPLOY_PERCENT_ALL || (whole == 0 && !allow_zero))
		return -EINVAL;
	*ret = (struct deploy_amount) {DEPLOY_AMOUNT_PERCENT, whole};
	return 0;
}

size_t
deploy_amount_hosts(const struct deploy_amount *a, size_t n)
{
	if (a->kind == DEPLOY_AMOUNT_COUNT)
		return a->value < n ? (size_t)a->value : n;
	/* n * bp is exact in 64 bits for any fleet we can hold in memory. */
	return (size_t)(((uint64_t)n * a->value + DEPLOY_PERCENT_ALL - 1) / DEPLOY_PERCENT_ALL);
}

void
deploy_amount_format(const struct deploy_amount *a, char *buf, size_t size)
{
	uint64_t whole = a->value / DEPLOY_PERCENT_ONE, frac = a->value % DEPLOY_PERCENT_ONE;

	if (a->kind == DEPLOY_AMOUNT_COUNT)
		strbuf_printf(buf, size, "%" PRIu64, a->value);
	else if (frac == 0)
		strbuf_printf(buf, size, "%" PRIu64 "%%", whole);
	else if (frac % 10 == 0)
		strbuf_printf(buf, size, "%" PRIu64 ".%" PRIu64 "%%", whole, frac / 10);
	else
		strbuf_printf(buf, size, "%" PRIu64 ".%02" PRIu64 "%%", whole, frac);
}

void
deploy_duration_format(uint64_t usec, char *buf, size_t size)
{
	static const struct {
		const char *suffix;
		uint64_t usec;
	} units[] = {
	        {"d", 86400 * USEC_PER_SEC},
	        {"h", 3600 * USEC_PER_SEC},
	        {"m", 60 * USEC_PER_SEC},
	        {"s", USEC_PER_SEC},
	        {"ms", USEC_PER_MSEC},
	};

	usec -= usec % USEC_PER_MSEC;
	if (usec == 0) {
		strbuf_printf(buf, size, "0");
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (usec % units[i].usec == 0) {
			strbuf_printf(
			        buf, size, "%" PRIu64 "%s", usec / units[i].usec, units[i].suffix);
			return;
		}
}
