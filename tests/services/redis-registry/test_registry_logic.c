/* Unit tests for services/redis-registry/registry_logic: the superseded notification parser, the
 * takeover state machine, the backpressure hysteresis and the device.disconnected event; plus
 * the Sentinel address list of registry_config and the key names of registry_keys. */
#include "registry_config.h"
#include "registry_keys.h"
#include "registry_logic.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *s, registry_superseded_t *m)
{
    return registry_superseded_parse(s, strlen(s), m);
}

START_TEST(test_superseded_parse)
{
    registry_superseded_t m;
    ck_assert_int_eq(parse("1795490527808 11 pod-b CP1", &m), 0);
    ck_assert_uint_eq(m.epoch, 1795490527808u);
    ck_assert_uint_eq(m.conn_id, 11);
    ck_assert_str_eq(m.by_pod, "pod-b");
    ck_assert_str_eq(m.identity, "CP1");
    /* a pod id with a space: everything between the second and the last space */
    ck_assert_int_eq(parse("5 0 pod b CP-2", &m), 0);
    ck_assert_str_eq(m.by_pod, "pod b");
    ck_assert_str_eq(m.identity, "CP-2");
    ck_assert_uint_eq(m.conn_id, 0);
}
END_TEST

START_TEST(test_superseded_parse_rejects)
{
    registry_superseded_t m;
    const char *bad[] = {"",
                         "5",
                         "5 1",
                         "5 1 pod",                        /* no identity */
                         "5 1  CP1",                       /* empty pod */
                         "0 1 pod CP1",                    /* epoch 0 is never handed out */
                         "x 1 pod CP1",                    /* not a number */
                         "5 -1 pod CP1",                   /* negative */
                         "5 1 pod CP1 ",                   /* empty identity */
                         "99999999999999999999 1 pod CP1", /* overflows u64 */
                         "5 1 pod 0123456789012345678901234567890123456789012345678"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse(bad[i], &m) == -EINVAL, "accepted '%s'", bad[i]);
    /* an embedded NUL is refused, not truncated */
    ck_assert_int_eq(registry_superseded_parse("5 1 pod C\0P", 11, &m), -EINVAL);
    /* the longest identity (48) fits */
    ck_assert_int_eq(parse("5 1 pod 012345678901234567890123456789012345678901234567", &m), 0);
}
END_TEST

START_TEST(test_takeover_step)
{
    uint64_t held = 0, stop = 0;
    /* nothing held, someone else holds it or the pod is alive: nothing to say */
    ck_assert_int_eq(registry_takeover_step(&held, "other", 0, &stop), 0);
    ck_assert_int_eq(registry_takeover_step(&held, "alive", 0, &stop), 0);
    /* won: start */
    ck_assert_int_eq(registry_takeover_step(&held, "won", 7, &stop), REGISTRY_TAKEOVER_START);
    ck_assert_uint_eq(held, 7);
    /* refreshed: nothing new */
    ck_assert_int_eq(registry_takeover_step(&held, "held", 7, &stop), 0);
    /* the pod came back: stop epoch 7 */
    ck_assert_int_eq(registry_takeover_step(&held, "alive", 7, &stop), REGISTRY_TAKEOVER_STOP);
    ck_assert_uint_eq(stop, 7);
    ck_assert_uint_eq(held, 0);
    /* won again later with a new epoch, then lost to another pod (our claim expired) */
    ck_assert_int_eq(registry_takeover_step(&held, "won", 9, &stop), REGISTRY_TAKEOVER_START);
    ck_assert_int_eq(registry_takeover_step(&held, "other", 0, &stop), REGISTRY_TAKEOVER_STOP);
    ck_assert_uint_eq(stop, 9);
    /* held under a different epoch than we knew: stop the old, start the new */
    held = 3;
    ck_assert_int_eq(registry_takeover_step(&held, "held", 4, &stop),
                     REGISTRY_TAKEOVER_STOP | REGISTRY_TAKEOVER_START);
    ck_assert_uint_eq(stop, 3);
    ck_assert_uint_eq(held, 4);
    /* an unknown state or a zero epoch is never taken as ours */
    ck_assert_int_eq(registry_takeover_step(&held, "garbage", 4, &stop), REGISTRY_TAKEOVER_STOP);
    ck_assert_int_eq(registry_takeover_step(&held, "won", 0, &stop), 0);
    ck_assert_uint_eq(held, 0);
}
END_TEST

START_TEST(test_busy_hysteresis)
{
    bool busy = false;
    ck_assert(!registry_busy_update(&busy, 99, 100));
    ck_assert(registry_busy_update(&busy, 100, 100));
    ck_assert(busy);
    ck_assert(!registry_busy_update(&busy, 60, 100)); /* still above half */
    ck_assert(!registry_busy_update(&busy, 50, 100));
    ck_assert(registry_busy_update(&busy, 49, 100));
    ck_assert(!busy);
    ck_assert(!registry_busy_update(&busy, 0, 100));
}
END_TEST

#define EXPECTED_ID "103f86e25ee7316ff3ebcd4553c48e1c"

/* With UNIFIED_EVENTS_OUT set, every event made here is appended to that file, one per line:
 * tests/integration/test_unified_contract.sh validates them against the published schemas. */
static void dump_event(const char *ev)
{
    const char *path = getenv("UNIFIED_EVENTS_OUT");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f) {
        fprintf(f, "%s\n", ev);
        fclose(f);
    }
}

START_TEST(test_event_disconnected)
{
    /* 2026-11-24T03:00:00.123Z */
    char *ev = registry_event_disconnected("CP-7", "pod-a", "pod-b", 42, 1795489200123456u);
    ck_assert_ptr_nonnull(ev);
    dump_event(ev);
    /* the id: SHA-256 of "device.disconnected\nCP-7\nswept\n42", first 16 bytes in hex
     * (python3 -c 'import hashlib; print(hashlib.sha256(b"device.disconnected\nCP-7\nswept\n42")
     * .hexdigest()[:32])') */
    ck_assert_str_eq(ev, "{\"specversion\":\"1.0\",\"id\":\"" EXPECTED_ID
                         "\",\"source\":\"/ocppgw/pod-b\","
                         "\"type\":\"device.disconnected\",\"subject\":\"CP-7\","
                         "\"time\":\"2026-11-24T03:00:00.123Z\",\"datacontenttype\":"
                         "\"application/json\",\"dataschema\":"
                         "\"https://ocppgw.example/unified/event-device.disconnected.json\","
                         "\"data\":{\"close_code\":1006,\"reason\":"
                         "\"pod lease expired (pod pod-a, epoch 42, released by pod-b)\"}}");
    free(ev);
    /* a pod id with quotes, backslashes and control characters is escaped */
    ev = registry_event_disconnected("X", "a\"b\\c\n", "p", 1, 0);
    dump_event(ev);
    registry_disconnect_t rel = {.identity = "CP-8",
                                 .pod = "pod-a",
                                 .by_pod = "pod-a",
                                 .epoch = 9,
                                 .time_us = 1795489200123456u,
                                 .kind = "released",
                                 .reason = "ocpp-core restarted: connection not resumed"};
    char *ev2 = registry_event_disconnect(&rel);
    ck_assert_ptr_nonnull(ev2);
    dump_event(ev2);
    free(ev2);
    ck_assert_ptr_nonnull(strstr(ev, "(pod a\\\"b\\\\c\\n, epoch 1"));
    free(ev);
    /* another epoch, kind or identity: another id */
    registry_disconnect_t d = {.identity = "CP-7", .kind = "swept", .epoch = 43};
    char a[33], b[33];
    registry_event_disconnect_id(&d, a);
    d.epoch = 42;
    registry_event_disconnect_id(&d, b);
    ck_assert_str_eq(b, EXPECTED_ID);
    ck_assert_str_ne(a, b);
    d.kind = "released";
    registry_event_disconnect_id(&d, a);
    ck_assert_str_ne(a, b);
}
END_TEST

/* registry_send_disconnect's envelope: the record's headers as the Kafka binding and W3C trace
 * context want them (a CloudEvents SDK found the traceparent missing on the registry's event) */
static envelope_t sent;
static char sent_headers[4][2][128];
static int capture(void *arg, const envelope_t *env)
{
    (void)arg;
    sent = *env;
    for (size_t i = 0; i < env->u.event.headers.count && i < 4; i++) {
        snprintf(sent_headers[i][0], 128, "%.*s", (int)env->u.event.headers.items[i].name.len,
                 env->u.event.headers.items[i].name.ptr);
        snprintf(sent_headers[i][1], 128, "%.*s", (int)env->u.event.headers.items[i].value.len,
                 env->u.event.headers.items[i].value.ptr);
    }
    return 0;
}

START_TEST(test_send_disconnect_headers)
{
    registry_disconnect_t d = {.identity = "CP-7",
                               .pod = "pod-a",
                               .by_pod = "pod-b",
                               .epoch = 42,
                               .kind = "swept",
                               .reason = "pod lease expired"};
    ck_assert_int_eq(registry_send_disconnect(capture, NULL, "ocpp-events-up", &d), 0);
    ck_assert_int_eq(sent.type, ENV_EVENT);
    ck_assert_uint_eq(sent.u.event.headers.count, 4);
    ck_assert_str_eq(sent_headers[0][0], "ce_type");
    ck_assert_str_eq(sent_headers[0][1], "device.disconnected");
    ck_assert_str_eq(sent_headers[1][0], "ce_id");
    ck_assert_str_eq(sent_headers[1][1], EXPECTED_ID);
    ck_assert_str_eq(sent_headers[2][0], "content-type");
    ck_assert_str_eq(sent_headers[2][1], "application/cloudevents+json; charset=UTF-8");
    ck_assert_str_eq(sent_headers[3][0], "traceparent");
    /* the digest's bytes 0..15 (last bit set) and 16..23 (last bit set):
     * python3 -c 'import hashlib; m=bytearray(hashlib.sha256(b"device.disconnected\nCP-7\n
     * swept\n42").digest()); m[15]|=1; m[23]|=1; print(m[:16].hex(), m[16:24].hex())' */
    ck_assert_str_eq(sent_headers[3][1], "00-103f86e25ee7316ff3ebcd4553c48e1d-97ef3a3b342da00d-01");
    char tp[REGISTRY_TRACEPARENT_LEN + 1];
    registry_event_disconnect_traceparent(&d, tp);
    ck_assert_str_eq(tp, sent_headers[3][1]);
    d.epoch = 43; /* another release, another trace */
    registry_event_disconnect_traceparent(&d, tp);
    ck_assert_str_ne(tp, sent_headers[3][1]);
    ck_assert_uint_eq(strlen(tp), REGISTRY_TRACEPARENT_LEN);
}
END_TEST

START_TEST(test_addr_list)
{
    registry_addr_t a[REGISTRY_MAX_SENTINELS];
    char why[128];
    ck_assert_int_eq(registry_parse_addr_list("", a, REGISTRY_MAX_SENTINELS, why, sizeof(why)), 0);
    ck_assert_int_eq(
        registry_parse_addr_list("s1:26380,s2", a, REGISTRY_MAX_SENTINELS, why, sizeof(why)), 2);
    ck_assert_str_eq(a[0].host, "s1");
    ck_assert_int_eq(a[0].port, 26380);
    ck_assert_str_eq(a[1].host, "s2");
    ck_assert_int_eq(a[1].port, 26379);
    const char *bad[] = {",", "a,", ",a", "a:", ":1", "a:0", "a:65536", "a:1x", "a,,b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(registry_parse_addr_list(bad[i], a, REGISTRY_MAX_SENTINELS, why,
                                               sizeof(why)) == -EINVAL,
                      "accepted '%s'", bad[i]);
    ck_assert_int_eq(registry_parse_addr_list("a,b,c", a, 2, why, sizeof(why)), -EINVAL);
    ck_assert_int_eq(registry_validate_addr_list("h:1", why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_keys)
{
    char k[64];
    registry_key_pod_conns("pod-a", k, sizeof(k));
    ck_assert_str_eq(k, "pod:{pod-a}:conns");
    registry_key_takeover("pod-a", k, sizeof(k));
    ck_assert_str_eq(k, "takeover:{pod-a}");
    registry_key_takeover_epoch("pod-a", k, sizeof(k));
    ck_assert_str_eq(k, "takeover:{pod-a}:epoch");
    registry_key_takeover_forgotten("pod-a", k, sizeof(k));
    ck_assert_str_eq(k, "takeover:{pod-a}:forgotten");
    registry_key_takeover_since("pod-a", k, sizeof(k));
    ck_assert_str_eq(k, "takeover:{pod-a}:since");
    registry_key_cred("CP-1", k, sizeof(k));
    ck_assert_str_eq(k, "cred:CP-1");
    registry_key_idtag("TAG 1", k, sizeof(k));
    ck_assert_str_eq(k, "idtag:TAG 1");
    registry_key_dedup("cmd-1", k, sizeof(k));
    ck_assert_str_eq(k, "dedup:{cmd-1}");
    ck_assert_int_eq(registry_channel_superseded("pod-a", k, sizeof(k)), 23);
    ck_assert_str_eq(k, "ocppgw:superseded:pod-a");
    ck_assert_int_eq(
        registry_key_dedup("a-very-long-command-id-that-will-not-fit-in-64-bytes-at-all-xyz", k,
                           sizeof(k)),
        -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry_logic");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_superseded_parse);
    tcase_add_test(tc, test_superseded_parse_rejects);
    tcase_add_test(tc, test_takeover_step);
    tcase_add_test(tc, test_busy_hysteresis);
    tcase_add_test(tc, test_event_disconnected);
    tcase_add_test(tc, test_send_disconnect_headers);
    tcase_add_test(tc, test_addr_list);
    tcase_add_test(tc, test_keys);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
