/* edge_limits: token buckets for the edge's rate limits, plain data without sockets.
 *
 * edge_bucket_t is the per-connection message-rate bucket (8 bytes, kept in the connection);
 * edge_iprate_t is a fixed-size, direct-mapped table of per-source-address buckets for the
 * connection rate. Both are pure: the caller passes the time in milliseconds. */
#ifndef EDGE_LIMITS_H
#define EDGE_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    float tokens;     /* tokens left, at most the burst */
    uint32_t last_ms; /* time of the last refill */
} edge_bucket_t;

/* A full bucket at now_ms. */
void edge_bucket_init(edge_bucket_t *b, double burst, uint32_t now_ms);

/* Refills at rate_per_s up to burst, then takes one token: true if there was one. A rate of 0
 * disables the limit (always true). Time going backwards refills nothing, and the refill goes on
 * from the earlier time (a step back of the clock does not stall the bucket). */
bool edge_bucket_take(edge_bucket_t *b, double rate_per_s, double burst, uint32_t now_ms);

typedef struct edge_iprate edge_iprate_t;

/* A table of `slots` buckets (rounded up to a power of two); NULL on OOM. */
edge_iprate_t *edge_iprate_new(size_t slots, double rate_per_s, double burst);
void edge_iprate_destroy(edge_iprate_t **self_p);

/* One connection attempt from `addr` (a textual peer address): true if allowed. Two
 * addresses hashed to one slot share a bucket once the first one's bucket is not full: the
 * table errs towards refusing, never towards letting a flood through unbounded. */
bool edge_iprate_allow(edge_iprate_t *self, const char *addr, uint32_t now_ms);

#endif
