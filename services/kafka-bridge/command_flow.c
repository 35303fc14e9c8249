/* command_flow: the command lifecycle engine of kafka-bridge. See command_flow.h for its events,
 * effects and states; docs/commands.md for the rules. Read top to bottom, a command goes:
 * on_record -> cmd_route -> (lookup -> on_owner -> cmd_route) -> dedup -> on_dedup_result ->
 * cmd_to_core -> core_pump (COMMAND) -> on_result -> cmd_output -> on_delivery -> cmd_settle ->
 * cmd_done (offset stored). Peers' restarts (ANNOUNCE) come in through on_announce.
 *
 * Re-entrancy: while the producer queue is full, the shell's produce effect serves delivery
 * reports, so command_flow_on_delivery() may run inside any produce call and finish (free) other
 * commands. Hence cmd_output() holds its own command until it returned, and the tick collects
 * the due tokens before acting on any. A function that may produce (cmd_output, cmd_finish,
 * cmd_route) may free its command: callers do not touch it afterwards. */
#include "command_flow.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "bridge_metrics.h"
#include "command_route.h"
#include "hash.h"
#include "hex.h"
#include "log.h"
#include "offset_track.h"
#include "u64map.h"

/* One reader of one partition of commands-down: ours, or a dead pod's taken over. */
typedef struct reader {
    uint32_t id;
    char pod[COMMAND_POD_MAX + 1];
    uint64_t epoch; /* takeover epoch (0: our own partition) */
    bool takeover, stopping, paused, eof;
    bool done_after;       /* takeover ended for good: TAKEOVER_DONE once destroyed */
    bool drained_logged;   /* takeover: "drained" said since its last record */
    int64_t confirm_by_ms; /* takeover to be confirmed by a restarted registry by then (0: no) */
    /* the partition count changed and the pod's partition moved: a new reader reads the new one,
     * this one reads on until drained and at least until drain_until_ms, then stops */
    bool draining;
    int64_t drain_until_ms;
    int32_t partition;
    offset_track_t track;
    size_t refs; /* commands alive that came from here */
    struct reader *next;
} reader_t;

/* A takeover this bridge stopped itself because the taken-over pod is alive again (a record read
 * there was for that pod): the registry still holds the claim until it sees the pod's lease and
 * says TAKEOVER active=false. If it does not say so by resume_ms (the pod died again before the
 * registry noticed it alive, and the claim was merely extended), reading resumes: a claim held
 * must never leave the partition unread. */
typedef struct yielded {
    char pod[COMMAND_POD_MAX + 1];
    uint64_t epoch;
    int64_t resume_ms;
    struct yielded *next;
} yielded_t;

typedef enum {
    CMD_LOOKUP,   /* LOOKUP sent, waiting for OWNER */
    CMD_PARKED,   /* nobody holds the charge point: re-check at due_ms */
    CMD_DEDUP,    /* DEDUP sent, waiting for DEDUP_RESULT */
    CMD_HANDOVER, /* DEDUP said first; its core's queue is full: in the core's wait list */
    CMD_AT_CORE,  /* COMMAND handed to core, waiting for RESULT */
    CMD_OUTPUT,   /* producing its output (result / DLQ / forward); retried at due_ms on failure */
} cmd_state_t;

/* The parts of a command's output; a delivery cookie is token << PART_BITS | part. */
enum {
    PART_MAIN = 1,
    PART_DLQ = 2,
    PART_BITS = 2
};

typedef enum {
    OUT_FINAL,      /* a result the bridge decides (expired, invalid, timeout, rejected) */
    OUT_FORWARD,    /* the record re-published to its owner's partition */
    OUT_CORE_RESULT /* core's RESULT */
} out_kind_t;

typedef struct cmd {
    reader_t *reader; /* NULL: a RESULT of an earlier bridge instance being published */
    int64_t offset, record_ts_ms, received_ms, due_ms;
    int64_t decided_ms; /* when its output was first produced: the ce_time of result and DLQ copy */
    uint64_t token;     /* key in cmds; also the request_id of LOOKUP and DEDUP */
    command_record_t rec;
    char *value; /* the record as read, NUL-terminated */
    size_t len;
    cmd_state_t state;
    int attempts;
    /* output */
    out_kind_t out;
    unsigned need;        /* PART_* bits not persisted yet */
    unsigned outstanding; /* PART_* bits produced whose report has not come back */
    bool holding;         /* cmd_output() is producing: reports meanwhile must not finish it */
    bool in_wait;         /* in its core's wait list */
    /* DEDUP before a result the bridge decides itself (status, reason below): first, the
     * result (with a DLQ copy when claim_dlq); not first, finished elsewhere */
    bool claim, claim_dlq;
    bool id_made_up; /* no readable command_id: answered under commands-down[<p>]@<offset> */
    char traceparent[COMMAND_TRACEPARENT_LEN + 1]; /* "" when none */
    char status[16];
    char reason[160];
    char owner[COMMAND_POD_MAX + 1];
    uint8_t *core_value; /* RESULT value from core */
    size_t core_len;
    uint32_t core;     /* HANDOVER, AT_CORE: the core it is for */
    int64_t handed_ms; /* AT_CORE: when the core took it */
    struct cmd *prev, *next;
    struct cmd *wait_prev, *wait_next; /* HANDOVER: its core's wait list, in order */
} cmd_t;

struct command_flow {
    command_flow_config_t cfg; /* its strings point to the copies below */
    char *pod_id, *commands_topic, *results_topic, *dlq_topic;
    const command_flow_ops_t *ops;
    void *arg;
    int32_t partitions; /* of commands-down (0: not started) */
    bool stopping;
    reader_t *readers;
    uint32_t next_reader;
    yielded_t *yields;
    u64map_t *cmds;
    cmd_t *cmd_head;
    size_t cmd_count;
    uint64_t next_token;
    /* peers' instances from their ANNOUNCE (0: not heard yet) */
    uint64_t *core_instance;
    uint64_t registry_instance;
    int64_t next_announce_ms;
    /* per core: commands DEDUP allowed that wait for room, oldest first */
    cmd_t **wait_head, **wait_tail;
    metrics_counter_t *m_moves;
    metrics_counter_t *m_read, *m_forwards, *m_parks, *m_skipped, *m_duplicates, *m_takeovers,
        *m_lookups, *m_dedups, *m_retries, *m_core_timeouts, *m_core_restart_timeouts, *m_core_full,
        *m_relayed, *m_late, *m_elsewhere, *m_yielded;
    metrics_gauge_t *m_inflight, *m_parked, *m_waiting;
};

/* The CloudEvents Kafka binding reads a record's type from its content-type header: results and
 * forwarded commands are plain JSON documents, a DLQ copy is the record as it was read (JSON, or
 * bytes that were not). Results and DLQ copies are also CloudEvents in the binding's binary mode
 * (ce_* headers, the value is the event's data): a consumer with a CloudEvents SDK reads them as
 * events, one without sees the same plain value (docs/commands.md). */
#define CONTENT_TYPE_JSON  "application/json"
#define CONTENT_TYPE_BYTES "application/octet-stream"
#define CE_TYPE_RESULT     "command.result"
#define CE_TYPE_DLQ        "command.dead_lettered"
#define CE_SCHEMA_RESULT   "https://ocppgw.example/unified/result.json"

static int64_t ms_of(uint64_t now_us)
{
    return (int64_t)(now_us / 1000);
}

/* ---------------------------------------------------------------------------------------
 * Readers */

static reader_t *reader_get(command_flow_t *f, uint32_t id)
{
    for (reader_t *r = f->readers; r; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

/* A live (not stopping, not draining an old partition) reader of pod's partition. */
static reader_t *reader_find(command_flow_t *f, const char *pod, bool takeover)
{
    for (reader_t *r = f->readers; r; r = r->next)
        if (r->takeover == takeover && !r->stopping && !r->draining && strcmp(r->pod, pod) == 0)
            return r;
    return NULL;
}

static reader_t *reader_new(command_flow_t *f, const char *pod, uint64_t epoch, bool takeover)
{
    reader_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->id = ++f->next_reader;
    snprintf(r->pod, sizeof(r->pod), "%s", pod);
    r->epoch = epoch;
    r->takeover = takeover;
    r->partition = hash_kafka_partition(pod, strlen(pod), f->partitions);
    offset_track_init(&r->track);
    if (r->partition < 0 ||
        f->ops->reader_start(f->arg, r->id, r->pod, r->partition, takeover) < 0) {
        free(r);
        return NULL;
    }
    r->next = f->readers;
    f->readers = r;
    /* a new reader starts paused when the engine is full, like every other one */
    if (f->cmd_count >= (size_t)f->cfg.max_inflight) {
        f->ops->reader_pause(f->arg, r->id, true);
        r->paused = true;
    }
    return r;
}

/* Commits what was stored and forgets the reader; nothing may refer to it (refs == 0). */
static void reader_destroy(command_flow_t *f, reader_t *r)
{
    f->ops->reader_destroy(f->arg, r->id);
    for (reader_t **p = &f->readers; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    offset_track_free(&r->track);
    free(r);
}

/* At most command_max_inflight commands wait at once: beyond, every reader pauses. */
static void readers_pause_if_full(command_flow_t *f)
{
    if (f->cmd_count < (size_t)f->cfg.max_inflight)
        return;
    for (reader_t *r = f->readers; r; r = r->next)
        if (!r->paused && !r->stopping) {
            f->ops->reader_pause(f->arg, r->id, true);
            r->paused = true;
            log_warn("%zu commands in flight: reading paused", f->cmd_count);
        }
}

/* Reading goes on once half of the room is free again (hysteresis). */
static void readers_resume_if_room(command_flow_t *f)
{
    if (f->cmd_count >= (size_t)f->cfg.max_inflight / 2 + 1)
        return;
    for (reader_t *r = f->readers; r; r = r->next)
        if (r->paused && !r->stopping) {
            f->ops->reader_pause(f->arg, r->id, false);
            r->paused = false;
        }
}

/* ---------------------------------------------------------------------------------------
 * Command bookkeeping */

static void cmd_set_state(command_flow_t *f, cmd_t *c, cmd_state_t st)
{
    if (c->state == CMD_PARKED && st != CMD_PARKED)
        metrics_gauge_add(f->m_parked, -1);
    else if (c->state != CMD_PARKED && st == CMD_PARKED)
        metrics_gauge_add(f->m_parked, 1);
    if (c->state == CMD_HANDOVER && st != CMD_HANDOVER)
        metrics_gauge_add(f->m_waiting, -1);
    else if (c->state != CMD_HANDOVER && st == CMD_HANDOVER)
        metrics_gauge_add(f->m_waiting, 1);
    c->state = st;
}

/* The wait list of c's core: commands the core had no room for, handed over in read order (one
 * charge point's commands keep their order). */
static void wait_push(command_flow_t *f, cmd_t *c)
{
    c->in_wait = true;
    c->wait_next = NULL;
    c->wait_prev = f->wait_tail[c->core];
    if (c->wait_prev)
        c->wait_prev->wait_next = c;
    else
        f->wait_head[c->core] = c;
    f->wait_tail[c->core] = c;
}

static void wait_remove(command_flow_t *f, cmd_t *c)
{
    if (!c->in_wait)
        return;
    c->in_wait = false;
    if (c->wait_prev)
        c->wait_prev->wait_next = c->wait_next;
    else
        f->wait_head[c->core] = c->wait_next;
    if (c->wait_next)
        c->wait_next->wait_prev = c->wait_prev;
    else
        f->wait_tail[c->core] = c->wait_prev;
    c->wait_prev = c->wait_next = NULL;
}

/* Forgets the command; its offset stays open unless cmd_done() marked it final. */
static void cmd_unlink(command_flow_t *f, cmd_t *c)
{
    u64map_remove(f->cmds, c->token);
    if (c->prev)
        c->prev->next = c->next;
    else
        f->cmd_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    f->cmd_count--;
    metrics_gauge_set(f->m_inflight, (int64_t)f->cmd_count);
    if (c->state == CMD_PARKED)
        metrics_gauge_add(f->m_parked, -1);
    if (c->state == CMD_HANDOVER)
        metrics_gauge_add(f->m_waiting, -1);
    wait_remove(f, c);
    if (c->reader)
        c->reader->refs--;
    free(c->value);
    free(c->core_value);
    free(c);
}

/* The record has its final outcome (persisted) or is not ours: its offset may be stored. */
static void cmd_done(command_flow_t *f, cmd_t *c)
{
    reader_t *r = c->reader;
    int64_t next = r ? offset_track_done(&r->track, c->offset) : -1;
    if (next >= 0)
        f->ops->store_offset(f->arg, r->id, next);
    cmd_unlink(f, c);
    readers_resume_if_room(f);
}

/* ---------------------------------------------------------------------------------------
 * Output: result, DLQ copy, forward; persisted before the command is done */

static void cmd_produce_part(command_flow_t *f, cmd_t *c, unsigned part, const char *topic,
                             int32_t partition, const char *key, const env_headers_t *h,
                             const void *value, size_t len)
{
    command_flow_record_t rec = {.topic = topic,
                                 .partition = partition,
                                 .key = env_str(key),
                                 .headers = h,
                                 .value = {(const uint8_t *)value, len}};
    c->outstanding |= part;
    if (f->ops->produce(f->arg, &rec, c->token << PART_BITS | part) < 0)
        c->outstanding &= ~part; /* not queued: no report comes, the part stays needed */
}

/* The command's traceparent as one more header, when it has one. */
static void add_traceparent(env_headers_t *h, const cmd_t *c)
{
    if (c->traceparent[0])
        h->items[h->count++] = (env_header_t){env_str("traceparent"), env_str(c->traceparent)};
}

/* The ce_* attributes' text, alive while a part is produced. */
typedef struct {
    char id[33], time[32], source[COMMAND_POD_MAX + 16];
} ce_text_t;

/* Appends the binary-mode CloudEvents headers of c's record of type `type` to h. The id is the
 * SHA-256 of type and command id: a result or DLQ copy produced again (after a crash, on any pod)
 * has the id it had, so consumers de-duplicate it like any event (DESIGN §3). */
static void add_ce_headers(env_headers_t *h, ce_text_t *t, const command_flow_t *f, const cmd_t *c,
                           const char *type, const char *schema)
{
    char key[COMMAND_ID_MAX + 64];
    int n = snprintf(key, sizeof(key), "%s\n%s", type, c->rec.command_id);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, n < (int)sizeof(key) ? (size_t)n : sizeof(key) - 1, md);
    hex_encode(md, 16, t->id);
    time_t secs = (time_t)(c->decided_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t len = strftime(t->time, sizeof(t->time), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(t->time + len, sizeof(t->time) - len, ".%03dZ", (int)(c->decided_ms % 1000));
    snprintf(t->source, sizeof(t->source), "/ocppgw/%s", f->pod_id);
    h->items[h->count++] = (env_header_t){env_str("ce_specversion"), env_str("1.0")};
    h->items[h->count++] = (env_header_t){env_str("ce_id"), env_str(t->id)};
    h->items[h->count++] = (env_header_t){env_str("ce_type"), env_str(type)};
    h->items[h->count++] = (env_header_t){env_str("ce_source"), env_str(t->source)};
    h->items[h->count++] = (env_header_t){env_str("ce_time"), env_str(t->time)};
    if (c->rec.cp_id[0])
        h->items[h->count++] = (env_header_t){env_str("ce_subject"), env_str(c->rec.cp_id)};
    if (schema)
        h->items[h->count++] = (env_header_t){env_str("ce_dataschema"), env_str(schema)};
}

/* The DLQ copy: the record as read, with status, reason, pod, content-type, traceparent and
 * CloudEvents headers. */
static void cmd_produce_dlq(command_flow_t *f, cmd_t *c)
{
    ce_text_t ce;
    env_headers_t dh = {.count = 4};
    dh.items[0] = (env_header_t){env_str("status"), env_str(c->status)};
    dh.items[1] = (env_header_t){env_str("reason"), env_str(c->reason)};
    dh.items[2] = (env_header_t){env_str("pod"), env_str(f->pod_id)};
    dh.items[3] = (env_header_t){env_str("content-type"),
                                 env_str(c->rec.is_json ? CONTENT_TYPE_JSON : CONTENT_TYPE_BYTES)};
    add_traceparent(&dh, c);
    add_ce_headers(&dh, &ce, f, c, CE_TYPE_DLQ, NULL);
    cmd_produce_part(f, c, PART_DLQ, f->dlq_topic, COMMAND_FLOW_PARTITION_ANY, c->rec.command_id,
                     &dh, c->value, c->len);
}

static void cmd_produce_forward(command_flow_t *f, cmd_t *c)
{
    size_t len = 0;
    char *fwd = command_forward_json(c->value, c->len, &c->rec, c->owner, &len);
    int32_t p = hash_kafka_partition(c->owner, strlen(c->owner), f->partitions);
    if (fwd && p >= 0) {
        env_headers_t fh = {.count = 2};
        fh.items[0] = (env_header_t){env_str("target_pod"), env_str(c->owner)};
        fh.items[1] = (env_header_t){env_str("content-type"), env_str(CONTENT_TYPE_JSON)};
        add_traceparent(&fh, c);
        cmd_produce_part(f, c, PART_MAIN, f->commands_topic, p, c->owner, &fh, fwd, len);
    }
    free(fwd);
}

/* The result on command-results: core's record as it is, or one the bridge writes. */
static void cmd_produce_result(command_flow_t *f, cmd_t *c, int64_t now)
{
    ce_text_t ce;
    env_headers_t h = {.count = 2};
    h.items[0] = (env_header_t){env_str("status"), env_str(c->status)};
    h.items[1] = (env_header_t){env_str("content-type"), env_str(CONTENT_TYPE_JSON)};
    add_traceparent(&h, c);
    add_ce_headers(&h, &ce, f, c, CE_TYPE_RESULT, CE_SCHEMA_RESULT);
    if (c->out == OUT_CORE_RESULT) {
        cmd_produce_part(f, c, PART_MAIN, f->results_topic, COMMAND_FLOW_PARTITION_ANY,
                         c->rec.command_id, &h, c->core_value, c->core_len);
        return;
    }
    size_t len = 0;
    char *res = command_result_json(c->rec.command_id, c->rec.cp_id, c->status, c->reason,
                                    c->received_ms, now, f->pod_id, &len);
    if (res) /* else the part stays needed: tried again later */
        cmd_produce_part(f, c, PART_MAIN, f->results_topic, COMMAND_FLOW_PARTITION_ANY,
                         c->rec.command_id, &h, res, len);
    free(res);
}

static void cmd_settle(command_flow_t *f, cmd_t *c, int64_t now);
static void readers_follow_count(command_flow_t *f, int64_t now);

/* Buckets of bridge_command_duration_seconds: a command read to its final result takes from
 * milliseconds (refused at once) to minutes (parked, or a slow charge point), up to the
 * default lifetime of 10 minutes and the backstop beyond it. */
static const double DURATION_BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,    2.5,
                                          5,     10,   30,    60,   120, 300,  600, 1800, 3600};

/* Read -> final result persisted, by action (bounded) and status. */
static void observe_duration(const cmd_t *c, int64_t now)
{
    char labels[128];
    snprintf(labels, sizeof(labels), "action=\"%s\",status=\"%s\"",
             command_action_label(c->rec.action), command_status_label(c->status));
    const metrics_def_t *def = BRIDGE_METRIC(BRIDGE_M_COMMAND_DURATION);
    metrics_histogram_t *h =
        metrics_histogram(def->name, def->help, labels, DURATION_BUCKETS,
                          sizeof(DURATION_BUCKETS) / sizeof(DURATION_BUCKETS[0]));
    int64_t ms = now > c->received_ms ? now - c->received_ms : 0;
    metrics_histogram_observe(h, (double)ms / 1000.0);
}

/* (Re)produces what the command still needs persisted. Each part is marked outstanding before
 * it is produced, and the command is held for the whole call, so reports served meanwhile never
 * finish it under our feet. May free c. */
static void cmd_output(command_flow_t *f, cmd_t *c, int64_t now)
{
    cmd_set_state(f, c, CMD_OUTPUT);
    if (!c->decided_ms)
        c->decided_ms = now;
    c->holding = true;
    if (c->out == OUT_FORWARD)
        cmd_produce_forward(f, c);
    else if (c->need & PART_MAIN)
        cmd_produce_result(f, c, now);
    if (c->out != OUT_FORWARD && (c->need & PART_DLQ))
        cmd_produce_dlq(f, c);
    c->holding = false;
    cmd_settle(f, c, now);
}

/* Once no report is outstanding: done when every part is persisted, else produced again later
 * (never reported done when it was not persisted). May free c. */
static void cmd_settle(command_flow_t *f, cmd_t *c, int64_t now)
{
    if (c->holding || c->outstanding)
        return;
    if (c->need == 0) {
        if (c->out == OUT_FORWARD) {
            metrics_counter_add(f->m_forwards, 1);
            log_info("command %s for %s forwarded to pod %s (hop %" PRId64 ")", c->rec.command_id,
                     c->rec.cp_id, c->owner, c->rec.hops + 1);
        } else {
            metrics_def_count(BRIDGE_METRIC(BRIDGE_M_COMMANDS_TOTAL), c->status);
            if (c->reader) /* read here (a relayed RESULT's read time is unknown) */
                observe_duration(c, now);
        }
        cmd_done(f, c);
        return;
    }
    metrics_counter_add(f->m_retries, 1);
    c->due_ms = now + f->cfg.park_backoff_ms;
}

void command_flow_on_delivery(command_flow_t *self, uint64_t cookie, int err, uint64_t now_us)
{
    unsigned part = (unsigned)(cookie & ((1u << PART_BITS) - 1));
    cmd_t *c = u64map_get(self->cmds, cookie >> PART_BITS);
    if (!c || (part != PART_MAIN && part != PART_DLQ) || !(c->outstanding & part)) {
        log_debug("delivery report for unknown cookie %" PRIu64 " ignored", cookie);
        return;
    }
    c->outstanding &= ~part;
    if (!err)
        c->need &= ~part;
    cmd_settle(self, c, ms_of(now_us));
}

static void cmd_set_result(cmd_t *c, const char *status, const char *reason)
{
    snprintf(c->status, sizeof(c->status), "%s", status);
    snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
}

/* Produces the result set by cmd_set_result (and a DLQ copy when dlq). May free c. */
static void cmd_produce_final(command_flow_t *f, cmd_t *c, bool dlq, int64_t now)
{
    c->out = OUT_FINAL;
    c->need = PART_MAIN | (dlq ? PART_DLQ : 0);
    log_info("command %s for %s: %s (%s)", c->rec.command_id[0] ? c->rec.command_id : "?",
             c->rec.cp_id[0] ? c->rec.cp_id : "?", c->status, c->reason);
    cmd_output(f, c, now);
}

/* Final result status with reason (and a DLQ copy when dlq), for a command whose DEDUP key this
 * bridge holds already (it passed DEDUP on its way to core). May free c. */
static void cmd_finish(command_flow_t *f, cmd_t *c, const char *status, const char *reason,
                       bool dlq, int64_t now)
{
    cmd_set_result(c, status, reason);
    cmd_produce_final(f, c, dlq, now);
}

static void cmd_dedup(command_flow_t *f, cmd_t *c, int64_t now);

/* A final result the bridge decides by itself (expired, the hop limit, invalid) for a command that
 * has not passed DEDUP: it takes the command's DEDUP key first. Another reader of the same
 * partition (the pod restarted or resumed and re-reading from its committed offsets, a takeover,
 * the pod itself after a takeover finished the command) may have delivered or finished this very
 * command: then DEDUP says not first and this copy ends without a result. The key also stops any
 * later delivery of the command anywhere. A record without a readable command_id has no key to
 * take: answered at once. May free c. */
static void cmd_decide(command_flow_t *f, cmd_t *c, const char *status, const char *reason,
                       bool dlq, int64_t now)
{
    if (c->id_made_up) {
        cmd_finish(f, c, status, reason, dlq, now);
        return;
    }
    cmd_set_result(c, status, reason);
    c->claim = true;
    c->claim_dlq = dlq;
    cmd_dedup(f, c, now);
}

/* ---------------------------------------------------------------------------------------
 * Routing: lookup, park, de-dup, forward */

/* now + delay, but never past the command's deadline while it waits to be delivered (a result
 * the bridge decided waits for its DEDUP however long it takes: it is final already). */
static int64_t cmd_due_by(const cmd_t *c, int64_t now, int64_t delay)
{
    int64_t due = now + delay;
    if (!c->claim && c->rec.expires_at_ms > 0 && c->rec.expires_at_ms < due)
        due = c->rec.expires_at_ms > now ? c->rec.expires_at_ms : now;
    return due;
}

/* A DEDUP key lives past the command's last moment (its deadline, plus the backstop grace of a
 * command at a core) by command_dedup_ttl_ms: a copy read again after the command ended is still
 * known, however long the command could live (up to a year). */
static uint64_t dedup_ttl_ms(const command_flow_t *f, const cmd_t *c, int64_t now)
{
    int64_t left = c->rec.expires_at_ms > now ? c->rec.expires_at_ms - now : 0;
    return (uint64_t)left + (uint64_t)f->cfg.core_grace_ms + (uint64_t)f->cfg.dedup_ttl_ms;
}

static void cmd_lookup(command_flow_t *f, cmd_t *c, int64_t now)
{
    cmd_set_state(f, c, CMD_LOOKUP);
    c->due_ms = cmd_due_by(c, now, f->cfg.registry_timeout_ms);
    metrics_counter_add(f->m_lookups, 1);
    envelope_t env = {.type = ENV_LOOKUP};
    env.u.lookup.request_id = c->token;
    env.u.lookup.identity = env_str(c->rec.cp_id);
    f->ops->send_registry(f->arg, &env); /* lost: asked again at due_ms */
}

static void cmd_dedup(command_flow_t *f, cmd_t *c, int64_t now)
{
    if (c->state != CMD_DEDUP && c->claim)
        log_info("command %s for %s: %s (%s) unless finished elsewhere, DEDUP", c->rec.command_id,
                 c->rec.cp_id, c->status, c->reason);
    else if (c->state != CMD_DEDUP)
        log_info("command %s for %s: connected here, DEDUP", c->rec.command_id, c->rec.cp_id);
    cmd_set_state(f, c, CMD_DEDUP);
    c->due_ms = cmd_due_by(c, now, f->cfg.registry_timeout_ms);
    metrics_counter_add(f->m_dedups, 1);
    envelope_t env = {.type = ENV_DEDUP};
    env.u.dedup.request_id = c->token;
    env.u.dedup.command_id = env_str(c->rec.command_id);
    env.u.dedup.ttl_ms = dedup_ttl_ms(f, c, now);
    f->ops->send_registry(f->arg, &env); /* lost: asked again at due_ms */
}

static void cmd_park(command_flow_t *f, cmd_t *c, int64_t now)
{
    if (c->attempts == 0) {
        metrics_counter_add(f->m_parks, 1);
        log_info("command %s parked: %s is connected nowhere", c->rec.command_id, c->rec.cp_id);
    }
    cmd_set_state(f, c, CMD_PARKED);
    c->attempts++;
    c->due_ms = now + command_park_delay_ms(c->attempts, f->cfg.park_backoff_ms,
                                            f->cfg.park_backoff_max_ms, now, c->rec.expires_at_ms);
}

static void takeover_yield(command_flow_t *f, cmd_t *c, int64_t now);

/* Runs the routing decision with what is known and carries it out. May free c. */
static void cmd_route(command_flow_t *f, cmd_t *c, bool owner_known, const char *owner, bool live,
                      int64_t now)
{
    route_input_t in = {.self_pod = f->pod_id,
                        .reader_pod = c->reader->pod,
                        .now_ms = now,
                        .max_hops = f->cfg.max_hops,
                        .owner_known = owner_known,
                        .owner = owner,
                        .owner_live = live};
    route_t r = command_route(&c->rec, &in);
    log_debug("command %s for %s: %s", c->rec.command_id, c->rec.cp_id, command_route_name(r));
    switch (r) {
    case ROUTE_SKIP:
        metrics_counter_add(f->m_skipped, 1);
        cmd_done(f, c);
        break;
    case ROUTE_EXPIRED:
        cmd_decide(f, c, "expired", "expires_at passed before the charge point was reached", true,
                   now);
        break;
    case ROUTE_HOPS:
        cmd_decide(f, c, "expired", "hop limit reached while following the charge point", true,
                   now);
        break;
    case ROUTE_LOOKUP:
        cmd_lookup(f, c, now);
        break;
    case ROUTE_HERE:
        cmd_dedup(f, c, now);
        break;
    case ROUTE_FORWARD:
        snprintf(c->owner, sizeof(c->owner), "%s", owner);
        c->out = OUT_FORWARD;
        c->need = PART_MAIN;
        cmd_output(f, c, now);
        break;
    case ROUTE_PARK:
        cmd_park(f, c, now);
        break;
    case ROUTE_YIELD:
        takeover_yield(f, c, now);
        break;
    }
}

/* ---------------------------------------------------------------------------------------
 * Events: a record, OWNER, DEDUP_RESULT, RESULT */

static void cmd_link(command_flow_t *f, cmd_t *c)
{
    c->next = f->cmd_head;
    if (f->cmd_head)
        f->cmd_head->prev = c;
    f->cmd_head = c;
    f->cmd_count++;
    metrics_gauge_set(f->m_inflight, (int64_t)f->cmd_count);
}

/* Takes the record as a new command; NULL when it cannot be kept (not tracked: read again). */
static cmd_t *cmd_new(command_flow_t *f, reader_t *r, int64_t offset, int64_t timestamp_ms,
                      const void *value, size_t len, int64_t now)
{
    cmd_t *c = calloc(1, sizeof(*c));
    char *copy = malloc(len + 1);
    uint64_t token = ++f->next_token;
    int rc = c && copy ? u64map_put(f->cmds, token, c) : -ENOMEM;
    if (rc == 0) {
        rc = offset_track_add(&r->track, offset);
        if (rc < 0)
            u64map_remove(f->cmds, token);
    }
    if (rc < 0) {
        free(c);
        free(copy);
        if (rc == -EINVAL) {
            log_warn("record %s[%d]@%" PRId64 " read again: the first copy is in flight",
                     f->commands_topic, (int)r->partition, offset);
            return NULL;
        }
        /* cannot keep it: no offset past it is stored; it is read again after a restart */
        offset_track_lose(&r->track, offset);
        log_error("no memory for command at %s[%d]@%" PRId64, f->commands_topic, (int)r->partition,
                  offset);
        return NULL;
    }
    if (len)
        memcpy(copy, value, len);
    copy[len] = '\0';
    *c = (cmd_t){.reader = r,
                 .offset = offset,
                 .record_ts_ms = timestamp_ms > 0 ? timestamp_ms : now,
                 .received_ms = now,
                 .token = token,
                 .value = copy,
                 .len = len,
                 .state = CMD_LOOKUP};
    r->refs++;
    cmd_link(f, c);
    return c;
}

void command_flow_on_record(command_flow_t *self, uint32_t reader, int64_t offset,
                            int64_t timestamp_ms, const void *value, size_t len,
                            env_str_t traceparent, uint64_t now_us)
{
    int64_t now = ms_of(now_us);
    reader_t *r = reader_get(self, reader);
    if (!r || r->stopping) {
        log_debug("record of reader %u ignored: it is not reading", reader);
        return; /* not tracked: whoever reads the partition next reads it again */
    }
    r->eof = false;
    r->drained_logged = false;
    metrics_counter_add(self->m_read, 1);
    cmd_t *c = cmd_new(self, r, offset, timestamp_ms, value ? value : "", value ? len : 0, now);
    if (c && command_traceparent_valid(traceparent.ptr, traceparent.len))
        env_str_copy(traceparent, c->traceparent, sizeof(c->traceparent));
    if (c) {
        char why[128] = "";
        if (command_record_parse(c->value, c->len, c->record_ts_ms, self->cfg.default_ttl_ms,
                                 &c->rec, why, sizeof(why)) < 0) {
            metrics_def_count(BRIDGE_METRIC(BRIDGE_M_COMMANDS_INVALID), why);
            if (!c->rec.command_id[0]) {
                c->id_made_up = true;
                snprintf(c->rec.command_id, sizeof(c->rec.command_id), "%s[%d]@%" PRId64,
                         self->commands_topic, (int)r->partition, offset);
            }
            cmd_decide(self, c, "invalid", why, true, now);
        } else {
            cmd_route(self, c, false, NULL, false, now);
        }
    }
    readers_pause_if_full(self);
}

void command_flow_on_eof(command_flow_t *self, uint32_t reader)
{
    reader_t *r = reader_get(self, reader);
    if (r)
        r->eof = true;
}

/* ---------------------------------------------------------------------------------------
 * Handing over to a core: in order per core, waiting while the core is full */

static void core_pump(command_flow_t *f, uint32_t core, int64_t now);

/* DEDUP said first: the command joins its core's wait list, behind any command already waiting
 * there, and goes over as soon as the core takes it. May free c. */
static void cmd_to_core(command_flow_t *f, cmd_t *c, int64_t now)
{
    c->core = hash_core_index(c->rec.cp_id, strlen(c->rec.cp_id), f->cfg.core_count);
    cmd_set_state(f, c, CMD_HANDOVER);
    c->due_ms = INT64_MAX; /* the wait list is pumped every tick, not by due time */
    wait_push(f, c);
    core_pump(f, c->core, now);
}

/* Sends the core's waiting commands, oldest first, while it takes them. A full core (-ENOBUFS,
 * -EAGAIN) keeps the rest waiting for the next tick: the DEDUP key is taken, so the command is
 * never given up for a full core, only when it expires meanwhile (expired: it never reached the
 * charge point), when it cannot be sent at all (rejected), or when the bridge stops. */
static void core_pump(command_flow_t *f, uint32_t core, int64_t now)
{
    cmd_t *c;
    while ((c = f->wait_head[core]) != NULL) {
        if (now >= c->rec.expires_at_ms) {
            wait_remove(f, c);
            cmd_finish(f, c, "expired", "expires_at passed before the charge point was reached",
                       true, now);
            continue;
        }
        envelope_t env = {.type = ENV_COMMAND};
        env.u.command.token = c->token;
        env.u.command.identity = env_str(c->rec.cp_id);
        env.u.command.command_id = env_str(c->rec.command_id);
        env.u.command.record = (env_bin_t){(const uint8_t *)c->value, c->len};
        env.u.command.traceparent = env_str(c->traceparent);
        env.u.command.expires_at_ms = (uint64_t)c->rec.expires_at_ms;
        int rc = f->ops->send_core(f->arg, core, &env);
        if ((rc == -ENOBUFS || rc == -EAGAIN) && !f->stopping) {
            metrics_counter_add(f->m_core_full, 1);
            return;
        }
        wait_remove(f, c);
        if (rc < 0) {
            /* the DEDUP key is taken: nobody will deliver it. Say so. */
            cmd_finish(f, c, "rejected",
                       f->stopping && (rc == -ENOBUFS || rc == -EAGAIN)
                           ? "ocpp-core stayed full until the bridge stopped"
                           : "core did not take the command",
                       true, now);
            continue;
        }
        cmd_set_state(f, c, CMD_AT_CORE);
        c->handed_ms = now;
        c->due_ms = command_core_deadline_ms(now, c->rec.expires_at_ms, f->cfg.core_grace_ms);
        log_info("command %s handed to core %u for %s", c->rec.command_id, core, c->rec.cp_id);
    }
}

static void cores_pump(command_flow_t *f, int64_t now)
{
    for (uint32_t i = 0; i < f->cfg.core_count; i++)
        if (f->wait_head[i])
            core_pump(f, i, now);
}

static void on_owner(command_flow_t *f, const env_owner_t *m, int64_t now)
{
    cmd_t *c = u64map_get(f->cmds, m->request_id);
    if (!c || c->state != CMD_LOOKUP)
        return; /* answered twice (re-sent LOOKUP), or the command went away */
    char pod[COMMAND_POD_MAX + 1];
    env_str_copy(m->pod, pod, sizeof(pod));
    cmd_route(f, c, true, pod, m->live, now);
}

static void on_dedup_result(command_flow_t *f, const env_dedup_result_t *m, int64_t now)
{
    cmd_t *c = u64map_get(f->cmds, m->request_id);
    if (!c || c->state != CMD_DEDUP)
        return;
    if (m->status != 0) {
        /* registry cannot tell (Redis down): do not risk a second delivery; ask again later,
         * or decide expired at the deadline */
        c->due_ms = cmd_due_by(c, now, f->cfg.park_backoff_ms);
        return;
    }
    if (!m->first && c->claim) {
        metrics_counter_add(f->m_elsewhere, 1);
        log_info("command %s for %s: delivered or finished elsewhere, no %s result here",
                 c->rec.command_id, c->rec.cp_id, c->status);
        cmd_done(f, c);
        return;
    }
    if (!m->first) {
        metrics_counter_add(f->m_duplicates, 1);
        log_info("command %s already delivered once: not sent again", c->rec.command_id);
        cmd_done(f, c);
        return;
    }
    if (c->claim)
        cmd_produce_final(f, c, c->claim_dlq, now); /* the key is ours: nobody else answers it */
    else
        cmd_to_core(f, c, now);
}

/* A RESULT for a token this instance never issued: a command an earlier instance of this bridge
 * handed to the core before it restarted (the re-read copy was refused as a duplicate, so this is
 * its only result). Published as it is, and produced again until persisted, like any output; it
 * holds no offset. */
static void relay_result(command_flow_t *f, const env_result_t *m, int64_t now)
{
    cmd_t *c = calloc(1, sizeof(*c));
    uint8_t *copy = malloc(m->value.len ? m->value.len : 1);
    uint64_t token = ++f->next_token;
    if (!c || !copy || u64map_put(f->cmds, token, c) < 0) {
        free(c);
        free(copy);
        log_error("no memory to publish the RESULT of command %.*s", (int)m->command_id.len,
                  m->command_id.ptr);
        return;
    }
    if (m->value.len)
        memcpy(copy, m->value.ptr, m->value.len);
    c->token = token;
    c->state = CMD_OUTPUT;
    c->received_ms = now;
    c->core_value = copy;
    c->core_len = m->value.len;
    env_str_copy(m->command_id, c->rec.command_id, sizeof(c->rec.command_id));
    env_str_copy(m->status, c->status, sizeof(c->status));
    if (command_traceparent_valid(m->traceparent.ptr, m->traceparent.len))
        env_str_copy(m->traceparent, c->traceparent, sizeof(c->traceparent));
    c->out = OUT_CORE_RESULT;
    c->need = PART_MAIN;
    cmd_link(f, c);
    readers_pause_if_full(f); /* it counts towards command_max_inflight like any command */
    metrics_counter_add(f->m_relayed, 1);
    log_info("RESULT of command %s (token %" PRIu64 " of an earlier bridge instance) published as "
             "it is",
             c->rec.command_id, m->token);
    cmd_output(f, c, now);
}

/* RESULT from core: the final result. For a command read here, its offset follows once the
 * result is persisted. Exactly one final result per command: a RESULT for a command this
 * instance already finished (its core restarted, or the backstop) is dropped; only a token this
 * instance never issued is published as it is. */
static void on_result(command_flow_t *f, const env_result_t *m, int64_t now)
{
    cmd_t *c = m->token ? u64map_get(f->cmds, m->token) : NULL;
    if (c && c->state == CMD_AT_CORE) {
        uint8_t *copy = malloc(m->value.len ? m->value.len : 1);
        if (!copy)
            return; /* finished by the backstop instead */
        if (m->value.len)
            memcpy(copy, m->value.ptr, m->value.len);
        c->core_value = copy;
        c->core_len = m->value.len;
        env_str_copy(m->status, c->status, sizeof(c->status));
        if (command_traceparent_valid(m->traceparent.ptr, m->traceparent.len))
            env_str_copy(m->traceparent, c->traceparent, sizeof(c->traceparent));
        c->out = OUT_CORE_RESULT;
        c->need = PART_MAIN;
        /* core checks action and payload against the charge point's version (it has the
         * validators): a record it found invalid gets its DLQ copy here, like the records the
         * bridge refuses itself (docs/unified-model.md) */
        if (strcmp(c->status, "invalid") == 0) {
            command_result_reason(c->core_value, c->core_len, c->reason, sizeof(c->reason));
            c->need |= PART_DLQ;
            metrics_def_count(BRIDGE_METRIC(BRIDGE_M_COMMANDS_INVALID), "refused by ocpp-core");
        }
        cmd_output(f, c, now);
        return;
    }
    if (c || (m->token > f->cfg.first_token && m->token <= f->next_token)) {
        metrics_counter_add(f->m_late, 1);
        log_info("RESULT %.*s of command %.*s dropped: the command already has its final result",
                 (int)m->status.len, m->status.ptr, (int)m->command_id.len, m->command_id.ptr);
        return;
    }
    relay_result(f, m, now);
}

/* ---------------------------------------------------------------------------------------
 * Takeover of a dead pod's partition, stop */

/* Reads no more. Commands waiting for a LOOKUP or parked are let go without storing their
 * offsets: whoever reads the partition next (the pod itself after a restart or return, or a
 * taker-over) reads them again. A command whose DEDUP was sent is kept until it is final: the
 * registry may have taken its key for us, and a re-read copy would then be refused as a
 * duplicate. The reader is destroyed (committing what was stored) once nothing refers to it. */
static void reader_stop(command_flow_t *f, reader_t *r)
{
    if (r->stopping)
        return;
    r->stopping = true;
    f->ops->reader_stop(f->arg, r->id);
    for (cmd_t *c = f->cmd_head, *n; c; c = n) {
        n = c->next;
        if (c->reader == r && (c->state == CMD_LOOKUP || c->state == CMD_PARKED))
            cmd_unlink(f, c);
    }
    /* a takeover ends on every partition it reads: the dead pod's old one still draining after
     * a change of the partition count ends with it (without a TAKEOVER_DONE of its own); a
     * drained old one ends alone */
    if (r->takeover && !r->draining)
        for (reader_t *o = f->readers; o; o = o->next)
            if (o->takeover && !o->stopping && strcmp(o->pod, r->pod) == 0)
                reader_stop(f, o);
    readers_resume_if_room(f);
}

/* The takeovers this bridge left to their pod (takeover_yield): at most one per pod. */
static yielded_t **yield_find(command_flow_t *f, const char *pod)
{
    yielded_t **p = &f->yields;
    while (*p && strcmp((*p)->pod, pod) != 0)
        p = &(*p)->next;
    return p;
}

static void yield_forget(command_flow_t *f, const char *pod)
{
    yielded_t **p = yield_find(f, pod);
    yielded_t *y = *p;
    if (y) {
        *p = y->next;
        free(y);
    }
}

static void yields_clear(command_flow_t *f)
{
    while (f->yields) {
        yielded_t *y = f->yields;
        f->yields = y->next;
        free(y);
    }
}

/* A record read from a taken-over partition is for the pod that partition belongs to, alive
 * again (a stall of the whole host expires every lease at once; a frozen pod resumes): the record
 * is left to that pod. Forwarding it would put it back into the very partition this reader reads,
 * round after round until the hop limit. The takeover stops at once, as for TAKEOVER
 * active=false (commands waiting for a LOOKUP or parked are let go, those whose DEDUP was sent
 * are finished), and neither this record's offset nor any later one is stored: the pod reads them
 * from the committed offsets. No TAKEOVER_DONE: the registry still holds its claim until it sees
 * the pod's lease and says active=false; if it has not by 3 x command_registry_timeout_ms, the
 * pod may have died again under the same claim, and reading resumes (readers_tick). A takeover a
 * restarted registry has not confirmed yet is not resumed: the registry repeats active=true for
 * the claims it holds. May free c. */
static void takeover_yield(command_flow_t *f, cmd_t *c, int64_t now)
{
    reader_t *r = c->reader;
    metrics_counter_add(f->m_yielded, 1);
    log_warn("orphan takeover of pod %s (epoch %" PRIu64 "): command %s for %s is for pod %s, "
             "alive again: left to it, reading stopped",
             r->pod, r->epoch, c->rec.command_id, c->rec.cp_id, r->pod);
    cmd_unlink(f, c); /* its offset stays open: nothing past it is stored */
    if (!r->confirm_by_ms) {
        yielded_t **p = yield_find(f, r->pod);
        if (!*p && (*p = calloc(1, sizeof(**p))) != NULL)
            snprintf((*p)->pod, sizeof((*p)->pod), "%s", r->pod);
        if (*p) {
            (*p)->epoch = r->epoch;
            (*p)->resume_ms = now + 3 * f->cfg.registry_timeout_ms;
        }
    }
    reader_t *live = reader_find(f, r->pod, true); /* r may be an old partition draining */
    reader_stop(f, r);
    if (live)
        reader_stop(f, live);
}

/* Takeovers left to their pod that the registry did not end in time read again (same claim). */
static void yields_tick(command_flow_t *f, int64_t now)
{
    for (yielded_t **p = &f->yields; *p;) {
        yielded_t *y = *p;
        if (now < y->resume_ms) {
            p = &y->next;
            continue;
        }
        if (!reader_find(f, y->pod, true) && !reader_new(f, y->pod, y->epoch, true)) {
            y->resume_ms = now + f->cfg.park_backoff_ms; /* the shell could not start it */
            p = &y->next;
            continue;
        }
        log_warn("orphan takeover of pod %s (epoch %" PRIu64 ") left to the pod, but the "
                 "registry did not end it: reading again",
                 y->pod, y->epoch);
        *p = y->next;
        free(y);
    }
}

/* TAKEOVER active=true starts a reader of the dead pod's partition, which reads on for as long
 * as the pod is dead: drained is not done, a backend with a stale lookup may write there at any
 * time. The registry ends it (active=false: the pod's lease is back, the claim was lost, or the
 * pod was dead longer than its orphan_forget_ms); the reader then stops for good and, once
 * destroyed (offsets committed), TAKEOVER_DONE tells the registry that nobody here reads the
 * partition any more. A repeated active=true (a new epoch, or the registry confirming its claims
 * to a restarted bridge or after its own restart) keeps the reader. */
static void on_takeover(command_flow_t *f, const env_takeover_t *m)
{
    char pod[COMMAND_POD_MAX + 1];
    env_str_copy(m->pod, pod, sizeof(pod));
    if (*yield_find(f, pod)) {
        /* a takeover left to its pod: the registry confirms the claim (read again) or ends it */
        log_info("orphan takeover of pod %s, left to the pod: TAKEOVER active=%d", pod,
                 (int)m->active);
        yield_forget(f, pod);
    }
    reader_t *r = reader_find(f, pod, true); /* one on its way out: a new claim gets a new one */
    switch (command_takeover_action(f->pod_id, pod, m->active, r != NULL)) {
    case TAKEOVER_IGNORE:
        log_info("TAKEOVER of pod '%s' (active %d) ignored", pod, (int)m->active);
        break;
    case TAKEOVER_KEEP:
        for (reader_t *o = f->readers; o; o = o->next) /* and the old partition draining */
            if (o->takeover && !o->stopping && strcmp(o->pod, pod) == 0) {
                o->epoch = m->epoch;
                o->confirm_by_ms = 0;
            }
        break;
    case TAKEOVER_START:
        if (!f->partitions) {
            log_warn("TAKEOVER of pod %s before the partition count is known: ignored", pod);
            break;
        }
        if (f->stopping) { /* its claim expires and another pod takes it over */
            log_warn("TAKEOVER of pod %s while stopping: ignored", pod);
            break;
        }
        if (reader_new(f, pod, m->epoch, true)) {
            metrics_counter_add(f->m_takeovers, 1);
            log_info("orphan takeover of pod %s (epoch %" PRIu64 ")", pod, m->epoch);
        }
        break;
    case TAKEOVER_STOP:
        log_info("orphan takeover of pod %s ends: pod back, claim lost or pod forgotten", pod);
        r->done_after = true;
        reader_stop(f, r);
        break;
    }
}

/* ---------------------------------------------------------------------------------------
 * Peers' instances (ANNOUNCE): a new instance restarted and lost its state */

/* Core `index` restarted: every command it held without a RESULT is finished now, as timeout
 * (the DEDUP key is taken, so it is never delivered again; a RESULT of the old instance that
 * still comes is dropped). The first instance heard of a core after this bridge started is a
 * restart for the commands handed over before that instance started (instances are start times
 * in microseconds). */
static void on_core_announce(command_flow_t *f, uint32_t index, uint64_t instance, int64_t now)
{
    uint64_t prev = f->core_instance[index];
    if (instance == 0 || instance == prev)
        return;
    f->core_instance[index] = instance;
    if (prev) {
        metrics_def_count(BRIDGE_METRIC(BRIDGE_M_PEER_RESTARTS), "core");
        log_warn("ocpp-core %u restarted (instance %" PRIu64 " -> %" PRIu64 ")", index, prev,
                 instance);
    }
    int64_t started_ms = (int64_t)(instance / 1000);
    /* collect first: finishing one may serve reports that finish others */
    size_t n = 0;
    for (cmd_t *c = f->cmd_head; c; c = c->next)
        n += c->state == CMD_AT_CORE && c->core == index;
    uint64_t *lost = n ? malloc(n * sizeof(*lost)) : NULL;
    size_t k = 0;
    for (cmd_t *c = f->cmd_head; c && lost && k < n; c = c->next)
        if (c->state == CMD_AT_CORE && c->core == index && (prev || c->handed_ms < started_ms))
            lost[k++] = c->token;
    for (size_t i = 0; i < k; i++) {
        cmd_t *c = u64map_get(f->cmds, lost[i]);
        if (!c || c->state != CMD_AT_CORE)
            continue;
        metrics_counter_add(f->m_core_restart_timeouts, 1);
        cmd_finish(f, c, "timeout",
                   "ocpp-core restarted: the outcome at the charge point is unknown", false, now);
    }
    free(lost);
    core_pump(f, index, now);
}

/* The registry restarted: the questions it held are lost, so they are asked again at once; the
 * takeovers it gave must be confirmed by its new instance (it repeats TAKEOVER active=true for
 * every claim it still holds) within 3 x command_registry_timeout_ms, or they stop: another pod
 * may have won the claim meanwhile, and two readers would give a command two results. */
static void on_registry_announce(command_flow_t *f, uint64_t instance, int64_t now)
{
    uint64_t prev = f->registry_instance;
    if (instance == 0 || instance == prev)
        return;
    f->registry_instance = instance;
    if (!prev)
        return;
    metrics_def_count(BRIDGE_METRIC(BRIDGE_M_PEER_RESTARTS), "registry");
    log_warn("redis-registry restarted (instance %" PRIu64 " -> %" PRIu64
             "): asking again, takeovers to be confirmed",
             prev, instance);
    for (cmd_t *c = f->cmd_head; c; c = c->next) {
        if (c->state == CMD_LOOKUP)
            cmd_lookup(f, c, now);
        else if (c->state == CMD_DEDUP)
            cmd_dedup(f, c, now);
    }
    for (reader_t *r = f->readers; r; r = r->next)
        if (r->takeover && !r->stopping)
            r->confirm_by_ms = now + 3 * f->cfg.registry_timeout_ms;
    yields_clear(f); /* it repeats active=true for each claim it still holds */
}

static int on_announce(command_flow_t *f, const env_announce_t *m, int64_t now)
{
    if (env_str_eq(m->stage, "core") && m->index < f->cfg.core_count) {
        on_core_announce(f, m->index, m->instance, now);
        return 0;
    }
    if (env_str_eq(m->stage, "registry")) {
        on_registry_announce(f, m->instance, now);
        return 0;
    }
    return -EINVAL;
}

int command_flow_on_envelope(command_flow_t *self, const envelope_t *env, uint64_t now_us)
{
    switch (env->type) {
    case ENV_OWNER:
        on_owner(self, &env->u.owner, ms_of(now_us));
        return 0;
    case ENV_DEDUP_RESULT:
        on_dedup_result(self, &env->u.dedup_result, ms_of(now_us));
        return 0;
    case ENV_RESULT:
        on_result(self, &env->u.result, ms_of(now_us));
        return 0;
    case ENV_TAKEOVER:
        on_takeover(self, &env->u.takeover);
        return 0;
    case ENV_ANNOUNCE:
        return on_announce(self, &env->u.announce, ms_of(now_us));
    default:
        return -ENOTSUP;
    }
}

/* ---------------------------------------------------------------------------------------
 * Time */

/* A command whose due time came. May free c. */
static void cmd_due(command_flow_t *f, cmd_t *c, int64_t now)
{
    switch (c->state) {
    case CMD_PARKED:
        cmd_route(f, c, false, NULL, false, now); /* re-check: expired or LOOKUP again */
        break;
    case CMD_LOOKUP:
        if (now >= c->rec.expires_at_ms)
            cmd_route(f, c, false, NULL, false, now);
        else
            cmd_lookup(f, c, now);
        break;
    case CMD_DEDUP:
        if (!c->claim && now >= c->rec.expires_at_ms) {
            /* never retried past the deadline: the same request id now claims the key for the
             * result expired (a late "first" to the earlier DEDUP means the same: ours) */
            log_info("command %s for %s: expired while waiting for DEDUP", c->rec.command_id,
                     c->rec.cp_id);
            cmd_decide(f, c, "expired", "expires_at passed before the charge point was reached",
                       true, now);
        } else {
            cmd_dedup(f, c, now);
        }
        break;
    case CMD_HANDOVER: /* pumped every tick */
        break;
    case CMD_OUTPUT:
        if (!c->outstanding && c->need)
            cmd_output(f, c, now);
        break;
    case CMD_AT_CORE:
        /* core owns the charge point's timeout; this is the backstop for a core that died with
         * the command (its DEDUP key is taken, so nobody else would answer it) */
        metrics_counter_add(f->m_core_timeouts, 1);
        cmd_finish(f, c, "timeout", "no result from ocpp-core", false, now);
        break;
    }
}

/* A drained takeover reads on (said once per drain); one a restarted registry did not confirm in
 * time stops; stopped readers go once nothing refers to them, a takeover that ended for good with
 * TAKEOVER_DONE after it committed. */
static void readers_tick(command_flow_t *f, int64_t now)
{
    for (reader_t *r = f->readers, *rn; r; r = rn) {
        rn = r->next;
        if (r->takeover && !r->stopping && r->confirm_by_ms && now >= r->confirm_by_ms) {
            log_warn("orphan takeover of pod %s (epoch %" PRIu64 ") not confirmed by the "
                     "restarted registry: stopped",
                     r->pod, r->epoch);
            r->done_after = !r->draining; /* one TAKEOVER_DONE per claim: the live reader's */
            reader_stop(f, r);
        }
        if (r->draining && !r->stopping && now >= r->drain_until_ms &&
            command_takeover_drained(r->eof, offset_track_open(&r->track), r->refs)) {
            log_info("%s[%d] of pod %s drained after the partition count changed: reader stopped",
                     f->commands_topic, (int)r->partition, r->pod);
            reader_stop(f, r);
        }
        if (r->takeover && !r->stopping && !r->draining && !r->drained_logged &&
            command_takeover_drained(r->eof, offset_track_open(&r->track), r->refs)) {
            r->drained_logged = true;
            log_info("pod %s drained (epoch %" PRIu64 "): reading on while it is dead", r->pod,
                     r->epoch);
        } else if (r->stopping && r->refs == 0) {
            char pod[COMMAND_POD_MAX + 1];
            snprintf(pod, sizeof(pod), "%s", r->pod);
            envelope_t env = {.type = ENV_TAKEOVER_DONE};
            env.u.takeover_done.pod = env_str(pod);
            env.u.takeover_done.epoch = r->epoch;
            bool done = r->done_after;
            reader_destroy(f, r); /* commits first */
            if (done) {
                log_info("orphan takeover of pod %s (epoch %" PRIu64 ") over: TAKEOVER_DONE", pod,
                         env.u.takeover_done.epoch);
                f->ops->send_registry(f->arg, &env);
            }
        }
    }
}

/* ANNOUNCE {bridge, 0, instance} to every core and the registry. */
static void announce(command_flow_t *f)
{
    envelope_t env = {.type = ENV_ANNOUNCE};
    env.u.announce.stage = env_str("bridge");
    env.u.announce.index = 0;
    env.u.announce.instance = f->cfg.instance;
    for (uint32_t i = 0; i < f->cfg.core_count; i++)
        f->ops->send_core(f->arg, i, &env);
    f->ops->send_registry(f->arg, &env);
}

static uint64_t next_due_us(const command_flow_t *f, int64_t now)
{
    int64_t next = INT64_MAX;
    for (const cmd_t *c = f->cmd_head; c; c = c->next) {
        if (c->state == CMD_OUTPUT && (c->outstanding || !c->need))
            continue; /* waits for a delivery report, not for time */
        if (c->state == CMD_HANDOVER)
            continue; /* below */
        if (c->due_ms < next)
            next = c->due_ms;
    }
    bool waiting = false;
    for (uint32_t i = 0; i < f->cfg.core_count; i++)
        waiting |= f->wait_head[i] != NULL;
    if (waiting && now + COMMAND_FLOW_TICK_MS < next)
        next = now + COMMAND_FLOW_TICK_MS;
    for (const reader_t *r = f->readers; r; r = r->next)
        if ((r->takeover || r->stopping || r->draining) && now + COMMAND_FLOW_TICK_MS < next)
            next = now + COMMAND_FLOW_TICK_MS;
    if (f->cfg.announce_interval_ms > 0 && f->next_announce_ms < next)
        next = f->next_announce_ms;
    for (const yielded_t *y = f->yields; y; y = y->next)
        if (y->resume_ms < next)
            next = y->resume_ms;
    if (next == INT64_MAX)
        return 0;
    if (next < now)
        next = now;
    return next > INT64_MAX / 1000 ? UINT64_MAX : (uint64_t)next * 1000;
}

uint64_t command_flow_tick(command_flow_t *self, uint64_t now_us)
{
    int64_t now = ms_of(now_us);
    if (self->cfg.announce_interval_ms > 0 && now >= self->next_announce_ms) {
        announce(self);
        self->next_announce_ms = now + self->cfg.announce_interval_ms;
    }
    /* collect first: acting on one command may serve delivery reports that finish others */
    size_t n = 0;
    for (cmd_t *c = self->cmd_head; c; c = c->next)
        n += c->due_ms <= now;
    uint64_t *due = n ? malloc(n * sizeof(*due)) : NULL;
    size_t k = 0;
    for (cmd_t *c = self->cmd_head; c && due && k < n; c = c->next)
        if (c->due_ms <= now)
            due[k++] = c->token;
    for (size_t i = 0; i < k; i++) {
        cmd_t *c = u64map_get(self->cmds, due[i]);
        if (c && c->due_ms <= now)
            cmd_due(self, c, now);
    }
    free(due);
    cores_pump(self, now);
    readers_follow_count(self, now);
    readers_tick(self, now);
    yields_tick(self, now);
    return next_due_us(self, now);
}

/* ---------------------------------------------------------------------------------------
 * Life cycle */

static char *copy_str(const char *s)
{
    return strdup(s ? s : "");
}

command_flow_t *command_flow_new(const command_flow_config_t *cfg, const command_flow_ops_t *ops,
                                 void *ops_arg)
{
    if (!cfg || !ops || !cfg->pod_id || !cfg->pod_id[0] || cfg->core_count == 0 ||
        cfg->core_count > 65536 || cfg->max_inflight < 1 || cfg->first_token >= (UINT64_C(1) << 61))
        return NULL;
    command_flow_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->cfg = *cfg;
    f->pod_id = copy_str(cfg->pod_id);
    f->commands_topic = copy_str(cfg->commands_topic);
    f->results_topic = copy_str(cfg->results_topic);
    f->dlq_topic = copy_str(cfg->dlq_topic);
    f->cmds = u64map_new(1024);
    f->core_instance = calloc(cfg->core_count, sizeof(*f->core_instance));
    f->wait_head = calloc(cfg->core_count, sizeof(*f->wait_head));
    f->wait_tail = calloc(cfg->core_count, sizeof(*f->wait_tail));
    if (!f->pod_id || !f->commands_topic || !f->results_topic || !f->dlq_topic || !f->cmds ||
        !f->core_instance || !f->wait_head || !f->wait_tail) {
        command_flow_destroy(&f);
        return NULL;
    }
    f->cfg.pod_id = f->pod_id;
    f->cfg.commands_topic = f->commands_topic;
    f->cfg.results_topic = f->results_topic;
    f->cfg.dlq_topic = f->dlq_topic;
    f->ops = ops;
    f->arg = ops_arg;
    f->next_token = cfg->first_token;
#define COUNTER(id) metrics_def_counter(BRIDGE_METRIC(id), NULL)
    f->m_read = COUNTER(BRIDGE_M_COMMANDS_READ);
    f->m_forwards = COUNTER(BRIDGE_M_COMMANDS_FORWARDED);
    f->m_parks = COUNTER(BRIDGE_M_COMMANDS_PARKED_TOTAL);
    f->m_skipped = COUNTER(BRIDGE_M_COMMANDS_SKIPPED);
    f->m_duplicates = COUNTER(BRIDGE_M_COMMANDS_DUPLICATE);
    f->m_takeovers = COUNTER(BRIDGE_M_ORPHAN_TAKEOVERS);
    f->m_lookups = COUNTER(BRIDGE_M_LOOKUPS);
    f->m_dedups = COUNTER(BRIDGE_M_DEDUPS);
    f->m_retries = COUNTER(BRIDGE_M_OUTPUT_RETRIES);
    f->m_core_timeouts = COUNTER(BRIDGE_M_CORE_TIMEOUTS);
    f->m_core_restart_timeouts = COUNTER(BRIDGE_M_CORE_RESTART_TIMEOUTS);
    f->m_core_full = COUNTER(BRIDGE_M_CORE_FULL);
    f->m_relayed = COUNTER(BRIDGE_M_RESULTS_RELAYED);
    f->m_late = COUNTER(BRIDGE_M_RESULTS_LATE);
    f->m_elsewhere = COUNTER(BRIDGE_M_COMMANDS_FINISHED_ELSEWHERE);
    f->m_yielded = COUNTER(BRIDGE_M_TAKEOVERS_YIELDED);
    f->m_moves = COUNTER(BRIDGE_M_PARTITION_MOVES);
#undef COUNTER
    f->m_inflight = metrics_def_gauge(BRIDGE_METRIC(BRIDGE_M_COMMANDS_INFLIGHT), NULL);
    f->m_parked = metrics_def_gauge(BRIDGE_METRIC(BRIDGE_M_COMMANDS_PARKED), NULL);
    f->m_waiting = metrics_def_gauge(BRIDGE_METRIC(BRIDGE_M_COMMANDS_WAITING_CORE), NULL);
    return f;
}

void command_flow_destroy(command_flow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    command_flow_t *f = *self_p;
    while (f->cmd_head)
        cmd_unlink(f, f->cmd_head);
    while (f->readers) {
        reader_t *r = f->readers;
        f->readers = r->next;
        offset_track_free(&r->track);
        free(r);
    }
    yields_clear(f);
    u64map_destroy(&f->cmds);
    free(f->core_instance);
    free(f->wait_head);
    free(f->wait_tail);
    free(f->pod_id);
    free(f->commands_topic);
    free(f->results_topic);
    free(f->dlq_topic);
    free(f);
    *self_p = NULL;
}

/* Every reader whose pod's partition is another one under the current count gets a new reader of
 * the new partition (same pod, claim and epoch), and reads on until drained (docs/commands.md
 * "A change of the partition count"). A reader the shell could not start is tried again on the
 * next tick. */
static void readers_follow_count(command_flow_t *f, int64_t now)
{
    if (!f->partitions || f->stopping)
        return;
    for (reader_t *r = f->readers; r; r = r->next) {
        if (r->stopping || r->draining ||
            r->partition == hash_kafka_partition(r->pod, strlen(r->pod), f->partitions))
            continue;
        int32_t to = hash_kafka_partition(r->pod, strlen(r->pod), f->partitions);
        reader_t *n = NULL;
        for (reader_t *o = f->readers; o && !n; o = o->next)
            if (o->draining && !o->stopping && o->takeover == r->takeover && o->partition == to &&
                strcmp(o->pod, r->pod) == 0)
                n = o; /* the count went back: that partition is still read, it reads on */
        if (n) {
            n->draining = false;
            n->epoch = r->epoch;
        } else {
            n = reader_new(f, r->pod, r->epoch, r->takeover); /* put first: not visited */
        }
        if (!n) {
            log_warn("cannot start reading %s for pod %s at its new partition: tried again",
                     f->commands_topic, r->pod);
            continue;
        }
        n->confirm_by_ms = r->confirm_by_ms;
        r->draining = true;
        r->drain_until_ms = now + f->cfg.repartition_grace_ms;
        metrics_counter_add(f->m_moves, 1);
        log_warn("%s has %d partitions: pod %s%s moves from partition %d to %d; the old one is "
                 "read until drained",
                 f->commands_topic, (int)f->partitions, r->pod, r->takeover ? " (taken over)" : "",
                 (int)r->partition, (int)n->partition);
    }
}

int command_flow_on_partitions(command_flow_t *self, int32_t partitions, uint64_t now_us)
{
    if (self->stopping)
        return -ECANCELED;
    if (!self->partitions)
        return -EAGAIN;
    if (partitions <= 0)
        return -EINVAL;
    if (partitions != self->partitions) {
        log_warn("%s: partition count %d -> %d", self->commands_topic, (int)self->partitions,
                 (int)partitions);
        self->partitions = partitions;
    }
    readers_follow_count(self, ms_of(now_us));
    return 0;
}

int command_flow_start(command_flow_t *self, int32_t partitions, uint64_t now_us)
{
    (void)now_us;
    if (self->stopping)
        return -ECANCELED;
    if (self->partitions)
        return -EALREADY;
    if (partitions <= 0)
        return -EINVAL;
    self->partitions = partitions;
    if (!reader_new(self, self->pod_id, 0, false)) {
        self->partitions = 0;
        return -EIO;
    }
    return 0;
}

void command_flow_stop(command_flow_t *self, uint64_t now_us)
{
    self->stopping = true;
    /* no reader resumes while stopping: the claims expire and another pod takes over */
    yields_clear(self);
    for (reader_t *r = self->readers; r; r = r->next)
        reader_stop(self, r);
    cores_pump(self, ms_of(now_us)); /* one more offer each, then rejected: see core_pump */
}

void command_flow_close(command_flow_t *self)
{
    self->stopping = true;
    while (self->cmd_head) /* at a core or not persisted: read again after the restart */
        cmd_unlink(self, self->cmd_head);
    while (self->readers)
        reader_destroy(self, self->readers);
}

size_t command_flow_inflight(const command_flow_t *self)
{
    return self->cmd_count;
}
