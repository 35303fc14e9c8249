/* edge_path: the charge point's upgrade URL -> its identity. See edge_path.h. */
#include "edge_path.h"

#include <string.h>

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of the prefix of path matched by one of the comma-separated prefixes, or 0. */
static size_t match_prefix(const char *path, size_t len, const char *prefixes)
{
    const char *p = prefixes;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t plen = comma ? (size_t)(comma - p) : strlen(p);
        while (plen > 0 && *p == ' ') {
            p++;
            plen--;
        }
        if (plen > 0 && plen <= len && memcmp(path, p, plen) == 0)
            return plen;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

edge_path_result_t edge_path_parse(const char *path, size_t len, const char *prefixes, bool decode,
                                   char identity[IDENTITY_MAX + 1])
{
    identity[0] = '\0';
    const char *q = memchr(path, '?', len);
    if (q)
        len = (size_t)(q - path);
    size_t start = match_prefix(path, len, prefixes);
    if (start == 0)
        return EDGE_PATH_BAD_PREFIX;

    size_t out = 0;
    for (size_t i = start; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '%' && decode) {
            if (i + 2 >= len)
                return EDGE_PATH_BAD_ENCODING;
            int hi = hex_value((unsigned char)path[i + 1]);
            int lo = hex_value((unsigned char)path[i + 2]);
            if (hi < 0 || lo < 0)
                return EDGE_PATH_BAD_ENCODING;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (!identity_char_ok(c) || out >= IDENTITY_MAX)
            return EDGE_PATH_BAD_IDENTITY;
        identity[out++] = (char)c;
    }
    identity[out] = '\0';
    return out == 0 ? EDGE_PATH_BAD_IDENTITY : EDGE_PATH_OK;
}

const char *edge_path_result_name(edge_path_result_t r)
{
    switch (r) {
    case EDGE_PATH_OK:
        return "ok";
    case EDGE_PATH_BAD_PREFIX:
        return "bad_path";
    case EDGE_PATH_BAD_ENCODING:
        return "bad_encoding";
    case EDGE_PATH_BAD_IDENTITY:
        return "bad_identity";
    }
    return "unknown";
}
