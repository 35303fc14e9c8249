/* fuzz_edge_admission.c: libFuzzer driver for ws-edge's upgrade decision (services/ws-edge/
 * edge_admission.c). The input is a few bytes of facts (request kind, fullness, draining, peer,
 * clock) followed by the path and the offered subprotocols (split at the first 0xFF), each
 * given to the decision in a buffer of exactly its length so that a read past it is caught.
 * Invariants (abort on a violation): every answer is an accept or one of the documented
 * refusals with its status; the checks keep their order (plain HTTP, bad upgrade, full,
 * draining, per-address cap, per-address rate, path, identity, subprotocol); an accepted upgrade
 * has a valid identity that the path ends with and a subprotocol both enabled and offered; the
 * per-address rate never lets an address through more than its burst at one instant. Seeds:
 * fuzz/corpus/edge_admission/. */
#include "edge_admission.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "edge_subprotocol.h"
#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_edge_admission: invariant violated at line %d: %s\n", __LINE__,  \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define BURST 3

static const struct {
    const char *reason;
    unsigned int status;
} REFUSALS[] = {
    {"not_websocket", 404},
    {"bad_upgrade", 400},
    {"max_connections", 503},
    {"draining", 503},
    {"ip_connections", 429},
    {"ip_rate", 429},
    {"bad_path", 404},
    {"bad_encoding", 400},
    {"bad_identity", 400},
    {"no_subprotocol", 400},
    {"unsupported_subprotocol", 400},
};

static int refusal_rank(const edge_admission_t *a)
{
    for (size_t i = 0; i < sizeof(REFUSALS) / sizeof(REFUSALS[0]); i++)
        if (strcmp(a->reason, REFUSALS[i].reason) == 0) {
            CHECK(a->status == REFUSALS[i].status);
            return (int)i;
        }
    CHECK(!"unknown refusal reason");
    return -1;
}

static bool in_list(const char *name, const char *list, size_t list_len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i + n <= list_len; i++)
        if (memcmp(list + i, name, n) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static edge_iprate_t *iprate;
    if (!iprate)
        iprate = edge_iprate_new(16, 1, BURST); /* small: addresses share slots */
    if (size < 4)
        return 0;
    uint8_t facts = data[0], peer = data[1];
    uint32_t now_ms = (uint32_t)data[2] << 16 | (uint32_t)data[3] << 4;
    data += 4;
    size -= 4;
    const uint8_t *cut = memchr(data, 0xFF, size);
    size_t plen = cut ? (size_t)(cut - data) : size;
    size_t olen = cut ? size - plen - 1 : 0;

    /* exact-size copies: no terminating NUL to lean on */
    char *path = malloc(plen ? plen : 1), *offered = malloc(olen ? olen : 1);
    CHECK(path && offered);
    memcpy(path, data, plen);
    if (olen)
        memcpy(offered, cut + 1, olen);
    char peer_text[16];
    snprintf(peer_text, sizeof(peer_text), "10.0.%u.%u", peer >> 4, peer & 15);
    static const char *const upgrades[] = {"websocket", "WebSocket", "h2c", NULL};
    static const char *const enabled[] = {"ocpp2.0.1,ocpp1.6", "ocpp1.6", "ocpp2.1,ocpp2.0.1"};
    edge_upgrade_t req = {
        .upgrade = (facts & 0x03) != 0x03,
        .upgrade_to = upgrades[(facts >> 2) & 3],
        .open_connections = (facts & 0x10) ? 10 : 3,
        .max_connections = 10,
        .draining = (facts & 0x20) != 0,
        .peer = peer_text,
        .peer_key = 0x0a000000u | peer,
        .peer_connections = (peer & 4) ? 4 : 1,
        .max_peer_connections = (peer & 2) ? 4 : 0,
        .path = (facts & 0x40) ? NULL : path,
        .path_len = (facts & 0x40) ? 0 : plen,
        .offered = olen ? offered : NULL,
        .offered_len = olen,
        .path_prefixes = "/ocpp/,/ws/",
        .enabled = enabled[(facts >> 7) + (peer & 1)],
    };

    /* the same request twice at one instant: at most BURST accepted from an address */
    edge_admission_t a;
    unsigned int st = edge_admission_decide(&req, iprate, now_ms, &a);
    CHECK(st == a.status);
    if (st == 0) {
        CHECK(req.upgrade && req.open_connections < req.max_connections && !req.draining);
        CHECK(!req.max_peer_connections || req.peer_connections < req.max_peer_connections);
        size_t idlen = strlen(a.identity);
        CHECK(identity_valid(a.identity, idlen));
        if (!memchr(path, '?', plen)) /* the path ends with the identity (not decoded again) */
            CHECK(idlen <= plen && memcmp(path + plen - idlen, a.identity, idlen) == 0);
        CHECK(a.subprotocol && edge_subprotocol_choose(a.subprotocol, strlen(a.subprotocol),
                                                       req.enabled) == a.subprotocol);
        CHECK(in_list(a.subprotocol, offered, olen));
    } else {
        int rank = refusal_rank(&a);
        CHECK(a.detail != NULL);
        /* an earlier check that fails always wins */
        if (!req.upgrade)
            CHECK(rank == 0);
        else if (!req.upgrade_to || strcasecmp(req.upgrade_to, "websocket") != 0)
            CHECK(rank == 1);
        else if (req.open_connections >= req.max_connections)
            CHECK(rank == 2);
        else if (req.draining)
            CHECK(rank == 3);
        else if (req.max_peer_connections && req.peer_connections >= req.max_peer_connections)
            CHECK(rank == 4);
        else
            CHECK(rank >= 5);
    }
    int accepted = st == 0;
    for (int i = 0; i < BURST + 2; i++)
        if (edge_admission_decide(&req, iprate, now_ms, &a) == 0)
            accepted++;
    CHECK(accepted <= BURST);
    free(path);
    free(offered);
    return 0;
}
