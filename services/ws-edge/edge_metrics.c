/* edge_metrics: the metrics table of ws-edge. See edge_metrics.h; the names are referred to by
 * the dashboards and alert rules under k8s/ (tests/integration/test_manifests.sh checks them). */
#include "edge_metrics.h"

const metrics_def_t EDGE_METRICS[EDGE_M_COUNT] = {
    [EDGE_M_CONNECTIONS] = {"edge_connections", METRICS_GAUGE, "open WebSocket connections", NULL},
    [EDGE_M_ACCEPTED] = {"edge_connections_accepted_total", METRICS_COUNTER, "upgrades accepted",
                         NULL},
    [EDGE_M_REFUSED] = {"edge_upgrades_refused_total", METRICS_COUNTER,
                        "WebSocket upgrades refused, by reason", "reason"},
    [EDGE_M_CLOSED] = {"edge_connections_closed_total", METRICS_COUNTER,
                       "connections closed, by close code (1000 ... 1011, other)", "code"},
    [EDGE_M_FRAMES_IN] = {"edge_frames_in_total", METRICS_COUNTER, "messages from charge points",
                          NULL},
    [EDGE_M_FRAMES_OUT] = {"edge_frames_out_total", METRICS_COUNTER, "messages to charge points",
                           NULL},
    [EDGE_M_BYTES_IN] = {"edge_bytes_in_total", METRICS_COUNTER, "message bytes from charge points",
                         NULL},
    [EDGE_M_BYTES_OUT] = {"edge_bytes_out_total", METRICS_COUNTER, "message bytes to charge points",
                          NULL},
    [EDGE_M_SEND_QUEUE_DROPS] = {"edge_send_queue_drops_total", METRICS_COUNTER,
                                 "connections closed as slow readers", "reason"},
    [EDGE_M_FLOW_PAUSES] = {"edge_flow_control_pauses_total", METRICS_COUNTER,
                            "times a connection stopped reading because core was full", NULL},
    [EDGE_M_RATE_LIMITED] = {"edge_rate_limited_total", METRICS_COUNTER,
                             "messages held back (reading paused) because the connection exceeded "
                             "its rate",
                             NULL},
    [EDGE_M_PINGS] = {"edge_pings_total", METRICS_COUNTER, "pings sent to silent connections",
                      NULL},
    [EDGE_M_PING_TIMEOUTS] = {"edge_ping_timeouts_total", METRICS_COUNTER,
                              "connections hung up after no traffic or pong in the window", NULL},
    [EDGE_M_STALE] = {"edge_stale_conn_total", METRICS_COUNTER,
                      "SEND/CLOSE for a connection that is gone (dropped)", NULL},
    [EDGE_M_ACCEPT_ERRORS] = {"edge_accept_errors_total", METRICS_COUNTER,
                              "accept() failures, by errno", "errno"},
    [EDGE_M_HANDSHAKES_FAILED] = {"edge_handshakes_failed_total", METRICS_COUNTER,
                                  "accepted TCP connections that never became WebSockets "
                                  "(refused, timed out, dropped)",
                                  NULL},
    [EDGE_M_HANDSHAKE_SECONDS] = {"edge_handshake_seconds", METRICS_HISTOGRAM,
                                  "time from TCP accept to an established WebSocket", NULL},
    [EDGE_M_PARTIAL_BYTES] = {"edge_partial_bytes", METRICS_GAUGE,
                              "bytes held for partial (fragmented) messages, at most "
                              "rx_budget_bytes",
                              NULL},
    [EDGE_M_LIMIT_CLOSES] = {"edge_limit_closes_total", METRICS_COUNTER,
                             "connections closed by a limit on partial messages: rx_budget "
                             "(1009), message_timeout (1008)",
                             "reason"},
    [EDGE_M_HANDSHAKES] = {"edge_handshakes", METRICS_GAUGE,
                           "sockets accepted and not upgraded yet (PROXY header, TLS, HTTP)", NULL},
    [EDGE_M_SOCKETS_DROPPED] = {"edge_sockets_dropped_total", METRICS_COUNTER,
                                "accepted sockets dropped before the upgrade without an answer, "
                                "by reason",
                                "reason"},
    [EDGE_M_ACCEPT_PAUSES] = {"edge_accept_pauses_total", METRICS_COUNTER,
                              "times accepting paused because max_handshakes sockets were in "
                              "the handshake",
                              NULL},
    [EDGE_M_CORE_INSTANCES] = {"edge_core_instances_total", METRICS_COUNTER,
                               "new core instances seen (a core started or restarted)", NULL},
    [EDGE_M_REANNOUNCED] = {"edge_reannounced_total", METRICS_COUNTER,
                            "connections re-announced to a core that restarted", NULL},
    [EDGE_M_LOST_CALL_CLOSES] = {"edge_lost_call_closes_total", METRICS_COUNTER,
                                 "connections closed (1012) because a CALL of theirs stayed "
                                 "unanswered after their core restarted",
                                 NULL},
    [EDGE_M_AUTHENTICATED] = {"edge_authenticated_total", METRICS_COUNTER,
                              "upgrades accepted, by how the station authenticated (none, basic, "
                              "basic-previous, mtls)",
                              "method"},
    [EDGE_M_CREDENTIALS] = {"edge_credentials", METRICS_GAUGE,
                            "charge-point credential records in the edge's cache", NULL},
    [EDGE_M_CRED_SYNCS] = {"edge_credential_syncs_total", METRICS_COUNTER,
                           "full credential syncs from redis-registry completed", NULL},
    [EDGE_M_CRED_REJECTED] = {"edge_credential_records_rejected_total", METRICS_COUNTER,
                              "malformed credential records refused (the station is then "
                              "unknown), by field",
                              "reason"},
    [EDGE_M_CRED_USED] = {"edge_cred_used_sent_total", METRICS_COUNTER,
                          "CRED_USED sent: a station used its new password while the previous "
                          "one was still accepted",
                          NULL},
    [EDGE_M_TLS_ALERTS] = {"edge_tls_alerts_sent_total", METRICS_COUNTER,
                           "TLS alerts sent by the edge (refused handshakes: protocol version, "
                           "no shared cipher, certificate expired, unknown CA, ...), by alert",
                           "alert"},
    [EDGE_M_TLS_RELOADS] = {"edge_tls_reloads_total", METRICS_COUNTER,
                            "certificate and key reloads on SIGHUP, by result (ok, error)",
                            "result"},
    [EDGE_M_TLS_CERT_EXPIRY] = {"edge_tls_cert_expiry_seconds", METRICS_GAUGE,
                                "notAfter of the certificate the wss listener serves (seconds "
                                "since the epoch; 0 without TLS)",
                                NULL},
};

void edge_metrics_define(void)
{
    metrics_define(EDGE_METRICS, EDGE_M_COUNT);
}

const char *edge_metrics_close_label(unsigned int code)
{
    static const char *const known[] = {"1000", "1001", "1002", "1003", "1006",
                                        "1007", "1008", "1009", "1011"};
    static const unsigned int codes[] = {1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (code == codes[i])
            return known[i];
    return "other";
}
