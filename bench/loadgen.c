/* loadgen: holds N idle WebSocket connections against a server, for the idle-connection
 * benchmark (bench/README.md).
 *
 * One thread, epoll, raw HTTP upgrade requests; at most -c handshakes in flight. Sources are
 * spread over loopback addresses 127.0.0.(2+B) .. 127.0.0.(1+B+S) with IP_BIND_ADDRESS_NO_PORT, so
 * that more than the ~28k ephemeral ports of one (source, destination) pair can be used.
 * Once the connections are open they stay idle; pings are answered with pongs and any close
 * or reset is counted. Prints "ramp: ..." when all N are open (or failed), then "ready" on its
 * own line, holds for -t seconds and prints "hold: ..." before closing everything.
 *
 *   loadgen -p PORT -n N [-c INFLIGHT] [-s SOURCES] [-b SOURCE_BASE] [-t HOLD_SECONDS]
 *           [-x PATH_PREFIX]
 * One process holds at most RLIMIT_NOFILE connections: bench.sh runs several.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum {
    ST_FREE,
    ST_CONNECTING,
    ST_HANDSHAKE,
    ST_OPEN,
    ST_DONE
};

typedef struct {
    int fd;
    uint8_t state;
    uint16_t got; /* bytes of the handshake response seen */
    char tail[4]; /* last bytes, to find the end of the response head */
} conn_t;

static int arg_int(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int port = 8080, n_total = 1000, inflight_max = 1000, sources = 1, source_base = 0,
           hold_s = 10;
static const char *prefix = "/ocpp/bench";
static conn_t *conns;
static int ep;
static long started, opened, refused, failed, closed_after_open, pings;
static int inflight;

static void conn_fail(conn_t *c, long *counter)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->state != ST_OPEN)
        inflight--;
    c->state = ST_DONE;
    (*counter)++;
}

static void conn_start(int i)
{
    conn_t *c = &conns[i];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    started++;
    if (fd < 0) {
        c->state = ST_DONE;
        failed++;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7F000002u + (uint32_t)(source_base + i % sources));
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
        close(fd);
        c->state = ST_DONE;
        failed++;
        return;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    dst.sin_addr.s_addr = htonl(0x7F000001u);
    c->fd = fd;
    c->got = 0;
    inflight++;
    int rc = connect(fd, (struct sockaddr *)&dst, sizeof(dst));
    if (rc < 0 && errno != EINPROGRESS) {
        c->state = ST_CONNECTING;
        conn_fail(c, &failed);
        return;
    }
    c->state = ST_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void send_upgrade(int i)
{
    conn_t *c = &conns[i];
    char req[512];
    int len = snprintf(req, sizeof(req),
                       "GET %s%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n",
                       prefix, i, port);
    if (write(c->fd, req, (size_t)len) != len) {
        conn_fail(c, &failed);
        return;
    }
    c->state = ST_HANDSHAKE;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Reads the response head byte by byte from what arrived: "HTTP/1.1 101" then CRLFCRLF. */
static void read_handshake(int i)
{
    conn_t *c = &conns[i];
    char buf[1024];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN)
            return;
        conn_fail(c, &refused);
        return;
    }
    for (ssize_t k = 0; k < n; k++) {
        if (c->got == 9 && buf[k] != '1') {
            conn_fail(c, &refused);
            return;
        }
        if (c->got < 0xFFFF)
            c->got++;
        memmove(c->tail, c->tail + 1, 3);
        c->tail[3] = buf[k];
        if (memcmp(c->tail, "\r\n\r\n", 4) == 0) {
            c->state = ST_OPEN;
            inflight--;
            opened++;
            /* frames after the head (none expected for an idle server) are ignored */
            return;
        }
    }
}

/* An open connection: answer pings, count closes. Frames are tiny here (ping/close). */
static void read_open(int i)
{
    conn_t *c = &conns[i];
    unsigned char buf[512];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        conn_fail(c, &closed_after_open);
        return;
    }
    ssize_t off = 0;
    while (off + 2 <= n) {
        unsigned op = buf[off] & 0x0F, plen = buf[off + 1] & 0x7F;
        if (plen > 125 || off + 2 + (ssize_t)plen > n)
            break;
        if (op == 0x9) { /* ping: pong with the same payload, masked (zero mask) */
            unsigned char pong[2 + 4 + 125];
            pong[0] = 0x8A;
            pong[1] = (unsigned char)(0x80 | plen);
            memset(pong + 2, 0, 4);
            memcpy(pong + 6, buf + off + 2, plen);
            if (write(c->fd, pong, 6 + plen) < 0) {
                conn_fail(c, &closed_after_open);
                return;
            }
            pings++;
        } else if (op == 0x8) {
            conn_fail(c, &closed_after_open);
            return;
        }
        off += 2 + plen;
    }
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "p:n:c:s:b:t:x:")) != -1) {
        switch (opt) {
        case 'p':
            port = arg_int(optarg);
            break;
        case 'n':
            n_total = arg_int(optarg);
            break;
        case 'c':
            inflight_max = arg_int(optarg);
            break;
        case 'b':
            source_base = arg_int(optarg);
            break;
        case 's':
            sources = arg_int(optarg);
            break;
        case 't':
            hold_s = arg_int(optarg);
            break;
        case 'x':
            prefix = optarg;
            break;
        default:
            fprintf(stderr, "usage: loadgen -p PORT -n N [-c INFLIGHT] [-s SOURCES] [-t SECS]\n");
            return 2;
        }
    }
    if (n_total < 1 || sources < 1 || source_base < 0 || source_base + sources > 250 ||
        inflight_max < 1)
        return 2;
    conns = calloc((size_t)n_total, sizeof(*conns));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || ep < 0)
        return 1;

    struct epoll_event evs[1024];
    double t0 = now_s(), last_open = t0, deadline = t0 + 600;
    int next = 0;
    double progress_at = t0 + 5;
    /* ramp */
    while (opened + refused + failed < n_total && now_s() < deadline) {
        if (now_s() >= progress_at) {
            progress_at += 5;
            fprintf(stderr, "progress: %.0f s: %ld open, %ld refused, %ld failed, %d in flight\n",
                    now_s() - t0, opened, refused, failed, inflight);
        }
        while (next < n_total && inflight < inflight_max)
            conn_start(next++);
        int k = epoll_wait(ep, evs, 1024, 100);
        for (int e = 0; e < k; e++) {
            int i = (int)evs[e].data.u32;
            conn_t *c = &conns[i];
            if (c->state == ST_CONNECTING) {
                if (evs[e].events & (EPOLLERR | EPOLLHUP)) {
                    conn_fail(c, &failed);
                    continue;
                }
                send_upgrade(i);
            } else if (c->state == ST_HANDSHAKE) {
                read_handshake(i);
                if (c->state == ST_OPEN)
                    last_open = now_s();
            } else if (c->state == ST_OPEN) {
                read_open(i);
            }
        }
    }
    double ramp = last_open - t0;
    printf("ramp: %ld open, %ld refused, %ld failed of %d in %.2f s: %.0f connections/s "
           "(%d sources, %d in flight)\n",
           opened, refused, failed, n_total, ramp, ramp > 0 ? (double)opened / ramp : 0.0, sources,
           inflight_max);
    printf("ready\n");
    fflush(stdout);
    /* hold */
    double hold_end = now_s() + hold_s;
    while (now_s() < hold_end) {
        int k = epoll_wait(ep, evs, 1024, 200);
        for (int e = 0; e < k; e++) {
            int i = (int)evs[e].data.u32;
            if (conns[i].state == ST_OPEN)
                read_open(i);
        }
    }
    printf("hold: %ld still open after %d s, %ld closed by the server, %ld pings answered\n",
           opened - closed_after_open, hold_s, closed_after_open, pings);
    fflush(stdout);
    for (int i = 0; i < n_total; i++)
        if (conns[i].state == ST_OPEN)
            close(conns[i].fd);
    free(conns);
    close(ep);
    return 0;
}
