/* core_conn: the engine of ocpp-core (docs/engines.md, docs/ocpp-core.md). No I/O, no clock.
 *
 * Events in: every envelope the core receives, with the time (HELLO, CONNECT, FRAME,
 * DISCONNECT from the edges; EVENT_ACK, COMMAND from kafka-bridge; REGISTERED, SUPERSEDED,
 * TAG_INFO, TXID_RANGE, TXID_CLAIMED, REGISTRY_BUSY from redis-registry; ANNOUNCE from both), and
 * a tick with the time that does what is due and says when to come back. Effects out, through
 * the ops table the shell fills: an envelope to an edge (SEND, CLOSE, CONN_STATE, ANNOUNCE), to
 * kafka-bridge (EVENT, RESULT, ANNOUNCE) or to redis-registry (REGISTER, UNREGISTER, TAG_LOOKUP,
 * TXID_BLOCK, TXID_CLAIM, ANNOUNCE), each with
 * the policy that applies when the receiver is full, and a route to open to a new edge.
 *
 * The engine holds the table of connections (edge id + conn id -> connection, identity ->
 * newest connection), what it knows of each edge (core_edges: route, instance, envelopes waiting
 * for the route) and of its other peers (their instances), the id-token cache (core_tags), the
 * pool of 1.6 transaction ids (core_txid; a StartTransaction claims its id before its event), and
 * the rules: one CALL (frame -> 2.0.1 boot gating -> schema -> id token status -> answer now, or
 * hold it until the event is in Kafka -> EVENT_ACK or deadline) and one command (COMMAND ->
 * bounded queue -> CALL -> response, timeout, expiry or closed connection -> exactly one RESULT)
 * read top to bottom in core_conn.c, and so do the restarts of peers (DESIGN-12-13 "Instances").
 * Each connection's state (boot state, held answer, CALL waiting for its token, downlink queue)
 * lives once, in its core_session; answers, events and command records come from the pure
 * helpers (core_actions, core_event, core_command, ocpp_frame, ocpp_schema). */
#ifndef CORE_CONN_H
#define CORE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "outbox.h"

typedef struct core_conn core_conn_t;

typedef enum {
    CORE_TO_EDGE = 0, /* SEND, CLOSE, CONN_STATE, ANNOUNCE: to the edge named by edge_id */
    CORE_TO_BRIDGE,   /* EVENT, RESULT, ANNOUNCE */
    CORE_TO_REGISTRY  /* REGISTER, UNREGISTER, TAG_LOOKUP, TXID_BLOCK, TXID_CLAIM, ANNOUNCE */
} core_peer_t;

typedef struct {
    /* Hand env to a peer (edge_id names the edge for CORE_TO_EDGE, NULL otherwise) without ever
     * waiting; the view is valid during the call only. policy says what the shell does when the
     * receiver is full (common/outbox.h): OUTBOX_TRY refuses, OUTBOX_DROP drops and counts,
     * OUTBOX_MUST queues. 0: sent or queued; -ENOENT: no route to that edge is open; -ENOBUFS:
     * refused or dropped because the receiver is full; another negative errno: not handed on
     * (counted by the shell). The engine's policy per message is in docs/ocpp-core.md ("When a
     * peer is full"): an EVENT of a CALL is sent with OUTBOX_TRY and a refusal answers the CALL
     * InternalError "gateway busy, retry" instead of CALLRESULT; a refused TAG_LOOKUP answers by
     * tag_fallback; RESULT, REGISTER, UNREGISTER and transport events are OUTBOX_MUST; SEND,
     * CLOSE, CONN_STATE and ANNOUNCE are OUTBOX_DROP. */
    int (*send)(void *arg, core_peer_t to, const char *edge_id, const envelope_t *env,
                outbox_policy_t policy);
    /* HELLO of an edge not known yet: open a route to its endpoint. 0, or a negative errno (the
     * next HELLO tries again). */
    int (*open_edge)(void *arg, const char *edge_id, const char *endpoint);
} core_conn_ops_t;

typedef struct {
    const char *pod_id;            /* event source; part of the downlink message-id seed */
    uint32_t core_index;           /* carried in EVENT, RESULT, REGISTER, ANNOUNCE */
    uint64_t instance;             /* this process's instance (its start time, µs; never 0) */
    uint64_t announce_interval_ms; /* ANNOUNCE to every peer this often (0: only to a new edge) */
    const char *events_topic;      /* topic of unified events */
    int64_t heartbeat_interval_s;  /* BootNotification interval */
    bool event_heartbeat;          /* publish a `heartbeat` event for each Heartbeat */
    const char *auth_policy; /* "accept-all" (also NULL), "allow-list", "deny-list", "redis" */
    const char *auth_list;   /* comma-separated id tags, may be NULL */
    uint64_t tag_cache_ms;   /* redis: an Accepted answer is reused this long */
    uint64_t tag_negative_cache_ms; /* redis: any other answer (no record too) this long */
    size_t tag_cache_max;           /* redis: answers kept at most (least recently used go) */
    uint64_t tag_timeout_ms;        /* redis: a CALL waits this long for TAG_INFO */
    bool tag_fallback_accept;       /* redis: no answer in time: Accepted (else Invalid) */
    uint64_t command_timeout_ms;    /* an in-flight CALL without a response times out */
    size_t command_queue_max;       /* commands queued per charge point */
    uint64_t persist_timeout_ms;    /* held answer -> InternalError after this; 0: never */
    bool event_raw_payload;         /* add the OCPP payload to events as data.raw */
    size_t unrouted_queue_max;      /* envelopes of an edge without a route held at most */
    uint64_t unrouted_queue_ms;     /* ... for at most this long (then dropped, counted) */
    uint64_t token_base;            /* EVENT ack tokens count up from here: unique across runs
                                     * (the shell passes its start time << 8), so a late ack of a
                                     * former run matches nothing */
    /* 1.6 transaction ids (docs/ocpp-core.md "Transaction ids"); 0: the defaults in brackets */
    uint32_t txid_block_size;       /* ids per TXID_BLOCK [1000] */
    uint32_t txid_low_water;        /* next block when fewer are left [0: at empty] */
    uint64_t txid_ttl_ms;           /* TXID_CLAIM ttl_ms [7 days] */
    uint64_t txid_claim_timeout_ms; /* a claim or block unanswered is sent again [1000] */
    uint64_t txid_claim_budget_ms;  /* StartTransaction: InternalError past this [5000] */
    unsigned char id_key[32];       /* key of the ids unique to an occurrence (event ids,
                                     * traceparents): the shell fills it from getrandom, tests
                                     * with what they like (core_event.h, core_idgen_t) */
} core_conn_config_t;

/* Strings in cfg are borrowed and must outlive the engine; ops is copied. NULL on failure. */
core_conn_t *core_conn_new(const core_conn_config_t *cfg, const core_conn_ops_t *ops,
                           void *ops_arg);
/* Frees every connection, queued command and held answer without effects; safe twice. */
void core_conn_destroy(core_conn_t **self_p);

/* One envelope received (the view is borrowed for the call); now_us is the wall-clock time. An
 * envelope type the core does not take is refused through channel_reject(). */
void core_conn_on_envelope(core_conn_t *self, const envelope_t *env, uint64_t now_us);

/* Does what is due at now_us (in-flight CALLs time out, queued commands expire, held answers and
 * CALLs waiting for their id token pass their bound, envelopes waiting for an edge's route pass
 * theirs, ANNOUNCE goes out every announce_interval_ms) and returns the next deadline (0: none).
 * Cheap when nothing is due: call it at start, after every batch of envelopes, and arm one timer
 * at the returned time. */
uint64_t core_conn_tick(core_conn_t *self, uint64_t now_us);

/* What the engine holds, for tests, fuzzing and bounds. */
typedef struct {
    size_t connections;  /* in the table */
    size_t identities;   /* identities with a connection here */
    size_t held;         /* answers waiting for persistence */
    size_t waiting;      /* CALLs waiting for their id token's status */
    size_t queued;       /* commands queued or in flight, all connections */
    size_t queued_max;   /* longest queue of one connection (in flight not counted) */
    size_t timers;       /* connections with a deadline armed */
    size_t edges;        /* edges with an open route */
    size_t edge_records; /* edges known, with or without a route */
    size_t unrouted;     /* envelopes waiting for their edge's route, all edges */
    size_t tags;         /* id-token answers cached */
} core_conn_stats_t;

void core_conn_stats(const core_conn_t *self, core_conn_stats_t *out);

#endif
