/* ocpp_msg.h: what a simulated charge point says and answers, OCPP 1.6, 2.0.1 and 2.1 (pure).
 *
 * ocpp_msg_build() serialises one CALL of the charge point's life from a small descriptor (so a
 * message queued while offline is serialised when it is finally sent, with the transaction id
 * known by then). ocpp_frame_scan() cuts an incoming OCPP-J frame into its parts without a JSON
 * tree (the fast path of a load generator). ocpp_downlink_reply() answers every CSMS-initiated
 * action of both versions with a schema-shaped payload, accepting or rejecting as configured,
 * and says what the charge point should do next (start or stop a session, reset, send a
 * triggered message).
 *
 * OCPP 2.1 stations say what a 2.0.1 station says, and: their TransactionEvent Started and Ended
 * carry the energy register as signed meter data of a configurable size (Ended: two signed
 * values, begin and end, so that with 16 KiB each the frame exceeds 32 KiB), they open a
 * periodic event stream (OpenPeriodicEventStream, a CALL) and then send its values as
 * NotifyPeriodicEventStream SEND frames ([6, id, action, payload], never answered), and they
 * answer the 2.1 CSMS actions (DER control, tariffs, dynamic schedules, battery swap, ...).
 */
#ifndef CPSIM_OCPP_MSG_H
#define CPSIM_OCPP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    OCPP_V16 = 0,
    OCPP_V201 = 1,
    OCPP_V21 = 2,
    OCPP_VERSIONS
} ocpp_version_t;

/* "1.6", "2.0.1", "2.1" */
const char *ocpp_version_label(ocpp_version_t v);

/* The CALLs a charge point sends. */
typedef enum {
    ACT_BOOT,
    ACT_HEARTBEAT,
    ACT_STATUS,
    ACT_AUTHORIZE,
    ACT_START_TX,    /* 1.6 StartTransaction; 2.0.1 TransactionEvent Started */
    ACT_METER,       /* 1.6 MeterValues; 2.0.1 TransactionEvent Updated */
    ACT_STOP_TX,     /* 1.6 StopTransaction; 2.0.1 TransactionEvent Ended */
    ACT_STREAM_OPEN, /* 2.1 OpenPeriodicEventStream */
    ACT_STREAM,      /* 2.1 NotifyPeriodicEventStream: a SEND, never answered */
    ACT_DOWNLINK,    /* replies to CSMS calls (statistics only) */
    ACT_COUNT
} ocpp_act_t;

/* Name used in statistics: the OCPP action, with the 2.0.1 event type for TransactionEvent. */
const char *ocpp_act_name(ocpp_act_t a, ocpp_version_t v);

/* True for the messages a station must keep and resend after a reconnect (transaction data). */
bool ocpp_act_is_transactional(ocpp_act_t a);

typedef struct ocpp_msg {
    ocpp_act_t act;
    uint8_t status;          /* ACT_STATUS: 0 Available, 1 Occupied/Charging */
    uint32_t tx_seq_no;      /* 2.0.1 TransactionEvent seqNo */
    int64_t tx_id;           /* 1.6 transactionId (from StartTransaction.conf), 2.0.1 local id */
    uint64_t meter_wh;       /* meter reading */
    uint64_t meter_start_wh; /* 2.1 Ended: the register at the start (signed again) */
    uint64_t at_ms;          /* unix time in ms when the event happened (the message timestamp) */
    bool offline;            /* 2.0.1 TransactionEvent offline flag */
    uint16_t signed_bytes; /* 2.1: signedMeterData length of the Begin / End registers (0: none) */
    uint32_t stream_id;    /* 2.1: the periodic event stream's id */
    uint32_t stream_interval_s; /* 2.1 OpenPeriodicEventStream params.interval */
} ocpp_msg_t;

/* The stream's values in one NotifyPeriodicEventStream (one every 500 ms of the interval). */
#define OCPP_STREAM_VALUES 4

/* Writes the OCPP-J CALL [2,"<id>","<Action>",{...}] (ACT_STREAM: the SEND [6,...]) for station
 * `identity` into out. Returns its length, -ENOSPC, or -EINVAL for a message the version does
 * not have (the stream before 2.1). */
int ocpp_msg_build(char *out, size_t cap, ocpp_version_t v, const char *identity,
                   const char *msg_id, const ocpp_msg_t *m);

/* ISO 8601 UTC with milliseconds ("2026-11-24T03:20:11.123Z") into out[25]. */
void ocpp_timestamp(uint64_t unix_ms, char out[25]);

typedef struct ocpp_frame {
    int type; /* 2 CALL, 3 CALLRESULT, 4 CALLERROR, 5 CALLRESULTERROR (2.1), 6 SEND (2.1) */
    const char *id;
    size_t id_len;
    const char *action; /* CALL, SEND: the action; CALLERROR, CALLRESULTERROR: the error code */
    size_t action_len;
    const char *payload; /* CALL/CALLRESULT: the payload object text */
    size_t payload_len;
} ocpp_frame_t;

/* Scans buf[0..len): 0 on success, -EPROTO if it is not an OCPP-J frame (or its message id is
 * empty, longer than 64 bytes, or not printable ASCII: cp-sim echoes ids in its replies). */
int ocpp_frame_scan(const char *buf, size_t len, ocpp_frame_t *f);

typedef enum {
    EFFECT_NONE,
    EFFECT_START_SESSION,
    EFFECT_STOP_SESSION,
    EFFECT_RESET,
    EFFECT_TRIGGER /* send trigger_act now */
} ocpp_effect_t;

typedef struct ocpp_reply {
    ocpp_effect_t effect;
    ocpp_act_t trigger_act;
    bool known; /* false: the action is not one the version defines (answer NotImplemented) */
} ocpp_reply_t;

/* Writes the full reply frame ([3,"<id>",{...}] or a CALLERROR) to CSMS call f for a station of
 * version v; `accept` chooses the positive or negative status of the action. Returns the frame
 * length or -ENOSPC. */
int ocpp_downlink_reply(char *out, size_t cap, ocpp_version_t v, const ocpp_frame_t *f, bool accept,
                        ocpp_reply_t *r);

/* Reads, from a CALLRESULT payload, the status the CSMS gave (BootNotification status,
 * idTagInfo / idTokenInfo status) into out and, when present, "interval" into *interval and
 * 1.6 "transactionId" into *tx_id. Returns 0, or -EPROTO when the payload is not a JSON object. */
int ocpp_result_fields(const char *payload, size_t len, char *status, size_t cap, int64_t *interval,
                       int64_t *tx_id);

#endif
