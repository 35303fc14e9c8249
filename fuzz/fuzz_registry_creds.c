/* fuzz_registry_creds.c: libFuzzer driver for registry_creds, the credential sync engine of
 * redis-registry, and for registry_cred_record, its conversion of what Redis holds (any hash a
 * backend wrote) into the lines an edge parses.
 *
 * The input is read as a sequence of events: edges saying HELLO (new or repeated instances),
 * records written, changed to arbitrary bytes or deleted in a small model of Redis (each change
 * published, or not: the periodic rescan repairs it), CRED_USED, ticks (the rescan), resync-all,
 * and flushes whose batch is answered in full, cut short (the connection broke after some
 * commands) or with a garbage SCAN answer; an edge's outbox may refuse a message (-ENOBUFS). At
 * the end every batch is answered until nothing waits.
 *
 * Invariants (abort on violation):
 *  - per edge: nothing before its first CRED_SYNC start; generations strictly increase; every
 *    CRED carries the generation of the sync in progress or of the last one; CRED_SYNC done only
 *    for the sync in progress, with the count of CREDs of that generation it was sent; a sync
 *    that ends has sent every record that existed (unchanged) during the whole sync;
 *  - every record sent is what Redis held when it was read (empty: deleted), converted by
 *    registry_cred_record: either REGISTRY_CRED_INVALID or name=value lines (names
 *    [a-z0-9_]{1,32}, values printable ASCII, each known field at most once, in the canonical
 *    order, before any other field), never longer than REGISTRY_CRED_RECORD_MAX - 1;
 *  - at the end every edge is synced (an edge that refused a message got another full sync);
 *  - the work waiting stays bounded (pending_max).
 * Seeds: fuzz/corpus/registry_creds/. */
#include "registry_creds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "registry_fuzz.h"
#include "registry_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NIDS   5
#define NEDGES 3
#define FIELDS 8
#define VALMAX 48

static const char *const IDS[NIDS] = {"CP0", "CP1", "CP-2", "C3", "CP4"};
static const char *const EDGES[NEDGES] = {"edge-0", "edge-1", "edge-2"};
static const char *const NAMES[] = {
    "v",         "profile",   "alg",        "iter",     "salt", "hash", "prev_alg", "prev_iter",
    "prev_salt", "prev_hash", "updated_ms", "x_future", "Bad",  "a=b",  "",         "fp"};
#define NNAMES (sizeof(NAMES) / sizeof(NAMES[0]))
#define NKNOWN 11

typedef struct {
    bool exists;
    size_t n;
    uint8_t name[FIELDS];
    char value[FIELDS][VALMAX];
    size_t vlen[FIELDS];
    bool not_hash; /* WRONGTYPE */
    uint32_t version;
} record_t;

typedef struct {
    bool known; /* said HELLO */
    uint64_t instance;
    bool started; /* a sync started once */
    bool in_sync;
    uint64_t gen; /* of the sync in progress or the last one */
    uint64_t count;
    bool synced;
    bool got[NIDS];        /* sent during the sync in progress */
    uint32_t seen_v[NIDS]; /* record version at the sync's start (0: absent) */
    bool full;             /* its outbox refuses now */
    bool refused;          /* a message of the sync in progress was refused */
} edge_t;

static struct {
    registry_creds_t *creds;
    uint64_t now;
    record_t rec[NIDS];
    uint32_t next_version;
    edge_t edge[NEDGES];
    bool connected;
    bool trace; /* FUZZ_TRACE: steps, batches and messages on stderr */
} F;

/* ---- the record as the engine must send it ------------------------------------------------ */

static int edge_of(const char *id)
{
    for (int i = 0; i < NEDGES; i++)
        if (strcmp(id, EDGES[i]) == 0)
            return i;
    return -1;
}

static int id_of(env_str_t s)
{
    for (int i = 0; i < NIDS; i++)
        if (s.len == strlen(IDS[i]) && memcmp(s.ptr, IDS[i], s.len) == 0)
            return i;
    return -1;
}

/* The HGETALL answer of record i. */
static registry_reply_t *hgetall(int i)
{
    const record_t *r = &F.rec[i];
    if (r->exists && r->not_hash)
        return registry_reply_text(REGISTRY_REPLY_ERROR, "WRONGTYPE x", 11);
    if (!r->exists)
        return registry_reply_array(0);
    registry_reply_t *a = registry_reply_array(2 * r->n);
    for (size_t k = 0; k < r->n; k++) {
        a->element[2 * k] = text(NAMES[r->name[k]]);
        a->element[2 * k + 1] = registry_reply_text(REGISTRY_REPLY_STRING, r->value[k], r->vlen[k]);
    }
    return a;
}

/* The lines: invalid, or a valid set in the canonical order. */
static void check_record(const uint8_t *p, size_t len)
{
    CHECK(len < REGISTRY_CRED_RECORD_MAX, "record too long");
    if (len == strlen(REGISTRY_CRED_INVALID) && memcmp(p, REGISTRY_CRED_INVALID, len) == 0)
        return;
    int last_known = -1;
    bool unknown_seen = false, seen[NKNOWN] = {0};
    for (size_t at = 0; at < len;) {
        const uint8_t *nl = memchr(p + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - p) : len;
        const uint8_t *eq = memchr(p + at, '=', end - at);
        CHECK(eq, "a line without '='");
        size_t nlen = (size_t)(eq - (p + at));
        CHECK(nlen >= 1 && nlen <= 32, "a name of bad length");
        for (size_t i = at; i < at + nlen; i++)
            CHECK((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_',
                  "a name with a bad character");
        for (size_t i = at + nlen + 1; i < end; i++)
            CHECK(p[i] >= 0x20 && p[i] <= 0x7e, "a value with a bad byte");
        int k = -1;
        for (int n = 0; n < NKNOWN; n++)
            if (strlen(NAMES[n]) == nlen && memcmp(NAMES[n], p + at, nlen) == 0)
                k = n;
        if (k >= 0) {
            CHECK(!unknown_seen && k > last_known && !seen[k], "known fields out of order");
            seen[k] = true;
            last_known = k;
        } else {
            unknown_seen = true;
        }
        CHECK(nl || end == len, "line");
        at = end + 1;
        CHECK(!nl || at < len, "a trailing newline");
    }
}

/* What the engine must send for record i read now. */
static void expected(int i, char *out, size_t outlen, size_t *len)
{
    registry_reply_t *r = hgetall(i);
    const char *why;
    int n = registry_cred_record(r, out, outlen, &why);
    registry_reply_destroy(&r);
    *len = n < 0 ? strlen(out) : (size_t)n;
}

/* ---- effects ------------------------------------------------------------------------------ */

static int to_edge(void *arg, const char *edge_id, const envelope_t *env)
{
    (void)arg;
    int e = edge_of(edge_id);
    if (F.trace)
        fprintf(stderr, "  -> %s %s gen %" PRIu64 " %s\n", edge_id,
                env->type == ENV_CRED ? "CRED" : "SYNC",
                env->type == ENV_CRED ? env->u.cred.generation : env->u.cred_sync.generation,
                env->type == ENV_CRED ? "" : (env->u.cred_sync.done ? "done" : "start"));
    CHECK(e >= 0 && F.edge[e].known, "message to an edge that never said HELLO");
    edge_t *g = &F.edge[e];
    if (env->type == ENV_CRED_SYNC) {
        const env_cred_sync_t *m = &env->u.cred_sync;
        if (!m->done) {
            CHECK(!g->started || m->generation > g->gen, "generation not increasing");
            g->started = g->in_sync = true;
            g->synced = false;
            g->refused = false;
            g->gen = m->generation;
            g->count = 0;
            for (int i = 0; i < NIDS; i++) {
                g->got[i] = false;
                g->seen_v[i] = F.rec[i].exists ? F.rec[i].version : 0;
            }
        } else {
            CHECK(g->in_sync && m->generation == g->gen, "end of a sync not in progress");
            CHECK(m->count == g->count, "CRED_SYNC count is not the CREDs sent");
            for (int i = 0; i < NIDS && F.trace; i++)
                fprintf(stderr, "  %s: seen %u now %u exists %d got %d\n", IDS[i], g->seen_v[i],
                        F.rec[i].version, F.rec[i].exists, g->got[i]);
            for (int i = 0; i < NIDS; i++) /* unchanged for the whole sync: must be in it */
                CHECK(!g->seen_v[i] || g->seen_v[i] != F.rec[i].version || !F.rec[i].exists ||
                          g->got[i],
                      "a record present for the whole sync was not sent");
            g->in_sync = false;
            g->synced = !g->full && !g->refused;
        }
    } else {
        CHECK(env->type == ENV_CRED, "unexpected envelope to an edge");
        CHECK(g->started, "CRED before the first sync");
        const env_cred_t *m = &env->u.cred;
        CHECK(m->generation == g->gen, "CRED of another generation");
        int i = id_of(m->identity);
        check_record(m->record.ptr, m->record.len);
        if (i < 0) { /* a published name with no record */
            CHECK(m->record.len == 0, "a record for an identity nobody wrote");
            g->count += g->in_sync;
            if (g->full)
                g->refused = true, g->synced = false;
            return g->full ? -ENOBUFS : 0;
        }
        char want[REGISTRY_CRED_RECORD_MAX];
        size_t wlen;
        expected(i, want, sizeof(want), &wlen);
        CHECK(m->record.len == wlen && memcmp(m->record.ptr, want, wlen) == 0,
              "CRED is not what Redis holds");
        if (g->in_sync) {
            g->count++;
            g->got[i] = true;
        }
    }
    if (g->full) {
        g->synced = false;
        g->refused = true;
        return -ENOBUFS;
    }
    return 0;
}

/* ---- the model of Redis ------------------------------------------------------------------- */

static registry_reply_t *scan(const char *cursor_text, size_t count, uint8_t garbage)
{
    int cursor = (int)strtol(cursor_text, NULL, 10);
    registry_reply_t *keys = registry_reply_array(NIDS + 2);
    size_t n = 0;
    int i = cursor;
    for (; i < NIDS && n < count; i++)
        if (F.rec[i].exists) {
            char key[64];
            snprintf(key, sizeof(key), "cred:%s", IDS[i]);
            keys->element[n++] = text(key);
        }
    if (garbage & 1)
        keys->element[n++] = text("cred:bad id");
    if (garbage & 2)
        keys->element[n++] = text("cred:");
    keys->elements = n;
    char next[8];
    snprintf(next, sizeof(next), "%d", i >= NIDS ? 0 : i);
    if (F.trace) {
        fprintf(stderr, "  scan %d -> next %s:", cursor, next);
        for (size_t k = 0; k < n; k++)
            fprintf(stderr, " %s", keys->element[k]->str);
        fprintf(stderr, "\n");
    }
    registry_reply_t *r = registry_reply_array(2);
    r->element[0] = text(next);
    r->element[1] = keys;
    return r;
}

static int id_of_key(const char *key)
{
    for (int i = 0; i < NIDS; i++) {
        char k[64];
        snprintf(k, sizeof(k), "cred:%s", IDS[i]);
        if (strcmp(k, key) == 0)
            return i;
    }
    return -1;
}

/* One batch: 0 answered, 1 cut after `cut` commands, 2 a garbage SCAN answer. */
static void flush(uint8_t outcome, uint8_t cut)
{
    if (!F.connected)
        return;
    const registry_batch_t *b = registry_creds_prepare(F.creds, F.now);
    if (!b)
        return;
    size_t n = registry_batch_size(b);
    registry_reply_t **r = calloc(n, sizeof(*r));
    size_t answered = outcome % 4 == 1 ? cut % (n + 1) : n;
    if (F.trace)
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  cmd %s %s%s\n", registry_batch_arg(b, i, 0),
                    registry_batch_arg(b, i, 1), i < answered ? "" : " (unanswered)");
    for (size_t i = 0; i < n; i++) {
        const char *a0 = registry_batch_arg(b, i, 0);
        if (registry_batch_script_of(b, i) == REGISTRY_SCRIPT_CRED_USED) {
            CHECK(registry_batch_argc(b, i) == 4, "CRED_USED arguments");
            r[i] = registry_reply_int(cut & 1);
        } else if (strcmp(a0, "SCAN") == 0) {
            CHECK(strcmp(registry_batch_arg(b, i, 3), "cred:*") == 0, "SCAN pattern");
            r[i] = outcome % 4 == 2 ? text("garbage")
                                    : scan(registry_batch_arg(b, i, 1),
                                           strtoull(registry_batch_arg(b, i, 5), NULL, 10), cut);
        } else {
            CHECK(strcmp(a0, "HGETALL") == 0, "a command the engine never sends");
            const char *key = registry_batch_arg(b, i, 1);
            CHECK(strncmp(key, "cred:", 5) == 0, "HGETALL of a key that is no credential's");
            int id = id_of_key(key); /* another identity (a published junk name): no record */
            r[i] = id >= 0 ? hgetall(id) : registry_reply_array(0);
        }
    }
    int rc =
        registry_creds_on_replies(F.creds, (const registry_reply_t *const *)r, answered, F.now);
    CHECK(answered == n || rc == -EPIPE, "a broken batch not reported");
    for (size_t i = 0; i < n; i++)
        registry_reply_destroy(&r[i]);
    free(r);
}

/* ---- events ------------------------------------------------------------------------------- */

static void write_record(input_t *in, int i, bool publish)
{
    record_t *r = &F.rec[i];
    r->exists = true;
    r->not_hash = next(in) == 0xff;
    r->n = next(in) % (FIELDS + 1);
    for (size_t k = 0; k < r->n; k++) {
        r->name[k] = next(in) % NNAMES;
        for (size_t j = 0; j < k; j++) /* a hash has each field once */
            if (r->name[j] == r->name[k])
                r->name[k] = (uint8_t)((r->name[k] + 1) % NNAMES);
        r->vlen[k] = next(in) % VALMAX;
        for (size_t j = 0; j < r->vlen[k]; j++) {
            uint8_t c = next(in);
            r->value[k][j] = (char)(c & 0x80 ? c : ' ' + c % 95); /* mostly printable */
        }
    }
    r->exists = r->n > 0 || r->not_hash; /* Redis has no empty hash */
    r->version = ++F.next_version;
    if (publish)
        registry_creds_on_changed(F.creds, IDS[i], strlen(IDS[i]));
}

static void step(input_t *in)
{
    uint8_t op = next(in), b = next(in);
    if (F.trace)
        fprintf(stderr, "step %d b=%d\n", op % 12, b);
    switch (op % 12) {
    case 0: { /* HELLO: a new instance, or the same again */
        int e = b % NEDGES;
        if (!F.edge[e].known || (b & 0x80))
            F.edge[e].instance += 1 + (b & 3);
        F.edge[e].known = true;
        env_hello_t m = {.edge_id = env_str(EDGES[e]),
                         .endpoint = env_str("ipc:///x"),
                         .instance = F.edge[e].instance};
        CHECK(registry_creds_on_hello(F.creds, &m, F.now) >= 0, "HELLO refused");
        break;
    }
    case 1:
    case 2:
        write_record(in, b % NIDS, !(b & 0x80));
        break;
    case 3: /* deleted */
        F.rec[b % NIDS].exists = false;
        F.rec[b % NIDS].version = ++F.next_version;
        if (!(b & 0x80))
            registry_creds_on_changed(F.creds, IDS[b % NIDS], strlen(IDS[b % NIDS]));
        break;
    case 4:
    case 5:
    case 6:
        flush(b, next(in));
        break;
    case 7: {
        char fp[24];
        snprintf(fp, sizeof(fp), "%016x", b);
        env_cred_used_t m = {.identity = env_str(IDS[b % NIDS]), .fingerprint = env_str(fp)};
        registry_creds_on_cred_used(F.creds, &m);
        break;
    }
    case 8:
        F.now += (uint64_t)b * 10000000u;
        registry_creds_tick(F.creds, F.now);
        break;
    case 9:
        registry_creds_resync_all(F.creds, "fuzz");
        break;
    case 10: /* an edge's outbox fills or drains */
        F.edge[b % NEDGES].full = !F.edge[b % NEDGES].full;
        break;
    case 11: { /* garbage on the channel, Redis unreachable and back */
        char junk[8];
        size_t n = b % sizeof(junk);
        for (size_t i = 0; i < n; i++)
            junk[i] = (char)next(in);
        registry_creds_on_changed(F.creds, junk, n);
        F.connected = !(b & 0x40);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&F, 0, sizeof(F));
    F.now = 1795489200000000u;
    F.connected = true;
    F.trace = getenv("FUZZ_TRACE") != NULL;
    registry_creds_config_t cfg = {
        .rescan_ms = 300000, .scan_count = 2, .batch_max = 6, .pending_max = 4};
    registry_creds_ops_t ops = {.to_edge = to_edge};
    F.creds = registry_creds_new(&cfg, &ops, NULL);
    if (!F.creds)
        return 0;
    input_t in = {data, size};
    while (in.n > 0)
        step(&in);
    /* settle: everything drains, every edge ends synced */
    F.connected = true;
    for (int e = 0; e < NEDGES; e++)
        F.edge[e].full = false;
    for (int i = 0, idle = 0; i < 500 && idle < 3; i++) {
        F.now += 1000000u; /* past any retry hold */
        idle = registry_creds_pending(F.creds, F.now) ? 0 : idle + 1;
        flush(0, 0);
    }
    CHECK(!registry_creds_pending(F.creds, F.now), "work left with Redis up");
    for (int e = 0; e < NEDGES; e++)
        CHECK(!F.edge[e].known || F.edge[e].synced, "an edge left without a full sync");
    registry_creds_destroy(&F.creds);
    metrics_shutdown();
    return 0;
}
