/* edge_wheel: a timing wheel of coarse buckets for the edge's per-connection deadlines.
 *
 * docs/PERFORMANCE.md trap 2: one lws timer per connection is a sorted list with linear insertion.
 * Here a connection is an intrusive node filed in the slot of its due tick; scheduling and
 * cancelling are O(1), and each tick only visits the nodes due then. Deadlines further than
 * the wheel's horizon are filed at the horizon: callers re-check the real deadline when a
 * node comes due (lazy expiry), so a node may come due early, never late by more than a tick.
 *
 * edge_liveness_check() is the ping / hang-up decision for one connection at one tick. */
#ifndef EDGE_WHEEL_H
#define EDGE_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct edge_wheel_node {
    struct edge_wheel_node *prev, *next; /* NULL when not scheduled */
} edge_wheel_node_t;

typedef struct edge_wheel edge_wheel_t;

/* A wheel of `slots` slots (>= 2) whose current tick is `now`. NULL on OOM. */
edge_wheel_t *edge_wheel_new(uint32_t slots, uint64_t now);
void edge_wheel_destroy(edge_wheel_t **self_p); /* does not touch the nodes */

/* Files node (unscheduled or scheduled: it moves) to come due at tick `due`; a due in the
 * past means the next tick, beyond the horizon the horizon. */
void edge_wheel_schedule(edge_wheel_t *self, edge_wheel_node_t *node, uint64_t due);
void edge_wheel_cancel(edge_wheel_t *self, edge_wheel_node_t *node); /* safe if unscheduled */
bool edge_wheel_scheduled(const edge_wheel_node_t *node);
size_t edge_wheel_size(const edge_wheel_t *self);

/* Advances to tick `now`, calling fn for every node due on the way, unscheduled before the
 * call (fn may schedule it again, or schedule/cancel other nodes). Returns how many came due. */
size_t edge_wheel_advance(edge_wheel_t *self, uint64_t now,
                          void (*fn)(edge_wheel_node_t *node, void *arg), void *arg);

typedef enum {
    EDGE_LIVE_WAIT,
    EDGE_LIVE_PING,
    EDGE_LIVE_HANGUP
} edge_live_action_t;

/* Connection liveness at tick `now`: last_rx is the tick of the last frame or pong received,
 * last_ping the tick of the last ping sent (0: none). Silent for `timeout` ticks: hang up.
 * Silent for `interval` ticks and no ping since the last traffic (or the last ping is an
 * interval old): ping. *next_due receives the tick at which to look again. */
edge_live_action_t edge_liveness_check(uint64_t now, uint64_t last_rx, uint64_t last_ping,
                                       uint32_t interval, uint32_t timeout, uint64_t *next_due);

/* Staggered drain: how many of `total` connections should be closed once `elapsed_ms` of a
 * `window_ms` window passed (linear, complete at the end of the window; window 0: all). */
size_t edge_drain_quota(size_t total, uint64_t window_ms, uint64_t elapsed_ms);

#endif
