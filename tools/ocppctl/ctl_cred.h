/* ctl_cred.h: the pure parts of `ocppctl credentials` (docs/security.md "Credential records",
 * "Provisioning and rotating credentials"): checking and generating passwords, the salted
 * PBKDF2-HMAC-SHA256 hash as the record's fields, the fingerprint the edges and the registry use,
 * printing a record without its secrets, and the OCPP command that installs a new password on a
 * station. OpenSSL's libcrypto does the cryptography; nothing here touches Redis or Kafka. */
#ifndef OCPPCTL_CTL_CRED_H
#define OCPPCTL_CTL_CRED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_PASSWORD_MIN       16 /* OCPP's minimum for BasicAuthPassword / AuthorizationKey */
#define CTL_PASSWORD_MAX       40 /* OCPP's maximum (passwordString) */
#define CTL_GENERATED_LEN      24
#define CTL_SALT_LEN           16
#define CTL_DEFAULT_ITERATIONS 5000 /* docs/security.md: measured and chosen for the edge */
#define CTL_ITERATIONS_MAX     1000000
#define CTL_FINGERPRINT_LEN    16

/* 0 when pw may be a station's password: 16 to 40 printable ASCII characters (0x20..0x7e);
 * -EINVAL with why filled (never with the password). */
int ctl_cred_check_password(const char *pw, char *why, size_t whylen);

/* A new password: CTL_GENERATED_LEN characters of A-Z a-z 0-9 from RAND_bytes, each equally
 * likely (rejection sampling). 0 or -EIO. */
int ctl_cred_generate(char out[CTL_GENERATED_LEN + 1]);

/* One salted hash as the record's text fields. */
typedef struct {
    char iter[12];
    char salt[32]; /* base64 of CTL_SALT_LEN bytes */
    char hash[48]; /* base64 of 32 bytes */
} ctl_cred_hash_t;

/* PBKDF2-HMAC-SHA256(pw, salt, iter) with a random salt (RAND_bytes), or the given one
 * (salt != NULL: tests). 0, -EINVAL (iter out of 1..CTL_ITERATIONS_MAX), -EIO. */
int ctl_cred_hash(const char *pw, uint32_t iter, const uint8_t *salt, ctl_cred_hash_t *out);

/* The fingerprint of a hash field (its base64 text exactly as stored): the first 16 hex digits
 * of SHA-1, lower case, as the edge and the registry's CRED_USED script compute it. */
void ctl_cred_fingerprint(const char *hash_text, char out[CTL_FINGERPRINT_LEN + 1]);

/* A record's fields for HSET, in the canonical order: v, profile, alg, iter, salt, hash (cur
 * NULL: alg none, a profile-3 station without a password), prev_* (prev NULL: none),
 * updated_ms. Returns the number of fields written into names/values (at most 11). */
#define CTL_CRED_FIELDS_MAX 11
typedef struct {
    const char *name;
    char value[64];
} ctl_field_t;
size_t ctl_cred_fields(int profile, const ctl_cred_hash_t *cur, const ctl_cred_hash_t *prev,
                       uint64_t now_ms, ctl_field_t out[CTL_CRED_FIELDS_MAX]);

/* The current hash of a record (its fields as HGETALL pairs) into out, for keeping it as the
 * previous one of a rotation. 0, or -ENOENT when it has no pbkdf2-sha256 password. */
int ctl_cred_current(const char *const *names, const char *const *values, size_t n,
                     ctl_cred_hash_t *out);

/* Prints what `credentials show` says of a record: identity, profile, alg, iterations,
 * fingerprint, whether a previous password is pending, when it was updated; never the hash,
 * the salt or a password. */
void ctl_cred_show(const char *identity, const char *const *names, const char *const *values,
                   size_t n, FILE *out);

/* The command that installs password on a station speaking ocpp_version (as the registry
 * records it: "1.6", "ocpp1.6", "2.0.1", "ocpp2.0.1", "2.1"): ChangeConfiguration
 * {key AuthorizationKey, value} for 1.6, SetVariables [{component {name SecurityCtrlr}, variable
 * {name BasicAuthPassword}, attributeValue}] for 2.0.1 and 2.1. *action is static; *payload is
 * malloc'd JSON (the caller wipes and frees it). 0, -ENOTSUP (unknown version), -ENOMEM. */
int ctl_cred_install_command(const char *ocpp_version, const char *password, const char **action,
                             char **payload);

#endif
