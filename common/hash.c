/* hash.c: Kafka's murmur2 and the partition and core choices built on it (see hash.h). */
#include "hash.h"

#include <errno.h>

/* A transcription of org.apache.kafka.common.utils.Utils.murmur2. Java's int arithmetic wraps
 * and >>> is a logical shift, which is exactly uint32_t arithmetic in C. */
uint32_t hash_murmur2(const void *key, size_t len)
{
    const uint32_t seed = 0x9747b28c;
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    const uint8_t *data = key;
    uint32_t h;
    size_t i;

    if (data == NULL)
        len = 0;
    /* Java takes the length as an int; keys of 2 GiB and more are no concern here */
    h = seed ^ (uint32_t)len;
    for (i = 0; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
                     (uint32_t)data[i + 3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)data[i + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)data[i + 1] << 8;
        /* fall through */
    case 1:
        h ^= data[i];
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t hash_kafka_partition(const char *key, size_t len, int32_t partitions)
{
    if (key == NULL || partitions < 1)
        return -EINVAL;
    return (int32_t)((hash_murmur2(key, len) & 0x7fffffff) % (uint32_t)partitions);
}

uint32_t hash_core_index(const char *identity, size_t len, uint32_t core_count)
{
    if (core_count <= 1)
        return 0;
    return (hash_murmur2(identity, len) & 0x7fffffff) % core_count;
}
