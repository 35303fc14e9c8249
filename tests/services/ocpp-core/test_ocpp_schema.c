/* Unit tests for services/ocpp-core/ocpp_schema: table-driven over ocpp_examples.json, the
 * valid and single-fault invalid examples that scripts/gen_ocpp_schema.py derives from the
 * official schemas for every action of OCPP 1.6 and 2.0.1 (request and response). Each case
 * names the expected error kind and the JSON pointer of the fault; a wrong table or a wrong
 * rule in the walker fails here. */
#include "ocpp_schema.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLES "tests/services/ocpp-core/ocpp_examples.json"

static json_t *cases;
static json_t *actions; /* array of "version action" strings, in order of first appearance */

static void load(void)
{
    if (cases)
        return;
    json_error_t jerr;
    json_t *doc = json_load_file(EXAMPLES, 0, &jerr);
    if (!doc) {
        fprintf(stderr, "%s: %s (line %d)\n", EXAMPLES, jerr.text, jerr.line);
        abort();
    }
    cases = json_incref(json_object_get(doc, "cases"));
    json_decref(doc);
    actions = json_array();
    json_t *seen = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        char key[96];
        snprintf(key, sizeof(key), "%s %s", json_string_value(json_object_get(c, "version")),
                 json_string_value(json_object_get(c, "action")));
        if (!json_object_get(seen, key)) {
            json_object_set_new(seen, key, json_true());
            json_array_append_new(actions, json_string(key));
        }
    }
    json_decref(seen);
}

static const char *kind_name(ocpp_error_t e)
{
    switch (e) {
    case OCPP_ERR_NONE:
        return "none";
    case OCPP_ERR_TYPE:
        return "type";
    case OCPP_ERR_OCCURRENCE:
        return "occurrence";
    case OCPP_ERR_PROPERTY:
        return "property";
    case OCPP_ERR_FORMAT:
        return "format";
    default:
        return "other";
    }
}

static ocpp_version_t version_of(const char *v)
{
    return strcmp(v, "1.6") == 0 ? OCPP_V16 : strcmp(v, "2.0.1") == 0 ? OCPP_V201 : OCPP_V21;
}

/* every case of one action (both messages): the loop index picks the action */
START_TEST(test_action_examples)
{
    load();
    const char *key = json_string_value(json_array_get(actions, (size_t)_i));
    char version[8], action[64];
    ck_assert_int_eq(sscanf(key, "%7s %63s", version, action), 2);
    const ocpp_schema_msg_t *msg = ocpp_schema_find(version_of(version), action);
    ck_assert_msg(msg != NULL, "%s has no generated schema", key);
    int valid = 0, invalid = 0, requests = 0, responses = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "version")), version) != 0 ||
            strcmp(json_string_value(json_object_get(c, "action")), action) != 0)
            continue;
        int response = strcmp(json_string_value(json_object_get(c, "message")), "response") == 0;
        const json_t *want = json_object_get(c, "error");
        ocpp_verr_t e;
        int rc = ocpp_schema_validate(msg, response, json_object_get(c, "payload"), &e);
        const char *why = json_string_value(json_object_get(c, "why"));
        if (json_is_null(want)) {
            ck_assert_msg(rc == 0, "%s %s (%s) valid example rejected: %s", key,
                          response ? "response" : "request", why, e.why);
            valid++;
        } else {
            ck_assert_msg(rc < 0, "%s %s: invalid example (%s at %s) accepted", key,
                          response ? "response" : "request", why,
                          json_string_value(json_object_get(c, "path")));
            ck_assert_msg(strcmp(kind_name(e.err), json_string_value(want)) == 0,
                          "%s %s (%s at %s): got %s at %s, want %s", key,
                          response ? "response" : "request", why,
                          json_string_value(json_object_get(c, "path")), kind_name(e.err), e.path,
                          json_string_value(want));
            ck_assert_str_eq(e.path, json_string_value(json_object_get(c, "path")));
            invalid++;
        }
        response ? responses++ : requests++;
    }
    /* a 2.1 SEND (no response schema) has request examples only */
    ck_assert_msg(valid >= (msg->response ? 4 : 2) && requests >= 2 &&
                      (responses >= 2 || !msg->response),
                  "%s: too few examples", key);
    (void)invalid;
}
END_TEST

/* the examples cover every action of 1.6 (incl. the security extension), 2.0.1 and 2.1, and
 * every action has a direction */
START_TEST(test_coverage)
{
    load();
    int v16 = 0, v201 = 0, v21 = 0, v21_cp = 0, v21_send = 0;
    for (size_t i = 0; i < OCPP_SCHEMA_TABLES.message_count; i++) {
        const ocpp_schema_msg_t *m = &OCPP_SCHEMA_TABLES.messages[i];
        m->version == OCPP_V16 ? v16++ : m->version == OCPP_V201 ? v201++ : v21++;
        char key[96];
        snprintf(key, sizeof(key), "%s %s", ocpp_version_name(m->version), m->action);
        int found = 0;
        for (size_t j = 0; j < json_array_size(actions) && !found; j++)
            found = strcmp(json_string_value(json_array_get(actions, j)), key) == 0;
        ck_assert_msg(found, "no examples for %s", key);
        ck_assert_int_ne(m->direction, OS_UNKNOWN_DIR);
        ck_assert_int_ne(m->request, 0);
        if (m->version == OCPP_V21) {
            v21_cp += m->direction == OS_FROM_CP;
            v21_send += m->response == 0;
        } else {
            ck_assert_int_ne(m->response, 0);
        }
    }
    ck_assert_int_eq(v16, 39);    /* 28 core profiles + 11 security extension */
    ck_assert_int_eq(v201, 64);   /* OCPP 2.0.1 has 64 actions */
    ck_assert_int_eq(v21, 91);    /* OCPP 2.1: 90 CALL actions and one SEND */
    ck_assert_int_eq(v21_cp, 36); /* 2.0.1's 24 (DataTransfer is both) + 12 new */
    ck_assert_int_eq(v21_send, 1);
    ck_assert_int_eq((int)json_array_size(actions), v16 + v201 + v21);
    ck_assert_ptr_nonnull(ocpp_schema_find(OCPP_V21, "NotifyPeriodicEventStream"));
    ck_assert_int_eq(ocpp_schema_find(OCPP_V21, "NotifyPeriodicEventStream")->response, 0);
    ck_assert_int_eq(ocpp_schema_find(OCPP_V21, "NotifyDERAlarm")->direction, OS_FROM_CP);
    ck_assert_int_eq(ocpp_schema_find(OCPP_V21, "SetDERControl")->direction, OS_FROM_CSMS);
    ck_assert_int_eq(ocpp_schema_find(OCPP_V21, "NotifyWebPaymentStarted")->direction,
                     OS_FROM_CSMS);
    ck_assert_int_eq(ocpp_schema_find(OCPP_V21, "DataTransfer")->direction, OS_BOTH);
    ck_assert_ptr_null(ocpp_schema_find(OCPP_V16, "TransactionEvent"));
    ck_assert_ptr_null(ocpp_schema_find(OCPP_V201, "StartTransaction"));
    ck_assert_ptr_null(ocpp_schema_find(OCPP_V201, "NotifyDERAlarm"));
    ck_assert_int_eq(ocpp_schema_find(OCPP_V16, "StartTransaction")->direction, OS_FROM_CP);
    ck_assert_int_eq(ocpp_schema_find(OCPP_V201, "Reset")->direction, OS_FROM_CSMS);
    ck_assert_int_eq(ocpp_schema_find(OCPP_V201, "DataTransfer")->direction, OS_BOTH);
}
END_TEST

START_TEST(test_datetime)
{
    static const char *good[] = {"2025-01-02T03:04:05Z", "2025-01-02T03:04:05.123Z",
                                 "2024-02-29T23:59:60+01:00", "2025-01-02t03:04:05z",
                                 "2025-01-02T03:04:05.1-05:30"};
    static const char *bad[] = {"2025-01-02T03:04:05",      "2025-01-02 03:04:05Z",
                                "2025-02-29T00:00:00Z",     "2025-01-32T00:00:00Z",
                                "2025-01-02T24:00:00Z",     "2025-01-02T03:04:05.Z",
                                "2025-01-02T03:04:05+0100", "yesterday",
                                "2025-01-02T03:04:05Zjunk", ""};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(ocpp_schema_is_datetime(good[i], strlen(good[i])), "%s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!ocpp_schema_is_datetime(bad[i], strlen(bad[i])), "%s", bad[i]);
}
END_TEST

/* the table-driven cases vary one field; these pin a few rules down by hand */
START_TEST(test_specific_rules)
{
    const ocpp_schema_msg_t *mv = ocpp_schema_find(OCPP_V16, "MeterValues");
    ocpp_verr_t e;
    json_t *p = json_loads("{\"connectorId\":1.0,\"meterValue\":[{\"timestamp\":"
                           "\"2025-01-02T03:04:05Z\",\"sampledValue\":[{\"value\":\"1\"}]}]}",
                           0, NULL);
    ck_assert_int_eq(ocpp_schema_validate(mv, 0, p, &e), 0); /* 1.0 is an integer */
    json_decref(p);
    /* 1.6's schema has no minItems on meterValue; 2.0.1's has */
    p = json_loads("{\"connectorId\":1,\"meterValue\":[]}", 0, NULL);
    ck_assert_int_eq(ocpp_schema_validate(mv, 0, p, &e), 0);
    json_decref(p);
    p = json_loads("{\"evseId\":1,\"meterValue\":[]}", 0, NULL);
    ck_assert_int_eq(ocpp_schema_validate(ocpp_schema_find(OCPP_V201, "MeterValues"), 0, p, &e),
                     -1);
    ck_assert_int_eq(e.err, OCPP_ERR_OCCURRENCE);
    ck_assert_str_eq(e.path, "/meterValue");
    json_decref(p);
    p = json_loads("[1]", 0, NULL);
    ck_assert_int_eq(ocpp_schema_validate(mv, 0, p, &e), -1);
    ck_assert_int_eq(e.err, OCPP_ERR_TYPE);
    ck_assert_str_eq(e.path, "");
    json_decref(p);
    /* customData (2.0.1) accepts extra properties; vendorId is still required */
    const ocpp_schema_msg_t *hb = ocpp_schema_find(OCPP_V201, "Heartbeat");
    p = json_loads("{\"customData\":{\"vendorId\":\"v\",\"extra\":[1,2]}}", 0, NULL);
    ck_assert_int_eq(ocpp_schema_validate(hb, 0, p, &e), 0);
    json_decref(p);
    p = json_loads("{\"customData\":{\"extra\":1}}", 0, NULL);
    ck_assert_int_eq(ocpp_schema_validate(hb, 0, p, &e), -1);
    ck_assert_int_eq(e.err, OCPP_ERR_OCCURRENCE);
    ck_assert_str_eq(e.path, "/customData/vendorId");
    json_decref(p);
}
END_TEST

static Suite *suite(void)
{
    load();
    Suite *s = suite_create("ocpp_schema");
    TCase *t = tcase_create("examples");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, test_action_examples, 0, (int)json_array_size(actions));
    tcase_add_test(t, test_coverage);
    tcase_add_test(t, test_datetime);
    tcase_add_test(t, test_specific_rules);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    json_decref(cases);
    json_decref(actions);
    return failed ? 1 : 0;
}
