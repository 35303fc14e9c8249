/* edge_limits: token buckets (per-connection message rate, per-address connection rate) and
 * per-address counts. See edge_limits.h. */
#include "edge_limits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "u64map.h"

void edge_bucket_init(edge_bucket_t *b, double burst, uint32_t now_ms)
{
    b->tokens = (float)burst;
    b->last_ms = now_ms;
}

bool edge_bucket_take(edge_bucket_t *b, double rate_per_s, double burst, uint32_t now_ms)
{
    if (rate_per_s <= 0)
        return true;
    int32_t elapsed = (int32_t)(now_ms - b->last_ms);
    if (elapsed > 0) {
        double t = b->tokens + rate_per_s * (double)elapsed / 1000.0;
        b->tokens = (float)(t > burst ? burst : t);
        b->last_ms = now_ms;
    } else if (elapsed < 0) {
        /* the clock stepped back (the caller's clock is the wall clock): refill from now on,
         * instead of refilling nothing until it caught up again */
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0f) {
        b->tokens -= 1.0f;
        return true;
    }
    return false;
}

typedef struct {
    uint64_t key; /* hash of the address; 0: free slot */
    edge_bucket_t bucket;
} iprate_slot_t;

struct edge_iprate {
    size_t mask;
    double rate, burst;
    iprate_slot_t slot[];
};

edge_iprate_t *edge_iprate_new(size_t slots, double rate_per_s, double burst)
{
    size_t n = 1;
    while (n < slots)
        n <<= 1;
    edge_iprate_t *self = calloc(1, sizeof(*self) + n * sizeof(iprate_slot_t));
    if (!self)
        return NULL;
    self->mask = n - 1;
    self->rate = rate_per_s;
    self->burst = burst;
    return self;
}

void edge_iprate_destroy(edge_iprate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* A slot from the key: the key is an address (edge_addr_key), so it is mixed first (splitmix64's
 * finaliser) for neighbouring addresses to spread over the table. */
static uint64_t key_mix(uint64_t k)
{
    k ^= k >> 30;
    k *= 0xbf58476d1ce4e5b9ull;
    k ^= k >> 27;
    k *= 0x94d049bb133111ebull;
    return k ^ (k >> 31);
}

bool edge_iprate_allow(edge_iprate_t *self, uint64_t key, uint32_t now_ms)
{
    if (self->rate <= 0)
        return true;
    uint64_t h = key ? key : 1;
    iprate_slot_t *s = &self->slot[key_mix(h) & self->mask];
    if (s->key != h) {
        /* take the slot over only when its owner's bucket has refilled completely */
        edge_bucket_t probe = s->bucket;
        int32_t elapsed = (int32_t)(now_ms - probe.last_ms);
        double full = probe.tokens + (elapsed > 0 ? self->rate * elapsed / 1000.0 : 0);
        if (s->key == 0 || full >= self->burst) {
            s->key = h;
            edge_bucket_init(&s->bucket, self->burst, now_ms);
        }
    }
    return edge_bucket_take(&s->bucket, self->rate, self->burst, now_ms);
}

/* The count is the map's value itself (no allocation per address); an address whose count
 * drops to 0 leaves the map, so the table is as large as the set of addresses holding
 * something. */
struct edge_ipcount {
    u64map_t *map;
};

edge_ipcount_t *edge_ipcount_new(void)
{
    edge_ipcount_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->map = u64map_new(256);
    if (!self->map) {
        free(self);
        return NULL;
    }
    return self;
}

void edge_ipcount_destroy(edge_ipcount_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    u64map_destroy(&(*self_p)->map);
    free(*self_p);
    *self_p = NULL;
}

size_t edge_ipcount_get(const edge_ipcount_t *self, uint64_t key)
{
    return (size_t)(uintptr_t)u64map_get(self->map, key);
}

int edge_ipcount_add(edge_ipcount_t *self, uint64_t key)
{
    uintptr_t n = (uintptr_t)u64map_get(self->map, key);
    return u64map_put(self->map, key, (void *)(n + 1)) < 0 ? -ENOMEM : 0;
}

void edge_ipcount_remove(edge_ipcount_t *self, uint64_t key)
{
    uintptr_t n = (uintptr_t)u64map_get(self->map, key);
    if (n > 1)
        u64map_put(self->map, key, (void *)(n - 1)); /* replaces: cannot fail */
    else if (n == 1)
        u64map_remove(self->map, key);
}

size_t edge_ipcount_addresses(const edge_ipcount_t *self)
{
    return u64map_size(self->map);
}
