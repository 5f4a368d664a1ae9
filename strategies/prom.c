/*
 * prom: Prometheus instant-query responses, parsed with jansson. See prom.h.
 */
#include "prom.h"

#include <jansson.h>
#include <math.h>

#include "textbuf.h"

#define PROM_LABELS_TEXT_MAX 512

void
prom_vector_done(struct prom_vector *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_samples; i++)
		free(v->samples[i].labels);
	free(v->samples);
	*v = (struct prom_vector) {0};
}

/* Prometheus sends values as strings: numbers, "NaN", "+Inf", "-Inf". */
static int
parse_value(const char *s, double *ret)
{
	char *end;
	double v;

	if (streq(s, "NaN")) {
		*ret = NAN;
		return 0;
	}
	if (streq(s, "+Inf") || streq(s, "Inf")) {
		*ret = INFINITY;
		return 0;
	}
	if (streq(s, "-Inf")) {
		*ret = -INFINITY;
		return 0;
	}
	if (isempty(s) ||
	        !(s[0] == '-' || s[0] == '+' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9')))
		return -EINVAL;
	if (strpbrk(s, "xXnNiI"))
		return -EINVAL; /* no hex floats, no "nan" or "inf" spelled otherwise */
	v = strtod(s, &end);
	if (*end || !isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

/* [ts, "value"] */
static int
parse_pair(json_t *pair, double *ret_ts, double *ret_value)
{
	json_t *ts = json_array_get(pair, 0), *v = json_array_get(pair, 1);

	if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_number(ts) ||
	        !json_is_string(v))
		return -EINVAL;
	*ret_ts = json_number_value(ts);
	return parse_value(json_string_value(v), ret_value);
}

/* {"__name__":"up","instance":"a"} -> up{instance="a"} */
static int
format_labels(json_t *metric, char **ret)
{
	char buf[PROM_LABELS_TEXT_MAX];
	struct textbuf t = textbuf_init(buf, sizeof(buf));
	const char *k, *name = NULL;
	json_t *v;
	bool first = true;

	if (!json_is_object(metric))
		return -EINVAL;
	json_object_foreach(metric, k, v)
	{
		if (!json_is_string(v))
			return -EINVAL;
		if (streq(k, "__name__"))
			name = json_string_value(v);
	}
	textbuf_printf(&t, "%s{", name ? name : "");
	json_object_foreach(metric, k, v)
	{
		if (streq(k, "__name__"))
			continue;
		textbuf_printf(&t, "%s%s=\"", first ? "" : ",", k);
		for (const char *p = json_string_value(v); *p; p++)
			if (*p == '"' || *p == '\\')
				textbuf_printf(&t, "\\%c", *p);
			else if (*p == '\n')
				textbuf_printf(&t, "\\n");
			else
				textbuf_printf(&t, "%c", *p);
		textbuf_printf(&t, "\"");
		first = false;
	}
	textbuf_printf(&t, "}");
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

static int
parse_vector(json_t *result, struct prom_vector *v, struct rw_err *err)
{
	size_t i, n;
	json_t *e;

	if (!json_is_array(result))
		return rw_err_set(err, -EINVAL, "Prometheus response: data.result is not an array");
	n = json_array_size(result);
	if (n > PROM_SAMPLES_MAX)
		return rw_err_set(err, -E2BIG, "Prometheus response: %zu samples, at most %d", n,
		        PROM_SAMPLES_MAX);
	v->samples = calloc(n ? n : 1, sizeof(*v->samples));
	if (!v->samples)
		return rw_err_set(err, -ENOMEM, "out of memory");
	json_array_foreach(result, i, e)
	{
		struct prom_sample *s = &v->samples[i];
		json_t *metric;
		int r;

		if (!json_is_object(e))
			return rw_err_set(err, -EINVAL,
			        "Prometheus response: sample %zu is not an object", i);
		metric = json_object_get(e, "metric");
		if (metric)
			r = format_labels(metric, &s->labels);
		else
			r = (s->labels = strdup("{}")) ? 0 : -ENOMEM;
		v->n_samples = i + 1;
		if (r == -ENOMEM)
			return rw_err_set(err, r, "out of memory");
		if (r < 0)
			return rw_err_set(err, r,
			        "Prometheus response: sample %zu has a bad \"metric\" object", i);
		if (parse_pair(json_object_get(e, "value"), &s->timestamp, &s->value) < 0)
			return rw_err_set(err, -EINVAL,
			        "Prometheus response: sample %zu: \"value\" is not [time, "
			        "\"number\"]",
			        i);
	}
	return 0;
}

int
prom_vector_parse(const char *body, size_t len, struct prom_vector *ret, struct rw_err *err)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	struct prom_vector v = {0};
	json_error_t jerr;
	const char *status, *type;
	json_t *data, *result;
	int r;

	if (len > PROM_BODY_MAX)
		return rw_err_set(
		        err, -EFBIG, "Prometheus response larger than %d bytes", PROM_BODY_MAX);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return rw_err_set(err, -EINVAL, "Prometheus response is not JSON: %s (line %d)",
		        jerr.text, jerr.line);
	status = json_string_value(json_object_get(root, "status"));
	if (!status)
		return rw_err_set(err, -EINVAL, "Prometheus response has no \"status\"");
	if (streq(status, "error")) {
		const char *t = json_string_value(json_object_get(root, "errorType"));
		const char *m = json_string_value(json_object_get(root, "error"));

		return rw_err_set(err, -EPROTO, "Prometheus error (%s): %s", t ? t : "unknown",
		        m ? m : "no message");
	}
	if (!streq(status, "success"))
		return rw_err_set(err, -EINVAL, "Prometheus response has status '%s'", status);
	data = json_object_get(root, "data");
	type = json_string_value(json_object_get(data, "resultType"));
	result = json_object_get(data, "result");
	if (!json_is_object(data) || !type || !result)
		return rw_err_set(
		        err, -EINVAL, "Prometheus response lacks data.resultType or data.result");
	if (streq(type, "vector")) {
		r = parse_vector(result, &v, err);
		if (r < 0) {
			prom_vector_done(&v);
			return r;
		}
	} else if (streq(type, "scalar")) {
		double ts, value;

		if (parse_pair(result, &ts, &value) < 0)
			return rw_err_set(err, -EINVAL,
			        "Prometheus response: scalar result is not [time, \"number\"]");
		v.samples = calloc(1, sizeof(*v.samples));
		if (!v.samples || !(v.samples[0].labels = strdup("{}"))) {
			free(v.samples);
			return rw_err_set(err, -ENOMEM, "out of memory");
		}
		v.samples[0].timestamp = ts;
		v.samples[0].value = value;
		v.n_samples = 1;
	} else
		return rw_err_set(err, -EPROTO,
		        "Prometheus result type '%s': a gate needs an instant vector or a scalar",
		        type);
	*ret = v;
	return 0;
}
