/* Unit tests for common/outbox: a PUSH socket whose peer is not there yet (ZeroMQ queues up to
 * its high-water mark, then refuses), the outbox's order, bound and policies, and the flush once
 * the peer binds. Sockets live in a private temporary directory that every test removes. */
#include "outbox.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "metrics.h"

static char dir[64];
static char *endpoint;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ocppgw-outbox-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    endpoint = channel_ipc_endpoint(dir, "peer");
    log_set_fd(-1); /* drops are logged on purpose */
}

static void teardown(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/peer.sock", dir);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0);
    free(endpoint);
    metrics_shutdown();
}

/* an outbox to the endpoint whose socket holds at most hwm messages */
static outbox_t *outbox_to_peer(int hwm, size_t max_bytes)
{
    zsock_t *push = channel_push_connect(endpoint, hwm);
    ck_assert_ptr_nonnull(push);
    outbox_t *o = outbox_new(&push, "peer", max_bytes);
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_null(push); /* ownership taken */
    return o;
}

/* tokens 1000 + t: every encoding has the same size */
static envelope_t ack(uint64_t t)
{
    envelope_t env = {.type = ENV_EVENT_ACK};
    env.u.event_ack.token = 1000 + t;
    env.u.event_ack.error = env_str("");
    return env;
}

static size_t ack_size(void)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    envelope_t env = ack(1);
    ck_assert_int_eq(envelope_encode(&env, &b), 0);
    size_t n = b.size;
    msgpack_sbuffer_destroy(&b);
    return n;
}

static uint64_t dropped(void)
{
    return metrics_counter_get(
        metrics_counter("envelopes_dropped_total", NULL, "to=\"peer\",type=\"event_ack\""));
}

/* receives everything the peer gets within a moment: the tokens, in order */
static size_t drain(zsock_t *pull, uint64_t *tokens, size_t max)
{
    size_t n = 0;
    for (int idle = 0; idle < 20 && n < max;) {
        zmq_msg_t msg;
        if (channel_recv(pull, &msg) < 0) {
            usleep(5000);
            idle++;
            continue;
        }
        envelope_t env;
        ck_assert_int_eq(envelope_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &env), 0);
        tokens[n++] = env.u.event_ack.token - 1000;
        zmq_msg_close(&msg);
        idle = 0;
    }
    return n;
}

START_TEST(test_sends_at_once_when_room)
{
    zsock_t *pull = channel_pull_bind(endpoint, 100 * CHANNEL_BATCH_FRAMES);
    outbox_t *o = outbox_to_peer(100 * CHANNEL_BATCH_FRAMES, 1000);
    for (uint64_t t = 1; t <= 5; t++) {
        envelope_t env = ack(t);
        ck_assert_int_eq(outbox_send(o, &env, OUTBOX_TRY), 0);
    }
    ck_assert_uint_eq(outbox_queued(o), 0);
    uint64_t got[8];
    ck_assert_uint_eq(drain(pull, got, 8), 5);
    for (uint64_t t = 1; t <= 5; t++)
        ck_assert_uint_eq(got[t - 1], t);
    outbox_destroy(&o);
    outbox_destroy(&o); /* safe twice */
    zsock_destroy(&pull);
}
END_TEST

START_TEST(test_full_peer_queues_in_order_then_flushes)
{
    size_t one = ack_size();
    outbox_t *o =
        outbox_to_peer(2 * CHANNEL_BATCH_FRAMES, 3 * one); /* ZeroMQ takes 2, the outbox 3 */
    uint64_t t = 0;
    int rc = 0;
    while (rc == 0 && t < 100) {
        envelope_t env = ack(++t);
        rc = outbox_send(o, &env, OUTBOX_TRY);
    }
    /* TRY: refused when full, the caller decides, nothing counted */
    ck_assert_int_eq(rc, -ENOBUFS);
    uint64_t accepted = --t;
    ck_assert_uint_eq(outbox_queued(o), 3);
    ck_assert_uint_le(outbox_queued_bytes(o), 3 * one);
    ck_assert(!outbox_has_room(o, one));
    envelope_t env = ack(++t);
    uint64_t before = dropped();
    /* DROP: counted */
    ck_assert_int_eq(outbox_send(o, &env, OUTBOX_DROP), -ENOBUFS);
    ck_assert_uint_eq(dropped(), before + 1);
    /* MUST: queued beyond the bound */
    ck_assert_int_eq(outbox_send(o, &env, OUTBOX_MUST), 0);
    size_t queued = outbox_queued(o);

    /* the peer comes: a flush sends everything, in order, nothing twice */
    zsock_t *pull = channel_pull_bind(endpoint, 100 * CHANNEL_BATCH_FRAMES);
    uint64_t got[16];
    size_t n = 0;
    for (int i = 0; i < 200 && n < 2 + queued; i++) {
        outbox_flush(o);
        n += drain(pull, got + n, 16 - n);
    }
    ck_assert_uint_eq(outbox_queued(o), 0);
    ck_assert_uint_eq(outbox_queued_bytes(o), 0);
    ck_assert_uint_eq(n, accepted + 1);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(got[i], i + 1);
    outbox_destroy(&o);
    zsock_destroy(&pull);
}
END_TEST

START_TEST(test_must_has_a_hard_cap)
{
    size_t one = ack_size();
    outbox_t *o = outbox_to_peer(1, one);
    int queued = 0, refused = 0;
    for (uint64_t t = 1; t <= 20; t++) {
        envelope_t env = ack(t);
        if (outbox_send(o, &env, OUTBOX_MUST) == 0)
            queued++;
        else
            refused++;
    }
    /* one in ZeroMQ, OUTBOX_MUST_FACTOR in the outbox */
    ck_assert_int_le(queued, 1 + OUTBOX_MUST_FACTOR + 1);
    ck_assert_int_gt(refused, 0);
    ck_assert_uint_le(outbox_queued_bytes(o), OUTBOX_MUST_FACTOR * one);
    outbox_destroy(&o); /* drops and counts what is left */
}
END_TEST

START_TEST(test_bad_arguments)
{
    ck_assert_ptr_null(outbox_new(NULL, "x", 10));
    zsock_t *none = NULL;
    ck_assert_ptr_null(outbox_new(&none, "x", 10));
    envelope_t env = ack(1);
    ck_assert_int_eq(outbox_send(NULL, &env, OUTBOX_TRY), -EINVAL);
    ck_assert_uint_eq(outbox_flush(NULL), 0);
    outbox_t *o = outbox_to_peer(10, 100);
    envelope_t bad = {.type = (envelope_type_t)999};
    ck_assert_int_lt(outbox_send(o, &bad, OUTBOX_MUST), 0);
    outbox_destroy(&o);
}
END_TEST

/* a batch: nothing leaves before its end, then one multipart message (frames in order) */
START_TEST(test_batch_sends_one_multipart_message)
{
    zsock_t *pull = channel_pull_bind(endpoint, 100 * CHANNEL_BATCH_FRAMES);
    outbox_t *o = outbox_to_peer(100 * CHANNEL_BATCH_FRAMES, 1000);
    outbox_batch_begin();
    for (uint64_t t = 1; t <= 5; t++) {
        envelope_t env = ack(t);
        ck_assert_int_eq(outbox_send(o, &env, OUTBOX_TRY), 0);
    }
    ck_assert_uint_eq(outbox_queued(o), 0); /* not waiting for a full receiver */
    ck_assert_uint_eq(outbox_queued_bytes(o), 5 * ack_size());
    usleep(20000);
    zmq_msg_t msg;
    ck_assert_int_eq(channel_recv(pull, &msg), -EAGAIN); /* held until the batch ends */
    ck_assert_uint_eq(outbox_batch_end(), 0);
    ck_assert_uint_eq(outbox_queued_bytes(o), 0);
    for (int i = 0; i < 200 && channel_recv(pull, &msg) < 0; i++)
        usleep(5000);
    ck_assert_int_eq(zmq_msg_more(&msg), 1); /* the first frame of one message */
    envelope_t env;
    ck_assert_int_eq(envelope_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &env), 0);
    ck_assert_uint_eq(env.u.event_ack.token, 1001);
    zmq_msg_close(&msg);
    uint64_t got[8];
    ck_assert_uint_eq(drain(pull, got, 8), 4);
    for (uint64_t t = 2; t <= 5; t++)
        ck_assert_uint_eq(got[t - 2], t);
    /* outside a batch: at once again */
    env = ack(6);
    ck_assert_int_eq(outbox_send(o, &env, OUTBOX_TRY), 0);
    ck_assert_uint_eq(outbox_queued_bytes(o), 0);
    ck_assert_uint_eq(drain(pull, got, 8), 1);
    ck_assert_uint_eq(got[0], 6);
    outbox_destroy(&o);
    zsock_destroy(&pull);
}
END_TEST

/* a batch a full receiver does not take waits, counted by batch_end, and goes once it binds */
START_TEST(test_batch_waits_for_a_full_receiver)
{
    size_t one = ack_size();
    outbox_t *o = outbox_to_peer(1, 10 * one); /* no peer: ZeroMQ holds one message */
    outbox_batch_begin();
    for (uint64_t t = 1; t <= 3; t++) {
        envelope_t env = ack(t);
        ck_assert_int_eq(outbox_send(o, &env, OUTBOX_TRY), 0);
    }
    ck_assert_uint_eq(outbox_batch_end(), 0); /* the three as ZeroMQ's one message */
    outbox_batch_begin();
    for (uint64_t t = 4; t <= 7; t++) {
        envelope_t env = ack(t);
        ck_assert_int_eq(outbox_send(o, &env, OUTBOX_TRY), 0);
    }
    ck_assert_uint_eq(outbox_batch_end(), 4);
    ck_assert_uint_eq(outbox_queued(o), 4); /* now waiting: the caller retries */
    zsock_t *pull = channel_pull_bind(endpoint, 100 * CHANNEL_BATCH_FRAMES);
    uint64_t got[16];
    size_t n = 0;
    for (int i = 0; i < 200 && n < 7; i++) {
        outbox_flush(o);
        n += drain(pull, got + n, 16 - n);
    }
    ck_assert_uint_eq(n, 7);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(got[i], i + 1);
    ck_assert_uint_eq(outbox_queued(o), 0);
    outbox_destroy(&o);
    zsock_destroy(&pull);
}
END_TEST

/* an outbox destroyed within a batch hands its envelopes on first and leaves the batch */
START_TEST(test_destroy_in_a_batch_sends_it)
{
    zsock_t *pull = channel_pull_bind(endpoint, 100 * CHANNEL_BATCH_FRAMES);
    outbox_t *o = outbox_to_peer(100 * CHANNEL_BATCH_FRAMES, 1000);
    outbox_t *other = outbox_to_peer(100 * CHANNEL_BATCH_FRAMES, 1000);
    outbox_batch_begin();
    envelope_t env = ack(1);
    ck_assert_int_eq(outbox_send(o, &env, OUTBOX_MUST), 0);
    env = ack(2);
    ck_assert_int_eq(outbox_send(other, &env, OUTBOX_MUST), 0);
    uint64_t before = dropped();
    outbox_destroy(&o);
    ck_assert_uint_eq(outbox_batch_end(), 0); /* the other one's, not the destroyed one's */
    ck_assert_uint_eq(dropped(), before);
    uint64_t got[4];
    ck_assert_uint_eq(drain(pull, got, 4), 2);
    outbox_destroy(&other);
    zsock_destroy(&pull);
}
END_TEST

/* as without a batch, an envelope larger than the bound goes when nothing waits: a batch is
 * bounded by handing it on, never by refusing what the socket would have taken */
START_TEST(test_batch_takes_what_the_socket_would)
{
    size_t one = ack_size();
    zsock_t *pull = channel_pull_bind(endpoint, 100 * CHANNEL_BATCH_FRAMES);
    outbox_t *o =
        outbox_to_peer(100 * CHANNEL_BATCH_FRAMES, one / 2); /* smaller than one envelope */
    outbox_batch_begin();
    for (uint64_t t = 1; t <= 3; t++) {
        envelope_t env = ack(t);
        ck_assert_int_eq(outbox_send(o, &env, OUTBOX_TRY), 0);
        ck_assert_uint_le(outbox_queued_bytes(o), one); /* the one before was handed on */
    }
    ck_assert_uint_eq(outbox_batch_end(), 0);
    uint64_t got[4];
    ck_assert_uint_eq(drain(pull, got, 4), 3);
    for (uint64_t t = 1; t <= 3; t++)
        ck_assert_uint_eq(got[t - 1], t);
    outbox_destroy(&o);
    zsock_destroy(&pull);
}
END_TEST

START_TEST(test_send_frames_arguments)
{
    zsock_t *push = channel_push_connect(endpoint, 10);
    const void *data[2] = {"a", NULL};
    size_t len[2] = {1, 1};
    ck_assert_int_eq(channel_send_frames(NULL, data, len, 2), -EINVAL);
    ck_assert_int_eq(channel_send_frames(push, data, len, 0), -EINVAL);
    ck_assert_int_eq(channel_send_frames(push, data, len, 2), -EINVAL); /* nothing half-sent */
    zsock_t *pull = channel_pull_bind(endpoint, 10);
    data[1] = "b";
    ck_assert_int_eq(channel_send_frames(push, data, len, 2), 0);
    zmq_msg_t msg;
    int i = 0;
    while (channel_recv(pull, &msg) < 0 && i++ < 200)
        usleep(5000);
    ck_assert_int_eq(zmq_msg_size(&msg), 1);
    ck_assert_int_eq(((char *)zmq_msg_data(&msg))[0], 'a'); /* never the refused "a" alone */
    ck_assert_int_eq(zmq_msg_more(&msg), 1);
    zmq_msg_close(&msg);
    ck_assert_int_eq(channel_recv(pull, &msg), 0);
    ck_assert_int_eq(((char *)zmq_msg_data(&msg))[0], 'b');
    ck_assert_int_eq(zmq_msg_more(&msg), 0);
    zmq_msg_close(&msg);
    ck_assert_int_eq(channel_recv(pull, &msg), -EAGAIN);
    zsock_destroy(&push);
    zsock_destroy(&pull);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_sends_at_once_when_room);
    tcase_add_test(tc, test_full_peer_queues_in_order_then_flushes);
    tcase_add_test(tc, test_must_has_a_hard_cap);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_batch_sends_one_multipart_message);
    tcase_add_test(tc, test_batch_waits_for_a_full_receiver);
    tcase_add_test(tc, test_destroy_in_a_batch_sends_it);
    tcase_add_test(tc, test_batch_takes_what_the_socket_would);
    tcase_add_test(tc, test_send_frames_arguments);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
