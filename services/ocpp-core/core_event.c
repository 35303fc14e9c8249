/* core_event: unified events as CloudEvents JSON. See core_event.h. */
#include "core_event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

static void hex_prefix(const unsigned char *digest, char out[CORE_EVENT_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < CORE_EVENT_ID_LEN / 2; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[CORE_EVENT_ID_LEN] = '\0';
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

int core_event_id(const char *identity, const char *action, const json_t *payload,
                  char out[CORE_EVENT_ID_LEN + 1])
{
    char *canonical = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (!canonical)
        return -ENOMEM;
    const char *parts[] = {identity, action, canonical};
    core_event_id_parts(parts, 3, out);
    free(canonical);
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

char *core_event_build(const core_event_t *ev)
{
    char time_text[32];
    core_event_format_time(ev->time_us, time_text);
    char source[160];
    snprintf(source, sizeof(source), "/ocppgw/%s", ev->pod);

    json_t *data = ev->data ? json_copy(ev->data) : json_object();
    if (!data)
        return NULL;
    if (ev->version) {
        json_t *ocpp = json_pack("{s:s, s:s?, s:s?}", "version", ocpp_version_name(ev->version),
                                 "action", ev->action, "message_id", ev->message_id);
        if (!ocpp || json_object_set_new(data, "ocpp", ocpp) < 0) {
            json_decref(data);
            return NULL;
        }
    }
    json_t *root =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "specversion", "1.0", "id", ev->id,
                  "source", source, "type", ev->type, "subject", ev->identity, "time", time_text,
                  "datacontenttype", "application/json", "data", data);
    if (!root)
        return NULL;
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}
