/* envelope-tool: plays one stage's peers over envelopes, for the integration tests and the
 * benchmarks (tests/integration/, bench/). A test double: built by `make tests` and `make bench`
 * into $(BUILD)/tests/bin, never shipped.
 *
 *   envelope-tool events   IPC_DIR COUNT TOPIC [TIMEOUT_S] [RUN_TAG]   (events.c)
 *   envelope-tool takeover IPC_DIR POD EPOCH ACTIVE                    (send.c)
 *   envelope-tool command  IPC_DIR IDENTITY COMMAND_ID RECORD_JSON [TOKEN]  (send.c)
 *   envelope-tool registry IPC_DIR CORE_COUNT                          (registry.c)
 *   envelope-tool creds    IPC_DIR EDGE_ID [registry]                  (creds.c)
 *   envelope-tool core     IPC_DIR [HWM]                               (core.c)
 * Each source file's first comment says what its subcommand does and prints. */
#include <stdio.h>
#include <string.h>

#include "envelope_tool.h"

static const struct {
    const char *name;
    int min_args, max_args; /* after the subcommand's name, IPC_DIR included */
    const char *args;
    const char *what;
    tool_run_fn *run;
} SUBCOMMANDS[] = {
    {"events", 3, 5, "IPC_DIR COUNT TOPIC [TIMEOUT_S] [RUN_TAG]",
     "plays ocpp-core 0 towards a kafka-bridge: COUNT EVENTs, counts their EVENT_ACKs",
     tool_events},
    {"takeover", 4, 4, "IPC_DIR POD EPOCH ACTIVE",
     "one TAKEOVER to a kafka-bridge, as redis-registry sends it", tool_takeover},
    {"command", 4, 5, "IPC_DIR IDENTITY COMMAND_ID RECORD_JSON [TOKEN]",
     "one COMMAND to ocpp-core 0, as kafka-bridge hands it", tool_command},
    {"registry", 2, 2, "IPC_DIR CORE_COUNT",
     "plays the cores and kafka-bridge towards a redis-registry (stdin in, stdout out)",
     tool_registry},
    {"creds", 2, 3, "IPC_DIR EDGE_ID [registry]",
     "plays redis-registry's credential sync towards a ws-edge (stdin in, stdout out)", tool_creds},
    {"core", 1, 2, "IPC_DIR [HWM]", "plays ocpp-core 0 towards a ws-edge (stdin in, stdout out)",
     tool_core},
};
#define NSUBCOMMANDS (sizeof(SUBCOMMANDS) / sizeof(SUBCOMMANDS[0]))

/* Prints the usage of subcommand `only`, or of all when it is NULL; returns 2 (the exit status). */
static int usage(const char *only)
{
    fprintf(stderr, "usage:\n");
    for (size_t i = 0; i < NSUBCOMMANDS; i++)
        if (!only || strcmp(only, SUBCOMMANDS[i].name) == 0)
            fprintf(stderr, "  envelope-tool %s %s\n      %s\n", SUBCOMMANDS[i].name,
                    SUBCOMMANDS[i].args, SUBCOMMANDS[i].what);
    return 2;
}

int main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* SIGINT and SIGTERM end the tool at once */
    for (size_t i = 0; argc >= 2 && i < NSUBCOMMANDS; i++) {
        if (strcmp(argv[1], SUBCOMMANDS[i].name) != 0)
            continue;
        int nargs = argc - 2;
        if (nargs < SUBCOMMANDS[i].min_args || nargs > SUBCOMMANDS[i].max_args)
            return usage(argv[1]);
        int rc = SUBCOMMANDS[i].run(nargs, argv + 2);
        return rc == 2 ? usage(argv[1]) : rc;
    }
    return usage(NULL);
}
