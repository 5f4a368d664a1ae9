/*
 * test_coordinator_config: coordinator.conf parsing: defaults, every key,
 * the TLS-or-Insecure rule and the listen host; the fleet's [Freeze]
 * windows and their merge into a deployment's options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "coordinator_config.h"
#include "deploy_params.h"

static int
parse(const char *text, struct coordinator_config *ret, struct rw_err *err)
{
	return coordinator_config_parse("c.conf", text, strlen(text), ret, err);
}

static void
test_defaults_are_tls_and_the_documented_paths(void **state)
{
	(void)state;
	struct coordinator_config c;
	struct rw_err err = {{0}};
	char host[64];

	assert_int_equal(parse("", &c, &err), 0);
	assert_string_equal(c.listen, "tls+tcp://0.0.0.0:7400");
	assert_string_equal(c.admin_socket, "ipc:///run/rollwave/admin.sock");
	assert_string_equal(c.database, "/var/lib/rollwave-coordinator/state.db");
	assert_false(c.insecure);
	assert_int_equal(coordinator_config_listen_host(&c, host, sizeof(host)), 0);
	assert_string_equal(host, "0.0.0.0");
}

static void
test_every_key_parses(void **state)
{
	(void)state;
	struct coordinator_config c;
	struct rw_err err = {{0}};
	char host[64];

	assert_int_equal(parse("[Coordinator]\nListen=tcp://[::1]:7401\nInsecure=yes\n"
	                       "AdminSocket=tls+tcp://127.0.0.1:7402\nDatabase=/d/s.db\n"
	                       "KeyFile=/d/k\nMetricsListen=0.0.0.0:9470\n"
	                       "JoinToken=0123456789abcdefXYZ\n[TLS]\nCertificate=/t/c.pem\n"
	                       "Key=/t/k.pem\nCA=/t/ca.crt\n",
	                         &c, &err),
	        0);
	assert_true(c.insecure);
	assert_string_equal(c.join_token, "0123456789abcdefXYZ");
	assert_string_equal(c.tls_key, "/t/k.pem");
	assert_int_equal(coordinator_config_listen_host(&c, host, sizeof(host)), 0);
	assert_string_equal(host, "::1");
}

static void
expect_error(const char *text, const char *message)
{
	struct coordinator_config c;
	struct rw_err err = {{0}};

	assert_true(parse(text, &c, &err) < 0);
	if (!strstr(err.msg, message))
		fail_msg("error '%s' lacks '%s'", err.msg, message);
}

static void
test_bad_values_are_refused_with_their_line(void **state)
{
	(void)state;
	expect_error("[Coordinator]\nListen=tcp://0.0.0.0:7400\n", "is plain TCP");
	expect_error("[Coordinator]\nListen=http://x\n", "c.conf:2: Listen= takes tls+tcp://");
	expect_error("[Coordinator]\nAdminSocket=/run/x.sock\n", "AdminSocket= takes ipc:///");
	expect_error("[Coordinator]\nDatabase=state.db\n", "Database= must be an absolute path");
	expect_error("[Coordinator]\nInsecure=maybe\n", "Insecure= takes yes or no");
	expect_error("[Coordinator]\nJoinToken=short\n", "at least 16 characters");
	expect_error("[Coordinator]\nJoinToken=0123456789abcdef ghi\n", "must not contain spaces");
	expect_error("[Coordinator]\nMetricsListen=9470\n", "MetricsListen= takes HOST:PORT");
	expect_error("[Coordinator]\nMetricsListen=http://x:9470\n", "got 'http://x:9470'");
	expect_error("[Coordinator]\nMetricsListen=127.0.0.1:99999\n", "MetricsListen= takes");
	expect_error("[Coordinator]\nMetricsListen=127.0.0.1:\n", "MetricsListen= takes");
	expect_error("[TLS]\nCert=/x\n", "c.conf:2: unknown key 'Cert' in [TLS]");
	expect_error("[Agent]\nX=1\n", "unknown section [Agent]");
}

/* Path keys go through the same ini_set_path() as the agent's: '..' and '.'
 * components are refused with the file and line, not only relative paths. */
static void
test_paths_with_dot_components_are_refused_with_their_line(void **state)
{
	(void)state;
	struct coordinator_config c;
	struct rw_err err = {{0}};

	expect_error("[Coordinator]\nDatabase=/var/lib/../etc/state.db\n",
	        "c.conf:2: Database= must not contain '..', got '/var/lib/../etc/state.db'");
	expect_error(
	        "[Coordinator]\nKeyFile=/var/lib/..\n", "c.conf:2: KeyFile= must not contain '..'");
	expect_error("[Coordinator]\nJoinTokenFile=/etc/./token\n",
	        "c.conf:2: JoinTokenFile= must not contain '.' components");
	expect_error(
	        "[TLS]\nCertificate=/t/../c.pem\n", "c.conf:2: Certificate= must not contain '..'");
	expect_error("[TLS]\nKey=/t/../k.pem\n", "c.conf:2: Key= must not contain '..'");
	expect_error("[TLS]\nCA=/t/../ca.crt\n", "c.conf:2: CA= must not contain '..'");
	/* Dots inside a name are not components. */
	assert_int_equal(parse("[Coordinator]\nDatabase=/d/..state.db.\n", &c, &err), 0);
	assert_string_equal(c.database, "/d/..state.db.");
}

static void
test_freeze_windows_parse_in_order_keeping_their_text(void **state)
{
	(void)state;
	struct coordinator_config c;
	struct rw_err err = {{0}};

	assert_int_equal(parse("", &c, &err), 0);
	assert_int_equal(c.n_freeze, 0);
	assert_int_equal(c.freeze_policy, FREEZE_POLICY_WAIT);

	assert_int_equal(parse("[Freeze]\nWindow=Fri 16:00-Mon 08:00\n"
	                       "Window = 2026-12-24..2027-01-02 UTC+01:00 \nPolicy=refuse\n",
	                         &c, &err),
	        0);
	assert_int_equal(c.n_freeze, 2);
	assert_int_equal(c.freeze[0].kind, FREEZE_WEEKLY);
	assert_string_equal(c.freeze[0].spec, "Fri 16:00-Mon 08:00");
	assert_int_equal(c.freeze[1].kind, FREEZE_RANGE);
	assert_string_equal(c.freeze[1].spec, "2026-12-24..2027-01-02 UTC+01:00");
	assert_int_equal(c.freeze_policy, FREEZE_POLICY_REFUSE);

	/* An empty Window= clears the ones before it, like Freeze=. */
	assert_int_equal(parse("[Freeze]\nWindow=22:00-06:00\nWindow=\nWindow=Sat 00:00-Sun 00:00\n"
	                       "Policy=wait\n",
	                         &c, &err),
	        0);
	assert_int_equal(c.n_freeze, 1);
	assert_string_equal(c.freeze[0].spec, "Sat 00:00-Sun 00:00");
	assert_int_equal(c.freeze_policy, FREEZE_POLICY_WAIT);
}

static void
test_bad_freeze_keys_are_refused_with_their_line(void **state)
{
	(void)state;
	char many[2048] = "[Freeze]\n";

	expect_error("[Freeze]\nWindow=Fri 16:00-Fri 16:00\n",
	        "c.conf:2: Window= 'Fri 16:00-Fri 16:00' is not a freeze window");
	expect_error("[Freeze]\nWindow=22:00-06:00\nWindow=Fri 16:00-Mon 08:00 CET\n",
	        "c.conf:3: Window= ");
	expect_error("[Freeze]\nWindow=22:00-06:00 UTC+25:00\n",
	        "c.conf:2: Window= '22:00-06:00 UTC+25:00': the zone must be UTC");
	expect_error("[Freeze]\nWindow=2027-01-02..2026-12-24\n", "c.conf:2: Window= ");
	expect_error("[Freeze]\nWindow=22:00-06:00\nPolicy=maybe\n",
	        "c.conf:3: Policy= takes wait or refuse, got 'maybe'");
	expect_error("[Freeze]\nPolicy=\n", "c.conf:2: Policy= takes wait or refuse, got ''");
	expect_error("[Freeze]\nWindow=22:00-06:00\nWindows=Sat 00:00-Sun 00:00\n",
	        "c.conf:3: unknown key 'Windows' in [Freeze]");
	expect_error("[Freeze]\nFreezePolicy=refuse\n",
	        "c.conf:2: unknown key 'FreezePolicy' in [Freeze]");
	for (int i = 0; i <= COORDINATOR_FREEZE_MAX; i++)
		strbuf_printf(many + strlen(many), sizeof(many) - strlen(many),
		        "Window=%02d:00-%02d:30\n", i, i);
	expect_error(many, "c.conf:18: Window= takes at most 16 windows, got '16:00-16:30'");
}

/* A config with windows, parsed like the coordinator parses it. */
static void
fleet(const char *text, struct coordinator_config *ret)
{
	struct rw_err err = {{0}};

	if (parse(text, ret, &err) < 0)
		fail_msg("%s", err.msg);
}

static void
test_freeze_apply_appends_fleet_windows_as_set_options(void **state)
{
	(void)state;
	struct coordinator_config c;
	struct deploy_params p, back;
	struct rw_err err = {{0}};
	_cleanup_free_ char *ini = NULL;

	fleet("[Freeze]\nWindow=Fri 16:00-Mon 08:00\nWindow=2026-12-24..2027-01-02\n", &c);
	deploy_params_init(&p);
	assert_int_equal(deploy_params_set(&p, "Freeze", "22:00-06:00", &err), 0);
	assert_int_equal(coordinator_freeze_apply(&c, &p, &err), 0);
	assert_int_equal(p.n_freeze, 3);
	assert_string_equal(p.freeze[0].spec, "22:00-06:00");
	assert_string_equal(p.freeze[1].spec, "Fri 16:00-Mon 08:00");
	assert_string_equal(p.freeze[2].spec, "2026-12-24..2027-01-02");
	assert_int_equal(p.freeze[2].start, c.freeze[1].start);
	assert_int_equal(p.freeze[2].end, c.freeze[1].end);
	assert_true(p.set & (UINT64_C(1) << DEPLOY_KEY_FREEZE));
	assert_int_equal(p.freeze_policy, FREEZE_POLICY_WAIT);
	assert_int_equal(deploy_params_validate(&p, &err), 0);

	/* The stored options (and so plan and status) carry them. */
	assert_int_equal(deploy_params_to_ini(&p, &ini), 0);
	assert_non_null(strstr(ini,
	        "Freeze=22:00-06:00\nFreeze=Fri 16:00-Mon 08:00\n"
	        "Freeze=2026-12-24..2027-01-02\n"));
	deploy_params_init(&back);
	assert_int_equal(deploy_params_load_buffer(&back, "stored", ini, strlen(ini), &err), 0);
	assert_int_equal(back.n_freeze, 3);
	assert_string_equal(back.freeze[1].spec, "Fri 16:00-Mon 08:00");

	/* Applied again (or to a deployment that names the same window): no
	 * duplicates. */
	assert_int_equal(coordinator_freeze_apply(&c, &p, &err), 0);
	assert_int_equal(p.n_freeze, 3);
}

static void
test_freeze_apply_without_fleet_windows_leaves_the_deployment_alone(void **state)
{
	(void)state;
	struct coordinator_config c;
	struct deploy_params p;
	struct rw_err err = {{0}};

	fleet("[Freeze]\nPolicy=refuse\n", &c);
	deploy_params_init(&p);
	assert_int_equal(deploy_params_set(&p, "Freeze", "22:00-06:00", &err), 0);
	assert_int_equal(coordinator_freeze_apply(&c, &p, &err), 0);
	assert_int_equal(p.n_freeze, 1);
	assert_int_equal(p.freeze_policy, FREEZE_POLICY_WAIT);
	assert_false(p.set & (UINT64_C(1) << DEPLOY_KEY_FREEZE_POLICY));
}

static void
test_freeze_apply_policy_is_the_stricter_of_fleet_and_deployment(void **state)
{
	(void)state;
	struct coordinator_config wait, refuse;
	struct deploy_params p;
	struct rw_err err = {{0}};
	_cleanup_free_ char *ini = NULL;

	fleet("[Freeze]\nWindow=2026-12-24..2027-01-02\n", &wait);
	fleet("[Freeze]\nWindow=2026-12-24..2027-01-02\nPolicy=refuse\n", &refuse);

	/* Fleet refuse beats a deployment's default wait, and is recorded. */
	deploy_params_init(&p);
	assert_int_equal(coordinator_freeze_apply(&refuse, &p, &err), 0);
	assert_int_equal(p.freeze_policy, FREEZE_POLICY_REFUSE);
	assert_true(p.set & (UINT64_C(1) << DEPLOY_KEY_FREEZE_POLICY));
	assert_int_equal(deploy_params_to_ini(&p, &ini), 0);
	assert_non_null(strstr(ini, "FreezePolicy=refuse\n"));

	/* Fleet wait does not weaken a deployment's refuse. */
	deploy_params_init(&p);
	assert_int_equal(deploy_params_set(&p, "FreezePolicy", "refuse", &err), 0);
	assert_int_equal(coordinator_freeze_apply(&wait, &p, &err), 0);
	assert_int_equal(p.freeze_policy, FREEZE_POLICY_REFUSE);

	/* Fleet wait with a deployment's wait stays wait. */
	deploy_params_init(&p);
	assert_int_equal(coordinator_freeze_apply(&wait, &p, &err), 0);
	assert_int_equal(p.freeze_policy, FREEZE_POLICY_WAIT);
}

static void
test_fleet_freeze_refuses_or_holds_a_new_deployment_inside_it(void **state)
{
	(void)state;
	const uint64_t christmas = UINT64_C(1798200000) * USEC_PER_SEC; /* Fri 2026-12-25 12:00Z */
	const uint64_t before = UINT64_C(1798027200) * USEC_PER_SEC;    /* Wed 2026-12-23 12:00Z */
	struct coordinator_config c;
	struct deploy_params p;
	struct rw_err err = {{0}};
	struct gate_result g;

	fleet("[Freeze]\nWindow=2026-12-24..2027-01-02\nPolicy=refuse\n", &c);
	deploy_params_init(&p);
	assert_int_equal(coordinator_freeze_apply(&c, &p, &err), 0);
	freeze_gate_evaluate(p.freeze, p.n_freeze, p.freeze_policy, true, christmas, &g);
	assert_int_equal(g.verdict, GATE_FAIL);
	assert_non_null(strstr(g.why, "2026-12-24..2027-01-02"));
	freeze_gate_evaluate(p.freeze, p.n_freeze, p.freeze_policy, false, christmas, &g);
	assert_int_equal(g.verdict, GATE_HOLD);
	freeze_gate_evaluate(p.freeze, p.n_freeze, p.freeze_policy, true, before, &g);
	assert_int_equal(g.verdict, GATE_PASS);
}

static void
test_freeze_apply_refuses_overflow_and_leaves_the_deployment_unchanged(void **state)
{
	(void)state;
	struct coordinator_config c;
	struct deploy_params p;
	struct rw_err err = {{0}};
	char w[32];

	fleet("[Freeze]\nWindow=Fri 16:00-Mon 08:00\nWindow=2026-12-24..2027-01-02\n"
	      "Policy=refuse\n",
	        &c);
	deploy_params_init(&p);
	for (int i = 0; i < DEPLOY_FREEZE_MAX - 1; i++) {
		strbuf_printf(w, sizeof(w), "%02d:00-%02d:30", i, i);
		assert_int_equal(deploy_params_set(&p, "Freeze", w, &err), 0);
	}
	assert_int_equal(coordinator_freeze_apply(&c, &p, &err), -E2BIG);
	if (!strstr(err.msg,
	            "15 Freeze= window(s) and the 2 fleet-wide window(s) of c.conf "
	            "[Freeze] make more than 16"))
		fail_msg("error '%s'", err.msg);
	assert_int_equal(p.n_freeze, DEPLOY_FREEZE_MAX - 1);
	assert_int_equal(p.freeze_policy, FREEZE_POLICY_WAIT);
	assert_false(p.set & (UINT64_C(1) << DEPLOY_KEY_FREEZE_POLICY));

	/* A fleet window the deployment already has takes no slot: 16 own
	 * windows, one of them the fleet's, plus one new is still too many... */
	assert_int_equal(deploy_params_set(&p, "Freeze", "Fri 16:00-Mon 08:00", &err), 0);
	assert_int_equal(coordinator_freeze_apply(&c, &p, &err), -E2BIG);
	/* ...but 15 of them plus one new fills the list exactly. */
	assert_int_equal(deploy_params_set(&p, "Freeze", "", &err), 0);
	for (int i = 0; i < DEPLOY_FREEZE_MAX - 2; i++) {
		strbuf_printf(w, sizeof(w), "%02d:00-%02d:30", i, i);
		assert_int_equal(deploy_params_set(&p, "Freeze", w, &err), 0);
	}
	assert_int_equal(deploy_params_set(&p, "Freeze", "Fri 16:00-Mon 08:00", &err), 0);
	assert_int_equal(coordinator_freeze_apply(&c, &p, &err), 0);
	assert_int_equal(p.n_freeze, DEPLOY_FREEZE_MAX);
	assert_string_equal(p.freeze[DEPLOY_FREEZE_MAX - 1].spec, "2026-12-24..2027-01-02");
	assert_int_equal(p.freeze_policy, FREEZE_POLICY_REFUSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_are_tls_and_the_documented_paths),
	        cmocka_unit_test(test_every_key_parses),
	        cmocka_unit_test(test_bad_values_are_refused_with_their_line),
	        cmocka_unit_test(test_paths_with_dot_components_are_refused_with_their_line),
	        cmocka_unit_test(test_freeze_windows_parse_in_order_keeping_their_text),
	        cmocka_unit_test(test_bad_freeze_keys_are_refused_with_their_line),
	        cmocka_unit_test(test_freeze_apply_appends_fleet_windows_as_set_options),
	        cmocka_unit_test(
	                test_freeze_apply_without_fleet_windows_leaves_the_deployment_alone),
	        cmocka_unit_test(test_freeze_apply_policy_is_the_stricter_of_fleet_and_deployment),
	        cmocka_unit_test(test_fleet_freeze_refuses_or_holds_a_new_deployment_inside_it),
	        cmocka_unit_test(
	                test_freeze_apply_refuses_overflow_and_leaves_the_deployment_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
