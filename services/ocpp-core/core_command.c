/* core_command: command records and results. See core_command.h. */
#include "core_command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_event.h"
#include "identity.h"
#include "ocpp_schema.h"
#include "unified_command.h"

static int fail(const char **status, const char *st, char *why, size_t whylen, const char *text)
{
    *status = st;
    snprintf(why, whylen, "%s", text);
    return -1;
}

static int64_t rfc3339_us(const char *s)
{
    if (!ocpp_schema_is_datetime(s, strlen(s)))
        return -1;
    struct tm tm = {0};
    if (sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t t = (int64_t)timegm(&tm);
    const char *z = s + 19;
    while (*z && *z != 'Z' && *z != 'z' && *z != '+' && *z != '-')
        z++;
    if (*z == '+' || *z == '-') {
        int off =
            ((z[1] - '0') * 10 + (z[2] - '0')) * 3600 + ((z[4] - '0') * 10 + (z[5] - '0')) * 60;
        t += *z == '+' ? -off : off;
    }
    return t * 1000000;
}

int core_command_parse(const uint8_t *record, size_t len, ocpp_version_t version, uint64_t now_us,
                       core_command_t **out, const char **status, char *why, size_t whylen)
{
    *out = NULL;
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)record, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return fail(status, "invalid", why, whylen, "record is not a JSON object");
    }
    int rc = -1;
    json_t *converted = NULL; /* the OCPP payload of a unified action */
    const json_t *id = json_object_get(doc, "command_id");
    const json_t *action = json_object_get(doc, "action");
    json_t *payload = json_object_get(doc, "payload");
    const json_t *prio = json_object_get(doc, "priority");
    const json_t *expires = json_object_get(doc, "expires_at");
    const json_t *ttl = json_object_get(doc, "ttl_ms");
    if (!json_is_string(id) || json_string_length(id) == 0 ||
        json_string_length(id) > COMMAND_ID_MAX) {
        fail(status, "invalid", why, whylen, "command_id must be a string of 1 to 79 characters");
        goto out;
    }
    if (!json_is_string(action) || json_string_length(action) == 0 ||
        json_string_length(action) > OCPP_ACTION_MAX) {
        fail(status, "invalid", why, whylen, "action must be a non-empty string");
        goto out;
    }
    if (payload && !json_is_object(payload)) {
        fail(status, "invalid", why, whylen, "payload must be an object");
        goto out;
    }
    if ((prio && !json_is_integer(prio)) || (expires && !json_is_string(expires)) ||
        (ttl && !json_is_integer(ttl))) {
        fail(status, "invalid", why, whylen,
             "priority and ttl_ms must be integers, expires_at an RFC 3339 string");
        goto out;
    }
    uint64_t expires_us = 0;
    if (expires) {
        int64_t t = rfc3339_us(json_string_value(expires));
        if (t < 0) {
            fail(status, "invalid", why, whylen, "expires_at is not an RFC 3339 date-time");
            goto out;
        }
        expires_us = (uint64_t)t;
    } else if (ttl && json_integer_value(ttl) > 0) {
        expires_us = now_us + (uint64_t)json_integer_value(ttl) * 1000u;
    }
    const char *name = json_string_value(action);
    const char *unified = NULL;
    if (unified_command_is_unified(name)) {
        unified_cmd_rc_t urc = unified_command_convert(
            version, name, payload, json_string_value(id), &name, &converted, why, whylen);
        if (urc != UNIFIED_CMD_OK) {
            *status = urc == UNIFIED_CMD_UNSUPPORTED ? "unsupported" : "invalid";
            goto out;
        }
        unified = json_string_value(action);
        payload = converted; /* what is validated and sent */
    }
    const ocpp_schema_msg_t *msg = ocpp_schema_find(version, name);
    if (!msg) {
        snprintf(why, whylen, "OCPP %s has no action %s", ocpp_version_name(version), name);
        *status = "invalid";
        goto out;
    }
    if (msg->direction != OS_FROM_CSMS && msg->direction != OS_BOTH) {
        snprintf(why, whylen, "%s is sent by charge points, not by the CSMS", name);
        *status = "invalid";
        goto out;
    }
    json_t *empty = payload ? NULL : json_object();
    ocpp_verr_t e;
    if (ocpp_schema_validate(msg, 0, payload ? payload : empty, &e) < 0) {
        snprintf(why, whylen, "%s breaks the %s %s schema: %s",
                 unified ? "converted payload" : "payload", ocpp_version_name(version), name,
                 e.why);
        *status = "invalid";
        json_decref(empty);
        goto out;
    }
    core_command_t *cmd = calloc(1, sizeof(*cmd));
    if (!cmd) {
        json_decref(empty);
        fail(status, "invalid", why, whylen, "out of memory");
        goto out;
    }
    snprintf(cmd->command_id, sizeof(cmd->command_id), "%s", json_string_value(id));
    snprintf(cmd->action, sizeof(cmd->action), "%s", name);
    cmd->payload = payload ? json_incref(payload) : empty;
    snprintf(cmd->unified, sizeof(cmd->unified), "%s", unified ? unified : "");
    cmd->received_us = now_us;
    cmd->version = version;
    cmd->priority = prio ? (int)json_integer_value(prio) : 0;
    cmd->expires_us = expires_us;
    *out = cmd;
    rc = 0;
out:
    json_decref(converted);
    json_decref(doc);
    return rc;
}

const char *core_command_classify(ocpp_version_t version, const core_command_t *cmd,
                                  const json_t *response, char *why, size_t whylen)
{
    why[0] = '\0';
    const ocpp_schema_msg_t *msg = ocpp_schema_find(version, cmd->action);
    ocpp_verr_t e;
    if (!msg || !msg->response || ocpp_schema_validate(msg, 1, response, &e) < 0) {
        snprintf(why, whylen, "response breaks the schema: %s", msg ? e.why : "unknown action");
        return "ocpp_error";
    }
    if (cmd->unified[0]) {
        json_t *u = unified_command_response(version, cmd->unified, response);
        const char *st = json_string_value(json_object_get(u, "status"));
        const char *r = st && (strcmp(st, "accepted") == 0 || strcmp(st, "scheduled") == 0 ||
                               strcmp(st, "unlocked") == 0)
                            ? "accepted"
                            : "rejected";
        if (*r == 'r')
            snprintf(why, whylen, "charge point answered %s", st ? st : "(no status)");
        json_decref(u);
        return r;
    }
    const json_t *st = json_object_get(response, "status");
    /* success in OCPP words: Accepted; Scheduled (Reset, ChangeAvailability: done later);
     * Unlocked (UnlockConnector) */
    const char *text = json_string_value(st);
    if (!st || strcmp(text, "Accepted") == 0 || strcmp(text, "Scheduled") == 0 ||
        strcmp(text, "Unlocked") == 0)
        return "accepted";
    snprintf(why, whylen, "charge point answered %s", json_string_value(st));
    return "rejected";
}

static void put_time(json_t *r, const char *k, uint64_t us)
{
    char text[32];
    if (!us)
        return;
    core_event_format_time(us, text);
    json_object_set_new(r, k, json_string(text));
}

char *core_command_result(const char *command_id, const char *identity, const char *status,
                          const core_command_t *cmd, const json_t *response, const char *error_code,
                          const char *error_description, const json_t *error_details,
                          const char *reason, uint64_t now_us)
{
    char at[32];
    core_event_format_time(now_us, at);
    json_t *r = json_pack("{s:s, s:s, s:s, s:s}", "command_id", command_id, "cp_id", identity,
                          "status", status, "at", at);
    if (!r)
        return NULL;
    if (cmd) {
        json_object_set_new(r, "action", json_string(cmd->action));
        if (cmd->unified[0])
            json_object_set_new(r, "unified_action", json_string(cmd->unified));
        if (cmd->message_id[0])
            json_object_set_new(r, "message_id", json_string(cmd->message_id));
        put_time(r, "received_at", cmd->received_us);
        put_time(r, "sent_at", cmd->sent_us);
        if (response || error_code)
            put_time(r, "answered_at", now_us);
        json_object_set_new(r, "ocpp_version", json_string(ocpp_version_name(cmd->version)));
    }
    if (response) {
        json_object_set(r, "response", (json_t *)response);
        if (cmd && cmd->unified[0])
            json_object_set_new(r, "response_unified",
                                unified_command_response(cmd->version, cmd->unified, response));
    }
    if (error_code)
        json_object_set_new(
            r, "error",
            json_pack("{s:s, s:s, s:o}", "code", error_code, "description",
                      error_description ? error_description : "", "details",
                      error_details ? json_incref((json_t *)error_details) : json_object()));
    if (reason && reason[0])
        json_object_set_new(r, "reason", json_string(reason));
    char *text = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(r);
    return text;
}
