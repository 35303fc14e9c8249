/* events.c: `envelope-tool events`, ocpp-core 0 (the sender of EVENTs) towards one kafka-bridge,
 * for tests/integration/test_bridge_events.sh and bench/bench_bridge_publish.sh.
 *
 *   envelope-tool events IPC_DIR COUNT TOPIC [TIMEOUT_S] [RUN_TAG]
 *       binds IPC_DIR/core-0.sock (as core 0), pushes COUNT EVENTs with tokens 1..COUNT to
 *       IPC_DIR/bridge.sock (key CP-<n % 100>, value {"run":RUN_TAG,"seq":n}), and collects the
 *       EVENT_ACKs. Every 0.5 s and at the end it prints one line
 *           sent=S ok=A err=E dup=D missing=M seconds=T rate=R [first_error=...]
 *       (ok: acked as persisted, err: acked as not persisted, dup: a token acked twice; rate and
 *       first_error on the last line only).
 *       Exit 0 when every event was acked as persisted before TIMEOUT_S (default 60), else 1.
 *
 * The bridge under test must run with OCPPGW_IPC_DIR=IPC_DIR and core_count 1 and no real core
 * bound there. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "envelope_tool.h"

typedef struct {
    uint64_t count;
    uint8_t *seen; /* [token]: an EVENT_ACK came for it */
    uint64_t sent, ok, err, dup;
    char first_error[256];
} load_t;

static void on_ack(const envelope_t *env, void *arg)
{
    load_t *l = arg;
    if (env->type != ENV_EVENT_ACK)
        return;
    const env_event_ack_t *ack = &env->u.event_ack;
    if (ack->token < 1 || ack->token > l->count)
        return;
    if (l->seen[ack->token]) {
        l->dup++;
        return;
    }
    l->seen[ack->token] = 1;
    if (ack->status == 0) {
        l->ok++;
        return;
    }
    l->err++;
    if (!l->first_error[0])
        env_str_copy(ack->error, l->first_error, sizeof(l->first_error));
}

/* Pushes EVENTs until COUNT are sent or the bridge's socket is full (its flow control). */
static void push_events(load_t *l, zsock_t *push, const char *topic, const char *tag,
                        msgpack_sbuffer *sb)
{
    char value[128], key[32];
    while (l->sent < l->count) {
        uint64_t seq = l->sent + 1;
        envelope_t env = {.type = ENV_EVENT};
        env.u.event.core_id = 0;
        env.u.event.token = seq;
        env.u.event.topic = env_str(topic);
        snprintf(key, sizeof(key), "CP-%" PRIu64, seq % 100);
        int n = snprintf(value, sizeof(value), "{\"run\":\"%s\",\"seq\":%" PRIu64 "}", tag, seq);
        env.u.event.key = env_str(key);
        env.u.event.value = (env_bin_t){(const uint8_t *)value, (size_t)n};
        if (channel_send_envelope(push, &env, sb) < 0)
            return;
        l->sent++;
    }
}

static void report(const load_t *l, double secs, bool last)
{
    printf("sent=%" PRIu64 " ok=%" PRIu64 " err=%" PRIu64 " dup=%" PRIu64 " missing=%" PRIu64
           " seconds=%.2f",
           l->sent, l->ok, l->err, l->dup, l->count - l->ok - l->err, secs);
    if (last)
        printf(" rate=%.0f%s%s", secs > 0 ? (double)l->ok / secs : 0.0,
               l->first_error[0] ? " first_error=" : "", l->first_error);
    printf("\n");
    fflush(stdout);
}

int tool_events(int argc, char **argv)
{
    load_t l = {0};
    uint64_t timeout_s = 60;
    if (tool_parse_u64(argv[1], "COUNT", &l.count) < 0 || l.count == 0 ||
        (argc > 3 && tool_parse_u64(argv[3], "TIMEOUT_S", &timeout_s) < 0))
        return 2;
    const char *topic = argv[2], *tag = argc > 4 ? argv[4] : "run";
    zsock_t *pull = channel_pull_at(argv[0], "core-0", 1000000);
    zsock_t *push = channel_push_to(argv[0], "bridge", 100000);
    l.seen = calloc(l.count + 1, 1);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = 1;
    if (!pull || !push || !l.seen)
        goto out;
    uint64_t t0 = clock_mono_us(), end = t0 + timeout_s * 1000000u, next_report = t0 + 500000;
    while (l.ok + l.err < l.count && clock_mono_us() < end) {
        push_events(&l, push, topic, tag, &sb);
        zmq_pollitem_t it = {zsock_resolve(pull), 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 10);
        tool_drain(pull, "kafka-bridge", on_ack, &l);
        if (clock_mono_us() >= next_report) {
            report(&l, (double)(clock_mono_us() - t0) / 1e6, false);
            next_report += 500000;
        }
    }
    report(&l, (double)(clock_mono_us() - t0) / 1e6, true);
    rc = l.ok == l.count && l.dup == 0 ? 0 : 1;
out:
    msgpack_sbuffer_destroy(&sb);
    free(l.seen);
    zsock_destroy(&push);
    zsock_destroy(&pull);
    return rc;
}
