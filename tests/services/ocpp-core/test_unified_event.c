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
#include <stdbool.h>
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

#define TS "\"2026-01-01T00:00:00Z\""

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

/* one CALL and what its event must be: built by event_21 (2.1 station messages) or event_of */
typedef struct {
    ocpp_version_t v;
    bool from_csms; /* 2.1: a CSMS message, not checked against the station's schema first */
    const char *action, *payload;
    const char *type;        /* the event type; NULL: not checked */
    const char *want[14][2]; /* data path and JSON (NULL: absent), up to the first NULL path */
} event_case_t;

/* the event of c, its type and data checked (the caller frees it) */
static json_t *checked(const event_case_t *c)
{
    json_t *e = c->v == OCPP_V21 && !c->from_csms ? event_21(c->action, c->payload)
                                                  : event_of(c->v, c->action, c->payload, NULL);
    if (c->type)
        ck_assert_str_eq(type_of(e), c->type);
    for (size_t k = 0; k < sizeof(c->want) / sizeof(c->want[0]) && c->want[k][0]; k++)
        expect(e, c->want[k][0], c->want[k][1]);
    return e;
}

static void check_events(const event_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(checked(&cases[i]));
}

/* the examples of ocpp_examples.json */
static json_t *examples(void)
{
    json_error_t jerr;
    json_t *doc = json_load_file(EXAMPLES, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s: %s", EXAMPLES, jerr.text);
    return doc;
}

/* whether example c is a valid request (of version, unless NULL) */
static bool valid_request(const json_t *c, const char *version)
{
    return (!version || strcmp(json_string_value(json_object_get(c, "version")), version) == 0) &&
           json_is_null(json_object_get(c, "error")) &&
           strcmp(json_string_value(json_object_get(c, "message")), "request") == 0;
}

/* a and b (of versions va and vb) have the same type and, once strip removed what is one
 * version's only, the same data */
static void expect_same_event(json_t *a, json_t *b, const char *what, const char *va,
                              const char *vb, void (*strip)(json_t *d))
{
    ck_assert_str_eq(type_of(a), type_of(b));
    json_t *da = data_of(a), *db = data_of(b);
    strip(da);
    strip(db);
    char *sa = json_dumps(da, JSON_SORT_KEYS | JSON_COMPACT);
    char *sb = json_dumps(db, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(da, db), "%s:\n %-5s %s\n %-5s %s", what, va, sa, vb, sb);
    free(sa);
    free(sb);
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
    json_t *doc = examples();
    size_t i, n = 0, unified = 0;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        const char *version = json_string_value(json_object_get(c, "version"));
        const char *action = json_string_value(json_object_get(c, "action"));
        if (!valid_request(c, NULL))
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
    static const event_case_t cases[] = {
        {OCPP_V16,
         false,
         "StatusNotification",
         "{\"connectorId\":2,\"errorCode\":\"NoError\",\"status\":\"Charging\",\"timestamp\":" TS
         "}",
         "connector.status_changed",
         {{"location", "{\"evse_id\":2,\"connector_id\":1}"},
          {"status", "\"occupied\""},
          {"status_detail", "\"charging\""},
          {"error_code", NULL}}},
        {OCPP_V16,
         false,
         "StatusNotification",
         "{\"connectorId\":0,\"errorCode\":\"GroundFailure\",\"status\":\"Faulted\"}",
         NULL,
         {{"location", "{\"evse_id\":0}"},
          {"status", "\"faulted\""},
          {"error_code", "\"GroundFailure\""}}},
        {OCPP_V201,
         false,
         "StatusNotification",
         "{\"timestamp\":" TS ",\"connectorStatus\":\"Occupied\",\"evseId\":2,\"connectorId\":1}",
         NULL,
         {{"location", "{\"evse_id\":2,\"connector_id\":1}"},
          {"status", "\"occupied\""},
          {"status_detail", NULL},
          {"ocpp",
           "{\"version\":\"2.0.1\",\"action\":\"StatusNotification\",\"message_id\":\"m-1\"}"}}},
    };
    check_events(cases, sizeof(cases) / sizeof(cases[0]));
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
    static const event_case_t cases[] = {
        /* 1.6: strings become numbers, kWh -> Wh, the default unit of energy is Wh */
        {OCPP_V16,
         false,
         "MeterValues",
         "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":" TS ",\"sampledValue\":["
         "{\"value\":\"12.345\",\"unit\":\"kWh\"},"
         "{\"value\":\"7.4\",\"measurand\":\"Power.Active.Import\",\"unit\":\"kW\"},"
         "{\"value\":\"16\",\"measurand\":\"Current.Import\",\"phase\":\"L1\",\"unit\":\"A\"},"
         "{\"value\":\"230.5\",\"measurand\":\"Voltage\",\"phase\":\"L1-N\"},"
         "{\"value\":\"100\"},"
         "{\"value\":\"abc\",\"measurand\":\"Voltage\"},"
         "{\"value\":\"0A1B\",\"format\":\"SignedData\"}]}]}",
         "meter.values",
         {{"location", "{\"evse_id\":1,\"connector_id\":1}"},
          {"samples.0", "{\"timestamp\":" TS ",\"measurand\":\"Energy.Active.Import.Register\","
                        "\"context\":\"Sample.Periodic\",\"meter_location\":\"Outlet\","
                        "\"value\":12345,\"unit\":\"Wh\"}"},
          {"samples.1.value", "7400"},
          {"samples.1.unit", "\"W\""},
          {"samples.2.phase", "\"L1\""},
          {"samples.2.value", "16"},
          {"samples.3.value", "230.5"},
          {"samples.3.unit", "\"V\""},
          {"samples.4.value", "100"},
          {"samples.4.unit", "\"Wh\""},
          {"samples.5.value", "null"},
          {"samples.5.value_text", "\"abc\""},
          {"samples.6.signed.data", "\"0A1B\""}}},
        /* 2.0.1: numbers with multipliers */
        {OCPP_V201,
         false,
         "MeterValues",
         "{\"evseId\":1,\"meterValue\":[{\"timestamp\":" TS ",\"sampledValue\":["
         "{\"value\":12.345,\"unitOfMeasure\":{\"unit\":\"kWh\"}},"
         "{\"value\":74,\"measurand\":\"Power.Active.Import\","
         "\"unitOfMeasure\":{\"unit\":\"W\",\"multiplier\":2}},"
         "{\"value\":16.5,\"measurand\":\"Current.Import\",\"phase\":\"L2\"}]}]}",
         "meter.values",
         {{"location", "{\"evse_id\":1}"},
          {"samples.0.value", "12345"},
          {"samples.0.unit", "\"Wh\""},
          {"samples.1.value", "7400"},
          {"samples.2.value", "16.5"},
          {"samples.2.unit", "\"A\""}}},
    };
    check_events(cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

START_TEST(test_misc_types)
{
    static const event_case_t cases[] = {
        {OCPP_V16,
         false,
         "Authorize",
         "{\"idTag\":\"TAG1\"}",
         NULL,
         {{"id_token", "{\"id\":\"TAG1\"}"}}},
        {OCPP_V201,
         false,
         "Authorize",
         "{\"idToken\":{\"idToken\":\"TAG1\",\"type\":\"ISO14443\"}}",
         NULL,
         {{"id_token", "{\"id\":\"TAG1\",\"type\":\"ISO14443\"}"}}},
        {OCPP_V16,
         false,
         "DiagnosticsStatusNotification",
         "{\"status\":\"UploadFailed\"}",
         "log.status",
         {{"status", "\"UploadFailure\""}}},
        {OCPP_V201,
         false,
         "FirmwareStatusNotification",
         "{\"status\":\"Installed\",\"requestId\":4}",
         NULL,
         {{"status", "\"Installed\""}, {"request_id", "4"}, {"operation", "\"update\""}}},
        {OCPP_V16,
         false,
         "SecurityEventNotification",
         "{\"type\":\"ResetOrReboot\",\"timestamp\":" TS ",\"techInfo\":\"x\"}",
         NULL,
         {{"critical", "true"}, {"tech_info", "\"x\""}}},
        {OCPP_V16,
         false,
         "DataTransfer",
         "{\"vendorId\":\"acme\",\"data\":\"hello\"}",
         NULL,
         {{"vendor_id", "\"acme\""}, {"data", "\"hello\""}}},
        {OCPP_V201,
         false,
         "NotifyEvent",
         "{\"generatedAt\":" TS ",\"seqNo\":0,\"eventData\":[{\"eventId\":1,\"timestamp\":" TS
         ",\"trigger\":\"Delta\",\"actualValue\":\"Faulted\",\"eventNotificationType\":"
         "\"HardWiredNotification\",\"component\":{\"name\":\"Connector\",\"evse\":{\"id\":1,"
         "\"connectorId\":1}},\"variable\":{\"name\":\"AvailabilityState\"}}]}",
         "device.event",
         {{"to_be_continued", "false"},
          {"events.0.actual_value", "\"Faulted\""},
          {"events.0.component.location", "{\"evse_id\":1,\"connector_id\":1}"}}},
        {OCPP_V201,
         false,
         "BootNotification",
         "{\"reason\":\"PowerUp\",\"chargingStation\":{\"model\":\"M\",\"vendorName\":\"V\","
         "\"modem\":{\"iccid\":\"123\"}}}",
         NULL,
         {{"vendor", "\"V\""}, {"modem", "{\"iccid\":\"123\"}"}, {"reason", "\"PowerUp\""}}},
        /* refused CALL: still one event, with the payload */
        {OCPP_V16,
         false,
         "NoSuchAction",
         "{\"a\":1}",
         "ocpp.message",
         {{"action", "\"NoSuchAction\""}, {"payload", "{\"a\":1}"}}},
    };
    check_events(cases, sizeof(cases) / sizeof(cases[0]));
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
        ck_assert_ptr_nonnull(json_object_get(data_of(e16), "ocpp"));
        expect_same_event(e16, e201, type_of(e16), "1.6", "2.0.1", strip_version_only);
        json_decref(e16);
        json_decref(e201);
    }
}
END_TEST

/* ---- OCPP 2.1 --------------------------------------------------------------------------- */

/* the ocpp member (the version) */
static void strip_ocpp(json_t *d)
{
    json_object_del(d, "ocpp");
}

/* every valid 2.0.1 request example that is also valid 2.1 gives the same event from a 2.1
 * station: same type, same data but the version */
START_TEST(test_21_as_201)
{
    json_t *doc = examples();
    size_t i, same = 0, unified = 0;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        const char *action = json_string_value(json_object_get(c, "action"));
        if (!valid_request(c, "2.0.1"))
            continue;
        const ocpp_schema_msg_t *m21 = ocpp_schema_find(OCPP_V21, action);
        const json_t *p = json_object_get(c, "payload");
        ocpp_verr_t err;
        if (!m21 || m21->direction == OS_FROM_CSMS || ocpp_schema_validate(m21, 0, p, &err) < 0)
            continue;
        json_t *e201 = event_of(OCPP_V201, action, NULL, p);
        json_t *e21 = event_of(OCPP_V21, action, NULL, p);
        expect_same_event(e201, e21, action, "2.0.1", "2.1", strip_ocpp);
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

START_TEST(test_21_types)
{
    static const event_case_t cases[] = {
        {OCPP_V21,
         false,
         "NotifyDERAlarm",
         "{\"controlType\":\"HVMustTrip\",\"gridEventFault\":\"OverVoltage\",\"timestamp\":" TS
         ",\"extraInfo\":\"253 V\"}",
         "der.alarm",
         {{"control_type", "\"HVMustTrip\""},
          {"grid_event_fault", "\"OverVoltage\""},
          {"alarm_ended", "false"}, /* absent: raised */
          {"extra_info", "\"253 V\""},
          {"timestamp", TS}}},
        {OCPP_V21,
         false,
         "NotifyDERAlarm",
         "{\"controlType\":\"FreqDroop\",\"alarmEnded\":true,\"timestamp\":" TS "}",
         NULL,
         {{"alarm_ended", "true"}, {"grid_event_fault", NULL}}},
        {OCPP_V21,
         false,
         "NotifyDERStartStop",
         "{\"controlId\":\"der-7\",\"started\":true,\"timestamp\":" TS
         ",\"supersededIds\":[\"der-6\"]}",
         "der.start_stop",
         {{"control_id", "\"der-7\""}, {"started", "true"}, {"superseded_ids", "[\"der-6\"]"}}},
        {OCPP_V21,
         false,
         "NotifyPeriodicEventStream",
         "{\"id\":3,\"pending\":0,\"basetime\":" TS
         ",\"data\":[{\"t\":0,\"v\":\"230.1\"},{\"t\":0.5,\"v\":\"229.8\"}]}",
         "device.event_stream",
         {{"stream_id", "3"},
          {"pending", "0"},
          {"basetime", TS},
          {"values",
           "[{\"offset_s\":0,\"value\":\"230.1\"},{\"offset_s\":0.5,\"value\":\"229.8\"}]"}}},
        {OCPP_V21,
         false,
         "BatterySwap",
         "{\"eventType\":\"BatteryOut\",\"requestId\":12,\"idToken\":{\"idToken\":\"TAG1\","
         "\"type\":\"ISO14443\"},\"batteryData\":[{\"evseId\":2,\"serialNumber\":\"B-1\","
         "\"soC\":81.5,\"soH\":97,\"productionDate\":" TS "}]}",
         "battery.swap",
         {{"event_type", "\"BatteryOut\""},
          {"request_id", "12"},
          {"id_token", "{\"id\":\"TAG1\",\"type\":\"ISO14443\"}"},
          {"batteries", "[{\"location\":{\"evse_id\":2},\"serial_number\":\"B-1\",\"soc\":81.5,"
                        "\"soh\":97,\"production_date\":" TS "}]"}}},
        {OCPP_V21,
         false,
         "NotifySettlement",
         "{\"transactionId\":\"T9\",\"pspRef\":\"psp-42\",\"status\":\"Settled\","
         "\"settlementAmount\":12.34,\"settlementTime\":" TS
         ",\"receiptUrl\":\"https://r.example/42\",\"vatCompany\":{\"name\":\"ACME\","
         "\"address1\":\"Main St 1\",\"city\":\"Utrecht\",\"postalCode\":\"1234\","
         "\"country\":\"NL\"}}",
         "payment.settlement",
         {{"psp_ref", "\"psp-42\""},
          {"status", "\"Settled\""},
          {"amount", "12.34"},
          {"transaction_id", "\"T9\""},
          {"receipt_url", "\"https://r.example/42\""},
          {"vat_company.postal_code", "\"1234\""}}},
        /* sent by the CSMS, not a station event: refused, still one ocpp.message */
        {OCPP_V21,
         true,
         "NotifyWebPaymentStarted",
         "{\"evseId\":1,\"timeout\":60}",
         "ocpp.message",
         {{NULL, NULL}}},
        /* 2.1 messages without a unified type */
        {OCPP_V21,
         false,
         "NotifyPriorityCharging",
         "{\"transactionId\":\"T9\",\"activated\":true}",
         "ocpp.message",
         {{"action", "\"NotifyPriorityCharging\""}}},
        /* the new statusInfo of status notifications */
        {OCPP_V21,
         false,
         "FirmwareStatusNotification",
         "{\"status\":\"InstallationFailed\",\"requestId\":4,\"statusInfo\":{\"reasonCode\":"
         "\"NoSpace\",\"additionalInfo\":\"disk full\"}}",
         "firmware.status",
         {{"status_info", "{\"reason_code\":\"NoSpace\",\"additional_info\":\"disk full\"}"}}},
    };
    check_events(cases, sizeof(cases) / sizeof(cases[0]));
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
    const event_case_t c = {OCPP_V21,
                            false,
                            "TransactionEvent",
                            text,
                            "transaction.ended",
                            {{"transaction_id", "\"T21\""},
                             {"stopped_reason", "\"ReqEnergyTransferRejected\""},
                             {"meter_wh", "12345"},
                             {"tariff_id", "\"t-1\""},
                             {"operation_mode", "\"CentralSetpoint\""},
                             {"transaction_limit", "{\"max_energy\":20000,\"max_soc\":80}"},
                             {"cost_details.total_cost.total", "{\"incl_tax\":6.05}"},
                             {"cost_details.total_usage.energy", "12345"},
                             {"preconditioning_status", "\"Ready\""},
                             {"evse_sleep", "false"},
                             {"samples.1.signed.encoding", "\"OCMF\""},
                             {"samples.1.signed.method", NULL}}}; /* optional in 2.1 */
    json_t *e = checked(&c);
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

/* two payloads of a 2.1 action are two occurrences: an id, another for the second (into a, b) */
static void two_occurrences(const char *action, const char *pa, const char *pb, char *a, char *b)
{
    id_of(OCPP_V21, action, pa, a);
    id_of(OCPP_V21, action, pb, b);
    ck_assert_int_eq((int)strlen(a), CORE_EVENT_ID_LEN);
    ck_assert_str_ne(a, b);
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
    two_occurrences("NotifyDERAlarm", "{\"controlType\":\"FreqDroop\",\"timestamp\":" TS "}",
                    "{\"controlType\":\"FreqDroop\",\"timestamp\":" TS ",\"alarmEnded\":true}", a,
                    b);
    id_of(OCPP_V21, "NotifyDERAlarm",
          "{\"timestamp\":" TS ",\"controlType\":\"FreqDroop\",\"extraInfo\":\"resent\"}", b);
    ck_assert_str_eq(a, b);
    two_occurrences("NotifyDERStartStop",
                    "{\"controlId\":\"d\",\"started\":true,\"timestamp\":" TS "}",
                    "{\"controlId\":\"d\",\"started\":false,\"timestamp\":" TS "}", a, b);
    two_occurrences("BatterySwap", "{\"requestId\":1,\"eventType\":\"BatteryOut\"}",
                    "{\"requestId\":1,\"eventType\":\"BatteryIn\"}", a, b);
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
