/* event_relay: EVENTs to the producer, kept in order while its queue is full. See event_relay.h. */
#include "event_relay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge_metrics.h"
#include "log.h"

/* One kept EVENT: the envelope's views point into data, a copy of what they pointed to. */
typedef struct kept {
    struct kept *next;
    env_event_t ev;
    char data[];
} kept_t;

struct event_relay {
    const event_relay_ops_t *ops;
    void *arg;
    kept_t *head, *tail;
    size_t held;
    metrics_counter_t *m_full;
    metrics_gauge_t *m_paused;
};

event_relay_t *event_relay_new(const event_relay_ops_t *ops, void *arg)
{
    if (!ops || !ops->produce || !ops->ack)
        return NULL;
    event_relay_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->ops = ops;
    self->arg = arg;
    self->m_full = metrics_def_counter(BRIDGE_METRIC(BRIDGE_M_QUEUE_FULL), NULL);
    self->m_paused = metrics_def_gauge(BRIDGE_METRIC(BRIDGE_M_INPUT_PAUSED), NULL);
    return self;
}

void event_relay_destroy(event_relay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    event_relay_t *self = *self_p;
    while (self->head) {
        kept_t *k = self->head;
        self->head = k->next;
        free(k);
    }
    metrics_gauge_set(self->m_paused, 0);
    free(self);
    *self_p = NULL;
}

static char *put(char *at, env_str_t *s)
{
    if (s->len)
        memcpy(at, s->ptr, s->len);
    s->ptr = at;
    return at + s->len;
}

/* A copy of ev whose views point into one allocation. */
static kept_t *keep_copy(const env_event_t *ev)
{
    size_t n = ev->topic.len + ev->key.len + ev->value.len;
    size_t count =
        ev->headers.count < ENVELOPE_MAX_HEADERS ? ev->headers.count : ENVELOPE_MAX_HEADERS;
    for (size_t i = 0; i < count; i++)
        n += ev->headers.items[i].name.len + ev->headers.items[i].value.len;
    kept_t *k = malloc(sizeof(*k) + n + 1);
    if (!k)
        return NULL;
    k->next = NULL;
    k->ev = *ev;
    k->ev.headers.count = count;
    char *at = k->data;
    at = put(at, &k->ev.topic);
    at = put(at, &k->ev.key);
    for (size_t i = 0; i < count; i++) {
        at = put(at, &k->ev.headers.items[i].name);
        at = put(at, &k->ev.headers.items[i].value);
    }
    if (ev->value.len)
        memcpy(at, ev->value.ptr, ev->value.len);
    k->ev.value.ptr = (const uint8_t *)at;
    return k;
}

/* Header names are case-insensitive in the Kafka binding's reading of content-type. */
static bool has_content_type(const env_headers_t *h)
{
    size_t count = h->count < ENVELOPE_MAX_HEADERS ? h->count : ENVELOPE_MAX_HEADERS;
    for (size_t i = 0; i < count; i++)
        if (h->items[i].name.len == 12 &&
            strncasecmp(h->items[i].name.ptr, "content-type", 12) == 0)
            return true;
    return false;
}

/* Hands ev to the producer: 0 (queued, or refused for good and answered) or -ENOBUFS (full).
 * An EVENT without content-type gets the structured-mode one (the last header slot is taken for
 * it when all are used: an event's own headers never need all sixteen). */
static int hand_on(event_relay_t *self, const env_event_t *ev)
{
    int32_t status = 0;
    char why[256] = "";
    env_event_t typed;
    if (!has_content_type(&ev->headers)) {
        typed = *ev;
        size_t at = typed.headers.count < ENVELOPE_MAX_HEADERS ? typed.headers.count
                                                               : ENVELOPE_MAX_HEADERS - 1;
        typed.headers.items[at] =
            (env_header_t){env_str("content-type"), env_str(EVENT_RELAY_CONTENT_TYPE)};
        typed.headers.count = at + 1;
        ev = &typed;
    }
    int rc = self->ops->produce(self->arg, ev, &status, why, sizeof(why));
    if (rc == -ENOBUFS)
        return rc;
    if (rc < 0) {
        log_error("event to %.*s refused by the producer: %s", (int)ev->topic.len, ev->topic.ptr,
                  why);
        if (ev->token)
            self->ops->ack(self->arg, ev->core_id, ev->token, status ? status : rc, why);
    }
    return 0;
}

int event_relay_on_event(event_relay_t *self, const env_event_t *ev)
{
    if (!self->head && hand_on(self, ev) == 0)
        return 0;
    kept_t *k = keep_copy(ev);
    if (!k) {
        log_error("no memory to keep an event while the producer queue is full");
        if (ev->token)
            self->ops->ack(self->arg, ev->core_id, ev->token, -ENOMEM, "out of memory");
        return -ENOMEM;
    }
    if (!self->head) {
        metrics_counter_add(self->m_full, 1);
        metrics_gauge_set(self->m_paused, 1);
        log_warn("producer queue full: input paused until Kafka confirms what it holds");
    }
    if (self->tail)
        self->tail->next = k;
    else
        self->head = k;
    self->tail = k;
    self->held++;
    return -EBUSY;
}

size_t event_relay_retry(event_relay_t *self)
{
    bool was = self->head != NULL;
    while (self->head && hand_on(self, &self->head->ev) == 0) {
        kept_t *k = self->head;
        self->head = k->next;
        if (!self->head)
            self->tail = NULL;
        self->held--;
        free(k);
    }
    if (was && !self->head) {
        metrics_gauge_set(self->m_paused, 0);
        log_info("producer queue has room again: input resumed");
    }
    return self->held;
}

size_t event_relay_held(const event_relay_t *self)
{
    return self->held;
}

void event_relay_abandon(event_relay_t *self, int32_t status, const char *why)
{
    while (self->head) {
        kept_t *k = self->head;
        self->head = k->next;
        if (k->ev.token)
            self->ops->ack(self->arg, k->ev.core_id, k->ev.token, status, why);
        free(k);
    }
    self->tail = NULL;
    self->held = 0;
    metrics_gauge_set(self->m_paused, 0);
}
