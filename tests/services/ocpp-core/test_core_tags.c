/* Unit tests for services/ocpp-core/core_tags: the id-token answer cache of auth_policy redis
 * (validity time, least-recently-used eviction, replacement, size bound, over-long tokens) and
 * core_tag_status (the OCPP status of an answer at the time of use: unknown token, statuses kept
 * and not kept, expiry). */
#include "core_tags.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#define SEC 1000000ULL
#define T0  (1735689600ULL * SEC) /* 2025-01-01T00:00:00Z */

static core_tag_answer_t answer(bool found, const char *status, uint64_t expires_at_ms)
{
    core_tag_answer_t a = {.found = found, .expires_at_ms = expires_at_ms};
    strncpy(a.status, status, sizeof(a.status) - 1);
    return a;
}

START_TEST(test_valid_until)
{
    core_tags_t *c = core_tags_new(10);
    core_tag_answer_t a = answer(true, "Accepted", 0), out;
    ck_assert_int_eq(core_tags_get(c, "A", T0, &out), 0);
    core_tags_put(c, "A", &a, T0 + 5 * SEC);
    ck_assert_int_eq(core_tags_get(c, "A", T0 + 4 * SEC, &out), 1);
    ck_assert_str_eq(out.status, "Accepted");
    ck_assert(out.found);
    ck_assert_int_eq(core_tags_get(c, "A", T0 + 5 * SEC, &out), 0); /* stale: removed */
    ck_assert_uint_eq(core_tags_size(c), 0);
    /* replaced by a newer answer */
    core_tags_put(c, "A", &a, T0 + 5 * SEC);
    core_tag_answer_t b = answer(true, "Blocked", 0);
    core_tags_put(c, "A", &b, T0 + 6 * SEC);
    ck_assert_uint_eq(core_tags_size(c), 1);
    ck_assert_int_eq(core_tags_get(c, "A", T0 + 5 * SEC, &out), 1);
    ck_assert_str_eq(out.status, "Blocked");
    core_tags_destroy(&c);
    ck_assert_ptr_null(c);
    core_tags_destroy(&c); /* safe twice */
}
END_TEST

START_TEST(test_least_recently_used_goes)
{
    core_tags_t *c = core_tags_new(3);
    core_tag_answer_t a = answer(true, "Accepted", 0), out;
    core_tags_put(c, "A", &a, T0 + 60 * SEC);
    core_tags_put(c, "B", &a, T0 + 60 * SEC);
    core_tags_put(c, "C", &a, T0 + 60 * SEC);
    ck_assert_int_eq(core_tags_get(c, "A", T0, &out), 1); /* A used: B is the oldest now */
    core_tags_put(c, "D", &a, T0 + 60 * SEC);
    ck_assert_uint_eq(core_tags_size(c), 3);
    ck_assert_int_eq(core_tags_get(c, "B", T0, &out), 0);
    ck_assert_int_eq(core_tags_get(c, "A", T0, &out), 1);
    ck_assert_int_eq(core_tags_get(c, "C", T0, &out), 1);
    ck_assert_int_eq(core_tags_get(c, "D", T0, &out), 1);
    core_tags_put(c, "C", &a, T0 + 60 * SEC); /* a replaced entry is the most recent too */
    core_tags_put(c, "E", &a, T0 + 60 * SEC); /* A goes */
    ck_assert_int_eq(core_tags_get(c, "A", T0, &out), 0);
    ck_assert_int_eq(core_tags_get(c, "C", T0, &out), 1);
    for (int i = 0; i < 1000; i++) { /* bounded whatever comes */
        char tag[16];
        snprintf(tag, sizeof(tag), "T%d", i);
        core_tags_put(c, tag, &a, T0 + 60 * SEC);
        ck_assert_uint_le(core_tags_size(c), 3);
    }
    core_tags_destroy(&c);
}
END_TEST

START_TEST(test_not_cached)
{
    core_tags_t *off = core_tags_new(0);
    core_tag_answer_t a = answer(true, "Accepted", 0), out;
    core_tags_put(off, "A", &a, T0 + SEC);
    ck_assert_int_eq(core_tags_get(off, "A", T0, &out), 0);
    core_tags_destroy(&off);
    core_tags_t *c = core_tags_new(4);
    char longest[CORE_TAG_MAX + 1], over[CORE_TAG_MAX + 2];
    memset(longest, 'x', sizeof(longest) - 1);
    longest[CORE_TAG_MAX] = '\0';
    memset(over, 'y', sizeof(over) - 1);
    over[CORE_TAG_MAX + 1] = '\0';
    core_tags_put(c, longest, &a, T0 + SEC);
    core_tags_put(c, over, &a, T0 + SEC);
    ck_assert_int_eq(core_tags_get(c, longest, T0, &out), 1);
    ck_assert_int_eq(core_tags_get(c, over, T0, &out), 0);
    ck_assert_uint_eq(core_tags_size(c), 1);
    core_tags_destroy(&c);
}
END_TEST

START_TEST(test_status)
{
    core_tag_answer_t a = answer(false, "Accepted", 0);
    ck_assert_str_eq(core_tag_status(&a, T0), "Invalid"); /* no record */
    static const char *const kept[] = {"Accepted", "Blocked", "Expired", "Invalid"};
    for (size_t i = 0; i < 4; i++) {
        a = answer(true, kept[i], 0);
        ck_assert_str_eq(core_tag_status(&a, T0), kept[i]);
    }
    static const char *const other[] = {"", "accepted", "ConcurrentTx", "NoCredit", "Unknown"};
    for (size_t i = 0; i < 5; i++) {
        a = answer(true, other[i], 0);
        ck_assert_str_eq(core_tag_status(&a, T0), "Invalid");
    }
    /* expiry in ms since the epoch, evaluated when used */
    a = answer(true, "Accepted", T0 / 1000 + 1000);
    ck_assert_str_eq(core_tag_status(&a, T0), "Accepted");
    ck_assert_str_eq(core_tag_status(&a, T0 + SEC - 1), "Accepted");
    ck_assert_str_eq(core_tag_status(&a, T0 + SEC), "Expired");
    a = answer(true, "Blocked", 1);
    ck_assert_str_eq(core_tag_status(&a, T0), "Expired");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_tags");
    TCase *t = tcase_create("cache");
    tcase_add_test(t, test_valid_until);
    tcase_add_test(t, test_least_recently_used_goes);
    tcase_add_test(t, test_not_cached);
    tcase_add_test(t, test_status);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
