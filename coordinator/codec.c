/*
 * codec: the coordinator's conversions between stored facts (JSON columns)
 * and protobuf messages, the arena that owns a reply under construction,
 * and reply builders shared by the agent and admin sides.
 */
#include <jansson.h>
#include <stdarg.h>

#include "codec.h"
#include "envelope.h"

/* ---- JSON <-> protobuf for stored facts ---- */

char *
labels_to_json(Rollwave__Label **labels, size_t n)
{
	json_t *o = json_object();
	char *out;

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, labels[i]->key, json_string(labels[i]->value));
	out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return out;
}

char *
apps_to_json(Rollwave__AppStatus **apps, size_t n)
{
	json_t *a = json_array();
	char *out;

	for (size_t i = 0; i < n; i++) {
		json_t *rel = json_array();

		for (size_t j = 0; j < apps[i]->n_releases; j++)
			json_array_append_new(rel, json_string(apps[i]->releases[j]));
		json_array_append_new(a,
		        json_pack("{s:s, s:s, s:s, s:i, s:o}", "app", apps[i]->app, "current",
		                apps[i]->current, "previous", apps[i]->previous, "health",
		                (int)apps[i]->health, "releases", rel));
	}
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return out;
}

void *
arena_add(struct arena *a, void *ptr)
{
	if (!ptr)
		return NULL;
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 64;
		void **np = realloc(a->p, ncap * sizeof(void *));

		if (!np) {
			free(ptr);
			return NULL;
		}
		a->p = np;
		a->cap = ncap;
	}
	a->p[a->n++] = ptr;
	return ptr;
}

void *
arena_alloc(struct arena *a, size_t size)
{
	return arena_add(a, calloc(1, size ? size : 1));
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_add(a, strdup(s ? s : ""));
}

void
arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
	*a = (struct arena) {0};
}

void
labels_from_json(struct arena *a, const char *text, Rollwave__Label ***ret, size_t *ret_n)
{
	json_t *o = json_loads(text ? text : "{}", 0, NULL), *v;
	const char *k;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!json_is_object(o)) {
		json_decref(o);
		return;
	}
	*ret = arena_alloc(a, json_object_size(o) * sizeof(Rollwave__Label *));
	json_object_foreach(o, k, v)
	{
		Rollwave__Label *l = arena_alloc(a, sizeof(*l));

		if (!*ret || !l || !json_is_string(v) || n >= WIRE_LABELS_MAX)
			break;
		rollwave__label__init(l);
		l->key = arena_strdup(a, k);
		l->value = arena_strdup(a, json_string_value(v));
		(*ret)[n++] = l;
	}
	*ret_n = n;
	json_decref(o);
}

void
apps_from_json(struct arena *a, const char *text, Rollwave__AppStatus ***ret, size_t *ret_n)
{
	json_t *arr = json_loads(text ? text : "[]", 0, NULL), *o;
	size_t i, n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!json_is_array(arr)) {
		json_decref(arr);
		return;
	}
	*ret = arena_alloc(a, json_array_size(arr) * sizeof(Rollwave__AppStatus *));
	json_array_foreach(arr, i, o)
	{
		Rollwave__AppStatus *st = arena_alloc(a, sizeof(*st));
		json_t *rel = json_object_get(o, "releases"), *r;
		size_t j;

		if (!*ret || !st || n >= WIRE_APPS_MAX)
			break;
		rollwave__app_status__init(st);
		st->app = arena_strdup(a, json_string_value(json_object_get(o, "app")));
		st->current = arena_strdup(a, json_string_value(json_object_get(o, "current")));
		st->previous = arena_strdup(a, json_string_value(json_object_get(o, "previous")));
		st->health = (Rollwave__Health)json_integer_value(json_object_get(o, "health"));
		st->releases = arena_alloc(a, json_array_size(rel) * sizeof(char *));
		json_array_foreach(rel, j, r)
		{
			if (st->releases && j < WIRE_RELEASES_MAX)
				st->releases[st->n_releases++] =
				        arena_strdup(a, json_string_value(r));
		}
		(*ret)[n++] = st;
	}
	*ret_n = n;
	json_decref(arr);
}

/* ---- replies ---- */

nng_msg *
msg_from_env(const Rollwave__Envelope *env)
{
	_cleanup_free_ void *buf = NULL;
	nng_msg *m = NULL;
	size_t len;

	if (wire_encode(env, &buf, &len) < 0)
		return NULL;
	if (nng_msg_alloc(&m, 0) != 0)
		return NULL;
	if (nng_msg_append(m, buf, len) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	return m;
}

nng_msg *
error_msgv(uint64_t msgid, Rollwave__Error__Code code, const char *fmt, va_list ap)
{
	_cleanup_free_ void *buf = NULL;
	char text[WIRE_TEXT_MAX];
	nng_msg *m = NULL;
	size_t len;

	vsnprintf(text, sizeof(text), fmt, ap);
	if (wire_error_encode(msgid, code, text, &buf, &len) < 0)
		return NULL;
	if (nng_msg_alloc(&m, 0) != 0)
		return NULL;
	if (nng_msg_append(m, buf, len) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	return m;
}

nng_msg *
error_msg(uint64_t msgid, Rollwave__Error__Code code, const char *fmt, ...)
{
	nng_msg *m;
	va_list ap;

	va_start(ap, fmt);
	m = error_msgv(msgid, code, fmt, ap);
	va_end(ap);
	return m;
}

void
env_init(Rollwave__Envelope *env, uint64_t msgid)
{
	rollwave__envelope__init(env);
	env->protocol_version = WIRE_PROTOCOL_VERSION;
	env->message_id = msgid;
}

static const char *const command_kinds[] = {
        [ROLLWAVE__COMMAND__KIND__DEPLOY] = "deploy",
        [ROLLWAVE__COMMAND__KIND__ROLLBACK] = "rollback",
        [ROLLWAVE__COMMAND__KIND__MIGRATE] = "migrate",
        [ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN] = "migrate_down",
        [ROLLWAVE__COMMAND__KIND__PREFLIGHT] = "preflight",
        [ROLLWAVE__COMMAND__KIND__CANCEL] = "cancel",
};

const char *
command_kind_to_string(Rollwave__Command__Kind k)
{
	return (size_t)k < ELEMENTSOF(command_kinds) && command_kinds[k] ? command_kinds[k]
	                                                                 : "unknown";
}

Rollwave__Command__Kind
command_kind_from_string(const char *s)
{
	for (size_t i = 0; s && i < ELEMENTSOF(command_kinds); i++)
		if (command_kinds[i] && streq(s, command_kinds[i]))
			return (Rollwave__Command__Kind)i;
	return ROLLWAVE__COMMAND__KIND__KIND_UNSPECIFIED;
}

/* Whether labels (JSON object) match selector "k=v,k2=v2" (every pair; "" matches all). */
bool
labels_match(const char *labels_json, const char *selector)
{
	json_t *o;
	bool ok = true;
	char buf[WIRE_TEXT_MAX + 1], *save = NULL;

	if (isempty(selector))
		return true;
	o = json_loads(labels_json ? labels_json : "{}", 0, NULL);
	strbuf_printf(buf, sizeof(buf), "%s", selector);
	for (char *t = strtok_r(buf, ",", &save); t && ok; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		const char *v;

		if (!eq) {
			ok = false;
			break;
		}
		*eq = 0;
		v = json_string_value(json_object_get(o, t));
		ok = v && streq(v, eq + 1);
	}
	json_decref(o);
	return ok;
}
