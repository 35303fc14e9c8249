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
                                    "malformed CALLRESULT/CALLERROR/CALLRESULTERROR frames dropped "
                                    "unanswered, by code",
                                    "code"},
    [CORE_M_CALLRESULTERRORS] = {"core_callresulterrors_total", METRICS_COUNTER,
                                 "CALLRESULTERRORs from charge points (OCPP 2.1)", NULL},
    [CORE_M_COMMAND_RESULTS] = {"core_command_results_total", METRICS_COUNTER,
                                "final results of downlink commands, by status", "status"},
    [CORE_M_SUPERSEDED] = {"core_superseded_total", METRICS_COUNTER,
                           "connections closed because a newer one exists", NULL},
    [CORE_M_REGISTRY_BUSY] = {"core_registry_busy", METRICS_GAUGE,
                              "1 while redis-registry reports its queue over the limit", NULL},
    [CORE_M_REGISTRATIONS_REFUSED] = {"core_registrations_refused_total", METRICS_COUNTER,
                                      "connections closed because the registry refused their "
                                      "claim: an authenticated connection holds the identity",
                                      NULL},
    [CORE_M_RECOVERED] = {"core_conn_recovered_total", METRICS_COUNTER,
                          "connections this core took over after it restarted, by how "
                          "(frame: from a FRAME's identity; resumed: from a resumed CONNECT)",
                          "how"},
    [CORE_M_STATE_LOST] = {"core_conn_state_lost_total", METRICS_COUNTER,
                           "frames of a connection core does not know and cannot recover (no "
                           "identity): the connection is closed 1011 so the station reconnects",
                           NULL},
    [CORE_M_PEER_RESTARTS] = {"core_peer_restarts_total", METRICS_COUNTER,
                              "new instances of peers seen (a restart), by stage", "stage"},
    [CORE_M_UNROUTED] = {"core_unrouted_envelopes", METRICS_GAUGE,
                         "envelopes of edges without a route yet, waiting for their HELLO", NULL},
    [CORE_M_UNROUTED_DROPPED] = {"core_unrouted_dropped_total", METRICS_COUNTER,
                                 "envelopes of edges without a route dropped, by reason (full, "
                                 "expired, edges)",
                                 "reason"},
    [CORE_M_EVENTS_REFUSED] = {"core_events_refused_total", METRICS_COUNTER,
                               "CALLs answered InternalError \"gateway busy, retry\" because "
                               "kafka-bridge was full",
                               NULL},
    [CORE_M_TAG_CACHE] = {"core_tag_cache_total", METRICS_COUNTER,
                          "id-token statuses looked up in the cache (auth_policy redis), by result",
                          "result"},
    [CORE_M_TAG_FALLBACKS] = {"core_tag_fallbacks_total", METRICS_COUNTER,
                              "id tokens answered by tag_fallback, by reason (timeout, refused, "
                              "error)",
                              "reason"},
    [CORE_M_TAGS_WAITING] = {"core_tag_lookups_waiting", METRICS_GAUGE,
                             "CALLs waiting for their id token's status from the registry", NULL},
    [CORE_M_TAG_CACHE_ENTRIES] = {"core_tag_cache_entries", METRICS_GAUGE,
                                  "id-token answers in the cache", NULL},
    /* label: the engine sets action and version (bounded: actions of the schemas, else
     * "other"), see call_seconds() in core_conn.c */
    [CORE_M_CALL_SECONDS] = {"core_call_duration_seconds", METRICS_HISTOGRAM,
                             "time from the edge receiving a charge point's CALL to the core "
                             "handing on its answer (CALLRESULT or CALLERROR), by action and OCPP "
                             "version",
                             "action"},
    [CORE_M_RESENDS_SUPPRESSED] = {"core_resends_suppressed_total", METRICS_COUNTER,
                                   "CALLs whose natural event id this connection already had in "
                                   "Kafka: answered again, not published again",
                                   NULL},
    [CORE_M_TXID_BLOCKS] = {"core_txid_blocks_total", METRICS_COUNTER,
                            "blocks of OCPP 1.6 transaction ids asked of the registry, by outcome "
                            "(ok, unavailable: Redis unreachable, busy, exhausted: the counter "
                            "reached 2^31-1, error, timeout: no answer in time, refused: the "
                            "registry's outbox was full)",
                            "status"},
    [CORE_M_TXID_AVAILABLE] = {"core_txid_available", METRICS_GAUGE,
                               "OCPP 1.6 transaction ids this core holds and has not handed out",
                               NULL},
    [CORE_M_TXID_CLAIMS] = {"core_txid_claims_total", METRICS_COUNTER,
                            "StartTransaction ids claimed under their natural key, by outcome "
                            "(first: the candidate, found: an id given before, a resend; "
                            "unavailable, busy, timeout, refused: asked again; error)",
                            "result"},
    [CORE_M_TXID_UNANSWERED] = {"core_txid_unanswered_total", METRICS_COUNTER,
                                "1.6 StartTransactions answered InternalError because no "
                                "transaction id could be claimed within txid_claim_budget_ms "
                                "(the station resends), by reason (budget, no_ids, error)",
                                "reason"},
    [CORE_M_SENDS] = {"core_sends_total", METRICS_COUNTER,
                      "OCPP 2.1 SENDs from charge points (never answered), by result", "result"},
    [CORE_M_CALLRESULTERRORS_SENT] = {"core_callresulterrors_sent_total", METRICS_COUNTER,
                                      "OCPP 2.1 CALLRESULTERRORs sent to charge points for an "
                                      "invalid CALLRESULT to a command, by code",
                                      "code"},
};
