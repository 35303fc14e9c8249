/* registry_cluster: slots, slot map, redirects and the Cluster plan of a batch command. See
 * registry_cluster.h. */
#include "registry_cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint16_t registry_cluster_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint8_t)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

int registry_cluster_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) /* "{}" is no tag: the whole key counts */
            return registry_cluster_crc16(open + 1, (size_t)(close - open - 1)) & 16383;
    }
    return registry_cluster_crc16(key, len) & 16383;
}

/* ---- the slot map --------------------------------------------------------------------------- */

static int cmp_addr(const void *a, const void *b)
{
    const registry_addr_t *x = a, *y = b;
    int c = strcmp(x->host, y->host);
    return c ? c : (x->port > y->port) - (x->port < y->port);
}

int registry_cluster_map_find(const registry_cluster_map_t *map, const char *host, int port)
{
    for (int i = 0; i < map->nnodes; i++)
        if (map->nodes[i].port == port && strcmp(map->nodes[i].host, host) == 0)
            return i;
    return -1;
}

static bool reply_long(const registry_reply_t *r, long long *v)
{
    if (!r)
        return false;
    if (r->type == REGISTRY_REPLY_INTEGER) {
        *v = r->integer;
        return true;
    }
    if (r->type != REGISTRY_REPLY_STRING || !r->len || r->len > 20)
        return false;
    char *end;
    *v = strtoll(r->str, &end, 10);
    return *end == '\0';
}

int registry_cluster_map_parse(const registry_reply_t *r, const char *fallback_host,
                               registry_cluster_map_t *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    memset(out->slot_node, REGISTRY_CLUSTER_NO_NODE, sizeof(out->slot_node));
    if (!r || r->type != REGISTRY_REPLY_ARRAY) {
        snprintf(why, whylen, "CLUSTER SLOTS answered no array");
        return -EINVAL;
    }
    /* first pass: validate and collect the masters; second: assign slots by sorted index */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < r->elements; i++) {
            const registry_reply_t *e = r->element[i];
            long long start, end, port;
            if (!e || e->type != REGISTRY_REPLY_ARRAY || e->elements < 3 ||
                !reply_long(e->element[0], &start) || !reply_long(e->element[1], &end) ||
                start < 0 || end < start || end >= REGISTRY_CLUSTER_SLOTS) {
                snprintf(why, whylen, "CLUSTER SLOTS entry %zu: no valid slot range", i);
                return -EINVAL;
            }
            const registry_reply_t *m = e->element[2];
            if (!m || m->type != REGISTRY_REPLY_ARRAY || m->elements < 2 || !m->element[0] ||
                m->element[0]->type != REGISTRY_REPLY_STRING || !reply_long(m->element[1], &port) ||
                port < 1 || port > 65535) {
                snprintf(why, whylen, "CLUSTER SLOTS entry %zu: no valid master address", i);
                return -EINVAL;
            }
            const char *host = m->element[0]->str;
            if (!host[0] || strcmp(host, "?") == 0)
                host = fallback_host ? fallback_host : "";
            if (!host[0] || strlen(host) >= sizeof(out->nodes[0].host) ||
                (host == m->element[0]->str && strlen(host) != m->element[0]->len)) {
                snprintf(why, whylen, "CLUSTER SLOTS entry %zu: bad master host", i);
                return -EINVAL;
            }
            int idx = registry_cluster_map_find(out, host, (int)port);
            if (pass == 0) {
                if (idx < 0) {
                    if (out->nnodes == REGISTRY_CLUSTER_MAX_NODES) {
                        snprintf(why, whylen, "more than %d masters", REGISTRY_CLUSTER_MAX_NODES);
                        return -EINVAL;
                    }
                    registry_addr_t *a = &out->nodes[out->nnodes++];
                    snprintf(a->host, sizeof(a->host), "%s", host);
                    a->port = (int)port;
                }
                continue;
            }
            for (long long s = start; s <= end; s++)
                out->slot_node[s] = (uint8_t)idx;
        }
        if (pass == 0)
            qsort(out->nodes, (size_t)out->nnodes, sizeof(out->nodes[0]), cmp_addr);
    }
    for (int s = 0; s < REGISTRY_CLUSTER_SLOTS; s++)
        out->covered += out->slot_node[s] != REGISTRY_CLUSTER_NO_NODE;
    return 0;
}

/* ---- redirects ---------------------------------------------------------------------------- */

registry_redirect_t registry_cluster_parse_redirect(const char *s, size_t len)
{
    registry_redirect_t rd = {REGISTRY_REDIRECT_NONE, -1, {{0}, 0}};
    char buf[320];
    if (len >= sizeof(buf))
        return rd;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strlen(buf) != len)
        return rd; /* an embedded NUL */
    registry_redirect_kind_t kind;
    const char *p;
    if (strncmp(buf, "MOVED ", 6) == 0) {
        kind = REGISTRY_REDIRECT_MOVED;
        p = buf + 6;
    } else if (strncmp(buf, "ASK ", 4) == 0) {
        kind = REGISTRY_REDIRECT_ASK;
        p = buf + 4;
    } else {
        return rd;
    }
    if (*p < '0' || *p > '9')
        return rd;
    char *end;
    long slot = strtol(p, &end, 10);
    if (*end != ' ' || slot < 0 || slot >= REGISTRY_CLUSTER_SLOTS || end - p > 5)
        return rd;
    const char *addr = end + 1;
    const char *colon = strrchr(addr, ':'); /* the last one: an IPv6 address has more */
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(rd.to.host) || colon[1] < '0' ||
        colon[1] > '9')
        return rd;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535 || strchr(addr, ' '))
        return rd;
    memcpy(rd.to.host, addr, (size_t)(colon - addr));
    rd.to.host[colon - addr] = '\0';
    rd.to.port = (int)port;
    rd.slot = (int)slot;
    rd.kind = kind;
    return rd;
}

/* ---- routing ------------------------------------------------------------------------------ */

int registry_cluster_command_slot(const registry_batch_t *b, size_t i)
{
    size_t argc = registry_batch_argc(b, i);
    if (registry_batch_script_of(b, i) != REGISTRY_BATCH_PLAIN) {
        if (!registry_batch_numkeys(b, i) || !argc)
            return -1;
        const char *k = registry_batch_arg(b, i, 0);
        return registry_cluster_key_slot(k, strlen(k));
    }
    if (argc < 2)
        return -1;
    const char *cmd = registry_batch_arg(b, i, 0);
    static const char *const keyless[] = {"SCAN", "PUBLISH", "PING", "INFO", "CLUSTER", "TIME"};
    for (size_t j = 0; j < sizeof(keyless) / sizeof(keyless[0]); j++)
        if (strcasecmp(cmd, keyless[j]) == 0)
            return -1;
    const char *k = registry_batch_arg(b, i, 1);
    return registry_cluster_key_slot(k, strlen(k));
}

/* ---- replies ------------------------------------------------------------------------------ */

registry_reply_t *registry_reply_clone(const registry_reply_t *r)
{
    if (!r)
        return NULL;
    switch (r->type) {
    case REGISTRY_REPLY_NIL:
        return registry_reply_nil();
    case REGISTRY_REPLY_INTEGER:
        return registry_reply_int(r->integer);
    case REGISTRY_REPLY_ARRAY: {
        registry_reply_t *a = registry_reply_array(r->elements);
        for (size_t i = 0; a && i < r->elements; i++) {
            if (!r->element[i])
                continue;
            a->element[i] = registry_reply_clone(r->element[i]);
            if (!a->element[i])
                registry_reply_destroy(&a);
        }
        return a;
    }
    default:
        return registry_reply_text(r->type, r->str, r->len);
    }
}

/* ---- the plan ----------------------------------------------------------------------------- */

/* steps of the plans (op->step after the step that sent them) */
enum {
    ST_NONE,
    ST_MAIN,       /* the one-slot command (or EXISTS of the lease for SWEEP) was sent */
    ST_AFTER,      /* follow-up writes sent; the result is op->main (or op->result) */
    ST_CHECK,      /* CLAIM: EXISTS of the previous pod's lease sent */
    ST_RECLAIM,    /* CLAIM: sent again, the previous pod named dead */
    ST_REFUSED,    /* CLAIM: refused; our pod set's SREM sent, op->result set */
    ST_SWEEP,      /* SWEEP: the one-slot script and the SREM were sent */
    ST_LOOKUP_LIVE /* LOOKUP: EXISTS of the owner's lease sent */
};

void registry_cluster_op_reset(registry_cluster_op_t *op)
{
    registry_reply_destroy(&op->result);
    registry_reply_destroy(&op->main);
    memset(op, 0, sizeof(*op));
}

static bool is_err(const registry_reply_t *r)
{
    return !r || r->type == REGISTRY_REPLY_ERROR;
}

/* KEYS[k] and ARGV[k] (1-based, as in the scripts) of command i. */
static const char *key_of(const registry_batch_t *b, size_t i, size_t k)
{
    return k <= registry_batch_numkeys(b, i) ? registry_batch_arg(b, i, k - 1) : "";
}

static const char *argv_of(const registry_batch_t *b, size_t i, size_t k)
{
    size_t j = registry_batch_numkeys(b, i) + k - 1;
    return j < registry_batch_argc(b, i) ? registry_batch_arg(b, i, j) : "";
}

static int emit(registry_batch_t *out, int *targets, int *n, int target, const char *const *argv,
                size_t argc)
{
    if (registry_batch_command(out, argv, argc) < 0)
        return -ENOMEM;
    targets[(*n)++] = target;
    return 0;
}

/* The one-slot variant of command i: its keys (picked by number, 1-based), its arguments and
 * extra ones at the end. */
static int emit_variant(registry_batch_t *out, int *targets, int *n, const registry_batch_t *b,
                        size_t i, registry_script_t script, const int *keys, size_t nkeys,
                        const char *extra)
{
    const char *argv[REGISTRY_BATCH_MAX_ARGS];
    size_t argc = 0, numkeys = registry_batch_numkeys(b, i);
    for (size_t k = 0; k < nkeys; k++)
        argv[argc++] = key_of(b, i, (size_t)keys[k]);
    for (size_t j = numkeys; j < registry_batch_argc(b, i) && argc < REGISTRY_BATCH_MAX_ARGS; j++)
        argv[argc++] = registry_batch_arg(b, i, j);
    if (extra && argc < REGISTRY_BATCH_MAX_ARGS)
        argv[argc++] = extra;
    if (registry_batch_script(out, script, nkeys, argv, argc) < 0)
        return -ENOMEM;
    targets[(*n)++] = -1;
    return 0;
}

static int emit_pod_set(registry_batch_t *out, int *targets, int *n, const char *verb,
                        const char *pod, const char *identity)
{
    char key[200];
    if (registry_key_pod_conns(pod, key, sizeof(key)) < 0)
        return 0; /* cannot name it: the sweeper and reconcile repair the index */
    const char *argv[] = {verb, key, identity};
    return emit(out, targets, n, -1, argv, 3);
}

/* {elem0, prev, "", "", "refused"}: the answer of a refused claim. */
static registry_reply_t *refused(const registry_reply_t *main)
{
    registry_reply_t *a = registry_reply_array(5);
    if (!a)
        return NULL;
    const char *prev = registry_reply_elem_str(main, 1);
    a->element[0] = registry_reply_int(registry_reply_elem_int(main, 0));
    a->element[1] = registry_reply_text(REGISTRY_REPLY_STRING, prev, strlen(prev));
    a->element[2] = registry_reply_text(REGISTRY_REPLY_STRING, "", 0);
    a->element[3] = registry_reply_text(REGISTRY_REPLY_STRING, "", 0);
    a->element[4] = registry_reply_text(REGISTRY_REPLY_STRING, "refused", 7);
    for (int k = 0; k < 5; k++)
        if (!a->element[k])
            registry_reply_destroy(&a);
    return a;
}

static int finish(registry_cluster_op_t *op, registry_reply_t *result)
{
    registry_reply_destroy(&op->result);
    op->result = result;
    return op->result ? 0 : -ENOMEM;
}

static int finish_copy(registry_cluster_op_t *op, const registry_reply_t *r)
{
    if (!r)
        return finish(op, registry_reply_nil());
    return finish(op, registry_reply_clone(r));
}

/* A claim's answer (first or second attempt): claimed -> the previous pod's set loses the
 * identity; check on the first attempt -> read the previous pod's lease; check again (the
 * mapping changed hands meanwhile) -> refused, as the single script would when in doubt. */
static int claim_answer(registry_cluster_op_t *op, const registry_batch_t *b, size_t i,
                        const registry_reply_t *main, bool second, registry_batch_t *out,
                        int *targets)
{
    int n = 0;
    const char *pod = argv_of(b, i, 1), *identity = argv_of(b, i, 7);
    const char *state = registry_reply_elem_str(main, 4);
    const char *prev = registry_reply_elem_str(main, 1);
    if (strcmp(state, "check") == 0 && !second) {
        snprintf(op->prev, sizeof(op->prev), "%s", prev);
        registry_reply_destroy(&op->main);
        op->main = registry_reply_clone(main); /* its epoch, if the answer is "refused" */
        if (!op->main)
            return -ENOMEM;
        char lease[200];
        if (registry_key_lease(prev, lease, sizeof(lease)) < 0)
            return finish(op, refused(main));
        const char *argv[] = {"EXISTS", lease};
        if (emit(out, targets, &n, -1, argv, 2) < 0)
            return -ENOMEM;
        op->step = ST_CHECK;
        return n;
    }
    if (strcmp(state, "check") == 0) {
        if (finish(op, refused(main)) < 0)
            return -ENOMEM;
        if (strcmp(prev, pod) != 0 && emit_pod_set(out, targets, &n, "SREM", pod, identity) < 0)
            return -ENOMEM;
        op->step = ST_REFUSED;
        return n;
    }
    if (strcmp(state, "claimed") == 0 && prev[0] && strcmp(prev, pod) != 0) {
        registry_reply_destroy(&op->main);
        op->main = registry_reply_clone(main);
        if (!op->main || emit_pod_set(out, targets, &n, "SREM", prev, identity) < 0)
            return -ENOMEM;
        if (n) {
            op->step = ST_AFTER;
            return n;
        }
    }
    return finish_copy(op, main);
}

static int plan_claim(registry_cluster_op_t *op, const registry_batch_t *b, size_t i,
                      const registry_reply_t *const *replies, size_t nr, registry_batch_t *out,
                      int *targets)
{
    static const int keys[] = {1, 2, 3};
    int n = 0;
    const char *pod = argv_of(b, i, 1), *identity = argv_of(b, i, 7);
    switch (op->step) {
    case ST_NONE: /* the index first: pod set ⊇ mappings the pod owns, whatever fails next */
        if (emit_pod_set(out, targets, &n, "SADD", pod, identity) < 0 ||
            emit_variant(out, targets, &n, b, i, REGISTRY_SCRIPT_CLAIM_CLUSTER, keys, 3, "") < 0)
            return -ENOMEM;
        op->step = ST_MAIN;
        return n;
    case ST_MAIN: {
        const registry_reply_t *main = nr ? replies[nr - 1] : NULL;
        if (is_err(main))
            return finish_copy(op, main);
        return claim_answer(op, b, i, main, false, out, targets);
    }
    case ST_CHECK: {
        const registry_reply_t *live = nr ? replies[0] : NULL;
        if (is_err(live))
            return finish_copy(op, live);
        if (live->type == REGISTRY_REPLY_INTEGER && live->integer == 0) {
            if (emit_variant(out, targets, &n, b, i, REGISTRY_SCRIPT_CLAIM_CLUSTER, keys, 3,
                             op->prev) < 0)
                return -ENOMEM;
            op->step = ST_RECLAIM;
            return n;
        }
        /* the previous pod holds a lease: refused, as the single script answers */
        registry_reply_t *r = refused(op->main);
        if (finish(op, r) < 0)
            return -ENOMEM;
        if (strcmp(op->prev, pod) != 0 && emit_pod_set(out, targets, &n, "SREM", pod, identity) < 0)
            return -ENOMEM;
        op->step = ST_REFUSED;
        return n;
    }
    case ST_RECLAIM: {
        const registry_reply_t *main = nr ? replies[0] : NULL;
        if (is_err(main))
            return finish_copy(op, main);
        return claim_answer(op, b, i, main, true, out, targets);
    }
    case ST_REFUSED:
        return 0;
    default: /* ST_AFTER */
        return finish(op, op->main ? registry_reply_clone(op->main) : registry_reply_nil());
    }
}

static int plan_reassert(registry_cluster_op_t *op, const registry_batch_t *b, size_t i,
                         const registry_reply_t *const *replies, size_t nr, registry_batch_t *out,
                         int *targets)
{
    static const int keys[] = {1, 2, 3};
    int n = 0;
    const char *pod = argv_of(b, i, 1), *identity = argv_of(b, i, 8);
    if (op->step == ST_NONE) {
        if (emit_pod_set(out, targets, &n, "SADD", pod, identity) < 0 ||
            emit_variant(out, targets, &n, b, i, REGISTRY_SCRIPT_REASSERT_CLUSTER, keys, 3, NULL) <
                0)
            return -ENOMEM;
        op->step = ST_MAIN;
        return n;
    }
    if (op->step == ST_AFTER)
        return finish(op, op->main ? registry_reply_clone(op->main) : registry_reply_nil());
    const registry_reply_t *main = nr ? replies[nr - 1] : NULL;
    if (is_err(main))
        return finish_copy(op, main);
    /* superseded by another pod: that pod's claim moved the identity, ours was an extra */
    if (strcmp(registry_reply_elem_str(main, 1), "superseded") == 0 &&
        strcmp(registry_reply_elem_str(main, 2), pod) != 0) {
        op->main = registry_reply_clone(main);
        if (!op->main || emit_pod_set(out, targets, &n, "SREM", pod, identity) < 0)
            return -ENOMEM;
        if (n) {
            op->step = ST_AFTER;
            return n;
        }
    }
    return finish_copy(op, main);
}

static int plan_release(registry_cluster_op_t *op, const registry_batch_t *b, size_t i,
                        const registry_reply_t *const *replies, size_t nr, registry_batch_t *out,
                        int *targets)
{
    static const int keys[] = {1, 2, 3};
    int n = 0;
    if (op->step == ST_NONE) {
        if (emit_variant(out, targets, &n, b, i, REGISTRY_SCRIPT_RELEASE_CLUSTER, keys, 3, NULL) <
            0)
            return -ENOMEM;
        op->step = ST_MAIN;
        return n;
    }
    if (op->step == ST_AFTER)
        return finish(op, op->main ? registry_reply_clone(op->main) : registry_reply_nil());
    const registry_reply_t *main = nr ? replies[0] : NULL;
    if (is_err(main) || main->type != REGISTRY_REPLY_INTEGER)
        return finish_copy(op, main);
    if (main->integer == 2) /* ours under a newer epoch: the set keeps it */
        return finish(op, registry_reply_int(0));
    op->main = registry_reply_clone(main);
    if (!op->main || emit_pod_set(out, targets, &n, "SREM", argv_of(b, i, 2), argv_of(b, i, 3)) < 0)
        return -ENOMEM;
    if (!n)
        return finish_copy(op, main);
    op->step = ST_AFTER;
    return n;
}

static int plan_lookup(registry_cluster_op_t *op, const registry_batch_t *b, size_t i,
                       const registry_reply_t *const *replies, size_t nr, registry_batch_t *out,
                       int *targets)
{
    static const int keys[] = {1, 2};
    int n = 0;
    if (op->step == ST_NONE) {
        if (emit_variant(out, targets, &n, b, i, REGISTRY_SCRIPT_LOOKUP_CLUSTER, keys, 2, NULL) < 0)
            return -ENOMEM;
        op->step = ST_MAIN;
        return n;
    }
    const registry_reply_t *r = nr ? replies[0] : NULL;
    if (op->step == ST_MAIN) {
        const char *pod = registry_reply_elem_str(r, 0);
        char lease[256];
        if (is_err(r) || !pod[0] ||
            snprintf(lease, sizeof(lease), "%s{%s}", argv_of(b, i, 1), pod) >= (int)sizeof(lease))
            return finish_copy(op, r);
        op->main = registry_reply_clone(r);
        const char *argv[] = {"EXISTS", lease};
        if (!op->main || emit(out, targets, &n, -1, argv, 2) < 0)
            return -ENOMEM;
        op->step = ST_LOOKUP_LIVE;
        return n;
    }
    if (is_err(r))
        return finish_copy(op, r);
    registry_reply_t *a = registry_reply_clone(op->main);
    if (!a || a->type != REGISTRY_REPLY_ARRAY || a->elements < 3) {
        registry_reply_destroy(&a);
        return finish_copy(op, op->main);
    }
    registry_reply_destroy(&a->element[2]);
    a->element[2] = registry_reply_int(r->type == REGISTRY_REPLY_INTEGER ? r->integer : 0);
    return finish(op, a);
}

static int plan_sweep(registry_cluster_op_t *op, const registry_batch_t *b, size_t i,
                      const registry_reply_t *const *replies, size_t nr, registry_batch_t *out,
                      int *targets)
{
    static const int keys[] = {1, 2, 5};
    int n = 0;
    if (op->step == ST_NONE) { /* the lease first: a pod back alive is never swept */
        const char *argv[] = {"EXISTS", key_of(b, i, 4)};
        if (emit(out, targets, &n, -1, argv, 2) < 0)
            return -ENOMEM;
        op->step = ST_MAIN;
        return n;
    }
    const registry_reply_t *r = nr ? replies[0] : NULL;
    if (is_err(r))
        return finish_copy(op, r);
    if (op->step == ST_SWEEP)
        return finish_copy(op, r);
    if (r->type != REGISTRY_REPLY_INTEGER || r->integer != 0) {
        registry_reply_t *a = registry_reply_array(2);
        if (a) {
            a->element[0] = registry_reply_int(-1);
            a->element[1] = registry_reply_int(0);
            if (!a->element[0] || !a->element[1])
                registry_reply_destroy(&a);
        }
        return finish(op, a);
    }
    const char *srem[] = {"SREM", key_of(b, i, 3), argv_of(b, i, 2)};
    if (emit_variant(out, targets, &n, b, i, REGISTRY_SCRIPT_SWEEP_CLUSTER, keys, 3, NULL) < 0 ||
        emit(out, targets, &n, -1, srem, 3) < 0)
        return -ENOMEM;
    op->step = ST_SWEEP;
    return n;
}

static int plan_takeover(registry_cluster_op_t *op, const registry_batch_t *b, size_t i,
                         const registry_reply_t *const *replies, size_t nr, registry_batch_t *out,
                         int *targets)
{
    static const int keys[] = {1, 2, 3, 4, 5, 6};
    int n = 0;
    if (op->step == ST_NONE) {
        if (emit_variant(out, targets, &n, b, i, REGISTRY_SCRIPT_TAKEOVER_CLUSTER, keys, 6, NULL) <
            0)
            return -ENOMEM;
        op->step = ST_MAIN;
        return n;
    }
    if (op->step == ST_AFTER)
        return finish(op, op->main ? registry_reply_clone(op->main) : registry_reply_nil());
    const registry_reply_t *r = nr ? replies[0] : NULL;
    if (is_err(r) || r->type != REGISTRY_REPLY_ARRAY || r->elements < 3)
        return finish_copy(op, r);
    bool gone = r->elements > 3 && registry_reply_elem_int(r, 3) == 1;
    registry_reply_t *a = registry_reply_array(3); /* the single script's three elements */
    for (size_t k = 0; a && k < 3; k++)
        if (r->element[k] && !(a->element[k] = registry_reply_clone(r->element[k])))
            registry_reply_destroy(&a);
    if (!a)
        return -ENOMEM;
    if (!gone)
        return finish(op, a);
    op->main = a;
    const char *srem[] = {"SREM", key_of(b, i, 7), argv_of(b, i, 5)};
    if (emit(out, targets, &n, -1, srem, 3) < 0)
        return -ENOMEM;
    op->step = ST_AFTER;
    return n;
}

/* SCAN over every master in turn: the composite cursor "<master>:<cursor>" ("0": the start of
 * the first master, and the end of the walk). */
static int plan_scan(registry_cluster_op_t *op, const registry_batch_t *b, size_t i, int nnodes,
                     const registry_reply_t *const *replies, size_t nr, registry_batch_t *out,
                     int *targets)
{
    const char *cursor = registry_batch_arg(b, i, 1);
    long node = 0;
    const char *node_cursor = "0";
    const char *colon = strchr(cursor, ':');
    if (colon) {
        char *end;
        node = strtol(cursor, &end, 10);
        if (end != colon || node < 0 || node >= nnodes)
            node = 0; /* the map changed under the walk: start over */
        else
            node_cursor = colon + 1;
    }
    int n = 0;
    if (op->step == ST_NONE) {
        const char *argv[REGISTRY_BATCH_MAX_ARGS];
        size_t argc = registry_batch_argc(b, i);
        for (size_t j = 0; j < argc; j++)
            argv[j] = registry_batch_arg(b, i, j);
        argv[1] = node_cursor;
        if (emit(out, targets, &n, nnodes > 0 ? (int)node : -1, argv, argc) < 0)
            return -ENOMEM;
        op->step = ST_MAIN;
        return n;
    }
    const registry_reply_t *r = nr ? replies[0] : NULL;
    if (is_err(r) || r->type != REGISTRY_REPLY_ARRAY || r->elements != 2)
        return finish_copy(op, r);
    const char *next = registry_reply_elem_str(r, 0);
    char composite[48];
    if (strcmp(next, "0") != 0)
        snprintf(composite, sizeof(composite), "%ld:%.30s", node, next);
    else if (node + 1 < nnodes)
        snprintf(composite, sizeof(composite), "%ld:0", node + 1);
    else
        snprintf(composite, sizeof(composite), "0");
    registry_reply_t *a = registry_reply_array(2);
    if (a) {
        a->element[0] = registry_reply_text(REGISTRY_REPLY_STRING, composite, strlen(composite));
        a->element[1] = registry_reply_clone(r->element[1]);
        if (!a->element[0] || (r->element[1] && !a->element[1]))
            registry_reply_destroy(&a);
    }
    return finish(op, a);
}

int registry_cluster_op_step(registry_cluster_op_t *op, const registry_batch_t *b, size_t i,
                             int nnodes, const registry_reply_t *const *replies, size_t n,
                             registry_batch_t *out, int *targets)
{
    if (op->result)
        return 0;
    switch (registry_batch_script_of(b, i)) {
    case REGISTRY_SCRIPT_CLAIM:
        return plan_claim(op, b, i, replies, n, out, targets);
    case REGISTRY_SCRIPT_REASSERT:
        return plan_reassert(op, b, i, replies, n, out, targets);
    case REGISTRY_SCRIPT_RELEASE:
        return plan_release(op, b, i, replies, n, out, targets);
    case REGISTRY_SCRIPT_LOOKUP:
        return plan_lookup(op, b, i, replies, n, out, targets);
    case REGISTRY_SCRIPT_SWEEP:
        return plan_sweep(op, b, i, replies, n, out, targets);
    case REGISTRY_SCRIPT_TAKEOVER:
        return plan_takeover(op, b, i, replies, n, out, targets);
    case REGISTRY_BATCH_PLAIN:
        if (registry_batch_argc(b, i) >= 2 && strcasecmp(registry_batch_arg(b, i, 0), "SCAN") == 0)
            return plan_scan(op, b, i, nnodes, replies, n, out, targets);
        break;
    default:
        break;
    }
    /* one slot already (or keyless): sent as it is */
    if (op->step == ST_NONE) {
        const char *argv[REGISTRY_BATCH_MAX_ARGS];
        size_t argc = registry_batch_argc(b, i);
        for (size_t j = 0; j < argc; j++)
            argv[j] = registry_batch_arg(b, i, j);
        int script = registry_batch_script_of(b, i);
        int rc = script == REGISTRY_BATCH_PLAIN
                     ? registry_batch_command(out, argv, argc)
                     : registry_batch_script(out, (registry_script_t)script,
                                             registry_batch_numkeys(b, i), argv, argc);
        if (rc < 0)
            return -ENOMEM;
        targets[0] = -1;
        op->step = ST_MAIN;
        return 1;
    }
    return finish_copy(op, n ? replies[0] : NULL);
}
