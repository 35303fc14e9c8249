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
                               "our connections that lost to a newer claim", "via"},
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
    [REGISTRY_M_DEGRADED_MS] = {"registry_degraded_milliseconds_total", METRICS_COUNTER,
                                "time spent without a Redis connection", NULL},
};

void registry_metrics_define(void)
{
    metrics_define(REGISTRY_METRICS, REGISTRY_M_COUNT);
}
