/* Unit tests for services/redis-registry/registry_cluster (the pure half of the Redis Cluster
 * client): key slots and hash tags (the values Redis' CLUSTER KEYSLOT answers), the slot map
 * from CLUSTER SLOTS, MOVED/ASK parsing, routing, and the Cluster plan of every script that
 * touches keys of more than one slot, step by step. */
#include "registry_cluster.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Reply builders (registry_test.h has the same, tied to an engine's reply handler). */
static registry_reply_t *S(const char *s)
{
    return registry_reply_text(REGISTRY_REPLY_STRING, s, strlen(s));
}

static registry_reply_t *I(long long v)
{
    return registry_reply_int(v);
}

static registry_reply_t *E(const char *s)
{
    return registry_reply_text(REGISTRY_REPLY_ERROR, s, strlen(s));
}

static registry_reply_t *NIL(void)
{
    return registry_reply_nil();
}

/* An array of n replies (taken). */
static registry_reply_t *A(size_t n, ...)
{
    registry_reply_t *a = registry_reply_array(n);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        a->element[i] = va_arg(ap, registry_reply_t *);
    va_end(ap);
    return a;
}

/* ---- slots ---------------------------------------------------------------------------------- */

static int slot(const char *k)
{
    return registry_cluster_key_slot(k, strlen(k));
}

START_TEST(test_crc16_and_slots)
{
    ck_assert_uint_eq(registry_cluster_crc16("123456789", 9), 0x31C3); /* XMODEM check value */
    /* CLUSTER KEYSLOT of Redis 7.0 */
    ck_assert_int_eq(slot("foo"), 12182);
    ck_assert_int_eq(slot("conn:CP1"), 7555);
    ck_assert_int_eq(slot("pod:{p}"), 16023);
    ck_assert_int_eq(slot("pod:{q}"), 11958);
    ck_assert_int_eq(slot("{user1000}.following"), slot("{user1000}.followers"));
    ck_assert_int_eq(slot("foo{}{bar}"), (int)(registry_cluster_crc16("foo{}{bar}", 10) & 16383));
    ck_assert_int_eq(slot("foo{{bar}}zap"), (int)(registry_cluster_crc16("{bar", 4) & 16383));
    ck_assert_int_eq(slot("foo{bar}{zap}"), slot("bar"));
    ck_assert_int_eq(slot("{"), (int)(registry_cluster_crc16("{", 1) & 16383));
    ck_assert_int_eq(slot(""), 0);
}
END_TEST

/* The seed's key conn:<identity> is hashed whole; its companions name it as their tag: one
 * slot per charge point. Likewise every key of one pod. */
START_TEST(test_station_and_pod_keys_share_a_slot)
{
    char id[32], k1[96], k2[96], k3[96];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof(id), i % 2 ? "CP-%05d" : "station.%d/x", i);
        registry_key_conn(id, k1, sizeof(k1));
        registry_key_epoch(id, k2, sizeof(k2));
        registry_key_meta(id, k3, sizeof(k3));
        ck_assert_int_eq(slot(k1), slot(k2));
        ck_assert_int_eq(slot(k1), slot(k3));
        registry_key_lease(id, k1, sizeof(k1));
        registry_key_pod_conns(id, k2, sizeof(k2));
        ck_assert_int_eq(slot(k1), slot(k2));
        registry_key_takeover_since(id, k3, sizeof(k3));
        ck_assert_int_eq(slot(k1), slot(k3));
        registry_key_takeover_forgotten(id, k3, sizeof(k3));
        ck_assert_int_eq(slot(k1), slot(k3));
        registry_key_takeover_epoch(id, k3, sizeof(k3));
        ck_assert_int_eq(slot(k1), slot(k3));
    }
    ck_assert_int_eq(slot("conn:CP1"), slot("{conn:CP1}:epoch"));
}
END_TEST

START_TEST(test_cluster_url)
{
    registry_redis_url_t u;
    char why[160];
    ck_assert_int_eq(
        registry_parse_redis_url("redis+cluster://a:7000,b:7001", &u, why, sizeof(why)), 0);
    ck_assert(u.cluster);
    ck_assert_str_eq(u.seeds, "a:7000,b:7001");
    ck_assert_str_eq(u.host, "a");
    ck_assert_int_eq(u.port, 7000);
    ck_assert_int_eq(registry_parse_redis_url("redis+cluster://us:pw@h:1/", &u, why, sizeof(why)),
                     0);
    ck_assert_str_eq(u.user, "us");
    ck_assert_str_eq(u.password, "pw");
    ck_assert_int_eq(registry_parse_redis_url("redis://h:1", &u, why, sizeof(why)), 0);
    ck_assert(!u.cluster);
    ck_assert_int_lt(registry_parse_redis_url("redis+cluster://h", &u, why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "host:port"));
    ck_assert_int_lt(registry_parse_redis_url("redis+cluster://h:1/3", &u, why, sizeof(why)), 0);
    ck_assert_int_lt(registry_parse_redis_url("redis+cluster://h:1,", &u, why, sizeof(why)), 0);
    ck_assert_int_lt(registry_parse_redis_url("redis+cluster://h:0", &u, why, sizeof(why)), 0);
    ck_assert_int_lt(registry_parse_redis_url("redis+cluster://", &u, why, sizeof(why)), 0);
}
END_TEST

/* ---- the slot map --------------------------------------------------------------------------- */

static registry_reply_t *range(long long a, long long b, const char *host, long long port)
{
    return A(4, I(a), I(b), A(3, S(host), I(port), S("id")), A(3, S("10.0.0.9"), I(1), S("r")));
}

START_TEST(test_map_parse)
{
    static registry_cluster_map_t map;
    char why[160];
    registry_reply_t *r = A(3, range(10923, 16383, "127.0.0.1", 7002),
                            range(0, 5460, "127.0.0.1", 7000), range(5461, 10922, "", 7001));
    ck_assert_int_eq(registry_cluster_map_parse(r, "seed", &map, why, sizeof(why)), 0);
    ck_assert_int_eq(map.nnodes, 3);
    ck_assert_int_eq(map.covered, 16384);
    /* sorted by host then port: 127.0.0.1:7000, 127.0.0.1:7002, seed:7001 (the empty host) */
    ck_assert_str_eq(map.nodes[0].host, "127.0.0.1");
    ck_assert_int_eq(map.nodes[0].port, 7000);
    ck_assert_int_eq(map.nodes[1].port, 7002);
    ck_assert_str_eq(map.nodes[2].host, "seed");
    ck_assert_int_eq(map.slot_node[0], 0);
    ck_assert_int_eq(map.slot_node[5461], 2);
    ck_assert_int_eq(map.slot_node[16383], 1);
    ck_assert_int_eq(registry_cluster_map_find(&map, "seed", 7001), 2);
    ck_assert_int_eq(registry_cluster_map_find(&map, "seed", 7000), -1);
    registry_reply_destroy(&r);

    r = A(1, range(0, 99, "h", 1));
    ck_assert_int_eq(registry_cluster_map_parse(r, NULL, &map, why, sizeof(why)), 0);
    ck_assert_int_eq(map.covered, 100);
    ck_assert_int_eq(map.slot_node[100], REGISTRY_CLUSTER_NO_NODE);
    registry_reply_destroy(&r);

    registry_reply_t *bad[] = {
        S("nope"),
        A(1, range(5, 4, "h", 1)),
        A(1, range(0, 16384, "h", 1)),
        A(1, range(-1, 3, "h", 1)),
        A(1, range(0, 3, "h", 0)),
        A(1, range(0, 3, "h", 65536)),
        A(1, A(2, I(0), I(3))),
        A(1, A(3, I(0), I(3), A(1, S("h")))),
        A(1, A(3, I(0), I(3), A(2, I(5), I(1)))),
        A(1, range(0, 3, "", 1)), /* no fallback for the empty host */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(registry_cluster_map_parse(bad[i], NULL, &map, why, sizeof(why)) < 0,
                      "bad reply %zu accepted", i);
        ck_assert(why[0]);
        registry_reply_destroy(&bad[i]);
    }
}
END_TEST

START_TEST(test_redirects)
{
    const char *m = "MOVED 3999 127.0.0.1:6381";
    registry_redirect_t rd = registry_cluster_parse_redirect(m, strlen(m));
    ck_assert_int_eq(rd.kind, REGISTRY_REDIRECT_MOVED);
    ck_assert_int_eq(rd.slot, 3999);
    ck_assert_str_eq(rd.to.host, "127.0.0.1");
    ck_assert_int_eq(rd.to.port, 6381);
    m = "ASK 16383 ::1:7000";
    rd = registry_cluster_parse_redirect(m, strlen(m));
    ck_assert_int_eq(rd.kind, REGISTRY_REDIRECT_ASK);
    ck_assert_str_eq(rd.to.host, "::1");
    ck_assert_int_eq(rd.to.port, 7000);
    const char *bad[] = {"MOVED",        "MOVED 1",         "MOVED 1 h",       "MOVED 16384 h:1",
                         "MOVED -1 h:1", "MOVED 1 :1",      "MOVED 1 h:0",     "MOVED 1 h:70000",
                         "MOVED 1 h:1x", "ASK x h:1",       "ERR MOVED 1 h:1", "MOVED 1 h :1",
                         "NOSCRIPT x",   "MOVED 000001 h:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(registry_cluster_parse_redirect(bad[i], strlen(bad[i])).kind ==
                          REGISTRY_REDIRECT_NONE,
                      "'%s' parsed", bad[i]);
    char nul[] = "MOVED 1 h:1";
    nul[8] = '\0';
    ck_assert_int_eq(registry_cluster_parse_redirect(nul, sizeof(nul) - 1).kind,
                     REGISTRY_REDIRECT_NONE);
}
END_TEST

START_TEST(test_command_slot)
{
    registry_batch_t *b = registry_batch_new();
    const char *get[] = {"GET", "conn:CP1"};
    const char *scan[] = {"SCAN", "0", "MATCH", "cred:*"};
    const char *pub[] = {"PUBLISH", "ocppgw:cred", "CP1"};
    const char *lock[] = {"ocppgw:sweeper", "pod-a", "1000"};
    registry_batch_command(b, get, 2);
    registry_batch_command(b, scan, 4);
    registry_batch_command(b, pub, 3);
    registry_batch_script(b, REGISTRY_SCRIPT_LOCK, 1, lock, 3);
    ck_assert_int_eq(registry_cluster_command_slot(b, 0), 7555);
    ck_assert_int_eq(registry_cluster_command_slot(b, 1), -1);
    ck_assert_int_eq(registry_cluster_command_slot(b, 2), -1);
    ck_assert_int_eq(registry_cluster_command_slot(b, 3), slot("ocppgw:sweeper"));
    registry_batch_destroy(&b);
}
END_TEST

/* ---- plans ---------------------------------------------------------------------------------- */

typedef struct {
    registry_batch_t *b, *out;
    registry_cluster_op_t op;
    int targets[REGISTRY_CLUSTER_STEP_MAX];
    int n; /* commands of the last step */
} plan_t;

static void plan_start(plan_t *p)
{
    memset(p, 0, sizeof(*p));
    p->b = registry_batch_new();
    p->out = registry_batch_new();
}

static void plan_end(plan_t *p)
{
    registry_cluster_op_reset(&p->op);
    registry_batch_destroy(&p->b);
    registry_batch_destroy(&p->out);
}

/* Runs the next step with the given replies (taken); returns its command count. */
static int step(plan_t *p, int nnodes, size_t nr, ...)
{
    registry_reply_t *r[4] = {0};
    va_list ap;
    va_start(ap, nr);
    for (size_t i = 0; i < nr; i++)
        r[i] = va_arg(ap, registry_reply_t *);
    va_end(ap);
    registry_batch_clear(p->out);
    p->n = registry_cluster_op_step(&p->op, p->b, 0, nnodes, (const registry_reply_t *const *)r, nr,
                                    p->out, p->targets);
    for (size_t i = 0; i < nr; i++)
        registry_reply_destroy(&r[i]);
    return p->n;
}

/* Command i of the last step as "WORD arg arg..." (a script as "#<number>"). */
static const char *cmd(plan_t *p, size_t i)
{
    static char buf[512];
    size_t off = 0;
    int script = registry_batch_script_of(p->out, i);
    if (script != REGISTRY_BATCH_PLAIN)
        off += (size_t)snprintf(buf, sizeof(buf), "#%d/%zu", script,
                                registry_batch_numkeys(p->out, i));
    for (size_t j = 0; j < registry_batch_argc(p->out, i) && off < sizeof(buf); j++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", off ? " " : "",
                                registry_batch_arg(p->out, i, j));
    return buf;
}

static void claim_cmd(plan_t *p, const char *auth)
{
    const char *argv[] = {"conn:CP1",
                          "{conn:CP1}:epoch",
                          "{conn:CP1}:meta",
                          "pod-b",
                          "edge-0",
                          "7",
                          "100",
                          "ocpp1.6",
                          "",
                          "CP1",
                          auth};
    registry_batch_script(p->b, REGISTRY_SCRIPT_CLAIM, 3, argv, 11);
}

START_TEST(test_plan_claim_moves_the_index)
{
    plan_t p;
    plan_start(&p);
    claim_cmd(&p, "1");
    ck_assert_int_eq(step(&p, 3, 0), 2);
    ck_assert_str_eq(cmd(&p, 0), "SADD pod:{pod-b}:conns CP1"); /* the index first */
    char want[256];
    snprintf(want, sizeof(want),
             "#%d/3 conn:CP1 {conn:CP1}:epoch {conn:CP1}:meta pod-b edge-0 7 100 ocpp1.6  CP1 1 ",
             REGISTRY_SCRIPT_CLAIM_CLUSTER);
    ck_assert_str_eq(cmd(&p, 1), want);
    ck_assert_int_eq(registry_cluster_command_slot(p.out, 1), 7555);
    /* claimed from pod-a: pod-a's set loses it */
    ck_assert_int_eq(
        step(&p, 3, 2, I(1), A(5, I(42), S("pod-a"), S("accepted"), S("3"), S("claimed"))), 1);
    ck_assert_str_eq(cmd(&p, 0), "SREM pod:{pod-a}:conns CP1");
    ck_assert_int_eq(step(&p, 3, 1, I(1)), 0);
    ck_assert_int_eq(registry_reply_elem_int(p.op.result, 0), 42);
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 1), "pod-a");
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 4), "claimed");
    plan_end(&p);

    /* a fresh claim (no previous pod): done after the first step */
    plan_start(&p);
    claim_cmd(&p, "1");
    step(&p, 3, 0);
    ck_assert_int_eq(step(&p, 3, 2, I(1), A(5, I(1), S(""), S(""), S(""), S("claimed"))), 0);
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 4), "claimed");
    plan_end(&p);
}
END_TEST

START_TEST(test_plan_claim_checks_the_lease)
{
    plan_t p;
    plan_start(&p);
    claim_cmd(&p, "0");
    step(&p, 3, 0);
    ck_assert_int_eq(step(&p, 3, 2, I(1), A(5, I(9), S("pod-a"), S(""), S(""), S("check"))), 1);
    ck_assert_str_eq(cmd(&p, 0), "EXISTS pod:{pod-a}");
    /* pod-a is alive: refused, and our speculative index entry goes */
    ck_assert_int_eq(step(&p, 3, 1, I(1)), 1);
    ck_assert_str_eq(cmd(&p, 0), "SREM pod:{pod-b}:conns CP1");
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 4), "refused");
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 1), "pod-a");
    ck_assert_int_eq(registry_reply_elem_int(p.op.result, 0), 9); /* the mapping's epoch */
    ck_assert_int_eq(step(&p, 3, 1, I(1)), 0);
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 4), "refused");
    plan_end(&p);

    /* pod-a is dead: claimed again naming pod-a, then pod-a's set loses it */
    plan_start(&p);
    claim_cmd(&p, "0");
    step(&p, 3, 0);
    step(&p, 3, 2, I(1), A(5, I(9), S("pod-a"), S(""), S(""), S("check")));
    ck_assert_int_eq(step(&p, 3, 1, I(0)), 1);
    ck_assert_int_eq(registry_batch_script_of(p.out, 0), REGISTRY_SCRIPT_CLAIM_CLUSTER);
    ck_assert_str_eq(registry_batch_arg(p.out, 0, 11), "pod-a");
    ck_assert_int_eq(step(&p, 3, 1, A(5, I(10), S("pod-a"), S("accepted"), S("5"), S("claimed"))),
                     1);
    ck_assert_str_eq(cmd(&p, 0), "SREM pod:{pod-a}:conns CP1");
    ck_assert_int_eq(step(&p, 3, 1, I(1)), 0);
    ck_assert_int_eq(registry_reply_elem_int(p.op.result, 0), 10);
    plan_end(&p);

    /* the mapping changed hands between the two attempts: refused, as when in doubt */
    plan_start(&p);
    claim_cmd(&p, "0");
    step(&p, 3, 0);
    step(&p, 3, 2, I(1), A(5, I(9), S("pod-a"), S(""), S(""), S("check")));
    step(&p, 3, 1, I(0));
    ck_assert_int_eq(step(&p, 3, 1, A(5, I(11), S("pod-c"), S(""), S(""), S("check"))), 1);
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 4), "refused");
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 1), "pod-c");
    plan_end(&p);

    /* an error at any step is the result */
    plan_start(&p);
    claim_cmd(&p, "0");
    step(&p, 3, 0);
    ck_assert_int_eq(step(&p, 3, 2, I(1), E("NOSCRIPT No matching script")), 0);
    ck_assert(registry_reply_needs_reconnect(p.op.result));
    plan_end(&p);
}
END_TEST

START_TEST(test_plan_reassert)
{
    plan_t p;
    plan_start(&p);
    const char *argv[] = {"conn:CP1",
                          "{conn:CP1}:epoch",
                          "{conn:CP1}:meta",
                          "pod-b",
                          "41",
                          "edge-0",
                          "7",
                          "100",
                          "ocpp1.6",
                          "",
                          "CP1",
                          "1"};
    registry_batch_script(p.b, REGISTRY_SCRIPT_REASSERT, 3, argv, 12);
    ck_assert_int_eq(step(&p, 3, 0), 2);
    ck_assert_str_eq(cmd(&p, 0), "SADD pod:{pod-b}:conns CP1");
    ck_assert_int_eq(registry_batch_script_of(p.out, 1), REGISTRY_SCRIPT_REASSERT_CLUSTER);
    /* superseded by pod-c: our extra index entry goes */
    ck_assert_int_eq(step(&p, 3, 2, I(1), A(3, I(50), S("superseded"), S("pod-c"))), 1);
    ck_assert_str_eq(cmd(&p, 0), "SREM pod:{pod-b}:conns CP1");
    ck_assert_int_eq(step(&p, 3, 1, I(1)), 0);
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 2), "pod-c");
    plan_end(&p);

    /* superseded by a newer connection of our own pod: the entry stays */
    plan_start(&p);
    registry_batch_script(p.b, REGISTRY_SCRIPT_REASSERT, 3, argv, 12);
    step(&p, 3, 0);
    ck_assert_int_eq(step(&p, 3, 2, I(0), A(3, I(50), S("superseded"), S("pod-b"))), 0);
    plan_end(&p);
}
END_TEST

START_TEST(test_plan_release)
{
    const char *argv[] = {"conn:CP1", "{conn:CP1}:epoch", "{conn:CP1}:meta", "41", "pod-b", "CP1",
                          "1000"};
    for (int answer = 0; answer <= 2; answer++) {
        plan_t p;
        plan_start(&p);
        registry_batch_script(p.b, REGISTRY_SCRIPT_RELEASE, 3, argv, 7);
        ck_assert_int_eq(step(&p, 3, 0), 1);
        ck_assert_int_eq(registry_batch_script_of(p.out, 0), REGISTRY_SCRIPT_RELEASE_CLUSTER);
        int n = step(&p, 3, 1, I(answer));
        if (answer == 2) { /* ours under a newer epoch: the index keeps it, the engine sees 0 */
            ck_assert_int_eq(n, 0);
        } else {
            ck_assert_int_eq(n, 1);
            ck_assert_str_eq(cmd(&p, 0), "SREM pod:{pod-b}:conns CP1");
            ck_assert_int_eq(step(&p, 3, 1, I(1)), 0);
        }
        ck_assert_int_eq(p.op.result->type, REGISTRY_REPLY_INTEGER);
        ck_assert_int_eq(p.op.result->integer, answer == 1);
        plan_end(&p);
    }
}
END_TEST

START_TEST(test_plan_lookup)
{
    plan_t p;
    plan_start(&p);
    const char *argv[] = {"conn:CP1", "{conn:CP1}:meta", "pod:"};
    registry_batch_script(p.b, REGISTRY_SCRIPT_LOOKUP, 2, argv, 3);
    ck_assert_int_eq(step(&p, 3, 0), 1);
    ck_assert_int_eq(step(&p, 3, 1, A(3, S("pod-a"), I(7), I(0))), 1);
    ck_assert_str_eq(cmd(&p, 0), "EXISTS pod:{pod-a}");
    ck_assert_int_eq(step(&p, 3, 1, I(1)), 0);
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 0), "pod-a");
    ck_assert_int_eq(registry_reply_elem_int(p.op.result, 1), 7);
    ck_assert_int_eq(registry_reply_elem_int(p.op.result, 2), 1);
    plan_end(&p);

    plan_start(&p); /* nobody owns it: one step */
    registry_batch_script(p.b, REGISTRY_SCRIPT_LOOKUP, 2, argv, 3);
    step(&p, 3, 0);
    ck_assert_int_eq(step(&p, 3, 1, A(3, S(""), I(0), I(0))), 0);
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 0), "");
    plan_end(&p);
}
END_TEST

START_TEST(test_plan_sweep)
{
    const char *argv[] = {"conn:CP1",
                          "{conn:CP1}:meta",
                          "pod:{pod-a}:conns",
                          "pod:{pod-a}",
                          "{conn:CP1}:epoch",
                          "pod-a",
                          "CP1",
                          "1000"};
    plan_t p;
    plan_start(&p);
    registry_batch_script(p.b, REGISTRY_SCRIPT_SWEEP, 5, argv, 8);
    ck_assert_int_eq(step(&p, 3, 0), 1);
    ck_assert_str_eq(cmd(&p, 0), "EXISTS pod:{pod-a}"); /* the lease before anything */
    ck_assert_int_eq(step(&p, 3, 1, I(1)), 0);          /* back alive: nothing touched */
    ck_assert_int_eq(registry_reply_elem_int(p.op.result, 0), -1);
    plan_end(&p);

    plan_start(&p);
    registry_batch_script(p.b, REGISTRY_SCRIPT_SWEEP, 5, argv, 8);
    step(&p, 3, 0);
    ck_assert_int_eq(step(&p, 3, 1, I(0)), 2);
    char want[160];
    snprintf(want, sizeof(want), "#%d/3 conn:CP1 {conn:CP1}:meta {conn:CP1}:epoch pod-a CP1 1000",
             REGISTRY_SCRIPT_SWEEP_CLUSTER);
    ck_assert_str_eq(cmd(&p, 0), want);
    ck_assert_str_eq(cmd(&p, 1), "SREM pod:{pod-a}:conns CP1");
    ck_assert_int_eq(step(&p, 3, 2, A(2, I(1), I(33)), I(1)), 0);
    ck_assert_int_eq(registry_reply_elem_int(p.op.result, 0), 1);
    ck_assert_int_eq(registry_reply_elem_int(p.op.result, 1), 33);
    plan_end(&p);
}
END_TEST

START_TEST(test_plan_takeover)
{
    const char *argv[] = {"takeover:{pod-a}",
                          "takeover:{pod-a}:epoch",
                          "pod:{pod-a}",
                          "takeover:{pod-a}:forgotten",
                          "takeover:{pod-a}:since",
                          "pod:{pod-a}:conns",
                          "ocppgw:pods",
                          "pod-b",
                          "1000",
                          "try",
                          "5000",
                          "pod-a",
                          "9000"};
    plan_t p;
    plan_start(&p);
    registry_batch_script(p.b, REGISTRY_SCRIPT_TAKEOVER, 7, argv, 13);
    ck_assert_int_eq(step(&p, 3, 0), 1);
    ck_assert_int_eq(registry_batch_numkeys(p.out, 0), 6);
    ck_assert_int_eq(registry_batch_argc(p.out, 0), 12);
    ck_assert_int_eq(step(&p, 3, 1, A(4, I(0), S("forgotten"), I(6000), I(1))), 1);
    ck_assert_str_eq(cmd(&p, 0), "SREM ocppgw:pods pod-a");
    ck_assert_int_eq(step(&p, 3, 1, I(1)), 0);
    ck_assert_uint_eq(p.op.result->elements, 3);
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 1), "forgotten");
    plan_end(&p);

    plan_start(&p);
    registry_batch_script(p.b, REGISTRY_SCRIPT_TAKEOVER, 7, argv, 13);
    step(&p, 3, 0);
    ck_assert_int_eq(step(&p, 3, 1, A(3, I(4), S("won"), I(100))), 0);
    ck_assert_str_eq(registry_reply_elem_str(p.op.result, 1), "won");
    plan_end(&p);
}
END_TEST

START_TEST(test_plan_scan_walks_every_master)
{
    const char *cursors[] = {"0", "0:17", "1:0", "2:0"};
    const char *answers[] = {"17", "0", "0", "0"};
    const char *next[] = {"0:17", "1:0", "2:0", "0"};
    const int node[] = {0, 0, 1, 2};
    for (int i = 0; i < 4; i++) {
        plan_t p;
        plan_start(&p);
        const char *argv[] = {"SCAN", cursors[i], "MATCH", "cred:*", "COUNT", "100"};
        registry_batch_command(p.b, argv, 6);
        ck_assert_int_eq(step(&p, 3, 0), 1);
        ck_assert_int_eq(p.targets[0], node[i]);
        ck_assert_str_eq(registry_batch_arg(p.out, 0, 1), i == 1 ? "17" : "0");
        ck_assert_int_eq(step(&p, 3, 1, A(2, S(answers[i]), A(1, S("cred:CP1")))), 0);
        ck_assert_str_eq(registry_reply_elem_str(p.op.result, 0), next[i]);
        ck_assert_str_eq(registry_reply_elem_str(p.op.result->element[1], 0), "cred:CP1");
        plan_end(&p);
    }
    plan_t p; /* a cursor of a master that left the map starts over */
    plan_start(&p);
    const char *argv[] = {"SCAN", "7:99", "MATCH", "cred:*"};
    registry_batch_command(p.b, argv, 4);
    step(&p, 3, 0);
    ck_assert_int_eq(p.targets[0], 0);
    ck_assert_str_eq(registry_batch_arg(p.out, 0, 1), "0");
    plan_end(&p);
}
END_TEST

START_TEST(test_plan_passes_one_slot_commands)
{
    plan_t p;
    plan_start(&p);
    const char *argv[] = {"SET", "dedup:{c1}", "v", "NX", "GET", "PX", "10"};
    registry_batch_command(p.b, argv, 7);
    ck_assert_int_eq(step(&p, 3, 0), 1);
    ck_assert_str_eq(cmd(&p, 0), "SET dedup:{c1} v NX GET PX 10");
    ck_assert_int_eq(p.targets[0], -1);
    ck_assert_int_eq(step(&p, 3, 1, NIL()), 0);
    ck_assert_int_eq(p.op.result->type, REGISTRY_REPLY_NIL);
    plan_end(&p);

    plan_start(&p);
    const char *t[] = {"ocppgw:txid", "100", "2147483647"};
    registry_batch_script(p.b, REGISTRY_SCRIPT_TXID_BLOCK, 1, t, 3);
    ck_assert_int_eq(step(&p, 3, 0), 1);
    ck_assert_int_eq(registry_batch_script_of(p.out, 0), REGISTRY_SCRIPT_TXID_BLOCK);
    ck_assert_int_eq(step(&p, 3, 1, A(3, I(1), I(100), I(100))), 0);
    ck_assert_int_eq(registry_reply_elem_int(p.op.result, 1), 100);
    plan_end(&p);
}
END_TEST

START_TEST(test_cluster_errors_reconnect)
{
    const char *errs[] = {"CLUSTERDOWN The cluster is down", "TRYAGAIN Multiple keys",
                          "MOVED 1 h:1", "ASK 1 h:1"};
    for (size_t i = 0; i < 4; i++) {
        registry_reply_t *r = E(errs[i]);
        ck_assert(registry_reply_needs_reconnect(r));
        registry_reply_destroy(&r);
    }
    registry_reply_t *r = E("ASKING is fine");
    ck_assert(!registry_reply_needs_reconnect(r));
    registry_reply_destroy(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry_cluster");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_crc16_and_slots);
    tcase_add_test(tc, test_station_and_pod_keys_share_a_slot);
    tcase_add_test(tc, test_cluster_url);
    tcase_add_test(tc, test_map_parse);
    tcase_add_test(tc, test_redirects);
    tcase_add_test(tc, test_command_slot);
    tcase_add_test(tc, test_plan_claim_moves_the_index);
    tcase_add_test(tc, test_plan_claim_checks_the_lease);
    tcase_add_test(tc, test_plan_reassert);
    tcase_add_test(tc, test_plan_release);
    tcase_add_test(tc, test_plan_lookup);
    tcase_add_test(tc, test_plan_sweep);
    tcase_add_test(tc, test_plan_takeover);
    tcase_add_test(tc, test_plan_scan_walks_every_master);
    tcase_add_test(tc, test_plan_passes_one_slot_commands);
    tcase_add_test(tc, test_cluster_errors_reconnect);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
