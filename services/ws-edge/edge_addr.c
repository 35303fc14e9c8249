/* edge_addr: a peer's address, its text and its limit key. See edge_addr.h. */
#include "edge_addr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static const uint8_t V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void edge_addr_set(edge_addr_t *a, edge_addr_family_t family, const uint8_t *bytes, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    if (family == EDGE_ADDR_V6 && memcmp(bytes, V4_MAPPED, sizeof(V4_MAPPED)) == 0) {
        family = EDGE_ADDR_V4; /* a dual-stack socket's IPv4 peer is one IPv4 peer */
        bytes += sizeof(V4_MAPPED);
    }
    if (family != EDGE_ADDR_V4 && family != EDGE_ADDR_V6)
        return;
    a->family = (uint8_t)family;
    a->port = port;
    memcpy(a->addr, bytes, family == EDGE_ADDR_V4 ? 4 : 16);
}

int edge_addr_from_sockaddr(edge_addr_t *a, const struct sockaddr *sa)
{
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        edge_addr_set(a, EDGE_ADDR_V4, (const uint8_t *)&in->sin_addr, ntohs(in->sin_port));
        return 0;
    }
    if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        edge_addr_set(a, EDGE_ADDR_V6, in6->sin6_addr.s6_addr, ntohs(in6->sin6_port));
        return 0;
    }
    memset(a, 0, sizeof(*a));
    return -EAFNOSUPPORT;
}

void edge_addr_format_host(const edge_addr_t *a, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "";
    if (outlen == 0)
        return;
    if (a->family == EDGE_ADDR_V4)
        inet_ntop(AF_INET, a->addr, host, sizeof(host));
    else if (a->family == EDGE_ADDR_V6)
        inet_ntop(AF_INET6, a->addr, host, sizeof(host));
    snprintf(out, outlen, "%s", host);
}

void edge_addr_format(const edge_addr_t *a, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];
    if (outlen == 0)
        return;
    edge_addr_format_host(a, host, sizeof(host));
    if (a->family == EDGE_ADDR_V4)
        snprintf(out, outlen, "%s:%u", host, a->port);
    else if (a->family == EDGE_ADDR_V6)
        snprintf(out, outlen, "[%s]:%u", host, a->port);
    else
        out[0] = '\0';
}

uint64_t edge_addr_key(const edge_addr_t *a)
{
    uint64_t k = 0;
    if (a->family == EDGE_ADDR_V4) {
        for (int i = 0; i < 4; i++)
            k = k << 8 | a->addr[i];
        return 0xFFFFull << 32 | k;
    }
    if (a->family != EDGE_ADDR_V6)
        return 2;
    for (int i = 0; i < 8; i++)
        k = k << 8 | a->addr[i];
    /* ::/64 (loopback ::1 and the like) would be key 0, which is reserved; it becomes 1 */
    return k ? k : 1;
}

bool edge_addr_equal(const edge_addr_t *a, const edge_addr_t *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}
