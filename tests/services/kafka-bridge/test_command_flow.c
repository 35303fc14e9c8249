/* Unit tests for services/kafka-bridge/command_flow, the command lifecycle engine: event sequences
 * in, effects recorded by the ops below and asserted in order. The hard cases of issue 11: handed
 * to core, forwarded, parked (found, expired), taken over and drained, invalid (here and at core),
 * duplicate, de-dup unavailable, failed deliveries, a core that never answers, offsets finished
 * out of order, stop in every state, reading paused and resumed, re-entrant delivery reports.
 * Issue 12: ANNOUNCE sent, a core restarting (its commands finished as timeout, a late RESULT
 * dropped), a registry restarting (questions asked again, takeovers to be confirmed), a full core
 * (the command waits, in order, never rejected), a taken-over partition read on after its drain
 * until TAKEOVER active=false (then TAKEOVER_DONE), RESULTs of an earlier bridge instance.
 * Issue 14: the deadline in COMMAND.expires_at_ms and checked while waiting for OWNER or DEDUP,
 * the DEDUP key's ttl, a cp_id the edge would refuse, content-type and traceparent headers, the
 * duration histogram, a change of the partition count (own and taken-over partitions). */
#include "command_flow.h"

#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_metrics.h"
#include "hash.h"
#include "log.h"

#define T0_MS  1795000000000LL /* some ms since the epoch */
#define US(ms) ((uint64_t)(ms)*1000)

/* ---- recording ops --------------------------------------------------------------------- */

typedef enum {
    OP_PRODUCE,
    OP_REGISTRY,
    OP_CORE,
    OP_STORE,
    OP_START,
    OP_PAUSE,
    OP_STOP,
    OP_DESTROY
} op_kind_t;

typedef struct {
    op_kind_t kind;
    /* produce */
    char topic[64];
    int32_t partition;
    char key[160];
    char value[4096];
    size_t vlen;
    uint64_t cookie;
    char hname[16][32];
    char hvalue[16][200];
    size_t nh;
    /* envelopes */
    int type;
    uint64_t request_id; /* LOOKUP, DEDUP; COMMAND: token */
    char text[160];      /* LOOKUP identity, DEDUP / COMMAND command_id, TAKEOVER_DONE pod */
    uint64_t epoch;
    uint32_t core;
    char traceparent[64];   /* COMMAND */
    uint64_t expires_at_ms; /* COMMAND */
    /* readers */
    uint32_t reader;
    char pod[64];
    int64_t offset; /* store: next offset; start: partition */
    bool flag;      /* pause: paused; start: takeover */
} op_t;

static op_t rec_ops[512];
static size_t nops, seen;
static int produce_rc, core_rc, start_rc;
static int core_rc_calls; /* core_rc applies to this many COMMAND sends (-1: all), then 0 */
static command_flow_t *F;
/* the traceparent header of the records read next ("" none) */
static const char *record_tp = "";
/* delivery reports served (ok) inside a produce call, as the shell does while the producer
 * queue is full: a given cookie on the next call, or the previous record's on every call */
static uint64_t reenter_cookie;
static bool reenter_last;

static op_t *op_add(op_kind_t kind)
{
    ck_assert_uint_lt(nops, sizeof(rec_ops) / sizeof(rec_ops[0]));
    op_t *o = &rec_ops[nops++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    return o;
}

static void copy_str(char *out, size_t outlen, env_str_t s)
{
    env_str_copy(s, out, outlen);
}

static int op_produce(void *arg, const command_flow_record_t *r, uint64_t cookie)
{
    (void)arg;
    if (reenter_cookie) {
        uint64_t c = reenter_cookie;
        reenter_cookie = 0;
        command_flow_on_delivery(F, c, 0, US(T0_MS));
    }
    if (reenter_last && nops && rec_ops[nops - 1].kind == OP_PRODUCE)
        command_flow_on_delivery(F, rec_ops[nops - 1].cookie, 0, US(T0_MS));
    op_t *o = op_add(OP_PRODUCE);
    snprintf(o->topic, sizeof(o->topic), "%s", r->topic);
    o->partition = r->partition;
    copy_str(o->key, sizeof(o->key), r->key);
    ck_assert_uint_lt(r->value.len, sizeof(o->value));
    memcpy(o->value, r->value.ptr, r->value.len);
    o->vlen = r->value.len;
    o->cookie = cookie;
    for (size_t i = 0; r->headers && i < r->headers->count && i < 16; i++) {
        copy_str(o->hname[i], sizeof(o->hname[i]), r->headers->items[i].name);
        copy_str(o->hvalue[i], sizeof(o->hvalue[i]), r->headers->items[i].value);
        o->nh++;
    }
    return produce_rc;
}

static int op_send_registry(void *arg, const envelope_t *env)
{
    (void)arg;
    op_t *o = op_add(OP_REGISTRY);
    o->type = env->type;
    if (env->type == ENV_ANNOUNCE) {
        copy_str(o->text, sizeof(o->text), env->u.announce.stage);
        o->request_id = env->u.announce.instance;
    } else if (env->type == ENV_LOOKUP) {
        o->request_id = env->u.lookup.request_id;
        copy_str(o->text, sizeof(o->text), env->u.lookup.identity);
    } else if (env->type == ENV_DEDUP) {
        o->request_id = env->u.dedup.request_id;
        copy_str(o->text, sizeof(o->text), env->u.dedup.command_id);
        o->epoch = env->u.dedup.ttl_ms;
    } else if (env->type == ENV_TAKEOVER_DONE) {
        copy_str(o->text, sizeof(o->text), env->u.takeover_done.pod);
        o->epoch = env->u.takeover_done.epoch;
    }
    return 0;
}

static int op_send_core(void *arg, uint32_t index, const envelope_t *env)
{
    (void)arg;
    op_t *o = op_add(OP_CORE);
    o->type = env->type;
    o->core = index;
    if (env->type == ENV_ANNOUNCE) {
        copy_str(o->text, sizeof(o->text), env->u.announce.stage);
        o->request_id = env->u.announce.instance;
        ck_assert_uint_eq(env->u.announce.index, 0);
        return 0;
    }
    o->request_id = env->u.command.token;
    copy_str(o->text, sizeof(o->text), env->u.command.command_id);
    ck_assert_uint_lt(env->u.command.record.len, sizeof(o->value));
    memcpy(o->value, env->u.command.record.ptr, env->u.command.record.len);
    o->vlen = env->u.command.record.len;
    copy_str(o->traceparent, sizeof(o->traceparent), env->u.command.traceparent);
    o->expires_at_ms = env->u.command.expires_at_ms;
    if (core_rc_calls == 0)
        return 0;
    if (core_rc_calls > 0)
        core_rc_calls--;
    return core_rc;
}

static void op_store_offset(void *arg, uint32_t reader, int64_t next)
{
    (void)arg;
    op_t *o = op_add(OP_STORE);
    o->reader = reader;
    o->offset = next;
}

static int op_reader_start(void *arg, uint32_t reader, const char *pod, int32_t partition,
                           bool takeover)
{
    (void)arg;
    op_t *o = op_add(OP_START);
    o->reader = reader;
    snprintf(o->pod, sizeof(o->pod), "%s", pod);
    o->offset = partition;
    o->flag = takeover;
    return start_rc;
}

static void op_reader_pause(void *arg, uint32_t reader, bool paused)
{
    (void)arg;
    op_t *o = op_add(OP_PAUSE);
    o->reader = reader;
    o->flag = paused;
}

static void op_reader_stop(void *arg, uint32_t reader)
{
    (void)arg;
    op_add(OP_STOP)->reader = reader;
}

static void op_reader_destroy(void *arg, uint32_t reader)
{
    (void)arg;
    op_add(OP_DESTROY)->reader = reader;
}

static const command_flow_ops_t OPS = {
    .produce = op_produce,
    .send_registry = op_send_registry,
    .send_core = op_send_core,
    .store_offset = op_store_offset,
    .reader_start = op_reader_start,
    .reader_pause = op_reader_pause,
    .reader_stop = op_reader_stop,
    .reader_destroy = op_reader_destroy,
};

/* ---- fixture and helpers --------------------------------------------------------------- */

#define PARTITIONS 8
#define OWN        1u /* the id of the own reader: the first one started */

static command_flow_config_t config(void)
{
    return (command_flow_config_t){.pod_id = "pod-a",
                                   .commands_topic = "commands-down",
                                   .results_topic = "command-results",
                                   .dlq_topic = "commands-dlq",
                                   .core_count = 2,
                                   .default_ttl_ms = 600000,
                                   .max_hops = 3,
                                   .park_backoff_ms = 500,
                                   .park_backoff_max_ms = 30000,
                                   .registry_timeout_ms = 3000,
                                   .dedup_ttl_ms = 86400000,
                                   .max_inflight = 100,
                                   .core_grace_ms = 120000,
                                   .repartition_grace_ms = 300000,
                                   .first_token = 1000};
}

static void setup_with(int64_t max_inflight)
{
    nops = seen = 0;
    record_tp = "";
    produce_rc = core_rc = start_rc = 0;
    core_rc_calls = -1;
    reenter_cookie = 0;
    reenter_last = false;
    command_flow_config_t cfg = config();
    cfg.max_inflight = max_inflight;
    F = command_flow_new(&cfg, &OPS, NULL);
    ck_assert_ptr_nonnull(F);
    ck_assert_int_eq(command_flow_start(F, PARTITIONS, US(T0_MS)), 0);
}

static void setup(void)
{
    setup_with(100);
}

static void teardown(void)
{
    command_flow_destroy(&F);
    command_flow_destroy(&F); /* safe twice */
    ck_assert_ptr_null(F);
}

/* The next effect, which must be of this kind. */
static op_t *take(op_kind_t kind)
{
    ck_assert_msg(seen < nops, "expected effect %d, none left", (int)kind);
    op_t *o = &rec_ops[seen++];
    ck_assert_msg(o->kind == kind, "expected effect %d, got %d", (int)kind, (int)o->kind);
    return o;
}

/* No effect since the last one taken (line: the caller's, to tell which check failed). */
static void none_at(int line)
{
    ck_assert_msg(seen == nops, "line %d: unexpected effect %d (type %d, '%s')", line,
                  seen < nops ? (int)rec_ops[seen].kind : -1, seen < nops ? rec_ops[seen].type : -1,
                  seen < nops ? rec_ops[seen].text : "");
}
#define none() none_at(__LINE__)

static void skip_start(void)
{
    op_t *o = take(OP_START);
    ck_assert_uint_eq(o->reader, OWN);
    ck_assert_str_eq(o->pod, "pod-a");
    ck_assert_int_eq(o->offset, hash_kafka_partition("pod-a", 5, PARTITIONS));
    ck_assert(!o->flag);
}

static void record_on(uint32_t reader, int64_t offset, const char *json, int64_t now_ms)
{
    command_flow_on_record(F, reader, offset, T0_MS, json, strlen(json), env_str(record_tp),
                           US(now_ms));
}

static char *cmd_json(const char *id, const char *extra)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "{\"command_id\":\"%s\",\"cp_id\":\"CP-%s\",\"action\":\"reset\"%s}",
             id, id, extra ? extra : "");
    return buf;
}

static void owner(uint64_t request_id, const char *pod, bool live, int64_t now_ms)
{
    envelope_t env = {.type = ENV_OWNER};
    env.u.owner.request_id = request_id;
    env.u.owner.pod = env_str(pod);
    env.u.owner.live = live;
    ck_assert_int_eq(command_flow_on_envelope(F, &env, US(now_ms)), 0);
}

static void dedup_result(uint64_t request_id, bool first, int32_t status, int64_t now_ms)
{
    envelope_t env = {.type = ENV_DEDUP_RESULT};
    env.u.dedup_result.request_id = request_id;
    env.u.dedup_result.first = first;
    env.u.dedup_result.status = status;
    ck_assert_int_eq(command_flow_on_envelope(F, &env, US(now_ms)), 0);
}

static void core_result(uint64_t token, const char *id, const char *status, const char *value,
                        int64_t now_ms)
{
    envelope_t env = {.type = ENV_RESULT};
    env.u.result.token = token;
    env.u.result.command_id = env_str(id);
    env.u.result.status = env_str(status);
    env.u.result.value = (env_bin_t){(const uint8_t *)value, strlen(value)};
    ck_assert_int_eq(command_flow_on_envelope(F, &env, US(now_ms)), 0);
}

static void takeover(const char *pod, uint64_t epoch, bool active)
{
    envelope_t env = {.type = ENV_TAKEOVER};
    env.u.takeover.pod = env_str(pod);
    env.u.takeover.epoch = epoch;
    env.u.takeover.active = active;
    ck_assert_int_eq(command_flow_on_envelope(F, &env, US(T0_MS)), 0);
}

static uint64_t take_lookup(const char *cp)
{
    op_t *o = take(OP_REGISTRY);
    ck_assert_int_eq(o->type, ENV_LOOKUP);
    ck_assert_str_eq(o->text, cp);
    ck_assert_uint_ne(o->request_id, 0);
    return o->request_id;
}

static void take_dedup(uint64_t request_id, const char *id)
{
    op_t *o = take(OP_REGISTRY);
    ck_assert_int_eq(o->type, ENV_DEDUP);
    ck_assert_uint_eq(o->request_id, request_id);
    ck_assert_str_eq(o->text, id);
    /* the de-dup key's ttl: the command's time left (at most the default 10 min here) + the
     * backstop grace (2 min) + command_dedup_ttl_ms (24 h) */
    ck_assert_uint_ge(o->epoch, 86400000 + 120000);
    ck_assert_uint_le(o->epoch, 86400000 + 120000 + 600000);
}

/* The DEDUP before a result the bridge decides itself (expired, hop limit, invalid): returns its
 * request id. */
static uint64_t take_claim(const char *id)
{
    op_t *o = take(OP_REGISTRY);
    ck_assert_int_eq(o->type, ENV_DEDUP);
    ck_assert_str_eq(o->text, id);
    ck_assert_uint_ge(o->epoch, 86400000 + 120000);
    ck_assert_uint_le(o->epoch, 86400000 + 120000 + 600000);
    return o->request_id;
}

static void dedup_result(uint64_t request_id, bool first, int32_t status, int64_t now_ms);

/* ... answered first: the result may be produced. */
static void claim_first(const char *id, int64_t now_ms)
{
    dedup_result(take_claim(id), true, 0, now_ms);
}

static const char *header(const op_t *o, const char *name)
{
    for (size_t i = 0; i < o->nh; i++)
        if (strcmp(o->hname[i], name) == 0)
            return o->hvalue[i];
    return NULL;
}

/* A result the bridge decided itself: checks its record, returns its cookie. */
static uint64_t take_own_result(const char *id, const char *status, const char *reason)
{
    op_t *o = take(OP_PRODUCE);
    ck_assert_str_eq(o->topic, "command-results");
    ck_assert_int_eq(o->partition, COMMAND_FLOW_PARTITION_ANY);
    ck_assert_str_eq(o->key, id);
    ck_assert_str_eq(header(o, "status"), status);
    json_t *v = json_loadb(o->value, o->vlen, 0, NULL);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "command_id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(v, "status")), status);
    ck_assert_str_eq(json_string_value(json_object_get(v, "reason")), reason);
    ck_assert_str_eq(json_string_value(json_object_get(v, "pod")), "pod-a");
    json_decref(v);
    ck_assert_uint_ne(o->cookie, 0);
    return o->cookie;
}

/* The DLQ copy: the record byte for byte with status, reason and pod headers. */
static uint64_t take_dlq(const char *id, const char *value, const char *status, const char *reason)
{
    op_t *o = take(OP_PRODUCE);
    ck_assert_str_eq(o->topic, "commands-dlq");
    ck_assert_str_eq(o->key, id);
    ck_assert_uint_eq(o->vlen, strlen(value));
    ck_assert(memcmp(o->value, value, o->vlen) == 0);
    ck_assert_str_eq(header(o, "status"), status);
    ck_assert_str_eq(header(o, "reason"), reason);
    ck_assert_str_eq(header(o, "pod"), "pod-a");
    ck_assert_uint_ne(o->cookie, 0);
    return o->cookie;
}

static void take_store(uint32_t reader, int64_t next)
{
    op_t *o = take(OP_STORE);
    ck_assert_uint_eq(o->reader, reader);
    ck_assert_int_eq(o->offset, next);
}

static void deliver(uint64_t cookie, int err, int64_t now_ms)
{
    command_flow_on_delivery(F, cookie, err, US(now_ms));
}

/* Drives a record read on reader to its DEDUP: LOOKUP, OWNER here, DEDUP. Returns its token. */
static uint64_t to_dedup(uint32_t reader, int64_t offset, const char *id)
{
    char cp[64];
    snprintf(cp, sizeof(cp), "CP-%s", id);
    record_on(reader, offset, cmd_json(id, NULL), T0_MS);
    uint64_t t = take_lookup(cp);
    owner(t, "pod-a", true, T0_MS);
    take_dedup(t, id);
    return t;
}

/* ... and on to the core: DEDUP says first. Returns the token of its COMMAND. */
static uint64_t to_core(int64_t offset, const char *id)
{
    char cp[64];
    snprintf(cp, sizeof(cp), "CP-%s", id);
    uint64_t t = to_dedup(OWN, offset, id);
    dedup_result(t, true, 0, T0_MS);
    op_t *o = take(OP_CORE);
    ck_assert_uint_eq(o->request_id, t);
    ck_assert_str_eq(o->text, id);
    ck_assert_uint_eq(o->core, hash_core_index(cp, strlen(cp), 2));
    ck_assert_str_eq(o->value, cmd_json(id, NULL)); /* the record as read */
    return t;
}

/* A RESULT from core for token; returns the cookie of the result record it produced. */
static uint64_t core_answers(uint64_t t, const char *id, const char *status)
{
    char value[256];
    snprintf(value, sizeof(value), "{\"command_id\":\"%s\",\"status\":\"%s\"}", id, status);
    core_result(t, id, status, value, T0_MS + 10);
    op_t *o = take(OP_PRODUCE);
    ck_assert_str_eq(o->topic, "command-results");
    ck_assert_str_eq(o->key, id);
    ck_assert_str_eq(header(o, "status"), status);
    ck_assert_str_eq(o->value, value); /* core's record untouched */
    return o->cookie;
}

/* ---- the hard cases ------------------------------------------------------------------- */

/* LOOKUP -> OWNER here -> DEDUP first -> COMMAND -> RESULT -> result produced -> delivered ->
 * offset stored */
START_TEST(test_handed_to_core)
{
    skip_start();
    uint64_t t = to_core(5, "c-1");
    none();
    ck_assert_uint_eq(command_flow_inflight(F), 1);
    uint64_t ck = core_answers(t, "c-1", "accepted");
    none(); /* not stored before it is persisted */
    deliver(ck, 0, T0_MS + 20);
    take_store(OWN, 6);
    none();
    ck_assert_uint_eq(command_flow_inflight(F), 0);
    /* a report or a RESULT repeated later changes nothing for this command */
    deliver(ck, 0, T0_MS + 30);
    none();
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 1000000)), 0);
    none();
}
END_TEST

/* OWNER another live pod: re-published to its partition with hops + 1, then done */
START_TEST(test_forwarded)
{
    skip_start();
    const char *json = cmd_json("c-2", ",\"ttl_ms\":5000");
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", json);
    record_on(OWN, 0, copy, T0_MS);
    uint64_t t = take_lookup("CP-c-2");
    owner(t, "pod-b", true, T0_MS + 1);
    op_t *o = take(OP_PRODUCE);
    ck_assert_str_eq(o->topic, "commands-down");
    ck_assert_int_eq(o->partition, hash_kafka_partition("pod-b", 5, PARTITIONS));
    ck_assert_str_eq(o->key, "pod-b");
    ck_assert_str_eq(header(o, "target_pod"), "pod-b");
    command_record_t fwd;
    char why[128];
    ck_assert_int_eq(
        command_record_parse(o->value, o->vlen, T0_MS + 99999, 1, &fwd, why, sizeof(why)), 0);
    ck_assert_int_eq(fwd.hops, 1);
    ck_assert_str_eq(fwd.target_pod, "pod-b");
    ck_assert_int_eq(fwd.expires_at_ms, T0_MS + 5000); /* a hop does not restart the clock */
    none();
    deliver(o->cookie, 0, T0_MS + 2);
    take_store(OWN, 1);
    none();
    /* at the hop limit: result expired with its DLQ copy instead */
    const char *last =
        "{\"command_id\":\"c-3\",\"cp_id\":\"CP-3\",\"action\":\"reset\",\"hops\":3}";
    record_on(OWN, 1, last, T0_MS);
    t = take_lookup("CP-3");
    owner(t, "pod-b", true, T0_MS);
    take_dedup(t, "c-3"); /* a result the bridge decides: the command's key first */
    none();
    dedup_result(t, true, 0, T0_MS);
    uint64_t r =
        take_own_result("c-3", "expired", "hop limit reached while following the charge point");
    uint64_t d =
        take_dlq("c-3", last, "expired", "hop limit reached while following the charge point");
    deliver(d, 0, T0_MS);
    none();
    deliver(r, 0, T0_MS);
    take_store(OWN, 2);
    none();
}
END_TEST

/* connected nowhere: parked with a doubling back-off, then found here */
START_TEST(test_parked_then_found)
{
    skip_start();
    record_on(OWN, 0, cmd_json("c-4", NULL), T0_MS);
    uint64_t t = take_lookup("CP-c-4");
    owner(t, "", false, T0_MS);
    none();
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 499)), US(T0_MS + 500));
    none();
    command_flow_tick(F, US(T0_MS + 500));
    ck_assert_uint_eq(take_lookup("CP-c-4"), t); /* the same request id */
    owner(t, "pod-z", false, T0_MS + 500);       /* an owner without lease: parked too */
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 1000)), US(T0_MS + 1500));
    none();
    command_flow_tick(F, US(T0_MS + 1500));
    take_lookup("CP-c-4");
    owner(t, "pod-a", true, T0_MS + 1500);
    take_dedup(t, "c-4");
    dedup_result(t, true, 0, T0_MS + 1501);
    take(OP_CORE);
    none();
}
END_TEST

/* parked until it expires: result expired + DLQ copy, offset stored after both persisted */
START_TEST(test_parked_expires)
{
    skip_start();
    const char *json = "{\"command_id\":\"c-5\",\"cp_id\":\"CP-5\",\"action\":\"reset\","
                       "\"ttl_ms\":2000}";
    record_on(OWN, 7, json, T0_MS);
    uint64_t t = take_lookup("CP-5");
    owner(t, "", true, T0_MS); /* nobody holds it */
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS)), US(T0_MS + 500));
    command_flow_tick(F, US(T0_MS + 500));
    owner(take_lookup("CP-5"), "", false, T0_MS + 500);
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 500)), US(T0_MS + 1500));
    command_flow_tick(F, US(T0_MS + 1500));
    owner(take_lookup("CP-5"), "", false, T0_MS + 1500);
    /* the back-off would be 2 s: never sleeps past the expiry */
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 1500)), US(T0_MS + 2000));
    command_flow_tick(F, US(T0_MS + 1999));
    none();
    int64_t now = T0_MS + 2000;
    command_flow_tick(F, US(now));
    take_dedup(t, "c-5");
    none();
    dedup_result(t, true, 0, now);
    const char *why = "expires_at passed before the charge point was reached";
    uint64_t r = take_own_result("c-5", "expired", why);
    uint64_t d = take_dlq("c-5", json, "expired", why);
    none();
    deliver(r, 0, now);
    none();
    deliver(d, 0, now);
    take_store(OWN, 8);
    none();
}
END_TEST

/* a dead pod's partition: a reader started by TAKEOVER, records drained, and read on after the
 * drain (a backend with a stale lookup writes there later) until TAKEOVER active=false; then the
 * reader is destroyed (committed) and TAKEOVER_DONE says so, once */
START_TEST(test_taken_over)
{
    skip_start();
    takeover("pod-c", 7, true);
    op_t *o = take(OP_START);
    uint32_t rd = o->reader;
    ck_assert_uint_ne(rd, OWN);
    ck_assert_str_eq(o->pod, "pod-c");
    ck_assert_int_eq(o->offset, hash_kafka_partition("pod-c", 5, PARTITIONS));
    ck_assert(o->flag);
    takeover("pod-c", 8, true); /* a repeated claim: the same reader, a new epoch */
    none();
    /* one record forwarded to where the charge point is now, one handed to core here */
    record_on(rd, 40, cmd_json("c-6", ",\"target_pod\":\"pod-c\""), T0_MS);
    uint64_t t6 = take_lookup("CP-c-6");
    record_on(rd, 41, cmd_json("c-7", ",\"target_pod\":\"pod-c\""), T0_MS);
    uint64_t t7 = take_lookup("CP-c-7");
    record_on(rd, 42, cmd_json("c-8", ",\"target_pod\":\"pod-b\""), T0_MS); /* not pod-c's */
    none(); /* skipped, but 40 and 41 are open */
    owner(t6, "pod-b", true, T0_MS);
    uint64_t f6 = take(OP_PRODUCE)->cookie;
    owner(t7, "pod-a", true, T0_MS);
    take_dedup(t7, "c-7");
    dedup_result(t7, true, 0, T0_MS);
    take(OP_CORE);
    command_flow_on_eof(F, rd);
    command_flow_tick(F, US(T0_MS + 100));
    none(); /* not drained: a forward not persisted, a command at core */
    deliver(f6, 0, T0_MS);
    take_store(rd, 41);
    uint64_t r7 = core_answers(t7, "c-7", "accepted");
    command_flow_tick(F, US(T0_MS + 200));
    none();
    deliver(r7, 0, T0_MS);
    take_store(rd, 43);
    none();
    command_flow_tick(F, US(T0_MS + 300));
    none(); /* drained: no TAKEOVER_DONE, the reader reads on */
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 60000)), US(T0_MS + 60100));
    none();
    /* a command written long after the drain is still read and routed */
    record_on(rd, 43, cmd_json("c-late", ",\"target_pod\":\"pod-c\""), T0_MS + 60000);
    uint64_t tl = take_lookup("CP-c-late");
    owner(tl, "pod-b", true, T0_MS + 60001);
    deliver(take(OP_PRODUCE)->cookie, 0, T0_MS + 60002);
    take_store(rd, 44);
    command_flow_on_eof(F, rd);
    command_flow_tick(F, US(T0_MS + 60100));
    none();
    /* the pod is back (or the claim lost, or the pod forgotten): the reader stops for good */
    takeover("pod-c", 8, false);
    ck_assert_uint_eq(take(OP_STOP)->reader, rd);
    none();
    command_flow_tick(F, US(T0_MS + 60200));
    ck_assert_uint_eq(take(OP_DESTROY)->reader, rd); /* committed before the registry hears of it */
    o = take(OP_REGISTRY);
    ck_assert_int_eq(o->type, ENV_TAKEOVER_DONE);
    ck_assert_str_eq(o->text, "pod-c");
    ck_assert_uint_eq(o->epoch, 8);
    command_flow_tick(F, US(T0_MS + 60300));
    none(); /* once */
    /* a new claim later gets a new reader */
    takeover("pod-c", 9, true);
    ck_assert_uint_gt(take(OP_START)->reader, rd);
}
END_TEST

/* TAKEOVER active=false: the reader stops at once; LOOKUP/PARKED let go uncommitted, a command
 * whose DEDUP was sent kept until final */
START_TEST(test_takeover_stopped)
{
    skip_start();
    takeover("pod-c", 3, true);
    uint32_t rd = take(OP_START)->reader;
    record_on(rd, 0, cmd_json("c-9", NULL), T0_MS);
    uint64_t t9 = take_lookup("CP-c-9");
    uint64_t t10 = to_dedup(rd, 1, "c-10");
    ck_assert_uint_eq(command_flow_inflight(F), 2);
    takeover("pod-c", 3, false);
    ck_assert_uint_eq(take(OP_STOP)->reader, rd);
    none();
    ck_assert_uint_eq(command_flow_inflight(F), 1);
    owner(t9, "pod-a", true, T0_MS); /* answer for a command let go */
    none();
    record_on(rd, 2, cmd_json("c-11", NULL), T0_MS); /* a straggler: not taken */
    none();
    dedup_result(t10, true, 0, T0_MS);
    take(OP_CORE);
    uint64_t r = core_answers(t10, "c-10", "accepted");
    deliver(r, 0, T0_MS);
    none(); /* offset 0 was let go: nothing stored past it */
    command_flow_tick(F, US(T0_MS + 100));
    ck_assert_uint_eq(take(OP_DESTROY)->reader, rd);
    op_t *o = take(OP_REGISTRY); /* nobody here reads pod-c's partition any more */
    ck_assert_int_eq(o->type, ENV_TAKEOVER_DONE);
    ck_assert_uint_eq(o->epoch, 3);
    none();
    takeover("pod-c", 3, false); /* a stop for a reader we do not have */
    none();
}
END_TEST

/* invalid record: result invalid + DLQ, the partition goes on */
START_TEST(test_invalid_record)
{
    skip_start();
    record_on(OWN, 3, "{not json", T0_MS);
    char key[64];
    snprintf(key, sizeof(key), "commands-down[%d]@3", hash_kafka_partition("pod-a", 5, PARTITIONS));
    uint64_t r = take_own_result(key, "invalid", "record is not valid JSON");
    uint64_t d = take_dlq(key, "{not json", "invalid", "record is not valid JSON");
    const char *nocp = "{\"command_id\":\"c-12\",\"action\":\"reset\"}";
    record_on(OWN, 4, nocp, T0_MS);
    claim_first("c-12", T0_MS); /* its command_id could be read: its key first */
    uint64_t r2 = take_own_result("c-12", "invalid", "cp_id missing");
    uint64_t d2 = take_dlq("c-12", nocp, "invalid", "cp_id missing");
    record_on(OWN, 5, cmd_json("c-13", NULL), T0_MS); /* the next one is routed as usual */
    take_lookup("CP-c-13");
    deliver(r2, 0, T0_MS);
    deliver(d2, 0, T0_MS);
    none();
    deliver(r, 0, T0_MS);
    deliver(d, 0, T0_MS);
    take_store(OWN, 5);
    none();
    /* a record without a value at all */
    command_flow_on_record(F, OWN, 6, 0, NULL, 0, env_str(""), US(T0_MS));
    snprintf(key, sizeof(key), "commands-down[%d]@6", hash_kafka_partition("pod-a", 5, PARTITIONS));
    take_own_result(key, "invalid", "record is not valid JSON");
    take_dlq(key, "", "invalid", "record is not valid JSON");
}
END_TEST

/* core answers invalid: its result is published and the bridge adds the DLQ copy */
START_TEST(test_core_invalid)
{
    skip_start();
    uint64_t t = to_core(0, "c-14");
    const char *value = "{\"command_id\":\"c-14\",\"status\":\"invalid\",\"reason\":\"unknown "
                        "unified action fly\"}";
    core_result(t, "c-14", "invalid", value, T0_MS);
    op_t *o = take(OP_PRODUCE);
    ck_assert_str_eq(o->topic, "command-results");
    ck_assert_str_eq(o->value, value);
    uint64_t d = take_dlq("c-14", cmd_json("c-14", NULL), "invalid", "unknown unified action fly");
    deliver(o->cookie, 0, T0_MS);
    none();
    deliver(d, 0, T0_MS);
    take_store(OWN, 1);
}
END_TEST

/* DEDUP says duplicate: no delivery at all, no result, the offset stored */
START_TEST(test_duplicate)
{
    skip_start();
    uint64_t t = to_dedup(OWN, 9, "c-15");
    dedup_result(t, false, 0, T0_MS);
    take_store(OWN, 10);
    none();
    dedup_result(t, true, 0, T0_MS); /* a late answer to a re-sent DEDUP */
    none();
}
END_TEST

/* DEDUP unavailable: asked again later, delivered once */
START_TEST(test_dedup_unavailable)
{
    skip_start();
    uint64_t t = to_dedup(OWN, 0, "c-16");
    dedup_result(t, false, -EIO, T0_MS + 10); /* Redis down: neither first nor duplicate */
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 509)), US(T0_MS + 510));
    none();
    command_flow_tick(F, US(T0_MS + 510));
    take_dedup(t, "c-16");
    /* unanswered: sent again after command_registry_timeout_ms */
    command_flow_tick(F, US(T0_MS + 3509));
    none();
    command_flow_tick(F, US(T0_MS + 3510));
    take_dedup(t, "c-16");
    dedup_result(t, true, 0, T0_MS + 3600);
    take(OP_CORE);
    dedup_result(t, true, 0, T0_MS + 3601); /* answers to the earlier copies */
    dedup_result(t, false, -EIO, T0_MS + 3601);
    none();
    command_flow_tick(F, US(T0_MS + 10000));
    none();
}
END_TEST

/* a result whose delivery fails is produced again later; never reported done before */
START_TEST(test_delivery_fails)
{
    skip_start();
    uint64_t t = to_core(0, "c-17");
    uint64_t ck = core_answers(t, "c-17", "accepted");
    deliver(ck, -1, T0_MS + 100);
    none();
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 599)), US(T0_MS + 600));
    none();
    command_flow_tick(F, US(T0_MS + 600));
    op_t *o = take(OP_PRODUCE);
    ck_assert_str_eq(o->key, "c-17");
    ck_assert_uint_eq(o->cookie, ck);
    /* the producer refuses it outright this time: no report comes, tried again */
    produce_rc = -EIO;
    deliver(o->cookie, -1, T0_MS + 700);
    command_flow_tick(F, US(T0_MS + 1200));
    take(OP_PRODUCE);
    none();
    produce_rc = 0;
    command_flow_tick(F, US(T0_MS + 1700));
    ck = take(OP_PRODUCE)->cookie;
    deliver(ck, 0, T0_MS + 1800);
    take_store(OWN, 1);
    none();
    /* an own result whose DLQ copy fails: only the copy is produced again */
    record_on(OWN, 1, "[]", T0_MS + 2000);
    uint64_t r = take(OP_PRODUCE)->cookie;
    uint64_t d = take(OP_PRODUCE)->cookie;
    deliver(r, 0, T0_MS + 2000);
    deliver(d, -1, T0_MS + 2000);
    command_flow_tick(F, US(T0_MS + 2500));
    o = take(OP_PRODUCE);
    ck_assert_str_eq(o->topic, "commands-dlq");
    none();
    deliver(o->cookie, 0, T0_MS + 2600);
    take_store(OWN, 2);
}
END_TEST

/* core never answers: the backstop finishes it as timeout after expiry + grace */
START_TEST(test_core_never_answers)
{
    skip_start();
    uint64_t t = to_core(0, "c-18"); /* default ttl: 10 min from T0 */
    int64_t deadline = T0_MS + 600000 + 120000;
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 1000)), US(deadline));
    command_flow_tick(F, US(deadline - 1));
    none();
    command_flow_tick(F, US(deadline));
    uint64_t r = take_own_result("c-18", "timeout", "no result from ocpp-core");
    none(); /* no DLQ copy for a timeout */
    deliver(r, 0, deadline);
    take_store(OWN, 1);
    /* a RESULT after the backstop: the command has its final result, no second one */
    core_result(t, "c-18", "accepted", "{}", deadline + 5);
    none();
}
END_TEST

/* the stored offset never passes a record without its final outcome, whatever the order */
START_TEST(test_offsets_out_of_order)
{
    skip_start();
    uint64_t t10 = to_core(10, "a");
    uint64_t t11 = to_core(11, "b");
    record_on(OWN, 12, cmd_json("c", ",\"target_pod\":\"pod-q\""), T0_MS); /* skipped */
    uint64_t t13 = to_core(13, "d");
    none();
    deliver(core_answers(t13, "d", "accepted"), 0, T0_MS);
    none();
    deliver(core_answers(t11, "b", "rejected"), 0, T0_MS);
    none();
    deliver(core_answers(t10, "a", "accepted"), 0, T0_MS);
    take_store(OWN, 14);
    none();
}
END_TEST

/* stop with commands in every state */
START_TEST(test_stop)
{
    skip_start();
    uint64_t t0 = to_core(0, "s0");       /* AT_CORE */
    uint64_t t1 = to_dedup(OWN, 1, "s1"); /* DEDUP */
    uint64_t t2 = to_core(2, "s2");       /* OUTPUT, delivery outstanding */
    uint64_t r2 = core_answers(t2, "s2", "accepted");
    record_on(OWN, 3, cmd_json("s3", NULL), T0_MS); /* LOOKUP */
    uint64_t t3 = take_lookup("CP-s3");
    record_on(OWN, 4, cmd_json("s4", NULL), T0_MS); /* PARKED */
    owner(take_lookup("CP-s4"), "", false, T0_MS);
    ck_assert_uint_eq(command_flow_inflight(F), 5);

    command_flow_stop(F, US(T0_MS + 1));
    ck_assert_uint_eq(take(OP_STOP)->reader, OWN);
    none();
    ck_assert_uint_eq(command_flow_inflight(F), 3); /* s3 and s4 let go */
    record_on(OWN, 5, cmd_json("s5", NULL), T0_MS); /* no new commands */
    owner(t3, "pod-a", true, T0_MS);
    none();
    /* the shell drains its input and flushes: the kept ones finish */
    dedup_result(t1, true, 0, T0_MS + 2);
    take(OP_CORE);
    deliver(r2, 0, T0_MS + 3);
    none();
    deliver(core_answers(t0, "s0", "accepted"), 0, T0_MS + 4);
    take_store(OWN, 1);
    uint64_t r1 = core_answers(t1, "s1", "accepted");
    deliver(r1, 0, T0_MS + 5);
    take_store(OWN, 3); /* never past s3, let go */
    none();
    command_flow_close(F);
    ck_assert_uint_eq(take(OP_DESTROY)->reader, OWN);
    none();
    ck_assert_int_eq(command_flow_start(F, PARTITIONS, US(T0_MS)), -ECANCELED);
    takeover("pod-c", 1, true); /* no new reader while stopping */
    none();
}
END_TEST

/* close lets go of what is left (at core, output not persisted) without storing offsets */
START_TEST(test_close_lets_go)
{
    skip_start();
    to_core(0, "x0");
    command_flow_stop(F, US(T0_MS));
    take(OP_STOP);
    command_flow_close(F);
    take(OP_DESTROY);
    none();
    ck_assert_uint_eq(command_flow_inflight(F), 0);
}
END_TEST

/* at most command_max_inflight commands: every reader pauses; half the room frees: resume */
START_TEST(test_pause_resume)
{
    setup_with(4);
    skip_start();
    takeover("pod-c", 1, true);
    uint32_t rd = take(OP_START)->reader;
    uint64_t t[5];
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof(id), "p%d", i);
        record_on(OWN, i, cmd_json(id, NULL), T0_MS);
        char cp[16];
        snprintf(cp, sizeof(cp), "CP-%s", id);
        t[i] = take_lookup(cp);
    }
    op_t *p1 = take(OP_PAUSE), *p2 = take(OP_PAUSE);
    ck_assert(p1->flag && p2->flag);
    ck_assert_uint_eq(p1->reader + p2->reader, OWN + rd); /* both readers */
    none();
    /* a record already fetched before the pause is still taken */
    record_on(OWN, 4, cmd_json("p4", NULL), T0_MS);
    t[4] = take_lookup("CP-p4");
    none();
    ck_assert_uint_eq(command_flow_inflight(F), 5);
    /* another reader started while full starts paused */
    takeover("pod-d", 1, true);
    uint32_t rd2 = take(OP_START)->reader;
    op_t *p3 = take(OP_PAUSE);
    ck_assert(p3->reader == rd2 && p3->flag);
    /* the own reader's commands finish (duplicates): at 2 in flight every reader resumes, also
     * the ones without a command of their own */
    for (int i = 0; i < 3; i++) {
        owner(t[i], "pod-a", true, T0_MS);
        take_dedup(t[i], (char[]){'p', (char)('0' + i), 0});
        dedup_result(t[i], false, 0, T0_MS);
        take_store(OWN, i + 1);
    }
    ck_assert_uint_eq(command_flow_inflight(F), 2);
    bool resumed[8] = {false};
    for (int i = 0; i < 3; i++) {
        op_t *o = take(OP_PAUSE);
        ck_assert(!o->flag);
        resumed[o->reader] = true;
    }
    ck_assert(resumed[OWN] && resumed[rd] && resumed[rd2]);
    none();
}
END_TEST

/* a delivery report served inside a produce call (the shell waits on a full queue) may finish
 * another command; the command being produced is held until its own output call returned */
START_TEST(test_reentrant_delivery)
{
    skip_start();
    uint64_t ta = to_core(0, "ra");
    uint64_t ra = core_answers(ta, "ra", "accepted");
    const char *old = "{\"command_id\":\"rb\",\"cp_id\":\"CP\",\"action\":\"reset\","
                      "\"expires_at\":\"2000-01-01T00:00:00Z\"}";
    record_on(OWN, 1, old, T0_MS);
    uint64_t tb = take_claim("rb");
    reenter_cookie = ra; /* a's report comes inside b's first produce */
    reenter_last = true; /* b's result report inside the produce of its DLQ copy */
    dedup_result(tb, true, 0, T0_MS);
    reenter_last = false;
    take_store(OWN, 1); /* a done, from inside b's produce */
    const char *why = "expires_at passed before the charge point was reached";
    uint64_t rb = take_own_result("rb", "expired", why);
    uint64_t db = take_dlq("rb", old, "expired", why);
    none();                /* b's result is persisted, its copy not yet: b is not done */
    deliver(rb, 0, T0_MS); /* a report repeated: ignored */
    none();
    deliver(db, 0, T0_MS);
    take_store(OWN, 2);
    none();
}
END_TEST

/* the parts of an output may be confirmed in any order */
START_TEST(test_parts_any_order)
{
    skip_start();
    const char *old = "{\"command_id\":\"rc\",\"cp_id\":\"CP\",\"action\":\"reset\","
                      "\"expires_at\":\"2000-01-01T00:00:00Z\"}";
    record_on(OWN, 0, old, T0_MS);
    claim_first("rc", T0_MS);
    uint64_t r = take(OP_PRODUCE)->cookie;
    uint64_t d = take(OP_PRODUCE)->cookie;
    none();
    deliver(d, 0, T0_MS);
    none();
    deliver(r, 0, T0_MS);
    take_store(OWN, 1);
}
END_TEST

/* unknown request ids, cookies, tokens and types are answered or ignored, never trusted */
START_TEST(test_unknown_inputs)
{
    skip_start();
    owner(424242, "pod-a", true, T0_MS);
    dedup_result(424242, true, 0, T0_MS);
    deliver(UINT64_C(424242) << 2 | 1, 0, T0_MS);
    deliver(0, 0, T0_MS);
    none();
    /* a RESULT for a token this bridge never issued (an earlier instance handed the command to
     * core before it restarted): published as it is, produced again until persisted */
    core_result(77, "c-old", "accepted", "{\"x\":1}", T0_MS);
    op_t *o = take(OP_PRODUCE);
    ck_assert_uint_ne(o->cookie, 0);
    ck_assert_str_eq(o->key, "c-old");
    ck_assert_str_eq(header(o, "status"), "accepted");
    ck_assert_str_eq(o->value, "{\"x\":1}");
    ck_assert_uint_eq(command_flow_inflight(F), 1);
    deliver(o->cookie, -1, T0_MS);
    none();
    command_flow_tick(F, US(T0_MS + 500));
    o = take(OP_PRODUCE);
    ck_assert_str_eq(o->key, "c-old");
    deliver(o->cookie, 0, T0_MS + 600);
    none(); /* no offset: it was not read here */
    ck_assert_uint_eq(command_flow_inflight(F), 0);
    envelope_t env = {.type = ENV_EVENT};
    ck_assert_int_eq(command_flow_on_envelope(F, &env, US(T0_MS)), -ENOTSUP);
    takeover("pod-a", 1, true); /* our own partition */
    takeover("", 1, true);
    none();
    command_flow_on_record(F, 99, 0, T0_MS, "{}", 2, env_str(""), US(T0_MS)); /* unknown reader */
    command_flow_on_eof(F, 99);
    none();
    ck_assert_int_eq(command_flow_start(F, PARTITIONS, US(T0_MS)), -EALREADY);
    /* an offset read twice: the first copy is the one in flight */
    record_on(OWN, 5, cmd_json("u1", NULL), T0_MS);
    take_lookup("CP-u1");
    record_on(OWN, 5, cmd_json("u1", NULL), T0_MS);
    none();
}
END_TEST

/* before the partition count is known nothing is read, and TAKEOVER cannot start a reader */
START_TEST(test_not_started)
{
    nops = seen = 0;
    command_flow_config_t cfg = config();
    F = command_flow_new(&cfg, &OPS, NULL);
    takeover("pod-c", 1, true);
    none();
    start_rc = -EIO; /* the consumer could not be made: tried again later */
    ck_assert_int_lt(command_flow_start(F, PARTITIONS, US(T0_MS)), 0);
    take(OP_START);
    start_rc = 0;
    ck_assert_int_eq(command_flow_start(F, 0, US(T0_MS)), -EINVAL);
    ck_assert_int_eq(command_flow_start(F, PARTITIONS, US(T0_MS)), 0);
    ck_assert_uint_eq(take(OP_START)->reader, 2); /* ids are never reused */
    cfg.core_count = 0;
    ck_assert_ptr_null(command_flow_new(&cfg, &OPS, NULL));
}
END_TEST

/* the COMMAND cannot be sent at all (not a full core): result rejected + DLQ */
START_TEST(test_core_refuses)
{
    skip_start();
    uint64_t t = to_dedup(OWN, 0, "c-19");
    core_rc = -EINVAL;
    dedup_result(t, true, 0, T0_MS);
    take(OP_CORE);
    uint64_t r = take_own_result("c-19", "rejected", "core did not take the command");
    uint64_t d =
        take_dlq("c-19", cmd_json("c-19", NULL), "rejected", "core did not take the command");
    deliver(r, 0, T0_MS);
    deliver(d, 0, T0_MS);
    take_store(OWN, 1);
}
END_TEST

/* an unanswered LOOKUP is sent again; one that expires meanwhile is finished as expired */
START_TEST(test_lookup_timeout)
{
    skip_start();
    record_on(OWN, 0, cmd_json("c-20", ",\"ttl_ms\":5000"), T0_MS);
    uint64_t t = take_lookup("CP-c-20");
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS)), US(T0_MS + 3000));
    command_flow_tick(F, US(T0_MS + 3000));
    ck_assert_uint_eq(take_lookup("CP-c-20"), t);
    none();
    command_flow_tick(F, US(T0_MS + 6000));
    take_dedup(t, "c-20");
    dedup_result(t, true, 0, T0_MS + 6000);
    take_own_result("c-20", "expired", "expires_at passed before the charge point was reached");
    take(OP_PRODUCE);
    none();
}
END_TEST

/* a record expired when read, and one addressed to another pod sharing the partition */
START_TEST(test_expired_and_skipped)
{
    skip_start();
    record_on(OWN, 0, cmd_json("c-21", ",\"target_pod\":\"pod-b\""), T0_MS);
    take_store(OWN, 1);
    const char *old = "{\"command_id\":\"c-22\",\"cp_id\":\"CP\",\"action\":\"reset\","
                      "\"expires_at\":\"2000-01-01T00:00:00Z\"}";
    record_on(OWN, 1, old, T0_MS);
    claim_first("c-22", T0_MS);
    take_own_result("c-22", "expired", "expires_at passed before the charge point was reached");
    take_dlq("c-22", old, "expired", "expires_at passed before the charge point was reached");
    none();
}
END_TEST

/* ---- issue 12: peers restarting, a full core ------------------------------------------- */

static int announce_env(const char *stage, uint32_t index, uint64_t instance, int64_t now_ms)
{
    envelope_t env = {.type = ENV_ANNOUNCE};
    env.u.announce.stage = env_str(stage);
    env.u.announce.index = index;
    env.u.announce.instance = instance;
    return command_flow_on_envelope(F, &env, US(now_ms));
}

/* the core of a charge point "CP-<id>" */
static uint32_t core_of(const char *id)
{
    char cp[64];
    snprintf(cp, sizeof(cp), "CP-%s", id);
    return hash_core_index(cp, strlen(cp), 2);
}

/* two ids whose charge points hash to different cores, and one more on the first's core */
static void ids_on_cores(char *a, char *b, char *a2)
{
    a[0] = b[0] = a2[0] = '\0';
    for (int i = 0; i < 100 && !(a[0] && b[0] && a2[0]); i++) {
        char id[16];
        snprintf(id, sizeof(id), "k%d", i);
        if (!a[0])
            snprintf(a, 16, "%s", id);
        else if (core_of(id) == core_of(a) && !a2[0])
            snprintf(a2, 16, "%s", id);
        else if (core_of(id) != core_of(a) && !b[0])
            snprintf(b, 16, "%s", id);
    }
    ck_assert(a[0] && b[0] && a2[0]);
}

/* core i restarted (ANNOUNCE with a new instance): the commands it held without RESULT are
 * finished as timeout at once; the other core's stay; a late RESULT gives no second result */
START_TEST(test_core_restarted)
{
    skip_start();
    char a[16], b[16], a2[16];
    ids_on_cores(a, b, a2);
    uint32_t ca = core_of(a);
    uint64_t old = US(T0_MS - 60000);
    ck_assert_int_eq(announce_env("core", ca, old, T0_MS), 0); /* started before: nothing */
    ck_assert_int_eq(announce_env("core", 1 - ca, old + 1, T0_MS), 0);
    none();
    uint64_t ta = to_core(0, a);
    uint64_t tb = to_core(1, b);
    ck_assert_int_eq(announce_env("core", ca, old, T0_MS + 5), 0); /* the same instance */
    none();
    ck_assert_int_eq(announce_env("core", ca, US(T0_MS + 10), T0_MS + 20), 0);
    const char *why = "ocpp-core restarted: the outcome at the charge point is unknown";
    uint64_t r = take_own_result(a, "timeout", why);
    none();                                           /* no DLQ copy for a timeout; b untouched */
    core_result(ta, a, "accepted", "{}", T0_MS + 30); /* the old instance's answer, late */
    none();
    deliver(r, 0, T0_MS + 40);
    take_store(OWN, 1);
    core_result(ta, a, "accepted", "{}", T0_MS + 50); /* even once it is done */
    none();
    uint64_t rb = core_answers(tb, b, "accepted");
    deliver(rb, 0, T0_MS + 60);
    take_store(OWN, 2);
    none();
}
END_TEST

/* the first instance heard of a core after the bridge started it: a restart for the commands
 * handed over before that instance started, not for those handed over after */
START_TEST(test_core_first_announce)
{
    skip_start();
    char a[16], b[16], a2[16];
    ids_on_cores(a, b, a2);
    uint32_t ca = core_of(a);
    to_core(0, a); /* handed over at T0 */
    uint64_t t2 = to_dedup(OWN, 1, a2);
    dedup_result(t2, true, 0, T0_MS + 2000); /* handed over at T0 + 2 s */
    take(OP_CORE);
    ck_assert_int_eq(announce_env("core", ca, US(T0_MS + 1000), T0_MS + 2500), 0);
    take_own_result(a, "timeout",
                    "ocpp-core restarted: the outcome at the charge point is unknown");
    none();
    ck_assert_uint_eq(command_flow_inflight(F), 2);
}
END_TEST

/* the registry restarted: LOOKUP and DEDUP asked again at once (same request ids); takeovers it
 * confirms (TAKEOVER active=true again) go on, the others stop after 3 x registry timeout with
 * TAKEOVER_DONE */
START_TEST(test_registry_restarted)
{
    skip_start();
    takeover("pod-c", 4, true);
    uint32_t rc = take(OP_START)->reader;
    takeover("pod-d", 5, true);
    uint32_t rdd = take(OP_START)->reader;
    record_on(OWN, 0, cmd_json("g1", NULL), T0_MS);
    uint64_t t1 = take_lookup("CP-g1");
    uint64_t t2 = to_dedup(OWN, 1, "g2");
    ck_assert_int_eq(announce_env("registry", 0, 111, T0_MS), 0); /* first heard: nothing */
    none();
    ck_assert_int_eq(announce_env("registry", 0, 111, T0_MS + 100), 0);
    none();
    ck_assert_int_eq(announce_env("registry", 0, 222, T0_MS + 200), 0);
    bool lookup = false, dedup = false;
    for (int i = 0; i < 2; i++) {
        op_t *o = take(OP_REGISTRY);
        if (o->type == ENV_LOOKUP) {
            ck_assert_uint_eq(o->request_id, t1);
            lookup = true;
        } else {
            ck_assert_int_eq(o->type, ENV_DEDUP);
            ck_assert_uint_eq(o->request_id, t2);
            dedup = true;
        }
    }
    ck_assert(lookup && dedup);
    none();
    owner(t1, "pod-b", true, T0_MS + 300); /* answered by the new instance */
    uint64_t fwd = take(OP_PRODUCE)->cookie;
    dedup_result(t2, false, 0, T0_MS + 300);
    deliver(fwd, 0, T0_MS + 300);
    take_store(OWN, 2);
    takeover("pod-c", 6, true); /* confirmed (a new epoch even) */
    command_flow_tick(F, US(T0_MS + 200 + 8999));
    none();
    command_flow_tick(F, US(T0_MS + 200 + 9000));
    ck_assert_uint_eq(take(OP_STOP)->reader, rdd);
    ck_assert_uint_eq(take(OP_DESTROY)->reader, rdd);
    op_t *o = take(OP_REGISTRY);
    ck_assert_int_eq(o->type, ENV_TAKEOVER_DONE);
    ck_assert_str_eq(o->text, "pod-d");
    ck_assert_uint_eq(o->epoch, 5);
    none();
    command_flow_tick(F, US(T0_MS + 60000));
    none(); /* pod-c reads on */
    takeover("pod-c", 6, false);
    ck_assert_uint_eq(take(OP_STOP)->reader, rc);
}
END_TEST

/* ANNOUNCE {bridge, 0, instance} to every core and the registry at the first tick and every
 * announce_interval_ms; ANNOUNCEs of unknown stages or cores are refused */
START_TEST(test_announce)
{
    nops = seen = 0;
    command_flow_config_t cfg = config();
    cfg.instance = 1795000000123456ULL;
    cfg.announce_interval_ms = 1000;
    F = command_flow_new(&cfg, &OPS, NULL);
    ck_assert_ptr_nonnull(F);
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS)), US(T0_MS + 1000));
    for (uint32_t i = 0; i < 2; i++) {
        op_t *o = take(OP_CORE);
        ck_assert_int_eq(o->type, ENV_ANNOUNCE);
        ck_assert_uint_eq(o->core, i);
        ck_assert_str_eq(o->text, "bridge");
        ck_assert_uint_eq(o->request_id, cfg.instance);
    }
    op_t *o = take(OP_REGISTRY);
    ck_assert_int_eq(o->type, ENV_ANNOUNCE);
    ck_assert_uint_eq(o->request_id, cfg.instance);
    none();
    command_flow_tick(F, US(T0_MS + 999));
    none();
    command_flow_tick(F, US(T0_MS + 1000));
    take(OP_CORE);
    take(OP_CORE);
    take(OP_REGISTRY);
    none();
    ck_assert_int_eq(announce_env("edge", 0, 5, T0_MS), -EINVAL);
    ck_assert_int_eq(announce_env("core", 2, 5, T0_MS), -EINVAL);
    ck_assert_int_eq(announce_env("core", 0, 0, T0_MS), 0); /* instance unknown: ignored */
    none();
}
END_TEST

/* a full core (-ENOBUFS / -EAGAIN): the command waits (never rejected), later commands for that
 * core wait behind it (order per charge point), they go over when the core takes them; one that
 * expires while waiting is expired; at stop a waiting one is offered once more, then rejected */
START_TEST(test_core_full)
{
    skip_start();
    char a[16], b[16], a2[16];
    ids_on_cores(a, b, a2);
    uint32_t ca = core_of(a);
    uint64_t t1 = to_dedup(OWN, 0, a);
    core_rc = -ENOBUFS;
    core_rc_calls = 2;
    dedup_result(t1, true, 0, T0_MS);
    ck_assert_uint_eq(take(OP_CORE)->request_id, t1); /* refused */
    none();
    uint64_t t2 = to_dedup(OWN, 1, a2);
    dedup_result(t2, true, 0, T0_MS); /* same core: a is offered again, refused; a2 waits */
    ck_assert_uint_eq(take(OP_CORE)->request_id, t1);
    none();
    uint64_t t3 = to_dedup(OWN, 2, b);
    dedup_result(t3, true, 0, T0_MS); /* the other core takes it */
    op_t *o = take(OP_CORE);
    ck_assert_uint_eq(o->request_id, t3);
    ck_assert_uint_ne(o->core, ca);
    command_flow_tick(F, US(T0_MS + 1));
    ck_assert_uint_eq(take(OP_CORE)->request_id, t1); /* in order, now taken */
    ck_assert_uint_eq(take(OP_CORE)->request_id, t2);
    none();
    /* waiting past its expiry: expired, with its DLQ copy */
    const char *json = "{\"command_id\":\"w1\",\"cp_id\":\"CP-w\",\"action\":\"reset\","
                       "\"ttl_ms\":1000}";
    record_on(OWN, 3, json, T0_MS);
    uint64_t tw = take_lookup("CP-w");
    owner(tw, "pod-a", true, T0_MS);
    take_dedup(tw, "w1");
    core_rc = -EAGAIN;
    core_rc_calls = -1;
    dedup_result(tw, true, 0, T0_MS + 10);
    take(OP_CORE);
    /* waiting: the next tick offers it again */
    ck_assert_uint_le(command_flow_tick(F, US(T0_MS + 400)), US(T0_MS + 500));
    take(OP_CORE);
    command_flow_tick(F, US(T0_MS + 500));
    take(OP_CORE);
    none();
    command_flow_tick(F, US(T0_MS + 1000));
    const char *why = "expires_at passed before the charge point was reached";
    take_own_result("w1", "expired", why);
    take_dlq("w1", json, "expired", why);
    none();
    /* stop: a waiting command is offered once more, then rejected */
    uint64_t t5 = to_dedup(OWN, 4, "w5");
    dedup_result(t5, true, 0, T0_MS + 1000);
    take(OP_CORE);
    command_flow_stop(F, US(T0_MS + 1100));
    take(OP_STOP);
    take(OP_CORE);
    take_own_result("w5", "rejected", "ocpp-core stayed full until the bridge stopped");
    take(OP_PRODUCE); /* its DLQ copy */
    none();
}
END_TEST

/* ---- exactly one final result across readers; a takeover never forwards into itself -------- */

static uint64_t counter(bridge_metric_t m)
{
    return metrics_counter_get(metrics_def_counter(BRIDGE_METRIC(m), NULL));
}

/* A result the bridge decides itself takes the command's DEDUP key first. Not first: another
 * reader delivered or finished the command (a pod restarted and re-read from its committed
 * offsets, a resumed pod, a takeover): no result, the offset is stored, counted. */
START_TEST(test_decided_elsewhere)
{
    skip_start();
    uint64_t elsewhere = counter(BRIDGE_M_COMMANDS_FINISHED_ELSEWHERE);
    /* delivered by another pod, read again here, parked (its station left) until it expires */
    const char *json = "{\"command_id\":\"e1\",\"cp_id\":\"CP-e1\",\"action\":\"reset\","
                       "\"ttl_ms\":1000}";
    record_on(OWN, 0, json, T0_MS);
    uint64_t t = take_lookup("CP-e1");
    owner(t, "", false, T0_MS);
    command_flow_tick(F, US(T0_MS + 500));
    owner(take_lookup("CP-e1"), "", false, T0_MS + 500);
    command_flow_tick(F, US(T0_MS + 1000));
    take_dedup(t, "e1");
    none(); /* no result before the key is ours */
    dedup_result(t, false, 0, T0_MS + 1001);
    take_store(OWN, 1);
    none();
    ck_assert_uint_eq(counter(BRIDGE_M_COMMANDS_FINISHED_ELSEWHERE), elsewhere + 1);
    dedup_result(t, true, 0, T0_MS + 1002); /* a late answer to an earlier copy: nothing */
    none();
    /* expired when read, and invalid with a readable command_id: the same */
    const char *old = "{\"command_id\":\"e2\",\"cp_id\":\"CP\",\"action\":\"reset\","
                      "\"expires_at\":\"2000-01-01T00:00:00Z\"}";
    record_on(OWN, 1, old, T0_MS + 2000);
    dedup_result(take_claim("e2"), false, 0, T0_MS + 2000);
    take_store(OWN, 2);
    record_on(OWN, 2, "{\"command_id\":\"e3\",\"action\":\"reset\"}", T0_MS + 2000);
    dedup_result(take_claim("e3"), false, 0, T0_MS + 2000);
    take_store(OWN, 3);
    /* at the hop limit: the owner's DEDUP decides too (a forwarded copy has the same id) */
    record_on(OWN, 3, cmd_json("e4", ",\"hops\":3"), T0_MS + 2000);
    t = take_lookup("CP-e4");
    owner(t, "pod-b", true, T0_MS + 2000);
    take_dedup(t, "e4");
    dedup_result(t, false, 0, T0_MS + 2000);
    take_store(OWN, 4);
    none();
    ck_assert_uint_eq(counter(BRIDGE_M_COMMANDS_FINISHED_ELSEWHERE), elsewhere + 4);
    /* no readable command_id: no key to take, answered at once */
    record_on(OWN, 4, "{\"command_id\":7}", T0_MS + 2000);
    char key[64];
    snprintf(key, sizeof(key), "commands-down[%d]@4", hash_kafka_partition("pod-a", 5, PARTITIONS));
    uint64_t r = take_own_result(key, "invalid", "command_id is not a string of 1..79 bytes");
    uint64_t d =
        take_dlq(key, "{\"command_id\":7}", "invalid", "command_id is not a string of 1..79 bytes");
    deliver(r, 0, T0_MS + 2000);
    deliver(d, 0, T0_MS + 2000);
    take_store(OWN, 5);
    none();
}
END_TEST

/* The DEDUP before a decided result: an error asks again after the park back-off (the command is
 * past its deadline anyway), an unanswered one after the registry timeout, a restarted registry
 * at once; the key ours, the result; a stop keeps it until answered (the key may be ours: a
 * re-read copy would find it taken and give no result at all). */
START_TEST(test_decided_dedup_retries)
{
    skip_start();
    const char *old = "{\"command_id\":\"e5\",\"cp_id\":\"CP\",\"action\":\"reset\","
                      "\"expires_at\":\"2000-01-01T00:00:00Z\"}";
    record_on(OWN, 0, old, T0_MS);
    uint64_t t = take_claim("e5");
    dedup_result(t, false, -EIO, T0_MS + 10);
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 509)), US(T0_MS + 510));
    none();
    command_flow_tick(F, US(T0_MS + 510));
    take_dedup(t, "e5"); /* the same request id: the registry knows its own key again */
    command_flow_tick(F, US(T0_MS + 3509));
    none();
    command_flow_tick(F, US(T0_MS + 3510));
    take_dedup(t, "e5");
    ck_assert_int_eq(announce_env("registry", 0, 111, T0_MS + 3600), 0);
    ck_assert_int_eq(announce_env("registry", 0, 222, T0_MS + 3700), 0);
    take_dedup(t, "e5");
    none();
    command_flow_stop(F, US(T0_MS + 3800));
    take(OP_STOP);
    none();
    ck_assert_uint_eq(command_flow_inflight(F), 1); /* kept */
    dedup_result(t, true, 0, T0_MS + 3900);
    const char *why = "expires_at passed before the charge point was reached";
    uint64_t r = take_own_result("e5", "expired", why);
    uint64_t d = take_dlq("e5", old, "expired", why);
    dedup_result(t, false, 0, T0_MS + 3901); /* an answer to an earlier copy: nothing */
    deliver(r, 0, T0_MS + 4000);
    deliver(d, 0, T0_MS + 4000);
    take_store(OWN, 1);
    none();
}
END_TEST

/* Results that hold the key already (they passed DEDUP on their way to core) take no second
 * DEDUP: a command waiting for a full core that expires, one the core refuses, the backstop. */
START_TEST(test_held_key_no_second_dedup)
{
    skip_start();
    uint64_t t = to_dedup(OWN, 0, "h1");
    core_rc = -ENOBUFS;
    dedup_result(t, true, 0, T0_MS);
    take(OP_CORE);
    none();
    command_flow_tick(F, US(T0_MS + 600000)); /* expired while waiting for room */
    take_own_result("h1", "expired", "expires_at passed before the charge point was reached");
    take(OP_PRODUCE);
    none();
}
END_TEST

/* A takeover reader reads a record whose owner is the taken-over pod itself, alive again (every
 * lease expired in a host stall, or a frozen pod resumed): the record is left to that pod. No
 * forward back into the partition this reader reads; the reader stops at once, this record's
 * offset and every later one unstored (the pod reads them from the committed offsets); commands
 * whose DEDUP was sent finish; no TAKEOVER_DONE (the registry still holds the claim and ends it
 * with active=false once it sees the pod's lease). */
START_TEST(test_takeover_yields)
{
    skip_start();
    uint64_t yielded = counter(BRIDGE_M_TAKEOVERS_YIELDED);
    takeover("pod-c", 7, true);
    uint32_t rd = take(OP_START)->reader;
    record_on(rd, 10, cmd_json("y0", NULL), T0_MS); /* forwarded elsewhere */
    uint64_t t0 = take_lookup("CP-y0");
    owner(t0, "pod-b", true, T0_MS);
    uint64_t f0 = take(OP_PRODUCE)->cookie;
    uint64_t t1 = to_dedup(rd, 11, "y1");           /* the station is here: DEDUP sent */
    record_on(rd, 12, cmd_json("y2", NULL), T0_MS); /* the one for pod-c itself */
    uint64_t t2 = take_lookup("CP-y2");
    record_on(rd, 13, cmd_json("y3", NULL), T0_MS); /* later: waiting for its LOOKUP */
    uint64_t t3 = take_lookup("CP-y3");
    none();
    owner(t2, "pod-c", true, T0_MS + 1);
    ck_assert_uint_eq(take(OP_STOP)->reader, rd);
    none(); /* no forward to pod-c's partition: that is where this reader reads */
    ck_assert_uint_eq(counter(BRIDGE_M_TAKEOVERS_YIELDED), yielded + 1);
    ck_assert_uint_eq(command_flow_inflight(F), 2); /* y0 (output), y1 (DEDUP); y2, y3 let go */
    owner(t3, "pod-c", true, T0_MS + 2);
    record_on(rd, 14, cmd_json("y4", NULL), T0_MS + 2); /* fetched before the stop: not taken */
    none();
    deliver(f0, 0, T0_MS + 3);
    take_store(rd, 11);
    dedup_result(t1, true, 0, T0_MS + 4);
    take(OP_CORE);
    deliver(core_answers(t1, "y1", "accepted"), 0, T0_MS + 5);
    take_store(rd, 12);
    none(); /* 12 was left to pod-c: nothing stored past it */
    command_flow_tick(F, US(T0_MS + 100));
    ck_assert_uint_eq(take(OP_DESTROY)->reader, rd); /* committed: pod-c reads on from 12 */
    none();                                          /* no TAKEOVER_DONE */
    takeover("pod-c", 7, false);                     /* the registry saw pod-c's lease */
    none();
    command_flow_tick(F, US(T0_MS + 3600000));
    none();                     /* ended: never read again */
    takeover("pod-c", 8, true); /* pod-c dies again: a new claim, a new reader */
    ck_assert_uint_gt(take(OP_START)->reader, rd);
}
END_TEST

/* After a yield the registry may never say active=false (pod-c died again before it noticed the
 * lease, and its claim was only extended): reading resumes after 3 x registry timeout with the
 * same claim, which later ends with TAKEOVER_DONE as usual. A registry confirming the claim
 * (active=true) resumes it at once; a restarted registry repeats active=true for the claims it
 * holds, so one it does not confirm is never resumed. */
START_TEST(test_takeover_yield_resumes)
{
    skip_start();
    takeover("pod-c", 7, true);
    uint32_t rd = take(OP_START)->reader;
    record_on(rd, 0, cmd_json("z0", NULL), T0_MS);
    owner(take_lookup("CP-z0"), "pod-c", true, T0_MS);
    take(OP_STOP);
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 100)), US(T0_MS + 9000));
    take(OP_DESTROY);
    command_flow_tick(F, US(T0_MS + 8999));
    none();
    command_flow_tick(F, US(T0_MS + 9000));
    op_t *o = take(OP_START);
    uint32_t rd2 = o->reader;
    ck_assert_uint_gt(rd2, rd);
    ck_assert_str_eq(o->pod, "pod-c");
    ck_assert(o->flag);
    none();
    record_on(rd2, 0, cmd_json("z0", NULL), T0_MS + 9100); /* read again from the committed */
    owner(take_lookup("CP-z0"), "", false, T0_MS + 9100);  /* pod-c dead: parked as usual */
    none();
    takeover("pod-c", 7, false);
    take(OP_STOP);
    command_flow_tick(F, US(T0_MS + 9200));
    take(OP_DESTROY);
    o = take(OP_REGISTRY);
    ck_assert_int_eq(o->type, ENV_TAKEOVER_DONE);
    ck_assert_uint_eq(o->epoch, 7);
    none();

    /* confirmed by the registry: at once, and no second reader later */
    takeover("pod-d", 3, true);
    uint32_t rdd = take(OP_START)->reader;
    record_on(rdd, 0, cmd_json("z1", NULL), T0_MS + 10000);
    owner(take_lookup("CP-z1"), "pod-d", true, T0_MS + 10000);
    take(OP_STOP);
    takeover("pod-d", 3, true);
    ck_assert_str_eq(take(OP_START)->pod, "pod-d");
    command_flow_tick(F, US(T0_MS + 10100));
    take(OP_DESTROY);
    command_flow_tick(F, US(T0_MS + 30000));
    none();
    takeover("pod-d", 3, false);
    take(OP_STOP);
    command_flow_tick(F, US(T0_MS + 30000));
    take(OP_DESTROY);
    ck_assert_int_eq(take(OP_REGISTRY)->type, ENV_TAKEOVER_DONE);

    /* a restarted registry: never resumed unless it confirms */
    takeover("pod-e", 4, true);
    uint32_t rde = take(OP_START)->reader;
    record_on(rde, 0, cmd_json("z2", NULL), T0_MS + 30000);
    owner(take_lookup("CP-z2"), "pod-e", true, T0_MS + 30000);
    take(OP_STOP);
    ck_assert_int_eq(announce_env("registry", 0, 111, T0_MS + 30001), 0);
    ck_assert_int_eq(announce_env("registry", 0, 222, T0_MS + 30002), 0);
    command_flow_tick(F, US(T0_MS + 30100));
    take(OP_DESTROY);
    command_flow_tick(F, US(T0_MS + 3600000));
    none();
    /* a stopping bridge resumes nothing either */
    takeover("pod-f", 5, true);
    uint32_t rdf = take(OP_START)->reader;
    record_on(rdf, 0, cmd_json("z3", ",\"ttl_ms\":86400000"), T0_MS + 3600000);
    owner(take_lookup("CP-z3"), "pod-f", true, T0_MS + 3600000);
    take(OP_STOP);
    command_flow_stop(F, US(T0_MS + 3600001));
    take(OP_STOP); /* the own reader */
    command_flow_tick(F, US(T0_MS + 7200000));
    take(OP_DESTROY);
    take(OP_DESTROY);
    none();
}
END_TEST

/* A forward never loops back into the reader it came from. Owner = the pod of a taken-over
 * partition: yield (above), at any hop count. Owner = a pod that shares this reader's partition
 * (pod names hash to the same partition): forwarded there with target_pod = that pod, and the
 * copy read back here is skipped (that pod's reader routes it), never forwarded again. */
START_TEST(test_forward_same_partition)
{
    skip_start();
    int32_t p = hash_kafka_partition("pod-a", 5, PARTITIONS);
    char mate[16] = "";
    for (int i = 0; i < 1000 && !mate[0]; i++) {
        char pod[16];
        snprintf(pod, sizeof(pod), "pod-%d", i);
        if (hash_kafka_partition(pod, strlen(pod), PARTITIONS) == p)
            snprintf(mate, sizeof(mate), "%s", pod);
    }
    ck_assert(mate[0]);
    record_on(OWN, 0, cmd_json("w1", NULL), T0_MS);
    owner(take_lookup("CP-w1"), mate, true, T0_MS);
    op_t *o = take(OP_PRODUCE);
    ck_assert_str_eq(o->topic, "commands-down");
    ck_assert_int_eq(o->partition, p); /* the partition this reader reads */
    ck_assert_str_eq(header(o, "target_pod"), mate);
    char copy[1024];
    snprintf(copy, sizeof(copy), "%.*s", (int)o->vlen, o->value);
    deliver(o->cookie, 0, T0_MS);
    take_store(OWN, 1);
    record_on(OWN, 1, copy, T0_MS + 1); /* the copy comes back on this reader: not ours */
    take_store(OWN, 2);
    none();
    /* a taken-over partition: a record at the hop limit for its own pod, alive, is left to it */
    takeover("pod-c", 2, true);
    uint32_t rd = take(OP_START)->reader;
    record_on(rd, 0, cmd_json("w2", ",\"hops\":3,\"target_pod\":\"pod-c\""), T0_MS);
    owner(take_lookup("CP-w2"), "pod-c", true, T0_MS);
    take(OP_STOP);
    none();
}
END_TEST

/* ---- issue 14: deadlines in every state, cp_id, standard headers, trace context ------------ */

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/* A metric line (e.g. a histogram's _count series) as rendered, or 0 when absent. */
static double rendered(const char *series)
{
    char *text = metrics_render();
    ck_assert_ptr_nonnull(text);
    const char *at = strstr(text, series);
    double v = at ? strtod(at + strlen(series), NULL) : 0;
    free(text);
    return v;
}

/* A record without expires_at / ttl_ms has the default deadline, fixed when read, carried in
 * COMMAND.expires_at_ms with the record's traceparent; the result carries the RESULT's
 * traceparent, content-type application/json, and feeds the duration histogram. */
START_TEST(test_deadline_and_trace_to_core)
{
    skip_start();
    double before = rendered(
        "ocppgw_bridge_command_duration_seconds_count{action=\"reset\",status=\"accepted\"} ");
    record_tp = TP;
    record_on(OWN, 0, cmd_json("d-1", NULL), T0_MS);
    uint64_t t = take_lookup("CP-d-1");
    owner(t, "pod-a", true, T0_MS + 100);
    op_t *dd = take(OP_REGISTRY);
    ck_assert_int_eq(dd->type, ENV_DEDUP);
    /* the key outlives the command: time left + backstop grace + command_dedup_ttl_ms */
    ck_assert_uint_eq(dd->epoch, 600000 - 100 + 120000 + 86400000);
    dedup_result(t, true, 0, T0_MS + 100);
    op_t *o = take(OP_CORE);
    ck_assert_uint_eq(o->expires_at_ms, T0_MS + 600000); /* record timestamp + default */
    ck_assert_str_eq(o->traceparent, TP);
    const char *tp2 = "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01";
    envelope_t env = {.type = ENV_RESULT};
    env.u.result.token = t;
    env.u.result.command_id = env_str("d-1");
    env.u.result.status = env_str("accepted");
    env.u.result.value = (env_bin_t){(const uint8_t *)"{}", 2};
    env.u.result.traceparent = env_str(tp2);
    ck_assert_int_eq(command_flow_on_envelope(F, &env, US(T0_MS + 1500)), 0);
    o = take(OP_PRODUCE);
    ck_assert_str_eq(o->topic, "command-results");
    ck_assert_str_eq(header(o, "content-type"), "application/json");
    ck_assert_str_eq(header(o, "traceparent"), tp2); /* the core's span */
    /* a CloudEvent in the Kafka binding's binary mode: id from type and command id */
    ck_assert_str_eq(header(o, "ce_specversion"), "1.0");
    ck_assert_str_eq(header(o, "ce_type"), "command.result");
    ck_assert_str_eq(header(o, "ce_id"), "69ee41de851cf0233300884a03a4b72f");
    ck_assert_str_eq(header(o, "ce_source"), "/ocppgw/pod-a");
    ck_assert_str_eq(header(o, "ce_subject"), "CP-d-1");
    ck_assert_str_eq(header(o, "ce_time"), "2026-11-18T11:06:41.500Z");
    ck_assert_str_eq(header(o, "ce_dataschema"), "https://ocppgw.example/unified/result.json");
    deliver(o->cookie, 0, T0_MS + 2000);
    take_store(OWN, 1);
    none();
    ck_assert(rendered("ocppgw_bridge_command_duration_seconds_count{action=\"reset\",status="
                       "\"accepted\"} ") == before + 1);
    /* 2 s from read to the result persisted: in the 2.5 s bucket, not the 1 s one */
    ck_assert(rendered("ocppgw_bridge_command_duration_seconds_bucket{action=\"reset\",status="
                       "\"accepted\",le=\"2.5\"} ") >= 1);
}
END_TEST

/* A command waiting for its DEDUP is asked again only until its deadline, then decided expired
 * through the same request id (the key first), with its DLQ copy and the record's trace. */
START_TEST(test_dedup_wait_expires)
{
    skip_start();
    record_tp = TP;
    const char *json = cmd_json("d-2", ",\"ttl_ms\":5000");
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", json);
    record_on(OWN, 0, copy, T0_MS);
    uint64_t t = take_lookup("CP-d-2");
    owner(t, "pod-a", true, T0_MS);
    op_t *dd = take(OP_REGISTRY);
    ck_assert_uint_eq(dd->epoch, 5000 + 120000 + 86400000);
    none();
    /* unanswered: asked again after command_registry_timeout_ms (3 s) */
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 3000)), US(T0_MS + 5000));
    take_dedup(t, "d-2");
    none();
    /* the registry cannot tell: not asked again past the deadline (backoff 500 ms, due 5 s) */
    dedup_result(t, false, -5, T0_MS + 4800);
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 4900)), US(T0_MS + 5000));
    none();
    /* the deadline: expired, the key claimed with the same request id */
    command_flow_tick(F, US(T0_MS + 5000));
    op_t *o = take(OP_REGISTRY);
    ck_assert_int_eq(o->type, ENV_DEDUP);
    ck_assert_uint_eq(o->request_id, t);
    ck_assert_uint_eq(o->epoch, 120000 + 86400000);
    none();
    dedup_result(t, true, 0, T0_MS + 5001);
    uint64_t r =
        take_own_result("d-2", "expired", "expires_at passed before the charge point was reached");
    ck_assert_str_eq(header(&rec_ops[seen - 1], "content-type"), "application/json");
    ck_assert_str_eq(header(&rec_ops[seen - 1], "traceparent"), TP);
    uint64_t d =
        take_dlq("d-2", copy, "expired", "expires_at passed before the charge point was reached");
    ck_assert_str_eq(header(&rec_ops[seen - 1], "content-type"), "application/json");
    ck_assert_str_eq(header(&rec_ops[seen - 1], "traceparent"), TP);
    deliver(r, 0, T0_MS + 5002);
    deliver(d, 0, T0_MS + 5002);
    take_store(OWN, 1);
    none();
}
END_TEST

/* A LOOKUP unanswered is not waited for past the deadline either. */
START_TEST(test_lookup_wait_expires)
{
    skip_start();
    record_on(OWN, 0, cmd_json("d-3", ",\"ttl_ms\":1000"), T0_MS);
    take_lookup("CP-d-3");
    ck_assert_uint_eq(command_flow_tick(F, US(T0_MS + 10)), US(T0_MS + 1000));
    none();
    command_flow_tick(F, US(T0_MS + 1000));
    take_claim("d-3");
    none();
}
END_TEST

/* A cp_id the edge would refuse (49 characters, a ':'): invalid, DLQ copy, never looked up. A
 * record that is not JSON gets its DLQ copy as application/octet-stream. */
START_TEST(test_cp_id_invalid)
{
    skip_start();
    const char *json =
        "{\"command_id\":\"d-4\",\"cp_id\":"
        "\"0123456789012345678901234567890123456789012345678\",\"action\":\"reset\"}";
    record_on(OWN, 0, json, T0_MS);
    dedup_result(take_claim("d-4"), true, 0, T0_MS);
    const char *why = "cp_id is not an identity (1..48 of A-Z a-z 0-9 * - _ = + | @ .)";
    uint64_t r = take_own_result("d-4", "invalid", why);
    uint64_t d = take_dlq("d-4", json, "invalid", why);
    ck_assert_str_eq(header(&rec_ops[seen - 1], "content-type"), "application/json");
    ck_assert_ptr_null(header(&rec_ops[seen - 1], "traceparent")); /* none given */
    ck_assert_str_eq(header(&rec_ops[seen - 1], "ce_type"), "command.dead_lettered");
    ck_assert_str_eq(header(&rec_ops[seen - 1], "ce_id"), "e3935f137542bae560e48a72986233d2");
    ck_assert_ptr_null(header(&rec_ops[seen - 1], "ce_dataschema")); /* the record as read */
    deliver(r, 0, T0_MS);
    deliver(d, 0, T0_MS);
    take_store(OWN, 1);
    record_on(OWN, 1, "{nope", T0_MS);
    op_t *o = take(OP_PRODUCE); /* no key to take: answered at once */
    ck_assert_str_eq(o->topic, "command-results");
    ck_assert_str_eq(header(o, "content-type"), "application/json");
    o = take(OP_PRODUCE);
    ck_assert_str_eq(o->topic, "commands-dlq");
    ck_assert_str_eq(header(o, "content-type"), "application/octet-stream");
}
END_TEST

/* A count under which pod's partition differs from the one under PARTITIONS. */
static int32_t moved_count(const char *pod)
{
    int32_t old = hash_kafka_partition(pod, strlen(pod), PARTITIONS);
    for (int32_t n = 128; n < 1024; n++)
        if (hash_kafka_partition(pod, strlen(pod), n) != old)
            return n;
    ck_abort_msg("no count moves %s", pod);
    return 0;
}

/* The partition count grows: a reader of the pod's new partition starts at once; the old one
 * reads on (a record there is handled as before) until it is drained AND
 * command_repartition_grace_ms passed, then stops and commits; forwards use the new count. The
 * same count again changes nothing. */
START_TEST(test_partition_count_changes)
{
    skip_start();
    ck_assert_int_eq(command_flow_on_partitions(F, PARTITIONS, US(T0_MS)), 0);
    none();
    ck_assert_int_eq(command_flow_on_partitions(F, 0, US(T0_MS)), -EINVAL);
    int32_t n = moved_count("pod-a");
    ck_assert_int_eq(command_flow_on_partitions(F, n, US(T0_MS)), 0);
    op_t *o = take(OP_START);
    uint32_t nr = o->reader;
    ck_assert_uint_ne(nr, OWN);
    ck_assert_str_eq(o->pod, "pod-a");
    ck_assert_int_eq(o->offset, hash_kafka_partition("pod-a", 5, n));
    ck_assert(!o->flag);
    none();
    ck_assert_int_eq(command_flow_on_partitions(F, n, US(T0_MS)), 0);
    none();
    /* a record still on the old partition (a backend with the old count) is handled */
    record_on(OWN, 7, cmd_json("p-1", NULL), T0_MS);
    uint64_t t = take_lookup("CP-p-1");
    owner(t, "pod-b", true, T0_MS);
    o = take(OP_PRODUCE); /* forwarded: to pod-b's partition under the new count */
    ck_assert_int_eq(o->partition, hash_kafka_partition("pod-b", 5, n));
    uint64_t f1 = o->cookie;
    command_flow_on_eof(F, OWN);
    command_flow_tick(F, US(T0_MS + 300000));
    none(); /* grace over, but the forward is not persisted: not drained */
    deliver(f1, 0, T0_MS + 300001);
    take_store(OWN, 8);
    record_on(OWN, 9, cmd_json("p-3", ",\"target_pod\":\"pod-x\""), T0_MS + 300050);
    take_store(OWN, 10); /* skipped: final at once */
    command_flow_tick(F, US(T0_MS + 300100));
    none(); /* a record arrived since the last end of partition: not drained */
    command_flow_on_eof(F, OWN);
    command_flow_tick(F, US(T0_MS + 300200));
    ck_assert_uint_eq(take(OP_STOP)->reader, OWN);
    ck_assert_uint_eq(take(OP_DESTROY)->reader, OWN);
    none();
    /* the new reader is the pod's own reader now */
    record_on(nr, 0, cmd_json("p-2", NULL), T0_MS + 300300);
    take_lookup("CP-p-2");
    ck_assert_uint_eq(counter(BRIDGE_M_PARTITION_MOVES) >= 1, 1);
}
END_TEST

/* Back to the old count while the old partition is still draining: that reader reads on as the
 * pod's own (no third reader), and the new one drains instead. */
START_TEST(test_partition_count_back)
{
    skip_start();
    int32_t n = moved_count("pod-a");
    ck_assert_int_eq(command_flow_on_partitions(F, n, US(T0_MS)), 0);
    uint32_t nr = take(OP_START)->reader;
    ck_assert_int_eq(command_flow_on_partitions(F, PARTITIONS, US(T0_MS + 10)), 0);
    none();
    command_flow_on_eof(F, OWN);
    command_flow_on_eof(F, nr);
    command_flow_tick(F, US(T0_MS + 300010));
    ck_assert_uint_eq(take(OP_STOP)->reader, nr);
    ck_assert_uint_eq(take(OP_DESTROY)->reader, nr);
    none(); /* the first reader reads on */
    record_on(OWN, 3, cmd_json("b-1", NULL), T0_MS + 300020);
    take_lookup("CP-b-1");
}
END_TEST

/* A dead pod's partition taken over moves too; the registry ending the claim stops both the new
 * reader and the old one still draining, with one TAKEOVER_DONE; a repeated claim's epoch
 * reaches both. Before start and after stop the count is not taken. */
START_TEST(test_partition_count_takeover)
{
    skip_start();
    takeover("pod-c", 7, true);
    uint32_t rd = take(OP_START)->reader;
    int32_t n = moved_count("pod-c");
    ck_assert_int_eq(command_flow_on_partitions(F, n, US(T0_MS)), 0);
    uint32_t nr = 0;
    for (int i = 0; i < 2; i++) { /* pod-a's may move as well */
        op_t *o = take(OP_START);
        if (strcmp(o->pod, "pod-c") == 0) {
            ck_assert(o->flag);
            ck_assert_int_eq(o->offset, hash_kafka_partition("pod-c", 5, n));
            nr = o->reader;
        }
        if (hash_kafka_partition("pod-a", 5, n) == hash_kafka_partition("pod-a", 5, PARTITIONS))
            break;
    }
    ck_assert_uint_ne(nr, 0);
    none();
    takeover("pod-c", 8, true); /* repeated: keeps both */
    none();
    takeover("pod-c", 8, false);
    ck_assert_uint_eq(take(OP_STOP)->reader, nr);
    ck_assert_uint_eq(take(OP_STOP)->reader, rd);
    none();
    command_flow_tick(F, US(T0_MS + 100));
    int dones = 0, destroyed = 0;
    while (seen < nops) {
        op_t *o = &rec_ops[seen++];
        if (o->kind == OP_DESTROY)
            destroyed++;
        else if (o->kind == OP_REGISTRY && o->type == ENV_TAKEOVER_DONE) {
            dones++;
            ck_assert_str_eq(o->text, "pod-c");
            ck_assert_uint_eq(o->epoch, 8);
        }
    }
    ck_assert_int_eq(destroyed, 2);
    ck_assert_int_eq(dones, 1);
    command_flow_stop(F, US(T0_MS + 200));
    ck_assert_int_eq(command_flow_on_partitions(F, n + 1, US(T0_MS)), -ECANCELED);
}
END_TEST

int main(void)
{
    log_set_level(LOG_ERROR); /* the engine's info lines are not what is tested */
    Suite *s = suite_create("command_flow");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_handed_to_core);
    tcase_add_test(tc, test_forwarded);
    tcase_add_test(tc, test_parked_then_found);
    tcase_add_test(tc, test_parked_expires);
    tcase_add_test(tc, test_taken_over);
    tcase_add_test(tc, test_takeover_stopped);
    tcase_add_test(tc, test_invalid_record);
    tcase_add_test(tc, test_core_invalid);
    tcase_add_test(tc, test_duplicate);
    tcase_add_test(tc, test_dedup_unavailable);
    tcase_add_test(tc, test_delivery_fails);
    tcase_add_test(tc, test_core_never_answers);
    tcase_add_test(tc, test_offsets_out_of_order);
    tcase_add_test(tc, test_stop);
    tcase_add_test(tc, test_close_lets_go);
    tcase_add_test(tc, test_reentrant_delivery);
    tcase_add_test(tc, test_parts_any_order);
    tcase_add_test(tc, test_unknown_inputs);
    tcase_add_test(tc, test_core_refuses);
    tcase_add_test(tc, test_lookup_timeout);
    tcase_add_test(tc, test_expired_and_skipped);
    tcase_add_test(tc, test_core_restarted);
    tcase_add_test(tc, test_core_first_announce);
    tcase_add_test(tc, test_registry_restarted);
    tcase_add_test(tc, test_core_full);
    tcase_add_test(tc, test_decided_elsewhere);
    tcase_add_test(tc, test_decided_dedup_retries);
    tcase_add_test(tc, test_held_key_no_second_dedup);
    tcase_add_test(tc, test_takeover_yields);
    tcase_add_test(tc, test_takeover_yield_resumes);
    tcase_add_test(tc, test_forward_same_partition);
    tcase_add_test(tc, test_deadline_and_trace_to_core);
    tcase_add_test(tc, test_dedup_wait_expires);
    tcase_add_test(tc, test_lookup_wait_expires);
    tcase_add_test(tc, test_cp_id_invalid);
    tcase_add_test(tc, test_partition_count_changes);
    tcase_add_test(tc, test_partition_count_takeover);
    tcase_add_test(tc, test_partition_count_back);
    suite_add_tcase(s, tc);
    /* these make their own engine */
    TCase *own = tcase_create("own engine");
    tcase_add_checked_fixture(own, NULL, teardown);
    tcase_add_test(own, test_pause_resume);
    tcase_add_test(own, test_not_started);
    tcase_add_test(own, test_announce);
    suite_add_tcase(s, own);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
