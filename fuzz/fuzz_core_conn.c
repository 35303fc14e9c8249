/* fuzz_core_conn.c: libFuzzer driver for core_conn, the engine of ocpp-core.
 *
 * The input is read as a sequence of events, each an opcode byte and its argument bytes:
 * HELLO, CONNECT (3 edges x 8 conn ids, 4 identities, 1.6 / 2.0.1 / 2.1 / unknown
 * subprotocol), FRAME (OCPP 1.6 and 2.0.1 messages from a small dictionary, valid and broken,
 * with a few message ids; a response to the CALL last sent on that connection; or raw fuzz
 * bytes), DISCONNECT, EVENT_ACK (a token the engine used or a random one, status 0 or an
 * error), COMMAND (small records, for connected identities or not), REGISTERED, SUPERSEDED,
 * REGISTRY_BUSY, the bridge refusing sends, and the fake clock moving with or without a tick.
 * At the end the clock jumps far ahead, every connection disconnects and the engine ticks.
 *
 * Invariants, checked in the recording ops (abort on a violation):
 *  - at most one RESULT per command token, and exactly one for each once everything ended;
 *  - a CALLRESULT answering a message whose answer waits for persistence is never sent before
 *    an EVENT_ACK with status 0 for its event's token; that ack sends it exactly once; an ack
 *    for an answer nobody waits for any more sends nothing;
 *  - nothing is sent to a connection (SEND or CLOSE for its conn id) after its DISCONNECT, nor
 *    to one that never connected;
 *  - memory stays bounded: connections <= open connections, held answers == answers the
 *    driver sees waiting (<= connections), queues <= command_queue_max, one timer at most per
 *    connection; all zero at the end.
 * Seeds: fuzz/corpus/core_conn/. */
#include "core_actions.h"
#include "core_conn.h"
#include "log.h"
#include "ocpp_frame.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEC       1000000ULL
#define T0        (1735689600ULL * SEC) /* 2025-01-01T00:00:00Z */
#define EDGES     3
#define CONNS     8
#define SLOTS     (EDGES * CONNS)
#define QUEUE_MAX 3
#define MAX_OPS   400
#define MAX_CMDS  512

static const char *const EDGE_IDS[EDGES] = {"edge-a", "edge-b", "edge-c"};
static const char *const IDENTITIES[] = {"CP0", "CP1", "CP2", "CP3", "CP-none"};
static const char *const SUBPROTOCOLS[] = {"ocpp1.6", "ocpp2.0.1", "ocpp2.1", "ocpp0.1"};
static const char *const MESSAGE_IDS[] = {"1", "2", "s1"};

/* frames: %s is the message id */
static const char *const FRAMES[] = {
    "[2,\"%s\",\"BootNotification\",{\"chargePointVendor\":\"V\",\"chargePointModel\":\"M\"}]",
    "[2,\"%s\",\"BootNotification\",{\"reason\":\"PowerUp\",\"chargingStation\":{\"model\":\"M\","
    "\"vendorName\":\"V\"}}]",
    "[2,\"%s\",\"Heartbeat\",{}]",
    "[2,\"%s\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":\"TAG\",\"meterStart\":0,"
    "\"timestamp\":\"2025-01-01T00:00:00Z\"}]",
    "[2,\"%s\",\"StopTransaction\",{\"transactionId\":5,\"meterStop\":10,"
    "\"timestamp\":\"2025-01-01T00:10:00Z\"}]",
    "[2,\"%s\",\"MeterValues\",{\"connectorId\":1,\"transactionId\":5,\"meterValue\":[{"
    "\"timestamp\":\"2025-01-01T00:00:00Z\",\"sampledValue\":[{\"value\":\"10\"}]}]}]",
    "[2,\"%s\",\"MeterValues\",{\"connectorId\":1,\"meterValue\":[{"
    "\"timestamp\":\"2025-01-01T00:00:00Z\",\"sampledValue\":[{\"value\":\"10\"}]}]}]",
    "[2,\"%s\",\"TransactionEvent\",{\"eventType\":\"Started\",\"timestamp\":"
    "\"2025-01-01T00:00:00Z\",\"triggerReason\":\"Authorized\",\"seqNo\":0,"
    "\"transactionInfo\":{\"transactionId\":\"T1\"}}]",
    "[2,\"%s\",\"SecurityEventNotification\",{\"type\":\"FirmwareUpdated\","
    "\"timestamp\":\"2025-01-01T00:00:00Z\"}]",
    "[2,\"%s\",\"SecurityEventNotification\",{\"type\":\"InvalidMessages\","
    "\"timestamp\":\"2025-01-01T00:00:00Z\"}]",
    "[2,\"%s\",\"Authorize\",{\"idTag\":\"TAG\"}]",
    "[2,\"%s\",\"StatusNotification\",{\"connectorId\":1,\"errorCode\":\"NoError\","
    "\"status\":\"Available\"}]",
    "[2,\"%s\",\"BootNotification\",{}]",
    "[2,\"%s\",\"NoSuchAction\",{}]",
    "[2,\"%s\",\"Reset\",{\"type\":\"Hard\"}]",
    "[2,\"%s\",\"Heartbeat\"]",
    "[2,\"%s\",\"Heartbeat\",[]]",
    "[3,\"%s\",{}]",
    "[3,\"%s\"]",
    "[4,\"%s\",\"GenericError\",\"\",{}]",
    "[5,\"%s\",\"GenericError\",\"no\",{}]",
    "[6,\"%s\",\"NotifyPeriodicEventStream\",{}]",
    "[9,\"%s\",{}]",
    "not json %s",
    "[2,\"\",\"Heartbeat\",{}]",
};
#define NFRAMES (sizeof(FRAMES) / sizeof(FRAMES[0]))

static const char *const RESPONSES[] = {
    "[3,\"%s\",{\"status\":\"Accepted\"}]",  "[3,\"%s\",{\"status\":\"Rejected\"}]",
    "[3,\"%s\",{\"status\":\"Maybe\"}]",     "[3,\"%s\",{}]",
    "[4,\"%s\",\"NotSupported\",\"no\",{}]",
};

static const char *const RECORDS[] = {
    "{\"command_id\":\"c\",\"action\":\"Reset\",\"payload\":{\"type\":\"Hard\"}}",
    "{\"command_id\":\"c\",\"action\":\"Reset\",\"payload\":{\"type\":\"Immediate\"}}",
    "{\"command_id\":\"c\",\"action\":\"ClearCache\"}",
    "{\"command_id\":\"c\",\"action\":\"ClearCache\",\"ttl_ms\":1500,\"priority\":2}",
    "{\"command_id\":\"c\",\"action\":\"ClearCache\",\"expires_at\":\"2025-01-01T00:00:03Z\"}",
    "{\"command_id\":\"c\",\"action\":\"reset\",\"payload\":{\"type\":\"hard\"}}",
    "{\"command_id\":\"c\",\"action\":\"TriggerMessage\",\"payload\":"
    "{\"requestedMessage\":\"Heartbeat\"}}",
    "{\"action\":\"Reset\"}",
    "[1]",
};

/* the driver's view of one (edge, conn id) */
typedef struct {
    int open;                                 /* CONNECT seen, DISCONNECT not yet */
    int version;                              /* ocpp_version_t + 1 of a valid CONNECT, 0: none */
    char last_call[OCPP_MESSAGE_ID_MAX + 1];  /* message id of the last CALL sent to it */
    int waiting;                              /* an answer waits for persistence */
    uint64_t token;                           /* its event's token */
    char message_id[OCPP_MESSAGE_ID_MAX + 1]; /* the message it answers */
    int acked;                                /* EVENT_ACK status 0 delivered */
} slot_t;

static struct {
    slot_t slots[SLOTS];
    uint8_t results[MAX_CMDS + 1]; /* RESULTs per command token (1..ncmds) */
    size_t ncmds;
    uint64_t tokens[64]; /* EVENT tokens seen, for acks */
    size_t ntokens;
    int bridge_rc;
    int edge_open[EDGES];
    /* the event being processed */
    int cur_slot;                                 /* FRAME: its slot, else -1 */
    char cur_message_id[OCPP_MESSAGE_ID_MAX + 1]; /* FRAME: its message id */
    int frame_answered;                           /* FRAME: a CALLRESULT to its id was sent */
    int frame_held;                               /* FRAME: its answer waits for persistence */
    int frame_must_hold;                          /* FRAME: core_actions flags it persist */
    size_t edge_effects;                          /* SEND/CLOSE during the event */
    size_t answers;                               /* CALLRESULT for the watched ack */
    int watch_slot;                               /* EVENT_ACK of a waiting answer: its slot */
} D;

static int slot_of(const char *edge_id, uint64_t conn_id)
{
    for (int e = 0; e < EDGES; e++)
        if (edge_id && strcmp(edge_id, EDGE_IDS[e]) == 0 && conn_id >= 1 && conn_id <= CONNS)
            return e * CONNS + (int)(conn_id - 1);
    return -1;
}

static void on_edge_text(int slot, const env_send_t *m)
{
    slot_t *s = &D.slots[slot];
    ocpp_frame_t f;
    char why[160];
    if (ocpp_frame_parse((const char *)m->data.ptr, m->data.len, &f, why, sizeof(why)))
        abort(); /* the engine only sends well-formed frames */
    if (f.type == OCPP_CALL)
        snprintf(s->last_call, sizeof(s->last_call), "%s", f.message_id);
    if (slot == D.cur_slot && f.type == OCPP_CALLRESULT &&
        strcmp(f.message_id, D.cur_message_id) == 0)
        D.frame_answered = 1;
    int watched = s->waiting && strcmp(f.message_id, s->message_id) == 0;
    if (watched && f.type == OCPP_CALLRESULT) {
        if (!s->acked)
            abort(); /* acknowledged before its event was persisted */
        if (D.watch_slot == slot)
            D.answers++;
        s->waiting = 0;
    }
    if (watched && f.type == OCPP_CALLERROR && strcmp(f.error_code, "InternalError") == 0)
        s->waiting = 0; /* refused, past its bound, or the event was not handed on */
    ocpp_frame_clear(&f);
}

static int trace = -1; /* FUZZ_TRACE=1: print every effect (to read a reproducer) */

static void trace_effect(const char *edge_id, const envelope_t *env)
{
    const env_bin_t *b = env->type == ENV_SEND ? &env->u.send.data : NULL;
    fprintf(stderr, "effect %d to %s conn %" PRIu64 " token %" PRIu64 ": %.*s\n", (int)env->type,
            edge_id ? edge_id : "-",
            env->type == ENV_SEND    ? env->u.send.conn_id
            : env->type == ENV_CLOSE ? env->u.close.conn_id
                                     : 0,
            env->type == ENV_EVENT    ? env->u.event.token
            : env->type == ENV_RESULT ? env->u.result.token
                                      : 0,
            b ? (int)b->len : 0, b ? (const char *)b->ptr : "");
}

static int fuzz_send(void *arg, core_peer_t to, const char *edge_id, const envelope_t *env)
{
    (void)arg;
    if (trace)
        trace_effect(edge_id, env);
    switch (env->type) {
    case ENV_SEND:
    case ENV_CLOSE: {
        uint64_t conn_id = env->type == ENV_SEND ? env->u.send.conn_id : env->u.close.conn_id;
        int slot = slot_of(edge_id, conn_id);
        if (to != CORE_TO_EDGE || slot < 0 || !D.slots[slot].open)
            abort(); /* sent to a closed connection, or to one that never was */
        D.edge_effects++;
        if (env->type == ENV_SEND)
            on_edge_text(slot, &env->u.send);
        return D.edge_open[slot / CONNS] ? 0 : -ENOENT;
    }
    case ENV_EVENT:
        if (to != CORE_TO_BRIDGE)
            abort();
        if (env->u.event.token) {
            if (D.cur_slot < 0 || D.slots[D.cur_slot].waiting)
                abort(); /* a held answer only comes from a CALL, one at a time */
            slot_t *s = &D.slots[D.cur_slot];
            D.frame_held = 1;
            s->waiting = 1;
            s->acked = 0;
            s->token = env->u.event.token;
            snprintf(s->message_id, sizeof(s->message_id), "%s", D.cur_message_id);
            if (D.ntokens < sizeof(D.tokens) / sizeof(D.tokens[0]))
                D.tokens[D.ntokens++] = env->u.event.token;
        }
        return D.bridge_rc;
    case ENV_RESULT: {
        uint64_t token = env->u.result.token;
        if (to != CORE_TO_BRIDGE || token < 1 || token > D.ncmds || D.results[token]++)
            abort(); /* a RESULT for no command, or a second one */
        return D.bridge_rc;
    }
    case ENV_REGISTER:
    case ENV_UNREGISTER:
        if (to != CORE_TO_REGISTRY)
            abort();
        return 0;
    default:
        abort();
    }
}

static int fuzz_open_edge(void *arg, const char *edge_id, const char *endpoint)
{
    (void)arg;
    (void)endpoint;
    for (int e = 0; e < EDGES; e++)
        if (strcmp(edge_id, EDGE_IDS[e]) == 0)
            D.edge_open[e] = 1;
    return 0;
}

/* ---- reading the input ---------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t left;
} input_t;

static uint8_t next(input_t *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

static void check_bounds(const core_conn_t *e)
{
    core_conn_stats_t st;
    core_conn_stats(e, &st);
    size_t open = 0, waiting = 0;
    for (int i = 0; i < SLOTS; i++) {
        open += D.slots[i].open;
        waiting += D.slots[i].waiting;
    }
    if (st.connections > open || st.identities > st.connections || st.held != waiting ||
        st.held > st.connections || st.queued_max > QUEUE_MAX || st.timers > st.connections ||
        st.edges > EDGES)
        abort();
}

static void do_connect(core_conn_t *e, input_t *in, uint64_t now)
{
    int edge = next(in) % EDGES, conn = next(in) % CONNS;
    uint8_t b = next(in);
    const char *sub = SUBPROTOCOLS[b % 4];
    slot_t *s = &D.slots[edge * CONNS + conn];
    static const ocpp_version_t versions[] = {OCPP_V16, OCPP_V201, OCPP_V21};
    if (b % 4 != 3) { /* a valid CONNECT replaces what the engine had under these ids */
        memset(s, 0, sizeof(*s));
        s->version = (int)versions[b % 4] + 1;
    }
    s->open = 1;
    envelope_t env = {.type = ENV_CONNECT};
    env.u.connect.edge_id = env_str(EDGE_IDS[edge]);
    env.u.connect.conn_id = (uint64_t)conn + 1;
    env.u.connect.identity = env_str(IDENTITIES[(b >> 2) % 4]);
    env.u.connect.subprotocol = env_str(sub);
    env.u.connect.peer = env_str("10.0.0.1:1234");
    env.u.connect.at_us = now;
    core_conn_on_envelope(e, &env, now);
}

static void do_frame(core_conn_t *e, input_t *in, uint64_t now)
{
    int edge = next(in) % EDGES, conn = next(in) % CONNS, slot = edge * CONNS + conn;
    uint8_t kind = next(in), arg = next(in);
    char text[1024];
    size_t len;
    if (kind < 160) {
        snprintf(text, sizeof(text), FRAMES[kind % NFRAMES], MESSAGE_IDS[arg % 3]);
        len = strlen(text);
    } else if (kind < 220) {
        const char *id = D.slots[slot].last_call[0] ? D.slots[slot].last_call : "gw-unknown";
        snprintf(text, sizeof(text), RESPONSES[arg % 5], id);
        len = strlen(text);
    } else {
        len = arg % 96;
        if (len > in->left)
            len = in->left;
        memcpy(text, in->p, len);
        in->p += len;
        in->left -= len;
    }
    /* a CALL abandons the answer still waiting on that connection; one that core_actions
     * flags persist must not be answered while it is handled */
    ocpp_frame_t f;
    char why[160];
    D.cur_message_id[0] = '\0';
    D.frame_must_hold = 0;
    if (!ocpp_frame_parse(text, len, &f, why, sizeof(why))) {
        snprintf(D.cur_message_id, sizeof(D.cur_message_id), "%s", f.message_id);
        if (f.type == OCPP_CALL) {
            D.slots[slot].waiting = 0;
            if (D.slots[slot].version) {
                core_action_ctx_t ctx = {.heartbeat_interval_s = 300, .now_us = now};
                core_action_out_t out;
                core_action_handle((ocpp_version_t)(D.slots[slot].version - 1), f.action, f.payload,
                                   &ctx, &out);
                D.frame_must_hold = out.persist;
                core_action_out_clear(&out);
            }
        }
    }
    ocpp_frame_clear(&f);
    envelope_t env = {.type = ENV_FRAME};
    env.u.frame.edge_id = env_str(EDGE_IDS[edge]);
    env.u.frame.conn_id = (uint64_t)conn + 1;
    env.u.frame.data = (env_bin_t){(const uint8_t *)text, len};
    env.u.frame.at_us = now;
    D.cur_slot = slot;
    D.frame_answered = D.frame_held = 0;
    core_conn_on_envelope(e, &env, now);
    D.cur_slot = -1;
    if ((D.frame_held || D.frame_must_hold) && D.frame_answered)
        abort(); /* answered at once although its event must be persisted first */
}

static void do_disconnect(core_conn_t *e, int slot, uint64_t now)
{
    memset(&D.slots[slot], 0, sizeof(D.slots[slot])); /* closed: nothing may reach it now */
    envelope_t env = {.type = ENV_DISCONNECT};
    env.u.disconnect.edge_id = env_str(EDGE_IDS[slot / CONNS]);
    env.u.disconnect.conn_id = (uint64_t)(slot % CONNS) + 1;
    env.u.disconnect.code = 1006;
    env.u.disconnect.reason = env_str("gone");
    core_conn_on_envelope(e, &env, now);
}

static void do_ack(core_conn_t *e, input_t *in, uint64_t now)
{
    uint8_t pick = next(in), st = next(in);
    uint64_t token = D.ntokens && pick < 200 ? D.tokens[pick % D.ntokens] : pick;
    int32_t status = st < 160 ? 0 : st < 240 ? -1 : (int32_t)st;
    int watched = -1;
    for (int i = 0; i < SLOTS; i++)
        if (D.slots[i].waiting && D.slots[i].token == token)
            watched = i;
    if (watched >= 0 && status == 0)
        D.slots[watched].acked = 1;
    D.edge_effects = 0;
    D.answers = 0;
    D.watch_slot = watched;
    envelope_t env = {.type = ENV_EVENT_ACK};
    env.u.event_ack.token = token;
    env.u.event_ack.status = status;
    env.u.event_ack.error = env_str(status ? "Broker: Not enough in-sync replicas" : "");
    core_conn_on_envelope(e, &env, now);
    D.watch_slot = -1;
    if (watched < 0 && D.edge_effects)
        abort(); /* nobody waits for that answer any more: nothing to send */
    if (watched >= 0 &&
        (D.edge_effects != 1 || D.slots[watched].waiting || (status == 0 && D.answers != 1)))
        abort(); /* the one answer, exactly once */
}

static void do_command(core_conn_t *e, input_t *in, uint64_t now)
{
    uint8_t who = next(in), rec = next(in);
    if (D.ncmds >= MAX_CMDS)
        return;
    envelope_t env = {.type = ENV_COMMAND};
    env.u.command.token = ++D.ncmds;
    env.u.command.identity = env_str(IDENTITIES[who % 5]);
    env.u.command.command_id = env_str("c");
    const char *record = RECORDS[rec % (sizeof(RECORDS) / sizeof(RECORDS[0]))];
    env.u.command.record = (env_bin_t){(const uint8_t *)record, strlen(record)};
    core_conn_on_envelope(e, &env, now);
}

static void do_registry(core_conn_t *e, input_t *in, uint8_t op, uint64_t now)
{
    uint8_t who = next(in), conn = next(in), epoch = next(in);
    envelope_t env = {.type = op == 6 ? ENV_REGISTERED : ENV_SUPERSEDED};
    if (op == 6) {
        env.u.registered.identity = env_str(IDENTITIES[who % 5]);
        env.u.registered.conn_id = conn % (CONNS + 1);
        env.u.registered.epoch = epoch;
        env.u.registered.status = who & 0x80 ? -11 : 0;
        env.u.registered.boot_state = env_str(who & 0x40 ? "accepted" : "none");
    } else {
        env.u.superseded.identity = env_str(IDENTITIES[who % 5]);
        env.u.superseded.conn_id = conn % (CONNS + 1);
        env.u.superseded.epoch = epoch;
        env.u.superseded.by_pod = env_str("pod-b");
    }
    core_conn_on_envelope(e, &env, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (trace < 0)
        trace = getenv("FUZZ_TRACE") != NULL;
    log_set_fd(-1);
    log_set_level(LOG_ERROR);
    memset(&D, 0, sizeof(D));
    D.cur_slot = D.watch_slot = -1;
    input_t in = {data, size};
    uint8_t conf = next(&in);
    core_conn_config_t cfg = {.pod_id = "pod-a",
                              .core_index = 1,
                              .events_topic = "ocpp-events-up",
                              .heartbeat_interval_s = 300,
                              .auth_policy = conf & 1 ? "allow-list" : "accept-all",
                              .auth_list = "TAG",
                              .command_timeout_ms = 1000u + 1000u * (conf >> 4 & 3),
                              .command_queue_max = QUEUE_MAX,
                              .persist_timeout_ms = conf & 2 ? 3000 : 0,
                              .event_raw_payload = conf & 4,
                              .token_base = (uint64_t)conf << 8};
    core_conn_ops_t ops = {.send = fuzz_send, .open_edge = fuzz_open_edge};
    core_conn_t *e = core_conn_new(&cfg, &ops, NULL);
    if (!e)
        abort();
    uint64_t now = T0;
    for (int n = 0; n < MAX_OPS && in.left; n++) {
        uint8_t op = next(&in) % 13;
        switch (op) {
        case 0: {
            int edge = next(&in) % EDGES;
            envelope_t env = {.type = ENV_HELLO};
            env.u.hello.edge_id = env_str(EDGE_IDS[edge]);
            env.u.hello.endpoint = env_str("ipc:///tmp/edge.sock");
            core_conn_on_envelope(e, &env, now);
            break;
        }
        case 1:
        case 2:
            do_connect(e, &in, now);
            break;
        case 3:
        case 4:
            do_frame(e, &in, now);
            break;
        case 5: {
            int edge = next(&in) % EDGES, conn = next(&in) % CONNS;
            do_disconnect(e, edge * CONNS + conn, now);
            break;
        }
        case 6:
        case 7:
            do_registry(e, &in, op, now);
            break;
        case 8:
            do_ack(e, &in, now);
            break;
        case 9:
            do_command(e, &in, now);
            break;
        case 10: {
            envelope_t env = {.type = ENV_REGISTRY_BUSY};
            env.u.registry_busy.busy = next(&in) & 1;
            core_conn_on_envelope(e, &env, now);
            break;
        }
        case 11:
            D.bridge_rc = next(&in) & 1 ? -EAGAIN : 0;
            break;
        default: { /* the clock moves; the shell ticks unless the loop is busy */
            uint8_t b = next(&in);
            now += (uint64_t)(b & 0x7f) * 100000u;
            if (!(b & 0x80)) {
                uint64_t due = core_conn_tick(e, now);
                if (due && due <= now)
                    abort(); /* tick did what was due */
            }
            break;
        }
        }
        check_bounds(e);
    }
    /* everything ends: far ahead, every connection gone, then every command has its result */
    now += 1000000 * SEC;
    core_conn_tick(e, now);
    for (int slot = 0; slot < SLOTS; slot++)
        do_disconnect(e, slot, now);
    if (core_conn_tick(e, now + SEC) != 0)
        abort();
    core_conn_stats_t st;
    core_conn_stats(e, &st);
    if (st.connections || st.identities || st.held || st.queued || st.timers)
        abort();
    for (size_t t = 1; t <= D.ncmds; t++)
        if (D.results[t] != 1)
            abort();
    core_conn_destroy(&e);
    return 0;
}
