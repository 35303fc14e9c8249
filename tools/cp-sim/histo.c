/* histo.c: see histo.h. */
#include "histo.h"

/* Bucket of v: values below HISTO_SUB are exact; above, the top 5 significant bits decide. */
static unsigned slot_of(uint64_t v)
{
    if (v < HISTO_SUB)
        return (unsigned)v;
    unsigned msb = 63 - (unsigned)__builtin_clzll(v); /* >= 5 */
    unsigned shift = msb - 5;
    unsigned sub = (unsigned)(v >> shift) & (HISTO_SUB - 1);
    unsigned e = shift + 1;
    if (e >= HISTO_EXP)
        return HISTO_SLOTS - 1;
    return e * HISTO_SUB + sub;
}

/* Largest value that falls in slot s. */
static uint64_t slot_top(unsigned s)
{
    unsigned e = s / HISTO_SUB;
    uint64_t sub = s % HISTO_SUB;
    if (e == 0)
        return sub;
    unsigned shift = e - 1;
    return ((HISTO_SUB + sub + 1) << shift) - 1;
}

void histo_record(histo_t *h, uint64_t value)
{
    h->slot[slot_of(value)]++;
    h->count++;
    h->sum += value;
    if (value > h->max)
        h->max = value;
}

uint64_t histo_quantile(const histo_t *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->count + 0.999999);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (unsigned s = 0; s < HISTO_SLOTS; s++) {
        seen += h->slot[s];
        if (seen >= want) {
            if (s == HISTO_SLOTS - 1)
                return h->max; /* the overflow slot has no upper bound */
            uint64_t top = slot_top(s);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}

void histo_merge(histo_t *dst, const histo_t *src)
{
    for (unsigned s = 0; s < HISTO_SLOTS; s++)
        dst->slot[s] += src->slot[s];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
}
