/* registry_table: this pod's live registrations and the work waiting for Redis, as an engine
 * (docs/engines.md, docs/registry.md): no I/O, time passed in, effects through an ops table.
 *
 * Inputs: REGISTER, UNREGISTER, LOOKUP, DEDUP, TAG_LOOKUP, TXID_BLOCK and TXID_CLAIM envelopes; a
 * superseded notification
 * read from pub/sub; a core's instance (ANNOUNCE); ticks; "Redis connected" (every registration
 * is re-asserted: Redis may have lost its data), "Redis unavailable" (what only reads is answered
 * -EAGAIN at once), "requeue all" (the subscription came back or our lease had expired: a newer
 * owner may exist); and the replies of the batch it prepared.
 *
 * Redis work is queued (claims and re-assertions, releases, lookups, de-dup checks, id-token
 * lookups, blocks and claims of 1.6 transaction ids, the reconciliation's reads) and turned into
 * one batch of commands at a time (registry_table_prepare); the batch's replies come back through
 * one handler (registry_table_on_replies) that dispatches on what each command was. Effects:
 * REGISTERED, SUPERSEDED, TAG_INFO, TXID_RANGE, TXID_CLAIMED and REGISTRY_BUSY to a core, OWNER,
 * DEDUP_RESULT and device.disconnected EVENTs to the bridge.
 *
 * Rules kept here: a new connection takes a fresh epoch, the same connection re-asserts its
 * own, and so does a connection a core re-registers with the epoch it holds (this registry
 * restarted); a release carries the epoch of the connection that goes, never a newer
 * connection's; re-assertion is a compare-and-set that never overwrites a newer owner; an
 * unauthenticated claim never supersedes an authenticated live mapping (SUPERSEDED to its core);
 * a de-dup check that may have run is retried with the same value, so "first" is answered once;
 * transaction id blocks never pass 2^31-1 (an exhausted counter is refused -ENOSPC, loudly);
 * questions are refused (-EBUSY) over queue_limit and the cores told (REGISTRY_BUSY, with
 * hysteresis). Reconciliation (issue 12): when a core restarts (a new instance), its
 * registrations not confirmed by a REGISTER within reconcile_grace_ms are released with a
 * device.disconnected each; reconcile_grace_ms after start and every reconcile_interval_ms, every
 * mapping Redis holds for this pod that the table does not hold is released (compare-and-set on
 * the pod and the epoch read) with a device.disconnected each. */
#ifndef REGISTRY_TABLE_H
#define REGISTRY_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "registry_batch.h"

typedef struct registry_table registry_table_t;

typedef struct {
    /* REGISTERED, SUPERSEDED, TAG_INFO, TXID_RANGE, TXID_CLAIMED, REGISTRY_BUSY to core number
     * core (< core_count) */
    int (*to_core)(void *arg, uint32_t core, const envelope_t *env);
    /* OWNER, DEDUP_RESULT, EVENT (device.disconnected of a released mapping) to the bridge */
    int (*to_bridge)(void *arg, const envelope_t *env);
} registry_table_ops_t;

typedef struct {
    const char *pod_id; /* copied */
    uint32_t core_count;
    size_t queue_limit;         /* refuse lookups and de-dup checks, tell cores busy, from here */
    size_t batch_max;           /* commands per round trip */
    const char *events_topic;   /* of device.disconnected (copied) */
    int64_t reconcile_grace_ms; /* a restarted core's registrations wait this long */
    int64_t reconcile_interval_ms; /* between reconciliations of this pod's mappings */
    int64_t epoch_ttl_ms; /* a released mapping's epoch counter lives this long (0: 7 days) */
} registry_table_config_t;

/* NULL on failure. */
registry_table_t *registry_table_new(const registry_table_config_t *cfg,
                                     const registry_table_ops_t *ops, void *ops_arg);
/* Frees everything, queued and in-flight work included, without effects; safe twice. */
void registry_table_destroy(registry_table_t **self_p);

/* REGISTER, UNREGISTER, LOOKUP, DEDUP, TAG_LOOKUP, TXID_BLOCK, TXID_CLAIM. 0, or -ENOTSUP for
 * another type (not refused here: the shell routes it elsewhere or refuses it). now_us: wall clock,
 * the instances' clock. */
int registry_table_on_envelope(registry_table_t *self, const envelope_t *env, uint64_t now_us);

/* A message of our superseded channel (raw payload; malformed ones are counted and ignored). */
void registry_table_on_superseded(registry_table_t *self, const char *payload, size_t len);

/* A core's instance (ANNOUNCE {core, index, instance}). A change (not the first one heard: the
 * registrations then came from it) means the core restarted: its registrations whose last
 * REGISTER came before instance (a start time, same clock as now_us) are unconfirmed and are
 * released at now_us + reconcile_grace_ms unless a REGISTER confirms them. */
void registry_table_on_core_instance(registry_table_t *self, uint32_t core, uint64_t instance,
                                     uint64_t now_us);

/* Releases what a restarted core did not confirm in time, and starts a reconciliation when one
 * is due (only while connected to Redis; the first reconcile_grace_ms after the first tick). */
void registry_table_tick(registry_table_t *self, bool redis_connected, uint64_t now_us);

/* Connected to Redis (again): every registration is re-asserted. */
void registry_table_on_redis_up(registry_table_t *self);
/* Redis cannot be reached now: queued lookups, id-token lookups and de-dup checks never sent
 * are answered -EAGAIN; claims, releases and de-dup checks already sent wait; a reconciliation
 * in progress is abandoned (the next tick starts it again). */
void registry_table_on_redis_unavailable(registry_table_t *self);
/* Re-asserts every registration (why is logged). */
void registry_table_requeue_all(registry_table_t *self, const char *why);

/* How many batches one flush may run: the queue at the start of the flush divided by
 * batch_max, plus one; 0 when nothing waits. An item that keeps failing waits for the next
 * flush instead of spinning. */
size_t registry_table_flush_passes(const registry_table_t *self);
/* The next batch (up to batch_max commands: claims and re-assertions, releases, lookups, de-dup
 * checks, id-token lookups, the reconciliation's step, in that order), or NULL when nothing waits
 * or a batch is still in flight. The batch is owned by the table and valid until its replies come
 * back. */
const registry_batch_t *registry_table_prepare(registry_table_t *self, uint64_t now_us);
/* The replies of the batch in flight, in order. n below the batch's size means the connection
 * broke after n replies (0 and NULL: nothing came back): what was not answered is queued again
 * (a de-dup check keeps its value). Returns 0, or -EPIPE when the connection must be dropped
 * (it broke, or a reply said NOSCRIPT, READONLY, LOADING or MASTERDOWN). */
int registry_table_on_replies(registry_table_t *self, const registry_reply_t *const *replies,
                              size_t n, uint64_t now_us);

/* After a flush: the queue depth gauge and, when the busy state changed or every 5 s while
 * busy, REGISTRY_BUSY to every core. */
void registry_table_update_busy(registry_table_t *self, bool redis_up, uint64_t now_us);

/* Work waiting (queued and in flight), live registrations. */
size_t registry_table_depth(const registry_table_t *self);
size_t registry_table_size(const registry_table_t *self);
/* Whether identity is registered here and, when epoch is not NULL, its epoch (tests, fuzzers). */
bool registry_table_holds(const registry_table_t *self, const char *identity, uint64_t *epoch);
/* A reconciliation is in progress (tests, fuzzers). */
bool registry_table_reconciling(const registry_table_t *self);

#endif
