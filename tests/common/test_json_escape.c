/* Unit tests for common/json_escape: escapes, UTF-8 kept or replaced, and cuts that never split
 * an escape or a character; every output parses as JSON (checked with jansson). */
#include "json_escape.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *esc(const char *in, size_t inlen, size_t cap, size_t *consumed)
{
    static char out[512];
    size_t n = json_escape(in, inlen, out, cap, consumed);
    out[n] = '\0';
    return out;
}

START_TEST(test_escapes)
{
    size_t c;
    ck_assert_str_eq(esc("a\"b\\c", 5, 100, &c), "a\\\"b\\\\c");
    ck_assert_uint_eq(c, 5);
    ck_assert_str_eq(esc("\n\r\t\x01\x1f\x7f", 6, 100, &c), "\\n\\r\\t\\u0001\\u001f\\u007f");
    ck_assert_str_eq(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x8c", 14, 100, &c),
                     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x8c");
}
END_TEST

START_TEST(test_invalid_utf8_replaced)
{
    size_t c;
    /* a lone continuation byte, an overlong '/', a surrogate, a truncated sequence */
    ck_assert_str_eq(esc("\x80", 1, 100, &c), "\xef\xbf\xbd");
    ck_assert_str_eq(esc("\xc0\xaf", 2, 100, &c), "\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_str_eq(esc("\xed\xa0\x80", 3, 100, &c), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_str_eq(esc("x\xe2\x82", 3, 100, &c), "x\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_uint_eq(c, 3);
}
END_TEST

START_TEST(test_cut_never_splits)
{
    size_t c;
    ck_assert_str_eq(esc("ab\x01", 3, 7, &c), "ab");
    ck_assert_uint_eq(c, 2); /* \u0001 needs 6 bytes, 5 were left */
    ck_assert_str_eq(esc("a\xe2\x82\xac", 4, 3, &c), "a");
    ck_assert_uint_eq(c, 1);
    ck_assert_str_eq(esc("\"", 1, 1, &c), "");
    ck_assert_uint_eq(c, 0);
    ck_assert_str_eq(esc("abc", 3, 0, &c), "");
}
END_TEST

START_TEST(test_random_bytes_give_json)
{
    srand(7);
    for (int round = 0; round < 2000; round++) {
        char in[64];
        size_t inlen = (size_t)(rand() % 64);
        for (size_t i = 0; i < inlen; i++)
            in[i] = (char)(rand() % 256);
        char out[64 * 6 + 3];
        out[0] = '"';
        size_t consumed, cap = (size_t)(rand() % (64 * 6));
        size_t n = json_escape(in, inlen, out + 1, cap, &consumed);
        ck_assert_uint_le(n, cap);
        ck_assert_uint_le(consumed, inlen);
        if (cap >= inlen * 6)
            ck_assert_uint_eq(consumed, inlen);
        out[n + 1] = '"';
        json_error_t err;
        json_t *j = json_loadb(out, n + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        ck_assert_msg(j != NULL, "round %d: %s", round, err.text);
        ck_assert(json_is_string(j));
        json_decref(j);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_escape");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_escapes);
    tcase_add_test(tc, test_invalid_utf8_replaced);
    tcase_add_test(tc, test_cut_never_splits);
    tcase_add_test(tc, test_random_bytes_give_json);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
