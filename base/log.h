/* Logging for daemons and the CLI. Lines go to stderr with a "<N>" syslog prefix when
 * stderr is the journal (so journald records the priority), plain text otherwise.
 * Library code (proto/, base/ except this file) never logs above debug. */
#pragma once

#include <syslog.h>

#include "base/util.h"

void log_setup(const char *ident);

/* Logs and returns -abs(error), so a caller can `return log_error_errno(r, "...: %m");`.
 * "%m" formats strerror(-error). */
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...) log_internal((level), (error), __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...)                    log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)                     log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)                   log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)                  log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)                    log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)           log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)            log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...)         log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)           log_full_errno(LOG_ERR, (e), __VA_ARGS__)
