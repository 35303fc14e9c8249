/* channel.h: the ZeroMQ PUSH/PULL pipes between the gateway's processes (DESIGN §1), over CZMQ.
 *
 * One process binds a PULL socket for its input; its upstream stages connect PUSH sockets to it.
 * Every send is non-blocking: at the high-water mark the caller gets -EAGAIN and applies flow
 * control (stops reading its own input) instead of dropping. Receives are non-blocking too; an
 * event loop waits on channel_fd() and then drains with channel_recv() while
 * channel_readable() is true (the ZMQ_FD is edge-triggered).
 */
#ifndef OCPPGW_CHANNEL_H
#define OCPPGW_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "envelope.h"

/* Envelopes queued per socket (each direction) before -EAGAIN. */
#define CHANNEL_DEFAULT_HWM 10000
/* Envelopes travel in ZeroMQ messages of at most CHANNEL_BATCH_FRAMES frames (outbox batching),
 * and ZeroMQ's high-water marks count messages, not frames. So an HWM given in envelopes is set
 * on the socket as ceil(hwm / CHANNEL_BATCH_FRAMES) messages: a pipe then holds at most about
 * hwm envelopes however they are batched (fewer when batches are small, and the sender's outbox
 * takes the rest within its byte bound), and a stalled peer is noticed as before, with a memory
 * bound in envelopes rather than in batches (256 times larger before this). */
#define CHANNEL_BATCH_FRAMES 64
int channel_hwm_messages(int hwm_envelopes);
/* How long a closing PUSH socket keeps trying to deliver what it still holds. */
#define CHANNEL_LINGER_MS 2000

/* A PULL socket bound to endpoint, rcvhwm envelopes deep (<= 0: CHANNEL_DEFAULT_HWM). NULL on
 * failure, logged, errno set. An ipc:// endpoint whose socket file answers a connect is refused
 * with EADDRINUSE (ZeroMQ would silently unlink and steal it); a stale file nobody listens on is
 * replaced. The caller destroys the socket with zsock_destroy(). */
zsock_t *channel_pull_bind(const char *endpoint, int rcvhwm);

/* A PUSH socket connected to endpoint, sndhwm envelopes deep (<= 0: CHANNEL_DEFAULT_HWM), linger
 * CHANNEL_LINGER_MS. ZMQ_IMMEDIATE is deliberately left off: the pipe exists from the connect on,
 * so messages queue (up to the HWM) while the peer is not bound yet or restarts, and stages can
 * start in any order. NULL on failure, logged, errno set. */
zsock_t *channel_push_connect(const char *endpoint, int sndhwm);

/* Queues one message without blocking. 0; -EAGAIN at the high-water mark (nothing was queued:
 * retry later or apply flow control); -EINVAL for bad arguments; another -errno from ZeroMQ.
 * Never drops silently. */
int channel_send(zsock_t *push, const void *data, size_t len);

/* Queues n messages as the frames of one multipart ZeroMQ message, without blocking: one
 * message for the I/O threads and the receiver to wake up for, however many frames (a receiver
 * takes each frame as one message, channel_drain() does). ZeroMQ delivers all frames or none:
 * 0 when all were queued; -EAGAIN at the high-water mark (none was); -EINVAL; another -errno. */
int channel_send_frames(zsock_t *push, const void *const *data, const size_t *len, size_t n);

/* Encodes env into scratch (cleared first; the caller owns and reuses it) and sends it with
 * channel_send(). 0, an envelope_encode() error or a channel_send() error. */
int channel_send_envelope(zsock_t *push, const envelope_t *env, msgpack_sbuffer *scratch);

/* The one "send or count the drop" path of every stage: env is encoded into scratch and sent,
 * waiting up to timeout_ms for room (0: not at all). When it cannot be handed on it is counted
 * in envelopes_dropped_total{to,type} and logged, naming `to` (the receiving stage). 0, or the
 * negative error (-EAGAIN: the receiver stayed full). */
int channel_send_counted(zsock_t *push, const envelope_t *env, msgpack_sbuffer *scratch,
                         const char *to, int timeout_ms);

/* Counts one envelope of type that could not be handed to `to` in envelopes_dropped_total{to,type}
 * and logs why: the one place every stage counts a drop between stages. */
void channel_count_drop(const char *to, envelope_type_t type, const char *why);

/* channel_send() that waits up to timeout_ms (0: not at all, < 0: for ever) for room.
 * 0, -EAGAIN when the time ran out, or another channel_send() error. */
int channel_send_wait(zsock_t *push, const void *data, size_t len, int timeout_ms);

/* Receives one message without blocking. 0 with msg filled (the caller calls zmq_msg_close());
 * -EAGAIN when nothing is waiting; -EINVAL or another -errno. On error msg needs no close. */
int channel_recv(zsock_t *pull, zmq_msg_t *msg);

/* "ipc://<dir>/<name>.sock", malloc'd, the caller frees it. NULL (logged) when dir or name is
 * NULL or empty or the path does not fit in sun_path (107 bytes plus NUL). */
char *channel_ipc_endpoint(const char *dir, const char *name);

/* The socket's ZMQ_FD, to wait on in an event loop; -1 for NULL. It is edge-triggered: after it
 * fires, receive until channel_readable() is false or the next edge may never come. */
int channel_fd(zsock_t *sock);

/* True when a message can be received now (ZMQ_EVENTS has ZMQ_POLLIN). */
bool channel_readable(zsock_t *sock);

/* The pod's ipc:// sockets by name (ipc://<ipc_dir>/<name>.sock): PULL bound here, PUSH
 * connected there. NULL on failure (logged). */
zsock_t *channel_pull_at(const char *ipc_dir, const char *name, int hwm);
zsock_t *channel_push_to(const char *ipc_dir, const char *name, int hwm);

/* One PUSH to each of the pod's count cores (core-0 .. core-<count-1>), as an array the caller
 * owns; NULL on failure (nothing left open). channel_push_to_cores_destroy frees it and sets
 * *socks_p to NULL. */
zsock_t **channel_push_to_cores(const char *ipc_dir, int64_t count, int hwm);
void channel_push_to_cores_destroy(zsock_t ***socks_p, int64_t count);

/* Handles one decoded envelope; the views in env point into the received message and are valid
 * only during the call. */
typedef void(channel_handler_fn)(const envelope_t *env, void *arg);

/* Receives up to max messages without blocking, decodes each and hands it to handle. A message
 * that does not decode is counted (envelopes_rejected_total{reason}) and logged with `from`
 * (who sends on this socket), never handed on. Returns the number of messages taken: max means
 * more may be waiting (ZMQ_FD is edge-triggered: the caller must come back). */
int channel_drain(zsock_t *pull, int max, const char *from, channel_handler_fn *handle, void *arg);

/* The one way to refuse an envelope a receiver does not take (unexpected type, bad field):
 * counted under envelopes_rejected_total{reason} and logged with `from`. */
void channel_reject(const char *reason, const char *from, const envelope_t *env);

#endif
