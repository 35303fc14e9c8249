/* ocpp_frame: OCPP-J RPC framing (CALL, CALLRESULT, CALLERROR) as pure functions.
 *
 * Parses one text message into its parts and builds the replies. OCPP 2.1 adds SEND (type 6,
 * never answered) and CALLRESULTERROR (type 5, the answer to an invalid CALLRESULT); its error
 * codes are those of 2.0.1. Error codes are spelled as
 * the negotiated OCPP version spells them (1.6 FormationViolation, 2.0.1 FormatViolation...). */
#ifndef OCPP_FRAME_H
#define OCPP_FRAME_H

#include <stddef.h>

#include <jansson.h>

#define OCPP_MESSAGE_ID_MAX 36
#define OCPP_ACTION_MAX     64

typedef enum {
    OCPP_V16 = 16,
    OCPP_V201 = 201,
    OCPP_V21 = 21
} ocpp_version_t;

typedef enum {
    OCPP_CALL = 2,
    OCPP_CALLRESULT = 3,
    OCPP_CALLERROR = 4,
    OCPP_CALLRESULTERROR = 5, /* OCPP 2.1 only */
    OCPP_SEND = 6,            /* OCPP 2.1 only */
} ocpp_msg_type_t;

/* Version-independent error kinds; ocpp_error_code() spells them per version. */
typedef enum {
    OCPP_ERR_NONE = 0,
    OCPP_ERR_FORMAT,          /* FormationViolation / FormatViolation */
    OCPP_ERR_RPC_FRAMEWORK,   /* 2.0.1/2.1 RpcFrameworkError; 1.6 has none: FormationViolation */
    OCPP_ERR_MESSAGE_TYPE,    /* 2.0.1/2.1 MessageTypeNotSupported; 1.6: FormationViolation */
    OCPP_ERR_NOT_IMPLEMENTED, /* NotImplemented */
    OCPP_ERR_NOT_SUPPORTED,   /* NotSupported */
    OCPP_ERR_PROTOCOL,        /* ProtocolError */
    OCPP_ERR_SECURITY,        /* SecurityError */
    OCPP_ERR_PROPERTY,        /* PropertyConstraintViolation */
    OCPP_ERR_OCCURRENCE,      /* OccurenceConstraintViolation / OccurrenceConstraintViolation */
    OCPP_ERR_TYPE,            /* TypeConstraintViolation */
    OCPP_ERR_INTERNAL,        /* InternalError */
    OCPP_ERR_GENERIC,         /* GenericError */
} ocpp_error_t;

typedef struct {
    ocpp_msg_type_t type;
    char message_id[OCPP_MESSAGE_ID_MAX + 1];
    char action[OCPP_ACTION_MAX + 1]; /* CALL and SEND */
    json_t *payload;      /* CALL / SEND / CALLRESULT payload, CALL(RESULT)ERROR details; owned */
    char error_code[64];  /* CALLERROR and CALLRESULTERROR */
    char error_text[256]; /* their description (truncated) */
} ocpp_frame_t;

/* Parse data[0..len). On success 0 and *out filled (release with ocpp_frame_clear).
 * On failure the error kind and a description; out->message_id is set when it could be read,
 * so the caller can answer with a CALLERROR (empty id: no answer is possible), and out->type
 * when the message type could be read (0 otherwise): a malformed CALLRESULT or CALLERROR is
 * never answered. CALLRESULTERROR and SEND parse in any version; callers refuse them unless
 * ocpp2.1 was negotiated. */
ocpp_error_t ocpp_frame_parse(const char *data, size_t len, ocpp_frame_t *out, char *why,
                              size_t whylen);
void ocpp_frame_clear(ocpp_frame_t *frame);

const char *ocpp_error_code(ocpp_error_t err, ocpp_version_t version);
int ocpp_version_from_subprotocol(const char *subprotocol, size_t len, ocpp_version_t *out);
const char *ocpp_version_name(ocpp_version_t version); /* "1.6", "2.0.1", "2.1" */

/* Replies, as malloc'd NUL-terminated text (caller frees); NULL on OOM. */
char *ocpp_frame_callresult(const char *message_id, const json_t *payload);
char *ocpp_frame_callerror(const char *message_id, const char *code, const char *description);
/* OCPP 2.1 CALLRESULTERROR [5, id, code, description, {}]: the answer to a CALLRESULT that
 * fails validation (never answered otherwise) */
char *ocpp_frame_callresulterror(const char *message_id, const char *code, const char *description);

#endif
