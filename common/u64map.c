/* u64map: a hash map from 64-bit keys to pointers. See u64map.h.
 *
 * Backward-shift deletion keeps probe sequences short without tombstones. */
#include "u64map.h"

#include <errno.h>
#include <stdlib.h>

typedef struct {
    uint64_t key; /* 0 = empty slot */
    void *value;
} slot_t;

struct u64map {
    slot_t *slots;
    size_t mask; /* capacity - 1, capacity a power of two */
    size_t size;
};

static uint64_t mix(uint64_t k)
{
    /* splitmix64 finaliser: sequential ids spread over the table */
    k ^= k >> 30;
    k *= 0xbf58476d1ce4e5b9ULL;
    k ^= k >> 27;
    k *= 0x94d049bb133111ebULL;
    k ^= k >> 31;
    return k;
}

u64map_t *u64map_new(size_t initial_capacity)
{
    size_t cap = 16;
    while (cap < initial_capacity * 2)
        cap <<= 1;
    u64map_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->slots = calloc(cap, sizeof(*self->slots));
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->mask = cap - 1;
    return self;
}

void u64map_destroy(u64map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static int grow(u64map_t *self)
{
    size_t old_cap = self->mask + 1;
    size_t cap = old_cap * 2;
    slot_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < old_cap; i++) {
        if (!self->slots[i].key)
            continue;
        size_t j = mix(self->slots[i].key) & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = self->slots[i];
    }
    free(self->slots);
    self->slots = slots;
    self->mask = cap - 1;
    return 0;
}

int u64map_put(u64map_t *self, uint64_t key, void *value)
{
    if (key == 0)
        return -EINVAL;
    if ((self->size + 1) * 4 > (self->mask + 1) * 3 && grow(self) < 0)
        return -ENOMEM;
    size_t i = mix(key) & self->mask;
    while (self->slots[i].key && self->slots[i].key != key)
        i = (i + 1) & self->mask;
    if (!self->slots[i].key)
        self->size++;
    self->slots[i].key = key;
    self->slots[i].value = value;
    return 0;
}

static size_t find(const u64map_t *self, uint64_t key)
{
    size_t i = mix(key) & self->mask;
    while (self->slots[i].key) {
        if (self->slots[i].key == key)
            return i;
        i = (i + 1) & self->mask;
    }
    return SIZE_MAX;
}

void *u64map_get(const u64map_t *self, uint64_t key)
{
    if (key == 0)
        return NULL;
    size_t i = find(self, key);
    return i == SIZE_MAX ? NULL : self->slots[i].value;
}

void *u64map_remove(u64map_t *self, uint64_t key)
{
    if (key == 0)
        return NULL;
    size_t i = find(self, key);
    if (i == SIZE_MAX)
        return NULL;
    void *value = self->slots[i].value;
    /* backward-shift: move later members of the probe run into the hole */
    size_t hole = i;
    size_t j = (i + 1) & self->mask;
    while (self->slots[j].key) {
        size_t home = mix(self->slots[j].key) & self->mask;
        /* can slot j move to the hole? only if its home is not in (hole, j] cyclically */
        int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            self->slots[hole] = self->slots[j];
            hole = j;
        }
        j = (j + 1) & self->mask;
    }
    self->slots[hole].key = 0;
    self->slots[hole].value = NULL;
    self->size--;
    return value;
}

size_t u64map_size(const u64map_t *self)
{
    return self->size;
}

void u64map_foreach(const u64map_t *self, void (*fn)(uint64_t key, void *value, void *arg),
                    void *arg)
{
    for (size_t i = 0; i <= self->mask; i++) {
        if (self->slots[i].key)
            fn(self->slots[i].key, self->slots[i].value, arg);
    }
}
