/* registry_keys: Redis key names and Lua scripts of the connection map. See registry_keys.h. */
#include "registry_keys.h"

#include <stdio.h>

const char REGISTRY_CLAIM_LUA[] =
    "local epoch = redis.call('INCR', KEYS[2])\n"
    "local prev = redis.call('GET', KEYS[1]) or ''\n"
    "local meta = redis.call('HMGET', KEYS[3], 'boot', 'conn')\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "redis.call('HSET', KEYS[3], 'pod', ARGV[1], 'epoch', epoch, 'edge', ARGV[2],\n"
    "           'conn', ARGV[3], 'since', ARGV[4], 'version', ARGV[5])\n"
    "if ARGV[6] == 'accepted' or ARGV[6] == 'pending' then\n"
    "  redis.call('HSET', KEYS[3], 'boot', ARGV[6])\n"
    "end\n"
    "if prev ~= '' and prev ~= ARGV[1] then\n"
    "  redis.call('PUBLISH', 'ocppgw:superseded:' .. prev,\n"
    "             KEYS[1] .. ' ' .. (meta[2] or '') .. ' ' .. epoch .. ' ' .. ARGV[1])\n"
    "end\n"
    "return {epoch, prev, meta[1] or '', meta[2] or ''}\n";

const char REGISTRY_RELEASE_LUA[] = "if redis.call('HGET', KEYS[2], 'epoch') == ARGV[1] then\n"
                                    "  redis.call('DEL', KEYS[1])\n"
                                    "  redis.call('HSET', KEYS[2], 'pod', '')\n"
                                    "  redis.call('HDEL', KEYS[2], 'conn', 'edge')\n"
                                    "  return 1\n"
                                    "end\n"
                                    "return 0\n";

/* The lease key is outside KEYS (it depends on the value read): fine on a single Redis or
 * Sentinel; a Redis Cluster deployment would read it in a second step. */
const char REGISTRY_LOOKUP_LUA[] =
    "local pod = redis.call('GET', KEYS[1])\n"
    "if not pod then return {'', 0, 0} end\n"
    "local epoch = tonumber(redis.call('HGET', KEYS[2], 'epoch') or '0')\n"
    "local live = redis.call('EXISTS', ARGV[1] .. '{' .. pod .. '}')\n"
    "return {pod, epoch, live}\n";

static int fit(int n, size_t outlen)
{
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int registry_key_conn(const char *identity, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "conn:{%s}", identity), outlen);
}

int registry_key_epoch(const char *identity, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "conn:{%s}:epoch", identity), outlen);
}

int registry_key_meta(const char *identity, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "conn:{%s}:meta", identity), outlen);
}

int registry_key_lease(const char *pod, char *out, size_t outlen)
{
    return fit(snprintf(out, outlen, "pod:{%s}", pod), outlen);
}
