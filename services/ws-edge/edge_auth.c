/* edge_auth: the authentication decision of an upgrade. See edge_auth.h for the rules; they
 * read top to bottom in edge_auth_decide(). */
#include "edge_auth.h"

#include <stdlib.h>
#include <string.h>

#include "edge_basic.h"

enum {
    STATUS_UNAUTHORIZED = 401,
    STATUS_FORBIDDEN = 403,
    STATUS_TOO_MANY = 429,
    STATUS_UNAVAILABLE = 503,
};

/* One slot of the failure table: consecutive failures of an address or an identity. */
typedef struct {
    uint64_t key; /* fail_key(); 0: free */
    uint32_t last_fail_ms;
    uint32_t blocked_until_ms; /* meaningful once blocking */
    uint32_t failures;
    bool blocking; /* the failures reached the threshold */
} fail_slot_t;

struct edge_auth {
    edge_auth_config_t cfg;
    edge_creds_t *creds;
    double budget;      /* PBKDF2 iterations that may run now */
    uint32_t budget_ms; /* time of the last refill */
    fail_slot_t fail[EDGE_AUTH_FAIL_SLOTS];
};

const char *const EDGE_AUTH_METHODS[EDGE_AUTH_METHOD_COUNT] = {"none", "basic", "basic-previous",
                                                               "mtls"};

uint8_t edge_auth_method_index(const char *auth)
{
    for (uint8_t i = 0; auth && i < EDGE_AUTH_METHOD_COUNT; i++)
        if (strcmp(EDGE_AUTH_METHODS[i], auth) == 0)
            return i;
    return 0;
}

bool edge_auth_needs_credentials(const edge_auth_config_t *cfg)
{
    return cfg->min_profile > 0 || !cfg->allow_unknown;
}

edge_auth_t *edge_auth_new(const edge_auth_config_t *cfg, edge_creds_t *creds)
{
    edge_auth_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->creds = creds;
    self->budget = (double)cfg->hash_budget; /* a second's worth at start */
    return self;
}

void edge_auth_destroy(edge_auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* ---- failures ------------------------------------------------------------------------------ */

/* FNV-1a over a kind byte and the bytes: addresses and identities never share a key. */
static uint64_t fail_key(char kind, const void *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    h = (h ^ (unsigned char)kind) * 1099511628211ull;
    for (const unsigned char *b = p; n--; b++)
        h = (h ^ *b) * 1099511628211ull;
    return h ? h : 1;
}

/* The address's key is edge_addr_key(), the per-address limits' key (IPv6 by /64), so the
 * throttle and the connection cap count the same "who" (behind a balancer: the PROXY header's). */
static uint64_t addr_key(const edge_auth_request_t *req)
{
    return fail_key('a', &req->peer_key, sizeof(req->peer_key));
}

static uint64_t identity_key(const edge_auth_request_t *req)
{
    return fail_key('i', req->identity, strlen(req->identity));
}

static bool recent(const fail_slot_t *s, uint32_t now_ms)
{
    return s->key && (uint32_t)(now_ms - s->last_fail_ms) < EDGE_AUTH_FORGET_MS;
}

/* Blocked: the slot of the key has a block running. The key is not compared: a key that shares
 * a slot with a blocked one is refused too (collisions err towards refusing, and an attacker
 * cannot escape its block by first parking another key of its own in the slot). */
static bool is_blocked(const edge_auth_t *self, uint64_t k, uint32_t now_ms)
{
    const fail_slot_t *slot = &self->fail[k & (EDGE_AUTH_FAIL_SLOTS - 1)];
    /* a block lasts at most EDGE_AUTH_BLOCK_MAX_MS < EDGE_AUTH_FORGET_MS: only a recent
     * failure can hold one, which also keeps the wrapping clock out of the comparison */
    return slot->blocking && recent(slot, now_ms) && (int32_t)(slot->blocked_until_ms - now_ms) > 0;
}

static void failed(edge_auth_t *self, uint64_t k, uint32_t threshold, uint32_t now_ms)
{
    fail_slot_t *slot = &self->fail[k & (EDGE_AUTH_FAIL_SLOTS - 1)];
    if (!recent(slot, now_ms))
        *slot = (fail_slot_t){.key = k};
    /* a slot with recent failures of another key is shared, not taken over: a flood of other
     * keys cannot wash an attacker's failures away */
    slot->last_fail_ms = now_ms;
    if (slot->failures < UINT32_MAX)
        slot->failures++;
    if (slot->failures >= threshold) {
        uint32_t steps = slot->failures - threshold, block = EDGE_AUTH_BLOCK_BASE_MS;
        while (steps-- && block < EDGE_AUTH_BLOCK_MAX_MS)
            block <<= 1;
        if (block > EDGE_AUTH_BLOCK_MAX_MS)
            block = EDGE_AUTH_BLOCK_MAX_MS;
        slot->blocked_until_ms = now_ms + block;
        slot->blocking = true;
    }
}

static void succeeded(edge_auth_t *self, uint64_t k)
{
    fail_slot_t *slot = &self->fail[k & (EDGE_AUTH_FAIL_SLOTS - 1)];
    if (slot->key == k)
        memset(slot, 0, sizeof(*slot));
}

/* ---- the PBKDF2 budget ------------------------------------------------------------------- */

/* Takes iterations from the budget (refilled at hash_budget per second, at most a second's
 * worth): false when there is not enough now. A hash dearer than a whole second's budget runs
 * when the budget is full (and leaves a debt), so no record is refused for ever. */
static bool budget_take(edge_auth_t *self, uint32_t iterations, uint32_t now_ms)
{
    if (self->cfg.hash_budget == 0)
        return true;
    int32_t elapsed = (int32_t)(now_ms - self->budget_ms);
    double cap = (double)self->cfg.hash_budget;
    if (elapsed > 0)
        self->budget += cap * elapsed / 1000.0;
    if (self->budget > cap)
        self->budget = cap;
    self->budget_ms = now_ms;
    double need = (double)iterations < cap ? (double)iterations : cap;
    if (self->budget < need)
        return false;
    self->budget -= (double)iterations;
    return true;
}

/* ---- the decision -------------------------------------------------------------------------- */

static unsigned int refuse(edge_auth_result_t *out, unsigned int status, const char *reason,
                           const char *detail)
{
    out->status = status;
    out->reason = reason;
    out->detail = detail;
    return status;
}

/* A failed attempt: counted against the address (and the identity when it is a wrong secret
 * for a known station), then refused. */
static unsigned int fail(edge_auth_t *self, const edge_auth_request_t *req, bool identity,
                         uint32_t now_ms, edge_auth_result_t *out, unsigned int status,
                         const char *reason, const char *detail)
{
    failed(self, addr_key(req), EDGE_AUTH_ADDR_FAILURES, now_ms);
    if (identity)
        failed(self, identity_key(req), EDGE_AUTH_IDENTITY_FAILURES, now_ms);
    return refuse(out, status, reason, detail);
}

static unsigned int accept_as(edge_auth_t *self, const edge_auth_request_t *req,
                              edge_auth_result_t *out, const char *auth, uint32_t profile)
{
    if (strcmp(auth, "none") != 0)
        succeeded(self, identity_key(req));
    out->status = 0;
    out->auth = auth;
    out->security_profile = profile;
    return 0;
}

static bool cert_names(const edge_auth_request_t *req)
{
    size_t n = strlen(req->identity);
    return req->cert_cn && req->cert_cn_len == n && memcmp(req->cert_cn, req->identity, n) == 0;
}

/* Rule 3: no record. */
static unsigned int decide_unknown(edge_auth_t *self, const edge_auth_request_t *req,
                                   uint32_t now_ms, edge_auth_result_t *out)
{
    if (!self->cfg.allow_unknown)
        return fail(self, req, false, now_ms, out, STATUS_UNAUTHORIZED, "unknown_station",
                    "no credentials for this identity");
    if (req->cert_present && req->cert_verified && cert_names(req))
        return accept_as(self, req, out, "mtls", 3);
    if (self->cfg.min_profile >= 2 && !req->tls)
        return fail(self, req, false, now_ms, out, STATUS_FORBIDDEN, "tls_required",
                    "the minimum security profile needs TLS");
    if (self->cfg.min_profile >= 3)
        return fail(self, req, false, now_ms, out, STATUS_FORBIDDEN, "client_cert_required",
                    "the minimum security profile needs a client certificate naming the identity");
    return accept_as(self, req, out, "none", 0);
}

/* Rule 6: Basic, then the password. */
static unsigned int decide_basic(edge_auth_t *self, const edge_auth_request_t *req,
                                 const edge_cred_record_t *rec, uint32_t now_ms,
                                 edge_auth_result_t *out)
{
    uint32_t profile = req->tls ? 2 : 1;
    edge_basic_t b;
    edge_basic_result_t br = edge_basic_parse(req->authorization, req->authorization_len, &b);
    if (br == EDGE_BASIC_NONE)
        return refuse(out, STATUS_UNAUTHORIZED, "no_credentials", "no Authorization header");
    if (br != EDGE_BASIC_OK)
        return fail(self, req, false, now_ms, out, STATUS_UNAUTHORIZED, "bad_authorization",
                    edge_basic_result_name(br));
    unsigned int rc;
    if (b.user_len != strlen(req->identity) || memcmp(b.user, req->identity, b.user_len) != 0) {
        rc = fail(self, req, false, now_ms, out, STATUS_UNAUTHORIZED, "wrong_username",
                  "the Basic username is not the identity");
        goto out_wipe;
    }
    edge_pw_match_t m =
        edge_creds_remembered(self->creds, req->identity, b.password, b.password_len);
    if (m == EDGE_PW_NO_MATCH) {
        if (is_blocked(self, identity_key(req), now_ms)) {
            rc = refuse(out, STATUS_TOO_MANY, "auth_throttled",
                        "too many failed attempts for this identity");
            goto out_wipe;
        }
        uint32_t need = rec->cur.iter;
        if (!budget_take(self, need, now_ms)) {
            rc = refuse(out, STATUS_UNAVAILABLE, "auth_busy", "password check budget spent");
            goto out_wipe;
        }
        if (edge_cred_hash_matches(&rec->cur, b.password, b.password_len)) {
            m = EDGE_PW_CURRENT;
        } else if (rec->has_prev) {
            if (!budget_take(self, rec->prev.iter, now_ms)) {
                rc = refuse(out, STATUS_UNAVAILABLE, "auth_busy", "password check budget spent");
                goto out_wipe;
            }
            if (edge_cred_hash_matches(&rec->prev, b.password, b.password_len))
                m = EDGE_PW_PREVIOUS;
        }
        if (m == EDGE_PW_NO_MATCH) {
            rc = fail(self, req, true, now_ms, out, STATUS_UNAUTHORIZED, "wrong_password",
                      "the password does not match");
            goto out_wipe;
        }
        edge_creds_remember(self->creds, req->identity, b.password, b.password_len, m);
    }
    if (m == EDGE_PW_PREVIOUS) {
        rc = accept_as(self, req, out, "basic-previous", profile);
    } else {
        rc = accept_as(self, req, out, "basic", profile);
        if (rec->has_prev) { /* the station has the new password: the old one can go */
            out->cred_used = true;
            memcpy(out->fingerprint, rec->fingerprint, sizeof(out->fingerprint));
        }
    }
out_wipe:
    edge_basic_wipe(&b);
    return rc;
}

unsigned int edge_auth_decide(edge_auth_t *self, const edge_auth_request_t *req, uint32_t now_ms,
                              edge_auth_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (edge_auth_needs_credentials(&self->cfg) && !edge_creds_synced(self->creds))
        return refuse(out, STATUS_UNAVAILABLE, "credentials_not_synced",
                      "the credential cache is not synced yet");
    if (is_blocked(self, addr_key(req), now_ms))
        return refuse(out, STATUS_TOO_MANY, "auth_throttled",
                      "too many failed attempts from this address");
    const edge_cred_record_t *rec = edge_creds_get(self->creds, req->identity);
    if (!rec)
        return decide_unknown(self, req, now_ms, out);

    uint32_t profile = rec->profile > self->cfg.min_profile ? rec->profile : self->cfg.min_profile;
    if (req->cert_present) {
        if (!req->cert_verified) /* the handshake refuses these: never trust one that got here */
            return fail(self, req, true, now_ms, out, STATUS_FORBIDDEN, "cert_invalid",
                        "the client certificate did not verify");
        if (!cert_names(req))
            return fail(self, req, true, now_ms, out, STATUS_FORBIDDEN, "cert_cn_mismatch",
                        "the client certificate's CN is not the identity");
        return accept_as(self, req, out, "mtls", 3);
    }
    if (profile >= 2 && !req->tls)
        return fail(self, req, false, now_ms, out, STATUS_FORBIDDEN, "tls_required",
                    "the station's security profile needs TLS");
    if (profile >= 3)
        return fail(self, req, false, now_ms, out, STATUS_FORBIDDEN, "client_cert_required",
                    self->cfg.mtls ? "the station's security profile needs a client certificate"
                                   : "the station needs a client certificate, and no client CA "
                                     "is configured");
    if (!rec->has_password) /* the parser refuses this below profile 3: defence in depth */
        return fail(self, req, false, now_ms, out, STATUS_UNAUTHORIZED, "wrong_password",
                    "the record has no password");
    return decide_basic(self, req, rec, now_ms, out);
}
