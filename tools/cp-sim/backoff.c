/* backoff.c: see backoff.h. */
#include "backoff.h"

uint64_t backoff_wait_ms(const backoff_policy_t *p, uint32_t attempt, uint32_t rnd)
{
    uint32_t doublings = attempt < p->repeat_times ? attempt : p->repeat_times;
    if (doublings > 20)
        doublings = 20; /* 2^20 x the minimum is already weeks */
    uint64_t wait = (uint64_t)p->min_ms << doublings;
    if (p->range_ms > 0)
        wait += rnd % ((uint64_t)p->range_ms + 1);
    return wait;
}
