/*
 * test_cli_format: what `rollwave hosts|host|apps|events` print, from
 * hand-built admin responses (tables byte for byte, JSON field by field),
 * the parsers of their options, and the admin client against a REAL nng rep
 * socket on ipc: a good answer, the coordinator's refusals, a reply to
 * another request, garbage, nobody listening, and a caller without the
 * socket's permissions (through the real `rollwave` binary).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "admin.h"
#include "admin_format.h"
#include "identity.h"
#include "wire.h"

#define T2026 1767225600000ull /* 2026-01-01T00:00:00Z in ms */

/* ---- a fleet of two hosts, two apps and two events, built by hand --------- */

struct fleet {
	uint8_t key[32];
	Rollwave__Label label_v[2], *labels[2];
	char *releases[2];
	Rollwave__AppStatus app_v[2], *apps[2];
	Rollwave__HostInfo host_v[2], *hosts[2];
	Rollwave__HostList host_list;
	Rollwave__AppSummary__VersionCount count_v[2], *counts[2];
	Rollwave__AppSummary summary_v[2], *summaries[2];
	Rollwave__AppList app_list;
	Rollwave__Event event_v[2], *events[2];
	Rollwave__EventList event_list;
};

static void
fleet_init(struct fleet *f)
{
	static const Rollwave__Label label_init = ROLLWAVE__LABEL__INIT;
	static const Rollwave__AppStatus app_init = ROLLWAVE__APP_STATUS__INIT;
	static const Rollwave__HostInfo host_init = ROLLWAVE__HOST_INFO__INIT;
	static const Rollwave__AppSummary__VersionCount count_init =
	        ROLLWAVE__APP_SUMMARY__VERSION_COUNT__INIT;
	static const Rollwave__AppSummary summary_init = ROLLWAVE__APP_SUMMARY__INIT;
	static const Rollwave__Event event_init = ROLLWAVE__EVENT__INIT;

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < 32; i++)
		f->key[i] = (uint8_t)i;
	for (size_t i = 0; i < 2; i++) {
		f->label_v[i] = label_init;
		f->labels[i] = &f->label_v[i];
		f->app_v[i] = app_init;
		f->apps[i] = &f->app_v[i];
		f->host_v[i] = host_init;
		f->hosts[i] = &f->host_v[i];
		f->count_v[i] = count_init;
		f->counts[i] = &f->count_v[i];
		f->summary_v[i] = summary_init;
		f->summaries[i] = &f->summary_v[i];
		f->event_v[i] = event_init;
		f->events[i] = &f->event_v[i];
	}
	f->label_v[0].key = "ring";
	f->label_v[0].value = "0";
	f->label_v[1].key = "dc";
	f->label_v[1].value = "fra";
	f->releases[0] = "1.4.2";
	f->releases[1] = "1.4.1";
	f->app_v[0].app = "web";
	f->app_v[0].current = "1.4.2";
	f->app_v[0].previous = "1.4.1";
	f->app_v[0].health = ROLLWAVE__HEALTH__HEALTH_HEALTHY;
	f->app_v[0].n_releases = 2;
	f->app_v[0].releases = f->releases;
	f->app_v[1].app = "api"; /* installed nothing yet */

	f->host_v[0].id = 1;
	f->host_v[0].hostname = "web1";
	f->host_v[0].state = ROLLWAVE__HOST_STATE__HOST_STATE_UP;
	f->host_v[0].last_seen_ms = T2026;
	f->host_v[0].n_labels = 2;
	f->host_v[0].labels = f->labels;
	f->host_v[0].agent_version = "0.1.0";
	f->host_v[0].n_apps = 2;
	f->host_v[0].apps = f->apps;
	f->host_v[0].host_key = (ProtobufCBinaryData) {32, f->key};
	f->host_v[1].id = 12;
	f->host_v[1].hostname = "db-long-name";
	f->host_v[1].state = ROLLWAVE__HOST_STATE__HOST_STATE_DOWN;
	f->host_v[1].host_key = (ProtobufCBinaryData) {32, f->key};
	f->host_list = (Rollwave__HostList)ROLLWAVE__HOST_LIST__INIT;
	f->host_list.n_hosts = 2;
	f->host_list.hosts = f->hosts;

	f->count_v[0].version = "1.4.2";
	f->count_v[0].hosts = 2;
	f->count_v[1].version = "1.4.1";
	f->count_v[1].hosts = 1;
	f->summary_v[0].app = "web";
	f->summary_v[0].hosts = 3;
	f->summary_v[0].n_versions = 2;
	f->summary_v[0].versions = f->counts;
	f->summary_v[1].app = "api";
	f->summary_v[1].hosts = 0;
	f->app_list = (Rollwave__AppList)ROLLWAVE__APP_LIST__INIT;
	f->app_list.n_apps = 2;
	f->app_list.apps = f->summaries;

	f->event_v[0].id = 7;
	f->event_v[0].at_ms = T2026;
	f->event_v[0].actor = "admin";
	f->event_v[0].action = "host.accept";
	f->event_v[0].target = "host 12";
	f->event_v[0].detail = "accepted";
	f->event_v[1].id = 8;
	f->event_v[1].at_ms = T2026 + 61000;
	f->event_v[1].actor = "coordinator";
	f->event_v[1].action = "host.down";
	f->event_v[1].target = "host 1";
	f->event_v[1].detail = "missed 3 heartbeats\n\tlast seen 15s ago";
	f->event_list = (Rollwave__EventList)ROLLWAVE__EVENT_LIST__INIT;
	f->event_list.n_events = 2;
	f->event_list.events = f->events;
}

/* What fn printed, as a malloc'd string. */
#define CAPTURE(call)                                                                              \
	({                                                                                         \
		char *buf_ = NULL;                                                                 \
		size_t len_ = 0;                                                                   \
		FILE *out = open_memstream(&buf_, &len_);                                          \
		assert_non_null(out);                                                              \
		assert_int_equal((call), 0);                                                       \
		assert_int_equal(fclose(out), 0);                                                  \
		buf_;                                                                              \
	})

static char *
json_compact(json_t *j)
{
	char *s;

	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	assert_non_null(s);
	return s;
}

/* ---- text ------------------------------------------------------------------ */

static void
test_relative_time_rounds_down_to_the_largest_unit(void **state)
{
	char buf[32];

	(void)state;
	admin_format_relative(0, T2026, buf, sizeof(buf));
	assert_string_equal(buf, "never");
	admin_format_relative(T2026 - 3999, T2026, buf, sizeof(buf));
	assert_string_equal(buf, "3s ago");
	admin_format_relative(T2026 - 59999, T2026, buf, sizeof(buf));
	assert_string_equal(buf, "59s ago");
	admin_format_relative(T2026 - 5 * 60000 - 1, T2026, buf, sizeof(buf));
	assert_string_equal(buf, "5m ago");
	admin_format_relative(T2026 - 2 * 3600000, T2026, buf, sizeof(buf));
	assert_string_equal(buf, "2h ago");
	admin_format_relative(T2026 - 4 * 86400000ull - 5, T2026, buf, sizeof(buf));
	assert_string_equal(buf, "4d ago");
	/* The coordinator's clock ahead of ours. */
	admin_format_relative(T2026 + 5000, T2026, buf, sizeof(buf));
	assert_string_equal(buf, "0s ago");
}

static void
test_hosts_table_aligns_columns_and_shows_apps_and_labels(void **state)
{
	_cleanup_free_ char *s = NULL;
	struct fleet f;

	(void)state;
	fleet_init(&f);
	s = CAPTURE(admin_format_hosts_table(&f.host_list, T2026 + 3000, out));
	assert_string_equal(s,
	        "ID  HOSTNAME      STATE  LAST SEEN  LABELS         APPS\n"
	        "1   web1          up     3s ago     ring=0,dc=fra  web=1.4.2(healthy) "
	        "api=-(unknown)\n"
	        "12  db-long-name  down   never      -              -\n");
}

static void
test_hosts_table_of_no_hosts_is_the_header(void **state)
{
	Rollwave__HostList empty = ROLLWAVE__HOST_LIST__INIT;
	_cleanup_free_ char *s = NULL;

	(void)state;
	s = CAPTURE(admin_format_hosts_table(&empty, T2026, out));
	assert_string_equal(s, "ID  HOSTNAME  STATE  LAST SEEN  LABELS  APPS\n");
}

static void
test_pending_table_shows_the_key_fingerprint_and_counts_utf8_characters(void **state)
{
	_cleanup_free_ char *s = NULL, *expect = NULL;
	char fp[IDENTITY_FINGERPRINT_SIZE];
	struct fleet f;

	(void)state;
	fleet_init(&f);
	f.host_v[0].hostname = "wéb1"; /* 4 characters, 5 bytes */
	f.host_v[0].state = ROLLWAVE__HOST_STATE__HOST_STATE_PENDING;
	f.host_v[0].last_seen_ms = T2026 - 120000;
	f.host_list.n_hosts = 1;
	identity_fingerprint(f.key, fp);
	assert_int_equal(strlen(fp), 24);
	assert_true(strncmp(fp, "ed25519:", 8) == 0);
	s = CAPTURE(admin_format_pending_table(&f.host_list, T2026, out));
	assert_true(asprintf(&expect,
	                    "ID  HOSTNAME  KEY                       LAST SEEN  LABELS\n"
	                    "1   wéb1      %s  2m ago     ring=0,dc=fra\n",
	                    fp) > 0);
	assert_string_equal(s, expect);
}

static void
test_host_details_show_every_field_and_an_app_table(void **state)
{
	_cleanup_free_ char *s = NULL, *expect = NULL;
	char fp[IDENTITY_FINGERPRINT_SIZE];
	struct fleet f;

	(void)state;
	fleet_init(&f);
	identity_fingerprint(f.key, fp);
	s = CAPTURE(admin_format_host_details(&f.host_v[0], T2026 + 3000, out));
	assert_true(asprintf(&expect,
	                    "ID:             1\n"
	                    "Hostname:       web1\n"
	                    "State:          up\n"
	                    "Last seen:      2026-01-01T00:00:00Z (3s ago)\n"
	                    "Key:            %s\n"
	                    "Host key:       "
	                    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
	                    "Agent version:  0.1.0\n"
	                    "Labels:         ring=0,dc=fra\n"
	                    "Apps:\n"
	                    "  APP  CURRENT  PREVIOUS  HEALTH   RELEASES\n"
	                    "  web  1.4.2    1.4.1     healthy  1.4.2, 1.4.1\n"
	                    "  api  -        -         unknown  -\n",
	                    fp) > 0);
	assert_string_equal(s, expect);
}

static void
test_host_details_of_a_host_never_seen(void **state)
{
	_cleanup_free_ char *s = NULL;
	struct fleet f;

	(void)state;
	fleet_init(&f);
	s = CAPTURE(admin_format_host_details(&f.host_v[1], T2026, out));
	assert_non_null(strstr(s, "Last seen:      never\n"));
	assert_non_null(strstr(s, "Agent version:  -\n"));
	assert_non_null(strstr(s, "Labels:         -\n"));
	assert_non_null(strstr(s, "Apps:           -\n"));
}

static void
test_apps_table_counts_hosts_per_version(void **state)
{
	_cleanup_free_ char *s = NULL;
	struct fleet f;

	(void)state;
	fleet_init(&f);
	s = CAPTURE(admin_format_apps_table(&f.app_list, out));
	assert_string_equal(s,
	        "APP  HOSTS  VERSIONS\n"
	        "web  3      1.4.2 (2), 1.4.1 (1)\n"
	        "api  0      -\n");
}

static void
test_events_table_puts_each_event_on_one_line(void **state)
{
	_cleanup_free_ char *s = NULL;
	struct fleet f;

	(void)state;
	fleet_init(&f);
	s = CAPTURE(admin_format_events_table(&f.event_list, out));
	assert_string_equal(s,
	        "TIME                  ACTOR        ACTION       TARGET   DETAIL\n"
	        "2026-01-01T00:00:00Z  admin        host.accept  host 12  accepted\n"
	        "2026-01-01T00:01:01Z  coordinator  host.down    host 1   missed 3 heartbeats  "
	        "last seen 15s ago\n");
}

/* ---- JSON ------------------------------------------------------------------ */

static void
test_hosts_json_has_stable_fields_and_null_for_absent_values(void **state)
{
	_cleanup_free_ char *s = NULL, *expect = NULL;
	char fp[IDENTITY_FINGERPRINT_SIZE];
	struct fleet f;

	(void)state;
	fleet_init(&f);
	identity_fingerprint(f.key, fp);
	s = json_compact(admin_format_hosts_json(&f.host_list));
	assert_true(asprintf(&expect,
	                    "{\"hosts\":["
	                    "{\"id\":1,\"hostname\":\"web1\",\"state\":\"up\","
	                    "\"last_seen\":\"2026-01-01T00:00:00Z\","
	                    "\"labels\":{\"ring\":\"0\",\"dc\":\"fra\"},"
	                    "\"agent_version\":\"0.1.0\","
	                    "\"host_key\":"
	                    "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\","
	                    "\"fingerprint\":\"%s\","
	                    "\"apps\":["
	                    "{\"app\":\"web\",\"current\":\"1.4.2\",\"previous\":\"1.4.1\","
	                    "\"health\":\"healthy\",\"releases\":[\"1.4.2\",\"1.4.1\"]},"
	                    "{\"app\":\"api\",\"current\":null,\"previous\":null,"
	                    "\"health\":\"unknown\",\"releases\":[]}]},"
	                    "{\"id\":12,\"hostname\":\"db-long-name\",\"state\":\"down\","
	                    "\"last_seen\":null,\"labels\":{},\"agent_version\":null,"
	                    "\"host_key\":"
	                    "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\","
	                    "\"fingerprint\":\"%s\",\"apps\":[]}]}",
	                    fp, fp) > 0);
	assert_string_equal(s, expect);
}

static void
test_host_json_is_the_host_object(void **state)
{
	_cleanup_free_ char *one = NULL, *list = NULL;
	struct fleet f;

	(void)state;
	fleet_init(&f);
	f.host_list.n_hosts = 1;
	one = json_compact(admin_format_host_json(&f.host_v[0]));
	list = json_compact(admin_format_hosts_json(&f.host_list));
	/* {"hosts":[ONE]} */
	assert_int_equal(strlen(list), strlen("{\"hosts\":[]}") + strlen(one));
	assert_non_null(strstr(list, one));
}

static void
test_apps_and_events_json(void **state)
{
	_cleanup_free_ char *apps = NULL, *events = NULL;
	struct fleet f;

	(void)state;
	fleet_init(&f);
	apps = json_compact(admin_format_apps_json(&f.app_list));
	assert_string_equal(apps,
	        "{\"apps\":["
	        "{\"app\":\"web\",\"hosts\":3,\"versions\":["
	        "{\"version\":\"1.4.2\",\"hosts\":2},{\"version\":\"1.4.1\",\"hosts\":1}]},"
	        "{\"app\":\"api\",\"hosts\":0,\"versions\":[]}]}");
	events = json_compact(admin_format_events_json(&f.event_list));
	assert_string_equal(events,
	        "{\"events\":["
	        "{\"id\":7,\"time\":\"2026-01-01T00:00:00Z\",\"at_ms\":1767225600000,"
	        "\"actor\":\"admin\",\"action\":\"host.accept\",\"target\":\"host 12\","
	        "\"detail\":\"accepted\"},"
	        "{\"id\":8,\"time\":\"2026-01-01T00:01:01Z\",\"at_ms\":1767225661000,"
	        "\"actor\":\"coordinator\",\"action\":\"host.down\",\"target\":\"host 1\","
	        "\"detail\":\"missed 3 heartbeats\\n\\tlast seen 15s ago\"}]}");
}

/* ---- option parsers -------------------------------------------------------- */

static void
test_selector_check_accepts_label_equalities_only(void **state)
{
	struct rw_err err = {""};
	char many[512] = "";

	(void)state;
	assert_int_equal(admin_selector_check("", &err), 0);
	assert_int_equal(admin_selector_check("ring=0", &err), 0);
	assert_int_equal(admin_selector_check("role=web,dc=fra,tier.x_y-z=", &err), 0);
	assert_int_equal(admin_selector_check("role", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'role' is not key=value"));
	assert_int_equal(admin_selector_check("=web", &err), -EINVAL);
	assert_int_equal(admin_selector_check("Role=web", &err), -EINVAL);
	assert_int_equal(admin_selector_check("role=web,", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "empty item"));
	assert_int_equal(admin_selector_check("role=web,,dc=fra", &err), -EINVAL);
	assert_int_equal(admin_selector_check("role=web,role=db", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'role' twice"));
	assert_int_equal(admin_selector_check("role=we\tb", &err), -EINVAL);
	for (int i = 0; i <= WIRE_LABELS_MAX; i++)
		strbuf_printf(many + strlen(many), sizeof(many) - strlen(many), "%sk%d=v",
		        i ? "," : "", i);
	assert_int_equal(admin_selector_check(many, &err), -EINVAL);
}

static void
test_since_takes_a_duration_or_a_utc_time(void **state)
{
	uint64_t ms = 1;

	(void)state;
	assert_int_equal(admin_since_parse("2h", T2026, &ms), 0);
	assert_int_equal(ms, T2026 - 2 * 3600000);
	assert_int_equal(admin_since_parse("90s", T2026, &ms), 0);
	assert_int_equal(ms, T2026 - 90000);
	assert_int_equal(admin_since_parse("2026-01-01T00:00:00Z", 5, &ms), 0);
	assert_int_equal(ms, T2026);
	/* Further back than the epoch: from the start. */
	assert_int_equal(admin_since_parse("100000d", T2026, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(admin_since_parse("", T2026, &ms), -EINVAL);
	assert_int_equal(admin_since_parse("-2h", T2026, &ms), -EINVAL);
	assert_int_equal(admin_since_parse("yesterday", T2026, &ms), -EINVAL);
	assert_int_equal(admin_since_parse("2026-01-01T00:00:00", T2026, &ms), -EINVAL);
}

static void
test_host_id_is_a_positive_integer(void **state)
{
	uint64_t id = 0;

	(void)state;
	assert_int_equal(admin_host_id_parse("42", &id), 0);
	assert_int_equal(id, 42);
	assert_int_equal(admin_host_id_parse("0", &id), -EINVAL);
	assert_int_equal(admin_host_id_parse("-1", &id), -EINVAL);
	assert_int_equal(admin_host_id_parse("4x", &id), -EINVAL);
	assert_int_equal(admin_host_id_parse("", &id), -EINVAL);
	assert_int_equal(admin_host_id_parse("18446744073709551615", &id), -EINVAL);
}

static void
test_target_comes_from_option_then_environment_then_default(void **state)
{
	struct admin_target t;
	struct rw_err err = {""};

	(void)state;
	unsetenv(ADMIN_ENV_URL);
	unsetenv(ADMIN_ENV_CA);
	assert_int_equal(admin_target_resolve(NULL, NULL, &t, &err), 0);
	assert_string_equal(t.url, "ipc:///run/rollwave/admin.sock");
	assert_false(t.tls);
	setenv(ADMIN_ENV_URL, "ipc:///tmp/env.sock", 1);
	assert_int_equal(admin_target_resolve(NULL, NULL, &t, &err), 0);
	assert_string_equal(t.url, "ipc:///tmp/env.sock");
	assert_int_equal(admin_target_resolve("ipc:///tmp/opt.sock", NULL, &t, &err), 0);
	assert_string_equal(t.url, "ipc:///tmp/opt.sock");

	/* tls+tcp:// needs a CA; the server name is the host part. */
	assert_int_equal(
	        admin_target_resolve("tls+tcp://coord.example:7401", NULL, &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--ca FILE or $ROLLWAVE_CA"));
	assert_int_equal(
	        admin_target_resolve("tls+tcp://coord.example:7401", "/ca.crt", &t, &err), 0);
	assert_true(t.tls);
	assert_string_equal(t.server_name, "coord.example");
	assert_string_equal(t.ca, "/ca.crt");
	setenv(ADMIN_ENV_CA, "/env-ca.crt", 1);
	assert_int_equal(admin_target_resolve("tls+tcp://[::1]:7401", NULL, &t, &err), 0);
	assert_string_equal(t.server_name, "::1");
	assert_string_equal(t.ca, "/env-ca.crt");

	assert_int_equal(admin_target_resolve("tls+tcp://coord.example", NULL, &t, &err), -EINVAL);
	assert_int_equal(admin_target_resolve("tls+tcp://:7401", NULL, &t, &err), -EINVAL);
	assert_int_equal(admin_target_resolve("tls+tcp://h:99999", NULL, &t, &err), -EINVAL);
	assert_int_equal(admin_target_resolve("tcp://127.0.0.1:7401", NULL, &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "plain tcp://"));
	assert_int_equal(admin_target_resolve("ipc://", NULL, &t, &err), -EINVAL);
	assert_int_equal(admin_target_resolve("http://x", NULL, &t, &err), -EINVAL);
	unsetenv(ADMIN_ENV_URL);
	unsetenv(ADMIN_ENV_CA);
}

/* ---- the admin client against a real rep socket ---------------------------- */

enum reply_mode {
	REPLY_HOST_LIST,
	REPLY_ENVELOPE_ERROR,
	REPLY_ADMIN_ERROR,
	REPLY_OTHER_MESSAGE_ID,
	REPLY_WRONG_KIND,
	REPLY_GARBAGE,
};

struct server {
	char dir[64], url[128];
	nng_socket s;
	pthread_t thread;
	enum reply_mode mode;
	/* What the server saw. */
	Rollwave__AdminRequest__RequestCase got;
	char selector[64];
	int rv;
};

static void
server_reply(struct server *sv, uint64_t id)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__Error error = ROLLWAVE__ERROR__INIT;
	Rollwave__Ack ack = ROLLWAVE__ACK__INIT;
	struct fleet f;
	void *buf = NULL;
	size_t len = 0;

	fleet_init(&f);
	env.protocol_version = WIRE_PROTOCOL_VERSION;
	env.message_id = id;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE;
	env.admin_response = &resp;
	resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST;
	resp.host_list = &f.host_list;
	switch (sv->mode) {
	case REPLY_HOST_LIST:
		break;
	case REPLY_ENVELOPE_ERROR:
		sv->rv = wire_error_encode(
		        id, ROLLWAVE__ERROR__CODE__VERSION, "protocol version 1 only", &buf, &len);
		break;
	case REPLY_ADMIN_ERROR:
		error.code = ROLLWAVE__ERROR__CODE__INVALID;
		error.message = "no host 99";
		resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR;
		resp.error = &error;
		break;
	case REPLY_OTHER_MESSAGE_ID:
		env.message_id = id + 1;
		break;
	case REPLY_WRONG_KIND:
		resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK;
		resp.ack = &ack;
		break;
	case REPLY_GARBAGE:
		buf = strdup("\xff\xff\xff not protobuf");
		len = strlen(buf);
		break;
	}
	if (!buf && sv->rv == 0)
		sv->rv = wire_encode(&env, &buf, &len);
	if (sv->rv == 0)
		sv->rv = nng_send(sv->s, buf, len, 0);
	free(buf);
}

static void *
server_main(void *p)
{
	struct server *sv = p;
	_cleanup_wire_free_ Rollwave__Envelope *req = NULL;
	struct rw_err err = {""};
	char *buf = NULL;
	size_t len = 0;

	sv->rv = nng_recv(sv->s, &buf, &len, NNG_FLAG_ALLOC);
	if (sv->rv != 0)
		return NULL;
	sv->rv = wire_decode(buf, len, &req, &err);
	nng_free(buf, len);
	if (sv->rv < 0 || req->body_case != ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST) {
		sv->rv = -1;
		return NULL;
	}
	sv->got = req->admin_request->request_case;
	if (sv->got == ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS)
		strbuf_printf(sv->selector, sizeof(sv->selector), "%s",
		        req->admin_request->list_hosts->selector);
	server_reply(sv, req->message_id);
	return NULL;
}

static int
server_setup(void **state)
{
	struct server *sv = calloc(1, sizeof(*sv));

	assert_non_null(sv);
	strcpy(sv->dir, "/tmp/test_cli_format.XXXXXX");
	assert_non_null(mkdtemp(sv->dir));
	assert_true(xsnprintf(sv->url, sizeof(sv->url), "ipc://%s/admin.sock", sv->dir) > 0);
	assert_int_equal(nng_rep0_open(&sv->s), 0);
	assert_int_equal(nng_socket_set_size(sv->s, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE), 0);
	assert_int_equal(nng_socket_set_ms(sv->s, NNG_OPT_RECVTIMEO, 5000), 0);
	assert_int_equal(nng_listen(sv->s, sv->url, NULL, 0), 0);
	*state = sv;
	return 0;
}

static int
server_teardown(void **state)
{
	struct server *sv = *state;
	char path[128];

	nng_close(sv->s);
	strbuf_printf(path, sizeof(path), "%s/admin.sock", sv->dir);
	unlink(path);
	rmdir(sv->dir);
	free(sv);
	return 0;
}

/* admin_call() of a ListHosts with selector against the server in mode. */
static int
call_server(struct server *sv, enum reply_mode mode, Rollwave__Envelope **ret, struct rw_err *err)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__ListHosts list = ROLLWAVE__ADMIN_REQUEST__LIST_HOSTS__INIT;
	struct admin_target t;
	int r;

	sv->mode = mode;
	sv->rv = 0;
	assert_int_equal(admin_target_resolve(sv->url, NULL, &t, err), 0);
	list.selector = "ring=0";
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS;
	req.list_hosts = &list;
	assert_int_equal(pthread_create(&sv->thread, NULL, server_main, sv), 0);
	r = admin_call(&t, &req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST, ret, err);
	assert_int_equal(pthread_join(sv->thread, NULL), 0);
	assert_int_equal(sv->rv, 0);
	assert_int_equal(sv->got, ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS);
	assert_string_equal(sv->selector, "ring=0");
	return r;
}

static void
test_admin_call_returns_the_decoded_response(void **state)
{
	_cleanup_wire_free_ Rollwave__Envelope *reply = NULL;
	struct rw_err err = {""};

	assert_int_equal(call_server(*state, REPLY_HOST_LIST, &reply, &err), 0);
	assert_non_null(reply);
	assert_int_equal(reply->admin_response->host_list->n_hosts, 2);
	assert_string_equal(reply->admin_response->host_list->hosts[0]->hostname, "web1");
}

static void
test_admin_call_reports_the_coordinators_refusals(void **state)
{
	Rollwave__Envelope *reply = NULL;
	struct rw_err err = {""};

	assert_int_equal(call_server(*state, REPLY_ENVELOPE_ERROR, &reply, &err), -EREMOTEIO);
	assert_string_equal(err.msg,
	        "the coordinator refused the request (protocol version "
	        "mismatch): protocol version 1 only");
	assert_int_equal(call_server(*state, REPLY_ADMIN_ERROR, &reply, &err), -EREMOTEIO);
	assert_string_equal(err.msg, "no host 99");
	assert_null(reply);
}

static void
test_admin_call_refuses_replies_that_do_not_answer_the_request(void **state)
{
	Rollwave__Envelope *reply = NULL;
	struct rw_err err = {""};

	assert_int_equal(call_server(*state, REPLY_OTHER_MESSAGE_ID, &reply, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "answered another request"));
	assert_int_equal(call_server(*state, REPLY_WRONG_KIND, &reply, &err), -EPROTO);
	assert_int_equal(call_server(*state, REPLY_GARBAGE, &reply, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "reply cannot be read"));
	assert_null(reply);
}

static void
test_admin_call_refuses_an_invalid_request_before_sending(void **state)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__GetHost get = ROLLWAVE__ADMIN_REQUEST__GET_HOST__INIT;
	Rollwave__Envelope *reply = NULL;
	struct server *sv = *state;
	struct admin_target t;
	struct rw_err err = {""};

	assert_int_equal(admin_target_resolve(sv->url, NULL, &t, &err), 0);
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST;
	req.get_host = &get; /* host_id 0 */
	assert_int_equal(
	        admin_call(&t, &req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST, &reply, &err),
	        -EINVAL);
	assert_non_null(strstr(err.msg, "host_id"));
}

static void
test_admin_call_without_a_coordinator_says_where_it_looked(void **state)
{
	Rollwave__AdminRequest req = ROLLWAVE__ADMIN_REQUEST__INIT;
	Rollwave__AdminRequest__ListApps list = ROLLWAVE__ADMIN_REQUEST__LIST_APPS__INIT;
	Rollwave__Envelope *reply = NULL;
	struct admin_target t;
	struct rw_err err = {""};
	int r;

	(void)state;
	assert_int_equal(
	        admin_target_resolve("ipc:///tmp/test_cli_format.nobody.sock", NULL, &t, &err), 0);
	req.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_APPS;
	req.list_apps = &list;
	r = admin_call(&t, &req, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_APP_LIST, &reply, &err);
	assert_true(r == -ECONNREFUSED || r == -ENOENT);
	assert_non_null(strstr(err.msg,
	        "cannot reach the coordinator at "
	        "ipc:///tmp/test_cli_format.nobody.sock: "));
	assert_non_null(strstr(err.msg,
	        "(is rollwave-coordinator running? set --coordinator or "
	        "$ROLLWAVE_COORDINATOR)"));
}

/* A copy of the file src at dst with mode 0755. */
static void
copy_executable(const char *src, const char *dst)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	char buf[65536];
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
}

/* The real binary, as a user that may not open the socket: exit 1 and the
 * one line that says why. Root drops to nobody; others lose the mode bits.
 * nobody runs a copy in a directory it may enter: the build may be where it
 * may not (a clone under /root). */
static void
test_rollwave_without_socket_permission_says_only_admins(void **state)
{
	struct server *sv = *state;
	const char *built = ROLLWAVE_BINARY_DIR "/cli/rollwave";
	char out[1024] = "", path[128], bindir[64] = "/tmp/test_cli_format.bin.XXXXXX", bin[128];
	int pipefd[2], status;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (access(built, X_OK) < 0)
		skip();
	assert_non_null(mkdtemp(bindir));
	assert_int_equal(chmod(bindir, 0755), 0);
	strbuf_printf(bin, sizeof(bin), "%s/rollwave", bindir);
	copy_executable(built, bin);
	strbuf_printf(path, sizeof(path), "%s/admin.sock", sv->dir);
	if (getuid() != 0)
		assert_int_equal(chmod(path, 0), 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(99);
		execl(bin, "rollwave", "--coordinator", sv->url, "hosts", (char *)NULL);
		_exit(98);
	}
	close(pipefd[1]);
	while (len + 1 < sizeof(out) && (n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_int_equal(unlink(bin), 0);
	assert_int_equal(rmdir(bindir), 0);
	assert_non_null(strstr(out, "permission denied on "));
	assert_non_null(strstr(out, ": only admins may use the admin socket\n"));
}

/* ---- deployments (rollwave deploy, rollback) ------------------------------ */

struct deployment {
	Rollwave__DeployResult__HostResult host_v[3], *hosts[3];
	Rollwave__DeployResult result;
	Rollwave__HostInfo info_v[2], *infos[2];
	Rollwave__HostList names;
};

/* Host 3 (web1) committed, host 5 (web2) rolled back with a two-line error,
 * host 9 (no name known) still running, in health. */
static void
deployment_init(struct deployment *d)
{
	static const Rollwave__DeployResult__HostResult host_init =
	        ROLLWAVE__DEPLOY_RESULT__HOST_RESULT__INIT;
	static const Rollwave__HostInfo info_init = ROLLWAVE__HOST_INFO__INIT;

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < 3; i++) {
		d->host_v[i] = host_init;
		d->hosts[i] = &d->host_v[i];
		d->host_v[i].accepted = true;
	}
	d->host_v[0].host_id = 3;
	d->host_v[0].command_id = 17;
	d->host_v[0].state = "committed";
	d->host_v[0].phase = ROLLWAVE__PHASE__PHASE_COMMITTED;
	d->host_v[0].final = true;
	d->host_v[1].host_id = 5;
	d->host_v[1].command_id = 4;
	d->host_v[1].state = "rolled_back";
	d->host_v[1].phase = ROLLWAVE__PHASE__PHASE_ROLLED_BACK;
	d->host_v[1].error = "health: probe failed\n\texit status 1";
	d->host_v[1].final = true;
	d->host_v[2].host_id = 9;
	d->host_v[2].command_id = 2;
	d->host_v[2].state = "running";
	d->host_v[2].phase = ROLLWAVE__PHASE__PHASE_HEALTH;
	d->result = (Rollwave__DeployResult)ROLLWAVE__DEPLOY_RESULT__INIT;
	d->result.deployment_id = 4;
	d->result.n_hosts = 3;
	d->result.hosts = d->hosts;
	for (size_t i = 0; i < 2; i++) {
		d->info_v[i] = info_init;
		d->infos[i] = &d->info_v[i];
	}
	d->info_v[0].id = 3;
	d->info_v[0].hostname = "web1";
	d->info_v[1].id = 5;
	d->info_v[1].hostname = "web2";
	d->names = (Rollwave__HostList)ROLLWAVE__HOST_LIST__INIT;
	d->names.n_hosts = 2;
	d->names.hosts = d->infos;
}

static void
test_phase_names_match_the_task_states(void **state)
{
	(void)state;
	assert_null(admin_format_phase(ROLLWAVE__PHASE__PHASE_UNKNOWN));
	assert_string_equal(admin_format_phase(ROLLWAVE__PHASE__PHASE_FETCHING), "fetching");
	assert_string_equal(admin_format_phase(ROLLWAVE__PHASE__PHASE_VERIFYING), "verifying");
	assert_string_equal(admin_format_phase(ROLLWAVE__PHASE__PHASE_UNPACKING), "unpacking");
	assert_string_equal(admin_format_phase(ROLLWAVE__PHASE__PHASE_ACTIVATING), "activating");
	assert_string_equal(admin_format_phase(ROLLWAVE__PHASE__PHASE_RESTARTING), "restarting");
	assert_string_equal(admin_format_phase(ROLLWAVE__PHASE__PHASE_HEALTH), "health");
	assert_string_equal(admin_format_phase(ROLLWAVE__PHASE__PHASE_COMMITTED), "committed");
	assert_string_equal(admin_format_phase(ROLLWAVE__PHASE__PHASE_ROLLED_BACK), "rolled_back");
	assert_string_equal(admin_format_phase(ROLLWAVE__PHASE__PHASE_FAILED), "failed");
	assert_null(admin_format_phase((Rollwave__Phase)42));
}

static void
test_host_ids_are_positive_distinct_and_at_most_10000(void **state)
{
	_cleanup_free_ uint64_t *ids = NULL;
	_cleanup_free_ char *many = NULL;
	struct rw_err err = {""};
	size_t n = 0, len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(admin_host_ids_parse("3,5,12", &ids, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[1], 5);
	assert_int_equal(ids[2], 12);
	free(TAKE_PTR(ids));
	assert_int_equal(admin_host_ids_parse("7", &ids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 7);
	free(TAKE_PTR(ids));

	assert_int_equal(admin_host_ids_parse("", &ids, &n, &err), -EINVAL);
	assert_int_equal(admin_host_ids_parse("1,,2", &ids, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "empty item"));
	assert_int_equal(admin_host_ids_parse("1,", &ids, &n, &err), -EINVAL);
	assert_int_equal(admin_host_ids_parse("1,0", &ids, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "invalid host id '0' (a positive integer)");
	assert_int_equal(admin_host_ids_parse("-1", &ids, &n, &err), -EINVAL);
	assert_int_equal(admin_host_ids_parse("1, 2", &ids, &n, &err), -EINVAL);
	assert_int_equal(admin_host_ids_parse("web1", &ids, &n, &err), -EINVAL);
	assert_int_equal(admin_host_ids_parse("99999999999999999999999", &ids, &n, &err), -EINVAL);
	assert_int_equal(admin_host_ids_parse("4,9,4", &ids, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "host 4 listed twice");
	assert_null(ids);

	f = open_memstream(&many, &len);
	assert_non_null(f);
	for (int i = 1; i <= 10000; i++)
		fprintf(f, "%s%d", i > 1 ? "," : "", i);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(admin_host_ids_parse(many, &ids, &n, &err), 0);
	assert_int_equal(n, 10000);
	assert_int_equal(ids[9999], 10000);
	free(TAKE_PTR(ids));
	many = realloc(many, len + 8);
	assert_non_null(many);
	strcat(many, ",10001");
	assert_int_equal(admin_host_ids_parse(many, &ids, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "more than 10000 hosts in one deployment");
	assert_null(ids);
}

static void
test_host_name_is_looked_up_by_id(void **state)
{
	struct deployment d;

	(void)state;
	deployment_init(&d);
	assert_string_equal(admin_format_host_name(&d.names, 3), "web1");
	assert_string_equal(admin_format_host_name(&d.names, 5), "web2");
	assert_null(admin_format_host_name(&d.names, 4));
	assert_null(admin_format_host_name(&d.names, 9));
	assert_null(admin_format_host_name(NULL, 3));
}

static void
test_progress_lines_name_the_host_and_its_state_or_phase(void **state)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *q = NULL, *s = NULL;
	struct deployment d;

	(void)state;
	deployment_init(&d);
	a = CAPTURE(admin_format_deploy_progress(d.hosts[0], &d.names, out));
	assert_string_equal(a, "host 3 (web1): committed\n");
	b = CAPTURE(admin_format_deploy_progress(d.hosts[1], &d.names, out));
	assert_string_equal(b, "host 5 (web2): rolled_back: health: probe failed  exit status 1\n");
	c = CAPTURE(admin_format_deploy_progress(d.hosts[2], &d.names, out));
	assert_string_equal(c, "host 9: health\n");

	/* Before any phase: the state. */
	d.host_v[2].state = "queued";
	d.host_v[2].phase = ROLLWAVE__PHASE__PHASE_UNKNOWN;
	q = CAPTURE(admin_format_deploy_progress(d.hosts[2], NULL, out));
	assert_string_equal(q, "host 9: queued\n");
	/* A refusal is final without a phase, with the agent's reason. */
	d.host_v[2].state = "refused";
	d.host_v[2].final = true;
	d.host_v[2].error = "busy";
	assert_string_equal(admin_format_task_status(d.hosts[2]), "refused");
	s = CAPTURE(admin_format_deploy_progress(d.hosts[2], &d.names, out));
	assert_string_equal(s, "host 9: refused: busy\n");
}

static void
test_deployment_succeeds_only_when_every_host_committed(void **state)
{
	struct deployment d;

	(void)state;
	deployment_init(&d);
	assert_false(admin_deploy_all_final(&d.result, 3));
	assert_false(admin_deploy_succeeded(&d.result, 3));
	d.host_v[2].final = true;
	d.host_v[2].state = "committed";
	assert_true(admin_deploy_all_final(&d.result, 3));
	assert_false(admin_deploy_succeeded(&d.result, 3)); /* host 5 rolled back */
	d.host_v[1].state = "committed";
	assert_true(admin_deploy_succeeded(&d.result, 3));
	/* A host missing from the answer is not a success. */
	assert_false(admin_deploy_all_final(&d.result, 4));
	assert_false(admin_deploy_succeeded(&d.result, 4));
	/* Committed but not final yet (the coordinator's word is final). */
	d.host_v[0].final = false;
	assert_false(admin_deploy_succeeded(&d.result, 3));
}

static void
test_deployment_summary_counts_hosts_by_state(void **state)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
	struct deployment d;

	(void)state;
	deployment_init(&d);
	a = CAPTURE(admin_format_deploy_summary(&d.result, 3, false, out));
	assert_string_equal(a, "Deployment 4: 1 of 3 hosts committed; 1 rolled_back, 1 running.\n");
	b = CAPTURE(admin_format_deploy_summary(&d.result, 4, true, out));
	assert_string_equal(b,
	        "Deployment 4: 1 of 4 hosts committed; 1 rolled_back, 1 running; 1 not "
	        "reported; timed out.\n");
	d.result.n_hosts = 1;
	c = CAPTURE(admin_format_deploy_summary(&d.result, 1, false, out));
	assert_string_equal(c, "Deployment 4: 1 of 1 host committed.\n");
}

static void
test_deployment_table_shows_each_hosts_state_and_error(void **state)
{
	_cleanup_free_ char *s = NULL;
	struct deployment d;

	(void)state;
	deployment_init(&d);
	s = CAPTURE(admin_format_deploy_table(&d.result, &d.names, out));
	assert_string_equal(s,
	        "HOST      STATE        ERROR\n"
	        "3 (web1)  committed    -\n"
	        "5 (web2)  rolled_back  health: probe failed  exit status 1\n"
	        "9         running      -\n");
}

static void
test_deployment_json_has_stable_fields(void **state)
{
	_cleanup_free_ char *s = NULL, *r = NULL;
	struct deployment d;

	(void)state;
	deployment_init(&d);
	d.host_v[2].state = "queued";
	d.host_v[2].phase = ROLLWAVE__PHASE__PHASE_UNKNOWN;
	s = json_compact(admin_format_deploy_json(&d.result, "web", "1.4.2", false));
	assert_string_equal(s,
	        "{\"deployment_id\":4,\"app\":\"web\",\"version\":\"1.4.2\",\"hosts\":["
	        "{\"host_id\":3,\"command_id\":17,\"state\":\"committed\","
	        "\"phase\":\"committed\",\"error\":null},"
	        "{\"host_id\":5,\"command_id\":4,\"state\":\"rolled_back\","
	        "\"phase\":\"rolled_back\","
	        "\"error\":\"health: probe failed\\n\\texit status 1\"},"
	        "{\"host_id\":9,\"command_id\":2,\"state\":\"queued\",\"phase\":null,"
	        "\"error\":null}],"
	        "\"succeeded\":false}");
	/* A rollback to each host's previous release has no version. */
	d.result.n_hosts = 1;
	r = json_compact(admin_format_deploy_json(&d.result, "web", NULL, true));
	assert_string_equal(r,
	        "{\"deployment_id\":4,\"app\":\"web\",\"version\":null,\"hosts\":["
	        "{\"host_id\":3,\"command_id\":17,\"state\":\"committed\","
	        "\"phase\":\"committed\",\"error\":null}],"
	        "\"succeeded\":true}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_relative_time_rounds_down_to_the_largest_unit),
	        cmocka_unit_test(test_hosts_table_aligns_columns_and_shows_apps_and_labels),
	        cmocka_unit_test(test_hosts_table_of_no_hosts_is_the_header),
	        cmocka_unit_test(
	                test_pending_table_shows_the_key_fingerprint_and_counts_utf8_characters),
	        cmocka_unit_test(test_host_details_show_every_field_and_an_app_table),
	        cmocka_unit_test(test_host_details_of_a_host_never_seen),
	        cmocka_unit_test(test_apps_table_counts_hosts_per_version),
	        cmocka_unit_test(test_events_table_puts_each_event_on_one_line),
	        cmocka_unit_test(test_hosts_json_has_stable_fields_and_null_for_absent_values),
	        cmocka_unit_test(test_host_json_is_the_host_object),
	        cmocka_unit_test(test_apps_and_events_json),
	        cmocka_unit_test(test_selector_check_accepts_label_equalities_only),
	        cmocka_unit_test(test_since_takes_a_duration_or_a_utc_time),
	        cmocka_unit_test(test_host_id_is_a_positive_integer),
	        cmocka_unit_test(test_target_comes_from_option_then_environment_then_default),
	        cmocka_unit_test(test_phase_names_match_the_task_states),
	        cmocka_unit_test(test_host_ids_are_positive_distinct_and_at_most_10000),
	        cmocka_unit_test(test_host_name_is_looked_up_by_id),
	        cmocka_unit_test(test_progress_lines_name_the_host_and_its_state_or_phase),
	        cmocka_unit_test(test_deployment_succeeds_only_when_every_host_committed),
	        cmocka_unit_test(test_deployment_summary_counts_hosts_by_state),
	        cmocka_unit_test(test_deployment_table_shows_each_hosts_state_and_error),
	        cmocka_unit_test(test_deployment_json_has_stable_fields),
	        cmocka_unit_test_setup_teardown(test_admin_call_returns_the_decoded_response,
	                server_setup, server_teardown),
	        cmocka_unit_test_setup_teardown(test_admin_call_reports_the_coordinators_refusals,
	                server_setup, server_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_admin_call_refuses_replies_that_do_not_answer_the_request,
	                server_setup, server_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_admin_call_refuses_an_invalid_request_before_sending, server_setup,
	                server_teardown),
	        cmocka_unit_test(test_admin_call_without_a_coordinator_says_where_it_looked),
	        cmocka_unit_test_setup_teardown(
	                test_rollwave_without_socket_permission_says_only_admins, server_setup,
	                server_teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
