/* bridge_kafka_io: the librdkafka (and ZeroMQ) wiring of kafka-bridge, the I/O half of the stage
 * (docs/engines.md: only main.c and *_io.c touch sockets and the stage's library).
 *
 * It holds one idempotent producer (acks=all) and one consumer per partition of commands-down
 * read (the readers of command_flow), whose queues wake the loop through a pipe. It carries out
 * the effects of command_flow (BRIDGE_KAFKA_FLOW_OPS: produce, registry and core sends, offsets,
 * readers) and feeds its events back (records, end of partition, delivery reports).
 *
 * Nothing here waits on a peer: sends to the cores and the registry go through outboxes
 * (common/outbox.h) with the policy of their kind (EVENT_ACK kept, COMMAND refused when full so
 * the engine waits, LOOKUP / DEDUP / TAKEOVER_DONE / ANNOUNCE dropped and counted); a full
 * producer queue keeps the EVENT in the relay (event_relay.c) and the shell stops reading its
 * input until delivery reports made room; readers close asynchronously. Kafka security settings
 * (TLS, SASL, kafka_properties: kafka_settings.c) apply to the producer and every consumer and are
 * checked by librdkafka at start. */
#ifndef BRIDGE_KAFKA_IO_H
#define BRIDGE_KAFKA_IO_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "bridge_config.h"
#include "command_flow.h"
#include "envelope.h"
#include "outbox.h"

typedef struct bridge_kafka bridge_kafka_t;

typedef struct {
    const bridge_config_t *cfg; /* borrowed, outlives the object */
    outbox_t *registry;         /* LOOKUP, DEDUP, TAKEOVER_DONE, ANNOUNCE (borrowed) */
    outbox_t **cores;           /* COMMAND, EVENT_ACK, ANNOUNCE; cfg->core_count (borrowed) */
} bridge_kafka_args_t;

/* The producer and the wake pipe; NULL on failure (logged: a setting librdkafka refused, with
 * its message; a password file that cannot be read). */
bridge_kafka_t *bridge_kafka_new(const bridge_kafka_args_t *args);
/* Destroys readers left (waiting a bounded time for those closing), the producer (call
 * bridge_kafka_flush() first), the pipe. Safe twice. */
void bridge_kafka_destroy(bridge_kafka_t **self_p);

/* The effects of command_flow; their arg is the bridge_kafka_t. */
extern const command_flow_ops_t BRIDGE_KAFKA_FLOW_OPS;
/* The engine that receives records, end of partition and delivery reports (borrowed). */
void bridge_kafka_set_flow(bridge_kafka_t *self, command_flow_t *flow);

/* The descriptor the loop waits on: readable when a Kafka queue has something to serve. */
int bridge_kafka_wake_fd(const bridge_kafka_t *self);

/* EVENT: produce its record; with a token, its delivery report becomes an EVENT_ACK. 0, or
 * -EBUSY when the producer queue is full: the EVENT is kept and the shell stops reading its
 * input until bridge_kafka_resume() says so. */
int bridge_kafka_relay_event(bridge_kafka_t *self, const env_event_t *m);
/* After delivery reports were served: true when no EVENT is kept any more (kept ones produced
 * first), i.e. the input may be read again. */
bool bridge_kafka_resume(bridge_kafka_t *self);

/* The partition count of the commands topic from the metadata (waits up to 500 ms); 0 when not
 * known yet (logged). */
int32_t bridge_kafka_partitions(bridge_kafka_t *self);

/* The partition count of the commands topic as last seen (0: not yet): from
 * bridge_kafka_partitions() and, once this was called first, a thread that asks the metadata
 * every command_partitions_refresh_ms (0: never) without blocking the loop. */
int32_t bridge_kafka_partitions_seen(bridge_kafka_t *self);

/* Serves the producer's delivery reports, waiting up to timeout_ms for one (0: not at all; the
 * loop never waits, only shutdown does). */
void bridge_kafka_poll(bridge_kafka_t *self, int timeout_ms);
/* Drains the wake pipe, serves delivery reports and the readers' records. */
void bridge_kafka_wake(bridge_kafka_t *self);
/* Hands what the readers' queues hold to the engine (at most 10,000 records per reader). */
void bridge_kafka_read(bridge_kafka_t *self);
/* Every tick: sends what the outboxes hold, serves readers that are closing, gauges (producer
 * queue, consumer lag of every reader). */
void bridge_kafka_tick(bridge_kafka_t *self);

/* Shutdown: produces kept EVENTs as room comes, then waits up to flush_timeout_ms (in all) for
 * every queued record; what is left is purged and reported as not persisted (while the
 * engine's commands still exist), kept EVENTs answered as not persisted. */
void bridge_kafka_flush(bridge_kafka_t *self);

#endif
