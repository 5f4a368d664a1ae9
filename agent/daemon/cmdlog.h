/*
 * cmdlog: the daemon's log lines about a coordinator command, with the
 * journal fields HOST_ID= (the id Welcome gave this host, 0 before) and
 * COMMAND_ID= next to the MESSAGE_ID=, APP= and VERSION= of lib/log.h.
 *
 * lib/log.h's log_struct() takes no other fields, so when it writes to the
 * journal this module sends the entry itself (sd_journal_sendv(), with the
 * same MESSAGE=, PRIORITY= and SYSLOG_IDENTIFIER= log_struct() would
 * write); on stderr it hands the line to log_struct() unchanged (the
 * message names the command already). Honours log_get_max_level(). To be
 * folded into lib/log.h once log_struct() takes extra fields.
 */
#ifndef ROLLWAVE_AGENT_CMDLOG_H
#define ROLLWAVE_AGENT_CMDLOG_H

#include <stdint.h>
#include <sys/uio.h>

#include "util.h"

#define CMDLOG_IDENT      "rollwave-agent"
#define CMDLOG_FIELDS_MAX 8
#define CMDLOG_FIELD_MAX  2200

/* The ids a line is about; 0: not known, the field is left out. */
struct cmdlog_ids {
	uint64_t host_id;
	uint64_t command_id;
};

/* The journal entry's fields, built into buf (CMDLOG_FIELDS_MAX slots of
 * CMDLOG_FIELD_MAX bytes) and pointed at by iov; returns how many. msgid,
 * app and version may be NULL. Pure: for the daemon and its tests. */
size_t cmdlog_fields(int prio, const char *msgid, const char *app, const char *version,
        const struct cmdlog_ids *ids, const char *message,
        char buf[static CMDLOG_FIELDS_MAX][CMDLOG_FIELD_MAX],
        struct iovec iov[static CMDLOG_FIELDS_MAX]);

/* Logs one line about a command (see above). */
void cmdlog(int prio, const char *msgid, const char *app, const char *version,
        const struct cmdlog_ids *ids, const char *fmt, ...) _printf_(6, 7);

#endif
