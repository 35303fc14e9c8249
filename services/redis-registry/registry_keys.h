/* registry_keys: Redis key names and Lua scripts of the connection map (DESIGN §6).
 *
 * conn:{<identity>}        -> owning pod id, a plain string (GET it to route a command)
 * conn:{<identity>}:epoch  -> fencing counter, INCR on every claim
 * conn:{<identity>}:meta   -> hash: pod, epoch, edge, conn, since, version, boot
 * pod:{<pod>}              -> the pod's lease (expires unless refreshed)
 * The braces are Redis Cluster hash tags: every key of one charge point lives in one slot. */
#ifndef REGISTRY_KEYS_H
#define REGISTRY_KEYS_H

#include <stddef.h>

/* KEYS: conn, epoch, meta. ARGV: pod, edge, conn id, since_us, version, boot state.
 * Returns {epoch, previous pod or "", previous boot state or "", previous conn id or ""}. */
extern const char REGISTRY_CLAIM_LUA[];
/* KEYS: conn, meta. ARGV: epoch, pod. Deletes the mapping only if the epoch still matches.
 * Returns 1 released, 0 not the owner any more. */
extern const char REGISTRY_RELEASE_LUA[];
/* KEYS: conn, meta. ARGV: lease key prefix. Returns {pod or "", epoch, live 0/1}. */
extern const char REGISTRY_LOOKUP_LUA[];

/* Key builders: write into out (NUL-terminated); return the length or -1 if it does not fit. */
int registry_key_conn(const char *identity, char *out, size_t outlen);
int registry_key_epoch(const char *identity, char *out, size_t outlen);
int registry_key_meta(const char *identity, char *out, size_t outlen);
int registry_key_lease(const char *pod, char *out, size_t outlen);

#endif
