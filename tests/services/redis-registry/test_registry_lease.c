/* Unit tests for services/redis-registry/registry_lease: the lease refresh, dead pods, the
 * sweeper lock and sweep, and the takeover claims, step by step with replies fed by the test
 * (no Redis) and every envelope sent to the bridge recorded. */
#include "registry_lease.h"
#include "registry_logic.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "registry_test.h"

#define GRACE_MS 1000

static registry_lease_t *L;
static recorder_t REC;
static uint64_t NOW = 1795489200000000u;

static void expired(void *arg)
{
    ((recorder_t *)arg)->expired++;
}

static void setup(void)
{
    log_set_fd(-1);
    memset(&REC, 0, sizeof(REC));
    registry_lease_config_t cfg = {.pod_id = "pod-a",
                                   .lease_ttl_ms = 3000,
                                   .lease_refresh_ms = 1000,
                                   .sweep_batch = 100,
                                   .sweep_grace_ms = GRACE_MS,
                                   .orphan_forget_ms = 86400000,
                                   .events_topic = "ocpp-events-up"};
    registry_lease_ops_t ops = {.to_bridge = rec_to_bridge, .lease_expired = expired};
    L = registry_lease_new(&cfg, &ops, &REC);
    ck_assert_ptr_nonnull(L);
}

static void teardown(void)
{
    registry_lease_destroy(&L);
    registry_lease_destroy(&L);
    metrics_shutdown();
}

static int test_replies(const registry_reply_t *const *replies, size_t n)
{
    return registry_lease_on_replies(L, replies, n, NOW);
}

static const registry_batch_t *batch(size_t expect)
{
    return expect_batch(registry_lease_batch(L), expect);
}

/* One check-pods round up to the takeover step of the single dead pod "pod-b": the pods set,
 * the leases, the lock (answered lock). */
static void round_to_pod_b(int lock)
{
    ck_assert_int_eq(registry_lease_check_pods(L, NOW), 0);
    ck_assert_str_eq(cmd(batch(1), 0), "SMEMBERS ocppgw:pods");
    ck_assert_int_eq(feed(1, A(2, S("pod-a"), S("pod-b"))), 0);
    const registry_batch_t *b = batch(2);
    ck_assert_str_eq(cmd(b, 0), "EXISTS pod:{pod-a}");
    ck_assert_str_eq(cmd(b, 1), "EXISTS pod:{pod-b}");
    ck_assert_int_eq(feed(2, I(0), I(0)), 0); /* our own lease missing is not "dead" */
    ck_assert_str_eq(cmd(batch(1), 0), "LOCK ocppgw:sweeper pod-a 3000");
    ck_assert_int_eq(feed(1, I(lock)), 0);
}

#define TAKEOVER_KEYS                                                                              \
    "TAKEOVER takeover:{pod-b} takeover:{pod-b}:epoch pod:{pod-b} takeover:{pod-b}:forgotten "     \
    "takeover:{pod-b}:since pod:{pod-b}:conns ocppgw:pods pod-a 3000 "

static void takeover_answer(long long epoch, const char *state)
{
    const registry_batch_t *b = batch(1);
    ck_assert_str_eq(cmd(b, 0), TAKEOVER_KEYS "try 86400000 pod-b 604800000");
    ck_assert_int_eq(feed(1, A(3, I(epoch), S(state), I(1000))), 0);
}

START_TEST(test_refresh)
{
    ck_assert_int_eq(registry_lease_refresh(L, 3, NOW), 0);
    ck_assert_int_eq(registry_lease_refresh(L, 3, NOW), -EBUSY);
    const registry_batch_t *b = batch(4);
    ck_assert_str_eq(cmd(b, 0), "EXISTS pod:{pod-a}");
    ck_assert_str_eq(cmd(b, 1), "SET pod:{pod-a} {\"registrations\":3,\"refreshed_us\":"
                                "1795489200000000} PX 3000");
    ck_assert_str_eq(cmd(b, 2), "SADD ocppgw:pods pod-a");
    ck_assert_str_eq(cmd(b, 3), "DEL takeover:{pod-a}:forgotten takeover:{pod-a}:since");
    ck_assert_int_eq(feed(4, I(1), registry_reply_text(REGISTRY_REPLY_STATUS, "OK", 2), I(0), I(0)),
                     0);
    batch(0);
    ck_assert_int_eq(REC.expired, 0);
}
END_TEST

/* A lease found missing (paused, cut off): every registration is re-asserted. */
START_TEST(test_refresh_finds_lease_expired)
{
    registry_lease_refresh(L, 0, NOW);
    ck_assert_int_eq(feed(4, I(0), registry_reply_text(REGISTRY_REPLY_STATUS, "OK", 2), I(1), I(0)),
                     0);
    ck_assert_int_eq(REC.expired, 1);
    /* demoted primary: drop the connection, do not conclude anything */
    registry_lease_refresh(L, 0, NOW);
    ck_assert_int_eq(
        feed(4, I(0), E("READONLY You can't write against a read only replica."), I(0), I(0)),
        -EPIPE);
    ck_assert_int_eq(REC.expired, 1);
    batch(0);
    /* broken after two replies */
    registry_lease_refresh(L, 0, NOW);
    ck_assert_int_eq(feed(2, I(0), I(0)), -EPIPE);
    ck_assert_int_eq(REC.expired, 1);
    batch(0);
}
END_TEST

/* A dead pod is swept only once sweep_grace_ms have passed since we first saw it dead, and only
 * while we hold the sweeper lock; every mapping removed emits one device.disconnected. */
START_TEST(test_sweep_after_grace_with_lock)
{
    round_to_pod_b(1);
    ck_assert_uint_eq(registry_lease_dead_pods(L), 1);
    takeover_answer(5, "won"); /* first seen now: no sweep yet, straight to the takeover */
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_int_eq(REC.sent[0].type, ENV_TAKEOVER);
    ck_assert_str_eq(REC.sent[0].text, "pod-b");
    ck_assert_uint_eq(REC.sent[0].epoch, 5);
    ck_assert(REC.sent[0].flag);
    batch(0);

    NOW += GRACE_MS * 1000u - 1;
    round_to_pod_b(1);
    takeover_answer(5, "held"); /* still within the grace */
    ck_assert_uint_eq(REC.n, 1);

    NOW += 1;
    round_to_pod_b(0); /* grace over, but another registry holds the lock */
    takeover_answer(5, "held");
    ck_assert_uint_eq(REC.n, 1);

    round_to_pod_b(1);
    const registry_batch_t *b = batch(1);
    ck_assert_str_eq(cmd(b, 0), "SRANDMEMBER pod:{pod-b}:conns 100");
    ck_assert_int_eq(feed(1, A(3, S("CP1"), S("CP2"), S("CP3"))), 0);
    b = batch(3);
    ck_assert_str_eq(cmd(b, 0), "SWEEP conn:CP1 {conn:CP1}:meta pod:{pod-b}:conns pod:{pod-b} "
                                "{conn:CP1}:epoch pod-b CP1 604800000");
    ck_assert_uint_eq(registry_batch_numkeys(b, 0), 5);
    /* CP1 swept by us; CP2 no longer pod-b's (or swept by another); CP3 as well */
    ck_assert_int_eq(feed(3, A(2, I(1), I(42)), A(2, I(0), I(0)), A(2, I(0), I(0))), 0);
    ck_assert_uint_eq(REC.n, 2);
    ck_assert_int_eq(REC.sent[1].type, ENV_EVENT);
    ck_assert_str_eq(REC.sent[1].identity, "CP1");
    ck_assert_str_eq(REC.sent[1].text, disc_id("swept", "CP1", 42));
    takeover_answer(5, "held");
    ck_assert_uint_eq(REC.n, 2);
    batch(0);
}
END_TEST

/* The connection breaks in the middle of a sweep: what was answered is emitted, the round is
 * abandoned. */
START_TEST(test_sweep_broken)
{
    round_to_pod_b(1);
    takeover_answer(0, "other");
    NOW += GRACE_MS * 1000u;
    round_to_pod_b(1);
    ck_assert_int_eq(feed(1, A(2, S("CP1"), S("CP2"))), 0);
    ck_assert_int_eq(feed(1, A(2, I(1), I(7))), -EPIPE);
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_str_eq(REC.sent[0].text, disc_id("swept", "CP1", 7));
    batch(0);
    /* an empty set: no sweep round trip, straight to the takeover */
    round_to_pod_b(1);
    ck_assert_int_eq(feed(1, A(0)), 0);
    takeover_answer(0, "other");
    batch(0);
}
END_TEST

/* A pod seen alive again waits a whole grace when it dies again, even if the round that saw it
 * alive was cut short before forgetting it. */
START_TEST(test_grace_rearmed_when_alive)
{
    round_to_pod_b(1);
    takeover_answer(0, "other");
    NOW += GRACE_MS * 1000u;
    /* pod-b alive (and pod-c dead, so that the round goes on to the lock), then broken */
    registry_lease_check_pods(L, NOW);
    ck_assert_int_eq(feed(1, A(2, S("pod-b"), S("pod-c"))), 0);
    ck_assert_int_eq(feed(2, I(1), I(0)), 0);
    ck_assert_int_eq(feed(0), -EPIPE);
    /* pod-b dead again: first seen now, so no sweep yet although the old sighting is old */
    round_to_pod_b(1);
    takeover_answer(0, "other");
    batch(0);
}
END_TEST

START_TEST(test_takeover_lost_and_pod_back)
{
    round_to_pod_b(0);
    takeover_answer(5, "won");
    round_to_pod_b(0);
    takeover_answer(0, "other"); /* our claim expired and another pod has it */
    ck_assert_uint_eq(REC.n, 2);
    ck_assert(!REC.sent[1].flag);
    ck_assert_uint_eq(REC.sent[1].epoch, 5);
    round_to_pod_b(0);
    takeover_answer(8, "won");
    ck_assert_uint_eq(REC.n, 3);
    ck_assert(REC.sent[2].flag);
    ck_assert_uint_eq(REC.sent[2].epoch, 8);

    /* pod-b has a lease again: our claim released, the bridge told to stop */
    ck_assert_int_eq(registry_lease_check_pods(L, NOW), 0);
    ck_assert_int_eq(feed(1, A(2, S("pod-a"), S("pod-b"))), 0);
    ck_assert_int_eq(feed(2, I(1), I(1)), 0);
    const registry_batch_t *b = batch(1);
    ck_assert_str_eq(cmd(b, 0), TAKEOVER_KEYS "release 86400000 pod-b 604800000");
    ck_assert_uint_eq(REC.n, 3); /* told after the release ran */
    ck_assert_int_eq(feed(1, A(2, I(8), S("released"))), 0);
    ck_assert_uint_eq(REC.n, 4);
    ck_assert_int_eq(REC.sent[3].type, ENV_TAKEOVER);
    ck_assert(!REC.sent[3].flag);
    ck_assert_uint_eq(REC.sent[3].epoch, 8);
    ck_assert_uint_eq(registry_lease_dead_pods(L), 0);
    batch(0);
}
END_TEST

/* A dead pod we never won: forgotten without a round trip once it is back. */
START_TEST(test_pod_back_without_claim)
{
    round_to_pod_b(0);
    takeover_answer(0, "other");
    ck_assert_uint_eq(registry_lease_dead_pods(L), 1);
    registry_lease_check_pods(L, NOW);
    ck_assert_int_eq(feed(1, A(0)), 0); /* nobody known any more */
    batch(0);
    ck_assert_uint_eq(registry_lease_dead_pods(L), 0);
    ck_assert_uint_eq(REC.n, 0);
}
END_TEST

/* TAKEOVER_DONE means the bridge stopped reading for good: never a Redis job. For a claim we
 * still hold (the partition must be read while the pod is dead) the takeover is repeated. */
START_TEST(test_takeover_done)
{
    env_takeover_done_t done = {.pod = env_str("pod-b"), .epoch = 4};
    ck_assert_int_eq(registry_lease_on_takeover_done(L, &done, NOW), -ENOENT);
    round_to_pod_b(0);
    takeover_answer(0, "other");
    done.epoch = 0; /* a dead pod we track but hold no claim on */
    ck_assert_int_eq(registry_lease_on_takeover_done(L, &done, NOW), -ENOENT);
    done.epoch = 4;
    round_to_pod_b(0);
    takeover_answer(5, "won");
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_int_eq(registry_lease_on_takeover_done(L, &done, NOW), -ENOENT); /* other epoch */
    ck_assert_uint_eq(REC.n, 1);
    done.epoch = 5;
    ck_assert_int_eq(registry_lease_on_takeover_done(L, &done, NOW), 0);
    batch(0); /* no Redis work */
    ck_assert_uint_eq(REC.n, 2);
    ck_assert_int_eq(REC.sent[1].type, ENV_TAKEOVER);
    ck_assert(REC.sent[1].flag);
    ck_assert_uint_eq(REC.sent[1].epoch, 5);
    ck_assert_uint_eq(registry_lease_held(L, "pod-b"), 5); /* still ours, still renewed */
    round_to_pod_b(0);
    takeover_answer(5, "held");
    ck_assert_uint_eq(REC.n, 2);
}
END_TEST

/* The claim is kept round after round while the pod is dead, whatever the bridge drained. */
START_TEST(test_claim_kept_while_dead)
{
    round_to_pod_b(0);
    takeover_answer(5, "won");
    for (int i = 0; i < 20; i++) {
        NOW += 1000000u;
        round_to_pod_b(0);
        takeover_answer(5, "held");
    }
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_uint_eq(registry_lease_held(L, "pod-b"), 5);
}
END_TEST

/* A pod dead longer than orphan_forget_ms: the script says forgotten, our claim ends. */
START_TEST(test_orphan_forgotten)
{
    round_to_pod_b(0);
    takeover_answer(5, "won");
    round_to_pod_b(0);
    takeover_answer(5, "forgotten");
    ck_assert_uint_eq(REC.n, 2);
    ck_assert(!REC.sent[1].flag);
    ck_assert_uint_eq(REC.sent[1].epoch, 5);
    ck_assert_uint_eq(registry_lease_held(L, "pod-b"), 0);
    round_to_pod_b(0); /* still in the pods set (mappings left): nothing more said */
    takeover_answer(0, "forgotten");
    ck_assert_uint_eq(REC.n, 2);
    /* the pods set no longer has it: tracked no more */
    registry_lease_check_pods(L, NOW);
    ck_assert_int_eq(feed(1, A(1, S("pod-a"))), 0);
    ck_assert_int_eq(feed(1, I(1)), 0);
    batch(0);
    ck_assert_uint_eq(registry_lease_dead_pods(L), 0);
    ck_assert_uint_eq(REC.n, 2);
}
END_TEST

/* A restarted registry finds its claim held in Redis: the bridge is told again (it stops
 * takeovers a restarted registry does not confirm). A new bridge instance is told every claim. */
START_TEST(test_restarts_repeat_takeovers)
{
    round_to_pod_b(0);
    takeover_answer(7, "held"); /* held in Redis, unknown to this (restarted) registry */
    ck_assert_uint_eq(REC.n, 1);
    ck_assert(REC.sent[0].flag);
    ck_assert_uint_eq(REC.sent[0].epoch, 7);
    registry_lease_on_bridge_instance(L, 100); /* the first instance heard: repeated too */
    ck_assert_uint_eq(REC.n, 2);
    registry_lease_on_bridge_instance(L, 100); /* the same: nothing */
    ck_assert_uint_eq(REC.n, 2);
    registry_lease_on_bridge_instance(L, 0);
    ck_assert_uint_eq(REC.n, 2);
    registry_lease_on_bridge_instance(L, 200); /* restarted */
    ck_assert_uint_eq(REC.n, 3);
    ck_assert_int_eq(REC.sent[2].type, ENV_TAKEOVER);
    ck_assert_str_eq(REC.sent[2].text, "pod-b");
    ck_assert(REC.sent[2].flag);
    ck_assert_uint_eq(REC.sent[2].epoch, 7);
    batch(0);
}
END_TEST

START_TEST(test_abandon_and_stop)
{
    ck_assert_int_eq(registry_lease_check_pods(L, NOW), 0);
    ck_assert_int_eq(registry_lease_stop(L), -EBUSY);
    ck_assert_int_eq(feed(0), -EPIPE);
    batch(0);
    registry_lease_check_pods(L, NOW);
    registry_lease_cancel(L); /* Redis unreachable */
    batch(0);
    ck_assert_int_eq(registry_lease_stop(L), 0);
    ck_assert_str_eq(cmd(batch(1), 0), "DEL pod:{pod-a}");
    ck_assert_int_eq(feed(1, I(1)), 0);
    batch(0);
    /* the lock step broken: the round ends there */
    ck_assert_int_eq(registry_lease_check_pods(L, NOW), 0);
    ck_assert_int_eq(feed(1, A(1, S("pod-b"))), 0);
    ck_assert_int_eq(feed(1, I(0)), 0);
    ck_assert_int_eq(feed(0), -EPIPE);
    batch(0);
    /* replies when idle change nothing */
    ck_assert_int_eq(feed(1, I(1)), 0);
}
END_TEST

/* Garbage from Redis: non-text pod names, oversized names, odd replies. */
START_TEST(test_garbage_replies)
{
    ck_assert_int_eq(registry_lease_check_pods(L, NOW), 0);
    char big[100];
    memset(big, 'p', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(feed(1, A(3, I(7), S(big), NIL())), 0);
    /* an error for one lease: nothing can be concluded, the round ends */
    ck_assert_int_eq(feed(3, I(0), I(0), E("ERR x")), -EPIPE);
    batch(0);
    ck_assert_int_eq(registry_lease_check_pods(L, NOW), 0);
    ck_assert_int_eq(feed(1, A(3, I(7), S(big), NIL())), 0);
    ck_assert_int_eq(feed(3, I(0), I(0), I(0)), 0);
    batch(0); /* nothing dead that could be a pod */
    ck_assert_uint_eq(registry_lease_dead_pods(L), 0);
    ck_assert_int_eq(registry_lease_check_pods(L, NOW), 0);
    ck_assert_int_eq(feed(1, S("not an array")), 0);
    batch(0);
    round_to_pod_b(1);
    ck_assert_int_eq(feed(1, E("ERR no script")), 0); /* not ours: nothing said */
    ck_assert_uint_eq(REC.n, 0);
    batch(0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry_lease");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_refresh);
    tcase_add_test(tc, test_refresh_finds_lease_expired);
    tcase_add_test(tc, test_sweep_after_grace_with_lock);
    tcase_add_test(tc, test_sweep_broken);
    tcase_add_test(tc, test_grace_rearmed_when_alive);
    tcase_add_test(tc, test_takeover_lost_and_pod_back);
    tcase_add_test(tc, test_pod_back_without_claim);
    tcase_add_test(tc, test_takeover_done);
    tcase_add_test(tc, test_claim_kept_while_dead);
    tcase_add_test(tc, test_orphan_forgotten);
    tcase_add_test(tc, test_restarts_repeat_takeovers);
    tcase_add_test(tc, test_abandon_and_stop);
    tcase_add_test(tc, test_garbage_replies);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
