/* test_log.c: unit tests of common/log.c, the JSON-lines logger.
 *
 * Lines are captured on a datagram socket pair: every write(2) is one datagram, so one recv() is
 * exactly what one write produced, which is how "one line, one write" is checked. Each line is
 * parsed by a small strict JSON reader below (the common test rule links no JSON library).
 */
#include <syslog.h> /* before log.h on purpose: its LOG_DEBUG/LOG_INFO must not leak into ours */
#include "log.h"
#include <czmq.h> /* includes <syslog.h> again, after log.h */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES (64 * 1024)
#define MAX_FIELDS     16

/* ---------------------------------------------------------------------------------------------
 * A strict reader for the flat objects the logger writes: string and boolean values only. */

typedef struct {
    char key[64];
    char *value; /* decoded UTF-8, NUL-terminated; "true"/"false" for booleans */
    bool is_string;
} json_field_t;

typedef struct {
    json_field_t fields[MAX_FIELDS];
    size_t count;
} json_object_t;

static void json_object_clear(json_object_t *obj)
{
    for (size_t i = 0; i < obj->count; i++)
        free(obj->fields[i].value);
    obj->count = 0;
}

/* Length of a valid UTF-8 sequence at s, 0 if invalid (independent of the logger's version). */
static size_t test_utf8_len(const unsigned char *s, size_t avail)
{
    unsigned cp;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (avail < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
        return 0; /* overlong */
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parse a JSON string at *p (at the opening quote) into out (cap bytes); false if invalid. */
static bool json_read_string(const char **p, const char *end, char *out, size_t cap)
{
    const char *s = *p;
    size_t len = 0;

    if (s >= end || *s != '"')
        return false;
    s++;
    while (s < end && *s != '"') {
        unsigned char c = (unsigned char)*s;
        char tmp[4];
        size_t n = 0;

        if (c < 0x20)
            return false; /* raw control character */
        if (c == '\\') {
            if (++s >= end)
                return false;
            switch (*s) {
            case '"':
            case '\\':
            case '/':
                tmp[n++] = *s;
                break;
            case 'b':
                tmp[n++] = '\b';
                break;
            case 'f':
                tmp[n++] = '\f';
                break;
            case 'n':
                tmp[n++] = '\n';
                break;
            case 'r':
                tmp[n++] = '\r';
                break;
            case 't':
                tmp[n++] = '\t';
                break;
            case 'u': {
                unsigned cp = 0;

                if (end - s < 5)
                    return false;
                for (int i = 1; i <= 4; i++) {
                    int h = hex_value(s[i]);

                    if (h < 0)
                        return false;
                    cp = cp * 16 + (unsigned)h;
                }
                s += 4;
                if (cp >= 0xD800 && cp <= 0xDFFF)
                    return false; /* the logger never needs surrogate pairs */
                if (cp < 0x80) {
                    tmp[n++] = (char)cp;
                } else if (cp < 0x800) {
                    tmp[n++] = (char)(0xC0 | (cp >> 6));
                    tmp[n++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    tmp[n++] = (char)(0xE0 | (cp >> 12));
                    tmp[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    tmp[n++] = (char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default:
                return false;
            }
            s++;
        } else {
            n = test_utf8_len((const unsigned char *)s, (size_t)(end - s));
            if (n == 0)
                return false; /* invalid UTF-8 in the output */
            memcpy(tmp, s, n);
            s += n;
        }
        if (len + n >= cap)
            return false;
        memcpy(out + len, tmp, n);
        len += n;
    }
    if (s >= end)
        return false;
    out[len] = '\0';
    *p = s + 1;
    return true;
}

/* Parse one complete line: `{...}\n`, nothing else. */
static bool json_parse_line(const char *line, size_t len, json_object_t *obj)
{
    const char *p = line, *end;
    static char scratch[LINE_MAX_BYTES];

    obj->count = 0;
    if (len < 3 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
        return false;
    end = line + len - 1;
    if (*p++ != '{')
        return false;
    while (p < end) {
        json_field_t *f;

        if (obj->count == MAX_FIELDS)
            return false;
        f = &obj->fields[obj->count];
        if (!json_read_string(&p, end, scratch, sizeof(f->key)))
            return false;
        memcpy(f->key, scratch, strlen(scratch) + 1);
        if (p >= end || *p++ != ':')
            return false;
        if (p < end && *p == '"') {
            if (!json_read_string(&p, end, scratch, sizeof(scratch)))
                return false;
            f->is_string = true;
        } else if (end - p >= 4 && strncmp(p, "true", 4) == 0) {
            memcpy(scratch, "true", 5);
            p += 4;
            f->is_string = false;
        } else if (end - p >= 5 && strncmp(p, "false", 5) == 0) {
            memcpy(scratch, "false", 6);
            p += 5;
            f->is_string = false;
        } else {
            return false;
        }
        f->value = strdup(scratch);
        if (!f->value)
            return false;
        obj->count++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        break;
    }
    return p == end - 1 && *p == '}';
}

static const char *json_get(const json_object_t *obj, const char *key)
{
    for (size_t i = 0; i < obj->count; i++)
        if (strcmp(obj->fields[i].key, key) == 0)
            return obj->fields[i].value;
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Capture */

static int cap_fds[2] = {-1, -1};
static char cap_line[LINE_MAX_BYTES];
static size_t cap_len;
static json_object_t cap_obj;

static void capture_setup(void)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, cap_fds), 0);
    log_set_fd(cap_fds[0]);
    log_init("ocpp-core", "pod-a");
    log_set_level(LOG_INFO);
}

static void capture_teardown(void)
{
    json_object_clear(&cap_obj);
    log_set_fd(2);
    close(cap_fds[0]);
    close(cap_fds[1]);
    cap_fds[0] = cap_fds[1] = -1;
}

/* Receive the next write; false when nothing was written. */
static bool capture_next(void)
{
    ssize_t n = recv(cap_fds[1], cap_line, sizeof(cap_line) - 1, MSG_DONTWAIT);

    if (n < 0)
        return false;
    cap_len = (size_t)n;
    cap_line[cap_len] = '\0';
    return true;
}

/* Receive the next write, which must be one valid JSON line; parsed into cap_obj. */
static void capture_line(void)
{
    json_object_clear(&cap_obj);
    ck_assert_msg(capture_next(), "no line was written");
    ck_assert_msg(json_parse_line(cap_line, cap_len, &cap_obj), "not one valid JSON line: %s",
                  cap_line);
}

static void ck_assert_nothing_written(void)
{
    ck_assert_msg(!capture_next(), "unexpected line: %s", cap_line);
}

/* ---------------------------------------------------------------------------------------------
 * Tests */

START_TEST(test_defaults_without_init)
{
    int fds[2];
    json_object_t obj = {0};
    char line[4096];
    ssize_t n;

    /* runs before any log_init or log_set_level in this process */
    ck_assert(log_enabled(LOG_INFO));
    ck_assert(log_enabled(LOG_ERROR));
    ck_assert(!log_enabled(LOG_DEBUG));
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, fds), 0);
    log_set_fd(fds[0]);
    log_info("no init needed");
    n = recv(fds[1], line, sizeof(line) - 1, MSG_DONTWAIT);
    log_set_fd(2);
    close(fds[0]);
    close(fds[1]);
    ck_assert_int_gt(n, 0);
    ck_assert(json_parse_line(line, (size_t)n, &obj));
    ck_assert_str_eq(json_get(&obj, "service"), program_invocation_short_name);
    ck_assert_str_eq(json_get(&obj, "pod"), "");
    ck_assert_str_eq(json_get(&obj, "msg"), "no init needed");
    json_object_clear(&obj);
}
END_TEST

START_TEST(test_syslog_macros_do_not_leak)
{
    /* <syslog.h> says LOG_DEBUG 7 and LOG_INFO 6; czmq.h includes it. */
    ck_assert_int_eq(LOG_DEBUG, 0);
    ck_assert_int_eq(LOG_INFO, 1);
    ck_assert_int_eq(LOG_WARN, 2);
    ck_assert_int_eq(LOG_ERROR, 3);
}
END_TEST

START_TEST(test_line_format)
{
    struct tm tm = {0};
    const char *ts;
    time_t when;

    log_info("hello %s %d", "world", 42);
    capture_line();
    ck_assert_uint_eq(cap_obj.count, 5);
    ck_assert_str_eq(cap_obj.fields[0].key, "ts");
    ck_assert_str_eq(cap_obj.fields[1].key, "level");
    ck_assert_str_eq(cap_obj.fields[2].key, "service");
    ck_assert_str_eq(cap_obj.fields[3].key, "pod");
    ck_assert_str_eq(cap_obj.fields[4].key, "msg");
    ck_assert_str_eq(json_get(&cap_obj, "level"), "info");
    ck_assert_str_eq(json_get(&cap_obj, "service"), "ocpp-core");
    ck_assert_str_eq(json_get(&cap_obj, "pod"), "pod-a");
    ck_assert_str_eq(json_get(&cap_obj, "msg"), "hello world 42");
    ck_assert_ptr_nonnull(strstr(cap_line, "\"msg\":\"hello world 42\"}\n"));

    /* 2026-11-24T10:00:00.123Z, UTC, within a few seconds of now */
    ts = json_get(&cap_obj, "ts");
    ck_assert_uint_eq(strlen(ts), 24);
    ck_assert_ptr_nonnull(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
    ck_assert(ts[19] == '.' && ts[20] >= '0' && ts[20] <= '9' && ts[21] >= '0' && ts[21] <= '9' &&
              ts[22] >= '0' && ts[22] <= '9' && ts[23] == 'Z');
    when = timegm(&tm);
    ck_assert_int_le(labs((long)(when - time(NULL))), 5);

    ck_assert_nothing_written();
}
END_TEST

START_TEST(test_one_line_per_call)
{
    for (int i = 0; i < 5; i++)
        log_write(LOG_ERROR, NULL, NULL, "line %d", i);
    for (int i = 0; i < 5; i++) {
        char want[16];

        capture_line();
        snprintf(want, sizeof(want), "line %d", i);
        ck_assert_str_eq(json_get(&cap_obj, "msg"), want);
        ck_assert_str_eq(json_get(&cap_obj, "level"), "error");
    }
    ck_assert_nothing_written();
}
END_TEST

START_TEST(test_identity_and_message_id)
{
    log_write(LOG_WARN, "CP1", "42", "call");
    capture_line();
    ck_assert_uint_eq(cap_obj.count, 7);
    ck_assert_str_eq(json_get(&cap_obj, "level"), "warn");
    ck_assert_str_eq(json_get(&cap_obj, "identity"), "CP1");
    ck_assert_str_eq(json_get(&cap_obj, "message_id"), "42");
    ck_assert_ptr_nonnull(strstr(cap_line,
                                 "\"pod\":\"pod-a\",\"identity\":\"CP1\",\"message_id\":\"42\","
                                 "\"msg\":\"call\"}\n"));

    log_write(LOG_INFO, "CP2", NULL, "only identity");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "identity"), "CP2");
    ck_assert_ptr_null(json_get(&cap_obj, "message_id"));

    log_write(LOG_INFO, NULL, "m-7", "only message id");
    capture_line();
    ck_assert_ptr_null(json_get(&cap_obj, "identity"));
    ck_assert_str_eq(json_get(&cap_obj, "message_id"), "m-7");

    log_info("neither");
    capture_line();
    ck_assert_ptr_null(json_get(&cap_obj, "identity"));
    ck_assert_ptr_null(json_get(&cap_obj, "message_id"));
    ck_assert_ptr_null(strstr(cap_line, "identity"));
}
END_TEST

/* log_set_trace_id: every line of this thread carries trace_id until it is cleared */
START_TEST(test_trace_id_context)
{
    log_set_trace_id("4bf92f3577b34da6a3ce929d0e0e4736");
    log_write(LOG_WARN, "CP1", "42", "about the CALL");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    ck_assert_ptr_nonnull(strstr(cap_line, "\"message_id\":\"42\",\"trace_id\":"));
    log_set_trace_id("4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"); /* cut to 32 */
    log_info("again");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    log_set_trace_id(NULL);
    log_info("none");
    capture_line();
    ck_assert_ptr_null(json_get(&cap_obj, "trace_id"));
    log_set_trace_id("");
    log_info("none either");
    capture_line();
    ck_assert_ptr_null(strstr(cap_line, "trace_id"));
}
END_TEST

START_TEST(test_escaping)
{
    const char *nasty = "q\"uote b\\slash\nnew\rret\ttab \x01\x08\x0c\x1f\x7f end";

    log_info("%s", nasty);
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "msg"), nasty);
    ck_assert_ptr_nonnull(strstr(cap_line, "q\\\"uote b\\\\slash\\nnew\\rret\\ttab "
                                           "\\u0001\\u0008\\u000c\\u001f\\u007f end"));

    /* identity and message_id come from the network: escaped the same way */
    log_write(LOG_INFO, "CP\"1\n", "id\\\x02", "x");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "identity"), "CP\"1\n");
    ck_assert_str_eq(json_get(&cap_obj, "message_id"), "id\\\x02");

    /* so are service and pod */
    log_init("svc\"x", "p\\od\n");
    log_info("y");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "service"), "svc\"x");
    ck_assert_str_eq(json_get(&cap_obj, "pod"), "p\\od\n");
}
END_TEST

START_TEST(test_invalid_utf8_replaced)
{
    /* lone 0xff; overlong '/' (c0 af); UTF-16 surrogate (ed a0 80); a cut 3-byte char at the end */
    log_info("a\xff"
             "b\xc0\xaf"
             "c\xed\xa0\x80"
             "d \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xe2\x82");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "msg"), "a\xEF\xBF\xBD"
                                                "b\xEF\xBF\xBD\xEF\xBF\xBD"
                                                "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                                                "d \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
                                                "\xEF\xBF\xBD\xEF\xBF\xBD");

    log_write(LOG_INFO, "\xfe\xfe", NULL, "ok");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "identity"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}
END_TEST

START_TEST(test_levels_filter)
{
    log_set_level(LOG_WARN);
    ck_assert(!log_enabled(LOG_INFO));
    ck_assert(log_enabled(LOG_WARN));
    log_debug("d");
    log_info("i");
    ck_assert_nothing_written();
    log_warn("w");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "level"), "warn");
    log_error("e");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "level"), "error");

    ck_assert_int_eq(log_set_level_name("debug"), 0);
    log_debug("now visible");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "level"), "debug");
    ck_assert_str_eq(json_get(&cap_obj, "msg"), "now visible");

    ck_assert_int_eq(log_set_level_name("ERROR"), 0);
    log_warn("hidden");
    ck_assert_nothing_written();

    /* bad names and values leave the threshold alone */
    ck_assert_int_eq(log_set_level_name("verbose"), -EINVAL);
    ck_assert_int_eq(log_set_level_name(""), -EINVAL);
    ck_assert_int_eq(log_set_level_name(NULL), -EINVAL);
    log_set_level((log_level_t)17);
    ck_assert(!log_enabled(LOG_WARN));
    ck_assert(log_enabled(LOG_ERROR));

    ck_assert_int_eq(log_set_level_name("info"), 0);
    ck_assert(log_enabled(LOG_INFO));
    ck_assert(!log_enabled(LOG_DEBUG));
}
END_TEST

START_TEST(test_no_formatting_below_threshold)
{
    /* %n stores how many bytes were formatted so far: it shows whether formatting happened */
    int formatted = -1;

    log_debug("abc%n", &formatted);
    ck_assert_int_eq(formatted, -1);
    ck_assert_nothing_written();
    log_info("abc%n", &formatted);
    ck_assert_int_eq(formatted, 3);
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "msg"), "abc");
}
END_TEST

START_TEST(test_truncation_huge_message)
{
    size_t big = 100000;
    char *huge = malloc(big + 1);
    const char *msg;

    ck_assert_ptr_nonnull(huge);
    memset(huge, 'x', big);
    huge[big] = '\0';
    log_write(LOG_INFO, "CP1", "9", "%s", huge);
    free(huge);
    capture_line();
    ck_assert_int_lt(cap_len, 16 * 1024);
    ck_assert(cap_len > 8000);
    ck_assert_str_eq(cap_line + cap_len - 2, "}\n");
    ck_assert_str_eq(json_get(&cap_obj, "truncated"), "true");
    ck_assert(!cap_obj.fields[cap_obj.count - 1].is_string);
    msg = json_get(&cap_obj, "msg");
    ck_assert_uint_ge(strlen(msg), 8000);
    ck_assert_str_eq(msg + strlen(msg) - 3, "\xE2\x80\xA6"); /* … */
    ck_assert_str_eq(json_get(&cap_obj, "identity"), "CP1");
    ck_assert_nothing_written();

    /* a short message has no truncated key */
    log_info("short");
    capture_line();
    ck_assert_ptr_null(json_get(&cap_obj, "truncated"));
}
END_TEST

START_TEST(test_truncation_keeps_characters_whole)
{
    /* 2-byte characters cut by the size limit, and escapes that grow six-fold */
    size_t chars = 6000;
    char *accents = malloc(chars * 2 + 1);
    char *controls = malloc(chars + 1);
    const char *msg;

    ck_assert_ptr_nonnull(accents);
    ck_assert_ptr_nonnull(controls);
    for (size_t i = 0; i < chars; i++) {
        accents[2 * i] = '\xc3';
        accents[2 * i + 1] = '\xa9';
        controls[i] = '\x01';
    }
    accents[chars * 2] = '\0';
    controls[chars] = '\0';

    log_info("x%s", accents); /* odd offset: the size limit falls inside a character */
    capture_line();
    msg = json_get(&cap_obj, "msg");
    ck_assert_ptr_null(strstr(msg, "\xEF\xBF\xBD")); /* no character was broken */
    ck_assert_str_eq(json_get(&cap_obj, "truncated"), "true");

    log_info("%s", controls);
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "truncated"), "true");
    ck_assert_str_eq(cap_line + cap_len - 2, "}\n");
    ck_assert_int_lt(cap_len, 16 * 1024);
    free(accents);
    free(controls);
}
END_TEST

START_TEST(test_errno_preserved)
{
    errno = ENOENT;
    log_info("open failed: %m");
    ck_assert_int_eq(errno, ENOENT);
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "msg"), "open failed: No such file or directory");

    /* and also when the write itself fails */
    log_set_fd(1000000);
    errno = EAGAIN;
    log_error("lost");
    ck_assert_int_eq(errno, EAGAIN);
}
END_TEST

START_TEST(test_negative_fd_discards)
{
    log_set_fd(-1);
    log_error("nowhere");
    log_set_fd(cap_fds[0]);
    ck_assert_nothing_written();
    log_init(NULL, NULL);
    log_error("somewhere");
    capture_line();
    ck_assert_str_eq(json_get(&cap_obj, "service"), "");
    ck_assert_str_eq(json_get(&cap_obj, "pod"), "");
}
END_TEST

/* Several threads write lines of up to 6 KB to one pipe: longer than PIPE_BUF, so the kernel
 * alone would let them interleave. */
#define THREADS          8
#define LINES_PER_THREAD 300
#define PAD_MAX          6000

static size_t pad_len(int id, int i)
{
    return (size_t)((i * 997 + id * 131) % PAD_MAX);
}

static void *writer_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    char pad[PAD_MAX + 1];

    for (int i = 0; i < LINES_PER_THREAD; i++) {
        size_t len = pad_len(id, i);

        memset(pad, 'a' + id, len);
        pad[len] = '\0';
        log_write(LOG_INFO, NULL, NULL, "t%d n%d %s", id, i, pad);
    }
    return NULL;
}

typedef struct {
    int fd;
    char *data;
    size_t len, cap;
} drain_t;

/* Read the pipe to its end into a growing buffer. */
static void *drain_thread(void *arg)
{
    drain_t *d = arg;

    for (;;) {
        ssize_t n;

        if (d->cap - d->len < 65536) {
            char *bigger = realloc(d->data, d->cap * 2 + 65536);

            if (!bigger)
                return NULL;
            d->data = bigger;
            d->cap = d->cap * 2 + 65536;
        }
        n = read(d->fd, d->data + d->len, d->cap - d->len - 1);
        if (n <= 0)
            break;
        d->len += (size_t)n;
    }
    d->data[d->len] = '\0';
    return NULL;
}

START_TEST(test_threads_do_not_interleave)
{
    int pipefd[2];
    pthread_t threads[THREADS], reader;
    int seen[THREADS] = {0};
    drain_t drain = {0};
    json_object_t obj = {0};
    char *line;

    ck_assert_int_eq(pipe(pipefd), 0);
    drain.fd = pipefd[0];
    ck_assert_int_eq(pthread_create(&reader, NULL, drain_thread, &drain), 0);
    log_set_fd(pipefd[1]);
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&threads[t], NULL, writer_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    log_set_fd(cap_fds[0]);
    close(pipefd[1]);
    pthread_join(reader, NULL);
    close(pipefd[0]);
    ck_assert_ptr_nonnull(drain.data);

    line = drain.data;
    while (*line) {
        char *nl = strchr(line, '\n');
        int id, n;
        const char *msg, *pad;

        ck_assert_ptr_nonnull(nl);
        ck_assert_msg(json_parse_line(line, (size_t)(nl - line + 1), &obj), "bad line");
        msg = json_get(&obj, "msg");
        ck_assert_int_eq(sscanf(msg, "t%d n%d", &id, &n), 2);
        ck_assert(id >= 0 && id < THREADS);
        ck_assert_int_eq(n, seen[id]); /* in order per thread, none lost */
        seen[id]++;
        /* the padding is whole and is this thread's letter only */
        pad = strchr(strchr(msg, ' ') + 1, ' ') + 1;
        ck_assert_uint_eq(strlen(pad), pad_len(id, n));
        ck_assert_uint_eq(strspn(pad, (char[]){(char)('a' + id), '\0'}), strlen(pad));
        json_object_clear(&obj);
        line = nl + 1;
    }
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(seen[t], LINES_PER_THREAD);
    free(drain.data);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *first = tcase_create("defaults");
    TCase *tc = tcase_create("lines");

    /* no fixture: must see the logger exactly as a program that never configured it */
    tcase_add_test(first, test_defaults_without_init);
    suite_add_tcase(s, first);

    tcase_add_checked_fixture(tc, capture_setup, capture_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_syslog_macros_do_not_leak);
    tcase_add_test(tc, test_line_format);
    tcase_add_test(tc, test_one_line_per_call);
    tcase_add_test(tc, test_identity_and_message_id);
    tcase_add_test(tc, test_trace_id_context);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_invalid_utf8_replaced);
    tcase_add_test(tc, test_levels_filter);
    tcase_add_test(tc, test_no_formatting_below_threshold);
    tcase_add_test(tc, test_truncation_huge_message);
    tcase_add_test(tc, test_truncation_keeps_characters_whole);
    tcase_add_test(tc, test_errno_preserved);
    tcase_add_test(tc, test_negative_fd_discards);
    tcase_add_test(tc, test_threads_do_not_interleave);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
