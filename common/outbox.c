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
};

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
    if (!self->head) { /* nothing waits before it: straight to the socket */
        rc = channel_send(self->push, self->scratch.data, len);
        if (rc == 0)
            return 0;
        if (rc != -EAGAIN) {
            channel_count_drop(self->to, env->type, strerror(-rc));
            return rc;
        }
    }
    size_t cap = policy == OUTBOX_MUST ? self->max_bytes * OUTBOX_MUST_FACTOR : self->max_bytes;
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

size_t outbox_flush(outbox_t *self)
{
    if (!self)
        return 0;
    while (self->head) {
        item_t *it = self->head;
        int rc = channel_send(self->push, it->data, it->len);
        if (rc == -EAGAIN)
            break;
        if (rc < 0)
            channel_count_drop(self->to, it->type, strerror(-rc));
        self->head = it->next;
        if (!self->head)
            self->tail = NULL;
        self->count--;
        self->bytes -= it->len;
        metrics_gauge_add(self->m_bytes, -(int64_t)it->len);
        free(it);
    }
    return self->count;
}

size_t outbox_queued(const outbox_t *self)
{
    return self ? self->count : 0;
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
