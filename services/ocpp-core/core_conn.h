/* core_conn: the engine of ocpp-core (docs/engines.md, docs/ocpp-core.md). No I/O, no clock.
 *
 * Events in: every envelope the core receives, with the time (HELLO, CONNECT, FRAME,
 * DISCONNECT from the edges; EVENT_ACK, COMMAND from kafka-bridge; REGISTERED, SUPERSEDED,
 * REGISTRY_BUSY from redis-registry), and a tick with the time that does what is due and says
 * when to come back. Effects out, through the ops table the shell fills: an envelope to an edge
 * (SEND, CLOSE), to kafka-bridge (EVENT, RESULT) or to redis-registry (REGISTER, UNREGISTER),
 * and a route to open to a new edge.
 *
 * The engine holds the table of connections (edge id + conn id -> connection, identity ->
 * newest connection) and the rules: one CALL (frame -> 2.0.1 boot gating -> schema -> answer
 * now, or hold it until the event is in Kafka -> EVENT_ACK or deadline) and one command
 * (COMMAND -> bounded queue -> CALL -> response, timeout, expiry or closed connection ->
 * exactly one RESULT) read top to bottom in core_conn.c. Each connection's state (boot state,
 * held answer, downlink queue) lives once, in its core_session; answers, events and command
 * records come from the pure helpers (core_actions, core_event, core_command, ocpp_frame,
 * ocpp_schema). */
#ifndef CORE_CONN_H
#define CORE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

typedef struct core_conn core_conn_t;

typedef enum {
    CORE_TO_EDGE = 0, /* SEND, CLOSE: to the edge named by edge_id */
    CORE_TO_BRIDGE,   /* EVENT, RESULT */
    CORE_TO_REGISTRY  /* REGISTER, UNREGISTER */
} core_peer_t;

typedef struct {
    /* Hand env to a peer (edge_id names the edge for CORE_TO_EDGE, NULL otherwise); the view is
     * valid during the call only. 0; -ENOENT when no route to that edge is open yet; another
     * negative errno when it could not be handed on (the shell has counted and logged the drop,
     * as channel_send_counted does). The engine's policy for a failed send: an event whose answer
     * waits for it is answered InternalError; anything else stays dropped. */
    int (*send)(void *arg, core_peer_t to, const char *edge_id, const envelope_t *env);
    /* HELLO of an edge not known yet: open a route to its endpoint. 0, or a negative errno (the
     * next HELLO tries again). */
    int (*open_edge)(void *arg, const char *edge_id, const char *endpoint);
} core_conn_ops_t;

typedef struct {
    const char *pod_id;           /* event source; part of the downlink message-id seed */
    uint32_t core_index;          /* carried in EVENT, RESULT, REGISTER */
    const char *events_topic;     /* topic of unified events */
    int64_t heartbeat_interval_s; /* BootNotification interval */
    const char *auth_policy;      /* "accept-all" (also NULL), "allow-list", "deny-list" */
    const char *auth_list;        /* comma-separated id tags, may be NULL */
    uint64_t command_timeout_ms;  /* an in-flight CALL without a response times out */
    size_t command_queue_max;     /* commands queued per charge point */
    uint64_t persist_timeout_ms;  /* held answer -> InternalError after this; 0: never */
    bool event_raw_payload;       /* add the OCPP payload to events as data.raw */
    uint64_t token_base;          /* EVENT ack tokens count up from here: unique across runs
                                   * (the shell passes its start time << 8), so a late ack of a
                                   * former run matches nothing */
} core_conn_config_t;

/* Strings in cfg are borrowed and must outlive the engine; ops is copied. NULL on failure. */
core_conn_t *core_conn_new(const core_conn_config_t *cfg, const core_conn_ops_t *ops,
                           void *ops_arg);
/* Frees every connection, queued command and held answer without effects; safe twice. */
void core_conn_destroy(core_conn_t **self_p);

/* One envelope received (the view is borrowed for the call); now_us is the wall-clock time. An
 * envelope type the core does not take is refused through channel_reject(). */
void core_conn_on_envelope(core_conn_t *self, const envelope_t *env, uint64_t now_us);

/* Does what is due at now_us (in-flight CALLs time out, queued commands expire, held answers
 * pass their bound) and returns the next deadline (0: none). Cheap when nothing is due: call it
 * after every batch of envelopes and arm one timer at the returned time. */
uint64_t core_conn_tick(core_conn_t *self, uint64_t now_us);

/* What the engine holds, for tests, fuzzing and bounds. */
typedef struct {
    size_t connections; /* in the table */
    size_t identities;  /* identities with a connection here */
    size_t held;        /* answers waiting for persistence */
    size_t queued;      /* commands queued or in flight, all connections */
    size_t queued_max;  /* longest queue of one connection (in flight not counted) */
    size_t timers;      /* connections with a deadline armed */
    size_t edges;       /* edges with an open route */
} core_conn_stats_t;

void core_conn_stats(const core_conn_t *self, core_conn_stats_t *out);

#endif
