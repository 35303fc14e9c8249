/* core_metrics: every metric family ocpp-core exports, declared once (name, kind, help,
 * label). main.c registers the table at start, so each family is in /metrics from the first
 * scrape; the engine takes its series from the rows. No metric name appears anywhere else in
 * the stage. (envelopes_dropped_total and envelopes_rejected_total belong to common/channel.) */
#ifndef CORE_METRICS_H
#define CORE_METRICS_H

#include "metrics.h"

typedef enum {
    CORE_M_CALLS,                 /* CALLs from charge points */
    CORE_M_EVENTS,                /* events handed to kafka-bridge */
    CORE_M_STALE_CONN,            /* envelopes for a connection core does not know */
    CORE_M_CONNECTIONS,           /* gauge: connections held */
    CORE_M_ANSWERS_HELD,          /* gauge: answers waiting for persistence */
    CORE_M_ANSWERS_ABANDONED,     /* held answers the charge point gave up on */
    CORE_M_ACKS_UNKNOWN,          /* EVENT_ACKs for no held answer */
    CORE_M_OCPP_ERRORS,           /* CALLERRORs sent, {code} */
    CORE_M_RESPONSES_DROPPED,     /* responses matching no outstanding CALL */
    CORE_M_RESPONSES_MALFORMED,   /* malformed responses dropped, {code} */
    CORE_M_CALLRESULTERRORS,      /* OCPP 2.1 CALLRESULTERRORs received */
    CORE_M_COMMAND_RESULTS,       /* final results of commands, {status} */
    CORE_M_SUPERSEDED,            /* connections closed for a newer one elsewhere */
    CORE_M_REGISTRY_BUSY,         /* gauge: redis-registry reports backpressure */
    CORE_M_REGISTRATIONS_REFUSED, /* claims refused for an authenticated holder: closed */
    CORE_M_RECOVERED,             /* connections recovered after a core restart, {how} */
    CORE_M_STATE_LOST,            /* frames of unknown connections without identity: closed */
    CORE_M_PEER_RESTARTS,         /* new instances of peers seen, {stage} */
    CORE_M_UNROUTED,              /* gauge: envelopes waiting for their edge's HELLO */
    CORE_M_UNROUTED_DROPPED,      /* of those, dropped, {reason} */
    CORE_M_EVENTS_REFUSED,        /* CALLs answered "gateway busy": the bridge was full */
    CORE_M_TAG_CACHE,             /* id-token cache lookups, {result} */
    CORE_M_TAG_FALLBACKS,         /* id tokens answered by tag_fallback, {reason} */
    CORE_M_TAGS_WAITING,          /* gauge: CALLs waiting for their id token's status */
    CORE_M_TAG_CACHE_ENTRIES,     /* gauge: id-token answers cached */
    CORE_M_CALL_SECONDS,          /* histogram: receive -> answer, {action,version} */
    CORE_M_RESENDS_SUPPRESSED,    /* resent CALLs answered again without a new event */
    CORE_M_TXID_BLOCKS,           /* TXID_BLOCK outcomes, {status} */
    CORE_M_TXID_AVAILABLE,        /* gauge: 1.6 transaction ids left in the pool */
    CORE_M_TXID_CLAIMS,           /* TXID_CLAIM outcomes, {result} */
    CORE_M_TXID_UNANSWERED,       /* StartTransactions answered InternalError: no id, {reason} */
    CORE_M_SENDS,                 /* 2.1 SENDs from charge points, {result} */
    CORE_M_CALLRESULTERRORS_SENT, /* 2.1 CALLRESULTERRORs sent for invalid CALLRESULTs, {code} */
    CORE_M_COUNT
} core_metric_t;

extern const metrics_def_t CORE_METRICS[CORE_M_COUNT];

#endif
