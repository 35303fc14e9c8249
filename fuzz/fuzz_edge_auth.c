/* fuzz_edge_auth.c: libFuzzer driver for ws-edge's authentication decision as a whole
 * (services/ws-edge/edge_auth.c with edge_creds.c and edge_basic.c): the facts of upgrade
 * requests, all of them controlled by the client (identity, address, TLS or not, a client
 * certificate's verification and CN, the Authorization header), against a station's record,
 * which the input either gives raw (anything the registry might send) or has the driver build
 * (known passwords, so the success paths are reached).
 * Input: a config byte (minimum profile, unknown stations allowed, a small PBKDF2 budget,
 * synced or not), a record byte (0: raw record follows with a length byte; otherwise the profile
 * and whether a previous password exists), then requests, each a fact byte, a time step byte,
 * an authorization kind byte and, for raw headers and CNs, a length byte and bytes. Iterations
 * in raw records are clipped to two digits so that an input runs in microseconds.
 * Invariants (abort on a violation): the status is 0, 401, 403, 429 or 503 with a documented
 * reason for that status; an accepted request is "none" only for a station without a record
 * when unknown stations are allowed, "mtls" only with a verified certificate whose CN is exactly
 * the identity, "basic" / "basic-previous" only over the transport the effective profile needs,
 * with the identity as username and, for a driver-built record, the right current / previous
 * password; never below the listener's minimum; CRED_USED only with "basic" and a previous
 * password, naming the record's fingerprint; nothing is accepted before a needed sync.
 * Seeds: fuzz/corpus/edge_auth/. */
#include "edge_auth.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NAME "fuzz_edge_auth"
#include "edge_fuzz.h"

#define ID  "CP1"
#define PW  "current-password-123"
#define OLD "previous-password-12"

static const struct {
    const char *reason;
    unsigned status;
} REASONS[] = {
    {"credentials_not_synced", 503}, {"auth_busy", 503},        {"auth_throttled", 429},
    {"unknown_station", 401},        {"no_credentials", 401},   {"bad_authorization", 401},
    {"wrong_username", 401},         {"wrong_password", 401},   {"tls_required", 403},
    {"client_cert_required", 403},   {"cert_cn_mismatch", 403}, {"cert_invalid", 403},
};

typedef struct {
    const uint8_t *p;
    size_t n;
} in_t;

static uint8_t take(in_t *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* up to max bytes as given by a length byte */
static size_t take_bytes(in_t *in, char *out, size_t max)
{
    size_t n = take(in) % (max + 1);
    if (n > in->n)
        n = in->n;
    memcpy(out, in->p, n);
    in->p += n;
    in->n -= n;
    return n;
}

static void hash_fields(char *out, size_t cap, const char *prefix, const char *pw)
{
    unsigned char salt[16], hash[32], s64[32], h64[48];
    memset(salt, 0x5A, sizeof(salt));
    PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, sizeof(salt), 3, EVP_sha256(), 32, hash);
    EVP_EncodeBlock(s64, salt, sizeof(salt));
    EVP_EncodeBlock(h64, hash, sizeof(hash));
    snprintf(out, cap, "\n%salg=pbkdf2-sha256\n%siter=3\n%ssalt=%s\n%shash=%s", prefix, prefix,
             prefix, (const char *)s64, prefix, (const char *)h64);
}

/* a raw record with every iteration count clipped to two digits */
static size_t clip_iterations(const char *raw, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        out[o++] = raw[i++];
        bool at_iter = (o >= 5 && memcmp(out + o - 5, "iter=", 5) == 0);
        if (!at_iter)
            continue;
        size_t digits = 0;
        while (i < n && raw[i] >= '0' && raw[i] <= '9') {
            if (digits++ < 2)
                out[o++] = raw[i];
            i++;
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_fd(-1);
    in_t in = {data, size};
    uint8_t conf = take(&in), recb = take(&in);
    edge_auth_config_t cfg = {
        .min_profile = conf % 4,
        .allow_unknown = conf & 4,
        .mtls = conf & 8,
        .hash_budget = conf & 16 ? 20 : 0,
    };
    bool synced = !(conf & 32);
    edge_creds_t *c = edge_creds_new();
    CHECK(c);
    char rec[1200];
    size_t rlen = 0;
    bool built = recb != 0, has_record = true;
    if (built) {
        int profile = recb % 3 + 1;
        int n = snprintf(rec, sizeof(rec), "v=1\nprofile=%d", profile);
        if (profile == 3 && (recb & 8)) {
            n += snprintf(rec + n, sizeof(rec) - (size_t)n, "\nalg=none");
        } else {
            hash_fields(rec + n, sizeof(rec) - (size_t)n, "", PW);
            n = (int)strlen(rec);
            if (recb & 4) {
                hash_fields(rec + n, sizeof(rec) - (size_t)n, "prev_", OLD);
                n = (int)strlen(rec);
            }
        }
        rlen = (size_t)n;
        has_record = !(recb & 16); /* or no record at all */
    } else {
        char raw[256];
        size_t n = take_bytes(&in, raw, sizeof(raw) - 1);
        rlen = clip_iterations(raw, n, rec);
    }
    if (synced) {
        envelope_t env = {.type = ENV_CRED_SYNC};
        env.u.cred_sync.generation = 1;
        edge_creds_from_registry(c, &env);
        if (has_record) {
            envelope_t cred = {.type = ENV_CRED};
            cred.u.cred.identity = env_str(ID);
            cred.u.cred.record = (env_bin_t){(const uint8_t *)rec, rlen};
            cred.u.cred.generation = 1;
            edge_creds_from_registry(c, &cred);
        }
        env.u.cred_sync.done = true;
        edge_creds_from_registry(c, &env);
    }
    edge_auth_t *a = edge_auth_new(&cfg, c);
    CHECK(a);
    const edge_cred_record_t *r = edge_creds_get(c, ID);
    uint32_t now = 1000;
    while (in.n > 0) {
        uint8_t facts = take(&in);
        now += (uint32_t)take(&in) * 50;
        uint8_t kind = take(&in);
        static const char *PEERS[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "::1"};
        /* their edge_addr_key()s: IPv4 0xFFFF<<32 | address, IPv6 the /64 (::/64 is 1) */
        static const uint64_t KEYS[] = {0xFFFF0A000001ull, 0xFFFF0A000002ull, 0xFFFF0A000003ull, 1};
        static const char *IDS[] = {ID, "CP2", "cp1", "CP1x"};
        const char *identity = IDS[(facts >> 6) & 3];
        edge_auth_request_t req = {
            .identity = identity,
            .peer = PEERS[(facts >> 4) & 3],
            .peer_key = KEYS[(facts >> 4) & 3],
            .tls = facts & 1,
            .cert_present = (facts & 1) && (facts & 2),
            .cert_verified = facts & 4,
        };
        char cn[64], raw[300], header[420];
        if (req.cert_present) {
            switch (facts & 8 ? take(&in) % 3 : 0) {
            case 0: /* the identity itself */
                req.cert_cn = identity;
                req.cert_cn_len = strlen(identity);
                break;
            case 1: /* none */
                break;
            default:
                req.cert_cn_len = take_bytes(&in, cn, sizeof(cn));
                req.cert_cn = cn;
            }
        }
        const char *pw = NULL;
        switch (kind % 6) {
        case 0: /* no header */
            break;
        case 1: /* the right current password */
        case 2: /* the previous one */
        case 3: /* a wrong one */
        case 4: /* another username with the right password */
        {
            pw = kind % 6 == 1 || kind % 6 == 4 ? PW : kind % 6 == 2 ? OLD : "wrong-password-000";
            char text[128];
            int tn = snprintf(text, sizeof(text), "%s:%s", kind % 6 == 4 ? "CP2" : identity, pw);
            unsigned char enc[200];
            int en = EVP_EncodeBlock(enc, (const unsigned char *)text, tn);
            snprintf(header, sizeof(header), "Basic %.*s", en, (const char *)enc);
            req.authorization = header;
            req.authorization_len = strlen(header);
            if (kind % 6 == 4)
                pw = NULL; /* not this station's username */
            break;
        }
        default: { /* raw bytes */
            size_t n = take_bytes(&in, raw, sizeof(raw));
            req.authorization = raw;
            req.authorization_len = n;
        }
        }
        edge_auth_result_t out;
        unsigned st = edge_auth_decide(a, &req, now, &out);
        CHECK(st == out.status);
        bool is_id = strcmp(identity, ID) == 0;
        const edge_cred_record_t *rec_of = is_id ? r : NULL;
        if (st != 0) {
            bool known = false;
            for (size_t i = 0; i < sizeof(REASONS) / sizeof(REASONS[0]); i++)
                if (strcmp(out.reason, REASONS[i].reason) == 0) {
                    CHECK(REASONS[i].status == st);
                    known = true;
                }
            CHECK(known && out.detail);
            CHECK(!out.cred_used);
            continue;
        }
        CHECK(synced || (!cfg.min_profile && cfg.allow_unknown));
        CHECK(out.security_profile >= cfg.min_profile || strcmp(out.auth, "none") == 0);
        if (strcmp(out.auth, "none") == 0) {
            CHECK(!rec_of && cfg.allow_unknown && out.security_profile == 0);
            CHECK(cfg.min_profile < 2 || req.tls);
            CHECK(cfg.min_profile < 3);
        } else if (strcmp(out.auth, "mtls") == 0) {
            CHECK(req.tls && req.cert_present && req.cert_verified && out.security_profile == 3);
            CHECK(req.cert_cn && req.cert_cn_len == strlen(identity) &&
                  memcmp(req.cert_cn, identity, req.cert_cn_len) == 0);
        } else {
            bool prev = strcmp(out.auth, "basic-previous") == 0;
            CHECK(prev || strcmp(out.auth, "basic") == 0);
            CHECK(rec_of && rec_of->has_password && !req.cert_present);
            uint32_t need = rec_of->profile > cfg.min_profile ? rec_of->profile : cfg.min_profile;
            CHECK(need <= 2 && (need < 2 || req.tls));
            CHECK(out.security_profile == (req.tls ? 2u : 1u));
            if (built) /* the driver knows which password it sent */
                CHECK(pw && strcmp(pw, prev ? OLD : PW) == 0);
            CHECK(!prev || rec_of->has_prev);
            CHECK(out.cred_used == (!prev && rec_of->has_prev));
            if (out.cred_used)
                CHECK(strcmp(out.fingerprint, rec_of->fingerprint) == 0);
            continue;
        }
        CHECK(!out.cred_used);
    }
    edge_auth_destroy(&a);
    edge_creds_destroy(&c);
    return 0;
}
