/* json_escape.c: JSON string escaping (json_escape.h). */
#include "json_escape.h"

#include <string.h>

#include "hex.h"

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD in UTF-8 */

size_t json_utf8_sequence_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (len < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need;
}

size_t json_escape(const char *in, size_t inlen, char *out, size_t cap, size_t *consumed)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t used = 0, i = 0;

    while (i < inlen) {
        char esc[7]; /* the longest escape, \u00XX, and hex_encode's NUL */
        const char *rep = esc;
        size_t rep_len, step = 1;
        unsigned char c = s[i];

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            rep_len = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            rep_len = 2;
        } else if (c < 0x20 || c == 0x7F) {
            memcpy(esc, "\\u00", 4);
            hex_encode(&c, 1, esc + 4);
            rep_len = 6;
        } else if (c < 0x80) {
            rep = (const char *)s + i;
            rep_len = 1;
        } else if ((step = json_utf8_sequence_len(s + i, inlen - i)) > 0) {
            rep = (const char *)s + i;
            rep_len = step;
        } else {
            rep = REPLACEMENT;
            rep_len = sizeof(REPLACEMENT) - 1;
            step = 1;
        }
        if (rep_len > cap - used)
            break;
        memcpy(out + used, rep, rep_len);
        used += rep_len;
        i += step;
    }
    if (consumed)
        *consumed = i;
    return used;
}
