/* fuzz_core_conn.c: libFuzzer driver for core_conn, the engine of ocpp-core.
 *
 * The input is read as a sequence of events, each an opcode byte and its argument bytes, against
 * a model of the world around the core: 3 edges x 8 connection slots (an edge is older, instance
 * 0 and conn ids from 1, or current, conn ids from its instance), 4 identities, 1.6 / 2.0.1 / 2.1
 * / unknown subprotocol, and how each connection authenticated. Events: HELLO; CONNECT (fresh,
 * or resumed for a live one); FRAME (OCPP 1.6 and 2.0.1 messages from a small dictionary with
 * unique message ids, valid and broken; a response to the CALL last sent on that connection; or
 * raw fuzz bytes), with or without the connection's identity as a current or an older edge sends
 * it; DISCONNECT; EVENT_ACK (a token the engine used or a random one, status 0 or an error);
 * COMMAND (small records, for connected identities or not); REGISTERED (including a claim refused
 * for an authenticated holder), SUPERSEDED, REGISTRY_BUSY; TAG_INFO (for a lookup the engine made
 * or not, found or not, any status, expired or not, errors, another token); ANNOUNCE of the
 * bridge or the registry (the same instance, or a restart); an edge restarting (its connections
 * die with it; its new HELLO may come later), late frames of an edge's former instance; the
 * core itself restarting (the engine is destroyed and a new one created: the bridge settles the
 * commands the old one had, the stations stay connected to their edge); peers refusing sends as
 * full (bridge, registry, edges: OUTBOX_TRY and OUTBOX_DROP refused, OUTBOX_MUST queued); open_edge
 * failing; and the fake clock moving with or without a tick. At the end every edge says HELLO
 * with its current instance, the clock jumps far ahead, every live connection disconnects and the
 * engine ticks.
 *
 * TXID_RANGE (a range of the registry's counter for a TXID_BLOCK of the engine, or for another
 * request id; -EAGAIN, -EBUSY, -ENOSPC) and TXID_CLAIMED (as the registry's script answers a
 * TXID_CLAIM: the id remembered under its key or the candidate stored; -EAGAIN, -EBUSY, -EINVAL,
 * -EIO; or a request id nobody sent).
 *
 * Invariants, checked in the recording ops (abort on a violation):
 *  - 1.6 transaction ids: a TXID_CLAIM's candidate lies in a range the registry gave this engine
 *    (never an invented id) and is never one stored under another key; a StartTransaction is
 *    answered only with an id a TXID_CLAIMED gave (so never before the claim); a TXID_CLAIMED
 *    nobody waits for sends nothing;
 *  - at most one RESULT per command token, and exactly one for each once everything ended (the
 *    bridge settles those of a core that restarted);
 *  - a CALLRESULT to a message whose answer waits for persistence (core_actions flags it) is
 *    never sent before an EVENT_ACK with status 0 for its event's token; that ack sends it
 *    exactly once; an ack or a TAG_INFO that nobody waits for any more sends nothing;
 *  - a CALL whose event the bridge refused is never answered with a CALLRESULT;
 *  - a 2.1 SEND is never answered (and abandons no held answer: the hold invariants above);
 *  - a CALL is answered at most once; a CALL waiting for its id token is not answered before the
 *    TAG_INFO or its bound, and its answer carries the status of that TAG_INFO (Expired past
 *    expires_at_ms, Invalid for no record) or of tag_fallback;
 *  - nothing is sent to a connection (SEND, CLOSE, CONN_STATE, REGISTER) after its DISCONNECT,
 *    nor to one that never existed, nor to a connection of an edge's former instance once the
 *    core heard the new instance; nothing to an edge without a route; a new route is announced;
 *  - a resumed CONNECT never yields device.connected; REGISTER.authenticated only for a
 *    connection whose CONNECT said it authenticated;
 *  - a new bridge instance leaves no answer waiting for an ack;
 *  - every EVENT carries the CloudEvents binding's content-type, a valid W3C traceparent and an
 *    id of 32 hex characters that is the record's "id"; the id of an occurrence (device.online,
 *    device.connected, device.disconnected) never repeats, across core restarts too; every
 *    RESULT carries a valid traceparent, the COMMAND's own when it had a valid one;
 *  - memory stays bounded: connections <= what the edges may still hold, held answers == answers
 *    the driver sees waiting, waiting CALLs and queues and timers bounded by the connections,
 *    envelopes waiting for a route <= edges x unrouted_queue_max, cached tokens <= tag_cache_max;
 *    all zero at the end.
 * Seeds: fuzz/corpus/core_conn/. FUZZ_TRACE=1 prints the effects of a reproducer. */
#include "core_actions.h"
#include "core_conn.h"
#include "core_event.h"
#include "core_tags.h"
#include "log.h"
#include "ocpp_frame.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEC          1000000ULL
#define T0           (1735689600ULL * SEC) /* 2025-01-01T00:00:00Z */
#define EDGES        3
#define CONNS        8
#define SLOTS        (EDGES * CONNS)
#define QUEUE_MAX    3
#define UNROUTED_MAX 3
#define TAG_CACHE    2
#define TAG_TIMEOUT  (2 * SEC)
#define MAX_OPS      400
#define MAX_CMDS     512
#define MAX_IDS      1024
#define MAX_LOOKUPS  512
#define ID_LEN       (OCPP_MESSAGE_ID_MAX + 1)

static const char *const EDGE_IDS[EDGES] = {"edge-a", "edge-b", "edge-c"};
static const char *const IDENTITIES[] = {"CP0", "CP1", "CP2", "CP3", "CP-none"};
static const char *const SUBPROTOCOLS[] = {"ocpp1.6", "ocpp2.0.1", "ocpp2.1", "ocpp0.1"};
static const char *const AUTHS[] = {"none", "basic", "basic-previous", "mtls", "", "bogus"};
static const char *const TAGS[] = {"TAG", "T2", "T3"};
static const char *const TAG_STATUSES[] = {"Accepted", "Blocked", "Expired", "Invalid", "Odd", ""};

/* frames: %s is the message id; %t the id token */
static const char *const FRAMES[] = {
    "[2,\"%s\",\"BootNotification\",{\"chargePointVendor\":\"V\",\"chargePointModel\":\"M\"}]",
    "[2,\"%s\",\"BootNotification\",{\"reason\":\"PowerUp\",\"chargingStation\":{\"model\":\"M\","
    "\"vendorName\":\"V\"}}]",
    "[2,\"%s\",\"Heartbeat\",{}]",
    "[2,\"%s\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":\"%t\",\"meterStart\":0,"
    "\"timestamp\":\"2025-01-01T00:00:00Z\"}]",
    "[2,\"%s\",\"StopTransaction\",{\"transactionId\":5,\"meterStop\":10,\"idTag\":\"%t\","
    "\"timestamp\":\"2025-01-01T00:10:00Z\"}]",
    "[2,\"%s\",\"MeterValues\",{\"connectorId\":1,\"transactionId\":5,\"meterValue\":[{"
    "\"timestamp\":\"2025-01-01T00:00:00Z\",\"sampledValue\":[{\"value\":\"10\"}]}]}]",
    "[2,\"%s\",\"MeterValues\",{\"connectorId\":1,\"meterValue\":[{"
    "\"timestamp\":\"2025-01-01T00:00:00Z\",\"sampledValue\":[{\"value\":\"10\"}]}]}]",
    "[2,\"%s\",\"TransactionEvent\",{\"eventType\":\"Started\",\"timestamp\":"
    "\"2025-01-01T00:00:00Z\",\"triggerReason\":\"Authorized\",\"seqNo\":0,"
    "\"transactionInfo\":{\"transactionId\":\"T1\"},\"idToken\":{\"idToken\":\"%t\","
    "\"type\":\"ISO14443\"}}]",
    "[2,\"%s\",\"TransactionEvent\",{\"eventType\":\"Updated\",\"timestamp\":"
    "\"2025-01-01T00:00:00Z\",\"triggerReason\":\"MeterValuePeriodic\",\"seqNo\":1,"
    "\"transactionInfo\":{\"transactionId\":\"T1\"}}]",
    "[2,\"%s\",\"SecurityEventNotification\",{\"type\":\"FirmwareUpdated\","
    "\"timestamp\":\"2025-01-01T00:00:00Z\"}]",
    "[2,\"%s\",\"SecurityEventNotification\",{\"type\":\"InvalidMessages\","
    "\"timestamp\":\"2025-01-01T00:00:00Z\"}]",
    "[2,\"%s\",\"Authorize\",{\"idTag\":\"%t\"}]",
    "[2,\"%s\",\"Authorize\",{\"idToken\":{\"idToken\":\"%t\",\"type\":\"ISO14443\"}}]",
    "[2,\"%s\",\"Authorize\",{\"idToken\":{\"idToken\":\"\",\"type\":\"NoAuthorization\"}}]",
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
    "[6,\"%s\",\"NotifyPeriodicEventStream\",{\"id\":1,\"pending\":0,\"basetime\":"
    "\"2025-01-01T00:00:00Z\",\"data\":[{\"t\":0,\"v\":\"1\"}]}]",
    "[6,\"%s\",\"Heartbeat\",{}]",
    "[2,\"%s\",\"NotifyDERAlarm\",{\"controlType\":\"FreqDroop\",\"timestamp\":"
    "\"2025-01-01T00:00:00Z\"}]",
    "[2,\"%s\",\"VatNumberValidation\",{\"vatNumber\":\"NL1\"}]",
    "[2,\"%s\",\"GetCertificateChainStatus\",{\"certificateStatusRequests\":[{\"source\":"
    "\"OCSP\",\"urls\":[\"https://o.example\"],\"certificateHashData\":{\"hashAlgorithm\":"
    "\"SHA256\",\"issuerNameHash\":\"a\",\"issuerKeyHash\":\"b\",\"serialNumber\":\"1\"}}]}]",
    "[9,\"%s\",{}]",
    "not json %s",
    "[2,\"\",\"Heartbeat\",{}]",
};
#define NFRAMES (sizeof(FRAMES) / sizeof(FRAMES[0]))

static const char *const RESPONSES[] = {
    "[3,\"%s\",{\"status\":\"Accepted\"}]",  "[3,\"%s\",{\"status\":\"Rejected\"}]",
    "[3,\"%s\",{\"status\":\"Maybe\"}]",     "[3,\"%s\",{}]",
    "[4,\"%s\",\"NotSupported\",\"no\",{}]", "[5,\"%s\",\"FormatViolation\",\"no\",{}]",
};
#define NRESPONSES (sizeof(RESPONSES) / sizeof(RESPONSES[0]))

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

/* the driver's view of one connection slot of an edge */
typedef struct {
    int open;                /* the edge holds it (CONNECT sent, DISCONNECT not yet) */
    int version;             /* ocpp_version_t + 1 of its subprotocol, 0: none valid */
    int ident, sub;          /* indexes into IDENTITIES, SUBPROTOCOLS */
    int auth;                /* index into AUTHS */
    uint32_t gen;            /* conn id generation within the edge instance */
    int booted;              /* CONN_STATE accepted seen (what the edge remembers) */
    char last_call[ID_LEN];  /* downlink: id of the last CALL sent to it */
    char call_id[ID_LEN];    /* uplink: id of the last CALL the station sent */
    char persist_id[ID_LEN]; /* a CALL whose CALLRESULT must wait for its ack */
    int persist_acked;       /* its event's ack (status 0) was delivered */
    int waiting;             /* an answer waits for persistence (EVENT with token seen) */
    uint64_t token;          /* its event's token */
    char refused_id[ID_LEN]; /* a CALL whose event the bridge refused */
    uint64_t tag_req;        /* the TAG_LOOKUP its CALL waits on (0: none) */
    uint64_t tag_deadline;
    char expect_id[ID_LEN]; /* the tagged CALL whose answer status is known */
    char expect_status[16];
    char natural[CORE_EVENT_ID_LEN + 1]; /* natural event id of the CALL at persist_id */
    /* natural ids whose events this connection had acked: a resend of one may be answered at
     * once, without an event (the engine remembers at most as many, never more) */
    char persisted[64][CORE_EVENT_ID_LEN + 1];
    size_t npersisted;
    int resend; /* the CALL at persist_id is such a resend */
} slot_t;

typedef struct {
    uint64_t request;
    int edge;
    int slot;  /* -1: nobody in this model waits any more */
    int maybe; /* its connection died with its edge: the engine may still serve it */
    char tag[CORE_TAG_MAX + 1];
} lookup_t;

static struct {
    slot_t slots[SLOTS];
    uint64_t inst[EDGES];        /* each edge's current instance (0: an older edge) */
    uint64_t prev_inst[EDGES];   /* the instance before its last restart */
    int prev_open[EDGES][CONNS]; /* which slots were live when it restarted */
    uint32_t prev_gen[EDGES][CONNS];
    uint64_t engine_inst[EDGES]; /* the largest instance the engine heard (HELLO) */
    int routed[EDGES];           /* the engine opened a route */
    int restarts_pending[EDGES]; /* restarts the engine has not heard of */
    /* answers held for connections of an edge that restarted, until the engine hears it */
    uint64_t limbo[EDGES][CONNS * 4];
    size_t nlimbo[EDGES];
    int open_fails;
    uint8_t results[MAX_CMDS + 1];                /* RESULTs per command token (1..ncmds) */
    uint8_t cmd_traced[MAX_CMDS + 1];             /* the COMMAND carried FUZZ_TRACEPARENT */
    char occurrences[256][CORE_EVENT_ID_LEN + 1]; /* ids of occurrence events seen (a ring) */
    size_t noccurrences;
    size_t ncmds;
    uint64_t tokens[64]; /* EVENT tokens seen, for acks */
    size_t ntokens;
    uint8_t answered[MAX_IDS]; /* answers per generated message id m<N> */
    unsigned next_id;
    lookup_t lookups[MAX_LOOKUPS];
    size_t nlookups;
    int full[3]; /* per core_peer_t */
    int redis, fallback_accept;
    uint64_t bridge_inst, registry_inst; /* the driver's peers */
    int bridge_heard, registry_heard;    /* the engine heard one since it started */
    uint64_t now;
    /* the event being processed */
    int cur_slot; /* FRAME / CONNECT: its slot, else -1 */
    int cur_resumed;
    char cur_message_id[ID_LEN]; /* FRAME: its message id */
    int frame_answered;          /* FRAME: an answer to its id was sent */
    int frame_result;            /* FRAME: a CALLRESULT to its id was sent */
    int replaying;               /* HELLO of an edge without a route: its held envelopes */
    int lookup_sent;             /* FRAME: a TAG_LOOKUP went out and was taken */
    size_t edge_effects;         /* SEND/CLOSE during the event */
    size_t answers;              /* CALLRESULT for the watched ack */
    int watch_slot;              /* EVENT_ACK of a waiting answer: its slot */
    size_t announces, registers, lookups_sent;
    const char *hello_edge; /* HELLO: the edge, to check its ANNOUNCE */
    /* 1.6 transaction ids: the registry's counter and txid:<key> records (they survive core
     * restarts), the ranges given to the current engine, its requests not answered yet, and the
     * ids the driver answered in TXID_CLAIMED (the only ids a StartTransaction may be answered
     * with) */
    uint64_t txid_counter;
    uint64_t given_lo[64], given_hi[64];
    size_t ngiven;
    uint64_t block_req[8];
    size_t nblock_req;
    struct {
        uint64_t request, candidate;
        char key[128];
    } claims[64];
    size_t nclaims;
    struct {
        char key[128];
        uint64_t id;
    } stored[256];
    size_t nstored;
    uint64_t answered_ids[512];
    size_t nanswered_ids;
    size_t claims_sent; /* TXID_CLAIMs during the event */
    int claims_waiting; /* the model sent a StartTransaction that may still wait for its id */
} D;

static int trace = -1; /* FUZZ_TRACE=1: print every effect (to read a reproducer) */

static uint64_t conn_id_of(int slot)
{
    int e = slot / CONNS, k = slot % CONNS;
    return D.inst[e] + 1 + (uint64_t)k + (uint64_t)CONNS * D.slots[slot].gen;
}

static int edge_index(const char *edge_id)
{
    for (int e = 0; e < EDGES; e++)
        if (edge_id && strcmp(edge_id, EDGE_IDS[e]) == 0)
            return e;
    return -1;
}

/* Checks that the engine may address (edge, conn id) and returns its live slot, or -1 for a
 * connection of an edge's former instance the engine has not heard is gone (allowed). */
static int addressable(const char *edge_id, uint64_t conn_id)
{
    int e = edge_index(edge_id);
    if (e < 0)
        abort(); /* an edge that never was */
    if (conn_id < D.inst[e]) {
        if (conn_id < D.engine_inst[e])
            abort(); /* the engine knows that instance is gone */
        return -1;
    }
    if (conn_id <= D.inst[e])
        abort();
    uint64_t off = conn_id - D.inst[e] - 1;
    int slot = e * CONNS + (int)(off % CONNS);
    /* the envelopes an edge sent before its route existed are handled at its HELLO, in order,
     * behind what the driver did since: a frame of a connection whose DISCONNECT waits behind
     * it may still be answered then, and the slot may stand for a later connection already */
    if (D.replaying == e + 1 && off / CONNS <= D.slots[slot].gen)
        return -1;
    if (off / CONNS == D.slots[slot].gen && D.slots[slot].open)
        return slot;
    abort(); /* closed (DISCONNECT handled), or never connected */
}

/* the slot whose station's last CALL is id (message ids of pending CALLs are unique) */
static int slot_of_call(const char *id)
{
    for (int i = 0; i < SLOTS; i++)
        if (D.slots[i].open && D.slots[i].call_id[0] && strcmp(D.slots[i].call_id, id) == 0)
            return i;
    return -1;
}

static int generated_id(const char *id, unsigned *n)
{
    char *end;
    if (id[0] != 'm' || id[1] < '0' || id[1] > '9')
        return 0;
    unsigned long v = strtoul(id + 1, &end, 10);
    if (*end || v >= MAX_IDS)
        return 0;
    *n = (unsigned)v;
    return 1;
}

/* the message id a unified event carries (data.ocpp.message_id), "" for a transport event */
static void event_message_id(const env_event_t *ev, char out[ID_LEN])
{
    out[0] = '\0';
    const char *v = (const char *)ev->value.ptr;
    size_t len = ev->value.len;
    static const char key[] = "\"message_id\":\"";
    for (size_t i = 0; i + sizeof(key) - 1 < len; i++) {
        if (memcmp(v + i, key, sizeof(key) - 1) != 0)
            continue;
        size_t start = i + sizeof(key) - 1, n = 0;
        while (start + n < len && v[start + n] != '"' && n < ID_LEN - 1)
            n++;
        memcpy(out, v + start, n);
        out[n] = '\0';
        return;
    }
}

static void on_edge_text(int slot, const env_send_t *m)
{
    ocpp_frame_t f;
    char why[160];
    if (ocpp_frame_parse((const char *)m->data.ptr, m->data.len, &f, why, sizeof(why)))
        abort(); /* the engine only sends well-formed frames */
    const char *tx = f.type == OCPP_CALLRESULT
                         ? memmem(m->data.ptr, m->data.len, "\"transactionId\":", 16)
                         : NULL;
    if (tx) { /* a StartTransaction's answer: only with an id the registry answered */
        uint64_t id = strtoull(tx + 16, NULL, 10);
        int known = 0;
        for (size_t i = 0; i < D.nanswered_ids && i < 512; i++)
            known |= D.answered_ids[i] == id;
        if (!known)
            abort(); /* a transactionId the registry never gave for a claim */
    }
    if (f.type == OCPP_CALLRESULT || f.type == OCPP_CALLERROR) {
        unsigned n;
        if (generated_id(f.message_id, &n) && D.answered[n]++)
            abort(); /* a CALL answered twice */
        if (D.cur_message_id[0] && strcmp(f.message_id, D.cur_message_id) == 0) {
            D.frame_answered = 1;
            D.frame_result |= f.type == OCPP_CALLRESULT;
        }
    }
    if (slot < 0) { /* a connection of an edge's former instance: nothing tracked */
        ocpp_frame_clear(&f);
        return;
    }
    slot_t *s = &D.slots[slot];
    if (f.type == OCPP_CALL)
        snprintf(s->last_call, sizeof(s->last_call), "%s", f.message_id);
    if (f.type == OCPP_CALLRESULT) {
        if (s->persist_id[0] && strcmp(f.message_id, s->persist_id) == 0 && !s->persist_acked &&
            !s->resend)
            abort(); /* acknowledged before its event was persisted */
        if (s->refused_id[0] && strcmp(f.message_id, s->refused_id) == 0)
            abort(); /* answered although its event was not handed on */
        if (s->expect_id[0] && strcmp(f.message_id, s->expect_id) == 0) {
            const char *st = strstr((const char *)m->data.ptr, "\"status\":\"");
            size_t want = strlen(s->expect_status);
            if (!st || strncmp(st + 10, s->expect_status, want) != 0 || st[10 + want] != '"')
                abort(); /* the id token's status is not the one the registry gave */
        }
    }
    int watched = s->waiting && strcmp(f.message_id, s->persist_id) == 0;
    if (watched && f.type == OCPP_CALLRESULT) {
        if (D.watch_slot == slot)
            D.answers++;
        s->waiting = 0;
    }
    if (watched && f.type == OCPP_CALLERROR && strcmp(f.error_code, "InternalError") == 0)
        s->waiting = 0; /* refused, past its bound, or its bridge restarted */
    ocpp_frame_clear(&f);
}

/* A TXID_CLAIM: its candidate comes from a range given to this engine, is never one the registry
 * stores under another key, and its key is a StartTransaction's (identity|connector|digest). */
static void on_txid_claim(const env_txid_claim_t *m, int refused)
{
    char key[128];
    if (env_str_copy(m->key, key, sizeof(key)) >= sizeof(key) || !strchr(key, '|') || !m->ttl_ms)
        abort();
    int given = 0;
    for (size_t i = 0; i < D.ngiven; i++)
        given |= m->candidate >= D.given_lo[i] && m->candidate <= D.given_hi[i];
    if (!given)
        abort(); /* an id this core was not given: it may collide */
    for (size_t i = 0; i < D.nstored; i++)
        if (D.stored[i].id == m->candidate && strcmp(D.stored[i].key, key) != 0)
            abort(); /* a candidate stored for another transaction handed out again */
    D.claims_sent++;
    if (refused)
        return;
    if (D.nclaims == 64)
        memmove(&D.claims[0], &D.claims[1], 63 * sizeof(D.claims[0])), D.nclaims--;
    D.claims[D.nclaims].request = m->request_id;
    D.claims[D.nclaims].candidate = m->candidate;
    snprintf(D.claims[D.nclaims].key, sizeof(D.claims[0].key), "%s", key);
    D.nclaims++;
}

static void trace_effect(const char *edge_id, const envelope_t *env, outbox_policy_t policy)
{
    const env_bin_t *b = env->type == ENV_SEND ? &env->u.send.data : NULL;
    fprintf(stderr, "effect %d (policy %d) to %s conn %" PRIu64 " token %" PRIu64 ": %.*s\n",
            (int)env->type, (int)policy, edge_id ? edge_id : "-",
            env->type == ENV_SEND       ? env->u.send.conn_id
            : env->type == ENV_CLOSE    ? env->u.close.conn_id
            : env->type == ENV_REGISTER ? env->u.register_.conn_id
                                        : 0,
            env->type == ENV_EVENT        ? env->u.event.token
            : env->type == ENV_RESULT     ? env->u.result.token
            : env->type == ENV_TAG_LOOKUP ? env->u.tag_lookup.request_id
                                          : 0,
            b ? (int)b->len : 0, b ? (const char *)b->ptr : "");
}

/* the slot's connection had the event of this natural id acked */
static int persisted_has(const slot_t *s, const char *natural)
{
    for (size_t i = 0; i < s->npersisted && i < 64; i++)
        if (strcmp(s->persisted[i], natural) == 0)
            return 1;
    return 0;
}

static lookup_t *lookup_find(uint64_t request)
{
    for (size_t i = 0; i < D.nlookups; i++)
        if (D.lookups[i].request == request)
            return &D.lookups[i];
    return NULL;
}

#define FUZZ_TRACEPARENT "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static int str_is(env_str_t s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

/* the standard record: CloudEvents binding header, trace context, an id that is the record's;
 * ids of occurrences unique. Returns the ce_type header. */
static env_str_t check_event_record(const env_event_t *ev)
{
    int ctype = 0, trace = 0;
    env_str_t id = {0}, type = {0};
    for (size_t i = 0; i < ev->headers.count; i++) {
        const env_header_t *h = &ev->headers.items[i];
        if (str_is(h->name, "content-type"))
            ctype = str_is(h->value, CORE_EVENT_CONTENT_TYPE);
        else if (str_is(h->name, "traceparent"))
            trace = core_traceparent_valid(h->value.ptr, h->value.len);
        else if (str_is(h->name, "ce_id"))
            id = h->value;
        else if (str_is(h->name, "ce_type"))
            type = h->value;
    }
    if (!ctype || !trace || id.len != CORE_EVENT_ID_LEN)
        abort(); /* not a standard record */
    char key[CORE_EVENT_ID_LEN + 8];
    snprintf(key, sizeof(key), "\"id\":\"%.*s\"", (int)id.len, id.ptr);
    if (!memmem(ev->value.ptr, ev->value.len, key, strlen(key)))
        abort(); /* the header's id is not the event's */
    if (!str_is(type, "device.online") && !str_is(type, "device.connected") &&
        !str_is(type, "device.disconnected"))
        return type;
    size_t n = D.noccurrences < 256 ? D.noccurrences : 256;
    for (size_t i = 0; i < n; i++)
        if (memcmp(D.occurrences[i], id.ptr, id.len) == 0)
            abort(); /* an occurrence's id repeated */
    snprintf(D.occurrences[D.noccurrences++ % 256], CORE_EVENT_ID_LEN + 1, "%.*s", (int)id.len,
             id.ptr);
    return type;
}

static void on_event(const env_event_t *ev, int refused)
{
    env_str_t type = check_event_record(ev);
    char id[ID_LEN];
    event_message_id(ev, id);
    int slot = id[0] ? slot_of_call(id) : -1;
    if (trace)
        fprintf(stderr, "  event of %s: slot %d refused %d token %" PRIu64 "\n", id, slot, refused,
                ev->token);
    if (D.cur_resumed && str_is(type, "device.connected"))
        abort(); /* a resumed connection is not new for the backend */
    if (slot >= 0 && refused)
        snprintf(D.slots[slot].refused_id, ID_LEN, "%s", id);
    if (!ev->token)
        return;
    for (int ed = 0; slot < 0 && ed < EDGES; ed++) {
        /* a CALL that waited for its id token on a connection of an edge that restarted since:
         * the engine serves it until it hears the new instance; its answer goes nowhere */
        if (D.restarts_pending[ed] && D.nlimbo[ed] < CONNS * 4) {
            D.limbo[ed][D.nlimbo[ed]++] = ev->token;
            return;
        }
    }
    if (slot < 0 || D.slots[slot].waiting || strcmp(D.slots[slot].persist_id, id) != 0)
        abort(); /* a held answer only for a CALL flagged persist, one at a time */
    if (refused)
        return;
    slot_t *s = &D.slots[slot];
    s->waiting = 1;
    s->token = ev->token;
    if (D.ntokens < sizeof(D.tokens) / sizeof(D.tokens[0]))
        D.tokens[D.ntokens++] = ev->token;
}

static void on_tag_lookup(const env_tag_lookup_t *m, int refused)
{
    D.lookups_sent++;
    lookup_t *l = lookup_find(m->request_id);
    if (D.cur_slot < 0 || !D.cur_message_id[0]) { /* a new registry is asked again */
        if (!l || (l->slot >= 0 ? D.slots[l->slot].tag_req != m->request_id : !l->maybe))
            abort();
        return;
    }
    slot_t *s = &D.slots[D.cur_slot];
    snprintf(s->expect_id, ID_LEN, "%s", D.cur_message_id);
    snprintf(s->expect_status, sizeof(s->expect_status), "%s",
             D.fallback_accept ? "Accepted" : "Invalid");
    if (refused || l) /* refused: answered at once by tag_fallback */
        return;
    D.lookup_sent = 1;
    s->tag_req = m->request_id;
    s->tag_deadline = D.now + TAG_TIMEOUT;
    if (D.nlookups < MAX_LOOKUPS) {
        l = &D.lookups[D.nlookups++];
        l->request = m->request_id;
        l->edge = D.cur_slot / CONNS;
        l->slot = D.cur_slot;
        l->maybe = 0;
        env_str_copy(m->id_tag, l->tag, sizeof(l->tag));
    }
}

static int fuzz_send(void *arg, core_peer_t to, const char *edge_id, const envelope_t *env,
                     outbox_policy_t policy)
{
    (void)arg;
    if (trace)
        trace_effect(edge_id, env, policy);
    int refused = D.full[to] && policy != OUTBOX_MUST;
    int rc = refused ? -ENOBUFS : 0;
    switch (env->type) {
    case ENV_SEND:
    case ENV_CLOSE:
    case ENV_CONN_STATE: {
        if (to != CORE_TO_EDGE || policy != OUTBOX_DROP)
            abort();
        int e = edge_index(edge_id);
        if (e < 0 || !D.routed[e])
            abort(); /* nothing to an edge without a route */
        uint64_t conn_id = env->type == ENV_SEND    ? env->u.send.conn_id
                           : env->type == ENV_CLOSE ? env->u.close.conn_id
                                                    : env->u.conn_state.conn_id;
        int slot = addressable(edge_id, conn_id);
        D.edge_effects++;
        if (env->type == ENV_SEND)
            on_edge_text(slot, &env->u.send);
        if (env->type == ENV_CONN_STATE && slot >= 0 && !refused)
            D.slots[slot].booted = env_str_eq(env->u.conn_state.boot_state, "accepted");
        return rc;
    }
    case ENV_ANNOUNCE: {
        if (policy != OUTBOX_DROP || env->u.announce.instance == 0)
            abort();
        if (to == CORE_TO_EDGE) {
            int e = edge_index(edge_id);
            if (e < 0 || !D.routed[e])
                abort();
            if (D.hello_edge && strcmp(edge_id, D.hello_edge) == 0)
                D.announces++;
        }
        return rc;
    }
    case ENV_EVENT:
        if (to != CORE_TO_BRIDGE)
            abort();
        on_event(&env->u.event, refused);
        return rc;
    case ENV_RESULT: {
        uint64_t token = env->u.result.token;
        if (to != CORE_TO_BRIDGE || policy != OUTBOX_MUST || token < 1 || token > D.ncmds ||
            D.results[token]++)
            abort(); /* a RESULT for no command, or a second one */
        env_str_t tp = env->u.result.traceparent;
        if (!core_traceparent_valid(tp.ptr, tp.len) ||
            (D.cmd_traced[token] && !str_is(tp, FUZZ_TRACEPARENT)))
            abort(); /* the command's trace is lost */
        return rc;
    }
    case ENV_REGISTER: {
        char edge[64];
        env_str_copy(env->u.register_.edge_id, edge, sizeof(edge));
        int slot = addressable(edge, env->u.register_.conn_id);
        if (to != CORE_TO_REGISTRY || policy != OUTBOX_MUST)
            abort();
        if (slot >= 0 && env->u.register_.authenticated) {
            int a = D.slots[slot].auth;
            if (a < 1 || a > 3)
                abort(); /* claims more than the edge said */
        }
        D.registers++;
        return rc;
    }
    case ENV_UNREGISTER:
        if (to != CORE_TO_REGISTRY || policy != OUTBOX_MUST)
            abort();
        return rc;
    case ENV_TAG_LOOKUP:
        if (to != CORE_TO_REGISTRY || policy != OUTBOX_TRY || !D.redis)
            abort();
        on_tag_lookup(&env->u.tag_lookup, refused);
        return rc;
    case ENV_TXID_BLOCK:
        if (to != CORE_TO_REGISTRY || policy != OUTBOX_TRY || !env->u.txid_block.count)
            abort();
        if (!refused && D.nblock_req < 8)
            D.block_req[D.nblock_req++] = env->u.txid_block.request_id;
        return rc;
    case ENV_TXID_CLAIM:
        if (to != CORE_TO_REGISTRY || policy != OUTBOX_TRY)
            abort();
        on_txid_claim(&env->u.txid_claim, refused);
        return rc;
    default:
        abort();
    }
}

static int fuzz_open_edge(void *arg, const char *edge_id, const char *endpoint)
{
    (void)arg;
    (void)endpoint;
    int e = edge_index(edge_id);
    if (e < 0 || D.routed[e])
        abort(); /* a route opened twice */
    if (D.open_fails)
        return -ECONNREFUSED;
    D.routed[e] = 1;
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
    size_t open = 0, waiting = 0, may_hold = 0, limbo = 0;
    for (int i = 0; i < SLOTS; i++) {
        open += D.slots[i].open;
        waiting += D.slots[i].waiting;
    }
    for (int ed = 0; ed < EDGES; ed++) {
        may_hold += (size_t)D.restarts_pending[ed] * CONNS;
        limbo += D.nlimbo[ed];
    }
    if (st.connections > open + may_hold || st.identities > st.connections || st.held < waiting ||
        st.held > waiting + limbo || st.held > st.connections || st.waiting > st.connections ||
        st.queued_max > QUEUE_MAX || st.timers > st.connections || st.edges > EDGES ||
        st.edge_records > EDGES || st.unrouted > EDGES * UNROUTED_MAX || st.tags > TAG_CACHE) {
        if (trace)
            fprintf(stderr,
                    "bounds: conns %zu (open %zu + %zu) ids %zu held %zu (driver %zu) waiting %zu "
                    "queued_max %zu timers %zu edges %zu/%zu unrouted %zu tags %zu\n",
                    st.connections, open, may_hold, st.identities, st.held, waiting, st.waiting,
                    st.queued_max, st.timers, st.edges, st.edge_records, st.unrouted, st.tags);
        abort();
    }
}

static void event_begin(void)
{
    D.edge_effects = D.answers = D.announces = D.registers = D.lookups_sent = 0;
    D.frame_answered = D.frame_result = D.lookup_sent = 0;
    D.claims_sent = 0;
}

static void do_hello(core_conn_t *e, int edge, uint64_t now)
{
    int was_routed = D.routed[edge];
    event_begin();
    D.hello_edge = EDGE_IDS[edge];
    D.replaying = was_routed ? 0 : edge + 1;
    envelope_t env = {.type = ENV_HELLO};
    env.u.hello.edge_id = env_str(EDGE_IDS[edge]);
    env.u.hello.endpoint = env_str("ipc:///tmp/edge.sock");
    env.u.hello.instance = D.inst[edge];
    core_conn_on_envelope(e, &env, now);
    D.hello_edge = NULL;
    D.replaying = 0;
    if (D.inst[edge] > D.engine_inst[edge]) {
        D.engine_inst[edge] = D.inst[edge];
        for (size_t i = 0; i < D.nlookups; i++) /* their connections are finished now */
            if (D.lookups[i].edge == edge)
                D.lookups[i].maybe = 0;
    }
    D.restarts_pending[edge] = 0;
    if (D.engine_inst[edge] == D.inst[edge])
        D.nlimbo[edge] = 0; /* their connections are finished */
    if (!was_routed && D.routed[edge] != (D.announces == 1))
        abort(); /* a new route is announced, once */
}

static void reset_slot(int slot)
{
    uint32_t gen = D.slots[slot].gen;
    for (size_t i = 0; i < D.nlookups; i++)
        if (D.lookups[i].slot == slot)
            D.lookups[i].slot = -1;
    memset(&D.slots[slot], 0, sizeof(D.slots[slot]));
    D.slots[slot].gen = gen;
}

static void send_connect(core_conn_t *e, int slot, int resumed, uint64_t now)
{
    slot_t *s = &D.slots[slot];
    envelope_t env = {.type = ENV_CONNECT};
    env.u.connect.edge_id = env_str(EDGE_IDS[slot / CONNS]);
    env.u.connect.conn_id = conn_id_of(slot);
    env.u.connect.identity = env_str(IDENTITIES[s->ident]);
    env.u.connect.subprotocol = env_str(SUBPROTOCOLS[s->sub]);
    env.u.connect.peer = env_str("10.0.0.1:1234");
    env.u.connect.at_us = resumed ? T0 : now;
    env.u.connect.resumed = resumed;
    env.u.connect.boot_state = env_str(s->booted ? "accepted" : "");
    env.u.connect.auth = env_str(AUTHS[s->auth]);
    event_begin();
    D.cur_slot = slot;
    D.cur_resumed = resumed;
    core_conn_on_envelope(e, &env, now);
    D.cur_slot = -1;
    D.cur_resumed = 0;
}

static void do_connect(core_conn_t *e, input_t *in, uint64_t now)
{
    int edge = next(in) % EDGES, k = next(in) % CONNS, slot = edge * CONNS + k;
    uint8_t b = next(in), a = next(in);
    slot_t *s = &D.slots[slot];
    if (s->open && D.inst[edge]) { /* a current edge never reuses an id: it re-announces */
        send_connect(e, slot, 1, now);
        return;
    }
    static const ocpp_version_t versions[] = {OCPP_V16, OCPP_V201, OCPP_V21};
    if (!s->open) {
        reset_slot(slot);
        s->gen++;
    } else { /* an older edge restarted its counter: the same id again replaces */
        reset_slot(slot);
    }
    s->open = 1;
    s->sub = b % 4;
    s->ident = (b >> 2) % 4;
    s->auth = a % 6;
    s->version = b % 4 != 3 ? (int)versions[b % 4] + 1 : 0;
    send_connect(e, slot, 0, now);
}

/* the text of a frame and its message id; 0 when it must not be sent (a raw CALL whose id could
 * be mistaken for a pending one) */
static size_t frame_text(input_t *in, int slot, char *text, size_t cap)
{
    uint8_t kind = next(in), arg = next(in);
    size_t len;
    if (slot >= 0 && !D.routed[slot / CONNS]) {
        /* held by the engine until the edge's HELLO, handled after what the driver sends later:
         * only CALLs that neither wait for an ack nor for an id token, so that what the driver
         * tracks per connection stays true */
        static const int safe[] = {0, 1, 2, 14, 20, 21, 22};
        kind = (uint8_t)safe[kind % (sizeof(safe) / sizeof(safe[0]))];
    }
    if (kind < 160) {
        char id[16];
        do
            snprintf(id, sizeof(id), "m%u", D.next_id++ % MAX_IDS);
        while (slot_of_call(id) >= 0);
        const char *tpl = FRAMES[kind % NFRAMES];
        char *o = text;
        for (const char *p = tpl; *p && (size_t)(o - text) < cap - 40; p++) {
            if (p[0] == '%' && p[1] == 's')
                o += snprintf(o, 16, "%s", id), p++;
            else if (p[0] == '%' && p[1] == 't')
                o += snprintf(o, 16, "%s", TAGS[arg % 3]), p++;
            else
                *o++ = *p;
        }
        *o = '\0';
        len = (size_t)(o - text);
    } else if (kind < 220) {
        const char *id =
            slot >= 0 && D.slots[slot].last_call[0] ? D.slots[slot].last_call : "gw-unknown";
        snprintf(text, cap, RESPONSES[arg % NRESPONSES], id);
        len = strlen(text);
    } else {
        len = arg % 96;
        if (len > in->left)
            len = in->left;
        memcpy(text, in->p, len);
        in->p += len;
        in->left -= len;
        ocpp_frame_t f;
        char why[160];
        int bad = 0;
        if (!ocpp_frame_parse(text, len, &f, why, sizeof(why)) && f.type == OCPP_CALL) {
            unsigned n;
            bad = slot_of_call(f.message_id) >= 0 || generated_id(f.message_id, &n) ||
                  strpbrk(f.message_id, "\"\\") != NULL;
            for (const char *c = f.message_id; *c && !bad; c++)
                bad = (unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f;
        }
        ocpp_frame_clear(&f);
        if (bad)
            return 0;
    }
    return len;
}

static void send_frame(core_conn_t *e, const char *edge_id, uint64_t conn_id, int slot,
                       const char *text, size_t len, int with_facts, uint64_t now)
{
    ocpp_frame_t f;
    char why[160];
    D.cur_message_id[0] = '\0';
    int must_hold = 0, send21 = 0;
    slot_t *s = slot >= 0 ? &D.slots[slot] : NULL;
    int parsed = ocpp_frame_parse(text, len, &f, why, sizeof(why)) == OCPP_ERR_NONE;
    if (parsed && f.type == OCPP_SEND && s && strcmp(SUBPROTOCOLS[s->sub], "ocpp2.1") == 0) {
        /* a 2.1 SEND: never answered (checked below), and it abandons nothing */
        snprintf(D.cur_message_id, sizeof(D.cur_message_id), "%s", f.message_id);
        send21 = 1;
    }
    if (parsed && f.type == OCPP_CALL) {
        snprintf(D.cur_message_id, sizeof(D.cur_message_id), "%s", f.message_id);
        if (s) { /* a CALL abandons what still waits on that connection */
            s->waiting = 0;
            s->tag_req = 0;
            s->persist_id[0] = s->refused_id[0] = s->expect_id[0] = '\0';
            snprintf(s->call_id, sizeof(s->call_id), "%s", f.message_id);
            if (s->version) {
                /* a 1.6 StartTransaction is served with the id it claims (core_txid) */
                core_action_ctx_t ctx = {
                    .heartbeat_interval_s = 300, .now_us = now, .transaction_id = 1};
                core_action_out_t out;
                ocpp_version_t v = (ocpp_version_t)(s->version - 1);
                core_action_handle(v, f.action, f.payload, &ctx, &out);
                must_hold = out.persist;
                if (v == OCPP_V16 && strcmp(f.action, "StartTransaction") == 0)
                    D.claims_waiting = 1;
                core_action_out_clear(&out);
                s->natural[0] = '\0';
                if (must_hold && !core_event_natural_id(IDENTITIES[s->ident], v, f.action,
                                                        f.payload, s->natural))
                    s->natural[0] = '\0';
                /* a resend of what this connection has in Kafka may be answered at once */
                s->resend = must_hold && s->natural[0] && persisted_has(s, s->natural);
                if (s->resend)
                    must_hold = 0;
                if (must_hold || s->resend) {
                    snprintf(s->persist_id, sizeof(s->persist_id), "%s", f.message_id);
                    s->persist_acked = 0;
                }
            }
        }
    }
    ocpp_frame_clear(&f);
    envelope_t env = {.type = ENV_FRAME};
    env.u.frame.edge_id = env_str(edge_id);
    env.u.frame.conn_id = conn_id;
    env.u.frame.data = (env_bin_t){(const uint8_t *)text, len};
    env.u.frame.at_us = now;
    if (with_facts && s) {
        env.u.frame.identity = env_str(IDENTITIES[s->ident]);
        env.u.frame.subprotocol = env_str(SUBPROTOCOLS[s->sub]);
        env.u.frame.boot_state = env_str(s->booted ? "accepted" : "");
    } else if (with_facts) {
        env.u.frame.identity = env_str(IDENTITIES[conn_id % 4]);
        env.u.frame.subprotocol = env_str("ocpp1.6");
    }
    event_begin();
    D.cur_slot = slot;
    core_conn_on_envelope(e, &env, now);
    D.cur_slot = -1;
    if ((must_hold && D.frame_result) || (D.lookup_sent && D.frame_answered))
        abort(); /* answered at once although it must wait for its ack or its id token */
    if (send21 && D.frame_answered)
        abort(); /* a SEND answered */
    D.cur_message_id[0] = '\0';
}

static void do_frame(core_conn_t *e, input_t *in, uint64_t now)
{
    int edge = next(in) % EDGES, k = next(in) % CONNS, slot = edge * CONNS + k;
    uint8_t facts = next(in);
    char text[1024];
    size_t len = frame_text(in, slot, text, sizeof(text));
    if (!len || !D.slots[slot].open) /* the edge sends frames of live connections only */
        return;
    /* a current edge says who the connection is; an older one does not */
    int with_facts = D.inst[edge] ? facts % 8 != 0 : facts % 8 == 1;
    send_frame(e, EDGE_IDS[edge], conn_id_of(slot), slot, text, len, with_facts, now);
}

/* a frame of a connection of the edge's former instance, still in flight */
static void do_late_frame(core_conn_t *e, input_t *in, uint64_t now)
{
    int edge = next(in) % EDGES, k = next(in) % CONNS;
    uint8_t kind = next(in);
    if (!D.prev_open[edge][k])
        return;
    uint64_t conn_id = D.prev_inst[edge] + 1 + (uint64_t)k + (uint64_t)CONNS * D.prev_gen[edge][k];
    char text[160];
    snprintf(text, sizeof(text),
             kind & 1 ? "[2,\"m%u\",\"Heartbeat\",{}]"
                      : "[2,\"m%u\",\"StatusNotification\",{\"connectorId\":1,\"errorCode\":"
                        "\"NoError\",\"status\":\"Available\"}]",
             D.next_id++ % MAX_IDS);
    send_frame(e, EDGE_IDS[edge], conn_id, -1, text, strlen(text), kind & 2, now);
}

static void do_disconnect(core_conn_t *e, int slot, uint64_t now)
{
    uint64_t conn_id = conn_id_of(slot);
    reset_slot(slot); /* closed: nothing may reach it now */
    envelope_t env = {.type = ENV_DISCONNECT};
    env.u.disconnect.edge_id = env_str(EDGE_IDS[slot / CONNS]);
    env.u.disconnect.conn_id = conn_id;
    env.u.disconnect.code = 1006;
    env.u.disconnect.reason = env_str("gone");
    event_begin();
    core_conn_on_envelope(e, &env, now);
}

/* an edge restarts: its connections die with it (no DISCONNECT); its next HELLO says so */
static void do_edge_restart(core_conn_t *e, input_t *in, uint64_t now)
{
    int edge = next(in) % EDGES;
    uint8_t b = next(in);
    D.prev_inst[edge] = D.inst[edge];
    for (int k = 0; k < CONNS; k++) {
        int slot = edge * CONNS + k;
        D.prev_open[edge][k] = D.slots[slot].open;
        D.prev_gen[edge][k] = D.slots[slot].gen;
        for (size_t i = 0; i < D.nlookups; i++)
            if (D.lookups[i].slot == slot)
                D.lookups[i].maybe = 1;
        if (D.slots[slot].waiting && D.nlimbo[edge] < CONNS * 4)
            D.limbo[edge][D.nlimbo[edge]++] = D.slots[slot].token;
        reset_slot(slot);
        D.slots[slot].gen = 0;
    }
    D.inst[edge] += 1000; /* conn ids of the former instance stay below the new instance */
    D.restarts_pending[edge]++;
    if (b & 1)
        do_hello(e, edge, now);
}

static void do_ack(core_conn_t *e, input_t *in, uint64_t now)
{
    uint8_t pick = next(in), st = next(in);
    uint64_t token = D.ntokens && pick < 200 ? D.tokens[pick % D.ntokens] : pick;
    int32_t status = st < 160 ? 0 : st < 240 ? -1 : (int32_t)st;
    int watched = -1, limbo = 0;
    for (int i = 0; i < SLOTS; i++)
        if (D.slots[i].waiting && D.slots[i].token == token)
            watched = i;
    for (int ed = 0; ed < EDGES; ed++)
        for (size_t i = 0; i < D.nlimbo[ed]; i++)
            limbo |= D.limbo[ed][i] == token;
    if (watched >= 0 && status == 0) {
        slot_t *s = &D.slots[watched];
        s->persist_acked = 1;
        if (s->natural[0] && !persisted_has(s, s->natural))
            snprintf(s->persisted[s->npersisted++ % 64], CORE_EVENT_ID_LEN + 1, "%s", s->natural);
    }
    event_begin();
    D.watch_slot = watched;
    envelope_t env = {.type = ENV_EVENT_ACK};
    env.u.event_ack.token = token;
    env.u.event_ack.status = status;
    env.u.event_ack.error = env_str(status ? "Broker: Not enough in-sync replicas" : "");
    core_conn_on_envelope(e, &env, now);
    D.watch_slot = -1;
    if (watched < 0 && !limbo && D.edge_effects)
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
    /* the record's traceparent: none, valid (it must come back) or broken (a new one) */
    static const char *const traces[] = {"", FUZZ_TRACEPARENT, "00-00-broken-01"};
    env.u.command.traceparent = env_str(traces[rec / 16 % 3]);
    D.cmd_traced[env.u.command.token] = rec / 16 % 3 == 1;
    event_begin();
    core_conn_on_envelope(e, &env, now);
}

static void do_registry(core_conn_t *e, input_t *in, uint8_t op, uint64_t now)
{
    uint8_t who = next(in), conn = next(in), epoch = next(in);
    int slot = (conn >> 4) % SLOTS;
    uint64_t conn_id = conn & 8 ? conn_id_of(slot) : conn % (CONNS + 1);
    envelope_t env = {.type = op == 6 ? ENV_REGISTERED : ENV_SUPERSEDED};
    if (op == 6) {
        env.u.registered.identity = env_str(IDENTITIES[who % 5]);
        env.u.registered.conn_id = conn_id;
        env.u.registered.epoch = epoch;
        env.u.registered.status = who & 0x80 ? (who & 0x20 ? -EACCES : -11) : 0;
        env.u.registered.boot_state = env_str(who & 0x40 ? "accepted" : "none");
    } else {
        env.u.superseded.identity = env_str(IDENTITIES[who % 5]);
        env.u.superseded.conn_id = conn & 1 ? 0 : conn_id;
        env.u.superseded.epoch = epoch;
        env.u.superseded.by_pod = env_str("pod-b");
    }
    event_begin();
    core_conn_on_envelope(e, &env, now);
}

static void do_announce(core_conn_t *e, input_t *in, const core_conn_t *ce, uint64_t now)
{
    uint8_t b = next(in);
    int bridge = b & 1;
    if (b & 4) { /* another core's: nothing to reconcile here */
        envelope_t env = {.type = ENV_ANNOUNCE};
        env.u.announce.stage = env_str("core");
        env.u.announce.instance = b;
        event_begin();
        core_conn_on_envelope(e, &env, now);
        if (D.registers || D.lookups_sent || D.edge_effects)
            abort();
        return;
    }
    uint64_t *inst = bridge ? &D.bridge_inst : &D.registry_inst;
    int *heard = bridge ? &D.bridge_heard : &D.registry_heard;
    int restarted = (b & 2) && *heard;
    if (b & 2)
        *inst += 1;
    core_conn_stats_t before;
    core_conn_stats(ce, &before);
    event_begin();
    envelope_t env = {.type = ENV_ANNOUNCE};
    env.u.announce.stage = env_str(bridge ? "bridge" : "registry");
    env.u.announce.instance = *inst;
    core_conn_on_envelope(e, &env, now);
    *heard = 1;
    if (restarted && bridge) { /* every answer waiting for the lost acks is answered */
        for (int i = 0; i < SLOTS; i++)
            if (D.slots[i].waiting)
                abort();
    }
    /* registered again, every id-token lookup asked again, and the transaction-id claims in
     * flight (those waiting for a backoff or for the pool are not): both kinds wait alike */
    if (restarted && !bridge &&
        (D.registers > before.connections || D.lookups_sent + D.claims_sent > before.waiting ||
         (!D.claims_sent && D.lookups_sent != before.waiting && !D.claims_waiting)))
        abort();
    if (!restarted && (D.registers || D.lookups_sent || D.edge_effects))
        abort();
}

static const char *expected_status(const env_tag_info_t *m, const lookup_t *l, uint64_t now)
{
    if (m->error || !env_str_eq(m->id_tag, l->tag))
        return D.fallback_accept ? "Accepted" : "Invalid";
    core_tag_answer_t a = {.found = m->found, .expires_at_ms = m->expires_at_ms};
    env_str_copy(m->status, a.status, sizeof(a.status));
    return core_tag_status(&a, now);
}

static void do_tag_info(core_conn_t *e, input_t *in, uint64_t now)
{
    uint8_t pick = next(in), b = next(in), st = next(in);
    lookup_t *l = D.nlookups && pick < 200 ? &D.lookups[pick % D.nlookups] : NULL;
    envelope_t env = {.type = ENV_TAG_INFO};
    env.u.tag_info.request_id = l ? l->request : pick;
    env.u.tag_info.id_tag = env_str(l && !(b & 1) ? l->tag : TAGS[b % 3]);
    env.u.tag_info.found = !(b & 2);
    env.u.tag_info.status = env_str(TAG_STATUSES[st % 6]);
    env.u.tag_info.expires_at_ms =
        b & 4 ? 0 : (now / 1000 + (uint64_t)((st >> 3) % 8) * 1000 - 3000);
    env.u.tag_info.error = b & 8 ? -EAGAIN : 0;
    slot_t *s =
        l && l->slot >= 0 && D.slots[l->slot].tag_req == l->request ? &D.slots[l->slot] : NULL;
    if (s) {
        snprintf(s->expect_status, sizeof(s->expect_status), "%s",
                 expected_status(&env.u.tag_info, l, now));
        s->tag_req = 0;
    }
    int maybe = l && l->maybe;
    event_begin();
    core_conn_on_envelope(e, &env, now);
    if (!s && !maybe && D.edge_effects)
        abort(); /* nobody waits for that token any more: nothing to send */
}

/* the registry answers a TXID_BLOCK (one of this engine's, or any request id): a range of the
 * counter, or -EAGAIN, -EBUSY, -ENOSPC */
static void do_txid_range(core_conn_t *e, input_t *in, uint64_t now)
{
    uint8_t pick = next(in), b = next(in);
    envelope_t env = {.type = ENV_TXID_RANGE};
    size_t k = D.nblock_req ? pick % D.nblock_req : 0;
    int ours = D.nblock_req && pick < 220;
    env.u.txid_range.request_id = ours ? D.block_req[k] : pick;
    if (ours)
        D.block_req[k] = D.block_req[--D.nblock_req];
    static const int32_t errors[] = {0, 0, 0, 0, 0, -EAGAIN, -EBUSY, -ENOSPC};
    env.u.txid_range.error = errors[b % 8];
    if (!env.u.txid_range.error) {
        uint32_t n = 1 + (b >> 3) % 4;
        env.u.txid_range.first = D.txid_counter + 1;
        env.u.txid_range.count = n;
        D.txid_counter += n;
        if (ours && D.ngiven < 64) { /* a range the engine may hand out */
            D.given_lo[D.ngiven] = env.u.txid_range.first;
            D.given_hi[D.ngiven++] = D.txid_counter;
        } else if (ours) {
            return; /* the model is full: not given */
        }
    }
    event_begin();
    core_conn_on_envelope(e, &env, now);
}

/* the registry answers a TXID_CLAIM as its script does (the id under the key, or the candidate
 * stored), or with an error, or a request id nobody sent */
static void do_txid_claimed(core_conn_t *e, input_t *in, uint64_t now)
{
    uint8_t pick = next(in), b = next(in);
    envelope_t env = {.type = ENV_TXID_CLAIMED};
    if (!D.nclaims || pick >= 220) {
        env.u.txid_claimed.request_id = pick;
        env.u.txid_claimed.id = 1 + b;
        event_begin();
        core_conn_on_envelope(e, &env, now);
        if (D.edge_effects)
            abort(); /* nobody waits for that claim: nothing to send */
        return;
    }
    size_t k = pick % D.nclaims;
    char key[128];
    uint64_t candidate = D.claims[k].candidate;
    snprintf(key, sizeof(key), "%s", D.claims[k].key);
    env.u.txid_claimed.request_id = D.claims[k].request;
    memmove(&D.claims[k], &D.claims[k + 1], (D.nclaims - k - 1) * sizeof(D.claims[0]));
    D.nclaims--;
    switch (b % 8) {
    case 4:
        env.u.txid_claimed.error = -EAGAIN;
        break;
    case 5:
        env.u.txid_claimed.error = -EBUSY;
        break;
    case 6:
        env.u.txid_claimed.error = -EINVAL;
        break;
    case 7:
        env.u.txid_claimed.error = -EIO;
        break;
    default: {
        size_t i = 0;
        while (i < D.nstored && strcmp(D.stored[i].key, key) != 0)
            i++;
        if (i == D.nstored) {
            if (D.nstored == 256)
                return; /* the model is full */
            snprintf(D.stored[i].key, sizeof(D.stored[i].key), "%s", key);
            D.stored[i].id = candidate;
            D.nstored++;
        }
        env.u.txid_claimed.id = D.stored[i].id;
        env.u.txid_claimed.first = D.stored[i].id == candidate;
        D.answered_ids[D.nanswered_ids++ % 512] = D.stored[i].id;
        break;
    }
    }
    event_begin();
    core_conn_on_envelope(e, &env, now);
}

static core_conn_t *engine_new(uint8_t conf, uint64_t generation)
{
    static const char *const policies[] = {"accept-all", "allow-list", "redis", "redis"};
    D.redis = conf % 4 >= 2;
    D.fallback_accept = conf & 0x80;
    core_conn_config_t cfg = {.pod_id = "pod-a",
                              .core_index = 1,
                              .instance = 100 + generation,
                              .announce_interval_ms = conf & 0x40 ? 1000 : 0,
                              .events_topic = "ocpp-events-up",
                              .heartbeat_interval_s = 300,
                              .event_heartbeat = conf & 0x08,
                              .auth_policy = policies[conf % 4],
                              .auth_list = "TAG",
                              .tag_cache_ms = 3000,
                              .tag_negative_cache_ms = 1000,
                              .tag_cache_max = TAG_CACHE,
                              .tag_timeout_ms = TAG_TIMEOUT / 1000,
                              .tag_fallback_accept = D.fallback_accept,
                              .command_timeout_ms = 1000u + 1000u * (conf >> 4 & 3),
                              .command_queue_max = QUEUE_MAX,
                              .persist_timeout_ms = conf & 4 ? 3000 : 0,
                              .event_raw_payload = conf & 0x20,
                              .unrouted_queue_max = UNROUTED_MAX,
                              .unrouted_queue_ms = 2000,
                              .txid_block_size = 4,
                              .txid_low_water = 2,
                              .txid_claim_timeout_ms = 1000,
                              .txid_claim_budget_ms = 3000,
                              .token_base = generation << 40 | (uint64_t)conf << 8};
    memcpy(cfg.id_key, &generation, sizeof(generation)); /* a new process, a new key */
    core_conn_ops_t ops = {.send = fuzz_send, .open_edge = fuzz_open_edge};
    core_conn_t *e = core_conn_new(&cfg, &ops, NULL);
    if (!e)
        abort();
    return e;
}

/* the core restarts: a new engine knows nothing; the bridge settles the old one's commands */
static core_conn_t *do_core_restart(core_conn_t **e, uint8_t conf, uint64_t *generation)
{
    core_conn_destroy(e);
    for (size_t t = 1; t <= D.ncmds; t++)
        if (!D.results[t])
            D.results[t] = 1;
    for (int i = 0; i < SLOTS; i++) {
        slot_t *s = &D.slots[i];
        s->waiting = 0;
        s->tag_req = 0;
        s->persist_id[0] = s->expect_id[0] = s->refused_id[0] = s->last_call[0] = '\0';
        s->npersisted = 0; /* the new engine's sessions remember nothing */
    }
    D.nlookups = 0;
    D.ntokens = 0;
    D.ngiven = D.nblock_req = D.nclaims = 0; /* Redis keeps the counter and the keys */
    D.claims_waiting = 0;
    for (int ed = 0; ed < EDGES; ed++)
        D.routed[ed] = 0, D.engine_inst[ed] = 0, D.nlimbo[ed] = 0, D.restarts_pending[ed] = 0;
    D.bridge_heard = D.registry_heard = 0;
    return engine_new(conf, ++*generation);
}

static void do_tick(core_conn_t *e, uint64_t now)
{
    event_begin();
    uint64_t due = core_conn_tick(e, now);
    if (due && due <= now)
        abort();                    /* tick did what was due */
    for (int i = 0; i < SLOTS; i++) /* past their bound: answered by tag_fallback */
        if (D.slots[i].tag_req && now >= D.slots[i].tag_deadline)
            D.slots[i].tag_req = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (trace < 0)
        trace = getenv("FUZZ_TRACE") != NULL;
    log_set_fd(-1);
    log_set_level(LOG_ERROR);
    memset(&D, 0, sizeof(D));
    D.cur_slot = D.watch_slot = -1;
    D.bridge_inst = D.registry_inst = 50;
    input_t in = {data, size};
    uint8_t conf = next(&in), edges = next(&in);
    for (int ed = 0; ed < EDGES; ed++) /* older edges (instance 0) or current ones */
        D.inst[ed] = edges >> ed & 1 ? 0 : 1000 * (uint64_t)(ed + 1);
    uint64_t generation = 1;
    core_conn_t *e = engine_new(conf, generation);
    uint64_t now = T0;
    D.now = now;
    for (int n = 0; n < MAX_OPS && in.left; n++) {
        uint8_t op = next(&in) % 21;
        D.now = now;
        if (trace)
            fprintf(stderr, "op %d at +%" PRIu64 " ms\n", (int)op, (uint64_t)((now - T0) / 1000));
        switch (op) {
        case 0:
            do_hello(e, next(&in) % EDGES, now);
            break;
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
        case 11: { /* peers full or not, routes failing to open or not */
            uint8_t b = next(&in);
            D.full[CORE_TO_BRIDGE] = b & 1;
            D.full[CORE_TO_REGISTRY] = b >> 1 & 1;
            D.full[CORE_TO_EDGE] = b >> 2 & 1;
            D.open_fails = (b & 0x18) == 0x18;
            break;
        }
        case 12: { /* the clock moves; the shell ticks unless the loop is busy */
            uint8_t b = next(&in);
            now += (uint64_t)(b & 0x7f) * 100000u;
            D.now = now;
            if (!(b & 0x80))
                do_tick(e, now);
            break;
        }
        case 13:
            do_edge_restart(e, &in, now);
            break;
        case 14:
            if (next(&in) & 1)
                e = do_core_restart(&e, conf, &generation);
            break;
        case 15:
            do_announce(e, &in, e, now);
            break;
        case 16:
            if (D.redis)
                do_tag_info(e, &in, now);
            break;
        case 17: { /* the edge re-announces a live connection */
            int slot = next(&in) % SLOTS;
            if (D.slots[slot].open)
                send_connect(e, slot, 1, now);
            break;
        }
        case 19:
            do_txid_range(e, &in, now);
            break;
        case 20:
            do_txid_claimed(e, &in, now);
            break;
        default:
            do_late_frame(e, &in, now);
            break;
        }
        check_bounds(e);
    }
    /* everything ends: every edge's current instance heard, far ahead, every connection gone,
     * then every command has its result and nothing is left */
    D.open_fails = 0;
    for (int ed = 0; ed < EDGES; ed++)
        do_hello(e, ed, now);
    now += 1000000 * SEC;
    D.now = now;
    do_tick(e, now);
    for (int slot = 0; slot < SLOTS; slot++)
        if (D.slots[slot].open)
            do_disconnect(e, slot, now);
    do_tick(e, now + SEC);
    core_conn_stats_t st;
    core_conn_stats(e, &st);
    if (st.connections || st.identities || st.held || st.waiting || st.queued || st.timers ||
        st.unrouted)
        abort();
    for (size_t t = 1; t <= D.ncmds; t++)
        if (D.results[t] != 1)
            abort();
    core_conn_destroy(&e);
    return 0;
}
