/* Unit tests for services/ocpp-core/core_conn, the engine of ocpp-core, and core_timers, its
 * deadline heap. Recording ops keep every effect (envelopes to edges, bridge and registry, with
 * the policy each was sent with; routes opened) and answer like an outbox (a peer marked full
 * refuses OUTBOX_TRY and OUTBOX_DROP sends with -ENOBUFS and queues OUTBOX_MUST ones); each test
 * drives a sequence of envelopes and ticks with a fake clock and asserts the effects: answers
 * held until persistence (acked, bridge stalled with and without a bound, bridge failing or full,
 * abandoned by a new CALL, connection closed), every way a command ends (accepted, rejected,
 * ocpp_error, timeout, expired, queue full, not on this core, connection closed), each with
 * exactly one RESULT, 2.0.1 boot gating (also through the registry), newer connections,
 * SUPERSEDED by epoch, and the restarts of peers (DESIGN-12-13 "Instances": ANNOUNCE, new edge,
 * registry and bridge instances, resumed CONNECTs, frames of unknown connections with and without
 * identity, frames waiting for their edge's HELLO, CONN_STATE); the policy of every send and the
 * refusals of a full bridge or registry; REGISTER.authenticated; auth_policy redis (TAG_LOOKUP,
 * TAG_INFO, cache, timeout and fallback, the answers' statuses). */
#include "core_conn.h"
#include "core_metrics.h"
#include "core_timers.h"
#include "log.h"
#include "metrics.h"
#include "ocpp_frame.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define SEC  1000000ULL
#define T0   (1735689600ULL * SEC) /* 2025-01-01T00:00:00Z */
#define EDGE "edge-1"

/* ---- recording ops -------------------------------------------------------------------- */

typedef struct {
    core_peer_t to;
    envelope_type_t type;
    char edge[64];
    uint64_t conn_id; /* SEND, CLOSE, REGISTER, UNREGISTER */
    uint32_t code;    /* CLOSE */
    uint64_t token;   /* EVENT, RESULT */
    uint64_t epoch;   /* UNREGISTER, REGISTER */
    outbox_policy_t policy;
    int refused;        /* the recording ops answered -ENOBUFS */
    bool authenticated; /* REGISTER */
    uint64_t instance;  /* ANNOUNCE */
    char what[128];  /* CLOSE reason, EVENT ce_type, RESULT status, REGISTER/CONN_STATE boot_state,
                      * TAG_LOOKUP id_tag, ANNOUNCE stage */
    char id[96];     /* RESULT command_id */
    char evid[40];   /* EVENT ce_id header (the event id) */
    char ctype[64];  /* EVENT content-type header */
    char trace[64];  /* EVENT traceparent header, RESULT traceparent */
    char text[4096]; /* SEND data, RESULT value */
} rec_t;

static struct {
    rec_t r[128];
    size_t n;
    bool full[3]; /* per core_peer_t: the peer's outbox is full */
    int open_rc;  /* what open_edge returns */
    int opened;
    char opened_edge[64], opened_endpoint[64];
    /* auto_claim: the registry's claim script stands in for 1.6 transaction ids (tests of other
     * rules): a TXID_CLAIM is not recorded but answered at the end of frame() and tag_info(),
     * with the id remembered under its key (first=false) or else its candidate, remembered
     * (first=true); the tests of transaction ids turn it off and answer themselves */
    bool auto_claim;
    uint64_t claim_request, claim_candidate;
    char claim_key[128];
    char keys[16][128];
    uint64_t ids[16];
    size_t nkeys;
} R;

static void copy_str(env_str_t s, char *out, size_t len)
{
    env_str_copy(s, out, len);
}

static int rec_send(void *arg, core_peer_t to, const char *edge_id, const envelope_t *env,
                    outbox_policy_t policy)
{
    (void)arg;
    if (env->type == ENV_TXID_CLAIM && R.auto_claim && !R.full[to]) {
        R.claim_request = env->u.txid_claim.request_id;
        R.claim_candidate = env->u.txid_claim.candidate;
        copy_str(env->u.txid_claim.key, R.claim_key, sizeof(R.claim_key));
        return 0;
    }
    ck_assert_uint_lt(R.n, sizeof(R.r) / sizeof(R.r[0]));
    rec_t *r = &R.r[R.n++];
    memset(r, 0, sizeof(*r));
    r->to = to;
    r->type = env->type;
    r->policy = policy;
    r->refused = R.full[to] && policy != OUTBOX_MUST;
    if (edge_id)
        snprintf(r->edge, sizeof(r->edge), "%s", edge_id);
    switch (env->type) {
    case ENV_SEND:
        r->conn_id = env->u.send.conn_id;
        snprintf(r->text, sizeof(r->text), "%.*s", (int)env->u.send.data.len,
                 (const char *)env->u.send.data.ptr);
        break;
    case ENV_CLOSE:
        r->conn_id = env->u.close.conn_id;
        r->code = env->u.close.code;
        copy_str(env->u.close.reason, r->what, sizeof(r->what));
        break;
    case ENV_EVENT:
        r->token = env->u.event.token;
        for (size_t i = 0; i < env->u.event.headers.count; i++) {
            const env_header_t *h = &env->u.event.headers.items[i];
            char name[32];
            copy_str(h->name, name, sizeof(name));
            if (strcmp(name, "ce_type") == 0)
                copy_str(h->value, r->what, sizeof(r->what));
            else if (strcmp(name, "ce_id") == 0)
                copy_str(h->value, r->evid, sizeof(r->evid));
            else if (strcmp(name, "content-type") == 0)
                copy_str(h->value, r->ctype, sizeof(r->ctype));
            else if (strcmp(name, "traceparent") == 0)
                copy_str(h->value, r->trace, sizeof(r->trace));
        }
        snprintf(r->text, sizeof(r->text), "%.*s", (int)env->u.event.value.len,
                 (const char *)env->u.event.value.ptr);
        break;
    case ENV_RESULT:
        r->token = env->u.result.token;
        copy_str(env->u.result.status, r->what, sizeof(r->what));
        copy_str(env->u.result.command_id, r->id, sizeof(r->id));
        copy_str(env->u.result.traceparent, r->trace, sizeof(r->trace));
        snprintf(r->text, sizeof(r->text), "%.*s", (int)env->u.result.value.len,
                 (const char *)env->u.result.value.ptr);
        break;
    case ENV_REGISTER:
        r->conn_id = env->u.register_.conn_id;
        r->epoch = env->u.register_.epoch;
        r->authenticated = env->u.register_.authenticated;
        copy_str(env->u.register_.boot_state, r->what, sizeof(r->what));
        break;
    case ENV_CONN_STATE:
        r->conn_id = env->u.conn_state.conn_id;
        copy_str(env->u.conn_state.boot_state, r->what, sizeof(r->what));
        break;
    case ENV_ANNOUNCE:
        r->instance = env->u.announce.instance;
        r->code = env->u.announce.index;
        copy_str(env->u.announce.stage, r->what, sizeof(r->what));
        break;
    case ENV_TAG_LOOKUP:
        r->token = env->u.tag_lookup.request_id;
        r->code = env->u.tag_lookup.core_id;
        copy_str(env->u.tag_lookup.id_tag, r->what, sizeof(r->what));
        break;
    case ENV_UNREGISTER:
        r->conn_id = env->u.unregister.conn_id;
        r->epoch = env->u.unregister.epoch;
        break;
    case ENV_TXID_BLOCK:
        r->token = env->u.txid_block.request_id;
        r->code = env->u.txid_block.count;
        r->instance = env->u.txid_block.core_id;
        break;
    case ENV_TXID_CLAIM:
        r->token = env->u.txid_claim.request_id;
        r->epoch = env->u.txid_claim.candidate;
        r->instance = env->u.txid_claim.ttl_ms;
        copy_str(env->u.txid_claim.key, r->what, sizeof(r->what));
        break;
    default:
        ck_abort_msg("unexpected effect %d", (int)env->type);
    }
    return r->refused ? -ENOBUFS : 0;
}

static int rec_open_edge(void *arg, const char *edge_id, const char *endpoint)
{
    (void)arg;
    R.opened++;
    snprintf(R.opened_edge, sizeof(R.opened_edge), "%s", edge_id);
    snprintf(R.opened_endpoint, sizeof(R.opened_endpoint), "%s", endpoint);
    return R.open_rc;
}

/* the configuration of the tests: persistence unbounded, commands 30 s, 4 queued */
static core_conn_config_t config(void)
{
    core_conn_config_t cfg = {.pod_id = "pod-a",
                              .core_index = 0,
                              .instance = 77,
                              .events_topic = "ocpp-events-up",
                              .heartbeat_interval_s = 300,
                              .auth_policy = "accept-all",
                              .tag_cache_ms = 60000,
                              .tag_negative_cache_ms = 10000,
                              .tag_cache_max = 100,
                              .tag_timeout_ms = 2000,
                              .command_timeout_ms = 30000,
                              .command_queue_max = 4,
                              .unrouted_queue_max = 8,
                              .unrouted_queue_ms = 2000,
                              .token_base = 1000};
    return cfg;
}

static void hello(core_conn_t *e, const char *edge, uint64_t instance, uint64_t now)
{
    envelope_t env = {.type = ENV_HELLO};
    env.u.hello.edge_id = env_str(edge);
    env.u.hello.endpoint = env_str("ipc:///tmp/edge.sock");
    env.u.hello.instance = instance;
    core_conn_on_envelope(e, &env, now);
}

static void txid_range(core_conn_t *e, uint64_t request_id, uint64_t first, uint32_t count,
                       int32_t error, uint64_t now)
{
    envelope_t env = {.type = ENV_TXID_RANGE};
    env.u.txid_range.request_id = request_id;
    env.u.txid_range.first = first;
    env.u.txid_range.count = count;
    env.u.txid_range.error = error;
    core_conn_on_envelope(e, &env, now);
}

static void txid_claimed(core_conn_t *e, uint64_t request_id, uint64_t id, bool first,
                         int32_t error, uint64_t now)
{
    envelope_t env = {.type = ENV_TXID_CLAIMED};
    env.u.txid_claimed.request_id = request_id;
    env.u.txid_claimed.id = id;
    env.u.txid_claimed.first = first;
    env.u.txid_claimed.error = error;
    core_conn_on_envelope(e, &env, now);
}

/* auto_claim: answers the TXID_CLAIM the engine just sent, if any */
static void registry_answers(core_conn_t *e, uint64_t now)
{
    while (R.claim_request) {
        uint64_t request = R.claim_request, id = R.claim_candidate;
        R.claim_request = 0;
        for (size_t i = 0; i < R.nkeys; i++)
            if (strcmp(R.keys[i], R.claim_key) == 0) {
                txid_claimed(e, request, R.ids[i], false, 0, now);
                return;
            }
        ck_assert_uint_lt(R.nkeys, 16);
        snprintf(R.keys[R.nkeys], sizeof(R.keys[0]), "%s", R.claim_key);
        R.ids[R.nkeys++] = id;
        txid_claimed(e, request, id, true, 0, now);
    }
}

/* an engine with cfg, recording its effects, whose edge EDGE (an older edge: instance 0) said
 * HELLO */
static core_conn_t *engine_bare(const core_conn_config_t *cfg)
{
    memset(&R, 0, sizeof(R));
    log_set_fd(-1);
    core_conn_ops_t ops = {.send = rec_send, .open_edge = rec_open_edge};
    core_conn_t *e = core_conn_new(cfg, &ops, NULL);
    ck_assert_ptr_nonnull(e);
    hello(e, EDGE, 0, T0);
    return e;
}

/* an engine with cfg whose edges EDGE and edge-2 (older edges: instance 0) said HELLO; without
 * an ANNOUNCE period (the tests of it see the first tick) it ticked once and got the transaction
 * ids 1000..1099 for its first TXID_BLOCK */
static core_conn_t *engine_with(const core_conn_config_t *cfg)
{
    core_conn_t *e = engine_bare(cfg);
    hello(e, "edge-2", 0, T0);
    if (!cfg->announce_interval_ms) {
        R.n = 0;
        core_conn_tick(e, T0);
        ck_assert_uint_eq(R.n, 1);
        ck_assert_int_eq(R.r[0].type, ENV_TXID_BLOCK);
        txid_range(e, R.r[0].token, 1000, 100, 0, T0);
    }
    R.n = 0;
    R.auto_claim = true;
    return e;
}

static core_conn_t *engine(uint64_t persist_timeout_ms, uint64_t command_timeout_ms,
                           size_t queue_max)
{
    core_conn_config_t cfg = config();
    cfg.persist_timeout_ms = persist_timeout_ms;
    cfg.command_timeout_ms = command_timeout_ms;
    cfg.command_queue_max = queue_max;
    return engine_with(&cfg);
}

static void forget(void)
{
    R.n = 0;
}

static size_t n_of(envelope_type_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < R.n; i++)
        n += R.r[i].type == type;
    return n;
}

/* the k-th effect of this type (0 = first), failing the test when there is none */
static const rec_t *nth(envelope_type_t type, size_t k)
{
    for (size_t i = 0; i < R.n; i++)
        if (R.r[i].type == type && k-- == 0)
            return &R.r[i];
    ck_abort_msg("no effect %d", (int)type);
    return NULL;
}

static const rec_t *only(envelope_type_t type)
{
    ck_assert_uint_eq(n_of(type), 1);
    return nth(type, 0);
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static uint64_t counter(core_metric_t m)
{
    return metrics_counter_get(metrics_def_counter(&CORE_METRICS[m], NULL));
}

/* ---- inputs ------------------------------------------------------------------------------ */

static void connect_(core_conn_t *e, const char *edge, uint64_t conn_id, const char *identity,
                     const char *subprotocol, uint64_t now)
{
    envelope_t env = {.type = ENV_CONNECT};
    env.u.connect.edge_id = env_str(edge);
    env.u.connect.conn_id = conn_id;
    env.u.connect.identity = env_str(identity);
    env.u.connect.subprotocol = env_str(subprotocol);
    env.u.connect.peer = env_str("127.0.0.1:5000");
    env.u.connect.at_us = now;
    core_conn_on_envelope(e, &env, now);
}

static void frame(core_conn_t *e, uint64_t conn_id, const char *text, uint64_t now)
{
    envelope_t env = {.type = ENV_FRAME};
    env.u.frame.edge_id = env_str(EDGE);
    env.u.frame.conn_id = conn_id;
    env.u.frame.data = (env_bin_t){(const uint8_t *)text, strlen(text)};
    env.u.frame.at_us = now;
    core_conn_on_envelope(e, &env, now);
    registry_answers(e, now);
}

static void disconnect(core_conn_t *e, uint64_t conn_id, uint64_t now)
{
    envelope_t env = {.type = ENV_DISCONNECT};
    env.u.disconnect.edge_id = env_str(EDGE);
    env.u.disconnect.conn_id = conn_id;
    env.u.disconnect.code = 1006;
    env.u.disconnect.reason = env_str("gone");
    core_conn_on_envelope(e, &env, now);
}

static void ack(core_conn_t *e, uint64_t token, int32_t status, uint64_t now)
{
    envelope_t env = {.type = ENV_EVENT_ACK};
    env.u.event_ack.token = token;
    env.u.event_ack.status = status;
    env.u.event_ack.error = env_str(status ? "Broker: Not enough in-sync replicas" : "");
    core_conn_on_envelope(e, &env, now);
}

/* A COMMAND with the deadline the bridge fixed (0: none sent) */
static void command_until(core_conn_t *e, uint64_t token, const char *identity, const char *record,
                          const char *traceparent, uint64_t expires_at_ms, uint64_t now)
{
    envelope_t env = {.type = ENV_COMMAND};
    env.u.command.traceparent = env_str(traceparent);
    env.u.command.expires_at_ms = expires_at_ms;
    env.u.command.token = token;
    env.u.command.identity = env_str(identity);
    env.u.command.command_id = env_str("cmd");
    env.u.command.record = (env_bin_t){(const uint8_t *)record, strlen(record)};
    core_conn_on_envelope(e, &env, now);
}

static void command_traced(core_conn_t *e, uint64_t token, const char *identity, const char *record,
                           const char *traceparent, uint64_t now)
{
    command_until(e, token, identity, record, traceparent, 0, now);
}

static void command(core_conn_t *e, uint64_t token, const char *identity, const char *record,
                    uint64_t now)
{
    command_traced(e, token, identity, record, "", now);
}

static void registered(core_conn_t *e, const char *identity, uint64_t conn_id, uint64_t epoch,
                       int32_t status, const char *boot_state)
{
    envelope_t env = {.type = ENV_REGISTERED};
    env.u.registered.identity = env_str(identity);
    env.u.registered.conn_id = conn_id;
    env.u.registered.epoch = epoch;
    env.u.registered.status = status;
    env.u.registered.boot_state = env_str(boot_state);
    core_conn_on_envelope(e, &env, T0);
}

static void superseded(core_conn_t *e, const char *identity, uint64_t conn_id, uint64_t epoch)
{
    envelope_t env = {.type = ENV_SUPERSEDED};
    env.u.superseded.identity = env_str(identity);
    env.u.superseded.conn_id = conn_id;
    env.u.superseded.epoch = epoch;
    env.u.superseded.by_pod = env_str("pod-b");
    core_conn_on_envelope(e, &env, T0);
}

static const char BOOT16[] =
    "[2,\"b1\",\"BootNotification\",{\"chargePointVendor\":\"V\",\"chargePointModel\":\"M\"}]";
static const char BOOT201[] = "[2,\"b1\",\"BootNotification\",{\"reason\":\"PowerUp\","
                              "\"chargingStation\":{\"model\":\"M\",\"vendorName\":\"V\"}}]";
static const char START16[] =
    "[2,\"s1\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":\"TAG\",\"meterStart\":0,"
    "\"timestamp\":\"2025-01-01T00:00:00Z\"}]";
static const char HEARTBEAT[] = "[2,\"h1\",\"Heartbeat\",{}]";

/* a 1.6 charge point CP1 on conn 1, booted; effects forgotten */
static void boot16(core_conn_t *e)
{
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    frame(e, 1, BOOT16, T0);
    forget();
}

/* boot16 on an engine of persist_timeout_ms */
static core_conn_t *booted16(uint64_t persist_timeout_ms)
{
    core_conn_t *e = engine(persist_timeout_ms, 30000, 4);
    boot16(e);
    return e;
}

/* the token of the EVENT that holds an answer, after a persisted CALL */
static uint64_t held_token(void)
{
    const rec_t *ev = only(ENV_EVENT);
    ck_assert_uint_ne(ev->token, 0);
    return ev->token;
}

static core_conn_stats_t stats(const core_conn_t *e)
{
    core_conn_stats_t st;
    core_conn_stats(e, &st);
    return st;
}

/* ---- inputs of the restarts of peers --------------------------------------------------------- */

/* CONNECT with the facts the edge re-announces (resumed) and how the connection authenticated */
static void connect_ex(core_conn_t *e, const char *edge, uint64_t conn_id, const char *identity,
                       const char *subprotocol, bool resumed, const char *boot_state,
                       const char *auth, uint64_t at, uint64_t now)
{
    envelope_t env = {.type = ENV_CONNECT};
    env.u.connect.edge_id = env_str(edge);
    env.u.connect.conn_id = conn_id;
    env.u.connect.identity = env_str(identity);
    env.u.connect.subprotocol = env_str(subprotocol);
    env.u.connect.peer = env_str("127.0.0.1:5000");
    env.u.connect.at_us = at;
    env.u.connect.resumed = resumed;
    env.u.connect.boot_state = env_str(boot_state);
    env.u.connect.auth = env_str(auth);
    core_conn_on_envelope(e, &env, now);
}

/* FRAME carrying the connection's facts, as a current edge sends it */
static void frame_ex(core_conn_t *e, const char *edge, uint64_t conn_id, const char *identity,
                     const char *subprotocol, const char *boot_state, const char *text,
                     uint64_t now)
{
    envelope_t env = {.type = ENV_FRAME};
    env.u.frame.edge_id = env_str(edge);
    env.u.frame.conn_id = conn_id;
    env.u.frame.data = (env_bin_t){(const uint8_t *)text, strlen(text)};
    env.u.frame.at_us = now;
    env.u.frame.identity = env_str(identity);
    env.u.frame.subprotocol = env_str(subprotocol);
    env.u.frame.boot_state = env_str(boot_state);
    core_conn_on_envelope(e, &env, now);
}

static void announce_in(core_conn_t *e, const char *stage, uint64_t instance, uint64_t now)
{
    envelope_t env = {.type = ENV_ANNOUNCE};
    env.u.announce.stage = env_str(stage);
    env.u.announce.instance = instance;
    core_conn_on_envelope(e, &env, now);
}

static void tag_info(core_conn_t *e, uint64_t request_id, const char *tag, bool found,
                     const char *status, uint64_t expires_at_ms, int32_t error, uint64_t now)
{
    envelope_t env = {.type = ENV_TAG_INFO};
    env.u.tag_info.request_id = request_id;
    env.u.tag_info.id_tag = env_str(tag);
    env.u.tag_info.found = found;
    env.u.tag_info.status = env_str(status);
    env.u.tag_info.expires_at_ms = expires_at_ms;
    env.u.tag_info.error = error;
    core_conn_on_envelope(e, &env, now);
    registry_answers(e, now);
}

static uint64_t counter_of(core_metric_t m, const char *labels)
{
    return metrics_counter_get(metrics_def_counter(&CORE_METRICS[m], labels));
}

/* the k-th effect of this type to that peer */
static size_t n_to(envelope_type_t type, core_peer_t to)
{
    size_t n = 0;
    for (size_t i = 0; i < R.n; i++)
        n += R.r[i].type == type && R.r[i].to == to;
    return n;
}

/* ---- connections ------------------------------------------------------------------------- */

START_TEST(test_connect_registers_and_publishes)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    const rec_t *reg = only(ENV_REGISTER);
    ck_assert_int_eq(reg->to, CORE_TO_REGISTRY);
    ck_assert_str_eq(reg->what, "none");
    const rec_t *ev = only(ENV_EVENT);
    ck_assert_int_eq(ev->to, CORE_TO_BRIDGE);
    ck_assert_str_eq(ev->what, "device.connected");
    ck_assert_uint_eq(ev->token, 0); /* transport events wait for nobody */
    ck_assert_uint_eq(stats(e).connections, 1);
    /* an unknown subprotocol is closed, never registered */
    forget();
    connect_(e, EDGE, 2, "CP2", "ocpp0.9", T0);
    const rec_t *cl = only(ENV_CLOSE);
    ck_assert_uint_eq(cl->conn_id, 2);
    ck_assert_uint_eq(cl->code, 1002);
    ck_assert_uint_eq(n_of(ENV_REGISTER), 0);
    ck_assert_uint_eq(stats(e).connections, 1);
    /* disconnect before REGISTERED: device.disconnected, and UNREGISTER by connection (epoch
     * 0) so that the registration in flight does not outlive the station */
    forget();
    disconnect(e, 1, T0 + SEC);
    ck_assert_str_eq(only(ENV_EVENT)->what, "device.disconnected");
    ck_assert_uint_eq(only(ENV_UNREGISTER)->epoch, 0);
    ck_assert_uint_eq(only(ENV_UNREGISTER)->conn_id, 1);
    ck_assert_uint_eq(stats(e).connections, 0);
    ck_assert_uint_eq(stats(e).identities, 0);
    core_conn_destroy(&e);
    ck_assert_ptr_null(e);
    core_conn_destroy(&e); /* safe twice */
}
END_TEST

START_TEST(test_unregister_with_epoch)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    registered(e, "CP1", 1, 7, 0, "none");
    forget();
    disconnect(e, 1, T0 + SEC);
    const rec_t *u = only(ENV_UNREGISTER);
    ck_assert_uint_eq(u->epoch, 7);
    ck_assert_uint_eq(u->conn_id, 1);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_hello_opens_route_once)
{
    memset(&R, 0, sizeof(R));
    log_set_fd(-1);
    core_conn_config_t cfg = config();
    core_conn_ops_t ops = {.send = rec_send, .open_edge = rec_open_edge};
    core_conn_t *e = core_conn_new(&cfg, &ops, NULL);
    R.open_rc = -EINVAL; /* failed: the next HELLO tries again */
    hello(e, EDGE, 0, T0);
    ck_assert_int_eq(R.opened, 1);
    ck_assert_uint_eq(stats(e).edges, 0);
    ck_assert_uint_eq(R.n, 0);
    R.open_rc = 0;
    hello(e, EDGE, 0, T0);
    ck_assert_int_eq(R.opened, 2);
    ck_assert_str_eq(R.opened_edge, EDGE);
    ck_assert_str_eq(R.opened_endpoint, "ipc:///tmp/edge.sock");
    /* a new edge hears this core's instance at once (it re-announces its connections) */
    const rec_t *a = only(ENV_ANNOUNCE);
    ck_assert_int_eq(a->to, CORE_TO_EDGE);
    ck_assert_str_eq(a->edge, EDGE);
    ck_assert_str_eq(a->what, "core");
    ck_assert_uint_eq(a->instance, 77);
    ck_assert_int_eq(a->policy, OUTBOX_DROP);
    forget();
    hello(e, EDGE, 0, T0); /* known: nothing more */
    ck_assert_int_eq(R.opened, 2);
    ck_assert_uint_eq(stats(e).edges, 1);
    ck_assert_uint_eq(R.n, 0);
    core_conn_destroy(&e);
}
END_TEST

/* a frame of a connection the core does not know: recovered when the edge says who it is, else
 * closed so the station reconnects; never dropped silently */
START_TEST(test_frame_for_unknown_connection)
{
    core_conn_t *e = engine(0, 30000, 4);
    uint64_t stale = counter(CORE_M_STALE_CONN), lost = counter(CORE_M_STATE_LOST);
    frame(e, 9, HEARTBEAT, T0); /* an older edge: no identity in the frame */
    const rec_t *cl = only(ENV_CLOSE);
    ck_assert_uint_eq(cl->conn_id, 9);
    ck_assert_str_eq(cl->edge, EDGE);
    ck_assert_uint_eq(cl->code, 1011);
    ck_assert_str_eq(cl->what, "connection state lost, reconnect");
    ck_assert_int_eq(cl->policy, OUTBOX_DROP);
    ck_assert_uint_eq(counter(CORE_M_STATE_LOST), lost + 1);
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    ck_assert_uint_eq(stats(e).connections, 0);
    forget();
    disconnect(e, 9, T0); /* its DISCONNECT: nothing to do, counted */
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(counter(CORE_M_STALE_CONN), stale + 1);
    /* the same conn id on another edge is another connection */
    connect_(e, "edge-2", 9, "CP9", "ocpp1.6", T0);
    forget();
    frame(e, 9, HEARTBEAT, T0);
    ck_assert_uint_eq(only(ENV_CLOSE)->code, 1011);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_newer_connection_supersedes_older)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    registered(e, "CP1", 1, 3, 0, "none");
    forget();
    connect_(e, EDGE, 2, "CP1", "ocpp1.6", T0 + SEC);
    const rec_t *cl = only(ENV_CLOSE);
    ck_assert_uint_eq(cl->conn_id, 1);
    ck_assert_uint_eq(cl->code, 1000);
    ck_assert_uint_eq(only(ENV_REGISTER)->conn_id, 2);
    ck_assert_uint_eq(stats(e).connections, 2); /* the older one until the edge closed it */
    ck_assert_uint_eq(stats(e).identities, 1);
    /* the older one still answers what it receives until then */
    forget();
    frame(e, 1, BOOT16, T0 + SEC);
    ck_assert_uint_eq(only(ENV_SEND)->conn_id, 1);
    /* REGISTERED for the older conn id no longer applies: the identity is the newer one's */
    registered(e, "CP1", 1, 9, 0, "accepted");
    /* commands go to the newest */
    forget();
    command(e, 50, "CP1", "{\"command_id\":\"c1\",\"action\":\"ClearCache\"}", T0 + SEC);
    ck_assert_uint_eq(only(ENV_SEND)->conn_id, 2);
    /* the older one closes: it releases its mapping (epoch 3), the identity stays the newer's */
    forget();
    disconnect(e, 1, T0 + 2 * SEC);
    ck_assert_uint_eq(only(ENV_UNREGISTER)->epoch, 3);
    ck_assert_uint_eq(stats(e).identities, 1);
    forget();
    command(e, 51, "CP1", "{\"command_id\":\"c2\",\"action\":\"ClearCache\"}", T0 + 2 * SEC);
    ck_assert_uint_eq(n_of(ENV_RESULT), 0); /* queued behind c1 on conn 2 */
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_same_conn_id_again_replaces)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    command(e, 50, "CP1", "{\"command_id\":\"c1\",\"action\":\"ClearCache\"}", T0);
    forget();
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0 + SEC); /* the edge restarted its counter */
    const rec_t *res = only(ENV_RESULT);
    ck_assert_uint_eq(res->token, 50);
    ck_assert_str_eq(res->what, "timeout"); /* sent, outcome unknown */
    ck_assert_ptr_nonnull(strstr(res->text, "connection replaced"));
    ck_assert_uint_eq(n_of(ENV_CLOSE), 0);
    ck_assert_uint_eq(stats(e).connections, 1);
    ck_assert_uint_eq(stats(e).identities, 1);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_superseded_by_epoch)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    registered(e, "CP1", 1, 5, 0, "none");
    forget();
    superseded(e, "CP1", 1, 4); /* older epoch: ours is newer, keep it */
    superseded(e, "CP1", 1, 5); /* the same epoch: still ours */
    superseded(e, "CP1", 2, 6); /* another connection id: not this one */
    superseded(e, "CP2", 0, 6); /* not here */
    ck_assert_uint_eq(R.n, 0);
    uint64_t before = counter(CORE_M_SUPERSEDED);
    superseded(e, "CP1", 1, 6); /* newer elsewhere: close ours */
    const rec_t *cl = only(ENV_CLOSE);
    ck_assert_uint_eq(cl->conn_id, 1);
    ck_assert_uint_eq(cl->code, 1000);
    ck_assert_uint_eq(counter(CORE_M_SUPERSEDED), before + 1);
    /* stale now: it never releases the newer owner's mapping */
    forget();
    disconnect(e, 1, T0 + SEC);
    ck_assert_uint_eq(n_of(ENV_UNREGISTER), 0);
    /* conn_id 0 means every connection of the identity */
    connect_(e, EDGE, 2, "CP1", "ocpp1.6", T0);
    registered(e, "CP1", 2, 7, 0, "none");
    forget();
    superseded(e, "CP1", 0, 8);
    ck_assert_uint_eq(only(ENV_CLOSE)->conn_id, 2);
    core_conn_destroy(&e);
}
END_TEST

/* ---- 2.0.1 boot gating ---------------------------------------------------------------------- */

START_TEST(test_boot_gating_201)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp2.0.1", T0);
    forget();
    frame(e, 1, HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"h1\",\"SecurityError\""));
    forget();
    frame(e, 1, BOOT201, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"b1\",{"));
    ck_assert_ptr_nonnull(strstr(only(ENV_SEND)->text, "\"Accepted\""));
    ck_assert_str_eq(only(ENV_REGISTER)->what, "accepted"); /* re-asserted with the boot */
    ck_assert_str_eq(only(ENV_EVENT)->what, "device.online");
    forget();
    frame(e, 1, HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\",{\"currentTime\""));
    forget();
    frame(e, 1, BOOT201, T0); /* a second boot: answered, no second REGISTER */
    ck_assert_uint_eq(n_of(ENV_REGISTER), 0);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_boot_state_from_registry)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp2.0.1", T0);
    registered(e, "CP1", 2, 5, 0, "accepted");   /* another connection id: ignored */
    registered(e, "CP1", 1, 5, -11, "accepted"); /* failed: the registry retries */
    forget();
    frame(e, 1, HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"h1\",\"SecurityError\""));
    registered(e, "CP1", 1, 5, 0, "accepted"); /* booted on some pod before */
    forget();
    frame(e, 1, HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\","));
    /* 1.6 is not gated */
    connect_(e, EDGE, 2, "CP2", "ocpp1.6", T0);
    forget();
    frame(e, 2, HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\","));
    core_conn_destroy(&e);
}
END_TEST

/* ---- answers held until persistence ---------------------------------------------------------- */

START_TEST(test_hold_acked_answers_once)
{
    core_conn_t *e = booted16(0);
    frame(e, 1, START16, T0);
    uint64_t token = held_token();
    ck_assert_str_eq(only(ENV_EVENT)->what, "transaction.started");
    ck_assert_uint_eq(n_of(ENV_SEND), 0); /* nothing before Kafka confirmed */
    ck_assert_uint_eq(stats(e).held, 1);
    forget();
    ack(e, token + 1, 0, T0); /* another token: nothing */
    ck_assert_uint_eq(R.n, 0);
    ack(e, token, 0, T0 + SEC);
    const rec_t *s = only(ENV_SEND);
    ck_assert(starts(s->text, "[3,\"s1\",{"));
    ck_assert_ptr_nonnull(strstr(s->text, "\"transactionId\""));
    ck_assert_uint_eq(stats(e).held, 0);
    forget();
    uint64_t unknown = counter(CORE_M_ACKS_UNKNOWN);
    ack(e, token, 0, T0 + 2 * SEC); /* a repeated ack: exactly once */
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(counter(CORE_M_ACKS_UNKNOWN), unknown + 1);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_hold_bridge_stalled_unbounded)
{
    core_conn_t *e = booted16(0);
    frame(e, 1, START16, T0);
    held_token();
    forget();
    ck_assert_uint_eq(core_conn_tick(e, T0 + 3600 * SEC), 0); /* no deadline at all */
    ck_assert_uint_eq(R.n, 0);
    /* other CALLs are still answered at once (and abandon the held one) */
    frame(e, 1, HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\","));
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_hold_bridge_stalled_bounded)
{
    core_conn_t *e = booted16(5000);
    frame(e, 1, START16, T0);
    uint64_t token = held_token();
    forget();
    ck_assert_uint_eq(core_conn_tick(e, T0 + 4 * SEC), T0 + 5 * SEC);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(core_conn_tick(e, T0 + 5 * SEC), 0);
    const rec_t *s = only(ENV_SEND);
    ck_assert(starts(s->text, "[4,\"s1\",\"InternalError\""));
    ck_assert_ptr_nonnull(strstr(s->text, "persist_timeout_ms"));
    ck_assert_uint_eq(stats(e).held, 0);
    forget();
    ack(e, token, 0, T0 + 6 * SEC); /* late: the charge point already got its error */
    ck_assert_uint_eq(R.n, 0);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_hold_bridge_fails)
{
    core_conn_t *e = booted16(0);
    frame(e, 1, START16, T0);
    uint64_t token = held_token();
    forget();
    ack(e, token, -1, T0);
    const rec_t *s = only(ENV_SEND);
    ck_assert(starts(s->text, "[4,\"s1\",\"InternalError\",\"event not persisted: Broker"));
    ck_assert_uint_eq(stats(e).held, 0);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_hold_event_not_handed_on)
{
    core_conn_t *e = booted16(0);
    R.full[CORE_TO_BRIDGE] = true; /* kafka-bridge is full: the event is refused */
    frame(e, 1, START16, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"s1\",\"InternalError\",\"gateway busy, retry\""));
    ck_assert_int_eq(only(ENV_EVENT)->policy, OUTBOX_TRY);
    ck_assert(only(ENV_EVENT)->refused);
    ck_assert_uint_eq(stats(e).held, 0);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_hold_abandoned_by_new_call)
{
    core_conn_t *e = booted16(5000);
    frame(e, 1, START16, T0);
    uint64_t token = held_token();
    forget();
    uint64_t abandoned = counter(CORE_M_ANSWERS_ABANDONED);
    frame(e, 1, HEARTBEAT, T0 + SEC);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\","));
    ck_assert_uint_eq(counter(CORE_M_ANSWERS_ABANDONED), abandoned + 1);
    ck_assert_uint_eq(stats(e).held, 0);
    ck_assert_uint_eq(stats(e).timers, 0); /* its bound went with it */
    forget();
    ack(e, token, 0, T0 + 2 * SEC);
    ck_assert_uint_eq(core_conn_tick(e, T0 + 10 * SEC), 0);
    ck_assert_uint_eq(R.n, 0);
    /* the resend is held again under a new token and answered on its own ack */
    frame(e, 1, START16, T0 + 3 * SEC);
    uint64_t again = held_token();
    ck_assert_uint_ne(again, token);
    forget();
    ack(e, again, 0, T0 + 3 * SEC);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"s1\","));
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_hold_connection_closed)
{
    core_conn_t *e = booted16(5000);
    frame(e, 1, START16, T0);
    uint64_t token = held_token();
    forget();
    disconnect(e, 1, T0 + SEC);
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    ck_assert_uint_eq(stats(e).held, 0);
    ck_assert_uint_eq(stats(e).timers, 0);
    forget();
    ack(e, token, 0, T0 + 2 * SEC);
    ck_assert_uint_eq(core_conn_tick(e, T0 + 10 * SEC), 0);
    ck_assert_uint_eq(R.n, 0);
    core_conn_destroy(&e);
}
END_TEST

/* every kind of message whose answer waits for persistence, and its neighbours that do not */
START_TEST(test_persisted_kinds)
{
    static const struct {
        const char *subprotocol, *frame;
        int held;
    } cases[] = {
        {"ocpp1.6", START16, 1},
        {"ocpp1.6",
         "[2,\"x\",\"StopTransaction\",{\"transactionId\":5,\"meterStop\":10,"
         "\"timestamp\":\"2025-01-01T00:10:00Z\"}]",
         1},
        {"ocpp1.6",
         "[2,\"x\",\"MeterValues\",{\"connectorId\":1,\"transactionId\":5,"
         "\"meterValue\":[{\"timestamp\":\"2025-01-01T00:00:00Z\","
         "\"sampledValue\":[{\"value\":\"10\"}]}]}]",
         1},
        {"ocpp1.6",
         "[2,\"x\",\"MeterValues\",{\"connectorId\":1,"
         "\"meterValue\":[{\"timestamp\":\"2025-01-01T00:00:00Z\","
         "\"sampledValue\":[{\"value\":\"10\"}]}]}]",
         0},
        {"ocpp2.0.1",
         "[2,\"x\",\"TransactionEvent\",{\"eventType\":\"Started\","
         "\"timestamp\":\"2025-01-01T00:00:00Z\",\"triggerReason\":\"Authorized\","
         "\"seqNo\":0,\"transactionInfo\":{\"transactionId\":\"T1\"}}]",
         1},
        {"ocpp2.0.1",
         "[2,\"x\",\"SecurityEventNotification\",{\"type\":\"FirmwareUpdated\","
         "\"timestamp\":\"2025-01-01T00:00:00Z\"}]",
         1},
        {"ocpp2.0.1",
         "[2,\"x\",\"SecurityEventNotification\",{\"type\":\"InvalidMessages\","
         "\"timestamp\":\"2025-01-01T00:00:00Z\"}]",
         0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        core_conn_t *e = engine(0, 30000, 4);
        int v16 = strcmp(cases[i].subprotocol, "ocpp1.6") == 0;
        connect_(e, EDGE, 1, "CP1", cases[i].subprotocol, T0);
        frame(e, 1, v16 ? BOOT16 : BOOT201, T0);
        forget();
        frame(e, 1, cases[i].frame, T0);
        const rec_t *ev = only(ENV_EVENT);
        if (cases[i].held) {
            ck_assert_msg(ev->token != 0 && n_of(ENV_SEND) == 0, "case %zu answered early", i);
            forget();
            ack(e, ev->token, 0, T0);
        } else {
            ck_assert_msg(ev->token == 0, "case %zu held", i);
        }
        ck_assert_msg(starts(only(ENV_SEND)->text, "[3,\""), "case %zu: %s", i,
                      only(ENV_SEND)->text);
        core_conn_destroy(&e);
    }
}
END_TEST

/* ---- commands: exactly one RESULT each --------------------------------------------------------
 */

static const char RESET16[] =
    "{\"command_id\":\"cmd\",\"action\":\"Reset\",\"payload\":{\"type\":\"Hard\"}}";

/* the message id of the CALL sent for a command */
static void call_id(const rec_t *send, char out[OCPP_MESSAGE_ID_MAX + 1])
{
    ocpp_frame_t f;
    char why[160];
    ck_assert_int_eq(ocpp_frame_parse(send->text, strlen(send->text), &f, why, sizeof(why)),
                     OCPP_ERR_NONE);
    ck_assert_int_eq(f.type, OCPP_CALL);
    ck_assert_str_eq(f.action, "Reset");
    snprintf(out, OCPP_MESSAGE_ID_MAX + 1, "%s", f.message_id);
    ocpp_frame_clear(&f);
}

static void respond(core_conn_t *e, const char *id, const char *tail, uint64_t now)
{
    char text[256];
    snprintf(text, sizeof(text), "[%s,\"%s\",%s]", tail[0] == '{' ? "3" : "4", id, tail);
    frame(e, 1, text, now);
}

START_TEST(test_command_answered)
{
    static const struct {
        const char *response, *status;
    } cases[] = {
        {"{\"status\":\"Accepted\"}", "accepted"},
        {"{\"status\":\"Rejected\"}", "rejected"},
        {"{\"status\":\"Maybe\"}", "ocpp_error"}, /* breaks the response schema */
        {"\"NotSupported\",\"no\",{}", "ocpp_error"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        core_conn_t *e = booted16(0);
        command(e, 70 + i, "CP1", RESET16, T0);
        const rec_t *call = only(ENV_SEND);
        ck_assert_uint_eq(call->conn_id, 1);
        ck_assert_uint_eq(n_of(ENV_RESULT), 0);
        char id[OCPP_MESSAGE_ID_MAX + 1];
        call_id(call, id);
        forget();
        respond(e, id, cases[i].response, T0 + SEC);
        const rec_t *res = only(ENV_RESULT);
        ck_assert_int_eq(res->to, CORE_TO_BRIDGE);
        ck_assert_uint_eq(res->token, 70 + i);
        ck_assert_str_eq(res->id, "cmd");
        ck_assert_msg(strcmp(res->what, cases[i].status) == 0, "case %zu: %s", i, res->what);
        ck_assert_uint_eq(n_of(ENV_SEND), 0); /* a response is never answered */
        /* the same response again is late: dropped, no second result */
        forget();
        uint64_t dropped = counter(CORE_M_RESPONSES_DROPPED);
        respond(e, id, cases[i].response, T0 + 2 * SEC);
        ck_assert_uint_eq(R.n, 0);
        ck_assert_uint_eq(counter(CORE_M_RESPONSES_DROPPED), dropped + 1);
        ck_assert_uint_eq(core_conn_tick(e, T0 + 3600 * SEC), 0);
        ck_assert_uint_eq(R.n, 0);
        core_conn_destroy(&e);
    }
}
END_TEST

START_TEST(test_command_timeout_then_next)
{
    core_conn_t *e = booted16(0);
    command(e, 80, "CP1", RESET16, T0);
    command(e, 81, "CP1", RESET16, T0); /* queued: one outstanding CALL */
    ck_assert_uint_eq(n_of(ENV_SEND), 1);
    char first[OCPP_MESSAGE_ID_MAX + 1];
    call_id(nth(ENV_SEND, 0), first);
    forget();
    ck_assert_uint_eq(core_conn_tick(e, T0 + 29 * SEC), T0 + 30 * SEC);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(core_conn_tick(e, T0 + 30 * SEC), T0 + 60 * SEC);
    const rec_t *res = only(ENV_RESULT);
    ck_assert_uint_eq(res->token, 80);
    ck_assert_str_eq(res->what, "timeout");
    const rec_t *next = only(ENV_SEND); /* and the next one goes out */
    char second[OCPP_MESSAGE_ID_MAX + 1];
    call_id(next, second);
    ck_assert_str_ne(first, second);
    forget();
    respond(e, first, "{\"status\":\"Accepted\"}", T0 + 31 * SEC); /* late: dropped */
    ck_assert_uint_eq(R.n, 0);
    respond(e, second, "{\"status\":\"Accepted\"}", T0 + 31 * SEC);
    ck_assert_uint_eq(only(ENV_RESULT)->token, 81);
    ck_assert_str_eq(only(ENV_RESULT)->what, "accepted");
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_command_expired_while_queued)
{
    core_conn_t *e = booted16(0);
    command(e, 90, "CP1", RESET16, T0);
    command(e, 91, "CP1",
            "{\"command_id\":\"cmd\",\"action\":\"Reset\",\"payload\":{\"type\":\"Soft\"},"
            "\"ttl_ms\":2000}",
            T0);
    forget();
    ck_assert_uint_eq(core_conn_tick(e, T0 + SEC), T0 + 2 * SEC); /* the expiry comes first */
    ck_assert_uint_eq(core_conn_tick(e, T0 + 2 * SEC), T0 + 30 * SEC);
    const rec_t *res = only(ENV_RESULT);
    ck_assert_uint_eq(res->token, 91);
    ck_assert_str_eq(res->what, "expired");
    ck_assert_uint_eq(n_of(ENV_SEND), 0); /* never reached the charge point */
    ck_assert_uint_eq(stats(e).queued, 1);
    core_conn_destroy(&e);
}
END_TEST

/* The deadline the bridge fixed when it read the record (COMMAND.expires_at_ms) wins over the
 * record's ttl_ms counted from the core's arrival: a command that waited at the bridge does not
 * live longer here; one already past it never reaches the charge point. */
START_TEST(test_command_deadline_from_bridge)
{
    core_conn_t *e = booted16(0);
    command(e, 90, "CP1", RESET16, T0); /* in flight */
    const char *rec = "{\"command_id\":\"cmd\",\"action\":\"Reset\",\"payload\":{\"type\":"
                      "\"Soft\"},\"ttl_ms\":60000}";
    command_until(e, 91, "CP1", rec, "", (T0 + 3 * SEC) / 1000, T0);
    forget();
    command_until(e, 92, "CP1", rec, "", (T0 - SEC) / 1000, T0); /* already past: at once */
    ck_assert_str_eq(only(ENV_RESULT)->what, "expired");
    ck_assert_uint_eq(only(ENV_RESULT)->token, 92);
    forget();
    ck_assert_uint_eq(core_conn_tick(e, T0 + SEC), T0 + 3 * SEC);
    ck_assert_uint_eq(n_of(ENV_RESULT), 0);
    core_conn_tick(e, T0 + 3 * SEC);
    ck_assert_uint_eq(only(ENV_RESULT)->token, 91);
    ck_assert_str_eq(only(ENV_RESULT)->what, "expired");
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_command_refused)
{
    core_conn_t *e = engine(0, 30000, 2);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    forget();
    /* not on this core */
    command(e, 100, "CP9", RESET16, T0);
    const rec_t *res = only(ENV_RESULT);
    ck_assert_uint_eq(res->token, 100);
    ck_assert_str_eq(res->what, "rejected");
    ck_assert_ptr_nonnull(strstr(res->text, "not connected to this core"));
    /* invalid record */
    forget();
    command(e, 101, "CP1", "{\"command_id\":\"cmd\",\"action\":\"Reset\",\"payload\":{}}", T0);
    ck_assert_str_eq(only(ENV_RESULT)->what, "invalid");
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    /* queue full: one in flight, two queued (command_queue_max 2), the fourth is refused */
    forget();
    command(e, 102, "CP1", RESET16, T0);
    command(e, 103, "CP1", RESET16, T0);
    command(e, 104, "CP1", RESET16, T0);
    ck_assert_uint_eq(n_of(ENV_RESULT), 0);
    command(e, 105, "CP1", RESET16, T0);
    res = only(ENV_RESULT);
    ck_assert_uint_eq(res->token, 105);
    ck_assert_str_eq(res->what, "rejected");
    ck_assert_ptr_nonnull(strstr(res->text, "too many commands"));
    ck_assert_uint_eq(stats(e).queued_max, 2);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_commands_when_connection_closes)
{
    core_conn_t *e = booted16(0);
    command(e, 110, "CP1", RESET16, T0); /* in flight */
    command(e, 111, "CP1", RESET16, T0); /* queued */
    command(e, 112, "CP1", RESET16, T0); /* queued */
    forget();
    disconnect(e, 1, T0 + SEC);
    ck_assert_uint_eq(n_of(ENV_RESULT), 3);
    for (size_t i = 0; i < 3; i++) {
        const rec_t *res = nth(ENV_RESULT, i);
        ck_assert_uint_eq(res->token, 110 + i);
        ck_assert_str_eq(res->what, i == 0 ? "timeout" : "expired");
        ck_assert_ptr_nonnull(strstr(res->text, "connection closed"));
    }
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    forget();
    ck_assert_uint_eq(core_conn_tick(e, T0 + 3600 * SEC), 0);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(stats(e).queued, 0);
    core_conn_destroy(&e);
}
END_TEST

/* ---- frames the engine does not answer ------------------------------------------------------ */

START_TEST(test_responses_never_answered)
{
    core_conn_t *e = booted16(0);
    respond(e, "nobody", "{}", T0);     /* matches no outstanding CALL */
    frame(e, 1, "[3,\"x\"]", T0);       /* malformed CALLRESULT */
    frame(e, 1, "[5,\"x\",\"a\"]", T0); /* 2.1 only, and malformed */
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    frame(e, 1, "[6,\"y\",\"a\",{}]", T0); /* SEND without ocpp2.1: refused like a CALL */
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"y\",\"FormationViolation\""));
    forget();
    frame(e, 1, "not json", T0); /* no id: nothing to answer */
    ck_assert_uint_eq(R.n, 0);
    core_conn_destroy(&e);
}
END_TEST

/* ---- OCPP 2.1: SEND and CALLRESULTERROR ---------------------------------------------------- */

static const char STREAM21[] =
    "[6,\"p1\",\"NotifyPeriodicEventStream\",{\"id\":1,\"pending\":0,\"basetime\":"
    "\"2025-01-01T00:00:00Z\",\"data\":[{\"t\":0,\"v\":\"230.1\"}]}]";
static const char TXSTART21[] =
    "[2,\"t1\",\"TransactionEvent\",{\"eventType\":\"Started\",\"timestamp\":"
    "\"2025-01-01T00:00:00Z\",\"triggerReason\":\"CablePluggedIn\",\"seqNo\":0,"
    "\"transactionInfo\":{\"transactionId\":\"T1\"}}]";

/* a 2.1 charge point CP1 on conn 1, booted; effects forgotten */
static core_conn_t *booted21(void)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp2.1", T0);
    frame(e, 1, BOOT201, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"b1\",{\"status\":\"Accepted\""));
    forget();
    return e;
}

/* a SEND is never answered, never takes the outstanding-CALL slot (the held answer of a
 * transaction message survives it), and yields its event when valid and after boot */
START_TEST(test_v21_send)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp2.1", T0);
    forget();
    uint64_t not_booted = counter_of(CORE_M_SENDS, "result=\"not_booted\"");
    frame(e, 1, STREAM21, T0); /* before BootNotification: dropped, unanswered */
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(counter_of(CORE_M_SENDS, "result=\"not_booted\""), not_booted + 1);
    core_conn_destroy(&e);

    e = booted21();
    frame(e, 1, TXSTART21, T0);
    uint64_t token = held_token(); /* answer held until the event is in Kafka */
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    forget();
    uint64_t published = counter_of(CORE_M_SENDS, "result=\"published\"");
    frame(e, 1, STREAM21, T0 + 1);
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    const rec_t *ev = only(ENV_EVENT);
    ck_assert_uint_eq(ev->token, 0); /* best effort: nothing waits for its ack */
    ck_assert_int_eq(ev->policy, OUTBOX_TRY);
    ck_assert_uint_eq(counter_of(CORE_M_SENDS, "result=\"published\""), published + 1);
    forget();
    /* invalid SENDs: schema violation, a CALL action, unknown action, malformed; none answered */
    uint64_t invalid = counter_of(CORE_M_SENDS, "result=\"invalid\"");
    frame(e, 1, "[6,\"p2\",\"NotifyPeriodicEventStream\",{\"id\":1}]", T0 + 2);
    frame(e, 1, "[6,\"p3\",\"Heartbeat\",{}]", T0 + 2);
    frame(e, 1, "[6,\"p4\",\"NoSuchAction\",{}]", T0 + 2);
    frame(e, 1, "[6,\"p5\",\"NotifyPeriodicEventStream\"]", T0 + 2);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(counter_of(CORE_M_SENDS, "result=\"invalid\""), invalid + 4);
    /* the transaction message's answer still goes out once persisted */
    ack(e, token, 0, T0 + 3);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"t1\",{"));
    forget();
    /* the SEND-only action as a CALL: it has no CALLRESULT */
    frame(e, 1,
          "[2,\"c1\",\"NotifyPeriodicEventStream\",{\"id\":1,\"pending\":0,\"basetime\":"
          "\"2025-01-01T00:00:00Z\",\"data\":[{\"t\":0,\"v\":\"1\"}]}]",
          T0 + 4);
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"c1\",\"ProtocolError\""));
    core_conn_destroy(&e);
}
END_TEST

static const char RESET21[] =
    "{\"command_id\":\"cmd\",\"action\":\"Reset\",\"payload\":{\"type\":\"Immediate\"}}";

/* 2.1: an invalid CALLRESULT to a command is answered CALLRESULTERROR (2.0.1: not), and the
 * command ends ocpp_error; a CALLRESULTERROR with the in-flight id ends it like a CALLERROR; one
 * about our answer to a station's CALL is counted only */
START_TEST(test_v21_callresulterror)
{
    char id[OCPP_MESSAGE_ID_MAX + 1], text[256];
    core_conn_t *e = booted21();
    uint64_t sent =
        counter_of(CORE_M_CALLRESULTERRORS_SENT, "code=\"PropertyConstraintViolation\"");
    command(e, 90, "CP1", RESET21, T0);
    call_id(only(ENV_SEND), id);
    forget();
    respond(e, id, "{\"status\":\"Maybe\"}", T0 + 1);
    snprintf(text, sizeof(text), "[5,\"%s\",\"PropertyConstraintViolation\"", id);
    ck_assert_msg(starts(only(ENV_SEND)->text, text), "%s", only(ENV_SEND)->text);
    ck_assert_str_eq(only(ENV_RESULT)->what, "ocpp_error");
    ck_assert_uint_eq(
        counter_of(CORE_M_CALLRESULTERRORS_SENT, "code=\"PropertyConstraintViolation\""), sent + 1);
    forget();
    /* a valid one is not */
    command(e, 91, "CP1", RESET21, T0 + 2);
    call_id(only(ENV_SEND), id);
    forget();
    respond(e, id, "{\"status\":\"Accepted\"}", T0 + 3);
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    ck_assert_str_eq(only(ENV_RESULT)->what, "accepted");
    forget();
    /* CALLRESULTERROR for the command in flight */
    uint64_t received = counter(CORE_M_CALLRESULTERRORS);
    uint64_t dropped = counter(CORE_M_RESPONSES_DROPPED);
    command(e, 92, "CP1", RESET21, T0 + 4);
    call_id(only(ENV_SEND), id);
    forget();
    snprintf(text, sizeof(text), "[5,\"%s\",\"FormatViolation\",\"bad\",{}]", id);
    frame(e, 1, text, T0 + 5);
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    ck_assert_str_eq(only(ENV_RESULT)->what, "ocpp_error");
    ck_assert_ptr_nonnull(strstr(only(ENV_RESULT)->text, "FormatViolation"));
    forget();
    /* about an answer of ours (the id of a station's CALL): counted and logged only */
    frame(e, 1, "[5,\"b1\",\"OccurrenceConstraintViolation\",\"x\",{}]", T0 + 6);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(counter(CORE_M_CALLRESULTERRORS), received + 2);
    ck_assert_uint_eq(counter(CORE_M_RESPONSES_DROPPED), dropped);
    core_conn_destroy(&e);

    /* 2.0.1 has no CALLRESULTERROR: the invalid CALLRESULT only ends the command */
    e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp2.0.1", T0);
    frame(e, 1, BOOT201, T0);
    forget();
    command(e, 93, "CP1", RESET21, T0);
    call_id(only(ENV_SEND), id);
    forget();
    respond(e, id, "{\"status\":\"Maybe\"}", T0 + 1);
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    ck_assert_str_eq(only(ENV_RESULT)->what, "ocpp_error");
    core_conn_destroy(&e);
}
END_TEST

/* ---- restarts of peers (DESIGN-12-13 "Instances") ----------------------------------------------
 */

START_TEST(test_announce_at_start_and_every_second)
{
    core_conn_config_t cfg = config();
    cfg.announce_interval_ms = 1000;
    cfg.core_index = 3;
    memset(&R, 0, sizeof(R));
    log_set_fd(-1);
    core_conn_ops_t ops = {.send = rec_send, .open_edge = rec_open_edge};
    core_conn_t *e = core_conn_new(&cfg, &ops, NULL);
    /* at start: to the bridge and the registry (no edge known yet) */
    ck_assert_uint_eq(core_conn_tick(e, T0), T0 + SEC);
    ck_assert_uint_eq(n_of(ENV_ANNOUNCE), 2);
    ck_assert_uint_eq(n_to(ENV_ANNOUNCE, CORE_TO_BRIDGE), 1);
    ck_assert_uint_eq(n_to(ENV_ANNOUNCE, CORE_TO_REGISTRY), 1);
    for (size_t i = 0; i < 2; i++) {
        const rec_t *a = nth(ENV_ANNOUNCE, i);
        ck_assert_str_eq(a->what, "core");
        ck_assert_uint_eq(a->code, 3);
        ck_assert_uint_eq(a->instance, 77);
        ck_assert_int_eq(a->policy, OUTBOX_DROP);
    }
    forget();
    ck_assert_uint_eq(core_conn_tick(e, T0 + SEC / 2), T0 + SEC); /* not due yet */
    ck_assert_uint_eq(R.n, 0);
    hello(e, EDGE, 5, T0 + SEC / 2); /* a new edge: at once */
    ck_assert_str_eq(only(ENV_ANNOUNCE)->edge, EDGE);
    forget();
    R.full[CORE_TO_BRIDGE] = true; /* a full peer misses one: the next comes a second later */
    ck_assert_uint_eq(core_conn_tick(e, T0 + SEC), T0 + 2 * SEC);
    ck_assert_uint_eq(n_of(ENV_ANNOUNCE), 3);
    ck_assert_uint_eq(n_to(ENV_ANNOUNCE, CORE_TO_EDGE), 1);
    ck_assert(nth(ENV_ANNOUNCE, 0)->refused);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_edge_restart_finishes_its_connections)
{
    core_conn_t *e = engine(0, 30000, 4);
    hello(e, "edge-9", 1000, T0);
    connect_(e, "edge-9", 1000, "CP1", "ocpp1.6", T0);
    connect_(e, "edge-9", 1001, "CP2", "ocpp1.6", T0);
    connect_(e, EDGE, 5, "CP3", "ocpp1.6", T0); /* another edge: untouched */
    registered(e, "CP1", 1000, 4, 0, "none");
    command(e, 60, "CP2", RESET16, T0); /* in flight on 1001 */
    forget();
    hello(e, "edge-9", 1000, T0 + SEC); /* the same instance: nothing */
    ck_assert_uint_eq(R.n, 0);
    uint64_t restarts = counter_of(CORE_M_PEER_RESTARTS, "stage=\"edge\"");
    hello(e, "edge-9", 2000, T0 + 2 * SEC); /* restarted: 1000 and 1001 are gone */
    ck_assert_uint_eq(counter_of(CORE_M_PEER_RESTARTS, "stage=\"edge\""), restarts + 1);
    ck_assert_uint_eq(n_of(ENV_EVENT), 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(nth(ENV_EVENT, i)->what, "device.disconnected");
        ck_assert_ptr_nonnull(strstr(nth(ENV_EVENT, i)->text, "\"close_code\":1006"));
        ck_assert_ptr_nonnull(strstr(nth(ENV_EVENT, i)->text, "edge restarted"));
        ck_assert_int_eq(nth(ENV_EVENT, i)->policy, OUTBOX_MUST);
    }
    /* both released: the one holding an epoch by it, the other by connection */
    ck_assert_uint_eq(n_of(ENV_UNREGISTER), 2);
    for (size_t i = 0; i < 2; i++) {
        const rec_t *u = nth(ENV_UNREGISTER, i);
        ck_assert_uint_eq(u->epoch, u->conn_id == 1000 ? 4 : 0);
        ck_assert_int_eq(u->policy, OUTBOX_MUST);
    }
    const rec_t *res = only(ENV_RESULT);
    ck_assert_uint_eq(res->token, 60);
    ck_assert_str_eq(res->what, "timeout");
    ck_assert_uint_eq(n_of(ENV_SEND) + n_of(ENV_CLOSE), 0); /* nothing to the new edge */
    ck_assert_uint_eq(stats(e).connections, 1);
    /* late envelopes of the former instance: dropped, counted, never answered */
    forget();
    uint64_t stale = counter(CORE_M_STALE_CONN);
    frame_ex(e, "edge-9", 1000, "CP1", "ocpp1.6", "", HEARTBEAT, T0 + 3 * SEC);
    connect_(e, "edge-9", 1002, "CP4", "ocpp1.6", T0 + 3 * SEC);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(counter(CORE_M_STALE_CONN), stale + 2);
    /* the new instance's connections work */
    connect_(e, "edge-9", 2000, "CP1", "ocpp1.6", T0 + 3 * SEC);
    ck_assert_uint_eq(only(ENV_REGISTER)->conn_id, 2000);
    ck_assert_uint_eq(stats(e).connections, 2);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_frame_recovers_connection)
{
    core_conn_t *e = engine(0, 30000, 4);
    uint64_t recovered = counter_of(CORE_M_RECOVERED, "how=\"frame\"");
    /* a 2.0.1 station whose boot the former core accepted (the edge remembers CONN_STATE) */
    frame_ex(e, EDGE, 7, "CP7", "ocpp2.0.1", "accepted", HEARTBEAT, T0);
    ck_assert_uint_eq(counter_of(CORE_M_RECOVERED, "how=\"frame\""), recovered + 1);
    const rec_t *reg = only(ENV_REGISTER);
    ck_assert_uint_eq(reg->conn_id, 7);
    ck_assert_str_eq(reg->what, "accepted");
    ck_assert_uint_eq(reg->epoch, 0);
    ck_assert(!reg->authenticated); /* a frame does not say how it authenticated */
    ck_assert_int_eq(reg->policy, OUTBOX_MUST);
    ck_assert_uint_eq(n_of(ENV_EVENT), 0); /* not a new connection: no device.connected */
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\",{\"currentTime\""));
    ck_assert_uint_eq(stats(e).connections, 1);
    /* without the boot state, 2.0.1 is gated until the registry tells */
    forget();
    frame_ex(e, EDGE, 8, "CP8", "ocpp2.0.1", "", HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"h1\",\"SecurityError\""));
    /* an unknown subprotocol cannot be served: closed so it reconnects */
    forget();
    frame_ex(e, EDGE, 9, "CP9", "", "", HEARTBEAT, T0);
    ck_assert_uint_eq(only(ENV_CLOSE)->code, 1011);
    ck_assert_uint_eq(n_of(ENV_REGISTER), 0);
    /* its resumed CONNECT afterwards: idempotent, completes what the frame could not say */
    forget();
    connect_ex(e, EDGE, 7, "CP7", "ocpp2.0.1", true, "accepted", "none", T0 - 60 * SEC, T0);
    ck_assert_uint_eq(R.n, 0);
    connect_ex(e, EDGE, 8, "CP8", "ocpp2.0.1", true, "accepted", "basic", T0 - 60 * SEC, T0);
    reg = only(ENV_REGISTER); /* re-asserted as authenticated, with its boot state */
    ck_assert_uint_eq(reg->conn_id, 8);
    ck_assert(reg->authenticated);
    ck_assert_str_eq(reg->what, "accepted");
    ck_assert_uint_eq(n_of(ENV_EVENT), 0);
    forget();
    frame_ex(e, EDGE, 8, "CP8", "ocpp2.0.1", "", HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\","));
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_resumed_connect)
{
    core_conn_t *e = engine(0, 30000, 4);
    uint64_t resumed = counter_of(CORE_M_RECOVERED, "how=\"resumed\"");
    connect_ex(e, EDGE, 3, "CP3", "ocpp2.0.1", true, "accepted", "mtls", T0 - 3600 * SEC, T0);
    ck_assert_uint_eq(counter_of(CORE_M_RECOVERED, "how=\"resumed\""), resumed + 1);
    const rec_t *reg = only(ENV_REGISTER);
    ck_assert(reg->authenticated);
    ck_assert_str_eq(reg->what, "accepted");
    ck_assert_uint_eq(n_of(ENV_EVENT), 0); /* not new for the backend */
    ck_assert_uint_eq(stats(e).connections, 1);
    /* again: nothing (no event, no new session) */
    registered(e, "CP3", 3, 12, 0, "accepted");
    command(e, 61, "CP3", "{\"command_id\":\"c\",\"action\":\"ClearCache\"}", T0);
    forget();
    connect_ex(e, EDGE, 3, "CP3", "ocpp2.0.1", true, "accepted", "mtls", T0 - 3600 * SEC, T0);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(stats(e).queued, 1); /* the command in flight is still there */
    frame(e, 3, HEARTBEAT, T0);            /* served at once: booted */
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\","));
    /* a fresh CONNECT of the same identity is newer; an older resumed one of the same edge is
     * not: it is closed and never registered */
    forget();
    connect_ex(e, EDGE, 2, "CP3", "ocpp2.0.1", true, "", "basic", T0 - 7200 * SEC, T0);
    ck_assert_uint_eq(only(ENV_CLOSE)->conn_id, 2);
    ck_assert_uint_eq(n_of(ENV_REGISTER), 0);
    forget();
    command(e, 62, "CP3", "{\"command_id\":\"c\",\"action\":\"ClearCache\"}", T0);
    ck_assert_uint_eq(n_of(ENV_RESULT), 0); /* still queued on conn 3, the newest */
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_frames_wait_for_hello)
{
    core_conn_config_t cfg = config();
    cfg.unrouted_queue_max = 2;
    core_conn_t *e = engine_with(&cfg);
    uint64_t full = counter_of(CORE_M_UNROUTED_DROPPED, "reason=\"full\"");
    uint64_t expired = counter_of(CORE_M_UNROUTED_DROPPED, "reason=\"expired\"");
    /* edge-3 has said no HELLO since this core started: nothing can be answered yet */
    frame_ex(e, "edge-3", 40, "CP1", "ocpp1.6", "", HEARTBEAT, T0);
    frame_ex(e, "edge-3", 41, "CP2", "ocpp1.6", "", HEARTBEAT, T0 + SEC);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(stats(e).unrouted, 2);
    ck_assert_uint_eq(core_conn_tick(e, T0 + SEC), T0 + 2 * SEC);
    frame_ex(e, "edge-3", 42, "CP3", "ocpp1.6", "", HEARTBEAT, T0 + SEC); /* full: oldest out */
    ck_assert_uint_eq(counter_of(CORE_M_UNROUTED_DROPPED, "reason=\"full\""), full + 1);
    ck_assert_uint_eq(stats(e).unrouted, 2);
    ck_assert_uint_eq(core_conn_tick(e, T0 + 2 * SEC), T0 + 3 * SEC); /* none is 2 s old yet */
    ck_assert_uint_eq(stats(e).unrouted, 2);
    /* the HELLO opens the route: ANNOUNCE first, then the frames in order */
    hello(e, "edge-3", 40, T0 + 2 * SEC);
    ck_assert_uint_eq(R.r[0].type, ENV_ANNOUNCE);
    ck_assert_uint_eq(n_of(ENV_REGISTER), 2);
    ck_assert_uint_eq(nth(ENV_REGISTER, 0)->conn_id, 41);
    ck_assert_uint_eq(nth(ENV_REGISTER, 1)->conn_id, 42);
    ck_assert_uint_eq(n_of(ENV_SEND), 2);
    ck_assert_uint_eq(stats(e).unrouted, 0);
    /* an edge whose HELLO comes too late: its frames are dropped, counted */
    forget();
    frame_ex(e, "edge-4", 1, "CP5", "ocpp1.6", "", HEARTBEAT, T0 + 3 * SEC);
    ck_assert_uint_eq(core_conn_tick(e, T0 + 4 * SEC), T0 + 5 * SEC);
    ck_assert_uint_eq(core_conn_tick(e, T0 + 5 * SEC), 0);
    ck_assert_uint_eq(counter_of(CORE_M_UNROUTED_DROPPED, "reason=\"expired\""), expired + 1);
    ck_assert_uint_eq(stats(e).unrouted, 0);
    hello(e, "edge-4", 0, T0 + 6 * SEC);
    ck_assert_uint_eq(n_of(ENV_SEND) + n_of(ENV_REGISTER), 0);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_conn_state_when_boot_changes)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp2.0.1", T0);
    forget();
    frame(e, 1, BOOT201, T0);
    const rec_t *cs = only(ENV_CONN_STATE);
    ck_assert_uint_eq(cs->conn_id, 1);
    ck_assert_str_eq(cs->what, "accepted");
    ck_assert_str_eq(cs->edge, EDGE);
    ck_assert_int_eq(cs->policy, OUTBOX_DROP);
    forget();
    frame(e, 1, BOOT201, T0); /* no change: nothing */
    ck_assert_uint_eq(n_of(ENV_CONN_STATE), 0);
    /* learnt from the registry */
    connect_(e, EDGE, 2, "CP2", "ocpp2.0.1", T0);
    forget();
    registered(e, "CP2", 2, 3, 0, "accepted");
    ck_assert_str_eq(only(ENV_CONN_STATE)->what, "accepted");
    ck_assert_uint_eq(only(ENV_CONN_STATE)->conn_id, 2);
    forget();
    registered(e, "CP2", 2, 3, 0, "accepted");
    ck_assert_uint_eq(R.n, 0);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_registry_restart_reregisters)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    connect_(e, EDGE, 2, "CP2", "ocpp1.6", T0);
    connect_(e, EDGE, 3, "CP3", "ocpp1.6", T0);
    registered(e, "CP1", 1, 11, 0, "none");
    registered(e, "CP3", 3, 13, 0, "none");
    superseded(e, "CP3", 3, 14); /* closing: it must not claim again */
    forget();
    announce_in(e, "registry", 500, T0); /* the first one heard: nothing to reconcile */
    announce_in(e, "registry", 500, T0);
    ck_assert_uint_eq(R.n, 0);
    uint64_t restarts = counter_of(CORE_M_PEER_RESTARTS, "stage=\"registry\"");
    announce_in(e, "registry", 600, T0 + SEC);
    ck_assert_uint_eq(counter_of(CORE_M_PEER_RESTARTS, "stage=\"registry\""), restarts + 1);
    ck_assert_uint_eq(n_of(ENV_REGISTER), 2);
    ck_assert_uint_eq(nth(ENV_REGISTER, 0)->conn_id + nth(ENV_REGISTER, 1)->conn_id, 3);
    for (size_t i = 0; i < 2; i++) {
        const rec_t *r = nth(ENV_REGISTER, i);
        ck_assert_uint_eq(r->epoch, r->conn_id == 1 ? 11 : 0); /* the epoch it holds */
        ck_assert_int_eq(r->policy, OUTBOX_MUST);
    }
    /* other stages' announcements change nothing here */
    forget();
    announce_in(e, "core", 1, T0);
    announce_in(e, "nonsense", 1, T0);
    ck_assert_uint_eq(R.n, 0);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_bridge_restart_answers_held)
{
    core_conn_t *e = booted16(0);
    announce_in(e, "bridge", 900, T0); /* the first one heard */
    frame(e, 1, START16, T0);
    uint64_t token = held_token();
    forget();
    announce_in(e, "bridge", 900, T0);
    ck_assert_uint_eq(R.n, 0);
    announce_in(e, "bridge", 901, T0 + SEC); /* restarted: the ack will never come */
    ck_assert(
        starts(only(ENV_SEND)->text, "[4,\"s1\",\"InternalError\",\"event not confirmed, retry\""));
    ck_assert_uint_eq(stats(e).held, 0);
    forget();
    ack(e, token, 0, T0 + 2 * SEC); /* late: answered already */
    ck_assert_uint_eq(R.n, 0);
    core_conn_destroy(&e);
}
END_TEST

/* ---- a full peer: nothing waits, nothing is answered that was not handed on ------------------ */

START_TEST(test_event_refused_gateway_busy)
{
    static const char STATUS16[] = "[2,\"n1\",\"StatusNotification\",{\"connectorId\":1,"
                                   "\"errorCode\":\"NoError\",\"status\":\"Available\"}]";
    core_conn_t *e = booted16(0);
    uint64_t refused = counter(CORE_M_EVENTS_REFUSED);
    R.full[CORE_TO_BRIDGE] = true;
    frame(e, 1, STATUS16, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"n1\",\"InternalError\",\"gateway busy, retry\""));
    ck_assert_uint_eq(counter(CORE_M_EVENTS_REFUSED), refused + 1);
    /* heartbeat events are off by default: a full bridge never stops Heartbeats */
    forget();
    frame(e, 1, HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\",{\"currentTime\""));
    ck_assert_uint_eq(n_of(ENV_EVENT), 0);
    /* results and registrations are never refused (queued) */
    forget();
    command(e, 70, "CP9", RESET16, T0);
    ck_assert_int_eq(only(ENV_RESULT)->policy, OUTBOX_MUST);
    ck_assert(!only(ENV_RESULT)->refused);
    /* a refused boot is not a boot: 2.0.1 stays gated */
    R.full[CORE_TO_BRIDGE] = false;
    connect_(e, EDGE, 2, "CP2", "ocpp2.0.1", T0);
    R.full[CORE_TO_BRIDGE] = true;
    forget();
    frame(e, 2, BOOT201, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"b1\",\"InternalError\",\"gateway busy, retry\""));
    ck_assert_uint_eq(n_of(ENV_REGISTER) + n_of(ENV_CONN_STATE), 0);
    forget();
    frame(e, 2, HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"h1\",\"SecurityError\""));
    R.full[CORE_TO_BRIDGE] = false;
    forget();
    frame(e, 2, BOOT201, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"b1\","));
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_event_heartbeat_on)
{
    core_conn_config_t cfg = config();
    cfg.event_heartbeat = true;
    core_conn_t *e = engine_with(&cfg);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    forget();
    frame(e, 1, HEARTBEAT, T0);
    ck_assert_str_eq(only(ENV_EVENT)->what, "heartbeat");
    ck_assert_int_eq(only(ENV_EVENT)->policy, OUTBOX_TRY);
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\","));
    forget();
    R.full[CORE_TO_BRIDGE] = true; /* then a full bridge refuses them like any event */
    frame(e, 1, HEARTBEAT, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"h1\",\"InternalError\",\"gateway busy, retry\""));
    core_conn_destroy(&e);
}
END_TEST

/* the policy of every kind of send (DESIGN-12-13 "No loop blocks on a peer") */
START_TEST(test_send_policies)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp2.0.1", T0);
    frame(e, 1, BOOT201, T0);
    registered(e, "CP1", 1, 5, 0, "accepted");
    command(e, 80, "CP1", "{\"command_id\":\"c\",\"action\":\"ClearCache\"}", T0);
    frame(e, 1, "[2,\"x\"", T0); /* a CALLERROR (no id: nothing) */
    frame(e, 1, "[2,\"e1\",\"Nope\",{}]", T0);
    disconnect(e, 1, T0);
    for (size_t i = 0; i < R.n; i++) {
        const rec_t *r = &R.r[i];
        outbox_policy_t want = OUTBOX_DROP;
        switch (r->type) {
        case ENV_EVENT: /* transport events are queued; an event of a CALL is tried */
            want = strcmp(r->what, "device.connected") == 0 ||
                           strcmp(r->what, "device.disconnected") == 0
                       ? OUTBOX_MUST
                       : OUTBOX_TRY;
            break;
        case ENV_RESULT:
        case ENV_REGISTER:
        case ENV_UNREGISTER:
            want = OUTBOX_MUST;
            break;
        case ENV_SEND:
        case ENV_CLOSE:
        case ENV_CONN_STATE:
        case ENV_ANNOUNCE:
            want = OUTBOX_DROP;
            break;
        default:
            ck_abort_msg("unexpected effect %d", (int)r->type);
        }
        ck_assert_msg(r->policy == want, "effect %zu (type %d): policy %d", i, (int)r->type,
                      (int)r->policy);
    }
    ck_assert_uint_eq(n_of(ENV_UNREGISTER) + n_of(ENV_RESULT) + n_of(ENV_CONN_STATE), 3);
    core_conn_destroy(&e);
}
END_TEST

/* ---- issue 13: authenticated registrations ----------------------------------------------------
 */

START_TEST(test_register_authenticated)
{
    static const struct {
        const char *auth;
        bool authenticated;
    } cases[] = {{"basic", true}, {"basic-previous", true}, {"mtls", true}, {"none", false},
                 {"", false},     {"BASIC", false}};
    core_conn_t *e = engine(0, 30000, 4);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char id[16];
        snprintf(id, sizeof(id), "CP%zu", i);
        forget();
        connect_ex(e, EDGE, 10 + i, id, "ocpp1.6", false, "", cases[i].auth, T0, T0);
        ck_assert_msg(only(ENV_REGISTER)->authenticated == cases[i].authenticated, "auth %s",
                      cases[i].auth);
        ck_assert_str_eq(only(ENV_EVENT)->what, "device.connected");
    }
    core_conn_destroy(&e);
}
END_TEST

/* an unauthenticated claim over an authenticated live mapping loses: the registry answers
 * SUPERSEDED (or REGISTERED refused with -EACCES/-EPERM) and the connection is closed */
START_TEST(test_unauthenticated_claim_refused)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_ex(e, EDGE, 1, "CP1", "ocpp1.6", false, "", "none", T0, T0);
    forget();
    superseded(e, "CP1", 1, 9); /* the authenticated mapping's epoch */
    ck_assert_uint_eq(only(ENV_CLOSE)->conn_id, 1);
    forget();
    disconnect(e, 1, T0); /* it never held the mapping: nothing released */
    ck_assert_uint_eq(n_of(ENV_UNREGISTER), 0);
    uint64_t refused = counter(CORE_M_REGISTRATIONS_REFUSED);
    connect_ex(e, EDGE, 2, "CP1", "ocpp1.6", false, "", "none", T0, T0);
    forget();
    registered(e, "CP1", 2, 0, -EACCES, "");
    const rec_t *cl = only(ENV_CLOSE);
    ck_assert_uint_eq(cl->conn_id, 2);
    ck_assert_uint_eq(cl->code, 1008);
    ck_assert_uint_eq(counter(CORE_M_REGISTRATIONS_REFUSED), refused + 1);
    forget();
    registered(e, "CP1", 2, 0, -EAGAIN, ""); /* Redis down: the registry retries, no close */
    ck_assert_uint_eq(R.n, 0);
    core_conn_destroy(&e);
}
END_TEST

/* ---- auth_policy redis --------------------------------------------------------------------- */

static core_conn_t *redis_engine(bool fallback_accept)
{
    core_conn_config_t cfg = config();
    cfg.auth_policy = "redis";
    cfg.tag_fallback_accept = fallback_accept;
    core_conn_t *e = engine_with(&cfg);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    connect_(e, EDGE, 2, "CP2", "ocpp2.0.1", T0);
    frame(e, 2, BOOT201, T0);
    forget();
    return e;
}

static void authorize(core_conn_t *e, uint64_t conn_id, const char *tag, uint64_t now)
{
    char text[160];
    if (conn_id == 1)
        snprintf(text, sizeof(text), "[2,\"a1\",\"Authorize\",{\"idTag\":\"%s\"}]", tag);
    else
        snprintf(
            text, sizeof(text),
            "[2,\"a1\",\"Authorize\",{\"idToken\":{\"idToken\":\"%s\",\"type\":\"ISO14443\"}}]",
            tag);
    frame(e, conn_id, text, now);
}

/* Authorize on conn_id whose token the engine asks the registry about: the request id of its
 * TAG_LOOKUP (effects forgotten) */
static uint64_t authorize_asked(core_conn_t *e, uint64_t conn_id, const char *tag, uint64_t now)
{
    authorize(e, conn_id, tag, now);
    const rec_t *l = only(ENV_TAG_LOOKUP);
    ck_assert_str_eq(l->what, tag);
    uint64_t request = l->token;
    forget();
    return request;
}

/* the status in the one answer sent: "" when it is not a CALLRESULT with an id info */
static const char *answered_status(char *buf, size_t len)
{
    const char *t = only(ENV_SEND)->text;
    const char *p = strstr(t, "\"status\":\"");
    buf[0] = '\0';
    if (starts(t, "[3,") && p)
        snprintf(buf, len, "%.*s", (int)strcspn(p + 10, "\""), p + 10);
    return buf;
}

START_TEST(test_tag_lookup_and_cache)
{
    core_conn_t *e = redis_engine(false);
    authorize(e, 1, "CARD1", T0);
    const rec_t *l = only(ENV_TAG_LOOKUP);
    ck_assert_str_eq(l->what, "CARD1");
    ck_assert_int_eq(l->to, CORE_TO_REGISTRY);
    ck_assert_int_eq(l->policy, OUTBOX_TRY);
    ck_assert_uint_eq(n_of(ENV_SEND), 0); /* the answer waits */
    ck_assert_uint_eq(stats(e).waiting, 1);
    ck_assert_uint_eq(core_conn_tick(e, T0), T0 + 2 * SEC);
    uint64_t request = l->token;
    forget();
    tag_info(e, request + 1, "CARD1", true, "Blocked", 0, 0, T0); /* nobody waits: cached only */
    ck_assert_uint_eq(R.n, 0);
    tag_info(e, request, "CARD1", true, "Accepted", 1767225600000ULL, 0, T0); /* 2026-01-01 */
    char st[32];
    ck_assert_str_eq(answered_status(st, sizeof(st)), "Accepted");
    ck_assert_ptr_nonnull(strstr(only(ENV_SEND)->text, "\"expiryDate\":\"2026-01-01T00:00:00"));
    ck_assert_uint_eq(stats(e).waiting, 0);
    ck_assert_uint_eq(stats(e).tags, 1);
    /* the same card again, on another connection and version: from the cache */
    forget();
    uint64_t hits = counter_of(CORE_M_TAG_CACHE, "result=\"hit\"");
    authorize(e, 2, "CARD1", T0 + 30 * SEC);
    ck_assert_uint_eq(n_of(ENV_TAG_LOOKUP), 0);
    ck_assert_str_eq(answered_status(st, sizeof(st)), "Accepted");
    ck_assert_ptr_nonnull(
        strstr(only(ENV_SEND)->text, "\"cacheExpiryDateTime\":\"2026-01-01T00:00:00"));
    ck_assert_uint_eq(counter_of(CORE_M_TAG_CACHE, "result=\"hit\""), hits + 1);
    /* an Accepted answer is kept tag_cache_ms (60 s), then asked again */
    forget();
    authorize(e, 1, "CARD1", T0 + 61 * SEC);
    ck_assert_str_eq(only(ENV_TAG_LOOKUP)->what, "CARD1");
    request = only(ENV_TAG_LOOKUP)->token;
    forget();
    tag_info(e, request, "CARD1", false, "", 0, 0, T0 + 61 * SEC); /* removed from Redis */
    ck_assert_str_eq(answered_status(st, sizeof(st)), "Invalid");
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_tag_statuses)
{
    static const struct {
        bool found;
        const char *stored;
        uint64_t expires_at_ms;
        const char *want;
    } cases[] = {
        {true, "Accepted", 0, "Accepted"},
        {true, "Blocked", 0, "Blocked"},
        {true, "Expired", 0, "Expired"},
        {true, "Invalid", 0, "Invalid"},
        {true, "ConcurrentTx", 0, "Invalid"}, /* a status not kept here */
        {true, "", 0, "Invalid"},
        {false, "", 0, "Invalid"},                        /* unknown token */
        {true, "Accepted", 1735689599000ULL, "Expired"},  /* a second before T0 */
        {true, "Accepted", 1735689660000ULL, "Accepted"}, /* a minute after */
    };
    for (size_t v = 1; v <= 2; v++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            core_conn_t *e = redis_engine(false);
            uint64_t request = authorize_asked(e, v, "CARD", T0);
            tag_info(e, request, "CARD", cases[i].found, cases[i].stored, cases[i].expires_at_ms, 0,
                     T0);
            char st[32];
            ck_assert_msg(strcmp(answered_status(st, sizeof(st)), cases[i].want) == 0,
                          "v%zu case %zu: %s", v, i, only(ENV_SEND)->text);
            /* the engine validates its answers: an invalid one would be InternalError */
            core_conn_destroy(&e);
        }
    }
}
END_TEST

START_TEST(test_tag_negative_cached_shorter)
{
    core_conn_t *e = redis_engine(false);
    uint64_t request = authorize_asked(e, 1, "NOPE", T0);
    tag_info(e, request, "NOPE", false, "", 0, 0, T0);
    forget();
    authorize(e, 1, "NOPE", T0 + 9 * SEC); /* tag_negative_cache_ms 10 s */
    ck_assert_uint_eq(n_of(ENV_TAG_LOOKUP), 0);
    char st[32];
    ck_assert_str_eq(answered_status(st, sizeof(st)), "Invalid");
    forget();
    authorize(e, 1, "NOPE", T0 + 10 * SEC);
    ck_assert_uint_eq(n_of(ENV_TAG_LOOKUP), 1);
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_tag_timeout_and_fallback)
{
    for (int accept = 0; accept <= 1; accept++) {
        core_conn_t *e = redis_engine(accept);
        uint64_t timeouts = counter_of(CORE_M_TAG_FALLBACKS, "reason=\"timeout\"");
        uint64_t request = authorize_asked(e, 1, "CARD", T0);
        ck_assert_uint_eq(core_conn_tick(e, T0 + SEC), T0 + 2 * SEC);
        ck_assert_uint_eq(R.n, 0);
        core_conn_tick(e, T0 + 2 * SEC);
        char st[32];
        ck_assert_str_eq(answered_status(st, sizeof(st)), accept ? "Accepted" : "Invalid");
        ck_assert_uint_eq(counter_of(CORE_M_TAG_FALLBACKS, "reason=\"timeout\""), timeouts + 1);
        ck_assert_uint_eq(stats(e).waiting, 0);
        forget();
        tag_info(e, request, "CARD", true, "Accepted", 0, 0, T0 + 3 * SEC); /* late: cached */
        ck_assert_uint_eq(R.n, 0);
        ck_assert_uint_eq(stats(e).tags, 1);
        /* the registry full: the lookup is refused and the fallback answers at once */
        R.full[CORE_TO_REGISTRY] = true;
        authorize(e, 1, "OTHER", T0 + 3 * SEC);
        ck_assert(only(ENV_TAG_LOOKUP)->refused);
        ck_assert_str_eq(answered_status(st, sizeof(st)), accept ? "Accepted" : "Invalid");
        /* the registry could not ask Redis: fallback, nothing cached */
        R.full[CORE_TO_REGISTRY] = false;
        forget();
        request = authorize_asked(e, 1, "THIRD", T0 + 3 * SEC);
        tag_info(e, request, "THIRD", false, "", 0, -EAGAIN, T0 + 3 * SEC);
        ck_assert_str_eq(answered_status(st, sizeof(st)), accept ? "Accepted" : "Invalid");
        ck_assert_uint_eq(stats(e).tags, 1);
        core_conn_destroy(&e);
    }
}
END_TEST

START_TEST(test_tag_then_persist)
{
    core_conn_t *e = redis_engine(false);
    frame(e, 1, START16, T0); /* 1.6 StartTransaction: the tag first, then persistence */
    uint64_t request = only(ENV_TAG_LOOKUP)->token;
    ck_assert_uint_eq(n_of(ENV_EVENT), 0);
    forget();
    tag_info(e, request, "TAG", true, "Blocked", 0, 0, T0);
    uint64_t token = held_token();
    ck_assert_str_eq(only(ENV_EVENT)->what, "transaction.started");
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    forget();
    ack(e, token, 0, T0);
    const char *t = only(ENV_SEND)->text;
    ck_assert(starts(t, "[3,\"s1\",{"));
    ck_assert_ptr_nonnull(strstr(t, "\"status\":\"Blocked\""));
    ck_assert_ptr_nonnull(strstr(t, "\"transactionId\""));
    /* 2.0.1 TransactionEvent: with an idToken it waits, without one it does not */
    forget();
    frame(e, 2,
          "[2,\"t1\",\"TransactionEvent\",{\"eventType\":\"Started\",\"timestamp\":"
          "\"2025-01-01T00:00:00Z\",\"triggerReason\":\"Authorized\",\"seqNo\":0,"
          "\"transactionInfo\":{\"transactionId\":\"T1\"},\"idToken\":{\"idToken\":\"TAG\","
          "\"type\":\"ISO14443\"}}]",
          T0);
    ck_assert_uint_eq(n_of(ENV_TAG_LOOKUP), 0); /* Blocked is cached (10 s) */
    token = held_token();
    forget();
    ack(e, token, 0, T0);
    ck_assert_ptr_nonnull(strstr(only(ENV_SEND)->text, "\"idTokenInfo\":{\"status\":\"Blocked\""));
    forget();
    frame(e, 2,
          "[2,\"t2\",\"TransactionEvent\",{\"eventType\":\"Updated\",\"timestamp\":"
          "\"2025-01-01T00:00:00Z\",\"triggerReason\":\"MeterValuePeriodic\",\"seqNo\":1,"
          "\"transactionInfo\":{\"transactionId\":\"T1\"}}]",
          T0);
    ck_assert_uint_eq(n_of(ENV_TAG_LOOKUP), 0);
    held_token();
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_tag_waiting_abandoned_or_closed)
{
    core_conn_t *e = redis_engine(false);
    uint64_t request = authorize_asked(e, 1, "CARD", T0);
    uint64_t abandoned = counter(CORE_M_ANSWERS_ABANDONED);
    frame(e, 1, HEARTBEAT, T0 + SEC); /* the station gave up on the Authorize */
    ck_assert(starts(only(ENV_SEND)->text, "[3,\"h1\","));
    ck_assert_uint_eq(counter(CORE_M_ANSWERS_ABANDONED), abandoned + 1);
    ck_assert_uint_eq(stats(e).waiting, 0);
    forget();
    tag_info(e, request, "CARD", true, "Accepted", 0, 0, T0 + SEC);
    ck_assert_uint_eq(core_conn_tick(e, T0 + 10 * SEC), 0);
    ck_assert_uint_eq(R.n, 0);
    authorize(e, 1, "CARD2", T0 + 10 * SEC);
    request = only(ENV_TAG_LOOKUP)->token;
    disconnect(e, 1, T0 + 10 * SEC);
    ck_assert_uint_eq(stats(e).waiting, 0);
    ck_assert_uint_eq(stats(e).timers, 0);
    forget();
    tag_info(e, request, "CARD2", true, "Accepted", 0, 0, T0 + 11 * SEC);
    ck_assert_uint_eq(core_conn_tick(e, T0 + 20 * SEC), 0);
    ck_assert_uint_eq(R.n, 0);
    core_conn_destroy(&e);
}
END_TEST

/* a new registry lost the lookups it had: they are asked again */
START_TEST(test_tag_lookup_repeated_to_new_registry)
{
    core_conn_t *e = redis_engine(false);
    announce_in(e, "registry", 1, T0);
    uint64_t request = authorize_asked(e, 1, "CARD", T0);
    announce_in(e, "registry", 2, T0);
    const rec_t *again = only(ENV_TAG_LOOKUP);
    ck_assert_uint_eq(again->token, request);
    ck_assert_str_eq(again->what, "CARD");
    forget();
    tag_info(e, request, "CARD", true, "Accepted", 0, 0, T0);
    char st[32];
    ck_assert_str_eq(answered_status(st, sizeof(st)), "Accepted");
    core_conn_destroy(&e);
}
END_TEST

/* ---- core_timers ------------------------------------------------------------------------------
 */

/* ---- event ids, resends, CloudEvents headers, trace context, latency (issue 14) ---------- */

/* the value of a top-level string member of an event's JSON text */
static void event_member(const rec_t *r, const char *name, char *out, size_t len)
{
    json_t *root = json_loads(r->text, 0, NULL);
    ck_assert_ptr_nonnull(root);
    snprintf(out, len, "%s", json_string_value(json_object_get(root, name)) ?: "");
    json_decref(root);
}

static int traceparent_like(const char *tp)
{
    if (strlen(tp) != 55 || strncmp(tp, "00-", 3) != 0 || tp[35] != '-' || strcmp(tp + 52, "-01"))
        return 0;
    for (size_t i = 3; i < 52; i++)
        if (i != 35 && !strchr("0123456789abcdef", tp[i]))
            return 0;
    return 1;
}

/* every event: the CloudEvents binding's content-type, a W3C traceparent, an id of 32 hex
 * characters that is also the record's id, and the dataschema of its type */
static void check_event_record(const rec_t *r)
{
    ck_assert_str_eq(r->ctype, "application/cloudevents+json; charset=UTF-8");
    ck_assert_msg(traceparent_like(r->trace), "traceparent %s", r->trace);
    ck_assert_uint_eq(strlen(r->evid), 32);
    char id[64], schema[160], want[200];
    event_member(r, "id", id, sizeof(id));
    ck_assert_str_eq(id, r->evid);
    event_member(r, "dataschema", schema, sizeof(schema));
    snprintf(want, sizeof(want), "https://ocppgw.example/unified/event-%s.json", r->what);
    ck_assert_str_eq(schema, want);
}

/* two identical boots are two occurrences: two ids, two traces; so are two connections */
START_TEST(test_event_ids_of_occurrences)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    frame(e, 1, BOOT16, T0);
    frame(e, 1, BOOT16, T0); /* the very same frame again */
    frame(e, 1, HEARTBEAT, T0);
    disconnect(e, 1, T0);
    connect_(e, EDGE, 2, "CP1", "ocpp1.6", T0);
    ck_assert_uint_eq(n_of(ENV_EVENT), 5);
    for (size_t i = 0; i < n_of(ENV_EVENT); i++)
        check_event_record(nth(ENV_EVENT, i));
    const rec_t *b1 = nth(ENV_EVENT, 1), *b2 = nth(ENV_EVENT, 2);
    ck_assert_str_eq(b1->what, "device.online");
    ck_assert_str_eq(b2->what, "device.online");
    ck_assert_str_ne(b1->evid, b2->evid);
    ck_assert_str_ne(b1->trace, b2->trace);
    ck_assert_str_ne(nth(ENV_EVENT, 0)->evid, nth(ENV_EVENT, 4)->evid); /* two connects */
    core_conn_destroy(&e);
    /* another engine with another key: other ids for the same input */
    core_conn_config_t cfg = config();
    cfg.id_key[0] = 1;
    char first[40];
    snprintf(first, sizeof(first), "%s", b1->evid);
    e = engine_with(&cfg);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    frame(e, 1, BOOT16, T0);
    ck_assert_str_ne(nth(ENV_EVENT, 1)->evid, first);
    core_conn_destroy(&e);
}
END_TEST

/* a StartTransaction resent with a new message id: the same event id; once the first is in
 * Kafka, a resend is answered again (same transactionId) without a second event, counted */
START_TEST(test_resent_start_transaction_same_id)
{
    core_conn_t *e = booted16(0);
    frame(e, 1, START16, T0);
    const rec_t *ev = only(ENV_EVENT);
    check_event_record(ev);
    char id[40], trace[64];
    snprintf(id, sizeof(id), "%s", ev->evid);
    snprintf(trace, sizeof(trace), "%s", ev->trace);
    uint64_t token = ev->token;
    forget();
    /* resent before the ack (the station gave up): published again, same id, new trace */
    static const char START16_RESENT[] =
        "[2,\"s2\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":\"TAG\",\"meterStart\":0,"
        "\"timestamp\":\"2025-01-01T00:00:00Z\"}]";
    frame(e, 1, START16_RESENT, T0 + SEC);
    ev = only(ENV_EVENT);
    ck_assert_str_eq(ev->evid, id);
    ck_assert_str_ne(ev->trace, trace);
    token = ev->token;
    forget();
    ack(e, token, 0, T0 + 2 * SEC);
    const rec_t *s = only(ENV_SEND);
    ck_assert(starts(s->text, "[3,\"s2\",{"));
    char answer[4096];
    snprintf(answer, sizeof(answer), "%s", s->text + strlen("[3,\"s2\""));
    forget();
    /* resent after it is in Kafka: answered at once, the same answer, no event */
    uint64_t suppressed = counter(CORE_M_RESENDS_SUPPRESSED);
    static const char START16_AGAIN[] =
        "[2,\"s3\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":\"TAG\",\"meterStart\":0,"
        "\"timestamp\":\"2025-01-01T00:00:00Z\"}]";
    frame(e, 1, START16_AGAIN, T0 + 3 * SEC);
    ck_assert_uint_eq(n_of(ENV_EVENT), 0);
    s = only(ENV_SEND);
    ck_assert(starts(s->text, "[3,\"s3\",{"));
    ck_assert_str_eq(s->text + strlen("[3,\"s3\""), answer);
    ck_assert_uint_eq(counter(CORE_M_RESENDS_SUPPRESSED), suppressed + 1);
    ck_assert_uint_eq(stats(e).held, 0);
    forget();
    /* another connection does not know it: published again, with the same id */
    disconnect(e, 1, T0 + 4 * SEC);
    connect_(e, EDGE, 2, "CP1", "ocpp1.6", T0 + 4 * SEC);
    forget();
    frame(e, 2, START16_AGAIN, T0 + 5 * SEC);
    ck_assert_str_eq(only(ENV_EVENT)->evid, id);
    core_conn_destroy(&e);
}
END_TEST

/* 2.0.1 TransactionEvent: transactionId + seqNo; a resend with a new message id keeps the id */
START_TEST(test_resent_transaction_event_same_id)
{
    core_conn_t *e = engine(0, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp2.0.1", T0);
    frame(e, 1, BOOT201, T0);
    forget();
    static const char TE1[] =
        "[2,\"t1\",\"TransactionEvent\",{\"eventType\":\"Started\",\"seqNo\":0,"
        "\"timestamp\":\"2025-01-01T00:00:00Z\",\"triggerReason\":\"Authorized\","
        "\"transactionInfo\":{\"transactionId\":\"tx-1\"}}]";
    static const char TE2[] =
        "[2,\"t2\",\"TransactionEvent\",{\"eventType\":\"Started\",\"seqNo\":0,"
        "\"timestamp\":\"2025-01-01T00:00:00Z\",\"triggerReason\":\"Authorized\","
        "\"transactionInfo\":{\"transactionId\":\"tx-1\"}}]";
    static const char TE3[] =
        "[2,\"t3\",\"TransactionEvent\",{\"eventType\":\"Updated\",\"seqNo\":1,"
        "\"timestamp\":\"2025-01-01T00:00:00Z\",\"triggerReason\":\"MeterValuePeriodic\","
        "\"transactionInfo\":{\"transactionId\":\"tx-1\"}}]";
    frame(e, 1, TE1, T0);
    const rec_t *ev = only(ENV_EVENT);
    check_event_record(ev);
    char id[40];
    snprintf(id, sizeof(id), "%s", ev->evid);
    forget();
    frame(e, 1, TE2, T0 + SEC); /* the first was not acked: published again */
    ck_assert_str_eq(only(ENV_EVENT)->evid, id);
    ack(e, only(ENV_EVENT)->token, 0, T0 + SEC);
    forget();
    frame(e, 1, TE3, T0 + 2 * SEC); /* the next seqNo: another event */
    ck_assert_str_ne(only(ENV_EVENT)->evid, id);
    core_conn_destroy(&e);
}
END_TEST

/* the command's traceparent comes back on its RESULT; without one (or a broken one) the core
 * makes one; every way a command ends carries it */
START_TEST(test_command_traceparent_on_result)
{
    static const char TP[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    core_conn_t *e = booted16(0);
    command_traced(e, 70, "CP1", RESET16, TP, T0);
    char id[OCPP_MESSAGE_ID_MAX + 1];
    call_id(only(ENV_SEND), id);
    forget();
    respond(e, id, "{\"status\":\"Accepted\"}", T0 + SEC);
    ck_assert_str_eq(only(ENV_RESULT)->trace, TP);
    forget();
    command_traced(e, 71, "CP9", RESET16, TP, T0); /* not here: rejected, still traced */
    ck_assert_str_eq(only(ENV_RESULT)->trace, TP);
    forget();
    command_traced(e, 72, "CP1", "{\"action\":", TP, T0); /* invalid record */
    ck_assert_str_eq(only(ENV_RESULT)->trace, TP);
    forget();
    command_traced(e, 73, "CP9", RESET16, "00-zz-broken", T0);
    ck_assert(traceparent_like(only(ENV_RESULT)->trace));
    forget();
    command(e, 74, "CP1", RESET16, T0); /* none: a new trace, also on a timeout */
    forget();
    core_conn_tick(e, T0 + 31 * SEC);
    const rec_t *res = only(ENV_RESULT);
    ck_assert_str_eq(res->what, "timeout");
    ck_assert(traceparent_like(res->trace));
    core_conn_destroy(&e);
}
END_TEST

/* receive -> answer per action and version: direct answers, held answers at their ack, errors;
 * unknown actions are "other" */
START_TEST(test_call_duration_histogram)
{
    char *before = metrics_render();
    core_conn_t *e = booted16(0);
    frame(e, 1, HEARTBEAT, T0 + SEC);
    frame(e, 1, START16, T0 + 2 * SEC);
    ack(e, only(ENV_EVENT)->token, 0, T0 + 2 * SEC + 3000); /* 3 ms later */
    frame(e, 1, "[2,\"x1\",\"NoSuchAction\",{}]", T0 + 3 * SEC);
    char *text = metrics_render();
    ck_assert_ptr_nonnull(strstr(
        text, "ocppgw_core_call_duration_seconds_count{action=\"Heartbeat\",version=\"1.6\"}"));
    ck_assert_ptr_nonnull(strstr(text, "ocppgw_core_call_duration_seconds_bucket{action="
                                       "\"StartTransaction\",version=\"1.6\",le=\"0.005\"}"));
    ck_assert_ptr_nonnull(
        strstr(text, "ocppgw_core_call_duration_seconds_count{action=\"other\",version=\"1.6\"}"));
    ck_assert_ptr_null(strstr(text, "NoSuchAction"));
    free(text);
    free(before);
    core_conn_destroy(&e);
}
END_TEST

/* every line about a CALL carries its trace_id: the CALLERROR's log line here */
START_TEST(test_log_lines_carry_trace_id)
{
    char path[] = "/tmp/test_core_conn_log_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    core_conn_t *e = booted16(0);
    log_set_fd(fd);
    frame(e, 1, "[2,\"x1\",\"NoSuchAction\",{}]", T0);
    log_set_fd(-1);
    char buf[4096] = "";
    ck_assert_int_gt(pread(fd, buf, sizeof(buf) - 1, 0), 0);
    close(fd);
    unlink(path);
    ck_assert_msg(strstr(buf, "\"trace_id\":\"") != NULL, "no trace_id in %s", buf);
    core_conn_destroy(&e);
}
END_TEST

START_TEST(test_timers_order_move_cancel)
{
    core_timers_t *h = core_timers_new();
    core_timer_t t[8] = {{0}};
    uint64_t at[8] = {50, 10, 40, 30, 20, 80, 70, 60};
    ck_assert_int_eq(core_timers_reserve(h, 8), 0);
    for (int i = 0; i < 8; i++)
        core_timers_set(h, &t[i], at[i]);
    ck_assert_uint_eq(core_timers_size(h), 8);
    ck_assert_uint_eq(core_timers_next(h), 10);
    core_timers_set(h, &t[5], at[5] = 5);  /* moved earlier */
    core_timers_set(h, &t[1], at[1] = 90); /* moved later */
    core_timers_set(h, &t[2], 0);          /* cancelled */
    core_timers_set(h, &t[2], 0);          /* twice: nothing */
    ck_assert_uint_eq(core_timers_size(h), 7);
    ck_assert_ptr_null(core_timers_due(h, 4));
    static const uint64_t order[] = {5, 20, 30, 50, 60, 70, 90};
    for (size_t i = 0; i < 7; i++) {
        core_timer_t *d = core_timers_due(h, 1000);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(d->pos, 0); /* taken out */
        ck_assert_uint_eq(d->at, 0);
        ck_assert_uint_eq(at[d - t], order[i]);
    }
    ck_assert_ptr_null(core_timers_due(h, 1000));
    ck_assert_uint_eq(core_timers_next(h), 0);
    core_timers_set(h, &t[0], 7);
    core_timers_destroy(&h);
    ck_assert_uint_eq(t[0].pos, 0);
    core_timers_destroy(&h);
}
END_TEST

/* ---- 1.6 transaction ids (docs/ocpp-core.md "Transaction ids") ------------------------------- */

/* a booted 1.6 CP1 on conn 1 whose registry answers claims only as the test says */
static core_conn_t *txid_engine(uint32_t block, uint32_t low_water, bool fill)
{
    core_conn_config_t cfg = config();
    cfg.txid_block_size = block;
    cfg.txid_low_water = low_water;
    cfg.txid_ttl_ms = 3600000;
    core_conn_t *e = engine_bare(&cfg);
    boot16(e);
    core_conn_tick(e, T0); /* at start: the first block */
    const rec_t *b = only(ENV_TXID_BLOCK);
    ck_assert_uint_eq(b->code, block);
    ck_assert_int_eq(b->to, CORE_TO_REGISTRY);
    ck_assert_int_eq(b->policy, OUTBOX_TRY);
    if (fill)
        txid_range(e, b->token, 1000, block, 0, T0);
    forget();
    return e;
}

static const char *txid_label(const char *name, const char *value, char *buf, size_t len)
{
    snprintf(buf, len, "%s=\"%s\"", name, value);
    return buf;
}

static uint64_t claims(const char *result)
{
    char l[64];
    return counter_of(CORE_M_TXID_CLAIMS, txid_label("result", result, l, sizeof(l)));
}

static uint64_t blocks_counted(const char *status)
{
    char l[64];
    return counter_of(CORE_M_TXID_BLOCKS, txid_label("status", status, l, sizeof(l)));
}

static uint64_t unanswered(const char *reason)
{
    char l[64];
    return counter_of(CORE_M_TXID_UNANSWERED, txid_label("reason", reason, l, sizeof(l)));
}

/* the transactionId of the CALLRESULT in text (-1: none) */
static long long answered_txid(const char *text)
{
    const char *p = strstr(text, "\"transactionId\":");
    return p ? strtoll(p + strlen("\"transactionId\":"), NULL, 10) : -1;
}

/* CP1's StartTransaction "s<n>" of connector at timestamp (START16 is s1, connector 1, TS0) */
#define TS0 "2025-01-01T00:00:00Z"
static void start_tx(core_conn_t *e, int n, int connector, const char *timestamp, uint64_t now)
{
    char f[256];
    snprintf(f, sizeof(f),
             "[2,\"s%d\",\"StartTransaction\",{\"connectorId\":%d,\"idTag\":\"TAG\","
             "\"meterStart\":0,\"timestamp\":\"%s\"}]",
             n, connector, timestamp);
    frame(e, 1, f, now);
}

/* the TXID_CLAIM just sent: its request id returned, its key copied into key (if not NULL);
 * effects forgotten */
static uint64_t claim_sent(char key[128])
{
    const rec_t *c = only(ENV_TXID_CLAIM);
    uint64_t request = c->token;
    if (key)
        snprintf(key, 128, "%s", c->what);
    forget();
    return request;
}

/* the claim of CP1's START16 at T0: its request id, its key into key; effects forgotten */
static uint64_t start16_claimed(core_conn_t *e, char key[128])
{
    frame(e, 1, START16, T0);
    return claim_sent(key);
}

/* c claims key again with candidate */
static void claims_again(const rec_t *c, const char *key, uint64_t candidate)
{
    ck_assert_str_eq(c->what, key);
    ck_assert_uint_eq(c->epoch, candidate);
}

/* the EVENT just published carries transaction id: its token */
static uint64_t published_with(long long id)
{
    const rec_t *ev = only(ENV_EVENT);
    char want[64];
    snprintf(want, sizeof(want), "\"transaction_id\":\"%lld\"", id);
    ck_assert_ptr_nonnull(strstr(ev->text, want));
    return ev->token;
}

/* the EVENT of token persisted: the CALLRESULT answers transaction id */
static void answered_with(core_conn_t *e, uint64_t token, long long id, uint64_t now)
{
    forget();
    ack(e, token, 0, now);
    ck_assert_int_eq(answered_txid(only(ENV_SEND)->text), id);
}

/* the station's StartTransaction s1 is answered InternalError: no event */
static void refused_internal_error(void)
{
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"s1\",\"InternalError\""));
}

/* StartTransaction: TXID_CLAIM first (key, candidate, ttl), nothing published or answered until
 * TXID_CLAIMED; then the event with the claimed id, and the answer once the event is persisted */
START_TEST(test_txid_claim_before_event_and_answer)
{
    core_conn_t *e = txid_engine(100, 10, true);
    uint64_t first = claims("first");
    frame(e, 1, START16, T0);
    const rec_t *c = only(ENV_TXID_CLAIM);
    ck_assert_int_eq(c->to, CORE_TO_REGISTRY);
    ck_assert_uint_eq(c->epoch, 1000); /* the candidate: first id of the block */
    ck_assert_uint_eq(c->instance, 3600000);
    ck_assert(starts(c->what, "CP1|1|"));
    ck_assert_uint_eq(strlen(c->what), strlen("CP1|1|") + 32);
    ck_assert_uint_eq(n_of(ENV_EVENT), 0);
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    ck_assert_uint_eq(stats(e).waiting, 1);
    uint64_t request = claim_sent(NULL);
    txid_claimed(e, request + 7, 1000, true, 0, T0); /* another request: nothing */
    ck_assert_uint_eq(R.n, 0);
    txid_claimed(e, request, 1000, true, 0, T0);
    uint64_t token = published_with(1000);
    ck_assert_uint_eq(n_of(ENV_SEND), 0); /* held until persisted */
    ck_assert_uint_eq(claims("first"), first + 1);
    answered_with(e, token, 1000, T0);
    forget();
    /* the next start of another connector: the next id */
    start_tx(e, 9, 9, TS0, T0);
    ck_assert_uint_eq(only(ENV_TXID_CLAIM)->epoch, 1001);
    ck_assert(starts(only(ENV_TXID_CLAIM)->what, "CP1|9|"));
    core_conn_destroy(&e);
}
END_TEST

/* a resend (new message id; on another pod the same): the registry finds the key and answers the
 * id given before with first=false: answered with it, and the unused candidate is reused */
START_TEST(test_txid_resend_gets_remembered_id)
{
    core_conn_t *e = txid_engine(100, 10, true);
    uint64_t found = claims("found");
    char key[128];
    uint64_t request = start16_claimed(e, key);
    txid_claimed(e, request, 4242, false, 0, T0);
    answered_with(e, published_with(4242), 4242, T0);
    ck_assert_uint_eq(claims("found"), found + 1);
    forget();
    /* the same natural key again: the same key is claimed; candidate 1000 came back */
    start_tx(e, 2, 1, TS0, T0 + SEC);
    claims_again(only(ENV_TXID_CLAIM), key, 1000);
    forget();
    /* another timestamp: another key */
    start_tx(e, 3, 1, "2025-01-01T00:00:01Z", T0 + 2 * SEC);
    ck_assert_str_ne(only(ENV_TXID_CLAIM)->what, key);
    core_conn_destroy(&e);
}
END_TEST

/* Redis unreachable: -EAGAIN (and -EBUSY) try again after a backoff with the same candidate and
 * key; the answer comes once the registry can give one */
START_TEST(test_txid_claim_retried_on_eagain)
{
    core_conn_t *e = txid_engine(100, 10, true);
    uint64_t unavailable = claims("unavailable"), busy = claims("busy");
    char key[128];
    uint64_t request = start16_claimed(e, key);
    txid_claimed(e, request, 0, false, -EAGAIN, T0);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(claims("unavailable"), unavailable + 1);
    uint64_t next = core_conn_tick(e, T0);
    ck_assert_uint_gt(next, T0);
    ck_assert_uint_le(next, T0 + SEC);
    core_conn_tick(e, next);
    const rec_t *c = only(ENV_TXID_CLAIM);
    claims_again(c, key, 1000);
    ck_assert_uint_ne(c->token, request);
    txid_claimed(e, request, 1000, true, 0, next); /* the former attempt's answer: late */
    ck_assert_uint_eq(n_of(ENV_EVENT), 0);
    request = c->token;
    forget();
    txid_claimed(e, request, 0, false, -EBUSY, next);
    ck_assert_uint_eq(claims("busy"), busy + 1);
    uint64_t then = core_conn_tick(e, next);
    core_conn_tick(e, then);
    request = claim_sent(NULL);
    txid_claimed(e, request, 1000, true, 0, then);
    published_with(1000);
    core_conn_destroy(&e);
}
END_TEST

/* no answer at all (registry down, answers lost): claimed again every txid_claim_timeout_ms, and
 * past txid_claim_budget_ms answered InternalError (1.6 stations resend), no event, counted; the
 * candidate a claim carried is never handed out again */
START_TEST(test_txid_timeout_then_internal_error)
{
    core_conn_t *e = txid_engine(100, 10, true);
    uint64_t timeouts = claims("timeout"), budget = unanswered("budget");
    frame(e, 1, START16, T0);
    ck_assert_uint_eq(n_of(ENV_TXID_CLAIM), 1);
    forget();
    size_t attempts = 1;
    uint64_t now = T0, next = core_conn_tick(e, T0);
    while (n_of(ENV_SEND) == 0) {
        ck_assert_uint_ne(next, 0);
        ck_assert_uint_le(next, T0 + 5 * SEC);
        now = next;
        next = core_conn_tick(e, now);
        attempts = attempts + n_of(ENV_TXID_CLAIM);
        for (size_t i = 0; i < n_of(ENV_TXID_CLAIM); i++)
            ck_assert_uint_eq(nth(ENV_TXID_CLAIM, i)->epoch, 1000);
        if (!n_of(ENV_SEND))
            forget();
    }
    ck_assert_uint_eq(now, T0 + 5 * SEC);
    ck_assert_uint_eq(attempts, 5); /* at 0, 1, 2, 3, 4 s */
    refused_internal_error();
    ck_assert_uint_eq(n_of(ENV_EVENT), 0);
    ck_assert_uint_eq(claims("timeout"), timeouts + 5); /* each attempt */
    ck_assert_uint_eq(unanswered("budget"), budget + 1);
    ck_assert_uint_eq(stats(e).waiting, 0);
    forget();
    start_tx(e, 2, 2, TS0, now);
    ck_assert_uint_eq(only(ENV_TXID_CLAIM)->epoch, 1001); /* 1000 may be stored: not reused */
    core_conn_destroy(&e);
}
END_TEST

/* the pool: the first block at start, one request in flight, asked again on timeout and after
 * -EAGAIN (backoff), a late range kept; the next block below the low-water mark */
START_TEST(test_txid_pool_refill)
{
    core_conn_t *e = txid_engine(4, 2, false);
    uint64_t timeouts = blocks_counted("timeout"), unavail = blocks_counted("unavailable");
    /* in flight: not asked again before its timeout (1 s) */
    ck_assert_uint_eq(core_conn_tick(e, T0 + SEC / 2), T0 + SEC);
    ck_assert_uint_eq(n_of(ENV_TXID_BLOCK), 0);
    core_conn_tick(e, T0 + SEC);
    uint64_t request = only(ENV_TXID_BLOCK)->token;
    ck_assert_uint_eq(blocks_counted("timeout"), timeouts + 1);
    forget();
    txid_range(e, request, 0, 0, -EAGAIN, T0 + SEC);
    ck_assert_uint_eq(blocks_counted("unavailable"), unavail + 1);
    ck_assert_uint_eq(n_of(ENV_TXID_BLOCK), 0);
    uint64_t next = core_conn_tick(e, T0 + SEC);
    ck_assert_uint_gt(next, T0 + SEC);
    core_conn_tick(e, next);
    request = only(ENV_TXID_BLOCK)->token;
    forget();
    txid_range(e, request, 50, 4, 0, next); /* ids 50..53 */
    ck_assert_uint_eq(n_of(ENV_TXID_BLOCK), 0);
    /* two starts: 50, 51; the third leaves 1 (< 2): the next block is asked */
    R.auto_claim = true;
    for (int i = 0; i < 3; i++) {
        start_tx(e, i, i + 1, TS0, next);
        uint64_t token = published_with(50 + i);
        ck_assert_uint_eq(n_of(ENV_TXID_BLOCK), i == 2 ? 1 : 0);
        if (i == 2)
            request = only(ENV_TXID_BLOCK)->token;
        forget();
        ack(e, token, 0, next);
        forget();
    }
    txid_range(e, request, 9000, 4, 0, next);
    core_conn_tick(e, next);
    ck_assert_uint_eq(n_of(ENV_TXID_BLOCK), 0); /* 5 left */
    core_conn_destroy(&e);
}
END_TEST

/* the counter is exhausted (-ENOSPC): logged as an error and counted; with no id left a
 * StartTransaction waits for the pool within its budget, then InternalError "no_ids" */
START_TEST(test_txid_exhausted)
{
    core_conn_t *e = txid_engine(100, 10, false);
    uint64_t exhausted = blocks_counted("exhausted"), no_ids = unanswered("no_ids");
    core_conn_tick(e, T0 + SEC); /* the first request timed out: asked again */
    uint64_t request = only(ENV_TXID_BLOCK)->token;
    forget();
    txid_range(e, request, 0, 0, -ENOSPC, T0 + SEC);
    ck_assert_uint_eq(blocks_counted("exhausted"), exhausted + 1);
    frame(e, 1, START16, T0 + SEC);
    ck_assert_uint_eq(n_of(ENV_TXID_CLAIM), 0);
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    uint64_t now = T0 + SEC, next = core_conn_tick(e, now);
    for (int guard = 0; n_of(ENV_SEND) == 0 && guard < 100; guard++) {
        ck_assert_uint_le(next, T0 + 6 * SEC);
        now = next;
        next = core_conn_tick(e, now);
    }
    ck_assert_uint_eq(now, T0 + 6 * SEC);
    refused_internal_error();
    ck_assert_uint_eq(n_of(ENV_TXID_CLAIM), 0);
    ck_assert_uint_eq(unanswered("no_ids"), no_ids + 1);
    core_conn_destroy(&e);
}
END_TEST

/* the EVENT just published is a type event of transaction id; once persisted, the answer starts
 * with answer */
static void published_then_answered(core_conn_t *e, const char *type, long long id,
                                    const char *answer)
{
    ck_assert_str_eq(only(ENV_EVENT)->what, type);
    uint64_t token = published_with(id);
    forget();
    ack(e, token, 0, T0);
    ck_assert(starts(only(ENV_SEND)->text, answer));
}

/* StopTransaction and MeterValues of a transaction this core never claimed (another pod, before
 * a restart): handled as any other, published and answered once persisted */
START_TEST(test_txid_unknown_in_stop_and_meter_values)
{
    core_conn_t *e = txid_engine(100, 10, true);
    frame(e, 1,
          "[2,\"m1\",\"MeterValues\",{\"connectorId\":1,\"transactionId\":987654,"
          "\"meterValue\":[{\"timestamp\":\"2025-01-01T00:00:00Z\",\"sampledValue\":[{\"value\":"
          "\"10\"}]}]}]",
          T0);
    ck_assert_uint_eq(n_of(ENV_TXID_CLAIM), 0);
    published_then_answered(e, "transaction.updated", 987654, "[3,\"m1\",{}]");
    forget();
    frame(e, 1,
          "[2,\"x1\",\"StopTransaction\",{\"transactionId\":987654,\"meterStop\":20,"
          "\"timestamp\":\"2025-01-01T01:00:00Z\"}]",
          T0);
    published_then_answered(e, "transaction.ended", 987654, "[3,\"x1\",");
    core_conn_destroy(&e);
}
END_TEST

/* a claim in flight is sent again to a new registry instance (same request, candidate and key);
 * a claim abandoned by a new CALL is answered late to nobody */
START_TEST(test_txid_registry_restart_and_abandon)
{
    core_conn_t *e = txid_engine(100, 10, true);
    announce_in(e, "registry", 5, T0);
    char key[128];
    uint64_t request = start16_claimed(e, key);
    announce_in(e, "registry", 6, T0);
    const rec_t *c = nth(ENV_TXID_CLAIM, 0);
    ck_assert_uint_eq(c->token, request);
    claims_again(c, key, 1000);
    forget();
    frame(e, 1, HEARTBEAT, T0 + SEC); /* the station gave up on its StartTransaction */
    ck_assert_uint_eq(stats(e).waiting, 0);
    forget();
    txid_claimed(e, request, 1000, true, 0, T0 + SEC);
    ck_assert_uint_eq(n_of(ENV_EVENT), 0);
    ck_assert_uint_eq(n_of(ENV_SEND), 0);
    core_conn_destroy(&e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_conn");
    TCase *t = tcase_create("engine");
    tcase_add_test(t, test_connect_registers_and_publishes);
    tcase_add_test(t, test_event_ids_of_occurrences);
    tcase_add_test(t, test_resent_start_transaction_same_id);
    tcase_add_test(t, test_resent_transaction_event_same_id);
    tcase_add_test(t, test_command_traceparent_on_result);
    tcase_add_test(t, test_call_duration_histogram);
    tcase_add_test(t, test_log_lines_carry_trace_id);
    tcase_add_test(t, test_unregister_with_epoch);
    tcase_add_test(t, test_hello_opens_route_once);
    tcase_add_test(t, test_frame_for_unknown_connection);
    tcase_add_test(t, test_newer_connection_supersedes_older);
    tcase_add_test(t, test_same_conn_id_again_replaces);
    tcase_add_test(t, test_superseded_by_epoch);
    tcase_add_test(t, test_boot_gating_201);
    tcase_add_test(t, test_boot_state_from_registry);
    tcase_add_test(t, test_hold_acked_answers_once);
    tcase_add_test(t, test_hold_bridge_stalled_unbounded);
    tcase_add_test(t, test_hold_bridge_stalled_bounded);
    tcase_add_test(t, test_hold_bridge_fails);
    tcase_add_test(t, test_hold_event_not_handed_on);
    tcase_add_test(t, test_hold_abandoned_by_new_call);
    tcase_add_test(t, test_hold_connection_closed);
    tcase_add_test(t, test_persisted_kinds);
    tcase_add_test(t, test_command_answered);
    tcase_add_test(t, test_command_timeout_then_next);
    tcase_add_test(t, test_command_expired_while_queued);
    tcase_add_test(t, test_command_deadline_from_bridge);
    tcase_add_test(t, test_command_refused);
    tcase_add_test(t, test_commands_when_connection_closes);
    tcase_add_test(t, test_responses_never_answered);
    tcase_add_test(t, test_v21_send);
    tcase_add_test(t, test_v21_callresulterror);
    tcase_add_test(t, test_announce_at_start_and_every_second);
    tcase_add_test(t, test_edge_restart_finishes_its_connections);
    tcase_add_test(t, test_frame_recovers_connection);
    tcase_add_test(t, test_resumed_connect);
    tcase_add_test(t, test_frames_wait_for_hello);
    tcase_add_test(t, test_conn_state_when_boot_changes);
    tcase_add_test(t, test_registry_restart_reregisters);
    tcase_add_test(t, test_bridge_restart_answers_held);
    tcase_add_test(t, test_event_refused_gateway_busy);
    tcase_add_test(t, test_event_heartbeat_on);
    tcase_add_test(t, test_send_policies);
    tcase_add_test(t, test_register_authenticated);
    tcase_add_test(t, test_unauthenticated_claim_refused);
    tcase_add_test(t, test_tag_lookup_and_cache);
    tcase_add_test(t, test_tag_statuses);
    tcase_add_test(t, test_tag_negative_cached_shorter);
    tcase_add_test(t, test_tag_timeout_and_fallback);
    tcase_add_test(t, test_tag_then_persist);
    tcase_add_test(t, test_tag_waiting_abandoned_or_closed);
    tcase_add_test(t, test_tag_lookup_repeated_to_new_registry);
    tcase_add_test(t, test_timers_order_move_cancel);
    tcase_add_test(t, test_txid_claim_before_event_and_answer);
    tcase_add_test(t, test_txid_resend_gets_remembered_id);
    tcase_add_test(t, test_txid_claim_retried_on_eagain);
    tcase_add_test(t, test_txid_timeout_then_internal_error);
    tcase_add_test(t, test_txid_pool_refill);
    tcase_add_test(t, test_txid_exhausted);
    tcase_add_test(t, test_txid_unknown_in_stop_and_meter_values);
    tcase_add_test(t, test_txid_registry_restart_and_abandon);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    metrics_shutdown();
    return failed ? 1 : 0;
}
