/* registry_table: registrations and the work waiting for Redis. See registry_table.h. */
#include "registry_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "channel.h"
#include "identity.h"
#include "log.h"
#include "registry_keys.h"
#include "registry_logic.h"
#include "registry_metrics.h"

/* REGISTRY_BUSY is repeated this often while busy, in case a core missed it. */
#define BUSY_REPEAT_US 5000000u
/* A de-dup check's command id or an id token: at most this many bytes (kafka-bridge sends command
 * ids of at most COMMAND_ID_MAX, common/identity.h; id tokens are shorter). */
#define QUESTION_KEY_MAX 127
/* The longest key a work item carries: a TXID_CLAIM's natural key. */
#define WORK_KEY_MAX 191
/* Ids one TXID_BLOCK gets at most (a bigger request gets this many). */
#define TXID_BLOCK_MAX 10000u
/* How long a TXID_CLAIM's key may be remembered at most (30 days). */
#define TXID_TTL_MAX_MS 2592000000u
/* Identities of this pod's set read per reconciliation step (SSCAN COUNT). */
#define RECONCILE_PAGE "1000"

typedef struct {
    char identity[IDENTITY_MAX + 1];
    uint32_t core;
    uint64_t conn_id;
    char edge[64];
    char version[12]; /* "1.6", "2.0.1", "2.1" (a subprotocol name fits too) */
    char boot[12];    /* "accepted", "pending", "rejected", "" */
    uint64_t since_us;
    uint64_t epoch;         /* 0 until the first claim answered: then re-assertions are CAS on it */
    uint64_t registered_us; /* when its last REGISTER came (confirms it after a core restart) */
    bool authenticated;     /* REGISTER.authenticated: stored with the mapping */
    bool queued;            /* a claim or re-assertion for it waits in claims */
    bool answer;            /* core asked (REGISTER): answer REGISTERED even if nothing changed */
} reg_t;

/* What a command of the batch was, so that its reply is read for what it answers. */
typedef enum {
    WORK_CLAIM,    /* fresh claim of a new connection */
    WORK_REASSERT, /* compare-and-set of the epoch a connection holds */
    WORK_RELEASE,
    WORK_LOOKUP,
    WORK_DEDUP,
    WORK_TAG,        /* TAG_LOOKUP: HGETALL idtag:<token> */
    WORK_TXID_BLOCK, /* TXID_BLOCK: the block script on the counter */
    WORK_TXID_CLAIM, /* TXID_CLAIM: the claim script on txid:<key> */
    WORK_RECON_SCAN, /* reconciliation: SSCAN of this pod's set */
    WORK_RECON_READ  /* reconciliation: owner and epoch of one identity the table does not hold */
} work_kind_t;

/* Why a mapping is released: only the registry's own releases say device.disconnected (for a
 * connection that went normally, ocpp-core said it already). */
typedef enum {
    RELEASE_UNREGISTER,   /* UNREGISTER, or a claim answered for a connection that went */
    RELEASE_CORE_RESTART, /* a restarted core did not confirm the registration */
    RELEASE_RECONCILE     /* a mapping of this pod that no registration holds */
} release_why_t;

/* One unit of Redis work: queued (releases, lookups, de-dup checks) and, once in a batch, its
 * continuation. Claims are queued by identity (one per registration) and get a work_t when
 * they enter a batch, carrying the connection and epoch they were sent for. */
typedef struct {
    work_kind_t kind;
    char key[WORK_KEY_MAX + 1]; /* identity, command id, id token, or a TXID_CLAIM's key */
    uint64_t conn_id;           /* claim, re-assertion */
    uint64_t epoch;             /* re-assertion: held; release: to release; TXID_CLAIM: candidate */
    uint64_t request_id;        /* lookup, de-dup, id-token lookup, TXID_BLOCK, TXID_CLAIM */
    uint64_t ttl_ms;            /* de-dup, TXID_CLAIM; TXID_BLOCK: ids wanted */
    uint32_t core;              /* id-token lookup, TXID_BLOCK, TXID_CLAIM: who asked */
    char edge[64];              /* release by connection: its edge (with conn_id) */
    release_why_t why;          /* release */
    bool sent;                  /* de-dup sent once: in doubt, retried with the same value */
} work_t;

/* The connections a newer REGISTER replaced (the last REPLACED_MAX of an identity): the
 * UNREGISTER of one may come without its epoch (its core ignored the REGISTERED of a connection it
 * was closing, or the claim's answer was lost), and the newer claim may be refused
 * (unauthenticated) and leave its mapping in place. That UNREGISTER then releases by the epoch we
 * gave it, or by connection. Kept until that UNREGISTER, a newer claim of the identity answered,
 * or reconcile_grace_ms (the reconciliation leaves the identity alone until then). */
#define REPLACED_MAX 4
typedef struct {
    uint64_t conn_id;
    uint64_t epoch;
    uint64_t since_us;
    char edge[64];
} replaced_t;

typedef struct {
    size_t n;
    replaced_t e[REPLACED_MAX]; /* oldest first */
} replaced_set_t;

/* A restarted core: what it does not confirm by the deadline goes. */
typedef struct {
    uint64_t instance;    /* last heard, 0: none yet */
    uint64_t deadline_us; /* 0: nothing pending */
    uint64_t boundary;    /* registrations whose last REGISTER came before this are unconfirmed */
} core_t;

/* The reconciliation of this pod's set in Redis with the table, one step per batch. */
typedef struct {
    bool running;
    uint64_t next_us; /* when the next one starts; 0: not scheduled yet (first tick) */
    bool scan_due;    /* the next SSCAN goes with the next batch */
    char cursor[24];
    zlistx_t *reads; /* identities read by the scan, to check */
    size_t released; /* in this run */
} recon_t;

struct registry_table {
    registry_table_config_t cfg;
    char pod_id[64];
    char *topic;
    registry_table_ops_t ops;
    void *ops_arg;
    zhashx_t *regs;      /* identity -> reg_t*: this pod's live registrations */
    zhashx_t *releasing; /* identity -> number of its releases queued or in flight */
    zhashx_t *replaced;  /* identity -> replaced_set_t* */
    zlistx_t *claims;    /* identities whose claim or re-assertion must be sent */
    zlistx_t *releases;  /* work_t* */
    zlistx_t *lookups;   /* work_t* */
    zlistx_t *dedups;    /* work_t* */
    zlistx_t *tags;      /* work_t* */
    zlistx_t *txids;     /* work_t*: TXID_BLOCK and TXID_CLAIM */
    core_t *cores;       /* core_count of them */
    recon_t recon;
    registry_batch_t *batch;
    work_t **inflight; /* continuation of each command of batch, in order */
    size_t ninflight;
    uint64_t sent_us;
    bool busy;
    uint64_t busy_told_us;
    metrics_counter_t *m_claims, *m_reasserts, *m_releases, *m_errors, *m_dedup_first, *m_dedup_dup;
    metrics_counter_t *m_recon_runs;
    metrics_gauge_t *m_regs, *m_queue, *m_busy, *m_txid_counter;
    metrics_counter_t *m_txid_ids;
    metrics_histogram_t *m_rtt;
};

static const metrics_def_t *M(registry_metric_t m)
{
    return &REGISTRY_METRICS[m];
}

registry_table_t *registry_table_new(const registry_table_config_t *cfg,
                                     const registry_table_ops_t *ops, void *ops_arg)
{
    registry_table_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = *cfg;
    snprintf(self->pod_id, sizeof(self->pod_id), "%s", cfg->pod_id);
    self->cfg.pod_id = self->pod_id;
    self->topic = strdup(cfg->events_topic ? cfg->events_topic : "");
    self->cfg.events_topic = self->topic;
    if (self->cfg.batch_max == 0)
        self->cfg.batch_max = 1;
    if (self->cfg.epoch_ttl_ms <= 0)
        self->cfg.epoch_ttl_ms = REGISTRY_EPOCH_TTL_DEFAULT_MS;
    self->ops = *ops;
    self->ops_arg = ops_arg;
    self->regs = zhashx_new();
    self->releasing = zhashx_new();
    self->replaced = zhashx_new();
    self->claims = zlistx_new();
    self->releases = zlistx_new();
    self->lookups = zlistx_new();
    self->dedups = zlistx_new();
    self->tags = zlistx_new();
    self->txids = zlistx_new();
    self->recon.reads = zlistx_new();
    self->cores = calloc(cfg->core_count ? cfg->core_count : 1, sizeof(*self->cores));
    self->batch = registry_batch_new();
    if (!self->topic || !self->regs || !self->releasing || !self->replaced || !self->claims ||
        !self->releases || !self->lookups || !self->dedups || !self->tags || !self->txids ||
        !self->recon.reads || !self->cores || !self->batch) {
        registry_table_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->regs, registry_item_free);
    /* keyed by the reg_t's own identity, not a copy (issue 15: bytes per idle connection); every
     * entry is removed with its reg_t, never renamed or updated in place */
    zhashx_set_key_duplicator(self->regs, NULL);
    zhashx_set_key_destructor(self->regs, NULL);
    zhashx_set_destructor(self->replaced, registry_item_free);
    zlistx_set_duplicator(self->recon.reads, registry_item_strdup);
    zlistx_set_destructor(self->recon.reads, registry_item_free);
    zlistx_set_destructor(self->tags, registry_item_free);
    zlistx_set_destructor(self->txids, registry_item_free);
    /* own copies: a registration may go while its claim waits */
    zlistx_set_duplicator(self->claims, registry_item_strdup);
    zlistx_set_destructor(self->claims, registry_item_free);
    zlistx_set_destructor(self->releases, registry_item_free);
    zlistx_set_destructor(self->lookups, registry_item_free);
    zlistx_set_destructor(self->dedups, registry_item_free);
    self->m_claims = metrics_def_counter(M(REGISTRY_M_CLAIMS), NULL);
    self->m_reasserts = metrics_def_counter(M(REGISTRY_M_REASSERTS), NULL);
    self->m_releases = metrics_def_counter(M(REGISTRY_M_RELEASES), NULL);
    self->m_errors = metrics_def_counter(M(REGISTRY_M_REDIS_ERRORS), NULL);
    self->m_dedup_first = metrics_def_counter(M(REGISTRY_M_DEDUP), "first=\"true\"");
    self->m_dedup_dup = metrics_def_counter(M(REGISTRY_M_DEDUP), "first=\"false\"");
    self->m_regs = metrics_def_gauge(M(REGISTRY_M_REGISTRATIONS), NULL);
    self->m_queue = metrics_def_gauge(M(REGISTRY_M_QUEUE_DEPTH), NULL);
    self->m_busy = metrics_def_gauge(M(REGISTRY_M_BUSY), NULL);
    self->m_rtt = metrics_def_histogram(M(REGISTRY_M_BATCH_SECONDS), NULL);
    self->m_recon_runs = metrics_def_counter(M(REGISTRY_M_RECONCILIATIONS), NULL);
    self->m_txid_ids = metrics_def_counter(M(REGISTRY_M_TXID_IDS), NULL);
    self->m_txid_counter = metrics_def_gauge(M(REGISTRY_M_TXID_LAST), NULL);
    return self;
}

void registry_table_destroy(registry_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_table_t *self = *self_p;
    for (size_t i = 0; i < self->ninflight; i++)
        free(self->inflight[i]);
    free(self->inflight);
    registry_batch_destroy(&self->batch);
    zlistx_destroy(&self->claims);
    zlistx_destroy(&self->releases);
    zlistx_destroy(&self->lookups);
    zlistx_destroy(&self->dedups);
    zlistx_destroy(&self->tags);
    zlistx_destroy(&self->txids);
    zlistx_destroy(&self->recon.reads);
    zhashx_destroy(&self->regs);
    zhashx_destroy(&self->releasing);
    zhashx_destroy(&self->replaced);
    free(self->cores);
    free(self->topic);
    free(self);
    *self_p = NULL;
}

size_t registry_table_depth(const registry_table_t *self)
{
    return zlistx_size(self->claims) + zlistx_size(self->releases) + zlistx_size(self->lookups) +
           zlistx_size(self->dedups) + zlistx_size(self->tags) + zlistx_size(self->txids) +
           self->ninflight;
}

bool registry_table_holds(const registry_table_t *self, const char *identity, uint64_t *epoch)
{
    const reg_t *g = zhashx_lookup(self->regs, identity);
    if (g && epoch)
        *epoch = g->epoch;
    return g != NULL;
}

bool registry_table_reconciling(const registry_table_t *self)
{
    return self->recon.running;
}

size_t registry_table_size(const registry_table_t *self)
{
    return zhashx_size(self->regs);
}

static void regs_changed(registry_table_t *self)
{
    metrics_gauge_set(self->m_regs, (int64_t)zhashx_size(self->regs));
}

/* ---- effects ---------------------------------------------------------------------------- */

static void send_registered(registry_table_t *self, reg_t *g, const char *prev, const char *boot)
{
    g->answer = false;
    envelope_t env = {.type = ENV_REGISTERED};
    env.u.registered.identity = env_str(g->identity);
    env.u.registered.conn_id = g->conn_id;
    env.u.registered.epoch = g->epoch;
    env.u.registered.status = 0;
    env.u.registered.previous_pod = env_str(prev);
    env.u.registered.boot_state = env_str(boot);
    self->ops.to_core(self->ops_arg, g->core, &env);
}

/* Tells the connection's core that a newer claim exists and forgets the registration: it is no
 * longer ours, never re-asserted again. */
static void send_superseded(registry_table_t *self, reg_t *g, uint64_t epoch, const char *by_pod,
                            const char *via)
{
    log_write(LOG_INFO, g->identity, NULL,
              "superseded by pod %s (epoch %" PRIu64 " > %" PRIu64
              ", via %s): closing conn %" PRIu64,
              by_pod, epoch, g->epoch, via, g->conn_id);
    metrics_def_count(M(REGISTRY_M_SUPERSEDED), via);
    envelope_t env = {.type = ENV_SUPERSEDED};
    env.u.superseded.identity = env_str(g->identity);
    env.u.superseded.conn_id = g->conn_id;
    env.u.superseded.epoch = epoch;
    env.u.superseded.by_pod = env_str(by_pod);
    self->ops.to_core(self->ops_arg, g->core, &env);
    zhashx_delete(self->regs, g->identity);
    regs_changed(self);
}

static void answer_lookup(registry_table_t *self, const work_t *w, const registry_reply_t *r,
                          int status)
{
    envelope_t env = {.type = ENV_OWNER};
    env.u.owner.request_id = w->request_id;
    env.u.owner.identity = env_str(w->key);
    env.u.owner.pod = env_str(status == 0 ? registry_reply_elem_str(r, 0) : "");
    env.u.owner.epoch = status == 0 ? (uint64_t)registry_reply_elem_int(r, 1) : 0;
    env.u.owner.live = status == 0 && registry_reply_elem_int(r, 2) == 1;
    env.u.owner.status = status;
    self->ops.to_bridge(self->ops_arg, &env);
    metrics_def_count(M(REGISTRY_M_LOOKUPS), status == 0        ? "ok"
                                             : status == -EBUSY ? "busy"
                                                                : "unavailable");
}

static void answer_dedup(registry_table_t *self, const work_t *w, bool first, int status)
{
    envelope_t env = {.type = ENV_DEDUP_RESULT};
    env.u.dedup_result.request_id = w->request_id;
    env.u.dedup_result.command_id = env_str(w->key);
    env.u.dedup_result.first = first;
    env.u.dedup_result.status = status;
    self->ops.to_bridge(self->ops_arg, &env);
    if (status == 0)
        metrics_counter_add(first ? self->m_dedup_first : self->m_dedup_dup, 1);
    else
        metrics_def_count(M(REGISTRY_M_DEDUP_UNANSWERED),
                          status == -EBUSY ? "busy" : "unavailable");
}

/* TAG_INFO from an HGETALL of idtag:<token> (pairs of field and value), or an error status. */
static void answer_tag(registry_table_t *self, const work_t *w, const registry_reply_t *r,
                       int status)
{
    envelope_t env = {.type = ENV_TAG_INFO};
    env.u.tag_info.request_id = w->request_id;
    env.u.tag_info.id_tag = env_str(w->key);
    env.u.tag_info.error = status;
    env.u.tag_info.status = env_str("");
    if (status == 0) {
        env.u.tag_info.found = r->elements > 0;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const char *field = registry_reply_elem_str(r, i);
            if (strcmp(field, "status") == 0)
                env.u.tag_info.status = env_str(registry_reply_elem_str(r, i + 1));
            else if (strcmp(field, "expires_at_ms") == 0)
                env.u.tag_info.expires_at_ms = (uint64_t)registry_reply_elem_int(r, i + 1);
        }
    }
    self->ops.to_core(self->ops_arg, w->core, &env);
    metrics_def_count(M(REGISTRY_M_TAG_LOOKUPS), status == 0         ? "ok"
                                                 : status == -EBUSY  ? "busy"
                                                 : status == -EAGAIN ? "unavailable"
                                                                     : "error");
}

/* TXID_RANGE from the block script's {first, count, counter}, or an error status. A counter
 * at its limit is an outage of 1.6 transactions: logged as an error every time, and counted. */
static void answer_txid_range(registry_table_t *self, const work_t *w, const registry_reply_t *r,
                              int status)
{
    envelope_t env = {.type = ENV_TXID_RANGE};
    env.u.txid_range.request_id = w->request_id;
    if (status == 0) {
        long long first = registry_reply_elem_int(r, 0), count = registry_reply_elem_int(r, 1);
        long long counter = registry_reply_elem_int(r, 2);
        metrics_gauge_set(self->m_txid_counter, counter);
        if (count <= 0 || first <= 0 || count > (long long)TXID_BLOCK_MAX ||
            first + count - 1 > REGISTRY_TXID_LIMIT) {
            status = count == 0 && first == 0 ? -ENOSPC : -EIO;
            if (status == -ENOSPC)
                log_error("transaction id counter %s is at %lld (limit %lld): no 1.6 "
                          "transaction id left, TXID_BLOCK of core %u refused",
                          REGISTRY_TXID_KEY, counter, REGISTRY_TXID_LIMIT, w->core);
            else
                metrics_def_count(M(REGISTRY_M_BAD_REPLIES), "txid block");
        } else {
            env.u.txid_range.first = (uint64_t)first;
            env.u.txid_range.count = (uint32_t)count;
            metrics_counter_add(self->m_txid_ids, (uint64_t)count);
        }
    }
    env.u.txid_range.error = status;
    self->ops.to_core(self->ops_arg, w->core, &env);
    metrics_def_count(M(REGISTRY_M_TXID_BLOCKS), status == 0         ? "ok"
                                                 : status == -EBUSY  ? "busy"
                                                 : status == -EAGAIN ? "unavailable"
                                                 : status == -EINVAL ? "invalid"
                                                 : status == -ENOSPC ? "exhausted"
                                                                     : "error");
}

/* TXID_CLAIMED from the claim script's {id, first}, or an error status. */
static void answer_txid_claimed(registry_table_t *self, const work_t *w, const registry_reply_t *r,
                                int status)
{
    envelope_t env = {.type = ENV_TXID_CLAIMED};
    env.u.txid_claimed.request_id = w->request_id;
    if (status == 0) {
        long long id = registry_reply_elem_int(r, 0);
        if (id <= 0 || id > REGISTRY_TXID_LIMIT) {
            log_warn("txid:%s holds no transaction id: TXID_CLAIM of core %u failed", w->key,
                     w->core);
            metrics_def_count(M(REGISTRY_M_BAD_REPLIES), "txid claim");
            status = -EIO;
        } else {
            env.u.txid_claimed.id = (uint64_t)id;
            env.u.txid_claimed.first = registry_reply_elem_int(r, 1) == 1;
        }
    }
    env.u.txid_claimed.error = status;
    self->ops.to_core(self->ops_arg, w->core, &env);
    metrics_def_count(M(REGISTRY_M_TXID_CLAIMS),
                      status == 0         ? (env.u.txid_claimed.first ? "first" : "found")
                      : status == -EBUSY  ? "busy"
                      : status == -EAGAIN ? "unavailable"
                      : status == -EINVAL ? "invalid"
                                          : "error");
}

static void answer_txid(registry_table_t *self, const work_t *w, const registry_reply_t *r,
                        int status)
{
    if (w->kind == WORK_TXID_BLOCK)
        answer_txid_range(self, w, r, status);
    else
        answer_txid_claimed(self, w, r, status);
}

/* The value a de-dup check writes: finding it again means our own earlier attempt ran. */
static void dedup_value(const registry_table_t *self, const work_t *w, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%" PRIu64, self->pod_id, w->request_id);
}

/* ---- queues ----------------------------------------------------------------------------- */

static void queue_claim(registry_table_t *self, reg_t *g)
{
    if (!g->queued) {
        g->queued = true;
        zlistx_add_end(self->claims, g->identity);
    }
}

static work_t *work_new(work_kind_t kind, const char *key)
{
    work_t *w = calloc(1, sizeof(*w));
    if (w) {
        w->kind = kind;
        snprintf(w->key, sizeof(w->key), "%s", key);
    }
    return w;
}

static size_t releasing(const registry_table_t *self, const char *identity)
{
    return (size_t)(uintptr_t)zhashx_lookup(self->releasing, identity);
}

static void releasing_add(registry_table_t *self, const char *identity, int delta)
{
    size_t n = releasing(self, identity) + (size_t)delta;
    if (n)
        zhashx_update(self->releasing, identity, (void *)(uintptr_t)n);
    else
        zhashx_delete(self->releasing, identity);
}

/* A release waits for the next batch; the identity counts as releasing until it is answered, so
 * that the reconciliation leaves it alone (one device.disconnected at most). */
static work_t *queue_release(registry_table_t *self, const char *identity, uint64_t epoch,
                             release_why_t why)
{
    work_t *w = work_new(WORK_RELEASE, identity);
    if (!w)
        return NULL;
    w->epoch = epoch;
    w->why = why;
    zlistx_add_end(self->releases, w);
    releasing_add(self, identity, 1);
    return w;
}

/* The reconciliation is abandoned (Redis gone, a step failed): the next tick starts it again. */
static void recon_abandon(registry_table_t *self, uint64_t now_us)
{
    if (!self->recon.running)
        return;
    self->recon.running = false;
    self->recon.scan_due = false;
    zlistx_purge(self->recon.reads);
    self->recon.next_us = now_us;
}

void registry_table_requeue_all(registry_table_t *self, const char *why)
{
    if (zhashx_size(self->regs))
        log_info("re-asserting %zu registrations: %s", zhashx_size(self->regs), why);
    for (reg_t *g = zhashx_first(self->regs); g; g = zhashx_next(self->regs))
        queue_claim(self, g);
}

void registry_table_on_redis_up(registry_table_t *self)
{
    registry_table_requeue_all(self, "connected to redis (it may have lost its data)");
}

void registry_table_on_redis_unavailable(registry_table_t *self)
{
    work_t *w;
    while ((w = zlistx_detach(self->lookups, NULL))) {
        answer_lookup(self, w, NULL, -EAGAIN);
        free(w);
    }
    while ((w = zlistx_detach(self->tags, NULL))) {
        answer_tag(self, w, NULL, -EAGAIN);
        free(w);
    }
    /* a block or claim that may have run is asked again by its core: a block lost that way is
     * a gap in the ids, and a claim finds its own candidate (first) */
    while ((w = zlistx_detach(self->txids, NULL))) {
        answer_txid(self, w, NULL, -EAGAIN);
        free(w);
    }
    recon_abandon(self, self->recon.next_us);
    /* a check that may already have run stays queued: answering it later with the same value
     * keeps "first" exactly once */
    w = zlistx_first(self->dedups);
    while (w) {
        void *handle = zlistx_cursor(self->dedups);
        work_t *next = zlistx_next(self->dedups);
        if (!w->sent) {
            answer_dedup(self, w, false, -EAGAIN);
            zlistx_delete(self->dedups, handle);
        }
        w = next;
    }
}

/* ---- envelopes -------------------------------------------------------------------------- */

static void on_register(registry_table_t *self, const env_register_t *m, uint64_t now_us)
{
    char identity[IDENTITY_MAX + 1];
    env_str_copy(m->identity, identity, sizeof(identity));
    if (m->core_id >= self->cfg.core_count || !identity[0]) {
        log_warn("REGISTER from core %u for '%s' dropped", m->core_id, identity);
        channel_reject("bad register", "core", NULL);
        return;
    }
    reg_t *g = zhashx_lookup(self->regs, identity);
    if (!g) {
        g = calloc(1, sizeof(*g));
        if (!g)
            return;
        memcpy(g->identity, identity, sizeof(identity));
        zhashx_insert(self->regs, g->identity, g);
    }
    /* a new connection takes a fresh epoch, or re-asserts the one its core says it holds (this
     * registry restarted); the same connection re-asserts its own (boot) */
    if (g->conn_id != m->conn_id && g->conn_id) { /* its claim may have run: epoch or not */
        replaced_set_t *set = zhashx_lookup(self->replaced, identity);
        if (!set && (set = calloc(1, sizeof(*set))))
            zhashx_insert(self->replaced, identity, set);
        if (set) {
            if (set->n == REPLACED_MAX) /* the oldest is forgotten: reconciled if left */
                memmove(set->e, set->e + 1, --set->n * sizeof(set->e[0]));
            replaced_t *p = &set->e[set->n++];
            *p = (replaced_t){.conn_id = g->conn_id, .epoch = g->epoch, .since_us = now_us};
            memcpy(p->edge, g->edge, sizeof(p->edge));
        }
    }
    if (g->conn_id != m->conn_id || !g->epoch)
        g->epoch = m->epoch;
    g->core = m->core_id;
    g->authenticated = m->authenticated;
    g->registered_us = now_us;
    g->conn_id = m->conn_id;
    env_str_copy(m->edge_id, g->edge, sizeof(g->edge));
    env_str_copy(m->ocpp_version, g->version, sizeof(g->version));
    env_str_copy(m->boot_state, g->boot, sizeof(g->boot));
    g->since_us = m->since_us;
    g->answer = true;
    queue_claim(self, g);
    regs_changed(self);
}

/* Releases the epoch the going connection held: the last one we gave it when we still hold it
 * or it was just replaced by a newer connection (the core may not have heard that epoch: a
 * mapping lost and claimed again, a REGISTERED the core ignored), else the one its core names. A
 * newer connection of the same identity keeps its registration and its mapping. */
static void on_unregister(registry_table_t *self, const env_unregister_t *m)
{
    char identity[IDENTITY_MAX + 1];
    env_str_copy(m->identity, identity, sizeof(identity));
    reg_t *g = zhashx_lookup(self->regs, identity);
    uint64_t epoch = m->epoch;
    const char *edge = NULL; /* known: the release also matches the mapping by connection */
    replaced_set_t *set = zhashx_lookup(self->replaced, identity);
    size_t k = 0;
    while (set && k < set->n && set->e[k].conn_id != m->conn_id)
        k++;
    if (g && g->conn_id == m->conn_id) {
        if (g->epoch)
            epoch = g->epoch;
        edge = g->edge;
    } else if (set && k < set->n) {
        epoch = set->e[k].epoch; /* a connection a newer one replaced here */
        edge = set->e[k].edge;
    }
    /* by connection too: a claim or re-assertion whose answer was lost may have mapped it under
     * an epoch the table never learnt */
    if (epoch || edge) {
        work_t *w = queue_release(self, identity, epoch, RELEASE_UNREGISTER);
        if (w && edge) {
            w->conn_id = m->conn_id;
            snprintf(w->edge, sizeof(w->edge), "%s", edge);
        }
    }
    if (set && k < set->n) {
        memmove(set->e + k, set->e + k + 1, (set->n - k - 1) * sizeof(set->e[0]));
        if (--set->n == 0)
            zhashx_delete(self->replaced, identity);
    }
    if (g && g->conn_id == m->conn_id)
        zhashx_delete(self->regs, identity);
    regs_changed(self);
}

/* A lookup or de-dup check waits in its queue, unless the queue is at queue_limit: then it is
 * refused at once (-EBUSY; the bridge asks again later). */
static void queue_question(registry_table_t *self, zlistx_t *queue, work_t *w)
{
    if (registry_table_depth(self) < self->cfg.queue_limit) {
        zlistx_add_end(queue, w);
        return;
    }
    if (w->kind == WORK_LOOKUP)
        answer_lookup(self, w, NULL, -EBUSY);
    else if (w->kind == WORK_TAG)
        answer_tag(self, w, NULL, -EBUSY);
    else if (w->kind == WORK_TXID_BLOCK || w->kind == WORK_TXID_CLAIM)
        answer_txid(self, w, NULL, -EBUSY);
    else
        answer_dedup(self, w, false, -EBUSY);
    free(w);
}

static void on_lookup(registry_table_t *self, const env_lookup_t *m)
{
    work_t *w = work_new(WORK_LOOKUP, "");
    if (!w)
        return;
    w->request_id = m->request_id;
    env_str_copy(m->identity, w->key, IDENTITY_MAX + 1);
    queue_question(self, self->lookups, w);
}

static void on_dedup(registry_table_t *self, const env_dedup_t *m)
{
    work_t *w = work_new(WORK_DEDUP, "");
    if (!w)
        return;
    w->request_id = m->request_id;
    w->ttl_ms = m->ttl_ms;
    if (m->command_id.len == 0 || m->command_id.len > QUESTION_KEY_MAX) {
        channel_reject("bad command id", "kafka-bridge", NULL);
        answer_dedup(self, w, false, -EINVAL);
        free(w);
        return;
    }
    env_str_copy(m->command_id, w->key, sizeof(w->key));
    queue_question(self, self->dedups, w);
}

/* A core's question: NULL when its core is out of range (nobody to answer: logged, counted,
 * dropped) or memory ran out. */
static work_t *core_question(registry_table_t *self, work_kind_t kind, uint32_t core,
                             uint64_t request_id, const char *what, const char *reason)
{
    if (core >= self->cfg.core_count) {
        log_warn("%s from core %u dropped", what, core);
        channel_reject(reason, "core", NULL);
        return NULL;
    }
    work_t *w = work_new(kind, "");
    if (w) {
        w->request_id = request_id;
        w->core = core;
    }
    return w;
}

/* A core's question that cannot be asked: answered at once (-EINVAL). */
static void refuse_question(registry_table_t *self, work_t *w, const char *reason)
{
    channel_reject(reason, "core", NULL);
    if (w->kind == WORK_TAG)
        answer_tag(self, w, NULL, -EINVAL);
    else
        answer_txid(self, w, NULL, -EINVAL);
    free(w);
}

/* TAG_LOOKUP: a token that cannot be a key (empty, oversized) is refused. */
static void on_tag_lookup(registry_table_t *self, const env_tag_lookup_t *m)
{
    work_t *w =
        core_question(self, WORK_TAG, m->core_id, m->request_id, "TAG_LOOKUP", "bad tag lookup");
    if (!w)
        return;
    if (m->id_tag.len == 0 || m->id_tag.len > QUESTION_KEY_MAX ||
        memchr(m->id_tag.ptr, '\0', m->id_tag.len)) {
        refuse_question(self, w, "bad id token");
        return;
    }
    env_str_copy(m->id_tag, w->key, sizeof(w->key));
    queue_question(self, self->tags, w);
}

/* TXID_BLOCK: a count of 0 is refused, a bigger one than TXID_BLOCK_MAX cut to it. */
static void on_txid_block(registry_table_t *self, const env_txid_block_t *m)
{
    work_t *w = core_question(self, WORK_TXID_BLOCK, m->core_id, m->request_id, "TXID_BLOCK",
                              "bad txid block");
    if (!w)
        return;
    w->ttl_ms = m->count > TXID_BLOCK_MAX ? TXID_BLOCK_MAX : m->count;
    if (m->count == 0)
        refuse_question(self, w, "bad txid block");
    else
        queue_question(self, self->txids, w);
}

/* TXID_CLAIM: a key that cannot be one (empty, over WORK_KEY_MAX bytes, a NUL), a candidate
 * outside 1 .. 2^31-1 or a TTL outside 1 ms .. 30 days is refused. */
static void on_txid_claim(registry_table_t *self, const env_txid_claim_t *m)
{
    work_t *w = core_question(self, WORK_TXID_CLAIM, m->core_id, m->request_id, "TXID_CLAIM",
                              "bad txid claim");
    if (!w)
        return;
    w->epoch = m->candidate;
    w->ttl_ms = m->ttl_ms;
    if (m->key.len == 0 || m->key.len > WORK_KEY_MAX || memchr(m->key.ptr, '\0', m->key.len) ||
        m->candidate == 0 || m->candidate > (uint64_t)REGISTRY_TXID_LIMIT || m->ttl_ms == 0 ||
        m->ttl_ms > TXID_TTL_MAX_MS) {
        refuse_question(self, w, "bad txid claim");
        return;
    }
    env_str_copy(m->key, w->key, sizeof(w->key));
    queue_question(self, self->txids, w);
}

int registry_table_on_envelope(registry_table_t *self, const envelope_t *env, uint64_t now_us)
{
    switch (env->type) {
    case ENV_REGISTER:
        on_register(self, &env->u.register_, now_us);
        return 0;
    case ENV_UNREGISTER:
        on_unregister(self, &env->u.unregister);
        return 0;
    case ENV_LOOKUP:
        on_lookup(self, &env->u.lookup);
        return 0;
    case ENV_DEDUP:
        on_dedup(self, &env->u.dedup);
        return 0;
    case ENV_TAG_LOOKUP:
        on_tag_lookup(self, &env->u.tag_lookup);
        return 0;
    case ENV_TXID_BLOCK:
        on_txid_block(self, &env->u.txid_block);
        return 0;
    case ENV_TXID_CLAIM:
        on_txid_claim(self, &env->u.txid_claim);
        return 0;
    default:
        return -ENOTSUP;
    }
}

void registry_table_on_superseded(registry_table_t *self, const char *payload, size_t len)
{
    registry_superseded_t m;
    if (registry_superseded_parse(payload, len, &m) < 0) {
        metrics_def_count(M(REGISTRY_M_BAD_REPLIES), "superseded message");
        log_warn("malformed superseded message (%zu bytes) ignored", len);
        return;
    }
    reg_t *g = zhashx_lookup(self->regs, m.identity);
    /* only a claim newer than the one we hold; a claim still in flight will win anyway */
    if (!g || g->epoch == 0 || g->epoch >= m.epoch)
        return;
    send_superseded(self, g, m.epoch, m.by_pod, "pubsub");
}

/* ---- reconciliation: restarted cores, this pod's mappings -------------------------------- */

void registry_table_on_core_instance(registry_table_t *self, uint32_t core, uint64_t instance,
                                     uint64_t now_us)
{
    if (core >= self->cfg.core_count || instance == 0)
        return;
    core_t *c = &self->cores[core];
    if (instance <= c->instance) /* the same, or an older one's late message */
        return;
    bool restarted = c->instance != 0;
    c->instance = instance;
    if (!restarted)
        return;
    c->boundary = instance;
    c->deadline_us = now_us + (uint64_t)self->cfg.reconcile_grace_ms * 1000u;
    size_t n = 0;
    for (reg_t *g = zhashx_first(self->regs); g; g = zhashx_next(self->regs))
        n += g->core == core && g->registered_us < instance;
    log_info("ocpp-core %u restarted (instance %" PRIu64 "): %zu registrations wait %" PRId64
             " ms to be confirmed",
             core, instance, n, self->cfg.reconcile_grace_ms);
}

/* The registrations of a restarted core that no REGISTER confirmed: their connections did not
 * come back. Each mapping is released (compare-and-set on its epoch) with a device.disconnected;
 * one whose claim was not answered yet is only forgotten (a claim answered later for it is
 * released by claim_orphaned). */
static void release_unconfirmed(registry_table_t *self, uint32_t core)
{
    zlistx_t *gone = zlistx_new();
    if (!gone)
        return;
    for (reg_t *g = zhashx_first(self->regs); g; g = zhashx_next(self->regs))
        if (g->core == core && g->registered_us < self->cores[core].boundary)
            zlistx_add_end(gone, g);
    size_t n = 0;
    for (reg_t *g = zlistx_first(gone); g; g = zlistx_next(gone)) {
        log_write(LOG_INFO, g->identity, NULL,
                  "not confirmed by restarted ocpp-core %u: releasing epoch %" PRIu64, core,
                  g->epoch);
        if (g->epoch)
            queue_release(self, g->identity, g->epoch, RELEASE_CORE_RESTART);
        zhashx_delete(self->regs, g->identity);
        n++;
    }
    zlistx_destroy(&gone);
    if (n)
        log_info("ocpp-core %u: %zu registrations not confirmed, released", core, n);
    regs_changed(self);
}

void registry_table_tick(registry_table_t *self, bool redis_connected, uint64_t now_us)
{
    for (uint32_t i = 0; i < self->cfg.core_count; i++)
        if (self->cores[i].deadline_us && now_us >= self->cores[i].deadline_us) {
            self->cores[i].deadline_us = 0;
            release_unconfirmed(self, i);
        }
    recon_t *r = &self->recon;
    if (!r->next_us) /* the cores re-register with a restarted registry within the grace */
        r->next_us = now_us + (uint64_t)self->cfg.reconcile_grace_ms * 1000u;
    if (r->running || !redis_connected || now_us < r->next_us)
        return;
    r->running = true;
    r->scan_due = true;
    r->released = 0;
    snprintf(r->cursor, sizeof(r->cursor), "0");
    metrics_counter_add(self->m_recon_runs, 1);
}

/* An identity of our set that the reconciliation may release: not registered here, no release
 * of it pending (that one says what happened). */
static bool recon_candidate(const registry_table_t *self, const char *identity, uint64_t now_us)
{
    const replaced_set_t *set = zhashx_lookup(self->replaced, identity);
    if (set && set->n &&
        now_us < set->e[set->n - 1].since_us + (uint64_t)self->cfg.reconcile_grace_ms * 1000u)
        return false; /* an UNREGISTER may still come */
    return !zhashx_lookup(self->regs, identity) && !releasing(self, identity);
}

static void recon_finish_if_done(registry_table_t *self, uint64_t now_us)
{
    recon_t *r = &self->recon;
    if (!r->running || r->scan_due || zlistx_size(r->reads))
        return;
    for (size_t i = 0; i < self->ninflight; i++)
        if (self->inflight[i] && (self->inflight[i]->kind == WORK_RECON_SCAN ||
                                  self->inflight[i]->kind == WORK_RECON_READ))
            return;
    r->running = false;
    r->next_us = now_us + (uint64_t)self->cfg.reconcile_interval_ms * 1000u;
    if (r->released)
        log_info("reconciliation: %zu mappings of this pod without a connection released",
                 r->released);
}

/* ---- the batch -------------------------------------------------------------------------- */

static int append_claim(registry_table_t *self, const reg_t *g)
{
    char kc[80], ke[96], km[96], conn[24], since[24], held[24];
    registry_key_conn(g->identity, kc, sizeof(kc));
    registry_key_epoch(g->identity, ke, sizeof(ke));
    registry_key_meta(g->identity, km, sizeof(km));
    snprintf(conn, sizeof(conn), "%" PRIu64, g->conn_id);
    snprintf(since, sizeof(since), "%" PRIu64, g->since_us);
    const char *auth = g->authenticated ? "1" : "0";
    if (g->epoch == 0) {
        const char *argv[] = {kc,    ke,         km,      self->pod_id, g->edge, conn,
                              since, g->version, g->boot, g->identity,  auth};
        return registry_batch_script(self->batch, REGISTRY_SCRIPT_CLAIM, 3, argv, 11);
    }
    snprintf(held, sizeof(held), "%" PRIu64, g->epoch);
    const char *argv[] = {kc,   ke,    km,         self->pod_id, held,        g->edge,
                          conn, since, g->version, g->boot,      g->identity, auth};
    return registry_batch_script(self->batch, REGISTRY_SCRIPT_REASSERT, 3, argv, 12);
}

static int append_work(registry_table_t *self, const work_t *w)
{
    char k1[WORK_KEY_MAX + 32], k2[96], k3[96], value[96], number[24], ttl[24];
    switch (w->kind) {
    case WORK_RELEASE: {
        registry_key_conn(w->key, k1, sizeof(k1));
        registry_key_epoch(w->key, k2, sizeof(k2));
        registry_key_meta(w->key, k3, sizeof(k3));
        snprintf(number, sizeof(number), "%" PRIu64, w->epoch);
        snprintf(value, sizeof(value), "%" PRIu64, w->conn_id);
        snprintf(ttl, sizeof(ttl), "%" PRId64, self->cfg.epoch_ttl_ms);
        const char *argv[] = {k1, k2, k3, number, self->pod_id, w->key, ttl, value, w->edge};
        return registry_batch_script(self->batch, REGISTRY_SCRIPT_RELEASE, 3, argv,
                                     w->conn_id ? 9 : 7);
    }
    case WORK_LOOKUP: {
        registry_key_conn(w->key, k1, sizeof(k1));
        registry_key_meta(w->key, k2, sizeof(k2));
        const char *argv[] = {k1, k2, "pod:"};
        return registry_batch_script(self->batch, REGISTRY_SCRIPT_LOOKUP, 2, argv, 3);
    }
    case WORK_DEDUP: {
        registry_key_dedup(w->key, k1, sizeof(k1));
        dedup_value(self, w, value, sizeof(value));
        snprintf(number, sizeof(number), "%" PRIu64, w->ttl_ms ? w->ttl_ms : 1);
        const char *argv[] = {"SET", k1, value, "NX", "GET", "PX", number};
        return registry_batch_command(self->batch, argv, 7);
    }
    case WORK_TAG: {
        registry_key_idtag(w->key, k1, sizeof(k1));
        const char *argv[] = {"HGETALL", k1};
        return registry_batch_command(self->batch, argv, 2);
    }
    case WORK_TXID_BLOCK: {
        snprintf(number, sizeof(number), "%" PRIu64, w->ttl_ms);
        snprintf(ttl, sizeof(ttl), "%lld", REGISTRY_TXID_LIMIT);
        const char *argv[] = {REGISTRY_TXID_KEY, number, ttl};
        return registry_batch_script(self->batch, REGISTRY_SCRIPT_TXID_BLOCK, 1, argv, 3);
    }
    case WORK_TXID_CLAIM: {
        if (registry_key_txid(w->key, k1, sizeof(k1)) < 0)
            return -EINVAL;
        snprintf(number, sizeof(number), "%" PRIu64, w->epoch);
        snprintf(ttl, sizeof(ttl), "%" PRIu64, w->ttl_ms);
        const char *argv[] = {k1, number, ttl};
        return registry_batch_script(self->batch, REGISTRY_SCRIPT_TXID_CLAIM, 1, argv, 3);
    }
    case WORK_RECON_SCAN: {
        registry_key_pod_conns(self->pod_id, k1, sizeof(k1));
        const char *argv[] = {"SSCAN", k1, self->recon.cursor, "COUNT", RECONCILE_PAGE};
        return registry_batch_command(self->batch, argv, 5);
    }
    case WORK_RECON_READ: {
        registry_key_conn(w->key, k1, sizeof(k1));
        registry_key_epoch(w->key, k2, sizeof(k2));
        const char *argv[] = {"MGET", k1, k2};
        return registry_batch_command(self->batch, argv, 3);
    }
    default:
        return -EINVAL;
    }
}

/* Moves up to max items from the front of queue into the batch. */
static void take(registry_table_t *self, zlistx_t *queue, size_t max)
{
    work_t *w;
    while (self->ninflight < max && (w = zlistx_first(queue))) {
        if (append_work(self, w) < 0)
            return;
        zlistx_detach(queue, NULL);
        if (w->kind == WORK_DEDUP)
            w->sent = true;
        self->inflight[self->ninflight++] = w;
    }
}

/* The reconciliation's next step: the identities read by the last scan that may be released
 * (each read: owner and epoch), or else the next page of the scan. */
static void recon_take(registry_table_t *self, size_t max, uint64_t now_us)
{
    recon_t *r = &self->recon;
    if (!r->running)
        return;
    char *id;
    while (self->ninflight < max && (id = zlistx_first(r->reads))) {
        if (recon_candidate(self, id, now_us)) {
            work_t *w = work_new(WORK_RECON_READ, id);
            if (!w || append_work(self, w) < 0) {
                free(w);
                return;
            }
            self->inflight[self->ninflight++] = w;
        }
        zlistx_delete(r->reads, NULL);
    }
    if (self->ninflight < max && r->scan_due && !zlistx_size(r->reads)) {
        work_t *w = work_new(WORK_RECON_SCAN, "");
        if (!w || append_work(self, w) < 0) {
            free(w);
            return;
        }
        r->scan_due = false;
        self->inflight[self->ninflight++] = w;
    }
}

size_t registry_table_flush_passes(const registry_table_t *self)
{
    size_t depth = registry_table_depth(self) + zlistx_size(self->recon.reads) +
                   (self->recon.running && self->recon.scan_due);
    return depth ? depth / self->cfg.batch_max + 1 : 0;
}

const registry_batch_t *registry_table_prepare(registry_table_t *self, uint64_t now_us)
{
    if (self->ninflight)
        return NULL; /* one round trip at a time */
    if (!self->inflight) {
        self->inflight = calloc(self->cfg.batch_max, sizeof(*self->inflight));
        if (!self->inflight)
            return NULL;
    }
    registry_batch_clear(self->batch);
    size_t max = self->cfg.batch_max;
    char *id;
    while (self->ninflight < max && (id = zlistx_first(self->claims))) {
        reg_t *g = zhashx_lookup(self->regs, id);
        if (g && g->queued) {
            work_t *w = work_new(g->epoch ? WORK_REASSERT : WORK_CLAIM, g->identity);
            if (!w || append_claim(self, g) < 0) {
                free(w);
                break;
            }
            w->conn_id = g->conn_id;
            w->epoch = g->epoch;
            g->queued = false;
            self->inflight[self->ninflight++] = w;
        }
        zlistx_delete(self->claims, NULL);
    }
    take(self, self->releases, max);
    take(self, self->lookups, max);
    take(self, self->dedups, max);
    take(self, self->tags, max);
    take(self, self->txids, max);
    recon_take(self, max, now_us);
    if (!self->ninflight)
        return NULL;
    self->sent_us = now_us;
    return self->batch;
}

/* ---- the one reply handler -------------------------------------------------------------- */

static void claim_done(registry_table_t *self, reg_t *g, const registry_reply_t *r)
{
    if (strcmp(registry_reply_elem_str(r, 4), "refused") == 0) {
        /* newest wins only among authenticated connections: ours is not, the mapping's is */
        log_write(LOG_WARN, g->identity, NULL,
                  "unauthenticated claim of conn %" PRIu64
                  " refused: an authenticated connection on pod %s holds it",
                  g->conn_id, registry_reply_elem_str(r, 1));
        send_superseded(self, g, (uint64_t)registry_reply_elem_int(r, 0),
                        registry_reply_elem_str(r, 1), "unauthenticated");
        return;
    }
    g->epoch = (uint64_t)registry_reply_elem_int(r, 0);
    zhashx_delete(self->replaced, g->identity); /* its mapping is ours now, newer */
    metrics_counter_add(self->m_claims, 1);
    const char *prev = registry_reply_elem_str(r, 1);
    if (prev[0] && strcmp(prev, self->pod_id) != 0)
        log_write(LOG_INFO, g->identity, NULL, "claimed from pod %s, epoch %" PRIu64, prev,
                  g->epoch);
    send_registered(self, g, prev, registry_reply_elem_str(r, 2));
}

static void reassert_done(registry_table_t *self, reg_t *g, const registry_reply_t *r)
{
    uint64_t epoch = (uint64_t)registry_reply_elem_int(r, 0);
    const char *state = registry_reply_elem_str(r, 1);
    metrics_counter_add(self->m_reasserts, 1);
    if (strcmp(state, "superseded") == 0) {
        send_superseded(self, g, epoch, registry_reply_elem_str(r, 2), "reassert");
        return;
    }
    if (strcmp(state, "claimed") == 0) {
        log_write(LOG_INFO, g->identity, NULL,
                  "mapping was lost (redis restart or swept), claimed again: epoch %" PRIu64
                  " -> %" PRIu64,
                  g->epoch, epoch);
        metrics_counter_add(self->m_claims, 1);
    }
    /* "held" may name a newer epoch we gave this very connection (its core had not heard it) */
    bool changed = epoch && epoch != g->epoch;
    if (epoch)
        g->epoch = epoch;
    if (!changed && !g->answer)
        return; /* verified unchanged: nothing to tell core */
    send_registered(self, g, "", g->boot);
}

/* A claim answered for a connection the table no longer holds as sent (unregistered, replaced
 * or superseded while the claim was in flight; only a shell with more than one batch in flight
 * sees this). What it gave this pod is released with the epoch it gave: the CAS leaves any newer
 * claim alone. Nobody is told: the connection is gone or has a newer claim queued. */
static void claim_orphaned(registry_table_t *self, const work_t *w, const registry_reply_t *r)
{
    const char *state = registry_reply_elem_str(r, w->kind == WORK_CLAIM ? 4 : 1);
    /* a re-assertion "held" may name a newer epoch of this connection than the one released */
    bool gained = w->kind == WORK_CLAIM
                      ? strcmp(state, "refused") != 0
                      : strcmp(state, "claimed") == 0 || strcmp(state, "held") == 0;
    uint64_t epoch = (uint64_t)registry_reply_elem_int(r, 0);
    log_write(LOG_INFO, w->key, NULL,
              "claim answered for conn %" PRIu64 " that is gone: %s epoch %" PRIu64, w->conn_id,
              gained ? "releasing" : "nothing to release", epoch);
    if (gained && epoch)
        queue_release(self, w->key, epoch, RELEASE_UNREGISTER);
}

static bool on_claim_reply(registry_table_t *self, const work_t *w, const registry_reply_t *r)
{
    reg_t *g = zhashx_lookup(self->regs, w->key);
    if (r->type != REGISTRY_REPLY_ARRAY) {
        metrics_counter_add(self->m_errors, 1);
        log_write(LOG_ERROR, w->key, NULL, "claim failed: %s",
                  r->type == REGISTRY_REPLY_ERROR ? r->str : "unexpected reply");
        if (g)
            queue_claim(self, g); /* retried with the next batch */
        return true;
    }
    if (!g || g->conn_id != w->conn_id || g->epoch != w->epoch)
        claim_orphaned(self, w, r);
    else if (w->kind == WORK_CLAIM)
        claim_done(self, g, r);
    else
        reassert_done(self, g, r); /* may forget g */
    return true;
}

static void on_dedup_reply(registry_table_t *self, const work_t *w, const registry_reply_t *r)
{
    char value[96];
    dedup_value(self, w, value, sizeof(value));
    if (r->type == REGISTRY_REPLY_NIL) /* set now: first */
        answer_dedup(self, w, true, 0);
    else if (r->type == REGISTRY_REPLY_STRING) /* our own earlier attempt, or a replay */
        answer_dedup(self, w, strcmp(r->str, value) == 0, 0);
    else
        answer_dedup(self, w, false, -EIO);
}

/* A release answered: 1 = this call removed the mapping. The registry's own releases (the
 * connection did not come back) say so with device.disconnected; ocpp-core said it for the
 * others. */
static void on_release_reply(registry_table_t *self, const work_t *w, const registry_reply_t *r,
                             uint64_t now_us)
{
    releasing_add(self, w->key, -1);
    if (r->type != REGISTRY_REPLY_INTEGER) { /* retried with the next batch, like a claim */
        metrics_counter_add(self->m_errors, 1);
        log_write(LOG_ERROR, w->key, NULL, "release failed: %s",
                  r->type == REGISTRY_REPLY_ERROR ? r->str : "unexpected reply");
        work_t *again = queue_release(self, w->key, w->epoch, w->why);
        if (again) {
            again->conn_id = w->conn_id;
            memcpy(again->edge, w->edge, sizeof(again->edge));
        }
        return;
    }
    metrics_counter_add(self->m_releases, (uint64_t)r->integer);
    if (r->integer != 1 || w->why == RELEASE_UNREGISTER)
        return;
    bool restart = w->why == RELEASE_CORE_RESTART;
    registry_disconnect_t d = {.identity = w->key,
                               .pod = self->pod_id,
                               .by_pod = self->pod_id,
                               .epoch = w->epoch,
                               .time_us = now_us,
                               .kind = "released",
                               .reason = restart ? "ocpp-core restarted: connection not resumed"
                                                 : "no connection on this pod (reconciliation)"};
    registry_send_disconnect(self->ops.to_bridge, self->ops_arg, self->topic, &d);
    metrics_def_count(M(REGISTRY_M_RECONCILED), restart ? "core_restart" : "reconcile");
    self->recon.released += !restart;
}

/* A page of this pod's set: the identities to check, and whether the scan goes on. */
static void on_recon_scan(registry_table_t *self, const registry_reply_t *r, uint64_t now_us)
{
    recon_t *rc = &self->recon;
    const registry_reply_t *ids =
        r->type == REGISTRY_REPLY_ARRAY && r->elements == 2 ? r->element[1] : NULL;
    const char *cursor = registry_reply_elem_str(r, 0);
    if (!ids || ids->type != REGISTRY_REPLY_ARRAY || !cursor[0] || strlen(cursor) >= 24) {
        metrics_def_count(M(REGISTRY_M_BAD_REPLIES), "reconcile scan");
        log_warn("reconciliation: unexpected SSCAN answer, abandoned");
        recon_abandon(self, now_us + (uint64_t)self->cfg.reconcile_interval_ms * 1000u);
        return;
    }
    for (size_t i = 0; i < ids->elements; i++) {
        const char *id = registry_reply_elem_str(ids, i);
        if (id[0] && strlen(id) <= IDENTITY_MAX)
            zlistx_add_end(rc->reads, (void *)id);
    }
    snprintf(rc->cursor, sizeof(rc->cursor), "%s", cursor);
    rc->scan_due = strcmp(cursor, "0") != 0;
}

/* Owner and epoch of an identity of our set, read now: released with that epoch if it is ours
 * and still not registered here (a claim made meanwhile took a newer epoch, so the
 * compare-and-set leaves it alone); an entry of our set that maps elsewhere (or nowhere) is only
 * removed from the set (epoch 0 never matches). */
static void on_recon_read(registry_table_t *self, const work_t *w, const registry_reply_t *r,
                          uint64_t now_us)
{
    if (r->type != REGISTRY_REPLY_ARRAY || !recon_candidate(self, w->key, now_us))
        return;
    zhashx_delete(self->replaced, w->key); /* past its grace: the reconciliation decides */
    const char *owner = registry_reply_elem_str(r, 0);
    uint64_t epoch = (uint64_t)registry_reply_elem_int(r, 1);
    bool ours = strcmp(owner, self->pod_id) == 0 && epoch;
    if (ours)
        log_write(LOG_INFO, w->key, NULL,
                  "mapping of this pod without a connection (epoch %" PRIu64 "): releasing", epoch);
    queue_release(self, w->key, ours ? epoch : 0, ours ? RELEASE_RECONCILE : RELEASE_UNREGISTER);
}

/* Handles one reply for what was sent. False: the connection must be dropped and w was not
 * handled (it goes back to its queue). */
static bool on_reply(registry_table_t *self, const work_t *w, const registry_reply_t *r,
                     uint64_t now_us)
{
    if (registry_reply_needs_reconnect(r)) {
        /* the script cache is gone or the server demoted, for every kind alike: reconnect,
         * reload, and send it again (a de-dup check with its value: it may have run) */
        if (w->kind == WORK_CLAIM || w->kind == WORK_REASSERT) {
            metrics_counter_add(self->m_errors, 1);
            log_write(LOG_ERROR, w->key, NULL, "claim failed: %s", r->str);
        }
        return false;
    }
    switch (w->kind) {
    case WORK_CLAIM:
    case WORK_REASSERT:
        return on_claim_reply(self, w, r);
    case WORK_RELEASE:
        on_release_reply(self, w, r, now_us);
        break;
    case WORK_LOOKUP:
        answer_lookup(self, w, r, r->type == REGISTRY_REPLY_ARRAY ? 0 : -EIO);
        break;
    case WORK_DEDUP:
        on_dedup_reply(self, w, r);
        break;
    case WORK_TAG:
        answer_tag(self, w, r, r->type == REGISTRY_REPLY_ARRAY ? 0 : -EIO);
        break;
    case WORK_TXID_BLOCK:
    case WORK_TXID_CLAIM:
        if (r->type != REGISTRY_REPLY_ARRAY) {
            metrics_counter_add(self->m_errors, 1);
            log_error("%s failed: %s", w->kind == WORK_TXID_BLOCK ? "TXID_BLOCK" : "TXID_CLAIM",
                      r->type == REGISTRY_REPLY_ERROR ? r->str : "unexpected reply");
        }
        answer_txid(self, w, r, r->type == REGISTRY_REPLY_ARRAY ? 0 : -EIO);
        break;
    case WORK_RECON_SCAN:
        on_recon_scan(self, r, now_us);
        break;
    case WORK_RECON_READ:
        on_recon_read(self, w, r, now_us);
        break;
    }
    return true;
}

/* Work the broken batch did not answer goes back: claims to their registration's queue, the
 * rest to the front of its queue in its order; the reconciliation starts again later. */
static void put_back(registry_table_t *self, size_t from, uint64_t now_us)
{
    for (size_t i = from; i < self->ninflight; i++) {
        work_t *w = self->inflight[i];
        if (w->kind == WORK_CLAIM || w->kind == WORK_REASSERT) {
            reg_t *g = zhashx_lookup(self->regs, w->key);
            if (g)
                queue_claim(self, g);
        } else if (w->kind == WORK_RECON_SCAN || w->kind == WORK_RECON_READ) {
            recon_abandon(self, now_us);
        } else {
            continue;
        }
        free(w);
        self->inflight[i] = NULL;
    }
    for (size_t i = self->ninflight; i > from; i--) {
        work_t *w = self->inflight[i - 1];
        if (!w)
            continue;
        zlistx_t *queue = w->kind == WORK_RELEASE  ? self->releases
                          : w->kind == WORK_LOOKUP ? self->lookups
                          : w->kind == WORK_TAG    ? self->tags
                          : w->kind == WORK_DEDUP  ? self->dedups
                                                   : self->txids;
        zlistx_add_start(queue, w);
    }
}

int registry_table_on_replies(registry_table_t *self, const registry_reply_t *const *replies,
                              size_t n, uint64_t now_us)
{
    size_t i = 0;
    bool broken = false;
    for (; i < self->ninflight; i++) {
        const registry_reply_t *r = i < n && replies ? replies[i] : NULL;
        if (!r || !on_reply(self, self->inflight[i], r, now_us)) {
            broken = true;
            break;
        }
        free(self->inflight[i]);
        self->inflight[i] = NULL;
    }
    if (broken)
        put_back(self, i, now_us);
    else if (self->ninflight)
        metrics_histogram_observe(self->m_rtt, (double)(now_us - self->sent_us) / 1e6);
    self->ninflight = 0;
    registry_batch_clear(self->batch);
    recon_finish_if_done(self, now_us);
    return broken ? -EPIPE : 0;
}

void registry_table_update_busy(registry_table_t *self, bool redis_up, uint64_t now_us)
{
    size_t depth = registry_table_depth(self);
    metrics_gauge_set(self->m_queue, (int64_t)depth);
    bool changed = registry_busy_update(&self->busy, depth, self->cfg.queue_limit);
    if (!changed && !(self->busy && now_us - self->busy_told_us > BUSY_REPEAT_US))
        return;
    self->busy_told_us = now_us;
    metrics_gauge_set(self->m_busy, self->busy);
    if (changed)
        log_warn("queue %zu of %zu: %s", depth, self->cfg.queue_limit,
                 self->busy ? "busy, cores told to slow down" : "no longer busy");
    envelope_t env = {.type = ENV_REGISTRY_BUSY};
    env.u.registry_busy.busy = self->busy;
    env.u.registry_busy.queued = depth > UINT32_MAX ? UINT32_MAX : (uint32_t)depth;
    env.u.registry_busy.limit =
        self->cfg.queue_limit > UINT32_MAX ? UINT32_MAX : (uint32_t)self->cfg.queue_limit;
    env.u.registry_busy.redis_up = redis_up;
    for (uint32_t i = 0; i < self->cfg.core_count; i++)
        self->ops.to_core(self->ops_arg, i, &env);
}
