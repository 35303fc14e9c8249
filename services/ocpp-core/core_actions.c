/* core_actions: responses and unified events for charge-point CALLs. See core_actions.h. */
#include "core_actions.h"

#include <string.h>

#include "core_event.h"

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

static void boot(ocpp_version_t v, const json_t *p, const core_action_ctx_t *ctx,
                 core_action_out_t *out)
{
    char now[32];
    core_event_format_time(ctx->now_us, now);
    out->response = json_pack("{s:s, s:s, s:I}", "status", "Accepted", "currentTime", now,
                              "interval", (json_int_t)ctx->heartbeat_interval_s);
    out->boot_accepted = 1;
    out->event_type = "device.online";
    if (v == OCPP_V16) {
        out->event_data = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?}", "vendor",
                                    str_at(p, "chargePointVendor", NULL), "model",
                                    str_at(p, "chargePointModel", NULL), "serial_number",
                                    str_at(p, "chargePointSerialNumber", NULL), "firmware_version",
                                    str_at(p, "firmwareVersion", NULL), "reason", NULL);
    } else {
        out->event_data = json_pack(
            "{s:s?, s:s?, s:s?, s:s?, s:s?}", "vendor", str_at(p, "chargingStation", "vendorName"),
            "model", str_at(p, "chargingStation", "model"), "serial_number",
            str_at(p, "chargingStation", "serialNumber"), "firmware_version",
            str_at(p, "chargingStation", "firmwareVersion"), "reason", str_at(p, "reason", NULL));
    }
}

void core_action_handle(ocpp_version_t version, const char *action, const json_t *payload,
                        const core_action_ctx_t *ctx, core_action_out_t *out)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(action, "BootNotification") == 0) {
        boot(version, payload, ctx, out);
    } else if (strcmp(action, "Heartbeat") == 0) {
        char now[32];
        core_event_format_time(ctx->now_us, now);
        out->response = json_pack("{s:s}", "currentTime", now);
        out->event_type = "heartbeat";
    } else if (strcmp(action, "StatusNotification") == 0) {
        out->response = json_object();
        out->event_type = "connector.status_changed";
        out->event_data = json_deep_copy(payload);
    } else if (strcmp(action, "MeterValues") == 0) {
        out->response = json_object();
        out->event_type = "meter.values";
        out->event_data = json_deep_copy(payload);
    } else if (strcmp(action, "Authorize") == 0) {
        out->response = json_pack("{s:{s:s}}", version == OCPP_V16 ? "idTagInfo" : "idTokenInfo",
                                  "status", "Accepted");
        out->event_type = "authorization.requested";
        out->event_data = json_deep_copy(payload);
    } else {
        out->err = OCPP_ERR_NOT_IMPLEMENTED;
        out->err_text = "action not implemented by this gateway";
        out->event_type = "ocpp.message";
        out->event_data = json_pack("{s:s, s:O}", "action", action, "payload", payload);
    }
}
