/*
 * worker: a coordinator command run by a `rollwave-agent worker` child; the
 * daemon's side (spawn, read, parse) and the child's (emit). See worker.h.
 */
#include "worker.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

_Static_assert(7 + 2 * WORKER_OUTPUT_CHUNK <= WORKER_LINE_MAX, "an output line must fit");

static const char *const op_names[_WORKER_OP_MAX] = {
        [WORKER_DEPLOY] = "deploy",
        [WORKER_ROLLBACK] = "rollback",
        [WORKER_RECOVER] = "recover",
        [WORKER_MIGRATE] = "migrate",
        [WORKER_MIGRATE_DOWN] = "migrate_down",
        [WORKER_PREFLIGHT] = "preflight",
        [WORKER_CANCELLED] = "cancelled",
        [WORKER_CHECK] = "check",
};

const char *
worker_op_to_string(enum worker_op op)
{
	return op < _WORKER_OP_MAX ? op_names[op] : "unknown";
}

int
worker_op_from_string(const char *s, enum worker_op *ret)
{
	for (int i = 0; i < _WORKER_OP_MAX; i++)
		if (streq(s, op_names[i])) {
			*ret = (enum worker_op)i;
			return 0;
		}
	return -EINVAL;
}

bool
worker_op_is_cancellable(enum worker_op op)
{
	return op == WORKER_DEPLOY || op == WORKER_MIGRATE || op == WORKER_PREFLIGHT;
}

/* A worker's command line: argv and the strings it points to. */
struct worker_argv {
	char config_arg[PATH_MAX + 16], parent_arg[32], url_arg[WIRE_URL_MAX + 16],
	        version_arg[VERSION_MAX + 16];
	const char *argv[14];
};

static int
worker_argv_build(struct worker_argv *w, const char *agent_path, const char *config_path,
        const struct worker_request *req, bool cancellable, struct rw_err *err)
{
	size_t n = 0;

	w->argv[n++] = agent_path;
	if (config_path) {
		if (xsnprintf(w->config_arg, sizeof(w->config_arg), "--config=%s", config_path) < 0)
			return rw_err_set(err, -ENAMETOOLONG, "config path too long");
		w->argv[n++] = w->config_arg;
	}
	w->argv[n++] = "worker";
	(void)xsnprintf(w->parent_arg, sizeof(w->parent_arg), "--parent=%d", (int)getpid());
	w->argv[n++] = w->parent_arg;
	if (cancellable)
		w->argv[n++] = "--cancel-fd=0";
	if (req->op == WORKER_DEPLOY || req->op == WORKER_MIGRATE || req->op == WORKER_PREFLIGHT) {
		if (xsnprintf(w->url_arg, sizeof(w->url_arg), "--manifest=%s", req->manifest_url) <
		        0)
			return rw_err_set(err, -ENAMETOOLONG, "manifest URL too long");
		w->argv[n++] = w->url_arg;
	}
	if (req->op == WORKER_DEPLOY || req->op == WORKER_MIGRATE || req->op == WORKER_PREFLIGHT ||
	        req->op == WORKER_MIGRATE_DOWN) {
		if (!isempty(req->expect_version)) {
			if (xsnprintf(w->version_arg, sizeof(w->version_arg), "--version=%s",
			            req->expect_version) < 0)
				return rw_err_set(err, -EINVAL, "version too long");
			w->argv[n++] = w->version_arg;
		}
	} else if (req->op == WORKER_ROLLBACK && !isempty(req->to_version)) {
		if (xsnprintf(w->version_arg, sizeof(w->version_arg), "--to=%s", req->to_version) <
		        0)
			return rw_err_set(err, -EINVAL, "version too long");
		w->argv[n++] = w->version_arg;
	}
	w->argv[n++] = "--";
	w->argv[n++] = worker_op_to_string(req->op);
	w->argv[n++] = req->app;
	w->argv[n] = NULL;
	return 0;
}

int
worker_spawn(const char *agent_path, const char *config_path, const struct worker_request *req,
        pid_t *ret_pid, int *ret_fd, int *ret_cancel_fd, struct rw_err *err)
{
	struct worker_argv wa;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t mask;
	int fds[2] = {-1, -1}, cfds[2] = {-1, -1};
	bool cancellable = worker_op_is_cancellable(req->op) && ret_cancel_fd;
	pid_t pid;
	int r;

	r = worker_argv_build(&wa, agent_path, config_path, req, cancellable, err);
	if (r < 0)
		return r;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return rw_err_set(err, -errno, "cannot create a pipe: %m");
	if (cancellable && pipe2(cfds, O_CLOEXEC) < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return rw_err_set(err, r, "cannot create a pipe: %s", strerror(-r));
	}
	/* The daemon's ends never block its loop; the child's block. */
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0 ||
	        (cancellable && fcntl(cfds[1], F_SETFL, O_NONBLOCK) < 0)) {
		r = -errno;
		closep(&fds[0]);
		closep(&fds[1]);
		closep(&cfds[0]);
		closep(&cfds[1]);
		return rw_err_set(err, r, "cannot set up a pipe: %s", strerror(-r));
	}
	/* The child's mask: the daemon's (SIGTERM and SIGINT blocked) except
	 * SIGCHLD, which the daemon blocks for sd-event's child sources; and
	 * SIGUSR1 (a cancel) until the child handles it. */
	(void)pthread_sigmask(SIG_BLOCK, NULL, &mask);
	sigdelset(&mask, SIGCHLD);
	sigaddset(&mask, SIGUSR1);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	if (cancellable)
		r = posix_spawn_file_actions_adddup2(&fa, cfds[0], STDIN_FILENO);
	else
		r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&attr, &mask);
	if (r == 0)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	if (r == 0)
		r = posix_spawn(&pid, agent_path, &fa, &attr, (char *const *)wa.argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(fds[1]);
	closep(&cfds[0]);
	if (r != 0) {
		close(fds[0]);
		closep(&cfds[1]);
		return rw_err_set(err, -r, "cannot start %s: %s", agent_path, strerror(r));
	}
	*ret_pid = pid;
	*ret_fd = fds[0];
	if (ret_cancel_fd)
		*ret_cancel_fd = cfds[1];
	return 0;
}

int
worker_cancel(pid_t pid, int cancel_fd)
{
	ssize_t k;

	if (cancel_fd < 0 || pid <= 0)
		return -EINVAL;
	/* The byte first: the child acts on the signal only in an abortable
	 * step, and checks for the byte at every safe point. */
	do
		k = write(cancel_fd, "c", 1);
	while (k < 0 && errno == EINTR);
	if (k < 0 && errno != EAGAIN) /* a full pipe holds a request already */
		return -errno;
	if (kill(pid, SIGUSR1) < 0)
		return -errno;
	return 0;
}

/* Writes all of buf, retrying on EINTR and short writes. */
static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t k = write(fd, buf, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

static const char *
version_or_dash(const char *version)
{
	return !isempty(version) && version_is_valid(version) ? version : "-";
}

int
worker_emit_phase(int fd, Rollwave__Phase phase, const char *name, const char *version)
{
	char line[WORKER_LINE_MAX + 1];
	int n;

	n = snprintf(line, sizeof(line), "phase %d %.*s %s\n", (int)phase, WORKER_PHASE_NAME_MAX,
	        name, version_or_dash(version));
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	return write_all(fd, line, (size_t)n);
}

int
worker_emit_result(int fd, Rollwave__Phase phase, const char *version, const char *message)
{
	char line[WORKER_LINE_MAX + 1];
	int n;

	n = snprintf(line, sizeof(line), "result %d %s ", (int)phase, version_or_dash(version));
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	/* One line: control characters (newlines from a hook's output) become
	 * spaces; the message is cut at WORKER_MESSAGE_MAX bytes. */
	for (size_t i = 0; message && message[i] && i < WORKER_MESSAGE_MAX; i++) {
		unsigned char c = (unsigned char)message[i];

		line[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	line[n++] = '\n';
	return write_all(fd, line, (size_t)n);
}

int
worker_emit_output(int fd, const char *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char line[8 + 2 * WORKER_OUTPUT_CHUNK + 1];
	int r;

	while (len > 0) {
		size_t n = len < WORKER_OUTPUT_CHUNK ? len : WORKER_OUTPUT_CHUNK, k = 0;

		memcpy(line, "output ", 7);
		k = 7;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)data[i];

			line[k++] = hex[c >> 4];
			line[k++] = hex[c & 15];
		}
		line[k++] = '\n';
		r = write_all(fd, line, k);
		if (r < 0)
			return r;
		data += n;
		len -= n;
	}
	return 0;
}

int
worker_emit_absent(int fd)
{
	return write_all(fd, "absent\n", 7);
}

static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Splits off the next space-separated word of *s (NULL if there is none). */
static char *
next_word(char **s)
{
	char *w = *s, *sp;

	if (!w || !*w)
		return NULL;
	sp = strchr(w, ' ');
	if (sp) {
		*sp = 0;
		*s = sp + 1;
	} else
		*s = w + strlen(w);
	return w;
}

static int
parse_phase_number(const char *w, Rollwave__Phase min, Rollwave__Phase max, Rollwave__Phase *ret)
{
	char *end;
	long v;

	if (!w || !*w || strlen(w) > 2)
		return -EBADMSG;
	errno = 0;
	v = strtol(w, &end, 10);
	if (errno || *end || v < (long)min || v > (long)max)
		return -EBADMSG;
	*ret = (Rollwave__Phase)v;
	return 0;
}

static int
parse_version(const char *w, char ret[static VERSION_MAX + 1])
{
	if (!w)
		return -EBADMSG;
	if (streq(w, "-")) {
		ret[0] = 0;
		return 0;
	}
	if (strlen(w) > VERSION_MAX || !version_is_valid(w))
		return -EBADMSG;
	strcpy(ret, w);
	return 0;
}

int
worker_line_parse(const char *line, struct worker_line *ret)
{
	char buf[WORKER_LINE_MAX + 1], *s = buf, *kind, *w;
	struct worker_line l = {0};
	size_t len = strlen(line);

	if (len > WORKER_LINE_MAX)
		return -EBADMSG;
	memcpy(buf, line, len + 1);
	kind = next_word(&s);
	if (!kind)
		return -EBADMSG;
	if (streq(kind, "phase")) {
		l.kind = WORKER_LINE_PHASE;
		if (parse_phase_number(next_word(&s), ROLLWAVE__PHASE__PHASE_FETCHING,
		            ROLLWAVE__PHASE__PHASE_CHECKING, &l.phase) < 0 ||
		        (l.phase > ROLLWAVE__PHASE__PHASE_HEALTH &&
		                l.phase < ROLLWAVE__PHASE__PHASE_MIGRATING))
			return -EBADMSG;
		w = next_word(&s);
		if (!w || !*w || strlen(w) > WORKER_PHASE_NAME_MAX ||
		        strspn(w, "abcdefghijklmnopqrstuvwxyz_") != strlen(w))
			return -EBADMSG;
		strcpy(l.name, w);
		if (parse_version(next_word(&s), l.version) < 0 || *s)
			return -EBADMSG;
	} else if (streq(kind, "result")) {
		l.kind = WORKER_LINE_RESULT;
		if (parse_phase_number(next_word(&s), ROLLWAVE__PHASE__PHASE_COMMITTED,
		            ROLLWAVE__PHASE__PHASE_CANCELLED, &l.phase) < 0 ||
		        (l.phase > ROLLWAVE__PHASE__PHASE_FAILED &&
		                l.phase < ROLLWAVE__PHASE__PHASE_CANCELLED) ||
		        parse_version(next_word(&s), l.version) < 0)
			return -EBADMSG;
		if (strlen(s) > WORKER_MESSAGE_MAX)
			return -EBADMSG;
		for (const char *c = s; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return -EBADMSG;
		strcpy(l.message, s);
	} else if (streq(kind, "output")) {
		size_t n = strlen(s);

		l.kind = WORKER_LINE_OUTPUT;
		if (n == 0 || n % 2 || n > 2 * WORKER_OUTPUT_CHUNK)
			return -EBADMSG;
		for (size_t i = 0; i < n; i += 2) {
			int hi = unhex(s[i]), lo = unhex(s[i + 1]);

			if (hi < 0 || lo < 0)
				return -EBADMSG;
			l.data[l.data_len++] = (char)(hi << 4 | lo);
		}
	} else if (streq(kind, "absent")) {
		l.kind = WORKER_LINE_ABSENT;
		if (*s)
			return -EBADMSG;
	} else
		return -EBADMSG;
	*ret = l;
	return 0;
}

static void
reader_take_line(struct worker_reader *rd, worker_line_cb cb, void *userdata)
{
	struct worker_line l;

	rd->buf[rd->len] = 0;
	if (rd->overlong || worker_line_parse(rd->buf, &l) < 0)
		rd->bad++;
	else
		cb(userdata, &l);
	rd->len = 0;
	rd->overlong = false;
}

int
worker_read(int fd, struct worker_reader *rd, worker_line_cb cb, void *userdata)
{
	char chunk[4096];

	for (;;) {
		ssize_t k = read(fd, chunk, sizeof(chunk));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (k == 0) {
			if (rd->len > 0 || rd->overlong)
				reader_take_line(rd, cb, userdata);
			return 1;
		}
		for (ssize_t i = 0; i < k; i++) {
			if (chunk[i] == '\n') {
				reader_take_line(rd, cb, userdata);
				continue;
			}
			if (rd->len >= WORKER_LINE_MAX) {
				rd->overlong = true;
				continue;
			}
			if (!rd->overlong)
				rd->buf[rd->len++] = chunk[i];
		}
	}
}

void
worker_exit_message(int code, int status, char *buf, size_t size)
{
	if (code == CLD_EXITED)
		strbuf_printf(buf, size, "exited with status %d", status);
	else
		strbuf_printf(buf, size, "was killed by signal %d (%s)", status, strsignal(status));
}
