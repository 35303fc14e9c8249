/* json_escape.c: JSON string escaping (json_escape.h), one loop for both styles. */
#include "json_escape.h"

#include <string.h>

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

/* PLAIN[style][c]: 1 for a byte the style copies as it is, inside a run (in the safe style every
 * byte >= 0x80 goes one sequence at a time, checked). A table, one load per byte: three
 * comparisons per byte made the core's string writer 7 % slower than the loop this one replaced
 * (callgrind, bench/ocpp_core_bench engine mv16). Ranges are GNU C designators ('"' is 0x22, '\\'
 * 0x5C). */
static const unsigned char PLAIN[2][256] = {
    [JSON_ESCAPE_SAFE] = {[0x20 ... 0x21] = 1, [0x23 ... 0x5B] = 1, [0x5D ... 0x7E] = 1},
    [JSON_ESCAPE_JANSSON] = {[0x20 ... 0x21] = 1, [0x23 ... 0x5B] = 1, [0x5D ... 0xFF] = 1},
};

/* the one loop: a run of plain bytes copied whole (as far as it fits), then the one escape,
 * character or replacement that stopped it. Inlined with a constant style, so each style gets
 * its own loop without a test of the style per byte (json_text writes every string of the
 * core's events through it). */
static inline __attribute__((always_inline)) size_t escape(json_escape_style_t style,
                                                           const unsigned char *s, size_t inlen,
                                                           char *out, size_t cap, size_t *consumed)
{
    const char *digits = style == JSON_ESCAPE_JANSSON ? "0123456789ABCDEF" : "0123456789abcdef";
    const unsigned char *plain = PLAIN[style];
    size_t used = 0, i = 0;

    while (i < inlen) {
        size_t run = i, room = cap - used;
        size_t end = inlen - i < room ? inlen : i + room;
        while (i < end && plain[s[i]])
            i++;
        int full = i == end && end < inlen;
        if (full && style == JSON_ESCAPE_JANSSON && (s[i] & 0xC0) == 0x80) {
            /* the cut falls inside a character: end the run before its lead byte instead */
            size_t j = i;
            while (j > run && i - j < 3 && (s[j - 1] & 0xC0) == 0x80)
                j--;
            if (j > run && s[j - 1] >= 0xC0)
                i = j - 1;
        }
        if (i > run) {
            memcpy(out + used, s + run, i - run);
            used += i - run;
        }
        if (full || i == inlen)
            break;

        char esc[6];
        const char *rep = esc;
        size_t rep_len = 2, step = 1;
        unsigned char c = s[i];
        esc[0] = '\\';
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (style == JSON_ESCAPE_JANSSON && (c == '\b' || c == '\f')) {
            esc[1] = c == '\b' ? 'b' : 'f';
        } else if (c < 0x20 || c == 0x7F) { /* DEL only in the safe style: plain in jansson's */
            memcpy(esc, "\\u00", 4);
            esc[4] = digits[c >> 4];
            esc[5] = digits[c & 15];
            rep_len = 6;
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

size_t json_escape_as(json_escape_style_t style, const char *in, size_t inlen, char *out,
                      size_t cap, size_t *consumed)
{
    const unsigned char *s = (const unsigned char *)in;
    if (style == JSON_ESCAPE_JANSSON)
        return escape(JSON_ESCAPE_JANSSON, s, inlen, out, cap, consumed);
    return escape(JSON_ESCAPE_SAFE, s, inlen, out, cap, consumed);
}

size_t json_escape(const char *in, size_t inlen, char *out, size_t cap, size_t *consumed)
{
    return escape(JSON_ESCAPE_SAFE, (const unsigned char *)in, inlen, out, cap, consumed);
}
