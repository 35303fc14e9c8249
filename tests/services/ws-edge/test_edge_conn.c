/* Unit tests for services/ws-edge/edge_conn: the connection engine driven by event sequences,
 * with ops that record every effect (no socket, no lws, no ZeroMQ). */
#include "edge_conn.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "edge_metrics.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"

enum {
    OP_CORE,       /* send to a core accepted an envelope (sent or queued) */
    OP_CORE_FULL,  /* send to a core answered -ENOBUFS or an error */
    OP_DISCONNECT, /* a DISCONNECT was sent (rc says whether it was taken) */
    OP_REGISTRY,   /* send to the registry */
    OP_WANT_RETRY, /* */
    OP_READ,       /* read_enable (on) */
    OP_WANT_WRITE, /* */
    OP_TEXT,       /* write_text */
    OP_PING,       /* write_ping */
    OP_CLOSE_NOW,  /* */
    OP_DEADLINE,   /* close_deadline */
};

typedef struct {
    int kind;
    int conn; /* fake connection index (io) */
    int type; /* envelope type handed on */
    int rc;   /* what the send answered */
    outbox_policy_t policy;
    uint32_t core;
    uint64_t conn_id;
    uint64_t at_us, instance;
    uint32_t code;    /* DISCONNECT code */
    uint32_t profile; /* CONNECT: security_profile */
    bool on, resumed;
    char boot[16], ident[64], sub[16], peer[64];
    char auth[24]; /* CONNECT and FRAME: how the upgrade authenticated */
    size_t len;
    char data[1600];
} op_t;

#define HEADROOM 16
#define NCONN    4
#define T0       1000000 /* the engine's instance: connection ids start after it */

static op_t rec[4096];
static size_t nrec;
static int core_rc;      /* what a send to a core answers next (0, -ENOBUFS, -EIO) */
static int core_room;    /* >= 0: a core takes that many more, then it is full (-1: no end) */
static size_t must_room; /* while full: how many MUST envelopes the outbox still queues */
static int write_rc;     /* what write_text / write_ping answer */
static edge_config_t cfg;
static edge_conns_t *E;
static edge_conn_t *C[NCONN];

static int io_index(void *io)
{
    return (int)(intptr_t)io - 1;
}

static void *io_of(int i)
{
    return (void *)(intptr_t)(i + 1);
}

static op_t *record(int kind, void *io)
{
    ck_assert_uint_lt(nrec, sizeof(rec) / sizeof(rec[0]));
    op_t *o = &rec[nrec++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->conn = io ? io_index(io) : -1;
    return o;
}

/* The peers' outboxes as the engine sees them: core_rc says whether a core takes a TRY; while
 * full, MUST envelopes are still queued up to must_room (the outbox's hard cap), DROP ones not. */
static int op_send(void *arg, edge_peer_t to, uint32_t index, const envelope_t *env,
                   outbox_policy_t policy)
{
    (void)arg;
    ck_assert(to == EDGE_TO_REGISTRY || index < (uint32_t)cfg.core_count);
    int rc = to == EDGE_TO_REGISTRY ? 0 : core_rc;
    if (to == EDGE_TO_CORE && rc == 0 && core_room >= 0 && core_room-- == 0) {
        core_room = 0;
        rc = -ENOBUFS;
    }
    if (rc == -ENOBUFS && policy == OUTBOX_MUST && must_room > 0) {
        must_room--;
        rc = 0;
    }
    int kind = to == EDGE_TO_REGISTRY        ? OP_REGISTRY
               : env->type == ENV_DISCONNECT ? OP_DISCONNECT
               : rc == 0                     ? OP_CORE
                                             : OP_CORE_FULL;
    op_t *o = record(kind, NULL);
    o->type = env->type;
    o->rc = rc;
    o->policy = policy;
    o->core = index;
    switch (env->type) {
    case ENV_CONNECT: {
        const env_connect_t *c = &env->u.connect;
        ck_assert_int_eq(policy, OUTBOX_TRY);
        o->conn_id = c->conn_id;
        o->len = env_str_copy(c->identity, o->data, sizeof(o->data));
        o->resumed = c->resumed;
        o->at_us = c->at_us;
        env_str_copy(c->boot_state, o->boot, sizeof(o->boot));
        env_str_copy(c->peer, o->peer, sizeof(o->peer));
        env_str_copy(c->subprotocol, o->sub, sizeof(o->sub));
        env_str_copy(c->auth, o->auth, sizeof(o->auth));
        o->profile = c->security_profile;
        break;
    }
    case ENV_FRAME: {
        const env_frame_t *f = &env->u.frame;
        ck_assert_int_eq(policy, OUTBOX_TRY);
        o->conn_id = f->conn_id;
        o->len = f->data.len;
        ck_assert_uint_lt(o->len, sizeof(o->data));
        memcpy(o->data, f->data.ptr, o->len);
        env_str_copy(f->identity, o->ident, sizeof(o->ident));
        env_str_copy(f->subprotocol, o->sub, sizeof(o->sub));
        env_str_copy(f->boot_state, o->boot, sizeof(o->boot));
        env_str_copy(f->auth, o->auth, sizeof(o->auth));
        break;
    }
    case ENV_DISCONNECT:
        ck_assert_int_eq(policy, OUTBOX_MUST);
        o->conn_id = env->u.disconnect.conn_id;
        o->code = env->u.disconnect.code;
        o->len = env_str_copy(env->u.disconnect.reason, o->data, sizeof(o->data));
        break;
    case ENV_HELLO:
        ck_assert_int_eq(policy, OUTBOX_DROP);
        o->instance = env->u.hello.instance;
        o->len = env_str_copy(env->u.hello.endpoint, o->data, sizeof(o->data));
        env_str_copy(env->u.hello.edge_id, o->ident, sizeof(o->ident));
        break;
    default:
        ck_abort_msg("unexpected envelope type %d", env->type);
    }
    return rc;
}

static void op_want_retry(void *arg)
{
    (void)arg;
    record(OP_WANT_RETRY, NULL);
}

static void op_read_enable(void *arg, void *io, bool on)
{
    (void)arg;
    record(OP_READ, io)->on = on;
}

static void op_want_write(void *arg, void *io)
{
    (void)arg;
    record(OP_WANT_WRITE, io);
}

static int op_write_text(void *arg, void *io, unsigned char *data, size_t len)
{
    (void)arg;
    memset(data - HEADROOM, 0xAA, HEADROOM); /* the headroom is the writer's (ASan checks it) */
    op_t *o = record(OP_TEXT, io);
    ck_assert_uint_lt(len, sizeof(o->data));
    memcpy(o->data, data, len);
    o->len = len;
    return write_rc;
}

static int op_write_ping(void *arg, void *io)
{
    (void)arg;
    record(OP_PING, io);
    return write_rc;
}

static void op_close_now(void *arg, void *io)
{
    (void)arg;
    record(OP_CLOSE_NOW, io);
}

static void op_close_deadline(void *arg, void *io, unsigned int seconds)
{
    (void)arg;
    record(OP_DEADLINE, io)->code = seconds;
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

static void setup(void)
{
    log_set_fd(-1);
    memset(&cfg, 0, sizeof(cfg));
    cfg.edge_id = "edge-t";
    cfg.core_count = 2;
    cfg.max_message_bytes = 16;
    cfg.send_queue_bytes = 20;
    cfg.message_rate = 0;
    cfg.message_burst = 100;
    cfg.ping_interval_ms = 2000;
    cfg.idle_timeout_ms = 5000;
    cfg.message_timeout_ms = 3000;
    cfg.rx_budget_bytes = 0;
    nrec = 0;
    core_rc = 0;
    must_room = 0;
    core_room = -1;
    write_rc = 0;
    E = edge_conns_new(&cfg, HEADROOM, T0, &OPS, NULL);
    ck_assert_ptr_nonnull(E);
    for (int i = 0; i < NCONN; i++)
        C[i] = calloc(1, edge_conn_size());
}

static void teardown(void)
{
    for (int i = 0; i < NCONN; i++) {
        edge_conn_closed(E, C[i]);
        free(C[i]);
    }
    edge_conns_destroy(&E);
    edge_conns_destroy(&E); /* safe twice */
    metrics_shutdown();
}

/* re-creates the engine after a change of cfg */
static void restart(void)
{
    edge_conns_destroy(&E);
    E = edge_conns_new(&cfg, HEADROOM, T0, &OPS, NULL);
    ck_assert_ptr_nonnull(E);
}

static uint64_t counter(edge_metric_t m)
{
    return metrics_counter_get(metrics_def_counter(&EDGE_METRICS[m], NULL));
}

static uint64_t counter_label(edge_metric_t m, const char *labels)
{
    return metrics_counter_get(metrics_def_counter(&EDGE_METRICS[m], labels));
}

static edge_addr_t addr_v4(uint8_t last, uint16_t port)
{
    edge_addr_t a;
    edge_addr_set(&a, EDGE_ADDR_V4, (const uint8_t[]){10, 0, 0, last}, port);
    return a;
}

/* established after an upgrade that authenticated with auth at this security profile */
static void open_conn_auth(int i, const char *identity, uint32_t profile, const char *auth)
{
    edge_addr_t peer = addr_v4(1, (uint16_t)(40000 + i));
    edge_conn_established(E, C[i], io_of(i), identity, "ocpp1.6", &peer, profile, auth, 1000000);
}

static void open_conn(int i, const char *identity)
{
    open_conn_auth(i, identity, 2, "basic");
}

static void rx(int i, const char *s, unsigned int flags)
{
    edge_conn_receive(E, C[i], s, strlen(s), flags, 2000000);
}

#define WHOLE (EDGE_RX_FIRST | EDGE_RX_FINAL)

static void send_from_core(uint64_t conn_id, const char *s)
{
    envelope_t env = {.type = ENV_SEND};
    env.u.send.conn_id = conn_id;
    env.u.send.data = (env_bin_t){(const uint8_t *)s, strlen(s)};
    ck_assert_int_eq(edge_conns_from_core(E, &env), 0);
}

static void close_from_core(uint64_t conn_id, uint32_t code, const char *reason)
{
    envelope_t env = {.type = ENV_CLOSE};
    env.u.close.conn_id = conn_id;
    env.u.close.code = code;
    env.u.close.reason = env_str(reason);
    ck_assert_int_eq(edge_conns_from_core(E, &env), 0);
}

static size_t count_ops(int kind, int conn)
{
    size_t n = 0;
    for (size_t i = 0; i < nrec; i++)
        if (rec[i].kind == kind && (conn < 0 || rec[i].conn == conn))
            n++;
    return n;
}

static const op_t *last_op(int kind)
{
    for (size_t i = nrec; i-- > 0;)
        if (rec[i].kind == kind)
            return &rec[i];
    return NULL;
}

/* the FRAMEs core took, in order, as "a|b|c" */
static const char *frames_to_core(uint64_t conn_id)
{
    static char out[2048];
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < nrec; i++)
        if (rec[i].kind == OP_CORE && rec[i].type == ENV_FRAME && rec[i].conn_id == conn_id)
            at += (size_t)snprintf(out + at, sizeof(out) - at, "%s%.*s", at ? "|" : "",
                                   (int)rec[i].len, rec[i].data);
    ck_assert_uint_lt(at, sizeof(out));
    return out;
}

/* ---- life ------------------------------------------------------------------------------ */

START_TEST(test_connect_frame_disconnect)
{
    open_conn(0, "CP1");
    ck_assert_uint_eq(edge_conns_count(E), 1);
    uint64_t id = edge_conn_id(C[0]);
    ck_assert_uint_eq(id, 1000001); /* ids start at the clock given to the engine */
    ck_assert_int_eq(rec[0].kind, OP_CORE);
    ck_assert_int_eq(rec[0].type, ENV_CONNECT);
    ck_assert_str_eq(rec[0].data, "CP1");
    ck_assert_uint_eq(rec[0].profile, 2); /* how the upgrade authenticated (open_conn) */
    ck_assert_str_eq(rec[0].auth, "basic");
    rx(0, "[2,\"1\",\"HB\",{}]", WHOLE);
    ck_assert_str_eq(frames_to_core(id), "[2,\"1\",\"HB\",{}]");
    ck_assert_uint_eq(counter(EDGE_M_FRAMES_IN), 1);
    edge_conn_peer_close(E, C[0], 1000);
    edge_conn_closed(E, C[0]);
    const op_t *d = last_op(OP_DISCONNECT);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->conn_id, id);
    ck_assert_uint_eq(d->code, 1000); /* the peer's code */
    ck_assert_uint_eq(edge_conns_count(E), 0);
    ck_assert_uint_eq(counter_label(EDGE_M_CLOSED, "code=\"1000\""), 1);
    /* a connection that simply drops reports 1006 */
    open_conn(1, "CP2");
    edge_conn_closed(E, C[1]);
    ck_assert_uint_eq(last_op(OP_DISCONNECT)->code, 1006);
    ck_assert_uint_eq(edge_conn_id(C[1]), 0); /* the storage is IDLE again */
}
END_TEST

START_TEST(test_bad_identity_never_reaches_core)
{
    edge_conn_established(E, C[0], io_of(0), NULL, "ocpp1.6", NULL, 0, NULL, 1);
    ck_assert_int_eq(rec[0].kind, OP_CLOSE_NOW);
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 1008);
    ck_assert_uint_eq(edge_conns_count(E), 0);
    edge_conn_closed(E, C[0]);
    ck_assert_uint_eq(count_ops(OP_CORE, -1) + count_ops(OP_DISCONNECT, -1), 0);
}
END_TEST

START_TEST(test_auth_kept_per_connection)
{
    open_conn_auth(0, "CP1", 0, NULL);       /* security_profile 0, unknown allowed */
    open_conn_auth(1, "CP2", 7, "whatever"); /* not a method, not a profile: the lesser claim */
    open_conn_auth(2, "CP3", 1, "basic-previous");
    const char *want_auth[] = {"none", "none", "basic-previous"};
    const uint32_t want_profile[] = {0, 0, 1};
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(edge_conn_auth(C[i]), want_auth[i]);
        ck_assert_uint_eq(edge_conn_security_profile(C[i]), want_profile[i]);
        const op_t *o = NULL;
        for (size_t k = 0; k < nrec; k++)
            if (rec[k].type == ENV_CONNECT && rec[k].conn_id == edge_conn_id(C[i]))
                o = &rec[k];
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(o->auth, want_auth[i]);
        ck_assert_uint_eq(o->profile, want_profile[i]);
        rx(i, "m", WHOLE);
        ck_assert_str_eq(last_op(OP_CORE)->auth, want_auth[i]);
    }
}
END_TEST

/* ---- to the charge point ---------------------------------------------------------------- */

START_TEST(test_slow_reader)
{
    open_conn(0, "CP1");
    uint64_t id = edge_conn_id(C[0]);
    nrec = 0;
    send_from_core(id, "0123456789"); /* 10 of 20 bytes */
    send_from_core(id, "abcdefghij"); /* 20: exactly the limit is fine */
    ck_assert_uint_eq(edge_conn_queued_bytes(C[0]), 20);
    ck_assert_uint_eq(count_ops(OP_WANT_WRITE, 0), 2);
    send_from_core(id, "x");                            /* 21: a slow reader */
    ck_assert_uint_eq(edge_conn_queued_bytes(C[0]), 0); /* the queue is freed */
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 1008);
    ck_assert_int_eq(rec[nrec - 1].kind, OP_CLOSE_NOW); /* nothing left to flush: close now */
    ck_assert_uint_eq(counter_label(EDGE_M_SEND_QUEUE_DROPS, "reason=\"send_queue_full\""), 1);
    /* nothing else is written: the writable callback only asks for the close again */
    ck_assert_int_eq(edge_conn_writable(E, C[0]), 0);
    ck_assert_uint_eq(count_ops(OP_TEXT, -1), 0);
    /* later SENDs for it are dropped and counted */
    send_from_core(id, "late");
    send_from_core(id, "later");
    ck_assert_uint_eq(counter(EDGE_M_STALE), 2);
    ck_assert_uint_eq(edge_conn_queued_bytes(C[0]), 0);
    edge_conn_closed(E, C[0]);
    ck_assert_uint_eq(last_op(OP_DISCONNECT)->code, 1008);
    ck_assert_str_eq(last_op(OP_DISCONNECT)->data, "slow reader");
    send_from_core(id, "gone");
    ck_assert_uint_eq(counter(EDGE_M_STALE), 3);
}
END_TEST

START_TEST(test_reply_before_close)
{
    open_conn(0, "CP1");
    uint64_t id = edge_conn_id(C[0]);
    nrec = 0;
    send_from_core(id, "reply");
    close_from_core(id, 4000, "superseded");
    /* the close waits for the queue, with a deadline */
    ck_assert_uint_eq(count_ops(OP_CLOSE_NOW, -1), 0);
    ck_assert_uint_eq(last_op(OP_DEADLINE)->code, EDGE_CLOSE_FLUSH_S);
    ck_assert_int_eq(edge_conn_writable(E, C[0]), 0);
    ck_assert_int_eq(rec[nrec - 2].kind, OP_TEXT);
    ck_assert_str_eq(rec[nrec - 2].data, "reply");
    ck_assert_int_eq(rec[nrec - 1].kind, OP_WANT_WRITE); /* once more, for the close */
    ck_assert_int_eq(edge_conn_writable(E, C[0]), 0);
    ck_assert_int_eq(rec[nrec - 1].kind, OP_CLOSE_NOW);
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 4000);
    ck_assert_str_eq(edge_conn_close_reason(C[0]), "superseded");
    /* a second close does not replace the first */
    close_from_core(id, 1000, "other");
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 4000);
    /* a code that is no close code becomes 1000 */
    open_conn(1, "CP2");
    close_from_core(edge_conn_id(C[1]), 99, "bad code");
    ck_assert_uint_eq(edge_conn_close_code(C[1]), 1000);
    /* unknown connection: counted */
    close_from_core(424242, 1000, "x");
    ck_assert_uint_eq(counter(EDGE_M_STALE), 1);
    envelope_t hello = {.type = ENV_HELLO};
    ck_assert_int_eq(edge_conns_from_core(E, &hello), -EINVAL);
}
END_TEST

START_TEST(test_write_failure_drops)
{
    open_conn(0, "CP1");
    send_from_core(edge_conn_id(C[0]), "a");
    write_rc = -1;
    ck_assert_int_eq(edge_conn_writable(E, C[0]), -1);
    /* nothing queued: a spurious writable callback writes nothing */
    open_conn(1, "CP2");
    size_t before = nrec;
    ck_assert_int_eq(edge_conn_writable(E, C[1]), 0);
    ck_assert_uint_eq(nrec, before);
}
END_TEST

/* ---- from the charge point: reassembly and checks --------------------------------------- */

START_TEST(test_reassembly_up_to_the_limit)
{
    open_conn(0, "CP1");
    uint64_t id = edge_conn_id(C[0]);
    rx(0, "01234", EDGE_RX_FIRST);
    ck_assert_uint_eq(edge_conn_rx_bytes(C[0]), 5);
    rx(0, "56789", 0);
    rx(0, "abcdef", EDGE_RX_FINAL); /* 16 bytes: exactly max_message_bytes */
    ck_assert_str_eq(frames_to_core(id), "0123456789abcdef");
    ck_assert_uint_eq(edge_conn_rx_bytes(C[0]), 0);
    ck_assert(edge_conn_is_open(C[0]));
    /* one byte more: 1009, buffer freed */
    rx(0, "0123456789", EDGE_RX_FIRST);
    rx(0, "abcdefg", EDGE_RX_FINAL);
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 1009);
    ck_assert_uint_eq(edge_conn_rx_bytes(C[0]), 0);
    ck_assert_str_eq(frames_to_core(id), "0123456789abcdef");
    /* a frame after the close is ignored */
    rx(0, "late", WHOLE);
    ck_assert_str_eq(frames_to_core(id), "0123456789abcdef");
}
END_TEST

START_TEST(test_single_frame_over_limit)
{
    open_conn(0, "CP1");
    rx(0, "0123456789abcdef", WHOLE); /* 16: fine */
    rx(0, "0123456789abcdefg", WHOLE);
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 1009);
    ck_assert_str_eq(frames_to_core(edge_conn_id(C[0])), "0123456789abcdef");
    edge_conn_closed(E, C[0]);
    ck_assert_uint_eq(counter_label(EDGE_M_CLOSED, "code=\"1009\""), 1);
}
END_TEST

START_TEST(test_binary_and_utf8)
{
    open_conn(0, "CP1");
    rx(0, "bin", WHOLE | EDGE_RX_BINARY);
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 1003);
    /* a character split across fragments is fine */
    open_conn(1, "CP2");
    rx(1, "\xc3", EDGE_RX_FIRST);
    rx(1, "\xa9t\xc3", 0);
    rx(1, "\xa9", EDGE_RX_FINAL);
    ck_assert_str_eq(frames_to_core(edge_conn_id(C[1])), "\xc3\xa9t\xc3\xa9");
    /* a character broken across fragments: 1007, nothing handed on */
    rx(1, "ok\xc3", EDGE_RX_FIRST);
    rx(1, "(", EDGE_RX_FINAL);
    ck_assert_uint_eq(edge_conn_close_code(C[1]), 1007);
    ck_assert_uint_eq(edge_conn_rx_bytes(C[1]), 0);
    ck_assert_str_eq(frames_to_core(edge_conn_id(C[1])), "\xc3\xa9t\xc3\xa9");
    /* invalid in one piece */
    open_conn(2, "CP3");
    rx(2, "\xed\xa0\x80", WHOLE); /* a surrogate */
    ck_assert_uint_eq(edge_conn_close_code(C[2]), 1007);
}
END_TEST

/* ---- flow control ----------------------------------------------------------------------- */

START_TEST(test_core_full_holds_and_keeps_order)
{
    open_conn(0, "CP1");
    uint64_t id = edge_conn_id(C[0]);
    nrec = 0;
    core_rc = -ENOBUFS;
    rx(0, "m1", WHOLE);
    ck_assert(edge_conn_is_held(C[0]));
    ck_assert_int_eq(rec[nrec - 2].kind, OP_READ);
    ck_assert(!rec[nrec - 2].on); /* reading paused */
    ck_assert_int_eq(rec[nrec - 1].kind, OP_WANT_RETRY);
    ck_assert_uint_eq(counter(EDGE_M_FLOW_PAUSES), 1);
    /* still full: still held */
    ck_assert_uint_eq(edge_conns_retry(E, 2000000), 1);
    core_rc = 0;
    ck_assert_uint_eq(edge_conns_retry(E, 2005000), 0);
    ck_assert(!edge_conn_is_held(C[0]));
    ck_assert_int_eq(rec[nrec - 1].kind, OP_READ);
    ck_assert(rec[nrec - 1].on); /* resumed */
    rx(0, "m2", WHOLE);
    ck_assert_str_eq(frames_to_core(id), "m1|m2"); /* handed once each, in order */
    ck_assert_uint_eq(edge_conns_retry(E, 2010000), 0);
    ck_assert_str_eq(frames_to_core(id), "m1|m2");
    /* another core error than full: 1011 */
    core_rc = -EIO;
    rx(0, "m3", WHOLE);
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 1011);
}
END_TEST

START_TEST(test_connect_held_nothing_overtakes)
{
    core_rc = -ENOBUFS;
    open_conn(0, "CP1");
    uint64_t id = edge_conn_id(C[0]);
    ck_assert(edge_conn_is_held(C[0]));
    ck_assert_uint_eq(counter(EDGE_M_FLOW_PAUSES), 1);
    /* lws delivers nothing while reading is paused; a piece that came anyway is not handed on
     * before the CONNECT */
    rx(0, "early", WHOLE);
    ck_assert_uint_eq(count_ops(OP_CORE, -1), 0);
    core_rc = 0;
    ck_assert_uint_eq(edge_conns_retry(E, 3000000), 0);
    rx(0, "m1", WHOLE);
    size_t first = nrec;
    for (size_t i = 0; i < nrec; i++)
        if (rec[i].kind == OP_CORE) {
            first = i;
            break;
        }
    ck_assert_uint_lt(first, nrec);
    ck_assert_int_eq(rec[first].type, ENV_CONNECT);
    ck_assert_uint_eq(rec[first].conn_id, id);
    ck_assert_str_eq(frames_to_core(id), "m1");
    /* a connection that goes away while it holds an envelope frees it (ASan) */
    core_rc = -ENOBUFS;
    rx(0, "m2", WHOLE);
    ck_assert(edge_conn_is_held(C[0]));
    edge_conn_closed(E, C[0]);
    core_rc = 0;
    ck_assert_uint_eq(edge_conns_retry(E, 4000000), 0);
    ck_assert_str_eq(frames_to_core(id), "m1");
}
END_TEST

START_TEST(test_rate_limit_holds_not_drops)
{
    cfg.message_rate = 1;
    cfg.message_burst = 2;
    restart();
    open_conn(0, "CP1");
    uint64_t id = edge_conn_id(C[0]);
    edge_conn_receive(E, C[0], "a", 1, WHOLE, 1000000);
    edge_conn_receive(E, C[0], "b", 1, WHOLE, 1000000);
    edge_conn_receive(E, C[0], "c", 1, WHOLE, 1000000); /* over the burst: held */
    ck_assert(edge_conn_is_held(C[0]));
    ck_assert_uint_eq(counter(EDGE_M_RATE_LIMITED), 1);
    ck_assert_uint_eq(counter(EDGE_M_FLOW_PAUSES), 0);  /* core was not full */
    ck_assert_uint_eq(edge_conns_retry(E, 1500000), 1); /* half a token */
    ck_assert_str_eq(frames_to_core(id), "a|b");
    ck_assert_uint_eq(edge_conns_retry(E, 2000000), 0); /* one second later */
    ck_assert_str_eq(frames_to_core(id), "a|b|c");
    ck_assert(!edge_conn_is_held(C[0]));
    /* the token a held frame took is kept while core is full */
    edge_conn_receive(E, C[0], "d", 1, WHOLE, 4000000);
    core_rc = -ENOBUFS;
    edge_conn_receive(E, C[0], "e", 1, WHOLE, 4000000);
    ck_assert_uint_eq(counter(EDGE_M_FLOW_PAUSES), 1);
    core_rc = 0;
    ck_assert_uint_eq(edge_conns_retry(E, 4000000), 0);
    ck_assert_str_eq(frames_to_core(id), "a|b|c|d|e");
}
END_TEST

/* ---- liveness ----------------------------------------------------------------------------- */

START_TEST(test_liveness_ping_pong_hangup)
{
    /* ping after 2 silent ticks, hang up after 5 */
    open_conn(0, "CP1");
    open_conn(1, "CP2");
    nrec = 0;
    edge_conns_tick(E); /* 1 silent tick */
    ck_assert_uint_eq(count_ops(OP_WANT_WRITE, -1), 0);
    edge_conns_tick(E); /* 2: ping both */
    ck_assert_uint_eq(count_ops(OP_WANT_WRITE, 0), 1);
    ck_assert_uint_eq(count_ops(OP_WANT_WRITE, 1), 1);
    ck_assert_int_eq(edge_conn_writable(E, C[0]), 0);
    ck_assert_int_eq(rec[nrec - 1].kind, OP_PING);
    ck_assert_uint_eq(counter(EDGE_M_PINGS), 1);
    /* conn 0 answers, conn 1 stays silent */
    edge_conn_pong(E, C[0]);
    for (int i = 0; i < 3; i++)
        edge_conns_tick(E); /* tick 5 of silence for conn 1 */
    ck_assert_uint_eq(edge_conn_close_code(C[1]), EDGE_CLOSE_HANGUP);
    ck_assert_int_eq(last_op(OP_CLOSE_NOW)->conn, 1);
    ck_assert_uint_eq(counter(EDGE_M_PING_TIMEOUTS), 1);
    ck_assert(edge_conn_is_open(C[0]));
    /* a hang-up sends no close frame: the writable callback drops the socket */
    ck_assert_int_eq(edge_conn_writable(E, C[1]), -1);
    edge_conn_closed(E, C[1]);
    ck_assert_uint_eq(last_op(OP_DISCONNECT)->code, EDGE_CLOSE_HANGUP);
    ck_assert_str_eq(last_op(OP_DISCONNECT)->data, "ping timeout");
    /* conn 0 goes silent after its pong and is hung up 5 ticks later */
    for (int i = 0; i < 5 && edge_conn_is_open(C[0]); i++)
        edge_conns_tick(E);
    ck_assert_uint_eq(edge_conn_close_code(C[0]), EDGE_CLOSE_HANGUP);
}
END_TEST

START_TEST(test_paused_not_hung_up)
{
    open_conn(0, "CP1");
    core_rc = -ENOBUFS;
    rx(0, "m1", WHOLE);
    ck_assert(edge_conn_is_held(C[0]));
    for (int i = 0; i < 20; i++)
        edge_conns_tick(E);
    ck_assert(edge_conn_is_open(C[0]));                 /* its silence is the edge's doing */
    ck_assert_uint_eq(count_ops(OP_WANT_WRITE, -1), 0); /* not even pinged */
    core_rc = 0;
    ck_assert_uint_eq(edge_conns_retry(E, 2000000), 0);
    /* judged again once reading resumed (its last frame is old now) */
    for (int i = 0; i < 8 && edge_conn_is_open(C[0]); i++)
        edge_conns_tick(E);
    ck_assert_uint_eq(edge_conn_close_code(C[0]), EDGE_CLOSE_HANGUP);
}
END_TEST

START_TEST(test_traffic_keeps_alive)
{
    open_conn(0, "CP1");
    for (int i = 0; i < 30; i++) {
        rx(0, "x", WHOLE);
        edge_conns_tick(E);
    }
    ck_assert(edge_conn_is_open(C[0]));
    ck_assert_uint_eq(count_ops(OP_WANT_WRITE, -1), 0); /* no ping for a talking connection */
}
END_TEST

/* ---- reconciliation with the cores (issue 12) ------------------------------------------------ */

static int announce(const char *stage, uint32_t index, uint64_t instance)
{
    envelope_t env = {.type = ENV_ANNOUNCE};
    env.u.announce.stage = env_str(stage);
    env.u.announce.index = index;
    env.u.announce.instance = instance;
    return edge_conns_from_core(E, &env);
}

static int conn_state(uint64_t conn_id, const char *boot)
{
    envelope_t env = {.type = ENV_CONN_STATE};
    env.u.conn_state.conn_id = conn_id;
    env.u.conn_state.boot_state = env_str(boot);
    return edge_conns_from_core(E, &env);
}

/* the envelopes core took since rec[from], as "C1r" (CONNECT of conn 1, resumed), "F1:m1" */
static const char *to_core_since(size_t from)
{
    static char out[1024];
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = from; i < nrec; i++) {
        const op_t *o = &rec[i];
        if (o->kind != OP_CORE && !(o->kind == OP_DISCONNECT && o->rc == 0))
            continue;
        if (o->type == ENV_CONNECT)
            at += (size_t)snprintf(out + at, sizeof(out) - at, "%sC%" PRIu64 "%s", at ? " " : "",
                                   o->conn_id - T0, o->resumed ? "r" : "");
        else if (o->type == ENV_FRAME)
            at += (size_t)snprintf(out + at, sizeof(out) - at, "%sF%" PRIu64 ":%.*s", at ? " " : "",
                                   o->conn_id - T0, (int)o->len, o->data);
        else if (o->type == ENV_DISCONNECT)
            at += (size_t)snprintf(out + at, sizeof(out) - at, "%sD%" PRIu64, at ? " " : "",
                                   o->conn_id - T0);
        ck_assert_uint_lt(at, sizeof(out));
    }
    return out;
}

START_TEST(test_hello_every_core_and_registry)
{
    edge_conns_hello(E, "ipc:///run/ocppgw/edge-t.sock");
    ck_assert_uint_eq(edge_conns_instance(E), T0);
    ck_assert_uint_eq(nrec, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(rec[i].type, ENV_HELLO);
        ck_assert_int_eq(rec[i].policy, OUTBOX_DROP); /* repeated every second: never queued */
        ck_assert_uint_eq(rec[i].instance, T0);
        ck_assert_str_eq(rec[i].data, "ipc:///run/ocppgw/edge-t.sock");
        ck_assert_str_eq(rec[i].ident, "edge-t");
    }
    ck_assert_uint_eq(rec[0].core, 0);
    ck_assert_uint_eq(rec[1].core, 1);
    ck_assert_int_eq(rec[2].kind, OP_REGISTRY);
    /* a full core drops it (the outbox counts it): nothing held, nothing to retry */
    core_rc = -ENOBUFS;
    edge_conns_hello(E, "x");
    ck_assert_uint_eq(count_ops(OP_WANT_RETRY, -1), 0);
    ck_assert_uint_eq(edge_conns_retry(E, T0), 0);
}
END_TEST

START_TEST(test_conn_state_kept_and_in_frames)
{
    open_conn(0, "CP1");
    uint64_t id = edge_conn_id(C[0]);
    ck_assert_str_eq(edge_conn_boot_state(C[0]), "");
    rx(0, "m0", WHOLE);
    ck_assert_str_eq(last_op(OP_CORE)->boot, ""); /* none reported yet */
    ck_assert_int_eq(conn_state(id, "pending"), 0);
    ck_assert_str_eq(edge_conn_boot_state(C[0]), "pending");
    ck_assert_int_eq(conn_state(id, "accepted"), 0);
    ck_assert_str_eq(edge_conn_boot_state(C[0]), "accepted");
    /* a FRAME carries what a restarted core needs to recover the connection from it */
    rx(0, "m1", WHOLE);
    const op_t *f = last_op(OP_CORE);
    ck_assert_int_eq(f->type, ENV_FRAME);
    ck_assert_str_eq(f->ident, "CP1");
    ck_assert_str_eq(f->sub, "ocpp1.6");
    ck_assert_str_eq(f->boot, "accepted");
    ck_assert_str_eq(f->auth, "basic"); /* as CONNECT.auth (open_conn) */
    /* an unknown state is refused and changes nothing; an unknown connection is counted */
    ck_assert_int_eq(conn_state(id, "booted"), -ERANGE);
    ck_assert_str_eq(edge_conn_boot_state(C[0]), "accepted");
    ck_assert_int_eq(conn_state(id + 100, "none"), 0);
    ck_assert_uint_eq(counter(EDGE_M_STALE), 1);
    /* the per-connection state stays small: bench/bench_edge_idle.sh measures it */
    ck_assert_uint_le(edge_conn_size(), 248); /* as before issues 12 and 13 */
}
END_TEST

START_TEST(test_reannounce_order_and_content)
{
    cfg.core_count = 1;
    restart();
    open_conn(0, "CP-A");
    open_conn_auth(1, "CP-B", 3, "mtls");
    uint64_t a = edge_conn_id(C[0]), b = edge_conn_id(C[1]);
    ck_assert_int_eq(conn_state(b, "accepted"), 0);
    core_rc = -ENOBUFS;
    open_conn(2, "CP-C"); /* core never took its CONNECT: it sends that, not a re-announce */
    core_rc = 0;
    ck_assert(edge_conn_is_held(C[2]));
    open_conn(3, "CP-D");
    close_from_core(edge_conn_id(C[3]), 1000, "bye"); /* closing, not closed: still core's */

    /* the first instance seen: every connection core took, in connection order */
    size_t from = nrec;
    ck_assert_int_eq(announce("core", 0, 777), 0);
    ck_assert_str_eq(to_core_since(from), "C1r C2r C4r");
    ck_assert_uint_eq(edge_conns_core_instance(E, 0), 777);
    ck_assert_uint_eq(counter(EDGE_M_REANNOUNCED), 3);
    const op_t *rb = NULL;
    for (size_t i = from; i < nrec; i++)
        if (rec[i].conn_id == b)
            rb = &rec[i];
    ck_assert_ptr_nonnull(rb);
    ck_assert(rb->resumed);
    ck_assert_uint_eq(rb->at_us, 1000000);  /* when it connected, not now */
    ck_assert_str_eq(rb->boot, "accepted"); /* as core last reported */
    ck_assert_str_eq(rb->data, "CP-B");
    ck_assert_str_eq(rb->sub, "ocpp1.6");
    ck_assert_str_eq(rb->peer, "10.0.0.1:40001");
    ck_assert_str_eq(rb->auth, "mtls"); /* as established: a resumed session is not a lesser one */
    ck_assert_uint_eq(rb->profile, 3);
    ck_assert(!edge_conn_reannounce_pending(C[0]) && !edge_conn_reannounce_pending(C[1]));

    /* the same instance again: nothing; another stage's: nothing; a bad index: refused */
    from = nrec;
    ck_assert_int_eq(announce("core", 0, 777), 0);
    ck_assert_int_eq(announce("registry", 0, 999), 0);
    ck_assert_int_eq(announce("core", 1, 999), -ERANGE);
    ck_assert_int_eq(announce("core", 0, 0), 0); /* an older core without an instance */
    ck_assert_str_eq(to_core_since(from), "");

    /* a restart: each once more, and the CONNECT that was held goes as a plain CONNECT */
    ck_assert_uint_eq(edge_conns_retry(E, 2000000), 0);
    from = nrec;
    ck_assert_int_eq(announce("core", 0, 778), 0);
    ck_assert_str_eq(to_core_since(from), "C1r C2r C3r C4r");
    ck_assert_uint_eq(counter(EDGE_M_CORE_INSTANCES), 2);
    (void)a;
}
END_TEST

/* A CALL handed to a core that then restarted: answered by the new core, nothing happens; left
 * unanswered LOST_CALL_TICKS (5) ticks after the restart was seen, the connection is closed with
 * 1012 so that the station sends it again after reconnecting. */
START_TEST(test_lost_call_after_core_restart)
{
    cfg.core_count = 1;
    cfg.ping_interval_ms = 30000; /* no liveness close within the test */
    cfg.idle_timeout_ms = 90000;
    cfg.max_message_bytes = 256;
    cfg.send_queue_bytes = 1024;
    restart();
    ck_assert_int_eq(announce("core", 0, 1), 0);
    open_conn(0, "CP-A");
    open_conn(1, "CP-B");
    open_conn(2, "CP-C");
    uint64_t a = edge_conn_id(C[0]), b = edge_conn_id(C[1]);
    rx(0, " [ 2 ,\"m1\",\"MeterValues\",{}]", WHOLE); /* spaces are allowed */
    rx(1, "[2,\"m2\",\"TransactionEvent\",{}]", WHOLE);
    rx(2, "[3,\"d1\",{}]", WHOLE); /* an answer of the station: no CALL of its own open */
    ck_assert_int_eq(announce("core", 0, 2), 0); /* the core restarted */
    send_from_core(b, "[3,\"m2\",{}]");          /* the new core had B's CALL: answered */
    for (int i = 0; i < 4; i++)
        edge_conns_tick(E);
    ck_assert_msg(edge_conn_is_open(C[0]), "closed %u %s", edge_conn_close_code(C[0]),
                  edge_conn_close_reason(C[0]));
    edge_conns_tick(E); /* 5 ticks after the restart */
    ck_assert(!edge_conn_is_open(C[0]));
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 1012);
    ck_assert(edge_conn_is_open(C[1]));
    ck_assert(edge_conn_is_open(C[2]));
    ck_assert_uint_eq(counter(EDGE_M_LOST_CALL_CLOSES), 1);
    /* a CALL answered with a CALLERROR, and a downlink CALL of the core, do not count */
    rx(1, "[2,\"m3\",\"Heartbeat\",{}]", WHOLE);
    send_from_core(b, "[4,\"m3\",\"InternalError\",\"\",{}]");
    send_from_core(b, "[2,\"c1\",\"Reset\",{}]");
    ck_assert_int_eq(announce("core", 0, 3), 0);
    for (int i = 0; i < 8; i++)
        edge_conns_tick(E);
    ck_assert(edge_conn_is_open(C[1]));
    ck_assert_uint_eq(counter(EDGE_M_LOST_CALL_CLOSES), 1);
    (void)a;
}
END_TEST

START_TEST(test_reannounce_before_later_frames_while_full)
{
    cfg.core_count = 1;
    restart();
    open_conn(0, "CP-A");
    open_conn(1, "CP-B");
    rx(0, "m0", WHOLE);
    ck_assert_int_eq(announce("core", 0, 1), 0);
    /* the core restarts while it is full: nothing can be re-announced yet */
    core_rc = -ENOBUFS;
    nrec = 0;
    ck_assert_int_eq(announce("core", 0, 2), 0);
    ck_assert_uint_eq(count_ops(OP_CORE, -1), 0);
    ck_assert_uint_eq(count_ops(OP_WANT_RETRY, -1), 1);
    ck_assert(edge_conn_reannounce_pending(C[0]) && edge_conn_reannounce_pending(C[1]));
    /* core has room again, but conn 0's new message waits behind its re-announce; a new
     * connection waits behind the re-announce of the older ones */
    core_rc = 0;
    rx(0, "m1", WHOLE);
    ck_assert(edge_conn_is_held(C[0]));
    open_conn(2, "CP-C");
    ck_assert(edge_conn_is_held(C[2]));
    ck_assert_uint_eq(count_ops(OP_CORE, -1), 0);
    ck_assert_uint_eq(edge_conns_retry(E, 2000000), 0);
    ck_assert_str_eq(to_core_since(0), "C1r C2r F1:m1 C3");
    ck_assert(!edge_conn_is_held(C[0]) && !edge_conn_is_held(C[2]));
    /* later frames go at once */
    rx(0, "m2", WHOLE);
    rx(2, "n1", WHOLE);
    ck_assert_str_eq(to_core_since(0), "C1r C2r F1:m1 C3 F1:m2 F3:n1");
}
END_TEST

START_TEST(test_reannounce_full_midway_resumes_in_order)
{
    cfg.core_count = 1;
    restart();
    for (int i = 0; i < NCONN; i++) {
        char id[8];
        snprintf(id, sizeof(id), "CP%d", i);
        open_conn(i, id);
    }
    ck_assert_int_eq(announce("core", 0, 1), 0);
    /* the core restarts and has room for two: the other two wait, in order */
    nrec = 0;
    core_room = 2;
    ck_assert_int_eq(announce("core", 0, 2), 0);
    ck_assert_str_eq(to_core_since(0), "C1r C2r");
    ck_assert(!edge_conn_reannounce_pending(C[1]) && edge_conn_reannounce_pending(C[2]));
    rx(0, "a", WHOLE); /* re-announced already, but core is full: held */
    rx(2, "b", WHOLE); /* waits behind its re-announce */
    ck_assert(edge_conn_is_held(C[0]) && edge_conn_is_held(C[2]));
    /* room again; one of the waiting connections closes first: skipped, its DISCONNECT goes */
    core_room = -1;
    edge_conn_closed(E, C[3]);
    ck_assert_uint_eq(edge_conns_retry(E, 2000000), 0);
    ck_assert_str_eq(to_core_since(0), "C1r C2r D4 C3r F1:a F3:b");
}
END_TEST

START_TEST(test_disconnect_must_and_only_if_announced)
{
    open_conn(0, "CP1");
    open_conn(1, "CP2");
    core_rc = -ENOBUFS;
    open_conn(2, "CP3"); /* its CONNECT never left */
    must_room = 2;
    edge_conn_closed(E, C[0]);
    edge_conn_closed(E, C[2]);
    edge_conn_closed(E, C[1]);
    /* one DISCONNECT per connection core heard of, MUST, queued although core is full */
    ck_assert_uint_eq(count_ops(OP_DISCONNECT, -1), 2);
    for (size_t i = 0; i < nrec; i++)
        if (rec[i].kind == OP_DISCONNECT) {
            ck_assert_int_eq(rec[i].policy, OUTBOX_MUST);
            ck_assert_int_eq(rec[i].rc, 0);
        }
    ck_assert_uint_eq(edge_conns_retry(E, 2000000), 0); /* the held CONNECT was pruned */
}
END_TEST

/* ---- limits on partial messages (issue 13) -----------------------------------------------------
 */

START_TEST(test_rx_budget_closes_1009)
{
    cfg.max_message_bytes = 8192;
    cfg.rx_budget_bytes = 3 * 1024;
    restart();
    open_conn(0, "CP1");
    open_conn(1, "CP2");
    char piece[600];
    memset(piece, 'a', sizeof(piece) - 1);
    piece[sizeof(piece) - 1] = '\0';
    rx(0, piece, EDGE_RX_FIRST); /* 1 KiB buffer */
    rx(0, piece, 0);             /* 2 KiB */
    ck_assert_uint_eq(edge_conns_partial_bytes(E), 2048);
    rx(1, piece, EDGE_RX_FIRST); /* 1 KiB more: 3 KiB, the budget */
    ck_assert_uint_eq(edge_conns_partial_bytes(E), 3072);
    rx(1, piece, 0);
    rx(1, piece, 0); /* needs 2 KiB: over the budget */
    ck_assert_uint_eq(edge_conn_close_code(C[1]), 1009);
    ck_assert_uint_eq(edge_conn_rx_bytes(C[1]), 0);
    ck_assert_uint_eq(edge_conns_partial_bytes(E), 2048); /* freed at once */
    ck_assert_uint_eq(counter_label(EDGE_M_LIMIT_CLOSES, "reason=\"rx_budget\""), 1);
    ck_assert(edge_conn_is_open(C[0]));
    /* conn 0 completes its message: handed on, buffer freed */
    rx(0, "z", EDGE_RX_FINAL);
    ck_assert_uint_eq(edge_conns_partial_bytes(E), 0);
    ck_assert_uint_eq(strlen(frames_to_core(edge_conn_id(C[0]))), 2 * 599 + 1);
}
END_TEST

START_TEST(test_rx_budget_drops_oldest_stalled)
{
    /* partial messages stalled for a second or more make room for a station's message */
    cfg.max_message_bytes = 8192;
    cfg.rx_budget_bytes = 3 * 1024;
    cfg.message_timeout_ms = 30000;
    restart();
    open_conn(0, "STALL1");
    open_conn(1, "STALL2");
    open_conn(2, "CP");
    char piece[600];
    memset(piece, 's', sizeof(piece) - 1);
    piece[sizeof(piece) - 1] = '\0';
    rx(0, piece, EDGE_RX_FIRST);
    rx(0, piece, 0); /* 2 KiB, stalled from now on */
    edge_conns_tick(E);
    rx(1, piece, EDGE_RX_FIRST); /* 1 KiB: the budget is full */
    edge_conns_tick(E);
    ck_assert_uint_eq(edge_conns_partial_bytes(E), 3072);
    rx(2, piece, EDGE_RX_FIRST); /* needs 1 KiB: the oldest stalled one goes */
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 1009);
    ck_assert_str_eq(edge_conn_close_reason(C[0]), "partial message dropped: over budget");
    ck_assert(edge_conn_is_open(C[1]) && edge_conn_is_open(C[2]));
    ck_assert_uint_eq(edge_conns_partial_bytes(E), 2048);
    rx(2, "}", EDGE_RX_FINAL);
    ck_assert_uint_eq(strlen(frames_to_core(edge_conn_id(C[2]))), 600);
    /* conn 1 began one tick ago only: too young to be dropped, the newcomer is closed */
    open_conn(3, "CP2");
    rx(3, piece, EDGE_RX_FIRST);
    rx(3, piece, 0);
    rx(3, piece, 0); /* 2 KiB: the budget is full again */
    rx(3, piece, 0); /* 4 KiB would be 1 + 4 > 3 */
    ck_assert(edge_conn_is_open(C[1]));
    ck_assert_uint_eq(edge_conn_close_code(C[3]), 1009);
    ck_assert_str_eq(edge_conn_close_reason(C[3]), "partial messages over budget");
    ck_assert_uint_eq(counter_label(EDGE_M_LIMIT_CLOSES, "reason=\"rx_budget\""), 2);
}
END_TEST

START_TEST(test_rx_growth_geometric)
{
    cfg.max_message_bytes = 65536;
    restart();
    open_conn(0, "CP1");
    rx(0, "x", EDGE_RX_FIRST);
    ck_assert_uint_eq(edge_conns_partial_bytes(E), EDGE_RX_MIN_BYTES);
    /* 60 KiB in 1-byte... 60-byte pieces: the capacity doubles, 1 K, 2 K, ..., 64 K */
    char piece[61];
    memset(piece, 'p', 60);
    piece[60] = '\0';
    size_t grows = 0, cap = EDGE_RX_MIN_BYTES;
    for (int i = 0; i < 1024; i++) {
        rx(0, piece, 0);
        if (edge_conns_partial_bytes(E) != cap) {
            ck_assert_uint_eq(edge_conns_partial_bytes(E), cap * 2);
            cap *= 2;
            grows++;
        }
    }
    ck_assert_uint_eq(cap, 65536); /* capped at max_message_bytes */
    ck_assert_uint_eq(grows, 6);
    ck_assert_uint_eq(edge_conn_rx_bytes(C[0]), 1 + 1024 * 60);
}
END_TEST

START_TEST(test_message_timeout_closes_1008)
{
    open_conn(0, "CP1");
    open_conn(1, "CP2");
    rx(0, "part", EDGE_RX_FIRST);
    /* pongs and other traffic do not extend the deadline of the message (3 s) */
    for (int i = 0; i < 2; i++) {
        edge_conn_pong(E, C[0]);
        edge_conns_tick(E);
        rx(1, "x", WHOLE);
    }
    ck_assert(edge_conn_is_open(C[0]));
    edge_conns_tick(E); /* 3 ticks after it began (precision: a tick, as for liveness) */
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 1008);
    ck_assert_str_eq(edge_conn_close_reason(C[0]), "partial message not completed in time");
    ck_assert_uint_eq(edge_conn_rx_bytes(C[0]), 0);
    ck_assert_uint_eq(edge_conns_partial_bytes(E), 0);
    ck_assert_uint_eq(counter_label(EDGE_M_LIMIT_CLOSES, "reason=\"message_timeout\""), 1);
    ck_assert(edge_conn_is_open(C[1]));
    /* a message completed in time resets it */
    rx(1, "a", EDGE_RX_FIRST);
    edge_conns_tick(E);
    edge_conns_tick(E);
    rx(1, "b", EDGE_RX_FINAL);
    rx(1, "c", EDGE_RX_FIRST);
    edge_conns_tick(E);
    edge_conns_tick(E);
    ck_assert(edge_conn_is_open(C[1]));
    ck_assert_str_eq(frames_to_core(edge_conn_id(C[1])), "x|x|ab");
}
END_TEST

START_TEST(test_peer_counts_and_close_labels)
{
    open_conn(0, "CP1");
    open_conn(1, "CP2");
    edge_addr_t a = addr_v4(1, 1), other = addr_v4(2, 1);
    ck_assert_uint_eq(edge_conns_peer_count(E, &a), 2); /* the port does not matter */
    ck_assert_uint_eq(edge_conns_peer_count(E, &other), 0);
    /* a peer's odd close code is counted under "other", not as a new series */
    edge_conn_peer_close(E, C[0], 4321);
    edge_conn_closed(E, C[0]);
    ck_assert_uint_eq(counter_label(EDGE_M_CLOSED, "code=\"other\""), 1);
    ck_assert_uint_eq(last_op(OP_DISCONNECT)->code, 4321); /* core still gets the real code */
    ck_assert_uint_eq(edge_conns_peer_count(E, &a), 1);
    edge_conn_closed(E, C[1]);
    ck_assert_uint_eq(edge_conns_peer_count(E, &a), 0);
}
END_TEST

START_TEST(test_held_set_pruned)
{
    /* many connections hold and resume one after the other: the set of held connections
     * never keeps the ones that resumed */
    open_conn(0, "CP1");
    open_conn(1, "CP2");
    for (int round = 0; round < 100; round++) {
        core_rc = -ENOBUFS;
        rx(round % 2, "m", WHOLE);
        core_rc = 0;
        ck_assert_uint_eq(edge_conns_retry(E, 2000000), 0);
    }
    /* one stays held while the other holds and resumes */
    core_rc = -ENOBUFS;
    rx(0, "stuck", WHOLE);
    ck_assert_uint_eq(edge_conns_retry(E, 2000000), 1);
    edge_conn_closed(E, C[0]);
    ck_assert_uint_eq(edge_conns_retry(E, 2000000), 0);
}
END_TEST

/* ---- drain ---------------------------------------------------------------------------------- */

START_TEST(test_drain_staggered)
{
    for (int i = 0; i < NCONN; i++) {
        char id[8];
        snprintf(id, sizeof(id), "CP%d", i);
        open_conn(i, id);
    }
    send_from_core(edge_conn_id(C[0]), "last words");
    ck_assert_int_eq(edge_conns_drain_begin(E), 0);
    ck_assert(!edge_conns_drain_step(E, 1000, 0));
    ck_assert_uint_eq(count_ops(OP_CLOSE_NOW, -1) + count_ops(OP_DEADLINE, -1), 0);
    ck_assert(!edge_conns_drain_step(E, 1000, 500)); /* half of them */
    int closing = 0;
    for (int i = 0; i < NCONN; i++)
        closing += !edge_conn_is_open(C[i]);
    ck_assert_int_eq(closing, NCONN / 2);
    ck_assert(!edge_conns_drain_step(E, 1000, 1000)); /* all asked, none gone yet */
    for (int i = 0; i < NCONN; i++) {
        ck_assert_uint_eq(edge_conn_close_code(C[i]), 1001);
        edge_conn_closed(E, C[i]);
    }
    ck_assert(edge_conns_drain_step(E, 1000, 1100));
}
END_TEST

/* A station whose CALL is open when the drain reaches it gets its answer, then the close. */
START_TEST(test_drain_waits_for_open_call)
{
    cfg.max_message_bytes = 256;
    cfg.send_queue_bytes = 1024;
    restart();
    open_conn(0, "CP-A");
    open_conn(1, "CP-B");
    uint64_t a = edge_conn_id(C[0]);
    rx(0, "[2,\"h1\",\"Heartbeat\",{}]", WHOLE);
    ck_assert_int_eq(edge_conns_drain_begin(E), 0);
    ck_assert(!edge_conns_drain_step(E, 1000, 1000)); /* every connection's turn */
    ck_assert(edge_conn_is_open(C[0]));               /* its CALL is open */
    ck_assert(!edge_conn_is_open(C[1]));
    nrec = 0;
    send_from_core(a, "[3,\"h1\",{}]");
    ck_assert(!edge_conn_is_open(C[0]));
    ck_assert_uint_eq(edge_conn_close_code(C[0]), 1001);
    ck_assert_int_eq(count_ops(OP_CLOSE_NOW, -1), 0); /* the answer first, then the close */
    ck_assert_int_eq(edge_conn_writable(E, C[0]), 0);
    ck_assert_int_eq(rec[nrec - 2].kind, OP_TEXT);
    ck_assert_str_eq(rec[nrec - 2].data, "[3,\"h1\",{}]");
    edge_conn_closed(E, C[0]);
    edge_conn_closed(E, C[1]);
    ck_assert(edge_conns_drain_step(E, 1000, 1100));
}
END_TEST

/* ---- with a real outbox in front of a core that is not there yet ---------------------------- */

#define RCONN 120
static char rdir[64];
static char *rendpoint;
static outbox_t *rout; /* core 0's outbox: hwm 2, then 2 KiB, MUST up to 8 KiB */
static bool rreading[RCONN];

static int rop_send(void *arg, edge_peer_t to, uint32_t index, const envelope_t *env,
                    outbox_policy_t policy)
{
    (void)arg;
    (void)index;
    return to == EDGE_TO_CORE ? outbox_send(rout, env, policy) : 0;
}

static void rop_read_enable(void *arg, void *io, bool on)
{
    (void)arg;
    rreading[io_index(io)] = on;
}

static void rop_none(void *arg)
{
    (void)arg;
}

static void rop_io(void *arg, void *io)
{
    (void)arg;
    (void)io;
}

static void rop_deadline(void *arg, void *io, unsigned int s)
{
    (void)arg;
    (void)io;
    (void)s;
}

static const edge_conns_ops_t ROPS = {
    .send = rop_send,
    .want_retry = rop_none,
    .read_enable = rop_read_enable,
    .want_write = rop_io,
    .write_text = op_write_text,
    .write_ping = op_write_ping,
    .close_now = rop_io,
    .close_deadline = rop_deadline,
};

static void rsetup(void)
{
    log_set_fd(-1); /* drops are logged on purpose */
    snprintf(rdir, sizeof(rdir), "/tmp/ocppgw-edge-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rdir));
    rendpoint = channel_ipc_endpoint(rdir, "core-0");
    zsock_t *push = channel_push_connect(rendpoint, 2);
    rout = outbox_new(&push, "core", 2048);
    ck_assert_ptr_nonnull(rout);
    memset(&cfg, 0, sizeof(cfg));
    cfg.edge_id = "edge-r";
    cfg.core_count = 1;
    cfg.max_message_bytes = 1024;
    cfg.send_queue_bytes = 1024;
    cfg.message_burst = 100;
    cfg.ping_interval_ms = 30000;
    cfg.idle_timeout_ms = 90000;
    cfg.message_timeout_ms = 30000;
    E = edge_conns_new(&cfg, HEADROOM, T0, &ROPS, NULL);
    ck_assert_ptr_nonnull(E);
}

static void rteardown(void)
{
    edge_conns_destroy(&E);
    outbox_destroy(&rout);
    char path[128];
    snprintf(path, sizeof(path), "%s/core-0.sock", rdir);
    unlink(path);
    rmdir(rdir);
    free(rendpoint);
    metrics_shutdown();
}

static uint64_t drops(const char *type)
{
    char labels[64];
    snprintf(labels, sizeof(labels), "to=\"core\",type=\"%s\"", type);
    return metrics_counter_get(metrics_counter("envelopes_dropped_total", NULL, labels));
}

typedef struct {
    size_t connects, disconnects, frames[RCONN];
    bool order_ok;
} core_view_t;

static void core_took(const envelope_t *env, void *arg)
{
    core_view_t *v = arg;
    if (env->type == ENV_CONNECT) {
        v->connects++;
    } else if (env->type == ENV_DISCONNECT) {
        v->disconnects++;
    } else if (env->type == ENV_FRAME) {
        size_t i = (size_t)(env->u.frame.conn_id - T0 - 1);
        char want[16];
        snprintf(want, sizeof(want), "m%02zu", v->frames[i]);
        if (i >= RCONN || env->u.frame.data.len < 3 || memcmp(env->u.frame.data.ptr, want, 3) != 0)
            v->order_ok = false;
        else
            v->frames[i]++;
    }
}

/* The core binds at last and reads everything: the edge's outbox flushes, what it held goes. */
static void core_reads_all(zsock_t *pull, core_view_t *v, size_t expect)
{
    for (int round = 0; round < 2000; round++) {
        outbox_flush(rout);
        edge_conns_retry(E, 5000000);
        channel_drain(pull, 1000, "edge", core_took, v);
        size_t n = v->connects + v->disconnects;
        for (int i = 0; i < RCONN; i++)
            n += v->frames[i];
        if (n >= expect && outbox_queued(rout) == 0)
            return;
        usleep(1000);
    }
}

START_TEST(test_real_outbox_nothing_lost_while_core_full)
{
    edge_conn_t *conns[RCONN];
    size_t sent[RCONN] = {0};
    enum {
        MSGS = 20
    };
    for (int i = 0; i < 5; i++) {
        conns[i] = calloc(1, edge_conn_size());
        char id[16];
        snprintf(id, sizeof(id), "CPR%d", i);
        rreading[i] = true;
        edge_conn_established(E, conns[i], io_of(i), id, "ocpp1.6", NULL, 1, "basic", T0);
    }
    /* the stations send as long as the edge reads them; the core is not there */
    char msg[128];
    for (int pass = 0; pass < 50; pass++) {
        for (int i = 0; i < 5; i++)
            while (rreading[i] && sent[i] < MSGS) {
                snprintf(msg, sizeof(msg), "m%02zu%0100d", sent[i]++, 0);
                edge_conn_receive(E, conns[i], msg, strlen(msg), EDGE_RX_FIRST | EDGE_RX_FINAL, T0);
            }
        outbox_flush(rout);
        edge_conns_retry(E, T0);
    }
    size_t waiting = 0;
    for (int i = 0; i < 5; i++)
        waiting += edge_conn_is_held(conns[i]);
    ck_assert_uint_gt(waiting, 0); /* the outbox was full: they stopped reading */
    ck_assert_uint_le(outbox_queued_bytes(rout), 2048);
    zsock_t *pull = channel_pull_bind(rendpoint, 1000);
    ck_assert_ptr_nonnull(pull);
    core_view_t v = {.order_ok = true};
    for (int pass = 0; pass < 200; pass++) { /* the rest of the messages, now that core reads */
        for (int i = 0; i < 5; i++)
            while (rreading[i] && sent[i] < MSGS) {
                snprintf(msg, sizeof(msg), "m%02zu%0100d", sent[i]++, 0);
                edge_conn_receive(E, conns[i], msg, strlen(msg), EDGE_RX_FIRST | EDGE_RX_FINAL, T0);
            }
        core_reads_all(pull, &v, 0);
    }
    core_reads_all(pull, &v, 5 + 5 * MSGS);
    ck_assert(v.order_ok);
    ck_assert_uint_eq(v.connects, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_uint_eq(v.frames[i], MSGS); /* each once, in order */
    ck_assert_uint_eq(drops("frame") + drops("connect"), 0);
    for (int i = 0; i < 5; i++) {
        edge_conn_closed(E, conns[i]);
        free(conns[i]);
    }
    zsock_destroy(&pull);
}
END_TEST

START_TEST(test_real_outbox_disconnect_must)
{
    /* the core is not there: CONNECTs fill ZeroMQ's queue and the outbox's 2 KiB (TRY); the
     * DISCONNECTs of all of them still queue (MUST, up to 4 x 2 KiB): none is dropped */
    edge_conn_t *conns[RCONN];
    size_t opened = 0;
    for (int i = 0; i < RCONN; i++) {
        conns[i] = calloc(1, edge_conn_size());
        char id[32];
        snprintf(id, sizeof(id), "CP-MUST-IDENTITY-%03d", i);
        edge_conn_established(E, conns[i], io_of(i), id, "ocpp1.6", NULL, 1, "basic", T0);
        opened += !edge_conn_is_held(conns[i]);
    }
    ck_assert_uint_lt(opened, RCONN); /* some CONNECTs wait: core is full */
    for (int i = 0; i < RCONN; i++) {
        edge_conn_closed(E, conns[i]);
        free(conns[i]);
    }
    ck_assert_uint_eq(drops("disconnect"), 0);
    ck_assert_uint_gt(outbox_queued_bytes(rout), 2048); /* past the TRY bound */
    ck_assert_uint_eq(edge_conns_retry(E, T0), 0);      /* held CONNECTs of closed ones: gone */
    zsock_t *pull = channel_pull_bind(rendpoint, 1000);
    ck_assert_ptr_nonnull(pull);
    core_view_t v = {.order_ok = true};
    core_reads_all(pull, &v, 2 * opened);
    /* one DISCONNECT for every connection core heard of, none for the others */
    ck_assert_uint_eq(v.connects, opened);
    ck_assert_uint_eq(v.disconnects, opened);
    zsock_destroy(&pull);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_conn");
    TCase *tc = tcase_create("engine");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_connect_frame_disconnect);
    tcase_add_test(tc, test_bad_identity_never_reaches_core);
    tcase_add_test(tc, test_auth_kept_per_connection);
    tcase_add_test(tc, test_slow_reader);
    tcase_add_test(tc, test_reply_before_close);
    tcase_add_test(tc, test_write_failure_drops);
    tcase_add_test(tc, test_reassembly_up_to_the_limit);
    tcase_add_test(tc, test_single_frame_over_limit);
    tcase_add_test(tc, test_binary_and_utf8);
    tcase_add_test(tc, test_core_full_holds_and_keeps_order);
    tcase_add_test(tc, test_connect_held_nothing_overtakes);
    tcase_add_test(tc, test_rate_limit_holds_not_drops);
    tcase_add_test(tc, test_liveness_ping_pong_hangup);
    tcase_add_test(tc, test_paused_not_hung_up);
    tcase_add_test(tc, test_traffic_keeps_alive);
    tcase_add_test(tc, test_drain_staggered);
    tcase_add_test(tc, test_drain_waits_for_open_call);
    tcase_add_test(tc, test_hello_every_core_and_registry);
    tcase_add_test(tc, test_conn_state_kept_and_in_frames);
    tcase_add_test(tc, test_reannounce_order_and_content);
    tcase_add_test(tc, test_lost_call_after_core_restart);
    tcase_add_test(tc, test_reannounce_before_later_frames_while_full);
    tcase_add_test(tc, test_reannounce_full_midway_resumes_in_order);
    tcase_add_test(tc, test_disconnect_must_and_only_if_announced);
    tcase_add_test(tc, test_rx_budget_closes_1009);
    tcase_add_test(tc, test_rx_budget_drops_oldest_stalled);
    tcase_add_test(tc, test_rx_growth_geometric);
    tcase_add_test(tc, test_message_timeout_closes_1008);
    tcase_add_test(tc, test_peer_counts_and_close_labels);
    tcase_add_test(tc, test_held_set_pruned);
    suite_add_tcase(s, tc);
    TCase *real = tcase_create("real outbox");
    tcase_add_checked_fixture(real, rsetup, rteardown);
    tcase_set_timeout(real, 30);
    tcase_add_test(real, test_real_outbox_nothing_lost_while_core_full);
    tcase_add_test(real, test_real_outbox_disconnect_must);
    suite_add_tcase(s, real);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
