/*
 * test_link: what the agent tells the coordinator (host facts and heartbeats
 * built from a real StateDirectory and apps config), how it judges a command
 * (signature with the pinned key, bound to this host's id, known kinds,
 * replay guard, busy but for a CANCEL), the link's memory in
 * the state file, labels, and one request/reply over a real nng socket on
 * loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <poll.h>
#include <sodium.h>
#include <sys/stat.h>

#include "config.h"
#include "link.h"
#include "state.h"
#include "wire.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/var/tmp/rw-test-link.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return rm_rf_at(AT_FDCWD, dir);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* An agent.conf with two apps: web (two releases, current 1.1) and api
 * (configured, nothing installed). */
static void
make_host(struct agent_config *c)
{
	char path[PATH_MAX], text[1024];
	struct rw_err err = {{0}};

	snprintf(path, sizeof(path), "%s/apps", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/srv/web/releases/1.0", dir);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/srv/web/releases/1.1", dir);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/srv/web/current", dir);
	assert_int_equal(symlink("releases/1.1", path), 0);
	snprintf(path, sizeof(path), "%s/apps/web.conf", dir);
	snprintf(text, sizeof(text), "[App]\nName=web\nRoot=%s/srv/web\n", dir);
	write_text(path, text);
	snprintf(path, sizeof(path), "%s/apps/api.conf", dir);
	snprintf(text, sizeof(text), "[App]\nName=api\nRoot=%s/srv/api\n", dir);
	write_text(path, text);

	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	snprintf(text, sizeof(text),
	        "[Agent]\nStateDirectory=%s/state\nAppsDirectory=%s/apps\n"
	        "Labels=datacenter=fra ring=0\nLabels=color=blue\n",
	        dir, dir);
	write_text(path, text);
	assert_int_equal(agent_config_load(path, c, &err), 0);
}

static void
test_facts_report_hostname_labels_and_apps_from_state_and_layout(void **state)
{
	(void)state;
	struct agent_config c;
	struct rw_err err = {{0}};
	struct app_record rec = {.current = "1.1", .previous = "1.0", .health = "healthy"};
	struct link_facts f;
	struct state *s;
	Rollwave__AppStatus *api, *web;

	make_host(&c);
	assert_int_equal(state_open(c.state_dir, &s, &err), 0);
	assert_int_equal(state_set_app(s, "web", &rec), 0);

	assert_int_equal(link_facts_collect(&c, s, &f, &err), 0);
	assert_true(strlen(f.facts.hostname) > 0);
	assert_string_equal(f.facts.agent_version, ROLLWAVE_VERSION);
	assert_int_equal(f.facts.n_labels, 3);
	assert_string_equal(f.facts.labels[0]->key, "datacenter");
	assert_string_equal(f.facts.labels[0]->value, "fra");
	assert_string_equal(f.facts.labels[2]->key, "color");
	assert_int_equal(f.facts.n_apps, 2);
	api = f.facts.apps[0];
	web = f.facts.apps[1];
	assert_string_equal(api->app, "api");
	assert_string_equal(api->current, "");
	assert_int_equal(api->health, ROLLWAVE__HEALTH__HEALTH_UNKNOWN);
	assert_int_equal(api->n_releases, 0);
	assert_string_equal(web->app, "web");
	assert_string_equal(web->current, "1.1");
	assert_string_equal(web->previous, "1.0");
	assert_int_equal(web->health, ROLLWAVE__HEALTH__HEALTH_HEALTHY);
	assert_int_equal(web->n_releases, 2);
	assert_string_equal(web->releases[0], "1.1");
	assert_string_equal(web->releases[1], "1.0");

	/* What the coordinator's decoder will say about it. */
	{
		uint8_t pk[32] = {1};
		Rollwave__Hello hello = ROLLWAVE__HELLO__INIT;
		Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
		Rollwave__Envelope *back = NULL;
		void *buf = NULL;
		size_t len;

		hello.host_key.len = sizeof(pk);
		hello.host_key.data = pk;
		hello.join_token = (char *)"secret-token-123";
		hello.facts = &f.facts;
		env.protocol_version = WIRE_PROTOCOL_VERSION;
		env.message_id = 1;
		env.body_case = ROLLWAVE__ENVELOPE__BODY_HELLO;
		env.hello = &hello;
		assert_int_equal(wire_validate(&env, &err), 0);
		assert_int_equal(wire_encode(&env, &buf, &len), 0);
		assert_int_equal(wire_decode(buf, len, &back, &err), 0);
		assert_string_equal(back->hello->facts->apps[1]->current, "1.1");
		wire_free(back);
		free(buf);
	}
	link_facts_done(&f);

	/* A health recorded for another release than the live one is not
	 * reported as this release's health. */
	rec = (struct app_record) {.current = "1.0", .previous = "", .health = "unhealthy"};
	assert_int_equal(state_set_app(s, "web", &rec), 0);
	assert_int_equal(link_facts_collect(&c, s, &f, &err), 0);
	assert_int_equal(f.facts.apps[1]->health, ROLLWAVE__HEALTH__HEALTH_UNKNOWN);
	link_facts_done(&f);
	state_close(s);
	agent_config_done(&c);
}

static void
test_heartbeat_carries_apps_and_validates(void **state)
{
	(void)state;
	struct agent_config c;
	struct rw_err err = {{0}};
	Rollwave__AppStatus **apps = NULL;
	Rollwave__Heartbeat hb = ROLLWAVE__HEARTBEAT__INIT;
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	size_t n = 0;

	make_host(&c);
	/* No state file yet: previous and health are simply unknown. */
	assert_int_equal(link_apps_collect(&c, NULL, &apps, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(apps[1]->current, "1.1");
	assert_string_equal(apps[1]->previous, "");
	hb.seq = 7;
	hb.uptime_ms = 1234;
	hb.n_apps = n;
	hb.apps = apps;
	env.protocol_version = WIRE_PROTOCOL_VERSION;
	env.message_id = 2;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	assert_int_equal(wire_validate(&env, &err), 0);
	link_apps_free(apps, n);
	agent_config_done(&c);
}

static void
test_apps_of_an_empty_host(void **state)
{
	(void)state;
	struct agent_config c = {0};
	struct rw_err err = {{0}};
	Rollwave__AppStatus **apps = NULL;
	size_t n = 99;

	snprintf(c.apps_dir, sizeof(c.apps_dir), "%s/none", dir);
	assert_int_equal(link_apps_collect(&c, NULL, &apps, &n, &err), 0);
	assert_int_equal(n, 0);
	link_apps_free(apps, n);
}

struct signed_command {
	Rollwave__Command cmd;
	uint8_t pk[32], sk[64], sig[64];
};

static void
make_command(struct signed_command *s, uint64_t id)
{
	Rollwave__Command init = ROLLWAVE__COMMAND__INIT;

	s->cmd = init;
	s->cmd.command_id = id;
	s->cmd.issued_at_ms = 1700000000000ULL;
	s->cmd.kind = ROLLWAVE__COMMAND__KIND__DEPLOY;
	s->cmd.host_id = 7;
	s->cmd.app = (char *)"web";
	s->cmd.version = (char *)"1.2";
	s->cmd.manifest_url = (char *)"https://releases.example/web-1.2.manifest";
	crypto_sign_keypair(s->pk, s->sk);
	assert_int_equal(wire_command_sign(&s->cmd, s->sk, s->sig), 0);
}

static void
test_command_signed_by_pinned_key_runs(void **state)
{
	(void)state;
	struct signed_command s;
	char reason[256];

	make_command(&s, 5);
	assert_int_equal(link_command_check(&s.cmd, s.pk, 7, 4, false, reason, sizeof(reason)),
	        LINK_COMMAND_RUN);
	assert_string_equal(reason, "");
}

static void
test_command_with_other_key_or_no_pin_is_refused(void **state)
{
	(void)state;
	struct signed_command s;
	uint8_t other_pk[32], other_sk[64];
	char reason[256];

	make_command(&s, 5);
	crypto_sign_keypair(other_pk, other_sk);
	assert_int_equal(link_command_check(&s.cmd, other_pk, 7, 0, false, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
	assert_non_null(strstr(reason, "pinned coordinator key"));
	assert_int_equal(link_command_check(&s.cmd, NULL, 7, 0, false, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
	assert_non_null(strstr(reason, "no coordinator key pinned"));
	/* Any field changed after signing: refused, even a replayed id. */
	s.cmd.version = (char *)"6.6.6";
	assert_int_equal(link_command_check(&s.cmd, s.pk, 7, 100, false, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
}

static void
test_replayed_command_is_acknowledged_not_run(void **state)
{
	(void)state;
	struct signed_command s;
	char reason[256];

	make_command(&s, 5);
	assert_int_equal(link_command_check(&s.cmd, s.pk, 7, 5, false, reason, sizeof(reason)),
	        LINK_COMMAND_REPLAY);
	assert_string_equal(reason, "already executed");
	assert_int_equal(link_command_check(&s.cmd, s.pk, 7, 9, true, reason, sizeof(reason)),
	        LINK_COMMAND_REPLAY);
}

static void
test_command_while_busy_is_refused(void **state)
{
	(void)state;
	struct signed_command s;
	char reason[256];

	make_command(&s, 6);
	assert_int_equal(link_command_check(&s.cmd, s.pk, 7, 5, true, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
	assert_string_equal(reason, "busy");
}

/* Re-signs s->cmd after a field changed (the coordinator would). */
static void
resign(struct signed_command *s)
{
	s->cmd.signature.len = 0;
	s->cmd.signature.data = NULL;
	assert_int_equal(wire_command_sign(&s->cmd, s->sk, s->sig), 0);
}

static void
test_command_for_another_host_is_refused_naming_both_ids(void **state)
{
	(void)state;
	struct signed_command s;
	char reason[256];

	make_command(&s, 5); /* for host 7 */
	assert_int_equal(link_command_check(&s.cmd, s.pk, 8, 0, false, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
	assert_string_equal(reason, "command is for host 7, but this agent is host 8");
	/* Before any Welcome there is no id to match. */
	assert_int_equal(link_command_check(&s.cmd, s.pk, 0, 0, false, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
	assert_non_null(strstr(reason, "no host id yet"));
	/* Not even as a replay: the host check comes first. */
	assert_int_equal(link_command_check(&s.cmd, s.pk, 8, 100, false, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
	/* host_id is in the signed bytes: the same command pointed at host 8
	 * without the coordinator's key does not verify. */
	s.cmd.host_id = 8;
	assert_int_equal(link_command_check(&s.cmd, s.pk, 8, 0, false, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
	assert_non_null(strstr(reason, "signature does not verify"));
	/* Signed for host 8 by the coordinator, it runs there. */
	resign(&s);
	assert_int_equal(link_command_check(&s.cmd, s.pk, 8, 0, false, reason, sizeof(reason)),
	        LINK_COMMAND_RUN);
	assert_int_equal(link_command_check(&s.cmd, s.pk, 7, 0, false, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
	assert_string_equal(reason, "command is for host 8, but this agent is host 7");
}

static void
test_every_known_kind_runs_and_an_unknown_one_is_refused(void **state)
{
	(void)state;
	static const Rollwave__Command__Kind kinds[] = {
	        ROLLWAVE__COMMAND__KIND__DEPLOY,
	        ROLLWAVE__COMMAND__KIND__ROLLBACK,
	        ROLLWAVE__COMMAND__KIND__MIGRATE,
	        ROLLWAVE__COMMAND__KIND__MIGRATE_DOWN,
	        ROLLWAVE__COMMAND__KIND__PREFLIGHT,
	        ROLLWAVE__COMMAND__KIND__CANCEL,
	};
	struct signed_command s;
	char reason[256];

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		make_command(&s, 5);
		s.cmd.kind = kinds[i];
		s.cmd.cancel_command_id = kinds[i] == ROLLWAVE__COMMAND__KIND__CANCEL ? 4 : 0;
		resign(&s);
		assert_int_equal(
		        link_command_check(&s.cmd, s.pk, 7, 4, false, reason, sizeof(reason)),
		        LINK_COMMAND_RUN);
	}
	make_command(&s, 5);
	s.cmd.kind = (Rollwave__Command__Kind)42;
	resign(&s);
	assert_int_equal(link_command_check(&s.cmd, s.pk, 7, 4, false, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
	assert_non_null(strstr(reason, "unknown command kind 42"));
}

static void
test_cancel_is_judged_while_busy(void **state)
{
	(void)state;
	struct signed_command s;
	char reason[256];

	make_command(&s, 6);
	s.cmd.kind = ROLLWAVE__COMMAND__KIND__CANCEL;
	s.cmd.version = (char *)"";
	s.cmd.manifest_url = (char *)"";
	s.cmd.cancel_command_id = 5;
	resign(&s);
	assert_int_equal(link_command_check(&s.cmd, s.pk, 7, 5, true, reason, sizeof(reason)),
	        LINK_COMMAND_RUN);
	assert_string_equal(reason, "");
	/* A replayed CANCEL is a replay, busy or not. */
	assert_int_equal(link_command_check(&s.cmd, s.pk, 7, 6, true, reason, sizeof(reason)),
	        LINK_COMMAND_REPLAY);
	/* Every other kind waits for the running one. */
	s.cmd.kind = ROLLWAVE__COMMAND__KIND__PREFLIGHT;
	s.cmd.cancel_command_id = 0;
	resign(&s);
	assert_int_equal(link_command_check(&s.cmd, s.pk, 7, 5, true, reason, sizeof(reason)),
	        LINK_COMMAND_REFUSE);
	assert_string_equal(reason, "busy");
}

static int
collect_report(void *userdata, const struct state_report *rep)
{
	static char hook_output[STATE_REPORTS_MAX + 2][64];
	struct state_report *out = userdata;
	size_t i = 0;

	while (out[i].command_id)
		i++;
	out[i] = *rep;
	/* Valid during the callback only: keep a copy. */
	snprintf(hook_output[i], sizeof(hook_output[i]), "%s", rep->hook_output);
	out[i].hook_output = hook_output[i];
	return 0;
}

static void
test_state_keeps_command_id_and_undelivered_results(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct state_report rep = {.command_id = 3,
	                            .app = "web",
	                            .version = "1.2",
	                            .phase = 8,
	                            .elapsed_ms = 42,
	                            .error = "unhealthy: probe failed",
	                            .hook_output = "== hook 'validate' ==\nno\n"},
	                    got[STATE_REPORTS_MAX + 2];
	struct state *s;
	uint64_t id;

	assert_int_equal(state_open(dir, &s, &err), 0);
	assert_int_equal(state_command_id_get(s, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(state_command_id_set(s, 7), 0);
	assert_int_equal(state_command_id_set(s, 5), 0); /* never lowered */
	assert_int_equal(state_report_add(s, &rep), 0);
	rep.command_id = 7;
	rep.phase = 7;
	rep.error[0] = 0;
	rep.hook_output = NULL;
	rep.hook_absent = true;
	rep.provisional = 2; /* a command that started: the agent may die */
	assert_int_equal(state_report_add(s, &rep), 0);
	state_close(s);

	/* As after a restart. */
	assert_int_equal(state_open(dir, &s, &err), 0);
	assert_int_equal(state_command_id_get(s, &id), 0);
	assert_int_equal(id, 7);
	memset(got, 0, sizeof(got));
	assert_int_equal(state_report_foreach(s, collect_report, got), 0);
	assert_int_equal(got[0].command_id, 3);
	assert_string_equal(got[0].error, "unhealthy: probe failed");
	assert_int_equal(got[0].elapsed_ms, 42);
	assert_string_equal(got[0].hook_output, "== hook 'validate' ==\nno\n");
	assert_false(got[0].hook_absent);
	assert_int_equal(got[0].provisional, 0);
	assert_int_equal(got[1].command_id, 7);
	assert_string_equal(got[1].hook_output, "");
	assert_true(got[1].hook_absent);
	assert_int_equal(got[1].provisional, 2);
	assert_int_equal(got[2].command_id, 0);
	assert_int_equal(state_report_delete(s, 3), 0);
	memset(got, 0, sizeof(got));
	assert_int_equal(state_report_foreach(s, collect_report, got), 0);
	assert_int_equal(got[0].command_id, 7);
	assert_int_equal(got[1].command_id, 0);

	/* Bounded: only the newest results are kept. */
	for (uint64_t i = 100; i < 100 + STATE_REPORTS_MAX + 1; i++) {
		rep.command_id = i;
		assert_int_equal(state_report_add(s, &rep), 0);
	}
	memset(got, 0, sizeof(got));
	assert_int_equal(state_report_foreach(s, collect_report, got), 0);
	assert_int_equal(got[0].command_id, 101);
	assert_int_equal(got[STATE_REPORTS_MAX - 1].command_id, 100 + STATE_REPORTS_MAX);
	assert_int_equal(got[STATE_REPORTS_MAX].command_id, 0);
	state_close(s);
}

static void
expect_label_error(const char *value, const char *msg)
{
	struct agent_label labels[AGENT_LABELS_MAX];
	struct rw_err err = {{0}};
	size_t n = 0;

	assert_true(agent_labels_parse(value, labels, &n, &err) < 0);
	if (!strstr(err.msg, msg))
		fail_msg("labels '%s': got '%s', want '%s'", value, err.msg, msg);
	assert_int_equal(n, 0);
}

static void
test_labels_parse_and_refuse_bad_ones(void **state)
{
	(void)state;
	struct agent_label labels[AGENT_LABELS_MAX];
	struct rw_err err = {{0}};
	char many[2048] = "", key[80];
	size_t n = 0;

	assert_int_equal(agent_labels_parse("datacenter=fra ring=0 color=", labels, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(labels[1].key, "ring");
	assert_string_equal(labels[1].value, "0");
	assert_string_equal(labels[2].value, "");
	/* Appending a key that exists is an error and changes nothing. */
	assert_true(agent_labels_parse("x=1 ring=1", labels, &n, &err) < 0);
	assert_non_null(strstr(err.msg, "label 'ring' is set twice"));
	assert_int_equal(n, 3);

	expect_label_error("ring", "label 'ring' is not key=value");
	expect_label_error("=x", "invalid label key ''");
	expect_label_error("Ring=0", "invalid label key 'Ring'");
	expect_label_error("a/b=0", "invalid label key 'a/b'");
	memset(key, 'k', 64);
	key[64] = 0;
	strcat(key, "=1");
	expect_label_error(key, "invalid label key");
	{
		char longval[300] = "k=";

		memset(longval + 2, 'v', 256);
		longval[258] = 0;
		expect_label_error(longval, "value of label 'k' is longer than 255 bytes");
	}
	for (int i = 0; i < AGENT_LABELS_MAX + 1; i++) {
		char w[16];

		snprintf(w, sizeof(w), "k%d=v ", i);
		strcat(many, w);
	}
	expect_label_error(many, "too many labels (at most 32)");
}

static void
test_coordinator_urls(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	char host[256];
	bool tls;

	assert_int_equal(agent_coordinator_url_parse(
	                         "tls+tcp://coord.example:7400", &tls, host, sizeof(host), &err),
	        0);
	assert_true(tls);
	assert_string_equal(host, "coord.example");
	assert_int_equal(
	        agent_coordinator_url_parse("tcp://[::1]:7400", &tls, host, sizeof(host), &err), 0);
	assert_false(tls);
	assert_string_equal(host, "::1");
	assert_true(agent_coordinator_url_parse("https://x:1", &tls, host, sizeof(host), &err) < 0);
	assert_true(agent_coordinator_url_parse("tcp://x", &tls, host, sizeof(host), &err) < 0);
	assert_true(agent_coordinator_url_parse("tcp://x:0", &tls, host, sizeof(host), &err) < 0);
	assert_true(agent_coordinator_url_parse("tcp://:80", &tls, host, sizeof(host), &err) < 0);
	assert_true(
	        agent_coordinator_url_parse("tcp://a b:80", &tls, host, sizeof(host), &err) < 0);
}

static void
test_link_refuses_plain_tcp_without_insecure_and_a_missing_ca(void **state)
{
	(void)state;
	struct agent_config c = {0};
	struct rw_err err = {{0}};
	struct link *l = NULL;

	strcpy(c.coordinator, "tcp://127.0.0.1:9");
	assert_int_equal(link_open(&c, &l, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "Insecure=yes"));
	strcpy(c.coordinator, "tls+tcp://localhost:9");
	snprintf(c.tls_ca, sizeof(c.tls_ca), "%s/missing-ca.crt", dir);
	assert_true(link_open(&c, &l, &err) < 0);
	assert_non_null(strstr(err.msg, "missing-ca.crt"));
}

static struct link_event *
wait_event(struct link *l)
{
	struct pollfd p = {.fd = link_fd(l), .events = POLLIN};
	struct link_event *ev;

	for (int i = 0; i < 100; i++) {
		ev = link_event_next(l);
		if (ev)
			return ev;
		(void)poll(&p, 1, 100);
	}
	return NULL;
}

/* Answers one request on rep with body (a HeartbeatAck) and checks what
 * came in. */
static void
answer_one(nng_socket rep, Rollwave__Envelope__BodyCase expect)
{
	Rollwave__HeartbeatAck ack = ROLLWAVE__HEARTBEAT_ACK__INIT;
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT, *in = NULL;
	struct rw_err err = {{0}};
	void *buf = NULL;
	size_t len;
	nng_msg *m;

	assert_int_equal(nng_recvmsg(rep, &m, 0), 0);
	assert_int_equal(wire_decode(nng_msg_body(m), nng_msg_len(m), &in, &err), 0);
	assert_int_equal(in->body_case, expect);
	env.protocol_version = WIRE_PROTOCOL_VERSION;
	env.message_id = in->message_id;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK;
	env.heartbeat_ack = &ack;
	assert_int_equal(wire_encode(&env, &buf, &len), 0);
	nng_msg_clear(m);
	assert_int_equal(nng_msg_append(m, buf, len), 0);
	assert_int_equal(nng_sendmsg(rep, m, 0), 0);
	free(buf);
	wire_free(in);
}

static void
test_link_round_trip_over_real_nng(void **state)
{
	(void)state;
	struct agent_config c = {0};
	struct rw_err err = {{0}};
	Rollwave__Heartbeat hb = ROLLWAVE__HEARTBEAT__INIT;
	Rollwave__Envelope env = ROLLWAVE__ENVELOPE__INIT;
	struct link_event *ev;
	struct link *l = NULL;
	nng_listener lst;
	nng_socket rep;
	int port, saw_up = 0;

	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(nng_socket_set_ms(rep, NNG_OPT_RECVTIMEO, 5000), 0);
	assert_int_equal(nng_listen(rep, "tcp://127.0.0.1:0", &lst, 0), 0);
	assert_int_equal(nng_listener_get_int(lst, NNG_OPT_TCP_BOUND_PORT, &port), 0);
	snprintf(c.coordinator, sizeof(c.coordinator), "tcp://127.0.0.1:%d", port);
	c.insecure = true;
	assert_int_equal(link_open(&c, &l, &err), 0);

	env.protocol_version = WIRE_PROTOCOL_VERSION;
	env.message_id = 1;
	env.body_case = ROLLWAVE__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	assert_false(link_busy(l, LINK_REPORT));
	assert_int_equal(link_request(l, LINK_REPORT, &env, 5000), 0);
	assert_true(link_busy(l, LINK_REPORT));
	assert_int_equal(link_request(l, LINK_REPORT, &env, 5000), -EBUSY);
	answer_one(rep, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT);
	for (;;) {
		ev = wait_event(l);
		assert_non_null(ev);
		if (ev->kind == LINK_EVENT_PIPE_UP) {
			saw_up++;
			link_event_free(ev);
			continue;
		}
		break;
	}
	assert_int_equal(ev->kind, LINK_EVENT_REPLY);
	assert_int_equal(ev->channel, LINK_REPORT);
	assert_int_equal(ev->error, 0);
	assert_int_equal(ev->reply->body_case, ROLLWAVE__ENVELOPE__BODY_HEARTBEAT_ACK);
	assert_int_equal(ev->reply->message_id, 1);
	link_event_free(ev);
	assert_int_equal(saw_up, 1);
	assert_false(link_busy(l, LINK_REPORT));

	/* No answer in time: the request ends with -ETIMEDOUT. */
	assert_int_equal(link_request(l, LINK_POLL, &env, 200), 0);
	ev = wait_event(l);
	assert_non_null(ev);
	assert_int_equal(ev->channel, LINK_POLL);
	assert_int_equal(ev->error, -ETIMEDOUT);
	link_event_free(ev);

	/* The coordinator goes away: the pipe goes down. */
	nng_close(rep);
	ev = wait_event(l);
	assert_non_null(ev);
	assert_int_equal(ev->kind, LINK_EVENT_PIPE_DOWN);
	link_event_free(ev);
	link_close(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_facts_report_hostname_labels_and_apps_from_state_and_layout, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                test_heartbeat_carries_apps_and_validates, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_apps_of_an_empty_host, setup, teardown),
	        cmocka_unit_test(test_command_signed_by_pinned_key_runs),
	        cmocka_unit_test(test_command_with_other_key_or_no_pin_is_refused),
	        cmocka_unit_test(test_replayed_command_is_acknowledged_not_run),
	        cmocka_unit_test(test_command_while_busy_is_refused),
	        cmocka_unit_test(test_command_for_another_host_is_refused_naming_both_ids),
	        cmocka_unit_test(test_every_known_kind_runs_and_an_unknown_one_is_refused),
	        cmocka_unit_test(test_cancel_is_judged_while_busy),
	        cmocka_unit_test_setup_teardown(
	                test_state_keeps_command_id_and_undelivered_results, setup, teardown),
	        cmocka_unit_test(test_labels_parse_and_refuse_bad_ones),
	        cmocka_unit_test(test_coordinator_urls),
	        cmocka_unit_test_setup_teardown(
	                test_link_refuses_plain_tcp_without_insecure_and_a_missing_ca, setup,
	                teardown),
	        cmocka_unit_test(test_link_round_trip_over_real_nng),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
