/* Unit tests for services/kafka-bridge/command_record: record checks and their reasons, RFC 3339
 * dates, the forwarded record, the result record and the reason of core's result. */
#include "command_record.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define T0 1795000000000LL /* some ms since the epoch */

static int parse(const char *json, command_record_t *r, char *why)
{
    return command_record_parse(json, strlen(json), T0, 60000, r, why, 128);
}

START_TEST(test_parse_ok)
{
    command_record_t r;
    char why[128] = "";
    ck_assert_int_eq(parse("{\"command_id\":\"c-1\",\"cp_id\":\"CP-1\",\"action\":\"reset\","
                           "\"target_pod\":\"pod-a\",\"ttl_ms\":5000,\"priority\":3}",
                           &r, why),
                     0);
    ck_assert_str_eq(r.command_id, "c-1");
    ck_assert_str_eq(r.cp_id, "CP-1");
    ck_assert_str_eq(r.action, "reset");
    ck_assert_str_eq(r.target_pod, "pod-a");
    ck_assert_int_eq(r.expires_at_ms, T0 + 5000);
    ck_assert_int_eq(r.priority, 3);
    ck_assert_int_eq(r.hops, 0);
    /* expires_at wins over ttl_ms; hops carried; default ttl when neither */
    ck_assert_int_eq(parse("{\"command_id\":\"c\",\"cp_id\":\"x\",\"action\":\"reset\",\"hops\":2,"
                           "\"expires_at\":\"2026-11-24T03:00:00.250+01:00\",\"ttl_ms\":1}",
                           &r, why),
                     0);
    int64_t at;
    ck_assert_int_eq(command_parse_rfc3339("2026-11-24T02:00:00.250Z", &at), 0);
    ck_assert_int_eq(r.expires_at_ms, at);
    ck_assert_int_eq(r.hops, 2);
    ck_assert_str_eq(r.target_pod, "");
    ck_assert_int_eq(parse("{\"command_id\":\"c\",\"cp_id\":\"x\",\"action\":\"reset\"}", &r, why),
                     0);
    ck_assert_int_eq(r.expires_at_ms, T0 + 60000);
}
END_TEST

START_TEST(test_parse_invalid)
{
    static const struct {
        const char *json, *why, *id;
    } cases[] = {
        {"{not json", "record is not valid JSON", ""},
        {"[1,2]", "record is not a JSON object", ""},
        {"{\"cp_id\":\"x\",\"action\":\"reset\"}", "command_id missing", ""},
        {"{\"command_id\":7,\"cp_id\":\"x\",\"action\":\"reset\"}",
         "command_id is not a string of 1..79 bytes", ""},
        /* 80 bytes: more than ocpp-core accepts */
        {"{\"command_id\":\"01234567890123456789012345678901234567890123456789012345678901234567"
         "890123456789\",\"cp_id\":\"x\",\"action\":\"reset\"}",
         "command_id is not a string of 1..79 bytes", ""},
        /* 49 characters: one more than the edge accepts (the registry and core would cut it) */
        {"{\"command_id\":\"c-9\",\"cp_id\":\"0123456789012345678901234567890123456789012345678\","
         "\"action\":\"reset\"}",
         "cp_id is not an identity (1..48 of A-Z a-z 0-9 * - _ = + | @ .)", "c-9"},
        {"{\"command_id\":\"c-9\",\"cp_id\":\"CP:7\",\"action\":\"reset\"}",
         "cp_id is not an identity (1..48 of A-Z a-z 0-9 * - _ = + | @ .)", "c-9"},
        {"{\"command_id\":\"c-9\",\"cp_id\":\"CP 7\",\"action\":\"reset\"}",
         "cp_id is not an identity (1..48 of A-Z a-z 0-9 * - _ = + | @ .)", "c-9"},
        {"{\"command_id\":\"c-9\",\"action\":\"reset\"}", "cp_id missing", "c-9"},
        {"{\"command_id\":\"c-9\",\"cp_id\":\"x\"}", "action missing", "c-9"},
        {"{\"command_id\":\"c-9\",\"cp_id\":\"x\",\"action\":\"reset\",\"ttl_ms\":-1}",
         "ttl_ms is not an integer 1..31536000000 (365 days)", "c-9"},
        {"{\"command_id\":\"c-9\",\"cp_id\":\"x\",\"action\":\"reset\",\"ttl_ms\":"
         "9223372036854775807}",
         "ttl_ms is not an integer 1..31536000000 (365 days)", "c-9"},
        {"{\"command_id\":\"c-9\",\"cp_id\":\"x\",\"action\":\"reset\",\"hops\":1001}",
         "hops is not an integer 0..1000", "c-9"},
        {"{\"command_id\":\"c-9\",\"cp_id\":\"x\",\"action\":\"reset\","
         "\"expires_at\":\"0276-11-24T03:00:00Z\"}",
         "expires_at is not an RFC 3339 date-time", "c-9"},
        {"{\"command_id\":\"c-9\",\"cp_id\":\"x\",\"action\":\"reset\",\"expires_at\":\"soon\"}",
         "expires_at is not an RFC 3339 date-time", "c-9"},
        {"{\"command_id\":\"c-9\",\"cp_id\":\"x\",\"action\":\"reset\",\"hops\":-1}",
         "hops is not an integer 0..1000", "c-9"},
        {"{\"command_id\":\"c-9\",\"cp_id\":\"a\\u0001b\",\"action\":\"reset\"}",
         "cp_id is not an identity (1..48 of A-Z a-z 0-9 * - _ = + | @ .)", "c-9"},
        {"{\"command_id\":\"c-9\",\"command_id\":\"c-8\",\"cp_id\":\"x\",\"action\":\"r\"}",
         "record is not valid JSON", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        command_record_t r;
        char why[128] = "";
        ck_assert_int_lt(parse(cases[i].json, &r, why), 0);
        ck_assert_str_eq(why, cases[i].why);
        ck_assert_str_eq(r.command_id, cases[i].id);
    }
}
END_TEST

/* The limits of the other stages, at their edge: a 79-byte command_id (ocpp-core's limit) and a
 * 48-character cp_id of every character the edge allows are taken. */
START_TEST(test_parse_limits)
{
    command_record_t r;
    char why[128] = "";
    char id[COMMAND_ID_MAX + 1], cp[IDENTITY_MAX + 1], json[512];
    memset(id, 'i', COMMAND_ID_MAX);
    id[COMMAND_ID_MAX] = '\0';
    snprintf(cp, sizeof(cp), "%s", "AZaz09*-_=+|@.");
    memset(cp + 14, 'c', IDENTITY_MAX - 14);
    cp[IDENTITY_MAX] = '\0';
    snprintf(json, sizeof(json), "{\"command_id\":\"%s\",\"cp_id\":\"%s\",\"action\":\"reset\"}",
             id, cp);
    ck_assert_int_eq(parse(json, &r, why), 0);
    ck_assert_str_eq(r.command_id, id);
    ck_assert_str_eq(r.cp_id, cp);
    ck_assert(r.is_json);
    ck_assert_int_eq(COMMAND_ID_MAX, 79);
    ck_assert_int_eq(COMMAND_CP_MAX, IDENTITY_MAX);
    /* a refused record that is JSON is still known as JSON (its DLQ copy's content type) */
    ck_assert_int_lt(parse("{\"cp_id\":\"x\"}", &r, why), 0);
    ck_assert(r.is_json);
    ck_assert_int_lt(parse("{nope", &r, why), 0);
    ck_assert(!r.is_json);
}
END_TEST

START_TEST(test_traceparent)
{
    static const char *ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    ck_assert(command_traceparent_valid(ok, strlen(ok)));
    ck_assert(!command_traceparent_valid(ok, strlen(ok) - 1));
    ck_assert(!command_traceparent_valid(NULL, 0));
    static const char *bad[] = {
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* version */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* upper case */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero parent id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", /* separator */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", /* flags */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!command_traceparent_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
}
END_TEST

START_TEST(test_labels)
{
    ck_assert_str_eq(command_action_label("reset"), "reset");
    ck_assert_str_eq(command_action_label("RemoteStartTransaction"), "RemoteStartTransaction");
    ck_assert_str_eq(command_action_label("SetVariables"), "SetVariables");
    ck_assert_str_eq(command_action_label("rm -rf"), "other");
    ck_assert_str_eq(command_action_label(""), "other");
    ck_assert_str_eq(command_action_label(NULL), "other");
    ck_assert_str_eq(command_status_label("expired"), "expired");
    ck_assert_str_eq(command_status_label("unsupported"), "unsupported");
    ck_assert_str_eq(command_status_label("weird"), "other");
    ck_assert_str_eq(command_status_label(NULL), "other");
}
END_TEST

START_TEST(test_rfc3339)
{
    int64_t ms;
    ck_assert_int_eq(command_parse_rfc3339("1970-01-01T00:00:01Z", &ms), 0);
    ck_assert_int_eq(ms, 1000);
    ck_assert_int_eq(command_parse_rfc3339("1970-01-01T01:00:00+01:00", &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(command_parse_rfc3339("1970-01-01T00:00:00.5-00:30", &ms), 0);
    ck_assert_int_eq(ms, 1800500);
    ck_assert_int_lt(command_parse_rfc3339("1970-01-01 00:00:00Z", &ms), 0);
    ck_assert_int_lt(command_parse_rfc3339("1970-13-01T00:00:00Z", &ms), 0);
    ck_assert_int_lt(command_parse_rfc3339("1970-01-01T00:00:00", &ms), 0);
    ck_assert_int_lt(command_parse_rfc3339("1970-01-01T00:00:00Zjunk", &ms), 0);
    char out[32];
    command_format_rfc3339(T0 + 7, out, sizeof(out));
    ck_assert_int_eq(command_parse_rfc3339(out, &ms), 0);
    ck_assert_int_eq(ms, T0 + 7);
}
END_TEST

START_TEST(test_forward_json)
{
    const char *in = "{\"command_id\":\"c\",\"cp_id\":\"CP\",\"action\":\"reset\",\"ttl_ms\":5000,"
                     "\"payload\":{\"type\":\"Soft\"},\"target_pod\":\"pod-a\"}";
    command_record_t r;
    char why[128];
    ck_assert_int_eq(command_record_parse(in, strlen(in), T0, 1, &r, why, sizeof(why)), 0);
    size_t len = 0;
    char *out = command_forward_json(in, strlen(in), &r, "pod-b", &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(len, strlen(out));
    command_record_t f;
    /* re-read much later: the absolute expiry is kept, not restarted */
    ck_assert_int_eq(command_record_parse(out, len, T0 + 999999, 1, &f, why, sizeof(why)), 0);
    ck_assert_str_eq(f.target_pod, "pod-b");
    ck_assert_int_eq(f.hops, 1);
    ck_assert_int_eq(f.expires_at_ms, T0 + 5000);
    ck_assert_ptr_nonnull(strstr(out, "\"payload\":{\"type\":\"Soft\"}"));
    free(out);
    ck_assert_ptr_null(command_forward_json("[1]", 3, &r, "pod-b", &len));
}
END_TEST

START_TEST(test_result_json)
{
    size_t len;
    char *s = command_result_json("c-1", "CP-1", "expired", "hop limit", 1000, 2500, "pod-a", &len);
    ck_assert_ptr_nonnull(s);
    json_t *o = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "command_id")), "c-1");
    ck_assert_str_eq(json_string_value(json_object_get(o, "cp_id")), "CP-1");
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "expired");
    ck_assert_str_eq(json_string_value(json_object_get(o, "reason")), "hop limit");
    ck_assert(json_is_null(json_object_get(o, "response")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "received_at")),
                     "1970-01-01T00:00:01.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(o, "finished_at")),
                     "1970-01-01T00:00:02.500Z");
    /* "at", which proto/unified/result.json requires of every result, ocpp-core's or ours */
    ck_assert_str_eq(json_string_value(json_object_get(o, "at")), "1970-01-01T00:00:02.500Z");
    json_decref(o);
    free(s);
    /* an invalid record may have no cp_id and the reason is still there */
    s = command_result_json("c-2", "", "invalid", "cp_id missing", 0, 0, "pod-a", &len);
    o = json_loads(s, 0, NULL);
    ck_assert(json_is_null(json_object_get(o, "cp_id")));
    json_decref(o);
    free(s);
}
END_TEST

/* the reason of core's result: the header of the DLQ copy of a record core found invalid */
START_TEST(test_result_reason)
{
    char why[160];
    const char *r = "{\"command_id\":\"c\",\"status\":\"invalid\",\"reason\":\"unknown unified "
                    "action fly_away\"}";
    command_result_reason((const uint8_t *)r, strlen(r), why, sizeof(why));
    ck_assert_str_eq(why, "unknown unified action fly_away");
    command_result_reason((const uint8_t *)"{\"status\":\"invalid\"}", 20, why, sizeof(why));
    ck_assert_str_eq(why, "");
    command_result_reason((const uint8_t *)"not json", 8, why, sizeof(why));
    ck_assert_str_eq(why, "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("command_record");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_ok);
    tcase_add_test(tc, test_parse_invalid);
    tcase_add_test(tc, test_parse_limits);
    tcase_add_test(tc, test_traceparent);
    tcase_add_test(tc, test_labels);
    tcase_add_test(tc, test_rfc3339);
    tcase_add_test(tc, test_forward_json);
    tcase_add_test(tc, test_result_json);
    tcase_add_test(tc, test_result_reason);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
