/* redis-registry: the only process that talks to Redis (DESIGN §6, docs/registry.md).
 *
 * Wiring: configuration, the ZeroMQ sockets on a CZMQ loop, and two hiredis connections:
 *  - a synchronous one used in pipelined batches: every batch of envelopes drained from the
 *    input becomes one round trip (claims, re-assertions, releases, lookups, de-dup checks);
 *  - a subscriber on ocppgw:superseded:<pod>, read by the loop through its file descriptor, so
 *    a claim on another pod closes our older connection at once.
 * The registry keeps a table of this pod's live registrations. Whenever it may have missed
 * something (Redis reconnect, subscriber reconnect, its own lease found expired, e.g. after the
 * process was paused) it re-asserts all of them with a compare-and-set on the epoch: a newer
 * owner is never overwritten, our stale connection is told SUPERSEDED instead; a map that Redis
 * lost is claimed afresh. Every tick it refreshes the pod lease, sweeps stale mappings of dead
 * pods (one registry at a time, under a lock) and claims dead pods' command partitions for the
 * bridge (fenced takeover). Redis being down never blocks the other stages: claims and releases
 * wait here, lookups and new de-dup checks are answered -EAGAIN, cores are told when the queue
 * passes queue_limit. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <czmq.h>
#include <hiredis.h>

#include "admin_http.h"
#include "channel.h"
#include "clock.h"
#include "config.h"
#include "envelope.h"
#include "hash.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "registry_config.h"
#include "registry_keys.h"
#include "registry_logic.h"

typedef struct {
    char identity[IDENTITY_MAX + 1];
    uint32_t core;
    uint64_t conn_id;
    char edge[64];
    char version[16];
    char boot[16];
    uint64_t since_us;
    uint64_t epoch; /* 0 until the first claim answered: then re-assertions are CAS on it */
    bool queued;    /* a claim or re-assertion for it is waiting in R.claims */
    bool answer;    /* core asked (REGISTER): answer REGISTERED even if nothing changed */
} reg_t;

typedef struct {
    char identity[IDENTITY_MAX + 1];
    uint64_t epoch;
} release_t;

typedef struct {
    uint64_t request_id;
    char identity[IDENTITY_MAX + 1];
} lookup_t;

typedef struct {
    uint64_t request_id;
    char command_id[128];
    uint64_t ttl_ms;
    bool sent; /* sent once and the answer was lost: in doubt, retried with the same value */
} dedup_t;

typedef struct {
    char pod[64];
    uint64_t epoch;         /* held takeover epoch, 0: none */
    uint64_t dead_since_us; /* when we first saw it without a lease */
    bool seen;              /* still listed as dead in this round */
} takeover_t;

enum {
    S_CLAIM,
    S_REASSERT,
    S_RELEASE,
    S_LOOKUP,
    S_SWEEP,
    S_LOCK,
    S_TAKEOVER,
    S_TAKEOVER_DONE,
    S_COUNT
};
static const char *const SCRIPTS[S_COUNT] = {
    REGISTRY_CLAIM_LUA, REGISTRY_REASSERT_LUA, REGISTRY_RELEASE_LUA,  REGISTRY_LOOKUP_LUA,
    REGISTRY_SWEEP_LUA, REGISTRY_LOCK_LUA,     REGISTRY_TAKEOVER_LUA, REGISTRY_TAKEOVER_DONE_LUA};

static struct {
    registry_config_t cfg;
    registry_redis_url_t url;
    registry_addr_t sentinels[REGISTRY_MAX_SENTINELS];
    int nsentinels;
    char primary_host[256];
    int primary_port;
    redisContext *redis;
    redisContext *sub;
    zmq_pollitem_t sub_item;
    zloop_t *loop;
    char sha[S_COUNT][41];
    uint64_t next_connect_us, next_sub_us;
    int64_t backoff_ms, sub_backoff_ms;
    uint64_t down_since_us; /* 0 while Redis is reachable */
    bool busy;
    uint64_t busy_told_us;
    zsock_t *pull;
    zsock_t **cores;
    zsock_t *bridge;
    zhashx_t *regs;      /* identity -> reg_t*: this pod's live registrations */
    zlistx_t *claims;    /* identities whose claim or re-assertion must be sent */
    zlistx_t *releases;  /* release_t* */
    zlistx_t *lookups;   /* lookup_t* */
    zlistx_t *dedups;    /* dedup_t* */
    zhashx_t *takeovers; /* pod -> takeover_t*: dead pods we looked at */
    msgpack_sbuffer scratch;
    admin_http_t *admin;
    metrics_counter_t *m_claims, *m_reasserts, *m_releases, *m_lookups, *m_reconnects, *m_errors,
        *m_swept, *m_degraded_ms, *m_dedup_first, *m_dedup_dup;
    metrics_gauge_t *m_up, *m_regs, *m_queue, *m_busy;
    metrics_histogram_t *m_rtt;
} R;

static void send_to(zsock_t *sock, const char *to, const envelope_t *env)
{
    channel_send_counted(sock, env, &R.scratch, to, 1000);
}

static size_t queue_depth(void)
{
    return zlistx_size(R.claims) + zlistx_size(R.releases) + zlistx_size(R.lookups) +
           zlistx_size(R.dedups);
}

/* Tells every core when the queue crosses queue_limit (and again every 5 s while busy). */
static void update_busy(void)
{
    size_t depth = queue_depth();
    metrics_gauge_set(R.m_queue, (int64_t)depth);
    bool changed = registry_busy_update(&R.busy, depth, (size_t)R.cfg.queue_limit);
    uint64_t now = clock_now_us();
    if (!changed && !(R.busy && now - R.busy_told_us > 5000000u))
        return;
    R.busy_told_us = now;
    metrics_gauge_set(R.m_busy, R.busy);
    if (changed)
        log_warn("queue %zu of %" PRId64 ": %s", depth, R.cfg.queue_limit,
                 R.busy ? "busy, cores told to slow down" : "no longer busy");
    envelope_t env = {.type = ENV_REGISTRY_BUSY};
    env.u.registry_busy.busy = R.busy;
    env.u.registry_busy.queued = depth > UINT32_MAX ? UINT32_MAX : (uint32_t)depth;
    env.u.registry_busy.limit = (uint32_t)R.cfg.queue_limit;
    env.u.registry_busy.redis_up = R.redis != NULL;
    for (int64_t i = 0; i < R.cfg.core_count; i++)
        send_to(R.cores[i], "core", &env);
}

static void queue_claim(reg_t *g)
{
    if (!g->queued) {
        g->queued = true;
        zlistx_add_end(R.claims, g->identity);
    }
}

/* Re-queue every live registration: after a reconnect Redis may have lost everything, after a
 * pause or a lost subscription a newer owner may exist. Registrations that hold an epoch are
 * re-asserted with a compare-and-set (REGISTRY_REASSERT_LUA), the others claimed. */
static void requeue_all(const char *why)
{
    if (zhashx_size(R.regs))
        log_info("re-asserting %zu registrations: %s", zhashx_size(R.regs), why);
    for (reg_t *g = zhashx_first(R.regs); g; g = zhashx_next(R.regs))
        queue_claim(g);
}

static void send_superseded(reg_t *g, uint64_t epoch, const char *by_pod, const char *via)
{
    log_write(LOG_INFO, g->identity, NULL,
              "superseded by pod %s (epoch %" PRIu64 " > %" PRIu64
              ", via %s): closing conn %" PRIu64,
              by_pod, epoch, g->epoch, via, g->conn_id);
    metrics_count("registry_superseded_total", "our connections that lost to a newer claim", "via",
                  via);
    envelope_t env = {.type = ENV_SUPERSEDED};
    env.u.superseded.identity = env_str(g->identity);
    env.u.superseded.conn_id = g->conn_id;
    env.u.superseded.epoch = epoch;
    env.u.superseded.by_pod = env_str(by_pod);
    send_to(R.cores[g->core], "core", &env);
    zhashx_delete(R.regs, g->identity); /* no longer ours: never re-asserted again */
    metrics_gauge_set(R.m_regs, (int64_t)zhashx_size(R.regs));
}

/* ---- Redis connections ----------------------------------------------------------------- */

static void set_degraded(bool down)
{
    uint64_t now = clock_now_us();
    if (down && !R.down_since_us) {
        R.down_since_us = now;
        metrics_gauge_set(R.m_up, 0);
        admin_http_set_ready(R.admin, false, "degraded: redis unavailable");
    } else if (!down && R.down_since_us) {
        metrics_counter_add(R.m_degraded_ms, (now - R.down_since_us) / 1000u);
        R.down_since_us = 0;
        metrics_gauge_set(R.m_up, 1);
        admin_http_set_ready(R.admin, true, NULL);
    }
}

static void redis_drop(const char *why)
{
    if (!R.redis)
        return;
    log_warn("redis connection lost: %s", why);
    redisFree(R.redis);
    R.redis = NULL;
    set_degraded(true);
}

static void sub_drop(const char *why)
{
    if (!R.sub)
        return;
    log_warn("redis subscriber lost: %s", why);
    zloop_poller_end(R.loop, &R.sub_item);
    redisFree(R.sub);
    R.sub = NULL;
}

/* Asks the Sentinels, in order, for the current primary. 0 or -EAGAIN. */
static int sentinel_discover(void)
{
    struct timeval tv = {(time_t)(R.cfg.redis_timeout_ms / 1000),
                         (suseconds_t)(R.cfg.redis_timeout_ms % 1000) * 1000};
    for (int i = 0; i < R.nsentinels; i++) {
        redisContext *s = redisConnectWithTimeout(R.sentinels[i].host, R.sentinels[i].port, tv);
        if (!s || s->err) {
            log_warn("sentinel %s:%d unreachable", R.sentinels[i].host, R.sentinels[i].port);
            redisFree(s);
            continue;
        }
        redisSetTimeout(s, tv);
        redisReply *r =
            redisCommand(s, "SENTINEL get-master-addr-by-name %s", R.cfg.sentinel_master);
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  r->element[0]->type == REDIS_REPLY_STRING &&
                  r->element[1]->type == REDIS_REPLY_STRING &&
                  r->element[0]->len < sizeof(R.primary_host);
        if (ok) {
            int port = (int)strtol(r->element[1]->str, NULL, 10);
            ok = port > 0 && port < 65536;
            if (ok) {
                memcpy(R.primary_host, r->element[0]->str, r->element[0]->len + 1);
                R.primary_port = port;
            }
        }
        if (!ok)
            log_warn("sentinel %s:%d does not know primary '%s'", R.sentinels[i].host,
                     R.sentinels[i].port, R.cfg.sentinel_master);
        freeReplyObject(r);
        redisFree(s);
        if (ok)
            return 0;
    }
    return -EAGAIN;
}

/* Connects to the primary (asking the Sentinels first when configured), authenticates and
 * selects the database. NULL with *fail set on failure. */
static redisContext *redis_open(const char **fail)
{
    if (R.nsentinels) {
        if (sentinel_discover() < 0) {
            *fail = "no sentinel named a primary";
            return NULL;
        }
    } else {
        snprintf(R.primary_host, sizeof(R.primary_host), "%s", R.url.host);
        R.primary_port = R.url.port;
    }
    struct timeval tv = {(time_t)(R.cfg.redis_timeout_ms / 1000),
                         (suseconds_t)(R.cfg.redis_timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(R.primary_host, R.primary_port, tv);
    if (!c || c->err) {
        *fail = c ? "connect failed" : "out of memory";
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisReply *r = NULL;
    if (R.url.password[0]) {
        r = redisCommand(c, "AUTH %s", R.url.password);
        if (!r || r->type == REDIS_REPLY_ERROR)
            *fail = "AUTH refused";
        freeReplyObject(r);
    }
    if (!*fail && R.url.db) {
        r = redisCommand(c, "SELECT %d", R.url.db);
        if (!r || r->type == REDIS_REPLY_ERROR)
            *fail = "SELECT refused";
        freeReplyObject(r);
    }
    if (!*fail && R.nsentinels) { /* a demoted primary may still be named for a moment */
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

static int load_scripts(void)
{
    for (int i = 0; i < S_COUNT; i++) {
        redisReply *r = redisCommand(R.redis, "SCRIPT LOAD %s", SCRIPTS[i]);
        int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
        if (ok)
            memcpy(R.sha[i], r->str, 41);
        else
            log_error("SCRIPT LOAD failed: %s", r && r->str ? r->str : R.redis->errstr);
        freeReplyObject(r);
        if (!ok)
            return -1;
    }
    return 0;
}

static int redis_ensure(void)
{
    if (R.redis)
        return 0;
    uint64_t now = clock_now_us();
    if (now < R.next_connect_us)
        return -EAGAIN;
    const char *fail = NULL;
    R.redis = redis_open(&fail);
    if (R.redis && load_scripts() < 0) {
        fail = "could not load scripts";
        redisFree(R.redis);
        R.redis = NULL;
    }
    if (!R.redis) {
        log_warn("redis %s:%d unavailable (%s), retrying in %" PRId64 " ms", R.primary_host,
                 R.primary_port, fail, R.backoff_ms);
        R.next_connect_us = now + (uint64_t)R.backoff_ms * 1000u;
        R.backoff_ms = R.backoff_ms * 2 > 2000 ? 2000 : R.backoff_ms * 2;
        set_degraded(true);
        return -EAGAIN;
    }
    R.backoff_ms = 100;
    metrics_counter_add(R.m_reconnects, 1);
    set_degraded(false);
    log_info("connected to redis %s:%d", R.primary_host, R.primary_port);
    requeue_all("connected to redis (it may have lost its data)");
    return 0;
}

/* ---- pub/sub: SUPERSEDED from other pods' claims ----------------------------------------- */

static void on_superseded_message(const char *payload, size_t len)
{
    registry_superseded_t m;
    if (registry_superseded_parse(payload, len, &m) < 0) {
        metrics_count("registry_bad_replies_total", "malformed data read from Redis", "what",
                      "superseded message");
        log_warn("malformed superseded message (%zu bytes) ignored", len);
        return;
    }
    reg_t *g = zhashx_lookup(R.regs, m.identity);
    /* only a claim newer than the one we hold; a claim still in flight will win anyway */
    if (!g || g->epoch == 0 || g->epoch >= m.epoch)
        return;
    send_superseded(g, m.epoch, m.by_pod, "pubsub");
}

/* Handles every complete message hiredis already holds for the subscriber. */
static void sub_drain(void)
{
    while (R.sub) {
        redisReply *r = NULL;
        if (redisGetReplyFromReader(R.sub, (void **)&r) != REDIS_OK) {
            sub_drop("protocol error");
            return;
        }
        if (!r)
            break;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[0]->str, "message") == 0 && r->element[2]->type == REDIS_REPLY_STRING)
            on_superseded_message(r->element[2]->str, r->element[2]->len);
        freeReplyObject(r);
    }
}

static int on_sub_readable(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    (void)arg;
    if (!R.sub)
        return 0;
    if (redisBufferRead(R.sub) != REDIS_OK) {
        sub_drop(R.sub->errstr[0] ? R.sub->errstr : "read failed");
        return 0;
    }
    sub_drain();
    return 0;
}

static void sub_ensure(void)
{
    if (R.sub || !R.redis)
        return;
    uint64_t now = clock_now_us();
    if (now < R.next_sub_us)
        return;
    const char *fail = NULL;
    R.sub = redis_open(&fail);
    char channel[128];
    registry_channel_superseded(R.cfg.pod_id, channel, sizeof(channel));
    if (R.sub) {
        redisReply *r = redisCommand(R.sub, "SUBSCRIBE %s", channel);
        if (!r || r->type != REDIS_REPLY_ARRAY)
            fail = "SUBSCRIBE failed";
        freeReplyObject(r);
    }
    if (!fail) {
        R.sub_item = (zmq_pollitem_t){NULL, R.sub->fd, ZMQ_POLLIN, 0};
        if (zloop_poller(R.loop, &R.sub_item, on_sub_readable, NULL) < 0)
            fail = "poller";
    }
    if (fail) {
        if (R.sub)
            redisFree(R.sub);
        R.sub = NULL;
        R.next_sub_us = now + (uint64_t)R.sub_backoff_ms * 1000u;
        R.sub_backoff_ms = R.sub_backoff_ms * 2 > 2000 ? 2000 : R.sub_backoff_ms * 2;
        log_warn("subscriber not connected (%s)", fail);
        return;
    }
    R.sub_backoff_ms = 100;
    log_info("subscribed to %s", channel);
    sub_drain(); /* anything that arrived with the SUBSCRIBE answer */
    /* messages published while we were not subscribed are gone: verify instead */
    requeue_all("subscribed to superseded notifications");
}

/* ---- pipelined batch ------------------------------------------------------------------- */

static const char *reply_str(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return "";
    const redisReply *e = r->element[i];
    return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS ? e->str : "";
}

static long long reply_int(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return 0;
    const redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    return e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : 0;
}

/* Errors after which this connection is useless: the script cache is gone (Redis restarted) or
 * the server was demoted to a replica (Sentinel failover). Reconnect, rediscover, reload. */
static bool reply_needs_reconnect(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR &&
           (strncmp(r->str, "NOSCRIPT", 8) == 0 || strncmp(r->str, "READONLY", 8) == 0 ||
            strncmp(r->str, "LOADING", 7) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0);
}

static void send_registered(reg_t *g, int status, const char *prev, const char *boot)
{
    g->answer = false;
    envelope_t env = {.type = ENV_REGISTERED};
    env.u.registered.identity = env_str(g->identity);
    env.u.registered.conn_id = g->conn_id;
    env.u.registered.epoch = status == 0 ? g->epoch : 0;
    env.u.registered.status = status;
    env.u.registered.previous_pod = env_str(prev);
    env.u.registered.boot_state = env_str(boot);
    send_to(R.cores[g->core], "core", &env);
}

static void claim_done(reg_t *g, const redisReply *r)
{
    g->epoch = (uint64_t)reply_int(r, 0);
    metrics_counter_add(R.m_claims, 1);
    const char *prev = reply_str(r, 1);
    if (prev[0] && strcmp(prev, R.cfg.pod_id) != 0)
        log_write(LOG_INFO, g->identity, NULL, "claimed from pod %s, epoch %" PRIu64, prev,
                  g->epoch);
    send_registered(g, 0, prev, reply_str(r, 2));
}

static void reassert_done(reg_t *g, const redisReply *r)
{
    uint64_t epoch = (uint64_t)reply_int(r, 0);
    const char *state = reply_str(r, 1);
    metrics_counter_add(R.m_reasserts, 1);
    if (strcmp(state, "superseded") == 0) {
        send_superseded(g, epoch, reply_str(r, 2), "reassert");
        return;
    }
    if (strcmp(state, "claimed") == 0) {
        log_write(LOG_INFO, g->identity, NULL,
                  "mapping was lost (redis restart or swept), claimed again: epoch %" PRIu64
                  " -> %" PRIu64,
                  g->epoch, epoch);
        metrics_counter_add(R.m_claims, 1);
        g->epoch = epoch;
    } else if (!g->answer) {
        return; /* verified unchanged: nothing to tell core */
    }
    send_registered(g, 0, "", g->boot);
}

static void append_claim(reg_t *g)
{
    char kc[80], ke[96], km[96], conn[24], since[24], held[24];
    registry_key_conn(g->identity, kc, sizeof(kc));
    registry_key_epoch(g->identity, ke, sizeof(ke));
    registry_key_meta(g->identity, km, sizeof(km));
    snprintf(conn, sizeof(conn), "%" PRIu64, g->conn_id);
    snprintf(since, sizeof(since), "%" PRIu64, g->since_us);
    if (g->epoch == 0) {
        redisAppendCommand(R.redis, "EVALSHA %s 3 %s %s %s %s %s %s %s %s %s %s", R.sha[S_CLAIM],
                           kc, ke, km, R.cfg.pod_id, g->edge, conn, since, g->version, g->boot,
                           g->identity);
    } else {
        snprintf(held, sizeof(held), "%" PRIu64, g->epoch);
        redisAppendCommand(R.redis, "EVALSHA %s 3 %s %s %s %s %s %s %s %s %s %s %s",
                           R.sha[S_REASSERT], kc, ke, km, R.cfg.pod_id, held, g->edge, conn, since,
                           g->version, g->boot, g->identity);
    }
}

static void answer_lookup(const lookup_t *lk, const redisReply *r, int status)
{
    envelope_t env = {.type = ENV_OWNER};
    env.u.owner.request_id = lk->request_id;
    env.u.owner.identity = env_str(lk->identity);
    env.u.owner.pod = env_str(status == 0 ? reply_str(r, 0) : "");
    env.u.owner.epoch = status == 0 ? (uint64_t)reply_int(r, 1) : 0;
    env.u.owner.live = status == 0 && reply_int(r, 2) == 1;
    env.u.owner.status = status;
    send_to(R.bridge, "bridge", &env);
    metrics_count("registry_lookups_total", "owner lookups answered", "status",
                  status == 0        ? "ok"
                  : status == -EBUSY ? "busy"
                                     : "unavailable");
}

static void answer_dedup(const dedup_t *d, bool first, int status)
{
    envelope_t env = {.type = ENV_DEDUP_RESULT};
    env.u.dedup_result.request_id = d->request_id;
    env.u.dedup_result.command_id = env_str(d->command_id);
    env.u.dedup_result.first = first;
    env.u.dedup_result.status = status;
    send_to(R.bridge, "bridge", &env);
    if (status == 0)
        metrics_counter_add(first ? R.m_dedup_first : R.m_dedup_dup, 1);
    else
        metrics_count("registry_dedup_unanswered_total", "de-dup checks answered with an error",
                      "status", status == -EBUSY ? "busy" : "unavailable");
}

static void dedup_value(const dedup_t *d, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%" PRIu64, R.cfg.pod_id, d->request_id);
}

/* Redis is unreachable: whatever only reads is answered now (the asker retries), whatever
 * writes waits. A de-dup check that may already have been executed stays queued: answering it
 * later with the same value keeps "first" exactly once. */
static void answer_unavailable(void)
{
    lookup_t *lk;
    while ((lk = zlistx_detach(R.lookups, NULL))) {
        answer_lookup(lk, NULL, -EAGAIN);
        free(lk);
    }
    dedup_t *d = zlistx_first(R.dedups);
    while (d) {
        void *handle = zlistx_cursor(R.dedups);
        dedup_t *next = zlistx_next(R.dedups);
        if (!d->sent) {
            answer_dedup(d, false, -EAGAIN);
            zlistx_delete(R.dedups, handle);
        }
        d = next;
    }
}

/* One round trip for up to max queued items. Returns the number of items sent, or -1 when the
 * connection broke (nothing is lost: claims, releases and sent de-dup checks stay queued). */
static int flush_once(size_t max)
{
    size_t nclaims = zlistx_size(R.claims);
    size_t nrel = zlistx_size(R.releases), nlook = zlistx_size(R.lookups),
           ndedup = zlistx_size(R.dedups);
    reg_t **batch = calloc(nclaims ? nclaims : 1, sizeof(*batch));
    if (!batch)
        return -1;
    size_t nb = 0, total = 0;
    char *id;
    while (total < max && (id = zlistx_first(R.claims))) {
        reg_t *g = zhashx_lookup(R.regs, id);
        if (g && g->queued) {
            g->queued = false;
            batch[nb++] = g;
            append_claim(g);
            total++;
        }
        zlistx_delete(R.claims, NULL);
    }
    nrel = nrel < max - total ? nrel : max - total;
    total += nrel;
    size_t i = 0;
    for (release_t *rel = zlistx_first(R.releases); rel && i < nrel;
         rel = zlistx_next(R.releases), i++) {
        char kc[80], ke[96], km[96], epoch[24];
        registry_key_conn(rel->identity, kc, sizeof(kc));
        registry_key_epoch(rel->identity, ke, sizeof(ke));
        registry_key_meta(rel->identity, km, sizeof(km));
        snprintf(epoch, sizeof(epoch), "%" PRIu64, rel->epoch);
        redisAppendCommand(R.redis, "EVALSHA %s 3 %s %s %s %s %s %s", R.sha[S_RELEASE], kc, ke, km,
                           epoch, R.cfg.pod_id, rel->identity);
    }
    nlook = nlook < max - total ? nlook : max - total;
    total += nlook;
    i = 0;
    for (lookup_t *lk = zlistx_first(R.lookups); lk && i < nlook;
         lk = zlistx_next(R.lookups), i++) {
        char kc[80], km[96];
        registry_key_conn(lk->identity, kc, sizeof(kc));
        registry_key_meta(lk->identity, km, sizeof(km));
        redisAppendCommand(R.redis, "EVALSHA %s 2 %s %s pod:", R.sha[S_LOOKUP], kc, km);
    }
    ndedup = ndedup < max - total ? ndedup : max - total;
    total += ndedup;
    i = 0;
    for (dedup_t *d = zlistx_first(R.dedups); d && i < ndedup; d = zlistx_next(R.dedups), i++) {
        char key[160], value[96];
        registry_key_dedup(d->command_id, key, sizeof(key));
        dedup_value(d, value, sizeof(value));
        redisAppendCommand(R.redis, "SET %s %s NX GET PX %" PRIu64, key, value,
                           d->ttl_ms ? d->ttl_ms : 1);
        d->sent = true;
    }
    uint64_t t0 = clock_now_us();

    bool broken = false;
    for (i = 0; i < nb; i++) {
        redisReply *r = NULL;
        if (!broken && redisGetReply(R.redis, (void **)&r) != REDIS_OK)
            broken = true;
        reg_t *g = batch[i];
        if (!broken && r->type == REDIS_REPLY_ARRAY) {
            if (g->epoch == 0)
                claim_done(g, r);
            else
                reassert_done(g, r); /* may delete g */
        } else if (!broken) {
            metrics_counter_add(R.m_errors, 1);
            log_write(LOG_ERROR, g->identity, NULL, "claim failed: %s",
                      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            if (reply_needs_reconnect(r))
                broken = true; /* restarted or demoted between batches: reconnect, reload */
            else
                queue_claim(g); /* retried with the next batch */
        }
        if (broken)
            queue_claim(g);
        freeReplyObject(r);
    }
    free(batch);
    for (i = 0; i < nrel && !broken; i++) {
        redisReply *r = NULL;
        if (redisGetReply(R.redis, (void **)&r) != REDIS_OK || reply_needs_reconnect(r)) {
            freeReplyObject(r); /* the release stays queued */
            broken = true;
            break;
        }
        if (r->type == REDIS_REPLY_INTEGER)
            metrics_counter_add(R.m_releases, (uint64_t)r->integer);
        else
            metrics_counter_add(R.m_errors, 1);
        freeReplyObject(r);
        zlistx_delete(R.releases, NULL); /* the first is the one answered */
    }
    for (i = 0; i < nlook && !broken; i++) {
        redisReply *r = NULL;
        if (redisGetReply(R.redis, (void **)&r) != REDIS_OK) {
            broken = true;
            break;
        }
        lookup_t *lk = zlistx_detach(R.lookups, NULL);
        answer_lookup(lk, r, r->type == REDIS_REPLY_ARRAY ? 0 : -EIO);
        free(lk);
        freeReplyObject(r);
    }
    for (i = 0; i < ndedup && !broken; i++) {
        redisReply *r = NULL;
        if (redisGetReply(R.redis, (void **)&r) != REDIS_OK) {
            broken = true;
            break;
        }
        if (reply_needs_reconnect(r)) { /* stays queued, in doubt: retried with its value */
            freeReplyObject(r);
            broken = true;
            break;
        }
        dedup_t *d = zlistx_detach(R.dedups, NULL);
        char value[96];
        dedup_value(d, value, sizeof(value));
        if (r->type == REDIS_REPLY_NIL) /* set now: first */
            answer_dedup(d, true, 0);
        else if (r->type == REDIS_REPLY_STRING) /* our own earlier attempt, or a replay */
            answer_dedup(d, strcmp(r->str, value) == 0, 0);
        else
            answer_dedup(d, false, -EIO);
        free(d);
        freeReplyObject(r);
    }
    if (broken) {
        redis_drop(R.redis && R.redis->err ? R.redis->errstr : "script cache lost");
        return -1;
    }
    metrics_histogram_observe(R.m_rtt, (double)(clock_now_us() - t0) / 1e6);
    return (int)total;
}

static void flush(void)
{
    /* bounded: an item that keeps failing (an error reply) waits for the next tick instead of
     * spinning here */
    for (size_t pass = queue_depth() / 8192 + 1; pass > 0 && queue_depth() > 0; pass--) {
        if (redis_ensure() < 0) {
            answer_unavailable();
            break;
        }
        if (flush_once(8192) <= 0)
            break;
    }
    update_busy();
}

/* ---- envelopes ------------------------------------------------------------------------- */

static void on_register(const env_register_t *m)
{
    char identity[IDENTITY_MAX + 1];
    env_str_copy(m->identity, identity, sizeof(identity));
    if (m->core_id >= (uint32_t)R.cfg.core_count || !identity[0]) {
        log_warn("REGISTER from core %u for '%s' dropped", m->core_id, identity);
        channel_reject("bad register", "core", NULL);
        return;
    }
    reg_t *g = zhashx_lookup(R.regs, identity);
    if (!g) {
        g = calloc(1, sizeof(*g));
        if (!g)
            return;
        memcpy(g->identity, identity, sizeof(identity));
        zhashx_insert(R.regs, g->identity, g);
    }
    if (g->conn_id != m->conn_id)
        g->epoch = 0; /* a new connection takes a fresh epoch; the same one re-asserts (boot) */
    g->core = m->core_id;
    g->conn_id = m->conn_id;
    env_str_copy(m->edge_id, g->edge, sizeof(g->edge));
    env_str_copy(m->ocpp_version, g->version, sizeof(g->version));
    env_str_copy(m->boot_state, g->boot, sizeof(g->boot));
    g->since_us = m->since_us;
    g->answer = true;
    queue_claim(g);
    metrics_gauge_set(R.m_regs, (int64_t)zhashx_size(R.regs));
}

static void on_unregister(const env_unregister_t *m)
{
    char identity[IDENTITY_MAX + 1];
    env_str_copy(m->identity, identity, sizeof(identity));
    reg_t *g = zhashx_lookup(R.regs, identity);
    uint64_t epoch = m->epoch;
    if (g && g->conn_id == m->conn_id) {
        if (!epoch) /* gone before core heard REGISTERED: release what we claimed */
            epoch = g->epoch;
        zhashx_delete(R.regs, identity); /* a newer connection keeps its registration */
    }
    metrics_gauge_set(R.m_regs, (int64_t)zhashx_size(R.regs));
    if (epoch == 0)
        return;
    release_t *rel = calloc(1, sizeof(*rel));
    if (!rel)
        return;
    memcpy(rel->identity, identity, sizeof(identity));
    rel->epoch = epoch;
    zlistx_add_end(R.releases, rel);
}

static void on_lookup(const env_lookup_t *m)
{
    lookup_t *lk = calloc(1, sizeof(*lk));
    if (!lk)
        return;
    lk->request_id = m->request_id;
    env_str_copy(m->identity, lk->identity, sizeof(lk->identity));
    if (queue_depth() >= (size_t)R.cfg.queue_limit) {
        answer_lookup(lk, NULL, -EBUSY);
        free(lk);
        return;
    }
    zlistx_add_end(R.lookups, lk);
}

static void on_dedup(const env_dedup_t *m)
{
    dedup_t *d = calloc(1, sizeof(*d));
    if (!d)
        return;
    d->request_id = m->request_id;
    d->ttl_ms = m->ttl_ms;
    if (m->command_id.len == 0 || m->command_id.len >= sizeof(d->command_id)) {
        channel_reject("bad command id", "kafka-bridge", NULL);
        answer_dedup(d, false, -EINVAL);
        free(d);
        return;
    }
    env_str_copy(m->command_id, d->command_id, sizeof(d->command_id));
    if (queue_depth() >= (size_t)R.cfg.queue_limit) {
        answer_dedup(d, false, -EBUSY);
        free(d);
        return;
    }
    zlistx_add_end(R.dedups, d);
}

static void send_takeover(const char *pod, uint64_t epoch, bool active)
{
    log_info("takeover of pod %s's partition, epoch %" PRIu64 ": %s", pod, epoch,
             active ? "active" : "stopped");
    metrics_count("registry_takeovers_total", "takeover claims won (active) and given up", "active",
                  active ? "true" : "false");
    envelope_t env = {.type = ENV_TAKEOVER};
    env.u.takeover.pod = env_str(pod);
    env.u.takeover.epoch = epoch;
    env.u.takeover.active = active;
    send_to(R.bridge, "bridge", &env);
}

static void on_takeover_done(const env_takeover_done_t *m)
{
    char pod[64];
    env_str_copy(m->pod, pod, sizeof(pod));
    takeover_t *t = zhashx_lookup(R.takeovers, pod);
    if (!t || t->epoch != m->epoch) {
        log_warn("TAKEOVER_DONE for pod %s epoch %" PRIu64 " that we do not hold: ignored", pod,
                 m->epoch);
        return;
    }
    if (redis_ensure() < 0)
        return; /* the claim expires by itself; the next holder drains again (idempotent) */
    char kt[128], kd[140], kc[140], epoch[24];
    registry_key_takeover(pod, kt, sizeof(kt));
    registry_key_takeover_done(pod, kd, sizeof(kd));
    registry_key_pod_conns(pod, kc, sizeof(kc));
    snprintf(epoch, sizeof(epoch), "%" PRIu64, m->epoch);
    redisReply *r =
        redisCommand(R.redis, "EVALSHA %s 4 %s %s %s %s %s %s %s", R.sha[S_TAKEOVER_DONE], kt, kd,
                     kc, REGISTRY_PODS_KEY, R.cfg.pod_id, epoch, pod);
    if (!r) {
        redis_drop(R.redis->errstr);
        return;
    }
    log_info("pod %s drained (epoch %" PRIu64 "): claim %s", pod, m->epoch,
             r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? "released" : "already gone");
    freeReplyObject(r);
    zhashx_delete(R.takeovers, pod);
}

static void dispatch(const envelope_t *env, void *arg)
{
    (void)arg;
    switch (env->type) {
    case ENV_REGISTER:
        on_register(&env->u.register_);
        break;
    case ENV_UNREGISTER:
        on_unregister(&env->u.unregister);
        break;
    case ENV_LOOKUP:
        on_lookup(&env->u.lookup);
        break;
    case ENV_DEDUP:
        on_dedup(&env->u.dedup);
        break;
    case ENV_TAKEOVER_DONE:
        on_takeover_done(&env->u.takeover_done);
        break;
    default:
        channel_reject("unexpected type", "the pod", env);
    }
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)arg;
    channel_drain(sock, 4096, "the pod", dispatch, NULL);
    flush();
    return 0;
}

/* ---- every tick: lease, sweeper, takeover ----------------------------------------------- */

/* Refreshes our lease; if it had expired (we were paused or cut off longer than the TTL),
 * another pod may have claimed our charge points or swept them: verify every one of them. */
static void refresh_lease(void)
{
    if (redis_ensure() < 0)
        return;
    char key[128], done[140], info[160];
    registry_key_lease(R.cfg.pod_id, key, sizeof(key));
    registry_key_takeover_done(R.cfg.pod_id, done, sizeof(done));
    snprintf(info, sizeof(info), "{\"registrations\":%zu,\"refreshed_us\":%" PRIu64 "}",
             zhashx_size(R.regs), clock_now_us());
    redisAppendCommand(R.redis, "EXISTS %s", key);
    redisAppendCommand(R.redis, "SET %s %s PX %" PRId64, key, info, R.cfg.lease_ttl_ms);
    redisAppendCommand(R.redis, "SADD %s %s", REGISTRY_PODS_KEY, R.cfg.pod_id);
    redisAppendCommand(R.redis, "DEL %s", done);
    redisReply *r[4] = {NULL};
    for (int i = 0; i < 4; i++) {
        if (redisGetReply(R.redis, (void **)&r[i]) != REDIS_OK) {
            for (int j = 0; j < i; j++)
                freeReplyObject(r[j]);
            redis_drop(R.redis->errstr);
            return;
        }
    }
    bool demoted = reply_needs_reconnect(r[1]);
    if (!demoted && r[0]->type == REDIS_REPLY_INTEGER && r[0]->integer == 0)
        requeue_all("our lease had expired");
    for (int i = 0; i < 4; i++)
        freeReplyObject(r[i]);
    if (demoted)
        redis_drop("lease refresh refused (server is not a writable primary)");
}

static void emit_disconnected(const char *identity, const char *dead_pod, uint64_t epoch)
{
    char *value =
        registry_event_disconnected(identity, dead_pod, R.cfg.pod_id, epoch, clock_now_us());
    if (!value)
        return;
    char id[128];
    snprintf(id, sizeof(id), "swept/%s/%" PRIu64, identity, epoch);
    envelope_t env = {.type = ENV_EVENT};
    env.u.event.core_id = 0;
    env.u.event.token = 0;
    env.u.event.topic = env_str(R.cfg.events_topic);
    env.u.event.key = env_str(identity);
    env.u.event.headers.count = 2;
    env.u.event.headers.items[0] =
        (env_header_t){env_str("ce_type"), env_str("device.disconnected")};
    env.u.event.headers.items[1] = (env_header_t){env_str("ce_id"), env_str(id)};
    env.u.event.value = (env_bin_t){(const uint8_t *)value, strlen(value)};
    send_to(R.bridge, "bridge", &env);
    free(value);
}

/* Removes up to sweep_batch stale mappings of a dead pod (one round trip). Each removal is the
 * atomic REGISTRY_SWEEP_LUA, so a mapping is removed, and device.disconnected emitted, once. */
static void sweep_pod(const char *pod)
{
    char kconns[140], klease[128];
    registry_key_pod_conns(pod, kconns, sizeof(kconns));
    registry_key_lease(pod, klease, sizeof(klease));
    redisReply *m = redisCommand(R.redis, "SRANDMEMBER %s %" PRId64, kconns, R.cfg.sweep_batch);
    if (!m) {
        redis_drop(R.redis->errstr);
        return;
    }
    size_t n = m->type == REDIS_REPLY_ARRAY ? m->elements : 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = m->element[i]->type == REDIS_REPLY_STRING ? m->element[i]->str : "";
        char kc[80], km[96];
        if (registry_key_conn(id, kc, sizeof(kc)) < 0 || registry_key_meta(id, km, sizeof(km)) < 0)
            snprintf(kc, sizeof(kc), "conn:{}"); /* oversized garbage: just drop it from the set */
        redisAppendCommand(R.redis, "EVALSHA %s 4 %s %s %s %s %s %s", R.sha[S_SWEEP], kc, km,
                           kconns, klease, pod, id);
    }
    size_t swept = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(R.redis, (void **)&r) != REDIS_OK) {
            freeReplyObject(m);
            redis_drop(R.redis->errstr);
            return;
        }
        if (reply_int(r, 0) == 1) {
            const char *id = m->element[i]->str;
            log_write(LOG_INFO, id, NULL, "stale mapping of dead pod %s swept (epoch %lld)", pod,
                      reply_int(r, 1));
            emit_disconnected(id, pod, (uint64_t)reply_int(r, 1));
            metrics_counter_add(R.m_swept, 1);
            swept++;
        }
        freeReplyObject(r);
    }
    freeReplyObject(m);
    if (swept)
        log_info("swept %zu stale mappings of pod %s", swept, pod);
}

static takeover_t *dead_pod_seen(const char *pod)
{
    takeover_t *t = zhashx_lookup(R.takeovers, pod);
    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t)
            return NULL;
        snprintf(t->pod, sizeof(t->pod), "%s", pod);
        t->dead_since_us = clock_now_us();
        zhashx_insert(R.takeovers, t->pod, t);
        log_info("pod %s has no lease", pod);
    }
    t->seen = true;
    return t;
}

static void takeover_try(takeover_t *t)
{
    const char *pod = t->pod;
    char kt[128], ke[140], kl[128], kd[140], ttl[24];
    registry_key_takeover(pod, kt, sizeof(kt));
    registry_key_takeover_epoch(pod, ke, sizeof(ke));
    registry_key_lease(pod, kl, sizeof(kl));
    registry_key_takeover_done(pod, kd, sizeof(kd));
    snprintf(ttl, sizeof(ttl), "%" PRId64, R.cfg.lease_ttl_ms);
    redisReply *r = redisCommand(R.redis, "EVALSHA %s 4 %s %s %s %s %s %s try", R.sha[S_TAKEOVER],
                                 kt, ke, kl, kd, R.cfg.pod_id, ttl);
    if (!r) {
        redis_drop(R.redis->errstr);
        return;
    }
    uint64_t stop = 0;
    int act = registry_takeover_step(&t->epoch, reply_str(r, 1), (uint64_t)reply_int(r, 0), &stop);
    freeReplyObject(r);
    if (act & REGISTRY_TAKEOVER_STOP)
        send_takeover(pod, stop, false);
    if (act & REGISTRY_TAKEOVER_START)
        send_takeover(pod, t->epoch, true);
}

/* A pod we held a takeover for is no longer dead (lease back) or no longer known. */
static void takeover_forget_unseen(void)
{
    takeover_t *t = zhashx_first(R.takeovers);
    while (t) {
        takeover_t *next = zhashx_next(R.takeovers);
        if (!t->seen) {
            if (t->epoch && R.redis) {
                char kt[128], ke[140], kl[128], kd[140], ttl[24];
                registry_key_takeover(t->pod, kt, sizeof(kt));
                registry_key_takeover_epoch(t->pod, ke, sizeof(ke));
                registry_key_lease(t->pod, kl, sizeof(kl));
                registry_key_takeover_done(t->pod, kd, sizeof(kd));
                snprintf(ttl, sizeof(ttl), "%" PRId64, R.cfg.lease_ttl_ms);
                freeReplyObject(redisCommand(R.redis, "EVALSHA %s 4 %s %s %s %s %s %s release",
                                             R.sha[S_TAKEOVER], kt, ke, kl, kd, R.cfg.pod_id, ttl));
            }
            if (t->epoch)
                send_takeover(t->pod, t->epoch, false);
            zhashx_delete(R.takeovers, t->pod);
        } else {
            t->seen = false;
        }
        t = next;
    }
}

/* Dead pods: known (in the pods set) without a lease. O(pods) per tick. */
static void check_dead_pods(void)
{
    if (!R.redis)
        return;
    redisReply *pods = redisCommand(R.redis, "SMEMBERS %s", REGISTRY_PODS_KEY);
    if (!pods) {
        redis_drop(R.redis->errstr);
        return;
    }
    size_t n = pods->type == REDIS_REPLY_ARRAY ? pods->elements : 0;
    for (size_t i = 0; i < n; i++) {
        char key[128];
        if (registry_key_lease(pods->element[i]->str, key, sizeof(key)) < 0)
            snprintf(key, sizeof(key), "pod:{}");
        redisAppendCommand(R.redis, "EXISTS %s", key);
    }
    bool *dead = calloc(n ? n : 1, sizeof(*dead));
    size_t ndead = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(R.redis, (void **)&r) != REDIS_OK) {
            free(dead);
            freeReplyObject(pods);
            redis_drop(R.redis->errstr);
            return;
        }
        dead[i] = r->type == REDIS_REPLY_INTEGER && r->integer == 0 &&
                  strcmp(pods->element[i]->str, R.cfg.pod_id) != 0 &&
                  pods->element[i]->len < sizeof(((takeover_t *)0)->pod);
        ndead += dead[i];
        freeReplyObject(r);
    }
    bool sweeper = false;
    if (ndead) {
        char ttl[24];
        snprintf(ttl, sizeof(ttl), "%" PRId64, R.cfg.lease_refresh_ms * 3);
        redisReply *r = redisCommand(R.redis, "EVALSHA %s 1 %s %s %s", R.sha[S_LOCK],
                                     REGISTRY_SWEEPER_KEY, R.cfg.pod_id, ttl);
        sweeper = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (!r)
            redis_drop(R.redis->errstr);
        freeReplyObject(r);
    }
    for (size_t i = 0; i < n && R.redis; i++) {
        takeover_t *t = dead[i] ? dead_pod_seen(pods->element[i]->str) : NULL;
        if (!t)
            continue;
        if (sweeper && clock_now_us() >= t->dead_since_us + (uint64_t)R.cfg.sweep_grace_ms * 1000u)
            sweep_pod(t->pod);
        if (R.redis)
            takeover_try(t);
    }
    free(dead);
    freeReplyObject(pods);
    if (R.redis)
        takeover_forget_unseen();
}

static int on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    admin_http_heartbeat(R.admin);
    if (R.down_since_us) { /* degraded time, counted while it lasts */
        uint64_t now = clock_now_us();
        metrics_counter_add(R.m_degraded_ms, (now - R.down_since_us) / 1000u);
        R.down_since_us = now;
    }
    refresh_lease();
    sub_ensure();
    check_dead_pods();
    flush(); /* retries whatever waited for Redis */
    return 0;
}

static void item_free(void **item)
{
    free(*item);
    *item = NULL;
}

static void *string_dup(const void *item)
{
    return strdup(item);
}

int main(int argc, char **argv)
{
    char err[512];
    int rc = service_setup("redis-registry", REGISTRY_CONFIG, REGISTRY_CONFIG_COUNT, &R.cfg, argc,
                           argv, &R.cfg.pod_id, &R.cfg.log_level);
    if (rc != SERVICE_RUN)
        return rc;
    if (strlen(R.cfg.pod_id) >= 64 || strchr(R.cfg.pod_id, ' ')) {
        log_error("pod_id must be shorter than 64 bytes and contain no space");
        return 2;
    }
    registry_parse_redis_url(R.cfg.redis_url, &R.url, err, sizeof(err));
    R.nsentinels = registry_parse_addr_list(R.cfg.sentinel_addrs, R.sentinels,
                                            REGISTRY_MAX_SENTINELS, err, sizeof(err));
    if (R.nsentinels < 0)
        R.nsentinels = 0; /* validated by the config table already */
    snprintf(R.primary_host, sizeof(R.primary_host), "%s", R.url.host);
    R.primary_port = R.url.port;

    R.admin = admin_http_start(R.cfg.admin_bind, (int)R.cfg.admin_port);
    if (!R.admin)
        return 1;
    R.m_claims = metrics_counter("registry_claims_total", "connection claims written", NULL);
    R.m_reasserts = metrics_counter("registry_reasserts_total",
                                    "re-assertions of held claims (compare-and-set)", NULL);
    R.m_releases =
        metrics_counter("registry_releases_total", "mappings released (epoch matched)", NULL);
    R.m_reconnects = metrics_counter("registry_redis_connects_total", "connections to Redis", NULL);
    R.m_errors = metrics_counter("registry_redis_errors_total", "failed Redis commands", NULL);
    R.m_swept = metrics_counter("registry_stale_swept_total",
                                "stale mappings of dead pods removed by this sweeper", NULL);
    R.m_degraded_ms = metrics_counter("registry_degraded_milliseconds_total",
                                      "time spent without a Redis connection", NULL);
    R.m_dedup_first =
        metrics_counter("registry_dedup_total", "de-dup checks answered", "first=\"true\"");
    R.m_dedup_dup =
        metrics_counter("registry_dedup_total", "de-dup checks answered", "first=\"false\"");
    R.m_up = metrics_gauge("registry_redis_up", "1 while Redis is reachable", NULL);
    R.m_regs = metrics_gauge("registry_registrations", "live registrations of this pod", NULL);
    R.m_queue = metrics_gauge("registry_queue_depth", "work waiting for Redis", NULL);
    R.m_busy = metrics_gauge("registry_busy", "1 while cores are told to slow down", NULL);
    R.m_rtt = metrics_histogram("registry_redis_batch_seconds", "round trip of one pipelined batch",
                                NULL, METRICS_LATENCY_SECONDS, METRICS_LATENCY_SECONDS_N);

    R.pull = channel_pull_at(R.cfg.ipc_dir, "registry", (int)R.cfg.zmq_hwm);
    R.bridge = channel_push_to(R.cfg.ipc_dir, "bridge", (int)R.cfg.zmq_hwm);
    R.cores = channel_push_to_cores(R.cfg.ipc_dir, R.cfg.core_count, (int)R.cfg.zmq_hwm);
    if (!R.pull || !R.bridge || !R.cores)
        return 1;
    R.regs = zhashx_new();
    zhashx_set_destructor(R.regs, item_free);
    R.takeovers = zhashx_new();
    zhashx_set_destructor(R.takeovers, item_free);
    R.claims = zlistx_new(); /* own copies: a registration may go while its claim waits */
    zlistx_set_duplicator(R.claims, string_dup);
    zlistx_set_destructor(R.claims, item_free);
    R.releases = zlistx_new();
    zlistx_set_destructor(R.releases, item_free);
    R.lookups = zlistx_new();
    zlistx_set_destructor(R.lookups, item_free);
    R.dedups = zlistx_new();
    zlistx_set_destructor(R.dedups, item_free);
    msgpack_sbuffer_init(&R.scratch);
    R.backoff_ms = R.sub_backoff_ms = 100;
    metrics_gauge_set(R.m_up, 0);

    R.loop = zloop_new();
    /* SIGTERM ends the loop; the stop path below flushes and deletes the lease, so the other
     * pods take over at once */
    service_zloop_signals(R.loop, NULL, NULL);
    zloop_reader(R.loop, R.pull, on_input, NULL);
    zloop_timer(R.loop, (size_t)R.cfg.lease_refresh_ms, 0, on_tick, NULL);
    if (redis_ensure() == 0) {
        refresh_lease();
        sub_ensure();
    }
    if (R.redis)
        admin_http_set_ready(R.admin, true, NULL);
    log_info("registry for pod %s, redis %s:%d%s", R.cfg.pod_id, R.primary_host, R.primary_port,
             R.nsentinels ? " (via sentinel)" : "");
    zloop_start(R.loop);

    log_info("stopping: flushing and releasing the lease");
    admin_http_set_ready(R.admin, false, "stopping");
    flush();
    if (R.redis) {
        char key[128];
        registry_key_lease(R.cfg.pod_id, key, sizeof(key));
        freeReplyObject(redisCommand(R.redis, "DEL %s", key));
        redisFree(R.redis);
    }
    sub_drop("stopping");
    zloop_destroy(&R.loop);
    zlistx_destroy(&R.claims);
    zlistx_destroy(&R.releases);
    zlistx_destroy(&R.lookups);
    zlistx_destroy(&R.dedups);
    zhashx_destroy(&R.regs);
    zhashx_destroy(&R.takeovers);
    channel_push_to_cores_destroy(&R.cores, R.cfg.core_count);
    zsock_destroy(&R.pull);
    zsock_destroy(&R.bridge);
    msgpack_sbuffer_destroy(&R.scratch);
    admin_http_stop(&R.admin);
    metrics_shutdown();
    config_free(REGISTRY_CONFIG, REGISTRY_CONFIG_COUNT, &R.cfg);
    return 0;
}
