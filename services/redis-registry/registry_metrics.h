/* registry_metrics: every metric family redis-registry exports, declared once (one name, one
 * help text, its label), registered at start so that each is in /metrics from the first scrape.
 * The engines and the Redis shell take their series from these rows; no metric name appears
 * anywhere else in the stage. */
#ifndef REGISTRY_METRICS_H
#define REGISTRY_METRICS_H

#include "metrics.h"

typedef enum {
    REGISTRY_M_CLAIMS,
    REGISTRY_M_REASSERTS,
    REGISTRY_M_RELEASES,
    REGISTRY_M_SUPERSEDED,
    REGISTRY_M_LOOKUPS,
    REGISTRY_M_DEDUP,
    REGISTRY_M_DEDUP_UNANSWERED,
    REGISTRY_M_BAD_REPLIES,
    REGISTRY_M_REDIS_ERRORS,
    REGISTRY_M_BATCH_SECONDS,
    REGISTRY_M_REGISTRATIONS,
    REGISTRY_M_QUEUE_DEPTH,
    REGISTRY_M_BUSY,
    REGISTRY_M_SWEPT,
    REGISTRY_M_TAKEOVERS,
    REGISTRY_M_REDIS_CONNECTS,
    REGISTRY_M_REDIS_UP,
    REGISTRY_M_DEGRADED_SECONDS,
    REGISTRY_M_TAG_LOOKUPS,
    REGISTRY_M_RECONCILIATIONS,
    REGISTRY_M_RECONCILED,
    REGISTRY_M_PEER_RESTARTS,
    REGISTRY_M_ORPHANS_FORGOTTEN,
    REGISTRY_M_EDGES,
    REGISTRY_M_CRED_SYNCS,
    REGISTRY_M_CRED_SENT,
    REGISTRY_M_CRED_USED,
    REGISTRY_M_TXID_BLOCKS,
    REGISTRY_M_TXID_IDS,
    REGISTRY_M_TXID_LAST,
    REGISTRY_M_TXID_CLAIMS,
    REGISTRY_M_CLUSTER_REDIRECTS,
    REGISTRY_M_CLUSTER_REFRESHES,
    REGISTRY_M_CLUSTER_NODE_ERRORS,
    REGISTRY_M_CLUSTER_MASTERS,
    REGISTRY_M_COUNT
} registry_metric_t;

extern const metrics_def_t REGISTRY_METRICS[REGISTRY_M_COUNT];

/* Registers the whole table (main.c, once at start). */
void registry_metrics_define(void);

#endif
