/* test_backoff_histo.c: unit tests of the OCPP reconnect back-off schedule and of the latency
 * histogram's percentiles (tools/cp-sim/backoff.c, histo.c). */
#include <check.h>
#include <stdlib.h>

#include "backoff.h"
#include "histo.h"

START_TEST(test_backoff_doubles_then_stays)
{
    backoff_policy_t p = {.min_ms = 1000, .range_ms = 0, .repeat_times = 3};
    ck_assert_uint_eq(backoff_wait_ms(&p, 0, 12345), 1000);
    ck_assert_uint_eq(backoff_wait_ms(&p, 1, 12345), 2000);
    ck_assert_uint_eq(backoff_wait_ms(&p, 2, 12345), 4000);
    ck_assert_uint_eq(backoff_wait_ms(&p, 3, 12345), 8000);
    ck_assert_uint_eq(backoff_wait_ms(&p, 4, 12345), 8000);
    ck_assert_uint_eq(backoff_wait_ms(&p, 60000, 1), 8000);
}
END_TEST

START_TEST(test_backoff_jitter_bounds)
{
    backoff_policy_t p = {.min_ms = 500, .range_ms = 250, .repeat_times = 2};
    ck_assert_uint_eq(backoff_wait_ms(&p, 0, 0), 500);
    ck_assert_uint_eq(backoff_wait_ms(&p, 0, 250), 750);
    ck_assert_uint_eq(backoff_wait_ms(&p, 0, 251), 500);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t r = 0; r < 10000; r++) {
        uint64_t w = backoff_wait_ms(&p, 5, r * 2654435761u);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    ck_assert_uint_ge(lo, 2000);
    ck_assert_uint_le(hi, 2250);
    ck_assert_uint_gt(hi, lo); /* the jitter spreads the stations */
}
END_TEST

START_TEST(test_backoff_huge_repeat_is_capped)
{
    backoff_policy_t p = {.min_ms = 1, .range_ms = 0, .repeat_times = 1000};
    ck_assert_uint_eq(backoff_wait_ms(&p, 1000, 0), 1u << 20);
}
END_TEST

START_TEST(test_histo_empty_and_exact)
{
    histo_t h = {0};
    ck_assert_uint_eq(histo_quantile(&h, 0.99), 0);
    for (uint64_t v = 1; v <= 20; v++)
        histo_record(&h, v);
    ck_assert_uint_eq(h.count, 20);
    ck_assert_uint_eq(histo_quantile(&h, 0.5), 10);
    ck_assert_uint_eq(histo_quantile(&h, 1.0), 20);
    ck_assert_uint_eq(histo_quantile(&h, 0.0), 1);
}
END_TEST

START_TEST(test_histo_relative_error)
{
    histo_t h = {0};
    for (uint64_t v = 1; v <= 100000; v++)
        histo_record(&h, v);
    double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (int i = 0; i < 4; i++) {
        double want = qs[i] * 100000;
        double got = (double)histo_quantile(&h, qs[i]);
        ck_assert_msg(got >= want && got <= want * 1.04, "q%.3f: %.0f vs %.0f", qs[i], got, want);
    }
    ck_assert_uint_eq(histo_quantile(&h, 1.0), 100000);
    ck_assert_uint_eq(h.max, 100000);
}
END_TEST

START_TEST(test_histo_outliers_and_merge)
{
    histo_t a = {0}, b = {0};
    for (int i = 0; i < 999; i++)
        histo_record(&a, 100);
    histo_record(&b, 5000000);
    histo_record(&b, UINT64_MAX / 2);
    histo_merge(&a, &b);
    ck_assert_uint_eq(a.count, 1001);
    ck_assert_uint_le(histo_quantile(&a, 0.99), 103);
    ck_assert_uint_eq(histo_quantile(&a, 1.0), UINT64_MAX / 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cp-sim backoff+histo");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, test_backoff_doubles_then_stays);
    tcase_add_test(tc, test_backoff_jitter_bounds);
    tcase_add_test(tc, test_backoff_huge_repeat_is_capped);
    tcase_add_test(tc, test_histo_empty_and_exact);
    tcase_add_test(tc, test_histo_relative_error);
    tcase_add_test(tc, test_histo_outliers_and_merge);
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
