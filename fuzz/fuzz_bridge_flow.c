/* fuzz_bridge_flow.c: libFuzzer driver for kafka-bridge's command lifecycle engine
 * (services/kafka-bridge/command_flow.c). The input is decoded as a sequence of events: records
 * read (values from a small dictionary of valid and invalid commands, or raw bytes), OWNER answers
 * (here, another pod live or without lease, nowhere, unknown request ids), DEDUP results (first,
 * duplicate, error), RESULTs from core (for a command at core, late ones for a command already
 * finished, or for a token of an earlier bridge), delivery reports (success or failure) for
 * outstanding cookies, also served inside a produce call, produce failures, COMMAND sends refused
 * by a full core or for good, ANNOUNCEs of cores (the same instance, an old one, a new one: a
 * restart) and of the registry, TAKEOVER start, repeat and stop, end of partition (a taken-over
 * partition is read on after it), changes of the partition count, traceparent headers (valid,
 * invalid, none), ticks of a fake clock advancing by random amounts, and stop.
 *
 * The recording ops check, and abort on a violation:
 * - at most one final result (or forward) delivered per record, at most one DLQ copy; never a
 *   second result: every result record the engine produces for a command carries the same cookie
 *   (retries of one output), also after its core restarted or when a late RESULT comes;
 * - exactly one final result per command across readers: a record may be a copy of an earlier
 *   command (the same command_id read again, by the same or another reader: a takeover resumed
 *   after a yield, a record forwarded back, a re-read), and DEDUP is answered by a model of the
 *   registry's key per command_id (the first request to take it is first, and stays first when
 *   asked again; every other request is a duplicate; or an error, which changes nothing; a key
 *   may also be taken elsewhere: another pod's reader, not modelled). Every result (and DLQ copy)
 *   of a record with a readable command_id comes from the copy that holds the key (the results
 *   the bridge decides itself, expired / hop limit / invalid, take it too; those of a core passed
 *   it on their way there); a copy told "not first" gives no output; at most one result is
 *   persisted per command_id, and after the final drain exactly one when a copy here holds the
 *   key (none when it is held elsewhere: that reader answers);
 * - a forward never names the pod of the reader the record came from (it would come back to the
 *   same reader); a takeover reader whose record's owner is its own pod, alive, stops at once
 *   (yield) without TAKEOVER_DONE, and resumes reading only for a yield no TAKEOVER and no
 *   registry restart has ended since, with the same epoch;
 * - a core restart finishes, at once, every command that core held (or, for the first instance
 *   heard, those handed over before it started) with a result;
 * - a stored offset never passes a record without its final outcome persisted (or skipped, or a
 *   duplicate), never goes back, never passes what was read;
 * - TAKEOVER_DONE only for a takeover reader stopped for good (active=false, or not confirmed by a
 *   restarted registry) and destroyed, with its epoch, once; never for one only drained;
 * - a COMMAND only after a DEDUP said first, taken by the core once per record; a command a full
 *   core refused goes before any other command of that core, and is never finished as rejected
 *   for it (only for a hard send error, or at stop);
 * - memory bounded: commands in flight <= command_max_inflight + the records read while paused +
 *   RESULTs of earlier bridges, and every reader paused whenever the engine is full;
 * - no delivery report for a cookie the engine did not produce, and none for a refused produce,
 *   is needed: after a final drain (far-future ticks, every produce delivered, every question
 *   answered) every record read has exactly one final outcome, every RESULT of an earlier bridge
 *   is persisted once, and every takeover stopped is done; after a stop, every command that had a
 *   DEDUP or core question open, or waited for room at its core, is still finished;
 * - deadlines (issue 14): a COMMAND carries the deadline fixed when its record was read and is
 *   never handed to a core at or past it, nor after a DEDUP sent at or past it (that one claims
 *   the key for the result expired); every DEDUP's ttl_ms covers the command's time left plus the
 *   backstop grace plus command_dedup_ttl_ms;
 * - standard records: every result, DLQ copy and forward has a content-type header (application/
 *   json; a DLQ copy of bytes that are not JSON application/octet-stream), and carries the
 *   record's traceparent (a valid one given with the record; none for an invalid one) on its
 *   COMMAND, result, DLQ copy and forward;
 * - a change of the partition count (told again, raised, lowered back: a partition still
 *   draining): every reader whose pod's partition moved gets a reader of the new one at once
 *   (same claim and epoch), or the reader still draining there reads on; an old partition of the
 *   pod's own stops only once drained (end of partition, every record read final) and
 *   command_repartition_grace_ms passed; one TAKEOVER_DONE per claim; forwards use the new
 *   count.
 * Seeds: fuzz/corpus/bridge_flow/. */
#include "command_flow.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command_record.h"
#include "hash.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0_MS             1795000000000LL
#define PARTITIONS        4
#define REPARTITION_GRACE 5000
#define MAX_INFLIGHT      6
#define PREFETCH          3 /* records a reader still hands over after it was paused */
#define MAX_RECORDS       200
#define MAX_READERS       256
#define MAX_PENDING       512
#define DEFAULT_TTL       600000

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_bridge_flow: violated: %s (line %d)\n", #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* FLOW_TRACE=1 in the environment prints every event and effect (to read a finding) */
static bool trace;
#define TRACE(...)                                                                                 \
    do {                                                                                           \
        if (trace)                                                                                 \
            fprintf(stderr, __VA_ARGS__);                                                          \
    } while (0)

typedef struct {
    uint32_t reader; /* index in G.readers */
    int64_t offset;
    char key[COMMAND_ID_MAX + 1]; /* the key its result / DLQ copy carries */
    bool skip;                    /* addressed to another pod: no output */
    bool dup_told, first_told, core_sent, must_finish;
    bool readable;     /* a readable command_id: every result follows a DEDUP said first */
    int tpl;           /* VALUES index it was made from, -1: raw bytes */
    int cmd;           /* the first record with its key: where the command's state is kept */
    uint64_t tok;      /* the engine's token for it (request ids, COMMAND token, cookies) */
    uint64_t holder;   /* (on recs[cmd]) request id holding the DEDUP key; 0 free, ELSEWHERE */
    int cmd_results;   /* (on recs[cmd]) results persisted for the command, across copies */
    bool waiting;      /* a full core refused its COMMAND: not handed over yet */
    bool hard_refused; /* a COMMAND send failed for good */
    uint64_t token;    /* from its COMMAND */
    uint32_t core;
    int64_t handed_ms;
    uint64_t main_cookie; /* the cookie of its result / forward (every retry the same) */
    int result_tries;     /* result records produced (tries) */
    int results, forwards, dlqs, dlqs_produced;
    int64_t expires_ms; /* the deadline the record was given (0: not parsed) */
    bool is_json;
    bool late_dedup; /* a DEDUP was sent at or past the deadline: a claim, never a delivery */
    char tp[COMMAND_TRACEPARENT_LEN + 1]; /* traceparent the engine must carry ("" none) */
} frec_t;

/* the DEDUP key is held by a reader this driver does not model (another pod) */
#define ELSEWHERE UINT64_MAX
/* a delivery cookie is the command's token << 2 | part (command_flow.c) */
#define COOKIE_TOKEN(c) ((c) >> 2)

typedef struct {
    uint32_t id;
    char pod[16];
    uint64_t epoch;
    bool for_good; /* stopped by active=false or an unconfirmed claim, not by the bridge's stop */
    bool takeover, paused, stopped, destroyed, eof_after_last, done_sent;
    bool yielded, yield_ended; /* stopped for a record of its own pod, alive; resumed or ended */
    int prefetch_left;
    int64_t stored, last_offset;
    int records;
    int32_t partition;
    bool draining; /* replaced by a reader of its pod's new partition after a count change */
    uint64_t drain_from_ms;
} freader_t;

typedef enum {
    K_RESULT,
    K_DLQ,
    K_FORWARD,
    K_RELAY /* the result of an earlier bridge's command: rec is its index in G.relayed */
} kind_t;

typedef struct {
    uint64_t cookie;
    int rec;
    kind_t kind;
} fcookie_t;

typedef struct {
    uint64_t id;
    int rec; /* core: the record; lookup/dedup: -1 */
} fq_t;

static struct {
    const uint8_t *p;
    size_t left;
    command_flow_t *flow;
    uint64_t now_ms;
    frec_t recs[MAX_RECORDS];
    int nrecs;
    freader_t readers[MAX_READERS];
    int nreaders;
    fcookie_t out[MAX_PENDING];
    int nout;
    fq_t lookups[MAX_PENDING], dedups[MAX_PENDING], cores[MAX_PENDING];
    int nlookups, ndedups, ncores;
    /* tokens of commands finished while (or after) their core held them: a RESULT for them is
     * late and must give no second result */
    fq_t lost[MAX_PENDING];
    int nlost;
    int relayed[MAX_RECORDS]; /* persisted copies of RESULT relay-<n> */
    uint64_t core_inst[2], reg_inst, next_inst;
    int head_waiting[2]; /* the record a full core refused first, -1: none */
    bool in_takeover_stop;
    bool in_takeover;       /* a TAKEOVER is being handed over: a reader started is its claim */
    bool in_repartition;    /* a new partition count is being handed over */
    int32_t partitions;     /* of commands-down, as the engine was told */
    const char *owner_pod;  /* an OWNER is being handed over naming this pod, live (or NULL) */
    uint64_t pending_epoch; /* of the TAKEOVER being handed over */
    /* questions answered already: the registry answers every copy of a question re-sent */
    fq_t old_lookups[MAX_PENDING], old_dedups[MAX_PENDING];
    int nold_lookups, nold_dedups;
    int64_t next_offset;
    uint64_t tokens; /* the engine's last token: one per record taken, one per relayed RESULT */
    int relays;
    bool fail_produce, reenter, stopping;
    int fail_core; /* 0; 1: the next COMMAND meets a full core; 2: fails for good */
    uint8_t reenter_pick;
} G;

static uint8_t byte(void)
{
    if (!G.left)
        return 0;
    G.left--;
    return *G.p++;
}

/* ---- bookkeeping ----------------------------------------------------------------------- */

static freader_t *reader_by_id(uint32_t id)
{
    for (int i = 0; i < G.nreaders; i++)
        if (G.readers[i].id == id)
            return &G.readers[i];
    return NULL;
}

static int rec_by_key(const char *key)
{
    for (int i = 0; i < G.nrecs; i++)
        if (strcmp(G.recs[i].key, key) == 0)
            return i;
    return -1;
}

/* The record (copy) an effect is about: by the engine's token, which must carry key. */
static int rec_by_token(uint64_t tok, const char *key)
{
    for (int i = 0; i < G.nrecs; i++)
        if (G.recs[i].tok == tok) {
            CHECK(strcmp(G.recs[i].key, key) == 0);
            return i;
        }
    CHECK(!"an effect for a token no record has");
    return -1;
}

static int outputs(const frec_t *r)
{
    return r->results + r->forwards;
}

/* Its final outcome is persisted, or it needs none. */
static bool final(const frec_t *r)
{
    if (r->skip || (r->dup_told && !r->core_sent))
        return true;
    return outputs(r) == 1 && (r->dlqs_produced == 0 || r->dlqs == 1);
}

static void q_add(fq_t *q, int *n, uint64_t id, int rec)
{
    for (int i = 0; i < *n; i++)
        if (q[i].id == id)
            return; /* asked again: one question */
    CHECK(*n < MAX_PENDING);
    q[(*n)++] = (fq_t){id, rec};
}

static fq_t q_take(fq_t *q, int *n, int i)
{
    fq_t e = q[i];
    q[i] = q[--*n];
    return e;
}

static void q_remember(fq_t *q, int *n, fq_t e)
{
    if (*n < MAX_PENDING)
        q[(*n)++] = e;
}

/* An answer answers every copy of its question. */
static void q_drop_id(fq_t *q, int *n, uint64_t id)
{
    for (int i = 0; i < *n;)
        if (q[i].id == id)
            q_take(q, n, i);
        else
            i++;
}

static void q_drop_rec(fq_t *q, int *n, int rec)
{
    for (int i = 0; i < *n;)
        if (q[i].rec == rec)
            q_take(q, n, i);
        else
            i++;
}

static int relays_open(void)
{
    int n = 0;
    for (int i = 0; i < G.relays; i++)
        n += G.relayed[i] == 0;
    return n;
}

static void check_memory(void)
{
    size_t inflight = command_flow_inflight(G.flow);
    CHECK(inflight <= (size_t)(MAX_INFLIGHT + PREFETCH * G.nreaders + relays_open()));
    if (inflight >= MAX_INFLIGHT)
        for (int i = 0; i < G.nreaders; i++) {
            const freader_t *r = &G.readers[i];
            CHECK(r->paused || r->stopped || r->destroyed);
        }
}

/* ---- recording ops with the invariants ------------------------------------------------- */

static void deliver_at(int i, bool ok);

static int op_produce(void *arg, const command_flow_record_t *rec, uint64_t cookie)
{
    (void)arg;
    if (G.reenter && G.nout) { /* the shell serves reports while the queue is full */
        G.reenter = false;
        deliver_at(G.reenter_pick % G.nout, G.reenter_pick & 0x80);
    }
    char key[COMMAND_ID_MAX + COMMAND_POD_MAX + 1];
    env_str_copy(rec->key, key, sizeof(key));
    TRACE("  produce %s key %s cookie %llu%s\n", rec->topic, key, (unsigned long long)cookie,
          G.fail_produce ? " (refused)" : "");
    int r = -1;
    kind_t kind;
    if (strcmp(rec->topic, "commands-down") == 0) {
        command_record_t f;
        char why[128];
        CHECK(command_record_parse((const char *)rec->value.ptr, rec->value.len, 1, 1, &f, why,
                                   sizeof(why)) == 0);
        CHECK(strcmp(f.target_pod, key) == 0);
        CHECK(rec->partition == hash_kafka_partition(key, strlen(key), G.partitions));
        r = rec_by_token(COOKIE_TOKEN(cookie), f.command_id);
        /* never back to the reader it came from: that pod's partition is the one it reads */
        CHECK(strcmp(f.target_pod, G.readers[G.recs[r].reader].pod) != 0);
        kind = K_FORWARD;
    } else {
        CHECK(strcmp(rec->topic, "command-results") == 0 ||
              strcmp(rec->topic, "commands-dlq") == 0);
        kind = strcmp(rec->topic, "commands-dlq") == 0 ? K_DLQ : K_RESULT;
        r = rec_by_key(key);
        if (strncmp(key, "relay-", 6) == 0) { /* a RESULT for an earlier bridge's token */
            CHECK(kind == K_RESULT && cookie != 0 && r < 0);
            int n = (int)strtol(key + 6, NULL, 10);
            CHECK(n >= 0 && n < G.relays && G.relayed[n] == 0);
            if (G.fail_produce) {
                G.fail_produce = false;
                return -5;
            }
            CHECK(G.nout < MAX_PENDING);
            G.out[G.nout++] = (fcookie_t){cookie, n, K_RELAY};
            return 0;
        }
        r = rec_by_token(COOKIE_TOKEN(cookie), key);
        if (kind == K_DLQ)
            G.recs[r].dlqs_produced++;
    }
    frec_t *fr = &G.recs[r];
    CHECK(cookie != 0);
    /* content-type on every record; the command's traceparent when it has one */
    const char *ctype = NULL, *tp = NULL;
    char tpbuf[80] = "";
    for (size_t i = 0; rec->headers && i < rec->headers->count; i++) {
        if (env_str_eq(rec->headers->items[i].name, "content-type"))
            ctype = (const char *)rec->headers->items[i].value.ptr;
        if (env_str_eq(rec->headers->items[i].name, "traceparent")) {
            env_str_copy(rec->headers->items[i].value, tpbuf, sizeof(tpbuf));
            tp = tpbuf;
        }
    }
    CHECK(ctype);
    if (kind == K_DLQ && !fr->is_json)
        CHECK(strncmp(ctype, "application/octet-stream", 24) == 0);
    else
        CHECK(strncmp(ctype, "application/json", 16) == 0);
    CHECK(fr->tp[0] ? tp && strcmp(tp, fr->tp) == 0 : tp == NULL);
    /* a result (decided here or by a core) holds the command's DEDUP key: no second result from
     * another reader of the same command, which finds the key taken */
    if (kind != K_FORWARD && fr->readable)
        CHECK(fr->first_told && G.recs[fr->cmd].holder == fr->tok);
    /* nothing more once a final outcome is persisted (but a DLQ copy not persisted yet) */
    CHECK(kind == K_DLQ ? fr->dlqs == 0 : outputs(fr) == 0);
    CHECK(!fr->skip);
    if (kind != K_DLQ) { /* never a second result: the one output, however often retried */
        CHECK(fr->main_cookie == 0 || fr->main_cookie == cookie);
        fr->main_cookie = cookie;
    }
    if (kind == K_RESULT) {
        fr->result_tries++;
        /* a result the bridge decided about the core: a full core is never the reason */
        const char *v = (const char *)rec->value.ptr;
        size_t vl = rec->value.len;
        if (memmem(v, vl, "core did not take the command", 29))
            CHECK(fr->hard_refused);
        if (memmem(v, vl, "stayed full until the bridge stopped", 36))
            CHECK(G.stopping && fr->waiting);
        for (int c = 0; c < 2; c++)
            if (G.head_waiting[c] == r)
                G.head_waiting[c] = -1;
        /* finished (core answered, the backstop, a restart): a RESULT for it is late now */
        for (int i = 0; i < G.ncores; i++)
            if (G.cores[i].rec == r)
                q_remember(G.lost, &G.nlost, G.cores[i]);
        q_drop_rec(G.cores, &G.ncores, r);
    }
    for (int i = 0; i < G.nout; i++)
        CHECK(G.out[i].cookie != cookie); /* one outstanding record per cookie */
    if (G.fail_produce) {
        G.fail_produce = false;
        return -5; /* refused: no report will come */
    }
    CHECK(G.nout < MAX_PENDING);
    G.out[G.nout++] = (fcookie_t){cookie, r, kind};
    return 0;
}

static int op_send_registry(void *arg, const envelope_t *env)
{
    (void)arg;
    TRACE("  registry %s %llu\n", envelope_type_name(env->type),
          (unsigned long long)(env->type == ENV_LOOKUP  ? env->u.lookup.request_id
                               : env->type == ENV_DEDUP ? env->u.dedup.request_id
                                                        : env->u.takeover_done.epoch));
    if (env->type == ENV_ANNOUNCE) {
        CHECK(env_str_eq(env->u.announce.stage, "bridge") && env->u.announce.instance == 7777);
    } else if (env->type == ENV_LOOKUP) {
        q_add(G.lookups, &G.nlookups, env->u.lookup.request_id, -1);
    } else if (env->type == ENV_DEDUP) {
        char id[COMMAND_ID_MAX + 1];
        env_str_copy(env->u.dedup.command_id, id, sizeof(id));
        int r = rec_by_token(env->u.dedup.request_id, id);
        CHECK(G.recs[r].readable); /* a made-up id has no key to take */
        frec_t *fr = &G.recs[r];
        int64_t left = fr->expires_ms > (int64_t)G.now_ms ? fr->expires_ms - (int64_t)G.now_ms : 0;
        CHECK(env->u.dedup.ttl_ms >= (uint64_t)left + 120000 + 86400000);
        if (fr->expires_ms && (int64_t)G.now_ms >= fr->expires_ms)
            fr->late_dedup = true;
        q_add(G.dedups, &G.ndedups, env->u.dedup.request_id, r);
    } else {
        CHECK(env->type == ENV_TAKEOVER_DONE);
        char pod[16];
        env_str_copy(env->u.takeover_done.pod, pod, sizeof(pod));
        freader_t *fr = NULL;
        for (int i = 0; i < G.nreaders; i++) {
            freader_t *x = &G.readers[i];
            if (x->takeover && x->destroyed && x->for_good && !x->done_sent &&
                x->epoch == env->u.takeover_done.epoch && strcmp(x->pod, pod) == 0)
                fr = x;
        }
        /* stopped for good and destroyed (committed) first, with its epoch, once; never for a
         * reader only drained */
        CHECK(fr);
        fr->done_sent = true;
    }
    return 0;
}

static int op_send_core(void *arg, uint32_t index, const envelope_t *env)
{
    (void)arg;
    CHECK(index < 2);
    if (env->type == ENV_ANNOUNCE) {
        CHECK(env_str_eq(env->u.announce.stage, "bridge") && env->u.announce.index == 0 &&
              env->u.announce.instance == 7777);
        return 0;
    }
    CHECK(env->type == ENV_COMMAND);
    TRACE("  core %u COMMAND %llu%s\n", index, (unsigned long long)env->u.command.token,
          G.fail_core == 1   ? " (full)"
          : G.fail_core == 2 ? " (failed)"
                             : "");
    char id[COMMAND_ID_MAX + 1];
    env_str_copy(env->u.command.command_id, id, sizeof(id));
    int r = rec_by_token(env->u.command.token, id);
    frec_t *fr = &G.recs[r];
    CHECK(fr->first_told);                    /* only after DEDUP said first */
    CHECK(G.recs[fr->cmd].holder == fr->tok); /* by the copy holding the key */
    CHECK(!fr->core_sent);                    /* never delivered twice */
    CHECK(!fr->main_cookie);                  /* never after its result */
    /* the deadline read with the record; never handed over at or past it */
    CHECK(env->u.command.expires_at_ms == (uint64_t)fr->expires_ms);
    CHECK((int64_t)G.now_ms < fr->expires_ms && !fr->late_dedup);
    char ctp[80];
    env_str_copy(env->u.command.traceparent, ctp, sizeof(ctp));
    CHECK(strcmp(ctp, fr->tp) == 0);
    fr->token = env->u.command.token;
    fr->core = index;
    /* the command a full core refused first goes first */
    CHECK(G.head_waiting[index] < 0 || G.head_waiting[index] == r);
    if (G.fail_core == 1) {
        G.fail_core = 0;
        fr->waiting = true;
        G.head_waiting[index] = r;
        return -ENOBUFS;
    }
    if (G.fail_core == 2) {
        G.fail_core = 0;
        fr->hard_refused = true;
        return -EINVAL;
    }
    G.head_waiting[index] = -1;
    fr->waiting = false;
    fr->core_sent = true;
    fr->handed_ms = (int64_t)G.now_ms;
    q_add(G.cores, &G.ncores, env->u.command.token, r);
    return 0;
}

static void op_store_offset(void *arg, uint32_t reader, int64_t next)
{
    (void)arg;
    TRACE("  store reader %u next %lld\n", reader, (long long)next);
    freader_t *fr = reader_by_id(reader);
    CHECK(fr && !fr->destroyed);
    CHECK(next >= fr->stored && next <= fr->last_offset + 1);
    for (int i = 0; i < G.nrecs; i++)
        if (&G.readers[G.recs[i].reader] == fr && G.recs[i].offset < next)
            CHECK(final(&G.recs[i]));
    fr->stored = next;
}

static int op_reader_start(void *arg, uint32_t reader, const char *pod, int32_t partition,
                           bool takeover)
{
    (void)arg;
    CHECK(!reader_by_id(reader)); /* ids are never reused */
    CHECK(partition == hash_kafka_partition(pod, strlen(pod), G.partitions));
    CHECK(G.nreaders < MAX_READERS);
    uint64_t epoch = G.pending_epoch;
    freader_t *moved = NULL;
    if (G.in_repartition) {
        /* the pod's partition moved: the reader of the old one (same claim) drains it */
        for (int i = 0; i < G.nreaders; i++) {
            freader_t *x = &G.readers[i];
            if (x->takeover == takeover && !x->stopped && !x->draining &&
                strcmp(x->pod, pod) == 0) {
                CHECK(!moved && x->partition != partition);
                moved = x;
            }
        }
        CHECK(moved);
        moved->draining = true;
        moved->drain_from_ms = G.now_ms;
        epoch = moved->epoch;
    } else if (takeover && !G.in_takeover) {
        /* a takeover left to its pod that nobody ended: resumed with the same claim, once */
        CHECK(!G.stopping);
        freader_t *y = NULL;
        for (int i = 0; i < G.nreaders; i++) {
            freader_t *x = &G.readers[i];
            if (x->takeover && strcmp(x->pod, pod) == 0) {
                CHECK(x->stopped || x->destroyed); /* never two readers of one claim */
                if (x->yielded && !x->yield_ended)
                    y = x;
            }
        }
        CHECK(y);
        y->yield_ended = true;
        epoch = y->epoch;
    }
    freader_t *fr = &G.readers[G.nreaders++];
    memset(fr, 0, sizeof(*fr));
    fr->id = reader;
    snprintf(fr->pod, sizeof(fr->pod), "%s", pod);
    fr->takeover = takeover;
    fr->epoch = epoch;
    fr->last_offset = -1;
    fr->partition = partition;
    return 0;
}

static void op_reader_pause(void *arg, uint32_t reader, bool paused)
{
    (void)arg;
    freader_t *fr = reader_by_id(reader);
    CHECK(fr && !fr->destroyed && !fr->stopped && fr->paused != paused);
    fr->paused = paused;
    fr->prefetch_left = PREFETCH;
}

static void op_reader_stop(void *arg, uint32_t reader)
{
    (void)arg;
    freader_t *fr = reader_by_id(reader);
    CHECK(fr && !fr->destroyed && !fr->stopped);
    fr->stopped = true;
    if (G.owner_pod) { /* a record of its own pod, alive: left to it, no TAKEOVER_DONE */
        CHECK(fr->takeover && strcmp(fr->pod, G.owner_pod) == 0);
        fr->yielded = true;
        return;
    }
    /* an old partition after a count change: only once drained and the grace passed (a
     * takeover's also ends with its claim, or unconfirmed), never with a record not final */
    if (fr->draining && !G.stopping) {
        if (!fr->takeover)
            CHECK(fr->eof_after_last && G.now_ms >= fr->drain_from_ms + REPARTITION_GRACE);
        for (int i = 0; i < G.nrecs; i++)
            if (&G.readers[G.recs[i].reader] == fr && !fr->takeover)
                CHECK(final(&G.recs[i]));
        return;
    }
    /* by TAKEOVER active=false, or by a tick (a claim a restarted registry did not confirm) */
    fr->for_good = fr->takeover && !G.stopping;
    if (G.in_takeover_stop)
        CHECK(fr->takeover);
}

static void op_reader_destroy(void *arg, uint32_t reader)
{
    (void)arg;
    freader_t *fr = reader_by_id(reader);
    CHECK(fr && !fr->destroyed);
    fr->destroyed = true;
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

/* ---- events ---------------------------------------------------------------------------- */

static uint64_t now_us(void)
{
    return G.now_ms * 1000;
}

static void deliver_at(int i, bool ok)
{
    fcookie_t c = G.out[i];
    G.out[i] = G.out[--G.nout];
    TRACE("delivery %llu %s\n", (unsigned long long)c.cookie, ok ? "ok" : "failed");
    if (ok && c.kind == K_RELAY) {
        G.relayed[c.rec]++;
        CHECK(G.relayed[c.rec] == 1); /* persisted once */
    } else if (ok) {
        frec_t *r = &G.recs[c.rec];
        if (c.kind == K_DLQ)
            r->dlqs++;
        else if (c.kind == K_FORWARD)
            r->forwards++;
        else
            r->results++;
        CHECK(outputs(r) <= 1 && r->dlqs <= 1); /* one final outcome */
        if (c.kind == K_RESULT)                 /* one result per command, across its copies */
            CHECK(++G.recs[r->cmd].cmd_results == 1);
    }
    command_flow_on_delivery(G.flow, c.cookie, ok ? 0 : -1, now_us());
}

static const char *const VALUES[] = {
    "{\"command_id\":\"@\",\"cp_id\":\"CP-1\",\"action\":\"reset\"}",
    "{\"command_id\":\"@\",\"cp_id\":\"CP-2\",\"action\":\"reset\",\"ttl_ms\":1000}",
    "{\"command_id\":\"@\",\"cp_id\":\"CP-3\",\"action\":\"reset\",\"target_pod\":\"%\"}",
    "{\"command_id\":\"@\",\"cp_id\":\"CP-4\",\"action\":\"reset\",\"target_pod\":\"pod-x\"}",
    "{\"command_id\":\"@\",\"cp_id\":\"CP-5\",\"action\":\"reset\","
    "\"expires_at\":\"2000-01-01T00:00:00Z\"}",
    "{\"command_id\":\"@\",\"cp_id\":\"CP-6\",\"action\":\"reset\",\"hops\":3}",
    "{\"command_id\":\"@\",\"action\":\"reset\"}",
    "{not json",
    "[1,2]",
    "{\"command_id\":\"@\",\"cp_id\":\"CP-7\",\"action\":\"reset\",\"ttl_ms\":0}",
    "{\"command_id\":\"@\",\"cp_id\":\"CP-8\",\"action\":\"reset\",\"hops\":2,\"ttl_ms\":60000}",
    "{\"command_id\":\"@\",\"cp_id\":\"CP-9\",\"action\":\"reset\","
    "\"expires_at\":\"2099-01-01T00:00:00Z\"}",
    "{\"command_id\":\"@\",\"cp_id\":\"CP-1\",\"action\":\"reset\",\"ttl_ms\":5000,"
    "\"target_pod\":\"%\"}",
    "",
};
#define NVALUES (sizeof(VALUES) / sizeof(VALUES[0]))

/* The template with @ = a command id unique to this record, % = the reader's pod. */
static size_t expand(const char *tpl, const char *id, const char *pod, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *s = tpl; *s && n + 40 < outlen; s++) {
        const char *put = *s == '@' ? id : *s == '%' ? pod : NULL;
        if (put) {
            size_t k = strlen(put);
            memcpy(out + n, put, k);
            n += k;
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
    return n;
}

/* An earlier record with a readable command_id made from a template, picked by pick; -1: none. */
static int copy_source(uint8_t pick)
{
    int n = 0;
    for (int i = 0; i < G.nrecs; i++)
        n += G.recs[i].readable && G.recs[i].tpl >= 0 && G.recs[i].cmd == i;
    if (!n)
        return -1;
    n = pick % n;
    for (int i = 0; i < G.nrecs; i++)
        if (G.recs[i].readable && G.recs[i].tpl >= 0 && G.recs[i].cmd == i && n-- == 0)
            return i;
    return -1;
}

static void ev_record(void)
{
    uint8_t pick = byte(), kind = byte(), age = byte();
    freader_t *fr = G.nreaders ? &G.readers[pick % G.nreaders] : NULL;
    if (!fr || fr->stopped || fr->destroyed || G.nrecs >= MAX_RECORDS || G.stopping)
        return;
    if (fr->paused && fr->prefetch_left == 0)
        return; /* a paused partition hands over nothing more */
    char value[512], id[COMMAND_ID_MAX + 1];
    size_t len;
    /* kind >= 240: a copy of an earlier command, when there is one (records of the older seeds
     * with such a kind became copies; the others kept their meaning) */
    int tpl = kind % (NVALUES + 1), src = kind >= 240 ? copy_source(age) : -1;
    snprintf(id, sizeof(id), "f%d", G.nrecs);
    if (src >= 0) { /* the same command read again: same id and template, this reader's pod */
        tpl = G.recs[src].tpl;
        snprintf(id, sizeof(id), "%s", G.recs[src].key);
    }
    if (tpl == (int)NVALUES) { /* raw bytes */
        tpl = -1;
        len = byte() % 64;
        for (size_t i = 0; i < len; i++)
            value[i] = (char)byte();
    } else {
        len = expand(VALUES[tpl], id, fr->pod, value, sizeof(value));
    }
    int64_t ts = (int64_t)G.now_ms - (int64_t)age * 1000;
    int64_t offset = G.next_offset;
    /* what the engine will key its output by */
    command_record_t rec;
    char why[128];
    bool ok = command_record_parse(value, len, ts, DEFAULT_TTL, &rec, why, sizeof(why)) == 0;
    frec_t *r = &G.recs[G.nrecs];
    memset(r, 0, sizeof(*r));
    int32_t partition = fr->partition;
    r->cmd = G.nrecs;
    if (rec.command_id[0]) {
        if (strncmp(rec.command_id, "relay-", 6) == 0 ||
            strncmp(rec.command_id, "commands-down[", 14) == 0)
            return; /* raw bytes naming a relayed result or a made-up id: not told apart */
        snprintf(r->key, sizeof(r->key), "%s", rec.command_id);
        int first = rec_by_key(r->key);
        if (first >= 0) /* a copy (also raw bytes naming an id already read) */
            r->cmd = G.recs[first].cmd;
    } else {
        snprintf(r->key, sizeof(r->key), "commands-down[%d]@%lld", (int)partition,
                 (long long)offset);
    }
    r->reader = (uint32_t)(fr - G.readers);
    r->offset = offset;
    r->readable = rec.command_id[0] != '\0';
    r->tpl = tpl;
    r->tok = ++G.tokens; /* the engine takes it as a command: its next token */
    r->skip = ok && rec.target_pod[0] && strcmp(rec.target_pod, fr->pod) != 0;
    r->expires_ms = ok ? rec.expires_at_ms : 0;
    r->is_json = rec.is_json;
    /* its traceparent header: none, a valid one, or one the engine must not take */
    static const char *const TPS[] = {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                                      "garbage"};
    const char *tp = TPS[(kind >> 4) % 4];
    if (command_traceparent_valid(tp, strlen(tp)))
        snprintf(r->tp, sizeof(r->tp), "%s", tp);
    G.nrecs++;
    G.next_offset += 1 + age % 3;
    fr->last_offset = offset;
    fr->eof_after_last = false;
    fr->records++;
    if (fr->paused)
        fr->prefetch_left--;
    TRACE("record %s%s on reader %u @%lld: %.*s\n", r->key, src >= 0 ? " (a copy)" : "", fr->id,
          (long long)offset, (int)len, value);
    command_flow_on_record(G.flow, fr->id, offset, ts, value, len, env_str(tp), now_us());
}

static const char *const PODS[] = {"pod-b", "pod-c", "pod-d", "pod-a", ""};

static void owner_envelope(const envelope_t *env);

static void ev_owner(void)
{
    uint8_t pick = byte(), kind = byte();
    uint64_t id = 0xdead0000u + pick; /* nobody asked */
    if (kind % 6 == 5 && G.nold_lookups) {
        id = G.old_lookups[pick % G.nold_lookups].id; /* a late copy */
        q_drop_id(G.lookups, &G.nlookups, id);
    } else if (G.nlookups && kind % 6 != 5) {
        id = q_take(G.lookups, &G.nlookups, pick % G.nlookups).id;
        q_remember(G.old_lookups, &G.nold_lookups, (fq_t){id, -1});
    }
    envelope_t env = {.type = ENV_OWNER};
    env.u.owner.request_id = id;
    switch (kind % 5) {
    case 0:
        env.u.owner.pod = env_str("pod-a");
        env.u.owner.live = true;
        break;
    case 1:
        env.u.owner.pod = env_str(PODS[(kind >> 4) % 3]);
        env.u.owner.live = true;
        break;
    case 2:
        env.u.owner.pod = env_str("pod-b");
        break;
    default:
        env.u.owner.pod = env_str("");
        env.u.owner.live = kind & 0x80;
        break;
    }
    TRACE("OWNER %llu pod '%.*s' live %d\n", (unsigned long long)id, (int)env.u.owner.pod.len,
          env.u.owner.pod.ptr, env.u.owner.live);
    owner_envelope(&env);
}

/* A record's owner may be the pod of the takeover reader it came from: the reader stops then. */
static void owner_envelope(const envelope_t *env)
{
    static char pod[COMMAND_POD_MAX + 1];
    env_str_copy(env->u.owner.pod, pod, sizeof(pod));
    G.owner_pod = env->u.owner.live ? pod : NULL;
    CHECK(command_flow_on_envelope(G.flow, env, now_us()) == 0);
    G.owner_pod = NULL;
}

/* Any TAKEOVER for a pod, and a restarted registry for every pod, end a yield: the registry
 * confirms the claim (a reader starts) or ends it; it is never resumed afterwards. */
static void yields_end(const char *pod)
{
    for (int i = 0; i < G.nreaders; i++)
        if (G.readers[i].yielded && (!pod || strcmp(G.readers[i].pod, pod) == 0))
            G.readers[i].yield_ended = true;
}

static void dedup_answer(fq_t q, int kind)
{
    TRACE("DEDUP_RESULT %llu %s\n", (unsigned long long)q.id,
          kind == 2   ? "error"
          : kind == 0 ? "first"
                      : "duplicate");
    envelope_t env = {.type = ENV_DEDUP_RESULT};
    env.u.dedup_result.request_id = q.id;
    frec_t *r = q.rec >= 0 ? &G.recs[q.rec] : NULL;
    if (r && kind != 2) {
        /* the registry's key of the command: the first request to take it (here, or elsewhere
         * when kind says so and it is free) is first, asked again too; every other one is not */
        uint64_t *holder = &G.recs[r->cmd].holder;
        if (*holder == 0)
            *holder = kind == 0 ? q.id : ELSEWHERE;
        kind = *holder == q.id ? 0 : 1;
    }
    if (kind == 2) {
        env.u.dedup_result.status = -5;
    } else {
        env.u.dedup_result.first = kind == 0;
        /* the first answer decides (the engine leaves DEDUP then); later copies change nothing */
        if (r && !r->first_told && !r->dup_told)
            *(kind == 0 ? &r->first_told : &r->dup_told) = true;
    }
    CHECK(command_flow_on_envelope(G.flow, &env, now_us()) == 0);
}

static void ev_dedup(void)
{
    uint8_t pick = byte(), kind = byte();
    if ((kind & 0x80) && G.nold_dedups) { /* a late copy */
        fq_t q = G.old_dedups[pick % G.nold_dedups];
        q_drop_id(G.dedups, &G.ndedups, q.id);
        dedup_answer(q, kind % 3);
    } else if (G.ndedups) {
        fq_t q = q_take(G.dedups, &G.ndedups, pick % G.ndedups);
        q_remember(G.old_dedups, &G.nold_dedups, q);
        dedup_answer(q, kind % 3);
    } else {
        dedup_answer((fq_t){0xbeef0000u + pick, -1}, kind % 3); /* nobody asked */
    }
}

static const char *const STATUSES[] = {"accepted", "rejected", "ocpp_error",
                                       "timeout",  "invalid",  "unsupported"};

static void core_answer(uint64_t token, const char *id, const char *status)
{
    char value[256];
    snprintf(value, sizeof(value), "{\"command_id\":\"%s\",\"status\":\"%s\",\"reason\":\"r\"}", id,
             status);
    TRACE("RESULT %llu %s %s\n", (unsigned long long)token, id, status);
    envelope_t env = {.type = ENV_RESULT};
    env.u.result.token = token;
    env.u.result.command_id = env_str(id);
    env.u.result.status = env_str(status);
    env.u.result.value = (env_bin_t){(const uint8_t *)value, strlen(value)};
    CHECK(command_flow_on_envelope(G.flow, &env, now_us()) == 0);
}

static void ev_result(void)
{
    uint8_t pick = byte(), kind = byte();
    const char *status = STATUSES[kind % 6];
    if (G.ncores && !(kind & 0x80)) {
        fq_t q = q_take(G.cores, &G.ncores, pick % G.ncores);
        core_answer(q.id, G.recs[q.rec].key, status);
        q_remember(G.lost, &G.nlost, q);   /* answered: another RESULT for it is late */
    } else if (G.nlost && (kind & 0x40)) { /* late: its command already has its result */
        fq_t q = G.lost[pick % G.nlost];
        int before = G.recs[q.rec].result_tries;
        core_answer(q.id, G.recs[q.rec].key, status);
        CHECK(G.recs[q.rec].result_tries == before); /* no second result */
    } else if (G.relays < MAX_RECORDS) { /* a token of an earlier bridge: below the first */
        char id[32];
        snprintf(id, sizeof(id), "relay-%d", G.relays++);
        G.tokens++; /* the engine tracks it as a command of its own */
        core_answer(kind & 0x20 ? 0 : 1000 - 1 - pick, id, status);
    }
}

/* ANNOUNCE of a core (the same instance, one started long ago, a new one: a restart) or of the
 * registry. A core's new instance finishes every command it held (for the first instance heard,
 * those handed over before it started) at once, with a result. */
static void ev_announce(void)
{
    uint8_t pick = byte(), kind = byte();
    envelope_t env = {.type = ENV_ANNOUNCE};
    uint64_t inst;
    if (pick % 5 == 4) {
        inst = kind % 3 == 0 ? G.reg_inst : ++G.next_inst;
        env.u.announce.stage = env_str("registry");
        env.u.announce.instance = inst;
        TRACE("ANNOUNCE registry %llu\n", (unsigned long long)inst);
        CHECK(command_flow_on_envelope(G.flow, &env, now_us()) == 0);
        if (inst && G.reg_inst && inst != G.reg_inst)
            yields_end(NULL);
        if (inst)
            G.reg_inst = inst;
        return;
    }
    uint32_t idx = pick % 5 == 3 ? 2 : pick & 1; /* 2: no such core */
    switch (kind % 3) {
    case 0:
        inst = idx < 2 ? G.core_inst[idx] : 1;
        break;
    case 1:
        inst = (uint64_t)(T0_MS - 3600000) * 1000 + pick; /* started long ago */
        break;
    default:
        inst = (G.now_ms + 1) * 1000 + (++G.next_inst % 1000); /* just started */
        break;
    }
    env.u.announce.stage = env_str("core");
    env.u.announce.index = idx;
    env.u.announce.instance = inst;
    TRACE("ANNOUNCE core %u %llu\n", idx, (unsigned long long)inst);
    if (idx >= 2) {
        CHECK(command_flow_on_envelope(G.flow, &env, now_us()) == -EINVAL);
        return;
    }
    uint64_t prev = G.core_inst[idx];
    int lost[MAX_PENDING], nl = 0, tries[MAX_PENDING];
    if (inst && inst != prev)
        for (int i = 0; i < G.ncores; i++) {
            const frec_t *r = &G.recs[G.cores[i].rec];
            if (r->core == idx && (prev || r->handed_ms < (int64_t)(inst / 1000))) {
                tries[nl] = r->result_tries;
                lost[nl++] = G.cores[i].rec;
            }
        }
    CHECK(command_flow_on_envelope(G.flow, &env, now_us()) == 0);
    if (inst)
        G.core_inst[idx] = inst;
    for (int i = 0; i < nl; i++)
        CHECK(G.recs[lost[i]].result_tries > tries[i]); /* finished at once */
}

static void ev_delivery(void)
{
    uint8_t pick = byte(), ok = byte();
    if (G.nout)
        deliver_at(pick % G.nout, ok % 4 != 0);
}

static void ev_takeover(void)
{
    uint8_t pick = byte(), epoch = byte();
    envelope_t env = {.type = ENV_TAKEOVER};
    env.u.takeover.pod = env_str(PODS[pick % 5]);
    env.u.takeover.epoch = epoch;
    env.u.takeover.active = !(pick & 0x80);
    if (env.u.takeover.active && G.nreaders >= MAX_READERS)
        return; /* the driver keeps every reader it saw: room for this many claims */
    TRACE("TAKEOVER %s epoch %u active %d\n", PODS[pick % 5], epoch, env.u.takeover.active);
    G.pending_epoch = epoch;
    G.in_takeover_stop = !env.u.takeover.active;
    G.in_takeover = true;
    yields_end(PODS[pick % 5]);
    CHECK(command_flow_on_envelope(G.flow, &env, now_us()) == 0);
    G.in_takeover = G.in_takeover_stop = false;
    if (env.u.takeover.active) /* a repeated claim keeps the reader with the new epoch */
        for (int i = 0; i < G.nreaders; i++) {
            freader_t *fr = &G.readers[i];
            if (fr->takeover && !fr->stopped && strcmp(fr->pod, PODS[pick % 5]) == 0)
                fr->epoch = epoch;
        }
}

/* The partition count of commands-down changes (or is told again): every reader whose pod's
 * partition moved gets a reader of the new one at once, the old one draining. */
static void ev_partitions(void)
{
    static const int32_t COUNTS[] = {PARTITIONS, 5, 8, 16, 128};
    int32_t n = COUNTS[byte() % 5];
    int live = 0;
    for (int i = 0; i < G.nreaders; i++)
        live += !G.readers[i].stopped && !G.readers[i].draining;
    if (G.nreaders + live + 64 > MAX_READERS)
        return; /* the driver keeps every reader it saw (64: room for takeovers and resumes) */
    TRACE("partitions %d\n", (int)n);
    /* back to a partition still draining: that reader reads on for its pod, no new one */
    for (int i = 0; i < G.nreaders; i++) {
        freader_t *x = &G.readers[i];
        if (x->stopped || x->draining ||
            x->partition == hash_kafka_partition(x->pod, strlen(x->pod), n))
            continue;
        for (int j = 0; j < G.nreaders; j++) {
            freader_t *y = &G.readers[j];
            if (y->draining && !y->stopped && y->takeover == x->takeover &&
                strcmp(y->pod, x->pod) == 0 &&
                y->partition == hash_kafka_partition(y->pod, strlen(y->pod), n)) {
                y->draining = false;
                y->epoch = x->epoch;
                x->draining = true;
                x->drain_from_ms = G.now_ms;
                break;
            }
        }
    }
    G.partitions = n;
    G.in_repartition = true;
    CHECK(command_flow_on_partitions(G.flow, n, now_us()) == 0);
    G.in_repartition = false;
    for (int i = 0; i < G.nreaders; i++) { /* every pod read is read at its new partition */
        const freader_t *fr = &G.readers[i];
        if (!fr->stopped && !fr->draining)
            CHECK(fr->partition == hash_kafka_partition(fr->pod, strlen(fr->pod), n));
    }
}

static void ev_eof(void)
{
    uint8_t pick = byte();
    freader_t *fr = G.nreaders ? &G.readers[pick % G.nreaders] : NULL;
    if (!fr || fr->stopped || fr->destroyed)
        return;
    fr->eof_after_last = true;
    TRACE("eof reader %u\n", fr->id);
    command_flow_on_eof(G.flow, fr->id);
}

static void tick(void)
{
    TRACE("tick %llu\n", (unsigned long long)G.now_ms);
    uint64_t next = command_flow_tick(G.flow, now_us());
    CHECK(next == 0 || next >= now_us());
}

static void ev_tick(void)
{
    uint8_t scale = byte(), amount = byte();
    static const uint64_t SCALE[] = {1, 10, 1000, 60000};
    G.now_ms += amount * SCALE[scale % 4];
    tick();
}

/* ---- endings --------------------------------------------------------------------------- */

/* DEDUPs answered first, cores accepted, every record delivered. */
static void answer_all(void)
{
    while (G.ndedups)
        dedup_answer(q_take(G.dedups, &G.ndedups, 0), 0);
    while (G.ncores) {
        fq_t q = q_take(G.cores, &G.ncores, 0);
        core_answer(q.id, G.recs[q.rec].key, "accepted");
    }
    while (G.nout)
        deliver_at(0, true);
}

/* Every question answered and every record delivered, in far-future ticks, until nothing is
 * left: then every record has exactly one final outcome. */
static void drain(void)
{
    G.fail_produce = G.reenter = false;
    G.fail_core = 0;
    for (int round = 0;; round++) {
        CHECK(round < 200); /* the engine settles: nothing waits for ever */
        for (int i = 0; i < G.nreaders; i++)
            if (!G.readers[i].stopped && !G.readers[i].destroyed) {
                G.readers[i].eof_after_last = true;
                command_flow_on_eof(G.flow, G.readers[i].id);
            }
        while (G.nlookups) {
            fq_t q = q_take(G.lookups, &G.nlookups, 0);
            envelope_t env = {.type = ENV_OWNER};
            env.u.owner.request_id = q.id;
            env.u.owner.pod = env_str(q.id % 2 ? "pod-b" : "pod-a");
            env.u.owner.live = true;
            owner_envelope(&env);
        }
        answer_all();
        G.now_ms += 3600000;
        tick();
        bool stopped_left = false; /* stopped readers not destroyed yet */
        for (int i = 0; i < G.nreaders; i++)
            stopped_left |= G.readers[i].stopped && !G.readers[i].destroyed;
        if (!command_flow_inflight(G.flow) && !G.nout && !G.nlookups && !G.ndedups && !G.ncores &&
            !stopped_left)
            break;
    }
    for (int i = 0; i < G.nrecs; i++) {
        const frec_t *r = &G.recs[i];
        const freader_t *fr = &G.readers[r->reader];
        if (fr->stopped) {
            CHECK(outputs(r) <= 1);
            continue;
        }
        /* exactly one final outcome: none when not ours or a duplicate, else one persisted */
        if (r->skip || (r->dup_told && !r->core_sent))
            CHECK(outputs(r) == 0);
        else
            CHECK(outputs(r) == 1);
        CHECK(final(r));
    }
    for (int i = 0; i < G.nreaders; i++) {
        const freader_t *fr = &G.readers[i];
        if (!fr->stopped && fr->records)
            CHECK(fr->stored == fr->last_offset + 1);
        /* drained takeovers read on: never done, never destroyed */
        if (fr->takeover && !fr->stopped)
            CHECK(!fr->done_sent && !fr->destroyed);
        if (fr->for_good)
            CHECK(fr->destroyed && fr->done_sent);
        /* a count change never leaves a pod's new partition unread */
        if (!fr->takeover && !fr->stopped && !fr->draining)
            CHECK(fr->partition == hash_kafka_partition("pod-a", 5, G.partitions));
    }
    for (int i = 0; i < G.relays; i++)
        CHECK(G.relayed[i] == 1); /* every RESULT of an earlier bridge persisted, once */
    /* exactly one result per command whose key a copy here took; none when taken elsewhere */
    for (int i = 0; i < G.nrecs; i++) {
        const frec_t *r = &G.recs[i];
        if (r->cmd == i && r->readable && r->holder)
            CHECK(r->cmd_results == (r->holder == ELSEWHERE ? 0 : 1));
    }
    /* the registry ends every takeover left: each reader goes with TAKEOVER_DONE; a takeover
     * left to its pod ends without a reader, and without TAKEOVER_DONE */
    for (int i = 0; i < G.nreaders; i++) {
        freader_t *fr = &G.readers[i];
        if (!fr->takeover || (fr->stopped && !(fr->yielded && !fr->yield_ended)))
            continue;
        envelope_t env = {.type = ENV_TAKEOVER};
        env.u.takeover.pod = env_str(fr->pod);
        env.u.takeover.epoch = fr->epoch;
        bool reading = !fr->stopped;
        G.in_takeover_stop = G.in_takeover = true;
        yields_end(fr->pod);
        CHECK(command_flow_on_envelope(G.flow, &env, now_us()) == 0);
        G.in_takeover_stop = G.in_takeover = false;
        if (reading)
            CHECK(fr->stopped && (fr->for_good || fr->draining));
    }
    int readers = G.nreaders;
    G.now_ms += 3600000;
    tick();
    CHECK(G.nreaders == readers); /* nothing resumes once ended */
    for (int i = 0; i < G.nreaders; i++)
        if (G.readers[i].takeover)
            CHECK(G.readers[i].destroyed &&
                  G.readers[i].done_sent == (!G.readers[i].yielded && !G.readers[i].draining));
}

/* stop: the shell drains its input and flushes, without ticks, then closes. The commands that
 * had a DEDUP or core question open are kept and finished; LOOKUP / PARKED ones are let go. */
static void stop(void)
{
    TRACE("stop\n");
    G.stopping = true;
    G.fail_produce = G.reenter = false; /* fail_core stays: a core still full at stop */
    for (int i = 0; i < G.ndedups; i++)
        G.recs[G.dedups[i].rec].must_finish = true;
    for (int i = 0; i < G.nrecs; i++) /* waiting for room at their core */
        if (G.recs[i].first_told && !G.recs[i].core_sent && !G.recs[i].hard_refused &&
            !G.recs[i].main_cookie)
            G.recs[i].must_finish = true;
    for (int i = 0; i < G.ncores; i++)
        G.recs[G.cores[i].rec].must_finish = true;
    command_flow_stop(G.flow, now_us());
    for (int i = 0; i < G.nreaders; i++)
        CHECK(G.readers[i].stopped || G.readers[i].destroyed);
    for (int round = 0; round < 4; round++) {
        G.nlookups = 0; /* answers for commands let go: ignored */
        answer_all();
    }
    command_flow_close(G.flow);
    CHECK(command_flow_inflight(G.flow) == 0);
    for (int i = 0; i < G.nreaders; i++)
        CHECK(G.readers[i].destroyed);
    for (int i = 0; i < G.nrecs; i++) {
        CHECK(outputs(&G.recs[i]) <= 1);
        if (G.recs[i].must_finish)
            CHECK(final(&G.recs[i]));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        trace = getenv("FLOW_TRACE") != NULL;
        log_set_level(trace ? LOG_DEBUG : LOG_ERROR);
        once = true;
    }
    memset(&G, 0, sizeof(G));
    G.head_waiting[0] = G.head_waiting[1] = -1;
    G.p = data;
    G.left = size;
    G.now_ms = T0_MS;
    G.tokens = 1000; /* cfg.first_token */
    G.partitions = PARTITIONS;
    command_flow_config_t cfg = {.pod_id = "pod-a",
                                 .commands_topic = "commands-down",
                                 .results_topic = "command-results",
                                 .dlq_topic = "commands-dlq",
                                 .core_count = 2,
                                 .default_ttl_ms = DEFAULT_TTL,
                                 .max_hops = 3,
                                 .park_backoff_ms = 500,
                                 .park_backoff_max_ms = 30000,
                                 .registry_timeout_ms = 3000,
                                 .dedup_ttl_ms = 86400000,
                                 .max_inflight = MAX_INFLIGHT,
                                 .core_grace_ms = 120000,
                                 .repartition_grace_ms = REPARTITION_GRACE,
                                 .first_token = 1000,
                                 .instance = 7777,
                                 .announce_interval_ms = 1000};
    G.flow = command_flow_new(&cfg, &OPS, NULL);
    CHECK(G.flow);
    CHECK(command_flow_start(G.flow, PARTITIONS, now_us()) == 0);
    bool stopped = false;
    while (G.left && !stopped) {
        uint8_t ev = byte();
        switch (ev % 13) {
        case 0:
        case 1:
            ev_record();
            break;
        case 2:
            ev_owner();
            break;
        case 3:
            ev_dedup();
            break;
        case 4:
            ev_result();
            break;
        case 5:
            ev_delivery();
            break;
        case 6:
            ev_takeover();
            break;
        case 7:
            ev_eof();
            break;
        case 8:
            ev_tick();
            break;
        case 9:
            if (ev & 0x10)
                G.fail_produce = true;
            else
                G.fail_core = ev & 0x20 ? 2 : 1; /* failed for good, or a full core */
            break;
        case 10:
            if (ev >= 0xf0) {
                ev_partitions();
                break;
            }
            G.reenter = true;
            G.reenter_pick = byte();
            break;
        case 11:
            if (ev >= 0xf0) {
                stop();
                stopped = true;
            } else {
                tick();
            }
            break;
        case 12:
            ev_announce();
            break;
        }
        check_memory();
    }
    if (!stopped)
        drain();
    command_flow_destroy(&G.flow);
    return 0;
}
