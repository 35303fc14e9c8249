/* edge_conn: the engine of ws-edge's connections, without sockets (docs/engines.md).
 *
 * Everything the edge decides about an established WebSocket lives here: the hand-off of
 * CONNECT / FRAME / DISCONNECT to the connection's core, reassembly of fragments with the size
 * (1009), binary (1003) and UTF-8 (1007) rules, the memory budget and the deadline of partial
 * messages, the message rate, flow control when core is full (hold the envelope, pause reading,
 * retry, nothing lost, nothing overtakes it), the outbound queue and the slow-reader rule
 * (1008), closing after what is queued, liveness (ping, hang-up) on a timing wheel, the
 * staggered drain, and reconciliation with the cores (issue 12): HELLO with this edge's
 * instance, the instance each core ANNOUNCEs, the boot state each core reports (CONN_STATE),
 * and the re-announce of every live connection to a core that restarted.
 *
 * The shell (edge_lws_io.c, main.c) turns libwebsockets callbacks and ZeroMQ messages into the
 * inputs below and carries out the effects of edge_conns_ops_t. The per-connection state is an
 * edge_conn_t whose storage the shell provides (lws' per-session user data, edge_conn_size()
 * bytes, zeroed): the engine allocates nothing per connection beyond the queued messages, the
 * held envelope and the reassembly buffer, and sets no timer per connection.
 *
 * Time comes in: inputs carry now_us (wall clock, microseconds: what CONNECT and FRAME carry,
 * and the message-rate clock); edge_conns_tick() is one liveness tick (the shell calls it every
 * second; ticks are counted, so a step of the wall clock never hangs everyone up).
 *
 * A connection's states: IDLE (storage zeroed, not the engine's), OPEN (established), CLOSING
 * (a close was decided: nothing more is read or queued; what is queued leaves, then the close
 * frame, or none for a hang-up), and back to IDLE when the shell reports it closed. Orthogonal
 * to them, a connection may hold one envelope core has not taken yet (reading paused), and may
 * wait for its re-announce to a restarted core (its frames wait behind it). */
#ifndef EDGE_CONN_H
#define EDGE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_addr.h"
#include "edge_config.h"
#include "envelope.h"
#include "outbox.h"

typedef struct edge_conns edge_conns_t;
typedef struct edge_conn edge_conn_t;

/* Close code of a hang-up: no close frame is sent (RFC 6455: 1006 is never on the wire). */
#define EDGE_CLOSE_HANGUP 1006
/* How long a closing connection may take to flush its queue before it is dropped (seconds). */
#define EDGE_CLOSE_FLUSH_S 10
/* Held envelopes are retried this often while core is full or the rate is exceeded. */
#define EDGE_RETRY_MS 5
/* A reassembly buffer starts this large and doubles (capped at max_message_bytes). */
#define EDGE_RX_MIN_BYTES 1024

/* Who the edge sends to: core number `index`, or the pod's registry. */
typedef enum {
    EDGE_TO_CORE,
    EDGE_TO_REGISTRY
} edge_peer_t;

/* Hand env to a peer through its outbox (common/outbox.h), never waiting, with policy: the
 * send effect below (also used by edge_security_io.h for CRED_USED). */
typedef int(edge_send_fn)(void *arg, edge_peer_t to, uint32_t index, const envelope_t *env,
                          outbox_policy_t policy);

/* Effects, carried out by the shell. `io` is the shell's handle of the connection, given at
 * edge_conn_established(); arg is ops_arg. */
typedef struct {
    /* Hand env to a peer through its outbox (common/outbox.h), never waiting, with the policy
     * of its kind: CONNECT and FRAME OUTBOX_TRY (-ENOBUFS: the engine holds it and pauses
     * reading), DISCONNECT OUTBOX_MUST (one per connection), HELLO OUTBOX_DROP (repeated every
     * second). 0: sent or queued; -ENOBUFS: full (TRY: nothing done; DROP, and MUST past its
     * cap: dropped and counted by the outbox); another negative errno: not encodable or the
     * socket failed (counted; a CONNECT or FRAME then closes the connection with 1011). */
    edge_send_fn *send;
    /* Held envelopes or re-announces wait: call edge_conns_retry() every EDGE_RETRY_MS (after
     * flushing the outboxes) until it returns 0. */
    void (*want_retry)(void *arg);
    /* Stop (false) or resume (true) reading the connection. */
    void (*read_enable)(void *arg, void *io, bool on);
    /* Ask for edge_conn_writable() once the socket takes data. */
    void (*want_write)(void *arg, void *io);
    /* Within edge_conn_writable(): write one text message. data has write_headroom writable
     * bytes before it (edge_conns_new). 0, or negative: the connection is dropped. */
    int (*write_text)(void *arg, void *io, unsigned char *data, size_t len);
    /* Within edge_conn_writable(): write one ping. 0, or negative: the connection is dropped. */
    int (*write_ping)(void *arg, void *io);
    /* Close now: the shell sends the close frame with edge_conn_close_code() and
     * edge_conn_close_reason() (none when the code is EDGE_CLOSE_HANGUP) and then reports
     * edge_conn_closed(). May come outside the shell's callbacks. */
    void (*close_now)(void *arg, void *io);
    /* A close waits for the queue to drain: drop the connection if that takes longer than
     * seconds. */
    void (*close_deadline)(void *arg, void *io, unsigned int seconds);
} edge_conns_ops_t;

/* An engine for the connections of one edge. cfg is borrowed (it must outlive the engine):
 * edge_id, core_count, max_message_bytes, send_queue_bytes, message_rate, message_burst,
 * ping_interval_ms, idle_timeout_ms, rx_budget_bytes (0: no budget) and message_timeout_ms are
 * used. write_headroom: bytes write_text needs before the data (LWS_PRE). instance: this
 * process's instance (its start time in microseconds, never 0), sent in HELLO; connection ids
 * start there, so every id of an earlier instance of this edge is smaller (DESIGN-12-13
 * "Instances"). NULL on failure. */
edge_conns_t *edge_conns_new(const edge_config_t *cfg, size_t write_headroom, uint64_t instance,
                             const edge_conns_ops_t *ops, void *ops_arg);
/* Frees the engine (not the connections' storage: close them first). Safe twice. */
void edge_conns_destroy(edge_conns_t **self_p);

/* Bytes of storage per connection the shell provides, zeroed before edge_conn_established(). */
size_t edge_conn_size(void);

/* ---- inputs from the connection ------------------------------------------------------- */

/* The upgrade completed. identity NULL (could not be read again): closed with 1008 without
 * reaching core. subprotocol is a static string; peer (the charge point's address, from the
 * PROXY header behind a balancer; NULL: unknown) is copied. security_profile and auth (none,
 * basic, basic-previous, mtls; NULL or another string: none) say how the upgrade authenticated
 * (edge_auth.h); the connection keeps them in a byte each for CONNECT, its re-announce and every
 * FRAME. Sends CONNECT (held while core is full or being re-announced to) and counts the
 * connection for its address (edge_conns_peer_count). */
void edge_conn_established(edge_conns_t *self, edge_conn_t *c, void *io, const char *identity,
                           const char *subprotocol, const edge_addr_t *peer,
                           uint32_t security_profile, const char *auth, uint64_t now_us);

/* Flags of a received piece of a message (lws delivers messages in fragments, and long
 * fragments in pieces). */
#define EDGE_RX_FIRST  0x1
#define EDGE_RX_FINAL  0x2
#define EDGE_RX_BINARY 0x4
void edge_conn_receive(edge_conns_t *self, edge_conn_t *c, const void *data, size_t len,
                       unsigned int flags, uint64_t now_us);
void edge_conn_pong(edge_conns_t *self, edge_conn_t *c);
/* The peer sent a close frame with this code (0: none). */
void edge_conn_peer_close(edge_conns_t *self, edge_conn_t *c, uint16_t code);
/* The socket takes data: writes at most one thing. Returns 0, or -1 when the shell must drop
 * the connection at once (a hang-up, a failed write). */
int edge_conn_writable(edge_conns_t *self, edge_conn_t *c);
/* The connection is gone: DISCONNECT to core (if core heard of it), everything freed; the
 * storage is IDLE again. */
void edge_conn_closed(edge_conns_t *self, edge_conn_t *c);

/* What close_now should send: the code (EDGE_CLOSE_HANGUP: no close frame) and the reason. */
uint16_t edge_conn_close_code(const edge_conn_t *c);
const char *edge_conn_close_reason(const edge_conn_t *c);

/* ---- inputs from core and from time -------------------------------------------------- */

/* An envelope from a core: SEND, CLOSE, CONN_STATE (the boot state to re-announce with;
 * remembered in one byte), ANNOUNCE (a core's instance: on a change, and on the first one seen,
 * every live connection of that core is re-announced with CONNECT resumed=true, in connection
 * order, before any later FRAME of it; ANNOUNCEs of other stages are ignored). SEND, CLOSE and
 * CONN_STATE for a connection that is gone or closing are dropped and counted
 * (edge_stale_conn_total). 0; -EINVAL for another type, -ERANGE for a field out of range (a
 * core index beyond core_count, an unknown boot state): the shell refuses it. */
int edge_conns_from_core(edge_conns_t *self, const envelope_t *env);
/* HELLO {edge_id, endpoint, instance} to every core and to the registry (OUTBOX_DROP: it is
 * repeated every second). endpoint is where this edge's PULL socket is bound. */
void edge_conns_hello(edge_conns_t *self, const char *endpoint);
/* Re-announces what waits, then retries the held envelopes, oldest first; returns how many
 * connections still wait (0: stop retrying). */
size_t edge_conns_retry(edge_conns_t *self, uint64_t now_us);
/* One liveness tick (a second): pings silent connections, hangs up dead ones. */
void edge_conns_tick(edge_conns_t *self);

/* Drain (SIGTERM): the connections open now are closed with 1001, spread over window_ms.
 * begin takes the list; step closes the share due after elapsed_ms and returns true once all
 * of them were closed and no connection is left. */
int edge_conns_drain_begin(edge_conns_t *self);
bool edge_conns_drain_step(edge_conns_t *self, uint64_t window_ms, uint64_t elapsed_ms);

/* ---- what the engine holds (tests, fuzzers, the shell's admission facts) ---------------- */

size_t edge_conns_count(const edge_conns_t *self); /* established, not yet closed */
uint64_t edge_conns_instance(const edge_conns_t *self);
/* Established connections from the address (edge_addr_key: IPv6 by /64) of peer. */
size_t edge_conns_peer_count(const edge_conns_t *self, const edge_addr_t *peer);
/* Bytes held by reassembly buffers (their capacity), at most rx_budget_bytes. */
size_t edge_conns_partial_bytes(const edge_conns_t *self);
/* The last instance core `index` announced (0: none yet). */
uint64_t edge_conns_core_instance(const edge_conns_t *self, uint32_t index);
uint64_t edge_conn_id(const edge_conn_t *c);  /* 0 when not established */
bool edge_conn_is_open(const edge_conn_t *c); /* established and no close decided */
bool edge_conn_is_held(const edge_conn_t *c); /* an envelope waits for core */
size_t edge_conn_queued_bytes(const edge_conn_t *c);
size_t edge_conn_rx_bytes(const edge_conn_t *c); /* reassembly buffer */
const edge_addr_t *edge_conn_peer(const edge_conn_t *c);
/* The boot state core last reported: "none", "pending", "accepted", or "" (none yet). */
const char *edge_conn_boot_state(const edge_conn_t *c);
bool edge_conn_reannounce_pending(const edge_conn_t *c); /* waits for its re-announce */
/* How its upgrade authenticated (EDGE_AUTH_METHODS) and the security profile it satisfied. */
const char *edge_conn_auth(const edge_conn_t *c);
uint32_t edge_conn_security_profile(const edge_conn_t *c);

#endif
