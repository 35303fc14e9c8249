/* fuzz_edge_basic.c: libFuzzer driver for the Basic Authorization header and strict base64 of
 * ws-edge (services/ws-edge/edge_basic.c, edge_base64.c): everything a client sends in
 * `Authorization:` before it is authenticated. The input is the header's value, given in a
 * buffer of exactly its length so that a read past it is caught.
 * Invariants (abort on a violation): an accepted header yields a username of 1..USER_MAX bytes
 * without ':' and a password of 1..PASSWORD_MAX bytes, neither with a control character, both
 * NUL-terminated, and "Basic " + base64(user ":" password) parses back to the same; a refused one
 * leaves nothing behind; base64 that decodes re-encodes to exactly the same text (strict: one
 * text per byte string).
 * Seeds: fuzz/corpus/edge_basic/. */
#include "edge_base64.h"
#include "edge_basic.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NAME "fuzz_edge_basic"
#include "edge_fuzz.h"

static bool clean(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return false;
    return s[n] == '\0';
}

static void check_base64(const uint8_t *data, size_t size)
{
    uint8_t out[512];
    int n = edge_base64_decode((const char *)data, size, out, sizeof(out));
    if (n < 0)
        return;
    CHECK((size_t)n <= size / 4 * 3);
    unsigned char again[700];
    int m = EVP_EncodeBlock(again, out, n);
    CHECK((size_t)m == size && memcmp(again, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = malloc(size ? size : 1); /* exactly the header's bytes */
    if (!value)
        return 0;
    if (size)
        memcpy(value, data, size);
    edge_basic_t b;
    edge_basic_result_t r = edge_basic_parse(value, size, &b);
    if (r == EDGE_BASIC_OK) {
        CHECK(b.user_len >= 1 && b.user_len <= EDGE_BASIC_USER_MAX);
        CHECK(b.password_len >= 1 && b.password_len <= EDGE_BASIC_PASSWORD_MAX);
        CHECK(!memchr(b.user, ':', b.user_len));
        CHECK(clean(b.user, b.user_len) && clean(b.password, b.password_len));
        /* the round trip */
        char text[EDGE_BASIC_USER_MAX + EDGE_BASIC_PASSWORD_MAX + 2];
        int tn = snprintf(text, sizeof(text), "%s:%s", b.user, b.password);
        unsigned char enc[400];
        char header[420];
        int en = EVP_EncodeBlock(enc, (const unsigned char *)text, tn);
        int hn = snprintf(header, sizeof(header), "Basic %.*s", en, (const char *)enc);
        edge_basic_t again;
        CHECK(edge_basic_parse(header, (size_t)hn, &again) == EDGE_BASIC_OK);
        CHECK(again.user_len == b.user_len && memcmp(again.user, b.user, b.user_len) == 0);
        CHECK(again.password_len == b.password_len &&
              memcmp(again.password, b.password, b.password_len) == 0);
        edge_basic_wipe(&again);
    } else {
        CHECK(r == EDGE_BASIC_NONE || r == EDGE_BASIC_NOT_BASIC || r == EDGE_BASIC_MALFORMED ||
              r == EDGE_BASIC_TOO_LONG);
        CHECK(b.user_len == 0 && b.password_len == 0 && b.user[0] == '\0' && b.password[0] == '\0');
        CHECK(strcmp(edge_basic_result_name(r), "unknown") != 0);
    }
    edge_basic_wipe(&b);
    check_base64(data, size);
    free(value);
    return 0;
}
