/*
 * test_wire: the wire decoder is the only door from the network, so every
 * body type round-trips, and truncated, garbage, oversized, foreign-version,
 * bodiless and out-of-bounds messages are refused with the field named.
 * Command and Auth signatures verify only for the exact bytes and key.
 *
 * `test_wire --write-corpus DIR` writes one valid message per body type:
 * the seed corpus of tests/fuzz/fuzz_wire.c (tests/fuzz/corpus/wire).
 */
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>

#include <cmocka.h>

#include "wire.h"

/* ---- a valid instance of every message, wired together ---------------------- */

struct sample {
	uint8_t key[WIRE_KEY_LEN], coord_key[WIRE_KEY_LEN], nonce[WIRE_NONCE_LEN];
	uint8_t sig[WIRE_SIGNATURE_LEN], host_key[WIRE_KEY_LEN];
	char label_keys[WIRE_LABELS_MAX + 1][8];
	Rollwave__Label label_v[WIRE_LABELS_MAX + 1], *labels[WIRE_LABELS_MAX + 1];
	char app_names[WIRE_APPS_MAX + 1][16];
	Rollwave__AppStatus app_v[WIRE_APPS_MAX + 1], *apps[WIRE_APPS_MAX + 1];
	char release_names[WIRE_RELEASES_MAX + 1][16];
	char *releases[WIRE_RELEASES_MAX + 1];
	Rollwave__HostFacts facts;
	Rollwave__Hello hello;
	Rollwave__Challenge challenge;
	Rollwave__Auth auth;
	Rollwave__Welcome welcome;
	Rollwave__Heartbeat heartbeat;
	Rollwave__HeartbeatAck heartbeat_ack;
	Rollwave__Poll poll;
	Rollwave__Command command;
	Rollwave__CommandAck command_ack;
	Rollwave__PhaseReport phase_report;
	Rollwave__Error error;
	uint64_t host_ids[2];
	Rollwave__AdminRequest admin_request;
	Rollwave__AdminRequest__ListHosts list_hosts;
	Rollwave__AdminRequest__GetHost get_host;
	Rollwave__AdminRequest__ListApps list_apps;
	Rollwave__AdminRequest__ListEvents list_events;
	Rollwave__AdminRequest__HostsPending hosts_pending;
	Rollwave__AdminRequest__HostAccept host_accept;
	Rollwave__AdminRequest__HostRevoke host_revoke;
	Rollwave__AdminRequest__Deploy deploy;
	Rollwave__AdminRequest__Rollback rollback;
	Rollwave__HostInfo host_v, *hosts[1];
	Rollwave__HostList host_list;
	Rollwave__AppSummary__VersionCount count_v, *counts[1];
	Rollwave__AppSummary summary_v, *summaries[1];
	Rollwave__AppList app_list;
	Rollwave__Event event_v, *events[1];
	Rollwave__EventList event_list;
	Rollwave__DeployResult__HostResult result_v, *results[1];
	Rollwave__DeployResult deploy_result;
	Rollwave__Ack ack;
	Rollwave__AdminResponse admin_response;
	Rollwave__Envelope env;
};

static void
sample_lists_init(struct sample *s)
{
	for (size_t i = 0; i <= WIRE_LABELS_MAX; i++) {
		rollwave__label__init(&s->label_v[i]);
		snprintf(s->label_keys[i], sizeof(s->label_keys[i]), "k%zu", i);
		s->label_v[i].key = s->label_keys[i];
		s->label_v[i].value = "v";
		s->labels[i] = &s->label_v[i];
	}
	s->label_v[0].key = "role";
	s->label_v[0].value = "web";
	s->label_v[1].key = "dc";
	s->label_v[1].value = "fra-1";
	for (size_t i = 0; i <= WIRE_RELEASES_MAX; i++) {
		snprintf(s->release_names[i], sizeof(s->release_names[i]), "1.%zu.0", i);
		s->releases[i] = s->release_names[i];
	}
	for (size_t i = 0; i <= WIRE_APPS_MAX; i++) {
		Rollwave__AppStatus *a = &s->app_v[i];

		rollwave__app_status__init(a);
		snprintf(s->app_names[i], sizeof(s->app_names[i]), "app%zu", i);
		a->app = s->app_names[i];
		a->current = "1.1.0";
		a->previous = "1.0.0";
		a->health = ROLLWAVE__HEALTH__HEALTH_HEALTHY;
		a->n_releases = 2;
		a->releases = s->releases;
		s->apps[i] = a;
	}
	s->app_v[0].app = "web";
}

static void
sample_agent_init(struct sample *s)
{
	rollwave__host_facts__init(&s->facts);
	s->facts.hostname = "web-01.example.org";
	s->facts.n_labels = 2;
	s->facts.labels = s->labels;
	s->facts.agent_version = "0.1.0";
	s->facts.n_apps = 2;
	s->facts.apps = s->apps;

	rollwave__hello__init(&s->hello);
	s->hello.host_key = (ProtobufCBinaryData) {WIRE_KEY_LEN, s->key};
	s->hello.join_token = "rwj_3f9a1c";
	s->hello.facts = &s->facts;
	rollwave__challenge__init(&s->challenge);
	s->challenge.nonce = (ProtobufCBinaryData) {WIRE_NONCE_LEN, s->nonce};
	s->challenge.coordinator_key = (ProtobufCBinaryData) {WIRE_KEY_LEN, s->coord_key};
	rollwave__auth__init(&s->auth);
	s->auth.signature = (ProtobufCBinaryData) {WIRE_SIGNATURE_LEN, s->sig};
	rollwave__welcome__init(&s->welcome);
	s->welcome.host_id = 42;
	s->welcome.coordinator_key = (ProtobufCBinaryData) {WIRE_KEY_LEN, s->coord_key};
	s->welcome.state = ROLLWAVE__HOST_STATE__HOST_STATE_UP;
	rollwave__heartbeat__init(&s->heartbeat);
	s->heartbeat.seq = 42;
	s->heartbeat.n_apps = 2;
	s->heartbeat.apps = s->apps;
	s->heartbeat.uptime_ms = 86400000;
	rollwave__heartbeat_ack__init(&s->heartbeat_ack);
	rollwave__poll__init(&s->poll);
	rollwave__command__init(&s->command);
	s->command.command_id = 1001;
	s->command.issued_at_ms = 1764237600000;
	s->command.kind = ROLLWAVE__COMMAND__KIND__DEPLOY;
	s->command.host_id = 42;
	s->command.app = "web";
	s->command.version = "1.4.2";
	s->command.manifest_url = "https://releases.example.org/web/1.4.2.manifest";
	s->command.signature = (ProtobufCBinaryData) {WIRE_SIGNATURE_LEN, s->sig};
	rollwave__command_ack__init(&s->command_ack);
	s->command_ack.command_id = 1001;
	s->command_ack.accepted = true;
	rollwave__phase_report__init(&s->phase_report);
	s->phase_report.app = "web";
	s->phase_report.version = "1.4.2";
	s->phase_report.phase = ROLLWAVE__PHASE__PHASE_FAILED;
	s->phase_report.elapsed_ms = 1234;
	s->phase_report.error = "health check failed:\n\tHTTP 503";
	s->phase_report.command_id = 1001;
	s->phase_report.hook_output = "pre-start: ok\n";
	s->phase_report.final = true;
	rollwave__error__init(&s->error);
	s->error.code = ROLLWAVE__ERROR__CODE__PENDING;
	s->error.message = "host 42 waits for `rollwave hosts accept`";
}

static void
sample_admin_init(struct sample *s)
{
	s->host_ids[0] = 42;
	s->host_ids[1] = 43;
	rollwave__admin_request__init(&s->admin_request);
	rollwave__admin_request__list_hosts__init(&s->list_hosts);
	s->list_hosts.selector = "role=web,dc=fra-1";
	rollwave__admin_request__get_host__init(&s->get_host);
	s->get_host.host_id = 42;
	rollwave__admin_request__list_apps__init(&s->list_apps);
	rollwave__admin_request__list_events__init(&s->list_events);
	s->list_events.since_ms = 1764237600000;
	s->list_events.limit = 50;
	rollwave__admin_request__hosts_pending__init(&s->hosts_pending);
	rollwave__admin_request__host_accept__init(&s->host_accept);
	s->host_accept.host_id = 42;
	rollwave__admin_request__host_revoke__init(&s->host_revoke);
	s->host_revoke.host_id = 43;
	rollwave__admin_request__deploy__init(&s->deploy);
	s->deploy.app = "web";
	s->deploy.version = "1.4.2";
	s->deploy.manifest_url = "file:///srv/releases/web/1.4.2.manifest";
	s->deploy.n_host_ids = 2;
	s->deploy.host_ids = s->host_ids;
	rollwave__admin_request__rollback__init(&s->rollback);
	s->rollback.app = "web";
	s->rollback.to_version = "1.4.1";
	s->rollback.n_host_ids = 1;
	s->rollback.host_ids = s->host_ids;

	rollwave__admin_response__init(&s->admin_response);
	rollwave__host_info__init(&s->host_v);
	s->host_v.id = 42;
	s->host_v.hostname = "web-01.example.org";
	s->host_v.n_labels = 2;
	s->host_v.labels = s->labels;
	s->host_v.state = ROLLWAVE__HOST_STATE__HOST_STATE_PENDING;
	s->host_v.last_seen_ms = 1764237600000;
	s->host_v.agent_version = "0.1.0";
	s->host_v.n_apps = 1;
	s->host_v.apps = s->apps;
	s->host_v.host_key = (ProtobufCBinaryData) {WIRE_KEY_LEN, s->host_key};
	s->hosts[0] = &s->host_v;
	rollwave__host_list__init(&s->host_list);
	s->host_list.n_hosts = 1;
	s->host_list.hosts = s->hosts;
	rollwave__app_summary__version_count__init(&s->count_v);
	s->count_v.version = "1.4.2";
	s->count_v.hosts = 12;
	s->counts[0] = &s->count_v;
	rollwave__app_summary__init(&s->summary_v);
	s->summary_v.app = "web";
	s->summary_v.hosts = 12;
	s->summary_v.n_versions = 1;
	s->summary_v.versions = s->counts;
	s->summaries[0] = &s->summary_v;
	rollwave__app_list__init(&s->app_list);
	s->app_list.n_apps = 1;
	s->app_list.apps = s->summaries;
	rollwave__event__init(&s->event_v);
	s->event_v.id = 7;
	s->event_v.at_ms = 1764237600000;
	s->event_v.actor = "admin";
	s->event_v.action = "host.accept";
	s->event_v.target = "host 42";
	s->event_v.detail = "accepted web-01.example.org\nkey 3f9a...";
	s->events[0] = &s->event_v;
	rollwave__event_list__init(&s->event_list);
	s->event_list.n_events = 1;
	s->event_list.events = s->events;
	rollwave__deploy_result__host_result__init(&s->result_v);
	s->result_v.host_id = 42;
	s->result_v.command_id = 1001;
	s->result_v.accepted = true;
	s->results[0] = &s->result_v;
	rollwave__deploy_result__init(&s->deploy_result);
	s->deploy_result.deployment_id = 3;
	s->deploy_result.n_hosts = 1;
	s->deploy_result.hosts = s->results;
	rollwave__ack__init(&s->ack);
	s->ack.message = "host 42 accepted";
}

static struct sample *
sample_new(void)
{
	struct sample *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	for (size_t i = 0; i < WIRE_KEY_LEN; i++) {
		s->key[i] = (uint8_t)i;
		s->coord_key[i] = (uint8_t)(0x80 + i);
		s->nonce[i] = (uint8_t)(0x40 + i);
		s->host_key[i] = (uint8_t)(0xc0 + i);
	}
	memset(s->sig, 0x5a, sizeof(s->sig));
	sample_lists_init(s);
	sample_agent_init(s);
	sample_admin_init(s);
	rollwave__envelope__init(&s->env);
	s->env.protocol_version = WIRE_PROTOCOL_VERSION;
	s->env.message_id = 77;
	return s;
}

/* Points the envelope at the sample body of that type. */
static Rollwave__Envelope *
use(struct sample *s, Rollwave__Envelope__BodyCase body)
{
	s->env.body_case = body;
	switch (body) {
	case ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT:
		s->env.phase_report = &s->phase_report;
		break;
	case ROLLWAVE__ENVELOPE__BODY_HELLO:
		s->env.hello = &s->hello;
		break;
	case ROLLWAVE__ENVELOPE__BODY_CHALLENGE:
		s->env.challenge = &s->challenge;
		break;
	case ROLLWAVE__ENVELOPE__BODY_AUTH:
		s->env.auth = &s->auth;
		break;
	case ROLLWAVE__ENVELOPE__BODY_WELCOME:
		s->env.welcome = &s->welcome;
		break;
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT:
		s->env.heartbeat = &s->heartbeat;
		break;
	case ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK:
		s->env.heartbeat_ack = &s->heartbeat_ack;
		break;
	case ROLLWAVE__ENVELOPE__BODY_POLL:
		s->env.poll = &s->poll;
		break;
	case ROLLWAVE__ENVELOPE__BODY_COMMAND:
		s->env.command = &s->command;
		break;
	case ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK:
		s->env.command_ack = &s->command_ack;
		break;
	case ROLLWAVE__ENVELOPE__BODY_ERROR:
		s->env.error = &s->error;
		break;
	case ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST:
		s->env.admin_request = &s->admin_request;
		break;
	case ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE:
		s->env.admin_response = &s->admin_response;
		break;
	default:
		fail_msg("no sample for body %d", body);
	}
	return &s->env;
}

static Rollwave__Envelope *
use_request(struct sample *s, Rollwave__AdminRequest__RequestCase c)
{
	Rollwave__AdminRequest *a = &s->admin_request;

	a->request_case = c;
	switch (c) {
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS:
		a->list_hosts = &s->list_hosts;
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST:
		a->get_host = &s->get_host;
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_APPS:
		a->list_apps = &s->list_apps;
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_EVENTS:
		a->list_events = &s->list_events;
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOSTS_PENDING:
		a->hosts_pending = &s->hosts_pending;
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT:
		a->host_accept = &s->host_accept;
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_REVOKE:
		a->host_revoke = &s->host_revoke;
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY:
		a->deploy = &s->deploy;
		break;
	case ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK:
		a->rollback = &s->rollback;
		break;
	default:
		fail_msg("no sample for request %d", c);
	}
	return use(s, ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST);
}

static Rollwave__Envelope *
use_response(struct sample *s, Rollwave__AdminResponse__ResponseCase c)
{
	Rollwave__AdminResponse *a = &s->admin_response;

	a->response_case = c;
	switch (c) {
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST:
		a->host_list = &s->host_list;
		break;
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_APP_LIST:
		a->app_list = &s->app_list;
		break;
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_EVENT_LIST:
		a->event_list = &s->event_list;
		break;
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT:
		a->deploy_result = &s->deploy_result;
		break;
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK:
		a->ack = &s->ack;
		break;
	case ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR:
		a->error = &s->error;
		break;
	default:
		fail_msg("no sample for response %d", c);
	}
	return use(s, ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE);
}

/* Every sample envelope, by name (also the corpus file names). */
struct sample_kind {
	const char *name;
	Rollwave__Envelope__BodyCase body;
	int sub; /* request or response case for admin bodies */
};

static const struct sample_kind kinds[] = {
        {"hello", ROLLWAVE__ENVELOPE__BODY_HELLO, 0},
        {"challenge", ROLLWAVE__ENVELOPE__BODY_CHALLENGE, 0},
        {"auth", ROLLWAVE__ENVELOPE__BODY_AUTH, 0},
        {"welcome", ROLLWAVE__ENVELOPE__BODY_WELCOME, 0},
        {"heartbeat", ROLLWAVE__ENVELOPE__BODY_HEARTBEAT, 0},
        {"heartbeat_ack", ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK, 0},
        {"poll", ROLLWAVE__ENVELOPE__BODY_POLL, 0},
        {"command", ROLLWAVE__ENVELOPE__BODY_COMMAND, 0},
        {"command_ack", ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK, 0},
        {"phase_report", ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT, 0},
        {"error", ROLLWAVE__ENVELOPE__BODY_ERROR, 0},
        {"admin_list_hosts", ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST,
                ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS},
        {"admin_get_host", ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST,
                ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST},
        {"admin_list_apps", ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST,
                ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_APPS},
        {"admin_list_events", ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST,
                ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_EVENTS},
        {"admin_hosts_pending", ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST,
                ROLLWAVE__ADMIN_REQUEST__REQUEST_HOSTS_PENDING},
        {"admin_host_accept", ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST,
                ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT},
        {"admin_host_revoke", ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST,
                ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_REVOKE},
        {"admin_deploy", ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST,
                ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY},
        {"admin_rollback", ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST,
                ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK},
        {"admin_host_list", ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE,
                ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST},
        {"admin_app_list", ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE,
                ROLLWAVE__ADMIN_RESPONSE__RESPONSE_APP_LIST},
        {"admin_event_list", ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE,
                ROLLWAVE__ADMIN_RESPONSE__RESPONSE_EVENT_LIST},
        {"admin_deploy_result", ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE,
                ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT},
        {"admin_ack", ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE,
                ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK},
        {"admin_error", ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE,
                ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR},
};

static Rollwave__Envelope *
use_kind(struct sample *s, const struct sample_kind *k)
{
	if (k->body == ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST)
		return use_request(s, (Rollwave__AdminRequest__RequestCase)k->sub);
	if (k->body == ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE)
		return use_response(s, (Rollwave__AdminResponse__ResponseCase)k->sub);
	return use(s, k->body);
}

/* Packs without validating (wire_encode does not validate). */
static void
pack(const Rollwave__Envelope *env, void **ret_buf, size_t *ret_len)
{
	assert_int_equal(wire_encode(env, ret_buf, ret_len), 0);
}

/* Packs env, decodes it, returns wire_decode's result (and err). */
static int
pack_and_decode(const Rollwave__Envelope *env, struct rw_err *err)
{
	_cleanup_free_ void *buf = NULL;
	Rollwave__Envelope *back = NULL;
	size_t len;
	int r;

	pack(env, &buf, &len);
	err->msg[0] = 0;
	r = wire_decode(buf, len, &back, err);
	if (r < 0)
		assert_null(back);
	wire_free(back);
	return r;
}

#define assert_refused(env, code, needle)                                                          \
	do {                                                                                       \
		struct rw_err e_;                                                                  \
		int r_ = pack_and_decode(env, &e_);                                                \
		if (r_ != (code) || !strstr(e_.msg, needle))                                       \
			fail_msg("expected %d with '%s', got %d: %s", code, needle, r_, e_.msg);   \
	} while (0)

/* ---- round trips ------------------------------------------------------------------ */

static void
test_every_body_type_round_trips_byte_for_byte(void **state)
{
	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		_cleanup_free_ struct sample *s = sample_new();
		_cleanup_free_ void *buf = NULL, *again = NULL;
		_cleanup_wire_free_ Rollwave__Envelope *back = NULL;
		size_t len, again_len;
		struct rw_err err = {{0}};
		int r;

		pack(use_kind(s, &kinds[i]), &buf, &len);
		r = wire_decode(buf, len, &back, &err);
		if (r < 0)
			fail_msg("%s: %s", kinds[i].name, err.msg);
		assert_int_equal(back->protocol_version, WIRE_PROTOCOL_VERSION);
		assert_int_equal(back->message_id, 77);
		assert_int_equal(back->body_case, kinds[i].body);
		assert_string_equal(wire_body_name(back->body_case), wire_body_name(kinds[i].body));
		pack(back, &again, &again_len);
		assert_int_equal(again_len, len);
		assert_memory_equal(again, buf, len);
	}
}

static void
test_decoded_fields_keep_their_values(void **state)
{
	_cleanup_free_ struct sample *s = sample_new();
	_cleanup_free_ void *buf = NULL;
	_cleanup_wire_free_ Rollwave__Envelope *back = NULL;
	const Rollwave__HostFacts *f;
	size_t len;

	(void)state;
	pack(use(s, ROLLWAVE__ENVELOPE__BODY_HELLO), &buf, &len);
	assert_int_equal(wire_decode(buf, len, &back, NULL), 0);
	assert_memory_equal(back->hello->host_key.data, s->key, WIRE_KEY_LEN);
	assert_string_equal(back->hello->join_token, "rwj_3f9a1c");
	f = back->hello->facts;
	assert_string_equal(f->hostname, "web-01.example.org");
	assert_int_equal(f->n_labels, 2);
	assert_string_equal(f->labels[1]->key, "dc");
	assert_string_equal(f->labels[1]->value, "fra-1");
	assert_int_equal(f->n_apps, 2);
	assert_string_equal(f->apps[0]->app, "web");
	assert_string_equal(f->apps[1]->releases[1], "1.1.0");
	assert_int_equal(f->apps[0]->health, ROLLWAVE__HEALTH__HEALTH_HEALTHY);
}

static void
test_values_at_their_bounds_are_accepted(void **state)
{
	_cleanup_free_ struct sample *s = sample_new();
	_cleanup_free_ char *hostname = malloc(WIRE_HOSTNAME_MAX + 1),
	                    *url = malloc(WIRE_URL_MAX + 1),
	                    *output = malloc(WIRE_REPORT_TEXT_MAX + 1);
	struct rw_err err;

	(void)state;
	memset(hostname, 'h', WIRE_HOSTNAME_MAX);
	hostname[WIRE_HOSTNAME_MAX] = 0;
	s->facts.hostname = hostname;
	s->facts.n_labels = WIRE_LABELS_MAX;
	s->label_v[2].key = "abcdefghijklmnopqrstuvwxyz0123456789_.-abcdefghijklmnopqrstuvwx";
	assert_int_equal(strlen(s->label_v[2].key), WIRE_LABEL_KEY_MAX);
	s->facts.n_apps = WIRE_APPS_MAX;
	s->app_v[3].n_releases = WIRE_RELEASES_MAX;
	s->hello.join_token = "";
	assert_int_equal(pack_and_decode(use(s, ROLLWAVE__ENVELOPE__BODY_HELLO), &err), 0);

	memcpy(url, "https://", 8);
	memset(url + 8, 'a', WIRE_URL_MAX - 8);
	url[WIRE_URL_MAX] = 0;
	s->command.manifest_url = url;
	assert_int_equal(pack_and_decode(use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND), &err), 0);

	/* Reports carry multi-line text: newlines and tabs are fine there. */
	for (size_t i = 0; i < WIRE_REPORT_TEXT_MAX; i++)
		output[i] = i % 80 == 79 ? '\n' : i % 80 == 0 ? '\t' : 'o';
	output[WIRE_REPORT_TEXT_MAX] = 0;
	s->phase_report.hook_output = output;
	s->phase_report.error = "é ü ✓ 🚀";
	s->phase_report.command_id = 0;
	assert_int_equal(pack_and_decode(use(s, ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT), &err), 0);

	s->command.kind = ROLLWAVE__COMMAND__KIND__ROLLBACK;
	s->command.version = "";
	s->command.manifest_url = "";
	s->command.to_version = "";
	assert_int_equal(pack_and_decode(use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND), &err), 0);
}

/* ---- refusals of whole messages ------------------------------------------------------ */

static void
test_truncated_message_is_refused_at_every_cut(void **state)
{
	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		_cleanup_free_ struct sample *s = sample_new();
		_cleanup_free_ void *buf = NULL;
		size_t len;

		pack(use_kind(s, &kinds[i]), &buf, &len);
		for (size_t cut = 0; cut < len; cut++) {
			Rollwave__Envelope *back = NULL;
			struct rw_err err;
			int r = wire_decode(buf, cut, &back, &err);

			if (r >= 0)
				fail_msg("%s cut at %zu of %zu decoded", kinds[i].name, cut, len);
			assert_null(back);
		}
	}
}

static uint64_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void
test_random_garbage_is_refused_or_canonical(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	uint8_t buf[512];
	unsigned decoded = 0;

	(void)state;
	for (unsigned i = 0; i < 20000; i++) {
		size_t len = xorshift(&seed) % sizeof(buf);
		Rollwave__Envelope *back = NULL;
		struct rw_err err;

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)xorshift(&seed);
		/* Half of the time, start like an envelope of our version. */
		if (i % 2 && len >= 4) {
			buf[0] = 0x08;
			buf[1] = WIRE_PROTOCOL_VERSION;
		}
		if (wire_decode(buf, len, &back, &err) < 0) {
			assert_null(back);
			continue;
		}
		/* Whatever gets through re-packs to exactly the input. */
		decoded++;
		assert_int_equal(rollwave__envelope__get_packed_size(back), len);
		wire_free(back);
	}
	assert_true(decoded < 100);
}

/* One valid heartbeat padded with an unknown top-level field to total. */
static uint8_t *
padded_message(size_t total)
{
	_cleanup_free_ struct sample *s = sample_new();
	_cleanup_free_ void *head = NULL;
	size_t head_len, pad;
	uint8_t *buf = malloc(total), *p;

	assert_non_null(buf);
	pack(use(s, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT), &head, &head_len);
	memcpy(buf, head, head_len);
	p = buf + head_len;
	/* field 99, length-delimited: tag 0x9a 0x06, 3-byte length */
	pad = total - head_len - 5;
	*p++ = 0x9a;
	*p++ = 0x06;
	*p++ = (uint8_t)(0x80 | (pad & 0x7f));
	*p++ = (uint8_t)(0x80 | ((pad >> 7) & 0x7f));
	*p++ = (uint8_t)(pad >> 14);
	memset(p, 'x', pad);
	return buf;
}

static void
test_oversized_message_is_refused_before_unpacking(void **state)
{
	_cleanup_free_ uint8_t *at_max = padded_message(WIRE_MAX_MESSAGE);
	_cleanup_free_ uint8_t *over = padded_message(WIRE_MAX_MESSAGE + 1);
	Rollwave__Envelope *back = NULL;
	struct rw_err err;

	(void)state;
	/* Unknown fields are kept (forward compatibility): the same message
	 * at the limit decodes, one byte more is refused unread. */
	assert_int_equal(wire_decode(at_max, WIRE_MAX_MESSAGE, &back, &err), 0);
	assert_int_equal(back->body_case, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT);
	wire_free(back);
	back = NULL;
	assert_int_equal(wire_decode(over, WIRE_MAX_MESSAGE + 1, &back, &err), -EMSGSIZE);
	assert_null(back);
	assert_non_null(strstr(err.msg, "1048577 bytes"));
	/* NULL with a length too: refused by size before it is touched. */
	assert_int_equal(wire_decode(NULL, SIZE_MAX, &back, &err), -EMSGSIZE);
}

static void
test_message_that_unpacks_into_too_much_memory_is_refused(void **state)
{
	/* admin_response.host_list with ~500k empty hosts: 2 bytes each on
	 * the wire, ~140 bytes each once unpacked. */
	size_t n = (WIRE_MAX_MESSAGE - 16) / 2, inner = 2 * n, outer = inner + 4;
	_cleanup_free_ uint8_t *buf = malloc(WIRE_MAX_MESSAGE);
	Rollwave__Envelope *back = NULL;
	struct rw_err err;
	uint8_t *p = buf;

	(void)state;
	*p++ = 0x08; /* protocol_version */
	*p++ = WIRE_PROTOCOL_VERSION;
	*p++ = 0xfa; /* admin_response = 31 */
	*p++ = 0x01;
	*p++ = (uint8_t)(0x80 | (outer & 0x7f));
	*p++ = (uint8_t)(0x80 | ((outer >> 7) & 0x7f));
	*p++ = (uint8_t)(outer >> 14);
	*p++ = 0x0a; /* host_list = 1 */
	*p++ = (uint8_t)(0x80 | (inner & 0x7f));
	*p++ = (uint8_t)(0x80 | ((inner >> 7) & 0x7f));
	*p++ = (uint8_t)(inner >> 14);
	for (size_t i = 0; i < n; i++) {
		*p++ = 0x0a; /* hosts = 1, empty */
		*p++ = 0x00;
	}
	assert_int_equal(wire_decode(buf, (size_t)(p - buf), &back, &err), -EMSGSIZE);
	assert_null(back);
	assert_non_null(strstr(err.msg, "memory"));
}

static void
test_other_protocol_version_is_refused_with_its_own_code(void **state)
{
	_cleanup_free_ struct sample *s = sample_new();
	_cleanup_free_ void *buf = NULL, *reply = NULL;
	_cleanup_wire_free_ Rollwave__Envelope *back = NULL;
	size_t len, reply_len;
	struct rw_err err;
	int r;

	(void)state;
	s->env.protocol_version = 2;
	s->env.message_id = 123456789;
	pack(use(s, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT), &buf, &len);
	r = wire_decode(buf, len, &back, &err);
	assert_int_equal(r, -EPROTONOSUPPORT);
	assert_non_null(strstr(err.msg, "envelope.protocol_version: version 2"));

	/* The caller answers Error{VERSION} to the right message id. */
	assert_int_equal(wire_peek_message_id(buf, len), 123456789);
	assert_int_equal(
	        wire_error_reply(wire_peek_message_id(buf, len), r, err.msg, &reply, &reply_len),
	        0);
	assert_int_equal(wire_decode(reply, reply_len, &back, &err), 0);
	assert_int_equal(back->protocol_version, WIRE_PROTOCOL_VERSION);
	assert_int_equal(back->message_id, 123456789);
	assert_int_equal(back->body_case, ROLLWAVE__ENVELOPE__BODY_ERROR);
	assert_int_equal(back->error->code, ROLLWAVE__ERROR__CODE__VERSION);

	s->env.protocol_version = 0;
	assert_refused(&s->env, -EPROTONOSUPPORT, "version 0");
}

static void
test_unset_or_unknown_body_is_refused_as_unknown_type(void **state)
{
	_cleanup_free_ struct sample *s = sample_new();
	/* version 1, message_id 5, then field 40 (a body from the future). */
	static const uint8_t future[] = {0x08, 0x01, 0x10, 0x05, 0xc2, 0x02, 0x01, 0x00};
	Rollwave__Envelope *back = NULL;
	struct rw_err err;

	(void)state;
	assert_refused(&s->env, -ENOMSG, "envelope: no body");
	assert_int_equal(wire_decode(future, sizeof(future), &back, &err), -ENOMSG);
	assert_int_equal(wire_peek_message_id(future, sizeof(future)), 5);

	use(s, ROLLWAVE__ENVELOPE__BODY_ADMIN_REQUEST);
	s->admin_request.request_case = ROLLWAVE__ADMIN_REQUEST__REQUEST__NOT_SET;
	assert_refused(&s->env, -ENOMSG, "envelope.admin_request: no request");
	use(s, ROLLWAVE__ENVELOPE__BODY_ADMIN_RESPONSE);
	s->admin_response.response_case = ROLLWAVE__ADMIN_RESPONSE__RESPONSE__NOT_SET;
	assert_refused(&s->env, -ENOMSG, "envelope.admin_response: no response");

	/* The reply to that is Error{UNKNOWN_TYPE}. */
	assert_int_equal(wire_error_code_from_errno(-ENOMSG), ROLLWAVE__ERROR__CODE__UNKNOWN_TYPE);
}

static void
test_undecodable_bytes_are_refused_as_bad_message(void **state)
{
	static const uint8_t garbage[] = {
	        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	/* hello (12) claims 1000 bytes, has 2 */
	static const uint8_t overlong[] = {0x08, 0x01, 0x62, 0xe8, 0x07, 0x0a, 0x00};
	/* protocol_version sent as a string */
	static const uint8_t wrong_type[] = {0x0a, 0x01, 0x01};
	Rollwave__Envelope *back = NULL;
	struct rw_err err;

	(void)state;
	assert_int_equal(wire_decode(garbage, sizeof(garbage), &back, &err), -EBADMSG);
	assert_int_equal(wire_decode(overlong, sizeof(overlong), &back, &err), -EBADMSG);
	assert_int_equal(wire_decode(wrong_type, sizeof(wrong_type), &back, &err), -EBADMSG);
	assert_null(back);
	assert_int_equal(wire_peek_message_id(garbage, sizeof(garbage)), 0);
}

static void
test_non_canonical_encodings_are_refused(void **state)
{
	_cleanup_free_ struct sample *s = sample_new();
	_cleanup_free_ void *buf = NULL;
	_cleanup_free_ uint8_t *twice = NULL;
	Rollwave__Envelope *back = NULL;
	struct rw_err err;
	uint8_t *at;
	size_t len;

	(void)state;
	/* A NUL inside a string would silently cut it in C. */
	s->facts.hostname = "web-01Xevil";
	pack(use(s, ROLLWAVE__ENVELOPE__BODY_HELLO), &buf, &len);
	at = memmem(buf, len, "web-01X", 7);
	assert_non_null(at);
	at[6] = 0;
	assert_int_equal(wire_decode(buf, len, &back, &err), -EINVAL);
	assert_string_equal(err.msg, "envelope: NUL byte inside string field 'hostname'");

	/* Two bodies: protobuf-c keeps the last one; we keep neither. */
	free(buf);
	buf = NULL;
	pack(use(s, ROLLWAVE__ENVELOPE__BODY_POLL), &buf, &len);
	twice = malloc(len + 3);
	memcpy(twice, buf, len);
	memcpy(twice + len, "\x8a\x01\x00", 3); /* heartbeat_ack = 17, empty */
	assert_int_equal(wire_decode(twice, len + 3, &back, &err), -EINVAL);
	assert_null(back);
}

/* ---- field bounds, one violation at a time --------------------------------------------- */

struct violation {
	const char *expect;
	void (*mutate)(struct sample *s);
};

static char long_text[WIRE_REPORT_TEXT_MAX + 2];

static const char *
text_of(size_t n)
{
	memset(long_text, 'a', n);
	long_text[n] = 0;
	return long_text;
}

static void
hostname_bad_utf8(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->facts.hostname = "web\xff"
	                    "01";
}
static void
hostname_control(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->facts.hostname = "web\x1b[2J";
}
static void
hostname_tab(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->facts.hostname = "web\t01";
}
static void
hostname_c1_control(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->facts.hostname = "web\xc2\x9b"
	                    "01";
}
static void
hostname_overlong_utf8(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->facts.hostname = "web\xc0\xaf";
}
static void
hostname_surrogate(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->facts.hostname = "web\xed\xa0\x80";
}
static void
hostname_too_long(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->facts.hostname = (char *)text_of(WIRE_HOSTNAME_MAX + 1);
}
static void
hostname_missing(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->facts.hostname = "";
}
static void
facts_missing(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->hello.facts = NULL;
}
static void
agent_version_missing(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->facts.agent_version = "";
}
static void
join_token_too_long(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->hello.join_token = (char *)text_of(WIRE_JOIN_TOKEN_MAX + 1);
}
static void
host_key_31_bytes(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->hello.host_key.len = 31;
}
static void
nonce_33_bytes(struct sample *s)
{
	static uint8_t nonce[33];

	use(s, ROLLWAVE__ENVELOPE__BODY_CHALLENGE);
	s->challenge.nonce = (ProtobufCBinaryData) {sizeof(nonce), nonce};
}
static void
auth_signature_63_bytes(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_AUTH);
	s->auth.signature.len = 63;
}
static void
labels_33(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->facts.n_labels = WIRE_LABELS_MAX + 1;
}
static void
label_key_uppercase(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->label_v[1].key = "Zone";
}
static void
label_key_64_bytes(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->label_v[1].key = (char *)text_of(WIRE_LABEL_KEY_MAX + 1);
}
static void
label_value_256_bytes(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->label_v[1].value = (char *)text_of(WIRE_LABEL_VALUE_MAX + 1);
}
static void
label_key_twice(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HELLO);
	s->label_v[1].key = "role";
}
static void
apps_65(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT);
	s->heartbeat.n_apps = WIRE_APPS_MAX + 1;
}
static void
app_twice(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT);
	s->app_v[1].app = "web";
}
static void
app_name_invalid(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT);
	s->app_v[1].app = "Web!";
}
static void
current_version_with_slash(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT);
	s->app_v[1].current = "1.0/../../etc";
}
static void
releases_101(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT);
	s->app_v[0].n_releases = WIRE_RELEASES_MAX + 1;
}
static void
release_invalid(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT);
	s->app_v[0].n_releases = 3;
	s->releases[2] = ".hidden";
}
static void
health_out_of_range(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT);
	s->app_v[0].health = 7;
}
static void
welcome_host_id_zero(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_WELCOME);
	s->welcome.host_id = 0;
}
static void
welcome_state_unknown(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_WELCOME);
	s->welcome.state = ROLLWAVE__HOST_STATE__HOST_STATE_UNKNOWN;
}
static void
welcome_key_missing(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_WELCOME);
	s->welcome.coordinator_key.len = 0;
}
static void
url_ftp(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.manifest_url = "ftp://releases.example.org/web.manifest";
}
static void
url_with_space(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.manifest_url = "https://releases.example.org/web 1.manifest";
}
static void
url_too_long(struct sample *s)
{
	static char url[WIRE_URL_MAX + 2];

	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	memcpy(url, "https://", 8);
	memset(url + 8, 'a', WIRE_URL_MAX + 1 - 8);
	s->command.manifest_url = url;
}
static void
url_empty_after_scheme(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.manifest_url = "file://";
}
static void
command_id_zero(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.command_id = 0;
}
static void
command_kind_unknown(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.kind = 9;
}
static void
command_kind_unspecified(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.kind = ROLLWAVE__COMMAND__KIND__KIND_UNSPECIFIED;
}
static void
command_unsigned(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.signature.len = 0;
}
static void
deploy_command_without_version(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.version = "";
}
static void
rollback_command_with_url(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.kind = ROLLWAVE__COMMAND__KIND__ROLLBACK;
	s->command.version = "";
}
static void
deploy_command_with_to_version(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.to_version = "1.0.0";
}
static void
command_ack_id_zero(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK);
	s->command_ack.command_id = 0;
}
static void
command_ack_reason_newline(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND_ACK);
	s->command_ack.reason = "replay\nforged log line";
}
static void
report_phase_unknown(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT);
	s->phase_report.phase = ROLLWAVE__PHASE__PHASE_UNKNOWN;
}
static void
report_phase_out_of_range(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT);
	s->phase_report.phase = 42;
}
static void
report_hook_output_too_long(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT);
	s->phase_report.hook_output = (char *)text_of(WIRE_REPORT_TEXT_MAX + 1);
}
static void
report_error_escape_sequence(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT);
	s->phase_report.error = "failed\n\x1b]0;pwned\x07";
}
static void
report_version_missing(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_PHASE_REPORT);
	s->phase_report.version = "";
}
static void
error_code_unspecified(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_ERROR);
	s->error.code = ROLLWAVE__ERROR__CODE__CODE_UNSPECIFIED;
}
static void
error_code_out_of_range(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_ERROR);
	s->error.code = 99;
}
static void
error_message_too_long(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_ERROR);
	s->error.message = (char *)text_of(WIRE_TEXT_MAX + 1);
}
static void
admin_deploy_no_hosts(struct sample *s)
{
	use_request(s, ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY);
	s->deploy.n_host_ids = 0;
}
static void
admin_deploy_bad_host_id(struct sample *s)
{
	use_request(s, ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY);
	s->host_ids[1] = 0;
}
static void
admin_deploy_url_scheme(struct sample *s)
{
	use_request(s, ROLLWAVE__ADMIN_REQUEST__REQUEST_DEPLOY);
	s->deploy.manifest_url = "javascript:alert(1)";
}
static void
admin_rollback_bad_version(struct sample *s)
{
	use_request(s, ROLLWAVE__ADMIN_REQUEST__REQUEST_ROLLBACK);
	s->rollback.to_version = "~1";
}
static void
admin_list_events_limit(struct sample *s)
{
	use_request(s, ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_EVENTS);
	s->list_events.limit = WIRE_EVENTS_MAX + 1;
}
static void
admin_selector_control(struct sample *s)
{
	use_request(s, ROLLWAVE__ADMIN_REQUEST__REQUEST_LIST_HOSTS);
	s->list_hosts.selector = "role=web\r\n";
}
static void
admin_get_host_missing_id(struct sample *s)
{
	use_request(s, ROLLWAVE__ADMIN_REQUEST__REQUEST_GET_HOST);
	s->get_host.host_id = 0;
}
static void
host_info_key_missing(struct sample *s)
{
	use_response(s, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST);
	s->host_v.host_key.len = 0;
}
static void
command_host_id_zero(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.host_id = 0;
}
static void
command_cancel_without_target(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.kind = ROLLWAVE__COMMAND__KIND__CANCEL;
	s->command.version = "";
	s->command.manifest_url = "";
}
static void
command_migrate_down_with_url(struct sample *s)
{
	use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND);
	s->command.kind = ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN;
}
static void
host_list_page_goes_back(struct sample *s)
{
	use_response(s, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST);
	s->host_list.next_after_id = s->host_v.id - 1;
}
static void
host_info_agent_version_invalid(struct sample *s)
{
	use_response(s, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_HOST_LIST);
	s->host_v.agent_version = "0.1 beta";
}
static void
app_summary_version_invalid(struct sample *s)
{
	use_response(s, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_APP_LIST);
	s->count_v.version = "";
}
static void
event_action_invalid(struct sample *s)
{
	use_response(s, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_EVENT_LIST);
	s->event_v.action = "Host Accept";
}
static void
event_target_too_long(struct sample *s)
{
	use_response(s, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_EVENT_LIST);
	s->event_v.target = (char *)text_of(WIRE_TARGET_MAX + 1);
}
static void
event_id_zero(struct sample *s)
{
	use_response(s, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_EVENT_LIST);
	s->event_v.id = 0;
}
static void
deploy_result_reason_control(struct sample *s)
{
	use_response(s, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_DEPLOY_RESULT);
	s->result_v.reason = "busy\x7f";
}
static void
admin_error_code_unspecified(struct sample *s)
{
	use_response(s, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ERROR);
	s->error.code = 0;
}
static void
ack_message_bad_utf8(struct sample *s)
{
	use_response(s, ROLLWAVE__ADMIN_RESPONSE__RESPONSE_ACK);
	s->ack.message = "ok\xe2\x82";
}

static const struct violation violations[] = {
        {"envelope.hello.facts.hostname: invalid UTF-8 or control character in 'web\\xff01'",
                hostname_bad_utf8},
        {"envelope.hello.facts.hostname: invalid UTF-8 or control character in "
         "'web\\x1b[2J'",
                hostname_control},
        {"envelope.hello.facts.hostname: invalid UTF-8", hostname_tab},
        {"envelope.hello.facts.hostname: invalid UTF-8", hostname_c1_control},
        {"envelope.hello.facts.hostname: invalid UTF-8", hostname_overlong_utf8},
        {"envelope.hello.facts.hostname: invalid UTF-8", hostname_surrogate},
        {"envelope.hello.facts.hostname: 254 bytes, at most 253 allowed", hostname_too_long},
        {"envelope.hello.facts.hostname: missing", hostname_missing},
        {"envelope.hello.facts: missing", facts_missing},
        {"envelope.hello.facts.agent_version: missing", agent_version_missing},
        {"envelope.hello.join_token: 257 bytes, at most 256 allowed", join_token_too_long},
        {"envelope.hello.host_key: 31 bytes, expected 32", host_key_31_bytes},
        {"envelope.challenge.nonce: 33 bytes, expected 32", nonce_33_bytes},
        {"envelope.auth.signature: 63 bytes, expected 64", auth_signature_63_bytes},
        {"envelope.hello.facts.labels: 33 entries, at most 32 allowed", labels_33},
        {"envelope.hello.facts.labels[1].key: invalid label key 'Zone'", label_key_uppercase},
        {"envelope.hello.facts.labels[1].key: invalid label key", label_key_64_bytes},
        {"envelope.hello.facts.labels[1].value: 256 bytes, at most 255 allowed",
                label_value_256_bytes},
        {"envelope.hello.facts.labels[1].key: 'role' listed twice", label_key_twice},
        {"envelope.heartbeat.apps: 65 entries, at most 64 allowed", apps_65},
        {"envelope.heartbeat.apps[1].app: 'web' listed twice", app_twice},
        {"envelope.heartbeat.apps[1].app: invalid app name 'Web!'", app_name_invalid},
        {"envelope.heartbeat.apps[1].current: invalid version '1.0/../../etc'",
                current_version_with_slash},
        {"envelope.heartbeat.apps[0].releases: 101 entries, at most 100 allowed", releases_101},
        {"envelope.heartbeat.apps[0].releases[2]: invalid version '.hidden'", release_invalid},
        {"envelope.heartbeat.apps[0].health: invalid Health value 7", health_out_of_range},
        {"envelope.welcome.host_id: must be > 0", welcome_host_id_zero},
        {"envelope.welcome.state: invalid HostState value 0", welcome_state_unknown},
        {"envelope.welcome.coordinator_key: 0 bytes, expected 32", welcome_key_missing},
        {"envelope.command.manifest_url: URL 'ftp://releases.example.org/web.manifest' is not "
         "file://, http:// or https://",
                url_ftp},
        {"envelope.command.manifest_url: space, control or non-ASCII byte in URL", url_with_space},
        {"envelope.command.manifest_url: URL of 2049 bytes, at most 2048 allowed", url_too_long},
        {"envelope.command.manifest_url: URL 'file://' names nothing", url_empty_after_scheme},
        {"envelope.command.command_id: must be > 0", command_id_zero},
        {"envelope.command.kind: invalid Kind value 9", command_kind_unknown},
        {"envelope.command.kind: invalid Kind value 0", command_kind_unspecified},
        {"envelope.command.signature: 0 bytes, expected 64", command_unsigned},
        {"envelope.command.version: missing", deploy_command_without_version},
        {"envelope.command.manifest_url: must be empty unless kind is DEPLOY",
                rollback_command_with_url},
        {"envelope.command.to_version: must be empty unless kind is ROLLBACK",
                deploy_command_with_to_version},
        {"envelope.command_ack.command_id: must be > 0", command_ack_id_zero},
        {"envelope.command_ack.reason: invalid UTF-8 or control character in "
         "'replay\\x0aforged log line'",
                command_ack_reason_newline},
        {"envelope.phase_report.phase: invalid Phase value 0", report_phase_unknown},
        {"envelope.phase_report.phase: invalid Phase value 42", report_phase_out_of_range},
        {"envelope.phase_report.hook_output: 16385 bytes, at most 16384 allowed",
                report_hook_output_too_long},
        {"envelope.phase_report.error: invalid UTF-8 or control character",
                report_error_escape_sequence},
        {"envelope.phase_report.version: missing", report_version_missing},
        {"envelope.error.code: invalid Code value 0", error_code_unspecified},
        {"envelope.error.code: invalid Code value 99", error_code_out_of_range},
        {"envelope.error.message: 1025 bytes, at most 1024 allowed", error_message_too_long},
        {"envelope.admin_request.deploy.host_ids: empty, at least 1 entries needed",
                admin_deploy_no_hosts},
        {"envelope.admin_request.deploy.host_ids[1]: must be > 0", admin_deploy_bad_host_id},
        {"envelope.admin_request.deploy.manifest_url: URL 'javascript:alert(1)' is not",
                admin_deploy_url_scheme},
        {"envelope.admin_request.rollback.to_version: invalid version '~1'",
                admin_rollback_bad_version},
        {"envelope.admin_request.list_events.limit: 1001, at most 1000 allowed",
                admin_list_events_limit},
        {"envelope.admin_request.list_hosts.selector: invalid UTF-8 or control character",
                admin_selector_control},
        {"envelope.admin_request.get_host.host_id: must be > 0", admin_get_host_missing_id},
        {"envelope.admin_response.host_list.hosts[0].host_key: 0 bytes, expected 32",
                host_info_key_missing},
        {"envelope.command.host_id: must be > 0", command_host_id_zero},
        {"envelope.command.cancel_command_id: must be > 0", command_cancel_without_target},
        {"envelope.command.manifest_url: must be empty unless kind is DEPLOY, MIGRATE or "
         "PREFLIGHT",
                command_migrate_down_with_url},
        {"envelope.admin_response.host_list.next_after_id: 41 is before host 42",
                host_list_page_goes_back},
        {"envelope.admin_response.host_list.hosts[0].agent_version: invalid version '0.1 "
         "beta'",
                host_info_agent_version_invalid},
        {"envelope.admin_response.app_list.apps[0].versions[0].version: missing",
                app_summary_version_invalid},
        {"envelope.admin_response.event_list.events[0].action: invalid action 'Host Accept'",
                event_action_invalid},
        {"envelope.admin_response.event_list.events[0].id: must be > 0", event_id_zero},
        {"envelope.admin_response.event_list.events[0].target: 256 bytes, at most 255 allowed",
                event_target_too_long},
        {"envelope.admin_response.deploy_result.hosts[0].reason: invalid UTF-8 or control "
         "character in 'busy\\x7f'",
                deploy_result_reason_control},
        {"envelope.admin_response.error.code: invalid Code value 0", admin_error_code_unspecified},
        {"envelope.admin_response.ack.message: invalid UTF-8", ack_message_bad_utf8},
};

static void
test_each_bound_violation_is_refused_naming_the_field(void **state)
{
	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(violations); i++) {
		_cleanup_free_ struct sample *s = sample_new();
		struct rw_err err = {{0}};
		int r;

		violations[i].mutate(s);
		/* Senders see the same verdict before sending... */
		r = wire_validate(&s->env, &err);
		if (r != -EINVAL || !strstr(err.msg, violations[i].expect))
			fail_msg("validate #%zu: expected '%s', got %d: '%s'", i,
			        violations[i].expect, r, err.msg);
		/* ...as receivers after decoding, unless protobuf-c cannot even
		 * carry the mistake (a NULL submessage packs as absent). */
		r = pack_and_decode(&s->env, &err);
		if (r != -EINVAL || !strstr(err.msg, violations[i].expect))
			fail_msg("decode #%zu: expected '%s', got %d: '%s'", i,
			        violations[i].expect, r, err.msg);
		/* The error names the field and is itself valid wire text. */
		assert_true(strlen(err.msg) <= WIRE_TEXT_MAX);
		{
			_cleanup_free_ char *clean = NULL;

			assert_int_equal(wire_text_sanitize(err.msg, strlen(err.msg), WIRE_TEXT_MAX,
			                         false, &clean),
			        0);
			assert_string_equal(clean, err.msg);
		}
	}
}

static void
test_set_body_case_with_null_body_is_refused_before_sending(void **state)
{
	_cleanup_free_ struct sample *s = sample_new();
	struct rw_err err;

	(void)state;
	/* protobuf-c packs a NULL member as absent, so only a sender can make
	 * this mistake: wire_validate() names it. */
	use_request(s, ROLLWAVE__ADMIN_REQUEST__REQUEST_HOST_ACCEPT);
	s->admin_request.host_accept = NULL;
	assert_int_equal(wire_validate(&s->env, &err), -EINVAL);
	assert_string_equal(err.msg, "envelope.admin_request.host_accept: missing");
	s->env.heartbeat = NULL;
	s->env.body_case = ROLLWAVE__ENVELOPE__BODY_HEARTBEAT;
	assert_int_equal(wire_validate(&s->env, &err), -EINVAL);
	assert_string_equal(err.msg, "envelope.heartbeat: missing");
}

/* ---- error replies and text ------------------------------------------------------------- */

static void
test_error_reply_carries_any_message_as_valid_text(void **state)
{
	char hostile[3000];
	_cleanup_free_ void *reply = NULL;
	_cleanup_wire_free_ Rollwave__Envelope *back = NULL;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(hostile) - 1; i++)
		hostile[i] = (char)(1 + i % 255);
	hostile[sizeof(hostile) - 1] = 0;
	assert_int_equal(wire_error_reply(9, -EINVAL, hostile, &reply, &len), 0);
	assert_int_equal(wire_decode(reply, len, &back, NULL), 0);
	assert_int_equal(back->message_id, 9);
	assert_int_equal(back->error->code, ROLLWAVE__ERROR__CODE__INVALID);
	assert_true(strlen(back->error->message) <= WIRE_TEXT_MAX);
	assert_true(strlen(back->error->message) > 900);

	assert_int_equal(wire_error_code_from_errno(-EMSGSIZE), ROLLWAVE__ERROR__CODE__INVALID);
	assert_int_equal(wire_error_code_from_errno(-EBADMSG), ROLLWAVE__ERROR__CODE__INVALID);
	assert_int_equal(wire_error_code_from_errno(-EACCES), ROLLWAVE__ERROR__CODE__UNAUTHORIZED);
	assert_int_equal(wire_error_code_from_errno(-EBUSY), ROLLWAVE__ERROR__CODE__BUSY);
	assert_int_equal(wire_error_code_from_errno(-ENOMEM), ROLLWAVE__ERROR__CODE__INTERNAL);
}

static void
test_error_encode_with_pending_code_and_no_message(void **state)
{
	_cleanup_free_ void *reply = NULL;
	_cleanup_wire_free_ Rollwave__Envelope *back = NULL;
	size_t len;

	(void)state;
	assert_int_equal(
	        wire_error_encode(3, ROLLWAVE__ERROR__CODE__PENDING, NULL, &reply, &len), 0);
	assert_int_equal(wire_decode(reply, len, &back, NULL), 0);
	assert_int_equal(back->error->code, ROLLWAVE__ERROR__CODE__PENDING);
	assert_string_equal(back->error->message, "");
}

static void
test_sanitize_replaces_bad_bytes_and_cuts_at_characters(void **state)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

	(void)state;
	assert_int_equal(wire_text_sanitize("a\x01"
	                                    "b\xff"
	                                    "c\n",
	                         6, 100, false, &a),
	        0);
	assert_string_equal(a, "a?b?c?");
	assert_int_equal(wire_text_sanitize("line1\n\tline2", 12, 100, true, &b), 0);
	assert_string_equal(b, "line1\n\tline2");
	/* "é" is 2 bytes: 5 bytes hold two of them, not half of a third. */
	assert_int_equal(wire_text_sanitize("ééé", 6, 5, false, &c), 0);
	assert_string_equal(c, "éé");
	assert_int_equal(wire_text_sanitize("x\0y", 3, 100, false, &d), 0);
	assert_string_equal(d, "x?y");
}

static void
test_message_id_is_found_in_a_refused_message(void **state)
{
	/* field 7 varint, field 3 fixed64, field 5 fixed32, message_id 300 */
	static const uint8_t msg[] = {
	        0x38, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x2d, 1, 2, 3, 4, 0x10, 0xac, 0x02, 0x0b};
	(void)state;
	assert_int_equal(wire_peek_message_id(msg, sizeof(msg)), 300);
	assert_int_equal(wire_peek_message_id(NULL, 0), 0);
	assert_int_equal(wire_peek_message_id(msg, 3), 0);
}

/* ---- signatures ------------------------------------------------------------------------- */

static void
test_signed_command_verifies_after_the_round_trip(void **state)
{
	_cleanup_free_ struct sample *s = sample_new();
	uint8_t pk[WIRE_KEY_LEN], sk[WIRE_SECRET_KEY_LEN], sig[WIRE_SIGNATURE_LEN];
	_cleanup_free_ void *buf = NULL;
	_cleanup_free_ uint8_t *bytes = NULL;
	_cleanup_wire_free_ Rollwave__Envelope *back = NULL;
	size_t len, n;

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	crypto_sign_keypair(pk, sk);
	assert_int_equal(wire_command_sign(&s->command, sk, sig), 0);
	assert_ptr_equal(s->command.signature.data, sig);
	assert_int_equal(wire_command_verify(&s->command, pk), 0);

	/* The signed bytes: context, then the command without signature. */
	assert_int_equal(wire_command_signing_bytes(&s->command, &bytes, &n), 0);
	assert_memory_equal(bytes, WIRE_COMMAND_CONTEXT, strlen(WIRE_COMMAND_CONTEXT));
	assert_null(memmem(bytes, n, sig, WIRE_SIGNATURE_LEN));

	pack(use(s, ROLLWAVE__ENVELOPE__BODY_COMMAND), &buf, &len);
	assert_int_equal(wire_decode(buf, len, &back, NULL), 0);
	assert_int_equal(wire_command_verify(back->command, pk), 0);
	sodium_memzero(sk, sizeof(sk));
}

static void
test_tampered_command_or_wrong_key_fails_verification(void **state)
{
	_cleanup_free_ struct sample *s = sample_new();
	uint8_t pk[WIRE_KEY_LEN], sk[WIRE_SECRET_KEY_LEN], sig[WIRE_SIGNATURE_LEN];
	uint8_t other_pk[WIRE_KEY_LEN], other_sk[WIRE_SECRET_KEY_LEN];
	Rollwave__Command c;

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(other_pk, other_sk);
	assert_int_equal(wire_command_sign(&s->command, sk, sig), 0);

	c = s->command;
	c.version = "1.4.3";
	assert_int_equal(wire_command_verify(&c, pk), -EBADMSG);
	c = s->command;
	c.app = "api";
	assert_int_equal(wire_command_verify(&c, pk), -EBADMSG);
	c = s->command;
	c.command_id++;
	assert_int_equal(wire_command_verify(&c, pk), -EBADMSG);
	/* A command for host 42 cannot be replayed to host 43. */
	c = s->command;
	c.host_id = 43;
	assert_int_equal(wire_command_verify(&c, pk), -EBADMSG);
	c = s->command;
	c.kind = ROLLWAVE__COMMAND__KIND__ROLLBACK;
	assert_int_equal(wire_command_verify(&c, pk), -EBADMSG);
	c = s->command;
	c.manifest_url = "https://evil.example.org/web/1.4.2.manifest";
	assert_int_equal(wire_command_verify(&c, pk), -EBADMSG);
	c = s->command;
	c.issued_at_ms = 1;
	assert_int_equal(wire_command_verify(&c, pk), -EBADMSG);

	assert_int_equal(wire_command_verify(&s->command, other_pk), -EBADMSG);
	sig[10] ^= 1;
	assert_int_equal(wire_command_verify(&s->command, pk), -EBADMSG);
	sig[10] ^= 1;
	s->command.signature.len = 63;
	assert_int_equal(wire_command_verify(&s->command, pk), -EBADMSG);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(other_sk, sizeof(other_sk));
}

static void
test_auth_signature_binds_nonce_and_coordinator_key(void **state)
{
	uint8_t pk[WIRE_KEY_LEN], sk[WIRE_SECRET_KEY_LEN], sig[WIRE_SIGNATURE_LEN];
	uint8_t nonce[WIRE_NONCE_LEN], coord[WIRE_KEY_LEN], other[WIRE_KEY_LEN];
	uint8_t t[WIRE_AUTH_TRANSCRIPT_LEN];

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	crypto_sign_keypair(pk, sk);
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(coord, sizeof(coord));
	memcpy(other, coord, sizeof(other));
	other[0] ^= 0x80;

	wire_auth_transcript(nonce, coord, t);
	assert_int_equal(sizeof(t), 16 + 32 + 32);
	assert_memory_equal(t, "rollwave-auth-v1", 16);
	assert_memory_equal(t + 16, nonce, 32);
	assert_memory_equal(t + 48, coord, 32);

	assert_int_equal(wire_auth_sign(nonce, coord, sk, sig), 0);
	assert_int_equal(wire_auth_verify(nonce, coord, pk, sig, sizeof(sig)), 0);
	assert_int_equal(wire_auth_verify(nonce, other, pk, sig, sizeof(sig)), -EBADMSG);
	assert_int_equal(wire_auth_verify(nonce, coord, coord, sig, sizeof(sig)), -EBADMSG);
	assert_int_equal(wire_auth_verify(nonce, coord, pk, sig, 63), -EBADMSG);
	nonce[31] ^= 1;
	assert_int_equal(wire_auth_verify(nonce, coord, pk, sig, sizeof(sig)), -EBADMSG);
	sodium_memzero(sk, sizeof(sk));
}

/* ---- seed corpus ------------------------------------------------------------------------ */

static int
write_corpus(const char *dir)
{
	uint8_t pk[WIRE_KEY_LEN], sk[WIRE_SECRET_KEY_LEN], sig[WIRE_SIGNATURE_LEN];
	int r;

	if (sodium_init() < 0)
		return 1;
	crypto_sign_seed_keypair(pk, sk, (const uint8_t *)"rollwave fuzz corpus seed key 32");
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		_cleanup_free_ struct sample *s = sample_new();
		_cleanup_free_ void *buf = NULL;
		char path[4096];
		size_t len;

		if (!s)
			return 1;
		if (wire_command_sign(&s->command, sk, sig) < 0 ||
		        wire_encode(use_kind(s, &kinds[i]), &buf, &len) < 0 ||
		        wire_validate(&s->env, NULL) < 0)
			return 1;
		snprintf(path, sizeof(path), "%s/%s.bin", dir, kinds[i].name);
		r = write_file_atomic(path, buf, len, 0644);
		if (r < 0) {
			fprintf(stderr, "%s: %s\n", path, strerror(-r));
			return 1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_body_type_round_trips_byte_for_byte),
	        cmocka_unit_test(test_decoded_fields_keep_their_values),
	        cmocka_unit_test(test_values_at_their_bounds_are_accepted),
	        cmocka_unit_test(test_truncated_message_is_refused_at_every_cut),
	        cmocka_unit_test(test_random_garbage_is_refused_or_canonical),
	        cmocka_unit_test(test_oversized_message_is_refused_before_unpacking),
	        cmocka_unit_test(test_message_that_unpacks_into_too_much_memory_is_refused),
	        cmocka_unit_test(test_other_protocol_version_is_refused_with_its_own_code),
	        cmocka_unit_test(test_unset_or_unknown_body_is_refused_as_unknown_type),
	        cmocka_unit_test(test_undecodable_bytes_are_refused_as_bad_message),
	        cmocka_unit_test(test_non_canonical_encodings_are_refused),
	        cmocka_unit_test(test_each_bound_violation_is_refused_naming_the_field),
	        cmocka_unit_test(test_set_body_case_with_null_body_is_refused_before_sending),
	        cmocka_unit_test(test_error_reply_carries_any_message_as_valid_text),
	        cmocka_unit_test(test_error_encode_with_pending_code_and_no_message),
	        cmocka_unit_test(test_sanitize_replaces_bad_bytes_and_cuts_at_characters),
	        cmocka_unit_test(test_message_id_is_found_in_a_refused_message),
	        cmocka_unit_test(test_signed_command_verifies_after_the_round_trip),
	        cmocka_unit_test(test_tampered_command_or_wrong_key_fails_verification),
	        cmocka_unit_test(test_auth_signature_binds_nonce_and_coordinator_key),
	};

	if (argc == 3 && streq(argv[1], "--write-corpus"))
		return write_corpus(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
