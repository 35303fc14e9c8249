/* core_edges: what ocpp-core knows of each edge (DESIGN-12-13 "Instances"). Pure: no I/O, no
 * clock.
 *
 * One record per edge id: whether a route to it is open (its HELLO arrived since this core
 * started), the last instance it announced, and the envelopes (CONNECT, FRAME, DISCONNECT) that
 * arrived before its route: a core that restarted hears the edge's frames before its next HELLO
 * and could answer none of them, so they wait, in order, until the HELLO opens the route. The wait
 * is bounded per edge in count (the oldest goes first when full) and in time, and the number of
 * edge records is bounded too; everything dropped is counted by the caller, never silent.
 * Envelopes are kept encoded (common/envelope), so a held envelope owns its bytes. */
#ifndef CORE_EDGES_H
#define CORE_EDGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define CORE_EDGE_ID_MAX 63

typedef struct core_edges core_edges_t;

struct core_edge_item; /* a held envelope, private to core_edges.c */

typedef struct {
    char id[CORE_EDGE_ID_MAX + 1];
    bool routed;       /* a route to it is open */
    uint64_t instance; /* the last (largest) instance it announced; 0: none yet */
    /* held envelopes, oldest first (owned by core_edges) */
    struct core_edge_item *head, *tail;
    size_t held;
} core_edge_t;

/* At most max_edges records, queue_max envelopes per edge held for at most queue_us. */
core_edges_t *core_edges_new(size_t max_edges, size_t queue_max, uint64_t queue_us);
void core_edges_destroy(core_edges_t **self_p); /* frees held envelopes too; safe twice */

/* The record of edge id, created (not routed, instance 0) when create is set and there is room;
 * NULL otherwise. An id is cut to CORE_EDGE_ID_MAX bytes, as the engine stores it. */
core_edge_t *core_edges_get(core_edges_t *self, env_str_t id, bool create);

/* Keeps a copy of env until the edge's route opens. 0: held; 1: held, and the edge's oldest
 * envelope was dropped to make room; a negative errno: env was not held (dropped). */
int core_edges_hold(core_edges_t *self, core_edge_t *e, const envelope_t *env, uint64_t now_us);

/* The oldest envelope held for e: 1 with *env decoded from *buf (the caller frees *buf with free()
 * once done with env), 0 when nothing is held. */
int core_edges_take(core_edges_t *self, core_edge_t *e, envelope_t *env, void **buf);

/* Drops every envelope held longer than queue_us at now_us; returns how many. */
size_t core_edges_expire(core_edges_t *self, uint64_t now_us);

/* When the oldest held envelope passes its bound (0: nothing held). */
uint64_t core_edges_next_deadline(const core_edges_t *self);

/* Envelopes held, all edges. */
size_t core_edges_held(const core_edges_t *self);
/* Edge records, and of them those with a route. */
size_t core_edges_count(const core_edges_t *self);
size_t core_edges_routed(const core_edges_t *self);

/* fn for every edge with a route (fn must not add or remove edges). */
void core_edges_foreach_routed(core_edges_t *self, void (*fn)(const core_edge_t *e, void *arg),
                               void *arg);

#endif
