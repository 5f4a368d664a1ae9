/*
 * test_cli_format: what `rollwave hosts|host|apps|events` print, from
 * hand-built admin responses (tables byte for byte, JSON field by field),
 * the parsers of their options, and the admin client against a REAL nng rep
 * socket on ipc: a good answer, the coordinator's refusals, a reply to
 * another request, garbage, nobody listening, and a caller without the
 * socket's permissions (through the real `rollwave` binary).
 *
 * Deployments through waves: what plan, status, watch and history print,
 * from hand-built DeploymentStatus messages, and the real `rollwave`
 * binary against a fake coordinator (a rep socket answering
 * CreateDeployment and GetDeploymentStatus) for what only the verbs do:
 * the deployment file's every spelling, and the exit codes of watch and
 * deploy --wait.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* A --hosts deploy says at once which of its hosts are down. */
static void
test_down_hosts_are_named_from_the_host_list(void **state)
{
	const uint64_t ids[] = {9, 5, 3};
	struct deployment d;
	char buf[128], tiny[12];

	(void)state;
	deployment_init(&d);
	d.info_v[0].state = ROLLWAVE__HOST_STATE__HOST_STATE_DOWN;
	d.info_v[1].state = ROLLWAVE__HOST_STATE__HOST_STATE_UP;
	/* Host 9 is not in the list: not counted. */
	assert_int_equal(admin_format_down_hosts(&d.names, ids, 3, 10, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "host 3 (web1)");
	d.info_v[1].state = ROLLWAVE__HOST_STATE__HOST_STATE_DOWN;
	assert_int_equal(admin_format_down_hosts(&d.names, ids, 3, 10, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "host 5 (web2), host 3 (web1)");
	assert_int_equal(admin_format_down_hosts(&d.names, ids, 3, 1, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "host 5 (web2) and 1 more");
	assert_int_equal(admin_format_down_hosts(&d.names, ids, 3, 10, tiny, sizeof(tiny)), 2);
	assert_string_equal(tiny, "host 5 (...");
	d.info_v[0].state = ROLLWAVE__HOST_STATE__HOST_STATE_UP;
	d.info_v[1].state = ROLLWAVE__HOST_STATE__HOST_STATE_PENDING;
	assert_int_equal(admin_format_down_hosts(&d.names, ids, 3, 10, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(admin_format_down_hosts(NULL, ids, 3, 10, buf, sizeof(buf)), 0);
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

/* ---- deployments through waves (plan, status, watch, history) -------------- */

#define WAVES_HOSTS 19

/* Wave 1 'canary': web1 committed. Wave 2 'batch 2' (15 hosts, too many to
 * list): web2-web5 committed, web6 activating, web7 in health, web8 failed
 * with a two-line error, web9 queued, web10-web16 waiting. Wave 3 'rest':
 * web17 up to date, web18 waiting, web19 waiting and down. */
struct waves {
	char names[WAVES_HOSTS][16];
	Rollwave__DeploymentStatus__Host host_v[WAVES_HOSTS], *hosts[WAVES_HOSTS];
	Rollwave__DeploymentStatus__Wave wave_v[3], *waves[3];
	Rollwave__DeploymentStatus st;
};

static void
waves_init(struct waves *w)
{
	static const Rollwave__DeploymentStatus__Host host_init =
	        ROLLWAVE__DEPLOYMENT_STATUS__HOST__INIT;
	static const Rollwave__DeploymentStatus__Wave wave_init =
	        ROLLWAVE__DEPLOYMENT_STATUS__WAVE__INIT;
	static const char *const wave_names[] = {"canary", "batch 2", "rest"};
	static const size_t wave_first[] = {0, 1, 16, WAVES_HOSTS};

	memset(w, 0, sizeof(*w));
	for (size_t i = 0; i < WAVES_HOSTS; i++) {
		strbuf_printf(w->names[i], sizeof(w->names[i]), "web%zu", i + 1);
		w->host_v[i] = host_init;
		w->host_v[i].host_id = i + 1;
		w->host_v[i].hostname = w->names[i];
		w->hosts[i] = &w->host_v[i];
	}
	for (size_t i = 0; i < 5; i++)
		w->host_v[i].task = "committed";
	w->host_v[5].task = "running";
	w->host_v[5].phase = ROLLWAVE__PHASE__PHASE_ACTIVATING;
	w->host_v[6].task = "running";
	w->host_v[6].phase = ROLLWAVE__PHASE__PHASE_HEALTH;
	w->host_v[7].task = "failed";
	w->host_v[7].phase = ROLLWAVE__PHASE__PHASE_HEALTH;
	w->host_v[7].error = "health: probe failed\nexit status 1";
	w->host_v[8].task = "queued";
	w->host_v[16].up_to_date = true;
	w->host_v[18].down = true;
	for (size_t i = 0; i < 3; i++) {
		w->wave_v[i] = wave_init;
		w->wave_v[i].name = (char *)wave_names[i];
		w->wave_v[i].kind = "deploy";
		w->wave_v[i].state = i == 0 ? "done" : i == 1 ? "deploying" : "waiting";
		w->wave_v[i].hosts = &w->hosts[wave_first[i]];
		w->wave_v[i].n_hosts = wave_first[i + 1] - wave_first[i];
		w->wave_v[i].max_unavailable = i == 1 ? 5 : 1;
		w->wave_v[i].timeout_ms = 1800000;
		w->wave_v[i].min_healthy_ms = 30000;
		w->waves[i] = &w->wave_v[i];
	}
	w->wave_v[0].bake_ms = 300000;
	w->wave_v[1].approval = true;
	w->wave_v[1].metric_gates = w->wave_v[2].metric_gates = true;
	w->st = (Rollwave__DeploymentStatus)ROLLWAVE__DEPLOYMENT_STATUS__INIT;
	w->st.deployment_id = 7;
	w->st.app = "web";
	w->st.version = "1.4.2";
	w->st.strategy = "rolling";
	w->st.state = "running";
	w->st.wave = 1;
	w->st.step = "deploying";
	w->st.actor = "admin:root";
	w->st.created_ms = T2026;
	w->st.failures_allowed = 1;
	w->st.failed = 1;
	w->st.n_waves = 3;
	w->st.waves = w->waves;
}

static size_t
lines_of(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void
test_wave_host_status_is_the_phase_while_in_flight(void **state)
{
	struct waves w;

	(void)state;
	waves_init(&w);
	assert_string_equal(admin_format_wave_host_status(w.hosts[0]), "committed");
	assert_string_equal(admin_format_wave_host_status(w.hosts[5]), "activating");
	assert_string_equal(admin_format_wave_host_status(w.hosts[6]), "health");
	/* Final: the task, whatever phase it reached. */
	assert_string_equal(admin_format_wave_host_status(w.hosts[7]), "failed");
	/* No phase reported yet: the task. */
	assert_string_equal(admin_format_wave_host_status(w.hosts[8]), "queued");
	assert_string_equal(admin_format_wave_host_status(w.hosts[9]), "waiting");
	assert_string_equal(admin_format_wave_host_status(w.hosts[16]), "up-to-date");
	assert_true(admin_deployment_is_final("rolled_back"));
	assert_true(admin_deployment_is_final("aborted"));
	assert_false(admin_deployment_is_final("paused"));
}

static void
test_status_lists_small_waves_and_the_hosts_not_done_of_large_ones(void **state)
{
	const struct admin_waves_view v = {0};
	_cleanup_free_ char *s = NULL;
	struct waves w;

	(void)state;
	waves_init(&w);
	s = CAPTURE(admin_format_waves_status(&w.st, &v, out));
	assert_string_equal(s,
	        "Deployment 7: web 1.4.2 (rolling) is running, wave 2/3 'batch 2': deploying\n"
	        "  started 2026-01-01T00:00:00Z by admin:root\n"
	        "  failure budget: 1 failed, 1 allowed\n"
	        "Waves:\n"
	        "   1 canary             done       1/1 done, 0 failed; max 1 at once, healthy "
	        "30s within 1800s; bake 300s\n"
	        "       hosts: web1(1)=committed\n"
	        "   2 batch 2            deploying  4/15 done, 1 failed; max 5 at once, healthy "
	        "30s within 1800s; no bake approval metric-gates\n"
	        "       web6(6)=activating\n"
	        "       web7(7)=health\n"
	        "       web8(8)=failed: health: probe failed exit status 1\n"
	        "       web9(9)=queued\n"
	        "       4 done, 3 in flight, 1 failed, 7 waiting\n"
	        "   3 rest               waiting    1/3 done, 0 failed; max 1 at once, healthy "
	        "30s within 1800s; no bake metric-gates\n"
	        "       hosts: web17(17)=up-to-date web18(18) web19(19)[down]\n");
}

/* A failed host's hook output follows the waves in a status, not on a
 * redrawn screen. */
static void
test_status_shows_the_hook_output_of_failed_hosts(void **state)
{
	_cleanup_free_ char *s = NULL, *live = NULL;
	struct waves w;

	(void)state;
	waves_init(&w);
	w.hosts[7]->hook_output = (char *)"migrating table users\nERROR: lock timeout\n";
	s = CAPTURE(admin_format_waves_status(&w.st, &(struct admin_waves_view) {0}, out));
	assert_non_null(strstr(s,
	        "\nHook output of failed hosts (its end):\n"
	        "  host 8 (web8):\n"
	        "    | migrating table users\n"
	        "    | ERROR: lock timeout\n"));
	live = CAPTURE(
	        admin_format_waves_status(&w.st, &(struct admin_waves_view) {.bars = true}, out));
	assert_null(strstr(live, "Hook output"));
}

static void
test_plan_lists_every_host_of_every_wave(void **state)
{
	const struct admin_waves_view v = {.every_host = true};
	_cleanup_free_ char *s = NULL;
	Rollwave__DeploymentStatus__Host *many[200];
	Rollwave__DeploymentStatus__Host big[200];
	char names[200][24];
	struct waves w;
	const char *line;

	(void)state;
	waves_init(&w);
	w.st.deployment_id = 0;
	w.st.state = "planned";
	/* Wave 2 of a plan: 200 hosts with long names, none with a task. */
	for (size_t i = 0; i < 200; i++) {
		big[i] = *w.hosts[9];
		big[i].host_id = 100 + i;
		strbuf_printf(names[i], sizeof(names[i]), "backend-%03zu", i);
		big[i].hostname = names[i];
		many[i] = &big[i];
	}
	w.wave_v[1].hosts = many;
	w.wave_v[1].n_hosts = 200;
	s = CAPTURE(admin_format_waves_status(&w.st, &v, out));
	assert_true(strncmp(s, "Plan: web 1.4.2 (rolling), 3 wave(s)\n", 37) == 0);
	for (size_t i = 0; i < 200; i++) {
		char item[48];

		strbuf_printf(item, sizeof(item), " backend-%03zu(%zu)", i, 100 + i);
		assert_non_null(strstr(s, item));
	}
	assert_non_null(strstr(s, " web1(1)=committed"));
	assert_non_null(strstr(s, " web19(19)[down]\n"));
	assert_null(strstr(s, "not shown"));
	/* Wrapped: no line longer than 100 columns, continuation lines
	 * indented under the first host. */
	for (line = s; *line; line = strchr(line, '\n') + 1)
		assert_true(strchrnul(line, '\n') - line <= 100 ||
		        strncmp(line, "   ", 3) == 0 /* a wave's own line */);
	assert_non_null(strstr(s, "\n              backend-"));
}

static void
test_watch_screen_fits_the_terminal_and_counts_the_hosts_it_cuts(void **state)
{
	struct admin_waves_view v = {.bars = true};
	_cleanup_free_ char *full = NULL, *cut = NULL, *none = NULL;
	struct waves w;
	size_t n;

	(void)state;
	waves_init(&w);
	full = CAPTURE(admin_format_waves_status(&w.st, &v, out));
	assert_non_null(strstr(full,
	        "   2 batch 2            deploying  [#####x..............] 4/15 done, 1 failed;"));
	assert_non_null(strstr(full, "       web6(6)=activating\n"));
	n = lines_of(full);
	/* Two lines short: the last two hosts not done give way. */
	v.rows = n - 2;
	cut = CAPTURE(admin_format_waves_status(&w.st, &v, out));
	assert_int_equal(lines_of(cut), n - 2);
	assert_non_null(strstr(cut, "       web7(7)=health\n"));
	assert_null(strstr(cut, "web8(8)"));
	assert_non_null(
	        strstr(cut, "       4 done, 3 in flight, 1 failed, 7 waiting (2 not shown)\n"));
	/* A terminal too small for any: the counts remain. */
	v.rows = 3;
	none = CAPTURE(admin_format_waves_status(&w.st, &v, out));
	assert_null(strstr(none, "web6(6)"));
	assert_non_null(strstr(none, "(4 not shown)"));
}

static void
test_gates_section_shows_every_metric_gate_and_freeze_window(void **state)
{
	_cleanup_free_ char *s = NULL, *none = NULL, *plan = NULL;
	struct waves w;

	(void)state;
	waves_init(&w);
	w.st.params = "[Deployment]\n"
	              "Strategy=rolling\n"
	              "FailureBudget=10%\n"
	              "MinHealthy=30s\n"
	              "PrometheusURL=http://prom:9090\n"
	              "Freeze=Sat,Sun\n"
	              "Freeze=2026-12-24..2026-12-27\n"
	              "FreezePolicy=refuse\n"
	              "\n"
	              "[Rolling]\n"
	              "Batch=25%\n"
	              "\n"
	              "[Gate-errors]\n"
	              "Query=sum(rate(http_requests_total{code=~\"5..\"}[1m]))\n"
	              "Condition=max<0.01\n"
	              "MinSamples=3\n"
	              "NoData=hold\n"
	              "\n"
	              "[Gate-latency]\n"
	              "Query=histogram_quantile(0.99, rate(latency_bucket[5m]))\n"
	              "Condition=< 0.5\n"
	              "MinSamples=1\n"
	              "NoData=fail\n"
	              "OnError=fail\n"
	              "URL=http://other:9090\n";
	s = CAPTURE(admin_format_gates(&w.st, out));
	assert_string_equal(s,
	        "Gates:\n"
	        "  failure budget: FailureBudget=10%, 1 failed host allowed before a coordinated "
	        "rollback\n"
	        "  freeze windows (FreezePolicy=refuse):\n"
	        "    Sat,Sun\n"
	        "    2026-12-24..2026-12-27\n"
	        "  metric gate 'errors', checked after waves 2 and 3:\n"
	        "    Query=sum(rate(http_requests_total{code=~\"5..\"}[1m]))\n"
	        "    Condition=max<0.01\n"
	        "    MinSamples=3\n"
	        "    NoData=hold\n"
	        "    URL=http://prom:9090 (PrometheusURL=)\n"
	        "  metric gate 'latency', checked after waves 2 and 3:\n"
	        "    Query=histogram_quantile(0.99, rate(latency_bucket[5m]))\n"
	        "    Condition=< 0.5\n"
	        "    MinSamples=1\n"
	        "    NoData=fail\n"
	        "    OnError=fail\n"
	        "    URL=http://other:9090\n");
	/* The plan prints it after the waves. */
	w.st.deployment_id = 0;
	plan = CAPTURE(admin_format_waves_status(
	        &w.st, &(struct admin_waves_view) {.every_host = true, .gates = true}, out));
	assert_non_null(strstr(plan, "web19(19)[down]\nGates:\n  failure budget: "));
	/* Without gates or freezes, it says so. */
	w.st.params = "[Deployment]\nStrategy=all-at-once\nFailureBudget=0\n";
	w.st.failures_allowed = 0;
	none = CAPTURE(admin_format_gates(&w.st, out));
	assert_string_equal(none,
	        "Gates:\n"
	        "  failure budget: FailureBudget=0, 0 failed hosts allowed before a coordinated "
	        "rollback\n"
	        "  freeze windows: none\n"
	        "  metric gates: none\n");
}

static void
test_history_table_shows_who_started_each_deployment_and_when_it_finished(void **state)
{
	Rollwave__DeploymentStatus d[2], *dp[2] = {&d[0], &d[1]};
	Rollwave__DeploymentList l = ROLLWAVE__DEPLOYMENT_LIST__INIT;
	_cleanup_free_ char *s = NULL, *active = NULL;

	(void)state;
	for (size_t i = 0; i < 2; i++)
		d[i] = (Rollwave__DeploymentStatus)ROLLWAVE__DEPLOYMENT_STATUS__INIT;
	d[0].deployment_id = 12;
	d[0].app = "web";
	d[0].version = "1.4.2";
	d[0].strategy = "canary";
	d[0].state = "running";
	d[0].actor = "admin:root";
	d[0].created_ms = T2026 + 3600000;
	d[1].deployment_id = 9;
	d[1].app = "web";
	d[1].version = "1.4.1";
	d[1].strategy = "rolling";
	d[1].state = "rolled_back";
	d[1].actor = "ci@build1";
	d[1].reason = "wave 2: 2 failed\nbudget 1";
	d[1].created_ms = T2026;
	d[1].finished_ms = T2026 + 61000;
	l.deployments = dp;
	l.n_deployments = 2;
	s = CAPTURE(admin_format_history_table(&l, false, out));
	assert_string_equal(s,
	        "ID  STARTED               FINISHED              APP  VERSION  STRATEGY  STATE"
	        "        ACTOR       REASON\n"
	        "12  2026-01-01T01:00:00Z  -                     web  1.4.2    canary    running"
	        "      admin:root  -\n"
	        "9   2026-01-01T00:00:00Z  2026-01-01T00:01:01Z  web  1.4.1    rolling   "
	        "rolled_back  ci@build1   wave 2: 2 failed budget 1\n");
	active = CAPTURE(admin_format_history_table(&l, true, out));
	assert_int_equal(lines_of(active), 2);
	assert_null(strstr(active, "rolled_back"));
}

static void
test_piped_watch_prints_each_host_phase_change_once(void **state)
{
	_cleanup_(admin_watch_seen_done) struct admin_watch_seen seen = {0};
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
	Rollwave__DeploymentStatus__Wave rb = ROLLWAVE__DEPLOYMENT_STATUS__WAVE__INIT, *rbp = &rb;
	Rollwave__DeploymentStatus__Host rh = ROLLWAVE__DEPLOYMENT_STATUS__HOST__INIT, *rhp = &rh;
	struct waves w;

	(void)state;
	waves_init(&w);
	w.wave_v[1].n_hosts = 9; /* web2..web10 */
	a = CAPTURE(admin_format_watch_changes(&w.st, &seen, out));
	assert_string_equal(a,
	        "deployment 7: running, wave 2/3 'batch 2': deploying\n"
	        "wave 1 'canary' web1: committed\n"
	        "wave 2 'batch 2' web2: committed\n"
	        "wave 2 'batch 2' web3: committed\n"
	        "wave 2 'batch 2' web4: committed\n"
	        "wave 2 'batch 2' web5: committed\n"
	        "wave 2 'batch 2' web6: activating\n"
	        "wave 2 'batch 2' web7: health\n"
	        "wave 2 'batch 2' web8: failed: health: probe failed exit status 1\n"
	        "wave 2 'batch 2' web9: queued\n");
	/* Only what changed: web6 and web9 move on, web10 starts; then the
	 * rollback's wave appears. */
	w.host_v[5].phase = ROLLWAVE__PHASE__PHASE_RESTARTING;
	w.host_v[8].task = "running";
	w.host_v[8].phase = ROLLWAVE__PHASE__PHASE_FETCHING;
	w.host_v[9].task = "sent";
	rh.host_id = 8;
	rh.hostname = "web8";
	rh.task = "running";
	rh.phase = ROLLWAVE__PHASE__PHASE_ACTIVATING;
	rb.name = "rollback";
	rb.kind = "rollback";
	rb.hosts = &rhp;
	rb.n_hosts = 1;
	w.st.rollback = &rbp;
	w.st.n_rollback = 1;
	w.st.step = "rollback";
	b = CAPTURE(admin_format_watch_changes(&w.st, &seen, out));
	assert_string_equal(b,
	        "deployment 7: running, wave 2/3 'batch 2': rollback\n"
	        "wave 2 'batch 2' web6: restarting\n"
	        "wave 2 'batch 2' web9: fetching\n"
	        "wave 2 'batch 2' web10: sent\n"
	        "rollback wave 1 'rollback' web8: activating\n");
	/* Nothing new, nothing printed. */
	c = CAPTURE(admin_format_watch_changes(&w.st, &seen, out));
	assert_string_equal(c, "");
}

/* ---- the real binary against a fake coordinator ------------------------------ */

struct fake {
	char dir[64], url[128];
	nng_socket s;
	pthread_t thread;
	atomic_bool stop;
	/* How it answers. */
	bool no_such_deployment; /* GetDeploymentStatus refused */
	bool refuse_create;      /* CreateDeployment refused */
	const char *final_state; /* from the second status on; NULL: running forever */
	/* What it saw. */
	atomic_int statuses;
	char params[4096]; /* the last CreateDeployment's */
};

/* Deployment 7: one wave 'canary' of web1, which is activating at first
 * and committed (or rolled back) once the deployment is final. */
static void
fake_status_reply(struct fake *fk, uint64_t msgid, bool create)
{
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	Rollwave__AdminResponse resp = ROLLWAVE__ADMIN_RESPONSE__INIT;
	Rollwave__Error error = ROLLWAVE__ERROR__INIT;
	Rollwave__DeploymentStatus st = ROLLWAVE__DEPLOYMENT_STATUS__INIT;
	Rollwave__DeploymentStatus__Wave wave = ROLLWAVE__DEPLOYMENT_STATUS__WAVE__INIT,
	                                 *wp = &wave;
	Rollwave__DeploymentStatus__Host host = ROLLWAVE__DEPLOYMENT_STATUS__HOST__INIT,
	                                 *hp = &host;
	int n = create ? 0 : atomic_fetch_add(&fk->statuses, 1) + 1;
	const char *final = n >= 2 ? fk->final_state : NULL;
	void *buf = NULL;
	size_t len = 0;

	env.protocol_version = WIRE_PROTOCOL_VERSION;
	env.message_id = msgid;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE;
	env.admin_response = &resp;
	if ((create && fk->refuse_create) || (!create && fk->no_such_deployment)) {
		error.code = ROLLWAVE__ERROR__CODE__INVALID;
		error.message =
		        create ? "deployment 6 of web is still active" : "no such deployment";
		resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR;
		resp.error = &error;
	} else {
		host.host_id = 1;
		host.hostname = "web1";
		host.task = final ? (streq(final, "succeeded") ? "committed" : "rolled_back")
		                  : "running";
		host.phase = final ? ROLLWAVE__PHASE__PHASE_COMMITTED
		                   : ROLLWAVE__PHASE__PHASE_ACTIVATING;
		wave.name = "canary";
		wave.kind = "deploy";
		wave.state = final ? "done" : "deploying";
		wave.hosts = &hp;
		wave.n_hosts = 1;
		st.deployment_id = 7;
		st.app = "web";
		st.version = "1.4.2";
		st.strategy = "canary";
		st.state = final ? (char *) final : "running";
		st.step = final ? "" : "deploying";
		st.reason = !final                  ? ""
		        : streq(final, "succeeded") ? "every wave is healthy"
		                                    : "wave 1: web1 failed health";
		st.waves = &wp;
		st.n_waves = 1;
		resp.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOYMENT_STATUS;
		resp.deployment_status = &st;
	}
	if (wire_encode(&env, &buf, &len) == 0)
		(void)nng_send(fk->s, buf, len, 0);
	free(buf);
}

static void *
fake_main(void *p)
{
	struct fake *fk = p;

	while (!atomic_load(&fk->stop)) {
		_cleanup_wire_free_ Rollwave__Envelope *req = NULL;
		struct rw_err err = {""};
		char *buf = NULL;
		size_t len = 0;
		int rv;

		rv = nng_recv(fk->s, &buf, &len, NNG_FLAG_ALLOC);
		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		rv = wire_decode(buf, len, &req, &err);
		nng_free(buf, len);
		if (rv < 0 || req->body_case != ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST)
			continue;
		if (req->admin_request->request_case ==
		        ROLLWAVE__ADMIN_REQUEST__REQUEST_CREATE_DEPLOYMENT) {
			strbuf_printf(fk->params, sizeof(fk->params), "%s",
			        req->admin_request->create_deployment->params);
			fake_status_reply(fk, req->message_id, true);
		} else
			fake_status_reply(fk, req->message_id, false);
	}
	return NULL;
}

static int
fake_setup(void **state)
{
	struct fake *fk = calloc(1, sizeof(*fk));

	assert_non_null(fk);
	strcpy(fk->dir, "/tmp/test_cli_format.XXXXXX");
	assert_non_null(mkdtemp(fk->dir));
	assert_true(xsnprintf(fk->url, sizeof(fk->url), "ipc://%s/admin.sock", fk->dir) > 0);
	assert_int_equal(nng_rep0_open(&fk->s), 0);
	assert_int_equal(nng_socket_set_size(fk->s, NNG_OPT_RECVMAXSZ, WIRE_MAX_MESSAGE), 0);
	assert_int_equal(nng_socket_set_ms(fk->s, NNG_OPT_RECVTIMEO, 100), 0);
	assert_int_equal(nng_listen(fk->s, fk->url, NULL, 0), 0);
	assert_int_equal(pthread_create(&fk->thread, NULL, fake_main, fk), 0);
	*state = fk;
	return 0;
}

static int
fake_teardown(void **state)
{
	struct fake *fk = *state;
	char path[128];

	atomic_store(&fk->stop, true);
	pthread_join(fk->thread, NULL);
	nng_close(fk->s);
	strbuf_printf(path, sizeof(path), "%s/admin.sock", fk->dir);
	unlink(path);
	strbuf_printf(path, sizeof(path), "%s/deploy.ini", fk->dir);
	unlink(path);
	rmdir(fk->dir);
	free(fk);
	return 0;
}

/* Runs `rollwave --coordinator url ARGS...` (NULL-terminated), stdout and
 * stderr into out; returns its exit status. Skips without a built binary. */
static int
run_rollwave(const char *url, char *out, size_t size, ...)
{
	const char *bin = ROLLWAVE_BINARY_DIR "/cli/rollwave";
	const char *argv[32] = {"rollwave", "--coordinator", url};
	size_t argc = 3, len = 0;
	int pipefd[2], status;
	va_list ap;
	ssize_t n;
	pid_t pid;

	if (access(bin, X_OK) < 0)
		skip();
	va_start(ap, size);
	while ((argv[argc] = va_arg(ap, const char *)))
		assert_true(++argc < ELEMENTSOF(argv));
	va_end(ap);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		execv(bin, (char **)argv);
		_exit(98);
	}
	close(pipefd[1]);
	while (len + 1 < size && (n = read(pipefd[0], out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = 0;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_deployment_file_is_read_in_every_spelling(void **state)
{
	struct fake *fk = *state;
	char ini[128], opt[160], out[4096];
	FILE *f;

	strbuf_printf(ini, sizeof(ini), "%s/deploy.ini", fk->dir);
	f = fopen(ini, "we");
	assert_non_null(f);
	fputs("[Deployment]\nStrategy=rolling\n[Rolling]\nBatch=3\n", f);
	assert_int_equal(fclose(f), 0);

	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "plan", "web", "1.4.2", "-f", ini,
	                         "--json", NULL),
	        0);
	assert_non_null(strstr(fk->params, "\nBatch=3\n"));
	fk->params[0] = 0;
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "plan", "web", "1.4.2", "--file",
	                         ini, "--json", NULL),
	        0);
	assert_non_null(strstr(fk->params, "\nBatch=3\n"));
	fk->params[0] = 0;
	strbuf_printf(opt, sizeof(opt), "--file=%s", ini);
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "plan", "web", "1.4.2", opt,
	                         "--json", NULL),
	        0);
	assert_non_null(strstr(fk->params, "\nBatch=3\n"));
	fk->params[0] = 0;
	strbuf_printf(opt, sizeof(opt), "-f%s", ini);
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "plan", "web", "1.4.2", opt,
	                         "--json", NULL),
	        0);
	assert_non_null(strstr(fk->params, "\nBatch=3\n"));
	/* Flags override the file, before or after it. */
	fk->params[0] = 0;
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "plan", "web", "1.4.2",
	                         "--batch=5", opt, "--json", NULL),
	        0);
	assert_non_null(strstr(fk->params, "\nBatch=5\n"));

	/* A file that is not there: a usage error naming it, nothing sent. */
	fk->params[0] = 0;
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "deploy", "web", "1.4.2",
	                         "--manifest", "file:///m", "--file=/nonexistent/deploy.ini", NULL),
	        2);
	assert_non_null(strstr(out, "cannot read /nonexistent/deploy.ini"));
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "plan", "web", "1.4.2",
	                         "-f/nonexistent/x.ini", NULL),
	        2);
	assert_non_null(strstr(out, "/nonexistent/x.ini"));
	assert_int_equal(
	        run_rollwave(fk->url, out, sizeof(out), "plan", "web", "1.4.2", "--file=", NULL),
	        2);
	assert_string_equal(fk->params, "");
}

static void
test_watch_exit_code_says_how_the_deployment_ended(void **state)
{
	struct fake *fk = *state;
	char out[8192];

	fk->final_state = "succeeded";
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "watch", "7", NULL), 0);
	/* Piped: the host's phases, once each, and how it ended last. */
	assert_non_null(strstr(out, "wave 1 'canary' web1: activating\n"));
	assert_non_null(strstr(out, "wave 1 'canary' web1: committed\n"));
	assert_null(strstr(strstr(out, "web1: activating\n") + 1, "web1: activating\n"));
	assert_non_null(strstr(out, "Deployment 7 succeeded: every wave is healthy\n"));
	assert_string_equal(
	        strrchr(out, '\n') - strlen("every wave is healthy"), "every wave is healthy\n");

	atomic_store(&fk->statuses, 0);
	fk->final_state = "rolled_back";
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "watch", "7", NULL), 1);
	assert_non_null(strstr(out, "\nDeployment 7 rolled_back: wave 1: web1 failed health\n"));

	/* Still running when --timeout passes: 4, and it says it goes on. */
	atomic_store(&fk->statuses, 0);
	fk->final_state = NULL;
	assert_int_equal(
	        run_rollwave(fk->url, out, sizeof(out), "watch", "7", "--timeout", "1s", NULL), 4);
	assert_non_null(strstr(out, "deployment 7 is still running"));
	assert_non_null(strstr(out, "goes on"));
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "watch", "7", "--timeout=1s",
	                         "--json", NULL),
	        4);
	assert_non_null(strstr(out, "\"state\": \"running\""));
}

static void
test_watch_of_an_unknown_deployment_stops_at_once(void **state)
{
	struct fake *fk = *state;
	uint64_t start = now_monotonic_usec();
	char out[4096];

	fk->no_such_deployment = true;
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "watch", "99", NULL), 3);
	assert_string_equal(out, "rollwave: error: deployment 99: no such deployment\n");
	assert_int_equal(atomic_load(&fk->statuses), 1); /* asked once, not again */
	assert_true(now_monotonic_usec() - start < 5 * USEC_PER_SEC);
}

static void
test_deploy_wait_exit_codes_tell_refusals_and_bad_lines_apart(void **state)
{
	struct fake *fk = *state;
	char out[8192];

	fk->final_state = "failed";
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "deploy", "web", "1.4.2",
	                         "--manifest", "file:///m", "--wait", NULL),
	        1);
	assert_non_null(strstr(out, "\nDeployment 7 failed: wave 1: web1 failed health\n"));
	atomic_store(&fk->statuses, 0);
	fk->final_state = "succeeded";
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "deploy", "web", "1.4.2",
	                         "--manifest", "file:///m", "--wait", "--timeout", "1m", NULL),
	        0);
	/* Refused: 3 when following, 1 (as ever) without --wait. */
	fk->refuse_create = true;
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "deploy", "web", "1.4.2",
	                         "--manifest", "file:///m", "--wait", NULL),
	        3);
	assert_non_null(strstr(out, "deployment 6 of web is still active"));
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "deploy", "web", "1.4.2",
	                         "--manifest", "file:///m", NULL),
	        1);
	/* Bad command lines: 2. */
	assert_int_equal(run_rollwave(fk->url, out, sizeof(out), "deploy", "web", "1.4.2",
	                         "--manifest", "file:///m", "--timeout", "5m", NULL),
	        2);
	assert_non_null(strstr(out, "--timeout goes with --wait"));
	assert_int_equal(
	        run_rollwave(fk->url, out, sizeof(out), "watch", "7", "--timeout", "soon", NULL),
	        2);
	assert_int_equal(
	        run_rollwave(fk->url, out, sizeof(out), "rollback", "web", "--timeout", "5m", NULL),
	        2);
	/* Nobody listening: 3 at once. */
	assert_int_equal(run_rollwave("ipc:///tmp/test_cli_format.nobody.sock", out, sizeof(out),
	                         "watch", "7", NULL),
	        3);
	assert_non_null(strstr(out, "cannot reach the coordinator"));
}

/* `rollwave help V` and `rollwave V --help` print the same text for every
 * verb `rollwave help` lists, and deploy's and rollback's show their main
 * form (through waves, with strategies) first. */
static void
test_help_of_each_verb_is_one_text_with_the_main_form_first(void **state)
{
	const char *url = "ipc:///tmp/test_cli_format.nobody.sock";
	char list[4096], verb[32], by_help[8192], by_flag[8192];
	const char *p, *end;
	size_t n_verbs = 0;

	(void)state;
	assert_int_equal(run_rollwave(url, list, sizeof(list), "help", NULL), 0);
	p = strstr(list, "\nCommands:\n");
	assert_non_null(p);
	p += strlen("\nCommands:\n");
	end = strstr(p, "\n\n");
	assert_non_null(end);
	while (p < end) {
		size_t len;

		assert_true(p[0] == ' ' && p[1] == ' ');
		p += 2;
		len = strcspn(p, " ");
		assert_true(len > 0 && len < sizeof(verb));
		memcpy(verb, p, len);
		verb[len] = 0;
		assert_int_equal(
		        run_rollwave(url, by_help, sizeof(by_help), "help", verb, NULL), 0);
		assert_int_equal(
		        run_rollwave(url, by_flag, sizeof(by_flag), verb, "--help", NULL), 0);
		if (!streq(by_help, by_flag))
			fail_msg(
			        "'rollwave help %s' and 'rollwave %s --help' differ:\n%s\n----\n%s",
			        verb, verb, by_help, by_flag);
		assert_true(strncmp(by_help, "Usage:", 6) == 0);
		assert_non_null(strstr(by_help, "rollwave "));
		assert_non_null(strstr(by_help, verb));
		if (streq(verb, "deploy")) {
			const char *main_form =
			        "Usage:\n  rollwave deploy APP VERSION --manifest URL "
			        "[--selector K=V,...] [-f FILE]\n"
			        "                  [--strategy NAME]";

			assert_true(strncmp(by_help, main_form, strlen(main_form)) == 0);
			assert_non_null(strstr(by_help, "--strategy all-at-once|rolling|canary"));
			assert_true(strstr(by_help, "--strategy") < strstr(by_help, "--hosts"));
		}
		if (streq(verb, "rollback"))
			assert_true(strstr(by_help, "--wait") < strstr(by_help, "--hosts"));
		n_verbs++;
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	assert_true(n_verbs >= 15);
	/* --hosts does not change which text `deploy --help` prints. */
	assert_int_equal(run_rollwave(url, by_flag, sizeof(by_flag), "deploy", "web", "1.0",
	                         "--manifest", "file:///m", "--hosts", "3", "--help", NULL),
	        0);
	assert_int_equal(run_rollwave(url, by_help, sizeof(by_help), "help", "deploy", NULL), 0);
	assert_string_equal(by_flag, by_help);
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
	        cmocka_unit_test(test_down_hosts_are_named_from_the_host_list),
	        cmocka_unit_test(test_progress_lines_name_the_host_and_its_state_or_phase),
	        cmocka_unit_test(test_deployment_succeeds_only_when_every_host_committed),
	        cmocka_unit_test(test_deployment_summary_counts_hosts_by_state),
	        cmocka_unit_test(test_deployment_table_shows_each_hosts_state_and_error),
	        cmocka_unit_test(test_deployment_json_has_stable_fields),
	        cmocka_unit_test(test_wave_host_status_is_the_phase_while_in_flight),
	        cmocka_unit_test(
	                test_status_lists_small_waves_and_the_hosts_not_done_of_large_ones),
	        cmocka_unit_test(test_status_shows_the_hook_output_of_failed_hosts),
	        cmocka_unit_test(test_plan_lists_every_host_of_every_wave),
	        cmocka_unit_test(test_watch_screen_fits_the_terminal_and_counts_the_hosts_it_cuts),
	        cmocka_unit_test(test_gates_section_shows_every_metric_gate_and_freeze_window),
	        cmocka_unit_test(
	                test_history_table_shows_who_started_each_deployment_and_when_it_finished),
	        cmocka_unit_test(test_piped_watch_prints_each_host_phase_change_once),
	        cmocka_unit_test_setup_teardown(
	                test_deployment_file_is_read_in_every_spelling, fake_setup, fake_teardown),
	        cmocka_unit_test_setup_teardown(test_watch_exit_code_says_how_the_deployment_ended,
	                fake_setup, fake_teardown),
	        cmocka_unit_test_setup_teardown(test_watch_of_an_unknown_deployment_stops_at_once,
	                fake_setup, fake_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_deploy_wait_exit_codes_tell_refusals_and_bad_lines_apart, fake_setup,
	                fake_teardown),
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
	        cmocka_unit_test(test_help_of_each_verb_is_one_text_with_the_main_form_first),
	        cmocka_unit_test_setup_teardown(
	                test_rollwave_without_socket_permission_says_only_admins, server_setup,
	                server_teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
