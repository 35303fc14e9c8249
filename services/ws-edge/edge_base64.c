/* edge_base64: strict base64 decoding. See edge_base64.h. */
#include "edge_base64.h"

#include <errno.h>
#include <stdbool.h>

/* value of a base64 character, or -1 */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int edge_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len % 4 != 0)
        return -EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int pad = 0;
        if (last && in[i + 3] == '=')
            pad = in[i + 2] == '=' ? 2 : 1;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int d = k >= 4 - pad ? 0 : b64_value((unsigned char)in[i + k]);
            if (d < 0)
                return -EINVAL; /* also a '=' that does not end the text */
            v = v << 6 | (uint32_t)d;
        }
        /* the bits a padded group does not use must be zero (canonical text) */
        if ((pad == 1 && (v & 0xFF)) || (pad == 2 && (v & 0xFFFF)))
            return -EINVAL;
        size_t n = 3 - (size_t)pad;
        if (cap - o < n)
            return -ENOSPC;
        out[o++] = (uint8_t)(v >> 16);
        if (n > 1)
            out[o++] = (uint8_t)(v >> 8);
        if (n > 2)
            out[o++] = (uint8_t)v;
    }
    return (int)o;
}
