/* registry_lease: this pod's lease, dead pods, the sweeper and the takeover of dead pods'
 * command partitions, as an engine (docs/engines.md, docs/registry.md): no I/O, time passed in.
 *
 * Each job is a short sequence of steps; each step is one pipelined batch of Redis commands
 * described as data (registry_lease_batch) whose replies come back through
 * registry_lease_on_replies, which prepares the next step, until the job is done (no batch).
 * Jobs:
 *  - refresh: EXISTS + SET PX our lease, SADD the pods set, DEL our :forgotten and :since marks.
 *    A lease found missing means we were paused or cut off longer than its TTL: effect
 *    lease_expired (the shell re-asserts every registration).
 *  - check pods: the pods set, their leases (O(pods)); for pods without one, the sweeper lock;
 *    for each dead pod in turn: once seen dead for sweep_grace_ms and only while we hold the
 *    lock, up to sweep_batch of its mappings are swept (each removed mapping: one
 *    device.disconnected EVENT to the bridge), then the fenced takeover claim is tried or
 *    renewed (won: TAKEOVER active=true; lost: active=false). A claim is kept for as long as the
 *    pod is dead (its partition is read on: a backend with a stale lookup may write there any
 *    time); a pod dead for longer than orphan_forget_ms (Redis keeps since when) is forgotten:
 *    nobody claims it again (active=false to the bridge if we held it) and it leaves the pods
 *    set once it has no mapping left. Pods no longer dead drop our claim (active=false).
 *  - stop: delete our lease, so the other pods take over at once.
 * Without Redis: a new bridge instance (ANNOUNCE) gets TAKEOVER active=true again for every
 * claim held; TAKEOVER_DONE (the bridge stopped reading for good) for a claim still held does
 * too (the partition must be read while the pod is dead).
 * Effects: TAKEOVER and EVENT envelopes to the bridge, lease_expired. */
#ifndef REGISTRY_LEASE_H
#define REGISTRY_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "registry_batch.h"

typedef struct registry_lease registry_lease_t;

typedef struct {
    /* TAKEOVER, EVENT (device.disconnected of a swept mapping) to the bridge */
    int (*to_bridge)(void *arg, const envelope_t *env);
    /* our lease had expired: a newer owner may exist for any of our registrations */
    void (*lease_expired)(void *arg);
} registry_lease_ops_t;

typedef struct {
    const char *pod_id; /* copied */
    int64_t lease_ttl_ms;
    int64_t lease_refresh_ms; /* the sweeper lock lives three of these */
    int64_t sweep_batch;
    int64_t sweep_grace_ms;
    int64_t orphan_forget_ms; /* a pod dead this long is forgotten */
    int64_t epoch_ttl_ms;     /* released epochs, takeover counters, :forgotten expire after it */
    const char *events_topic; /* copied */
} registry_lease_config_t;

/* NULL on failure. */
registry_lease_t *registry_lease_new(const registry_lease_config_t *cfg,
                                     const registry_lease_ops_t *ops, void *ops_arg);
/* Frees everything without effects; safe twice. */
void registry_lease_destroy(registry_lease_t **self_p);

/* Start a job. 0, or -EBUSY while another job is in progress (nothing started). */
int registry_lease_refresh(registry_lease_t *self, size_t registrations, uint64_t now_us);
int registry_lease_check_pods(registry_lease_t *self, uint64_t now_us);
int registry_lease_stop(registry_lease_t *self);
/* TAKEOVER_DONE: the bridge stopped reading a partition for good (after active=false, or a
 * claim a restarted registry did not confirm in time). For a claim we still hold, TAKEOVER
 * active=true is sent again (0); otherwise it is only logged (-ENOENT). Never a Redis job. */
int registry_lease_on_takeover_done(registry_lease_t *self, const env_takeover_done_t *m,
                                    uint64_t now_us);
/* The bridge's instance (ANNOUNCE {bridge, 0, instance}): a new one (the first one heard
 * included: a repeated TAKEOVER is harmless) gets TAKEOVER active=true for every claim held. */
void registry_lease_on_bridge_instance(registry_lease_t *self, uint64_t instance);

/* The batch of the current step, NULL when no job is in progress. */
const registry_batch_t *registry_lease_batch(const registry_lease_t *self);
/* The replies of the current step, in order (n below the batch's size: the connection broke
 * after n replies). Prepares the next step. 0, or -EPIPE when the connection must be dropped
 * (the job is then abandoned; the next tick starts afresh). */
int registry_lease_on_replies(registry_lease_t *self, const registry_reply_t *const *replies,
                              size_t n, uint64_t now_us);
/* Redis cannot be reached: the job in progress is abandoned. */
void registry_lease_cancel(registry_lease_t *self);

/* Dead pods this registry tracks, and the takeover epoch held for pod (0: none) (tests). */
size_t registry_lease_dead_pods(const registry_lease_t *self);
uint64_t registry_lease_held(const registry_lease_t *self, const char *pod);

#endif
