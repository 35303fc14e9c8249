/* redis-registry: the only process that talks to Redis (DESIGN §6).
 *
 * Wiring: configuration, the ZeroMQ sockets on a CZMQ loop, and a synchronous hiredis
 * connection used in pipelined batches: every batch of envelopes drained from the input
 * becomes one round trip. The registry keeps a table of this pod's live registrations so
 * that it can re-assert all of them when Redis comes back (possibly empty), and refreshes
 * the pod lease. Redis being down never blocks the other stages: their envelopes queue here
 * (bounded by the ZeroMQ high-water mark) and are answered once Redis is back. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <czmq.h>
#include <hiredis.h>

#include "admin_http.h"
#include "channel.h"
#include "config.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "registry_config.h"
#include "registry_keys.h"

typedef struct {
    char identity[49];
    uint32_t core;
    uint64_t conn_id;
    char edge[64];
    char version[8];
    char boot[16];
    uint64_t since_us;
    uint64_t epoch;
    bool queued; /* a claim for it is waiting in R.claims */
} reg_t;

typedef struct {
    char identity[49];
    uint64_t epoch;
} release_t;

typedef struct {
    uint64_t request_id;
    char identity[49];
} lookup_t;

static struct {
    registry_config_t cfg;
    registry_redis_url_t url;
    redisContext *redis;
    char sha_claim[41], sha_release[41], sha_lookup[41];
    uint64_t next_connect_us;
    int64_t backoff_ms;
    zsock_t *pull;
    zsock_t **cores;
    zsock_t *bridge;
    zhashx_t *regs;     /* identity -> reg_t*: this pod's live registrations */
    zlistx_t *claims;   /* identities whose claim must be (re)sent */
    zlistx_t *releases; /* release_t* */
    zlistx_t *lookups;  /* lookup_t* */
    msgpack_sbuffer scratch;
    admin_http_t *admin;
    metrics_counter_t *m_claims, *m_releases, *m_lookups, *m_reconnects, *m_errors;
    metrics_gauge_t *m_up, *m_regs;
    metrics_histogram_t *m_rtt;
} R;

static uint64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static void send_to(zsock_t *sock, const envelope_t *env)
{
    msgpack_sbuffer_clear(&R.scratch);
    if (envelope_encode(env, &R.scratch) < 0 ||
        channel_send_wait(sock, R.scratch.data, R.scratch.size, 1000) < 0) {
        metrics_count("registry_envelopes_dropped_total", "envelopes not handed on within 1 s",
                      "type", envelope_type_name(env->type));
        log_error("%s envelope dropped: receiver full", envelope_type_name(env->type));
    }
}

/* ---- Redis connection ------------------------------------------------------------------ */

static void redis_drop(const char *why)
{
    if (!R.redis)
        return;
    log_warn("redis connection lost: %s", why);
    redisFree(R.redis);
    R.redis = NULL;
    metrics_gauge_set(R.m_up, 0);
}

static int load_script(const char *lua, char sha[41])
{
    redisReply *r = redisCommand(R.redis, "SCRIPT LOAD %s", lua);
    int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok)
        memcpy(sha, r->str, 41);
    else
        log_error("SCRIPT LOAD failed: %s", r && r->str ? r->str : R.redis->errstr);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Re-queue a claim for every live registration: after a reconnect Redis may have lost
 * everything (restart without persistence), so each connection is asserted again with a
 * fresh epoch (DESIGN §6). */
static void requeue_all(void)
{
    for (reg_t *g = zhashx_first(R.regs); g; g = zhashx_next(R.regs)) {
        if (!g->queued) {
            g->queued = true;
            zlistx_add_end(R.claims, g->identity);
        }
    }
}

static int redis_ensure(void)
{
    if (R.redis)
        return 0;
    uint64_t now = now_us();
    if (now < R.next_connect_us)
        return -EAGAIN;
    struct timeval tv = {(time_t)(R.cfg.redis_timeout_ms / 1000),
                         (suseconds_t)(R.cfg.redis_timeout_ms % 1000) * 1000};
    R.redis = redisConnectWithTimeout(R.url.host, R.url.port, tv);
    const char *fail = NULL;
    if (!R.redis || R.redis->err)
        fail = R.redis ? R.redis->errstr : "out of memory";
    if (!fail) {
        redisSetTimeout(R.redis, tv);
        if (R.url.password[0]) {
            redisReply *r = redisCommand(R.redis, "AUTH %s", R.url.password);
            if (!r || r->type == REDIS_REPLY_ERROR)
                fail = "AUTH refused";
            freeReplyObject(r);
        }
        if (!fail && R.url.db) {
            redisReply *r = redisCommand(R.redis, "SELECT %d", R.url.db);
            if (!r || r->type == REDIS_REPLY_ERROR)
                fail = "SELECT refused";
            freeReplyObject(r);
        }
        if (!fail && (load_script(REGISTRY_CLAIM_LUA, R.sha_claim) < 0 ||
                      load_script(REGISTRY_RELEASE_LUA, R.sha_release) < 0 ||
                      load_script(REGISTRY_LOOKUP_LUA, R.sha_lookup) < 0))
            fail = "could not load scripts";
    }
    if (fail) {
        log_warn("redis %s:%d unavailable (%s), retrying in %" PRId64 " ms", R.url.host, R.url.port,
                 fail, R.backoff_ms);
        if (R.redis)
            redisFree(R.redis);
        R.redis = NULL;
        R.next_connect_us = now + (uint64_t)R.backoff_ms * 1000u;
        R.backoff_ms = R.backoff_ms * 2 > 5000 ? 5000 : R.backoff_ms * 2;
        return -EAGAIN;
    }
    R.backoff_ms = 100;
    metrics_counter_add(R.m_reconnects, 1);
    metrics_gauge_set(R.m_up, 1);
    log_info("connected to redis %s:%d, re-asserting %zu registrations", R.url.host, R.url.port,
             zhashx_size(R.regs));
    requeue_all();
    return 0;
}

/* ---- pipelined batch ------------------------------------------------------------------- */

static const char *reply_str(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return "";
    const redisReply *e = r->element[i];
    return e->type == REDIS_REPLY_STRING ? e->str : "";
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

static void claim_done(reg_t *g, const redisReply *r)
{
    g->epoch = (uint64_t)reply_int(r, 0);
    metrics_counter_add(R.m_claims, 1);
    const char *prev = reply_str(r, 1);
    if (prev[0] && strcmp(prev, R.cfg.pod_id) != 0)
        log_write(LOG_INFO, g->identity, NULL, "claimed from pod %s, epoch %" PRIu64, prev,
                  g->epoch);
    envelope_t env = {.type = ENV_REGISTERED};
    env.u.registered.identity = env_str(g->identity);
    env.u.registered.conn_id = g->conn_id;
    env.u.registered.epoch = g->epoch;
    env.u.registered.status = 0;
    env.u.registered.previous_pod = env_str(prev);
    env.u.registered.boot_state = env_str(reply_str(r, 2));
    send_to(R.cores[g->core], &env);
}

static void append_claim(reg_t *g)
{
    char kc[80], ke[96], km[96], conn[24], since[24];
    registry_key_conn(g->identity, kc, sizeof(kc));
    registry_key_epoch(g->identity, ke, sizeof(ke));
    registry_key_meta(g->identity, km, sizeof(km));
    snprintf(conn, sizeof(conn), "%" PRIu64, g->conn_id);
    snprintf(since, sizeof(since), "%" PRIu64, g->since_us);
    redisAppendCommand(R.redis, "EVALSHA %s 3 %s %s %s %s %s %s %s %s %s", R.sha_claim, kc, ke, km,
                       R.cfg.pod_id, g->edge, conn, since, g->version, g->boot);
}

/* One round trip for everything queued. On a connection error nothing is lost: claims stay
 * queued (and all registrations are re-asserted on reconnect), releases and lookups stay. */
static void flush(void)
{
    size_t nclaims = zlistx_size(R.claims), nrel = zlistx_size(R.releases),
           nlook = zlistx_size(R.lookups);
    if (nclaims + nrel + nlook == 0 || redis_ensure() < 0)
        return;
    uint64_t t0 = now_us();
    /* the claim list holds identities; resolve to registrations still live */
    reg_t **batch = calloc(nclaims ? nclaims : 1, sizeof(*batch));
    size_t nb = 0;
    for (char *id = zlistx_first(R.claims); id; id = zlistx_next(R.claims)) {
        reg_t *g = zhashx_lookup(R.regs, id);
        if (g && g->queued) {
            g->queued = false;
            batch[nb++] = g;
            append_claim(g);
        }
    }
    zlistx_purge(R.claims);
    for (release_t *rel = zlistx_first(R.releases); rel; rel = zlistx_next(R.releases)) {
        char kc[80], km[96], epoch[24];
        registry_key_conn(rel->identity, kc, sizeof(kc));
        registry_key_meta(rel->identity, km, sizeof(km));
        snprintf(epoch, sizeof(epoch), "%" PRIu64, rel->epoch);
        redisAppendCommand(R.redis, "EVALSHA %s 2 %s %s %s %s", R.sha_release, kc, km, epoch,
                           R.cfg.pod_id);
    }
    for (lookup_t *lk = zlistx_first(R.lookups); lk; lk = zlistx_next(R.lookups)) {
        char kc[80], km[96];
        registry_key_conn(lk->identity, kc, sizeof(kc));
        registry_key_meta(lk->identity, km, sizeof(km));
        redisAppendCommand(R.redis, "EVALSHA %s 2 %s %s pod:", R.sha_lookup, kc, km);
    }

    bool broken = false;
    for (size_t i = 0; i < nb; i++) {
        redisReply *r = NULL;
        if (!broken && redisGetReply(R.redis, (void **)&r) != REDIS_OK)
            broken = true;
        if (!broken && r->type == REDIS_REPLY_ARRAY)
            claim_done(batch[i], r);
        else if (!broken) {
            metrics_counter_add(R.m_errors, 1);
            log_write(LOG_ERROR, batch[i]->identity, NULL, "claim failed: %s",
                      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
                broken = true; /* Redis restarted between batches: reconnect and reload */
        }
        if (broken && !batch[i]->queued) {
            batch[i]->queued = true;
            zlistx_add_end(R.claims, batch[i]->identity);
        }
        freeReplyObject(r);
    }
    free(batch);
    if (broken) {
        redis_drop(R.redis && R.redis->err ? R.redis->errstr : "script cache lost");
        return; /* releases and lookups stay queued */
    }
    for (release_t *rel = zlistx_first(R.releases); rel; rel = zlistx_next(R.releases)) {
        redisReply *r = NULL;
        if (redisGetReply(R.redis, (void **)&r) != REDIS_OK) {
            redis_drop(R.redis->errstr);
            return;
        }
        if (r->type == REDIS_REPLY_INTEGER)
            metrics_counter_add(R.m_releases, (uint64_t)r->integer);
        freeReplyObject(r);
    }
    zlistx_purge(R.releases);
    for (lookup_t *lk = zlistx_first(R.lookups); lk; lk = zlistx_next(R.lookups)) {
        redisReply *r = NULL;
        if (redisGetReply(R.redis, (void **)&r) != REDIS_OK) {
            redis_drop(R.redis->errstr);
            return;
        }
        envelope_t env = {.type = ENV_OWNER};
        env.u.owner.request_id = lk->request_id;
        env.u.owner.identity = env_str(lk->identity);
        env.u.owner.pod = env_str(reply_str(r, 0));
        env.u.owner.epoch = (uint64_t)reply_int(r, 1);
        env.u.owner.live = reply_int(r, 2) == 1;
        send_to(R.bridge, &env);
        metrics_counter_add(R.m_lookups, 1);
        freeReplyObject(r);
    }
    zlistx_purge(R.lookups);
    metrics_histogram_observe(R.m_rtt, (double)(now_us() - t0) / 1e6);
}

/* ---- envelopes ------------------------------------------------------------------------- */

static void on_register(const env_register_t *m)
{
    char identity[49];
    env_str_copy(m->identity, identity, sizeof(identity));
    if (m->core_id >= (uint32_t)R.cfg.core_count) {
        log_warn("REGISTER from unknown core %u dropped", m->core_id);
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
    g->core = m->core_id;
    g->conn_id = m->conn_id;
    env_str_copy(m->edge_id, g->edge, sizeof(g->edge));
    env_str_copy(m->ocpp_version, g->version, sizeof(g->version));
    env_str_copy(m->boot_state, g->boot, sizeof(g->boot));
    g->since_us = m->since_us;
    if (!g->queued) {
        g->queued = true;
        zlistx_add_end(R.claims, g->identity);
    }
    metrics_gauge_set(R.m_regs, (int64_t)zhashx_size(R.regs));
}

static void on_unregister(const env_unregister_t *m)
{
    char identity[49];
    env_str_copy(m->identity, identity, sizeof(identity));
    reg_t *g = zhashx_lookup(R.regs, identity);
    if (g && g->conn_id == m->conn_id)
        zhashx_delete(R.regs, identity); /* a newer connection keeps its registration */
    metrics_gauge_set(R.m_regs, (int64_t)zhashx_size(R.regs));
    if (m->epoch == 0)
        return;
    release_t *rel = calloc(1, sizeof(*rel));
    if (!rel)
        return;
    memcpy(rel->identity, identity, sizeof(identity));
    rel->epoch = m->epoch;
    zlistx_add_end(R.releases, rel);
}

static void on_lookup(const env_lookup_t *m)
{
    lookup_t *lk = calloc(1, sizeof(*lk));
    if (!lk)
        return;
    lk->request_id = m->request_id;
    env_str_copy(m->identity, lk->identity, sizeof(lk->identity));
    zlistx_add_end(R.lookups, lk);
}

static void dispatch(const uint8_t *data, size_t len)
{
    envelope_t env;
    int rc = envelope_decode(data, len, &env);
    if (rc < 0) {
        metrics_count("envelopes_rejected_total", "envelopes that could not be decoded", "reason",
                      envelope_strerror(rc));
        log_warn("rejected envelope: %s (%zu bytes)", envelope_strerror(rc), len);
        return;
    }
    switch (env.type) {
    case ENV_REGISTER:
        on_register(&env.u.register_);
        break;
    case ENV_UNREGISTER:
        on_unregister(&env.u.unregister);
        break;
    case ENV_LOOKUP:
        on_lookup(&env.u.lookup);
        break;
    default:
        metrics_count("envelopes_rejected_total", "envelopes that could not be decoded", "reason",
                      "unexpected type");
        log_warn("unexpected envelope %s", envelope_type_name(env.type));
    }
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)arg;
    for (int i = 0; i < 4096; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (channel_recv(sock, &msg) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        dispatch(zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
    flush();
    return 0;
}

static void refresh_lease(void)
{
    if (redis_ensure() < 0)
        return;
    char key[128], info[160];
    registry_key_lease(R.cfg.pod_id, key, sizeof(key));
    snprintf(info, sizeof(info), "{\"registrations\":%zu,\"refreshed_us\":%" PRIu64 "}",
             zhashx_size(R.regs), now_us());
    redisReply *r =
        redisCommand(R.redis, "SET %s %s PX %lld", key, info, (long long)R.cfg.lease_ttl_ms);
    if (!r)
        redis_drop(R.redis->errstr);
    freeReplyObject(r);
}

static int on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    admin_http_heartbeat(R.admin);
    refresh_lease();
    flush(); /* retries whatever waited for Redis */
    return 0;
}

static void reg_free(void **item)
{
    free(*item);
    *item = NULL;
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
    int rc = config_load_args(REGISTRY_CONFIG, REGISTRY_CONFIG_COUNT, &R.cfg, "redis-registry",
                              argc, argv, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "redis-registry: %s\n", err);
        config_free(REGISTRY_CONFIG, REGISTRY_CONFIG_COUNT, &R.cfg);
        return rc < 0 ? 2 : 0;
    }
    if (!R.cfg.pod_id[0]) {
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        free(R.cfg.pod_id);
        R.cfg.pod_id = strdup(host);
    }
    log_init("redis-registry", R.cfg.pod_id);
    log_set_level_name(R.cfg.log_level);
    registry_parse_redis_url(R.cfg.redis_url, &R.url, err, sizeof(err));
    /* CZMQ's handler turns SIGINT/SIGTERM into zsys_interrupted: zloop returns and the
     * shutdown below runs (flush, release, close) */
    zsys_catch_interrupts();

    R.admin = admin_http_start(R.cfg.admin_bind, (int)R.cfg.admin_port);
    if (!R.admin)
        return 1;
    R.m_claims = metrics_counter("registry_claims_total", "connection claims written", NULL);
    R.m_releases =
        metrics_counter("registry_releases_total", "mappings released (epoch matched)", NULL);
    R.m_lookups = metrics_counter("registry_lookups_total", "owner lookups answered", NULL);
    R.m_reconnects = metrics_counter("registry_redis_connects_total", "connections to Redis", NULL);
    R.m_errors = metrics_counter("registry_redis_errors_total", "failed Redis commands", NULL);
    R.m_up = metrics_gauge("registry_redis_up", "1 while Redis is reachable", NULL);
    R.m_regs = metrics_gauge("registry_registrations", "live registrations of this pod", NULL);
    R.m_rtt = metrics_histogram("registry_redis_batch_seconds", "round trip of one pipelined batch",
                                NULL, METRICS_LATENCY_SECONDS, METRICS_LATENCY_SECONDS_N);

    char *ep = channel_ipc_endpoint(R.cfg.ipc_dir, "registry");
    R.pull = ep ? channel_pull_bind(ep, (int)R.cfg.zmq_hwm) : NULL;
    free(ep);
    ep = channel_ipc_endpoint(R.cfg.ipc_dir, "bridge");
    R.bridge = ep ? channel_push_connect(ep, (int)R.cfg.zmq_hwm) : NULL;
    free(ep);
    if (!R.pull || !R.bridge)
        return 1;
    R.cores = calloc((size_t)R.cfg.core_count, sizeof(*R.cores));
    for (int64_t i = 0; i < R.cfg.core_count; i++) {
        char name[32];
        snprintf(name, sizeof(name), "core-%" PRId64, i);
        ep = channel_ipc_endpoint(R.cfg.ipc_dir, name);
        R.cores[i] = ep ? channel_push_connect(ep, (int)R.cfg.zmq_hwm) : NULL;
        free(ep);
        if (!R.cores[i])
            return 1;
    }
    R.regs = zhashx_new();
    zhashx_set_destructor(R.regs, reg_free);
    R.claims = zlistx_new(); /* own copies: a registration may go while its claim waits */
    zlistx_set_duplicator(R.claims, string_dup);
    zlistx_set_destructor(R.claims, item_free);
    R.releases = zlistx_new();
    zlistx_set_destructor(R.releases, item_free);
    R.lookups = zlistx_new();
    zlistx_set_destructor(R.lookups, item_free);
    msgpack_sbuffer_init(&R.scratch);
    R.backoff_ms = 100;
    redis_ensure();
    refresh_lease();

    zloop_t *loop = zloop_new();
    zloop_reader(loop, R.pull, on_input, NULL);
    zloop_timer(loop, (size_t)R.cfg.lease_refresh_ms, 0, on_tick, NULL);
    admin_http_set_ready(R.admin, true, NULL);
    log_info("registry for pod %s, redis %s:%d", R.cfg.pod_id, R.url.host, R.url.port);
    zloop_start(loop);

    log_info("stopping: flushing and releasing the lease");
    admin_http_set_ready(R.admin, false, "stopping");
    flush();
    if (R.redis) {
        char key[128];
        registry_key_lease(R.cfg.pod_id, key, sizeof(key));
        freeReplyObject(redisCommand(R.redis, "DEL %s", key));
        redisFree(R.redis);
    }
    zloop_destroy(&loop);
    zlistx_destroy(&R.claims);
    zlistx_destroy(&R.releases);
    zlistx_destroy(&R.lookups);
    zhashx_destroy(&R.regs);
    for (int64_t i = 0; i < R.cfg.core_count; i++)
        zsock_destroy(&R.cores[i]);
    free(R.cores);
    zsock_destroy(&R.pull);
    zsock_destroy(&R.bridge);
    msgpack_sbuffer_destroy(&R.scratch);
    admin_http_stop(&R.admin);
    metrics_shutdown();
    config_free(REGISTRY_CONFIG, REGISTRY_CONFIG_COUNT, &R.cfg);
    return 0;
}
