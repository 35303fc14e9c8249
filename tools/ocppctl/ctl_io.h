/* ctl_io.h: ocppctl's Redis and Kafka wiring (hiredis, librdkafka), shared by its commands
 * (main.c: send, status, events, pods; cred_cmd.c: credentials). Every helper exits the process
 * with the documented exit code when Redis or Kafka cannot be reached (docs/ocppctl.md). */
#ifndef OCPPCTL_CTL_IO_H
#define OCPPCTL_CTL_IO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#define TOPIC_COMMANDS "commands-down"
#define TOPIC_RESULTS  "command-results"
#define TOPIC_EVENTS   "ocpp-events-up"

/* --redis / OCPPGW_REDIS_URL, --kafka / OCPPGW_KAFKA_BROKERS (set by main). */
extern const char *ctl_redis_url;
extern const char *ctl_brokers;
/* Set by SIGINT / SIGTERM. */
extern volatile sig_atomic_t ctl_interrupted;

/* redis://[[user]:password@]host[:port][/db]: connected, authenticated (AUTH user password with
 * a user, AUTH password without), database selected. redis+cluster://[[user]:password@]host:port
 * [,host:port...]: the first seed of a Redis Cluster that answers; every command below then
 * follows MOVED and ASK redirects (at most 5), as redis-cli -c does. Exits 2 (no or bad URL)
 * or 3. */
redisContext *ctl_redis_open(void);
/* A command of words, one of them "%s" (arg); exits 3 when Redis does not answer. */
redisReply *ctl_redis_do(redisContext *c, const char *fmt, const char *arg);
/* A command given as an argument vector; exits 3 when Redis does not answer. */
redisReply *ctl_redis_argv(redisContext *c, int argc, const char **argv);
/* The connection of the node serving key (c itself but on a cluster): where a MULTI of that
 * key's commands must go. */
redisContext *ctl_redis_node_of(redisContext *c, const char *key);
/* Every master (a cluster's, or c alone), up to max: where a SCAN must go. Their connections
 * belong to ctl_io (closed at exit); c stays the caller's. */
int ctl_redis_masters(redisContext *c, redisContext **out, int max);
/* Owner pod of identity into pod (empty if none); whether a pod holds its lease. */
void ctl_owner_of(redisContext *c, const char *identity, char *pod, size_t cap);
bool ctl_lease_live(redisContext *c, const char *pod);

/* A consumer assigned to every partition of topic from the beginning or the current end. */
rd_kafka_t *ctl_consumer_on(const char *topic, bool from_end, int *nparts);

/* Partitions of topic; exits 3 when Kafka cannot be reached or the topic does not exist. */
int ctl_partitions_of(rd_kafka_t *rk, const char *topic);

/* A producer (acks=all) for `produce`: records time out after timeout_ms, and each delivery is
 * reported on stdout as "ok <line> <partition> <offset>" or "error <line> <why>", the line number
 * being the record's opaque; failures are counted in ctl_produce_failed. */
rd_kafka_t *ctl_producer_reporting(int64_t timeout_ms);
extern long ctl_produce_failed;

/* Writes a command (DESIGN §5) for identity to its owner pod's partition of commands-down, and
 * with wait reads command-results until its final result (printed on stdout), resending it to a
 * new owner if the pod dies meanwhile. command_id: given, or NULL (a UUID is made and printed).
 * Returns the exit code (CTL_OK, the result's, CTL_UNKNOWN_CP, CTL_NO_RESULT). */
int ctl_send_command(const char *identity, const char *action, const char *payload,
                     const char *command_id, bool wait, int64_t timeout_ms, int64_t ttl_ms);

/* 16 random bytes from the kernel into out; exits 3 on failure. */
void ctl_random(uint8_t *out, size_t n);

#endif
