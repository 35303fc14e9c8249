/* command_record: the records of the command path as bytes (DESIGN §5, docs/commands.md): the
 * parser and checks of a record read from commands-down, RFC 3339 dates, the forwarded copy of a
 * record, the result record kafka-bridge writes on command-results and the reason of one written
 * by ocpp-core. Pure functions over plain data (jansson only), fuzzed by
 * fuzz/fuzz_bridge_command_record.c. */
#ifndef COMMAND_RECORD_H
#define COMMAND_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

/* command_id: at most COMMAND_ID_MAX (common/identity.h), what ocpp-core accepts, so the bridge
 * refuses what the core would refuse, with result invalid, before the command is looked up,
 * parked or de-duplicated anywhere. */
#define COMMAND_CP_MAX     IDENTITY_MAX /* cp_id: the edge's identity rules (common/identity.h) */
#define COMMAND_POD_MAX    128
#define COMMAND_ACTION_MAX 64
#define COMMAND_HOPS_MAX   1000
#define COMMAND_TTL_MAX_MS 31536000000LL /* 365 days */
/* W3C traceparent, version 00: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>" */
#define COMMAND_TRACEPARENT_LEN 55

typedef struct {
    char command_id[COMMAND_ID_MAX + 1];
    char cp_id[COMMAND_CP_MAX + 1];
    char target_pod[COMMAND_POD_MAX + 1]; /* "" when absent: addressed to the partition's pod */
    char action[COMMAND_ACTION_MAX + 1];
    int64_t expires_at_ms; /* absolute, ms since the epoch */
    int64_t hops;          /* times the record was re-published by a bridge */
    int64_t priority;
    bool is_json; /* the value is JSON (also when a field was refused): the DLQ copy's type */
} command_record_t;

/* Parses one record value and fixes its absolute deadline (expires_at_ms): expires_at, else the
 * record timestamp record_ts_ms + ttl_ms, else record_ts_ms + default_ttl_ms. 0, or -EINVAL with
 * a short reason in why (bad JSON, not an object, missing or bad command_id (1..79 bytes) /
 * cp_id (an identity the edge accepts: identity_valid()) / action, bad expires_at / ttl_ms /
 * hops). command_id is filled as far as it could be read, so an invalid record can still be
 * answered under its id. */
int command_record_parse(const char *json, size_t len, int64_t record_ts_ms, int64_t default_ttl_ms,
                         command_record_t *out, char *why, size_t whylen);

/* true if s[0..len) is a W3C traceparent of version 00 with a non-zero trace id and parent id
 * (lower-case hex, as the Trace Context spec requires). */
bool command_traceparent_valid(const char *s, size_t len);

/* The action as a bounded metric label: a unified action of DESIGN §5 or an OCPP 1.6 / 2.0.1
 * action as it is, anything else "other". */
const char *command_action_label(const char *action);

/* A status of a result as a bounded metric label: the statuses of docs/commands.md, else
 * "other". */
const char *command_status_label(const char *status);

/* RFC 3339 date-time ("2026-11-24T03:00:00Z", "...T03:00:00.250+01:00") to ms since the epoch.
 * 0 or -EINVAL (also for years before 1970). */
int command_parse_rfc3339(const char *s, int64_t *ms);
/* ms since the epoch to "YYYY-MM-DDTHH:MM:SS.mmmZ"; out needs 25 bytes. */
void command_format_rfc3339(int64_t ms, char *out, size_t outlen);

/* The record to re-publish: the original JSON with target_pod set to pod, hops set to
 * rec->hops + 1 and expires_at made absolute (a ttl_ms is not restarted by a hop). malloc'd
 * NUL-terminated string, *outlen its length; NULL if json is not an object or memory ran out. */
char *command_forward_json(const char *json, size_t len, const command_record_t *rec,
                           const char *pod, size_t *outlen);

/* The result record (command-results, docs/commands.md): command_id, cp_id, status, at (the
 * instant of finished_at, as on ocpp-core's results), reason, response null, received_at,
 * finished_at, pod. malloc'd, NUL-terminated; NULL on OOM. */
char *command_result_json(const char *command_id, const char *cp_id, const char *status,
                          const char *reason, int64_t received_ms, int64_t finished_ms,
                          const char *pod, size_t *outlen);

/* The "reason" of a result record (core's RESULT value) into out, "" when none or unreadable. */
void command_result_reason(const uint8_t *value, size_t len, char *out, size_t outlen);

#endif
