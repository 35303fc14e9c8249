/* edge_auth_bench: the CPU cost of ws-edge's password checks (bench/bench_edge_tls.sh,
 * bench/README.md), linked against the edge's own modules like its unit tests.
 *
 *   edge_auth_bench [SECONDS_PER_FIGURE]
 * Prints, one line each: the time of one PBKDF2-HMAC-SHA256 check (edge_cred_hash_matches) for
 * 1,000 to 600,000 iterations and its cost per iteration; then the whole upgrade decision
 * (edge_auth_decide, profile 1, Basic) the first time a password is seen (PBKDF2 at the
 * recommended count) and once it is remembered (one HMAC): what a reconnect costs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "edge_auth.h"
#include "log.h"

#define RECOMMENDED_ITER 5000 /* docs/security.md */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* a record of profile 1 for identity with password, iter iterations */
static void add_record(edge_creds_t *c, const char *identity, const char *pw, unsigned iter)
{
    unsigned char salt[16], hash[32], s64[32], h64[48];
    RAND_bytes(salt, sizeof(salt));
    PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, sizeof(salt), (int)iter, EVP_sha256(), 32, hash);
    EVP_EncodeBlock(s64, salt, sizeof(salt));
    EVP_EncodeBlock(h64, hash, sizeof(hash));
    char rec[256];
    int n =
        snprintf(rec, sizeof(rec), "v=1\nprofile=1\nalg=pbkdf2-sha256\niter=%u\nsalt=%s\nhash=%s",
                 iter, (const char *)s64, (const char *)h64);
    envelope_t env = {.type = ENV_CRED};
    env.u.cred.identity = env_str(identity);
    env.u.cred.record = (env_bin_t){(const uint8_t *)rec, (size_t)n};
    edge_creds_from_registry(c, &env);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    log_set_fd(-1);
    const char *pw = "a-generated-password-24ch";
    static const unsigned ITERS[] = {1000, 10000, 50000, 100000, 600000};
    for (size_t i = 0; i < sizeof(ITERS) / sizeof(ITERS[0]); i++) {
        edge_cred_hash_t h = {.iter = ITERS[i], .salt_len = 16};
        RAND_bytes(h.salt, 16);
        PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), h.salt, 16, (int)h.iter, EVP_sha256(), 32, h.hash);
        unsigned n = 0;
        double t0 = now_s(), t;
        do {
            if (!edge_cred_hash_matches(&h, pw, strlen(pw)))
                return 1;
            n++;
            t = now_s() - t0;
        } while (t < secs);
        printf("pbkdf2 iter=%u: %.3f ms per check, %.0f ns per iteration, %.0f checks/s\n",
               ITERS[i], t / n * 1e3, t / n / ITERS[i] * 1e9, n / t);
    }

    /* the whole decision: a first connection per identity (PBKDF2), then reconnects */
    edge_creds_t *c = edge_creds_new();
    envelope_t sync = {.type = ENV_CRED_SYNC};
    edge_creds_from_registry(c, &sync);
    enum {
        STATIONS = 200
    };
    char ids[STATIONS][16];
    for (int i = 0; i < STATIONS; i++) {
        snprintf(ids[i], sizeof(ids[i]), "CP%d", i);
        add_record(c, ids[i], pw, RECOMMENDED_ITER);
    }
    sync.u.cred_sync.done = true;
    sync.u.cred_sync.count = STATIONS;
    edge_creds_from_registry(c, &sync);
    edge_auth_config_t cfg = {.min_profile = 1}; /* no PBKDF2 budget: measure, do not limit */
    edge_auth_t *a = edge_auth_new(&cfg, c);
    char text[64], header[128];
    unsigned char b64[96];
    double spent[2] = {0, 0}; /* first time, remembered */
    int rounds = 0;
    while (rounds < 50 && spent[0] < secs) {
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < STATIONS; i++) {
                int n = snprintf(text, sizeof(text), "%s:%s", ids[i], pw);
                EVP_EncodeBlock(b64, (const unsigned char *)text, n);
                snprintf(header, sizeof(header), "Basic %s", (const char *)b64);
                edge_auth_request_t req = {.identity = ids[i],
                                           .peer = "10.0.0.1",
                                           .authorization = header,
                                           .authorization_len = strlen(header)};
                edge_auth_result_t out;
                double t0 = now_s();
                if (edge_auth_decide(a, &req, (uint32_t)(rounds * 1000), &out) != 0)
                    return 1;
                spent[pass] += now_s() - t0;
            }
        rounds++;
        /* forget what was remembered: the same records again, with new salts */
        for (int i = 0; i < STATIONS; i++)
            add_record(c, ids[i], pw, RECOMMENDED_ITER);
    }
    int n = rounds * STATIONS;
    double first = spent[0], again = spent[1];
    printf("decide, first time (PBKDF2 %u): %.1f us per upgrade\n", RECOMMENDED_ITER,
           first / n * 1e6);
    printf("decide, remembered (HMAC): %.2f us per upgrade\n", again / n * 1e6);
    edge_auth_destroy(&a);
    edge_creds_destroy(&c);
    return 0;
}
