/* ws_echo: the trivial WebSocket server cp-sim is benchmarked against (bench/bench_cp_sim.sh),
 * and the CSMS of tests/integration/test_cp_sim_downlink.sh. A test double: built by
 * `make tests` and `make bench` into $(BUILD)/tests/bin, never shipped.
 *
 *   ws_echo PORT [DOWNLINK_EVERY]        (PORT 0: any free port, printed at start)
 *
 * One thread, epoll, level-triggered. Accepts any upgrade (echoes the first offered subprotocol),
 * answers every CALL with one canned CALLRESULT that satisfies what cp-sim reads (Boot status
 * and interval, transactionId, idTagInfo/idTokenInfo), answers pings. With DOWNLINK_EVERY = N it
 * also sends a CSMS CALL (cycling through a few actions both versions define) after every Nth
 * answer and counts the replies. On SIGTERM/SIGINT it prints its counters and exits 0.
 * No OCPP logic, no allocation per message: it measures the load generator, not a server.
 * The port is bound with SO_REUSEPORT so several processes can share it when the descriptor
 * limit of one process is below the connection count. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ws_frame.h"

typedef struct peer {
    uint8_t open;
    uint8_t *rx;
    uint32_t rx_len;
    uint8_t *tx;
    uint32_t tx_len;
    uint32_t answered;
} peer_t;

static peer_t *peers;
static int npeers;
static int ep;
static volatile sig_atomic_t stop;
static unsigned long long calls, downlinks_sent, downlink_results, downlink_errors, conns, upgrades;
static long downlink_every;
static uint8_t rbuf[1 << 17];
static uint8_t obuf[4096];

static const char canned[] =
    "{\"status\":\"Accepted\",\"currentTime\":\"2026-01-01T00:00:00.000Z\",\"interval\":300,"
    "\"idTagInfo\":{\"status\":\"Accepted\"},\"idTokenInfo\":{\"status\":\"Accepted\"},"
    "\"transactionId\":1}";

static const char *const downlink_calls[] = {
    "\"ChangeAvailability\",{\"connectorId\":0,\"type\":\"Operative\",\"operationalStatus\":"
    "\"Operative\"}",
    "\"DataTransfer\",{\"vendorId\":\"OCPPGW\",\"data\":\"ws-echo-ref\"}",
    "\"TriggerMessage\",{\"requestedMessage\":\"Heartbeat\"}",
    "\"UnlockConnector\",{\"connectorId\":1,\"evseId\":1}",
    "\"GetLocalListVersion\",{}",
};

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void drop(int fd)
{
    peer_t *p = &peers[fd];
    free(p->rx);
    free(p->tx);
    memset(p, 0, sizeof(*p));
    close(fd);
}

static void out(int fd, const void *buf, size_t len)
{
    peer_t *p = &peers[fd];
    if (p->tx_len == 0) {
        ssize_t w = write(fd, buf, len);
        if (w == (ssize_t)len)
            return;
        if (w < 0 && errno != EAGAIN)
            return;
        if (w < 0)
            w = 0;
        buf = (const uint8_t *)buf + w;
        len -= (size_t)w;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    }
    uint8_t *nb = realloc(p->tx, p->tx_len + len);
    if (!nb)
        return;
    memcpy(nb + p->tx_len, buf, len);
    p->tx = nb;
    p->tx_len += (uint32_t)len;
}

/* Unmasked server frame. */
static void send_text(int fd, const char *text, size_t len)
{
    size_t h = len < 126 ? 2 : 4;
    if (len + h > sizeof(obuf))
        return;
    obuf[0] = 0x81;
    if (len < 126) {
        obuf[1] = (uint8_t)len;
    } else {
        obuf[1] = 126;
        obuf[2] = (uint8_t)(len >> 8);
        obuf[3] = (uint8_t)len;
    }
    memcpy(obuf + h, text, len);
    out(fd, obuf, h + len);
}

static void on_text(int fd, const uint8_t *m, size_t len)
{
    char reply[1024];
    /* [2,"id",... -> [3,"id",canned] ; [3,.. / [4,.. are replies to our downlink calls */
    if (len < 6 || m[0] != '[')
        return;
    if (m[1] == '3' || m[1] == '4') {
        if (m[1] == '3')
            downlink_results++;
        else
            downlink_errors++;
        return;
    }
    const uint8_t *q = memchr(m + 4, '"', len - 4);
    if (m[1] != '2' || !q)
        return;
    int n = snprintf(reply, sizeof(reply), "[3,%.*s,%s]", (int)(q - m - 2), m + 3, canned);
    calls++;
    send_text(fd, reply, (size_t)n);
    if (downlink_every > 0 && ++peers[fd].answered % (uint32_t)downlink_every == 0) {
        n = snprintf(reply, sizeof(reply), "[2,\"d%llu\",%s]", downlinks_sent,
                     downlink_calls[downlinks_sent % 5]);
        downlinks_sent++;
        send_text(fd, reply, (size_t)n);
    }
}

static int upgrade(int fd, const uint8_t *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return len > 8192 ? -1 : 0;
    char key[64] = "", proto[64] = "";
    for (const char *l = (const char *)buf; l < end;) {
        const char *eol = memmem(l, (size_t)(end - l) + 2, "\r\n", 2);
        if (strncasecmp(l, "Sec-WebSocket-Key:", 18) == 0)
            sscanf(l + 18, " %63[^\r\n ]", key);
        else if (strncasecmp(l, "Sec-WebSocket-Protocol:", 23) == 0)
            sscanf(l + 23, " %63[^\r\n, ]", proto);
        l = eol + 2;
    }
    char accept[29], resp[512];
    ws_accept_key(key, accept);
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                     "Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                     accept, proto);
    out(fd, resp, (size_t)n);
    peers[fd].open = 1;
    upgrades++;
    return (int)(end - (const char *)buf) + 4;
}

static void on_readable(int fd)
{
    peer_t *p = &peers[fd];
    ssize_t r = read(fd, rbuf, sizeof(rbuf));
    if (r <= 0) {
        if (r == 0 || errno != EAGAIN)
            drop(fd);
        return;
    }
    uint8_t *buf = rbuf;
    size_t len = (size_t)r;
    if (p->rx_len) {
        uint8_t *nb = realloc(p->rx, p->rx_len + len);
        if (!nb)
            return drop(fd);
        memcpy(nb + p->rx_len, rbuf, len);
        p->rx = nb;
        p->rx_len += (uint32_t)len;
        buf = p->rx;
        len = p->rx_len;
    }
    size_t off = 0;
    if (!p->open) {
        int h = upgrade(fd, buf, len);
        if (h < 0)
            return drop(fd);
        off = (size_t)h;
    }
    while (p->open && off < len) {
        ws_frame_t f;
        int k = ws_frame_decode(buf + off, len - off, 1 << 16, &f);
        if (k == 0)
            break;
        if (k < 0)
            return drop(fd);
        uint8_t *pl = buf + off + f.header_len;
        if (f.masked)
            ws_unmask(pl, (size_t)f.payload_len, f.mask);
        off += f.header_len + (size_t)f.payload_len;
        if (f.opcode == WS_OP_TEXT && f.fin)
            on_text(fd, pl, (size_t)f.payload_len);
        else if (f.opcode == WS_OP_PING)
            send_text(fd, (const char *)pl, 0); /* a pong would do; cp-sim never pings */
        else if (f.opcode == WS_OP_CLOSE)
            return drop(fd);
    }
    size_t left = len - off;
    if (left == 0) {
        free(p->rx);
        p->rx = NULL;
        p->rx_len = 0;
    } else if (buf == p->rx) {
        memmove(p->rx, p->rx + off, left);
        p->rx_len = (uint32_t)left;
    } else {
        p->rx = malloc(left);
        if (!p->rx)
            return drop(fd);
        memcpy(p->rx, buf + off, left);
        p->rx_len = (uint32_t)left;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ws_echo PORT [DOWNLINK_EVERY]\n");
        return 2;
    }
    int port = (int)strtol(argv[1], NULL, 10);
    downlink_every = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    struct rlimit rl = {1048576, 1048576};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    npeers = (int)rl.rlim_cur;
    peers = calloc((size_t)npeers, sizeof(peer_t));
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)); /* several echo processes */
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (!peers || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 65535) < 0) {
        fprintf(stderr, "ws_echo: cannot listen on %d: %s\n", port, strerror(errno));
        return 1;
    }
    socklen_t alen = sizeof(a);
    getsockname(ls, (struct sockaddr *)&a, &alen); /* PORT 0: the kernel chose one */
    port = ntohs(a.sin_port);
    ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    printf("ws_echo: listening on %d\n", port);
    fflush(stdout);
    struct epoll_event evs[1024];
    while (!stop) {
        int n = epoll_wait(ep, evs, 1024, 200);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                for (int k = 0; k < 256; k++) {
                    int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0)
                        break;
                    if (c >= npeers) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                    conns++;
                }
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && peers[fd].tx_len) {
                peer_t *p = &peers[fd];
                ssize_t w = write(fd, p->tx, p->tx_len);
                if (w > 0) {
                    memmove(p->tx, p->tx + w, p->tx_len - (size_t)w);
                    p->tx_len -= (uint32_t)w;
                }
                if (p->tx_len == 0) {
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = fd};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(fd);
        }
    }
    printf("ws_echo: connections %llu, upgrades %llu, calls answered %llu, downlink calls sent "
           "%llu, replies %llu results + %llu errors\n",
           conns, upgrades, calls, downlinks_sent, downlink_results, downlink_errors);
    return 0;
}
