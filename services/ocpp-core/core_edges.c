/* core_edges: what ocpp-core knows of each edge. See core_edges.h. */
#include "core_edges.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

struct core_edge_item {
    struct core_edge_item *next;
    uint64_t at_us; /* when it arrived */
    size_t len;
    uint8_t data[]; /* the envelope, encoded */
};

struct core_edges {
    size_t max_edges, queue_max;
    uint64_t queue_us;
    zhashx_t *map; /* id -> core_edge_t (owned; the key is the record's own id) */
    size_t held, routed;
    msgpack_sbuffer scratch;
};

static void edge_free(void **item)
{
    core_edge_t *e = *item;
    while (e && e->head) {
        struct core_edge_item *it = e->head;
        e->head = it->next;
        free(it);
    }
    free(e);
    *item = NULL;
}

core_edges_t *core_edges_new(size_t max_edges, size_t queue_max, uint64_t queue_us)
{
    core_edges_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->max_edges = max_edges;
    self->queue_max = queue_max;
    self->queue_us = queue_us;
    self->map = zhashx_new();
    if (!self->map) {
        free(self);
        return NULL;
    }
    zhashx_set_key_duplicator(self->map, NULL);
    zhashx_set_key_destructor(self->map, NULL);
    zhashx_set_destructor(self->map, edge_free);
    msgpack_sbuffer_init(&self->scratch);
    return self;
}

void core_edges_destroy(core_edges_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    core_edges_t *self = *self_p;
    zhashx_destroy(&self->map);
    msgpack_sbuffer_destroy(&self->scratch);
    free(self);
    *self_p = NULL;
}

core_edge_t *core_edges_get(core_edges_t *self, env_str_t id, bool create)
{
    char key[CORE_EDGE_ID_MAX + 1];
    env_str_copy(id, key, sizeof(key));
    core_edge_t *e = zhashx_lookup(self->map, key);
    if (e || !create || zhashx_size(self->map) >= self->max_edges)
        return e;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    memcpy(e->id, key, sizeof(key));
    if (zhashx_insert(self->map, e->id, e) < 0) {
        free(e);
        return NULL;
    }
    return e;
}

static struct core_edge_item *pop(core_edges_t *self, core_edge_t *e)
{
    struct core_edge_item *it = e->head;
    if (!it)
        return NULL;
    e->head = it->next;
    if (!e->head)
        e->tail = NULL;
    e->held--;
    self->held--;
    return it;
}

int core_edges_hold(core_edges_t *self, core_edge_t *e, const envelope_t *env, uint64_t now_us)
{
    if (!self->queue_max)
        return -ENOSPC;
    msgpack_sbuffer_clear(&self->scratch);
    int rc = envelope_encode(env, &self->scratch);
    if (rc < 0)
        return rc;
    struct core_edge_item *it = malloc(sizeof(*it) + self->scratch.size);
    if (!it)
        return -ENOMEM;
    it->next = NULL;
    it->at_us = now_us;
    it->len = self->scratch.size;
    memcpy(it->data, self->scratch.data, it->len);
    int dropped = 0;
    if (e->held >= self->queue_max) { /* the oldest is the nearest to its station's timeout */
        free(pop(self, e));
        dropped = 1;
    }
    if (e->tail)
        e->tail->next = it;
    else
        e->head = it;
    e->tail = it;
    e->held++;
    self->held++;
    return dropped;
}

int core_edges_take(core_edges_t *self, core_edge_t *e, envelope_t *env, void **buf)
{
    for (;;) {
        struct core_edge_item *it = pop(self, e);
        if (!it)
            return 0;
        /* encoded here, so it decodes; the views point into the item, which the caller frees */
        if (envelope_decode(it->data, it->len, env) == 0) {
            *buf = it;
            return 1;
        }
        free(it);
    }
}

size_t core_edges_expire(core_edges_t *self, uint64_t now_us)
{
    size_t dropped = 0;
    if (!self->held)
        return 0;
    for (core_edge_t *e = zhashx_first(self->map); e; e = zhashx_next(self->map)) {
        while (e->head && e->head->at_us + self->queue_us <= now_us) {
            free(pop(self, e));
            dropped++;
        }
    }
    return dropped;
}

uint64_t core_edges_next_deadline(const core_edges_t *self)
{
    uint64_t next = 0;
    if (!self->held)
        return 0;
    for (core_edge_t *e = zhashx_first(self->map); e; e = zhashx_next(self->map))
        if (e->head && (!next || e->head->at_us + self->queue_us < next))
            next = e->head->at_us + self->queue_us;
    return next;
}

size_t core_edges_held(const core_edges_t *self)
{
    return self->held;
}

size_t core_edges_count(const core_edges_t *self)
{
    return zhashx_size(self->map);
}

size_t core_edges_routed(const core_edges_t *self)
{
    size_t n = 0;
    for (core_edge_t *e = zhashx_first(self->map); e; e = zhashx_next(self->map))
        n += e->routed;
    return n;
}

void core_edges_foreach_routed(core_edges_t *self, void (*fn)(const core_edge_t *e, void *arg),
                               void *arg)
{
    for (core_edge_t *e = zhashx_first(self->map); e; e = zhashx_next(self->map))
        if (e->routed)
            fn(e, arg);
}
