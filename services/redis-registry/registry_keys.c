/* registry_keys: Redis key names and Lua scripts of the connection map. See registry_keys.h. */
#include "registry_keys.h"

#include <stdio.h>

/* A missing epoch counter (Redis restarted empty) restarts from Redis' clock in milliseconds:
 * far above any epoch handed out before, so "newer claim = higher epoch" survives data loss.
 * (13 digits: exact in Lua's doubles and printed without an exponent.) */
#define NEXT_EPOCH                                                                                 \
    "local function next_epoch(k, floor)\n"                                                        \
    "  if redis.call('EXISTS', k) == 0 then\n"                                                     \
    "    local t = redis.call('TIME')\n"                                                           \
    "    local base = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                 \
    "    if base < floor then base = floor end\n"                                                  \
    "    redis.call('SET', k, string.format('%d', base))\n"                                        \
    "  end\n"                                                                                      \
    "  return redis.call('INCR', k)\n"                                                             \
    "end\n"

/* Owner, metadata (auth: the connection passed its station's security profile) and the pod's
 * set. ARGV[E .. E+6]: edge, conn id, since_us, version, boot state, identity, auth. */
#define WRITE_OWNER                                                                                \
    "local function write_owner(epoch)\n"                                                          \
    "  redis.call('SET', KEYS[1], ARGV[1])\n"                                                      \
    "  redis.call('HSET', KEYS[3], 'pod', ARGV[1], 'epoch', epoch, 'edge', ARGV[E],\n"             \
    "             'conn', ARGV[E + 1], 'since', ARGV[E + 2], 'version', ARGV[E + 3],\n"            \
    "             'auth', ARGV[E + 6])\n"                                                          \
    "  if ARGV[E + 4] == 'accepted' or ARGV[E + 4] == 'pending' then\n"                            \
    "    redis.call('HSET', KEYS[3], 'boot', ARGV[E + 4])\n"                                       \
    "  end\n"                                                                                      \
    "  if not CLUSTER then redis.call('SADD', 'pod:{' .. ARGV[1] .. '}:conns', ARGV[E + 5]) end\n" \
    "  redis.call('PERSIST', KEYS[2])\n"                                                           \
    "  redis.call('PERSIST', KEYS[3])\n"                                                           \
    "end\n"

/* Newest wins only among authenticated connections: an unauthenticated claim over an
 * authenticated mapping whose pod holds a lease is refused, nothing written. */
/* Cluster variant (CLUSTER true): the pod keys live in other slots, so the caller maintains the
 * pod sets (registry_cluster.c) and checks the previous pod's lease: a claim that needs it
 * answers "check" and is sent again with that pod named as dead in ARGV[9]. */
#define CLAIM_BODY                                                                                 \
    "local E = 2\n" NEXT_EPOCH WRITE_OWNER "local prev = redis.call('GET', KEYS[1]) or ''\n"       \
    "local meta = redis.call('HMGET', KEYS[3], 'boot', 'conn', 'auth')\n"                          \
    "if ARGV[8] ~= '1' and prev ~= '' and meta[3] == '1' then\n"                                   \
    "  local cur = tonumber(redis.call('GET', KEYS[2]) or '0')\n"                                  \
    "  if CLUSTER then\n"                                                                          \
    "    if prev ~= ARGV[9] then return {cur, prev, '', '', 'check'} end\n"                        \
    "  elseif redis.call('EXISTS', 'pod:{' .. prev .. '}') == 1 then\n"                            \
    "    return {cur, prev, '', '', 'refused'}\n"                                                  \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "local epoch = next_epoch(KEYS[2], 0)\n"                                                       \
    "write_owner(epoch)\n"                                                                         \
    "if prev ~= '' and prev ~= ARGV[1] then\n"                                                     \
    "  if not CLUSTER then redis.call('SREM', 'pod:{' .. prev .. '}:conns', ARGV[7]) end\n"        \
    "  redis.call('PUBLISH', 'ocppgw:superseded:' .. prev,\n"                                      \
    "             epoch .. ' ' .. (meta[2] or '0') .. ' ' .. ARGV[1] .. ' ' .. ARGV[7])\n"         \
    "end\n"                                                                                        \
    "return {epoch, prev, meta[1] or '', meta[2] or '', 'claimed'}\n"
const char REGISTRY_CLAIM_LUA[] = "local CLUSTER = false\n" CLAIM_BODY;
const char REGISTRY_CLAIM_CLUSTER_LUA[] = "local CLUSTER = true\n" CLAIM_BODY;

#define REASSERT_BODY                                                                              \
    "local E = 3\n" NEXT_EPOCH WRITE_OWNER "local held = tonumber(ARGV[2])\n"                      \
    "local cur = tonumber(redis.call('GET', KEYS[2]) or '0')\n"                                    \
    "local owner = redis.call('GET', KEYS[1]) or ''\n"                                             \
    "local mc = redis.call('HMGET', KEYS[3], 'edge', 'conn')\n"                                    \
    "if owner == ARGV[1] and (cur == held or (mc[1] == ARGV[3] and mc[2] == ARGV[4])) then\n"      \
    "  redis.call('HSET', KEYS[3], 'auth', ARGV[9])\n"                                             \
    "  if ARGV[7] == 'accepted' or ARGV[7] == 'pending' then\n"                                    \
    "    redis.call('HSET', KEYS[3], 'boot', ARGV[7])\n"                                           \
    "  end\n"                                                                                      \
    "  if not CLUSTER then redis.call('SADD', 'pod:{' .. ARGV[1] .. '}:conns', ARGV[8]) end\n"     \
    "  return {cur, 'held', ''}\n"                                                                 \
    "end\n"                                                                                        \
    "if (cur == 0 and (owner == '' or owner == ARGV[1])) or (cur == held and owner == '') then\n"  \
    "  local epoch = next_epoch(KEYS[2], held)\n"                                                  \
    "  write_owner(epoch)\n"                                                                       \
    "  return {epoch, 'claimed', ''}\n"                                                            \
    "end\n"                                                                                        \
    "return {cur, 'superseded', owner}\n"
const char REGISTRY_REASSERT_LUA[] = "local CLUSTER = false\n" REASSERT_BODY;
const char REGISTRY_REASSERT_CLUSTER_LUA[] = "local CLUSTER = true\n" REASSERT_BODY;

/* A released mapping's companions: the epoch counter stays (fencing needs it monotonic) and
 * the metadata keeps only the boot state (a booted station is served at once on any pod), both
 * expiring after epoch_ttl_ms; a new claim makes them permanent again (write_owner). */
#define RETIRE                                                                                     \
    "local function retire(kepoch, kmeta, ttl)\n"                                                  \
    "  local boot = redis.call('HGET', kmeta, 'boot')\n"                                           \
    "  redis.call('DEL', kmeta)\n"                                                                 \
    "  if boot == 'accepted' or boot == 'pending' then\n"                                          \
    "    redis.call('HSET', kmeta, 'boot', boot)\n"                                                \
    "    redis.call('PEXPIRE', kmeta, ttl)\n"                                                      \
    "  end\n"                                                                                      \
    "  redis.call('PEXPIRE', kepoch, ttl)\n"                                                       \
    "end\n"

/* A key that has no owner any more (released, swept, deleted by hand) never keeps a permanent
 * epoch: the companions are retired whenever the owner is missing. */
#define RELEASE_BODY                                                                               \
    RETIRE                                                                                         \
    "local match = redis.call('GET', KEYS[2]) == ARGV[1]\n"                                        \
    "if not match and ARGV[5] and ARGV[5] ~= '' then\n"                                            \
    "  local mc = redis.call('HMGET', KEYS[3], 'edge', 'conn')\n"                                  \
    "  match = mc[1] == ARGV[6] and mc[2] == ARGV[5]\n"                                            \
    "end\n"                                                                                        \
    "local owner = redis.call('GET', KEYS[1])\n"                                                   \
    "if match and owner == ARGV[2] then\n"                                                         \
    "  redis.call('DEL', KEYS[1])\n"                                                               \
    "  retire(KEYS[2], KEYS[3], ARGV[4])\n"                                                        \
    "  if not CLUSTER then redis.call('SREM', 'pod:{' .. ARGV[2] .. '}:conns', ARGV[3]) end\n"     \
    "  return 1\n"                                                                                 \
    "end\n"                                                                                        \
    "if not owner then retire(KEYS[2], KEYS[3], ARGV[4]) end\n"                                    \
    "if owner ~= ARGV[2] then\n"                                                                   \
    "  if not CLUSTER then redis.call('SREM', 'pod:{' .. ARGV[2] .. '}:conns', ARGV[3]) end\n"     \
    "  return 0\n"                                                                                 \
    "end\n"                                                                                        \
    "if CLUSTER then return 2 end\n"                                                               \
    "return 0\n"
const char REGISTRY_RELEASE_LUA[] = "local CLUSTER = false\n" RELEASE_BODY;
const char REGISTRY_RELEASE_CLUSTER_LUA[] = "local CLUSTER = true\n" RELEASE_BODY;

/* The lease key is outside KEYS (it depends on the value read): fine on a single Redis or
 * Sentinel; on a Redis Cluster the variant answers live 0 and the caller reads the lease in a
 * second step (registry_cluster.c). */
#define LOOKUP_BODY                                                                                \
    "local pod = redis.call('GET', KEYS[1])\n"                                                     \
    "if not pod then return {'', 0, 0} end\n"                                                      \
    "local epoch = tonumber(redis.call('HGET', KEYS[2], 'epoch') or '0')\n"                        \
    "local live = 0\n"                                                                             \
    "if not CLUSTER then live = redis.call('EXISTS', ARGV[1] .. '{' .. pod .. '}') end\n"          \
    "return {pod, epoch, live}\n"
const char REGISTRY_LOOKUP_LUA[] = "local CLUSTER = false\n" LOOKUP_BODY;
const char REGISTRY_LOOKUP_CLUSTER_LUA[] = "local CLUSTER = true\n" LOOKUP_BODY;

#define SWEEP_BODY                                                                                 \
    RETIRE "local KE = 5\n"                                                                        \
           "if CLUSTER then KE = 3 elseif redis.call('EXISTS', KEYS[4]) == 1 then\n"               \
           "  return {-1, 0}\n"                                                                    \
           "end\n"                                                                                 \
           "if not CLUSTER then redis.call('SREM', KEYS[3], ARGV[2]) end\n"                        \
           "local owner = redis.call('GET', KEYS[1])\n"                                            \
           "if not owner then retire(KEYS[KE], KEYS[2], ARGV[3]) end\n"                            \
           "if owner ~= ARGV[1] then return {0, 0} end\n"                                          \
           "local epoch = redis.call('HGET', KEYS[2], 'epoch') or '0'\n"                           \
           "redis.call('DEL', KEYS[1])\n"                                                          \
           "retire(KEYS[KE], KEYS[2], ARGV[3])\n"                                                  \
           "return {1, tonumber(epoch)}\n"
const char REGISTRY_SWEEP_LUA[] = "local CLUSTER = false\n" SWEEP_BODY;
const char REGISTRY_SWEEP_CLUSTER_LUA[] = "local CLUSTER = true\n" SWEEP_BODY;

const char REGISTRY_LOCK_LUA[] = "local cur = redis.call('GET', KEYS[1])\n"
                                 "if cur == ARGV[1] then\n"
                                 "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                 "  return 1\n"
                                 "end\n"
                                 "if cur then return 0 end\n"
                                 "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                                 "return 1\n";

/* Since when the pod is dead lives in Redis (:since, set by the first registry that sees it
 * without a lease), so every registry, and a restarted one, forgets it at the same time. */
#define TAKEOVER_BODY                                                                              \
    NEXT_EPOCH "local cur = redis.call('GET', KEYS[1])\n"                                          \
               "local pre = ARGV[1] .. ' '\n"                                                      \
               "local mine = cur and string.sub(cur, 1, #pre) == pre\n"                            \
               "local held = mine and tonumber(string.sub(cur, #pre + 1)) or 0\n"                  \
               "if ARGV[3] == 'release' then\n"                                                    \
               "  if mine then redis.call('DEL', KEYS[1]) end\n"                                   \
               "  return {held, 'released', 0}\n"                                                  \
               "end\n"                                                                             \
               "if redis.call('EXISTS', KEYS[3]) == 1 then\n"                                      \
               "  if mine then redis.call('DEL', KEYS[1]) end\n"                                   \
               "  redis.call('DEL', KEYS[5])\n"                                                    \
               "  return {held, 'alive', 0}\n"                                                     \
               "end\n"                                                                             \
               "local t = redis.call('TIME')\n"                                                    \
               "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"           \
               "local since = tonumber(redis.call('GET', KEYS[5]) or '')\n"                        \
               "if not since then\n"                                                               \
               "  since = now\n"                                                                   \
               "  redis.call('SET', KEYS[5], string.format('%d', now))\n"                          \
               "end\n"                                                                             \
               "local dead = now - since\n"                                                        \
               "if redis.call('EXISTS', KEYS[4]) == 1 or dead >= tonumber(ARGV[4]) then\n"         \
               "  if mine then redis.call('DEL', KEYS[1]) end\n"                                   \
               "  redis.call('SET', KEYS[4], string.format('%d', since), 'PX', ARGV[6])\n"         \
               "  local gone = 0\n"                                                                \
               "  if redis.call('SCARD', KEYS[6]) == 0 then\n"                                     \
               "    if not CLUSTER then redis.call('SREM', KEYS[7], ARGV[5]) end\n"                \
               "    redis.call('DEL', KEYS[5])\n"                                                  \
               "    gone = 1\n"                                                                    \
               "  end\n"                                                                           \
               "  if CLUSTER then return {held, 'forgotten', dead, gone} end\n"                    \
               "  return {held, 'forgotten', dead}\n"                                              \
               "end\n"                                                                             \
               "if mine then\n"                                                                    \
               "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"                                       \
               "  redis.call('PEXPIRE', KEYS[2], ARGV[6])\n"                                       \
               "  return {held, 'held', dead}\n"                                                   \
               "end\n"                                                                             \
               "if cur then return {0, 'other', dead} end\n"                                       \
               "local epoch = next_epoch(KEYS[2], 0)\n"                                            \
               "redis.call('SET', KEYS[1], pre .. epoch, 'PX', ARGV[2])\n"                         \
               "redis.call('PEXPIRE', KEYS[2], ARGV[6])\n"                                         \
               "return {epoch, 'won', dead}\n"
const char REGISTRY_TAKEOVER_LUA[] = "local CLUSTER = false\n" TAKEOVER_BODY;
const char REGISTRY_TAKEOVER_CLUSTER_LUA[] = "local CLUSTER = true\n" TAKEOVER_BODY;

/* Drops the previous password of a rotation once the station used the current one: only if
 * the record still has the current password the edge saw (fingerprint = the first 16 hex digits
 * of SHA-1 over the hash field's text, docs/security.md), so a rotation made meanwhile keeps its
 * own previous password. Then the change is published like any other. */
const char REGISTRY_CRED_USED_LUA[] =
    "local h = redis.call('HGET', KEYS[1], 'hash')\n"
    "if not h or string.sub(redis.sha1hex(h), 1, 16) ~= ARGV[1] then return 0 end\n"
    "if redis.call('HEXISTS', KEYS[1], 'prev_hash') == 0 then return 0 end\n"
    "redis.call('HDEL', KEYS[1], 'prev_alg', 'prev_iter', 'prev_salt', 'prev_hash')\n"
    "local t = redis.call('TIME')\n"
    "redis.call('HSET', KEYS[1], 'updated_ms',\n"
    "           string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))\n"
    "redis.call('PUBLISH', ARGV[2], ARGV[3])\n"
    "return 1\n";

/* The counter never passes the limit: a block near it is cut short, and past it nothing is
 * handed out (the caller answers an error and says so loudly). */
const char REGISTRY_TXID_BLOCK_LUA[] = "local cur = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                                       "local want = tonumber(ARGV[1])\n"
                                       "local limit = tonumber(ARGV[2])\n"
                                       "if cur >= limit then return {0, 0, cur} end\n"
                                       "if want > limit - cur then want = limit - cur end\n"
                                       "local last = redis.call('INCRBY', KEYS[1], want)\n"
                                       "return {last - want + 1, want, last}\n";

/* Finding our own candidate again means an earlier attempt of this very claim ran (its answer
 * was lost): candidates come from disjoint blocks, so no other claim can have stored it. */
const char REGISTRY_TXID_CLAIM_LUA[] = "local v = redis.call('GET', KEYS[1])\n"
                                       "if v then\n"
                                       "  if v == ARGV[1] then return {tonumber(v), 1} end\n"
                                       "  return {tonumber(v) or -1, 0}\n"
                                       "end\n"
                                       "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                                       "return {tonumber(ARGV[1]), 1}\n";

const char *const REGISTRY_SCRIPTS[REGISTRY_SCRIPT_COUNT] = {
    [REGISTRY_SCRIPT_CLAIM] = REGISTRY_CLAIM_LUA,
    [REGISTRY_SCRIPT_REASSERT] = REGISTRY_REASSERT_LUA,
    [REGISTRY_SCRIPT_RELEASE] = REGISTRY_RELEASE_LUA,
    [REGISTRY_SCRIPT_LOOKUP] = REGISTRY_LOOKUP_LUA,
    [REGISTRY_SCRIPT_SWEEP] = REGISTRY_SWEEP_LUA,
    [REGISTRY_SCRIPT_LOCK] = REGISTRY_LOCK_LUA,
    [REGISTRY_SCRIPT_TAKEOVER] = REGISTRY_TAKEOVER_LUA,
    [REGISTRY_SCRIPT_CRED_USED] = REGISTRY_CRED_USED_LUA,
    [REGISTRY_SCRIPT_TXID_BLOCK] = REGISTRY_TXID_BLOCK_LUA,
    [REGISTRY_SCRIPT_TXID_CLAIM] = REGISTRY_TXID_CLAIM_LUA,
    [REGISTRY_SCRIPT_CLAIM_CLUSTER] = REGISTRY_CLAIM_CLUSTER_LUA,
    [REGISTRY_SCRIPT_REASSERT_CLUSTER] = REGISTRY_REASSERT_CLUSTER_LUA,
    [REGISTRY_SCRIPT_RELEASE_CLUSTER] = REGISTRY_RELEASE_CLUSTER_LUA,
    [REGISTRY_SCRIPT_LOOKUP_CLUSTER] = REGISTRY_LOOKUP_CLUSTER_LUA,
    [REGISTRY_SCRIPT_SWEEP_CLUSTER] = REGISTRY_SWEEP_CLUSTER_LUA,
    [REGISTRY_SCRIPT_TAKEOVER_CLUSTER] = REGISTRY_TAKEOVER_CLUSTER_LUA,
};

static int fit(int n, size_t outlen)
{
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int registry_key_conn(const char *identity, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "conn:%s", identity), outlen);
}

int registry_key_epoch(const char *identity, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "{conn:%s}:epoch", identity), outlen);
}

int registry_key_meta(const char *identity, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "{conn:%s}:meta", identity), outlen);
}

int registry_key_lease(const char *pod, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "pod:{%s}", pod), outlen);
}

int registry_key_pod_conns(const char *pod, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "pod:{%s}:conns", pod), outlen);
}

int registry_key_takeover(const char *pod, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "takeover:{%s}", pod), outlen);
}

int registry_key_takeover_epoch(const char *pod, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "takeover:{%s}:epoch", pod), outlen);
}

int registry_key_takeover_forgotten(const char *pod, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "takeover:{%s}:forgotten", pod), outlen);
}

int registry_key_takeover_since(const char *pod, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "takeover:{%s}:since", pod), outlen);
}

int registry_key_dedup(const char *command_id, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "dedup:{%s}", command_id), outlen);
}

int registry_key_cred(const char *identity, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, REGISTRY_CRED_PREFIX "%s", identity), outlen);
}

int registry_key_idtag(const char *token, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "idtag:%s", token), outlen);
}

int registry_key_txid(const char *natural_key, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "txid:%s", natural_key), outlen);
}

int registry_channel_superseded(const char *pod, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, REGISTRY_SUPERSEDED_PREFIX "%s", pod), outlen);
}
