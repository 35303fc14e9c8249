/* edge_admission: the upgrade decision, one rule after the other. See edge_admission.h. */
#include "edge_admission.h"

#include <string.h>
#include <strings.h>

#include "edge_path.h"
#include "edge_subprotocol.h"

/* HTTP statuses of the refusals */
enum {
    STATUS_BAD_REQUEST = 400,
    STATUS_NOT_FOUND = 404,
    STATUS_TOO_MANY = 429,
    STATUS_UNAVAILABLE = 503,
};

static unsigned int refuse(edge_admission_t *out, unsigned int status, const char *reason,
                           const char *detail)
{
    out->status = status;
    out->reason = reason;
    out->detail = detail;
    return status;
}

unsigned int edge_admission_decide(const edge_upgrade_t *req, edge_iprate_t *iprate,
                                   uint32_t now_ms, edge_admission_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!req->upgrade)
        return refuse(out, STATUS_NOT_FOUND, "not_websocket", "WebSocket upgrade required");
    if (!req->upgrade_to || strcasecmp(req->upgrade_to, "websocket") != 0)
        return refuse(out, STATUS_BAD_REQUEST, "bad_upgrade", "not a websocket upgrade");
    if (req->open_connections >= req->max_connections)
        return refuse(out, STATUS_UNAVAILABLE, "max_connections", "edge is full");
    if (req->draining)
        return refuse(out, STATUS_UNAVAILABLE, "draining", "edge is draining");
    /* the cap before the rate: a refused upgrade costs the address no token */
    if (req->max_peer_connections && req->peer_connections >= req->max_peer_connections)
        return refuse(out, STATUS_TOO_MANY, "ip_connections",
                      "too many open connections from this address");
    if (iprate && !edge_iprate_allow(iprate, req->peer_key, now_ms))
        return refuse(out, STATUS_TOO_MANY, "ip_rate", "too many connections from this address");

    if (!req->path || req->path_len == 0)
        return refuse(out, STATUS_NOT_FOUND, "bad_path", "no or oversized path");
    /* the HTTP layer has already percent-decoded the path: never decode twice */
    edge_path_result_t pr =
        edge_path_parse(req->path, req->path_len, req->path_prefixes, false, out->identity);
    if (pr != EDGE_PATH_OK)
        return refuse(out, pr == EDGE_PATH_BAD_PREFIX ? STATUS_NOT_FOUND : STATUS_BAD_REQUEST,
                      edge_path_result_name(pr), req->path);

    if (!req->offered || req->offered_len == 0)
        return refuse(out, STATUS_BAD_REQUEST, "no_subprotocol", out->identity);
    out->subprotocol = edge_subprotocol_choose(req->offered, req->offered_len, req->enabled);
    if (!out->subprotocol)
        return refuse(out, STATUS_BAD_REQUEST, "unsupported_subprotocol", req->offered);
    return 0;
}
