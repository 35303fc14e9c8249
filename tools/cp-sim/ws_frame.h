/* ws_frame.h: the client side of RFC 6455, as pure functions over byte buffers (no sockets).
 *
 * ws_client_request() writes the upgrade request; ws_parse_response() checks the server's 101
 * answer (status, Sec-WebSocket-Accept, subprotocol); ws_frame_encode() writes one masked frame;
 * ws_frame_decode() reads one frame header from a stream that may stop anywhere (it answers "need
 * more"), so the caller can keep partial frames across reads. ws_accept_key() is shared with the
 * benchmark's echo server. Fragmented messages are reassembled by the caller from FIN/opcode.
 */
#ifndef CPSIM_WS_FRAME_H
#define CPSIM_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA
};

/* base64(SHA-1(key || GUID)) into out (at least 29 bytes), NUL-terminated. */
void ws_accept_key(const char *key, char out[29]);

/* A base64 Sec-WebSocket-Key (24 chars + NUL) from 16 bytes. */
void ws_make_key(const uint8_t nonce[16], char out[25]);

/* Writes the GET upgrade request for ws://host:port/path with the subprotocol and, if auth is
 * not NULL, "Authorization: Basic <auth>" (auth already base64). Returns its length, or -ENOSPC. */
int ws_client_request(char *out, size_t cap, const char *host, int port, const char *path,
                      const char *key, const char *subprotocol, const char *auth_b64);

/* Parses the server's answer in buf[0..len). Returns the header length (bytes consumed, frames
 * may follow) when complete and valid; 0 when the header is not complete yet; -EPROTO when it is
 * not a valid 101 for this key and subprotocol, with the HTTP status in *status (0 if unreadable).
 */
int ws_parse_response(const char *buf, size_t len, const char *key, const char *subprotocol,
                      int *status);

/* Encodes one frame (FIN set, masked with mask) of opcode with payload[0..len) into out.
 * Returns the frame length, or -ENOSPC. */
int ws_frame_encode(uint8_t *out, size_t cap, int opcode, const void *payload, size_t len,
                    uint32_t mask);

typedef struct ws_frame {
    bool fin;
    int opcode;
    bool masked;
    uint8_t mask[4];
    size_t header_len;
    uint64_t payload_len;
} ws_frame_t;

/* Reads one frame header from buf[0..len). Returns 1 when the whole frame (header + payload) is
 * in buf, 0 when more bytes are needed, -EPROTO on a protocol error (reserved bits, unknown
 * opcode, fragmented or oversized control frame, payload over max_payload: -EMSGSIZE). */
int ws_frame_decode(const uint8_t *buf, size_t len, uint64_t max_payload, ws_frame_t *f);

/* XORs data with the 4-byte mask (in place), starting at mask offset 0. */
void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4]);

/* base64 of in[0..len) into out (4*ceil(len/3)+1 bytes), NUL-terminated; returns its length. */
size_t ws_base64(const uint8_t *in, size_t len, char *out);

#endif
