/* edge_conn: the engine of ws-edge's connections. See edge_conn.h for the inputs, the effects and
 * the states; a message from a charge point reads top to bottom from edge_conn_receive(), one
 * from core from edge_conns_from_core(), a core's restart from core_announce(). */
#include "edge_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_auth.h"
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
    CLOSE_SERVICE_RESTART = 1012,
};

/* A CALL of a connection whose core restarted must be answered within this many ticks (s):
 * otherwise the old core took it and died with it, and the connection is closed so that the
 * station sends it again after reconnecting (it would wait for its own call timeout). */
#define LOST_CALL_TICKS 5

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

/* The boot state core reports (CONN_STATE), kept in one byte; index 0: none reported yet. */
static const char *const BOOT_STATES[] = {"", "none", "pending", "accepted"};
#define BOOT_STATE_COUNT (sizeof(BOOT_STATES) / sizeof(BOOT_STATES[0]))

/* Per-connection state, in storage the shell provides (lws' per-session user data). Kept small:
 * bench/bench_edge_idle.sh measures what an idle connection costs. */
struct edge_conn {
    edge_wheel_node_t live; /* liveness (and partial-message) deadline in the timing wheel */
    uint64_t conn_id;       /* 0 until established */
    uint64_t at_us;         /* when it was established: CONNECT.at_us, also when re-announced */
    void *io;               /* the shell's handle */
    const char *subprotocol;
    out_msg_t *out_head, *out_tail;
    size_t out_bytes;
    unsigned char *rx; /* reassembly of a fragmented message (NULL: none in progress) */
    void *held;        /* an encoded CONNECT or FRAME that core could not take yet */
    uint32_t held_len;
    uint32_t rx_len, rx_cap; /* bytes in rx, bytes allocated (counted in the budget) */
    uint32_t rx_since;       /* wheel tick the partial message began */
    uint32_t core;
    edge_bucket_t rate;     /* message rate of this connection */
    uint32_t last_rx;       /* wheel tick of the last frame or pong received */
    uint32_t last_ping;     /* wheel tick of the last ping sent (0: none) */
    uint32_t lost_call_due; /* wheel tick: close if its CALL is still unanswered (0: none) */
    uint16_t close_code;    /* set when the edge or core decided to close */
    uint16_t peer_close_code;
    uint8_t state;            /* conn_state_t */
    uint8_t boot;             /* index into BOOT_STATES */
    uint8_t auth;             /* how the upgrade authenticated: index into EDGE_AUTH_METHODS */
    uint8_t security_profile; /* the OCPP security profile it satisfied (0: none) */
    bool ping_due : 1;        /* a ping waits for the writable callback */
    bool token_held : 1;      /* the held envelope already took its rate token */
    bool announced : 1;       /* core took its CONNECT: it gets a DISCONNECT, and a re-announce */
    bool reannounce : 1;      /* its core restarted: CONNECT resumed=true before anything else */
    bool call_open : 1;       /* a CALL of the station handed on, no CALLRESULT/ERROR sent yet */
    bool close_answered : 1;  /* draining: close (1001) once its open CALL is answered */
    edge_addr_t peer;
    char identity[IDENTITY_MAX + 1];
    char close_reason[40]; /* what the edge or core gave (core's are under 40 characters) */
};

#define CONN_OF(node) ((edge_conn_t *)((char *)(node)-offsetof(edge_conn_t, live)))

/* A partial message, in the order they began (the oldest is dropped first when the budget is
 * exhausted); stale entries (completed, closed) are skipped and pruned. */
typedef struct {
    uint64_t conn_id;
    uint32_t since;
} partial_t;

/* A partial message at least this many ticks old may be dropped to make room for another; a
 * younger one never is (the newcomer is closed instead): a stalled message is old, a station's
 * message arriving at line speed is not. */
#define PARTIAL_EVICT_TICKS 2

/* What the edge knows of one core: its instance and the re-announce in progress. */
typedef struct {
    uint64_t instance; /* last ANNOUNCEd (0: none seen yet) */
    uint64_t *ids;     /* connections to re-announce, in connection order (NULL: none) */
    size_t n, next;
    bool blocked; /* during a retry pass: this core refused, later envelopes wait too */
} core_peer_t;

struct edge_conns {
    const edge_config_t *cfg;
    edge_conns_ops_t ops;
    void *arg;
    size_t headroom;
    uint64_t instance;
    u64map_t *conns;     /* conn_id -> established connection */
    edge_wheel_t *wheel; /* liveness deadlines, one tick per edge_conns_tick() */
    uint64_t tick;
    uint32_t ping_ticks, idle_ticks, message_ticks;
    uint64_t next_conn_id;
    core_peer_t *cores; /* cfg->core_count */
    /* connections that held an envelope, in the order they held it; entries of connections
     * that resumed or closed are pruned by every retry pass */
    uint64_t *held_ids;
    size_t held_n, held_cap;
    edge_ipcount_t *peers; /* established connections per address */
    size_t rx_total;       /* capacity of every reassembly buffer */
    size_t rx_active;      /* connections with a partial message */
    partial_t *partials;   /* partials[partials_head .. partials_n): oldest first */
    size_t partials_head, partials_n, partials_cap;
    msgpack_sbuffer scratch; /* a held envelope being encoded */
    uint64_t *drain_ids;     /* connections open when the drain began */
    size_t drain_total, drain_done;
    metrics_gauge_t *m_conns, *m_partial;
    metrics_counter_t *m_accepted, *m_frames_in, *m_frames_out, *m_bytes_in, *m_bytes_out, *m_stale,
        *m_paused, *m_rate_limited, *m_pings, *m_ping_timeouts, *m_core_instances, *m_reannounced;
};

static uint32_t ms_of(uint64_t now_us)
{
    return (uint32_t)(now_us / 1000); /* wraps; the buckets compare differences */
}

static uint32_t ticks_of(int64_t ms)
{
    return (uint32_t)((ms + 999) / 1000);
}

edge_conns_t *edge_conns_new(const edge_config_t *cfg, size_t write_headroom, uint64_t instance,
                             const edge_conns_ops_t *ops, void *ops_arg)
{
    if (cfg->core_count < 1)
        return NULL;
    edge_conns_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->ops = *ops;
    self->arg = ops_arg;
    self->headroom = write_headroom;
    self->instance = instance;
    self->ping_ticks = ticks_of(cfg->ping_interval_ms);
    self->idle_ticks = ticks_of(cfg->idle_timeout_ms);
    self->message_ticks = ticks_of(cfg->message_timeout_ms);
    self->tick = 1; /* last_ping 0 means "never pinged" */
    self->next_conn_id = instance;
    self->conns = u64map_new(1024);
    self->cores = calloc((size_t)cfg->core_count, sizeof(*self->cores));
    self->peers = edge_ipcount_new();
    uint32_t horizon = self->ping_ticks > self->idle_ticks ? self->ping_ticks : self->idle_ticks;
    self->wheel = edge_wheel_new(horizon + 2, self->tick);
    msgpack_sbuffer_init(&self->scratch);
    if (!self->conns || !self->cores || !self->peers || !self->wheel) {
        edge_conns_destroy(&self);
        return NULL;
    }
    const metrics_def_t *m = EDGE_METRICS;
    self->m_conns = metrics_def_gauge(&m[EDGE_M_CONNECTIONS], NULL);
    self->m_partial = metrics_def_gauge(&m[EDGE_M_PARTIAL_BYTES], NULL);
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
    self->m_core_instances = metrics_def_counter(&m[EDGE_M_CORE_INSTANCES], NULL);
    self->m_reannounced = metrics_def_counter(&m[EDGE_M_REANNOUNCED], NULL);
    return self;
}

void edge_conns_destroy(edge_conns_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    edge_conns_t *self = *self_p;
    u64map_destroy(&self->conns);
    if (self->cores)
        for (int64_t i = 0; i < self->cfg->core_count; i++)
            free(self->cores[i].ids);
    free(self->cores);
    free(self->held_ids);
    free(self->partials);
    edge_ipcount_destroy(&self->peers);
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

static void free_rx(edge_conns_t *self, edge_conn_t *c)
{
    if (c->rx)
        self->rx_active--;
    free(c->rx);
    self->rx_total -= c->rx_cap;
    metrics_gauge_set(self->m_partial, (int64_t)self->rx_total);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
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
    free_rx(self, c); /* nothing more is read: a partial message is of no use */
    if (c->out_head) {
        self->ops.close_deadline(self->arg, c->io, EDGE_CLOSE_FLUSH_S);
        self->ops.want_write(self->arg, c->io);
        return;
    }
    self->ops.close_now(self->arg, c->io);
}

/* A limit on partial messages was reached: the partial message is freed at once (nothing more
 * is read), the connection closed and counted by the limit's name. */
static void limit_close(edge_conns_t *self, edge_conn_t *c, uint16_t code, const char *limit,
                        const char *reason)
{
    log_write(LOG_WARN, c->identity, NULL, "%s: %" PRIu32 " bytes of a partial message, closing %u",
              reason, c->rx_len, code);
    free_rx(self, c);
    metrics_def_count(&EDGE_METRICS[EDGE_M_LIMIT_CLOSES], limit);
    conn_close(self, c, code, reason);
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
    free_rx(self, c);
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

/* What every envelope of c to its core says about the connection, taken in this one place for
 * CONNECT (fresh or re-announced) and FRAME alike, ws or wss: a core that lost the connection
 * (restarted) recovers it from either as it was, authenticated as its upgrade was. */
typedef struct {
    env_str_t identity, subprotocol, boot_state, auth;
} conn_facts_t;

static conn_facts_t conn_facts(const edge_conn_t *c)
{
    return (conn_facts_t){
        .identity = env_str(c->identity),
        .subprotocol = env_str(c->subprotocol),
        .boot_state = env_str(BOOT_STATES[c->boot < BOOT_STATE_COUNT ? c->boot : 0]),
        .auth = env_str(EDGE_AUTH_METHODS[c->auth < EDGE_AUTH_METHOD_COUNT ? c->auth : 0]),
    };
}

/* CONNECT of c, fresh or re-announced to a core that restarted (resumed: same at_us, the boot
 * state core last reported, the authentication of its upgrade). peer is the caller's buffer for
 * the address text. */
static void connect_envelope(const edge_conns_t *self, const edge_conn_t *c, bool resumed,
                             char peer[EDGE_ADDR_TEXT_MAX], envelope_t *env)
{
    edge_addr_format(&c->peer, peer, EDGE_ADDR_TEXT_MAX);
    memset(env, 0, sizeof(*env));
    env->type = ENV_CONNECT;
    env_connect_t *cn = &env->u.connect;
    conn_facts_t facts = conn_facts(c);
    cn->edge_id = env_str(self->cfg->edge_id);
    cn->conn_id = c->conn_id;
    cn->identity = facts.identity;
    cn->subprotocol = facts.subprotocol;
    cn->peer = env_str(peer);
    cn->security_profile = c->security_profile;
    cn->auth = facts.auth;
    cn->at_us = c->at_us;
    cn->resumed = resumed;
    cn->boot_state = facts.boot_state;
}

/* Whether c's next envelope must wait although core may have room: c waits for its own
 * re-announce, or (a CONNECT) its core is being re-announced to (connection order), or its core
 * refused an earlier envelope in this retry pass (nothing overtakes it). */
static bool core_waits(const edge_conns_t *self, const edge_conn_t *c)
{
    const core_peer_t *p = &self->cores[c->core];
    return c->reannounce || (!c->announced && p->ids) || p->blocked;
}

/* Remembers c as holding, in the order of holding (retry passes go oldest first). */
static int held_push(edge_conns_t *self, uint64_t conn_id)
{
    if (self->held_n == self->held_cap) {
        size_t cap = self->held_cap ? self->held_cap * 2 : 64;
        uint64_t *grown = realloc(self->held_ids, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        self->held_ids = grown;
        self->held_cap = cap;
    }
    self->held_ids[self->held_n++] = conn_id;
    return 0;
}

/* env could not go to core yet (core full or being re-announced to, or the connection over its
 * message rate): keep its encoding and stop reading this connection until it leaves, so nothing
 * is dropped and nothing read later overtakes it. */
static void conn_hold(edge_conns_t *self, edge_conn_t *c, const envelope_t *env)
{
    msgpack_sbuffer_clear(&self->scratch);
    int rc = envelope_encode(env, &self->scratch);
    c->held = rc == 0 ? malloc(self->scratch.size) : NULL;
    if (!c->held || held_push(self, c->conn_id) < 0) {
        free(c->held);
        c->held = NULL;
        log_write(LOG_ERROR, c->identity, NULL, "cannot hold an envelope for core: %s",
                  rc < 0 ? strerror(-rc) : "out of memory");
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "internal error");
        return;
    }
    memcpy(c->held, self->scratch.data, self->scratch.size);
    c->held_len = (uint32_t)self->scratch.size;
    self->ops.read_enable(self->arg, c->io, false);
    if (c->token_held)
        metrics_counter_add(self->m_paused, 1);
    self->ops.want_retry(self->arg);
}

/* Hands env (CONNECT or FRAME of c) to c's core: 0 (taken), -ENOBUFS (must wait: the caller
 * holds it), another negative errno (the caller closes the connection). take: the connection
 * has a rate token. */
static int hand_to_core(edge_conns_t *self, edge_conn_t *c, const envelope_t *env, bool take)
{
    if (!take || core_waits(self, c))
        return -ENOBUFS;
    int rc = self->ops.send(self->arg, EDGE_TO_CORE, c->core, env, OUTBOX_TRY);
    if (rc == 0 && env->type == ENV_CONNECT)
        c->announced = true;
    return rc;
}

/* The OCPP-J message type of a frame, from its first bytes ("[2," ...): 2 CALL, 3 CALLRESULT,
 * 4 CALLERROR, 5 CALLRESULTERROR, 6 SEND; 0 when it does not start like one. The edge reads no
 * more of a message than this: it only needs to know whether a station's CALL is answered. */
static int ocpp_type_of(const unsigned char *data, size_t len)
{
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    if (i >= len || data[i++] != '[')
        return 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    if (i + 1 >= len || data[i] < '2' || data[i] > '6')
        return 0;
    unsigned char after = data[i + 1];
    return after == ',' || after == ' ' || after == '\t' || after == '\r' || after == '\n'
               ? data[i] - '0'
               : 0;
}

/* A complete, valid message: hand it to core, or hold it and pause reading (core full, or the
 * connection over its message rate). The FRAME carries what a restarted core needs to recover
 * the connection from it (identity, subprotocol, boot state, auth). */
static void conn_message(edge_conns_t *self, edge_conn_t *c, const unsigned char *data, size_t len,
                         uint64_t now_us)
{
    envelope_t env = {.type = ENV_FRAME};
    env_frame_t *f = &env.u.frame;
    f->edge_id = env_str(self->cfg->edge_id);
    f->conn_id = c->conn_id;
    f->data = (env_bin_t){data, len};
    f->at_us = now_us;
    conn_facts_t facts = conn_facts(c);
    f->identity = facts.identity;
    f->subprotocol = facts.subprotocol;
    f->boot_state = facts.boot_state;
    f->auth = facts.auth;
    metrics_counter_add(self->m_frames_in, 1);
    metrics_counter_add(self->m_bytes_in, len);
    if (ocpp_type_of(data, len) == 2) {
        c->call_open = true;
        c->lost_call_due = 0; /* a new CALL: the station gave up the one before */
    }
    c->token_held = edge_bucket_take(&c->rate, (double)self->cfg->message_rate,
                                     (double)self->cfg->message_burst, ms_of(now_us));
    if (!c->token_held)
        metrics_counter_add(self->m_rate_limited, 1);
    int rc = hand_to_core(self, c, &env, c->token_held);
    if (rc == 0)
        return;
    if (rc != -ENOBUFS) {
        log_write(LOG_ERROR, c->identity, NULL, "FRAME not handed to core: %s", strerror(-rc));
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "internal error");
        return;
    }
    conn_hold(self, c, &env);
}

/* One held envelope: true once core took it (reading resumes) or the connection closed. */
static bool conn_retry(edge_conns_t *self, edge_conn_t *c, uint64_t now_us)
{
    if (!c->token_held)
        c->token_held = edge_bucket_take(&c->rate, (double)self->cfg->message_rate,
                                         (double)self->cfg->message_burst, ms_of(now_us));
    envelope_t env;
    int rc = envelope_decode(c->held, c->held_len, &env);
    if (rc == 0)
        rc = hand_to_core(self, c, &env, c->token_held);
    if (rc == -ENOBUFS) {
        if (c->token_held && !c->reannounce)
            self->cores[c->core].blocked = true; /* nothing of this core overtakes it */
        return false;
    }
    free(c->held);
    c->held = NULL;
    c->held_len = 0;
    self->ops.read_enable(self->arg, c->io, true); /* (a closing connection reads nothing) */
    if (rc < 0) {
        log_write(LOG_ERROR, c->identity, NULL, "held envelope not handed to core: %s",
                  strerror(-rc));
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "internal error");
    }
    return true;
}

/* Held envelopes, oldest first; keeps (in order) the connections still holding, prunes the
 * others. Returns how many still hold. */
static size_t retry_held(edge_conns_t *self, uint64_t now_us)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->held_n; i++) {
        edge_conn_t *c = u64map_get(self->conns, self->held_ids[i]);
        if (!c || !c->held)
            continue; /* closed, or resumed: pruned */
        /* a closing connection's held message was received before the close: it goes too */
        if (!conn_retry(self, c, now_us))
            self->held_ids[kept++] = self->held_ids[i];
    }
    self->held_n = kept;
    return kept;
}

/* ---- reconciliation with the cores (issue 12) -------------------------------------------- */

/* Re-announces, in connection order, what waits for core `index`, while it takes it. Returns how
 * many still wait. */
static size_t reannounce_pump(edge_conns_t *self, uint32_t index)
{
    core_peer_t *p = &self->cores[index];
    for (; p->next < p->n; p->next++) {
        edge_conn_t *c = u64map_get(self->conns, p->ids[p->next]);
        if (!c || !c->reannounce)
            continue; /* closed since */
        char peer[EDGE_ADDR_TEXT_MAX];
        envelope_t env;
        connect_envelope(self, c, true, peer, &env);
        int rc = self->ops.send(self->arg, EDGE_TO_CORE, index, &env, OUTBOX_TRY);
        if (rc == -ENOBUFS) {
            p->blocked = true;
            return p->n - p->next;
        }
        c->reannounce = false;
        if (rc < 0) {
            log_write(LOG_ERROR, c->identity, NULL, "re-announce not handed to core: %s",
                      strerror(-rc));
            conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "internal error");
        } else {
            metrics_counter_add(self->m_reannounced, 1);
        }
    }
    free(p->ids);
    p->ids = NULL;
    p->n = p->next = 0;
    return 0;
}

typedef struct {
    edge_conns_t *self;
    uint32_t index;
    uint64_t *ids;
    size_t n;
} collect_t;

static void collect_core(uint64_t key, void *value, void *arg)
{
    collect_t *col = arg;
    edge_conn_t *c = value;
    /* every connection core took the CONNECT of, closing ones too (a held FRAME of theirs may
     * still go); one whose CONNECT core never took sends that CONNECT: no re-announce */
    if (c->core != col->index || !c->announced)
        return;
    c->reannounce = true;
    col->ids[col->n++] = key;
    if (c->call_open && c->state == CONN_OPEN) { /* the old core may have taken it */
        edge_conns_t *self = col->self;
        c->lost_call_due = (uint32_t)(self->tick + LOST_CALL_TICKS);
        edge_wheel_schedule(self->wheel, &c->live, c->lost_call_due);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ANNOUNCE of core `index`: a new instance (or the first one seen) means it restarted and lost
 * its connections, so every connection it held (established, not yet reported closed) is
 * announced again (CONNECT resumed=true),
 * in connection order (ids grow with time: an older connection of an identity never comes after
 * a newer one), before any later FRAME of it. A change during a re-announce starts it again
 * for every connection (each is re-announced once more, once). */
static int core_announce(edge_conns_t *self, uint32_t index, uint64_t instance)
{
    core_peer_t *p = &self->cores[index];
    if (instance == 0 || instance == p->instance)
        return 0; /* an older core without instances, or nothing new */
    uint64_t before = p->instance;
    p->instance = instance;
    metrics_counter_add(self->m_core_instances, 1);
    free(p->ids);
    p->ids = NULL;
    p->n = p->next = 0;
    collect_t col = {self, index, malloc((u64map_size(self->conns) + 1) * sizeof(uint64_t)), 0};
    if (!col.ids) {
        /* no re-announce: the core still recovers each connection from its next FRAME, which
         * carries identity, subprotocol, boot state and auth */
        log_error("core %u restarted and there is no memory to re-announce its connections", index);
        return -ENOMEM;
    }
    u64map_foreach(self->conns, collect_core, &col);
    qsort(col.ids, col.n, sizeof(*col.ids), cmp_u64);
    p->ids = col.ids;
    p->n = col.n;
    log_info("core %u has instance %" PRIu64 " (before: %" PRIu64 ", 0: none seen yet): "
             "re-announcing %zu connection(s)",
             index, instance, before, col.n);
    if (reannounce_pump(self, index) > 0)
        self->ops.want_retry(self->arg);
    p->blocked = false;
    return 0;
}

/* CONN_STATE: the boot state to re-announce the connection with, one byte. */
static int core_conn_state(edge_conns_t *self, const env_conn_state_t *cs)
{
    uint8_t boot = 0;
    for (size_t i = 1; i < BOOT_STATE_COUNT; i++)
        if (env_str_eq(cs->boot_state, BOOT_STATES[i]))
            boot = (uint8_t)i;
    if (!boot)
        return -ERANGE;
    edge_conn_t *c = u64map_get(self->conns, cs->conn_id);
    if (!c || c->state != CONN_OPEN) {
        metrics_counter_add(self->m_stale, 1);
        return 0;
    }
    c->boot = boot;
    return 0;
}

void edge_conns_hello(edge_conns_t *self, const char *endpoint)
{
    envelope_t env = {.type = ENV_HELLO};
    env.u.hello.edge_id = env_str(self->cfg->edge_id);
    env.u.hello.endpoint = env_str(endpoint);
    env.u.hello.instance = self->instance;
    for (int64_t i = 0; i < self->cfg->core_count; i++)
        self->ops.send(self->arg, EDGE_TO_CORE, (uint32_t)i, &env, OUTBOX_DROP);
    self->ops.send(self->arg, EDGE_TO_REGISTRY, 0, &env, OUTBOX_DROP);
}

size_t edge_conns_retry(edge_conns_t *self, uint64_t now_us)
{
    size_t waiting = 0;
    for (int64_t i = 0; i < self->cfg->core_count; i++)
        waiting += reannounce_pump(self, (uint32_t)i);
    waiting += retry_held(self, now_us);
    for (int64_t i = 0; i < self->cfg->core_count; i++)
        self->cores[i].blocked = false;
    return waiting;
}

/* ---- connection life ----------------------------------------------------------------- */

void edge_conn_established(edge_conns_t *self, edge_conn_t *c, void *io, const char *identity,
                           const char *subprotocol, const edge_addr_t *peer,
                           uint32_t security_profile, const char *auth, uint64_t now_us)
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
    if (peer)
        c->peer = *peer;
    c->at_us = now_us;
    c->auth = edge_auth_method_index(auth);
    c->security_profile = (uint8_t)(security_profile <= 3 ? security_profile : 0);
    c->conn_id = ++self->next_conn_id;
    c->core = hash_core_index(c->identity, idlen, (uint32_t)self->cfg->core_count);
    c->state = CONN_OPEN;
    if (u64map_put(self->conns, c->conn_id, c) < 0 ||
        edge_ipcount_add(self->peers, edge_addr_key(&c->peer)) < 0) {
        u64map_remove(self->conns, c->conn_id);
        c->conn_id = 0; /* core never hears of it */
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    metrics_gauge_set(self->m_conns, (int64_t)u64map_size(self->conns));
    metrics_counter_add(self->m_accepted, 1);
    c->last_rx = (uint32_t)self->tick;
    edge_bucket_init(&c->rate, (double)self->cfg->message_burst, ms_of(now_us));
    edge_wheel_schedule(self->wheel, &c->live, self->tick + self->ping_ticks);

    char text[EDGE_ADDR_TEXT_MAX];
    envelope_t env;
    connect_envelope(self, c, false, text, &env);
    c->token_held = true; /* a CONNECT takes no rate token */
    int rc = hand_to_core(self, c, &env, true);
    if (rc == -ENOBUFS) {
        /* core is full: the CONNECT waits, and so does everything read after it */
        conn_hold(self, c, &env);
    } else if (rc < 0) {
        log_write(LOG_ERROR, c->identity, NULL, "CONNECT not handed to core: %s", strerror(-rc));
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "internal error");
        return;
    }
    log_write(LOG_INFO, c->identity, NULL,
              "connected conn_id=%" PRIu64 " subprotocol=%s peer=%s auth=%s profile=%u", c->conn_id,
              subprotocol, text, EDGE_AUTH_METHODS[c->auth], c->security_profile);
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
    if (c->announced) { /* one per connection: MUST, never waits, dropped only past the cap */
        envelope_t env = {.type = ENV_DISCONNECT};
        env.u.disconnect.edge_id = env_str(self->cfg->edge_id);
        env.u.disconnect.conn_id = c->conn_id;
        env.u.disconnect.code = code;
        env.u.disconnect.reason = env_str(c->close_reason);
        if (self->ops.send(self->arg, EDGE_TO_CORE, c->core, &env, OUTBOX_MUST) < 0)
            log_write(LOG_ERROR, c->identity, NULL,
                      "DISCONNECT for conn_id=%" PRIu64 " lost: core's outbox is past its cap",
                      c->conn_id);
    }
    metrics_def_count(&EDGE_METRICS[EDGE_M_CLOSED], edge_metrics_close_label(code));
    edge_wheel_cancel(self->wheel, &c->live);
    u64map_remove(self->conns, c->conn_id);
    edge_ipcount_remove(self->peers, edge_addr_key(&c->peer));
    free(c->held); /* its entry in held_ids is pruned by the next retry pass */
    metrics_gauge_set(self->m_conns, (int64_t)u64map_size(self->conns));
    free_out_queue(c);
    free_rx(self, c);
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

/* ---- partial messages: the budget (issue 13) ----------------------------------------------- */

static bool partial_live(const edge_conns_t *self, const partial_t *p, edge_conn_t **out)
{
    edge_conn_t *c = u64map_get(self->conns, p->conn_id);
    *out = c;
    return c && c->rx && c->rx_since == p->since && c->state == CONN_OPEN;
}

/* Drops stale entries (kept at most about twice the live partial messages). */
static void partials_prune(edge_conns_t *self)
{
    size_t kept = 0;
    for (size_t i = self->partials_head; i < self->partials_n; i++) {
        edge_conn_t *c;
        if (partial_live(self, &self->partials[i], &c))
            self->partials[kept++] = self->partials[i];
    }
    self->partials_head = 0;
    self->partials_n = kept;
}

static int partials_push(edge_conns_t *self, const edge_conn_t *c)
{
    if (self->partials_n - self->partials_head > 2 * self->rx_active + 64)
        partials_prune(self);
    if (self->partials_n == self->partials_cap) {
        if (self->partials_head > 0) {
            memmove(self->partials, self->partials + self->partials_head,
                    (self->partials_n - self->partials_head) * sizeof(partial_t));
            self->partials_n -= self->partials_head;
            self->partials_head = 0;
        } else {
            size_t cap = self->partials_cap ? self->partials_cap * 2 : 64;
            partial_t *grown = realloc(self->partials, cap * sizeof(*grown));
            if (!grown)
                return -ENOMEM;
            self->partials = grown;
            self->partials_cap = cap;
        }
    }
    self->partials[self->partials_n++] = (partial_t){c->conn_id, c->rx_since};
    return 0;
}

/* The oldest partial message other than c's that is old enough to be dropped, or NULL. */
static edge_conn_t *partials_oldest(edge_conns_t *self, const edge_conn_t *c)
{
    for (size_t i = self->partials_head; i < self->partials_n; i++) {
        edge_conn_t *o;
        if (!partial_live(self, &self->partials[i], &o)) {
            if (i == self->partials_head)
                self->partials_head++; /* stale at the head: gone for good */
            continue;
        }
        if (o == c)
            continue;
        /* in the order they began: the rest are younger still */
        return self->tick - o->rx_since >= PARTIAL_EVICT_TICKS ? o : NULL;
    }
    return NULL;
}

/* Room for `need` bytes in c's reassembly buffer: it doubles (from EDGE_RX_MIN_BYTES, up to
 * max_message_bytes), so a message in n pieces costs O(log n) reallocations and O(size) copies,
 * not O(n) and O(n * size). The capacity counts in the edge's budget for partial messages; when
 * it is exhausted, the oldest partial messages (stalled for a second or more) are dropped to make
 * room, and when there is none, c's: the connection is closed with 1009 ("too big for it to
 * process": the edge cannot hold one more partial message of that size now). 0, or -1 when c
 * was closed. */
static int rx_reserve(edge_conns_t *self, edge_conn_t *c, size_t need)
{
    size_t max = (size_t)self->cfg->max_message_bytes;
    if (c->rx && need <= c->rx_cap)
        return 0;
    size_t cap = c->rx_cap ? (size_t)c->rx_cap * 2 : EDGE_RX_MIN_BYTES;
    while (cap < need)
        cap *= 2;
    if (cap > max)
        cap = max;
    size_t budget = (size_t)self->cfg->rx_budget_bytes, extra = cap - c->rx_cap;
    while (budget && self->rx_total + extra > budget) {
        edge_conn_t *oldest = partials_oldest(self, c);
        if (!oldest) {
            limit_close(self, c, CLOSE_MESSAGE_TOO_LARGE, "rx_budget",
                        "partial messages over budget");
            return -1;
        }
        limit_close(self, oldest, CLOSE_MESSAGE_TOO_LARGE, "rx_budget",
                    "partial message dropped: over budget");
    }
    unsigned char *grown = realloc(c->rx, cap);
    if (!grown) {
        free_rx(self, c);
        conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "out of memory");
        return -1;
    }
    bool begins = !c->rx;
    c->rx = grown;
    c->rx_cap = (uint32_t)cap;
    self->rx_total += extra;
    metrics_gauge_set(self->m_partial, (int64_t)self->rx_total);
    if (begins) {
        self->rx_active++;
        /* a partial message must complete within message_timeout_ms: look at it from the next
         * tick on (on_live_due keeps it due until then) */
        c->rx_since = (uint32_t)self->tick;
        edge_wheel_schedule(self->wheel, &c->live, self->tick + 1);
        if (partials_push(self, c) < 0) {
            free_rx(self, c);
            conn_close(self, c, CLOSE_UNEXPECTED_CONDITION, "out of memory");
            return -1;
        }
    }
    return 0;
}
/* A piece of a longer message: appended up to max_message_bytes, checked when complete. */
static void receive_piece(edge_conns_t *self, edge_conn_t *c, const unsigned char *data, size_t len,
                          bool final, uint64_t now_us)
{
    if (c->rx_len + len > (size_t)self->cfg->max_message_bytes) {
        free_rx(self, c);
        conn_close(self, c, CLOSE_MESSAGE_TOO_LARGE, "message too large");
        return;
    }
    if (rx_reserve(self, c, c->rx_len + len) < 0)
        return;
    if (len)
        memcpy(c->rx + c->rx_len, data, len);
    c->rx_len += (uint32_t)len;
    if (!final)
        return;
    if (edge_utf8_valid(c->rx, c->rx_len))
        conn_message(self, c, c->rx, c->rx_len, now_us);
    else
        conn_close(self, c, CLOSE_INVALID_PAYLOAD, "invalid UTF-8");
    free_rx(self, c);
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
        free_rx(self, c);
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
    int type = ocpp_type_of(s->data.ptr, s->data.len);
    bool answer = type >= 3 && type <= 5; /* the station's CALL is answered */
    if (answer) {
        c->call_open = false;
        c->lost_call_due = 0;
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
    if (answer && c->close_answered) /* draining: the answer goes out, then the close */
        conn_close(self, c, CLOSE_GOING_AWAY, "gateway shutting down");
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
    case ENV_CONN_STATE:
        return core_conn_state(self, &env->u.conn_state);
    case ENV_ANNOUNCE:
        if (!env_str_eq(env->u.announce.stage, "core"))
            return 0; /* the registry and the bridge announce too: nothing the edge reconciles */
        if (env->u.announce.index >= (uint64_t)self->cfg->core_count)
            return -ERANGE;
        return core_announce(self, env->u.announce.index, env->u.announce.instance);
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
    if (c->lost_call_due && self->tick >= c->lost_call_due) {
        c->lost_call_due = 0;
        if (c->call_open) {
            log_write(LOG_WARN, c->identity, NULL,
                      "a CALL stayed unanswered after ocpp-core restarted: closing (1012) so that "
                      "the station sends it again");
            metrics_def_count(&EDGE_METRICS[EDGE_M_LOST_CALL_CLOSES], NULL);
            conn_close(self, c, CLOSE_SERVICE_RESTART, "ocpp-core restarted");
            return;
        }
    }
    uint64_t rx_due = c->rx ? (uint64_t)c->rx_since + self->message_ticks : UINT64_MAX;
    if (self->message_ticks && self->tick >= rx_due) {
        limit_close(self, c, CLOSE_POLICY_VIOLATION, "message_timeout",
                    "partial message not completed in time");
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
    uint64_t due = self->message_ticks && next > rx_due ? rx_due : next;
    if (c->lost_call_due && c->lost_call_due < due)
        due = c->lost_call_due;
    edge_wheel_schedule(self->wheel, node, due);
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
        if (!c)
            continue;
        /* a station waiting for the answer to its CALL gets it before the close (a Heartbeat
         * or a status is not resent after a reconnect); the drain's deadline still bounds it */
        if (c->call_open && c->state == CONN_OPEN)
            c->close_answered = true;
        else
            conn_close(self, c, CLOSE_GOING_AWAY, "gateway shutting down");
    }
    return self->drain_done == self->drain_total && u64map_size(self->conns) == 0;
}

/* ---- accessors ------------------------------------------------------------------------- */

size_t edge_conns_count(const edge_conns_t *self)
{
    return u64map_size(self->conns);
}

uint64_t edge_conns_instance(const edge_conns_t *self)
{
    return self->instance;
}

size_t edge_conns_peer_count(const edge_conns_t *self, const edge_addr_t *peer)
{
    return edge_ipcount_get(self->peers, edge_addr_key(peer));
}

size_t edge_conns_partial_bytes(const edge_conns_t *self)
{
    return self->rx_total;
}

uint64_t edge_conns_core_instance(const edge_conns_t *self, uint32_t index)
{
    return index < (uint64_t)self->cfg->core_count ? self->cores[index].instance : 0;
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

const edge_addr_t *edge_conn_peer(const edge_conn_t *c)
{
    return &c->peer;
}

const char *edge_conn_boot_state(const edge_conn_t *c)
{
    return BOOT_STATES[c->boot < BOOT_STATE_COUNT ? c->boot : 0];
}

bool edge_conn_reannounce_pending(const edge_conn_t *c)
{
    return c->reannounce;
}

const char *edge_conn_auth(const edge_conn_t *c)
{
    return EDGE_AUTH_METHODS[c->auth < EDGE_AUTH_METHOD_COUNT ? c->auth : 0];
}

uint32_t edge_conn_security_profile(const edge_conn_t *c)
{
    return c->security_profile;
}
