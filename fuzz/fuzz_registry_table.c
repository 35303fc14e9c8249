/* fuzz_registry_table.c: libFuzzer driver for registry_table, the registration engine of
 * redis-registry.
 *
 * The input is read as a sequence of events: REGISTER (new connection, or the same one again as
 * at boot), UNREGISTER (with the epoch the fake core heard, 0 if it did not read REGISTERED
 * yet), LOOKUP, DEDUP, the fake core reading its inbox, flushes whose batch is answered at once
 * or later (a batch in flight while more envelopes arrive), Redis going down and up, another pod
 * claiming or releasing a charge point, a sweep, a Redis restart that loses the map and the
 * script cache, pub/sub messages delivered, lost (then everything is re-asserted) or garbage,
 * our lease found expired, ticks. Batches are executed by a small in-memory model of the Lua
 * scripts (registry_keys.c) and of SET NX GET; an outcome byte may break the connection after
 * some commands ran and fewer replies came back, refuse everything (READONLY) or fail one
 * command (ERR). At the end Redis is up for good and everything is flushed.
 *
 * Also (issues 12, 13): a core restarting (a new instance; its connections come back, re-registered
 * with the epoch each heard, or are gone without an UNREGISTER), ticks that release what a
 * restarted core did not confirm and run the reconciliation of this pod's set (SSCAN, MGET, in
 * pages), authenticated and unauthenticated connections (the claim script refuses an
 * unauthenticated claim over an authenticated mapping), id-token lookups (HGETALL idtag:).
 *
 * Invariants (abort on violation):
 *  - a release is only ever sent with an epoch this pod got for that identity (or 0, which never
 *    matches), and never with the epoch the connection currently registered for it was told
 *    (REGISTERED): neither a newer connection's mapping nor a confirmed one is ever released;
 *    another pod's mapping is never released (the model's script checks the owner);
 *  - device.disconnected (EVENT) only for a mapping a release of this pod removed, once, never
 *    for the current connection, and never for a connection whose core sent UNREGISTER (the core
 *    said it already) unless that UNREGISTER came more than reconcile_grace_ms after a newer
 *    connection replaced it (or four newer ones did), was lost with a registry restart, or
 *    comes for a connection replaced before a registry restart (the new one never knew it);
 *  - SUPERSEDED for a refused unauthenticated claim only when the mapping is authenticated;
 *  - REGISTERED only to the connection currently registered (its core), with the epoch the model
 *    gave it, either answering its REGISTER(s) or telling it a new epoch (its mapping was lost
 *    and claimed again), never a repetition; at the end every REGISTER of a connection still
 *    current is answered (or the connection was told SUPERSEDED);
 *  - SUPERSEDED only to the current connection, with an epoch above the one it held;
 *  - DEDUP_RESULT first=true at most once per command id, and to the check whose value Redis
 *    kept (exactly once; the bridge asks again with the same request id after an error); one
 *    answer per question, every LOOKUP and DEDUP answered with status 0 at the end;
 *  - nothing to a core index >= core_count; the queue never holds more than the requests seen.
 * Seeds: fuzz/corpus/registry_table/. */
#include "registry_logic.h"
#include "registry_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "registry_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NIDS       4
#define NCMDS      4
#define CORES      3
#define MAX_CONNS  64
#define MAX_ASSIGN 512
#define MAX_REQS   256
#define NTXKEYS    4
#define MAX_PUBSUB 64
#define POD_A      1
#define POD_B      2

static const char *const IDS[NIDS] = {"CP0", "CP1", "CP-2", "C3"};
static const char *const POD_NAMES[3] = {"", "pod-a", "pod-b"};

/* A connection of the fake core. */
typedef struct {
    int id; /* index into IDS */
    uint64_t conn_id;
    uint32_t core;
    bool live;         /* REGISTERed, neither UNREGISTERed nor told SUPERSEDED */
    bool unregistered; /* UNREGISTER sent */
    bool dropped;      /* its core restarted without it: gone, no UNREGISTER */
    bool unreg_lost;   /* UNREGISTER sent before a registry restart: may be lost */
    bool stale;        /* re-registered after a registry restart with an epoch it had not
                          heard the latest of: its own newest epoch may supersede it */
    bool authenticated;
    uint64_t lost_at;      /* when a newer connection of the identity replaced it (0: never) */
    uint32_t replaced_seq; /* F.replacements[id] when the registry's table replaced it (0: never) */
    bool untracked;        /* replaced before a registry restart: the new registry never knew it */
    bool refused;          /* the model refused its (unauthenticated) claim */
    bool late;       /* its UNREGISTER came more than the grace after that: the registry may have
                        reconciled its mapping already */
    uint64_t heard;  /* epoch core read from REGISTERED */
    uint64_t unread; /* epoch of a REGISTERED core has not read yet */
    uint64_t held;   /* the epoch the model last gave this connection */
    uint64_t known;  /* the epoch of the last REGISTERED it was sent */
    uint32_t unanswered; /* REGISTERs sent since the last REGISTERED */
    uint32_t registered;
} conn_t;

/* An epoch the model gave this pod, and to which connection. */
typedef struct {
    int id;
    uint64_t epoch;
    uint64_t conn_id;
} assign_t;

/* A LOOKUP or DEDUP of the fake bridge, or a TAG_LOOKUP of a core. Like kafka-bridge, it asks
 * again with the same request id (its command's token) after an answer with an error status. */
typedef struct {
    bool lookup;
    bool tag;
    uint8_t txid;     /* 0, or a core's TXID_BLOCK (1) or TXID_CLAIM (2) */
    uint8_t arg;      /* identity or command id index, ttl */
    bool outstanding; /* asked, not answered yet */
    bool done;        /* answered with status 0 */
    bool first;
} req_t;

static struct {
    registry_table_t *table;
    uint64_t now;
    /* the fake core */
    conn_t conns[MAX_CONNS];
    size_t nconns;
    int current[NIDS]; /* index of the connection last REGISTERed, -1 */
    uint64_t next_conn;
    req_t reqs[MAX_REQS];
    size_t nreqs;
    int firsts[NCMDS];
    /* transaction ids: the model's counter and txid:K<k> keys, the ranges the cores got */
    uint64_t txid_counter;
    uint64_t txid_key[NTXKEYS];
    uint64_t range_first[MAX_REQS], range_count[MAX_REQS];
    size_t nranges;
    size_t requests; /* REGISTER, UNREGISTER, LOOKUP, DEDUP sent */
    size_t claims_run;
    /* the model of Redis */
    uint64_t counter[NIDS];
    int owner[NIDS];
    uint64_t owner_conn[NIDS];
    bool auth[NIDS];               /* the mapping's auth field */
    bool in_set[NIDS];             /* member of pod:{pod-a}:conns */
    uint64_t released[MAX_ASSIGN]; /* (id << 56 | epoch) of mappings our releases removed */
    bool evented[MAX_ASSIGN];
    size_t nreleased;
    uint64_t core_instance[CORES];
    uint64_t table_conn[NIDS];   /* the connection the table registers for it (0: none) */
    uint32_t replacements[NIDS]; /* REGISTERs that replaced another connection in the table */

    uint64_t top_epoch; /* the highest epoch ever handed out: a lost counter restarts above */
    char dedup[NCMDS][96];
    assign_t assigned[MAX_ASSIGN];
    size_t nassigned;
    char pubsub[MAX_PUBSUB][128];
    size_t npubsub;
    bool scripts_lost;
    /* the shell */
    bool redis_up, connected;
    registry_reply_t *pending[64]; /* replies of the batch in flight */
    size_t npending, nsent;
    bool in_flight;
    bool trace; /* FUZZ_TRACE set: every step on stderr */
    int64_t grace_ms;
} F;

/* ---- the fake core and bridge: every effect is checked here --------------------------------*/

static conn_t *conn_find(int id, uint64_t conn_id)
{
    for (size_t i = 0; i < F.nconns; i++)
        if (F.conns[i].id == id && F.conns[i].conn_id == conn_id)
            return &F.conns[i];
    return NULL;
}

static int id_index(env_str_t s)
{
    for (int i = 0; i < NIDS; i++)
        if (s.len == strlen(IDS[i]) && memcmp(s.ptr, IDS[i], s.len) == 0)
            return i;
    return -1;
}

static const assign_t *assignment(int id, uint64_t epoch)
{
    for (size_t i = 0; i < F.nassigned; i++)
        if (F.assigned[i].id == id && F.assigned[i].epoch == epoch)
            return &F.assigned[i];
    return NULL;
}

static bool is_current(const conn_t *c)
{
    return c && c->live && F.current[c->id] >= 0 && &F.conns[F.current[c->id]] == c;
}

/* TXID_RANGE: answered once, to the core that asked, never overlapping a range given before
 * (the counter only grows, and a block whose answer was lost is a gap, never given twice).
 * TXID_CLAIMED: answered once, the id Redis keeps under the key, "first" only with the
 * request's own candidate. */
static void check_txid(uint32_t core, const envelope_t *env)
{
    bool range = env->type == ENV_TXID_RANGE;
    uint64_t request_id = range ? env->u.txid_range.request_id : env->u.txid_claimed.request_id;
    CHECK(request_id < F.nreqs && F.reqs[request_id].txid == (range ? 1 : 2),
          "TXID answer for no such request");
    req_t *q = &F.reqs[request_id];
    CHECK(q->outstanding, "TXID request answered twice");
    CHECK(core == q->arg % CORES, "TXID answer to another core");
    q->outstanding = false;
    int32_t error = range ? env->u.txid_range.error : env->u.txid_claimed.error;
    q->done = error == 0;
    if (!q->done)
        return;
    if (range) {
        uint64_t first = env->u.txid_range.first, count = env->u.txid_range.count;
        CHECK(first >= 1 && count >= 1 && count <= (uint64_t)(q->arg % 50 + 1) &&
                  first + count - 1 <= F.txid_counter,
              "TXID_RANGE not from the counter");
        for (size_t i = 0; i < F.nranges; i++)
            CHECK(first + count <= F.range_first[i] || F.range_first[i] + F.range_count[i] <= first,
                  "overlapping TXID ranges");
        F.range_first[F.nranges] = first;
        F.range_count[F.nranges++] = count;
        return;
    }
    uint64_t id = env->u.txid_claimed.id;
    CHECK(id == F.txid_key[q->arg % NTXKEYS], "TXID_CLAIMED not the id Redis keeps");
    CHECK(!env->u.txid_claimed.first || id == 1000 + request_id, "first with another candidate");
}

static int to_core(void *arg, uint32_t core, const envelope_t *env)
{
    (void)arg;
    CHECK(core < CORES, "envelope to a core index >= core_count");
    if (env->type == ENV_REGISTRY_BUSY)
        return 0;
    if (env->type == ENV_TXID_RANGE || env->type == ENV_TXID_CLAIMED) {
        check_txid(core, env);
        return 0;
    }
    if (env->type == ENV_TAG_INFO) {
        uint64_t request_id = env->u.tag_info.request_id;
        CHECK(request_id < F.nreqs && F.reqs[request_id].tag, "TAG_INFO for no TAG_LOOKUP");
        req_t *q = &F.reqs[request_id];
        CHECK(q->outstanding, "TAG_LOOKUP answered twice");
        CHECK(core == q->arg % CORES, "TAG_INFO to another core");
        q->outstanding = false;
        q->done = env->u.tag_info.error == 0;
        if (q->done)
            CHECK(env->u.tag_info.found == (q->arg % 2 == 0), "TAG_INFO found");
        return 0;
    }
    int id = env->type == ENV_REGISTERED ? id_index(env->u.registered.identity)
                                         : id_index(env->u.superseded.identity);
    CHECK(id >= 0, "envelope for an identity nobody registered");
    conn_t *gone = conn_find(id, env->type == ENV_REGISTERED ? env->u.registered.conn_id
                                                             : env->u.superseded.conn_id);
    if (gone && gone->dropped) {
        /* its core restarted: the registry learns it after the grace; the new core ignores it */
        CHECK(gone->core == core, "answer for a dropped connection to another core");
        return 0;
    }
    if (env->type == ENV_REGISTERED) {
        conn_t *c = conn_find(id, env->u.registered.conn_id);
        CHECK(is_current(c), "REGISTERED to a connection that is not the current one");
        CHECK(c->core == core, "REGISTERED to another core");
        CHECK(env->u.registered.epoch == c->held && c->held != 0,
              "REGISTERED with an epoch the connection does not hold");
        /* an answer to REGISTER(s), or the news of a new epoch (the mapping was lost and
         * claimed again), never a repetition */
        CHECK(c->unanswered > 0 || env->u.registered.epoch != c->known,
              "REGISTERED neither answering a REGISTER nor telling a new epoch");
        c->unanswered = 0;
        c->registered++;
        c->unread = c->known = env->u.registered.epoch;
    } else {
        CHECK(env->type == ENV_SUPERSEDED, "unexpected envelope to a core");
        conn_t *c = conn_find(id, env->u.superseded.conn_id);
        CHECK(is_current(c), "SUPERSEDED to a connection that is not the current one");
        CHECK(c->core == core, "SUPERSEDED to another core");
        CHECK(env->u.superseded.epoch > c->known ||
                  (c->stale && env->u.superseded.epoch == c->known),
              "SUPERSEDED by an epoch not above ours");
        if (c->known == 0) { /* never registered: only a refused unauthenticated claim */
            CHECK(c->refused, "SUPERSEDED of a connection whose claim was not refused");
            CHECK(!c->authenticated, "an authenticated claim refused");
        }
        c->live = false;
        F.current[id] = -1;
        if (F.table_conn[id] == c->conn_id)
            F.table_conn[id] = 0;
    }
    return 0;
}

/* device.disconnected of a mapping a release of ours removed, once, never for a connection its
 * core unregistered (ocpp-core said it). */
static void check_event(const envelope_t *env)
{
    const env_event_t *m = &env->u.event;
    int id = id_index(m->key);
    CHECK(id >= 0, "event for an unknown identity");
    char ce_id[96] = "";
    for (size_t i = 0; i < m->headers.count; i++)
        if (env_str_eq(m->headers.items[i].name, "ce_id"))
            env_str_copy(m->headers.items[i].value, ce_id, sizeof(ce_id));
    /* the event id is a digest of (identity, "released", epoch): find the release it names */
    uint64_t epoch = 0;
    bool found = false;
    for (size_t i = 0; i < F.nreleased && !found; i++) {
        if (F.released[i] >> 56 != (uint64_t)id)
            continue;
        char want[33];
        registry_disconnect_t d = {
            .identity = IDS[id], .kind = "released", .epoch = F.released[i] & ((1ull << 56) - 1)};
        registry_event_disconnect_id(&d, want);
        if (strcmp(ce_id, want) == 0) {
            epoch = d.epoch;
            CHECK(!F.evented[i], "device.disconnected twice for one mapping");
            F.evented[i] = found = true;
        }
    }
    CHECK(found, "device.disconnected for a mapping no release of ours removed");
    const assign_t *a = assignment(id, epoch);
    CHECK(a != NULL, "device.disconnected for an epoch this pod never held");
    const conn_t *c = conn_find(id, a->conn_id);
    if (F.trace && c)
        fprintf(stderr,
                "event %s epoch %" PRIu64 " conn %" PRIu64 " heard %" PRIu64 " held %" PRIu64
                " unreg %d dropped %d\n",
                IDS[id], epoch, c->conn_id, c->heard, c->held, c->unregistered, c->dropped);
    CHECK(!c || !c->unregistered || c->unreg_lost || c->late || c->untracked,
          "device.disconnected for a connection its core unregistered");
    CHECK(!c || !is_current(c), "device.disconnected for the current connection");
}

static int to_bridge(void *arg, const envelope_t *env)
{
    (void)arg;
    if (env->type == ENV_EVENT) {
        check_event(env);
        return 0;
    }
    uint64_t request_id =
        env->type == ENV_OWNER ? env->u.owner.request_id : env->u.dedup_result.request_id;
    CHECK(env->type == ENV_OWNER || env->type == ENV_DEDUP_RESULT, "unexpected envelope");
    CHECK(request_id < F.nreqs, "answer to a request never made");
    req_t *q = &F.reqs[request_id];
    CHECK(!q->tag && q->lookup == (env->type == ENV_OWNER), "answer of the wrong kind");
    CHECK(q->outstanding, "request answered twice");
    q->outstanding = false;
    int32_t status = env->type == ENV_OWNER ? env->u.owner.status : env->u.dedup_result.status;
    q->done = status == 0;
    if (env->type == ENV_DEDUP_RESULT && env->u.dedup_result.first) {
        CHECK(env->u.dedup_result.status == 0, "first with an error status");
        const char *cmd = env->u.dedup_result.command_id.ptr;
        CHECK(env->u.dedup_result.command_id.len == 5, "unknown command id");
        int k = cmd[4] - '0';
        CHECK(k >= 0 && k < NCMDS, "unknown command id");
        CHECK(++F.firsts[k] == 1, "first=true twice for one command id");
        q->first = true;
    }
    return 0;
}

/* ---- the model of Redis (registry_keys.c) ------------------------------------------------ */

static uint64_t next_epoch(int id, uint64_t floor)
{
    if (F.counter[id] == 0) /* lost: restart from the clock, above anything handed out */
        F.counter[id] = (F.top_epoch > floor ? F.top_epoch : floor) + 1000;
    F.counter[id]++;
    if (F.counter[id] > F.top_epoch)
        F.top_epoch = F.counter[id];
    return F.counter[id];
}

static void publish_superseded(int id, uint64_t epoch)
{
    if (F.npubsub < MAX_PUBSUB)
        snprintf(F.pubsub[F.npubsub++], sizeof(F.pubsub[0]), "%" PRIu64 " %" PRIu64 " pod-b %s",
                 epoch, F.owner_conn[id], IDS[id]);
}

/* Another pod's claim: the Lua claim script run by pod-b (its connection authenticated or
 * not; an unauthenticated one does not supersede our authenticated mapping). */
static void other_claims(int id, bool authenticated)
{
    if (!authenticated && F.owner[id] == POD_A && F.auth[id])
        return;
    uint64_t epoch = next_epoch(id, 0);
    if (F.owner[id] == POD_A)
        publish_superseded(id, epoch);
    F.owner[id] = POD_B;
    F.owner_conn[id] = 0;
    F.auth[id] = authenticated;
    F.in_set[id] = false;
}

static void give(int id, uint64_t epoch, uint64_t conn_id, bool authenticated)
{
    CHECK(F.nassigned < MAX_ASSIGN, "too many epochs (fuzz limit)");
    F.assigned[F.nassigned++] = (assign_t){id, epoch, conn_id};
    conn_t *c = conn_find(id, conn_id);
    if (c)
        c->held = epoch;
    F.owner[id] = POD_A;
    F.owner_conn[id] = conn_id;
    F.auth[id] = authenticated;
    F.in_set[id] = true;
}

static int id_of_arg(const char *s)
{
    for (int i = 0; i < NIDS; i++)
        if (strcmp(s, IDS[i]) == 0)
            return i;
    CHECK(0, "command for an unknown identity");
    return -1;
}

static int atoi_safe(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

static registry_reply_t *array3(registry_reply_t *a, registry_reply_t *b, registry_reply_t *c)
{
    registry_reply_t *r = registry_reply_array(3);
    r->element[0] = a;
    r->element[1] = b;
    r->element[2] = c;
    return r;
}

static registry_reply_t *run_script(const registry_batch_t *b, size_t i)
{
    int script = registry_batch_script_of(b, i);
    size_t argc = registry_batch_argc(b, i);
    const char *a[REGISTRY_BATCH_MAX_ARGS];
    for (size_t j = 0; j < argc; j++)
        a[j] = registry_batch_arg(b, i, j);
    char key[96];
    if (script == REGISTRY_SCRIPT_CLAIM) {
        CHECK(argc == 11 && strcmp(a[3], "pod-a") == 0, "claim arguments");
        int id = id_of_arg(a[9]);
        snprintf(key, sizeof(key), "conn:%s", IDS[id]);
        CHECK(strcmp(a[0], key) == 0, "claim key");
        bool auth = strcmp(a[10], "1") == 0;
        int prev = F.owner[id];
        uint64_t prev_conn = F.owner_conn[id];
        registry_reply_t *r = registry_reply_array(5);
        if (!auth && prev && F.auth[id]) { /* both pods hold their leases here */
            conn_t *rc = conn_find(id, strtoull(a[5], NULL, 10));
            if (rc)
                rc->refused = true;
            r->element[0] = registry_reply_int((long long)F.counter[id]);
            r->element[1] = text(POD_NAMES[prev]);
            r->element[2] = text("");
            r->element[3] = text("");
            r->element[4] = text("refused");
            return r;
        }
        uint64_t epoch = next_epoch(id, 0);
        if (F.trace)
            fprintf(stderr, "  CLAIM %s conn %s -> %" PRIu64 "\n", IDS[id], a[5], epoch);
        give(id, epoch, strtoull(a[5], NULL, 10), auth);
        F.claims_run++;
        r->element[0] = registry_reply_int((long long)epoch);
        r->element[1] = text(POD_NAMES[prev]);
        r->element[2] = text("");
        char conn[24];
        snprintf(conn, sizeof(conn), "%" PRIu64, prev_conn);
        r->element[3] = text(conn);
        r->element[4] = text("claimed");
        return r;
    }
    if (script == REGISTRY_SCRIPT_REASSERT) {
        CHECK(argc == 12 && strcmp(a[3], "pod-a") == 0, "re-assertion arguments");
        int id = id_of_arg(a[10]);
        uint64_t held = strtoull(a[4], NULL, 10), cur = F.counter[id];
        bool auth = strcmp(a[11], "1") == 0;
        CHECK(held != 0, "re-assertion without an epoch");
        if (F.owner[id] == POD_A && (cur == held || F.owner_conn[id] == strtoull(a[6], NULL, 10))) {
            F.auth[id] = auth;
            F.in_set[id] = true;
            return array3(registry_reply_int((long long)cur), text("held"), text(""));
        }
        if ((cur == 0 && F.owner[id] != POD_B) || (cur == held && F.owner[id] == 0)) {
            uint64_t epoch = next_epoch(id, held);
            give(id, epoch, strtoull(a[6], NULL, 10), auth);
            F.claims_run++;
            return array3(registry_reply_int((long long)epoch), text("claimed"), text(""));
        }
        return array3(registry_reply_int((long long)cur), text("superseded"),
                      text(POD_NAMES[F.owner[id]]));
    }
    if (script == REGISTRY_SCRIPT_RELEASE) {
        CHECK((argc == 7 || argc == 9) && strcmp(a[4], "pod-a") == 0 && strtoull(a[6], NULL, 10),
              "release arguments");
        /* by connection (a claim whose answer was lost): the mapping must name it */
        uint64_t by_conn = argc == 9 ? strtoull(a[7], NULL, 10) : 0;
        int id = id_of_arg(a[5]);
        uint64_t epoch = strtoull(a[3], NULL, 10);
        if (F.trace)
            fprintf(stderr, "  RELEASE %s %" PRIu64 " (counter %" PRIu64 " owner %d)\n", IDS[id],
                    epoch, F.counter[id], F.owner[id]);
        CHECK(epoch == 0 || assignment(id, epoch) != NULL,
              "release of an epoch this pod never held");
        const conn_t *c = F.current[id] >= 0 ? &F.conns[F.current[id]] : NULL;
        CHECK(epoch == 0 || !c || !c->live || c->known != epoch,
              "release of the epoch the current connection holds");
        if (by_conn && F.owner[id] == POD_A && F.owner_conn[id] == by_conn &&
            F.counter[id] != epoch) {
            const conn_t *bc = conn_find(id, by_conn);
            CHECK(bc && bc->unregistered, "release by connection of a live connection");
            epoch = F.counter[id];
        }
        if (epoch && F.counter[id] == epoch && F.owner[id] == POD_A) {
            F.owner[id] = 0;
            F.auth[id] = false;
            F.in_set[id] = false;
            if (F.nreleased < MAX_ASSIGN)
                F.released[F.nreleased++] = (uint64_t)id << 56 | epoch;
            return registry_reply_int(1);
        }
        if (F.owner[id] != POD_A)
            F.in_set[id] = false;
        return registry_reply_int(0);
    }
    if (script == REGISTRY_SCRIPT_LOOKUP) {
        CHECK(argc == 3, "lookup arguments");
        int id = -1;
        for (int k = 0; k < NIDS; k++) {
            snprintf(key, sizeof(key), "conn:%s", IDS[k]);
            if (strcmp(a[0], key) == 0)
                id = k;
        }
        if (id < 0 || !F.owner[id])
            return array3(text(""), registry_reply_int(0), registry_reply_int(0));
        return array3(text(POD_NAMES[F.owner[id]]), registry_reply_int((long long)F.counter[id]),
                      registry_reply_int(1));
    }
    if (script == REGISTRY_SCRIPT_TXID_BLOCK) {
        CHECK(argc == 3 && strcmp(a[0], REGISTRY_TXID_KEY) == 0 && strcmp(a[2], "2147483647") == 0,
              "TXID_BLOCK arguments");
        uint64_t want = strtoull(a[1], NULL, 10), first = F.txid_counter + 1;
        CHECK(want >= 1 && want <= 10000, "TXID_BLOCK count");
        F.txid_counter += want;
        return array3(registry_reply_int((long long)first), registry_reply_int((long long)want),
                      registry_reply_int((long long)F.txid_counter));
    }
    if (script == REGISTRY_SCRIPT_TXID_CLAIM) {
        CHECK(argc == 3 && strncmp(a[0], "txid:K", 6) == 0 && a[0][6] >= '0' &&
                  a[0][6] < '0' + NTXKEYS && strcmp(a[2], "1000") == 0,
              "TXID_CLAIM arguments");
        uint64_t *kept = &F.txid_key[a[0][6] - '0'], candidate = strtoull(a[1], NULL, 10);
        registry_reply_t *r = registry_reply_array(2);
        if (*kept) {
            r->element[0] = registry_reply_int((long long)*kept);
            r->element[1] = registry_reply_int(*kept == candidate);
            return r;
        }
        *kept = candidate;
        r->element[0] = registry_reply_int((long long)candidate);
        r->element[1] = registry_reply_int(1);
        return r;
    }
    CHECK(0, "a script the table never sends");
    return NULL;
}

/* SSCAN of our set, two per page (the cursor is the index of the next identity). */
static registry_reply_t *run_sscan(const registry_batch_t *b, size_t i)
{
    CHECK(registry_batch_argc(b, i) == 5 &&
              strcmp(registry_batch_arg(b, i, 1), "pod:{pod-a}:conns") == 0,
          "SSCAN arguments");
    int from = atoi_safe(registry_batch_arg(b, i, 2)), next = 0, n = 0;
    registry_reply_t *ids = registry_reply_array(2);
    for (int id = from; id < NIDS; id++) {
        if (!F.in_set[id])
            continue;
        if (n == 2) {
            next = id;
            break;
        }
        ids->element[n++] = text(IDS[id]);
    }
    ids->elements = (size_t)n;
    char cursor[8];
    snprintf(cursor, sizeof(cursor), "%d", next);
    registry_reply_t *r = registry_reply_array(2);
    r->element[0] = text(cursor);
    r->element[1] = ids;
    return r;
}

/* SET dedup:{cmd-k} <value> NX GET PX <ttl>; SSCAN; MGET conn:id {conn:id}:epoch; HGETALL
 * idtag:TAGk (even k: found). */
static registry_reply_t *run_set(const registry_batch_t *b, size_t i)
{
    const char *name = registry_batch_arg(b, i, 0);
    if (strcmp(name, "SSCAN") == 0)
        return run_sscan(b, i);
    if (strcmp(name, "MGET") == 0) {
        CHECK(registry_batch_argc(b, i) == 3, "MGET arguments");
        int id = -1;
        for (int k = 0; k < NIDS; k++) {
            char key[64];
            snprintf(key, sizeof(key), "conn:%s", IDS[k]);
            if (strcmp(registry_batch_arg(b, i, 1), key) == 0)
                id = k;
        }
        CHECK(id >= 0, "MGET of an unknown key");
        char epoch[24];
        snprintf(epoch, sizeof(epoch), "%" PRIu64, F.counter[id]);
        registry_reply_t *r = registry_reply_array(2);
        r->element[0] = F.owner[id] ? text(POD_NAMES[F.owner[id]]) : registry_reply_nil();
        r->element[1] = F.counter[id] ? text(epoch) : registry_reply_nil();
        return r;
    }
    if (strcmp(name, "HGETALL") == 0) {
        const char *key = registry_batch_arg(b, i, 1);
        CHECK(strncmp(key, "idtag:TAG", 9) == 0, "id-token key");
        if ((key[9] - '0') % 2)
            return registry_reply_array(0);
        registry_reply_t *r = registry_reply_array(4);
        r->element[0] = text("status");
        r->element[1] = text("Accepted");
        r->element[2] = text("expires_at_ms");
        r->element[3] = text("0");
        return r;
    }
    CHECK(registry_batch_argc(b, i) == 7 && strcmp(name, "SET") == 0,
          "a plain command the table never sends");
    const char *key = registry_batch_arg(b, i, 1), *value = registry_batch_arg(b, i, 2);
    CHECK(strncmp(key, "dedup:{cmd-", 11) == 0 && key[11] >= '0' && key[11] < '0' + NCMDS,
          "de-dup key");
    char *slot = F.dedup[key[11] - '0'];
    if (slot[0])
        return text(slot);
    snprintf(slot, sizeof(F.dedup[0]), "%s", value);
    return registry_reply_nil();
}

/* ---- the shell ---------------------------------------------------------------------------- */

/* Runs the batch on the model now, as Redis would when it receives it; outcome: 0 all answered,
 * 1 broken (some ran, fewer answered), 2 READONLY (nothing ran), 3 one command fails (ERR). */
static void execute(const registry_batch_t *b, uint8_t outcome, uint8_t cut)
{
    size_t n = registry_batch_size(b);
    CHECK(n <= 64, "batch larger than batch_max");
    size_t ran = n, answered = n, failing = n;
    outcome %= 8; /* mostly answered */
    if (outcome == 1) {
        ran = cut % (n + 1);
        answered = ran ? (cut / 16) % (ran + 1) : 0;
    } else if (outcome == 2) {
        ran = 0;
    } else if (outcome == 3) {
        failing = cut % n;
    }
    F.npending = 0;
    if (F.trace)
        fprintf(stderr, "  batch of %zu, outcome %d ran %zu answered %zu\n", n, outcome, ran,
                answered);
    for (size_t i = 0; i < n; i++) {
        registry_reply_t *r;
        bool script = registry_batch_script_of(b, i) != REGISTRY_BATCH_PLAIN;
        if (outcome == 2)
            r = registry_reply_text(REGISTRY_REPLY_ERROR, "READONLY replica", 16);
        else if (i == failing)
            r = registry_reply_text(REGISTRY_REPLY_ERROR, "ERR injected", 12);
        else if (i >= ran)
            r = NULL; /* never ran */
        else if (script && F.scripts_lost)
            r = registry_reply_text(REGISTRY_REPLY_ERROR, "NOSCRIPT No matching script", 27);
        else
            r = script ? run_script(b, i) : run_set(b, i);
        if (i < answered)
            F.pending[F.npending++] = r;
        else
            registry_reply_destroy(&r);
    }
    F.nsent = n;
    F.in_flight = true;
}

static void deliver(void)
{
    if (!F.in_flight)
        return;
    int rc = registry_table_on_replies(F.table, (const registry_reply_t *const *)F.pending,
                                       F.npending, F.now);
    for (size_t i = 0; i < F.npending; i++)
        registry_reply_destroy(&F.pending[i]);
    if (F.npending < F.nsent)
        CHECK(rc == -EPIPE, "a broken batch not reported");
    if (rc < 0)
        F.connected = false; /* dropped: the next use reconnects */
    F.npending = 0;
    F.in_flight = false;
}

/* As main.c's flush(); async: the last batch stays in flight. */
static void flush(uint8_t outcome, uint8_t cut, bool async)
{
    for (size_t pass = registry_table_flush_passes(F.table); pass > 0; pass--) {
        if (!F.connected) {
            if (!F.redis_up) {
                registry_table_on_redis_unavailable(F.table);
                break;
            }
            F.connected = true;
            F.scripts_lost = false; /* reconnect reloads the scripts */
            registry_table_on_redis_up(F.table);
        }
        const registry_batch_t *b = registry_table_prepare(F.table, F.now);
        if (!b)
            break;
        execute(b, outcome, cut);
        if (async)
            return;
        deliver();
        if (!F.connected)
            break;
    }
    registry_table_update_busy(F.table, F.connected, F.now);
}

/* ---- events from the fake core and bridge ------------------------------------------------ */

/* REGISTER of c; epoch: the one its core holds (a re-registration after a restart), 0 new. */
static void send_register_epoch(conn_t *c, uint64_t epoch)
{
    envelope_t env = {.type = ENV_REGISTER};
    env.u.register_.core_id = c->core;
    env.u.register_.identity = env_str(IDS[c->id]);
    env.u.register_.conn_id = c->conn_id;
    env.u.register_.edge_id = env_str("edge-1");
    env.u.register_.ocpp_version = env_str("ocpp1.6");
    env.u.register_.boot_state = env_str("pending");
    env.u.register_.since_us = F.now;
    env.u.register_.epoch = epoch;
    env.u.register_.authenticated = c->authenticated;
    c->unanswered++;
    if (F.trace)
        fprintf(stderr, "  REGISTER %s conn %" PRIu64 " epoch %" PRIu64 " core %u\n", IDS[c->id],
                c->conn_id, epoch, c->core);
    c->live = true;
    if (F.table_conn[c->id] && F.table_conn[c->id] != c->conn_id) {
        conn_t *old = conn_find(c->id, F.table_conn[c->id]);
        F.replacements[c->id]++;
        if (old && !old->replaced_seq)
            old->replaced_seq = F.replacements[c->id];
    }
    F.table_conn[c->id] = c->conn_id;
    for (size_t i = 0; i < F.nconns; i++) /* replaced in the registry's table by c */
        if (F.conns[i].id == c->id && &F.conns[i] != c && F.conns[i].live && !F.conns[i].lost_at)
            F.conns[i].lost_at = F.now;
    F.current[c->id] = (int)(c - F.conns);
    F.requests++;
    CHECK(registry_table_on_envelope(F.table, &env, F.now) == 0, "REGISTER refused");
}

static void send_register(conn_t *c)
{
    send_register_epoch(c, 0);
}

static conn_t *pick_conn(uint8_t b, bool live)
{
    for (size_t k = 0; k < F.nconns; k++) {
        conn_t *c = &F.conns[(b + k) % F.nconns];
        if (live ? c->live : !c->unregistered && !c->dropped) /* a dropped one's core is gone */
            return c;
    }
    return NULL;
}

static void ev_register_new(uint8_t b)
{
    if (b & 0x80) { /* a core index out of range: refused, nothing changes */
        envelope_t env = {.type = ENV_REGISTER};
        env.u.register_.core_id = CORES + (b & 3);
        env.u.register_.identity = env_str(IDS[b % NIDS]);
        env.u.register_.conn_id = 999999;
        registry_table_on_envelope(F.table, &env, F.now);
        return;
    }
    if (F.nconns >= MAX_CONNS)
        return;
    conn_t *c = &F.conns[F.nconns++];
    *c = (conn_t){.id = b % NIDS,
                  .conn_id = ++F.next_conn,
                  .core = (b / NIDS) % CORES,
                  .authenticated = (b & 0x40) != 0};
    send_register(c);
}

static void ev_unregister(uint8_t b)
{
    conn_t *c = pick_conn(b, false);
    if (!c)
        return;
    envelope_t env = {.type = ENV_UNREGISTER};
    env.u.unregister.core_id = c->core;
    env.u.unregister.identity = env_str(IDS[c->id]);
    env.u.unregister.conn_id = c->conn_id;
    env.u.unregister.epoch = c->heard;
    c->unregistered = true;
    c->late = c->lost_at && F.now >= c->lost_at + (uint64_t)F.grace_ms * 1000u;
    /* the registry keeps the last 4 connections it replaced: an older one it no longer knows */
    c->late |= c->replaced_seq && F.replacements[c->id] - c->replaced_seq >= 4;
    if (F.table_conn[c->id] == c->conn_id)
        F.table_conn[c->id] = 0;
    if (F.trace)
        fprintf(stderr, "  UNREGISTER %s conn %" PRIu64 " epoch %" PRIu64 "\n", IDS[c->id],
                c->conn_id, c->heard);
    c->live = false;
    if (F.current[c->id] == (int)(c - F.conns))
        F.current[c->id] = -1;
    F.requests++;
    CHECK(registry_table_on_envelope(F.table, &env, F.now) == 0, "UNREGISTER refused");
}

static void ask(req_t *q)
{
    uint64_t request_id = (uint64_t)(q - F.reqs);
    envelope_t env = {.type = q->tag ? ENV_TAG_LOOKUP : q->lookup ? ENV_LOOKUP : ENV_DEDUP};
    char command_id[8];
    if (q->txid == 1) {
        env.type = ENV_TXID_BLOCK;
        env.u.txid_block = (env_txid_block_t){
            .request_id = request_id, .core_id = q->arg % CORES, .count = q->arg % 50 + 1u};
    } else if (q->txid == 2) {
        snprintf(command_id, sizeof(command_id), "K%d", q->arg % NTXKEYS);
        env.type = ENV_TXID_CLAIM;
        env.u.txid_claim = (env_txid_claim_t){.request_id = request_id,
                                              .core_id = q->arg % CORES,
                                              .key = env_str(command_id),
                                              .candidate = 1000 + request_id,
                                              .ttl_ms = 1000};
    } else if (q->tag) {
        snprintf(command_id, sizeof(command_id), "TAG%d", q->arg % 10);
        env.u.tag_lookup.request_id = request_id;
        env.u.tag_lookup.core_id = q->arg % CORES;
        env.u.tag_lookup.id_tag = env_str(command_id);
    } else if (q->lookup) {
        env.u.lookup.request_id = request_id;
        env.u.lookup.identity = env_str(IDS[q->arg % NIDS]);
    } else {
        snprintf(command_id, sizeof(command_id), "cmd-%d", q->arg % NCMDS);
        env.u.dedup.request_id = request_id;
        env.u.dedup.command_id = env_str(command_id);
        env.u.dedup.ttl_ms = q->arg;
    }
    q->outstanding = true;
    F.requests++;
    CHECK(registry_table_on_envelope(F.table, &env, F.now) == 0, "request refused");
}

static void ev_request(uint8_t b, bool lookup, bool tag, uint8_t txid)
{
    if (F.nreqs >= MAX_REQS)
        return;
    req_t *q = &F.reqs[F.nreqs++];
    *q = (req_t){.lookup = lookup, .tag = tag, .txid = txid, .arg = b};
    ask(q);
}

/* Core k restarts: each of its current connections comes back (re-announced by its edge, so
 * registered again without an epoch) or is gone without an UNREGISTER; its other connections are
 * gone. */
static void ev_core_restart(uint8_t b, uint8_t keep)
{
    uint32_t k = b % CORES;
    F.now += 1; /* started after every REGISTER so far */
    F.core_instance[k] = F.now;
    registry_table_on_core_instance(F.table, k, F.now, F.now);
    for (size_t i = 0; i < F.nconns; i++) {
        conn_t *c = &F.conns[i];
        if (c->core != k || !c->live)
            continue;
        if (is_current(c) && (keep & 1)) {
            send_register(c); /* resumed: the new core knows no epoch, it claims afresh */
        } else {
            c->live = false;
            c->dropped = true;
            if (F.current[c->id] == (int)i)
                F.current[c->id] = -1;
        }
        keep = (uint8_t)(keep >> 1 | 0x80);
    }
}

/* The registry restarts: its table, queues and the batch in flight are lost (what the batch did
 * in Redis stays); the cores re-register their current connections with the epochs they heard. */
static void ev_registry_restart(const registry_table_config_t *cfg, const registry_table_ops_t *ops)
{
    for (size_t i = 0; i < F.npending; i++)
        registry_reply_destroy(&F.pending[i]);
    F.npending = 0;
    F.in_flight = false;
    registry_table_destroy(&F.table);
    F.npubsub = 0; /* published to the old subscription: lost */
    memset(F.table_conn, 0, sizeof(F.table_conn));
    F.table = registry_table_new(cfg, ops, NULL);
    CHECK(F.table != NULL, "table");
    F.connected = false;
    for (size_t i = 0; i < F.nreqs; i++) /* their answers are lost: asked again later */
        F.reqs[i].outstanding = false;
    for (size_t i = 0; i < F.nconns; i++) {
        if (F.conns[i].unregistered)
            F.conns[i].unreg_lost = true; /* its release may be lost: reconciled later */
        else if (F.conns[i].live && !is_current(&F.conns[i]))
            F.conns[i].untracked = true; /* its UNREGISTER may bring no epoch */
    }
    for (uint32_t k = 0; k < CORES; k++)
        registry_table_on_core_instance(F.table, k, F.core_instance[k], F.now);
    for (int id = 0; id < NIDS; id++) {
        conn_t *c = F.current[id] >= 0 ? &F.conns[F.current[id]] : NULL;
        if (c && c->live) {
            c->stale = c->heard < c->known; /* REGISTERED unread when the registry died */
            send_register_epoch(c, c->heard);
        }
    }
}

/* The bridge asks again, with the same request id, what was answered with an error. */
static void ask_again(uint8_t b)
{
    for (size_t k = 0; k < F.nreqs; k++) {
        req_t *q = &F.reqs[(b + k) % F.nreqs];
        if (!q->done && !q->outstanding) {
            ask(q);
            return;
        }
    }
}

static void deliver_pubsub(size_t max)
{
    size_t n = F.npubsub < max ? F.npubsub : max;
    for (size_t i = 0; i < n; i++)
        registry_table_on_superseded(F.table, F.pubsub[i], strlen(F.pubsub[i]));
    memmove(F.pubsub, F.pubsub + n, (F.npubsub - n) * sizeof(F.pubsub[0]));
    F.npubsub -= n;
}

/* Each request queues at most one item, and a registration at most one claim besides the stale
 * entry a registration that went may leave; a claim answered for a connection that went queues
 * one release. */
static void check_bounded(void)
{
    CHECK(registry_table_depth(F.table) <= 2 * F.requests + F.claims_run + 2 * NIDS,
          "queue larger than the requests seen");
    CHECK(registry_table_size(F.table) <= F.nconns, "more registrations than connections");
}

static void step(input_t *in, const registry_table_config_t *cfg, const registry_table_ops_t *ops)
{
    uint8_t op = next(in), b = next(in);
    if (F.trace)
        fprintf(stderr, "step %d b=%d now=%" PRIu64 "\n", op % 24, b, F.now);
    switch (op % 24) {
    case 0:
    case 1:
        ev_register_new(b);
        break;
    case 2: { /* BootNotification: the same connection registers again (only the newest of an
               * identity: ocpp-core closes an older one when a newer one arrives) */
        conn_t *c = pick_conn(b, true);
        if (c && is_current(c))
            send_register(c);
        break;
    }
    case 3:
        ev_unregister(b);
        break;
    case 4: /* the cores read what was sent to them */
        for (size_t i = 0; i < F.nconns; i++)
            if (F.conns[i].unread && !F.conns[i].unregistered) {
                F.conns[i].heard = F.conns[i].unread;
                F.conns[i].unread = 0;
            }
        break;
    case 5:
        ev_request(b, true, false, 0);
        break;
    case 6:
        ev_request(b, false, false, 0);
        break;
    case 7:
    case 8:
        if (F.in_flight)
            deliver();
        flush(b, next(in), false);
        break;
    case 9:
        if (F.in_flight)
            deliver();
        flush(b, next(in), true);
        break;
    case 10:
        deliver();
        break;
    case 11:               /* Redis unreachable: the connection in use breaks */
        if (F.in_flight) { /* nothing of the batch in flight comes back */
            for (size_t i = 0; i < F.npending; i++)
                registry_reply_destroy(&F.pending[i]);
            F.npending = 0;
            deliver();
        }
        F.redis_up = false;
        F.connected = false;
        break;
    case 12:
        F.redis_up = true;
        break;
    case 13:
        other_claims(b % NIDS, (b & 0x80) != 0);
        break;
    case 14: /* the other pod's connection goes */
        if (F.owner[b % NIDS] == POD_B)
            F.owner[b % NIDS] = 0;
        break;
    case 15: /* our mapping swept (lease lost) */
        if (F.owner[b % NIDS] == POD_A)
            F.owner[b % NIDS] = 0;
        break;
    case 16: /* Redis restarted empty (de-dup keys kept: losing them loses "first once") */
        memset(F.counter, 0, sizeof(F.counter));
        memset(F.owner, 0, sizeof(F.owner));
        F.scripts_lost = true;
        break;
    case 17:
        deliver_pubsub(b % 4 ? 1 : MAX_PUBSUB);
        break;
    case 18:
        if (b % 3 == 0) { /* subscriber reconnected: what was published meanwhile is lost */
            F.npubsub = 0;
            registry_table_requeue_all(F.table, "subscribed");
        } else if (b % 3 == 1) {
            registry_table_requeue_all(F.table, "lease expired");
            ask_again(next(in));
        } else { /* anything may be published on the channel */
            char junk[32];
            size_t n = next(in) % sizeof(junk);
            for (size_t i = 0; i < n; i++)
                junk[i] = (char)next(in);
            registry_table_on_superseded(F.table, junk, n);
        }
        break;
    case 19:
        F.now += (uint64_t)b * 100000u;
        registry_table_update_busy(F.table, F.connected, F.now);
        break;
    case 20: /* a core asks: an id token, a block of transaction ids, a transaction's id */
        ev_request(b, false, b % 3 == 0, (uint8_t)(b % 3));
        break;
    case 21:
        ev_core_restart(b, next(in));
        break;
    case 22: /* the shell's tick: restarted cores' deadlines, the reconciliation */
        F.now += (uint64_t)(b % 64) * 100000u;
        registry_table_tick(F.table, F.connected, F.now);
        break;
    case 23:
        if (b % 4 == 0)
            ev_registry_restart(cfg, ops);
        break;
    }
    check_bounded();
}

/* Redis up for good, every batch answered, every message delivered, everything re-asserted:
 * the table and the model agree and every request has its answer. */
static void settle(void)
{
    deliver();
    F.redis_up = true;
    /* over queue_limit, questions are refused (-EBUSY): asked again round after round */
    bool open = true;
    for (int round = 0; round < 3 || (open && round < MAX_REQS + 3); round++) {
        if (round == 1 || round == 2) {
            deliver_pubsub(MAX_PUBSUB);
            registry_table_requeue_all(F.table, "settle");
        }
        for (int i = 0; i < 200 && registry_table_depth(F.table) > 0; i++)
            flush(0, 0, false);
        for (size_t i = 0; i < F.nreqs; i++)
            if (!F.reqs[i].done && !F.reqs[i].outstanding)
                ask(&F.reqs[i]);
        for (int i = 0; i < 200 && registry_table_depth(F.table) > 0; i++)
            flush(0, 0, false);
        CHECK(registry_table_depth(F.table) == 0, "queue not empty with Redis up");
        open = false;
        for (size_t i = 0; i < F.nreqs; i++)
            open |= !F.reqs[i].done;
    }
    for (size_t i = 0; i < F.nreqs; i++)
        CHECK(F.reqs[i].done, "a request without an answer");
    /* the request whose value Redis kept is the one that was told first: exactly once */
    for (int k = 0; k < NCMDS; k++) {
        if (!F.dedup[k][0])
            continue;
        CHECK(strncmp(F.dedup[k], "pod-a/", 6) == 0, "de-dup value");
        uint64_t r = strtoull(F.dedup[k] + 6, NULL, 10);
        CHECK(r < F.nreqs && F.reqs[r].first, "the check that set the key was not told first");
    }
    for (int id = 0; id < NIDS; id++) {
        if (F.current[id] < 0)
            continue;
        const conn_t *c = &F.conns[F.current[id]];
        CHECK(c->registered >= 1 && c->unanswered == 0,
              "a current connection whose REGISTER was never answered");
        CHECK(F.owner[id] == POD_A && F.counter[id] == c->held,
              "the table holds a connection Redis does not map to it");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&F, 0, sizeof(F));
    for (int i = 0; i < NIDS; i++)
        F.current[i] = -1;
    F.now = 1000000000u;
    F.redis_up = true;
    F.trace = getenv("FUZZ_TRACE") != NULL;
    if (F.trace)
        log_set_fd(2);
    input_t in = {data, size};
    registry_table_config_t cfg = {.pod_id = "pod-a",
                                   .core_count = CORES,
                                   .queue_limit = 2 + next(&in) % 32,
                                   .batch_max = 1 + next(&in) % 16,
                                   .events_topic = "ocpp-events-up",
                                   .reconcile_grace_ms = 100 * (next(&in) % 40),
                                   .reconcile_interval_ms = 1000 + 100 * (next(&in) % 40)};
    registry_table_ops_t ops = {.to_core = to_core, .to_bridge = to_bridge};
    F.grace_ms = cfg.reconcile_grace_ms;
    F.table = registry_table_new(&cfg, &ops, NULL);
    if (!F.table)
        return 0;
    for (uint32_t k = 0; k < CORES; k++) {
        F.core_instance[k] = F.now - 1000000u;
        registry_table_on_core_instance(F.table, k, F.core_instance[k], F.now);
    }
    while (in.n > 0)
        step(&in, &cfg, &ops);
    settle();
    registry_table_destroy(&F.table);
    for (size_t i = 0; i < F.npending; i++)
        registry_reply_destroy(&F.pending[i]);
    metrics_shutdown();
    return 0;
}
