/* registry_cluster: the pure parts of redis-registry's Redis Cluster client (no hiredis, no
 * sockets; registry_redis_io.c is the shell that sends what this decides).
 *
 *  - key slots: CRC16 (XMODEM) of the key, or of its hash tag ({...}, the first non-empty one),
 *    modulo 16384, as Redis Cluster computes them;
 *  - the slot map: which master serves each slot, parsed from a CLUSTER SLOTS reply (untrusted:
 *    a reply that does not make sense is refused, never trusted in part);
 *  - redirects: "MOVED <slot> <host>:<port>" and "ASK <slot> <host>:<port>" error replies;
 *  - routing: the slot (or, for a keyless command, the master) a batch command goes to;
 *  - the Cluster plan of each command of a batch (registry_cluster_op_*): a script that also
 *    touches pod keys runs as its one-slot variant (REGISTRY_SCRIPT_*_CLUSTER) with the pod-key
 *    steps before or after it, and its reply is rebuilt as the single-node script answers it, so
 *    the engines do not know which mode they run in. SCAN walks every master in turn behind one
 *    composite cursor "<master>:<cursor>". docs/registry.md "Redis Cluster" says which guarantee
 *    of a single script each split keeps, and why the others are safe. */
#ifndef REGISTRY_CLUSTER_H
#define REGISTRY_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry_batch.h"
#include "registry_config.h"

#define REGISTRY_CLUSTER_SLOTS     16384
#define REGISTRY_CLUSTER_MAX_NODES 64
#define REGISTRY_CLUSTER_NO_NODE   255

/* CRC16/XMODEM of len bytes (the Cluster's key hash). */
uint16_t registry_cluster_crc16(const char *buf, size_t len);
/* The slot of a key: its hash tag's (the bytes between the first '{' and the first '}' after
 * it, when not empty) or the whole key's. */
int registry_cluster_key_slot(const char *key, size_t len);

/* Which master serves each slot. Masters are sorted by host then port, so that their order
 * (SCAN's walk) does not depend on the order of the reply. */
typedef struct {
    registry_addr_t nodes[REGISTRY_CLUSTER_MAX_NODES];
    int nnodes;
    uint8_t slot_node[REGISTRY_CLUSTER_SLOTS]; /* REGISTRY_CLUSTER_NO_NODE: not served */
    int covered;                               /* slots served */
} registry_cluster_map_t;

/* A CLUSTER SLOTS reply -> map. fallback_host replaces an empty or "?" master host (the node
 * asked: Redis answers "" when it does not know its own address). 0, or -EINVAL (why filled)
 * when the reply is no array of [start, end, [host, port, ...], ...] with 0 <= start <= end <
 * 16384, a port 1..65535 and at most REGISTRY_CLUSTER_MAX_NODES masters; slots named twice keep
 * their last master. */
int registry_cluster_map_parse(const registry_reply_t *r, const char *fallback_host,
                               registry_cluster_map_t *out, char *why, size_t whylen);
/* Index of host:port among the map's masters, or -1. */
int registry_cluster_map_find(const registry_cluster_map_t *map, const char *host, int port);

typedef enum {
    REGISTRY_REDIRECT_NONE,
    REGISTRY_REDIRECT_MOVED,
    REGISTRY_REDIRECT_ASK
} registry_redirect_kind_t;
typedef struct {
    registry_redirect_kind_t kind;
    int slot;
    registry_addr_t to;
} registry_redirect_t;
/* An error reply's text (len bytes, not necessarily NUL-terminated) -> redirect. NONE for any
 * other error or a malformed redirect (slot outside 0..16383, port outside 1..65535, no host). */
registry_redirect_t registry_cluster_parse_redirect(const char *s, size_t len);

/* Routing of command i of a batch: its slot (>= 0), or -1 for a keyless command (any master). */
int registry_cluster_command_slot(const registry_batch_t *b, size_t i);

/* ---- the Cluster plan of one batch command ------------------------------------------------ */

/* Most commands one step of a plan sends. */
#define REGISTRY_CLUSTER_STEP_MAX 2

typedef struct {
    int step;                 /* 0 before the first step */
    registry_reply_t *result; /* the reply the engine gets, once finished (owned) */
    registry_reply_t *main;   /* the one-slot script's reply kept for the next step (owned) */
    char prev[160];           /* CLAIM: the previous pod whose lease was checked */
} registry_cluster_op_t;

/* The next step of command i of batch b (nnodes: masters in the map, for SCAN's walk):
 * replies/n are the answers to the commands the previous step appended (none at the first).
 * Appends that step's commands to out and for each its target master in targets[] (-1: route
 * by its key), and returns how many (1..REGISTRY_CLUSTER_STEP_MAX); 0 when the plan is finished
 * (op->result set: an error reply of any step ends it as its result); -ENOMEM. */
int registry_cluster_op_step(registry_cluster_op_t *op, const registry_batch_t *b, size_t i,
                             int nnodes, const registry_reply_t *const *replies, size_t n,
                             registry_batch_t *out, int *targets);
/* Frees what the op holds (result included, unless taken: set op->result NULL first). */
void registry_cluster_op_reset(registry_cluster_op_t *op);

/* A deep copy of a reply (NULL on allocation failure or for NULL). */
registry_reply_t *registry_reply_clone(const registry_reply_t *r);

#endif
