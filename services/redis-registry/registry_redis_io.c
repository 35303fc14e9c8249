/* registry_redis_io: hiredis connections, Sentinel, scripts, batches. See registry_redis_io.h. */
#include "registry_redis_io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>

#include "clock.h"
#include "log.h"
#include "registry_cluster.h"
#include "registry_keys.h"
#include "registry_metrics.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

struct registry_redis {
    const registry_config_t *cfg;
    registry_redis_url_t url;
    registry_addr_t sentinels[REGISTRY_MAX_SENTINELS];
    int nsentinels;
    char primary_host[256];
    int primary_port;
    redisContext *redis;
    redisContext *sub;
    zmq_pollitem_t sub_item;
    zloop_t *loop;
    registry_message_fn *on_message;
    void *arg;
    char sha[REGISTRY_SCRIPT_COUNT][41];
    uint64_t next_connect_us, next_sub_us;
    int64_t backoff_ms, sub_backoff_ms;
    uint64_t down_since_us; /* 0 while Redis is reachable */
    uint64_t degraded_us;   /* degraded time not counted yet (below a second) */
    metrics_counter_t *m_connects, *m_degraded;
    metrics_gauge_t *m_up;
    /* Redis Cluster (url.cluster): the slot map, one connection per master, the seeds */
    registry_cluster_map_t *map;
    redisContext *nodes[REGISTRY_CLUSTER_MAX_NODES];
    registry_addr_t seeds[REGISTRY_MAX_SENTINELS];
    int nseeds, sub_node;
    bool cluster_up;
    metrics_counter_t *m_moved, *m_ask, *m_refresh_ok, *m_refresh_failed;
    metrics_gauge_t *m_masters;
};

static redisContext *redis_open(registry_redis_t *self, const char **fail);
static int load_scripts_on(registry_redis_t *self, redisContext *c);

registry_redis_t *registry_redis_new(const registry_config_t *cfg, zloop_t *loop,
                                     registry_message_fn *on_message, void *arg)
{
    registry_redis_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    char err[512];
    self->cfg = cfg;
    registry_parse_redis_url(cfg->redis_url, &self->url, err, sizeof(err));
    if (cfg->redis_password_file[0] &&
        registry_read_password_file(cfg->redis_password_file, self->url.password,
                                    sizeof(self->url.password), err, sizeof(err)) < 0) {
        log_error("redis_password_file: %s", err);
        free(self);
        return NULL;
    }
    self->nsentinels = registry_parse_addr_list(cfg->sentinel_addrs, self->sentinels,
                                                REGISTRY_MAX_SENTINELS, err, sizeof(err));
    if (self->nsentinels < 0)
        self->nsentinels = 0; /* validated by the config table already */
    snprintf(self->primary_host, sizeof(self->primary_host), "%s", self->url.host);
    self->primary_port = self->url.port;
    self->loop = loop;
    self->on_message = on_message;
    self->arg = arg;
    self->backoff_ms = self->sub_backoff_ms = BACKOFF_MIN_MS;
    self->m_connects = metrics_def_counter(&REGISTRY_METRICS[REGISTRY_M_REDIS_CONNECTS], NULL);
    self->m_degraded = metrics_def_counter(&REGISTRY_METRICS[REGISTRY_M_DEGRADED_SECONDS], NULL);
    self->m_up = metrics_def_gauge(&REGISTRY_METRICS[REGISTRY_M_REDIS_UP], NULL);
    metrics_gauge_set(self->m_up, 0);
    self->down_since_us = clock_now_us(); /* degraded until the first connection */
    self->m_masters = metrics_def_gauge(&REGISTRY_METRICS[REGISTRY_M_CLUSTER_MASTERS], NULL);
    if (self->url.cluster) {
        self->nseeds = registry_parse_addr_list(self->url.seeds, self->seeds,
                                                REGISTRY_MAX_SENTINELS, err, sizeof(err));
        self->map = calloc(1, sizeof(*self->map));
        if (self->nseeds <= 0 || !self->map) {
            log_error("redis_url: %s", self->nseeds <= 0 ? err : "out of memory");
            free(self->map);
            free(self);
            return NULL;
        }
        if (self->nsentinels)
            log_warn("sentinel_addrs ignored: redis_url names a Redis Cluster");
        self->nsentinels = 0; /* a cluster has no Sentinels */
        const metrics_def_t *rd = &REGISTRY_METRICS[REGISTRY_M_CLUSTER_REDIRECTS];
        const metrics_def_t *rf = &REGISTRY_METRICS[REGISTRY_M_CLUSTER_REFRESHES];
        self->m_moved = metrics_def_counter(rd, "kind=\"moved\"");
        self->m_ask = metrics_def_counter(rd, "kind=\"ask\"");
        self->m_refresh_ok = metrics_def_counter(rf, "result=\"ok\"");
        self->m_refresh_failed = metrics_def_counter(rf, "result=\"failed\"");
    }
    return self;
}

static void sub_drop(registry_redis_t *self, const char *why)
{
    if (!self->sub)
        return;
    log_warn("redis subscriber lost: %s", why);
    zloop_poller_end(self->loop, &self->sub_item);
    redisFree(self->sub);
    self->sub = NULL;
}

void registry_redis_destroy(registry_redis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_redis_t *self = *self_p;
    if (self->redis)
        redisFree(self->redis);
    for (int i = 0; i < REGISTRY_CLUSTER_MAX_NODES; i++)
        if (self->nodes[i])
            redisFree(self->nodes[i]);
    free(self->map);
    sub_drop(self, "stopping");
    explicit_bzero(self->url.password, sizeof(self->url.password));
    free(self);
    *self_p = NULL;
}

bool registry_redis_connected(const registry_redis_t *self)
{
    return self->map ? self->cluster_up : self->redis != NULL;
}

const char *registry_redis_describe(const registry_redis_t *self, char *out, size_t outlen)
{
    if (self->map)
        snprintf(out, outlen, "cluster of %d masters (seeds %s)", self->map->nnodes,
                 self->url.seeds);
    else
        snprintf(out, outlen, "%s:%d%s", self->primary_host, self->primary_port,
                 self->nsentinels ? " (via sentinel)" : "");
    return out;
}

/* Degraded time so far into the counter, in whole seconds; the fraction waits for more. */
static void count_degraded(registry_redis_t *self, uint64_t now)
{
    self->degraded_us += now - self->down_since_us;
    self->down_since_us = now;
    metrics_counter_add(self->m_degraded, self->degraded_us / 1000000u);
    self->degraded_us %= 1000000u;
}

/* registry_redis_up follows the connection; the pod's readiness does not (DESIGN-12-13: Redis
 * down never makes a pod unready, metrics and alerts report it). */
static void set_degraded(registry_redis_t *self, bool down)
{
    uint64_t now = clock_now_us();
    metrics_gauge_set(self->m_up, down ? 0 : 1);
    if (down && !self->down_since_us) {
        self->down_since_us = now;
    } else if (!down && self->down_since_us) {
        count_degraded(self, now);
        self->down_since_us = 0;
    }
}

void registry_redis_tick(registry_redis_t *self)
{
    if (self->down_since_us) /* counted while it lasts */
        count_degraded(self, clock_now_us());
}

static void cluster_drop(registry_redis_t *self, const char *why);

static void redis_drop(registry_redis_t *self, const char *why)
{
    if (self->map) {
        cluster_drop(self, why);
        return;
    }
    if (!self->redis)
        return;
    log_warn("redis connection lost: %s", why);
    redisFree(self->redis);
    self->redis = NULL;
    set_degraded(self, true);
}

static struct timeval timeout(const registry_redis_t *self)
{
    int64_t ms = self->cfg->redis_timeout_ms;
    return (struct timeval){(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
}

/* Asks the Sentinels, in order, for the current primary. 0 or -EAGAIN. */
static int sentinel_discover(registry_redis_t *self)
{
    struct timeval tv = timeout(self);
    for (int i = 0; i < self->nsentinels; i++) {
        const registry_addr_t *a = &self->sentinels[i];
        redisContext *s = redisConnectWithTimeout(a->host, a->port, tv);
        if (!s || s->err) {
            log_warn("sentinel %s:%d unreachable", a->host, a->port);
            redisFree(s);
            continue;
        }
        redisSetTimeout(s, tv);
        redisReply *r =
            redisCommand(s, "SENTINEL get-master-addr-by-name %s", self->cfg->sentinel_master);
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  r->element[0]->type == REDIS_REPLY_STRING &&
                  r->element[1]->type == REDIS_REPLY_STRING &&
                  r->element[0]->len < sizeof(self->primary_host);
        if (ok) {
            int port = (int)strtol(r->element[1]->str, NULL, 10);
            ok = port > 0 && port < 65536;
            if (ok) {
                memcpy(self->primary_host, r->element[0]->str, r->element[0]->len + 1);
                self->primary_port = port;
            }
        }
        if (!ok)
            log_warn("sentinel %s:%d does not know primary '%s'", a->host, a->port,
                     self->cfg->sentinel_master);
        freeReplyObject(r);
        redisFree(s);
        if (ok)
            return 0;
    }
    return -EAGAIN;
}

/* Connects to the primary (asking the Sentinels first when configured), authenticates and
 * selects the database. NULL with *fail set on failure. */
static redisContext *redis_open(registry_redis_t *self, const char **fail)
{
    if (self->map) {
        /* cluster: primary_host/port name the node the caller picked */
    } else if (self->nsentinels) {
        if (sentinel_discover(self) < 0) {
            *fail = "no sentinel named a primary";
            return NULL;
        }
    } else {
        snprintf(self->primary_host, sizeof(self->primary_host), "%s", self->url.host);
        self->primary_port = self->url.port;
    }
    struct timeval tv = timeout(self);
    redisContext *c = redisConnectWithTimeout(self->primary_host, self->primary_port, tv);
    if (!c || c->err) {
        *fail = c ? "connect failed" : "out of memory";
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisReply *r = NULL;
    if (self->url.password[0]) { /* an ACL user, or the default user */
        r = self->url.user[0] ? redisCommand(c, "AUTH %s %s", self->url.user, self->url.password)
                              : redisCommand(c, "AUTH %s", self->url.password);
        if (!r || r->type == REDIS_REPLY_ERROR)
            *fail = "AUTH refused";
        freeReplyObject(r);
    }
    if (!*fail && self->url.db && !self->map) {
        r = redisCommand(c, "SELECT %d", self->url.db);
        if (!r || r->type == REDIS_REPLY_ERROR)
            *fail = "SELECT refused";
        freeReplyObject(r);
    }
    if (!*fail && self->nsentinels) { /* a demoted primary may still be named for a moment */
        r = redisCommand(c, "ROLE");
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
            r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "master"))
            *fail = "not a primary";
        freeReplyObject(r);
    }
    if (*fail) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static int load_scripts(registry_redis_t *self)
{
    return load_scripts_on(self, self->redis);
}

/* Every script on one server (each master of a cluster has its own cache; the digests are
 * the same everywhere). */
static int load_scripts_on(registry_redis_t *self, redisContext *c)
{
    for (int i = 0; i < REGISTRY_SCRIPT_COUNT; i++) {
        redisReply *r = redisCommand(c, "SCRIPT LOAD %s", REGISTRY_SCRIPTS[i]);
        int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
        if (ok)
            memcpy(self->sha[i], r->str, 41);
        else
            log_error("SCRIPT LOAD failed: %s", r && r->str ? r->str : c->errstr);
        freeReplyObject(r);
        if (!ok)
            return -1;
    }
    return 0;
}

static int cluster_ensure(registry_redis_t *self);

int registry_redis_ensure(registry_redis_t *self)
{
    if (self->map)
        return cluster_ensure(self);
    if (self->redis)
        return 0;
    uint64_t now = clock_now_us();
    if (now < self->next_connect_us)
        return -EAGAIN;
    const char *fail = NULL;
    self->redis = redis_open(self, &fail);
    if (self->redis && load_scripts(self) < 0) {
        fail = "could not load scripts";
        redisFree(self->redis);
        self->redis = NULL;
    }
    if (!self->redis) {
        log_warn("redis %s:%d unavailable (%s), retrying in %" PRId64 " ms", self->primary_host,
                 self->primary_port, fail, self->backoff_ms);
        self->next_connect_us = now + (uint64_t)self->backoff_ms * 1000u;
        self->backoff_ms =
            self->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : self->backoff_ms * 2;
        set_degraded(self, true);
        return -EAGAIN;
    }
    self->backoff_ms = BACKOFF_MIN_MS;
    metrics_counter_add(self->m_connects, 1);
    set_degraded(self, false);
    log_info("connected to redis %s:%d", self->primary_host, self->primary_port);
    return 1;
}

/* ---- batches ---------------------------------------------------------------------------- */

static int append_to(registry_redis_t *self, redisContext *c, const registry_batch_t *b, size_t i,
                     bool asking);

static int append(registry_redis_t *self, const registry_batch_t *b, size_t i)
{
    return append_to(self, self->redis, b, i, false);
}

static int append_to(registry_redis_t *self, redisContext *c, const registry_batch_t *b, size_t i,
                     bool asking)
{
    const char *argv[REGISTRY_BATCH_MAX_ARGS + 3];
    char numkeys[24];
    size_t argc = 0;
    int script = registry_batch_script_of(b, i);
    if (script != REGISTRY_BATCH_PLAIN) {
        snprintf(numkeys, sizeof(numkeys), "%zu", registry_batch_numkeys(b, i));
        argv[argc++] = "EVALSHA";
        argv[argc++] = self->sha[script];
        argv[argc++] = numkeys;
    }
    for (size_t j = 0; j < registry_batch_argc(b, i); j++)
        argv[argc++] = registry_batch_arg(b, i, j);
    if (asking && redisAppendCommand(c, "ASKING") != REDIS_OK)
        return -EIO;
    return redisAppendCommandArgv(c, (int)argc, argv, NULL) == REDIS_OK ? 0 : -EIO;
}

static registry_reply_t *convert(const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_NIL:
        return registry_reply_nil();
    case REDIS_REPLY_INTEGER:
        return registry_reply_int(r->integer);
    case REDIS_REPLY_STRING:
        return registry_reply_text(REGISTRY_REPLY_STRING, r->str, r->len);
    case REDIS_REPLY_STATUS:
        return registry_reply_text(REGISTRY_REPLY_STATUS, r->str, r->len);
    case REDIS_REPLY_ERROR:
        return registry_reply_text(REGISTRY_REPLY_ERROR, r->str, r->len);
    case REDIS_REPLY_ARRAY: {
        registry_reply_t *a = registry_reply_array(r->elements);
        for (size_t i = 0; a && i < r->elements; i++) {
            a->element[i] = convert(r->element[i]);
            if (!a->element[i])
                registry_reply_destroy(&a);
        }
        return a;
    }
    default: {
        static const char unknown[] = "ERR unexpected reply type";
        return registry_reply_text(REGISTRY_REPLY_ERROR, unknown, sizeof(unknown) - 1);
    }
    }
}

static int cluster_exec(registry_redis_t *self, const registry_batch_t *batch,
                        registry_replies_fn *fn, void *arg);

int registry_redis_exec(registry_redis_t *self, const registry_batch_t *batch,
                        registry_replies_fn *fn, void *arg)
{
    if (self->map)
        return cluster_exec(self, batch, fn, arg);
    size_t n = registry_batch_size(batch), got = 0;
    registry_reply_t **replies = calloc(n ? n : 1, sizeof(*replies));
    bool ok = self->redis && replies;
    for (size_t i = 0; ok && i < n; i++)
        ok = append(self, batch, i) == 0;
    while (ok && got < n) {
        redisReply *r = NULL;
        if (redisGetReply(self->redis, (void **)&r) != REDIS_OK || !r) {
            ok = false;
            break;
        }
        replies[got] = convert(r);
        freeReplyObject(r);
        ok = replies[got] != NULL;
        got += ok;
    }
    int rc = fn(arg, (const registry_reply_t *const *)replies, got, clock_now_us());
    for (size_t i = 0; i < got; i++)
        registry_reply_destroy(&replies[i]);
    free(replies);
    if (ok && rc == 0)
        return 0;
    redis_drop(self, self->redis && self->redis->err
                         ? self->redis->errstr
                         : "the server asked for a reconnect (script cache lost or demoted)");
    return -EPIPE;
}

/* ---- pub/sub: SUPERSEDED from other pods' claims ---------------------------------------- */

/* Handles every complete message hiredis already holds for the subscriber. */
static void sub_drain(registry_redis_t *self)
{
    while (self->sub) {
        redisReply *r = NULL;
        if (redisGetReplyFromReader(self->sub, (void **)&r) != REDIS_OK) {
            sub_drop(self, "protocol error");
            return;
        }
        if (!r)
            break;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[0]->str, "message") == 0 &&
            r->element[1]->type == REDIS_REPLY_STRING && r->element[2]->type == REDIS_REPLY_STRING)
            self->on_message(self->arg, r->element[1]->str, r->element[2]->str, r->element[2]->len);
        freeReplyObject(r);
    }
}

static int on_sub_readable(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    registry_redis_t *self = arg;
    if (!self->sub)
        return 0;
    if (redisBufferRead(self->sub) != REDIS_OK) {
        sub_drop(self, self->sub->errstr[0] ? self->sub->errstr : "read failed");
        return 0;
    }
    sub_drain(self);
    return 0;
}

int registry_redis_subscribe(registry_redis_t *self)
{
    if (self->sub || !registry_redis_connected(self))
        return 0;
    uint64_t now = clock_now_us();
    if (now < self->next_sub_us)
        return 0;
    const char *fail = NULL;
    if (self->map) { /* PUBLISH reaches every node of a cluster: any master will do, in turn */
        if (!self->cluster_up || !self->map->nnodes)
            return 0;
        const registry_addr_t *a = &self->map->nodes[self->sub_node++ % self->map->nnodes];
        snprintf(self->primary_host, sizeof(self->primary_host), "%s", a->host);
        self->primary_port = a->port;
    }
    self->sub = redis_open(self, &fail);
    char channel[128];
    registry_channel_superseded(self->cfg->pod_id, channel, sizeof(channel));
    if (self->sub) { /* one confirmation per channel */
        const char *argv[] = {"SUBSCRIBE", channel, REGISTRY_CRED_CHANNEL};
        redisAppendCommandArgv(self->sub, 3, argv, NULL);
        for (int i = 0; i < 2 && !fail; i++) {
            redisReply *r = NULL;
            if (redisGetReply(self->sub, (void **)&r) != REDIS_OK || !r ||
                r->type != REDIS_REPLY_ARRAY)
                fail = "SUBSCRIBE failed";
            freeReplyObject(r);
        }
    }
    if (!fail) {
        self->sub_item = (zmq_pollitem_t){NULL, self->sub->fd, ZMQ_POLLIN, 0};
        if (zloop_poller(self->loop, &self->sub_item, on_sub_readable, self) < 0)
            fail = "poller";
    }
    if (fail) {
        if (self->sub)
            redisFree(self->sub);
        self->sub = NULL;
        self->next_sub_us = now + (uint64_t)self->sub_backoff_ms * 1000u;
        self->sub_backoff_ms =
            self->sub_backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : self->sub_backoff_ms * 2;
        log_warn("subscriber not connected (%s)", fail);
        return 0;
    }
    self->sub_backoff_ms = BACKOFF_MIN_MS;
    log_info("subscribed to %s and %s on %s:%d", channel, REGISTRY_CRED_CHANNEL, self->primary_host,
             self->primary_port);
    sub_drain(self); /* anything that arrived with the SUBSCRIBE answer */
    return 1;
}

/* ---- Redis Cluster ------------------------------------------------------------------------ */

#define CLUSTER_REDIRECTS_MAX 5 /* per command and batch: then the batch fails and is redone */

static void node_error(registry_redis_t *self, const char *host, int port, const char *why)
{
    char label[300];
    snprintf(label, sizeof(label), "node=\"%s:%d\"", host, port);
    metrics_counter_add(
        metrics_def_counter(&REGISTRY_METRICS[REGISTRY_M_CLUSTER_NODE_ERRORS], label), 1);
    log_warn("redis cluster node %s:%d: %s", host, port, why);
}

static void cluster_drop(registry_redis_t *self, const char *why)
{
    if (!self->cluster_up)
        return;
    log_warn("redis cluster connections dropped: %s (the slot map is read again)", why);
    for (int i = 0; i < REGISTRY_CLUSTER_MAX_NODES; i++)
        if (self->nodes[i]) {
            redisFree(self->nodes[i]);
            self->nodes[i] = NULL;
        }
    self->cluster_up = false;
    set_degraded(self, true);
}

/* Connection to master idx of the map (opened, authenticated and given the scripts now if
 * needed). NULL when it cannot be reached (counted and logged). */
static redisContext *node_conn(registry_redis_t *self, int idx)
{
    if (idx < 0 || idx >= self->map->nnodes)
        return NULL;
    if (self->nodes[idx])
        return self->nodes[idx];
    const registry_addr_t *a = &self->map->nodes[idx];
    const char *fail = NULL;
    snprintf(self->primary_host, sizeof(self->primary_host), "%s", a->host);
    self->primary_port = a->port;
    redisContext *c = redis_open(self, &fail);
    if (c && load_scripts_on(self, c) < 0) {
        fail = "could not load scripts";
        redisFree(c);
        c = NULL;
    }
    if (!c) {
        node_error(self, a->host, a->port, fail ? fail : "connect failed");
        return NULL;
    }
    self->nodes[idx] = c;
    metrics_counter_add(self->m_connects, 1);
    return c;
}

/* Reads the slot map from the known masters, then the seeds, the first answer that parses
 * wins; the connections of masters that left the map are closed, the others kept. */
static int cluster_refresh(registry_redis_t *self)
{
    registry_addr_t ask[REGISTRY_CLUSTER_MAX_NODES + REGISTRY_MAX_SENTINELS];
    int nask = 0;
    for (int i = 0; i < self->map->nnodes; i++)
        ask[nask++] = self->map->nodes[i];
    for (int i = 0; i < self->nseeds; i++)
        ask[nask++] = self->seeds[i];
    registry_cluster_map_t *fresh = calloc(1, sizeof(*fresh));
    if (!fresh)
        return -ENOMEM;
    int rc = -EAGAIN;
    for (int i = 0; i < nask && rc < 0; i++) {
        const char *fail = NULL;
        memcpy(self->primary_host, ask[i].host, sizeof(self->primary_host)); /* both 256 */
        self->primary_port = ask[i].port;
        redisContext *c = redis_open(self, &fail);
        if (!c) {
            node_error(self, ask[i].host, ask[i].port, fail ? fail : "connect failed");
            continue;
        }
        redisReply *r = redisCommand(c, "CLUSTER SLOTS");
        registry_reply_t *rr = r ? convert(r) : NULL;
        char why[256] = "";
        if (rr && registry_cluster_map_parse(rr, ask[i].host, fresh, why, sizeof(why)) == 0 &&
            fresh->nnodes > 0)
            rc = 0;
        else
            log_warn("redis cluster: slot map from %s:%d refused: %s", ask[i].host, ask[i].port,
                     why[0] ? why : (r && r->str ? r->str : c->errstr));
        registry_reply_destroy(&rr);
        freeReplyObject(r);
        redisFree(c);
    }
    if (rc < 0) {
        metrics_counter_add(self->m_refresh_failed, 1);
        free(fresh);
        return rc;
    }
    redisContext *keep[REGISTRY_CLUSTER_MAX_NODES] = {0};
    for (int i = 0; i < self->map->nnodes; i++) {
        if (!self->nodes[i])
            continue;
        int j =
            registry_cluster_map_find(fresh, self->map->nodes[i].host, self->map->nodes[i].port);
        if (j >= 0)
            keep[j] = self->nodes[i];
        else
            redisFree(self->nodes[i]);
        self->nodes[i] = NULL;
    }
    memcpy(self->nodes, keep, sizeof(keep));
    if (fresh->covered != REGISTRY_CLUSTER_SLOTS)
        log_warn("redis cluster: %d of 16384 slots served", fresh->covered);
    log_info("redis cluster: slot map read, %d masters", fresh->nnodes);
    memcpy(self->map, fresh, sizeof(*fresh));
    free(fresh);
    metrics_counter_add(self->m_refresh_ok, 1);
    metrics_gauge_set(self->m_masters, self->map->nnodes);
    return 0;
}

static int cluster_ensure(registry_redis_t *self)
{
    if (self->cluster_up)
        return 0;
    uint64_t now = clock_now_us();
    if (now < self->next_connect_us)
        return -EAGAIN;
    const char *fail = NULL;
    if (cluster_refresh(self) < 0)
        fail = "no seed or master answered CLUSTER SLOTS";
    for (int i = 0; !fail && i < self->map->nnodes; i++)
        if (!node_conn(self, i))
            fail = "a master is unreachable";
    if (fail) {
        log_warn("redis cluster unavailable (%s), retrying in %" PRId64 " ms", fail,
                 self->backoff_ms);
        self->next_connect_us = now + (uint64_t)self->backoff_ms * 1000u;
        self->backoff_ms =
            self->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : self->backoff_ms * 2;
        set_degraded(self, true);
        return -EAGAIN;
    }
    self->backoff_ms = BACKOFF_MIN_MS;
    self->cluster_up = true;
    set_degraded(self, false);
    log_info("connected to redis cluster: %d masters, seeds %s", self->map->nnodes,
             self->url.seeds);
    return 1;
}

/* One command on one node, waiting for its answer (redirects of a batch are rare: they are
 * followed one by one). NULL when the node broke. */
static registry_reply_t *send_one(registry_redis_t *self, int node, const registry_batch_t *b,
                                  size_t i, bool asking)
{
    redisContext *c = node_conn(self, node);
    if (!c || append_to(self, c, b, i, asking) < 0)
        return NULL;
    redisReply *r = NULL;
    if (asking) { /* +OK of ASKING */
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r)
            return NULL;
        freeReplyObject(r);
        r = NULL;
    }
    if (redisGetReply(c, (void **)&r) != REDIS_OK || !r)
        return NULL;
    registry_reply_t *out = convert(r);
    freeReplyObject(r);
    return out;
}

static int route(const registry_redis_t *self, const registry_batch_t *b, size_t i, int target)
{
    if (target >= 0)
        return target < self->map->nnodes ? target : -1;
    int slot = registry_cluster_command_slot(b, i);
    if (slot < 0)
        return self->map->nnodes ? 0 : -1;
    int n = self->map->slot_node[slot];
    return n == REGISTRY_CLUSTER_NO_NODE ? -1 : n;
}

/* Sends every command of sub, pipelined per master, and reads the answers into replies[] (in
 * the order of sub); a MOVED re-reads the map and resends, an ASK sends ASKING and the command
 * to the node named, once. 0, or -EPIPE when a node broke (replies then partly NULL). */
static int cluster_run(registry_redis_t *self, const registry_batch_t *sub, const int *targets,
                       registry_reply_t **replies)
{
    size_t n = registry_batch_size(sub);
    int *node = calloc(n ? n : 1, sizeof(*node));
    if (!node)
        return -EPIPE;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        node[i] = route(self, sub, i, targets[i]);
        redisContext *c = node_conn(self, node[i]);
        if (!c || append_to(self, c, sub, i, false) < 0)
            node[i] = -1;
    }
    for (size_t i = 0; i < n; i++) { /* per node the answers come in the order sent */
        if (node[i] < 0) {
            static const char down[] = "CLUSTERDOWN no reachable master serves this slot";
            replies[i] = registry_reply_text(REGISTRY_REPLY_ERROR, down, sizeof(down) - 1);
            continue;
        }
        redisContext *c = self->nodes[node[i]];
        redisReply *r = NULL;
        if (!c || redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
            const registry_addr_t *a = &self->map->nodes[node[i]];
            node_error(self, a->host, a->port, c && c->errstr[0] ? c->errstr : "broke");
            rc = -EPIPE;
            break;
        }
        replies[i] = convert(r);
        freeReplyObject(r);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        for (int tries = 0; replies[i] && replies[i]->type == REGISTRY_REPLY_ERROR &&
                            tries < CLUSTER_REDIRECTS_MAX;
             tries++) {
            registry_redirect_t rd =
                registry_cluster_parse_redirect(replies[i]->str, replies[i]->len);
            if (rd.kind == REGISTRY_REDIRECT_NONE)
                break;
            int to;
            if (rd.kind == REGISTRY_REDIRECT_MOVED) { /* the slot moved for good: new map */
                metrics_counter_add(self->m_moved, 1);
                log_info("redis cluster: MOVED slot %d to %s:%d, reading the slot map", rd.slot,
                         rd.to.host, rd.to.port);
                if (cluster_refresh(self) < 0)
                    break;
                to = registry_cluster_map_find(self->map, rd.to.host, rd.to.port);
                if (to < 0)
                    to = route(self, sub, i, targets[i] >= 0 ? -1 : targets[i]);
            } else { /* a slot migrating: this one command goes there, the map stays */
                metrics_counter_add(self->m_ask, 1);
                to = registry_cluster_map_find(self->map, rd.to.host, rd.to.port);
                if (to < 0 && cluster_refresh(self) == 0)
                    to = registry_cluster_map_find(self->map, rd.to.host, rd.to.port);
            }
            if (to < 0)
                break;
            registry_reply_t *again = send_one(self, to, sub, i, rd.kind == REGISTRY_REDIRECT_ASK);
            if (!again) {
                rc = -EPIPE;
                break;
            }
            registry_reply_destroy(&replies[i]);
            replies[i] = again;
        }
    }
    free(node);
    return rc;
}

static int cluster_exec(registry_redis_t *self, const registry_batch_t *batch,
                        registry_replies_fn *fn, void *arg)
{
    size_t n = registry_batch_size(batch), done = 0;
    registry_cluster_op_t *ops = calloc(n ? n : 1, sizeof(*ops));
    registry_reply_t **results = calloc(n ? n : 1, sizeof(*results));
    /* per op: where its replies of the last round start in that round's array, and how many */
    size_t *first = calloc(n ? n : 1, sizeof(*first)), *count = calloc(n ? n : 1, sizeof(*count));
    registry_batch_t *sub = registry_batch_new();
    registry_reply_t **replies = NULL;
    size_t nreplies = 0;
    bool ok = self->cluster_up && ops && results && first && count && sub;
    /* rounds: every unfinished plan sends its next step, all of them pipelined together; a
     * claim that checks a lease takes five, nothing more than eight */
    for (int round = 0; ok && round < 8; round++) {
        registry_batch_clear(sub);
        size_t used = 0;
        int *tg = calloc(n * REGISTRY_CLUSTER_STEP_MAX + 1, sizeof(int));
        if (!tg) {
            ok = false;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (ops[i].result && !count[i])
                continue;
            const registry_reply_t *const *mine =
                replies ? (const registry_reply_t *const *)replies + first[i] : NULL;
            int k = registry_cluster_op_step(&ops[i], batch, i, self->map->nnodes, mine, count[i],
                                             sub, tg + used);
            if (k < 0) {
                ok = false;
                break;
            }
            first[i] = used;
            count[i] = (size_t)k;
            used += (size_t)k;
        }
        for (size_t j = 0; j < nreplies; j++)
            registry_reply_destroy(&replies[j]);
        free(replies);
        replies = NULL;
        nreplies = 0;
        if (!ok || used == 0) {
            free(tg);
            break;
        }
        replies = calloc(used, sizeof(*replies));
        nreplies = used;
        if (!replies || cluster_run(self, sub, tg, replies) < 0)
            ok = false;
        free(tg);
    }
    /* the engines get the answers of the commands finished in order, up to the first that
     * is not (the rest is redone after the reconnect, as with a single server) */
    for (done = 0; done < n && ops && ops[done].result; done++) {
        results[done] = ops[done].result;
        ops[done].result = NULL;
    }
    if (done < n)
        ok = false;
    int rc = fn(arg, (const registry_reply_t *const *)results, done, clock_now_us());
    for (size_t i = 0; i < done; i++)
        registry_reply_destroy(&results[i]);
    for (size_t i = 0; ops && i < n; i++)
        registry_cluster_op_reset(&ops[i]);
    for (size_t j = 0; j < nreplies; j++)
        registry_reply_destroy(&replies[j]);
    free(replies);
    free(ops);
    free(results);
    free(first);
    free(count);
    registry_batch_destroy(&sub);
    if (ok && rc == 0)
        return 0;
    cluster_drop(self, ok ? "the server asked for a reconnect (script cache lost, demoted or "
                            "slot map changed)"
                          : "a node broke or a batch could not be completed");
    return -EPIPE;
}
