/* Unit tests for services/redis-registry/registry_creds: the edges' full syncs (paged scans),
 * changes published on ocppgw:cred, CRED_USED, the record as name=value lines, and the edges that
 * could not take a record, driven with replies fed by the test (no Redis) and every envelope to
 * an edge recorded. */
#include "registry_creds.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "registry_test.h"

#define RESCAN_MS 300000

static registry_creds_t *C;
static recorder_t REC;
static uint64_t NOW = 1795489200000000u;
static const char *FULL_EDGE; /* this edge's sends fail with -ENOBUFS */

static int to_edge(void *arg, const char *edge_id, const envelope_t *env)
{
    rec_to_edge(arg, edge_id, env);
    return FULL_EDGE && strcmp(edge_id, FULL_EDGE) == 0 ? -ENOBUFS : 0;
}

static void setup(void)
{
    log_set_fd(-1);
    memset(&REC, 0, sizeof(REC));
    FULL_EDGE = NULL;
    registry_creds_config_t cfg = {
        .rescan_ms = RESCAN_MS, .scan_count = 100, .batch_max = 16, .pending_max = 4};
    registry_creds_ops_t ops = {.to_edge = to_edge};
    C = registry_creds_new(&cfg, &ops, &REC);
    ck_assert_ptr_nonnull(C);
}

static void teardown(void)
{
    registry_creds_destroy(&C);
    registry_creds_destroy(&C);
    metrics_shutdown();
}

static int test_replies(const registry_reply_t *const *replies, size_t n)
{
    return registry_creds_on_replies(C, replies, n, NOW);
}

static const registry_batch_t *prepare(size_t expect)
{
    return expect_batch(registry_creds_prepare(C, NOW), expect);
}

static int hello(const char *edge, uint64_t instance)
{
    env_hello_t m = {
        .edge_id = env_str(edge), .endpoint = env_str("ipc:///x"), .instance = instance};
    return registry_creds_on_hello(C, &m, NOW);
}

static void changed(const char *identity)
{
    registry_creds_on_changed(C, identity, strlen(identity));
}

/* HGETALL reply of a record with a password. */
static registry_reply_t *rec_a(void)
{
    return A(12, S("hash"), S("aGFzaA=="), S("v"), S("1"), S("salt"), S("c2FsdA=="), S("alg"),
             S("pbkdf2-sha256"), S("profile"), S("2"), S("iter"), S("10000"));
}
#define REC_A "v=1\nprofile=2\nalg=pbkdf2-sha256\niter=10000\nsalt=c2FsdA==\nhash=aGFzaA=="

static const sent_t *sent(size_t i)
{
    ck_assert_uint_lt(i, REC.n);
    return &REC.sent[i];
}

START_TEST(test_hello)
{
    ck_assert_int_eq(hello("edge-0", 100), 1);
    ck_assert_int_eq(hello("edge-0", 100), 0);
    ck_assert_int_eq(hello("edge-0", 99), 0);  /* an older instance's late HELLO */
    ck_assert_int_eq(hello("edge-0", 200), 1); /* restarted */
    ck_assert_int_eq(hello("", 1), -EINVAL);
    ck_assert_uint_eq(registry_creds_edges(C), 1);
    char id[16];
    for (int i = 1; i < REGISTRY_EDGES_MAX; i++) {
        snprintf(id, sizeof(id), "e%d", i);
        ck_assert_int_eq(hello(id, 1), 1);
    }
    ck_assert_int_eq(hello("one-too-many", 1), -ENOSPC);
    ck_assert_uint_eq(REC.n, 0); /* nothing sent before the first batch */
}
END_TEST

/* A full sync, page by page: CRED_SYNC start, every record, CRED_SYNC done with the count; keys
 * that name no valid identity and records deleted meanwhile are skipped. */
START_TEST(test_full_sync_paged)
{
    ck_assert(!registry_creds_pending(C, NOW));
    hello("edge-0", 100);
    ck_assert(registry_creds_pending(C, NOW));
    const registry_batch_t *b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "SCAN 0 MATCH cred:* COUNT 100");
    ck_assert_uint_eq(REC.n, 1);
    ck_assert_int_eq(sent(0)->type, ENV_CRED_SYNC);
    ck_assert(!sent(0)->flag);
    ck_assert_uint_eq(sent(0)->epoch, 1);
    ck_assert_str_eq(sent(0)->edge, "edge-0");
    ck_assert_int_eq(feed(1, A(2, S("17"), A(3, S("cred:CP-A"), S("cred:bad id"), S("cred:CP-B")))),
                     0);
    b = prepare(3);
    ck_assert_str_eq(cmd(b, 0), "HGETALL cred:CP-A");
    ck_assert_str_eq(cmd(b, 1), "HGETALL cred:CP-B");
    ck_assert_str_eq(cmd(b, 2), "SCAN 17 MATCH cred:* COUNT 100");
    ck_assert_int_eq(feed(3, rec_a(), A(0), A(2, S("0"), A(1, S("cred:CP-C")))), 0);
    ck_assert_uint_eq(REC.n, 2); /* CP-B was deleted meanwhile: not sent */
    ck_assert_int_eq(sent(1)->type, ENV_CRED);
    ck_assert_str_eq(sent(1)->identity, "CP-A");
    ck_assert_str_eq(sent(1)->text, REC_A);
    ck_assert_uint_eq(sent(1)->epoch, 1);
    ck_assert(!registry_creds_synced(C, "edge-0", NULL));
    b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "HGETALL cred:CP-C");
    ck_assert_int_eq(feed(1, A(6, S("v"), S("1"), S("profile"), S("3"), S("alg"), S("none"))), 0);
    ck_assert_uint_eq(REC.n, 4);
    ck_assert_str_eq(sent(2)->text, "v=1\nprofile=3\nalg=none");
    ck_assert_int_eq(sent(3)->type, ENV_CRED_SYNC);
    ck_assert(sent(3)->flag);
    ck_assert_uint_eq(sent(3)->queued, 2);
    ck_assert_uint_eq(sent(3)->epoch, 1);
    uint64_t g = 0;
    ck_assert(registry_creds_synced(C, "edge-0", &g));
    ck_assert_uint_eq(g, 1);
    ck_assert(!registry_creds_pending(C, NOW));
    prepare(0);
}
END_TEST

/* Changes go to every edge that had or has a sync, counted in a sync in progress; an edge whose
 * first sync has not started yet gets them with it. */
START_TEST(test_changes)
{
    hello("edge-0", 100);
    prepare(1);
    feed(1, A(2, S("0"), A(0))); /* an empty store: synced with 0 records */
    ck_assert_uint_eq(REC.n, 2);
    ck_assert_uint_eq(sent(1)->queued, 0);
    ck_assert(registry_creds_synced(C, "edge-0", NULL));
    changed("CP-A");
    changed("CP-A");       /* twice before the batch: read once */
    changed("not valid!"); /* counted, ignored */
    hello("edge-1", 5);
    const registry_batch_t *b = prepare(2);
    ck_assert_str_eq(cmd(b, 0), "HGETALL cred:CP-A");
    ck_assert_str_eq(cmd(b, 1), "SCAN 0 MATCH cred:* COUNT 100"); /* edge-1's sync */
    ck_assert_uint_eq(REC.n, 3);                                  /* edge-1's start */
    ck_assert_str_eq(sent(2)->edge, "edge-1");
    ck_assert_uint_eq(sent(2)->epoch, 2);
    ck_assert_int_eq(feed(2, rec_a(), A(2, S("0"), A(1, S("cred:CP-A")))), 0);
    /* the change to both: edge-0 (synced, generation 1), edge-1 (in its sync, generation 2) */
    ck_assert_uint_eq(REC.n, 5);
    for (size_t i = 3; i < 5; i++) {
        ck_assert_int_eq(sent(i)->type, ENV_CRED);
        ck_assert_uint_eq(sent(i)->epoch, strcmp(sent(i)->edge, "edge-0") == 0 ? 1 : 2);
    }
    b = prepare(1);
    ck_assert_int_eq(feed(1, rec_a()), 0);
    ck_assert_uint_eq(REC.n, 7); /* the record to edge-1, then its end counting both */
    ck_assert_str_eq(sent(5)->edge, "edge-1");
    ck_assert(sent(6)->flag);
    ck_assert_uint_eq(sent(6)->queued, 2);
    /* deleted: an empty record to both */
    changed("CP-A");
    prepare(1);
    ck_assert_int_eq(feed(1, A(0)), 0);
    ck_assert_uint_eq(REC.n, 9);
    ck_assert_str_eq(sent(7)->text, "");
    ck_assert_str_eq(sent(8)->text, "");
    /* more changes than pending_max: a full sync instead */
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "CP-%d", i);
        changed(id);
    }
    b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "SCAN 0 MATCH cred:* COUNT 100");
}
END_TEST

START_TEST(test_cred_used)
{
    env_cred_used_t m = {.identity = env_str("CP-A"), .fingerprint = env_str("0123456789abcdef")};
    ck_assert_int_eq(registry_creds_on_cred_used(C, &m), 0);
    env_cred_used_t bad = {.identity = env_str("CP-A"), .fingerprint = env_str("XYZ")};
    ck_assert_int_eq(registry_creds_on_cred_used(C, &bad), -EINVAL);
    bad = (env_cred_used_t){.identity = env_str("bad id"), .fingerprint = env_str("00")};
    ck_assert_int_eq(registry_creds_on_cred_used(C, &bad), -EINVAL);
    const registry_batch_t *b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "CRED_USED cred:CP-A 0123456789abcdef ocppgw:cred CP-A");
    ck_assert_uint_eq(registry_batch_numkeys(b, 0), 1);
    ck_assert_int_eq(feed(1, I(1)), 0);
    ck_assert_uint_eq(REC.n, 0); /* the script published: the change comes back by pub/sub */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(registry_creds_on_cred_used(C, &m), 0);
    ck_assert_int_eq(registry_creds_on_cred_used(C, &m), -ENOBUFS);
}
END_TEST

/* The connection breaks: the pass starts over a second later with a new generation; unanswered
 * changes are read again. */
START_TEST(test_broken_batch)
{
    hello("edge-0", 100);
    prepare(1);
    feed(1, A(2, S("9"), A(1, S("cred:CP-A"))));
    changed("CP-B");
    changed("CP-C");
    prepare(4);                                 /* two changes, the page (CP-A), the next SCAN */
    ck_assert_int_eq(feed(1, rec_a()), -EPIPE); /* one change answered, then nothing */
    ck_assert(registry_creds_pending(C, NOW));  /* the other change again */
    const registry_batch_t *b = prepare(1);
    ck_assert_str_eq(arg(b, 0, 0), "HGETALL");
    feed(1, rec_a());
    ck_assert(!registry_creds_pending(C, NOW)); /* the sync waits its second */
    prepare(0);
    NOW += 1000000u;
    ck_assert(registry_creds_pending(C, NOW));
    b = prepare(1);
    ck_assert_str_eq(cmd(b, 0), "SCAN 0 MATCH cred:* COUNT 100");
    const sent_t *start = &REC.sent[REC.n - 1];
    ck_assert_int_eq(start->type, ENV_CRED_SYNC);
    ck_assert_uint_eq(start->epoch, 2);
    /* a scan answer that is not one: tried again later */
    ck_assert_int_eq(feed(1, S("garbage")), 0);
    ck_assert(!registry_creds_pending(C, NOW));
}
END_TEST

/* An edge that could not take a record gets another full sync; the periodic rescan syncs all. */
START_TEST(test_full_edge_and_rescan)
{
    registry_creds_tick(C, NOW);
    hello("edge-0", 100);
    hello("edge-1", 100);
    FULL_EDGE = "edge-1";
    prepare(1);
    feed(1, A(2, S("0"), A(1, S("cred:CP-A"))));
    prepare(1);
    feed(1, rec_a());
    ck_assert(registry_creds_synced(C, "edge-0", NULL));
    ck_assert(!registry_creds_synced(C, "edge-1", NULL));
    FULL_EDGE = NULL;
    size_t n = REC.n;
    prepare(1); /* edge-1 again, alone */
    ck_assert_uint_eq(REC.n, n + 1);
    ck_assert_str_eq(REC.sent[n].edge, "edge-1");
    ck_assert_uint_eq(REC.sent[n].epoch, 2);
    feed(1, A(2, S("0"), A(0)));
    ck_assert(registry_creds_synced(C, "edge-1", NULL));
    ck_assert(!registry_creds_pending(C, NOW));
    registry_creds_tick(C, NOW + RESCAN_MS * 1000u - 1);
    ck_assert(!registry_creds_pending(C, NOW));
    registry_creds_tick(C, NOW + RESCAN_MS * 1000u);
    ck_assert(registry_creds_pending(C, NOW));
    n = REC.n;
    prepare(1);
    ck_assert_uint_eq(REC.n, n + 2); /* both edges start generation 3 */
    ck_assert_uint_eq(REC.sent[n].epoch, 3);
    ck_assert_uint_eq(REC.sent[n + 1].epoch, 3);
}
END_TEST

static int record_of(registry_reply_t *r, char *out, size_t len)
{
    const char *why;
    int rc = registry_cred_record(r, out, len, &why);
    ck_assert(rc >= 0 ? why == NULL : why != NULL);
    registry_reply_destroy(&r);
    return rc;
}

/* The lines: canonical order, unknown fields after (if the edge could read them), and anything
 * that cannot be a record refused as REGISTRY_CRED_INVALID. */
START_TEST(test_record_lines)
{
    char out[REGISTRY_CRED_RECORD_MAX];
    ck_assert_int_eq(record_of(A(0), out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(record_of(A(8, S("updated_ms"), S("17"), S("x_new"), S("a b"), S("Bad"),
                                 S("z"), S("prev_hash"), S("cGg=")),
                               out, sizeof(out)),
                     (int)strlen("prev_hash=cGg=\nupdated_ms=17\nx_new=a b"));
    ck_assert_str_eq(out, "prev_hash=cGg=\nupdated_ms=17\nx_new=a b");
    /* a known field with a line break: refused */
    ck_assert_int_eq(record_of(A(2, S("hash"), S("a\nv=1")), out, sizeof(out)), -EINVAL);
    ck_assert_str_eq(out, REGISTRY_CRED_INVALID);
    /* an unknown field with a control character: dropped */
    ck_assert_int_eq(record_of(A(4, S("v"), S("1"), S("note"), S("\x01")), out, sizeof(out)), 3);
    /* nothing an edge could read: refused, not "deleted" */
    ck_assert_int_eq(record_of(A(2, S("Bad"), S("1")), out, sizeof(out)), -EINVAL);
    ck_assert_str_eq(out, REGISTRY_CRED_INVALID);
    /* not a hash */
    ck_assert_int_eq(record_of(E("WRONGTYPE Operation"), out, sizeof(out)), -EINVAL);
    ck_assert_int_eq(record_of(A(3, S("v"), S("1"), S("x")), out, sizeof(out)), -EINVAL);
    ck_assert_int_eq(record_of(A(2, S("v"), I(1)), out, sizeof(out)), -EINVAL);
    /* too long for out */
    ck_assert_int_eq(record_of(rec_a(), out, 20), -EINVAL);
    ck_assert_str_eq(out, REGISTRY_CRED_INVALID);
    ck_assert_int_eq(record_of(rec_a(), out, strlen(REC_A) + 1), (int)strlen(REC_A));
    ck_assert_int_eq(record_of(rec_a(), out, strlen(REC_A)), -EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry_creds");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_hello);
    tcase_add_test(tc, test_full_sync_paged);
    tcase_add_test(tc, test_changes);
    tcase_add_test(tc, test_cred_used);
    tcase_add_test(tc, test_broken_batch);
    tcase_add_test(tc, test_full_edge_and_rescan);
    tcase_add_test(tc, test_record_lines);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
