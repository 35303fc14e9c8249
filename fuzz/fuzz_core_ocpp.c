/* fuzz_ocpp.c: libFuzzer driver for ocpp-core's frame parser and schema validator, the code
 * that reads what charge points send. The first byte picks the OCPP version; the rest is one
 * WebSocket text message. Any input must parse or be refused with an error kind and a
 * description; a CALL is validated against its action's request schema, a CALLRESULT against
 * a response schema picked by the message id; validation must end with a verdict, never a
 * crash, a leak or a read outside the input. Seeds: fuzz/corpus/ocpp/ (valid and invalid
 * frames made from the generated examples). */
#include "ocpp_frame.h"
#include "ocpp_schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const ocpp_version_t versions[] = {OCPP_V16, OCPP_V201, OCPP_V21};
    ocpp_version_t v = versions[data[0] % 3];
    ocpp_frame_t f;
    char why[160];
    ocpp_error_t err = ocpp_frame_parse((const char *)data + 1, size - 1, &f, why, sizeof(why));
    if (err != OCPP_ERR_NONE) {
        if (!why[0] || !ocpp_error_code(err, v)[0])
            abort(); /* every refusal has a reason and a code */
        ocpp_frame_clear(&f);
        return 0;
    }
    ocpp_verr_t e;
    if (f.type == OCPP_CALL) {
        const ocpp_schema_msg_t *m = ocpp_schema_find(v, f.action);
        if (m) {
            int rc = ocpp_schema_validate(m, 0, f.payload, &e);
            if ((rc == 0) != (e.err == OCPP_ERR_NONE) || (rc < 0 && !e.why[0]))
                abort();
        }
    } else if (f.type == OCPP_CALLRESULT) {
        size_t n = OCPP_SCHEMA_TABLES.message_count;
        const ocpp_schema_msg_t *m =
            &OCPP_SCHEMA_TABLES.messages[(unsigned char)f.message_id[0] % n];
        if (m->response) {
            int rc = ocpp_schema_validate(m, 1, f.payload, &e);
            if ((rc == 0) != (e.err == OCPP_ERR_NONE))
                abort();
        }
    }
    ocpp_frame_clear(&f);
    return 0;
}
