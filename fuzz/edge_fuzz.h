/* edge_fuzz.h: what ws-edge's authentication fuzz drivers share (fuzz_edge_basic.c,
 * fuzz_edge_creds.c, fuzz_edge_auth.c): the invariant check, which names the driver and the
 * line and aborts, so libFuzzer keeps the input as a crash. */
#ifndef EDGE_FUZZ_H
#define EDGE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

/* FUZZ_NAME is the driver's name, defined before including this file */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s: invariant violated at line %d: %s\n", FUZZ_NAME, __LINE__,        \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
