/* registry_work_io: runs the engines' Redis work on the hiredis shell (registry_redis_io.c), one
 * pipelined round trip per batch, synchronously, each bounded by redis_timeout_ms:
 *  - the table's batches (as many passes as its queue needs at the start of a flush);
 *  - one batch of the credential engine per flush (a full sync is paged: the loop handles its
 *    input between pages);
 *  - the lease engine's job, step by step.
 * A fresh connection tells the table (every registration is re-asserted: Redis may have lost its
 * data); no connection tells the table and abandons the lease job. */
#ifndef REGISTRY_WORK_IO_H
#define REGISTRY_WORK_IO_H

#include <stdbool.h>

#include "registry_creds.h"
#include "registry_lease.h"
#include "registry_redis_io.h"
#include "registry_table.h"

typedef struct {
    registry_redis_t *io;
    registry_table_t *table;
    registry_lease_t *lease;
    registry_creds_t *creds;
} registry_work_t;

/* Connects if needed. 0 connected, or a negative errno. */
int registry_work_ensure(registry_work_t *w);
/* Runs the lease job just started, step by step (abandoned when Redis cannot be reached). */
void registry_work_lease(registry_work_t *w);
/* The table's queue, one credential batch, then the busy state and queue gauge. */
void registry_work_flush(registry_work_t *w);
/* Background work the next flush can do now (connected, and a reconciliation or credential work
 * in progress): the shell flushes again soon. The table's queue is flushed on input and ticks. */
bool registry_work_more(const registry_work_t *w);

#endif
