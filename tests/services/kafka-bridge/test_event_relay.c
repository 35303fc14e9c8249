/* Unit tests for services/kafka-bridge/event_relay: EVENTs handed to the producer at once, kept
 * in order (copied) while its queue is full, produced first once there is room, refused ones
 * answered with their error, kept ones answered as not persisted at shutdown. */
#include "event_relay.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

/* ---- recording ops: the producer takes, is full, or refuses for good ---------------------- */

static int produce_rc;      /* 0, -ENOBUFS (full) or -EIO (for good) */
static int full_after = -1; /* >= 0: that many more produces are taken, then full */
static char produced[32][256];
static size_t nproduced, nacks;
static char ctype[32][64]; /* content-type header of each record produced ("" none) */
static size_t nheaders[32];
static struct {
    uint32_t core;
    uint64_t token;
    int32_t status;
    char why[64];
} acks[32];
static event_relay_t *R;

static int op_produce(void *arg, const env_event_t *ev, int32_t *status, char *why, size_t whylen)
{
    (void)arg;
    if (full_after == 0)
        return -ENOBUFS;
    if (full_after > 0)
        full_after--;
    if (produce_rc == -EIO) {
        *status = 17;
        snprintf(why, whylen, "message too large");
        return -EIO;
    }
    if (produce_rc)
        return produce_rc;
    ck_assert_uint_lt(nproduced, 32);
    ctype[nproduced][0] = '\0';
    nheaders[nproduced] = ev->headers.count;
    for (size_t i = 0; i < ev->headers.count; i++)
        if (env_str_eq(ev->headers.items[i].name, "content-type"))
            env_str_copy(ev->headers.items[i].value, ctype[nproduced], sizeof(ctype[0]));
    /* topic|key|h0name=h0value|value: what reached the producer */
    snprintf(produced[nproduced++], sizeof(produced[0]), "%.*s|%.*s|%.*s=%.*s|%.*s",
             (int)ev->topic.len, ev->topic.ptr, (int)ev->key.len, ev->key.ptr,
             ev->headers.count ? (int)ev->headers.items[0].name.len : 0,
             ev->headers.count ? ev->headers.items[0].name.ptr : "",
             ev->headers.count ? (int)ev->headers.items[0].value.len : 0,
             ev->headers.count ? ev->headers.items[0].value.ptr : "", (int)ev->value.len,
             (const char *)ev->value.ptr);
    return 0;
}

static void op_ack(void *arg, uint32_t core_id, uint64_t token, int32_t status, const char *why)
{
    (void)arg;
    ck_assert_uint_lt(nacks, 32);
    acks[nacks].core = core_id;
    acks[nacks].token = token;
    acks[nacks].status = status;
    snprintf(acks[nacks].why, sizeof(acks[nacks].why), "%s", why);
    nacks++;
}

static const event_relay_ops_t OPS = {op_produce, op_ack};

static void setup(void)
{
    produce_rc = 0;
    full_after = -1;
    nproduced = nacks = 0;
    R = event_relay_new(&OPS, NULL);
    ck_assert_ptr_nonnull(R);
}

static void teardown(void)
{
    event_relay_destroy(&R);
    event_relay_destroy(&R); /* safe twice */
    ck_assert_ptr_null(R);
}

/* an EVENT built in buffers the caller may overwrite after the call (as a received message) */
static char b_topic[32], b_key[32], b_name[32], b_val[32], b_value[64];
static env_event_t event(uint64_t token, int n)
{
    snprintf(b_topic, sizeof(b_topic), "ocpp-events-up");
    snprintf(b_key, sizeof(b_key), "CP-%d", n);
    snprintf(b_name, sizeof(b_name), "ce_id");
    snprintf(b_val, sizeof(b_val), "id-%d", n);
    snprintf(b_value, sizeof(b_value), "{\"n\":%d}", n);
    env_event_t ev = {.core_id = 1, .token = token};
    ev.topic = env_str(b_topic);
    ev.key = env_str(b_key);
    ev.headers.count = 1;
    ev.headers.items[0] = (env_header_t){env_str(b_name), env_str(b_val)};
    ev.value = (env_bin_t){(const uint8_t *)b_value, strlen(b_value)};
    return ev;
}

static void scribble(void)
{
    memset(b_topic, 'x', sizeof(b_topic) - 1);
    memset(b_key, 'x', sizeof(b_key) - 1);
    memset(b_val, 'x', sizeof(b_val) - 1);
    memset(b_value, 'x', sizeof(b_value) - 1);
}

/* ---- cases ------------------------------------------------------------------------------ */

START_TEST(test_handed_on)
{
    env_event_t ev = event(5, 1);
    ck_assert_int_eq(event_relay_on_event(R, &ev), 0);
    ck_assert_uint_eq(nproduced, 1);
    ck_assert_str_eq(produced[0], "ocpp-events-up|CP-1|ce_id=id-1|{\"n\":1}");
    ck_assert_uint_eq(nacks, 0); /* its delivery report acks it, not the relay */
    ck_assert_uint_eq(event_relay_held(R), 0);
    ck_assert_uint_eq(event_relay_retry(R), 0);
}
END_TEST

/* Every event record has the CloudEvents binding's content-type: an EVENT without one (the
 * registry's device.disconnected) gets the structured-mode type; one that has it keeps its own;
 * an EVENT with every header slot used gives its last one up for it. */
START_TEST(test_content_type)
{
    env_event_t ev = event(0, 1);
    ck_assert_int_eq(event_relay_on_event(R, &ev), 0);
    ck_assert_str_eq(ctype[0], "application/cloudevents+json; charset=UTF-8");
    ck_assert_uint_eq(nheaders[0], 2);
    ck_assert_str_eq(produced[0], "ocpp-events-up|CP-1|ce_id=id-1|{\"n\":1}");
    ev = event(0, 2);
    ev.headers.count = 2;
    ev.headers.items[1] = (env_header_t){env_str("Content-Type"), env_str("text/plain")};
    ck_assert_int_eq(event_relay_on_event(R, &ev), 0);
    ck_assert_str_eq(ctype[1], ""); /* its own, under its own spelling, untouched */
    ck_assert_uint_eq(nheaders[1], 2);
    ev = event(0, 3);
    ev.headers.count = 0;
    ck_assert_int_eq(event_relay_on_event(R, &ev), 0);
    ck_assert_str_eq(ctype[2], "application/cloudevents+json; charset=UTF-8");
    ev = event(0, 4);
    ev.headers.count = ENVELOPE_MAX_HEADERS;
    for (size_t i = 1; i < ENVELOPE_MAX_HEADERS; i++)
        ev.headers.items[i] = ev.headers.items[0];
    ck_assert_int_eq(event_relay_on_event(R, &ev), 0);
    ck_assert_str_eq(ctype[3], "application/cloudevents+json; charset=UTF-8");
    ck_assert_uint_eq(nheaders[3], ENVELOPE_MAX_HEADERS);
    /* kept while full: the kept copy gets it too when produced */
    full_after = 0;
    ev = event(7, 5);
    ck_assert_int_eq(event_relay_on_event(R, &ev), -EBUSY);
    full_after = -1;
    ck_assert_uint_eq(event_relay_retry(R), 0);
    ck_assert_str_eq(ctype[4], "application/cloudevents+json; charset=UTF-8");
}
END_TEST

/* full: kept (a copy), later EVENTs kept behind it, produced first and in order with room */
START_TEST(test_full_keeps_order)
{
    full_after = 1;
    env_event_t a = event(1, 1);
    ck_assert_int_eq(event_relay_on_event(R, &a), 0);
    env_event_t b = event(2, 2);
    ck_assert_int_eq(event_relay_on_event(R, &b), -EBUSY);
    scribble(); /* the received message is gone: the relay holds its own copy */
    full_after = -1;
    env_event_t c = event(3, 3); /* one more that was already read: kept behind b */
    ck_assert_int_eq(event_relay_on_event(R, &c), -EBUSY);
    ck_assert_uint_eq(nproduced, 1); /* c did not overtake b */
    ck_assert_uint_eq(event_relay_held(R), 2);
    full_after = 0;
    ck_assert_uint_eq(event_relay_retry(R), 2); /* still full */
    full_after = 1;
    ck_assert_uint_eq(event_relay_retry(R), 1); /* room for one: b */
    ck_assert_str_eq(produced[1], "ocpp-events-up|CP-2|ce_id=id-2|{\"n\":2}");
    full_after = -1;
    ck_assert_uint_eq(event_relay_retry(R), 0);
    ck_assert_str_eq(produced[2], "ocpp-events-up|CP-3|ce_id=id-3|{\"n\":3}");
    ck_assert_uint_eq(nacks, 0);
    ck_assert_int_eq(event_relay_on_event(R, &a), 0); /* reading goes on */
}
END_TEST

/* refused for good: answered at once with the producer's error (when an ack was asked) */
START_TEST(test_refused)
{
    produce_rc = -EIO;
    env_event_t a = event(9, 1);
    ck_assert_int_eq(event_relay_on_event(R, &a), 0);
    ck_assert_uint_eq(nacks, 1);
    ck_assert_uint_eq(acks[0].core, 1);
    ck_assert_uint_eq(acks[0].token, 9);
    ck_assert_int_eq(acks[0].status, 17);
    ck_assert_str_eq(acks[0].why, "message too large");
    env_event_t b = event(0, 2); /* no ack asked */
    ck_assert_int_eq(event_relay_on_event(R, &b), 0);
    ck_assert_uint_eq(nacks, 1);
    /* a kept EVENT refused for good once there is room: answered, the next one goes on */
    produce_rc = 0;
    full_after = 0;
    env_event_t c = event(10, 3);
    ck_assert_int_eq(event_relay_on_event(R, &c), -EBUSY);
    env_event_t d = event(11, 4);
    ck_assert_int_eq(event_relay_on_event(R, &d), -EBUSY);
    full_after = -1;
    produce_rc = -EIO;
    ck_assert_uint_eq(event_relay_retry(R), 0);
    ck_assert_uint_eq(nacks, 3);
    ck_assert_uint_eq(acks[1].token, 10);
    ck_assert_uint_eq(acks[2].token, 11);
}
END_TEST

/* shutdown: kept EVENTs answered as not persisted, those without an ack just dropped */
START_TEST(test_abandon)
{
    full_after = 0;
    env_event_t a = event(21, 1);
    ck_assert_int_eq(event_relay_on_event(R, &a), -EBUSY);
    env_event_t b = event(0, 2);
    ck_assert_int_eq(event_relay_on_event(R, &b), -EBUSY);
    env_event_t c = event(22, 3);
    ck_assert_int_eq(event_relay_on_event(R, &c), -EBUSY);
    event_relay_abandon(R, -184, "bridge stopping");
    ck_assert_uint_eq(event_relay_held(R), 0);
    ck_assert_uint_eq(nacks, 2);
    ck_assert_uint_eq(acks[0].token, 21);
    ck_assert_uint_eq(acks[1].token, 22);
    ck_assert_int_eq(acks[1].status, -184);
    ck_assert_str_eq(acks[1].why, "bridge stopping");
    ck_assert_uint_eq(nproduced, 0);
}
END_TEST

/* an EVENT with empty parts and every header is copied whole */
START_TEST(test_copy_edges)
{
    full_after = 0;
    env_event_t ev = {.core_id = 0, .token = 1};
    ev.topic = env_str("t");
    ev.headers.count = ENVELOPE_MAX_HEADERS;
    for (size_t i = 0; i < ENVELOPE_MAX_HEADERS; i++)
        ev.headers.items[i] = (env_header_t){env_str("h"), env_str("")};
    ck_assert_int_eq(event_relay_on_event(R, &ev), -EBUSY);
    full_after = -1;
    ck_assert_uint_eq(event_relay_retry(R), 0);
    ck_assert_str_eq(produced[0], "t||h=|");
    ck_assert_ptr_null(event_relay_new(NULL, NULL));
}
END_TEST

int main(void)
{
    log_set_level(LOG_ERROR);
    Suite *s = suite_create("event_relay");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_handed_on);
    tcase_add_test(tc, test_full_keeps_order);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_abandon);
    tcase_add_test(tc, test_copy_edges);
    tcase_add_test(tc, test_content_type);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
