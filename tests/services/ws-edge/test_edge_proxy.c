/* Unit tests for services/ws-edge/edge_proxy (the PROXY protocol v2 header) and edge_addr (the
 * peer address, its text and its per-address key). */
#include "edge_proxy.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "edge_addr.h"

static const uint8_t SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* a header: signature, version/command, family, then body (its length is filled in) */
static size_t header(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t n)
{
    memcpy(out, SIG, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(n >> 8);
    out[15] = (uint8_t)n;
    if (n)
        memcpy(out + 16, body, n);
    return 16 + n;
}

static const uint8_t V4_BODY[12] = {192, 168, 0, 1, 10, 0, 0, 1, 0xDC, 0x04, 0x01, 0xBB};

/* every proper prefix of a valid header asks for more */
static void every_prefix_needs_more(const uint8_t *h, size_t n)
{
    edge_proxy_t px;
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(edge_proxy_parse(h, i, &px), EDGE_PROXY_NEED_MORE);
}

START_TEST(test_proxy_ipv4)
{
    uint8_t h[64];
    size_t n = header(h, 0x21, 0x11, V4_BODY, sizeof(V4_BODY));
    edge_proxy_t px;
    ck_assert_int_eq(edge_proxy_parse(h, n, &px), 28);
    ck_assert_int_eq(px.command, EDGE_PROXY_PROXY);
    ck_assert_int_eq(px.src.family, EDGE_ADDR_V4);
    char text[EDGE_ADDR_TEXT_MAX];
    edge_addr_format(&px.src, text, sizeof(text));
    ck_assert_str_eq(text, "192.168.0.1:56324");
    edge_addr_format(&px.dst, text, sizeof(text));
    ck_assert_str_eq(text, "10.0.0.1:443");
    ck_assert_uint_eq(px.tlv_count, 0);
    every_prefix_needs_more(h, n);
    /* what follows the header (the HTTP request) is not part of it */
    memcpy(h + n, "GET /", 5);
    ck_assert_int_eq(edge_proxy_parse(h, n + 5, &px), 28);
}
END_TEST

START_TEST(test_proxy_ipv6_tlvs_local)
{
    uint8_t body[64] = {0}, h[128];
    body[0] = 0x20; /* 2001:db8::5 -> 2001:db8::1, ports 1234 -> 8080 */
    body[1] = 0x01;
    body[2] = 0x0d;
    body[3] = 0xb8;
    body[15] = 5;
    memcpy(body + 16, body, 16);
    body[31] = 1;
    body[32] = 0x04, body[33] = 0xD2, body[34] = 0x1F, body[35] = 0x90;
    /* TLVs: NOOP (0x04) empty, UNIQUE_ID (0x05) "abc" */
    memcpy(body + 36,
           "\x04\x00\x00\x05\x00\x03"
           "abc",
           9);
    size_t n = header(h, 0x21, 0x21, body, 45);
    edge_proxy_t px;
    ck_assert_int_eq(edge_proxy_parse(h, n, &px), 16 + 45);
    ck_assert_int_eq(px.src.family, EDGE_ADDR_V6);
    ck_assert_uint_eq(px.tlv_count, 2);
    char text[EDGE_ADDR_TEXT_MAX];
    edge_addr_format(&px.src, text, sizeof(text));
    ck_assert_str_eq(text, "[2001:db8::5]:1234");
    every_prefix_needs_more(h, n);

    /* LOCAL: the balancer's own connection; whatever follows is ignored */
    n = header(h, 0x20, 0x00, NULL, 0);
    ck_assert_int_eq(edge_proxy_parse(h, n, &px), 16);
    ck_assert_int_eq(px.command, EDGE_PROXY_LOCAL);
    ck_assert_int_eq(px.src.family, EDGE_ADDR_NONE);
    n = header(h, 0x20, 0x12, V4_BODY, 4); /* LOCAL ignores the family and the block */
    ck_assert_int_eq(edge_proxy_parse(h, n, &px), 20);
    /* PROXY with UNSPEC or a unix socket: valid, no address (the socket's peer is used) */
    n = header(h, 0x21, 0x00, NULL, 0);
    ck_assert_int_eq(edge_proxy_parse(h, n, &px), 16);
    ck_assert_int_eq(px.src.family, EDGE_ADDR_NONE);
    uint8_t unix_body[216] = {0};
    uint8_t big[300];
    n = header(big, 0x21, 0x31, unix_body, sizeof(unix_body));
    ck_assert_int_eq(edge_proxy_parse(big, n, &px), 232);
    ck_assert_int_eq(px.src.family, EDGE_ADDR_NONE);
}
END_TEST

START_TEST(test_proxy_refusals)
{
    uint8_t h[64];
    edge_proxy_t px;
    /* not PROXY v2 at all: refused at the first byte that differs */
    ck_assert_int_eq(edge_proxy_parse((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &px), -EPROTO);
    ck_assert_int_eq(edge_proxy_parse((const uint8_t *)"G", 1, &px), -EPROTO);
    ck_assert_int_eq(edge_proxy_parse((const uint8_t *)"PROXY TCP4 1.2.3.4", 18, &px), -EPROTO);
    ck_assert_int_eq(edge_proxy_parse((const uint8_t *)"\r\n\r\n\0\r\nX", 8, &px), -EPROTO);
    /* version 1 in the binary form, commands 2..15 */
    size_t n = header(h, 0x11, 0x11, V4_BODY, sizeof(V4_BODY));
    ck_assert_int_eq(edge_proxy_parse(h, 13, &px), -EPROTONOSUPPORT);
    n = header(h, 0x22, 0x11, V4_BODY, sizeof(V4_BODY));
    ck_assert_int_eq(edge_proxy_parse(h, n, &px), -EPROTONOSUPPORT);
    /* datagrams and undefined families on a stream listener */
    n = header(h, 0x21, 0x12, V4_BODY, sizeof(V4_BODY));
    ck_assert_int_eq(edge_proxy_parse(h, 14, &px), -EPROTONOSUPPORT);
    n = header(h, 0x21, 0x41, V4_BODY, sizeof(V4_BODY));
    ck_assert_int_eq(edge_proxy_parse(h, n, &px), -EPROTONOSUPPORT);
    /* a length beyond EDGE_PROXY_MAX: refused as soon as it is read, not waited for */
    header(h, 0x21, 0x11, V4_BODY, sizeof(V4_BODY));
    h[14] = 0xFF, h[15] = 0xFF;
    ck_assert_int_eq(edge_proxy_parse(h, 16, &px), -EMSGSIZE);
    /* too short for the family's addresses */
    n = header(h, 0x21, 0x11, V4_BODY, 8);
    ck_assert_int_eq(edge_proxy_parse(h, 16, &px), -EINVAL);
    n = header(h, 0x21, 0x21, V4_BODY, 12);
    ck_assert_int_eq(edge_proxy_parse(h, n, &px), -EINVAL);
    /* TLVs that do not fill the rest exactly */
    uint8_t body[32];
    memcpy(body, V4_BODY, 12);
    memcpy(body + 12, "\x05\x00", 2); /* a TLV header cut short */
    n = header(h, 0x21, 0x11, body, 14);
    ck_assert_int_eq(edge_proxy_parse(h, n, &px), -EINVAL);
    memcpy(body + 12, "\x05\x00\x09xy", 5); /* a value longer than what is left */
    n = header(h, 0x21, 0x11, body, 17);
    ck_assert_int_eq(edge_proxy_parse(h, n, &px), -EINVAL);
    ck_assert_int_eq(px.src.family, EDGE_ADDR_NONE); /* nothing half-filled */
    ck_assert_str_eq(edge_proxy_strerror(-EMSGSIZE), "too_long");
    ck_assert_str_eq(edge_proxy_strerror(-EPROTO), "bad_signature");
}
END_TEST

START_TEST(test_addr_text_and_keys)
{
    edge_addr_t a, b;
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1};
    edge_addr_set(&a, EDGE_ADDR_V6, v6, 80);
    v6[15] = 2;
    edge_addr_set(&b, EDGE_ADDR_V6, v6, 81);
    /* one /64, one key: a host cannot spread over its 2^64 addresses */
    ck_assert_uint_eq(edge_addr_key(&a), edge_addr_key(&b));
    ck_assert(!edge_addr_equal(&a, &b));
    v6[7] = 8;
    edge_addr_set(&b, EDGE_ADDR_V6, v6, 81);
    ck_assert_uint_ne(edge_addr_key(&a), edge_addr_key(&b));
    /* IPv4: the address itself, the port aside; v4-mapped IPv6 is IPv4 */
    edge_addr_t c, d;
    edge_addr_set(&c, EDGE_ADDR_V4, (const uint8_t[]){127, 0, 0, 2}, 1000);
    uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2};
    edge_addr_set(&d, EDGE_ADDR_V6, mapped, 2000);
    ck_assert_int_eq(d.family, EDGE_ADDR_V4);
    ck_assert_uint_eq(edge_addr_key(&c), edge_addr_key(&d));
    ck_assert_uint_eq(edge_addr_key(&c), 0xFFFF7F000002ull);
    char text[EDGE_ADDR_TEXT_MAX];
    edge_addr_format(&d, text, sizeof(text));
    ck_assert_str_eq(text, "127.0.0.2:2000");
    edge_addr_format_host(&a, text, sizeof(text));
    ck_assert_str_eq(text, "2001:db8:0:7::1");
    /* ::1 is in ::/64, key 0 is reserved: key 1; unknown: 2, text empty */
    uint8_t lo[16] = {0};
    lo[15] = 1;
    edge_addr_set(&a, EDGE_ADDR_V6, lo, 1);
    ck_assert_uint_eq(edge_addr_key(&a), 1);
    edge_addr_t none = {0};
    ck_assert_uint_eq(edge_addr_key(&none), 2);
    edge_addr_format(&none, text, sizeof(text));
    ck_assert_str_eq(text, "");
    /* from a socket address */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(8080)};
    inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
    ck_assert_int_eq(edge_addr_from_sockaddr(&a, (struct sockaddr *)&sin), 0);
    edge_addr_format(&a, text, sizeof(text));
    ck_assert_str_eq(text, "10.1.2.3:8080");
    struct sockaddr un = {.sa_family = AF_UNIX};
    ck_assert_int_eq(edge_addr_from_sockaddr(&a, &un), -EAFNOSUPPORT);
    ck_assert_int_eq(a.family, EDGE_ADDR_NONE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_proxy");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_proxy_ipv4);
    tcase_add_test(tc, test_proxy_ipv6_tlvs_local);
    tcase_add_test(tc, test_proxy_refusals);
    tcase_add_test(tc, test_addr_text_and_keys);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
