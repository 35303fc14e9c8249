/* core_session: per-connection OCPP state. See core_session.h. */
#include "core_session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What an idle connection keeps is this struct alone (issue 15: the core's bytes per idle
 * connection): the held answer, the waiting CALL, the downlink queue and the ring of event ids
 * are allocated when first used, and the first three freed again when they empty. */
#define SEEN_BYTES (CORE_EVENT_ID_LEN / 2)
struct core_session_s {
    core_held_t *held;         /* uplink: the answer waiting for persistence; NULL: none */
    core_waiting_t *waiting;   /* uplink: the CALL waiting for its id token's status; NULL: none */
    core_command_t **queue;    /* downlink, sorted: priority desc, then arrival; NULL when empty */
    core_command_t *in_flight; /* downlink CALL sent, NULL: none */
    uint8_t (*seen)[SEEN_BYTES]; /* ring of natural event ids (binary), NULL until the first */
    uint64_t seed;
    uint64_t next_seq;
    uint32_t queued, queue_max;
    uint8_t seen_n, seen_next; /* ids in the ring, next slot */
    uint8_t version;           /* ocpp_version_t */
    uint8_t booted;
};

void core_command_free(core_command_t **cmd)
{
    if (!cmd || !*cmd)
        return;
    json_decref((*cmd)->payload);
    free(*cmd);
    *cmd = NULL;
}

core_session_t *core_session_new(ocpp_version_t version, size_t queue_max, uint64_t seed)
{
    if (queue_max > UINT32_MAX)
        return NULL;
    core_session_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->version = (uint8_t)version;
    self->queue_max = (uint32_t)queue_max;
    self->seed = seed;
    return self;
}

void core_session_destroy(core_session_t **self)
{
    if (!self || !*self)
        return;
    core_session_t *s = *self;
    for (size_t i = 0; i < s->queued; i++)
        core_command_free(&s->queue[i]);
    core_command_free(&s->in_flight);
    if (s->held)
        core_held_clear(s->held);
    free(s->held);
    if (s->waiting)
        core_waiting_clear(s->waiting);
    free(s->waiting);
    free(s->queue);
    free(s->seen);
    free(s);
    *self = NULL;
}

ocpp_version_t core_session_version(const core_session_t *self)
{
    return (ocpp_version_t)self->version;
}

int core_session_booted(const core_session_t *self)
{
    return self->booted;
}

void core_session_set_booted(core_session_t *self)
{
    self->booted = 1;
}

void core_held_clear(core_held_t *h)
{
    free(h->text);
    memset(h, 0, sizeof(*h));
}

/* moves the held answer out (or an empty one) and leaves nothing held */
static void held_move(core_session_t *self, core_held_t *out)
{
    if (!self->held) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = *self->held;
    free(self->held);
    self->held = NULL;
}

core_call_verdict_t core_session_on_call(core_session_t *self, const char *action,
                                         core_held_t *abandoned)
{
    held_move(self, abandoned);
    if (self->version != OCPP_V16 && !self->booted && strcmp(action, "BootNotification") != 0)
        return CORE_CALL_NOT_BOOTED;
    return CORE_CALL_SERVE;
}

int core_session_hold(core_session_t *self, const core_held_t *what, char **text)
{
    if (self->held) {
        core_held_clear(self->held); /* abandoned; its room is reused */
    } else {
        self->held = malloc(sizeof(*self->held));
        if (!self->held)
            return -ENOMEM;
    }
    *self->held = *what;
    self->held->text = *text;
    *text = NULL;
    return 0;
}

uint64_t core_session_held_token(const core_session_t *self)
{
    return self->held ? self->held->token : 0;
}

int core_session_release(core_session_t *self, uint64_t token, core_held_t *out)
{
    if (!token || core_session_held_token(self) != token)
        return 0;
    held_move(self, out);
    return 1;
}

int core_session_hold_expired(core_session_t *self, uint64_t now_us, core_held_t *out)
{
    const core_held_t *h = self->held;
    if (!h || !h->token || !h->deadline_us || now_us < h->deadline_us)
        return 0;
    held_move(self, out);
    return 1;
}

int core_session_take_held(core_session_t *self, core_held_t *out)
{
    if (!core_session_held_token(self))
        return 0;
    held_move(self, out);
    return 1;
}

void core_waiting_clear(core_waiting_t *w)
{
    json_decref(w->payload);
    memset(w, 0, sizeof(*w));
}

int core_session_wait(core_session_t *self, core_waiting_t *w)
{
    if (self->waiting) {
        core_waiting_clear(self->waiting); /* abandoned; its room is reused */
    } else {
        self->waiting = malloc(sizeof(*self->waiting));
        if (!self->waiting)
            return -ENOMEM;
    }
    *self->waiting = *w;
    memset(w, 0, sizeof(*w));
    return 0;
}

const core_waiting_t *core_session_waiting(const core_session_t *self)
{
    return self->waiting && self->waiting->request_id ? self->waiting : NULL;
}

int core_session_take_waiting(core_session_t *self, uint64_t request_id, core_waiting_t *out)
{
    const core_waiting_t *w = core_session_waiting(self);
    if (!w || (request_id && w->request_id != request_id))
        return 0;
    *out = *self->waiting;
    free(self->waiting);
    self->waiting = NULL;
    return 1;
}

int core_session_wait_expired(core_session_t *self, uint64_t now_us, core_waiting_t *out)
{
    const core_waiting_t *w = core_session_waiting(self);
    if (!w || now_us < w->deadline_us)
        return 0;
    return core_session_take_waiting(self, 0, out);
}

int core_session_enqueue(core_session_t *self, core_command_t *cmd)
{
    if (self->queued >= self->queue_max)
        return -ENOSPC;
    if (!self->queue) {
        self->queue = calloc(self->queue_max, sizeof(*self->queue));
        if (!self->queue)
            return -ENOMEM;
    }
    size_t at = self->queued;
    while (at > 0 && self->queue[at - 1]->priority < cmd->priority)
        at--;
    memmove(&self->queue[at + 1], &self->queue[at], (self->queued - at) * sizeof(*self->queue));
    self->queue[at] = cmd;
    self->queued++;
    return 0;
}

static core_command_t *take(core_session_t *self, size_t i)
{
    core_command_t *cmd = self->queue[i];
    memmove(&self->queue[i], &self->queue[i + 1], (self->queued - i - 1) * sizeof(*self->queue));
    self->queued--;
    if (self->queued == 0) { /* most stations get a command now and then: room only meanwhile */
        free(self->queue);
        self->queue = NULL;
    }
    return cmd;
}

core_command_t *core_session_next(core_session_t *self, uint64_t now_us, uint64_t timeout_us,
                                  core_command_t **expired)
{
    *expired = NULL;
    for (size_t i = 0; i < self->queued; i++) {
        if (self->queue[i]->expires_us && self->queue[i]->expires_us <= now_us) {
            *expired = take(self, i);
            return NULL;
        }
    }
    if (self->in_flight || self->queued == 0)
        return NULL;
    core_command_t *cmd = take(self, 0);
    /* unique per connection by the sequence, across connections and restarts by the seed */
    snprintf(cmd->message_id, sizeof(cmd->message_id), "gw-%016" PRIx64 "-%" PRIu64, self->seed,
             ++self->next_seq);
    cmd->deadline_us = now_us + timeout_us;
    self->in_flight = cmd;
    return cmd;
}

core_command_t *core_session_on_response(core_session_t *self, const char *message_id)
{
    if (!self->in_flight || strcmp(self->in_flight->message_id, message_id) != 0)
        return NULL;
    core_command_t *cmd = self->in_flight;
    self->in_flight = NULL;
    return cmd;
}

core_command_t *core_session_timed_out(core_session_t *self, uint64_t now_us)
{
    if (!self->in_flight || now_us < self->in_flight->deadline_us)
        return NULL;
    core_command_t *cmd = self->in_flight;
    self->in_flight = NULL;
    return cmd;
}

core_command_t *core_session_take_any(core_session_t *self)
{
    if (self->in_flight) {
        core_command_t *cmd = self->in_flight;
        self->in_flight = NULL;
        return cmd;
    }
    return self->queued ? take(self, 0) : NULL;
}

size_t core_session_queued(const core_session_t *self)
{
    return self->queued;
}

int core_session_busy(const core_session_t *self)
{
    return self->in_flight != NULL;
}

size_t core_session_bytes(const core_session_t *self)
{
    size_t n = sizeof(*self);
    if (self->held)
        n += sizeof(*self->held);
    if (self->waiting)
        n += sizeof(*self->waiting);
    if (self->queue)
        n += self->queue_max * sizeof(*self->queue);
    if (self->seen)
        n += CORE_SESSION_SEEN_MAX * sizeof(*self->seen);
    return n;
}

uint64_t core_session_next_deadline(const core_session_t *self)
{
    uint64_t d = 0;
#define EARLIER(x)                                                                                 \
    do {                                                                                           \
        if ((x) && (!d || (x) < d))                                                                \
            d = (x);                                                                               \
    } while (0)
    if (core_session_held_token(self))
        EARLIER(self->held->deadline_us);
    if (core_session_waiting(self))
        EARLIER(self->waiting->deadline_us);
    if (self->in_flight)
        EARLIER(self->in_flight->deadline_us);
    for (size_t i = 0; i < self->queued; i++)
        EARLIER(self->queue[i]->expires_us);
#undef EARLIER
    return d;
}

/* An event id is CORE_EVENT_ID_LEN lowercase hex digits (core_event.h): kept as its bytes, half
 * the room. 0 with out filled, -EINVAL for anything else (then it is never remembered, so a
 * resend is published again: a duplicate, never a loss). */
static int seen_key(const char *event_id, uint8_t out[SEEN_BYTES])
{
    for (size_t i = 0; i < CORE_EVENT_ID_LEN; i++) {
        char ch = event_id[i];
        int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (v < 0)
            return -EINVAL;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return event_id[CORE_EVENT_ID_LEN] == '\0' ? 0 : -EINVAL;
}

static int seen_bytes(const core_session_t *self, const uint8_t key[SEEN_BYTES])
{
    for (size_t i = 0; i < self->seen_n; i++)
        if (memcmp(self->seen[i], key, SEEN_BYTES) == 0)
            return 1;
    return 0;
}

int core_session_seen(const core_session_t *self, const char *event_id)
{
    uint8_t key[SEEN_BYTES];
    if (!event_id || !self->seen || seen_key(event_id, key) < 0)
        return 0;
    return seen_bytes(self, key);
}

void core_session_remember(core_session_t *self, const char *event_id)
{
    uint8_t key[SEEN_BYTES];
    if (!event_id || seen_key(event_id, key) < 0)
        return;
    if (!self->seen) {
        self->seen = malloc(CORE_SESSION_SEEN_MAX * sizeof(*self->seen));
        if (!self->seen)
            return; /* not remembered: a resend is published again, a duplicate, never a loss */
    } else if (seen_bytes(self, key)) {
        return;
    }
    memcpy(self->seen[self->seen_next], key, SEEN_BYTES);
    self->seen_next = (uint8_t)((self->seen_next + 1) % CORE_SESSION_SEEN_MAX);
    if (self->seen_n < CORE_SESSION_SEEN_MAX)
        self->seen_n++;
}
