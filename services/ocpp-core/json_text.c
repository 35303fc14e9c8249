/* json_text: JSON text in and out of ocpp-core's per-message path. See json_text.h. */
#include "json_text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_escape.h"

/* ---- reading ------------------------------------------------------------------------------- */

#define PARSE_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH: deeper is left to it */

typedef struct {
    const unsigned char *s, *end;
    char *scratch; /* decoded strings with escapes */
    size_t scratch_cap;
} rd_t;

static void skip_ws(rd_t *r)
{
    while (r->s < r->end && (*r->s == ' ' || *r->s == '\t' || *r->s == '\n' || *r->s == '\r'))
        r->s++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* the string at r->s (after its opening quote): *out points to its bytes, valid UTF-8 without
 * NUL; in the input when it has no escape, else in r->scratch. -1: not certain. */
static int read_string(rd_t *r, const char **out, size_t *outlen)
{
    const unsigned char *start = r->s, *p = r->s;
    while (p < r->end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80)
        p++;
    if (p < r->end && *p == '"') { /* the common case: plain ASCII, no escape */
        *out = (const char *)start;
        *outlen = (size_t)(p - start);
        r->s = p + 1;
        return 0;
    }
    size_t need = (size_t)(r->end - start); /* escapes only shrink */
    if (need + 1 > r->scratch_cap) {
        char *n = realloc(r->scratch, need + 1);
        if (!n)
            return -1;
        r->scratch = n;
        r->scratch_cap = need + 1;
    }
    char *o = r->scratch;
    memcpy(o, start, (size_t)(p - start));
    o += p - start;
    while (p < r->end) {
        unsigned char c = *p;
        if (c == '"') {
            *out = r->scratch;
            *outlen = (size_t)(o - r->scratch);
            r->s = p + 1;
            return 0;
        }
        if (c < 0x20)
            return -1; /* control character: jansson refuses it */
        if (c >= 0x80) {
            size_t n = json_utf8_sequence_len(p, (size_t)(r->end - p));
            if (!n)
                return -1;
            memcpy(o, p, n);
            o += n;
            p += n;
            continue;
        }
        if (c != '\\') {
            *o++ = (char)c;
            p++;
            continue;
        }
        if (r->end - p < 2)
            return -1;
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
            *o++ = (char)p[1];
            p += 2;
            continue;
        case 'b':
            *o++ = '\b';
            p += 2;
            continue;
        case 'f':
            *o++ = '\f';
            p += 2;
            continue;
        case 'n':
            *o++ = '\n';
            p += 2;
            continue;
        case 'r':
            *o++ = '\r';
            p += 2;
            continue;
        case 't':
            *o++ = '\t';
            p += 2;
            continue;
        case 'u':
            break;
        default:
            return -1;
        }
        unsigned cp, lo;
        if (r->end - p < 6 || hex4(p + 2, &cp) < 0)
            return -1;
        p += 6;
        if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
            return -1; /* NUL (no JSON_ALLOW_NUL) or a lone low surrogate */
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (r->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 ||
                lo < 0xDC00 || lo > 0xDFFF)
                return -1;
            p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        /* the UTF-8 of cp takes at most as many bytes as its escape did */
        if (cp < 0x80) {
            *o++ = (char)cp;
        } else if (cp < 0x800) {
            *o++ = (char)(0xC0 | cp >> 6);
            *o++ = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *o++ = (char)(0xE0 | cp >> 12);
            *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        } else {
            *o++ = (char)(0xF0 | cp >> 18);
            *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
            *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    return -1; /* no closing quote */
}

/* a number as jansson's lexer reads it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, an
 * integer (strtoll) without fraction and exponent, else a real (strtod) */
static json_t *read_number(rd_t *r)
{
    const unsigned char *p = r->s, *start = r->s;
    int real = 0;
    if (p < r->end && *p == '-')
        p++;
    if (p >= r->end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return NULL;
    }
    if (p < r->end && *p == '.') {
        real = 1;
        p++;
        const unsigned char *d = p;
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return NULL;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < r->end && (*p == '+' || *p == '-'))
            p++;
        const unsigned char *d = p;
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return NULL;
    }
    char text[64];
    size_t n = (size_t)(p - start);
    if (n >= sizeof(text))
        return NULL; /* long numbers are jansson's */
    memcpy(text, start, n);
    text[n] = '\0';
    r->s = p;
    errno = 0;
    char *end;
    if (!real) {
        long long v = strtoll(text, &end, 10);
        if (errno || *end)
            return NULL; /* out of range: jansson says which way */
        return json_integer((json_int_t)v);
    }
    double d = strtod(text, &end);
    if (*end || isinf(d) || isnan(d))
        return NULL; /* overflow: jansson refuses it */
    return json_real(d);
}

static json_t *read_value(rd_t *r, int depth);

static json_t *read_object(rd_t *r, int depth)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    skip_ws(r);
    if (r->s < r->end && *r->s == '}') {
        r->s++;
        return obj;
    }
    for (;;) {
        skip_ws(r);
        if (r->s >= r->end || *r->s != '"')
            break;
        r->s++;
        const char *k;
        size_t klen;
        if (read_string(r, &k, &klen) < 0)
            break;
        /* the key may sit in scratch, which the value reuses: jansson copies it on insert,
         * so the value is read first only after a copy (keys are short) */
        char kbuf[128];
        char *key = klen < sizeof(kbuf) ? kbuf : malloc(klen + 1);
        if (!key)
            break;
        memcpy(key, k, klen);
        key[klen] = '\0';
        skip_ws(r);
        json_t *v = NULL;
        int ok = r->s < r->end && *r->s == ':';
        if (ok) {
            r->s++;
            v = read_value(r, depth + 1);
        }
        /* JSON_REJECT_DUPLICATES */
        ok = v && !json_object_getn(obj, key, klen) &&
             json_object_setn_new_nocheck(obj, key, klen, v) == 0;
        if (!ok && v && json_object_getn(obj, key, klen))
            json_decref(v);
        if (key != kbuf)
            free(key);
        if (!ok)
            break;
        skip_ws(r);
        if (r->s < r->end && *r->s == ',') {
            r->s++;
            continue;
        }
        if (r->s < r->end && *r->s == '}') {
            r->s++;
            return obj;
        }
        break;
    }
    json_decref(obj);
    return NULL;
}

static json_t *read_array(rd_t *r, int depth)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    skip_ws(r);
    if (r->s < r->end && *r->s == ']') {
        r->s++;
        return arr;
    }
    for (;;) {
        json_t *v = read_value(r, depth + 1);
        if (!v || json_array_append_new(arr, v) < 0)
            break;
        skip_ws(r);
        if (r->s < r->end && *r->s == ',') {
            r->s++;
            continue;
        }
        if (r->s < r->end && *r->s == ']') {
            r->s++;
            return arr;
        }
        break;
    }
    json_decref(arr);
    return NULL;
}

/* a literal, followed by what may follow a value (no letter: jansson reads "truex" whole) */
static int literal(rd_t *r, const char *word, size_t n)
{
    if ((size_t)(r->end - r->s) < n || memcmp(r->s, word, n) != 0)
        return 0;
    if (r->s + n < r->end && (((r->s[n] | 0x20) >= 'a' && (r->s[n] | 0x20) <= 'z')))
        return 0;
    r->s += n;
    return 1;
}

static json_t *read_value(rd_t *r, int depth)
{
    if (depth > PARSE_MAX_DEPTH)
        return NULL;
    skip_ws(r);
    if (r->s >= r->end)
        return NULL;
    switch (*r->s) {
    case '{':
        r->s++;
        return read_object(r, depth);
    case '[':
        r->s++;
        return read_array(r, depth);
    case '"': {
        r->s++;
        const char *s;
        size_t n;
        return read_string(r, &s, &n) < 0 ? NULL : json_stringn_nocheck(s, n);
    }
    case 't':
        return literal(r, "true", 4) ? json_true() : NULL;
    case 'f':
        return literal(r, "false", 5) ? json_false() : NULL;
    case 'n':
        return literal(r, "null", 4) ? json_null() : NULL;
    default:
        return read_number(r);
    }
}

json_t *json_text_parse(const char *text, size_t len)
{
    rd_t r = {.s = (const unsigned char *)text, .end = (const unsigned char *)text + len};
    skip_ws(&r);
    /* without JSON_DECODE_ANY jansson takes only an array or an object */
    if (r.s >= r.end || (*r.s != '[' && *r.s != '{')) {
        return NULL;
    }
    json_t *v = read_value(&r, 1);
    skip_ws(&r);
    free(r.scratch);
    if (v && r.s != r.end) { /* anything after the value */
        json_decref(v);
        return NULL;
    }
    return v;
}

/* ---- writing ------------------------------------------------------------------------------- */

void json_buf_grow(json_buf_t *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 2048;
    while (b->len + n + 1 > cap)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

void json_buf_str(json_buf_t *b, const char *s)
{
    json_buf_put(b, s, strlen(s));
}

/* s as a JSON string literal in a style of the gateway's one escaper (json_escape.h), written
 * straight into the buffer: room for the string as it is and both quotes first (the common case,
 * no escape, is then one call), more only when escapes made it longer */
void json_buf_string_as(json_buf_t *b, json_escape_style_t style, const char *s, size_t len)
{
    size_t done = 0;
    if (b->len + len + 2 >= b->cap)
        json_buf_grow(b, len + 2);
    if (b->oom)
        return;
    b->p[b->len++] = '"';
    for (;;) {
        size_t consumed;
        b->len += json_escape_as(style, s + done, len - done, b->p + b->len, b->cap - b->len - 1,
                                 &consumed);
        done += consumed;
        if (done == len)
            break;
        json_buf_grow(b, len - done + 6); /* at least one more escape, doubling */
        if (b->oom) {
            b->p[b->len] = '\0'; /* still a string, if an incomplete one */
            return;
        }
    }
    json_buf_put(b, "\"", 1);
}

/* as jansson's dump escapes (JSON_COMPACT, no JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH) */
void json_buf_string(json_buf_t *b, const char *s, size_t len)
{
    json_buf_string_as(b, JSON_ESCAPE_JANSSON, s, len);
}

/* a real as jansson dumps it (jsonp_dtostr, precision 17): "%.17g", ".0" added when it has
 * neither '.' nor 'e', the exponent without '+' and leading zeros */
static int w_real(json_buf_t *b, double v)
{
    if (isnan(v) || isinf(v))
        return -1; /* jansson refuses them too */
    char buf[64];
    int n = snprintf(buf, sizeof(buf) - 3, "%.17g", v);
    if (n < 0 || (size_t)n >= sizeof(buf) - 3)
        return -1;
    size_t len = (size_t)n;
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        memcpy(buf + len, ".0", 3);
        len += 2;
    }
    char *start = strchr(buf, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - buf) + 1);
            len -= (size_t)(end - start);
        }
    }
    json_buf_put(b, buf, len);
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* v as jansson's json_dumps(v, JSON_COMPACT | (sorted ? JSON_SORT_KEYS : 0)); -1 where jansson
 * would fail (NaN, infinity, nesting deeper than it allows) */
static int w_json(json_buf_t *b, const json_t *v, int sorted, int depth)
{
    char num[32];
    if (depth > 2048) /* JSON_PARSER_MAX_DEPTH: the trees here are far shallower */
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        if (n == 0) {
            json_buf_put(b, "{}", 2);
            return 0;
        }
        const char *stack_keys[32];
        const char **keys = n <= 32 ? stack_keys : malloc(n * sizeof(*keys));
        if (!keys)
            return -1;
        size_t k = 0;
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)v, key, member)
        {
            keys[k++] = key;
        }
        if (sorted)
            qsort(keys, k, sizeof(*keys), key_cmp);
        int rc = 0;
        json_buf_put(b, "{", 1);
        for (size_t i = 0; i < k && rc == 0; i++) {
            if (i)
                json_buf_put(b, ",", 1);
            json_buf_string(b, keys[i], strlen(keys[i]));
            json_buf_put(b, ":", 1);
            rc = w_json(b, json_object_get(v, keys[i]), sorted, depth + 1);
        }
        json_buf_put(b, "}", 1);
        if (keys != stack_keys)
            free(keys);
        return rc;
    }
    case JSON_ARRAY: {
        json_buf_put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                json_buf_put(b, ",", 1);
            if (w_json(b, json_array_get(v, i), sorted, depth + 1) < 0)
                return -1;
        }
        json_buf_put(b, "]", 1);
        return 0;
    }
    case JSON_STRING:
        json_buf_string(b, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER:
        json_buf_put(
            b, num,
            (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v)));
        return 0;
    case JSON_REAL:
        return w_real(b, json_real_value(v));
    case JSON_TRUE:
        json_buf_put(b, "true", 4);
        return 0;
    case JSON_FALSE:
        json_buf_put(b, "false", 5);
        return 0;
    case JSON_NULL:
        json_buf_put(b, "null", 4);
        return 0;
    }
    return -1;
}

int json_buf_value(json_buf_t *b, const json_t *v, int sorted)
{
    return w_json(b, v, sorted, 0);
}
