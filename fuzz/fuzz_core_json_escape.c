/* fuzz_core_json_escape.c: libFuzzer driver for the gateway's one JSON string escaper
 * (common/json_escape.h) in both styles and for json_text's string writer built on it. The first
 * byte picks the room of each piece, the rest is the string. For any bytes:
 *   - each style writes what a plain one-byte-at-a-time model of it writes (the two escapers this
 *     one replaced: json_escape's and json_text.c's own), so both stay byte-identical;
 *   - pieces written into small rooms join into the whole, never more than the room;
 *   - the safe style always gives a JSON string jansson reads (back to the input when that was
 *     UTF-8); the jansson style and json_buf_string give json_dumps' bytes when jansson takes
 *     the input as a string.
 * Seeds: fuzz/corpus/core_json_escape/ (quotes, controls, DEL, U+2028, 4-byte, invalid and
 * truncated UTF-8). */
#include "json_escape.h"
#include "json_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the model of the safe style: one unit at a time, as json_escape was written before */
static size_t model_safe(const unsigned char *s, size_t n, char *out)
{
    size_t used = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t step;
        if (c == '"' || c == '\\') {
            out[used++] = '\\', out[used++] = (char)c, i++;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[used++] = '\\', out[used++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't', i++;
        } else if (c < 0x20 || c == 0x7F) {
            used += (size_t)snprintf(out + used, 7, "\\u%04x", c), i++;
        } else if ((step = json_utf8_sequence_len(s + i, n - i)) > 0) {
            memcpy(out + used, s + i, step), used += step, i += step;
        } else {
            memcpy(out + used, "\xEF\xBF\xBD", 3), used += 3, i++;
        }
    }
    return used;
}

/* the model of the jansson style: as json_text.c's json_buf_string was written before */
static size_t model_jansson(const unsigned char *s, size_t n, char *out)
{
    static const char SHORT[] = {['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
                                 ['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't'};
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            out[used++] = (char)c;
        else if (c < sizeof(SHORT) && SHORT[c])
            out[used++] = '\\', out[used++] = SHORT[c];
        else
            used += (size_t)snprintf(out + used, 7, "\\u%04X", c);
    }
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    size_t piece = 1 + data[0] % 16; /* room of each piece: 1 to 16 bytes */
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    char *whole = malloc(n * 6 + 1), *pieces = malloc(n * 6 + 1), *model = malloc(n * 6 + 8);
    if (!whole || !pieces || !model)
        abort();
    json_t *str = json_stringn(in, n); /* NULL: not UTF-8, or not a string jansson takes */

    for (int st = JSON_ESCAPE_SAFE; st <= JSON_ESCAPE_JANSSON; st++) {
        json_escape_style_t style = (json_escape_style_t)st;
        size_t consumed, len = json_escape_as(style, in, n, whole, n * 6, &consumed);
        if (consumed != n)
            abort();
        size_t mlen = style == JSON_ESCAPE_SAFE
                          ? model_safe((const unsigned char *)in, n, model)
                          : model_jansson((const unsigned char *)in, n, model);
        if (mlen != len || memcmp(model, whole, len) != 0)
            abort();
        size_t done = 0, m = 0;
        while (done < n) {
            size_t wrote = json_escape_as(style, in + done, n - done, pieces + m, piece, &consumed);
            if (wrote > piece || consumed > n - done)
                abort();
            if (consumed == 0) { /* only when one escape or character needs more room */
                if (piece >= 6)
                    abort();
                break;
            }
            m += wrote;
            done += consumed;
        }
        if (done == n && (m != len || memcmp(pieces, whole, len) != 0))
            abort();
        if (done < n && memcmp(pieces, whole, m) != 0)
            abort();

        if (style == JSON_ESCAPE_SAFE) {
            model[0] = '"';
            memcpy(model + 1, whole, len);
            model[len + 1] = '"';
            json_t *back = json_loadb(model, len + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            if (!back || !json_is_string(back))
                abort();
            if (str && (json_string_length(back) != n || memcmp(json_string_value(back), in, n)))
                abort();
            json_decref(back);
        } else if (str) {
            char *dump = json_dumps(str, JSON_COMPACT | JSON_ENCODE_ANY);
            json_buf_t b = {0};
            json_buf_string(&b, in, n);
            if (!dump || b.oom || strlen(dump) != len + 2 || memcmp(dump + 1, whole, len) != 0 ||
                strcmp(b.p, dump) != 0)
                abort();
            free(dump);
            free(b.p);
        }
    }
    json_decref(str);
    free(whole);
    free(pieces);
    free(model);
    return 0;
}
