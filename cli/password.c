/*
 * password: asking for secret key passwords without echo, or taking them
 * from $ROLLWAVE_PASSWORD or a pipe for scripts and tests.
 */
#include <fcntl.h>
#include <sodium.h>
#include <termios.h>

#include "cli.h"
#include "minisign.h"

/* Reads one line from fd into buf (at most MINISIGN_PASSWORD_MAX bytes), one
 * byte at a time so nothing after the line is consumed. Returns 1 if a line
 * was read, 0 at EOF before any byte. */
static int
read_line_fd(int fd, char buf[static MINISIGN_PASSWORD_MAX + 1])
{
	size_t n = 0;
	bool any = false;

	for (;;) {
		char c;
		ssize_t k = read(fd, &c, 1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		any = true;
		if (c == '\n')
			break;
		if (n >= MINISIGN_PASSWORD_MAX)
			return -E2BIG;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = 0;
	return any ? 1 : 0;
}

static int
read_tty(const char *prompt, char buf[static MINISIGN_PASSWORD_MAX + 1])
{
	struct termios old, noecho;
	int r;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) < 0)
		return -errno;
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	noecho.c_lflag |= ECHONL;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) < 0)
		return -errno;
	r = read_line_fd(STDIN_FILENO, buf);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return r;
}

static void
wipe_freep(char **p)
{
	if (*p) {
		sodium_memzero(*p, MINISIGN_PASSWORD_MAX + 1);
		free(*p);
	}
}

int
cli_password_read(const char *prompt, bool confirm, char **ret_password, struct rw_err *err)
{
	_cleanup_(wipe_freep) char *a = NULL;
	_cleanup_(wipe_freep) char *b = NULL;
	const char *env = getenv("ROLLWAVE_PASSWORD");
	bool tty = isatty(STDIN_FILENO);
	int r;

	a = calloc(1, MINISIGN_PASSWORD_MAX + 1);
	b = calloc(1, MINISIGN_PASSWORD_MAX + 1);
	if (!a || !b)
		return rw_err_set(err, -ENOMEM, "out of memory");
	if (env) {
		if (strlen(env) > MINISIGN_PASSWORD_MAX)
			return rw_err_set(err, -E2BIG, "$ROLLWAVE_PASSWORD longer than %d bytes",
			        MINISIGN_PASSWORD_MAX);
		strcpy(a, env);
	} else if (tty) {
		r = read_tty(prompt, a);
		if (r == 0)
			r = -ENODATA;
		if (r < 0)
			return rw_err_set(err, r, "cannot read password: %s", strerror(-r));
		if (confirm) {
			r = read_tty("Password (one more time): ", b);
			if (r == 0)
				r = -ENODATA;
			if (r < 0)
				return rw_err_set(err, r, "cannot read password: %s", strerror(-r));
			if (!streq(a, b))
				return rw_err_set(err, -EINVAL, "passwords don't match");
		}
	} else {
		r = read_line_fd(STDIN_FILENO, a);
		if (r == 0)
			return rw_err_set(err, -ENODATA,
			        "no password: set $ROLLWAVE_PASSWORD or pipe it to stdin");
		if (r < 0)
			return rw_err_set(
			        err, r, "cannot read password from stdin: %s", strerror(-r));
		if (confirm) {
			/* Like minisign -G, accept the password twice; once is enough. */
			r = read_line_fd(STDIN_FILENO, b);
			if (r < 0)
				return rw_err_set(err, r, "cannot read password from stdin: %s",
				        strerror(-r));
			if (r > 0 && !streq(a, b))
				return rw_err_set(err, -EINVAL, "passwords don't match");
		}
	}
	*ret_password = strdup(a);
	if (!*ret_password)
		return rw_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

int
cli_seckey_load(const char *path, struct minisign_seckey *ret, struct rw_err *err)
{
	char *pw = NULL;
	int r;

	r = minisign_seckey_load(path, NULL, ret, err);
	if (r != -ENOKEY)
		return r;
	r = cli_password_read("Password: ", false, &pw, err);
	if (r < 0)
		return r;
	r = minisign_seckey_load(path, pw, ret, err);
	minisign_text_free(pw);
	return r;
}
