/* unified_command: version-independent downlink commands (DESIGN §5, docs/unified-model.md).
 * Pure: a unified action and its payload in, the OCPP action and payload for the charge
 * point's version out; and the charge point's response in unified form.
 *
 * The payload shapes are published in proto/unified/command-*.json. The converter checks the
 * members it reads (type, presence); the caller then validates the OCPP message it produced
 * against the generated validator of that version, so what reaches a charge point always
 * conforms. OCPP 2.1 stations get the 2.0.1 conversion (the same requests, validated against the
 * 2.1 schemas). Ids the target version needs and the unified payload may omit (2.0.1
 * remoteStartId, requestId) are derived from the command id (murmur2 & 0x7fffffff), so a
 * replayed command yields the same message. */
#ifndef UNIFIED_COMMAND_H
#define UNIFIED_COMMAND_H

#include <stddef.h>

#include <jansson.h>

#include "ocpp_frame.h"

typedef enum {
    UNIFIED_CMD_OK = 0,
    UNIFIED_CMD_INVALID = -1,     /* unknown action, or the payload breaks its shape */
    UNIFIED_CMD_UNSUPPORTED = -2, /* no equivalent in this OCPP version */
} unified_cmd_rc_t;

/* 1 when action is spelled as a unified action (lower case, snake_case) */
int unified_command_is_unified(const char *action);

/* Converts; on UNIFIED_CMD_OK *ocpp_action is static and *ocpp_payload a new reference. */
unified_cmd_rc_t unified_command_convert(ocpp_version_t version, const char *action,
                                         const json_t *payload, const char *command_id,
                                         const char **ocpp_action, json_t **ocpp_payload, char *why,
                                         size_t whylen);

/* The response in unified form (new reference): the members in snake_case, `status` in
 * snake_case lower case (Accepted -> accepted, NotSupported -> not_supported); configuration
 * answers as {status, configuration: [{key, value, readonly}], unknown_keys: []}. */
json_t *unified_command_response(ocpp_version_t version, const char *action,
                                 const json_t *response);

#endif
