/* ocpp_core_bench: cost of what ocpp-core does with one typical MeterValues CALL.
 *
 * Stages, each timed over N iterations of the same message (1.6 and 2.0.1, six sampled
 * values: energy, power, three currents, voltage):
 *   parse     ocpp_frame_parse (jansson) of the WebSocket text
 *   validate  ocpp_schema_validate against the generated schema tables
 *   convert   core_action_handle (answer + event data) and the CloudEvents JSON with its id
 *   total     all three, plus the CALLRESULT text, as ocpp-core does per message
 * Usage: ocpp_core_bench [iterations]   (prints ns per message per stage)
 *
 * ocpp_core_bench engine KIND [n]: the whole per-message path of the core for one message kind,
 * as main.c runs it: the FRAME envelope decoded (msgpack), core_conn_on_envelope (parse, schema,
 * answer, unified event, CloudEvent, traceparent and ids), every envelope it sends encoded into
 * a reused msgpack buffer, core_conn_tick, and for a transaction message the EVENT_ACK that
 * releases its held CALLRESULT. Each of the n messages differs (timestamps, seqNo), so none is
 * a resend. KIND: mv16 (MeterValues in a transaction, 1.6), sn16 (StatusNotification), hb16
 * (Heartbeat), mv201 (MeterValues 2.0.1), sn201, hb201, te201 (TransactionEvent Updated with
 * meter values). Deterministic instructions per message (the machine is shared):
 *   valgrind --tool=callgrind --toggle-collect=engine_loop build/bench/ocpp_core_bench \
 *       engine mv16 2000   -> Ir of engine_loop / 2000 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_actions.h"
#include "core_conn.h"
#include "core_event.h"
#include "envelope.h"
#include "log.h"
#include "ocpp_frame.h"
#include "ocpp_schema.h"

static const char *MV16 =
    "[2,\"19223201\",\"MeterValues\",{\"connectorId\":1,\"transactionId\":731388881,"
    "\"meterValue\":[{\"timestamp\":\"2025-01-02T03:04:05.678Z\",\"sampledValue\":["
    "{\"value\":\"12345.6\",\"context\":\"Sample.Periodic\",\"measurand\":\"Energy.Active.Import."
    "Register\",\"location\":\"Outlet\",\"unit\":\"Wh\"},"
    "{\"value\":\"7360\",\"context\":\"Sample.Periodic\",\"measurand\":\"Power.Active.Import\","
    "\"location\":\"Outlet\",\"unit\":\"W\"},"
    "{\"value\":\"32.0\",\"context\":\"Sample.Periodic\",\"measurand\":\"Current.Import\","
    "\"phase\":\"L1\",\"unit\":\"A\"},"
    "{\"value\":\"31.8\",\"context\":\"Sample.Periodic\",\"measurand\":\"Current.Import\","
    "\"phase\":\"L2\",\"unit\":\"A\"},"
    "{\"value\":\"32.1\",\"context\":\"Sample.Periodic\",\"measurand\":\"Current.Import\","
    "\"phase\":\"L3\",\"unit\":\"A\"},"
    "{\"value\":\"230.2\",\"context\":\"Sample.Periodic\",\"measurand\":\"Voltage\","
    "\"phase\":\"L1-N\",\"unit\":\"V\"}]}]}]";

static const char *MV201 =
    "[2,\"19223202\",\"MeterValues\",{\"evseId\":1,\"meterValue\":[{\"timestamp\":"
    "\"2025-01-02T03:04:05.678Z\",\"sampledValue\":["
    "{\"value\":12345.6,\"context\":\"Sample.Periodic\",\"measurand\":\"Energy.Active.Import."
    "Register\",\"location\":\"Outlet\",\"unitOfMeasure\":{\"unit\":\"Wh\"}},"
    "{\"value\":7360,\"context\":\"Sample.Periodic\",\"measurand\":\"Power.Active.Import\","
    "\"location\":\"Outlet\",\"unitOfMeasure\":{\"unit\":\"W\"}},"
    "{\"value\":32.0,\"context\":\"Sample.Periodic\",\"measurand\":\"Current.Import\","
    "\"phase\":\"L1\",\"unitOfMeasure\":{\"unit\":\"A\"}},"
    "{\"value\":31.8,\"context\":\"Sample.Periodic\",\"measurand\":\"Current.Import\","
    "\"phase\":\"L2\",\"unitOfMeasure\":{\"unit\":\"A\"}},"
    "{\"value\":32.1,\"context\":\"Sample.Periodic\",\"measurand\":\"Current.Import\","
    "\"phase\":\"L3\",\"unitOfMeasure\":{\"unit\":\"A\"}},"
    "{\"value\":230.2,\"context\":\"Sample.Periodic\",\"measurand\":\"Voltage\","
    "\"phase\":\"L1-N\",\"unitOfMeasure\":{\"unit\":\"V\"}}]}]}]";

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile size_t sink;

static void convert(ocpp_version_t v, const ocpp_frame_t *f, int with_reply)
{
    core_action_ctx_t ctx = {.heartbeat_interval_s = 300, .now_us = 1735787045678000ULL};
    core_action_out_t out;
    core_action_handle(v, f->action, f->payload, &ctx, &out);
    char id[CORE_EVENT_ID_LEN + 1]; /* the id as the engine takes it (DESIGN §3) */
    if (!core_event_natural_id("CP-0001", v, f->action, f->payload, id)) {
        static core_idgen_t ids;
        core_idgen_event_id(&ids, id);
    }
    core_event_t ev = {.type = out.event_type,
                       .identity = "CP-0001",
                       .id = id,
                       .pod = "pod-a",
                       .version = v,
                       .action = f->action,
                       .message_id = f->message_id,
                       .time_us = ctx.now_us,
                       .data = out.event_data};
    char *text = core_event_build(&ev);
    sink += strlen(text);
    free(text);
    if (with_reply) {
        char *reply = ocpp_frame_callresult(f->message_id, out.response);
        sink += strlen(reply);
        free(reply);
    }
    core_action_out_clear(&out);
}

static void run(const char *name, ocpp_version_t v, const char *msg, long n)
{
    size_t len = strlen(msg);
    char why[160];
    ocpp_frame_t f;
    ocpp_verr_t e;
    const ocpp_schema_msg_t *schema = ocpp_schema_find(v, "MeterValues");
    /* correctness first: the message is valid */
    if (ocpp_frame_parse(msg, len, &f, why, sizeof(why)) ||
        ocpp_schema_validate(schema, 0, f.payload, &e)) {
        fprintf(stderr, "%s: benchmark message invalid: %s %s\n", name, why, e.why);
        exit(1);
    }
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ocpp_frame_t g;
        ocpp_frame_parse(msg, len, &g, why, sizeof(why));
        ocpp_frame_clear(&g);
    }
    double parse = (now_ns() - t0) / (double)n;
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        sink += (size_t)ocpp_schema_validate(schema, 0, f.payload, &e);
    double validate = (now_ns() - t0) / (double)n;
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        convert(v, &f, 0);
    double conv = (now_ns() - t0) / (double)n;
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ocpp_frame_t g;
        ocpp_frame_parse(msg, len, &g, why, sizeof(why));
        ocpp_schema_validate(schema, 0, g.payload, &e);
        convert(v, &g, 1);
        ocpp_frame_clear(&g);
    }
    double total = (now_ns() - t0) / (double)n;
    ocpp_frame_clear(&f);
    printf("%-18s parse %7.0f ns  validate %7.0f ns  convert %7.0f ns  "
           "validate+convert %7.0f ns  total %7.0f ns  (%zu bytes)\n",
           name, parse, validate, conv, validate + conv, total, len);
}

/* ---- engine mode ---------------------------------------------------------------------------- */

static msgpack_sbuffer out_buf; /* every envelope the engine sends, encoded as the outbox does */
static uint64_t last_token;     /* token of the last EVENT that asks for an ack */
static size_t sent_envelopes;

static int bench_send(void *arg, core_peer_t to, const char *edge_id, const envelope_t *env,
                      outbox_policy_t policy)
{
    (void)arg, (void)to, (void)edge_id, (void)policy;
    out_buf.size = 0;
    if (envelope_encode(env, &out_buf) < 0)
        return -EINVAL;
    if (env->type == ENV_EVENT && env->u.event.token)
        last_token = env->u.event.token;
    sent_envelopes++;
    return 0;
}

static int bench_open_edge(void *arg, const char *edge_id, const char *endpoint)
{
    (void)arg, (void)edge_id, (void)endpoint;
    return 0;
}

/* the i-th message of a kind: its timestamp (and seqNo) differ from every other one's */
static int message_text(const char *kind, long i, char *out, size_t outlen)
{
    char ts[40];
    snprintf(ts, sizeof(ts), "2025-01-02T%02ld:%02ld:%02ld.%03ldZ", (i / 3600000) % 24,
             (i / 60000) % 60, (i / 1000) % 60, i % 1000);
    if (strcmp(kind, "mv16") == 0 || strcmp(kind, "mv201") == 0) {
        /* the MeterValues of the micro-benchmark with this message's timestamp */
        const char *tpl = strcmp(kind, "mv16") == 0 ? MV16 : MV201;
        const char *at = strstr(tpl, "2025-01-02T03:04:05.678Z");
        return snprintf(out, outlen, "%.*s%s%s", (int)(at - tpl), tpl, ts, at + strlen(ts));
    }
    if (strcmp(kind, "sn16") == 0)
        return snprintf(out, outlen,
                        "[2,\"%ld\",\"StatusNotification\",{\"connectorId\":1,\"errorCode\":"
                        "\"NoError\",\"status\":\"Charging\",\"timestamp\":\"%s\"}]",
                        i, ts);
    if (strcmp(kind, "sn201") == 0)
        return snprintf(out, outlen,
                        "[2,\"%ld\",\"StatusNotification\",{\"timestamp\":\"%s\","
                        "\"connectorStatus\":\"Occupied\",\"evseId\":1,\"connectorId\":1}]",
                        i, ts);
    if (strcmp(kind, "hb16") == 0 || strcmp(kind, "hb201") == 0)
        return snprintf(out, outlen, "[2,\"%ld\",\"Heartbeat\",{}]", i);
    if (strcmp(kind, "te201") == 0)
        return snprintf(
            out, outlen,
            "[2,\"%ld\",\"TransactionEvent\",{\"eventType\":\"Updated\",\"timestamp\":\"%s\","
            "\"triggerReason\":\"MeterValuePeriodic\",\"seqNo\":%ld,\"transactionInfo\":{"
            "\"transactionId\":\"tx-0001\",\"chargingState\":\"Charging\"},\"evse\":{\"id\":1,"
            "\"connectorId\":1},\"meterValue\":[{\"timestamp\":\"%s\",\"sampledValue\":["
            "{\"value\":12345.6,\"measurand\":\"Energy.Active.Import.Register\","
            "\"unitOfMeasure\":{\"unit\":\"Wh\"}},{\"value\":7360,\"measurand\":"
            "\"Power.Active.Import\",\"unitOfMeasure\":{\"unit\":\"W\"}},{\"value\":32.0,"
            "\"measurand\":\"Current.Import\",\"phase\":\"L1\",\"unitOfMeasure\":{\"unit\":"
            "\"A\"}}]}]}]",
            i, ts, i, ts);
    return -1;
}

typedef struct {
    msgpack_sbuffer *frames; /* n FRAME envelopes, encoded */
    long n;
} frames_t;

/* the measured loop (callgrind --toggle-collect=engine_loop) */
__attribute__((noinline)) void engine_loop(core_conn_t *core, const frames_t *fr, uint64_t now);
__attribute__((noinline)) void engine_loop(core_conn_t *core, const frames_t *fr, uint64_t now)
{
    for (long i = 0; i < fr->n; i++) {
        envelope_t env;
        if (envelope_decode((const uint8_t *)fr->frames[i].data, fr->frames[i].size, &env) < 0)
            abort();
        last_token = 0;
        core_conn_on_envelope(core, &env, now);
        if (last_token) { /* kafka-bridge acks the event: the held answer goes out */
            envelope_t ack = {.type = ENV_EVENT_ACK};
            ack.u.event_ack.token = last_token;
            core_conn_on_envelope(core, &ack, now);
        }
        core_conn_tick(core, now);
        now += 1000;
    }
}

static int engine(const char *kind, long n)
{
    int v16 = strstr(kind, "16") != NULL;
    core_conn_config_t cfg = {.pod_id = "pod-a",
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
                              .persist_timeout_ms = 10000,
                              .unrouted_queue_max = 8,
                              .unrouted_queue_ms = 2000,
                              .token_base = 1000};
    core_conn_ops_t ops = {.send = bench_send, .open_edge = bench_open_edge};
    core_conn_t *core = core_conn_new(&cfg, &ops, NULL);
    if (!core)
        return 1;
    msgpack_sbuffer_init(&out_buf);
    uint64_t now = 1735787045678000ULL;
    envelope_t env = {.type = ENV_HELLO};
    env.u.hello.edge_id = env_str("edge-1");
    env.u.hello.endpoint = env_str("ipc:///tmp/bench-edge.sock");
    env.u.hello.instance = 1;
    core_conn_on_envelope(core, &env, now);
    env = (envelope_t){.type = ENV_CONNECT};
    env.u.connect.edge_id = env_str("edge-1");
    env.u.connect.conn_id = 1;
    env.u.connect.identity = env_str("CP-0001");
    env.u.connect.subprotocol = env_str(v16 ? "ocpp1.6" : "ocpp2.0.1");
    env.u.connect.peer = env_str("127.0.0.1:5000");
    env.u.connect.boot_state = env_str("accepted");
    env.u.connect.at_us = now;
    core_conn_on_envelope(core, &env, now);
    frames_t fr = {.frames = calloc((size_t)n, sizeof(msgpack_sbuffer)), .n = n};
    char text[4096];
    for (long i = 0; i < n; i++) {
        int len = message_text(kind, i, text, sizeof(text));
        if (len < 0 || (size_t)len >= sizeof(text)) {
            fprintf(stderr, "unknown kind %s\n", kind);
            return 2;
        }
        env = (envelope_t){.type = ENV_FRAME};
        env.u.frame.edge_id = env_str("edge-1");
        env.u.frame.conn_id = 1;
        env.u.frame.identity = env_str("CP-0001");
        env.u.frame.data = (env_bin_t){(const uint8_t *)text, (size_t)len};
        env.u.frame.at_us = now;
        msgpack_sbuffer_init(&fr.frames[i]);
        envelope_encode(&env, &fr.frames[i]);
    }
    size_t before = sent_envelopes;
    double t0 = now_ns();
    engine_loop(core, &fr, now);
    double ns = (now_ns() - t0) / (double)n;
    core_conn_stats_t st;
    core_conn_stats(core, &st);
    printf("engine %-6s %7.0f ns/message  %.2f envelopes sent per message  held %zu\n", kind, ns,
           (double)(sent_envelopes - before) / (double)n, st.held);
    for (long i = 0; i < n; i++)
        msgpack_sbuffer_destroy(&fr.frames[i]);
    free(fr.frames);
    msgpack_sbuffer_destroy(&out_buf);
    core_conn_destroy(&core);
    return st.held ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "engine") == 0) {
        log_set_level(LOG_ERROR);
        return engine(argv[2], argc > 3 ? strtol(argv[3], NULL, 10) : 20000);
    }
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    run("MeterValues 1.6", OCPP_V16, MV16, n);
    run("MeterValues 2.0.1", OCPP_V201, MV201, n);
    return 0;
}
