/* core.c: `envelope-tool core`, ocpp-core 0 in front of a real ws-edge, for the integration test
 * of the edge's reconciliation with a restarted core (tests/integration/test_edge_reannounce.sh).
 *
 *   envelope-tool core IPC_DIR [HWM]
 * It binds <ipc>/core-0 (the PULL socket an edge pushes to, HWM messages deep: default 100000),
 * prints "driver ready", then prints
 * every envelope it receives as one line on stdout and reads commands from stdin, one per line:
 *   out: hello EDGE_ID ENDPOINT INSTANCE
 *        connect CONN IDENTITY SUBPROTOCOL PEER AT_US RESUMED BOOT AUTH PROFILE
 *        frame CONN IDENTITY SUBPROTOCOL BOOT AUTH DATA
 *        disconnect CONN CODE REASON | other TYPE
 *   in:  announce INSTANCE   (ANNOUNCE {core, 0, INSTANCE} to the edge of the last HELLO)
 *        conn_state CONN BOOT | send CONN TEXT (the rest of the line)
 *        pause | resume      (stop / start reading core-0: the edge's queue fills up)
 * Empty strings print as "-". It ends at the end of stdin. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope_tool.h"

static struct {
    zsock_t *in;
    zsock_t *edge; /* PUSH to the endpoint of the last HELLO */
    char endpoint[256];
    bool paused;
    msgpack_sbuffer scratch;
    char line[8192];
    size_t used;
} K;

static const char *text(env_str_t s, char *buf, size_t len)
{
    env_str_copy(s, buf, len);
    return buf[0] ? buf : "-";
}

static void hello(const env_hello_t *h)
{
    char id[64], ep[256];
    printf("hello %s %s %" PRIu64 "\n", text(h->edge_id, id, sizeof(id)),
           text(h->endpoint, ep, sizeof(ep)), h->instance);
    if (strcmp(ep, K.endpoint) == 0)
        return;
    zsock_destroy(&K.edge);
    snprintf(K.endpoint, sizeof(K.endpoint), "%s", ep);
    K.edge = channel_push_connect(K.endpoint, 100000);
}

static void print_envelope(const envelope_t *e, void *arg)
{
    (void)arg;
    char a[256], b[64], c[64], d[64], g[32];
    switch (e->type) {
    case ENV_HELLO:
        hello(&e->u.hello);
        break;
    case ENV_CONNECT: {
        const env_connect_t *m = &e->u.connect;
        printf("connect %" PRIu64 " %s %s %s %" PRIu64 " %d %s %s %" PRIu64 "\n", m->conn_id,
               text(m->identity, a, sizeof(a)), text(m->subprotocol, b, sizeof(b)),
               text(m->peer, c, sizeof(c)), m->at_us, m->resumed ? 1 : 0,
               text(m->boot_state, d, sizeof(d)), text(m->auth, g, sizeof(g)),
               (uint64_t)m->security_profile);
        break;
    }
    case ENV_FRAME: {
        const env_frame_t *m = &e->u.frame;
        printf("frame %" PRIu64 " %s %s %s %s %.*s\n", m->conn_id, text(m->identity, a, sizeof(a)),
               text(m->subprotocol, b, sizeof(b)), text(m->boot_state, c, sizeof(c)),
               text(m->auth, g, sizeof(g)), (int)m->data.len, (const char *)m->data.ptr);
        break;
    }
    case ENV_DISCONNECT:
        printf("disconnect %" PRIu64 " %u %s\n", e->u.disconnect.conn_id, e->u.disconnect.code,
               text(e->u.disconnect.reason, a, sizeof(a)));
        break;
    default:
        printf("other %s\n", envelope_type_name(e->type));
        break;
    }
    fflush(stdout);
}

static void to_edge(const envelope_t *env)
{
    if (!K.edge || channel_send_envelope(K.edge, env, &K.scratch) < 0)
        fprintf(stderr, "envelope-tool core: %s not sent (no HELLO yet, or the edge is full)\n",
                envelope_type_name(env->type));
}

/* One command line; false when it does not read. */
static bool command(char *line)
{
    char *rest = NULL, *name = strtok_r(line, " \t", &rest);
    if (!name)
        return true;
    uint64_t x = 0;
    envelope_t env = {0};
    char *arg = strtok_r(NULL, " \t", &rest);
    if (strcmp(name, "announce") == 0 && arg) {
        if (tool_parse_u64(arg, "INSTANCE", &x) < 0)
            return false;
        env.type = ENV_ANNOUNCE;
        env.u.announce = (env_announce_t){.stage = env_str("core"), .index = 0, .instance = x};
    } else if (strcmp(name, "conn_state") == 0 && arg && rest && *rest) {
        if (tool_parse_u64(arg, "CONN", &x) < 0)
            return false;
        env.type = ENV_CONN_STATE;
        env.u.conn_state = (env_conn_state_t){.conn_id = x, .boot_state = env_str(rest)};
    } else if (strcmp(name, "send") == 0 && arg && rest) {
        if (tool_parse_u64(arg, "CONN", &x) < 0)
            return false;
        env.type = ENV_SEND;
        env.u.send =
            (env_send_t){.conn_id = x, .data = (env_bin_t){(const uint8_t *)rest, strlen(rest)}};
    } else if (strcmp(name, "pause") == 0) {
        K.paused = true;
        return true;
    } else if (strcmp(name, "resume") == 0) {
        K.paused = false;
        return true;
    } else {
        return false;
    }
    to_edge(&env);
    return true;
}

/* Reads what stdin has and runs every complete line; false at its end. */
static bool read_commands(void)
{
    ssize_t got = read(0, K.line + K.used, sizeof(K.line) - 1 - K.used);
    if (got <= 0)
        return false;
    K.used += (size_t)got;
    char *start = K.line, *nl;
    while ((nl = memchr(start, '\n', K.used - (size_t)(start - K.line)))) {
        *nl = '\0';
        if (!command(start))
            printf("bad-command %s\n", start);
        fflush(stdout);
        start = nl + 1;
    }
    K.used -= (size_t)(start - K.line);
    memmove(K.line, start, K.used);
    return true;
}

int tool_core(int argc, char **argv)
{
    uint64_t hwm = 100000;
    if (argc > 1 && tool_parse_u64(argv[1], "HWM", &hwm) < 0)
        return 2;
    K.in = channel_pull_at(argv[0], "core-0", (int)hwm);
    if (!K.in)
        return 1;
    msgpack_sbuffer_init(&K.scratch);
    printf("driver ready\n");
    fflush(stdout);
    bool more = true;
    while (more) {
        zmq_pollitem_t items[2] = {{NULL, 0, ZMQ_POLLIN, 0},
                                   {zsock_resolve(K.in), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, K.paused ? 1 : 2, 200) < 0 && errno != EINTR)
            break;
        if (!K.paused)
            tool_drain(K.in, "ws-edge", print_envelope, NULL);
        if (items[0].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
            more = read_commands();
    }
    zsock_destroy(&K.in);
    zsock_destroy(&K.edge);
    msgpack_sbuffer_destroy(&K.scratch);
    return 0;
}
