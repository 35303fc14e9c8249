/* registry_batch: the boundary between the registry's engines and Redis, as plain data.
 *
 * An engine describes one pipelined round trip as a batch of commands (argument vectors; a
 * command may name one of the registry's Lua scripts by number instead of a command name), and
 * takes the answers back as registry_reply_t trees, one per command, in order. The Redis shell
 * (registry_redis_io.c) sends a batch with hiredis and converts its replies; tests and fuzzers
 * build replies by hand. No hiredis type crosses this line. */
#ifndef REGISTRY_BATCH_H
#define REGISTRY_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "registry_keys.h"

/* Most arguments of one command (the scripts take at most 14 with their keys). */
#define REGISTRY_BATCH_MAX_ARGS 16
/* Not a script: argument 0 is the command's name. */
#define REGISTRY_BATCH_PLAIN (-1)

typedef struct registry_batch registry_batch_t;

/* NULL on allocation failure. */
registry_batch_t *registry_batch_new(void);
/* Frees the batch, sets *self_p to NULL; safe twice. */
void registry_batch_destroy(registry_batch_t **self_p);
/* Forgets every command (the storage is kept for the next batch). */
void registry_batch_clear(registry_batch_t *self);
size_t registry_batch_size(const registry_batch_t *self);

/* Appends a plain command, argv[0] its name; the strings are copied. 0, -E2BIG (more than
 * REGISTRY_BATCH_MAX_ARGS), -ENOMEM (nothing appended). */
int registry_batch_command(registry_batch_t *self, const char *const *argv, size_t argc);
/* Appends EVALSHA of script: numkeys keys, then the other arguments, all in argv. */
int registry_batch_script(registry_batch_t *self, registry_script_t script, size_t numkeys,
                          const char *const *argv, size_t argc);

/* Reading command i (i < size): its script (or REGISTRY_BATCH_PLAIN), number of keys,
 * number of arguments and argument j (j < argc; NUL-terminated, valid until the next change). */
int registry_batch_script_of(const registry_batch_t *self, size_t i);
size_t registry_batch_numkeys(const registry_batch_t *self, size_t i);
size_t registry_batch_argc(const registry_batch_t *self, size_t i);
const char *registry_batch_arg(const registry_batch_t *self, size_t i, size_t j);

/* ---- replies ---------------------------------------------------------------------------- */

typedef enum {
    REGISTRY_REPLY_NIL,
    REGISTRY_REPLY_INTEGER,
    REGISTRY_REPLY_STRING,
    REGISTRY_REPLY_STATUS,
    REGISTRY_REPLY_ERROR,
    REGISTRY_REPLY_ARRAY
} registry_reply_type_t;

/* One answer. Strings (STRING, STATUS, ERROR) are NUL-terminated, len bytes; an array owns its
 * elements (an element may be NULL: read as nil). */
typedef struct registry_reply {
    registry_reply_type_t type;
    long long integer;
    char *str;
    size_t len;
    size_t elements;
    struct registry_reply **element;
} registry_reply_t;

/* Constructors (NULL on allocation failure); the caller owns the result. */
registry_reply_t *registry_reply_nil(void);
registry_reply_t *registry_reply_int(long long value);
/* type STRING, STATUS or ERROR; s need not be NUL-terminated */
registry_reply_t *registry_reply_text(registry_reply_type_t type, const char *s, size_t len);
/* An array of n elements, all NULL (nil) until the caller sets them. */
registry_reply_t *registry_reply_array(size_t n);
/* Frees a reply and its elements, sets *self_p to NULL; safe twice. */
void registry_reply_destroy(registry_reply_t **self_p);

/* Element i of an array reply as text ("" when absent, not text or r is not an array) and as
 * an integer (an integer, or a string holding one; 0 otherwise). The scripts answer arrays. */
const char *registry_reply_elem_str(const registry_reply_t *r, size_t i);
long long registry_reply_elem_int(const registry_reply_t *r, size_t i);

/* Errors after which the connection is useless: the script cache is gone (Redis restarted) or
 * the server is no writable primary any more (Sentinel failover). Reconnect, rediscover,
 * reload the scripts. */
bool registry_reply_needs_reconnect(const registry_reply_t *r);

#endif
