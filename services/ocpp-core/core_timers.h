/* core_timers: the deadlines of ocpp-core's connections, an indexed binary min-heap. Pure.
 *
 * Each connection embeds one core_timer_t set to its earliest deadline (the in-flight CALL's
 * timeout, a queued command's expiry, the held answer's bound). Setting, moving or cancelling
 * a timer costs O(log n) and the earliest deadline is read in O(1), so the shell arms one loop
 * timer for the next deadline instead of scanning every connection. The heap holds at most one
 * entry per timer, so it never grows beyond the number of connections; core_timers_reserve()
 * makes room when a connection is added, so setting a timer never fails. */
#ifndef CORE_TIMERS_H
#define CORE_TIMERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t at; /* deadline in microseconds, 0: not armed */
    size_t pos;  /* index in the heap + 1, 0: not in the heap (owned by core_timers) */
} core_timer_t;

typedef struct core_timers core_timers_t;

core_timers_t *core_timers_new(void); /* NULL on OOM */
/* Frees the heap (the timers belong to their owners, which must still exist: their pos is reset).
 */
void core_timers_destroy(core_timers_t **self_p);

/* Room for n armed timers. 0 or -ENOMEM. */
int core_timers_reserve(core_timers_t *self, size_t n);

/* Arms t at `at`, moves it, or cancels it (at 0). A timer must be cancelled before its owner
 * is freed. Arming a new timer beyond the reserved room is a programmer error (asserted). */
void core_timers_set(core_timers_t *self, core_timer_t *t, uint64_t at);

/* The earliest timer whose deadline is <= now_us, taken out of the heap (its at is 0), or NULL. */
core_timer_t *core_timers_due(core_timers_t *self, uint64_t now_us);

/* The earliest deadline, 0 when no timer is armed. */
uint64_t core_timers_next(const core_timers_t *self);

size_t core_timers_size(const core_timers_t *self);

#endif
