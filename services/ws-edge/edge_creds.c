/* edge_creds: the credential cache of the edge and its record parser. See edge_creds.h. */
#include "edge_creds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "edge_base64.h"
#include "hex.h"
#include "edge_metrics.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"

#define MAC_LEN        32
#define FIELD_NAME_MAX 32

/* ---- the record parser ------------------------------------------------------------------- */

/* Known fields; a bit each, so a repeated one is refused (two values for one field would leave
 * the record's meaning to the order of lines). */
enum {
    F_V = 1 << 0,
    F_PROFILE = 1 << 1,
    F_ALG = 1 << 2,
    F_ITER = 1 << 3,
    F_SALT = 1 << 4,
    F_HASH = 1 << 5,
    F_PREV_ALG = 1 << 6,
    F_PREV_ITER = 1 << 7,
    F_PREV_SALT = 1 << 8,
    F_PREV_HASH = 1 << 9,
    F_UPDATED = 1 << 10,
};

static const struct {
    const char *name;
    unsigned bit;
} FIELDS[] = {
    {"v", F_V},
    {"profile", F_PROFILE},
    {"alg", F_ALG},
    {"iter", F_ITER},
    {"salt", F_SALT},
    {"hash", F_HASH},
    {"prev_alg", F_PREV_ALG},
    {"prev_iter", F_PREV_ITER},
    {"prev_salt", F_PREV_SALT},
    {"prev_hash", F_PREV_HASH},
    {"updated_ms", F_UPDATED},
};

/* A decimal number without sign or leading zeros, at most max. */
static bool parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (d > max || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool is_alg(const char *s, size_t n, const char *alg)
{
    return n == strlen(alg) && memcmp(s, alg, n) == 0;
}

/* The fields of one hash (current or previous), as text views into the record. */
typedef struct {
    const char *alg, *iter, *salt, *hash;
    size_t alg_len, iter_len, salt_len, hash_len;
} hash_text_t;

static int parse_hash(const hash_text_t *t, edge_cred_hash_t *h, const char **why,
                      const char *what_iter, const char *what_salt, const char *what_hash)
{
    uint64_t iter;
    if (!t->iter || !parse_uint(t->iter, t->iter_len, EDGE_CRED_ITER_MAX, &iter) || iter == 0) {
        *why = what_iter;
        return -EINVAL;
    }
    h->iter = (uint32_t)iter;
    int n = t->salt ? edge_base64_decode(t->salt, t->salt_len, h->salt, sizeof(h->salt)) : -EINVAL;
    if (n < EDGE_CRED_SALT_MIN) {
        *why = what_salt;
        return -EINVAL;
    }
    h->salt_len = (uint8_t)n;
    n = t->hash ? edge_base64_decode(t->hash, t->hash_len, h->hash, sizeof(h->hash)) : -EINVAL;
    if (n != EDGE_CRED_HASH_LEN) {
        *why = what_hash;
        return -EINVAL;
    }
    return 0;
}

/* One line: its field stored as a view (known) or ignored (unknown). */
static int take_line(const char *line, size_t n, unsigned *seen, hash_text_t *cur,
                     hash_text_t *prev, const char **v, size_t *vlen, const char **profile,
                     size_t *plen, const char **updated, size_t *ulen, const char **why)
{
    const char *eq = memchr(line, '=', n);
    size_t name_len = eq ? (size_t)(eq - line) : 0;
    if (!eq || name_len == 0 || name_len > FIELD_NAME_MAX) {
        *why = "line";
        return -EINVAL;
    }
    for (size_t i = 0; i < name_len; i++)
        if (!((line[i] >= 'a' && line[i] <= 'z') || (line[i] >= '0' && line[i] <= '9') ||
              line[i] == '_')) {
            *why = "name";
            return -EINVAL;
        }
    const char *val = eq + 1;
    size_t val_len = n - name_len - 1;
    for (size_t i = 0; i < val_len; i++)
        if ((unsigned char)val[i] < 0x20 || (unsigned char)val[i] > 0x7E) {
            *why = "value";
            return -EINVAL;
        }
    unsigned bit = 0;
    for (size_t i = 0; i < sizeof(FIELDS) / sizeof(FIELDS[0]); i++)
        if (strlen(FIELDS[i].name) == name_len && memcmp(FIELDS[i].name, line, name_len) == 0)
            bit = FIELDS[i].bit;
    if (!bit)
        return 0; /* unknown field: a newer writer's, ignored */
    if (*seen & bit) {
        *why = "duplicate";
        return -EINVAL;
    }
    *seen |= bit;
    const char **dst = NULL;
    size_t *dlen = NULL;
    switch (bit) {
    case F_V:
        dst = v, dlen = vlen;
        break;
    case F_PROFILE:
        dst = profile, dlen = plen;
        break;
    case F_UPDATED:
        dst = updated, dlen = ulen;
        break;
    case F_ALG:
        dst = &cur->alg, dlen = &cur->alg_len;
        break;
    case F_ITER:
        dst = &cur->iter, dlen = &cur->iter_len;
        break;
    case F_SALT:
        dst = &cur->salt, dlen = &cur->salt_len;
        break;
    case F_HASH:
        dst = &cur->hash, dlen = &cur->hash_len;
        break;
    case F_PREV_ALG:
        dst = &prev->alg, dlen = &prev->alg_len;
        break;
    case F_PREV_ITER:
        dst = &prev->iter, dlen = &prev->iter_len;
        break;
    case F_PREV_SALT:
        dst = &prev->salt, dlen = &prev->salt_len;
        break;
    case F_PREV_HASH:
        dst = &prev->hash, dlen = &prev->hash_len;
        break;
    }
    *dst = val;
    *dlen = val_len;
    return 0;
}

int edge_cred_parse(const uint8_t *rec, size_t len, edge_cred_record_t *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (len == 0 || len > EDGE_CRED_RECORD_MAX) {
        *why = "length";
        return -EINVAL;
    }
    const char *s = (const char *)rec;
    if (s[len - 1] == '\n') /* one final newline is allowed, not an empty line */
        len--;
    unsigned seen = 0;
    hash_text_t cur = {0}, prev = {0};
    const char *v = NULL, *profile = NULL, *updated = NULL;
    size_t vlen = 0, plen = 0, ulen = 0;
    for (size_t start = 0; start <= len;) {
        const char *nl = memchr(s + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - s) : len;
        if (take_line(s + start, end - start, &seen, &cur, &prev, &v, &vlen, &profile, &plen,
                      &updated, &ulen, why) < 0)
            return -EINVAL;
        start = end + 1;
    }
    uint64_t n;
    if (!v || !parse_uint(v, vlen, UINT64_MAX, &n) || n != 1) {
        *why = "v";
        return -EINVAL;
    }
    if (!profile || !parse_uint(profile, plen, 3, &n) || n < 1) {
        *why = "profile";
        return -EINVAL;
    }
    out->profile = (uint8_t)n;
    if (updated && !parse_uint(updated, ulen, UINT64_MAX, &out->updated_ms)) {
        *why = "updated_ms";
        return -EINVAL;
    }
    if (cur.alg && is_alg(cur.alg, cur.alg_len, "pbkdf2-sha256")) {
        if (parse_hash(&cur, &out->cur, why, "iter", "salt", "hash") < 0)
            return -EINVAL;
        out->has_password = true;
        edge_cred_fingerprint(cur.hash, cur.hash_len, out->fingerprint);
    } else if (!cur.alg || !is_alg(cur.alg, cur.alg_len, "none") || out->profile < 3) {
        /* no password is only for a station that authenticates with its certificate */
        *why = "alg";
        return -EINVAL;
    }
    if (prev.alg || prev.iter || prev.salt || prev.hash) {
        if (!out->has_password || !prev.alg || !is_alg(prev.alg, prev.alg_len, "pbkdf2-sha256")) {
            *why = "prev_alg";
            return -EINVAL;
        }
        if (parse_hash(&prev, &out->prev, why, "prev_iter", "prev_salt", "prev_hash") < 0)
            return -EINVAL;
        out->has_prev = true;
    }
    return 0;
}

void edge_cred_fingerprint(const char *hash_text, size_t len,
                           char out[EDGE_CRED_FINGERPRINT_LEN + 1])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)hash_text, len, md);
    hex_encode(md, EDGE_CRED_FINGERPRINT_LEN / 2, out);
}

bool edge_cred_hash_matches(const edge_cred_hash_t *h, const char *password, size_t len)
{
    unsigned char out[EDGE_CRED_HASH_LEN];
    if (PKCS5_PBKDF2_HMAC(password, (int)len, h->salt, h->salt_len, (int)h->iter, EVP_sha256(),
                          sizeof(out), out) != 1)
        return false;
    bool same = CRYPTO_memcmp(out, h->hash, sizeof(out)) == 0;
    OPENSSL_cleanse(out, sizeof(out));
    return same;
}

/* ---- the cache ---------------------------------------------------------------------------- */

typedef struct {
    edge_cred_record_t rec;
    uint64_t epoch;   /* the edge's sync epoch that last saw the record */
    uint8_t ok_which; /* edge_pw_match_t of the remembered check (0: none) */
    uint8_t ok_mac[MAC_LEN];
} entry_t;

struct edge_creds {
    zhashx_t *by_identity; /* identity -> entry_t */
    uint8_t key[MAC_LEN];  /* random, per process: remembered checks are useless elsewhere */
    uint64_t epoch;        /* increases at the start of each full sync */
    bool in_sync, synced;
    uint64_t sync_generation, sync_received;
    metrics_gauge_t *m_count;
    metrics_counter_t *m_syncs;
};

static void entry_destroy(void **item)
{
    if (*item) {
        OPENSSL_cleanse(*item, sizeof(entry_t));
        free(*item);
        *item = NULL;
    }
}

edge_creds_t *edge_creds_new(void)
{
    edge_creds_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->by_identity = zhashx_new();
    if (!self->by_identity || RAND_bytes(self->key, sizeof(self->key)) != 1) {
        edge_creds_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->by_identity, entry_destroy);
    self->m_count = metrics_def_gauge(&EDGE_METRICS[EDGE_M_CREDENTIALS], NULL);
    self->m_syncs = metrics_def_counter(&EDGE_METRICS[EDGE_M_CRED_SYNCS], NULL);
    return self;
}

void edge_creds_destroy(edge_creds_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    edge_creds_t *self = *self_p;
    zhashx_destroy(&self->by_identity);
    OPENSSL_cleanse(self->key, sizeof(self->key));
    free(self);
    *self_p = NULL;
}

static bool mac_of(const edge_creds_t *self, const char *password, size_t len, uint8_t out[MAC_LEN])
{
    unsigned int n = MAC_LEN;
    return HMAC(EVP_sha256(), self->key, sizeof(self->key), (const unsigned char *)password, len,
                out, &n) != NULL &&
           n == MAC_LEN;
}

static bool same_hash(const edge_cred_hash_t *a, const edge_cred_hash_t *b)
{
    return a->iter == b->iter && a->salt_len == b->salt_len &&
           memcmp(a->salt, b->salt, a->salt_len) == 0 &&
           memcmp(a->hash, b->hash, sizeof(a->hash)) == 0;
}

/* A new record for an identity: a remembered check survives only if the hash it matched is
 * the same in the new record (a full resync repeats unchanged records). */
static void keep_or_forget(entry_t *e, const edge_cred_record_t *old)
{
    bool keep = false;
    if (e->ok_which == EDGE_PW_CURRENT)
        keep = old->has_password && e->rec.has_password && same_hash(&old->cur, &e->rec.cur);
    else if (e->ok_which == EDGE_PW_PREVIOUS)
        keep = old->has_prev && e->rec.has_prev && same_hash(&old->prev, &e->rec.prev);
    if (!keep) {
        e->ok_which = EDGE_PW_NO_MATCH;
        OPENSSL_cleanse(e->ok_mac, sizeof(e->ok_mac));
    }
}

static void count_gauge(edge_creds_t *self)
{
    metrics_gauge_set(self->m_count, (int64_t)zhashx_size(self->by_identity));
}

static void on_cred(edge_creds_t *self, const env_cred_t *m)
{
    char identity[IDENTITY_MAX + 1];
    if (!identity_valid(m->identity.ptr, m->identity.len)) {
        metrics_def_count(&EDGE_METRICS[EDGE_M_CRED_REJECTED], "identity");
        log_warn("credential record refused: invalid identity (%zu bytes)", m->identity.len);
        return;
    }
    env_str_copy(m->identity, identity, sizeof(identity));
    if (self->in_sync && m->generation == self->sync_generation)
        self->sync_received++;
    if (m->record.len == 0) { /* deleted */
        zhashx_delete(self->by_identity, identity);
        count_gauge(self);
        return;
    }
    entry_t fresh = {0};
    const char *why;
    if (edge_cred_parse(m->record.ptr, m->record.len, &fresh.rec, &why) < 0) {
        metrics_def_count(&EDGE_METRICS[EDGE_M_CRED_REJECTED], why);
        log_write(LOG_WARN, identity, NULL,
                  "credential record refused (field %s): the station is treated as unknown", why);
        zhashx_delete(self->by_identity, identity);
        count_gauge(self);
        OPENSSL_cleanse(&fresh, sizeof(fresh));
        return;
    }
    entry_t *e = zhashx_lookup(self->by_identity, identity);
    if (e) {
        edge_cred_record_t old = e->rec;
        e->rec = fresh.rec;
        keep_or_forget(e, &old);
        OPENSSL_cleanse(&old, sizeof(old));
    } else {
        e = malloc(sizeof(*e));
        if (!e) {
            log_write(LOG_ERROR, identity, NULL, "no memory for the credential record");
            OPENSSL_cleanse(&fresh, sizeof(fresh));
            return;
        }
        *e = fresh;
        zhashx_insert(self->by_identity, identity, e);
    }
    e->epoch = self->epoch;
    OPENSSL_cleanse(&fresh, sizeof(fresh));
    count_gauge(self);
}

/* The end of a full sync: what it did not repeat is gone from Redis. */
static void drop_unseen(edge_creds_t *self)
{
    zlistx_t *stale = zlistx_new();
    if (!stale)
        return;
    for (entry_t *e = zhashx_first(self->by_identity); e; e = zhashx_next(self->by_identity))
        if (e->epoch != self->epoch)
            zlistx_add_end(stale, (void *)zhashx_cursor(self->by_identity));
    for (const char *k = zlistx_first(stale); k; k = zlistx_next(stale))
        zhashx_delete(self->by_identity, k);
    zlistx_destroy(&stale);
}

static void on_sync(edge_creds_t *self, const env_cred_sync_t *m)
{
    if (!m->done) {
        self->epoch++;
        self->in_sync = true;
        self->sync_generation = m->generation;
        self->sync_received = 0;
        log_info("credential sync %" PRIu64 " started", m->generation);
        return;
    }
    if (!self->in_sync || m->generation != self->sync_generation) {
        /* the end of a sync whose start this process did not see (it started meanwhile) */
        log_warn("credential sync %" PRIu64 " end ignored: its start was not seen", m->generation);
        return;
    }
    self->in_sync = false;
    drop_unseen(self);
    if (m->count != self->sync_received)
        log_error("credential sync %" PRIu64 ": %" PRIu64 " records announced, %" PRIu64
                  " received",
                  m->generation, m->count, self->sync_received);
    if (!self->synced)
        log_info("credentials synced: %zu records", zhashx_size(self->by_identity));
    self->synced = true;
    metrics_counter_add(self->m_syncs, 1);
    count_gauge(self);
}

int edge_creds_from_registry(edge_creds_t *self, const envelope_t *env)
{
    switch (env->type) {
    case ENV_CRED:
        on_cred(self, &env->u.cred);
        return 0;
    case ENV_CRED_SYNC:
        on_sync(self, &env->u.cred_sync);
        return 0;
    default:
        return -EINVAL;
    }
}

bool edge_creds_synced(const edge_creds_t *self)
{
    return self->synced;
}

size_t edge_creds_count(const edge_creds_t *self)
{
    return zhashx_size(self->by_identity);
}

const edge_cred_record_t *edge_creds_get(const edge_creds_t *self, const char *identity)
{
    entry_t *e = zhashx_lookup(self->by_identity, identity);
    return e ? &e->rec : NULL;
}

edge_pw_match_t edge_creds_remembered(const edge_creds_t *self, const char *identity,
                                      const char *password, size_t len)
{
    entry_t *e = zhashx_lookup(self->by_identity, identity);
    if (!e || e->ok_which == EDGE_PW_NO_MATCH)
        return EDGE_PW_NO_MATCH;
    uint8_t mac[MAC_LEN];
    bool same = mac_of(self, password, len, mac) && CRYPTO_memcmp(mac, e->ok_mac, MAC_LEN) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    return same ? (edge_pw_match_t)e->ok_which : EDGE_PW_NO_MATCH;
}

void edge_creds_remember(edge_creds_t *self, const char *identity, const char *password, size_t len,
                         edge_pw_match_t which)
{
    entry_t *e = zhashx_lookup(self->by_identity, identity);
    if (!e)
        return;
    e->ok_which = mac_of(self, password, len, e->ok_mac) ? (uint8_t)which : EDGE_PW_NO_MATCH;
}
