/* registry_work_io: the engines' batches over hiredis. See registry_work_io.h. */
#include "registry_work_io.h"

#include "clock.h"

int registry_work_ensure(registry_work_t *w)
{
    int rc = registry_redis_ensure(w->io);
    if (rc == 1)
        registry_table_on_redis_up(w->table);
    return rc < 0 ? rc : 0;
}

static int lease_replies(void *arg, const registry_reply_t *const *replies, size_t n,
                         uint64_t now_us)
{
    return registry_lease_on_replies(((registry_work_t *)arg)->lease, replies, n, now_us);
}

static int table_replies(void *arg, const registry_reply_t *const *replies, size_t n,
                         uint64_t now_us)
{
    return registry_table_on_replies(((registry_work_t *)arg)->table, replies, n, now_us);
}

static int creds_replies(void *arg, const registry_reply_t *const *replies, size_t n,
                         uint64_t now_us)
{
    return registry_creds_on_replies(((registry_work_t *)arg)->creds, replies, n, now_us);
}

void registry_work_lease(registry_work_t *w)
{
    const registry_batch_t *batch;
    while ((batch = registry_lease_batch(w->lease))) {
        if (registry_work_ensure(w) < 0) {
            registry_lease_cancel(w->lease);
            return;
        }
        registry_redis_exec(w->io, batch, lease_replies, w);
    }
}

void registry_work_flush(registry_work_t *w)
{
    for (size_t pass = registry_table_flush_passes(w->table); pass > 0; pass--) {
        if (registry_work_ensure(w) < 0) {
            registry_table_on_redis_unavailable(w->table);
            break;
        }
        const registry_batch_t *batch = registry_table_prepare(w->table, clock_now_us());
        if (!batch || registry_redis_exec(w->io, batch, table_replies, w) < 0)
            break;
    }
    if (registry_creds_pending(w->creds, clock_now_us()) && registry_redis_connected(w->io)) {
        const registry_batch_t *batch = registry_creds_prepare(w->creds, clock_now_us());
        if (batch)
            registry_redis_exec(w->io, batch, creds_replies, w);
    }
    registry_table_update_busy(w->table, registry_redis_connected(w->io), clock_now_us());
}

bool registry_work_more(const registry_work_t *w)
{
    return registry_redis_connected(w->io) && (registry_creds_pending(w->creds, clock_now_us()) ||
                                               registry_table_reconciling(w->table));
}
