/* core-inject: hands one COMMAND envelope to an ocpp-core, as kafka-bridge would, so tests
 * can drive downlink commands without the bridge's consumer (issue 6).
 *
 *   core-inject ENDPOINT IDENTITY COMMAND_ID RECORD_JSON [TOKEN]
 * ENDPOINT is the core's PULL socket (ipc://<ipc_dir>/core-0.sock). The core answers with a
 * RESULT to kafka-bridge, which publishes it on command-results. Exit 0 once sent. */
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "envelope.h"

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: core-inject ENDPOINT IDENTITY COMMAND_ID RECORD_JSON [TOKEN]\n");
        return 2;
    }
    zsys_init();
    zsock_t *push = channel_push_connect(argv[1], 100);
    if (!push)
        return 1;
    envelope_t env = {.type = ENV_COMMAND};
    env.u.command.token = argc == 6 ? strtoull(argv[5], NULL, 10) : 1;
    env.u.command.identity = env_str(argv[2]);
    env.u.command.command_id = env_str(argv[3]);
    env.u.command.record = (env_bin_t){(const uint8_t *)argv[4], strlen(argv[4])};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int rc = envelope_encode(&env, &buf);
    if (rc == 0)
        rc = channel_send_wait(push, buf.data, buf.size, 5000);
    msgpack_sbuffer_destroy(&buf);
    zclock_sleep(100); /* let the message leave before the socket closes */
    zsock_destroy(&push);
    if (rc != 0)
        fprintf(stderr, "core-inject: could not send (%d)\n", rc);
    return rc == 0 ? 0 : 1;
}
