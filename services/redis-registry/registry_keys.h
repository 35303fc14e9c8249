/* registry_keys: Redis key names and Lua scripts of the connection map (DESIGN §6).
 *
 * conn:<identity>            -> owning pod id, a plain string: the seed's lookup, GET it to route
 *                               a command (`GET conn:CP-007` -> `gateway-pod-xyz`)
 * {conn:<identity>}:epoch    -> fencing counter, INCR on every claim; when missing (Redis lost
 *                               its data, or it expired) it restarts from Redis' clock in
 *                               milliseconds, so an epoch never goes backwards. No TTL while the
 *                               mapping exists; epoch_ttl_ms (default 7 days) once released
 * {conn:<identity>}:meta     -> hash: pod, epoch, edge, conn, since, version, boot, auth (1: the
 *                               connection passed its station's security profile); once released
 *                               only the boot state is kept (a booted station served at once on
 *                               any pod), with the epoch's TTL, or nothing
 * pod:{<pod>}                -> the pod's lease (expires unless refreshed)
 * pod:{<pod>}:conns          -> set of identities the pod claimed (what the sweeper checks
 *                               when the lease is gone: O(that pod's mappings), never a SCAN)
 * ocppgw:pods                -> set of known pods (SADD on every lease refresh)
 * ocppgw:sweeper             -> lock: the one registry that sweeps stale mappings right now
 * takeover:{<pod>}           -> "<taker> <epoch>": fenced claim on a dead pod's partition
 * takeover:{<pod>}:epoch     -> INCR counter of those claims (epoch_ttl_ms, refreshed by claims)
 * takeover:{<pod>}:since     -> since when (Redis' clock, ms) the pod has been seen dead
 * takeover:{<pod>}:forgotten -> the pod was dead longer than orphan_forget_ms: nobody reads its
 *                               partition any more; deleted when the pod refreshes its lease,
 *                               expires after epoch_ttl_ms once the pod left the pods set
 * dedup:{<command_id>}       -> SET NX with a TTL: first delivery of a command
 * ocppgw:txid                -> the cluster-wide counter of OCPP 1.6 transaction ids (INCRBY in
 *                               blocks, never above 2^31-1); never expires
 * txid:<natural key>         -> a 1.6 StartTransaction's id, SET NX with the core's TTL
 * cred:<identity>            -> hash: the station's credential record (docs/security.md),
 *                               written by ocppctl or the backend, read by the registry
 * idtag:<token>              -> hash {status, expires_at_ms}: the backend's id-token policy
 * channel ocppgw:superseded:<pod> -> "<epoch> <old conn id> <new pod> <identity>"
 * channel ocppgw:cred        -> "<identity>": cred:<identity> changed (ocppctl, the backend)
 *
 * The braces are Redis Cluster hash tags: the companions of a mapping name the whole mapping key
 * as their tag, so every key of one charge point lives in the mapping's slot (conn:CP1 hashes
 * "conn:CP1", {conn:CP1}:epoch hashes "conn:CP1" too), and every key of one pod in its pod's.
 * The scripts that also touch pod keys (claim, reassert, release, sweep, lookup, takeover) have
 * a Cluster variant of one slot; registry_cluster.c runs their pod-key steps separately. */
#ifndef REGISTRY_KEYS_H
#define REGISTRY_KEYS_H

#include <stddef.h>

#define REGISTRY_PODS_KEY          "ocppgw:pods"
#define REGISTRY_SWEEPER_KEY       "ocppgw:sweeper"
#define REGISTRY_SUPERSEDED_PREFIX "ocppgw:superseded:"
#define REGISTRY_CRED_CHANNEL      "ocppgw:cred"
#define REGISTRY_CRED_PREFIX       "cred:"
#define REGISTRY_TXID_KEY          "ocppgw:txid"
/* 1.6 transactionId is a JSON integer that many stations keep as int32: never beyond this. */
#define REGISTRY_TXID_LIMIT 2147483647LL
/* epoch_ttl_ms when a caller leaves it 0: 7 days. */
#define REGISTRY_EPOCH_TTL_DEFAULT_MS 604800000LL

/* Fresh claim (a new connection). KEYS: conn, epoch, meta. ARGV: pod, edge, conn id, since_us,
 * version, boot state, identity, authenticated (1/0). Takes a new epoch, sets the owner, moves the
 * identity to this pod's set and PUBLISHes to the previous pod's channel when another pod held
 * it. Returns {epoch, previous pod or "", previous boot state or "", previous conn id or "",
 * "claimed"}; an unauthenticated claim over an authenticated mapping whose pod holds a lease
 * writes nothing: {current epoch, owner, "", "", "refused"}. */
extern const char REGISTRY_CLAIM_LUA[];
/* Re-assertion of a claim this pod already held (BootNotification, Redis reconnect, lease lost,
 * pub/sub resubscribed, a core re-registering after this registry restarted). KEYS: conn, epoch,
 * meta. ARGV: pod, held epoch, edge, conn id, since_us, version, boot state, identity,
 * authenticated. Claim-if-unchanged-or-missing:
 *   owner == pod and (counter == held, or the mapping names this very connection: a newer
 *   epoch we gave it that its core had not heard of) -> refresh metadata {counter, "held", ""}
 *   counter missing (Redis lost data), or counter == held and
 *   no owner (swept while we were away) -> fresh epoch        {epoch, "claimed", ""}
 *   anything else (a newer claim exists) -> nothing written   {counter, "superseded", owner} */
extern const char REGISTRY_REASSERT_LUA[];
/* KEYS: conn, epoch, meta. ARGV: epoch, pod, identity, epoch_ttl_ms[, conn id, edge]. Deletes the
 * mapping only if the owner is still pod and the epoch counter still matches, or (conn id given)
 * the mapping still names that connection (a claim whose answer was lost); then the metadata
 * keeps only the boot state, and it and the epoch counter expire after epoch_ttl_ms. Returns 1
 * released, 0 not the owner any more. */
extern const char REGISTRY_RELEASE_LUA[];
/* KEYS: conn, meta. ARGV: lease key prefix. Returns {pod or "", epoch, live 0/1}. */
extern const char REGISTRY_LOOKUP_LUA[];
/* KEYS: conn, meta, pod:{p}:conns, pod:{p}, epoch. ARGV: dead pod, identity, epoch_ttl_ms. If the
 * pod still has no lease: removes the identity from its set and, if the mapping still names that
 * pod, deletes it (metadata and epoch as in a release).
 * Returns {1, epoch} when this call removed the mapping (exactly one caller ever sees 1), {0, 0}
 * otherwise, {-1, 0} when the pod's lease is back (nothing touched). */
extern const char REGISTRY_SWEEP_LUA[];
/* KEYS: lock. ARGV: pod, ttl_ms. Takes or extends the lock. Returns 1 held by us, 0 by another. */
extern const char REGISTRY_LOCK_LUA[];
/* KEYS: takeover:{p}, takeover:{p}:epoch, pod:{p}, takeover:{p}:forgotten, takeover:{p}:since,
 * pod:{p}:conns, pods set. ARGV: our pod, ttl_ms, mode "try" or "release", orphan_forget_ms, the
 * dead pod, epoch_ttl_ms (of the claims' counter, refreshed by every claim, and of :forgotten).
 * Returns {epoch, state, dead_ms} with state "won" (new claim), "held" (ours, extended), "other"
 * (another pod holds it), "alive" (the pod has a lease again; our claim, if any, is dropped),
 * "forgotten" (dead longer than orphan_forget_ms: our claim, if any, is dropped, nobody claims it
 * again, and the pod leaves the pods set once it has no mapping left) or "released". dead_ms: how
 * long the pod has been dead (Redis' clock). */
extern const char REGISTRY_TAKEOVER_LUA[];
/* CRED_USED. KEYS: cred:<identity>. ARGV: fingerprint, channel, identity. Removes the prev_*
 * fields if the record's current hash still has that fingerprint, then publishes the change.
 * Returns 1 when it removed them, else 0. */
extern const char REGISTRY_CRED_USED_LUA[];

/* TXID_BLOCK. KEYS: the counter. ARGV: count wanted, limit. Hands out up to count ids (fewer
 * when the limit is near). Returns {first, count, counter}; {0, 0, counter} when none is left. */
extern const char REGISTRY_TXID_BLOCK_LUA[];
/* TXID_CLAIM. KEYS: txid:<key>. ARGV: candidate, ttl_ms. Returns {id, 1} when it stored the
 * candidate (or finds the candidate itself: our own earlier attempt whose answer was lost),
 * {id remembered, 0} otherwise ({-1, 0}: the stored value is not a number). */
extern const char REGISTRY_TXID_CLAIM_LUA[];

/* Their Redis Cluster variants (see REGISTRY_SCRIPT_CLAIM_CLUSTER below). */
extern const char REGISTRY_CLAIM_CLUSTER_LUA[];
extern const char REGISTRY_REASSERT_CLUSTER_LUA[];
extern const char REGISTRY_RELEASE_CLUSTER_LUA[];
extern const char REGISTRY_LOOKUP_CLUSTER_LUA[];
extern const char REGISTRY_SWEEP_CLUSTER_LUA[];
extern const char REGISTRY_TAKEOVER_CLUSTER_LUA[];

/* The scripts above by number, so that commands can name them as data (registry_batch.h) and
 * the Redis shell loads them all with SCRIPT LOAD and calls them with EVALSHA. */
typedef enum {
    REGISTRY_SCRIPT_CLAIM,
    REGISTRY_SCRIPT_REASSERT,
    REGISTRY_SCRIPT_RELEASE,
    REGISTRY_SCRIPT_LOOKUP,
    REGISTRY_SCRIPT_SWEEP,
    REGISTRY_SCRIPT_LOCK,
    REGISTRY_SCRIPT_TAKEOVER,
    REGISTRY_SCRIPT_CRED_USED,
    REGISTRY_SCRIPT_TXID_BLOCK,
    REGISTRY_SCRIPT_TXID_CLAIM,
    /* Redis Cluster variants (docs/registry.md "Redis Cluster"): the same scripts touching the
     * keys of one slot only; registry_cluster.c runs the pod-key steps around them. CLAIM takes
     * ARGV[9] (a previous pod whose lease was seen gone, "" at first) and may answer "check";
     * RELEASE answers 2 for "0, the mapping is ours under a newer epoch"; SWEEP takes KEYS conn,
     * meta, epoch; TAKEOVER takes the first six keys and answers a 4th element, 1 when the pod
     * should leave the pods set. */
    REGISTRY_SCRIPT_CLAIM_CLUSTER,
    REGISTRY_SCRIPT_REASSERT_CLUSTER,
    REGISTRY_SCRIPT_RELEASE_CLUSTER,
    REGISTRY_SCRIPT_LOOKUP_CLUSTER,
    REGISTRY_SCRIPT_SWEEP_CLUSTER,
    REGISTRY_SCRIPT_TAKEOVER_CLUSTER,
    REGISTRY_SCRIPT_COUNT
} registry_script_t;
extern const char *const REGISTRY_SCRIPTS[REGISTRY_SCRIPT_COUNT];

/* Key builders: write into out (NUL-terminated); return the length or -1 if it does not fit. */
int registry_key_conn(const char *identity, char *out, size_t outlen);
int registry_key_epoch(const char *identity, char *out, size_t outlen);
int registry_key_meta(const char *identity, char *out, size_t outlen);
int registry_key_lease(const char *pod, char *out, size_t outlen);
int registry_key_pod_conns(const char *pod, char *out, size_t outlen);
int registry_key_takeover(const char *pod, char *out, size_t outlen);
int registry_key_takeover_epoch(const char *pod, char *out, size_t outlen);
int registry_key_takeover_forgotten(const char *pod, char *out, size_t outlen);
int registry_key_takeover_since(const char *pod, char *out, size_t outlen);
int registry_key_dedup(const char *command_id, char *out, size_t outlen);
int registry_key_cred(const char *identity, char *out, size_t outlen);
int registry_key_idtag(const char *token, char *out, size_t outlen);
int registry_key_txid(const char *natural_key, char *out, size_t outlen);
int registry_channel_superseded(const char *pod, char *out, size_t outlen);

#endif
