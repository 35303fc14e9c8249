/* core_txid: the pool of OCPP 1.6 transaction ids of one core. Pure (no I/O, no clock: callers
 * pass the time); the engine core_conn sends what it says and feeds back the answers.
 *
 * Ids come in blocks from the cluster-wide counter that redis-registry keeps in Redis
 * (TXID_BLOCK -> TXID_RANGE, docs/registry.md "Transaction ids"): every block is this core's
 * alone, so a candidate taken from the pool collides with no other core, pod or restart. The pool
 * asks for a block at start and again as soon as fewer than low_water ids are left, one request
 * in flight at a time; a request unanswered after timeout, refused by a full outbox or answered
 * -EAGAIN (Redis unreachable), -EBUSY (registry queue full) or any other error is asked again
 * after a backoff (doubling from backoff_min to backoff_max). -ENOSPC (the counter reached
 * 2^31-1) is an outage of 1.6 transactions: logged as an error, counted, asked again at
 * backoff_max. A range answered late (after its request timed out) is still this core's and is
 * kept. Candidates a claim did not use (TXID_CLAIMED first=false) come back and are handed out
 * first. Ids never handed out are lost at a restart: ids need not be dense. */
#ifndef CORE_TXID_H
#define CORE_TXID_H

#include <stddef.h>
#include <stdint.h>

/* 1.6 transactionId is a JSON integer many stations keep as int32: the registry never hands out
 * more, and the core never answers with more */
#define CORE_TXID_LIMIT 2147483647ULL

typedef struct {
    uint32_t block_size;     /* ids asked per TXID_BLOCK (the registry gives at most 10,000) */
    uint32_t low_water;      /* ask the next block when fewer ids than this are left */
    uint64_t timeout_us;     /* a TXID_BLOCK unanswered this long is asked again */
    uint64_t backoff_min_us; /* first wait after a failed or refused request */
    uint64_t backoff_max_us; /* longest wait (doubling in between) */
    uint64_t request_base;   /* request ids count up from here: unique across runs */
} core_txid_config_t;

typedef struct core_txid core_txid_t;

core_txid_t *core_txid_new(const core_txid_config_t *cfg); /* NULL on OOM */
void core_txid_destroy(core_txid_t **self_p);              /* safe twice */

/* 1 with *request_id and *count set when a TXID_BLOCK is due at now (below low water, nothing
 * in flight, no backoff running; or the one in flight timed out, counted): the caller sends it
 * and reports with core_txid_sent(). 0: nothing to ask now. */
int core_txid_block_due(core_txid_t *self, uint64_t now_us, uint64_t *request_id, uint32_t *count);
/* What became of the TXID_BLOCK of core_txid_block_due(): rc 0 sent (in flight until its answer
 * or timeout); a negative errno: not sent, asked again after the backoff. */
void core_txid_sent(core_txid_t *self, int rc, uint64_t now_us);
/* A TXID_RANGE. 0: the range was kept; -ESTALE: not an answer to this pool (unknown request id,
 * counted nowhere, the caller logs); -EINVAL: error 0 with a range outside 1 .. 2^31-1 (a
 * registry bug, counted as error); else the registry's error (counted, backoff). */
int core_txid_on_range(core_txid_t *self, uint64_t request_id, uint64_t first, uint32_t count,
                       int32_t error, uint64_t now_us);

/* The next candidate (a returned one first), or 0 when the pool is empty. */
uint64_t core_txid_take(core_txid_t *self);
/* A candidate a claim did not use (first=false): handed out again (bounded; beyond: lost). */
void core_txid_give_back(core_txid_t *self, uint64_t id);

size_t core_txid_available(const core_txid_t *self);
/* 1 while a TXID_BLOCK is in flight */
int core_txid_in_flight(const core_txid_t *self);
/* When core_txid_block_due() must be called again (0: not before the pool is used). */
uint64_t core_txid_next_deadline(core_txid_t *self);

#endif
