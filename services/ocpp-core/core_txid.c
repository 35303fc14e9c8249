/* core_txid: the pool of OCPP 1.6 transaction ids of one core. See core_txid.h. */
#include "core_txid.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core_metrics.h"
#include "log.h"
#include "metrics.h"

#define RANGES_MAX 4  /* blocks kept at once (the current one and those answered after it) */
#define BACK_MAX   64 /* returned candidates kept (beyond: lost, a gap) */

struct core_txid {
    core_txid_config_t cfg;
    struct {
        uint64_t next, end; /* ids next .. end-1 left */
    } ranges[RANGES_MAX];
    size_t nranges;
    uint64_t back[BACK_MAX]; /* returned candidates, handed out first */
    size_t nback;
    uint64_t last_request; /* last request id given (request_base: none yet) */
    uint64_t pending;      /* request id of block_due() not reported by sent() yet */
    uint64_t in_flight;    /* request id sent and not answered (0: none) */
    uint64_t in_flight_until;
    uint64_t retry_at; /* no request before this (0: at once) */
    uint64_t backoff;  /* next wait after a failure */
    metrics_gauge_t *m_available;
};

static void blocks(const char *status)
{
    metrics_def_count(&CORE_METRICS[CORE_M_TXID_BLOCKS], status);
}

static void gauge(core_txid_t *self)
{
    metrics_gauge_set(self->m_available, (int64_t)core_txid_available(self));
}

core_txid_t *core_txid_new(const core_txid_config_t *cfg)
{
    core_txid_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (!self->cfg.block_size)
        self->cfg.block_size = 1;
    if (!self->cfg.backoff_min_us)
        self->cfg.backoff_min_us = 1;
    if (self->cfg.backoff_max_us < self->cfg.backoff_min_us)
        self->cfg.backoff_max_us = self->cfg.backoff_min_us;
    self->last_request = cfg->request_base;
    self->backoff = self->cfg.backoff_min_us;
    self->m_available = metrics_def_gauge(&CORE_METRICS[CORE_M_TXID_AVAILABLE], NULL);
    return self;
}

void core_txid_destroy(core_txid_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

size_t core_txid_available(const core_txid_t *self)
{
    size_t n = self->nback;
    for (size_t i = 0; i < self->nranges; i++)
        n += (size_t)(self->ranges[i].end - self->ranges[i].next);
    return n;
}

int core_txid_in_flight(const core_txid_t *self)
{
    return self->in_flight != 0;
}

/* the next request waits for the backoff, which doubles up to backoff_max */
static void back_off(core_txid_t *self, uint64_t now, uint64_t wait)
{
    self->retry_at = now + wait;
    uint64_t next = self->backoff * 2;
    self->backoff = next > self->cfg.backoff_max_us ? self->cfg.backoff_max_us : next;
}

/* drops the blocks used up */
static void compact(core_txid_t *self)
{
    while (self->nranges && self->ranges[0].next >= self->ranges[0].end) {
        memmove(&self->ranges[0], &self->ranges[1], (self->nranges - 1) * sizeof(self->ranges[0]));
        self->nranges--;
    }
}

/* below low water (or empty), with room for one more block */
static int wanted(core_txid_t *self)
{
    compact(self);
    size_t n = core_txid_available(self);
    return (n < self->cfg.low_water || n == 0) && self->nranges < RANGES_MAX;
}

int core_txid_block_due(core_txid_t *self, uint64_t now_us, uint64_t *request_id, uint32_t *count)
{
    if (self->in_flight) {
        if (now_us < self->in_flight_until)
            return 0;
        /* lost on the way, or Redis slow: ask again (a late range is still kept) */
        blocks("timeout");
        log_warn("TXID_BLOCK %" PRIu64 " unanswered in time: asking again", self->in_flight);
        self->in_flight = 0;
        self->retry_at = 0;
    }
    if (!wanted(self))
        return 0;
    if (now_us < self->retry_at)
        return 0;
    self->pending = ++self->last_request;
    *request_id = self->pending;
    *count = self->cfg.block_size;
    return 1;
}

void core_txid_sent(core_txid_t *self, int rc, uint64_t now_us)
{
    if (!self->pending)
        return;
    if (rc == 0) {
        self->in_flight = self->pending;
        self->in_flight_until = now_us + self->cfg.timeout_us;
    } else {
        blocks("refused");
        log_warn("TXID_BLOCK not sent (%s): asking again later", strerror(-rc));
        back_off(self, now_us, self->backoff);
    }
    self->pending = 0;
}

int core_txid_on_range(core_txid_t *self, uint64_t request_id, uint64_t first, uint32_t count,
                       int32_t error, uint64_t now_us)
{
    if (request_id <= self->cfg.request_base || request_id > self->last_request)
        return -ESTALE; /* of a former run of this core, or not ours */
    if (request_id == self->in_flight)
        self->in_flight = 0;
    if (error == 0 && (first == 0 || count == 0 || first > CORE_TXID_LIMIT ||
                       first + count - 1 > CORE_TXID_LIMIT))
        error = -EINVAL;
    if (error == 0) {
        blocks("ok");
        if (self->nranges < RANGES_MAX) {
            self->ranges[self->nranges].next = first;
            self->ranges[self->nranges].end = first + count;
            self->nranges++;
        } else {
            log_warn("TXID_RANGE %" PRIu64 "+%u not kept: %d blocks held already", first, count,
                     RANGES_MAX);
        }
        self->retry_at = 0;
        self->backoff = self->cfg.backoff_min_us;
        gauge(self);
        return 0;
    }
    switch (error) {
    case -EAGAIN:
        blocks("unavailable");
        log_warn("TXID_BLOCK %" PRIu64 ": Redis unreachable, asking again", request_id);
        break;
    case -EBUSY:
        blocks("busy");
        log_warn("TXID_BLOCK %" PRIu64 ": registry busy, asking again", request_id);
        break;
    case -ENOSPC:
        blocks("exhausted");
        log_error("TXID_BLOCK %" PRIu64 ": no 1.6 transaction id left (counter at 2^31-1): "
                  "StartTransactions fail once this core's %zu ids are used (docs/operations.md)",
                  request_id, core_txid_available(self));
        self->backoff = self->cfg.backoff_max_us;
        break;
    default:
        blocks("error");
        log_error("TXID_BLOCK %" PRIu64 " failed: %s (first %" PRIu64 ", count %u)", request_id,
                  strerror(-error), first, count);
        break;
    }
    back_off(self, now_us, self->backoff);
    return error;
}

uint64_t core_txid_take(core_txid_t *self)
{
    uint64_t id = 0;
    if (self->nback) {
        id = self->back[--self->nback];
    } else {
        compact(self);
        if (self->nranges)
            id = self->ranges[0].next++;
    }
    gauge(self);
    return id;
}

void core_txid_give_back(core_txid_t *self, uint64_t id)
{
    if (id && id <= CORE_TXID_LIMIT && self->nback < BACK_MAX)
        self->back[self->nback++] = id;
    gauge(self);
}

uint64_t core_txid_next_deadline(core_txid_t *self)
{
    if (self->in_flight)
        return self->in_flight_until;
    if (wanted(self))
        return self->retry_at ? self->retry_at : 1; /* 1: due now */
    return 0;
}
