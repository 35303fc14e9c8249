/* envelope_tool.h: what the subcommands of envelope-tool share (tests/tools/envelope-tool/).
 *
 * envelope-tool plays one stage's peers over the pod's ipc:// sockets (docs/DESIGN.md §1), so an
 * integration test or a benchmark can drive a single real stage with envelopes: each subcommand
 * binds the PULL sockets the stage under test pushes to and connects a PUSH to the stage's own
 * socket, by name in IPC_DIR, as the real peer would. */
#ifndef OCPPGW_ENVELOPE_TOOL_H
#define OCPPGW_ENVELOPE_TOOL_H

#include <stdint.h>

#include <czmq.h>

#include "channel.h"
#include "envelope.h"

/* One subcommand: argv[0] is IPC_DIR, then its own arguments (already counted by main.c).
 * Returns the exit status: 0 success, 1 failure, 2 bad arguments (usage printed by the caller). */
typedef int(tool_run_fn)(int argc, char **argv);

tool_run_fn tool_events;   /* events.c: plays ocpp-core 0 towards a kafka-bridge */
tool_run_fn tool_takeover; /* send.c: one TAKEOVER to a kafka-bridge */
tool_run_fn tool_command;  /* send.c: one COMMAND to ocpp-core 0 */
tool_run_fn tool_registry; /* registry.c: plays the cores and the bridge towards a redis-registry */
tool_run_fn tool_creds;    /* creds.c: plays the registry's credential sync towards a ws-edge */
tool_run_fn tool_core;     /* core.c: plays ocpp-core 0 towards a ws-edge */

/* A decimal unsigned integer that is the whole of arg: 0 with *out set, or -EINVAL after saying
 * which argument (what) is wrong on stderr. */
int tool_parse_u64(const char *arg, const char *what, uint64_t *out);

/* Sends env to the stage bound at IPC_DIR/<to>.sock on a PUSH socket of its own, waiting up to
 * 5 s for room, and closes it: the socket's linger (CHANNEL_LINGER_MS) delivers it before the
 * process exits, even to a stage that binds a moment later. 0, or -errno (logged). */
int tool_send_one(const char *ipc_dir, const char *to, const envelope_t *env);

/* Hands every envelope waiting on pull to handle (see channel_drain; one that does not decode
 * is logged and counted there) until none is left. */
void tool_drain(zsock_t *pull, const char *from, channel_handler_fn *handle, void *arg);

#endif
