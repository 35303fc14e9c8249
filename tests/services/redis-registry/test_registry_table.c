/* Unit tests for services/redis-registry/registry_table: registrations, their claims,
 * re-assertions and releases, lookups and de-dup checks, driven as event sequences with replies
 * fed by the test (no Redis) and every envelope the engine sends recorded. */
#include "registry_logic.h"
#include "registry_table.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "registry_test.h"

#define GRACE_MS    10000
#define INTERVAL_MS 60000

static registry_table_t *T;
static recorder_t REC;
static uint64_t NOW = 1000000000u;

static void make(size_t queue_limit, size_t batch_max)
{
    registry_table_destroy(&T);
    registry_table_config_t cfg = {.pod_id = "pod-a",
                                   .core_count = 2,
                                   .queue_limit = queue_limit,
                                   .batch_max = batch_max,
                                   .events_topic = "ocpp-events-up",
                                   .reconcile_grace_ms = GRACE_MS,
                                   .reconcile_interval_ms = INTERVAL_MS};
    registry_table_ops_t ops = {.to_core = rec_to_core, .to_bridge = rec_to_bridge};
    T = registry_table_new(&cfg, &ops, &REC);
    ck_assert_ptr_nonnull(T);
}

static void setup(void)
{
    log_set_fd(-1);
    memset(&REC, 0, sizeof(REC));
    make(100, 8192);
}

static void teardown(void)
{
    registry_table_destroy(&T);
    registry_table_destroy(&T); /* safe twice */
    metrics_shutdown();
}

/* ---- inputs ----------------------------------------------------------------------------- */

static void reg(uint32_t core, const char *identity, uint64_t conn, const char *boot)
{
    envelope_t env = {.type = ENV_REGISTER};
    env.u.register_.core_id = core;
    env.u.register_.identity = env_str(identity);
    env.u.register_.conn_id = conn;
    env.u.register_.edge_id = env_str("edge-1");
    env.u.register_.ocpp_version = env_str("ocpp1.6");
    env.u.register_.boot_state = env_str(boot);
    env.u.register_.since_us = 555;
    ck_assert_int_eq(registry_table_on_envelope(T, &env, NOW), 0);
}

/* A REGISTER as a core sends it after this registry restarted, or with authentication. */
static void reg_full(uint32_t core, const char *identity, uint64_t conn, uint64_t epoch,
                     bool authenticated)
{
    envelope_t env = {.type = ENV_REGISTER};
    env.u.register_.core_id = core;
    env.u.register_.identity = env_str(identity);
    env.u.register_.conn_id = conn;
    env.u.register_.edge_id = env_str("edge-1");
    env.u.register_.ocpp_version = env_str("ocpp1.6");
    env.u.register_.boot_state = env_str("accepted");
    env.u.register_.since_us = 555;
    env.u.register_.epoch = epoch;
    env.u.register_.authenticated = authenticated;
    ck_assert_int_eq(registry_table_on_envelope(T, &env, NOW), 0);
}

static void tag(uint64_t request, uint32_t core, const char *id_tag)
{
    envelope_t env = {.type = ENV_TAG_LOOKUP};
    env.u.tag_lookup.request_id = request;
    env.u.tag_lookup.core_id = core;
    env.u.tag_lookup.id_tag = env_str(id_tag);
    ck_assert_int_eq(registry_table_on_envelope(T, &env, NOW), 0);
}

static void txid_block(uint64_t request, uint32_t core, uint32_t count)
{
    envelope_t env = {.type = ENV_TXID_BLOCK};
    env.u.txid_block = (env_txid_block_t){.request_id = request, .core_id = core, .count = count};
    ck_assert_int_eq(registry_table_on_envelope(T, &env, NOW), 0);
}

static void txid_claim(uint64_t request, uint32_t core, const char *key, uint64_t candidate,
                       uint64_t ttl_ms)
{
    envelope_t env = {.type = ENV_TXID_CLAIM};
    env.u.txid_claim = (env_txid_claim_t){.request_id = request,
                                          .core_id = core,
                                          .key = env_str(key),
                                          .candidate = candidate,
                                          .ttl_ms = ttl_ms};
    ck_assert_int_eq(registry_table_on_envelope(T, &env, NOW), 0);
}

static void unreg(const char *identity, uint64_t conn, uint64_t epoch)
{
    envelope_t env = {.type = ENV_UNREGISTER};
    env.u.unregister.identity = env_str(identity);
    env.u.unregister.conn_id = conn;
    env.u.unregister.epoch = epoch;
    ck_assert_int_eq(registry_table_on_envelope(T, &env, NOW), 0);
}

static void lookup(uint64_t request, const char *identity)
{
    envelope_t env = {.type = ENV_LOOKUP};
    env.u.lookup.request_id = request;
    env.u.lookup.identity = env_str(identity);
    ck_assert_int_eq(registry_table_on_envelope(T, &env, NOW), 0);
}

static void dedup(uint64_t request, const char *command_id, uint64_t ttl_ms)
{
    envelope_t env = {.type = ENV_DEDUP};
    env.u.dedup.request_id = request;
    env.u.dedup.command_id = env_str(command_id);
    env.u.dedup.ttl_ms = ttl_ms;
    ck_assert_int_eq(registry_table_on_envelope(T, &env, NOW), 0);
}

static void superseded(const char *payload)
{
    registry_table_on_superseded(T, payload, strlen(payload));
}

static int test_replies(const registry_reply_t *const *replies, size_t n)
{
    return registry_table_on_replies(T, replies, n, NOW);
}

static const registry_batch_t *prepare(size_t expect)
{
    return expect_batch(registry_table_prepare(T, NOW), expect);
}

static registry_reply_t *claim_reply(long long epoch, const char *prev, const char *boot)
{
    return A(4, I(epoch), S(prev), S(boot), S(""));
}

static registry_reply_t *reassert_reply(long long epoch, const char *state, const char *owner)
{
    return A(3, I(epoch), S(state), S(owner));
}

static const sent_t *last(void)
{
    ck_assert_uint_gt(REC.n, 0);
    return &REC.sent[REC.n - 1];
}

/* REGISTER, claim, REGISTERED: the common start of most tests. */
static void registered(uint32_t core, const char *identity, uint64_t conn, long long epoch)
{
    reg(core, identity, conn, "none");
    const registry_batch_t *b = prepare(1);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_CLAIM);
    size_t before = REC.n;
    ck_assert_int_eq(feed(1, claim_reply(epoch, "", "")), 0);
    ck_assert_uint_eq(REC.n, before + 1);
    ck_assert_int_eq(last()->type, ENV_REGISTERED);
    ck_assert_uint_eq(last()->epoch, (uint64_t)epoch);
    ck_assert_uint_eq(last()->conn_id, conn);
    ck_assert_uint_eq(last()->to, core);
}

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(test_register_claim_registered)
{
    reg(1, "CP1", 7, "pending");
    ck_assert_uint_eq(registry_table_size(T), 1);
    ck_assert_uint_eq(registry_table_depth(T), 1);
    ck_assert_uint_eq(registry_table_flush_passes(T), 1);
    const registry_batch_t *b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "CLAIM conn:CP1 {conn:CP1}:epoch {conn:CP1}:meta pod-a edge-1 7 "
                                "555 ocpp1.6 pending CP1 0");
    ck_assert_uint_eq(registry_batch_numkeys(b, 0), 3);
    prepare(0); /* one batch in flight at a time */
    ck_assert_int_eq(feed(1, claim_reply(42, "pod-b", "accepted")), 0);
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_int_eq(REC.sent[0].type, ENV_REGISTERED);
    ck_assert_uint_eq(REC.sent[0].to, 1);
    ck_assert_str_eq(REC.sent[0].identity, "CP1");
    ck_assert_uint_eq(REC.sent[0].conn_id, 7);
    ck_assert_uint_eq(REC.sent[0].epoch, 42);
    ck_assert_int_eq(REC.sent[0].status, 0);
    ck_assert_str_eq(REC.sent[0].text, "pod-b");
    ck_assert_uint_eq(registry_table_depth(T), 0);
    ck_assert_uint_eq(registry_table_flush_passes(T), 0);
    prepare(0);
}
END_TEST

/* BootNotification re-registers the same connection: a re-assertion of its epoch, answered. */
START_TEST(test_register_same_conn_reasserts)
{
    registered(0, "CP1", 7, 42);
    reg(0, "CP1", 7, "accepted");
    const registry_batch_t *b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "REASSERT conn:CP1 {conn:CP1}:epoch {conn:CP1}:meta pod-a 42 "
                                "edge-1 7 555 ocpp1.6 accepted CP1 0");
    ck_assert_int_eq(feed(1, reassert_reply(42, "held", "")), 0);
    ck_assert_int_eq(last()->type, ENV_REGISTERED);
    ck_assert_uint_eq(last()->epoch, 42);
    ck_assert_uint_eq(REC.n, 2);
}
END_TEST

/* A new connection of the same identity arrives while the first one's claim is in flight: the
 * first claim's answer is not REGISTERED to anyone; what it claimed is released with its own
 * epoch; the new connection gets its own claim and REGISTERED. */
START_TEST(test_second_register_before_claim_reply)
{
    reg(0, "CP1", 7, "none");
    prepare(1);
    reg(1, "CP1", 8, "none");
    ck_assert_uint_eq(registry_table_size(T), 1);
    ck_assert_int_eq(feed(1, claim_reply(42, "", "")), 0);
    ck_assert_uint_eq(REC.n, 0);
    const registry_batch_t *b = prepare(2);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_CLAIM);
    ck_assert_str_eq(arg(b, 0, 5), "8");
    ck_assert_str_eq(cmd(b, 1),
                     "RELEASE conn:CP1 {conn:CP1}:epoch {conn:CP1}:meta 42 pod-a CP1 604800000");
    ck_assert_int_eq(feed(2, claim_reply(43, "pod-a", ""), I(0)), 0);
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_int_eq(REC.sent[0].type, ENV_REGISTERED);
    ck_assert_uint_eq(REC.sent[0].conn_id, 8);
    ck_assert_uint_eq(REC.sent[0].epoch, 43);
    ck_assert_uint_eq(REC.sent[0].to, 1);
}
END_TEST

/* The older connection's UNREGISTER after the newer REGISTER: only the older epoch is released
 * (or nothing, when core never heard one); the newer registration stays. */
START_TEST(test_unregister_older_after_newer_register)
{
    registered(0, "CP1", 7, 42);
    reg(0, "CP1", 8, "none");
    unreg("CP1", 7, 42);
    ck_assert_uint_eq(registry_table_size(T), 1);
    const registry_batch_t *b = prepare(2);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_CLAIM);
    ck_assert_str_eq(arg(b, 0, 5), "8");
    ck_assert_int_eq(registry_batch_script_of(b, 1), REGISTRY_SCRIPT_RELEASE);
    ck_assert_str_eq(arg(b, 1, 3), "42");
    ck_assert_int_eq(feed(2, claim_reply(43, "pod-a", ""), I(0)), 0);
    ck_assert_uint_eq(last()->epoch, 43);
    /* the older connection again, without an epoch: nothing to release, 43 untouched */
    unreg("CP1", 7, 0);
    ck_assert_uint_eq(registry_table_depth(T), 0);
    ck_assert_uint_eq(registry_table_size(T), 1);
    /* the newer one goes: its own epoch */
    unreg("CP1", 8, 0);
    ck_assert_uint_eq(registry_table_size(T), 0);
    b = prepare(1);
    ck_assert_str_eq(arg(b, 0, 3), "43");
}
END_TEST

/* Core never heard REGISTERED: UNREGISTER with epoch 0 releases what the registry claimed, both
 * when the claim was answered and when it was still in flight. */
START_TEST(test_unregister_before_registered_answered)
{
    registered(0, "CP1", 7, 42);
    unreg("CP1", 7, 0);
    const registry_batch_t *b = prepare(1);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_RELEASE);
    ck_assert_str_eq(arg(b, 0, 3), "42");
    ck_assert_int_eq(feed(1, I(1)), 0);

    reg(0, "CP2", 9, "none");
    prepare(1);
    unreg("CP2", 9, 0); /* while the claim is in flight */
    ck_assert_uint_eq(registry_table_size(T), 0);
    size_t before = REC.n;
    ck_assert_int_eq(feed(1, claim_reply(50, "", "")), 0);
    ck_assert_uint_eq(REC.n, before); /* nobody to tell */
    /* first the release by connection queued at the UNREGISTER (no epoch known then: a claim
     * whose answer is lost may have mapped it), then the one of the epoch the claim gave */
    b = prepare(2);
    ck_assert_str_eq(
        cmd(b, 0),
        "RELEASE conn:CP2 {conn:CP2}:epoch {conn:CP2}:meta 0 pod-a CP2 604800000 9 edge-1");
    ck_assert_str_eq(cmd(b, 1),
                     "RELEASE conn:CP2 {conn:CP2}:epoch {conn:CP2}:meta 50 pod-a CP2 604800000");
    ck_assert_int_eq(feed(2, I(1), I(0)), 0);
    ck_assert_uint_eq(registry_table_depth(T), 0);
}
END_TEST

START_TEST(test_superseded_pubsub_epochs)
{
    reg(1, "CP1", 7, "none");
    prepare(1);
    superseded("99 7 pod-b CP1"); /* our claim is in flight: it will win or learn by itself */
    ck_assert_int_eq(feed(1, claim_reply(42, "", "")), 0);
    ck_assert_uint_eq(REC.n, 1);
    superseded("41 7 pod-b CP1"); /* older */
    superseded("42 7 pod-b CP1"); /* ours */
    superseded("43 7 pod-b OTHER");
    superseded("garbage");
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_uint_eq(registry_table_size(T), 1);
    superseded("43 7 pod-b CP1"); /* newer */
    ck_assert_uint_eq(REC.n, 2);
    ck_assert_int_eq(last()->type, ENV_SUPERSEDED);
    ck_assert_uint_eq(last()->to, 1);
    ck_assert_uint_eq(last()->conn_id, 7);
    ck_assert_uint_eq(last()->epoch, 43);
    ck_assert_str_eq(last()->text, "pod-b");
    ck_assert_uint_eq(registry_table_size(T), 0);
    superseded("44 7 pod-c CP1"); /* forgotten: said once */
    ck_assert_uint_eq(REC.n, 2);
    registry_table_requeue_all(T, "test"); /* and never re-asserted */
    prepare(0);
}
END_TEST

START_TEST(test_reassert_answers)
{
    registered(0, "CP1", 7, 42);
    /* unchanged: nothing to tell */
    registry_table_requeue_all(T, "test");
    const registry_batch_t *b = prepare(1);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_REASSERT);
    ck_assert_str_eq(arg(b, 0, 4), "42");
    ck_assert_int_eq(feed(1, reassert_reply(42, "held", "")), 0);
    ck_assert_uint_eq(REC.n, 1);
    /* the mapping was lost (Redis restarted empty, or swept): claimed afresh, core told */
    registry_table_on_redis_up(T);
    prepare(1);
    ck_assert_int_eq(feed(1, reassert_reply(1795490527808, "claimed", "")), 0);
    ck_assert_uint_eq(REC.n, 2);
    ck_assert_int_eq(last()->type, ENV_REGISTERED);
    ck_assert_uint_eq(last()->epoch, 1795490527808u);
    /* the next re-assertion holds the new epoch */
    registry_table_requeue_all(T, "test");
    b = prepare(1);
    ck_assert_str_eq(arg(b, 0, 4), "1795490527808");
    /* a newer claim exists: SUPERSEDED, forgotten */
    ck_assert_int_eq(feed(1, reassert_reply(1795490527810, "superseded", "pod-b")), 0);
    ck_assert_uint_eq(REC.n, 3);
    ck_assert_int_eq(last()->type, ENV_SUPERSEDED);
    ck_assert_uint_eq(last()->epoch, 1795490527810u);
    ck_assert_str_eq(last()->text, "pod-b");
    ck_assert_uint_eq(registry_table_size(T), 0);
    registry_table_requeue_all(T, "test");
    prepare(0);
}
END_TEST

/* Redis down: what writes waits, what only reads is answered at once; a de-dup check that was
 * sent stays (retried with the same value), a new one is refused. */
START_TEST(test_redis_down)
{
    reg(0, "CP1", 7, "none");
    unreg("CP9", 3, 17);
    dedup(5, "cmd-1", 60000);
    const registry_batch_t *b = prepare(3);
    ck_assert_str_eq(cmd(b, 2), "SET dedup:{cmd-1} pod-a/5 NX GET PX 60000");
    ck_assert_int_eq(feed(0), -EPIPE); /* the connection broke: nothing answered */
    ck_assert_uint_eq(REC.n, 0);
    ck_assert_uint_eq(registry_table_depth(T), 3);

    lookup(11, "CP2");
    dedup(12, "cmd-2", 60000);
    registry_table_on_redis_unavailable(T);
    ck_assert_uint_eq(REC.n, 2);
    ck_assert_int_eq(REC.sent[0].type, ENV_OWNER);
    ck_assert_uint_eq(REC.sent[0].request_id, 11);
    ck_assert_int_eq(REC.sent[0].status, -EAGAIN);
    ck_assert_str_eq(REC.sent[0].text, "");
    ck_assert_int_eq(REC.sent[1].type, ENV_DEDUP_RESULT);
    ck_assert_uint_eq(REC.sent[1].request_id, 12);
    ck_assert_int_eq(REC.sent[1].status, -EAGAIN);
    ck_assert(!REC.sent[1].flag);
    ck_assert_uint_eq(registry_table_depth(T), 3); /* claim, release, the sent de-dup check */
    registry_table_on_redis_unavailable(T);        /* again: nothing more to answer */
    ck_assert_uint_eq(REC.n, 2);

    /* back: the same value; finding it means our first attempt ran: first, once */
    registry_table_on_redis_up(T);
    b = prepare(3);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_CLAIM);
    ck_assert_str_eq(arg(b, 1, 3), "17");
    ck_assert_str_eq(cmd(b, 2), "SET dedup:{cmd-1} pod-a/5 NX GET PX 60000");
    ck_assert_int_eq(feed(3, claim_reply(42, "", ""), I(1), S("pod-a/5")), 0);
    ck_assert_uint_eq(REC.n, 4);
    ck_assert_int_eq(REC.sent[2].type, ENV_REGISTERED);
    ck_assert_int_eq(REC.sent[3].type, ENV_DEDUP_RESULT);
    ck_assert(REC.sent[3].flag);
    ck_assert_int_eq(REC.sent[3].status, 0);
    /* a replay of the command (another request): not first */
    dedup(13, "cmd-1", 0);
    b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "SET dedup:{cmd-1} pod-a/13 NX GET PX 1");
    ck_assert_int_eq(feed(1, S("pod-a/5")), 0);
    ck_assert(!last()->flag);
    ck_assert_int_eq(last()->status, 0);
    /* first time ever: nil */
    dedup(14, "cmd-3", 10);
    prepare(1);
    ck_assert_int_eq(feed(1, NIL()), 0);
    ck_assert(last()->flag);
    /* an unexpected answer: an error status, never "first" */
    dedup(15, "cmd-4", 10);
    prepare(1);
    ck_assert_int_eq(feed(1, E("ERR wrong")), 0);
    ck_assert(!last()->flag);
    ck_assert_int_eq(last()->status, -EIO);
}
END_TEST

/* NOSCRIPT (Redis restarted), READONLY (demoted): drop the connection; nothing is lost. */
START_TEST(test_reply_needs_reconnect)
{
    registered(0, "CP1", 7, 42);
    reg(0, "CP2", 8, "none");
    unreg("CP1", 7, 42);
    lookup(3, "CP3");
    dedup(4, "cmd-4", 100);
    prepare(4);
    ck_assert_int_eq(
        feed(4, E("NOSCRIPT No matching script"), I(1), A(3, S(""), I(0), I(0)), NIL()), -EPIPE);
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_uint_eq(registry_table_depth(T), 4);
    const registry_batch_t *b = prepare(4);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_CLAIM);
    ck_assert_int_eq(registry_batch_script_of(b, 1), REGISTRY_SCRIPT_RELEASE);
    ck_assert_int_eq(registry_batch_script_of(b, 2), REGISTRY_SCRIPT_LOOKUP);
    ck_assert_str_eq(cmd(b, 3), "SET dedup:{cmd-4} pod-a/4 NX GET PX 100");
    /* a release answered READONLY after the claim: the claim is done, the rest waits */
    ck_assert_int_eq(feed(4, claim_reply(43, "", ""), E("READONLY replica"), NIL(), NIL()), -EPIPE);
    ck_assert_uint_eq(REC.n, 2);
    ck_assert_uint_eq(registry_table_depth(T), 3);
    b = prepare(3);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_RELEASE);
    ck_assert_int_eq(feed(3, I(1), A(3, S("pod-b"), I(9), I(1)), S("pod-a/4")), 0);
    ck_assert_int_eq(REC.sent[2].type, ENV_OWNER);
    ck_assert_str_eq(REC.sent[2].text, "pod-b");
    ck_assert_uint_eq(REC.sent[2].epoch, 9);
    ck_assert(REC.sent[2].flag);
    ck_assert_int_eq(REC.sent[2].status, 0);
    ck_assert_int_eq(REC.sent[3].type, ENV_DEDUP_RESULT);
    ck_assert(REC.sent[3].flag);
}
END_TEST

/* The script cache flushed (SCRIPT FLUSH, or a restart the connection survived) shows first on
 * a lookup: every kind of work reads it alike, the connection is dropped, the lookup retried. */
START_TEST(test_lookup_noscript_reconnects)
{
    lookup(3, "CP3");
    prepare(1);
    ck_assert_int_eq(feed(1, E("NOSCRIPT No matching script")), -EPIPE);
    ck_assert_uint_eq(REC.n, 0);
    ck_assert_uint_eq(registry_table_depth(T), 1);
    prepare(1);
    ck_assert_int_eq(feed(1, A(3, S("pod-a"), I(4), I(1))), 0);
    ck_assert_int_eq(last()->type, ENV_OWNER);
    ck_assert_int_eq(last()->status, 0);
}
END_TEST

/* Another error on a claim: retried with the next batch, the connection kept. */
START_TEST(test_claim_error_retried)
{
    reg(0, "CP1", 7, "none");
    prepare(1);
    ck_assert_int_eq(feed(1, E("ERR something")), 0);
    ck_assert_uint_eq(REC.n, 0);
    ck_assert_uint_eq(registry_table_depth(T), 1);
    prepare(1);
    ck_assert_int_eq(feed(1, claim_reply(42, "", "")), 0);
    ck_assert_uint_eq(last()->epoch, 42);
    /* a lookup answered with something else than an array: -EIO */
    lookup(3, "CP3");
    prepare(1);
    ck_assert_int_eq(feed(1, E("ERR x")), 0);
    ck_assert_int_eq(last()->status, -EIO);
}
END_TEST

START_TEST(test_busy_hysteresis)
{
    make(4, 8192);
    reg(0, "CP1", 1, "none");
    reg(0, "CP2", 2, "none");
    reg(0, "CP3", 3, "none");
    registry_table_update_busy(T, false, NOW);
    ck_assert_uint_eq(REC.n, 0);
    reg(0, "CP4", 4, "none");
    registry_table_update_busy(T, false, NOW);
    ck_assert_uint_eq(REC.n, 2); /* both cores */
    ck_assert_int_eq(REC.sent[0].type, ENV_REGISTRY_BUSY);
    ck_assert(REC.sent[0].flag);
    ck_assert_uint_eq(REC.sent[0].queued, 4);
    ck_assert_int_eq(REC.sent[0].status, 0); /* redis_up false */
    ck_assert_uint_eq(REC.sent[0].to, 0);
    ck_assert_uint_eq(REC.sent[1].to, 1);
    /* over the limit: lookups and de-dup checks refused at once; claims still queue */
    lookup(1, "CP9");
    dedup(2, "cmd-1", 10);
    ck_assert_int_eq(REC.sent[2].type, ENV_OWNER);
    ck_assert_int_eq(REC.sent[2].status, -EBUSY);
    ck_assert_int_eq(REC.sent[3].type, ENV_DEDUP_RESULT);
    ck_assert_int_eq(REC.sent[3].status, -EBUSY);
    ck_assert_uint_eq(registry_table_depth(T), 4);
    /* repeated every 5 s while busy, not before */
    registry_table_update_busy(T, false, NOW + 1000000u);
    ck_assert_uint_eq(REC.n, 4);
    registry_table_update_busy(T, false, NOW + 6000000u);
    ck_assert_uint_eq(REC.n, 6);
    /* down to 2 (half of 4): still busy; below: not busy */
    make(4, 3);
    memset(&REC, 0, sizeof(REC));
    for (uint64_t i = 1; i <= 4; i++) {
        char id[8];
        snprintf(id, sizeof(id), "CP%u", (unsigned)i);
        reg(0, id, i, "none");
    }
    registry_table_update_busy(T, true, NOW);
    ck_assert_uint_eq(REC.n, 2);
    prepare(3);
    ck_assert_int_eq(
        feed(3, claim_reply(1, "", ""), claim_reply(2, "", ""), claim_reply(3, "", "")), 0);
    ck_assert_uint_eq(REC.n, 5); /* three REGISTERED */
    ck_assert_int_eq(REC.sent[4].type, ENV_REGISTERED);
    ck_assert_uint_eq(registry_table_depth(T), 1);
    registry_table_update_busy(T, true, NOW); /* 1 < 4 / 2: not busy, both cores told */
    ck_assert_uint_eq(REC.n, 7);
    ck_assert_int_eq(last()->type, ENV_REGISTRY_BUSY);
    ck_assert(!last()->flag);
    ck_assert_int_eq(last()->status, 1);
}
END_TEST

/* batch_max bounds one round trip; the rest waits for the next pass. */
START_TEST(test_batch_max)
{
    make(100, 2);
    reg(0, "CP1", 1, "none");
    reg(0, "CP2", 2, "none");
    lookup(1, "CP3");
    ck_assert_uint_eq(registry_table_flush_passes(T), 2);
    const registry_batch_t *b = prepare(2);
    ck_assert_int_eq(registry_batch_script_of(b, 1), REGISTRY_SCRIPT_CLAIM);
    ck_assert_int_eq(feed(2, claim_reply(1, "", ""), claim_reply(2, "", "")), 0);
    b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "LOOKUP conn:CP3 {conn:CP3}:meta pod:");
    ck_assert_int_eq(feed(1, A(3, S(""), I(0), I(0))), 0);
    ck_assert_int_eq(last()->type, ENV_OWNER);
    ck_assert(!last()->flag);
}
END_TEST

START_TEST(test_bad_input)
{
    reg(2, "CP1", 1, "none"); /* core 2 of 2 */
    envelope_t env = {.type = ENV_REGISTER};
    env.u.register_.identity = env_str("");
    ck_assert_int_eq(registry_table_on_envelope(T, &env, NOW), 0);
    ck_assert_uint_eq(registry_table_size(T), 0);
    dedup(1, "", 10);
    ck_assert_int_eq(last()->type, ENV_DEDUP_RESULT);
    ck_assert_int_eq(last()->status, -EINVAL);
    char long_id[200];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    dedup(2, long_id, 10);
    ck_assert_int_eq(last()->status, -EINVAL);
    ck_assert_uint_eq(registry_table_depth(T), 0);
    envelope_t other = {.type = ENV_TAKEOVER_DONE};
    ck_assert_int_eq(registry_table_on_envelope(T, &other, NOW), -ENOTSUP);
    /* replies when nothing is in flight change nothing */
    ck_assert_int_eq(feed(1, I(1)), 0);
}
END_TEST

/* Destroying with work queued and in flight frees it all (ASan checks). */

/* A core re-registering after this registry restarted names the epoch its connection holds:
 * re-asserted (compare-and-set), never claimed afresh. */
START_TEST(test_register_with_epoch_reasserts)
{
    reg_full(1, "CP1", 7, 42, true);
    const registry_batch_t *b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "REASSERT conn:CP1 {conn:CP1}:epoch {conn:CP1}:meta pod-a 42 "
                                "edge-1 7 555 ocpp1.6 accepted CP1 1");
    ck_assert_int_eq(feed(1, reassert_reply(42, "held", "")), 0);
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_int_eq(last()->type, ENV_REGISTERED);
    ck_assert_uint_eq(last()->epoch, 42);
    ck_assert_uint_eq(last()->to, 1);
    /* a newer claim exists: SUPERSEDED, forgotten */
    reg_full(0, "CP2", 8, 10, false);
    prepare(1);
    ck_assert_int_eq(feed(1, reassert_reply(11, "superseded", "pod-b")), 0);
    ck_assert_int_eq(last()->type, ENV_SUPERSEDED);
    ck_assert_uint_eq(last()->epoch, 11);
    ck_assert(!registry_table_holds(T, "CP2", NULL));
    /* the same connection again with an older epoch than ours keeps ours */
    reg_full(1, "CP1", 7, 40, true);
    b = prepare(1);
    ck_assert_str_eq(arg(b, 0, 4), "42");
    feed(1, reassert_reply(42, "held", ""));
}
END_TEST

/* Newest wins only among authenticated connections: an unauthenticated claim the script refuses
 * is told SUPERSEDED (its core closes it); the table forgets it. */
START_TEST(test_unauthenticated_claim_refused)
{
    reg_full(0, "CP1", 7, 0, false);
    const registry_batch_t *b = prepare(1);
    ck_assert_str_eq(arg(b, 0, 10), "0");
    ck_assert_int_eq(feed(1, A(5, I(31), S("pod-b"), S(""), S(""), S("refused"))), 0);
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_int_eq(last()->type, ENV_SUPERSEDED);
    ck_assert_uint_eq(last()->conn_id, 7);
    ck_assert_uint_eq(last()->epoch, 31);
    ck_assert_str_eq(last()->text, "pod-b");
    ck_assert(!registry_table_holds(T, "CP1", NULL));
    prepare(0); /* nothing to release: nothing was written */
    /* an authenticated one is sent as such and claims */
    reg_full(0, "CP1", 8, 0, true);
    b = prepare(1);
    ck_assert_str_eq(arg(b, 0, 10), "1");
    ck_assert_int_eq(feed(1, A(5, I(32), S("pod-b"), S(""), S(""), S("claimed"))), 0);
    ck_assert_int_eq(last()->type, ENV_REGISTERED);
    ck_assert_uint_eq(last()->epoch, 32);
    /* a refused claim answered after its connection went: nothing to release */
    reg_full(0, "CP3", 9, 0, false);
    prepare(1);
    unreg("CP3", 9, 0);
    ck_assert_int_eq(feed(1, A(5, I(5), S("pod-b"), S(""), S(""), S("refused"))), 0);
    /* only the release by connection of the UNREGISTER (it finds pod-b's mapping: nothing) */
    ck_assert_str_eq(
        cmd(prepare(1), 0),
        "RELEASE conn:CP3 {conn:CP3}:epoch {conn:CP3}:meta 0 pod-a CP3 604800000 9 edge-1");
    ck_assert_int_eq(feed(1, I(0)), 0);
    prepare(0);
}
END_TEST

START_TEST(test_tag_lookup)
{
    tag(1, 1, "TAG-A");
    tag(2, 0, "TAG-B");
    tag(3, 0, "TAG-C");
    const registry_batch_t *b = prepare(3);
    ck_assert_str_eq(cmd(b, 0), "HGETALL idtag:TAG-A");
    ck_assert_int_eq(feed(3,
                          A(4, S("status"), S("Accepted"), S("expires_at_ms"), S("1800000000000")),
                          A(0), E("WRONGTYPE Operation against a key")),
                     0);
    ck_assert_uint_eq(REC.n, 3);
    ck_assert_int_eq(REC.sent[0].type, ENV_TAG_INFO);
    ck_assert_uint_eq(REC.sent[0].to, 1);
    ck_assert_uint_eq(REC.sent[0].request_id, 1);
    ck_assert(REC.sent[0].flag);
    ck_assert_str_eq(REC.sent[0].text, "Accepted");
    ck_assert_uint_eq(REC.sent[0].epoch, 1800000000000u);
    ck_assert_int_eq(REC.sent[0].status, 0);
    ck_assert(!REC.sent[1].flag); /* not found */
    ck_assert_int_eq(REC.sent[1].status, 0);
    ck_assert_int_eq(REC.sent[2].status, -EIO);
    /* Redis down: answered at once */
    tag(4, 0, "TAG-D");
    registry_table_on_redis_unavailable(T);
    ck_assert_int_eq(last()->status, -EAGAIN);
    ck_assert_uint_eq(last()->request_id, 4);
    /* bad token, core out of range */
    tag(5, 0, "");
    ck_assert_int_eq(last()->status, -EINVAL);
    size_t n = REC.n;
    tag(6, 7, "TAG-E");
    ck_assert_uint_eq(REC.n, n);
    prepare(0);
    /* over queue_limit: -EBUSY */
    make(2, 8192);
    tag(7, 0, "T1");
    tag(8, 0, "T2");
    tag(9, 0, "T3");
    ck_assert_int_eq(last()->status, -EBUSY);
    ck_assert_uint_eq(last()->request_id, 9);
}
END_TEST

/* TXID_BLOCK: the block script on the one counter with the limit, its answer to the core that
 * asked; a block cut short near the limit; none left (exhausted, loudly); a bad count. */
START_TEST(test_txid_block)
{
    txid_block(1, 1, 100);
    txid_block(2, 0, 1000000); /* cut to the block maximum */
    txid_block(3, 0, 10);
    txid_block(4, 0, 10);
    txid_block(5, 0, 10);
    const registry_batch_t *b = prepare(5);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_TXID_BLOCK);
    ck_assert_str_eq(cmd(b, 0), "TXID_BLOCK ocppgw:txid 100 2147483647");
    ck_assert_str_eq(cmd(b, 1), "TXID_BLOCK ocppgw:txid 10000 2147483647");
    ck_assert_uint_eq(registry_batch_numkeys(b, 0), 1);
    ck_assert_int_eq(feed(5, A(3, I(1), I(100), I(100)), A(3, I(101), I(10000), I(10100)),
                          A(3, I(2147483645), I(3), I(2147483647)), A(3, I(0), I(0), I(2147483647)),
                          E("ERR something")),
                     0);
    ck_assert_uint_eq(REC.n, 5);
    ck_assert_int_eq(REC.sent[0].type, ENV_TXID_RANGE);
    ck_assert_uint_eq(REC.sent[0].to, 1);
    ck_assert_uint_eq(REC.sent[0].request_id, 1);
    ck_assert_uint_eq(REC.sent[0].epoch, 1);
    ck_assert_uint_eq(REC.sent[0].queued, 100);
    ck_assert_int_eq(REC.sent[0].status, 0);
    ck_assert_uint_eq(REC.sent[1].epoch, 101);
    ck_assert_uint_eq(REC.sent[1].queued, 10000);
    ck_assert_uint_eq(REC.sent[2].epoch, 2147483645u); /* the last three */
    ck_assert_uint_eq(REC.sent[2].queued, 3);
    ck_assert_int_eq(REC.sent[3].status, -ENOSPC); /* none left */
    ck_assert_uint_eq(REC.sent[3].epoch, 0);
    ck_assert_uint_eq(REC.sent[3].queued, 0);
    ck_assert_int_eq(REC.sent[4].status, -EIO);
    /* a count of 0: refused at once; a core out of range: dropped */
    txid_block(6, 0, 0);
    ck_assert_int_eq(last()->status, -EINVAL);
    size_t n = REC.n;
    txid_block(7, 9, 10);
    ck_assert_uint_eq(REC.n, n);
    /* an answer that cannot be a block (beyond the limit) is an error, not ids */
    txid_block(8, 0, 10);
    b = prepare(1);
    ck_assert_int_eq(feed(1, A(3, I(2147483640), I(10), I(2147483649))), 0);
    ck_assert_int_eq(last()->status, -EIO);
    ck_assert_uint_eq(last()->queued, 0);
}
END_TEST

/* TXID_CLAIM: the claim script on txid:<key>; first (stored) or found (remembered before);
 * bad input refused; Redis down -EAGAIN at once, queued or sent (the core asks again and finds
 * its own candidate); over queue_limit -EBUSY; a broken batch puts it back. */
START_TEST(test_txid_claim)
{
    txid_claim(1, 0, "CP1|1|2026-01-01T00:00:00Z|TAG", 7, 86400000);
    txid_claim(2, 1, "CP1|1|2026-01-01T00:00:00Z|TAG", 9, 86400000);
    txid_claim(3, 1, "CP2|1|x|T", 10, 1000);
    const registry_batch_t *b = prepare(3);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_TXID_CLAIM);
    ck_assert_str_eq(cmd(b, 0), "TXID_CLAIM txid:CP1|1|2026-01-01T00:00:00Z|TAG 7 86400000");
    ck_assert_uint_eq(registry_batch_numkeys(b, 0), 1);
    ck_assert_int_eq(feed(3, A(2, I(7), I(1)), A(2, I(7), I(0)), A(2, I(-1), I(0))), 0);
    ck_assert_int_eq(REC.sent[0].type, ENV_TXID_CLAIMED);
    ck_assert_uint_eq(REC.sent[0].to, 0);
    ck_assert_uint_eq(REC.sent[0].epoch, 7);
    ck_assert(REC.sent[0].flag);
    ck_assert_uint_eq(REC.sent[1].to, 1);
    ck_assert_uint_eq(REC.sent[1].request_id, 2);
    ck_assert_uint_eq(REC.sent[1].epoch, 7); /* the id remembered, not its candidate */
    ck_assert(!REC.sent[1].flag);
    ck_assert_int_eq(REC.sent[1].status, 0);
    ck_assert_int_eq(REC.sent[2].status, -EIO); /* not a number in Redis */
    ck_assert_uint_eq(REC.sent[2].epoch, 0);
    /* bad input */
    size_t n = REC.n;
    txid_claim(4, 0, "", 7, 1000);
    txid_claim(5, 0, "K", 0, 1000);
    txid_claim(6, 0, "K", 2147483648u, 1000);
    txid_claim(7, 0, "K", 7, 0);
    txid_claim(8, 0, "K", 7, 2592000001u);
    char big[200];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    txid_claim(9, 0, big, 7, 1000);
    ck_assert_uint_eq(REC.n, n + 6);
    for (size_t i = n; i < REC.n; i++)
        ck_assert_int_eq(REC.sent[i].status, -EINVAL);
    txid_claim(10, 5, "K", 7, 1000); /* core out of range: dropped */
    ck_assert_uint_eq(REC.n, n + 6);
    prepare(0);
    /* a broken batch: back in the queue, then Redis down answers it at once */
    txid_claim(11, 0, "K", 7, 1000);
    txid_block(12, 0, 5);
    prepare(2);
    ck_assert_int_eq(feed(0), -EPIPE);
    ck_assert_uint_eq(registry_table_depth(T), 2);
    registry_table_on_redis_unavailable(T);
    ck_assert_uint_eq(registry_table_depth(T), 0);
    ck_assert_int_eq(REC.sent[REC.n - 2].type, ENV_TXID_CLAIMED);
    ck_assert_int_eq(REC.sent[REC.n - 2].status, -EAGAIN);
    ck_assert_int_eq(last()->type, ENV_TXID_RANGE);
    ck_assert_int_eq(last()->status, -EAGAIN);
    /* NOSCRIPT: reconnect, sent again */
    txid_claim(13, 0, "K", 7, 1000);
    prepare(1);
    ck_assert_int_eq(feed(1, E("NOSCRIPT No matching script")), -EPIPE);
    prepare(1);
    /* over queue_limit: -EBUSY */
    make(2, 8192);
    txid_claim(14, 0, "K1", 7, 1000);
    txid_block(15, 0, 5);
    txid_claim(16, 1, "K3", 8, 1000);
    ck_assert_int_eq(last()->status, -EBUSY);
    ck_assert_uint_eq(last()->request_id, 16);
    ck_assert_uint_eq(last()->to, 1);
    txid_block(17, 0, 5);
    ck_assert_int_eq(last()->type, ENV_TXID_RANGE);
    ck_assert_int_eq(last()->status, -EBUSY);
}
END_TEST

/* A restarted core: what it confirms stays, what it does not is released after the grace with
 * a device.disconnected; another core's registrations are untouched. */
START_TEST(test_core_restart_unconfirmed_released)
{
    registry_table_on_core_instance(T, 0, 100, NOW); /* first instance heard: nothing */
    registered(0, "CP1", 1, 11);
    registered(0, "CP2", 2, 12);
    registered(1, "CP3", 3, 13);
    reg(0, "CP4", 4, "none"); /* claim not answered yet */
    size_t n = REC.n;
    registry_table_on_core_instance(T, 0, 100, NOW);
    registry_table_tick(T, true, NOW + GRACE_MS * 1000u);
    prepare(1); /* only CP4's claim: no release without a restart */
    feed(1, claim_reply(14, "", ""));
    n = REC.n;
    NOW += 1000000u;
    uint64_t restart = NOW - 500000u; /* the core started half a second ago */
    registry_table_on_core_instance(T, 0, restart, NOW);
    registry_table_on_core_instance(T, 0, restart - 1, NOW); /* an older one's late ANNOUNCE */
    reg_full(0, "CP1", 1, 11, false);                        /* CP1 comes back (resumed) */
    prepare(1);
    feed(1, reassert_reply(11, "held", ""));
    ck_assert_int_eq(last()->type, ENV_REGISTERED);
    n = REC.n;
    registry_table_tick(T, true, NOW + GRACE_MS * 1000u - 1);
    ck_assert(registry_table_holds(T, "CP2", NULL));
    registry_table_tick(T, true, NOW + GRACE_MS * 1000u);
    ck_assert(!registry_table_holds(T, "CP2", NULL));
    ck_assert(!registry_table_holds(T, "CP4", NULL));
    ck_assert(registry_table_holds(T, "CP1", NULL));
    ck_assert(registry_table_holds(T, "CP3", NULL));
    const registry_batch_t *b = prepare(2);
    ck_assert_str_eq(cmd(b, 0),
                     "RELEASE conn:CP2 {conn:CP2}:epoch {conn:CP2}:meta 12 pod-a CP2 604800000");
    ck_assert_str_eq(cmd(b, 1),
                     "RELEASE conn:CP4 {conn:CP4}:epoch {conn:CP4}:meta 14 pod-a CP4 604800000");
    ck_assert_int_eq(feed(2, I(1), I(0)), 0);
    ck_assert_uint_eq(REC.n, n + 1); /* one event: CP4's mapping was no longer ours */
    ck_assert_int_eq(last()->type, ENV_EVENT);
    ck_assert_uint_eq(last()->to, TO_BRIDGE);
    ck_assert_str_eq(last()->identity, "CP2");
    ck_assert_str_eq(last()->text, disc_id("released", "CP2", 12));
    ck_assert(!registry_table_reconciling(T));
}
END_TEST

/* The reconciliation: after the grace, every identity of our set that the table does not hold
 * is read and released with the epoch read (compare-and-set); held ones are never touched, nor
 * one a REGISTER claimed meanwhile, nor one whose release is pending. */
START_TEST(test_reconcile_pod_set)
{
    registered(0, "CP1", 1, 11);
    registry_table_tick(T, true, NOW); /* schedules the first at NOW + grace */
    prepare(0);
    registry_table_tick(T, false, NOW + GRACE_MS * 1000u); /* not without Redis */
    prepare(0);
    registry_table_tick(T, true, NOW + GRACE_MS * 1000u);
    ck_assert(registry_table_reconciling(T));
    const registry_batch_t *b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "SSCAN pod:{pod-a}:conns 0 COUNT 1000");
    ck_assert_int_eq(feed(1, A(2, S("77"), A(5, S("CP1"), S("CP2"), S("CP3"), S("CP4"), S("CP5")))),
                     0);
    unreg("CP5", 5, 50); /* a release pending for CP5 */
    /* CP5's release; CP1 held, CP5 releasing: only CP2, CP3, CP4 read; the next page */
    b = prepare(5);
    ck_assert_str_eq(cmd(b, 1), "MGET conn:CP2 {conn:CP2}:epoch");
    ck_assert_str_eq(cmd(b, 2), "MGET conn:CP3 {conn:CP3}:epoch");
    ck_assert_str_eq(cmd(b, 3), "MGET conn:CP4 {conn:CP4}:epoch");
    ck_assert_str_eq(cmd(b, 4), "SSCAN pod:{pod-a}:conns 77 COUNT 1000");
    ck_assert_int_eq(feed(5, I(1), A(2, S("pod-a"), S("21")), A(2, S("pod-b"), S("31")),
                          A(2, S("pod-a"), S("41")), A(2, S("0"), A(1, S("CP5")))),
                     0);
    reg(1, "CP4", 9, "none"); /* a new connection of CP4 meanwhile */
    b = prepare(5);
    ck_assert_int_eq(registry_batch_script_of(b, 0), REGISTRY_SCRIPT_CLAIM);
    ck_assert_str_eq(cmd(b, 1),
                     "RELEASE conn:CP2 {conn:CP2}:epoch {conn:CP2}:meta 21 pod-a CP2 604800000");
    /* CP3 maps elsewhere: only leaves our set (epoch 0 never matches) */
    ck_assert_str_eq(cmd(b, 2),
                     "RELEASE conn:CP3 {conn:CP3}:epoch {conn:CP3}:meta 0 pod-a CP3 604800000");
    /* CP4: released with the epoch read, which the new claim (first in the batch) outdates */
    ck_assert_str_eq(cmd(b, 3),
                     "RELEASE conn:CP4 {conn:CP4}:epoch {conn:CP4}:meta 41 pod-a CP4 604800000");
    /* CP5's release was answered: a candidate now */
    ck_assert_str_eq(cmd(b, 4), "MGET conn:CP5 {conn:CP5}:epoch");
    size_t n = REC.n;
    ck_assert_int_eq(feed(5, claim_reply(42, "pod-a", ""), I(1), I(0), I(0), A(2, NIL(), S("50"))),
                     0);
    ck_assert_uint_eq(REC.n, n + 2); /* REGISTERED of CP4, the event of CP2 */
    ck_assert_int_eq(REC.sent[n + 1].type, ENV_EVENT);
    ck_assert_str_eq(REC.sent[n + 1].text, disc_id("released", "CP2", 21));
    ck_assert(!registry_table_reconciling(T)); /* every identity decided */
    b = prepare(1);                            /* nobody maps CP5: it only leaves our set */
    ck_assert_str_eq(cmd(b, 0),
                     "RELEASE conn:CP5 {conn:CP5}:epoch {conn:CP5}:meta 0 pod-a CP5 604800000");
    ck_assert_int_eq(feed(1, I(0)), 0);
    ck_assert_uint_eq(REC.n, n + 2); /* no event for what was not ours */
    ck_assert(!registry_table_reconciling(T));
    /* the next one after the interval */
    registry_table_tick(T, true, NOW + INTERVAL_MS * 1000u - 1); /* finished at NOW */
    prepare(0);
    registry_table_tick(T, true, NOW + INTERVAL_MS * 1000u);
    ck_assert(registry_table_reconciling(T));
    /* broken: abandoned, started again by the next tick */
    prepare(1);
    ck_assert_int_eq(feed(0), -EPIPE);
    ck_assert(!registry_table_reconciling(T));
    registry_table_tick(T, true, NOW + INTERVAL_MS * 1000u + 1);
    ck_assert(registry_table_reconciling(T));
    ck_assert_str_eq(cmd(prepare(1), 0), "SSCAN pod:{pod-a}:conns 0 COUNT 1000");
    ck_assert_int_eq(feed(1, S("garbage")), 0); /* an odd answer: abandoned until the next */
    ck_assert(!registry_table_reconciling(T));
}
END_TEST

START_TEST(test_destroy_with_work)
{
    reg(0, "CP1", 1, "none");
    unreg("CP2", 2, 3);
    lookup(1, "CP3");
    prepare(3);
    dedup(2, "cmd-1", 10);
    reg(1, "CP4", 4, "none");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry_table");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_register_claim_registered);
    tcase_add_test(tc, test_register_same_conn_reasserts);
    tcase_add_test(tc, test_second_register_before_claim_reply);
    tcase_add_test(tc, test_unregister_older_after_newer_register);
    tcase_add_test(tc, test_unregister_before_registered_answered);
    tcase_add_test(tc, test_superseded_pubsub_epochs);
    tcase_add_test(tc, test_reassert_answers);
    tcase_add_test(tc, test_redis_down);
    tcase_add_test(tc, test_reply_needs_reconnect);
    tcase_add_test(tc, test_lookup_noscript_reconnects);
    tcase_add_test(tc, test_claim_error_retried);
    tcase_add_test(tc, test_busy_hysteresis);
    tcase_add_test(tc, test_batch_max);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_destroy_with_work);
    tcase_add_test(tc, test_register_with_epoch_reasserts);
    tcase_add_test(tc, test_unauthenticated_claim_refused);
    tcase_add_test(tc, test_tag_lookup);
    tcase_add_test(tc, test_txid_block);
    tcase_add_test(tc, test_txid_claim);
    tcase_add_test(tc, test_core_restart_unconfirmed_released);
    tcase_add_test(tc, test_reconcile_pod_set);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
