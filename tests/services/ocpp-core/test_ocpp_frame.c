/* Unit tests for services/ocpp-core/ocpp_frame, core_event and core_actions: framing, error
 * spelling per version, deterministic event ids, CloudEvents output. No sockets. */
#include "core_actions.h"
#include "core_event.h"
#include "ocpp_frame.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static ocpp_error_t parse(const char *text, ocpp_frame_t *f)
{
    char why[160];
    return ocpp_frame_parse(text, strlen(text), f, why, sizeof(why));
}

START_TEST(test_call_parsed)
{
    ocpp_frame_t f;
    ck_assert_int_eq(parse("[2,\"19223201\",\"BootNotification\",{\"a\":1}]", &f), OCPP_ERR_NONE);
    ck_assert_int_eq(f.type, OCPP_CALL);
    ck_assert_str_eq(f.message_id, "19223201");
    ck_assert_str_eq(f.action, "BootNotification");
    ck_assert_int_eq(json_integer_value(json_object_get(f.payload, "a")), 1);
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("[3,\"x\",{}]", &f), OCPP_ERR_NONE);
    ck_assert_int_eq(f.type, OCPP_CALLRESULT);
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("[4,\"x\",\"NotImplemented\",\"no\",{}]", &f), OCPP_ERR_NONE);
    ck_assert_str_eq(f.error_code, "NotImplemented");
    ocpp_frame_clear(&f);
}
END_TEST

START_TEST(test_malformed)
{
    ocpp_frame_t f;
    ck_assert_int_eq(parse("not json", &f), OCPP_ERR_RPC_FRAMEWORK);
    ck_assert_str_eq(f.message_id, ""); /* nothing to answer to */
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("{\"a\":1}", &f), OCPP_ERR_RPC_FRAMEWORK);
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("[2,\"id1\",\"Heartbeat\"]", &f), OCPP_ERR_RPC_FRAMEWORK);
    ck_assert_str_eq(f.message_id, "id1"); /* id known: a CallError can be sent */
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("[2,\"id1\",\"Heartbeat\",[]]", &f), OCPP_ERR_FORMAT);
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("[7,\"id1\",{}]", &f), OCPP_ERR_MESSAGE_TYPE);
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("[2,\"0123456789012345678901234567890123456\",\"H\",{}]", &f),
                     OCPP_ERR_RPC_FRAMEWORK); /* 37 characters */
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("[2,\"a\",\"H\",{\"k\":1,\"k\":2}]", &f), OCPP_ERR_RPC_FRAMEWORK);
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("[2,\"a\",\"H\",{\"k\":\"\xff\"}]", &f), OCPP_ERR_RPC_FRAMEWORK);
    /* a malformed response says what it was, so it is never answered */
    ck_assert_int_eq(parse("[3,\"r1\",[]]", &f), OCPP_ERR_FORMAT);
    ck_assert_int_eq(f.type, OCPP_CALLRESULT);
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("[4,\"r1\",\"X\"]", &f), OCPP_ERR_FORMAT);
    ck_assert_int_eq(f.type, OCPP_CALLERROR);
    ocpp_frame_clear(&f);
    /* 2.1 frames parse (callers refuse them unless ocpp2.1 was negotiated) */
    ck_assert_int_eq(parse("[6,\"s1\",\"NotifyPeriodicEventStream\",{}]", &f), OCPP_ERR_NONE);
    ck_assert_int_eq(f.type, OCPP_SEND);
    ocpp_frame_clear(&f);
    ck_assert_int_eq(parse("[5,\"s1\",\"FormatViolation\",\"bad\",{}]", &f), OCPP_ERR_NONE);
    ck_assert_int_eq(f.type, OCPP_CALLRESULTERROR);
    ocpp_frame_clear(&f);
}
END_TEST

START_TEST(test_error_spelling)
{
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_FORMAT, OCPP_V16), "FormationViolation");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_FORMAT, OCPP_V201), "FormatViolation");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_OCCURRENCE, OCPP_V16),
                     "OccurenceConstraintViolation");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_OCCURRENCE, OCPP_V201),
                     "OccurrenceConstraintViolation");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_MESSAGE_TYPE, OCPP_V201), "MessageTypeNotSupported");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_RPC_FRAMEWORK, OCPP_V201), "RpcFrameworkError");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_TYPE, OCPP_V16), "TypeConstraintViolation");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_RPC_FRAMEWORK, OCPP_V16), "FormationViolation");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_MESSAGE_TYPE, OCPP_V16), "FormationViolation");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_PROPERTY, OCPP_V16), "PropertyConstraintViolation");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_PROPERTY, OCPP_V201), "PropertyConstraintViolation");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_SECURITY, OCPP_V201), "SecurityError");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_NOT_IMPLEMENTED, OCPP_V16), "NotImplemented");
}
END_TEST

START_TEST(test_replies)
{
    json_t *p = json_pack("{s:s}", "status", "Accepted");
    char *r = ocpp_frame_callresult("m1", p);
    ck_assert_str_eq(r, "[3,\"m1\",{\"status\":\"Accepted\"}]");
    free(r);
    json_decref(p);
    r = ocpp_frame_callerror("m2", "NotImplemented", "say \"what\"");
    ck_assert_str_eq(r, "[4,\"m2\",\"NotImplemented\",\"say \\\"what\\\"\",{}]");
    free(r);
    r = ocpp_frame_callresulterror("m3", "FormatViolation", "bad");
    ck_assert_str_eq(r, "[5,\"m3\",\"FormatViolation\",\"bad\",{}]");
    free(r);
    /* 2.1 spells error codes as 2.0.1 does */
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_OCCURRENCE, OCPP_V21),
                     "OccurrenceConstraintViolation");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_RPC_FRAMEWORK, OCPP_V21), "RpcFrameworkError");
    ck_assert_str_eq(ocpp_error_code(OCPP_ERR_FORMAT, OCPP_V21), "FormatViolation");
}
END_TEST

/* the natural id of a CALL's event, "" when it has none */
static void natural(const char *identity, ocpp_version_t v, const char *action, const char *payload,
                    char out[CORE_EVENT_ID_LEN + 1])
{
    json_t *p = json_loads(payload, 0, NULL);
    ck_assert_ptr_nonnull(p);
    if (!core_event_natural_id(identity, v, action, p, out))
        out[0] = '\0';
    json_decref(p);
}

/* DESIGN §3: a natural idempotency key where the message has one, never the message id nor the
 * rest of the content; none for boots, heartbeats, Authorize, untimed statuses */
START_TEST(test_event_natural_id)
{
    char a[CORE_EVENT_ID_LEN + 1], b[CORE_EVENT_ID_LEN + 1];
    const char *start = "{\"connectorId\":1,\"idTag\":\"T1\",\"meterStart\":0,"
                        "\"timestamp\":\"2026-01-01T00:00:00Z\"}";
    natural("CP1", OCPP_V16, "StartTransaction", start, a);
    ck_assert_uint_eq(strlen(a), CORE_EVENT_ID_LEN);
    /* the same start with another meterStart is still the same start */
    natural("CP1", OCPP_V16, "StartTransaction",
            "{\"connectorId\":1,\"idTag\":\"T1\",\"meterStart\":5,"
            "\"timestamp\":\"2026-01-01T00:00:00Z\"}",
            b);
    ck_assert_str_eq(a, b);
    natural("CP2", OCPP_V16, "StartTransaction", start, b); /* another station */
    ck_assert_str_ne(a, b);
    natural("CP1", OCPP_V16, "StartTransaction",
            "{\"connectorId\":2,\"idTag\":\"T1\",\"meterStart\":0,"
            "\"timestamp\":\"2026-01-01T00:00:00Z\"}",
            b);
    ck_assert_str_ne(a, b);
    /* 2.0.1 TransactionEvent: transactionId + seqNo, whatever else changes */
    natural(
        "CP1", OCPP_V201, "TransactionEvent",
        "{\"eventType\":\"Updated\",\"seqNo\":3,\"timestamp\":\"2026-01-01T00:00:00Z\","
        "\"triggerReason\":\"MeterValuePeriodic\",\"transactionInfo\":{\"transactionId\":\"t1\"}}",
        a);
    natural(
        "CP1", OCPP_V201, "TransactionEvent",
        "{\"eventType\":\"Updated\",\"seqNo\":3,\"timestamp\":\"2026-01-01T00:00:09Z\","
        "\"triggerReason\":\"MeterValuePeriodic\",\"transactionInfo\":{\"transactionId\":\"t1\"}}",
        b);
    ck_assert_str_eq(a, b);
    natural(
        "CP1", OCPP_V201, "TransactionEvent",
        "{\"eventType\":\"Updated\",\"seqNo\":4,\"timestamp\":\"2026-01-01T00:00:00Z\","
        "\"triggerReason\":\"MeterValuePeriodic\",\"transactionInfo\":{\"transactionId\":\"t1\"}}",
        b);
    ck_assert_str_ne(a, b);
    /* 1.6 MeterValues: with a transaction only, told apart by the samples' timestamps */
    const char *mv = "{\"connectorId\":1,\"transactionId\":7,\"meterValue\":[{\"timestamp\":"
                     "\"2026-01-01T00:00:00Z\",\"sampledValue\":[{\"value\":\"1\"}]}]}";
    natural("CP1", OCPP_V16, "MeterValues", mv, a);
    ck_assert_uint_eq(strlen(a), CORE_EVENT_ID_LEN);
    natural("CP1", OCPP_V16, "MeterValues",
            "{\"connectorId\":1,\"transactionId\":7,\"meterValue\":[{\"timestamp\":"
            "\"2026-01-01T00:00:10Z\",\"sampledValue\":[{\"value\":\"1\"}]}]}",
            b);
    ck_assert_str_ne(a, b);
    natural("CP1", OCPP_V16, "MeterValues",
            "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"2026-01-01T00:00:00Z\","
            "\"sampledValue\":[{\"value\":\"1\"}]}]}",
            a);
    ck_assert_str_eq(a, "");
    /* a 1.6 status with a timestamp has a key, one without has none */
    natural("CP1", OCPP_V16, "StatusNotification",
            "{\"connectorId\":1,\"errorCode\":\"NoError\",\"status\":\"Available\","
            "\"timestamp\":\"2026-01-01T00:00:00Z\"}",
            a);
    ck_assert_uint_eq(strlen(a), CORE_EVENT_ID_LEN);
    natural("CP1", OCPP_V16, "StatusNotification",
            "{\"connectorId\":1,\"errorCode\":\"NoError\",\"status\":\"Available\"}", a);
    ck_assert_str_eq(a, "");
    /* occurrences: no key */
    natural("CP1", OCPP_V16, "BootNotification",
            "{\"chargePointVendor\":\"V\",\"chargePointModel\":\"M\"}", a);
    ck_assert_str_eq(a, "");
    natural("CP1", OCPP_V16, "Heartbeat", "{}", a);
    ck_assert_str_eq(a, "");
    natural("CP1", OCPP_V16, "Authorize", "{\"idTag\":\"T1\"}", a);
    ck_assert_str_eq(a, "");
}
END_TEST

/* ids of occurrences never repeat, and differ between keys; traceparents are W3C */
START_TEST(test_idgen_and_traceparent)
{
    unsigned char key[32] = {1}, other[32] = {2};
    core_idgen_t g, h;
    core_idgen_init(&g, key);
    core_idgen_init(&h, other);
    char a[CORE_EVENT_ID_LEN + 1], b[CORE_EVENT_ID_LEN + 1];
    core_idgen_event_id(&g, a);
    core_idgen_event_id(&g, b);
    ck_assert_uint_eq(strlen(a), CORE_EVENT_ID_LEN);
    ck_assert_str_ne(a, b);
    core_idgen_event_id(&h, b);
    ck_assert_str_ne(a, b);
    char tp[CORE_TRACEPARENT_LEN + 1], tp2[CORE_TRACEPARENT_LEN + 1];
    core_idgen_traceparent(&g, tp);
    core_idgen_traceparent(&g, tp2);
    ck_assert_uint_eq(strlen(tp), CORE_TRACEPARENT_LEN);
    ck_assert(strncmp(tp, "00-", 3) == 0 && strcmp(tp + 52, "-01") == 0);
    ck_assert_str_ne(tp, tp2);
    ck_assert(core_traceparent_valid(tp, strlen(tp)));
    const char *ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    ck_assert(core_traceparent_valid(ok, strlen(ok)));
    const char *bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!core_traceparent_valid(bad[i], strlen(bad[i])), "valid: %s", bad[i]);
    ck_assert(!core_traceparent_valid(NULL, 0));
    /* a later version may be longer */
    const char *v1 = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
    ck_assert(core_traceparent_valid(v1, strlen(v1)));
}
END_TEST

START_TEST(test_cloudevent)
{
    json_t *data = json_pack("{s:s}", "vendor", "V");
    core_event_t ev = {.type = "device.online",
                       .identity = "CP1",
                       .pod = "pod-a",
                       .version = OCPP_V16,
                       .action = "BootNotification",
                       .message_id = "m1",
                       .id = "0123456789abcdef0123456789abcdef",
                       .time_us = 1795489741315551ULL,
                       .data = data};
    char *text = core_event_build(&ev);
    json_t *root = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(root, "specversion")), "1.0");
    ck_assert_str_eq(json_string_value(json_object_get(root, "type")), "device.online");
    ck_assert_str_eq(json_string_value(json_object_get(root, "subject")), "CP1");
    ck_assert_str_eq(json_string_value(json_object_get(root, "source")), "/ocppgw/pod-a");
    ck_assert_str_eq(json_string_value(json_object_get(root, "time")), "2026-11-24T03:09:01.315Z");
    ck_assert_str_eq(json_string_value(json_object_get(root, "dataschema")),
                     "https://ocppgw.example/unified/event-device.online.json");
    json_t *d = json_object_get(root, "data");
    ck_assert_str_eq(json_string_value(json_object_get(d, "vendor")), "V");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "ocpp"), "version")),
                     "1.6");
    /* the caller's data is not modified */
    ck_assert_ptr_null(json_object_get(data, "ocpp"));
    json_decref(root);
    free(text);
    /* strings are escaped; raw is appended; empty data */
    json_t *raw = json_pack("{s:i}", "connectorId", 1);
    json_t *empty = json_object();
    ev.identity = "C\"P\\1\n";
    ev.action = "Boot\"";
    ev.data = empty;
    ev.raw = raw;
    text = core_event_build(&ev);
    root = json_loads(text, 0, NULL);
    ck_assert_msg(root != NULL, "not JSON: %s", text);
    ck_assert_str_eq(json_string_value(json_object_get(root, "subject")), "C\"P\\1\n");
    d = json_object_get(root, "data");
    ck_assert(json_equal(json_object_get(d, "raw"), raw));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "ocpp"), "action")),
                     "Boot\"");
    json_decref(raw);
    json_decref(empty);
    json_decref(root);
    json_decref(data);
    free(text);
}
END_TEST

/* the CloudEvent is written in one pass (issue 15): its data has the bytes of jansson's
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS), data.raw those of json_dumps(JSON_COMPACT) */
START_TEST(test_cloudevent_bytes)
{
    json_t *data = json_loads(
        "{\"z\":[1,-2,3.5,0.1,1e-7,1e300,-0.0,31.8,12345.6,7360.0,{}, []],\"a\":{\"y\":true,"
        "\"b\":false,\"n\":null},\"s\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f"
        "\\u00e9\\u20ac\\ud83d\\ude00\",\"m\":9223372036854775807,\"\":\"empty key\"}",
        0, NULL);
    json_t *raw =
        json_loads("{\"zeta\":1,\"alpha\":[0.5,\"x\"],\"mid\":{\"b\":1,\"a\":2}}", 0, NULL);
    ck_assert_ptr_nonnull(data);
    ck_assert_ptr_nonnull(raw);
    core_event_t ev = {.type = "t",
                       .identity = "CP1",
                       .pod = "p",
                       .id = "0123456789abcdef0123456789abcdef",
                       .time_us = 1795489741315551ULL,
                       .data = data};
    char *text = core_event_build(&ev);
    char *want = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    size_t tl = strlen(text), wl = strlen(want);
    ck_assert_uint_gt(tl, wl + 9);
    ck_assert_msg(memcmp(text + tl - wl - 9, "\"data\":", 7) == 0 ||
                      memcmp(text + tl - wl - 8, "\"data\":", 7) == 0,
                  "%s", text);
    ck_assert_msg(memcmp(text + tl - wl - 1, want, wl) == 0, "%s\nwant %s", text, want);
    ck_assert_int_eq(text[tl - 1], '}');
    free(text);
    free(want);
    ev.data = NULL;
    ev.raw = raw;
    text = core_event_build(&ev);
    char *r = json_dumps(raw, JSON_COMPACT);
    char tail[256];
    snprintf(tail, sizeof(tail), "\"data\":{\"raw\":%s}}", r);
    ck_assert_msg(strstr(text, tail) && strlen(strstr(text, tail)) == strlen(tail), "%s", text);
    free(text);
    free(r);
    /* a raw that is not a container was left out by json_dumps, and still is */
    json_t *num = json_integer(5);
    ev.raw = num;
    text = core_event_build(&ev);
    ck_assert_ptr_nonnull(strstr(text, "\"data\":{}}"));
    free(text);
    json_decref(num);
    /* a real jansson cannot write fails the build as before */
    json_t *bad = json_pack("{s:f}", "x", 0.0 / 0.0);
    if (bad) {
        ev.raw = NULL;
        ev.data = bad;
        ck_assert_ptr_null(core_event_build(&ev));
        json_decref(bad);
    }
    json_decref(data);
    json_decref(raw);
}
END_TEST

START_TEST(test_boot_answer)
{
    core_action_ctx_t ctx = {.heartbeat_interval_s = 120, .now_us = 1795489741315551ULL};
    core_action_out_t out;
    json_t *p = json_pack("{s:s,s:s}", "chargePointVendor", "V", "chargePointModel", "M");
    core_action_handle(OCPP_V16, "BootNotification", p, &ctx, &out);
    ck_assert_int_eq(out.err, OCPP_ERR_NONE);
    ck_assert_str_eq(json_string_value(json_object_get(out.response, "status")), "Accepted");
    ck_assert_int_eq(json_integer_value(json_object_get(out.response, "interval")), 120);
    ck_assert_str_eq(out.event_type, "device.online");
    ck_assert_str_eq(json_string_value(json_object_get(out.event_data, "model")), "M");
    ck_assert_int_eq(out.boot_accepted, 1);
    core_action_out_clear(&out);
    core_action_handle(OCPP_V201, "Nope", p, &ctx, &out);
    ck_assert_int_eq(out.err, OCPP_ERR_NOT_IMPLEMENTED);
    ck_assert_str_eq(out.event_type, "ocpp.message");
    core_action_out_clear(&out);
    json_decref(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ocpp_frame");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_call_parsed);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_error_spelling);
    tcase_add_test(tc, test_replies);
    tcase_add_test(tc, test_event_natural_id);
    tcase_add_test(tc, test_idgen_and_traceparent);
    tcase_add_test(tc, test_cloudevent);
    tcase_add_test(tc, test_cloudevent_bytes);
    tcase_add_test(tc, test_boot_answer);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
