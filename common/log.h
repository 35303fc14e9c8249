/* log.h: the project's one logger, JSON lines on a file descriptor (stderr by default).
 *
 * Every call writes exactly one line with one write(2), so lines from several threads never
 * interleave:
 *   {"ts":"2026-11-24T10:00:00.123Z","level":"info","service":"ocpp-core","pod":"pod-a",
 *    "identity":"CP1","message_id":"42","msg":"..."}
 * identity and message_id appear only when non-NULL. Every string is JSON-escaped and invalid
 * UTF-8 is replaced by U+FFFD, so a line is valid JSON whatever the caller passes (identities come
 * from the network). A message longer than LOG_MSG_MAX is cut, ends in "…" and the line gets
 * "truncated":true. Below the level threshold (default info) nothing is formatted.
 */
#ifndef OCPPGW_LOG_H
#define OCPPGW_LOG_H

#include <stdbool.h>

/* <syslog.h> (pulled in by czmq.h, among others) defines LOG_DEBUG and LOG_INFO as macros, which
 * would rewrite the enum below or, included later, turn log_debug() into level 7. Including it
 * here first lets its include guard keep it from coming back, whatever the include order. */
#include <syslog.h>
#undef LOG_DEBUG
#undef LOG_INFO

/* Longest message text (bytes of JSON-escaped output) before it is truncated. */
#define LOG_MSG_MAX 8192

typedef enum {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR
} log_level_t;

/* Set the service and pod names put in every line; both are copied (NULL = ""). May be called
 * again. Without it, service is the program name and pod is "". */
void log_init(const char *service, const char *pod);

/* Set the threshold by name: "debug", "info", "warn" or "error" (any case). -EINVAL otherwise,
 * leaving the threshold as it was. */
int log_set_level_name(const char *name);

/* Set the threshold; an out-of-range value is ignored. */
void log_set_level(log_level_t level);

/* True when a line of this level would be written: use it to skip costly argument preparation. */
bool log_enabled(log_level_t level);

/* Write lines to fd from now on (default 2). The logger never closes it; a negative fd discards
 * every line. */
void log_set_fd(int fd);

/* Write one line. identity and message_id are optional (NULL = key left out). errno is
 * preserved, so `log_error(...); return -errno;` works. */
void log_write(log_level_t level, const char *identity, const char *message_id, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));

/* Until the next call, every line this thread writes carries "trace_id":trace_id (the 32 hex
 * characters of a W3C trace id: the message or command the lines are about). NULL or "" clears
 * it; longer text is cut to 32 characters. */
void log_set_trace_id(const char *trace_id);

#define log_debug(...) log_write(LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, NULL, NULL, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, NULL, NULL, __VA_ARGS__)

#endif
