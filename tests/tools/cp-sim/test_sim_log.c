/* test_sim_log.c: unit tests of cp-sim's log_file lines (tools/cp-sim/sim_log.c): the basic
 * format is byte for byte what loss checks have always read; the detailed format adds the time
 * and a reference field; every field stays one token whatever it contains; lines that do not fit
 * are refused whole; the command reference is taken from a CALL's "data" string only when it is
 * a plain token. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_log.h"

static char line[256];

START_TEST(test_basic_is_unchanged)
{
    int n = sim_log_format(line, sizeof(line), false, 1234, 'S', "17", "SIM000001", "Heartbeat",
                           "ignored");
    ck_assert_str_eq(line, "S 17 SIM000001 Heartbeat\n");
    ck_assert_int_eq(n, (int)strlen(line));
    sim_log_format(line, sizeof(line), false, 0, 'D', "0", "SIM000002", "Reset:accept", NULL);
    ck_assert_str_eq(line, "D 0 SIM000002 Reset:accept\n");
}
END_TEST

START_TEST(test_detailed)
{
    sim_log_format(line, sizeof(line), true, 1764000000123ULL, 'A', "17", "SIM000001", "ok", NULL);
    ck_assert_str_eq(line, "1764000000123 A 17 SIM000001 ok\n");
    sim_log_format(line, sizeof(line), true, 5, 'D', "gw-00ab-3", "SIM000001",
                   "DataTransfer:accept", "ha-c-42");
    ck_assert_str_eq(line, "5 D gw-00ab-3 SIM000001 DataTransfer:accept ha-c-42\n");
    sim_log_format(line, sizeof(line), true, 5, 'E', "0", "-", "end", NULL);
    ck_assert_str_eq(line, "5 E 0 - end\n");
}
END_TEST

START_TEST(test_fields_stay_tokens)
{
    /* strerror texts have spaces, message ids may (printable ASCII), and a field may be empty */
    sim_log_format(line, sizeof(line), true, 7, 'X', "0", "SIM000003",
                   "read:Connection reset by peer", NULL);
    ck_assert_str_eq(line, "7 X 0 SIM000003 read:Connection?reset?by?peer\n");
    sim_log_format(line, sizeof(line), true, 7, 'D', "a b\tc\n", "SIM000003", "", "");
    ck_assert_str_eq(line, "7 D a?b?c? SIM000003 - -\n");
    sim_log_format(line, sizeof(line), false, 7, 'S', NULL, "SIM000003", "x\x7f", NULL);
    ck_assert_str_eq(line, "S - SIM000003 x?\n");
}
END_TEST

START_TEST(test_no_space)
{
    char small[16];
    ck_assert_int_eq(
        sim_log_format(small, sizeof(small), false, 0, 'S', "123456", "SIM000001", "Hb", NULL),
        -ENOSPC);
    ck_assert_str_eq(small, "");
    ck_assert_int_eq(sim_log_format(small, 0, false, 0, 'S', "1", "A", "B", NULL), -ENOSPC);
    /* exactly fitting: "S 1 A B\n" is 8 bytes + NUL */
    ck_assert_int_eq(sim_log_format(small, 9, false, 0, 'S', "1", "A", "B", NULL), 8);
    ck_assert_int_eq(sim_log_format(small, 8, false, 0, 'S', "1", "A", "B", NULL), -ENOSPC);
    ck_assert_int_eq(sim_log_format(small, 5, true, 1234567890123ULL, 'S', "1", "A", "B", NULL),
                     -ENOSPC);
}
END_TEST

START_TEST(test_ref)
{
    char ref[136];
    const char *p = "{\"vendorId\":\"ocppgw-ha\",\"messageId\":\"ha\",\"data\":\"ha-c-000042\"}";
    ck_assert_int_eq(sim_log_ref(p, strlen(p), ref, sizeof(ref)), 1);
    ck_assert_str_eq(ref, "ha-c-000042");
    const char *none[] = {"{\"vendorId\":\"x\"}",
                          "{\"data\":\"has a space\"}",
                          "{\"data\":\"\"}",
                          "{\"data\":{\"nested\":1}}",
                          "{\"data\":12}",
                          "[1,2]",
                          "not json",
                          "{\"data\":\"\\u00e9t\\u00e9\"}"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        ck_assert_int_eq(sim_log_ref(none[i], strlen(none[i]), ref, sizeof(ref)), 0);
        ck_assert_str_eq(ref, "-");
    }
    ck_assert_int_eq(sim_log_ref(NULL, 0, ref, sizeof(ref)), 0);
    /* at most 128 characters, and never more than fits */
    char big[200];
    int n = snprintf(big, sizeof(big), "{\"data\":\"%0129d\"}", 0);
    ck_assert_int_eq(sim_log_ref(big, (size_t)n, ref, sizeof(ref)), 0);
    n = snprintf(big, sizeof(big), "{\"data\":\"%0128d\"}", 0);
    ck_assert_int_eq(sim_log_ref(big, (size_t)n, ref, sizeof(ref)), 1);
    ck_assert_int_eq(strlen(ref), 128);
    char tiny[4];
    ck_assert_int_eq(sim_log_ref(p, strlen(p), tiny, sizeof(tiny)), 0);
    ck_assert_str_eq(tiny, "-");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cp-sim log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, test_basic_is_unchanged);
    tcase_add_test(tc, test_detailed);
    tcase_add_test(tc, test_fields_stay_tokens);
    tcase_add_test(tc, test_no_space);
    tcase_add_test(tc, test_ref);
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
