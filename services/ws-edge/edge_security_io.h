/* edge_security_io: the edge's security wiring in one object, so main.c stays wiring only.
 *
 * It holds the credential cache (edge_creds.h) fed by redis-registry's CRED and CRED_SYNC, the
 * authentication engine (edge_auth.h) with its lws shell (edge_auth_io.h), and what it sends
 * back: CRED_USED, through the edge's one outbox to the registry (edge_outbox_io.h), which also
 * carries the engine's HELLO (so the registry learns where to send credentials). */
#ifndef EDGE_SECURITY_IO_H
#define EDGE_SECURITY_IO_H

#include <stdbool.h>

#include "edge_auth_io.h"
#include "edge_config.h"
#include "edge_conn.h"
#include "envelope.h"

typedef struct edge_security edge_security_t;

/* cfg is borrowed; send (with arg) is the engine's send effect (edge_conns_ops_t.send), used
 * for CRED_USED to the registry. NULL on failure (logged). */
edge_security_t *edge_security_new(const edge_config_t *cfg, edge_send_fn *send, void *arg);
void edge_security_destroy(edge_security_t **self_p);

/* The authentication of upgrades, for edge_lws_set_auth() (owned by self). */
edge_auth_io_t *edge_security_auth(edge_security_t *self);

/* CRED or CRED_SYNC from the registry: 0, or -EINVAL for another type. */
int edge_security_from_registry(edge_security_t *self, const envelope_t *env);

/* Whether the edge can decide upgrades: it needs no credentials (minimum profile 0 and unknown
 * stations allowed), or its first full sync has ended. */
bool edge_security_ready(const edge_security_t *self);

#endif
