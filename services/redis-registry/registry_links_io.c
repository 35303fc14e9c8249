/* registry_links_io: outboxes to cores, bridge and edges. See registry_links_io.h. */
#include "registry_links_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "log.h"
#include "registry_creds.h"

/* How often what waits in an outbox is retried while anything waits. */
#define FLUSH_MS     5
#define ENDPOINT_MAX 255

typedef struct {
    char endpoint[ENDPOINT_MAX + 1];
    outbox_t *out;
} edge_route_t;

struct registry_links {
    const registry_config_t *cfg;
    zloop_t *loop;
    outbox_t **cores;
    outbox_t *bridge;
    zhashx_t *edges; /* edge id -> edge_route_t* */
    int flush_id;    /* the flush timer while something waits, -1: none */
};

static void route_free(void **item)
{
    edge_route_t *r = *item;
    if (r) {
        outbox_destroy(&r->out);
        free(r);
    }
    *item = NULL;
}

static outbox_t *outbox_to(registry_links_t *self, zsock_t *push, const char *to)
{
    return push ? outbox_new(&push, to, (size_t)self->cfg->outbox_max_bytes) : NULL;
}

registry_links_t *registry_links_new(const registry_config_t *cfg, zloop_t *loop)
{
    registry_links_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->loop = loop;
    self->flush_id = -1;
    self->cores = calloc((size_t)cfg->core_count, sizeof(*self->cores));
    self->edges = zhashx_new();
    if (!self->cores || !self->edges) {
        registry_links_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->edges, route_free);
    for (int64_t i = 0; i < cfg->core_count; i++) {
        char name[32];
        snprintf(name, sizeof(name), "core-%lld", (long long)i);
        self->cores[i] =
            outbox_to(self, channel_push_to(cfg->ipc_dir, name, (int)cfg->zmq_hwm), "core");
        if (!self->cores[i]) {
            registry_links_destroy(&self);
            return NULL;
        }
    }
    self->bridge =
        outbox_to(self, channel_push_to(cfg->ipc_dir, "bridge", (int)cfg->zmq_hwm), "bridge");
    if (!self->bridge)
        registry_links_destroy(&self);
    return self;
}

void registry_links_destroy(registry_links_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_links_t *self = *self_p;
    if (self->flush_id >= 0)
        zloop_timer_end(self->loop, self->flush_id);
    for (int64_t i = 0; self->cores && i < self->cfg->core_count; i++)
        outbox_destroy(&self->cores[i]);
    free(self->cores);
    outbox_destroy(&self->bridge);
    zhashx_destroy(&self->edges);
    free(self);
    *self_p = NULL;
}

outbox_policy_t registry_links_policy(envelope_type_t type)
{
    return type == ENV_ANNOUNCE || type == ENV_REGISTRY_BUSY ? OUTBOX_DROP : OUTBOX_MUST;
}

/* Retries every outbox; the timer ends once nothing waits. */
static int on_flush(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    registry_links_t *self = arg;
    size_t left = outbox_flush(self->bridge);
    for (int64_t i = 0; i < self->cfg->core_count; i++)
        left += outbox_flush(self->cores[i]);
    for (edge_route_t *r = zhashx_first(self->edges); r; r = zhashx_next(self->edges))
        left += outbox_flush(r->out);
    if (!left && self->flush_id >= 0) {
        zloop_timer_end(self->loop, self->flush_id);
        self->flush_id = -1;
    }
    return 0;
}

static int link_send(registry_links_t *self, outbox_t *out, const envelope_t *env)
{
    int rc = outbox_send(out, env, registry_links_policy(env->type));
    if (outbox_queued(out) && self->flush_id < 0)
        self->flush_id = zloop_timer(self->loop, FLUSH_MS, 0, on_flush, self);
    return rc;
}

int registry_links_to_core(registry_links_t *self, uint32_t core, const envelope_t *env)
{
    if (core >= (uint32_t)self->cfg->core_count)
        return -EINVAL;
    return link_send(self, self->cores[core], env);
}

int registry_links_to_bridge(registry_links_t *self, const envelope_t *env)
{
    return link_send(self, self->bridge, env);
}

int registry_links_to_edge(registry_links_t *self, const char *edge_id, const envelope_t *env)
{
    edge_route_t *r = zhashx_lookup(self->edges, edge_id);
    return r ? link_send(self, r->out, env) : -ENOENT;
}

int registry_links_edge_route(registry_links_t *self, const char *edge_id, const char *endpoint)
{
    edge_route_t *r = zhashx_lookup(self->edges, edge_id);
    if (r && strcmp(r->endpoint, endpoint) == 0)
        return 0;
    if (strlen(endpoint) > ENDPOINT_MAX ||
        (strncmp(endpoint, "ipc://", 6) != 0 && strncmp(endpoint, "tcp://", 6) != 0))
        return -EINVAL;
    if (!r && zhashx_size(self->edges) >= REGISTRY_EDGES_MAX)
        return -ENOSPC;
    edge_route_t *fresh = calloc(1, sizeof(*fresh));
    if (!fresh)
        return -ENOMEM;
    snprintf(fresh->endpoint, sizeof(fresh->endpoint), "%s", endpoint);
    fresh->out = outbox_to(self, channel_push_connect(endpoint, (int)self->cfg->zmq_hwm), "edge");
    if (!fresh->out) {
        free(fresh);
        return -ENOMEM;
    }
    log_info("route to ws-edge %s: %s", edge_id, endpoint);
    zhashx_update(self->edges, edge_id, fresh); /* frees the former route */
    return 0;
}

void registry_links_announce(registry_links_t *self, uint64_t instance)
{
    envelope_t env = {.type = ENV_ANNOUNCE};
    env.u.announce.stage = env_str("registry");
    env.u.announce.index = 0;
    env.u.announce.instance = instance;
    for (int64_t i = 0; i < self->cfg->core_count; i++)
        link_send(self, self->cores[i], &env);
    link_send(self, self->bridge, &env);
    for (edge_route_t *r = zhashx_first(self->edges); r; r = zhashx_next(self->edges))
        link_send(self, r->out, &env);
}
