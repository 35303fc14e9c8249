/* registry_logic: the pure decisions of redis-registry, kept apart from the loop and hiredis so
 * that unit tests and fuzzers reach them without sockets: the superseded notification format,
 * the takeover state machine, the backpressure hysteresis and the device.disconnected event. */
#ifndef REGISTRY_LOGIC_H
#define REGISTRY_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "identity.h"

/* What REGISTRY_CLAIM_LUA publishes on ocppgw:superseded:<old pod>:
 * "<new epoch> <old conn id> <new pod> <identity>" (identities never contain spaces; a pod id
 * may, it is everything between the second and the last space). */
typedef struct {
    uint64_t epoch;
    uint64_t conn_id;
    char by_pod[64];
    char identity[IDENTITY_MAX + 1];
} registry_superseded_t;

/* 0, or -EINVAL for anything malformed (out is then unspecified). */
int registry_superseded_parse(const char *payload, size_t len, registry_superseded_t *out);

/* The takeover claim as this registry sees it. held: epoch of the claim we hold (0: none).
 * state/epoch: the answer of REGISTRY_TAKEOVER_LUA. Returns a mask of what to tell the bridge:
 * REGISTRY_TAKEOVER_STOP (TAKEOVER active=false for *stop_epoch) and/or REGISTRY_TAKEOVER_START
 * (active=true for the new *held). Unknown states count as "not ours". */
enum {
    REGISTRY_TAKEOVER_STOP = 1,
    REGISTRY_TAKEOVER_START = 2
};
int registry_takeover_step(uint64_t *held, const char *state, uint64_t epoch, uint64_t *stop_epoch);

/* Backpressure with hysteresis: busy at queued >= limit, not busy again below limit / 2.
 * Returns true when *busy changed (then core is told). */
bool registry_busy_update(bool *busy, size_t queued, size_t limit);

/* device.disconnected for a mapping the registry removed itself, because nobody else will say
 * the connection is gone: the sweeper (the pod's lease expired), or a release after a core
 * restart or a reconciliation (the connection did not come back). */
typedef struct {
    const char *identity;
    const char *pod;    /* the pod the mapping named */
    const char *by_pod; /* the registry that removed it */
    uint64_t epoch;     /* the mapping's epoch */
    uint64_t time_us;
    const char *kind;   /* prefix of the event id: "swept", "released" */
    const char *reason; /* data.reason */
} registry_disconnect_t;

/* The $id of the published schema of device.disconnected's data (proto/unified/). */
#define REGISTRY_DISCONNECTED_SCHEMA "https://ocppgw.example/unified/event-device.disconnected.json"

/* The event id: the first 128 bits of SHA-256 over "device.disconnected", identity, kind and
 * epoch, as 32 hex digits (out). One mapping is removed exactly once, so this is the event's
 * natural key: consumers may de-duplicate on it (docs/unified-model.md). */
void registry_event_disconnect_id(const registry_disconnect_t *d, char out[33]);

/* Its W3C traceparent ("00-<trace id>-<parent id>-01"): a trace of its own, from the same digest
 * (bytes 0..15 the trace id, 16..23 the parent id), so one release is one trace wherever it is
 * emitted, without a random source in this pure code. */
#define REGISTRY_TRACEPARENT_LEN 55
void registry_event_disconnect_traceparent(const registry_disconnect_t *d,
                                           char out[REGISTRY_TRACEPARENT_LEN + 1]);

/* The CloudEvents JSON of device.disconnected, valid against proto/unified/cloudevent.json as
 * ocpp-core's events: source /ocppgw/<by_pod>, the id above, dataschema, data {close_code 1006,
 * reason}, the reason naming the pod, the epoch and who released it. Returns a malloc'd string
 * (the caller frees it) or NULL on allocation failure. */
char *registry_event_disconnect(const registry_disconnect_t *d);

/* The sweeper's event: kind "swept", reason "pod lease expired". */
char *registry_event_disconnected(const char *identity, const char *dead_pod, const char *by_pod,
                                  uint64_t epoch, uint64_t time_us);

/* The EVENT envelope of registry_event_disconnect (topic, key = identity, headers ce_type,
 * ce_id, content-type and traceparent, no ack token) handed to send. Returns what send returned, or
 * -ENOMEM. */
int registry_send_disconnect(int (*send)(void *arg, const envelope_t *env), void *arg,
                             const char *topic, const registry_disconnect_t *d);

/* CZMQ container callbacks the engines share: free an item (zhashx/zlistx destructor) and copy a
 * string item (duplicator). */
void registry_item_free(void **item);
void *registry_item_strdup(const void *item);

#endif
