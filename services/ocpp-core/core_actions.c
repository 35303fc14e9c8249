/* core_actions: responses and unified events for charge-point CALLs. See core_actions.h. */
#include "core_actions.h"

#include <string.h>

#include "core_event.h"
#include "ocpp_schema.h"
#include "unified_event.h"

void core_action_out_clear(core_action_out_t *out)
{
    json_decref(out->response);
    json_decref(out->event_data);
    memset(out, 0, sizeof(*out));
}

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
    json_t *v = json_object_get(obj, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int listed(const char *list, const char *tag)
{
    size_t n = strlen(tag);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (len == n && memcmp(p, tag, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

const char *core_auth_status(const core_action_ctx_t *ctx, const char *id_tag)
{
    if (!id_tag)
        return "Invalid";
    switch (ctx->auth_policy) {
    case CORE_AUTH_ALLOW_LIST:
        return listed(ctx->auth_list, id_tag) ? "Accepted" : "Invalid";
    case CORE_AUTH_DENY_LIST:
        return listed(ctx->auth_list, id_tag) ? "Blocked" : "Accepted";
    case CORE_AUTH_REDIS:
        return ctx->tag_status ? ctx->tag_status : "Invalid";
    case CORE_AUTH_ACCEPT_ALL:
        break;
    }
    return "Accepted";
}

const char *core_action_id_tag(ocpp_version_t version, const char *action, const json_t *payload)
{
    if (version == OCPP_V16) {
        if (strcmp(action, "Authorize") == 0 || strcmp(action, "StartTransaction") == 0 ||
            strcmp(action, "StopTransaction") == 0)
            return str_at(payload, "idTag", NULL);
        return NULL;
    }
    if (strcmp(action, "Authorize") == 0 || strcmp(action, "TransactionEvent") == 0)
        return str_at(payload, "idToken", "idToken");
    return NULL;
}

int core_security_event_critical(const char *type)
{
    static const char *const critical[] = {"FirmwareUpdated",          "SettingSystemTime",
                                           "StartupOfTheDevice",       "ResetOrReboot",
                                           "SecurityLogWasCleared",    "MemoryExhaustion",
                                           "TamperDetectionActivated", "MaintenanceLoginAccepted",
                                           "MaintenanceLoginFailed"};
    for (size_t i = 0; type && i < sizeof(critical) / sizeof(critical[0]); i++)
        if (strcmp(critical[i], type) == 0)
            return 1;
    return 0;
}

static void boot(const core_action_ctx_t *ctx, core_action_out_t *out)
{
    char now[32];
    core_event_format_time(ctx->now_us, now);
    out->response = json_pack("{s:s, s:s, s:I}", "status", "Accepted", "currentTime", now,
                              "interval", (json_int_t)ctx->heartbeat_interval_s);
    out->boot_accepted = 1;
}

/* idTagInfo (1.6) / idTokenInfo (2.0.1) */
static json_t *id_info(const core_action_ctx_t *ctx, ocpp_version_t version, const char *tag)
{
    json_t *info = json_pack("{s:s}", "status", core_auth_status(ctx, tag));
    if (info && ctx->auth_policy == CORE_AUTH_REDIS && ctx->tag_expires_at_ms) {
        char when[32];
        core_event_format_time(ctx->tag_expires_at_ms * 1000u, when);
        json_object_set_new(info, version == OCPP_V16 ? "expiryDate" : "cacheExpiryDateTime",
                            json_string(when));
    }
    return info;
}

/* answers with a fixed payload (JSON text) */
typedef struct {
    const char *action;
    const char *response; /* JSON object text */
} fixed_t;

static const fixed_t FIXED[] = {
    /* both versions */
    {"StatusNotification", "{}"},
    {"FirmwareStatusNotification", "{}"},
    {"LogStatusNotification", "{}"},
    {"DataTransfer", "{\"status\":\"UnknownVendorId\"}"},
    {"SignCertificate", "{\"status\":\"Rejected\"}"},
    /* 1.6 */
    {"DiagnosticsStatusNotification", "{}"},
    {"SignedFirmwareStatusNotification", "{}"},
    /* 2.0.1 */
    {"ClearedChargingLimit", "{}"},
    {"Get15118EVCertificate", "{\"status\":\"Failed\",\"exiResponse\":\"\"}"},
    {"GetCertificateStatus", "{\"status\":\"Failed\"}"},
    {"NotifyChargingLimit", "{}"},
    {"NotifyCustomerInformation", "{}"},
    {"NotifyDisplayMessages", "{}"},
    {"NotifyEVChargingNeeds", "{\"status\":\"Rejected\"}"},
    {"NotifyEVChargingSchedule", "{\"status\":\"Accepted\"}"},
    {"NotifyEvent", "{}"},
    {"NotifyMonitoringReport", "{}"},
    {"NotifyReport", "{}"},
    {"PublishFirmwareStatusNotification", "{}"},
    {"ReportChargingProfiles", "{}"},
    {"ReservationStatusUpdate", "{}"},
    /* 2.1: the station informs, the gateway takes note (the event carries it on) */
    {"BatterySwap", "{}"},
    {"ClosePeriodicEventStream", "{}"},
    {"NotifyDERAlarm", "{}"},
    {"NotifyDERStartStop", "{}"},
    {"NotifyPriorityCharging", "{}"},
    {"NotifySettlement", "{}"},
    {"ReportDERControl", "{}"},
    /* 2.1: the station asks; the gateway has no data of its own to answer with. A stream is
     * accepted (its data comes as SEND NotifyPeriodicEventStream, each one an event); no
     * schedule update is kept here (the backend pushes dynamic schedules through
     * UpdateDynamicSchedule commands); VAT numbers are not checked by the gateway. */
    {"OpenPeriodicEventStream", "{\"status\":\"Accepted\"}"},
    {"PullDynamicScheduleUpdate",
     "{\"status\":\"Rejected\",\"statusInfo\":{\"reasonCode\":\"NoSchedule\"}}"},
};

/* 2.1 VatNumberValidation: the number echoed, Rejected (the gateway has no VAT register; a
 * backend that has one sees the request as an event) */
static json_t *vat_number(const json_t *p)
{
    json_t *r = json_pack("{s:O, s:s, s:{s:s}}", "vatNumber", json_object_get(p, "vatNumber"),
                          "status", "Rejected", "statusInfo", "reasonCode", "NotSupported");
    json_t *evse = json_object_get(p, "evseId");
    if (r && evse)
        json_object_set(r, "evseId", evse);
    return r;
}

/* 2.1 GetCertificateChainStatus (OCSP/CRL through the CSMS): one entry per certificate asked
 * about, status Failed (the gateway fetches no OCSP or CRL), to be asked again from now on */
static json_t *chain_status(const json_t *p, uint64_t now_us)
{
    char now[32];
    core_event_format_time(now_us, now);
    json_t *list = json_array();
    size_t i;
    json_t *req;
    json_array_foreach(json_object_get(p, "certificateStatusRequests"), i, req)
    {
        json_array_append_new(list, json_pack("{s:O, s:O, s:s, s:s}", "certificateHashData",
                                              json_object_get(req, "certificateHashData"), "source",
                                              json_object_get(req, "source"), "status", "Failed",
                                              "nextUpdate", now));
    }
    return json_pack("{s:o}", "certificateStatus", list);
}

static void transaction_event_201(ocpp_version_t version, const json_t *p,
                                  const core_action_ctx_t *ctx, core_action_out_t *out)
{
    const char *tag = str_at(p, "idToken", "idToken");
    out->response =
        tag ? json_pack("{s:o}", "idTokenInfo", id_info(ctx, version, tag)) : json_object();
    out->persist = 1;
}

void core_action_handle(ocpp_version_t version, const char *action, const json_t *payload,
                        const core_action_ctx_t *ctx, core_action_out_t *out)
{
    memset(out, 0, sizeof(*out));
    int v16 = version == OCPP_V16;
    int64_t tx_id = 0;
    const ocpp_schema_msg_t *msg = ocpp_schema_find(version, action);
    if (!msg || (msg->direction != OS_FROM_CP && msg->direction != OS_BOTH)) {
        out->err = OCPP_ERR_NOT_IMPLEMENTED;
        out->err_text =
            msg ? "action is not sent by a charge point" : "action not implemented by this gateway";
        /* the payload still becomes an event: nothing a charge point says is dropped */
        out->event_type = unified_message(action, payload, &out->event_data);
        return;
    }
    if (!msg->response) {
        /* 2.1 SEND (NotifyPeriodicEventStream): never answered, only its event */
    } else if (strcmp(action, "BootNotification") == 0) {
        boot(ctx, out);
    } else if (strcmp(action, "Heartbeat") == 0) {
        char now[32];
        core_event_format_time(ctx->now_us, now);
        out->response = json_pack("{s:s}", "currentTime", now);
    } else if (strcmp(action, "MeterValues") == 0) {
        out->response = json_object();
        /* 1.6: MeterValues of a transaction are transaction messages */
        out->persist = v16 && json_object_get(payload, "transactionId") != NULL;
    } else if (strcmp(action, "Authorize") == 0) {
        const char *tag =
            v16 ? str_at(payload, "idTag", NULL) : str_at(payload, "idToken", "idToken");
        out->response =
            json_pack("{s:o}", v16 ? "idTagInfo" : "idTokenInfo", id_info(ctx, version, tag));
    } else if (strcmp(action, "StartTransaction") == 0) {
        tx_id = ctx->transaction_id;
        if (tx_id <= 0) { /* no id claimed: never answer one that may collide */
            out->err = OCPP_ERR_INTERNAL;
            out->err_text = "no transaction id available, retry";
            out->event_type = NULL;
            return;
        }
        out->response = json_pack("{s:o, s:I}", "idTagInfo",
                                  id_info(ctx, version, str_at(payload, "idTag", NULL)),
                                  "transactionId", (json_int_t)tx_id);
        out->persist = 1;
    } else if (strcmp(action, "StopTransaction") == 0) {
        const char *tag = str_at(payload, "idTag", NULL);
        out->response =
            tag ? json_pack("{s:o}", "idTagInfo", id_info(ctx, version, tag)) : json_object();
        out->persist = 1;
    } else if (strcmp(action, "TransactionEvent") == 0) {
        transaction_event_201(version, payload, ctx, out);
    } else if (strcmp(action, "VatNumberValidation") == 0) {
        out->response = vat_number(payload);
    } else if (strcmp(action, "GetCertificateChainStatus") == 0) {
        out->response = chain_status(payload, ctx->now_us);
    } else if (strcmp(action, "SecurityEventNotification") == 0) {
        out->response = json_object();
        out->persist = core_security_event_critical(str_at(payload, "type", NULL));
    } else {
        for (size_t i = 0; i < sizeof(FIXED) / sizeof(FIXED[0]) && !out->response; i++)
            if (strcmp(FIXED[i].action, action) == 0)
                out->response = json_loads(FIXED[i].response, 0, NULL);
        if (!out->response) {
            out->err = OCPP_ERR_NOT_IMPLEMENTED;
            out->err_text = "action not implemented by this gateway";
        }
    }
    out->event_type = unified_event(version, action, payload, tx_id, &out->event_data);
}
