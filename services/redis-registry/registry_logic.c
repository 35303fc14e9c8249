/* registry_logic: pure decisions of redis-registry. See registry_logic.h. */
#include "registry_logic.h"

#include "hex.h"
#include "json_escape.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

static int parse_u64(const char *p, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EINVAL;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int registry_superseded_parse(const char *payload, size_t len, registry_superseded_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *end = payload + len;
    const char *s1 = memchr(payload, ' ', len);
    if (!s1 || parse_u64(payload, (size_t)(s1 - payload), &out->epoch) < 0 || out->epoch == 0)
        return -EINVAL;
    const char *s2 = memchr(s1 + 1, ' ', (size_t)(end - s1 - 1));
    if (!s2 || parse_u64(s1 + 1, (size_t)(s2 - s1 - 1), &out->conn_id) < 0)
        return -EINVAL;
    const char *last = end;
    while (last > s2 && last[-1] != ' ')
        last--;
    if (last <= s2 + 1) /* no room for a pod between the second and the last space */
        return -EINVAL;
    size_t pod_len = (size_t)(last - 1 - (s2 + 1));
    size_t id_len = (size_t)(end - last);
    if (pod_len == 0 || pod_len >= sizeof(out->by_pod) || id_len == 0 ||
        id_len >= sizeof(out->identity))
        return -EINVAL;
    memcpy(out->by_pod, s2 + 1, pod_len);
    memcpy(out->identity, last, id_len);
    if (memchr(out->identity, '\0', id_len) || memchr(out->by_pod, '\0', pod_len))
        return -EINVAL;
    return 0;
}

int registry_takeover_step(uint64_t *held, const char *state, uint64_t epoch, uint64_t *stop_epoch)
{
    bool ours = (strcmp(state, "won") == 0 || strcmp(state, "held") == 0) && epoch != 0;
    int actions = 0;
    if (ours && *held == epoch)
        return 0;
    if (*held != 0) {
        *stop_epoch = *held;
        actions |= REGISTRY_TAKEOVER_STOP;
        *held = 0;
    }
    if (ours) {
        *held = epoch;
        actions |= REGISTRY_TAKEOVER_START;
    }
    return actions;
}

bool registry_busy_update(bool *busy, size_t queued, size_t limit)
{
    bool next = *busy ? queued >= limit / 2 : queued >= limit;
    if (next == *busy)
        return false;
    *busy = next;
    return true;
}

/* Appends s as a JSON string (quotes included) to buf at *pos; false if it does not fit. */
static bool json_string(char *buf, size_t cap, size_t *pos, const char *s)
{
    size_t len = strlen(s), consumed;
    if (*pos + 2 >= cap)
        return false;
    buf[(*pos)++] = '"';
    *pos += json_escape(s, len, buf + *pos, cap - *pos - 2, &consumed);
    if (consumed < len)
        return false;
    buf[(*pos)++] = '"';
    buf[*pos] = '\0';
    return true;
}

static bool json_raw(char *buf, size_t cap, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (*pos + n + 1 > cap)
        return false;
    memcpy(buf + *pos, s, n + 1);
    *pos += n;
    return true;
}

/* SHA-256 over the event's natural key: "device.disconnected", identity, kind, epoch. */
static void disconnect_digest(const registry_disconnect_t *d,
                              unsigned char md[SHA256_DIGEST_LENGTH])
{
    char key[256];
    int n = snprintf(key, sizeof(key), "device.disconnected\n%s\n%s\n%" PRIu64, d->identity,
                     d->kind, d->epoch);
    SHA256((const unsigned char *)key, n < (int)sizeof(key) ? (size_t)n : sizeof(key) - 1, md);
}

void registry_event_disconnect_id(const registry_disconnect_t *d, char out[33])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    disconnect_digest(d, md);
    hex_encode(md, 16, out);
}

void registry_event_disconnect_traceparent(const registry_disconnect_t *d,
                                           char out[REGISTRY_TRACEPARENT_LEN + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    disconnect_digest(d, md);
    md[15] |= 1; /* neither id may be all zero (W3C) */
    md[23] |= 1;
    hex_traceparent(md, 0x01, out); /* sampled */
}

char *registry_event_disconnect(const registry_disconnect_t *d)
{
    char id[33], source[160], when[40], reason[512];
    registry_event_disconnect_id(d, id);
    snprintf(source, sizeof(source), "/ocppgw/%s", d->by_pod);
    time_t secs = (time_t)(d->time_us / 1000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03uZ", (unsigned)((d->time_us / 1000u) % 1000u));
    /* data has exactly the schema's fields (close_code, reason): which pod held the mapping, its
     * epoch and who released it go into the reason's text */
    snprintf(reason, sizeof(reason), "%s (pod %s, epoch %" PRIu64 ", released by %s)", d->reason,
             d->pod, d->epoch, d->by_pod);

    size_t cap = 512 + 6 * (strlen(d->identity) + strlen(reason) + strlen(d->by_pod));
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t pos = 0;
    bool ok = json_raw(buf, cap, &pos, "{\"specversion\":\"1.0\",\"id\":") &&
              json_string(buf, cap, &pos, id) && json_raw(buf, cap, &pos, ",\"source\":") &&
              json_string(buf, cap, &pos, source) &&
              json_raw(buf, cap, &pos, ",\"type\":\"device.disconnected\",\"subject\":") &&
              json_string(buf, cap, &pos, d->identity) && json_raw(buf, cap, &pos, ",\"time\":") &&
              json_string(buf, cap, &pos, when) &&
              json_raw(buf, cap, &pos,
                       ",\"datacontenttype\":\"application/"
                       "json\",\"dataschema\":\"" REGISTRY_DISCONNECTED_SCHEMA
                       "\",\"data\":{\"close_code\":1006,\"reason\":") &&
              json_string(buf, cap, &pos, reason) && json_raw(buf, cap, &pos, "}}");
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

char *registry_event_disconnected(const char *identity, const char *dead_pod, const char *by_pod,
                                  uint64_t epoch, uint64_t time_us)
{
    registry_disconnect_t d = {.identity = identity,
                               .pod = dead_pod,
                               .by_pod = by_pod,
                               .epoch = epoch,
                               .time_us = time_us,
                               .kind = "swept",
                               .reason = "pod lease expired"};
    return registry_event_disconnect(&d);
}

int registry_send_disconnect(int (*send)(void *arg, const envelope_t *env), void *arg,
                             const char *topic, const registry_disconnect_t *d)
{
    char *value = registry_event_disconnect(d);
    if (!value)
        return -ENOMEM;
    char id[33], traceparent[REGISTRY_TRACEPARENT_LEN + 1];
    registry_event_disconnect_id(d, id);
    registry_event_disconnect_traceparent(d, traceparent);
    envelope_t env = {.type = ENV_EVENT};
    env.u.event.core_id = 0;
    env.u.event.token = 0;
    env.u.event.topic = env_str(topic);
    env.u.event.key = env_str(d->identity);
    env.u.event.headers.count = 4;
    env.u.event.headers.items[0] =
        (env_header_t){env_str("ce_type"), env_str("device.disconnected")};
    env.u.event.headers.items[1] = (env_header_t){env_str("ce_id"), env_str(id)};
    /* the CloudEvents Kafka binding's structured mode, as ocpp-core's events */
    env.u.event.headers.items[2] = (env_header_t){
        env_str("content-type"), env_str("application/cloudevents+json; charset=UTF-8")};
    /* W3C trace context, as on every connection event (docs/unified-model.md) */
    env.u.event.headers.items[3] = (env_header_t){env_str("traceparent"), env_str(traceparent)};
    env.u.event.value = (env_bin_t){(const uint8_t *)value, strlen(value)};
    int rc = send(arg, &env);
    free(value);
    return rc;
}

void registry_item_free(void **item)
{
    free(*item);
    *item = NULL;
}

void *registry_item_strdup(const void *item)
{
    return strdup(item);
}
