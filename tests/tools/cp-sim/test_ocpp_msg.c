/* test_ocpp_msg.c: unit tests of what a simulated station sends and answers
 * (tools/cp-sim/ocpp_msg.c): every CALL of the life in both versions is well-formed JSON with
 * the fields the schemas require; frames are cut correctly; every CSMS-initiated action of OCPP
 * 1.6 and 2.0.1 gets a CALLRESULT with the configured positive or negative status, per-item
 * results echo the request, the effects (session, reset, trigger) are right, and what a version
 * does not define gets NotImplemented. The downlink replies are tested here without a server,
 * for every action; tests/integration/test_cp_sim_downlink.sh and test_commands_e2e.sh send
 * some of them over a real WebSocket. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ocpp_msg.h"

static char buf[8192];

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

static Suite *suite(void)
{
    Suite *s = suite_create("cp-sim ocpp_msg");
    TCase *tc = tcase_create("messages");
    tcase_add_test(tc, test_v16_life_messages);
    tcase_add_test(tc, test_v201_life_messages);
    tcase_add_test(tc, test_build_no_space);
    tcase_add_test(tc, test_frame_scan);
    tcase_add_test(tc, test_result_fields);
    suite_add_tcase(s, tc);
    tc = tcase_create("downlink");
    tcase_add_test(tc, test_every_v16_downlink);
    tcase_add_test(tc, test_every_v201_downlink);
    tcase_add_test(tc, test_statuses_and_effects);
    tcase_add_test(tc, test_per_item_results);
    tcase_add_test(tc, test_unknown_and_malformed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
