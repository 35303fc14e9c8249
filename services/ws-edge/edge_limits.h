/* edge_limits: the edge's rate and count limits, plain data without sockets.
 *
 * edge_bucket_t is the per-connection message-rate bucket (8 bytes, kept in the connection);
 * edge_iprate_t is a fixed-size, direct-mapped table of per-source-address buckets for the
 * connection rate; edge_ipcount_t counts what each source address holds now (connections,
 * sockets in the handshake), exactly, keyed by edge_addr_key(). All pure: the caller passes the
 * time in milliseconds. */
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

/* One connection attempt from the address with this key (edge_addr_key(), never 0): true if
 * allowed. Two addresses mapped to one slot share a bucket once the first one's bucket is not
 * full: the table errs towards refusing, never towards letting a flood through unbounded. */
bool edge_iprate_allow(edge_iprate_t *self, uint64_t key, uint32_t now_ms);

typedef struct edge_ipcount edge_ipcount_t;

/* An empty table (an entry per address that holds something; none is kept at 0). NULL on OOM. */
edge_ipcount_t *edge_ipcount_new(void);
void edge_ipcount_destroy(edge_ipcount_t **self_p);
/* What key (edge_addr_key(), never 0) holds now. */
size_t edge_ipcount_get(const edge_ipcount_t *self, uint64_t key);
/* One more for key: 0, or -ENOMEM (nothing counted). */
int edge_ipcount_add(edge_ipcount_t *self, uint64_t key);
/* One less for key (nothing when it holds nothing). */
void edge_ipcount_remove(edge_ipcount_t *self, uint64_t key);
/* Addresses that hold something. */
size_t edge_ipcount_addresses(const edge_ipcount_t *self);

#endif
