/* edge_admission: whether an HTTP request on the WebSocket port becomes a connection.
 *
 * Pure: the shell gathers the facts of one request (what kind of request, how full and whether
 * draining the edge is, the peer's address, the path and the offered subprotocols) and gets back
 * either "accept, with this identity and subprotocol" or "refuse with this HTTP status", with a
 * stable reason name for edge_upgrades_refused_total{reason} and a detail for the log. The checks
 * run in a fixed order (the per-address rate takes a token, so what is refused before it does
 * not cost the address anything). */
#ifndef EDGE_ADMISSION_H
#define EDGE_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_limits.h"
#include "identity.h"

typedef struct {
    bool upgrade;           /* false: a plain HTTP request (no Upgrade header at all) */
    const char *upgrade_to; /* the Upgrade header's value (NULL: none) */
    size_t open_connections, max_connections;
    bool draining;
    const char *peer;            /* textual peer address (log) */
    uint64_t peer_key;           /* its edge_addr_key(): the per-address limits */
    size_t peer_connections;     /* established connections of that address now */
    size_t max_peer_connections; /* ip_max_connections; 0: no limit */
    const char *path;    /* request path as the HTTP layer decoded it; NULL: none or too long */
    size_t path_len;     /* */
    const char *offered; /* Sec-WebSocket-Protocol value; NULL: none */
    size_t offered_len;  /* */
    const char *path_prefixes; /* configured, comma-separated */
    const char *enabled;       /* enabled subprotocols, comma-separated */
} edge_upgrade_t;

typedef struct {
    unsigned int status; /* 0: accept; otherwise the HTTP status of the refusal */
    const char *reason;  /* refusal: stable metric label ("max_connections", "ip_rate", ...) */
    const char *detail;  /* refusal: what to log (static, or a view into the request) */
    char identity[IDENTITY_MAX + 1]; /* accept: the identity from the path */
    const char *subprotocol;         /* accept: the newest enabled subprotocol offered */
} edge_admission_t;

/* Decides one request. iprate may be NULL (no per-address limit); now_ms is the time for it.
 * Returns out->status (0: accepted). */
unsigned int edge_admission_decide(const edge_upgrade_t *req, edge_iprate_t *iprate,
                                   uint32_t now_ms, edge_admission_t *out);

#endif
