/* registry-driver: stands in for a pod's cores and kafka-bridge in front of a real
 * redis-registry, for the integration tests and the burst benchmark (tests/integration/
 * test_registry_*.sh, bench/registry_burst.sh).
 *
 * It binds the PULL sockets the registry pushes to (<ipc>/core-<i>, <ipc>/bridge), connects to
 * <ipc>/registry, reads commands from stdin, one per line, and prints every envelope it receives
 * as one line on stdout:
 *   in:  register CORE IDENTITY CONN [BOOT] | unregister CORE IDENTITY CONN EPOCH
 *        lookup REQ IDENTITY | dedup REQ COMMAND_ID TTL_MS | takeover_done POD EPOCH
 *        burst N PREFIX   (N REGISTERs of PREFIX0..PREFIXn-1; waits for their REGISTERED, prints
 *                          "burst PREFIX N MS" with the wall time, or "burst-timeout PREFIX N GOT"
 *                          after 120 s)
 *   out: registered CORE IDENTITY CONN EPOCH STATUS PREV BOOT
 *        superseded CORE IDENTITY CONN EPOCH BY_POD
 *        owner REQ IDENTITY POD EPOCH LIVE STATUS | dedup_result REQ COMMAND_ID FIRST STATUS
 *        takeover POD EPOCH ACTIVE | event TOPIC KEY VALUE | busy CORE BUSY QUEUED LIMIT REDIS_UP
 * Empty strings print as "-". Usage: registry-driver IPC_DIR CORE_COUNT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <czmq.h>

#include "channel.h"
#include "envelope.h"
#include "hash.h"
#include "identity.h"

static struct {
    int ncores;
    zsock_t **cores;
    zsock_t *bridge;
    zsock_t *registry;
    msgpack_sbuffer scratch;
    char line[8192];
    size_t used;
    char prefix[40];
    size_t burst_total, burst_got;
    uint64_t burst_t0;
} D;

static uint64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static const char *text(env_str_t s, char *buf, size_t len)
{
    env_str_copy(s, buf, len);
    return buf[0] ? buf : "-";
}

static void print_envelope(int core, const envelope_t *e)
{
    char a[256], b[256];
    switch (e->type) {
    case ENV_REGISTERED: {
        const env_registered_t *m = &e->u.registered;
        text(m->identity, a, sizeof(a));
        if (D.burst_total && strncmp(a, D.prefix, strlen(D.prefix)) == 0) {
            D.burst_got++;
            return;
        }
        printf("registered %d %s %" PRIu64 " %" PRIu64 " %d %s", core, a, m->conn_id, m->epoch,
               m->status, text(m->previous_pod, b, sizeof(b)));
        printf(" %s\n", text(m->boot_state, b, sizeof(b)));
        break;
    }
    case ENV_SUPERSEDED: {
        const env_superseded_t *m = &e->u.superseded;
        printf("superseded %d %s %" PRIu64 " %" PRIu64 " %s\n", core,
               text(m->identity, a, sizeof(a)), m->conn_id, m->epoch,
               text(m->by_pod, b, sizeof(b)));
        break;
    }
    case ENV_OWNER: {
        const env_owner_t *m = &e->u.owner;
        printf("owner %" PRIu64 " %s", m->request_id, text(m->identity, a, sizeof(a)));
        printf(" %s %" PRIu64 " %d %d\n", text(m->pod, b, sizeof(b)), m->epoch, m->live ? 1 : 0,
               m->status);
        break;
    }
    case ENV_DEDUP_RESULT: {
        const env_dedup_result_t *m = &e->u.dedup_result;
        printf("dedup_result %" PRIu64 " %s %d %d\n", m->request_id,
               text(m->command_id, a, sizeof(a)), m->first ? 1 : 0, m->status);
        break;
    }
    case ENV_TAKEOVER: {
        const env_takeover_t *m = &e->u.takeover;
        printf("takeover %s %" PRIu64 " %d\n", text(m->pod, a, sizeof(a)), m->epoch,
               m->active ? 1 : 0);
        break;
    }
    case ENV_EVENT: {
        const env_event_t *m = &e->u.event;
        printf("event %s %s %.*s\n", text(m->topic, a, sizeof(a)), text(m->key, b, sizeof(b)),
               (int)m->value.len, (const char *)m->value.ptr);
        break;
    }
    case ENV_REGISTRY_BUSY: {
        const env_registry_busy_t *m = &e->u.registry_busy;
        printf("busy %d %d %u %u %d\n", core, m->busy ? 1 : 0, m->queued, m->limit,
               m->redis_up ? 1 : 0);
        break;
    }
    default:
        printf("other %d %s\n", core, envelope_type_name(e->type));
    }
}

static void drain(zsock_t *sock, int core)
{
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (channel_recv(sock, &msg) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        envelope_t env;
        if (envelope_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &env) == 0)
            print_envelope(core, &env);
        else
            printf("undecodable %d\n", core);
        zmq_msg_close(&msg);
    }
    fflush(stdout);
}

static void drain_all(void)
{
    for (int i = 0; i < D.ncores; i++)
        drain(D.cores[i], i);
    drain(D.bridge, -1);
}

static void send_env(const envelope_t *env)
{
    msgpack_sbuffer_clear(&D.scratch);
    envelope_encode(env, &D.scratch);
    while (channel_send_wait(D.registry, D.scratch.data, D.scratch.size, 100) == -EAGAIN)
        drain_all(); /* keep our own inputs moving while the registry catches up */
}

static void send_register(uint32_t core, const char *identity, uint64_t conn, const char *boot)
{
    envelope_t env = {.type = ENV_REGISTER};
    env.u.register_.core_id = core;
    env.u.register_.identity = env_str(identity);
    env.u.register_.conn_id = conn;
    env.u.register_.edge_id = env_str("edge-0");
    env.u.register_.ocpp_version = env_str("ocpp1.6");
    env.u.register_.boot_state = env_str(boot);
    env.u.register_.since_us = now_ms() * 1000u;
    send_env(&env);
}

static void burst(size_t n, const char *prefix)
{
    snprintf(D.prefix, sizeof(D.prefix), "%s", prefix);
    D.burst_total = n;
    D.burst_got = 0;
    D.burst_t0 = now_ms();
    for (size_t i = 0; i < n; i++) {
        char id[IDENTITY_MAX + 1];
        snprintf(id, sizeof(id), "%s%zu", prefix, i);
        send_register(hash_core_index(id, strlen(id), (uint32_t)D.ncores), id, 1000000 + i, "none");
        if (i % 256 == 0)
            drain_all();
    }
    while (D.burst_got < n && now_ms() - D.burst_t0 < 120000) {
        zmq_pollitem_t items[65];
        for (int i = 0; i < D.ncores; i++)
            items[i] = (zmq_pollitem_t){zsock_resolve(D.cores[i]), 0, ZMQ_POLLIN, 0};
        zmq_poll(items, D.ncores, 100);
        drain_all();
    }
    if (D.burst_got < n)
        printf("burst-timeout %s %zu %zu\n", prefix, n, D.burst_got);
    else
        printf("burst %s %zu %" PRIu64 "\n", prefix, n, now_ms() - D.burst_t0);
    fflush(stdout);
    D.burst_total = 0;
}

static void command(char *line)
{
    char *argv[8] = {0};
    int argc = 0;
    for (char *save = NULL, *tok = strtok_r(line, " \t", &save); tok && argc < 8;
         tok = strtok_r(NULL, " \t", &save))
        argv[argc++] = tok;
    if (argc == 0)
        return;
    envelope_t env = {0};
    if (strcmp(argv[0], "register") == 0 && argc >= 4) {
        send_register((uint32_t)strtoul(argv[1], NULL, 10), argv[2], strtoull(argv[3], NULL, 10),
                      argc > 4 ? argv[4] : "none");
    } else if (strcmp(argv[0], "unregister") == 0 && argc == 5) {
        env.type = ENV_UNREGISTER;
        env.u.unregister.core_id = (uint32_t)strtoul(argv[1], NULL, 10);
        env.u.unregister.identity = env_str(argv[2]);
        env.u.unregister.conn_id = strtoull(argv[3], NULL, 10);
        env.u.unregister.epoch = strtoull(argv[4], NULL, 10);
        send_env(&env);
    } else if (strcmp(argv[0], "lookup") == 0 && argc == 3) {
        env.type = ENV_LOOKUP;
        env.u.lookup.request_id = strtoull(argv[1], NULL, 10);
        env.u.lookup.identity = env_str(argv[2]);
        send_env(&env);
    } else if (strcmp(argv[0], "dedup") == 0 && argc == 4) {
        env.type = ENV_DEDUP;
        env.u.dedup.request_id = strtoull(argv[1], NULL, 10);
        env.u.dedup.command_id = env_str(argv[2]);
        env.u.dedup.ttl_ms = strtoull(argv[3], NULL, 10);
        send_env(&env);
    } else if (strcmp(argv[0], "takeover_done") == 0 && argc == 3) {
        env.type = ENV_TAKEOVER_DONE;
        env.u.takeover_done.pod = env_str(argv[1]);
        env.u.takeover_done.epoch = strtoull(argv[2], NULL, 10);
        send_env(&env);
    } else if (strcmp(argv[0], "burst") == 0 && argc == 3) {
        burst(strtoul(argv[1], NULL, 10), argv[2]);
    } else {
        printf("bad-command %s\n", argv[0]);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: registry-driver IPC_DIR CORE_COUNT\n");
        return 2;
    }
    long ncores = strtol(argv[2], NULL, 10);
    D.ncores = ncores > 0 && ncores <= 64 ? (int)ncores : 1;
    zsys_handler_set(NULL);
    D.cores = calloc((size_t)D.ncores, sizeof(*D.cores));
    for (int i = 0; i < D.ncores; i++) {
        char name[32];
        snprintf(name, sizeof(name), "core-%d", i);
        char *ep = channel_ipc_endpoint(argv[1], name);
        D.cores[i] = ep ? channel_pull_bind(ep, 100000) : NULL;
        free(ep);
        if (!D.cores[i])
            return 1;
    }
    char *ep = channel_ipc_endpoint(argv[1], "bridge");
    D.bridge = ep ? channel_pull_bind(ep, 100000) : NULL;
    free(ep);
    ep = channel_ipc_endpoint(argv[1], "registry");
    D.registry = ep ? channel_push_connect(ep, 100000) : NULL;
    free(ep);
    if (!D.bridge || !D.registry)
        return 1;
    msgpack_sbuffer_init(&D.scratch);
    printf("driver ready\n");
    fflush(stdout);

    bool eof = false;
    while (!eof) {
        zmq_pollitem_t items[66];
        int n = 0;
        items[n++] = (zmq_pollitem_t){NULL, 0, ZMQ_POLLIN, 0};
        for (int i = 0; i < D.ncores; i++)
            items[n++] = (zmq_pollitem_t){zsock_resolve(D.cores[i]), 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){zsock_resolve(D.bridge), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(items, n, 200) < 0 && errno != EINTR)
            break;
        drain_all();
        if (items[0].revents & ZMQ_POLLIN) {
            ssize_t got = read(0, D.line + D.used, sizeof(D.line) - 1 - D.used);
            if (got <= 0) {
                eof = true;
            } else {
                D.used += (size_t)got;
                char *nl;
                while ((nl = memchr(D.line, '\n', D.used))) {
                    *nl = '\0';
                    size_t len = (size_t)(nl - D.line) + 1;
                    command(D.line);
                    memmove(D.line, D.line + len, D.used - len);
                    D.used -= len;
                }
                if (D.used == sizeof(D.line) - 1)
                    D.used = 0; /* overlong line: dropped */
            }
        }
    }
    drain_all();
    for (int i = 0; i < D.ncores; i++)
        zsock_destroy(&D.cores[i]);
    free(D.cores);
    zsock_destroy(&D.bridge);
    zsock_destroy(&D.registry);
    msgpack_sbuffer_destroy(&D.scratch);
    return 0;
}
