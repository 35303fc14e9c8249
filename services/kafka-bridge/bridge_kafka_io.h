/* bridge_kafka_io: the librdkafka (and ZeroMQ) wiring of kafka-bridge, the I/O half of the stage
 * (docs/engines.md: only main.c and *_io.c touch sockets and the stage's library).
 *
 * It holds one idempotent producer (acks=all) and one consumer per partition of commands-down
 * read (the readers of command_flow), whose queues wake the loop through a pipe. It carries out
 * the effects of command_flow (BRIDGE_KAFKA_FLOW_OPS: produce, registry and core sends, offsets,
 * readers) and feeds its events back (records, end of partition, delivery reports).
 *
 * The EVENT -> record -> EVENT_ACK path is a relay here, not an engine: it keeps no state beyond
 * the ack riding on each record as librdkafka's opaque, and decides nothing but copying Kafka's
 * verdict into the EVENT_ACK (persisted only when Kafka confirmed it). A full producer queue
 * blocks the input (flow control: the produce call serves delivery reports until there is room)
 * instead of dropping. */
#ifndef BRIDGE_KAFKA_IO_H
#define BRIDGE_KAFKA_IO_H

#include <stdint.h>

#include <czmq.h>

#include "admin_http.h"
#include "bridge_config.h"
#include "command_flow.h"
#include "envelope.h"

typedef struct bridge_kafka bridge_kafka_t;

typedef struct {
    const bridge_config_t *cfg; /* borrowed, outlives the object */
    zsock_t *registry;          /* LOOKUP, DEDUP, TAKEOVER_DONE */
    zsock_t **cores;            /* COMMAND, EVENT_ACK; cfg->core_count of them */
    admin_http_t *admin;        /* heartbeat while waiting on a full producer queue */
} bridge_kafka_args_t;

/* The producer and the wake pipe; NULL on failure (logged). Sockets are borrowed. */
bridge_kafka_t *bridge_kafka_new(const bridge_kafka_args_t *args);
/* Destroys readers left, the producer (call bridge_kafka_flush() first), the pipe. Safe twice. */
void bridge_kafka_destroy(bridge_kafka_t **self_p);

/* The effects of command_flow; their arg is the bridge_kafka_t. */
extern const command_flow_ops_t BRIDGE_KAFKA_FLOW_OPS;
/* The engine that receives records, end of partition and delivery reports (borrowed). */
void bridge_kafka_set_flow(bridge_kafka_t *self, command_flow_t *flow);

/* The descriptor the loop waits on: readable when a Kafka queue has something to serve. */
int bridge_kafka_wake_fd(const bridge_kafka_t *self);

/* EVENT: produce its record; with a token, its delivery report becomes an EVENT_ACK. */
void bridge_kafka_relay_event(bridge_kafka_t *self, const env_event_t *m);

/* The partition count of the commands topic from the metadata (waits up to 2 s); 0 when not
 * known yet (logged). */
int32_t bridge_kafka_partitions(bridge_kafka_t *self);

/* Serves the producer's delivery reports. */
void bridge_kafka_poll(bridge_kafka_t *self);
/* Drains the wake pipe, serves delivery reports and the readers' records. */
void bridge_kafka_wake(bridge_kafka_t *self);
/* Hands what the readers' queues hold to the engine (at most 10,000 records per reader). */
void bridge_kafka_read(bridge_kafka_t *self);
/* Gauges: producer queue, consumer lag of every reader. */
void bridge_kafka_gauges(bridge_kafka_t *self);

/* Shutdown: waits up to flush_timeout_ms for every queued record; what is left is purged and
 * reported as not persisted (while the engine's commands still exist). */
void bridge_kafka_flush(bridge_kafka_t *self);

#endif
