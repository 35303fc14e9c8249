/* core_event: unified events as CloudEvents JSON. See core_event.h. */
#include "core_event.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "json_escape.h"
#include "json_text.h"

#include <openssl/evp.h>

static void hex_prefix(const unsigned char *digest, char out[CORE_EVENT_ID_LEN + 1])
{
    hex_encode(digest, CORE_EVENT_ID_LEN / 2, out);
}

void core_event_id_parts(const char *const *parts, size_t n, char out[CORE_EVENT_ID_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; i < n; i++) {
        const char *p = parts[i] ? parts[i] : "";
        EVP_DigestUpdate(ctx, p, strlen(p) + 1); /* the NUL separates the parts */
    }
    EVP_DigestFinal_ex(ctx, digest, &dlen);
    EVP_MD_CTX_free(ctx);
    hex_prefix(digest, out);
}

/* SHA-256 of the key and the counter, which then moves on */
static void idgen_next(core_idgen_t *g, unsigned char digest[EVP_MAX_MD_SIZE])
{
    unsigned char ctr[8];
    for (int i = 0; i < 8; i++)
        ctr[i] = (unsigned char)(g->counter >> (8 * i));
    g->counter++;
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, g->key, sizeof(g->key));
    EVP_DigestUpdate(ctx, ctr, sizeof(ctr));
    EVP_DigestFinal_ex(ctx, digest, &dlen);
    EVP_MD_CTX_free(ctx);
}

void core_idgen_init(core_idgen_t *g, const unsigned char key[32])
{
    memcpy(g->key, key, sizeof(g->key));
    g->counter = 0;
}

void core_idgen_event_id(core_idgen_t *g, char out[CORE_EVENT_ID_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    idgen_next(g, digest);
    hex_prefix(digest, out);
}

void core_idgen_traceparent(core_idgen_t *g, char out[CORE_TRACEPARENT_LEN + 1])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    idgen_next(g, d);
    d[15] |= 1; /* neither id may be all zero (W3C) */
    d[23] |= 1;
    hex_traceparent(d, 0x01, out); /* sampled */
}

/* n lowercase hex characters, 1 when at least one is not '0' */
static int hex_run(const char *s, size_t n, int *nonzero)
{
    *nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return 0;
        if (ch != '0')
            *nonzero = 1;
    }
    return 1;
}

int core_traceparent_valid(const char *s, size_t len)
{
    int nz;
    if (!s || len < CORE_TRACEPARENT_LEN || s[2] != '-' || s[35] != '-' || s[52] != '-')
        return 0;
    if (!hex_run(s, 2, &nz) || (s[0] == 'f' && s[1] == 'f')) /* version ff is invalid */
        return 0;
    int v00 = s[0] == '0' && s[1] == '0';
    if (v00 ? len != CORE_TRACEPARENT_LEN : len > CORE_TRACEPARENT_LEN && s[55] != '-')
        return 0;
    if (!hex_run(s + 3, 32, &nz) || !nz || !hex_run(s + 36, 16, &nz) || !nz)
        return 0;
    return hex_run(s + 53, 2, &nz);
}

/* A member of the payload (dotted path of at most two names) as text: a string as is, an
 * integer in decimal, anything else (or absent) "" */
static void field_text(const json_t *payload, const char *name, const char *sub, char *out,
                       size_t outlen)
{
    const json_t *v = json_object_get(payload, name);
    if (sub)
        v = json_object_get(v, sub);
    if (json_is_string(v))
        snprintf(out, outlen, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, outlen, "%" PRId64, (int64_t)json_integer_value(v));
    else if (json_is_boolean(v)) /* 2.1 NotifyDERAlarm alarmEnded, NotifyDERStartStop started */
        snprintf(out, outlen, "%s", json_is_true(v) ? "true" : "false");
    else
        out[0] = '\0';
}

#define KEY_PARTS 6
#define PART_MAX  128

int core_event_natural_id(const char *identity, ocpp_version_t version, const char *action,
                          const json_t *payload, char out[CORE_EVENT_ID_LEN + 1])
{
    if (!action || !json_is_object(payload))
        return 0;
    char f[KEY_PARTS][PART_MAX];
    /* the key: the field names below, after identity and action (docs/unified-model.md) */
    static const struct {
        ocpp_version_t version; /* 0: all; OCPP_V201: 2.0.1 and 2.1 (same message) */
        const char *action;
        const char *fields[KEY_PARTS]; /* "a" or "a.b"; NULL ends */
        const char *required;          /* no key without it (a 1.6 status without timestamp) */
    } keys[] = {
        {OCPP_V201, "TransactionEvent", {"transactionInfo.transactionId", "seqNo"}, NULL},
        {OCPP_V16, "StartTransaction", {"timestamp", "connectorId", "idTag"}, NULL},
        {OCPP_V16, "StopTransaction", {"timestamp", "transactionId"}, NULL},
        {OCPP_V16, "MeterValues", {"transactionId", "connectorId"}, "transactionId"},
        {OCPP_V16,
         "StatusNotification",
         {"timestamp", "connectorId", "status", "errorCode"},
         "timestamp"},
        {OCPP_V201,
         "StatusNotification",
         {"timestamp", "evseId", "connectorId", "connectorStatus"},
         "timestamp"},
        {0, "SecurityEventNotification", {"timestamp", "type"}, "timestamp"},
        {OCPP_V201, "NotifyEvent", {"generatedAt", "seqNo"}, NULL},
        {OCPP_V201, "NotifyReport", {"requestId", "generatedAt", "seqNo"}, NULL},
        {OCPP_V21,
         "NotifyDERAlarm",
         {"timestamp", "controlType", "gridEventFault", "alarmEnded"},
         NULL},
        {OCPP_V21, "NotifyDERStartStop", {"controlId", "started", "timestamp"}, NULL},
        {OCPP_V21, "BatterySwap", {"requestId", "eventType"}, NULL},
        {OCPP_V21, "NotifySettlement", {"pspRef", "status", "settlementTime"}, NULL},
    };
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        ocpp_version_t kv = keys[k].version;
        int applies = !kv || kv == version || (kv == OCPP_V201 && version == OCPP_V21);
        if (!applies || strcmp(keys[k].action, action))
            continue;
        if (keys[k].required && !json_object_get(payload, keys[k].required))
            return 0;
        const char *parts[KEY_PARTS + 3] = {identity, action};
        size_t n = 2;
        for (size_t i = 0; i < KEY_PARTS && keys[k].fields[i]; i++) {
            char name[64];
            snprintf(name, sizeof(name), "%s", keys[k].fields[i]);
            char *dot = strchr(name, '.');
            if (dot)
                *dot++ = '\0';
            field_text(payload, name, dot, f[i], sizeof(f[i]));
            parts[n++] = f[i];
        }
        /* 1.6 MeterValues: the timestamps of its samples tell one report from the next */
        json_buf_t stamps = {0}; /* not an open_memstream FILE: one buffer (issue 15) */
        if (version == OCPP_V16 && strcmp(action, "MeterValues") == 0) {
            size_t i;
            const json_t *mv;
            json_buf_put(&stamps, "", 0);
            json_array_foreach(json_object_get(payload, "meterValue"), i, mv)
            {
                json_buf_str(&stamps, json_string_value(json_object_get(mv, "timestamp")) ?: "");
                json_buf_put(&stamps, ",", 1);
            }
            if (stamps.oom) {
                free(stamps.p);
                return 0;
            }
            parts[n++] = stamps.p;
        }
        core_event_id_parts(parts, n, out);
        free(stamps.p);
        return 1;
    }
    return 0;
}

void core_event_format_time(uint64_t time_us, char out[32])
{
    time_t secs = (time_t)(time_us / 1000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)((time_us / 1000u) % 1000u));
}

/* ---- the CloudEvent in one pass -----------------------------------------------------------
 *
 * The event is written into one growing buffer: the envelope, then the data tree walked by
 * json_buf_value (json_text.c)
 * (not json_dumps into a second string copied through an open_memstream FILE: jansson's dumper
 * checks UTF-8 one code point at a time and the stream locked per call, together 35 % of the
 * core's instructions per MeterValues, issue 15). The bytes are jansson's JSON_COMPACT |
 * JSON_SORT_KEYS for the data and JSON_COMPACT for data.raw, as before: strings escaped as
 * jansson does (its strings are valid UTF-8, kept as is), reals by jansson's "%.17g" rule. */

/* an attribute of the envelope, in json_escape's safe style as it always was (0x7F escaped, invalid
 * UTF-8 replaced: the identity and the pod are not jansson strings) */
static void w_cstr(json_buf_t *b, const char *s)
{
    json_buf_string_as(b, JSON_ESCAPE_SAFE, s ? s : "", s ? strlen(s) : 0);
}

char *core_event_build(const core_event_t *ev)
{
    if (!ev->id || !ev->type)
        return NULL;
    char time_text[32];
    core_event_format_time(ev->time_us, time_text);
    json_buf_t b = {0};
    json_buf_str(&b, "{\"specversion\":\"1.0\",\"id\":");
    w_cstr(&b, ev->id);
    char source[160];
    snprintf(source, sizeof(source), "/ocppgw/%s", ev->pod);
    json_buf_str(&b, ",\"source\":");
    w_cstr(&b, source);
    json_buf_str(&b, ",\"type\":");
    w_cstr(&b, ev->type);
    json_buf_str(&b, ",\"subject\":");
    w_cstr(&b, ev->identity);
    json_buf_str(&b, ",\"time\":\"");
    json_buf_str(&b, time_text);
    json_buf_str(&b, "\",\"datacontenttype\":\"application/json\"");
    char schema[160];
    snprintf(schema, sizeof(schema), CORE_EVENT_SCHEMA_BASE "event-%s.json", ev->type);
    json_buf_str(&b, ",\"dataschema\":");
    w_cstr(&b, schema);
    json_buf_str(&b, ",\"data\":");
    int rc = 0;
    size_t data_at = b.len;
    if (ev->data)
        rc = json_buf_value(&b, ev->data, 1);
    else
        json_buf_put(&b, "{}", 2);
    if (rc == 0 && (ev->version || ev->raw)) {
        int empty = b.len - data_at <= 2;
        b.len--; /* without the closing brace (data is an object) */
        if (ev->version) {
            json_buf_str(&b, empty ? "" : ",");
            json_buf_str(&b, "\"ocpp\":{\"version\":\"");
            json_buf_str(&b, ocpp_version_name(ev->version));
            json_buf_str(&b, "\",\"action\":");
            w_cstr(&b, ev->action);
            json_buf_str(&b, ",\"message_id\":");
            w_cstr(&b, ev->message_id);
            json_buf_put(&b, "}", 1);
            empty = 0;
        }
        /* as json_dumps without JSON_ENCODE_ANY did: a raw that is not a container is left out */
        if (ev->raw && (json_is_object(ev->raw) || json_is_array(ev->raw))) {
            size_t before = b.len;
            json_buf_str(&b, empty ? "\"raw\":" : ",\"raw\":");
            if (json_buf_value(&b, ev->raw, 0) < 0)
                b.len = before; /* as before: a raw payload that cannot be dumped is left out */
        }
        json_buf_put(&b, "}", 1);
    }
    json_buf_put(&b, "}", 1);
    if (rc < 0 || b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
