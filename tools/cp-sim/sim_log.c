/* sim_log.c: see sim_log.h. */
#include "sim_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define REF_MAX 128

/* Appends field f as one token: whitespace and control characters become '?' (a checker
 * splits lines on whitespace); an empty or missing field becomes "-". */
static size_t put_token(char *out, size_t cap, size_t at, const char *f)
{
    if (!f || !f[0])
        f = "-";
    for (; *f && at + 1 < cap; f++) {
        unsigned char ch = (unsigned char)*f;
        out[at++] = ch <= ' ' || ch == 0x7f ? '?' : (char)ch;
    }
    return *f ? cap : at; /* cap: did not fit */
}

int sim_log_format(char *out, size_t cap, bool detailed, uint64_t unix_ms, char kind,
                   const char *id, const char *identity, const char *what, const char *ref)
{
    if (cap == 0)
        return -ENOSPC;
    size_t at = 0;
    if (detailed) {
        int n = snprintf(out, cap, "%llu ", (unsigned long long)unix_ms);
        if (n < 0 || (size_t)n >= cap)
            goto nospace;
        at = (size_t)n;
    }
    const char kind_text[2] = {kind, 0};
    const char *fields[5] = {kind_text, id, identity, what, detailed ? ref : NULL};
    for (int i = 0; i < 5; i++) {
        if (i == 4 && !fields[i])
            break;
        if (i > 0) {
            if (at + 1 >= cap)
                goto nospace;
            out[at++] = ' ';
        }
        at = put_token(out, cap, at, fields[i]);
        if (at >= cap)
            goto nospace;
    }
    if (at + 2 > cap)
        goto nospace;
    out[at++] = '\n';
    out[at] = 0;
    return (int)at;
nospace:
    out[0] = 0;
    return -ENOSPC;
}

int sim_log_ref(const char *payload, size_t len, char *out, size_t cap)
{
    snprintf(out, cap, "-");
    json_t *o = payload ? json_loadb(payload, len, 0, NULL) : NULL;
    const char *d = json_string_value(json_object_get(o, "data"));
    size_t n = d ? strlen(d) : 0;
    int found = n > 0 && n <= REF_MAX && n < cap;
    for (size_t i = 0; found && i < n; i++)
        found = d[i] > ' ' && d[i] < 0x7f;
    if (found)
        memcpy(out, d, n + 1);
    json_decref(o);
    return found;
}
