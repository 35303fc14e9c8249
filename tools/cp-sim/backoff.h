/* backoff.h: OCPP's reconnect back-off (1.6 security whitepaper / 2.0.1 B.Reconnect):
 * RetryBackOffWaitMinimum, RetryBackOffRandomRange, RetryBackOffRepeatTimes.
 *
 * The n-th consecutive failed attempt (n = 0 for the first reconnect) waits
 *   min_ms * 2^min(n, repeat_times) + random in [0, range_ms]
 * so the wait doubles repeat_times times and then stays; the jitter spreads a crowd of stations
 * that lost their connection at the same moment. Pure: the random value comes in.
 */
#ifndef CPSIM_BACKOFF_H
#define CPSIM_BACKOFF_H

#include <stdint.h>

typedef struct backoff_policy {
    uint32_t min_ms;       /* RetryBackOffWaitMinimum */
    uint32_t range_ms;     /* RetryBackOffRandomRange */
    uint32_t repeat_times; /* RetryBackOffRepeatTimes */
} backoff_policy_t;

/* Wait before attempt number `attempt` (0-based); rnd is any 32-bit random value. */
uint64_t backoff_wait_ms(const backoff_policy_t *p, uint32_t attempt, uint32_t rnd);

#endif
