/* send.c: the envelope-tool subcommands that hand one envelope to a stage and exit.
 *
 *   envelope-tool takeover IPC_DIR POD EPOCH ACTIVE(0|1)
 *       one TAKEOVER to IPC_DIR/bridge.sock, as redis-registry sends it when POD's lease
 *       expired (ACTIVE 1) or when the takeover of POD must stop (ACTIVE 0).
 *   envelope-tool command IPC_DIR IDENTITY COMMAND_ID RECORD_JSON [TOKEN]
 *       one COMMAND (token TOKEN, default 1) to IPC_DIR/core-0.sock, as kafka-bridge hands a
 *       downlink command to the core that holds IDENTITY, so tests can drive commands without
 *       the bridge's consumer. The core answers with a RESULT to kafka-bridge, which publishes
 *       it on command-results.
 * Exit 0 once the envelope is handed over, 1 when it could not be, 2 on bad arguments. */
#include <string.h>

#include "envelope_tool.h"

int tool_takeover(int argc, char **argv)
{
    envelope_t env = {.type = ENV_TAKEOVER};
    if (tool_parse_u64(argv[2], "EPOCH", &env.u.takeover.epoch) < 0)
        return 2;
    env.u.takeover.pod = env_str(argv[1]);
    env.u.takeover.active = strcmp(argv[3], "0") != 0;
    return tool_send_one(argv[0], "bridge", &env) == 0 ? 0 : 1;
}

int tool_command(int argc, char **argv)
{
    envelope_t env = {.type = ENV_COMMAND};
    env.u.command.token = 1;
    if (argc > 4 && tool_parse_u64(argv[4], "TOKEN", &env.u.command.token) < 0)
        return 2;
    env.u.command.identity = env_str(argv[1]);
    env.u.command.command_id = env_str(argv[2]);
    env.u.command.record = (env_bin_t){(const uint8_t *)argv[3], strlen(argv[3])};
    return tool_send_one(argv[0], "core-0", &env) == 0 ? 0 : 1;
}
