/* registry_links_io: the registry's ZeroMQ peers, each behind an outbox (common/outbox.h), so the
 * loop never waits on a peer (DESIGN-12-13 "No loop blocks on a peer"): a PUSH to each core, to
 * kafka-bridge, and to each ws-edge that said HELLO (its endpoint), opened on its first HELLO.
 *
 * The policy of each message kind when its receiver is full is chosen here, in one place
 * (registry_links_policy): REGISTERED, SUPERSEDED, TAG_INFO (cores), OWNER, DEDUP_RESULT,
 * TAKEOVER, EVENT (bridge), CRED, CRED_SYNC (edges): MUST (queued past the bound up to the hard
 * cap; a CRED an edge could not take costs it a full sync later); ANNOUNCE, REGISTRY_BUSY: DROP
 * (repeated). What waits is flushed when the loop is idle, by a short timer that runs while
 * anything waits. */
#ifndef REGISTRY_LINKS_IO_H
#define REGISTRY_LINKS_IO_H

#include <stdint.h>

#include <czmq.h>

#include "envelope.h"
#include "outbox.h"
#include "registry_config.h"

typedef struct registry_links registry_links_t;

/* The sockets to every core and the bridge; no edge yet. cfg and loop must outlive it. */
registry_links_t *registry_links_new(const registry_config_t *cfg, zloop_t *loop);
/* Drops what still waits (counted) and closes every socket; safe twice. */
void registry_links_destroy(registry_links_t **self_p);

/* The policy of a message kind (above). */
outbox_policy_t registry_links_policy(envelope_type_t type);

/* Sends env with its kind's policy. 0, -ENOBUFS (full: dropped and counted), -EINVAL (no such
 * core), -ENOENT (no route to that edge), or another negative errno. */
int registry_links_to_core(registry_links_t *self, uint32_t core, const envelope_t *env);
int registry_links_to_bridge(registry_links_t *self, const envelope_t *env);
int registry_links_to_edge(registry_links_t *self, const char *edge_id, const envelope_t *env);

/* The route to an edge (HELLO): opened, or opened again when its endpoint changed. 0, -EINVAL
 * (an endpoint that is not ipc:// or tcp://), -ENOSPC (too many edges), -ENOMEM. */
int registry_links_edge_route(registry_links_t *self, const char *edge_id, const char *endpoint);

/* ANNOUNCE {registry, 0, instance} to every core, the bridge and every known edge. */
void registry_links_announce(registry_links_t *self, uint64_t instance);

#endif
