/* edge_outbox_io: one outbox per core and one for the registry. See edge_outbox_io.h. */
#include "edge_outbox_io.h"

#include <errno.h>
#include <stdlib.h>

#include "channel.h"
#include "log.h"

struct edge_outboxes {
    uv_prepare_t prepare; /* edge_outboxes_batch(): the end of a turn of the loop */
    bool batching;
    void (*waiting)(void *arg);
    size_t cores;
    outbox_t *registry;
    outbox_t *core[]; /* cores */
};

edge_outboxes_t *edge_outboxes_new(const edge_config_t *cfg)
{
    size_t n = (size_t)cfg->core_count, bytes = (size_t)cfg->core_outbox_bytes;
    edge_outboxes_t *self = calloc(1, sizeof(*self) + n * sizeof(outbox_t *));
    if (!self)
        return NULL;
    self->cores = n;
    zsock_t **push = channel_push_to_cores(cfg->ipc_dir, cfg->core_count, (int)cfg->zmq_hwm);
    for (size_t i = 0; push && i < n; i++)
        self->core[i] = outbox_new(&push[i], "core", bytes);
    channel_push_to_cores_destroy(&push, cfg->core_count); /* what outbox_new did not take */
    zsock_t *registry = channel_push_to(cfg->ipc_dir, "registry", (int)cfg->zmq_hwm);
    self->registry = outbox_new(&registry, "registry", bytes);
    bool ok = self->registry != NULL;
    for (size_t i = 0; i < n; i++)
        ok = ok && self->core[i];
    if (!ok)
        edge_outboxes_destroy(&self);
    return self;
}

void edge_outboxes_destroy(edge_outboxes_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    edge_outboxes_t *self = *self_p;
    for (size_t i = 0; i < self->cores; i++)
        outbox_destroy(&self->core[i]);
    outbox_destroy(&self->registry);
    free(self);
    *self_p = NULL;
}

int edge_outboxes_send(edge_outboxes_t *self, edge_peer_t to, uint32_t index, const envelope_t *env,
                       outbox_policy_t policy)
{
    if (to == EDGE_TO_REGISTRY)
        return outbox_send(self->registry, env, policy);
    return index < self->cores ? outbox_send(self->core[index], env, policy) : -EINVAL;
}

size_t edge_outboxes_flush(edge_outboxes_t *self)
{
    size_t waiting = outbox_flush(self->registry);
    for (size_t i = 0; i < self->cores; i++)
        waiting += outbox_flush(self->core[i]);
    return waiting;
}

size_t edge_outboxes_queued(const edge_outboxes_t *self)
{
    size_t waiting = outbox_queued(self->registry);
    for (size_t i = 0; i < self->cores; i++)
        waiting += outbox_queued(self->core[i]);
    return waiting;
}

/* Runs once per turn of the loop, before it waits for I/O: the turn's batch goes, the next
 * turn's begins. */
static void on_prepare(uv_prepare_t *p)
{
    edge_outboxes_t *self = p->data;
    if (outbox_batch_end() > 0 && self->waiting)
        self->waiting(NULL);
    outbox_batch_begin();
}

int edge_outboxes_batch(edge_outboxes_t *self, uv_loop_t *loop, void (*waiting)(void *arg))
{
    self->waiting = waiting;
    self->prepare.data = self;
    if (uv_prepare_init(loop, &self->prepare) < 0 ||
        uv_prepare_start(&self->prepare, on_prepare) < 0) {
        log_error("cannot start the batching of the edge's sends");
        return -1;
    }
    self->batching = true;
    outbox_batch_begin();
    return 0;
}

void edge_outboxes_batch_stop(edge_outboxes_t *self)
{
    if (!self || !self->batching)
        return;
    self->batching = false;
    if (outbox_batch_end() > 0 && self->waiting)
        self->waiting(NULL);
    uv_close((uv_handle_t *)&self->prepare, NULL);
}
