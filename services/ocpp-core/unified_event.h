/* unified_event: version-independent event data for every CALL a charge point sends
 * (DESIGN §4, docs/unified-model.md). Pure: (version, action, payload) in, (type, data) out.
 *
 * - location: 1.6 connectorId N > 0 is {evse_id: N, connector_id: 1}, connectorId 0 is
 *   {evse_id: 0} (the station); 2.0.1 evse {id, connectorId} maps to the same members.
 * - transactions: 1.6 StartTransaction / MeterValues with transactionId / StopTransaction and
 *   2.0.1 TransactionEvent Started / Updated / Ended yield transaction.started / .updated /
 *   .ended with one data shape; the 1.6 meterStart / meterStop registers become samples with
 *   context Transaction.Begin / Transaction.End, as a 2.0.1 station reports them.
 * - samples: one flat list; values are numbers in Wh, W, A, V, var, varh, VA, VAh (kWh -> Wh,
 *   2.0.1 multipliers applied), measurand defaulted to Energy.Active.Import.Register.
 * - connector statuses: one vocabulary (available, occupied, reserved, unavailable, faulted),
 *   the finer 1.6 state kept in status_detail.
 * - OCPP 2.1 takes the 2.0.1 paths (its messages are supersets of 2.0.1's; the new optional
 *   TransactionEvent members are added) and has five types of its own: der.alarm
 *   (NotifyDERAlarm), der.start_stop (NotifyDERStartStop), device.event_stream (the SEND
 *   NotifyPeriodicEventStream), battery.swap (BatterySwap), payment.settlement (NotifySettlement).
 * The schemas of every type are in proto/unified/; the unit tests validate against them. */
#ifndef UNIFIED_EVENT_H
#define UNIFIED_EVENT_H

#include <stdint.h>

#include <jansson.h>

#include "ocpp_frame.h"

/* The event type (static string) and its data (new reference, never NULL unless out of
 * memory) for a charge-point CALL. tx_id: the transactionId the gateway assigns to a 1.6
 * StartTransaction (ignored otherwise). Actions without a unified type (and unknown ones)
 * yield "ocpp.message" with {action, payload}. */
const char *unified_event(ocpp_version_t version, const char *action, const json_t *payload,
                          int64_t tx_id, json_t **data);

/* "ocpp.message" with {action, payload}: a CALL without a unified type, or one the gateway
 * refuses (unknown action, an action only the CSMS sends). */
const char *unified_message(const char *action, const json_t *payload, json_t **data);

/* camelCase -> snake_case deep copy of an OCPP structure (new reference); an "evse" object
 * becomes the location model, "tbc" becomes to_be_continued. */
json_t *unified_snake(const json_t *v);

/* The unified connector status for a 1.6 or 2.x status name, NULL if unknown. */
const char *unified_status(const char *ocpp_status);

#endif
