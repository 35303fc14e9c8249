/* Unit tests for services/ocpp-core/core_edges: edge records (created on demand, bounded in
 * number, ids cut as the engine stores them) and the envelopes held for an edge without a route
 * (in order, the oldest dropped when full, expired by age with the next deadline, decoded back
 * intact, freed with the records). */
#include "core_edges.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000ULL

static envelope_t frame_env(const char *edge, uint64_t conn_id, const char *text)
{
    envelope_t env = {.type = ENV_FRAME};
    env.u.frame.edge_id = env_str(edge);
    env.u.frame.conn_id = conn_id;
    env.u.frame.data = (env_bin_t){(const uint8_t *)text, strlen(text)};
    env.u.frame.identity = env_str("CP1");
    return env;
}

START_TEST(test_records)
{
    core_edges_t *es = core_edges_new(2, 4, 2 * SEC);
    ck_assert_ptr_null(core_edges_get(es, env_str("a"), false));
    core_edge_t *a = core_edges_get(es, env_str("a"), true);
    ck_assert_ptr_nonnull(a);
    ck_assert(!a->routed);
    ck_assert_uint_eq(a->instance, 0);
    ck_assert_ptr_eq(core_edges_get(es, env_str("a"), true), a);
    ck_assert_ptr_nonnull(core_edges_get(es, env_str("b"), true));
    ck_assert_ptr_null(core_edges_get(es, env_str("c"), true)); /* bounded */
    ck_assert_uint_eq(core_edges_count(es), 2);
    a->routed = true;
    ck_assert_uint_eq(core_edges_routed(es), 1);
    char longid[100];
    memset(longid, 'e', sizeof(longid) - 1);
    longid[99] = '\0';
    core_edges_destroy(&es);
    ck_assert_ptr_null(es);
    core_edges_destroy(&es);
    es = core_edges_new(4, 4, SEC);
    core_edge_t *l = core_edges_get(es, env_str(longid), true);
    ck_assert_uint_eq(strlen(l->id), CORE_EDGE_ID_MAX);
    longid[CORE_EDGE_ID_MAX + 5] = '\0'; /* the same prefix: the same record */
    ck_assert_ptr_eq(core_edges_get(es, env_str(longid), true), l);
    core_edges_destroy(&es);
}
END_TEST

START_TEST(test_hold_in_order_and_bounded)
{
    core_edges_t *es = core_edges_new(4, 3, 2 * SEC);
    core_edge_t *e = core_edges_get(es, env_str("a"), true);
    char text[16];
    for (int i = 1; i <= 4; i++) {
        snprintf(text, sizeof(text), "frame %d", i);
        envelope_t env = frame_env("a", (uint64_t)i, text);
        ck_assert_int_eq(core_edges_hold(es, e, &env, (uint64_t)i * SEC), i == 4 ? 1 : 0);
    }
    ck_assert_uint_eq(core_edges_held(es), 3); /* frame 1 dropped for frame 4 */
    ck_assert_uint_eq(core_edges_next_deadline(es), 4 * SEC);
    ck_assert_uint_eq(core_edges_expire(es, 4 * SEC - 1), 0);
    ck_assert_uint_eq(core_edges_expire(es, 4 * SEC), 1); /* frame 2, held since 2 s */
    envelope_t env;
    void *buf;
    for (int i = 3; i <= 4; i++) {
        ck_assert_int_eq(core_edges_take(es, e, &env, &buf), 1);
        ck_assert_int_eq(env.type, ENV_FRAME);
        ck_assert_uint_eq(env.u.frame.conn_id, (uint64_t)i);
        snprintf(text, sizeof(text), "frame %d", i);
        ck_assert(env_str_eq((env_str_t){(const char *)env.u.frame.data.ptr, env.u.frame.data.len},
                             text));
        ck_assert(env_str_eq(env.u.frame.identity, "CP1"));
        free(buf);
    }
    ck_assert_int_eq(core_edges_take(es, e, &env, &buf), 0);
    ck_assert_uint_eq(core_edges_held(es), 0);
    ck_assert_uint_eq(core_edges_next_deadline(es), 0);
    /* what is still held is freed with the records */
    envelope_t more = frame_env("a", 9, "x");
    core_edges_hold(es, e, &more, 0);
    core_edge_t *b = core_edges_get(es, env_str("b"), true);
    core_edges_hold(es, b, &more, SEC);
    ck_assert_uint_eq(core_edges_next_deadline(es), 2 * SEC);
    core_edges_destroy(&es);
    /* holding nothing at all */
    es = core_edges_new(4, 0, SEC);
    e = core_edges_get(es, env_str("a"), true);
    ck_assert_int_lt(core_edges_hold(es, e, &more, 0), 0);
    core_edges_destroy(&es);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_edges");
    TCase *t = tcase_create("edges");
    tcase_add_test(t, test_records);
    tcase_add_test(t, test_hold_in_order_and_bounded);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
