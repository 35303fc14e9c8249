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

void core_event_format_time(uint64_t time_us, char out[32])
{
    time_t secs = (time_t)(time_us / 1000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)((time_us / 1000u) % 1000u));
}

/* appends s as a JSON string literal */
static void put_json_string(FILE *f, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f), fputc(*p, f);
        else if (*p < 0x20)
            fprintf(f, "\\u00%c%c", hex[*p >> 4], hex[*p & 15]);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

char *core_event_build(core_event_t *ev)
{
    /* the data, serialised once: the text is both hashed (content id) and sent */
    char *data = ev->data ? json_dumps(ev->data, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    if (!data)
        return NULL;
    const char *id = ev->id;
    if (!id) {
        const char *parts[] = {ev->identity, ev->action, data};
        core_event_id_parts(parts, 3, ev->content_id);
        id = ev->content_id;
    }
    char time_text[32];
    core_event_format_time(ev->time_us, time_text);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) {
        free(data);
        return NULL;
    }
    fputs("{\"specversion\":\"1.0\",\"id\":", f);
    put_json_string(f, id);
    char source[160];
    snprintf(source, sizeof(source), "/ocppgw/%s", ev->pod);
    fputs(",\"source\":", f);
    put_json_string(f, source);
    fputs(",\"type\":", f);
    put_json_string(f, ev->type);
    fputs(",\"subject\":", f);
    put_json_string(f, ev->identity);
    fprintf(f, ",\"time\":\"%s\",\"datacontenttype\":\"application/json\",\"data\":", time_text);
    size_t dlen = strlen(data);
    int empty = dlen <= 2;
    if (!ev->version && !ev->raw) {
        fputs(data, f);
    } else {
        fwrite(data, 1, dlen - 1, f); /* without the closing brace */
        if (ev->version) {
            fputs(empty ? "" : ",", f);
            fprintf(f, "\"ocpp\":{\"version\":\"%s\",\"action\":", ocpp_version_name(ev->version));
            put_json_string(f, ev->action);
            fputs(",\"message_id\":", f);
            put_json_string(f, ev->message_id);
            fputc('}', f);
            empty = 0;
        }
        if (ev->raw) {
            char *raw = json_dumps(ev->raw, JSON_COMPACT);
            if (raw) {
                fprintf(f, "%s\"raw\":%s", empty ? "" : ",", raw);
                free(raw);
            }
        }
        fputc('}', f);
    }
    fputc('}', f);
    free(data);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
