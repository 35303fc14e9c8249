/* json_text: the JSON text of ocpp-core's per-message path, without jansson's per-character
 * work (issue 15: jansson's loader and dumper check UTF-8 one code point at a time and copy
 * every string twice; they were more than half of the core's instructions per MeterValues).
 *
 * json_text_parse reads what json_loadb(JSON_REJECT_DUPLICATES) reads into the same tree, for
 * the texts it is sure of, and gives up (NULL) on anything else: the caller then asks jansson,
 * which accepts or refuses it with its own error text. A tree from here is always the one jansson
 * builds (same types, values and member order; fuzz_core_ocpp checks it against json_loadb).
 *
 * json_buf_* write what json_dumps writes with JSON_COMPACT (and JSON_SORT_KEYS when asked)
 * into one growing buffer, so a message built of several parts is written in one pass. */
#ifndef JSON_TEXT_H
#define JSON_TEXT_H

#include <jansson.h>
#include <stddef.h>
#include <string.h>

#include "json_escape.h"

/* a new reference, or NULL: not certain (malformed, or outside what this reader takes) */
json_t *json_text_parse(const char *text, size_t len);

typedef struct {
    char *p; /* NUL-terminated text, malloc'd; the caller frees it */
    size_t len, cap;
    int oom; /* an allocation failed: the text is incomplete */
} json_buf_t;

void json_buf_grow(json_buf_t *b, size_t n);
/* appends s[0..n): inline, it runs a few hundred times per event */
static inline void json_buf_put(json_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap)
        json_buf_grow(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
void json_buf_str(json_buf_t *b, const char *s); /* s as is (not quoted) */
/* s[0..len) as a JSON string literal, escaped as jansson escapes (valid UTF-8 kept as is) */
void json_buf_string(json_buf_t *b, const char *s, size_t len);
/* s[0..len) as a JSON string literal in the given style of json_escape.h (json_buf_string is
 * JSON_ESCAPE_JANSSON; JSON_ESCAPE_SAFE for text that is not a jansson string) */
void json_buf_string_as(json_buf_t *b, json_escape_style_t style, const char *s, size_t len);
/* v as json_dumps(v, JSON_COMPACT | (sorted ? JSON_SORT_KEYS : 0)) writes it: 0, or -1 where
 * json_dumps fails (NaN, infinity, nested too deep) */
int json_buf_value(json_buf_t *b, const json_t *v, int sorted);

#endif
