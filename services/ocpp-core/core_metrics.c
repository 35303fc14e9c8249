/* core_metrics: the metrics table of ocpp-core. See core_metrics.h. */
#include "core_metrics.h"

const metrics_def_t CORE_METRICS[CORE_M_COUNT] = {
    [CORE_M_CALLS] = {"core_calls_total", METRICS_COUNTER, "CALLs from charge points", NULL},
    [CORE_M_EVENTS] = {"core_events_total", METRICS_COUNTER, "events handed to kafka-bridge", NULL},
    [CORE_M_STALE_CONN] = {"core_stale_conn_total", METRICS_COUNTER,
                           "envelopes for a connection core does not know", NULL},
    [CORE_M_CONNECTIONS] = {"core_connections", METRICS_GAUGE, "connections held by this core",
                            NULL},
    [CORE_M_ANSWERS_HELD] = {"core_answers_held", METRICS_GAUGE,
                             "answers waiting for Kafka to confirm their event", NULL},
    [CORE_M_ANSWERS_ABANDONED] = {"core_answers_abandoned_total", METRICS_COUNTER,
                                  "held answers dropped because the charge point sent a new CALL",
                                  NULL},
    [CORE_M_ACKS_UNKNOWN] = {"core_acks_unknown_total", METRICS_COUNTER,
                             "EVENT_ACKs for no held answer", NULL},
    [CORE_M_OCPP_ERRORS] = {"core_ocpp_errors_total", METRICS_COUNTER,
                            "CALLERRORs sent to charge points, by code", "code"},
    [CORE_M_RESPONSES_DROPPED] = {"core_responses_dropped_total", METRICS_COUNTER,
                                  "CALLRESULT/CALLERROR matching no outstanding CALL (late or "
                                  "unknown)",
                                  NULL},
    [CORE_M_RESPONSES_MALFORMED] = {"core_responses_malformed_total", METRICS_COUNTER,
                                    "malformed CALLRESULT/CALLERROR/SEND frames dropped "
                                    "unanswered, by code",
                                    "code"},
    [CORE_M_CALLRESULTERRORS] = {"core_callresulterrors_total", METRICS_COUNTER,
                                 "CALLRESULTERRORs from charge points", NULL},
    [CORE_M_COMMAND_RESULTS] = {"core_command_results_total", METRICS_COUNTER,
                                "final results of downlink commands, by status", "status"},
    [CORE_M_SUPERSEDED] = {"core_superseded_total", METRICS_COUNTER,
                           "connections closed because a newer one exists", NULL},
    [CORE_M_REGISTRY_BUSY] = {"core_registry_busy", METRICS_GAUGE,
                              "1 while redis-registry reports its queue over the limit", NULL},
};
