/* sim.h: the simulator: N charge points on one epoll loop (hand-written RFC 6455 client with
 * small per-connection state, one timer heap), their OCPP life, statistics and the report. */
#ifndef CPSIM_SIM_H
#define CPSIM_SIM_H

#include <stdio.h>

#include "sim_config.h"

typedef struct sim sim_t;

/* Creates the simulator for cfg (borrowed; must outlive it). NULL with why on a setup error. */
sim_t *sim_new(const sim_config_t *cfg, char *why, size_t whylen);

/* Runs until duration_ms has passed or sim_stop() (async-signal-safe) was called, then drains. */
int sim_run(sim_t *s);

void sim_stop(void);

/* Writes the final report. Returns the number of transaction messages not acknowledged. */
unsigned long sim_report(sim_t *s, FILE *out);

void sim_destroy(sim_t **ps);

#endif
