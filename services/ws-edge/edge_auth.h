/* edge_auth: whether an upgrade request authenticates as the station its path names (OCPP
 * security profiles 1-3, issue 13; docs/security.md).
 *
 * Pure apart from PBKDF2 (OpenSSL): the shell gathers the facts of one request (identity from
 * the path, peer address, TLS or not, the client certificate's verification and CN, the
 * Authorization header) and gets back "accept, with this auth method and security profile" or
 * "refuse with this HTTP status" and a stable reason for edge_upgrades_refused_total{reason}.
 * It reads the credential cache (edge_creds.h) and keeps two bounded tables of recent failures
 * (per address and per identity), so repeated failures are refused at once with 429 for a
 * growing period, and a budget of PBKDF2 work per second, so neither a reconnect storm nor a
 * guessing attack can take the loop (503 beyond it).
 *
 * The rules, in order (docs/security.md has the table):
 *   1. credentials needed (minimum profile > 0 or unknown stations refused) but the first sync
 *      has not ended: 503 credentials_not_synced;
 *   2. the address is throttled: 429 auth_throttled;
 *   3. no record: 401 unknown_station, unless unknown stations are allowed (then accepted
 *      with auth none, if the transport meets the minimum profile: 403 tls_required /
 *      client_cert_required otherwise; a verified certificate naming the identity is mtls);
 *   4. the required profile is max(minimum, the record's); a client certificate, when one was
 *      presented, must name the identity (403 cert_cn_mismatch); a verified certificate that
 *      names it authenticates the station (mtls, profile 3) whatever its record says;
 *   5. profile >= 2 needs TLS (403 tls_required); profile 3 needs the certificate (403
 *      client_cert_required);
 *   6. profiles 1 and 2: Basic with the identity as username (401 no_credentials,
 *      bad_authorization, wrong_username), then the password: the remembered check, else
 *      (identity throttled: 429; over the PBKDF2 budget: 503 auth_busy) the current hash, then
 *      the previous one (basic-previous), else 401 wrong_password.
 * A refusal that is a failed attempt is counted against the address, and a wrong password or
 * certificate also against the identity; a success clears the identity's failures. */
#ifndef EDGE_AUTH_H
#define EDGE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_creds.h"

/* Consecutive failures before an address or an identity is throttled, and how long: the block
 * doubles from EDGE_AUTH_BLOCK_BASE_MS with each further failure up to EDGE_AUTH_BLOCK_MAX_MS;
 * failures are forgotten EDGE_AUTH_FORGET_MS after the last one. */
#define EDGE_AUTH_ADDR_FAILURES     10
#define EDGE_AUTH_IDENTITY_FAILURES 5
#define EDGE_AUTH_BLOCK_BASE_MS     1000u
#define EDGE_AUTH_BLOCK_MAX_MS      300000u
#define EDGE_AUTH_FORGET_MS         900000u
/* Slots of the failure table (addresses and identities share it; collisions err towards
 * refusing). */
#define EDGE_AUTH_FAIL_SLOTS 65536

typedef struct {
    uint32_t min_profile; /* listener-wide minimum, 0..3 (0: none, development) */
    bool allow_unknown;   /* stations without a record are accepted (development) */
    bool mtls;            /* a client CA is configured: certificates can be verified */
    uint64_t hash_budget; /* PBKDF2 iterations per second (0: unbounded) */
} edge_auth_config_t;

/* Whether the edge needs its credential cache (and so a first full sync) at all. */
bool edge_auth_needs_credentials(const edge_auth_config_t *cfg);

typedef struct {
    const char *identity;      /* from the path, valid (edge_admission_decide) */
    const char *peer;          /* textual address: the log */
    uint64_t peer_key;         /* its edge_addr_key() (IPv6: the /64): the address's throttle */
    bool tls;                  /* wss */
    bool cert_present;         /* the client sent a certificate */
    bool cert_verified;        /* ... and it verified against the configured CA */
    const char *cert_cn;       /* its subject CN (NULL: none, or more than one) */
    size_t cert_cn_len;        /* */
    const char *authorization; /* Authorization header value; NULL: none */
    size_t authorization_len;  /* */
} edge_auth_request_t;

typedef struct {
    unsigned int status;       /* 0: accept; else 401, 403, 429 or 503 */
    const char *reason;        /* refusal: stable metric label */
    const char *detail;        /* refusal: what to log (static; never a secret) */
    const char *auth;          /* accept: "none", "basic", "basic-previous" or "mtls" */
    uint32_t security_profile; /* accept: the profile the connection satisfied (0: none) */
    bool cred_used;            /* accept: send CRED_USED {identity, fingerprint} */
    char fingerprint[EDGE_CRED_FINGERPRINT_LEN + 1];
} edge_auth_result_t;

/* How an accepted upgrade authenticated (edge_auth_result_t.auth), in an order that lets a
 * connection keep it in one byte (edge_auth_method_index). */
#define EDGE_AUTH_METHOD_COUNT 4
extern const char *const EDGE_AUTH_METHODS[EDGE_AUTH_METHOD_COUNT]; /* none, basic, ... */
/* The index of auth in EDGE_AUTH_METHODS; 0 ("none") for NULL or anything else. */
uint8_t edge_auth_method_index(const char *auth);

typedef struct edge_auth edge_auth_t;

/* cfg is copied; creds is borrowed (it must outlive the engine). NULL on failure. */
edge_auth_t *edge_auth_new(const edge_auth_config_t *cfg, edge_creds_t *creds);
void edge_auth_destroy(edge_auth_t **self_p);

/* Decides one request at now_ms (a monotonic millisecond clock; wraps). Returns out->status. */
unsigned int edge_auth_decide(edge_auth_t *self, const edge_auth_request_t *req, uint32_t now_ms,
                              edge_auth_result_t *out);

#endif
