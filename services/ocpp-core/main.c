/* ocpp-core: the shell of the OCPP stage (DESIGN §1, §3; docs/ocpp-core.md).
 *
 * Configuration, the ZeroMQ sockets on a CZMQ loop, and the calls into the engine core_conn,
 * which holds every rule. Envelopes from the PULL socket go to core_conn_on_envelope(); the
 * engine's effects come back through the ops below: an envelope to an edge (one outbox per edge
 * id, opened at the edge's HELLO), to kafka-bridge or to redis-registry. Every send goes through
 * an outbox (common/outbox.h) with the policy the engine gives, so the loop never waits on a
 * peer: what a full peer cannot take yet waits in the outbox, flushed by a short timer while
 * anything waits. One loop timer is armed at the engine's next deadline (which includes the
 * ANNOUNCE every second); the first tick, at start, announces this instance. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/random.h>

#include <czmq.h>

#include "admin_http.h"
#include "channel.h"
#include "clock.h"
#include "config.h"
#include "core_config.h"
#include "core_conn.h"
#include "core_metrics.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "service.h"

#define FLUSH_MS 5 /* how often outboxes are retried while something waits in one */

static struct {
    core_config_t cfg;
    zsock_t *pull;
    outbox_t *bridge;
    outbox_t *registry;
    zhashx_t *edges; /* edge id -> outbox_t* */
    admin_http_t *admin;
    core_conn_t *engine;
    zloop_t *loop;
    int timer_id;      /* the deadline timer, -1: none armed */
    uint64_t armed_at; /* its deadline */
    int flush_id;      /* the outbox timer while something waits, -1: none */
} S = {.timer_id = -1, .flush_id = -1};

/* ---- effects of the engine ---------------------------------------------------------------- */

static int on_flush(zloop_t *loop, int timer_id, void *arg);

static void flush_later(void)
{
    if (S.flush_id < 0)
        S.flush_id = zloop_timer(S.loop, FLUSH_MS, 0, on_flush, NULL);
}

static int send_envelope(void *arg, core_peer_t to, const char *edge_id, const envelope_t *env,
                         outbox_policy_t policy)
{
    (void)arg;
    outbox_t *ob = to == CORE_TO_BRIDGE     ? S.bridge
                   : to == CORE_TO_REGISTRY ? S.registry
                                            : zhashx_lookup(S.edges, edge_id);
    if (!ob)
        return -ENOENT;
    int rc = outbox_send(ob, env, policy);
    if (outbox_queued(ob))
        flush_later();
    return rc;
}

static outbox_t *outbox_to(zsock_t *push, const char *to)
{
    return push ? outbox_new(&push, to, (size_t)S.cfg.outbox_max_bytes) : NULL;
}

static int open_edge(void *arg, const char *edge_id, const char *endpoint)
{
    (void)arg;
    outbox_t *ob = outbox_to(channel_push_connect(endpoint, (int)S.cfg.zmq_hwm), "edge");
    if (!ob)
        return errno ? -errno : -EINVAL;
    zhashx_update(S.edges, edge_id, ob);
    return 0;
}

static void edge_outbox_free(void **item)
{
    outbox_destroy((outbox_t **)item);
}

/* Retries every outbox; the timer ends once nothing waits. */
static int on_flush(zloop_t *loop, int timer_id, void *arg)
{
    (void)arg;
    size_t left = outbox_flush(S.bridge) + outbox_flush(S.registry);
    for (outbox_t *ob = zhashx_first(S.edges); ob; ob = zhashx_next(S.edges))
        left += outbox_flush(ob);
    if (!left && loop) {
        zloop_timer_end(loop, timer_id);
        S.flush_id = -1;
    }
    return 0;
}

/* ---- the loop --------------------------------------------------------------------------- */

static int on_deadline(zloop_t *loop, int timer_id, void *arg);

/* One timer at the engine's next deadline (0: none), re-armed only when that changes. */
static void arm(uint64_t next)
{
    if (next == S.armed_at && (S.timer_id >= 0 || !next))
        return;
    if (S.timer_id >= 0)
        zloop_timer_end(S.loop, S.timer_id);
    S.timer_id = -1;
    S.armed_at = next;
    if (!next)
        return;
    uint64_t now = clock_now_us();
    size_t ms = next > now ? (size_t)((next - now + 999) / 1000) : 1;
    S.timer_id = zloop_timer(S.loop, ms, 1, on_deadline, NULL);
}

static int on_deadline(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    S.timer_id = -1; /* a one-shot timer: zloop removes it */
    arm(core_conn_tick(S.engine, clock_now_us()));
    return 0;
}

static void dispatch(const envelope_t *env, void *arg)
{
    (void)arg;
    core_conn_on_envelope(S.engine, env, clock_now_us());
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)arg;
    outbox_batch_begin(); /* what this wake-up sends: one ZeroMQ message per peer */
    channel_drain(sock, 1024, "the pod", dispatch, NULL);
    arm(core_conn_tick(S.engine, clock_now_us()));
    if (outbox_batch_end() > 0)
        flush_later();
    return 0;
}

static int on_heartbeat(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    admin_http_heartbeat(S.admin);
    return 0;
}

static core_conn_t *engine_new(void)
{
    uint64_t instance = clock_now_us(); /* this process's instance (DESIGN-12-13) */
    core_conn_config_t ec = {
        .pod_id = S.cfg.pod_id,
        .core_index = (uint32_t)S.cfg.core_index,
        .instance = instance,
        .announce_interval_ms = 1000,
        .events_topic = S.cfg.events_topic,
        .heartbeat_interval_s = S.cfg.heartbeat_interval_s,
        .event_heartbeat = S.cfg.event_heartbeat,
        .auth_policy = S.cfg.auth_policy,
        .auth_list = S.cfg.auth_list,
        .tag_cache_ms = (uint64_t)S.cfg.tag_cache_ms,
        .tag_negative_cache_ms = (uint64_t)S.cfg.tag_negative_cache_ms,
        .tag_cache_max = (size_t)S.cfg.tag_cache_max,
        .tag_timeout_ms = (uint64_t)S.cfg.tag_timeout_ms,
        .tag_fallback_accept = strcmp(S.cfg.tag_fallback, "accept") == 0,
        .command_timeout_ms = (uint64_t)S.cfg.command_timeout_ms,
        .command_queue_max = (size_t)S.cfg.command_queue_max,
        .persist_timeout_ms = (uint64_t)S.cfg.persist_timeout_ms,
        .event_raw_payload = S.cfg.event_raw_payload,
        .unrouted_queue_max = (size_t)S.cfg.unrouted_queue_max,
        .unrouted_queue_ms = (uint64_t)S.cfg.unrouted_queue_ms,
        .txid_block_size = (uint32_t)S.cfg.txid_block_size,
        .txid_low_water = (uint32_t)S.cfg.txid_low_water,
        .txid_ttl_ms = (uint64_t)S.cfg.txid_ttl_ms,
        .txid_claim_timeout_ms = (uint64_t)S.cfg.txid_claim_timeout_ms,
        .txid_claim_budget_ms = (uint64_t)S.cfg.txid_claim_budget_ms,
        /* tokens unique across restarts of this core: late acks of a former run match nothing */
        .token_base = instance << 8,
    };
    /* the key of event ids and traces unique to an occurrence: never the same in two runs */
    if (getrandom(ec.id_key, sizeof(ec.id_key), 0) != (ssize_t)sizeof(ec.id_key)) {
        log_error("getrandom failed: %s", strerror(errno));
        return NULL;
    }
    core_conn_ops_t ops = {.send = send_envelope, .open_edge = open_edge};
    return core_conn_new(&ec, &ops, NULL);
}

int main(int argc, char **argv)
{
    int rc = service_setup("ocpp-core", CORE_CONFIG, CORE_CONFIG_COUNT, &S.cfg, argc, argv,
                           &S.cfg.pod_id, &S.cfg.log_level);
    if (rc != SERVICE_RUN)
        return rc;
    if (S.cfg.core_index >= S.cfg.core_count) {
        fprintf(stderr,
                "ocpp-core: invalid value '%" PRId64 "' for core_index: expected 0 to "
                "core_count-1 (%" PRId64 ")\n",
                S.cfg.core_index, S.cfg.core_count - 1);
        config_free(CORE_CONFIG, CORE_CONFIG_COUNT, &S.cfg);
        return 2;
    }

    S.admin = admin_http_start(S.cfg.admin_bind, (int)S.cfg.admin_port);
    if (!S.admin)
        return 1;
    metrics_define(CORE_METRICS, CORE_M_COUNT);

    char name[64];
    snprintf(name, sizeof(name), "core-%" PRId64, S.cfg.core_index);
    S.pull = channel_pull_at(S.cfg.ipc_dir, name, (int)S.cfg.zmq_hwm);
    S.bridge = outbox_to(channel_push_to(S.cfg.ipc_dir, "bridge", (int)S.cfg.zmq_hwm), "bridge");
    S.registry =
        outbox_to(channel_push_to(S.cfg.ipc_dir, "registry", (int)S.cfg.zmq_hwm), "registry");
    S.edges = zhashx_new();
    zhashx_set_destructor(S.edges, edge_outbox_free);
    S.engine = engine_new();
    if (!S.pull || !S.bridge || !S.registry || !S.engine)
        return 1;

    S.loop = zloop_new();
    service_zloop_signals(S.loop, NULL, NULL);
    zloop_reader(S.loop, S.pull, on_input, NULL);
    zloop_timer(S.loop, 1000, 0, on_heartbeat, NULL);
    arm(core_conn_tick(S.engine, clock_now_us())); /* ANNOUNCE at once */
    /* ready once started: Redis or Kafka being down never makes the pod unready */
    admin_http_set_ready(S.admin, true, NULL);
    log_info("core %" PRId64 " of %" PRId64 " ready", S.cfg.core_index, S.cfg.core_count);
    zloop_start(S.loop);

    log_info("stopping");
    admin_http_set_ready(S.admin, false, "stopping");
    zloop_destroy(&S.loop);
    core_conn_destroy(&S.engine);
    on_flush(NULL, -1, NULL); /* once more: what still waits is dropped and counted */
    zhashx_destroy(&S.edges);
    zsock_destroy(&S.pull);
    outbox_destroy(&S.bridge);
    outbox_destroy(&S.registry);
    admin_http_stop(&S.admin);
    metrics_shutdown();
    config_free(CORE_CONFIG, CORE_CONFIG_COUNT, &S.cfg);
    return 0;
}
