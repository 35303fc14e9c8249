/* core_session: the per-connection OCPP state machine, pure (no sockets, no clock: callers
 * pass the time). One instance per charge-point connection, owned by the engine core_conn; it
 * is the one place that connection's boot state, held answer and CALL waiting for its id token
 * are kept.
 *
 * Uplink (charge point -> gateway): BootNotification gating (2.0.1: before the boot was
 * accepted, here or on any pod as the registry reports, every CALL other than
 * BootNotification is refused with SecurityError) and the one outstanding CALL whose answer
 * (the CALLRESULT text) waits for persistence. A charge point sends a new CALL only after its
 * previous one was answered or timed out (OCPP-J 4.1.1), so a new CALL while one waits means the
 * charge point gave up on the old one: the old answer is abandoned (never sent) and the new CALL is
 * served.
 *
 * Downlink (gateway -> charge point): commands wait in a bounded queue (higher priority
 * first, then arrival order); one CALL is in flight at a time with a generated unique message
 * id; the CALLRESULT/CALLERROR is matched by id; the in-flight CALL times out at its deadline;
 * queued commands expire at theirs. A response that matches nothing is late or unknown: the
 * caller logs and drops it. */
#ifndef CORE_SESSION_H
#define CORE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core_event.h"
#include "core_tags.h"
#include "ocpp_frame.h"

typedef struct core_session_s core_session_t;

typedef struct {
    uint64_t token;      /* bridge token of the Kafka record */
    char command_id[80]; /* command id */
    char action[OCPP_ACTION_MAX + 1];
    json_t *payload;                            /* CALL payload (owned by the command) */
    int priority;                               /* higher first */
    uint64_t expires_us;                        /* 0: never */
    char message_id[OCPP_MESSAGE_ID_MAX + 1];   /* set when sent */
    uint64_t deadline_us;                       /* response deadline once sent */
    char unified[32];                           /* unified action, "" for a native one */
    uint64_t received_us;                       /* when core received the record */
    uint64_t sent_us;                           /* when the CALL went to the charge point */
    ocpp_version_t version;                     /* of the charge point it is for */
    char traceparent[CORE_TRACEPARENT_LEN + 1]; /* W3C trace context, back on its RESULT */
} core_command_t;

void core_command_free(core_command_t **cmd);

/* seed makes message ids unique across connections and restarts (e.g. time and conn id) */
core_session_t *core_session_new(ocpp_version_t version, size_t queue_max, uint64_t seed);
void core_session_destroy(core_session_t **self);

ocpp_version_t core_session_version(const core_session_t *self);
int core_session_booted(const core_session_t *self);
void core_session_set_booted(core_session_t *self);

typedef enum {
    CORE_CALL_SERVE = 0, /* handle it */
    CORE_CALL_NOT_BOOTED /* answer SecurityError (2.0.1 gating) */
} core_call_verdict_t;

/* The answer held for persistence (persist-before-ack, DESIGN §3): the CALLRESULT text for
 * message_id, sent once the event with token is in Kafka. It lives only in the session. */
typedef struct {
    char message_id[OCPP_MESSAGE_ID_MAX + 1];
    uint64_t token;       /* bridge ack token of the event; 0: nothing held */
    uint64_t deadline_us; /* InternalError at this time (0: wait for Kafka as long as it takes) */
    char *text;           /* the CALLRESULT (owned) */
    char action[OCPP_ACTION_MAX + 1];           /* of the CALL: latency per action */
    uint64_t at_us;                             /* when the edge received the CALL */
    char traceparent[CORE_TRACEPARENT_LEN + 1]; /* the CALL's trace */
    char event_id[CORE_EVENT_ID_LEN + 1];       /* natural id of its event ("" none): remembered
                                                 * once persisted, so a resend is not published */
} core_held_t;

/* Frees the text and empties h. */
void core_held_clear(core_held_t *h);

/* A CALL arrived. Abandons the answer still waiting for persistence, if any: it moves into
 * *abandoned (token 0 when there was none; the caller clears it). */
core_call_verdict_t core_session_on_call(core_session_t *self, const char *action,
                                         core_held_t *abandoned);

/* The answer to what->message_id waits for persistence of the event with what->token (what's
 * other fields are copied, its text ignored); the session takes *text (set to NULL). A hold
 * still in place is abandoned first (freed). 0, or -ENOMEM (nothing taken: the room for a held
 * answer is allocated only while one is held, so an idle connection does not carry it). */
int core_session_hold(core_session_t *self, const core_held_t *what, char **text);
/* token of the held answer (0: none) */
uint64_t core_session_held_token(const core_session_t *self);
/* The event of token was persisted (or failed): 1 with the held answer moved into *out when it
 * is still wanted (same token); 0 when it was abandoned, expired or never held. */
int core_session_release(core_session_t *self, uint64_t token, core_held_t *out);
/* 1 with the held answer moved into *out when its deadline passed, else 0. */
int core_session_hold_expired(core_session_t *self, uint64_t now_us, core_held_t *out);
/* 1 with the held answer moved into *out (the connection ends), 0 when nothing is held. */
int core_session_take_held(core_session_t *self, core_held_t *out);

/* A CALL whose answer depends on something the registry is asked about: its id token's status
 * (auth_policy redis, docs/security.md; TAG_LOOKUP) or, for a 1.6 StartTransaction, its
 * transaction id (TXID_CLAIM, docs/ocpp-core.md "Transaction ids"). It waits here until the
 * answer or its deadline, then it is served. One at most per connection: like a held answer, a
 * new CALL abandons it. */
typedef enum {
    CORE_WAIT_TAG = 0, /* TAG_LOOKUP -> TAG_INFO */
    CORE_WAIT_TXID     /* TXID_CLAIM -> TXID_CLAIMED (or a candidate from the pool) */
} core_wait_kind_t;

/* the natural key a TXID_CLAIM carries: "<identity>|<connectorId>|<32 hex digest>" */
#define CORE_TXID_KEY_MAX 127

typedef struct {
    uint64_t request_id;  /* the TAG_LOOKUP's or TXID_CLAIM's request id; 0: nothing waits */
    uint64_t deadline_us; /* TAG: fallback; TXID: this attempt times out (or the next starts) */
    core_wait_kind_t kind;
    /* CORE_WAIT_TXID: the id token's status already known ("" none), the natural key, the
     * candidate taken from the pool (0: none yet), when the CALL is answered InternalError at
     * the latest, attempts so far, and whether a TXID_CLAIM went out with this candidate (then
     * it may be stored in Redis and never goes back to the pool unless the registry says so) */
    char tag_status[16];
    uint64_t tag_expires_at_ms;
    char txid_key[CORE_TXID_KEY_MAX + 1];
    uint64_t candidate;
    uint64_t give_up_us;
    unsigned attempts;
    int claim_sent;      /* a TXID_CLAIM carried this candidate */
    int claim_in_flight; /* ... and its answer is awaited until deadline_us */
    char message_id[OCPP_MESSAGE_ID_MAX + 1];
    char action[OCPP_ACTION_MAX + 1];
    char tag[CORE_TAG_MAX + 1];
    json_t *payload;                            /* the CALL payload (owned) */
    uint64_t at_us;                             /* when the edge received the frame */
    char traceparent[CORE_TRACEPARENT_LEN + 1]; /* the CALL's trace */
} core_waiting_t;

/* Frees the payload and empties w. */
void core_waiting_clear(core_waiting_t *w);
/* The session takes *w (emptied); a CALL still waiting is abandoned (freed) first. 0, or
 * -ENOMEM (*w untouched: the room is allocated only while a CALL waits). */
int core_session_wait(core_session_t *self, core_waiting_t *w);
/* The waiting CALL (borrowed), or NULL. */
const core_waiting_t *core_session_waiting(const core_session_t *self);
/* 1 with the waiting CALL moved into *out when its request id is request_id (0: any), else 0. */
int core_session_take_waiting(core_session_t *self, uint64_t request_id, core_waiting_t *out);
/* 1 with the waiting CALL moved into *out when its deadline passed, else 0. */
int core_session_wait_expired(core_session_t *self, uint64_t now_us, core_waiting_t *out);

/* Queue a command (ownership passes on success). -ENOSPC when the queue is full, -ENOMEM when
 * the room of an empty queue cannot be allocated (it is freed whenever the queue empties). */
int core_session_enqueue(core_session_t *self, core_command_t *cmd);
/* The next command to send, or NULL (one in flight, or none queued). It gets a fresh message
 * id and its deadline (now + timeout); the session keeps it as the in-flight CALL. Commands
 * whose expiry passed are returned through *expired one per call instead (send nothing then). */
core_command_t *core_session_next(core_session_t *self, uint64_t now_us, uint64_t timeout_us,
                                  core_command_t **expired);
/* The in-flight command answered by message_id (ownership to the caller), or NULL when the
 * response matches nothing (late or unknown). */
core_command_t *core_session_on_response(core_session_t *self, const char *message_id);
/* The in-flight command if its deadline passed (ownership to the caller), else NULL. */
core_command_t *core_session_timed_out(core_session_t *self, uint64_t now_us);
/* Every command, queued and in flight, for a final result when the connection ends. */
core_command_t *core_session_take_any(core_session_t *self);

size_t core_session_queued(const core_session_t *self);
int core_session_busy(const core_session_t *self); /* a downlink CALL is in flight */
/* Resends the gateway can see (DESIGN §3): the natural event ids of the last
 * CORE_SESSION_SEEN_MAX events of this connection that reached Kafka (or were handed on, when
 * they need no persistence). 1 when event_id is among them. Ids are CORE_EVENT_ID_LEN lowercase
 * hex digits (core_event.h), kept as their 16 bytes; anything else is never remembered (a resend
 * of it is published again: a duplicate, never a loss). */
#define CORE_SESSION_SEEN_MAX 16
int core_session_seen(const core_session_t *self, const char *event_id);
/* Adds event_id to them (the oldest goes); "" is ignored. The ring is allocated at the first. */
void core_session_remember(core_session_t *self, const char *event_id);

/* Bytes this session holds in its own allocations (its struct, held answer, waiting CALL, queue
 * room, event-id ring; not the commands, texts and payloads they point to): what an idle
 * connection costs the core beyond its table entry (tests, bench/README.md). */
size_t core_session_bytes(const core_session_t *self);

/* earliest deadline of anything pending (0: none), to schedule the next check */
uint64_t core_session_next_deadline(const core_session_t *self);

#endif
