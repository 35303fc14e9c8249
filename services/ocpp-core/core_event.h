/* core_event: unified events as CloudEvents 1.0 JSON (structured mode), DESIGN §4.
 *
 * Pure functions: the event id is a digest of what the charge point said (identity, action,
 * the unified data serialised with sorted keys), never of the message id, so a message resent
 * after a reconnect with a new message id yields the same event id and consumers can
 * de-duplicate. */
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
    const char *id;         /* event id (CORE_EVENT_ID_LEN hex); NULL: derived from the content */
    uint64_t time_us;       /* when the gateway received it */
    json_t *data;           /* unified data, borrowed; the "ocpp" member is added in the text */
    const json_t *raw;      /* optional: the payload as received, added as data.raw */
    char content_id[CORE_EVENT_ID_LEN + 1]; /* set by core_event_build when id is NULL */
} core_event_t;

/* id from arbitrary parts: hex SHA-256 prefix of the NUL-separated strings */
void core_event_id_parts(const char *const *parts, size_t n, char out[CORE_EVENT_ID_LEN + 1]);

/* CloudEvents JSON text, malloc'd (caller frees); NULL on OOM. The data is serialised once
 * (sorted keys); with id NULL the event id is the digest of identity, action and that text,
 * i.e. of what the charge point said in unified form and never of the message id: a message
 * resent after a reconnect with a new message id yields the same id (DESIGN §3). The ocpp
 * and raw members are appended to the data text after hashing. ev->content_id is set. */
char *core_event_build(core_event_t *ev);

/* RFC 3339 UTC time with milliseconds */
void core_event_format_time(uint64_t time_us, char out[32]);

#endif
