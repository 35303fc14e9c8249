/* command_route: the pure decisions of command routing (DESIGN §5, docs/commands.md), no I/O.
 *
 * A parsed record (command_record.h) is routed by command_route(): skipped when it belongs to
 * another pod sharing the partition, finished as expired, looked up in the registry, handed to a
 * core here, forwarded to its owner's partition, parked until its charge point shows up, or left
 * to the pod of a taken-over partition when that pod turns out to be alive. A forward never
 * targets the pod whose partition the record was read from: the copy would come back to the same
 * reader (a ping-pong until the hop limit). A forward to another pod whose partition is the same
 * one (pods sharing a partition) is fine: the copy names that pod in target_pod, so this reader
 * skips it and that pod's reader routes it. The
 * helpers beside it give the other timing and takeover rules of the command lifecycle: the
 * back-off of a parked command, the backstop deadline of a command at a core, what a TAKEOVER
 * asks and when a taken-over partition is drained. command_flow carries the decisions out. */
#ifndef COMMAND_ROUTE_H
#define COMMAND_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command_record.h"

typedef enum {
    ROUTE_SKIP,    /* addressed to another pod that shares the partition: not ours, move on */
    ROUTE_EXPIRED, /* expires_at passed: result expired + DLQ copy */
    ROUTE_LOOKUP,  /* ask the registry who holds the charge point */
    ROUTE_HERE,    /* connected to this pod: de-dup, then hand to core */
    ROUTE_FORWARD, /* connected to another live pod: re-publish to its partition */
    ROUTE_HOPS,    /* would be forwarded once more than allowed: result expired + DLQ copy */
    ROUTE_PARK,    /* connected nowhere (or owner without lease): re-check later */
    ROUTE_YIELD,   /* read from a taken-over partition whose pod holds the charge point, alive
                      again: left to that pod (the takeover stops), never forwarded back into
                      the partition this reader reads */
} route_t;

typedef struct {
    const char *self_pod;   /* this bridge's pod */
    const char *reader_pod; /* pod whose partition the record came from (self, or a dead pod
                               this bridge took over) */
    int64_t now_ms;
    int64_t max_hops;
    bool owner_known;  /* an OWNER answer is at hand */
    const char *owner; /* its pod ("" = nobody) */
    bool owner_live;   /* the owner has a lease */
} route_input_t;

route_t command_route(const command_record_t *rec, const route_input_t *in);
const char *command_route_name(route_t r);

/* Delay before the attempt-th re-check of a parked command (attempt >= 1): base doubled per
 * attempt, at most max, and never past expires_at (then the re-check finds it expired). */
int64_t command_park_delay_ms(int attempt, int64_t base_ms, int64_t max_ms, int64_t now_ms,
                              int64_t expires_at_ms);

/* What a TAKEOVER {pod, active} asks of this bridge (self_pod), given whether it already reads
 * that pod's partition for a takeover (reading): start a reader, keep the running one (a
 * repeated claim: only the epoch changes), stop it (claim lost or the pod is back), or nothing
 * (our own pod, an empty name, a stop for a reader we do not have). */
typedef enum {
    TAKEOVER_IGNORE,
    TAKEOVER_START,
    TAKEOVER_KEEP,
    TAKEOVER_STOP
} takeover_action_t;
takeover_action_t command_takeover_action(const char *self_pod, const char *pod, bool active,
                                          bool reading);

/* A taken-over partition is drained when its reader reached the end (eof since the last record)
 * and no record read from it is without its final outcome (open_records: offsets not final;
 * live_commands: commands still held, e.g. at a core). */
bool command_takeover_drained(bool eof, size_t open_records, size_t live_commands);

/* When a command handed to a core without a RESULT is finished as timeout by the bridge: the
 * core owns the charge point's timeout, this is the backstop for a core that died with it. */
int64_t command_core_deadline_ms(int64_t now_ms, int64_t expires_at_ms, int64_t grace_ms);

#endif
