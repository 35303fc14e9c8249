/* kafka-bridge: the only process that talks to Kafka (DESIGN §1, §5). Wiring only: the
 * configuration, the ZeroMQ sockets on a CZMQ loop, the Kafka I/O (bridge_kafka_io.c) and the
 * command lifecycle engine (command_flow.c, docs/commands.md).
 *
 * EVENT envelopes are relayed to Kafka by bridge_kafka_io (the delivery report becomes the
 * EVENT_ACK: never "persisted" when it was not). OWNER, DEDUP_RESULT, RESULT and TAKEOVER go to
 * the engine, which also gets the records read from commands-down, the ends of partition and the
 * delivery reports of what it produced, and a tick every COMMAND_FLOW_TICK_MS. The pod's own
 * partition is read once its partition count is known (metadata, retried every second). On
 * SIGTERM the readers stop, the input is drained, everything queued is flushed, and the offsets
 * of finished commands are committed. */
#include <stdio.h>
#include <stdlib.h>

#include <czmq.h>

#include "admin_http.h"
#include "bridge_config.h"
#include "bridge_kafka_io.h"
#include "bridge_metrics.h"
#include "channel.h"
#include "clock.h"
#include "command_flow.h"
#include "config.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "service.h"

static struct {
    bridge_config_t cfg;
    zsock_t *pull;
    zsock_t **cores;
    zsock_t *registry;
    admin_http_t *admin;
    bridge_kafka_t *kafka;
    command_flow_t *flow;
    bool commands_started;
} B;

static void dispatch(const envelope_t *env, void *arg)
{
    (void)arg;
    if (env->type == ENV_EVENT)
        bridge_kafka_relay_event(B.kafka, &env->u.event);
    else if (command_flow_on_envelope(B.flow, env, clock_now_us()) < 0)
        channel_reject("unexpected type", "the pod", env);
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)arg;
    channel_drain(sock, 4096, "the pod", dispatch, NULL);
    bridge_kafka_poll(B.kafka);
    return 0;
}

static int on_kafka_wake(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    (void)arg;
    bridge_kafka_wake(B.kafka);
    return 0;
}

/* Learns the partition count from the metadata and starts reading our partition; retried every
 * second until it works. */
static void commands_start(void)
{
    if (!B.cfg.commands_enabled || B.commands_started)
        return;
    int32_t n = bridge_kafka_partitions(B.kafka);
    if (n > 0 && command_flow_start(B.flow, n, clock_now_us()) == 0)
        B.commands_started = true;
}

static int on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    admin_http_heartbeat(B.admin);
    bridge_kafka_poll(B.kafka);
    commands_start();
    return 0;
}

static int on_command_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    bridge_kafka_read(B.kafka);
    command_flow_tick(B.flow, clock_now_us());
    bridge_kafka_gauges(B.kafka);
    return 0;
}

static command_flow_t *flow_new(void)
{
    const bridge_config_t *c = &B.cfg;
    command_flow_config_t fc = {
        .pod_id = c->pod_id,
        .commands_topic = c->commands_topic,
        .results_topic = c->results_topic,
        .dlq_topic = c->dlq_topic,
        .core_count = (uint32_t)c->core_count,
        .default_ttl_ms = c->command_default_ttl_ms,
        .max_hops = c->command_max_hops,
        .park_backoff_ms = c->command_park_backoff_ms,
        .park_backoff_max_ms = c->command_park_backoff_max_ms,
        .registry_timeout_ms = c->command_registry_timeout_ms,
        .dedup_ttl_ms = c->command_dedup_ttl_ms,
        .max_inflight = c->command_max_inflight,
        .core_grace_ms = c->command_core_grace_ms,
        /* tokens are also the request ids of DEDUP, whose Redis value is <pod>/<request_id>:
         * they must never repeat across restarts, or a replayed command could find "its own"
         * key */
        .first_token = clock_now_us(),
    };
    return command_flow_new(&fc, &BRIDGE_KAFKA_FLOW_OPS, B.kafka);
}

static void shutdown_all(zloop_t **loop_p)
{
    command_flow_destroy(&B.flow);
    bridge_kafka_destroy(&B.kafka);
    zloop_destroy(loop_p);
    channel_push_to_cores_destroy(&B.cores, B.cfg.core_count);
    zsock_destroy(&B.pull);
    zsock_destroy(&B.registry);
    admin_http_stop(&B.admin);
    metrics_shutdown();
    config_free(BRIDGE_CONFIG, BRIDGE_CONFIG_COUNT, &B.cfg);
}

int main(int argc, char **argv)
{
    int rc = service_setup("kafka-bridge", BRIDGE_CONFIG, BRIDGE_CONFIG_COUNT, &B.cfg, argc, argv,
                           &B.cfg.pod_id, &B.cfg.log_level);
    if (rc != SERVICE_RUN)
        return rc;

    B.admin = admin_http_start(B.cfg.admin_bind, (int)B.cfg.admin_port);
    if (!B.admin)
        return 1;
    bridge_metrics_define();

    zloop_t *loop = NULL;
    B.pull = channel_pull_at(B.cfg.ipc_dir, "bridge", (int)B.cfg.zmq_hwm);
    B.registry = channel_push_to(B.cfg.ipc_dir, "registry", (int)B.cfg.zmq_hwm);
    B.cores = channel_push_to_cores(B.cfg.ipc_dir, B.cfg.core_count, (int)B.cfg.zmq_hwm);
    if (B.pull && B.registry && B.cores) {
        bridge_kafka_args_t ka = {&B.cfg, B.registry, B.cores, B.admin};
        B.kafka = bridge_kafka_new(&ka);
    }
    if (B.kafka)
        B.flow = flow_new();
    if (!B.flow) {
        shutdown_all(&loop);
        return 1;
    }
    bridge_kafka_set_flow(B.kafka, B.flow);

    loop = zloop_new();
    service_zloop_signals(loop, NULL, NULL); /* SIGTERM: the loop ends, then the flush below */
    zloop_reader(loop, B.pull, on_input, NULL);
    zmq_pollitem_t wake = {NULL, bridge_kafka_wake_fd(B.kafka), ZMQ_POLLIN, 0};
    zloop_poller(loop, &wake, on_kafka_wake, NULL);
    zloop_timer(loop, 1000, 0, on_tick, NULL);
    zloop_timer(loop, COMMAND_FLOW_TICK_MS, 0, on_command_tick, NULL);
    commands_start();
    admin_http_set_ready(B.admin, true, NULL);
    log_info("bridge for pod %s, kafka %s", B.cfg.pod_id, B.cfg.kafka_brokers);
    zloop_start(loop);

    admin_http_set_ready(B.admin, false, "stopping");
    /* no new commands; waiting ones are read again after the restart. Then take what is still
     * in our input (RESULTs finish commands at a core) and flush everything (docs/PERFORMANCE.md
     * trap 7); commands at a core or not persisted keep their offsets uncommitted. */
    command_flow_stop(B.flow, clock_now_us());
    on_input(loop, B.pull, NULL);
    bridge_kafka_flush(B.kafka);
    command_flow_close(B.flow); /* readers commit the offsets stored */
    shutdown_all(&loop);
    return 0;
}
