/* core_session: per-connection OCPP state. See core_session.h. */
#include "core_session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct core_session_s {
    ocpp_version_t version;
    int booted;
    core_held_t held;       /* uplink: the answer waiting for persistence */
    core_waiting_t waiting; /* uplink: the CALL waiting for its id token's status */
    /* downlink */
    core_command_t **queue; /* sorted: priority desc, then arrival */
    size_t queued, queue_max;
    core_command_t *in_flight;
    uint64_t seed;
    uint64_t next_seq;
    char seen[CORE_SESSION_SEEN_MAX][CORE_EVENT_ID_LEN + 1]; /* a ring of natural event ids */
    size_t seen_next;
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
    core_session_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->queue = calloc(queue_max ? queue_max : 1, sizeof(*self->queue));
    if (!self->queue) {
        free(self);
        return NULL;
    }
    self->version = version;
    self->queue_max = queue_max;
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
    core_held_clear(&s->held);
    core_waiting_clear(&s->waiting);
    free(s->queue);
    free(s);
    *self = NULL;
}

ocpp_version_t core_session_version(const core_session_t *self)
{
    return self->version;
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
    *out = self->held;
    memset(&self->held, 0, sizeof(self->held));
}

core_call_verdict_t core_session_on_call(core_session_t *self, const char *action,
                                         core_held_t *abandoned)
{
    held_move(self, abandoned);
    if (self->version != OCPP_V16 && !self->booted && strcmp(action, "BootNotification") != 0)
        return CORE_CALL_NOT_BOOTED;
    return CORE_CALL_SERVE;
}

void core_session_hold(core_session_t *self, const core_held_t *what, char **text)
{
    core_held_clear(&self->held);
    self->held = *what;
    self->held.text = *text;
    *text = NULL;
}

uint64_t core_session_held_token(const core_session_t *self)
{
    return self->held.token;
}

int core_session_release(core_session_t *self, uint64_t token, core_held_t *out)
{
    if (!token || self->held.token != token)
        return 0;
    held_move(self, out);
    return 1;
}

int core_session_hold_expired(core_session_t *self, uint64_t now_us, core_held_t *out)
{
    if (!self->held.token || !self->held.deadline_us || now_us < self->held.deadline_us)
        return 0;
    held_move(self, out);
    return 1;
}

int core_session_take_held(core_session_t *self, core_held_t *out)
{
    if (!self->held.token)
        return 0;
    held_move(self, out);
    return 1;
}

void core_waiting_clear(core_waiting_t *w)
{
    json_decref(w->payload);
    memset(w, 0, sizeof(*w));
}

void core_session_wait(core_session_t *self, core_waiting_t *w)
{
    core_waiting_clear(&self->waiting);
    self->waiting = *w;
    memset(w, 0, sizeof(*w));
}

const core_waiting_t *core_session_waiting(const core_session_t *self)
{
    return self->waiting.request_id ? &self->waiting : NULL;
}

int core_session_take_waiting(core_session_t *self, uint64_t request_id, core_waiting_t *out)
{
    if (!self->waiting.request_id || (request_id && self->waiting.request_id != request_id))
        return 0;
    *out = self->waiting;
    memset(&self->waiting, 0, sizeof(self->waiting));
    return 1;
}

int core_session_wait_expired(core_session_t *self, uint64_t now_us, core_waiting_t *out)
{
    if (!self->waiting.request_id || now_us < self->waiting.deadline_us)
        return 0;
    return core_session_take_waiting(self, 0, out);
}

int core_session_enqueue(core_session_t *self, core_command_t *cmd)
{
    if (self->queued >= self->queue_max)
        return -ENOSPC;
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

uint64_t core_session_next_deadline(const core_session_t *self)
{
    uint64_t d = 0;
#define EARLIER(x)                                                                                 \
    do {                                                                                           \
        if ((x) && (!d || (x) < d))                                                                \
            d = (x);                                                                               \
    } while (0)
    if (self->held.token)
        EARLIER(self->held.deadline_us);
    if (self->waiting.request_id)
        EARLIER(self->waiting.deadline_us);
    if (self->in_flight)
        EARLIER(self->in_flight->deadline_us);
    for (size_t i = 0; i < self->queued; i++)
        EARLIER(self->queue[i]->expires_us);
#undef EARLIER
    return d;
}

int core_session_seen(const core_session_t *self, const char *event_id)
{
    if (!event_id || !event_id[0])
        return 0;
    for (size_t i = 0; i < CORE_SESSION_SEEN_MAX; i++)
        if (strcmp(self->seen[i], event_id) == 0)
            return 1;
    return 0;
}

void core_session_remember(core_session_t *self, const char *event_id)
{
    if (!event_id || !event_id[0] || core_session_seen(self, event_id))
        return;
    snprintf(self->seen[self->seen_next], sizeof(self->seen[0]), "%s", event_id);
    self->seen_next = (self->seen_next + 1) % CORE_SESSION_SEEN_MAX;
}
