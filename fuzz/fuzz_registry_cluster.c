/* fuzz_registry_cluster.c: libFuzzer driver for the pure half of redis-registry's Redis Cluster
 * client (registry_cluster.c), fed what a cluster node may answer:
 *  - mode 0: the rest of the input is an error reply's text for registry_cluster_parse_redirect
 *    ("MOVED 3999 127.0.0.1:6381"): what parses has a slot 0..16383, a port 1..65535 and a
 *    non-empty host without spaces;
 *  - mode 1: the rest is a RESP reply (decoded here, depth and size bounded) for
 *    registry_cluster_map_parse (CLUSTER SLOTS): a map that parses names only masters that
 *    exist, sorted, with the count of covered slots right;
 *  - mode 2: a script or command of a batch (picked by the next byte) and then RESP replies for
 *    each step of its Cluster plan (registry_cluster_op_step): a plan never asks for more than
 *    REGISTRY_CLUSTER_STEP_MAX commands, ends within 6 steps with a result, and every command it
 *    emits routes to a slot or is keyless.
 * Seeds: fuzz/corpus/registry_cluster/. */
#include "registry_cluster.h"

#include "registry_fuzz.h"

/* RESP: +text\r\n -err\r\n :int\r\n $len\r\nbytes\r\n *n\r\n... ; anything else ends the reply
 * (NULL). Depth at most 4, arrays at most 64 elements. */
static registry_reply_t *resp(input_t *in, int depth);

static size_t line(input_t *in, char *out, size_t cap)
{
    size_t n = 0;
    while (in->n) {
        uint8_t c = next(in);
        if (c == '\r') {
            if (in->n && *in->p == '\n')
                next(in);
            break;
        }
        if (n + 1 < cap)
            out[n++] = (char)c;
    }
    out[n] = '\0';
    return n;
}

static registry_reply_t *resp(input_t *in, int depth)
{
    if (!in->n || depth > 4)
        return NULL;
    char buf[256];
    uint8_t t = next(in);
    size_t n = line(in, buf, sizeof(buf));
    switch (t) {
    case '+':
        return registry_reply_text(REGISTRY_REPLY_STATUS, buf, n);
    case '-':
        return registry_reply_text(REGISTRY_REPLY_ERROR, buf, n);
    case ':':
        return registry_reply_int(strtoll(buf, NULL, 10));
    case '$': {
        long len = strtol(buf, NULL, 10);
        if (len < 0)
            return registry_reply_nil();
        if ((size_t)len > in->n)
            len = (long)in->n;
        registry_reply_t *r =
            registry_reply_text(REGISTRY_REPLY_STRING, (const char *)in->p, (size_t)len);
        in->p += len;
        in->n -= (size_t)len;
        line(in, buf, sizeof(buf));
        return r;
    }
    case '*': {
        long cnt = strtol(buf, NULL, 10);
        if (cnt < 0 || cnt > 64)
            return registry_reply_nil();
        registry_reply_t *a = registry_reply_array((size_t)cnt);
        for (long i = 0; a && i < cnt; i++)
            a->element[i] = resp(in, depth + 1); /* NULL: read as nil */
        return a;
    }
    default:
        return registry_reply_text(REGISTRY_REPLY_STRING, buf, n);
    }
}

static void fuzz_redirect(input_t *in)
{
    registry_redirect_t rd = registry_cluster_parse_redirect((const char *)in->p, in->n);
    if (rd.kind == REGISTRY_REDIRECT_NONE)
        return;
    CHECK(rd.slot >= 0 && rd.slot < REGISTRY_CLUSTER_SLOTS, "redirect slot in range");
    CHECK(rd.to.port >= 1 && rd.to.port <= 65535, "redirect port in range");
    CHECK(rd.to.host[0] && !strchr(rd.to.host, ' '), "redirect host");
}

static void fuzz_map(input_t *in)
{
    static registry_cluster_map_t map;
    char why[256];
    registry_reply_t *r = resp(in, 0);
    if (registry_cluster_map_parse(r, "fallback", &map, why, sizeof(why)) == 0) {
        CHECK(map.nnodes >= 0 && map.nnodes <= REGISTRY_CLUSTER_MAX_NODES, "node count");
        int covered = 0;
        for (int s = 0; s < REGISTRY_CLUSTER_SLOTS; s++) {
            CHECK(map.slot_node[s] == REGISTRY_CLUSTER_NO_NODE || map.slot_node[s] < map.nnodes,
                  "a slot names a master that exists");
            covered += map.slot_node[s] != REGISTRY_CLUSTER_NO_NODE;
        }
        CHECK(covered == map.covered, "covered count");
        for (int i = 0; i < map.nnodes; i++) {
            CHECK(map.nodes[i].host[0] && map.nodes[i].port >= 1 && map.nodes[i].port <= 65535,
                  "master address");
            CHECK(registry_cluster_map_find(&map, map.nodes[i].host, map.nodes[i].port) == i,
                  "masters unique");
            if (i)
                CHECK(strcmp(map.nodes[i - 1].host, map.nodes[i].host) < 0 ||
                          (strcmp(map.nodes[i - 1].host, map.nodes[i].host) == 0 &&
                           map.nodes[i - 1].port < map.nodes[i].port),
                      "masters sorted");
        }
    } else {
        CHECK(why[0], "a refusal says why");
    }
    registry_reply_destroy(&r);
}

static void add_command(registry_batch_t *b, uint8_t pick)
{
    static const char *const claim[] = {
        "conn:X", "{conn:X}:epoch", "{conn:X}:meta", "pod-b", "e", "7", "1", "ocpp1.6", "", "X",
        "0"};
    static const char *const reassert[] = {"conn:X",
                                           "{conn:X}:epoch",
                                           "{conn:X}:meta",
                                           "pod-b",
                                           "4",
                                           "e",
                                           "7",
                                           "1",
                                           "ocpp1.6",
                                           "",
                                           "X",
                                           "1"};
    static const char *const release[] = {
        "conn:X", "{conn:X}:epoch", "{conn:X}:meta", "4", "pod-b", "X", "1000", "7", "e"};
    static const char *const lookup[] = {"conn:X", "{conn:X}:meta", "pod:"};
    static const char *const sweep[] = {
        "conn:X", "{conn:X}:meta", "pod:{p}:conns", "pod:{p}", "{conn:X}:epoch", "p", "X", "1000"};
    static const char *const takeover[] = {"takeover:{p}",
                                           "takeover:{p}:epoch",
                                           "pod:{p}",
                                           "takeover:{p}:forgotten",
                                           "takeover:{p}:since",
                                           "pod:{p}:conns",
                                           "ocppgw:pods",
                                           "q",
                                           "1000",
                                           "try",
                                           "5000",
                                           "p",
                                           "9000"};
    static const char *const scan[] = {"SCAN", "1:5", "MATCH", "cred:*", "COUNT", "10"};
    static const char *const get[] = {"GET", "conn:X"};
    switch (pick % 8) {
    case 0:
        registry_batch_script(b, REGISTRY_SCRIPT_CLAIM, 3, claim, 11);
        break;
    case 1:
        registry_batch_script(b, REGISTRY_SCRIPT_REASSERT, 3, reassert, 12);
        break;
    case 2:
        registry_batch_script(b, REGISTRY_SCRIPT_RELEASE, 3, release, pick & 8 ? 9 : 7);
        break;
    case 3:
        registry_batch_script(b, REGISTRY_SCRIPT_LOOKUP, 2, lookup, 3);
        break;
    case 4:
        registry_batch_script(b, REGISTRY_SCRIPT_SWEEP, 5, sweep, 8);
        break;
    case 5:
        registry_batch_script(b, REGISTRY_SCRIPT_TAKEOVER, 7, takeover, 13);
        break;
    case 6:
        registry_batch_command(b, scan, 6);
        break;
    default:
        registry_batch_command(b, get, 2);
        break;
    }
}

static void fuzz_plan(input_t *in)
{
    registry_batch_t *b = registry_batch_new(), *out = registry_batch_new();
    if (!b || !out) {
        registry_batch_destroy(&b);
        registry_batch_destroy(&out);
        return;
    }
    add_command(b, next(in));
    int nnodes = next(in) % 4;
    registry_cluster_op_t op = {0};
    registry_reply_t *replies[REGISTRY_CLUSTER_STEP_MAX] = {0};
    size_t nr = 0;
    int steps = 0, k;
    int targets[REGISTRY_CLUSTER_STEP_MAX];
    for (;;) {
        registry_batch_clear(out);
        k = registry_cluster_op_step(&op, b, 0, nnodes, (const registry_reply_t *const *)replies,
                                     nr, out, targets);
        for (size_t i = 0; i < nr; i++)
            registry_reply_destroy(&replies[i]);
        nr = 0;
        if (k <= 0)
            break;
        CHECK(k <= REGISTRY_CLUSTER_STEP_MAX, "a step sends at most STEP_MAX commands");
        CHECK(++steps <= 6, "a plan ends within 6 steps");
        for (int i = 0; i < k; i++) {
            CHECK(targets[i] >= -1 && targets[i] < (nnodes ? nnodes : 1), "target in range");
            int s = registry_cluster_command_slot(out, (size_t)i);
            CHECK(s >= -1 && s < REGISTRY_CLUSTER_SLOTS, "slot in range");
            replies[nr++] = resp(in, 0);
        }
    }
    CHECK(k == 0 ? op.result != NULL : 1, "a finished plan has its result");
    registry_cluster_op_reset(&op);
    registry_batch_destroy(&b);
    registry_batch_destroy(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy, so that reading one byte past the input is caught */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    input_t in = {copy, size};
    switch (next(&in) % 3) {
    case 0:
        fuzz_redirect(&in);
        break;
    case 1:
        fuzz_map(&in);
        break;
    default:
        fuzz_plan(&in);
        break;
    }
    free(copy);
    return 0;
}
