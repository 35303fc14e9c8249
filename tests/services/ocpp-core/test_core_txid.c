/* Unit tests for services/ocpp-core/core_txid, the pool of OCPP 1.6 transaction ids: the first
 * block at once, one request in flight, timeout and backoff, late and foreign ranges, bad ranges,
 * the low-water mark, returned candidates first, and exhaustion counted. */
#include "core_metrics.h"
#include "core_txid.h"
#include "log.h"
#include "metrics.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>

#define SEC 1000000ULL
#define T0  (1735689600ULL * SEC)

static core_txid_t *pool(uint32_t block, uint32_t low)
{
    log_set_fd(-1);
    core_txid_config_t cfg = {.block_size = block,
                              .low_water = low,
                              .timeout_us = SEC,
                              .backoff_min_us = SEC / 10,
                              .backoff_max_us = 2 * SEC,
                              .request_base = 500};
    core_txid_t *p = core_txid_new(&cfg);
    ck_assert_ptr_nonnull(p);
    return p;
}

static uint64_t blocks(const char *status)
{
    char l[64];
    snprintf(l, sizeof(l), "status=\"%s\"", status);
    return metrics_counter_get(metrics_def_counter(&CORE_METRICS[CORE_M_TXID_BLOCKS], l));
}

START_TEST(test_pool_blocks_and_takes)
{
    core_txid_t *p = pool(3, 2);
    uint64_t req, req2;
    uint32_t n;
    ck_assert_uint_eq(core_txid_take(p), 0);          /* empty */
    ck_assert_uint_eq(core_txid_next_deadline(p), 1); /* due now */
    ck_assert_int_eq(core_txid_block_due(p, T0, &req, &n), 1);
    ck_assert_uint_eq(req, 501);
    ck_assert_uint_eq(n, 3);
    core_txid_sent(p, 0, T0);
    ck_assert_int_eq(core_txid_in_flight(p), 1);
    ck_assert_int_eq(core_txid_block_due(p, T0 + SEC / 2, &req2, &n), 0); /* one in flight */
    ck_assert_uint_eq(core_txid_next_deadline(p), T0 + SEC);
    ck_assert_int_eq(core_txid_on_range(p, 500, 1, 3, 0, T0), -ESTALE); /* a former run's */
    ck_assert_int_eq(core_txid_on_range(p, 502, 1, 3, 0, T0), -ESTALE); /* never asked */
    ck_assert_int_eq(core_txid_on_range(p, req, 10, 3, 0, T0), 0);
    ck_assert_uint_eq(core_txid_available(p), 3);
    ck_assert_uint_eq(core_txid_next_deadline(p), 0);
    ck_assert_uint_eq(core_txid_take(p), 10);
    ck_assert_uint_eq(core_txid_available(p), 2);
    ck_assert_int_eq(core_txid_block_due(p, T0, &req, &n), 0); /* 2: not below low water */
    ck_assert_uint_eq(core_txid_take(p), 11);
    core_txid_give_back(p, 10); /* a claim found an earlier id: 10 is free again */
    ck_assert_uint_eq(core_txid_take(p), 10);
    ck_assert_int_eq(core_txid_block_due(p, T0, &req, &n), 1); /* 1 left */
    core_txid_sent(p, 0, T0);
    ck_assert_uint_eq(core_txid_take(p), 12);
    ck_assert_uint_eq(core_txid_take(p), 0);
    ck_assert_int_eq(core_txid_on_range(p, req, 2147483646, 2, 0, T0), 0); /* ends at 2^31-1 */
    ck_assert_uint_eq(core_txid_take(p), 2147483646);
    ck_assert_uint_eq(core_txid_take(p), 2147483647);
    core_txid_destroy(&p);
    core_txid_destroy(&p);
}
END_TEST

START_TEST(test_pool_timeout_backoff_errors)
{
    core_txid_t *p = pool(10, 0);
    uint64_t req, late;
    uint32_t n;
    uint64_t timeouts = blocks("timeout"), refused = blocks("refused"),
             exhausted = blocks("exhausted"), errors = blocks("error");
    ck_assert_int_eq(core_txid_block_due(p, T0, &late, &n), 1);
    core_txid_sent(p, 0, T0);
    ck_assert_int_eq(core_txid_block_due(p, T0 + SEC, &req, &n), 1); /* timed out: again */
    ck_assert_uint_eq(blocks("timeout"), timeouts + 1);
    ck_assert_uint_ne(req, late);
    core_txid_sent(p, -ENOBUFS, T0 + SEC); /* the outbox refused it: backoff 100 ms */
    ck_assert_uint_eq(blocks("refused"), refused + 1);
    ck_assert_uint_eq(core_txid_next_deadline(p), T0 + SEC + SEC / 10);
    ck_assert_int_eq(core_txid_block_due(p, T0 + SEC, &req, &n), 0);
    ck_assert_int_eq(core_txid_block_due(p, T0 + SEC + SEC / 10, &req, &n), 1);
    core_txid_sent(p, 0, T0 + SEC + SEC / 10);
    /* the registry: Redis away, then exhausted; backoff doubles, then the longest */
    ck_assert_int_eq(core_txid_on_range(p, req, 0, 0, -EAGAIN, T0 + 2 * SEC), -EAGAIN);
    ck_assert_uint_eq(core_txid_next_deadline(p), T0 + 2 * SEC + SEC / 5);
    ck_assert_int_eq(core_txid_block_due(p, T0 + 3 * SEC, &req, &n), 1);
    core_txid_sent(p, 0, T0 + 3 * SEC);
    ck_assert_int_eq(core_txid_on_range(p, req, 0, 0, -ENOSPC, T0 + 3 * SEC), -ENOSPC);
    ck_assert_uint_eq(blocks("exhausted"), exhausted + 1);
    ck_assert_uint_eq(core_txid_next_deadline(p), T0 + 5 * SEC);
    /* a bad range is an error, never handed out */
    ck_assert_int_eq(core_txid_block_due(p, T0 + 5 * SEC, &req, &n), 1);
    core_txid_sent(p, 0, T0 + 5 * SEC);
    ck_assert_int_eq(core_txid_on_range(p, req, 2147483647, 2, 0, T0 + 5 * SEC), -EINVAL);
    ck_assert_uint_eq(blocks("error"), errors + 1);
    ck_assert_uint_eq(core_txid_take(p), 0);
    /* the first request's range, late: still this core's */
    ck_assert_int_eq(core_txid_on_range(p, late, 70, 10, 0, T0 + 6 * SEC), 0);
    ck_assert_uint_eq(core_txid_take(p), 70);
    core_txid_destroy(&p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_txid");
    TCase *t = tcase_create("pool");
    tcase_add_test(t, test_pool_blocks_and_takes);
    tcase_add_test(t, test_pool_timeout_backoff_errors);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    metrics_shutdown();
    return failed ? 1 : 0;
}
