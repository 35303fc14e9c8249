/* ocpp_msg.c: see ocpp_msg.h. */
#include "ocpp_msg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

static const char *const names16[ACT_COUNT] = {"BootNotification",
                                               "Heartbeat",
                                               "StatusNotification",
                                               "Authorize",
                                               "StartTransaction",
                                               "MeterValues",
                                               "StopTransaction",
                                               "-",
                                               "-",
                                               "Downlink"};
static const char *const names201[ACT_COUNT] = {
    "BootNotification",          "Heartbeat",
    "StatusNotification",        "Authorize",
    "TransactionEvent.Started",  "TransactionEvent.Updated",
    "TransactionEvent.Ended",    "OpenPeriodicEventStream",
    "NotifyPeriodicEventStream", "Downlink"};

const char *ocpp_act_name(ocpp_act_t a, ocpp_version_t v)
{
    if (a >= ACT_COUNT)
        return "?";
    return v == OCPP_V16 ? names16[a] : names201[a];
}

const char *ocpp_version_label(ocpp_version_t v)
{
    return v == OCPP_V16 ? "1.6" : v == OCPP_V201 ? "2.0.1" : "2.1";
}

bool ocpp_act_is_transactional(ocpp_act_t a)
{
    return a == ACT_START_TX || a == ACT_METER || a == ACT_STOP_TX;
}

void ocpp_timestamp(uint64_t unix_ms, char out[25])
{
    time_t s = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(unix_ms % 1000));
    memcpy(out, tmp, 24);
    out[24] = '\0';
}

static int fin(int n, size_t cap)
{
    return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

static int build16(char *o, size_t cap, const char *id, const char *mid, const ocpp_msg_t *m,
                   const char *ts)
{
    switch (m->act) {
    case ACT_BOOT:
        return fin(snprintf(o, cap,
                            "[2,\"%s\",\"BootNotification\",{\"chargePointVendor\":\"OCPPGW\","
                            "\"chargePointModel\":\"cp-sim\",\"chargePointSerialNumber\":\"%s\","
                            "\"firmwareVersion\":\"1.0\"}]",
                            mid, id),
                   cap);
    case ACT_HEARTBEAT:
        return fin(snprintf(o, cap, "[2,\"%s\",\"Heartbeat\",{}]", mid), cap);
    case ACT_STATUS:
        return fin(snprintf(o, cap,
                            "[2,\"%s\",\"StatusNotification\",{\"connectorId\":1,\"errorCode\":"
                            "\"NoError\",\"status\":\"%s\",\"timestamp\":\"%s\"}]",
                            mid, m->status ? "Charging" : "Available", ts),
                   cap);
    case ACT_AUTHORIZE:
        return fin(snprintf(o, cap, "[2,\"%s\",\"Authorize\",{\"idTag\":\"T-%.14s\"}]", mid, id),
                   cap);
    case ACT_START_TX:
        return fin(snprintf(o, cap,
                            "[2,\"%s\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":"
                            "\"T-%.14s\",\"meterStart\":%llu,\"timestamp\":\"%s\"}]",
                            mid, id, (unsigned long long)m->meter_wh, ts),
                   cap);
    case ACT_METER:
        return fin(snprintf(o, cap,
                            "[2,\"%s\",\"MeterValues\",{\"connectorId\":1,\"transactionId\":%lld,"
                            "\"meterValue\":[{\"timestamp\":\"%s\",\"sampledValue\":[{\"value\":"
                            "\"%llu\",\"measurand\":\"Energy.Active.Import.Register\",\"unit\":"
                            "\"Wh\"}]}]}]",
                            mid, (long long)m->tx_id, ts, (unsigned long long)m->meter_wh),
                   cap);
    case ACT_STOP_TX:
        return fin(snprintf(o, cap,
                            "[2,\"%s\",\"StopTransaction\",{\"transactionId\":%lld,\"idTag\":"
                            "\"T-%.14s\",\"meterStop\":%llu,\"timestamp\":\"%s\",\"reason\":"
                            "\"Local\"}]",
                            mid, (long long)m->tx_id, id, (unsigned long long)m->meter_wh, ts),
                   cap);
    default:
        return -EINVAL;
    }
}

/* --- OCPP 2.0.1 and 2.1 ------------------------------------------------------------------- */

/* appends formatted text at o + *n; false when it does not fit */
static bool app(char *o, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= cap - *n)
        return false;
    *n += (size_t)k;
    return true;
}

/* len characters standing for a meter's signature (base64 alphabet, reproducible from seed: a
 * CSMS cannot check it, the gateway must carry it whole) */
static bool app_signed(char *o, size_t cap, size_t *n, size_t len, uint64_t seed)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (cap - *n <= len)
        return false;
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        o[(*n)++] = b64[x & 63];
    }
    o[*n] = '\0';
    return true;
}

/* an energy register sample; signed (OCMF, as German Eichrecht meters send it) when bytes > 0 */
static bool app_register(char *o, size_t cap, size_t *n, const char *context, uint64_t wh,
                         uint16_t bytes, uint64_t seed)
{
    if (!app(o, cap, n,
             "{\"value\":%llu,\"context\":\"%s\",\"measurand\":"
             "\"Energy.Active.Import.Register\",\"unitOfMeasure\":{\"unit\":\"Wh\"}",
             (unsigned long long)wh, context))
        return false;
    if (bytes && (!app(o, cap, n, ",\"signedMeterValue\":{\"signedMeterData\":\"") ||
                  !app_signed(o, cap, n, bytes, seed) ||
                  !app(o, cap, n,
                       "\",\"signingMethod\":\"ECDSA-secp256r1-SHA256\",\"encodingMethod\":"
                       "\"OCMF\"}")))
        return false;
    return app(o, cap, n, "}");
}

/* TransactionEvent Started, Updated and Ended of 2.0.1 and 2.1: the same members; a 2.1 Started
 * carries the Begin register and an Ended the Begin and End registers, with their context and
 * unit, signed when m->signed_bytes says so (2.0.1's, and 2.1's Updated, carry the meter as
 * such) */
static int build_tx(char *o, size_t cap, ocpp_version_t v, const char *id, const char *mid,
                    const ocpp_msg_t *m, const char *ts)
{
    static const char *const ev[] = {"Started", "Updated", "Ended"};
    static const char *const trig[] = {"Authorized", "MeterValuePeriodic", "StopAuthorized"};
    static const char *const state[] = {"Charging", "Charging", "Idle"};
    int k = m->act == ACT_START_TX ? 0 : m->act == ACT_METER ? 1 : 2;
    size_t n = 0;
    uint64_t seed = (uint64_t)m->tx_id * 31 + m->tx_seq_no;
    bool ok = app(o, cap, &n,
                  "[2,\"%s\",\"TransactionEvent\",{\"eventType\":\"%s\",\"timestamp\":\"%s\","
                  "\"triggerReason\":\"%s\",\"seqNo\":%u,%s\"transactionInfo\":{"
                  "\"transactionId\":\"%.20s-%lld\",\"chargingState\":\"%s\"%s},\"evse\":{"
                  "\"id\":1,\"connectorId\":1},%s%.14s%s\"meterValue\":[{\"timestamp\":\"%s\","
                  "\"sampledValue\":[",
                  mid, ev[k], ts, trig[k], m->tx_seq_no, m->offline ? "\"offline\":true," : "", id,
                  (long long)m->tx_id, state[k], k == 2 ? ",\"stoppedReason\":\"Local\"" : "",
                  k == 1 ? "" : "\"idToken\":{\"idToken\":\"T-", k == 1 ? "" : id,
                  k == 1 ? "" : "\",\"type\":\"ISO14443\"},", ts);
    if (v == OCPP_V21 && k != 1) {
        ok = ok && app_register(o, cap, &n, "Transaction.Begin",
                                k == 0 ? m->meter_wh : m->meter_start_wh, m->signed_bytes, seed);
        if (k == 2)
            ok =
                ok && app(o, cap, &n, ",") &&
                app_register(o, cap, &n, "Transaction.End", m->meter_wh, m->signed_bytes, seed + 1);
    } else {
        ok = ok &&
             app(o, cap, &n, "{\"value\":%llu,\"measurand\":\"Energy.Active.Import.Register\"}",
                 (unsigned long long)m->meter_wh);
    }
    ok = ok && app(o, cap, &n, "]}]}]");
    return ok ? (int)n : -ENOSPC;
}

/* --- OCPP 2.1 only ------------------------------------------------------------------------ */

/* the stream's values: a voltage every 500 ms, as text (a monitored variable's value) */
static int build21_stream(char *o, size_t cap, const char *mid, const ocpp_msg_t *m, const char *ts)
{
    size_t n = 0;
    bool ok = app(o, cap, &n,
                  "[6,\"%s\",\"NotifyPeriodicEventStream\",{\"id\":%u,\"pending\":0,"
                  "\"basetime\":\"%s\",\"data\":[",
                  mid, m->stream_id, ts);
    for (int i = 0; ok && i < OCPP_STREAM_VALUES; i++)
        ok = app(o, cap, &n, "%s{\"t\":%d.%d,\"v\":\"%u.%u\"}", i ? "," : "", i / 2, (i % 2) * 5,
                 225 + (unsigned)((m->meter_wh + (uint64_t)i) % 10),
                 (unsigned)(m->at_ms + (uint64_t)i) % 10);
    ok = ok && app(o, cap, &n, "]}]");
    return ok ? (int)n : -ENOSPC;
}

/* the messages of 2.0.1 and of 2.1 (v), which sends 2.0.1's and its stream */
static int build2(char *o, size_t cap, ocpp_version_t v, const char *id, const char *mid,
                  const ocpp_msg_t *m, const char *ts)
{
    if ((m->act == ACT_STREAM_OPEN || m->act == ACT_STREAM) && v != OCPP_V21)
        return -EINVAL; /* 2.1's own */
    switch (m->act) {
    case ACT_BOOT:
        return fin(snprintf(o, cap,
                            "[2,\"%s\",\"BootNotification\",{\"reason\":\"PowerUp\","
                            "\"chargingStation\":{\"vendorName\":\"OCPPGW\",\"model\":\"cp-sim\","
                            "\"serialNumber\":\"%.25s\",\"firmwareVersion\":\"1.0\"}}]",
                            mid, id),
                   cap);
    case ACT_HEARTBEAT:
        return fin(snprintf(o, cap, "[2,\"%s\",\"Heartbeat\",{}]", mid), cap);
    case ACT_STATUS:
        return fin(snprintf(o, cap,
                            "[2,\"%s\",\"StatusNotification\",{\"timestamp\":\"%s\","
                            "\"connectorStatus\":\"%s\",\"evseId\":1,\"connectorId\":1}]",
                            mid, ts, m->status ? "Occupied" : "Available"),
                   cap);
    case ACT_AUTHORIZE:
        return fin(snprintf(o, cap,
                            "[2,\"%s\",\"Authorize\",{\"idToken\":{\"idToken\":\"T-%.14s\","
                            "\"type\":\"ISO14443\"}}]",
                            mid, id),
                   cap);
    case ACT_START_TX:
    case ACT_METER:
    case ACT_STOP_TX:
        return build_tx(o, cap, v, id, mid, m, ts);
    case ACT_STREAM_OPEN:
        return fin(snprintf(o, cap,
                            "[2,\"%s\",\"OpenPeriodicEventStream\",{\"constantStreamData\":{"
                            "\"id\":%u,\"variableMonitoringId\":%u,\"params\":{\"interval\":%u,"
                            "\"values\":%d}}}]",
                            mid, m->stream_id, m->stream_id, m->stream_interval_s,
                            OCPP_STREAM_VALUES),
                   cap);
    case ACT_STREAM:
        return build21_stream(o, cap, mid, m, ts);
    default:
        return -EINVAL;
    }
}

int ocpp_msg_build(char *out, size_t cap, ocpp_version_t v, const char *identity,
                   const char *msg_id, const ocpp_msg_t *m)
{
    char ts[25];
    ocpp_timestamp(m->at_ms, ts);
    return v == OCPP_V16 ? build16(out, cap, identity, msg_id, m, ts)
                         : build2(out, cap, v, identity, msg_id, m, ts);
}

/* --- scanning incoming frames ------------------------------------------------------------ */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* A JSON string without escapes at p (which points at the opening quote). */
static const char *scan_str(const char *p, const char *e, const char **s, size_t *l)
{
    if (p >= e || *p != '"')
        return NULL;
    const char *q = p + 1;
    while (q < e && *q != '"') {
        if (*q == '\\')
            return NULL;
        q++;
    }
    if (q >= e)
        return NULL;
    *s = p + 1;
    *l = (size_t)(q - p - 1);
    return q + 1;
}

static const char *expect(const char *p, const char *e, char c)
{
    p = skip_ws(p, e);
    if (p >= e || *p != c)
        return NULL;
    return skip_ws(p + 1, e);
}

int ocpp_frame_scan(const char *buf, size_t len, ocpp_frame_t *f)
{
    const char *p = buf;
    const char *e = buf + len;

    memset(f, 0, sizeof(*f));
    while (e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'))
        e--;
    if (e <= p || e[-1] != ']')
        return -EPROTO;
    e--; /* the closing bracket */
    if (!(p = expect(p, e, '[')) || p >= e || *p < '2' || *p > '6')
        return -EPROTO;
    f->type = *p++ - '0';
    if (!(p = expect(p, e, ',')) || !(p = scan_str(p, e, &f->id, &f->id_len)))
        return -EPROTO;
    /* message ids are echoed in replies: printable ASCII only (OCPP ids are at most 36 chars,
     * UUIDs in practice), so a reply is always valid JSON */
    if (f->id_len == 0 || f->id_len > 64)
        return -EPROTO;
    for (size_t i = 0; i < f->id_len; i++)
        if ((unsigned char)f->id[i] < 0x20 || (unsigned char)f->id[i] > 0x7e)
            return -EPROTO;
    if (!(p = expect(p, e, ',')))
        return -EPROTO;
    if (f->type != 3) {
        if (!(p = scan_str(p, e, &f->action, &f->action_len)))
            return -EPROTO;
        if (f->type == 4 || f->type == 5)
            return 0;
        if (!(p = expect(p, e, ',')))
            return -EPROTO;
    }
    const char *pe = e;
    while (pe > p && (pe[-1] == ' ' || pe[-1] == '\n' || pe[-1] == '\r' || pe[-1] == '\t'))
        pe--;
    if (pe <= p || *p != '{' || pe[-1] != '}')
        return -EPROTO;
    f->payload = p;
    f->payload_len = (size_t)(pe - p);
    return 0;
}

/* --- replies to CSMS calls ---------------------------------------------------------------- */

enum {
    V16 = 1,
    V201_ONLY = 2,
    V21 = 4,
    V201 = V201_ONLY | V21, /* 2.1 keeps every 2.0.1 action */
    BOTH = V16 | V201
};
enum {
    K_STATUS,
    K_EMPTY,
    K_SPECIAL
};

typedef struct downlink {
    const char *action;
    int versions;
    int kind;
    const char *yes;    /* status when accepting */
    const char *no;     /* status when rejecting */
    const char *yes201; /* 2.0.1 status when it differs */
    ocpp_effect_t effect;
} downlink_t;

/* Every CSMS-initiated action of OCPP 1.6 (core, smart charging, reservation, firmware,
 * local list, remote trigger, security extension), OCPP 2.0.1 and OCPP 2.1 (which has all of
 * 2.0.1's). */
static const downlink_t downlinks[] = {
    {"CancelReservation", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"CertificateSigned", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"ChangeAvailability", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"ChangeConfiguration", V16, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"ClearCache", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"ClearChargingProfile", BOTH, K_STATUS, "Accepted", "Unknown", NULL, EFFECT_NONE},
    {"ClearDisplayMessage", V201, K_STATUS, "Accepted", "Unknown", NULL, EFFECT_NONE},
    {"ClearVariableMonitoring", V201, K_SPECIAL, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"CostUpdated", V201, K_EMPTY, NULL, NULL, NULL, EFFECT_NONE},
    {"CustomerInformation", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"DataTransfer", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"DeleteCertificate", BOTH, K_STATUS, "Accepted", "Failed", NULL, EFFECT_NONE},
    {"ExtendedTriggerMessage", V16, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"GetBaseReport", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"GetChargingProfiles", V201, K_STATUS, "Accepted", "NoProfiles", NULL, EFFECT_NONE},
    {"GetCompositeSchedule", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"GetConfiguration", V16, K_SPECIAL, NULL, NULL, NULL, EFFECT_NONE},
    {"GetDiagnostics", V16, K_SPECIAL, NULL, NULL, NULL, EFFECT_NONE},
    {"GetDisplayMessages", V201, K_STATUS, "Accepted", "Unknown", NULL, EFFECT_NONE},
    {"GetInstalledCertificateIds", BOTH, K_STATUS, "Accepted", "NotFound", NULL, EFFECT_NONE},
    {"GetLocalListVersion", BOTH, K_SPECIAL, NULL, NULL, NULL, EFFECT_NONE},
    {"GetLog", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"GetMonitoringReport", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"GetReport", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"GetTransactionStatus", V201, K_SPECIAL, NULL, NULL, NULL, EFFECT_NONE},
    {"GetVariables", V201, K_SPECIAL, NULL, NULL, NULL, EFFECT_NONE},
    {"InstallCertificate", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"PublishFirmware", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"RemoteStartTransaction", V16, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_START_SESSION},
    {"RemoteStopTransaction", V16, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_STOP_SESSION},
    {"RequestStartTransaction", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_START_SESSION},
    {"RequestStopTransaction", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_STOP_SESSION},
    {"ReserveNow", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"Reset", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_RESET},
    {"SendLocalList", BOTH, K_STATUS, "Accepted", "Failed", NULL, EFFECT_NONE},
    {"SetChargingProfile", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"SetDisplayMessage", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"SetMonitoringBase", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"SetMonitoringLevel", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"SetNetworkProfile", V201, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"SetVariableMonitoring", V201, K_SPECIAL, NULL, NULL, NULL, EFFECT_NONE},
    {"SetVariables", V201, K_SPECIAL, NULL, NULL, NULL, EFFECT_NONE},
    {"SignedUpdateFirmware", V16, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"TriggerMessage", BOTH, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_TRIGGER},
    {"UnlockConnector", BOTH, K_STATUS, "Unlocked", "UnlockFailed", NULL, EFFECT_NONE},
    {"UnpublishFirmware", V201, K_STATUS, "Unpublished", "NoFirmware", NULL, EFFECT_NONE},
    {"UpdateFirmware", BOTH, K_SPECIAL, NULL, NULL, NULL, EFFECT_NONE},
    /* 2.1 only */
    {"AFRRSignal", V21, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"AdjustPeriodicEventStream", V21, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"ChangeTransactionTariff", V21, K_STATUS, "Accepted", "TxNotFound", NULL, EFFECT_NONE},
    {"ClearDERControl", V21, K_STATUS, "Accepted", "NotFound", NULL, EFFECT_NONE},
    {"ClearTariffs", V21, K_SPECIAL, NULL, NULL, NULL, EFFECT_NONE},
    {"GetDERControl", V21, K_STATUS, "Accepted", "NotFound", NULL, EFFECT_NONE},
    {"GetPeriodicEventStream", V21, K_EMPTY, NULL, NULL, NULL, EFFECT_NONE},
    {"GetTariffs", V21, K_STATUS, "Accepted", "NoTariff", NULL, EFFECT_NONE},
    {"NotifyAllowedEnergyTransfer", V21, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"NotifyWebPaymentStarted", V21, K_EMPTY, NULL, NULL, NULL, EFFECT_NONE},
    {"RequestBatterySwap", V21, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"SetDERControl", V21, K_STATUS, "Accepted", "NotSupported", NULL, EFFECT_NONE},
    {"SetDefaultTariff", V21, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"UpdateDynamicSchedule", V21, K_STATUS, "Accepted", "Rejected", NULL, EFFECT_NONE},
    {"UsePriorityCharging", V21, K_STATUS, "Accepted", "NoProfile", NULL, EFFECT_NONE},
};

static const downlink_t *find_downlink(const char *a, size_t l, ocpp_version_t v)
{
    int bit = v == OCPP_V16 ? V16 : v == OCPP_V201 ? V201_ONLY : V21;
    for (size_t i = 0; i < sizeof(downlinks) / sizeof(downlinks[0]); i++)
        if (strlen(downlinks[i].action) == l && memcmp(downlinks[i].action, a, l) == 0)
            return downlinks[i].versions & bit ? &downlinks[i] : NULL;
    return NULL;
}

/* Per-item results of 2.0.1 GetVariables / SetVariables / monitoring calls: one entry per
 * request item, echoing component and variable. */
static json_t *items_result(json_t *req, const char *list, const char *status_key,
                            const char *status, bool with_value)
{
    json_t *out = json_array();
    json_t *items = json_object_get(req, list);
    size_t i;
    json_t *it;

    json_array_foreach(items, i, it)
    {
        json_t *r = json_object();
        json_object_set_new(r, status_key, json_string(status));
        if (json_object_get(it, "component"))
            json_object_set(r, "component", json_object_get(it, "component"));
        if (json_object_get(it, "variable"))
            json_object_set(r, "variable", json_object_get(it, "variable"));
        static const char *const echo[] = {"id", "type", "severity", "attributeType"};
        for (size_t k = 0; k < sizeof(echo) / sizeof(echo[0]); k++)
            if (json_object_get(it, echo[k]))
                json_object_set(r, echo[k], json_object_get(it, echo[k]));
        if (with_value && strcmp(status, "Accepted") == 0)
            json_object_set_new(r, "attributeValue", json_string("0"));
        json_array_append_new(out, r);
    }
    return out;
}

static json_t *special_payload(const char *action, ocpp_version_t v, json_t *req, bool accept)
{
    const char *st = accept ? "Accepted" : "Rejected";
    if (strcmp(action, "GetConfiguration") == 0) {
        json_t *keys = json_array();
        json_t *unknown = json_array();
        json_t *asked = json_object_get(req, "key");
        size_t i;
        json_t *k;
        if (!json_array_size(asked))
            json_array_append_new(keys, json_pack("{s:s,s:b,s:s}", "key", "HeartbeatInterval",
                                                  "readonly", 0, "value", "300"));
        json_array_foreach(asked, i, k)
        {
            if (json_is_string(k) && strcmp(json_string_value(k), "HeartbeatInterval") == 0)
                json_array_append_new(keys, json_pack("{s:s,s:b,s:s}", "key", "HeartbeatInterval",
                                                      "readonly", 0, "value", "300"));
            else
                json_array_append(unknown, k);
        }
        return json_pack("{s:o,s:o}", "configurationKey", keys, "unknownKey", unknown);
    }
    if (strcmp(action, "GetDiagnostics") == 0)
        return accept ? json_pack("{s:s}", "fileName", "diagnostics.log") : json_object();
    if (strcmp(action, "GetLocalListVersion") == 0)
        return json_pack("{s:i}", v == OCPP_V16 ? "listVersion" : "versionNumber", accept ? 1 : 0);
    if (strcmp(action, "UpdateFirmware") == 0)
        return v == OCPP_V16 ? json_object() : json_pack("{s:s}", "status", st);
    if (strcmp(action, "ClearTariffs") == 0) { /* one result per tariff id, or one for all */
        json_t *res = json_array();
        json_t *ids = json_object_get(req, "tariffIds");
        const char *cst = accept ? "Accepted" : "NoTariff";
        size_t i;
        json_t *id;
        json_array_foreach(ids, i, id)
            json_array_append_new(res, json_pack("{s:s,s:O}", "status", cst, "tariffId", id));
        if (!json_array_size(res))
            json_array_append_new(res, json_pack("{s:s}", "status", cst));
        return json_pack("{s:o}", "clearTariffsResult", res);
    }
    if (strcmp(action, "GetTransactionStatus") == 0)
        return json_pack("{s:b}", "messagesInQueue", 0);
    if (strcmp(action, "GetVariables") == 0)
        return json_pack("{s:o}", "getVariableResult",
                         items_result(req, "getVariableData", "attributeStatus", st, true));
    if (strcmp(action, "SetVariables") == 0)
        return json_pack("{s:o}", "setVariableResult",
                         items_result(req, "setVariableData", "attributeStatus", st, false));
    if (strcmp(action, "SetVariableMonitoring") == 0)
        return json_pack("{s:o}", "setMonitoringResult",
                         items_result(req, "setMonitoringData", "status", st, false));
    if (strcmp(action, "ClearVariableMonitoring") == 0) {
        json_t *res = json_array();
        json_t *ids = json_object_get(req, "id");
        size_t i;
        json_t *id;
        json_array_foreach(ids, i, id)
        {
            json_array_append_new(res, json_pack("{s:s,s:O}", "status", st, "id", id));
        }
        return json_pack("{s:o}", "clearMonitoringResult", res);
    }
    return json_object();
}

static ocpp_act_t trigger_act(json_t *req, ocpp_version_t v)
{
    const char *m = json_string_value(json_object_get(req, "requestedMessage"));
    if (!m)
        return ACT_COUNT;
    if (strcmp(m, "BootNotification") == 0)
        return ACT_BOOT;
    if (strcmp(m, "Heartbeat") == 0)
        return ACT_HEARTBEAT;
    if (strcmp(m, "StatusNotification") == 0)
        return ACT_STATUS;
    if (strcmp(m, v == OCPP_V16 ? "MeterValues" : "TransactionEvent") == 0)
        return ACT_METER;
    return ACT_COUNT;
}

static int call_error(char *out, size_t cap, const ocpp_frame_t *f, const char *code,
                      const char *why)
{
    return fin(
        snprintf(out, cap, "[4,\"%.*s\",\"%s\",\"%s\",{}]", (int)f->id_len, f->id, code, why), cap);
}

int ocpp_downlink_reply(char *out, size_t cap, ocpp_version_t v, const ocpp_frame_t *f, bool accept,
                        ocpp_reply_t *r)
{
    memset(r, 0, sizeof(*r));
    r->trigger_act = ACT_COUNT;
    const downlink_t *d = find_downlink(f->action, f->action_len, v);
    if (!d)
        return call_error(out, cap, f, "NotImplemented", "action not supported by this station");
    r->known = true;
    json_t *req = json_loadb(f->payload, f->payload_len, 0, NULL);
    if (!json_is_object(req)) {
        json_decref(req);
        return call_error(out, cap, f, v == OCPP_V16 ? "FormationViolation" : "FormatViolation",
                          "payload is not a JSON object");
    }
    json_t *payload;
    if (d->kind == K_EMPTY) {
        payload = json_object();
    } else if (d->kind == K_STATUS) {
        const char *st = accept ? (v != OCPP_V16 && d->yes201 ? d->yes201 : d->yes) : d->no;
        payload = json_pack("{s:s}", "status", st);
    } else {
        payload = special_payload(d->action, v, req, accept);
    }
    if (accept) {
        r->effect = d->effect;
        if (d->effect == EFFECT_TRIGGER) {
            r->trigger_act = trigger_act(req, v);
            if (r->trigger_act == ACT_COUNT) {
                r->effect = EFFECT_NONE;
                json_object_set_new(payload, "status", json_string("NotImplemented"));
            }
        }
    }
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    json_decref(req);
    if (!text)
        return -ENOMEM;
    int n = fin(snprintf(out, cap, "[3,\"%.*s\",%s]", (int)f->id_len, f->id, text), cap);
    free(text);
    return n;
}

int ocpp_result_fields(const char *payload, size_t len, char *status, size_t cap, int64_t *interval,
                       int64_t *tx_id)
{
    json_t *o = json_loadb(payload, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return -EPROTO;
    }
    const char *st = json_string_value(json_object_get(o, "status"));
    if (!st)
        st = json_string_value(json_object_get(json_object_get(o, "idTagInfo"), "status"));
    if (!st)
        st = json_string_value(json_object_get(json_object_get(o, "idTokenInfo"), "status"));
    snprintf(status, cap, "%s", st ? st : "");
    json_t *iv = json_object_get(o, "interval");
    if (json_is_integer(iv))
        *interval = json_integer_value(iv);
    json_t *tx = json_object_get(o, "transactionId");
    if (json_is_integer(tx))
        *tx_id = json_integer_value(tx);
    json_decref(o);
    return 0;
}
