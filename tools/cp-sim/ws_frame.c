/* ws_frame.c: see ws_frame.h. */
#include "ws_frame.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ws_base64(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0;
    size_t i = 0;

    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
        out[o++] = b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

void ws_accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t digest[SHA_DIGEST_LENGTH];
    char in[128];
    size_t kl = strnlen(key, sizeof(in) - sizeof(guid));

    memcpy(in, key, kl);
    memcpy(in + kl, guid, sizeof(guid) - 1);
    SHA1((const unsigned char *)in, kl + sizeof(guid) - 1, digest);
    ws_base64(digest, sizeof(digest), out);
}

void ws_make_key(const uint8_t nonce[16], char out[25])
{
    ws_base64(nonce, 16, out);
}

int ws_client_request(char *out, size_t cap, const char *host, int port, const char *path,
                      const char *key, const char *subprotocol, const char *auth_b64)
{
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n%s%s%s\r\n",
                     path, host, port, key, subprotocol, auth_b64 ? "Authorization: Basic " : "",
                     auth_b64 ? auth_b64 : "", auth_b64 ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

/* Value of header `name` in the header block [p, end), trimmed, into out; false if absent. */
static bool header_value(const char *p, const char *end, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            const char *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t l = (size_t)(ve - v);
            if (l >= cap)
                l = cap - 1;
            memcpy(out, v, l);
            out[l] = '\0';
            return true;
        }
        p = eol + 1;
    }
    return false;
}

int ws_parse_response(const char *buf, size_t len, const char *key, const char *subprotocol,
                      int *status)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    char value[128];
    char want[29];

    *status = 0;
    if (!end)
        return len > 8192 ? -EPROTO : 0;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -EPROTO;
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (*status != 101)
        return -EPROTO;
    if (!header_value(buf, end, "Sec-WebSocket-Accept", value, sizeof(value)))
        return -EPROTO;
    ws_accept_key(key, want);
    if (strcmp(value, want) != 0)
        return -EPROTO;
    if (!header_value(buf, end, "Sec-WebSocket-Protocol", value, sizeof(value)) ||
        strcmp(value, subprotocol) != 0)
        return -EPROTO;
    return (int)(end - buf) + 4;
}

int ws_frame_encode(uint8_t *out, size_t cap, int opcode, const void *payload, size_t len,
                    uint32_t mask)
{
    size_t h = 2;

    if (len < 126)
        h = 2;
    else if (len <= 0xffff)
        h = 4;
    else
        h = 10;
    if (cap < h + 4 + len)
        return -ENOSPC;
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        out[1] = 0x80 | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
    } else {
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    uint8_t m[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                    (uint8_t)mask};
    memcpy(out + h, m, 4);
    uint8_t *p = out + h + 4;
    const uint8_t *s = payload;
    for (size_t i = 0; i < len; i++)
        p[i] = s[i] ^ m[i & 3];
    return (int)(h + 4 + len);
}

int ws_frame_decode(const uint8_t *buf, size_t len, uint64_t max_payload, ws_frame_t *f)
{
    if (len < 2)
        return 0;
    if (buf[0] & 0x70)
        return -EPROTO; /* RSV bits without a negotiated extension */
    f->fin = buf[0] & 0x80;
    f->opcode = buf[0] & 0x0f;
    switch (f->opcode) {
    case WS_OP_CONT:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        break;
    default:
        return -EPROTO;
    }
    f->masked = buf[1] & 0x80;
    uint64_t pl = buf[1] & 0x7f;
    size_t h = 2;
    if (pl == 126) {
        if (len < 4)
            return 0;
        pl = (uint64_t)buf[2] << 8 | buf[3];
        h = 4;
    } else if (pl == 127) {
        if (len < 10)
            return 0;
        pl = 0;
        for (int i = 0; i < 8; i++)
            pl = pl << 8 | buf[2 + i];
        if (pl >> 63)
            return -EPROTO;
        h = 10;
    }
    if (f->opcode >= WS_OP_CLOSE && (!f->fin || pl > 125))
        return -EPROTO;
    if (pl > max_payload)
        return -EMSGSIZE;
    if (f->masked) {
        if (len < h + 4)
            return 0;
        memcpy(f->mask, buf + h, 4);
        h += 4;
    }
    f->header_len = h;
    f->payload_len = pl;
    return len - h >= pl ? 1 : 0;
}

void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4])
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[i & 3];
}
