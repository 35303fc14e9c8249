/* Unit tests for services/ws-edge/edge_utf8: strict UTF-8 validation. */
#include "edge_utf8.h"

#include <check.h>
#include <string.h>

static bool valid(const char *s)
{
    return edge_utf8_valid((const unsigned char *)s, strlen(s));
}

START_TEST(test_valid)
{
    ck_assert(valid(""));
    ck_assert(valid("[2,\"1\",\"Heartbeat\",{}]"));
    ck_assert(valid("gr\xc3\xbc\xc3\x9f")); /* 2 bytes */
    ck_assert(valid("\xe2\x82\xac"));       /* euro sign, 3 bytes */
    ck_assert(valid("\xf0\x9f\x94\x8c"));   /* U+1F50C, 4 bytes */
    ck_assert(valid("\xf4\x8f\xbf\xbf"));   /* U+10FFFF */
    ck_assert(valid("\xed\x9f\xbf"));       /* U+D7FF, just below the surrogates */
    ck_assert(edge_utf8_valid((const unsigned char *)"a\0b", 3)); /* NUL is a character */
}
END_TEST

START_TEST(test_invalid)
{
    ck_assert(!valid("\xc3\x28"));         /* bad continuation */
    ck_assert(!valid("\xc3"));             /* truncated */
    ck_assert(!valid("\xe2\x82"));         /* truncated */
    ck_assert(!valid("\xc0\xaf"));         /* overlong '/' */
    ck_assert(!valid("\xe0\x80\xaf"));     /* overlong */
    ck_assert(!valid("\xf0\x80\x80\xaf")); /* overlong */
    ck_assert(!valid("\xed\xa0\x80"));     /* surrogate U+D800 */
    ck_assert(!valid("\xf4\x90\x80\x80")); /* above U+10FFFF */
    ck_assert(!valid("\xf5\x80\x80\x80"));
    ck_assert(!valid("\x80")); /* lone continuation */
    ck_assert(!valid("\xff"));
    ck_assert(!valid("ok\xe2\x82\xac\xe2"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_utf8");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_valid);
    tcase_add_test(tc, test_invalid);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
