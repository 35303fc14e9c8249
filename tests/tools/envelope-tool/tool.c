/* tool.c: the helpers every envelope-tool subcommand uses: argument parsing, sending one envelope,
 * draining a PULL socket (envelope_tool.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "envelope_tool.h"
#include "log.h"

/* Envelopes taken per channel_drain() call: a full batch means more may be waiting. */
#define DRAIN_BATCH 256

int tool_parse_u64(const char *arg, const char *what, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end != '\0' || arg[0] == '-') {
        fprintf(stderr, "envelope-tool: %s must be a number, not '%s'\n", what, arg);
        return -EINVAL;
    }
    *out = (uint64_t)v;
    return 0;
}

int tool_send_one(const char *ipc_dir, const char *to, const envelope_t *env)
{
    zsock_t *push = channel_push_to(ipc_dir, to, 0);
    if (!push)
        return -EIO;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = envelope_encode(env, &sb);
    if (rc == 0)
        rc = channel_send_wait(push, sb.data, sb.size, 5000);
    msgpack_sbuffer_destroy(&sb);
    zsock_destroy(&push);
    if (rc < 0)
        log_error("could not send %s to %s: %d", envelope_type_name(env->type), to, rc);
    return rc;
}

void tool_drain(zsock_t *pull, const char *from, channel_handler_fn *handle, void *arg)
{
    while (channel_drain(pull, DRAIN_BATCH, from, handle, arg) == DRAIN_BATCH)
        ;
}
