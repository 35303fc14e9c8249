/* fuzz_unified.c: libFuzzer driver for the unified model: what ocpp-core does with a command
 * record from Kafka (unified_command conversion, validation, a result from a response) and
 * with a charge point's payload (unified_event, the CloudEvents text). The first byte picks the
 * version (bit 2: 2.1, else bit 0: 2.0.1 or 1.6) and the mode (bit 1); the rest is JSON:
 *   mode command: a command record; parsed for the version; when accepted, the response is the
 *     record's "response" member (anything), classified and turned into a result;
 *   mode event: {"action": ..., "payload": ...}; converted WITHOUT schema validation (the
 *     converter must survive any payload, although main.c only hands it valid ones), then built.
 * Every path must end with a verdict or text, never a crash, a leak or an invalid JSON output.
 * Seeds: fuzz/corpus/unified/ (the records and payloads of the unit tests). */
#include "core_command.h"
#include "core_event.h"
#include "unified_command.h"
#include "unified_event.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const char *text)
{
    if (!text)
        return;
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        abort(); /* what goes to Kafka is JSON */
    json_decref(j);
}

/* text ends with want then end */
static void ends_with(const char *text, const char *want, const char *end)
{
    if (!text || !want)
        abort();
    size_t tl = strlen(text), wl = strlen(want), el = strlen(end);
    if (tl < wl + el || memcmp(text + tl - wl - el, want, wl) || memcmp(text + tl - el, end, el))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    ocpp_version_t v = data[0] & 4 ? OCPP_V21 : data[0] & 1 ? OCPP_V201 : OCPP_V16;
    if (data[0] & 2) {
        core_command_t *cmd = NULL;
        const char *status = NULL;
        char why[200];
        if (core_command_parse(data + 1, size - 1, v, 1000000, &cmd, &status, why, sizeof(why)) <
            0) {
            if (!status || !why[0] || cmd)
                abort(); /* every refusal has a status and a reason */
            return 0;
        }
        json_t *rec = json_loadb((const char *)data + 1, size - 1, 0, NULL);
        json_t *resp = json_object_get(rec, "response");
        const char *st = core_command_classify(v, cmd, resp ? resp : json_object_get(rec, "x"), why,
                                               sizeof(why));
        char *r = core_command_result(cmd->command_id, "CP", st, cmd, resp, NULL, NULL, NULL, why,
                                      2000000);
        check_json(r);
        free(r);
        json_decref(rec);
        core_command_free(&cmd);
        return 0;
    }
    json_t *in = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    const char *action = json_string_value(json_object_get(in, "action"));
    if (action) {
        json_t *d = NULL;
        const char *type = unified_event(v, action, json_object_get(in, "payload"), 42, &d);
        if (!type)
            abort();
        /* the id as the engine takes it: the natural key's digest, or a new one */
        char id[CORE_EVENT_ID_LEN + 1];
        if (!core_event_natural_id("CP", v, action, json_object_get(in, "payload"), id)) {
            static core_idgen_t ids; /* key all zero: fine for fuzzing */
            core_idgen_event_id(&ids, id);
        }
        if (strlen(id) != CORE_EVENT_ID_LEN)
            abort();
        core_event_t ev = {.type = type,
                           .identity = "CP",
                           .id = id,
                           .pod = "p",
                           .version = v,
                           .action = action,
                           .message_id = "m",
                           .data = d,
                           .raw = json_object_get(in, "payload")};
        char *text = core_event_build(&ev);
        if (!text)
            abort(); /* only out of memory */
        check_json(text);
        free(text);
        /* the one-pass writer writes the bytes jansson's dumper wrote: the data sorted, the raw
         * payload in its order (consumers may hash the text) */
        core_event_t plain = ev;
        plain.version = 0;
        plain.raw = NULL;
        text = core_event_build(&plain);
        char *want = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
        ends_with(text, want, "}");
        free(text);
        free(want);
        plain.data = NULL;
        plain.raw = ev.raw;
        text = core_event_build(&plain);
        want = json_dumps(ev.raw, JSON_COMPACT);
        if (want) {
            size_t cap = strlen(want) + 16;
            char *tail = malloc(cap);
            if (!tail)
                abort();
            snprintf(tail, cap, "{\"raw\":%s}", want);
            ends_with(text, tail, "}");
            free(tail);
        } else {
            ends_with(text, "{}", "}");
        }
        free(text);
        free(want);
        json_decref(d);
    }
    json_decref(in);
    return 0;
}
