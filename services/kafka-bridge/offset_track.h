/* offset_track: the offsets of one partition of commands-down still in flight, in the order they
 * were read, so that the offset kafka-bridge stores (and commits) never passes a record without
 * its final outcome (at-least-once in, docs/commands.md "Offsets"). Records finish out of order;
 * the offset to store is one past the leading run of finished ones. */
#ifndef OFFSET_TRACK_H
#define OFFSET_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t *offs; /* ascending */
    bool *done;
    size_t head, count, cap;
    int64_t lost; /* -1, or the lowest offset read but not kept: nothing past it is safe */
} offset_track_t;

void offset_track_init(offset_track_t *t);
void offset_track_free(offset_track_t *t);
/* Adds a record's offset (offsets must ascend). 0, -ENOMEM, or -EINVAL when not ascending (a
 * record read again: the first copy is the one tracked). */
int offset_track_add(offset_track_t *t, int64_t off);
/* A record read but not kept (no memory): it will never finish, so no offset past it may be
 * stored; it is read again after a restart. */
void offset_track_lose(offset_track_t *t, int64_t off);
/* Marks off final. Returns the offset now safe to store (the next offset to read: one past the
 * last of the leading run of finished records, never past a lost record), or -1 when the leading
 * record is still open or off is unknown. */
int64_t offset_track_done(offset_track_t *t, int64_t off);
/* Records not final yet (a lost record counts as one for ever). */
size_t offset_track_open(const offset_track_t *t);

#endif
