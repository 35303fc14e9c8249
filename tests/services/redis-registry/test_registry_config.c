/* Unit tests for services/redis-registry/registry_config and registry_keys: the Redis URL
 * parser and the key names (hash-tagged so one charge point's keys share a Cluster slot). */
#include "registry_config.h"
#include "registry_keys.h"

#include <check.h>
#include <string.h>

START_TEST(test_url)
{
    registry_redis_url_t u;
    char why[128];
    ck_assert_int_eq(registry_parse_redis_url("redis://127.0.0.1:6380/2", &u, why, sizeof(why)), 0);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_int_eq(u.port, 6380);
    ck_assert_int_eq(u.db, 2);
    ck_assert_int_eq(registry_parse_redis_url("redis://:s3cret@redis", &u, why, sizeof(why)), 0);
    ck_assert_str_eq(u.password, "s3cret");
    ck_assert_str_eq(u.host, "redis");
    ck_assert_int_eq(u.port, 6379);
    ck_assert_int_eq(registry_parse_redis_url("redis://user:pw@h:1/", &u, why, sizeof(why)), 0);
    ck_assert_str_eq(u.password, "pw");
    ck_assert_int_lt(registry_parse_redis_url("http://h", &u, why, sizeof(why)), 0);
    ck_assert_int_lt(registry_parse_redis_url("redis://h:0", &u, why, sizeof(why)), 0);
    ck_assert_int_lt(registry_parse_redis_url("redis://h:99999", &u, why, sizeof(why)), 0);
    ck_assert_int_lt(registry_parse_redis_url("redis://h/16", &u, why, sizeof(why)), 0);
    ck_assert_int_lt(registry_parse_redis_url("redis://", &u, why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_keys)
{
    char k[64];
    ck_assert_int_eq(registry_key_conn("CP-007", k, sizeof(k)), 11);
    ck_assert_str_eq(k, "conn:CP-007");
    registry_key_epoch("CP-007", k, sizeof(k));
    ck_assert_str_eq(k, "{conn:CP-007}:epoch");
    registry_key_meta("CP-007", k, sizeof(k));
    ck_assert_str_eq(k, "{conn:CP-007}:meta");
    registry_key_lease("pod-a", k, sizeof(k));
    ck_assert_str_eq(k, "pod:{pod-a}");
    ck_assert_int_eq(registry_key_conn("CP-007", k, 8), -1); /* does not fit */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry_config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_url);
    tcase_add_test(tc, test_keys);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
