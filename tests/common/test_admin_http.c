/* test_admin_http.c: unit tests of common/admin_http.c over real loopback sockets. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin_http.h"
#include "log.h"
#include "metrics.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int count_dir(const char *path)
{
    DIR *dir = opendir(path);
    ck_assert_ptr_nonnull(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(dir);
    return n;
}

/* the source address of the next client connections (any of 127.0.0.0/8 reaches 127.0.0.1) */
static const char *s_source = "127.0.0.1";

static int client_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in src = {.sin_family = AF_INET};
    ck_assert_int_eq(inet_pton(AF_INET, s_source, &src.sin_addr), 1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

static void client_send(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        ck_assert_int_gt(n, 0);
        data += n;
        len -= (size_t)n;
    }
}

/* Reads until the server closes, at most timeout_ms. Returns the bytes read (caller frees). */
static char *client_read_all(int fd, int timeout_ms)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - now_ms();
        ck_assert_msg(left > 0, "no reply within %d ms", timeout_ms);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        ck_assert_int_ge(rc, 0);
        if (rc == 0) {
            continue;
        }
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ck_assert_int_ge(n, 0);
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

typedef struct {
    int status;
    char *raw;        /* whole response */
    const char *body; /* into raw */
} reply_t;

static void reply_parse(reply_t *reply, char *raw)
{
    reply->raw = raw;
    reply->status = -1;
    if (strncmp(raw, "HTTP/1.1 ", 9) == 0) {
        reply->status = (int)strtol(raw + 9, NULL, 10);
    }
    const char *end = strstr(raw, "\r\n\r\n");
    ck_assert_msg(end != NULL, "no header end in: %s", raw);
    reply->body = end + 4;
    /* every reply says how long it is and that the connection closes */
    const char *cl = strstr(raw, "\r\nContent-Length: ");
    ck_assert_ptr_nonnull(cl);
    ck_assert(cl < end);
    ck_assert_uint_eq(strtoul(cl + 18, NULL, 10), strlen(reply->body));
    const char *close = strstr(raw, "\r\nConnection: close\r\n");
    ck_assert(close && close < end);
}

static reply_t http_raw(int port, const char *request, size_t len)
{
    int fd = client_connect(port);
    client_send(fd, request, len);
    reply_t reply;
    reply_parse(&reply, client_read_all(fd, 5000));
    close(fd);
    return reply;
}

static reply_t http(int port, const char *method, const char *path)
{
    char request[512];
    int n = snprintf(request, sizeof(request), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method,
                     path);
    return http_raw(port, request, (size_t)n);
}

static void reply_free(reply_t *reply)
{
    free(reply->raw);
    reply->raw = NULL;
}

static admin_http_t *s_admin;
static int s_port;

static void setup(void)
{
    log_set_level(LOG_WARN);
    s_admin = admin_http_start("127.0.0.1", 0);
    ck_assert_ptr_nonnull(s_admin);
    s_port = admin_http_port(s_admin);
    ck_assert_int_gt(s_port, 0);
}

static void teardown(void)
{
    admin_http_stop(&s_admin);
    metrics_shutdown();
}

START_TEST(test_metrics_endpoint)
{
    metrics_counter_add(metrics_counter("test_admin_widgets_total", "Widgets.", NULL), 7);
    reply_t r = http(s_port, "GET", "/metrics");
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.raw, "\r\nContent-Type: text/plain; version=0.0.4"));
    ck_assert_ptr_nonnull(strstr(r.body, "# TYPE ocppgw_test_admin_widgets_total counter\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "\nocppgw_test_admin_widgets_total 7\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "\nprocess_open_fds "));
    reply_free(&r);

    /* the admin requests are counted by path: the first scrape shows in the second */
    r = http(s_port, "GET", "/healthz");
    reply_free(&r);
    r = http(s_port, "GET", "/metrics");
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\nocppgw_admin_requests_total{path=\"/metrics\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "\nocppgw_admin_requests_total{path=\"/healthz\"} 1\n"));
    reply_free(&r);
}
END_TEST

START_TEST(test_healthz_stall_and_recover)
{
    admin_http_set_stall_limit_ms(s_admin, 200);
    admin_http_heartbeat(s_admin);
    reply_t r = http(s_port, "GET", "/healthz");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok\n");
    reply_free(&r);

    sleep_ms(350);
    r = http(s_port, "GET", "/healthz");
    ck_assert_int_eq(r.status, 503);
    const char *prefix = "stalled: no heartbeat for ";
    ck_assert_msg(strncmp(r.body, prefix, strlen(prefix)) == 0, "body: %s", r.body);
    char *end = NULL;
    long age = strtol(r.body + strlen(prefix), &end, 10);
    ck_assert_int_ge(age, 300);
    ck_assert_int_lt(age, 5000);
    ck_assert_str_eq(end, " ms\n");
    reply_free(&r);

    admin_http_heartbeat(s_admin);
    r = http(s_port, "GET", "/healthz");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok\n");
    reply_free(&r);

    /* a limit <= 0 is ignored, not "always stalled" */
    admin_http_set_stall_limit_ms(s_admin, 0);
    r = http(s_port, "GET", "/healthz");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
}
END_TEST

START_TEST(test_healthz_default_limit)
{
    /* the default limit is 10 s: a fresh server without heartbeats is healthy */
    sleep_ms(250);
    reply_t r = http(s_port, "GET", "/healthz");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
}
END_TEST

START_TEST(test_readyz)
{
    reply_t r = http(s_port, "GET", "/readyz");
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "not ready: starting\n");
    reply_free(&r);

    admin_http_set_ready(s_admin, true, NULL);
    r = http(s_port, "GET", "/readyz");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ready\n");
    reply_free(&r);

    admin_http_set_ready(s_admin, false, "redis unavailable");
    r = http(s_port, "GET", "/readyz");
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "not ready: redis unavailable\n");
    reply_free(&r);
}
END_TEST

START_TEST(test_not_found_and_query)
{
    reply_t r = http(s_port, "GET", "/nope");
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    r = http(s_port, "GET", "/metricsx");
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    r = http(s_port, "GET", "/healthz?verbose=1");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    r = http(s_port, "GET", "/metrics");
    ck_assert_ptr_nonnull(strstr(r.body, "\nocppgw_admin_requests_total{path=\"other\"} 2\n"));
    reply_free(&r);
}
END_TEST

START_TEST(test_method_not_allowed)
{
    const char *post = "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    reply_t r = http_raw(s_port, post, strlen(post));
    ck_assert_int_eq(r.status, 405);
    ck_assert_ptr_nonnull(strstr(r.raw, "\r\nAllow: GET\r\n"));
    reply_free(&r);
    r = http(s_port, "DELETE", "/nope");
    ck_assert_int_eq(r.status, 405);
    reply_free(&r);
}
END_TEST

START_TEST(test_bad_request)
{
    const char *garbage = "garbage\r\n\r\n";
    reply_t r = http_raw(s_port, garbage, strlen(garbage));
    ck_assert_int_eq(r.status, 400);
    reply_free(&r);
    const char *nover = "GET /healthz\r\n\r\n";
    r = http_raw(s_port, nover, strlen(nover));
    ck_assert_int_eq(r.status, 400);
    reply_free(&r);
}
END_TEST

START_TEST(test_oversized_request)
{
    size_t len = 10000;
    char *big = malloc(len + 1);
    ck_assert_ptr_nonnull(big);
    int n = snprintf(big, len + 1, "GET /metrics HTTP/1.1\r\nX-Fill: ");
    memset(big + n, 'a', len - (size_t)n);
    big[len] = '\0';
    reply_t r = http_raw(s_port, big, len);
    ck_assert_int_eq(r.status, 431);
    reply_free(&r);
    free(big);
    /* still serving */
    r = http(s_port, "GET", "/healthz");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
}
END_TEST

START_TEST(test_request_in_pieces)
{
    int fd = client_connect(s_port);
    client_send(fd, "GET /hea", 8);
    sleep_ms(50);
    client_send(fd, "lthz HTTP/1.1\r\n", 15);
    sleep_ms(50);
    client_send(fd, "\r\n", 2);
    reply_t r;
    reply_parse(&r, client_read_all(fd, 3000));
    close(fd);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok\n");
    reply_free(&r);
}
END_TEST

START_TEST(test_silent_client_does_not_block)
{
    int silent = client_connect(s_port);
    int64_t connected = now_ms();
    sleep_ms(50); /* let the server accept it first */
    reply_t r = http(s_port, "GET", "/healthz");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    /* ordering, not timing: the request was served while the silent client still waits for
     * its own timeout, so it did not queue behind it */
    char byte;
    ck_assert_int_eq(recv(silent, &byte, 1, MSG_DONTWAIT), -1);
    ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);

    /* the silent client itself is timed out (after the 2 s read timeout, never before) */
    reply_parse(&r, client_read_all(silent, 30000));
    int64_t waited = now_ms() - connected;
    ck_assert_int_eq(r.status, 408);
    ck_assert_int_ge(waited, 1500);
    reply_free(&r);
    close(silent);
}
END_TEST

START_TEST(test_many_silent_clients_bounded)
{
    /* more silent clients than the server has slots: a real request waits at most one timeout */
    enum {
        SILENT = 24
    };
    int fds[SILENT];
    for (int i = 0; i < SILENT; i++) {
        s_source = i % 2 ? "127.0.0.3" : "127.0.0.4"; /* each holds at most its share */
        fds[i] = client_connect(s_port);
    }
    sleep_ms(50);
    s_source = "127.0.0.2";
    reply_t r = http(s_port, "GET", "/healthz"); /* served: the server did not wedge */
    s_source = "127.0.0.1";
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    for (int i = 0; i < SILENT; i++) {
        close(fds[i]);
    }
}
END_TEST

START_TEST(test_one_address_holds_at_most_its_share)
{
    /* a client holding its 4 slots with silent connections gets a fifth closed at once, while
     * another address (the kubelet's probes) is served at once */
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = client_connect(s_port);
    }
    sleep_ms(100);
    char byte;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(recv(fds[i], &byte, 1, MSG_DONTWAIT), -1); /* kept, waiting */
    }
    char *raw = client_read_all(fds[4], 1000); /* closed without an answer, not timed out */
    ck_assert_str_eq(raw, "");
    free(raw);
    s_source = "127.0.0.2";
    reply_t r = http(s_port, "GET", "/healthz");
    s_source = "127.0.0.1";
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    ck_assert_uint_eq(metrics_counter_get(metrics_counter("admin_refused_total", NULL, NULL)), 1);
    for (int i = 0; i < 5; i++) {
        close(fds[i]);
    }
}
END_TEST

START_TEST(test_client_gone_before_reply)
{
    /* a client that closes (with RST) before reading must not kill the server (SIGPIPE) */
    for (int i = 0; i < 20; i++) {
        int fd = client_connect(s_port);
        const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
        client_send(fd, req, strlen(req));
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fd);
    }
    int fd = client_connect(s_port);
    close(fd); /* connects and leaves without a request */
    /* from another address: this one may still hold its share of slots being torn down */
    s_source = "127.0.0.2";
    reply_t r = http(s_port, "GET", "/healthz");
    s_source = "127.0.0.1";
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
}
END_TEST

START_TEST(test_port_in_use_and_bad_port)
{
    log_set_fd(-1);
    ck_assert_ptr_null(admin_http_start("127.0.0.1", s_port));
    ck_assert_ptr_null(admin_http_start("127.0.0.1", -1));
    ck_assert_ptr_null(admin_http_start("127.0.0.1", 65536));
    ck_assert_ptr_null(admin_http_start("192.0.2.1", 0)); /* not an address of this host */
    log_set_fd(2);
    ck_assert_int_eq(admin_http_port(NULL), -EINVAL);
    admin_http_set_ready(NULL, true, "x");
    admin_http_heartbeat(NULL);
    admin_http_set_stall_limit_ms(NULL, 5);
}
END_TEST

START_TEST(test_stop_twice_no_leak)
{
    admin_http_stop(&s_admin); /* the fixture's server, so the counts below start clean */
    int fds_before = count_dir("/proc/self/fd");
    int threads_before = count_dir("/proc/self/task");

    admin_http_t *admin = admin_http_start("127.0.0.1", 0);
    ck_assert_ptr_nonnull(admin);
    ck_assert_int_eq(count_dir("/proc/self/task"), threads_before + 1);
    int port = admin_http_port(admin);
    reply_t r = http(port, "GET", "/metrics");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    int silent = client_connect(port); /* open connection at stop time */
    sleep_ms(50);

    admin_http_stop(&admin); /* returns although a connection is open: the poll is interrupted */
    ck_assert_ptr_null(admin);
    admin_http_stop(&admin);
    admin_http_stop(NULL);

    /* the server closed its side of the open connection */
    char *rest = client_read_all(silent, 2000);
    ck_assert_str_eq(rest, "");
    free(rest);
    close(silent);

    ck_assert_int_eq(count_dir("/proc/self/fd"), fds_before);
    ck_assert_int_eq(count_dir("/proc/self/task"), threads_before);
    /* the port is free again */
    admin = admin_http_start("127.0.0.1", port);
    ck_assert_ptr_nonnull(admin);
    admin_http_stop(&admin);
}
END_TEST

static Suite *admin_http_suite(void)
{
    Suite *s = suite_create("admin_http");
    TCase *tc = tcase_create("server");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_metrics_endpoint);
    tcase_add_test(tc, test_healthz_stall_and_recover);
    tcase_add_test(tc, test_healthz_default_limit);
    tcase_add_test(tc, test_readyz);
    tcase_add_test(tc, test_not_found_and_query);
    tcase_add_test(tc, test_method_not_allowed);
    tcase_add_test(tc, test_bad_request);
    tcase_add_test(tc, test_oversized_request);
    tcase_add_test(tc, test_request_in_pieces);
    tcase_add_test(tc, test_silent_client_does_not_block);
    tcase_add_test(tc, test_many_silent_clients_bounded);
    tcase_add_test(tc, test_one_address_holds_at_most_its_share);
    tcase_add_test(tc, test_client_gone_before_reply);
    tcase_add_test(tc, test_port_in_use_and_bad_port);
    tcase_add_test(tc, test_stop_twice_no_leak);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(admin_http_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
