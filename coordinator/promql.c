/*
 * promql: Prometheus instant queries for metric gates. See promql.h.
 */
#include "promql.h"

#include <ctype.h>
#include <inttypes.h>
#include <strings.h>

#include "fetch.h"

static bool
has_prefix_ci(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

int
promql_url(const char *base, const char *query, uint64_t time_ms, char **ret)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t blen, qlen, cap;
	char *out, *o;

	if (isempty(base) || isempty(query))
		return -EINVAL;
	if (!has_prefix_ci(base, "http://") && !has_prefix_ci(base, "https://"))
		return -EINVAL;
	if (!base[strcspn(base, ":") + 3])
		return -EINVAL; /* no host */
	for (const char *c = base; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '?' ||
		        *c == '#')
			return -EINVAL;
	for (const char *c = query; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -EINVAL;
	blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	qlen = strlen(query);
	cap = blen + sizeof("/api/v1/query?query=") + 3 * qlen + sizeof("&time=") + 32;
	out = malloc(cap);
	if (!out)
		return -ENOMEM;
	memcpy(out, base, blen);
	o = out + blen;
	o += sprintf(o, "/api/v1/query?query=");
	for (const unsigned char *c = (const unsigned char *)query; *c; c++) {
		if (isalnum(*c) || *c == '-' || *c == '_' || *c == '.' || *c == '~') {
			*o++ = (char)*c;
		} else {
			*o++ = '%';
			*o++ = hex[*c >> 4];
			*o++ = hex[*c & 15];
		}
	}
	*o = 0;
	if (time_ms)
		sprintf(o, "&time=%" PRIu64 ".%03" PRIu64, time_ms / 1000, time_ms % 1000);
	*ret = out;
	return 0;
}

int
promql_query(const char *base, const char *query, uint64_t time_ms, uint64_t timeout_usec,
        char **ret_body, struct rw_err *err)
{
	struct fetch_opts o = FETCH_OPTS_DEFAULT;
	_cleanup_free_ char *url = NULL;
	size_t len;
	int r;

	r = promql_url(base, query, time_ms, &url);
	if (r < 0)
		return rw_err_set(err, r, "cannot query Prometheus at '%s' for '%s': %s", base,
		        query, r == -EINVAL ? "not an http(s) URL, or a bad query" : strerror(-r));
	o.connect_timeout_usec = 5 * USEC_PER_SEC;
	o.total_timeout_usec = timeout_usec ? timeout_usec : 10 * USEC_PER_SEC;
	o.low_speed_bytes_per_sec = 0;
	r = fetch_to_buffer(url, PROMQL_BODY_MAX, &o, ret_body, &len, err);
	if (r < 0)
		return rw_err_prefix(err, r, "Prometheus query '%s'", query);
	return 0;
}
