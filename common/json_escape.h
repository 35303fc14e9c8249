/* json_escape.h: the inside of a JSON string literal from arbitrary bytes, the one escaper of
 * the gateway (log lines, CloudEvents the core and the registry write by hand).
 *
 * Output is always valid JSON text in UTF-8, whatever the input: '"' and '\' are escaped,
 * control characters become \n \r \t or \u00XX, DEL \u007f, valid UTF-8 sequences (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF) are copied, and every byte that
 * starts no valid sequence is replaced by U+FFFD.
 */
#ifndef OCPPGW_JSON_ESCAPE_H
#define OCPPGW_JSON_ESCAPE_H

#include <stddef.h>

/* Writes the escaped form of in[0..inlen) to out[0..cap), never cutting an escape or a
 * character in two, and no NUL. Returns the bytes written; *consumed (if not NULL) is how many
 * input bytes they stand for: inlen when all of it fitted. */
size_t json_escape(const char *in, size_t inlen, char *out, size_t cap, size_t *consumed);

/* Length of the valid UTF-8 sequence at s[0..len) (RFC 3629), or 0 when it starts none. */
size_t json_utf8_sequence_len(const unsigned char *s, size_t len);

#endif
