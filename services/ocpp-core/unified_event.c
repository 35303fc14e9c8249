/* unified_event: version-independent event data. See unified_event.h and
 * docs/unified-model.md (the mapping tables). */
#include "unified_event.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENERGY "Energy.Active.Import.Register"

static const json_t *get(const json_t *o, const char *k)
{
    return json_object_get(o, k);
}

static const char *str(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* v is static or comes from a parsed payload: valid UTF-8 already */
static void put_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new_nocheck(o, k, json_string_nocheck(v));
}

/* copies a member when present (any JSON type) */
static void put_copy(json_t *o, const char *k, const json_t *from, const char *from_key)
{
    json_t *v = json_object_get(from, from_key);
    if (v)
        json_object_set(o, k, v);
}

/* a number as an integer when it is one (so 1.6 "12" and 2.0.1 12.0 compare equal) */
static json_t *number(double v)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* a scaled value (kWh -> Wh, multipliers): rounded to 1e-6 of the unit, so 12.345 kWh is
 * 12345 Wh and not 12345.000000000002 */
static double rounded(double v)
{
    double r = nearbyint(v * 1e6) / 1e6;
    return isfinite(r) ? r : v;
}

/* ---- location ---------------------------------------------------------------------- */

static json_t *location_16(const json_t *connector_id)
{
    if (!json_is_integer(connector_id))
        return NULL;
    json_int_t n = json_integer_value(connector_id);
    return n > 0 ? json_pack("{s:I, s:i}", "evse_id", n, "connector_id", 1)
                 : json_pack("{s:I}", "evse_id", n);
}

static json_t *location_201(const json_t *evse_id, const json_t *connector_id)
{
    if (!json_is_integer(evse_id))
        return NULL;
    json_t *l = json_pack("{s:O}", "evse_id", evse_id);
    if (json_is_integer(connector_id))
        json_object_set(l, "connector_id", (json_t *)connector_id);
    return l;
}

/* a nested OCPP structure in snake_case, without its customData (in raw when configured) */
static void put_snake(json_t *o, const char *k, const json_t *v)
{
    if (!v)
        return;
    json_t *x = unified_snake(v);
    json_object_del(x, "custom_data");
    json_object_set_new(o, k, x);
}

static void put_location(json_t *o, json_t *loc)
{
    if (loc)
        json_object_set_new(o, "location", loc);
}

static json_t *id_token_16(const char *tag)
{
    return tag ? json_pack("{s:s}", "id", tag) : NULL;
}

static json_t *id_token_201(const json_t *tok)
{
    const char *id = str(tok, "idToken");
    return id ? json_pack("{s:s, s:s*}", "id", id, "type", str(tok, "type")) : NULL;
}

/* ---- statuses ---------------------------------------------------------------------- */

typedef struct {
    const char *ocpp, *unified, *detail;
} status_map_t;

static const status_map_t STATUSES[] = {
    {"Available", "available", NULL},
    {"Occupied", "occupied", NULL},
    {"Preparing", "occupied", "preparing"},
    {"Charging", "occupied", "charging"},
    {"SuspendedEVSE", "occupied", "suspended_evse"},
    {"SuspendedEV", "occupied", "suspended_ev"},
    {"Finishing", "occupied", "finishing"},
    {"Reserved", "reserved", NULL},
    {"Unavailable", "unavailable", NULL},
    {"Faulted", "faulted", NULL},
};

static const status_map_t *status_find(const char *s)
{
    for (size_t i = 0; s && i < sizeof(STATUSES) / sizeof(STATUSES[0]); i++)
        if (strcmp(STATUSES[i].ocpp, s) == 0)
            return &STATUSES[i];
    return NULL;
}

const char *unified_status(const char *s)
{
    const status_map_t *m = status_find(s);
    return m ? m->unified : NULL;
}

/* ---- samples ----------------------------------------------------------------------- */

typedef struct {
    const char *from, *to;
    double factor;
} unit_map_t;

static const unit_map_t UNITS[] = {
    {"kWh", "Wh", 1000},   {"kW", "W", 1000},   {"kvarh", "varh", 1000}, {"kvar", "var", 1000},
    {"kVAh", "VAh", 1000}, {"kVA", "VA", 1000}, {"Wh", "Wh", 1},         {"W", "W", 1},
    {"A", "A", 1},         {"V", "V", 1},       {"varh", "varh", 1},     {"var", "var", 1},
    {"VAh", "VAh", 1},     {"VA", "VA", 1},
};

/* the unit a measurand has when none is given (OCPP: Wh for energy) */
static const char *default_unit(const char *measurand)
{
    if (strncmp(measurand, "Energy.Reactive", 15) == 0)
        return "varh";
    if (strncmp(measurand, "Energy", 6) == 0)
        return "Wh";
    if (strncmp(measurand, "Power.Reactive", 14) == 0)
        return "var";
    if (strncmp(measurand, "Power.Factor", 12) == 0)
        return NULL;
    if (strncmp(measurand, "Power", 5) == 0)
        return "W";
    if (strncmp(measurand, "Current", 7) == 0)
        return "A";
    if (strncmp(measurand, "Voltage", 7) == 0)
        return "V";
    if (strcmp(measurand, "SoC") == 0)
        return "Percent";
    if (strcmp(measurand, "Temperature") == 0)
        return "Celsius";
    return NULL;
}

/* value and unit in the unified units; the unit string is static or borrowed */
static double normalise(double v, const char **unit)
{
    if (!*unit)
        return v;
    for (size_t i = 0; i < sizeof(UNITS) / sizeof(UNITS[0]); i++) {
        if (strcmp(UNITS[i].from, *unit) == 0) {
            *unit = UNITS[i].to;
            return v * UNITS[i].factor;
        }
    }
    if (strcmp(*unit, "K") == 0) {
        *unit = "Celsius";
        return v - 273.15;
    }
    if (strcmp(*unit, "Fahrenheit") == 0) {
        *unit = "Celsius";
        return (v - 32) * 5 / 9;
    }
    return v;
}

static json_t *sample_new(const char *timestamp, const char *measurand, const char *context,
                          const char *phase, const char *where)
{
    json_t *s = json_object();
    put_str(s, "timestamp", timestamp);
    put_str(s, "measurand", measurand ? measurand : ENERGY);
    put_str(s, "context", context ? context : "Sample.Periodic");
    put_str(s, "phase", phase);
    put_str(s, "meter_location", where ? where : "Outlet");
    return s;
}

static void sample_value(json_t *s, double v, const char *unit)
{
    const char *given = unit;
    v = normalise(v, &unit);
    if (unit != given && given && strcmp(unit, given) != 0)
        v = rounded(v); /* converted */
    json_object_set_new_nocheck(s, "value", number(v));
    put_str(s, "unit", unit);
}

static json_t *sample_16(const char *timestamp, const json_t *sv)
{
    const char *measurand = str(sv, "measurand");
    json_t *s =
        sample_new(timestamp, measurand, str(sv, "context"), str(sv, "phase"), str(sv, "location"));
    const char *text = str(sv, "value");
    const char *format = str(sv, "format");
    const char *unit = str(sv, "unit");
    if (!unit)
        unit = default_unit(measurand ? measurand : ENERGY);
    char *end = NULL;
    double v = text ? strtod(text, &end) : 0;
    if (format && strcmp(format, "SignedData") == 0) {
        json_object_set_new(s, "value", json_null());
        put_str(s, "unit", unit);
        json_object_set_new(s, "signed", json_pack("{s:s*}", "data", text));
    } else if (!text || end == text || *end || !isfinite(v)) {
        json_object_set_new(s, "value", json_null()); /* kept, not dropped */
        put_str(s, "unit", unit);
        put_str(s, "value_text", text);
    } else {
        sample_value(s, v, unit);
    }
    return s;
}

static json_t *sample_201(const char *timestamp, const json_t *sv)
{
    const char *measurand = str(sv, "measurand");
    json_t *s =
        sample_new(timestamp, measurand, str(sv, "context"), str(sv, "phase"), str(sv, "location"));
    const json_t *uom = get(sv, "unitOfMeasure");
    const char *unit = str(uom, "unit");
    if (!unit)
        unit = default_unit(measurand ? measurand : ENERGY);
    double v = json_number_value(get(sv, "value"));
    const json_t *mult = get(uom, "multiplier");
    if (json_is_integer(mult) && json_integer_value(mult) != 0)
        v = rounded(v * pow(10, (double)json_integer_value(mult)));
    sample_value(s, v, unit);
    const json_t *sig = get(sv, "signedMeterValue");
    if (sig)
        json_object_set_new(
            s, "signed",
            json_pack("{s:s*, s:s*, s:s*, s:s*}", "data", str(sig, "signedMeterData"), "method",
                      str(sig, "signingMethod"), "encoding", str(sig, "encodingMethod"),
                      "public_key", str(sig, "publicKey")));
    return s;
}

/* appends the samples of an OCPP meterValue array to `to` */
static void samples_add(json_t *to, ocpp_version_t v, const json_t *meter_values)
{
    size_t i, j;
    json_t *mv, *sv;
    json_array_foreach(meter_values, i, mv)
    {
        const char *ts = str(mv, "timestamp");
        json_array_foreach(get(mv, "sampledValue"), j, sv)
            json_array_append_new(to, v == OCPP_V16 ? sample_16(ts, sv) : sample_201(ts, sv));
    }
}

static const json_t *register_sample(const json_t *samples, const char *context)
{
    size_t i;
    json_t *s;
    const json_t *any = NULL;
    json_array_foreach(samples, i, s)
    {
        if (strcmp(str(s, "measurand"), ENERGY) != 0 || get(s, "phase") ||
            !json_is_number(get(s, "value")))
            continue;
        if (context && strcmp(str(s, "context"), context) == 0)
            return s;
        if (!any)
            any = s;
    }
    return any;
}

/* the 1.6 meterStart / meterStop register as the sample a 2.0.1 station would send */
static void register_add(json_t *samples, const char *ts, const json_t *wh, const char *context)
{
    if (!json_is_integer(wh))
        return;
    const json_t *have = register_sample(samples, context);
    if (have && strcmp(str(have, "context"), context) == 0)
        return;
    json_t *s = sample_new(ts, ENERGY, context, NULL, NULL);
    sample_value(s, (double)json_integer_value(wh), "Wh");
    json_array_append_new(samples, s);
}

/* ---- transactions ------------------------------------------------------------------ */

static const char *stop_reason_16(const char *r)
{
    if (!r)
        return "Local"; /* OCPP 1.6: absent means Local */
    if (strcmp(r, "HardReset") == 0)
        return "ImmediateReset";
    if (strcmp(r, "SoftReset") == 0)
        return "Reboot";
    if (strcmp(r, "UnlockCommand") == 0)
        return "Remote";
    return r;
}

static json_t *tx_new(const char *tx_id, const char *timestamp)
{
    return json_pack("{s:s, s:s*, s:[]}", "transaction_id", tx_id, "timestamp", timestamp,
                     "samples");
}

static void tx_meter(json_t *d, const char *context)
{
    const json_t *s = register_sample(get(d, "samples"), context);
    if (s)
        json_object_set(d, "meter_wh", json_object_get(s, "value"));
}

static const char *start_16(const json_t *p, int64_t tx_id, json_t **data)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)tx_id);
    const char *ts = str(p, "timestamp");
    json_t *d = tx_new(id, ts);
    put_location(d, location_16(get(p, "connectorId")));
    json_t *tok = id_token_16(str(p, "idTag"));
    if (tok)
        json_object_set_new(d, "id_token", tok);
    register_add(json_object_get(d, "samples"), ts, get(p, "meterStart"), "Transaction.Begin");
    tx_meter(d, "Transaction.Begin");
    put_copy(d, "reservation_id", p, "reservationId");
    *data = d;
    return "transaction.started";
}

static const char *stop_16(const json_t *p, json_t **data)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(get(p, "transactionId")));
    const char *ts = str(p, "timestamp");
    json_t *d = tx_new(id, ts);
    json_t *tok = id_token_16(str(p, "idTag"));
    if (tok)
        json_object_set_new(d, "id_token", tok);
    json_t *samples = json_object_get(d, "samples");
    samples_add(samples, OCPP_V16, get(p, "transactionData"));
    register_add(samples, ts, get(p, "meterStop"), "Transaction.End");
    tx_meter(d, "Transaction.End");
    put_str(d, "stopped_reason", stop_reason_16(str(p, "reason")));
    *data = d;
    return "transaction.ended";
}

static const char *meter_values(ocpp_version_t v, const json_t *p, json_t **data)
{
    const json_t *tx = get(p, "transactionId");
    const json_t *mv = get(p, "meterValue");
    const char *ts = str(json_array_get(mv, 0), "timestamp");
    json_t *d;
    const char *type;
    if (v == OCPP_V16 && json_is_integer(tx)) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(tx));
        d = tx_new(id, ts);
        type = "transaction.updated";
    } else {
        d = json_pack("{s:s*, s:[]}", "timestamp", ts, "samples");
        type = "meter.values";
    }
    put_location(d, v == OCPP_V16 ? location_16(get(p, "connectorId"))
                                  : location_201(get(p, "evseId"), NULL));
    samples_add(json_object_get(d, "samples"), v, mv);
    *data = d;
    return type;
}

static const char *transaction_event(const json_t *p, json_t **data)
{
    const char *kind = str(p, "eventType");
    const json_t *info = get(p, "transactionInfo");
    json_t *d = tx_new(str(info, "transactionId"), str(p, "timestamp"));
    const json_t *evse = get(p, "evse");
    put_location(d, location_201(get(evse, "id"), get(evse, "connectorId")));
    json_t *tok = id_token_201(get(p, "idToken"));
    if (tok)
        json_object_set_new(d, "id_token", tok);
    samples_add(json_object_get(d, "samples"), OCPP_V201, get(p, "meterValue"));
    const char *type = "transaction.updated";
    if (kind && strcmp(kind, "Started") == 0) {
        type = "transaction.started";
        tx_meter(d, "Transaction.Begin");
    } else if (kind && strcmp(kind, "Ended") == 0) {
        type = "transaction.ended";
        tx_meter(d, "Transaction.End");
        const char *r = str(info, "stoppedReason");
        put_str(d, "stopped_reason", r ? r : "Local");
    }
    put_copy(d, "reservation_id", p, "reservationId");
    put_copy(d, "remote_start_id", info, "remoteStartId");
    put_str(d, "charging_state", str(info, "chargingState"));
    put_str(d, "trigger_reason", str(p, "triggerReason"));
    put_copy(d, "seq_no", p, "seqNo");
    put_copy(d, "offline", p, "offline");
    /* 2.1 only: the tariff, the limits, the V2X operation mode and the station's own cost */
    put_str(d, "tariff_id", str(info, "tariffId"));
    put_str(d, "operation_mode", str(info, "operationMode"));
    put_snake(d, "transaction_limit", get(info, "transactionLimit"));
    put_snake(d, "cost_details", get(p, "costDetails"));
    put_str(d, "preconditioning_status", str(p, "preconditioningStatus"));
    put_copy(d, "evse_sleep", p, "evseSleep");
    *data = d;
    return type;
}

/* ---- the rest ---------------------------------------------------------------------- */

static const char *boot(ocpp_version_t v, const json_t *p, json_t **data)
{
    json_t *d = json_object();
    if (v == OCPP_V16) {
        put_str(d, "vendor", str(p, "chargePointVendor"));
        put_str(d, "model", str(p, "chargePointModel"));
        put_str(d, "serial_number", str(p, "chargePointSerialNumber"));
        put_str(d, "firmware_version", str(p, "firmwareVersion"));
        if (str(p, "iccid") || str(p, "imsi"))
            json_object_set_new(
                d, "modem",
                json_pack("{s:s*, s:s*}", "iccid", str(p, "iccid"), "imsi", str(p, "imsi")));
    } else {
        const json_t *cs = get(p, "chargingStation");
        put_str(d, "vendor", str(cs, "vendorName"));
        put_str(d, "model", str(cs, "model"));
        put_str(d, "serial_number", str(cs, "serialNumber"));
        put_str(d, "firmware_version", str(cs, "firmwareVersion"));
        const json_t *m = get(cs, "modem");
        if (m)
            json_object_set_new(
                d, "modem",
                json_pack("{s:s*, s:s*}", "iccid", str(m, "iccid"), "imsi", str(m, "imsi")));
        put_str(d, "reason", str(p, "reason"));
    }
    *data = d;
    return "device.online";
}

static const char *status(ocpp_version_t v, const json_t *p, json_t **data)
{
    json_t *d = json_object();
    const status_map_t *m;
    if (v == OCPP_V16) {
        put_location(d, location_16(get(p, "connectorId")));
        m = status_find(str(p, "status"));
        const char *err = str(p, "errorCode");
        if (err && strcmp(err, "NoError") != 0)
            put_str(d, "error_code", err);
        put_str(d, "info", str(p, "info"));
        put_str(d, "vendor_id", str(p, "vendorId"));
        put_str(d, "vendor_error_code", str(p, "vendorErrorCode"));
    } else {
        put_location(d, location_201(get(p, "evseId"), get(p, "connectorId")));
        m = status_find(str(p, "connectorStatus"));
    }
    /* the schemas only allow the names in the table: m is never NULL for a valid payload */
    put_str(d, "status", m ? m->unified : "unavailable");
    if (m)
        put_str(d, "status_detail", m->detail);
    put_str(d, "timestamp", str(p, "timestamp"));
    *data = d;
    return "connector.status_changed";
}

/* camelCase -> snake_case copy of nested 2.0.1 structures; an "evse" object becomes the
 * location model and "tbc" becomes to_be_continued */
json_t *unified_snake(const json_t *v)
{
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, unified_snake(x));
        return a;
    }
    if (!json_is_object(v))
        return json_incref((json_t *)v);
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "evse") == 0 && json_is_object(x)) {
            put_location(o, location_201(get(x, "id"), get(x, "connectorId")));
            continue;
        }
        char name[96];
        size_t n = 0;
        for (const char *c = strcmp(k, "tbc") == 0 ? "toBeContinued" : k;
             *c && n + 4 < sizeof(name); c++) {
            if (strncmp(c, "SoC", 3) == 0 || strncmp(c, "SoH", 3) == 0) {
                /* 2.1 maxSoC, BatteryData soH: one word, not so_c */
                if (n)
                    name[n++] = '_';
                name[n++] = 's', name[n++] = 'o', name[n++] = (char)tolower((unsigned char)c[2]);
                c += 2;
            } else if (isupper((unsigned char)*c)) {
                if (n)
                    name[n++] = '_';
                name[n++] = (char)tolower((unsigned char)*c);
            } else {
                name[n++] = *c;
            }
        }
        name[n] = '\0';
        json_object_set_new(o, name, unified_snake(x));
    }
    return o;
}

static const char *notify(const json_t *p, const char *list, const char *to, const char *type,
                          json_t **data)
{
    json_t *d = unified_snake(p);
    json_t *items = json_object_get(d, list);
    json_object_set_new(d, to, items ? json_incref(items) : json_array());
    json_object_del(d, list);
    json_object_del(d, "custom_data"); /* vendor extension: in raw when configured */
    if (!get(d, "to_be_continued"))
        json_object_set_new(d, "to_be_continued", json_false());
    *data = d;
    return type;
}

static const char *simple_status(const json_t *p, const char *type, const char *operation,
                                 json_t **data)
{
    const char *s = str(p, "status");
    if (strcmp(type, "log.status") == 0 && s && strcmp(s, "UploadFailed") == 0)
        s = "UploadFailure"; /* 1.6 DiagnosticsStatusNotification */
    json_t *d = json_pack("{s:s*}", "status", s);
    put_copy(d, "request_id", p, "requestId");
    put_str(d, "operation", operation);
    if (operation && strcmp(operation, "publish") == 0)
        put_copy(d, "locations", p, "location");
    put_snake(d, "status_info", get(p, "statusInfo")); /* 2.1 */
    *data = d;
    return type;
}

static const char *critical[] = {"FirmwareUpdated",          "SettingSystemTime",
                                 "StartupOfTheDevice",       "ResetOrReboot",
                                 "SecurityLogWasCleared",    "MemoryExhaustion",
                                 "TamperDetectionActivated", "MaintenanceLoginAccepted",
                                 "MaintenanceLoginFailed"};

static const char *security(const json_t *p, json_t **data)
{
    const char *t = str(p, "type");
    int crit = 0;
    for (size_t i = 0; t && i < sizeof(critical) / sizeof(critical[0]); i++)
        crit |= strcmp(critical[i], t) == 0;
    json_t *d = json_pack("{s:s*, s:s*, s:b}", "type", t, "timestamp", str(p, "timestamp"),
                          "critical", crit);
    put_str(d, "tech_info", str(p, "techInfo"));
    *data = d;
    return "security.event";
}

/* ---- OCPP 2.1 only ------------------------------------------------------------------ */

static const char *der_alarm(const json_t *p, json_t **data)
{
    json_t *d = json_pack("{s:s*, s:s*, s:b}", "control_type", str(p, "controlType"), "timestamp",
                          str(p, "timestamp"), "alarm_ended", json_is_true(get(p, "alarmEnded")));
    put_str(d, "grid_event_fault", str(p, "gridEventFault"));
    put_str(d, "extra_info", str(p, "extraInfo"));
    *data = d;
    return "der.alarm";
}

static const char *der_start_stop(const json_t *p, json_t **data)
{
    json_t *d = json_pack("{s:s*, s:b, s:s*}", "control_id", str(p, "controlId"), "started",
                          json_is_true(get(p, "started")), "timestamp", str(p, "timestamp"));
    put_copy(d, "superseded_ids", p, "supersededIds");
    *data = d;
    return "der.start_stop";
}

/* a SEND: {id, pending, basetime, data: [{t, v}]}; t is seconds after basetime, v the value as
 * text (the monitored variable's value, any type) */
static const char *event_stream(const json_t *p, json_t **data)
{
    json_t *values = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(get(p, "data"), i, x)
    {
        json_t *e = json_object();
        put_copy(e, "offset_s", x, "t");
        put_str(e, "value", str(x, "v"));
        json_array_append_new(values, e);
    }
    json_t *d = json_pack("{s:s*, s:o}", "basetime", str(p, "basetime"), "values", values);
    put_copy(d, "stream_id", p, "id");
    put_copy(d, "pending", p, "pending");
    *data = d;
    return "device.event_stream";
}

static const char *battery_swap(const json_t *p, json_t **data)
{
    json_t *batteries = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(get(p, "batteryData"), i, b)
    {
        json_t *e = json_object();
        put_location(e, location_201(get(b, "evseId"), NULL));
        put_str(e, "serial_number", str(b, "serialNumber"));
        put_copy(e, "soc", b, "soC");
        put_copy(e, "soh", b, "soH");
        put_str(e, "production_date", str(b, "productionDate"));
        put_str(e, "vendor_info", str(b, "vendorInfo"));
        json_array_append_new(batteries, e);
    }
    json_t *d = json_pack("{s:s*, s:o}", "event_type", str(p, "eventType"), "batteries", batteries);
    put_copy(d, "request_id", p, "requestId");
    json_t *tok = id_token_201(get(p, "idToken"));
    if (tok)
        json_object_set_new(d, "id_token", tok);
    *data = d;
    return "battery.swap";
}

static const char *settlement(const json_t *p, json_t **data)
{
    json_t *d = json_pack("{s:s*, s:s*, s:s*}", "psp_ref", str(p, "pspRef"), "status",
                          str(p, "status"), "settlement_time", str(p, "settlementTime"));
    put_copy(d, "amount", p, "settlementAmount");
    put_str(d, "transaction_id", str(p, "transactionId"));
    put_str(d, "status_info", str(p, "statusInfo"));
    put_str(d, "receipt_id", str(p, "receiptId"));
    put_str(d, "receipt_url", str(p, "receiptUrl"));
    put_str(d, "vat_number", str(p, "vatNumber"));
    put_snake(d, "vat_company", get(p, "vatCompany"));
    *data = d;
    return "payment.settlement";
}

const char *unified_event(ocpp_version_t v, const char *action, const json_t *p, int64_t tx_id,
                          json_t **data)
{
    *data = NULL;
    int v16 = v == OCPP_V16;
    if (!json_is_object(p))
        ;
    else if (strcmp(action, "BootNotification") == 0)
        return boot(v, p, data);
    else if (strcmp(action, "Heartbeat") == 0)
        return (*data = json_object()) ? "heartbeat" : NULL;
    else if (strcmp(action, "StatusNotification") == 0)
        return status(v, p, data);
    else if (strcmp(action, "MeterValues") == 0)
        return meter_values(v, p, data);
    else if (strcmp(action, "Authorize") == 0) {
        json_t *tok = v16 ? id_token_16(str(p, "idTag")) : id_token_201(get(p, "idToken"));
        *data = json_pack("{s:o*}", "id_token", tok);
        return "authorization.requested";
    } else if (v16 && strcmp(action, "StartTransaction") == 0)
        return start_16(p, tx_id, data);
    else if (v16 && strcmp(action, "StopTransaction") == 0)
        return stop_16(p, data);
    else if (!v16 && strcmp(action, "TransactionEvent") == 0)
        return transaction_event(p, data);
    else if (strcmp(action, "SecurityEventNotification") == 0)
        return security(p, data);
    else if (strcmp(action, "FirmwareStatusNotification") == 0 ||
             strcmp(action, "SignedFirmwareStatusNotification") == 0)
        return simple_status(p, "firmware.status", "update", data);
    else if (strcmp(action, "PublishFirmwareStatusNotification") == 0)
        return simple_status(p, "firmware.status", "publish", data);
    else if (strcmp(action, "LogStatusNotification") == 0 ||
             (v16 && strcmp(action, "DiagnosticsStatusNotification") == 0))
        return simple_status(p, "log.status", NULL, data);
    else if (strcmp(action, "DataTransfer") == 0) {
        json_t *d = json_pack("{s:s*}", "vendor_id", str(p, "vendorId"));
        put_str(d, "message_id", str(p, "messageId"));
        put_copy(d, "data", p, "data");
        *data = d;
        return "data.transfer";
    } else if (!v16 && strcmp(action, "NotifyEvent") == 0)
        return notify(p, "event_data", "events", "device.event", data);
    else if (!v16 && strcmp(action, "NotifyReport") == 0)
        return notify(p, "report_data", "report", "device.report", data);
    else if (v == OCPP_V21 && strcmp(action, "NotifyDERAlarm") == 0)
        return der_alarm(p, data);
    else if (v == OCPP_V21 && strcmp(action, "NotifyDERStartStop") == 0)
        return der_start_stop(p, data);
    else if (v == OCPP_V21 && strcmp(action, "NotifyPeriodicEventStream") == 0)
        return event_stream(p, data);
    else if (v == OCPP_V21 && strcmp(action, "BatterySwap") == 0)
        return battery_swap(p, data);
    else if (v == OCPP_V21 && strcmp(action, "NotifySettlement") == 0)
        return settlement(p, data);
    return unified_message(action, p, data);
}

const char *unified_message(const char *action, const json_t *payload, json_t **data)
{
    *data = json_pack("{s:s, s:O}", "action", action, "payload", payload ? payload : json_null());
    return "ocpp.message";
}
