/* Unit tests for common/hex: known byte strings and the W3C traceparent layout. */
#include "hex.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

START_TEST(test_encode)
{
    char out[9];
    const unsigned char in[] = {0x00, 0x0f, 0xa5, 0xff};
    ck_assert_uint_eq(hex_encode(in, 4, out), 8);
    ck_assert_str_eq(out, "000fa5ff");
    ck_assert_uint_eq(hex_encode(in, 0, out), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_every_byte)
{
    for (unsigned b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        char out[3], want[3];
        snprintf(want, sizeof(want), "%02x", b);
        hex_encode(&c, 1, out);
        ck_assert_str_eq(out, want);
    }
}
END_TEST

START_TEST(test_traceparent)
{
    uint8_t id[24];
    for (int i = 0; i < 24; i++)
        id[i] = (uint8_t)(i * 17);
    char out[HEX_TRACEPARENT_LEN + 1];
    memset(out, 'X', sizeof(out));
    hex_traceparent(id, 0x01, out);
    ck_assert_str_eq(out, "00-00112233445566778899aabbccddeeff-1021324354657687-01");
    ck_assert_uint_eq(strlen(out), HEX_TRACEPARENT_LEN);
    hex_traceparent(id, 0x00, out);
    ck_assert_str_eq(out + HEX_TRACEPARENT_LEN - 3, "-00");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hex");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_encode);
    tcase_add_test(tc, test_every_byte);
    tcase_add_test(tc, test_traceparent);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
