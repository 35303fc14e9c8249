/* bridge_metrics: every metric family kafka-bridge exports, one row each (name, kind, help,
 * label), registered at start so that each is in /metrics from the first scrape. No metric name
 * appears anywhere else in the stage: code takes its series from these rows
 * (metrics_def_counter(BRIDGE_METRIC(BRIDGE_M_...), labels), metrics_def_count(...)). The
 * dashboards and alert rules under k8s/ refer to these names. */
#ifndef BRIDGE_METRICS_H
#define BRIDGE_METRICS_H

#include "metrics.h"

typedef enum {
    /* producer: events and command output (bridge_kafka_io.c) */
    BRIDGE_M_RECORDS_PRODUCED,
    BRIDGE_M_RECORDS_DELIVERED,
    BRIDGE_M_RECORDS_FAILED,
    BRIDGE_M_DELIVERY_ERRORS, /* {error} */
    BRIDGE_M_DELIVERY_SECONDS,
    BRIDGE_M_PRODUCER_QUEUE,
    BRIDGE_M_QUEUE_FULL,
    BRIDGE_M_KAFKA_ERRORS, /* {error} */
    BRIDGE_M_INPUT_PAUSED,
    /* readers of commands-down (bridge_kafka_io.c) */
    BRIDGE_M_CONSUMER_ERRORS, /* {error} */
    BRIDGE_M_CONSUMER_LAG,    /* {partition,pod} */
    /* the command lifecycle (command_flow.c) */
    BRIDGE_M_COMMANDS_READ,
    BRIDGE_M_COMMANDS_TOTAL,   /* {status} */
    BRIDGE_M_COMMANDS_INVALID, /* {reason} */
    BRIDGE_M_COMMANDS_FORWARDED,
    BRIDGE_M_COMMANDS_PARKED_TOTAL,
    BRIDGE_M_COMMANDS_PARKED,
    BRIDGE_M_COMMANDS_INFLIGHT,
    BRIDGE_M_COMMANDS_SKIPPED,
    BRIDGE_M_COMMANDS_DUPLICATE,
    BRIDGE_M_COMMANDS_FINISHED_ELSEWHERE,
    BRIDGE_M_ORPHAN_TAKEOVERS,
    BRIDGE_M_TAKEOVERS_YIELDED,
    BRIDGE_M_LOOKUPS,
    BRIDGE_M_DEDUPS,
    BRIDGE_M_OUTPUT_RETRIES,
    BRIDGE_M_CORE_TIMEOUTS,
    BRIDGE_M_CORE_RESTART_TIMEOUTS,
    BRIDGE_M_CORE_FULL,
    BRIDGE_M_COMMANDS_WAITING_CORE,
    BRIDGE_M_RESULTS_RELAYED,
    BRIDGE_M_RESULTS_LATE,
    BRIDGE_M_PEER_RESTARTS,    /* {stage} */
    BRIDGE_M_COMMAND_DURATION, /* {action,status} */
    BRIDGE_M_PARTITION_MOVES,
    BRIDGE_M_COUNT
} bridge_metric_t;

extern const metrics_def_t BRIDGE_METRICS[BRIDGE_M_COUNT];

#define BRIDGE_METRIC(id) (&BRIDGE_METRICS[(id)])

/* Registers every row (idempotent). */
void bridge_metrics_define(void);

#endif
