/* fuzz_ocpp.c: libFuzzer driver for ocpp-core's frame parser and schema validator, the code
 * that reads what charge points send. The first byte picks the OCPP version; the rest is one
 * WebSocket text message. Any input must parse or be refused with an error kind and a
 * description; a CALL is validated against its action's request schema, a CALLRESULT against
 * a response schema picked by the message id; validation must end with a verdict, never a
 * crash, a leak or a read outside the input. The core's own reader and writer (json_text.h)
 * are checked against jansson's on every input: json_text_parse gives up or builds the tree
 * json_loadb builds (same dump, member order included), and a CALLRESULT has the bytes
 * json_dumps wrote. Seeds: fuzz/corpus/ocpp/ (valid and invalid frames made from the generated
 * examples). */
#include "json_text.h"
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
    json_t *mine = json_text_parse((const char *)data + 1, size - 1);
    if (mine) {
        json_t *theirs = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
        if (!theirs || !json_equal(mine, theirs))
            abort(); /* read what jansson refuses, or read it differently */
        char *a = json_dumps(mine, JSON_COMPACT), *b = json_dumps(theirs, JSON_COMPACT);
        if (!a || !b || strcmp(a, b) != 0)
            abort(); /* member order or a value's text differs */
        /* the writer: what json_dumps writes, sorted or not */
        json_buf_t w = {0};
        if (json_buf_value(&w, mine, 0) < 0 || strcmp(w.p, a) != 0)
            abort();
        free(w.p);
        char *sorted = json_dumps(mine, JSON_COMPACT | JSON_SORT_KEYS);
        w = (json_buf_t){0};
        if (!sorted || json_buf_value(&w, mine, 1) < 0 || strcmp(w.p, sorted) != 0)
            abort();
        free(w.p);
        free(sorted);
        free(a);
        free(b);
        json_decref(theirs);
        json_decref(mine);
    }
    ocpp_frame_t f;
    char why[160];
    ocpp_error_t err = ocpp_frame_parse((const char *)data + 1, size - 1, &f, why, sizeof(why));
    if (err != OCPP_ERR_NONE) {
        if (!why[0] || !ocpp_error_code(err, v)[0])
            abort(); /* every refusal has a reason and a code */
        ocpp_frame_clear(&f);
        return 0;
    }
    if (f.payload && json_is_object(f.payload)) { /* the answer's text, as jansson wrote it */
        char *mine_text = ocpp_frame_callresult(f.message_id, f.payload);
        json_t *arr = json_pack("[isO]", OCPP_CALLRESULT, f.message_id, f.payload);
        char *want = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
        if (!mine_text || !want || strcmp(mine_text, want) != 0)
            abort();
        free(mine_text);
        free(want);
        json_decref(arr);
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
