/* u64map: a hash map from 64-bit keys to pointers (open addressing, linear probing).
 *
 * Used for connection ids and tokens on hot paths, where a string-keyed map would cost an
 * allocation per entry. Key 0 is reserved (never a valid id). The map does not own values. */
#ifndef U64MAP_H
#define U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct u64map u64map_t;

u64map_t *u64map_new(size_t initial_capacity); /* NULL on OOM */
void u64map_destroy(u64map_t **self_p);        /* frees the map, not the values; safe twice */

/* 0, -EINVAL for key 0, -ENOMEM. Replaces an existing value. */
int u64map_put(u64map_t *self, uint64_t key, void *value);
void *u64map_get(const u64map_t *self, uint64_t key); /* NULL if absent */
void *u64map_remove(u64map_t *self, uint64_t key);    /* the removed value or NULL */
size_t u64map_size(const u64map_t *self);

/* Calls fn for every entry; fn must not modify the map. */
void u64map_foreach(const u64map_t *self, void (*fn)(uint64_t key, void *value, void *arg),
                    void *arg);

#endif
