/* command_route: the pure decisions of command routing (DESIGN §5), no I/O.
 *
 * A record read from commands-down is parsed and checked (command_record_parse), then routed
 * (command_route): skipped when it belongs to another pod sharing the partition, finished as
 * expired, looked up in the registry, handed to a core here, forwarded to its owner's partition,
 * or parked until its charge point shows up. The shell (main.c) carries the decisions out.
 * offset_track keeps the offsets of records still in flight so that the committed offset never
 * passes a record without a final result (at-least-once in). The JSON helpers build the result
 * record, the forwarded record and read the hop count; docs/commands.md documents the shapes. */
#ifndef COMMAND_ROUTE_H
#define COMMAND_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COMMAND_ID_MAX     128
#define COMMAND_CP_MAX     128
#define COMMAND_POD_MAX    128
#define COMMAND_ACTION_MAX 64
#define COMMAND_HOPS_MAX   1000
#define COMMAND_TTL_MAX_MS 31536000000LL /* 365 days */

typedef struct {
    char command_id[COMMAND_ID_MAX + 1];
    char cp_id[COMMAND_CP_MAX + 1];
    char target_pod[COMMAND_POD_MAX + 1]; /* "" when absent: addressed to the partition's pod */
    char action[COMMAND_ACTION_MAX + 1];
    int64_t expires_at_ms; /* absolute, ms since the epoch */
    int64_t hops;          /* times the record was re-published by a bridge */
    int64_t priority;
} command_record_t;

/* Parses one record value. record_ts_ms is the Kafka record timestamp (base of ttl_ms);
 * default_ttl_ms applies when neither expires_at nor ttl_ms is given. 0, or -EINVAL with a
 * short reason in why (bad JSON, not an object, missing or bad command_id / cp_id / action,
 * bad expires_at / ttl_ms / hops). command_id is filled as far as it could be read, so an
 * invalid record can still be answered under its id. */
int command_record_parse(const char *json, size_t len, int64_t record_ts_ms, int64_t default_ttl_ms,
                         command_record_t *out, char *why, size_t whylen);

/* RFC 3339 date-time ("2026-11-24T03:00:00Z", "...T03:00:00.250+01:00") to ms since the epoch.
 * 0 or -EINVAL (also for years before 1970). */
int command_parse_rfc3339(const char *s, int64_t *ms);
/* ms since the epoch to "YYYY-MM-DDTHH:MM:SS.mmmZ"; out needs 25 bytes. */
void command_format_rfc3339(int64_t ms, char *out, size_t outlen);

typedef enum {
    ROUTE_SKIP,    /* addressed to another pod that shares the partition: not ours, move on */
    ROUTE_EXPIRED, /* expires_at passed: result expired + DLQ copy */
    ROUTE_LOOKUP,  /* ask the registry who holds the charge point */
    ROUTE_HERE,    /* connected to this pod: de-dup, then hand to core */
    ROUTE_FORWARD, /* connected to another live pod: re-publish to its partition */
    ROUTE_HOPS,    /* would be forwarded once more than allowed: result expired + DLQ copy */
    ROUTE_PARK,    /* connected nowhere (or owner without lease): re-check later */
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

/* The record to re-publish: the original JSON with target_pod set to pod, hops set to
 * rec->hops + 1 and expires_at made absolute (a ttl_ms is not restarted by a hop). malloc'd
 * NUL-terminated string, *outlen its length; NULL if json is not an object or memory ran out. */
char *command_forward_json(const char *json, size_t len, const command_record_t *rec,
                           const char *pod, size_t *outlen);

/* The result record (command-results, docs/commands.md): command_id, cp_id, status, reason,
 * response null, received_at, finished_at, pod. malloc'd, NUL-terminated; NULL on OOM. */
/* The "reason" of a result record (core's RESULT value) into out, "" when none or unreadable. */
void command_result_reason(const uint8_t *value, size_t len, char *out, size_t outlen);

char *command_result_json(const char *command_id, const char *cp_id, const char *status,
                          const char *reason, int64_t received_ms, int64_t finished_ms,
                          const char *pod, size_t *outlen);

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

/* Offsets of one partition still in flight, in the order they were read. */
typedef struct {
    int64_t *offs; /* ascending */
    bool *done;
    size_t head, count, cap;
} offset_track_t;

void offset_track_init(offset_track_t *t);
void offset_track_free(offset_track_t *t);
/* Adds a record's offset (offsets must ascend). 0 or -ENOMEM, -EINVAL when not ascending. */
int offset_track_add(offset_track_t *t, int64_t off);
/* Marks off final. Returns the offset now safe to store (the next offset to read: one past the
 * last of the leading run of finished records), or -1 when the leading record is still open
 * or off is unknown. */
int64_t offset_track_done(offset_track_t *t, int64_t off);
size_t offset_track_open(const offset_track_t *t); /* records not final yet */

#endif
