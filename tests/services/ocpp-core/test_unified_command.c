/* Unit tests for services/ocpp-core/unified_command through core_command (as main.c uses it):
 * for every unified action and both versions, the OCPP message produced from a command record
 * (compared as JSON, and valid against the generated schema), and the result produced from a
 * sample response; unsupported and invalid cases. With UNIFIED_COMMANDS_OUT / UNIFIED_RESULTS_OUT
 * set, the command records and results are written one per line for the ajv contract test
 * (tests/integration/test_unified_contract.sh). */
#include "core_command.h"
#include "ocpp_schema.h"
#include "unified_command.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1767225600000000ULL

static FILE *commands_out, *results_out;

typedef struct {
    const char *action;   /* unified */
    const char *payload;  /* unified payload */
    ocpp_version_t v;     /* target */
    const char *ocpp;     /* expected OCPP action */
    const char *expected; /* expected OCPP payload */
    const char *response; /* sample CALLRESULT payload */
    const char *status;   /* expected result status */
    const char *unified;  /* expected response_unified */
} row_t;

#define V16  OCPP_V16
#define V201 OCPP_V201
#define V21  OCPP_V21

static const char PROFILE[] =
    "{\"id\":7,\"stack_level\":1,\"purpose\":\"tx_default\",\"kind\":\"absolute\","
    "\"schedule\":{\"rate_unit\":\"A\",\"start\":\"2026-01-01T00:00:00Z\",\"periods\":[{"
    "\"start_period\":0,\"limit\":16,\"number_phases\":3}]}}";

static const row_t ROWS[] = {
    {"start_transaction", "{\"id_token\":{\"id\":\"TAG1\"},\"evse_id\":1,\"remote_start_id\":5}",
     V16, "RemoteStartTransaction", "{\"idTag\":\"TAG1\",\"connectorId\":1}",
     "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
    {"start_transaction", "{\"id_token\":{\"id\":\"TAG1\"},\"evse_id\":1,\"remote_start_id\":5}",
     V201, "RequestStartTransaction",
     "{\"idToken\":{\"idToken\":\"TAG1\",\"type\":\"Central\"},\"remoteStartId\":5,\"evseId\":1}",
     "{\"status\":\"Accepted\",\"transactionId\":\"T9\"}", "accepted",
     "{\"status\":\"accepted\",\"transaction_id\":\"T9\"}"},
    {"stop_transaction", "{\"transaction_id\":\"1234\"}", V16, "RemoteStopTransaction",
     "{\"transactionId\":1234}", "{\"status\":\"Rejected\"}", "rejected",
     "{\"status\":\"rejected\"}"},
    {"stop_transaction", "{\"transaction_id\":\"T9\"}", V201, "RequestStopTransaction",
     "{\"transactionId\":\"T9\"}", "{\"status\":\"Accepted\"}", "accepted",
     "{\"status\":\"accepted\"}"},
    {"reset", "{\"type\":\"soft\"}", V16, "Reset", "{\"type\":\"Soft\"}",
     "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
    {"reset", "{\"type\":\"soft\"}", V201, "Reset", "{\"type\":\"OnIdle\"}",
     "{\"status\":\"Scheduled\"}", "accepted", "{\"status\":\"scheduled\"}"},
    {"unlock_connector", "{\"evse_id\":2}", V16, "UnlockConnector", "{\"connectorId\":2}",
     "{\"status\":\"Unlocked\"}", "accepted", "{\"status\":\"unlocked\"}"},
    {"unlock_connector", "{\"evse_id\":2}", V201, "UnlockConnector",
     "{\"evseId\":2,\"connectorId\":1}", "{\"status\":\"Unlocked\"}", "accepted",
     "{\"status\":\"unlocked\"}"},
    {"change_availability", "{\"evse_id\":1,\"operational\":false}", V16, "ChangeAvailability",
     "{\"connectorId\":1,\"type\":\"Inoperative\"}", "{\"status\":\"Scheduled\"}", "accepted",
     "{\"status\":\"scheduled\"}"},
    {"change_availability", "{\"evse_id\":1,\"operational\":false}", V201, "ChangeAvailability",
     "{\"operationalStatus\":\"Inoperative\",\"evse\":{\"id\":1}}", "{\"status\":\"Accepted\"}",
     "accepted", "{\"status\":\"accepted\"}"},
    {"set_charging_profile", NULL, V16, "SetChargingProfile",
     "{\"connectorId\":1,\"csChargingProfiles\":{\"chargingProfileId\":7,\"stackLevel\":1,"
     "\"chargingProfilePurpose\":\"TxDefaultProfile\",\"chargingProfileKind\":\"Absolute\","
     "\"chargingSchedule\":{\"startSchedule\":\"2026-01-01T00:00:00Z\",\"chargingRateUnit\":\"A\","
     "\"chargingSchedulePeriod\":[{\"startPeriod\":0,\"limit\":16,\"numberPhases\":3}]}}}",
     "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
    {"set_charging_profile", NULL, V201, "SetChargingProfile",
     "{\"evseId\":1,\"chargingProfile\":{\"id\":7,\"stackLevel\":1,"
     "\"chargingProfilePurpose\":\"TxDefaultProfile\",\"chargingProfileKind\":\"Absolute\","
     "\"chargingSchedule\":[{\"id\":0,\"startSchedule\":\"2026-01-01T00:00:00Z\","
     "\"chargingRateUnit\":\"A\",\"chargingSchedulePeriod\":[{\"startPeriod\":0,\"limit\":16,"
     "\"numberPhases\":3}]}]}}",
     "{\"status\":\"Rejected\"}", "rejected", "{\"status\":\"rejected\"}"},
    {"clear_charging_profile", "{\"profile_id\":7}", V16, "ClearChargingProfile", "{\"id\":7}",
     "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
    {"clear_charging_profile", "{\"evse_id\":1,\"purpose\":\"tx\"}", V201, "ClearChargingProfile",
     "{\"chargingProfileCriteria\":{\"evseId\":1,\"chargingProfilePurpose\":\"TxProfile\"}}",
     "{\"status\":\"Unknown\"}", "rejected", "{\"status\":\"unknown\"}"},
    {"get_composite_schedule", "{\"evse_id\":1,\"duration\":3600,\"rate_unit\":\"W\"}", V16,
     "GetCompositeSchedule", "{\"connectorId\":1,\"duration\":3600,\"chargingRateUnit\":\"W\"}",
     "{\"status\":\"Accepted\",\"connectorId\":1}", "accepted",
     "{\"status\":\"accepted\",\"connector_id\":1}"},
    {"get_composite_schedule", "{\"evse_id\":1,\"duration\":3600}", V201, "GetCompositeSchedule",
     "{\"evseId\":1,\"duration\":3600}", "{\"status\":\"Rejected\"}", "rejected",
     "{\"status\":\"rejected\"}"},
    {"trigger_message", "{\"message\":\"log_status\"}", V16, "TriggerMessage",
     "{\"requestedMessage\":\"DiagnosticsStatusNotification\"}", "{\"status\":\"Accepted\"}",
     "accepted", "{\"status\":\"accepted\"}"},
    {"trigger_message", "{\"message\":\"status_notification\",\"evse_id\":1,\"connector_id\":1}",
     V201, "TriggerMessage",
     "{\"requestedMessage\":\"StatusNotification\",\"evse\":{\"id\":1,\"connectorId\":1}}",
     "{\"status\":\"NotImplemented\"}", "rejected", "{\"status\":\"not_implemented\"}"},
    {"get_configuration", "{\"keys\":[\"HeartbeatInterval\",\"Nope\"]}", V16, "GetConfiguration",
     "{\"key\":[\"HeartbeatInterval\",\"Nope\"]}",
     "{\"configurationKey\":[{\"key\":\"HeartbeatInterval\",\"readonly\":false,\"value\":\"300\"}],"
     "\"unknownKey\":[\"Nope\"]}",
     "accepted",
     "{\"status\":\"accepted\",\"configuration\":[{\"key\":\"HeartbeatInterval\",\"value\":"
     "\"300\",\"readonly\":false}],\"unknown_keys\":[\"Nope\"]}"},
    {"get_configuration", "{\"keys\":[\"OCPPCommCtrlr.HeartbeatInterval\"]}", V201, "GetVariables",
     "{\"getVariableData\":[{\"component\":{\"name\":\"OCPPCommCtrlr\"},\"variable\":{\"name\":"
     "\"HeartbeatInterval\"}}]}",
     "{\"getVariableResult\":[{\"attributeStatus\":\"Accepted\",\"attributeValue\":\"300\","
     "\"component\":{\"name\":\"OCPPCommCtrlr\"},\"variable\":{\"name\":\"HeartbeatInterval\"}}]}",
     "accepted",
     "{\"status\":\"accepted\",\"configuration\":[{\"key\":\"OCPPCommCtrlr.HeartbeatInterval\","
     "\"value\":\"300\"}],\"unknown_keys\":[]}"},
    {"set_configuration", "{\"key\":\"HeartbeatInterval\",\"value\":\"60\"}", V16,
     "ChangeConfiguration", "{\"key\":\"HeartbeatInterval\",\"value\":\"60\"}",
     "{\"status\":\"RebootRequired\"}", "rejected", "{\"status\":\"reboot_required\"}"},
    {"set_configuration", "{\"key\":\"OCPPCommCtrlr.HeartbeatInterval\",\"value\":\"60\"}", V201,
     "SetVariables",
     "{\"setVariableData\":[{\"component\":{\"name\":\"OCPPCommCtrlr\"},\"variable\":{\"name\":"
     "\"HeartbeatInterval\"},\"attributeValue\":\"60\"}]}",
     "{\"setVariableResult\":[{\"attributeStatus\":\"Accepted\",\"component\":{\"name\":"
     "\"OCPPCommCtrlr\"},\"variable\":{\"name\":\"HeartbeatInterval\"}}]}",
     "accepted", "{\"status\":\"accepted\"}"},
    {"update_firmware",
     "{\"location\":\"https://fw.example/v2.bin\",\"retrieve_at\":\"2026-01-02T00:00:00Z\","
     "\"retries\":3,\"request_id\":11}",
     V16, "UpdateFirmware",
     "{\"location\":\"https://fw.example/v2.bin\",\"retrieveDate\":\"2026-01-02T00:00:00Z\","
     "\"retries\":3}",
     "{}", "accepted", "{\"status\":\"accepted\"}"},
    {"update_firmware",
     "{\"location\":\"https://fw.example/v2.bin\",\"retrieve_at\":\"2026-01-02T00:00:00Z\","
     "\"retries\":3,\"request_id\":11}",
     V201, "UpdateFirmware",
     "{\"retries\":3,\"requestId\":11,\"firmware\":{\"location\":\"https://fw.example/v2.bin\","
     "\"retrieveDateTime\":\"2026-01-02T00:00:00Z\"}}",
     "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
    {"get_log", "{\"type\":\"diagnostics\",\"location\":\"ftp://logs.example/\"}", V16,
     "GetDiagnostics", "{\"location\":\"ftp://logs.example/\"}", "{\"fileName\":\"d.zip\"}",
     "accepted", "{\"status\":\"accepted\",\"file_name\":\"d.zip\"}"},
    {"get_log",
     "{\"type\":\"security\",\"location\":\"ftp://logs.example/\",\"request_id\":4,"
     "\"from\":\"2026-01-01T00:00:00Z\"}",
     V201, "GetLog",
     "{\"logType\":\"SecurityLog\",\"requestId\":4,\"log\":{\"remoteLocation\":"
     "\"ftp://logs.example/\",\"oldestTimestamp\":\"2026-01-01T00:00:00Z\"}}",
     "{\"status\":\"Accepted\",\"filename\":\"s.log\"}", "accepted",
     "{\"status\":\"accepted\",\"filename\":\"s.log\"}"},
    {"data_transfer", "{\"vendor_id\":\"acme\",\"message_id\":\"m\",\"data\":{\"a\":1}}", V16,
     "DataTransfer", "{\"vendorId\":\"acme\",\"messageId\":\"m\",\"data\":\"{\\\"a\\\":1}\"}",
     "{\"status\":\"Accepted\",\"data\":\"ok\"}", "accepted",
     "{\"status\":\"accepted\",\"data\":\"ok\"}"},
    {"data_transfer", "{\"vendor_id\":\"acme\",\"message_id\":\"m\",\"data\":{\"a\":1}}", V201,
     "DataTransfer", "{\"vendorId\":\"acme\",\"messageId\":\"m\",\"data\":{\"a\":1}}",
     "{\"status\":\"UnknownVendorId\"}", "rejected", "{\"status\":\"unknown_vendor_id\"}"},
    {"send_local_list",
     "{\"version\":3,\"update\":\"full\",\"entries\":[{\"id_token\":{\"id\":\"TAG1\"},"
     "\"status\":\"Accepted\"}]}",
     V16, "SendLocalList",
     "{\"listVersion\":3,\"updateType\":\"Full\",\"localAuthorizationList\":[{\"idTag\":\"TAG1\","
     "\"idTagInfo\":{\"status\":\"Accepted\"}}]}",
     "{\"status\":\"VersionMismatch\"}", "rejected", "{\"status\":\"version_mismatch\"}"},
    {"send_local_list",
     "{\"version\":3,\"update\":\"full\",\"entries\":[{\"id_token\":{\"id\":\"TAG1\"},"
     "\"status\":\"Accepted\"}]}",
     V201, "SendLocalList",
     "{\"versionNumber\":3,\"updateType\":\"Full\",\"localAuthorizationList\":[{\"idToken\":{"
     "\"idToken\":\"TAG1\",\"type\":\"Central\"},\"idTokenInfo\":{\"status\":\"Accepted\"}}]}",
     "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
    {"clear_cache", NULL, V16, "ClearCache", "{}", "{\"status\":\"Accepted\"}", "accepted",
     "{\"status\":\"accepted\"}"},
    {"clear_cache", NULL, V201, "ClearCache", "{}", "{\"status\":\"Rejected\"}", "rejected",
     "{\"status\":\"rejected\"}"},
    {"reserve_now",
     "{\"reservation_id\":9,\"expires_at\":\"2026-01-01T01:00:00Z\",\"id_token\":{\"id\":"
     "\"TAG1\"},\"evse_id\":1}",
     V16, "ReserveNow",
     "{\"reservationId\":9,\"expiryDate\":\"2026-01-01T01:00:00Z\",\"idTag\":\"TAG1\","
     "\"connectorId\":1}",
     "{\"status\":\"Occupied\"}", "rejected", "{\"status\":\"occupied\"}"},
    {"reserve_now",
     "{\"reservation_id\":9,\"expires_at\":\"2026-01-01T01:00:00Z\",\"id_token\":{\"id\":"
     "\"TAG1\"},\"evse_id\":1}",
     V201, "ReserveNow",
     "{\"id\":9,\"expiryDateTime\":\"2026-01-01T01:00:00Z\",\"idToken\":{\"idToken\":\"TAG1\","
     "\"type\":\"Central\"},\"evseId\":1}",
     "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
    {"cancel_reservation", "{\"reservation_id\":9}", V16, "CancelReservation",
     "{\"reservationId\":9}", "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
    {"cancel_reservation", "{\"reservation_id\":9}", V201, "CancelReservation",
     "{\"reservationId\":9}", "{\"status\":\"Rejected\"}", "rejected", "{\"status\":\"rejected\"}"},
    /* the unified values only 2.1 has */
    {"reset", "{\"type\":\"immediate_and_resume\"}", V21, "Reset",
     "{\"type\":\"ImmediateAndResume\"}", "{\"status\":\"Accepted\"}", "accepted",
     "{\"status\":\"accepted\"}"},
    {"start_transaction",
     "{\"id_token\":{\"id\":\"TAG1\"},\"remote_start_id\":5,\"charging_profile\":{\"id\":3,"
     "\"stack_level\":0,\"purpose\":\"tx\",\"kind\":\"dynamic\",\"schedule\":{\"rate_unit\":"
     "\"W\",\"periods\":[{\"start_period\":0,\"limit\":11000}]}}}",
     V21, "RequestStartTransaction",
     "{\"idToken\":{\"idToken\":\"TAG1\",\"type\":\"Central\"},\"remoteStartId\":5,"
     "\"chargingProfile\":{\"id\":3,\"stackLevel\":0,\"chargingProfilePurpose\":\"TxProfile\","
     "\"chargingProfileKind\":\"Dynamic\",\"chargingSchedule\":[{\"id\":0,\"chargingRateUnit\":"
     "\"W\",\"chargingSchedulePeriod\":[{\"startPeriod\":0,\"limit\":11000}]}]}}",
     "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
    {"clear_charging_profile", "{\"purpose\":\"priority_charging\"}", V21, "ClearChargingProfile",
     "{\"chargingProfileCriteria\":{\"chargingProfilePurpose\":\"PriorityCharging\"}}",
     "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
    {"trigger_message", "{\"message\":\"sign_v2g20_certificate\"}", V21, "TriggerMessage",
     "{\"requestedMessage\":\"SignV2G20Certificate\"}", "{\"status\":\"Accepted\"}", "accepted",
     "{\"status\":\"accepted\"}"},
    {"get_log",
     "{\"type\":\"data_collector\",\"location\":\"ftp://logs.example/\",\"request_id\":2}", V21,
     "GetLog",
     "{\"logType\":\"DataCollectorLog\",\"requestId\":2,\"log\":{\"remoteLocation\":"
     "\"ftp://logs.example/\"}}",
     "{\"status\":\"Accepted\"}", "accepted", "{\"status\":\"accepted\"}"},
};

static char *record_text(const char *id, const char *action, const char *payload)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    fprintf(f, "{\"command_id\":\"%s\",\"cp_id\":\"CP-1\",\"action\":\"%s\"%s%s}", id, action,
            payload ? ",\"payload\":" : "", payload ? payload : "");
    fclose(f);
    return text;
}

static const char *parse(const char *record, ocpp_version_t v, core_command_t **cmd, char *why)
{
    const char *status = "ok";
    if (core_command_parse((const uint8_t *)record, strlen(record), v, NOW, cmd, &status, why,
                           200) == 0)
        return "ok";
    return status;
}

/* one row, for its version or (v = OCPP_V21) for a 2.1 station: 2.1 takes the 2.0.1 conversion,
 * the same message, valid against the 2.1 schemas, and the same result */
static void run_row(const row_t *r, ocpp_version_t v)
{
    char id[64], why[200];
    snprintf(id, sizeof(id), "c-%s-%s", r->action, ocpp_version_name(v));
    const char *payload = strcmp(r->action, "set_charging_profile") == 0 ? NULL : r->payload;
    char *profile_payload = NULL;
    if (strcmp(r->action, "set_charging_profile") == 0) {
        size_t n = strlen(PROFILE) + 64;
        profile_payload = malloc(n);
        snprintf(profile_payload, n, "{\"evse_id\":1,\"profile\":%s}", PROFILE);
        payload = profile_payload;
    }
    char *record = record_text(id, r->action, payload);
    if (commands_out)
        fprintf(commands_out, "%s\n", record);
    core_command_t *cmd = NULL;
    const char *st = parse(record, v, &cmd, why);
    ck_assert_msg(strcmp(st, "ok") == 0, "%s %s: %s (%s)", r->action, ocpp_version_name(v), st,
                  why);
    /* the OCPP message produced */
    ck_assert_str_eq(cmd->action, r->ocpp);
    ck_assert_str_eq(cmd->unified, r->action);
    json_t *want = json_loads(r->expected, 0, NULL);
    ck_assert_ptr_nonnull(want);
    char *got = json_dumps(cmd->payload, JSON_COMPACT);
    ck_assert_msg(json_equal(cmd->payload, want), "%s %s: got %s\nwant %s", r->action,
                  ocpp_version_name(v), got, r->expected);
    free(got);
    ocpp_verr_t e;
    ck_assert_int_eq(ocpp_schema_validate(ocpp_schema_find(v, r->ocpp), 0, cmd->payload, &e), 0);
    /* the result from a sample response */
    snprintf(cmd->message_id, sizeof(cmd->message_id), "gw-1");
    cmd->sent_us = NOW + 1000;
    json_t *resp = json_loads(r->response, 0, NULL);
    ck_assert_int_eq(ocpp_schema_validate(ocpp_schema_find(v, r->ocpp), 1, resp, &e), 0);
    const char *status = core_command_classify(v, cmd, resp, why, sizeof(why));
    ck_assert_msg(strcmp(status, r->status) == 0, "%s %s: %s, want %s", r->action,
                  ocpp_version_name(v), status, r->status);
    char *result = core_command_result(cmd->command_id, "CP-1", status, cmd, resp, NULL, NULL, NULL,
                                       strcmp(status, "accepted") ? why : NULL, NOW + 2000);
    if (results_out)
        fprintf(results_out, "%s\n", result);
    json_t *res = json_loads(result, 0, NULL);
    json_t *uwant = json_loads(r->unified, 0, NULL);
    char *ugot = json_dumps(json_object_get(res, "response_unified"), JSON_COMPACT);
    ck_assert_msg(json_equal(json_object_get(res, "response_unified"), uwant), "%s %s: %s",
                  r->action, ocpp_version_name(v), ugot);
    ck_assert_msg(json_equal(json_object_get(res, "response"), resp), "raw response kept");
    ck_assert_str_eq(json_string_value(json_object_get(res, "unified_action")), r->action);
    ck_assert_str_eq(json_string_value(json_object_get(res, "received_at")),
                     "2026-01-01T00:00:00.000Z");
    ck_assert_ptr_nonnull(json_object_get(res, "sent_at"));
    ck_assert_ptr_nonnull(json_object_get(res, "answered_at"));
    free(ugot);
    json_decref(uwant);
    json_decref(res);
    free(result);
    json_decref(resp);
    json_decref(want);
    core_command_free(&cmd);
    free(record);
    free(profile_payload);
}

START_TEST(test_row)
{
    run_row(&ROWS[_i], ROWS[_i].v);
}
END_TEST

/* every 2.0.1 row for a 2.1 station */
START_TEST(test_row_21)
{
    if (ROWS[_i].v == V201)
        run_row(&ROWS[_i], OCPP_V21);
}
END_TEST

/* every unified action of DESIGN §5 has a row for each version */
START_TEST(test_coverage)
{
    static const char *const all[] = {"start_transaction",
                                      "stop_transaction",
                                      "reset",
                                      "unlock_connector",
                                      "change_availability",
                                      "set_charging_profile",
                                      "clear_charging_profile",
                                      "get_composite_schedule",
                                      "trigger_message",
                                      "get_configuration",
                                      "set_configuration",
                                      "update_firmware",
                                      "get_log",
                                      "data_transfer",
                                      "send_local_list",
                                      "clear_cache",
                                      "reserve_now",
                                      "cancel_reservation"};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        int v16 = 0, v201 = 0;
        for (size_t j = 0; j < sizeof(ROWS) / sizeof(ROWS[0]); j++) {
            if (strcmp(ROWS[j].action, all[i]) == 0) {
                v16 |= ROWS[j].v == V16;
                v201 |= ROWS[j].v == V201;
            }
        }
        ck_assert_msg(v16 && v201, "%s lacks a test for a version", all[i]);
    }
}
END_TEST

static void refused(const char *action, const char *payload, ocpp_version_t v, const char *want,
                    const char *why_part)
{
    char why[200];
    char *record = record_text("c-bad", action, payload);
    core_command_t *cmd = NULL;
    const char *st = parse(record, v, &cmd, why);
    ck_assert_msg(strcmp(st, want) == 0, "%s %s: %s (%s), want %s", action, payload, st, why, want);
    ck_assert_msg(strstr(why, why_part) != NULL, "%s: reason %s lacks %s", action, why, why_part);
    ck_assert_ptr_null(cmd);
    /* the result of a refused record */
    char *result = core_command_result("c-bad", "CP-1", st, NULL, NULL, NULL, NULL, NULL, why, NOW);
    if (results_out)
        fprintf(results_out, "%s\n", result);
    free(result);
    free(record);
}

START_TEST(test_refused)
{
    /* no equivalent in the version */
    refused("trigger_message", "{\"message\":\"transaction_event\"}", V16, "unsupported",
            "no equivalent");
    refused("reset", "{\"type\":\"hard\",\"evse_id\":1}", V16, "unsupported", "whole charge");
    refused("unlock_connector", "{\"evse_id\":1,\"connector_id\":2}", V16, "unsupported",
            "one connector");
    refused("get_configuration", "{}", V201, "unsupported", "GetBaseReport");
    refused("update_firmware",
            "{\"location\":\"https://x/\",\"retrieve_at\":\"2026-01-02T00:00:00Z\","
            "\"signature\":\"s\"}",
            V16, "unsupported", "signed firmware");
    refused("reserve_now",
            "{\"reservation_id\":1,\"expires_at\":\"2026-01-01T01:00:00Z\",\"id_token\":{\"id\":"
            "\"T\"},\"connector_type\":\"cType2\"}",
            V16, "unsupported", "connector type");
    refused("set_charging_profile",
            "{\"evse_id\":0,\"profile\":{\"id\":1,\"stack_level\":0,\"purpose\":"
            "\"external_constraints\",\"kind\":\"absolute\",\"schedule\":{\"rate_unit\":\"W\","
            "\"periods\":[{\"start_period\":0,\"limit\":1}]}}}",
            V16, "unsupported", "external_constraints");
    /* invalid: unknown action, payload breaking its shape, converted payload breaking OCPP */
    refused("fly_away", "{}", V16, "invalid", "unknown unified action");
    refused("start_transaction", "{}", V201, "invalid", "id_token is required");
    refused("start_transaction", "{\"id_token\":{\"id\":5}}", V16, "invalid", "wrong type");
    refused("reset", "{\"type\":\"gentle\"}", V201, "invalid", "not one of");
    refused("stop_transaction", "{\"transaction_id\":\"abc\"}", V16, "invalid", "integer");
    refused("set_configuration", "{\"key\":\"NoDot\",\"value\":\"1\"}", V201, "invalid",
            "Component.Variable");
    refused("start_transaction", "{\"id_token\":{\"id\":\"a-tag-that-is-much-longer-than-20\"}}",
            V16, "invalid", "converted payload breaks the 1.6 RemoteStartTransaction schema");
}
END_TEST

/* native 2.1 commands (DER control, tariffs, dynamic schedules, web payment, battery swap) pass
 * through as sent, validated against the 2.1 request schema; their responses are classified as
 * for any native action */
static const struct {
    const char *action, *payload, *response, *status;
} NATIVE_21[] = {
    {"SetDERControl",
     "{\"isDefault\":false,\"controlId\":\"der-1\",\"controlType\":\"FixedPFAbsorb\","
     "\"fixedPFAbsorb\":{\"priority\":1,\"displacement\":0.9,\"excitation\":true}}",
     "{\"status\":\"Accepted\",\"supersededIds\":[\"der-0\"]}", "accepted"},
    {"GetDERControl", "{\"requestId\":7,\"controlType\":\"FixedPFAbsorb\"}",
     "{\"status\":\"NotFound\"}", "rejected"},
    {"ClearDERControl", "{\"isDefault\":true,\"controlId\":\"der-1\"}", "{\"status\":\"Accepted\"}",
     "accepted"},
    {"SetDefaultTariff",
     "{\"evseId\":0,\"tariff\":{\"tariffId\":\"t-1\",\"currency\":\"EUR\",\"energy\":{\"prices\":"
     "[{\"priceKwh\":0.3}]}}}",
     "{\"status\":\"Accepted\"}", "accepted"},
    {"GetTariffs", "{\"evseId\":1}",
     "{\"status\":\"Accepted\",\"tariffAssignments\":[{\"tariffId\":\"t-1\",\"tariffKind\":"
     "\"DefaultTariff\"}]}",
     "accepted"},
    {"ClearTariffs", "{\"tariffIds\":[\"t-1\"]}",
     "{\"clearTariffsResult\":[{\"tariffId\":\"t-1\",\"status\":\"Accepted\"}]}", "accepted"},
    {"ChangeTransactionTariff",
     "{\"transactionId\":\"T9\",\"tariff\":{\"tariffId\":\"t-2\",\"currency\":\"EUR\"}}",
     "{\"status\":\"TxNotFound\"}", "rejected"},
    {"UpdateDynamicSchedule",
     "{\"chargingProfileId\":3,\"scheduleUpdate\":{\"limit\":11000,\"setpoint\":-3000}}",
     "{\"status\":\"Accepted\"}", "accepted"},
    {"NotifyWebPaymentStarted", "{\"evseId\":1,\"timeout\":120}", "{}", "accepted"},
    {"RequestBatterySwap",
     "{\"requestId\":4,\"idToken\":{\"idToken\":\"TAG1\",\"type\":\"ISO14443\"}}",
     "{\"status\":\"Accepted\"}", "accepted"},
};

START_TEST(test_native_21)
{
    const char *a = NATIVE_21[_i].action;
    char id[64], why[200];
    snprintf(id, sizeof(id), "c-native-%s", a);
    char *record = record_text(id, a, NATIVE_21[_i].payload);
    if (commands_out)
        fprintf(commands_out, "%s\n", record);
    core_command_t *cmd = NULL;
    const char *st = parse(record, OCPP_V21, &cmd, why);
    ck_assert_msg(strcmp(st, "ok") == 0, "%s: %s (%s)", a, st, why);
    ck_assert_str_eq(cmd->action, a);
    ck_assert_str_eq(cmd->unified, "");
    json_t *want = json_loads(NATIVE_21[_i].payload, 0, NULL);
    ck_assert_msg(json_equal(cmd->payload, want), "%s: passed through unchanged", a);
    json_t *resp = json_loads(NATIVE_21[_i].response, 0, NULL);
    ck_assert_ptr_nonnull(resp);
    snprintf(cmd->message_id, sizeof(cmd->message_id), "gw-1");
    cmd->sent_us = NOW + 1000;
    const char *status = core_command_classify(OCPP_V21, cmd, resp, why, sizeof(why));
    ck_assert_msg(strcmp(status, NATIVE_21[_i].status) == 0, "%s: %s (%s)", a, status, why);
    char *result = core_command_result(cmd->command_id, "CP-1", status, cmd, resp, NULL, NULL, NULL,
                                       strcmp(status, "accepted") ? why : NULL, NOW + 2000);
    if (results_out)
        fprintf(results_out, "%s\n", result);
    json_t *res = json_loads(result, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(res, "ocpp_version")), "2.1");
    ck_assert_ptr_null(json_object_get(res, "unified_action"));
    json_decref(res);
    free(result);
    json_decref(resp);
    json_decref(want);
    core_command_free(&cmd);
    free(record);
    /* the same action on a 2.0.1 station does not exist */
    record = record_text(id, a, NATIVE_21[_i].payload);
    st = parse(record, OCPP_V201, &cmd, why);
    ck_assert_str_eq(st, "invalid");
    ck_assert_msg(strstr(why, "OCPP 2.0.1 has no action") != NULL, "%s: %s", a, why);
    free(record);
}
END_TEST

/* 2.1: what is refused, and why */
START_TEST(test_refused_21)
{
    /* the 2.1-only unified values have no equivalent before 2.1 */
    refused("reset", "{\"type\":\"immediate_and_resume\"}", V201, "unsupported",
            "no equivalent in OCPP 2.0.1");
    refused("reset", "{\"type\":\"immediate_and_resume\"}", V16, "unsupported",
            "no equivalent in OCPP 1.6");
    refused("clear_charging_profile", "{\"purpose\":\"local_generation\"}", V201, "unsupported",
            "purpose local_generation has no equivalent in OCPP 2.0.1");
    refused("get_log", "{\"type\":\"data_collector\",\"location\":\"ftp://x/\"}", V201,
            "unsupported", "type data_collector");
    /* a native payload breaking the 2.1 schema never reaches the station */
    refused("SetDERControl", "{\"isDefault\":false,\"controlId\":\"d\",\"controlType\":\"Nope\"}",
            OCPP_V21, "invalid", "breaks the 2.1 SetDERControl schema");
    refused("SetDefaultTariff", "{\"evseId\":0,\"tariff\":{\"currency\":\"EUR\"}}", OCPP_V21,
            "invalid", "breaks the 2.1 SetDefaultTariff schema");
    refused("UpdateDynamicSchedule", "{\"chargingProfileId\":\"3\",\"scheduleUpdate\":{}}",
            OCPP_V21, "invalid", "breaks the 2.1 UpdateDynamicSchedule schema");
    /* messages only stations send */
    refused("NotifyDERAlarm",
            "{\"controlType\":\"FreqDroop\",\"timestamp\":\"2026-01-01T00:00:00Z\"}", OCPP_V21,
            "invalid", "sent by charge points");
    refused("NotifySettlement", "{}", OCPP_V21, "invalid", "sent by charge points");
    /* unified commands: the same checks as for 2.0.1, the version named */
    refused("get_configuration", "{}", OCPP_V21, "unsupported", "OCPP 2.1 has no");
    refused("set_configuration", "{\"key\":\"NoDot\",\"value\":\"1\"}", OCPP_V21, "invalid",
            "a 2.1 key is Component.Variable");
    refused("reset", "{\"type\":\"gentle\"}", OCPP_V21, "invalid", "not one of");
    refused("start_transaction",
            "{\"id_token\":{\"id\":\"T\",\"type\":\"a-type-longer-than-20-chars\"}}", OCPP_V21,
            "invalid", "converted payload breaks the 2.1 RequestStartTransaction schema");
    /* 2.1 widened the id token: 255 characters where 2.0.1 allowed 36 */
    char long_tag[300];
    snprintf(long_tag, sizeof(long_tag), "{\"id_token\":{\"id\":\"%0100d\"}}", 0);
    refused("start_transaction", long_tag, OCPP_V201, "invalid",
            "converted payload breaks the 2.0.1 RequestStartTransaction schema");
    char *record = record_text("c-long", "start_transaction", long_tag);
    core_command_t *cmd = NULL;
    char why[200];
    ck_assert_str_eq(parse(record, OCPP_V21, &cmd, why), "ok");
    core_command_free(&cmd);
    free(record);
}
END_TEST

/* ids the target version needs are derived from the command id: stable across replays */
START_TEST(test_derived_ids)
{
    const char *action;
    json_t *a, *b, *c;
    char why[200];
    json_t *p = json_pack("{s:{s:s}}", "id_token", "id", "TAG1");
    ck_assert_int_eq(unified_command_convert(V201, "start_transaction", p, "cmd-1", &action, &a,
                                             why, sizeof(why)),
                     UNIFIED_CMD_OK);
    ck_assert_int_eq(unified_command_convert(V201, "start_transaction", p, "cmd-1", &action, &b,
                                             why, sizeof(why)),
                     UNIFIED_CMD_OK);
    ck_assert_int_eq(unified_command_convert(V201, "start_transaction", p, "cmd-2", &action, &c,
                                             why, sizeof(why)),
                     UNIFIED_CMD_OK);
    json_int_t ia = json_integer_value(json_object_get(a, "remoteStartId"));
    ck_assert_int_eq(ia, json_integer_value(json_object_get(b, "remoteStartId")));
    ck_assert_int_ne(ia, json_integer_value(json_object_get(c, "remoteStartId")));
    ck_assert_int_ge(ia, 0);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(p);
    ck_assert(unified_command_is_unified("reset"));
    ck_assert(!unified_command_is_unified("Reset"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("unified_command");
    TCase *t = tcase_create("commands");
    tcase_add_loop_test(t, test_row, 0, (int)(sizeof(ROWS) / sizeof(ROWS[0])));
    tcase_add_loop_test(t, test_row_21, 0, (int)(sizeof(ROWS) / sizeof(ROWS[0])));
    tcase_add_test(t, test_coverage);
    tcase_add_test(t, test_refused);
    tcase_add_loop_test(t, test_native_21, 0, (int)(sizeof(NATIVE_21) / sizeof(NATIVE_21[0])));
    tcase_add_test(t, test_refused_21);
    tcase_add_test(t, test_derived_ids);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    const char *c = getenv("UNIFIED_COMMANDS_OUT"), *r = getenv("UNIFIED_RESULTS_OUT");
    if (c && *c)
        commands_out = fopen(c, "w");
    if (r && *r)
        results_out = fopen(r, "w");
    SRunner *sr = srunner_create(suite());
    srunner_set_fork_status(sr, CK_NOFORK); /* one output file for all tests */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (commands_out)
        fclose(commands_out);
    if (results_out)
        fclose(results_out);
    return failed ? 1 : 0;
}
