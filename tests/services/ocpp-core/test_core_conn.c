/* Unit tests for services/ocpp-core/core_conn, the engine of ocpp-core, and core_timers, its
 * deadline heap. Recording ops keep every effect (envelopes to edges, bridge and registry;
 * routes opened); each test drives a sequence of envelopes and ticks with a fake clock and
 * asserts the effects: answers held until persistence (acked, bridge stalled with and without
 * a bound, bridge failing, abandoned by a new CALL, connection closed), every way a command
 * ends (accepted, rejected, ocpp_error, timeout, expired, queue full, not on this core,
 * connection closed), each with exactly one RESULT, 2.0.1 boot gating (also through the
 * registry), newer connections, SUPERSEDED by epoch, and frames for unknown connections. */
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
    uint64_t epoch;   /* UNREGISTER */
    char what[128];   /* CLOSE reason, EVENT ce_type, RESULT status, REGISTER boot_state */
    char id[96];      /* RESULT command_id */
    char text[4096];  /* SEND data, RESULT value */
} rec_t;

static struct {
    rec_t r[128];
    size_t n;
    int bridge_rc; /* what sends to the bridge return */
    int open_rc;   /* what open_edge returns */
    int opened;
    char opened_edge[64], opened_endpoint[64];
} R;

static void copy_str(env_str_t s, char *out, size_t len)
{
    env_str_copy(s, out, len);
}

static int rec_send(void *arg, core_peer_t to, const char *edge_id, const envelope_t *env)
{
    (void)arg;
    ck_assert_uint_lt(R.n, sizeof(R.r) / sizeof(R.r[0]));
    rec_t *r = &R.r[R.n++];
    memset(r, 0, sizeof(*r));
    r->to = to;
    r->type = env->type;
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
        copy_str(env->u.event.headers.items[0].value, r->what, sizeof(r->what));
        snprintf(r->text, sizeof(r->text), "%.*s", (int)env->u.event.value.len,
                 (const char *)env->u.event.value.ptr);
        break;
    case ENV_RESULT:
        r->token = env->u.result.token;
        copy_str(env->u.result.status, r->what, sizeof(r->what));
        copy_str(env->u.result.command_id, r->id, sizeof(r->id));
        snprintf(r->text, sizeof(r->text), "%.*s", (int)env->u.result.value.len,
                 (const char *)env->u.result.value.ptr);
        break;
    case ENV_REGISTER:
        r->conn_id = env->u.register_.conn_id;
        copy_str(env->u.register_.boot_state, r->what, sizeof(r->what));
        break;
    case ENV_UNREGISTER:
        r->conn_id = env->u.unregister.conn_id;
        r->epoch = env->u.unregister.epoch;
        break;
    default:
        ck_abort_msg("unexpected effect %d", (int)env->type);
    }
    return to == CORE_TO_BRIDGE ? R.bridge_rc : 0;
}

static int rec_open_edge(void *arg, const char *edge_id, const char *endpoint)
{
    (void)arg;
    R.opened++;
    snprintf(R.opened_edge, sizeof(R.opened_edge), "%s", edge_id);
    snprintf(R.opened_endpoint, sizeof(R.opened_endpoint), "%s", endpoint);
    return R.open_rc;
}

static core_conn_t *engine(uint64_t persist_timeout_ms, uint64_t command_timeout_ms,
                           size_t queue_max)
{
    memset(&R, 0, sizeof(R));
    log_set_fd(-1);
    core_conn_config_t cfg = {.pod_id = "pod-a",
                              .core_index = 0,
                              .events_topic = "ocpp-events-up",
                              .heartbeat_interval_s = 300,
                              .auth_policy = "accept-all",
                              .command_timeout_ms = command_timeout_ms,
                              .command_queue_max = queue_max,
                              .persist_timeout_ms = persist_timeout_ms,
                              .token_base = 1000};
    core_conn_ops_t ops = {.send = rec_send, .open_edge = rec_open_edge};
    core_conn_t *e = core_conn_new(&cfg, &ops, NULL);
    ck_assert_ptr_nonnull(e);
    return e;
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

static void command(core_conn_t *e, uint64_t token, const char *identity, const char *record,
                    uint64_t now)
{
    envelope_t env = {.type = ENV_COMMAND};
    env.u.command.token = token;
    env.u.command.identity = env_str(identity);
    env.u.command.command_id = env_str("cmd");
    env.u.command.record = (env_bin_t){(const uint8_t *)record, strlen(record)};
    core_conn_on_envelope(e, &env, now);
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
static core_conn_t *booted16(uint64_t persist_timeout_ms)
{
    core_conn_t *e = engine(persist_timeout_ms, 30000, 4);
    connect_(e, EDGE, 1, "CP1", "ocpp1.6", T0);
    frame(e, 1, BOOT16, T0);
    forget();
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
    /* disconnect: device.disconnected; no UNREGISTER without an epoch */
    forget();
    disconnect(e, 1, T0 + SEC);
    ck_assert_str_eq(only(ENV_EVENT)->what, "device.disconnected");
    ck_assert_uint_eq(n_of(ENV_UNREGISTER), 0);
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
    core_conn_t *e = engine(0, 30000, 4);
    envelope_t env = {.type = ENV_HELLO};
    env.u.hello.edge_id = env_str(EDGE);
    env.u.hello.endpoint = env_str("ipc:///tmp/edge-1.sock");
    R.open_rc = -EINVAL; /* failed: the next HELLO tries again */
    core_conn_on_envelope(e, &env, T0);
    ck_assert_int_eq(R.opened, 1);
    ck_assert_uint_eq(stats(e).edges, 0);
    R.open_rc = 0;
    core_conn_on_envelope(e, &env, T0);
    ck_assert_int_eq(R.opened, 2);
    ck_assert_str_eq(R.opened_edge, EDGE);
    ck_assert_str_eq(R.opened_endpoint, "ipc:///tmp/edge-1.sock");
    core_conn_on_envelope(e, &env, T0); /* known: nothing more */
    ck_assert_int_eq(R.opened, 2);
    ck_assert_uint_eq(stats(e).edges, 1);
    ck_assert_uint_eq(R.n, 0);
    core_conn_destroy(&e);
}
END_TEST

/* a frame for a connection core does not know: counted and dropped (for now) */
START_TEST(test_frame_for_unknown_connection)
{
    core_conn_t *e = engine(0, 30000, 4);
    uint64_t stale = counter(CORE_M_STALE_CONN);
    frame(e, 9, HEARTBEAT, T0);
    disconnect(e, 9, T0);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(counter(CORE_M_STALE_CONN), stale + 2);
    /* the same conn id on another edge is another connection */
    connect_(e, "edge-2", 9, "CP9", "ocpp1.6", T0);
    forget();
    frame(e, 9, HEARTBEAT, T0);
    ck_assert_uint_eq(R.n, 0);
    ck_assert_uint_eq(counter(CORE_M_STALE_CONN), stale + 3);
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
    R.bridge_rc = -EAGAIN; /* kafka-bridge stays full past send_timeout_ms */
    frame(e, 1, START16, T0);
    ck_assert(starts(only(ENV_SEND)->text, "[4,\"s1\",\"InternalError\""));
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

/* ---- core_timers ------------------------------------------------------------------------------
 */

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

int main(void)
{
    Suite *s = suite_create("core_conn");
    TCase *t = tcase_create("engine");
    tcase_add_test(t, test_connect_registers_and_publishes);
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
    tcase_add_test(t, test_command_refused);
    tcase_add_test(t, test_commands_when_connection_closes);
    tcase_add_test(t, test_responses_never_answered);
    tcase_add_test(t, test_timers_order_move_cancel);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    metrics_shutdown();
    return failed ? 1 : 0;
}
