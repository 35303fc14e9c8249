/* registry_fuzz.h: what the redis-registry fuzz drivers share (fuzz_registry_table.c,
 * fuzz_registry_lease.c): quiet logs, the input read as a stream of bytes (0 once it is used
 * up), the invariant check that aborts with its reason, and the model's text replies. Header
 * only, included once by each driver. */
#ifndef REGISTRY_FUZZ_H
#define REGISTRY_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "registry_batch.h"

/* libFuzzer calls it once, before the first input: the engines' log lines would drown its
 * output (and slow it down). Defined here: each driver is one translation unit. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_fd(-1);
    return 0;
}

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant violated: %s (%s:%d)\n", what, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t n;
} input_t;

static inline uint8_t next(input_t *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static inline registry_reply_t *text(const char *s)
{
    return registry_reply_text(REGISTRY_REPLY_STRING, s, strlen(s));
}

#endif
