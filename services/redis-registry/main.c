/* redis-registry: the only process that talks to Redis (DESIGN §6, docs/registry.md).
 *
 * Wiring only: configuration, the ZeroMQ input, the loop, and three engines whose Redis work runs
 * on the hiredis shell (registry_work_io.c, registry_redis_io.c):
 *  - registry_table: this pod's registrations and the work waiting for Redis (claims,
 *    re-assertions, releases, lookups, de-dup checks, id-token lookups, reconciliation);
 *  - registry_lease: every tick, the lease refresh, dead pods, the sweeper and the takeovers;
 *  - registry_creds: the credential records, from Redis to every ws-edge.
 * Every envelope out goes through an outbox (registry_links_io.c): the loop never waits on a peer.
 * Its instance (start time, µs) is announced every second to every core, the bridge and every
 * known edge; the peers' instances (ANNOUNCE, HELLO) tell the engines when a peer restarted.
 * Redis being down never makes the pod unready and never blocks the other stages: the table
 * answers what only reads at once and keeps what writes until Redis is back. */
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
#include "registry_creds.h"
#include "registry_lease.h"
#include "registry_links_io.h"
#include "registry_metrics.h"
#include "registry_redis_io.h"
#include "registry_table.h"
#include "registry_work_io.h"

/* Commands per pipelined round trip of the table; of the credential engine. */
#define BATCH_MAX       8192
#define CRED_BATCH_MAX  1024
#define CRED_SCAN_COUNT 500
/* Envelopes taken from the input per wake-up before a flush. */
#define DRAIN_MAX 4096
/* Background work (a reconciliation, a credential sync) goes on this soon after a flush. */
#define MORE_MS 2

static struct {
    registry_config_t cfg;
    uint64_t instance; /* this process's start, announced to every peer */
    registry_work_t w; /* the Redis shell and the engines */
    registry_links_t *links;
    zloop_t *loop;
    zsock_t *pull;
    admin_http_t *admin;
    int more_id; /* the background-work timer, -1: none */
} R;

/* ---- effects of the engines ------------------------------------------------------------- */

static int to_core(void *arg, uint32_t core, const envelope_t *env)
{
    (void)arg;
    return registry_links_to_core(R.links, core, env);
}

static int to_bridge(void *arg, const envelope_t *env)
{
    (void)arg;
    return registry_links_to_bridge(R.links, env);
}

static int to_edge(void *arg, const char *edge_id, const envelope_t *env)
{
    (void)arg;
    return registry_links_to_edge(R.links, edge_id, env);
}

static void lease_expired(void *arg)
{
    (void)arg;
    registry_table_requeue_all(R.w.table, "our lease had expired");
}

static void on_message(void *arg, const char *channel, const char *payload, size_t len)
{
    (void)arg;
    if (strcmp(channel, REGISTRY_CRED_CHANNEL) == 0)
        registry_creds_on_changed(R.w.creds, payload, len);
    else
        registry_table_on_superseded(R.w.table, payload, len);
}

/* ---- loop ------------------------------------------------------------------------------- */

static int on_more(zloop_t *loop, int timer_id, void *arg);

/* The queue, then background work again soon if some is left. */
static void flush(void)
{
    registry_work_flush(&R.w);
    if (R.more_id < 0 && registry_work_more(&R.w))
        R.more_id = zloop_timer(R.loop, MORE_MS, 1, on_more, NULL);
}

static int on_more(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    R.more_id = -1;
    flush();
    return 0;
}

/* A peer's instance: a core's goes to the table (its registrations wait to be confirmed), the
 * bridge's to the lease engine (takeovers repeated). */
static void on_announce(const env_announce_t *m)
{
    if (env_str_eq(m->stage, "core"))
        registry_table_on_core_instance(R.w.table, m->index, m->instance, clock_now_us());
    else if (env_str_eq(m->stage, "bridge"))
        registry_lease_on_bridge_instance(R.w.lease, m->instance);
}

/* HELLO: the edge's route (opened or renewed), then its full sync if it is new. */
static void on_hello(const env_hello_t *m)
{
    char id[64], endpoint[256];
    env_str_copy(m->edge_id, id, sizeof(id));
    env_str_copy(m->endpoint, endpoint, sizeof(endpoint));
    int rc = registry_links_edge_route(R.links, id, endpoint);
    if (rc == 0)
        rc = registry_creds_on_hello(R.w.creds, m, clock_now_us());
    if (rc < 0)
        channel_reject(rc == -ENOSPC ? "too many edges" : "bad hello", "ws-edge", NULL);
}

static void dispatch(const envelope_t *env, void *arg)
{
    (void)arg;
    switch (env->type) {
    case ENV_TAKEOVER_DONE:
        registry_lease_on_takeover_done(R.w.lease, &env->u.takeover_done, clock_now_us());
        return;
    case ENV_ANNOUNCE:
        on_announce(&env->u.announce);
        return;
    case ENV_HELLO:
        on_hello(&env->u.hello);
        return;
    case ENV_CRED_USED:
        registry_creds_on_cred_used(R.w.creds, &env->u.cred_used);
        return;
    default:
        if (registry_table_on_envelope(R.w.table, env, clock_now_us()) == -ENOTSUP)
            channel_reject("unexpected type", "the pod", env);
    }
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)arg;
    channel_drain(sock, DRAIN_MAX, "the pod", dispatch, NULL);
    flush();
    return 0;
}

/* Announce, lease refresh, the subscriber, dead pods (only on a live connection), the engines'
 * timers, then whatever waited for Redis. */
static int on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    uint64_t now = clock_now_us();
    admin_http_heartbeat(R.admin);
    registry_links_announce(R.links, R.instance);
    registry_redis_tick(R.w.io);
    if (registry_work_ensure(&R.w) == 0 &&
        registry_lease_refresh(R.w.lease, registry_table_size(R.w.table), now) == 0)
        registry_work_lease(&R.w);
    if (registry_redis_subscribe(R.w.io) == 1) {
        registry_table_requeue_all(R.w.table, "subscribed to superseded notifications");
        registry_creds_resync_all(R.w.creds, "subscribed to credential changes");
    }
    if (registry_redis_connected(R.w.io) && registry_lease_check_pods(R.w.lease, now) == 0)
        registry_work_lease(&R.w);
    registry_table_tick(R.w.table, registry_redis_connected(R.w.io), now);
    registry_creds_tick(R.w.creds, now);
    flush();
    return 0;
}

static int engines_new(void)
{
    registry_table_config_t tcfg = {.pod_id = R.cfg.pod_id,
                                    .core_count = (uint32_t)R.cfg.core_count,
                                    .queue_limit = (size_t)R.cfg.queue_limit,
                                    .batch_max = BATCH_MAX,
                                    .events_topic = R.cfg.events_topic,
                                    .reconcile_grace_ms = R.cfg.reconcile_grace_ms,
                                    .reconcile_interval_ms = R.cfg.reconcile_interval_ms,
                                    .epoch_ttl_ms = R.cfg.epoch_ttl_ms};
    registry_table_ops_t tops = {.to_core = to_core, .to_bridge = to_bridge};
    registry_lease_config_t lcfg = {.pod_id = R.cfg.pod_id,
                                    .lease_ttl_ms = R.cfg.lease_ttl_ms,
                                    .lease_refresh_ms = R.cfg.lease_refresh_ms,
                                    .sweep_batch = R.cfg.sweep_batch,
                                    .sweep_grace_ms = R.cfg.sweep_grace_ms,
                                    .orphan_forget_ms = R.cfg.orphan_forget_ms,
                                    .epoch_ttl_ms = R.cfg.epoch_ttl_ms,
                                    .events_topic = R.cfg.events_topic};
    registry_lease_ops_t lops = {.to_bridge = to_bridge, .lease_expired = lease_expired};
    registry_creds_config_t ccfg = {.rescan_ms = R.cfg.cred_rescan_ms,
                                    .scan_count = CRED_SCAN_COUNT,
                                    .batch_max = CRED_BATCH_MAX,
                                    .pending_max = CRED_BATCH_MAX};
    registry_creds_ops_t cops = {.to_edge = to_edge};
    R.w.table = registry_table_new(&tcfg, &tops, NULL);
    R.w.lease = registry_lease_new(&lcfg, &lops, NULL);
    R.w.creds = registry_creds_new(&ccfg, &cops, NULL);
    R.w.io = registry_redis_new(&R.cfg, R.loop, on_message, NULL);
    R.links = registry_links_new(&R.cfg, R.loop);
    return R.w.table && R.w.lease && R.w.creds && R.w.io && R.links ? 0 : -ENOMEM;
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
    R.instance = clock_now_us();
    R.more_id = -1;
    R.admin = admin_http_start(R.cfg.admin_bind, (int)R.cfg.admin_port);
    if (!R.admin)
        return 1;
    registry_metrics_define();
    R.pull = channel_pull_at(R.cfg.ipc_dir, "registry", (int)R.cfg.zmq_hwm);
    R.loop = zloop_new();
    if (!R.pull || !R.loop || engines_new() < 0)
        return 1;

    /* SIGTERM ends the loop; the stop path below flushes and deletes the lease, so the other
     * pods take over at once */
    service_zloop_signals(R.loop, NULL, NULL);
    zloop_reader(R.loop, R.pull, on_input, NULL);
    zloop_timer(R.loop, (size_t)R.cfg.lease_refresh_ms, 0, on_tick, NULL);
    registry_links_announce(R.links, R.instance);
    if (registry_work_ensure(&R.w) == 0) {
        if (registry_lease_refresh(R.w.lease, 0, clock_now_us()) == 0)
            registry_work_lease(&R.w);
        if (registry_redis_subscribe(R.w.io) == 1)
            registry_table_requeue_all(R.w.table, "subscribed to superseded notifications");
    }
    /* ready once started, Redis or not: its health is in metrics and alerts (docs/registry.md) */
    admin_http_set_ready(R.admin, true, NULL);
    char where[300];
    log_info("registry for pod %s, instance %" PRIu64 ", redis %s", R.cfg.pod_id, R.instance,
             registry_redis_describe(R.w.io, where, sizeof(where)));
    zloop_start(R.loop);

    log_info("stopping: flushing and releasing the lease");
    admin_http_set_ready(R.admin, false, "stopping");
    registry_work_flush(&R.w);
    if (registry_redis_connected(R.w.io) && registry_lease_stop(R.w.lease) == 0)
        registry_work_lease(&R.w);
    registry_links_destroy(&R.links);
    registry_redis_destroy(&R.w.io);
    registry_creds_destroy(&R.w.creds);
    registry_lease_destroy(&R.w.lease);
    registry_table_destroy(&R.w.table);
    zloop_destroy(&R.loop);
    zsock_destroy(&R.pull);
    admin_http_stop(&R.admin);
    metrics_shutdown();
    config_free(REGISTRY_CONFIG, REGISTRY_CONFIG_COUNT, &R.cfg);
    return 0;
}
