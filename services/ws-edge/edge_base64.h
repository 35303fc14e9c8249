/* edge_base64: strict decoding of standard base64 (RFC 4648 §4, with padding), for the Basic
 * Authorization header and the salt and hash of credential records.
 *
 * Pure and bounded: no allocation, the output buffer's capacity is checked before every byte.
 * Strict, because every input comes from outside the process: the length must be a multiple of
 * 4, '=' may only end the text (one or two of them), no whitespace, no URL-safe alphabet, and
 * the bits a padded group leaves over must be zero (one text per byte string). */
#ifndef EDGE_BASE64_H
#define EDGE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Decodes in[0..len) into out (capacity cap): the number of bytes written, or -EINVAL for text
 * that is not strict base64, -ENOSPC when the result does not fit. An empty text decodes to
 * nothing (0). */
int edge_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

#endif
