/* Unit tests for services/ws-edge/edge_wheel: timing wheel, liveness decision, drain quota. */
#include "edge_wheel.h"

#include <check.h>
#include <stddef.h>

typedef struct {
    edge_wheel_node_t node;
    int id;
    int fired;
    uint64_t fired_at;
} item_t;

static uint64_t g_now;

static void on_due(edge_wheel_node_t *n, void *arg)
{
    item_t *it = (item_t *)((char *)n - offsetof(item_t, node));
    it->fired++;
    it->fired_at = g_now;
    int *count = arg;
    (*count)++;
}

static size_t advance(edge_wheel_t *w, uint64_t to, int *count)
{
    size_t total = 0;
    while (g_now < to) {
        g_now++;
        total += edge_wheel_advance(w, g_now, on_due, count);
    }
    return total;
}

START_TEST(test_wheel_fires_each_node_at_its_tick)
{
    g_now = 100;
    edge_wheel_t *w = edge_wheel_new(16, g_now);
    item_t it[5] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}, {.id = 4}};
    uint64_t due[5] = {103, 101, 110, 103, 115};
    for (int i = 0; i < 5; i++)
        edge_wheel_schedule(w, &it[i].node, due[i]);
    ck_assert_uint_eq(edge_wheel_size(w), 5);
    int count = 0;
    advance(w, 120, &count);
    ck_assert_int_eq(count, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(it[i].fired, 1);
        ck_assert_uint_eq(it[i].fired_at, due[i]);
        ck_assert(!edge_wheel_scheduled(&it[i].node));
    }
    ck_assert_uint_eq(edge_wheel_size(w), 0);
    edge_wheel_destroy(&w);
    ck_assert_ptr_null(w);
}
END_TEST

START_TEST(test_wheel_cancel_reschedule_horizon)
{
    g_now = 0;
    edge_wheel_t *w = edge_wheel_new(8, 0);
    item_t a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    edge_wheel_schedule(w, &a.node, 3);
    edge_wheel_schedule(w, &b.node, 3);
    edge_wheel_schedule(w, &c.node, 1000); /* beyond the horizon: filed at now + 7 */
    edge_wheel_cancel(w, &b.node);
    edge_wheel_cancel(w, &b.node);      /* safe twice */
    edge_wheel_schedule(w, &a.node, 5); /* moves */
    edge_wheel_schedule(w, &b.node, 0); /* in the past: next tick */
    int count = 0;
    advance(w, 1, &count);
    ck_assert_int_eq(b.fired, 1);
    ck_assert_int_eq(a.fired, 0);
    advance(w, 5, &count);
    ck_assert_int_eq(a.fired, 1);
    ck_assert_uint_eq(a.fired_at, 5);
    advance(w, 7, &count);
    ck_assert_int_eq(c.fired, 1);
    ck_assert_uint_eq(c.fired_at, 7);
    ck_assert_int_eq(count, 3);
    edge_wheel_destroy(&w);
}
END_TEST

static edge_wheel_t *g_wheel;

static void reschedule_self(edge_wheel_node_t *n, void *arg)
{
    int *count = arg;
    (*count)++;
    if (*count < 4)
        edge_wheel_schedule(g_wheel, n, g_now + 2);
}

START_TEST(test_wheel_callback_reschedules_and_jumps)
{
    g_now = 10;
    g_wheel = edge_wheel_new(4, 10);
    item_t a = {.id = 1};
    edge_wheel_schedule(g_wheel, &a.node, 11);
    int count = 0;
    for (g_now = 11; g_now <= 30; g_now++)
        edge_wheel_advance(g_wheel, g_now, reschedule_self, &count);
    ck_assert_int_eq(count, 4); /* at 11, 13, 15, 17: then not rescheduled */
    ck_assert_uint_eq(edge_wheel_size(g_wheel), 0);
    /* a jump of many revolutions still fires every node once */
    item_t x = {.id = 2}, y = {.id = 3};
    edge_wheel_schedule(g_wheel, &x.node, 32);
    edge_wheel_schedule(g_wheel, &y.node, 33);
    count = 0;
    ck_assert_uint_eq(edge_wheel_advance(g_wheel, 1000, on_due, &count), 2);
    ck_assert_int_eq(x.fired + y.fired, 2);
    edge_wheel_destroy(&g_wheel);
}
END_TEST

START_TEST(test_liveness)
{
    uint64_t next;
    /* interval 30, timeout 90: quiet for 10 ticks -> wait until tick 30 after the traffic */
    ck_assert_int_eq(edge_liveness_check(110, 100, 0, 30, 90, &next), EDGE_LIVE_WAIT);
    ck_assert_uint_eq(next, 130);
    ck_assert_int_eq(edge_liveness_check(130, 100, 0, 30, 90, &next), EDGE_LIVE_PING);
    ck_assert_uint_eq(next, 160);
    /* pinged at 130, no answer: wait for the next interval, then ping again */
    ck_assert_int_eq(edge_liveness_check(140, 100, 130, 30, 90, &next), EDGE_LIVE_WAIT);
    ck_assert_uint_eq(next, 160);
    ck_assert_int_eq(edge_liveness_check(160, 100, 130, 30, 90, &next), EDGE_LIVE_PING);
    ck_assert_uint_eq(next, 190);
    /* silent for the whole window: hang up */
    ck_assert_int_eq(edge_liveness_check(190, 100, 160, 30, 90, &next), EDGE_LIVE_HANGUP);
    /* a pong (traffic) after the ping: back to waiting from the pong */
    ck_assert_int_eq(edge_liveness_check(135, 132, 130, 30, 90, &next), EDGE_LIVE_WAIT);
    ck_assert_uint_eq(next, 162);
    /* timeout shorter than the interval: the hang-up comes first */
    ck_assert_int_eq(edge_liveness_check(101, 100, 0, 30, 5, &next), EDGE_LIVE_WAIT);
    ck_assert_uint_eq(next, 105);
}
END_TEST

START_TEST(test_drain_quota)
{
    ck_assert_uint_eq(edge_drain_quota(1000, 10000, 0), 0);
    ck_assert_uint_eq(edge_drain_quota(1000, 10000, 1000), 100);
    ck_assert_uint_eq(edge_drain_quota(1000, 10000, 5000), 500);
    ck_assert_uint_eq(edge_drain_quota(1000, 10000, 9999), 999);
    ck_assert_uint_eq(edge_drain_quota(1000, 10000, 10000), 1000);
    ck_assert_uint_eq(edge_drain_quota(1000, 10000, 99999), 1000);
    ck_assert_uint_eq(edge_drain_quota(7, 0, 0), 7);
    /* monotonic: every step closes at least as many as the previous one */
    size_t prev = 0;
    for (uint64_t t = 0; t <= 3000; t += 100) {
        size_t q = edge_drain_quota(300000, 3000, t);
        ck_assert_uint_ge(q, prev);
        prev = q;
    }
    ck_assert_uint_eq(prev, 300000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_wheel");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_wheel_fires_each_node_at_its_tick);
    tcase_add_test(tc, test_wheel_cancel_reschedule_horizon);
    tcase_add_test(tc, test_wheel_callback_reschedules_and_jumps);
    tcase_add_test(tc, test_liveness);
    tcase_add_test(tc, test_drain_quota);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
