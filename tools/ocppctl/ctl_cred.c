/* ctl_cred.c: passwords, hashes and records of `ocppctl credentials`. See ctl_cred.h. */
#include "ctl_cred.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ctl.h"
#include "hex.h"

int ctl_cred_check_password(const char *pw, char *why, size_t whylen)
{
    size_t len = strlen(pw);
    if (len < CTL_PASSWORD_MIN || len > CTL_PASSWORD_MAX) {
        snprintf(why, whylen, "a password has %d to %d characters (OCPP), this one %zu",
                 CTL_PASSWORD_MIN, CTL_PASSWORD_MAX, len);
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)pw[i] < 0x20 || (unsigned char)pw[i] > 0x7e) {
            snprintf(why, whylen, "a password is printable ASCII (character %zu is not)", i + 1);
            return -EINVAL;
        }
    return 0;
}

int ctl_cred_generate(char out[CTL_GENERATED_LEN + 1])
{
    static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = 0;
    while (n < CTL_GENERATED_LEN) {
        unsigned char buf[32];
        if (RAND_bytes(buf, sizeof(buf)) != 1)
            return -EIO;
        for (size_t i = 0; i < sizeof(buf) && n < CTL_GENERATED_LEN; i++)
            if (buf[i] < 248) /* 248 = 4 x 62: every character equally likely */
                out[n++] = ALPHABET[buf[i] % 62];
        OPENSSL_cleanse(buf, sizeof(buf));
    }
    out[n] = '\0';
    return 0;
}

int ctl_cred_hash(const char *pw, uint32_t iter, const uint8_t *salt, ctl_cred_hash_t *out)
{
    if (iter < 1 || iter > CTL_ITERATIONS_MAX)
        return -EINVAL;
    uint8_t s[CTL_SALT_LEN], h[32];
    if (salt)
        memcpy(s, salt, sizeof(s));
    else if (RAND_bytes(s, sizeof(s)) != 1)
        return -EIO;
    if (PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), s, sizeof(s), (int)iter, EVP_sha256(), sizeof(h),
                          h) != 1)
        return -EIO;
    snprintf(out->iter, sizeof(out->iter), "%" PRIu32, iter);
    EVP_EncodeBlock((unsigned char *)out->salt, s, sizeof(s));
    EVP_EncodeBlock((unsigned char *)out->hash, h, sizeof(h));
    OPENSSL_cleanse(h, sizeof(h));
    return 0;
}

void ctl_cred_fingerprint(const char *hash_text, char out[CTL_FINGERPRINT_LEN + 1])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)hash_text, strlen(hash_text), md);
    hex_encode(md, CTL_FINGERPRINT_LEN / 2, out);
}

static void field(ctl_field_t *out, size_t *n, const char *name, const char *value)
{
    out[*n].name = name;
    snprintf(out[*n].value, sizeof(out[*n].value), "%s", value);
    (*n)++;
}

size_t ctl_cred_fields(int profile, const ctl_cred_hash_t *cur, const ctl_cred_hash_t *prev,
                       uint64_t now_ms, ctl_field_t out[CTL_CRED_FIELDS_MAX])
{
    size_t n = 0;
    char text[24];
    field(out, &n, "v", "1");
    snprintf(text, sizeof(text), "%d", profile);
    field(out, &n, "profile", text);
    field(out, &n, "alg", cur ? "pbkdf2-sha256" : "none");
    if (cur) {
        field(out, &n, "iter", cur->iter);
        field(out, &n, "salt", cur->salt);
        field(out, &n, "hash", cur->hash);
    }
    if (cur && prev) {
        field(out, &n, "prev_alg", "pbkdf2-sha256");
        field(out, &n, "prev_iter", prev->iter);
        field(out, &n, "prev_salt", prev->salt);
        field(out, &n, "prev_hash", prev->hash);
    }
    snprintf(text, sizeof(text), "%" PRIu64, now_ms);
    field(out, &n, "updated_ms", text);
    return n;
}

static const char *get(const char *const *names, const char *const *values, size_t n,
                       const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return values[i] ? values[i] : "";
    return NULL;
}

int ctl_cred_current(const char *const *names, const char *const *values, size_t n,
                     ctl_cred_hash_t *out)
{
    const char *alg = get(names, values, n, "alg"), *iter = get(names, values, n, "iter"),
               *salt = get(names, values, n, "salt"), *hash = get(names, values, n, "hash");
    if (!alg || strcmp(alg, "pbkdf2-sha256") != 0 || !iter || !salt || !hash ||
        strlen(iter) >= sizeof(out->iter) || strlen(salt) >= sizeof(out->salt) ||
        strlen(hash) >= sizeof(out->hash))
        return -ENOENT;
    snprintf(out->iter, sizeof(out->iter), "%s", iter);
    snprintf(out->salt, sizeof(out->salt), "%s", salt);
    snprintf(out->hash, sizeof(out->hash), "%s", hash);
    return 0;
}

void ctl_cred_show(const char *identity, const char *const *names, const char *const *values,
                   size_t n, FILE *out)
{
    const char *profile = get(names, values, n, "profile"), *alg = get(names, values, n, "alg"),
               *iter = get(names, values, n, "iter"), *hash = get(names, values, n, "hash"),
               *prev = get(names, values, n, "prev_hash"),
               *updated = get(names, values, n, "updated_ms");
    char fp[CTL_FINGERPRINT_LEN + 1] = "-", when[32] = "-";
    if (hash)
        ctl_cred_fingerprint(hash, fp);
    if (updated) {
        char us[32];
        snprintf(us, sizeof(us), "%s000", updated);
        ctl_format_us(us, when);
    }
    fprintf(out, "identity     %s\n", identity);
    fprintf(out, "profile      %s\n", profile ? profile : "-");
    fprintf(out, "alg          %s\n", alg ? alg : "-");
    fprintf(out, "iterations   %s\n", iter ? iter : "-");
    fprintf(out, "fingerprint  %s\n", fp);
    fprintf(out, "previous     %s\n",
            prev ? "pending (the password before the last rotation is still accepted)" : "none");
    fprintf(out, "updated      %s\n", when);
}

int ctl_cred_install_command(const char *ocpp_version, const char *password, const char **action,
                             char **payload)
{
    const char *v = ocpp_version;
    if (strncmp(v, "ocpp", 4) == 0)
        v += 4;
    json_t *p;
    if (strcmp(v, "1.6") == 0) {
        *action = "ChangeConfiguration";
        p = json_pack("{s:s, s:s}", "key", "AuthorizationKey", "value", password);
    } else if (strcmp(v, "2.0.1") == 0 || strcmp(v, "2.1") == 0) {
        *action = "SetVariables";
        p = json_pack("{s:[{s:{s:s}, s:{s:s}, s:s}]}", "setVariableData", "component", "name",
                      "SecurityCtrlr", "variable", "name", "BasicAuthPassword", "attributeValue",
                      password);
    } else {
        return -ENOTSUP;
    }
    *payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    return *payload ? 0 : -ENOMEM;
}
