/* core_actions: what the gateway answers to a charge point's CALL, and which unified event
 * it yields. Pure: payload in, response and event out; no sockets, no state.
 *
 * This is the walking-skeleton set (boot, heartbeat, status, meter values, authorize and
 * the plain notifications); schema validation and the complete unified model come from the
 * generated code of the ocpp-core and unified-model work. */
#ifndef CORE_ACTIONS_H
#define CORE_ACTIONS_H

#include <stdint.h>

#include <jansson.h>

#include "ocpp_frame.h"

typedef struct {
    int64_t heartbeat_interval_s; /* BootNotification interval */
    uint64_t now_us;
} core_action_ctx_t;

typedef struct {
    json_t *response;       /* CALLRESULT payload (owned), NULL when err is set */
    ocpp_error_t err;       /* error to answer with instead */
    const char *err_text;   /* its description */
    const char *event_type; /* unified event type (static string) */
    json_t *event_data;     /* unified event data (owned), NULL for none */
    int boot_accepted;      /* 1 when this answer accepts a BootNotification */
} core_action_out_t;

/* Fills out. Unknown actions: err = OCPP_ERR_NOT_IMPLEMENTED and event ocpp.message. */
void core_action_handle(ocpp_version_t version, const char *action, const json_t *payload,
                        const core_action_ctx_t *ctx, core_action_out_t *out);
void core_action_out_clear(core_action_out_t *out);

#endif
