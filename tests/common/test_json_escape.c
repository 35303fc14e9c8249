/* Unit tests for common/json_escape: escapes, UTF-8 kept or replaced, and cuts that never split
 * an escape or a character; every output of the safe style parses as JSON (checked with jansson),
 * and the jansson style writes the bytes json_dumps writes (a table of expected bytes per style,
 * and jansson itself on valid UTF-8). */
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

/* one input, the bytes each style writes of it */
static const struct {
    const char *in;
    size_t inlen;
    const char *safe, *jansson;
} STYLES[] = {
    {"\"", 1, "\\\"", "\\\""},
    {"\\", 1, "\\\\", "\\\\"},
    {"/", 1, "/", "/"}, /* neither escapes the slash */
    {"\n\r\t", 3, "\\n\\r\\t", "\\n\\r\\t"},
    {"\b\f", 2, "\\u0008\\u000c", "\\b\\f"},
    {"\x00\x01\x1f", 3, "\\u0000\\u0001\\u001f", "\\u0000\\u0001\\u001F"},
    {"\x7f", 1, "\\u007f", "\x7f"},                          /* DEL */
    {"\x80", 1, "\xef\xbf\xbd", "\x80"},                     /* a lone continuation byte */
    {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", "\xc0\xaf"}, /* an overlong '/' */
    {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "\xed\xa0\x80"}, /* surrogate */
    {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
     "\xf4\x90\x80\x80"}, /* above U+10FFFF */
    {"\xff", 1, "\xef\xbf\xbd", "\xff"},
    {"\xe2\x80\xa8", 3, "\xe2\x80\xa8", "\xe2\x80\xa8"},             /* U+2028, kept by both */
    {"\xf0\x9f\x94\x8c", 4, "\xf0\x9f\x94\x8c", "\xf0\x9f\x94\x8c"}, /* 4 bytes, U+1F50C */
    {"\xf0\x9f\x94", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "\xf0\x9f\x94"}, /* truncated */
    {"\xf0\x9f\x94x", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx", "\xf0\x9f\x94x"},
    {"\xe2\x82\"", 3, "\xef\xbf\xbd\xef\xbf\xbd\\\"", "\xe2\x82\\\""},
    {"caf\xc3\xa9 \xe2\x82\xac", 9, "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"},
    {"id\"1\\2\x01x\x7f\xc3\xa9", 11, "id\\\"1\\\\2\\u0001x\\u007f\xc3\xa9",
     "id\\\"1\\\\2\\u0001x\x7f\xc3\xa9"},
    {"", 0, "", ""},
};

START_TEST(test_styles_table)
{
    for (size_t k = 0; k < sizeof(STYLES) / sizeof(STYLES[0]); k++) {
        char out[128];
        size_t c, n = json_escape_as(JSON_ESCAPE_SAFE, STYLES[k].in, STYLES[k].inlen, out,
                                     sizeof(out), &c);
        ck_assert_msg(n == strlen(STYLES[k].safe) && memcmp(out, STYLES[k].safe, n) == 0,
                      "row %zu: safe style wrote \"%.*s\"", k, (int)n, out);
        ck_assert_uint_eq(c, STYLES[k].inlen);
        /* json_escape is the safe style */
        ck_assert_uint_eq(json_escape(STYLES[k].in, STYLES[k].inlen, out, sizeof(out), &c), n);
        ck_assert_mem_eq(out, STYLES[k].safe, n);
        n = json_escape_as(JSON_ESCAPE_JANSSON, STYLES[k].in, STYLES[k].inlen, out, sizeof(out),
                           &c);
        ck_assert_msg(n == strlen(STYLES[k].jansson) && memcmp(out, STYLES[k].jansson, n) == 0,
                      "row %zu: jansson style wrote \"%.*s\"", k, (int)n, out);
        ck_assert_uint_eq(c, STYLES[k].inlen);
    }
}
END_TEST

START_TEST(test_jansson_style_cuts)
{
    char out[16];
    size_t c, n;
    n = json_escape_as(JSON_ESCAPE_JANSSON, "ab\x01", 3, out, 7, &c);
    ck_assert_uint_eq(n, 2); /* \u0001 needs 6 bytes, 5 were left */
    ck_assert_uint_eq(c, 2);
    n = json_escape_as(JSON_ESCAPE_JANSSON, "\b", 1, out, 1, &c);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(c, 0);
    n = json_escape_as(JSON_ESCAPE_JANSSON, "\b", 1, out, 2, &c);
    ck_assert_uint_eq(n, 2);
    ck_assert_mem_eq(out, "\\b", 2);
    /* a cut inside a character ends before its lead byte */
    n = json_escape_as(JSON_ESCAPE_JANSSON, "a\xe2\x82\xac", 4, out, 3, &c);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(c, 1);
    n = json_escape_as(JSON_ESCAPE_JANSSON, "a\xf0\x9f\x94\x8c", 5, out, 4, &c);
    ck_assert_uint_eq(c, 1);
    n = json_escape_as(JSON_ESCAPE_JANSSON, "a\xe2\x82\xac", 4, out, 4, &c);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(c, 4);
    /* a run of continuation bytes with no lead in reach: cut where the room ends */
    n = json_escape_as(JSON_ESCAPE_JANSSON, "\x80\x80\x80\x80\x80\x80", 6, out, 5, &c);
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(c, 5);
    n = json_escape_as(JSON_ESCAPE_JANSSON, "abc", 3, out, 0, &c);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(c, 0);
}
END_TEST

/* random valid UTF-8 with controls, quotes and DEL: the jansson style writes what json_dumps
 * writes between the quotes, and pieces cut by random room join into the whole, in both styles */
START_TEST(test_jansson_style_is_json_dumps)
{
    static const char *const UNITS[] = {"a",
                                        "Z",
                                        " ",
                                        "\"",
                                        "\\",
                                        "/",
                                        "\x01",
                                        "\b",
                                        "\f",
                                        "\n",
                                        "\r",
                                        "\t",
                                        "\x1f",
                                        "\x7f",
                                        "\xc3\xa9",
                                        "\xe2\x82\xac",
                                        "\xe2\x80\xa8",
                                        "\xf0\x9f\x94\x8c",
                                        "\xef\xbf\xbf",
                                        "\xed\x9f\xbf"};
    srand(11);
    for (int round = 0; round < 3000; round++) {
        char in[256];
        size_t inlen = 0;
        int units = rand() % 40;
        for (int u = 0; u < units; u++) {
            const char *unit = UNITS[(size_t)rand() % (sizeof(UNITS) / sizeof(UNITS[0]))];
            memcpy(in + inlen, unit, strlen(unit));
            inlen += strlen(unit);
        }
        if (round % 3 == 0 && inlen > 0) /* and some bytes that are no UTF-8 at all */
            in[(size_t)rand() % inlen] = (char)(0x80 + rand() % 128);
        for (int style = JSON_ESCAPE_SAFE; style <= JSON_ESCAPE_JANSSON; style++) {
            char whole[256 * 6], pieces[256 * 6];
            size_t c,
                n = json_escape_as((json_escape_style_t)style, in, inlen, whole, sizeof(whole), &c);
            ck_assert_uint_eq(c, inlen);
            size_t done = 0, m = 0;
            while (done < inlen) {
                size_t room = 6 + (size_t)rand() % 8; /* always room for one escape */
                m += json_escape_as((json_escape_style_t)style, in + done, inlen - done, pieces + m,
                                    room, &c);
                ck_assert_uint_gt(c, 0);
                done += c;
            }
            ck_assert_uint_eq(m, n);
            ck_assert_mem_eq(pieces, whole, n);
            if (style != JSON_ESCAPE_JANSSON)
                continue;
            json_t *str = json_stringn(in, inlen);
            if (!str) /* not UTF-8: jansson has no such string, nothing to compare */
                continue;
            char *dump = json_dumps(str, JSON_COMPACT | JSON_ENCODE_ANY);
            ck_assert_ptr_nonnull(dump);
            ck_assert_uint_eq(strlen(dump), n + 2);
            ck_assert_mem_eq(dump + 1, whole, n);
            free(dump);
            json_decref(str);
        }
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
    tcase_add_test(tc, test_styles_table);
    tcase_add_test(tc, test_jansson_style_cuts);
    tcase_add_test(tc, test_jansson_style_is_json_dumps);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
