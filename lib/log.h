/*
 * log: the one logging helper of the daemons and tools.
 *
 * Writes structured journal entries (MESSAGE_ID=, APP=, VERSION=,
 * DEPLOYMENT_ID=, HOST_ID=) when the target is the journal, and plain
 * "ident: message" lines to stderr otherwise. Library code does not log; it
 * returns errors through struct rw_err and the binaries log them here.
 */
#ifndef ROLLWAVE_LOG_H
#define ROLLWAVE_LOG_H

#include <syslog.h>

#include "util.h"

enum log_target {
	LOG_TARGET_STDERR,
	LOG_TARGET_JOURNAL,
	LOG_TARGET_AUTO, /* journal if stderr is connected to it, else stderr */
};

/* Stable message ids (128-bit, sd-id128 style) for the events we log. */
#define MSGID_DEPLOY_START  "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c01"
#define MSGID_DEPLOY_DONE   "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c02"
#define MSGID_DEPLOY_FAILED "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c03"
#define MSGID_ROLLED_BACK   "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c04"
#define MSGID_RECOVERY      "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c05"
#define MSGID_HOOK_OUTPUT   "6c1a2f0d9f1e4a3c8b2d7e5f4a6b1c06"

void log_setup(const char *ident, enum log_target target, int max_level);
int log_get_max_level(void);

/* Logs at priority prio (LOG_ERR..LOG_DEBUG). msgid, app and version may be
 * NULL. Returns -EIO style negative value r unchanged so that error paths
 * can "return log_app(LOG_ERR, ..., r)". */
void log_struct(int prio, const char *msgid, const char *app, const char *version, const char *fmt,
        ...) _printf_(5, 6);

#define log_error(...)   log_struct(LOG_ERR, NULL, NULL, NULL, __VA_ARGS__)
#define log_warning(...) log_struct(LOG_WARNING, NULL, NULL, NULL, __VA_ARGS__)
#define log_notice(...)  log_struct(LOG_NOTICE, NULL, NULL, NULL, __VA_ARGS__)
#define log_info(...)    log_struct(LOG_INFO, NULL, NULL, NULL, __VA_ARGS__)
#define log_debug(...)   log_struct(LOG_DEBUG, NULL, NULL, NULL, __VA_ARGS__)

#endif
