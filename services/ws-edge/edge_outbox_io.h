/* edge_outbox_io: the edge's sends to its peers, one outbox (common/outbox.h) per core and one
 * for the pod's registry, each around its ZeroMQ PUSH socket, so that the edge's loop never waits
 * for a full peer (issue 12). The policy of each kind of message is the engine's (edge_conn.h). */
#ifndef EDGE_OUTBOX_IO_H
#define EDGE_OUTBOX_IO_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "edge_config.h"
#include "edge_conn.h"
#include "outbox.h"

typedef struct edge_outboxes edge_outboxes_t;

/* PUSH sockets to core-0 .. core-<core_count-1> and to `registry` in cfg->ipc_dir, each with an
 * outbox of cfg->core_outbox_bytes. NULL on failure (logged). */
edge_outboxes_t *edge_outboxes_new(const edge_config_t *cfg);
/* What is still queued is dropped and counted. Safe twice. */
void edge_outboxes_destroy(edge_outboxes_t **self_p);

/* outbox_send() to core `index` or to the registry. */
int edge_outboxes_send(edge_outboxes_t *self, edge_peer_t to, uint32_t index, const envelope_t *env,
                       outbox_policy_t policy);
/* Sends what waits while the sockets take it; returns how many envelopes still wait. */
size_t edge_outboxes_flush(edge_outboxes_t *self);
size_t edge_outboxes_queued(const edge_outboxes_t *self);

/* Batches the loop's sends (outbox_batch_begin/end, issue 15): what one turn of loop sends to the
 * cores and the registry goes as one ZeroMQ message per peer, just before the loop waits again (a
 * uv_prepare handle). waiting(NULL) is called when a batch left envelopes waiting for a full
 * peer. 0, or -1 (logged). edge_outboxes_batch_stop() sends the last batch and closes the handle
 * (before the loop's last run). */
int edge_outboxes_batch(edge_outboxes_t *self, uv_loop_t *loop, void (*waiting)(void *arg));
void edge_outboxes_batch_stop(edge_outboxes_t *self);

#endif
