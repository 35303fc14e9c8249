/* fuzz_registry_superseded.c: libFuzzer driver for registry_superseded_parse(), the parser of
 * the notifications redis-registry reads from Redis pub/sub (anything may be published on that
 * channel). Any input must parse or be refused without a crash or a read outside the input; what
 * parses has a non-zero epoch and NUL-terminated pod and identity without spaces in the
 * identity. Seeds: fuzz/corpus/registry_superseded/. The module is compiled in directly: the
 * fuzz rule links common/ only. */
#include "registry_logic.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy, so that reading one byte past the input is caught */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    registry_superseded_t m;
    if (registry_superseded_parse(copy, size, &m) == 0) {
        if (m.epoch == 0 || strlen(m.by_pod) == 0 || strlen(m.identity) == 0 ||
            strchr(m.identity, ' '))
            abort();
    }
    free(copy);
    return 0;
}
