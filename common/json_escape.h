/* json_escape.h: the inside of a JSON string literal from arbitrary bytes, the one escaper of
 * the gateway, in two styles (json_escape_style_t): the gateway's own (log lines, CloudEvent
 * attributes the core and the registry write by hand) and jansson's (the core's json_text.c,
 * whose output must be the bytes json_dumps writes).
 */
#ifndef OCPPGW_JSON_ESCAPE_H
#define OCPPGW_JSON_ESCAPE_H

#include <stddef.h>

typedef enum {
    /* Always valid JSON text in UTF-8, whatever the input: '"' and '\' are escaped, control
     * characters become \n \r \t or \u00xx (lowercase hex), DEL \u007f, valid UTF-8 sequences
     * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) are copied, and every
     * byte that starts no valid sequence is replaced by U+FFFD. */
    JSON_ESCAPE_SAFE,
    /* What jansson's json_dumps writes of a string (no JSON_ENSURE_ASCII, no JSON_ESCAPE_SLASH):
     * '"' '\' \b \f \n \r \t, other controls \u00XX (uppercase hex), every other byte as is,
     * DEL and UTF-8 included: unchecked, as jansson's strings are valid UTF-8 already. */
    JSON_ESCAPE_JANSSON,
} json_escape_style_t;

/* Writes the escaped form of in[0..inlen) in the given style to out[0..cap), never cutting an
 * escape or a valid UTF-8 character in two, and no NUL. Returns the bytes written; *consumed
 * (if not NULL) is how many input bytes they stand for: inlen when all of it fitted. The runs
 * that need no escape are copied whole. */
size_t json_escape_as(json_escape_style_t style, const char *in, size_t inlen, char *out,
                      size_t cap, size_t *consumed);

/* json_escape_as(JSON_ESCAPE_SAFE, ...) */
size_t json_escape(const char *in, size_t inlen, char *out, size_t cap, size_t *consumed);

/* Length of the valid UTF-8 sequence at s[0..len) (RFC 3629), or 0 when it starts none. */
size_t json_utf8_sequence_len(const unsigned char *s, size_t len);

#endif
