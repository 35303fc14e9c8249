/* log.c: JSON-lines logger; see log.h for the line format and the guarantees.
 *
 * A line is built in a bounded stack buffer (no allocation) and written with one write(2) under a
 * mutex, so concurrent lines never interleave, whatever the file descriptor is (pipe, file,
 * terminal). The mutex also guards the service/pod names, kept pre-escaped.
 */
#include "log.h"
#include "json_escape.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Escaped bytes kept of each of service, pod, identity and message_id. */
#define LOG_FIELD_MAX 256
/* `"service":"...","pod":"..."` */
#define LOG_IDENT_CAP (2 * LOG_FIELD_MAX + 32)
/* Everything but the message is bounded by well under 2 KiB. */
#define LOG_LINE_CAP (LOG_MSG_MAX + LOG_IDENT_CAP + 2 * LOG_FIELD_MAX + 512)

/* U+2026 HORIZONTAL ELLIPSIS, marks a cut message. */
#define LOG_ELLIPSIS "\xE2\x80\xA6"

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int log_threshold = LOG_INFO;
static atomic_int log_out_fd = 2;
/* Guarded by log_lock; empty until log_init or the first line. */
static char log_ident[LOG_IDENT_CAP];
/* the trace of what this thread handles now (log_set_trace_id), "" for none */
static _Thread_local char log_trace_id[33];
static size_t log_ident_len;

/* A bounded output buffer: appends that do not fit are dropped whole. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} log_buf_t;

static void buf_put(log_buf_t *buf, const char *bytes, size_t n)
{
    if (n > buf->cap - buf->len)
        return;
    memcpy(buf->data + buf->len, bytes, n);
    buf->len += n;
}

static void buf_puts(log_buf_t *buf, const char *str)
{
    buf_put(buf, str, strlen(str));
}

/* Append the JSON-escaped form of in[0..inlen) to buf, using at most limit bytes and never cutting
 * an escape or a character in two. Returns true when all of the input fitted. */
static bool buf_put_escaped(log_buf_t *buf, const char *in, size_t inlen, size_t limit)
{
    size_t consumed;

    if (limit > buf->cap - buf->len)
        limit = buf->cap - buf->len;
    buf->len += json_escape(in, inlen, buf->data + buf->len, limit, &consumed);
    return consumed == inlen;
}

/* Append `"key":"escaped value"`; returns true when the value was not cut. */
static bool buf_put_field(log_buf_t *buf, const char *key, const char *value, size_t limit)
{
    bool whole;

    buf_puts(buf, "\"");
    buf_puts(buf, key);
    buf_puts(buf, "\":\"");
    whole = buf_put_escaped(buf, value, strlen(value), limit);
    buf_puts(buf, "\"");
    return whole;
}

/* Caller holds log_lock. */
static void log_ident_set(const char *service, const char *pod)
{
    log_buf_t buf = {log_ident, 0, sizeof(log_ident)};

    buf_put_field(&buf, "service", service ? service : "", LOG_FIELD_MAX);
    buf_puts(&buf, ",");
    buf_put_field(&buf, "pod", pod ? pod : "", LOG_FIELD_MAX);
    log_ident_len = buf.len;
}

void log_init(const char *service, const char *pod)
{
    pthread_mutex_lock(&log_lock);
    log_ident_set(service, pod);
    pthread_mutex_unlock(&log_lock);
}

int log_set_level_name(const char *name)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
        if (strcasecmp(name, log_level_names[i]) == 0) {
            atomic_store(&log_threshold, (int)i);
            return 0;
        }
    }
    return -EINVAL;
}

void log_set_level(log_level_t level)
{
    if ((int)level >= LOG_DEBUG && (int)level <= LOG_ERROR)
        atomic_store(&log_threshold, (int)level);
}

/* Out-of-range levels count as errors: a bad level must not silence a line. */
static int log_level_clamp(log_level_t level)
{
    int value = (int)level;

    if (value < LOG_DEBUG || value > LOG_ERROR)
        return LOG_ERROR;
    return value;
}

bool log_enabled(log_level_t level)
{
    return log_level_clamp(level) >= atomic_load(&log_threshold);
}

void log_set_fd(int fd)
{
    atomic_store(&log_out_fd, fd);
}

static void buf_put_timestamp(log_buf_t *buf)
{
    struct timespec now;
    struct tm tm;
    char text[40];
    size_t n;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(text + n, sizeof(text) - n, ".%03ldZ", now.tv_nsec / 1000000L);
    buf_puts(buf, text);
}

void log_write(log_level_t level, const char *identity, const char *message_id, const char *fmt,
               ...)
{
    int saved_errno = errno;
    int lvl = log_level_clamp(level);
    char msg[LOG_MSG_MAX + 1];
    char line[LOG_LINE_CAP];
    char ident[LOG_IDENT_CAP];
    size_t ident_len, msg_len = 0;
    log_buf_t buf = {line, 0, sizeof(line)};
    bool truncated = false;
    va_list args;
    int fd;

    if (lvl < atomic_load(&log_threshold))
        return;

    /* First, while errno is intact for %m. */
    if (fmt) {
        int n;

        va_start(args, fmt);
        n = vsnprintf(msg, sizeof(msg), fmt, args);
        va_end(args);
        if (n < 0) {
            snprintf(msg, sizeof(msg), "(log format error in \"%.64s\")", fmt);
            msg_len = strlen(msg);
        } else if ((size_t)n >= sizeof(msg)) {
            /* A character cut here is dropped, not replaced: the escaped output is capped at
             * LOG_MSG_MAX too, which leaves no room for its U+FFFD. */
            msg_len = sizeof(msg) - 1;
            truncated = true;
        } else {
            msg_len = (size_t)n;
        }
    }

    pthread_mutex_lock(&log_lock);
    if (log_ident_len == 0)
        log_ident_set(program_invocation_short_name, "");
    memcpy(ident, log_ident, log_ident_len);
    ident_len = log_ident_len;
    pthread_mutex_unlock(&log_lock);

    buf_puts(&buf, "{\"ts\":\"");
    buf_put_timestamp(&buf);
    buf_puts(&buf, "\",\"level\":\"");
    buf_puts(&buf, log_level_names[lvl]);
    buf_puts(&buf, "\",");
    buf_put(&buf, ident, ident_len);
    if (identity) {
        buf_puts(&buf, ",");
        if (!buf_put_field(&buf, "identity", identity, LOG_FIELD_MAX))
            truncated = true;
    }
    if (message_id) {
        buf_puts(&buf, ",");
        if (!buf_put_field(&buf, "message_id", message_id, LOG_FIELD_MAX))
            truncated = true;
    }
    if (log_trace_id[0]) {
        buf_puts(&buf, ",");
        buf_put_field(&buf, "trace_id", log_trace_id, LOG_FIELD_MAX);
    }
    buf_puts(&buf, ",\"msg\":\"");
    if (!buf_put_escaped(&buf, msg, msg_len, LOG_MSG_MAX)) {
        buf_puts(&buf, LOG_ELLIPSIS);
        truncated = true;
    } else if (truncated) {
        buf_puts(&buf, LOG_ELLIPSIS);
    }
    buf_puts(&buf, "\"");
    if (truncated)
        buf_puts(&buf, ",\"truncated\":true");
    buf_puts(&buf, "}\n");

    pthread_mutex_lock(&log_lock);
    fd = atomic_load(&log_out_fd);
    if (fd >= 0) {
        size_t off = 0;

        /* One call in practice; the loop only resumes after a signal or a partial write. */
        while (off < buf.len) {
            ssize_t n = write(fd, line + off, buf.len - off);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t)n;
        }
    }
    pthread_mutex_unlock(&log_lock);
    errno = saved_errno;
}

void log_set_trace_id(const char *trace_id)
{
    snprintf(log_trace_id, sizeof(log_trace_id), "%s", trace_id ? trace_id : "");
}
