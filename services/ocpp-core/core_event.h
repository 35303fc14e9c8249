/* core_event: unified events as CloudEvents 1.0 JSON (structured mode), DESIGN §4.
 *
 * Pure functions: the event id is a digest of what the charge point said (identity, action,
 * canonical payload), never of the message id, so a message resent after a reconnect with a
 * new message id yields the same event id and consumers can de-duplicate. */
#ifndef CORE_EVENT_H
#define CORE_EVENT_H

#include <stdint.h>

#include <jansson.h>

#include "ocpp_frame.h"

#define CORE_EVENT_ID_LEN 32 /* hex characters: 128 bits of SHA-256 */

typedef struct {
    const char *type;       /* "device.online", ... */
    const char *identity;   /* subject and Kafka key */
    const char *pod;        /* source */
    ocpp_version_t version; /* 0 for transport events */
    const char *action;     /* OCPP action or NULL for transport events */
    const char *message_id; /* OCPP message id or NULL */
    const char *id;         /* event id (CORE_EVENT_ID_LEN hex) */
    uint64_t time_us;       /* when the gateway received it */
    json_t *data;           /* unified data, borrowed; the "ocpp" member is added here */
} core_event_t;

/* id of an event derived from a charge-point message: hex SHA-256 prefix over
 * identity, action and the payload serialised with sorted keys. 0 or -ENOMEM. */
int core_event_id(const char *identity, const char *action, const json_t *payload,
                  char out[CORE_EVENT_ID_LEN + 1]);

/* id from arbitrary parts (transport events): digest of the NUL-separated strings */
void core_event_id_parts(const char *const *parts, size_t n, char out[CORE_EVENT_ID_LEN + 1]);

/* CloudEvents JSON text, malloc'd (caller frees); NULL on OOM. */
char *core_event_build(const core_event_t *ev);

/* RFC 3339 UTC time with milliseconds */
void core_event_format_time(uint64_t time_us, char out[32]);

#endif
