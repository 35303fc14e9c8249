/* Unit tests for services/ws-edge/edge_limits: token buckets, given the time, without sockets. */
#include "edge_limits.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>

START_TEST(test_bucket_burst_then_rate)
{
    edge_bucket_t b;
    edge_bucket_init(&b, 3, 1000);
    /* a full bucket lets the burst through at once, then refuses */
    for (int i = 0; i < 3; i++)
        ck_assert(edge_bucket_take(&b, 2, 3, 1000));
    ck_assert(!edge_bucket_take(&b, 2, 3, 1000));
    /* 2 tokens per second: one more after 500 ms, not before */
    ck_assert(!edge_bucket_take(&b, 2, 3, 1400));
    ck_assert(edge_bucket_take(&b, 2, 3, 1500));
    ck_assert(!edge_bucket_take(&b, 2, 3, 1500));
    /* a long pause refills only up to the burst */
    int taken = 0;
    while (edge_bucket_take(&b, 2, 3, 100000))
        taken++;
    ck_assert_int_eq(taken, 3);
}
END_TEST

START_TEST(test_bucket_disabled_and_clock)
{
    edge_bucket_t b;
    edge_bucket_init(&b, 1, 50);
    for (int i = 0; i < 1000; i++)
        ck_assert(edge_bucket_take(&b, 0, 1, 50)); /* rate 0: no limit */
    edge_bucket_init(&b, 1, 5000);
    ck_assert(edge_bucket_take(&b, 1, 1, 5000));
    ck_assert(!edge_bucket_take(&b, 1, 1, 4000)); /* time going back refills nothing */
    /* ... and the refill goes on from there: a step back of the (wall) clock never stalls it */
    ck_assert(!edge_bucket_take(&b, 1, 1, 4999));
    ck_assert(edge_bucket_take(&b, 1, 1, 5000));
    /* the millisecond clock wraps: elapsed is still computed right */
    edge_bucket_init(&b, 1, UINT32_MAX - 10);
    ck_assert(edge_bucket_take(&b, 1, 1, UINT32_MAX - 10));
    ck_assert(edge_bucket_take(&b, 1, 1, 1000));
}
END_TEST

START_TEST(test_iprate_per_address)
{
    edge_iprate_t *r = edge_iprate_new(1024, 1, 2);
    ck_assert_ptr_nonnull(r);
    ck_assert(edge_iprate_allow(r, 0x0a000001, 0));
    ck_assert(edge_iprate_allow(r, 0x0a000001, 0));
    ck_assert(!edge_iprate_allow(r, 0x0a000001, 0));
    /* another address has its own bucket */
    ck_assert(edge_iprate_allow(r, 0x0a000002, 0));
    ck_assert(edge_iprate_allow(r, 0x0a000002, 0));
    ck_assert(!edge_iprate_allow(r, 0x0a000002, 10));
    /* refill at 1 per second */
    ck_assert(edge_iprate_allow(r, 0x0a000001, 1000));
    ck_assert(!edge_iprate_allow(r, 0x0a000001, 1000));
    edge_iprate_destroy(&r);
    ck_assert_ptr_null(r);
    edge_iprate_destroy(&r); /* safe twice */
}
END_TEST

START_TEST(test_iprate_collisions_never_unbounded)
{
    /* one slot: every address collides; a busy slot is shared, so a flood from many
     * addresses is still held to the rate */
    edge_iprate_t *r = edge_iprate_new(1, 1, 5);
    int allowed = 0;
    for (uint64_t i = 0; i < 100; i++)
        allowed += edge_iprate_allow(r, 0x0a000000 + i, 0);
    ck_assert_int_eq(allowed, 5);
    /* once the owner's bucket is full again the slot is taken over with a full bucket */
    ck_assert(edge_iprate_allow(r, 0xc0a80101, 10000));
    edge_iprate_destroy(&r);
    /* rate 0 disables */
    r = edge_iprate_new(4, 0, 1);
    for (int i = 0; i < 50; i++)
        ck_assert(edge_iprate_allow(r, 0x0a000001, 0));
    edge_iprate_destroy(&r);
}
END_TEST

START_TEST(test_ipcount_exact)
{
    edge_ipcount_t *n = edge_ipcount_new();
    ck_assert_ptr_nonnull(n);
    ck_assert_uint_eq(edge_ipcount_get(n, 7), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(edge_ipcount_add(n, 7), 0);
    ck_assert_int_eq(edge_ipcount_add(n, 8), 0);
    ck_assert_uint_eq(edge_ipcount_get(n, 7), 3);
    ck_assert_uint_eq(edge_ipcount_get(n, 8), 1);
    ck_assert_uint_eq(edge_ipcount_addresses(n), 2);
    edge_ipcount_remove(n, 8);
    edge_ipcount_remove(n, 8); /* nothing held: nothing happens */
    ck_assert_uint_eq(edge_ipcount_get(n, 8), 0);
    ck_assert_uint_eq(edge_ipcount_addresses(n), 1); /* no entry kept at 0 */
    /* many addresses: exact counts, no sharing */
    for (uint64_t k = 100; k < 5100; k++)
        ck_assert_int_eq(edge_ipcount_add(n, k), 0);
    for (uint64_t k = 100; k < 5100; k++)
        ck_assert_uint_eq(edge_ipcount_get(n, k), 1);
    for (uint64_t k = 100; k < 5100; k++)
        edge_ipcount_remove(n, k);
    ck_assert_uint_eq(edge_ipcount_addresses(n), 1);
    edge_ipcount_destroy(&n);
    ck_assert_ptr_null(n);
    edge_ipcount_destroy(&n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_limits");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_bucket_burst_then_rate);
    tcase_add_test(tc, test_bucket_disabled_and_clock);
    tcase_add_test(tc, test_iprate_per_address);
    tcase_add_test(tc, test_iprate_collisions_never_unbounded);
    tcase_add_test(tc, test_ipcount_exact);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
