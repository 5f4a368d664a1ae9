/*
 * ring: one wave per ring, in ring order.
 *
 * Rings come from one of:
 *   RingLabel=KEY (default "ring"): the label's value is the ring's number,
 *     a non-negative integer; rings run in increasing number ("ring 0",
 *     "ring 1", ...; gaps are fine). A value that is not a number is an
 *     error naming the host. At least one host must have the label.
 *   Datacenters=dc1,dc2,...: ring i is the hosts with label datacenter=
 *     the i-th name ("ring 0 (dc1)", ...). Every listed datacenter must have
 *     at least one eligible host (a typo would otherwise skip it).
 * Hosts in no ring (no label, or a datacenter not listed) are an error that
 * names them (UnlabeledHosts=error, the default) or join the last ring
 * (UnlabeledHosts=last-ring).
 *
 * Each ring bakes for RingBake= of its number or datacenter (else Bake=)
 * and waits for approval before it starts if RingApproval= names it or
 * Approval= asks for it. RingBake= and RingApproval= naming a ring that has
 * no host are errors.
 */
#include "planner.h"
#include "strategy.h"

#include <inttypes.h>

#define RING_NONE UINT64_MAX

struct ring_slot {
	uint64_t ring; /* number, datacenter index, or RING_NONE */
	size_t index;  /* in planning order, to keep it within a ring */
};

static int
slot_compare(const void *a, const void *b)
{
	const struct ring_slot *x = a, *y = b;

	if (x->ring != y->ring)
		return x->ring < y->ring ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static bool
ring_number(const char *s, uint64_t *ret)
{
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return !isempty(s) && parse_uint64(s, ret) >= 0 && *ret < RING_NONE;
}

/* Every host's ring. */
static int
assign_rings(const struct deploy_params *p, const struct plan_input *in, struct ring_slot *slots,
        struct rw_err *err)
{
	bool dc = p->n_datacenters > 0;
	const char *key = dc ? "datacenter" : p->ring_label;

	for (size_t i = 0; i < in->n_hosts; i++) {
		const char *v = plan_host_label(&in->hosts[i], key);

		slots[i] = (struct ring_slot) {RING_NONE, i};
		if (!v)
			continue;
		if (dc) {
			for (size_t d = 0; d < p->n_datacenters; d++)
				if (streq(v, p->datacenters[d]))
					slots[i].ring = d;
		} else if (!ring_number(v, &slots[i].ring))
			return rw_err_set(err, -EINVAL,
			        "host '%s' has %s=%s; RingLabel=%s needs a ring number 0, 1, 2, "
			        "...",
			        in->hosts[i].name, key, v, key);
	}
	return 0;
}

static int
refuse_unlabeled(const struct deploy_params *p, const struct plan_input *in,
        const struct ring_slot *slots, size_t n_unlabeled, struct rw_err *err)
{
	char list[512] = "";
	size_t len = 0, shown = 0;

	for (size_t i = 0; i < in->n_hosts && shown < 8; i++) {
		if (slots[i].ring != RING_NONE)
			continue;
		strbuf_printf(list + len, sizeof(list) - len, "%s%s", shown ? ", " : "",
		        in->hosts[slots[i].index].name);
		len = strlen(list);
		shown++;
	}
	if (p->n_datacenters > 0)
		return rw_err_set(err, -EINVAL,
		        "%zu host%s in no listed datacenter (Datacenters= by label datacenter=): "
		        "%s%s; UnlabeledHosts=last-ring would put them in the last ring",
		        n_unlabeled, n_unlabeled == 1 ? " is" : "s are", list,
		        n_unlabeled > shown ? ", ..." : "");
	return rw_err_set(err, -EINVAL,
	        "%zu host%s no '%s' label: %s%s; UnlabeledHosts=last-ring would put them in the "
	        "last ring",
	        n_unlabeled, n_unlabeled == 1 ? " has" : "s have", p->ring_label, list,
	        n_unlabeled > shown ? ", ..." : "");
}

/* The name RingBake= and RingApproval= use for a ring. */
static void
ring_key(const struct deploy_params *p, uint64_t ring, char *buf, size_t size)
{
	if (p->n_datacenters > 0)
		strbuf_printf(buf, size, "%s", p->datacenters[ring]);
	else
		strbuf_printf(buf, size, "%" PRIu64, ring);
}

/* RingBake= and RingApproval= must name rings that exist. */
static int
check_ring_names(
        const struct deploy_params *p, const struct ring_slot *slots, size_t n, struct rw_err *err)
{
	for (size_t k = 0; k < p->n_ring_bake + p->n_ring_approval; k++) {
		bool bake = k < p->n_ring_bake;
		const char *name =
		        bake ? p->ring_bake[k].ring : p->ring_approval[k - p->n_ring_bake];
		uint64_t want;
		bool found = false;

		if (p->n_datacenters > 0)
			continue; /* validated against Datacenters=, which all have hosts */
		if (!ring_number(name, &want))
			return rw_err_set(err, -EINVAL, "%s= names ring '%s', not a ring number",
			        bake ? "RingBake" : "RingApproval", name);
		for (size_t i = 0; i < n && !found; i++)
			found = slots[i].ring == want;
		if (!found)
			return rw_err_set(err, -ENOENT,
			        "%s= names ring %s, which no eligible host is in",
			        bake ? "RingBake" : "RingApproval", name);
	}
	return 0;
}

static bool
ring_named(const struct deploy_params *p, uint64_t ring, const char *name)
{
	char key[DEPLOY_RING_MAX];
	uint64_t v;

	ring_key(p, ring, key, sizeof(key));
	if (p->n_datacenters > 0)
		return streq(key, name);
	/* "01" and "1" are the same ring. */
	return ring_number(name, &v) && v == ring;
}

static void
ring_gates(const struct deploy_params *p, uint64_t ring, struct plan_wave *w, size_t index)
{
	w->approval = planner_approval(p, index);
	for (size_t k = 0; k < p->n_ring_approval; k++)
		if (ring_named(p, ring, p->ring_approval[k]))
			w->approval = true;
	for (size_t k = 0; k < p->n_ring_bake; k++)
		if (ring_named(p, ring, p->ring_bake[k].ring))
			w->bake_usec = p->ring_bake[k].bake_usec;
}

static int
ring_plan(const struct deploy_params *p, const struct plan_input *in, struct plan *plan,
        struct rw_err *err)
{
	_cleanup_free_ struct ring_slot *slots = NULL;
	_cleanup_free_ const struct plan_host **hosts = NULL;
	size_t n = in->n_hosts, n_unlabeled = 0, labeled, index = 0;
	uint64_t last = 0;
	int r;

	slots = calloc(n, sizeof(*slots));
	hosts = calloc(n, sizeof(*hosts));
	if (!slots || !hosts)
		return -ENOMEM;
	r = assign_rings(p, in, slots, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (slots[i].ring == RING_NONE)
			n_unlabeled++;
		else if (slots[i].ring >= last)
			last = slots[i].ring;
	labeled = n - n_unlabeled;
	if (labeled == 0 && p->n_datacenters == 0)
		return rw_err_set(err, -ENOENT, "no eligible host has a '%s' label (RingLabel=)",
		        p->ring_label);
	for (size_t d = 0; d < p->n_datacenters; d++) {
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = slots[i].ring == d;
		if (!found)
			return rw_err_set(err, -ENOENT,
			        "Datacenters= lists '%s', which no eligible host is in",
			        p->datacenters[d]);
	}
	if (n_unlabeled > 0 && p->unlabeled == DEPLOY_UNLABELED_ERROR)
		return refuse_unlabeled(p, in, slots, n_unlabeled, err);
	r = check_ring_names(p, slots, n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (slots[i].ring == RING_NONE)
			slots[i].ring = last;

	qsort(slots, n, sizeof(*slots), slot_compare);
	for (size_t from = 0; from < n; index++) {
		uint64_t ring = slots[from].ring;
		char key[DEPLOY_RING_MAX];
		struct plan_wave *w;
		size_t to = from;

		while (to < n && slots[to].ring == ring) {
			hosts[to - from] = &in->hosts[slots[to].index];
			to++;
		}
		ring_key(p, ring, key, sizeof(key));
		if (p->n_datacenters > 0)
			r = planner_wave_add(
			        plan, p, PLAN_WAVE_DEPLOY, &w, "ring %" PRIu64 " (%s)", ring, key);
		else
			r = planner_wave_add(plan, p, PLAN_WAVE_DEPLOY, &w, "ring %" PRIu64, ring);
		if (r < 0)
			return r;
		ring_gates(p, ring, w, index);
		r = planner_wave_set_hosts(w, hosts, to - from, in->version, p, n);
		if (r < 0)
			return r;
		from = to;
	}
	return 0;
}

static int
ring_validate(const struct deploy_params *p, struct rw_err *err)
{
	uint64_t v;

	if ((p->set & (UINT64_C(1) << DEPLOY_KEY_RING_LABEL)) && p->n_datacenters > 0)
		return rw_err_set(
		        err, -EINVAL, "RingLabel= and Datacenters= both define the rings; set one");
	for (size_t k = 0; k < p->n_ring_bake + p->n_ring_approval; k++) {
		bool bake = k < p->n_ring_bake;
		const char *name =
		        bake ? p->ring_bake[k].ring : p->ring_approval[k - p->n_ring_bake];
		bool found = false;

		if (p->n_datacenters == 0) {
			if (!ring_number(name, &v))
				return rw_err_set(err, -EINVAL,
				        "%s= names ring '%s'; with RingLabel= rings are numbers",
				        bake ? "RingBake" : "RingApproval", name);
			continue;
		}
		for (size_t d = 0; d < p->n_datacenters && !found; d++)
			found = streq(p->datacenters[d], name);
		if (!found)
			return rw_err_set(err, -EINVAL,
			        "%s= names '%s', which Datacenters= does not list",
			        bake ? "RingBake" : "RingApproval", name);
	}
	return 0;
}

const struct strategy_ops strategy_ring = {
        .name = "ring",
        .summary = "one wave per ring, from label ring=N or an ordered Datacenters= list",
        .validate = ring_validate,
        .plan = ring_plan,
};
