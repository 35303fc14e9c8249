/* test_ocpp_msg.c: unit tests of what a simulated station sends and answers
 * (tools/cp-sim/ocpp_msg.c): every CALL of the life in both versions is well-formed JSON with
 * the fields the schemas require; frames are cut correctly; every CSMS-initiated action of OCPP
 * 1.6 and 2.0.1 gets a CALLRESULT with the configured positive or negative status, per-item
 * results echo the request, the effects (session, reset, trigger) are right, and what a version
 * does not define gets NotImplemented. The downlink replies are tested here without a server,
 * for every action; tests/integration/test_cp_sim_downlink.sh and test_commands_e2e.sh send
 * some of them over a real WebSocket. OCPP 2.1: the 2.0.1 life plus signed meter data, the
 * periodic event stream (a SEND), the SEND / CALLRESULTERROR frames, every 2.1 CSMS action
 * answered; with CPSIM_FRAMES_OUT set, every 2.1 message built here is written for the offline
 * ajv check against the official 2.1 schemas (test_cp_sim_schemas.sh). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ocpp_msg.h"

static char buf[65536];
static FILE *frames_out; /* CPSIM_FRAMES_OUT: the 2.1 messages built here, for ajv */

/* one line {"action", "message": request|response|send, "payload"} for the offline check of
 * tests/integration/test_cp_sim_schemas.sh against the official 2.1 schemas */
static void record_21(const char *action, const char *message, json_t *payload)
{
    if (!frames_out)
        return;
    json_t *o =
        json_pack("{s:s, s:s, s:O}", "action", action, "message", message, "payload", payload);
    char *text = json_dumps(o, JSON_COMPACT);
    fprintf(frames_out, "%s\n", text);
    free(text);
    json_decref(o);
}

/* Builds m for version v and returns the parsed frame (caller decrefs). */
static json_t *built(ocpp_version_t v, const ocpp_msg_t *m)
{
    int n = ocpp_msg_build(buf, sizeof(buf), v, "CP000042", "17", m);
    ck_assert_int_gt(n, 0);
    json_error_t e;
    json_t *j = json_loadb(buf, (size_t)n, 0, &e);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", buf, e.text);
    ck_assert_int_eq(json_array_size(j), 4);
    ck_assert_int_eq(json_integer_value(json_array_get(j, 0)), 2);
    ck_assert_str_eq(json_string_value(json_array_get(j, 1)), "17");
    return j;
}

static const char *action_of(json_t *j)
{
    return json_string_value(json_array_get(j, 2));
}

static json_t *payload_of(json_t *j)
{
    return json_array_get(j, 3);
}

START_TEST(test_v16_life_messages)
{
    ocpp_msg_t m = {.act = ACT_BOOT, .at_ms = 1700000000123ULL, .tx_id = 77, .meter_wh = 1500};
    json_t *j = built(OCPP_V16, &m);
    ck_assert_str_eq(action_of(j), "BootNotification");
    ck_assert_str_eq(json_string_value(json_object_get(payload_of(j), "chargePointVendor")),
                     "OCPPGW");
    json_decref(j);

    m.act = ACT_STATUS;
    j = built(OCPP_V16, &m);
    ck_assert_str_eq(json_string_value(json_object_get(payload_of(j), "timestamp")),
                     "2023-11-14T22:13:20.123Z");
    ck_assert_str_eq(json_string_value(json_object_get(payload_of(j), "status")), "Available");
    json_decref(j);

    m.act = ACT_START_TX;
    j = built(OCPP_V16, &m);
    ck_assert_str_eq(action_of(j), "StartTransaction");
    ck_assert_int_eq(json_integer_value(json_object_get(payload_of(j), "meterStart")), 1500);
    json_decref(j);

    m.act = ACT_METER;
    j = built(OCPP_V16, &m);
    ck_assert_str_eq(action_of(j), "MeterValues");
    ck_assert_int_eq(json_integer_value(json_object_get(payload_of(j), "transactionId")), 77);
    json_decref(j);

    m.act = ACT_STOP_TX;
    j = built(OCPP_V16, &m);
    ck_assert_str_eq(action_of(j), "StopTransaction");
    ck_assert_int_eq(json_integer_value(json_object_get(payload_of(j), "meterStop")), 1500);
    json_decref(j);

    m.act = ACT_HEARTBEAT;
    j = built(OCPP_V16, &m);
    ck_assert_int_eq(json_object_size(payload_of(j)), 0);
    json_decref(j);
    m.act = ACT_AUTHORIZE;
    j = built(OCPP_V16, &m);
    ck_assert_str_eq(json_string_value(json_object_get(payload_of(j), "idTag")), "T-CP000042");
    json_decref(j);
}
END_TEST

START_TEST(test_v201_life_messages)
{
    ocpp_msg_t m = {.act = ACT_BOOT, .at_ms = 1700000000000ULL, .tx_id = 5, .meter_wh = 10};
    json_t *j = built(OCPP_V201, &m);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(payload_of(j), "chargingStation"), "vendorName")),
                     "OCPPGW");
    json_decref(j);

    const char *events[] = {"Started", "Updated", "Ended"};
    ocpp_act_t acts[] = {ACT_START_TX, ACT_METER, ACT_STOP_TX};
    for (int k = 0; k < 3; k++) {
        m.act = acts[k];
        m.tx_seq_no = (uint32_t)k;
        m.offline = k == 1;
        j = built(OCPP_V201, &m);
        json_t *p = payload_of(j);
        ck_assert_str_eq(action_of(j), "TransactionEvent");
        ck_assert_str_eq(json_string_value(json_object_get(p, "eventType")), events[k]);
        ck_assert_int_eq(json_integer_value(json_object_get(p, "seqNo")), k);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "transactionInfo"),
                                                           "transactionId")),
                         "CP000042-5");
        ck_assert(json_is_true(json_object_get(p, "offline")) == (k == 1));
        ck_assert(json_is_object(json_object_get(p, "idToken")) == (k != 1));
        ck_assert_int_eq(json_array_size(json_object_get(p, "meterValue")), 1);
        json_decref(j);
    }
    m.act = ACT_STATUS;
    m.status = 1;
    j = built(OCPP_V201, &m);
    ck_assert_str_eq(json_string_value(json_object_get(payload_of(j), "connectorStatus")),
                     "Occupied");
    json_decref(j);
    ck_assert_str_eq(ocpp_act_name(ACT_METER, OCPP_V201), "TransactionEvent.Updated");
    ck_assert_str_eq(ocpp_act_name(ACT_METER, OCPP_V16), "MeterValues");
    ck_assert(ocpp_act_is_transactional(ACT_STOP_TX));
    ck_assert(!ocpp_act_is_transactional(ACT_HEARTBEAT));
}
END_TEST

START_TEST(test_build_no_space)
{
    ocpp_msg_t m = {.act = ACT_BOOT};
    ck_assert_int_eq(ocpp_msg_build(buf, 20, OCPP_V16, "CP1", "1", &m), -ENOSPC);
}
END_TEST

START_TEST(test_frame_scan)
{
    ocpp_frame_t f;
    const char *r = " [3, \"12\" , {\"status\":\"Accepted\",\"interval\":300} ] ";
    ck_assert_int_eq(ocpp_frame_scan(r, strlen(r), &f), 0);
    ck_assert_int_eq(f.type, 3);
    ck_assert_int_eq(f.id_len, 2);
    ck_assert(memcmp(f.id, "12", 2) == 0);
    ck_assert(memcmp(f.payload, "{\"status\"", 9) == 0);
    ck_assert_int_eq(f.payload[f.payload_len - 1], '}');
    const char *c = "[2,\"abc\",\"Reset\",{\"type\":\"Hard\"}]";
    ck_assert_int_eq(ocpp_frame_scan(c, strlen(c), &f), 0);
    ck_assert_int_eq(f.type, 2);
    ck_assert_int_eq(f.action_len, 5);
    ck_assert_int_eq(f.payload_len, 15);
    const char *e = "[4,\"9\",\"NotImplemented\",\"no\",{}]";
    ck_assert_int_eq(ocpp_frame_scan(e, strlen(e), &f), 0);
    ck_assert_int_eq(f.type, 4);
    ck_assert(memcmp(f.action, "NotImplemented", f.action_len) == 0);
    const char *bad[] = {"",
                         "[]",
                         "[5,\"1\",{}]",
                         "[3,1,{}]",
                         "[3,\"1\"]",
                         "[3,\"1\",[]]",
                         "{\"a\":1}",
                         "[2,\"1\",\"A\"]",
                         "[3,\"1\",{}",
                         "[3,\"\",{}]",
                         "[3,\"a\x01\",{}]",
                         "[3,\"\xc3\xa9\",{}]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(ocpp_frame_scan(bad[i], strlen(bad[i]), &f) == -EPROTO, "%s", bad[i]);
}
END_TEST

START_TEST(test_result_fields)
{
    char st[32];
    int64_t iv = 0, tx = 0;
    const char *boot = "{\"status\":\"Accepted\",\"currentTime\":\"x\",\"interval\":300}";
    ck_assert_int_eq(ocpp_result_fields(boot, strlen(boot), st, sizeof(st), &iv, &tx), 0);
    ck_assert_str_eq(st, "Accepted");
    ck_assert_int_eq(iv, 300);
    const char *start = "{\"idTagInfo\":{\"status\":\"Blocked\"},\"transactionId\":4242}";
    ck_assert_int_eq(ocpp_result_fields(start, strlen(start), st, sizeof(st), &iv, &tx), 0);
    ck_assert_str_eq(st, "Blocked");
    ck_assert_int_eq(tx, 4242);
    const char *auth201 = "{\"idTokenInfo\":{\"status\":\"Invalid\"}}";
    ocpp_result_fields(auth201, strlen(auth201), st, sizeof(st), &iv, &tx);
    ck_assert_str_eq(st, "Invalid");
    ck_assert_int_eq(ocpp_result_fields("[1]", 3, st, sizeof(st), &iv, &tx), -EPROTO);
}
END_TEST

/* Sends CALL action/payload to a station of version v; returns the parsed reply frame. */
static json_t *reply(ocpp_version_t v, const char *action, const char *payload, bool accept,
                     ocpp_reply_t *r)
{
    char call[2048];
    snprintf(call, sizeof(call), "[2,\"u-1\",\"%s\",%s]", action, payload);
    ocpp_frame_t f;
    ck_assert_int_eq(ocpp_frame_scan(call, strlen(call), &f), 0);
    int n = ocpp_downlink_reply(buf, sizeof(buf), v, &f, accept, r);
    ck_assert_int_gt(n, 0);
    json_t *j = json_loadb(buf, (size_t)n, 0, NULL);
    ck_assert_msg(j != NULL, "reply not JSON: %s", buf);
    ck_assert_str_eq(json_string_value(json_array_get(j, 1)), "u-1");
    return j;
}

static const char *status_of(json_t *j)
{
    return json_string_value(json_object_get(json_array_get(j, 2), "status"));
}

static const char *v16_actions[] = {"CancelReservation",
                                    "ChangeAvailability",
                                    "ChangeConfiguration",
                                    "ClearCache",
                                    "ClearChargingProfile",
                                    "DataTransfer",
                                    "GetCompositeSchedule",
                                    "GetConfiguration",
                                    "GetDiagnostics",
                                    "GetLocalListVersion",
                                    "RemoteStartTransaction",
                                    "RemoteStopTransaction",
                                    "ReserveNow",
                                    "Reset",
                                    "SendLocalList",
                                    "SetChargingProfile",
                                    "TriggerMessage",
                                    "UnlockConnector",
                                    "UpdateFirmware",
                                    "CertificateSigned",
                                    "DeleteCertificate",
                                    "ExtendedTriggerMessage",
                                    "GetInstalledCertificateIds",
                                    "GetLog",
                                    "InstallCertificate",
                                    "SignedUpdateFirmware"};

static const char *v201_actions[] = {"CancelReservation",
                                     "CertificateSigned",
                                     "ChangeAvailability",
                                     "ClearCache",
                                     "ClearChargingProfile",
                                     "ClearDisplayMessage",
                                     "ClearVariableMonitoring",
                                     "CostUpdated",
                                     "CustomerInformation",
                                     "DataTransfer",
                                     "DeleteCertificate",
                                     "GetBaseReport",
                                     "GetChargingProfiles",
                                     "GetCompositeSchedule",
                                     "GetDisplayMessages",
                                     "GetInstalledCertificateIds",
                                     "GetLocalListVersion",
                                     "GetLog",
                                     "GetMonitoringReport",
                                     "GetReport",
                                     "GetTransactionStatus",
                                     "GetVariables",
                                     "InstallCertificate",
                                     "PublishFirmware",
                                     "RequestStartTransaction",
                                     "RequestStopTransaction",
                                     "ReserveNow",
                                     "Reset",
                                     "SendLocalList",
                                     "SetChargingProfile",
                                     "SetDisplayMessage",
                                     "SetMonitoringBase",
                                     "SetMonitoringLevel",
                                     "SetNetworkProfile",
                                     "SetVariableMonitoring",
                                     "SetVariables",
                                     "TriggerMessage",
                                     "UnlockConnector",
                                     "UnpublishFirmware",
                                     "UpdateFirmware"};

/* Every action of a version gets a CALLRESULT; status-shaped answers differ between accept
 * and reject. */
static void every_action(ocpp_version_t v, const char **actions, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ocpp_reply_t r;
        const char *payload = strcmp(actions[i], "TriggerMessage") == 0
                                  ? "{\"requestedMessage\":\"Heartbeat\"}"
                                  : "{}";
        json_t *yes = reply(v, actions[i], payload, true, &r);
        ck_assert_msg(json_integer_value(json_array_get(yes, 0)) == 3, "%s: %s", actions[i], buf);
        ck_assert_msg(r.known, "%s unknown", actions[i]);
        ck_assert(json_is_object(json_array_get(yes, 2)));
        json_t *no = reply(v, actions[i], payload, false, &r);
        ck_assert_int_eq(json_integer_value(json_array_get(no, 0)), 3);
        if (status_of(yes) && status_of(no))
            ck_assert_msg(strcmp(status_of(yes), status_of(no)) != 0, "%s: %s both ways",
                          actions[i], status_of(yes));
        json_decref(yes);
        json_decref(no);
    }
}

START_TEST(test_every_v16_downlink)
{
    every_action(OCPP_V16, v16_actions, sizeof(v16_actions) / sizeof(v16_actions[0]));
}
END_TEST

START_TEST(test_every_v201_downlink)
{
    every_action(OCPP_V201, v201_actions, sizeof(v201_actions) / sizeof(v201_actions[0]));
}
END_TEST

START_TEST(test_statuses_and_effects)
{
    ocpp_reply_t r;
    json_t *j = reply(OCPP_V16, "RemoteStartTransaction", "{\"idTag\":\"X\"}", true, &r);
    ck_assert_str_eq(status_of(j), "Accepted");
    ck_assert_int_eq(r.effect, EFFECT_START_SESSION);
    json_decref(j);
    j = reply(OCPP_V16, "RemoteStartTransaction", "{\"idTag\":\"X\"}", false, &r);
    ck_assert_str_eq(status_of(j), "Rejected");
    ck_assert_int_eq(r.effect, EFFECT_NONE);
    json_decref(j);
    j = reply(OCPP_V201, "RequestStopTransaction", "{\"transactionId\":\"t\"}", true, &r);
    ck_assert_int_eq(r.effect, EFFECT_STOP_SESSION);
    json_decref(j);
    j = reply(OCPP_V201, "Reset", "{\"type\":\"Immediate\"}", true, &r);
    ck_assert_int_eq(r.effect, EFFECT_RESET);
    json_decref(j);
    j = reply(OCPP_V16, "UnlockConnector", "{\"connectorId\":1}", true, &r);
    ck_assert_str_eq(status_of(j), "Unlocked");
    json_decref(j);
    j = reply(OCPP_V16, "UnlockConnector", "{\"connectorId\":1}", false, &r);
    ck_assert_str_eq(status_of(j), "UnlockFailed");
    json_decref(j);
    j = reply(OCPP_V201, "TriggerMessage", "{\"requestedMessage\":\"StatusNotification\"}", true,
              &r);
    ck_assert_str_eq(status_of(j), "Accepted");
    ck_assert_int_eq(r.effect, EFFECT_TRIGGER);
    ck_assert_int_eq(r.trigger_act, ACT_STATUS);
    json_decref(j);
    j = reply(OCPP_V16, "TriggerMessage", "{\"requestedMessage\":\"FirmwareStatusNotification\"}",
              true, &r);
    ck_assert_str_eq(status_of(j), "NotImplemented");
    ck_assert_int_eq(r.effect, EFFECT_NONE);
    json_decref(j);
    j = reply(OCPP_V201, "GetLocalListVersion", "{}", true, &r);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(j, 2), "versionNumber")), 1);
    json_decref(j);
    j = reply(OCPP_V16, "UpdateFirmware", "{\"location\":\"x\",\"retrieveDate\":\"y\"}", true, &r);
    ck_assert_int_eq(json_object_size(json_array_get(j, 2)), 0);
    json_decref(j);
}
END_TEST

START_TEST(test_per_item_results)
{
    ocpp_reply_t r;
    json_t *j = reply(OCPP_V201, "GetVariables",
                      "{\"getVariableData\":[{\"component\":{\"name\":\"A\"},\"variable\":{"
                      "\"name\":\"B\"}},{\"component\":{\"name\":\"C\"},\"variable\":{\"name\":"
                      "\"D\"}}]}",
                      true, &r);
    json_t *res = json_object_get(json_array_get(j, 2), "getVariableResult");
    ck_assert_int_eq(json_array_size(res), 2);
    json_t *second = json_array_get(res, 1);
    ck_assert_str_eq(json_string_value(json_object_get(second, "attributeStatus")), "Accepted");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(second, "component"), "name")), "C");
    ck_assert(json_is_string(json_object_get(second, "attributeValue")));
    json_decref(j);
    j = reply(OCPP_V201, "SetVariables",
              "{\"setVariableData\":[{\"attributeValue\":\"1\",\"component\":{\"name\":\"A\"},"
              "\"variable\":{\"name\":\"B\"}}]}",
              false, &r);
    res = json_object_get(json_array_get(j, 2), "setVariableResult");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 0), "attributeStatus")),
                     "Rejected");
    json_decref(j);
    j = reply(OCPP_V201, "ClearVariableMonitoring", "{\"id\":[3,4]}", true, &r);
    res = json_object_get(json_array_get(j, 2), "clearMonitoringResult");
    ck_assert_int_eq(json_array_size(res), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(res, 1), "id")), 4);
    json_decref(j);
    j = reply(OCPP_V16, "GetConfiguration", "{\"key\":[\"HeartbeatInterval\",\"Nope\"]}", true, &r);
    json_t *p = json_array_get(j, 2);
    ck_assert_int_eq(json_array_size(json_object_get(p, "configurationKey")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "unknownKey"), 0)),
                     "Nope");
    json_decref(j);
}
END_TEST

START_TEST(test_unknown_and_malformed)
{
    ocpp_reply_t r;
    json_t *j = reply(OCPP_V16, "FlyToTheMoon", "{}", true, &r);
    ck_assert_int_eq(json_integer_value(json_array_get(j, 0)), 4);
    ck_assert_str_eq(json_string_value(json_array_get(j, 2)), "NotImplemented");
    ck_assert(!r.known);
    json_decref(j);
    /* actions of the other version only */
    j = reply(OCPP_V201, "ChangeConfiguration", "{}", true, &r);
    ck_assert_str_eq(json_string_value(json_array_get(j, 2)), "NotImplemented");
    json_decref(j);
    j = reply(OCPP_V16, "GetVariables", "{}", true, &r);
    ck_assert_str_eq(json_string_value(json_array_get(j, 2)), "NotImplemented");
    json_decref(j);
    /* a payload that is not JSON */
    const char *call = "[2,\"u-2\",\"Reset\",{\"type\":}]";
    ocpp_frame_t f;
    ck_assert_int_eq(ocpp_frame_scan(call, strlen(call), &f), 0);
    int n = ocpp_downlink_reply(buf, sizeof(buf), OCPP_V16, &f, true, &r);
    ck_assert_int_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(buf, "\"FormationViolation\""));
    n = ocpp_downlink_reply(buf, sizeof(buf), OCPP_V201, &f, true, &r);
    ck_assert_ptr_nonnull(strstr(buf, "\"FormatViolation\""));
    ck_assert_int_eq(r.effect, EFFECT_NONE);
}
END_TEST

/* ---- OCPP 2.1 ---------------------------------------------------------------------------- */

/* Builds m for 2.1 and returns the parsed frame (type 2, or 6 for the stream) */
static json_t *built21(const ocpp_msg_t *m, int *len)
{
    int n = ocpp_msg_build(buf, sizeof(buf), OCPP_V21, "CP000042", "17", m);
    ck_assert_int_gt(n, 0);
    *len = n;
    json_error_t e;
    json_t *j = json_loadb(buf, (size_t)n, 0, &e);
    ck_assert_msg(j != NULL, "not JSON: %.200s (%s)", buf, e.text);
    ck_assert_int_eq(json_array_size(j), 4);
    ck_assert_int_eq(json_integer_value(json_array_get(j, 0)), m->act == ACT_STREAM ? 6 : 2);
    record_21(action_of(j), m->act == ACT_STREAM ? "send" : "request", payload_of(j));
    return j;
}

static json_t *sample_at(json_t *j, size_t i)
{
    return json_array_get(
        json_object_get(json_array_get(json_object_get(payload_of(j), "meterValue"), 0),
                        "sampledValue"),
        i);
}

START_TEST(test_v21_life_messages)
{
    ocpp_msg_t m = {.act = ACT_BOOT, .at_ms = 1700000000123ULL, .tx_id = 77, .meter_wh = 1500};
    int n;
    /* what 2.0.1 says, 2.1 says the same way */
    ocpp_act_t same[] = {ACT_BOOT, ACT_HEARTBEAT, ACT_STATUS, ACT_AUTHORIZE, ACT_METER};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        m.act = same[i];
        json_t *j = built21(&m, &n);
        char copy[4096];
        ck_assert_int_lt(n, (int)sizeof(copy));
        memcpy(copy, buf, (size_t)n + 1);
        ck_assert_int_eq(ocpp_msg_build(buf, sizeof(buf), OCPP_V201, "CP000042", "17", &m), n);
        ck_assert_str_eq(buf, copy);
        json_decref(j);
    }
    /* Started: the Begin register, signed */
    m = (ocpp_msg_t){.act = ACT_START_TX,
                     .at_ms = 1700000000123ULL,
                     .tx_id = 77,
                     .meter_wh = 1500,
                     .signed_bytes = 16384};
    json_t *j = built21(&m, &n);
    ck_assert_str_eq(action_of(j), "TransactionEvent");
    json_t *p = payload_of(j);
    ck_assert_str_eq(json_string_value(json_object_get(p, "eventType")), "Started");
    ck_assert_int_eq(json_array_size(json_object_get(
                         json_array_get(json_object_get(p, "meterValue"), 0), "sampledValue")),
                     1);
    json_t *sv = sample_at(j, 0);
    ck_assert_str_eq(json_string_value(json_object_get(sv, "context")), "Transaction.Begin");
    ck_assert_int_eq(json_integer_value(json_object_get(sv, "value")), 1500);
    json_t *sig = json_object_get(sv, "signedMeterValue");
    ck_assert_int_eq(json_string_length(json_object_get(sig, "signedMeterData")), 16384);
    ck_assert_str_eq(json_string_value(json_object_get(sig, "encodingMethod")), "OCMF");
    json_decref(j);
    /* Ended: Begin and End, both signed: more than 32 KiB */
    m.act = ACT_STOP_TX;
    m.meter_start_wh = 1500;
    m.meter_wh = 4200;
    m.tx_seq_no = 5;
    j = built21(&m, &n);
    ck_assert_int_gt(n, 32 * 1024);
    p = payload_of(j);
    ck_assert_str_eq(json_string_value(json_object_get(p, "eventType")), "Ended");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(p, "transactionInfo"), "stoppedReason")),
        "Local");
    ck_assert_int_eq(json_integer_value(json_object_get(sample_at(j, 0), "value")), 1500);
    ck_assert_int_eq(json_integer_value(json_object_get(sample_at(j, 1), "value")), 4200);
    ck_assert_str_eq(json_string_value(json_object_get(sample_at(j, 1), "context")),
                     "Transaction.End");
    const char *d0 = json_string_value(
        json_object_get(json_object_get(sample_at(j, 0), "signedMeterValue"), "signedMeterData"));
    const char *d1 = json_string_value(
        json_object_get(json_object_get(sample_at(j, 1), "signedMeterValue"), "signedMeterData"));
    ck_assert_int_eq((int)strlen(d1), 16384);
    ck_assert_str_ne(d0, d1); /* two signatures */
    json_decref(j);
    /* the largest signature 2.1 allows in a frame cp-sim can send; unsigned */
    m.signed_bytes = 30000;
    j = built21(&m, &n);
    ck_assert_int_gt(n, 60000);
    json_decref(j);
    m.signed_bytes = 0;
    j = built21(&m, &n);
    ck_assert_ptr_null(json_object_get(sample_at(j, 1), "signedMeterValue"));
    json_decref(j);
    /* the stream: opened by a CALL, then SEND frames */
    m = (ocpp_msg_t){.act = ACT_STREAM_OPEN,
                     .at_ms = 1700000000123ULL,
                     .stream_id = 1,
                     .stream_interval_s = 2,
                     .meter_wh = 42};
    j = built21(&m, &n);
    ck_assert_str_eq(action_of(j), "OpenPeriodicEventStream");
    json_t *csd = json_object_get(payload_of(j), "constantStreamData");
    ck_assert_int_eq(json_integer_value(json_object_get(csd, "id")), 1);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(csd, "params"), "interval")), 2);
    json_decref(j);
    m.act = ACT_STREAM;
    j = built21(&m, &n);
    ck_assert_str_eq(action_of(j), "NotifyPeriodicEventStream");
    p = payload_of(j);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "id")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(p, "basetime")), "2023-11-14T22:13:20.123Z");
    json_t *data = json_object_get(p, "data");
    ck_assert_int_eq(json_array_size(data), OCPP_STREAM_VALUES);
    ck_assert(json_is_number(json_object_get(json_array_get(data, 1), "t")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(data, 0), "v")), "227.3");
    json_decref(j);
    /* older versions have no stream; a full buffer is -ENOSPC */
    ck_assert_int_eq(ocpp_msg_build(buf, sizeof(buf), OCPP_V201, "CP1", "1", &m), -EINVAL);
    m = (ocpp_msg_t){.act = ACT_STOP_TX, .signed_bytes = 16384};
    ck_assert_int_eq(ocpp_msg_build(buf, 20000, OCPP_V21, "CP1", "1", &m), -ENOSPC);
    ck_assert_int_eq(ocpp_msg_build(buf, 100, OCPP_V21, "CP1", "1", &m), -ENOSPC);
    ck_assert_str_eq(ocpp_version_label(OCPP_V21), "2.1");
}
END_TEST

START_TEST(test_v21_frames)
{
    ocpp_frame_t f;
    const char *e = "[5,\"9\",\"FormatViolation\",\"bad result\",{}]";
    ck_assert_int_eq(ocpp_frame_scan(e, strlen(e), &f), 0);
    ck_assert_int_eq(f.type, 5);
    ck_assert(memcmp(f.action, "FormatViolation", f.action_len) == 0);
    const char *send = "[6,\"7\",\"NotifyPeriodicEventStream\",{\"id\":1}]";
    ck_assert_int_eq(ocpp_frame_scan(send, strlen(send), &f), 0);
    ck_assert_int_eq(f.type, 6);
    ck_assert_int_eq(f.action_len, strlen("NotifyPeriodicEventStream"));
    ck_assert_int_eq(f.payload_len, 8);
    const char *bad[] = {"[7,\"1\",\"A\",{}]", "[6,\"1\",{}]", "[6,\"1\",\"A\"]", "[5,\"1\",{}]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(ocpp_frame_scan(bad[i], strlen(bad[i]), &f) == -EPROTO, "%s", bad[i]);
}
END_TEST

/* the builders 2.0.1 and 2.1 share (TransactionEvent, BootNotification) write, for each version,
 * byte for byte what they wrote when each version had its own: the 2.1 Started and Ended carry
 * the registers with their context and unit (signed when asked), its Updated is 2.0.1's */
#define TS_ "\"timestamp\":\"2023-11-14T22:13:20.123Z\""
#define TX_HEAD(ev, trig, seq)                                                                     \
    "[2,\"m1\",\"TransactionEvent\",{\"eventType\":\"" ev "\"," TS_ ",\"triggerReason\":\"" trig   \
    "\",\"seqNo\":" seq ","
#define TX_ID "\"transactionInfo\":{\"transactionId\":\"CP000042-7\",\"chargingState\":"
#define EVSE_TOKEN                                                                                 \
    "\"evse\":{\"id\":1,\"connectorId\":1},\"idToken\":{\"idToken\":\"T-CP000042\",\"type\":"      \
    "\"ISO14443\"},"
#define REG(value, context)                                                                        \
    "{\"value\":" value ",\"context\":\"" context "\",\"measurand\":"                              \
    "\"Energy.Active.Import.Register\",\"unitOfMeasure\":{\"unit\":\"Wh\"}"
#define SIGNED(data)                                                                               \
    ",\"signedMeterValue\":{\"signedMeterData\":\"" data "\",\"signingMethod\":"                   \
    "\"ECDSA-secp256r1-SHA256\",\"encodingMethod\":\"OCMF\"}"

static const char STARTED[] = TX_HEAD("Started", "Authorized", "0") TX_ID
    "\"Charging\"}," EVSE_TOKEN "\"meterValue\":[{" TS_ ",\"sampledValue\":[";
static const char UPDATED[] = TX_HEAD("Updated", "MeterValuePeriodic", "1") TX_ID
    "\"Charging\"},\"evse\":{\"id\":1,\"connectorId\":1},\"meterValue\":[{" TS_
    ",\"sampledValue\":[{\"value\":1501,\"measurand\":\"Energy.Active.Import.Register\"}]}]}]";
static const char ENDED[] =
    TX_HEAD("Ended", "StopAuthorized", "2") "\"offline\":true," TX_ID
                                            "\"Idle\",\"stoppedReason\":\"Local\"}," EVSE_TOKEN
                                            "\"meterValue\":[{" TS_ ",\"sampledValue\":[";

START_TEST(test_shared_builders_output)
{
    char want[4096];
    const struct {
        ocpp_version_t v;
        ocpp_act_t act;
        uint16_t signed_bytes;
        const char *head, *tail;
    } cases[] = {
        {OCPP_V201, ACT_START_TX, 0, STARTED,
         "{\"value\":1500,\"measurand\":\"Energy.Active.Import.Register\"}]}]}]"},
        {OCPP_V201, ACT_METER, 0, UPDATED, ""},
        {OCPP_V201, ACT_STOP_TX, 0, ENDED,
         "{\"value\":1502,\"measurand\":\"Energy.Active.Import.Register\"}]}]}]"},
        {OCPP_V21, ACT_START_TX, 0, STARTED, REG("1500", "Transaction.Begin") "}]}]}]"},
        {OCPP_V21, ACT_START_TX, 12, STARTED,
         REG("1500", "Transaction.Begin") SIGNED("VlAnwijlVV/9") "}]}]}]"},
        {OCPP_V21, ACT_METER, 12, UPDATED, ""},
        {OCPP_V21, ACT_STOP_TX, 12, ENDED,
         REG("1000", "Transaction.Begin") SIGNED("zkuV/6UgDMww") "}," REG("1502", "Transaction.End")
             SIGNED("JBL+QbWSUt8o") "}]}]}]"},
        {OCPP_V201, ACT_BOOT, 0,
         "[2,\"m1\",\"BootNotification\",{\"reason\":\"PowerUp\",\"chargingStation\":{"
         "\"vendorName\":\"OCPPGW\",\"model\":\"cp-sim\",\"serialNumber\":\"CP000042\","
         "\"firmwareVersion\":\"1.0\"}}]",
         ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (int both = 0; both <= (cases[i].act == ACT_BOOT); both++) {
            ocpp_version_t v = both ? OCPP_V21 : cases[i].v;
            int k = cases[i].act == ACT_START_TX ? 0 : cases[i].act == ACT_METER ? 1 : 2;
            ocpp_msg_t m = {.act = cases[i].act,
                            .at_ms = 1700000000123ULL,
                            .tx_id = 7,
                            .tx_seq_no = (uint32_t)k,
                            .meter_wh = 1500 + (uint64_t)k,
                            .meter_start_wh = 1000,
                            .offline = k == 2,
                            .signed_bytes = cases[i].signed_bytes};
            snprintf(want, sizeof(want), "%s%s", cases[i].head, cases[i].tail);
            int n = ocpp_msg_build(buf, sizeof(buf), v, "CP000042", "m1", &m);
            ck_assert_msg(n == (int)strlen(want) && strcmp(buf, want) == 0,
                          "%s %s:\n got  %s\n want %s", ocpp_version_label(v),
                          ocpp_act_name(m.act, v), buf, want);
        }
}
END_TEST

/* every CSMS action of 2.1: 2.0.1's and the new ones, with payloads valid for 2.1 (the replies
 * echo some of them) */
static const char *const v21_calls[][2] = {
    {"AFRRSignal", "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"signal\":1}"},
    {"AdjustPeriodicEventStream", "{\"id\":1,\"params\":{\"interval\":5}}"},
    {"ChangeTransactionTariff",
     "{\"transactionId\":\"T1\",\"tariff\":{\"tariffId\":\"t\",\"currency\":\"EUR\"}}"},
    {"ClearDERControl", "{\"isDefault\":false,\"controlId\":\"d1\"}"},
    {"ClearTariffs", "{\"tariffIds\":[\"t1\",\"t2\"]}"},
    {"GetDERControl", "{\"requestId\":1}"},
    {"GetPeriodicEventStream", "{}"},
    {"GetTariffs", "{\"evseId\":0}"},
    {"NotifyAllowedEnergyTransfer",
     "{\"transactionId\":\"T1\",\"allowedEnergyTransfer\":[\"DC\"]}"},
    {"NotifyWebPaymentStarted", "{\"evseId\":1,\"timeout\":60}"},
    {"RequestBatterySwap",
     "{\"requestId\":1,\"idToken\":{\"idToken\":\"T\",\"type\":\"ISO14443\"}}"},
    {"SetDERControl",
     "{\"isDefault\":false,\"controlId\":\"d1\",\"controlType\":\"FixedPFAbsorb\","
     "\"fixedPFAbsorb\":{\"priority\":1,\"displacement\":0.9,\"excitation\":true}}"},
    {"SetDefaultTariff", "{\"evseId\":0,\"tariff\":{\"tariffId\":\"t\",\"currency\":\"EUR\"}}"},
    {"UpdateDynamicSchedule", "{\"chargingProfileId\":1,\"scheduleUpdate\":{\"limit\":10}}"},
    {"UsePriorityCharging", "{\"transactionId\":\"T1\",\"activate\":true}"},
    {"GetVariables",
     "{\"getVariableData\":[{\"component\":{\"name\":\"A\"},\"variable\":{\"name\":\"B\"}}]}"},
    {"SetVariables", "{\"setVariableData\":[{\"attributeValue\":\"1\",\"component\":{\"name\":"
                     "\"A\"},\"variable\":{\"name\":\"B\"}}]}"},
    {"ClearVariableMonitoring", "{\"id\":[1,2]}"},
    {"SetVariableMonitoring",
     "{\"setMonitoringData\":[{\"value\":1,\"type\":\"Delta\",\"severity\":5,\"component\":{"
     "\"name\":\"A\"},\"variable\":{\"name\":\"B\"}}]}"},
    {"RequestStartTransaction",
     "{\"idToken\":{\"idToken\":\"T\",\"type\":\"ISO14443\"},\"remoteStartId\":1}"},
    {"TriggerMessage", "{\"requestedMessage\":\"Heartbeat\"}"},
};

START_TEST(test_every_v21_downlink)
{
    /* 2.1 keeps every 2.0.1 action */
    every_action(OCPP_V21, v201_actions, sizeof(v201_actions) / sizeof(v201_actions[0]));
    for (size_t i = 0; i < sizeof(v21_calls) / sizeof(v21_calls[0]); i++) {
        for (int accept = 1; accept >= 0; accept--) {
            ocpp_reply_t r;
            json_t *j = reply(OCPP_V21, v21_calls[i][0], v21_calls[i][1], accept, &r);
            ck_assert_msg(json_integer_value(json_array_get(j, 0)) == 3, "%s: %s", v21_calls[i][0],
                          buf);
            ck_assert(r.known);
            record_21(v21_calls[i][0], "response", json_array_get(j, 2));
            json_decref(j);
        }
    }
    /* the 2.0.1 actions' replies too, as a 2.1 station gives them (to a valid request where
     * the reply echoes it) */
    for (size_t i = 0; i < sizeof(v201_actions) / sizeof(v201_actions[0]); i++) {
        ocpp_reply_t r;
        const char *payload = "{}";
        for (size_t k = 0; k < sizeof(v21_calls) / sizeof(v21_calls[0]); k++)
            if (strcmp(v21_calls[k][0], v201_actions[i]) == 0)
                payload = v21_calls[k][1];
        for (int accept = 1; accept >= 0; accept--) {
            json_t *j = reply(OCPP_V21, v201_actions[i], payload, accept, &r);
            record_21(v201_actions[i], "response", json_array_get(j, 2));
            json_decref(j);
        }
    }
    /* a 2.1 action to a 2.0.1 or 1.6 station: NotImplemented */
    ocpp_reply_t r;
    json_t *j = reply(OCPP_V201, "SetDERControl", "{}", true, &r);
    ck_assert_str_eq(json_string_value(json_array_get(j, 2)), "NotImplemented");
    ck_assert(!r.known);
    json_decref(j);
    j = reply(OCPP_V16, "GetTariffs", "{}", true, &r);
    ck_assert_str_eq(json_string_value(json_array_get(j, 2)), "NotImplemented");
    json_decref(j);
    /* statuses and per-item answers */
    j = reply(OCPP_V21, "SetDERControl", v21_calls[11][1], false, &r);
    ck_assert_str_eq(status_of(j), "NotSupported");
    json_decref(j);
    j = reply(OCPP_V21, "ClearTariffs", "{\"tariffIds\":[\"t1\",\"t2\"]}", true, &r);
    json_t *res = json_object_get(json_array_get(j, 2), "clearTariffsResult");
    ck_assert_int_eq(json_array_size(res), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 1), "tariffId")), "t2");
    json_decref(j);
    j = reply(OCPP_V21, "ClearTariffs", "{}", false, &r);
    res = json_object_get(json_array_get(j, 2), "clearTariffsResult");
    ck_assert_int_eq(json_array_size(res), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 0), "status")),
                     "NoTariff");
    json_decref(j);
    j = reply(OCPP_V21, "RequestStartTransaction", v21_calls[19][1], true, &r);
    ck_assert_int_eq(r.effect, EFFECT_START_SESSION);
    json_decref(j);
    j = reply(OCPP_V21, "TriggerMessage", "{\"requestedMessage\":\"TransactionEvent\"}", true, &r);
    ck_assert_int_eq(r.trigger_act, ACT_METER);
    json_decref(j);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cp-sim ocpp_msg");
    TCase *tc = tcase_create("messages");
    tcase_add_test(tc, test_v16_life_messages);
    tcase_add_test(tc, test_v201_life_messages);
    tcase_add_test(tc, test_build_no_space);
    tcase_add_test(tc, test_frame_scan);
    tcase_add_test(tc, test_result_fields);
    tcase_add_test(tc, test_v21_life_messages);
    tcase_add_test(tc, test_v21_frames);
    tcase_add_test(tc, test_shared_builders_output);
    suite_add_tcase(s, tc);
    tc = tcase_create("downlink");
    tcase_add_test(tc, test_every_v16_downlink);
    tcase_add_test(tc, test_every_v201_downlink);
    tcase_add_test(tc, test_statuses_and_effects);
    tcase_add_test(tc, test_per_item_results);
    tcase_add_test(tc, test_unknown_and_malformed);
    tcase_add_test(tc, test_every_v21_downlink);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *path = getenv("CPSIM_FRAMES_OUT");
    if (path && *path)
        frames_out = fopen(path, "w");
    SRunner *sr = srunner_create(suite());
    srunner_set_fork_status(sr, CK_NOFORK); /* one output file for all tests */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (frames_out)
        fclose(frames_out);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
