/* cred_records.h: credential records for the edge's unit tests, made the way ocppctl and the
 * registry make them (docs/security.md): PBKDF2-HMAC-SHA256 with a random 16-byte salt, base64
 * fields, `name=value` lines in the canonical order. Header-only: each test is one binary. */
#ifndef TEST_CRED_RECORDS_H
#define TEST_CRED_RECORDS_H

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

/* "salt=...\nhash=..." fields (with prefix "" or "prev_") of password, into out. */
static inline int test_hash_fields(char *out, size_t cap, const char *prefix, const char *password,
                                   unsigned iter)
{
    unsigned char salt[16], hash[32], s64[64], h64[64];
    RAND_bytes(salt, sizeof(salt));
    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt), (int)iter, EVP_sha256(),
                      sizeof(hash), hash);
    EVP_EncodeBlock(s64, salt, sizeof(salt));
    EVP_EncodeBlock(h64, hash, sizeof(hash));
    return snprintf(out, cap, "%salg=pbkdf2-sha256\n%siter=%u\n%ssalt=%s\n%shash=%s", prefix,
                    prefix, iter, prefix, (const char *)s64, prefix, (const char *)h64);
}

/* A whole record: profile, the current password (NULL: alg=none) and optionally a previous one. */
static inline void test_record(char *out, size_t cap, int profile, const char *password,
                               unsigned iter, const char *previous)
{
    int n = snprintf(out, cap, "v=1\nprofile=%d\n", profile);
    if (password)
        n += test_hash_fields(out + n, cap - (size_t)n, "", password, iter);
    else
        n += snprintf(out + n, cap - (size_t)n, "alg=none");
    if (previous) {
        n += snprintf(out + n, cap - (size_t)n, "\n");
        n += test_hash_fields(out + n, cap - (size_t)n, "prev_", previous, iter);
    }
    snprintf(out + n, cap - (size_t)n, "\nupdated_ms=1700000000000\n");
}

#endif
