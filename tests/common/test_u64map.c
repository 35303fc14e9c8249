/* Unit tests for common/u64map: against a reference array under random puts and removes. */
#include "u64map.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>

START_TEST(test_put_get_remove)
{
    u64map_t *m = u64map_new(4);
    ck_assert_ptr_nonnull(m);
    int a = 1, b = 2;
    ck_assert_int_eq(u64map_put(m, 7, &a), 0);
    ck_assert_int_eq(u64map_put(m, 9, &b), 0);
    ck_assert_ptr_eq(u64map_get(m, 7), &a);
    ck_assert_ptr_eq(u64map_get(m, 9), &b);
    ck_assert_ptr_null(u64map_get(m, 8));
    ck_assert_int_eq(u64map_put(m, 7, &b), 0); /* replace */
    ck_assert_uint_eq(u64map_size(m), 2);
    ck_assert_ptr_eq(u64map_remove(m, 7), &b);
    ck_assert_ptr_null(u64map_remove(m, 7));
    ck_assert_uint_eq(u64map_size(m), 1);
    ck_assert_int_eq(u64map_put(m, 0, &a), -EINVAL);
    u64map_destroy(&m);
    ck_assert_ptr_null(m);
    u64map_destroy(&m);
}
END_TEST

START_TEST(test_random_against_reference)
{
    enum {
        KEYS = 5000,
        OPS = 200000
    };
    static void *ref[KEYS];
    u64map_t *m = u64map_new(0);
    srand(42);
    for (int op = 0; op < OPS; op++) {
        uint64_t k = (uint64_t)(rand() % (KEYS - 1)) + 1;
        if (rand() % 3 == 0) {
            ck_assert_ptr_eq(u64map_remove(m, k), ref[k]);
            ref[k] = NULL;
        } else {
            void *v = (void *)(uintptr_t)(op + 1);
            ck_assert_int_eq(u64map_put(m, k, v), 0);
            ref[k] = v;
        }
    }
    size_t n = 0;
    for (uint64_t k = 1; k < KEYS; k++) {
        ck_assert_ptr_eq(u64map_get(m, k), ref[k]);
        n += ref[k] != NULL;
    }
    ck_assert_uint_eq(u64map_size(m), n);
    u64map_destroy(&m);
}
END_TEST

static void count_fn(uint64_t key, void *value, void *arg)
{
    (void)value;
    *(uint64_t *)arg += key;
}

START_TEST(test_foreach)
{
    u64map_t *m = u64map_new(0);
    for (uint64_t k = 1; k <= 100; k++)
        u64map_put(m, k, &m);
    uint64_t sum = 0;
    u64map_foreach(m, count_fn, &sum);
    ck_assert_uint_eq(sum, 5050);
    u64map_destroy(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("u64map");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_put_get_remove);
    tcase_add_test(tc, test_random_against_reference);
    tcase_add_test(tc, test_foreach);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
