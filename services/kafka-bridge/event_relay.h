/* event_relay: the EVENT -> record -> EVENT_ACK rule of kafka-bridge, with no I/O (docs/commands.md
 * "Events and a full producer queue", docs/engines.md).
 *
 * An EVENT from a core is handed to the producer at once; its delivery report becomes the
 * EVENT_ACK (the shell's business: never "persisted" when Kafka did not confirm it). When the
 * producer queue is full, the relay keeps a copy of the EVENT and the shell stops reading its
 * input (so nothing overtakes it and nothing piles up here); once delivery reports made room,
 * kept EVENTs are produced first, oldest first, and reading goes on. Nothing is dropped and the
 * order is kept, and the loop never waits: ticks, /healthz and the command flow run meanwhile.
 * An EVENT the producer refuses for good (not "full") is answered at once with an EVENT_ACK
 * carrying the error, when the core asked for one.
 *
 * Every event record carries the CloudEvents Kafka binding's `content-type` header (DESIGN §4):
 * an EVENT without one (e.g. the registry's device.disconnected) gets
 * EVENT_RELAY_CONTENT_TYPE, so a CloudEvents SDK reads it in structured mode.
 *
 * Not thread-safe: one relay belongs to one loop. */
#ifndef EVENT_RELAY_H
#define EVENT_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

/* The content type of an EVENT's record that does not say it (structured-mode CloudEvents). */
#define EVENT_RELAY_CONTENT_TYPE "application/cloudevents+json; charset=UTF-8"

typedef struct event_relay event_relay_t;

typedef struct {
    /* Hands the EVENT's record to the producer (views borrowed for the call), with a
     * content-type header (added when the EVENT had none). 0: queued, its
     * delivery report will answer it; -ENOBUFS: the producer queue is full, nothing queued;
     * another negative errno: refused for good, with status (the producer's error code for the
     * EVENT_ACK) and why filled in. */
    int (*produce)(void *arg, const env_event_t *ev, int32_t *status, char *why, size_t whylen);
    /* EVENT_ACK {token, status, why} to core core_id. */
    void (*ack)(void *arg, uint32_t core_id, uint64_t token, int32_t status, const char *why);
} event_relay_ops_t;

/* NULL on failure. ops and arg are borrowed for the relay's life. */
event_relay_t *event_relay_new(const event_relay_ops_t *ops, void *arg);
/* Frees what is kept without any effect (call event_relay_abandon() first to answer it). Sets
 * *self_p to NULL; safe twice. */
void event_relay_destroy(event_relay_t **self_p);

/* An EVENT from the input. 0: handed to the producer, or answered with an error; -EBUSY: kept
 * (the producer queue is full, or EVENTs are kept already and this one must not overtake them):
 * the shell stops reading its input until event_relay_retry() returns 0. -ENOMEM: it could not
 * be kept (answered with the error when an ack was asked). */
int event_relay_on_event(event_relay_t *self, const env_event_t *ev);

/* Room may have been made (delivery reports served): produces the kept EVENTs, oldest first,
 * while the producer takes them. Returns how many are still kept (0: read the input again). */
size_t event_relay_retry(event_relay_t *self);

/* EVENTs kept, waiting for room. */
size_t event_relay_held(const event_relay_t *self);

/* Shutdown: every kept EVENT is answered as not persisted (status, why) and dropped. */
void event_relay_abandon(event_relay_t *self, int32_t status, const char *why);

#endif
