/* hex.h: lowercase hexadecimal text of bytes, the one encoder of the gateway and its tools
 * (event ids, W3C trace context, credential fingerprints, JSON \u00XX escapes, UUIDs).
 */
#ifndef OCPPGW_HEX_H
#define OCPPGW_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes the 2*n lowercase hex digits of in[0..n) to out and a NUL after them: out must have
 * room for 2*n + 1 bytes. Returns 2*n. */
size_t hex_encode(const void *in, size_t n, char *out);

/* W3C trace context header value "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>" of
 * the 16-byte trace id and 8-byte parent id in id[0..24). The caller makes sure neither id is
 * all zeros (the W3C forbids it). out must hold HEX_TRACEPARENT_LEN + 1 bytes. */
#define HEX_TRACEPARENT_LEN 55
void hex_traceparent(const uint8_t id[24], uint8_t flags, char out[HEX_TRACEPARENT_LEN + 1]);

#endif
