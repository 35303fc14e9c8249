/* edge_proxy: the PROXY protocol version 2 header a load balancer puts before a connection's
 * first byte (HAProxy's proxy-protocol.txt §2.2), so that the edge knows the charge point's
 * address behind a balancer that does not keep source addresses.
 *
 * Pure and incremental: the listener peeks at what the socket holds and calls
 * edge_proxy_parse() until the header is complete (then it consumes exactly that many bytes and
 * hands the socket to libwebsockets, TLS or not) or invalid (the socket is dropped). Untrusted
 * input: every length is checked against what was given and against EDGE_PROXY_MAX, nothing is
 * read past len (fuzz/fuzz_edge_proxy.c). */
#ifndef EDGE_PROXY_H
#define EDGE_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "edge_addr.h"

/* The 16-byte fixed part: 12 signature bytes, version/command, family/transport, length. */
#define EDGE_PROXY_FIXED 16
/* The largest header accepted (fixed part, addresses and TLVs). A balancer sends 28 (IPv4) or
 * 52 (IPv6) bytes plus its TLVs (a few hundred bytes with TLS details); the format allows 64 KiB,
 * which would let a peer make the edge buffer that much before it says anything. */
#define EDGE_PROXY_MAX 1024

typedef enum {
    EDGE_PROXY_LOCAL = 0, /* the balancer's own connection (health check): use the socket's peer */
    EDGE_PROXY_PROXY = 1, /* a relayed connection */
} edge_proxy_command_t;

typedef struct {
    edge_proxy_command_t command;
    /* PROXY over TCP/IPv4 or IPv6: the charge point (src) and what it connected to (dst).
     * family NONE (LOCAL, UNSPEC or a unix socket): use the socket's own peer address. */
    edge_addr_t src, dst;
    size_t tlv_count; /* TLVs after the addresses (checked for structure, otherwise ignored) */
} edge_proxy_t;

/* Results besides a positive header length */
#define EDGE_PROXY_NEED_MORE 0 /* a valid prefix of a header: wait for more bytes */

/* Parses the header at the start of buf[0..len). Returns its total length (> 0) once complete,
 * with *out filled; EDGE_PROXY_NEED_MORE while what was given is a valid beginning; or a
 * negative errno: -EPROTO (not a v2 signature), -EPROTONOSUPPORT (version not 2, unknown command,
 * family or transport, or a datagram transport), -EMSGSIZE (longer than EDGE_PROXY_MAX), -EINVAL
 * (the length is too short for the addresses of the family, or a TLV overruns the header). */
int edge_proxy_parse(const uint8_t *buf, size_t len, edge_proxy_t *out);

/* Short, stable name of a negative result, for logs ("bad_signature", "unsupported", ...). */
const char *edge_proxy_strerror(int rc);

#endif
