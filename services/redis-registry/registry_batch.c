/* registry_batch: Redis commands and replies as plain data. See registry_batch.h. */
#include "registry_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int script;     /* registry_script_t or REGISTRY_BATCH_PLAIN */
    size_t numkeys; /* scripts only */
    size_t argc;
    size_t first; /* index of its first argument in offs */
} command_t;

/* All arguments of all commands live in one text buffer, NUL-terminated one after another,
 * found by offset: a batch of thousands of commands costs a handful of allocations. */
struct registry_batch {
    command_t *cmds;
    size_t ncmds, cmdcap;
    size_t *offs;
    size_t noffs, offcap;
    char *text;
    size_t textlen, textcap;
};

/* Makes room for need elements of size bytes in *items (capacity *cap). 0 or -ENOMEM. */
static int reserve(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t next = *cap ? *cap : 16;
    while (next < need)
        next *= 2;
    void *p = realloc(*items, next * size);
    if (!p)
        return -ENOMEM;
    *items = p;
    *cap = next;
    return 0;
}

registry_batch_t *registry_batch_new(void)
{
    return calloc(1, sizeof(registry_batch_t));
}

void registry_batch_destroy(registry_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_batch_t *self = *self_p;
    free(self->cmds);
    free(self->offs);
    free(self->text);
    free(self);
    *self_p = NULL;
}

void registry_batch_clear(registry_batch_t *self)
{
    self->ncmds = self->noffs = self->textlen = 0;
}

size_t registry_batch_size(const registry_batch_t *self)
{
    return self->ncmds;
}

static int append(registry_batch_t *self, int script, size_t numkeys, const char *const *argv,
                  size_t argc)
{
    if (argc == 0 || argc > REGISTRY_BATCH_MAX_ARGS || numkeys > argc)
        return -E2BIG;
    size_t bytes = 0;
    for (size_t j = 0; j < argc; j++)
        bytes += strlen(argv[j]) + 1;
    if (reserve((void **)&self->cmds, &self->cmdcap, self->ncmds + 1, sizeof(*self->cmds)) < 0 ||
        reserve((void **)&self->offs, &self->offcap, self->noffs + argc, sizeof(*self->offs)) < 0 ||
        reserve((void **)&self->text, &self->textcap, self->textlen + bytes, 1) < 0)
        return -ENOMEM;
    self->cmds[self->ncmds++] = (command_t){script, numkeys, argc, self->noffs};
    for (size_t j = 0; j < argc; j++) {
        size_t n = strlen(argv[j]) + 1;
        self->offs[self->noffs++] = self->textlen;
        memcpy(self->text + self->textlen, argv[j], n);
        self->textlen += n;
    }
    return 0;
}

int registry_batch_command(registry_batch_t *self, const char *const *argv, size_t argc)
{
    return append(self, REGISTRY_BATCH_PLAIN, 0, argv, argc);
}

int registry_batch_script(registry_batch_t *self, registry_script_t script, size_t numkeys,
                          const char *const *argv, size_t argc)
{
    return append(self, (int)script, numkeys, argv, argc);
}

int registry_batch_script_of(const registry_batch_t *self, size_t i)
{
    return self->cmds[i].script;
}

size_t registry_batch_numkeys(const registry_batch_t *self, size_t i)
{
    return self->cmds[i].numkeys;
}

size_t registry_batch_argc(const registry_batch_t *self, size_t i)
{
    return self->cmds[i].argc;
}

const char *registry_batch_arg(const registry_batch_t *self, size_t i, size_t j)
{
    return self->text + self->offs[self->cmds[i].first + j];
}

/* ---- replies ---------------------------------------------------------------------------- */

static registry_reply_t *reply_new(registry_reply_type_t type)
{
    registry_reply_t *r = calloc(1, sizeof(*r));
    if (r)
        r->type = type;
    return r;
}

registry_reply_t *registry_reply_nil(void)
{
    return reply_new(REGISTRY_REPLY_NIL);
}

registry_reply_t *registry_reply_int(long long value)
{
    registry_reply_t *r = reply_new(REGISTRY_REPLY_INTEGER);
    if (r)
        r->integer = value;
    return r;
}

registry_reply_t *registry_reply_text(registry_reply_type_t type, const char *s, size_t len)
{
    registry_reply_t *r = reply_new(type);
    if (!r)
        return NULL;
    r->str = malloc(len + 1);
    if (!r->str) {
        free(r);
        return NULL;
    }
    if (len)
        memcpy(r->str, s, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

registry_reply_t *registry_reply_array(size_t n)
{
    registry_reply_t *r = reply_new(REGISTRY_REPLY_ARRAY);
    if (!r)
        return NULL;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    if (!r->element) {
        free(r);
        return NULL;
    }
    r->elements = n;
    return r;
}

void registry_reply_destroy(registry_reply_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_reply_t *r = *self_p;
    for (size_t i = 0; i < r->elements; i++)
        registry_reply_destroy(&r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
    *self_p = NULL;
}

static const registry_reply_t *element(const registry_reply_t *r, size_t i)
{
    if (!r || r->type != REGISTRY_REPLY_ARRAY || i >= r->elements)
        return NULL;
    return r->element[i];
}

const char *registry_reply_elem_str(const registry_reply_t *r, size_t i)
{
    const registry_reply_t *e = element(r, i);
    if (!e || (e->type != REGISTRY_REPLY_STRING && e->type != REGISTRY_REPLY_STATUS))
        return "";
    return e->str;
}

long long registry_reply_elem_int(const registry_reply_t *r, size_t i)
{
    const registry_reply_t *e = element(r, i);
    if (!e)
        return 0;
    if (e->type == REGISTRY_REPLY_INTEGER)
        return e->integer;
    return e->type == REGISTRY_REPLY_STRING ? strtoll(e->str, NULL, 10) : 0;
}

bool registry_reply_needs_reconnect(const registry_reply_t *r)
{
    static const char *const prefixes[] = {"NOSCRIPT",    "READONLY", "LOADING", "MASTERDOWN",
                                           "CLUSTERDOWN", "TRYAGAIN", "MOVED",   "ASK "};
    if (!r || r->type != REGISTRY_REPLY_ERROR)
        return false;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(r->str, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}
