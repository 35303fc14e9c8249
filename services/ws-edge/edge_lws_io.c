/* edge_lws_io: ws-edge's libwebsockets wiring. See edge_lws_io.h; the rules are in the engine
 * (edge_conn.c) and in edge_admission.c, this file only translates. lws 4.1 traps it works
 * around are documented where they are handled (docs/PERFORMANCE.md, docs/ws-edge.md). */
#include "edge_lws_io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "clock.h"
#include "edge_admission.h"
#include "edge_auth_io.h"
#include "edge_limits.h"
#include "edge_metrics.h"
#include "edge_path.h"
#include "edge_proxy.h"
#include "edge_subprotocol.h"
#include "edge_tls_io.h"
#include "log.h"
#include "u64map.h"

/* A handshake older than this may be closed to make room for a new one once max_handshakes
 * sockets are in the handshake; younger ones are never closed for that (accepting pauses). */
#define HANDSHAKE_EVICT_AGE_US 1000000
/* How long accepting pauses when max_handshakes sockets are in the handshake, or descriptors
 * ran out. */
#define ACCEPT_PAUSE_MS 100

typedef struct edge_lws_hs hs_t;

/* One listening socket of the edge (ws or wss) and the vhost its accepted sockets are adopted
 * into: both take the same path (per-address caps, max_handshakes, the PROXY header). */
typedef struct {
    edge_lws_t *owner;
    struct lws_vhost *vhost; /* wss: lws does the TLS accept on adoption */
    int fd;                  /* -1: none, or closed */
    uv_poll_t poll;
} listener_t;

enum {
    LISTEN_WS,
    LISTEN_WSS,
    LISTENERS
};

/* A socket waiting for its PROXY protocol header: polled by the edge until lws adopts it. */
typedef struct {
    uv_poll_t poll;
    int fd;
    hs_t *hs;
    listener_t *l; /* where it was accepted: the vhost to adopt it into */
} proxy_wait_t;

/* A socket from accept until it is upgraded or gone: in accept order (the oldest first), with
 * its peer address (from the PROXY header behind a balancer) and, once the upgrade was
 * admitted, how it authenticated (for CONNECT). */
struct edge_lws_hs {
    hs_t *prev, *next;
    struct lws *wsi;  /* once lws adopted it (NULL while the PROXY header is awaited) */
    proxy_wait_t *pw; /* while the PROXY header is awaited */
    uint64_t accept_us;
    edge_addr_t addr;
    bool counted; /* in hs_per_addr */
    edge_auth_outcome_t auth;
};

struct edge_lws {
    const edge_config_t *cfg;
    uv_loop_t *loop;
    edge_conns_t *conns;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    edge_tls_t *tls;      /* the wss vhost (NULL: no wss_port) */
    edge_auth_io_t *auth; /* the authentication of upgrades (edge_lws_set_auth) */
    /* protocols[0] serves plain HTTP requests on the port; then one entry per ENABLED
     * subprotocol, newest first, all with one callback; a zeroed entry ends the list */
    struct lws_protocols protocols[2 + 3];
    listener_t listeners[LISTENERS]; /* ws and wss */
    uv_timer_t accept_timer;         /* resumes accepting after a pause (descriptors, handshakes) */
    uv_timer_t proxy_timer;          /* PROXY headers not there within handshake_timeout_ms */
    bool proxy;                      /* proxy_protocol v2 */
    bool draining;
    bool kick; /* an lws timer was set: wake lws when outside its callbacks */
    edge_iprate_t *iprate;
    hs_t *hs_head, *hs_tail; /* sockets in the handshake, oldest first */
    size_t hs_count;
    u64map_t *handshakes;        /* wsi -> hs_t, until established or gone */
    edge_ipcount_t *hs_per_addr; /* sockets in the handshake per address */
    metrics_histogram_t *m_handshake;
    metrics_counter_t *m_hs_failed;
    metrics_gauge_t *m_handshakes;
};

static edge_lws_t *self_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- the engine's connection effects ------------------------------------------------------ */

static void op_read_enable(void *arg, void *io, bool on)
{
    (void)arg;
    lws_rx_flow_control(io, on ? 1 : 0);
}

static void op_want_write(void *arg, void *io)
{
    (void)arg;
    lws_callback_on_writable(io);
}

static int op_write_text(void *arg, void *io, unsigned char *data, size_t len)
{
    (void)arg;
    int n = lws_write(io, data, len, LWS_WRITE_TEXT);
    return n < (int)len ? -1 : 0;
}

/* lws 4.1 does not report an empty pong, so pings carry one byte */
static int op_write_ping(void *arg, void *io)
{
    (void)arg;
    unsigned char ping[LWS_PRE + 1];
    ping[LWS_PRE] = 'p';
    return lws_write(io, ping + LWS_PRE, 1, LWS_WRITE_PING) < 0 ? -1 : 0;
}

/* Returning -1 from a writable callback makes lws 4.1 drop the socket without the close frame;
 * from LWS_CALLBACK_TIMER (after lws_close_reason) it sends the frame and waits for the
 * peer's. So closing arms a 1 us timer. */
static void op_close_now(void *arg, void *io)
{
    (void)arg;
    lws_set_timer_usecs(io, 1);
    self_of(io)->kick = true;
}

static void op_close_deadline(void *arg, void *io, unsigned int seconds)
{
    (void)arg;
    lws_set_timeout(io, PENDING_TIMEOUT_USER_OK, (int)seconds);
}

void edge_lws_conn_ops(edge_conns_ops_t *ops)
{
    ops->read_enable = op_read_enable;
    ops->want_write = op_want_write;
    ops->write_text = op_write_text;
    ops->write_ping = op_write_ping;
    ops->close_now = op_close_now;
    ops->close_deadline = op_close_deadline;
}

size_t edge_lws_write_headroom(void)
{
    return LWS_PRE;
}

void edge_lws_kick(edge_lws_t *self)
{
    if (!self || !self->kick || !self->lws)
        return;
    self->kick = false;
    lws_cancel_service(self->lws);
}

/* ---- sockets in the handshake ------------------------------------------------------------- */

static const edge_addr_t NO_ADDR;

/* The record of a socket in the handshake (NULL: none, e.g. it was evicted). */
static hs_t *hs_of(edge_lws_t *self, struct lws *wsi)
{
    return u64map_get(self->handshakes, (uint64_t)(uintptr_t)wsi);
}

/* The charge point's address of a socket in the handshake (from accept or the PROXY header). */
static const edge_addr_t *peer_of(edge_lws_t *self, struct lws *wsi)
{
    hs_t *hs = hs_of(self, wsi);
    return hs ? &hs->addr : &NO_ADDR;
}

static void sockets_dropped(const char *reason)
{
    metrics_def_count(&EDGE_METRICS[EDGE_M_SOCKETS_DROPPED], reason);
}

static hs_t *hs_new(edge_lws_t *self, const edge_addr_t *addr)
{
    hs_t *hs = calloc(1, sizeof(*hs));
    if (!hs)
        return NULL;
    hs->accept_us = clock_now_us();
    hs->addr = *addr;
    hs->prev = self->hs_tail;
    if (self->hs_tail)
        self->hs_tail->next = hs;
    else
        self->hs_head = hs;
    self->hs_tail = hs;
    metrics_gauge_set(self->m_handshakes, (int64_t)++self->hs_count);
    return hs;
}

/* The record only (the socket is lws' or closed by the caller). */
static void hs_free(edge_lws_t *self, hs_t *hs)
{
    if (hs->prev)
        hs->prev->next = hs->next;
    else
        self->hs_head = hs->next;
    if (hs->next)
        hs->next->prev = hs->prev;
    else
        self->hs_tail = hs->prev;
    if (hs->counted)
        edge_ipcount_remove(self->hs_per_addr, edge_addr_key(&hs->addr));
    metrics_gauge_set(self->m_handshakes, (int64_t)--self->hs_count);
    free(hs);
}

static void proxy_wait_freed(uv_handle_t *h)
{
    free(h->data);
}

/* Stops waiting for the PROXY header (the poll handle is closed, the descriptor is not). */
static int proxy_wait_end(hs_t *hs)
{
    proxy_wait_t *pw = hs->pw;
    int fd = pw->fd;
    hs->pw = NULL;
    uv_poll_stop(&pw->poll);
    pw->poll.data = pw;
    uv_close((uv_handle_t *)&pw->poll, proxy_wait_freed); /* stops polling fd now */
    return fd;
}

/* Closes a socket in the handshake now, whatever its phase. Not for the wsi being serviced. */
static void hs_drop(edge_lws_t *self, hs_t *hs, const char *reason)
{
    sockets_dropped(reason);
    if (hs->pw) {
        close(proxy_wait_end(hs));
        hs_free(self, hs);
        return;
    }
    /* the record goes now (lws closes the socket on the loop's next turn, with libuv) */
    struct lws *wsi = hs->wsi;
    u64map_remove(self->handshakes, (uint64_t)(uintptr_t)wsi);
    hs_free(self, hs);
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* max_handshakes sockets are in the handshake: close the oldest if it had a second (a slow or
 * silent client: a slow-loris host's sockets are the oldest), else accept nothing for a moment
 * (a burst of fresh handshakes, e.g. a reconnect storm, waits in the kernel's backlog). */
static bool hs_make_room(edge_lws_t *self)
{
    hs_t *oldest = self->hs_head;
    if (!oldest || clock_now_us() - oldest->accept_us < HANDSHAKE_EVICT_AGE_US)
        return false;
    hs_drop(self, oldest, "handshake_evicted");
    return true;
}

/* The address is known: at most ip_max_connections sockets of one address in the handshake,
 * then the socket goes to lws, into the vhost of the listener that accepted it (wss: lws starts
 * the TLS accept). false when it was closed. */
static bool hs_adopt(edge_lws_t *self, listener_t *l, hs_t *hs, int fd)
{
    uint64_t key = edge_addr_key(&hs->addr);
    size_t cap = (size_t)self->cfg->ip_max_connections;
    if (cap && edge_ipcount_get(self->hs_per_addr, key) >= cap) {
        sockets_dropped("ip_handshakes");
        close(fd);
        hs_free(self, hs);
        return false;
    }
    hs->counted = edge_ipcount_add(self->hs_per_addr, key) == 0;
    struct lws *wsi = lws_adopt_socket_vhost(l->vhost, fd); /* closes fd on failure */
    if (!wsi || u64map_put(self->handshakes, (uint64_t)(uintptr_t)wsi, hs) < 0) {
        metrics_def_count(&EDGE_METRICS[EDGE_M_ACCEPT_ERRORS], "adopt failed");
        hs_free(self, hs);
        if (wsi)
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
        return false;
    }
    hs->wsi = wsi;
    return true;
}

/* The PROXY header arrives: peeked until complete, then exactly its bytes are consumed, so what
 * follows (a TLS ClientHello or the HTTP request) is lws' to read. */
static void on_proxy_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    proxy_wait_t *pw = p->data;
    hs_t *hs = pw->hs;
    listener_t *l = pw->l;
    edge_lws_t *self = l->owner;
    uint8_t buf[EDGE_PROXY_MAX];
    ssize_t n = status < 0 ? -1 : recv(pw->fd, buf, sizeof(buf), MSG_PEEK);
    if (n < 0 && status == 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) { /* closed or reset first (a balancer's health check may just connect) */
        hs_drop(self, hs, "proxy_closed");
        return;
    }
    edge_proxy_t px;
    int rc = edge_proxy_parse(buf, (size_t)n, &px);
    if (rc == EDGE_PROXY_NEED_MORE)
        return; /* (a complete header fits in buf: EDGE_PROXY_MAX bounds it) */
    if (rc < 0 || recv(pw->fd, buf, (size_t)rc, 0) != rc) {
        char peer[EDGE_ADDR_TEXT_MAX];
        edge_addr_format(&hs->addr, peer, sizeof(peer));
        log_warn("connection from %s dropped: no valid PROXY v2 header (%s)", peer,
                 edge_proxy_strerror(rc));
        hs_drop(self, hs, "proxy_invalid");
        return;
    }
    if (px.command == EDGE_PROXY_PROXY && px.src.family != EDGE_ADDR_NONE)
        hs->addr = px.src; /* LOCAL (the balancer's health check): the socket's own peer */
    if (hs_adopt(self, l, hs, proxy_wait_end(hs)))
        lws_cancel_service(self->lws); /* lws arms the adopted socket's timeouts on service */
}

static void proxy_wait_start(edge_lws_t *self, listener_t *l, hs_t *hs, int fd)
{
    proxy_wait_t *pw = calloc(1, sizeof(*pw));
    if (!pw || uv_poll_init(self->loop, &pw->poll, fd) < 0) {
        free(pw);
        close(fd);
        hs_free(self, hs);
        return;
    }
    pw->fd = fd;
    pw->hs = hs;
    pw->l = l;
    pw->poll.data = pw;
    hs->pw = pw;
    uv_poll_start(&pw->poll, UV_READABLE | UV_DISCONNECT, on_proxy_readable);
}

/* Every 100 ms with proxy_protocol on: a socket still without its PROXY header after
 * handshake_timeout_ms is dropped (lws times out the sockets it has). */
static void on_proxy_timer(uv_timer_t *t)
{
    edge_lws_t *self = t->data;
    uint64_t deadline = clock_now_us() - (uint64_t)self->cfg->handshake_timeout_ms * 1000;
    for (hs_t *hs = self->hs_head, *next; hs && hs->accept_us <= deadline; hs = next) {
        next = hs->next;
        if (hs->pw)
            hs_drop(self, hs, "proxy_timeout");
    }
}

/* ---- upgrade admission ------------------------------------------------------------------- */

/* Gathers the facts of a request for edge_admission_decide() and answers a refusal. upgrade_to:
 * the Upgrade header (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE), or NULL with plain set for a plain
 * HTTP request. Returns what the lws callback returns. */
static int admit(edge_lws_t *self, struct lws *wsi, bool plain, const char *upgrade_to)
{
    char peer[EDGE_ADDR_TEXT_MAX], uri[512], offered[256];
    const edge_addr_t *addr = peer_of(self, wsi);
    edge_addr_format(addr, peer, sizeof(peer));
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    int olen = lws_hdr_copy(wsi, offered, sizeof(offered), WSI_TOKEN_PROTOCOL);
    edge_upgrade_t req = {
        .upgrade = !plain,
        .upgrade_to = upgrade_to,
        .open_connections = edge_conns_count(self->conns),
        .max_connections = (size_t)self->cfg->max_connections,
        .draining = self->draining,
        .peer = peer,
        .peer_key = edge_addr_key(addr),
        .peer_connections = edge_conns_peer_count(self->conns, addr),
        .max_peer_connections = (size_t)self->cfg->ip_max_connections,
        .path = n > 0 ? uri : NULL,
        .path_len = n > 0 ? (size_t)n : 0,
        .offered = olen > 0 ? offered : NULL,
        .offered_len = olen > 0 ? (size_t)olen : 0,
        .path_prefixes = self->cfg->path_prefixes,
        .enabled = self->cfg->subprotocols,
    };
    edge_admission_t adm;
    if (edge_admission_decide(&req, self->iprate, (uint32_t)uv_now(self->loop), &adm) == 0) {
        /* lws 4.1 binds the first protocol of the client's list that the vhost knows, and its
         * header storage is private, so "newest enabled" holds when the client lists newest
         * first (the usual case). The vhost only knows enabled versions, so whatever lws binds
         * is enabled and offered; the connection reports what lws bound. Then: is it the
         * station it says it is (edge_auth.h)? Failures are throttled by the same address key
         * as the per-address cap (behind a balancer: the PROXY header's). */
        edge_auth_outcome_t outcome = {0};
        int rc = edge_auth_io_admit(self->auth, wsi, adm.identity, peer, req.peer_key,
                                    (uint32_t)uv_now(self->loop), &outcome);
        hs_t *hs = hs_of(self, wsi);
        if (rc == 0 && hs)
            hs->auth = outcome;
        return rc;
    }
    metrics_def_count(&EDGE_METRICS[EDGE_M_REFUSED], adm.reason);
    if (plain) { /* not an upgrade at all: answered, not logged */
        lws_return_http_status(wsi, adm.status, adm.detail);
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    log_warn("upgrade refused: %s (%s) from %s", adm.reason, adm.detail, peer);
    lws_return_http_status(wsi, adm.status, adm.reason);
    return 1;
}

/* ---- connection events -------------------------------------------------------------------- */

static void established(edge_lws_t *self, struct lws *wsi, edge_conn_t *c)
{
    char uri[512], identity[IDENTITY_MAX + 1];
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    bool ok = n > 0 && edge_path_parse(uri, (size_t)n, self->cfg->path_prefixes, false, identity) ==
                           EDGE_PATH_OK;
    uint64_t now_us = clock_now_us();
    edge_addr_t addr = *peer_of(self, wsi);
    hs_t *rec = hs_of(self, wsi);
    /* no record (evicted meanwhile): reported as unauthenticated, the lesser claim */
    edge_auth_outcome_t auth = rec ? rec->auth : (edge_auth_outcome_t){0};
    /* not ok: the record stays and WSI_DESTROY counts a failed handshake */
    hs_t *hs = ok ? u64map_remove(self->handshakes, (uint64_t)(uintptr_t)wsi) : NULL;
    if (hs) {
        metrics_histogram_observe(self->m_handshake, (double)(now_us - hs->accept_us) / 1e6);
        hs_free(self, hs);
    }
    const char *method = EDGE_AUTH_METHODS[auth.method < EDGE_AUTH_METHOD_COUNT ? auth.method : 0];
    metrics_def_count(&EDGE_METRICS[EDGE_M_AUTHENTICATED], method);
    edge_conn_established(self->conns, c, wsi, ok ? identity : NULL, lws_get_protocol(wsi)->name,
                          &addr, auth.profile, method, now_us);
}

static unsigned int rx_flags(struct lws *wsi)
{
    return (lws_is_first_fragment(wsi) ? EDGE_RX_FIRST : 0u) |
           (lws_is_final_fragment(wsi) ? EDGE_RX_FINAL : 0u) |
           (lws_frame_is_binary(wsi) ? EDGE_RX_BINARY : 0u);
}

/* LWS_CALLBACK_TIMER, armed by op_close_now: the close frame with the engine's code, or none
 * for a hang-up; -1 makes lws close. */
static int close_due(struct lws *wsi, const edge_conn_t *c)
{
    uint16_t code = edge_conn_close_code(c);
    if (code != EDGE_CLOSE_HANGUP) {
        const char *reason = edge_conn_close_reason(c);
        lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    }
    return -1;
}

static int conn_event(edge_lws_t *self, struct lws *wsi, enum lws_callback_reasons reason,
                      edge_conn_t *c, void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        established(self, wsi, c);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        edge_conn_receive(self->conns, c, in, len, rx_flags(wsi), clock_now_us());
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        edge_conn_pong(self->conns, c);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return edge_conn_writable(self->conns, c);
    case LWS_CALLBACK_TIMER:
        return close_due(wsi, c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2)
            edge_conn_peer_close(
                self->conns, c,
                (uint16_t)(((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1]));
        return 0;
    case LWS_CALLBACK_CLOSED:
        edge_conn_closed(self->conns, c);
        return 0;
    default:
        return 0;
    }
}

static int edge_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: /* the wss vhost's SSL_CTX */
        return edge_tls_configure(user, in);
    case LWS_CALLBACK_WSI_DESTROY: {
        hs_t *hs = u64map_remove(self_of(wsi)->handshakes, (uint64_t)(uintptr_t)wsi);
        if (hs) { /* never became a WebSocket */
            metrics_counter_add(self_of(wsi)->m_hs_failed, 1);
            hs_free(self_of(wsi), hs);
        }
        return 0;
    }
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return admit(self_of(wsi), wsi, false, in);
    case LWS_CALLBACK_HTTP:
        return admit(self_of(wsi), wsi, true, NULL);
    default:
        break;
    }
    if (!user) /* not a connection (context, vhost and protocol events) */
        return 0;
    edge_lws_t *self = self_of(wsi);
    int rc = conn_event(self, wsi, reason, user, in, len);
    /* a close armed within lws callbacks is serviced anyway; waking lws keeps it prompt
     * wherever the engine decided it */
    edge_lws_kick(self);
    return rc;
}

static void protocols_init(edge_lws_t *self)
{
    size_t n = 0;
    size_t user = edge_conn_size();
    self->protocols[n++] =
        (struct lws_protocols){"http-refuse", edge_callback, user, 0, 0, NULL, 0};
    for (size_t i = 0; i < EDGE_SUBPROTOCOL_COUNT; i++) {
        const char *name = EDGE_SUBPROTOCOLS[i];
        if (edge_subprotocol_choose(name, strlen(name), self->cfg->subprotocols))
            self->protocols[n++] = (struct lws_protocols){
                name, edge_callback, user, (size_t)self->cfg->rx_buffer_bytes, 0, NULL, 0};
    }
    memset(&self->protocols[n], 0, sizeof(self->protocols[n]));
}

/* ---- listener ----------------------------------------------------------------------------- */

/* The edge owns its listening socket (SO_REUSEPORT, so several edges share the port: lws 4.1
 * sets SO_REUSEPORT only when it runs several service threads) and hands every accepted
 * socket to lws (lws_adopt_socket_vhost). Closing it on SIGTERM stops accepting while the
 * other edges keep the port. */
static int listen_socket(const char *addr, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        log_error("ws_bind %s is not an IPv4 address", addr);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, SOMAXCONN) < 0) {
        log_error("cannot listen on %s:%d: %s", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void on_accept_retry(uv_timer_t *t);

/* Every listener pauses: max_handshakes and the descriptors are the edge's, not a port's. */
static void accept_pause(edge_lws_t *self)
{
    for (int i = 0; i < LISTENERS; i++)
        if (self->listeners[i].fd >= 0)
            uv_poll_stop(&self->listeners[i].poll);
    uv_timer_start(&self->accept_timer, on_accept_retry, ACCEPT_PAUSE_MS, 0);
}

static void on_accept(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    listener_t *l = p->data;
    edge_lws_t *self = l->owner;
    int adopted = 0;
    /* level-triggered: a capped batch, the rest on the next loop iteration */
    for (int i = 0; i < 256; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: pause accepting for a moment instead of spinning */
                metrics_def_count(&EDGE_METRICS[EDGE_M_ACCEPT_ERRORS], strerror(errno));
                accept_pause(self);
            }
            break;
        }
        /* at max_handshakes: this socket takes the oldest one's place, or it is the last one
         * for a moment (the table holds one more while accepting pauses) */
        bool full = self->hs_count >= (size_t)self->cfg->max_handshakes && !hs_make_room(self);
        edge_addr_t addr;
        edge_addr_from_sockaddr(&addr, (struct sockaddr *)&ss);
        hs_t *hs = hs_new(self, &addr);
        if (!hs)
            close(fd);
        else if (self->proxy) /* the address is the one in the header */
            proxy_wait_start(self, l, hs, fd);
        else if (hs_adopt(self, l, hs, fd))
            adopted++;
        if (full) {
            metrics_counter_add(metrics_def_counter(&EDGE_METRICS[EDGE_M_ACCEPT_PAUSES], NULL), 1);
            accept_pause(self);
            break;
        }
    }
    /* lws (libuv) arms the handshake timeouts of adopted sockets on its next service */
    if (adopted)
        lws_cancel_service(self->lws);
}

static void on_accept_retry(uv_timer_t *t)
{
    edge_lws_t *self = t->data;
    for (int i = 0; i < LISTENERS; i++)
        if (self->listeners[i].fd >= 0)
            uv_poll_start(&self->listeners[i].poll, UV_READABLE, on_accept);
}

/* Starts accepting on a listener whose socket is open (or none: fd -1) into vhost. */
static void listen_start(edge_lws_t *self, listener_t *l, struct lws_vhost *vhost)
{
    l->owner = self;
    l->vhost = vhost;
    if (l->fd < 0)
        return;
    uv_poll_init(self->loop, &l->poll, l->fd);
    l->poll.data = l;
    uv_poll_start(&l->poll, UV_READABLE, on_accept);
}

static void listen_close(edge_lws_t *self)
{
    uv_timer_stop(&self->accept_timer);
    for (int i = 0; i < LISTENERS; i++) {
        listener_t *l = &self->listeners[i];
        if (l->fd < 0)
            continue;
        uv_poll_stop(&l->poll);
        uv_close((uv_handle_t *)&l->poll, NULL);
        close(l->fd);
        l->fd = -1;
    }
}

void edge_lws_stop_accepting(edge_lws_t *self)
{
    self->draining = true;
    listen_close(self);
}

bool edge_lws_listening(const edge_lws_t *self)
{
    if (!self)
        return false;
    for (int i = 0; i < LISTENERS; i++)
        if (self->listeners[i].fd >= 0)
            return true;
    return false;
}

void edge_lws_set_auth(edge_lws_t *self, edge_auth_io_t *auth)
{
    self->auth = auth;
}

int edge_lws_reload_tls(edge_lws_t *self)
{
    if (!self->tls) {
        log_info("SIGHUP: no wss listener, nothing to reload");
        return 0;
    }
    return edge_tls_reload(self->tls);
}

/* ---- context ------------------------------------------------------------------------------ */

/* The context sizes its tables from RLIMIT_NOFILE when it is created (docs/PERFORMANCE.md). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("could not raise RLIMIT_NOFILE: %s", strerror(errno));
    }
}

static void lws_log_to_ours(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    log_write(level == LLL_ERR ? LOG_ERROR : LOG_WARN, NULL, NULL, "lws: %.*s", (int)n, line);
}

/* No per-connection validity timer (docs/PERFORMANCE.md trap 2): liveness is the engine's. */
static const lws_retry_bo_t NO_VALIDITY = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

edge_lws_t *edge_lws_new(const edge_config_t *cfg, uv_loop_t *loop, edge_conns_t *conns)
{
    edge_lws_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->loop = loop;
    self->conns = conns;
    for (int i = 0; i < LISTENERS; i++)
        self->listeners[i].fd = -1;
    self->proxy = strcmp(cfg->proxy_protocol, "v2") == 0;
    self->handshakes = u64map_new(256);
    self->hs_per_addr = edge_ipcount_new();
    self->iprate =
        edge_iprate_new(65536, (double)cfg->ip_connect_rate, (double)cfg->ip_connect_burst);
    self->m_handshake = metrics_def_histogram(&EDGE_METRICS[EDGE_M_HANDSHAKE_SECONDS], NULL);
    self->m_hs_failed = metrics_def_counter(&EDGE_METRICS[EDGE_M_HANDSHAKES_FAILED], NULL);
    self->m_handshakes = metrics_def_gauge(&EDGE_METRICS[EDGE_M_HANDSHAKES], NULL);
    if (!self->handshakes || !self->hs_per_addr || !self->iprate)
        goto out_free;

    raise_nofile();
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    void *foreign[] = {loop};
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* the edge accepts (listen_socket) */
    protocols_init(self);
    info.protocols = self->protocols;
    info.user = self;
    info.pcontext = &self->lws; /* lws sets it NULL once the context is freed */
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->wss_port) /* OpenSSL's and lws' TLS set-up, for the wss vhost below */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = foreign;
    info.retry_and_idle_policy = &NO_VALIDITY;
    info.timeout_secs = (unsigned int)((cfg->handshake_timeout_ms + 999) / 1000);
    /* a request trickled in slowly holds a header buffer: the same bound applies */
    info.timeout_secs_ah_idle = info.timeout_secs;
    info.pt_serv_buf_size = 4096;
    info.max_http_header_data = (unsigned short)cfg->max_header_bytes;
    info.ka_time = 0;
    self->lws = lws_create_context(&info);
    self->vhost = self->lws ? lws_get_vhost_by_name(self->lws, "default") : NULL;
    if (!self->vhost) {
        log_error("could not create the libwebsockets context");
        goto out_free;
    }
    if (cfg->wss_port && !(self->tls = edge_tls_new(self->lws, cfg, self->protocols)))
        goto out_free;
    listener_t *ws = &self->listeners[LISTEN_WS], *wss = &self->listeners[LISTEN_WSS];
    if ((cfg->ws_port && (ws->fd = listen_socket(cfg->ws_bind, (int)cfg->ws_port)) < 0) ||
        (cfg->wss_port && (wss->fd = listen_socket(cfg->ws_bind, (int)cfg->wss_port)) < 0))
        goto out_free;
    uv_timer_init(loop, &self->accept_timer);
    self->accept_timer.data = self;
    uv_timer_init(loop, &self->proxy_timer);
    self->proxy_timer.data = self;
    if (self->proxy)
        uv_timer_start(&self->proxy_timer, on_proxy_timer, 100, 100);
    listen_start(self, ws, self->vhost);
    listen_start(self, wss, edge_tls_vhost(self->tls));
    return self;

out_free:
    for (int i = 0; i < LISTENERS; i++)
        if (self->listeners[i].fd >= 0)
            close(self->listeners[i].fd);
    if (self->lws)
        lws_context_destroy(self->lws);
    edge_tls_destroy(&self->tls);
    u64map_destroy(&self->handshakes);
    edge_ipcount_destroy(&self->hs_per_addr);
    edge_iprate_destroy(&self->iprate);
    free(self);
    return NULL;
}

void edge_lws_stop(edge_lws_t *self)
{
    if (!self)
        return;
    listen_close(self);
    if (!uv_is_closing((uv_handle_t *)&self->accept_timer)) {
        uv_close((uv_handle_t *)&self->accept_timer, NULL);
        uv_close((uv_handle_t *)&self->proxy_timer, NULL);
    }
    /* sockets still waiting for their PROXY header are the edge's; lws' report WSI_DESTROY */
    for (hs_t *hs = self->hs_head, *next; hs; hs = next) {
        next = hs->next;
        if (hs->pw) {
            close(proxy_wait_end(hs));
            hs_free(self, hs);
        }
    }
    if (self->lws)
        lws_context_destroy(self->lws);
}

void edge_lws_destroy(edge_lws_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    edge_lws_t *self = *self_p;
    edge_lws_stop(self); /* a second lws_context_destroy() completes it on a foreign loop */
    edge_tls_destroy(&self->tls);
    u64map_destroy(&self->handshakes);
    edge_ipcount_destroy(&self->hs_per_addr);
    edge_iprate_destroy(&self->iprate);
    free(self);
    *self_p = NULL;
}
