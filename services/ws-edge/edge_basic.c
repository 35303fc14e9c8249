/* edge_basic: the Basic Authorization header. See edge_basic.h. */
#include "edge_basic.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "edge_base64.h"

/* "Basic" then at least one space, case-insensitive (RFC 7235 auth-scheme) */
#define SCHEME     "basic"
#define SCHEME_LEN 5

/* user ":" password, in base64: 4 characters per 3 bytes */
#define DECODED_MAX (EDGE_BASIC_USER_MAX + 1 + EDGE_BASIC_PASSWORD_MAX)

static bool has_control(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7F)
            return true;
    return false;
}

edge_basic_result_t edge_basic_parse(const char *value, size_t len, edge_basic_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!value)
        return EDGE_BASIC_NONE;
    if (len < SCHEME_LEN || strncasecmp(value, SCHEME, SCHEME_LEN) != 0 ||
        (len > SCHEME_LEN && value[SCHEME_LEN] != ' '))
        return EDGE_BASIC_NOT_BASIC;
    size_t i = SCHEME_LEN;
    while (i < len && value[i] == ' ')
        i++;
    size_t end = len;
    while (end > i && value[end - 1] == ' ') /* trailing spaces are not part of the token */
        end--;
    if (end - i > (DECODED_MAX + 2) / 3 * 4)
        return EDGE_BASIC_TOO_LONG;
    uint8_t decoded[DECODED_MAX];
    int n = edge_base64_decode(value + i, end - i, decoded, sizeof(decoded));
    if (n == -ENOSPC)
        return EDGE_BASIC_TOO_LONG;
    if (n <= 0)
        return EDGE_BASIC_MALFORMED;
    edge_basic_result_t rc = EDGE_BASIC_MALFORMED;
    const uint8_t *colon = memchr(decoded, ':', (size_t)n);
    if (!colon)
        goto out_wipe;
    size_t ulen = (size_t)(colon - decoded), plen = (size_t)n - ulen - 1;
    if (ulen == 0 || plen == 0 || has_control(decoded, (size_t)n))
        goto out_wipe;
    if (ulen > EDGE_BASIC_USER_MAX || plen > EDGE_BASIC_PASSWORD_MAX) {
        rc = EDGE_BASIC_TOO_LONG;
        goto out_wipe;
    }
    memcpy(out->user, decoded, ulen);
    out->user_len = ulen;
    memcpy(out->password, colon + 1, plen);
    out->password_len = plen;
    rc = EDGE_BASIC_OK;
out_wipe:
    OPENSSL_cleanse(decoded, sizeof(decoded));
    return rc;
}

void edge_basic_wipe(edge_basic_t *b)
{
    OPENSSL_cleanse(b, sizeof(*b));
}

const char *edge_basic_result_name(edge_basic_result_t r)
{
    switch (r) {
    case EDGE_BASIC_OK:
        return "ok";
    case EDGE_BASIC_NONE:
        return "none";
    case EDGE_BASIC_NOT_BASIC:
        return "not_basic";
    case EDGE_BASIC_MALFORMED:
        return "malformed";
    case EDGE_BASIC_TOO_LONG:
        return "too_long";
    }
    return "unknown";
}
