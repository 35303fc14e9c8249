/* edge_auth_io: the shell of the authentication decision (edge_auth.h) on libwebsockets.
 *
 * At LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, once edge_admission_decide() accepted the path and
 * subprotocol, it gathers the facts of the request (Authorization header, the connection's TLS
 * and client certificate: edge_tls_io.h), asks edge_auth_decide(), and either lets the upgrade
 * go on or answers the refusal before it: 401 with WWW-Authenticate, 403, 429 or 503 with
 * Retry-After; each refusal is counted (edge_upgrades_refused_total{reason}) and logged with the
 * identity, the reason and the address, never a secret. The outcome (auth method, security
 * profile) goes back to the caller, which keeps it with the socket until
 * LWS_CALLBACK_ESTABLISHED hands it to the connection engine for CONNECT. */
#ifndef EDGE_AUTH_IO_H
#define EDGE_AUTH_IO_H

#include <stdint.h>

#include <libwebsockets.h>

#include "edge_auth.h"

typedef struct edge_auth_io edge_auth_io_t;

/* A station authenticated with its current password while its record still has a previous
 * one: tell the registry (CRED_USED) so it drops the previous one. */
typedef void(edge_cred_used_fn)(void *arg, const char *identity, const char *fingerprint);

/* auth is borrowed (it must outlive this). NULL on failure. */
edge_auth_io_t *edge_auth_io_new(edge_auth_t *auth, edge_cred_used_fn *cred_used, void *arg);
void edge_auth_io_destroy(edge_auth_io_t **self_p);

/* What an accepted upgrade authenticated with, kept with its socket (edge_lws_io.c) until the
 * WebSocket is established and hands it to the connection engine. */
typedef struct {
    uint8_t method;  /* index into EDGE_AUTH_METHODS (edge_auth.h) */
    uint8_t profile; /* the security profile it satisfied (0: none) */
} edge_auth_outcome_t;

/* Decides the upgrade of wsi for identity (valid) from the address peer (text, for the log;
 * peer_key: its edge_addr_key(), the throttle's key) at now_ms, and answers a refusal. Returns
 * what the lws callback returns (0: the upgrade goes on, *outcome set). self NULL refuses
 * (503). */
int edge_auth_io_admit(edge_auth_io_t *self, struct lws *wsi, const char *identity,
                       const char *peer, uint64_t peer_key, uint32_t now_ms,
                       edge_auth_outcome_t *outcome);

#endif
