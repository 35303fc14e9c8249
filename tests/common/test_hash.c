/* Unit tests for common/hash: Kafka's murmur2 against the Java client's and librdkafka's test
 * vectors, the default partition, and the stable core choice. The partition values were checked
 * against librdkafka 2.0.2's rd_kafka_msg_partitioner_murmur2 and _murmur2_random. */
#include "hash.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *key;
    uint32_t hash;
} vector_t;

/* Kafka's UtilsTest.testMurmur2 (given there as Java ints) and librdkafka's rdmurmur2.c unit
 * test, including its unaligned cases. */
static const vector_t vectors[] = {
    {"21", 0xc5f2f8ec},                                               /* -973932308 */
    {"foobar", 0xd0e47bbe},                                           /* -790332482 */
    {"a-little-bit-long-string", 0xc53b1da0},                         /* -985981536 */
    {"a-little-bit-longer-string", 0xa768c9c3},                       /* -1486304829 */
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 0xfc7d49cd}, /* -58897971 */
    {"abc", 0x1c94221b},                                              /* 479470107 */
    {"kafka", 0xd067cf64},
    {"giberish123456789", 0x8f552b0c},
    {"1234", 0x9fc97b14},
    {"234", 0xe7c009ca},
    {"34", 0x873930da},
    {"4", 0x5a4b5ca1},
    {"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c},
    {"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377},
    {"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09e},
    {"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43f},
    {"", 0x106e08d9},
};

START_TEST(test_murmur2_vectors)
{
    const vector_t *v = &vectors[_i];

    ck_assert_msg(hash_murmur2(v->key, strlen(v->key)) == v->hash, "murmur2(\"%s\") = 0x%08x",
                  v->key, hash_murmur2(v->key, strlen(v->key)));
}
END_TEST

START_TEST(test_murmur2_any_alignment)
{
    char buf[64];

    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        size_t n = strlen(vectors[i].key);
        for (size_t off = 1; off < 4; off++) {
            memcpy(buf + off, vectors[i].key, n);
            ck_assert_uint_eq(hash_murmur2(buf + off, n), vectors[i].hash);
        }
    }
    ck_assert_uint_eq(hash_murmur2(NULL, 0), 0x106e08d9);
    ck_assert_uint_eq(hash_murmur2(NULL, 5), 0x106e08d9); /* NULL is the empty key */
    /* bytes above 0x7f count as unsigned (Java masks them with 0xff), in the body and the tail;
     * the low 31 bits checked against librdkafka */
    ck_assert_uint_eq(hash_murmur2("\xff\xfe\x80\x81\xc3\xbc\x7f", 7), 0x83a99db7);
    ck_assert_uint_eq(hash_murmur2("\xc3\xbc", 2), 0x54a0f45a); /* "ü" in UTF-8 */
}
END_TEST

START_TEST(test_kafka_partition)
{
    /* key, partitions -> partition, as librdkafka computes it */
    static const struct {
        const char *key;
        int32_t partitions, partition;
    } cases[] = {
        {"kafka", 12, 4},
        {"kafka", 100, 80},
        {"giberish123456789", 12, 8},
        {"1234", 12, 0},
        {"", 12, 9},
        {"", 100, 81},
        {"CP-007", 12, 3},
        {"CP-007", 100, 63},
        {"gateway-pod-xyz", 12, 8},
        {"gateway-pod-xyz", 100, 48},
        {"gateway-pod-0", 12, 10},
        {"gateway-pod-0", 100, 10},
        {"gateway-pod-1", 12, 11},
        {"gateway-pod-1", 100, 95},
        {"gateway-pod-2", 12, 1},
        {"gateway-pod-2", 100, 25},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(hash_kafka_partition(cases[i].key, strlen(cases[i].key),
                                           cases[i].partitions) == cases[i].partition,
                      "partition of \"%s\" among %d", cases[i].key, cases[i].partitions);
    /* the top bit is masked off, not the absolute value taken: 0xd067cf64 & 0x7fffffff */
    ck_assert_int_eq(hash_kafka_partition("kafka", 5, INT32_MAX), 0x5067cf64);
    ck_assert_int_eq(hash_kafka_partition("kafka", 5, 1), 0);
    ck_assert_int_eq(hash_kafka_partition("kafka", 5, 0), -EINVAL);
    ck_assert_int_eq(hash_kafka_partition("kafka", 5, -3), -EINVAL);
    ck_assert_int_eq(hash_kafka_partition(NULL, 0, 12), -EINVAL);
}
END_TEST

START_TEST(test_core_index)
{
    enum {
        IDS = 20000,
        CORES = 4
    };
    unsigned per_core[CORES] = {0};
    char id[32];

    ck_assert_uint_eq(hash_core_index("CP-007", 6, 0), 0);
    ck_assert_uint_eq(hash_core_index("CP-007", 6, 1), 0);
    ck_assert_uint_eq(hash_core_index(NULL, 0, 0), 0);
    /* pinned values: changing them moves every charge point to another core on upgrade */
    ck_assert_uint_eq(hash_core_index("CP-007", 6, 4), 0x73920cc3u % 4);
    ck_assert_uint_eq(hash_core_index("CP-007", 6, 4), 3);
    ck_assert_uint_eq(hash_core_index("kafka", 5, 3), 0x5067cf64u % 3);
    ck_assert_uint_eq(hash_core_index("", 0, 7), 0x106e08d9u % 7);
    for (int i = 0; i < IDS; i++) {
        int n = snprintf(id, sizeof(id), "CP-%05d", i);
        uint32_t core = hash_core_index(id, (size_t)n, CORES);
        ck_assert_uint_lt(core, CORES);
        ck_assert_uint_eq(core, hash_core_index(id, (size_t)n, CORES)); /* stable */
        ck_assert_uint_eq(core, (uint32_t)hash_kafka_partition(id, (size_t)n, CORES));
        per_core[core]++;
    }
    /* spread evenly: every core within 10% of its share */
    for (int c = 0; c < CORES; c++)
        ck_assert_msg(per_core[c] > IDS / CORES * 9 / 10 && per_core[c] < IDS / CORES * 11 / 10,
                      "core %d got %u of %d identities", c, per_core[c], IDS);
}
END_TEST

static Suite *hash_suite(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_murmur2_vectors, 0, (int)(sizeof(vectors) / sizeof(vectors[0])));
    tcase_add_test(tc, test_murmur2_any_alignment);
    tcase_add_test(tc, test_kafka_partition);
    tcase_add_test(tc, test_core_index);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hash_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
