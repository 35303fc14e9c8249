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
};

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
    sub_drop(self, "stopping");
    explicit_bzero(self->url.password, sizeof(self->url.password));
    free(self);
    *self_p = NULL;
}

bool registry_redis_connected(const registry_redis_t *self)
{
    return self->redis != NULL;
}

const char *registry_redis_describe(const registry_redis_t *self, char *out, size_t outlen)
{
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

static void redis_drop(registry_redis_t *self, const char *why)
{
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
    if (self->nsentinels) {
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
    if (!*fail && self->url.db) {
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
    for (int i = 0; i < REGISTRY_SCRIPT_COUNT; i++) {
        redisReply *r = redisCommand(self->redis, "SCRIPT LOAD %s", REGISTRY_SCRIPTS[i]);
        int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
        if (ok)
            memcpy(self->sha[i], r->str, 41);
        else
            log_error("SCRIPT LOAD failed: %s", r && r->str ? r->str : self->redis->errstr);
        freeReplyObject(r);
        if (!ok)
            return -1;
    }
    return 0;
}

int registry_redis_ensure(registry_redis_t *self)
{
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

static int append(registry_redis_t *self, const registry_batch_t *b, size_t i)
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
    return redisAppendCommandArgv(self->redis, (int)argc, argv, NULL) == REDIS_OK ? 0 : -EIO;
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

int registry_redis_exec(registry_redis_t *self, const registry_batch_t *batch,
                        registry_replies_fn *fn, void *arg)
{
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
    if (self->sub || !self->redis)
        return 0;
    uint64_t now = clock_now_us();
    if (now < self->next_sub_us)
        return 0;
    const char *fail = NULL;
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
    log_info("subscribed to %s and %s", channel, REGISTRY_CRED_CHANNEL);
    sub_drain(self); /* anything that arrived with the SUBSCRIBE answer */
    return 1;
}
