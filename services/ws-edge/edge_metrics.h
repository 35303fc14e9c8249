/* edge_metrics: every metric family ws-edge exports, declared once (docs/engines.md).
 *
 * One row per family (name, kind, help, label); the stage registers the table at start-up and
 * takes its series from the rows, so no metric name appears anywhere else in the stage. */
#ifndef EDGE_METRICS_H
#define EDGE_METRICS_H

#include "metrics.h"

typedef enum {
    EDGE_M_CONNECTIONS,      /* gauge */
    EDGE_M_ACCEPTED,         /* upgrades accepted */
    EDGE_M_REFUSED,          /* {reason} */
    EDGE_M_CLOSED,           /* {code} */
    EDGE_M_FRAMES_IN,        /* messages from charge points */
    EDGE_M_FRAMES_OUT,       /* messages to charge points */
    EDGE_M_BYTES_IN,         /* */
    EDGE_M_BYTES_OUT,        /* */
    EDGE_M_SEND_QUEUE_DROPS, /* {reason} */
    EDGE_M_FLOW_PAUSES,      /* core full */
    EDGE_M_RATE_LIMITED,     /* message rate */
    EDGE_M_PINGS,            /* */
    EDGE_M_PING_TIMEOUTS,    /* */
    EDGE_M_STALE,            /* SEND/CLOSE for a connection that is gone */
    EDGE_M_ACCEPT_ERRORS,    /* {errno} */
    EDGE_M_HANDSHAKES_FAILED,
    EDGE_M_HANDSHAKE_SECONDS, /* histogram */
    /* issues 12 and 13: limits against one host, reconciliation with the cores */
    EDGE_M_PARTIAL_BYTES,    /* gauge: reassembly buffers */
    EDGE_M_LIMIT_CLOSES,     /* {reason}: rx_budget, message_timeout */
    EDGE_M_HANDSHAKES,       /* gauge: sockets accepted, not yet upgraded */
    EDGE_M_SOCKETS_DROPPED,  /* {reason}: dropped before the upgrade without an answer */
    EDGE_M_ACCEPT_PAUSES,    /* max_handshakes reached */
    EDGE_M_CORE_INSTANCES,   /* new core instances seen */
    EDGE_M_REANNOUNCED,      /* CONNECT resumed=true sent */
    EDGE_M_LOST_CALL_CLOSES, /* closed: a CALL its restarted core lost stayed unanswered */
    /* issue 13: authentication and TLS */
    EDGE_M_AUTHENTICATED,   /* {method}: none, basic, basic-previous, mtls */
    EDGE_M_CREDENTIALS,     /* gauge: records cached */
    EDGE_M_CRED_SYNCS,      /* full syncs completed */
    EDGE_M_CRED_REJECTED,   /* {reason}: the malformed field */
    EDGE_M_CRED_USED,       /* CRED_USED sent to the registry */
    EDGE_M_TLS_ALERTS,      /* {alert}: TLS alerts the edge sent (refused handshakes) */
    EDGE_M_TLS_RELOADS,     /* {result}: ok, error */
    EDGE_M_TLS_CERT_EXPIRY, /* gauge: notAfter of the served certificate, seconds since the epoch */
    EDGE_M_COUNT
} edge_metric_t;

extern const metrics_def_t EDGE_METRICS[EDGE_M_COUNT];

/* Registers the table (every family in /metrics from the first scrape). */
void edge_metrics_define(void);

/* The `code` label of edge_connections_closed_total: one of a fixed set ("1000", "1001", "1002",
 * "1003", "1006", "1007", "1008", "1009", "1011", "other"), so a peer choosing its close code
 * cannot create new series. */
const char *edge_metrics_close_label(unsigned int code);

#endif
