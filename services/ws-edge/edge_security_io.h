/* edge_security_io: the edge's security wiring in one object, so main.c stays wiring only.
 *
 * It holds the credential cache (edge_creds.h) fed by redis-registry's CRED and CRED_SYNC, the
 * authentication engine (edge_auth.h) with its lws shell (edge_auth_io.h), and the PUSH socket
 * to the registry that carries CRED_USED back (and the edge's HELLO, so the registry learns
 * where to send credentials). */
#ifndef EDGE_SECURITY_IO_H
#define EDGE_SECURITY_IO_H

#include <stdbool.h>

#include "edge_auth_io.h"
#include "edge_config.h"
#include "envelope.h"

typedef struct edge_security edge_security_t;

/* cfg is borrowed. NULL on failure (logged). */
edge_security_t *edge_security_new(const edge_config_t *cfg);
void edge_security_destroy(edge_security_t **self_p);

/* The authentication of upgrades, for edge_lws_set_auth() (owned by self). */
edge_auth_io_t *edge_security_auth(edge_security_t *self);

/* CRED or CRED_SYNC from the registry: 0, or -EINVAL for another type. */
int edge_security_from_registry(edge_security_t *self, const envelope_t *env);

/* Whether the edge can decide upgrades: it needs no credentials (minimum profile 0 and unknown
 * stations allowed), or its first full sync has ended. */
bool edge_security_ready(const edge_security_t *self);

/* Sends env (the edge's HELLO) to the registry too; dropped and counted when it is full. */
void edge_security_hello(edge_security_t *self, const envelope_t *env);

#endif
