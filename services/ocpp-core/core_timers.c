/* core_timers: an indexed binary min-heap of deadlines. See core_timers.h. */
#include "core_timers.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

struct core_timers {
    core_timer_t **heap; /* heap[0] is the earliest; heap[i]->pos == i + 1 */
    size_t n, cap;
};

core_timers_t *core_timers_new(void)
{
    return calloc(1, sizeof(core_timers_t));
}

void core_timers_destroy(core_timers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    core_timers_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        self->heap[i]->pos = 0; /* owners may outlive the heap */
    free(self->heap);
    free(self);
    *self_p = NULL;
}

int core_timers_reserve(core_timers_t *self, size_t n)
{
    if (n <= self->cap)
        return 0;
    size_t cap = self->cap ? self->cap : 16;
    while (cap < n)
        cap *= 2;
    core_timer_t **heap = realloc(self->heap, cap * sizeof(*heap));
    if (!heap)
        return -ENOMEM;
    self->heap = heap;
    self->cap = cap;
    return 0;
}

static void place(core_timers_t *self, size_t i, core_timer_t *t)
{
    self->heap[i] = t;
    t->pos = i + 1;
}

static void sift_up(core_timers_t *self, size_t i)
{
    core_timer_t *t = self->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (self->heap[parent]->at <= t->at)
            break;
        place(self, i, self->heap[parent]);
        i = parent;
    }
    place(self, i, t);
}

static void sift_down(core_timers_t *self, size_t i)
{
    core_timer_t *t = self->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= self->n)
            break;
        if (child + 1 < self->n && self->heap[child + 1]->at < self->heap[child]->at)
            child++;
        if (t->at <= self->heap[child]->at)
            break;
        place(self, i, self->heap[child]);
        i = child;
    }
    place(self, i, t);
}

static void remove_at(core_timers_t *self, size_t i)
{
    core_timer_t *t = self->heap[i];
    t->pos = 0;
    t->at = 0;
    core_timer_t *last = self->heap[--self->n];
    if (i == self->n)
        return;
    place(self, i, last);
    sift_down(self, i);
    sift_up(self, last->pos - 1);
}

void core_timers_set(core_timers_t *self, core_timer_t *t, uint64_t at)
{
    if (!at) {
        if (t->pos)
            remove_at(self, t->pos - 1);
        t->at = 0;
        return;
    }
    if (!t->pos) {
        assert(self->n < self->cap); /* core_timers_reserve() made room */
        t->at = at;
        place(self, self->n++, t);
        sift_up(self, self->n - 1);
        return;
    }
    uint64_t was = t->at;
    t->at = at;
    if (at < was)
        sift_up(self, t->pos - 1);
    else if (at > was)
        sift_down(self, t->pos - 1);
}

core_timer_t *core_timers_due(core_timers_t *self, uint64_t now_us)
{
    if (!self->n || self->heap[0]->at > now_us)
        return NULL;
    core_timer_t *t = self->heap[0];
    remove_at(self, 0);
    return t;
}

uint64_t core_timers_next(const core_timers_t *self)
{
    return self->n ? self->heap[0]->at : 0;
}

size_t core_timers_size(const core_timers_t *self)
{
    return self->n;
}
