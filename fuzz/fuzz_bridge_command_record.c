/* fuzz_bridge_command_record.c: libFuzzer driver for kafka-bridge's command record checks, the
 * parser of every record a backend writes to commands-down (services/kafka-bridge/
 * command_record.c, with command_route.c for the decision). Any input must parse or be refused
 * with a reason, without a crash, a leak or a read outside the input. What parses must route to
 * some decision, and its forwarded copy must parse again with the same command_id, cp_id and
 * action, target_pod set, hops + 1 and the same absolute expiry; a result record must be built
 * for it. What parses has a command_id of at most 79 bytes (ocpp-core's limit) and a cp_id the
 * edge accepts (identity_valid()). The same
 * bytes checked as a traceparent are taken only in the W3C version-00 shape; action and status
 * labels of the duration histogram stay within their bounded sets. Seeds:
 * fuzz/corpus/bridge_command_record/. */
#include "command_record.h"
#include "command_route.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int64_t ts = 1795000000000LL;
    command_record_t r, f;
    char why[128] = "";
    if (command_traceparent_valid((const char *)data, size) &&
        (size != COMMAND_TRACEPARENT_LEN || memcmp(data, "00-", 3) != 0 || data[35] != '-' ||
         data[52] != '-'))
        abort();
    if (command_record_parse((const char *)data, size, ts, 60000, &r, why, sizeof(why)) != 0) {
        if (!why[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    if (!r.command_id[0] || !r.cp_id[0] || !r.action[0])
        abort();
    /* the limits of the other stages: never a command the core or registry would cut */
    if (strlen(r.command_id) > 79 || !identity_valid(r.cp_id, strlen(r.cp_id)) || !r.is_json)
        abort();
    /* bounded labels: the action's own name only when it is one of the known ones */
    const char *al = command_action_label(r.action);
    if (strcmp(al, "other") != 0 && strcmp(al, r.action) != 0)
        abort();
    const char *sl = command_status_label(r.action);
    if (strcmp(sl, "other") != 0 && strcmp(sl, r.action) != 0)
        abort();
    route_input_t in = {.self_pod = "pod-a",
                        .reader_pod = "pod-a",
                        .now_ms = ts,
                        .max_hops = 3,
                        .owner_known = true,
                        .owner = "pod-b",
                        .owner_live = true};
    route_t d = command_route(&r, &in);
    if (strcmp(command_route_name(d), "?") == 0)
        abort();
    size_t len = 0;
    char *fwd = command_forward_json((const char *)data, size, &r, "pod-b", &len);
    if (fwd) {
        if (command_record_parse(fwd, len, ts + 12345, 1, &f, why, sizeof(why)) != 0)
            abort();
        if (strcmp(f.command_id, r.command_id) || strcmp(f.cp_id, r.cp_id) ||
            strcmp(f.action, r.action) || strcmp(f.target_pod, "pod-b") || f.hops != r.hops + 1)
            abort();
        /* expiry kept to the millisecond when it is representable as a date */
        if (r.expires_at_ms >= 0 && r.expires_at_ms < 253402300800000LL &&
            f.expires_at_ms != r.expires_at_ms)
            abort();
        free(fwd);
    }
    char *res =
        command_result_json(r.command_id, r.cp_id, "expired", "hop limit", ts, ts, "pod-a", &len);
    if (!res)
        abort();
    free(res);
    return 0;
}
