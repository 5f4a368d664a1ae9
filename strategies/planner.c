/*
 * planner: helpers shared by the strategy files. See planner.h.
 */
#include "planner.h"

#include <assert.h>
#include <ctype.h>

#include "gates.h"

int
planner_wave_add(struct plan *plan, const struct deploy_params *p, enum plan_wave_kind kind,
        struct plan_wave **ret, const char *fmt, ...)
{
	struct plan_wave *waves, *w;
	char *name;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&name, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	waves = reallocarray(plan->waves, plan->n_waves + 1, sizeof(*waves));
	if (!waves) {
		free(name);
		return -ENOMEM;
	}
	plan->waves = waves;
	w = &waves[plan->n_waves++];
	*w = (struct plan_wave) {
	        .kind = kind,
	        .name = name,
	        .bake_usec = p->bake_usec,
	        .timeout_usec = p->wave_timeout_usec,
	        .min_healthy_usec = p->min_healthy_usec,
	        .metric_gates = true,
	};
	*ret = w;
	return 0;
}

void
planner_target_done(struct plan_target *t)
{
	free(t->name);
	free(t->rollback_to);
	*t = (struct plan_target) {0};
}

int
planner_target_from_host(struct plan_target *t, const struct plan_host *h, const char *version)
{
	*t = (struct plan_target) {
	        .id = h->id,
	        .down = !h->up,
	        .up_to_date = !isempty(h->current_version) && streq(h->current_version, version),
	};
	t->name = strdup(h->name);
	if (!isempty(h->current_version))
		t->rollback_to = strdup(h->current_version);
	if (!t->name || (!isempty(h->current_version) && !t->rollback_to)) {
		planner_target_done(t);
		return -ENOMEM;
	}
	return 0;
}

int
planner_wave_set_hosts(struct plan_wave *w, const struct plan_host *const *hosts, size_t n,
        const char *version, const struct deploy_params *p, size_t total)
{
	struct plan_target *t;
	size_t mu;

	assert(w->n_hosts == 0);
	t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = planner_target_from_host(&t[i], hosts[i], version);

		if (r < 0) {
			while (i-- > 0)
				planner_target_done(&t[i]);
			free(t);
			return r;
		}
	}
	w->hosts = t;
	w->n_hosts = n;
	mu = deploy_amount_hosts(&p->max_unavailable, total);
	w->max_unavailable = mu == 0 ? 1 : mu < n ? mu : n;
	if (n == 0)
		w->max_unavailable = 0;
	return 0;
}

bool
planner_approval(const struct deploy_params *p, size_t i)
{
	switch (p->approval) {
	case DEPLOY_APPROVAL_NO:
		return false;
	case DEPLOY_APPROVAL_FIRST:
		return i == 1;
	case DEPLOY_APPROVAL_EVERY:
		return i >= 1;
	}
	return false;
}

int
planner_command_expand(
        const char *tmpl, const char *color, const char *app, const char *version, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	FILE *f;

	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	for (const char *c = tmpl; *c; c++) {
		if (*c != '%') {
			fputc(*c, f);
			continue;
		}
		switch (*++c) {
		case 'c':
			fputs(color, f);
			break;
		case 'a':
			fputs(app, f);
			break;
		case 'v':
			fputs(version, f);
			break;
		case '%':
			fputc('%', f);
			break;
		default:
			fclose(f);
			return -EINVAL;
		}
	}
	if (fclose(f) != 0 || !buf)
		return -ENOMEM;
	*ret = TAKE_PTR(buf);
	return 0;
}

void
planner_count(struct plan *plan)
{
	plan->n_hosts = plan->n_down = plan->n_up_to_date = 0;
	for (size_t i = 0; i < plan->n_waves; i++)
		for (size_t j = 0; j < plan->waves[i].n_hosts; j++) {
			plan->n_hosts++;
			plan->n_down += plan->waves[i].hosts[j].down;
			plan->n_up_to_date += plan->waves[i].hosts[j].up_to_date;
		}
	plan->failures_allowed = gate_budget_allowed(&plan->params.failure_budget, plan->n_hosts);
	plan->rollback_parallelism =
	        deploy_amount_hosts(&plan->params.rollback_parallelism, plan->n_hosts);
	if (plan->rollback_parallelism == 0)
		plan->rollback_parallelism = 1;
}

int
planner_pointers(const struct plan_input *in, const struct plan_host ***ret)
{
	const struct plan_host **v = calloc(in->n_hosts ? in->n_hosts : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_hosts; i++)
		v[i] = &in->hosts[i];
	*ret = v;
	return 0;
}

int
planner_name_compare(const char *a, const char *b)
{
	const char *a0 = a, *b0 = b;

	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			size_t la = 0, lb = 0;
			int c;

			while (*a == '0')
				a++;
			while (*b == '0')
				b++;
			while (isdigit((unsigned char)a[la]))
				la++;
			while (isdigit((unsigned char)b[lb]))
				lb++;
			if (la != lb)
				return la < lb ? -1 : 1;
			c = memcmp(a, b, la);
			if (c != 0)
				return c < 0 ? -1 : 1;
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++, b++;
	}
	if (*a || *b)
		return *a ? 1 : -1;
	/* Equal but for leading zeros: "web01" and "web1" still differ. */
	return strcmp(a0, b0) < 0 ? -1 : strcmp(a0, b0) > 0;
}
