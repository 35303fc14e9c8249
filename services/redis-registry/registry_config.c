/* registry_config: the configuration table of redis-registry. Every key can be set in the
 * YAML file (sections `common` and `redis-registry`) or by OCPPGW_<KEY>. */
#include "registry_config.h"

#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(field) offsetof(registry_config_t, field)

static int registry_validate_password_file(const char *value, char *why, size_t whylen);

const config_option_t REGISTRY_CONFIG[] = {
    SERVICE_POD_OPTIONS(registry_config_t, "9104"),
    {"redis_url", CONFIG_STRING, "redis://127.0.0.1:6379", F(redis_url), 0, 0, NULL,
     registry_validate_redis_url,
     "redis://[[user]:password@]host[:port][/db]; with a user, AUTH user password (a Redis ACL "
     "user, docs/security.md); redis+cluster://[[user]:password@]host:port[,host:port...] for a "
     "Redis Cluster (the seeds, each with its port; database 0 only; docs/registry.md)"},
    {"redis_password_file", CONFIG_STRING, "", F(redis_password_file), 0, 0, NULL,
     registry_validate_password_file,
     "file holding the Redis password (e.g. a mounted Kubernetes Secret); its first line "
     "replaces the password of redis_url; never logged"},
    {"redis_timeout_ms", CONFIG_DURATION, "500ms", F(redis_timeout_ms), 10, 5000, NULL, NULL,
     "bounds each connect and each round trip to Redis (the loop waits for it: a Redis that "
     "hangs costs at most this per attempt, then the connection is dropped and retried with "
     "back-off); keep it well below the 10 s /healthz stall limit"},
    {"lease_ttl_ms", CONFIG_DURATION, "5s", F(lease_ttl_ms), 1000, 600000, NULL, NULL,
     "the pod is considered dead this long after its last lease refresh"},
    {"lease_refresh_ms", CONFIG_DURATION, "1s", F(lease_refresh_ms), 100, 60000, NULL, NULL,
     "how often the pod refreshes its lease"},
    {"zmq_hwm", CONFIG_INT, "10000", F(zmq_hwm), 1, 10000000, NULL, NULL,
     "ZeroMQ high-water mark, in envelopes (set as ceil(n / 64) messages of up to 64)"},
    {"sentinel_addrs", CONFIG_STRING, "", F(sentinel_addrs), 0, 0, NULL,
     registry_validate_addr_list,
     "Redis Sentinels host:port,host:port; when set, the primary of sentinel_master is asked "
     "there on every (re)connect and redis_url only supplies password and database (ignored, "
     "with a warning, when redis_url is redis+cluster://)"},
    {"sentinel_master", CONFIG_STRING, "mymaster", F(sentinel_master), 0, 0, NULL, NULL,
     "name of the primary the Sentinels watch"},
    {"queue_limit", CONFIG_INT, "50000", F(queue_limit), 2, 10000000, NULL, NULL,
     "work waiting for Redis at which cores are told REGISTRY_BUSY (cleared below half); "
     "lookups and de-dup checks beyond it are answered -EBUSY at once"},
    {"sweep_batch", CONFIG_INT, "500", F(sweep_batch), 1, 100000, NULL, NULL,
     "stale mappings of a dead pod checked per sweep round (one round per lease refresh)"},
    {"sweep_grace_ms", CONFIG_DURATION, "2s", F(sweep_grace_ms), 0, 600000, NULL, NULL,
     "how long a pod's lease must have been missing (as seen by the sweeper) before its "
     "mappings are swept; until then lookups report them stale"},
    {"events_topic", CONFIG_STRING, "ocpp-events-up", F(events_topic), 0, 0, NULL, NULL,
     "topic of the device.disconnected events the sweeper and the reconciliation emit"},
    {"reconcile_grace_ms", CONFIG_DURATION, "10s", F(reconcile_grace_ms), 0, 600000, NULL, NULL,
     "how long a restarted ocpp-core has to re-register its connections before the ones it did "
     "not confirm are released; also the wait after start before the first reconciliation"},
    {"reconcile_interval_ms", CONFIG_DURATION, "60s", F(reconcile_interval_ms), 1000, 86400000,
     NULL, NULL,
     "how often every mapping Redis holds for this pod is checked against the registrations; "
     "one without a connection is released with a device.disconnected event"},
    {"orphan_forget_ms", CONFIG_DURATION, "24h", F(orphan_forget_ms), 1000, 2592000000, NULL, NULL,
     "a pod dead this long is forgotten: its command partition is no longer read and it leaves "
     "the set of known pods"},
    {"epoch_ttl_ms", CONFIG_DURATION, "168h", F(epoch_ttl_ms), 60000, 31536000000, NULL, NULL,
     "how long a released mapping's fencing counter {conn:<identity>}:epoch (and its boot state) "
     "is kept; a claim makes it permanent again. The counter restarts from Redis' clock when it "
     "is gone, so fencing holds unless a pod frozen longer than this wakes after a Redis clock "
     "step backwards: keep it far above any pause a pod can survive"},
    {"cred_rescan_ms", CONFIG_DURATION, "5m", F(cred_rescan_ms), 1000, 86400000, NULL, NULL,
     "how often every ws-edge gets a full credential sync again, in case a change notification "
     "(PUBLISH ocppgw:cred) was missed"},
    {"outbox_max_bytes", CONFIG_INT, "8388608", F(outbox_max_bytes), 65536, 1073741824, NULL, NULL,
     "bytes queued per receiver (each core, kafka-bridge, each ws-edge) once its ZeroMQ pipe is "
     "full; the registry never waits on a peer: messages that must arrive queue up to four times "
     "this, ANNOUNCE and REGISTRY_BUSY are dropped (repeated anyway), an edge that missed a "
     "credential record gets a full sync"},
};
const size_t REGISTRY_CONFIG_COUNT = sizeof(REGISTRY_CONFIG) / sizeof(REGISTRY_CONFIG[0]);

int registry_parse_redis_url(const char *url, registry_redis_url_t *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    const char *p = url;
    if (strncmp(p, "redis+cluster://", 16) == 0) {
        out->cluster = true;
        p += 16;
    } else if (strncmp(p, "redis://", 8) == 0) {
        p += 8;
    } else {
        snprintf(why, whylen, "must start with redis:// or redis+cluster://");
        return -EINVAL;
    }
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw), u = colon ? (size_t)(colon - p) : 0;
        if (n >= sizeof(out->password)) {
            snprintf(why, whylen, "password too long");
            return -EINVAL;
        }
        if (u >= sizeof(out->user) || memchr(p, ' ', u)) {
            snprintf(why, whylen, "user name too long or with a space");
            return -EINVAL;
        }
        memcpy(out->user, p, u);
        memcpy(out->password, pw, n);
        p = at + 1;
    }
    if (out->cluster) { /* seeds: host:port,host:port (ports required), no database */
        size_t n = strcspn(p, "/");
        if (n == 0 || n >= sizeof(out->seeds) ||
            (p[n] && strcmp(p + n, "/") != 0 && strcmp(p + n, "/0") != 0)) {
            snprintf(why, whylen,
                     "redis+cluster:// takes host:port[,host:port...] and no "
                     "database but 0");
            return -EINVAL;
        }
        memcpy(out->seeds, p, n);
        registry_addr_t addrs[REGISTRY_MAX_SENTINELS];
        for (const char *e = out->seeds; *e;) {
            size_t len = strcspn(e, ",");
            const char *colon = memchr(e, ':', len);
            if (!colon || colon == e || colon + 1 == e + len) {
                snprintf(why, whylen, "redis+cluster:// seed '%.*s' needs host:port", (int)len, e);
                return -EINVAL;
            }
            e += len + (e[len] == ',');
        }
        if (registry_parse_addr_list(out->seeds, addrs, REGISTRY_MAX_SENTINELS, why, whylen) < 0)
            return -EINVAL;
        snprintf(out->host, sizeof(out->host), "%s", addrs[0].host);
        out->port = addrs[0].port;
        return 0;
    }
    size_t hlen = strcspn(p, ":/");
    if (hlen == 0 || hlen >= sizeof(out->host)) {
        snprintf(why, whylen, "missing or oversized host");
        return -EINVAL;
    }
    memcpy(out->host, p, hlen);
    p += hlen;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            snprintf(why, whylen, "port must be 1..65535");
            return -EINVAL;
        }
        out->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        long db = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || db < 0 || db > 15) {
            snprintf(why, whylen, "database must be 0..15");
            return -EINVAL;
        }
        out->db = (int)db;
    } else if (*p && strcmp(p, "/") != 0) {
        snprintf(why, whylen, "unexpected '%s'", p);
        return -EINVAL;
    }
    return 0;
}

int registry_validate_redis_url(const char *value, char *why, size_t whylen)
{
    registry_redis_url_t u;
    return registry_parse_redis_url(value, &u, why, whylen);
}

int registry_read_password_file(const char *path, char *out, size_t outlen, char *why,
                                size_t whylen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int err = errno;
        snprintf(why, whylen, "cannot read %s: %s", path, strerror(err));
        return err == EACCES ? -EACCES : -ENOENT;
    }
    char line[512];
    int rc = 0;
    if (!fgets(line, sizeof(line), f))
        line[0] = '\0';
    size_t n = strcspn(line, "\r\n");
    if (n >= outlen || (n == sizeof(line) - 1 && !feof(f))) {
        snprintf(why, whylen, "%s: password longer than %zu bytes", path, outlen - 1);
        rc = -E2BIG;
    } else {
        memcpy(out, line, n);
        out[n] = '\0';
    }
    explicit_bzero(line, sizeof(line));
    fclose(f);
    return rc;
}

static int registry_validate_password_file(const char *value, char *why, size_t whylen)
{
    if (!value[0])
        return 0;
    char pw[256];
    int rc = registry_read_password_file(value, pw, sizeof(pw), why, whylen);
    explicit_bzero(pw, sizeof(pw));
    return rc < 0 ? -EINVAL : 0;
}

int registry_parse_addr_list(const char *list, registry_addr_t *out, int max, char *why,
                             size_t whylen)
{
    int n = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            snprintf(why, whylen, "empty address in list");
            return -EINVAL;
        }
        if (n >= max) {
            snprintf(why, whylen, "more than %d addresses", max);
            return -EINVAL;
        }
        const char *colon = memchr(p, ':', len);
        size_t hlen = colon ? (size_t)(colon - p) : len;
        if (hlen == 0 || hlen >= sizeof(out[n].host)) {
            snprintf(why, whylen, "missing or oversized host");
            return -EINVAL;
        }
        memcpy(out[n].host, p, hlen);
        out[n].host[hlen] = '\0';
        out[n].port = 26379;
        if (colon) {
            long port = 0;
            size_t plen = len - hlen - 1;
            for (size_t i = 0; i < plen; i++) {
                char c = colon[1 + i];
                if (c < '0' || c > '9' || port > 65535) {
                    port = -1;
                    break;
                }
                port = port * 10 + (c - '0');
            }
            if (plen == 0 || port < 1 || port > 65535) {
                snprintf(why, whylen, "port must be 1..65535");
                return -EINVAL;
            }
            out[n].port = (int)port;
        }
        n++;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) {
                snprintf(why, whylen, "empty address in list");
                return -EINVAL;
            }
        }
    }
    return n;
}

int registry_validate_addr_list(const char *value, char *why, size_t whylen)
{
    registry_addr_t a[REGISTRY_MAX_SENTINELS];
    int n = registry_parse_addr_list(value, a, REGISTRY_MAX_SENTINELS, why, whylen);
    return n < 0 ? n : 0;
}
