/* hex.c: lowercase hexadecimal text of bytes (hex.h). */
#include "hex.h"

static const char HEX_DIGITS[] = "0123456789abcdef";

size_t hex_encode(const void *in, size_t n, char *out)
{
    const uint8_t *b = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX_DIGITS[b[i] >> 4];
        out[2 * i + 1] = HEX_DIGITS[b[i] & 15];
    }
    out[2 * n] = '\0';
    return 2 * n;
}

void hex_traceparent(const uint8_t id[24], uint8_t flags, char out[HEX_TRACEPARENT_LEN + 1])
{
    char *p = out;
    *p++ = '0', *p++ = '0', *p++ = '-';
    p += hex_encode(id, 16, p);
    *p++ = '-';
    p += hex_encode(id + 16, 8, p);
    *p++ = '-';
    hex_encode(&flags, 1, p);
}
