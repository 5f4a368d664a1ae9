/*
 * plan: freeing plans and reading host labels. See plan.h.
 */
#include "plan.h"

static void
targets_free(struct plan_target *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].name);
		free(t[i].rollback_to);
	}
	free(t);
}

void
plan_free(struct plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_waves; i++) {
		free(p->waves[i].name);
		free(p->waves[i].command);
		targets_free(p->waves[i].hosts, p->waves[i].n_hosts);
	}
	free(p->waves);
	targets_free(p->kept, p->n_kept);
	free(p->app);
	free(p->version);
	plan_free(p->rollback);
	free(p);
}

const char *
plan_wave_kind_to_string(enum plan_wave_kind k)
{
	switch (k) {
	case PLAN_WAVE_DEPLOY:
		return "deploy";
	case PLAN_WAVE_SWITCH:
		return "switch";
	case PLAN_WAVE_ROLLBACK:
		return "rollback";
	}
	return "?";
}

const char *
plan_host_label(const struct plan_host *h, const char *key)
{
	size_t kl = strlen(key);

	if (!h->labels)
		return NULL;
	for (char *const *l = h->labels; *l; l++)
		if (strncmp(*l, key, kl) == 0 && (*l)[kl] == '=')
			return *l + kl + 1;
	return NULL;
}
