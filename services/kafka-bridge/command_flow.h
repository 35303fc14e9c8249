/* command_flow: the command lifecycle of kafka-bridge as an engine with no I/O (docs/commands.md,
 * docs/engines.md).
 *
 * Every record read from commands-down (the pod's own partition, or a dead pod's partition taken
 * over) becomes a command that ends with exactly one final outcome: a result on command-results
 * (with a DLQ copy for expired and invalid ones), a forward to the partition of the pod that holds
 * the charge point, or nothing at all when it is not ours (skip) or was delivered before
 * (duplicate). Its offset is stored only once every record up to it has its final outcome
 * persisted. States of a command:
 *
 *   LOOKUP   LOOKUP sent to the registry, waiting for OWNER (sent again after
 *            command_registry_timeout_ms, or at once when the registry restarted)
 *   PARKED   the charge point is connected nowhere: looked up again after a back-off
 *   DEDUP    connected here: DEDUP sent, waiting for DEDUP_RESULT (an error: asked again later)
 *   HANDOVER DEDUP said first but the core's queue is full: COMMAND sent again, in order per core,
 *            every tick until the core takes it (never "rejected" for a full core)
 *
 * The deadline fixed when the record was read (expires_at, ttl_ms or command_default_ttl_ms) is
 * checked in every state before the core took the command (LOOKUP, PARKED, DEDUP, HANDOVER: a
 * due time never lies past it): result expired + DLQ copy, through the DEDUP key as any result
 * the bridge decides; at a core it travels in COMMAND.expires_at_ms and the core owns it (the
 * backstop above). Every record the engine produces carries a content-type header and, when
 * known, the command's traceparent; final results feed bridge_command_duration_seconds.
 *   AT_CORE  COMMAND handed to a core, waiting for its RESULT (the core restarting, or the
 *            backstop: timeout)
 *   OUTPUT   its result / DLQ copy / forward is being persisted; a failed delivery is produced
 *            again after command_park_backoff_ms, never reported done before it is persisted
 *
 * Events in: a record read, end of partition, a delivery report for a record the engine
 * produced, the envelopes OWNER, DEDUP_RESULT, RESULT, TAKEOVER and ANNOUNCE (cores' and the
 * registry's instances), start (the partition count is known), stop, close, and tick(now).
 * Effects out (command_flow_ops_t): produce a record, send LOOKUP / DEDUP / TAKEOVER_DONE /
 * ANNOUNCE to the registry, send COMMAND / ANNOUNCE to a core, store an offset, start / pause /
 * resume / stop / destroy a reader. Readers are known by an id the engine chooses; the shell maps
 * it to its Kafka consumer. The engine never reads the clock. */
#ifndef COMMAND_FLOW_H
#define COMMAND_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command_record.h"
#include "envelope.h"

/* produce to any partition (the producer's partitioner, by key) */
#define COMMAND_FLOW_PARTITION_ANY (-1)
/* how often the shell ticks the engine; also the re-check interval of a takeover's drain */
#define COMMAND_FLOW_TICK_MS 100

typedef struct command_flow command_flow_t;

typedef struct {
    const char *pod_id; /* this pod */
    const char *commands_topic;
    const char *results_topic;
    const char *dlq_topic;
    uint32_t core_count;
    int64_t default_ttl_ms;       /* command_default_ttl_ms */
    int64_t max_hops;             /* command_max_hops */
    int64_t park_backoff_ms;      /* command_park_backoff_ms: also the retry delay of output */
    int64_t park_backoff_max_ms;  /* command_park_backoff_max_ms */
    int64_t registry_timeout_ms;  /* command_registry_timeout_ms */
    int64_t dedup_ttl_ms;         /* command_dedup_ttl_ms */
    int64_t max_inflight;         /* command_max_inflight: beyond, every reader pauses */
    int64_t core_grace_ms;        /* command_core_grace_ms */
    int64_t repartition_grace_ms; /* command_repartition_grace_ms */
    /* Tokens (the request ids of LOOKUP and DEDUP, the token of COMMAND) count up from here.
     * A DEDUP key's value names its request id, so tokens must never repeat across restarts:
     * the shell passes the wall clock in microseconds. Below 2^61. */
    uint64_t first_token;
    /* This bridge's instance (its start time in microseconds), announced to every core and the
     * registry every announce_interval_ms (0: never, e.g. in tests that do not look at it). */
    uint64_t instance;
    int64_t announce_interval_ms;
} command_flow_config_t;

/* One record for Kafka; every view is borrowed for the call (librdkafka copies). */
typedef struct {
    const char *topic;
    int32_t partition; /* or COMMAND_FLOW_PARTITION_ANY */
    env_str_t key;
    const env_headers_t *headers; /* NULL: none */
    env_bin_t value;
} command_flow_record_t;

/* Effects. Each returns 0 or a negative errno where it returns int. */
typedef struct {
    /* Hands a record to the producer. cookie != 0: its delivery report must come back through
     * command_flow_on_delivery() (the engine also copes with reports for *other* cookies served
     * during this very call); cookie 0: no report is wanted. An error return (-ENOBUFS: the
     * producer queue is full) means the record was not queued and no report will come for it:
     * the engine produces it again after command_park_backoff_ms. */
    int (*produce)(void *arg, const command_flow_record_t *rec, uint64_t cookie);
    /* LOOKUP, DEDUP, TAKEOVER_DONE, ANNOUNCE: dropped when the registry is full (a lost LOOKUP
     * or DEDUP is sent again after command_registry_timeout_ms; ANNOUNCE is repeated; a lost
     * TAKEOVER_DONE only costs the registry a log line, docs/commands.md). */
    int (*send_registry)(void *arg, const envelope_t *env);
    /* COMMAND (OUTBOX_TRY) or ANNOUNCE (dropped when full) to core `index`. For a COMMAND,
     * -ENOBUFS or -EAGAIN mean the core's queue is full: nothing was queued, the command waits
     * and is sent again later; any other error means it cannot be sent at all (result
     * rejected). */
    int (*send_core)(void *arg, uint32_t index, const envelope_t *env);
    /* Every record of the reader before next_offset has its final outcome: store next_offset
     * (committed by the consumer). Never decreases for one reader. */
    void (*store_offset)(void *arg, uint32_t reader, int64_t next_offset);
    /* Start reading `partition` of the commands topic for `pod` (its consumer group, from its
     * committed offsets). takeover: a dead pod's partition. */
    int (*reader_start)(void *arg, uint32_t reader, const char *pod, int32_t partition,
                        bool takeover);
    /* Stop (paused) or go on (!paused) fetching records of the reader. */
    void (*reader_pause)(void *arg, uint32_t reader, bool paused);
    /* Read no more records from the reader (offsets may still be stored until destroyed). */
    void (*reader_stop)(void *arg, uint32_t reader);
    /* Commit the stored offsets and close the reader; its id is never used again. */
    void (*reader_destroy)(void *arg, uint32_t reader);
} command_flow_ops_t;

/* NULL on failure. cfg is copied; ops and ops_arg are borrowed for the engine's life. */
command_flow_t *command_flow_new(const command_flow_config_t *cfg, const command_flow_ops_t *ops,
                                 void *ops_arg);
/* Frees everything without any effect (call command_flow_close() first for the effects of an
 * orderly end). Sets *self_p to NULL; safe twice. */
void command_flow_destroy(command_flow_t **self_p);

/* The commands topic has `partitions` partitions: start reading the pod's own one. 0, -EALREADY,
 * -ECANCELED after stop, -EINVAL, or -EIO when the reader did not start (the shell tries again
 * later). */
int command_flow_start(command_flow_t *self, int32_t partitions, uint64_t now_us);

/* The partition count of the commands topic is now `partitions` (the shell's metadata refresh;
 * the same count again changes nothing). Every reader whose pod's partition moved (its own, and
 * dead pods' taken over) gets a reader of the new partition at once; the old one reads on until
 * it is drained (end of partition, every record read final, nothing in flight) and at least
 * command_repartition_grace_ms (backends that still route with the old count), then stops and
 * commits. 0; -EAGAIN before start, -ECANCELED after stop, -EINVAL. */
int command_flow_on_partitions(command_flow_t *self, int32_t partitions, uint64_t now_us);

/* A record of `reader` at `offset` (ascending per reader), with its Kafka timestamp (<= 0: none,
 * now is used), value (copied) and W3C traceparent (the record's `traceparent` header, or a new
 * trace the shell started; anything but a valid version-00 traceparent is taken as none). Its
 * deadline is fixed here, once (command_record_parse()), and never restarted. */
void command_flow_on_record(command_flow_t *self, uint32_t reader, int64_t offset,
                            int64_t timestamp_ms, const void *value, size_t len,
                            env_str_t traceparent, uint64_t now_us);
/* The reader reached the end of its partition (until its next record). */
void command_flow_on_eof(command_flow_t *self, uint32_t reader);
/* The delivery report of a record produced with cookie: err 0 = persisted. An unknown cookie is
 * ignored. */
void command_flow_on_delivery(command_flow_t *self, uint64_t cookie, int err, uint64_t now_us);
/* OWNER, DEDUP_RESULT, RESULT, TAKEOVER or ANNOUNCE. 0; -EINVAL for an ANNOUNCE of a stage or
 * core index this bridge does not know; -ENOTSUP for any other type (not taken). */
int command_flow_on_envelope(command_flow_t *self, const envelope_t *env, uint64_t now_us);

/* Does what is due at now: announces this bridge, re-checks parked commands, asks the registry
 * again, hands waiting commands to their cores, produces failed output again, finishes commands a
 * core never answered (timeout), stops takeovers a restarted registry did not confirm, and
 * destroys readers nothing refers to any more (TAKEOVER_DONE for a takeover that ended). Returns
 * the next time something may be due (us; 0: nothing is waiting). */
uint64_t command_flow_tick(command_flow_t *self, uint64_t now_us);

/* Shutting down: no more records. Every reader is stopped; commands waiting for OWNER or parked
 * are let go without storing their offsets (whoever reads the partition next reads them again);
 * commands whose DEDUP was sent are kept until final, since the registry may have taken their
 * key (a re-read copy would be refused as a duplicate); a command its core has not taken yet is
 * offered once more, then finished as rejected (it never reached the charge point). */
void command_flow_stop(command_flow_t *self, uint64_t now_us);
/* The very end, after the shell flushed the producer and served its reports: every command left
 * is let go without storing its offset, every reader destroyed (committing what was stored). */
void command_flow_close(command_flow_t *self);

/* Commands read without a final outcome yet (and RESULTs of an earlier bridge being published). */
size_t command_flow_inflight(const command_flow_t *self);

#endif
