/* test_ctl.c: unit tests of ocppctl's pure parts (tools/ocppctl/ctl.c): exit codes by result
 * status, UUID v4 shape, local payload checks, the command record of DESIGN §5, matching a
 * result, event filtering and printing, reading registry values, and the input lines of
 * `ocppctl produce`. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"

START_TEST(test_status_exit)
{
    ck_assert_int_eq(ctl_status_exit("accepted"), 0);
    ck_assert_int_eq(ctl_status_exit("rejected"), CTL_REJECTED);
    ck_assert_int_eq(ctl_status_exit("ocpp_error"), CTL_OCPP_ERROR);
    ck_assert_int_eq(ctl_status_exit("timeout"), CTL_TIMEOUT);
    ck_assert_int_eq(ctl_status_exit("expired"), CTL_EXPIRED);
    ck_assert_int_eq(ctl_status_exit("invalid"), CTL_INVALID);
    ck_assert_int_eq(ctl_status_exit("unsupported"), CTL_UNSUPPORTED);
    ck_assert_int_eq(ctl_status_exit("Accepted"), CTL_OTHER_STATUS);
    ck_assert_int_eq(ctl_status_exit(NULL), CTL_OTHER_STATUS);
}
END_TEST

START_TEST(test_uuid)
{
    uint8_t r[16];
    memset(r, 0xff, sizeof(r));
    char u[37];
    ctl_uuid(r, u);
    ck_assert_int_eq(strlen(u), 36);
    ck_assert_str_eq(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    memset(r, 0, sizeof(r));
    ctl_uuid(r, u);
    ck_assert_str_eq(u, "00000000-0000-4000-8000-000000000000");
}
END_TEST

START_TEST(test_payload_check)
{
    char why[256];
    ck_assert_int_eq(ctl_check_payload("{\"type\":\"Soft\"}", why, sizeof(why)), 0);
    ck_assert_int_eq(ctl_check_payload("{\"type\":", why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "line 1 column"));
    ck_assert_int_eq(ctl_check_payload("[1,2]", why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "JSON object"));
    ck_assert_int_eq(ctl_check_payload("{\"a\":1,\"a\":2}", why, sizeof(why)), -EINVAL);
    ck_assert_int_eq(ctl_check_payload("", why, sizeof(why)), -EINVAL);
}
END_TEST

START_TEST(test_command_record)
{
    char *r = ctl_command_record("id-1", "CP1", "pod-a", "Reset", "{\"type\":\"Hard\"}", 60000,
                                 1700000000000ULL);
    ck_assert_ptr_nonnull(r);
    json_t *j = json_loads(r, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "command_id")), "id-1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "cp_id")), "CP1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "target_pod")), "pod-a");
    ck_assert_str_eq(json_string_value(json_object_get(j, "action")), "Reset");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "payload"), "type")),
                     "Hard");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "ttl_ms")), 60000);
    ck_assert_str_eq(json_string_value(json_object_get(j, "expires_at")),
                     "2023-11-14T22:14:20.000Z");
    json_decref(j);
    free(r);
    r = ctl_command_record("id-2", "CP1", "pod-a", "Reset", "{}", 0, 0);
    ck_assert_ptr_null(strstr(r, "expires_at"));
    free(r);
    ck_assert_ptr_null(ctl_command_record("id", "CP1", "p", "Reset", "[]", 0, 0));
}
END_TEST

START_TEST(test_result_matches)
{
    char st[32] = "";
    const char *v = "{\"command_id\":\"abc\",\"cp_id\":\"CP1\",\"status\":\"rejected\"}";
    ck_assert(ctl_result_matches(v, strlen(v), "abc", st, sizeof(st)));
    ck_assert_str_eq(st, "rejected");
    ck_assert(!ctl_result_matches(v, strlen(v), "abd", st, sizeof(st)));
    ck_assert(!ctl_result_matches("not json", 8, "abc", st, sizeof(st)));
}
END_TEST

START_TEST(test_event_print)
{
    const char *ev = "{\"specversion\":\"1.0\",\"type\":\"heartbeat\",\"subject\":\"CP1\","
                     "\"time\":\"2026-01-01T00:00:00.000Z\",\"data\":{\"a\":1}}";
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert(ctl_event_print("CP1", 3, ev, strlen(ev), NULL, NULL, out));
    ck_assert(ctl_event_print("CP1", 3, ev, strlen(ev), "CP1", "heartbeat", out));
    ck_assert(!ctl_event_print("CP1", 3, ev, strlen(ev), "CP2", NULL, out));
    ck_assert(!ctl_event_print("CP1", 3, ev, strlen(ev), "CP", NULL, out));
    ck_assert(!ctl_event_print("CP1", 3, ev, strlen(ev), NULL, "device.online", out));
    ck_assert(ctl_event_print("CP9", 3, "garbage", 7, NULL, NULL, out));
    ck_assert(!ctl_event_print("CP9", 3, "garbage", 7, NULL, "heartbeat", out));
    fclose(out);
    ck_assert_ptr_nonnull(strstr(buf, "2026-01-01T00:00:00.000Z  CP1"));
    ck_assert_ptr_nonnull(strstr(buf, "heartbeat"));
    ck_assert_ptr_nonnull(strstr(buf, "{\"a\":1}"));
    ck_assert_ptr_nonnull(strstr(buf, "<unparsable event> key=CP9 garbage"));
    free(buf);
}
END_TEST

START_TEST(test_registry_values)
{
    char out[32];
    ctl_format_us("1700000000123456", out);
    ck_assert_str_eq(out, "2023-11-14T22:13:20.123Z");
    ctl_format_us(NULL, out);
    ck_assert_str_eq(out, "-");
    ctl_format_us("soon", out);
    ck_assert_str_eq(out, "soon");
    ck_assert_int_eq(ctl_lease_registrations("{\"registrations\":42,\"refreshed_us\":1}"), 42);
    ck_assert_int_eq(ctl_lease_registrations("x"), -1);
    ck_assert_int_eq(ctl_lease_registrations(NULL), -1);
}
END_TEST

START_TEST(test_produce_line)
{
    char why[160];
    int32_t part;
    char *key, *value;
    char l1[] = "3\tocppgw-0\t{\"command_id\":\"c\\t1\"}\n";
    ck_assert_int_eq(ctl_produce_line(l1, &part, &key, &value, why, sizeof(why)), 0);
    ck_assert_int_eq(part, 3);
    ck_assert_str_eq(key, "ocppgw-0");
    ck_assert_str_eq(value, "{\"command_id\":\"c\\t1\"}");
    char l2[] = "-\tpod-a\tv\twith\ttabs\r\n"; /* the value is the rest of the line */
    ck_assert_int_eq(ctl_produce_line(l2, &part, &key, &value, why, sizeof(why)), 0);
    ck_assert_int_eq(part, -1);
    ck_assert_str_eq(key, "pod-a");
    ck_assert_str_eq(value, "v\twith\ttabs");
    char l3[] = "0\t\t"; /* empty key and value are records too */
    ck_assert_int_eq(ctl_produce_line(l3, &part, &key, &value, why, sizeof(why)), 0);
    ck_assert_int_eq(part, 0);
    ck_assert_str_eq(key, "");
    ck_assert_str_eq(value, "");
    const char *bad[] = {"-\t\tvalue", "x\tk\tv",          "\tk\tv",   "-1\tk\tv",
                         "+1\tk\tv",   "2147483648\tk\tv", "1 \tk\tv", " 1\tk\tv",
                         "1\tk",       "no tabs",          ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "%s", bad[i]);
        why[0] = '\0';
        ck_assert_msg(ctl_produce_line(line, &part, &key, &value, why, sizeof(why)) == -EINVAL,
                      "accepted '%s'", bad[i]);
        ck_assert_msg(why[0] != '\0', "no reason for '%s'", bad[i]);
    }
    char big[] = "2147483647\tk\tv";
    ck_assert_int_eq(ctl_produce_line(big, &part, &key, &value, why, sizeof(why)), 0);
    ck_assert_int_eq(part, INT32_MAX);
}
END_TEST

START_TEST(test_parse_duration)
{
    ck_assert_int_eq(ctl_parse_duration_ms("30s"), 30000);
    ck_assert_int_eq(ctl_parse_duration_ms("30"), 30000);
    ck_assert_int_eq(ctl_parse_duration_ms("500ms"), 500);
    ck_assert_int_eq(ctl_parse_duration_ms("2m"), 120000);
    ck_assert_int_eq(ctl_parse_duration_ms("1.5s"), 1500);
    ck_assert_int_eq(ctl_parse_duration_ms(""), -1);
    ck_assert_int_eq(ctl_parse_duration_ms("s"), -1);
    ck_assert_int_eq(ctl_parse_duration_ms("-1s"), -1);
    ck_assert_int_eq(ctl_parse_duration_ms("5h"), -1);
    ck_assert_int_eq(ctl_parse_duration_ms("1e20"), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ocppctl");
    TCase *tc = tcase_create("ctl");
    tcase_add_test(tc, test_status_exit);
    tcase_add_test(tc, test_uuid);
    tcase_add_test(tc, test_payload_check);
    tcase_add_test(tc, test_command_record);
    tcase_add_test(tc, test_result_matches);
    tcase_add_test(tc, test_event_print);
    tcase_add_test(tc, test_registry_values);
    tcase_add_test(tc, test_produce_line);
    tcase_add_test(tc, test_parse_duration);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
