/* Unit tests for services/ocpp-core/unified_event (through core_action_handle, as main.c
 * calls it): the event type of every CALL a charge point can send in 1.6 and 2.0.1 (all the
 * valid request examples of ocpp_examples.json), the unified data of each kind (location,
 * statuses, samples and units, transactions), and the equivalence of a 1.6 and a 2.0.1
 * charging session; OCPP 2.1: the same events as 2.0.1 for every 2.0.1 example valid in 2.1,
 * its own types, its transaction members and event ids. With UNIFIED_EVENTS_OUT set, every event
 * built here is appended to that file (one CloudEvent per line):
 * tests/integration/test_unified_contract.sh validates them against the schemas of proto/unified/
 * with ajv. */
#include "core_actions.h"
#include "core_event.h"
#include "ocpp_schema.h"
#include "unified_event.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLES "tests/services/ocpp-core/ocpp_examples.json"
#define NOW      1767225600000000ULL /* 2026-01-01T00:00:00Z */

static FILE *out_file;

/* runs a CALL through core_action_handle and returns the event as built for Kafka (parsed) */
/* the transaction id core_conn claimed for a 1.6 StartTransaction */
#define TX16 505267201

static json_t *event_of(ocpp_version_t v, const char *action, const char *payload_text,
                        const json_t *payload_obj)
{
    json_t *payload =
        payload_obj ? json_incref((json_t *)payload_obj) : json_loads(payload_text, 0, NULL);
    ck_assert_msg(payload != NULL, "bad test payload %s", payload_text);
    core_action_ctx_t ctx = {.heartbeat_interval_s = 300, .now_us = NOW, .transaction_id = TX16};
    core_action_out_t out;
    core_action_handle(v, action, payload, &ctx, &out);
    ck_assert_ptr_nonnull(out.event_type);
    ck_assert_ptr_nonnull(out.event_data);
    core_event_t ev = {.type = out.event_type,
                       .identity = "CP-1",
                       .pod = "pod-a",
                       .version = v,
                       .action = action,
                       .message_id = "m-1",
                       .id = "0123456789abcdef0123456789abcdef",
                       .time_us = NOW,
                       .data = out.event_data};
    char *text = core_event_build(&ev);
    ck_assert_ptr_nonnull(text);
    if (out_file)
        fprintf(out_file, "%s\n", text);
    json_t *e = json_loads(text, 0, NULL);
    free(text);
    core_action_out_clear(&out);
    json_decref(payload);
    return e;
}

static const char *type_of(const json_t *e)
{
    return json_string_value(json_object_get(e, "type"));
}

static json_t *data_of(const json_t *e)
{
    return json_object_get(e, "data");
}

/* asserts that the JSON at a path ("a.b.0.c") of the event's data equals the JSON text */
static void expect(const json_t *e, const char *path, const char *want_text)
{
    const json_t *v = data_of(e);
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, (size_t)strtoul(k, NULL, 10))
                             : json_object_get(v, k);
    json_t *want = want_text ? json_loads(want_text, JSON_DECODE_ANY, NULL) : NULL;
    char *got = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    ck_assert_msg(want ? v && json_equal(v, want) : v == NULL, "%s %s: got %s, want %s", type_of(e),
                  path, got ? got : "(absent)", want_text ? want_text : "(absent)");
    free(got);
    json_decref(want);
}

/* ---- every action of both versions ----------------------------------------------------- */

static const char *expected_type(const char *version, const char *action, const json_t *p)
{
    static const char *const map[][2] = {
        {"BootNotification", "device.online"},
        {"Heartbeat", "heartbeat"},
        {"StatusNotification", "connector.status_changed"},
        {"Authorize", "authorization.requested"},
        {"StartTransaction", "transaction.started"},
        {"StopTransaction", "transaction.ended"},
        {"SecurityEventNotification", "security.event"},
        {"FirmwareStatusNotification", "firmware.status"},
        {"SignedFirmwareStatusNotification", "firmware.status"},
        {"PublishFirmwareStatusNotification", "firmware.status"},
        {"LogStatusNotification", "log.status"},
        {"DiagnosticsStatusNotification", "log.status"},
        {"DataTransfer", "data.transfer"},
        {"NotifyEvent", "device.event"},
        {"NotifyReport", "device.report"},
        {"NotifyDERAlarm", "der.alarm"},
        {"NotifyDERStartStop", "der.start_stop"},
        {"NotifyPeriodicEventStream", "device.event_stream"},
        {"BatterySwap", "battery.swap"},
        {"NotifySettlement", "payment.settlement"},
    };
    if (strcmp(action, "MeterValues") == 0)
        return strcmp(version, "1.6") == 0 && json_object_get(p, "transactionId")
                   ? "transaction.updated"
                   : "meter.values";
    if (strcmp(action, "TransactionEvent") == 0) {
        const char *k = json_string_value(json_object_get(p, "eventType"));
        return strcmp(k, "Started") == 0 ? "transaction.started"
               : strcmp(k, "Ended") == 0 ? "transaction.ended"
                                         : "transaction.updated";
    }
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i][0], action) == 0)
            return map[i][1];
    return "ocpp.message";
}

START_TEST(test_every_action)
{
    json_error_t jerr;
    json_t *doc = json_load_file(EXAMPLES, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s: %s", EXAMPLES, jerr.text);
    size_t i, n = 0, unified = 0;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        const char *version = json_string_value(json_object_get(c, "version"));
        const char *action = json_string_value(json_object_get(c, "action"));
        if (!json_is_null(json_object_get(c, "error")) ||
            strcmp(json_string_value(json_object_get(c, "message")), "request") != 0)
            continue;
        /* 2.1 examples (the generator makes them) go the same way */
        ocpp_version_t v = strcmp(version, "1.6") == 0     ? OCPP_V16
                           : strcmp(version, "2.0.1") == 0 ? OCPP_V201
                                                           : OCPP_V21;
        const ocpp_schema_msg_t *msg = ocpp_schema_find(v, action);
        ck_assert_ptr_nonnull(msg);
        const json_t *p = json_object_get(c, "payload");
        json_t *e = event_of(v, action, NULL, p);
        const char *want = expected_type(version, action, p);
        if (msg->direction == OS_FROM_CSMS)
            want = "ocpp.message"; /* refused with NotImplemented, still an event */
        ck_assert_msg(strcmp(type_of(e), want) == 0, "%s %s (%s): %s, want %s", version, action,
                      json_string_value(json_object_get(c, "why")), type_of(e), want);
        /* exactly one event, with the ocpp member */
        char want_version[16];
        snprintf(want_version, sizeof(want_version), "\"%s\"", version);
        expect(e, "ocpp.version", want_version);
        ck_assert_str_eq(
            json_string_value(json_object_get(json_object_get(data_of(e), "ocpp"), "action")),
            action);
        json_decref(e);
        n++;
        unified += strcmp(want, "ocpp.message") != 0;
    }
    ck_assert_int_gt(n, 200);
    ck_assert_int_gt(unified, 60);
    json_decref(doc);
}
END_TEST

/* ---- data of each kind -------------------------------------------------------------------- */

START_TEST(test_status)
{
    json_t *e = event_of(OCPP_V16, "StatusNotification",
                         "{\"connectorId\":2,\"errorCode\":\"NoError\",\"status\":\"Charging\","
                         "\"timestamp\":\"2026-01-01T00:00:00Z\"}",
                         NULL);
    ck_assert_str_eq(type_of(e), "connector.status_changed");
    expect(e, "location", "{\"evse_id\":2,\"connector_id\":1}");
    expect(e, "status", "\"occupied\"");
    expect(e, "status_detail", "\"charging\"");
    expect(e, "error_code", NULL);
    json_decref(e);
    e = event_of(OCPP_V16, "StatusNotification",
                 "{\"connectorId\":0,\"errorCode\":\"GroundFailure\",\"status\":\"Faulted\"}",
                 NULL);
    expect(e, "location", "{\"evse_id\":0}");
    expect(e, "status", "\"faulted\"");
    expect(e, "error_code", "\"GroundFailure\"");
    json_decref(e);
    e = event_of(OCPP_V201, "StatusNotification",
                 "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"connectorStatus\":\"Occupied\","
                 "\"evseId\":2,\"connectorId\":1}",
                 NULL);
    expect(e, "location", "{\"evse_id\":2,\"connector_id\":1}");
    expect(e, "status", "\"occupied\"");
    expect(e, "status_detail", NULL);
    expect(e, "ocpp",
           "{\"version\":\"2.0.1\",\"action\":\"StatusNotification\","
           "\"message_id\":\"m-1\"}");
    json_decref(e);
    /* the vocabulary */
    ck_assert_str_eq(unified_status("SuspendedEVSE"), "occupied");
    ck_assert_str_eq(unified_status("Reserved"), "reserved");
    ck_assert_str_eq(unified_status("Unavailable"), "unavailable");
    ck_assert_str_eq(unified_status("Available"), "available");
    ck_assert_ptr_null(unified_status("Bogus"));
}
END_TEST

START_TEST(test_meter_units)
{
    /* 1.6: strings become numbers, kWh -> Wh, the default unit of energy is Wh */
    json_t *e = event_of(
        OCPP_V16, "MeterValues",
        "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"2026-01-01T00:00:00Z\","
        "\"sampledValue\":[{\"value\":\"12.345\",\"unit\":\"kWh\"},"
        "{\"value\":\"7.4\",\"measurand\":\"Power.Active.Import\",\"unit\":\"kW\"},"
        "{\"value\":\"16\",\"measurand\":\"Current.Import\",\"phase\":\"L1\",\"unit\":\"A\"},"
        "{\"value\":\"230.5\",\"measurand\":\"Voltage\",\"phase\":\"L1-N\"},"
        "{\"value\":\"100\"},"
        "{\"value\":\"abc\",\"measurand\":\"Voltage\"},"
        "{\"value\":\"0A1B\",\"format\":\"SignedData\"}]}]}",
        NULL);
    ck_assert_str_eq(type_of(e), "meter.values");
    expect(e, "location", "{\"evse_id\":1,\"connector_id\":1}");
    expect(e, "samples.0",
           "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"measurand\":"
           "\"Energy.Active.Import.Register\",\"context\":\"Sample.Periodic\","
           "\"meter_location\":\"Outlet\",\"value\":12345,\"unit\":\"Wh\"}");
    expect(e, "samples.1.value", "7400");
    expect(e, "samples.1.unit", "\"W\"");
    expect(e, "samples.2.phase", "\"L1\"");
    expect(e, "samples.2.value", "16");
    expect(e, "samples.3.value", "230.5");
    expect(e, "samples.3.unit", "\"V\"");
    expect(e, "samples.4.value", "100");
    expect(e, "samples.4.unit", "\"Wh\"");
    expect(e, "samples.5.value", "null");
    expect(e, "samples.5.value_text", "\"abc\"");
    expect(e, "samples.6.signed.data", "\"0A1B\"");
    json_decref(e);
    /* 2.0.1: numbers with multipliers */
    e = event_of(OCPP_V201, "MeterValues",
                 "{\"evseId\":1,\"meterValue\":[{\"timestamp\":\"2026-01-01T00:00:00Z\","
                 "\"sampledValue\":[{\"value\":12.345,\"unitOfMeasure\":{\"unit\":\"kWh\"}},"
                 "{\"value\":74,\"measurand\":\"Power.Active.Import\","
                 "\"unitOfMeasure\":{\"unit\":\"W\",\"multiplier\":2}},"
                 "{\"value\":16.5,\"measurand\":\"Current.Import\",\"phase\":\"L2\"}]}]}",
                 NULL);
    ck_assert_str_eq(type_of(e), "meter.values");
    expect(e, "location", "{\"evse_id\":1}");
    expect(e, "samples.0.value", "12345");
    expect(e, "samples.0.unit", "\"Wh\"");
    expect(e, "samples.1.value", "7400");
    expect(e, "samples.2.value", "16.5");
    expect(e, "samples.2.unit", "\"A\"");
    json_decref(e);
}
END_TEST

START_TEST(test_misc_types)
{
    json_t *e = event_of(OCPP_V16, "Authorize", "{\"idTag\":\"TAG1\"}", NULL);
    expect(e, "id_token", "{\"id\":\"TAG1\"}");
    json_decref(e);
    e = event_of(OCPP_V201, "Authorize",
                 "{\"idToken\":{\"idToken\":\"TAG1\",\"type\":\"ISO14443\"}}", NULL);
    expect(e, "id_token", "{\"id\":\"TAG1\",\"type\":\"ISO14443\"}");
    json_decref(e);
    e = event_of(OCPP_V16, "DiagnosticsStatusNotification", "{\"status\":\"UploadFailed\"}", NULL);
    ck_assert_str_eq(type_of(e), "log.status");
    expect(e, "status", "\"UploadFailure\"");
    json_decref(e);
    e = event_of(OCPP_V201, "FirmwareStatusNotification",
                 "{\"status\":\"Installed\",\"requestId\":4}", NULL);
    expect(e, "status", "\"Installed\"");
    expect(e, "request_id", "4");
    expect(e, "operation", "\"update\"");
    json_decref(e);
    e = event_of(OCPP_V16, "SecurityEventNotification",
                 "{\"type\":\"ResetOrReboot\",\"timestamp\":\"2026-01-01T00:00:00Z\","
                 "\"techInfo\":\"x\"}",
                 NULL);
    expect(e, "critical", "true");
    expect(e, "tech_info", "\"x\"");
    json_decref(e);
    e = event_of(OCPP_V16, "DataTransfer", "{\"vendorId\":\"acme\",\"data\":\"hello\"}", NULL);
    expect(e, "vendor_id", "\"acme\"");
    expect(e, "data", "\"hello\"");
    json_decref(e);
    e = event_of(OCPP_V201, "NotifyEvent",
                 "{\"generatedAt\":\"2026-01-01T00:00:00Z\",\"seqNo\":0,\"eventData\":[{"
                 "\"eventId\":1,\"timestamp\":\"2026-01-01T00:00:00Z\",\"trigger\":\"Delta\","
                 "\"actualValue\":\"Faulted\",\"eventNotificationType\":\"HardWiredNotification\","
                 "\"component\":{\"name\":\"Connector\",\"evse\":{\"id\":1,\"connectorId\":1}},"
                 "\"variable\":{\"name\":\"AvailabilityState\"}}]}",
                 NULL);
    ck_assert_str_eq(type_of(e), "device.event");
    expect(e, "to_be_continued", "false");
    expect(e, "events.0.actual_value", "\"Faulted\"");
    expect(e, "events.0.component.location", "{\"evse_id\":1,\"connector_id\":1}");
    json_decref(e);
    e = event_of(OCPP_V201, "BootNotification",
                 "{\"reason\":\"PowerUp\",\"chargingStation\":{\"model\":\"M\",\"vendorName\":"
                 "\"V\",\"modem\":{\"iccid\":\"123\"}}}",
                 NULL);
    expect(e, "vendor", "\"V\"");
    expect(e, "modem", "{\"iccid\":\"123\"}");
    expect(e, "reason", "\"PowerUp\"");
    json_decref(e);
    /* refused CALL: still one event, with the payload */
    e = event_of(OCPP_V16, "NoSuchAction", "{\"a\":1}", NULL);
    ck_assert_str_eq(type_of(e), "ocpp.message");
    expect(e, "action", "\"NoSuchAction\"");
    expect(e, "payload", "{\"a\":1}");
    json_decref(e);
}
END_TEST

/* ---- one charging session in both versions ---------------------------------------------- */

static const char *const SESSION_16[][2] = {
    {"BootNotification", "{\"chargePointVendor\":\"V\",\"chargePointModel\":\"M\"}"},
    {"StatusNotification", "{\"connectorId\":1,\"errorCode\":\"NoError\",\"status\":\"Preparing\","
                           "\"timestamp\":\"2026-01-01T00:00:00Z\"}"},
    {"Authorize", "{\"idTag\":\"TAG1\"}"},
    {"StartTransaction", "{\"connectorId\":1,\"idTag\":\"TAG1\",\"meterStart\":1000,"
                         "\"timestamp\":\"2026-01-01T00:00:00Z\"}"},
    {"MeterValues",
     "{\"connectorId\":1,\"transactionId\":TXID,\"meterValue\":[{\"timestamp\":"
     "\"2026-01-01T00:01:00Z\",\"sampledValue\":[{\"value\":\"1.5\",\"unit\":\"kWh\","
     "\"measurand\":\"Energy.Active.Import.Register\"},{\"value\":\"7400\",\"measurand\":"
     "\"Power.Active.Import\",\"unit\":\"W\"}]}]}"},
    {"StopTransaction", "{\"transactionId\":TXID,\"idTag\":\"TAG1\",\"meterStop\":2500,"
                        "\"timestamp\":\"2026-01-01T00:02:00Z\",\"reason\":\"EVDisconnected\"}"},
};

static const char *const SESSION_201[][2] = {
    {"BootNotification",
     "{\"reason\":\"PowerUp\",\"chargingStation\":{\"model\":\"M\",\"vendorName\":\"V\"}}"},
    {"StatusNotification", "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"connectorStatus\":"
                           "\"Occupied\",\"evseId\":1,\"connectorId\":1}"},
    {"Authorize", "{\"idToken\":{\"idToken\":\"TAG1\",\"type\":\"ISO14443\"}}"},
    {"TransactionEvent",
     "{\"eventType\":\"Started\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"triggerReason\":"
     "\"Authorized\",\"seqNo\":0,\"transactionInfo\":{\"transactionId\":\"TXID\"},\"idToken\":{"
     "\"idToken\":\"TAG1\",\"type\":\"ISO14443\"},\"evse\":{\"id\":1,\"connectorId\":1},"
     "\"meterValue\":[{\"timestamp\":\"2026-01-01T00:00:00Z\",\"sampledValue\":[{\"value\":1,"
     "\"context\":\"Transaction.Begin\",\"unitOfMeasure\":{\"unit\":\"kWh\"}}]}]}"},
    {"TransactionEvent",
     "{\"eventType\":\"Updated\",\"timestamp\":\"2026-01-01T00:01:00Z\",\"triggerReason\":"
     "\"MeterValuePeriodic\",\"seqNo\":1,\"transactionInfo\":{\"transactionId\":\"TXID\","
     "\"chargingState\":\"Charging\"},\"evse\":{\"id\":1,\"connectorId\":1},\"meterValue\":[{"
     "\"timestamp\":\"2026-01-01T00:01:00Z\",\"sampledValue\":[{\"value\":1500,\"measurand\":"
     "\"Energy.Active.Import.Register\"},{\"value\":7.4,\"measurand\":\"Power.Active.Import\","
     "\"unitOfMeasure\":{\"unit\":\"kW\"}}]}]}"},
    {"TransactionEvent",
     "{\"eventType\":\"Ended\",\"timestamp\":\"2026-01-01T00:02:00Z\",\"triggerReason\":"
     "\"EVCommunicationLost\",\"seqNo\":2,\"transactionInfo\":{\"transactionId\":\"TXID\","
     "\"stoppedReason\":\"EVDisconnected\"},\"idToken\":{\"idToken\":\"TAG1\",\"type\":"
     "\"ISO14443\"},\"meterValue\":[{\"timestamp\":\"2026-01-01T00:02:00Z\",\"sampledValue\":[{"
     "\"value\":2500,\"context\":\"Transaction.End\"}]}]}"},
};

/* members only one version has (docs/unified-model.md, "version-only members") */
static void strip_version_only(json_t *d)
{
    static const char *const only[] = {"ocpp",           "reason",         "status_detail",
                                       "trigger_reason", "seq_no",         "charging_state",
                                       "transaction_id", "remote_start_id"};
    for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++)
        json_object_del(d, only[i]);
    json_object_del(json_object_get(d, "id_token"), "type");
}

START_TEST(test_equivalent_sessions)
{
    char tx16[24];
    ck_assert_int_eq(sizeof(SESSION_16) / sizeof(SESSION_16[0]),
                     sizeof(SESSION_201) / sizeof(SESSION_201[0]));
    snprintf(tx16, sizeof(tx16), "%lld", (long long)TX16);
    for (size_t i = 0; i < sizeof(SESSION_16) / sizeof(SESSION_16[0]); i++) {
        char a[1024], b[1024];
        /* the 1.6 transactionId is the gateway's; 2.0.1 uses the station's */
        const char *t = SESSION_16[i][1];
        const char *x = strstr(t, "TXID");
        if (x)
            snprintf(a, sizeof(a), "%.*s%s%s", (int)(x - t), t, tx16, x + 4);
        else
            snprintf(a, sizeof(a), "%s", t);
        snprintf(b, sizeof(b), "%s", SESSION_201[i][1]);
        json_t *e16 = event_of(OCPP_V16, SESSION_16[i][0], a, NULL);
        json_t *e201 = event_of(OCPP_V201, SESSION_201[i][0], b, NULL);
        ck_assert_str_eq(type_of(e16), type_of(e201));
        json_t *d16 = data_of(e16), *d201 = data_of(e201);
        ck_assert_ptr_nonnull(json_object_get(d16, "ocpp"));
        strip_version_only(d16);
        strip_version_only(d201);
        char *s16 = json_dumps(d16, JSON_SORT_KEYS | JSON_COMPACT);
        char *s201 = json_dumps(d201, JSON_SORT_KEYS | JSON_COMPACT);
        ck_assert_msg(json_equal(d16, d201), "%s:\n 1.6   %s\n 2.0.1 %s", type_of(e16), s16, s201);
        free(s16);
        free(s201);
        json_decref(e16);
        json_decref(e201);
    }
}
END_TEST

/* ---- OCPP 2.1 --------------------------------------------------------------------------- */

/* the 2.1 payload must be valid against the official 2.1 schema before it tells anything */
static json_t *event_21(const char *action, const char *payload_text)
{
    json_t *p = json_loads(payload_text, 0, NULL);
    ck_assert_msg(p != NULL, "bad test payload %s", payload_text);
    ocpp_verr_t err;
    const ocpp_schema_msg_t *msg = ocpp_schema_find(OCPP_V21, action);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(ocpp_schema_validate(msg, 0, p, &err) == 0, "2.1 %s: %s", action, err.why);
    json_t *e = event_of(OCPP_V21, action, NULL, p);
    expect(e, "ocpp.version", "\"2.1\"");
    json_decref(p);
    return e;
}

/* every valid 2.0.1 request example that is also valid 2.1 gives the same event from a 2.1
 * station: same type, same data but the version */
START_TEST(test_21_as_201)
{
    json_t *doc = json_load_file(EXAMPLES, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    size_t i, same = 0, unified = 0;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        const char *action = json_string_value(json_object_get(c, "action"));
        if (strcmp(json_string_value(json_object_get(c, "version")), "2.0.1") != 0 ||
            !json_is_null(json_object_get(c, "error")) ||
            strcmp(json_string_value(json_object_get(c, "message")), "request") != 0)
            continue;
        const ocpp_schema_msg_t *m21 = ocpp_schema_find(OCPP_V21, action);
        const json_t *p = json_object_get(c, "payload");
        ocpp_verr_t err;
        if (!m21 || m21->direction == OS_FROM_CSMS || ocpp_schema_validate(m21, 0, p, &err) < 0)
            continue;
        json_t *e201 = event_of(OCPP_V201, action, NULL, p);
        json_t *e21 = event_of(OCPP_V21, action, NULL, p);
        ck_assert_str_eq(type_of(e21), type_of(e201));
        json_t *d201 = data_of(e201), *d21 = data_of(e21);
        json_object_del(d201, "ocpp");
        json_object_del(d21, "ocpp");
        char *a = json_dumps(d201, JSON_COMPACT | JSON_SORT_KEYS);
        char *b = json_dumps(d21, JSON_COMPACT | JSON_SORT_KEYS);
        ck_assert_msg(json_equal(d201, d21), "%s: 2.0.1 %s\n2.1 %s", action, a, b);
        free(a);
        free(b);
        same++;
        unified += strcmp(type_of(e21), "ocpp.message") != 0;
        json_decref(e201);
        json_decref(e21);
    }
    ck_assert_int_gt(same, 80); /* of 2.0.1's station messages, nearly all are valid 2.1 */
    ck_assert_int_gt(unified, 40);
    json_decref(doc);
}
END_TEST

#define TS "\"2026-01-01T00:00:00Z\""

START_TEST(test_21_types)
{
    json_t *e =
        event_21("NotifyDERAlarm", "{\"controlType\":\"HVMustTrip\",\"gridEventFault\":"
                                   "\"OverVoltage\",\"timestamp\":" TS ",\"extraInfo\":\"253 V\"}");
    ck_assert_str_eq(type_of(e), "der.alarm");
    expect(e, "control_type", "\"HVMustTrip\"");
    expect(e, "grid_event_fault", "\"OverVoltage\"");
    expect(e, "alarm_ended", "false"); /* absent: raised */
    expect(e, "extra_info", "\"253 V\"");
    expect(e, "timestamp", TS);
    json_decref(e);
    e = event_21("NotifyDERAlarm",
                 "{\"controlType\":\"FreqDroop\",\"alarmEnded\":true,\"timestamp\":" TS "}");
    expect(e, "alarm_ended", "true");
    expect(e, "grid_event_fault", NULL);
    json_decref(e);
    e = event_21("NotifyDERStartStop", "{\"controlId\":\"der-7\",\"started\":true,\"timestamp\":" TS
                                       ",\"supersededIds\":[\"der-6\"]}");
    ck_assert_str_eq(type_of(e), "der.start_stop");
    expect(e, "control_id", "\"der-7\"");
    expect(e, "started", "true");
    expect(e, "superseded_ids", "[\"der-6\"]");
    json_decref(e);
    e = event_21("NotifyPeriodicEventStream",
                 "{\"id\":3,\"pending\":0,\"basetime\":" TS
                 ",\"data\":[{\"t\":0,\"v\":\"230.1\"},{\"t\":0.5,\"v\":\"229.8\"}]}");
    ck_assert_str_eq(type_of(e), "device.event_stream");
    expect(e, "stream_id", "3");
    expect(e, "pending", "0");
    expect(e, "basetime", TS);
    expect(e, "values",
           "[{\"offset_s\":0,\"value\":\"230.1\"},{\"offset_s\":0.5,\"value\":"
           "\"229.8\"}]");
    json_decref(e);
    e = event_21("BatterySwap",
                 "{\"eventType\":\"BatteryOut\",\"requestId\":12,\"idToken\":{\"idToken\":\"TAG1\","
                 "\"type\":\"ISO14443\"},\"batteryData\":[{\"evseId\":2,\"serialNumber\":\"B-1\","
                 "\"soC\":81.5,\"soH\":97,\"productionDate\":" TS "}]}");
    ck_assert_str_eq(type_of(e), "battery.swap");
    expect(e, "event_type", "\"BatteryOut\"");
    expect(e, "request_id", "12");
    expect(e, "id_token", "{\"id\":\"TAG1\",\"type\":\"ISO14443\"}");
    expect(e, "batteries",
           "[{\"location\":{\"evse_id\":2},\"serial_number\":\"B-1\",\"soc\":81.5,"
           "\"soh\":97,\"production_date\":" TS "}]");
    json_decref(e);
    e = event_21("NotifySettlement",
                 "{\"transactionId\":\"T9\",\"pspRef\":\"psp-42\",\"status\":\"Settled\","
                 "\"settlementAmount\":12.34,\"settlementTime\":" TS
                 ",\"receiptUrl\":\"https://r.example/42\",\"vatCompany\":{\"name\":\"ACME\","
                 "\"address1\":\"Main St 1\",\"city\":\"Utrecht\",\"postalCode\":\"1234\","
                 "\"country\":\"NL\"}}");
    ck_assert_str_eq(type_of(e), "payment.settlement");
    expect(e, "psp_ref", "\"psp-42\"");
    expect(e, "status", "\"Settled\"");
    expect(e, "amount", "12.34");
    expect(e, "transaction_id", "\"T9\"");
    expect(e, "receipt_url", "\"https://r.example/42\"");
    expect(e, "vat_company.postal_code", "\"1234\"");
    json_decref(e);
    /* sent by the CSMS, not a station event: refused, still one ocpp.message */
    e = event_of(OCPP_V21, "NotifyWebPaymentStarted", "{\"evseId\":1,\"timeout\":60}", NULL);
    ck_assert_str_eq(type_of(e), "ocpp.message");
    json_decref(e);
    /* 2.1 messages without a unified type */
    e = event_21("NotifyPriorityCharging", "{\"transactionId\":\"T9\",\"activated\":true}");
    ck_assert_str_eq(type_of(e), "ocpp.message");
    expect(e, "action", "\"NotifyPriorityCharging\"");
    json_decref(e);
    /* the new statusInfo of status notifications */
    e = event_21("FirmwareStatusNotification",
                 "{\"status\":\"InstallationFailed\",\"requestId\":4,\"statusInfo\":{"
                 "\"reasonCode\":\"NoSpace\",\"additionalInfo\":\"disk full\"}}");
    ck_assert_str_eq(type_of(e), "firmware.status");
    expect(e, "status_info", "{\"reason_code\":\"NoSpace\",\"additional_info\":\"disk full\"}");
    json_decref(e);
}
END_TEST

/* a 2.1 transaction: the 2.0.1 shape, the 2.1 members, signed meter data of 2.1's size */
START_TEST(test_21_transaction)
{
    enum {
        SIGNED = 16 * 1024
    };
    char *sig = malloc(SIGNED + 1);
    for (int i = 0; i < SIGNED; i++)
        sig[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"[i % 32];
    sig[SIGNED] = '\0';
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    fprintf(f, "{\"eventType\":\"Ended\",\"timestamp\":" TS ",\"triggerReason\":\"EVDeparted\","
               "\"seqNo\":9,\"transactionInfo\":{\"transactionId\":\"T21\",\"stoppedReason\":"
               "\"ReqEnergyTransferRejected\",\"tariffId\":\"t-1\",\"operationMode\":"
               "\"CentralSetpoint\",\"transactionLimit\":{\"maxEnergy\":20000,\"maxSoC\":80}},"
               "\"evse\":{\"id\":1,\"connectorId\":1},\"preconditioningStatus\":\"Ready\","
               "\"evseSleep\":false,\"costDetails\":{\"totalCost\":{\"currency\":\"EUR\","
               "\"typeOfCost\":\"NormalCost\",\"total\":{\"inclTax\":6.05}},\"totalUsage\":{"
               "\"energy\":12345,\"chargingTime\":3600,\"idleTime\":60}},\"meterValue\":[{"
               "\"timestamp\":" TS ",\"sampledValue\":[");
    for (int k = 0; k < 2; k++)
        fprintf(f,
                "%s{\"value\":%d,\"context\":\"Transaction.End\",\"measurand\":"
                "\"Energy.Active.Import.Register\",\"signedMeterValue\":{\"signedMeterData\":"
                "\"%s\",\"encodingMethod\":\"OCMF\"}}",
                k ? "," : "", 12345 + k, sig);
    fprintf(f, "]}]}");
    fclose(f);
    ck_assert_int_gt((int)n, 32 * 1024);
    json_t *e = event_21("TransactionEvent", text);
    ck_assert_str_eq(type_of(e), "transaction.ended");
    expect(e, "transaction_id", "\"T21\"");
    expect(e, "stopped_reason", "\"ReqEnergyTransferRejected\"");
    expect(e, "meter_wh", "12345");
    expect(e, "tariff_id", "\"t-1\"");
    expect(e, "operation_mode", "\"CentralSetpoint\"");
    expect(e, "transaction_limit", "{\"max_energy\":20000,\"max_soc\":80}");
    expect(e, "cost_details.total_cost.total", "{\"incl_tax\":6.05}");
    expect(e, "cost_details.total_usage.energy", "12345");
    expect(e, "preconditioning_status", "\"Ready\"");
    expect(e, "evse_sleep", "false");
    expect(e, "samples.1.signed.encoding", "\"OCMF\"");
    expect(e, "samples.1.signed.method", NULL); /* optional in 2.1 */
    const json_t *data = json_object_get(
        json_object_get(json_array_get(json_object_get(data_of(e), "samples"), 1), "signed"),
        "data");
    ck_assert_str_eq(json_string_value(data), sig);
    json_decref(e);
    free(text);
    free(sig);
}
END_TEST

/* event ids (DESIGN §3): 2.1 takes the 2.0.1 keys; the new types have theirs */
static void id_of(ocpp_version_t v, const char *action, const char *payload, char *out)
{
    json_t *p = json_loads(payload, 0, NULL);
    ck_assert_ptr_nonnull(p);
    if (!core_event_natural_id("CP-1", v, action, p, out))
        out[0] = '\0';
    json_decref(p);
}

START_TEST(test_21_event_ids)
{
    char a[CORE_EVENT_ID_LEN + 1], b[CORE_EVENT_ID_LEN + 1];
    const char *tx = "{\"eventType\":\"Updated\",\"timestamp\":" TS ",\"triggerReason\":"
                     "\"MeterValuePeriodic\",\"seqNo\":3,\"transactionInfo\":{\"transactionId\":"
                     "\"T1\"}}";
    id_of(OCPP_V201, "TransactionEvent", tx, a);
    id_of(OCPP_V21, "TransactionEvent", tx, b);
    ck_assert_int_eq((int)strlen(b), CORE_EVENT_ID_LEN);
    ck_assert_str_eq(a, b); /* the same key: transactionId, seqNo */
    const char *st = "{\"timestamp\":" TS ",\"connectorStatus\":\"Occupied\",\"evseId\":1,"
                     "\"connectorId\":1}";
    id_of(OCPP_V21, "StatusNotification", st, a);
    ck_assert_int_eq((int)strlen(a), CORE_EVENT_ID_LEN);
    /* DER alarm: raised and ended are two occurrences, a resend is one */
    id_of(OCPP_V21, "NotifyDERAlarm", "{\"controlType\":\"FreqDroop\",\"timestamp\":" TS "}", a);
    id_of(OCPP_V21, "NotifyDERAlarm",
          "{\"controlType\":\"FreqDroop\",\"timestamp\":" TS ",\"alarmEnded\":true}", b);
    ck_assert_int_eq((int)strlen(a), CORE_EVENT_ID_LEN);
    ck_assert_str_ne(a, b);
    id_of(OCPP_V21, "NotifyDERAlarm",
          "{\"timestamp\":" TS ",\"controlType\":\"FreqDroop\",\"extraInfo\":\"resent\"}", b);
    ck_assert_str_eq(a, b);
    id_of(OCPP_V21, "NotifyDERStartStop",
          "{\"controlId\":\"d\",\"started\":true,\"timestamp\":" TS "}", a);
    id_of(OCPP_V21, "NotifyDERStartStop",
          "{\"controlId\":\"d\",\"started\":false,\"timestamp\":" TS "}", b);
    ck_assert_int_eq((int)strlen(a), CORE_EVENT_ID_LEN);
    ck_assert_str_ne(a, b);
    id_of(OCPP_V21, "BatterySwap", "{\"requestId\":1,\"eventType\":\"BatteryOut\"}", a);
    id_of(OCPP_V21, "BatterySwap", "{\"requestId\":1,\"eventType\":\"BatteryIn\"}", b);
    ck_assert_int_eq((int)strlen(a), CORE_EVENT_ID_LEN);
    ck_assert_str_ne(a, b);
    id_of(OCPP_V21, "NotifySettlement",
          "{\"pspRef\":\"p\",\"status\":\"Settled\",\"settlementTime\":" TS "}", a);
    ck_assert_int_eq((int)strlen(a), CORE_EVENT_ID_LEN);
    /* a stream message (a SEND, never resent) is an occurrence; 2.1-only keys not in 2.0.1 */
    id_of(OCPP_V21, "NotifyPeriodicEventStream",
          "{\"id\":1,\"pending\":0,\"basetime\":" TS ",\"data\":[]}", a);
    ck_assert_str_eq(a, "");
    id_of(OCPP_V201, "NotifyDERAlarm", "{\"controlType\":\"FreqDroop\",\"timestamp\":" TS "}", a);
    ck_assert_str_eq(a, "");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("unified_event");
    TCase *t = tcase_create("unified");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_every_action);
    tcase_add_test(t, test_status);
    tcase_add_test(t, test_meter_units);
    tcase_add_test(t, test_misc_types);
    tcase_add_test(t, test_equivalent_sessions);
    tcase_add_test(t, test_21_as_201);
    tcase_add_test(t, test_21_types);
    tcase_add_test(t, test_21_transaction);
    tcase_add_test(t, test_21_event_ids);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    const char *path = getenv("UNIFIED_EVENTS_OUT");
    if (path && *path)
        out_file = fopen(path, "w");
    SRunner *r = srunner_create(suite());
    srunner_set_fork_status(r, CK_NOFORK); /* one output file for all tests */
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    if (out_file)
        fclose(out_file);
    return failed ? 1 : 0;
}
