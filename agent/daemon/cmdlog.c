/*
 * cmdlog: log lines about commands with HOST_ID= and COMMAND_ID=. See
 * cmdlog.h.
 */
#include "cmdlog.h"

#include <inttypes.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "log.h"

/* Where log_struct() writes with LOG_TARGET_AUTO: the journal when stderr
 * is the stream systemd connected to it. */
static bool
stderr_is_journal(void)
{
	static int cached = -1;
	const char *e;
	unsigned long dev, ino;
	struct stat st;

	if (cached >= 0)
		return cached;
	e = getenv("JOURNAL_STREAM");
	cached = e && sscanf(e, "%lu:%lu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	        st.st_dev == dev && st.st_ino == ino;
	return cached;
}

size_t
cmdlog_fields(int prio, const char *msgid, const char *app, const char *version,
        const struct cmdlog_ids *ids, const char *message,
        char buf[static CMDLOG_FIELDS_MAX][CMDLOG_FIELD_MAX],
        struct iovec iov[static CMDLOG_FIELDS_MAX])
{
	size_t n = 0;

	strbuf_printf(buf[n++], CMDLOG_FIELD_MAX, "MESSAGE=%s", message);
	strbuf_printf(buf[n++], CMDLOG_FIELD_MAX, "PRIORITY=%d", prio);
	strbuf_printf(buf[n++], CMDLOG_FIELD_MAX, "SYSLOG_IDENTIFIER=%s", CMDLOG_IDENT);
	if (msgid)
		strbuf_printf(buf[n++], CMDLOG_FIELD_MAX, "MESSAGE_ID=%s", msgid);
	if (app)
		strbuf_printf(buf[n++], CMDLOG_FIELD_MAX, "APP=%s", app);
	if (version)
		strbuf_printf(buf[n++], CMDLOG_FIELD_MAX, "VERSION=%s", version);
	if (ids && ids->host_id)
		strbuf_printf(buf[n++], CMDLOG_FIELD_MAX, "HOST_ID=%" PRIu64, ids->host_id);
	if (ids && ids->command_id)
		strbuf_printf(buf[n++], CMDLOG_FIELD_MAX, "COMMAND_ID=%" PRIu64, ids->command_id);
	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec) {.iov_base = buf[i], .iov_len = strlen(buf[i])};
	return n;
}

void
cmdlog(int prio, const char *msgid, const char *app, const char *version,
        const struct cmdlog_ids *ids, const char *fmt, ...)
{
	static char buf[CMDLOG_FIELDS_MAX][CMDLOG_FIELD_MAX];
	struct iovec iov[CMDLOG_FIELDS_MAX];
	char msg[2048];
	va_list ap;
	size_t n;
	int saved = errno;

	if (prio > log_get_max_level())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!stderr_is_journal()) {
		log_struct(prio, msgid, app, version, "%s", msg);
		errno = saved;
		return;
	}
	/* The daemon's loop thread is the only caller: one static buffer. */
	n = cmdlog_fields(prio, msgid, app, version, ids, msg, buf, iov);
	(void)sd_journal_sendv(iov, (int)n);
	errno = saved;
}
