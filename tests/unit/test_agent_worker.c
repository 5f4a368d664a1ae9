/*
 * test_agent_worker: the lines a `rollwave-agent worker` child writes for
 * the daemon (agent/engine/worker.h), through a real pipe: phases (MIGRATING
 * and CHECKING too), hook output split into hex chunks and put back together,
 * hook_absent, results (CANCELLED too), and lines the daemon must refuse;
 * and the cancel request a worker gets (a byte, then SIGUSR1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "worker.h"

struct collected {
	struct worker_line lines[16];
	size_t n;
	char output[4096];
	size_t output_len;
};

static void
collect(void *userdata, const struct worker_line *l)
{
	struct collected *c = userdata;

	if (l->kind == WORKER_LINE_OUTPUT) {
		assert_true(c->output_len + l->data_len <= sizeof(c->output));
		memcpy(c->output + c->output_len, l->data, l->data_len);
		c->output_len += l->data_len;
		return;
	}
	assert_true(c->n < 16);
	c->lines[c->n++] = *l;
}

/* Reads everything the pipe holds (the write end closed). */
static void
read_all(int fd, struct worker_reader *rd, struct collected *c)
{
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(worker_read(fd, rd, collect, c), 1);
}

static void
test_lines_round_trip_through_a_pipe(void **state)
{
	struct worker_reader rd = {0};
	static struct collected c;
	char big[1000];
	int p[2];

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i % 251); /* every byte value but a few, NUL included */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(
	        worker_emit_phase(p[1], ROLLWAVE__PHASE__PHASE_CHECKING, "checking", "2.0"), 0);
	assert_int_equal(
	        worker_emit_phase(p[1], ROLLWAVE__PHASE__PHASE_MIGRATING, "migrating", "2.0"), 0);
	assert_int_equal(worker_emit_output(p[1], "== hook 'migrate' ==\n", 21), 0);
	assert_int_equal(worker_emit_output(p[1], big, sizeof(big)), 0); /* 4 chunks */
	assert_int_equal(worker_emit_absent(p[1]), 0);
	assert_int_equal(worker_emit_result(p[1], ROLLWAVE__PHASE__PHASE_CANCELLED, "2.0",
	                         "deploy of web 2.0 cancelled\nbefore activation"),
	        0);
	close(p[1]);
	read_all(p[0], &rd, &c);
	close(p[0]);
	assert_int_equal(rd.bad, 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.lines[0].kind, WORKER_LINE_PHASE);
	assert_int_equal(c.lines[0].phase, ROLLWAVE__PHASE__PHASE_CHECKING);
	assert_string_equal(c.lines[0].name, "checking");
	assert_int_equal(c.lines[1].phase, ROLLWAVE__PHASE__PHASE_MIGRATING);
	assert_int_equal(c.lines[2].kind, WORKER_LINE_ABSENT);
	assert_int_equal(c.lines[3].kind, WORKER_LINE_RESULT);
	assert_int_equal(c.lines[3].phase, ROLLWAVE__PHASE__PHASE_CANCELLED);
	assert_string_equal(c.lines[3].version, "2.0");
	assert_string_equal(c.lines[3].message, "deploy of web 2.0 cancelled before activation");
	assert_int_equal(c.output_len, 21 + sizeof(big));
	assert_memory_equal(c.output, "== hook 'migrate' ==\n", 21);
	assert_memory_equal(c.output + 21, big, sizeof(big));
}

static void
test_bad_lines_are_refused(void **state)
{
	static const char *const bad[] = {
	        "phase 7 committed 1.0",  /* an end is not a phase */
	        "phase 8 x 1.0",          /* nor is ROLLED_BACK */
	        "phase 12 cancelled 1.0", /* nor CANCELLED */
	        "phase 13 x 1.0",         /* unknown */
	        "result 10 1.0 migrating is not an end", "result 11 1.0 checking is not an end",
	        "result 13 1.0 unknown", "output", /* no data */
	        "output 0",                        /* odd length */
	        "output 0g",                       /* not hex */
	        "output 0A",                       /* upper case is not what the child writes */
	        "absent extra",                    /* absent takes nothing */
	        "cancel",                          /* not a line the child writes */
	};
	struct worker_line l;
	char long_output[8 + 2 * WORKER_OUTPUT_CHUNK + 3];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (worker_line_parse(bad[i], &l) != -EBADMSG)
			fail_msg("'%s' was not refused", bad[i]);
	/* One chunk at most per line. */
	memcpy(long_output, "output ", 7);
	memset(long_output + 7, 'a', 2 * WORKER_OUTPUT_CHUNK + 2);
	long_output[sizeof(long_output) - 1] = 0;
	assert_int_equal(worker_line_parse(long_output, &l), -EBADMSG);
	long_output[7 + 2 * WORKER_OUTPUT_CHUNK] = 0;
	assert_int_equal(worker_line_parse(long_output, &l), 0);
	assert_int_equal(l.data_len, WORKER_OUTPUT_CHUNK);
	assert_int_equal(worker_line_parse("result 12 - cancelled", &l), 0);
	assert_int_equal(l.phase, ROLLWAVE__PHASE__PHASE_CANCELLED);
	assert_string_equal(l.version, "");
}

static void
test_ops_and_which_can_be_cancelled(void **state)
{
	static const char *const names[] = {"deploy", "rollback", "recover", "migrate",
	        "migrate_down", "preflight", "cancelled"};
	enum worker_op op;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(worker_op_from_string(names[i], &op), 0);
		assert_string_equal(worker_op_to_string(op), names[i]);
	}
	assert_int_equal(worker_op_from_string("cancel", &op), -EINVAL);
	assert_true(worker_op_is_cancellable(WORKER_DEPLOY));
	assert_true(worker_op_is_cancellable(WORKER_MIGRATE));
	assert_true(worker_op_is_cancellable(WORKER_PREFLIGHT));
	assert_false(worker_op_is_cancellable(WORKER_ROLLBACK));
	assert_false(worker_op_is_cancellable(WORKER_MIGRATE_DOWN));
	assert_false(worker_op_is_cancellable(WORKER_RECOVER));
}

static void
test_cancel_is_a_byte_then_sigusr1(void **state)
{
	sigset_t usr1, old;
	int p[2], n = 0, status;
	pid_t pid;

	(void)state;
	/* The child waits for SIGUSR1 blocked, as a worker starts. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &usr1, &old), 0);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int sig = 0;

		close(p[1]);
		if (sigwait(&usr1, &sig) != 0 || sig != SIGUSR1)
			_exit(2);
		/* The byte is there by the time the signal is. */
		_exit(ioctl(p[0], FIONREAD, &n) == 0 && n == 1 ? 0 : 3);
	}
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	close(p[0]);
	assert_int_equal(worker_cancel(pid, p[1]), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(p[1]);
	assert_int_equal(worker_cancel(pid, -1), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lines_round_trip_through_a_pipe),
	        cmocka_unit_test(test_bad_lines_are_refused),
	        cmocka_unit_test(test_ops_and_which_can_be_cancelled),
	        cmocka_unit_test(test_cancel_is_a_byte_then_sigusr1),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
