/* edge_subprotocol: which OCPP version a connection speaks. See edge_subprotocol.h. */
#include "edge_subprotocol.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *const EDGE_SUBPROTOCOLS[] = {"ocpp2.1", "ocpp2.0.1", "ocpp1.6"};
const size_t EDGE_SUBPROTOCOL_COUNT = sizeof(EDGE_SUBPROTOCOLS) / sizeof(EDGE_SUBPROTOCOLS[0]);

/* 1 if the comma-separated list contains name as a whole element (whitespace trimmed) */
static int list_has(const char *list, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        size_t start = i;
        while (i < len && list[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
            end--;
        if (end - start == nlen && memcmp(list + start, name, nlen) == 0)
            return 1;
    }
    return 0;
}

const char *edge_subprotocol_choose(const char *offered, size_t offered_len, const char *enabled)
{
    if (!offered || offered_len == 0 || !enabled)
        return NULL;
    for (size_t i = 0; i < EDGE_SUBPROTOCOL_COUNT; i++) {
        const char *name = EDGE_SUBPROTOCOLS[i];
        if (list_has(enabled, strlen(enabled), name) && list_has(offered, offered_len, name))
            return name;
    }
    return NULL;
}

int edge_subprotocol_validate_list(const char *list, char *why, size_t whylen)
{
    size_t len = strlen(list);
    size_t i = 0, count = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == ','))
            i++;
        size_t start = i;
        while (i < len && list[i] != ',' && list[i] != ' ')
            i++;
        if (i == start)
            continue;
        int known = 0;
        for (size_t k = 0; k < EDGE_SUBPROTOCOL_COUNT; k++) {
            if (strlen(EDGE_SUBPROTOCOLS[k]) == i - start &&
                memcmp(EDGE_SUBPROTOCOLS[k], list + start, i - start) == 0)
                known = 1;
        }
        if (!known) {
            snprintf(why, whylen, "unknown subprotocol '%.*s' (known: ocpp2.1, ocpp2.0.1, ocpp1.6)",
                     (int)(i - start), list + start);
            return -EINVAL;
        }
        count++;
    }
    if (count == 0) {
        snprintf(why, whylen, "at least one subprotocol must be enabled");
        return -EINVAL;
    }
    return 0;
}
