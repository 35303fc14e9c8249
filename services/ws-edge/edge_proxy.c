/* edge_proxy: the PROXY protocol v2 header parser. See edge_proxy.h; the format is HAProxy's
 * proxy-protocol.txt §2.2. */
#include "edge_proxy.h"

#include <errno.h>
#include <string.h>

static const uint8_t SIGNATURE[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* The 14th byte: address family (high nibble) and transport (low nibble). */
enum {
    FAM_UNSPEC = 0x00,
    FAM_TCP4 = 0x11,
    FAM_TCP6 = 0x21,
    FAM_UNIX_STREAM = 0x31,
};

/* Bytes of the address block of a family, or -1 for one the edge does not take. */
static int address_bytes(uint8_t fam)
{
    switch (fam) {
    case FAM_UNSPEC:
        return 0;
    case FAM_TCP4:
        return 4 + 4 + 2 + 2;
    case FAM_TCP6:
        return 16 + 16 + 2 + 2;
    case FAM_UNIX_STREAM:
        return 108 + 108;
    default: /* datagrams (0x12, 0x22, 0x32) on a stream listener, or undefined values */
        return -1;
    }
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* TLVs fill the rest of the header exactly: type (1), length (2), value. */
static int check_tlvs(const uint8_t *p, size_t len, size_t *count)
{
    *count = 0;
    while (len > 0) {
        if (len < 3)
            return -EINVAL;
        size_t vlen = be16(p + 1);
        if (vlen > len - 3)
            return -EINVAL;
        p += 3 + vlen;
        len -= 3 + vlen;
        (*count)++;
    }
    return 0;
}

int edge_proxy_parse(const uint8_t *buf, size_t len, edge_proxy_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t sig = len < sizeof(SIGNATURE) ? len : sizeof(SIGNATURE);
    if (memcmp(buf, SIGNATURE, sig) != 0)
        return -EPROTO;
    if (len < 13)
        return EDGE_PROXY_NEED_MORE;
    uint8_t version = buf[12] >> 4, command = buf[12] & 0x0F;
    if (version != 2 || command > EDGE_PROXY_PROXY)
        return -EPROTONOSUPPORT;
    if (len < 14)
        return EDGE_PROXY_NEED_MORE;
    uint8_t fam = buf[13];
    /* LOCAL: "the receiver must accept this connection as valid and must use the real
     * connection endpoints and discard the protocol block including the family" */
    int addr_len = command == EDGE_PROXY_LOCAL ? 0 : address_bytes(fam);
    if (addr_len < 0)
        return -EPROTONOSUPPORT;
    if (len < EDGE_PROXY_FIXED)
        return EDGE_PROXY_NEED_MORE;
    size_t body = be16(buf + 14), total = EDGE_PROXY_FIXED + body;
    if (total > EDGE_PROXY_MAX)
        return -EMSGSIZE;
    if (body < (size_t)addr_len)
        return -EINVAL;
    if (len < total)
        return EDGE_PROXY_NEED_MORE;

    out->command = (edge_proxy_command_t)command;
    if (command == EDGE_PROXY_LOCAL)
        return (int)total;
    const uint8_t *a = buf + EDGE_PROXY_FIXED;
    if (fam == FAM_TCP4) {
        edge_addr_set(&out->src, EDGE_ADDR_V4, a, be16(a + 8));
        edge_addr_set(&out->dst, EDGE_ADDR_V4, a + 4, be16(a + 10));
    } else if (fam == FAM_TCP6) {
        edge_addr_set(&out->src, EDGE_ADDR_V6, a, be16(a + 32));
        edge_addr_set(&out->dst, EDGE_ADDR_V6, a + 16, be16(a + 34));
    } /* UNSPEC and unix sockets: no address the edge can use, the socket's own peer is used */
    int rc = check_tlvs(a + addr_len, body - (size_t)addr_len, &out->tlv_count);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    return (int)total;
}

const char *edge_proxy_strerror(int rc)
{
    switch (rc) {
    case EDGE_PROXY_NEED_MORE:
        return "incomplete";
    case -EPROTO:
        return "bad_signature";
    case -EPROTONOSUPPORT:
        return "unsupported";
    case -EMSGSIZE:
        return "too_long";
    case -EINVAL:
        return "bad_length";
    default:
        return rc > 0 ? "ok" : "invalid";
    }
}
