/* registry_redis_io: the hiredis side of redis-registry (the only file but main.c that touches
 * hiredis; the fuzz build leaves it out).
 *
 *  - the command connection: Sentinel discovery (SENTINEL get-master-addr-by-name, then ROLE =
 *    master), AUTH (an ACL user and its password, the password possibly from a file), SELECT,
 *    SCRIPT LOAD of every script, reconnect back-off 100 ms .. 2 s, every connect and round trip
 *    bounded by redis_timeout_ms, the degraded state (registry_redis_up,
 *    registry_degraded_seconds_total; never /readyz: Redis down does not make the pod unready);
 *  - running a batch (registry_batch.h) as one pipelined round trip and converting its replies
 *    for the engine that prepared it; a broken connection, or an engine asking for it (NOSCRIPT,
 *    READONLY, LOADING, MASTERDOWN), drops the connection: the next use reconnects, rediscovers
 *    the primary and reloads the scripts;
 *  - the subscriber on ocppgw:superseded:<pod> and ocppgw:cred, read by the loop through its
 *    descriptor;
 *  - Redis Cluster (redis+cluster://seeds): the slot map from CLUSTER SLOTS, one connection per
 *    master (each with the scripts loaded), a batch split by master and pipelined, MOVED (map
 *    read again, resent) and ASK (ASKING, resent once) followed at most 5 times per command, a
 *    broken master dropping every connection until the map is whole again, the subscriber on
 *    any master in turn; what to send is decided by registry_cluster.c (pure). */
#ifndef REGISTRY_REDIS_IO_H
#define REGISTRY_REDIS_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "registry_batch.h"
#include "registry_config.h"

typedef struct registry_redis registry_redis_t;

/* A message read on one of the channels (ocppgw:superseded:<pod>, ocppgw:cred). */
typedef void(registry_message_fn)(void *arg, const char *channel, const char *payload, size_t len);
/* Takes the replies of a batch (see registry_table_on_replies); 0 or -EPIPE (drop). */
typedef int(registry_replies_fn)(void *arg, const registry_reply_t *const *replies, size_t n,
                                 uint64_t now_us);

/* Nothing is connected yet. cfg and loop must outlive the object. NULL on failure (the password
 * file cannot be read: logged without its contents). */
registry_redis_t *registry_redis_new(const registry_config_t *cfg, zloop_t *loop,
                                     registry_message_fn *on_message, void *arg);
void registry_redis_destroy(registry_redis_t **self_p);

/* Connects unless connected or backing off. 1: connected just now (the caller re-asserts its
 * registrations), 0: was connected, -EAGAIN: not connected. */
int registry_redis_ensure(registry_redis_t *self);
bool registry_redis_connected(const registry_redis_t *self);
/* "host:port" of the primary in use (or last tried). */
const char *registry_redis_describe(const registry_redis_t *self, char *out, size_t outlen);

/* Sends the batch in one round trip and hands every reply read to fn (fewer than the batch's
 * size if the connection broke). 0, or -EPIPE when the connection was dropped. */
int registry_redis_exec(registry_redis_t *self, const registry_batch_t *batch,
                        registry_replies_fn *fn, void *arg);

/* Subscribes unless subscribed, backing off, or the command connection is down. 1: subscribed
 * just now (messages sent meanwhile are lost: the caller re-asserts), 0 otherwise. */
int registry_redis_subscribe(registry_redis_t *self);

/* Once per tick: counts degraded time while it lasts (whole seconds, the fraction carried). */
void registry_redis_tick(registry_redis_t *self);

#endif
