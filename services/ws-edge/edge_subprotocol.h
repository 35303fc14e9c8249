/* edge_subprotocol: which OCPP version a connection speaks (DESIGN §3).
 *
 * The gateway chooses the newest version that the charge point offers in
 * Sec-WebSocket-Protocol and that this edge enables, whatever the order of the client's list. */
#ifndef EDGE_SUBPROTOCOL_H
#define EDGE_SUBPROTOCOL_H

#include <stddef.h>

/* Known subprotocols, newest first. */
extern const char *const EDGE_SUBPROTOCOLS[];
extern const size_t EDGE_SUBPROTOCOL_COUNT;

/* enabled: comma-separated names ("ocpp2.1,ocpp2.0.1,ocpp1.6"); offered: the header value (comma-
 * separated, optional whitespace). Returns the chosen name (static string) or NULL if none
 * matches or nothing was offered. */
const char *edge_subprotocol_choose(const char *offered, size_t offered_len, const char *enabled);

/* 0 if every name in the comma-separated list is known, -EINVAL otherwise (config validator) */
int edge_subprotocol_validate_list(const char *list, char *why, size_t whylen);

#endif
