/* bridge_metrics: the metrics table of kafka-bridge. See bridge_metrics.h. */
#include "bridge_metrics.h"

const metrics_def_t BRIDGE_METRICS[BRIDGE_M_COUNT] = {
    [BRIDGE_M_RECORDS_PRODUCED] = {"bridge_records_produced_total", METRICS_COUNTER,
                                   "records handed to librdkafka", NULL},
    [BRIDGE_M_RECORDS_DELIVERED] = {"bridge_records_delivered_total", METRICS_COUNTER,
                                    "records Kafka confirmed (acks=all)", NULL},
    [BRIDGE_M_RECORDS_FAILED] = {"bridge_records_failed_total", METRICS_COUNTER,
                                 "records Kafka did not persist", NULL},
    [BRIDGE_M_DELIVERY_ERRORS] = {"bridge_delivery_errors_total", METRICS_COUNTER,
                                  "records Kafka did not persist, by error", "error"},
    [BRIDGE_M_DELIVERY_SECONDS] = {"bridge_delivery_seconds", METRICS_HISTOGRAM,
                                   "EVENT to delivery report", NULL},
    [BRIDGE_M_PRODUCER_QUEUE] = {"bridge_producer_queue", METRICS_GAUGE,
                                 "records waiting in librdkafka", NULL},
    [BRIDGE_M_QUEUE_FULL] = {"bridge_queue_full_total", METRICS_COUNTER,
                             "times an EVENT met a full producer queue (input paused)", NULL},
    [BRIDGE_M_INPUT_PAUSED] = {"bridge_input_paused", METRICS_GAUGE,
                               "1 while the input is not read: an EVENT waits for room in the "
                               "producer queue",
                               NULL},
    [BRIDGE_M_KAFKA_ERRORS] = {"bridge_kafka_errors_total", METRICS_COUNTER,
                               "client-level Kafka errors, by error", "error"},
    [BRIDGE_M_CONSUMER_ERRORS] = {"bridge_consumer_errors_total", METRICS_COUNTER,
                                  "consumer errors, by error", "error"},
    /* series labelled partition="...",pod="..." (a list the shell formats) */
    [BRIDGE_M_CONSUMER_LAG] = {"bridge_consumer_lag", METRICS_GAUGE,
                               "records of a partition not read yet", "partition"},
    [BRIDGE_M_COMMANDS_READ] = {"bridge_commands_read_total", METRICS_COUNTER,
                                "records read from commands-down "
                                "(own and taken-over partitions)",
                                NULL},
    [BRIDGE_M_COMMANDS_TOTAL] = {"bridge_commands_total", METRICS_COUNTER,
                                 "commands with a final result, by status", "status"},
    [BRIDGE_M_COMMANDS_INVALID] = {"bridge_commands_invalid_total", METRICS_COUNTER,
                                   "command records refused, by reason", "reason"},
    [BRIDGE_M_COMMANDS_FORWARDED] = {"bridge_commands_forwarded_total", METRICS_COUNTER,
                                     "commands re-published to the partition of the pod that "
                                     "holds the charge point",
                                     NULL},
    [BRIDGE_M_COMMANDS_PARKED_TOTAL] = {"bridge_commands_parked_total", METRICS_COUNTER,
                                        "commands parked because their charge point was "
                                        "connected nowhere",
                                        NULL},
    [BRIDGE_M_COMMANDS_PARKED] = {"bridge_commands_parked", METRICS_GAUGE, "commands parked now",
                                  NULL},
    [BRIDGE_M_COMMANDS_INFLIGHT] = {"bridge_commands_inflight", METRICS_GAUGE,
                                    "commands read without a final outcome yet", NULL},
    [BRIDGE_M_COMMANDS_SKIPPED] = {"bridge_commands_skipped_total", METRICS_COUNTER,
                                   "records addressed to another pod sharing the partition", NULL},
    [BRIDGE_M_COMMANDS_DUPLICATE] = {"bridge_commands_duplicate_total", METRICS_COUNTER,
                                     "commands not sent again: DEDUP said already delivered", NULL},
    [BRIDGE_M_COMMANDS_FINISHED_ELSEWHERE] = {"bridge_commands_finished_elsewhere_total",
                                              METRICS_COUNTER,
                                              "results the bridge decided (expired, invalid) not "
                                              "produced: DEDUP said the command was delivered or "
                                              "finished elsewhere",
                                              NULL},
    [BRIDGE_M_ORPHAN_TAKEOVERS] = {"bridge_orphan_takeovers_total", METRICS_COUNTER,
                                   "dead pods' partitions taken over", NULL},
    [BRIDGE_M_TAKEOVERS_YIELDED] = {"bridge_orphan_takeovers_yielded_total", METRICS_COUNTER,
                                    "takeovers stopped because a record read there was for the "
                                    "taken-over pod itself, alive again (left to it)",
                                    NULL},
    [BRIDGE_M_LOOKUPS] = {"bridge_lookups_total", METRICS_COUNTER, "LOOKUPs sent to the registry",
                          NULL},
    [BRIDGE_M_DEDUPS] = {"bridge_dedups_total", METRICS_COUNTER, "DEDUPs sent to the registry",
                         NULL},
    [BRIDGE_M_OUTPUT_RETRIES] = {"bridge_command_output_retries_total", METRICS_COUNTER,
                                 "command results/forwards/DLQ copies produced again after a "
                                 "failure",
                                 NULL},
    [BRIDGE_M_CORE_TIMEOUTS] = {"bridge_core_timeouts_total", METRICS_COUNTER,
                                "commands finished as timeout because core never answered", NULL},
    [BRIDGE_M_CORE_RESTART_TIMEOUTS] = {"bridge_core_restart_timeouts_total", METRICS_COUNTER,
                                        "commands finished as timeout because the core holding "
                                        "them restarted",
                                        NULL},
    [BRIDGE_M_CORE_FULL] = {"bridge_core_full_total", METRICS_COUNTER,
                            "COMMAND sends a full core refused (the command waits and is sent "
                            "again)",
                            NULL},
    [BRIDGE_M_COMMANDS_WAITING_CORE] = {"bridge_commands_waiting_core", METRICS_GAUGE,
                                        "commands allowed by DEDUP waiting for room at their core",
                                        NULL},
    [BRIDGE_M_RESULTS_RELAYED] = {"bridge_command_results_relayed_total", METRICS_COUNTER,
                                  "RESULTs of commands an earlier bridge instance handed to core, "
                                  "published as they are",
                                  NULL},
    [BRIDGE_M_RESULTS_LATE] = {"bridge_command_results_late_total", METRICS_COUNTER,
                               "RESULTs dropped because their command already had its final "
                               "result",
                               NULL},
    [BRIDGE_M_PEER_RESTARTS] = {"bridge_peer_restarts_total", METRICS_COUNTER,
                                "restarts of a core or the registry seen (a new ANNOUNCE "
                                "instance), by stage",
                                "stage"},
    /* series labelled action="...",status="..." (bounded: command_action_label(),
     * command_status_label()), buckets 5 ms .. 1 h (command_flow.c) */
    [BRIDGE_M_COMMAND_DURATION] = {"bridge_command_duration_seconds", METRICS_HISTOGRAM,
                                   "command record read to its final result persisted, by action "
                                   "and status",
                                   "action"},
    [BRIDGE_M_PARTITION_MOVES] = {"bridge_commands_partition_moves_total", METRICS_COUNTER,
                                  "readers moved to a pod's new partition of commands-down after "
                                  "its partition count changed (the old one read until drained)",
                                  NULL},
};

void bridge_metrics_define(void)
{
    metrics_define(BRIDGE_METRICS, BRIDGE_M_COUNT);
}
