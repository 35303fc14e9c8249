/* registry.c: `envelope-tool registry`, a pod's cores and kafka-bridge in front of a real
 * redis-registry, for the integration tests and the burst benchmark (tests/integration/
 * test_registry_*.sh through registry_lib.sh, bench/bench_registry_burst.sh).
 *
 *   envelope-tool registry IPC_DIR CORE_COUNT
 * It binds the PULL sockets the registry pushes to (<ipc>/core-<i>, <ipc>/bridge), connects to
 * <ipc>/registry, prints "driver ready", then reads commands from stdin, one per line, and prints
 * every envelope it receives as one line on stdout:
 *   in:  register CORE IDENTITY CONN [BOOT [EPOCH [AUTH]]]  (EPOCH: the one the connection holds,
 *                          as a core re-registering after a registry restart; AUTH 1: passed its
 *                          station's security profile)
 *        unregister CORE IDENTITY CONN EPOCH
 *        lookup REQ IDENTITY | dedup REQ COMMAND_ID TTL_MS | takeover_done POD EPOCH
 *        announce STAGE INDEX INSTANCE (an ANNOUNCE of a core or the bridge)
 *        tag REQ CORE ID_TAG | cred_used IDENTITY FINGERPRINT
 *        hello EDGE INSTANCE  (plays ws-edge EDGE: binds <ipc>/edge-EDGE, sends HELLO with it)
 *        burst N PREFIX   (N REGISTERs of PREFIX0..PREFIXn-1; waits for their REGISTERED, prints
 *                          "burst PREFIX N MS" with the wall time, or "burst-timeout PREFIX N GOT"
 *                          after 120 s)
 *   out: registered CORE IDENTITY CONN EPOCH STATUS PREV BOOT
 *        superseded CORE IDENTITY CONN EPOCH BY_POD
 *        owner REQ IDENTITY POD EPOCH LIVE STATUS | dedup_result REQ COMMAND_ID FIRST STATUS
 *        takeover POD EPOCH ACTIVE | event TOPIC KEY VALUE | busy CORE BUSY QUEUED LIMIT REDIS_UP
 *        tag_info CORE REQ ID_TAG FOUND STATUS EXPIRES_AT_MS ERROR
 *        announce CORE STAGE INDEX INSTANCE
 *        cred EDGE IDENTITY GENERATION RECORD (its lines joined by '|') | cred_sync EDGE GEN COUNT
 * DONE other CORE TYPE | bad-command NAME (a line it could not read) CORE is -1 for what came on
 * the bridge's socket, -2 on an edge's. Empty strings print as "-". It ends at the end of stdin. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "envelope_tool.h"
#include "hash.h"
#include "identity.h"

#define MAX_CORES 64
#define MAX_EDGES 8

typedef struct {
    zsock_t *sock;
    int core;      /* -1: the bridge's socket, -2: an edge's */
    char edge[32]; /* the edge's id */
} inbox_t;

static struct {
    int ncores, nin;
    inbox_t in[MAX_CORES + 1 + MAX_EDGES]; /* the cores', the bridge's, the edges' */
    const char *ipc_dir;
    zsock_t *registry;
    msgpack_sbuffer scratch;
    char line[8192];
    size_t used;
    char prefix[40];
    size_t burst_total, burst_got;
} D;

static const char *text(env_str_t s, char *buf, size_t len)
{
    env_str_copy(s, buf, len);
    return buf[0] ? buf : "-";
}

static void print_envelope(const envelope_t *e, void *arg)
{
    int core = ((const inbox_t *)arg)->core;
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
    case ENV_TAG_INFO: {
        const env_tag_info_t *m = &e->u.tag_info;
        printf("tag_info %d %" PRIu64 " %s", core, m->request_id, text(m->id_tag, a, sizeof(a)));
        printf(" %d %s %" PRIu64 " %d\n", m->found ? 1 : 0, text(m->status, b, sizeof(b)),
               m->expires_at_ms, m->error);
        break;
    }
    case ENV_TXID_RANGE: {
        const env_txid_range_t *m = &e->u.txid_range;
        printf("txid_range %d %" PRIu64 " %" PRIu64 " %u %d\n", core, m->request_id, m->first,
               m->count, m->error);
        break;
    }
    case ENV_TXID_CLAIMED: {
        const env_txid_claimed_t *m = &e->u.txid_claimed;
        printf("txid_claimed %d %" PRIu64 " %" PRIu64 " %d %d\n", core, m->request_id, m->id,
               m->first ? 1 : 0, m->error);
        break;
    }
    case ENV_ANNOUNCE: {
        const env_announce_t *m = &e->u.announce;
        char who[32];
        snprintf(who, sizeof(who), "%d", core);
        printf("announce %s %s %u %" PRIu64 "\n", core == -2 ? ((const inbox_t *)arg)->edge : who,
               text(m->stage, a, sizeof(a)), m->index, m->instance);
        break;
    }
    case ENV_CRED: {
        const env_cred_t *m = &e->u.cred;
        printf("cred %s %s %" PRIu64 " ", ((const inbox_t *)arg)->edge,
               text(m->identity, a, sizeof(a)), m->generation);
        for (size_t i = 0; i < m->record.len; i++)
            putchar(m->record.ptr[i] == '\n' ? '|' : m->record.ptr[i]);
        printf("%s\n", m->record.len ? "" : "-");
        break;
    }
    case ENV_CRED_SYNC: {
        const env_cred_sync_t *m = &e->u.cred_sync;
        printf("cred_sync %s %" PRIu64 " %" PRIu64 " %d\n", ((const inbox_t *)arg)->edge,
               m->generation, m->count, m->done ? 1 : 0);
        break;
    }
    default:
        printf("other %d %s\n", core, envelope_type_name(e->type));
    }
}

static void drain_all(void)
{
    for (int i = 0; i < D.nin; i++)
        tool_drain(D.in[i].sock, "redis-registry", print_envelope, &D.in[i]);
    fflush(stdout);
}

static void send_env(const envelope_t *env)
{
    msgpack_sbuffer_clear(&D.scratch);
    envelope_encode(env, &D.scratch);
    while (channel_send_wait(D.registry, D.scratch.data, D.scratch.size, 100) == -EAGAIN)
        drain_all(); /* keep our own inputs moving while the registry catches up */
}

static void send_register(uint32_t core, const char *identity, uint64_t conn, const char *boot,
                          uint64_t epoch, bool authenticated)
{
    envelope_t env = {.type = ENV_REGISTER};
    env.u.register_.core_id = core;
    env.u.register_.identity = env_str(identity);
    env.u.register_.conn_id = conn;
    env.u.register_.edge_id = env_str("edge-0");
    env.u.register_.ocpp_version = env_str("ocpp1.6");
    env.u.register_.boot_state = env_str(boot);
    env.u.register_.since_us = clock_now_us();
    env.u.register_.epoch = epoch;
    env.u.register_.authenticated = authenticated;
    send_env(&env);
}

/* Plays ws-edge id: its PULL socket bound once, a HELLO naming it. */
static bool send_hello(const char *id, uint64_t instance)
{
    inbox_t *in = NULL;
    for (int i = 0; i < D.nin; i++)
        if (D.in[i].core == -2 && strcmp(D.in[i].edge, id) == 0)
            in = &D.in[i];
    char name[48];
    snprintf(name, sizeof(name), "edge-%s", id);
    if (!in) {
        if (D.nin >= (int)(sizeof(D.in) / sizeof(D.in[0])) || strlen(id) >= sizeof(in->edge))
            return false;
        in = &D.in[D.nin];
        *in = (inbox_t){channel_pull_at(D.ipc_dir, name, 100000), -2, ""};
        if (!in->sock)
            return false;
        snprintf(in->edge, sizeof(in->edge), "%s", id);
        D.nin++;
    }
    char *endpoint = channel_ipc_endpoint(D.ipc_dir, name);
    envelope_t env = {.type = ENV_HELLO};
    env.u.hello.edge_id = env_str(id);
    env.u.hello.endpoint = env_str(endpoint);
    env.u.hello.instance = instance;
    send_env(&env);
    free(endpoint);
    return true;
}

static void wait_inputs(int timeout_ms)
{
    zmq_pollitem_t items[MAX_CORES + 1 + MAX_EDGES];
    for (int i = 0; i < D.nin; i++)
        items[i] = (zmq_pollitem_t){zsock_resolve(D.in[i].sock), 0, ZMQ_POLLIN, 0};
    zmq_poll(items, D.nin, timeout_ms);
}

static void burst(uint64_t n, const char *prefix)
{
    snprintf(D.prefix, sizeof(D.prefix), "%s", prefix);
    D.burst_total = n;
    D.burst_got = 0;
    uint64_t t0 = clock_mono_us();
    for (uint64_t i = 0; i < n; i++) {
        char id[IDENTITY_MAX + 1];
        snprintf(id, sizeof(id), "%s%" PRIu64, prefix, i);
        send_register(hash_core_index(id, strlen(id), (uint32_t)D.ncores), id, 1000000 + i, "none",
                      0, false);
        if (i % 256 == 0)
            drain_all();
    }
    while (D.burst_got < n && clock_mono_us() - t0 < 120000000u) {
        wait_inputs(100);
        drain_all();
    }
    if (D.burst_got < n)
        printf("burst-timeout %s %" PRIu64 " %zu\n", prefix, n, D.burst_got);
    else
        printf("burst %s %" PRIu64 " %" PRIu64 "\n", prefix, n, (clock_mono_us() - t0) / 1000u);
    fflush(stdout);
    D.burst_total = 0;
}

/* The connections of burst(n, prefix) close: one UNREGISTER each, by connection (epoch 0). */
static void unburst(uint64_t n, const char *prefix)
{
    for (uint64_t i = 0; i < n; i++) {
        char id[IDENTITY_MAX + 1];
        snprintf(id, sizeof(id), "%s%" PRIu64, prefix, i);
        envelope_t env = {.type = ENV_UNREGISTER};
        env.u.unregister =
            (env_unregister_t){.core_id = hash_core_index(id, strlen(id), (uint32_t)D.ncores),
                               .identity = env_str(id),
                               .conn_id = 1000000 + i};
        send_env(&env);
        if (i % 256 == 0)
            drain_all();
    }
    printf("unburst %s %" PRIu64 "\n", prefix, n);
    fflush(stdout);
}

/* One command line; false when it does not read (wrong name, count or number). */
static bool command(char *line)
{
    char *argv[8] = {0};
    int argc = 0;
    for (char *save = NULL, *tok = strtok_r(line, " \t", &save); tok && argc < 8;
         tok = strtok_r(NULL, " \t", &save))
        argv[argc++] = tok;
    if (argc == 0)
        return true;
    const char *name = argv[0];
    uint64_t x = 0, y = 0, z = 0;
    envelope_t env = {0};
    if (strcmp(name, "register") == 0 && argc >= 4 && argc <= 7) {
        uint64_t auth = 0;
        if (tool_parse_u64(argv[1], "CORE", &x) < 0 || tool_parse_u64(argv[3], "CONN", &y) < 0 ||
            (argc > 5 && tool_parse_u64(argv[5], "EPOCH", &z) < 0) ||
            (argc > 6 && tool_parse_u64(argv[6], "AUTH", &auth) < 0))
            return false;
        send_register((uint32_t)x, argv[2], y, argc > 4 ? argv[4] : "none", z, auth != 0);
    } else if (strcmp(name, "announce") == 0 && argc == 4) {
        if (tool_parse_u64(argv[2], "INDEX", &x) < 0 || tool_parse_u64(argv[3], "INSTANCE", &y) < 0)
            return false;
        env.type = ENV_ANNOUNCE;
        env.u.announce =
            (env_announce_t){.stage = env_str(argv[1]), .index = (uint32_t)x, .instance = y};
        send_env(&env);
    } else if (strcmp(name, "tag") == 0 && argc == 4) {
        if (tool_parse_u64(argv[1], "REQ", &x) < 0 || tool_parse_u64(argv[2], "CORE", &y) < 0)
            return false;
        env.type = ENV_TAG_LOOKUP;
        env.u.tag_lookup =
            (env_tag_lookup_t){.request_id = x, .core_id = (uint32_t)y, .id_tag = env_str(argv[3])};
        send_env(&env);
    } else if (strcmp(name, "cred_used") == 0 && argc == 3) {
        env.type = ENV_CRED_USED;
        env.u.cred_used =
            (env_cred_used_t){.identity = env_str(argv[1]), .fingerprint = env_str(argv[2])};
        send_env(&env);
    } else if (strcmp(name, "hello") == 0 && argc == 3) {
        if (tool_parse_u64(argv[2], "INSTANCE", &x) < 0 || !send_hello(argv[1], x))
            return false;
    } else if (strcmp(name, "unregister") == 0 && argc == 5) {
        if (tool_parse_u64(argv[1], "CORE", &x) < 0 || tool_parse_u64(argv[3], "CONN", &y) < 0 ||
            tool_parse_u64(argv[4], "EPOCH", &z) < 0)
            return false;
        env.type = ENV_UNREGISTER;
        env.u.unregister = (env_unregister_t){
            .core_id = (uint32_t)x, .identity = env_str(argv[2]), .conn_id = y, .epoch = z};
        send_env(&env);
    } else if (strcmp(name, "lookup") == 0 && argc == 3) {
        if (tool_parse_u64(argv[1], "REQ", &x) < 0)
            return false;
        env.type = ENV_LOOKUP;
        env.u.lookup = (env_lookup_t){.request_id = x, .identity = env_str(argv[2])};
        send_env(&env);
    } else if (strcmp(name, "dedup") == 0 && argc == 4) {
        if (tool_parse_u64(argv[1], "REQ", &x) < 0 || tool_parse_u64(argv[3], "TTL_MS", &y) < 0)
            return false;
        env.type = ENV_DEDUP;
        env.u.dedup = (env_dedup_t){.request_id = x, .command_id = env_str(argv[2]), .ttl_ms = y};
        send_env(&env);
    } else if (strcmp(name, "takeover_done") == 0 && argc == 3) {
        if (tool_parse_u64(argv[2], "EPOCH", &x) < 0)
            return false;
        env.type = ENV_TAKEOVER_DONE;
        env.u.takeover_done = (env_takeover_done_t){.pod = env_str(argv[1]), .epoch = x};
        send_env(&env);
    } else if (strcmp(name, "burst") == 0 && argc == 3) {
        if (tool_parse_u64(argv[1], "N", &x) < 0)
            return false;
        burst(x, argv[2]);
    } else if (strcmp(name, "unburst") == 0 && argc == 3) {
        if (tool_parse_u64(argv[1], "N", &x) < 0)
            return false;
        unburst(x, argv[2]);
    } else if (strcmp(name, "txid_block") == 0 && argc == 4) {
        if (tool_parse_u64(argv[1], "REQ", &x) < 0 || tool_parse_u64(argv[2], "CORE", &y) < 0 ||
            tool_parse_u64(argv[3], "COUNT", &z) < 0)
            return false;
        env.type = ENV_TXID_BLOCK;
        env.u.txid_block = (env_txid_block_t){.request_id = x,
                                              .core_id = (uint32_t)y,
                                              .count = z > UINT32_MAX ? UINT32_MAX : (uint32_t)z};
        send_env(&env);
    } else if (strcmp(name, "txid_claim") == 0 && argc == 6) {
        uint64_t ttl = 0;
        if (tool_parse_u64(argv[1], "REQ", &x) < 0 || tool_parse_u64(argv[2], "CORE", &y) < 0 ||
            tool_parse_u64(argv[4], "CANDIDATE", &z) < 0 ||
            tool_parse_u64(argv[5], "TTL_MS", &ttl) < 0)
            return false;
        env.type = ENV_TXID_CLAIM;
        env.u.txid_claim = (env_txid_claim_t){.request_id = x,
                                              .core_id = (uint32_t)y,
                                              .key = env_str(argv[3]),
                                              .candidate = z,
                                              .ttl_ms = ttl};
        send_env(&env);
    } else {
        return false;
    }
    return true;
}

/* Reads what stdin has and runs every complete line; false at its end. */
static bool read_commands(void)
{
    ssize_t got = read(0, D.line + D.used, sizeof(D.line) - 1 - D.used);
    if (got <= 0)
        return false;
    D.used += (size_t)got;
    char *nl;
    while ((nl = memchr(D.line, '\n', D.used))) {
        *nl = '\0';
        size_t len = (size_t)(nl - D.line) + 1;
        char name[32];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(D.line, " \t"), D.line);
        if (!command(D.line)) {
            printf("bad-command %s\n", name);
            fflush(stdout);
        }
        memmove(D.line, D.line + len, D.used - len);
        D.used -= len;
    }
    if (D.used == sizeof(D.line) - 1)
        D.used = 0; /* overlong line: dropped */
    return true;
}

int tool_registry(int argc, char **argv)
{
    uint64_t ncores = 0;
    if (tool_parse_u64(argv[1], "CORE_COUNT", &ncores) < 0)
        return 2;
    D.ncores = ncores > 0 && ncores <= MAX_CORES ? (int)ncores : 1;
    D.ipc_dir = argv[0];
    for (int i = 0; i < D.ncores; i++) {
        char name[32];
        snprintf(name, sizeof(name), "core-%d", i);
        D.in[i] = (inbox_t){channel_pull_at(argv[0], name, 100000), i, ""};
    }
    D.in[D.ncores] = (inbox_t){channel_pull_at(argv[0], "bridge", 100000), -1, ""};
    D.nin = D.ncores + 1;
    D.registry = channel_push_to(argv[0], "registry", 100000);
    msgpack_sbuffer_init(&D.scratch);
    int rc = 1;
    for (int i = 0; i <= D.ncores; i++)
        if (!D.in[i].sock)
            goto out;
    if (!D.registry)
        goto out;
    printf("driver ready\n");
    fflush(stdout);

    bool more = true;
    while (more) {
        zmq_pollitem_t items[MAX_CORES + 2 + MAX_EDGES];
        items[0] = (zmq_pollitem_t){NULL, 0, ZMQ_POLLIN, 0};
        for (int i = 0; i < D.nin; i++)
            items[1 + i] = (zmq_pollitem_t){zsock_resolve(D.in[i].sock), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(items, D.nin + 1, 200) < 0 && errno != EINTR)
            break;
        drain_all();
        /* a pipe whose writer closed polls as POLLHUP (ZMQ_POLLERR) without POLLIN: read it too,
         * or the loop would spin at its end instead of seeing it */
        if (items[0].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
            more = read_commands();
    }
    drain_all();
    rc = 0;
out:
    for (int i = 0; i < D.nin; i++)
        zsock_destroy(&D.in[i].sock);
    zsock_destroy(&D.registry);
    msgpack_sbuffer_destroy(&D.scratch);
    return rc;
}
