/*
 * log: structured journal logging with a stderr fallback. See log.h.
 */
#include "log.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

static const char *log_ident = "rollwave";
static enum log_target log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;

static bool
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%lu:%lu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void
log_setup(const char *ident, enum log_target target, int max_level)
{
	log_ident = ident;
	if (target == LOG_TARGET_AUTO)
		target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
	log_target = target;
	log_max_level = max_level;
}

int
log_get_max_level(void)
{
	return log_max_level;
}

void
log_struct(int prio, const char *msgid, const char *app, const char *version, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int saved = errno;

	if (prio > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (log_target == LOG_TARGET_JOURNAL) {
		char f[6][2200];
		struct iovec iov[6];
		int n = 0;

		snprintf(f[n++], sizeof(f[0]), "MESSAGE=%s", msg);
		snprintf(f[n++], sizeof(f[0]), "PRIORITY=%d", prio);
		snprintf(f[n++], sizeof(f[0]), "SYSLOG_IDENTIFIER=%s", log_ident);
		if (msgid)
			snprintf(f[n++], sizeof(f[0]), "MESSAGE_ID=%s", msgid);
		if (app)
			snprintf(f[n++], sizeof(f[0]), "APP=%s", app);
		if (version)
			snprintf(f[n++], sizeof(f[0]), "VERSION=%s", version);
		for (int i = 0; i < n; i++)
			iov[i] = (struct iovec) {.iov_base = f[i], .iov_len = strlen(f[i])};
		sd_journal_sendv(iov, n);
	} else {
		fprintf(stderr, "%s: %s%s\n", log_ident,
		        prio <= LOG_ERR               ? "error: "
		                : prio == LOG_WARNING ? "warning: "
		                                      : "",
		        msg);
	}
	errno = saved;
}
