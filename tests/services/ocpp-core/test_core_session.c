/* Unit tests for services/ocpp-core/core_session, core_command and core_actions: the
 * outstanding-CALL rule, 2.0.1 boot gating, the held (persist-before-ack) answer, the bounded
 * prioritised downlink queue, message ids, response matching, timeouts, late responses,
 * command records and results, and a schema-valid gateway answer to every CALL a charge point
 * can send in 1.6 and 2.0.1 (checked with the generated validator). No sockets, no clock. */
#include "core_actions.h"
#include "core_command.h"
#include "core_session.h"
#include "ocpp_schema.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000ULL

static core_command_t *cmd_new(const char *id, const char *action, int priority,
                               uint64_t expires_us)
{
    core_command_t *c = calloc(1, sizeof(*c));
    snprintf(c->command_id, sizeof(c->command_id), "%s", id);
    snprintf(c->action, sizeof(c->action), "%s", action);
    c->payload = json_object();
    c->priority = priority;
    c->expires_us = expires_us;
    return c;
}

START_TEST(test_gating_201)
{
    core_held_t abandoned;
    core_session_t *s = core_session_new(OCPP_V201, 4, 1);
    ck_assert_int_eq(core_session_on_call(s, "Heartbeat", &abandoned), CORE_CALL_NOT_BOOTED);
    ck_assert_int_eq(core_session_on_call(s, "StatusNotification", &abandoned),
                     CORE_CALL_NOT_BOOTED);
    ck_assert_int_eq(core_session_on_call(s, "BootNotification", &abandoned), CORE_CALL_SERVE);
    core_session_set_booted(s); /* accepted here, or reported by the registry */
    ck_assert_int_eq(core_session_booted(s), 1);
    ck_assert_int_eq(core_session_on_call(s, "Heartbeat", &abandoned), CORE_CALL_SERVE);
    core_session_destroy(&s);
    ck_assert_ptr_null(s);
    /* 1.6 does not require the gating */
    s = core_session_new(OCPP_V16, 4, 1);
    ck_assert_int_eq(core_session_on_call(s, "Heartbeat", &abandoned), CORE_CALL_SERVE);
    core_session_destroy(&s);
}
END_TEST

static void hold(core_session_t *s, const char *message_id, uint64_t token, uint64_t deadline)
{
    char *text = strdup(message_id); /* stands for the CALLRESULT */
    core_held_t what = {.token = token, .deadline_us = deadline};
    snprintf(what.message_id, sizeof(what.message_id), "%s", message_id);
    ck_assert_int_eq(core_session_hold(s, &what, &text), 0);
    ck_assert_ptr_null(text); /* the session owns it */
}

START_TEST(test_held_answer)
{
    core_held_t h;
    core_session_t *s = core_session_new(OCPP_V16, 4, 1);
    core_session_on_call(s, "StartTransaction", &h);
    ck_assert_uint_eq(h.token, 0);
    ck_assert_ptr_null(h.text);
    hold(s, "m1", 77, 0);
    ck_assert_uint_eq(core_session_held_token(s), 77);
    ck_assert_int_eq(core_session_release(s, 78, &h), 0); /* another token */
    ck_assert_int_eq(core_session_release(s, 77, &h), 1); /* persisted: answer it */
    ck_assert_str_eq(h.message_id, "m1");
    ck_assert_str_eq(h.text, "m1");
    core_held_clear(&h);
    ck_assert_ptr_null(h.text);
    ck_assert_int_eq(core_session_release(s, 77, &h), 0); /* only once */
    ck_assert_uint_eq(core_session_held_token(s), 0);
    /* the charge point gives up and sends a new CALL: the old answer is abandoned */
    hold(s, "m2", 79, 0);
    core_session_on_call(s, "StartTransaction", &h);
    ck_assert_str_eq(h.message_id, "m2");
    ck_assert_uint_eq(h.token, 79);
    core_held_clear(&h);
    ck_assert_int_eq(core_session_release(s, 79, &h), 0); /* a late ack sends nothing */
    /* bounded wait */
    hold(s, "m3", 80, 10 * SEC);
    ck_assert_uint_eq(core_session_next_deadline(s), 10 * SEC);
    ck_assert_int_eq(core_session_hold_expired(s, 9 * SEC, &h), 0);
    ck_assert_int_eq(core_session_hold_expired(s, 10 * SEC, &h), 1);
    ck_assert_uint_eq(h.token, 80);
    core_held_clear(&h);
    ck_assert_int_eq(core_session_release(s, 80, &h), 0);
    /* unbounded (persist_timeout_ms 0) never expires */
    hold(s, "m4", 81, 0);
    ck_assert_int_eq(core_session_hold_expired(s, 1000000 * SEC, &h), 0);
    /* a new hold replaces (frees) the old one; the connection ends: taken back for cleanup */
    hold(s, "m5", 82, 0);
    ck_assert_int_eq(core_session_take_held(s, &h), 1);
    ck_assert_uint_eq(h.token, 82);
    core_held_clear(&h);
    ck_assert_int_eq(core_session_take_held(s, &h), 0);
    hold(s, "m6", 83, 0);
    core_session_destroy(&s); /* frees what is still held */
}
END_TEST

START_TEST(test_one_outstanding_call_and_priority)
{
    core_session_t *s = core_session_new(OCPP_V201, 3, 0xabc);
    core_command_t *expired, *sent;
    ck_assert_int_eq(core_session_enqueue(s, cmd_new("low", "Reset", 0, 0)), 0);
    ck_assert_int_eq(core_session_enqueue(s, cmd_new("high", "Reset", 5, 0)), 0);
    ck_assert_int_eq(core_session_enqueue(s, cmd_new("low2", "Reset", 0, 0)), 0);
    core_command_t *full = cmd_new("over", "Reset", 9, 0);
    ck_assert_int_eq(core_session_enqueue(s, full), -ENOSPC); /* bounded */
    core_command_free(&full);
    sent = core_session_next(s, 1 * SEC, 30 * SEC, &expired);
    ck_assert_ptr_null(expired);
    ck_assert_str_eq(sent->command_id, "high"); /* priority first */
    ck_assert_uint_eq(sent->deadline_us, 31 * SEC);
    char first_id[OCPP_MESSAGE_ID_MAX + 1];
    snprintf(first_id, sizeof(first_id), "%s", sent->message_id);
    ck_assert_int_le((int)strlen(first_id), OCPP_MESSAGE_ID_MAX);
    /* one outstanding CALL: nothing else goes out until it is answered */
    ck_assert_ptr_null(core_session_next(s, 2 * SEC, 30 * SEC, &expired));
    ck_assert_int_eq(core_session_busy(s), 1);
    /* a response with another id is late or unknown: dropped, the CALL stays in flight */
    ck_assert_ptr_null(core_session_on_response(s, "not-ours"));
    core_command_t *done = core_session_on_response(s, first_id);
    ck_assert_ptr_eq(done, sent);
    core_command_free(&done);
    ck_assert_ptr_null(core_session_on_response(s, first_id)); /* twice: late */
    sent = core_session_next(s, 3 * SEC, 30 * SEC, &expired);
    ck_assert_str_eq(sent->command_id, "low");    /* then arrival order */
    ck_assert_str_ne(sent->message_id, first_id); /* unique ids */
    /* timeout */
    ck_assert_ptr_null(core_session_timed_out(s, 32 * SEC));
    done = core_session_timed_out(s, 33 * SEC);
    ck_assert_ptr_eq(done, sent);
    char timed_out_id[OCPP_MESSAGE_ID_MAX + 1];
    snprintf(timed_out_id, sizeof(timed_out_id), "%s", done->message_id);
    core_command_free(&done);
    ck_assert_ptr_null(core_session_on_response(s, timed_out_id)); /* late response: dropped */
    sent = core_session_next(s, 34 * SEC, 30 * SEC, &expired);
    ck_assert_str_eq(sent->command_id, "low2");
    ck_assert_uint_eq(core_session_queued(s), 0);
    core_session_destroy(&s); /* frees the in-flight command */
}
END_TEST

START_TEST(test_queue_expiry_and_release)
{
    core_session_t *s = core_session_new(OCPP_V16, 4, 7);
    core_command_t *expired, *sent;
    core_session_enqueue(s, cmd_new("a", "Reset", 0, 0));
    core_session_enqueue(s, cmd_new("b", "Reset", 0, 5 * SEC));
    sent = core_session_next(s, 1 * SEC, 30 * SEC, &expired);
    ck_assert_str_eq(sent->command_id, "a");
    ck_assert_uint_eq(core_session_next_deadline(s), 5 * SEC);
    ck_assert_ptr_null(core_session_next(s, 6 * SEC, 30 * SEC, &expired));
    ck_assert_ptr_nonnull(expired);
    ck_assert_str_eq(expired->command_id, "b");
    core_command_free(&expired);
    /* on disconnect everything comes back for a final result */
    core_session_enqueue(s, cmd_new("c", "Reset", 0, 0));
    core_command_t *x = core_session_take_any(s);
    ck_assert_str_eq(x->command_id, "a");
    core_command_free(&x);
    x = core_session_take_any(s);
    ck_assert_str_eq(x->command_id, "c");
    core_command_free(&x);
    ck_assert_ptr_null(core_session_take_any(s));
    core_session_destroy(&s);
}
END_TEST

START_TEST(test_message_ids_unique_across_sessions)
{
    core_session_t *a = core_session_new(OCPP_V16, 2, 1), *b = core_session_new(OCPP_V16, 2, 2);
    core_command_t *e;
    core_session_enqueue(a, cmd_new("x", "Reset", 0, 0));
    core_session_enqueue(b, cmd_new("y", "Reset", 0, 0));
    core_command_t *ca = core_session_next(a, 1, 1, &e), *cb = core_session_next(b, 1, 1, &e);
    ck_assert_str_ne(ca->message_id, cb->message_id);
    core_session_destroy(&a);
    core_session_destroy(&b);
}
END_TEST

static const char *parse_status(const char *record, ocpp_version_t v, core_command_t **cmd)
{
    const char *status = "ok";
    char why[200];
    if (core_command_parse((const uint8_t *)record, strlen(record), v, 100 * SEC, cmd, &status, why,
                           sizeof(why)) == 0)
        return "ok";
    return status;
}

START_TEST(test_command_records)
{
    core_command_t *cmd = NULL;
    ck_assert_str_eq(parse_status("{\"command_id\":\"c1\",\"action\":\"Reset\",\"payload\":"
                                  "{\"type\":\"Hard\"},\"priority\":3,\"ttl_ms\":5000}",
                                  OCPP_V16, &cmd),
                     "ok");
    ck_assert_str_eq(cmd->action, "Reset");
    ck_assert_int_eq(cmd->priority, 3);
    ck_assert_uint_eq(cmd->expires_us, 105 * SEC);
    core_command_free(&cmd);
    /* the 2.0.1 Reset payload differs: validated against the charge point's version */
    ck_assert_str_eq(parse_status("{\"command_id\":\"c1\",\"action\":\"Reset\",\"payload\":"
                                  "{\"type\":\"Hard\"}}",
                                  OCPP_V201, &cmd),
                     "invalid");
    ck_assert_str_eq(
        parse_status("{\"command_id\":\"c1\",\"action\":\"Reset\",\"payload\":"
                     "{\"type\":\"Immediate\"},\"expires_at\":\"2030-01-01T00:00:00Z\"}",
                     OCPP_V201, &cmd),
        "ok");
    ck_assert_uint_eq(cmd->expires_us, 1893456000ULL * SEC);
    core_command_free(&cmd);
    /* unified actions: converted (unified_command), refused when no equivalent or unknown */
    ck_assert_str_eq(parse_status("{\"command_id\":\"c1\",\"action\":\"reset\","
                                  "\"payload\":{\"type\":\"hard\"}}",
                                  OCPP_V201, &cmd),
                     "ok");
    ck_assert_str_eq(cmd->action, "Reset");
    ck_assert_str_eq(cmd->unified, "reset");
    ck_assert_str_eq(json_string_value(json_object_get(cmd->payload, "type")), "Immediate");
    core_command_free(&cmd);
    ck_assert_str_eq(parse_status("{\"command_id\":\"c1\",\"action\":\"reset\","
                                  "\"payload\":{\"type\":\"hard\",\"evse_id\":2}}",
                                  OCPP_V16, &cmd),
                     "unsupported");
    ck_assert_str_eq(parse_status("{\"command_id\":\"c1\",\"action\":\"reset\"}", OCPP_V201, &cmd),
                     "invalid"); /* type is required */
    ck_assert_str_eq(
        parse_status("{\"command_id\":\"c1\",\"action\":\"fly_away\"}", OCPP_V16, &cmd), "invalid");
    ck_assert_str_eq(parse_status("{\"command_id\":\"c1\",\"action\":\"BootNotification\","
                                  "\"payload\":{}}",
                                  OCPP_V201, &cmd),
                     "invalid"); /* sent by charge points */
    ck_assert_str_eq(parse_status("{\"action\":\"Reset\"}", OCPP_V16, &cmd), "invalid");
    ck_assert_str_eq(parse_status("[1,2]", OCPP_V16, &cmd), "invalid");
    ck_assert_str_eq(parse_status("{\"command_id\":\"c\",\"action\":\"Nope\"}", OCPP_V16, &cmd),
                     "invalid");
    ck_assert_str_eq(
        parse_status("{\"command_id\":\"c\",\"action\":\"ClearCache\"}", OCPP_V16, &cmd),
        "ok"); /* payload defaults to {} */
    core_command_free(&cmd);
}
END_TEST

START_TEST(test_command_results)
{
    core_command_t *cmd = cmd_new("c9", "Reset", 0, 0);
    char why[200];
    json_t *ok = json_loads("{\"status\":\"Accepted\"}", 0, NULL);
    json_t *no = json_loads("{\"status\":\"Rejected\"}", 0, NULL);
    json_t *bad = json_loads("{\"status\":\"Maybe\"}", 0, NULL);
    ck_assert_str_eq(core_command_classify(OCPP_V16, cmd, ok, why, sizeof(why)), "accepted");
    ck_assert_str_eq(core_command_classify(OCPP_V16, cmd, no, why, sizeof(why)), "rejected");
    ck_assert_str_eq(core_command_classify(OCPP_V16, cmd, bad, why, sizeof(why)), "ocpp_error");
    ck_assert_ptr_nonnull(strstr(why, "/status"));
    snprintf(cmd->message_id, sizeof(cmd->message_id), "gw-1");
    cmd->version = OCPP_V16;
    cmd->received_us = 1735787040000000ULL;
    cmd->sent_us = 1735787041000000ULL;
    char *text = core_command_result("c9", "CP1", "accepted", cmd, ok, NULL, NULL, NULL, NULL,
                                     1735787045678000ULL);
    ck_assert_str_eq(text, "{\"action\":\"Reset\",\"answered_at\":\"2025-01-02T03:04:05.678Z\","
                           "\"at\":\"2025-01-02T03:04:05.678Z\","
                           "\"command_id\":\"c9\",\"cp_id\":\"CP1\",\"message_id\":\"gw-1\","
                           "\"ocpp_version\":\"1.6\",\"received_at\":\"2025-01-02T03:04:00.000Z\","
                           "\"response\":{\"status\":\"Accepted\"},"
                           "\"sent_at\":\"2025-01-02T03:04:01.000Z\",\"status\":\"accepted\"}");
    free(text);
    text = core_command_result("c9", "CP1", "ocpp_error", cmd, NULL, "NotSupported", "no", NULL,
                               NULL, 0);
    json_t *r = json_loads(text, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "error"), "code")),
                     "NotSupported");
    json_decref(r);
    free(text);
    json_decref(ok);
    json_decref(no);
    json_decref(bad);
    core_command_free(&cmd);
}
END_TEST

/* every CALL a charge point can send gets a schema-valid answer, for the minimal and the
 * complete example payloads of the generated examples */
START_TEST(test_every_cp_call_answered_validly)
{
    json_error_t jerr;
    json_t *doc = json_load_file("tests/services/ocpp-core/ocpp_examples.json", 0, &jerr);
    ck_assert_ptr_nonnull(doc);
    core_action_ctx_t ctx = {
        .heartbeat_interval_s = 60, .now_us = 1735787045678000ULL, .transaction_id = 2147483647};
    int answered = 0, sends = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        const char *why = json_string_value(json_object_get(c, "why"));
        if (!json_is_null(json_object_get(c, "error")) ||
            strcmp(json_string_value(json_object_get(c, "message")), "request") != 0)
            continue;
        int counted = strcmp(why, "minimal") == 0 || strcmp(why, "all fields") == 0;
        const char *vname = json_string_value(json_object_get(c, "version"));
        ocpp_version_t v = strcmp(vname, "1.6") == 0     ? OCPP_V16
                           : strcmp(vname, "2.0.1") == 0 ? OCPP_V201
                                                         : OCPP_V21;
        const char *action = json_string_value(json_object_get(c, "action"));
        const ocpp_schema_msg_t *m = ocpp_schema_find(v, action);
        core_action_out_t out;
        core_action_handle(v, action, json_object_get(c, "payload"), &ctx, &out);
        if (m->direction == OS_FROM_CSMS) {
            ck_assert_int_eq(out.err, OCPP_ERR_NOT_IMPLEMENTED); /* not ours to receive */
        } else if (!m->response) {                               /* 2.1 SEND: no answer, an event */
            ck_assert_int_eq(out.err, OCPP_ERR_NONE);
            ck_assert_ptr_null(out.response);
            ck_assert_ptr_nonnull(out.event_type);
            sends += counted;
        } else {
            ck_assert_msg(out.err == OCPP_ERR_NONE, "%s %s not answered", action,
                          json_string_value(json_object_get(c, "why")));
            ocpp_verr_t e;
            ck_assert_msg(ocpp_schema_validate(m, 1, out.response, &e) == 0,
                          "answer to %s (%s) breaks the schema: %s", action,
                          json_string_value(json_object_get(c, "why")), e.why);
            ck_assert_ptr_nonnull(out.event_type);
            answered += counted;
        }
        core_action_out_clear(&out);
    }
    /* minimal + complete, 1.6, 2.0.1 and 2.1 (2.0.1's 25 and 11 new CALLs, one SEND) */
    ck_assert_int_eq(answered, 2 * (14 + 25 + 36));
    ck_assert_int_eq(sends, 2);
    json_decref(doc);
}
END_TEST

START_TEST(test_persist_flags_and_auth)
{
    core_action_ctx_t ctx = {.heartbeat_interval_s = 60,
                             .now_us = 1735787045678000ULL,
                             .auth_policy = CORE_AUTH_DENY_LIST,
                             .auth_list = "BAD1, BAD2",
                             .transaction_id = 505267201};
    core_action_out_t out;
    json_t *p = json_loads("{\"connectorId\":2,\"idTag\":\"BAD2\",\"meterStart\":0,"
                           "\"timestamp\":\"2025-01-02T03:04:05Z\"}",
                           0, NULL);
    core_action_handle(OCPP_V16, "StartTransaction", p, &ctx, &out);
    ck_assert_int_eq(out.persist, 1);
    ck_assert_str_eq(out.event_type, "transaction.started");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(out.response, "idTagInfo"), "status")),
        "Blocked");
    /* transactionId: the one claimed for it (core_conn), in the answer and in the event */
    ck_assert_int_eq(json_integer_value(json_object_get(out.response, "transactionId")), 505267201);
    ck_assert_str_eq(json_string_value(json_object_get(out.event_data, "transaction_id")),
                     "505267201");
    core_action_out_clear(&out);
    /* without a claimed id: InternalError and no event, never an id that may collide */
    ctx.transaction_id = 0;
    core_action_handle(OCPP_V16, "StartTransaction", p, &ctx, &out);
    ck_assert_int_eq(out.err, OCPP_ERR_INTERNAL);
    ck_assert_ptr_null(out.response);
    ck_assert_ptr_null(out.event_type);
    core_action_out_clear(&out);
    json_decref(p);

    ctx.auth_policy = CORE_AUTH_ALLOW_LIST;
    ck_assert_str_eq(core_auth_status(&ctx, "BAD1"), "Accepted");
    ck_assert_str_eq(core_auth_status(&ctx, "OTHER"), "Invalid");
    ctx.auth_policy = CORE_AUTH_ACCEPT_ALL;
    ck_assert_str_eq(core_auth_status(&ctx, "OTHER"), "Accepted");

    p = json_loads("{\"type\":\"StartupOfTheDevice\",\"timestamp\":\"2025-01-02T03:04:05Z\"}", 0,
                   NULL);
    core_action_handle(OCPP_V201, "SecurityEventNotification", p, &ctx, &out);
    ck_assert_int_eq(out.persist, 1); /* critical */
    core_action_out_clear(&out);
    json_object_set_new(p, "type", json_string("InvalidMessages"));
    core_action_handle(OCPP_V201, "SecurityEventNotification", p, &ctx, &out);
    ck_assert_int_eq(out.persist, 0); /* not critical */
    core_action_out_clear(&out);
    json_decref(p);
    p = json_loads("{\"connectorId\":1,\"meterValue\":[]}", 0, NULL);
    core_action_handle(OCPP_V16, "MeterValues", p, &ctx, &out);
    ck_assert_int_eq(out.persist, 0); /* no transaction */
    core_action_out_clear(&out);
    json_object_set_new(p, "transactionId", json_integer(5));
    core_action_handle(OCPP_V16, "MeterValues", p, &ctx, &out);
    ck_assert_int_eq(out.persist, 1);
    core_action_out_clear(&out);
    json_decref(p);
}
END_TEST

/* a CALL waiting for its id token's status: one per session, taken by its request id, by its
 * deadline, or when the connection ends; a new wait frees the one in place */
START_TEST(test_waiting_call)
{
    core_session_t *s = core_session_new(OCPP_V16, 4, 1);
    core_waiting_t w = {.request_id = 5, .deadline_us = 10 * SEC, .payload = json_object()};
    snprintf(w.message_id, sizeof(w.message_id), "m1");
    snprintf(w.tag, sizeof(w.tag), "CARD");
    ck_assert_int_eq(core_session_wait(s, &w), 0);
    ck_assert_ptr_null(w.payload); /* taken */
    ck_assert_uint_eq(core_session_waiting(s)->request_id, 5);
    ck_assert_str_eq(core_session_waiting(s)->tag, "CARD");
    ck_assert_uint_eq(core_session_next_deadline(s), 10 * SEC);
    ck_assert_int_eq(core_session_take_waiting(s, 6, &w), 0); /* another request */
    ck_assert_int_eq(core_session_wait_expired(s, 9 * SEC, &w), 0);
    ck_assert_int_eq(core_session_take_waiting(s, 5, &w), 1);
    ck_assert_str_eq(w.message_id, "m1");
    ck_assert_ptr_nonnull(w.payload);
    core_waiting_clear(&w);
    ck_assert_ptr_null(core_session_waiting(s));
    ck_assert_uint_eq(core_session_next_deadline(s), 0);
    /* replaced, then expired */
    core_waiting_t a = {.request_id = 7, .deadline_us = 3 * SEC, .payload = json_object()};
    core_waiting_t b = {.request_id = 8, .deadline_us = 4 * SEC, .payload = json_object()};
    ck_assert_int_eq(core_session_wait(s, &a), 0);
    ck_assert_int_eq(core_session_wait(s, &b), 0); /* a is freed */
    ck_assert_int_eq(core_session_wait_expired(s, 4 * SEC, &w), 1);
    ck_assert_uint_eq(w.request_id, 8);
    core_waiting_clear(&w);
    /* still waiting when the session ends: freed with it */
    core_waiting_t c = {.request_id = 9, .deadline_us = 5 * SEC, .payload = json_object()};
    ck_assert_int_eq(core_session_wait(s, &c), 0);
    core_session_destroy(&s);
}
END_TEST

/* issue 15: an idle session is its struct alone; the held answer, the waiting CALL and the queue
 * room exist only while used, and come back to that size when they empty */
START_TEST(test_idle_footprint)
{
    core_session_t *s = core_session_new(OCPP_V201, 16, 1);
    size_t idle = core_session_bytes(s);
    ck_assert_uint_le(idle, 96);
    core_held_t h;
    hold(s, "m1", 7, 0);
    ck_assert_uint_gt(core_session_bytes(s), idle + sizeof(core_held_t) - 1);
    hold(s, "m2", 8, 0); /* replaces m1 in the same room */
    ck_assert_uint_eq(core_session_bytes(s), idle + sizeof(core_held_t));
    ck_assert_int_eq(core_session_release(s, 8, &h), 1);
    core_held_clear(&h);
    ck_assert_uint_eq(core_session_bytes(s), idle);
    core_waiting_t w = {.request_id = 5, .deadline_us = 10 * SEC, .payload = json_object()};
    ck_assert_int_eq(core_session_wait(s, &w), 0);
    ck_assert_uint_eq(core_session_bytes(s), idle + sizeof(core_waiting_t));
    ck_assert_int_eq(core_session_take_waiting(s, 5, &w), 1);
    core_waiting_clear(&w);
    ck_assert_uint_eq(core_session_bytes(s), idle);
    /* queue room while commands wait, none once the last one left */
    ck_assert_int_eq(core_session_enqueue(s, cmd_new("c1", "Reset", 0, 0)), 0);
    ck_assert_int_eq(core_session_enqueue(s, cmd_new("c2", "Reset", 0, 0)), 0);
    ck_assert_uint_eq(core_session_bytes(s), idle + 16 * sizeof(core_command_t *));
    core_command_t *expired = NULL, *sent = core_session_next(s, 1, SEC, &expired);
    ck_assert_ptr_nonnull(sent);
    ck_assert_uint_eq(core_session_queued(s), 1);
    core_command_t *last = core_session_take_any(s); /* the in-flight one first */
    ck_assert_ptr_eq(last, sent);
    core_command_free(&last);
    last = core_session_take_any(s);
    ck_assert_str_eq(last->command_id, "c2");
    core_command_free(&last);
    ck_assert_uint_eq(core_session_queued(s), 0);
    ck_assert_uint_eq(core_session_bytes(s), idle);
    ck_assert_int_eq(core_session_enqueue(s, cmd_new("c3", "Reset", 0, 0)), 0); /* room again */
    ck_assert_uint_eq(core_session_queued(s), 1);
    core_session_destroy(&s); /* frees c3 */
}
END_TEST

/* the resends seen: 16 ids kept as their bytes, the oldest goes, anything but 32 lowercase hex
 * digits is never remembered (so never taken for a resend) */
START_TEST(test_seen_ring)
{
    core_session_t *s = core_session_new(OCPP_V16, 4, 1);
    size_t idle = core_session_bytes(s);
    char id[CORE_SESSION_SEEN_MAX + 2][CORE_EVENT_ID_LEN + 1];
    for (int i = 0; i < CORE_SESSION_SEEN_MAX + 2; i++)
        snprintf(id[i], sizeof(id[i]), "%032x", 0xabc0 + i);
    ck_assert_int_eq(core_session_seen(s, id[0]), 0);
    ck_assert_uint_eq(core_session_bytes(s), idle); /* nothing allocated to answer no */
    core_session_remember(s, id[0]);
    ck_assert_uint_eq(core_session_bytes(s), idle + CORE_SESSION_SEEN_MAX * 16);
    ck_assert_int_eq(core_session_seen(s, id[0]), 1);
    ck_assert_int_eq(core_session_seen(s, id[1]), 0);
    /* all zero bytes are an id like any other, not an empty slot */
    char zero[CORE_EVENT_ID_LEN + 1];
    memset(zero, '0', CORE_EVENT_ID_LEN);
    zero[CORE_EVENT_ID_LEN] = '\0';
    ck_assert_int_eq(core_session_seen(s, zero), 0);
    core_session_remember(s, id[0]); /* twice: kept once */
    for (int i = 1; i < CORE_SESSION_SEEN_MAX; i++)
        core_session_remember(s, id[i]);
    for (int i = 0; i < CORE_SESSION_SEEN_MAX; i++)
        ck_assert_int_eq(core_session_seen(s, id[i]), 1);
    core_session_remember(s, id[CORE_SESSION_SEEN_MAX]); /* the oldest (id[0]) goes */
    ck_assert_int_eq(core_session_seen(s, id[0]), 0);
    ck_assert_int_eq(core_session_seen(s, id[1]), 1);
    ck_assert_int_eq(core_session_seen(s, id[CORE_SESSION_SEEN_MAX]), 1);
    /* not an event id: upper case, short, long, not hex, empty */
    char upper[CORE_EVENT_ID_LEN + 1], longer[CORE_EVENT_ID_LEN + 2];
    snprintf(upper, sizeof(upper), "%032X", 0xabcdef);
    snprintf(longer, sizeof(longer), "%s0", id[2]);
    const char *bad[] = {upper, "abc", longer, "zz000000000000000000000000000000", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        core_session_remember(s, bad[i]);
        ck_assert_int_eq(core_session_seen(s, bad[i]), 0);
    }
    ck_assert_int_eq(core_session_seen(s, id[2]), 1); /* not evicted by them */
    ck_assert_int_eq(core_session_seen(s, NULL), 0);
    core_session_destroy(&s);
}
END_TEST

/* auth_policy redis: the status the engine looked up, with its expiry, in answers that stay valid
 * against the response schemas (1.6 idTagInfo.expiryDate, 2.0.1 idTokenInfo.cacheExpiryDateTime) */
START_TEST(test_redis_policy_answers)
{
    static const struct {
        ocpp_version_t v;
        const char *action, *payload;
    } calls[] = {
        {OCPP_V16, "Authorize", "{\"idTag\":\"T1\"}"},
        {OCPP_V16, "StartTransaction",
         "{\"connectorId\":1,\"idTag\":\"T1\",\"meterStart\":0,\"timestamp\":\"2025-01-01T00:00:"
         "00Z\"}"},
        {OCPP_V16, "StopTransaction",
         "{\"idTag\":\"T1\",\"transactionId\":5,\"meterStop\":1,\"timestamp\":\"2025-01-01T00:00:"
         "00Z\"}"},
        {OCPP_V201, "Authorize", "{\"idToken\":{\"idToken\":\"T1\",\"type\":\"ISO14443\"}}"},
        {OCPP_V201, "TransactionEvent",
         "{\"eventType\":\"Started\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"triggerReason\":"
         "\"Authorized\",\"seqNo\":0,\"transactionInfo\":{\"transactionId\":\"X\"},\"idToken\":"
         "{\"idToken\":\"T1\",\"type\":\"ISO14443\"}}"},
    };
    static const char *const statuses[] = {"Accepted", "Blocked", "Expired", "Invalid", NULL};
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        json_t *p = json_loads(calls[i].payload, 0, NULL);
        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(core_action_id_tag(calls[i].v, calls[i].action, p), "T1");
        const ocpp_schema_msg_t *m = ocpp_schema_find(calls[i].v, calls[i].action);
        for (size_t k = 0; k < 5; k++) {
            core_action_ctx_t ctx = {.heartbeat_interval_s = 60,
                                     .now_us = 1735787045678000ULL,
                                     .auth_policy = CORE_AUTH_REDIS,
                                     .tag_status = statuses[k],
                                     .tag_expires_at_ms = k % 2 ? 1767225600000ULL : 0,
                                     .transaction_id = 7};
            core_action_out_t out;
            core_action_handle(calls[i].v, calls[i].action, p, &ctx, &out);
            ocpp_verr_t e;
            ck_assert_msg(ocpp_schema_validate(m, 1, out.response, &e) == 0, "%s %s: %s",
                          calls[i].action, statuses[k] ? statuses[k] : "NULL", e.why);
            json_t *info =
                json_object_get(out.response, calls[i].v == OCPP_V16 ? "idTagInfo" : "idTokenInfo");
            ck_assert_str_eq(json_string_value(json_object_get(info, "status")),
                             statuses[k] ? statuses[k] : "Invalid");
            const char *exp = calls[i].v == OCPP_V16 ? "expiryDate" : "cacheExpiryDateTime";
            if (k % 2)
                ck_assert_str_eq(json_string_value(json_object_get(info, exp)),
                                 "2026-01-01T00:00:00.000Z");
            else
                ck_assert_ptr_null(json_object_get(info, exp));
            core_action_out_clear(&out);
        }
        json_decref(p);
    }
    /* CALLs without an id token */
    json_t *p = json_loads("{\"connectorId\":1,\"errorCode\":\"NoError\",\"status\":\"Available\"}",
                           0, NULL);
    ck_assert_ptr_null(core_action_id_tag(OCPP_V16, "StatusNotification", p));
    json_decref(p);
    p = json_loads("{\"eventType\":\"Updated\"}", 0, NULL);
    ck_assert_ptr_null(core_action_id_tag(OCPP_V201, "TransactionEvent", p));
    ck_assert_ptr_null(core_action_id_tag(OCPP_V201, "StartTransaction", p));
    json_decref(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_session");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_gating_201);
    tcase_add_test(t, test_held_answer);
    tcase_add_test(t, test_one_outstanding_call_and_priority);
    tcase_add_test(t, test_queue_expiry_and_release);
    tcase_add_test(t, test_message_ids_unique_across_sessions);
    tcase_add_test(t, test_command_records);
    tcase_add_test(t, test_command_results);
    tcase_add_test(t, test_every_cp_call_answered_validly);
    tcase_add_test(t, test_persist_flags_and_auth);
    tcase_add_test(t, test_waiting_call);
    tcase_add_test(t, test_idle_footprint);
    tcase_add_test(t, test_seen_ring);
    tcase_add_test(t, test_redis_policy_answers);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
