/* registry_metrics: the metrics table of redis-registry. See registry_metrics.h. */
#include "registry_metrics.h"

const metrics_def_t REGISTRY_METRICS[REGISTRY_M_COUNT] = {
    [REGISTRY_M_CLAIMS] = {"registry_claims_total", METRICS_COUNTER, "connection claims written",
                           NULL},
    [REGISTRY_M_REASSERTS] = {"registry_reasserts_total", METRICS_COUNTER,
                              "re-assertions of held claims (compare-and-set)", NULL},
    [REGISTRY_M_RELEASES] = {"registry_releases_total", METRICS_COUNTER,
                             "mappings released (epoch matched)", NULL},
    [REGISTRY_M_SUPERSEDED] = {"registry_superseded_total", METRICS_COUNTER,
                               "our connections that lost to a newer claim (pubsub, reassert) or "
                               "whose unauthenticated claim was refused (unauthenticated)",
                               "via"},
    [REGISTRY_M_LOOKUPS] = {"registry_lookups_total", METRICS_COUNTER, "owner lookups answered",
                            "status"},
    [REGISTRY_M_DEDUP] = {"registry_dedup_total", METRICS_COUNTER, "de-dup checks answered",
                          "first"},
    [REGISTRY_M_DEDUP_UNANSWERED] = {"registry_dedup_unanswered_total", METRICS_COUNTER,
                                     "de-dup checks answered with an error", "status"},
    [REGISTRY_M_BAD_REPLIES] = {"registry_bad_replies_total", METRICS_COUNTER,
                                "malformed data read from Redis", "what"},
    [REGISTRY_M_REDIS_ERRORS] = {"registry_redis_errors_total", METRICS_COUNTER,
                                 "failed Redis commands", NULL},
    [REGISTRY_M_BATCH_SECONDS] = {"registry_redis_batch_seconds", METRICS_HISTOGRAM,
                                  "round trip of one pipelined batch", NULL},
    [REGISTRY_M_REGISTRATIONS] = {"registry_registrations", METRICS_GAUGE,
                                  "live registrations of this pod", NULL},
    [REGISTRY_M_QUEUE_DEPTH] = {"registry_queue_depth", METRICS_GAUGE, "work waiting for Redis",
                                NULL},
    [REGISTRY_M_BUSY] = {"registry_busy", METRICS_GAUGE, "1 while cores are told to slow down",
                         NULL},
    [REGISTRY_M_SWEPT] = {"registry_stale_swept_total", METRICS_COUNTER,
                          "stale mappings of dead pods removed by this sweeper", NULL},
    [REGISTRY_M_TAKEOVERS] = {"registry_takeovers_total", METRICS_COUNTER,
                              "takeover claims won (active) and given up", "active"},
    [REGISTRY_M_REDIS_CONNECTS] = {"registry_redis_connects_total", METRICS_COUNTER,
                                   "connections to Redis", NULL},
    [REGISTRY_M_REDIS_UP] = {"registry_redis_up", METRICS_GAUGE, "1 while Redis is reachable",
                             NULL},
    [REGISTRY_M_DEGRADED_SECONDS] = {"registry_degraded_seconds_total", METRICS_COUNTER,
                                     "time spent without a Redis connection, in whole seconds "
                                     "(the fraction is carried over)",
                                     NULL},
    [REGISTRY_M_TAG_LOOKUPS] = {"registry_tag_lookups_total", METRICS_COUNTER,
                                "id-token lookups answered (ok, busy, unavailable, error)",
                                "status"},
    [REGISTRY_M_RECONCILIATIONS] = {"registry_reconciliations_total", METRICS_COUNTER,
                                    "reconciliations of this pod's mappings with its "
                                    "registrations started",
                                    NULL},
    [REGISTRY_M_RECONCILED] = {"registry_reconcile_released_total", METRICS_COUNTER,
                               "mappings released because their connection did not come back "
                               "(core_restart) or no registration held them (reconcile)",
                               "why"},
    [REGISTRY_M_PEER_RESTARTS] = {"registry_peer_restarts_total", METRICS_COUNTER,
                                  "restarts of peers seen (a new instance)", "stage"},
    [REGISTRY_M_ORPHANS_FORGOTTEN] = {"registry_orphans_forgotten_total", METRICS_COUNTER,
                                      "dead pods forgotten after orphan_forget_ms", NULL},
    [REGISTRY_M_EDGES] = {"registry_edges", METRICS_GAUGE, "ws-edge processes known (HELLO)", NULL},
    [REGISTRY_M_CRED_SYNCS] = {"registry_cred_syncs_total", METRICS_COUNTER,
                               "full credential syncs sent to an edge", NULL},
    [REGISTRY_M_CRED_SENT] = {"registry_cred_records_sent_total", METRICS_COUNTER,
                              "credential records sent to edges, in a full sync or as a change",
                              "kind"},
    [REGISTRY_M_CRED_USED] = {"registry_cred_used_total", METRICS_COUNTER,
                              "CRED_USED handled: previous password removed or nothing to do",
                              "result"},
    [REGISTRY_M_TXID_BLOCKS] = {"registry_txid_blocks_total", METRICS_COUNTER,
                                "TXID_BLOCK answered (ok, busy, unavailable, invalid, exhausted: "
                                "the counter reached 2^31-1, error)",
                                "status"},
    [REGISTRY_M_TXID_IDS] = {"registry_txid_ids_total", METRICS_COUNTER,
                             "OCPP 1.6 transaction ids handed out to cores in blocks", NULL},
    [REGISTRY_M_TXID_LAST] =
        {"registry_txid_last_issued", METRICS_GAUGE,
         "the last 1.6 transaction id handed out cluster-wide (counter as last "
         "read; its limit is 2147483647)",
         NULL},
    [REGISTRY_M_TXID_CLAIMS] = {"registry_txid_claims_total", METRICS_COUNTER,
                                "TXID_CLAIM answered (first: the candidate stored, found: an id "
                                "remembered before, busy, unavailable, invalid, error)",
                                "result"},
    [REGISTRY_M_CLUSTER_REDIRECTS] = {"registry_cluster_redirects_total", METRICS_COUNTER,
                                      "Redis Cluster redirects followed (kind: moved, ask)",
                                      "kind"},
    [REGISTRY_M_CLUSTER_REFRESHES] = {"registry_cluster_map_refreshes_total", METRICS_COUNTER,
                                      "Redis Cluster slot map reads (result: ok, failed)",
                                      "result"},
    [REGISTRY_M_CLUSTER_NODE_ERRORS] = {"registry_cluster_node_errors_total", METRICS_COUNTER,
                                        "Redis Cluster node connections that failed or broke, "
                                        "per node host:port",
                                        "node"},
    [REGISTRY_M_CLUSTER_MASTERS] = {"registry_cluster_masters", METRICS_GAUGE,
                                    "Redis Cluster masters in the slot map (0 in single-node "
                                    "and Sentinel mode)",
                                    NULL},
};

void registry_metrics_define(void)
{
    metrics_define(REGISTRY_METRICS, REGISTRY_M_COUNT);
}
