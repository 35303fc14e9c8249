/* bridge-load: plays ocpp-core (and the registry) towards one kafka-bridge, for tests and the
 * publish benchmark (bench/bridge_publish.sh, tests/integration/test_bridge_*.sh).
 *
 *   bridge-load events IPC_DIR COUNT TOPIC [TIMEOUT_S] [RUN_TAG]
 *       binds IPC_DIR/core-0.sock (as core 0), pushes COUNT EVENTs with tokens 1..COUNT to
 *       IPC_DIR/bridge.sock (key CP-<n % 100>, value {"run":RUN_TAG,"seq":n}), and collects the
 *       EVENT_ACKs. Every 0.5 s and at the end it prints one line
 *           sent=S ok=A err=E dup=D missing=M seconds=T rate=R
 *       (ok: acked as persisted, err: acked as not persisted, dup: a token acked twice).
 *       Exit 0 when every event was acked as persisted before TIMEOUT_S (default 60), else 1.
 *   bridge-load takeover IPC_DIR POD EPOCH ACTIVE(0|1)
 *       pushes one TAKEOVER envelope (what redis-registry sends) to IPC_DIR/bridge.sock.
 *
 * The bridge under test must run with OCPPGW_IPC_DIR=IPC_DIR and core_count 1 and no real core
 * bound there (for events). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <czmq.h>

#include "channel.h"
#include "envelope.h"

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static int usage(void)
{
    fprintf(stderr, "usage: bridge-load events IPC_DIR COUNT TOPIC [TIMEOUT_S] [RUN_TAG]\n"
                    "       bridge-load takeover IPC_DIR POD EPOCH ACTIVE\n");
    return 2;
}

static int takeover(const char *dir, const char *pod, uint64_t epoch, bool active)
{
    char *ep = channel_ipc_endpoint(dir, "bridge");
    zsock_t *push = ep ? channel_push_connect(ep, 0) : NULL;
    free(ep);
    if (!push)
        return 1;
    envelope_t env = {.type = ENV_TAKEOVER};
    env.u.takeover.pod = env_str(pod);
    env.u.takeover.epoch = epoch;
    env.u.takeover.active = active;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = channel_send_envelope(push, &env, &sb);
    msgpack_sbuffer_destroy(&sb);
    zsock_destroy(&push); /* linger delivers it */
    return rc < 0 ? 1 : 0;
}

static int events(const char *dir, uint64_t count, const char *topic, double timeout,
                  const char *tag)
{
    char *ep = channel_ipc_endpoint(dir, "core-0");
    zsock_t *pull = ep ? channel_pull_bind(ep, 1000000) : NULL;
    free(ep);
    ep = channel_ipc_endpoint(dir, "bridge");
    zsock_t *push = ep ? channel_push_connect(ep, 100000) : NULL;
    free(ep);
    if (!pull || !push)
        return 1;
    uint8_t *seen = calloc(count + 1, 1);
    if (!seen)
        return 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    uint64_t sent = 0, ok = 0, err = 0, dup = 0;
    double t0 = now_s(), next_report = t0 + 0.5, end = t0 + timeout;
    char value[128], key[32], first_error[256] = "";
    while (ok + err < count && now_s() < end) {
        while (sent < count) {
            envelope_t env = {.type = ENV_EVENT};
            env.u.event.core_id = 0;
            env.u.event.token = sent + 1;
            env.u.event.topic = env_str(topic);
            snprintf(key, sizeof(key), "CP-%" PRIu64, (sent + 1) % 100);
            int n = snprintf(value, sizeof(value), "{\"run\":\"%s\",\"seq\":%" PRIu64 "}", tag,
                             sent + 1);
            env.u.event.key = env_str(key);
            env.u.event.value = (env_bin_t){(const uint8_t *)value, (size_t)n};
            if (channel_send_envelope(push, &env, &sb) < 0)
                break; /* at the high-water mark: the bridge applies flow control */
            sent++;
        }
        zmq_pollitem_t it = {zsock_resolve(pull), 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 10);
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        while (channel_recv(pull, &msg) == 0) {
            envelope_t env;
            if (envelope_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &env) == 0 &&
                env.type == ENV_EVENT_ACK && env.u.event_ack.token >= 1 &&
                env.u.event_ack.token <= count) {
                if (seen[env.u.event_ack.token]) {
                    dup++;
                } else {
                    seen[env.u.event_ack.token] = 1;
                    if (env.u.event_ack.status == 0) {
                        ok++;
                    } else {
                        err++;
                        if (!first_error[0])
                            env_str_copy(env.u.event_ack.error, first_error, sizeof(first_error));
                    }
                }
            }
            zmq_msg_close(&msg);
            zmq_msg_init(&msg);
        }
        zmq_msg_close(&msg);
        if (now_s() >= next_report) {
            printf("sent=%" PRIu64 " ok=%" PRIu64 " err=%" PRIu64 " dup=%" PRIu64
                   " missing=%" PRIu64 " seconds=%.2f\n",
                   sent, ok, err, dup, count - ok - err, now_s() - t0);
            fflush(stdout);
            next_report += 0.5;
        }
    }
    double secs = now_s() - t0;
    printf("sent=%" PRIu64 " ok=%" PRIu64 " err=%" PRIu64 " dup=%" PRIu64 " missing=%" PRIu64
           " seconds=%.2f rate=%.0f%s%s\n",
           sent, ok, err, dup, count - ok - err, secs, secs > 0 ? (double)ok / secs : 0.0,
           first_error[0] ? " first_error=" : "", first_error);
    msgpack_sbuffer_destroy(&sb);
    free(seen);
    zsock_destroy(&push);
    zsock_destroy(&pull);
    return ok == count && dup == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    zsys_handler_set(NULL);
    if (argc >= 5 && strcmp(argv[1], "events") == 0) {
        uint64_t count = strtoull(argv[3], NULL, 10);
        if (count == 0)
            return usage();
        return events(argv[2], count, argv[4], argc > 5 ? atof(argv[5]) : 60.0,
                      argc > 6 ? argv[6] : "run");
    }
    if (argc == 6 && strcmp(argv[1], "takeover") == 0)
        return takeover(argv[2], argv[3], strtoull(argv[4], NULL, 10), strcmp(argv[5], "0") != 0);
    return usage();
}
