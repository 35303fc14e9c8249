/* registry_creds: the charge points' credential records, moved from Redis to the ws-edges, as an
 * engine (docs/engines.md, docs/registry.md, docs/security.md "Credential records"): no I/O, time
 * passed in, Redis work as batches described as data.
 *
 * The records live in Redis as hashes `cred:<identity>` written by ocppctl or the backend, each
 * change followed by `PUBLISH ocppgw:cred <identity>`. The registry keeps no copy of them: what it
 * holds is the edges it knows and the work in progress (one page of a scan, the identities
 * published since the last batch, CRED_USED to apply), so its memory does not grow with the
 * number of stations. Inputs and what they do:
 *  - HELLO of an edge with a new instance (the first one heard included): a full sync to it,
 *    CRED_SYNC {generation g, done=false}, every record as CRED {identity, record, g}, CRED_SYNC
 *    {g, count n, done=true} (n = the CREDs of generation g it was sent, changes included);
 *  - a message of ocppgw:cred (an identity): the record is read again and sent to every edge
 *    that had or is having a sync, as CRED (an empty record: deleted);
 *  - CRED_USED {identity, fingerprint}: the prev_* fields are removed if the current record
 *    still has that fingerprint (compare-and-set in Lua), which publishes the change;
 *  - ticks: every rescan_ms every edge gets a full sync again (a publish may have been missed);
 *  - resync all: the subscription came back (what was published meanwhile is lost).
 * A full sync is a scan (SCAN MATCH cred:* COUNT scan_count) page by page, one page per batch,
 * interleaved with the rest of the loop; edges whose sync is asked while one runs get the next.
 * An edge that could not take a CRED (-ENOBUFS: its outbox overflowed) gets a full sync later.
 * Records are sent as name=value lines in the canonical order (registry_cred_record). */
#ifndef REGISTRY_CREDS_H
#define REGISTRY_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "registry_batch.h"

/* Bytes of one record as lines (the edge accepts up to 1024). */
#define REGISTRY_CRED_RECORD_MAX 2048
/* Edges one registry keeps (one pod has a handful). */
#define REGISTRY_EDGES_MAX 64
/* The record sent for a hash the registry cannot forward as lines (not a hash, a value with a
 * line break or a control character, too long): the edge refuses it, the station is unknown. */
#define REGISTRY_CRED_INVALID "v=invalid"

typedef struct registry_creds registry_creds_t;

typedef struct {
    /* CRED, CRED_SYNC to the edge edge_id; -ENOBUFS when it could not be taken (then the edge
     * gets a full sync later) */
    int (*to_edge)(void *arg, const char *edge_id, const envelope_t *env);
} registry_creds_ops_t;

typedef struct {
    int64_t rescan_ms;  /* full sync of every edge this often */
    size_t scan_count;  /* SCAN COUNT of one page */
    size_t batch_max;   /* commands per batch */
    size_t pending_max; /* changes and CRED_USED waiting at most (more are dropped, counted) */
} registry_creds_config_t;

/* NULL on failure. */
registry_creds_t *registry_creds_new(const registry_creds_config_t *cfg,
                                     const registry_creds_ops_t *ops, void *ops_arg);
/* Frees everything without effects; safe twice. */
void registry_creds_destroy(registry_creds_t **self_p);

/* HELLO. 1: an edge (or instance) new to this registry, whose full sync is now due (the shell
 * opens or renews its route first); 0: known; -EINVAL: no edge id; -ENOSPC: too many edges. */
int registry_creds_on_hello(registry_creds_t *self, const env_hello_t *m, uint64_t now_us);
/* A message of ocppgw:cred (raw payload: the identity). Malformed ones are counted. */
void registry_creds_on_changed(registry_creds_t *self, const char *payload, size_t len);
/* CRED_USED. 0, -EINVAL (malformed, counted), -ENOBUFS (too much waiting, dropped). */
int registry_creds_on_cred_used(registry_creds_t *self, const env_cred_used_t *m);
/* Every edge gets a full sync again (why is logged). */
void registry_creds_resync_all(registry_creds_t *self, const char *why);
/* Schedules the periodic full sync. */
void registry_creds_tick(registry_creds_t *self, uint64_t now_us);

/* Something waits for Redis now (the shell keeps flushing soon while true). A sync that failed
 * is tried again a second later. */
bool registry_creds_pending(const registry_creds_t *self, uint64_t now_us);
/* The next batch or NULL (nothing waits, or a batch is in flight). Owned by the engine, valid
 * until its replies come back. */
const registry_batch_t *registry_creds_prepare(registry_creds_t *self, uint64_t now_us);
/* The replies of the batch in flight (n below its size: the connection broke; the sync in
 * progress is then abandoned and done again, changes and CRED_USED not answered are kept).
 * 0, or -EPIPE when the connection must be dropped. */
int registry_creds_on_replies(registry_creds_t *self, const registry_reply_t *const *replies,
                              size_t n, uint64_t now_us);

/* Edges known (and for tests: whether edge_id's last full sync ended, its generation). */
size_t registry_creds_edges(const registry_creds_t *self);
bool registry_creds_synced(const registry_creds_t *self, const char *edge_id, uint64_t *generation);

/* The record of an HGETALL reply (pairs of field and value) as name=value lines into out: the
 * known fields in the canonical order v, profile, alg, iter, salt, hash, prev_alg, prev_iter,
 * prev_salt, prev_hash, updated_ms, then any other field whose name is [a-z0-9_]{1,32} (a newer
 * writer's: the edge ignores what it does not know; others are dropped), each line ended by
 * '\n' except the last. A reply that is not an array of pairs, a known field whose value has a
 * byte outside 0x20..0x7e, a hash with no field left to send, or a record longer than outlen - 1
 * gives REGISTRY_CRED_INVALID.
 * Returns the length (0: an empty hash, i.e. deleted), or -EINVAL when REGISTRY_CRED_INVALID was
 * written (why: static text naming the problem, never a value). out is NUL-terminated. */
int registry_cred_record(const registry_reply_t *r, char *out, size_t outlen, const char **why);

#endif
