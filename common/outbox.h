/* outbox: a PUSH socket with a bounded local queue, so that no loop ever blocks on a peer
 * (DESIGN §1, "No event loop ever blocks on a peer").
 *
 * An envelope is sent at once when the socket takes it and nothing waits before it; otherwise its
 * encoding waits in the outbox, in order, until outbox_flush() finds room (the shell calls it when
 * the socket is writable, ZMQ_POLLOUT, or on a short timer while outbox_queued() > 0). Every kind
 * of message is sent with a policy that says what happens when the outbox is full:
 *
 *   OUTBOX_TRY   the caller decides: -ENOBUFS, nothing queued, nothing counted (hold the input
 *                and pause reading, or refuse with an OCPP error);
 *   OUTBOX_DROP  dropped, counted in envelopes_dropped_total{to,type} and logged: for messages
 *                that are repeated or retried anyway (HELLO, ANNOUNCE, OWNER, REGISTRY_BUSY);
 *   OUTBOX_MUST  queued beyond the bound, up to a hard cap of OUTBOX_MUST_FACTOR times it: for
 *                messages that must not be lost and whose number is bounded by what they are
 *                about (one DISCONNECT per connection, one RESULT per command, one EVENT_ACK per
 *                record); past the hard cap they are dropped and counted like OUTBOX_DROP.
 *
 * The queue is bounded in bytes (max_bytes); queued_bytes is exported as
 * outbox_queued_bytes{to}. Not thread-safe: one outbox belongs to one loop. */
#ifndef OCPPGW_OUTBOX_H
#define OCPPGW_OUTBOX_H

#include <stddef.h>

#include <czmq.h>

#include "channel.h"
#include "envelope.h"

typedef enum {
    OUTBOX_TRY,
    OUTBOX_DROP,
    OUTBOX_MUST
} outbox_policy_t;

/* OUTBOX_MUST may queue up to this many times max_bytes. */
#define OUTBOX_MUST_FACTOR 4

typedef struct outbox outbox_t;

/* An outbox around *push_p (ownership taken: the socket is destroyed with the outbox, and
 * *push_p is set to NULL). to names the receiving stage in logs and metrics ("core", "edge",
 * "bridge", "registry"). NULL on failure (the socket is destroyed then too). */
outbox_t *outbox_new(zsock_t **push_p, const char *to, size_t max_bytes);

/* Destroys the outbox and its socket (what is still queued is dropped and counted). Safe twice. */
void outbox_destroy(outbox_t **self_p);

/* Sends or queues env with the policy. 0: sent or queued; -ENOBUFS: full (OUTBOX_TRY: nothing
 * done; OUTBOX_DROP and OUTBOX_MUST past its cap: dropped and counted); another negative errno:
 * env could not be encoded or the socket failed (counted as dropped). */
int outbox_send(outbox_t *self, const envelope_t *env, outbox_policy_t policy);

/* Sends what waits, in order, while the socket takes it. Returns the number of messages still
 * waiting. */
size_t outbox_flush(outbox_t *self);

/* Batching (issue 15: fewer wake-ups per message). Between outbox_batch_begin() and
 * outbox_batch_end() (one turn of the caller's loop: what one wake-up produced), outbox_send()
 * queues instead of sending, and outbox_batch_end() hands every outbox's queue on as multipart
 * ZeroMQ messages (outbox_flush(), at most OUTBOX_BATCH_FRAMES envelopes each): the I/O threads
 * and the receiver then wake up once per batch instead of once per envelope. The policies are
 * kept (an envelope that does not fit is refused, dropped or queued beyond the bound as
 * without batching), and so is the order. For the loop's thread only (the state is the
 * process's, as one loop owns its outboxes). outbox_batch_end() returns the messages still
 * waiting for a full receiver in the outboxes it flushed: the caller retries them as after any
 * outbox_send() that queued. outbox_destroy() hands what waits on first. */
#define OUTBOX_BATCH_FRAMES CHANNEL_BATCH_FRAMES /* the channel's HWMs count on it */
void outbox_batch_begin(void);
size_t outbox_batch_end(void);

/* Messages and bytes waiting for a full receiver (outbox_queued() leaves out what a batch holds
 * until its outbox_batch_end()). */
size_t outbox_queued(const outbox_t *self);
size_t outbox_queued_bytes(const outbox_t *self);

/* True when an OUTBOX_TRY send of len more bytes would be queued (or sent). */
bool outbox_has_room(const outbox_t *self, size_t len);

/* The socket, to poll for ZMQ_POLLOUT (borrowed). */
zsock_t *outbox_socket(outbox_t *self);

#endif
