/* edge_path: the charge point's upgrade URL -> its identity (DESIGN §3).
 *
 * Pure functions, no sockets: the URL path must be one of the configured prefixes followed
 * by the identity; the identity is percent-decoded and must be 1..48 characters of
 * A-Z a-z 0-9 * - _ = + | @ . (no ':' since it is the Basic-auth separator). */
#ifndef EDGE_PATH_H
#define EDGE_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"

typedef enum {
    EDGE_PATH_OK = 0,
    EDGE_PATH_BAD_PREFIX,   /* path does not start with a configured prefix */
    EDGE_PATH_BAD_ENCODING, /* broken percent-encoding */
    EDGE_PATH_BAD_IDENTITY, /* empty, too long, or a character outside the allowed set */
} edge_path_result_t;

/* prefixes: comma-separated list such as "/ocpp/,/ws/". The query string (after '?') is
 * ignored. decode: percent-decode the identity (false when the HTTP layer already did, so a
 * path is never decoded twice). identity receives the identity, NUL-terminated. */
edge_path_result_t edge_path_parse(const char *path, size_t len, const char *prefixes, bool decode,
                                   char identity[IDENTITY_MAX + 1]);

/* short, stable reason name for metrics and logs: "bad_prefix", "bad_encoding", ... */
const char *edge_path_result_name(edge_path_result_t r);

#endif
