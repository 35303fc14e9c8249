/* edge_creds: the edge's cache of charge-point credentials, fed by redis-registry (CRED,
 * CRED_SYNC; DESIGN-12-13 "Security", docs/security.md), and the password checks made with it.
 *
 * The record parser (edge_cred_parse) is pure and fuzzed: a record is `name=value` lines (v,
 * profile, alg, iter, salt, hash, prev_alg, prev_iter, prev_salt, prev_hash, updated_ms); an
 * unknown field is ignored, a malformed record is refused (counted; the station is then treated
 * as unknown, never as "no password needed").
 *
 * The cache (edge_creds_t) keeps one parsed record per identity. A full sync from the registry
 * (CRED_SYNC done=false, CREDs, CRED_SYNC done=true) replaces the whole set: records the sync did
 * not repeat are dropped when it ends. Which records a sync saw is tracked by a counter local to
 * the edge, so the generation numbers of the registry only have to match between the start and
 * the end of one sync (a restarted registry may start again at 1). Until the first full sync has
 * ended, edge_creds_synced() is false (the edge is not ready when it needs credentials).
 *
 * Password checks: PBKDF2-HMAC-SHA256 (OpenSSL), compared in constant time. A successful check is
 * remembered per identity as HMAC-SHA256(password) under a random key of this process, so a
 * reconnect with the same password costs one HMAC instead of a PBKDF2; the memory is dropped
 * when the record's matching hash changes. Nothing here logs a password or a hash. */
#ifndef EDGE_CREDS_H
#define EDGE_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define EDGE_CRED_RECORD_MAX      1024 /* bytes of one record */
#define EDGE_CRED_SALT_MIN        8
#define EDGE_CRED_SALT_MAX        32
#define EDGE_CRED_HASH_LEN        32 /* PBKDF2-HMAC-SHA256 output */
#define EDGE_CRED_ITER_MAX        1000000
#define EDGE_CRED_FINGERPRINT_LEN 16 /* hex characters */

/* One salted password hash of a record. */
typedef struct {
    uint32_t iter;
    uint8_t salt_len;
    uint8_t salt[EDGE_CRED_SALT_MAX];
    uint8_t hash[EDGE_CRED_HASH_LEN];
} edge_cred_hash_t;

/* A parsed record. */
typedef struct {
    uint8_t profile;   /* 1, 2 or 3: the station's OCPP security profile */
    bool has_password; /* alg pbkdf2-sha256 (false: alg none, a profile-3 station) */
    bool has_prev;     /* a previous password is still accepted (a rotation) */
    edge_cred_hash_t cur;
    edge_cred_hash_t prev;
    uint64_t updated_ms; /* 0: not given */
    /* fingerprint of the current hash (docs/security.md): what CRED_USED names */
    char fingerprint[EDGE_CRED_FINGERPRINT_LEN + 1];
} edge_cred_record_t;

/* Parses one record. 0 with out filled, or -EINVAL with *why (static text naming the field, never
 * a value) set. */
int edge_cred_parse(const uint8_t *rec, size_t len, edge_cred_record_t *out, const char **why);

/* The fingerprint of a record's current password: the first 16 hex digits (lower case) of
 * SHA-1 over the `hash` field's text exactly as stored (its base64), which redis-registry
 * computes in Lua with redis.sha1hex() for its compare-and-set (docs/security.md). */
void edge_cred_fingerprint(const char *hash_text, size_t len,
                           char out[EDGE_CRED_FINGERPRINT_LEN + 1]);

/* PBKDF2-HMAC-SHA256 of password with h's salt and iterations, compared in constant time with
 * h's hash. */
bool edge_cred_hash_matches(const edge_cred_hash_t *h, const char *password, size_t len);

typedef enum {
    EDGE_PW_NO_MATCH = 0,
    EDGE_PW_CURRENT,  /* the record's current password */
    EDGE_PW_PREVIOUS, /* the previous password of a rotation */
} edge_pw_match_t;

typedef struct edge_creds edge_creds_t;

/* An empty cache with a fresh random key for remembered checks. NULL on failure. */
edge_creds_t *edge_creds_new(void);
void edge_creds_destroy(edge_creds_t **self_p);

/* CRED or CRED_SYNC from the registry: 0, or -EINVAL for another type (the shell refuses it).
 * A malformed record is counted (edge_credential_records_rejected_total), logged with the
 * identity and the field, and removes what the cache held for the identity. */
int edge_creds_from_registry(edge_creds_t *self, const envelope_t *env);

/* True once a full sync has ended (stays true: later syncs refresh the set). */
bool edge_creds_synced(const edge_creds_t *self);
size_t edge_creds_count(const edge_creds_t *self);

/* The record of identity (NUL-terminated), or NULL: unknown. Valid until the next input. */
const edge_cred_record_t *edge_creds_get(const edge_creds_t *self, const char *identity);

/* Whether password is the one last accepted for identity (one HMAC, constant-time compare):
 * what it matched then, or EDGE_PW_NO_MATCH. */
edge_pw_match_t edge_creds_remembered(const edge_creds_t *self, const char *identity,
                                      const char *password, size_t len);
/* Remembers that password matched `which` of identity's current record. */
void edge_creds_remember(edge_creds_t *self, const char *identity, const char *password, size_t len,
                         edge_pw_match_t which);

#endif
