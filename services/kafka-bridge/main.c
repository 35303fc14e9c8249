/* kafka-bridge: the only process that talks to Kafka (DESIGN §1, §5).
 *
 * Wiring: configuration, the ZeroMQ sockets on a CZMQ loop, and one idempotent librdkafka
 * producer (acks=all) whose event queue wakes the loop through a pipe. EVENT and RESULT
 * envelopes become records; for an EVENT with a token, the delivery report becomes an
 * EVENT_ACK to the core that asked (persisted, or the error: never "persisted" when it was
 * not). A full producer queue blocks the input (flow control) instead of dropping. On
 * shutdown everything queued is flushed before exit. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <czmq.h>
#include <librdkafka/rdkafka.h>

#include "admin_http.h"
#include "bridge_config.h"
#include "channel.h"
#include "config.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"

/* What a delivery report must answer to. */
typedef struct {
    uint32_t core_id;
    uint64_t token;
    uint64_t queued_us;
} ack_t;

static struct {
    bridge_config_t cfg;
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;
    int wake[2];
    zsock_t *pull;
    zsock_t **cores;
    zsock_t *registry;
    msgpack_sbuffer scratch;
    admin_http_t *admin;
    metrics_counter_t *m_produced, *m_delivered, *m_failed, *m_queue_full;
    metrics_gauge_t *m_queue;
    metrics_histogram_t *m_latency;
} B;

static uint64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static void send_ack(uint32_t core_id, uint64_t token, int32_t status, const char *error)
{
    if (core_id >= (uint32_t)B.cfg.core_count)
        return;
    envelope_t env = {.type = ENV_EVENT_ACK};
    env.u.event_ack.token = token;
    env.u.event_ack.status = status;
    env.u.event_ack.error = env_str(error);
    msgpack_sbuffer_clear(&B.scratch);
    if (envelope_encode(&env, &B.scratch) < 0 ||
        channel_send_wait(B.cores[core_id], B.scratch.data, B.scratch.size, 1000) < 0) {
        /* core will time the event out and treat it as not persisted: safe, but say it */
        metrics_count("bridge_acks_dropped_total", "EVENT_ACKs core did not take within 1 s", NULL,
                      NULL);
        log_error("EVENT_ACK for token %" PRIu64 " dropped: core %u full", token, core_id);
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    (void)opaque;
    ack_t *ack = msg->_private;
    if (msg->err) {
        metrics_counter_add(B.m_failed, 1);
        metrics_count("bridge_delivery_errors_total", "records Kafka did not persist, by error",
                      "error", rd_kafka_err2name(msg->err));
        log_error("record to %s not persisted: %s", rd_kafka_topic_name(msg->rkt),
                  rd_kafka_err2str(msg->err));
    } else {
        metrics_counter_add(B.m_delivered, 1);
    }
    if (ack) {
        metrics_histogram_observe(B.m_latency, (double)(now_us() - ack->queued_us) / 1e6);
        send_ack(ack->core_id, ack->token, msg->err ? (int32_t)msg->err : 0,
                 msg->err ? rd_kafka_err2str(msg->err) : "");
        free(ack);
    }
}

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    log_write(level <= 3   ? LOG_ERROR
              : level <= 5 ? LOG_WARN
                           : LOG_INFO,
              NULL, NULL, "librdkafka %s: %s", fac, buf);
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    metrics_count("bridge_kafka_errors_total", "client-level Kafka errors, by error", "error",
                  rd_kafka_err2name((rd_kafka_resp_err_t)err));
    log_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Produce one record; waits (serving delivery reports) while the producer queue is full. */
static int produce(env_str_t topic, env_str_t key, const env_headers_t *headers, env_bin_t value,
                   ack_t *ack)
{
    char topic_name[256];
    env_str_copy(topic, topic_name, sizeof(topic_name));
    for (;;) {
        rd_kafka_headers_t *hdrs = NULL;
        if (headers && headers->count) {
            hdrs = rd_kafka_headers_new(headers->count);
            for (size_t i = 0; i < headers->count; i++)
                rd_kafka_header_add(
                    hdrs, headers->items[i].name.ptr, (ssize_t)headers->items[i].name.len,
                    headers->items[i].value.ptr, (ssize_t)headers->items[i].value.len);
        }
        rd_kafka_resp_err_t err =
            rd_kafka_producev(B.rk, RD_KAFKA_V_TOPIC(topic_name), RD_KAFKA_V_KEY(key.ptr, key.len),
                              RD_KAFKA_V_VALUE((void *)value.ptr, value.len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_OPAQUE(ack), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            metrics_counter_add(B.m_produced, 1);
            return 0;
        }
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            log_error("record to %s refused by the producer: %s", topic_name,
                      rd_kafka_err2str(err));
            metrics_count("bridge_delivery_errors_total", "records Kafka did not persist, by error",
                          "error", rd_kafka_err2name(err));
            if (ack) {
                send_ack(ack->core_id, ack->token, (int32_t)err, rd_kafka_err2str(err));
                free(ack);
            }
            return -EIO;
        }
        /* flow control: stop reading our input until Kafka drains (PERFORMANCE.md trap 7) */
        metrics_counter_add(B.m_queue_full, 1);
        rd_kafka_poll(B.rk, 100);
        admin_http_heartbeat(B.admin);
    }
}

static void on_event(const env_event_t *m)
{
    ack_t *ack = NULL;
    if (m->token) {
        ack = malloc(sizeof(*ack));
        if (!ack) {
            send_ack(m->core_id, m->token, -ENOMEM, "out of memory");
            return;
        }
        *ack = (ack_t){m->core_id, m->token, now_us()};
    }
    produce(m->topic, m->key, &m->headers, m->value, ack);
}

static void on_result(const env_result_t *m)
{
    env_headers_t h = {.count = 1};
    h.items[0] = (env_header_t){env_str("status"), m->status};
    produce(env_str(B.cfg.results_topic), m->command_id, &h, m->value, NULL);
}

static void dispatch(const uint8_t *data, size_t len)
{
    envelope_t env;
    int rc = envelope_decode(data, len, &env);
    if (rc < 0) {
        metrics_count("envelopes_rejected_total", "envelopes that could not be decoded", "reason",
                      envelope_strerror(rc));
        log_warn("rejected envelope: %s (%zu bytes)", envelope_strerror(rc), len);
        return;
    }
    switch (env.type) {
    case ENV_EVENT:
        on_event(&env.u.event);
        break;
    case ENV_RESULT:
        on_result(&env.u.result);
        break;
    case ENV_OWNER:
        log_debug("OWNER not handled yet"); /* command routing: kafka-bridge work (issue 6) */
        break;
    default:
        metrics_count("envelopes_rejected_total", "envelopes that could not be decoded", "reason",
                      "unexpected type");
        log_warn("unexpected envelope %s", envelope_type_name(env.type));
    }
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)arg;
    for (int i = 0; i < 4096; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (channel_recv(sock, &msg) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        dispatch(zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
    rd_kafka_poll(B.rk, 0);
    return 0;
}

static int on_kafka_wake(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)arg;
    char buf[256];
    while (read(item->fd, buf, sizeof(buf)) > 0) {
    }
    rd_kafka_poll(B.rk, 0);
    return 0;
}

static int on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    admin_http_heartbeat(B.admin);
    rd_kafka_poll(B.rk, 0);
    metrics_gauge_set(B.m_queue, rd_kafka_outq_len(B.rk));
    return 0;
}

static int kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        log_error("kafka setting %s=%s refused: %s", name, value, err);
        return -1;
    }
    return 0;
}

static rd_kafka_t *producer_new(void)
{
    char num[32];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = 0;
    bad |= kafka_set(conf, "bootstrap.servers", B.cfg.kafka_brokers);
    bad |= kafka_set(conf, "enable.idempotence", "true"); /* acks=all, ordered retries */
    bad |= kafka_set(conf, "acks", "all");
    snprintf(num, sizeof(num), "%" PRId64, B.cfg.kafka_linger_ms);
    bad |= kafka_set(conf, "linger.ms", num);
    bad |= kafka_set(conf, "compression.codec", B.cfg.kafka_compression);
    snprintf(num, sizeof(num), "%" PRId64, B.cfg.kafka_batch_messages);
    bad |= kafka_set(conf, "batch.num.messages", num);
    snprintf(num, sizeof(num), "%" PRId64, B.cfg.kafka_queue_messages);
    bad |= kafka_set(conf, "queue.buffering.max.messages", num);
    snprintf(num, sizeof(num), "%" PRId64, B.cfg.kafka_delivery_timeout_ms);
    bad |= kafka_set(conf, "message.timeout.ms", num);
    snprintf(num, sizeof(num), "ocppgw-%s", B.cfg.pod_id);
    bad |= kafka_set(conf, "client.id", num);
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk)
        log_error("kafka producer: %s", err);
    return rk;
}

int main(int argc, char **argv)
{
    char err[512];
    int rc = config_load_args(BRIDGE_CONFIG, BRIDGE_CONFIG_COUNT, &B.cfg, "kafka-bridge", argc,
                              argv, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "kafka-bridge: %s\n", err);
        config_free(BRIDGE_CONFIG, BRIDGE_CONFIG_COUNT, &B.cfg);
        return rc < 0 ? 2 : 0;
    }
    if (!B.cfg.pod_id[0]) {
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        free(B.cfg.pod_id);
        B.cfg.pod_id = strdup(host);
    }
    log_init("kafka-bridge", B.cfg.pod_id);
    log_set_level_name(B.cfg.log_level);
    /* CZMQ's handler turns SIGINT/SIGTERM into zsys_interrupted: zloop returns and the
     * shutdown below runs (flush, release, close) */
    zsys_catch_interrupts();

    B.admin = admin_http_start(B.cfg.admin_bind, (int)B.cfg.admin_port);
    if (!B.admin)
        return 1;
    B.m_produced =
        metrics_counter("bridge_records_produced_total", "records handed to librdkafka", NULL);
    B.m_delivered = metrics_counter("bridge_records_delivered_total",
                                    "records Kafka confirmed (acks=all)", NULL);
    B.m_failed =
        metrics_counter("bridge_records_failed_total", "records Kafka did not persist", NULL);
    B.m_queue_full = metrics_counter("bridge_queue_full_total",
                                     "times the producer queue was full (input paused)", NULL);
    B.m_queue = metrics_gauge("bridge_producer_queue", "records waiting in librdkafka", NULL);
    B.m_latency = metrics_histogram("bridge_delivery_seconds", "EVENT to delivery report", NULL,
                                    METRICS_LATENCY_SECONDS, METRICS_LATENCY_SECONDS_N);

    B.rk = producer_new();
    if (!B.rk)
        return 1;
    if (pipe2(B.wake, O_NONBLOCK | O_CLOEXEC) < 0)
        return 1;
    B.mainq = rd_kafka_queue_get_main(B.rk);
    rd_kafka_queue_io_event_enable(B.mainq, B.wake[1], "1", 1);

    char *ep = channel_ipc_endpoint(B.cfg.ipc_dir, "bridge");
    B.pull = ep ? channel_pull_bind(ep, (int)B.cfg.zmq_hwm) : NULL;
    free(ep);
    ep = channel_ipc_endpoint(B.cfg.ipc_dir, "registry");
    B.registry = ep ? channel_push_connect(ep, (int)B.cfg.zmq_hwm) : NULL;
    free(ep);
    if (!B.pull || !B.registry)
        return 1;
    B.cores = calloc((size_t)B.cfg.core_count, sizeof(*B.cores));
    for (int64_t i = 0; i < B.cfg.core_count; i++) {
        char name[32];
        snprintf(name, sizeof(name), "core-%" PRId64, i);
        ep = channel_ipc_endpoint(B.cfg.ipc_dir, name);
        B.cores[i] = ep ? channel_push_connect(ep, (int)B.cfg.zmq_hwm) : NULL;
        free(ep);
        if (!B.cores[i])
            return 1;
    }
    msgpack_sbuffer_init(&B.scratch);

    zloop_t *loop = zloop_new();
    zloop_reader(loop, B.pull, on_input, NULL);
    zmq_pollitem_t wake = {NULL, B.wake[0], ZMQ_POLLIN, 0};
    zloop_poller(loop, &wake, on_kafka_wake, NULL);
    zloop_timer(loop, 1000, 0, on_tick, NULL);
    admin_http_set_ready(B.admin, true, NULL);
    log_info("bridge for pod %s, kafka %s", B.cfg.pod_id, B.cfg.kafka_brokers);
    zloop_start(loop);

    log_info("stopping: flushing %d queued records", rd_kafka_outq_len(B.rk));
    admin_http_set_ready(B.admin, false, "stopping");
    /* take what is still in our input, then flush everything (PERFORMANCE.md trap 7) */
    on_input(loop, B.pull, NULL);
    rd_kafka_resp_err_t ferr = rd_kafka_flush(B.rk, (int)B.cfg.flush_timeout_ms);
    if (ferr)
        log_error("flush incomplete: %d records not delivered", rd_kafka_outq_len(B.rk));
    zloop_destroy(&loop);
    rd_kafka_queue_destroy(B.mainq);
    rd_kafka_destroy(B.rk);
    close(B.wake[0]);
    close(B.wake[1]);
    for (int64_t i = 0; i < B.cfg.core_count; i++)
        zsock_destroy(&B.cores[i]);
    free(B.cores);
    zsock_destroy(&B.pull);
    zsock_destroy(&B.registry);
    msgpack_sbuffer_destroy(&B.scratch);
    admin_http_stop(&B.admin);
    metrics_shutdown();
    config_free(BRIDGE_CONFIG, BRIDGE_CONFIG_COUNT, &B.cfg);
    return 0;
}
