/* fuzz_cpsim_frames.c: libFuzzer driver for what cp-sim reads from the server it is pointed at: the
 * 101 answer (ws_parse_response), a byte stream of frames (ws_frame_decode, cut anywhere), and
 * OCPP-J frames (ocpp_frame_scan, ocpp_result_fields, ocpp_downlink_reply for the three versions,
 * accepting and rejecting, and the detailed log line of a CSMS call: sim_log_ref, sim_log_format).
 * No input may crash, leak or read outside the buffer; a decoded frame must lie inside the input;
 * every reply cp-sim would send must be a JSON array; a log line is one line of exactly six
 * space-separated fields.
 */
#include <jansson.h>

#include "ocpp_msg.h"
#include "sim_log.h"
#include "ws_frame.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void frames(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size + 1);
    memcpy(buf, data, size);
    size_t off = 0;
    while (off < size) {
        ws_frame_t f;
        int r = ws_frame_decode(buf + off, size - off, 1 << 16, &f);
        if (r <= 0)
            break;
        if (f.header_len + f.payload_len > size - off)
            abort();
        if (f.masked)
            ws_unmask(buf + off + f.header_len, (size_t)f.payload_len, f.mask);
        off += f.header_len + (size_t)f.payload_len;
    }
    free(buf);
}

static void ocpp(const uint8_t *data, size_t size)
{
    static char out[1 << 17];
    ocpp_frame_t f;
    if (ocpp_frame_scan((const char *)data, size, &f) != 0)
        return;
    if (f.id < (const char *)data || f.id + f.id_len > (const char *)data + size)
        abort();
    if (f.type == 3) {
        char st[32];
        int64_t iv = 0, tx = 0;
        ocpp_result_fields(f.payload, f.payload_len, st, sizeof(st), &iv, &tx);
    }
    if (f.type != 2)
        return;
    char ref[136], mid[72], what[80], line[512];
    sim_log_ref(f.payload, f.payload_len, ref, sizeof(ref));
    snprintf(mid, sizeof(mid), "%.*s", (int)f.id_len, f.id);
    snprintf(what, sizeof(what), "%.*s:accept", (int)f.action_len, f.action);
    int ln = sim_log_format(line, sizeof(line), true, 1, 'D', mid, "SIM000001", what, ref);
    if (ln > 0) {
        int spaces = 0;
        for (int i = 0; i < ln - 1; i++) {
            spaces += line[i] == ' ';
            if (line[i] == '\n' || line[i] == '\0')
                abort();
        }
        if (spaces != 5 || line[ln - 1] != '\n')
            abort();
    }
    for (int v = 0; v < OCPP_VERSIONS; v++)
        for (int accept = 0; accept < 2; accept++) {
            ocpp_reply_t r;
            int n = ocpp_downlink_reply(out, sizeof(out), (ocpp_version_t)v, &f, accept, &r);
            if (n <= 0)
                continue;
            json_t *j = json_loadb(out, (size_t)n, 0, NULL);
            if (!json_is_array(j))
                abort();
            json_decref(j);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int status;
    switch (data[0] % 3) {
    case 0:
        ws_parse_response((const char *)data + 1, size - 1, "dGhlIHNhbXBsZSBub25jZQ==", "ocpp1.6",
                          &status);
        break;
    case 1:
        frames(data + 1, size - 1);
        break;
    default:
        ocpp(data + 1, size - 1);
        break;
    }
    return 0;
}
