/* Unit tests for services/kafka-bridge/command_route: every routing outcome, the park back-off,
 * the takeover decisions and the core backstop deadline. */
#include "command_route.h"

#include <check.h>
#include <stdio.h>

#define T0 1795000000000LL /* some ms since the epoch */

static route_t route(const command_record_t *r, const char *reader, bool known, const char *owner,
                     bool live, int64_t now)
{
    route_input_t in = {.self_pod = "pod-a",
                        .reader_pod = reader,
                        .now_ms = now,
                        .max_hops = 3,
                        .owner_known = known,
                        .owner = owner,
                        .owner_live = live};
    return command_route(r, &in);
}

START_TEST(test_route_outcomes)
{
    command_record_t r = {
        .command_id = "c", .cp_id = "CP", .action = "reset", .expires_at_ms = T0 + 1000};
    /* another pod's record in a shared partition: skipped before anything else */
    snprintf(r.target_pod, sizeof(r.target_pod), "%s", "pod-z");
    ck_assert_int_eq(route(&r, "pod-a", true, "pod-a", true, T0 + 5000), ROUTE_SKIP);
    /* the pod a taken-over partition belonged to is the addressee there */
    snprintf(r.target_pod, sizeof(r.target_pod), "%s", "pod-dead");
    ck_assert_int_ne(route(&r, "pod-dead", false, "", false, T0), ROUTE_SKIP);
    snprintf(r.target_pod, sizeof(r.target_pod), "%s", "pod-a");
    ck_assert_int_eq(route(&r, "pod-a", false, NULL, false, T0), ROUTE_LOOKUP);
    ck_assert_int_eq(route(&r, "pod-a", true, "pod-a", true, T0), ROUTE_HERE);
    ck_assert_int_eq(route(&r, "pod-a", true, "pod-b", true, T0), ROUTE_FORWARD);
    ck_assert_int_eq(route(&r, "pod-a", true, "", false, T0), ROUTE_PARK);
    ck_assert_int_eq(route(&r, "pod-a", true, "pod-b", false, T0), ROUTE_PARK); /* no lease */
    /* expiry wins over every owner, at the exact instant too */
    ck_assert_int_eq(route(&r, "pod-a", true, "pod-a", true, T0 + 1000), ROUTE_EXPIRED);
    ck_assert_int_eq(route(&r, "pod-a", false, NULL, false, T0 + 1000), ROUTE_EXPIRED);
    /* hop bound: forwarded at most max_hops times; being here is fine at any hop count */
    r.hops = 2;
    ck_assert_int_eq(route(&r, "pod-a", true, "pod-b", true, T0), ROUTE_FORWARD);
    r.hops = 3;
    ck_assert_int_eq(route(&r, "pod-a", true, "pod-b", true, T0), ROUTE_HOPS);
    ck_assert_int_eq(route(&r, "pod-a", true, "pod-a", true, T0), ROUTE_HERE);
    /* empty target_pod: addressed to the partition's pod */
    r.target_pod[0] = '\0';
    ck_assert_int_eq(route(&r, "pod-a", true, "pod-a", true, T0), ROUTE_HERE);
    /* a taken-over partition whose pod holds the charge point, alive again: left to it, at any
     * hop count, never forwarded back into the partition it was read from; that pod without a
     * lease (its mapping outlived it): parked; another pod: forwarded; this pod: here */
    ck_assert_int_eq(route(&r, "pod-dead", true, "pod-dead", true, T0), ROUTE_YIELD);
    r.hops = 0;
    ck_assert_int_eq(route(&r, "pod-dead", true, "pod-dead", true, T0), ROUTE_YIELD);
    ck_assert_int_eq(route(&r, "pod-dead", true, "pod-dead", false, T0), ROUTE_PARK);
    ck_assert_int_eq(route(&r, "pod-dead", true, "pod-b", true, T0), ROUTE_FORWARD);
    ck_assert_int_eq(route(&r, "pod-dead", true, "pod-a", true, T0), ROUTE_HERE);
    ck_assert_int_eq(route(&r, "pod-dead", true, "pod-dead", true, T0 + 1000), ROUTE_EXPIRED);
    ck_assert_str_eq(command_route_name(ROUTE_YIELD), "yield");
    ck_assert_str_eq(command_route_name(ROUTE_HOPS), "hop_limit");
}
END_TEST

START_TEST(test_park_delay)
{
    ck_assert_int_eq(command_park_delay_ms(1, 500, 8000, T0, T0 + 100000), 500);
    ck_assert_int_eq(command_park_delay_ms(2, 500, 8000, T0, T0 + 100000), 1000);
    ck_assert_int_eq(command_park_delay_ms(5, 500, 8000, T0, T0 + 100000), 8000);
    ck_assert_int_eq(command_park_delay_ms(60, 500, 8000, T0, T0 + 100000), 8000);
    /* never sleeps past the expiry */
    ck_assert_int_eq(command_park_delay_ms(5, 500, 8000, T0, T0 + 300), 300);
    ck_assert_int_eq(command_park_delay_ms(5, 500, 8000, T0, T0 - 5), 0);
}
END_TEST

START_TEST(test_takeover_decisions)
{
    ck_assert_int_eq(command_takeover_action("pod-a", "pod-c", true, false), TAKEOVER_START);
    ck_assert_int_eq(command_takeover_action("pod-a", "pod-c", true, true), TAKEOVER_KEEP);
    ck_assert_int_eq(command_takeover_action("pod-a", "pod-c", false, true), TAKEOVER_STOP);
    ck_assert_int_eq(command_takeover_action("pod-a", "pod-c", false, false), TAKEOVER_IGNORE);
    /* never our own partition (we read it anyway), never a nameless pod */
    ck_assert_int_eq(command_takeover_action("pod-a", "pod-a", true, false), TAKEOVER_IGNORE);
    ck_assert_int_eq(command_takeover_action("pod-a", "", true, false), TAKEOVER_IGNORE);
    ck_assert_int_eq(command_takeover_action("pod-a", NULL, true, false), TAKEOVER_IGNORE);
    /* drained: at the end and nothing open, parked or at a core */
    ck_assert(command_takeover_drained(true, 0, 0));
    ck_assert(!command_takeover_drained(false, 0, 0)); /* not at the end yet */
    ck_assert(!command_takeover_drained(true, 1, 1));  /* a parked record */
    ck_assert(!command_takeover_drained(true, 0, 1));  /* a command still held */
    /* core backstop: after the expiry (or now, if already past) plus the grace */
    ck_assert_int_eq(command_core_deadline_ms(T0, T0 + 5000, 1000), T0 + 6000);
    ck_assert_int_eq(command_core_deadline_ms(T0, T0 - 5000, 1000), T0 + 1000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("command_route");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_route_outcomes);
    tcase_add_test(tc, test_park_delay);
    tcase_add_test(tc, test_takeover_decisions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
