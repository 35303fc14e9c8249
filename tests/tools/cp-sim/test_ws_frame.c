/* test_ws_frame.c: unit tests of cp-sim's RFC 6455 client codec (tools/cp-sim/ws_frame.c):
 * the accept key of the RFC's example, the upgrade request, the 101 check, frame encoding with
 * masking at all three length forms, and decoding a stream cut at every byte. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"

START_TEST(test_accept_key_rfc_example)
{
    char out[29];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

START_TEST(test_base64_padding)
{
    char out[16];
    ck_assert_uint_eq(ws_base64((const uint8_t *)"a", 1, out), 4);
    ck_assert_str_eq(out, "YQ==");
    ws_base64((const uint8_t *)"ab", 2, out);
    ck_assert_str_eq(out, "YWI=");
    ws_base64((const uint8_t *)"abc", 3, out);
    ck_assert_str_eq(out, "YWJj");
    ws_base64((const uint8_t *)"CP1:pw", 6, out);
    ck_assert_str_eq(out, "Q1AxOnB3");
}
END_TEST

START_TEST(test_client_request)
{
    char req[512];
    int n =
        ws_client_request(req, sizeof(req), "127.0.0.1", 8080, "/ocpp/CP1", "KEY", "ocpp1.6", NULL);
    ck_assert_int_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(req, "GET /ocpp/CP1 HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(req, "Sec-WebSocket-Protocol: ocpp1.6\r\n"));
    ck_assert_ptr_nonnull(strstr(req, "Sec-WebSocket-Version: 13\r\n"));
    ck_assert_ptr_null(strstr(req, "Authorization"));
    ck_assert(strcmp(req + n - 4, "\r\n\r\n") == 0);
    n = ws_client_request(req, sizeof(req), "127.0.0.1", 8080, "/ocpp/CP1", "KEY", "ocpp1.6",
                          "Q1AxOnB3");
    ck_assert_ptr_nonnull(strstr(req, "Authorization: Basic Q1AxOnB3\r\n"));
    ck_assert_int_eq(ws_client_request(req, 20, "h", 1, "/", "K", "p", NULL), -ENOSPC);
}
END_TEST

static const char *key = "dGhlIHNhbXBsZSBub25jZQ==";

START_TEST(test_response_ok_and_partial)
{
    const char *resp =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nsec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "Sec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n\x81\x02[]";
    size_t hl = strlen(resp) - 4;
    int status;
    for (size_t cut = 0; cut < hl; cut++)
        ck_assert_int_eq(ws_parse_response(resp, cut, key, "ocpp2.0.1", &status), 0);
    ck_assert_int_eq(ws_parse_response(resp, strlen(resp), key, "ocpp2.0.1", &status), (int)hl);
    ck_assert_int_eq(status, 101);
}
END_TEST

START_TEST(test_response_refusals)
{
    int status;
    const char *r404 = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    ck_assert_int_eq(ws_parse_response(r404, strlen(r404), key, "ocpp1.6", &status), -EPROTO);
    ck_assert_int_eq(status, 404);
    const char *badkey = "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: AAAA\r\n"
                         "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n";
    ck_assert_int_eq(ws_parse_response(badkey, strlen(badkey), key, "ocpp1.6", &status), -EPROTO);
    ck_assert_int_eq(status, 101);
    const char *noproto =
        "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    ck_assert_int_eq(ws_parse_response(noproto, strlen(noproto), key, "ocpp1.6", &status), -EPROTO);
    const char *other = "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                        "Sec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n";
    ck_assert_int_eq(ws_parse_response(other, strlen(other), key, "ocpp1.6", &status), -EPROTO);
    ck_assert_int_eq(ws_parse_response("garbage\r\n\r\n", 11, key, "ocpp1.6", &status), -EPROTO);
}
END_TEST

/* Encodes, then decodes with every prefix: "need more" until complete, then the payload back. */
static void roundtrip(size_t len)
{
    uint8_t *payload = calloc(1, len + 1);
    uint8_t *frame = malloc(len + 16);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    int n = ws_frame_encode(frame, len + 16, WS_OP_TEXT, payload, len, 0xA1B2C3D4u);
    size_t hdr = len < 126 ? 6 : len <= 0xffff ? 8 : 14;
    ck_assert_int_eq(n, (int)(hdr + len));
    ck_assert_uint_eq(frame[0], 0x81);
    ck_assert(frame[1] & 0x80); /* client frames are masked */
    ws_frame_t f;
    size_t step = len > 1000 ? 997 : 1;
    for (size_t cut = 0; cut < (size_t)n; cut += step)
        ck_assert_int_eq(ws_frame_decode(frame, cut, 1 << 20, &f), 0);
    ck_assert_int_eq(ws_frame_decode(frame, (size_t)n, 1 << 20, &f), 1);
    ck_assert(f.fin);
    ck_assert_int_eq(f.opcode, WS_OP_TEXT);
    ck_assert(f.masked);
    ck_assert_uint_eq(f.payload_len, len);
    ck_assert_uint_eq(f.header_len, hdr);
    ws_unmask(frame + f.header_len, len, f.mask);
    ck_assert(memcmp(frame + f.header_len, payload, len) == 0);
    free(payload);
    free(frame);
}

START_TEST(test_roundtrip_lengths)
{
    roundtrip(0);
    roundtrip(1);
    roundtrip(125);
    roundtrip(126);
    roundtrip(65535);
    roundtrip(65536);
    roundtrip(200000);
}
END_TEST

START_TEST(test_decode_server_frames)
{
    ws_frame_t f;
    const uint8_t text[] = {0x81, 0x03, 'a', 'b', 'c'};
    ck_assert_int_eq(ws_frame_decode(text, sizeof(text), 100, &f), 1);
    ck_assert(!f.masked);
    ck_assert_uint_eq(f.header_len, 2);
    const uint8_t frag[] = {0x01, 0x01, 'a'};
    ck_assert_int_eq(ws_frame_decode(frag, sizeof(frag), 100, &f), 1);
    ck_assert(!f.fin);
    ck_assert_int_eq(f.opcode, WS_OP_TEXT);
    const uint8_t cont[] = {0x80, 0x01, 'b'};
    ck_assert_int_eq(ws_frame_decode(cont, sizeof(cont), 100, &f), 1);
    ck_assert_int_eq(f.opcode, WS_OP_CONT);
    ck_assert(f.fin);
    const uint8_t ping[] = {0x89, 0x00};
    ck_assert_int_eq(ws_frame_decode(ping, sizeof(ping), 100, &f), 1);
    ck_assert_int_eq(f.opcode, WS_OP_PING);
}
END_TEST

START_TEST(test_decode_protocol_errors)
{
    ws_frame_t f;
    const uint8_t rsv[] = {0xC1, 0x00};
    ck_assert_int_eq(ws_frame_decode(rsv, 2, 100, &f), -EPROTO);
    const uint8_t opcode[] = {0x83, 0x00};
    ck_assert_int_eq(ws_frame_decode(opcode, 2, 100, &f), -EPROTO);
    const uint8_t frag_ping[] = {0x09, 0x00};
    ck_assert_int_eq(ws_frame_decode(frag_ping, 2, 100, &f), -EPROTO);
    const uint8_t big_ping[] = {0x89, 126, 0x00, 0x80};
    ck_assert_int_eq(ws_frame_decode(big_ping, 4, 1000, &f), -EPROTO);
    const uint8_t big[] = {0x81, 126, 0x10, 0x00};
    ck_assert_int_eq(ws_frame_decode(big, 4, 1000, &f), -EMSGSIZE);
    const uint8_t huge[] = {0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(ws_frame_decode(huge, 10, 1000, &f), -EPROTO);
}
END_TEST

static Suite *ws_suite(void)
{
    Suite *s = suite_create("cp-sim ws_frame");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_accept_key_rfc_example);
    tcase_add_test(tc, test_base64_padding);
    tcase_add_test(tc, test_client_request);
    tcase_add_test(tc, test_response_ok_and_partial);
    tcase_add_test(tc, test_response_refusals);
    tcase_add_test(tc, test_roundtrip_lengths);
    tcase_add_test(tc, test_decode_server_frames);
    tcase_add_test(tc, test_decode_protocol_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ws_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
