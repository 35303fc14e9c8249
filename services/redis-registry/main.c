/* redis-registry: the only process that talks to Redis (DESIGN §6, docs/registry.md).
 *
 * Wiring only: configuration, the ZeroMQ sockets on a CZMQ loop, and two engines driven over
 * the hiredis shell (registry_redis_io.c):
 *  - registry_table: this pod's registrations and the work waiting for Redis (claims,
 *    re-assertions, releases, lookups, de-dup checks); every batch of envelopes drained from
 *    the input is flushed as pipelined round trips;
 *  - registry_lease: every tick, the lease refresh, dead pods, the sweeper and the takeovers.
 * Redis being down never blocks the other stages: the table answers what only reads at once and
 * keeps what writes until Redis is back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "admin_http.h"
#include "channel.h"
#include "clock.h"
#include "config.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "registry_config.h"
#include "registry_lease.h"
#include "registry_metrics.h"
#include "registry_redis_io.h"
#include "registry_table.h"

/* Commands per pipelined round trip of the table. */
#define BATCH_MAX 8192
/* Envelopes taken from the input per wake-up before a flush. */
#define DRAIN_MAX 4096
/* How long a send may wait for room before the envelope is counted as dropped. */
#define SEND_WAIT_MS 1000

static struct {
    registry_config_t cfg;
    registry_redis_t *io;
    registry_table_t *table;
    registry_lease_t *lease;
    zloop_t *loop;
    zsock_t *pull;
    zsock_t **cores;
    zsock_t *bridge;
    msgpack_sbuffer scratch;
    admin_http_t *admin;
} R;

/* ---- effects of the engines ------------------------------------------------------------- */

static int to_core(void *arg, uint32_t core, const envelope_t *env)
{
    (void)arg;
    if (core >= (uint32_t)R.cfg.core_count)
        return -EINVAL;
    return channel_send_counted(R.cores[core], env, &R.scratch, "core", SEND_WAIT_MS);
}

static int to_bridge(void *arg, const envelope_t *env)
{
    (void)arg;
    return channel_send_counted(R.bridge, env, &R.scratch, "bridge", SEND_WAIT_MS);
}

static void lease_expired(void *arg)
{
    (void)arg;
    registry_table_requeue_all(R.table, "our lease had expired");
}

static void on_superseded_message(void *arg, const char *payload, size_t len)
{
    (void)arg;
    registry_table_on_superseded(R.table, payload, len);
}

/* ---- running the engines' batches ------------------------------------------------------- */

/* Connects if needed; a fresh connection means Redis may have lost everything. */
static int redis_ensure(void)
{
    int rc = registry_redis_ensure(R.io);
    if (rc == 1)
        registry_table_on_redis_up(R.table);
    return rc < 0 ? rc : 0;
}

static int table_replies(void *arg, const registry_reply_t *const *replies, size_t n,
                         uint64_t now_us)
{
    (void)arg;
    return registry_table_on_replies(R.table, replies, n, now_us);
}

static int lease_replies(void *arg, const registry_reply_t *const *replies, size_t n,
                         uint64_t now_us)
{
    (void)arg;
    return registry_lease_on_replies(R.lease, replies, n, now_us);
}

/* Runs the lease job just started, step by step, one round trip each. */
static void lease_run(void)
{
    const registry_batch_t *batch;
    while ((batch = registry_lease_batch(R.lease))) {
        if (redis_ensure() < 0) {
            registry_lease_cancel(R.lease);
            return;
        }
        registry_redis_exec(R.io, batch, lease_replies, NULL);
    }
}

static void flush(void)
{
    for (size_t pass = registry_table_flush_passes(R.table); pass > 0; pass--) {
        if (redis_ensure() < 0) {
            registry_table_on_redis_unavailable(R.table);
            break;
        }
        const registry_batch_t *batch = registry_table_prepare(R.table, clock_now_us());
        if (!batch || registry_redis_exec(R.io, batch, table_replies, NULL) < 0)
            break;
    }
    registry_table_update_busy(R.table, registry_redis_connected(R.io), clock_now_us());
}

/* ---- loop ------------------------------------------------------------------------------- */

static void dispatch(const envelope_t *env, void *arg)
{
    (void)arg;
    if (env->type == ENV_TAKEOVER_DONE) {
        if (registry_lease_on_takeover_done(R.lease, &env->u.takeover_done, clock_now_us()) == 0)
            lease_run();
        return;
    }
    if (registry_table_on_envelope(R.table, env, clock_now_us()) == -ENOTSUP)
        channel_reject("unexpected type", "the pod", env);
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)arg;
    channel_drain(sock, DRAIN_MAX, "the pod", dispatch, NULL);
    flush();
    return 0;
}

/* Lease refresh, then the subscriber, then dead pods (only on a live connection), then
 * whatever waited for Redis. */
static int on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    admin_http_heartbeat(R.admin);
    registry_redis_tick(R.io);
    if (redis_ensure() == 0 &&
        registry_lease_refresh(R.lease, registry_table_size(R.table), clock_now_us()) == 0)
        lease_run();
    if (registry_redis_subscribe(R.io) == 1)
        registry_table_requeue_all(R.table, "subscribed to superseded notifications");
    if (registry_redis_connected(R.io) && registry_lease_check_pods(R.lease, clock_now_us()) == 0)
        lease_run();
    flush();
    return 0;
}

static int engines_new(void)
{
    registry_table_config_t tcfg = {.pod_id = R.cfg.pod_id,
                                    .core_count = (uint32_t)R.cfg.core_count,
                                    .queue_limit = (size_t)R.cfg.queue_limit,
                                    .batch_max = BATCH_MAX};
    registry_table_ops_t tops = {.to_core = to_core, .to_bridge = to_bridge};
    registry_lease_config_t lcfg = {.pod_id = R.cfg.pod_id,
                                    .lease_ttl_ms = R.cfg.lease_ttl_ms,
                                    .lease_refresh_ms = R.cfg.lease_refresh_ms,
                                    .sweep_batch = R.cfg.sweep_batch,
                                    .sweep_grace_ms = R.cfg.sweep_grace_ms,
                                    .events_topic = R.cfg.events_topic};
    registry_lease_ops_t lops = {.to_bridge = to_bridge, .lease_expired = lease_expired};
    R.table = registry_table_new(&tcfg, &tops, NULL);
    R.lease = registry_lease_new(&lcfg, &lops, NULL);
    R.io = registry_redis_new(&R.cfg, R.loop, R.admin, on_superseded_message, NULL);
    return R.table && R.lease && R.io ? 0 : -ENOMEM;
}

int main(int argc, char **argv)
{
    int rc = service_setup("redis-registry", REGISTRY_CONFIG, REGISTRY_CONFIG_COUNT, &R.cfg, argc,
                           argv, &R.cfg.pod_id, &R.cfg.log_level);
    if (rc != SERVICE_RUN)
        return rc;
    if (strlen(R.cfg.pod_id) >= 64 || strchr(R.cfg.pod_id, ' ')) {
        log_error("pod_id must be shorter than 64 bytes and contain no space");
        return 2;
    }
    R.admin = admin_http_start(R.cfg.admin_bind, (int)R.cfg.admin_port);
    if (!R.admin)
        return 1;
    registry_metrics_define();
    R.pull = channel_pull_at(R.cfg.ipc_dir, "registry", (int)R.cfg.zmq_hwm);
    R.bridge = channel_push_to(R.cfg.ipc_dir, "bridge", (int)R.cfg.zmq_hwm);
    R.cores = channel_push_to_cores(R.cfg.ipc_dir, R.cfg.core_count, (int)R.cfg.zmq_hwm);
    R.loop = zloop_new();
    if (!R.pull || !R.bridge || !R.cores || !R.loop || engines_new() < 0)
        return 1;
    msgpack_sbuffer_init(&R.scratch);

    /* SIGTERM ends the loop; the stop path below flushes and deletes the lease, so the other
     * pods take over at once */
    service_zloop_signals(R.loop, NULL, NULL);
    zloop_reader(R.loop, R.pull, on_input, NULL);
    zloop_timer(R.loop, (size_t)R.cfg.lease_refresh_ms, 0, on_tick, NULL);
    if (redis_ensure() == 0) {
        if (registry_lease_refresh(R.lease, 0, clock_now_us()) == 0)
            lease_run();
        if (registry_redis_subscribe(R.io) == 1)
            registry_table_requeue_all(R.table, "subscribed to superseded notifications");
    }
    if (registry_redis_connected(R.io))
        admin_http_set_ready(R.admin, true, NULL);
    char where[300];
    log_info("registry for pod %s, redis %s", R.cfg.pod_id,
             registry_redis_describe(R.io, where, sizeof(where)));
    zloop_start(R.loop);

    log_info("stopping: flushing and releasing the lease");
    admin_http_set_ready(R.admin, false, "stopping");
    flush();
    if (registry_redis_connected(R.io) && registry_lease_stop(R.lease) == 0)
        lease_run();
    registry_redis_destroy(&R.io);
    registry_lease_destroy(&R.lease);
    registry_table_destroy(&R.table);
    zloop_destroy(&R.loop);
    channel_push_to_cores_destroy(&R.cores, R.cfg.core_count);
    zsock_destroy(&R.pull);
    zsock_destroy(&R.bridge);
    msgpack_sbuffer_destroy(&R.scratch);
    admin_http_stop(&R.admin);
    metrics_shutdown();
    config_free(REGISTRY_CONFIG, REGISTRY_CONFIG_COUNT, &R.cfg);
    return 0;
}
