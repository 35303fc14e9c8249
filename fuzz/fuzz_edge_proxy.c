/* fuzz_edge_proxy.c: libFuzzer driver for ws-edge's PROXY protocol v2 parser (services/ws-edge/
 * edge_proxy.c), what a client (or anyone reaching the port) sends before anything else when
 * proxy_protocol is v2. The input is the bytes the socket holds, given in a buffer of exactly that
 * length (a read past it is caught) and as every prefix, as the listener peeks at a header that
 * arrives in pieces.
 * Invariants (abort on a violation): a complete header is 16 bytes plus the length it declares,
 * at most EDGE_PROXY_MAX and never more than what was given; every shorter prefix of a complete
 * header asks for more, every longer one gives the same header; once a prefix is invalid every
 * longer one is invalid too (the listener may drop the socket at once); a prefix that asks for
 * more is never longer than EDGE_PROXY_MAX; a PROXY header over TCP yields a source address of
 * its family, LOCAL and the others none; nothing is half filled on a refusal.
 * Seeds: fuzz/corpus/edge_proxy/ (LOCAL, PROXY over IPv4 and IPv6 with and without TLVs, unix,
 * UNSPEC, truncated, hostile lengths, v1 text, HTTP). */
#include "edge_proxy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_edge_proxy: invariant violated at line %d: %s\n", __LINE__,      \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int parse_exact(const uint8_t *data, size_t n, edge_proxy_t *out)
{
    uint8_t *copy = malloc(n ? n : 1);
    CHECK(copy != NULL);
    if (n)
        memcpy(copy, data, n);
    int rc = edge_proxy_parse(copy, n, out);
    free(copy);
    return rc;
}

static bool zeroed(const edge_proxy_t *px)
{
    static const edge_proxy_t zero;
    return memcmp(px, &zero, sizeof(zero)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * EDGE_PROXY_MAX)
        return 0;
    edge_proxy_t full;
    int rc = parse_exact(data, size, &full);
    CHECK(edge_proxy_strerror(rc) != NULL);
    if (rc > 0) {
        CHECK((size_t)rc <= size && rc >= EDGE_PROXY_FIXED && rc <= EDGE_PROXY_MAX);
        CHECK((size_t)rc == EDGE_PROXY_FIXED + ((size_t)data[14] << 8 | data[15]));
        uint8_t cmd = data[12] & 0x0F, fam = data[13];
        CHECK(full.command == (edge_proxy_command_t)cmd);
        if (cmd == EDGE_PROXY_PROXY && fam == 0x11)
            CHECK(full.src.family == EDGE_ADDR_V4 && full.dst.family == EDGE_ADDR_V4);
        else if (cmd == EDGE_PROXY_PROXY && fam == 0x21)
            CHECK(full.src.family != EDGE_ADDR_NONE && full.dst.family != EDGE_ADDR_NONE);
        else
            CHECK(full.src.family == EDGE_ADDR_NONE);
        if (cmd == EDGE_PROXY_LOCAL) /* the block is discarded, TLVs included */
            CHECK(full.tlv_count == 0);
        char text[EDGE_ADDR_TEXT_MAX];
        edge_addr_format(&full.src, text, sizeof(text));
        CHECK(strlen(text) < sizeof(text));
    } else {
        CHECK(zeroed(&full));
    }
    if (rc == EDGE_PROXY_NEED_MORE)
        CHECK(size < EDGE_PROXY_MAX);

    /* the same bytes arriving in pieces: every prefix agrees with the whole */
    bool invalid_seen = false;
    for (size_t n = 0; n <= size; n++) {
        edge_proxy_t px;
        int r = parse_exact(data, n, &px);
        if (invalid_seen)
            CHECK(r < 0);
        invalid_seen = r < 0;
        if (rc > 0 && n < (size_t)rc)
            CHECK(r == EDGE_PROXY_NEED_MORE);
        else if (rc > 0)
            CHECK(r == rc && memcmp(&px, &full, sizeof(px)) == 0);
        else if (rc == EDGE_PROXY_NEED_MORE)
            CHECK(r == EDGE_PROXY_NEED_MORE);
        if (r == EDGE_PROXY_NEED_MORE)
            CHECK(n < EDGE_PROXY_MAX);
    }
    CHECK(!(rc < 0) || invalid_seen);
    return 0;
}
