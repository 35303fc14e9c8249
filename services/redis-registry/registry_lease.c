/* registry_lease: lease, dead pods, sweeper and takeover as steps over Redis batches. See
 * registry_lease.h. */
#include "registry_lease.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "log.h"
#include "registry_keys.h"
#include "registry_logic.h"
#include "registry_metrics.h"

#define POD_MAX 63

/* The step whose batch is out; each reply handler below prepares the next one. */
typedef enum {
    STEP_IDLE,
    STEP_REFRESH,    /* EXISTS, SET PX our lease; SADD pods; DEL our :forgotten, :since */
    STEP_PODS,       /* SMEMBERS of the pods set */
    STEP_LEASES,     /* EXISTS of each pod's lease */
    STEP_LOCK,       /* the sweeper lock, when some pod is dead */
    STEP_SWEEP_LIST, /* SRANDMEMBER of a dead pod's mappings */
    STEP_SWEEP,      /* the sweep script for each of them */
    STEP_TAKEOVER,   /* the takeover claim on a dead pod, tried or extended */
    STEP_FORGET,     /* our claims on pods no longer dead, released */
    STEP_STOP        /* our lease deleted */
} step_t;

/* A pod seen without a lease. */
typedef struct {
    char pod[POD_MAX + 1];
    uint64_t epoch;         /* takeover claim we hold, 0: none */
    uint64_t dead_since_us; /* when we first saw it without a lease */
    bool seen;              /* still dead in this round */
    bool forget;            /* dead no more: our claim is being released */
    bool forgotten;         /* dead longer than orphan_forget_ms (logged once) */
} takeover_t;

struct registry_lease {
    registry_lease_config_t cfg;
    char pod_id[POD_MAX + 1];
    char *topic;
    registry_lease_ops_t ops;
    void *ops_arg;
    zhashx_t *takeovers; /* pod -> takeover_t* */
    registry_batch_t *batch;
    step_t step;
    /* the check-pods job: the known pods, then only the dead ones, and the one at hand */
    char **pods;
    size_t npods, cur;
    bool sweeper; /* we hold the sweeper lock in this round */
    char **ids;   /* the sweep step's identities */
    size_t nids;
    uint64_t bridge_instance; /* last heard */
    metrics_counter_t *m_swept, *m_forgotten;
};

static void strings_free(char ***list, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*list)[i]);
    free(*list);
    *list = NULL;
    *n = 0;
}

/* Copies the text elements of an array reply (others read as "") into *list, which is
 * emptied first. -ENOMEM or 0. */
static int strings_from(const registry_reply_t *r, char ***list, size_t *n)
{
    strings_free(list, n);
    size_t count = r && r->type == REGISTRY_REPLY_ARRAY ? r->elements : 0;
    *list = calloc(count ? count : 1, sizeof(**list));
    if (!*list)
        return -ENOMEM;
    for (*n = 0; *n < count; (*n)++) {
        (*list)[*n] = strdup(registry_reply_elem_str(r, *n));
        if (!(*list)[*n]) {
            strings_free(list, n);
            return -ENOMEM;
        }
    }
    return 0;
}

registry_lease_t *registry_lease_new(const registry_lease_config_t *cfg,
                                     const registry_lease_ops_t *ops, void *ops_arg)
{
    registry_lease_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (self->cfg.epoch_ttl_ms <= 0)
        self->cfg.epoch_ttl_ms = REGISTRY_EPOCH_TTL_DEFAULT_MS;
    snprintf(self->pod_id, sizeof(self->pod_id), "%s", cfg->pod_id);
    self->cfg.pod_id = self->pod_id;
    self->topic = strdup(cfg->events_topic ? cfg->events_topic : "");
    self->cfg.events_topic = self->topic;
    self->ops = *ops;
    self->ops_arg = ops_arg;
    self->takeovers = zhashx_new();
    self->batch = registry_batch_new();
    if (!self->topic || !self->takeovers || !self->batch) {
        registry_lease_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->takeovers, registry_item_free);
    self->m_swept = metrics_def_counter(&REGISTRY_METRICS[REGISTRY_M_SWEPT], NULL);
    self->m_forgotten = metrics_def_counter(&REGISTRY_METRICS[REGISTRY_M_ORPHANS_FORGOTTEN], NULL);
    return self;
}

void registry_lease_destroy(registry_lease_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_lease_t *self = *self_p;
    strings_free(&self->pods, &self->npods);
    strings_free(&self->ids, &self->nids);
    zhashx_destroy(&self->takeovers);
    registry_batch_destroy(&self->batch);
    free(self->topic);
    free(self);
    *self_p = NULL;
}

size_t registry_lease_dead_pods(const registry_lease_t *self)
{
    return zhashx_size(self->takeovers);
}

uint64_t registry_lease_held(const registry_lease_t *self, const char *pod)
{
    const takeover_t *t = zhashx_lookup(self->takeovers, pod);
    return t ? t->epoch : 0;
}

const registry_batch_t *registry_lease_batch(const registry_lease_t *self)
{
    return self->step == STEP_IDLE ? NULL : self->batch;
}

static void finish(registry_lease_t *self)
{
    strings_free(&self->pods, &self->npods);
    strings_free(&self->ids, &self->nids);
    registry_batch_clear(self->batch);
    self->step = STEP_IDLE;
}

void registry_lease_cancel(registry_lease_t *self)
{
    finish(self);
}

/* The connection broke (or must be dropped): the job is abandoned. */
static int abandon(registry_lease_t *self)
{
    finish(self);
    return -EPIPE;
}

/* Starts a step: the batch is filled by the caller. */
static void begin(registry_lease_t *self, step_t step)
{
    registry_batch_clear(self->batch);
    self->step = step;
}

/* ---- effects ---------------------------------------------------------------------------- */

static void send_takeover(registry_lease_t *self, const char *pod, uint64_t epoch, bool active)
{
    log_info("takeover of pod %s's partition, epoch %" PRIu64 ": %s", pod, epoch,
             active ? "active" : "stopped");
    metrics_def_count(&REGISTRY_METRICS[REGISTRY_M_TAKEOVERS], active ? "true" : "false");
    envelope_t env = {.type = ENV_TAKEOVER};
    env.u.takeover.pod = env_str(pod);
    env.u.takeover.epoch = epoch;
    env.u.takeover.active = active;
    self->ops.to_bridge(self->ops_arg, &env);
}

/* device.disconnected for a mapping this call swept (exactly one caller ever sweeps it). */
static void send_disconnected(registry_lease_t *self, const char *identity, const char *dead_pod,
                              uint64_t epoch, uint64_t now_us)
{
    registry_disconnect_t d = {.identity = identity,
                               .pod = dead_pod,
                               .by_pod = self->pod_id,
                               .epoch = epoch,
                               .time_us = now_us,
                               .kind = "swept",
                               .reason = "pod lease expired"};
    registry_send_disconnect(self->ops.to_bridge, self->ops_arg, self->topic, &d);
}

/* ---- refresh ---------------------------------------------------------------------------- */

int registry_lease_refresh(registry_lease_t *self, size_t registrations, uint64_t now_us)
{
    if (self->step != STEP_IDLE)
        return -EBUSY;
    char key[128], forgotten[150], since[150], info[160], ttl[24];
    registry_key_lease(self->pod_id, key, sizeof(key));
    registry_key_takeover_forgotten(self->pod_id, forgotten, sizeof(forgotten));
    registry_key_takeover_since(self->pod_id, since, sizeof(since));
    snprintf(info, sizeof(info), "{\"registrations\":%zu,\"refreshed_us\":%" PRIu64 "}",
             registrations, now_us);
    snprintf(ttl, sizeof(ttl), "%" PRId64, self->cfg.lease_ttl_ms);
    begin(self, STEP_REFRESH);
    const char *exists[] = {"EXISTS", key};
    const char *set[] = {"SET", key, info, "PX", ttl};
    const char *sadd[] = {"SADD", REGISTRY_PODS_KEY, self->pod_id};
    const char *del[] = {"DEL", forgotten, since};
    if (registry_batch_command(self->batch, exists, 2) < 0 ||
        registry_batch_command(self->batch, set, 5) < 0 ||
        registry_batch_command(self->batch, sadd, 3) < 0 ||
        registry_batch_command(self->batch, del, 3) < 0)
        finish(self);
    return 0;
}

/* A lease found missing: we were paused or cut off longer than the TTL, so another pod may
 * have claimed our charge points or swept them: every one of them is verified. */
static int on_refresh(registry_lease_t *self, const registry_reply_t *const *r, size_t n)
{
    if (n < 4)
        return abandon(self);
    bool demoted = registry_reply_needs_reconnect(r[1]);
    finish(self);
    if (!demoted && r[0]->type == REGISTRY_REPLY_INTEGER && r[0]->integer == 0)
        self->ops.lease_expired(self->ops_arg);
    if (demoted)
        log_warn("lease refresh refused (server is not a writable primary)");
    return demoted ? -EPIPE : 0;
}

/* ---- check pods: leases, lock, then each dead pod: sweep, takeover ---------------------- */

int registry_lease_check_pods(registry_lease_t *self, uint64_t now_us)
{
    (void)now_us;
    if (self->step != STEP_IDLE)
        return -EBUSY;
    begin(self, STEP_PODS);
    const char *argv[] = {"SMEMBERS", REGISTRY_PODS_KEY};
    if (registry_batch_command(self->batch, argv, 2) < 0)
        finish(self);
    return 0;
}

static void start_forget(registry_lease_t *self);

static int on_pods(registry_lease_t *self, const registry_reply_t *const *r, size_t n)
{
    if (n < 1 || strings_from(r[0], &self->pods, &self->npods) < 0)
        return abandon(self);
    if (self->npods == 0) {
        start_forget(self);
        return 0;
    }
    begin(self, STEP_LEASES);
    for (size_t i = 0; i < self->npods; i++) {
        char key[128];
        if (registry_key_lease(self->pods[i], key, sizeof(key)) < 0)
            snprintf(key, sizeof(key), "pod:{}");
        const char *argv[] = {"EXISTS", key};
        if (registry_batch_command(self->batch, argv, 2) < 0)
            return abandon(self);
    }
    return 0;
}

static void next_pod(registry_lease_t *self, uint64_t now_us);

/* Dead: known, without a lease, not us, and a name that fits. The list keeps only those. */
static int on_leases(registry_lease_t *self, const registry_reply_t *const *r, size_t n)
{
    if (n < self->npods)
        return abandon(self);
    /* an answer that is not a count (READONLY from a demoted primary, ...) says nothing about the
     * pod: the round ends here, or its claims would be released as if the pods were alive */
    for (size_t i = 0; i < self->npods; i++)
        if (r[i]->type != REGISTRY_REPLY_INTEGER) {
            log_warn("pods' leases not readable (%s): round abandoned",
                     r[i]->type == REGISTRY_REPLY_ERROR ? r[i]->str : "unexpected reply");
            return abandon(self);
        }
    size_t ndead = 0;
    for (size_t i = 0; i < self->npods; i++) {
        size_t len = strlen(self->pods[i]);
        bool dead = r[i]->type == REGISTRY_REPLY_INTEGER && r[i]->integer == 0 &&
                    strcmp(self->pods[i], self->pod_id) != 0 && len > 0 && len <= POD_MAX;
        takeover_t *t = zhashx_lookup(self->takeovers, self->pods[i]);
        if (t && r[i]->type == REGISTRY_REPLY_INTEGER && r[i]->integer == 1)
            t->dead_since_us = 0; /* alive again: a later death waits its own grace */
        if (dead)
            self->pods[ndead++] = self->pods[i];
        else
            free(self->pods[i]);
    }
    self->npods = ndead;
    self->cur = 0;
    self->sweeper = false;
    if (ndead == 0) {
        start_forget(self);
        return 0;
    }
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%" PRId64, self->cfg.lease_refresh_ms * 3);
    begin(self, STEP_LOCK);
    const char *argv[] = {REGISTRY_SWEEPER_KEY, self->pod_id, ttl};
    if (registry_batch_script(self->batch, REGISTRY_SCRIPT_LOCK, 1, argv, 3) < 0)
        return abandon(self);
    return 0;
}

static int on_lock(registry_lease_t *self, const registry_reply_t *const *r, size_t n,
                   uint64_t now_us)
{
    if (n < 1)
        return abandon(self);
    self->sweeper = r[0]->type == REGISTRY_REPLY_INTEGER && r[0]->integer == 1;
    next_pod(self, now_us);
    return 0;
}

static takeover_t *dead_pod_seen(registry_lease_t *self, const char *pod, uint64_t now_us)
{
    takeover_t *t = zhashx_lookup(self->takeovers, pod);
    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t)
            return NULL;
        snprintf(t->pod, sizeof(t->pod), "%s", pod);
        zhashx_insert(self->takeovers, t->pod, t);
    }
    if (!t->dead_since_us) {
        t->dead_since_us = now_us;
        log_info("pod %s has no lease", pod);
    }
    t->seen = true;
    return t;
}

/* One takeover script call on pod, "try" or "release", into the current batch. */
static int takeover_command(registry_lease_t *self, const char *pod, const char *mode)
{
    char kt[128], ke[140], kl[128], kf[150], ks[150], kc[140], ttl[24], forget[24], keep[24];
    registry_key_takeover(pod, kt, sizeof(kt));
    registry_key_takeover_epoch(pod, ke, sizeof(ke));
    registry_key_lease(pod, kl, sizeof(kl));
    registry_key_takeover_forgotten(pod, kf, sizeof(kf));
    registry_key_takeover_since(pod, ks, sizeof(ks));
    registry_key_pod_conns(pod, kc, sizeof(kc));
    snprintf(ttl, sizeof(ttl), "%" PRId64, self->cfg.lease_ttl_ms);
    snprintf(forget, sizeof(forget), "%" PRId64, self->cfg.orphan_forget_ms);
    snprintf(keep, sizeof(keep), "%" PRId64, self->cfg.epoch_ttl_ms);
    const char *argv[] = {kt,           ke,  kl,   kf,     ks,  kc,  REGISTRY_PODS_KEY,
                          self->pod_id, ttl, mode, forget, pod, keep};
    return registry_batch_script(self->batch, REGISTRY_SCRIPT_TAKEOVER, 7, argv, 13);
}

static void start_takeover(registry_lease_t *self, const char *pod)
{
    begin(self, STEP_TAKEOVER);
    if (takeover_command(self, pod, "try") < 0)
        finish(self);
}

/* The sweep waits sweep_grace_ms after we first saw the pod dead, and needs the lock. */
static void next_pod(registry_lease_t *self, uint64_t now_us)
{
    for (; self->cur < self->npods; self->cur++) {
        takeover_t *t = dead_pod_seen(self, self->pods[self->cur], now_us);
        if (!t)
            continue;
        if (self->sweeper &&
            now_us >= t->dead_since_us + (uint64_t)self->cfg.sweep_grace_ms * 1000u) {
            char kconns[140], count[24];
            registry_key_pod_conns(t->pod, kconns, sizeof(kconns));
            snprintf(count, sizeof(count), "%" PRId64, self->cfg.sweep_batch);
            begin(self, STEP_SWEEP_LIST);
            const char *argv[] = {"SRANDMEMBER", kconns, count};
            if (registry_batch_command(self->batch, argv, 3) < 0)
                finish(self);
            return;
        }
        start_takeover(self, t->pod);
        return;
    }
    start_forget(self);
}

static int on_sweep_list(registry_lease_t *self, const registry_reply_t *const *r, size_t n)
{
    const char *pod = self->pods[self->cur];
    if (n < 1 || strings_from(r[0], &self->ids, &self->nids) < 0)
        return abandon(self);
    if (self->nids == 0) {
        start_takeover(self, pod);
        return 0;
    }
    char kconns[140], klease[128], keep[24];
    registry_key_pod_conns(pod, kconns, sizeof(kconns));
    registry_key_lease(pod, klease, sizeof(klease));
    snprintf(keep, sizeof(keep), "%" PRId64, self->cfg.epoch_ttl_ms);
    begin(self, STEP_SWEEP);
    for (size_t i = 0; i < self->nids; i++) {
        const char *id = self->ids[i];
        char kc[80], km[96], ke[96];
        if (registry_key_conn(id, kc, sizeof(kc)) < 0 ||
            registry_key_meta(id, km, sizeof(km)) < 0 ||
            registry_key_epoch(id, ke, sizeof(ke)) < 0) {
            /* oversized garbage: just drop it from the set */
            snprintf(kc, sizeof(kc), "conn:");
            snprintf(km, sizeof(km), "{conn:}:meta");
            snprintf(ke, sizeof(ke), "{conn:}:epoch");
        }
        const char *argv[] = {kc, km, kconns, klease, ke, pod, id, keep};
        if (registry_batch_script(self->batch, REGISTRY_SCRIPT_SWEEP, 5, argv, 8) < 0)
            return abandon(self);
    }
    return 0;
}

/* Each removal is the atomic sweep script, so a mapping is removed, and device.disconnected
 * emitted, once, even when the lock changes hands. */
static int on_sweep(registry_lease_t *self, const registry_reply_t *const *r, size_t n,
                    uint64_t now_us)
{
    const char *pod = self->pods[self->cur];
    size_t swept = 0;
    for (size_t i = 0; i < n && i < self->nids; i++) {
        if (registry_reply_elem_int(r[i], 0) != 1)
            continue;
        long long epoch = registry_reply_elem_int(r[i], 1);
        log_write(LOG_INFO, self->ids[i], NULL, "stale mapping of dead pod %s swept (epoch %lld)",
                  pod, epoch);
        send_disconnected(self, self->ids[i], pod, (uint64_t)epoch, now_us);
        metrics_counter_add(self->m_swept, 1);
        swept++;
    }
    if (swept)
        log_info("swept %zu stale mappings of pod %s", swept, pod);
    if (n < self->nids)
        return abandon(self);
    strings_free(&self->ids, &self->nids);
    start_takeover(self, pod);
    return 0;
}

static int on_takeover(registry_lease_t *self, const registry_reply_t *const *r, size_t n,
                       uint64_t now_us)
{
    if (n < 1)
        return abandon(self);
    const char *pod = self->pods[self->cur];
    takeover_t *t = zhashx_lookup(self->takeovers, pod);
    if (t) {
        const char *state = registry_reply_elem_str(r[0], 1);
        if (strcmp(state, "forgotten") == 0 && !t->forgotten) {
            t->forgotten = true;
            metrics_counter_add(self->m_forgotten, 1);
            log_warn("pod %s dead for %lld ms (orphan_forget_ms %" PRId64
                     "): forgotten, its partition is no longer read",
                     pod, registry_reply_elem_int(r[0], 2), self->cfg.orphan_forget_ms);
        }
        uint64_t stop = 0;
        int act = registry_takeover_step(&t->epoch, state,
                                         (uint64_t)registry_reply_elem_int(r[0], 0), &stop);
        if (act & REGISTRY_TAKEOVER_STOP)
            send_takeover(self, pod, stop, false);
        if (act & REGISTRY_TAKEOVER_START)
            send_takeover(self, pod, t->epoch, true);
    }
    self->cur++;
    next_pod(self, now_us);
    return 0;
}

/* A pod we tracked that was not dead in this round (its lease is back, or it is no longer
 * known): our claim on it, if any, is released and the bridge told to stop. */
static void forget_marked(registry_lease_t *self)
{
    zlistx_t *gone = zlistx_new();
    for (takeover_t *t = zhashx_first(self->takeovers); t; t = zhashx_next(self->takeovers))
        if (t->forget)
            zlistx_add_end(gone, t);
    for (takeover_t *t = zlistx_first(gone); t; t = zlistx_next(gone)) {
        if (t->epoch)
            send_takeover(self, t->pod, t->epoch, false);
        zhashx_delete(self->takeovers, t->pod);
    }
    zlistx_destroy(&gone);
}

static void start_forget(registry_lease_t *self)
{
    begin(self, STEP_FORGET);
    for (takeover_t *t = zhashx_first(self->takeovers); t; t = zhashx_next(self->takeovers)) {
        if (t->seen) {
            t->seen = false;
            continue;
        }
        t->forget = true;
        if (t->epoch)
            takeover_command(self, t->pod, "release");
    }
    if (registry_batch_size(self->batch) == 0) {
        forget_marked(self);
        finish(self);
    }
}

/* The release's answer changes nothing: the claim expires by itself if it did not run. */
static int on_forget(registry_lease_t *self, size_t n)
{
    bool broken = n < registry_batch_size(self->batch);
    forget_marked(self);
    finish(self);
    return broken ? -EPIPE : 0;
}

/* ---- TAKEOVER_DONE, the bridge's restarts, stop ----------------------------------------- */

int registry_lease_on_takeover_done(registry_lease_t *self, const env_takeover_done_t *m,
                                    uint64_t now_us)
{
    (void)now_us;
    char pod[POD_MAX + 1];
    env_str_copy(m->pod, pod, sizeof(pod));
    takeover_t *t = zhashx_lookup(self->takeovers, pod);
    if (!t || !t->epoch || t->epoch != m->epoch) {
        log_info("TAKEOVER_DONE for pod %s epoch %" PRIu64 ": the bridge stopped reading it", pod,
                 m->epoch);
        return -ENOENT;
    }
    /* we still hold the claim: the partition must be read while the pod is dead */
    log_warn("TAKEOVER_DONE for pod %s epoch %" PRIu64 " whose claim we hold: takeover repeated",
             pod, m->epoch);
    send_takeover(self, pod, t->epoch, true);
    return 0;
}

void registry_lease_on_bridge_instance(registry_lease_t *self, uint64_t instance)
{
    if (instance == 0 || instance == self->bridge_instance)
        return;
    bool first = self->bridge_instance == 0;
    self->bridge_instance = instance;
    size_t n = 0;
    for (takeover_t *t = zhashx_first(self->takeovers); t; t = zhashx_next(self->takeovers))
        if (t->epoch) {
            send_takeover(self, t->pod, t->epoch, true);
            n++;
        }
    if (n || !first)
        log_info("kafka-bridge instance %" PRIu64 "%s: %zu takeovers repeated", instance,
                 first ? "" : " (restarted)", n);
}

int registry_lease_stop(registry_lease_t *self)
{
    if (self->step != STEP_IDLE)
        return -EBUSY;
    char key[128];
    registry_key_lease(self->pod_id, key, sizeof(key));
    begin(self, STEP_STOP);
    const char *argv[] = {"DEL", key};
    if (registry_batch_command(self->batch, argv, 2) < 0)
        finish(self);
    return 0;
}

/* ---- the one reply handler -------------------------------------------------------------- */

int registry_lease_on_replies(registry_lease_t *self, const registry_reply_t *const *replies,
                              size_t n, uint64_t now_us)
{
    if (!replies)
        n = 0;
    for (size_t i = 0; i < n; i++)
        if (!replies[i]) /* a reply that could not be converted: as if the connection broke */
            n = i;
    switch (self->step) {
    case STEP_IDLE:
        return 0;
    case STEP_REFRESH:
        return on_refresh(self, replies, n);
    case STEP_PODS:
        return on_pods(self, replies, n);
    case STEP_LEASES:
        return on_leases(self, replies, n);
    case STEP_LOCK:
        return on_lock(self, replies, n, now_us);
    case STEP_SWEEP_LIST:
        return on_sweep_list(self, replies, n);
    case STEP_SWEEP:
        return on_sweep(self, replies, n, now_us);
    case STEP_TAKEOVER:
        return on_takeover(self, replies, n, now_us);
    case STEP_FORGET:
        return on_forget(self, n);
    case STEP_STOP:
        finish(self);
        return n < 1 ? -EPIPE : 0;
    }
    return 0;
}
