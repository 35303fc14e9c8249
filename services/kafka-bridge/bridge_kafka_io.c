/* bridge_kafka_io: librdkafka and ZeroMQ wiring of kafka-bridge. See bridge_kafka_io.h. */
#include "bridge_kafka_io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bridge_metrics.h"
#include "channel.h"
#include "clock.h"
#include "hex.h"
#include "event_relay.h"
#include "kafka_settings.h"
#include "log.h"

/* How long a closing reader may take to commit and leave before it is destroyed anyway. */
#define READER_CLOSE_MS 10000

/* What a delivery report answers to: one part of a command's output, or an EVENT's ack. */
typedef struct {
    uint64_t cookie; /* the engine's cookie; 0: an event */
    uint32_t core_id;
    uint64_t token;
    uint64_t queued_us;
} ack_t;

/* One consumer of one partition of commands-down, known to the engine by its id. */
typedef struct reader {
    uint32_t id;
    int32_t partition;
    bool stopped;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    rd_kafka_queue_t *closeq; /* closing: the queue its close is served on */
    uint64_t close_by_us;
    metrics_gauge_t *m_lag;
    struct reader *next;
} reader_t;

struct bridge_kafka {
    const bridge_config_t *cfg;
    outbox_t *registry;
    outbox_t **cores;
    command_flow_t *flow;
    event_relay_t *relay;
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;
    int wake[2];
    reader_t *readers;
    reader_t *closing;   /* readers the engine destroyed, committing and leaving */
    char *sasl_password; /* from the configuration or its file; wiped at the end */
    metrics_counter_t *m_produced, *m_delivered, *m_failed;
    metrics_gauge_t *m_queue;
    metrics_histogram_t *m_latency;
    /* the partition count of the commands topic, refreshed off the loop (watch_partitions) */
    _Atomic int32_t partitions_seen;
    pthread_t watcher;
    bool watching, watch_stop;
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_cond;
};

/* ---------------------------------------------------------------------------------------
 * Configuration of the producer and the consumers */

static int kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        log_error("kafka setting %s=%s refused: %s", name,
                  kafka_setting_is_secret(name) ? "***" : value, err);
        return -1;
    }
    return 0;
}

static int kafka_set_int(rd_kafka_conf_t *conf, const char *name, int64_t value)
{
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, value);
    return kafka_set(conf, name, num);
}

static int setting_cb(void *arg, const char *name, const char *value)
{
    return kafka_set(arg, name, value);
}

/* The servers, then TLS, SASL and kafka_properties (docs/security.md): the same for the producer
 * and every consumer. */
static int kafka_set_common(bridge_kafka_t *k, rd_kafka_conf_t *conf)
{
    if (kafka_set(conf, "bootstrap.servers", k->cfg->kafka_brokers) < 0)
        return -1;
    char why[512] = "";
    int rc = kafka_settings_each(k->cfg, k->sasl_password, setting_cb, conf, why, sizeof(why));
    if (rc < 0 && why[0])
        log_error("kafka settings: %s", why);
    return rc ? -1 : 0;
}

/* The SASL password: kafka_sasl_password, or the first line of kafka_sasl_password_file. */
static int sasl_password_load(bridge_kafka_t *k)
{
    const char *inline_pw = k->cfg->kafka_sasl_password;
    const char *path = k->cfg->kafka_sasl_password_file;
    if (path && path[0] && inline_pw && inline_pw[0]) {
        log_error("kafka_sasl_password and kafka_sasl_password_file are both set: use one");
        return -1;
    }
    if (!path || !path[0]) {
        k->sasl_password = strdup(inline_pw ? inline_pw : "");
        return k->sasl_password ? 0 : -1;
    }
    FILE *f = fopen(path, "re");
    if (!f) {
        log_error("kafka_sasl_password_file %s: %s", path, strerror(errno));
        return -1;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (more || !buf[0]) {
        log_error("kafka_sasl_password_file %s: %s", path,
                  more ? "longer than 1023 bytes" : "empty");
        explicit_bzero(buf, sizeof(buf));
        return -1;
    }
    k->sasl_password = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return k->sasl_password ? 0 : -1;
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
    metrics_def_count(BRIDGE_METRIC(BRIDGE_M_KAFKA_ERRORS),
                      rd_kafka_err2name((rd_kafka_resp_err_t)err));
    log_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* ---------------------------------------------------------------------------------------
 * Producer: events and command output */

static void send_ack(bridge_kafka_t *k, uint32_t core_id, uint64_t token, int32_t status,
                     const char *error)
{
    if (core_id >= (uint32_t)k->cfg->core_count)
        return;
    envelope_t env = {.type = ENV_EVENT_ACK};
    env.u.event_ack.token = token;
    env.u.event_ack.status = status;
    env.u.event_ack.error = env_str(error);
    /* one per record: kept for a full core (up to the outbox's hard cap, then counted) */
    outbox_send(k->cores[core_id], &env, OUTBOX_MUST);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    bridge_kafka_t *k = opaque;
    ack_t *ack = msg->_private;
    if (msg->err) {
        metrics_counter_add(k->m_failed, 1);
        metrics_def_count(BRIDGE_METRIC(BRIDGE_M_DELIVERY_ERRORS), rd_kafka_err2name(msg->err));
        log_error("record to %s not persisted: %s", rd_kafka_topic_name(msg->rkt),
                  rd_kafka_err2str(msg->err));
    } else {
        metrics_counter_add(k->m_delivered, 1);
    }
    if (!ack)
        return;
    if (ack->cookie) {
        if (k->flow)
            command_flow_on_delivery(k->flow, ack->cookie, (int)msg->err, clock_now_us());
    } else {
        metrics_histogram_observe(k->m_latency, (double)(clock_now_us() - ack->queued_us) / 1e6);
        send_ack(k, ack->core_id, ack->token, msg->err ? (int32_t)msg->err : 0,
                 msg->err ? rd_kafka_err2str(msg->err) : "");
    }
    free(ack);
}

/* Hands one record to librdkafka without waiting. NO_ERROR: queued, ack rides on it;
 * otherwise (QUEUE_FULL when the producer queue is full) nothing was queued. */
static rd_kafka_resp_err_t produce(bridge_kafka_t *k, const char *topic, int32_t partition,
                                   env_str_t key, const env_headers_t *headers, env_bin_t value,
                                   ack_t *ack)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (headers && headers->count) {
        hdrs = rd_kafka_headers_new(headers->count);
        for (size_t i = 0; i < headers->count; i++)
            rd_kafka_header_add(hdrs, headers->items[i].name.ptr,
                                (ssize_t)headers->items[i].name.len, headers->items[i].value.ptr,
                                (ssize_t)headers->items[i].value.len);
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        k->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key.ptr, key.len), RD_KAFKA_V_VALUE((void *)value.ptr, value.len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(ack),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        metrics_counter_add(k->m_produced, 1);
        return err;
    }
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        log_error("record to %s refused by the producer: %s", topic, rd_kafka_err2str(err));
        metrics_def_count(BRIDGE_METRIC(BRIDGE_M_DELIVERY_ERRORS), rd_kafka_err2name(err));
    }
    return err;
}

/* The relay's produce: an EVENT's record, its ack riding as the opaque. */
static int relay_produce(void *arg, const env_event_t *m, int32_t *status, char *why, size_t whylen)
{
    bridge_kafka_t *k = arg;
    ack_t *ack = NULL;
    if (m->token) {
        ack = malloc(sizeof(*ack));
        if (!ack) {
            *status = -ENOMEM;
            snprintf(why, whylen, "out of memory");
            return -ENOMEM;
        }
        *ack = (ack_t){0, m->core_id, m->token, clock_now_us()};
    }
    char topic[256];
    env_str_copy(m->topic, topic, sizeof(topic));
    rd_kafka_resp_err_t err =
        produce(k, topic, RD_KAFKA_PARTITION_UA, m->key, &m->headers, m->value, ack);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    free(ack);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return -ENOBUFS;
    *status = (int32_t)err;
    snprintf(why, whylen, "%s", rd_kafka_err2str(err));
    return -EIO;
}

static void relay_ack(void *arg, uint32_t core_id, uint64_t token, int32_t status, const char *why)
{
    send_ack(arg, core_id, token, status, why);
}

static const event_relay_ops_t RELAY_OPS = {relay_produce, relay_ack};

int bridge_kafka_relay_event(bridge_kafka_t *k, const env_event_t *m)
{
    return event_relay_on_event(k->relay, m) == -EBUSY ? -EBUSY : 0;
}

bool bridge_kafka_resume(bridge_kafka_t *k)
{
    return event_relay_retry(k->relay) == 0;
}

static int op_produce(void *arg, const command_flow_record_t *rec, uint64_t cookie)
{
    bridge_kafka_t *k = arg;
    ack_t *ack = NULL;
    if (cookie) {
        ack = calloc(1, sizeof(*ack));
        if (!ack)
            return -ENOMEM;
        ack->cookie = cookie;
    }
    int32_t p =
        rec->partition == COMMAND_FLOW_PARTITION_ANY ? RD_KAFKA_PARTITION_UA : rec->partition;
    rd_kafka_resp_err_t err = produce(k, rec->topic, p, rec->key, rec->headers, rec->value, ack);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    free(ack);
    /* full: the engine produces it again later (it never waits here) */
    return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? -ENOBUFS : -EIO;
}

/* ---------------------------------------------------------------------------------------
 * ZeroMQ effects of the engine: outboxes with the policy of each kind (DESIGN-12-13) */

static int op_send_registry(void *arg, const envelope_t *env)
{
    bridge_kafka_t *k = arg;
    return outbox_send(k->registry, env, OUTBOX_DROP); /* asked again / repeated */
}

static int op_send_core(void *arg, uint32_t index, const envelope_t *env)
{
    bridge_kafka_t *k = arg;
    if (index >= (uint32_t)k->cfg->core_count)
        return -EINVAL;
    /* COMMAND: a full core refuses it and the engine keeps it waiting; ANNOUNCE is repeated */
    return outbox_send(k->cores[index], env, env->type == ENV_COMMAND ? OUTBOX_TRY : OUTBOX_DROP);
}

/* ---------------------------------------------------------------------------------------
 * Readers of commands-down */

static reader_t *reader_get(bridge_kafka_t *k, uint32_t id)
{
    for (reader_t *r = k->readers; r; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

/* A list of one partition of the commands topic (offset: RD_KAFKA_OFFSET_INVALID for none). */
static rd_kafka_topic_partition_list_t *one_partition(const bridge_kafka_t *k, int32_t partition,
                                                      int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, k->cfg->commands_topic, partition)->offset = offset;
    return l;
}

static rd_kafka_t *consumer_new(bridge_kafka_t *k, const char *group)
{
    char num[COMMAND_POD_MAX + 32];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = kafka_set_common(k, conf);
    bad |= kafka_set(conf, "group.id", group);
    snprintf(num, sizeof(num), "ocppgw-%s-reader", k->cfg->pod_id);
    bad |= kafka_set(conf, "client.id", num);
    bad |= kafka_set(conf, "enable.auto.offset.store", "false");
    bad |= kafka_set(conf, "enable.auto.commit", "true");
    bad |= kafka_set_int(conf, "auto.commit.interval.ms", k->cfg->consumer_commit_ms);
    bad |= kafka_set(conf, "auto.offset.reset", "earliest");
    bad |= kafka_set(conf, "enable.partition.eof", "true");
    bad |= kafka_set(conf, "fetch.wait.max.ms", "100");
    bad |= kafka_set(conf, "isolation.level", "read_committed");
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        log_error("kafka consumer: %s", err);
    return rk;
}

/* Reads the pod's partition from the offsets committed under its group ocppgw-<pod>. */
static int op_reader_start(void *arg, uint32_t id, const char *pod, int32_t partition,
                           bool takeover)
{
    bridge_kafka_t *k = arg;
    char group[COMMAND_POD_MAX + 16];
    snprintf(group, sizeof(group), "ocppgw-%s", pod);
    reader_t *r = calloc(1, sizeof(*r));
    rd_kafka_t *rk = r ? consumer_new(k, group) : NULL;
    if (!rk) {
        free(r);
        return -EIO;
    }
    r->id = id;
    r->partition = partition;
    r->rk = rk;
    rd_kafka_poll_set_consumer(rk);
    r->q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_queue_io_event_enable(r->q, k->wake[1], "1", 1);
    rd_kafka_topic_partition_list_t *l = one_partition(k, partition, RD_KAFKA_OFFSET_STORED);
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (aerr)
        log_error("assign %s[%d]: %s", k->cfg->commands_topic, (int)partition,
                  rd_kafka_err2str(aerr));
    char labels[COMMAND_POD_MAX * 2 + 64], esc[COMMAND_POD_MAX * 2 + 1];
    metrics_label_escape(pod, esc, sizeof(esc));
    snprintf(labels, sizeof(labels), "partition=\"%d\",pod=\"%s\"", (int)partition, esc);
    r->m_lag = metrics_def_gauge(BRIDGE_METRIC(BRIDGE_M_CONSUMER_LAG), labels);
    r->next = k->readers;
    k->readers = r;
    log_info("reading %s[%d] for pod %s (group %s)%s", k->cfg->commands_topic, (int)partition, pod,
             group, takeover ? ": orphan takeover" : "");
    return 0;
}

static void op_reader_pause(void *arg, uint32_t id, bool paused)
{
    bridge_kafka_t *k = arg;
    reader_t *r = reader_get(k, id);
    if (!r)
        return;
    rd_kafka_topic_partition_list_t *l = one_partition(k, r->partition, RD_KAFKA_OFFSET_INVALID);
    if (paused)
        rd_kafka_pause_partitions(r->rk, l);
    else
        rd_kafka_resume_partitions(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

static void op_reader_stop(void *arg, uint32_t id)
{
    reader_t *r = reader_get(arg, id);
    if (r)
        r->stopped = true;
}

static void op_store_offset(void *arg, uint32_t id, int64_t next)
{
    bridge_kafka_t *k = arg;
    reader_t *r = reader_get(k, id);
    if (!r)
        return;
    rd_kafka_topic_partition_list_t *l = one_partition(k, r->partition, next);
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(r->rk, l);
    if (err)
        log_warn("offset %" PRId64 " of %s[%d] not stored: %s", next, k->cfg->commands_topic,
                 (int)r->partition, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* The last of a closing reader: its consumer is gone (closed, or its time is up). */
static void reader_free(bridge_kafka_t *k, reader_t *r)
{
    if (!rd_kafka_consumer_closed(r->rk))
        log_warn("reader of %s[%d] did not close within %d ms: destroyed", k->cfg->commands_topic,
                 (int)r->partition, READER_CLOSE_MS);
    rd_kafka_queue_destroy(r->closeq);
    rd_kafka_destroy_flags(r->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    free(r);
}

/* Serves the closing readers without waiting; frees those closed or out of time (all of them
 * when `all`, after waiting up to their deadline: shutdown). */
static void readers_closing(bridge_kafka_t *k, bool all)
{
    for (reader_t **p = &k->closing; *p;) {
        reader_t *r = *p;
        for (;;) {
            rd_kafka_event_t *ev = rd_kafka_queue_poll(r->closeq, 0);
            if (!ev)
                break;
            rd_kafka_event_destroy(ev);
        }
        while (all && !rd_kafka_consumer_closed(r->rk) && clock_now_us() < r->close_by_us) {
            rd_kafka_event_t *ev = rd_kafka_queue_poll(r->closeq, 100);
            if (ev)
                rd_kafka_event_destroy(ev);
        }
        if (rd_kafka_consumer_closed(r->rk) || clock_now_us() >= r->close_by_us) {
            *p = r->next;
            reader_free(k, r);
        } else {
            p = &r->next;
        }
    }
}

/* Commits what was stored and leaves, without waiting (a commit to a broker that is down must
 * not stall the loop): the consumer closes on its own queue, served every tick. */
static void reader_destroy(bridge_kafka_t *k, reader_t *r)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(r->rk, NULL, 1 /* async */);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("final commit of %s[%d]: %s", k->cfg->commands_topic, (int)r->partition,
                 rd_kafka_err2str(err));
    rd_kafka_queue_destroy(r->q);
    r->q = NULL;
    metrics_gauge_set(r->m_lag, 0);
    for (reader_t **p = &k->readers; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    r->closeq = rd_kafka_queue_new(r->rk);
    r->close_by_us = clock_now_us() + (uint64_t)READER_CLOSE_MS * 1000;
    rd_kafka_error_t *cerr = rd_kafka_consumer_close_queue(r->rk, r->closeq);
    if (cerr) {
        log_warn("close of the reader of %s[%d]: %s", k->cfg->commands_topic, (int)r->partition,
                 rd_kafka_error_string(cerr));
        rd_kafka_error_destroy(cerr);
    }
    r->next = k->closing;
    k->closing = r;
}

static void op_reader_destroy(void *arg, uint32_t id)
{
    reader_t *r = reader_get(arg, id);
    if (r)
        reader_destroy(arg, r);
}

const command_flow_ops_t BRIDGE_KAFKA_FLOW_OPS = {
    .produce = op_produce,
    .send_registry = op_send_registry,
    .send_core = op_send_core,
    .store_offset = op_store_offset,
    .reader_start = op_reader_start,
    .reader_pause = op_reader_pause,
    .reader_stop = op_reader_stop,
    .reader_destroy = op_reader_destroy,
};

/* The record's W3C traceparent header (the last one) when it is a valid one, else a new trace
 * (random trace id and parent id, sampled flag off): every command has one (issue 14). */
static void record_traceparent(const rd_kafka_message_t *msg, char out[COMMAND_TRACEPARENT_LEN + 1])
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *v = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(hdrs, "traceparent", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        command_traceparent_valid(v, n)) {
        memcpy(out, v, n);
        out[n] = '\0';
        return;
    }
    uint8_t id[24];
    if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
        out[0] = '\0'; /* none: the result simply has no traceparent header */
        return;
    }
    id[0] |= 1; /* never all zeros (invalid) */
    id[16] |= 1;
    hex_traceparent(id, 0x00, out);
}

/* Takes what the reader's queue holds (the wake pipe only signals a non-empty queue). */
static void reader_read(bridge_kafka_t *k, reader_t *r)
{
    for (int i = 0; i < 10000 && !r->stopped; i++) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(r->rk, 0);
        if (!msg)
            break;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            command_flow_on_eof(k->flow, r->id);
        } else if (msg->err) {
            metrics_def_count(BRIDGE_METRIC(BRIDGE_M_CONSUMER_ERRORS), rd_kafka_err2name(msg->err));
            log_warn("consumer %s[%d]: %s", k->cfg->commands_topic, (int)r->partition,
                     rd_kafka_message_errstr(msg));
        } else {
            rd_kafka_timestamp_type_t tstype;
            int64_t ts = rd_kafka_message_timestamp(msg, &tstype);
            char tp[COMMAND_TRACEPARENT_LEN + 1];
            record_traceparent(msg, tp);
            command_flow_on_record(k->flow, r->id, msg->offset, ts, msg->payload, msg->len,
                                   env_str(tp), clock_now_us());
        }
        rd_kafka_message_destroy(msg);
    }
}

void bridge_kafka_read(bridge_kafka_t *k)
{
    /* the engine starts and destroys readers only from TAKEOVER, ANNOUNCE and its tick, never
     * while a record is handed to it: the list stays put during this walk */
    for (reader_t *r = k->readers; r && k->flow; r = r->next)
        reader_read(k, r);
}

/* ---------------------------------------------------------------------------------------
 * Producer life cycle, loop hooks */

bridge_kafka_t *bridge_kafka_new(const bridge_kafka_args_t *args)
{
    bridge_kafka_t *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->cfg = args->cfg;
    k->registry = args->registry;
    k->cores = args->cores;
    k->wake[0] = k->wake[1] = -1;
    pthread_mutex_init(&k->watch_lock, NULL);
    pthread_cond_init(&k->watch_cond, NULL);
    k->m_produced = metrics_def_counter(BRIDGE_METRIC(BRIDGE_M_RECORDS_PRODUCED), NULL);
    k->m_delivered = metrics_def_counter(BRIDGE_METRIC(BRIDGE_M_RECORDS_DELIVERED), NULL);
    k->m_failed = metrics_def_counter(BRIDGE_METRIC(BRIDGE_M_RECORDS_FAILED), NULL);
    k->m_queue = metrics_def_gauge(BRIDGE_METRIC(BRIDGE_M_PRODUCER_QUEUE), NULL);
    k->m_latency = metrics_def_histogram(BRIDGE_METRIC(BRIDGE_M_DELIVERY_SECONDS), NULL);
    k->relay = event_relay_new(&RELAY_OPS, k);
    if (!k->relay || sasl_password_load(k) < 0) {
        bridge_kafka_destroy(&k);
        return NULL;
    }

    const bridge_config_t *cfg = k->cfg;
    char num[COMMAND_POD_MAX + 16];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = kafka_set_common(k, conf);
    bad |= kafka_set(conf, "enable.idempotence", "true"); /* acks=all, ordered retries */
    bad |= kafka_set(conf, "acks", "all");
    bad |= kafka_set_int(conf, "linger.ms", cfg->kafka_linger_ms);
    bad |= kafka_set(conf, "compression.codec", cfg->kafka_compression);
    bad |= kafka_set_int(conf, "batch.num.messages", cfg->kafka_batch_messages);
    bad |= kafka_set_int(conf, "queue.buffering.max.messages", cfg->kafka_queue_messages);
    bad |= kafka_set_int(conf, "message.timeout.ms", cfg->kafka_delivery_timeout_ms);
    snprintf(num, sizeof(num), "ocppgw-%s", cfg->pod_id);
    bad |= kafka_set(conf, "client.id", num);
    if (bad) {
        rd_kafka_conf_destroy(conf);
        bridge_kafka_destroy(&k);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    char err[512];
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!k->rk) { /* e.g. a TLS file librdkafka cannot load: its own message */
        log_error("kafka producer: %s", err);
        bridge_kafka_destroy(&k);
        return NULL;
    }
    if (pipe2(k->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        k->wake[0] = k->wake[1] = -1;
        bridge_kafka_destroy(&k);
        return NULL;
    }
    k->mainq = rd_kafka_queue_get_main(k->rk);
    rd_kafka_queue_io_event_enable(k->mainq, k->wake[1], "1", 1);
    return k;
}

void bridge_kafka_destroy(bridge_kafka_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bridge_kafka_t *k = *self_p;
    if (k->watching) { /* before the handle it uses goes */
        pthread_mutex_lock(&k->watch_lock);
        k->watch_stop = true;
        pthread_cond_signal(&k->watch_cond);
        pthread_mutex_unlock(&k->watch_lock);
        pthread_join(k->watcher, NULL);
    }
    pthread_mutex_destroy(&k->watch_lock);
    pthread_cond_destroy(&k->watch_cond);
    while (k->readers)
        reader_destroy(k, k->readers);
    readers_closing(k, true);
    if (k->mainq)
        rd_kafka_queue_destroy(k->mainq);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    event_relay_destroy(&k->relay);
    if (k->wake[0] >= 0)
        close(k->wake[0]);
    if (k->wake[1] >= 0)
        close(k->wake[1]);
    if (k->sasl_password) {
        explicit_bzero(k->sasl_password, strlen(k->sasl_password));
        free(k->sasl_password);
    }
    free(k);
    *self_p = NULL;
}

void bridge_kafka_set_flow(bridge_kafka_t *k, command_flow_t *flow)
{
    k->flow = flow;
}

int bridge_kafka_wake_fd(const bridge_kafka_t *k)
{
    return k->wake[0];
}

/* The partition count of the commands topic from a metadata request (0: not known). */
static int32_t metadata_partitions(bridge_kafka_t *k, int timeout_ms)
{
    int32_t n = 0;
    rd_kafka_topic_t *t = rd_kafka_topic_new(k->rk, k->cfg->commands_topic, NULL);
    if (!t)
        return 0;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 0, t, &md, timeout_ms);
    if (!err && md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
        n = md->topics[0].partition_cnt;
    else
        log_warn("metadata of %s not available yet: %s", k->cfg->commands_topic,
                 err ? rd_kafka_err2str(err)
                     : rd_kafka_err2str(md->topic_cnt ? md->topics[0].err
                                                      : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return n;
}

int32_t bridge_kafka_partitions(bridge_kafka_t *k)
{
    /* short: called from the loop every second until it works (Kafka may be down at start) */
    int32_t n = metadata_partitions(k, 500);
    if (n > 0)
        atomic_store(&k->partitions_seen, n);
    return n;
}

/* Asks the metadata every command_partitions_refresh_ms on its own thread (a request may wait
 * its whole timeout on a slow broker, and the loop never waits on Kafka): a change of the
 * partition count is seen by the loop through partitions_seen. */
static void *watch_partitions(void *arg)
{
    bridge_kafka_t *k = arg;
    pthread_mutex_lock(&k->watch_lock);
    while (!k->watch_stop) {
        pthread_mutex_unlock(&k->watch_lock);
        int32_t n = metadata_partitions(k, 2000); /* bounds the join at shutdown */
        if (n > 0)
            atomic_store(&k->partitions_seen, n);
        pthread_mutex_lock(&k->watch_lock);
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        int64_t ns = at.tv_nsec + (k->cfg->command_partitions_refresh_ms % 1000) * 1000000;
        at.tv_sec += (time_t)(k->cfg->command_partitions_refresh_ms / 1000 + ns / 1000000000);
        at.tv_nsec = (long)(ns % 1000000000);
        while (!k->watch_stop &&
               pthread_cond_timedwait(&k->watch_cond, &k->watch_lock, &at) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&k->watch_lock);
    return NULL;
}

int32_t bridge_kafka_partitions_seen(bridge_kafka_t *k)
{
    if (!k->watching && k->cfg->command_partitions_refresh_ms > 0 && k->cfg->commands_enabled) {
        k->watching = pthread_create(&k->watcher, NULL, watch_partitions, k) == 0;
        if (!k->watching)
            log_error("cannot start the metadata refresh of %s: a change of its partition "
                      "count will not be seen",
                      k->cfg->commands_topic);
    }
    return atomic_load(&k->partitions_seen);
}

void bridge_kafka_poll(bridge_kafka_t *k, int timeout_ms)
{
    rd_kafka_poll(k->rk, timeout_ms);
}

/* What the outboxes hold goes out as soon as the receivers take it. */
static void outboxes_flush(bridge_kafka_t *k)
{
    outbox_flush(k->registry);
    for (int64_t i = 0; i < k->cfg->core_count; i++)
        outbox_flush(k->cores[i]);
}

void bridge_kafka_wake(bridge_kafka_t *k)
{
    char buf[256];
    while (read(k->wake[0], buf, sizeof(buf)) > 0) {
    }
    rd_kafka_poll(k->rk, 0);
    bridge_kafka_read(k);
    outboxes_flush(k); /* EVENT_ACKs of the reports just served, behind those that waited */
}

void bridge_kafka_tick(bridge_kafka_t *k)
{
    outboxes_flush(k);
    readers_closing(k, false);
    metrics_gauge_set(k->m_queue, rd_kafka_outq_len(k->rk));
    for (reader_t *r = k->readers; r; r = r->next) {
        int64_t lo = 0, hi = 0;
        rd_kafka_topic_partition_list_t *l =
            one_partition(k, r->partition, RD_KAFKA_OFFSET_INVALID);
        if (rd_kafka_get_watermark_offsets(r->rk, k->cfg->commands_topic, r->partition, &lo, &hi) ==
                0 &&
            rd_kafka_position(r->rk, l) == 0 && l->elems[0].offset >= 0)
            metrics_gauge_set(r->m_lag, hi - l->elems[0].offset);
        rd_kafka_topic_partition_list_destroy(l);
    }
}

void bridge_kafka_flush(bridge_kafka_t *k)
{
    uint64_t until = clock_now_us() + (uint64_t)k->cfg->flush_timeout_ms * 1000;
    while (!bridge_kafka_resume(k) && clock_now_us() < until)
        rd_kafka_poll(k->rk, 100);
    size_t kept = event_relay_held(k->relay);
    if (kept) {
        log_error("stopping: %zu events never reached the producer: not persisted", kept);
        event_relay_abandon(k->relay, RD_KAFKA_RESP_ERR__QUEUE_FULL, "bridge stopping");
    }
    log_info("stopping: flushing %d queued records", rd_kafka_outq_len(k->rk));
    uint64_t now = clock_now_us();
    int left_ms = now < until ? (int)((until - now) / 1000) : 0;
    rd_kafka_resp_err_t ferr = rd_kafka_flush(k->rk, left_ms);
    if (ferr) {
        log_error("flush incomplete: %d records not delivered", rd_kafka_outq_len(k->rk));
        /* their reports (not persisted) are served now, while their commands still exist */
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(k->rk, 0);
    }
    outboxes_flush(k);
}
