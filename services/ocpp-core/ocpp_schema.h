/* ocpp_schema: validation of OCPP payloads against the official JSON schemas.
 *
 * The schemas (proto/ocpp/ocpp*.json) are turned by scripts/gen_ocpp_schema.py into constant
 * tables (ocpp_schema_data.c, generated); this module walks them. It checks types, required
 * properties, additionalProperties, enums, string lengths in code points, numeric bounds,
 * multipleOf, array sizes and the date-time / uri formats, and maps the first violation to
 * the OCPP-J error kind (docs/ocpp-core.md, "Validation errors"). Pure: no state, no allocation. */
#ifndef OCPP_SCHEMA_H
#define OCPP_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ocpp_frame.h"

typedef enum {
    OS_OBJECT = 1,
    OS_ARRAY,
    OS_STRING,
    OS_INTEGER,
    OS_NUMBER,
    OS_BOOLEAN,
    OS_ANY
} os_kind_t;
typedef enum {
    OS_FMT_NONE = 0,
    OS_FMT_DATE_TIME,
    OS_FMT_URI
} os_format_t;
typedef enum {
    OS_UNKNOWN_DIR = 0,
    OS_FROM_CP,
    OS_FROM_CSMS,
    OS_BOTH
} os_direction_t;

typedef struct {
    const char *name;
    uint16_t node;
    uint8_t required;
} os_prop_t;

typedef struct {
    uint8_t kind;       /* os_kind_t */
    uint8_t format;     /* os_format_t */
    uint8_t additional; /* object: 1 when additional properties are allowed */
    uint8_t has_min, has_max;
    uint16_t nprops; /* object: properties at PROPS[first..] */
    uint16_t nenum;  /* string: allowed values at ENUMS[first..] (0: any) */
    uint32_t first;
    int32_t min_len, max_len;             /* string length (code points) or array items; -1: none */
    uint16_t items;                       /* array: item node */
    double minimum, maximum, multiple_of; /* integer / number; multiple_of 0: none */
} os_node_t;

typedef struct {
    ocpp_version_t version;
    const char *action;
    uint8_t direction; /* os_direction_t: who sends the CALL */
    uint16_t request, response;
} ocpp_schema_msg_t;

typedef struct {
    const os_node_t *nodes;
    size_t node_count;
    const os_prop_t *props;
    const char *const *enums;
    const ocpp_schema_msg_t *messages; /* sorted by version, then action */
    size_t message_count;
} ocpp_schema_tables_t;

extern const ocpp_schema_tables_t OCPP_SCHEMA_TABLES;

/* The message of this version and action, or NULL when the version has no such action. */
const ocpp_schema_msg_t *ocpp_schema_find(ocpp_version_t version, const char *action);

typedef struct {
    ocpp_error_t err; /* OCPP_ERR_NONE when valid */
    char path[128];   /* JSON pointer of the offending value ("" = the payload) */
    char why[160];    /* human-readable: path and rule */
} ocpp_verr_t;

/* Validate a CALL payload (response = 0) or a CALLRESULT payload (response = 1) of msg.
 * Returns 0 when valid; otherwise -1 with *e filled (the first violation found). */
int ocpp_schema_validate(const ocpp_schema_msg_t *msg, int response, const json_t *payload,
                         ocpp_verr_t *e);

/* RFC 3339 date-time (as JSON Schema's "date-time" format): 1 when valid. */
int ocpp_schema_is_datetime(const char *s, size_t len);

#endif
