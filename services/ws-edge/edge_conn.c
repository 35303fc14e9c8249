/* edge_conn: the engine of ws-edge's connections. See edge_conn.h for the inputs, the effects and
 * the states; a message from a charge point reads top to bottom from edge_conn_receive(), one
 * from core from edge_conns_from_core(). */
#include "edge_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_limits.h"
#include "edge_metrics.h"
#include "edge_utf8.h"
#include "edge_wheel.h"
#include "hash.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "u64map.h"

/* WebSocket close codes the edge sends (RFC 6455 §7.4.1) */
enum {
    CLOSE_GOING_AWAY = 1001,
    CLOSE_UNACCEPTABLE_OPCODE = 1003,
    CLOSE_INVALID_PAYLOAD = 1007,
    CLOSE_POLICY_VIOLATION = 1008,
    CLOSE_MESSAGE_TOO_LARGE = 1009,
    CLOSE_UNEXPECTED_CONDITION = 1011,
};

/* A message waiting to be written to the charge point. */
typedef struct out_msg {
    struct out_msg *next;
    size_t len;
    unsigned char buf[]; /* write_headroom + payload */
} out_msg_t;

typedef enum {
    CONN_IDLE = 0, /* zeroed storage: not established, or closed */
    CONN_OPEN,
    CONN_CLOSING /* a close was decided: the queue drains, then the close frame */
} conn_state_t;

/* Per-connection state, in storage the shell provides (lws' per-session user data). */
struct edge_conn {
    edge_wheel_node_t live; /* liveness deadline in the engine's timing wheel */
    uint64_t conn_id;       /* 0 until established */
    void *io;               /* the shell's handle */
    uint32_t core;
    uint8_t state;       /* conn_state_t */
    bool ping_due;       /* a ping waits for the writable callback */
    bool token_held;     /* the held envelope already took its rate token */
    uint16_t close_code; /* set when the edge or core decided to close */
    uint16_t peer_close_code;
    const char *subprotocol;
    const char *auth;         /* how the upgrade authenticated (static) */
    uint8_t security_profile; /* the profile it satisfied */
    char identity[IDENTITY_MAX + 1];
    out_msg_t *out_head, *out_tail;
    size_t out_bytes;
    unsigned char *rx; /* reassembly of a fragmented message */
    size_t rx_len;
    void *held; /* an encoded CONNECT or FRAME that core could not take yet */
    size_t held_len;
    edge_bucket_t rate; /* message rate of this connection */
    uint32_t last_rx;   /* wheel tick of the last frame or pong received */
    uint32_t last_ping; /* wheel tick of the last ping sent (0: none) */
    char close_reason[64];
};

#define CONN_OF(node) ((edge_conn_t *)((char *)(node)-offsetof(edge_conn_t, live)))

struct edge_conns {
    const edge_config_t *cfg;
    edge_conns_ops_t ops;
    void *arg;
    size_t headroom;
    u64map_t *conns;     /* conn_id -> established connection */
    u64map_t *held;      /* conn_id -> connection that held an envelope (may have resumed) */
    edge_wheel_t *wheel; /* liveness deadlines, one tick per edge_conns_tick() */
    uint64_t tick;
    uint32_t ping_ticks, idle_ticks;
    uint64_t next_conn_id;
    msgpack_sbuffer scratch; /* the envelope being handed to core */
    uint64_t *drain_ids;     /* connections open when the drain began */
    size_t drain_total, drain_done;
    metrics_gauge_t *m_conns;
    metrics_counter_t *m_accepted, *m_frames_in, *m_frames_out, *m_bytes_in, *m_bytes_out, *m_stale,
        *m_paused, *m_rate_limited, *m_pings, *m_ping_timeouts;
};

static uint32_t ms_of(uint64_t now_us)
{
    return (uint32_t)(now_us / 1000); /* wraps; the buckets compare differences */
}

edge_conns_t *edge_conns_new(const edge_config_t *cfg, size_t write_headroom, uint64_t now_us,
                             const edge_conns_ops_t *ops, void *ops_arg)
{
    edge_conns_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->ops = *ops;
    self->arg = ops_arg;
    self->headroom = write_headroom;
    self->ping_ticks = (uint32_t)((cfg->ping_interval_ms + 999) / 1000);
    self->idle_ticks = (uint32_t)((cfg->idle_timeout_ms + 999) / 1000);
    self->tick = 1; /* last_ping 0 means "never pinged" */
    self->next_conn_id = now_us;
    self->conns = u64map_new(1024);
    self->held = u64map_new(64);
    uint32_t horizon = self->ping_ticks > self->idle_ticks ? self->ping_ticks : self->idle_ticks;
    self->wheel = edge_wheel_new(horizon + 2, self->tick);
    msgpack_sbuffer_init(&self->scratch);
    if (!self->conns || !self->held || !self->wheel) {
        edge_conns_destroy(&self);
        return NULL;
    }
    const metrics_def_t *m = EDGE_METRICS;
    self->m_conns = metrics_def_gauge(&m[EDGE_M_CONNECTIONS], NULL);
    self->m_accepted = metrics_def_counter(&m[EDGE_M_ACCEPTED], NULL);
    self->m_frames_in = metrics_def_counter(&m[EDGE_M_FRAMES_IN], NULL);
    self->m_frames_out = metrics_def_counter(&m[EDGE_M_FRAMES_OUT], NULL);
    self->m_bytes_in = metrics_def_counter(&m[EDGE_M_BYTES_IN], NULL);
    self->m_bytes_out = metrics_def_counter(&m[EDGE_M_BYTES_OUT], NULL);
    self->m_stale = metrics_def_counter(&m[EDGE_M_STALE], NULL);
    self->m_paused = metrics_def_counter(&m[EDGE_M_FLOW_PAUSES], NULL);
    self->m_rate_limited = metrics_def_counter(&m[EDGE_M_RATE_LIMITED], NULL);
    self->m_pings = metrics_def_counter(&m[EDGE_M_PINGS], NULL);
    self->m_ping_timeouts = metrics_def_counter(&m[EDGE_M_PING_TIMEOUTS], NULL);
    return self;
}

void edge_conns_destroy(edge_conns_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    edge_conns_t *self = *self_p;
    u64map_destroy(&self->conns);
    u64map_destroy(&self->held);
    edge_wheel_destroy(&self->wheel);
    msgpack_sbuffer_destroy(&self->scratch);
    free(self->drain_ids);
    free(self);
    *self_p = NULL;
}

size_t edge_conn_size(void)
{
    return sizeof(edge_conn_t);
}

/* ---- closing ------------------------------------------------------------------------- */

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

static void free_rx(edge_conn_t *c)
{
    free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
}

static void set_closing(edge_conn_t *c, uint16_t code, const char *reason)
{
    c->state = CONN_CLOSING;
    c->close_code = code;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
}

/* Close with a code: the close frame leaves after what is queued (a reply before a CLOSE), but
 * not after EDGE_CLOSE_FLUSH_S. The first decision wins. */
static void conn_close(edge_conns_t *self, edge_conn_t *c, uint16_t code, const char *reason)
{
    if (c->state != CONN_OPEN)
        return;
    set_closing(c, code, reason);
    if (c->out_head) {
        self->ops.close_deadline(self->arg, c->io, EDGE_CLOSE_FLUSH_S);
        self->ops.want_write(self->arg, c->io);
        return;
    }
    self->ops.close_now(self->arg, c->io);
}

/* No traffic or pong for the idle timeout: drop the socket without a close frame (the peer is
 * not listening), whatever is queued. */
static void hang_up(edge_conns_t *self, edge_conn_t *c)
{
    metrics_counter_add(self->m_ping_timeouts, 1);
    log_write(LOG_INFO, c->identity, NULL,
              "no traffic or pong for %u s, hanging up conn_id=%" PRIu64, self->idle_ticks,
              c->conn_id);
    set_closing(c, EDGE_CLOSE_HANGUP, "ping timeout");
    self->ops.close_now(self->arg, c->io);
}

uint16_t edge_conn_close_code(const edge_conn_t *c)
{
    return c->close_code;
}

const char *edge_conn_close_reason(const edge_conn_t *c)
{
    return c->close_reason;
}

/* ---- hand-off to core and flow control ------------------------------------------------ */

/* The envelope in self->scratch could not go to core yet (core full, or the connection over its
 * message rate): keep it and stop reading this connection until it leaves, so nothing is
 * dropped and nothing read later overtakes it. */
static void conn_hold(edge_conns_t *self, edge_conn_t *c)
{
    c->held = malloc(self->scratch.size);
    if (!c->held) {
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    memcpy(c->held, self->scratch.data, self->scratch.size);
    c->held_len = self->scratch.size;
    if (u64map_put(self->held, c->conn_id, c) < 0) {
        free(c->held);
        c->held = NULL;
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    self->ops.read_enable(self->arg, c->io, false);
    if (c->token_held)
        metrics_counter_add(self->m_paused, 1);
    self->ops.want_retry(self->arg);
}

/* Encodes env into scratch and hands it to the connection's core: 0, -EAGAIN (core full: the
 * caller holds scratch), another negative errno. */
static int hand_to_core(edge_conns_t *self, edge_conn_t *c, const envelope_t *env, bool take)
{
    msgpack_sbuffer_clear(&self->scratch);
    int rc = envelope_encode(env, &self->scratch);
    if (rc < 0)
        return rc;
    if (!take)
        return -EAGAIN;
    return self->ops.to_core(self->arg, c->core, self->scratch.data, self->scratch.size);
}

/* A complete, valid message: hand it to core, or hold it and pause reading (core full, or the
 * connection over its message rate). */
static void conn_message(edge_conns_t *self, edge_conn_t *c, const unsigned char *data, size_t len,
                         uint64_t now_us)
{
    envelope_t env = {.type = ENV_FRAME};
    env.u.frame.edge_id = env_str(self->cfg->edge_id);
    env.u.frame.conn_id = c->conn_id;
    env.u.frame.data = (env_bin_t){data, len};
    env.u.frame.at_us = now_us;
    metrics_counter_add(self->m_frames_in, 1);
    metrics_counter_add(self->m_bytes_in, len);
    c->token_held = edge_bucket_take(&c->rate, (double)self->cfg->message_rate,
                                     (double)self->cfg->message_burst, ms_of(now_us));
    if (!c->token_held)
        metrics_counter_add(self->m_rate_limited, 1);
    int rc = hand_to_core(self, c, &env, c->token_held);
    if (rc == 0)
        return;
    if (rc != -EAGAIN) {
        log_write(LOG_ERROR, c->identity, NULL, "FRAME not handed to core: %s", strerror(-rc));
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "internal error");
        return;
    }
    conn_hold(self, c);
}

/* One held envelope: true once core took it (reading resumes). */
static bool conn_retry(edge_conns_t *self, edge_conn_t *c, uint64_t now_us)
{
    if (!c->token_held)
        c->token_held = edge_bucket_take(&c->rate, (double)self->cfg->message_rate,
                                         (double)self->cfg->message_burst, ms_of(now_us));
    if (!c->token_held || self->ops.to_core(self->arg, c->core, c->held, c->held_len) != 0)
        return false;
    free(c->held);
    c->held = NULL;
    c->held_len = 0;
    self->ops.read_enable(self->arg, c->io, true);
    return true;
}

typedef struct {
    edge_conns_t *self;
    uint64_t now_us;
    size_t still_held;
} retry_pass_t;

static void retry_one(uint64_t key, void *value, void *arg)
{
    (void)key;
    edge_conn_t *c = value;
    retry_pass_t *pass = arg;
    if (c->held && !conn_retry(pass->self, c, pass->now_us))
        pass->still_held++;
}

size_t edge_conns_retry(edge_conns_t *self, uint64_t now_us)
{
    retry_pass_t pass = {self, now_us, 0};
    u64map_foreach(self->held, retry_one, &pass);
    /* resumed entries stay until none is held (the map cannot change during foreach) */
    if (pass.still_held == 0 && u64map_size(self->held) > 0) {
        u64map_t *fresh = u64map_new(64);
        if (fresh) {
            u64map_destroy(&self->held);
            self->held = fresh;
        }
    }
    return pass.still_held;
}

/* ---- connection life ----------------------------------------------------------------- */

void edge_conn_established(edge_conns_t *self, edge_conn_t *c, void *io, const char *identity,
                           const char *subprotocol, const char *peer, uint32_t security_profile,
                           const char *auth, uint64_t now_us)
{
    memset(c, 0, sizeof(*c));
    c->io = io;
    size_t idlen = identity ? strlen(identity) : 0;
    if (!identity_valid(identity, idlen)) {
        /* cannot happen after edge_admission_decide(); close rather than trust it */
        set_closing(c, CLOSE_POLICY_VIOLATION, "bad identity");
        self->ops.close_now(self->arg, io);
        return;
    }
    memcpy(c->identity, identity, idlen + 1);
    c->subprotocol = subprotocol;
    c->auth = auth ? auth : "none";
    c->security_profile = (uint8_t)security_profile;
    c->conn_id = ++self->next_conn_id;
    c->core = hash_core_index(c->identity, idlen, (uint32_t)self->cfg->core_count);
    c->state = CONN_OPEN;
    if (u64map_put(self->conns, c->conn_id, c) < 0) {
        c->conn_id = 0; /* core never hears of it */
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    metrics_gauge_set(self->m_conns, (int64_t)u64map_size(self->conns));
    metrics_counter_add(self->m_accepted, 1);

    envelope_t env = {.type = ENV_CONNECT};
    env.u.connect.edge_id = env_str(self->cfg->edge_id);
    env.u.connect.conn_id = c->conn_id;
    env.u.connect.identity = env_str(c->identity);
    env.u.connect.subprotocol = env_str(subprotocol);
    env.u.connect.peer = env_str(peer ? peer : "");
    env.u.connect.security_profile = c->security_profile;
    env.u.connect.auth = env_str(c->auth);
    env.u.connect.at_us = now_us;
    c->last_rx = (uint32_t)self->tick;
    edge_bucket_init(&c->rate, (double)self->cfg->message_burst, ms_of(now_us));
    edge_wheel_schedule(self->wheel, &c->live, self->tick + self->ping_ticks);
    int rc = hand_to_core(self, c, &env, true);
    if (rc == -EAGAIN) {
        /* core is full: the CONNECT waits, and so does everything read after it */
        c->token_held = true;
        conn_hold(self, c);
    } else if (rc < 0) {
        log_write(LOG_ERROR, c->identity, NULL, "CONNECT not handed to core: %s", strerror(-rc));
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "internal error");
        return;
    }
    log_write(LOG_INFO, c->identity, NULL,
              "connected conn_id=%" PRIu64 " subprotocol=%s peer=%s auth=%s profile=%u", c->conn_id,
              subprotocol, peer ? peer : "", c->auth, c->security_profile);
}

void edge_conn_closed(edge_conns_t *self, edge_conn_t *c)
{
    if (c->state == CONN_IDLE)
        return;
    if (!c->conn_id) { /* refused at establishment: core never heard of it */
        memset(c, 0, sizeof(*c));
        return;
    }
    uint16_t code = c->close_code        ? c->close_code
                    : c->peer_close_code ? c->peer_close_code
                                         : EDGE_CLOSE_HANGUP;
    envelope_t env = {.type = ENV_DISCONNECT};
    env.u.disconnect.edge_id = env_str(self->cfg->edge_id);
    env.u.disconnect.conn_id = c->conn_id;
    env.u.disconnect.code = code;
    env.u.disconnect.reason = env_str(c->close_reason);
    if (self->ops.to_core_counted(self->arg, c->core, &env, EDGE_DISCONNECT_WAIT_MS) < 0)
        log_write(LOG_ERROR, c->identity, NULL,
                  "DISCONNECT for conn_id=%" PRIu64 " lost: core did not take it within %d ms",
                  c->conn_id, EDGE_DISCONNECT_WAIT_MS);
    char label[8];
    snprintf(label, sizeof(label), "%u", code);
    metrics_def_count(&EDGE_METRICS[EDGE_M_CLOSED], label);
    edge_wheel_cancel(self->wheel, &c->live);
    u64map_remove(self->conns, c->conn_id);
    u64map_remove(self->held, c->conn_id);
    free(c->held);
    metrics_gauge_set(self->m_conns, (int64_t)u64map_size(self->conns));
    free_out_queue(c);
    free_rx(c);
    log_write(LOG_INFO, c->identity, NULL, "disconnected conn_id=%" PRIu64 " code=%u", c->conn_id,
              code);
    memset(c, 0, sizeof(*c));
}

/* ---- from the charge point ----------------------------------------------------------- */

/* A whole message in one piece (the usual case): checked and handed on without a copy. */
static void receive_whole(edge_conns_t *self, edge_conn_t *c, const unsigned char *data, size_t len,
                          uint64_t now_us)
{
    if (len > (size_t)self->cfg->max_message_bytes) {
        conn_close(self, c, CLOSE_MESSAGE_TOO_LARGE, "message too large");
        return;
    }
    if (!edge_utf8_valid(data, len)) {
        conn_close(self, c, CLOSE_INVALID_PAYLOAD, "invalid UTF-8");
        return;
    }
    conn_message(self, c, data, len, now_us);
}

/* A piece of a longer message: appended up to max_message_bytes, checked when complete. */
static void receive_piece(edge_conns_t *self, edge_conn_t *c, const unsigned char *data, size_t len,
                          bool final, uint64_t now_us)
{
    if (c->rx_len + len > (size_t)self->cfg->max_message_bytes) {
        free_rx(c);
        conn_close(self, c, CLOSE_MESSAGE_TOO_LARGE, "message too large");
        return;
    }
    unsigned char *grown = realloc(c->rx, c->rx_len + len + 1);
    if (!grown) {
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    c->rx = grown;
    if (len)
        memcpy(c->rx + c->rx_len, data, len);
    c->rx_len += len;
    if (!final)
        return;
    if (edge_utf8_valid(c->rx, c->rx_len))
        conn_message(self, c, c->rx, c->rx_len, now_us);
    else
        conn_close(self, c, CLOSE_INVALID_PAYLOAD, "invalid UTF-8");
    free_rx(c);
}

void edge_conn_receive(edge_conns_t *self, edge_conn_t *c, const void *data, size_t len,
                       unsigned int flags, uint64_t now_us)
{
    if (c->state == CONN_IDLE)
        return;
    c->last_rx = (uint32_t)self->tick;
    /* closing: nothing more is read; held: reading is paused, lws delivers nothing more */
    if (c->state != CONN_OPEN || c->held)
        return;
    if (flags & EDGE_RX_BINARY) {
        conn_close(self, c, CLOSE_UNACCEPTABLE_OPCODE, "OCPP-J uses text frames");
        return;
    }
    bool first = flags & EDGE_RX_FIRST, final = flags & EDGE_RX_FINAL;
    if (first && final && !c->rx)
        receive_whole(self, c, data, len, now_us);
    else
        receive_piece(self, c, data, len, final, now_us);
}

void edge_conn_pong(edge_conns_t *self, edge_conn_t *c)
{
    c->last_rx = (uint32_t)self->tick;
}

void edge_conn_peer_close(edge_conns_t *self, edge_conn_t *c, uint16_t code)
{
    (void)self;
    if (code)
        c->peer_close_code = code;
}

/* ---- to the charge point ------------------------------------------------------------- */

int edge_conn_writable(edge_conns_t *self, edge_conn_t *c)
{
    if (c->state == CONN_IDLE)
        return 0;
    if (c->close_code == EDGE_CLOSE_HANGUP) /* no close frame to a silent peer */
        return -1;
    if (c->ping_due && c->state == CONN_OPEN) {
        c->ping_due = false;
        if (self->ops.write_ping(self->arg, c->io) < 0)
            return -1;
        metrics_counter_add(self->m_pings, 1);
        if (c->out_head)
            self->ops.want_write(self->arg, c->io);
        return 0;
    }
    out_msg_t *m = c->out_head;
    if (!m) {
        if (c->state == CONN_CLOSING) /* the queue drained: now the close frame */
            self->ops.close_now(self->arg, c->io);
        return 0;
    }
    if (self->ops.write_text(self->arg, c->io, m->buf + self->headroom, m->len) < 0)
        return -1;
    metrics_counter_add(self->m_frames_out, 1);
    metrics_counter_add(self->m_bytes_out, m->len);
    c->out_head = m->next;
    if (!c->out_head)
        c->out_tail = NULL;
    c->out_bytes -= m->len;
    free(m);
    if (c->out_head || c->state == CONN_CLOSING)
        self->ops.want_write(self->arg, c->io);
    return 0;
}

/* SEND: queue for the charge point, up to send_queue_bytes; beyond, the connection is a slow
 * reader: its queue is dropped and it is closed with 1008. */
static void core_send(edge_conns_t *self, const env_send_t *s)
{
    edge_conn_t *c = u64map_get(self->conns, s->conn_id);
    if (!c || c->state != CONN_OPEN) {
        metrics_counter_add(self->m_stale, 1);
        return;
    }
    if (c->out_bytes + s->data.len > (size_t)self->cfg->send_queue_bytes) {
        metrics_def_count(&EDGE_METRICS[EDGE_M_SEND_QUEUE_DROPS], "send_queue_full");
        log_write(LOG_WARN, c->identity, NULL, "slow reader: %zu bytes queued, closing",
                  c->out_bytes);
        free_out_queue(c);
        conn_close(self, c, CLOSE_POLICY_VIOLATION, "slow reader");
        return;
    }
    out_msg_t *m = malloc(sizeof(*m) + self->headroom + s->data.len);
    if (!m) {
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    m->next = NULL;
    m->len = s->data.len;
    if (s->data.len)
        memcpy(m->buf + self->headroom, s->data.ptr, s->data.len);
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    c->out_bytes += m->len;
    self->ops.want_write(self->arg, c->io);
}

/* CLOSE: with core's code (1000 when it is not a valid one), after what is queued. */
static void core_close(edge_conns_t *self, const env_close_t *cl)
{
    edge_conn_t *c = u64map_get(self->conns, cl->conn_id);
    if (!c) {
        metrics_counter_add(self->m_stale, 1);
        return;
    }
    char reason[sizeof(c->close_reason)];
    env_str_copy(cl->reason, reason, sizeof(reason));
    uint16_t code = cl->code >= 1000 && cl->code < 5000 ? (uint16_t)cl->code : 1000;
    conn_close(self, c, code, reason);
}

int edge_conns_from_core(edge_conns_t *self, const envelope_t *env)
{
    switch (env->type) {
    case ENV_SEND:
        core_send(self, &env->u.send);
        return 0;
    case ENV_CLOSE:
        core_close(self, &env->u.close);
        return 0;
    default:
        return -EINVAL;
    }
}

/* ---- time ------------------------------------------------------------------------------ */

static void on_live_due(edge_wheel_node_t *node, void *arg)
{
    edge_conns_t *self = arg;
    edge_conn_t *c = CONN_OF(node);
    if (c->state != CONN_OPEN)
        return;
    if (c->held) { /* the edge is not reading it (flow control): not its silence */
        edge_wheel_schedule(self->wheel, node, self->tick + self->ping_ticks);
        return;
    }
    uint64_t next;
    switch (edge_liveness_check(self->tick, c->last_rx, c->last_ping, self->ping_ticks,
                                self->idle_ticks, &next)) {
    case EDGE_LIVE_HANGUP:
        hang_up(self, c);
        return;
    case EDGE_LIVE_PING:
        c->ping_due = true;
        c->last_ping = (uint32_t)self->tick;
        self->ops.want_write(self->arg, c->io);
        break;
    case EDGE_LIVE_WAIT:
        break;
    }
    edge_wheel_schedule(self->wheel, node, next);
}

void edge_conns_tick(edge_conns_t *self)
{
    self->tick++;
    edge_wheel_advance(self->wheel, self->tick, on_live_due, self);
}

static void collect_id(uint64_t key, void *value, void *arg)
{
    (void)value;
    edge_conns_t *self = arg;
    self->drain_ids[self->drain_total++] = key;
}

int edge_conns_drain_begin(edge_conns_t *self)
{
    free(self->drain_ids);
    self->drain_total = self->drain_done = 0;
    self->drain_ids = malloc((u64map_size(self->conns) + 1) * sizeof(*self->drain_ids));
    if (!self->drain_ids)
        return -ENOMEM;
    u64map_foreach(self->conns, collect_id, self);
    return 0;
}

bool edge_conns_drain_step(edge_conns_t *self, uint64_t window_ms, uint64_t elapsed_ms)
{
    size_t quota = edge_drain_quota(self->drain_total, window_ms, elapsed_ms);
    for (; self->drain_done < quota; self->drain_done++) {
        edge_conn_t *c = u64map_get(self->conns, self->drain_ids[self->drain_done]);
        if (c)
            conn_close(self, c, CLOSE_GOING_AWAY, "gateway shutting down");
    }
    return self->drain_done == self->drain_total && u64map_size(self->conns) == 0;
}

/* ---- accessors ------------------------------------------------------------------------- */

size_t edge_conns_count(const edge_conns_t *self)
{
    return u64map_size(self->conns);
}

uint64_t edge_conn_id(const edge_conn_t *c)
{
    return c->conn_id;
}

bool edge_conn_is_open(const edge_conn_t *c)
{
    return c->state == CONN_OPEN;
}

bool edge_conn_is_held(const edge_conn_t *c)
{
    return c->held != NULL;
}

size_t edge_conn_queued_bytes(const edge_conn_t *c)
{
    return c->out_bytes;
}

size_t edge_conn_rx_bytes(const edge_conn_t *c)
{
    return c->rx_len;
}
