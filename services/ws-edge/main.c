/* ws-edge: terminates charge-point WebSockets and moves raw frames to and from ocpp-core.
 *
 * Wiring only: configuration, the libwebsockets context on a libuv loop (epoll), the ZeroMQ
 * sockets integrated into that loop, and the lws protocol callback. The edge never parses
 * OCPP: it checks the URL, identity and subprotocol, then hands complete text messages to
 * the core chosen by a stable hash of the identity (DESIGN §1, §3). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <czmq.h>
#include <libwebsockets.h>
#include <uv.h>

#include "admin_http.h"
#include "channel.h"
#include "clock.h"
#include "config.h"
#include "edge_config.h"
#include "edge_limits.h"
#include "edge_path.h"
#include "edge_subprotocol.h"
#include "edge_utf8.h"
#include "edge_wheel.h"
#include "envelope.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "u64map.h"

/* A message waiting to be written to the charge point. */
typedef struct out_msg {
    struct out_msg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE headroom + payload */
} out_msg_t;

/* Per-connection state, allocated by lws as the session user data. */
typedef struct {
    edge_wheel_node_t live; /* liveness deadline in the edge's timing wheel */
    uint64_t conn_id;       /* 0 until established */
    struct lws *wsi;
    uint32_t core;
    const char *subprotocol;
    char identity[IDENTITY_MAX + 1];
    out_msg_t *out_head, *out_tail;
    size_t out_bytes;
    unsigned char *rx; /* reassembly of a fragmented message */
    size_t rx_len;
    uint16_t close_code; /* set when the edge or core decided to close */
    uint16_t peer_close_code;
    char close_reason[64];
    void *pending_frame; /* an encoded FRAME that core could not take yet (flow control) */
    size_t pending_len;
    edge_bucket_t rate; /* message rate of this connection */
    uint32_t last_rx;   /* wheel tick of the last frame or pong received */
    uint32_t last_ping; /* wheel tick of the last ping sent (0: none) */
    bool ping_due;      /* a ping waits for the writable callback */
    bool token_held;    /* pending_frame already took its rate token */
} edge_conn_t;

#define CONN_OF(node) ((edge_conn_t *)((char *)(node)-offsetof(edge_conn_t, live)))

static struct {
    edge_config_t cfg;
    struct lws_context *lws;
    uv_loop_t loop;
    uv_poll_t zmq_poll;
    uv_timer_t hello_timer;
    uv_timer_t resume_timer;
    uv_timer_t stop_timer;
    int listen_fd; /* -1 once closed */
    uv_poll_t listen_poll;
    uv_timer_t accept_timer; /* resumes accepting after running out of descriptors */
    struct lws_vhost *vhost;
    uv_timer_t live_timer;  /* 1 s: advances the liveness wheel */
    uv_timer_t drain_timer; /* staggered close after SIGTERM */
    uv_idle_t drain_idle;
    uv_poll_t signals; /* the signalfd of service.h */
    zsock_t *pull;
    zsock_t **core_push;
    char *endpoint;
    msgpack_sbuffer scratch;
    u64map_t *conns;
    u64map_t *paused; /* connections with a pending frame */
    uint64_t next_conn_id;
    admin_http_t *admin;
    bool stopping;
    bool kick_lws;       /* an lws timer was set outside lws callbacks */
    edge_wheel_t *wheel; /* liveness deadlines, one tick per second */
    uint64_t tick;
    uint32_t ping_ticks, idle_ticks;
    edge_iprate_t *iprate;
    u64map_t *handshakes; /* wsi -> accept time (us), until established or gone */
    uint64_t *drain_ids;  /* connections open when the drain started */
    size_t drain_total, drain_done;
    uint64_t drain_start_ms;
    metrics_histogram_t *m_handshake;
    metrics_counter_t *m_rate_limited, *m_pings, *m_ping_timeouts, *m_hs_failed;
    metrics_gauge_t *m_conns;
    metrics_counter_t *m_accepted, *m_frames_in, *m_frames_out, *m_bytes_in, *m_bytes_out, *m_stale,
        *m_paused;
} E;

static void count_refusal(const char *reason)
{
    metrics_count("edge_upgrades_refused_total", "WebSocket upgrades refused, by reason", "reason",
                  reason);
}

static void count_close(uint16_t code)
{
    char v[8];
    snprintf(v, sizeof(v), "%u", code);
    metrics_count("edge_connections_closed_total", "connections closed, by close code", "code", v);
}

/* Hand an envelope to the connection's core. -EAGAIN means core is full. */
static int send_to_core(uint32_t core, const envelope_t *env)
{
    return channel_send_envelope(E.core_push[core], env, &E.scratch);
}

static void send_hello(void)
{
    envelope_t env = {.type = ENV_HELLO};
    env.u.hello.edge_id = env_str(E.cfg.edge_id);
    env.u.hello.endpoint = env_str(E.endpoint);
    for (int64_t i = 0; i < E.cfg.core_count; i++) {
        if (send_to_core((uint32_t)i, &env) < 0)
            log_warn("core %" PRId64 " is not taking HELLO yet", i);
    }
}

static void free_out_queue(edge_conn_t *c)
{
    while (c->out_head) {
        out_msg_t *m = c->out_head;
        c->out_head = m->next;
        free(m);
    }
    c->out_tail = NULL;
    c->out_bytes = 0;
}

/* Close the connection with a code: the close frame leaves after what is queued. */
static void conn_close(edge_conn_t *c, uint16_t code, const char *reason)
{
    if (c->close_code)
        return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
    if (c->out_head) {
        /* let the queue drain first (a reply before a CLOSE), but not forever */
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 10);
        lws_callback_on_writable(c->wsi);
        return;
    }
    /* close now through LWS_CALLBACK_TIMER (see conn_writeable); this may run outside lws
     * callbacks, where lws (libuv) arms its timer only when woken up */
    lws_set_timer_usecs(c->wsi, 1);
    lws_cancel_service(E.lws);
}

/* ---- upgrade checks -------------------------------------------------------------------- */

static int refuse(struct lws *wsi, unsigned int status, const char *reason, const char *detail)
{
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    count_refusal(reason);
    log_warn("upgrade refused: %s (%s) from %s", reason, detail, peer);
    lws_return_http_status(wsi, status, reason);
    return 1;
}

static int confirm_upgrade(struct lws *wsi, const char *upgrade_to)
{
    char uri[512];
    char identity[IDENTITY_MAX + 1];

    if (!upgrade_to || strcasecmp(upgrade_to, "websocket") != 0)
        return refuse(wsi, HTTP_STATUS_BAD_REQUEST, "bad_upgrade", "not a websocket upgrade");
    if (u64map_size(E.conns) >= (size_t)E.cfg.max_connections)
        return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "max_connections", "edge is full");
    if (E.stopping)
        return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "draining", "edge is draining");
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    if (!edge_iprate_allow(E.iprate, peer, (uint32_t)uv_now(&E.loop)))
        return refuse(wsi, 429, "ip_rate", "too many connections from this address");

    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    if (n <= 0)
        return refuse(wsi, HTTP_STATUS_NOT_FOUND, "bad_path", "no or oversized path");
    /* lws has already percent-decoded the path */
    edge_path_result_t pr = edge_path_parse(uri, (size_t)n, E.cfg.path_prefixes, false, identity);
    if (pr != EDGE_PATH_OK)
        return refuse(wsi,
                      pr == EDGE_PATH_BAD_PREFIX ? HTTP_STATUS_NOT_FOUND : HTTP_STATUS_BAD_REQUEST,
                      edge_path_result_name(pr), uri);

    char offered[256];
    int olen = lws_hdr_copy(wsi, offered, sizeof(offered), WSI_TOKEN_PROTOCOL);
    if (olen <= 0)
        return refuse(wsi, HTTP_STATUS_BAD_REQUEST, "no_subprotocol", identity);
    const char *chosen = edge_subprotocol_choose(offered, (size_t)olen, E.cfg.subprotocols);
    if (!chosen)
        return refuse(wsi, HTTP_STATUS_BAD_REQUEST, "unsupported_subprotocol", offered);

    /* lws 4.1 binds the first protocol of the client's list that the vhost knows, and its
     * header storage is private, so "newest enabled" holds when the client lists newest
     * first (the usual case: one version offered). The vhost only knows enabled versions, so
     * whatever lws binds is enabled and offered; the edge reports what lws bound. */
    (void)chosen;
    return 0;
}

/* ---- connection life ------------------------------------------------------------------- */

static void on_resume_timer(uv_timer_t *t);

/* The envelope in E.scratch could not go to core yet (core full, or the connection over its
 * message rate): keep it and stop reading this connection until it leaves (nothing is
 * dropped, and nothing overtakes it). */
static void conn_hold(edge_conn_t *c)
{
    c->pending_frame = malloc(E.scratch.size);
    if (!c->pending_frame) {
        conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    memcpy(c->pending_frame, E.scratch.data, E.scratch.size);
    c->pending_len = E.scratch.size;
    u64map_put(E.paused, c->conn_id, c);
    lws_rx_flow_control(c->wsi, 0);
    if (c->token_held)
        metrics_counter_add(E.m_paused, 1);
    if (!uv_is_active((uv_handle_t *)&E.resume_timer))
        uv_timer_start(&E.resume_timer, on_resume_timer, 5, 5);
}

static void conn_established(struct lws *wsi, edge_conn_t *c)
{
    char uri[512];
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    if (n <= 0 ||
        edge_path_parse(uri, (size_t)n, E.cfg.path_prefixes, false, c->identity) != EDGE_PATH_OK) {
        /* cannot happen after confirm_upgrade; close rather than trust it */
        conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "bad identity");
        return;
    }
    c->subprotocol = lws_get_protocol(wsi)->name;
    void *t0 = u64map_remove(E.handshakes, (uint64_t)(uintptr_t)wsi);
    if (t0)
        metrics_histogram_observe(E.m_handshake,
                                  (double)(clock_now_us() - (uint64_t)(uintptr_t)t0) / 1e6);
    c->conn_id = ++E.next_conn_id;
    c->core = hash_core_index(c->identity, strlen(c->identity), (uint32_t)E.cfg.core_count);
    u64map_put(E.conns, c->conn_id, c);
    metrics_gauge_set(E.m_conns, (int64_t)u64map_size(E.conns));
    metrics_counter_add(E.m_accepted, 1);

    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    envelope_t env = {.type = ENV_CONNECT};
    env.u.connect.edge_id = env_str(E.cfg.edge_id);
    env.u.connect.conn_id = c->conn_id;
    env.u.connect.identity = env_str(c->identity);
    env.u.connect.subprotocol = env_str(c->subprotocol);
    env.u.connect.peer = env_str(peer);
    env.u.connect.security_profile = 0;
    env.u.connect.at_us = clock_now_us();
    c->last_rx = (uint32_t)E.tick;
    edge_bucket_init(&c->rate, (double)E.cfg.message_burst, (uint32_t)uv_now(&E.loop));
    edge_wheel_schedule(E.wheel, &c->live, E.tick + E.ping_ticks);
    int rc = send_to_core(c->core, &env);
    if (rc == -EAGAIN) {
        /* core is full: the CONNECT waits, and so does everything read after it */
        c->token_held = true;
        conn_hold(c);
    } else if (rc < 0) {
        log_write(LOG_ERROR, c->identity, NULL, "CONNECT not handed to core: %s", strerror(-rc));
        conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "internal error");
        return;
    }
    log_write(LOG_INFO, c->identity, NULL, "connected conn_id=%" PRIu64 " subprotocol=%s peer=%s",
              c->conn_id, c->subprotocol, peer);
}

static void conn_closed(edge_conn_t *c)
{
    if (!c->conn_id)
        return;
    uint16_t code =
        c->close_code ? c->close_code : (c->peer_close_code ? c->peer_close_code : 1006);
    envelope_t env = {.type = ENV_DISCONNECT};
    env.u.disconnect.edge_id = env_str(E.cfg.edge_id);
    env.u.disconnect.conn_id = c->conn_id;
    env.u.disconnect.code = code;
    env.u.disconnect.reason = env_str(c->close_reason[0] ? c->close_reason : "");
    msgpack_sbuffer_clear(&E.scratch);
    if (envelope_encode(&env, &E.scratch) == 0 &&
        channel_send_wait(E.core_push[c->core], E.scratch.data, E.scratch.size, 1000) < 0)
        log_write(LOG_ERROR, c->identity, NULL,
                  "DISCONNECT for conn_id=%" PRIu64 " lost: core "
                  "did not take it within 1 s",
                  c->conn_id);
    count_close(code);
    edge_wheel_cancel(E.wheel, &c->live);
    u64map_remove(E.conns, c->conn_id);
    if (u64map_remove(E.paused, c->conn_id)) {
        free(c->pending_frame);
        c->pending_frame = NULL;
    }
    metrics_gauge_set(E.m_conns, (int64_t)u64map_size(E.conns));
    free_out_queue(c);
    free(c->rx);
    c->rx = NULL;
    log_write(LOG_INFO, c->identity, NULL, "disconnected conn_id=%" PRIu64 " code=%u", c->conn_id,
              code);
    c->conn_id = 0;
}

/* A complete message: hand it to core, or hold it and pause reading when core is full. */
static void conn_message(edge_conn_t *c, const unsigned char *data, size_t len)
{
    envelope_t env = {.type = ENV_FRAME};
    env.u.frame.edge_id = env_str(E.cfg.edge_id);
    env.u.frame.conn_id = c->conn_id;
    env.u.frame.data = (env_bin_t){data, len};
    env.u.frame.at_us = clock_now_us();
    metrics_counter_add(E.m_frames_in, 1);
    metrics_counter_add(E.m_bytes_in, len);
    msgpack_sbuffer_clear(&E.scratch);
    if (envelope_encode(&env, &E.scratch) != 0) {
        log_write(LOG_ERROR, c->identity, NULL, "FRAME could not be encoded");
        conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "internal error");
        return;
    }
    c->token_held = edge_bucket_take(&c->rate, (double)E.cfg.message_rate,
                                     (double)E.cfg.message_burst, (uint32_t)uv_now(&E.loop));
    int rc = -EAGAIN;
    if (c->token_held)
        rc = channel_send(E.core_push[c->core], E.scratch.data, E.scratch.size);
    else
        metrics_counter_add(E.m_rate_limited, 1);
    if (rc == 0)
        return;
    if (rc != -EAGAIN) {
        log_write(LOG_ERROR, c->identity, NULL, "FRAME not handed to core: %s", strerror(-rc));
        conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "internal error");
        return;
    }
    conn_hold(c);
}

static void try_resume(uint64_t key, void *value, void *arg)
{
    (void)key;
    edge_conn_t *c = value;
    int *still_paused = arg;
    if (!c->pending_frame)
        return;
    if (!c->token_held)
        c->token_held = edge_bucket_take(&c->rate, (double)E.cfg.message_rate,
                                         (double)E.cfg.message_burst, (uint32_t)uv_now(&E.loop));
    if (c->token_held &&
        channel_send(E.core_push[c->core], c->pending_frame, c->pending_len) == 0) {
        free(c->pending_frame);
        c->pending_frame = NULL;
        lws_rx_flow_control(c->wsi, 1);
    } else {
        (*still_paused)++;
    }
}

static void on_resume_timer(uv_timer_t *t)
{
    int still_paused = 0;
    u64map_foreach(E.paused, try_resume, &still_paused);
    /* drop resumed entries (cannot modify during foreach) */
    if (still_paused == 0) {
        u64map_destroy(&E.paused);
        E.paused = u64map_new(64);
        uv_timer_stop(t);
    }
}

static int conn_receive(edge_conn_t *c, struct lws *wsi, const void *in, size_t len)
{
    c->last_rx = (uint32_t)E.tick;
    if (c->close_code || c->pending_frame)
        return 0;
    if (lws_frame_is_binary(wsi)) {
        conn_close(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "OCPP-J uses text frames");
        return 0;
    }
    bool first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
    if (first && final && !c->rx) {
        if (len > (size_t)E.cfg.max_message_bytes) {
            conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
            return 0;
        }
        if (!edge_utf8_valid(in, len)) {
            conn_close(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "invalid UTF-8");
            return 0;
        }
        conn_message(c, in, len);
        return 0;
    }
    if (c->rx_len + len > (size_t)E.cfg.max_message_bytes) {
        free(c->rx);
        c->rx = NULL;
        c->rx_len = 0;
        conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
        return 0;
    }
    unsigned char *grown = realloc(c->rx, c->rx_len + len + 1);
    if (!grown) {
        conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        return 0;
    }
    c->rx = grown;
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (final) {
        if (edge_utf8_valid(c->rx, c->rx_len))
            conn_message(c, c->rx, c->rx_len);
        else
            conn_close(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "invalid UTF-8");
        free(c->rx);
        c->rx = NULL;
        c->rx_len = 0;
    }
    return 0;
}

static int conn_writeable(edge_conn_t *c, struct lws *wsi)
{
    if (c->close_code == 1006) /* hung up: no close frame to a silent peer */
        return -1;
    if (c->ping_due && !c->close_code) {
        unsigned char ping[LWS_PRE + 1];
        c->ping_due = false;
        ping[LWS_PRE] = 'p';
        if (lws_write(wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 0)
            return -1;
        metrics_counter_add(E.m_pings, 1);
        if (c->out_head)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->close_code && !c->out_head) {
        /* returning -1 from a writable callback makes lws 4.1 drop the socket without the
         * close frame; from LWS_CALLBACK_TIMER it sends the frame and waits for the ack */
        lws_set_timer_usecs(wsi, 1);
        return 0;
    }
    out_msg_t *m = c->out_head;
    if (!m)
        return 0;
    int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    if (n < (int)m->len)
        return -1;
    metrics_counter_add(E.m_frames_out, 1);
    metrics_counter_add(E.m_bytes_out, m->len);
    c->out_head = m->next;
    if (!c->out_head)
        c->out_tail = NULL;
    c->out_bytes -= m->len;
    free(m);
    if (c->out_head || c->close_code)
        lws_callback_on_writable(wsi);
    return 0;
}

/* ---- messages from core ---------------------------------------------------------------- */

static void core_send(const env_send_t *s)
{
    edge_conn_t *c = u64map_get(E.conns, s->conn_id);
    if (!c || c->close_code) {
        metrics_counter_add(E.m_stale, 1);
        return;
    }
    if (c->out_bytes + s->data.len > (size_t)E.cfg.send_queue_bytes) {
        metrics_count("edge_send_queue_drops_total", "connections closed as slow readers", "reason",
                      "send_queue_full");
        log_write(LOG_WARN, c->identity, NULL, "slow reader: %zu bytes queued, closing",
                  c->out_bytes);
        free_out_queue(c);
        conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "slow reader");
        return;
    }
    out_msg_t *m = malloc(sizeof(*m) + LWS_PRE + s->data.len);
    if (!m) {
        conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    m->next = NULL;
    m->len = s->data.len;
    memcpy(m->buf + LWS_PRE, s->data.ptr, s->data.len);
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    c->out_bytes += m->len;
    lws_callback_on_writable(c->wsi);
}

static void core_close(const env_close_t *cl)
{
    edge_conn_t *c = u64map_get(E.conns, cl->conn_id);
    if (!c) {
        metrics_counter_add(E.m_stale, 1);
        return;
    }
    char reason[64];
    env_str_copy(cl->reason, reason, sizeof(reason));
    uint16_t code = cl->code >= 1000 && cl->code < 5000 ? (uint16_t)cl->code : 1000;
    conn_close(c, code, reason);
}

static void handle_from_core(const envelope_t *env, void *arg)
{
    (void)arg;
    switch (env->type) {
    case ENV_SEND:
        core_send(&env->u.send);
        break;
    case ENV_CLOSE:
        core_close(&env->u.close);
        break;
    default:
        channel_reject("unexpected type", "core", env);
    }
}

/* ZMQ_FD is edge-triggered: drain while ZMQ_EVENTS says POLLIN, at most a batch per wake-up,
 * and come back on the next loop iteration if the batch cap was reached. */
static void on_drain_idle(uv_idle_t *idle);

static void drain_core(void)
{
    if (channel_drain(E.pull, 4096, "core", handle_from_core, NULL) < 4096)
        uv_idle_stop(&E.drain_idle);
    else /* continue on the next loop iteration, after lws had its turn */
        uv_idle_start(&E.drain_idle, on_drain_idle);
}

static void on_drain_idle(uv_idle_t *idle)
{
    (void)idle;
    drain_core();
}

static void on_zmq_readable(uv_poll_t *p, int status, int events)
{
    (void)p;
    (void)status;
    (void)events;
    drain_core();
}

/* ---- lws callback ---------------------------------------------------------------------- */

static int edge_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    edge_conn_t *c = user;
    switch (reason) {
    case LWS_CALLBACK_WSI_DESTROY:
        if (u64map_remove(E.handshakes, (uint64_t)(uintptr_t)wsi))
            metrics_counter_add(E.m_hs_failed, 1); /* never became a WebSocket */
        break;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi, in);
    case LWS_CALLBACK_HTTP:
        count_refusal("not_websocket");
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "WebSocket upgrade required");
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_ESTABLISHED:
        conn_established(wsi, c);
        break;
    case LWS_CALLBACK_RECEIVE:
        return conn_receive(c, wsi, in, len);
    case LWS_CALLBACK_TIMER: /* armed by conn_writeable or hang_up: close with the code */
        if (c->close_code == 1006)
            return -1;
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    case LWS_CALLBACK_RECEIVE_PONG:
        c->last_rx = (uint32_t)E.tick;
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return conn_writeable(c, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2)
            c->peer_close_code =
                (uint16_t)(((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1]);
        break;
    case LWS_CALLBACK_CLOSED:
        conn_closed(c);
        break;
    default:
        break;
    }
    return 0;
}

/* protocols[0] serves plain HTTP requests on the port; then one entry per ENABLED
 * subprotocol, newest first, all with one callback; a zeroed entry ends the list. */
static struct lws_protocols protocols[2 + 3];

static void protocols_init(const char *enabled)
{
    size_t n = 0;
    protocols[n++] =
        (struct lws_protocols){"http-refuse", edge_callback, sizeof(edge_conn_t), 0, 0, NULL, 0};
    for (size_t i = 0; i < EDGE_SUBPROTOCOL_COUNT; i++) {
        const char *name = EDGE_SUBPROTOCOLS[i];
        if (edge_subprotocol_choose(name, strlen(name), enabled))
            protocols[n++] = (struct lws_protocols){
                name, edge_callback, sizeof(edge_conn_t), (size_t)E.cfg.rx_buffer_bytes, 0, NULL,
                0};
    }
    memset(&protocols[n], 0, sizeof(protocols[n]));
}

/* No per-connection validity timer (PERFORMANCE.md trap 2): liveness is the edge's job. */
static const lws_retry_bo_t NO_VALIDITY = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

/* ---- process --------------------------------------------------------------------------- */

/* Once a second: liveness for /healthz, HELLO every 2 s (a restarted core learns this edge
 * again), and a drain in case an edge-triggered ZMQ_FD wake-up was missed. */
static void on_hello_timer(uv_timer_t *t)
{
    (void)t;
    static unsigned ticks;
    admin_http_heartbeat(E.admin);
    if (ticks++ % 2 == 0)
        send_hello();
    drain_core();
}

static void collect_id(uint64_t key, void *value, void *arg)
{
    (void)value;
    (void)arg;
    E.drain_ids[E.drain_total++] = key;
}

static void on_stop_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Every 100 ms: close the share of the connections due by now (1001), so that charge points
 * reconnect to the other pods spread over the window; stop once none is left. */
static void on_drain_timer(uv_timer_t *t)
{
    uint64_t elapsed = uv_now(&E.loop) - E.drain_start_ms;
    size_t quota = edge_drain_quota(E.drain_total, (uint64_t)E.cfg.drain_window_ms, elapsed);
    for (; E.drain_done < quota; E.drain_done++) {
        edge_conn_t *c = u64map_get(E.conns, E.drain_ids[E.drain_done]);
        if (c)
            conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "gateway shutting down");
    }
    if (E.drain_done == E.drain_total && u64map_size(E.conns) == 0) {
        log_info("drain complete: %zu connections closed in %" PRIu64 " ms", E.drain_total,
                 elapsed);
        uv_timer_stop(t);
        uv_stop(&E.loop);
    }
}

/* ---- listener --------------------------------------------------------------------------- */

/* The edge owns its listening socket (SO_REUSEPORT, so several edges share the port: lws 4.1
 * sets SO_REUSEPORT only when it runs several service threads) and hands every accepted
 * socket to lws (lws_adopt_socket_vhost). Closing it on SIGTERM stops accepting while the
 * other edges keep the port. */
static int listen_open(const char *addr, int port)
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

static void on_accept(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    int adopted = 0;
    /* level-triggered: a capped batch, the rest on the next loop iteration */
    for (int i = 0; i < 256; i++) {
        int fd = accept4(E.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: pause accepting for a moment instead of spinning */
                metrics_count("edge_accept_errors_total", "accept() failures, by errno", "errno",
                              strerror(errno));
                uv_poll_stop(p);
                uv_timer_start(&E.accept_timer, on_accept_retry, 100, 0);
            }
            break;
        }
        struct lws *wsi = lws_adopt_socket_vhost(E.vhost, fd); /* closes fd on failure */
        if (!wsi) {
            metrics_count("edge_accept_errors_total", "accept() failures, by errno", "errno",
                          "adopt failed");
            continue;
        }
        u64map_put(E.handshakes, (uint64_t)(uintptr_t)wsi, (void *)(uintptr_t)clock_now_us());
        adopted++;
    }
    /* lws (libuv) arms the handshake timeouts of adopted sockets on its next service */
    if (adopted)
        lws_cancel_service(E.lws);
}

static void on_accept_retry(uv_timer_t *t)
{
    (void)t;
    if (E.listen_fd >= 0)
        uv_poll_start(&E.listen_poll, UV_READABLE, on_accept);
}

static void listen_close(void)
{
    if (E.listen_fd < 0)
        return;
    uv_poll_stop(&E.listen_poll);
    uv_timer_stop(&E.accept_timer);
    uv_close((uv_handle_t *)&E.listen_poll, NULL);
    close(E.listen_fd);
    E.listen_fd = -1;
}

static void on_stop(int signum)
{
    if (E.stopping) {
        uv_stop(&E.loop);
        return;
    }
    E.stopping = true;
    admin_http_set_ready(E.admin, false, "draining");
    /* stop accepting: the listen socket closes, so with SO_REUSEPORT new connections go to
     * the other edges; upgrades already in progress are refused with 503 */
    listen_close();
    E.drain_ids = malloc((u64map_size(E.conns) + 1) * sizeof(*E.drain_ids));
    E.drain_total = 0;
    if (E.drain_ids)
        u64map_foreach(E.conns, collect_id, NULL);
    E.drain_done = 0;
    E.drain_start_ms = uv_now(&E.loop);
    log_info("signal %d: draining %zu connections over %" PRId64 " ms", signum, E.drain_total,
             E.cfg.drain_window_ms);
    uv_timer_start(&E.drain_timer, on_drain_timer, 0, 100);
    /* whatever happens, stop a few seconds after the window */
    uv_timer_start(&E.stop_timer, on_stop_timer, (uint64_t)E.cfg.drain_window_ms + 3000, 0);
}

/* The process's signals arrive on the signalfd of service.h (one scheme for every stage). */
static void on_signal_fd(uv_poll_t *p, int status, int events)
{
    (void)p;
    (void)status;
    (void)events;
    int signo;
    while ((signo = service_signal_next()) != 0)
        if (service_signal_kind(signo) == SERVICE_SIGNAL_STOP)
            on_stop(signo);
}

/* ---- liveness -------------------------------------------------------------------------- */

static void hang_up(edge_conn_t *c)
{
    metrics_counter_add(E.m_ping_timeouts, 1);
    log_write(LOG_INFO, c->identity, NULL,
              "no traffic or pong for %u s, hanging up conn_id=%" PRIu64, E.idle_ticks, c->conn_id);
    c->close_code = 1006;
    snprintf(c->close_reason, sizeof(c->close_reason), "ping timeout");
    lws_set_timer_usecs(c->wsi, 1); /* LWS_CALLBACK_TIMER drops it, no close frame */
    E.kick_lws = true;
}

static void on_live_due(edge_wheel_node_t *node, void *arg)
{
    (void)arg;
    edge_conn_t *c = CONN_OF(node);
    if (!c->conn_id || c->close_code)
        return;
    if (c->pending_frame) { /* the edge is not reading it (flow control): not its silence */
        edge_wheel_schedule(E.wheel, node, E.tick + E.ping_ticks);
        return;
    }
    uint64_t next;
    switch (
        edge_liveness_check(E.tick, c->last_rx, c->last_ping, E.ping_ticks, E.idle_ticks, &next)) {
    case EDGE_LIVE_HANGUP:
        hang_up(c);
        return;
    case EDGE_LIVE_PING:
        c->ping_due = true;
        c->last_ping = (uint32_t)E.tick;
        lws_callback_on_writable(c->wsi);
        break;
    case EDGE_LIVE_WAIT:
        break;
    }
    edge_wheel_schedule(E.wheel, node, next);
}

static void on_live_timer(uv_timer_t *t)
{
    (void)t;
    E.tick++;
    edge_wheel_advance(E.wheel, E.tick, on_live_due, NULL);
    if (E.kick_lws) {
        /* lws (libuv) re-arms its own timer only while servicing an event: a timer set from
         * outside its callbacks waits for the next event unless lws is woken up */
        E.kick_lws = false;
        lws_cancel_service(E.lws);
    }
}

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

int main(int argc, char **argv)
{
    int rc = service_setup("ws-edge", EDGE_CONFIG, EDGE_CONFIG_COUNT, &E.cfg, argc, argv,
                           &E.cfg.pod_id, &E.cfg.log_level);
    if (rc != SERVICE_RUN)
        return rc;
    raise_nofile();

    E.admin = admin_http_start(E.cfg.admin_bind, (int)E.cfg.admin_port);
    if (!E.admin)
        return 1;
    E.m_conns = metrics_gauge("edge_connections", "open WebSocket connections", NULL);
    E.m_accepted = metrics_counter("edge_connections_accepted_total", "upgrades accepted", NULL);
    E.m_frames_in = metrics_counter("edge_frames_in_total", "messages from charge points", NULL);
    E.m_frames_out = metrics_counter("edge_frames_out_total", "messages to charge points", NULL);
    E.m_bytes_in = metrics_counter("edge_bytes_in_total", "message bytes from charge points", NULL);
    E.m_bytes_out = metrics_counter("edge_bytes_out_total", "message bytes to charge points", NULL);
    E.m_stale = metrics_counter("edge_stale_conn_total",
                                "SEND/CLOSE for a connection that is gone (dropped)", NULL);
    E.m_paused = metrics_counter("edge_flow_control_pauses_total",
                                 "times a connection stopped reading because core was full", NULL);
    E.m_rate_limited = metrics_counter(
        "edge_rate_limited_total",
        "messages held back (reading paused) because the connection exceeded its rate", NULL);
    E.m_hs_failed = metrics_counter(
        "edge_handshakes_failed_total",
        "accepted TCP connections that never became WebSockets (refused, timed out, dropped)",
        NULL);
    E.m_pings = metrics_counter("edge_pings_total", "pings sent to silent connections", NULL);
    E.m_ping_timeouts =
        metrics_counter("edge_ping_timeouts_total",
                        "connections hung up after no traffic or pong in the window", NULL);
    E.m_handshake = metrics_histogram("edge_handshake_seconds",
                                      "time from TCP accept to an established WebSocket", NULL,
                                      METRICS_LATENCY_SECONDS, METRICS_LATENCY_SECONDS_N);

    E.conns = u64map_new(1024);
    E.paused = u64map_new(64);
    E.handshakes = u64map_new(256);
    E.ping_ticks = (uint32_t)(E.cfg.ping_interval_ms + 999) / 1000;
    E.idle_ticks = (uint32_t)(E.cfg.idle_timeout_ms + 999) / 1000;
    E.tick = 1; /* last_ping 0 means "never pinged" */
    E.wheel =
        edge_wheel_new((E.ping_ticks > E.idle_ticks ? E.ping_ticks : E.idle_ticks) + 2, E.tick);
    E.iprate =
        edge_iprate_new(65536, (double)E.cfg.ip_connect_rate, (double)E.cfg.ip_connect_burst);
    if (!E.conns || !E.paused || !E.handshakes || !E.wheel || !E.iprate)
        return 1;
    E.next_conn_id = clock_now_us(); /* ids never repeat across restarts of this edge */
    msgpack_sbuffer_init(&E.scratch);

    char name[128];
    snprintf(name, sizeof(name), "edge-%s", E.cfg.edge_id);
    E.endpoint = channel_ipc_endpoint(E.cfg.ipc_dir, name);
    E.pull = E.endpoint ? channel_pull_bind(E.endpoint, (int)E.cfg.zmq_hwm) : NULL;
    if (!E.pull)
        return 1;
    E.core_push = channel_push_to_cores(E.cfg.ipc_dir, E.cfg.core_count, (int)E.cfg.zmq_hwm);
    if (!E.core_push)
        return 1;

    uv_loop_init(&E.loop);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    void *foreign[] = {&E.loop};
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* the edge accepts (listen_open) */
    protocols_init(E.cfg.subprotocols);
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign;
    info.retry_and_idle_policy = &NO_VALIDITY;
    info.timeout_secs = (unsigned int)((E.cfg.handshake_timeout_ms + 999) / 1000);
    /* a request trickled in slowly holds a header buffer: the same bound applies */
    info.timeout_secs_ah_idle = info.timeout_secs;
    info.pt_serv_buf_size = 4096;
    info.max_http_header_data = (unsigned short)E.cfg.max_header_bytes;
    info.ka_time = 0;
    E.lws = lws_create_context(&info);
    E.vhost = E.lws ? lws_get_vhost_by_name(E.lws, "default") : NULL;
    if (!E.vhost) {
        log_error("could not create the libwebsockets context");
        return 1;
    }
    E.listen_fd = listen_open(E.cfg.ws_bind, (int)E.cfg.ws_port);
    if (E.listen_fd < 0)
        return 1;
    uv_poll_init(&E.loop, &E.listen_poll, E.listen_fd);
    uv_poll_start(&E.listen_poll, UV_READABLE, on_accept);
    uv_timer_init(&E.loop, &E.accept_timer);

    uv_poll_init(&E.loop, &E.zmq_poll, channel_fd(E.pull));
    uv_poll_start(&E.zmq_poll, UV_READABLE, on_zmq_readable);
    uv_timer_init(&E.loop, &E.hello_timer);
    uv_timer_init(&E.loop, &E.resume_timer);
    uv_timer_init(&E.loop, &E.stop_timer);
    uv_timer_init(&E.loop, &E.live_timer);
    uv_timer_init(&E.loop, &E.drain_timer);
    uv_timer_start(&E.live_timer, on_live_timer, 1000, 1000);
    uv_idle_init(&E.loop, &E.drain_idle);
    uv_timer_start(&E.hello_timer, on_hello_timer, 0, 1000);
    uv_poll_init(&E.loop, &E.signals, service_signal_fd());
    uv_poll_start(&E.signals, UV_READABLE, on_signal_fd);

    send_hello();
    admin_http_set_ready(E.admin, true, NULL);
    log_info("listening on ws://%s:%" PRId64 " (paths %s, subprotocols %s), edge %s -> %" PRId64
             " core(s)",
             E.cfg.ws_bind, E.cfg.ws_port, E.cfg.path_prefixes, E.cfg.subprotocols, E.cfg.edge_id,
             E.cfg.core_count);

    uv_run(&E.loop, UV_RUN_DEFAULT);

    log_info("stopping");
    listen_close();
    uv_close((uv_handle_t *)&E.accept_timer, NULL);
    lws_context_destroy(E.lws);
    uv_close((uv_handle_t *)&E.zmq_poll, NULL);
    uv_close((uv_handle_t *)&E.hello_timer, NULL);
    uv_close((uv_handle_t *)&E.resume_timer, NULL);
    uv_close((uv_handle_t *)&E.stop_timer, NULL);
    uv_close((uv_handle_t *)&E.live_timer, NULL);
    uv_close((uv_handle_t *)&E.drain_timer, NULL);
    uv_close((uv_handle_t *)&E.drain_idle, NULL);
    uv_close((uv_handle_t *)&E.signals, NULL);
    uv_run(&E.loop, UV_RUN_DEFAULT);
    uv_loop_close(&E.loop);
    channel_push_to_cores_destroy(&E.core_push, E.cfg.core_count);
    zsock_destroy(&E.pull);
    free(E.endpoint);
    msgpack_sbuffer_destroy(&E.scratch);
    u64map_destroy(&E.conns);
    u64map_destroy(&E.paused);
    u64map_destroy(&E.handshakes);
    edge_wheel_destroy(&E.wheel);
    edge_iprate_destroy(&E.iprate);
    free(E.drain_ids);
    admin_http_stop(&E.admin);
    metrics_shutdown();
    config_free(EDGE_CONFIG, EDGE_CONFIG_COUNT, &E.cfg);
    return 0;
}
