/* Unit tests for json_text's writer of strings (json_buf_string, json_buf_string_as): the bytes
 * json_dumps writes, also when escapes make a string outgrow the buffer several times over, and
 * the safe style of json_escape for the CloudEvent attributes. */
#include "json_text.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* what json_dumps writes of s[0..len) as a string */
static char *dumped(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    ck_assert_ptr_nonnull(j);
    char *d = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return d;
}

START_TEST(test_string_as_json_dumps)
{
    static const char *const IN[] = {"", "plain", "q\"b\\s/", "\b\f\n\r\t\x01\x1f\x7f",
                                     "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x94\x8c"};
    for (size_t k = 0; k < sizeof(IN) / sizeof(IN[0]); k++) {
        json_buf_t b = {0};
        json_buf_put(&b, "x", 1); /* after other text, as in a message */
        json_buf_string(&b, IN[k], strlen(IN[k]));
        ck_assert(!b.oom);
        char *want = dumped(IN[k], strlen(IN[k]));
        ck_assert_uint_eq(b.len, strlen(want) + 1);
        ck_assert_str_eq(b.p + 1, want);
        free(want);
        free(b.p);
    }
}
END_TEST

/* long strings of controls (6 bytes each when written) grow the buffer from its first 2048 bytes
 * several times inside one string, at every offset of what was written before */
START_TEST(test_string_outgrows_buffer)
{
    for (size_t len = 1; len < 6000; len += 397) {
        char *s = malloc(len);
        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < len; i++)
            s[i] = i % 3 == 0 ? '\x01' : i % 3 == 1 ? 'a' : '"';
        for (size_t before = 0; before < 2100; before += 523) {
            json_buf_t b = {0};
            for (size_t i = 0; i < before; i++)
                json_buf_put(&b, "-", 1);
            json_buf_string(&b, s, len);
            ck_assert(!b.oom);
            char *want = dumped(s, len);
            ck_assert_uint_eq(b.len, before + strlen(want));
            ck_assert_str_eq(b.p + before, want);
            ck_assert_int_eq(b.p[b.len], '\0');
            free(want);
            free(b.p);
        }
        free(s);
    }
}
END_TEST

START_TEST(test_string_as_safe_style)
{
    const char in[] = "pod\"1\x7f\xff\xc3\xa9\n";
    json_buf_t b = {0};
    json_buf_string_as(&b, JSON_ESCAPE_SAFE, in, sizeof(in) - 1);
    ck_assert(!b.oom);
    ck_assert_str_eq(b.p, "\"pod\\\"1\\u007f\xef\xbf\xbd\xc3\xa9\\n\"");
    free(b.p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_text");
    TCase *tc = tcase_create("writer");
    tcase_add_test(tc, test_string_as_json_dumps);
    tcase_add_test(tc, test_string_outgrows_buffer);
    tcase_add_test(tc, test_string_as_safe_style);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
