/* ocpp_schema: walks the generated schema tables. See ocpp_schema.h and
 * docs/ocpp-core.md ("Validation errors -> OCPP error codes") for the error mapping. */
#include "ocpp_schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int version_rank(ocpp_version_t v)
{
    return v == OCPP_V16 ? 0 : v == OCPP_V201 ? 1 : 2;
}

const ocpp_schema_msg_t *ocpp_schema_find(ocpp_version_t version, const char *action)
{
    const ocpp_schema_msg_t *m = OCPP_SCHEMA_TABLES.messages;
    size_t lo = 0, hi = OCPP_SCHEMA_TABLES.message_count;
    int rank = version_rank(version);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = version_rank(m[mid].version) - rank;
        if (c == 0)
            c = strcmp(m[mid].action, action);
        if (c == 0)
            return &m[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The path to the value being checked, as pointers: formatted only when a check fails, so a
 * valid message costs no string work. */
#define MAX_DEPTH 40

typedef struct {
    ocpp_verr_t *e;
    int depth;
    struct {
        const char *name; /* NULL: array index */
        size_t index;
    } seg[MAX_DEPTH];
} walk_t;

static void push(walk_t *w, const char *name, size_t index)
{
    if (w->depth < MAX_DEPTH) {
        w->seg[w->depth].name = name;
        w->seg[w->depth].index = index;
    }
    w->depth++;
}

static void pop(walk_t *w)
{
    w->depth--;
}

static int fail(walk_t *w, ocpp_error_t err, const char *rule)
{
    char *p = w->e->path;
    size_t cap = sizeof(w->e->path), len = 0;
    p[0] = '\0';
    for (int i = 0; i < w->depth && i < MAX_DEPTH && len < cap - 1; i++) {
        int n = w->seg[i].name ? snprintf(p + len, cap - len, "/%s", w->seg[i].name)
                               : snprintf(p + len, cap - len, "/%zu", w->seg[i].index);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    w->e->err = err;
    size_t n = strlen(p);
    if (n > 100)
        n = 100; /* keep room for the rule */
    snprintf(w->e->why, sizeof(w->e->why), "%.*s: %s", (int)(n ? n : 7), n ? p : "payload", rule);
    return -1;
}

/* UTF-8 code points (jansson guarantees valid UTF-8) */
static size_t code_points(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

int ocpp_schema_is_datetime(const char *s, size_t len)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec;
    if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return 0;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return 0;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == len;
    int oh, om;
    if (i + 6 != len || (s[i] != '+' && s[i] != '-') || !digits(s + i + 1, 2, &oh) ||
        s[i + 3] != ':' || !digits(s + i + 4, 2, &om))
        return 0;
    return oh <= 23 && om <= 59;
}

/* RFC 3986 absolute URI: scheme ":" then no space or control character */
static int is_uri(const char *s, size_t len)
{
    size_t i = 0;
    if (len == 0 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return 0;
    while (i < len && s[i] != ':') {
        char c = s[i];
        if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '-' || c == '.'))
            return 0;
        i++;
    }
    if (i == len)
        return 0;
    for (; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == '"' || s[i] == '<' || s[i] == '>' ||
            s[i] == '\\' || s[i] == '^' || s[i] == '`' || s[i] == '{' || s[i] == '|' ||
            s[i] == '}' || (unsigned char)s[i] == 0x7f)
            return 0;
    return 1;
}

static int check(walk_t *w, const os_node_t *n, const json_t *v, int depth);

static int check_object(walk_t *w, const os_node_t *n, const json_t *v, int depth)
{
    const os_prop_t *props = OCPP_SCHEMA_TABLES.props + n->first;
    size_t seen = 0;
    for (uint16_t i = 0; i < n->nprops; i++) {
        const json_t *child = json_object_get(v, props[i].name);
        push(w, props[i].name, 0);
        if (!child) {
            if (props[i].required)
                return fail(w, OCPP_ERR_OCCURRENCE, "required property missing");
        } else {
            seen++;
            if (check(w, &OCPP_SCHEMA_TABLES.nodes[props[i].node], child, depth + 1) < 0)
                return -1;
        }
        pop(w);
    }
    if (!n->additional && seen != json_object_size(v)) {
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            int known = 0;
            for (uint16_t i = 0; i < n->nprops && !known; i++)
                known = strcmp(props[i].name, key) == 0;
            if (!known) {
                push(w, key, 0);
                return fail(w, OCPP_ERR_FORMAT, "property not allowed by the schema");
            }
        }
    }
    return 0;
}

static int check_number(walk_t *w, const os_node_t *n, double x)
{
    if (n->has_min && x < n->minimum)
        return fail(w, OCPP_ERR_PROPERTY, "below the minimum");
    if (n->has_max && x > n->maximum)
        return fail(w, OCPP_ERR_PROPERTY, "above the maximum");
    if (n->multiple_of > 0) {
        double q = x / n->multiple_of;
        if (fabs(q - round(q)) > 1e-6)
            return fail(w, OCPP_ERR_PROPERTY, "not a multiple of the schema's multipleOf");
    }
    return 0;
}

static int check(walk_t *w, const os_node_t *n, const json_t *v, int depth)
{
    if (depth > 32)
        return fail(w, OCPP_ERR_FORMAT, "nesting too deep");
    switch ((os_kind_t)n->kind) {
    case OS_OBJECT:
        if (!json_is_object(v))
            return fail(w, OCPP_ERR_TYPE, "expected an object");
        return check_object(w, n, v, depth);
    case OS_ARRAY: {
        if (!json_is_array(v))
            return fail(w, OCPP_ERR_TYPE, "expected an array");
        size_t count = json_array_size(v);
        if (n->min_len >= 0 && count < (size_t)n->min_len)
            return fail(w, OCPP_ERR_OCCURRENCE, "too few items");
        if (n->max_len >= 0 && count > (size_t)n->max_len)
            return fail(w, OCPP_ERR_OCCURRENCE, "too many items");
        const os_node_t *item = &OCPP_SCHEMA_TABLES.nodes[n->items];
        for (size_t i = 0; i < count; i++) {
            push(w, NULL, i);
            if (check(w, item, json_array_get(v, i), depth + 1) < 0)
                return -1;
            pop(w);
        }
        return 0;
    }
    case OS_STRING: {
        if (!json_is_string(v))
            return fail(w, OCPP_ERR_TYPE, "expected a string");
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (n->nenum) {
            const char *const *values = OCPP_SCHEMA_TABLES.enums + n->first;
            /* an embedded NUL never matches (and must not let the compare run past a value) */
            for (uint16_t i = 0; i < n->nenum && strlen(s) == len; i++)
                if (values[i][0] == s[0] && strncmp(values[i], s, len) == 0 &&
                    values[i][len] == '\0')
                    return 0;
            return fail(w, OCPP_ERR_PROPERTY, "value not in the enumeration");
        }
        if (n->max_len >= 0 || n->min_len >= 0) {
            size_t cp = code_points(s, len);
            if (n->max_len >= 0 && cp > (size_t)n->max_len)
                return fail(w, OCPP_ERR_PROPERTY, "string longer than maxLength");
            if (n->min_len >= 0 && cp < (size_t)n->min_len)
                return fail(w, OCPP_ERR_PROPERTY, "string shorter than minLength");
        }
        if (n->format == OS_FMT_DATE_TIME && !ocpp_schema_is_datetime(s, len))
            return fail(w, OCPP_ERR_PROPERTY, "not an RFC 3339 date-time");
        if (n->format == OS_FMT_URI && !is_uri(s, len))
            return fail(w, OCPP_ERR_PROPERTY, "not a URI");
        return 0;
    }
    case OS_INTEGER:
        if (json_is_integer(v))
            return check_number(w, n, (double)json_integer_value(v));
        /* JSON Schema: an integer is a number with no fraction (1.0 is one) */
        if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))
            return check_number(w, n, json_real_value(v));
        return fail(w, OCPP_ERR_TYPE, "expected an integer");
    case OS_NUMBER:
        if (!json_is_number(v))
            return fail(w, OCPP_ERR_TYPE, "expected a number");
        return check_number(w, n, json_number_value(v));
    case OS_BOOLEAN:
        if (!json_is_boolean(v))
            return fail(w, OCPP_ERR_TYPE, "expected a boolean");
        return 0;
    case OS_ANY:
        return 0;
    }
    return fail(w, OCPP_ERR_INTERNAL, "corrupt schema table");
}

int ocpp_schema_validate(const ocpp_schema_msg_t *msg, int response, const json_t *payload,
                         ocpp_verr_t *e)
{
    walk_t w = {.e = e};
    e->err = OCPP_ERR_NONE;
    e->path[0] = e->why[0] = '\0';
    const os_node_t *root = &OCPP_SCHEMA_TABLES.nodes[response ? msg->response : msg->request];
    return check(&w, root, payload, 0);
}
