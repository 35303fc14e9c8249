/* ocpp_core_bench: cost of what ocpp-core does with one typical MeterValues CALL.
 *
 * Stages, each timed over N iterations of the same message (1.6 and 2.0.1, six sampled
 * values: energy, power, three currents, voltage):
 *   parse     ocpp_frame_parse (jansson) of the WebSocket text
 *   validate  ocpp_schema_validate against the generated schema tables
 *   convert   core_action_handle (answer + event data) and the CloudEvents JSON with its id
 *   total     all three, plus the CALLRESULT text, as ocpp-core does per message
 * Usage: ocpp_core_bench [iterations]   (prints ns per message per stage) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_actions.h"
#include "core_event.h"
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

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    run("MeterValues 1.6", OCPP_V16, MV16, n);
    run("MeterValues 2.0.1", OCPP_V201, MV201, n);
    return 0;
}
