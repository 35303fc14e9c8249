/* edge_outbox_io: one outbox per core and one for the registry. See edge_outbox_io.h. */
#include "edge_outbox_io.h"

#include <errno.h>
#include <stdlib.h>

#include "channel.h"

struct edge_outboxes {
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
