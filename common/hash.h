/* hash.h: the stable hashes the gateway routes by.
 *
 * hash_murmur2() is the murmur2 of the Kafka Java client (Utils.murmur2, seed 0x9747b28c), the
 * same function as librdkafka's rd_murmur2. hash_kafka_partition() is the partition the Java
 * client's default partitioner and librdkafka's "murmur2_random" partitioner choose for a
 * non-NULL key, so a record this code routes lands where any Kafka client would put it (DESIGN
 * §5: commands are written to partition (murmur2(pod) & 0x7fffffff) % N).
 * hash_core_index() uses the same function to pin every charge point to one core process: all
 * frames of an identity must reach the core that holds its pending requests (DESIGN §1).
 * The results depend only on the bytes, never on the host's byte order or alignment.
 */
#ifndef OCPPGW_HASH_H
#define OCPPGW_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's murmur2 of key[0..len), as a 32-bit pattern (Java returns it as a signed int). A NULL
 * key hashes like the empty key. */
uint32_t hash_murmur2(const void *key, size_t len);

/* (murmur2(key) & 0x7fffffff) % partitions: the Kafka default partition of a non-NULL key.
 * -EINVAL when key is NULL (Kafka clients spread NULL keys at random: no stable partition) or
 * partitions < 1. */
int32_t hash_kafka_partition(const char *key, size_t len, int32_t partitions);

/* Index in [0, core_count) of the core process that serves identity[0..len):
 * (murmur2(identity) & 0x7fffffff) % core_count. Stable across processes, restarts and hosts,
 * so every edge sends an identity to the same core. core_count 0 or 1 gives 0. */
uint32_t hash_core_index(const char *identity, size_t len, uint32_t core_count);

#endif
