/* kafka-bridge: the only process that talks to Kafka (DESIGN §1, §5). Wiring only: the
 * configuration, the ZeroMQ sockets and outboxes on a CZMQ loop, the Kafka I/O
 * (bridge_kafka_io.c) and the command lifecycle engine (command_flow.c, docs/commands.md).
 *
 * EVENT envelopes are relayed to Kafka by bridge_kafka_io (the delivery report becomes the
 * EVENT_ACK: never "persisted" when it was not). When the producer queue is full the EVENT is
 * kept and the input is no longer read (its zloop reader ends) until delivery reports made room;
 * the loop never waits, so ticks, /healthz and the command flow go on. OWNER, DEDUP_RESULT,
 * RESULT, TAKEOVER and ANNOUNCE go to the engine, which also gets the records read from
 * commands-down, the ends of partition and the delivery reports of what it produced, and a tick
 * every COMMAND_FLOW_TICK_MS (it announces this bridge's instance to every core and the registry
 * every second). The pod's own partition is read once its partition count is known (metadata,
 * retried every second). On SIGTERM the readers stop, the input is drained, everything queued is
 * flushed, and the offsets of finished commands are committed. */
#include <errno.h>
#include <inttypes.h>
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
#include "outbox.h"
#include "service.h"

static struct {
    bridge_config_t cfg;
    uint64_t instance; /* start time, us: ANNOUNCE, and the first command token */
    zloop_t *loop;
    zsock_t *pull;
    outbox_t **cores;
    outbox_t *registry;
    admin_http_t *admin;
    bridge_kafka_t *kafka;
    command_flow_t *flow;
    bool commands_started;
    bool input_held; /* an EVENT waits for room in the producer queue: input not read */
} B;

static void dispatch(const envelope_t *env, void *arg)
{
    (void)arg;
    if (env->type == ENV_EVENT) {
        if (bridge_kafka_relay_event(B.kafka, &env->u.event) == -EBUSY)
            B.input_held = true;
        return;
    }
    int rc = command_flow_on_envelope(B.flow, env, clock_now_us());
    if (rc < 0)
        channel_reject(rc == -ENOTSUP ? "unexpected type" : "bad field", "the pod", env);
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg);

/* Takes input one envelope at a time, so that nothing is read past an EVENT the producer had no
 * room for; then stops reading until bridge_kafka_resume() says there is room. */
static void drain_input(void)
{
    for (int i = 0; i < 4096 && !B.input_held; i++)
        if (channel_drain(B.pull, 1, "the pod", dispatch, NULL) == 0)
            break;
    if (B.input_held && B.loop)
        zloop_reader_end(B.loop, B.pull);
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)sock;
    (void)arg;
    outbox_batch_begin(); /* the EVENT_ACKs of this wake-up: one ZeroMQ message per core */
    drain_input();
    bridge_kafka_poll(B.kafka, 0);
    outbox_batch_end(); /* what waits for a full core is retried by bridge_kafka_tick */
    return 0;
}

/* Delivery reports were served: kept EVENTs go first, then the input is read again. */
static void input_resume(void)
{
    if (B.input_held && bridge_kafka_resume(B.kafka)) {
        B.input_held = false;
        zloop_reader(B.loop, B.pull, on_input, NULL);
    }
}

static int on_kafka_wake(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    (void)arg;
    outbox_batch_begin();
    bridge_kafka_wake(B.kafka);
    input_resume();
    outbox_batch_end();
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

/* A change of the partition count seen by the metadata refresh moves the pod's readers. */
static void commands_follow_count(void)
{
    int32_t n = B.commands_started ? bridge_kafka_partitions_seen(B.kafka) : 0;
    if (n > 0)
        command_flow_on_partitions(B.flow, n, clock_now_us());
}

static int on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    admin_http_heartbeat(B.admin);
    bridge_kafka_poll(B.kafka, 0);
    commands_start();
    commands_follow_count();
    return 0;
}

static int on_command_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    bridge_kafka_read(B.kafka);
    command_flow_tick(B.flow, clock_now_us());
    bridge_kafka_tick(B.kafka);
    input_resume();
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
        .repartition_grace_ms = c->command_repartition_grace_ms,
        /* tokens are also the request ids of DEDUP, whose Redis value is <pod>/<request_id>:
         * they must never repeat across restarts, or a replayed command could find "its own"
         * key; and a RESULT for a token below it is one of an earlier instance */
        .first_token = B.instance,
        .instance = B.instance,
        .announce_interval_ms = 1000,
    };
    return command_flow_new(&fc, &BRIDGE_KAFKA_FLOW_OPS, B.kafka);
}

/* The pod's sockets: PULL for the input, an outbox to every core and to the registry. */
static int sockets_open(void)
{
    size_t max = (size_t)B.cfg.outbox_max_bytes;
    B.pull = channel_pull_at(B.cfg.ipc_dir, "bridge", (int)B.cfg.zmq_hwm);
    zsock_t *reg = channel_push_to(B.cfg.ipc_dir, "registry", (int)B.cfg.zmq_hwm);
    B.registry = reg ? outbox_new(&reg, "registry", max) : NULL;
    zsock_t **socks = channel_push_to_cores(B.cfg.ipc_dir, B.cfg.core_count, (int)B.cfg.zmq_hwm);
    B.cores = socks ? calloc((size_t)B.cfg.core_count, sizeof(*B.cores)) : NULL;
    bool ok = B.pull && B.registry && B.cores;
    for (int64_t i = 0; ok && i < B.cfg.core_count; i++)
        ok = (B.cores[i] = outbox_new(&socks[i], "core", max)) != NULL;
    channel_push_to_cores_destroy(&socks, B.cfg.core_count); /* what outboxes did not take */
    return ok ? 0 : -1;
}

static void shutdown_all(void)
{
    command_flow_destroy(&B.flow);
    bridge_kafka_destroy(&B.kafka);
    zloop_destroy(&B.loop);
    for (int64_t i = 0; B.cores && i < B.cfg.core_count; i++)
        outbox_destroy(&B.cores[i]);
    free(B.cores);
    B.cores = NULL;
    zsock_destroy(&B.pull);
    outbox_destroy(&B.registry);
    admin_http_stop(&B.admin);
    metrics_shutdown();
    config_free(BRIDGE_CONFIG, BRIDGE_CONFIG_COUNT, &B.cfg);
}

/* SIGTERM: what is still in the input is taken (RESULTs finish commands at a core), serving
 * delivery reports while the producer queue is full, for at most flush_timeout_ms. */
static void drain_at_stop(void)
{
    uint64_t until = clock_now_us() + (uint64_t)B.cfg.flush_timeout_ms * 1000;
    do {
        drain_input();
        if (!B.input_held)
            break;
        bridge_kafka_poll(B.kafka, 100);
        B.input_held = !bridge_kafka_resume(B.kafka);
    } while (clock_now_us() < until);
}

int main(int argc, char **argv)
{
    int rc = service_setup("kafka-bridge", BRIDGE_CONFIG, BRIDGE_CONFIG_COUNT, &B.cfg, argc, argv,
                           &B.cfg.pod_id, &B.cfg.log_level);
    if (rc != SERVICE_RUN)
        return rc;
    B.instance = clock_now_us();

    B.admin = admin_http_start(B.cfg.admin_bind, (int)B.cfg.admin_port);
    if (!B.admin)
        return 1;
    bridge_metrics_define();

    if (sockets_open() == 0) {
        bridge_kafka_args_t ka = {&B.cfg, B.registry, B.cores};
        B.kafka = bridge_kafka_new(&ka);
    }
    if (B.kafka)
        B.flow = flow_new();
    if (!B.flow) {
        shutdown_all();
        return 1;
    }
    bridge_kafka_set_flow(B.kafka, B.flow);

    B.loop = zloop_new();
    service_zloop_signals(B.loop, NULL, NULL); /* SIGTERM: the loop ends, then the flush below */
    zloop_reader(B.loop, B.pull, on_input, NULL);
    zmq_pollitem_t wake = {NULL, bridge_kafka_wake_fd(B.kafka), ZMQ_POLLIN, 0};
    zloop_poller(B.loop, &wake, on_kafka_wake, NULL);
    zloop_timer(B.loop, 1000, 0, on_tick, NULL);
    zloop_timer(B.loop, COMMAND_FLOW_TICK_MS, 0, on_command_tick, NULL);
    command_flow_tick(B.flow, clock_now_us()); /* ANNOUNCE at start */
    bridge_kafka_tick(B.kafka);
    commands_start();
    admin_http_set_ready(B.admin, true, NULL);
    log_info("bridge for pod %s (instance %" PRIu64 "), kafka %s", B.cfg.pod_id, B.instance,
             B.cfg.kafka_brokers);
    zloop_start(B.loop);

    admin_http_set_ready(B.admin, false, "stopping");
    /* no new commands; waiting ones are read again after the restart. Then take what is still
     * in our input (RESULTs finish commands at a core) and flush everything (docs/PERFORMANCE.md
     * trap 7); commands at a core or not persisted keep their offsets uncommitted. */
    command_flow_stop(B.flow, clock_now_us());
    zloop_destroy(&B.loop); /* drain_input() must not touch the loop's readers any more */
    drain_at_stop();
    bridge_kafka_flush(B.kafka);
    command_flow_close(B.flow); /* readers commit the offsets stored */
    shutdown_all();
    return 0;
}
