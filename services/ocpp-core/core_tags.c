/* core_tags: the id-token answer cache of ocpp-core. See core_tags.h. */
#include "core_tags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

typedef struct entry {
    struct entry *prev, *next; /* recency list: head is the most recently used */
    char tag[CORE_TAG_MAX + 1];
    core_tag_answer_t answer;
    uint64_t until_us;
} entry_t;

struct core_tags {
    size_t max;
    zhashx_t *map; /* tag -> entry_t (the key is the entry's own tag) */
    entry_t *head, *tail;
};

core_tags_t *core_tags_new(size_t max_entries)
{
    core_tags_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->max = max_entries;
    self->map = zhashx_new();
    if (!self->map) {
        free(self);
        return NULL;
    }
    zhashx_set_key_duplicator(self->map, NULL);
    zhashx_set_key_destructor(self->map, NULL);
    return self;
}

void core_tags_destroy(core_tags_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    core_tags_t *self = *self_p;
    while (self->head) {
        entry_t *e = self->head;
        self->head = e->next;
        free(e);
    }
    zhashx_destroy(&self->map);
    free(self);
    *self_p = NULL;
}

static void unlink_entry(core_tags_t *self, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        self->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        self->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(core_tags_t *self, entry_t *e)
{
    e->prev = NULL;
    e->next = self->head;
    if (self->head)
        self->head->prev = e;
    self->head = e;
    if (!self->tail)
        self->tail = e;
}

static void remove_entry(core_tags_t *self, entry_t *e)
{
    zhashx_delete(self->map, e->tag);
    unlink_entry(self, e);
    free(e);
}

int core_tags_get(core_tags_t *self, const char *tag, uint64_t now_us, core_tag_answer_t *out)
{
    entry_t *e = zhashx_lookup(self->map, tag);
    if (!e)
        return 0;
    if (now_us >= e->until_us) {
        remove_entry(self, e);
        return 0;
    }
    unlink_entry(self, e);
    push_front(self, e);
    *out = e->answer;
    return 1;
}

void core_tags_put(core_tags_t *self, const char *tag, const core_tag_answer_t *a,
                   uint64_t until_us)
{
    if (!self->max || strlen(tag) > CORE_TAG_MAX)
        return;
    entry_t *e = zhashx_lookup(self->map, tag);
    if (e) {
        unlink_entry(self, e);
    } else {
        if (zhashx_size(self->map) >= self->max)
            remove_entry(self, self->tail);
        e = calloc(1, sizeof(*e));
        if (!e)
            return; /* not cached: the next use asks again */
        snprintf(e->tag, sizeof(e->tag), "%s", tag);
        if (zhashx_insert(self->map, e->tag, e) < 0) {
            free(e);
            return;
        }
    }
    e->answer = *a;
    e->answer.status[sizeof(e->answer.status) - 1] = '\0';
    e->until_us = until_us;
    push_front(self, e);
}

size_t core_tags_size(const core_tags_t *self)
{
    return zhashx_size(self->map);
}

const char *core_tag_status(const core_tag_answer_t *a, uint64_t now_us)
{
    if (!a->found)
        return "Invalid";
    if (a->expires_at_ms && a->expires_at_ms <= now_us / 1000u)
        return "Expired";
    static const char *const known[] = {"Accepted", "Blocked", "Expired", "Invalid"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(a->status, known[i]) == 0)
            return known[i];
    return "Invalid";
}
