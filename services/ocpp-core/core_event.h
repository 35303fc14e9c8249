/* core_event: unified events as CloudEvents 1.0 JSON (structured mode, DESIGN §4), their ids
 * and their trace context.
 *
 * Event ids (DESIGN §3 "Event ids"): where a message has a natural idempotency key (a
 * TransactionEvent's transactionId + seqNo, a 1.6 transaction message's or a timestamped
 * notification's timestamp and identifying fields: core_event_natural_id) the id is a digest of
 * it, so a message resent with a new message id yields the same id; every other event is a new
 * occurrence and takes an id unique to it from a core_idgen_t, never a digest of its content (two
 * reboots are two device.online events). The generator also makes W3C traceparents. Pure: the
 * generator's key comes from the caller (the shell seeds it from getrandom). */
#ifndef CORE_EVENT_H
#define CORE_EVENT_H

#include <stdint.h>

#include <jansson.h>

#include "ocpp_frame.h"

#define CORE_EVENT_ID_LEN    32 /* hex characters: 128 bits of SHA-256 */
#define CORE_TRACEPARENT_LEN 55 /* 00-<32 hex trace id>-<16 hex span id>-01 */
#define CORE_TRACE_ID_LEN    32

/* The published JSON Schema of an event type's data is CORE_EVENT_SCHEMA_BASE "event-<type>.json"
 * (the $id of proto/unified/event-<type>.json), the CloudEvents dataschema attribute. */
#define CORE_EVENT_SCHEMA_BASE "https://ocppgw.example/unified/"
/* The CloudEvents Kafka binding's header of a structured-mode record */
#define CORE_EVENT_CONTENT_TYPE "application/cloudevents+json; charset=UTF-8"

/* Ids unique to an occurrence: SHA-256 of a 256-bit secret key and a counter (a CSPRNG in
 * counter mode), so ids never repeat within a process and, with a key from getrandom, not across
 * processes either. */
typedef struct {
    unsigned char key[32];
    uint64_t counter;
} core_idgen_t;

void core_idgen_init(core_idgen_t *g, const unsigned char key[32]);
/* a new event id: CORE_EVENT_ID_LEN lowercase hex */
void core_idgen_event_id(core_idgen_t *g, char out[CORE_EVENT_ID_LEN + 1]);
/* a new trace: "00-<trace id>-<span id>-01", ids never all zero */
void core_idgen_traceparent(core_idgen_t *g, char out[CORE_TRACEPARENT_LEN + 1]);
/* 1 when s (len bytes) is a W3C traceparent this core can carry: version 00 and exactly 55
 * characters (or a later version, longer, the extra part after a '-'), lowercase hex, trace and
 * span id not all zero; 0 otherwise */
int core_traceparent_valid(const char *s, size_t len);

typedef struct {
    const char *type;       /* "device.online", ... */
    const char *identity;   /* subject and Kafka key */
    const char *pod;        /* source */
    ocpp_version_t version; /* 0 for transport events */
    const char *action;     /* OCPP action or NULL for transport events */
    const char *message_id; /* OCPP message id or NULL */
    const char *id;         /* event id (CORE_EVENT_ID_LEN hex) */
    uint64_t time_us;       /* when the gateway received it */
    json_t *data;           /* unified data, borrowed; the "ocpp" member is added in the text */
    const json_t *raw;      /* optional: the payload as received, added as data.raw */
} core_event_t;

/* id from arbitrary parts: hex SHA-256 prefix of the NUL-separated strings */
void core_event_id_parts(const char *const *parts, size_t n, char out[CORE_EVENT_ID_LEN + 1]);

/* The id of a CALL's event when the message has a natural idempotency key (docs/unified-model.md
 * "Event ids"): 1 with the digest in out, 0 when it has none (the event is a new occurrence). */
int core_event_natural_id(const char *identity, ocpp_version_t version, const char *action,
                          const json_t *payload, char out[CORE_EVENT_ID_LEN + 1]);

/* CloudEvents JSON text with dataschema, malloc'd (caller frees); NULL on OOM or without id. */
char *core_event_build(const core_event_t *ev);

/* RFC 3339 UTC time with milliseconds */
void core_event_format_time(uint64_t time_us, char out[32]);

#endif
