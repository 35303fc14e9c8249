/* histo.h: a latency histogram with bounded relative error, for per-action percentiles.
 *
 * Values (microseconds) are counted in log-linear buckets: 32 sub-buckets per power of two, so a
 * reported percentile is within ~3% of the true value; fixed size (no allocation), O(1) record.
 */
#ifndef CPSIM_HISTO_H
#define CPSIM_HISTO_H

#include <stdint.h>

#define HISTO_SUB   32
#define HISTO_EXP   40
#define HISTO_SLOTS (HISTO_SUB * HISTO_EXP)

typedef struct histo {
    uint64_t count;
    uint64_t sum;
    uint64_t max;
    uint64_t slot[HISTO_SLOTS];
} histo_t;

void histo_record(histo_t *h, uint64_t value);

/* The smallest bucket upper bound below which at least q (0..1] of the values lie (0 when
 * empty); never more than max. */
uint64_t histo_quantile(const histo_t *h, double q);

/* Adds src into dst. */
void histo_merge(histo_t *dst, const histo_t *src);

#endif
