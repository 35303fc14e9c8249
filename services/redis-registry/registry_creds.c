/* registry_creds: credential records from Redis to the edges. See registry_creds.h. */
#include "registry_creds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "registry_keys.h"
#include "registry_logic.h"
#include "registry_metrics.h"

#define EDGE_ID_MAX     63
#define FINGERPRINT_MAX 64

/* The known fields, in the canonical order of the lines (docs/security.md). */
static const char *const FIELDS[] = {"v",         "profile",   "alg",       "iter",
                                     "salt",      "hash",      "prev_alg",  "prev_iter",
                                     "prev_salt", "prev_hash", "updated_ms"};
#define NFIELDS (sizeof(FIELDS) / sizeof(FIELDS[0]))

typedef struct {
    char id[EDGE_ID_MAX + 1];
    uint64_t instance;
    uint64_t generation; /* of its sync in progress or last one (0: none yet) */
    uint64_t count;      /* CREDs of that generation it was sent */
    bool need_sync;      /* a full sync is due */
    bool in_pass;        /* part of the sync in progress */
    bool synced;         /* its last sync ended */
} edge_t;

/* What a command of the batch was. */
typedef enum {
    W_CHANGE, /* HGETALL of a published identity: to every edge */
    W_PAGE,   /* HGETALL of an identity of the scan: to the edges of the pass */
    W_SCAN,   /* SCAN cursor MATCH cred:* */
    W_USED    /* the CRED_USED script */
} work_kind_t;

typedef struct {
    work_kind_t kind;
    char identity[IDENTITY_MAX + 1];
} work_t;

typedef struct {
    char identity[IDENTITY_MAX + 1];
    char fingerprint[FINGERPRINT_MAX + 1];
} used_t;

struct registry_creds {
    registry_creds_config_t cfg;
    registry_creds_ops_t ops;
    void *ops_arg;
    zhashx_t *edges;   /* id -> edge_t* */
    zhashx_t *changed; /* identities published, not read yet (a set) */
    zlistx_t *used;    /* used_t* */
    /* the full sync in progress ("pass"): one generation for every edge in it */
    bool pass;
    uint64_t generation; /* last generation handed out */
    char cursor[24];
    bool scan_due;  /* the next SCAN goes with the next batch */
    zlistx_t *page; /* identities of the last SCAN page, to read */
    uint64_t next_rescan_us;
    uint64_t hold_until_us; /* a pass that failed is tried again from here */
    /* the batch in flight */
    registry_batch_t *batch;
    work_t *inflight;
    size_t ninflight;
    metrics_counter_t *m_syncs, *m_sent_sync, *m_sent_change, *m_used_removed, *m_used_stale;
    metrics_gauge_t *m_edges;
};

static const metrics_def_t *M(registry_metric_t m)
{
    return &REGISTRY_METRICS[m];
}

registry_creds_t *registry_creds_new(const registry_creds_config_t *cfg,
                                     const registry_creds_ops_t *ops, void *ops_arg)
{
    registry_creds_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (!self->cfg.batch_max)
        self->cfg.batch_max = 1;
    if (!self->cfg.scan_count)
        self->cfg.scan_count = 1;
    self->ops = *ops;
    self->ops_arg = ops_arg;
    self->edges = zhashx_new();
    self->changed = zhashx_new();
    self->used = zlistx_new();
    self->page = zlistx_new();
    self->batch = registry_batch_new();
    self->inflight = calloc(self->cfg.batch_max, sizeof(*self->inflight));
    if (!self->edges || !self->changed || !self->used || !self->page || !self->batch ||
        !self->inflight) {
        registry_creds_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->edges, registry_item_free);
    zlistx_set_destructor(self->used, registry_item_free);
    zlistx_set_duplicator(self->page, registry_item_strdup);
    zlistx_set_destructor(self->page, registry_item_free);
    self->m_syncs = metrics_def_counter(M(REGISTRY_M_CRED_SYNCS), NULL);
    self->m_sent_sync = metrics_def_counter(M(REGISTRY_M_CRED_SENT), "kind=\"sync\"");
    self->m_sent_change = metrics_def_counter(M(REGISTRY_M_CRED_SENT), "kind=\"change\"");
    self->m_used_removed = metrics_def_counter(M(REGISTRY_M_CRED_USED), "result=\"removed\"");
    self->m_used_stale = metrics_def_counter(M(REGISTRY_M_CRED_USED), "result=\"unchanged\"");
    self->m_edges = metrics_def_gauge(M(REGISTRY_M_EDGES), NULL);
    return self;
}

void registry_creds_destroy(registry_creds_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_creds_t *self = *self_p;
    zhashx_destroy(&self->edges);
    zhashx_destroy(&self->changed);
    zlistx_destroy(&self->used);
    zlistx_destroy(&self->page);
    registry_batch_destroy(&self->batch);
    free(self->inflight);
    free(self);
    *self_p = NULL;
}

size_t registry_creds_edges(const registry_creds_t *self)
{
    return zhashx_size(self->edges);
}

bool registry_creds_synced(const registry_creds_t *self, const char *edge_id, uint64_t *generation)
{
    const edge_t *e = zhashx_lookup(self->edges, edge_id);
    if (e && generation)
        *generation = e->generation;
    return e && e->synced;
}

/* ---- the record ------------------------------------------------------------------------- */

static bool printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 32)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static int known_field(const char *name, size_t len)
{
    for (size_t k = 0; k < NFIELDS; k++)
        if (strlen(FIELDS[k]) == len && memcmp(FIELDS[k], name, len) == 0)
            return (int)k;
    return -1;
}

/* Appends "name=value" (a newline before it unless first) to out at *pos; false if it does not
 * fit in outlen - 1. */
static bool line(char *out, size_t outlen, size_t *pos, const registry_reply_t *name,
                 const registry_reply_t *value)
{
    size_t need = (*pos ? 1 : 0) + name->len + 1 + value->len;
    if (*pos + need >= outlen)
        return false;
    if (*pos)
        out[(*pos)++] = '\n';
    memcpy(out + *pos, name->str, name->len);
    *pos += name->len;
    out[(*pos)++] = '=';
    memcpy(out + *pos, value->str, value->len);
    *pos += value->len;
    out[*pos] = '\0';
    return true;
}

static int invalid(char *out, size_t outlen, const char **why, const char *what)
{
    snprintf(out, outlen, "%s", REGISTRY_CRED_INVALID);
    *why = what;
    return -EINVAL;
}

static bool is_text(const registry_reply_t *e)
{
    return e && (e->type == REGISTRY_REPLY_STRING || e->type == REGISTRY_REPLY_STATUS);
}

int registry_cred_record(const registry_reply_t *r, char *out, size_t outlen, const char **why)
{
    *why = NULL;
    if (outlen == 0)
        return -EINVAL;
    out[0] = '\0';
    if (!r || r->type != REGISTRY_REPLY_ARRAY || r->elements % 2)
        return invalid(out, outlen, why, "not a hash");
    for (size_t i = 0; i < r->elements; i++)
        if (!is_text(r->element[i]))
            return invalid(out, outlen, why, "not a hash");
    size_t pos = 0;
    /* known fields in their order (a repeated field cannot come from a hash: the first wins) */
    for (size_t k = 0; k < NFIELDS; k++)
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const registry_reply_t *n = r->element[i], *v = r->element[i + 1];
            if (known_field(n->str, n->len) != (int)k)
                continue;
            if (!printable(v->str, v->len))
                return invalid(out, outlen, why, FIELDS[k]);
            if (!line(out, outlen, &pos, n, v))
                return invalid(out, outlen, why, "length");
            break;
        }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const registry_reply_t *n = r->element[i], *v = r->element[i + 1];
        if (known_field(n->str, n->len) >= 0 || !name_ok(n->str, n->len) ||
            !printable(v->str, v->len))
            continue; /* a field the edge could not read is not forwarded */
        if (!line(out, outlen, &pos, n, v))
            return invalid(out, outlen, why, "length");
    }
    if (pos == 0 && r->elements) /* a record, but nothing an edge can read: not "deleted" */
        return invalid(out, outlen, why, "no field");
    return (int)pos;
}

/* ---- edges ------------------------------------------------------------------------------ */

static void edges_changed(registry_creds_t *self)
{
    metrics_gauge_set(self->m_edges, (int64_t)zhashx_size(self->edges));
}

int registry_creds_on_hello(registry_creds_t *self, const env_hello_t *m, uint64_t now_us)
{
    (void)now_us;
    char id[EDGE_ID_MAX + 1];
    if (m->edge_id.len == 0 || m->edge_id.len > EDGE_ID_MAX ||
        memchr(m->edge_id.ptr, '\0', m->edge_id.len))
        return -EINVAL;
    env_str_copy(m->edge_id, id, sizeof(id));
    edge_t *e = zhashx_lookup(self->edges, id);
    if (e && (m->instance == e->instance || m->instance < e->instance))
        return 0; /* known (an older instance's late HELLO changes nothing) */
    if (!e) {
        if (zhashx_size(self->edges) >= REGISTRY_EDGES_MAX)
            return -ENOSPC;
        e = calloc(1, sizeof(*e));
        if (!e)
            return -ENOMEM;
        memcpy(e->id, id, sizeof(id));
        zhashx_insert(self->edges, e->id, e);
        edges_changed(self);
    }
    log_info("ws-edge %s instance %" PRIu64 "%s: full credential sync", id, m->instance,
             e->instance ? " (restarted)" : "");
    e->instance = m->instance;
    e->need_sync = true;
    e->synced = false;
    return 1;
}

void registry_creds_resync_all(registry_creds_t *self, const char *why)
{
    if (zhashx_size(self->edges))
        log_info("full credential sync of %zu edges: %s", zhashx_size(self->edges), why);
    for (edge_t *e = zhashx_first(self->edges); e; e = zhashx_next(self->edges))
        e->need_sync = true;
}

void registry_creds_tick(registry_creds_t *self, uint64_t now_us)
{
    if (!self->next_rescan_us) {
        self->next_rescan_us = now_us + (uint64_t)self->cfg.rescan_ms * 1000u;
        return;
    }
    if (now_us < self->next_rescan_us)
        return;
    self->next_rescan_us = now_us + (uint64_t)self->cfg.rescan_ms * 1000u;
    registry_creds_resync_all(self, "periodic rescan");
}

void registry_creds_on_changed(registry_creds_t *self, const char *payload, size_t len)
{
    if (!identity_valid(payload, len)) {
        metrics_def_count(M(REGISTRY_M_BAD_REPLIES), "credential message");
        log_warn("malformed %s message (%zu bytes) ignored", REGISTRY_CRED_CHANNEL, len);
        return;
    }
    if (zhashx_size(self->changed) >= self->cfg.pending_max) {
        /* more changes than one batch can carry: a full sync says everything */
        zhashx_purge(self->changed);
        registry_creds_resync_all(self, "too many changes at once");
        return;
    }
    char id[IDENTITY_MAX + 1];
    memcpy(id, payload, len);
    id[len] = '\0';
    zhashx_update(self->changed, id, (void *)1);
}

static bool fingerprint_ok(const char *s, size_t len)
{
    if (len == 0 || len > FINGERPRINT_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int registry_creds_on_cred_used(registry_creds_t *self, const env_cred_used_t *m)
{
    if (!identity_valid(m->identity.ptr, m->identity.len) ||
        !fingerprint_ok(m->fingerprint.ptr, m->fingerprint.len)) {
        metrics_def_count(M(REGISTRY_M_CRED_USED), "invalid");
        log_warn("malformed CRED_USED ignored");
        return -EINVAL;
    }
    if (zlistx_size(self->used) >= self->cfg.pending_max) {
        /* the edge sends it again on the station's next connection */
        metrics_def_count(M(REGISTRY_M_CRED_USED), "dropped");
        return -ENOBUFS;
    }
    used_t *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    env_str_copy(m->identity, u->identity, sizeof(u->identity));
    env_str_copy(m->fingerprint, u->fingerprint, sizeof(u->fingerprint));
    zlistx_add_end(self->used, u);
    return 0;
}

/* ---- sending ---------------------------------------------------------------------------- */

static void send_to(registry_creds_t *self, edge_t *e, const envelope_t *env)
{
    if (self->ops.to_edge(self->ops_arg, e->id, env) == -ENOBUFS && !e->need_sync) {
        log_warn("ws-edge %s could not take a credential message: full sync later", e->id);
        e->need_sync = true;
    }
}

static void send_sync(registry_creds_t *self, edge_t *e, bool done)
{
    envelope_t env = {.type = ENV_CRED_SYNC};
    env.u.cred_sync.generation = e->generation;
    env.u.cred_sync.count = done ? e->count : 0;
    env.u.cred_sync.done = done;
    send_to(self, e, &env);
}

/* A record to the edges of the pass (page) or to every edge that had or has a sync (change). */
static void send_record(registry_creds_t *self, const char *identity, const char *record,
                        size_t len, bool change)
{
    envelope_t env = {.type = ENV_CRED};
    env.u.cred.identity = env_str(identity);
    env.u.cred.record = (env_bin_t){(const uint8_t *)record, len};
    for (edge_t *e = zhashx_first(self->edges); e; e = zhashx_next(self->edges)) {
        if (change ? !(e->in_pass || e->synced) : !e->in_pass)
            continue;
        env.u.cred.generation = e->generation;
        e->count += e->in_pass;
        send_to(self, e, &env);
        metrics_counter_add(change ? self->m_sent_change : self->m_sent_sync, 1);
    }
}

/* Starts a pass for every edge whose sync is due: CRED_SYNC done=false with a new generation. */
static bool pass_start(registry_creds_t *self)
{
    bool any = false;
    for (edge_t *e = zhashx_first(self->edges); e; e = zhashx_next(self->edges))
        any |= e->need_sync;
    if (!any)
        return false;
    self->generation++;
    for (edge_t *e = zhashx_first(self->edges); e; e = zhashx_next(self->edges)) {
        if (!e->need_sync)
            continue;
        e->need_sync = false;
        e->in_pass = true;
        e->synced = false;
        e->generation = self->generation;
        e->count = 0;
        send_sync(self, e, false);
    }
    self->pass = true;
    self->scan_due = true;
    snprintf(self->cursor, sizeof(self->cursor), "0");
    return true;
}

static void pass_end(registry_creds_t *self)
{
    for (edge_t *e = zhashx_first(self->edges); e; e = zhashx_next(self->edges)) {
        if (!e->in_pass)
            continue;
        e->in_pass = false;
        send_sync(self, e, true);
        if (!e->need_sync) { /* unless a CRED it could not take asks for another one */
            e->synced = true;
            metrics_counter_add(self->m_syncs, 1);
            log_info("ws-edge %s: credential sync %" PRIu64 " done, %" PRIu64 " records", e->id,
                     e->generation, e->count);
        }
    }
    self->pass = false;
}

/* The connection broke during a pass, or the scan failed: its edges get a sync again (a new
 * generation), not before a second from now. */
#define RETRY_US 1000000u
static void pass_abandon(registry_creds_t *self, uint64_t now_us)
{
    if (!self->pass)
        return;
    self->hold_until_us = now_us + RETRY_US;
    for (edge_t *e = zhashx_first(self->edges); e; e = zhashx_next(self->edges))
        if (e->in_pass) {
            e->in_pass = false;
            e->need_sync = true;
        }
    self->pass = false;
    self->scan_due = false;
    zlistx_purge(self->page);
}

/* ---- the batch -------------------------------------------------------------------------- */

bool registry_creds_pending(const registry_creds_t *self, uint64_t now_us)
{
    if (self->ninflight || zhashx_size(self->changed) || zlistx_size(self->used) || self->pass)
        return true;
    if (now_us < self->hold_until_us)
        return false;
    for (const edge_t *e = zhashx_first(self->edges); e; e = zhashx_next(self->edges))
        if (e->need_sync)
            return true;
    return false;
}

static bool add(registry_creds_t *self, work_kind_t kind, const char *identity)
{
    if (self->ninflight >= self->cfg.batch_max)
        return false;
    work_t *w = &self->inflight[self->ninflight];
    w->kind = kind;
    snprintf(w->identity, sizeof(w->identity), "%s", identity);
    char key[80];
    int rc;
    if (kind == W_SCAN) {
        char count[24];
        snprintf(count, sizeof(count), "%zu", self->cfg.scan_count);
        const char *argv[] = {"SCAN",  self->cursor, "MATCH", REGISTRY_CRED_PREFIX "*",
                              "COUNT", count};
        rc = registry_batch_command(self->batch, argv, 6);
    } else {
        registry_key_cred(identity, key, sizeof(key));
        const char *argv[] = {"HGETALL", key};
        rc = registry_batch_command(self->batch, argv, 2);
    }
    if (rc < 0)
        return false;
    self->ninflight++;
    return true;
}

static bool add_used(registry_creds_t *self, const used_t *u)
{
    if (self->ninflight >= self->cfg.batch_max)
        return false;
    char key[80];
    registry_key_cred(u->identity, key, sizeof(key));
    const char *argv[] = {key, u->fingerprint, REGISTRY_CRED_CHANNEL, u->identity};
    if (registry_batch_script(self->batch, REGISTRY_SCRIPT_CRED_USED, 1, argv, 4) < 0)
        return false;
    work_t *w = &self->inflight[self->ninflight++];
    w->kind = W_USED;
    snprintf(w->identity, sizeof(w->identity), "%s", u->identity);
    return true;
}

const registry_batch_t *registry_creds_prepare(registry_creds_t *self, uint64_t now_us)
{
    if (self->ninflight)
        return NULL;
    registry_batch_clear(self->batch);
    /* changes first: they are what an edge is waiting for */
    while (zhashx_first(self->changed)) {
        if (!add(self, W_CHANGE, zhashx_cursor(self->changed)))
            break;
        zhashx_delete(self->changed, self->inflight[self->ninflight - 1].identity);
    }
    used_t *u;
    while ((u = zlistx_first(self->used)) && add_used(self, u))
        zlistx_delete(self->used, NULL);
    if (!self->pass && now_us >= self->hold_until_us)
        pass_start(self);
    if (self->pass) {
        char *p;
        while ((p = zlistx_first(self->page)) && add(self, W_PAGE, p))
            zlistx_delete(self->page, NULL);
        if (self->scan_due && !zlistx_size(self->page) && add(self, W_SCAN, ""))
            self->scan_due = false;
    }
    return self->ninflight ? self->batch : NULL;
}

static void on_record(registry_creds_t *self, const work_t *w, const registry_reply_t *r)
{
    char record[REGISTRY_CRED_RECORD_MAX];
    const char *why = NULL;
    int len = registry_cred_record(r, record, sizeof(record), &why);
    if (len < 0) {
        metrics_def_count(M(REGISTRY_M_BAD_REPLIES), "credential record");
        log_write(LOG_WARN, w->identity, NULL,
                  "credential record cannot be forwarded (%s): the edges refuse the station", why);
        len = (int)strlen(record);
    }
    if (len == 0 && w->kind == W_PAGE)
        return; /* deleted since the scan saw it: the change says so */
    send_record(self, w->identity, record, (size_t)len, w->kind == W_CHANGE);
}

/* A SCAN page: [cursor, [keys]]; keys that do not name a valid identity are skipped. */
static bool on_scan(registry_creds_t *self, const registry_reply_t *r)
{
    const char *cursor = registry_reply_elem_str(r, 0);
    const registry_reply_t *keys =
        r->type == REGISTRY_REPLY_ARRAY && r->elements == 2 ? r->element[1] : NULL;
    if (!keys || keys->type != REGISTRY_REPLY_ARRAY || !cursor[0] || strlen(cursor) >= 24) {
        metrics_def_count(M(REGISTRY_M_BAD_REPLIES), "credential scan");
        return false;
    }
    size_t plen = strlen(REGISTRY_CRED_PREFIX);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *key = registry_reply_elem_str(keys, i);
        size_t len = strlen(key);
        if (len <= plen || strncmp(key, REGISTRY_CRED_PREFIX, plen) != 0 ||
            !identity_valid(key + plen, len - plen)) {
            metrics_def_count(M(REGISTRY_M_BAD_REPLIES), "credential key");
            continue;
        }
        zlistx_add_end(self->page, (void *)(key + plen));
    }
    snprintf(self->cursor, sizeof(self->cursor), "%s", cursor);
    self->scan_due = strcmp(cursor, "0") != 0;
    return true;
}

int registry_creds_on_replies(registry_creds_t *self, const registry_reply_t *const *replies,
                              size_t n, uint64_t now_us)
{
    bool broken = false;
    size_t i = 0;
    for (; i < self->ninflight; i++) {
        const registry_reply_t *r = i < n && replies ? replies[i] : NULL;
        if (!r || registry_reply_needs_reconnect(r)) {
            broken = true;
            break;
        }
        const work_t *w = &self->inflight[i];
        switch (w->kind) {
        case W_CHANGE:
        case W_PAGE:
            on_record(self, w, r);
            break;
        case W_SCAN:
            if (!on_scan(self, r))
                pass_abandon(self, now_us); /* tried again with a new generation */
            break;
        case W_USED:
            metrics_counter_add(r->type == REGISTRY_REPLY_INTEGER && r->integer == 1
                                    ? self->m_used_removed
                                    : self->m_used_stale,
                                1);
            break;
        }
    }
    if (broken) {
        /* unanswered changes are read again; the pass starts over; CRED_USED the edge repeats */
        for (size_t k = i; k < self->ninflight; k++)
            if (self->inflight[k].kind == W_CHANGE)
                zhashx_update(self->changed, self->inflight[k].identity, (void *)1);
        pass_abandon(self, now_us);
    } else if (self->pass && !self->scan_due && !zlistx_size(self->page)) {
        pass_end(self);
    }
    self->ninflight = 0;
    registry_batch_clear(self->batch);
    return broken ? -EPIPE : 0;
}
