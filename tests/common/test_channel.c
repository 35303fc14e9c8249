/* Unit tests for common/channel: PUSH/PULL over ipc:// sockets in a private temporary directory.
 * Every test removes its directory and destroys its sockets. */
#include "channel.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ocppgw-chan-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    log_set_fd(-1); /* the refusals below log errors on purpose */
}

static void teardown(void)
{
    char path[PATH_MAX];
    struct dirent *de;
    DIR *d = opendir(dir);

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    ck_assert_int_eq(rmdir(dir), 0);
}

/* channel_recv() once something arrived, waiting up to timeout_ms */
static int recv_wait(zsock_t *pull, zmq_msg_t *msg, int timeout_ms)
{
    zmq_pollitem_t item = {.socket = zsock_resolve(pull), .events = ZMQ_POLLIN};

    if (zmq_poll(&item, 1, timeout_ms) < 0)
        return -zmq_errno();
    return channel_recv(pull, msg);
}

START_TEST(test_send_recv)
{
    char *ep = channel_ipc_endpoint(dir, "core-0");
    zsock_t *pull, *push;
    zmq_msg_t msg;

    ck_assert_ptr_nonnull(ep);
    pull = channel_pull_bind(ep, 0);
    ck_assert_ptr_nonnull(pull);
    push = channel_push_connect(ep, 0);
    ck_assert_ptr_nonnull(push);

    ck_assert_int_eq(channel_recv(pull, &msg), -EAGAIN);
    ck_assert(!channel_readable(pull));
    ck_assert_int_ge(channel_fd(pull), 0);

    ck_assert_int_eq(channel_send(push, "hello", 5), 0);
    ck_assert_int_eq(channel_send(push, "a\0b", 3), 0);
    ck_assert_int_eq(channel_send(push, NULL, 0), 0);
    ck_assert_int_eq(recv_wait(pull, &msg, 5000), 0);
    ck_assert_uint_eq(zmq_msg_size(&msg), 5);
    ck_assert_mem_eq(zmq_msg_data(&msg), "hello", 5);
    zmq_msg_close(&msg);
    ck_assert_int_eq(recv_wait(pull, &msg, 5000), 0);
    ck_assert_uint_eq(zmq_msg_size(&msg), 3);
    ck_assert_mem_eq(zmq_msg_data(&msg), "a\0b", 3);
    zmq_msg_close(&msg);
    ck_assert_int_eq(recv_wait(pull, &msg, 5000), 0);
    ck_assert_uint_eq(zmq_msg_size(&msg), 0);
    zmq_msg_close(&msg);
    ck_assert_int_eq(channel_recv(pull, &msg), -EAGAIN);

    ck_assert_int_eq(channel_send(NULL, "x", 1), -EINVAL);
    ck_assert_int_eq(channel_send(push, NULL, 1), -EINVAL);
    ck_assert_int_eq(channel_recv(NULL, &msg), -EINVAL);
    ck_assert_int_eq(channel_fd(NULL), -1);
    ck_assert(!channel_readable(NULL));

    zsock_destroy(&push);
    zsock_destroy(&pull);
    free(ep);
}
END_TEST

/* The fd is edge-triggered: once it fired, drain while readable. */
START_TEST(test_readable_drain)
{
    char *ep = channel_ipc_endpoint(dir, "drain");
    zsock_t *pull = channel_pull_bind(ep, 0);
    zsock_t *push = channel_push_connect(ep, 0);
    zmq_msg_t msg;
    int got = 0;

    ck_assert_ptr_nonnull(pull);
    ck_assert_ptr_nonnull(push);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(channel_send(push, &i, sizeof(i)), 0);
    ck_assert_int_eq(recv_wait(pull, &msg, 5000), 0);
    zmq_msg_close(&msg);
    got = 1;
    for (int tries = 0; got < 100 && tries < 500; tries++) {
        while (channel_readable(pull)) {
            ck_assert_int_eq(channel_recv(pull, &msg), 0);
            ck_assert_int_eq(*(int *)zmq_msg_data(&msg), got);
            zmq_msg_close(&msg);
            got++;
        }
        if (got < 100)
            zclock_sleep(10);
    }
    ck_assert_int_eq(got, 100);
    zsock_destroy(&push);
    zsock_destroy(&pull);
    free(ep);
}
END_TEST

/* No reader: a PUSH with sndhwm 1 fills up and says -EAGAIN instead of dropping or blocking;
 * what it queued is delivered once the reader binds (why ZMQ_IMMEDIATE stays off). */
START_TEST(test_hwm_eagain_then_delivery)
{
    char *ep = channel_ipc_endpoint(dir, "late");
    zsock_t *push = channel_push_connect(ep, 1);
    zsock_t *pull;
    zmq_msg_t msg;
    int sent = 0, rc = 0;
    int64_t t0;

    ck_assert_ptr_nonnull(push);
    while (sent < 10000 && (rc = channel_send(push, &sent, sizeof(sent))) == 0)
        sent++;
    ck_assert_int_eq(rc, -EAGAIN);
    ck_assert_int_ge(sent, 1);
    ck_assert_int_le(sent, 16);

    t0 = zclock_mono();
    ck_assert_int_eq(channel_send_wait(push, "x", 1, 100), -EAGAIN);
    ck_assert_int_ge(zclock_mono() - t0, 90);
    ck_assert_int_eq(channel_send_wait(push, "x", 1, 0), -EAGAIN);

    pull = channel_pull_bind(ep, 0);
    ck_assert_ptr_nonnull(pull);
    for (int i = 0; i < sent; i++) {
        ck_assert_int_eq(recv_wait(pull, &msg, 5000), 0);
        ck_assert_int_eq(*(int *)zmq_msg_data(&msg), i);
        zmq_msg_close(&msg);
    }
    /* room again: send_wait succeeds */
    ck_assert_int_eq(channel_send_wait(push, "y", 1, 5000), 0);
    ck_assert_int_eq(recv_wait(pull, &msg, 5000), 0);
    ck_assert_mem_eq(zmq_msg_data(&msg), "y", 1);
    zmq_msg_close(&msg);

    zsock_destroy(&push);
    zsock_destroy(&pull);
    free(ep);
}
END_TEST

START_TEST(test_send_envelope)
{
    char *ep = channel_ipc_endpoint(dir, "env");
    zsock_t *pull = channel_pull_bind(ep, 100 * CHANNEL_BATCH_FRAMES);
    zsock_t *push = channel_push_connect(ep, 100 * CHANNEL_BATCH_FRAMES);
    msgpack_sbuffer scratch;
    envelope_t in = {.type = ENV_EVENT}, out;
    zmq_msg_t msg;

    ck_assert_ptr_nonnull(pull);
    ck_assert_ptr_nonnull(push);
    in.u.event.core_id = 2;
    in.u.event.token = 99;
    in.u.event.topic = env_str("ocpp-events-up");
    in.u.event.key = env_str("CP-007");
    in.u.event.headers.count = 1;
    in.u.event.headers.items[0].name = env_str("ce_type");
    in.u.event.headers.items[0].value = env_str("heartbeat");
    in.u.event.value = (env_bin_t){(const uint8_t *)"{}", 2};

    msgpack_sbuffer_init(&scratch);
    msgpack_sbuffer_write(&scratch, "stale", 5); /* cleared by channel_send_envelope */
    ck_assert_int_eq(channel_send_envelope(push, &in, &scratch), 0);
    ck_assert_int_eq(channel_send_envelope(push, &in, &scratch), 0);
    in.type = (envelope_type_t)0;
    ck_assert_int_eq(channel_send_envelope(push, &in, &scratch), -EINVAL);
    ck_assert_int_eq(channel_send_envelope(push, &in, NULL), -EINVAL);

    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(recv_wait(pull, &msg, 5000), 0);
        ck_assert_int_eq(envelope_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &out), 0);
        ck_assert_int_eq(out.type, ENV_EVENT);
        ck_assert_uint_eq(out.u.event.core_id, 2);
        ck_assert_uint_eq(out.u.event.token, 99);
        ck_assert(env_str_eq(out.u.event.topic, "ocpp-events-up"));
        ck_assert(env_str_eq(out.u.event.key, "CP-007"));
        ck_assert_uint_eq(out.u.event.headers.count, 1);
        ck_assert(env_str_eq(out.u.event.headers.items[0].value, "heartbeat"));
        ck_assert_uint_eq(out.u.event.value.len, 2);
        zmq_msg_close(&msg);
    }
    ck_assert_int_eq(channel_recv(pull, &msg), -EAGAIN); /* the failed encodes sent nothing */
    msgpack_sbuffer_destroy(&scratch);
    zsock_destroy(&push);
    zsock_destroy(&pull);
    free(ep);
}
END_TEST

/* handler for test_drain: records the SEND conn ids it is handed */
static void record_send(const envelope_t *env, void *arg)
{
    uint64_t *seen = arg;
    ck_assert_int_eq(env->type, ENV_SEND);
    seen[seen[0] + 1] = env->u.send.conn_id;
    seen[0]++;
}

START_TEST(test_drain)
{
    char *ep = channel_ipc_endpoint(dir, "drain2");
    zsock_t *pull = channel_pull_bind(ep, 100 * CHANNEL_BATCH_FRAMES);
    zsock_t *push = channel_push_connect(ep, 100 * CHANNEL_BATCH_FRAMES);
    msgpack_sbuffer scratch;
    envelope_t in = {.type = ENV_SEND};
    uint64_t seen[8] = {0};
    metrics_counter_t *bad =
        metrics_counter("envelopes_rejected_total",
                        "envelopes refused by their receiver, by reason", "reason=\"malformed\"");
    uint64_t bad_before = metrics_counter_get(bad);

    msgpack_sbuffer_init(&scratch);
    in.u.send.data = (env_bin_t){(const uint8_t *)"x", 1};
    in.u.send.conn_id = 7;
    ck_assert_int_eq(channel_send_envelope(push, &in, &scratch), 0);
    ck_assert_int_eq(channel_send(push, "\xc1", 1), 0); /* never valid msgpack */
    in.u.send.conn_id = 8;
    ck_assert_int_eq(channel_send_envelope(push, &in, &scratch), 0);

    /* take the three in batches of at most 2, however they trickle in (bounded wait) */
    int total = 0;
    for (int spins = 0; total < 3 && spins < 500; spins++) {
        int n = channel_drain(pull, 2, "test", record_send, seen);
        ck_assert_int_le(n, 2);
        total += n;
        if (n == 0)
            usleep(10000);
    }
    ck_assert_int_eq(total, 3);
    ck_assert_uint_eq(seen[0], 2); /* the two envelopes, in order */
    ck_assert_uint_eq(seen[1], 7);
    ck_assert_uint_eq(seen[2], 8);
    ck_assert_uint_eq(metrics_counter_get(bad), bad_before + 1); /* the foreign one, counted */
    ck_assert_int_eq(channel_drain(pull, 10, "test", record_send, seen), 0);
    msgpack_sbuffer_destroy(&scratch);
    zsock_destroy(&push);
    zsock_destroy(&pull);
    free(ep);
}
END_TEST

START_TEST(test_pod_sockets)
{
    zsock_t *pulls[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "core-%d", i);
        pulls[i] = channel_pull_at(dir, name, 100 * CHANNEL_BATCH_FRAMES);
        ck_assert_ptr_nonnull(pulls[i]);
    }
    zsock_t **cores = channel_push_to_cores(dir, 3, 100);
    ck_assert_ptr_nonnull(cores);
    for (int i = 0; i < 3; i++) {
        char text[8];
        snprintf(text, sizeof(text), "to %d", i);
        ck_assert_int_eq(channel_send(cores[i], text, strlen(text)), 0);
    }
    for (int i = 0; i < 3; i++) { /* each core's socket got exactly its own message */
        zmq_msg_t msg;
        char want[8];
        snprintf(want, sizeof(want), "to %d", i);
        ck_assert_int_eq(recv_wait(pulls[i], &msg, 5000), 0);
        ck_assert_uint_eq(zmq_msg_size(&msg), strlen(want));
        ck_assert_int_eq(memcmp(zmq_msg_data(&msg), want, strlen(want)), 0);
        zmq_msg_close(&msg);
        ck_assert_int_eq(channel_recv(pulls[i], &msg), -EAGAIN);
    }
    channel_push_to_cores_destroy(&cores, 3);
    ck_assert_ptr_null(cores);
    channel_push_to_cores_destroy(&cores, 3); /* safe twice */
    char longdir[200];
    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    ck_assert_ptr_null(channel_push_to_cores(longdir, 2, 100)); /* endpoint too long */
    ck_assert_ptr_null(channel_pull_at(longdir, "x", 100));
    for (int i = 0; i < 3; i++)
        zsock_destroy(&pulls[i]);
}
END_TEST

START_TEST(test_bind_in_use_and_stale)
{
    char *ep = channel_ipc_endpoint(dir, "busy");
    char *stale_ep = channel_ipc_endpoint(dir, "stale");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    zsock_t *first, *second, *stale;
    int fd;

    first = channel_pull_bind(ep, 0);
    ck_assert_ptr_nonnull(first);
    errno = 0;
    second = channel_pull_bind(ep, 0);
    ck_assert_ptr_null(second);
    ck_assert_int_eq(errno, EADDRINUSE);
    zsock_destroy(&first);

    /* a socket file left by a dead process: nobody listens, so it is replaced */
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale.sock", dir);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    ck_assert_int_eq(access(sa.sun_path, F_OK), 0);
    stale = channel_pull_bind(stale_ep, 0);
    ck_assert_ptr_nonnull(stale);
    zsock_destroy(&stale);

    errno = 0;
    ck_assert_ptr_null(channel_pull_bind("tcp://no-such-host.invalid:1", 0));
    ck_assert_int_ne(errno, 0);
    ck_assert_ptr_null(channel_pull_bind(NULL, 0));
    ck_assert_ptr_null(channel_push_connect(NULL, 0));
    ck_assert_ptr_null(channel_push_connect("bogus://x", 0));
    free(ep);
    free(stale_ep);
}
END_TEST

START_TEST(test_ipc_endpoint)
{
    char longdir[200];
    char *ep;
    size_t fixed = strlen("/x.sock"); /* "/" + name + ".sock" with name "x" */

    ep = channel_ipc_endpoint("/run/gw", "core-0");
    ck_assert_str_eq(ep, "ipc:///run/gw/core-0.sock");
    free(ep);
    ep = channel_ipc_endpoint("/run/gw//", "edge");
    ck_assert_str_eq(ep, "ipc:///run/gw/edge.sock");
    free(ep);
    ep = channel_ipc_endpoint("/", "edge");
    ck_assert_str_eq(ep, "ipc:///edge.sock");
    free(ep);
    ck_assert_ptr_null(channel_ipc_endpoint(NULL, "x"));
    ck_assert_ptr_null(channel_ipc_endpoint("/tmp", NULL));
    ck_assert_ptr_null(channel_ipc_endpoint("", "x"));
    ck_assert_ptr_null(channel_ipc_endpoint("/tmp", ""));

    /* sun_path holds 107 bytes and a NUL: a 107-byte path fits, 108 does not */
    memset(longdir, 'd', sizeof(longdir));
    longdir[0] = '/';
    longdir[107 - fixed] = '\0';
    ep = channel_ipc_endpoint(longdir, "x");
    ck_assert_ptr_nonnull(ep);
    ck_assert_uint_eq(strlen(ep), strlen("ipc://") + 107);
    free(ep);
    longdir[107 - fixed] = 'd';
    longdir[108 - fixed] = '\0';
    ck_assert_ptr_null(channel_ipc_endpoint(longdir, "x"));
    longdir[150] = '\0';
    ck_assert_ptr_null(channel_ipc_endpoint(longdir, "x"));
}
END_TEST

static Suite *channel_suite(void)
{
    Suite *s = suite_create("channel");
    TCase *tc = tcase_create("ipc");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_send_recv);
    tcase_add_test(tc, test_readable_drain);
    tcase_add_test(tc, test_hwm_eagain_then_delivery);
    tcase_add_test(tc, test_send_envelope);
    tcase_add_test(tc, test_drain);
    tcase_add_test(tc, test_pod_sockets);
    tcase_add_test(tc, test_bind_in_use_and_stale);
    tcase_add_test(tc, test_ipc_endpoint);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(channel_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
