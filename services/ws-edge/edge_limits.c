/* edge_limits: token buckets (per-connection message rate, per-address connection rate). */
#include "edge_limits.h"

#include <stdlib.h>
#include <string.h>

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

/* FNV-1a, 64 bits: addresses are short and not chosen to collide on purpose here (the
 * worst a collision does is share a bucket). */
static uint64_t addr_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

bool edge_iprate_allow(edge_iprate_t *self, const char *addr, uint32_t now_ms)
{
    if (self->rate <= 0)
        return true;
    uint64_t h = addr_hash(addr ? addr : "");
    iprate_slot_t *s = &self->slot[h & self->mask];
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
