/* ocpp_frame: OCPP-J RPC framing as pure functions. See ocpp_frame.h. */
#include "ocpp_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_escape.h"
#include "json_text.h"

void ocpp_frame_clear(ocpp_frame_t *frame)
{
    json_decref(frame->payload);
    memset(frame, 0, sizeof(*frame));
}

static ocpp_error_t fail(ocpp_error_t err, char *why, size_t whylen, const char *text)
{
    snprintf(why, whylen, "%s", text);
    return err;
}

ocpp_error_t ocpp_frame_parse(const char *data, size_t len, ocpp_frame_t *out, char *why,
                              size_t whylen)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    /* one pass over the text (json_text.h); what it is not sure of goes to jansson, which
     * reads it or says why not */
    json_t *root = json_text_parse(data, len);
    if (!root)
        root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(why, whylen, "not JSON: %s", jerr.text);
        return OCPP_ERR_RPC_FRAMEWORK;
    }
    ocpp_error_t err = OCPP_ERR_NONE;
    if (!json_is_array(root) || json_array_size(root) < 3) {
        err = fail(OCPP_ERR_RPC_FRAMEWORK, why, whylen, "not an OCPP-J array");
        goto out;
    }
    json_t *jtype = json_array_get(root, 0);
    json_t *jid = json_array_get(root, 1);
    if (json_is_string(jid)) {
        if (json_string_length(jid) > OCPP_MESSAGE_ID_MAX || json_string_length(jid) == 0) {
            err =
                fail(OCPP_ERR_RPC_FRAMEWORK, why, whylen, "message id must be 1 to 36 characters");
            goto out;
        }
        memcpy(out->message_id, json_string_value(jid), json_string_length(jid) + 1);
    } else {
        err = fail(OCPP_ERR_RPC_FRAMEWORK, why, whylen, "message id is not a string");
        goto out;
    }
    if (!json_is_integer(jtype)) {
        err = fail(OCPP_ERR_RPC_FRAMEWORK, why, whylen, "message type is not an integer");
        goto out;
    }
    json_int_t type = json_integer_value(jtype);
    size_t n = json_array_size(root);
    if (type >= OCPP_CALL && type <= OCPP_SEND)
        out->type = (ocpp_msg_type_t)type;
    if (type == OCPP_CALL || type == OCPP_SEND) {
        json_t *action = json_array_get(root, 2);
        json_t *payload = json_array_get(root, 3);
        if (n != 4 || !json_is_string(action)) {
            err = fail(OCPP_ERR_RPC_FRAMEWORK, why, whylen,
                       type == OCPP_CALL ? "CALL must be [2, id, action, {payload}]"
                                         : "SEND must be [6, id, action, {payload}]");
            goto out;
        }
        if (!json_is_object(payload)) {
            err = fail(OCPP_ERR_FORMAT, why, whylen, "payload is not a JSON object");
            goto out;
        }
        if (json_string_length(action) == 0 || json_string_length(action) > OCPP_ACTION_MAX) {
            err = fail(OCPP_ERR_RPC_FRAMEWORK, why, whylen, "action name length out of range");
            goto out;
        }
        memcpy(out->action, json_string_value(action), json_string_length(action) + 1);
        out->payload = json_incref(payload);
    } else if (type == OCPP_CALLRESULT) {
        json_t *payload = json_array_get(root, 2);
        if (n != 3 || !json_is_object(payload)) {
            err = fail(OCPP_ERR_FORMAT, why, whylen, "CALLRESULT must be [3, id, {payload}]");
            goto out;
        }
        out->payload = json_incref(payload);
    } else if (type == OCPP_CALLERROR || type == OCPP_CALLRESULTERROR) {
        json_t *code = json_array_get(root, 2);
        json_t *desc = json_array_get(root, 3);
        json_t *details = json_array_get(root, 4);
        if (n != 5 || !json_is_string(code) || !json_is_string(desc) || !json_is_object(details)) {
            err = fail(OCPP_ERR_FORMAT, why, whylen,
                       "CALLERROR must be [4 or 5, id, code, description, {details}]");
            goto out;
        }
        snprintf(out->error_code, sizeof(out->error_code), "%s", json_string_value(code));
        snprintf(out->error_text, sizeof(out->error_text), "%s", json_string_value(desc));
        out->payload = json_incref(details);
    } else {
        err = fail(OCPP_ERR_MESSAGE_TYPE, why, whylen, "unknown message type");
        goto out;
    }
    out->type = (ocpp_msg_type_t)type;
out:
    json_decref(root);
    return err;
}

const char *ocpp_error_code(ocpp_error_t err, ocpp_version_t version)
{
    int v16 = version == OCPP_V16;
    switch (err) {
    case OCPP_ERR_NONE:
        return "";
    case OCPP_ERR_FORMAT:
        return v16 ? "FormationViolation" : "FormatViolation";
    case OCPP_ERR_RPC_FRAMEWORK: /* 1.6 has no RpcFrameworkError: "not conform the PDU" */
        return v16 ? "FormationViolation" : "RpcFrameworkError";
    case OCPP_ERR_MESSAGE_TYPE:
        return v16 ? "FormationViolation" : "MessageTypeNotSupported";
    case OCPP_ERR_NOT_IMPLEMENTED:
        return "NotImplemented";
    case OCPP_ERR_NOT_SUPPORTED:
        return "NotSupported";
    case OCPP_ERR_PROTOCOL:
        return "ProtocolError";
    case OCPP_ERR_SECURITY:
        return "SecurityError";
    case OCPP_ERR_PROPERTY:
        return "PropertyConstraintViolation";
    case OCPP_ERR_OCCURRENCE:
        return v16 ? "OccurenceConstraintViolation" : "OccurrenceConstraintViolation";
    case OCPP_ERR_TYPE:
        return "TypeConstraintViolation";
    case OCPP_ERR_INTERNAL:
        return "InternalError";
    case OCPP_ERR_GENERIC:
        return "GenericError";
    }
    return "GenericError";
}

int ocpp_version_from_subprotocol(const char *subprotocol, size_t len, ocpp_version_t *out)
{
    static const struct {
        const char *name;
        ocpp_version_t v;
    } known[] = {{"ocpp1.6", OCPP_V16}, {"ocpp2.0.1", OCPP_V201}, {"ocpp2.1", OCPP_V21}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strlen(known[i].name) == len && memcmp(known[i].name, subprotocol, len) == 0) {
            *out = known[i].v;
            return 0;
        }
    }
    return -1;
}

const char *ocpp_version_name(ocpp_version_t version)
{
    switch (version) {
    case OCPP_V16:
        return "1.6";
    case OCPP_V201:
        return "2.0.1";
    case OCPP_V21:
        return "2.1";
    }
    return "unknown";
}

/* the bytes json_dumps(JSON_COMPACT) wrote of json_pack("[isO]", 3, message_id, payload),
 * written in one pass without the array around the payload */
char *ocpp_frame_callresult(const char *message_id, const json_t *payload)
{
    size_t idlen = message_id ? strlen(message_id) : 0;
    for (size_t i = 0, n; i < idlen; i += n) /* json_pack takes only UTF-8 */
        if (!(n = json_utf8_sequence_len((const unsigned char *)message_id + i, idlen - i)))
            return NULL;
    if (!message_id || !payload)
        return NULL;
    json_buf_t b = {0};
    json_buf_put(&b, "[3,", 3);
    json_buf_string(&b, message_id, idlen);
    json_buf_put(&b, ",", 1);
    if (json_buf_value(&b, payload, 0) < 0 || (json_buf_put(&b, "]", 1), b.oom)) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static char *error_frame(ocpp_msg_type_t type, const char *message_id, const char *code,
                         const char *description)
{
    json_t *arr = json_pack("[isss{}]", type, message_id, code, description);
    if (!arr)
        return NULL;
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

char *ocpp_frame_callerror(const char *message_id, const char *code, const char *description)
{
    return error_frame(OCPP_CALLERROR, message_id, code, description);
}

char *ocpp_frame_callresulterror(const char *message_id, const char *code, const char *description)
{
    return error_frame(OCPP_CALLRESULTERROR, message_id, code, description);
}
