/* command_record: parsing and building the records of the command path. See command_record.h. */
#include "command_record.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

static void say(char *why, size_t whylen, const char *text)
{
    if (why && whylen)
        snprintf(why, whylen, "%s", text);
}

static int digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

int command_parse_rfc3339(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -EINVAL;
    /* before 1970 is no deadline a command can have (and keeps the arithmetic non-negative) */
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    const char *p = s + 19;
    int frac_ms = 0;
    if (*p == '.') {
        p++;
        int n = 0, scale = 100;
        while (isdigit((unsigned char)*p)) {
            frac_ms += (*p - '0') * scale;
            scale /= 10;
            p++;
            n++;
        }
        if (n == 0)
            return -EINVAL;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -EINVAL;
        offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec > 59 ? 59 : sec};
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac_ms;
    return 0;
}

void command_format_rfc3339(int64_t ms, char *out, size_t outlen)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* Copies a non-empty string member of at most max bytes without control characters. */
static int get_str(json_t *obj, const char *name, char *out, size_t max, bool required)
{
    json_t *v = json_object_get(obj, name);
    out[0] = '\0';
    if (!v || json_is_null(v))
        return required ? -ENOENT : 0;
    if (!json_is_string(v))
        return -EINVAL;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || n > max || memchr(s, '\0', n))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return -EINVAL;
    memcpy(out, s, n + 1);
    return 0;
}

int command_record_parse(const char *json, size_t len, int64_t record_ts_ms, int64_t default_ttl_ms,
                         command_record_t *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        say(why, whylen, "record is not valid JSON");
        return -EINVAL;
    }
    int rc = -EINVAL;
    out->is_json = true;
    if (!json_is_object(root)) {
        say(why, whylen, "record is not a JSON object");
        goto out;
    }
    int r = get_str(root, "command_id", out->command_id, COMMAND_ID_MAX, true);
    if (r < 0) {
        out->command_id[0] = '\0';
        say(why, whylen,
            r == -ENOENT ? "command_id missing" : "command_id is not a string of 1..79 bytes");
        goto out;
    }
    /* the edge's identity rules: a longer or otherwise foreign cp_id names no charge point (the
     * registry and core would cut or refuse it, and reach another one) */
    r = get_str(root, "cp_id", out->cp_id, COMMAND_CP_MAX, true);
    if (r == 0 && !identity_valid(out->cp_id, strlen(out->cp_id)))
        r = -EINVAL;
    if (r < 0) {
        out->cp_id[0] = '\0';
        say(why, whylen,
            r == -ENOENT ? "cp_id missing"
                         : "cp_id is not an identity (1..48 of A-Z a-z 0-9 * - _ = + | @ .)");
        goto out;
    }
    r = get_str(root, "action", out->action, COMMAND_ACTION_MAX, true);
    if (r < 0) {
        say(why, whylen, r == -ENOENT ? "action missing" : "action is not a string of 1..64 bytes");
        goto out;
    }
    if (get_str(root, "target_pod", out->target_pod, COMMAND_POD_MAX, false) < 0) {
        say(why, whylen, "target_pod is not a string of 1..128 bytes");
        goto out;
    }
    json_t *v = json_object_get(root, "hops");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > COMMAND_HOPS_MAX) {
            say(why, whylen, "hops is not an integer 0..1000");
            goto out;
        }
        out->hops = json_integer_value(v);
    }
    v = json_object_get(root, "priority");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v)) {
            say(why, whylen, "priority is not an integer");
            goto out;
        }
        out->priority = json_integer_value(v);
    }
    json_t *exp = json_object_get(root, "expires_at");
    json_t *ttl = json_object_get(root, "ttl_ms");
    if (exp && !json_is_null(exp)) {
        if (!json_is_string(exp) ||
            command_parse_rfc3339(json_string_value(exp), &out->expires_at_ms) < 0) {
            say(why, whylen, "expires_at is not an RFC 3339 date-time");
            goto out;
        }
    } else if (ttl && !json_is_null(ttl)) {
        if (!json_is_integer(ttl) || json_integer_value(ttl) <= 0 ||
            json_integer_value(ttl) > COMMAND_TTL_MAX_MS) {
            say(why, whylen, "ttl_ms is not an integer 1..31536000000 (365 days)");
            goto out;
        }
        out->expires_at_ms = record_ts_ms + json_integer_value(ttl);
    } else {
        out->expires_at_ms = record_ts_ms + default_ttl_ms;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

static bool lower_hex(const char *s, size_t n, bool *zero)
{
    *zero = true;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return false;
        *zero &= s[i] == '0';
    }
    return true;
}

bool command_traceparent_valid(const char *s, size_t len)
{
    bool zero, trace_zero, parent_zero;
    if (!s || len != COMMAND_TRACEPARENT_LEN || s[0] != '0' || s[1] != '0' || s[2] != '-' ||
        s[35] != '-' || s[52] != '-')
        return false;
    return lower_hex(s + 3, 32, &trace_zero) && !trace_zero &&
           lower_hex(s + 36, 16, &parent_zero) && !parent_zero && lower_hex(s + 53, 2, &zero);
}

/* The unified actions (DESIGN §5) and every OCPP 1.6 / 2.0.1 action a CSMS may send
 * (OS_FROM_CSMS in ocpp-core's schema table). */
static const char *const ACTIONS[] = {
    "start_transaction", "stop_transaction", "reset", "unlock_connector", "change_availability",
    "set_charging_profile", "clear_charging_profile", "get_composite_schedule", "trigger_message",
    "get_configuration", "set_configuration", "update_firmware", "get_log", "data_transfer",
    "send_local_list", "clear_cache", "reserve_now", "cancel_reservation",
    /* OCPP 1.6 */
    "CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache",
    "ClearChargingProfile", "DataTransfer", "GetCompositeSchedule", "GetConfiguration",
    "GetDiagnostics", "GetLocalListVersion", "RemoteStartTransaction", "RemoteStopTransaction",
    "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "TriggerMessage",
    "UnlockConnector", "UpdateFirmware", "CertificateSigned", "DeleteCertificate",
    "ExtendedTriggerMessage", "GetInstalledCertificateIds", "GetLog", "InstallCertificate",
    "SignedUpdateFirmware",
    /* OCPP 2.0.1 (those not above) */
    "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated", "CustomerInformation",
    "GetBaseReport", "GetChargingProfiles", "GetDisplayMessages", "GetMonitoringReport",
    "GetReport", "GetTransactionStatus", "GetVariables", "PublishFirmware",
    "RequestStartTransaction", "RequestStopTransaction", "SetDisplayMessage", "SetMonitoringBase",
    "SetMonitoringLevel", "SetNetworkProfile", "SetVariableMonitoring", "SetVariables",
    "UnpublishFirmware"};

const char *command_action_label(const char *action)
{
    for (size_t i = 0; action && i < sizeof(ACTIONS) / sizeof(ACTIONS[0]); i++)
        if (strcmp(action, ACTIONS[i]) == 0)
            return ACTIONS[i];
    return "other";
}

static const char *const STATUSES[] = {"accepted", "rejected", "ocpp_error", "timeout",
                                       "expired",  "invalid",  "unsupported"};

const char *command_status_label(const char *status)
{
    for (size_t i = 0; status && i < sizeof(STATUSES) / sizeof(STATUSES[0]); i++)
        if (strcmp(status, STATUSES[i]) == 0)
            return STATUSES[i];
    return "other";
}

static char *dump(json_t *obj, size_t *outlen)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (s && outlen)
        *outlen = strlen(s);
    return s;
}

char *command_forward_json(const char *json, size_t len, const command_record_t *rec,
                           const char *pod, size_t *outlen)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    char at[32];
    command_format_rfc3339(rec->expires_at_ms, at, sizeof(at));
    json_object_del(root, "ttl_ms");
    if (json_object_set_new(root, "expires_at", json_string(at)) < 0 ||
        json_object_set_new(root, "target_pod", json_string(pod)) < 0 ||
        json_object_set_new(root, "hops", json_integer(rec->hops + 1)) < 0) {
        json_decref(root);
        return NULL;
    }
    return dump(root, outlen);
}

void command_result_reason(const uint8_t *value, size_t len, char *out, size_t outlen)
{
    out[0] = '\0';
    json_t *r = json_loadb((const char *)value, len, 0, NULL);
    const char *reason = json_string_value(json_object_get(r, "reason"));
    if (reason)
        snprintf(out, outlen, "%s", reason);
    json_decref(r);
}

char *command_result_json(const char *command_id, const char *cp_id, const char *status,
                          const char *reason, int64_t received_ms, int64_t finished_ms,
                          const char *pod, size_t *outlen)
{
    char rcv[32], fin[32];
    command_format_rfc3339(received_ms, rcv, sizeof(rcv));
    command_format_rfc3339(finished_ms, fin, sizeof(fin));
    /* "at" as on ocpp-core's results (result.json requires it on every result): when the
     * result was decided, the same instant as finished_at */
    json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:s?, s:n, s:s, s:s, s:s?}", "command_id",
                          command_id, "cp_id", cp_id && cp_id[0] ? cp_id : NULL, "status", status,
                          "at", fin, "reason", reason && reason[0] ? reason : NULL, "response",
                          "received_at", rcv, "finished_at", fin, "pod", pod);
    if (!o)
        return NULL;
    return dump(o, outlen);
}
