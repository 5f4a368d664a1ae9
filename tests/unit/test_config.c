/*
 * test_config: agent.conf and apps/<app>.conf parsing, durations, the INI
 * parser's error locations and version ordering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "config.h"
#include "ini.h"
#include "version.h"

static int
parse_app(const char *text, struct app_config *ret, struct rw_err *err)
{
	return app_config_parse("web.conf", text, strlen(text), ret, err);
}

static void
test_app_config_full_parses_every_key(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct app_config c;
	const char *text = "[App]\nName=web\nRoot=/srv/web/\nUnits=web.service worker@1.service\n"
	                   "KeepReleases=7\nSharedDirs=log data/uploads\n\n[Health]\n"
	                   "HttpGet=http://127.0.0.1:8080/health\nHttpGet=https://x/y\n"
	                   "TcpConnect=127.0.0.1:5432\nExec=/bin/check --fast arg\n"
	                   "MinHealthy=250ms\nDeadline=2m\nInterval=1s\nProbeTimeout=3s\n"
	                   "[Hooks]\nTimeout=1h\n";

	assert_int_equal(parse_app(text, &c, &err), 0);
	assert_string_equal(c.name, "web");
	assert_string_equal(c.root, "/srv/web");
	assert_int_equal(strv_length(c.units), 2);
	assert_string_equal(c.units[1], "worker@1.service");
	assert_int_equal(c.keep_releases, 7);
	assert_string_equal(c.shared_dirs[1], "data/uploads");
	assert_int_equal(strv_length(c.http_get), 2);
	assert_string_equal(c.exec[0], "/bin/check --fast arg");
	assert_int_equal(c.min_healthy_usec, 250 * USEC_PER_MSEC);
	assert_int_equal(c.deadline_usec, 120 * USEC_PER_SEC);
	assert_int_equal(c.probe_timeout_usec, 3 * USEC_PER_SEC);
	assert_int_equal(c.hook_timeout_usec, 3600 * USEC_PER_SEC);
	app_config_done(&c);
}

static void
test_app_config_defaults(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct app_config c;

	assert_int_equal(parse_app("[App]\nName=web\nRoot=/srv/web\n", &c, &err), 0);
	assert_int_equal(c.keep_releases, 5);
	assert_int_equal(c.min_healthy_usec, 10 * USEC_PER_SEC);
	assert_int_equal(c.deadline_usec, 120 * USEC_PER_SEC);
	assert_null(c.units);
	app_config_done(&c);
}

static void
test_app_config_empty_assignment_resets_list(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct app_config c;

	assert_int_equal(parse_app("[App]\nName=web\nRoot=/r\nUnits=a.service\nUnits=\n"
	                           "Units=b.service\n",
	                         &c, &err),
	        0);
	assert_int_equal(strv_length(c.units), 1);
	assert_string_equal(c.units[0], "b.service");
	app_config_done(&c);
}

static void
expect_app_error(const char *text, const char *message)
{
	struct rw_err err = {{0}};
	struct app_config c;

	assert_true(parse_app(text, &c, &err) < 0);
	if (!strstr(err.msg, message))
		fail_msg("error '%s' lacks '%s'", err.msg, message);
}

static void
test_app_config_unknown_key_names_file_and_line(void **state)
{
	(void)state;
	expect_app_error("[App]\nName=web\nRoot=/r\nUnitz=a.service\n",
	        "web.conf:4: unknown key 'Unitz' in [App]");
	expect_app_error("[App]\nName=web\n[Helth]\nX=1\n", "web.conf:4: unknown section [Helth]");
}

static void
test_app_config_rejects_bad_values(void **state)
{
	(void)state;
	expect_app_error("[App]\nName=web\nRoot=/r\n[Health]\nDeadline=10 s\n",
	        "web.conf:5: invalid duration '10 s' for Deadline=");
	expect_app_error(
	        "[App]\nName=web\nRoot=/r\n[Health]\nMinHealthy=-1s\n", "invalid duration '-1s'");
	expect_app_error("[App]\nName=web\nRoot=relative\n", "Root= must be an absolute path");
	expect_app_error("[App]\nName=web\nRoot=/srv/../etc\n", "must not contain '..'");
	expect_app_error("[App]\nName=Web!\n", "invalid app name 'Web!'");
	expect_app_error("[App]\nName=web\nRoot=/r\nUnits=web\n", "invalid unit name 'web'");
	expect_app_error("[App]\nName=web\nRoot=/r\nKeepReleases=1\n",
	        "KeepReleases= must be an integer from 2 to 1000");
	expect_app_error(
	        "[App]\nName=web\nRoot=/r\nSharedDirs=../x\n", "invalid shared dir '../x'");
	expect_app_error("[App]\nName=web\nRoot=/r\nSharedDirs=data data/sub\n",
	        "shared dirs 'data' and 'data/sub' overlap");
	expect_app_error("[App]\nName=web\nRoot=/r\n[Health]\nHttpGet=ftp://x\n",
	        "HttpGet= takes http:// or https:// URLs");
	expect_app_error("[App]\nName=web\nRoot=/r\n[Health]\nTcpConnect=host\n",
	        "TcpConnect= takes HOST:PORT");
	expect_app_error("[App]\nName=web\nRoot=/r\n[Health]\nMinHealthy=5m\nDeadline=1m\n",
	        "MinHealthy= is longer than Deadline=");
	expect_app_error("[App]\nRoot=/r\n", "Name= is required");
	expect_app_error("[App]\nName=web\n", "Root= is required");
	expect_app_error("Name=web\n", "web.conf:1: 'Name' outside of any [Section]");
	expect_app_error("[App]\nName web\n", "web.conf:2: expected Key=Value");
	expect_app_error("[App]\nName=w\x01\n", "web.conf:2: invalid UTF-8, NUL or control");
}

static void
test_agent_config_loads_and_refuses_unknown_keys(void **state)
{
	(void)state;
	char dir[] = "/var/tmp/rw-test-config.XXXXXX", path[256];
	struct agent_config c;
	struct rw_err err = {{0}};
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[Agent]\nStateDirectory=/srv/state\nTrustedKeys=/k/a.pub /k/b.pub\n", f);
	fclose(f);
	assert_int_equal(agent_config_load(path, &c, &err), 0);
	assert_string_equal(c.state_dir, "/srv/state");
	assert_string_equal(c.apps_dir, AGENT_APPS_DIR_DEFAULT);
	assert_int_equal(strv_length(c.trusted_keys), 2);
	agent_config_done(&c);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[Agent]\nStateDir=/srv/state\n", f);
	fclose(f);
	assert_true(agent_config_load(path, &c, &err) < 0);
	assert_non_null(strstr(err.msg, ":2: unknown key 'StateDir' in [Agent]"));
	unlink(path);
	rmdir(dir);
	/* An explicit path that does not exist is an error. */
	assert_true(agent_config_load("/nonexistent/agent.conf", &c, &err) < 0);
}

static int
parse_agent(const char *text, struct agent_config *ret, struct rw_err *err)
{
	return agent_config_parse("agent.conf", text, strlen(text), ret, err);
}

static void
expect_agent_error(const char *text, const char *msg)
{
	struct rw_err err = {{0}};
	struct agent_config c;

	assert_true(parse_agent(text, &c, &err) < 0);
	if (!strstr(err.msg, msg))
		fail_msg("config '%s': got '%s', want '%s'", text, err.msg, msg);
}

/* Every path key goes through ini_set_path(): absolute, no '.' or '..'
 * component, trailing slashes dropped. */
static void
test_config_paths_with_dot_components_are_refused_with_their_line(void **state)
{
	(void)state;
	expect_app_error(
	        "[App]\nName=web\nRoot=/srv/web/..\n", "web.conf:3: Root= must not contain '..'");
	expect_app_error("[App]\nName=web\nRoot=/srv/./web\n",
	        "web.conf:3: Root= must not contain '.' components, got '/srv/./web'");
	expect_app_error("[App]\nName=web\nRoot=/srv/web/.\n",
	        "web.conf:3: Root= must not contain '.' components");
	expect_agent_error("[Agent]\nStateDirectory=/var/lib/../tmp\n",
	        "agent.conf:2: StateDirectory= must not contain '..'");
	expect_agent_error("[Agent]\nAppsDirectory=/etc/./apps\n",
	        "agent.conf:2: AppsDirectory= must not contain '.' components");
	expect_agent_error("[Agent]\nJoinTokenFile=/etc/../token\n",
	        "agent.conf:2: JoinTokenFile= must not contain '..'");
	expect_agent_error(
	        "[TLS]\nCA=/etc/./ca.crt\n", "agent.conf:2: CA= must not contain '.' components");
}

static void
test_agent_config_coordinator_keys(void **state)
{
	(void)state;
	struct rw_err err = {{0}};
	struct agent_config c;

	assert_int_equal(parse_agent("[Agent]\n", &c, &err), 0);
	assert_string_equal(c.coordinator, "");
	assert_false(c.insecure);
	assert_int_equal(c.heartbeat_usec, 5 * USEC_PER_SEC);
	assert_int_equal(c.health_watch_usec, 10 * USEC_PER_SEC);
	assert_int_equal(c.n_labels, 0);
	agent_config_done(&c);

	assert_int_equal(parse_agent("[Agent]\nCoordinator=tls+tcp://coord.example:7400\n"
	                             "Labels=datacenter=fra ring=0\nLabels=color=blue\n"
	                             "HeartbeatInterval=1s\nJoinToken=abcdefghijklmnop\n"
	                             "HealthWatch=3s\n"
	                             "[TLS]\nCA=/etc/rollwave/tls/ca.crt\n",
	                         &c, &err),
	        0);
	assert_string_equal(c.coordinator, "tls+tcp://coord.example:7400");
	assert_int_equal(c.n_labels, 3);
	assert_string_equal(c.labels[0].key, "datacenter");
	assert_string_equal(c.labels[0].value, "fra");
	assert_string_equal(c.labels[2].key, "color");
	assert_int_equal(c.heartbeat_usec, USEC_PER_SEC);
	assert_int_equal(c.health_watch_usec, 3 * USEC_PER_SEC);
	assert_string_equal(c.join_token, "abcdefghijklmnop");
	assert_string_equal(c.tls_ca, "/etc/rollwave/tls/ca.crt");
	agent_config_done(&c);

	/* Plain TCP only when the config says so; Labels= resets. */
	assert_int_equal(parse_agent("[Agent]\nCoordinator=tcp://127.0.0.1:7400\nInsecure=yes\n"
	                             "Labels=a=1\nLabels=\nJoinTokenFile=/etc/rollwave/token\n"
	                             "HealthWatch=0\n",
	                         &c, &err),
	        0);
	assert_true(c.insecure);
	assert_int_equal(c.n_labels, 0);
	assert_int_equal(c.health_watch_usec, 0);
	assert_string_equal(c.join_token_file, "/etc/rollwave/token");
	agent_config_done(&c);
}

static void
test_agent_config_coordinator_errors_name_file_and_line(void **state)
{
	(void)state;
	expect_agent_error("[Agent]\nCoordinator=tcp://127.0.0.1:7400\n",
	        "agent.conf: Coordinator=tcp://127.0.0.1:7400 is plain TCP");
	expect_agent_error("[Agent]\nCoordinator=tls+tcp://c:7400\n",
	        "agent.conf: Coordinator=tls+tcp://c:7400 needs [TLS] CA=");
	expect_agent_error("[Agent]\nCoordinator=http://c:7400\n",
	        "agent.conf:2: Coordinator= must be tls+tcp://HOST:PORT");
	expect_agent_error(
	        "[Agent]\nCoordinator=tls+tcp://c\n", "agent.conf:2: Coordinator=: missing :PORT");
	expect_agent_error("[Agent]\nCoordinator=tls+tcp://c:99999\n",
	        "agent.conf:2: Coordinator=: invalid port");
	expect_agent_error("[Agent]\n\nLabels=Ring=0\n", "agent.conf:3: invalid label key 'Ring'");
	expect_agent_error(
	        "[Agent]\nLabels=ring=0 ring=1\n", "agent.conf:2: label 'ring' is set twice");
	expect_agent_error("[Agent]\nLabels=ring\n", "agent.conf:2: label 'ring' is not key=value");
	expect_agent_error("[Agent]\nHeartbeatInterval=5x\n",
	        "agent.conf:2: invalid duration '5x' for HeartbeatInterval=");
	expect_agent_error("[Agent]\nHealthWatch=500ms\n",
	        "agent.conf:2: HealthWatch= must be 0 (off) or from 1s to 1h");
	expect_agent_error("[Agent]\nHeartbeatInterval=10ms\n",
	        "agent.conf:2: HeartbeatInterval= must be from 100ms to 1h");
	expect_agent_error("[Agent]\nInsecure=maybe\n", "agent.conf:2: Insecure= takes yes or no");
	expect_agent_error("[Agent]\nJoinTokenFile=token\n",
	        "agent.conf:2: JoinTokenFile= must be an absolute path");
	expect_agent_error("[Agent]\nJoinToken=abc\nJoinTokenFile=/t\n",
	        "set JoinToken= or JoinTokenFile=, not both");
	expect_agent_error("[TLS]\nCert=/x\n", "agent.conf:2: unknown key 'Cert' in [TLS]");
	expect_agent_error("[TLS]\nCA=ca.crt\n", "agent.conf:2: CA= must be an absolute path");
	expect_agent_error("[Agent]\nCoordinatorURL=x\n",
	        "agent.conf:2: unknown key 'CoordinatorURL' in [Agent]");
}

static void
test_agent_join_token_file_is_read_and_trimmed(void **state)
{
	(void)state;
	char dir[] = "/var/tmp/rw-test-token.XXXXXX", text[512];
	char token[AGENT_JOIN_TOKEN_MAX + 1];
	struct rw_err err = {{0}};
	struct agent_config c;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(text, sizeof(text), "[Agent]\nJoinTokenFile=%s/token\n", dir);
	assert_int_equal(parse_agent(text, &c, &err), 0);
	assert_true(agent_config_join_token(&c, token, &err) < 0);
	assert_non_null(strstr(err.msg, "cannot read JoinTokenFile="));
	snprintf(text, sizeof(text), "%s/token", dir);
	f = fopen(text, "w");
	assert_non_null(f);
	fputs("s3cr3t-t0ken-value  \nsecond line\n", f);
	fclose(f);
	assert_int_equal(agent_config_join_token(&c, token, &err), 0);
	assert_string_equal(token, "s3cr3t-t0ken-value");
	unlink(text);
	rmdir(dir);
	agent_config_done(&c);
}

static void
test_durations_parse_strictly(void **state)
{
	(void)state;
	uint64_t v;

	assert_int_equal(parse_duration_usec("10s", &v), 0);
	assert_int_equal(v, 10 * USEC_PER_SEC);
	assert_int_equal(parse_duration_usec("250ms", &v), 0);
	assert_int_equal(v, 250 * USEC_PER_MSEC);
	assert_int_equal(parse_duration_usec("5m", &v), 0);
	assert_int_equal(v, 300 * USEC_PER_SEC);
	assert_int_equal(parse_duration_usec("2h", &v), 0);
	assert_int_equal(parse_duration_usec("7", &v), 0);
	assert_int_equal(v, 7 * USEC_PER_SEC);
	assert_true(parse_duration_usec("", &v) < 0);
	assert_true(parse_duration_usec("s", &v) < 0);
	assert_true(parse_duration_usec("10x", &v) < 0);
	assert_true(parse_duration_usec("1.5s", &v) < 0);
	assert_true(parse_duration_usec("99999999999999999999s", &v) < 0);
	assert_true(parse_duration_usec("999999999999999d", &v) < 0);
}

static void
test_versions_order_like_dpkg(void **state)
{
	(void)state;
	assert_true(version_compare("1.0", "1.0.1") < 0);
	assert_true(version_compare("1.10", "1.9") > 0);
	assert_true(version_compare("1.0~rc1", "1.0") < 0);
	assert_true(version_compare("2.0.0", "2.0.0") == 0);
	assert_true(version_compare("1.0a", "1.0") > 0);
	assert_true(version_compare("10.0.0", "9.9.9") > 0);
	assert_true(version_is_valid("1.4.2+build.7"));
	assert_false(version_is_valid("../1"));
	assert_false(version_is_valid(".hidden"));
	assert_false(version_is_valid("1/2"));
	assert_false(version_is_valid(""));
	assert_true(app_name_is_valid("web-api_2"));
	assert_false(app_name_is_valid("Web"));
	assert_false(app_name_is_valid("-x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_app_config_full_parses_every_key),
	        cmocka_unit_test(test_app_config_defaults),
	        cmocka_unit_test(test_app_config_empty_assignment_resets_list),
	        cmocka_unit_test(test_app_config_unknown_key_names_file_and_line),
	        cmocka_unit_test(test_app_config_rejects_bad_values),
	        cmocka_unit_test(test_config_paths_with_dot_components_are_refused_with_their_line),
	        cmocka_unit_test(test_agent_config_loads_and_refuses_unknown_keys),
	        cmocka_unit_test(test_agent_config_coordinator_keys),
	        cmocka_unit_test(test_agent_config_coordinator_errors_name_file_and_line),
	        cmocka_unit_test(test_agent_join_token_file_is_read_and_trimmed),
	        cmocka_unit_test(test_durations_parse_strictly),
	        cmocka_unit_test(test_versions_order_like_dpkg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
