/* kafka-bridge: the only process that talks to Kafka (DESIGN §1, §5).
 *
 * Wiring: configuration, the ZeroMQ sockets on a CZMQ loop, one idempotent librdkafka
 * producer (acks=all) and one consumer per partition read, whose queues wake the loop through
 * a pipe. EVENT and RESULT envelopes become records; for an EVENT with a token, the delivery
 * report becomes an EVENT_ACK to the core that asked (persisted, or the error: never
 * "persisted" when it was not). A full producer queue blocks the input (flow control) instead
 * of dropping. On shutdown everything queued is flushed before exit.
 *
 * Commands (docs/commands.md): the pod's partition of commands-down is assigned manually and
 * read from the offsets committed under group ocppgw-<pod>. Each record is routed by the pure
 * command_route(): LOOKUP to the registry, then DEDUP and COMMAND to the core (here), a
 * re-publish to the owner's partition (forward), a park with back-off (nowhere), or a final
 * result expired/invalid with a DLQ copy. An offset is stored only once every record up to it
 * has its final result persisted, was forwarded (persisted) or is not ours; parked commands are
 * therefore re-read after a restart. TAKEOVER from the registry adds a reader for a dead pod's
 * partition (its group, its committed offsets) until that partition is drained. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>
#include <librdkafka/rdkafka.h>

#include "admin_http.h"
#include "bridge_config.h"
#include "channel.h"
#include "clock.h"
#include "config.h"
#include "command_route.h"
#include "envelope.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "u64map.h"

typedef struct cmd cmd_t;

/* What a delivery report must answer to: an EVENT's ack, or one part of a command's output. */
typedef struct {
    uint32_t core_id;
    uint64_t token;
    uint64_t queued_us;
    cmd_t *cmd;    /* NULL for events */
    unsigned part; /* PART_* bit of cmd */
} ack_t;

/* One consumer of one partition of commands-down: ours, or a dead pod's taken over. */
typedef struct reader {
    char pod[COMMAND_POD_MAX + 1];
    uint64_t epoch; /* takeover epoch (0: our own partition) */
    bool takeover, stopping, paused, eof;
    int32_t partition;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    offset_track_t track;
    size_t refs; /* commands alive that came from here */
    metrics_gauge_t *m_lag;
    struct reader *next;
} reader_t;

typedef enum {
    CMD_LOOKUP,  /* LOOKUP sent, waiting for OWNER */
    CMD_PARKED,  /* nobody holds the charge point: re-check at due_ms */
    CMD_DEDUP,   /* DEDUP sent, waiting for DEDUP_RESULT */
    CMD_AT_CORE, /* COMMAND handed to core, waiting for RESULT */
    CMD_OUTPUT,  /* producing its output (result / DLQ / forward); retried at due_ms on failure */
} cmd_state_t;

enum {
    PART_MAIN = 1,
    PART_DLQ = 2
};
typedef enum {
    OUT_FINAL,
    OUT_FORWARD,
    OUT_CORE_RESULT
} out_kind_t;

struct cmd {
    reader_t *reader;
    int64_t offset, record_ts_ms, received_ms, due_ms;
    uint64_t token; /* key in B.cmds; also the request_id of LOOKUP and DEDUP */
    command_record_t rec;
    char *value; /* the record as read */
    size_t len;
    cmd_state_t state;
    int attempts;
    /* output */
    out_kind_t out;
    unsigned need; /* PART_* bits not persisted yet */
    int pending;   /* deliveries outstanding */
    bool failed;
    char status[16];
    char reason[160];
    char owner[COMMAND_POD_MAX + 1];
    uint8_t *core_value; /* RESULT value from core */
    size_t core_len;
    cmd_t *prev, *next;
};

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
    /* commands */
    int32_t partitions; /* of commands-down, from metadata (0: not known yet) */
    reader_t *readers;
    u64map_t *cmds;
    cmd_t *cmd_head;
    size_t cmd_count;
    uint64_t next_token;
    bool stopping;
    metrics_counter_t *m_forwards, *m_parks, *m_skipped, *m_duplicates, *m_takeovers, *m_consumed,
        *m_lookups, *m_dedups;
    metrics_gauge_t *m_inflight, *m_parked;
} B;

static void send_ack(uint32_t core_id, uint64_t token, int32_t status, const char *error)
{
    if (core_id >= (uint32_t)B.cfg.core_count)
        return;
    envelope_t env = {.type = ENV_EVENT_ACK};
    env.u.event_ack.token = token;
    env.u.event_ack.status = status;
    env.u.event_ack.error = env_str(error);
    /* dropped: core times the event out and treats it as not persisted (safe, and counted) */
    channel_send_counted(B.cores[core_id], &env, &B.scratch, "core", 1000);
}

static void cmd_delivered(cmd_t *c, unsigned part, rd_kafka_resp_err_t err);
static int kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value);
static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque);

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
    if (ack && ack->cmd) {
        cmd_delivered(ack->cmd, ack->part, msg->err);
        free(ack);
        return;
    }
    if (ack) {
        metrics_histogram_observe(B.m_latency, (double)(clock_now_us() - ack->queued_us) / 1e6);
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
static int produce(env_str_t topic, int32_t partition, env_str_t key, const env_headers_t *headers,
                   env_bin_t value, ack_t *ack)
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
        rd_kafka_resp_err_t err = rd_kafka_producev(
            B.rk, RD_KAFKA_V_TOPIC(topic_name), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key.ptr, key.len), RD_KAFKA_V_VALUE((void *)value.ptr, value.len),
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
            if (ack && ack->cmd) {
                cmd_delivered(ack->cmd, ack->part, err);
                free(ack);
            } else if (ack) {
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
        *ack = (ack_t){m->core_id, m->token, clock_now_us(), NULL, 0};
    }
    produce(m->topic, RD_KAFKA_PARTITION_UA, m->key, &m->headers, m->value, ack);
}

/* ---------------------------------------------------------------------------------------
 * Commands */

static void send_registry(const envelope_t *env)
{
    /* not lost when dropped: the command is asked about again after
     * command_registry_timeout_ms */
    channel_send_counted(B.registry, env, &B.scratch, "registry", 0);
}

static void store_offset(reader_t *r, int64_t next)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, B.cfg.commands_topic, r->partition)->offset = next;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(r->rk, l);
    if (err)
        log_warn("offset %" PRId64 " of %s[%d] not stored: %s", next, B.cfg.commands_topic,
                 (int)r->partition, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

static void cmd_unlink(cmd_t *c)
{
    u64map_remove(B.cmds, c->token);
    if (c->prev)
        c->prev->next = c->next;
    else
        B.cmd_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    B.cmd_count--;
    metrics_gauge_set(B.m_inflight, (int64_t)B.cmd_count);
    if (c->state == CMD_PARKED)
        metrics_gauge_add(B.m_parked, -1);
    c->reader->refs--;
    free(c->value);
    free(c->core_value);
    free(c);
}

static void reader_resume_if_room(reader_t *r);

/* The record has its final outcome (persisted) or is not ours: its offset may be committed. */
static void cmd_done(cmd_t *c)
{
    reader_t *r = c->reader;
    int64_t next = offset_track_done(&r->track, c->offset);
    if (next >= 0)
        store_offset(r, next);
    cmd_unlink(c);
    reader_resume_if_room(r);
}

static void cmd_set_state(cmd_t *c, cmd_state_t st)
{
    if (c->state == CMD_PARKED && st != CMD_PARKED)
        metrics_gauge_add(B.m_parked, -1);
    else if (c->state != CMD_PARKED && st == CMD_PARKED)
        metrics_gauge_add(B.m_parked, 1);
    c->state = st;
}

static void cmd_produce_part(cmd_t *c, unsigned part, env_str_t topic, int32_t partition,
                             env_str_t key, const env_headers_t *h, const void *v, size_t len)
{
    ack_t *ack = calloc(1, sizeof(*ack));
    if (!ack) {
        c->failed = true;
        return;
    }
    ack->cmd = c;
    ack->part = part;
    ack->queued_us = clock_now_us();
    c->pending++;
    produce(topic, partition, key, h, (env_bin_t){(const uint8_t *)v, len}, ack);
}

/* The DLQ copy: the record as read, with status, reason and pod headers. */
static void cmd_produce_dlq(cmd_t *c)
{
    env_headers_t dh = {.count = 3};
    dh.items[0] = (env_header_t){env_str("status"), env_str(c->status)};
    dh.items[1] = (env_header_t){env_str("reason"), env_str(c->reason)};
    dh.items[2] = (env_header_t){env_str("pod"), env_str(B.cfg.pod_id)};
    cmd_produce_part(c, PART_DLQ, env_str(B.cfg.dlq_topic), RD_KAFKA_PARTITION_UA,
                     env_str(c->rec.command_id), &dh, c->value, c->len);
}

/* (Re)produces what the command still needs persisted. */
static void cmd_output(cmd_t *c)
{
    cmd_set_state(c, CMD_OUTPUT);
    c->failed = false;
    c->pending++; /* hold: deliveries reported synchronously must not finish c under us */
    env_headers_t h = {.count = 1};
    h.items[0] = (env_header_t){env_str("status"), env_str(c->status)};
    if (c->out == OUT_FORWARD) {
        size_t len = 0;
        char *fwd = command_forward_json(c->value, c->len, &c->rec, c->owner, &len);
        int32_t p = hash_kafka_partition(c->owner, strlen(c->owner), B.partitions);
        if (!fwd || p < 0) {
            c->failed = true;
        } else {
            env_headers_t fh = {.count = 1};
            fh.items[0] = (env_header_t){env_str("target_pod"), env_str(c->owner)};
            cmd_produce_part(c, PART_MAIN, env_str(B.cfg.commands_topic), p, env_str(c->owner), &fh,
                             fwd, len);
        }
        free(fwd);
    } else if (c->out == OUT_CORE_RESULT) {
        if (c->need & PART_MAIN)
            cmd_produce_part(c, PART_MAIN, env_str(B.cfg.results_topic), RD_KAFKA_PARTITION_UA,
                             env_str(c->rec.command_id), &h, c->core_value, c->core_len);
        if (c->need & PART_DLQ)
            cmd_produce_dlq(c);
    } else {
        if (c->need & PART_MAIN) {
            size_t len = 0;
            char *res = command_result_json(c->rec.command_id, c->rec.cp_id, c->status, c->reason,
                                            c->received_ms, clock_now_ms(), B.cfg.pod_id, &len);
            if (res)
                cmd_produce_part(c, PART_MAIN, env_str(B.cfg.results_topic), RD_KAFKA_PARTITION_UA,
                                 env_str(c->rec.command_id), &h, res, len);
            else
                c->failed = true;
            free(res);
        }
        if (c->need & PART_DLQ)
            cmd_produce_dlq(c);
    }
    cmd_delivered(c, 0, RD_KAFKA_RESP_ERR_NO_ERROR); /* release the hold */
}

static void cmd_delivered(cmd_t *c, unsigned part, rd_kafka_resp_err_t err)
{
    if (err)
        c->failed = true;
    else
        c->need &= ~part;
    if (--c->pending > 0)
        return;
    if (c->need == 0) {
        if (c->out == OUT_FORWARD) {
            metrics_counter_add(B.m_forwards, 1);
            log_info("command %s for %s forwarded to pod %s (hop %" PRId64 ")", c->rec.command_id,
                     c->rec.cp_id, c->owner, c->rec.hops + 1);
        } else {
            metrics_count("bridge_commands_total", "commands with a final result, by status",
                          "status", c->status);
        }
        cmd_done(c);
        return;
    }
    /* not persisted: never report it as done; try again later */
    metrics_count("bridge_command_output_retries_total",
                  "command results/forwards/DLQ copies produced again after a failure", NULL, NULL);
    c->due_ms = clock_now_ms() + B.cfg.command_park_backoff_ms;
}

/* Final result status with reason (and a DLQ copy when dlq). */
static void cmd_finish(cmd_t *c, const char *status, const char *reason, bool dlq)
{
    snprintf(c->status, sizeof(c->status), "%s", status);
    snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
    c->out = OUT_FINAL;
    c->need = PART_MAIN | (dlq ? PART_DLQ : 0);
    log_info("command %s for %s: %s (%s)", c->rec.command_id[0] ? c->rec.command_id : "?",
             c->rec.cp_id[0] ? c->rec.cp_id : "?", status, c->reason);
    cmd_output(c);
}

static void cmd_lookup(cmd_t *c)
{
    cmd_set_state(c, CMD_LOOKUP);
    c->due_ms = clock_now_ms() + B.cfg.command_registry_timeout_ms;
    metrics_counter_add(B.m_lookups, 1);
    envelope_t env = {.type = ENV_LOOKUP};
    env.u.lookup.request_id = c->token;
    env.u.lookup.identity = env_str(c->rec.cp_id);
    send_registry(&env);
}

static void cmd_dedup(cmd_t *c)
{
    if (c->state != CMD_DEDUP)
        log_info("command %s for %s: connected here, DEDUP", c->rec.command_id, c->rec.cp_id);
    cmd_set_state(c, CMD_DEDUP);
    c->due_ms = clock_now_ms() + B.cfg.command_registry_timeout_ms;
    metrics_counter_add(B.m_dedups, 1);
    envelope_t env = {.type = ENV_DEDUP};
    env.u.dedup.request_id = c->token;
    env.u.dedup.command_id = env_str(c->rec.command_id);
    env.u.dedup.ttl_ms = (uint64_t)B.cfg.command_dedup_ttl_ms;
    send_registry(&env);
}

static void cmd_park(cmd_t *c, int64_t now)
{
    if (c->attempts == 0) {
        metrics_counter_add(B.m_parks, 1);
        log_info("command %s parked: %s is connected nowhere", c->rec.command_id, c->rec.cp_id);
    }
    cmd_set_state(c, CMD_PARKED);
    c->attempts++;
    c->due_ms =
        now + command_park_delay_ms(c->attempts, B.cfg.command_park_backoff_ms,
                                    B.cfg.command_park_backoff_max_ms, now, c->rec.expires_at_ms);
}

/* Runs the routing decision with what is known and carries it out. */
static void cmd_route(cmd_t *c, bool owner_known, const char *owner, bool live)
{
    int64_t now = clock_now_ms();
    route_input_t in = {.self_pod = B.cfg.pod_id,
                        .reader_pod = c->reader->pod,
                        .now_ms = now,
                        .max_hops = B.cfg.command_max_hops,
                        .owner_known = owner_known,
                        .owner = owner,
                        .owner_live = live};
    route_t r = command_route(&c->rec, &in);
    log_debug("command %s for %s: %s", c->rec.command_id, c->rec.cp_id, command_route_name(r));
    switch (r) {
    case ROUTE_SKIP:
        metrics_counter_add(B.m_skipped, 1);
        cmd_done(c);
        break;
    case ROUTE_EXPIRED:
        cmd_finish(c, "expired", "expires_at passed before the charge point was reached", true);
        break;
    case ROUTE_HOPS:
        cmd_finish(c, "expired", "hop limit reached while following the charge point", true);
        break;
    case ROUTE_LOOKUP:
        cmd_lookup(c);
        break;
    case ROUTE_HERE:
        cmd_dedup(c);
        break;
    case ROUTE_FORWARD:
        snprintf(c->owner, sizeof(c->owner), "%s", owner);
        c->out = OUT_FORWARD;
        c->need = PART_MAIN;
        cmd_output(c);
        break;
    case ROUTE_PARK:
        cmd_park(c, now);
        break;
    }
}

static void on_owner(const env_owner_t *m)
{
    cmd_t *c = u64map_get(B.cmds, m->request_id);
    if (!c || c->state != CMD_LOOKUP)
        return; /* answered twice (re-sent LOOKUP), or the command went away */
    char pod[COMMAND_POD_MAX + 1];
    env_str_copy(m->pod, pod, sizeof(pod));
    cmd_route(c, true, pod, m->live);
}

static void on_dedup_result(const env_dedup_result_t *m)
{
    cmd_t *c = u64map_get(B.cmds, m->request_id);
    if (!c || c->state != CMD_DEDUP)
        return;
    if (m->status != 0) {
        /* registry cannot tell (Redis down): do not risk a second delivery; ask again later */
        c->due_ms = clock_now_ms() + B.cfg.command_park_backoff_ms;
        return;
    }
    if (!m->first) {
        metrics_counter_add(B.m_duplicates, 1);
        log_info("command %s already delivered once: not sent again", c->rec.command_id);
        cmd_done(c);
        return;
    }
    uint32_t core = hash_core_index(c->rec.cp_id, strlen(c->rec.cp_id), (uint32_t)B.cfg.core_count);
    envelope_t env = {.type = ENV_COMMAND};
    env.u.command.token = c->token;
    env.u.command.identity = env_str(c->rec.cp_id);
    env.u.command.command_id = env_str(c->rec.command_id);
    env.u.command.record = (env_bin_t){(const uint8_t *)c->value, c->len};
    msgpack_sbuffer_clear(&B.scratch);
    if (envelope_encode(&env, &B.scratch) < 0 ||
        channel_send_wait(B.cores[core], B.scratch.data, B.scratch.size, 1000) < 0) {
        /* the DEDUP key is taken: a retry would be refused as a duplicate. Say so. */
        cmd_finish(c, "rejected", "core did not take the command", true);
        return;
    }
    cmd_set_state(c, CMD_AT_CORE);
    c->due_ms =
        command_core_deadline_ms(clock_now_ms(), c->rec.expires_at_ms, B.cfg.command_core_grace_ms);
    log_info("command %s handed to core %u for %s", c->rec.command_id, core, c->rec.cp_id);
}

/* RESULT from core: the final result. For a command read here, its offset follows once the
 * result is persisted. */
static void on_result(const env_result_t *m)
{
    cmd_t *c = m->token ? u64map_get(B.cmds, m->token) : NULL;
    if (c && c->state == CMD_AT_CORE) {
        free(c->core_value);
        c->core_value = malloc(m->value.len ? m->value.len : 1);
        if (c->core_value) {
            memcpy(c->core_value, m->value.ptr, m->value.len);
            c->core_len = m->value.len;
            env_str_copy(m->status, c->status, sizeof(c->status));
            c->out = OUT_CORE_RESULT;
            c->need = PART_MAIN;
            /* core checks action and payload against the charge point's version (it has the
             * validators): a record it found invalid gets its DLQ copy here, like the records
             * the bridge refuses itself (docs/unified-model.md) */
            if (strcmp(c->status, "invalid") == 0) {
                command_result_reason(c->core_value, c->core_len, c->reason, sizeof(c->reason));
                c->need |= PART_DLQ;
                metrics_count("bridge_commands_invalid_total", "command records refused, by reason",
                              "reason", "refused by ocpp-core");
            }
            cmd_output(c);
            return;
        }
    }
    env_headers_t h = {.count = 1};
    h.items[0] = (env_header_t){env_str("status"), m->status};
    produce(env_str(B.cfg.results_topic), RD_KAFKA_PARTITION_UA, m->command_id, &h, m->value, NULL);
}

static void reader_pause(reader_t *r, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, B.cfg.commands_topic, r->partition);
    if (pause)
        rd_kafka_pause_partitions(r->rk, l);
    else
        rd_kafka_resume_partitions(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    r->paused = pause;
}

static void reader_resume_if_room(reader_t *r)
{
    if (r->paused && !r->stopping && B.cmd_count < (size_t)B.cfg.command_max_inflight / 2 + 1)
        reader_pause(r, false);
}

static void on_record(reader_t *r, const rd_kafka_message_t *msg)
{
    r->eof = false;
    metrics_counter_add(B.m_consumed, 1);
    cmd_t *c = calloc(1, sizeof(*c));
    char *value = malloc(msg->len + 1);
    if (!c || !value || offset_track_add(&r->track, msg->offset) < 0) {
        /* cannot keep it: do not store its offset; it is read again after a restart */
        log_error("no memory for command at %s[%d]@%" PRId64, B.cfg.commands_topic,
                  (int)r->partition, msg->offset);
        free(c);
        free(value);
        return;
    }
    memcpy(value, msg->payload ? msg->payload : "", msg->len);
    value[msg->len] = '\0';
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(msg, &tstype);
    *c = (cmd_t){.reader = r,
                 .offset = msg->offset,
                 .record_ts_ms = ts > 0 ? ts : clock_now_ms(),
                 .received_ms = clock_now_ms(),
                 .token = ++B.next_token,
                 .value = value,
                 .len = msg->len,
                 .state = CMD_LOOKUP};
    r->refs++;
    c->next = B.cmd_head;
    if (B.cmd_head)
        B.cmd_head->prev = c;
    B.cmd_head = c;
    B.cmd_count++;
    metrics_gauge_set(B.m_inflight, (int64_t)B.cmd_count);
    u64map_put(B.cmds, c->token, c);

    char why[128] = "";
    if (command_record_parse(value, msg->len, c->record_ts_ms, B.cfg.command_default_ttl_ms,
                             &c->rec, why, sizeof(why)) < 0) {
        metrics_count("bridge_commands_invalid_total", "command records refused, by reason",
                      "reason", why);
        if (!c->rec.command_id[0])
            snprintf(c->rec.command_id, sizeof(c->rec.command_id), "%s[%d]@%" PRId64,
                     B.cfg.commands_topic, (int)r->partition, msg->offset);
        cmd_finish(c, "invalid", why, true);
        return;
    }
    cmd_route(c, false, NULL, false);
}

/* Takes what the reader's queue holds (the wake pipe only signals a non-empty queue). */
static void reader_poll(reader_t *r)
{
    for (int i = 0; i < 10000 && !r->stopping; i++) {
        if (!r->paused && B.cmd_count >= (size_t)B.cfg.command_max_inflight) {
            reader_pause(r, true);
            log_warn("%zu commands in flight: reading paused", B.cmd_count);
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(r->rk, 0);
        if (!msg)
            break;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            r->eof = true;
        } else if (msg->err) {
            metrics_count("bridge_consumer_errors_total", "consumer errors, by error", "error",
                          rd_kafka_err2name(msg->err));
            log_warn("consumer %s[%d]: %s", B.cfg.commands_topic, (int)r->partition,
                     rd_kafka_message_errstr(msg));
        } else {
            on_record(r, msg);
        }
        rd_kafka_message_destroy(msg);
    }
}

static reader_t *reader_new(const char *pod, uint64_t epoch, bool takeover)
{
    char num[64], group[COMMAND_POD_MAX + 16];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = 0;
    bad |= kafka_set(conf, "bootstrap.servers", B.cfg.kafka_brokers);
    snprintf(group, sizeof(group), "ocppgw-%s", pod);
    bad |= kafka_set(conf, "group.id", group);
    snprintf(num, sizeof(num), "ocppgw-%s-reader", B.cfg.pod_id);
    bad |= kafka_set(conf, "client.id", num);
    bad |= kafka_set(conf, "enable.auto.offset.store", "false");
    bad |= kafka_set(conf, "enable.auto.commit", "true");
    snprintf(num, sizeof(num), "%" PRId64, B.cfg.consumer_commit_ms);
    bad |= kafka_set(conf, "auto.commit.interval.ms", num);
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
    if (!rk) {
        log_error("kafka consumer: %s", err);
        return NULL;
    }
    reader_t *r = calloc(1, sizeof(*r));
    if (!r) {
        rd_kafka_destroy(rk);
        return NULL;
    }
    snprintf(r->pod, sizeof(r->pod), "%s", pod);
    r->epoch = epoch;
    r->takeover = takeover;
    r->rk = rk;
    r->partition = hash_kafka_partition(pod, strlen(pod), B.partitions);
    offset_track_init(&r->track);
    rd_kafka_poll_set_consumer(rk);
    r->q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_queue_io_event_enable(r->q, B.wake[1], "1", 1);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, B.cfg.commands_topic, r->partition)->offset =
        RD_KAFKA_OFFSET_STORED;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (aerr)
        log_error("assign %s[%d]: %s", B.cfg.commands_topic, (int)r->partition,
                  rd_kafka_err2str(aerr));
    char labels[COMMAND_POD_MAX * 2 + 64], esc[COMMAND_POD_MAX * 2 + 1];
    metrics_label_escape(pod, esc, sizeof(esc));
    snprintf(labels, sizeof(labels), "partition=\"%d\",pod=\"%s\"", (int)r->partition, esc);
    r->m_lag = metrics_gauge("bridge_consumer_lag", "records of a partition not read yet", labels);
    r->next = B.readers;
    B.readers = r;
    log_info("reading %s[%d] for pod %s (group %s)%s", B.cfg.commands_topic, (int)r->partition, pod,
             group, takeover ? ": orphan takeover" : "");
    return r;
}

/* Stops reading. Commands waiting for a LOOKUP or parked are let go without storing their
 * offsets: whoever reads the partition next (the pod itself after a restart or return, or a
 * taker-over) reads them again. A command whose DEDUP was sent is kept until it is final: the
 * registry may have taken its key for us, and a re-read copy would then be refused as a
 * duplicate. The reader is destroyed (committing what was stored) once nothing refers to it. */
static void reader_stop(reader_t *r)
{
    r->stopping = true;
    for (cmd_t *c = B.cmd_head, *n; c; c = n) {
        n = c->next;
        if (c->reader == r && (c->state == CMD_LOOKUP || c->state == CMD_PARKED))
            cmd_unlink(c);
    }
}

static void reader_destroy(reader_t *r)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(r->rk, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("final commit of %s[%d]: %s", B.cfg.commands_topic, (int)r->partition,
                 rd_kafka_err2str(err));
    rd_kafka_queue_destroy(r->q);
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    metrics_gauge_set(r->m_lag, 0);
    offset_track_free(&r->track);
    for (reader_t **p = &B.readers; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    free(r);
}

static reader_t *reader_find(const char *pod, bool takeover)
{
    for (reader_t *r = B.readers; r; r = r->next)
        if (r->takeover == takeover && strcmp(r->pod, pod) == 0)
            return r;
    return NULL;
}

static void on_takeover(const env_takeover_t *m)
{
    char pod[COMMAND_POD_MAX + 1];
    env_str_copy(m->pod, pod, sizeof(pod));
    reader_t *r = reader_find(pod, true);
    if (r && r->stopping)
        r = NULL; /* on its way out: a new claim gets a new reader */
    switch (command_takeover_action(B.cfg.pod_id, pod, m->active, r != NULL)) {
    case TAKEOVER_IGNORE:
        log_info("TAKEOVER of pod '%s' (active %d) ignored", pod, (int)m->active);
        break;
    case TAKEOVER_KEEP:
        r->epoch = m->epoch;
        break;
    case TAKEOVER_START:
        if (!B.partitions) {
            log_warn("TAKEOVER of pod %s before the partition count is known: ignored", pod);
            break;
        }
        if (reader_new(pod, m->epoch, true)) {
            metrics_counter_add(B.m_takeovers, 1);
            log_info("orphan takeover of pod %s (epoch %" PRIu64 ")", pod, m->epoch);
        }
        break;
    case TAKEOVER_STOP:
        log_info("orphan takeover of pod %s ends: claim lost or pod back", pod);
        reader_stop(r);
        break;
    }
}

/* Periodic work: due commands, drained takeovers, lag. */
static void commands_tick(void)
{
    int64_t now = clock_now_ms();
    /* collect first: acting on one command may serve delivery reports that finish others */
    size_t n = 0;
    for (cmd_t *c = B.cmd_head; c; c = c->next)
        n += c->due_ms <= now;
    uint64_t *due = n ? malloc(n * sizeof(*due)) : NULL;
    size_t k = 0;
    for (cmd_t *c = B.cmd_head; c && due && k < n; c = c->next)
        if (c->due_ms <= now)
            due[k++] = c->token;
    for (size_t i = 0; i < k; i++) {
        cmd_t *c = u64map_get(B.cmds, due[i]);
        if (!c || c->due_ms > now)
            continue;
        switch (c->state) {
        case CMD_PARKED:
            cmd_route(c, false, NULL, false); /* re-check: expired or LOOKUP again */
            break;
        case CMD_LOOKUP:
            if (now >= c->rec.expires_at_ms)
                cmd_route(c, false, NULL, false);
            else
                cmd_lookup(c);
            break;
        case CMD_DEDUP:
            cmd_dedup(c);
            break;
        case CMD_OUTPUT:
            if (c->pending == 0 && c->failed)
                cmd_output(c);
            break;
        case CMD_AT_CORE:
            /* core owns the charge point's timeout; this is the backstop for a core that died
             * with the command (its DEDUP key is taken, so nobody else would answer it) */
            metrics_count("bridge_core_timeouts_total",
                          "commands finished as timeout because core never answered", NULL, NULL);
            cmd_finish(c, "timeout", "no result from ocpp-core", false);
            break;
        }
    }
    free(due);
    for (reader_t *r = B.readers, *rn; r; r = rn) {
        rn = r->next;
        int64_t lo = 0, hi = 0;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, B.cfg.commands_topic, r->partition);
        if (rd_kafka_get_watermark_offsets(r->rk, B.cfg.commands_topic, r->partition, &lo, &hi) ==
                0 &&
            rd_kafka_position(r->rk, l) == 0 && l->elems[0].offset >= 0)
            metrics_gauge_set(r->m_lag, hi - l->elems[0].offset);
        rd_kafka_topic_partition_list_destroy(l);
        if (r->takeover && !r->stopping &&
            command_takeover_drained(r->eof, offset_track_open(&r->track), r->refs)) {
            log_info("pod %s drained (epoch %" PRIu64 "): TAKEOVER_DONE", r->pod, r->epoch);
            char pod[COMMAND_POD_MAX + 1];
            snprintf(pod, sizeof(pod), "%s", r->pod);
            envelope_t env = {.type = ENV_TAKEOVER_DONE};
            env.u.takeover_done.pod = env_str(pod);
            env.u.takeover_done.epoch = r->epoch;
            r->stopping = true;
            reader_destroy(r); /* commits first, so the next reader starts after the drain */
            send_registry(&env);
            continue;
        }
        if (r->stopping && r->refs == 0)
            reader_destroy(r);
    }
}

static void commands_poll(void)
{
    for (reader_t *r = B.readers; r; r = r->next)
        if (!r->stopping)
            reader_poll(r);
}

/* Learns N from the metadata and starts reading our partition; retried until it works. */
static void commands_start(void)
{
    if (!B.cfg.commands_enabled || B.partitions || B.stopping)
        return;
    rd_kafka_topic_t *t = rd_kafka_topic_new(B.rk, B.cfg.commands_topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(B.rk, 0, t, &md, 2000);
    if (!err && md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
        B.partitions = md->topics[0].partition_cnt;
    else
        log_warn("metadata of %s not available yet: %s", B.cfg.commands_topic,
                 err ? rd_kafka_err2str(err)
                     : rd_kafka_err2str(md->topic_cnt ? md->topics[0].err
                                                      : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    if (B.partitions && !reader_new(B.cfg.pod_id, 0, false))
        B.partitions = 0;
}

static void dispatch(const envelope_t *env, void *arg)
{
    (void)arg;
    switch (env->type) {
    case ENV_EVENT:
        on_event(&env->u.event);
        break;
    case ENV_RESULT:
        on_result(&env->u.result);
        break;
    case ENV_OWNER:
        on_owner(&env->u.owner);
        break;
    case ENV_DEDUP_RESULT:
        on_dedup_result(&env->u.dedup_result);
        break;
    case ENV_TAKEOVER:
        on_takeover(&env->u.takeover);
        break;
    default:
        channel_reject("unexpected type", "the pod", env);
    }
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)arg;
    channel_drain(sock, 4096, "the pod", dispatch, NULL);
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
    commands_poll();
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
    commands_start();
    return 0;
}

static int on_command_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    commands_poll();
    commands_tick();
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
    int rc = service_setup("kafka-bridge", BRIDGE_CONFIG, BRIDGE_CONFIG_COUNT, &B.cfg, argc, argv,
                           &B.cfg.pod_id, &B.cfg.log_level);
    if (rc != SERVICE_RUN)
        return rc;

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
    B.m_consumed = metrics_counter("bridge_commands_read_total",
                                   "records read from commands-down "
                                   "(own and taken-over partitions)",
                                   NULL);
    B.m_forwards = metrics_counter("bridge_commands_forwarded_total",
                                   "commands re-published to the partition of the pod that holds "
                                   "the charge point",
                                   NULL);
    B.m_parks =
        metrics_counter("bridge_commands_parked_total",
                        "commands parked because their charge point was connected nowhere", NULL);
    B.m_skipped = metrics_counter("bridge_commands_skipped_total",
                                  "records addressed to another pod sharing the partition", NULL);
    B.m_duplicates = metrics_counter("bridge_commands_duplicate_total",
                                     "commands not sent again: DEDUP said already delivered", NULL);
    B.m_takeovers =
        metrics_counter("bridge_orphan_takeovers_total", "dead pods' partitions taken over", NULL);
    B.m_lookups = metrics_counter("bridge_lookups_total", "LOOKUPs sent to the registry", NULL);
    B.m_dedups = metrics_counter("bridge_dedups_total", "DEDUPs sent to the registry", NULL);
    B.m_inflight = metrics_gauge("bridge_commands_inflight",
                                 "commands read without a final outcome yet", NULL);
    B.m_parked = metrics_gauge("bridge_commands_parked", "commands parked now", NULL);
    /* tokens are also the request ids of DEDUP, whose Redis value is <pod>/<request_id>: they
     * must never repeat across restarts, or a replayed command could find "its own" key */
    B.next_token = clock_now_us();
    B.cmds = u64map_new(1024);
    if (!B.cmds)
        return 1;

    B.rk = producer_new();
    if (!B.rk)
        return 1;
    if (pipe2(B.wake, O_NONBLOCK | O_CLOEXEC) < 0)
        return 1;
    B.mainq = rd_kafka_queue_get_main(B.rk);
    rd_kafka_queue_io_event_enable(B.mainq, B.wake[1], "1", 1);

    B.pull = channel_pull_at(B.cfg.ipc_dir, "bridge", (int)B.cfg.zmq_hwm);
    B.registry = channel_push_to(B.cfg.ipc_dir, "registry", (int)B.cfg.zmq_hwm);
    B.cores = channel_push_to_cores(B.cfg.ipc_dir, B.cfg.core_count, (int)B.cfg.zmq_hwm);
    if (!B.pull || !B.registry || !B.cores)
        return 1;
    msgpack_sbuffer_init(&B.scratch);

    zloop_t *loop = zloop_new();
    service_zloop_signals(loop, NULL, NULL); /* SIGTERM: the loop ends, then the flush below */
    zloop_reader(loop, B.pull, on_input, NULL);
    zmq_pollitem_t wake = {NULL, B.wake[0], ZMQ_POLLIN, 0};
    zloop_poller(loop, &wake, on_kafka_wake, NULL);
    zloop_timer(loop, 1000, 0, on_tick, NULL);
    zloop_timer(loop, 100, 0, on_command_tick, NULL);
    commands_start();
    admin_http_set_ready(B.admin, true, NULL);
    log_info("bridge for pod %s, kafka %s", B.cfg.pod_id, B.cfg.kafka_brokers);
    zloop_start(loop);

    log_info("stopping: flushing %d queued records", rd_kafka_outq_len(B.rk));
    admin_http_set_ready(B.admin, false, "stopping");
    /* take what is still in our input, then flush everything (PERFORMANCE.md trap 7) */
    B.stopping = true;
    for (reader_t *r = B.readers; r; r = r->next)
        reader_stop(r); /* no new commands; waiting ones are read again after the restart */
    on_input(loop, B.pull, NULL);
    rd_kafka_resp_err_t ferr = rd_kafka_flush(B.rk, (int)B.cfg.flush_timeout_ms);
    if (ferr) {
        log_error("flush incomplete: %d records not delivered", rd_kafka_outq_len(B.rk));
        /* their reports (not persisted) are served now, while their commands still exist */
        rd_kafka_purge(B.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(B.rk, 0);
    }
    /* commands at a core or not persisted: their offsets stay uncommitted (read again) */
    while (B.cmd_head)
        cmd_unlink(B.cmd_head);
    while (B.readers)
        reader_destroy(B.readers); /* commits the offsets stored */
    u64map_destroy(&B.cmds);
    zloop_destroy(&loop);
    rd_kafka_queue_destroy(B.mainq);
    rd_kafka_destroy(B.rk);
    close(B.wake[0]);
    close(B.wake[1]);
    channel_push_to_cores_destroy(&B.cores, B.cfg.core_count);
    zsock_destroy(&B.pull);
    zsock_destroy(&B.registry);
    msgpack_sbuffer_destroy(&B.scratch);
    admin_http_stop(&B.admin);
    metrics_shutdown();
    config_free(BRIDGE_CONFIG, BRIDGE_CONFIG_COUNT, &B.cfg);
    return 0;
}
