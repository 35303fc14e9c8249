/* clock: the one clock of every stage.
 *
 * Wall-clock time in microseconds (and milliseconds) since the epoch: what envelopes, events,
 * deadlines and logs carry. Engines never read it themselves: the shell passes the time in, so
 * tests and fuzzers drive time as they like. */
#ifndef OCPPGW_CLOCK_H
#define OCPPGW_CLOCK_H

#include <stdint.h>

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t clock_now_us(void);

/* Milliseconds since the Unix epoch. */
int64_t clock_now_ms(void);

/* Microseconds of CLOCK_MONOTONIC: for intervals that must not jump with the wall clock (loop
 * stall detection, rates, benchmarks). */
uint64_t clock_mono_us(void);

#endif
