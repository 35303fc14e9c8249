/* ctl.c: see ctl.h. */
#include "ctl.h"

#include "hex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

int ctl_produce_line(char *line, int32_t *partition, char **key, char **value, char *why,
                     size_t whylen)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    char *t1 = strchr(line, '\t');
    char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (!t2) {
        snprintf(why, whylen, "expected <partition>TAB<key>TAB<value>");
        return -EINVAL;
    }
    *t1 = '\0';
    *t2 = '\0';
    *key = t1 + 1;
    *value = t2 + 1;
    if (strcmp(line, "-") == 0) {
        if (!**key) {
            snprintf(why, whylen, "partition '-' (by key) needs a key");
            return -EINVAL;
        }
        *partition = -1;
        return 0;
    }
    char *end;
    errno = 0;
    long long p = strtoll(line, &end, 10);
    if (!line[0] || *end || errno || p < 0 || p > INT32_MAX || line[0] == '+' || line[0] == ' ') {
        snprintf(why, whylen, "partition '%.32s' is not a number 0..%d or '-'", line, INT32_MAX);
        return -EINVAL;
    }
    *partition = (int32_t)p;
    return 0;
}

int ctl_status_exit(const char *s)
{
    static const struct {
        const char *name;
        int code;
    } map[] = {{"accepted", CTL_OK},
               {"rejected", CTL_REJECTED},
               {"ocpp_error", CTL_OCPP_ERROR},
               {"timeout", CTL_TIMEOUT},
               {"expired", CTL_EXPIRED},
               {"invalid", CTL_INVALID},
               {"unsupported", CTL_UNSUPPORTED}};
    for (size_t i = 0; s && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(s, map[i].name) == 0)
            return map[i].code;
    return CTL_OTHER_STATUS;
}

void ctl_uuid(const uint8_t rnd[16], char out[37])
{
    uint8_t b[16];
    memcpy(b, rnd, 16);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        o += hex_encode(b + i, 1, out + o);
    }
}

int ctl_check_payload(const char *text, char *why, size_t whylen)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        snprintf(why, whylen, "line %d column %d: %s", e.line, e.column, e.text);
        return -EINVAL;
    }
    int rc = json_is_object(j) ? 0 : -EINVAL;
    if (rc)
        snprintf(why, whylen, "the payload must be a JSON object");
    json_decref(j);
    return rc;
}

char *ctl_command_record(const char *command_id, const char *cp_id, const char *target_pod,
                         const char *action, const char *payload, int64_t ttl_ms, uint64_t now_ms)
{
    json_t *p = json_loads(payload, 0, NULL);
    if (!json_is_object(p)) {
        json_decref(p);
        return NULL;
    }
    json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:o}", "command_id", command_id, "cp_id", cp_id,
                          "target_pod", target_pod, "action", action, "payload", p);
    if (!r)
        return NULL;
    if (ttl_ms > 0) {
        uint64_t at = now_ms + (uint64_t)ttl_ms;
        time_t secs = (time_t)(at / 1000);
        struct tm tm;
        char ts[40];
        gmtime_r(&secs, &tm);
        size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + n, sizeof(ts) - n, ".%03uZ", (unsigned)(at % 1000));
        json_object_set_new(r, "ttl_ms", json_integer(ttl_ms));
        json_object_set_new(r, "expires_at", json_string(ts));
    }
    char *out = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return out;
}

bool ctl_result_matches(const char *value, size_t len, const char *command_id, char *status,
                        size_t cap)
{
    json_t *j = json_loadb(value, len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "command_id"));
    bool match = id && strcmp(id, command_id) == 0;
    if (match) {
        const char *st = json_string_value(json_object_get(j, "status"));
        snprintf(status, cap, "%s", st ? st : "");
    }
    json_decref(j);
    return match;
}

bool ctl_event_print(const char *key, size_t klen, const char *value, size_t vlen,
                     const char *identity, const char *type, FILE *out)
{
    if (identity && (!key || klen != strlen(identity) || memcmp(key, identity, klen) != 0))
        return false;
    json_t *j = json_loadb(value, vlen, 0, NULL);
    const char *t = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !t) {
        json_decref(j);
        if (type)
            return false;
        fprintf(out, "<unparsable event> key=%.*s %.*s\n", (int)klen, key ? key : "", (int)vlen,
                value);
        return true;
    }
    if (type && strcmp(type, t) != 0) {
        json_decref(j);
        return false;
    }
    const char *time = json_string_value(json_object_get(j, "time"));
    const char *subject = json_string_value(json_object_get(j, "subject"));
    char *data = json_dumps(json_object_get(j, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(out, "%-24s  %-20s  %-26s  %s\n", time ? time : "-", subject ? subject : "-", t,
            data ? data : "{}");
    free(data);
    json_decref(j);
    return true;
}

void ctl_format_us(const char *us_text, char out[32])
{
    char *end;
    unsigned long long us = us_text ? strtoull(us_text, &end, 10) : 0;
    if (!us_text || end == us_text || us == 0) {
        snprintf(out, 32, "%s", us_text ? us_text : "-");
        return;
    }
    time_t secs = (time_t)(us / 1000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)((us / 1000u) % 1000u));
}

long ctl_lease_registrations(const char *value)
{
    json_t *j = json_loads(value ? value : "", 0, NULL);
    json_t *r = json_object_get(j, "registrations");
    long n = json_is_integer(r) ? (long)json_integer_value(r) : -1;
    json_decref(j);
    return n;
}

int64_t ctl_parse_duration_ms(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || v < 0 || v > 1e12)
        return -1;
    if (strcmp(end, "ms") == 0)
        return (int64_t)v;
    if (*end == '\0' || strcmp(end, "s") == 0)
        return (int64_t)(v * 1000);
    if (strcmp(end, "m") == 0)
        return (int64_t)(v * 60000);
    return -1;
}
