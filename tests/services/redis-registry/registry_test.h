/* registry_test.h: what the registry engines' unit tests share: an effect recorder (every
 * envelope an engine sends, copied) and builders for Redis replies and batches. Header only:
 * each test_*.c is its own binary. */
#ifndef REGISTRY_TEST_H
#define REGISTRY_TEST_H

#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "envelope.h"
#include "registry_batch.h"
#include "registry_logic.h"

#define TO_BRIDGE UINT32_MAX
#define TO_EDGE   (UINT32_MAX - 1)
#define MAX_SENT  256

/* One envelope an engine sent, with the fields the tests look at. */
typedef struct {
    envelope_type_t type;
    uint32_t to; /* core index, or TO_BRIDGE, or TO_EDGE */
    char edge[32];
    char identity[64];
    char text[160]; /* by_pod, previous_pod, pod, command id, ce_id, tag status, record */
    uint64_t conn_id, epoch, request_id;
    int32_t status;
    bool flag; /* first, live, busy, active */
    uint32_t queued;
} sent_t;

typedef struct {
    sent_t sent[MAX_SENT];
    size_t n;
    int expired; /* lease_expired calls */
} recorder_t;

static inline void copy_str(char *out, size_t outlen, env_str_t s)
{
    env_str_copy(s, out, outlen);
}

static inline int record(recorder_t *rec, uint32_t to, const envelope_t *env)
{
    ck_assert_uint_lt(rec->n, MAX_SENT);
    sent_t *s = &rec->sent[rec->n++];
    memset(s, 0, sizeof(*s));
    s->type = env->type;
    s->to = to;
    switch (env->type) {
    case ENV_REGISTERED:
        copy_str(s->identity, sizeof(s->identity), env->u.registered.identity);
        copy_str(s->text, sizeof(s->text), env->u.registered.previous_pod);
        s->conn_id = env->u.registered.conn_id;
        s->epoch = env->u.registered.epoch;
        s->status = env->u.registered.status;
        break;
    case ENV_SUPERSEDED:
        copy_str(s->identity, sizeof(s->identity), env->u.superseded.identity);
        copy_str(s->text, sizeof(s->text), env->u.superseded.by_pod);
        s->conn_id = env->u.superseded.conn_id;
        s->epoch = env->u.superseded.epoch;
        break;
    case ENV_OWNER:
        copy_str(s->identity, sizeof(s->identity), env->u.owner.identity);
        copy_str(s->text, sizeof(s->text), env->u.owner.pod);
        s->request_id = env->u.owner.request_id;
        s->epoch = env->u.owner.epoch;
        s->flag = env->u.owner.live;
        s->status = env->u.owner.status;
        break;
    case ENV_DEDUP_RESULT:
        copy_str(s->text, sizeof(s->text), env->u.dedup_result.command_id);
        s->request_id = env->u.dedup_result.request_id;
        s->flag = env->u.dedup_result.first;
        s->status = env->u.dedup_result.status;
        break;
    case ENV_REGISTRY_BUSY:
        s->flag = env->u.registry_busy.busy;
        s->queued = env->u.registry_busy.queued;
        s->status = env->u.registry_busy.redis_up;
        break;
    case ENV_TAKEOVER:
        copy_str(s->text, sizeof(s->text), env->u.takeover.pod);
        s->epoch = env->u.takeover.epoch;
        s->flag = env->u.takeover.active;
        break;
    case ENV_TAG_INFO:
        copy_str(s->identity, sizeof(s->identity), env->u.tag_info.id_tag);
        copy_str(s->text, sizeof(s->text), env->u.tag_info.status);
        s->request_id = env->u.tag_info.request_id;
        s->flag = env->u.tag_info.found;
        s->status = env->u.tag_info.error;
        s->epoch = env->u.tag_info.expires_at_ms;
        break;
    case ENV_TXID_RANGE: /* epoch: first, queued: count */
        s->request_id = env->u.txid_range.request_id;
        s->epoch = env->u.txid_range.first;
        s->queued = env->u.txid_range.count;
        s->status = env->u.txid_range.error;
        break;
    case ENV_TXID_CLAIMED: /* epoch: the id */
        s->request_id = env->u.txid_claimed.request_id;
        s->epoch = env->u.txid_claimed.id;
        s->flag = env->u.txid_claimed.first;
        s->status = env->u.txid_claimed.error;
        break;
    case ENV_CRED:
        copy_str(s->identity, sizeof(s->identity), env->u.cred.identity);
        snprintf(s->text, sizeof(s->text), "%.*s", (int)env->u.cred.record.len,
                 (const char *)env->u.cred.record.ptr);
        s->epoch = env->u.cred.generation;
        break;
    case ENV_CRED_SYNC:
        s->epoch = env->u.cred_sync.generation;
        s->queued = (uint32_t)env->u.cred_sync.count;
        s->flag = env->u.cred_sync.done;
        break;
    case ENV_EVENT:
        copy_str(s->identity, sizeof(s->identity), env->u.event.key);
        for (size_t i = 0; i < env->u.event.headers.count; i++) {
            char name[32];
            copy_str(name, sizeof(name), env->u.event.headers.items[i].name);
            if (strcmp(name, "ce_id") == 0)
                copy_str(s->text, sizeof(s->text), env->u.event.headers.items[i].value);
        }
        break;
    default:
        break;
    }
    return 0;
}

static inline int rec_to_core(void *arg, uint32_t core, const envelope_t *env)
{
    return record(arg, core, env);
}

static inline int rec_to_bridge(void *arg, const envelope_t *env)
{
    return record(arg, TO_BRIDGE, env);
}

static inline int rec_to_edge(void *arg, const char *edge_id, const envelope_t *env)
{
    recorder_t *rec = arg;
    int rc = record(rec, TO_EDGE, env);
    snprintf(rec->sent[rec->n - 1].edge, sizeof(rec->sent[0].edge), "%s", edge_id);
    return rc;
}

/* ---- replies ---------------------------------------------------------------------------- */

static inline registry_reply_t *S(const char *s)
{
    return registry_reply_text(REGISTRY_REPLY_STRING, s, strlen(s));
}

static inline registry_reply_t *I(long long v)
{
    return registry_reply_int(v);
}

static inline registry_reply_t *E(const char *s)
{
    return registry_reply_text(REGISTRY_REPLY_ERROR, s, strlen(s));
}

static inline registry_reply_t *NIL(void)
{
    return registry_reply_nil();
}

/* An array of n replies (taken). */
static inline registry_reply_t *A(size_t n, ...)
{
    registry_reply_t *a = registry_reply_array(n);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        a->element[i] = va_arg(ap, registry_reply_t *);
    va_end(ap);
    return a;
}

/* Each test file gives its engine's reply handler, at its time. */
static int test_replies(const registry_reply_t *const *replies, size_t n);

/* Hands n replies (taken) to the engine under test; its result. */
static inline int feed(size_t n, ...)
{
    registry_reply_t *r[64];
    ck_assert_uint_le(n, 64);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r[i] = va_arg(ap, registry_reply_t *);
    va_end(ap);
    int rc = test_replies((const registry_reply_t *const *)r, n);
    for (size_t i = 0; i < n; i++)
        registry_reply_destroy(&r[i]);
    return rc;
}

/* ---- batches ---------------------------------------------------------------------------- */

/* b, checked to hold expect commands (NULL expected for 0). */
static inline const registry_batch_t *expect_batch(const registry_batch_t *b, size_t expect)
{
    if (expect == 0) {
        ck_assert_ptr_null(b);
        return NULL;
    }
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(registry_batch_size(b), expect);
    return b;
}

/* Argument j of command i, "" when out of range. */
static inline const char *arg(const registry_batch_t *b, size_t i, size_t j)
{
    if (!b || i >= registry_batch_size(b) || j >= registry_batch_argc(b, i))
        return "";
    return registry_batch_arg(b, i, j);
}

/* Command i as text, "SCRIPT<n> args..." or "CMD args...", for readable assertions. */
static inline const char *cmd(const registry_batch_t *b, size_t i)
{
    static char out[512];
    size_t at = 0;
    out[0] = '\0';
    if (!b || i >= registry_batch_size(b))
        return out;
    int script = registry_batch_script_of(b, i);
    if (script != REGISTRY_BATCH_PLAIN)
        at += (size_t)snprintf(out, sizeof(out), "%s ",
                               (const char *[]){"CLAIM", "REASSERT", "RELEASE", "LOOKUP", "SWEEP",
                                                "LOCK", "TAKEOVER", "CRED_USED", "TXID_BLOCK",
                                                "TXID_CLAIM"}[script]);
    for (size_t j = 0; j < registry_batch_argc(b, i) && at < sizeof(out); j++)
        at += (size_t)snprintf(out + at, sizeof(out) - at, "%s%s", j ? " " : "",
                               registry_batch_arg(b, i, j));
    return out;
}

/* The ce_id of the device.disconnected the registry emits for (kind, identity, epoch). */
static inline const char *disc_id(const char *kind, const char *identity, uint64_t epoch)
{
    static char ids[4][33];
    static int next;
    char *out = ids[next++ % 4];
    registry_disconnect_t d = {.identity = identity, .kind = kind, .epoch = epoch};
    registry_event_disconnect_id(&d, out);
    return out;
}

#endif
