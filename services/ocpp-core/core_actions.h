/* core_actions: what the gateway answers to a charge point's CALL, and which unified event
 * it yields. Pure: payload in, response and event out; no sockets, no state.
 *
 * Every CALL a charge point can send in 1.6 (with the security extension), 2.0.1 and 2.1 gets
 * a response that validates against the response schema of that version (the unit tests check
 * each one against the generated validator); a 2.1 SEND gets none (out->response NULL), only
 * its event. Authorize, StartTransaction, StopTransaction and
 * TransactionEvent apply the authorization policy. Transaction messages and critical security
 * events are flagged `persist`: the caller answers them only once the event is in Kafka.
 * The event type and data come from unified_event (the version-independent model). */
#ifndef CORE_ACTIONS_H
#define CORE_ACTIONS_H

#include <stdint.h>

#include <jansson.h>

#include "ocpp_frame.h"

typedef enum {
    CORE_AUTH_ACCEPT_ALL = 0,
    CORE_AUTH_ALLOW_LIST, /* only listed id tags are Accepted, others Invalid */
    CORE_AUTH_DENY_LIST,  /* listed id tags are Blocked, others Accepted */
    CORE_AUTH_REDIS,      /* the status the backend keeps in Redis, looked up by the caller */
} core_auth_policy_t;

typedef struct {
    int64_t heartbeat_interval_s; /* BootNotification interval */
    uint64_t now_us;
    core_auth_policy_t auth_policy;
    const char *auth_list; /* comma-separated id tags (allow or deny list), may be NULL */
    /* CORE_AUTH_REDIS: the status of the CALL's id token (NULL: Invalid) and its expiry, ms since
     * the epoch (0: none; otherwise answered as idTagInfo.expiryDate in 1.6 and
     * idTokenInfo.cacheExpiryDateTime in 2.0.1) */
    const char *tag_status;
    uint64_t tag_expires_at_ms;
    /* 1.6 StartTransaction: the transaction id claimed for it (core_txid, TXID_CLAIM); 0: none,
     * the CALL is answered InternalError (never an id that may collide) */
    int64_t transaction_id;
} core_action_ctx_t;

typedef struct {
    json_t *response;       /* CALLRESULT payload (owned), NULL when err is set or a SEND */
    ocpp_error_t err;       /* error to answer with instead */
    const char *err_text;   /* its description */
    const char *event_type; /* unified event type (static string) */
    json_t *event_data;     /* unified event data (owned), NULL for none */
    int boot_accepted;      /* 1 when this answer accepts a BootNotification */
    int persist;            /* 1: answer only after the event is persisted (DESIGN §3) */
} core_action_out_t;

/* Fills out. Unknown actions: err = OCPP_ERR_NOT_IMPLEMENTED and event ocpp.message. */
void core_action_handle(ocpp_version_t version, const char *action, const json_t *payload,
                        const core_action_ctx_t *ctx, core_action_out_t *out);
void core_action_out_clear(core_action_out_t *out);

/* "Accepted", "Invalid" or "Blocked" for an id tag under the policy (CORE_AUTH_REDIS:
 * ctx->tag_status, which may also be "Expired"). */
const char *core_auth_status(const core_action_ctx_t *ctx, const char *id_tag);

/* The id token whose status the answer to this CALL carries (Authorize, 1.6 StartTransaction and
 * StopTransaction, 2.0.1 TransactionEvent with an idToken), borrowed from payload; NULL for a CALL
 * without one. Under auth_policy redis the caller looks it up before core_action_handle(). */
const char *core_action_id_tag(ocpp_version_t version, const char *action, const json_t *payload);

/* 1 when a SecurityEventNotification of this type is critical (OCPP 2.0.1 appendix). */
int core_security_event_critical(const char *type);

#endif
