/* unified_command: unified downlink commands to OCPP 1.6 / 2.0.1 / 2.1. See unified_command.h
 * and docs/unified-model.md (the conversion table). 2.1 takes the 2.0.1 conversion: every
 * request a unified action produces has the same members in both (2.1 only adds optional
 * members and enum values, and widens lengths and the id token type). */
#include "unified_command.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "unified_event.h"

typedef struct {
    ocpp_version_t v;
    int v16;
    const json_t *p;
    const char *command_id;
    const char *action; /* OCPP action chosen */
    json_t *out;        /* OCPP payload built */
    char *why;
    size_t whylen;
    unified_cmd_rc_t rc;
} conv_t;

static void failf(conv_t *c, unified_cmd_rc_t rc, const char *fmt, ...)
{
    if (c->rc != UNIFIED_CMD_OK)
        return; /* the first failure is reported */
    c->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, c->whylen, fmt, ap);
    va_end(ap);
}

/* a member of the unified payload: NULL when absent; a failure when present with a wrong type
 * or absent but required */
static const json_t *member(conv_t *c, const json_t *o, const char *k, json_type t, int required)
{
    const json_t *v = json_object_get(o, k);
    int ok = v && (json_typeof(v) == t || (t == JSON_REAL && json_is_number(v)) ||
                   (t == JSON_TRUE && json_is_boolean(v)));
    if (v && !ok)
        failf(c, UNIFIED_CMD_INVALID, "payload: %s has the wrong type", k);
    else if (!v && required)
        failf(c, UNIFIED_CMD_INVALID, "payload: %s is required", k);
    return ok ? v : NULL;
}

static const char *mstr(conv_t *c, const json_t *o, const char *k, int required)
{
    return json_string_value(member(c, o, k, JSON_STRING, required));
}

static const json_t *mint(conv_t *c, const json_t *o, const char *k, int required)
{
    return member(c, o, k, JSON_INTEGER, required);
}

static void set(json_t *o, const char *k, const json_t *v)
{
    if (v)
        json_object_set(o, k, (json_t *)v);
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

/* one of the unified names -> the OCPP name of this version (NULL: unsupported / unknown); the
 * columns: unified, 1.6, 2.0.1, 2.1 */
static const char *pick(conv_t *c, const char *what, const char *value,
                        const char *const (*table)[4], size_t n)
{
    if (!value)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[i][0], value) == 0) {
            const char *r = table[i][c->v16 ? 1 : c->v == OCPP_V201 ? 2 : 3];
            if (!r)
                failf(c, UNIFIED_CMD_UNSUPPORTED, "%s %s has no equivalent in OCPP %s", what, value,
                      ocpp_version_name(c->v));
            return r;
        }
    }
    failf(c, UNIFIED_CMD_INVALID, "payload: %s %s is not one of the unified values", what, value);
    return NULL;
}
#define PICK(c, what, value, table) pick(c, what, value, table, sizeof(table) / sizeof(table[0]))

/* an id the target version needs: the unified member, or derived from the command id */
static json_int_t derived_id(conv_t *c, const char *k)
{
    const json_t *v = mint(c, c->p, k, 0);
    if (v)
        return json_integer_value(v);
    return (json_int_t)(hash_murmur2(c->command_id, strlen(c->command_id)) & 0x7fffffffu);
}

/* 1.6 has one connector per evse in the location model: connector_id other than 1 cannot be
 * addressed */
static json_t *connector_16(conv_t *c, const json_t *loc_obj, int required)
{
    const json_t *evse = mint(c, loc_obj, "evse_id", required);
    const json_t *conn = mint(c, loc_obj, "connector_id", 0);
    if (conn && json_integer_value(conn) != 1)
        failf(c, UNIFIED_CMD_UNSUPPORTED,
              "OCPP 1.6 addresses one connector per evse (connector_id must be 1)");
    return evse ? json_incref((json_t *)evse) : NULL;
}

static json_t *evse_201(conv_t *c, const json_t *o)
{
    const json_t *evse = mint(c, o, "evse_id", 0);
    const json_t *conn = mint(c, o, "connector_id", 0);
    if (!evse || json_integer_value(evse) == 0)
        return NULL;
    json_t *e = json_pack("{s:O}", "id", evse);
    set(e, "connectorId", conn);
    return e;
}

static json_t *id_token(conv_t *c, const json_t *tok)
{
    const char *id = mstr(c, tok, "id", 1);
    const char *type = mstr(c, tok, "type", 0);
    if (!id)
        return NULL;
    if (c->v16)
        return json_string(id);
    return json_pack("{s:s, s:s}", "idToken", id, "type", type ? type : "Central");
}

/* ---- charging profiles ------------------------------------------------------------------ */

static const char *const PURPOSE[][4] = {
    {"max", "ChargePointMaxProfile", "ChargingStationMaxProfile", "ChargingStationMaxProfile"},
    {"tx_default", "TxDefaultProfile", "TxDefaultProfile", "TxDefaultProfile"},
    {"tx", "TxProfile", "TxProfile", "TxProfile"},
    {"external_constraints", NULL, "ChargingStationExternalConstraints",
     "ChargingStationExternalConstraints"},
    {"priority_charging", NULL, NULL, "PriorityCharging"}, /* 2.1 */
    {"local_generation", NULL, NULL, "LocalGeneration"},   /* 2.1 */
};
static const char *const KIND[][4] = {
    {"absolute", "Absolute", "Absolute", "Absolute"},
    {"recurring", "Recurring", "Recurring", "Recurring"},
    {"relative", "Relative", "Relative", "Relative"},
    {"dynamic", NULL, NULL, "Dynamic"}, /* 2.1: updated by UpdateDynamicSchedule */
};
static const char *const RECURRENCY[][4] = {{"daily", "Daily", "Daily", "Daily"},
                                            {"weekly", "Weekly", "Weekly", "Weekly"}};

static json_t *schedule(conv_t *c, const json_t *s)
{
    if (!s)
        return NULL;
    json_t *o = json_object();
    if (!c->v16)
        json_object_set_new(o, "id", json_integer(json_integer_value(mint(c, s, "id", 0))));
    set_str(o, c->v16 ? "startSchedule" : "startSchedule", mstr(c, s, "start", 0));
    set(o, "duration", mint(c, s, "duration", 0));
    const char *unit = mstr(c, s, "rate_unit", 1);
    if (unit && strcmp(unit, "W") != 0 && strcmp(unit, "A") != 0)
        failf(c, UNIFIED_CMD_INVALID, "payload: rate_unit must be W or A");
    set_str(o, "chargingRateUnit", unit);
    set(o, "minChargingRate", member(c, s, "min_rate", JSON_REAL, 0));
    json_t *periods = json_array();
    size_t i;
    const json_t *pd;
    json_array_foreach(member(c, s, "periods", JSON_ARRAY, 1), i, pd)
    {
        json_t *x = json_object();
        set(x, "startPeriod", mint(c, pd, "start_period", 1));
        set(x, "limit", member(c, pd, "limit", JSON_REAL, 1));
        set(x, "numberPhases", mint(c, pd, "number_phases", 0));
        json_array_append_new(periods, x);
    }
    json_object_set_new(o, "chargingSchedulePeriod", periods);
    return o;
}

static json_t *profile(conv_t *c, const json_t *pr)
{
    json_t *o = json_object();
    set(o, c->v16 ? "chargingProfileId" : "id", mint(c, pr, "id", 1));
    set(o, "stackLevel", mint(c, pr, "stack_level", 1));
    set_str(o, "chargingProfilePurpose", PICK(c, "purpose", mstr(c, pr, "purpose", 1), PURPOSE));
    set_str(o, "chargingProfileKind", PICK(c, "kind", mstr(c, pr, "kind", 1), KIND));
    set_str(o, "recurrencyKind", PICK(c, "recurrency", mstr(c, pr, "recurrency", 0), RECURRENCY));
    set_str(o, "validFrom", mstr(c, pr, "valid_from", 0));
    set_str(o, "validTo", mstr(c, pr, "valid_to", 0));
    const char *tx = mstr(c, pr, "transaction_id", 0);
    if (tx && c->v16) {
        char *end;
        long long n = strtoll(tx, &end, 10);
        if (*end || end == tx)
            failf(c, UNIFIED_CMD_INVALID, "a 1.6 transaction_id is an integer");
        json_object_set_new(o, "transactionId", json_integer(n));
    } else {
        set_str(o, "transactionId", tx);
    }
    json_t *s = schedule(c, member(c, pr, "schedule", JSON_OBJECT, 1));
    if (s)
        json_object_set_new(o, "chargingSchedule", c->v16 ? s : json_pack("[o]", s));
    return o;
}

/* ---- the actions ------------------------------------------------------------------------ */

static void start_transaction(conv_t *c)
{
    json_t *tok = id_token(c, member(c, c->p, "id_token", JSON_OBJECT, 1));
    json_t *o = c->out;
    if (c->v16) {
        c->action = "RemoteStartTransaction";
        if (tok)
            json_object_set_new(o, "idTag", tok);
        json_t *conn = connector_16(c, c->p, 0);
        if (conn)
            json_object_set_new(o, "connectorId", conn);
    } else {
        c->action = "RequestStartTransaction";
        if (tok)
            json_object_set_new(o, "idToken", tok);
        json_object_set_new(o, "remoteStartId", json_integer(derived_id(c, "remote_start_id")));
        set(o, "evseId", mint(c, c->p, "evse_id", 0));
    }
    const json_t *pr = member(c, c->p, "charging_profile", JSON_OBJECT, 0);
    if (pr)
        json_object_set_new(o, c->v16 ? "chargingProfile" : "chargingProfile", profile(c, pr));
}

static void stop_transaction(conv_t *c)
{
    const char *tx = mstr(c, c->p, "transaction_id", 1);
    if (c->v16) {
        c->action = "RemoteStopTransaction";
        char *end = NULL;
        long long n = tx ? strtoll(tx, &end, 10) : 0;
        if (tx && (end == tx || *end))
            failf(c, UNIFIED_CMD_INVALID, "a 1.6 transaction_id is an integer");
        json_object_set_new(c->out, "transactionId", json_integer(n));
    } else {
        c->action = "RequestStopTransaction";
        set_str(c->out, "transactionId", tx);
    }
}

static void reset(conv_t *c)
{
    static const char *const TYPE[][4] = {
        {"hard", "Hard", "Immediate", "Immediate"},
        {"soft", "Soft", "OnIdle", "OnIdle"},
        {"immediate_and_resume", NULL, NULL, "ImmediateAndResume"}, /* 2.1: transactions resume */
    };
    c->action = "Reset";
    set_str(c->out, "type", PICK(c, "type", mstr(c, c->p, "type", 1), TYPE));
    const json_t *evse = mint(c, c->p, "evse_id", 0);
    if (evse && c->v16 && json_integer_value(evse) != 0)
        failf(c, UNIFIED_CMD_UNSUPPORTED, "OCPP 1.6 resets the whole charge point only");
    if (evse && !c->v16 && json_integer_value(evse) != 0)
        set(c->out, "evseId", evse);
}

static void unlock_connector(conv_t *c)
{
    c->action = "UnlockConnector";
    if (c->v16) {
        json_t *conn = connector_16(c, c->p, 1);
        if (conn)
            json_object_set_new(c->out, "connectorId", conn);
    } else {
        set(c->out, "evseId", mint(c, c->p, "evse_id", 1));
        const json_t *conn = mint(c, c->p, "connector_id", 0);
        json_object_set_new(c->out, "connectorId",
                            json_integer(conn ? json_integer_value(conn) : 1));
    }
}

static void change_availability(conv_t *c)
{
    c->action = "ChangeAvailability";
    const json_t *op = member(c, c->p, "operational", JSON_TRUE, 1);
    const char *type = json_is_true(op) ? "Operative" : "Inoperative";
    if (c->v16) {
        json_t *conn = connector_16(c, c->p, 0);
        json_object_set_new(c->out, "connectorId", conn ? conn : json_integer(0));
        set_str(c->out, "type", type);
    } else {
        set_str(c->out, "operationalStatus", type);
        json_t *e = evse_201(c, c->p);
        if (e)
            json_object_set_new(c->out, "evse", e);
    }
}

static void set_charging_profile(conv_t *c)
{
    c->action = "SetChargingProfile";
    const json_t *evse = mint(c, c->p, "evse_id", 1);
    set(c->out, c->v16 ? "connectorId" : "evseId", evse);
    const json_t *pr = member(c, c->p, "profile", JSON_OBJECT, 1);
    if (pr)
        json_object_set_new(c->out, c->v16 ? "csChargingProfiles" : "chargingProfile",
                            profile(c, pr));
}

static void clear_charging_profile(conv_t *c)
{
    c->action = "ClearChargingProfile";
    const json_t *id = mint(c, c->p, "profile_id", 0);
    const json_t *evse = mint(c, c->p, "evse_id", 0);
    const char *purpose = PICK(c, "purpose", mstr(c, c->p, "purpose", 0), PURPOSE);
    const json_t *level = mint(c, c->p, "stack_level", 0);
    if (c->v16) {
        set(c->out, "id", id);
        set(c->out, "connectorId", evse);
        set_str(c->out, "chargingProfilePurpose", purpose);
        set(c->out, "stackLevel", level);
        return;
    }
    set(c->out, "chargingProfileId", id);
    if (evse || purpose || level) {
        json_t *crit = json_object();
        set(crit, "evseId", evse);
        set_str(crit, "chargingProfilePurpose", purpose);
        set(crit, "stackLevel", level);
        json_object_set_new(c->out, "chargingProfileCriteria", crit);
    }
}

static void get_composite_schedule(conv_t *c)
{
    c->action = "GetCompositeSchedule";
    set(c->out, c->v16 ? "connectorId" : "evseId", mint(c, c->p, "evse_id", 1));
    set(c->out, "duration", mint(c, c->p, "duration", 1));
    const char *unit = mstr(c, c->p, "rate_unit", 0);
    if (unit && strcmp(unit, "W") != 0 && strcmp(unit, "A") != 0)
        failf(c, UNIFIED_CMD_INVALID, "payload: rate_unit must be W or A");
    set_str(c->out, "chargingRateUnit", unit);
}

static void trigger_message(conv_t *c)
{
    static const char *const MSG[][4] = {
        {"boot_notification", "BootNotification", "BootNotification", "BootNotification"},
        {"heartbeat", "Heartbeat", "Heartbeat", "Heartbeat"},
        {"status_notification", "StatusNotification", "StatusNotification", "StatusNotification"},
        {"meter_values", "MeterValues", "MeterValues", "MeterValues"},
        {"firmware_status", "FirmwareStatusNotification", "FirmwareStatusNotification",
         "FirmwareStatusNotification"},
        {"log_status", "DiagnosticsStatusNotification", "LogStatusNotification",
         "LogStatusNotification"},
        {"transaction_event", NULL, "TransactionEvent", "TransactionEvent"},
        {"sign_certificate", NULL, "SignChargingStationCertificate",
         "SignChargingStationCertificate"},
        {"sign_v2g20_certificate", NULL, NULL, "SignV2G20Certificate"}, /* 2.1 */
    };
    c->action = "TriggerMessage";
    set_str(c->out, "requestedMessage", PICK(c, "message", mstr(c, c->p, "message", 1), MSG));
    if (c->v16) {
        json_t *conn = connector_16(c, c->p, 0);
        if (conn)
            json_object_set_new(c->out, "connectorId", conn);
    } else {
        json_t *e = evse_201(c, c->p);
        if (e)
            json_object_set_new(c->out, "evse", e);
    }
}

/* "Component.Variable" -> 2.0.1 component and variable */
static json_t *variable_ref(conv_t *c, const char *key)
{
    const char *dot = strchr(key, '.');
    if (!dot || dot == key || !dot[1]) {
        failf(c, UNIFIED_CMD_INVALID, "payload: a %s key is Component.Variable, not %s",
              ocpp_version_name(c->v), key);
        return NULL;
    }
    return json_pack("{s:{s:s%}, s:{s:s}}", "component", "name", key, (size_t)(dot - key),
                     "variable", "name", dot + 1);
}

static void get_configuration(conv_t *c)
{
    const json_t *keys = member(c, c->p, "keys", JSON_ARRAY, 0);
    size_t i;
    const json_t *k;
    json_array_foreach(keys, i, k) if (!json_is_string(k))
        failf(c, UNIFIED_CMD_INVALID, "payload: keys are strings");
    if (c->v16) {
        c->action = "GetConfiguration";
        if (keys)
            json_object_set_new(c->out, "key", json_deep_copy(keys));
        return;
    }
    c->action = "GetVariables";
    if (!keys || json_array_size(keys) == 0) {
        failf(c, UNIFIED_CMD_UNSUPPORTED,
              "OCPP %s has no \"all keys\" request: name the keys (or send GetBaseReport)",
              ocpp_version_name(c->v));
        return;
    }
    json_t *list = json_array();
    json_array_foreach(keys, i, k)
    {
        json_t *ref = json_is_string(k) ? variable_ref(c, json_string_value(k)) : NULL;
        if (ref)
            json_array_append_new(list, ref);
    }
    json_object_set_new(c->out, "getVariableData", list);
}

static void set_configuration(conv_t *c)
{
    const char *key = mstr(c, c->p, "key", 1);
    const char *value = mstr(c, c->p, "value", 1);
    if (!key || !value)
        return;
    if (c->v16) {
        c->action = "ChangeConfiguration";
        set_str(c->out, "key", key);
        set_str(c->out, "value", value);
        return;
    }
    c->action = "SetVariables";
    json_t *ref = variable_ref(c, key);
    if (!ref)
        return;
    json_object_set_new(ref, "attributeValue", json_string(value));
    json_object_set_new(c->out, "setVariableData", json_pack("[o]", ref));
}

static void update_firmware(conv_t *c)
{
    c->action = "UpdateFirmware";
    const char *loc = mstr(c, c->p, "location", 1);
    const char *at = mstr(c, c->p, "retrieve_at", 1);
    set(c->out, "retries", mint(c, c->p, "retries", 0));
    set(c->out, "retryInterval", mint(c, c->p, "retry_interval", 0));
    const char *sig = mstr(c, c->p, "signature", 0);
    const char *cert = mstr(c, c->p, "signing_certificate", 0);
    if (c->v16) {
        if (sig || cert)
            failf(c, UNIFIED_CMD_UNSUPPORTED,
                  "signed firmware updates need OCPP 2.0.1 (1.6: SignedUpdateFirmware natively)");
        set_str(c->out, "location", loc);
        set_str(c->out, "retrieveDate", at);
        return;
    }
    json_object_set_new(c->out, "requestId", json_integer(derived_id(c, "request_id")));
    json_t *fw = json_object();
    set_str(fw, "location", loc);
    set_str(fw, "retrieveDateTime", at);
    set_str(fw, "installDateTime", mstr(c, c->p, "install_at", 0));
    set_str(fw, "signature", sig);
    set_str(fw, "signingCertificate", cert);
    json_object_set_new(c->out, "firmware", fw);
}

static void get_log(conv_t *c)
{
    static const char *const TYPE[][4] = {
        {"diagnostics", "DiagnosticsLog", "DiagnosticsLog", "DiagnosticsLog"},
        {"security", "SecurityLog", "SecurityLog", "SecurityLog"},
        {"data_collector", NULL, NULL, "DataCollectorLog"}, /* 2.1 */
    };
    const char *type = PICK(c, "type", mstr(c, c->p, "type", 1), TYPE);
    const char *loc = mstr(c, c->p, "location", 1);
    const char *from = mstr(c, c->p, "from", 0), *to = mstr(c, c->p, "to", 0);
    set(c->out, "retries", mint(c, c->p, "retries", 0));
    set(c->out, "retryInterval", mint(c, c->p, "retry_interval", 0));
    if (c->v16 && type && strcmp(type, "DiagnosticsLog") == 0) {
        c->action = "GetDiagnostics"; /* 1.6 core */
        set_str(c->out, "location", loc);
        set_str(c->out, "startTime", from);
        set_str(c->out, "stopTime", to);
        return;
    }
    c->action = "GetLog"; /* 2.0.1, and the 1.6 security extension */
    set_str(c->out, "logType", type);
    json_object_set_new(c->out, "requestId", json_integer(derived_id(c, "request_id")));
    json_t *log = json_object();
    set_str(log, "remoteLocation", loc);
    set_str(log, "oldestTimestamp", from);
    set_str(log, "latestTimestamp", to);
    json_object_set_new(c->out, "log", log);
}

static void data_transfer(conv_t *c)
{
    c->action = "DataTransfer";
    set_str(c->out, "vendorId", mstr(c, c->p, "vendor_id", 1));
    set_str(c->out, "messageId", mstr(c, c->p, "message_id", 0));
    const json_t *d = json_object_get(c->p, "data");
    if (d && c->v16 && !json_is_string(d)) { /* 1.6 data is a string: JSON text of the value */
        char *text = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text)
            json_object_set_new(c->out, "data", json_string(text));
        free(text);
    } else
        set(c->out, "data", d);
}

static void send_local_list(conv_t *c)
{
    static const char *const UPDATE[][4] = {
        {"full", "Full", "Full", "Full"},
        {"differential", "Differential", "Differential", "Differential"}};
    c->action = "SendLocalList";
    set(c->out, c->v16 ? "listVersion" : "versionNumber", mint(c, c->p, "version", 1));
    set_str(c->out, "updateType", PICK(c, "update", mstr(c, c->p, "update", 1), UPDATE));
    const json_t *entries = member(c, c->p, "entries", JSON_ARRAY, 0);
    if (!entries)
        return;
    json_t *list = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(entries, i, e)
    {
        json_t *x = json_object();
        json_t *tok = id_token(c, member(c, e, "id_token", JSON_OBJECT, 1));
        if (tok)
            json_object_set_new(x, c->v16 ? "idTag" : "idToken", tok);
        const char *st = mstr(c, e, "status", 0);
        if (st) {
            json_t *info = json_pack("{s:s}", "status", st);
            set_str(info, c->v16 ? "expiryDate" : "cacheExpiryDateTime",
                    mstr(c, e, "expires_at", 0));
            json_object_set_new(x, c->v16 ? "idTagInfo" : "idTokenInfo", info);
        }
        json_array_append_new(list, x);
    }
    json_object_set_new(c->out, "localAuthorizationList", list);
}

static void reserve_now(conv_t *c)
{
    c->action = "ReserveNow";
    const json_t *id = mint(c, c->p, "reservation_id", 1);
    const char *expiry = mstr(c, c->p, "expires_at", 1);
    json_t *tok = id_token(c, member(c, c->p, "id_token", JSON_OBJECT, 1));
    if (c->v16) {
        set(c->out, "reservationId", id);
        set_str(c->out, "expiryDate", expiry);
        if (tok)
            json_object_set_new(c->out, "idTag", tok);
        json_t *conn = connector_16(c, c->p, 0);
        json_object_set_new(c->out, "connectorId", conn ? conn : json_integer(0));
        if (mstr(c, c->p, "connector_type", 0))
            failf(c, UNIFIED_CMD_UNSUPPORTED, "OCPP 1.6 cannot reserve by connector type");
        return;
    }
    set(c->out, "id", id);
    set_str(c->out, "expiryDateTime", expiry);
    if (tok)
        json_object_set_new(c->out, "idToken", tok);
    const json_t *evse = mint(c, c->p, "evse_id", 0);
    if (evse && json_integer_value(evse) > 0)
        set(c->out, "evseId", evse);
    set_str(c->out, "connectorType", mstr(c, c->p, "connector_type", 0));
}

static void cancel_reservation(conv_t *c)
{
    c->action = "CancelReservation";
    set(c->out, "reservationId", mint(c, c->p, "reservation_id", 1));
}

static void clear_cache(conv_t *c)
{
    c->action = "ClearCache";
}

typedef struct {
    const char *name;
    void (*fn)(conv_t *);
} action_t;

static const action_t ACTIONS[] = {
    {"start_transaction", start_transaction},
    {"stop_transaction", stop_transaction},
    {"reset", reset},
    {"unlock_connector", unlock_connector},
    {"change_availability", change_availability},
    {"set_charging_profile", set_charging_profile},
    {"clear_charging_profile", clear_charging_profile},
    {"get_composite_schedule", get_composite_schedule},
    {"trigger_message", trigger_message},
    {"get_configuration", get_configuration},
    {"set_configuration", set_configuration},
    {"update_firmware", update_firmware},
    {"get_log", get_log},
    {"data_transfer", data_transfer},
    {"send_local_list", send_local_list},
    {"clear_cache", clear_cache},
    {"reserve_now", reserve_now},
    {"cancel_reservation", cancel_reservation},
};

int unified_command_is_unified(const char *action)
{
    return action && action[0] >= 'a' && action[0] <= 'z';
}

unified_cmd_rc_t unified_command_convert(ocpp_version_t version, const char *action,
                                         const json_t *payload, const char *command_id,
                                         const char **ocpp_action, json_t **ocpp_payload, char *why,
                                         size_t whylen)
{
    *ocpp_action = NULL;
    *ocpp_payload = NULL;
    why[0] = '\0';
    json_t *empty = payload ? NULL : json_object();
    conv_t c = {.v = version,
                .v16 = version == OCPP_V16,
                .p = payload ? payload : empty,
                .command_id = command_id ? command_id : "",
                .out = json_object(),
                .why = why,
                .whylen = whylen};
    const action_t *a = NULL;
    for (size_t i = 0; i < sizeof(ACTIONS) / sizeof(ACTIONS[0]) && !a; i++)
        if (strcmp(ACTIONS[i].name, action) == 0)
            a = &ACTIONS[i];
    if (!a)
        failf(&c, UNIFIED_CMD_INVALID, "unknown unified action %s", action);
    else if (version != OCPP_V16 && version != OCPP_V201 && version != OCPP_V21)
        failf(&c, UNIFIED_CMD_UNSUPPORTED, "unified actions are converted for 1.6, 2.0.1 and 2.1");
    else
        a->fn(&c);
    json_decref(empty);
    if (c.rc != UNIFIED_CMD_OK || !c.action) {
        json_decref(c.out);
        return c.rc != UNIFIED_CMD_OK ? c.rc : UNIFIED_CMD_INVALID;
    }
    *ocpp_action = c.action;
    *ocpp_payload = c.out;
    return UNIFIED_CMD_OK;
}

/* ---- responses --------------------------------------------------------------------------- */

static json_t *snake_status(const char *s)
{
    char out[64];
    size_t n = 0;
    for (const char *p = s; *p && n + 2 < sizeof(out); p++) {
        if (isupper((unsigned char)*p)) {
            if (n && !isupper((unsigned char)p[-1]))
                out[n++] = '_';
            out[n++] = (char)tolower((unsigned char)*p);
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return json_string(out);
}

static json_t *config_response(ocpp_version_t v, const json_t *r)
{
    json_t *conf = json_array(), *unknown = json_array();
    size_t i;
    const json_t *x;
    if (v == OCPP_V16) {
        json_array_foreach(json_object_get(r, "configurationKey"), i, x)
        {
            json_t *e = json_pack("{s:O}", "key", json_object_get(x, "key"));
            set(e, "value", json_object_get(x, "value"));
            set(e, "readonly", json_object_get(x, "readonly"));
            json_array_append_new(conf, e);
        }
        json_array_foreach(json_object_get(r, "unknownKey"), i, x)
            json_array_append(unknown, (json_t *)x);
    } else {
        json_array_foreach(json_object_get(r, "getVariableResult"), i, x)
        {
            char key[256];
            snprintf(key, sizeof(key), "%s.%s",
                     json_string_value(json_object_get(json_object_get(x, "component"), "name")),
                     json_string_value(json_object_get(json_object_get(x, "variable"), "name")));
            const char *st = json_string_value(json_object_get(x, "attributeStatus"));
            if (st && strcmp(st, "Accepted") == 0) {
                json_t *e = json_pack("{s:s}", "key", key);
                set(e, "value", json_object_get(x, "attributeValue"));
                json_array_append_new(conf, e);
            } else {
                json_array_append_new(unknown, json_string(key));
            }
        }
    }
    return json_pack("{s:s, s:o, s:o}", "status", "accepted", "configuration", conf, "unknown_keys",
                     unknown);
}

json_t *unified_command_response(ocpp_version_t v, const char *action, const json_t *r)
{
    if (!json_is_object(r))
        return json_object();
    if (strcmp(action, "get_configuration") == 0)
        return config_response(v, r);
    json_t *u = unified_snake(r);
    const char *st = json_string_value(json_object_get(r, "status"));
    if (strcmp(action, "set_configuration") == 0 && v != OCPP_V16) {
        const json_t *first = json_array_get(json_object_get(r, "setVariableResult"), 0);
        st = json_string_value(json_object_get(first, "attributeStatus"));
        json_object_del(u, "set_variable_result");
    }
    json_object_set_new(u, "status", snake_status(st ? st : "Accepted"));
    return u;
}
