/* fuzz_registry_lease.c: libFuzzer driver for registry_lease, the lease / sweeper / takeover
 * engine of redis-registry.
 *
 * The input is read as a sequence of events: the lease refresh, a check of the pods, the stop
 * job (each run step by step, every batch executed by a small in-memory model of the Lua scripts
 * and commands, then answered in full, cut after some commands ran, or refused with READONLY),
 * TAKEOVER_DONE from the fake bridge (it stopped reading for good), a new bridge instance, a
 * restart of the registry itself; and, between them, pods losing and regaining their leases (ours
 * too), other pods claiming charge points, another registry taking the sweeper lock or a takeover
 * claim, garbage in the pods set, time passing (keys expire, dead pods get forgotten after
 * FORGET_MS).
 *
 * Invariants (abort on violation):
 *  - a mapping is swept only by us while we hold the sweeper lock, only sweep_grace_ms after its
 *    pod was first seen without a lease (and not seen alive since), never one of ours; each
 *    mapping our sweep removed and whose answer came back yields exactly one
 *    device.disconnected (identity and epoch of the removed mapping), and nothing else does (an
 *    answer lost with the connection loses its event: docs/registry.md, known limits);
 *  - TAKEOVER active=true only for a claim the model holds for us under that epoch, never for a
 *    new epoch without a stop of the old one, the same epoch again only after TAKEOVER_DONE, a
 *    new bridge instance or a registry restart; active=false only for the epoch the bridge was
 *    told; never for our own pod;
 *  - a claim is kept while its pod is dead and known: it is released (release mode) only for a
 *    pod the round found alive or not in the pods set, and dropped by the script only when the
 *    pod is alive or forgotten (dead for FORGET_MS);
 *  - lease_expired exactly when the refresh found our lease missing;
 *  - the pods tracked stay within the pods ever named. */
#include "registry_lease.h"
#include "registry_logic.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "registry_fuzz.h"
#include "registry_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPODS     5 /* pod-a (us), pod-b, pod-c (another registry), pod-d, and a garbage name */
#define NIDS      6
#define ME        0
#define OTHER     2
#define GRACE_MS  2000
#define TTL_MS    3000
#define REFRESH   1000
#define MAX_OWED  16
#define GARBAGE   4
#define FORGET_MS 20000

static const char *const PODS[NPODS] = {
    "pod-a", "pod-b", "pod-c", "pod-d",
    "a-pod-name-that-is-much-too-long-to-be-a-pod-id-of-this-gateway-at-all"};
static const char *const IDS[NIDS] = {"CP0", "CP1", "CP2", "CP3", "CP4", "CP5"};

typedef struct {
    int id;
    uint64_t epoch;
} owed_t;

static struct {
    registry_lease_t *lease;
    uint64_t now_ms;
    /* the model of Redis */
    bool in_pods[NPODS];
    bool lease_up[NPODS];
    int owner[NIDS]; /* pod index, -1 none */
    uint64_t epoch[NIDS], next_epoch;
    bool conns[NPODS][NIDS]; /* pod:{p}:conns */
    int lock_holder;         /* -1 none */
    uint64_t lock_until;
    int takeover_holder[NPODS]; /* -1 none */
    uint64_t takeover_epoch[NPODS], takeover_counter[NPODS], takeover_until[NPODS];
    bool forgotten[NPODS]; /* takeover:{p}:forgotten */
    uint64_t since[NPODS]; /* takeover:{p}:since (ms), 0: none */
    /* what the engine saw and said */
    uint64_t dead_since[NPODS]; /* first EXISTS 0 delivered since the last 1 (+1: 0 is none) */
    uint64_t told[NPODS];       /* epoch the bridge was told active, 0: none */
    bool repeat_ok[NPODS];      /* an active=true for the epoch told may come again */
    bool knows[NPODS];          /* this engine (instance) said active=true for told */
    bool unconfirmed[NPODS];    /* told by an engine instance that restarted since */
    bool listed[NPODS];         /* in the last SMEMBERS answer delivered */
    bool alive_seen[NPODS];     /* the last EXISTS of its lease delivered said 1 */
    uint64_t bridge_instance;
    owed_t owed[MAX_OWED]; /* device.disconnected owed for sweeps delivered */
    size_t nowed;
    int expired_owed; /* lease_expired owed by the refresh replies delivered */
    int expired_calls;
    size_t sent; /* TAKEOVER envelopes */
    bool trace;  /* FUZZ_TRACE set: steps, commands and TAKEOVERs on stderr */
    const registry_lease_config_t *cfg;
    const registry_lease_ops_t *ops;
} F;

/* ---- effects ---------------------------------------------------------------------------- */

static int pod_index(env_str_t s)
{
    for (int i = 0; i < NPODS; i++)
        if (s.len == strlen(PODS[i]) && memcmp(s.ptr, PODS[i], s.len) == 0)
            return i;
    return -1;
}

static int to_bridge(void *arg, const envelope_t *env)
{
    (void)arg;
    if (env->type == ENV_EVENT) {
        char key[16] = "";
        env_str_copy(env->u.event.key, key, sizeof(key));
        char id[64] = "";
        for (size_t i = 0; i < env->u.event.headers.count; i++)
            if (env->u.event.headers.items[i].name.len == 5 &&
                memcmp(env->u.event.headers.items[i].name.ptr, "ce_id", 5) == 0)
                env_str_copy(env->u.event.headers.items[i].value, id, sizeof(id));
        for (size_t i = 0; i < F.nowed; i++) {
            char want[33];
            registry_disconnect_t d = {
                .identity = IDS[F.owed[i].id], .kind = "swept", .epoch = F.owed[i].epoch};
            registry_event_disconnect_id(&d, want);
            if (strcmp(key, IDS[F.owed[i].id]) == 0 && strcmp(id, want) == 0) {
                F.owed[i] = F.owed[--F.nowed];
                return 0;
            }
        }
        CHECK(0, "device.disconnected for a mapping our sweep did not remove");
    }
    CHECK(env->type == ENV_TAKEOVER, "unexpected envelope to the bridge");
    F.sent++;
    if (F.trace)
        fprintf(stderr, "  TAKEOVER %.*s %" PRIu64 " %d (told %" PRIu64 ")\n",
                (int)env->u.takeover.pod.len, env->u.takeover.pod.ptr, env->u.takeover.epoch,
                env->u.takeover.active, F.told[pod_index(env->u.takeover.pod) & 3]);
    int p = pod_index(env->u.takeover.pod);
    CHECK(p > ME && p != GARBAGE, "TAKEOVER of our own pod or of a name that is no pod");
    uint64_t epoch = env->u.takeover.epoch;
    if (env->u.takeover.active) {
        /* after a registry restart, what the old instance told is the bridge's to drop unless
         * confirmed (docs/commands.md): a new epoch may come without a stop */
        CHECK(F.told[p] == 0 || (F.told[p] == epoch && F.repeat_ok[p]) || F.unconfirmed[p],
              "TAKEOVER active again without a stop, a TAKEOVER_DONE or a restart");
        /* a repeat (TAKEOVER_DONE, a new bridge) comes from what the engine holds, which may
         * have lapsed in Redis since: the next round stops it then */
        CHECK((F.takeover_holder[p] == ME && F.takeover_epoch[p] == epoch) ||
                  (F.repeat_ok[p] && F.told[p] == epoch),
              "TAKEOVER active for a claim we do not hold");
        F.told[p] = epoch;
        F.repeat_ok[p] = false;
        F.unconfirmed[p] = false;
        F.knows[p] = true;
    } else {
        CHECK(epoch != 0 && F.told[p] == epoch && F.knows[p],
              "TAKEOVER stop for an epoch never started");
        F.told[p] = 0;
        F.knows[p] = false;
    }
    return 0;
}

static void lease_expired(void *arg)
{
    (void)arg;
    CHECK(F.expired_owed > 0, "lease_expired without a missing lease");
    F.expired_owed--;
    F.expired_calls++;
}

/* ---- the model of Redis (registry_keys.c) ------------------------------------------------ */

static void expire(void)
{
    if (F.lock_holder >= 0 && F.now_ms >= F.lock_until)
        F.lock_holder = -1;
    for (int p = 0; p < NPODS; p++)
        if (F.takeover_holder[p] >= 0 && F.now_ms >= F.takeover_until[p])
            F.takeover_holder[p] = -1;
}

/* The pod index a key names, e.g. "pod:{pod-b}" with prefix "pod:{" and suffix "}". */
static int pod_of_key(const char *key, const char *prefix, const char *suffix)
{
    for (int p = 0; p < NPODS; p++) {
        char k[160];
        snprintf(k, sizeof(k), "%s%s%s", prefix, PODS[p], suffix);
        if (strcmp(k, key) == 0)
            return p;
    }
    return -1;
}

static int pod_of_arg(const char *s)
{
    for (int p = 0; p < NPODS; p++)
        if (strcmp(s, PODS[p]) == 0)
            return p;
    return -1;
}

static registry_reply_t *pair(long long a, registry_reply_t *b)
{
    registry_reply_t *r = registry_reply_array(2);
    r->element[0] = registry_reply_int(a);
    r->element[1] = b;
    return r;
}

static registry_reply_t *run_plain(size_t argc, const char *const *a)
{
    if (strcmp(a[0], "EXISTS") == 0) {
        CHECK(argc == 2, "EXISTS");
        int p = pod_of_key(a[1], "pod:{", "}");
        return registry_reply_int(p >= 0 && F.lease_up[p]);
    }
    if (strcmp(a[0], "SET") == 0) {
        CHECK(argc == 5 && pod_of_key(a[1], "pod:{", "}") == ME, "lease SET of another pod");
        F.lease_up[ME] = true;
        return registry_reply_text(REGISTRY_REPLY_STATUS, "OK", 2);
    }
    if (strcmp(a[0], "SADD") == 0) {
        CHECK(argc == 3 && strcmp(a[1], REGISTRY_PODS_KEY) == 0 && strcmp(a[2], "pod-a") == 0,
              "SADD");
        F.in_pods[ME] = true;
        return registry_reply_int(1);
    }
    if (strcmp(a[0], "DEL") == 0) {
        if (argc == 3 && pod_of_key(a[1], "takeover:{", "}:forgotten") == ME &&
            pod_of_key(a[2], "takeover:{", "}:since") == ME) {
            F.forgotten[ME] = false;
            F.since[ME] = 0;
        } else if (argc == 2 && pod_of_key(a[1], "pod:{", "}") == ME) {
            F.lease_up[ME] = false; /* stop */
        } else {
            CHECK(0, "DEL of a key the lease engine does not own");
        }
        return registry_reply_int(1);
    }
    if (strcmp(a[0], "SMEMBERS") == 0) {
        int n = 0;
        for (int p = 0; p < NPODS; p++)
            n += F.in_pods[p];
        registry_reply_t *r = registry_reply_array((size_t)n + 1);
        n = 0;
        for (int p = 0; p < NPODS; p++)
            if (F.in_pods[p])
                r->element[n++] = text(PODS[p]);
        r->element[n] = registry_reply_int(7); /* garbage: a non-text member */
        return r;
    }
    if (strcmp(a[0], "SRANDMEMBER") == 0) {
        int p = pod_of_key(a[1], "pod:{", "}:conns");
        CHECK(argc == 3 && p > ME, "SRANDMEMBER of our own set");
        size_t n = 0, max = strtoull(a[2], NULL, 10);
        for (int i = 0; i < NIDS; i++)
            n += F.conns[p][i];
        n = n < max ? n : max;
        registry_reply_t *r = registry_reply_array(n);
        size_t k = 0;
        for (int i = 0; i < NIDS && k < n; i++)
            if (F.conns[p][i])
                r->element[k++] = text(IDS[i]);
        return r;
    }
    CHECK(0, "a command the lease engine never sends");
    return NULL;
}

static registry_reply_t *run_script(int script, size_t argc, const char *const *a)
{
    if (script == REGISTRY_SCRIPT_LOCK) {
        CHECK(argc == 3 && strcmp(a[0], REGISTRY_SWEEPER_KEY) == 0, "lock arguments");
        if (F.lock_holder >= 0 && F.lock_holder != ME)
            return registry_reply_int(0);
        F.lock_holder = ME;
        F.lock_until = F.now_ms + strtoull(a[2], NULL, 10);
        return registry_reply_int(1);
    }
    if (script == REGISTRY_SCRIPT_SWEEP) {
        CHECK(argc == 8, "sweep arguments");
        int p = pod_of_arg(a[5]);
        CHECK(p > ME && pod_of_key(a[3], "pod:{", "}") == p, "sweep of our own pod or wrong keys");
        CHECK(F.lock_holder == ME, "sweep without the sweeper lock");
        CHECK(F.dead_since[p] && F.now_ms >= F.dead_since[p] - 1 + GRACE_MS,
              "sweep before sweep_grace_ms");
        if (F.lease_up[p])
            return pair(-1, registry_reply_int(0));
        int id = -1;
        for (int i = 0; i < NIDS; i++)
            if (strcmp(a[6], IDS[i]) == 0)
                id = i;
        if (id < 0)
            return pair(0, registry_reply_int(0));
        F.conns[p][id] = false;
        if (F.owner[id] != p)
            return pair(0, registry_reply_int(0));
        F.owner[id] = -1;
        return pair(1, registry_reply_int((long long)F.epoch[id]));
    }
    if (script == REGISTRY_SCRIPT_TAKEOVER) {
        CHECK(argc == 13 && strcmp(a[7], "pod-a") == 0, "takeover arguments");
        int p = pod_of_key(a[0], "takeover:{", "}");
        CHECK(p > ME && p != GARBAGE && pod_of_arg(a[11]) == p,
              "takeover of our own pod or of garbage");
        CHECK(strtoull(a[10], NULL, 10) == FORGET_MS, "orphan_forget_ms");
        bool mine = F.takeover_holder[p] == ME;
        uint64_t held = mine ? F.takeover_epoch[p] : 0;
        registry_reply_t *r = registry_reply_array(3);
        r->element[0] = registry_reply_int((long long)held);
        r->element[2] = registry_reply_int(0);
        if (strcmp(a[9], "release") == 0) {
            CHECK(!F.listed[p] || F.alive_seen[p], "the claim on a dead, known pod released");
            if (mine)
                F.takeover_holder[p] = -1;
            r->element[1] = text("released");
            return r;
        }
        CHECK(strcmp(a[9], "try") == 0, "takeover mode");
        if (F.lease_up[p]) {
            if (mine)
                F.takeover_holder[p] = -1;
            F.since[p] = 0;
            r->element[1] = text("alive");
            return r;
        }
        if (!F.since[p])
            F.since[p] = F.now_ms;
        uint64_t dead = F.now_ms - F.since[p];
        r->element[2]->integer = (long long)dead;
        if (F.forgotten[p] || dead >= FORGET_MS) {
            if (mine)
                F.takeover_holder[p] = -1;
            F.forgotten[p] = true;
            bool empty = true;
            for (int i = 0; i < NIDS; i++)
                empty &= !F.conns[p][i];
            if (empty) {
                F.in_pods[p] = false;
                F.since[p] = 0;
            }
            r->element[1] = text("forgotten");
            return r;
        }
        if (mine) {
            F.takeover_until[p] = F.now_ms + TTL_MS;
            r->element[1] = text("held");
            return r;
        }
        if (F.takeover_holder[p] >= 0) {
            r->element[1] = text("other");
            return r;
        }
        F.takeover_holder[p] = ME;
        F.takeover_epoch[p] = ++F.takeover_counter[p];
        F.takeover_until[p] = F.now_ms + TTL_MS;
        r->element[0]->integer = (long long)F.takeover_epoch[p];
        r->element[1] = text("won");
        return r;
    }
    CHECK(0, "a script the lease engine never sends");
    return NULL;
}

/* ---- the shell ---------------------------------------------------------------------------- */

/* Notes what the engine learns from a delivered reply, to check what it does with it. The
 * leases of the pods count only when all of them were answered (a step cut short is dropped). */
static void note(const registry_batch_t *b, size_t i, const registry_reply_t *r, bool whole)
{
    const char *a0 = registry_batch_arg(b, i, 0);
    int script = registry_batch_script_of(b, i);
    if (script == REGISTRY_BATCH_PLAIN && strcmp(a0, "EXISTS") == 0 && whole) {
        int p = pod_of_key(registry_batch_arg(b, i, 1), "pod:{", "}");
        if (p > ME && r->type == REGISTRY_REPLY_INTEGER) {
            F.dead_since[p] = r->integer ? 0 : (F.dead_since[p] ? F.dead_since[p] : F.now_ms + 1);
            F.alive_seen[p] = r->integer == 1;
        }
    }
    if (script == REGISTRY_BATCH_PLAIN && strcmp(a0, "SMEMBERS") == 0) {
        for (int p = 0; p < NPODS; p++) {
            F.listed[p] = false;
            F.alive_seen[p] = false;
            for (size_t k = 0; r->type == REGISTRY_REPLY_ARRAY && k < r->elements; k++)
                F.listed[p] |= strcmp(registry_reply_elem_str(r, k), PODS[p]) == 0;
        }
    }
    if (script == REGISTRY_SCRIPT_SWEEP && registry_reply_elem_int(r, 0) == 1) {
        CHECK(F.nowed < MAX_OWED, "too many sweeps in one batch (fuzz limit)");
        const char *id = registry_batch_arg(b, i, 6);
        for (int k = 0; k < NIDS; k++)
            if (strcmp(id, IDS[k]) == 0)
                F.owed[F.nowed++] = (owed_t){k, (uint64_t)registry_reply_elem_int(r, 1)};
    }
}

/* Runs the job just started, as main.c's lease_run(), each batch with an outcome: 0 answered,
 * 1 cut (some commands ran, fewer answered), 2 READONLY (nothing ran). */
static int run(input_t *in)
{
    int last = 0;
    const registry_batch_t *b;
    for (int steps = 0; (b = registry_lease_batch(F.lease)); steps++) {
        CHECK(steps < 64, "a job that never ends");
        uint8_t outcome = next(in) % 6, cut = next(in);
        size_t n = registry_batch_size(b), ran = n, answered = n;
        if (outcome == 1) {
            ran = cut % (n + 1);
            answered = ran ? (cut / 16) % (ran + 1) : 0;
        }
        expire();
        registry_reply_t *r[64];
        CHECK(n <= 64, "batch too large (fuzz limit)");
        for (size_t i = 0; i < n; i++) {
            const char *a[REGISTRY_BATCH_MAX_ARGS];
            size_t argc = registry_batch_argc(b, i);
            for (size_t j = 0; j < argc; j++)
                a[j] = registry_batch_arg(b, i, j);
            int script = registry_batch_script_of(b, i);
            if (outcome == 2)
                r[i] = registry_reply_text(REGISTRY_REPLY_ERROR, "READONLY replica", 16);
            else if (i >= ran)
                r[i] = NULL;
            else
                r[i] = script == REGISTRY_BATCH_PLAIN ? run_plain(argc, a)
                                                      : run_script(script, argc, a);
            if (i < answered && r[i])
                note(b, i, r[i], answered == n);
            if (F.trace)
                fprintf(stderr, "    cmd %s %s -> %s%s\n", a[0], argc > 1 ? a[1] : "",
                        r[i] ? (r[i]->type == REGISTRY_REPLY_INTEGER ? "int" : "reply") : "none",
                        i < answered ? "" : " (unanswered)");
        }
        /* the refresh (EXISTS, SET, SADD, DEL) wholly answered, found our lease missing, and
         * the server took the SET: every registration must be re-asserted */
        bool refresh = n == 4 && strcmp(registry_batch_arg(b, 1, 0), "SET") == 0;
        if (refresh && answered == 4 && r[0]->type == REGISTRY_REPLY_INTEGER &&
            r[0]->integer == 0 && r[1]->type != REGISTRY_REPLY_ERROR)
            F.expired_owed = 1;
        int rc = registry_lease_on_replies(F.lease, (const registry_reply_t *const *)r, answered,
                                           F.now_ms * 1000u);
        for (size_t i = 0; i < n; i++)
            registry_reply_destroy(&r[i]);
        CHECK(F.nowed == 0, "a swept mapping without its device.disconnected");
        CHECK(F.expired_owed == 0, "our lease missing and nothing re-asserted");
        if (answered < n)
            CHECK(rc == -EPIPE, "a broken step not reported");
        last = rc;
    }
    CHECK(registry_lease_dead_pods(F.lease) < NPODS, "tracking more pods than exist");
    return last;
}

static void step(input_t *in)
{
    uint8_t op = next(in), b = next(in);
    int p = 1 + b % (NPODS - 1); /* another pod, or the garbage name */
    if (F.trace)
        fprintf(stderr, "step %d b=%d now=%" PRIu64 "\n", op % 15, b, F.now_ms);
    switch (op % 15) {
    case 0:
        if (registry_lease_refresh(F.lease, b, F.now_ms * 1000u) == 0)
            run(in);
        break;
    case 1:
    case 2:
        if (registry_lease_check_pods(F.lease, F.now_ms * 1000u) == 0)
            run(in);
        break;
    case 3: { /* the bridge stopped reading a pod's partition for good (or says something odd) */
        uint64_t epoch = b & 0x80 ? b & 3 : F.told[p];
        env_takeover_done_t m = {.pod = env_str(PODS[p]), .epoch = epoch};
        /* a claim still held (the bridge was told active for it): repeated at once */
        bool held = epoch != 0 && epoch == F.told[p] && F.knows[p];
        if (held)
            F.repeat_ok[p] = true;
        size_t before = F.sent;
        int rc = registry_lease_on_takeover_done(F.lease, &m, F.now_ms * 1000u);
        CHECK(held ? rc == 0 : rc == -ENOENT, "TAKEOVER_DONE accepted or refused wrongly");
        CHECK(!held || F.sent == before + 1, "a claim still held not repeated");
        CHECK(registry_lease_batch(F.lease) == NULL || rc != 0, "TAKEOVER_DONE started a job");
        F.repeat_ok[p] = false;
        break;
    }
    case 4:
        if (registry_lease_stop(F.lease) == 0)
            run(in);
        break;
    case 5: /* a pod's lease comes and goes (ours too: we were paused) */
        F.lease_up[b % NPODS] = !F.lease_up[b % NPODS];
        if (F.lease_up[b % NPODS] && b % NPODS != GARBAGE)
            F.in_pods[b % NPODS] = true;
        break;
    case 6: { /* a pod claims a charge point */
        int id = (b / 8) % NIDS, q = b % 4;
        if (F.owner[id] >= 0)
            F.conns[F.owner[id]][id] = false;
        F.owner[id] = q;
        F.epoch[id] = ++F.next_epoch;
        F.conns[q][id] = true;
        break;
    }
    case 7: /* another registry takes the sweeper lock */
        expire();
        if (F.lock_holder < 0) {
            F.lock_holder = OTHER;
            F.lock_until = F.now_ms + (uint64_t)b * 100u;
        }
        break;
    case 8: /* another registry claims a takeover */
        expire();
        if (F.takeover_holder[p] < 0 && p != GARBAGE && !F.lease_up[p]) {
            F.takeover_holder[p] = OTHER;
            F.takeover_epoch[p] = ++F.takeover_counter[p];
            F.takeover_until[p] = F.now_ms + TTL_MS;
        }
        break;
    case 9:
        F.now_ms += (uint64_t)b * 50u;
        break;
    case 10:
        F.in_pods[b % NPODS] = !F.in_pods[b % NPODS];
        break;
    case 11: /* a pod refreshes its lease: its marks go */
        F.forgotten[p] = false;
        F.since[p] = 0;
        F.lease_up[p] = p != GARBAGE;
        break;
    case 12:
        registry_lease_cancel(F.lease);
        break;
    case 13: /* a new bridge instance: every claim told is repeated */
        F.bridge_instance += 1 + b;
        for (int q = 0; q < NPODS; q++)
            F.repeat_ok[q] = F.told[q] != 0 && F.knows[q];
        registry_lease_on_bridge_instance(F.lease, F.bridge_instance);
        for (int q = 0; q < NPODS; q++)
            CHECK(!F.repeat_ok[q], "a claim held not repeated to a new bridge");
        break;
    case 14: /* the registry restarts: a new engine learns its claims from Redis ("held") */
        if (b % 4)
            break;
        registry_lease_destroy(&F.lease);
        F.lease = registry_lease_new(F.cfg, F.ops, NULL);
        CHECK(F.lease != NULL, "lease engine");
        for (int q = 0; q < NPODS; q++) {
            F.unconfirmed[q] = F.told[q] != 0;
            F.knows[q] = false;
            F.dead_since[q] = 0;
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&F, 0, sizeof(F));
    F.lock_holder = -1;
    for (int i = 0; i < NIDS; i++)
        F.owner[i] = -1;
    for (int p = 0; p < NPODS; p++)
        F.takeover_holder[p] = -1;
    F.now_ms = 1795489200000u;
    F.trace = getenv("FUZZ_TRACE") != NULL;
    registry_lease_config_t cfg = {.pod_id = "pod-a",
                                   .lease_ttl_ms = TTL_MS,
                                   .lease_refresh_ms = REFRESH,
                                   .sweep_batch = 1 + size % 4,
                                   .sweep_grace_ms = GRACE_MS,
                                   .orphan_forget_ms = FORGET_MS,
                                   .events_topic = "ocpp-events-up"};
    registry_lease_ops_t ops = {.to_bridge = to_bridge, .lease_expired = lease_expired};
    F.cfg = &cfg;
    F.ops = &ops;
    F.lease = registry_lease_new(&cfg, &ops, NULL);
    if (!F.lease)
        return 0;
    input_t in = {data, size};
    while (in.n > 0)
        step(&in);
    registry_lease_destroy(&F.lease);
    metrics_shutdown();
    return 0;
}
