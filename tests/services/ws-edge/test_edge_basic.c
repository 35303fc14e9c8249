/* Unit tests for services/ws-edge/edge_basic and edge_base64: the Basic Authorization header
 * (scheme, spaces, ':' in the password, bounds, control characters) and strict base64. */
#include "edge_base64.h"
#include "edge_basic.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* "Basic " + base64(text) */
static const char *header(const char *text, char *buf, size_t cap)
{
    unsigned char enc[1024];
    int n = EVP_EncodeBlock(enc, (const unsigned char *)text, (int)strlen(text));
    snprintf(buf, cap, "Basic %.*s", n, (const char *)enc);
    return buf;
}

static edge_basic_result_t parse(const char *value, edge_basic_t *b)
{
    return edge_basic_parse(value, value ? strlen(value) : 0, b);
}

START_TEST(test_ok)
{
    char h[512];
    edge_basic_t b;
    ck_assert_int_eq(parse(header("CP-1:secret:with:colons", h, sizeof(h)), &b), EDGE_BASIC_OK);
    ck_assert_str_eq(b.user, "CP-1");
    ck_assert_uint_eq(b.user_len, 4);
    ck_assert_str_eq(b.password, "secret:with:colons"); /* the user ends at the first ':' */
    ck_assert_uint_eq(b.password_len, 18);
    /* the scheme is case-insensitive, several spaces may follow it, trailing spaces are not
     * part of the token */
    char v[600];
    snprintf(v, sizeof(v), "bAsIc   %s  ", h + 6);
    ck_assert_int_eq(parse(v, &b), EDGE_BASIC_OK);
    ck_assert_str_eq(b.user, "CP-1");
    edge_basic_wipe(&b);
    ck_assert_uint_eq(b.password_len, 0);
    ck_assert_str_eq(b.password, "");
}
END_TEST

START_TEST(test_refusals)
{
    char h[512];
    edge_basic_t b;
    ck_assert_int_eq(parse(NULL, &b), EDGE_BASIC_NONE);
    ck_assert_int_eq(parse("Bearer abc", &b), EDGE_BASIC_NOT_BASIC);
    ck_assert_int_eq(parse("Basi", &b), EDGE_BASIC_NOT_BASIC);
    ck_assert_int_eq(parse("Basicx Q1A6cw==", &b), EDGE_BASIC_NOT_BASIC);
    ck_assert_int_eq(parse("Basic", &b), EDGE_BASIC_MALFORMED);
    ck_assert_int_eq(parse("Basic ", &b), EDGE_BASIC_MALFORMED);
    ck_assert_int_eq(parse("Basic !!!!", &b), EDGE_BASIC_MALFORMED);
    ck_assert_int_eq(parse(header("no-colon", h, sizeof(h)), &b), EDGE_BASIC_MALFORMED);
    ck_assert_int_eq(parse(header(":password", h, sizeof(h)), &b), EDGE_BASIC_MALFORMED);
    ck_assert_int_eq(parse(header("CP1:", h, sizeof(h)), &b), EDGE_BASIC_MALFORMED);
    ck_assert_int_eq(parse(header("CP1:pass\tword", h, sizeof(h)), &b), EDGE_BASIC_MALFORMED);
    ck_assert_int_eq(parse(header("CP1:pass\x7fword", h, sizeof(h)), &b), EDGE_BASIC_MALFORMED);
    ck_assert_str_eq(b.password, ""); /* nothing is left behind on a refusal */
    char longpw[EDGE_BASIC_PASSWORD_MAX + 8];
    memset(longpw, 'p', sizeof(longpw) - 1);
    longpw[sizeof(longpw) - 1] = '\0';
    char text[sizeof(longpw) + 8];
    snprintf(text, sizeof(text), "CP1:%s", longpw);
    ck_assert_int_eq(parse(header(text, h, sizeof(h)), &b), EDGE_BASIC_TOO_LONG);
    /* exactly at the bounds */
    char user[EDGE_BASIC_USER_MAX + 1], pw[EDGE_BASIC_PASSWORD_MAX + 1];
    memset(user, 'u', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    memset(pw, 'p', sizeof(pw) - 1);
    pw[sizeof(pw) - 1] = '\0';
    char both[sizeof(user) + sizeof(pw) + 1];
    snprintf(both, sizeof(both), "%s:%s", user, pw);
    ck_assert_int_eq(parse(header(both, h, sizeof(h)), &b), EDGE_BASIC_OK);
    ck_assert_uint_eq(b.user_len, EDGE_BASIC_USER_MAX);
    ck_assert_uint_eq(b.password_len, EDGE_BASIC_PASSWORD_MAX);
    ck_assert_str_eq(edge_basic_result_name(EDGE_BASIC_TOO_LONG), "too_long");
}
END_TEST

START_TEST(test_base64_strict)
{
    uint8_t out[16];
    ck_assert_int_eq(edge_base64_decode("", 0, out, sizeof(out)), 0);
    ck_assert_int_eq(edge_base64_decode("QUJD", 4, out, sizeof(out)), 3);
    ck_assert_int_eq(memcmp(out, "ABC", 3), 0);
    ck_assert_int_eq(edge_base64_decode("QUI=", 4, out, sizeof(out)), 2);
    ck_assert_int_eq(edge_base64_decode("QQ==", 4, out, sizeof(out)), 1);
    ck_assert_int_eq(edge_base64_decode("+/+/", 4, out, sizeof(out)), 3);
    ck_assert_int_eq(edge_base64_decode("QUJ", 3, out, sizeof(out)), -EINVAL);      /* length */
    ck_assert_int_eq(edge_base64_decode("Q===", 4, out, sizeof(out)), -EINVAL);     /* 3 pads */
    ck_assert_int_eq(edge_base64_decode("QQ==QUJD", 8, out, sizeof(out)), -EINVAL); /* pad inside */
    ck_assert_int_eq(edge_base64_decode("QR==", 4, out, sizeof(out)), -EINVAL);     /* stray bits */
    ck_assert_int_eq(edge_base64_decode("QUJ-", 4, out, sizeof(out)), -EINVAL);     /* URL-safe */
    ck_assert_int_eq(edge_base64_decode("QU D", 4, out, sizeof(out)), -EINVAL);     /* space */
    ck_assert_int_eq(edge_base64_decode("QUJDQUJD", 8, out, 5), -ENOSPC);
    ck_assert_int_eq(edge_base64_decode("QUJDQUJD", 8, out, 6), 6);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_basic");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_ok);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_base64_strict);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
