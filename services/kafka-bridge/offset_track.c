/* offset_track: offsets of one partition in flight. See offset_track.h. */
#include "offset_track.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void offset_track_init(offset_track_t *t)
{
    memset(t, 0, sizeof(*t));
    t->lost = -1;
}

void offset_track_free(offset_track_t *t)
{
    free(t->offs);
    free(t->done);
    offset_track_init(t);
}

void offset_track_lose(offset_track_t *t, int64_t off)
{
    if (off >= 0 && (t->lost < 0 || off < t->lost))
        t->lost = off;
}

int offset_track_add(offset_track_t *t, int64_t off)
{
    if (t->count && t->offs[(t->head + t->count - 1) % t->cap] >= off)
        return -EINVAL;
    if (t->count == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        int64_t *no = malloc(ncap * sizeof(*no));
        bool *nd = malloc(ncap * sizeof(*nd));
        if (!no || !nd) {
            free(no);
            free(nd);
            return -ENOMEM;
        }
        for (size_t i = 0; i < t->count; i++) {
            no[i] = t->offs[(t->head + i) % t->cap];
            nd[i] = t->done[(t->head + i) % t->cap];
        }
        free(t->offs);
        free(t->done);
        t->offs = no;
        t->done = nd;
        t->head = 0;
        t->cap = ncap;
    }
    size_t at = (t->head + t->count) % t->cap;
    t->offs[at] = off;
    t->done[at] = false;
    t->count++;
    return 0;
}

int64_t offset_track_done(offset_track_t *t, int64_t off)
{
    /* binary search in the ring (ascending) */
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->offs[(t->head + mid) % t->cap] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->count || t->offs[(t->head + lo) % t->cap] != off)
        return -1;
    t->done[(t->head + lo) % t->cap] = true;
    int64_t next = -1;
    while (t->count && t->done[t->head]) {
        next = t->offs[t->head] + 1;
        t->head = (t->head + 1) % t->cap;
        t->count--;
    }
    /* storing the lost record's own offset is safe: it is read again from there */
    if (next >= 0 && t->lost >= 0 && next > t->lost)
        next = t->lost;
    return next;
}

size_t offset_track_open(const offset_track_t *t)
{
    size_t n = t->lost >= 0;
    for (size_t i = 0; i < t->count; i++)
        n += !t->done[(t->head + i) % t->cap];
    return n;
}
