/* ocpp-core: the shell of the OCPP stage (DESIGN §1, §3; docs/ocpp-core.md).
 *
 * Configuration, the ZeroMQ sockets on a CZMQ loop, and the calls into the engine core_conn,
 * which holds every rule. Envelopes from the PULL socket go to core_conn_on_envelope(); the
 * engine's effects come back through the ops below: an envelope to an edge (one PUSH socket per
 * edge id, opened at the edge's HELLO), to kafka-bridge or to redis-registry. Every send goes
 * through channel_send_counted(), which blocks up to send_timeout_ms on a full stage (flow
 * control: core stops reading its input instead of dropping) and counts and logs a drop past
 * that bound. One loop timer is armed at the engine's next deadline. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#include "service.h"

static struct {
    core_config_t cfg;
    zsock_t *pull;
    zsock_t *bridge;
    zsock_t *registry;
    zhashx_t *edges; /* edge id -> zsock_t* PUSH */
    msgpack_sbuffer scratch;
    admin_http_t *admin;
    core_conn_t *engine;
    zloop_t *loop;
    int timer_id;      /* the deadline timer, -1: none armed */
    uint64_t armed_at; /* its deadline */
} S = {.timer_id = -1};

/* ---- effects of the engine ---------------------------------------------------------------- */

static int send_envelope(void *arg, core_peer_t to, const char *edge_id, const envelope_t *env)
{
    (void)arg;
    static const char *const names[] = {"edge", "bridge", "registry"};
    zsock_t *sock = to == CORE_TO_BRIDGE     ? S.bridge
                    : to == CORE_TO_REGISTRY ? S.registry
                                             : zhashx_lookup(S.edges, edge_id);
    if (!sock)
        return -ENOENT;
    return channel_send_counted(sock, env, &S.scratch, names[to], (int)S.cfg.send_timeout_ms);
}

static int open_edge(void *arg, const char *edge_id, const char *endpoint)
{
    (void)arg;
    zsock_t *push = channel_push_connect(endpoint, (int)S.cfg.zmq_hwm);
    if (!push)
        return errno ? -errno : -EINVAL;
    zhashx_update(S.edges, edge_id, push);
    return 0;
}

static void edge_socket_free(void **item)
{
    zsock_destroy((zsock_t **)item);
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
    channel_drain(sock, 1024, "the pod", dispatch, NULL);
    arm(core_conn_tick(S.engine, clock_now_us()));
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
    core_conn_config_t ec = {
        .pod_id = S.cfg.pod_id,
        .core_index = (uint32_t)S.cfg.core_index,
        .events_topic = S.cfg.events_topic,
        .heartbeat_interval_s = S.cfg.heartbeat_interval_s,
        .auth_policy = S.cfg.auth_policy,
        .auth_list = S.cfg.auth_list,
        .command_timeout_ms = (uint64_t)S.cfg.command_timeout_ms,
        .command_queue_max = (size_t)S.cfg.command_queue_max,
        .persist_timeout_ms = (uint64_t)S.cfg.persist_timeout_ms,
        .event_raw_payload = S.cfg.event_raw_payload,
        /* tokens unique across restarts of this core: late acks of a former run match nothing */
        .token_base = clock_now_us() << 8,
    };
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
    S.bridge = channel_push_to(S.cfg.ipc_dir, "bridge", (int)S.cfg.zmq_hwm);
    S.registry = channel_push_to(S.cfg.ipc_dir, "registry", (int)S.cfg.zmq_hwm);
    S.edges = zhashx_new();
    zhashx_set_destructor(S.edges, edge_socket_free);
    msgpack_sbuffer_init(&S.scratch);
    S.engine = engine_new();
    if (!S.pull || !S.bridge || !S.registry || !S.engine)
        return 1;

    S.loop = zloop_new();
    service_zloop_signals(S.loop, NULL, NULL);
    zloop_reader(S.loop, S.pull, on_input, NULL);
    zloop_timer(S.loop, 1000, 0, on_heartbeat, NULL);
    admin_http_set_ready(S.admin, true, NULL);
    log_info("core %" PRId64 " of %" PRId64 " ready", S.cfg.core_index, S.cfg.core_count);
    zloop_start(S.loop);

    log_info("stopping");
    admin_http_set_ready(S.admin, false, "stopping");
    zloop_destroy(&S.loop);
    core_conn_destroy(&S.engine);
    zhashx_destroy(&S.edges);
    zsock_destroy(&S.pull);
    zsock_destroy(&S.bridge);
    zsock_destroy(&S.registry);
    msgpack_sbuffer_destroy(&S.scratch);
    admin_http_stop(&S.admin);
    metrics_shutdown();
    config_free(CORE_CONFIG, CORE_CONFIG_COUNT, &S.cfg);
    return 0;
}
