/* fuzz_edge_conn.c: libFuzzer driver for ws-edge's connection engine (services/ws-edge/
 * edge_conn.c). The input is a few configuration bytes, then a sequence of events for up to
 * NSLOT connections, played against the engine with a fake clock and a model of what
 * libwebsockets, the outboxes and the cores do: pieces of messages with random flags and bytes
 * (delivered only while the engine lets the connection read, as lws does), pongs, writable
 * callbacks (only when asked for), SEND, CLOSE, CONN_STATE and ANNOUNCE (new, repeated and
 * bogus core instances) from core, HELLO, cores whose outboxes are full or not (a TRY refused,
 * MUST queued up to a cap, DROP dropped) or fail, retries, liveness ticks, close timers, peer
 * closes and drops, the drain, a budget and a deadline for partial messages.
 *
 * Invariants, checked in the recording ops and after every event (abort on a violation):
 * - the FRAMEs core takes for a connection are exactly the complete valid text messages it
 *   received, in order, none twice, none lost while it lives (unless a hand-off failed hard or
 *   a limit closed it in the middle of the message), and none before its CONNECT; a held envelope
 *   is the only thing in flight (reading paused); every FRAME carries the identity, the
 *   subprotocol, the boot state core last reported and how the upgrade authenticated;
 * - after a core instance change (and the first instance seen), every connection of that core
 *   whose CONNECT core took is re-announced (CONNECT resumed=true, original at_us, last boot
 *   state, the auth and security profile of the upgrade, like the first CONNECT) exactly once
 * before any later FRAME of it is even offered, and no re-announce comes without a change; once the
 * cores have room, every pending re-announce and held message goes;
 * - nothing is handed to core, asked for or written for a connection after it closed, and its
 *   DISCONNECT (OUTBOX_MUST) goes exactly once, while it closes, if core took its CONNECT;
 *   CONNECT and FRAME go with OUTBOX_TRY, HELLO with OUTBOX_DROP to every core and the registry;
 * - the bytes held for partial messages never exceed rx_budget_bytes, a budget close is 1009, a
 *   partial message older than message_timeout_ms is closed with 1008 (never a younger one);
 * - the per-address count of established connections matches the model;
 * - what is written is what core sent, in order, and nothing after a slow-reader drop; the close
 *   frame leaves only after the queue (a hang-up excepted); writes happen only in writable;
 * - the reassembly buffer never exceeds max_message_bytes, the out queue never send_queue_bytes;
 * - a hang-up comes only after idle_timeout of silence and never to a paused connection;
 * - everything is freed when the connections close and the engine is destroyed (ASan, LSan):
 *   each connection's storage is freed right after it closes, so a stale pointer in the engine
 *   is a use-after-free.
 * Seeds: fuzz/corpus/edge_conn/. */
#include "edge_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSLOT    3
#define HEADROOM 16
#define MAXQ     64 /* model queues: more entries than any limit allows */
#define MAXMSG   512

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_edge_conn: invariant violated at line %d: %s\n", __LINE__,       \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct {
    size_t len;
    const char *boot; /* the connection's boot state when the message was complete */
    unsigned char b[MAXMSG];
} msg_t;

typedef struct {
    msg_t m[MAXQ];
    size_t head, n;
} msgq_t;

/* One connection as lws and core see it. */
typedef struct {
    edge_conn_t *c; /* storage (lws' session user data); NULL: slot free */
    uintptr_t io;   /* unique per connection, never reused */
    uint64_t conn_id;
    bool reading;       /* read_enable state */
    bool want_write;    /* a writable callback was asked for */
    bool armed;         /* close_now: lws will close it on its timer */
    bool connect_sent;  /* core took its CONNECT */
    bool lossy;         /* a hand-off failed hard: messages may be lost */
    bool disconnected;  /* its DISCONNECT went */
    bool reann_pending; /* its core restarted: a resumed CONNECT is due */
    uint32_t core;      /* where its envelopes go */
    uint64_t at_us;     /* when it was established */
    const char *identity;
    const char *boot;               /* last CONN_STATE applied ("": none) */
    uint8_t peer;                   /* last byte of its address (10.0.0.peer) */
    uint8_t auth;                   /* index into AUTHS: how its upgrade authenticated */
    uint32_t profile;               /* the security profile it satisfied */
    msgq_t expected;                /* complete valid messages received, not yet taken by core */
    msgq_t out;                     /* what core sent, not yet written */
    size_t out_bytes;               /* */
    unsigned char rx[MAXMSG + 256]; /* the model's reassembly */
    size_t rx_len;
    bool rx_active;    /* a message is being reassembled (the engine holds a buffer) */
    uint64_t rx_start; /* model tick the partial message began */
    uint64_t last_rx;  /* model tick of the last piece or pong */
} slot_t;

static struct {
    edge_config_t cfg;
    edge_conns_t *E;
    slot_t s[NSLOT];
    uintptr_t next_io;
    int core_rc;              /* a hard error a core answers (0: none) */
    uint8_t full_mask;        /* cores whose outbox refuses a TRY */
    size_t must_room;         /* MUST envelopes a full outbox still queues (its hard cap) */
    uint64_t instance[3];     /* last core instance announced (model) */
    uint64_t last_resumed[3]; /* conn id of the last re-announce since the change */
    uint64_t next_instance;
    size_t hellos;
    bool write_fails;  /* the socket broke: writes fail */
    bool retry_active; /* the shell's retry timer runs */
    int opening;       /* slot being established (its CONNECT has no known id yet) */
    int closing;       /* slot inside edge_conn_closed */
    int writable;      /* slot inside edge_conn_writable */
    uint64_t now_us;
    uint64_t tick; /* the engine's liveness tick (starts at 1) */
    uint32_t idle_ticks, message_ticks;
    uint64_t stale_ids[8];
    size_t nstale;
} F;

static void q_push(msgq_t *q, const unsigned char *b, size_t len, const char *boot)
{
    CHECK(q->n < MAXQ && len <= MAXMSG);
    msg_t *m = &q->m[(q->head + q->n) % MAXQ];
    m->len = len;
    m->boot = boot;
    memcpy(m->b, b, len);
    q->n++;
}

static const msg_t *q_front(const msgq_t *q)
{
    return q->n ? &q->m[q->head] : NULL;
}

static void q_pop(msgq_t *q)
{
    q->head = (q->head + 1) % MAXQ;
    q->n--;
}

static void q_pop_back(msgq_t *q)
{
    q->n--;
}

static bool str_is(env_str_t v, const char *s)
{
    return env_str_eq(v, s ? s : "");
}

static slot_t *slot_by_io(void *io)
{
    for (int i = 0; i < NSLOT; i++)
        if (F.s[i].c && F.s[i].io == (uintptr_t)io)
            return &F.s[i];
    return NULL;
}

static slot_t *slot_by_id(uint64_t id)
{
    for (int i = 0; i < NSLOT; i++)
        if (F.s[i].c && F.s[i].conn_id && F.s[i].conn_id == id)
            return &F.s[i];
    return NULL;
}

/* Independent strict UTF-8 check (RFC 3629), so the model does not trust the engine's. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF)
            k = 1, cp = c & 0x1Fu;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2, cp = c & 0x0Fu;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3, cp = c & 0x07u;
        else
            return false;
        if (n - i <= k)
            return false; /* cut short */
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3Fu);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false; /* overlong, beyond Unicode, or a surrogate */
        i += k + 1;
    }
    return true;
}

/* ---- the ops: what the engine asks of lws and core -------------------------------------- */

/* The outbox of a core as the engine sees it: full (bit of full_mask) or failing (core_rc). */
static int outbox_answer(uint32_t core, outbox_policy_t policy)
{
    if (F.core_rc)
        return F.core_rc;
    if (!(F.full_mask >> core & 1))
        return 0;
    if (policy == OUTBOX_MUST && F.must_room > 0) {
        F.must_room--;
        return 0;
    }
    return -ENOBUFS;
}

/* how an upgrade authenticated (edge_auth.h), as CONNECT and FRAME must carry it */
static const char *const AUTHS[] = {"none", "basic", "basic-previous", "mtls"};

static void check_connect(const env_connect_t *cn, slot_t **sp)
{
    slot_t *s;
    if (!cn->resumed) {
        s = F.opening >= 0 ? &F.s[F.opening] : slot_by_id(cn->conn_id);
        CHECK(s && s->c && !s->connect_sent);
        if (F.opening >= 0)
            s->conn_id = cn->conn_id;
    } else {
        /* a re-announce: only after a change of its core's instance, once */
        s = slot_by_id(cn->conn_id);
        CHECK(s && s->c && s->connect_sent && s->reann_pending);
        CHECK(cn->at_us == s->at_us);
        CHECK(str_is(cn->boot_state, s->boot));
    }
    CHECK(s->conn_id == cn->conn_id);
    CHECK(str_is(cn->identity, s->identity));
    CHECK(str_is(cn->auth, AUTHS[s->auth]) && cn->security_profile == s->profile);
    CHECK(str_is(cn->subprotocol, "ocpp1.6"));
    char peer[32];
    snprintf(peer, sizeof(peer), "10.0.0.%u:%u", s->peer, 1000 + (unsigned)(s - F.s));
    CHECK(str_is(cn->peer, peer));
    *sp = s;
}

static int op_send(void *arg, edge_peer_t to, uint32_t core, const envelope_t *env,
                   outbox_policy_t policy)
{
    (void)arg;
    if (env->type == ENV_HELLO) {
        CHECK(policy == OUTBOX_DROP);
        CHECK(env->u.hello.instance == edge_conns_instance(F.E) && env->u.hello.instance);
        CHECK(to == EDGE_TO_REGISTRY || core < (uint32_t)F.cfg.core_count);
        F.hellos++;
        return to == EDGE_TO_CORE ? outbox_answer(core, policy) : 0;
    }
    CHECK(to == EDGE_TO_CORE && core < (uint32_t)F.cfg.core_count);
    slot_t *s;
    if (env->type == ENV_DISCONNECT) {
        CHECK(policy == OUTBOX_MUST);
        CHECK(F.closing >= 0); /* only while the connection closes */
        s = &F.s[F.closing];
        CHECK(s->conn_id && env->u.disconnect.conn_id == s->conn_id && !s->disconnected);
        CHECK(s->connect_sent && core == s->core); /* only if core heard of it */
        CHECK(env->u.disconnect.code >= 1000 && env->u.disconnect.code < 5000);
        s->disconnected = true;
        return outbox_answer(core, policy); /* past the MUST cap: dropped, counted */
    }
    CHECK(policy == OUTBOX_TRY);
    CHECK(env->type == ENV_CONNECT || env->type == ENV_FRAME);
    if (env->type == ENV_CONNECT) {
        check_connect(&env->u.connect, &s);
        CHECK(core == s->core);
    } else {
        const env_frame_t *f = &env->u.frame;
        s = slot_by_id(f->conn_id); /* nothing for a connection that is gone */
        CHECK(s && s->c);
        CHECK(s->connect_sent && core == s->core); /* nothing overtakes the CONNECT */
        CHECK(!s->reann_pending);                  /* nor the re-announce */
        CHECK(str_is(f->identity, s->identity) && str_is(f->subprotocol, "ocpp1.6"));
        CHECK(str_is(f->auth, AUTHS[s->auth]));
        /* the hand-off is the oldest message not taken yet: nothing overtakes it; its boot
         * state is the one core had reported when it was complete */
        const msg_t *m = q_front(&s->expected);
        if (!s->lossy) {
            CHECK(m && m->len == f->data.len && memcmp(m->b, f->data.ptr, m->len) == 0);
            CHECK(str_is(f->boot_state, m->boot));
        }
    }
    int rc = outbox_answer(core, policy);
    if (env->type == ENV_CONNECT && env->u.connect.resumed && rc != -ENOBUFS) {
        /* in connection order: an older connection of an identity never comes after a newer */
        CHECK(s->conn_id > F.last_resumed[core]);
        F.last_resumed[core] = s->conn_id;
        s->reann_pending = false;
    }
    if (rc == 0) {
        if (env->type == ENV_FRAME && q_front(&s->expected))
            q_pop(&s->expected);
        else if (env->type == ENV_CONNECT && !env->u.connect.resumed)
            s->connect_sent = true;
    } else if (rc != -ENOBUFS) {
        s->lossy = true; /* the engine closes it with 1011 */
    }
    return rc;
}

static void op_want_retry(void *arg)
{
    (void)arg;
    F.retry_active = true;
}

static void op_read_enable(void *arg, void *io, bool on)
{
    (void)arg;
    slot_t *s = slot_by_io(io);
    CHECK(s && F.closing < 0);
    s->reading = on;
}

static void op_want_write(void *arg, void *io)
{
    (void)arg;
    slot_t *s = slot_by_io(io);
    CHECK(s && F.closing < 0);
    s->want_write = true;
}

static int op_write_text(void *arg, void *io, unsigned char *data, size_t len)
{
    (void)arg;
    slot_t *s = slot_by_io(io);
    CHECK(s && F.writable >= 0 && s == &F.s[F.writable]);
    memset(data - HEADROOM, 0x5A, HEADROOM); /* lws writes its header there */
    const msg_t *m = q_front(&s->out);
    CHECK(m && m->len == len && memcmp(m->b, data, len) == 0); /* what core sent, in order */
    if (F.write_fails)
        return -1; /* lws drops the connection */
    s->out_bytes -= len;
    q_pop(&s->out);
    return 0;
}

static int op_write_ping(void *arg, void *io)
{
    (void)arg;
    slot_t *s = slot_by_io(io);
    CHECK(s && F.writable >= 0 && s == &F.s[F.writable]);
    CHECK(edge_conn_is_open(s->c));
    return F.write_fails ? -1 : 0;
}

static void op_close_now(void *arg, void *io)
{
    (void)arg;
    slot_t *s = slot_by_io(io);
    CHECK(s && F.closing < 0);
    uint16_t code = edge_conn_close_code(s->c);
    CHECK(code >= 1000 && code < 5000);
    CHECK(!edge_conn_is_open(s->c));
    if (code == 1008 &&
        strcmp(edge_conn_close_reason(s->c), "partial message not completed in time") == 0) {
        /* only a message begun message_timeout_ms ago (a tick of precision) */
        CHECK(s->rx_active && F.tick >= s->rx_start + F.message_ticks);
    }
    if (code == EDGE_CLOSE_HANGUP && strcmp(edge_conn_close_reason(s->c), "ping timeout") == 0) {
        /* the edge's hang-up: silent for the whole idle timeout, and not paused by the edge */
        CHECK(F.tick >= s->last_rx + F.idle_ticks);
        CHECK(!edge_conn_is_held(s->c));
    } else if (code != EDGE_CLOSE_HANGUP) { /* (core may ask for 1006 too: no close frame) */
        CHECK(s->out.n == 0);               /* the close frame leaves after what is queued */
    }
    s->armed = true;
}

static void op_close_deadline(void *arg, void *io, unsigned int seconds)
{
    (void)arg;
    slot_t *s = slot_by_io(io);
    CHECK(s && seconds > 0);
}

static const edge_conns_ops_t OPS = {
    .send = op_send,
    .want_retry = op_want_retry,
    .read_enable = op_read_enable,
    .want_write = op_want_write,
    .write_text = op_write_text,
    .write_ping = op_write_ping,
    .close_now = op_close_now,
    .close_deadline = op_close_deadline,
};

/* ---- events ------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n;
} input_t;

static uint8_t take(input_t *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static void conn_open(int i, uint8_t how)
{
    slot_t *s = &F.s[i];
    if (s->c)
        return;
    memset(s, 0, sizeof(*s));
    s->c = calloc(1, edge_conn_size());
    CHECK(s->c != NULL);
    s->io = ++F.next_io;
    s->reading = true;
    s->last_rx = F.tick;
    static const char *const ids[] = {"CP1", "CP-2", "x.y@z", "A"};
    const char *identity = how % 16 == 15 ? NULL : ids[how % 4];
    s->identity = identity;
    s->boot = "";
    s->at_us = F.now_us;
    s->peer = (uint8_t)(how >> 7);
    edge_addr_t peer;
    edge_addr_set(&peer, EDGE_ADDR_V4, (const uint8_t[]){10, 0, 0, s->peer}, (uint16_t)(1000 + i));
    if (identity) /* the core of an identity: a stable hash (DESIGN §1) */
        s->core = hash_core_index(identity, strlen(identity), (uint32_t)F.cfg.core_count);
    F.opening = i;
    /* how it authenticated: none (sometimes given as NULL), basic or basic-previous over ws or
     * wss (profile 1 or 2), mtls (3) */
    s->auth = (uint8_t)((how >> 4) & 3);
    s->profile = s->auth == 0 ? 0 : s->auth == 3 ? 3 : 1u + ((how >> 6) & 1u);
    const char *auth = s->auth == 0 && (how & 0x40) ? NULL : AUTHS[s->auth];
    edge_conn_established(F.E, s->c, (void *)s->io, identity, "ocpp1.6", &peer, s->profile, auth,
                          F.now_us);
    F.opening = -1;
    /* its CONNECT may not even be offered (core re-announcing): the id is the engine's then */
    CHECK(!s->conn_id || s->conn_id == edge_conn_id(s->c));
    s->conn_id = edge_conn_id(s->c);
    CHECK(identity || s->armed); /* an unreadable identity is closed at once */
}

static void conn_gone(slot_t *s)
{
    F.closing = (int)(s - F.s);
    bool registered = s->conn_id != 0 && s->connect_sent;
    edge_conn_closed(F.E, s->c);
    F.closing = -1;
    CHECK(s->disconnected == registered); /* DISCONNECT exactly once, if core knew it */
    CHECK(edge_conn_id(s->c) == 0);
    if (s->conn_id && F.nstale < sizeof(F.stale_ids) / sizeof(F.stale_ids[0]))
        F.stale_ids[F.nstale++] = s->conn_id;
    free(s->c); /* a pointer the engine kept would now be a use-after-free */
    s->c = NULL;
}

/* A piece of a message, delivered as lws would (only while reading); the model predicts what
 * the engine does with it. */
static void conn_piece(int i, input_t *in)
{
    slot_t *s = &F.s[i];
    uint8_t flags = take(in), len = take(in);
    unsigned char buf[256];
    for (size_t k = 0; k < len; k++)
        buf[k] = flags & 0x80 ? (unsigned char)('a' + k % 26) : take(in);
    if (!s->c || !s->reading)
        return; /* lws keeps it in the socket */
    unsigned int f = (flags & 1 ? EDGE_RX_FIRST : 0u) | (flags & 2 ? EDGE_RX_FINAL : 0u) |
                     ((flags & 0x7C) == 0x7C ? EDGE_RX_BINARY : 0u);
    bool open = edge_conn_is_open(s->c) && s->conn_id;
    bool pushed = false;
    s->last_rx = F.tick;
    if (open && !(f & EDGE_RX_BINARY)) {
        size_t max = (size_t)F.cfg.max_message_bytes;
        bool whole = (f & EDGE_RX_FIRST) && (f & EDGE_RX_FINAL) && !s->rx_active;
        if (whole) {
            if (len <= max && utf8_ok(buf, len))
                q_push(&s->expected, buf, len, s->boot), pushed = true;
        } else if (s->rx_len + len > max) {
            s->rx_len = 0;
            s->rx_active = false;
        } else {
            memcpy(s->rx + s->rx_len, buf, len);
            s->rx_len += len;
            if (!s->rx_active)
                s->rx_start = F.tick;
            s->rx_active = true;
            if (f & EDGE_RX_FINAL) {
                if (utf8_ok(s->rx, s->rx_len))
                    q_push(&s->expected, s->rx, s->rx_len, s->boot), pushed = true;
                s->rx_len = 0;
                s->rx_active = false;
            }
        }
    }
    edge_conn_receive(F.E, s->c, buf, len, f, F.now_us);
    if (open && (f & EDGE_RX_BINARY))
        CHECK(edge_conn_close_code(s->c) == 1003);
    if (open && !edge_conn_is_open(s->c) &&
        strcmp(edge_conn_close_reason(s->c), "partial messages over budget") == 0) {
        /* the budget closed it before the message was complete: that message is lost */
        CHECK(edge_conn_close_code(s->c) == 1009 && F.cfg.rx_budget_bytes > 0);
        CHECK(edge_conn_rx_bytes(s->c) == 0);
        if (pushed)
            q_pop_back(&s->expected);
        s->rx_len = 0;
        s->rx_active = false;
    }
}

static void core_send(input_t *in)
{
    uint8_t pick = take(in), len = take(in);
    unsigned char buf[256];
    for (size_t k = 0; k < len; k++)
        buf[k] = (unsigned char)('A' + (k + pick) % 26);
    uint64_t id;
    slot_t *s = NULL;
    if (pick & 0x80 && F.nstale)
        id = F.stale_ids[pick % F.nstale]; /* a connection that is gone */
    else if ((pick & 0x60) == 0x60)
        id = 12345;
    else {
        s = &F.s[pick % NSLOT];
        id = s->c ? s->conn_id : 777;
    }
    bool open = s && s->c && s->conn_id && edge_conn_is_open(s->c);
    if (open && s->out.n == MAXQ)
        return; /* tiny messages stay under send_queue_bytes: the model holds no more */
    bool slow = open && s->out_bytes + len > (size_t)F.cfg.send_queue_bytes;
    if (slow) { /* a slow reader: its queue is dropped, nothing of it may be written */
        s->out.n = 0;
        s->out_bytes = 0;
    } else if (open) {
        q_push(&s->out, buf, len, NULL);
        s->out_bytes += len;
    }
    envelope_t env = {.type = ENV_SEND};
    env.u.send.conn_id = id;
    env.u.send.data = (env_bin_t){buf, len};
    CHECK(edge_conns_from_core(F.E, &env) == 0);
    if (slow)
        CHECK(edge_conn_close_code(s->c) == 1008 && edge_conn_queued_bytes(s->c) == 0);
    else if (open)
        CHECK(edge_conn_queued_bytes(s->c) == s->out_bytes);
}

static void core_close(input_t *in)
{
    uint8_t pick = take(in), code = take(in);
    slot_t *s = &F.s[pick % NSLOT];
    envelope_t env = {.type = ENV_CLOSE};
    env.u.close.conn_id = s->c ? s->conn_id : 999;
    env.u.close.code = code < 200 ? 1000u + code : 4000u + code;
    if (code == 255)
        env.u.close.code = 7;
    env.u.close.reason = env_str("closed by core, a reason that is longer than the close reason "
                                 "buffer of the edge so that it is cut");
    CHECK(edge_conns_from_core(F.E, &env) == 0);
}

/* ANNOUNCE, CONN_STATE or HELLO, from the next input byte. */
static void core_event(input_t *in)
{
    uint8_t b = take(in);
    switch (b & 3) {
    case 0: { /* a core announces: a new instance, the same again, or none (an older core) */
        uint32_t index = (b >> 2) % 3;
        uint64_t inst = b & 0x80                ? 0
                        : b & 0x40 && index < 3 ? F.instance[index]
                                                : ++F.next_instance;
        envelope_t env = {.type = ENV_ANNOUNCE};
        env.u.announce.stage = env_str("core");
        env.u.announce.index = index;
        env.u.announce.instance = inst;
        bool valid = index < (uint32_t)F.cfg.core_count;
        if (valid && inst && inst != F.instance[index]) {
            F.instance[index] = inst;
            F.last_resumed[index] = 0;
            for (int i = 0; i < NSLOT; i++) {
                slot_t *s = &F.s[i];
                if (s->c && s->conn_id && s->connect_sent && s->core == index)
                    s->reann_pending = true;
            }
        }
        int rc = edge_conns_from_core(F.E, &env);
        CHECK(valid ? rc == 0 || rc == -ENOMEM : rc == -ERANGE);
        CHECK(!valid || edge_conns_core_instance(F.E, index) == F.instance[index]);
        break;
    }
    case 1: { /* the boot state of a connection */
        static const char *const states[] = {"none", "pending", "accepted", "booted", ""};
        slot_t *s = &F.s[(b >> 2) % NSLOT];
        const char *st = states[(b >> 4) % 5];
        envelope_t env = {.type = ENV_CONN_STATE};
        env.u.conn_state.conn_id = s->c ? s->conn_id : 4242;
        env.u.conn_state.boot_state = env_str(st);
        bool known = (b >> 4) % 5 < 3;
        bool open = s->c && s->conn_id && edge_conn_is_open(s->c);
        int rc = edge_conns_from_core(F.E, &env);
        CHECK(known ? rc == 0 : rc == -ERANGE);
        if (known && open)
            s->boot = st;
        if (s->c && s->conn_id)
            CHECK(strcmp(edge_conn_boot_state(s->c), s->boot) == 0);
        break;
    }
    case 2: {
        size_t before = F.hellos;
        edge_conns_hello(F.E, "ipc:///tmp/edge-f.sock");
        CHECK(F.hellos == before + (size_t)F.cfg.core_count + 1);
        break;
    }
    default: { /* other stages announce too: nothing to reconcile */
        envelope_t env = {.type = ENV_ANNOUNCE};
        env.u.announce.stage = env_str(b & 4 ? "registry" : "bridge");
        env.u.announce.instance = b;
        CHECK(edge_conns_from_core(F.E, &env) == 0);
        break;
    }
    }
}

static void writable(int i, bool fail)
{
    slot_t *s = &F.s[i];
    if (!s->c || !s->want_write)
        return;
    s->want_write = false;
    F.writable = i;
    F.write_fails = fail;
    int rc = edge_conn_writable(F.E, s->c);
    F.write_fails = false;
    F.writable = -1;
    /* dropped without a close frame only after a failed write or for a hang-up */
    CHECK(rc == 0 || fail || edge_conn_close_code(s->c) == EDGE_CLOSE_HANGUP);
    if (rc < 0)
        conn_gone(s); /* lws drops it */
}

static void close_timer(int i)
{
    slot_t *s = &F.s[i];
    if (!s->c || !s->armed)
        return;
    CHECK(!edge_conn_is_open(s->c));
    conn_gone(s); /* the close frame (or none) went: lws closes */
}

static void check_all(void)
{
    size_t rx_sum = 0, per_peer[2] = {0, 0};
    for (int i = 0; i < NSLOT; i++)
        if (F.s[i].c && F.s[i].conn_id)
            per_peer[F.s[i].peer]++;
    for (int p = 0; p < 2; p++) {
        edge_addr_t a;
        edge_addr_set(&a, EDGE_ADDR_V4, (const uint8_t[]){10, 0, 0, (uint8_t)p}, 1);
        CHECK(edge_conns_peer_count(F.E, &a) == per_peer[p]);
    }
    for (int i = 0; i < NSLOT; i++) {
        slot_t *s = &F.s[i];
        if (!s->c)
            continue;
        rx_sum += edge_conn_rx_bytes(s->c);
        CHECK(edge_conn_reannounce_pending(s->c) == s->reann_pending);
        CHECK(edge_conn_rx_bytes(s->c) <= (size_t)F.cfg.max_message_bytes);
        CHECK(edge_conn_queued_bytes(s->c) <= (size_t)F.cfg.send_queue_bytes);
        CHECK(edge_conn_queued_bytes(s->c) == s->out_bytes || edge_conn_close_code(s->c));
        if (!s->conn_id)
            continue;
        bool held = edge_conn_is_held(s->c);
        CHECK(s->reading == !held); /* reading is paused exactly while something is held */
        if (s->lossy)
            continue;
        if (!held) /* everything received was handed on */
            CHECK(s->connect_sent && s->expected.n == 0);
        else /* the one held thing: the CONNECT, or the oldest message */
            CHECK((!s->connect_sent && s->expected.n == 0) ||
                  (s->connect_sent && s->expected.n == 1));
    }
    CHECK(rx_sum <= edge_conns_partial_bytes(F.E));
    if (F.cfg.rx_budget_bytes)
        CHECK(edge_conns_partial_bytes(F.E) <= (size_t)F.cfg.rx_budget_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        log_set_fd(-1);
        once = true;
    }
    input_t in = {data, size};
    memset(&F, 0, sizeof(F));
    F.opening = F.closing = F.writable = -1;
    F.cfg.edge_id = "edge-f";
    F.cfg.core_count = 1 + take(&in) % 3;
    F.cfg.max_message_bytes = 8 + take(&in) % 200;
    F.cfg.send_queue_bytes = 16 + take(&in) % 400;
    uint8_t r = take(&in);
    F.cfg.message_rate = r & 0x80 ? 0 : r % 8;
    F.cfg.message_burst = 1 + (r >> 3) % 4;
    uint8_t t = take(&in);
    F.cfg.ping_interval_ms = 1000 + (t % 4) * 1000;
    F.cfg.idle_timeout_ms = F.cfg.ping_interval_ms + 500 + (t >> 2) % 5 * 1000;
    F.idle_ticks = (uint32_t)((F.cfg.idle_timeout_ms + 999) / 1000);
    uint8_t lim = take(&in);
    F.cfg.rx_budget_bytes = lim & 0x80 ? 0 : 128 + (lim & 0x0F) * 256;
    F.cfg.message_timeout_ms = 1000 + (lim >> 4 & 7) * 1000;
    F.message_ticks = (uint32_t)((F.cfg.message_timeout_ms + 999) / 1000);
    F.now_us = 1700000000000000ull;
    F.tick = 1;
    F.E = edge_conns_new(&F.cfg, HEADROOM, F.now_us, &OPS, NULL);
    CHECK(F.E != NULL);
    bool draining = false;
    uint64_t drain_start = 0;

    for (int steps = 0; in.n && steps < 4000; steps++) {
        uint8_t op = take(&in);
        int i = (op >> 4) % NSLOT;
        switch (op & 0x0F) {
        case 0:
            conn_open(i, take(&in));
            break;
        case 1:
        case 2:
            conn_piece(i, &in);
            break;
        case 3:
            if (F.s[i].c) {
                F.s[i].last_rx = F.tick;
                edge_conn_pong(F.E, F.s[i].c);
            }
            break;
        case 4:
            writable(i, take(&in) == 0xFF);
            break;
        case 5:
            core_send(&in);
            break;
        case 6:
            core_close(&in);
            break;
        case 7: { /* the cores' outboxes: room, some full (MUST still queues a few), a failure */
            uint8_t m = take(&in);
            F.core_rc = m >= 250 ? -EIO : 0;
            F.full_mask = m < 120 ? 0 : (uint8_t)(m & 7 ? m & 7 : 1);
            F.must_room = m & 0x10 ? 0 : 4;
            break;
        }
        case 8:
            if (F.retry_active && edge_conns_retry(F.E, F.now_us) == 0)
                F.retry_active = false;
            break;
        case 9:
            F.tick++;
            F.now_us += 1000000;
            edge_conns_tick(F.E);
            for (int k = 0; k < NSLOT; k++) /* a partial message never outlives its deadline */
                if (F.s[k].c && F.s[k].rx_active && edge_conn_is_open(F.s[k].c))
                    CHECK(F.tick < F.s[k].rx_start + F.message_ticks);
            break;
        case 10: {
            uint8_t d = take(&in);
            if (d == 255)
                F.now_us -= 30000000; /* the wall clock steps back */
            else
                F.now_us += (uint64_t)d * 5000;
            break;
        }
        case 11:
            close_timer(i);
            break;
        case 12: /* the peer closes (with a code or none), or the TCP connection drops */
            if (F.s[i].c) {
                uint8_t c = take(&in);
                if (c & 1)
                    edge_conn_peer_close(F.E, F.s[i].c, (uint16_t)(1000 + c));
                conn_gone(&F.s[i]);
            }
            break;
        case 13:
            if (!draining) {
                draining = true;
                drain_start = F.now_us;
                CHECK(edge_conns_drain_begin(F.E) == 0);
            } else {
                edge_conns_drain_step(F.E, 2000, (F.now_us - drain_start) / 1000);
            }
            break;
        case 14:
            core_event(&in);
            break;
        default:
            if (F.retry_active && edge_conns_retry(F.E, F.now_us) == 0)
                F.retry_active = false;
            writable(i, false);
            break;
        }
        check_all();
    }
    /* the cores have room again (and the rates tokens): every re-announce and held message goes */
    F.full_mask = 0;
    F.core_rc = 0;
    for (int n = 0; F.retry_active && n < 3; n++) {
        F.now_us += 10000000; /* twice: a bucket re-based by a step back refills on the next */
        if (edge_conns_retry(F.E, F.now_us) == 0)
            F.retry_active = false;
    }
    CHECK(!F.retry_active);
    check_all();
    for (int i = 0; i < NSLOT; i++) {
        slot_t *s = &F.s[i];
        if (!s->c || !s->conn_id)
            continue;
        CHECK(!s->reann_pending && !edge_conn_is_held(s->c));
        CHECK(s->lossy || (s->connect_sent && s->expected.n == 0));
    }
    /* lws reports every connection closed before the context goes away */
    for (int i = 0; i < NSLOT; i++)
        if (F.s[i].c)
            conn_gone(&F.s[i]);
    CHECK(edge_conns_count(F.E) == 0);
    CHECK(edge_conns_partial_bytes(F.E) == 0);
    if (F.retry_active)
        CHECK(edge_conns_retry(F.E, F.now_us) == 0); /* nothing held for a connection gone */
    edge_conns_destroy(&F.E);
    return 0;
}
