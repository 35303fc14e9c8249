/* Unit tests for common/envelope (generated from proto/envelope.json): round trips of every
 * message type, the wire format itself, and rejection of truncated, foreign and hostile input.
 *
 * With ENVELOPE_SEED_DIR set, the test also writes one valid encoding per message type there
 * (<name>.msgpack): that is how fuzz/corpus/common_envelope/ was made. */
#include "envelope.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Test values. Three variants: typical values, empty/zero values, and extreme ones (longest
 * integers, strings and binary needing 16- and 32-bit lengths, ENVELOPE_MAX_HEADERS headers).
 * Every field of a message gets a different value, so a decoder that mixes up two fields fails. */
enum {
    VARIANTS = 3,
    BIG = 70000
};

typedef struct {
    env_str_t s[8];
    env_bin_t b;
    uint64_t u64[4];
    uint32_t u32[2];
    int32_t i32;
    bool flag;
    env_headers_t headers;
} values_t;

static char big_str[BIG];
static uint8_t big_bin[BIG];
static char header_text[ENVELOPE_MAX_HEADERS][2][300];

static void make_values(int variant, values_t *v)
{
    static const uint8_t small_bin[] = {'[', 2, 0, '"', 0, 0xff, 0x80, ']'}; /* with NUL bytes */
    static const char *typical[8] = {"edge-0",         "ipc:///run/gw/edge-0.sock",
                                     "CP-007",         "ocpp1.6",
                                     "10.1.2.3:50412", "gateway-pod-a",
                                     "héllo ✓",        "ocpp-events-up"};

    memset(v, 0, sizeof(*v));
    if (variant == 0) {
        for (int i = 0; i < 8; i++)
            v->s[i] = env_str(typical[i]);
        v->b = (env_bin_t){small_bin, sizeof(small_bin)};
        v->u64[0] = 42;
        v->u64[1] = 1732400000123456ULL;
        v->u64[2] = 7;
        v->u64[3] = 300;
        v->u32[0] = 1000;
        v->u32[1] = 2;
        v->i32 = -17;
        v->flag = true;
        v->headers.count = 2;
        v->headers.items[0] = (env_header_t){env_str("ce_type"), env_str("device.connected")};
        v->headers.items[1] = (env_header_t){env_str("ce_id"), env_str("")};
    } else if (variant == 1) {
        for (int i = 0; i < 8; i++)
            v->s[i] = env_str("");
        v->b = (env_bin_t){NULL, 0};
        /* all integers zero, flag false, no headers */
    } else {
        for (size_t i = 0; i < BIG; i++) {
            big_str[i] = (char)('a' + i % 26);
            big_bin[i] = (uint8_t)(i * 7);
        }
        big_str[5] = '\0'; /* a str may hold NUL */
        for (int i = 0; i < 8; i++)
            v->s[i] =
                (env_str_t){big_str + i, (size_t[]){BIG - 8, 31, 32, 255, 256, 65535, 65536, 1}[i]};
        v->b = (env_bin_t){big_bin, BIG};
        v->u64[0] = UINT64_MAX;
        v->u64[1] = UINT64_MAX - 1;
        v->u64[2] = (uint64_t)UINT32_MAX + 1;
        v->u64[3] = 1ULL << 63;
        v->u32[0] = UINT32_MAX;
        v->u32[1] = UINT32_MAX - 1;
        v->i32 = INT32_MIN;
        v->flag = true;
        v->headers.count = ENVELOPE_MAX_HEADERS;
        for (int i = 0; i < ENVELOPE_MAX_HEADERS; i++) {
            memset(header_text[i][0], 'n', sizeof(header_text[i][0]));
            memset(header_text[i][1], 'v', sizeof(header_text[i][1]));
            header_text[i][0][0] = (char)('A' + i);
            header_text[i][1][0] = (char)('A' + i);
            v->headers.items[i].name = (env_str_t){header_text[i][0], 1 + (size_t)i};
            v->headers.items[i].value = (env_str_t){header_text[i][1], 300 - (size_t)i};
        }
    }
}

static void fill(envelope_type_t type, const values_t *v, envelope_t *e)
{
    memset(e, 0, sizeof(*e));
    e->type = type;
    switch (type) {
    case ENV_HELLO:
        e->u.hello = (env_hello_t){.edge_id = v->s[0], .endpoint = v->s[1], .instance = v->u64[2]};
        break;
    case ENV_CONNECT:
        e->u.connect = (env_connect_t){.edge_id = v->s[0],
                                       .conn_id = v->u64[0],
                                       .identity = v->s[1],
                                       .subprotocol = v->s[2],
                                       .peer = v->s[3],
                                       .security_profile = v->u32[0],
                                       .at_us = v->u64[1],
                                       .resumed = v->flag,
                                       .boot_state = v->s[4],
                                       .auth = v->s[5]};
        break;
    case ENV_FRAME:
        e->u.frame = (env_frame_t){.edge_id = v->s[0],
                                   .conn_id = v->u64[0],
                                   .data = v->b,
                                   .at_us = v->u64[1],
                                   .identity = v->s[1],
                                   .subprotocol = v->s[2],
                                   .boot_state = v->s[3],
                                   .auth = v->s[4]};
        break;
    case ENV_DISCONNECT:
        e->u.disconnect = (env_disconnect_t){
            .edge_id = v->s[0], .conn_id = v->u64[0], .code = v->u32[0], .reason = v->s[1]};
        break;
    case ENV_SEND:
        e->u.send = (env_send_t){.conn_id = v->u64[0], .data = v->b};
        break;
    case ENV_CLOSE:
        e->u.close = (env_close_t){.conn_id = v->u64[0], .code = v->u32[0], .reason = v->s[0]};
        break;
    case ENV_EVENT:
        e->u.event = (env_event_t){.core_id = v->u32[0],
                                   .token = v->u64[0],
                                   .topic = v->s[0],
                                   .key = v->s[1],
                                   .headers = v->headers,
                                   .value = v->b};
        break;
    case ENV_EVENT_ACK:
        e->u.event_ack = (env_event_ack_t){.token = v->u64[0], .status = v->i32, .error = v->s[0]};
        break;
    case ENV_RESULT:
        e->u.result = (env_result_t){.core_id = v->u32[0],
                                     .token = v->u64[0],
                                     .command_id = v->s[0],
                                     .status = v->s[1],
                                     .value = v->b,
                                     .traceparent = v->s[2]};
        break;
    case ENV_COMMAND:
        e->u.command = (env_command_t){.token = v->u64[0],
                                       .identity = v->s[0],
                                       .command_id = v->s[1],
                                       .record = v->b,
                                       .traceparent = v->s[2],
                                       .expires_at_ms = v->u64[1]};
        break;
    case ENV_REGISTER:
        e->u.register_ = (env_register_t){.core_id = v->u32[0],
                                          .identity = v->s[0],
                                          .conn_id = v->u64[0],
                                          .edge_id = v->s[1],
                                          .ocpp_version = v->s[2],
                                          .boot_state = v->s[3],
                                          .since_us = v->u64[1],
                                          .epoch = v->u64[2],
                                          .authenticated = v->flag};
        break;
    case ENV_REGISTERED:
        e->u.registered = (env_registered_t){.identity = v->s[0],
                                             .conn_id = v->u64[0],
                                             .epoch = v->u64[1],
                                             .status = v->i32,
                                             .previous_pod = v->s[1],
                                             .boot_state = v->s[2]};
        break;
    case ENV_UNREGISTER:
        e->u.unregister = (env_unregister_t){
            .core_id = v->u32[1], .identity = v->s[0], .conn_id = v->u64[0], .epoch = v->u64[1]};
        break;
    case ENV_SUPERSEDED:
        e->u.superseded = (env_superseded_t){
            .identity = v->s[0], .conn_id = v->u64[0], .epoch = v->u64[1], .by_pod = v->s[1]};
        break;
    case ENV_LOOKUP:
        e->u.lookup = (env_lookup_t){.request_id = v->u64[0], .identity = v->s[0]};
        break;
    case ENV_OWNER:
        e->u.owner = (env_owner_t){.request_id = v->u64[0],
                                   .identity = v->s[0],
                                   .pod = v->s[1],
                                   .epoch = v->u64[1],
                                   .live = v->flag,
                                   .status = v->i32};
        break;
    case ENV_DEDUP:
        e->u.dedup =
            (env_dedup_t){.request_id = v->u64[0], .command_id = v->s[0], .ttl_ms = v->u64[1]};
        break;
    case ENV_DEDUP_RESULT:
        e->u.dedup_result = (env_dedup_result_t){
            .request_id = v->u64[0], .command_id = v->s[0], .first = v->flag, .status = v->i32};
        break;
    case ENV_TAKEOVER:
        e->u.takeover = (env_takeover_t){.pod = v->s[0], .epoch = v->u64[0], .active = v->flag};
        break;
    case ENV_TAKEOVER_DONE:
        e->u.takeover_done = (env_takeover_done_t){.pod = v->s[0], .epoch = v->u64[0]};
        break;
    case ENV_REGISTRY_BUSY:
        e->u.registry_busy = (env_registry_busy_t){
            .busy = v->flag, .queued = v->u32[0], .limit = v->u32[1], .redis_up = !v->flag};
        break;
    case ENV_ANNOUNCE:
        e->u.announce =
            (env_announce_t){.stage = v->s[0], .index = v->u32[0], .instance = v->u64[0]};
        break;
    case ENV_CONN_STATE:
        e->u.conn_state = (env_conn_state_t){.conn_id = v->u64[0], .boot_state = v->s[0]};
        break;
    case ENV_CRED:
        e->u.cred = (env_cred_t){.identity = v->s[0], .record = v->b, .generation = v->u64[0]};
        break;
    case ENV_CRED_SYNC:
        e->u.cred_sync =
            (env_cred_sync_t){.generation = v->u64[0], .count = v->u64[1], .done = v->flag};
        break;
    case ENV_CRED_USED:
        e->u.cred_used = (env_cred_used_t){.identity = v->s[0], .fingerprint = v->s[1]};
        break;
    case ENV_TAG_LOOKUP:
        e->u.tag_lookup =
            (env_tag_lookup_t){.request_id = v->u64[0], .core_id = v->u32[0], .id_tag = v->s[0]};
        break;
    case ENV_TAG_INFO:
        e->u.tag_info = (env_tag_info_t){.request_id = v->u64[0],
                                         .id_tag = v->s[0],
                                         .found = v->flag,
                                         .status = v->s[1],
                                         .expires_at_ms = v->u64[1],
                                         .error = v->i32};
        break;
    case ENV_TXID_BLOCK:
        e->u.txid_block =
            (env_txid_block_t){.request_id = v->u64[0], .core_id = v->u32[0], .count = v->u32[1]};
        break;
    case ENV_TXID_RANGE:
        e->u.txid_range = (env_txid_range_t){
            .request_id = v->u64[0], .first = v->u64[1], .count = v->u32[0], .error = v->i32};
        break;
    case ENV_TXID_CLAIM:
        e->u.txid_claim = (env_txid_claim_t){.request_id = v->u64[0],
                                             .core_id = v->u32[0],
                                             .key = v->s[0],
                                             .candidate = v->u64[1],
                                             .ttl_ms = v->u64[2]};
        break;
    case ENV_TXID_CLAIMED:
        e->u.txid_claimed = (env_txid_claimed_t){
            .request_id = v->u64[0], .id = v->u64[1], .first = v->flag, .error = v->i32};
        break;
    default:
        ck_abort_msg("no fixture for type %d", (int)type);
    }
}

static bool same_str(env_str_t a, env_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool same_bin(env_bin_t a, env_bin_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool same_headers(const env_headers_t *a, const env_headers_t *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (!same_str(a->items[i].name, b->items[i].name) ||
            !same_str(a->items[i].value, b->items[i].value))
            return false;
    return true;
}

#define EQ_STR(f) ck_assert_msg(same_str(a->u.f, b->u.f), "field " #f " differs")
#define EQ_BIN(f) ck_assert_msg(same_bin(a->u.f, b->u.f), "field " #f " differs")
#define EQ_INT(f) ck_assert_msg(a->u.f == b->u.f, "field " #f " differs")

/* Field by field, by name: the decoder must put each value in its own member. */
static void assert_same(const envelope_t *a, const envelope_t *b)
{
    ck_assert_int_eq(a->type, b->type);
    switch (a->type) {
    case ENV_HELLO:
        EQ_STR(hello.edge_id);
        EQ_STR(hello.endpoint);
        EQ_INT(hello.instance);
        break;
    case ENV_CONNECT:
        EQ_STR(connect.edge_id);
        EQ_INT(connect.conn_id);
        EQ_STR(connect.identity);
        EQ_STR(connect.subprotocol);
        EQ_STR(connect.peer);
        EQ_INT(connect.security_profile);
        EQ_INT(connect.at_us);
        EQ_INT(connect.resumed);
        EQ_STR(connect.boot_state);
        EQ_STR(connect.auth);
        break;
    case ENV_FRAME:
        EQ_STR(frame.edge_id);
        EQ_INT(frame.conn_id);
        EQ_BIN(frame.data);
        EQ_INT(frame.at_us);
        EQ_STR(frame.identity);
        EQ_STR(frame.subprotocol);
        EQ_STR(frame.boot_state);
        EQ_STR(frame.auth);
        break;
    case ENV_DISCONNECT:
        EQ_STR(disconnect.edge_id);
        EQ_INT(disconnect.conn_id);
        EQ_INT(disconnect.code);
        EQ_STR(disconnect.reason);
        break;
    case ENV_SEND:
        EQ_INT(send.conn_id);
        EQ_BIN(send.data);
        break;
    case ENV_CLOSE:
        EQ_INT(close.conn_id);
        EQ_INT(close.code);
        EQ_STR(close.reason);
        break;
    case ENV_EVENT:
        EQ_INT(event.core_id);
        EQ_INT(event.token);
        EQ_STR(event.topic);
        EQ_STR(event.key);
        ck_assert(same_headers(&a->u.event.headers, &b->u.event.headers));
        EQ_BIN(event.value);
        break;
    case ENV_EVENT_ACK:
        EQ_INT(event_ack.token);
        EQ_INT(event_ack.status);
        EQ_STR(event_ack.error);
        break;
    case ENV_RESULT:
        EQ_INT(result.core_id);
        EQ_INT(result.token);
        EQ_STR(result.command_id);
        EQ_STR(result.status);
        EQ_BIN(result.value);
        EQ_STR(result.traceparent);
        break;
    case ENV_COMMAND:
        EQ_INT(command.token);
        EQ_STR(command.identity);
        EQ_STR(command.command_id);
        EQ_BIN(command.record);
        EQ_STR(command.traceparent);
        EQ_INT(command.expires_at_ms);
        break;
    case ENV_REGISTER:
        EQ_INT(register_.core_id);
        EQ_STR(register_.identity);
        EQ_INT(register_.conn_id);
        EQ_STR(register_.edge_id);
        EQ_STR(register_.ocpp_version);
        EQ_STR(register_.boot_state);
        EQ_INT(register_.since_us);
        EQ_INT(register_.epoch);
        EQ_INT(register_.authenticated);
        break;
    case ENV_REGISTERED:
        EQ_STR(registered.identity);
        EQ_INT(registered.conn_id);
        EQ_INT(registered.epoch);
        EQ_INT(registered.status);
        EQ_STR(registered.previous_pod);
        EQ_STR(registered.boot_state);
        break;
    case ENV_UNREGISTER:
        EQ_INT(unregister.core_id);
        EQ_STR(unregister.identity);
        EQ_INT(unregister.conn_id);
        EQ_INT(unregister.epoch);
        break;
    case ENV_SUPERSEDED:
        EQ_STR(superseded.identity);
        EQ_INT(superseded.conn_id);
        EQ_INT(superseded.epoch);
        EQ_STR(superseded.by_pod);
        break;
    case ENV_LOOKUP:
        EQ_INT(lookup.request_id);
        EQ_STR(lookup.identity);
        break;
    case ENV_OWNER:
        EQ_INT(owner.request_id);
        EQ_STR(owner.identity);
        EQ_STR(owner.pod);
        EQ_INT(owner.epoch);
        EQ_INT(owner.live);
        EQ_INT(owner.status);
        break;
    case ENV_DEDUP:
        EQ_INT(dedup.request_id);
        EQ_STR(dedup.command_id);
        EQ_INT(dedup.ttl_ms);
        break;
    case ENV_DEDUP_RESULT:
        EQ_INT(dedup_result.request_id);
        EQ_STR(dedup_result.command_id);
        EQ_INT(dedup_result.first);
        EQ_INT(dedup_result.status);
        break;
    case ENV_TAKEOVER:
        EQ_STR(takeover.pod);
        EQ_INT(takeover.epoch);
        EQ_INT(takeover.active);
        break;
    case ENV_TAKEOVER_DONE:
        EQ_STR(takeover_done.pod);
        EQ_INT(takeover_done.epoch);
        break;
    case ENV_REGISTRY_BUSY:
        EQ_INT(registry_busy.busy);
        EQ_INT(registry_busy.queued);
        EQ_INT(registry_busy.limit);
        EQ_INT(registry_busy.redis_up);
        break;
    case ENV_ANNOUNCE:
        EQ_STR(announce.stage);
        EQ_INT(announce.index);
        EQ_INT(announce.instance);
        break;
    case ENV_CONN_STATE:
        EQ_INT(conn_state.conn_id);
        EQ_STR(conn_state.boot_state);
        break;
    case ENV_CRED:
        EQ_STR(cred.identity);
        EQ_BIN(cred.record);
        EQ_INT(cred.generation);
        break;
    case ENV_CRED_SYNC:
        EQ_INT(cred_sync.generation);
        EQ_INT(cred_sync.count);
        EQ_INT(cred_sync.done);
        break;
    case ENV_CRED_USED:
        EQ_STR(cred_used.identity);
        EQ_STR(cred_used.fingerprint);
        break;
    case ENV_TAG_LOOKUP:
        EQ_INT(tag_lookup.request_id);
        EQ_INT(tag_lookup.core_id);
        EQ_STR(tag_lookup.id_tag);
        break;
    case ENV_TAG_INFO:
        EQ_INT(tag_info.request_id);
        EQ_STR(tag_info.id_tag);
        EQ_INT(tag_info.found);
        EQ_STR(tag_info.status);
        EQ_INT(tag_info.expires_at_ms);
        EQ_INT(tag_info.error);
        break;
    case ENV_TXID_BLOCK:
        EQ_INT(txid_block.request_id);
        EQ_INT(txid_block.core_id);
        EQ_INT(txid_block.count);
        break;
    case ENV_TXID_RANGE:
        EQ_INT(txid_range.request_id);
        EQ_INT(txid_range.first);
        EQ_INT(txid_range.count);
        EQ_INT(txid_range.error);
        break;
    case ENV_TXID_CLAIM:
        EQ_INT(txid_claim.request_id);
        EQ_INT(txid_claim.core_id);
        EQ_STR(txid_claim.key);
        EQ_INT(txid_claim.candidate);
        EQ_INT(txid_claim.ttl_ms);
        break;
    case ENV_TXID_CLAIMED:
        EQ_INT(txid_claimed.request_id);
        EQ_INT(txid_claimed.id);
        EQ_INT(txid_claimed.first);
        EQ_INT(txid_claimed.error);
        break;
    default:
        ck_abort_msg("unexpected type %d", (int)a->type);
    }
}

/* Decodes from an exact-size heap copy, so that ASan sees any read past the end. The copy is
 * freed on return: only the return code and the integer fields of env are usable. */
static int decode_copy(const void *data, size_t len, envelope_t *env)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    int rc;

    ck_assert_ptr_nonnull(copy);
    if (len > 0)
        memcpy(copy, data, len);
    rc = envelope_decode(len > 0 ? copy : NULL, len, env);
    free(copy);
    return rc;
}

static void encode_fixture(envelope_type_t type, int variant, envelope_t *e, msgpack_sbuffer *buf)
{
    values_t v;

    make_values(variant, &v);
    fill(type, &v, e);
    msgpack_sbuffer_init(buf);
    ck_assert_int_eq(envelope_encode(e, buf), 0);
}

/* ---------------------------------------------------------------------------------------------
 * round trips */

/* Message ids are reserved in ranges per stage (proto/envelope.json), so 1..ENVELOPE_TYPE_MAX
 * has gaps. */
static bool type_defined(envelope_type_t type)
{
    return strcmp(envelope_type_name(type), "unknown") != 0;
}

START_TEST(test_round_trip_every_type)
{
    int variant = _i % VARIANTS;
    envelope_type_t type = (envelope_type_t)(1 + _i / VARIANTS);
    envelope_t in, out;
    msgpack_sbuffer buf;

    if (!type_defined(type))
        return; /* an id reserved for another stage, no message yet */

    encode_fixture(type, variant, &in, &buf);
    ck_assert_int_eq(envelope_decode((const uint8_t *)buf.data, buf.size, &out), 0);
    assert_same(&in, &out);
    /* zero copy: the views point into the buffer */
    if (type == ENV_HELLO && variant == 0) {
        ck_assert(out.u.hello.edge_id.ptr > buf.data);
        ck_assert(out.u.hello.endpoint.ptr < buf.data + buf.size);
    }
    ck_assert_str_eq(envelope_type_name(type), envelope_type_name(out.type));
    msgpack_sbuffer_destroy(&buf);

    char *seeds = getenv("ENVELOPE_SEED_DIR");
    if (seeds != NULL && variant == 0) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.msgpack", seeds, envelope_type_name(type));
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        encode_fixture(type, variant, &in, &buf);
        ck_assert_uint_eq(fwrite(buf.data, 1, buf.size, f), buf.size);
        fclose(f);
        msgpack_sbuffer_destroy(&buf);
    }
}
END_TEST

START_TEST(test_encode_appends)
{
    envelope_t a, b, out;
    msgpack_sbuffer buf;
    values_t v;
    size_t first;

    encode_fixture(ENV_CONNECT, 0, &a, &buf);
    first = buf.size;
    make_values(1, &v);
    fill(ENV_OWNER, &v, &b);
    ck_assert_int_eq(envelope_encode(&b, &buf), 0);
    ck_assert_uint_gt(buf.size, first);
    /* one message per buffer: both together are "bytes after the array" */
    ck_assert_int_eq(envelope_decode((const uint8_t *)buf.data, buf.size, &out), -EPROTO);
    ck_assert_int_eq(envelope_decode((const uint8_t *)buf.data, first, &out), 0);
    assert_same(&a, &out);
    ck_assert_int_eq(envelope_decode((const uint8_t *)buf.data + first, buf.size - first, &out), 0);
    assert_same(&b, &out);
    msgpack_sbuffer_destroy(&buf);
}
END_TEST

/* The wire format itself, byte for byte, as other languages would write it. */
START_TEST(test_golden_bytes)
{
    /* hello with its optional instance 5; written always with every field */
    static const uint8_t hello[] = {0x95, 0x01, 0x01, 0xa2, 'e', '1', 0xa7, 'i',
                                    'p',  'c',  ':',  '/',  '/', 'x', 0x05};
    static const uint8_t event[] = {0x98, 0x01, 0x07, 0x03, 0x00, 0xa1, 't',  0xa1, 'k',
                                    0x91, 0x92, 0xa1, 'a',  0xa1, 'b',  0xc4, 0x01, 'v'};
    static const uint8_t owner[] = {0x98, 0x01, 0x10, 0xcd, 0x01, 0x00, 0xa2,
                                    'C',  'P',  0xa0, 0x05, 0xc2, 0xf5};
    envelope_t e;
    msgpack_sbuffer buf;

    ck_assert_int_eq(envelope_decode(hello, sizeof(hello), &e), 0);
    ck_assert_int_eq(e.type, ENV_HELLO);
    ck_assert(env_str_eq(e.u.hello.edge_id, "e1"));
    ck_assert(env_str_eq(e.u.hello.endpoint, "ipc://x"));
    ck_assert_uint_eq(e.u.hello.instance, 5);
    msgpack_sbuffer_init(&buf);
    ck_assert_int_eq(envelope_encode(&e, &buf), 0);
    ck_assert_uint_eq(buf.size, sizeof(hello));
    ck_assert_mem_eq(buf.data, hello, sizeof(hello));

    ck_assert_int_eq(envelope_decode(event, sizeof(event), &e), 0);
    ck_assert_int_eq(e.type, ENV_EVENT);
    ck_assert_uint_eq(e.u.event.core_id, 3);
    ck_assert_uint_eq(e.u.event.token, 0);
    ck_assert(env_str_eq(e.u.event.topic, "t"));
    ck_assert(env_str_eq(e.u.event.key, "k"));
    ck_assert_uint_eq(e.u.event.headers.count, 1);
    ck_assert(env_str_eq(e.u.event.headers.items[0].name, "a"));
    ck_assert(env_str_eq(e.u.event.headers.items[0].value, "b"));
    ck_assert_uint_eq(e.u.event.value.len, 1);
    ck_assert_int_eq(e.u.event.value.ptr[0], 'v');
    msgpack_sbuffer_clear(&buf);
    ck_assert_int_eq(envelope_encode(&e, &buf), 0);
    ck_assert_mem_eq(buf.data, event, sizeof(event));

    ck_assert_int_eq(envelope_decode(owner, sizeof(owner), &e), 0);
    ck_assert_int_eq(e.type, ENV_OWNER);
    ck_assert_uint_eq(e.u.owner.request_id, 256);
    ck_assert(env_str_eq(e.u.owner.identity, "CP"));
    ck_assert_uint_eq(e.u.owner.pod.len, 0);
    ck_assert_uint_eq(e.u.owner.epoch, 5);
    ck_assert(!e.u.owner.live);
    ck_assert_int_eq(e.u.owner.status, -11);
    msgpack_sbuffer_clear(&buf);
    ck_assert_int_eq(envelope_encode(&e, &buf), 0);
    ck_assert_mem_eq(buf.data, owner, sizeof(owner));
    msgpack_sbuffer_destroy(&buf);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * hostile and foreign input */

START_TEST(test_every_truncation_rejected)
{
    int variant = _i % VARIANTS;
    envelope_type_t type = (envelope_type_t)(1 + _i / VARIANTS);
    envelope_t in, out;
    msgpack_sbuffer buf;

    if (!type_defined(type))
        return; /* an id reserved for another stage, no message yet */

    encode_fixture(type, variant, &in, &buf);
    for (size_t n = 0; n < buf.size; n++) {
        /* the big variant: every length near the start, the end and each 251st in between */
        if (variant == 2 && n > 4096 && n + 4096 < buf.size && n % 251 != 0)
            continue;
        ck_assert_msg(decode_copy(buf.data, n, &out) == -EPROTO, "%s cut to %zu of %zu",
                      envelope_type_name(type), n, buf.size);
        ck_assert_int_eq(out.type, 0); /* zeroed on error */
    }
    msgpack_sbuffer_destroy(&buf);
}
END_TEST

/* Random byte flips of valid encodings: never a crash; what decodes re-encodes to itself. */
START_TEST(test_mutations_are_safe)
{
    envelope_type_t type = (envelope_type_t)(1 + _i);
    envelope_t in, out, again;
    msgpack_sbuffer buf, re;
    unsigned seed = 1234u + (unsigned)_i;

    if (!type_defined(type))
        return; /* an id reserved for another stage, no message yet */

    encode_fixture(type, 0, &in, &buf);
    msgpack_sbuffer_init(&re);
    for (int iter = 0; iter < 3000; iter++) {
        uint8_t *m = malloc(buf.size);
        ck_assert_ptr_nonnull(m);
        memcpy(m, buf.data, buf.size);
        for (int k = 0; k < 1 + iter % 3; k++)
            m[rand_r(&seed) % buf.size] = (uint8_t)rand_r(&seed);
        size_t len = buf.size - (size_t)(iter % 5 == 0 ? rand_r(&seed) % buf.size : 0);
        if (envelope_decode(m, len, &out) == 0) {
            msgpack_sbuffer_clear(&re);
            ck_assert_int_eq(envelope_encode(&out, &re), 0);
            ck_assert_int_eq(envelope_decode((const uint8_t *)re.data, re.size, &again), 0);
            assert_same(&out, &again);
        }
        free(m);
    }
    msgpack_sbuffer_destroy(&re);
    msgpack_sbuffer_destroy(&buf);
}
END_TEST

static int decode_bytes(const uint8_t *data, size_t len)
{
    envelope_t e;

    return decode_copy(data, len, &e);
}

#define DECODE(...)                                                                                \
    decode_bytes((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

START_TEST(test_foreign_msgpack_rejected)
{
    envelope_t e;

    ck_assert_int_eq(envelope_decode(NULL, 0, &e), -EPROTO);
    ck_assert_int_eq(DECODE(0xc0), -EPROTO);                         /* nil */
    ck_assert_int_eq(DECODE(0x05), -EPROTO);                         /* an integer */
    ck_assert_int_eq(DECODE(0xa3, 'a', 'b', 'c'), -EPROTO);          /* a string */
    ck_assert_int_eq(DECODE(0x81, 0xa1, 'a', 0x01), -EPROTO);        /* a map */
    ck_assert_int_eq(DECODE(0x82, 0x01, 0x01, 0x02, 0x02), -EPROTO); /* map of ints */
    ck_assert_int_eq(DECODE(0x90), -EPROTO);                         /* [] */
    ck_assert_int_eq(DECODE(0x91, 0x01), -EPROTO);                   /* [1] */
    ck_assert_int_eq(DECODE(0x92, 0xa1, '1', 0x01), -EPROTO);        /* version as a string */
    ck_assert_int_eq(DECODE(0x92, 0x01, 0xa1, '1'), -EPROTO);        /* type as a string */
    ck_assert_int_eq(DECODE(0x93, 0x01, 0x01, 0xa1), -EPROTO);       /* hello: missing field */
    ck_assert_int_eq(DECODE(0xc1), -EPROTO);                         /* never-used byte */
    /* hostile counts: 2^32-1 elements announced in 5 bytes are refused without allocating */
    ck_assert_int_eq(DECODE(0xdd, 0xff, 0xff, 0xff, 0xff), -EPROTO);
    ck_assert_int_eq(DECODE(0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0xa0, 0xa0), -EPROTO);
    ck_assert_int_eq(DECODE(0x95, 0x01, 0x01, 0xa0, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff), -EPROTO);
    ck_assert_int_eq(DECODE(0x95, 0x01, 0x01, 0xa0, 0xa0, 0xdf, 0xff, 0xff, 0xff, 0xff), -EPROTO);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff, 'x', 0xa0), -EPROTO);
    /* deep nesting in a skipped field: no recursion, so no stack to exhaust */
    {
        uint8_t deep[6 + 100000];
        memcpy(deep, (uint8_t[]){0x96, 0x01, 0x01, 0xa0, 0xa0, 0x00}, 6);
        memset(deep + 6, 0x91, sizeof(deep) - 7);
        deep[sizeof(deep) - 1] = 0xc0;
        ck_assert_int_eq(decode_bytes(deep, sizeof(deep)), 0);
        ck_assert_int_eq(decode_bytes(deep, sizeof(deep) - 1), -EPROTO);
    }
}
END_TEST

START_TEST(test_field_types_enforced)
{
    envelope_t e;

    /* hello with an integer or bin where a str belongs */
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x01, 0x01, 0xa0), -EPROTO);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x01, 0xc4, 0x01, 'e', 0xa0), -EPROTO);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x01, 0xc0, 0xa0), -EPROTO);
    /* send: conn_id as a str; data as str is accepted (encoders without the bin type) */
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x05, 0xa1, '1', 0xc4, 0x00), -EPROTO);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x05, 0x01, 0xa2, 'h', 'i'), 0);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x05, 0x01, 0xc5, 0x00, 0x01, 'x'), 0);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x05, 0x01, 0x01), -EPROTO);
    /* u64: any non-negative integer encoding, but no negative value and no float */
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x05, 0xd3, 0, 0, 0, 0, 0, 0, 0, 5, 0xa0), 0);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x05, 0xff, 0xa0), -EPROTO);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x05, 0xd0, 0x80, 0xa0), -EPROTO);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x05, 0xca, 0, 0, 0, 0, 0xa0), -EPROTO);
    /* close: code is u32: 2^32 - 1 fits, 2^32 and -1 do not */
    ck_assert_int_eq(DECODE(0x95, 0x01, 0x06, 0x01, 0xce, 0xff, 0xff, 0xff, 0xff, 0xa0), 0);
    ck_assert_int_eq(DECODE(0x95, 0x01, 0x06, 0x01, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0), -EPROTO);
    ck_assert_int_eq(DECODE(0x95, 0x01, 0x06, 0x01, 0xff, 0xa0), -EPROTO);
    /* event_ack: status is i32, either sign, in range */
    ck_assert_int_eq(
        decode_copy((const uint8_t[]){0x95, 0x01, 0x08, 0x01, 0xd0, 0xfb, 0xa0}, 7, &e), 0);
    ck_assert_int_eq(e.u.event_ack.status, -5);
    ck_assert_int_eq(
        decode_copy((const uint8_t[]){0x95, 0x01, 0x08, 0x01, 0xd2, 0x80, 0, 0, 0, 0xa0}, 10, &e),
        0);
    ck_assert_int_eq(e.u.event_ack.status, INT32_MIN);
    ck_assert_int_eq(
        decode_copy((const uint8_t[]){0x95, 0x01, 0x08, 0x01, 0xce, 0x7f, 0xff, 0xff, 0xff, 0xa0},
                    10, &e),
        0);
    ck_assert_int_eq(e.u.event_ack.status, INT32_MAX);
    ck_assert_int_eq(DECODE(0x95, 0x01, 0x08, 0x01, 0xce, 0x80, 0, 0, 0, 0xa0), -EPROTO);
    ck_assert_int_eq(
        DECODE(0x95, 0x01, 0x08, 0x01, 0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xa0),
        -EPROTO); /* -2^31 - 1 */
    ck_assert_int_eq(decode_copy((const uint8_t[]){0x95, 0x01, 0x08, 0x01, 0xd3, 0xff, 0xff, 0xff,
                                                   0xff, 0x80, 0, 0, 0, 0xa0},
                                 14, &e),
                     0);
    ck_assert_int_eq(e.u.event_ack.status, INT32_MIN);
    /* owner: live is bool, not 0/1 */
    ck_assert_int_eq(DECODE(0x98, 0x01, 0x10, 0x01, 0xa0, 0xa0, 0x01, 0xc3, 0x00), 0);
    ck_assert_int_eq(DECODE(0x98, 0x01, 0x10, 0x01, 0xa0, 0xa0, 0x01, 0x01, 0x00), -EPROTO);
    ck_assert_int_eq(DECODE(0x98, 0x01, 0x10, 0x01, 0xa0, 0xa0, 0x01, 0xc0, 0x00), -EPROTO);
}
END_TEST

/* An EVENT with n headers, hand-packed so that the encoder's own limit does not interfere. */
static void pack_event_with_headers(msgpack_sbuffer *buf, uint32_t n, uint32_t pair_len)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(buf);
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 8);
    msgpack_pack_uint32(&pk, ENVELOPE_VERSION);
    msgpack_pack_uint32(&pk, ENV_EVENT);
    msgpack_pack_uint32(&pk, 0);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(&pk, pair_len);
        for (uint32_t j = 0; j < pair_len; j++)
            msgpack_pack_str_with_body(&pk, "h", 1);
    }
    msgpack_pack_bin_with_body(&pk, "v", 1);
}

START_TEST(test_headers_limits)
{
    msgpack_sbuffer buf;
    envelope_t e;

    pack_event_with_headers(&buf, ENVELOPE_MAX_HEADERS, 2);
    ck_assert_int_eq(envelope_decode((const uint8_t *)buf.data, buf.size, &e), 0);
    ck_assert_uint_eq(e.u.event.headers.count, ENVELOPE_MAX_HEADERS);
    msgpack_sbuffer_destroy(&buf);

    pack_event_with_headers(&buf, ENVELOPE_MAX_HEADERS + 1, 2);
    ck_assert_int_eq(envelope_decode((const uint8_t *)buf.data, buf.size, &e), -EPROTO);
    msgpack_sbuffer_destroy(&buf);

    pack_event_with_headers(&buf, 1, 3); /* not a pair */
    ck_assert_int_eq(envelope_decode((const uint8_t *)buf.data, buf.size, &e), -EPROTO);
    msgpack_sbuffer_destroy(&buf);

    pack_event_with_headers(&buf, 1, 1);
    ck_assert_int_eq(envelope_decode((const uint8_t *)buf.data, buf.size, &e), -EPROTO);
    msgpack_sbuffer_destroy(&buf);

    ck_assert_int_eq(DECODE(0x98, 0x01, 0x07, 0x00, 0x00, 0xa0, 0xa0, 0xc0, 0xc4, 0x00),
                     -EPROTO); /* headers nil */
}
END_TEST

START_TEST(test_version_and_type)
{
    ck_assert_int_eq(DECODE(0x94, 0x02, 0x01, 0xa0, 0xa0), -EPROTONOSUPPORT);
    ck_assert_int_eq(DECODE(0x94, 0x00, 0x01, 0xa0, 0xa0), -EPROTONOSUPPORT);
    ck_assert_int_eq(DECODE(0x94, 0xff, 0x01, 0xa0, 0xa0), -EPROTONOSUPPORT); /* -1 */
    ck_assert_int_eq(DECODE(0x92, 0xcd, 0x01, 0x00, 0x7f), -EPROTONOSUPPORT);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x00, 0xa0, 0xa0), -ENOMSG);
    ck_assert_int_eq(DECODE(0x94, 0x01, ENVELOPE_TYPE_MAX + 1, 0xa0, 0xa0), -ENOMSG);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0xff, 0xa0, 0xa0), -ENOMSG);
    ck_assert_int_eq(DECODE(0x92, 0x01, 0xce, 0x00, 0x01, 0x00, 0x01), -ENOMSG);
    ck_assert_int_eq(DECODE(0x92, 0x01, 0xcf, 1, 0, 0, 0, 0, 0, 0, 1), -ENOMSG);
    /* the same bytes with a known type id are fine */
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x01, 0xa0, 0xa0), 0);
}
END_TEST

START_TEST(test_trailing_fields_and_bytes)
{
    envelope_t e;

    /* hello (with its optional instance) + three fields of a newer writer: an int, a map
     * holding an array, a bin */
    static const uint8_t newer[] = {0x98, 0x01, 0x01, 0xa1, 'e',  0xa1, 'x',  0x07, 0x2a, 0x81,
                                    0xa1, 'k',  0x93, 0x01, 0xc0, 0xc3, 0xc4, 0x01, 0x00};
    ck_assert_int_eq(decode_copy(newer, sizeof(newer), &e), 0);
    ck_assert_int_eq(envelope_decode(newer, sizeof(newer), &e), 0); /* views into newer */
    ck_assert_int_eq(e.type, ENV_HELLO);
    ck_assert(env_str_eq(e.u.hello.edge_id, "e"));
    ck_assert(env_str_eq(e.u.hello.endpoint, "x"));
    ck_assert_uint_eq(e.u.hello.instance, 7);
    /* an older writer without the optional instance: it reads as 0 */
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x01, 0xa0, 0xa0), 0);
    /* the optional field, when present, must have its type */
    ck_assert_int_eq(DECODE(0x95, 0x01, 0x01, 0xa0, 0xa0, 0xa1, 'x'), -EPROTO);
    /* an unknown field that is itself malformed or cut */
    ck_assert_int_eq(decode_copy(newer, sizeof(newer) - 1, &e), -EPROTO);
    ck_assert_int_eq(DECODE(0x96, 0x01, 0x01, 0xa0, 0xa0, 0x00, 0xc1), -EPROTO);
    ck_assert_int_eq(DECODE(0x96, 0x01, 0x01, 0xa0, 0xa0, 0x00, 0xc7, 0x02, 0x01, 0xaa), -EPROTO);
    ck_assert_int_eq(DECODE(0x96, 0x01, 0x01, 0xa0, 0xa0, 0x00, 0xc7, 0x01, 0x01, 0xaa), 0);
    ck_assert_int_eq(DECODE(0x96, 0x01, 0x01, 0xa0, 0xa0, 0x00, 0xd8, 0x01, 1, 2, 3, 4, 5, 6, 7, 8,
                            9, 10, 11, 12, 13, 14, 15, 16),
                     0);
    ck_assert_int_eq(DECODE(0x96, 0x01, 0x01, 0xa0, 0xa0, 0x00, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0), 0);
    /* bytes after the array */
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x01, 0xa0, 0xa0, 0xc0), -EPROTO);
    ck_assert_int_eq(DECODE(0x94, 0x01, 0x01, 0xa0, 0xa0, 0x94, 0x01, 0x01, 0xa0, 0xa0), -EPROTO);
}
END_TEST

START_TEST(test_encode_errors_leave_buffer)
{
    msgpack_sbuffer buf;
    envelope_t e;
    values_t v;

    msgpack_sbuffer_init(&buf);
    msgpack_sbuffer_write(&buf, "abc", 3);
    make_values(0, &v);

    fill(ENV_EVENT, &v, &e);
    e.u.event.headers.count = ENVELOPE_MAX_HEADERS + 1;
    ck_assert_int_eq(envelope_encode(&e, &buf), -EINVAL);
    ck_assert_uint_eq(buf.size, 3);

    fill(ENV_HELLO, &v, &e);
    e.u.hello.endpoint = (env_str_t){NULL, 3};
    ck_assert_int_eq(envelope_encode(&e, &buf), -EINVAL);
    ck_assert_uint_eq(buf.size, 3);

    e.type = (envelope_type_t)0;
    ck_assert_int_eq(envelope_encode(&e, &buf), -EINVAL);
    e.type = (envelope_type_t)(ENVELOPE_TYPE_MAX + 1);
    ck_assert_int_eq(envelope_encode(&e, &buf), -EINVAL);
    ck_assert_int_eq(envelope_encode(NULL, &buf), -EINVAL);
    ck_assert_int_eq(envelope_encode(&e, NULL), -EINVAL);
    ck_assert_uint_eq(buf.size, 3);
    ck_assert_int_eq(envelope_decode(NULL, 5, &e), -EINVAL);
    ck_assert_int_eq(envelope_decode((const uint8_t *)"x", 1, NULL), -EINVAL);

    /* an empty view may have a NULL pointer */
    fill(ENV_HELLO, &v, &e);
    e.u.hello.endpoint = env_str(NULL);
    ck_assert_int_eq(envelope_encode(&e, &buf), 0);
    ck_assert_uint_gt(buf.size, 3);
    msgpack_sbuffer_destroy(&buf);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * names and string helpers */

START_TEST(test_names)
{
    static const char *names[] = {
        [1] = "hello",       [2] = "connect",       [3] = "frame",         [4] = "disconnect",
        [5] = "send",        [6] = "close",         [7] = "event",         [8] = "event_ack",
        [9] = "result",      [10] = "command",      [11] = "register",     [12] = "registered",
        [13] = "unregister", [14] = "superseded",   [15] = "lookup",       [16] = "owner",
        [17] = "dedup",      [18] = "dedup_result", [19] = "takeover",     [20] = "takeover_done",
        [21] = "announce",   [22] = "conn_state",   [23] = "cred",         [24] = "cred_sync",
        [25] = "cred_used",  [26] = "tag_lookup",   [27] = "tag_info",     [28] = "txid_block",
        [29] = "txid_range", [30] = "txid_claim",   [31] = "txid_claimed", [32] = "registry_busy"};

    ck_assert_int_eq(ENVELOPE_TYPE_MAX, (int)(sizeof(names) / sizeof(names[0])) - 1);
    for (int t = 1; t <= ENVELOPE_TYPE_MAX; t++)
        ck_assert_str_eq(envelope_type_name((envelope_type_t)t), names[t] ? names[t] : "unknown");
    ck_assert_str_eq(envelope_type_name((envelope_type_t)0), "unknown");
    ck_assert_str_eq(envelope_type_name((envelope_type_t)(ENVELOPE_TYPE_MAX + 1)), "unknown");
    ck_assert_str_eq(envelope_strerror(-EPROTO), "malformed");
    ck_assert_str_eq(envelope_strerror(-EPROTONOSUPPORT), "version mismatch");
    ck_assert_str_eq(envelope_strerror(-ENOMSG), "unknown type");
    ck_assert_str_eq(envelope_strerror(0), "ok");
    ck_assert_str_eq(envelope_strerror(-EINVAL), "invalid argument");
    ck_assert_str_eq(envelope_strerror(-12345), "error");
}
END_TEST

START_TEST(test_str_helpers)
{
    env_str_t s = env_str("CP-007");
    env_str_t with_nul = {"ab\0cd", 5};
    env_str_t none = env_str(NULL);
    char out[4];
    char *dup;

    ck_assert_uint_eq(s.len, 6);
    ck_assert_ptr_null(none.ptr);
    ck_assert_uint_eq(none.len, 0);
    ck_assert(env_str_eq(s, "CP-007"));
    ck_assert(!env_str_eq(s, "CP-00"));
    ck_assert(!env_str_eq(s, "CP-0077"));
    ck_assert(!env_str_eq(s, NULL));
    ck_assert(env_str_eq(none, ""));
    ck_assert(env_str_eq(none, NULL));
    ck_assert(env_str_eq((env_str_t){"xyz", 0}, ""));
    ck_assert(!env_str_eq(with_nul, "ab"));

    dup = env_str_dup(with_nul);
    ck_assert_ptr_nonnull(dup);
    ck_assert_mem_eq(dup, "ab\0cd", 6);
    free(dup);
    dup = env_str_dup(none);
    ck_assert_str_eq(dup, "");
    free(dup);

    ck_assert_uint_eq(env_str_copy(s, out, sizeof(out)), 6);
    ck_assert_str_eq(out, "CP-");
    ck_assert_uint_eq(env_str_copy(env_str("ab"), out, sizeof(out)), 2);
    ck_assert_str_eq(out, "ab");
    ck_assert_uint_eq(env_str_copy(env_str("abc"), out, sizeof(out)), 3);
    ck_assert_str_eq(out, "abc");
    ck_assert_uint_eq(env_str_copy(none, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    out[0] = 'z';
    ck_assert_uint_eq(env_str_copy(s, out, 0), 6);
    ck_assert_int_eq(out[0], 'z');
}
END_TEST

static Suite *envelope_suite(void)
{
    Suite *s = suite_create("envelope");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_round_trip_every_type, 0, ENVELOPE_TYPE_MAX * VARIANTS);
    tcase_add_test(tc, test_encode_appends);
    tcase_add_test(tc, test_golden_bytes);
    tcase_add_loop_test(tc, test_every_truncation_rejected, 0, ENVELOPE_TYPE_MAX * VARIANTS);
    tcase_add_loop_test(tc, test_mutations_are_safe, 0, ENVELOPE_TYPE_MAX);
    tcase_add_test(tc, test_foreign_msgpack_rejected);
    tcase_add_test(tc, test_field_types_enforced);
    tcase_add_test(tc, test_headers_limits);
    tcase_add_test(tc, test_version_and_type);
    tcase_add_test(tc, test_trailing_fields_and_bytes);
    tcase_add_test(tc, test_encode_errors_leave_buffer);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_str_helpers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(envelope_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
