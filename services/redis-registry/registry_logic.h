/* registry_logic: the pure decisions of redis-registry, kept apart from the loop and hiredis so
 * that unit tests and fuzzers reach them without sockets: the superseded notification format,
 * the takeover state machine, the backpressure hysteresis and the device.disconnected event. */
#ifndef REGISTRY_LOGIC_H
#define REGISTRY_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The CloudEvents JSON of device.disconnected for a mapping the sweeper removed: same
 * attributes as ocpp-core's events (services/ocpp-core/core_event.c), source /ocppgw/<by_pod>,
 * id "swept/<identity>/<epoch>" (one mapping is swept exactly once, so consumers may de-dup by
 * it). Returns a malloc'd string (the caller frees it) or NULL on allocation failure. */
char *registry_event_disconnected(const char *identity, const char *dead_pod, const char *by_pod,
                                  uint64_t epoch, uint64_t time_us);

#endif
