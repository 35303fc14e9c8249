/* edge_wheel: timing wheel of coarse buckets, liveness decision and drain schedule. */
#include "edge_wheel.h"

#include <stdlib.h>

struct edge_wheel {
    uint32_t slots;
    uint64_t now;
    size_t size;
    edge_wheel_node_t head[]; /* one circular list head per slot */
};

edge_wheel_t *edge_wheel_new(uint32_t slots, uint64_t now)
{
    if (slots < 2)
        slots = 2;
    edge_wheel_t *self = malloc(sizeof(*self) + slots * sizeof(edge_wheel_node_t));
    if (!self)
        return NULL;
    self->slots = slots;
    self->now = now;
    self->size = 0;
    for (uint32_t i = 0; i < slots; i++)
        self->head[i].prev = self->head[i].next = &self->head[i];
    return self;
}

void edge_wheel_destroy(edge_wheel_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

bool edge_wheel_scheduled(const edge_wheel_node_t *node)
{
    return node->next != NULL;
}

size_t edge_wheel_size(const edge_wheel_t *self)
{
    return self->size;
}

void edge_wheel_cancel(edge_wheel_t *self, edge_wheel_node_t *node)
{
    if (!node->next)
        return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = NULL;
    self->size--;
}

void edge_wheel_schedule(edge_wheel_t *self, edge_wheel_node_t *node, uint64_t due)
{
    edge_wheel_cancel(self, node);
    if (due <= self->now)
        due = self->now + 1;
    if (due > self->now + self->slots - 1)
        due = self->now + self->slots - 1;
    edge_wheel_node_t *h = &self->head[due % self->slots];
    node->next = h;
    node->prev = h->prev;
    h->prev->next = node;
    h->prev = node;
    self->size++;
}

size_t edge_wheel_advance(edge_wheel_t *self, uint64_t now,
                          void (*fn)(edge_wheel_node_t *node, void *arg), void *arg)
{
    size_t fired = 0;
    /* a jump of more than a revolution visits every slot once */
    if (now > self->now + self->slots)
        self->now = now - self->slots;
    while (self->now < now) {
        self->now++;
        edge_wheel_node_t *h = &self->head[self->now % self->slots];
        /* detach the slot first: fn may file nodes into this very slot again */
        if (h->next == h)
            continue;
        edge_wheel_node_t list = {h->prev, h->next};
        list.next->prev = &list;
        list.prev->next = &list;
        h->prev = h->next = h;
        while (list.next != &list) {
            edge_wheel_node_t *n = list.next;
            n->prev->next = n->next;
            n->next->prev = n->prev;
            n->prev = n->next = NULL;
            self->size--;
            fired++;
            fn(n, arg);
        }
    }
    return fired;
}

edge_live_action_t edge_liveness_check(uint64_t now, uint64_t last_rx, uint64_t last_ping,
                                       uint32_t interval, uint32_t timeout, uint64_t *next_due)
{
    uint64_t hangup_at = last_rx + timeout;
    if (now >= hangup_at) {
        *next_due = now;
        return EDGE_LIVE_HANGUP;
    }
    bool pinged = last_ping > last_rx;
    uint64_t ping_at = pinged ? last_ping + interval : last_rx + interval;
    if (now >= ping_at) {
        uint64_t next = now + interval;
        *next_due = next < hangup_at ? next : hangup_at;
        return EDGE_LIVE_PING;
    }
    *next_due = ping_at < hangup_at ? ping_at : hangup_at;
    return EDGE_LIVE_WAIT;
}

size_t edge_drain_quota(size_t total, uint64_t window_ms, uint64_t elapsed_ms)
{
    if (window_ms == 0 || elapsed_ms >= window_ms)
        return total;
    return (size_t)((unsigned __int128)total * elapsed_ms / window_ms);
}
