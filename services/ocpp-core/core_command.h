/* core_command: downlink command records (DESIGN §5) in and final results out. Pure.
 *
 * A record is JSON: {command_id, action, payload, priority?, expires_at? | ttl_ms?, ...}.
 * `action` is a native OCPP action that the CSMS sends in the charge point's version, or a
 * unified action (start_transaction, reset, ...) that unified_command converts for that
 * version (`unsupported` when it has no equivalent). Either way the OCPP payload is validated
 * against that version's request schema. A response is validated against the response schema
 * before it becomes a result. */
#ifndef CORE_COMMAND_H
#define CORE_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core_session.h"
#include "ocpp_frame.h"

/* Parse a record for a charge point speaking version. 0 and *out (owned by the caller) on
 * success; otherwise -1 with *status ("invalid" or "unsupported") and why. */
int core_command_parse(const uint8_t *record, size_t len, ocpp_version_t version, uint64_t now_us,
                       core_command_t **out, const char **status, char *why, size_t whylen);

/* Result of a CALLRESULT to cmd: "accepted" (no status field, or Accepted), "rejected" (any
 * other status), or "ocpp_error" when the payload breaks the response schema (why says how). */
const char *core_command_classify(ocpp_version_t version, const core_command_t *cmd,
                                  const json_t *response, char *why, size_t whylen);

/* The result record (JSON text, malloc'd; proto/unified/result.json): command_id, cp_id,
 * status, at, and from cmd (may be NULL: a record that never became a command) action,
 * unified_action, message_id, ocpp_version, received_at, sent_at, answered_at; response
 * (the CALLRESULT payload) and response_unified, or error {code, description, details};
 * reason. NULL on OOM. response, error_code, reason may be NULL. */
char *core_command_result(const char *command_id, const char *identity, const char *status,
                          const core_command_t *cmd, const json_t *response, const char *error_code,
                          const char *error_description, const json_t *error_details,
                          const char *reason, uint64_t now_us);

#endif
