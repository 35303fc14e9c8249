/* command_route: the pure decisions of command routing. See command_route.h. */
#include "command_route.h"

#include <string.h>

route_t command_route(const command_record_t *rec, const route_input_t *in)
{
    if (rec->target_pod[0] && strcmp(rec->target_pod, in->reader_pod) != 0)
        return ROUTE_SKIP;
    if (in->now_ms >= rec->expires_at_ms)
        return ROUTE_EXPIRED;
    if (!in->owner_known)
        return ROUTE_LOOKUP;
    if (!in->owner || !in->owner[0] || !in->owner_live)
        return ROUTE_PARK;
    if (strcmp(in->owner, in->self_pod) == 0)
        return ROUTE_HERE;
    /* only a takeover reader can get here (reader_pod != self_pod): the dead pod is back */
    if (strcmp(in->owner, in->reader_pod) == 0)
        return ROUTE_YIELD;
    return rec->hops >= in->max_hops ? ROUTE_HOPS : ROUTE_FORWARD;
}

const char *command_route_name(route_t r)
{
    switch (r) {
    case ROUTE_SKIP:
        return "skip";
    case ROUTE_EXPIRED:
        return "expired";
    case ROUTE_LOOKUP:
        return "lookup";
    case ROUTE_HERE:
        return "here";
    case ROUTE_FORWARD:
        return "forward";
    case ROUTE_HOPS:
        return "hop_limit";
    case ROUTE_PARK:
        return "park";
    case ROUTE_YIELD:
        return "yield";
    }
    return "?";
}

int64_t command_park_delay_ms(int attempt, int64_t base_ms, int64_t max_ms, int64_t now_ms,
                              int64_t expires_at_ms)
{
    int64_t d = base_ms > 0 ? base_ms : 1;
    for (int i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    if (now_ms + d > expires_at_ms)
        d = expires_at_ms > now_ms ? expires_at_ms - now_ms : 0;
    return d;
}

takeover_action_t command_takeover_action(const char *self_pod, const char *pod, bool active,
                                          bool reading)
{
    if (!pod || !pod[0] || (self_pod && strcmp(pod, self_pod) == 0))
        return TAKEOVER_IGNORE;
    if (active)
        return reading ? TAKEOVER_KEEP : TAKEOVER_START;
    return reading ? TAKEOVER_STOP : TAKEOVER_IGNORE;
}

bool command_takeover_drained(bool eof, size_t open_records, size_t live_commands)
{
    return eof && open_records == 0 && live_commands == 0;
}

int64_t command_core_deadline_ms(int64_t now_ms, int64_t expires_at_ms, int64_t grace_ms)
{
    return (expires_at_ms > now_ms ? expires_at_ms : now_ms) + grace_ms;
}
