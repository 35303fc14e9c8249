/* Unit tests for services/ws-edge/edge_auth: the authentication decision of an upgrade for each
 * security profile (what gets in, how, and every refusal with its status), unknown stations,
 * the listener-wide minimum, throttling of repeated failures per address and per identity (and
 * what still gets through a throttled identity), the PBKDF2 budget, CRED_USED; and the
 * configuration rules of edge_config_check(). */
#include "edge_auth.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/evp.h>

#include "cred_records.h"
#include "edge_addr.h"
#include "edge_config.h"

#define ITER 10 /* cheap hashes: the rules are under test, not PBKDF2 */
#define PW1  "pw-of-P1-0123456"
#define PW2  "pw-of-P2-0123456"
#define OLD2 "old-of-P2-012345"

static edge_creds_t *C;
static edge_auth_t *A;
static edge_auth_config_t CFG;
static char AUTHZ[512];

static void sync_records(edge_creds_t *c)
{
    char rec[1024];
    envelope_t env = {.type = ENV_CRED_SYNC};
    env.u.cred_sync.generation = 1;
    edge_creds_from_registry(c, &env);
    const struct {
        const char *id;
        int profile;
        const char *pw, *prev;
    } recs[] = {{"P1", 1, PW1, NULL}, {"P2", 2, PW2, OLD2}, {"P3", 3, NULL, NULL}};
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        test_record(rec, sizeof(rec), recs[i].profile, recs[i].pw, ITER, recs[i].prev);
        envelope_t cred = {.type = ENV_CRED};
        cred.u.cred.identity = env_str(recs[i].id);
        cred.u.cred.record = (env_bin_t){(const uint8_t *)rec, strlen(rec)};
        cred.u.cred.generation = 1;
        edge_creds_from_registry(c, &cred);
    }
    env.u.cred_sync.done = true;
    env.u.cred_sync.count = 3;
    edge_creds_from_registry(c, &env);
}

static void setup_with(uint32_t min_profile, bool allow_unknown, uint64_t budget, bool synced)
{
    CFG = (edge_auth_config_t){.min_profile = min_profile,
                               .allow_unknown = allow_unknown,
                               .mtls = true,
                               .hash_budget = budget};
    C = edge_creds_new();
    if (synced)
        sync_records(C);
    A = edge_auth_new(&CFG, C);
    ck_assert_ptr_nonnull(A);
}

static void setup(void)
{
    setup_with(1, false, 0, true);
}

static void teardown(void)
{
    edge_auth_destroy(&A);
    edge_creds_destroy(&C);
}

/* the throttle's key of a textual address, as the shell gives it (edge_addr_key: IPv6 by /64) */
static uint64_t key_of(const char *peer)
{
    uint8_t b[16];
    edge_addr_t a;
    bool v6 = strchr(peer, ':') != NULL;
    ck_assert_int_eq(inet_pton(v6 ? AF_INET6 : AF_INET, peer, b), 1);
    edge_addr_set(&a, v6 ? EDGE_ADDR_V6 : EDGE_ADDR_V4, b, 40000);
    return edge_addr_key(&a);
}

/* a request from peer for identity over ws (tls false) or wss, with Basic user:pass (user NULL:
 * no header) */
static edge_auth_request_t basic(const char *identity, const char *peer, bool tls, const char *user,
                                 const char *pass)
{
    edge_auth_request_t r = {
        .identity = identity, .peer = peer, .peer_key = key_of(peer), .tls = tls};
    if (user) {
        char text[256];
        unsigned char b64[400];
        snprintf(text, sizeof(text), "%s:%s", user, pass);
        EVP_EncodeBlock(b64, (const unsigned char *)text, (int)strlen(text));
        snprintf(AUTHZ, sizeof(AUTHZ), "Basic %s", (const char *)b64);
        r.authorization = AUTHZ;
        r.authorization_len = strlen(AUTHZ);
    }
    return r;
}

/* a wss request with a client certificate of cn (verified or not) */
static edge_auth_request_t cert(const char *identity, const char *peer, const char *cn,
                                bool verified)
{
    edge_auth_request_t r = {
        .identity = identity, .peer = peer, .peer_key = key_of(peer), .tls = true};
    r.cert_present = true;
    r.cert_verified = verified;
    r.cert_cn = cn;
    r.cert_cn_len = cn ? strlen(cn) : 0;
    return r;
}

static edge_auth_result_t expect_ok(edge_auth_request_t r, uint32_t now, const char *auth,
                                    uint32_t profile)
{
    edge_auth_result_t out;
    ck_assert_msg(edge_auth_decide(A, &r, now, &out) == 0, "%s refused: %s", r.identity,
                  out.reason ? out.reason : "?");
    ck_assert_str_eq(out.auth, auth);
    ck_assert_uint_eq(out.security_profile, profile);
    return out;
}

static void expect_refused(edge_auth_request_t r, uint32_t now, unsigned status, const char *reason)
{
    edge_auth_result_t out;
    unsigned got = edge_auth_decide(A, &r, now, &out);
    ck_assert_msg(got == status, "%s: %u %s, expected %u %s", r.identity, got,
                  out.reason ? out.reason : "accepted", status, reason);
    ck_assert_str_eq(out.reason, reason);
    ck_assert_ptr_nonnull(out.detail);
}

START_TEST(test_each_profile_gets_in)
{
    edge_auth_result_t out = expect_ok(basic("P1", "10.0.0.1", false, "P1", PW1), 1, "basic", 1);
    ck_assert(!out.cred_used);
    expect_ok(basic("P1", "10.0.0.1", true, "P1", PW1), 2, "basic", 2); /* higher is fine */
    out = expect_ok(basic("P2", "10.0.0.1", true, "P2", PW2), 3, "basic", 2);
    /* the current password while a previous one exists: the registry may drop the previous */
    ck_assert(out.cred_used);
    ck_assert_str_eq(out.fingerprint, edge_creds_get(C, "P2")->fingerprint);
    ck_assert_uint_eq(strlen(out.fingerprint), 16);
    out = expect_ok(basic("P2", "10.0.0.1", true, "P2", OLD2), 4, "basic-previous", 2);
    ck_assert(!out.cred_used);
    expect_ok(cert("P3", "10.0.0.1", "P3", true), 5, "mtls", 3);
    /* a verified certificate naming the station authenticates any profile */
    expect_ok(cert("P1", "10.0.0.1", "P1", true), 6, "mtls", 3);
    /* remembered now: the same again costs no PBKDF2 and gives the same answers */
    expect_ok(basic("P2", "10.0.0.2", true, "P2", PW2), 7, "basic", 2);
    expect_ok(basic("P2", "10.0.0.2", true, "P2", OLD2), 8, "basic-previous", 2);
}
END_TEST

START_TEST(test_each_refusal)
{
    expect_refused(basic("P1", "10.0.0.1", false, NULL, NULL), 1, 401, "no_credentials");
    expect_refused(basic("P1", "10.0.0.2", false, "P2", PW1), 1, 401, "wrong_username");
    expect_refused(basic("P1", "10.0.0.3", false, "P1", "wrong-password-1"), 1, 401,
                   "wrong_password");
    expect_refused(basic("P1", "10.0.0.3", false, "P1", PW2), 1, 401, "wrong_password");
    edge_auth_request_t r = basic("P1", "10.0.0.4", false, NULL, NULL);
    r.authorization = "Bearer token";
    r.authorization_len = strlen(r.authorization);
    expect_refused(r, 1, 401, "bad_authorization");
    expect_refused(basic("CPX", "10.0.0.5", false, "CPX", PW1), 1, 401, "unknown_station");
    expect_refused(basic("P2", "10.0.0.6", false, "P2", PW2), 1, 403, "tls_required");
    expect_refused(basic("P3", "10.0.0.7", true, "P3", "x"), 1, 403, "client_cert_required");
    expect_refused(cert("P3", "10.0.0.8", "P1", true), 1, 403, "cert_cn_mismatch");
    expect_refused(cert("P3", "10.0.0.8", NULL, true), 1, 403, "cert_cn_mismatch");
    expect_refused(cert("P3", "10.0.0.8", "P3", false), 1, 403, "cert_invalid");
    /* a certificate of another station does not let Basic through either */
    edge_auth_request_t both = basic("P1", "10.0.0.9", true, "P1", PW1);
    both.cert_present = both.cert_verified = true;
    both.cert_cn = "P2";
    both.cert_cn_len = 2;
    expect_refused(both, 1, 403, "cert_cn_mismatch");
    /* a CN that only starts like the identity */
    expect_refused(cert("P3", "10.0.0.10", "P3x", true), 1, 403, "cert_cn_mismatch");
}
END_TEST

START_TEST(test_listener_minimum)
{
    teardown();
    setup_with(2, false, 0, true);
    expect_refused(basic("P1", "10.0.0.1", false, "P1", PW1), 1, 403, "tls_required");
    expect_ok(basic("P1", "10.0.0.1", true, "P1", PW1), 1, "basic", 2);
    teardown();
    setup_with(3, false, 0, true);
    expect_refused(basic("P2", "10.0.0.1", true, "P2", PW2), 1, 403, "client_cert_required");
    expect_ok(cert("P2", "10.0.0.1", "P2", true), 1, "mtls", 3);
}
END_TEST

START_TEST(test_not_synced)
{
    teardown();
    setup_with(1, false, 0, false);
    ck_assert(edge_auth_needs_credentials(&CFG));
    expect_refused(basic("P1", "10.0.0.1", false, "P1", PW1), 1, 503, "credentials_not_synced");
    teardown();
    setup_with(0, true, 0, false); /* development: nothing to wait for */
    ck_assert(!edge_auth_needs_credentials(&CFG));
    expect_ok(basic("CPX", "10.0.0.1", false, NULL, NULL), 1, "none", 0);
    teardown();
    setup_with(0, false, 0, false); /* known stations still authenticate: wait for them */
    ck_assert(edge_auth_needs_credentials(&CFG));
}
END_TEST

START_TEST(test_unknown_allowed)
{
    teardown();
    setup_with(0, true, 0, true);
    expect_ok(basic("CPX", "10.0.0.1", false, NULL, NULL), 1, "none", 0);
    expect_ok(basic("CPX", "10.0.0.1", false, "CPX", "anything-at-all"), 1, "none", 0);
    expect_ok(cert("CPX", "10.0.0.1", "CPX", true), 1, "mtls", 3);
    /* known stations keep their record's rules */
    expect_refused(basic("P1", "10.0.0.2", false, "P1", "wrong-password-1"), 1, 401,
                   "wrong_password");
    teardown();
    setup_with(2, true, 0, true);
    expect_refused(basic("CPX", "10.0.0.1", false, NULL, NULL), 1, 403, "tls_required");
    expect_ok(basic("CPX", "10.0.0.1", true, NULL, NULL), 1, "none", 0);
    teardown();
    setup_with(3, true, 0, true);
    expect_refused(basic("CPX", "10.0.0.1", true, NULL, NULL), 1, 403, "client_cert_required");
    expect_ok(cert("CPX", "10.0.0.1", "CPX", true), 1, "mtls", 3);
}
END_TEST

START_TEST(test_address_throttled)
{
    uint32_t t = 5000;
    for (int i = 0; i < EDGE_AUTH_ADDR_FAILURES; i++) {
        char id[16];
        snprintf(id, sizeof(id), "U%d", i);
        expect_refused(basic(id, "10.9.9.9", false, id, PW1), t, 401, "unknown_station");
    }
    /* blocked: even the right credentials of another station are refused at once */
    expect_refused(basic("P1", "10.9.9.9", false, "P1", PW1), t, 429, "auth_throttled");
    expect_refused(cert("P3", "10.9.9.9", "P3", true), t + 999, 429, "auth_throttled");
    expect_ok(basic("P1", "10.9.9.8", false, "P1", PW1), t, "basic", 1); /* others are not */
    /* the block ends after EDGE_AUTH_BLOCK_BASE_MS; the next failure doubles it */
    t += EDGE_AUTH_BLOCK_BASE_MS;
    expect_ok(basic("P1", "10.9.9.9", false, "P1", PW1), t, "basic", 1);
    expect_refused(basic("P1", "10.9.9.9", false, "P1", "wrong-password-1"), t, 401,
                   "wrong_password");
    expect_refused(basic("P1", "10.9.9.9", false, "P1", PW1), t + 2 * EDGE_AUTH_BLOCK_BASE_MS - 1,
                   429, "auth_throttled");
    expect_ok(basic("P1", "10.9.9.9", false, "P1", PW1), t + 2 * EDGE_AUTH_BLOCK_BASE_MS, "basic",
              1);
    /* missing credentials are not an attempt: they do not count */
    for (int i = 0; i < 3 * EDGE_AUTH_ADDR_FAILURES; i++)
        expect_refused(basic("P1", "10.9.9.7", false, NULL, NULL), t, 401, "no_credentials");
    expect_ok(basic("P1", "10.9.9.7", false, "P1", PW1), t, "basic", 1);
}
END_TEST

/* the address is the per-address limits' key: an IPv6 host is its /64, so it cannot escape its
 * block by moving within the prefix (nor its own connection cap: edge_addr_key) */
START_TEST(test_address_throttled_by_prefix)
{
    uint32_t t = 5000;
    for (int i = 0; i < EDGE_AUTH_ADDR_FAILURES; i++) {
        char id[16], peer[64];
        snprintf(id, sizeof(id), "U%d", i);
        snprintf(peer, sizeof(peer), "2001:db8:1:2::%x", i + 1);
        expect_refused(basic(id, peer, false, id, PW1), t, 401, "unknown_station");
    }
    expect_refused(basic("P1", "2001:db8:1:2:ffff::9", false, "P1", PW1), t, 429, "auth_throttled");
    expect_ok(basic("P1", "2001:db8:1:3::1", false, "P1", PW1), t, "basic", 1); /* another /64 */
    /* a v4-mapped address is its IPv4 address */
    for (int i = 0; i < EDGE_AUTH_ADDR_FAILURES; i++)
        expect_refused(basic("U1", "10.7.7.7", false, "U1", PW1), t, 401, "unknown_station");
    expect_refused(basic("P1", "::ffff:10.7.7.7", false, "P1", PW1), t, 429, "auth_throttled");
}
END_TEST

START_TEST(test_identity_throttled)
{
    uint32_t t = 100000;
    /* the real station connected before: its password is remembered */
    expect_ok(basic("P1", "10.1.1.1", false, "P1", PW1), t, "basic", 1);
    for (int i = 0; i < EDGE_AUTH_IDENTITY_FAILURES; i++) {
        char peer[32];
        snprintf(peer, sizeof(peer), "10.2.2.%d", i); /* from many addresses */
        expect_refused(basic("P1", peer, false, "P1", "guess-guess-guess"), t, 401,
                       "wrong_password");
    }
    /* guesses now get 429 without a PBKDF2, from any address ... */
    expect_refused(basic("P1", "10.3.3.3", false, "P1", "guess-guess-guess"), t, 429,
                   "auth_throttled");
    /* ... but the real station's remembered password still gets in, and so does a verified
     * certificate: an attacker cannot lock out a station that already connected here */
    expect_ok(basic("P1", "10.1.1.1", false, "P1", PW1), t, "basic", 1);
    expect_ok(cert("P1", "10.1.1.1", "P1", true), t, "mtls", 3);
    /* a station this edge has not seen yet (it restarted) waits for the block to end */
    for (int i = 0; i < EDGE_AUTH_IDENTITY_FAILURES; i++) {
        char peer[32];
        snprintf(peer, sizeof(peer), "10.4.4.%d", i);
        expect_refused(basic("P2", peer, true, "P2", "guess-guess-guess"), t, 401,
                       "wrong_password");
    }
    expect_refused(basic("P2", "10.1.1.2", true, "P2", PW2), t, 429, "auth_throttled");
    expect_ok(basic("P2", "10.1.1.2", true, "P2", PW2), t + EDGE_AUTH_BLOCK_BASE_MS, "basic", 2);
    /* and the success cleared the identity's failures: one more guess is not blocked yet */
    expect_refused(basic("P2", "10.5.5.5", true, "P2", "guess-guess-guess"),
                   t + EDGE_AUTH_BLOCK_BASE_MS, 401, "wrong_password");
    expect_ok(basic("P2", "10.1.1.3", true, "P2", OLD2), t + EDGE_AUTH_BLOCK_BASE_MS,
              "basic-previous", 2);
}
END_TEST

START_TEST(test_failures_forgotten)
{
    uint32_t t = 1;
    for (int i = 0; i < EDGE_AUTH_ADDR_FAILURES - 1; i++)
        expect_refused(basic("U", "10.4.4.4", false, "U", "x"), t, 401, "unknown_station");
    /* long after the last failure, the count starts again */
    t += EDGE_AUTH_FORGET_MS;
    expect_refused(basic("U", "10.4.4.4", false, "U", "x"), t, 401, "unknown_station");
    expect_ok(basic("P1", "10.4.4.4", false, "P1", PW1), t, "basic", 1);
    /* blocked just before the millisecond clock wraps around 2^32: the block ends on time */
    uint32_t late = 4294967000u;
    for (int i = 0; i < EDGE_AUTH_ADDR_FAILURES; i++)
        expect_refused(basic("U", "10.5.5.5", false, "U", "x"), late, 401, "unknown_station");
    expect_refused(basic("P1", "10.5.5.5", false, "P1", PW1), late + 999, 429, "auth_throttled");
    expect_ok(basic("P1", "10.5.5.5", false, "P1", PW1), late + EDGE_AUTH_BLOCK_BASE_MS, "basic",
              1);
}
END_TEST

START_TEST(test_hash_budget)
{
    teardown();
    setup_with(1, false, 25, true); /* 25 iterations per second; each hash costs ITER (10) */
    uint32_t t = 10000;
    expect_ok(basic("P1", "10.0.0.1", false, "P1", PW1), t, "basic", 1);
    expect_refused(basic("P1", "10.0.0.2", false, "P1", "wrong-password-1"), t, 401,
                   "wrong_password");
    expect_refused(basic("P1", "10.0.0.3", false, "P1", "wrong-password-2"), t, 503, "auth_busy");
    /* a remembered password costs nothing */
    expect_ok(basic("P1", "10.0.0.1", false, "P1", PW1), t, "basic", 1);
    /* refilled at 25 per second */
    expect_ok(basic("P2", "10.0.0.4", true, "P2", PW2), t + 400, "basic", 2);
    /* the previous password needs a second hash: not enough budget for both */
    expect_refused(basic("P2", "10.0.0.5", true, "P2", OLD2), t + 400, 503, "auth_busy");
    expect_ok(basic("P2", "10.0.0.5", true, "P2", OLD2), t + 2000, "basic-previous", 2);
    teardown();
    setup_with(1, false, 5, true); /* a hash dearer than a whole second's budget */
    expect_ok(basic("P1", "10.0.0.1", false, "P1", PW1), 10000, "basic", 1);
    expect_refused(basic("P1", "10.0.0.2", false, "P1", "wrong-password-1"), 10000, 503,
                   "auth_busy");
    expect_refused(basic("P1", "10.0.0.2", false, "P1", "wrong-password-1"), 11000, 503,
                   "auth_busy"); /* still paying the debt */
    expect_refused(basic("P1", "10.0.0.2", false, "P1", "wrong-password-1"), 12000, 401,
                   "wrong_password");
}
END_TEST

START_TEST(test_config_check)
{
    edge_config_t cfg = {.ws_port = 8080, .security_profile = 1};
    char why[160];
    ck_assert_int_eq(edge_config_check(&cfg, why, sizeof(why)), 0);
    cfg.ws_port = 0;
    ck_assert_int_eq(edge_config_check(&cfg, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "no listener") ? why : strstr(why, "not listen"));
    cfg.wss_port = 8443;
    ck_assert_int_eq(edge_config_check(&cfg, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "tls_cert_file"));
    cfg.tls_cert_file = "c.pem";
    cfg.tls_key_file = "k.pem";
    ck_assert_int_eq(edge_config_check(&cfg, why, sizeof(why)), 0);
    cfg.security_profile = 3;
    ck_assert_int_eq(edge_config_check(&cfg, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "tls_client_ca_file"));
    cfg.tls_client_ca_file = "ca.pem";
    ck_assert_int_eq(edge_config_check(&cfg, why, sizeof(why)), 0);
    cfg.wss_port = 0;
    cfg.ws_port = 8080;
    cfg.security_profile = 2;
    ck_assert_int_eq(edge_config_check(&cfg, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "need TLS"));
    cfg.wss_port = 8080;
    ck_assert_int_eq(edge_config_check(&cfg, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "differ"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_auth");
    TCase *tc = tcase_create("decide");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_each_profile_gets_in);
    tcase_add_test(tc, test_each_refusal);
    tcase_add_test(tc, test_listener_minimum);
    tcase_add_test(tc, test_not_synced);
    tcase_add_test(tc, test_unknown_allowed);
    tcase_add_test(tc, test_address_throttled);
    tcase_add_test(tc, test_address_throttled_by_prefix);
    tcase_add_test(tc, test_identity_throttled);
    tcase_add_test(tc, test_failures_forgotten);
    tcase_add_test(tc, test_hash_budget);
    tcase_add_test(tc, test_config_check);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
