/* creds.c: `envelope-tool creds`, redis-registry's credential sync towards one ws-edge, for
 * tests/integration/test_edge_tls.sh and bench/bench_edge_tls.sh (the contract of
 * DESIGN-12-13 "Security" and docs/security.md, without Redis).
 *
 *   envelope-tool creds IPC_DIR EDGE_ID [registry]
 * Connects a PUSH to the edge's socket (IPC_DIR/edge-EDGE_ID.sock), prints "creds ready", then
 * reads commands from stdin, one per line:
 *   set IDENTITY NAME=VALUE...  stores the record (the fields as name=value lines, in the order
 *                               given); once a sync was sent, also sends it at once as a CRED (a
 *                               change, like the registry after `PUBLISH ocppgw:cred`)
 *   delete IDENTITY             forgets it and sends an empty CRED (deleted)
 *   sync                        a full sync: CRED_SYNC done=false, every record as a CRED,
 *                               CRED_SYNC done=true with the count; prints "sync GEN COUNT"
 * With `registry` it also binds IPC_DIR/registry.sock (no real registry may run there), sends a
 * full sync whenever a HELLO of EDGE_ID shows a new instance (the first HELLO included), and
 * prints "hello EDGE_ID INSTANCE" for those and "cred_used IDENTITY FINGERPRINT" for every
 * CRED_USED. A line it cannot read prints "bad-command NAME". It ends at the end of stdin,
 * after the socket's linger has delivered what it sent. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope_tool.h"
#include "identity.h"

#define MAX_RECORDS 4096
#define RECORD_MAX  2048

typedef struct {
    char identity[IDENTITY_MAX + 1];
    char record[RECORD_MAX];
} rec_t;

static struct {
    zsock_t *edge;     /* PUSH to the edge */
    zsock_t *registry; /* PULL bound as the registry (mode `registry`), or NULL */
    const char *edge_id;
    msgpack_sbuffer scratch;
    rec_t *recs;
    size_t nrecs;
    uint64_t generation; /* of the last sync sent (0: none yet) */
    bool seen_hello;
    uint64_t instance;
    char line[8192];
    size_t used;
} C;

static void send_env(const envelope_t *env)
{
    /* the edge must take every CRED (the registry's MUST policy): wait for room */
    msgpack_sbuffer_clear(&C.scratch);
    if (envelope_encode(env, &C.scratch) < 0 ||
        channel_send_wait(C.edge, C.scratch.data, C.scratch.size, 5000) < 0)
        fprintf(stderr, "envelope-tool creds: could not send %s\n", envelope_type_name(env->type));
}

static void send_cred(const char *identity, const char *record)
{
    envelope_t env = {.type = ENV_CRED};
    env.u.cred.identity = env_str(identity);
    env.u.cred.record = (env_bin_t){(const uint8_t *)record, strlen(record)};
    env.u.cred.generation = C.generation;
    send_env(&env);
}

static void full_sync(void)
{
    envelope_t env = {.type = ENV_CRED_SYNC};
    env.u.cred_sync.generation = ++C.generation;
    send_env(&env);
    for (size_t i = 0; i < C.nrecs; i++)
        send_cred(C.recs[i].identity, C.recs[i].record);
    env.u.cred_sync.count = C.nrecs;
    env.u.cred_sync.done = true;
    send_env(&env);
    printf("sync %" PRIu64 " %zu\n", C.generation, C.nrecs);
    fflush(stdout);
}

static rec_t *find(const char *identity)
{
    for (size_t i = 0; i < C.nrecs; i++)
        if (strcmp(C.recs[i].identity, identity) == 0)
            return &C.recs[i];
    return NULL;
}

static bool cmd_set(int argc, char **argv)
{
    if (argc < 3 || !identity_valid(argv[1], strlen(argv[1])))
        return false;
    rec_t *r = find(argv[1]);
    if (!r) {
        if (C.nrecs == MAX_RECORDS)
            return false;
        r = &C.recs[C.nrecs++];
        snprintf(r->identity, sizeof(r->identity), "%s", argv[1]);
    }
    size_t o = 0;
    r->record[0] = '\0';
    for (int i = 2; i < argc; i++) {
        int n = snprintf(r->record + o, sizeof(r->record) - o, "%s%s", i > 2 ? "\n" : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof(r->record) - o)
            return false;
        o += (size_t)n;
    }
    if (C.generation)
        send_cred(r->identity, r->record);
    return true;
}

static bool cmd_delete(int argc, char **argv)
{
    if (argc != 2)
        return false;
    rec_t *r = find(argv[1]);
    if (r) {
        *r = C.recs[--C.nrecs];
    }
    send_cred(argv[1], "");
    return true;
}

static bool command(char *line)
{
    char *argv[32] = {0};
    int argc = 0;
    for (char *save = NULL, *tok = strtok_r(line, " \t", &save); tok && argc < 32;
         tok = strtok_r(NULL, " \t", &save))
        argv[argc++] = tok;
    if (argc == 0)
        return true;
    if (strcmp(argv[0], "set") == 0)
        return cmd_set(argc, argv);
    if (strcmp(argv[0], "delete") == 0)
        return cmd_delete(argc, argv);
    if (strcmp(argv[0], "sync") == 0 && argc == 1) {
        full_sync();
        return true;
    }
    return false;
}

/* Reads what stdin has and runs every complete line; false at its end. */
static bool read_commands(void)
{
    ssize_t got = read(0, C.line + C.used, sizeof(C.line) - 1 - C.used);
    if (got <= 0)
        return false;
    C.used += (size_t)got;
    char *nl;
    while ((nl = memchr(C.line, '\n', C.used))) {
        *nl = '\0';
        size_t len = (size_t)(nl - C.line) + 1;
        char name[32];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(C.line, " \t"), C.line);
        if (!command(C.line)) {
            printf("bad-command %s\n", name);
            fflush(stdout);
        }
        memmove(C.line, C.line + len, C.used - len);
        C.used -= len;
    }
    if (C.used == sizeof(C.line) - 1)
        C.used = 0; /* overlong line: dropped */
    return true;
}

/* What the edge sends the registry: HELLO (a new instance gets a full sync), CRED_USED. */
static void from_edge(const envelope_t *env, void *arg)
{
    (void)arg;
    char a[128], b[64];
    if (env->type == ENV_HELLO) {
        env_str_copy(env->u.hello.edge_id, a, sizeof(a));
        if (strcmp(a, C.edge_id) != 0 || (C.seen_hello && env->u.hello.instance == C.instance))
            return;
        C.seen_hello = true;
        C.instance = env->u.hello.instance;
        printf("hello %s %" PRIu64 "\n", a, C.instance);
        full_sync();
    } else if (env->type == ENV_CRED_USED) {
        env_str_copy(env->u.cred_used.identity, a, sizeof(a));
        env_str_copy(env->u.cred_used.fingerprint, b, sizeof(b));
        printf("cred_used %s %s\n", a, b);
    }
    fflush(stdout);
}

int tool_creds(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[2], "registry") != 0)
        return 2;
    char name[128];
    snprintf(name, sizeof(name), "edge-%s", argv[1]);
    C.edge_id = argv[1];
    C.edge = channel_push_to(argv[0], name, 100000);
    C.registry = argc > 2 ? channel_pull_at(argv[0], "registry", 100000) : NULL;
    C.recs = calloc(MAX_RECORDS, sizeof(*C.recs));
    msgpack_sbuffer_init(&C.scratch);
    int rc = 1;
    if (!C.edge || !C.recs || (argc > 2 && !C.registry))
        goto out;
    printf("creds ready\n");
    fflush(stdout);
    bool more = true;
    while (more) {
        zmq_pollitem_t items[2] = {{NULL, 0, ZMQ_POLLIN, 0}, {NULL, 0, ZMQ_POLLIN, 0}};
        if (C.registry)
            items[1].socket = zsock_resolve(C.registry);
        if (zmq_poll(items, C.registry ? 2 : 1, 200) < 0 && errno != EINTR)
            break;
        if (C.registry)
            tool_drain(C.registry, "edge", from_edge, NULL);
        /* a pipe whose writer closed polls as POLLHUP (ZMQ_POLLERR) without POLLIN */
        if (items[0].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
            more = read_commands();
    }
    rc = 0;
out:
    zsock_destroy(&C.edge); /* its linger delivers what is still queued */
    zsock_destroy(&C.registry);
    msgpack_sbuffer_destroy(&C.scratch);
    free(C.recs);
    return rc;
}
