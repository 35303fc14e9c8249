/* outbox: a PUSH socket with a bounded local queue. See outbox.h. */
#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "log.h"
#include "metrics.h"

typedef struct item {
    struct item *next;
    envelope_type_t type;
    size_t len;
    unsigned char data[];
} item_t;

struct outbox {
    zsock_t *push;
    char to[32];
    size_t max_bytes;
    item_t *head, *tail;
    size_t count, bytes;
    msgpack_sbuffer scratch;
    metrics_gauge_t *m_bytes;
    size_t pending; /* items a batch queued, not yet tried: all of the list when non-zero */
    struct outbox *next_dirty; /* in the batch's list of outboxes to flush at its end */
    bool dirty;
};

/* The batch of this process's loop (outbox_batch_begin/end). */
static bool batching;
static outbox_t *dirty_list;

static void dirty_unlink(outbox_t *self)
{
    for (outbox_t **p = &dirty_list; *p; p = &(*p)->next_dirty)
        if (*p == self) {
            *p = self->next_dirty;
            break;
        }
    self->dirty = false;
    self->next_dirty = NULL;
}

outbox_t *outbox_new(zsock_t **push_p, const char *to, size_t max_bytes)
{
    if (!push_p || !*push_p)
        return NULL;
    outbox_t *self = calloc(1, sizeof(*self));
    if (!self) {
        zsock_destroy(push_p);
        return NULL;
    }
    self->push = *push_p;
    *push_p = NULL;
    snprintf(self->to, sizeof(self->to), "%s", to ? to : "peer");
    self->max_bytes = max_bytes;
    msgpack_sbuffer_init(&self->scratch);
    char labels[64], esc[40];
    metrics_label_escape(self->to, esc, sizeof(esc));
    snprintf(labels, sizeof(labels), "to=\"%s\"", esc);
    self->m_bytes = metrics_gauge("outbox_queued_bytes",
                                  "envelopes waiting in a stage's outbox for a full receiver, "
                                  "in bytes, by receiver",
                                  labels);
    return self;
}

void outbox_destroy(outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    outbox_t *self = *self_p;
    if (self->dirty)
        dirty_unlink(self);
    outbox_flush(self); /* a batch's envelopes (and any other) go if the receiver takes them */
    while (self->head) {
        item_t *it = self->head;
        self->head = it->next;
        channel_count_drop(self->to, it->type, "outbox destroyed");
        free(it);
    }
    metrics_gauge_add(self->m_bytes, -(int64_t)self->bytes);
    zsock_destroy(&self->push);
    msgpack_sbuffer_destroy(&self->scratch);
    free(self);
    *self_p = NULL;
}

static int enqueue(outbox_t *self, envelope_type_t type, const void *data, size_t len)
{
    item_t *it = malloc(sizeof(*it) + len);
    if (!it)
        return -ENOMEM;
    it->next = NULL;
    it->type = type;
    it->len = len;
    memcpy(it->data, data, len);
    if (self->tail)
        self->tail->next = it;
    else
        self->head = it;
    self->tail = it;
    self->count++;
    self->bytes += len;
    metrics_gauge_add(self->m_bytes, (int64_t)len);
    return 0;
}

int outbox_send(outbox_t *self, const envelope_t *env, outbox_policy_t policy)
{
    if (!self || !env)
        return -EINVAL;
    msgpack_sbuffer_clear(&self->scratch);
    int rc = envelope_encode(env, &self->scratch);
    if (rc < 0) {
        channel_count_drop(self->to, env->type, "could not be encoded");
        return rc;
    }
    size_t len = self->scratch.size;
    size_t cap = policy == OUTBOX_MUST ? self->max_bytes * OUTBOX_MUST_FACTOR : self->max_bytes;
    if (batching && self->count == self->pending) {
        /* nothing waits for a full receiver, so without the batch env would go to the socket
         * now, whatever its size: it joins the batch, which is handed on first if env would
         * take it past the bound (a batch is never refused for its own sake) */
        if (self->pending && self->bytes + len > cap)
            outbox_flush(self);
        if (self->count == self->pending) {
            rc = enqueue(self, env->type, self->scratch.data, len);
            if (rc < 0) {
                channel_count_drop(self->to, env->type, "out of memory");
                return rc;
            }
            self->pending++;
            if (!self->dirty) {
                self->dirty = true;
                self->next_dirty = dirty_list;
                dirty_list = self;
            }
            return 0;
        }
    }
    if (!self->head && !batching) { /* nothing waits before it: straight to the socket */
        rc = channel_send(self->push, self->scratch.data, len);
        if (rc == 0)
            return 0;
        if (rc != -EAGAIN) {
            channel_count_drop(self->to, env->type, strerror(-rc));
            return rc;
        }
    }
    /* behind envelopes waiting for a full receiver: within the bound of the policy */
    if (self->bytes + len > cap) {
        if (policy != OUTBOX_TRY)
            channel_count_drop(self->to, env->type, "receiver full and outbox full");
        return -ENOBUFS;
    }
    rc = enqueue(self, env->type, self->scratch.data, len);
    if (rc < 0)
        channel_count_drop(self->to, env->type, "out of memory");
    return rc;
}

/* Takes the first n items off the list (they were handed on or dropped). */
static void pop(outbox_t *self, size_t n)
{
    while (n-- && self->head) {
        item_t *it = self->head;
        self->head = it->next;
        if (!self->head)
            self->tail = NULL;
        self->count--;
        self->bytes -= it->len;
        metrics_gauge_add(self->m_bytes, -(int64_t)it->len);
        free(it);
    }
}

size_t outbox_flush(outbox_t *self)
{
    if (!self)
        return 0;
    self->pending = 0; /* tried now: what stays waits for a full receiver */
    const void *data[OUTBOX_BATCH_FRAMES];
    size_t len[OUTBOX_BATCH_FRAMES];
    while (self->head) {
        size_t n = 0;
        for (item_t *it = self->head; it && n < OUTBOX_BATCH_FRAMES; it = it->next, n++) {
            data[n] = it->data;
            len[n] = it->len;
        }
        int rc = n == 1 ? channel_send(self->push, data[0], len[0])
                        : channel_send_frames(self->push, data, len, n);
        if (rc == -EAGAIN)
            break;
        if (rc < 0) {
            item_t *it = self->head;
            for (size_t i = 0; i < n; i++, it = it->next)
                channel_count_drop(self->to, it->type, strerror(-rc));
        }
        pop(self, n);
    }
    return self->count;
}

void outbox_batch_begin(void)
{
    batching = true;
}

size_t outbox_batch_end(void)
{
    batching = false;
    size_t left = 0;
    while (dirty_list) {
        outbox_t *ob = dirty_list;
        dirty_list = ob->next_dirty;
        ob->dirty = false;
        ob->next_dirty = NULL;
        left += outbox_flush(ob);
    }
    return left;
}

size_t outbox_queued(const outbox_t *self)
{
    return self ? self->count - self->pending : 0;
}

size_t outbox_queued_bytes(const outbox_t *self)
{
    return self ? self->bytes : 0;
}

bool outbox_has_room(const outbox_t *self, size_t len)
{
    return self && self->bytes + len <= self->max_bytes;
}

zsock_t *outbox_socket(outbox_t *self)
{
    return self ? self->push : NULL;
}
