/* edge_addr: a peer's address as the edge keeps it (20 bytes), its text and its limit key.
 *
 * The address of a charge point comes from accept() or, behind a load balancer, from the PROXY
 * protocol header (edge_proxy.h). It is kept in binary in each connection (CONNECT.peer, logs,
 * the per-address limits), and turned into a key for the per-address tables: an IPv4 address is
 * its own key, an IPv6 address is keyed by its /64 prefix (one host, one subscriber line or one
 * cloud VM gets a whole /64: keying the full 128 bits would give one hostile host 2^64 separate
 * limits). Pure: no sockets. */
#ifndef EDGE_ADDR_H
#define EDGE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

typedef enum {
    EDGE_ADDR_NONE = 0, /* unknown (a unix socket, or nothing was given) */
    EDGE_ADDR_V4 = 4,
    EDGE_ADDR_V6 = 6,
} edge_addr_family_t;

typedef struct {
    uint8_t family; /* edge_addr_family_t */
    uint8_t pad;
    uint16_t port;    /* host order */
    uint8_t addr[16]; /* V4: the first 4 bytes, network order */
} edge_addr_t;

/* "ip:port" (IPv4) or "[ip]:port" (IPv6), "" for NONE; at least EDGE_ADDR_TEXT_MAX bytes. */
#define EDGE_ADDR_TEXT_MAX 48
void edge_addr_format(const edge_addr_t *a, char *out, size_t outlen);

/* The same without the port (the per-address limits' and the logs' view of "who"). */
void edge_addr_format_host(const edge_addr_t *a, char *out, size_t outlen);

/* The key of the per-address tables (never 0): IPv4 0xFFFF<<32 | address (exactly the
 * v4-mapped form's low 48 bits), IPv6 the /64 prefix (::/64 maps to 1), NONE 2. A v4-mapped
 * IPv6 address (::ffff:a.b.c.d) is keyed as its IPv4 address. */
uint64_t edge_addr_key(const edge_addr_t *a);

/* From a sockaddr_in / sockaddr_in6 (v4-mapped IPv6 becomes IPv4): 0, or -EAFNOSUPPORT with *a
 * set to NONE. */
int edge_addr_from_sockaddr(edge_addr_t *a, const struct sockaddr *sa);

/* From the parts of a PROXY header: 4 or 16 address bytes in network order, port in host order. */
void edge_addr_set(edge_addr_t *a, edge_addr_family_t family, const uint8_t *bytes, uint16_t port);

bool edge_addr_equal(const edge_addr_t *a, const edge_addr_t *b);

#endif
