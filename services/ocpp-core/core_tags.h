/* core_tags: the id-token answers of auth_policy = redis, cached per core. Pure (no I/O, no clock).
 *
 * The backend keeps one Redis hash per id token (`idtag:<token>` = {status, expires_at_ms}); the
 * registry reads it for the core (TAG_LOOKUP -> TAG_INFO). This module holds what came back, so
 * a station presenting the same card again costs no round trip: a bounded map from token to the
 * answer as stored, evicted least recently used first, each entry valid until the time the engine
 * gives it (tag_cache_ms for an accepted token, the shorter tag_negative_cache_ms for any other).
 * core_tag_status() turns an answer into the OCPP status at the time of use, so a cached token
 * whose expires_at_ms passes is Expired at once, whatever the cache time. */
#ifndef CORE_TAGS_H
#define CORE_TAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the longest id token any version sends (2.0.1 IdTokenType.idToken: 36; 1.6 idTag: 20) */
#define CORE_TAG_MAX 36

/* What the registry said of a token. */
typedef struct {
    bool found;             /* a record exists */
    char status[16];        /* as stored (Accepted, Blocked, Expired, Invalid; other: Invalid) */
    uint64_t expires_at_ms; /* 0: no expiry */
} core_tag_answer_t;

typedef struct core_tags core_tags_t;

/* At most max_entries answers (0: caching off). NULL on OOM. */
core_tags_t *core_tags_new(size_t max_entries);
void core_tags_destroy(core_tags_t **self_p); /* safe twice */

/* 1 and *out when tag has an answer valid at now_us (it becomes the most recently used); 0
 * otherwise (a stale answer is removed). */
int core_tags_get(core_tags_t *self, const char *tag, uint64_t now_us, core_tag_answer_t *out);

/* Keeps a (copied) until until_us, replacing what tag had; the least recently used entry goes
 * when the cache is full. A tag longer than CORE_TAG_MAX is not cached. */
void core_tags_put(core_tags_t *self, const char *tag, const core_tag_answer_t *a,
                   uint64_t until_us);

size_t core_tags_size(const core_tags_t *self);

/* The OCPP status of answer a at now_us: Accepted, Blocked, Expired or Invalid (no record, or a
 * status OCPP does not know here); Expired once expires_at_ms has passed, whatever was stored. */
const char *core_tag_status(const core_tag_answer_t *a, uint64_t now_us);

#endif
