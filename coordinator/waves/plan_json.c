/*
 * plan_json: a deployment's plan as JSON, the form the database keeps so a
 * restarted coordinator runs exactly the waves it planned (hosts may have
 * changed labels or versions since). See plan_json.h.
 */
#include "plan_json.h"

#include <jansson.h>

static json_t *
targets_to_json(const struct plan_target *t, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a,
		        json_pack("{s:I, s:s, s:s?, s:b, s:b}", "id", (json_int_t)t[i].id, "name",
		                t[i].name ? t[i].name : "", "rollback_to", t[i].rollback_to, "down",
		                t[i].down, "up_to_date", t[i].up_to_date));
	return a;
}

static json_t *
waves_to_json(const struct plan_wave *w, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a,
		        json_pack("{s:s, s:s, s:o, s:I, s:b, s:I, s:I, s:I, s:b, s:s?}", "kind",
		                plan_wave_kind_to_string(w[i].kind), "name", w[i].name, "hosts",
		                targets_to_json(w[i].hosts, w[i].n_hosts), "max_unavailable",
		                (json_int_t)w[i].max_unavailable, "approval", w[i].approval,
		                "bake_usec", (json_int_t)w[i].bake_usec, "timeout_usec",
		                (json_int_t)w[i].timeout_usec, "min_healthy_usec",
		                (json_int_t)w[i].min_healthy_usec, "metric_gates",
		                w[i].metric_gates, "command", w[i].command));
	return a;
}

char *
plan_to_json(const struct plan *p, const struct plan *rollback)
{
	json_t *o = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:o}", "waves",
	        waves_to_json(p->waves, p->n_waves), "n_hosts", (json_int_t)p->n_hosts, "n_down",
	        (json_int_t)p->n_down, "n_up_to_date", (json_int_t)p->n_up_to_date,
	        "failures_allowed", (json_int_t)p->failures_allowed, "rollback_parallelism",
	        (json_int_t)p->rollback_parallelism, "idle_color", p->idle_color, "live_color",
	        p->live_color, "kept", targets_to_json(p->kept, p->n_kept));
	char *out;

	if (!o)
		return NULL;
	if (rollback)
		json_object_set_new(
		        o, "rollback", waves_to_json(rollback->waves, rollback->n_waves));
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

static char *
dup_str(json_t *v)
{
	const char *s = json_string_value(v);

	return s ? strdup(s) : NULL;
}

static int
targets_from_json(json_t *a, struct plan_target **ret, size_t *ret_n)
{
	size_t i, n = json_array_size(a);
	struct plan_target *t;
	json_t *o;

	*ret = NULL;
	*ret_n = 0;
	if (!json_is_array(a))
		return -EINVAL;
	if (n == 0)
		return 0;
	t = calloc(n, sizeof(*t));
	if (!t)
		return -ENOMEM;
	json_array_foreach(a, i, o)
	{
		t[i].id = (int64_t)json_integer_value(json_object_get(o, "id"));
		t[i].name = dup_str(json_object_get(o, "name"));
		t[i].rollback_to = dup_str(json_object_get(o, "rollback_to"));
		t[i].down = json_is_true(json_object_get(o, "down"));
		t[i].up_to_date = json_is_true(json_object_get(o, "up_to_date"));
		if (t[i].id <= 0 || !t[i].name) {
			*ret = t;
			*ret_n = i + 1;
			return -EINVAL;
		}
	}
	*ret = t;
	*ret_n = n;
	return 0;
}

static int
wave_kind_from_string(const char *s, enum plan_wave_kind *ret)
{
	for (int k = PLAN_WAVE_DEPLOY; k <= PLAN_WAVE_ROLLBACK; k++)
		if (s && streq(s, plan_wave_kind_to_string((enum plan_wave_kind)k))) {
			*ret = (enum plan_wave_kind)k;
			return 0;
		}
	return -EINVAL;
}

static int
waves_from_json(json_t *a, struct plan_wave **ret, size_t *ret_n)
{
	size_t i, n = json_array_size(a);
	struct plan_wave *w;
	json_t *o;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (!json_is_array(a))
		return -EINVAL;
	if (n == 0)
		return 0;
	w = calloc(n, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*ret = w;
	json_array_foreach(a, i, o)
	{
		*ret_n = i + 1;
		if (wave_kind_from_string(
		            json_string_value(json_object_get(o, "kind")), &w[i].kind) < 0)
			return -EINVAL;
		w[i].name = dup_str(json_object_get(o, "name"));
		if (!w[i].name)
			return -EINVAL;
		r = targets_from_json(json_object_get(o, "hosts"), &w[i].hosts, &w[i].n_hosts);
		if (r < 0)
			return r;
		w[i].max_unavailable =
		        (size_t)json_integer_value(json_object_get(o, "max_unavailable"));
		w[i].approval = json_is_true(json_object_get(o, "approval"));
		w[i].bake_usec = (uint64_t)json_integer_value(json_object_get(o, "bake_usec"));
		w[i].timeout_usec =
		        (uint64_t)json_integer_value(json_object_get(o, "timeout_usec"));
		w[i].min_healthy_usec =
		        (uint64_t)json_integer_value(json_object_get(o, "min_healthy_usec"));
		w[i].metric_gates = json_is_true(json_object_get(o, "metric_gates"));
		w[i].command = dup_str(json_object_get(o, "command"));
	}
	return 0;
}

static struct plan *
plan_new(const char *app, const char *version, const struct deploy_params *params)
{
	struct plan *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->app = strdup(app);
	p->version = strdup(version);
	p->params = *params;
	if (!p->app || !p->version) {
		plan_free(p);
		return NULL;
	}
	return p;
}

int
plan_from_json(const char *text, const char *app, const char *version,
        const struct deploy_params *params, struct plan **ret, struct plan **ret_rollback)
{
	json_t *o = json_loads(text ? text : "", 0, NULL), *rb;
	struct plan *p = NULL, *r = NULL;
	int q = -ENOMEM;

	*ret = NULL;
	if (ret_rollback)
		*ret_rollback = NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		return -EINVAL;
	}
	p = plan_new(app, version, params);
	if (!p)
		goto fail;
	q = waves_from_json(json_object_get(o, "waves"), &p->waves, &p->n_waves);
	if (q < 0)
		goto fail;
	q = targets_from_json(json_object_get(o, "kept"), &p->kept, &p->n_kept);
	if (q < 0)
		goto fail;
	p->n_hosts = (size_t)json_integer_value(json_object_get(o, "n_hosts"));
	p->n_down = (size_t)json_integer_value(json_object_get(o, "n_down"));
	p->n_up_to_date = (size_t)json_integer_value(json_object_get(o, "n_up_to_date"));
	p->failures_allowed = (size_t)json_integer_value(json_object_get(o, "failures_allowed"));
	p->rollback_parallelism =
	        (size_t)json_integer_value(json_object_get(o, "rollback_parallelism"));
	strbuf_printf(p->idle_color, sizeof(p->idle_color), "%s",
	        json_string_value(json_object_get(o, "idle_color")) ?: "");
	strbuf_printf(p->live_color, sizeof(p->live_color), "%s",
	        json_string_value(json_object_get(o, "live_color")) ?: "");
	rb = json_object_get(o, "rollback");
	if (rb && ret_rollback) {
		r = plan_new(app, version, params);
		q = r ? waves_from_json(rb, &r->waves, &r->n_waves) : -ENOMEM;
		if (q < 0)
			goto fail;
		for (size_t i = 0; i < r->n_waves; i++)
			r->n_hosts += r->waves[i].n_hosts;
	}
	json_decref(o);
	*ret = p;
	if (ret_rollback)
		*ret_rollback = r;
	return 0;
fail:
	json_decref(o);
	plan_free(p);
	plan_free(r);
	return q;
}
